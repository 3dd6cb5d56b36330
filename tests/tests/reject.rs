//! `-j REJECT` seen from the sending socket, in INPUT (client → server,
//! fw on the server), FORWARD (the router lab, fw on the router) and
//! OUTPUT (fw on the sender, rejecting its own packets): every
//! `--reject-with` type gives `connect()` on TCP, and send/recv on a
//! connected UDP socket, the errno it gives under iptables-legacy, at
//! once, and the rule counters count each rejected packet exactly. The
//! same rules then run under real iptables-legacy in the same namespace,
//! which must agree probe by probe and counter by counter.

#[path = "common/iptables.rs"]
#[allow(unused_imports)]
mod iptables;
#[path = "common/router.rs"]
mod router;

// Dependencies of the integration-tests package this test does not use.
use anyhow as _;
use firewall as _;
use std::{net::Ipv4Addr, time::Duration};

use integration_tests::{
    CLIENT_ADDR, Lab, PROBE_TIMEOUT, SERVER_ADDR, Seen, fw_in, fw_reset, netns_exec, rule_counters,
    sysctl_in, tcp_connect, udp_request,
};
use router::RouterLab;

/// Every `--reject-with` type; `None` is REJECT without the option
/// (icmp-port-unreachable).
const TYPES: [Option<&str>; 9] = [
    Some("icmp-net-unreachable"),
    Some("icmp-host-unreachable"),
    Some("icmp-proto-unreachable"),
    Some("icmp-port-unreachable"),
    Some("icmp-net-prohibited"),
    Some("icmp-host-prohibited"),
    Some("icmp-admin-prohibited"),
    Some("tcp-reset"),
    None,
];

/// An answer must arrive well within this (a veth link answers in
/// microseconds); the probe itself waits [`PROBE_TIMEOUT`].
const FAST: Duration = Duration::from_millis(250);
/// How long a UDP socket that reports nothing is listened to.
const QUIET_WAIT: Duration = Duration::from_millis(300);

/// `connect()` to `to:port` from namespace `ns`: what it gave and how long
/// it took.
fn tcp(ns: &str, to: Ipv4Addr, port: u16) -> (Seen, Duration) {
    tcp_connect(ns, to, port, PROBE_TIMEOUT)
}

/// One datagram to `to:port` from a connected UDP socket in `ns`, then a
/// `recv()` (with `IP_RECVERR` when `recverr`).
fn udp(ns: &str, to: Ipv4Addr, port: u16, recverr: bool) -> (Seen, Duration) {
    let wait = if recverr { PROBE_TIMEOUT } else { QUIET_WAIT };
    udp_request(ns, to, port, recverr, wait)
}

/// The ports: TCP 7100 + i for type i, UDP 7200 + i (no UDP rule for
/// tcp-reset, which iptables allows only with `-p tcp`).
fn rules(chain: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, t) in TYPES.iter().enumerate() {
        let with = t.map_or(String::new(), |t| format!(" --reject-with {t}"));
        out.push(format!(
            "-A {chain} -p tcp --dport {} -j REJECT{with}",
            7100 + i
        ));
        if *t != Some("tcp-reset") {
            out.push(format!(
                "-A {chain} -p udp --dport {} -j REJECT{with}",
                7200 + i
            ));
        }
    }
    out
}

/// One probe's result: (what, what the socket saw).
type Probes = Vec<(String, Seen)>;

/// Every probe from `ns` to `to`: connect, UDP with IP_RECVERR, plain
/// UDP, for each type. Asserts that every answer came at once.
fn probe_all(ns: &str, to: Ipv4Addr) -> Probes {
    let mut out = Vec::new();
    for (i, t) in TYPES.iter().enumerate() {
        let name = t.unwrap_or("(default)");
        let mut runs = vec![("tcp", tcp(ns, to, 7100 + i as u16))];
        if *t != Some("tcp-reset") {
            runs.push(("udp+recverr", udp(ns, to, 7200 + i as u16, true)));
            runs.push(("udp", udp(ns, to, 7200 + i as u16, false)));
        }
        for (kind, (seen, took)) in runs {
            if let Seen::Errno(_) = seen {
                assert!(took < FAST, "{kind} {name}: {seen:?} after {took:?}");
            }
            out.push((format!("{kind} {name}"), seen));
        }
    }
    out
}

