//! IPv6 enforced (issue 11, stage 2): `fw -6` rules on real IPv6 packets
//! between two namespaces (2001:db8::/32, RFC 3849), each probe run under
//! fw and then under ip6tables-legacy (the oracle) in the same lab, with
//! the same verdicts and the same exact counters: ports, prefixes, ICMPv6
//! echo, `-m hl`, `-m multiport`, neighbour discovery under a default-DROP
//! policy, an extension header before UDP, fragments, a truncated
//! extension header, the IPv4 and IPv6 tables kept apart, IPv6 on a
//! tun device, and the corpus's IPv6 files.

#[path = "common/router.rs"]
mod router;

// Cargo gives every test all of the package's dependencies.
use anyhow as _;
use firewall as _;
use libc as _;

use std::{
    net::{Ipv6Addr, TcpListener, UdpSocket},
    time::Duration,
};

use router::RouterLab;

use integration_tests::{
    CLIENT_IF, Lab, Netns, SERVER_ADDR, SERVER_IF, Seen, Tun, fw_in, fw_reset, icmp6_probe,
    in_netns, internet_checksum, ip, ipv6_frame, netns_exec, policy_counters, rule_counters,
    send_frames, sh_in, tcp_backlogs_on, tcp_connect, tcp_probe, udp_echo_on, udp_probe,
    udp_request,
};

/// The client's and the server's IPv6 addresses on the lab link.
const CLIENT6: Ipv6Addr = integration_tests::CLIENT6_ADDR;
const SERVER6: Ipv6Addr = integration_tests::SERVER6_ADDR;
/// A probe expected to be dropped waits this long.
const DROP_WAIT: Duration = Duration::from_millis(500);

/// A lab whose veth ends also have [`CLIENT6`] and [`SERVER6`].
fn lab6(tag: &str) -> Lab {
    Lab::new6(tag).unwrap()
}

/// Listening TCP sockets on `[::]:port` in `ns`, never accepted (the
/// kernel completes handshakes into the backlog).
fn listen6(ns: &str, ports: &[u16]) -> Vec<TcpListener> {
    let ports = ports.to_vec();
    in_netns(ns, move || {
        ports
            .iter()
            .map(|&p| TcpListener::bind((Ipv6Addr::UNSPECIFIED, p)).unwrap())
            .collect()
    })
    .unwrap()
}

