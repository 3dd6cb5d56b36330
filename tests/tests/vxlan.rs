//! A vxlan device (issue 14, item 4): netfilter sees the encapsulated
//! datagram on the underlay (`-i veth-s -p udp --dport 4789`) and the
//! packet inside again on the vxlan device (`-i vx0`), and so does fw
//! (XDP on each). The same probes through twin labs, one under real
//! iptables-legacy and one under fw, are delivered alike and give the
//! INPUT chain the same exact counters.

#[path = "common/iptables.rs"]
#[allow(unused_imports)] // its Netns: the labs here are Lab's
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use std::{net::Ipv4Addr, time::Duration};

use integration_tests::{
    CLIENT_ADDR, CLIENT_IF, Lab, SERVER_ADDR, SERVER_IF, TempFile, fw_in, policy_counters,
    rule_counters, sh_in, udp_probe,
};
use iptables::{IPTABLES, legacy_restore, require_iptables, text};

/// The overlay's addresses (RFC 5737 TEST-NET-3).
const OVERLAY_CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const OVERLAY_SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
/// How long a probe that should be dropped is waited for.
const WAIT: Duration = Duration::from_millis(400);

const RULES: &str = "*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i veth-s -p udp -m udp --dport 4789 -j ACCEPT
-A INPUT -i vx0 -p udp -m udp --dport 5001 -j ACCEPT
COMMIT
";

/// A lab whose veth carries a vxlan (VNI 42, port 4789) between the two
/// namespaces, with static neighbours so that no ARP crosses it and no
/// IPv6 (whose neighbour discovery would add outer datagrams at times
/// of its own).
fn lab(tag: &str) -> Lab {
    let lab = Lab::new(tag).unwrap();
    let mac = |end: u8| format!("02:00:5e:00:53:{end:02x}");
    for (ns, dev, local, remote, addr, peer, me, them) in [
        (
            lab.client(),
            CLIENT_IF,
            CLIENT_ADDR,
            SERVER_ADDR,
            OVERLAY_CLIENT,
            OVERLAY_SERVER,
            1,
            2,
        ),
        (
            lab.server(),
            SERVER_IF,
            SERVER_ADDR,
            CLIENT_ADDR,
            OVERLAY_SERVER,
            OVERLAY_CLIENT,
            2,
            1,
        ),
    ] {
        let script = format!(
            "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && \
             sysctl -qw net.ipv6.conf.default.disable_ipv6=1 && \
             ip link add vx0 type vxlan id 42 dstport 4789 local {local} remote {remote} dev {dev} && \
             ip link set vx0 address {} && ip addr add {addr}/24 dev vx0 && ip link set vx0 up && \
             ip neigh add {peer} lladdr {} dev vx0 nud permanent",
            mac(me),
            mac(them)
        );
        let out = sh_in(ns, &script, &[], None);
        assert!(out.status.success(), "{script}: {}", text(&out.stderr));
    }
    lab
}

/// Probes through `lab` (udp 5001 and 5002 over the overlay): which were
/// delivered, and the packets INPUT's policy and its two rules counted
/// in the listing `list` gives (bytes differ: each probe's payload is
/// unique).
fn probe(lab: &Lab, list: &dyn Fn() -> String) -> ([bool; 2], [u64; 3], String) {
    let (c, s) = (lab.client(), lab.server());
    let got = [
        udp_probe(c, s, OVERLAY_SERVER, 5001, WAIT * 3),
        udp_probe(c, s, OVERLAY_SERVER, 5002, WAIT),
    ];
    let l = list();
    let counts = [
        policy_counters(&l).0,
        rule_counters(&l, 1).0,
        rule_counters(&l, 2).0,
    ];
    (got, counts, l)
}

#[test]
fn vxlan_outer_and_inner_packets_meet_the_ruleset_as_iptables_filters_them() {
    require_iptables();
    let rules = TempFile::new("vxlan.rules", RULES);

    let oracle = lab("vxlan-ipt");
    legacy_restore(oracle.server(), rules.path());
    let listing = format!("{IPTABLES} -L INPUT -v -n -x --line-numbers");
    let want = probe(&oracle, &|| {
        text(&sh_in(oracle.server(), &listing, &[], None).stdout)
    });

    let ours = lab("vxlan-fw");
    let load = fw_in(ours.server(), &["restore", rules.path()]).unwrap();
    assert_eq!(
        (load.status.code(), text(&load.stderr)),
        (Some(0), String::new())
    );
    let status = text(&fw_in(ours.server(), &["status"]).unwrap().stdout);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("vx0 ") && l.ends_with("  filtered")),
        "{status}"
    );
    let got = probe(&ours, &|| {
        let out = fw_in(
            ours.server(),
            &["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"],
        );
        text(&out.unwrap().stdout)
    });

    assert_eq!((got.0, got.1), (want.0, want.1), "{}\n{}", got.2, want.2);
    // What iptables did: the two outer datagrams accepted on the
    // underlay, the inner one to 5001 accepted on vx0, the one to 5002
    // dropped by the policy.
    assert_eq!((want.0, want.1), ([true, false], [1, 2, 1]), "{}", want.2);
}
