//! fw enforcing iptables rules on real packets between two namespaces
//! (issue 2): verdicts, exact counters, live edits,
//! OUTPUT and lo, status and reset.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use std::{net::UdpSocket, time::Duration};

#[path = "common/legacy.rs"]
mod legacy;
use legacy::{send_udp, under_iptables_legacy};

use integration_tests::{
    CLIENT_ADDR, Lab, PROBE_TIMEOUT, SERVER_ADDR, icmp_probe, in_netns, policy_counters,
    rule_counters, tcp_listen, tcp_probe, udp_probe,
};

/// A probe that is expected to be dropped waits this long.
const DROP_WAIT: Duration = Duration::from_millis(400);

/// `(packets, bytes)` of rule `n` (1-based) of `chain` in the server.
fn counters(lab: &Lab, chain: &str, n: usize) -> (u64, u64) {
    rule_counters(
        &lab.fw_ok(&["-L", chain, "-v", "-n", "-x", "--line-numbers"]),
        n,
    )
}

/// `(packets, bytes)` of `chain`'s policy in the server.
fn policy(lab: &Lab, chain: &str) -> (u64, u64) {
    policy_counters(&lab.fw_ok(&["-L", chain, "-v", "-n", "-x"]))
}

#[test]
fn verdicts_and_exact_counters() {
    let lab = Lab::new("verdict").unwrap();
    let _ssh = tcp_listen(lab.server(), 22).unwrap();
    let _telnet = tcp_listen(lab.server(), 23).unwrap();
    lab.fw_rules(&[
        "-A INPUT -p tcp --dport 22 -j ACCEPT",
        "-A INPUT -p udp --dport 5353 -j DROP",
        "-A INPUT -p icmp -j ACCEPT",
        "-A INPUT -s 203.0.113.0/24 -j ACCEPT",
        "-A INPUT -p udp -s 192.0.2.1 --dport 6000:6010 -j ACCEPT",
        "-P INPUT DROP",
    ]);
    assert!(
        tcp_probe(lab.client(), SERVER_ADDR, 22, PROBE_TIMEOUT),
        "ssh must pass"
    );
    assert!(
        !tcp_probe(lab.client(), SERVER_ADDR, 23, DROP_WAIT),
        "telnet must be dropped"
    );
    assert!(
        icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT),
        "ping must pass"
    );
    assert!(udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        6005,
        PROBE_TIMEOUT
    ));
    assert!(!udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        6011,
        DROP_WAIT
    ));

    let before = counters(&lab, "INPUT", 2);
    assert_eq!(before, (0, 0));
    send_udp(lab.client(), SERVER_ADDR, 5353, 100, 3);
    // 3 datagrams of 20 (IPv4) + 8 (UDP) + 100 bytes.
    assert_eq!(counters(&lab, "INPUT", 2), (3, 3 * 128));
    assert_eq!(
        counters(&lab, "INPUT", 4),
        (0, 0),
        "no packet from 203.0.113.0/24"
    );
    assert_eq!(counters(&lab, "INPUT", 3).0, 1, "one echo request");
    assert_eq!(counters(&lab, "INPUT", 5).0, 1, "one datagram to 6005");
    assert!(
        counters(&lab, "INPUT", 1).0 >= 3,
        "handshake and teardown of ssh"
    );
    assert!(policy(&lab, "INPUT").0 >= 2, "telnet SYNs and udp 6011");

    lab.fw_ok(&["-Z"]);
    assert_eq!(counters(&lab, "INPUT", 2), (0, 0));
    assert_eq!(policy(&lab, "INPUT"), (0, 0));
}

