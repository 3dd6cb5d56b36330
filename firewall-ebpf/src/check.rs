//! Rule checks ([`firewall_common::check`]): matches evaluated after the
//! classifier picked a rule as the first candidate, in the rule's match
//! order, stopping at the first that fails (netfilter's order).

use core::arch::asm;

use aya_ebpf::{
    bindings::{__sk_buff, xdp_md},
    cty::{c_long, c_void},
    helpers::{
        bpf_ktime_get_ns, bpf_ktime_get_tai_ns, bpf_loop, bpf_probe_read_kernel,
        bpf_skb_load_bytes, bpf_xdp_load_bytes,
        generated::{bpf_for_each_map_elem, bpf_map_delete_elem},
    },
    macros::map,
    maps::{Array, HashMap, LpmTrie, LruHashMap, LruPerCpuHashMap, PerCpuArray, lpm_trie},
};
use firewall_common::{
    Anomaly, BANKS,
    check::{
        self, Check, KIND_ADDRTYPE, KIND_CONNTRACK, KIND_DATA, KIND_HASHLIMIT, KIND_LIMIT,
        KIND_MAC, KIND_MARK, KIND_OWNER, KIND_POLICY, KIND_PORTS, KIND_RECENT, KIND_RT, KIND_SET,
        KIND_TCP_OPTION, KIND_TCPMSS, KIND_TIME, MAX_CHECKS, MAX_PER_RULE, RANGES_PER_DATA,
        conntrack::{
            self, F_ADDR, F_ADDR_NOT, F_DIR, F_DIR_REPLY, F_PORT, F_PORT_NOT, F_PROTO, F_PROTO_NOT,
            F_STATE,
        },
        hashlimit,
        owner::{self, Offsets, Sock},
        recent::{self, Entry, Key, STAMPS},
        set,
    },
    ct::tcp::{OptionWalk, Segment, option_step},
};

use crate::{classify::anomaly, parse::Packet, span};

#[map]
static CHECKS: Array<Check> = Array::with_max_entries(BANKS * MAX_CHECKS, 0);
/// Every `-m recent` list, outside the banks: lists outlive rulesets.
#[map]
static RECENT: LruHashMap<Key, Entry> = LruHashMap::with_max_entries(recent::MAX_ENTRIES, 0);
/// The mark of each datagram TC egress saw leave on `lo`, for XDP to
/// find when it comes back in (generic XDP has no `skb->mark`), per CPU
/// (`lo` delivers on the sending CPU).
#[map]
static LO_MARKS: LruPerCpuHashMap<LoKey, u32> = LruPerCpuHashMap::with_max_entries(4096, 0);

/// What tells one datagram on `lo` from another: its addresses (IPv4's
/// left-aligned), ports (0 without), protocol, length, and the IPv4
/// header's identification and fragment words (bytes 4..8, as they are)
/// or the IPv6 header's first word (traffic class and flow label).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LoKey {
    src: [u8; 16],
    dst: [u8; 16],
    sport: u16,
    dport: u16,
    len: u16,
    proto: u16,
    id_frag: u32,
}

impl LoKey {
    #[inline(always)]
    fn of(p: &Packet, id_frag: u32) -> LoKey {
        LoKey {
            src: p.src6,
            dst: p.dst6,
            sport: if p.has_ports { p.sport } else { 0 },
            dport: if p.has_ports { p.dport } else { 0 },
            len: p.len,
            proto: u16::from(p.proto),
            id_frag,
        }
    }
}

/// Where [`LoKey`]'s last word is in a frame on `lo`.
#[inline(always)]
fn lo_word(pkt: &Packet) -> u32 {
    ETH_HLEN as u32 + if pkt.v6 { 0 } else { 4 }
}

/// The mark a datagram arriving on `lo` left with ([`LO_MARKS`]); 0 if
/// TC egress did not see it. Out of line: its key stays off the hook's
/// frame.
#[inline(never)]
fn lo_mark(ctx: *mut xdp_md, pkt: &Packet) -> u32 {
    let mut b = [0u8; 4];
    // SAFETY: ctx is the kernel's xdp_md; four bytes into `b`.
    if unsafe { bpf_xdp_load_bytes(ctx, lo_word(pkt), b.as_mut_ptr().cast(), 4) } != 0 {
        return 0;
    }
    let id_frag = u32::from_ne_bytes(b);
    // SAFETY: a map value, read at once.
    unsafe { LO_MARKS.get(&LoKey::of(pkt, id_frag)) }
        .copied()
        .unwrap_or(0)
}

/// Notes the mark of a datagram leaving on `lo` for [`lo_mark`].
#[inline(never)]
fn note_lo_mark(skb: *mut __sk_buff, pkt: &Packet, mark: u32) {
    let mut b = [0u8; 4];
    // SAFETY: skb is the kernel's __sk_buff; four bytes into `b`.
    if unsafe { bpf_skb_load_bytes(skb as *const c_void, lo_word(pkt), b.as_mut_ptr().cast(), 4) }
        != 0
    {
        return;
    }
    let _ = LO_MARKS.insert(&LoKey::of(pkt, u32::from_ne_bytes(b)), &mark, 0);
}

/// Every `-m hashlimit` table's buckets, outside the banks. Not an LRU:
/// evicting a live bucket would give its key a full one, where
/// xt_hashlimit drops the packet of a new key once the table is full.
/// Allocated as used (`BPF_F_NO_PREALLOC`).
#[map]
static HASHLIMIT: HashMap<hashlimit::Key, hashlimit::Entry> =
    HashMap::with_max_entries(hashlimit::MAX_ENTRIES, BPF_F_NO_PREALLOC);
/// Both families' local routing tables: prefixes and their `RTN_*`
/// types, as fw last copied them ([`check::addrtype`]).
#[map]
static ADDRTYPE: LpmTrie<check::addrtype::Key, u32> =
    LpmTrie::with_max_entries(check::addrtype::MAX_ENTRIES, BPF_F_NO_PREALLOC);

/// The route type of `addr` (network order) for `-m addrtype`.
#[inline(always)]
fn addr_type(addr: u32) -> u32 {
    let key = check::addrtype::Key {
        family: check::addrtype::FAMILY4,
        addr: firewall_common::ct::wide(addr.to_ne_bytes()),
    };
    let local = ADDRTYPE
        .get(&lpm_trie::Key::new(check::addrtype::prefix(32), key))
        .copied();
    check::addrtype::type_of(addr, local)
}

/// [`check::addrtype::bits6`] of IPv6 address `a`.
#[inline(always)]
fn bits6(a: &[u8; 16]) -> u32 {
    let key = check::addrtype::Key {
        family: check::addrtype::FAMILY6,
        addr: *a,
    };
    let local = match ADDRTYPE.get(&lpm_trie::Key::new(check::addrtype::prefix(128), key)) {
        Some(t) => *t == check::addrtype::RTN_LOCAL,
        None => false,
    };
    check::addrtype::bits6(a, local)
}

/// `-m addrtype` in IPv6 ([`bits6`] of the noted addresses); a
/// subprogram of its own, so its keys' frame is not added to
/// `fw_check`'s.
#[inline(never)]
fn addrtype6(arg: u32, src_mask: u32, dst_mask: u32) -> u32 {
    let Some(s) = seen() else { return BAD };
    let src_bits = bits6(&s.src6);
    let dst_bits = bits6(&s.dst6);
    verdict(check::addrtype::matches(
        arg, src_mask, dst_mask, src_bits, dst_bits,
    ))
}