/// Sends `count` UDP datagrams of `payload` bytes from `ns` to `to:port`.
fn send_udp6(ns: &str, to: Ipv6Addr, port: u16, payload: usize, count: usize) {
    in_netns(ns, move || {
        let s = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).unwrap();
        for _ in 0..count {
            s.send_to(&vec![0x36; payload], (to, port)).unwrap();
        }
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

/// Which of fw (`fw -6`, `fw`) and the legacy tools a run uses.
#[derive(Clone, Copy)]
enum Under {
    Fw,
    Legacy,
}

/// Loads `rules6` (ip6tables) and `rules4` (iptables) in the server.
fn load(lab: &Lab, under: Under, rules6: &[&str], rules4: &[&str]) {
    load_in(lab.server(), under, rules6, rules4);
}

/// [`load`] in namespace `ns`.
fn load_in(ns: &str, under: Under, rules6: &[&str], rules4: &[&str]) {
    for (rules, v6) in [(rules6, true), (rules4, false)] {
        for r in rules {
            let args: Vec<&str> = r.split(' ').collect();
            let out = match under {
                Under::Fw if v6 => fw_in(ns, &[&["-6"], &args[..]].concat()).unwrap(),
                Under::Fw => fw_in(ns, &args).unwrap(),
                Under::Legacy => {
                    let tool = if v6 {
                        "ip6tables-legacy"
                    } else {
                        "iptables-legacy"
                    };
                    netns_exec(ns, tool, &args).unwrap()
                }
            };
            assert!(
                out.status.success(),
                "{r}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The IPv6 INPUT listing with counters.
fn listing6(lab: &Lab, under: Under) -> String {
    listing6_in(lab.server(), under)
}

/// [`listing6`] in namespace `ns`.
fn listing6_in(ns: &str, under: Under) -> String {
    let args = ["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"];
    let out = match under {
        Under::Fw => fw_in(ns, &[&["-6"], &args[..]].concat()).unwrap(),
        Under::Legacy => netns_exec(ns, "ip6tables-legacy", &args).unwrap(),
    };
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes what `under` loaded.
fn unload(lab: &Lab, under: Under) {
    match under {
        Under::Fw => fw_reset(lab.server()),
        Under::Legacy => {
            for tool in ["ip6tables-legacy", "iptables-legacy"] {
                for args in [&["-F"][..], &["-X"], &["-P", "INPUT", "ACCEPT"]] {
                    netns_exec(lab.server(), tool, args).unwrap();
                }
            }
        }
    }
}

/// Counters (packets, bytes) of rules `ns` of the IPv6 INPUT listing.
fn counters(listing: &str, ns: &[usize]) -> Vec<(u64, u64)> {
    ns.iter().map(|&n| rule_counters(listing, n)).collect()
}

const STATELESS6: [&str; 8] = [
    "-A INPUT -p tcp --dport 22 -j ACCEPT",
    "-A INPUT -s 2001:db8::1/128 -p udp --dport 5353 -j DROP",
    "-A INPUT -p ipv6-icmp --icmpv6-type echo-request -j DROP",
    "-A INPUT -p tcp --dport 23 -j DROP",
    "-A INPUT -s 2001:db8:1::/48 -p udp -j DROP",
    "-A INPUT -p udp -m multiport --dports 6000:6010 -m hl --hl-eq 64 -j DROP",
    "-A INPUT -p udp --dport 6100 -m limit --limit 1/hour --limit-burst 2 -j DROP",
    "-A INPUT -p udp --dport 6200 -m length --length 49:60 -j DROP",
];
/// The IPv4 table's rule, which no IPv6 packet meets.
const STATELESS4: [&str; 1] = ["-A INPUT -p tcp --dport 22 -j DROP"];

/// Connects to 22 (v6, then v4) and 23, an echo, datagrams to 5353,
/// 6005, 6100 and 6200; the verdicts and rules 2-9's counters.
fn stateless_probes(lab: &Lab, under: Under) -> (Vec<bool>, Vec<(u64, u64)>) {
    let _l = listen6(lab.server(), &[22, 23]);
    let verdicts = vec![
        tcp_probe(lab.client(), SERVER6, 22, DROP_WAIT),
        tcp_probe(lab.client(), SERVER_ADDR, 22, DROP_WAIT),
        tcp_probe(lab.client(), SERVER6, 23, DROP_WAIT),
        icmp6_probe(lab.client(), SERVER6, DROP_WAIT),
    ];
    send_udp6(lab.client(), SERVER6, 5353, 20, 3);
    send_udp6(lab.client(), SERVER6, 6005, 7, 2);
    send_udp6(lab.client(), SERVER6, 6100, 1, 4);
    for len in [0, 1, 12, 13] {
        send_udp6(lab.client(), SERVER6, 6200, len, 1);
    }
    let n = [2, 3, 4, 5, 6, 7, 8, 9];
    (verdicts, counters(&listing6(lab, under), &n))
}

/// Ports, a source prefix, an ICMPv6 type, multiport and hop limit:
/// fw's verdicts and counters are ip6tables-legacy's, and the IPv4
/// table's DROP of port 22 stops IPv4 only.
#[test]
fn ipv6_rules_give_ip6tables_verdicts_and_counters() {
    let lab = lab6("ipv6-stateless");
    // Rule 9: another host's MAC address, so it matches nothing.
    let c = mac(lab.client(), CLIENT_IF);
    let other = format!(
        "-A INPUT -p udp -m mac --mac-source {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} -j DROP",
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5] ^ 1
    );
    let rules: Vec<&str> = STATELESS6.iter().copied().chain([other.as_str()]).collect();
    load(&lab, Under::Fw, &rules, &STATELESS4);
    let fw = stateless_probes(&lab, Under::Fw);
    unload(&lab, Under::Fw);
    load(&lab, Under::Legacy, &rules, &STATELESS4);
    let legacy = stateless_probes(&lab, Under::Legacy);
    unload(&lab, Under::Legacy);
    assert_eq!(fw, legacy, "fw and ip6tables-legacy");
    // Spelled out, so that agreeing on nothing cannot pass: IPv6 to 22
    // connects, IPv4 to 22 does not, 23 and the echo are dropped; a
    // datagram is its IPv6 header (40), UDP's (8) and the payload.
    assert_eq!(fw.0, [true, false, false, false]);
    assert_eq!(
        fw.1,
        [
            (3, 3 * 68),
            (1, 96),
            (1, 80),
            (0, 0),
            (2, 2 * 55),
            (2, 2 * 49),
            (2, 49 + 60),
            (0, 0)
        ],
        "rules 2-9"
    );
}

const ND6: [&str; 4] = [
    "-P INPUT DROP",
    "-A INPUT -p ipv6-icmp --icmpv6-type neighbour-solicitation -j ACCEPT",
    "-A INPUT -p ipv6-icmp --icmpv6-type neighbour-advertisement -j ACCEPT",
    "-A INPUT -p tcp --dport 22 -j ACCEPT",
];

/// Connects to 22 with empty neighbour caches: with ND accepted as the
/// corpus rulesets accept it, and with the ND rules deleted.
fn nd_probes(lab: &Lab, under: Under) -> Vec<bool> {
    let _l = listen6(lab.server(), &[22]);
    let flush = || {
        for ns in [lab.client(), lab.server()] {
            ip(&format!("-n {ns} -6 neigh flush all")).unwrap();
        }
    };
    flush();
    let with_nd = tcp_probe(lab.client(), SERVER6, 22, Duration::from_secs(2));
    let del = ["-D INPUT 1", "-D INPUT 1"];
    load(lab, under, &del, &[]);
    flush();
    let without = tcp_probe(lab.client(), SERVER6, 22, Duration::from_secs(2));
    vec![with_nd, without]
}

/// Neighbour discovery under a default-DROP IPv6 policy: accepting
/// neighbour solicitations and advertisements keeps the host reachable;
/// without them it is not, under fw as under ip6tables-legacy.
#[test]
fn neighbour_discovery_needs_its_icmpv6_types_under_a_drop_policy() {
    let lab = lab6("ipv6-nd");
    load(&lab, Under::Fw, &ND6, &[]);
    let fw = nd_probes(&lab, Under::Fw);
    unload(&lab, Under::Fw);
    load(&lab, Under::Legacy, &ND6, &[]);
    let legacy = nd_probes(&lab, Under::Legacy);
    unload(&lab, Under::Legacy);
    assert_eq!(fw, [true, false], "fw");
    assert_eq!(legacy, fw, "ip6tables-legacy");
}

/// The MAC address of `dev` in namespace `ns`.
fn mac(ns: &str, dev: &str) -> [u8; 6] {
    let out = netns_exec(ns, "cat", &[&format!("/sys/class/net/{dev}/address")]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let b: Vec<u8> = text
        .trim()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    b.try_into().unwrap()
}

/// An Ethernet frame from the client to the server carrying an IPv6
/// packet with next header `next` and `payload`.
fn frame6(lab: &Lab, next: u8, payload: &[u8]) -> Vec<u8> {
    let macs = (mac(lab.server(), SERVER_IF), mac(lab.client(), CLIENT_IF));
    ipv6_frame(macs, CLIENT6, SERVER6, next, payload)
}

/// A UDP header to `dport` with `data` (checksum 0: netfilter does not
/// check it, and the stack drops these after the hooks).
fn udp(dport: u16, data: usize) -> Vec<u8> {
    let mut u = vec![0x9c, 0x40];
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend(std::iter::repeat_n(0x55, data));
    u
}

const HEADERS6: [&str; 3] = [
    "-A INPUT -p udp --dport 7001 -j ACCEPT",
    "-A INPUT -p udp -j ACCEPT",
    "-A INPUT -p tcp -j ACCEPT",
];

/// Frames with extension headers: destination options before UDP, a
/// first fragment, a later fragment, and a truncated destination
/// options header; rules 1-3's counters.
fn header_probes(lab: &Lab, under: Under) -> Vec<(u64, u64)> {
    const DEST: u8 = 60;
    const FRAG: u8 = 44;
    const UDP: u8 = 17;
    // Destination options (RFC 8200 4.6): next header, length 0 (8
    // bytes), a PadN option filling the rest.
    let dest = |next: u8| vec![next, 0, 1, 4, 0, 0, 0, 0];
    // Fragment header (RFC 8200 4.5): next, reserved, offset|M, id.
    let frag = |next: u8, offset8: u16, more: bool| {
        let w = offset8 << 3 | u16::from(more);
        let mut h = vec![next, 0];
        h.extend_from_slice(&w.to_be_bytes());
        h.extend_from_slice(&0x4657_0001u32.to_be_bytes());
        h
    };
    let frames = vec![
        // rule 1: 40 + 8 + 8 + 10 = 66 bytes.
        frame6(lab, DEST, &[dest(UDP), udp(7001, 10)].concat()),
        // rule 1: a first fragment carries the ports (40 + 8 + 8 + 16).
        frame6(lab, FRAG, &[frag(UDP, 0, true), udp(7001, 16)].concat()),
        // rule 2: a later fragment has no ports, only its protocol
        // (40 + 8 + 24).
        frame6(lab, FRAG, &[frag(UDP, 3, false), vec![0x77; 24]].concat()),
        // none: options claiming 16 bytes where the packet has 8.
        frame6(lab, DEST, &[0x11, 1, 1, 4, 0, 0, 0, 0]),
    ];
    send_frames(lab.client(), CLIENT_IF, &frames).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    counters(&listing6(lab, under), &[1, 2, 3])
}

/// ip6tables' `-p` finds the upper-layer protocol past the extension
/// headers, a non-first fragment carries no ports, and a truncated
/// extension header matches no `-p` rule (fw drops it before the rules
/// and counts it; ip6tables hot-drops it at the first `-p` rule).
#[test]
fn extension_headers_and_fragments_as_ip6tables() {
    let lab = lab6("ipv6-headers");
    load(&lab, Under::Fw, &HEADERS6, &[]);
    let fw = header_probes(&lab, Under::Fw);
    let status = String::from_utf8_lossy(&lab.fw(&["status"]).stdout).into_owned();
    unload(&lab, Under::Fw);
    load(&lab, Under::Legacy, &HEADERS6, &[]);
    let legacy = header_probes(&lab, Under::Legacy);
    unload(&lab, Under::Legacy);
    assert_eq!(fw, legacy, "fw and ip6tables-legacy");
    assert_eq!(fw, [(2, 66 + 72), (1, 72), (0, 0)]);
    assert!(
        status.contains(
            "dropped before any rule: malformed IPv6 header or extension header: 1 packets"
        ),
        "{status}"
    );
}

/// The two families' tables are apart: each lists, saves and counts its
/// own, `fw -6 -F` leaves IPv4's alone, and a policy's counters restart
/// with its own family's changes only.
#[test]
fn the_ipv4_and_ipv6_tables_are_apart() {
    let lab = lab6("ipv6-apart");
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "DROP"]);
    // ICMPv6 first: router solicitations and MLD reports come when they
    // come, and would reach the policy.
    lab.fw_ok(&["-6", "-A", "INPUT", "-p", "ipv6-icmp", "-j", "ACCEPT"]);
    lab.fw_ok(&[
        "-6", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "ACCEPT",
    ]);
    lab.fw_ok(&["-6", "-P", "FORWARD", "DROP"]);
    assert_eq!(
        lab.fw_ok(&["-6", "-S"]),
        "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-A INPUT -p ipv6-icmp -j ACCEPT\n\
         -A INPUT -p udp -m udp --dport 9 -j ACCEPT\n"
    );
    assert_eq!(
        lab.fw_ok(&["-S"]),
        "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -p udp -m udp --dport 9 -j DROP\n"
    );
    // Neighbour discovery first, then from zero (`-Z`, as ip6tables).
    send_udp6(lab.client(), SERVER6, 10, 0, 1);
    lab.fw_ok(&["-6", "-Z"]);
    send_udp6(lab.client(), SERVER6, 10, 0, 2);
    let policy6 = policy_counters(&lab.fw_ok(&["-6", "-L", "INPUT", "-v", "-n", "-x"]));
    assert_eq!(policy6, (2, 2 * 48), "IPv6 INPUT policy");
    // An IPv4 change leaves IPv6's policy counters as they were.
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "11", "-j", "DROP"]);
    let after = policy_counters(&lab.fw_ok(&["-6", "-L", "INPUT", "-v", "-n", "-x"]));
    assert_eq!(after, policy6);
    let save6 = lab.fw_ok(&["-6", "save"]);
    assert!(save6.starts_with("# Generated by fw6 save v"), "{save6}");
    assert!(save6.contains("-A INPUT -p udp -m udp --dport 9 -j ACCEPT\n"));
    let status = lab.fw_ok(&["status"]);
    assert!(
        status.contains("\nchain INPUT: policy ACCEPT, 2 rules\n")
            && status.contains("\nip6 chain INPUT: policy ACCEPT, 2 rules\n")
            && status.contains("\nip6 chain FORWARD: policy DROP, 0 rules\n"),
        "{status}"
    );
    lab.fw_ok(&["-6", "-F"]);
    assert_eq!(lab.fw_ok(&["-S", "INPUT"]).lines().count(), 3);
    // What the IPv6 path does not have yet is refused, the table as it was.
    let out = lab.fw(&[
        "-6",
        "-A",
        "INPUT",
        "-m",
        "addrtype",
        "--dst-type",
        "ANYCAST",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("not supported yet: -m addrtype ANYCAST or UNREACHABLE in IPv6"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lab.fw_ok(&["-6", "-S", "INPUT"]), "-P INPUT ACCEPT\n");
}

/// An IPv6 UDP packet from `src` to `dst:dport` with `data`, its
/// checksum over the pseudo-header (RFC 8200 8.1; IPv6 requires one).
fn udp6_packet(src: Ipv6Addr, dst: Ipv6Addr, dport: u16, data: &[u8]) -> Vec<u8> {
    let len = (8 + data.len()) as u16;
    let mut u = vec![0x9c, 0x41];
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&u32::from(len).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    pseudo.extend_from_slice(&u);
    let sum = internet_checksum(&pseudo);
    u[6..8].copy_from_slice(&sum.to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&u);
    p
}

const TUN6: [&str; 2] = [
    "-P INPUT DROP",
    "-A INPUT -i tun0 -p udp --dport 5353 -j ACCEPT",
];

/// IPv6 on a device without a link-layer header (tun, WireGuard): its
/// packets meet the IPv6 table at TC ingress, as ip6tables' INPUT: a
/// datagram to the accepted port reaches its socket, one to another
/// port does not, with ip6tables-legacy's counters.
#[test]
fn a_tun_device_filters_ipv6_as_ip6tables() {
    let local: Ipv6Addr = "2001:db8:6::1".parse().unwrap();
    let peer: Ipv6Addr = "2001:db8:6::2".parse().unwrap();
    let run = |under: Under| -> (Vec<bool>, String) {
        let ns = Netns::new("ipv6-tun").unwrap();
        let mut tun = Tun::open(ns.name(), "tun0", &format!("{local}/64 nodad")).unwrap();
        load_in(ns.name(), under, &TUN6, &[]);
        let name = ns.name().to_string();
        let got = [5353u16, 5354]
            .into_iter()
            .map(|port| {
                let sock =
                    in_netns(&name, move || UdpSocket::bind((local, port)).unwrap()).unwrap();
                sock.set_read_timeout(Some(DROP_WAIT)).unwrap();
                tun.send(&udp6_packet(peer, local, port, b"tun6"));
                sock.recv(&mut [0u8; 64]).is_ok()
            })
            .collect();
        let listing = listing6_in(ns.name(), under);
        if let Under::Fw = under {
            fw_reset(ns.name());
        }
        (got, listing)
    };
    let (fw, fw_list) = run(Under::Fw);
    let (legacy, legacy_list) = run(Under::Legacy);
    assert_eq!(fw, [true, false], "fw");
    assert_eq!(legacy, fw, "ip6tables-legacy");
    let both = |l: &str| (policy_counters(l), rule_counters(l, 1));
    assert_eq!(both(&fw_list), both(&legacy_list));
    assert_eq!(both(&fw_list), ((1, 52), (1, 52)));
}

const FORWARD6: [&str; 5] = [
    "-A FORWARD -p udp --dport 7000 -j DROP",
    "-A FORWARD -p udp --dport 7001 -m hl --hl-eq 63 -j DROP",
    "-A FORWARD -p udp --dport 7002 -m hl --hl-eq 64 -j DROP",
    "-A INPUT -p udp --dport 7003 -j DROP",
    "-A FORWARD -o veth-rs -p udp --dport 7004 -j DROP",
];

/// Datagrams through, to and back through the router: which arrive, and
/// the packets of FORWARD's rules 1-4 and INPUT's rule 1.
fn forward_probes(lab: &RouterLab, under: Under) -> (Vec<bool>, Vec<u64>) {
    let (c, r, s) = (lab.client.name(), lab.router.name(), lab.server.name());
    let server: Ipv6Addr = "2001:db8:2::2".parse().unwrap();
    let router: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
    let client: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    // Neighbours resolved first, so no probe waits for them.
    udp_probe(c, s, server, 6999, Duration::from_secs(2));
    let got = [
        (c, s, server, 7000),
        (c, s, server, 7001),
        (c, s, server, 7002),
        (c, s, server, 7003),
        (c, r, router, 7003),
        (c, s, server, 7004),
        (s, c, client, 7004),
    ]
    .into_iter()
    .map(|(from, to, a, port)| udp_probe(from, to, a, port, DROP_WAIT))
    .collect();
    let list = |chain: &str| {
        let args = ["-L", chain, "-v", "-n", "-x", "--line-numbers"];
        let out = match under {
            Under::Fw => fw_in(r, &[&["-6"], &args[..]].concat()).unwrap(),
            Under::Legacy => netns_exec(r, "ip6tables-legacy", &args).unwrap(),
        };
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (fwd, input) = (list("FORWARD"), list("INPUT"));
    let packets = [1, 2, 3, 4]
        .iter()
        .map(|&n| rule_counters(&fwd, n).0)
        .chain([rule_counters(&input, 1).0])
        .collect();
    (got, packets)
}

/// A router's IPv6: forwarded packets meet FORWARD (with the hop limit
/// one less, as `ip6_forward` decrements it before the hook), not INPUT;
/// `-o` is the route's interface; as under ip6tables-legacy.
#[test]
fn forwarded_ipv6_meets_forward_with_its_hop_limit_decremented() {
    let lab = RouterLab::new6();
    let r = lab.router.name().to_string();
    load_in(&r, Under::Fw, &FORWARD6, &[]);
    let fw = forward_probes(&lab, Under::Fw);
    fw_reset(&r);
    load_in(&r, Under::Legacy, &FORWARD6, &[]);
    let legacy = forward_probes(&lab, Under::Legacy);
    netns_exec(&r, "ip6tables-legacy", &["-F"]).unwrap();
    assert_eq!(fw, legacy, "fw and ip6tables-legacy");
    assert_eq!(
        fw,
        (
            vec![false, false, true, true, false, false, true],
            vec![1, 1, 0, 1, 1]
        )
    );
}

const STATEFUL6: [&str; 6] = [
    "-P INPUT DROP",
    "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -m conntrack --ctstate INVALID -j DROP",
    "-A INPUT -p ipv6-icmp --icmpv6-type neighbour-solicitation -j ACCEPT",
    "-A INPUT -p ipv6-icmp --icmpv6-type neighbour-advertisement -j ACCEPT",
    "-A INPUT -p tcp --dport 22 -j ACCEPT",
];

/// How a TCP connect from `ns` to `to:port` ends: `open`, `refused` (a
/// RST came back) or `timeout`.
fn connect6(ns: &str, to: Ipv6Addr, port: u16) -> &'static str {
    in_netns(ns, move || {
        match std::net::TcpStream::connect_timeout(&(to, port).into(), DROP_WAIT) {
            Ok(_) => "open",
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => "refused",
            Err(_) => "timeout",
        }
    })
    .unwrap()
}

/// A UDP request from `ns` to `to:port` on a connected socket: `answer`
/// (a datagram came back), `refused` (an ICMPv6 port unreachable did,
/// which Linux reports on the socket) or `timeout`.
fn request6(ns: &str, to: Ipv6Addr, port: u16) -> &'static str {
    in_netns(ns, move || {
        let s = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).unwrap();
        s.connect((to, port)).unwrap();
        s.set_read_timeout(Some(DROP_WAIT)).unwrap();
        s.send(b"request6").unwrap();
        match s.recv(&mut [0u8; 64]) {
            Ok(_) => "answer",
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => "refused",
            Err(_) => "timeout",
        }
    })
    .unwrap()
}

/// The server's own connections under a default-DROP IPv6 INPUT with
/// `-m state`: answers to what it opened are ESTABLISHED (TCP, UDP, an
/// echo), the ICMPv6 port unreachable about its datagram is RELATED,
/// neighbour discovery is neither INVALID nor anything but UNTRACKED
/// (an INVALID drop before the ND rules breaks nothing), and what the
/// client opens passes only where a rule lets NEW in.
fn stateful_probes(lab: &Lab) -> Vec<&'static str> {
    let (c, s) = (lab.client(), lab.server());
    let _l = listen6(s, &[22]);
    let _lc = listen6(c, &[8080]);
    // One UDP answer from the client.
    let echo = integration_tests::spawn_in_netns(c, || {
        let u = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 5300)).unwrap();
        u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, from)) = u.recv_from(&mut buf) {
            u.send_to(&buf[..n], from).unwrap();
        }
    })
    .unwrap();
    for ns in [c, s] {
        ip(&format!("-n {ns} -6 neigh flush all")).unwrap();
    }
    let got = vec![
        connect6(c, SERVER6, 22),
        connect6(s, CLIENT6, 8080),
        connect6(s, CLIENT6, 8081),
        request6(s, CLIENT6, 5300),
        request6(s, CLIENT6, 5301),
        if icmp6_probe(s, CLIENT6, DROP_WAIT) {
            "echo"
        } else {
            "none"
        },
        if icmp6_probe(c, SERVER6, DROP_WAIT) {
            "echo"
        } else {
            "none"
        },
        connect6(c, SERVER6, 23),
    ];
    let _ = echo.join();
    got
}

