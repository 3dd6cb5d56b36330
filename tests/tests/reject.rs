//! `-j REJECT` seen from the sending socket, in INPUT (client → server,
//! fw on the server), FORWARD (the router lab, fw on the router) and
//! OUTPUT (fw on the sender, rejecting its own packets): every
//! `--reject-with` type gives `connect()` on TCP, and send/recv on a
//! connected UDP socket, the errno it gives under iptables-legacy, at
//! once, and the rule counters count each rejected packet exactly. The
//! same rules then run under real iptables-legacy in the same namespace,
//! which must agree probe by probe and counter by counter. The same for
//! IPv6: `fw -6` against ip6tables-legacy, with ip6tables' types.

#[path = "common/iptables.rs"]
#[allow(unused_imports)]
mod iptables;
#[path = "common/router.rs"]
mod router;

// Dependencies of the integration-tests package this test does not use.
use anyhow as _;
use firewall as _;
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use integration_tests::{
    CLIENT_ADDR, Lab, PROBE_TIMEOUT, SERVER_ADDR, Seen, fw_in, fw_reset, netns_exec, rule_counters,
    sysctl_in, tcp_connect, udp_request,
};
use libc::{EACCES, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENOPROTOOPT};
use router::RouterLab;

/// One family's REJECT: its tools, its types and what sockets report.
struct Family {
    /// What goes before fw's arguments (`-6` for IPv6).
    fw: &'static [&'static str],
    /// The oracle.
    legacy: &'static str,
    /// Every `--reject-with` type; `None` is REJECT without the option
    /// (the family's port unreachable).
    types: &'static [Option<&'static str>],
    /// The errno of `connect()` and of a UDP socket with IP_RECVERR, per
    /// type (`icmp_err_convert`, `icmpv6_err_convert`).
    errno: &'static [i32],
    /// Whether the error is fatal, so that a UDP socket without
    /// IP_RECVERR reports it too.
    fatal: &'static [bool],
    /// Whether `connect()` reports it at once: IPv6's TCP goes on
    /// waiting through every ICMPv6 type (under ip6tables-legacy as
    /// under fw) until its SYN's first retransmission (after 1 s), and
    /// fails at once only on a RST.
    tcp_fails: &'static [bool],
    /// The sysctl that lifts the kernel's ICMP error rate limit.
    ratelimit: &'static str,
}

const V4: Family = Family {
    fw: &[],
    legacy: iptables::IPTABLES,
    types: &[
        Some("icmp-net-unreachable"),
        Some("icmp-host-unreachable"),
        Some("icmp-proto-unreachable"),
        Some("icmp-port-unreachable"),
        Some("icmp-net-prohibited"),
        Some("icmp-host-prohibited"),
        Some("icmp-admin-prohibited"),
        Some("tcp-reset"),
        None,
    ],
    errno: &[
        ENETUNREACH,
        EHOSTUNREACH,
        ENOPROTOOPT,
        ECONNREFUSED,
        ENETUNREACH,
        EHOSTUNREACH,
        EHOSTUNREACH,
        ECONNREFUSED,
        ECONNREFUSED,
    ],
    // Net and host unreachable are not fatal (icmp_err_convert).
    fatal: &[false, false, true, true, true, true, true, true, true],
    tcp_fails: &[true; 9],
    ratelimit: "net.ipv4.icmp_ratelimit=0",
};

const V6: Family = Family {
    fw: &["-6"],
    legacy: iptables::IP6TABLES,
    types: &[
        Some("icmp6-no-route"),
        Some("icmp6-adm-prohibited"),
        Some("icmp6-addr-unreachable"),
        Some("icmp6-port-unreachable"),
        Some("icmp6-policy-fail"),
        Some("icmp6-reject-route"),
        Some("tcp-reset"),
        None,
    ],
    errno: &[
        ENETUNREACH,
        EACCES,
        EHOSTUNREACH,
        ECONNREFUSED,
        EACCES,
        EACCES,
        ECONNREFUSED,
        ECONNREFUSED,
    ],
    // No route and address unreachable are not fatal (icmpv6_err_convert).
    fatal: &[false, true, false, true, true, true, true, true],
    tcp_fails: &[false, false, false, false, false, false, true, false],
    ratelimit: "net.ipv6.icmp.ratelimit=0",
};

