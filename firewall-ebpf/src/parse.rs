//! Header parsing for both hooks into one [`Packet`].

use aya_ebpf::{
    EbpfContext,
    bindings::{__sk_buff, xdp_md},
    cty::c_void,
    helpers::{bpf_skb_load_bytes, bpf_xdp_adjust_head},
    programs::{TcContext, XdpContext},
};
use firewall_common::{
    Field, MAX_EXT_HEADERS, MAX_PRIORITY_TAGS, Malformed, NO_HEADER_VALUE, NO_PORT_VALUE,
    PROTO_NONE6, ct,
};

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
/// Bytes of one 802.1Q/802.1ad tag: TPID, then TCI.
const VLAN_HLEN: usize = 4;
/// The VLAN identifier bits of a TCI (IEEE 802.1Q 9.6).
const VLAN_VID_MASK: u16 = 0x0fff;
const IP_MIN_HLEN: usize = 20;
/// Fragment offset bits of the IPv4 flags/fragment word (RFC 791).
const IP_OFFSET_MASK: u16 = 0x1fff;
/// IPv4's "more fragments" flag.
const IP_MF: u16 = 0x2000;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_ICMPV6: u8 = 58;
/// The fixed IPv6 header (RFC 8200 section 3).
pub const IP6_HLEN: usize = 40;
/// Extension headers (RFC 8200 4, RFC 4302): what `ipv6_ext_hdr` names,
/// and "no next header", which ends the walk as an upper layer would.
const NEXTHDR_HOP: u8 = 0;
const NEXTHDR_ROUTING: u8 = 43;
const NEXTHDR_FRAGMENT: u8 = 44;
const NEXTHDR_AUTH: u8 = 51;
const NEXTHDR_NONE: u8 = 59;
const NEXTHDR_DEST: u8 = 60;

/// In [`Packet::tcp_flags`] (where the header's CWR bit would be): the
/// TCP data offset is below 5 words or past the segment's end, which
/// netfilter's `tcp_error` makes INVALID ("truncated header or options").
pub const TCP_BAD_OFFSET: u8 = 0x80;

/// What the classifier needs of one IPv4 or IPv6 packet.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Packet {
    /// Source address, network byte order; 0 for IPv6.
    pub src: u32,
    /// Destination address, network byte order; 0 for IPv6.
    pub dst: u32,
    /// An IPv6 packet: `ttl` is its hop limit, `len` its payload length
    /// plus 40, `proto` the upper-layer protocol past the extension
    /// headers (`ipv6_find_hdr`), `icmp_*` its ICMPv6 header.
    pub v6: bool,
    /// Source and destination addresses in 16 bytes, network byte order
    /// (an IPv4 address in the first 4, as connection keys hold it).
    pub src6: [u8; 16],
    pub dst6: [u8; 16],
    /// Ports in host byte order; valid when `has_ports`.
    pub sport: u16,
    pub dport: u16,
    /// Total length from the IPv4 header, bytes.
    pub len: u16,
    pub proto: u8,
    /// Time to live, as the chain's hook sees it (see [`Field::Ttl`]).
    pub ttl: u8,
    /// TCP or UDP first fragment with its ports read.
    pub has_ports: bool,
    pub in_ifindex: u32,
    pub out_ifindex: u32,
    /// A fragment other than the first (its L4 header is elsewhere).
    pub later_fragment: bool,
    /// A first fragment (offset 0, more fragments to come).
    pub first_fragment: bool,
    /// A fragment's identification (IPv4's 16 bits, the IPv6 fragment
    /// header's 32; network order), for `firewall_common::frag::Key`.
    pub frag_id: u32,
    /// TCP flags FIN to URG (bits 0-5 of byte 13 of the header, all
    /// iptables matches), and [`TCP_BAD_OFFSET`]; valid when
    /// `has_tcp_flags`.
    pub tcp_flags: u8,
    pub has_tcp_flags: bool,
    /// ICMP type and, for queries and replies, identifier; valid when
    /// `has_icmp`.
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub icmp_id: u16,
    pub has_icmp: bool,
    /// The datagram an ICMP error quotes (its IPv4 header and the first
    /// 8 bytes after it; an ICMPv6 error's IPv6 header, its addresses in
    /// `inner6`, and the 8 bytes after it): valid when `has_inner`. For a quoted ICMP query
    /// or reply, `inner_sport` holds its identifier and `inner_dport` the
    /// query's type (high byte) and code (low byte).
    pub has_inner: bool,
    pub inner_proto: u8,
    pub inner_sport: u16,
    pub inner_dport: u16,
    /// The connection tracking state, one [`ct`] bit (see
    /// [`Field::CtState`]), set by `conntrack::track`.
    pub ctstate: u32,
    /// The quoted source and destination addresses, in 16 bytes as
    /// `src6`, `dst6`.
    pub inner6: [[u8; 16]; 2],
    /// Bytes from the IP header to the L4 header: the IPv4 header's
    /// length, or IPv6's 40 and its extension headers.
    pub l4: u16,
    /// IPv6: the first routing header before any later fragment's
    /// (`firewall_common::check::rt::header`, as `ipv6_find_hdr` finds
    /// it for `-m rt`); 0: none.
    pub rt: u32,
}

