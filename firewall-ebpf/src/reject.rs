//! REJECT's answer (iptables-extensions(8) "REJECT"): what netfilter's
//! `nf_send_unreach` (an ICMP destination unreachable, RFC 792, built by
//! `icmp_send`) and `nf_send_reset` (a TCP RST, RFC 9293 3.10.7) send,
//! built from the offending packet in place.
//!
//! * INPUT and FORWARD (XDP): the frame becomes the answer and goes back
//!   out the interface it came in on, to the MAC address it came from:
//!   `XDP_TX`, or on veth (`firewall_common::iface`) marked in XDP
//!   metadata and passed to [`tc_in`] at TCX ingress, which
//!   `bpf_redirect`s it out.
//! * OUTPUT (TC egress): the packet of a local socket becomes the answer,
//!   addressed to this host, and is handed to the interface's ingress
//!   (`bpf_redirect` with `BPF_F_INGRESS`), so the local stack delivers it
//!   to the socket as if the peer had sent it.
//!
//! The ICMP error is sent from the address the packet was sent to
//! (INPUT, OUTPUT) or from this host's address toward the sender (FORWARD,
//! asked of the FIB like `icmp_send`'s route lookup), TTL 64, TOS
//! `(tos & 0x1e) | 0xc0`, and quotes the offending IP header and the first
//! 8 bytes of its payload (RFC 792's minimum; Linux quotes up to 548
//! bytes). The RST is sent from the packet's destination, TTL 64, DF, as
//! `nf_reject_iphdr_put` and `nf_reject_ip_tcphdr_put` build it.
//!
//! No answer (the packet is only dropped), as in netfilter: to a non-first
//! fragment, to a broadcast or multicast packet, to an ICMP error, for
//! tcp-reset to anything but a TCP segment without RST.

use aya_ebpf::{
    bindings::{
        __sk_buff, BPF_F_INGRESS, BPF_FIB_LKUP_RET_NO_NEIGH, BPF_FIB_LKUP_RET_SUCCESS,
        BPF_FIB_LOOKUP_OUTPUT, BPF_FIB_LOOKUP_SKIP_NEIGH, BPF_FIB_LOOKUP_SRC,
        bpf_fib_lookup as FibParams, xdp_action, xdp_md,
    },
    cty::c_void,
    helpers::{
        bpf_fib_lookup, bpf_get_prandom_u32, bpf_ktime_get_ns, bpf_redirect, bpf_skb_load_bytes,
        bpf_skb_store_bytes, bpf_xdp_adjust_head, bpf_xdp_adjust_meta, bpf_xdp_adjust_tail,
        bpf_xdp_load_bytes, bpf_xdp_store_bytes,
    },
    macros::map,
    maps::{HashMap, PerCpuArray},
    programs::{TcContext, XdpContext},
};
use firewall_common::{
    Anomaly, Reject,
    iface::{
        self, ANSWER_AT_TC_INGRESS, FINGERPRINT_LEN, MARK_LEN, PENDING, PENDING_NS, REJECT_MARK,
    },
};

use crate::{classify::anomaly, span};

const ETH_HLEN: usize = 14;
const IP_HLEN: usize = 20;
const ICMP_HLEN: usize = 8;
const TCP_HLEN: usize = 20;
/// The longest IPv4 header (IHL 15).
const IP_MAX_HLEN: usize = 60;
/// Payload bytes the ICMP error quotes after the IP header (RFC 792).
const QUOTE_DATA: usize = 8;
const QUOTE_MAX: usize = IP_MAX_HLEN + QUOTE_DATA;
/// Bytes before the quote in an ICMP answer: Ethernet, IP, ICMP.
const ICMP_HEAD: usize = ETH_HLEN + IP_HLEN + ICMP_HLEN;
/// The whole RST frame: Ethernet, IP, TCP without options.
const RST_LEN: usize = ETH_HLEN + IP_HLEN + TCP_HLEN;
/// Bytes of the original frame read for an answer.
const READ_MAX: usize = ETH_HLEN + IP_MAX_HLEN + TCP_HLEN;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const ICMP_DEST_UNREACH: u8 = 3;
/// `sysctl_ip_default_ttl` and `ip4_dst_hoplimit` by default.
const TTL: u8 = 64;
/// `IPTOS_PREC_INTERNETCONTROL`, and `IPTOS_TOS_MASK` (RT_TOS).
const TOS_INTERNETCONTROL: u8 = 0xc0;
const TOS_MASK: u8 = 0x1e;
const IP_DF: u16 = 0x4000;
const IP_OFFSET_MASK: u16 = 0x1fff;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;
/// `NR_ICMP_TYPES`: ICMP types above it count as errors (`icmp_send`).
const NR_ICMP_TYPES: u8 = 18;
const AF_INET: u8 = 2;