/// An answer must arrive well within this (a veth link answers in
/// microseconds); the probe itself waits [`PROBE_TIMEOUT`].
const FAST: Duration = Duration::from_millis(250);
/// How long a UDP socket that reports nothing is listened to.
const QUIET_WAIT: Duration = Duration::from_millis(300);

/// `connect()` to `to:port` from namespace `ns`: what it gave and how long
/// it took.
fn tcp(ns: &str, to: IpAddr, port: u16, wait: Duration) -> (Seen, Duration) {
    tcp_connect(ns, to, port, wait)
}

/// One datagram to `to:port` from a connected UDP socket in `ns`, then a
/// `recv()` (with `IP_RECVERR` when `recverr`).
fn udp(ns: &str, to: IpAddr, port: u16, recverr: bool) -> (Seen, Duration) {
    let wait = if recverr { PROBE_TIMEOUT } else { QUIET_WAIT };
    udp_request(ns, to, port, recverr, wait)
}

/// The ports: TCP 7100 + i for type i, UDP 7200 + i (no UDP rule for
/// tcp-reset, which iptables allows only with `-p tcp`).
fn rules(f: &Family, chain: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, t) in f.types.iter().enumerate() {
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
fn probe_all(f: &Family, ns: &str, to: IpAddr) -> Probes {
    let mut out = Vec::new();
    for (i, t) in f.types.iter().enumerate() {
        let name = t.unwrap_or("(default)");
        // A connect that no ICMPv6 error fails is watched for less than
        // the SYN's first retransmission (1 s), which reports the error.
        let wait = if f.tcp_fails[i] {
            PROBE_TIMEOUT
        } else {
            QUIET_WAIT
        };
        let mut runs = vec![("tcp", tcp(ns, to, 7100 + i as u16, wait))];
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
/// measured under iptables-legacy and ip6tables-legacy (plain UDP does
/// not report an error that is not fatal).
///
/// Each probe's outcomes: one, but for an IPv6 TCP connect that an
/// ICMPv6 error is about. Linux fails that connect at once only when the
/// error arrives while connect() does not hold its socket (`tcp_v6_err`),
/// else at the SYN's retransmission: which of the two depends on timing
/// (a slow VM's answers come later), under fw and ip6tables-legacy alike,
/// so either is right, and nothing else.
fn expected(f: &Family) -> Vec<(String, Vec<Seen>)> {
    let mut out = Vec::new();
    for (i, t) in f.types.iter().enumerate() {
        let name = t.unwrap_or("(default)");
        let tcp = if f.tcp_fails[i] {
            vec![Seen::Errno(f.errno[i])]
        } else {
            vec![Seen::Silence, Seen::Errno(f.errno[i])]
        };
        out.push((format!("tcp {name}"), tcp));
        if *t != Some("tcp-reset") {
            out.push((format!("udp+recverr {name}"), vec![Seen::Errno(f.errno[i])]));
            let plain = if f.fatal[i] {
                Seen::Errno(f.errno[i])
            } else {
                Seen::Silence
            };
            out.push((format!("udp {name}"), vec![plain]));
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
fn expected_counts(f: &Family, chain: &str) -> Vec<u64> {
    rules(f, chain)
        .iter()
        .map(|r| if r.contains("-p tcp") { 1 } else { 2 })
        .collect()
}

fn sysctl(ns: &str, setting: &str) {
    sysctl_in(ns, setting).unwrap();
}

/// Runs the rules of `chain` under fw, then iptables-legacy (of family
/// `f`), in `ns`, probing from `from` to `to` each time; checks both
/// against [`expected`] and each other, and the counters.
fn compare(f: &Family, chain: &str, ns: &str, from: &str, to: IpAddr) {
    iptables::require_iptables();
    // netfilter's icmp_send (icmp6_send) limits ICMP errors to one per
    // second per destination after a burst of 6; these probes send 16 to
    // one host, so the oracle's limit is lifted. fw does not rate-limit
    // (docs/semantics.md).
    sysctl(ns, f.ratelimit);
    // Neighbours resolved first (a datagram to a port no rule names): a
    // first SYN held back for neighbour discovery goes out later, when
    // connect() no longer holds its socket, and the ICMPv6 error about it
    // would then fail connect() at once, in one run and not the next.
    let _ = udp(from, to, 7999, false);
    let rules = rules(f, chain);
    let fw = |args: &[&str]| fw_in(ns, &[f.fw, args].concat()).unwrap();
    for r in &rules {
        let out = fw(&r.split(' ').collect::<Vec<_>>());
        assert!(
            out.status.success(),
            "fw {r}: {}",
            iptables::text(&out.stderr)
        );
    }
    let listing_args = ["-L", chain, "-v", "-n", "-x", "--line-numbers"];
    let fw_probes = probe_all(f, from, to);
    let listing = fw(&listing_args);
    let fw_counts = packet_counts(&iptables::text(&listing.stdout), rules.len());
    fw_reset(ns);

    for r in &rules {
        let out = netns_exec(ns, f.legacy, &r.split(' ').collect::<Vec<_>>()).unwrap();
        assert!(
            out.status.success(),
            "{} {r}: {}",
            f.legacy,
            iptables::text(&out.stderr)
        );
    }
    let legacy = probe_all(f, from, to);
    let listing = netns_exec(ns, f.legacy, &listing_args).unwrap();
    let legacy_counts = packet_counts(&iptables::text(&listing.stdout), rules.len());
    let _ = netns_exec(ns, f.legacy, &["-F"]);

    let want = expected(f);
    let mut wrong = Vec::new();
    for (((what, fw), (_, l)), (_, want)) in fw_probes.iter().zip(&legacy).zip(&want) {
        eprintln!("{chain:8} {what:40} fw {fw:?}  legacy {l:?}");
        // In OUTPUT netfilter's drop also fails the send itself with EPERM
        // (docs/semantics.md, item 8), so iptables-legacy is printed there,
        // not compared.
        if chain != "OUTPUT" && !want.contains(l) {
            wrong.push(format!("{what}: legacy {l:?}, expected one of {want:?}"));
        }
        if !want.contains(fw) {
            wrong.push(format!("{what}: fw {fw:?}, expected one of {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{chain}: {wrong:#?}");
    assert_eq!(fw_probes.len(), want.len());
    let want: Vec<u64> = expected_counts(f, chain);
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
    compare(&V4, "INPUT", lab.server(), lab.client(), SERVER_ADDR.into());
}

#[test]
fn reject_in_forward_answers_as_iptables_does() {
    let lab = RouterLab::new();
    let server = Ipv4Addr::new(198, 51, 100, 2);
    compare(
        &V4,
        "FORWARD",
        lab.router.name(),
        lab.client.name(),
        server.into(),
    );
}

#[test]
fn reject_in_output_answers_as_iptables_does() {
    let lab = Lab::new("rejout").unwrap();
    compare(
        &V4,
        "OUTPUT",
        lab.server(),
        lab.server(),
        CLIENT_ADDR.into(),
    );
}

use integration_tests::{CLIENT6_ADDR as CLIENT6, SERVER6_ADDR as SERVER6};

#[test]
fn ipv6_reject_in_input_answers_as_ip6tables_does() {
    let lab = Lab::new6("rej6in").unwrap();
    compare(&V6, "INPUT", lab.server(), lab.client(), SERVER6.into());
}

#[test]
fn ipv6_reject_in_forward_answers_as_ip6tables_does() {
    let lab = RouterLab::new6();
    let server: Ipv6Addr = "2001:db8:2::2".parse().unwrap();
    compare(
        &V6,
        "FORWARD",
        lab.router.name(),
        lab.client.name(),
        server.into(),
    );
}

#[test]
fn ipv6_reject_in_output_answers_as_ip6tables_does() {
    let lab = Lab::new6("rej6out").unwrap();
    compare(&V6, "OUTPUT", lab.server(), lab.server(), CLIENT6.into());
}