impl Packet {
    /// The packet's value of `field`, as the match cache key and the
    /// class lookups take it: addresses in network byte order, ports in
    /// host order or [`NO_PORT_VALUE`], protocol, interface indexes.
    #[inline(always)]
    pub fn value(&self, field: Field) -> u32 {
        match field {
            Field::Src => self.src,
            Field::Dst => self.dst,
            Field::Proto => self.proto as u32,
            Field::Sport if self.has_ports => self.sport as u32,
            Field::Dport if self.has_ports => self.dport as u32,
            Field::Sport | Field::Dport => NO_PORT_VALUE,
            Field::InIf => self.in_ifindex,
            Field::OutIf => self.out_ifindex,
            Field::Ttl => self.ttl as u32,
            Field::CtState => self.ctstate,
            Field::Icmp if self.has_icmp => (self.icmp_type as u32) << 8 | self.icmp_code as u32,
            Field::TcpFlags if self.has_tcp_flags => (self.tcp_flags & 0x3f) as u32,
            Field::Icmp | Field::TcpFlags => NO_HEADER_VALUE,
            Field::Length => self.len as u32,
        }
    }
}

/// What the header parser made of a frame.
pub enum Parsed {
    /// The caller's [`Packet`] holds it, IPv4 or IPv6 ([`Packet::v6`])
    /// (written in place: a second copy on the program's frame would
    /// cost the stack the walk needs).
    Ip,
    /// Neither IPv4 nor IPv6 (ARP, say): not filtered.
    NotIp,
    /// An IPv4 or IPv6 header the kernel would drop, or a first fragment too short
    /// for its TCP header, UDP ports or ICMP header (netfilter's tcp, udp
    /// and icmp matches hot-drop those): dropped, already counted in
    /// `DROPS` by reason.
    Malformed,
}

/// The IPv4 address at `ip[at..at + 4]` in 16 bytes.
#[inline(always)]
fn widen(ip: &[u8], at: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&ip[at..at + 4]);
    a
}

/// Counts `m` and says the frame is to be dropped.
#[inline(always)]
fn malformed(m: Malformed) -> Parsed {
    crate::classify::malformed(m);
    Parsed::Malformed
}

/// Reads fixed-size pieces of a packet; `None` past its end.
trait Bytes {
    fn read<const N: usize>(&self, off: usize) -> Option<[u8; N]>;
    /// The frame's length, bytes.
    fn len(&self) -> usize;
}

/// XDP: direct packet access, bounds-checked against `data_end`.
struct XdpBytes {
    start: usize,
    end: usize,
}

