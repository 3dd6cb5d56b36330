//! The examples in rules/ (issue 12): each YAML file and its
//! iptables-save twin give the same ruleset (`fw save` after either is the
//! same), and each enforces what its comments promise on real packets, at
//! least one probe allowed and one denied, in a namespace lab: the
//! stateful server and the demo in the two-namespace lab, the router, the
//! WireGuard gateway and the container host on the router of the
//! three-namespace lab, with the examples' interface names (eth0, eth1,
//! wg0) renamed to the lab's.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

#[path = "common/router.rs"]
mod router;

use std::{net::Ipv4Addr, process::Output, time::Duration};

use integration_tests::{
    Lab, PROBE_TIMEOUT, SERVER_ADDR, TempFile, Tun, fw_in, fw_reset, icmp_probe, ip, sh_in,
    tcp_backlogs, tcp_packet, tcp_probe, udp_packet, udp_probe, workspace_root,
};
use router::RouterLab;

/// A probe that is expected to be dropped is given up after this (before
/// the SYN's first retransmission, 1 s).
const DROP_WAIT: Duration = Duration::from_millis(400);

/// The router lab's addresses (tests/tests/common/router.rs).
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ROUTER_LAN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const ROUTER_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// The WireGuard example's tunnel: the gateway's end and a peer.
const TUNNEL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// rules/`name`, read.
fn example(name: &str) -> String {
    let p = workspace_root().join("rules").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// rules/`name` with each `(from, to)` of `renames` replaced, as a
/// temporary file.
fn renamed(name: &str, renames: &[(&str, &str)]) -> TempFile {
    let mut s = example(name);
    for (from, to) in renames {
        s = s.replace(from, to);
    }
    TempFile::new(&format!("examples-{name}"), &s)
}

/// `fw ARGS` in `ns`, which must succeed; its stdout.
fn fw_ok(ns: &str, args: &[&str]) -> String {
    let out: Output = fw_in(ns, args).unwrap();
    assert!(
        out.status.success(),
        "fw {}: {}",
        args.join(" "),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `fw save` in `ns` without its comment lines (they hold the date).
fn saved(ns: &str) -> String {
    fw_ok(ns, &["save"])
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Whether a UDP datagram to the lab server's port 53 arrives.
fn dns_passes(lab: &Lab) -> bool {
    udp_probe(lab.client(), lab.server(), SERVER_ADDR, 53, DROP_WAIT)
}

#[test]
fn each_yaml_example_and_its_rules_twin_give_the_same_ruleset() {
    let lab = Lab::new("ex-same").unwrap();
    let ns = lab.server();
    let root = workspace_root().join("rules");
    for name in ["server", "router", "wireguard", "container-host"] {
        let yaml = root.join(format!("{name}.yaml")).display().to_string();
        let rules = root.join(format!("{name}.rules")).display().to_string();
        fw_ok(ns, &["apply", &yaml]);
        let from_yaml = saved(ns);
        fw_ok(ns, &["restore", &rules]);
        assert_eq!(saved(ns), from_yaml, "{name}.rules against {name}.yaml");
        let diff = fw_in(ns, &["apply", "--diff", &yaml]).unwrap();
        assert_eq!(
            (diff.status.code(), text(&diff.stdout)),
            (Some(0), String::new()),
            "{name}"
        );
        assert!(from_yaml.contains(":INPUT DROP"), "{name}: {from_yaml}");
    }
    // demo.rules is fw command lines (what `cargo xtask demo` runs).
    fw_ok(
        ns,
        &["apply", &root.join("demo.yaml").display().to_string()],
    );
    let from_yaml = saved(ns);
    fw_reset(ns);
    for line in example("demo.rules").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        fw_ok(ns, &line.split_whitespace().collect::<Vec<_>>());
    }
    assert_eq!(saved(ns), from_yaml, "demo.rules against demo.yaml");
}

#[test]
fn the_server_example_lets_in_ssh_https_and_ping_and_slows_ssh_brute_force() {
    let lab = Lab::new("ex-server").unwrap();
    let _listeners = tcp_backlogs(lab.server(), &[22, 80, 443]).unwrap();
    let f = workspace_root().join("rules/server.yaml");
    lab.fw_ok(&["apply", f.to_str().unwrap()]);
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 443, PROBE_TIMEOUT));
    assert!(icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 80, DROP_WAIT));
    assert!(!dns_passes(&lab));
    // Three new SSH connections within 60 s pass, the fourth is dropped.
    let ssh: Vec<bool> = (0..4)
        .map(|i| {
            let wait = if i < 3 { PROBE_TIMEOUT } else { DROP_WAIT };
            tcp_probe(lab.client(), SERVER_ADDR, 22, wait)
        })
        .collect();
    assert_eq!(ssh, [true, true, true, false]);
}