/// Connection tracking for IPv6, against ip6tables-legacy's: verdicts,
/// and `fw conntrack -L` lists the IPv6 connections.
#[test]
fn ipv6_connections_are_tracked_as_ip6tables_tracks_them() {
    let lab = lab6("ipv6-state");
    load(&lab, Under::Fw, &STATEFUL6, &[]);
    let fw = stateful_probes(&lab);
    let entries = lab.fw_ok(&["conntrack", "-L"]);
    unload(&lab, Under::Fw);
    load(&lab, Under::Legacy, &STATEFUL6, &[]);
    let legacy = stateful_probes(&lab);
    unload(&lab, Under::Legacy);
    assert_eq!(fw, legacy, "fw and ip6tables-legacy");
    assert_eq!(
        fw,
        [
            "open", "open", "refused", "answer", "refused", "echo", "none", "timeout"
        ]
    );
    assert!(
        entries.lines().any(|l| l.starts_with("icmpv6   58 ")
            && l.contains("src=2001:db8::2 dst=2001:db8::1 type=128 code=0")),
        "{entries}"
    );
    assert!(
        entries.lines().any(|l| l.starts_with("tcp      6 ")
            && l.contains("src=2001:db8::1 dst=2001:db8::2 sport=")
            && l.contains("dport=22 ")),
        "{entries}"
    );
}