impl Bytes for XdpBytes {
    #[inline(always)]
    fn read<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        if self.start + off + N > self.end {
            return None;
        }
        // SAFETY: the range was checked against data_end just above.
        Some(unsafe { core::ptr::read_unaligned((self.start + off) as *const [u8; N]) })
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// TC: `bpf_skb_load_bytes`, which also reads paged skb data (on the raw
/// skb a global function is given).
struct SkbLoad(*mut __sk_buff);

impl Bytes for SkbLoad {
    #[inline(always)]
    fn read<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        // SAFETY: the kernel's __sk_buff; N bytes into `b`.
        let rc = unsafe {
            bpf_skb_load_bytes(
                self.0 as *const c_void,
                off as u32,
                b.as_mut_ptr().cast(),
                N as u32,
            )
        };
        (rc == 0).then_some(b)
    }

    #[inline(always)]
    fn len(&self) -> usize {
        // SAFETY: the kernel's __sk_buff for this call.
        unsafe { (*self.0).len as usize }
    }
}

/// Reads the fields of the Ethernet, IPv4 or IPv6, and L4 headers.
#[inline(always)]
fn parse_with(b: &impl Bytes, pkt: &mut Packet) -> Parsed {
    let Some(eth_proto) = b.read::<2>(12) else {
        return Parsed::NotIp;
    };
    match u16::from_be_bytes(eth_proto) {
        ETH_P_IP => parse_ip::<ETH_HLEN>(b, pkt),
        ETH_P_IPV6 => parse_ip6::<ETH_HLEN>(b, pkt),
        _ => Parsed::NotIp,
    }
}

/// [`Parsed`] as the global parsers return it.
const PARSED_IP: u32 = 0;
const PARSED_NOT_IP: u32 = 1;
const PARSED_MALFORMED: u32 = 2;

#[inline(always)]
fn parsed_code(p: Parsed) -> u32 {
    match p {
        Parsed::Ip => PARSED_IP,
        Parsed::NotIp => PARSED_NOT_IP,
        Parsed::Malformed => PARSED_MALFORMED,
    }
}

#[inline(always)]
fn from_code(c: u32) -> Parsed {
    match c {
        PARSED_IP => Parsed::Ip,
        PARSED_NOT_IP => Parsed::NotIp,
        _ => Parsed::Malformed,
    }
}

/// [`parse_with`] of an XDP frame into `p`, global: verified once, apart
/// from the program, which then goes on from one state whatever the
/// frame's family and header shapes (IPv6's extension header walk would
/// otherwise have the program's whole rest verified once per shape).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_parse_xdp(ctx: *mut xdp_md, p: *mut Packet) -> u32 {
    // SAFETY: the caller's packet; the verifier passes a map value or null.
    let Some(p) = (unsafe { p.as_mut() }) else {
        return PARSED_MALFORMED;
    };
    // SAFETY: the kernel's xdp_md for this call.
    let (start, end) = unsafe { ((*ctx).data as usize, (*ctx).data_end as usize) };
    parsed_code(parse_with(&XdpBytes { start, end }, p))
}

/// [`fw_parse_xdp`] for a TC skb with an Ethernet header.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_parse_tc(skb: *mut __sk_buff, p: *mut Packet) -> u32 {
    // SAFETY: as above.
    let Some(p) = (unsafe { p.as_mut() }) else {
        return PARSED_MALFORMED;
    };
    parsed_code(parse_with(&SkbLoad(skb), p))
}

