//! fw's kernel side.
//!
//! * `fw_xdp` runs at XDP on every interface and filters INPUT, or
//!   FORWARD for packets the kernel will route on (see `route`); a frame
//!   the kernel will hand to a macvlan over the interface passes, to be
//!   filtered there (`macvlan`).
//! * `fw_tc` runs at TC egress (TCX) and filters OUTPUT for locally
//!   generated packets.
//! * `fw_tc_in` runs at TC ingress (TCX) on veth and sends the REJECT
//!   answers `fw_xdp` marked there (`reject::tc_in`).
//! * On devices without a link-layer header (tun, WireGuard), which XDP
//!   cannot parse, `fw_tc_l3in` at TC ingress filters INPUT and FORWARD
//!   as `fw_xdp` does, and `fw_tc_l3` at TC egress OUTPUT as `fw_tc`.
//!
//! Both parse Ethernet + IPv4 (RFC 791) or IPv6 (RFC 8200, its extension
//! headers walked to the upper layer) and, for the first fragment, the TCP
//! (RFC 9293) or UDP (RFC 768) ports, then walk the live bank of the chain in
//! order (iptables' first match wins): IPv4's chains for IPv4, IPv6's
//! (from `CHAIN6_BASE`) for IPv6, as iptables and ip6tables keep apart.
//! Before the chains, `conntrack` gives the packet its connection
//! state; an accepted NEW packet then creates its connection's entry.
//! Other frames (ARP) pass: fw is the counterpart of iptables and
//! ip6tables, not of arptables.
#![no_std]
#![no_main]
// BPF_CMPXCHG through `asm!` (check.rs): core's AtomicU64 has no
// compare_exchange on the BPF target, and the bitcode of the
// `atomic_cxchg` intrinsic is unreadable to bpf-linker's LLVM.
#![feature(asm_experimental_arch)]

mod check;
mod classify;
mod conntrack;
mod frag;
mod log;
mod macvlan;
mod parse;
mod reject;
mod route;
mod span;

use aya_ebpf::{
    EbpfContext,
    bindings::{__sk_buff, xdp_action},
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};
use firewall_common::{CHAIN_FORWARD, CHAIN_INPUT, CHAIN_OUTPUT, CHAIN6_BASE, Decision, iface};

use crate::parse::Parsed;
// The package's library, fw's build-dependency: nothing for the programs.
use firewall_ebpf as _;

/// TCX: hand the packet to the next program, or the stack when none is left.
const TCX_NEXT: i32 = -1;
/// TCX: drop the packet.
const TCX_DROP: i32 = 2;
/// An Ethernet header's length: where `fw_tc`'s frames have their IP
/// header.
const ETH_HLEN: usize = 14;

#[xdp]
fn fw_xdp(ctx: XdpContext) -> u32 {
    // SAFETY: ctx.ctx is the kernel's xdp_md for this call.
    if macvlan::for_upper(&ctx, unsafe { (*ctx.ctx).ingress_ifindex }) {
        // Classified on the upper, as netfilter sees it, once.
        return xdp_action::XDP_PASS;
    }
    if !parse::xdp_untag_priority(&ctx) {
        return xdp_action::XDP_DROP;
    }
    let Some(pkt) = classify::packet(classify::SLOT_XDP) else {
        return xdp_action::XDP_DROP;
    };
    match parse::xdp(&ctx, pkt) {
        Parsed::Ip => {
            // SAFETY: ctx.ctx is the kernel's xdp_md for this call.
            pkt.in_ifindex = unsafe { (*ctx.ctx).ingress_ifindex };
            let in_ifindex = pkt.in_ifindex;
            let (chain, hook) = match route::ingress(ctx.ctx.cast(), pkt) {
                route::Hook::Input => (CHAIN_INPUT, reject::Hook::Input),
                route::Hook::Forward { out_ifindex } => {
                    pkt.out_ifindex = out_ifindex;
                    // ip_forward() decrements the TTL before the FORWARD
                    // hook; packets it would expire never reach it.
                    pkt.ttl = pkt.ttl.saturating_sub(1);
                    (CHAIN_FORWARD, reject::Hook::Forward)
                }
            };
            check::note_xdp(ctx.ctx, pkt);
            let out_ifindex = pkt.out_ifindex;
            let log = || log::xdp(ctx.ctx, chain, in_ifindex, out_ifindex);
            match walk(classify::SLOT_XDP, chain, pkt, log) {
                Decision::Accept => xdp_action::XDP_PASS,
                Decision::Drop => xdp_action::XDP_DROP,
                Decision::Reject(r) => {
                    let forward = u32::from(hook == reject::Hook::Forward);
                    reject::fw_reject_xdp(ctx.ctx, r.encode(), forward, in_ifindex, pkt)
                }
            }
        }
        Parsed::NotIp => xdp_action::XDP_PASS,
        Parsed::Malformed => xdp_action::XDP_DROP,
    }
}