/// `-m addrtype` in IPv4, from `src` to `dst` (network order); a
/// subprogram of its own, as [`addrtype6`].
#[inline(never)]
fn addrtype4(arg: u32, src_mask: u32, dst_mask: u32, src: u32, dst: u32) -> u32 {
    verdict(check::addrtype::matches(
        arg,
        src_mask,
        dst_mask,
        addr_type(src),
        addr_type(dst),
    ))
}

/// `fw set`'s sets: each one's type ([`set::Meta`]).
#[map]
static SET_META: HashMap<u32, set::Meta> = HashMap::with_max_entries(set::MAX_SETS, 0);
/// `hash:ip` and `hash:net` members (the value: the prefix length).
#[map]
static SET_NETS: LpmTrie<set::NetKey, u8> =
    LpmTrie::with_max_entries(set::MAX_ENTRIES, BPF_F_NO_PREALLOC);
/// `hash:ip,port` members.
#[map]
static SET_PORTS: HashMap<set::PortKey, u8> =
    HashMap::with_max_entries(set::MAX_ENTRIES, BPF_F_NO_PREALLOC);

/// Each `-m hashlimit` table's bucket count.
#[map]
static HASHLIMIT_TABLES: HashMap<u32, hashlimit::Table> =
    HashMap::with_max_entries(hashlimit::MAX_TABLES, 0);
/// `BPF_F_NO_PREALLOC` (uapi bpf.h).
const BPF_F_NO_PREALLOC: u32 = 1;
/// A new entry is built here, not on the stack (it is 272 bytes).
#[map]
static RECENT_NEW: PerCpuArray<Entry> = PerCpuArray::with_max_entries(1, 0);
/// `-m hashlimit`'s key is built here, not on `fw_check`'s stack.
#[map]
static HASHLIMIT_KEY: PerCpuArray<hashlimit::Key> = PerCpuArray::with_max_entries(1, 0);

/// What the checks see of the packet being classified, beyond the
/// classifier's fields: written by the hook ([`note_xdp`], [`note_tc`]) before
/// `classify::run`, read by [`fw_check`], which has no packet. One slot
/// per CPU serves both hooks: neither runs nested in the other on one
/// CPU (TC egress runs with bottom halves disabled, XDP in the softirq,
/// and neither transmits before it returns).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Seen {
    /// The Ethernet source address; valid when `has_mac`.
    pub mac: [u8; 6],
    /// An ARPHRD_ETHER input device (xt_mac's condition): not `lo`, not
    /// TC egress.
    pub has_mac: bool,
    /// A TCP or UDP first fragment: `sport` and `dport` (host order) valid.
    pub has_ports: bool,
    pub sport: u16,
    pub dport: u16,
    /// The TCP option area: [`OPTS_NONE`], [`OPTS_WALKED`] (`kinds`
    /// valid) or [`OPTS_BAD`].
    pub opts: u8,
    /// The option area's length, bytes (0..=40); a u32, so reading it
    /// back needs no mask (whose copy the verifier would check instead).
    pub optlen: u32,
    /// Bit `k` set: the option walk met kind `k`.
    pub kinds: [u64; 4],
    /// The option area as read, before the walk.
    pub area: [u8; MAX_OPTLEN],
    /// What conntrack's TCP tracker reads of the segment (valid with
    /// `opts` [`OPTS_WALKED`]).
    pub seg: Segment,
    /// [`fw_tcp_options`]' walk, kept in map memory: the verifier then
    /// sees its offsets as unknown, and checks the loop body once
    /// instead of once per offset.
    pub walk: OptionWalk,
    /// The packet's connection, as conntrack's `track` left it.
    pub ct: CtSeen,
    /// The packet's mark: 0 at XDP, `skb->mark` at TC egress.
    pub mark: u32,
    /// The packet's IP protocol.
    pub proto: u8,
    /// `skb->sk` at TC egress (0: none, and always at XDP), as a number:
    /// `-m owner` follows it with `bpf_probe_read_kernel`.
    pub sk: u64,
    /// The packet's routing header, as the parser noted it
    /// ([`Packet::rt`]).
    pub rt: u32,
    /// An IPv6 packet; from `src6` to `dst6` (network order, IPv4's in
    /// the first 4 bytes): the addresses `-m set`, `-m hashlimit`, `-m
    /// recent` and IPv6's `-m addrtype` look up.
    pub v6: bool,
    pub src6: [u8; 16],
    pub dst6: [u8; 16],
}

/// A packet's connection as the checks see it (`-m conntrack`'s tuple
/// options): its original tuple and the packet's direction.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CtSeen {
    /// [`CT_NONE`] (INVALID: no connection), [`CT_ORIGINAL`] or [`CT_REPLY`].
    pub dir: u32,
    /// The connection's IP protocol (an ICMP error's: the quoted one's).
    pub proto: u32,
    /// The original direction's source and destination, 16 bytes
    /// (IPv4's left-aligned, as `CtKey` holds them).
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Its ports, host order (TCP and UDP; other protocols' are not
    /// compared: the compiler refuses port options for them).
    pub sport: u16,
    pub dport: u16,
}

impl CtSeen {
    /// No connection.
    pub const NONE: CtSeen = CtSeen {
        dir: CT_NONE,
        proto: 0,
        src: [0; 16],
        dst: [0; 16],
        sport: 0,
        dport: 0,
    };
}

/// [`CtSeen::dir`]: the packet has no connection.
pub const CT_NONE: u32 = 0;
/// [`CtSeen::dir`]: the packet goes the connection's original way.
pub const CT_ORIGINAL: u32 = 1;
/// [`CtSeen::dir`]: the packet goes the reply way.
pub const CT_REPLY: u32 = 2;

/// Notes the packet's connection for the checks (after `note_xdp` or
/// `note_tc`, before the walk).
#[inline(always)]
pub fn note_ct(ct: CtSeen) {
    if let Some(s) = CHECK_PACKET.get_ptr_mut(0) {
        // SAFETY: this CPU's slot, as in `note_xdp`.
        unsafe { (*s).ct = ct };
    }
}

/// Reads the TCP options conntrack's tracker needs into the noted
/// segment (`Segment::read_options`: window scale, SACK-permitted, the
/// SACK blocks' highest edge). Global, so that the verifier walks its
/// loops once.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_tcp_options() -> u32 {
    let Some(s) = CHECK_PACKET.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot, as in `note_xdp`.
    let s = unsafe { &mut *s };
    let len = if s.opts == OPTS_WALKED {
        optlen(s) as usize
    } else {
        0
    };
    s.walk = s.seg.option_walk(len);
    // SAFETY: `option_step_cb` has bpf_loop's callback type and takes no
    // context.
    unsafe {
        bpf_loop(
            MAX_OPTLEN as u32,
            option_step_cb as *mut c_void,
            core::ptr::null_mut(),
            0,
        );
    }
    let walk = s.walk;
    s.seg.take_options(&walk);
    1
}