/// [`fw_parse_xdp`] for a TC skb of a device without a link-layer header
/// (tun, WireGuard: `ARPHRD_NONE`), whose data starts at the IP header
/// and whose protocol is only in `skb->protocol` (network byte order).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_parse_tc_l3(skb: *mut __sk_buff, p: *mut Packet) -> u32 {
    // SAFETY: as above.
    let Some(p) = (unsafe { p.as_mut() }) else {
        return PARSED_MALFORMED;
    };
    // SAFETY: skb is the kernel's __sk_buff for this call.
    let protocol = unsafe { (*skb).protocol };
    let b = SkbLoad(skb);
    parsed_code(if protocol == u32::from(ETH_P_IP.to_be()) {
        parse_ip::<0>(&b, p)
    } else if protocol == u32::from(ETH_P_IPV6.to_be()) {
        parse_ip6::<0>(&b, p)
    } else {
        Parsed::NotIp
    })
}

/// Reads the fields of the IPv4 header at frame offset `L2` (14 after
/// Ethernet, 0 on a device without a link-layer header) and of its L4
/// header.
#[inline(always)]
fn parse_ip<const L2: usize>(b: &impl Bytes, pkt: &mut Packet) -> Parsed {
    let Some(ip) = b.read::<IP_MIN_HLEN>(L2) else {
        return malformed(Malformed::IpHeader);
    };
    let version = ip[0] >> 4;
    let ihl = ((ip[0] & 0x0f) as usize) * 4;
    let total_len = u16::from_be_bytes([ip[2], ip[3]]);
    // ip_rcv_core: a total length past the frame's end is dropped (less
    // is Ethernet padding, trimmed).
    if version != 4
        || ihl < IP_MIN_HLEN
        || (total_len as usize) < ihl
        || total_len as usize > b.len().saturating_sub(L2)
    {
        return malformed(Malformed::IpHeader);
    }
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    *pkt = Packet {
        src: u32::from_ne_bytes([ip[12], ip[13], ip[14], ip[15]]),
        dst: u32::from_ne_bytes([ip[16], ip[17], ip[18], ip[19]]),
        src6: widen(&ip, 12),
        dst6: widen(&ip, 16),
        len: total_len,
        proto: ip[9],
        ttl: ip[8],
        ..Packet::default()
    };
    pkt.later_fragment = frag & IP_OFFSET_MASK != 0;
    pkt.first_fragment = frag & (IP_MF | IP_OFFSET_MASK) == IP_MF;
    pkt.frag_id = u32::from(u16::from_ne_bytes([ip[4], ip[5]]));
    pkt.l4 = ihl as u16;
    let l4 = L2 + ihl;
    if (pkt.proto == IPPROTO_TCP || pkt.proto == IPPROTO_UDP) && !pkt.later_fragment {
        let Some(ports) = b.read::<4>(l4) else {
            return malformed(Malformed::TruncatedL4);
        };
        pkt.sport = u16::from_be_bytes([ports[0], ports[1]]);
        pkt.dport = u16::from_be_bytes([ports[2], ports[3]]);
        pkt.has_ports = true;
        if pkt.proto == IPPROTO_TCP {
            // xt_tcpudp reads the whole fixed header and hot-drops a first
            // fragment too short for it.
            let Some(h) = b.read::<20>(l4) else {
                return malformed(Malformed::TruncatedL4);
            };
            let doff = usize::from(h[12] >> 4) * 4;
            let bad = doff < 20 || doff > total_len as usize - ihl;
            pkt.tcp_flags = h[13] & 0x3f | if bad { TCP_BAD_OFFSET } else { 0 };
            pkt.has_tcp_flags = true;
        }
    }
    if pkt.proto == IPPROTO_ICMP && !pkt.later_fragment && !icmp(b, l4, pkt) {
        // ipt_icmp hot-drops a first fragment too short for its header.
        return malformed(Malformed::TruncatedL4);
    }
    Parsed::Ip
}