/// What Linux's sockets report for each probe of [`probe_all`], as
/// measured under iptables-legacy (icmp_err_convert in net/ipv4/icmp.c:
/// net and host unreachable are not fatal, so plain UDP does not report
/// them).
fn expected() -> Probes {
    use libc::{ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENOPROTOOPT};
    let errno = [
        ENETUNREACH,
        EHOSTUNREACH,
        ENOPROTOOPT,
        ECONNREFUSED,
        ENETUNREACH,
        EHOSTUNREACH,
        EHOSTUNREACH,
        ECONNREFUSED,
        ECONNREFUSED,
    ];
    let mut out = Vec::new();
    for (i, t) in TYPES.iter().enumerate() {
        let name = t.unwrap_or("(default)");
        out.push((format!("tcp {name}"), Seen::Errno(errno[i])));
        if *t != Some("tcp-reset") {
            out.push((format!("udp+recverr {name}"), Seen::Errno(errno[i])));
            let plain = if i < 2 {
                Seen::Silence
            } else {
                Seen::Errno(errno[i])
            };
            out.push((format!("udp {name}"), plain));
        }
    }
    out
}

/// The packet counter of every rule of `chain`, from `-L -v -n -x
/// --line-numbers` output of fw or iptables-legacy.
fn packet_counts(listing: &str, n: usize) -> Vec<u64> {
    (1..=n).map(|i| rule_counters(listing, i).0).collect()
}

/// What every probe should have counted: one SYN per TCP rule, two
/// datagrams per UDP rule.
fn expected_counts(chain: &str) -> Vec<u64> {
    rules(chain)
        .iter()
        .map(|r| if r.contains("-p tcp") { 1 } else { 2 })
        .collect()
}

fn sysctl(ns: &str, setting: &str) {
    sysctl_in(ns, setting).unwrap();
}

/// Runs the rules of `chain` under fw, then iptables-legacy, in `ns`,
/// probing from `from` to `to` each time; checks both against
/// [`expected`] and each other, and the counters.
fn compare(chain: &str, ns: &str, from: &str, to: Ipv4Addr) {
    iptables::require_iptables();
    // netfilter's icmp_send limits ICMP errors to one per second per
    // destination after a burst of 6 (net.ipv4.icmp_ratelimit); these
    // probes send 16 to one host, so the oracle's limit is lifted. fw
    // does not rate-limit (docs/semantics.md).
    sysctl(ns, "net.ipv4.icmp_ratelimit=0");
    let rules = rules(chain);
    for r in &rules {
        let out = fw_in(ns, &r.split(' ').collect::<Vec<_>>()).unwrap();
        assert!(
            out.status.success(),
            "fw {r}: {}",
            iptables::text(&out.stderr)
        );
    }
    let fw = probe_all(from, to);
    let listing = fw_in(ns, &["-L", chain, "-v", "-n", "-x", "--line-numbers"]).unwrap();
    let fw_counts = packet_counts(&iptables::text(&listing.stdout), rules.len());
    fw_reset(ns);

    for r in &rules {
        let out = netns_exec(ns, iptables::IPTABLES, &r.split(' ').collect::<Vec<_>>()).unwrap();
        assert!(
            out.status.success(),
            "iptables-legacy {r}: {}",
            iptables::text(&out.stderr)
        );
    }
    let legacy = probe_all(from, to);
    let listing = netns_exec(
        ns,
        iptables::IPTABLES,
        &["-L", chain, "-v", "-n", "-x", "--line-numbers"],
    )
    .unwrap();
    let legacy_counts = packet_counts(&iptables::text(&listing.stdout), rules.len());
    let _ = netns_exec(ns, iptables::IPTABLES, &["-F"]);

    for (((what, f), (_, l)), (_, want)) in fw.iter().zip(&legacy).zip(&expected()) {
        eprintln!("{chain:8} {what:40} fw {f:?}  iptables-legacy {l:?}");
        // In OUTPUT netfilter's drop also fails the send itself with EPERM
        // (docs/semantics.md, item 8), so iptables-legacy is printed there,
        // not compared.
        if chain != "OUTPUT" {
            assert_eq!(l, want, "{chain} {what}: iptables-legacy");
        }
        assert_eq!(f, want, "{chain} {what}: fw");
    }
    assert_eq!(fw.len(), expected().len());
    let want: Vec<u64> = expected_counts(chain);
    assert_eq!(fw_counts, want, "fw's counters");
    if chain != "OUTPUT" {
        assert_eq!(legacy_counts, want, "iptables-legacy's counters");
    }
}

#[test]
fn reject_in_input_answers_as_iptables_does() {
    // The client's end of the veth runs no XDP program: the answer must
    // reach it all the same (docs/semantics.md, item 16).
    let lab = Lab::new("rejin").unwrap();
    compare("INPUT", lab.server(), lab.client(), SERVER_ADDR);
}

#[test]
fn reject_in_forward_answers_as_iptables_does() {
    let lab = RouterLab::new();
    let server = Ipv4Addr::new(198, 51, 100, 2);
    compare("FORWARD", lab.router.name(), lab.client.name(), server);
}

#[test]
fn reject_in_output_answers_as_iptables_does() {
    let lab = Lab::new("rejout").unwrap();
    compare("OUTPUT", lab.server(), lab.server(), CLIENT_ADDR);
}