/// One step of [`fw_tcp_options`]' walk (`ct::tcp::option_step`, on
/// `Seen::walk`); 1 to stop.
#[inline(never)]
extern "C" fn option_step_cb(_n: u32, _ctx: *mut c_void) -> c_long {
    let Some(s) = CHECK_PACKET.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: this CPU's slot, as in `note_xdp`.
    let s = unsafe { &mut *s };
    c_long::from(option_step(&s.area, &mut s.walk))
}

/// No TCP header (not TCP, a later fragment): `--tcp-option` never
/// matches.
pub const OPTS_NONE: u8 = 0;
/// The option area was walked.
pub const OPTS_WALKED: u8 = 1;
/// A data offset below 5 or an option area past the datagram's end:
/// xt_tcpudp hot-drops the packet at a `--tcp-option` match.
pub const OPTS_BAD: u8 = 2;
/// The largest option area: a data offset of 15 words less the fixed
/// 20 bytes.
const MAX_OPTLEN: usize = firewall_common::ct::tcp::MAX_OPTLEN;
const ETH_HLEN: usize = 14;

#[map]
static CHECK_PACKET: PerCpuArray<Seen> = PerCpuArray::with_max_entries(1, 0);

/// `ifindex` of every namespace's loopback device (`LOOPBACK_IFINDEX`,
/// include/net/net_namespace.h): its type is ARPHRD_LOOPBACK, the only
/// attached type besides ARPHRD_ETHER (`Interface::is_ethernet`).
pub const LOOPBACK_IFINDEX: u32 = 1;

/// Notes what the checks of an XDP packet's walk look at ([`Seen`]): the
/// frame's Ethernet source (bytes 6..12), the packet's ports. Out of
/// line, so nothing of it sits in the hook's stack frame.
#[inline(never)]
pub fn note_xdp(ctx: *mut xdp_md, pkt: &Packet) {
    let Some(s) = CHECK_PACKET.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: ctx is the kernel's xdp_md for this call.
    let (data, end) = unsafe { ((*ctx).data as usize, (*ctx).data_end as usize) };
    // SAFETY: this CPU's slot; nothing else runs on it until the walk
    // ends. The six bytes are checked against data_end first.
    unsafe {
        (*s).has_mac = false;
        if data + 12 <= end {
            (*s).mac = core::ptr::read_unaligned((data + 6) as *const [u8; 6]);
            (*s).has_mac = pkt.in_ifindex != LOOPBACK_IFINDEX;
        }
        // Before the stack nothing has marked an arriving packet; one
        // looped on `lo` keeps the mark it left with.
        (*s).sk = 0;
        (*s).proto = pkt.proto;
        (*s).rt = pkt.rt;
        note_addrs(&mut *s, pkt);
        (*s).mark = if pkt.in_ifindex == LOOPBACK_IFINDEX {
            lo_mark(ctx, pkt)
        } else {
            0
        };
        (*s).has_ports = pkt.has_ports;
        (*s).sport = pkt.sport;
        (*s).dport = pkt.dport;
        (*s).opts = OPTS_NONE;
    }
    if pkt.has_tcp_flags {
        // The parser's offset, whatever the family: one path for the
        // verifier through what follows.
        let l4 = u32::from(pkt.l4);
        if l4 > MAX_L4_XDP {
            // SAFETY: this CPU's slot, as above.
            unsafe { (*s).opts = OPTS_BAD };
            return;
        }
        let at = ETH_HLEN as u32 + l4;
        // SAFETY: `s` as above; the helper checks the frame.
        unsafe {
            let off = option_area(
                &mut *s,
                at,
                ETH_HLEN as u32,
                pkt.len,
                doff_xdp(data, end, at),
            );
            let len = optlen(&*s);
            if let Some(n) = span::nonzero(len, MAX_OPTLEN as u32)
                && bpf_xdp_load_bytes(ctx, off, (&raw mut (*s).area).cast(), n) != 0
            {
                (*s).opts = OPTS_BAD;
            }
            walk_options(&mut *s, len);
            let mut h = [0u8; 12];
            if bpf_xdp_load_bytes(ctx, at + 4, h.as_mut_ptr().cast(), 12) != 0 {
                (*s).opts = OPTS_BAD;
            }
            note_segment(&mut *s, &h, at - ETH_HLEN as u32, pkt);
        }
    }
}

/// Notes the packet's family and addresses.
#[inline(always)]
fn note_addrs(s: &mut Seen, pkt: &Packet) {
    s.v6 = pkt.v6;
    s.src6 = pkt.src6;
    s.dst6 = pkt.dst6;
}

/// Notes the segment for conntrack's TCP tracker: `h` is bytes 4..16 of
/// the TCP header (sequence, acknowledgement, data offset, flags,
/// window), `ihl` the IP header's length.
#[inline(always)]
fn note_segment(s: &mut Seen, h: &[u8; 12], ihl: u32, pkt: &Packet) {
    let doff = u32::from(h[8] >> 4) * 4;
    s.seg = Segment {
        seq: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        ack: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        // Bad offsets were refused in `option_area` (OPTS_BAD).
        payload: u32::from(pkt.len).saturating_sub(ihl + doff),
        win: u16::from_be_bytes([h[10], h[11]]),
        flags: h[9] & 0x3f,
        ..Segment::default()
    };
}

/// The farthest TCP header from its IP header that [`note_xdp`] reads
/// (IPv6 with extension headers; IPv4's is at most 60 bytes on): past
/// it, the options count as bad (conntrack then finds the packet
/// INVALID).
const MAX_L4_XDP: u32 = 1024;

/// Byte 12 of the TCP header at `at` (its data offset in the high
/// nibble) at XDP; 0 (below 5: bad) past the frame.
#[inline(always)]
fn doff_xdp(data: usize, end: usize, at: u32) -> u8 {
    let p = data + (at as usize & 0x7ff) + 12;
    if p + 1 > end {
        return 0;
    }
    // SAFETY: checked against data_end just above.
    unsafe { *(p as *const u8) >> 4 }
}

/// Where the TCP option area of a header at frame offset `at` (the IP
/// header at `l3`) with data offset `doff` (words) lies: its offset, and
/// its length (0..=40) in
/// `s.optlen`. Sets [`OPTS_WALKED`] or, for a data offset below 5 or an
/// area past the datagram's `total_len`, [`OPTS_BAD`] (as xt_tcpudp's
/// `skb_header_pointer` fails past the skb, which ip_rcv trimmed to the
/// total length).
#[inline(always)]
fn option_area(s: &mut Seen, at: u32, l3: u32, total_len: u16, doff: u8) -> u32 {
    let ihl_end = at - l3;
    s.optlen = 0;
    if doff < 5 || ihl_end + u32::from(doff) * 4 > u32::from(total_len) {
        s.opts = OPTS_BAD;
        return 0;
    }
    s.opts = OPTS_WALKED;
    s.optlen = u32::from(doff - 5) * 4;
    at + 20
}

/// `s.optlen` read back from map memory, so the bound the helpers need
/// is checked where the verifier sees it (LLVM folds a check on the
/// computed value away).
#[inline(always)]
fn optlen(s: &Seen) -> u32 {
    // SAFETY: a field of a live map value.
    let len = unsafe { core::ptr::read_volatile(&raw const s.optlen) };
    if len > MAX_OPTLEN as u32 { 0 } else { len }
}