/// The corpus's IPv6 restore files, and whether ip6tables-legacy-restore
/// takes each as it stands (03 jumps to a chain ufw creates elsewhere,
/// 24 lacks its COMMIT).
const CORPUS6: [(&str, bool); 4] = [
    ("03_ufw_before6.rules", false),
    ("04_rhel_sysconfig_ip6tables.rules", true),
    ("22_debian_raspi3_rules.v6", true),
    ("24_perfsonar_firewall_v6_noCOMMIT.conf", false),
];

/// Probes of a corpus file's lab, each as the socket saw it: from the
/// client to the server's TCP 22, 80 and 8080, UDP 53 and 5353 (with
/// IPV6_RECVERR) and an echo; from the server to the client's TCP 22 and
/// UDP 53 (whose answers meet the server's INPUT).
fn corpus_probes(lab: &Lab) -> Vec<(String, Seen)> {
    let wait = Duration::from_millis(700);
    let (c, s) = (lab.client(), lab.server());
    let mut out = Vec::new();
    for port in [22, 80, 8080] {
        out.push((
            format!("tcp/{port} in"),
            tcp_connect(c, SERVER6, port, wait).0,
        ));
    }
    for port in [53, 5353] {
        out.push((
            format!("udp/{port} in"),
            udp_request(c, SERVER6, port, true, wait).0,
        ));
    }
    let echo = if icmp6_probe(c, SERVER6, wait) {
        Seen::Connected
    } else {
        Seen::Silence
    };
    out.push(("echo in".into(), echo));
    out.push(("tcp/22 out".into(), tcp_connect(s, CLIENT6, 22, wait).0));
    out.push((
        "udp/53 out".into(),
        udp_request(s, CLIENT6, 53, true, wait).0,
    ));
    out
}