/// Which chain rejected at XDP (or TC ingress): whom the ICMP error is
/// from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Input,
    Forward,
}

/// The first [`READ_MAX`] bytes of the offending frame (fewer when it is
/// shorter), copied into [`Answer::orig`] with `bpf_xdp_load_bytes` or
/// `bpf_skb_load_bytes`: map memory, read with plain bounds checks.
struct Frame<'a> {
    orig: &'a [u8; READ_MAX],
    /// Bytes copied.
    len: usize,
}

impl Frame<'_> {
    #[inline(always)]
    fn read<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        if off + N > self.len || off + N > READ_MAX {
            return None;
        }
        let mut b = [0u8; N];
        let mut i = 0;
        while i < N {
            b[i] = self.orig[(off + i) % READ_MAX];
            i += 1;
        }
        Some(b)
    }

    #[inline(always)]
    fn byte(&self, off: usize) -> Option<u8> {
        self.read::<1>(off).map(|b| b[0])
    }
}

/// The answer's headers, built from the offending packet before the
/// frame is rewritten. It lives in [`ANSWER`], not on the stack: the
/// classifier's frames leave little of the 512 bytes BPF allows.
#[repr(C)]
pub struct Answer {
    /// Ethernet, IP and ICMP or TCP headers: [`ICMP_HEAD`] or
    /// [`RST_LEN`] bytes of it are used.
    head: [u8; RST_LEN],
    /// Bytes of the original IP packet the ICMP error quotes (0 for a RST).
    quote_len: usize,
    /// The frame's length once answered.
    len: usize,
    /// In FORWARD the quote holds the header as the FORWARD hook saw it,
    /// TTL decremented (`ip_decrease_ttl`): its bytes 8..12 as sent.
    quoted: [u8; 4],
    /// Whether `quoted` differs from the frame's bytes (FORWARD).
    patch_quote: bool,
    /// The offending frame's first bytes.
    orig: [u8; READ_MAX],
}

/// Interface flags ([`firewall_common::iface`]), written by fw on attach.
#[map]
static IFACES: HashMap<u32, u32> = HashMap::with_max_entries(iface::MAX, 0);

/// One [`Answer`] per hook and CPU: slot 0 for XDP, 1 for TC.
#[map]
static ANSWER: PerCpuArray<Answer> = PerCpuArray::with_max_entries(2, 0);

/// 1 where XDP may call `bpf_xdp_adjust_meta`, set by the loader
/// (`iface::XDP_META_GLOBAL`); a frozen constant, so the verifier skips
/// the branch that a 0 rules out.
#[unsafe(no_mangle)]
static FW_XDP_META: u32 = 1;

#[inline(always)]
fn xdp_meta() -> bool {
    // SAFETY: a constant of the object, written by the loader.
    unsafe { core::ptr::read_volatile(&raw const FW_XDP_META) != 0 }
}

/// u64 words of a fingerprint (`iface::FINGERPRINT_LEN`).
const FP_WORDS: usize = FINGERPRINT_LEN / 8;

/// The answers XDP passed to TC ingress on this CPU without metadata
/// (`iface::XDP_META_GLOBAL`): a ring of fingerprints.
#[repr(C)]
pub struct Pending {
    /// The slot the next answer takes (modulo [`PENDING`]).
    next: u32,
    _pad: u32,
    /// `bpf_ktime_get_ns` of the newest answer.
    last: u64,
    /// When each slot was filled; 0: empty.
    at: [u64; PENDING],
    words: [[u64; FP_WORDS]; PENDING],
}

#[map]
static PENDING_ANSWERS: PerCpuArray<Pending> = PerCpuArray::with_max_entries(1, 0);

/// One's complement sum (RFC 1071) of `head[from..from + n]` as
/// big-endian 16-bit words (`n` even), added to `sum`.
#[inline(always)]
fn add(mut sum: u32, head: &[u8; RST_LEN], from: usize, n: usize) -> u32 {
    let mut i = 0;
    while i + 1 < RST_LEN {
        if i >= n {
            break;
        }
        let at = from + i;
        if at + 1 < RST_LEN {
            sum += u16::from_be_bytes([head[at], head[at + 1]]) as u32;
        }
        i += 2;
    }
    sum
}