/// xt_tcpudp's `tcp_find_option` walk over the first `len` bytes of
/// `s.area`, noting every kind it meets in `s.kinds`.
#[inline(always)]
fn walk_options(s: &mut Seen, len: u32) {
    s.kinds = [0; 4];
    let len = len as usize;
    // 64-bit indexes, masked: the verifier keeps their bounds (a 32-bit
    // copy's check does not bound the original).
    let mut i = 0usize;
    // By constant bound: each step moves on by at least one byte.
    for _ in 0..MAX_OPTLEN {
        i &= 0xff;
        if i >= len {
            break;
        }
        let Some(&k) = s.area.get(i & 63) else { break };
        s.kinds[usize::from(k >> 6) & 3] |= 1u64 << (k & 63);
        i += if k < 2 {
            1
        } else {
            // Past the area the next byte only ends the walk.
            match s.area.get((i + 1) & 63) {
                Some(&l) if i + 1 < len && l != 0 => usize::from(l),
                _ => 1,
            }
        };
    }
}

/// [`note_xdp`] at TC egress: no Ethernet source for xt_mac (refused
/// from OUTPUT anyway). `L2` is the link-layer header's length: 14, or
/// 0 on a device without one.
#[inline(never)]
pub fn note_tc<const L2: usize>(skb: *mut __sk_buff, pkt: &Packet) {
    note_skb::<L2>(skb, pkt, true);
}

/// [`note_xdp`] at TC ingress of a device without a link-layer header
/// (which has no MAC address for xt_mac either): the packet's mark as
/// the stack has it so far, no socket.
#[inline(never)]
pub fn note_tc_in_l3(skb: *mut __sk_buff, pkt: &Packet) {
    note_skb::<0>(skb, pkt, false);
}

/// What [`note_tc`] and [`note_tc_in_l3`] note; `egress`: the packet
/// leaves, its socket (if any) is in `skb->sk`.
#[inline(always)]
fn note_skb<const L2: usize>(skb: *mut __sk_buff, pkt: &Packet, egress: bool) {
    let Some(s) = CHECK_PACKET.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: as in `note_xdp`; skb is the kernel's __sk_buff.
    unsafe {
        (*s).mark = (*skb).mark;
        // Stored in the map as a number: the verifier forbids arithmetic
        // on a socket pointer, and `-m owner` needs offsets from it.
        (*s).sk = if egress {
            (*skb).__bindgen_anon_2.sk as u64
        } else {
            0
        };
        (*s).proto = pkt.proto;
        (*s).rt = pkt.rt;
        note_addrs(&mut *s, pkt);
        if egress && L2 == ETH_HLEN && pkt.out_ifindex == LOOPBACK_IFINDEX {
            note_lo_mark(skb, pkt, (*skb).mark);
        }
        (*s).has_mac = false;
        (*s).has_ports = pkt.has_ports;
        (*s).sport = pkt.sport;
        (*s).dport = pkt.dport;
        (*s).opts = OPTS_NONE;
    }
    if !pkt.has_tcp_flags {
        return;
    }
    let mut b = [0u8; 1];
    let at = L2 as u32 + u32::from(pkt.l4);
    // SAFETY: as above.
    let doff =
        if unsafe { bpf_skb_load_bytes(skb as *const c_void, at + 12, b.as_mut_ptr().cast(), 1) }
            == 0
        {
            b[0] >> 4
        } else {
            0
        };
    // SAFETY: `s` as above; the helper checks the skb.
    unsafe {
        let off = option_area(&mut *s, at, L2 as u32, pkt.len, doff);
        let len = optlen(&*s);
        if let Some(n) = span::nonzero(len, MAX_OPTLEN as u32)
            && bpf_skb_load_bytes(skb as *const c_void, off, (&raw mut (*s).area).cast(), n) != 0
        {
            (*s).opts = OPTS_BAD;
        }
        walk_options(&mut *s, len);
        let mut h = [0u8; 12];
        if bpf_skb_load_bytes(skb as *const c_void, at + 4, h.as_mut_ptr().cast(), 12) != 0 {
            (*s).opts = OPTS_BAD;
        }
        note_segment(&mut *s, &h, at - L2 as u32, pkt);
    }
}

/// No MSS option met (`MssWalk::mss`).
const NO_MSS: u32 = u32::MAX;

/// Every check passed.
pub const PASS: u32 = 0;
/// A check failed: the walk goes on at the next rule.
pub const FAIL: u32 = 1;
/// A check did not decode ([`Anomaly::BadCheck`], counted): drop.
pub const BAD: u32 = 2;
/// The match drops the packet (netfilter's hot drop): the walk's drop,
/// no anomaly.
pub const HOTDROP: u32 = 3;

/// Compare-and-swap attempts before a contended bucket counts as empty
/// (a loser retries only when another CPU took a token meanwhile; a
/// third CPU winning twice in between is the only way to miss a token).
const CAS_TRIES: u32 = 2;

/// Runs the checks `RuleInfo::checks` names (`packed`) in bank `bank`,
/// in order, up to the first that fails: [`PASS`], [`FAIL`] or [`BAD`].
///
/// Global, as [`fw_check`]: the walk's `bpf_loop` callback sees one call
/// with an unknown result, whatever the loop here does.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_rule_checks(bank: u32, packed: u32, src: u32, dst: u32, ttl: u32) -> u32 {
    let (first, count) = check::unpack(packed);
    if count > MAX_PER_RULE || first + count > MAX_CHECKS {
        anomaly(Anomaly::BadCheck);
        return BAD;
    }
    let mut run = Run {
        slot: check::slot(bank, first),
        outcome: PASS,
        src,
        dst,
        ttl,
    };
    // bpf_loop (Linux 5.17): the verifier checks the body once; a loop
    // LLVM rewrote as a countdown it could not bound.
    // SAFETY: `next` has bpf_loop's callback type; `run` outlives the call.
    unsafe {
        bpf_loop(count, next as *mut c_void, (&raw mut run).cast(), 0);
    }
    run.outcome
}

/// [`fw_rule_checks`]' loop state: the next check's slot, the outcome,
/// and what the checks see of the packet.
#[repr(C)]
struct Run {
    slot: u32,
    outcome: u32,
    src: u32,
    dst: u32,
    ttl: u32,
}

/// Runs the next check; returns 1 to stop at the first that fails.
#[inline(never)]
extern "C" fn next(_i: u32, ctx: *mut c_void) -> c_long {
    // SAFETY: ctx is the `Run` of `fw_rule_checks`.
    let run = unsafe { &mut *(ctx as *mut Run) };
    let r = fw_check(run.slot, run.src, run.dst, run.ttl);
    run.slot += 1;
    run.outcome = r;
    (r != PASS) as c_long
}

