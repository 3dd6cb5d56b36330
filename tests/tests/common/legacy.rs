//! The lab's two oracles of the enforce tests: datagrams sent from the
//! client, and the same probes under real iptables-legacy on the server.

#![allow(dead_code)]

use std::{net::UdpSocket, time::Duration};

use integration_tests::{Lab, in_netns, rule_counters};

/// Sends `count` UDP datagrams of `payload` bytes from `from_ns` to
/// `to:port` (nobody needs to listen).
pub fn send_udp(
    from_ns: &str,
    to: impl Into<std::net::IpAddr>,
    port: u16,
    payload: usize,
    count: usize,
) {
    send_udp_from(from_ns, 0, to, port, payload, count);
}

/// [`send_udp`] from source port `sport` (0: any).
pub fn send_udp_from(
    from_ns: &str,
    sport: u16,
    to: impl Into<std::net::IpAddr>,
    port: u16,
    payload: usize,
    count: usize,
) {
    let to = to.into();
    in_netns(from_ns, move || {
        let any: std::net::IpAddr = if to.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        let s = UdpSocket::bind((any, sport)).unwrap();
        for _ in 0..count {
            s.send_to(&vec![0x5a; payload], (to, port)).unwrap();
        }
    })
    .unwrap();
    // Let the frames cross the veth before counters are read.
    std::thread::sleep(Duration::from_millis(100));
}

/// `(packets, bytes)` of fw's INPUT rule `n` (1-based) in the server.
pub fn fw_input_counters(lab: &Lab, n: usize) -> (u64, u64) {
    rule_counters(
        &lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]),
        n,
    )
}

/// What `probes` gives with `rules` (INPUT rules) loaded by
/// iptables-legacy on the lab's server, the oracle; `probes` reads rule
/// `n`'s (packets, bytes) with the counter function it is given. The
/// table is flushed afterwards.
pub fn under_iptables_legacy<T>(
    lab: &Lab,
    rules: &[&str],
    probes: impl FnOnce(&dyn Fn(usize) -> (u64, u64)) -> T,
) -> T {
    under_legacy(lab, "iptables-legacy", rules, probes)
}

/// [`under_iptables_legacy`] with `bin` (`ip6tables-legacy` for IPv6's
/// rules).
pub fn under_legacy<T>(
    lab: &Lab,
    bin: &str,
    rules: &[&str],
    probes: impl FnOnce(&dyn Fn(usize) -> (u64, u64)) -> T,
) -> T {
    let legacy = |args: &[&str]| {
        let out = integration_tests::netns_exec(lab.server(), bin, args).unwrap();
        assert!(out.status.success(), "{bin} {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for r in rules {
        legacy(&r.split(' ').collect::<Vec<_>>());
    }
    let got = probes(&|n| {
        rule_counters(
            &legacy(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]),
            n,
        )
    });
    legacy(&["-F", "INPUT"]);
    got
}