#[test]
fn live_edits_take_effect_on_the_next_packet() {
    let lab = Lab::new("edit").unwrap();
    let probe = || udp_probe(lab.client(), lab.server(), SERVER_ADDR, 7000, PROBE_TIMEOUT);
    let dropped = || !udp_probe(lab.client(), lab.server(), SERVER_ADDR, 7000, DROP_WAIT);
    let drop_7000 = ["-p", "udp", "--dport", "7000", "-j", "DROP"];
    assert!(probe());
    lab.fw_ok(&[&["-A", "INPUT"][..], &drop_7000].concat());
    assert!(dropped(), "-A must drop the next datagram");
    lab.fw_ok(&[&["-D", "INPUT"][..], &drop_7000].concat());
    assert!(probe(), "-D must restore delivery");
    lab.fw_ok(&[&["-A", "INPUT"][..], &drop_7000].concat());
    // A rule inserted before keeps the DROP's counters (iptables does too).
    send_udp(lab.client(), SERVER_ADDR, 7000, 10, 2);
    assert_eq!(counters(&lab, "INPUT", 1), (2, 2 * 38));
    lab.fw_ok(&[
        "-I", "INPUT", "-p", "udp", "--dport", "7001", "-j", "ACCEPT",
    ]);
    assert_eq!(counters(&lab, "INPUT", 2), (2, 2 * 38));
    assert!(dropped());
    lab.fw_ok(&["-D", "INPUT", "2"]);
    assert!(probe(), "-D by number must remove the DROP");
    lab.fw_ok(&[&["-A", "INPUT"][..], &drop_7000].concat());
    assert!(dropped());
    lab.fw_ok(&["-F", "INPUT"]);
    assert!(probe(), "-F must empty the chain");
    assert_eq!(lab.fw_ok(&["-S", "INPUT"]), "-P INPUT ACCEPT\n");
}

#[test]
fn output_chain_filters_locally_generated_packets() {
    let lab = Lab::new("output").unwrap();
    lab.fw_ok(&[
        "-A",
        "OUTPUT",
        "-p",
        "udp",
        "-d",
        "192.0.2.1",
        "--dport",
        "6000",
        "-j",
        "DROP",
    ]);
    // The server now sends: roles of the namespaces swap.
    assert!(!udp_probe(
        lab.server(),
        lab.client(),
        CLIENT_ADDR,
        6000,
        DROP_WAIT
    ));
    assert!(udp_probe(
        lab.server(),
        lab.client(),
        CLIENT_ADDR,
        6001,
        PROBE_TIMEOUT
    ));
    assert_eq!(counters(&lab, "OUTPUT", 1).0, 1, "the dropped probe");
    lab.fw_ok(&["-Z", "OUTPUT"]);
    send_udp(lab.server(), CLIENT_ADDR, 6000, 50, 4);
    assert_eq!(counters(&lab, "OUTPUT", 1), (4, 4 * 78));
}

#[test]
fn loopback_is_filtered_both_ways() {
    let lab = Lab::new("lo").unwrap();
    lab.fw_ok(&[
        "-A", "INPUT", "-i", "lo", "-p", "udp", "--dport", "6100", "-j", "DROP",
    ]);
    lab.fw_ok(&[
        "-A", "OUTPUT", "-o", "lo", "-p", "udp", "--dport", "6200", "-j", "DROP",
    ]);
    let lo = std::net::Ipv4Addr::LOCALHOST;
    assert!(!udp_probe(lab.server(), lab.server(), lo, 6100, DROP_WAIT));
    assert!(!udp_probe(lab.server(), lab.server(), lo, 6200, DROP_WAIT));
    assert!(udp_probe(
        lab.server(),
        lab.server(),
        lo,
        6300,
        PROBE_TIMEOUT
    ));
    assert_eq!(counters(&lab, "INPUT", 1).0, 1);
    assert_eq!(counters(&lab, "OUTPUT", 1).0, 1);
    // `-i lo` must not match the veth.
    assert!(udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        6100,
        PROBE_TIMEOUT
    ));
}

#[test]
fn status_and_reset() {
    let lab = Lab::new("status").unwrap();
    assert!(lab.fw_ok(&["status"]).contains("not loaded"));
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "7100", "-j", "DROP"]);
    let status = lab.fw_ok(&["status"]);
    let row = |name: &str| {
        status
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{status}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("lo")[2], "generic");
    assert_eq!(row("veth-s")[2], "native");
    assert!(
        status.contains("chain INPUT: policy ACCEPT, 1 rules"),
        "{status}"
    );
    assert!(!udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        7100,
        DROP_WAIT
    ));
    lab.fw_ok(&["reset"]);
    assert!(udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        7100,
        PROBE_TIMEOUT
    ));
    assert!(lab.fw_ok(&["status"]).contains("not loaded"));
    assert_eq!(
        lab.fw_ok(&["-S"]),
        "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
    );
}