/// Check `CHECKS[slot]` for a packet from `src` to `dst` (network
/// order) with `ttl` (as received): [`PASS`], [`FAIL`] or [`BAD`].
///
/// A global function (exported, scalar arguments): the verifier checks
/// it once on its own and gives its callers an unknown result, so their
/// states do not multiply by its paths (as a static subprogram inside
/// the walk's `bpf_loop` it hit "the sequence of 8193 jumps is too
/// complex").
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_check(slot: u32, src: u32, dst: u32, ttl: u32) -> u32 {
    let Some(c) = CHECKS.get_ptr_mut(slot) else {
        anomaly(Anomaly::BadCheck);
        return BAD;
    };
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: a map value, valid while the program runs; `state` is only
    // touched atomically (every CPU shares it).
    let (kind, arg, a, b, state) =
        unsafe { ((*c).kind, (*c).arg, (*c).a, (*c).b, &raw mut (*c).state) };
    match kind {
        KIND_LIMIT => limit(state, a, b, now),
        KIND_MAC => mac(a, b != 0),
        KIND_PORTS => ports(slot - slot % MAX_CHECKS, a as u32, b),
        KIND_TCP_OPTION => tcp_option(a, b != 0),
        KIND_MARK => mark(arg, a as u32, b != 0),
        KIND_OWNER => owner_check(arg, a, b),
        // No packet fw sees has an IPsec policy (see KIND_POLICY).
        KIND_POLICY => verdict(arg == 1),
        KIND_SET => set_check(arg, a, b != 0),
        KIND_TCPMSS => tcpmss(a, b != 0),
        KIND_TIME => {
            // SAFETY: a map value, valid while the program runs; the
            // kernel never writes a time check's.
            let state = unsafe { core::ptr::read_volatile(state) };
            // SAFETY: a helper without arguments.
            let tai = (unsafe { bpf_ktime_get_tai_ns() } / 1_000_000_000) as i64;
            let adjust = i64::from((state >> 32) as u32 as i32);
            verdict(check::time::matches(
                arg & 0xff,
                a as u32,
                (a >> 32) as u32,
                b as u32,
                (b >> 32) as u32,
                (arg >> 8) & 0xff,
                state as u32,
                tai - adjust,
            ))
        }
        KIND_ADDRTYPE if arg & check::addrtype::F_V6 != 0 => addrtype6(arg, a as u32, b as u32),
        KIND_ADDRTYPE => addrtype4(arg, a as u32, b as u32, src, dst),
        KIND_HASHLIMIT => {
            // SAFETY: `state` points into the live map value above; the
            // kernel never writes a hashlimit's.
            let table = unsafe { core::ptr::read_volatile(state) };
            let _ = b;
            hashlimit_check(slot - slot % MAX_CHECKS, arg, a as u32, table, now)
        }
        KIND_CONNTRACK => conntrack(slot - slot % MAX_CHECKS, arg, a as u32, b as u32),
        KIND_RT => match seen() {
            Some(s) => verdict(check::rt::matches(arg, a, b, s.rt)),
            None => BAD,
        },
        // Data is read by the check it belongs to, never run.
        KIND_DATA => {
            anomaly(Anomaly::BadCheck);
            BAD
        }
        KIND_RECENT => recent_check(arg, b, a, ttl, now),
        // No compiler writes another kind.
        _ => {
            anomaly(Anomaly::BadCheck);
            BAD
        }
    }
}

/// `-m limit` as GCRA: conforming iff `tat - tolerance <= now`, and then
/// `tat = max(tat, now) + interval`; a packet that finds no token takes
/// none (xt_limit's `limit_mt`). `interval` and `tolerance` in ns, below
/// 2^60 (`Limit::check`), so no sum here wraps for centuries of uptime.
#[inline(always)]
fn limit(tat: *mut u64, interval: u64, tolerance: u64, now: u64) -> u32 {
    // Few branches: the verifier walks each try once per caller state.
    for _ in 0..CAS_TRIES {
        // SAFETY: `tat` is an aligned u64 of a map value (see `one`).
        let t = unsafe { core::ptr::read_volatile(tat) };
        if t > now.wrapping_add(tolerance) {
            return FAIL;
        }
        let next = if t > now { t } else { now }.wrapping_add(interval);
        let seen: u64;
        // SAFETY: as above. BPF_CMPXCHG (Linux 5.12): if `*tat == r0` it
        // stores `next`; r0 gets the old value either way.
        unsafe {
            asm!(
                "r0 = cmpxchg_64({p} + 0, r0, {n})",
                p = in(reg) tat,
                n = in(reg) next,
                inout("r0") t => seen,
                options(nostack),
            );
        }
        if seen == t {
            return PASS;
        }
    }
    FAIL
}

/// The packet as [`note_xdp`] or [`note_tc`] left it; `None` if the
/// slot is missing (counted as [`Anomaly::BadCheck`]).
#[inline(always)]
pub fn seen() -> Option<&'static Seen> {
    let s = CHECK_PACKET.get(0);
    if s.is_none() {
        anomaly(Anomaly::BadCheck);
    }
    s
}

/// `-m mac` as xt_mac's `mac_mt`: no Ethernet header, no match (before
/// the inversion); else the source address equal to `want`, XOR `invert`.
#[inline(always)]
fn mac(want: u64, invert: bool) -> u32 {
    let Some(s) = seen() else { return BAD };
    if !s.has_mac {
        return FAIL;
    }
    verdict((check::mac_word(s.mac) == want) != invert)
}

/// `-m multiport --ports` as xt_multiport's `ports_match_v1`: the first
/// range holding the source or the destination port matches (XOR `!`);
/// none: `!`. A packet without ports never matches (`fragoff != 0`).
/// `base` is the bank's first `CHECKS` slot, `data` the bank index of
/// the first [`KIND_DATA`] entry, `b` as [`KIND_PORTS`] says.
#[inline(always)]
fn ports(base: u32, data: u32, b: u64) -> u32 {
    let Some(s) = seen() else { return BAD };
    if !s.has_ports {
        return FAIL;
    }
    let (sport, dport) = (s.sport, s.dport);
    let count = (b & 0xffff) as u32;
    let invert = b >> 32 & 1 != 0;
    let mut hit = false;
    // By constant index: 15 ranges (XT_MULTI_PORTS) fit in three entries.
    for d in 0..3u32 {
        let first = d * RANGES_PER_DATA;
        if first >= count {
            break;
        }
        let Some(e) = CHECKS.get(base + (data + d) % MAX_CHECKS) else {
            anomaly(Anomaly::BadCheck);
            return BAD;
        };
        if e.kind != KIND_DATA {
            anomaly(Anomaly::BadCheck);
            return BAD;
        }
        let left = count - first;
        hit |= two(e.a, left, sport, dport)
            || two(e.b, left.saturating_sub(2), sport, dport)
            || two(e.state, left.saturating_sub(4), sport, dport);
    }
    verdict(hit != invert)
}

/// Whether one of the first `left` (at most two) ranges of `word`
/// ([`check::port_ranges`]) holds `sport` or `dport`.
#[inline(always)]
fn two(word: u64, left: u32, sport: u16, dport: u16) -> bool {
    let within = |w: u64, p: u16| (w as u16) <= p && p <= (w >> 16) as u16;
    let one = |w: u64| within(w, sport) || within(w, dport);
    (left >= 1 && one(word)) || (left >= 2 && one(word >> 32))
}