/// Reads the fields of the IPv6 header at frame offset `L2`, walks its
/// extension headers to the upper-layer one as `ipv6_find_hdr` does for
/// ip6tables' `-p` (a non-first fragment's protocol is its fragment
/// header's next header), and reads that header as [`parse_ip`] does.
#[inline(always)]
fn parse_ip6<const L2: usize>(b: &impl Bytes, pkt: &mut Packet) -> Parsed {
    let Some(ip) = b.read::<IP6_HLEN>(L2) else {
        return malformed(Malformed::Ipv6Header);
    };
    let payload = u16::from_be_bytes([ip[4], ip[5]]);
    // ipv6_rcv: a payload past the frame's end is dropped (less is
    // padding, trimmed); 0 is a jumbogram's, which fw does not read.
    if ip[0] >> 4 != 6 || payload == 0 || payload as usize > b.len().saturating_sub(L2 + IP6_HLEN) {
        return malformed(Malformed::Ipv6Header);
    }
    let mut src6 = [0u8; 16];
    let mut dst6 = [0u8; 16];
    src6.copy_from_slice(&ip[8..24]);
    dst6.copy_from_slice(&ip[24..40]);
    *pkt = Packet {
        v6: true,
        src6,
        dst6,
        // xt_length's length_mt6 adds the header in 16 bits, as here.
        len: payload.wrapping_add(IP6_HLEN as u16),
        ttl: ip[7],
        ..Packet::default()
    };
    let end = L2 + IP6_HLEN + payload as usize;
    let mut next = ip[6];
    let mut at = L2 + IP6_HLEN;
    let mut n = 0;
    loop {
        if !matches!(
            next,
            NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_FRAGMENT | NEXTHDR_AUTH | NEXTHDR_DEST
        ) {
            break;
        }
        if n >= MAX_EXT_HEADERS {
            return malformed(Malformed::Ipv6ExtHeaders);
        }
        n += 1;
        let Some(h) = b.read::<4>(at) else {
            return malformed(Malformed::Ipv6Header);
        };
        let len = match next {
            NEXTHDR_FRAGMENT => {
                let Some(id) = b.read::<4>(at + 4) else {
                    return malformed(Malformed::Ipv6Header);
                };
                pkt.frag_id = u32::from_ne_bytes(id);
                let off = u16::from_be_bytes([h[2], h[3]]);
                pkt.first_fragment = off & !7 == 0 && off & 1 != 0;
                if off & !7 != 0 {
                    pkt.later_fragment = true;
                    // ipv6_find_hdr: the protocol is the next header's
                    // when that is no extension header, else there is none.
                    pkt.proto = match h[0] {
                        NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_FRAGMENT | NEXTHDR_AUTH
                        | NEXTHDR_DEST => PROTO_NONE6,
                        p => p,
                    };
                    return Parsed::Ip;
                }
                8
            }
            // RFC 4302 2.2: in 4-byte words, minus 2.
            NEXTHDR_AUTH => (h[1] as usize + 2) * 4,
            NEXTHDR_ROUTING => {
                if pkt.rt == 0 {
                    pkt.rt = firewall_common::check::rt::header(h[1], h[2], h[3]);
                }
                (h[1] as usize + 1) * 8
            }
            // RFC 8200 4.3: in 8-byte units, not counting the first.
            _ => (h[1] as usize + 1) * 8,
        };
        next = h[0];
        at += len;
        if at > end {
            return malformed(Malformed::Ipv6Header);
        }
    }
    pkt.proto = next;
    pkt.l4 = (at - L2) as u16;
    if next == NEXTHDR_NONE {
        return Parsed::Ip;
    }
    if next == IPPROTO_TCP || next == IPPROTO_UDP {
        let Some(ports) = b.read::<4>(at) else {
            return malformed(Malformed::TruncatedL4);
        };
        pkt.sport = u16::from_be_bytes([ports[0], ports[1]]);
        pkt.dport = u16::from_be_bytes([ports[2], ports[3]]);
        pkt.has_ports = true;
        if next == IPPROTO_TCP {
            let Some(h) = b.read::<20>(at) else {
                return malformed(Malformed::TruncatedL4);
            };
            let doff = usize::from(h[12] >> 4) * 4;
            let bad = doff < 20 || at + doff > end;
            pkt.tcp_flags = h[13] & 0x3f | if bad { TCP_BAD_OFFSET } else { 0 };
            pkt.has_tcp_flags = true;
        }
    }
    if next == IPPROTO_ICMPV6 {
        // icmp6_match hot-drops a packet too short for its header.
        let Some(h) = b.read::<4>(at) else {
            return malformed(Malformed::TruncatedL4);
        };
        pkt.icmp_type = h[0];
        pkt.icmp_code = h[1];
        pkt.has_icmp = true;
        if let Some(id) = b.read::<2>(at + 4) {
            pkt.icmp_id = u16::from_be_bytes(id);
        }
        if ct::icmp6_is_error(h[0]) {
            quoted6(b, at + 8, pkt);
        }
    }
    Parsed::Ip
}

