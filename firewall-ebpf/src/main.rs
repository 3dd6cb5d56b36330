//! fw's kernel side.
//!
//! * `fw_xdp` runs at XDP on every interface and filters INPUT, or
//!   FORWARD for packets the kernel will route on (see `route`).
//! * `fw_tc` runs at TC egress (TCX) and filters OUTPUT for locally
//!   generated packets.
//! * `fw_tc_in` runs at TC ingress (TCX) on veth and sends the REJECT
//!   answers `fw_xdp` marked there (`reject::tc_in`).
//!
//! Both parse Ethernet + IPv4 (RFC 791) and, for the first fragment, the TCP
//! (RFC 9293) or UDP (RFC 768) ports, then walk the live bank of the chain in
//! order (iptables' first match wins). Before the chains, `conntrack`
//! gives the packet its connection state; an accepted NEW packet then
//! creates its connection's entry. Non-IPv4 frames pass: fw is the
//! counterpart of iptables, not ip6tables or arptables.
#![no_std]
#![no_main]
// BPF_CMPXCHG through `asm!` (check.rs): core's AtomicU64 has no
// compare_exchange on the BPF target, and the bitcode of the
// `atomic_cxchg` intrinsic is unreadable to bpf-linker's LLVM.
#![feature(asm_experimental_arch)]

mod check;
mod classify;
mod conntrack;
mod log;
mod parse;
mod reject;
mod route;

use aya_ebpf::{
    EbpfContext,
    bindings::{__sk_buff, xdp_action},
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};
use firewall_common::{CHAIN_FORWARD, CHAIN_INPUT, CHAIN_OUTPUT, Decision};

use crate::parse::Parsed;
// The package's library, fw's build-dependency: nothing for the programs.
use firewall_ebpf as _;

/// TCX: hand the packet to the next program, or the stack when none is left.
const TCX_NEXT: i32 = -1;
/// TCX: drop the packet.
const TCX_DROP: i32 = 2;

#[xdp]
fn fw_xdp(ctx: XdpContext) -> u32 {
    let mut pkt = parse::Packet::default();
    match parse::xdp(&ctx, &mut pkt) {
        Parsed::Ipv4 => {
            // SAFETY: ctx.ctx is the kernel's xdp_md for this call.
            pkt.in_ifindex = unsafe { (*ctx.ctx).ingress_ifindex };
            let in_ifindex = pkt.in_ifindex;
            let (chain, hook) = match route::ingress(&ctx, &pkt) {
                route::Hook::Input => (CHAIN_INPUT, reject::Hook::Input),
                route::Hook::Forward { out_ifindex } => {
                    pkt.out_ifindex = out_ifindex;
                    // ip_forward() decrements the TTL before the FORWARD
                    // hook; packets it would expire never reach it.
                    pkt.ttl = pkt.ttl.saturating_sub(1);
                    (CHAIN_FORWARD, reject::Hook::Forward)
                }
            };
            check::note_xdp(ctx.ctx, &pkt);
            let state = conntrack::track(classify::SLOT_XDP, &pkt);
            pkt.ctstate = state & !conntrack::STAGED;
            let decision = classify::run(classify::SLOT_XDP, chain, &pkt);
            log::xdp(ctx.ctx, chain, in_ifindex, pkt.out_ifindex);
            match decision {
                Decision::Accept => {
                    if state & conntrack::STAGED != 0 {
                        conntrack::confirm(classify::SLOT_XDP);
                    }
                    xdp_action::XDP_PASS
                }
                Decision::Drop => xdp_action::XDP_DROP,
                Decision::Reject(r) => reject::xdp(ctx.ctx, r, hook, in_ifindex),
            }
        }
        Parsed::NotIpv4 => xdp_action::XDP_PASS,
        Parsed::Malformed => xdp_action::XDP_DROP,
    }
}

#[classifier]
fn fw_tc(ctx: TcContext) -> i32 {
    let mut pkt = parse::Packet::default();
    match parse::tc(&ctx, &mut pkt) {
        Parsed::Ipv4 => {
            let skb = ctx.as_ptr() as *const __sk_buff;
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
            check::note_tc(ctx.as_ptr().cast(), &pkt);
            let state = conntrack::track(classify::SLOT_TC, &pkt);
            pkt.ctstate = state & !conntrack::STAGED;
            let decision = classify::run(classify::SLOT_TC, CHAIN_OUTPUT, &pkt);
            log::tc(ctx.as_ptr().cast(), ifindex);
            match decision {
                Decision::Accept => {
                    if state & conntrack::STAGED != 0 {
                        conntrack::confirm(classify::SLOT_TC);
                    }
                    TCX_NEXT
                }
                Decision::Drop => TCX_DROP,
                Decision::Reject(r) => reject::tc(ctx.as_ptr().cast(), r, ifindex),
            }
        }
        Parsed::NotIpv4 => TCX_NEXT,
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