/// `-m hashlimit` as xt_hashlimit's `hashlimit_mt_common` in packet mode:
/// the bucket of the packet's key (a new one, or one idle past the
/// expiry, is full), GCRA as [`limit`]; under the rate it takes a token
/// and matches (`--hashlimit-upto`), over it it matches only for
/// `--hashlimit-above`. A new key while the table holds its maximum of
/// buckets drops the packet ([`HOTDROP`], as `dsthash_alloc_init`
/// failing does). `arg` and `state` as `KIND_HASHLIMIT` says; `base` is
/// the bank's first `CHECKS` slot, `data` the bank index of the
/// [`hashlimit::data`] entry. The addresses are the noted ones, of
/// either family. Inlined into `fw_check`, its key in map memory
/// ([`HASHLIMIT_KEY`]): a subprogram of its own (with the sweep's
/// callback below it) made a chain of 7 calls, 544 bytes, which Linux
/// 6.1 refuses (it sums each call chain's frames against 512).
#[inline(always)]
fn hashlimit_check(base: u32, arg: u32, data: u32, state: u64, now: u64) -> u32 {
    let Some(s) = seen() else { return BAD };
    let Some(d) = CHECKS.get(base + data % MAX_CHECKS) else {
        anomaly(Anomaly::BadCheck);
        return BAD;
    };
    if d.kind != KIND_DATA {
        anomaly(Anomaly::BadCheck);
        return BAD;
    }
    let Some(key) = HASHLIMIT_KEY.get_ptr_mut(0) else {
        return BAD;
    };
    // SAFETY: this CPU's slot, nothing else uses it meanwhile.
    let key = unsafe { &mut *key };
    let (interval, tolerance) = (d.a, d.b);
    let flags = arg >> 16;
    key.table = (state >> 32) as u32;
    key.src = if flags & hashlimit::F_SRCIP != 0 {
        hashlimit::masked(&s.src6, arg & 0xff)
    } else {
        [0; 16]
    };
    key.dst = if flags & hashlimit::F_DSTIP != 0 {
        hashlimit::masked(&s.dst6, arg >> 8 & 0xff)
    } else {
        [0; 16]
    };
    let key = &*key;
    let expire = (state & 0xffff_ffff) * 1_000_000;
    let above = flags & hashlimit::F_ABOVE != 0;
    let Some(e) = HASHLIMIT.get_ptr_mut(key) else {
        return hashlimit_new(key, d, expire, above, now);
    };
    // SAFETY: a map value, valid while the program runs; CPUs updating
    // one bucket at once may both take the last token (xt_hashlimit
    // takes the entry's lock).
    let e = unsafe { &mut *e };
    if now.wrapping_sub(e.seen) > expire {
        e.tat = 0;
    }
    e.seen = now;
    if e.tat > now.wrapping_add(tolerance) {
        return verdict(above);
    }
    e.tat = if e.tat > now { e.tat } else { now }.wrapping_add(interval);
    verdict(!above)
}

/// A new bucket for `key`, full: the packet takes its first token. While
/// the table holds the maximum of `d` ([`hashlimit::data`]) it first
/// sweeps, once per gc interval at most, and drops the packet if it is
/// still full.
#[inline(always)]
fn hashlimit_new(key: &hashlimit::Key, d: &Check, expire: u64, above: bool, now: u64) -> u32 {
    let (interval, max, gc) = (d.a, d.state & 0xffff_ffff, (d.state >> 32) * 1_000_000);
    if HASHLIMIT_TABLES.get_ptr_mut(&key.table).is_none() {
        // Another CPU may have added it meanwhile: either is the table's.
        let _ = HASHLIMIT_TABLES.insert(&key.table, &hashlimit::Table::default(), BPF_NOEXIST);
    }
    let Some(t) = HASHLIMIT_TABLES.get_ptr_mut(&key.table) else {
        anomaly(Anomaly::BadCheck);
        return BAD;
    };
    // SAFETY: a map value, valid while the program runs; `count` is only
    // changed atomically, and a new bucket takes its place in the count
    // before it is added, so CPUs adding keys at once never pass the
    // maximum (xt_hashlimit adds under the table's lock).
    let t = unsafe { &mut *t };
    let count = &raw mut t.count;
    if fetch_add(count, 1) >= max {
        fetch_add(count, u64::MAX);
        if now.wrapping_sub(t.swept) < gc {
            return HOTDROP;
        }
        t.swept = now;
        let removed = hashlimit_sweep(key.table, expire.wrapping_add(gc), now);
        fetch_add(count, removed.wrapping_neg());
        if fetch_add(count, 1) >= max {
            fetch_add(count, u64::MAX);
            return HOTDROP;
        }
    }
    let fresh = hashlimit::Entry {
        tat: now.wrapping_add(interval),
        seen: now,
    };
    if HASHLIMIT.insert(key, &fresh, BPF_NOEXIST).is_err() {
        // The map is full (the compiler keeps the maxima within it) or
        // another CPU added the key meanwhile: xt_hashlimit hot-drops
        // when it cannot add the entry.
        fetch_add(count, u64::MAX);
        return HOTDROP;
    }
    verdict(!above)
}

/// `BPF_NOEXIST` (uapi bpf.h).
const BPF_NOEXIST: u64 = 1;

/// `*p += v` (wrapping), atomically; returns the old `*p`
/// (BPF_ATOMIC | BPF_ADD | BPF_FETCH, Linux 5.12).
#[inline(always)]
fn fetch_add(p: *mut u64, v: u64) -> u64 {
    let old: u64;
    // SAFETY: `p` is an aligned u64 of a map value.
    unsafe {
        asm!(
            "{v} = atomic_fetch_add((u64 *)({p} + 0), {v})",
            p = in(reg) p,
            v = inout(reg) v => old,
            options(nostack),
        );
    }
    old
}

/// What [`sweep_one`] looks for and has found: in a per-CPU map, not on
/// the stack, which the walk's call chain has used up.
#[repr(C)]
pub struct Sweep {
    table: u32,
    /// Buckets idle longer than this (ns) go.
    idle: u64,
    now: u64,
    removed: u64,
}

/// Removes `table`'s buckets idle longer than `idle` ns (the expiry plus
/// one gc interval: xt_hashlimit's garbage collector, running every gc
/// interval, has removed at least those, so fw's count never falls
/// below netfilter's); returns how many.
#[inline(always)]
fn hashlimit_sweep(table: u32, idle: u64, now: u64) -> u64 {
    let Some(s) = SWEEP.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot; nothing else runs on it meanwhile.
    unsafe {
        *s = Sweep {
            table,
            idle,
            now,
            removed: 0,
        };
    }
    // SAFETY: `sweep_one` has bpf_for_each_map_elem's callback type (for
    // a hash map: map, key, value, context).
    unsafe {
        bpf_for_each_map_elem(
            (&raw const HASHLIMIT).cast_mut().cast(),
            sweep_one as *mut c_void,
            core::ptr::null_mut(),
            0,
        );
        (*s).removed
    }
}

#[map]
static SWEEP: PerCpuArray<Sweep> = PerCpuArray::with_max_entries(1, 0);

/// [`hashlimit_sweep`]'s callback: removes the bucket if it is the
/// table's and idle; 0 goes on to the next.
extern "C" fn sweep_one(
    map: *mut c_void,
    key: *mut hashlimit::Key,
    value: *mut hashlimit::Entry,
    _ctx: *mut c_void,
) -> c_long {
    let Some(s) = SWEEP.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: the kernel passes the element; `s` is this CPU's slot.
    let (s, k, v) = unsafe { (&mut *s, &*key, &*value) };
    if k.table == s.table && s.now.wrapping_sub(v.seen) > s.idle {
        // SAFETY: deleting the element being visited is allowed.
        if unsafe { bpf_map_delete_elem(map, key as *const c_void) } == 0 {
            s.removed += 1;
        }
    }
    0
}