/// The tuple of the IPv6 packet an ICMPv6 error quotes at `at` (RFC 4443
/// 2.1: as much of it as fits), for conntrack's RELATED: its addresses,
/// protocol, and ports or query identifier and type. Only a quoted
/// packet whose upper-layer header follows its fixed header is read (one
/// with extension headers has no `inner`: its error is INVALID).
#[inline(always)]
fn quoted6(b: &impl Bytes, at: usize, pkt: &mut Packet) {
    let Some(ip) = b.read::<IP6_HLEN>(at) else {
        return;
    };
    let Some(l) = b.read::<8>(at + IP6_HLEN) else {
        return;
    };
    if ip[0] >> 4 != 6 {
        return;
    }
    pkt.inner6[0].copy_from_slice(&ip[8..24]);
    pkt.inner6[1].copy_from_slice(&ip[24..40]);
    pkt.inner_proto = ip[6];
    match ip[6] {
        IPPROTO_TCP | IPPROTO_UDP => {
            pkt.inner_sport = u16::from_be_bytes([l[0], l[1]]);
            pkt.inner_dport = u16::from_be_bytes([l[2], l[3]]);
        }
        IPPROTO_ICMPV6 => {
            if ct::icmp6_reply_of(l[0]).is_none() && ct::icmp6_query_of(l[0]).is_none() {
                return;
            }
            let kind = match ct::icmp6_query_of(l[0]) {
                Some(query) => query,
                None => l[0],
            };
            pkt.inner_sport = u16::from_be_bytes([l[4], l[5]]);
            pkt.inner_dport = (kind as u16) << 8 | l[1] as u16;
            if ct::icmp6_query_of(l[0]).is_some() {
                // A quoted reply: querier first, as `CtKey::icmp6` keys it.
                pkt.inner6.swap(0, 1);
            }
        }
        _ => return,
    }
    pkt.has_inner = true;
}

/// Reads the ICMP header at `l4` and, for an error, the tuple of the
/// datagram it quotes (RFC 792: its IPv4 header and 8 bytes of data);
/// false when the packet is too short for the ICMP header.
#[inline(always)]
fn icmp(b: &impl Bytes, l4: usize, pkt: &mut Packet) -> bool {
    let Some(h) = b.read::<8>(l4) else {
        return false;
    };
    pkt.icmp_type = h[0];
    pkt.icmp_code = h[1];
    pkt.icmp_id = u16::from_be_bytes([h[4], h[5]]);
    pkt.has_icmp = true;
    if !ct::icmp_is_error(h[0]) {
        return true;
    }
    let at = l4 + 8;
    let Some(ip) = b.read::<IP_MIN_HLEN>(at) else {
        return true;
    };
    let ihl = ((ip[0] & 0x0f) as usize) * 4;
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if ip[0] >> 4 != 4 || ihl < IP_MIN_HLEN || frag & IP_OFFSET_MASK != 0 {
        return true;
    }
    let Some(l) = b.read::<8>(at + ihl) else {
        return true;
    };
    pkt.inner_proto = ip[9];
    pkt.inner6 = [widen(&ip, 12), widen(&ip, 16)];
    match ip[9] {
        IPPROTO_TCP | IPPROTO_UDP => {
            pkt.inner_sport = u16::from_be_bytes([l[0], l[1]]);
            pkt.inner_dport = u16::from_be_bytes([l[2], l[3]]);
        }
        IPPROTO_ICMP => {
            // Only a quoted query or reply belongs to a connection.
            if ct::icmp_reply_of(l[0]).is_none() && !ct::icmp_is_reply(l[0]) {
                return true;
            }
            let id = u16::from_be_bytes([l[4], l[5]]);
            // The query's type and code, as `CtKey::icmp` keys them.
            let kind = match ct::icmp_query_of(l[0]) {
                Some(query) => query,
                None => l[0],
            };
            pkt.inner_sport = id;
            pkt.inner_dport = (kind as u16) << 8 | l[1] as u16;
            if ct::icmp_is_reply(l[0]) {
                // Querier first, as `CtKey::icmp` keys it.
                pkt.inner6.swap(0, 1);
            }
        }
        _ => {}
    }
    pkt.has_inner = true;
    true
}