/// The checksum field for the one's complement `sum`.
#[inline(always)]
fn fold(mut sum: u32) -> [u8; 2] {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    (!(sum as u16)).to_be_bytes()
}

#[inline(always)]
fn put<const N: usize>(buf: &mut [u8; RST_LEN], at: usize, b: [u8; N]) {
    let mut i = 0;
    while i < N {
        if at + i < RST_LEN {
            buf[at + i] = b[i];
        }
        i += 1;
    }
}

/// Not a unicast address: no answer goes to it or for it.
#[inline(always)]
fn not_unicast(a: [u8; 4]) -> bool {
    a[0] == 0 || a[0] >= 224 || a == [255, 255, 255, 255]
}

const IP: usize = ETH_HLEN;
const L4: usize = ETH_HLEN + IP_HLEN;

/// Builds the answer `r` to the frame `start..end` into `a`; `false`
/// when netfilter sends none. `fwd_src` is, in FORWARD, this host's
/// address toward the sender (the ICMP error's source), else 0.
///
/// It and its parts are BPF subprograms: each frame holds only its own
/// values, so the deepest chain stays within BPF's 512 stack bytes.
#[inline(never)]
fn build(a: &mut Answer, len: usize, r: Reject, fwd_src: u32) -> bool {
    let f = Frame { orig: &a.orig, len };
    let Some([ver_ihl, _]) = f.read::<2>(ETH_HLEN) else {
        return false;
    };
    let Some(total) = f.read::<2>(ETH_HLEN + 2) else {
        return false;
    };
    let (ihl, total) = (
        ((ver_ihl & 0x0f) as usize) * 4,
        u16::from_be_bytes(total) as usize,
    );
    if ver_ihl >> 4 != 4 || ihl < IP_HLEN || total < ihl {
        return false;
    }
    let (Some(frag), Some(src), Some(dst), Some(eth)) = (
        f.read::<2>(ETH_HLEN + 6),
        f.read::<4>(ETH_HLEN + 12),
        f.read::<4>(ETH_HLEN + 16),
        f.read::<ETH_HLEN>(0),
    ) else {
        return false;
    };
    // Non-first fragments, link-layer broadcast or multicast, and
    // non-unicast addresses get no answer (`icmp_send`, `nf_send_reset`).
    if u16::from_be_bytes(frag) & IP_OFFSET_MASK != 0
        || eth[0] & 1 != 0
        || not_unicast(src)
        || not_unicast(dst)
    {
        return false;
    }
    a.quote_len = 0;
    a.patch_quote = false;
    // Ethernet: back to where it came from.
    put(
        &mut a.head,
        0,
        [
            eth[6], eth[7], eth[8], eth[9], eth[10], eth[11], eth[0], eth[1], eth[2], eth[3],
            eth[4], eth[5], 0x08, 0x00,
        ],
    );
    // The IP header (RFC 791); the fields that differ come below.
    put(&mut a.head, IP, [0x45, 0, 0, 0, 0, 0, 0, 0, TTL, 0, 0, 0]);
    put(&mut a.head, IP + 16, src);
    if r == Reject::TcpReset {
        rst(a, len, ihl, total)
    } else {
        let from = if fwd_src == 0 {
            u32::from_ne_bytes(dst)
        } else {
            fwd_src
        };
        icmp(a, len, r.encode() | ((fwd_src != 0) as u32) << 8, from)
    }
}