/// Every IPv6 corpus file that ip6tables-legacy-restore accepts loads
/// unchanged into `fw -6 restore` (and the others are refused by both),
/// `fw -6 -S` is `ip6tables-legacy -S`, and the probes end as under
/// ip6tables-legacy in the same lab.
///
/// ufw's before6.rules also runs completed as ufw links it (as the IPv4
/// corpus test completes before.rules): its default policy (INPUT and
/// FORWARD DROP), the `ufw6-logging-deny` chain it jumps to, and the
/// built-in chains' jumps to its chains.
#[test]
fn ipv6_corpus_files_load_and_agree_with_ip6tables_legacy() {
    let dir = integration_tests::corpus_dir();
    let ufw = std::fs::read_to_string(dir.join("03_ufw_before6.rules")).unwrap();
    let completed = ufw
        .replacen(
            "*filter\n",
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:ufw6-logging-deny - [0:0]\n",
            1,
        )
        .replacen(
            "COMMIT\n",
            "-A INPUT -j ufw6-before-input\n-A FORWARD -j ufw6-before-forward\n\
             -A OUTPUT -j ufw6-before-output\nCOMMIT\n",
            1,
        );
    assert_ne!(completed, ufw);
    let scratch = std::env::temp_dir().join(format!("fw-ufw6-{}.rules", std::process::id()));
    std::fs::write(&scratch, completed).unwrap();
    let cases = CORPUS6
        .iter()
        .map(|&(file, accepted)| (file.to_string(), dir.join(file), accepted))
        .chain([("03 completed".to_string(), scratch.clone(), true)]);
    for (file, path, accepted) in cases {
        let path = path.to_str().unwrap();
        let lab = lab6("c6");
        let (s, c) = (lab.server(), lab.client());
        let test = |tool: &str| {
            let out = sh_in(s, &format!("{tool} < \"$1\""), &[path.to_string()], None);
            out.status.success()
        };
        assert_eq!(
            test("ip6tables-legacy-restore --test"),
            accepted,
            "{file}: legacy"
        );
        let fw = fw_in(s, &["-6", "restore", "--test", path]).unwrap();
        assert_eq!(fw.status.success(), accepted, "{file}: fw --test");
        if !accepted {
            continue;
        }
        netns_exec(s, "sysctl", &["-qw", "net.ipv6.icmp.ratelimit=0"]).unwrap();
        let any = Ipv6Addr::UNSPECIFIED.into();
        let _listening = (
            tcp_backlogs_on(s, any, &[22, 80]).unwrap(),
            tcp_backlogs_on(c, any, &[22]).unwrap(),
            udp_echo_on(s, any, &[53, 5353]).unwrap(),
            udp_echo_on(c, any, &[53]).unwrap(),
        );
        let out = fw_in(s, &["-6", "restore", path]).unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fw_rules = String::from_utf8(fw_in(s, &["-6", "-S"]).unwrap().stdout).unwrap();
        let fw_seen = corpus_probes(&lab);
        fw_reset(s);
        assert!(test("ip6tables-legacy-restore"), "{file}: legacy restore");
        let legacy_rules = netns_exec(s, "ip6tables-legacy", &["-S"]).unwrap().stdout;
        let legacy_seen = corpus_probes(&lab);
        assert_eq!(
            fw_rules,
            String::from_utf8(legacy_rules).unwrap(),
            "{file}: -S"
        );
        for ((what, f), (_, l)) in fw_seen.iter().zip(&legacy_seen) {
            eprintln!("{file} {what:12} fw {f:?}  ip6tables-legacy {l:?}");
        }
        // A TCP connect an ICMPv6 error is about fails at once or at its
        // SYN's retransmission, as the error's timing has it (semantics
        // item 16): silence and an errno are the same outcome there.
        let same = |(what, f): &(String, Seen), (_, l): &(String, Seen)| {
            f == l
                || (what.starts_with("tcp")
                    && matches!(
                        (f, l),
                        (Seen::Silence, Seen::Errno(_)) | (Seen::Errno(_), Seen::Silence)
                    ))
        };
        assert!(
            fw_seen.len() == legacy_seen.len()
                && fw_seen.iter().zip(&legacy_seen).all(|(f, l)| same(f, l)),
            "{file}: the probes: fw {fw_seen:?}, ip6tables-legacy {legacy_seen:?}"
        );
        // Each file lets some probe through and stops another.
        assert!(fw_seen.iter().any(|(_, s)| *s == Seen::Connected), "{file}");
        assert!(fw_seen.iter().any(|(_, s)| *s != Seen::Connected), "{file}");
    }
    let _ = std::fs::remove_file(scratch);
}

