//! INPUT versus FORWARD versus OUTPUT in a three-namespace router lab:
//! client 192.0.2.1 — (192.0.2.2) router (198.51.100.1) — server
//! 198.51.100.2. fw runs on the router, which forwards between the two.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

#[path = "common/router.rs"]
mod router;

use std::{net::Ipv4Addr, time::Duration};

use integration_tests::{Netns, PROBE_TIMEOUT, fw_reset, udp_probe};
use router::RouterLab;

const DROP_WAIT: Duration = Duration::from_millis(400);

/// Whether a UDP probe from `from` to `addr`:`port` in `to` arrives
/// within [`PROBE_TIMEOUT`].
fn passes(from: &Netns, to: &Netns, addr: Ipv4Addr, port: u16) -> bool {
    udp_probe(from.name(), to.name(), addr, port, PROBE_TIMEOUT)
}

/// Whether the same probe is dropped: it has not arrived after
/// [`DROP_WAIT`].
fn dropped(from: &Netns, to: &Netns, addr: Ipv4Addr, port: u16) -> bool {
    !udp_probe(from.name(), to.name(), addr, port, DROP_WAIT)
}

#[test]
fn forwarded_packets_meet_forward_not_input_or_output() {
    let lab = RouterLab::new();
    let server = "198.51.100.2".parse::<Ipv4Addr>().unwrap();
    let router = "192.0.2.2".parse::<Ipv4Addr>().unwrap();
    // Routing works before fw is there.
    assert!(passes(&lab.client, &lab.server, server, 7000));

    lab.fw("-A FORWARD -p udp --dport 7000 -j DROP");
    lab.fw("-A FORWARD -o veth-rs -p udp --dport 7002 -j DROP");
    lab.fw("-A FORWARD -i veth-rs -p udp --dport 7003 -j DROP");
    lab.fw("-A INPUT -p udp --dport 7001 -j DROP");
    lab.fw("-A OUTPUT -p udp --dport 7001 -j DROP");

    assert!(
        dropped(&lab.client, &lab.server, server, 7000),
        "FORWARD drops"
    );
    assert_eq!(lab.counters("FORWARD", 1).0, 1);
    // INPUT and OUTPUT rules do not see forwarded packets.
    assert!(passes(&lab.client, &lab.server, server, 7001));
    assert_eq!(lab.counters("INPUT", 1), (0, 0));
    assert_eq!(lab.counters("OUTPUT", 1), (0, 0));
    // ...but INPUT sees packets for the router itself.
    assert!(dropped(&lab.client, &lab.router, router, 7001));
    assert_eq!(lab.counters("INPUT", 1).0, 1);
    // -o is the interface the route leaves by, -i the one it came in by.
    assert!(dropped(&lab.client, &lab.server, server, 7002));
    assert!(passes(&lab.client, &lab.server, server, 7003));
    assert_eq!(lab.counters("FORWARD", 2).0, 1);
    assert_eq!(lab.counters("FORWARD", 3), (0, 0));
    // The way back: server to client, in on veth-rs.
    let client = "192.0.2.1".parse::<Ipv4Addr>().unwrap();
    assert!(dropped(&lab.server, &lab.client, client, 7003));
    assert_eq!(lab.counters("FORWARD", 3).0, 1);
    // FORWARD's policy.
    lab.fw("-P FORWARD DROP");
    assert!(dropped(&lab.client, &lab.server, server, 7005));
    assert!(passes(&lab.client, &lab.router, router, 7005));
}

/// `-m ttl` sees the TTL as netfilter's hook does: as received in INPUT,
/// one less in FORWARD (ip_forward() decrements it before the hook), as
/// sent in OUTPUT. The same rules under iptables-legacy on the same
/// router give the same verdicts.
#[test]
fn ttl_is_seen_as_netfilter_sees_it() {
    let lab = RouterLab::new();
    let addr = |a: &str| a.parse::<Ipv4Addr>().unwrap();
    let (server, router) = (addr("198.51.100.2"), addr("192.0.2.2"));
    let rules = [
        "-A FORWARD -p udp --dport 7010 -m ttl --ttl-eq 63 -j DROP",
        "-A FORWARD -p udp --dport 7011 -m ttl --ttl-eq 64 -j DROP",
        "-A INPUT -p udp --dport 7012 -m ttl --ttl-eq 64 -j DROP",
        "-A INPUT -p udp --dport 7013 -m ttl --ttl-lt 64 -j DROP",
        "-A OUTPUT -p udp --dport 7014 -m ttl --ttl-gt 63 -j DROP",
    ];
    // (from, to, address, port): whether each probe gets through.
    let probes = |lab: &RouterLab| -> Vec<bool> {
        let (c, r, s) = (lab.client.name(), lab.router.name(), lab.server.name());
        [
            (c, s, server, 7010),
            (c, s, server, 7011),
            (c, r, router, 7012),
            (c, r, router, 7013),
            (r, s, server, 7014),
        ]
        .into_iter()
        .map(|(from, to, a, port)| udp_probe(from, to, a, port, DROP_WAIT))
        .collect()
    };
    for r in rules {
        lab.fw(r);
    }
    let fw = probes(&lab);
    assert_eq!(fw, [false, true, false, true, false]);
    assert_eq!(lab.counters("FORWARD", 1).0, 1);
    assert_eq!(lab.counters("FORWARD", 2).0, 0);
    fw_reset(lab.router.name());

    lab.legacy(&rules);
    let legacy = probes(&lab);
    lab.legacy_reset();
    assert_eq!(fw, legacy, "fw and iptables-legacy");
}

/// Forwarded flows are tracked (at XDP on each direction's input
/// interface): a router that forwards only ESTABLISHED/RELATED and NEW
/// from the client side lets the client's connections through, answers
/// included, and none that the server opens. iptables-legacy's conntrack
/// on the same router agrees.
#[test]
fn forwarded_flows_are_tracked() {
    let lab = RouterLab::new();
    let addr = |a: &str| a.parse::<std::net::Ipv4Addr>().unwrap();
    let (client, server) = (addr("192.0.2.1"), addr("198.51.100.2"));
    let rules = [
        "-P FORWARD DROP",
        "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "-A FORWARD -i veth-rc -m state --state NEW -j ACCEPT",
    ];
    let _at_server = integration_tests::tcp_listen(lab.server.name(), 8080).unwrap();
    let _at_client = integration_tests::tcp_listen(lab.client.name(), 8081).unwrap();
    let probes = |lab: &RouterLab| -> Vec<bool> {
        vec![
            integration_tests::tcp_probe(lab.client.name(), server, 8080, PROBE_TIMEOUT),
            integration_tests::tcp_probe(lab.server.name(), client, 8081, DROP_WAIT),
            integration_tests::icmp_probe(lab.client.name(), server, PROBE_TIMEOUT),
            integration_tests::icmp_probe(lab.server.name(), client, DROP_WAIT),
        ]
    };
    for r in rules {
        lab.fw(r);
    }
    let fw = probes(&lab);
    assert_eq!(fw, [true, false, true, false]);
    let listing = lab.fw("conntrack -L");
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("tcp      6 ") && l.contains("dport=8080 src=198.51.100.2")),
        "{listing}"
    );
    fw_reset(lab.router.name());

    lab.legacy(&rules);
    let legacy = probes(&lab);
    lab.legacy_reset();
    assert_eq!(fw, legacy, "fw and iptables-legacy");
}
