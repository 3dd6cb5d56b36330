//! Random batches of Ethernet frames from documentation addresses to the
//! DUT's addresses: TCP (any flags), UDP, ICMP, flows continued from
//! earlier frames, fragments, IP options, 802.1Q tags, truncated headers.

use proptest::{prelude::*, sample::select};

/// The sender's and the DUT's MACs (fixed in both labs).
pub const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const DUT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const SOURCES: [[u8; 4]; 4] = [
    [192, 0, 2, 10],
    [198, 51, 100, 7],
    [203, 0, 113, 9],
    [198, 51, 100, 130],
];
pub const DUT_ADDRS: [[u8; 4]; 3] = [[192, 0, 2, 2], [198, 51, 100, 2], [203, 0, 113, 2]];
const PORTS: [u16; 8] = [22, 53, 80, 443, 1500, 8080, 40000, 9];

/// What one frame is, before its bytes.
#[derive(Debug, Clone)]
pub struct Spec {
    kind: Kind,
    src: usize,
    dst: usize,
    sport: u16,
    dport: u16,
    flags: u8,
    icmp: (u8, u8),
    /// 0 none, 1 NOPs, 2 router alert.
    opts: u8,
    vlan: Option<u16>,
    /// 0 whole, 1 split in two fragments, 2 a lone later fragment.
    frag: u8,
    truncate: bool,
    of: usize,
    /// TCP: the sequence number's offset from [`TCP_SEQ`] (an index of
    /// [`SEQ_OFFSETS`]), data bytes, and options (0 none, 1 a SYN's MSS,
    /// SACK-permitted and window scale, 2 a SACK block), so that the
    /// trackers' window checks meet segments in and out of window.
    seg: (usize, u8, u8),
}

/// The sender's TCP sequence number, and the acknowledgement it sends.
const TCP_SEQ: u32 = 0x1000_0000;
const TCP_ACK: u32 = 0x2000_0000;
/// Offsets from [`TCP_SEQ`]: at it, one and eleven after (past a SYN, past
/// ten bytes of data), within a window, past a 64 KiB window, below it,
/// half the sequence space away.
const SEQ_OFFSETS: [u32; 7] = [0, 1, 11, 0x8000, 0x2_0000, 0xffff_0000, 0x8000_0000];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Tcp,
    Udp,
    Icmp,
    /// Same tuple as an earlier frame (TCP: these flags; ICMP: another echo).
    Follow,
    /// An ICMP error quoting an earlier frame's tuple, reversed.
    Error,
}

pub fn batch() -> impl Strategy<Value = Vec<Spec>> {
    let spec = (
        prop_oneof![
            3 => Just(Kind::Tcp), 2 => Just(Kind::Udp), 2 => Just(Kind::Icmp),
            4 => Just(Kind::Follow), 1 => Just(Kind::Error)
        ],
        (0..SOURCES.len(), 0..DUT_ADDRS.len()),
        (prop_oneof![1 => select(PORTS.to_vec()), 3 => 1024..65535u16], select(PORTS.to_vec())),
        prop_oneof![2 => Just(0x02u8), 2 => Just(0x10), 1 => Just(0x12), 1 => Just(0x11), 1 => Just(0x04), 2 => any::<u8>()],
        (select(vec![0u8, 3, 8, 11, 12, 13, 5, 4]), 0..4u8),
        prop_oneof![12 => Just(0u8), 1 => Just(1), 1 => Just(2)],
        proptest::option::weighted(0.04, select(vec![0u16, 5])),
        prop_oneof![30 => Just(0u8), 1 => Just(1), 1 => Just(2)],
        proptest::bool::weighted(0.03),
        any::<usize>(),
        (
            prop_oneof![6 => Just(0usize), 3 => Just(1), 2 => Just(2), 1 => 3..SEQ_OFFSETS.len()],
            prop_oneof![3 => Just(0u8), 1 => Just(10)],
            prop_oneof![4 => Just(0u8), 1 => Just(1), 1 => Just(2)],
        ),
    )
        .prop_map(|(kind, (src, dst), (sport, dport), flags, icmp, opts, vlan, frag, truncate, of, seg)| Spec {
            kind, src, dst, sport, dport, flags, icmp, opts, vlan, frag, truncate, of, seg,
        });
    proptest::collection::vec(spec, 1..24)
}

