//! Fragments as netfilter filters them (docs/semantics.md item 1): IPv4's
//! INPUT always sees reassembled datagrams (`ip_local_deliver`), and so
//! does every chain of a table that tracks connections (netfilter
//! reassembles first), so a fragmented UDP answer passes whole; IPv6's
//! INPUT without connection tracking meets each fragment, and the later
//! ones, without ports, do not match a port rule. fw (its first
//! fragment's verdict given to the later ones where netfilter reassembles)
//! against iptables-legacy and ip6tables-legacy, both families.

// Cargo gives every test all of the package's dependencies; this one
// does without these.
use anyhow as _;
use firewall as _;
use libc as _;

use std::{
    net::{IpAddr, Ipv6Addr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use integration_tests::{Lab, SERVER_ADDR, fw_in, fw_reset, in_netns, netns_exec, spawn_in_netns};

const PORT: u16 = 5300;
/// The answer: two fragments and more on a 1,500-byte link.
const ANSWER: usize = 3000;

/// Answers every datagram to [`PORT`] (both families) with [`ANSWER`]
/// bytes until `stop`.
fn answering(ns: &str, stop: Arc<AtomicBool>) {
    let ready = Arc::new(AtomicBool::new(false));
    let r = ready.clone();
    let _ = spawn_in_netns(ns, move || {
        let s = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, PORT)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        r.store(true, Ordering::Relaxed);
        let mut buf = [0u8; 64];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((_, from)) = s.recv_from(&mut buf) {
                let _ = s.send_to(&[0x42; ANSWER], from);
            }
        }
    })
    .unwrap();
    while !ready.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A query from `ns` to `to`: the answer's length, or 0 without one.
fn query(ns: &str, to: IpAddr) -> usize {
    in_netns(ns, move || {
        let any: IpAddr = if to.is_ipv6() {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        let s = UdpSocket::bind((any, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        s.send_to(b"?", (to, PORT)).unwrap();
        let mut buf = [0u8; 4096];
        s.recv(&mut buf).unwrap_or(0)
    })
    .unwrap()
}

/// The client's INPUT: a tracking table (replies ESTABLISHED) or one
/// that accepts the server's port; ICMPv6 for neighbour discovery.
fn rules(tracking: bool) -> Vec<&'static str> {
    let mut r = vec!["-P INPUT DROP", "-A INPUT -p ipv6-icmp -j ACCEPT"];
    r.push(if tracking {
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    } else {
        "-A INPUT -p udp --sport 5300 -j ACCEPT"
    });
    r
}

/// One case in a lab of its own (netfilter's defragmentation, once a
/// table tracked connections, outlives its rules in the namespace): the
/// answer's length under fw, then under the legacy tool.
fn case(v6: bool, tracking: bool) -> (usize, usize) {
    let lab = Lab::new6("frag").unwrap();
    let server6 = integration_tests::SERVER6_ADDR;
    let stop = Arc::new(AtomicBool::new(false));
    answering(lab.server(), stop.clone());
    let c = lab.client();
    let (to, legacy, family): (IpAddr, &str, &[&str]) = if v6 {
        (server6.into(), "ip6tables-legacy", &["-6"])
    } else {
        (SERVER_ADDR.into(), "iptables-legacy", &[])
    };
    // Neighbours first, so that no answer waits for them.
    assert_eq!(query(c, to), ANSWER, "without a firewall");
    let rules: Vec<&str> = rules(tracking)
        .into_iter()
        .filter(|r| v6 || !r.contains("ipv6-icmp"))
        .collect();
    for r in &rules {
        let args: Vec<&str> = r.split(' ').collect();
        let out = fw_in(c, &[family, &args[..]].concat()).unwrap();
        assert!(
            out.status.success(),
            "{r}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let fw = query(c, to);
    fw_reset(c);
    for r in &rules {
        let out = netns_exec(c, legacy, &r.split(' ').collect::<Vec<_>>()).unwrap();
        assert!(out.status.success(), "{legacy} {r}");
    }
    let oracle = query(c, to);
    stop.store(true, Ordering::Relaxed);
    eprintln!("v6 {v6} tracking {tracking}: fw {fw}, {legacy} {oracle}");
    (fw, oracle)
}

#[test]
fn fragmented_answers_as_netfilter_filters_them() {
    for v6 in [false, true] {
        for tracking in [true, false] {
            let (fw, oracle) = case(v6, tracking);
            assert_eq!(fw, oracle, "v6 {v6} tracking {tracking}");
            // Whole where netfilter reassembles before INPUT (IPv4's
            // always does: ip_local_deliver), else its later fragments
            // dropped (IPv6 without connection tracking).
            let whole = tracking || !v6;
            assert_eq!(
                fw,
                if whole { ANSWER } else { 0 },
                "v6 {v6} tracking {tracking}"
            );
        }
    }
}