#[test]
fn interfaces_created_later_are_attached_at_the_next_change() {
    let lab = Lab::new("newif").unwrap();
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "7200", "-j", "DROP"]);
    // A second link between the namespaces, made after fw loaded.
    integration_tests::ip(&format!(
        "-n {} link add veth-c2 type veth peer name veth-s2 netns {}",
        lab.client(),
        lab.server()
    ))
    .unwrap();
    for (ns, dev, addr) in [
        (lab.client(), "veth-c2", "198.51.100.1/24"),
        (lab.server(), "veth-s2", "198.51.100.2/24"),
    ] {
        integration_tests::ip(&format!("-n {ns} addr add {addr} dev {dev}")).unwrap();
        integration_tests::ip(&format!("-n {ns} link set {dev} up")).unwrap();
    }
    let second: std::net::Ipv4Addr = "198.51.100.2".parse().unwrap();
    lab.fw_ok(&[
        "-A", "INPUT", "-p", "udp", "--dport", "7201", "-j", "ACCEPT",
    ]);
    assert!(
        lab.fw_ok(&["status"])
            .lines()
            .any(|l| l.starts_with("veth-s2 "))
    );
    assert!(!udp_probe(
        lab.client(),
        lab.server(),
        second,
        7200,
        DROP_WAIT
    ));
    assert_eq!(counters(&lab, "INPUT", 1).0, 1);
    // Deleting it removes it from fw's attachments at the next change.
    integration_tests::ip(&format!("-n {} link del veth-s2", lab.server())).unwrap();
    lab.fw_ok(&["-D", "INPUT", "2"]);
    assert!(!lab.fw_ok(&["status"]).contains("veth-s2"));
}

#[test]
fn jumps_gotos_and_returns_through_user_chains() {
    let lab = Lab::new("chains").unwrap();
    lab.fw_rules(&[
        "-N web",
        "-N other",
        "-A INPUT -p udp --dport 7300:7301 -j web",
        "-A INPUT -p udp --dport 7300 -j ACCEPT",
        "-A INPUT -p udp -g other",
        "-A web -p udp --dport 7300 -j RETURN",
        "-A web -j DROP",
        "-A other -p udp --dport 7302 -j ACCEPT",
        "-P INPUT DROP",
    ]);
    let delivered = |port| udp_probe(lab.client(), lab.server(), SERVER_ADDR, port, PROBE_TIMEOUT);
    let dropped = |port| !udp_probe(lab.client(), lab.server(), SERVER_ADDR, port, DROP_WAIT);
    assert!(delivered(7300), "web RETURNs, then INPUT's rule 2 accepts");
    assert!(dropped(7301), "web drops");
    assert!(delivered(7302), "goto other, which accepts");
    assert!(
        dropped(7303),
        "the end of a chain reached by goto: INPUT's policy"
    );
    assert_eq!(counters(&lab, "INPUT", 1).0, 2);
    assert_eq!(counters(&lab, "INPUT", 2).0, 1);
    assert_eq!(counters(&lab, "INPUT", 3).0, 2);
    assert_eq!(counters(&lab, "web", 1).0, 1);
    assert_eq!(counters(&lab, "web", 2).0, 1);
    assert_eq!(counters(&lab, "other", 1).0, 1);
    assert_eq!(policy(&lab, "INPUT").0, 1);
}