#[test]
fn the_demo_yaml_lets_in_what_the_demo_promises() {
    let lab = Lab::new("ex-demo").unwrap();
    let _listeners = tcp_backlogs(lab.server(), &[22, 23, 80, 8080]).unwrap();
    let f = workspace_root().join("rules/demo.yaml");
    lab.fw_ok(&["apply", f.to_str().unwrap()]);
    for port in [22, 80] {
        assert!(tcp_probe(lab.client(), SERVER_ADDR, port, PROBE_TIMEOUT));
    }
    assert!(icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
    for port in [23, 8080] {
        assert!(!tcp_probe(lab.client(), SERVER_ADDR, port, DROP_WAIT));
    }
    assert!(!dns_passes(&lab));
}

#[test]
fn the_router_example_filters_what_it_forwards() {
    let lab = RouterLab::new();
    let (c, r, s) = (lab.client.name(), lab.router.name(), lab.server.name());
    // The LAN is the client's side, the internet the server's; the
    // published web server is a second address of the client.
    ip(&format!("-n {c} addr add 192.0.2.10/24 dev veth-c")).unwrap();
    let f = renamed("router.yaml", &[("eth0", "veth-rs"), ("eth1", "veth-rc")]);
    fw_ok(r, &["apply", f.path()]);
    let _web = tcp_backlogs(c, &[22, 443, 8443]).unwrap();
    let _out = tcp_backlogs(s, &[80]).unwrap();
    let _ssh = tcp_backlogs(r, &[22]).unwrap();
    let published = Ipv4Addr::new(192, 0, 2, 10);
    // LAN out, and its replies back: allowed.
    assert!(tcp_probe(c, SERVER, 80, PROBE_TIMEOUT));
    // The internet in: the published port only.
    assert!(tcp_probe(s, published, 443, PROBE_TIMEOUT));
    assert!(!tcp_probe(s, published, 8443, DROP_WAIT));
    assert!(!tcp_probe(s, CLIENT, 22, DROP_WAIT));
    // The router's own SSH from the LAN only.
    assert!(tcp_probe(c, ROUTER_LAN, 22, PROBE_TIMEOUT));
    assert!(!tcp_probe(s, ROUTER_WAN, 22, DROP_WAIT));
    assert!(icmp_probe(s, ROUTER_WAN, PROBE_TIMEOUT));
}

#[test]
fn the_wireguard_example_filters_its_tunnel() {
    let lab = RouterLab::new();
    let (r, s) = (lab.router.name(), lab.server.name());
    // No wireguard module here: a tun device named wg0, whose packets
    // start at the IP header as wg0's do, is the tunnel; what the test
    // writes to it is what a peer's decrypted packets would be.
    let mut wg0 = Tun::open(r, "wg0", "203.0.113.1/24").unwrap();
    let routed = sh_in(s, "ip route add 203.0.113.0/24 via 198.51.100.1", &[], None);
    assert!(routed.status.success(), "{}", text(&routed.stderr));
    let f = renamed("wireguard.yaml", &[("eth0", "veth-rs")]);
    let out = fw_in(r, &["apply", f.path()]).unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(0), String::new())
    );
    let check = fw_in(r, &["status", "--check"]).unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    // The tunnel's port from the internet: allowed; another: dropped.
    assert!(udp_probe(s, r, ROUTER_WAN, 51820, PROBE_TIMEOUT));
    assert!(!udp_probe(s, r, ROUTER_WAN, 51821, DROP_WAIT));
    let _router = tcp_backlogs(r, &[22]).unwrap();
    let _server = tcp_backlogs(s, &[80]).unwrap();
    let sent = |wg0: &mut Tun| -> Vec<(Ipv4Addr, u16, u8)> {
        wg0.sent(DROP_WAIT)
            .into_iter()
            .filter(|p| p[9] == 6)
            .map(|p| {
                let from = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
                (from, u16::from_be_bytes([p[20], p[21]]), p[33])
            })
            .collect()
    };
    const SYN: u8 = 0x02;
    const SYN_ACK: u8 = 0x12;
    const RST: u8 = 0x04;
    // A peer out to the internet (FORWARD -i wg0 -o eth0): the server's
    // SYN-ACK comes back into the tunnel (ESTABLISHED).
    wg0.send(&tcp_packet(PEER, SERVER, (40000, 80), SYN, (1, 0)));
    assert_eq!(sent(&mut wg0), [(SERVER, 80, SYN_ACK)]);
    // Closed again (an ESTABLISHED RST), so that no SYN-ACK is resent.
    wg0.send(&tcp_packet(PEER, SERVER, (40000, 80), RST, (2, 0)));
    // A peer to the gateway's SSH (INPUT, any interface): answered; to
    // the tunnel's port from inside the tunnel (`-i eth0` only): not.
    wg0.send(&tcp_packet(PEER, TUNNEL, (40001, 22), SYN, (1, 0)));
    assert_eq!(sent(&mut wg0), [(TUNNEL, 22, SYN_ACK)]);
    wg0.send(&tcp_packet(PEER, TUNNEL, (40001, 22), RST, (2, 0)));
    // Accepted, it would get a port unreachable back (nothing listens).
    wg0.send(&udp_packet(PEER, TUNNEL, (40002, 51821), b"x"));
    assert_eq!(wg0.sent(DROP_WAIT), Vec::<Vec<u8>>::new());
    // The internet into the tunnel: only replies, so a new connection
    // from the server to a peer never reaches wg0.
    assert!(!tcp_probe(s, PEER, 22, DROP_WAIT));
    assert_eq!(sent(&mut wg0), []);
    let listing = fw_ok(r, &["-L", "FORWARD", "-v", "-n", "-x", "--line-numbers"]);
    // Rule 1 (ESTABLISHED) the SYN-ACK and the RST, rule 2 (-i wg0 -o
    // eth0) the SYN; the server's SYNs fall to the policy.
    assert_eq!(integration_tests::rule_counters(&listing, 1), (2, 84));
    assert_eq!(integration_tests::rule_counters(&listing, 2), (1, 40));
    assert_ne!(
        integration_tests::policy_counters(&listing).0,
        0,
        "{listing}"
    );
}

