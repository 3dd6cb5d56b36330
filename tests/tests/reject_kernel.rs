//! REJECT in the real XDP program with BPF_PROG_TEST_RUN: a rejected
//! frame comes back as `XDP_TX`, rewritten into the answer netfilter
//! sends (`nf_send_unreach`, `nf_send_reset`), every field and checksum
//! checked; the rule's counter counts it. On an interface flagged in
//! `IFACES` (veth) the same answer is passed, marked for TCX ingress
//! (XDP metadata, or where this kernel's XDP has none, remembered by
//! XDP and recognised by `fw_tc_in`). IPv6's answers (`nf_send_unreach6`,
//! `nf_send_reset6`) likewise.

#[path = "common/fw_state.rs"]
mod fw_state;

// Dependencies of the integration-tests package this test does not use.
use anyhow as _;

use firewall::aya::{
    maps::{HashMap, Map, MapData},
    programs::{SchedClassifier, TestRun, TestRunOptions, Xdp},
};
use firewall::{
    common::{iface, maps},
    compile,
    load::{Kernel, pins::Dirs},
    model::{Family, Neg, RejectWith, Rule, Target},
    state::State,
};
use fw_state::FwCleanup;
use integration_tests::{Netns, in_netns, ipv6_frame};
use std::net::Ipv6Addr;

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
/// `TC_ACT_REDIRECT`, and TCX's "next program" as a u32.
const TC_REDIRECT: u32 = 7;
const TCX_NEXT: u32 = u32::MAX;

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const CLIENT: [u8; 4] = [192, 0, 2, 1];
const SERVER: [u8; 4] = [192, 0, 2, 2];

use integration_tests::internet_checksum as csum;

/// An Ethernet frame from the client to the server: IPv4 (checksummed)
/// carrying `l4` with protocol `proto`.
fn frame(proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&SERVER_MAC);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + l4.len()) as u16;
    let mut ip = vec![0x45, 0x10, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&CLIENT);
    ip.extend_from_slice(&SERVER);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(l4);
    f
}

/// A TCP segment 40000 → 22 with `flags`, sequence `seq`, ack `ack` and
/// `payload` bytes of data (checksum left zero: nothing checks it).
fn tcp(flags: u8, seq: u32, ack: u32, payload: usize) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&22u16.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t.extend(std::iter::repeat_n(0xab, payload));
    t
}

fn udp(payload: usize) -> Vec<u8> {
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&40000u16.to_be_bytes());
    u[2..4].copy_from_slice(&53u16.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
    u.extend(std::iter::repeat_n(0xcd, payload));
    u
}

fn run(xdp: &Xdp, data: &[u8]) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; 512];
    let r = xdp
        .test_run(TestRunOptions {
            data_in: Some(data),
            data_out: Some(&mut out),
            ..Default::default()
        })
        .unwrap();
    out.truncate(r.data_size_out as usize);
    (r.return_value, out)
}

/// As [`run`], the frame arriving on interface `ifindex` (an `xdp_md`
/// in, read back out): (verdict, bytes of metadata, metadata and frame).
fn run_on(xdp: &Xdp, data: &[u8], ifindex: u32) -> (u32, usize, Vec<u8>) {
    let mut out = vec![0u8; 512];
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex,
    // rx_queue_index, egress_ifindex (u32 each).
    let md = |v: [u32; 6]| v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
    let ctx_in = md([0, data.len() as u32, 0, ifindex, 0, 0]);
    let mut ctx_out = vec![0u8; 24];
    let r = xdp
        .test_run(TestRunOptions {
            data_in: Some(data),
            data_out: Some(&mut out),
            ctx_in: Some(&ctx_in),
            ctx_out: Some(&mut ctx_out),
            ..Default::default()
        })
        .unwrap();
    out.truncate(r.data_size_out as usize);
    let meta = u32::from_ne_bytes(ctx_out[0..4].try_into().unwrap()) as usize;
    (r.return_value, meta, out)
}

/// `fw_tc_in`'s verdict on `data` (an skb on `lo`).
fn tc_run(tc: &SchedClassifier, data: &[u8]) -> u32 {
    let mut out = vec![0u8; 512];
    tc.test_run(TestRunOptions {
        data_in: Some(data),
        data_out: Some(&mut out),
        ..Default::default()
    })
    .unwrap()
    .return_value
}