#[test]
fn restore_starts_every_counter_at_zero_like_iptables_restore() {
    let lab = Lab::new("restore0").unwrap();
    lab.fw_ok(&[
        "-A", "INPUT", "-p", "udp", "--dport", "7400", "-j", "ACCEPT",
    ]);
    lab.fw_ok(&["-P", "INPUT", "DROP"]);
    send_udp(lab.client(), SERVER_ADDR, 7401, 10, 3);
    assert_eq!(policy(&lab, "INPUT").0, 3);
    let file = std::env::temp_dir().join(format!("fw-restore0-{}.rules", std::process::id()));
    std::fs::write(
        &file,
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         -A INPUT -p udp -m udp --dport 7400 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    let out = lab.fw(&["restore", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(policy(&lab, "INPUT"), (0, 0));
    send_udp(lab.client(), SERVER_ADDR, 7401, 10, 2);
    assert_eq!(policy(&lab, "INPUT"), (2, 2 * 38));
}

/// The server's rules of [`tcp_flags_icmp_types_and_lengths_as_iptables`].
const STATELESS: [&str; 8] = [
    "-A INPUT -p tcp --dport 8101 --syn -j DROP",
    "-A INPUT -p tcp --dport 8102 ! --syn -j DROP",
    "-A INPUT -p tcp --dport 8103 --tcp-flags FIN,SYN,RST,ACK SYN,ACK -j DROP",
    "-A INPUT -p icmp --icmp-type echo-request -j DROP",
    "-A INPUT -p icmp -m icmp --icmp-type echo-reply -j ACCEPT",
    "-A INPUT -p icmp -j DROP",
    "-A INPUT -p udp --dport 5301 -m length --length 0:100 -j DROP",
    "-A INPUT -p udp --dport 5301 -m length ! --length 0:100 -j DROP",
];

/// What the probes of [`tcp_flags_icmp_types_and_lengths_as_iptables`]
/// gave: connects to 8101..8103 and whether the server accepted them,
/// the client's and the server's ping, and the packets of rules 1, 4 and
/// 5 and the packets and bytes of rules 7 and 8.
type Stateless = ([(bool, usize); 3], [bool; 2], [u64; 3], [(u64, u64); 2]);

fn stateless_probes(lab: &Lab, counters: &dyn Fn(usize) -> (u64, u64)) -> Stateless {
    let mut tcp = [(false, 0); 3];
    for (i, port) in [8101u16, 8102, 8103].into_iter().enumerate() {
        let server = tcp_listen(lab.server(), port).unwrap();
        let connected = tcp_probe(lab.client(), SERVER_ADDR, port, DROP_WAIT);
        std::thread::sleep(Duration::from_millis(300));
        tcp[i] = (connected, server.accepted());
    }
    let pings = [
        icmp_probe(lab.client(), SERVER_ADDR, DROP_WAIT),
        icmp_probe(lab.server(), CLIENT_ADDR, PROBE_TIMEOUT),
    ];
    send_udp(lab.client(), SERVER_ADDR, 5301, 10, 3);
    send_udp(lab.client(), SERVER_ADDR, 5301, 200, 2);
    (
        tcp,
        pings,
        [counters(1).0, counters(4).0, counters(5).0],
        [counters(7), counters(8)],
    )
}

/// `--syn`, `! --syn`, `--tcp-flags`, `--icmp-type` and `-m length` on
/// real packets: a SYN dropped by `--syn` (the connect times out), the
/// handshake's ACK dropped by `! --syn` (the client connects, the server
/// never accepts), a SYN that `SYN,ACK` does not match; the client's echo
/// request dropped, the reply to the server's ping accepted; datagrams of
/// 38 and 228 bytes on either side of `--length 0:100`. The same rules
/// under iptables-legacy in the same lab give the same outcomes and
/// counters.
#[test]
fn tcp_flags_icmp_types_and_lengths_as_iptables() {
    let lab = Lab::new("stateless").unwrap();
    lab.fw_rules(&STATELESS);
    let fw = stateless_probes(&lab, &|n| counters(&lab, "INPUT", n));
    let want: Stateless = (
        [(false, 0), (true, 0), (true, 1)],
        [false, true],
        [1, 1, 1],
        [(3, 3 * 38), (2, 2 * 228)],
    );
    assert_eq!(fw, want, "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &STATELESS, |c| stateless_probes(&lab, c));
    assert_eq!(got, want, "iptables-legacy");
}

/// The server's rules of [`multiport_as_iptables`].
const MULTIPORT: [&str; 3] = [
    "-A INPUT -p udp -m multiport --dports 5401,5410:5420 -j DROP",
    "-A INPUT -p udp -m multiport ! --dports 5401:5430 -j DROP",
    "-A INPUT -p tcp -m multiport --dports 8201,8205:8206 -j DROP",
];

/// What the probes of [`multiport_as_iptables`] gave: connects to 8204
/// and 8205, the packets of rules 1 and 2.
type MultiportProbes = ([bool; 2], [u64; 2]);

fn multiport_probes(lab: &Lab, counters: &dyn Fn(usize) -> (u64, u64)) -> MultiportProbes {
    for (port, count) in [(5401, 2), (5415, 1), (5420, 1), (5421, 3), (5500, 2)] {
        send_udp(lab.client(), SERVER_ADDR, port, 10, count);
    }
    let mut tcp = [false; 2];
    for (i, port) in [8204u16, 8205].into_iter().enumerate() {
        let _server = tcp_listen(lab.server(), port).unwrap();
        tcp[i] = tcp_probe(lab.client(), SERVER_ADDR, port, DROP_WAIT);
    }
    (tcp, [counters(1).0, counters(2).0])
}

/// `-m multiport --dports` with a port and a range, and negated, on real
/// datagrams and a TCP connect: the same outcomes and counters under fw
/// and under iptables-legacy in the same lab.
#[test]
fn multiport_as_iptables() {
    let lab = Lab::new("multiport").unwrap();
    lab.fw_rules(&MULTIPORT);
    let want: MultiportProbes = ([true, false], [4, 2]);
    let fw = multiport_probes(&lab, &|n| counters(&lab, "INPUT", n));
    assert_eq!(fw, want, "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &MULTIPORT, |c| multiport_probes(&lab, c));
    assert_eq!(got, want, "iptables-legacy");
}

/// The server's rules of [`iprange_as_iptables`] (the client is
/// 192.0.2.1, the server 192.0.2.2).
const IPRANGE: [&str; 4] = [
    "-A INPUT -p udp --dport 5501 -m iprange --src-range 192.0.2.0-192.0.2.1 -j DROP",
    "-A INPUT -p udp --dport 5502 -m iprange ! --src-range 192.0.2.3-192.0.2.200 -j DROP",
    "-A INPUT -p udp --dport 5503 -m iprange --dst-range 192.0.2.3-192.0.2.9 -j DROP",
    "-A INPUT -p udp -m iprange --src-range 192.0.2.1-192.0.2.1 --dst-range 192.0.2.2-192.0.2.4",
];

/// `-m iprange` on real datagrams: a source range, a negated one, a
/// destination range the server is not in, both in one rule; the same
/// counters under fw and under iptables-legacy in the same lab.
#[test]
fn iprange_as_iptables() {
    let lab = Lab::new("iprange").unwrap();
    let probes = |counters: &dyn Fn(usize) -> (u64, u64)| {
        for (port, count) in [(5501, 2), (5502, 3), (5503, 1)] {
            send_udp(lab.client(), SERVER_ADDR, port, 10, count);
        }
        [1, 2, 3, 4].map(|n| counters(n).0)
    };
    lab.fw_rules(&IPRANGE);
    let want = [2, 3, 0, 1];
    assert_eq!(probes(&|n| counters(&lab, "INPUT", n)), want, "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &IPRANGE, |c| probes(c));
    assert_eq!(got, want, "iptables-legacy");
}

/// The server's rules of [`established_fast_path_counts_as_iptables`]:
/// the ESTABLISHED rule first, which the fast path takes without the walk.
const FAST: [&str; 4] = [
    "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    "-A INPUT -p tcp --dport 8301 -j ACCEPT",
    "-A INPUT -p udp --dport 5601 -j ACCEPT",
    "-P INPUT DROP",
];

/// The same after rules that can match ESTABLISHED packets (`-i lo`, the
/// UDP port): these keep the walk.
const WALK: [&str; 5] = [
    "-A INPUT -i lo -j ACCEPT",
    "-A INPUT -p udp --dport 5601 -j ACCEPT",
    "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    "-A INPUT -p tcp --dport 8301 -j ACCEPT",
    "-P INPUT DROP",
];

/// What [`established_probes`] gave: datagrams the server got, whether
/// the TCP exchange finished, each rule's (packets, bytes).
type Established = (usize, bool, Vec<(u64, u64)>);

/// A UDP flow the server opens (its datagram out, then three of 20 bytes
/// back from the client: ESTABLISHED), then a TCP connection from the
/// client to 8301 that the server closes and the client closes after:
/// from the client a SYN, then ESTABLISHED the handshake's ACK, the ACK
/// of the server's FIN and its own FIN.
fn established_probes(
    lab: &Lab,
    rules: usize,
    counters: &dyn Fn(usize) -> (u64, u64),
) -> Established {
    use std::io::Read;
    let bind = |ns: &str, port: u16| {
        in_netns(ns, move || UdpSocket::bind(("0.0.0.0", port)).unwrap()).unwrap()
    };
    let (client, server) = (bind(lab.client(), 5602), bind(lab.server(), 5601));
    for s in [&client, &server] {
        s.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
    }
    let mut buf = [0u8; 64];
    server.send_to(b"open", (CLIENT_ADDR, 5602)).unwrap();
    client.recv(&mut buf).unwrap();
    for _ in 0..3 {
        client.send_to(&[0x5a; 20], (SERVER_ADDR, 5601)).unwrap();
    }
    let mut got = 0;
    server.set_read_timeout(Some(DROP_WAIT)).unwrap();
    while server.recv(&mut buf).is_ok() {
        got += 1;
    }
    let _listener = tcp_listen(lab.server(), 8301).unwrap();
    let tcp = in_netns(lab.client(), || {
        let addr = std::net::SocketAddr::from((SERVER_ADDR, 8301));
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) else {
            return false;
        };
        s.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
        // Until the server's FIN; the client closes only once its ACK
        // of that FIN has surely left on its own (a delayed ACK waits at
        // most 200 ms), so the exchange has the same packets each time.
        let mut rest = Vec::new();
        let done = s.read_to_end(&mut rest).is_ok();
        std::thread::sleep(Duration::from_millis(500));
        done
    })
    .unwrap();
    // The last ACK of the close.
    std::thread::sleep(Duration::from_millis(300));
    (got, tcp, (1..=rules).map(counters).collect())
}

/// The ESTABLISHED fast path keeps every counter exact: with the
/// ESTABLISHED rule first (taken without the walk) and after rules that
/// can match ESTABLISHED packets (the walk), the counters of a UDP flow
/// and a TCP exchange are iptables-legacy's, packet for packet and byte
/// for byte.
#[test]
fn established_fast_path_counts_as_iptables() {
    for (name, rules) in [("ctfast", &FAST[..]), ("ctwalk", &WALK[..])] {
        let lab = Lab::new(name).unwrap();
        lab.fw_rules(rules);
        let n = rules.len() - 1;
        let fw = established_probes(&lab, n, &|n| counters(&lab, "INPUT", n));
        assert_eq!((fw.0, fw.1), (3, true), "{name}: fw");
        // The ESTABLISHED rule: the three TCP packets after the SYN, and
        // in ctfast the three datagrams (48 bytes each) too, which ctwalk
        // counts in its UDP rule; the SYN in the port rule.
        let (est, port) = if name == "ctfast" { (0, 1) } else { (2, 3) };
        assert_eq!(
            fw.2[est].0,
            if name == "ctfast" { 6 } else { 3 },
            "{name}: {fw:?}"
        );
        assert_eq!(fw.2[port].0, 1, "{name}: {fw:?}");
        if name == "ctwalk" {
            assert_eq!(fw.2[1], (3, 3 * 48), "{name}: {fw:?}");
        }
        integration_tests::fw_reset(lab.server());
        let legacy = under_iptables_legacy(&lab, rules, |c| established_probes(&lab, n, c));
        assert_eq!(fw, legacy, "{name}: fw, then iptables-legacy");
    }
}
