//! REJECT's answer (iptables-extensions(8) "REJECT"): what netfilter's
//! `nf_send_unreach` (an ICMP destination unreachable, RFC 792, built by
//! `icmp_send`), `nf_send_unreach6` (an ICMPv6 destination unreachable,
//! RFC 4443 3.1, built by `icmp6_send`) and `nf_send_reset` /
//! `nf_send_reset6` (a TCP RST, RFC 9293 3.10.7) send, built from the
//! offending packet in place.
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
//! The ICMPv6 error (`icmp6_send`) is from the same addresses, hop limit
//! 64, traffic class and flow label 0, and quotes the offending packet
//! from its IPv6 header on, up to [`QUOTE6_MAX`] bytes (Linux quotes up
//! to 1,232); the IPv6 RST is `nf_reject_ip6hdr_put`'s (hop limit 64, no
//! extension headers). Both are built by the global [`fw_reject6`].
//!
//! No answer (the packet is only dropped), as in netfilter: to a non-first
//! fragment, to a broadcast or multicast packet, to an ICMP or ICMPv6
//! error, for tcp-reset to anything but a TCP segment without RST; nor
//! (fw's bound) to an IPv6 packet whose extension headers end past the
//! bytes read ([`READ_MAX`]).

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

use crate::{
    classify::anomaly,
    parse::{IP6_HLEN, IPPROTO_ICMPV6, Packet},
    span,
};