/// Removes the 802.1Q/802.1ad tags of VLAN 0 (priority tags) in front of
/// an IPv4 or IPv6 header, as `__netif_receive_skb_core` does before `ip_rcv`
/// when no VLAN device claims VID 0, so that fw's classifier and
/// netfilter see the same untagged packet. Frames with another VID, or
/// with something other than IP under the tags, are left alone: the
/// kernel hands them to a VLAN device or drops them as
/// `PACKET_OTHERHOST`. False (the caller drops) for more than
/// [`MAX_PRIORITY_TAGS`] tags, counted as [`Malformed::VlanTags`], or
/// when the head cannot be moved.
#[inline(always)]
pub fn xdp_untag_priority(ctx: &XdpContext) -> bool {
    let b = XdpBytes {
        start: ctx.data(),
        end: ctx.data_end(),
    };
    let mut tags = 0;
    while tags <= MAX_PRIORITY_TAGS {
        let Some(h) = b.read::<4>(12 + tags * VLAN_HLEN) else {
            return true;
        };
        let tpid = u16::from_be_bytes([h[0], h[1]]);
        if (tpid == ETH_P_IP || tpid == ETH_P_IPV6) && tags > 0 {
            break;
        }
        if tpid != ETH_P_8021Q && tpid != ETH_P_8021AD {
            return true;
        }
        if u16::from_be_bytes([h[2], h[3]]) & VLAN_VID_MASK != 0 {
            return true;
        }
        tags += 1;
    }
    if tags > MAX_PRIORITY_TAGS {
        crate::classify::malformed(Malformed::VlanTags);
        return false;
    }
    let Some(macs) = b.read::<12>(0) else {
        return true;
    };
    // SAFETY: ctx.ctx is the kernel's xdp_md; the frame holds the tags.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, (tags * VLAN_HLEN) as i32) } != 0 {
        return false;
    }
    let (start, end) = (ctx.data(), ctx.data_end());
    if start + 12 > end {
        return false;
    }
    // SAFETY: 12 bytes from data were checked against data_end just above.
    unsafe { core::ptr::write_unaligned(start as *mut [u8; 12], macs) };
    true
}

/// Parses an XDP frame.
#[inline(always)]
pub fn xdp(ctx: &XdpContext, pkt: &mut Packet) -> Parsed {
    from_code(fw_parse_xdp(ctx.ctx, pkt))
}

/// Parses a TC skb.
#[inline(always)]
pub fn tc(ctx: &TcContext, pkt: &mut Packet) -> Parsed {
    from_code(fw_parse_tc(ctx.as_ptr().cast(), pkt))
}

/// Parses a TC skb of a device without a link-layer header.
#[inline(always)]
pub fn tc_l3(ctx: &TcContext, pkt: &mut Packet) -> Parsed {
    from_code(fw_parse_tc_l3(ctx.as_ptr().cast(), pkt))
}