/// Where `-m owner` finds the credentials in the kernel's structures
/// ([`Offsets`]): set by the loader from the kernel's BTF before the
/// program is verified (named `owner::GLOBAL`).
#[unsafe(no_mangle)]
static OWNER_BTF: Offsets = Offsets {
    skc_state: 0,
    rsk_listener: 0,
    sk_socket: 0,
    socket_file: 0,
    file_cred: 0,
    cred_fsuid: 0,
    cred_fsgid: 0,
    valid: 0,
};

/// `-m owner` as xt_owner's `owner_mt`; `uid` and `gid` are
/// `min | max << 32`. A socket the kernel does not let fw read drops
/// the packet and counts it ([`Anomaly::BadCheck`]).
#[inline(always)]
fn owner_check(flags: u32, uid: u64, gid: u64) -> u32 {
    // SAFETY: a constant of the object, written by the loader.
    let o = unsafe { core::ptr::read_volatile(&raw const OWNER_BTF) };
    let Some(s) = seen() else {
        return BAD;
    };
    if o.valid != 1 {
        anomaly(Anomaly::BadCheck);
        return BAD;
    }
    let Some(sock) = socket_owner(s.sk, &o) else {
        anomaly(Anomaly::BadCheck);
        return BAD;
    };
    let range = |r: u64| (r as u32, (r >> 32) as u32);
    verdict(owner::matches(flags, range(uid), range(gid), sock))
}

/// `-m set` as xt_set's `set_match_v4` and ip_set_test: a packet is
/// tested only when the flags give the set's dimensions (else it is not
/// a member); the first flag picks the address, the second (hash:ip,port)
/// the port; a packet without ports (not TCP or UDP, a later fragment)
/// is no member of a hash:ip,port. Membership XOR `!`. The addresses are
/// the noted ones, 16 bytes in either family (IPv4's first, as the set
/// maps key them); a set of the other family (which no rule can name)
/// drops, counted.
#[inline(never)]
fn set_check(id: u32, a: u64, invert: bool) -> u32 {
    let Some(meta) = SET_META.get_ptr(&id) else {
        // The compiler refers only to sets that exist, and fw destroys
        // none a rule refers to.
        anomaly(Anomaly::BadCheck);
        return BAD;
    };
    // SAFETY: a map value, valid while the program runs.
    let (kind, family) = unsafe { ((*meta).kind, (*meta).family) };
    let Some(s) = seen() else { return BAD };
    let want = if s.v6 {
        set::FAMILY_INET6
    } else {
        set::FAMILY_INET
    };
    if family != want {
        anomaly(Anomaly::BadCheck);
        return BAD;
    }
    let flags = (a & 0xff) as u32;
    let dst_flag = |i: u32| (a >> (8 + i)) & 1 != 0;
    let addr = if dst_flag(0) { s.dst6 } else { s.src6 };
    let member = if flags < set::dimensions(kind) {
        false
    } else if kind == set::KIND_IP_PORT {
        s.has_ports && {
            let key = set::PortKey {
                set: id,
                addr,
                port: if dst_flag(1) { s.dport } else { s.sport },
                proto: s.proto,
                _pad: 0,
            };
            SET_PORTS.get_ptr(&key).is_some()
        }
    } else {
        let key = lpm_trie::Key::new(
            set::LOOKUP_PREFIX,
            set::NetKey {
                set: id.to_be_bytes(),
                addr,
            },
        );
        SET_NETS.get(&key).is_some()
    };
    verdict(member != invert)
}

/// Reads a `T` at kernel address `at`.
#[inline(always)]
fn kernel_read<T>(at: u64) -> Option<T> {
    // SAFETY: the helper checks the address and fails on a bad one.
    unsafe { bpf_probe_read_kernel(at as *const T) }.ok()
}

/// What xt_owner sees of socket `sk` (`skb_to_full_sk`, then
/// `sk->sk_socket->file->f_cred`); `None` if a read failed.
#[inline(never)]
fn socket_owner(sk: u64, o: &Offsets) -> Option<Sock> {
    if sk == 0 {
        return Some(Sock::None);
    }
    let mut full = sk;
    let state: u8 = kernel_read(sk + u64::from(o.skc_state))?;
    if state == owner::TCP_NEW_SYN_RECV {
        full = kernel_read(sk + u64::from(o.rsk_listener))?;
    } else if state == owner::TCP_TIME_WAIT {
        return Some(Sock::None);
    }
    if full == 0 {
        return Some(Sock::None);
    }
    let socket: u64 = kernel_read(full + u64::from(o.sk_socket))?;
    if socket == 0 {
        return Some(Sock::None);
    }
    let file: u64 = kernel_read(socket + u64::from(o.socket_file))?;
    if file == 0 {
        return Some(Sock::NoFile);
    }
    let cred: u64 = kernel_read(file + u64::from(o.file_cred))?;
    Some(Sock::File {
        uid: kernel_read(cred + u64::from(o.cred_fsuid))?,
        gid: kernel_read(cred + u64::from(o.cred_fsgid))?,
    })
}

/// `-m mark` as xt_mark's `mark_mt`: `mark & mask == value`, XOR `!`.
#[inline(always)]
fn mark(mask: u32, value: u32, invert: bool) -> u32 {
    let Some(s) = seen() else { return BAD };
    verdict((s.mark & mask == value) != invert)
}

/// `-m conntrack`'s tuple options as xt_conntrack's `conntrack_mt`
/// (revision 3): no connection passes only beside a `--ctstate`; else
/// `--ctdir`, each address (`(tuple ^ addr) & mask == 0`), `--ctproto`
/// and each port range must hold, XOR its `!`. `base` is the bank's first
/// `CHECKS` slot, `data` the bank index of the two [`KIND_DATA`] entries.
#[inline(never)]
fn conntrack(base: u32, flags: u32, data: u32, proto: u32) -> u32 {
    let Some(s) = seen() else { return BAD };
    let ct = &s.ct;
    let reply = match ct.dir {
        CT_NONE => return verdict(flags & F_STATE != 0),
        CT_ORIGINAL => false,
        CT_REPLY => true,
        _ => {
            anomaly(Anomaly::BadCheck);
            return BAD;
        }
    };
    if flags & F_DIR != 0 && reply != (flags & F_DIR_REPLY != 0) {
        return FAIL;
    }
    if flags & F_PROTO != 0 && (ct.proto == proto) == (flags & F_PROTO_NOT != 0) {
        return FAIL;
    }
    // No NAT: the reply tuple mirrors the original one. (Matches, not
    // arrays: the check's frame is in the deepest call chain.)
    for i in 0..4u32 {
        if flags & (F_ADDR << i) == 0 {
            continue;
        }
        let have = match i {
            0 | 3 => &ct.src,
            _ => &ct.dst,
        };
        let Some(e) = data_entry(base, data + i) else {
            return BAD;
        };
        if conntrack::within(have, e) == (flags & (F_ADDR_NOT << i) != 0) {
            return FAIL;
        }
    }
    if flags & (F_PORT | F_PORT << 1 | F_PORT << 2 | F_PORT << 3) == 0 {
        return PASS;
    }
    let Some(d) = data_entry(base, data + 4) else {
        return BAD;
    };
    for i in 0..4u32 {
        let (have, range) = match i {
            0 => (ct.sport, d.a),
            1 => (ct.dport, d.a >> 32),
            2 => (ct.dport, d.b),
            _ => (ct.sport, d.b >> 32),
        };
        let within = range as u16 <= have && have <= (range >> 16) as u16;
        if flags & (F_PORT << i) != 0 && within == (flags & (F_PORT_NOT << i) != 0) {
            return FAIL;
        }
    }
    PASS
}