/// The RST of `nf_send_reset` for the TCP segment at `ETH_HLEN + ihl`.
#[inline(never)]
fn rst(a: &mut Answer, len: usize, ihl: usize, total: usize) -> bool {
    let f = Frame { orig: &a.orig, len };
    // `nf_reject_ip_tcphdr_get`: TCP, and not a RST.
    let (Some(th), Some([_, proto]), Some(dst)) = (
        f.read::<TCP_HLEN>(ETH_HLEN + ihl),
        f.read::<2>(ETH_HLEN + 8),
        f.read::<4>(ETH_HLEN + 16),
    ) else {
        return false;
    };
    let (doff, flags) = (((th[12] >> 4) as u32) * 4, th[13]);
    if proto != IPPROTO_TCP || flags & TCP_RST != 0 {
        return false;
    }
    // `nf_reject_iphdr_put`: no TOS, id 0, DF.
    put(
        &mut a.head,
        IP + 2,
        ((IP_HLEN + TCP_HLEN) as u16).to_be_bytes(),
    );
    put(&mut a.head, IP + 6, IP_DF.to_be_bytes());
    a.head[IP + 9] = IPPROTO_TCP;
    put(&mut a.head, IP + 12, dst);
    // `nf_reject_ip_tcphdr_put`.
    put(&mut a.head, L4, [th[2], th[3], th[0], th[1]]);
    if flags & TCP_ACK != 0 {
        put(&mut a.head, L4 + 4, [th[8], th[9], th[10], th[11]]);
        put(&mut a.head, L4 + 8, [0; 4]);
        put(&mut a.head, L4 + 12, [((TCP_HLEN / 4) as u8) << 4, TCP_RST]);
    } else {
        let ack = u32::from_be_bytes([th[4], th[5], th[6], th[7]])
            .wrapping_add((flags & TCP_SYN != 0) as u32)
            .wrapping_add((flags & TCP_FIN != 0) as u32)
            .wrapping_add(total as u32)
            .wrapping_sub(ihl as u32)
            .wrapping_sub(doff);
        put(&mut a.head, L4 + 4, [0; 4]);
        put(&mut a.head, L4 + 8, ack.to_be_bytes());
        put(
            &mut a.head,
            L4 + 12,
            [((TCP_HLEN / 4) as u8) << 4, TCP_RST | TCP_ACK],
        );
    }
    // Window, checksum, urgent pointer.
    put(&mut a.head, L4 + 14, [0; 6]);
    // The pseudo-header (RFC 9293 3.1), then the header.
    let pseudo = add(0, &a.head, IP + 12, 8) + IPPROTO_TCP as u32 + TCP_HLEN as u32;
    let c = fold(add(pseudo, &a.head, L4, TCP_HLEN));
    put(&mut a.head, L4 + 16, c);
    let c = fold(add(0, &a.head, IP, IP_HLEN));
    put(&mut a.head, IP + 10, c);
    a.len = RST_LEN;
    true
}

/// The ICMP destination unreachable of `icmp_send` with the code in the
/// low byte of `code`, from `from` (network byte order); bit 8 of `code`
/// (FORWARD) quotes the header as the FORWARD hook saw it. (Five
/// arguments at most: BPF passes no more in registers.)
#[inline(never)]
fn icmp(a: &mut Answer, len: usize, code: u32, from: u32) -> bool {
    let f = Frame { orig: &a.orig, len };
    let forward = code & 0x100 != 0;
    let (Some([ver_ihl, tos]), Some(total), Some([ttl, proto]), Some(check)) = (
        f.read::<2>(ETH_HLEN),
        f.read::<2>(ETH_HLEN + 2),
        f.read::<2>(ETH_HLEN + 8),
        f.read::<2>(ETH_HLEN + 10),
    ) else {
        return false;
    };
    let ihl = ((ver_ihl & 0x0f) as usize) * 4;
    let total = u16::from_be_bytes(total) as usize;
    if ihl < IP_HLEN || total < ihl {
        return false;
    }
    // An ICMP error never answers an ICMP error (RFC 1122 3.2.2).
    if proto == IPPROTO_ICMP {
        let Some(t) = f.byte(ETH_HLEN + ihl) else {
            return false;
        };
        if t > NR_ICMP_TYPES || matches!(t, 3 | 4 | 5 | 11 | 12) {
            return false;
        }
    }
    let quote_len = ihl
        + if total - ihl < QUOTE_DATA {
            total - ihl
        } else {
            QUOTE_DATA
        };
    // In FORWARD the quote holds the header as the FORWARD hook saw it:
    // ip_forward() decremented the TTL and patched the checksum
    // (`ip_decrease_ttl`). Its bytes 8..12 as quoted.
    a.quoted = [ttl, proto, check[0], check[1]];
    if forward {
        if ttl <= 1 {
            return false;
        }
        let c = u16::from_be_bytes(check) as u32 + 0x0100;
        let c = (c + (c >= 0xffff) as u32) as u16;
        a.quoted = [ttl - 1, proto, (c >> 8) as u8, c as u8];
        a.patch_quote = true;
    }
    // The quote's sum, as the answer will carry it.
    let mut sum = 0u32;
    let mut i = 0;
    while i < QUOTE_MAX {
        if i >= quote_len {
            break;
        }
        let b = match i {
            8..=11 => a.quoted[i - 8],
            _ => match f.byte(ETH_HLEN + i) {
                Some(b) => b,
                None => return false,
            },
        } as u32;
        sum += if i % 2 == 0 { b << 8 } else { b };
        i += 1;
    }
    // SAFETY: a plain helper call.
    let id = unsafe { bpf_get_prandom_u32() } as u16;
    // `icmp_send`: TOS of an error, a fresh id, no DF.
    a.head[IP + 1] = (tos & TOS_MASK) | TOS_INTERNETCONTROL;
    put(
        &mut a.head,
        IP + 2,
        ((IP_HLEN + ICMP_HLEN + quote_len) as u16).to_be_bytes(),
    );
    put(&mut a.head, IP + 4, id.to_be_bytes());
    a.head[IP + 9] = IPPROTO_ICMP;
    put(&mut a.head, IP + 12, from.to_ne_bytes());
    let c = fold(add(0, &a.head, IP, IP_HLEN));
    put(&mut a.head, IP + 10, c);
    put(
        &mut a.head,
        L4,
        [ICMP_DEST_UNREACH, code as u8, 0, 0, 0, 0, 0, 0],
    );
    let c = fold(add(sum, &a.head, L4, ICMP_HLEN));
    put(&mut a.head, L4 + 2, c);
    a.quote_len = quote_len;
    a.len = ICMP_HEAD + quote_len;
    true
}