/// Checks the Ethernet and IPv4 header of an answer from `from`.
fn check_ip(out: &[u8], proto: u8, from: [u8; 4], tos: u8, df: bool) {
    assert_eq!(out[0..6], CLIENT_MAC, "back to the sender's MAC");
    assert_eq!(out[6..12], SERVER_MAC);
    assert_eq!(out[12..14], [0x08, 0x00]);
    let ip = &out[14..34];
    assert_eq!(ip[0], 0x45);
    assert_eq!(ip[1], tos);
    assert_eq!(
        usize::from(u16::from_be_bytes([ip[2], ip[3]])),
        out.len() - 14,
        "total length"
    );
    assert_eq!(
        u16::from_be_bytes([ip[6], ip[7]]),
        if df { 0x4000 } else { 0 }
    );
    assert_eq!(ip[8], 64, "TTL");
    assert_eq!(ip[9], proto);
    assert_eq!(csum(ip), 0, "IP checksum");
    assert_eq!(ip[12..16], from);
    assert_eq!(ip[16..20], CLIENT);
}

#[test]
fn rejected_frames_come_back_as_the_answer() {
    let ns = Netns::new("krej").unwrap();
    let _fw = FwCleanup(ns.name().to_string());
    in_netns(ns.name(), || answers(&Dirs::current().unwrap())).unwrap();
}

fn answers(dirs: &Dirs) {
    let (mut k, ebpf) = Kernel::install(dirs).unwrap();
    let xdp: &Xdp = ebpf.program("fw_xdp").unwrap().try_into().unwrap();
    let tc_in: &SchedClassifier = ebpf.program("fw_tc_in").unwrap().try_into().unwrap();
    // XDP remembers an answer for TC ingress per CPU: both runs on one.
    // SAFETY: a zeroed cpu_set_t with CPU 0 set, for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size_of_val(&set), &set), 0);
    }
    let with_meta = firewall::load::probe::xdp_meta();
    let mut state = State::default();
    state.ruleset.input.rules = vec![
        Rule {
            protocol: Some(Neg::is(6)),
            target: Target::Reject(RejectWith::TcpReset),
            ..Rule::default()
        },
        Rule {
            protocol: Some(Neg::is(17)),
            target: Target::Reject(RejectWith::AdminProhibited),
            ..Rule::default()
        },
    ];
    state.counters[0] = vec![0, 1];
    let compiled =
        compile::compile(&state, k.spare_bank().unwrap(), &[("lo".to_string(), 1)]).unwrap();
    k.swap_in(&compiled, &[0, 1], None).unwrap();

    // A SYN: RST|ACK, seq 0, ack = seq + 1 (nf_reject_ip_tcphdr_put).
    let (rc, out) = run(xdp, &frame(6, &tcp(0x02, 1000, 0, 0)));
    assert_eq!(rc, XDP_TX);
    assert_eq!(out.len(), 54);
    check_ip(&out, 6, SERVER, 0, true);
    let th = &out[34..54];
    assert_eq!(th[0..2], 22u16.to_be_bytes());
    assert_eq!(th[2..4], 40000u16.to_be_bytes());
    assert_eq!(th[4..8], 0u32.to_be_bytes());
    assert_eq!(th[8..12], 1001u32.to_be_bytes());
    assert_eq!(th[12], 5 << 4);
    assert_eq!(th[13], 0x14, "RST|ACK");
    assert_eq!(th[14..16], [0, 0], "window");
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&SERVER);
    pseudo.extend_from_slice(&CLIENT);
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    pseudo.extend_from_slice(th);
    assert_eq!(csum(&pseudo), 0, "TCP checksum");

    // Data with ACK set: a bare RST with seq = the segment's ack.
    let (rc, out) = run(xdp, &frame(6, &tcp(0x18, 5000, 7777, 100)));
    assert_eq!(rc, XDP_TX);
    assert_eq!(out.len(), 54);
    assert_eq!(out[34 + 4..34 + 8], 7777u32.to_be_bytes());
    assert_eq!(out[34 + 8..34 + 12], [0; 4]);
    assert_eq!(out[34 + 13], 0x04, "RST");
    // No answer to a RST.
    assert_eq!(run(xdp, &frame(6, &tcp(0x04, 1, 0, 0))).0, XDP_DROP);

    // UDP: ICMP 3/13 quoting the IP header and 8 bytes.
    let sent = frame(17, &udp(40));
    let (rc, out) = run(xdp, &sent);
    assert_eq!(rc, XDP_TX);
    assert_eq!(out.len(), 14 + 20 + 8 + 28);
    check_ip(&out, 1, SERVER, 0xc0 | 0x10, false);
    let icmp = &out[34..];
    assert_eq!(icmp[0..2], [3, 13]);
    assert_eq!(icmp[4..8], [0; 4]);
    assert_eq!(csum(icmp), 0, "ICMP checksum");
    assert_eq!(icmp[8..], sent[14..14 + 28], "the quote");
    // A short datagram is quoted whole. A non-first fragment meets no
    // rule in IPv4's INPUT (netfilter reassembles first): it passes,
    // uncounted, and its first fragment's verdict decides the datagram.
    let short = frame(17, &udp(0));
    let (rc, out) = run(xdp, &short);
    assert_eq!((rc, out.len()), (XDP_TX, 14 + 20 + 8 + 28));
    let mut frag = frame(17, &udp(40));
    frag[14 + 6..14 + 8].copy_from_slice(&0x0010u16.to_be_bytes());
    assert_eq!(run(xdp, &frag).0, XDP_PASS);

    // Flagged for TCX ingress (as fw flags a veth), lo (ifindex 1) gets
    // the same answers passed, behind the 4-byte mark.
    let path = dirs.map(maps::IFACES);
    let mut ifaces: HashMap<MapData, u32, u32> =
        HashMap::try_from(Map::HashMap(MapData::from_pin(&path).unwrap())).unwrap();
    let syn = frame(6, &tcp(0x02, 1000, 0, 0));
    let (rc, meta, rst) = run_on(xdp, &syn, 1);
    assert_eq!((rc, meta), (XDP_TX, 0), "unflagged: XDP_TX, no mark");
    let unreachable = run(xdp, &sent).1;
    ifaces.insert(&1, &iface::ANSWER_AT_TC_INGRESS, 0).unwrap();
    for (sent, answer) in [(syn, rst), (sent, unreachable)] {
        let (rc, meta, out) = run_on(xdp, &sent, 1);
        let at = if with_meta { iface::MARK_LEN } else { 0 };
        assert_eq!((rc, meta), (XDP_PASS, at));
        if with_meta {
            assert_eq!(out[..4], iface::REJECT_MARK.to_ne_bytes(), "the mark");
        } else {
            // TC ingress sends the answer out, once, and nothing else.
            assert_eq!(tc_run(tc_in, &out), TC_REDIRECT, "the remembered answer");
            assert_eq!(tc_run(tc_in, &out), TCX_NEXT, "forgotten once sent");
            assert_eq!(tc_run(tc_in, &sent), TCX_NEXT, "not an answer");
        }
        assert_eq!(csum(&out[at + 14..at + 34]), 0, "IP checksum");
        // The ICMP error's IP id is random, and so its IP checksum: the
        // rest is byte for byte what XDP_TX sends.
        let masked = |f: &[u8]| {
            let mut f = f.to_vec();
            f[18..20].fill(0);
            f[24..26].fill(0);
            f
        };
        assert_eq!(masked(&out[at..]), masked(&answer), "the answer");
    }
    ifaces.remove(&1).unwrap();

    // Every rejected frame counted, answered or not.
    assert_eq!(k.read(0).unwrap().packets, 5);
    assert_eq!(k.read(1).unwrap().packets, 4);
}