/// The [`KIND_DATA`] entry at `base + i` (its bank's slot); `None`, its
/// anomaly counted, for any other kind.
#[inline(always)]
fn data_entry(base: u32, i: u32) -> Option<&'static Check> {
    let e = CHECKS.get(base + i % MAX_CHECKS)?;
    if e.kind != KIND_DATA {
        anomaly(Anomaly::BadCheck);
        return None;
    }
    Some(e)
}

/// `--tcp-option` as xt_tcpudp: kind `kind` met by the option walk, XOR
/// `invert`; a bad option area drops the packet ([`HOTDROP`]).
#[inline(always)]
fn tcp_option(kind: u64, invert: bool) -> u32 {
    let Some(s) = seen() else { return BAD };
    match s.opts {
        OPTS_WALKED => {
            let k = (kind & 0xff) as u32;
            let met = s.kinds[(k >> 6) as usize % 4] >> (k & 63) & 1 != 0;
            verdict(met != invert)
        }
        OPTS_BAD => HOTDROP,
        // No TCP header: the classifier's port columns exclude these.
        _ => FAIL,
    }
}

/// `-m tcpmss` as xt_tcpmss's `tcpmss_mt`: `range` is `min | max << 16`.
#[inline(always)]
fn tcpmss(range: u64, invert: bool) -> u32 {
    let Some(s) = seen() else { return BAD };
    match s.opts {
        OPTS_WALKED => {
            let mut walk = MssWalk {
                i: 0,
                len: s.optlen,
                mss: NO_MSS,
            };
            // SAFETY: `mss_step` has bpf_loop's callback type; `walk`
            // outlives the call.
            unsafe {
                bpf_loop(
                    MAX_OPTLEN as u32,
                    mss_step as *mut c_void,
                    (&raw mut walk).cast(),
                    0,
                );
            }
            if walk.mss == NO_MSS {
                return verdict(invert);
            }
            let (min, max) = ((range & 0xffff) as u32, (range >> 16 & 0xffff) as u32);
            verdict((min <= walk.mss && walk.mss <= max) != invert)
        }
        OPTS_BAD => HOTDROP,
        // No TCP header (a later fragment): no match.
        _ => FAIL,
    }
}

/// [`tcpmss`]' walk of the option area (`firewall_common::check::first_mss`).
#[repr(C)]
struct MssWalk {
    i: u32,
    len: u32,
    mss: u32,
}

/// One step of [`MssWalk`]; returns 1 to stop.
#[inline(never)]
extern "C" fn mss_step(_n: u32, ctx: *mut c_void) -> c_long {
    // SAFETY: ctx is the `MssWalk` of `tcpmss`.
    let w = unsafe { &mut *(ctx as *mut MssWalk) };
    let Some(s) = CHECK_PACKET.get(0) else {
        return 1;
    };
    let (i, len) = (w.i as usize & 63, w.len as usize);
    if i >= len {
        return 1;
    }
    let at = |j: usize| s.area.get(j & 63).copied().unwrap_or(0);
    let k = at(i);
    if k == 2 && len - i >= 4 && i + 1 < len && at(i + 1) == 4 {
        w.mss = u32::from(at(i + 2)) << 8 | u32::from(at(i + 3));
        return 1;
    }
    w.i += if k < 2 {
        1
    } else {
        match at(i + 1) {
            // Past the area the next byte only ends the walk.
            l if i + 1 < len && l != 0 => u32::from(l),
            _ => 1,
        }
    };
    0
}

/// `-m recent` as xt_recent's `recent_mt`: `b` is `Check::b` (the list,
/// and command, flags and `--hitcount` in its low word), `seconds` in
/// ns, `mask` IPv4's (network order; IPv6's are whole). The address is
/// the noted one of either family (a subprogram of its own: its key's
/// frame is not added to `fw_check`'s).
#[inline(never)]
fn recent_check(mask: u32, b: u64, seconds: u64, ttl: u32, now: u64) -> u32 {
    let Some(s) = seen() else { return BAD };
    let flags = b as u32;
    let pick = if flags & recent::F_DEST != 0 {
        &s.dst6
    } else {
        &s.src6
    };
    let mut addr = *pick;
    if !s.v6 {
        let v4 = u32::from_ne_bytes([addr[0], addr[1], addr[2], addr[3]]) & mask;
        addr[..4].copy_from_slice(&v4.to_ne_bytes());
    }
    let key = &Key {
        list: (b >> 32) as u32,
        addr,
    };
    let command = flags & 3;
    let hitcount = (flags >> 8) & 0xffff;
    // `ret` starts as the inversion; each "match" flips it.
    let invert = flags & recent::F_INVERT != 0;
    let found = RECENT.get_ptr_mut(key).filter(|&e| {
        // --rttl: an entry seen with another TTL is not this address's.
        // SAFETY: a map value, valid while the program runs.
        let t = unsafe { (*e).ttl };
        flags & recent::F_RTTL == 0 || t == ttl || ttl == 0 || t == 0
    });
    let Some(e) = found else {
        if command != recent::SET {
            return verdict(invert);
        }
        let Some(new) = RECENT_NEW.get_ptr_mut(0) else {
            anomaly(Anomaly::BadCheck);
            return BAD;
        };
        // SAFETY: this CPU's slot, nothing else uses it meanwhile.
        let n = unsafe { &mut *new };
        n.stamps[0] = now;
        n.index = 1;
        n.nstamps = 1;
        n.ttl = ttl;
        // xt_recent hot-drops when it cannot add the entry.
        if RECENT.insert(key, n, 0).is_err() {
            anomaly(Anomaly::BadCheck);
            return BAD;
        }
        return verdict(!invert);
    };
    // SAFETY: a map value, valid while the program runs; CPUs updating
    // one address at once may lose a stamp (xt_recent takes a lock).
    let e = unsafe { &mut *e };
    let matched = match command {
        recent::SET => !invert,
        recent::REMOVE => {
            let _ = RECENT.remove(key);
            return verdict(!invert);
        }
        // --rcheck, --update: `hitcount` stamps within `seconds`.
        _ => {
            let since = now.saturating_sub(seconds);
            let mut hits = 0;
            let mut hit = false;
            for i in 0..STAMPS {
                if i as u32 >= e.nstamps {
                    break;
                }
                if seconds != 0 && e.stamps[i] < since {
                    continue;
                }
                hits += 1;
                if hitcount == 0 || hits >= hitcount {
                    hit = true;
                    break;
                }
            }
            hit != invert
        }
    };
    if command == recent::SET || (command == recent::UPDATE && matched) {
        let i = e.index as usize % STAMPS;
        e.stamps[i] = now;
        e.index = (i + 1) as u32;
        if e.index > e.nstamps {
            e.nstamps = e.index;
        }
        e.ttl = ttl;
    }
    verdict(matched)
}

/// A match as a check's outcome.
#[inline(always)]
fn verdict(matched: bool) -> u32 {
    if matched { PASS } else { FAIL }
}