/// This host's address toward `to`, as `icmp_send`'s route lookup with
/// no source picks it (the route's preferred source), asked of the FIB
/// from interface `ifindex`.
#[inline(never)]
fn source_toward(md: *mut c_void, ifindex: u32, to: [u8; 4]) -> u32 {
    // SAFETY: bpf_fib_lookup is plain data; all-zero is a valid start.
    let mut params: FibParams = unsafe { core::mem::zeroed() };
    params.family = AF_INET;
    params.l4_protocol = IPPROTO_ICMP;
    params.ifindex = ifindex;
    params.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(to);
    // SAFETY: params is a valid bpf_fib_lookup of the size passed.
    let rc = unsafe {
        bpf_fib_lookup(
            md,
            &mut params,
            core::mem::size_of::<FibParams>() as i32,
            BPF_FIB_LOOKUP_OUTPUT | BPF_FIB_LOOKUP_SKIP_NEIGH | BPF_FIB_LOOKUP_SRC,
        )
    } as u32;
    if rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH {
        return 0;
    }
    // SAFETY: the lookup wrote the union's IPv4 member.
    unsafe { params.__bindgen_anon_3.ipv4_src }
}

/// The number of bytes of a `frame_len`-byte frame copied into
/// [`Answer::orig`]: all of it up to [`READ_MAX`], at least 1 (a helper's
/// length must be).
#[inline(always)]
fn copy_len(frame_len: usize) -> u32 {
    let n = if frame_len < READ_MAX {
        frame_len
    } else {
        READ_MAX
    };
    (if n == 0 { 1 } else { n }) as u32
}