#[test]
fn the_container_host_example_filters_the_bridge() {
    let lab = RouterLab::new();
    let (c, r, s) = (lab.client.name(), lab.router.name(), lab.server.name());
    // The router is the host: its server side becomes the bridge docker0
    // with the "container" (the server namespace) on a port; the client
    // is the internet, behind eth0.
    let bridge = sh_in(
        r,
        "ip addr del 198.51.100.1/24 dev veth-rs && ip link add docker0 type bridge && \
         ip link set veth-rs master docker0 && ip addr add 198.51.100.1/24 dev docker0 && \
         ip link set docker0 up",
        &[],
        None,
    );
    assert!(bridge.status.success(), "{}", text(&bridge.stderr));
    let f = renamed("container-host.yaml", &[("eth0", "veth-rc")]);
    fw_ok(r, &["apply", f.path()]);
    let _internet = tcp_backlogs(c, &[80, 22]).unwrap();
    let _container = tcp_backlogs(s, &[8080, 22]).unwrap();
    let _host = tcp_backlogs(r, &[22]).unwrap();
    // The container out to the internet: allowed; the internet in: the
    // published port only.
    assert!(tcp_probe(s, CLIENT, 80, PROBE_TIMEOUT));
    assert!(tcp_probe(c, SERVER, 8080, PROBE_TIMEOUT));
    assert!(!tcp_probe(c, SERVER, 22, DROP_WAIT));
    // The host's resolver for containers, not for the internet.
    assert!(udp_probe(s, r, ROUTER_WAN, 53, PROBE_TIMEOUT));
    assert!(!udp_probe(c, r, ROUTER_LAN, 53, DROP_WAIT));
    assert!(tcp_probe(c, ROUTER_LAN, 22, PROBE_TIMEOUT));
}