const CHECKS6: [&str; 8] = [
    "-A INPUT -p tcp --dport 22 --tcp-option 2",
    "-A INPUT -p tcp --dport 22 ! --tcp-option 8",
    "-A INPUT -p tcp --dport 22 -m tcpmss --mss 1400:1500",
    "-A INPUT -p tcp --dport 22 -m tcpmss --mss 1:536",
    "-A INPUT -p tcp --dport 22 -m time --timestart 00:00 --timestop 23:59:59",
    "-A INPUT -p tcp --dport 22 -m time --datestop 2001-01-01",
    "-A OUTPUT -p udp --dport 5353 -m owner --uid-owner 0",
    "-A OUTPUT -p udp --dport 5353 -m owner ! --uid-owner 0-100",
];

/// The packets each rule of [`CHECKS6`] counted: a TCP connection from
/// the client to the server's port 22, and three datagrams the server
/// sends.
fn check_probes(lab: &Lab, under: Under) -> Vec<u64> {
    let _l = listen6(lab.server(), &[22]);
    assert!(tcp_probe(lab.client(), SERVER6, 22, DROP_WAIT));
    send_udp6(lab.server(), CLIENT6, 5353, 10, 3);
    std::thread::sleep(Duration::from_millis(200));
    packets(lab, under, 6, 2)
}