/// Answers the frame in `md` with `r` (INPUT or FORWARD): `XDP_TX` with
/// the frame rewritten into the answer, or `XDP_DROP` when there is none.
///
/// A function of its own (a BPF subprogram): its stack is not added to the
/// classifier's.
#[inline(never)]
pub fn xdp(md: *mut xdp_md, r: Reject, hook: Hook, in_ifindex: u32) -> u32 {
    let ctx = &XdpContext::new(md);
    let frame_len = ctx.data_end() - ctx.data();
    let Some(a) = ANSWER.get_ptr_mut(0) else {
        return xdp_action::XDP_DROP;
    };
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    let a = unsafe { &mut *a };
    let n = copy_len(frame_len);
    // SAFETY: `orig` holds READ_MAX >= n bytes.
    if unsafe { bpf_xdp_load_bytes(md, 0, a.orig.as_mut_ptr().cast(), n) } != 0 {
        return xdp_action::XDP_DROP;
    }
    let mut fwd_src = 0;
    if hook == Hook::Forward && r != Reject::TcpReset {
        let f = Frame {
            orig: &a.orig,
            len: n as usize,
        };
        let Some(sender) = f.read::<4>(ETH_HLEN + 12) else {
            return xdp_action::XDP_DROP;
        };
        fwd_src = source_toward(md.cast(), in_ifindex, sender);
        if fwd_src == 0 {
            return xdp_action::XDP_DROP;
        }
    }
    if !build(a, n as usize, r, fwd_src) {
        return xdp_action::XDP_DROP;
    }
    let mut len = frame_len;
    if a.quote_len > 0 {
        // Room for the new IP and ICMP headers before the original IP
        // header, which then stays in place as the quote.
        // SAFETY: plain helper calls on this program's xdp_md.
        if unsafe { bpf_xdp_adjust_head(md, -((IP_HLEN + ICMP_HLEN) as i32)) } != 0 {
            return xdp_action::XDP_DROP;
        }
        len += IP_HLEN + ICMP_HLEN;
    }
    if len < a.len || len - a.len > 0xffff {
        return xdp_action::XDP_DROP;
    }
    // SAFETY: as above.
    if len != a.len && unsafe { bpf_xdp_adjust_tail(md, -((len - a.len) as i32)) } != 0 {
        return xdp_action::XDP_DROP;
    }
    let head = if a.quote_len > 0 { ICMP_HEAD } else { RST_LEN };
    // SAFETY: `head` holds RST_LEN >= head bytes.
    if unsafe { bpf_xdp_store_bytes(md, 0, a.head.as_mut_ptr().cast(), head as u32) } != 0 {
        return xdp_action::XDP_DROP;
    }
    if a.patch_quote {
        // SAFETY: as above, 4 bytes.
        let at = (ICMP_HEAD + 8) as u32;
        if unsafe { bpf_xdp_store_bytes(md, at, a.quoted.as_mut_ptr().cast(), 4) } != 0 {
            return xdp_action::XDP_DROP;
        }
    }
    send(md, in_ifindex)
}

/// How the answer now in `md` leaves interface `ifindex`: `XDP_TX`, or
/// where `IFACES` says so, `XDP_PASS` with [`REJECT_MARK`] in front for
/// [`tc_in`] (or, on a kernel whose XDP has no metadata, remembered for
/// it). A driver without XDP metadata keeps `XDP_TX`.
#[inline(never)]
fn send(md: *mut xdp_md, ifindex: u32) -> u32 {
    // SAFETY: a read of a plain u32 value.
    let flags = unsafe { IFACES.get(&ifindex) }.copied().unwrap_or(0);
    if flags & ANSWER_AT_TC_INGRESS == 0 {
        return xdp_action::XDP_TX;
    }
    if !xdp_meta() {
        return remember();
    }
    // SAFETY: a plain helper call on this program's xdp_md.
    if unsafe { bpf_xdp_adjust_meta(md, -(MARK_LEN as i32)) } != 0 {
        return xdp_action::XDP_TX;
    }
    let ctx = XdpContext::new(md);
    let (meta, data) = (ctx.metadata(), ctx.data());
    if meta + MARK_LEN > data {
        return xdp_action::XDP_DROP;
    }
    // SAFETY: meta..meta + MARK_LEN lies before data (checked above),
    // inside the metadata just made.
    unsafe { (meta as *mut u32).write_unaligned(REJECT_MARK) };
    xdp_action::XDP_PASS
}

/// Without XDP metadata: the answer just written to the frame (the
/// head of this CPU's XDP [`Answer`]) is remembered for [`tc_in`], and
/// passed.
#[inline(always)]
fn remember() -> u32 {
    let (Some(a), Some(p)) = (ANSWER.get_ptr(0), PENDING_ANSWERS.get_ptr_mut(0)) else {
        return xdp_action::XDP_DROP;
    };
    // SAFETY: this CPU's slots, used by nothing else until the program ends.
    let (a, p) = unsafe { (&*a, &mut *p) };
    let i = p.next as usize % PENDING;
    p.next = p.next.wrapping_add(1);
    let mut w = 0;
    while w < FP_WORDS {
        let mut b = [0u8; 8];
        let mut j = 0;
        while j < 8 {
            b[j] = a.head[(w * 8 + j) % RST_LEN];
            j += 1;
        }
        p.words[i][w] = u64::from_ne_bytes(b);
        w += 1;
    }
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    p.at[i] = now;
    p.last = now;
    xdp_action::XDP_PASS
}