const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// An IPv6 frame from the client to the server.
fn frame6(next: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_frame((SERVER_MAC, CLIENT_MAC), CLIENT6, SERVER6, next, payload)
}

/// Checks the Ethernet and IPv6 header of an answer from `from` to the
/// client, and the checksum of its upper layer `next` (RFC 8200 8.1).
fn check_ip6(out: &[u8], next: u8, from: Ipv6Addr) {
    assert_eq!(out[0..6], CLIENT_MAC, "back to the sender's MAC");
    assert_eq!(out[6..12], SERVER_MAC);
    assert_eq!(out[12..14], [0x86, 0xdd]);
    let ip = &out[14..54];
    assert_eq!(ip[0..4], [0x60, 0, 0, 0], "traffic class and flow label 0");
    let plen = u16::from_be_bytes([ip[4], ip[5]]);
    assert_eq!(usize::from(plen), out.len() - 54, "payload length");
    assert_eq!(ip[6], next);
    assert_eq!(ip[7], 64, "hop limit");
    assert_eq!(ip[8..24], from.octets());
    assert_eq!(ip[24..40], CLIENT6.octets());
    let mut pseudo = ip[8..40].to_vec();
    pseudo.extend_from_slice(&u32::from(plen).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, next]);
    pseudo.extend_from_slice(&out[54..]);
    assert_eq!(csum(&pseudo), 0, "upper-layer checksum");
}