/// What every program does once it has parsed `pkt` and chosen the
/// built-in `chain` (IPv4's number; an IPv6 packet walks IPv6's):
/// conntrack, the chain walk, `log` (the walk's LOG records), and an
/// accepted new connection confirmed; `slot` is the hook's scratch slot.
#[inline(always)]
fn walk(slot: u32, chain: u32, pkt: &mut parse::Packet, log: impl FnOnce()) -> Decision {
    // IPv6's table from CHAIN6_BASE.
    let root = chain + CHAIN6_BASE * u32::from(pkt.v6);
    // A later fragment netfilter would reassemble: its first's verdict.
    // Both fragment functions are called for every packet and test the
    // flags themselves: with the tests here instead (9df4d38), Linux
    // 6.1's verifier loaded fw_tc_l3in but its REJECT answers on tun
    // never left (vmtest `tunnel`, `examples`); 6.12 and 6.18 were fine.
    match frag::fw_frag_later(pkt, root) {
        frag::WALK => {}
        firewall_common::frag::ACCEPT => return Decision::Accept,
        _ => return Decision::Drop,
    }
    let state = conntrack::track(slot, pkt);
    pkt.ctstate = state & !conntrack::STAGED;
    let decision = classify::run(slot, root, pkt);
    let verdict = match decision {
        Decision::Accept => firewall_common::frag::ACCEPT,
        Decision::Drop | Decision::Reject(_) => firewall_common::frag::DROP,
    };
    let _ = frag::fw_frag_first(pkt, root, verdict);
    log();
    if matches!(decision, Decision::Accept) && state & conntrack::STAGED != 0 {
        conntrack::confirm(slot);
    }
    decision
}

#[classifier]
fn fw_tc(ctx: TcContext) -> i32 {
    egress::<ETH_HLEN>(&ctx)
}

#[classifier]
fn fw_tc_l3(ctx: TcContext) -> i32 {
    egress::<0>(&ctx)
}

/// OUTPUT at TCX egress, for a device whose frames start with an `L2`-byte
/// link-layer header (14: Ethernet, `lo`; 0: tun, WireGuard).
#[inline(always)]
fn egress<const L2: usize>(ctx: &TcContext) -> i32 {
    let Some(pkt) = classify::packet(classify::SLOT_TC) else {
        return TCX_DROP;
    };
    let parsed = if L2 == 0 {
        parse::tc_l3(ctx, pkt)
    } else {
        parse::tc(ctx, pkt)
    };
    match parsed {
        Parsed::Ip => {
            let skb = ctx.as_ptr() as *mut __sk_buff;
            // A forwarded packet arrived on an interface and was filtered
            // by FORWARD at XDP; OUTPUT is for locally generated packets,
            // which have no input interface.
            // SAFETY: skb is the kernel's __sk_buff for this call.
            if unsafe { (*skb).ingress_ifindex } != 0 {
                return TCX_NEXT;
            }
            // SAFETY: as above.
            let ifindex = unsafe { (*skb).ifindex };
            pkt.out_ifindex = ifindex;
            // No -m mac at egress (xt_mac is refused from OUTPUT).
            check::note_tc::<L2>(skb, pkt);
            let log = || log::tc(skb, ifindex, L2 as u32);
            match walk(classify::SLOT_TC, CHAIN_OUTPUT, pkt, log) {
                Decision::Accept => TCX_NEXT,
                Decision::Drop => TCX_DROP,
                Decision::Reject(r) if L2 == 0 => {
                    reject::fw_reject_tc_l3(skb, r.encode(), ifindex, pkt)
                }
                Decision::Reject(r) => reject::fw_reject_tc(skb, r.encode(), ifindex, pkt),
            }
        }
        Parsed::NotIp => TCX_NEXT,
        Parsed::Malformed => TCX_DROP,
    }
}

/// INPUT and FORWARD at TCX ingress of a device without a link-layer
/// header (tun, WireGuard: `ARPHRD_NONE`), where XDP would see no
/// Ethernet header: as `fw_xdp`, on the ingress slot (TCX ingress runs
/// after XDP for a packet, never nested in it).
#[classifier]
fn fw_tc_l3in(ctx: TcContext) -> i32 {
    let skb = ctx.as_ptr() as *mut __sk_buff;
    // SAFETY: skb is the kernel's __sk_buff for this call.
    if unsafe { (*skb).mark } == iface::REJECT_MARK {
        // An OUTPUT REJECT's answer (`reject::tc`), handed to this
        // device's ingress: it passes INPUT here as on Ethernet.
        // SAFETY: TC programs may write `mark`.
        unsafe { (*skb).mark = 0 };
        return TCX_NEXT;
    }
    let Some(pkt) = classify::packet(classify::SLOT_XDP) else {
        return TCX_DROP;
    };
    match parse::tc_l3(&ctx, pkt) {
        Parsed::Ip => {
            // SAFETY: as above.
            pkt.in_ifindex = unsafe { (*skb).ifindex };
            let in_ifindex = pkt.in_ifindex;
            let (chain, hook) = match route::ingress(skb.cast(), pkt) {
                route::Hook::Input => (CHAIN_INPUT, reject::Hook::Input),
                route::Hook::Forward { out_ifindex } => {
                    pkt.out_ifindex = out_ifindex;
                    // As in `fw_xdp`: FORWARD sees the TTL decremented.
                    pkt.ttl = pkt.ttl.saturating_sub(1);
                    (CHAIN_FORWARD, reject::Hook::Forward)
                }
            };
            check::note_tc_in_l3(skb, pkt);
            let out_ifindex = pkt.out_ifindex;
            let log = || log::tc_in_l3(skb, chain, in_ifindex, out_ifindex);
            match walk(classify::SLOT_XDP, chain, pkt, log) {
                Decision::Accept => TCX_NEXT,
                Decision::Drop => TCX_DROP,
                Decision::Reject(r) => {
                    let forward = u32::from(hook == reject::Hook::Forward);
                    reject::fw_reject_tc_in_l3(skb, r.encode(), forward, in_ifindex, pkt)
                }
            }
        }
        Parsed::NotIp => TCX_NEXT,
        Parsed::Malformed => TCX_DROP,
    }
}

#[classifier]
fn fw_tc_in(ctx: TcContext) -> i32 {
    reject::tc_in(ctx.as_ptr().cast())
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