/// Whether the frame `skb` begins as an answer [`remember`]ed on this
/// CPU less than `PENDING_NS` ago; if so, that answer is forgotten.
#[inline(never)]
fn remembered(skb: *mut __sk_buff) -> bool {
    let Some(p) = PENDING_ANSWERS.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    let p = unsafe { &mut *p };
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    if now.wrapping_sub(p.last) >= PENDING_NS {
        return false;
    }
    let mut f = [0u64; FP_WORDS];
    // SAFETY: `f` holds FINGERPRINT_LEN bytes.
    if unsafe { bpf_skb_load_bytes(skb.cast(), 0, f.as_mut_ptr().cast(), FINGERPRINT_LEN as u32) }
        != 0
    {
        return false;
    }
    let mut i = 0;
    while i < PENDING {
        if p.at[i] != 0 && now.wrapping_sub(p.at[i]) < PENDING_NS && p.words[i] == f {
            p.at[i] = 0;
            return true;
        }
        i += 1;
    }
    false
}

/// TC: the next program, or the stack.
const TCX_NEXT: i32 = -1;

/// Metadata too short for a mark: counted and dropped (a function of its
/// own, so LLVM keeps this check apart from the others).
#[inline(never)]
fn bad_mark() -> i32 {
    anomaly(Anomaly::BadRejectMark);
    TCX_DROP
}

/// TCX ingress: a frame XDP marked with [`REJECT_MARK`] is an answer
/// ([`send`]); the mark is zeroed (so that no later hook acts on it again)
/// and the frame is redirected out its interface. A frame without
/// metadata, or with a zeroed mark (one carried out before, should a
/// device keep the metadata), goes on; any other metadata is an anomaly
/// and dropped. Without XDP metadata, an answer is a frame that begins
/// as one XDP [`remember`]ed.
#[inline(never)]
pub fn tc_in(skb: *mut __sk_buff) -> i32 {
    // SAFETY: skb is the kernel's __sk_buff for this call.
    let (meta, data, ifindex) = unsafe {
        (
            (*skb).data_meta as usize,
            (*skb).data as usize,
            (*skb).ifindex,
        )
    };
    if meta == data {
        if !xdp_meta() && remembered(skb) {
            // SAFETY: a plain helper call.
            return unsafe { bpf_redirect(ifindex, 0) as i32 };
        }
        return TCX_NEXT;
    }
    // The verifier learns the metadata's range from `>` (not from `!=`),
    // and LLVM would fold a second check of the same bound into one `!=`:
    // the length is checked once, then kept for the decision below.
    if meta + MARK_LEN > data {
        return bad_mark();
    }
    // SAFETY: meta..meta + MARK_LEN is metadata (checked above).
    let mark = unsafe { (meta as *const u32).read_unaligned() };
    let whole = meta + MARK_LEN == data;
    if whole && mark == 0 {
        return TCX_NEXT;
    }
    if !whole || mark != REJECT_MARK {
        anomaly(Anomaly::BadRejectMark);
        return TCX_DROP;
    }
    // SAFETY: as above; TC programs may write their metadata.
    unsafe { (meta as *mut u32).write_unaligned(0) };
    // SAFETY: a plain helper call.
    unsafe { bpf_redirect(ifindex, 0) as i32 }
}

/// TC: drop the packet.
const TCX_DROP: i32 = 2;

/// Answers the locally generated packet in `skb` with `r` (OUTPUT): the
/// skb becomes the answer and is redirected to the ingress of its own
/// interface `ifindex`, so the stack delivers it to the sending socket.
/// `L2` is the link-layer header's length (14, or 0 on a device without
/// one). Returns the TC verdict (a redirect, or a drop when there is no
/// answer). A BPF subprogram, as [`xdp`].
#[inline(never)]
pub fn tc<const L2: usize>(skb: *mut __sk_buff, r: Reject, ifindex: u32) -> i32 {
    if L2 == 0 {
        // The answer arrives at the TCX ingress of a device without a
        // link-layer header, where fw's INPUT runs: the mark lets it by
        // there, as the answer passes no INPUT on an Ethernet device.
        // SAFETY: TC programs may write `mark`.
        unsafe { (*skb).mark = REJECT_MARK };
    }
    answer_skb::<L2>(skb, r, 0, ifindex, BPF_F_INGRESS as u64)
}