#[test]
fn rejected_ipv6_frames_come_back_as_the_answer() {
    let ns = Netns::new("krej6").unwrap();
    let _fw = FwCleanup(ns.name().to_string());
    in_netns(ns.name(), || answers6(&Dirs::current().unwrap())).unwrap();
}

fn answers6(dirs: &Dirs) {
    let (mut k, ebpf) = Kernel::install(dirs).unwrap();
    let xdp: &Xdp = ebpf.program("fw_xdp").unwrap().try_into().unwrap();
    let mut state = State::default();
    state.other.ruleset.family = Family::V6;
    state.other.ruleset.input.rules = [
        (6, RejectWith::TcpReset),
        (17, RejectWith::Icmp6AdmProhibited),
        (58, RejectWith::Icmp6PortUnreachable),
    ]
    .map(|(p, w)| Rule {
        protocol: Some(Neg::is(p)),
        target: Target::Reject(w),
        ..Rule::default()
    })
    .to_vec();
    state.other.counters[0] = vec![0, 1, 2];
    let compiled =
        compile::compile(&state, k.spare_bank().unwrap(), &[("lo".to_string(), 1)]).unwrap();
    k.swap_in(&compiled, &[0, 1, 2], None).unwrap();

    // A SYN behind a destination-options header (PadN): RST|ACK, seq 0,
    // ack = seq + 1, without extension headers (nf_send_reset6).
    let opts = [6, 0, 1, 4, 0, 0, 0, 0];
    let (rc, out) = run(
        xdp,
        &frame6(60, &[&opts[..], &tcp(0x02, 1000, 0, 0)].concat()),
    );
    assert_eq!(rc, XDP_TX);
    assert_eq!(out.len(), 14 + 40 + 20);
    check_ip6(&out, 6, SERVER6);
    let th = &out[54..74];
    assert_eq!(th[0..2], 22u16.to_be_bytes());
    assert_eq!(th[2..4], 40000u16.to_be_bytes());
    assert_eq!(th[4..8], [0; 4]);
    assert_eq!(th[8..12], 1001u32.to_be_bytes());
    assert_eq!(th[12..14], [5 << 4, 0x14], "RST|ACK");
    // Data with ACK set: a bare RST with seq = the segment's ack.
    let (rc, out) = run(xdp, &frame6(6, &tcp(0x18, 5000, 7777, 100)));
    assert_eq!(rc, XDP_TX);
    assert_eq!(out[54 + 4..54 + 8], 7777u32.to_be_bytes());
    assert_eq!(out[54 + 13], 0x04, "RST");
    assert_eq!(
        run(xdp, &frame6(6, &tcp(0x04, 1, 0, 0))).0,
        XDP_DROP,
        "no RST for a RST"
    );

    // UDP: ICMPv6 1/1 quoting the packet from its IPv6 header, whole
    // when it is short, else its first 168 bytes.
    for (payload, quoted) in [(40, 40 + 48), (400, 168)] {
        let sent = frame6(17, &udp(payload));
        let (rc, out) = run(xdp, &sent);
        assert_eq!(rc, XDP_TX, "{payload}");
        assert_eq!(out.len(), 14 + 40 + 8 + quoted);
        check_ip6(&out, 58, SERVER6);
        assert_eq!(out[54..56], [1, 1], "destination unreachable, prohibited");
        assert_eq!(out[58..62], [0; 4], "unused");
        assert_eq!(out[62..], sent[14..14 + quoted], "the quote");
    }
    // An echo request is answered (port unreachable, code 4); an ICMPv6
    // error, a later fragment and a multicast destination are not.
    let (rc, out) = run(xdp, &frame6(58, &[128, 0, 0, 0, 0, 1, 0, 1]));
    assert_eq!((rc, out[54], out[55]), (XDP_TX, 1, 4));
    assert_eq!(run(xdp, &frame6(58, &[1, 4, 0, 0, 0, 0, 0, 0])).0, XDP_DROP);
    let later = [17, 0, 0, 0x10, 0, 0, 0, 1];
    assert_eq!(
        run(xdp, &frame6(44, &[&later[..], &udp(8)].concat())).0,
        XDP_DROP
    );
    let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
    let to_all = ipv6_frame((SERVER_MAC, CLIENT_MAC), CLIENT6, all_nodes, 17, &udp(8));
    assert_eq!(run(xdp, &to_all).0, XDP_DROP);

    // Every rejected frame counted, answered or not.
    let counts: Vec<u64> = (0..3).map(|s| k.read(s).unwrap().packets).collect();
    assert_eq!(counts, [3, 4, 2]);
}