const ETH_HLEN: usize = 14;
const IP_HLEN: usize = 20;
const ICMP_HLEN: usize = 8;
const TCP_HLEN: usize = 20;
/// The longest IPv4 header (IHL 15).
const IP_MAX_HLEN: usize = 60;
/// Payload bytes the ICMP error quotes after the IP header (RFC 792).
const QUOTE_DATA: usize = 8;
const QUOTE_MAX: usize = IP_MAX_HLEN + QUOTE_DATA;
/// Bytes of an IPv6 packet the ICMPv6 error quotes at most, from its
/// IPv6 header on: room for extension headers and the upper layer's
/// first bytes, which the receiver needs to find its socket.
pub const QUOTE6_MAX: usize = IP6_HLEN + 128;
/// Bytes before the quote in an ICMP answer: Ethernet, IP, ICMP.
const ICMP_HEAD: usize = ETH_HLEN + IP_HLEN + ICMP_HLEN;
/// Bytes before the quote in an ICMPv6 answer: Ethernet, IPv6, ICMPv6.
const ICMP6_HEAD: usize = ETH_HLEN + IP6_HLEN + ICMP_HLEN;
/// The whole RST frame: Ethernet, IP, TCP without options.
const RST_LEN: usize = ETH_HLEN + IP_HLEN + TCP_HLEN;
/// The whole IPv6 RST frame, the longest head an answer has.
const HEAD_LEN: usize = ETH_HLEN + IP6_HLEN + TCP_HLEN;
/// Bytes of the original frame read for an answer: the longest IPv4
/// header and a TCP header, or the longest ICMPv6 quote.
const READ_MAX: usize = ETH_HLEN + QUOTE6_MAX;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const ICMP_DEST_UNREACH: u8 = 3;
/// RFC 4443 3.1.
const ICMPV6_DEST_UNREACH: u8 = 1;
/// RFC 4443 2.1: types below it are errors.
const ICMPV6_INFOMSG_MASK: u8 = 0x80;
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
const AF_INET6: u8 = 10;

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
    /// Ethernet, IP and ICMP or TCP headers: `head_len` bytes of it.
    head: [u8; HEAD_LEN],
    /// [`ICMP_HEAD`], [`ICMP6_HEAD`], [`RST_LEN`] or [`HEAD_LEN`].
    head_len: usize,
    /// Bytes of the original IP packet the ICMP error quotes (0 for a RST).
    quote_len: usize,
    /// The frame's length once answered.
    len: usize,
    /// In FORWARD the quote holds the header as the FORWARD hook saw it,
    /// TTL (hop limit) decremented: these 4 bytes at `patch_at`.
    quoted: [u8; 4],
    /// Where `quoted` goes in the answer frame; 0: nowhere (not FORWARD).
    patch_at: usize,
    /// In FORWARD, this host's address toward the sender: IPv4's (network
    /// byte order) or IPv6's.
    src4: u32,
    src6: [u8; 16],
    /// The parser's findings for IPv6 ([`Packet`]): the upper layer's
    /// protocol and offset from the IPv6 header past the extension
    /// headers, and whether the packet is a later fragment or an ICMPv6
    /// error, which get no answer.
    proto: u8,
    l4: usize,
    later: bool,
    icmp_error: bool,
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
fn add(mut sum: u32, head: &[u8; HEAD_LEN], from: usize, n: usize) -> u32 {
    let mut i = 0;
    while i + 1 < HEAD_LEN {
        if i >= n {
            break;
        }
        let at = from + i;
        if at + 1 < HEAD_LEN {
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
fn put<const N: usize>(buf: &mut [u8; HEAD_LEN], at: usize, b: [u8; N]) {
    let mut i = 0;
    while i < N {
        if at + i < HEAD_LEN {
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
const L4_6: usize = ETH_HLEN + IP6_HLEN;

/// Builds the answer `r` to the IP packet in `a.orig` (`len` bytes of
/// it): IPv4's here, IPv6's in [`fw_reject6`]; `false` when netfilter
/// sends none. `forward`: FORWARD, whose ICMP error is from `a.src4` or
/// `a.src6`. A type of the other family is no compiler's: counted and
/// dropped.
#[inline(always)]
fn answer(a: &mut Answer, len: usize, r: Reject, forward: bool) -> bool {
    let v6 = a.orig[IP] >> 4 == 6;
    if !r.answers(v6) {
        anomaly(Anomaly::BadTarget);
        return false;
    }
    if v6 {
        fw_reject6(a, len as u32, r.encode(), u32::from(forward)) != 0
    } else {
        build(a, len, r, forward)
    }
}

/// Builds the IPv4 answer `r` to the frame in `a.orig` (`len` bytes of
/// it); `false` when netfilter sends none.
///
/// It and its parts are BPF subprograms: each frame holds only its own
/// values, so the deepest chain stays within BPF's 512 stack bytes.
#[inline(never)]
fn build(a: &mut Answer, len: usize, r: Reject, forward: bool) -> bool {
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
    let Some(frag) = f.read::<2>(ETH_HLEN + 6) else {
        return false;
    };
    let Some(src) = f.read::<4>(ETH_HLEN + 12) else {
        return false;
    };
    let Some(dst) = f.read::<4>(ETH_HLEN + 16) else {
        return false;
    };
    let Some(eth) = f.read::<ETH_HLEN>(0) else {
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
    a.patch_at = 0;
    ethernet(&mut a.head, eth, [0x08, 0x00]);
    // The IP header (RFC 791); the fields that differ come below.
    put(&mut a.head, IP, [0x45, 0, 0, 0, 0, 0, 0, 0, TTL, 0, 0, 0]);
    put(&mut a.head, IP + 16, src);
    if r == Reject::TcpReset {
        rst(a, len, ihl, total)
    } else {
        let from = if forward {
            a.src4
        } else {
            u32::from_ne_bytes(dst)
        };
        icmp(a, len, u32::from(r.code()) | u32::from(forward) << 8, from)
    }
}

/// The answer's Ethernet header: back to where `eth` came from.
#[inline(always)]
fn ethernet(head: &mut [u8; HEAD_LEN], eth: [u8; ETH_HLEN], ethertype: [u8; 2]) {
    put(
        head,
        0,
        [
            eth[6],
            eth[7],
            eth[8],
            eth[9],
            eth[10],
            eth[11],
            eth[0],
            eth[1],
            eth[2],
            eth[3],
            eth[4],
            eth[5],
            ethertype[0],
            ethertype[1],
        ],
    );
}

/// The flags of the TCP header at `th` of the frame, when all of the
/// header was read (a RST answers only a whole header).
#[inline(always)]
fn segment_flags(f: &Frame, th: usize) -> Option<u8> {
    f.read::<1>(th + TCP_HLEN - 1)?;
    f.byte(th + 13)
}

/// The RST of `nf_send_reset` for the TCP segment at `ETH_HLEN + ihl`.
#[inline(never)]
fn rst(a: &mut Answer, len: usize, ihl: usize, total: usize) -> bool {
    let f = Frame { orig: &a.orig, len };
    // `nf_reject_ip_tcphdr_get`: TCP, and not a RST.
    let th = ETH_HLEN + ihl;
    let Some(flags) = segment_flags(&f, th) else {
        return false;
    };
    let Some([_, proto]) = f.read::<2>(ETH_HLEN + 8) else {
        return false;
    };
    let Some(dst) = f.read::<4>(ETH_HLEN + 16) else {
        return false;
    };
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
    tcp_rst(&mut a.head, &a.orig, L4, th, (total - ihl) as u32);
    // The pseudo-header (RFC 9293 3.1), then the header.
    let pseudo = add(0, &a.head, IP + 12, 8) + IPPROTO_TCP as u32 + TCP_HLEN as u32;
    let c = fold(add(pseudo, &a.head, L4, TCP_HLEN));
    put(&mut a.head, L4 + 16, c);
    let c = fold(add(0, &a.head, IP, IP_HLEN));
    put(&mut a.head, IP + 10, c);
    a.head_len = RST_LEN;
    a.len = RST_LEN;
    true
}

/// `nf_reject_ip_tcphdr_put` (`nf_reject_ip6_tcphdr_put`): the RST's TCP
/// header at `at`, answering the header at `th` of the original frame
/// (all of it read: the caller checked), a `seglen`-byte segment; its
/// checksum is left 0. Read in place: a copy would cost stack.
#[inline(always)]
fn tcp_rst(head: &mut [u8; HEAD_LEN], orig: &[u8; READ_MAX], at: usize, th: usize, seglen: u32) {
    let b = |i: usize| orig[(th + i) % READ_MAX];
    let (doff, flags) = (((b(12) >> 4) as u32) * 4, b(13));
    put(head, at, [b(2), b(3), b(0), b(1)]);
    if flags & TCP_ACK != 0 {
        put(head, at + 4, [b(8), b(9), b(10), b(11)]);
        put(head, at + 8, [0; 4]);
        put(head, at + 12, [((TCP_HLEN / 4) as u8) << 4, TCP_RST]);
    } else {
        let ack = u32::from_be_bytes([b(4), b(5), b(6), b(7)])
            .wrapping_add((flags & TCP_SYN != 0) as u32)
            .wrapping_add((flags & TCP_FIN != 0) as u32)
            .wrapping_add(seglen)
            .wrapping_sub(doff);
        put(head, at + 4, [0; 4]);
        put(head, at + 8, ack.to_be_bytes());
        put(
            head,
            at + 12,
            [((TCP_HLEN / 4) as u8) << 4, TCP_RST | TCP_ACK],
        );
    }
    // Window, checksum, urgent pointer.
    put(head, at + 14, [0; 6]);
}

/// The one's complement sum of the `quote_len` bytes of the original IP
/// packet the answer quotes, as it will carry them: `a.quoted` at
/// `patch..patch + 4`. `None` when they were not all read. `MAX` bounds
/// `quote_len` for the verifier.
#[inline(always)]
fn quote_sum<const MAX: usize>(
    a: &Answer,
    len: usize,
    quote_len: usize,
    patch: usize,
) -> Option<u32> {
    let f = Frame { orig: &a.orig, len };
    let mut sum = 0u32;
    let mut i = 0;
    while i < MAX {
        if i >= quote_len {
            break;
        }
        let b = if i >= patch && i < patch + 4 {
            a.quoted[(i - patch) % 4]
        } else {
            f.byte(ETH_HLEN + i)?
        } as u32;
        sum += if i % 2 == 0 { b << 8 } else { b };
        i += 1;
    }
    Some(sum)
}

/// The ICMP destination unreachable of `icmp_send` with the code in the
/// low byte of `code`, from `from` (network byte order); bit 8 of `code`
/// (FORWARD) quotes the header as the FORWARD hook saw it. (Five
/// arguments at most: BPF passes no more in registers.)
#[inline(never)]
fn icmp(a: &mut Answer, len: usize, code: u32, from: u32) -> bool {
    let f = Frame { orig: &a.orig, len };
    let forward = code & 0x100 != 0;
    let Some([ver_ihl, tos]) = f.read::<2>(ETH_HLEN) else {
        return false;
    };
    let Some(total) = f.read::<2>(ETH_HLEN + 2) else {
        return false;
    };
    let Some([ttl, proto]) = f.read::<2>(ETH_HLEN + 8) else {
        return false;
    };
    let Some(check) = f.read::<2>(ETH_HLEN + 10) else {
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
        a.patch_at = ICMP_HEAD + 8;
    }
    let Some(sum) = quote_sum::<QUOTE_MAX>(a, len, quote_len, 8) else {
        return false;
    };
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
    a.head_len = ICMP_HEAD;
    a.len = ICMP_HEAD + quote_len;
    true
}

/// Not a unicast IPv6 address (`ipv6_addr_type`): unspecified or
/// multicast.
#[inline(always)]
fn not_unicast6(a: &[u8; 16]) -> bool {
    a[0] == 0xff || *a == [0; 16]
}

/// Builds the IPv6 answer `r` (encoded: [`Reject::encode`]) to the
/// frame in `a.orig` (`len` bytes of it) into `a`, from `a.src6` when
/// `forward` is not 0 (FORWARD): 1, or 0 when netfilter sends none.
/// Global, so the verifier checks its ways once, apart from the
/// classifier's.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_reject6(a: *mut Answer, len: u32, r: u32, forward: u32) -> u32 {
    // SAFETY: the caller's answer slot, or null.
    let (Some(a), Some(r)) = (unsafe { a.as_mut() }, Reject::decode(r)) else {
        return 0;
    };
    let len = len as usize;
    let upper = eligible6(a, len);
    if upper == 0 {
        return 0;
    }
    let (proto, l4, total) = (
        upper as u8,
        (upper >> 8) as usize & 0xfff,
        (upper >> 20) as usize,
    );
    u32::from(if r == Reject::TcpReset {
        proto == IPPROTO_TCP && rst6(a, len, l4, total)
    } else {
        icmp6(a, len, u32::from(r.code()) | (forward & 1) << 8)
    })
}

/// Copies the `N` bytes of the original frame at `from` into the
/// answer's head at `to`, without a copy on the stack: `false` when they
/// were not all read.
#[inline(always)]
fn copy<const N: usize>(
    head: &mut [u8; HEAD_LEN],
    orig: &[u8; READ_MAX],
    len: usize,
    from: usize,
    to: usize,
) -> bool {
    if from + N > len || from + N > READ_MAX || to + N > HEAD_LEN {
        return false;
    }
    let mut i = 0;
    while i < N {
        head[(to + i) % HEAD_LEN] = orig[(from + i) % READ_MAX];
        i += 1;
    }
    true
}

/// Whether the 16 bytes at `at` of the original frame are a unicast
/// IPv6 address ([`not_unicast6`]), read in place.
#[inline(always)]
fn unicast6_at(orig: &[u8; READ_MAX], len: usize, at: usize) -> bool {
    if at + 16 > len || at + 16 > READ_MAX {
        return false;
    }
    let mut zero = true;
    let mut i = 0;
    while i < 16 {
        zero &= orig[(at + i) % READ_MAX] == 0;
        i += 1;
    }
    !zero && orig[at % READ_MAX] != 0xff
}

/// Whether the IPv6 packet in `a.orig` may be answered, and if so its
/// answer's head begun (Ethernet, the IPv6 header's first 8 bytes, the
/// destination): its upper layer's protocol in bits 0..8, offset from
/// the IPv6 header in 8..20 and the packet's length in 20..32; 0: no
/// answer. `icmp6_send` and `nf_send_reset6` send none to link-layer
/// multicast or non-unicast addresses, nor (`reject6_csum_ok`,
/// `is_ineligible`) to non-first fragments and ICMPv6 errors.
#[inline(never)]
fn eligible6(a: &mut Answer, len: usize) -> u32 {
    let f = Frame { orig: &a.orig, len };
    let Some(h) = f.read::<8>(IP) else {
        return 0;
    };
    let Some(mac0) = f.byte(0) else {
        return 0;
    };
    let plen = u16::from_be_bytes([h[4], h[5]]) as usize;
    if h[0] >> 4 != 6
        || mac0 & 1 != 0
        || !unicast6_at(&a.orig, len, IP + 8)
        || !unicast6_at(&a.orig, len, IP + 24)
    {
        return 0;
    }
    let (proto, l4) = (a.proto, a.l4);
    if a.later || a.icmp_error || IP6_HLEN + plen < l4 || l4 > 0xfff {
        return 0;
    }
    a.quote_len = 0;
    a.patch_at = 0;
    // Ethernet back to where it came from; version 6, traffic class and
    // flow label 0, hop limit 64 (payload length and next header below);
    // to the sender.
    if !copy::<6>(&mut a.head, &a.orig, len, 6, 0)
        || !copy::<6>(&mut a.head, &a.orig, len, 0, 6)
        || !copy::<16>(&mut a.head, &a.orig, len, IP + 8, IP + 24)
    {
        return 0;
    }
    put(&mut a.head, 12, [0x86, 0xdd, 0x60, 0, 0, 0, 0, 0, 0, TTL]);
    u32::from(proto) | (l4 as u32) << 8 | ((IP6_HLEN + plen) as u32) << 20
}

/// The RST of `nf_send_reset6` for the TCP segment at `l4` (from the
/// IPv6 header) of a `total`-byte IPv6 packet.
#[inline(never)]
fn rst6(a: &mut Answer, len: usize, l4: usize, total: usize) -> bool {
    let f = Frame { orig: &a.orig, len };
    // `nf_reject_ip6_tcphdr_get`: all of the TCP header, not a RST.
    let th = IP + l4;
    let Some(flags) = segment_flags(&f, th) else {
        return false;
    };
    if total < l4 + TCP_HLEN || flags & TCP_RST != 0 {
        return false;
    }
    put(&mut a.head, IP + 4, (TCP_HLEN as u16).to_be_bytes());
    a.head[IP + 6] = IPPROTO_TCP;
    if !copy::<16>(&mut a.head, &a.orig, len, IP + 24, IP + 8) {
        return false;
    }
    tcp_rst(&mut a.head, &a.orig, L4_6, th, (total - l4) as u32);
    let pseudo = add(0, &a.head, IP + 8, 32) + IPPROTO_TCP as u32 + TCP_HLEN as u32;
    let c = fold(add(pseudo, &a.head, L4_6, TCP_HLEN));
    put(&mut a.head, L4_6 + 16, c);
    a.head_len = HEAD_LEN;
    a.len = HEAD_LEN;
    true
}

/// The ICMPv6 destination unreachable of `icmp6_send` with the code in
/// the low byte of `code` (bit 8: FORWARD, from `a.src6`, quoting the
/// header as the FORWARD hook saw it).
#[inline(never)]
fn icmp6(a: &mut Answer, len: usize, code: u32) -> bool {
    let f = Frame { orig: &a.orig, len };
    let Some([_, _, _, _, p0, p1, nh, hl]) = f.read::<8>(IP) else {
        return false;
    };
    let total = IP6_HLEN + u16::from_be_bytes([p0, p1]) as usize;
    let quote_len = if total < QUOTE6_MAX {
        total
    } else {
        QUOTE6_MAX
    };
    // In FORWARD the quote holds the header as the FORWARD hook saw it:
    // ip6_forward() decremented the hop limit (and answered a packet it
    // would expire itself). Its bytes 4..8 as quoted.
    a.quoted = [p0, p1, nh, hl];
    if code & 0x100 != 0 {
        if hl <= 1 {
            return false;
        }
        a.quoted[3] = hl - 1;
        a.patch_at = ICMP6_HEAD + 4;
        let from = a.src6;
        put(&mut a.head, IP + 8, from);
    } else if !copy::<16>(&mut a.head, &a.orig, len, IP + 24, IP + 8) {
        return false;
    }
    let Some(sum) = quote_sum::<QUOTE6_MAX>(a, len, quote_len, 4) else {
        return false;
    };
    let icmp_len = ICMP_HLEN + quote_len;
    put(&mut a.head, IP + 4, (icmp_len as u16).to_be_bytes());
    a.head[IP + 6] = IPPROTO_ICMPV6;
    put(
        &mut a.head,
        L4_6,
        [ICMPV6_DEST_UNREACH, code as u8, 0, 0, 0, 0, 0, 0],
    );
    // The pseudo-header (RFC 8200 8.1), the ICMPv6 header, the quote.
    let pseudo = add(0, &a.head, IP + 8, 32) + IPPROTO_ICMPV6 as u32 + icmp_len as u32;
    let c = fold(add(sum + pseudo, &a.head, L4_6, ICMP_HLEN));
    put(&mut a.head, L4_6 + 2, c);
    a.quote_len = quote_len;
    a.head_len = ICMP6_HEAD;
    a.len = ICMP6_HEAD + quote_len;
    true
}

/// In FORWARD, this host's address toward the sender of the packet in
/// `a.orig` (`len` bytes of it), as `icmp_send`'s (`icmp6_send`'s) route
/// lookup with no source picks it (the route's preferred source), asked
/// of the FIB from interface `ifindex`: into `a.src4` or `a.src6`.
/// `false` when there is none.
#[inline(never)]
fn forward_source(md: *mut c_void, ifindex: u32, a: &mut Answer, len: usize) -> bool {
    let f = Frame { orig: &a.orig, len };
    let v6 = a.orig[IP] >> 4 == 6;
    // SAFETY: bpf_fib_lookup is plain data; all-zero is a valid start.
    let mut params: FibParams = unsafe { core::mem::zeroed() };
    params.ifindex = ifindex;
    if v6 {
        let Some(to) = f.read::<16>(IP + 8) else {
            return false;
        };
        params.family = AF_INET6;
        params.l4_protocol = IPPROTO_ICMPV6;
        // SAFETY: writes the union's IPv6 member, 16 bytes.
        unsafe {
            params.__bindgen_anon_4.ipv6_dst = core::mem::transmute::<[u8; 16], [u32; 4]>(to)
        };
    } else {
        let Some(to) = f.read::<4>(IP + 12) else {
            return false;
        };
        params.family = AF_INET;
        params.l4_protocol = IPPROTO_ICMP;
        params.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(to);
    }
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
        return false;
    }
    // SAFETY: the lookup wrote the union's member of the family asked.
    unsafe {
        if v6 {
            a.src6 = core::mem::transmute::<[u32; 4], [u8; 16]>(params.__bindgen_anon_3.ipv6_src);
            !not_unicast6(&a.src6)
        } else {
            a.src4 = params.__bindgen_anon_3.ipv4_src;
            a.src4 != 0
        }
    }
}

/// Notes the parser's findings of `pkt` in `a` ([`Answer::proto`]).
#[inline(always)]
fn upper(a: &mut Answer, pkt: &Packet) {
    a.proto = pkt.proto;
    a.l4 = pkt.l4 as usize;
    a.later = pkt.later_fragment;
    a.icmp_error =
        pkt.proto == IPPROTO_ICMPV6 && pkt.has_icmp && pkt.icmp_type & ICMPV6_INFOMSG_MASK == 0;
}

/// [`upper`] into this CPU's answer slot `slot`.
#[inline(always)]
fn upper_of(slot: u32, pkt: &Packet) {
    if let Some(a) = ANSWER.get_ptr_mut(slot) {
        // SAFETY: this CPU's slot, used by nothing else until the program ends.
        upper(unsafe { &mut *a }, pkt);
    }
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

/// The hook's REJECT answer, its [`Reject`] encoded ([`Reject::encode`]):
/// an encoding no compiler writes drops and counts as
/// [`Anomaly::BadTarget`]. These entry points are global functions, so
/// the verifier checks the answer's ways once, whatever state the walk
/// left (as static subprograms they were checked once per way there:
/// 400,000 of `fw_xdp`'s instructions). `forward`: 1 in FORWARD, else 0.
#[inline(always)]
fn decode(r: u32) -> Option<Reject> {
    let r = Reject::decode(r);
    if r.is_none() {
        anomaly(Anomaly::BadTarget);
    }
    r
}

/// [`xdp`] as a global function (see [`decode`]).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_reject_xdp(
    md: *mut xdp_md,
    r: u32,
    forward: u32,
    in_ifindex: u32,
    pkt: *const Packet,
) -> u32 {
    // SAFETY: the hook's parsed packet, or null.
    let (Some(r), Some(pkt)) = (decode(r), unsafe { pkt.as_ref() }) else {
        return xdp_action::XDP_DROP;
    };
    let hook = if forward != 0 {
        Hook::Forward
    } else {
        Hook::Input
    };
    xdp(md, r, hook, in_ifindex, pkt)
}

/// [`tc`] for a device with an Ethernet header, global (see [`decode`]).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_reject_tc(
    skb: *mut __sk_buff,
    r: u32,
    ifindex: u32,
    pkt: *const Packet,
) -> i32 {
    // SAFETY: as in `fw_reject_xdp`.
    let (Some(r), Some(pkt)) = (decode(r), unsafe { pkt.as_ref() }) else {
        return TCX_DROP;
    };
    tc::<ETH_HLEN>(skb, r, ifindex, pkt)
}

/// [`tc`] for a device without a link-layer header, global.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_reject_tc_l3(
    skb: *mut __sk_buff,
    r: u32,
    ifindex: u32,
    pkt: *const Packet,
) -> i32 {
    // SAFETY: as in `fw_reject_xdp`.
    let (Some(r), Some(pkt)) = (decode(r), unsafe { pkt.as_ref() }) else {
        return TCX_DROP;
    };
    tc::<0>(skb, r, ifindex, pkt)
}

/// [`tc_in_l3`] as a global function.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_reject_tc_in_l3(
    skb: *mut __sk_buff,
    r: u32,
    forward: u32,
    ifindex: u32,
    pkt: *const Packet,
) -> i32 {
    // SAFETY: as in `fw_reject_xdp`.
    let (Some(r), Some(pkt)) = (decode(r), unsafe { pkt.as_ref() }) else {
        return TCX_DROP;
    };
    let hook = if forward != 0 {
        Hook::Forward
    } else {
        Hook::Input
    };
    tc_in_l3(skb, r, hook, ifindex, pkt)
}

/// Answers the frame in `md` with `r` (INPUT or FORWARD): `XDP_TX` with
/// the frame rewritten into the answer, or `XDP_DROP` when there is none.
#[inline(always)]
fn xdp(md: *mut xdp_md, r: Reject, hook: Hook, in_ifindex: u32, pkt: &Packet) -> u32 {
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
    upper(a, pkt);
    let forward = hook == Hook::Forward && r != Reject::TcpReset;
    if forward && !forward_source(md.cast(), in_ifindex, a, n as usize) {
        return xdp_action::XDP_DROP;
    }
    if !answer(a, n as usize, r, forward) {
        return xdp_action::XDP_DROP;
    }
    let mut len = frame_len;
    if a.quote_len > 0 {
        // Room for the new IP and ICMP headers before the original IP
        // header, which then stays in place as the quote.
        let grow = a.head_len - ETH_HLEN;
        if grow > IP6_HLEN + ICMP_HLEN {
            return xdp_action::XDP_DROP;
        }
        // SAFETY: plain helper calls on this program's xdp_md.
        if unsafe { bpf_xdp_adjust_head(md, -(grow as i32)) } != 0 {
            return xdp_action::XDP_DROP;
        }
        len += grow;
    }
    if len < a.len || len - a.len > 0xffff {
        return xdp_action::XDP_DROP;
    }
    // SAFETY: as above.
    if len != a.len && unsafe { bpf_xdp_adjust_tail(md, -((len - a.len) as i32)) } != 0 {
        return xdp_action::XDP_DROP;
    }
    let Some(head) = span::nonzero(a.head_len as u32, HEAD_LEN as u32) else {
        return xdp_action::XDP_DROP;
    };
    // SAFETY: `head` holds HEAD_LEN >= head bytes.
    if unsafe { bpf_xdp_store_bytes(md, 0, a.head.as_mut_ptr().cast(), head) } != 0 {
        return xdp_action::XDP_DROP;
    }
    if a.patch_at != 0 {
        // SAFETY: as above, 4 bytes.
        let at = a.patch_at as u32;
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
            b[j] = a.head[(w * 8 + j) % HEAD_LEN];
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
#[inline(always)]
fn tc<const L2: usize>(skb: *mut __sk_buff, r: Reject, ifindex: u32, pkt: &Packet) -> i32 {
    if L2 == 0 {
        // The answer arrives at the TCX ingress of a device without a
        // link-layer header, where fw's INPUT runs: the mark lets it by
        // there, as the answer passes no INPUT on an Ethernet device.
        // SAFETY: TC programs may write `mark`.
        unsafe { (*skb).mark = REJECT_MARK };
    }
    upper_of(1, pkt);
    answer_skb::<L2>(skb, r, false, ifindex, BPF_F_INGRESS as u64)
}

/// Answers the packet in `skb`, arriving on `ifindex`, a device without a
/// link-layer header (tun, WireGuard), with `r` (INPUT or FORWARD, at
/// TCX ingress): the skb becomes the answer and goes back out the same
/// device. A BPF subprogram, as [`xdp`].
#[inline(always)]
fn tc_in_l3(skb: *mut __sk_buff, r: Reject, hook: Hook, ifindex: u32, pkt: &Packet) -> i32 {
    let forward = hook == Hook::Forward && r != Reject::TcpReset;
    upper_of(1, pkt);
    answer_skb::<0>(skb, r, forward, ifindex, 0)
}

/// Rewrites `skb` (its IP header at `L2`) into the answer `r` (from this
/// host's address toward the sender in FORWARD, arriving on `ifindex`)
/// and redirects it to `ifindex` with `bpf_redirect` `flags`. Without a
/// link-layer header the frame is copied after 14 zero bytes, so that
/// [`answer`] sees the Ethernet layout it builds on, and the answer is
/// written without them.
#[inline(always)]
fn answer_skb<const L2: usize>(
    skb: *mut __sk_buff,
    r: Reject,
    forward: bool,
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
    let len = n as usize + pad;
    if forward && !forward_source(skb.cast(), ifindex, a, len) {
        return TCX_DROP;
    }
    if !answer(a, len, r, forward) {
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
    let head = a.head_len;
    if head < pad {
        return TCX_DROP;
    }
    // SAFETY: `head` holds HEAD_LEN >= head bytes, from `pad` on.
    let from = unsafe { a.head.as_ptr().add(pad) };
    let Some(n) = span::nonzero((head - pad) as u32, HEAD_LEN as u32) else {
        return TCX_DROP;
    };
    // SAFETY: `from` holds head - pad = n bytes.
    if unsafe { bpf_skb_store_bytes(skb.cast(), 0, from.cast(), n, 0) } != 0 {
        return TCX_DROP;
    }
    let q = a.quote_len;
    if q > QUOTE6_MAX {
        return TCX_DROP;
    }
    if let Some(q) = span::nonzero(q as u32, QUOTE6_MAX as u32) {
        // SAFETY: `orig` holds READ_MAX = ETH_HLEN + QUOTE6_MAX bytes.
        let from = unsafe { a.orig.as_ptr().add(ETH_HLEN) };
        let at = (head - pad) as u32;
        // SAFETY: `from` holds at least q <= QUOTE6_MAX bytes (above).
        if unsafe { bpf_skb_store_bytes(skb.cast(), at, from.cast(), q, 0) } != 0 {
            return TCX_DROP;
        }
    }
    if a.patch_at >= pad && a.patch_at != 0 {
        // The quote as FORWARD saw it (tun, WireGuard: [`tc_in_l3`]).
        let at = (a.patch_at - pad) as u32;
        // SAFETY: `quoted` holds 4 bytes.
        if unsafe { bpf_skb_store_bytes(skb.cast(), at, a.quoted.as_ptr().cast(), 4, 0) } != 0 {
            return TCX_DROP;
        }
    }
    // SAFETY: a plain helper call.
    unsafe { bpf_redirect(ifindex, flags) as i32 }
}