fn csum(data: &[u8]) -> u16 {
    integration_tests::internet_checksum(data)
}

/// (proto, src, dst, sport, dport) of the frames so far, for Follow/Error.
type Tuple = (u8, [u8; 4], [u8; 4], u16, u16);

/// The frames of a batch; each datagram has its own IP ID (the labs give
/// fresh ones at each send, fragments of one datagram sharing theirs).
pub fn build(specs: &[Spec]) -> Vec<Vec<u8>> {
    let mut tuples: Vec<Tuple> = Vec::new();
    let mut out = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let id = (i as u16) * 3 + 1;
        let mut t: Tuple = (6, SOURCES[s.src], DUT_ADDRS[s.dst], s.sport, s.dport);
        let mut kind = s.kind;
        if matches!(kind, Kind::Follow | Kind::Error) {
            if tuples.is_empty() {
                kind = Kind::Tcp;
            } else {
                t = tuples[s.of % tuples.len()];
            }
        }
        let l4: Vec<u8>;
        let proto;
        match kind {
            Kind::Tcp => {
                proto = 6;
                t.0 = 6;
                l4 = tcp(&t, s.flags, s.seg);
            }
            Kind::Udp => {
                proto = 17;
                t.0 = 17;
                l4 = udp(&t);
            }
            Kind::Icmp => {
                proto = 1;
                t = (1, t.1, t.2, s.sport, 0);
                l4 = icmp(s.icmp.0, s.icmp.1, s.sport);
            }
            Kind::Follow => {
                proto = t.0;
                l4 = match t.0 {
                    6 => tcp(&t, s.flags, s.seg),
                    17 => udp(&t),
                    _ => icmp(8, 0, t.3),
                };
            }
            Kind::Error => {
                proto = 1;
                // The quoted datagram: from the DUT back to the sender.
                let inner_l4 = match t.0 {
                    6 => tcp(&(6, t.2, t.1, t.4, t.3), 0x12, (0, 0, 0)),
                    17 => udp(&(17, t.2, t.1, t.4, t.3)),
                    _ => icmp(0, 0, t.3),
                };
                let inner = ipv4(t.0, t.2, t.1, 0x4242, 0, &[], &inner_l4);
                let mut m = vec![3, s.icmp.1, 0, 0, 0, 0, 0, 0];
                m.extend_from_slice(&inner[..28.min(inner.len())]);
                let c = csum(&m);
                m[2..4].copy_from_slice(&c.to_be_bytes());
                l4 = m;
            }
        }
        if !matches!(kind, Kind::Error) {
            tuples.push(t);
        }
        let opts: &[u8] = match s.opts {
            1 => &[1, 1, 1, 1],
            2 => &[148, 4, 0, 0],
            _ => &[],
        };
        let mut l4 = l4;
        if s.truncate && l4.len() > 4 {
            l4.truncate(3);
        }
        let (src, dst) = (t.1, t.2);
        let datagrams: Vec<Vec<u8>> = match s.frag {
            1 if l4.len() > 8 => vec![
                ipv4(proto, src, dst, id, 0x2000, opts, &l4[..8]),
                ipv4(proto, src, dst, id, 1, opts, &l4[8..]),
            ],
            2 => vec![ipv4(proto, src, dst, id, 3, opts, &l4)],
            _ => vec![ipv4(proto, src, dst, id, 0, opts, &l4)],
        };
        for d in datagrams {
            let mut f = Vec::new();
            f.extend_from_slice(&DUT_MAC);
            f.extend_from_slice(&SRC_MAC);
            if let Some(v) = s.vlan {
                f.extend_from_slice(&[0x81, 0x00]);
                f.extend_from_slice(&v.to_be_bytes());
            }
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend_from_slice(&d);
            out.push(f);
        }
    }
    out
}