/// The packet counters of the server's first `input` IPv6 INPUT rules,
/// then of its first `output` OUTPUT rules.
fn packets(lab: &Lab, under: Under, input: usize, output: usize) -> Vec<u64> {
    let list = |chain: &str| {
        let args = ["-L", chain, "-v", "-n", "-x", "--line-numbers"];
        let out = match under {
            Under::Fw => fw_in(lab.server(), &[&["-6"], &args[..]].concat()).unwrap(),
            Under::Legacy => netns_exec(lab.server(), "ip6tables-legacy", &args).unwrap(),
        };
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (i, o) = (list("INPUT"), list("OUTPUT"));
    let mut n: Vec<u64> = (1..=input).map(|k| rule_counters(&i, k).0).collect();
    n.extend((1..=output).map(|k| rule_counters(&o, k).0));
    n
}

/// Removes what `under` loaded in the server's IPv6 INPUT and OUTPUT.
fn unload_both(lab: &Lab, under: Under) {
    match under {
        Under::Fw => fw_reset(lab.server()),
        Under::Legacy => {
            for chain in ["INPUT", "OUTPUT"] {
                netns_exec(lab.server(), "ip6tables-legacy", &["-F", chain]).unwrap();
            }
        }
    }
}

/// TCP options (`--tcp-option`, `-m tcpmss`), `-m time` and (OUTPUT)
/// `-m owner` in the IPv6 table count each packet as ip6tables-legacy's
/// do.
#[test]
fn ipv6_tcp_options_mss_time_and_owner_as_ip6tables() {
    let lab = lab6("chk6");
    let mut seen = Vec::new();
    for under in [Under::Fw, Under::Legacy] {
        load(&lab, under, &CHECKS6, &[]);
        seen.push(check_probes(&lab, under));
        unload_both(&lab, under);
    }
    eprintln!("fw {:?}\nip6tables-legacy {:?}", seen[0], seen[1]);
    assert_eq!(seen[0], seen[1]);
    // The SYN carries the MSS (1440 on this link), rules 3 and 4 apart;
    // the date in the past never matches; root sent the datagrams.
    assert_eq!(seen[0][2], 1);
    assert_eq!((seen[0][3], seen[0][5]), (0, 0));
    assert_eq!((seen[0][6], seen[0][7]), (3, 0));
}

const ROUTING6: [&str; 3] = [
    "-A INPUT -m rt --rt-type 0 -j DROP",
    "-A INPUT -m rt ! --rt-type 0 --rt-segsleft 1:2 --rt-len 24",
    "-A INPUT -p udp --dport 7002",
];

/// Frames with routing headers (RFC 8200 4.4): type 0 and type 2
/// before UDP, none, and one behind a later fragment (where
/// `ipv6_find_hdr` does not look); [`ROUTING6`]'s packet counters.
fn routing_probes(lab: &Lab, under: Under) -> Vec<u64> {
    const ROUTING: u8 = 43;
    const UDP: u8 = 17;
    // Next header, Hdr Ext Len (8-byte units past the first 8), type,
    // segments left, then 4 reserved bytes and the rest of the header.
    let routing = |ext_len: u8, ty: u8, segs: u8| {
        let mut h = vec![UDP, ext_len, ty, segs, 0, 0, 0, 0];
        h.resize(8 * (usize::from(ext_len) + 1), 0);
        h
    };
    let later = [ROUTING, 0, 0, 0x18, 0, 0, 0, 7];
    let frames = [
        frame6(lab, ROUTING, &[routing(1, 0, 0), udp(7002, 4)].concat()),
        frame6(lab, ROUTING, &[routing(2, 2, 1), udp(7002, 4)].concat()),
        frame6(lab, UDP, &udp(7002, 4)),
        frame6(
            lab,
            44,
            &[&later[..], &routing(2, 0, 1), &udp(7002, 4)].concat(),
        ),
    ];
    send_frames(lab.client(), CLIENT_IF, &frames).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    counters(&listing6(lab, under), &[1, 2, 3])
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// `-m rt` (ufw's before6.rules drops type 0 routing headers) compares
/// the first routing header's type, segments left and length as
/// ip6tables-legacy's does.
#[test]
fn routing_headers_as_ip6tables() {
    let lab = lab6("ipv6-rt");
    let mut seen = Vec::new();
    for under in [Under::Fw, Under::Legacy] {
        load(&lab, under, &ROUTING6, &[]);
        seen.push(routing_probes(&lab, under));
        unload(&lab, under);
    }
    assert_eq!(seen[0], seen[1], "fw and ip6tables-legacy");
    assert_eq!(seen[0], [1, 1, 2]);
}

const RANGES6: [&str; 4] = [
    "-A INPUT -p udp --dport 6300 -m iprange --src-range 2001:db8::1-2001:db8::3",
    "-A INPUT -p udp --dport 6300 -m iprange ! --src-range 2001:db8::2-2001:db8::ffff",
    "-A INPUT -p udp --dport 6300 -m iprange --dst-range 2001:db8::2",
    "-A INPUT -p udp --dport 6300 -m iprange --src-range 2001:db8::2-2001:db8::1",
];

/// `-m iprange` with IPv6 ranges (the classifier's address columns, as
/// prefixes) counts as ip6tables-legacy's: two datagrams from
/// 2001:db8::1 to 2001:db8::2.
#[test]
fn ipv6_address_ranges_as_ip6tables() {
    let lab = lab6("ipv6-range");
    let mut seen = Vec::new();
    for under in [Under::Fw, Under::Legacy] {
        load(&lab, under, &RANGES6, &[]);
        send_udp6(lab.client(), SERVER6, 6300, 4, 2);
        let c = counters(&listing6(&lab, under), &[1, 2, 3, 4]);
        seen.push(c.into_iter().map(|(p, _)| p).collect::<Vec<u64>>());
        unload(&lab, under);
    }
    assert_eq!(seen[0], seen[1], "fw and ip6tables-legacy");
    assert_eq!(seen[0], [2, 2, 2, 0]);
}

const TUPLES6: [&str; 6] = [
    "-A INPUT -p tcp --dport 22 -m conntrack --ctorigsrc 2001:db8::1",
    "-A INPUT -p tcp --dport 22 -m conntrack --ctorigsrc 2001:db8::/64 --ctorigdst 2001:db8::2",
    "-A INPUT -p tcp --dport 22 -m conntrack ! --ctorigsrc 2001:db8:1::/48 --ctorigdstport 22",
    "-A INPUT -p tcp --dport 22 -m conntrack --ctorigsrc 2001:db8::5",
    "-A OUTPUT -p tcp --sport 22 -m conntrack --ctdir REPLY --ctreplsrc 2001:db8::2",
    "-A OUTPUT -p tcp --sport 22 -m conntrack --ctrepldst 8000::/1",
];

/// `-m conntrack`'s tuple options with IPv6 addresses and prefixes
/// count a connection's packets as ip6tables-legacy's do, both ways.
#[test]
fn ipv6_conntrack_tuples_as_ip6tables() {
    let lab = lab6("ct6");
    let mut seen = Vec::new();
    for under in [Under::Fw, Under::Legacy] {
        load(&lab, under, &TUPLES6, &[]);
        let _l = listen6(lab.server(), &[22]);
        assert!(tcp_probe(lab.client(), SERVER6, 22, DROP_WAIT));
        std::thread::sleep(Duration::from_millis(200));
        seen.push(packets(&lab, under, 4, 2));
        unload_both(&lab, under);
    }
    eprintln!("fw {:?}\nip6tables-legacy {:?}", seen[0], seen[1]);
    assert_eq!(seen[0], seen[1]);
    let n = seen[0][0];
    assert!(n >= 2, "the handshake's SYN and ACK at least: {n}");
    assert_eq!(seen[0][1..4], [n, n, 0]);
    // The server's answers are the reply direction, to 2001:db8::1 (not
    // in 8000::/1).
    assert!(seen[0][4] >= 1 && seen[0][5] == 0, "{:?}", seen[0]);
}