/// Answers the packet in `skb`, arriving on `ifindex`, a device without a
/// link-layer header (tun, WireGuard), with `r` (INPUT or FORWARD, at
/// TCX ingress): the skb becomes the answer and goes back out the same
/// device. A BPF subprogram, as [`xdp`].
#[inline(never)]
pub fn tc_in_l3(skb: *mut __sk_buff, r: Reject, hook: Hook, ifindex: u32) -> i32 {
    let mut fwd_src = 0;
    if hook == Hook::Forward && r != Reject::TcpReset {
        let mut sender = [0u8; 4];
        // SAFETY: skb is the kernel's __sk_buff; four bytes into `sender`.
        if unsafe { bpf_skb_load_bytes(skb.cast(), 12, sender.as_mut_ptr().cast(), 4) } != 0 {
            return TCX_DROP;
        }
        fwd_src = source_toward(skb.cast(), ifindex, sender);
        if fwd_src == 0 {
            return TCX_DROP;
        }
    }
    answer_skb::<0>(skb, r, fwd_src, ifindex, 0)
}

/// Rewrites `skb` (its IP header at `L2`) into the answer `r` (from
/// `fwd_src` in FORWARD, else 0) and redirects it to `ifindex` with
/// `bpf_redirect` `flags`. Without a link-layer header the frame is
/// copied after 14 zero bytes, so that [`build`] sees the Ethernet
/// layout it builds on, and the answer is written without them.
#[inline(always)]
fn answer_skb<const L2: usize>(
    skb: *mut __sk_buff,
    r: Reject,
    fwd_src: u32,
    ifindex: u32,
    flags: u64,
) -> i32 {
    let pad = ETH_HLEN - L2;
    let Some(nn) = core::ptr::NonNull::new(skb) else {
        return TCX_DROP;
    };
    let ctx = &TcContext::new(nn);
    let Some(a) = ANSWER.get_ptr_mut(1) else {
        return TCX_DROP;
    };
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    let a = unsafe { &mut *a };
    // SAFETY: skb is the kernel's __sk_buff for this call.
    let mut n = copy_len(unsafe { (*skb).len } as usize);
    if n as usize > READ_MAX - pad {
        n = (READ_MAX - pad) as u32;
    }
    a.orig[..pad].fill(0);
    // SAFETY: `orig` holds READ_MAX >= pad + n bytes.
    let to = unsafe { a.orig.as_mut_ptr().add(pad) };
    // SAFETY: `to` holds n bytes (above).
    if unsafe { bpf_skb_load_bytes(skb.cast(), 0, to.cast(), n) } != 0 {
        return TCX_DROP;
    }
    if !build(a, n as usize + pad, r, fwd_src) {
        return TCX_DROP;
    }
    // The skb is cut or grown to the answer's length and written whole,
    // the quote from the copy in `orig`: growing room before the original
    // IP header (as XDP does) would leave a TCP segment's
    // CHECKSUM_PARTIAL field (`csum_start + csum_offset`, 16 bytes into
    // the TCP header) past the shorter answer's end, which
    // `bpf_skb_change_tail` refuses (`__bpf_skb_min_len`).
    if ctx.change_tail((a.len - pad) as u32, 0).is_err() {
        return TCX_DROP;
    }
    let head = if a.quote_len > 0 { ICMP_HEAD } else { RST_LEN };
    // SAFETY: `head` holds RST_LEN >= head bytes, from `pad` on.
    let from = unsafe { a.head.as_ptr().add(pad) };
    let Some(n) = span::nonzero((head - pad) as u32, RST_LEN as u32) else {
        return TCX_DROP;
    };
    // SAFETY: `from` holds head - pad = n bytes.
    if unsafe { bpf_skb_store_bytes(skb.cast(), 0, from.cast(), n, 0) } != 0 {
        return TCX_DROP;
    }
    let q = a.quote_len;
    if q > QUOTE_MAX {
        return TCX_DROP;
    }
    if let Some(q) = span::nonzero(q as u32, QUOTE_MAX as u32) {
        // SAFETY: `orig` holds READ_MAX >= ETH_HLEN + QUOTE_MAX bytes.
        let from = unsafe { a.orig.as_ptr().add(ETH_HLEN) };
        let at = (ICMP_HEAD - pad) as u32;
        // SAFETY: `from` holds at least q <= QUOTE_MAX bytes (above).
        if unsafe { bpf_skb_store_bytes(skb.cast(), at, from.cast(), q, 0) } != 0 {
            return TCX_DROP;
        }
    }
    // SAFETY: a plain helper call.
    unsafe { bpf_redirect(ifindex, flags) as i32 }
}