fn pseudo_sum(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> u16 {
    let mut p = Vec::with_capacity(12 + l4.len());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.extend_from_slice(l4);
    csum(&p)
}

/// A TCP segment of tuple `t` with `flags`; `(seq, data, options)` as
/// [`Spec::seg`].
fn tcp(t: &Tuple, flags: u8, (seq, data, options): (usize, u8, u8)) -> Vec<u8> {
    let opts: &[u8] = match options {
        1 => &[2, 4, 5, 180, 4, 2, 1, 3, 3, 7, 0, 0],
        2 => &[1, 1, 5, 10, 0x1f, 0xff, 0xff, 0x00, 0x20, 0x00, 0x00, 0x10],
        _ => &[],
    };
    let mut h = vec![0u8; 20];
    h[0..2].copy_from_slice(&t.3.to_be_bytes());
    h[2..4].copy_from_slice(&t.4.to_be_bytes());
    let seq = TCP_SEQ.wrapping_add(SEQ_OFFSETS[seq % SEQ_OFFSETS.len()]);
    h[4..8].copy_from_slice(&seq.to_be_bytes());
    h[8..12].copy_from_slice(&TCP_ACK.to_be_bytes());
    h[12] = (((20 + opts.len()) / 4) << 4) as u8;
    h[13] = flags;
    h.extend_from_slice(opts);
    h.extend(std::iter::repeat_n(b'd', usize::from(data)));
    h[14..16].copy_from_slice(&64240u16.to_be_bytes());
    let c = pseudo_sum(6, t.1, t.2, &h);
    h[16..18].copy_from_slice(&c.to_be_bytes());
    h
}

fn udp(t: &Tuple) -> Vec<u8> {
    let mut h = vec![0u8; 16];
    h[0..2].copy_from_slice(&t.3.to_be_bytes());
    h[2..4].copy_from_slice(&t.4.to_be_bytes());
    h[4..6].copy_from_slice(&16u16.to_be_bytes());
    h[8..16].copy_from_slice(b"difftest");
    let c = pseudo_sum(17, t.1, t.2, &h);
    h[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    h
}

fn icmp(typ: u8, code: u8, ident: u16) -> Vec<u8> {
    let mut m = vec![typ, code, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8];
    m[4..6].copy_from_slice(&ident.to_be_bytes());
    let c = csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An IPv4 datagram; `frag` is the flags/offset field.
fn ipv4(
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    frag: u16,
    opts: &[u8],
    l4: &[u8],
) -> Vec<u8> {
    let hl = 20 + opts.len();
    let mut h = vec![0u8; hl];
    h[0] = 0x40 | (hl / 4) as u8;
    h[2..4].copy_from_slice(&((hl + l4.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    h[20..].copy_from_slice(opts);
    let c = csum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

/// Offset of the IPv4 header in a frame (after one 802.1Q tag if any).
pub fn ip_offset(f: &[u8]) -> usize {
    if f.len() > 13 && f[12] == 0x81 && f[13] == 0 {
        18
    } else {
        14
    }
}

/// Gives the frame's datagram IP ID `id` and fixes the header checksum.
pub fn set_id(f: &mut [u8], id: u16) {
    let o = ip_offset(f);
    if f.len() < o + 20 {
        return;
    }
    f[o + 4..o + 6].copy_from_slice(&id.to_be_bytes());
    f[o + 10..o + 12].copy_from_slice(&[0, 0]);
    let hl = usize::from(f[o] & 0xf) * 4;
    let c = csum(&f[o..o + hl.min(f.len() - o)]);
    f[o + 10..o + 12].copy_from_slice(&c.to_be_bytes());
}

/// The frame's IP ID.
pub fn id_of(f: &[u8]) -> Option<u16> {
    let o = ip_offset(f);
    (f.len() >= o + 6).then(|| u16::from_be_bytes([f[o + 4], f[o + 5]]))
}

/// Which documented difference (docs/semantics.md) a frame falls under:
/// item 1 (fragments are not reassembled) or item 3 (truncated headers).
pub fn known(f: &[u8]) -> Option<&'static str> {
    // VID 0 frames were one until fw removed priority tags as the kernel
    // does (tests/difftest/vlan0-priority-tag-bypass.case stays a test).
    let o = ip_offset(f);
    if f.len() < o + 20 {
        return None;
    }
    let ip = &f[o..];
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return Some("fragment (semantics item 1)");
    }
    let hl = usize::from(ip[0] & 0xf) * 4;
    let need = match ip[9] {
        6 => 20,
        17 => 8,
        1 => 8,
        _ => 0,
    };
    (f.len() < o + hl + need).then_some("truncated header (semantics item 3)")
}
