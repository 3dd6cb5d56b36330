//! `-m recent` on real connections: the SSH brute-force pattern of the
//! corpus (`--set`, then `--update --seconds S --hitcount N -j DROP`)
//! drops the Nth new connection within S seconds and accepts one after
//! the window; iptables-legacy on the same connections agrees. Lists
//! outlive ruleset changes that keep naming them.

use anyhow as _;
use firewall as _;
use libc as _;

use std::time::Duration;

#[path = "common/legacy.rs"]
mod legacy;
use legacy::{fw_input_counters, under_iptables_legacy};

use integration_tests::{Lab, PROBE_TIMEOUT, SERVER_ADDR, tcp_listen, tcp_probe};

/// The corpus's pattern (16_iptables_essentials_commands.sh, 19's), with
/// a window of 2 s and 4 hits.
const RULES: [&str; 2] = [
    "-A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -m recent --set --name SSH --rsource",
    "-A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -m recent --update --seconds 2 --hitcount 4 --name SSH --rsource -j DROP",
];

/// A dropped connect is given up after this (before the SYN's first
/// retransmission, 1 s).
const DROP_WAIT: Duration = Duration::from_millis(400);

/// (connected?) of 5 connects, 4 at once, the fifth after the window;
/// then of a connect after a change of the ruleset that keeps the list,
/// and (packets) of rules 1 and 2.
type Seen = ([bool; 6], [u64; 2]);

fn probes(lab: &Lab, counters: &dyn Fn(usize) -> (u64, u64), change: &dyn Fn()) -> Seen {
    let _ssh = tcp_listen(lab.server(), 22).unwrap();
    let connect = |wait| tcp_probe(lab.client(), SERVER_ADDR, 22, wait);
    let mut got = [false; 6];
    for g in got.iter_mut().take(3) {
        *g = connect(PROBE_TIMEOUT);
    }
    got[3] = connect(DROP_WAIT);
    // The drop refreshed the list (--update matched): wait out the window.
    std::thread::sleep(Duration::from_millis(2500));
    got[4] = connect(PROBE_TIMEOUT);
    // Three more stamps within the window, a change that keeps the list,
    // and the fourth is dropped: the list survived the change.
    for _ in 0..2 {
        connect(PROBE_TIMEOUT);
    }
    change();
    got[5] = connect(DROP_WAIT);
    (got, [counters(1).0, counters(2).0])
}

#[test]
fn the_ssh_brute_force_pattern_as_iptables() {
    let lab = Lab::new("recent").unwrap();
    lab.fw_rules(&RULES);
    let fw_counters = |n| fw_input_counters(&lab, n);
    let unrelated = ["-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "DROP"];
    let fw = probes(&lab, &fw_counters, &|| {
        lab.fw_ok(&unrelated);
    });
    // Connects 1-3 pass, the 4th within 2 s is dropped, one after the
    // window passes; after the change the list still holds 3 stamps.
    let want: Seen = ([true, true, true, false, true, false], [8, 2]);
    assert_eq!(fw, want, "fw");
    integration_tests::fw_reset(lab.server());
    let legacy = under_iptables_legacy(&lab, &RULES, |c| {
        probes(&lab, c, &|| {
            let out =
                integration_tests::netns_exec(lab.server(), "iptables-legacy", &unrelated).unwrap();
            assert!(out.status.success());
        })
    });
    assert_eq!(legacy, want, "iptables-legacy");
}

#[test]
fn a_list_no_rule_names_is_forgotten() {
    let lab = Lab::new("recentgone").unwrap();
    let _ssh = tcp_listen(lab.server(), 22).unwrap();
    let rule = "-A INPUT -p tcp --dport 22 -m recent --rcheck --name KNOWN -j DROP";
    lab.fw_rules(&[
        "-A INPUT -p tcp --dport 22 -m recent --set --name KNOWN",
        rule,
    ]);
    // The first connect is recorded, then dropped by the check.
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 22, DROP_WAIT));
    // Without the rules the list goes; with them back it is empty.
    lab.fw_ok(&["-F", "INPUT"]);
    lab.fw_rules(&[rule]);
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 22, PROBE_TIMEOUT));
}

/// One datagram from the client to the server's `port`, with `ttl`.
fn datagram(lab: &Lab, port: u16, ttl: u32) {
    integration_tests::in_netns(lab.client(), move || {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_ttl(ttl).unwrap();
        s.send_to(b"x", (SERVER_ADDR, port)).unwrap();
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

/// Each command and option on its own port: `--mask`, `--remove`, `!`,
/// `--rdest` with `--hitcount`, `--rttl`.
const COMMANDS: [&str; 8] = [
    "-A INPUT -p udp --dport 7001 -m recent --set --name A --mask 255.255.255.0",
    "-A INPUT -p udp --dport 7002 -m recent --rcheck --name A --mask 255.255.255.0",
    "-A INPUT -p udp --dport 7003 -m recent --remove --name A --mask 255.255.255.0",
    "-A INPUT -p udp --dport 7004 -m recent ! --rcheck --name A --mask 255.255.255.0",
    "-A INPUT -p udp --dport 7005 -m recent --set --name D --rdest",
    "-A INPUT -p udp --dport 7006 -m recent --rcheck --name D --rdest --hitcount 2",
    "-A INPUT -p udp --dport 7007 -m recent --set --name T",
    "-A INPUT -p udp --dport 7008 -m recent --rcheck --rttl --name T",
];

/// The packets each rule of [`COMMANDS`] matched after a fixed sequence.
fn command_probes(lab: &Lab, counters: &dyn Fn(usize) -> (u64, u64)) -> Vec<u64> {
    for (port, ttl) in [
        (7002, 64), // empty list: no match
        (7004, 64), // ! --rcheck: match
        (7001, 64), // set 192.0.2.0 (masked)
        (7002, 64), // match
        (7004, 64), // no match
        (7003, 64), // removed: match
        (7003, 64), // gone: no match
        (7002, 64), // no match
        (7005, 64),
        (7006, 64), // one stamp of the destination: no match
        (7005, 64),
        (7006, 64), // two: match
        (7007, 64), // set with TTL 64
        (7008, 64), // same TTL: match
        (7008, 50), // another TTL: no match
    ] {
        datagram(lab, port, ttl);
    }
    (1..=COMMANDS.len()).map(|n| counters(n).0).collect()
}

#[test]
fn each_command_and_option_as_iptables() {
    let lab = Lab::new("recentcmd").unwrap();
    lab.fw_rules(&COMMANDS);
    let fw = command_probes(&lab, &|n| fw_input_counters(&lab, n));
    assert_eq!(fw, [1, 1, 1, 1, 2, 1, 1, 1], "fw");
    integration_tests::fw_reset(lab.server());
    let legacy = under_iptables_legacy(&lab, &COMMANDS, |c| command_probes(&lab, c));
    assert_eq!(legacy, fw, "iptables-legacy");
}

/// [`datagram`] over IPv6, with hop limit `hops`.
fn datagram6(lab: &Lab, port: u16, hops: u32) {
    integration_tests::in_netns(lab.client(), move || {
        use std::os::fd::AsRawFd;
        let s = std::net::UdpSocket::bind("[::]:0").unwrap();
        let hops = hops as libc::c_int;
        // SAFETY: a valid socket and option of its size.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_UNICAST_HOPS,
                (&raw const hops).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        s.send_to(b"x", (integration_tests::SERVER6_ADDR, port))
            .unwrap();
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

/// [`COMMANDS`] in IPv6, whole addresses (fw refuses another `--mask`
/// in IPv6).
fn commands6() -> Vec<String> {
    COMMANDS
        .iter()
        .map(|c| c.replace(" --mask 255.255.255.0", ""))
        .collect()
}

/// IPv6's lists (`fw -6`) against ip6tables-legacy: the same commands
/// and options on IPv6 datagrams, `--rttl` on the hop limit.
#[test]
fn each_command_and_option_in_ipv6_as_ip6tables() {
    let lab = Lab::new6("recent6").unwrap();
    let rules = commands6();
    let probes = |counters: &dyn Fn(usize) -> u64| -> Vec<u64> {
        for (port, hops) in [
            (7002, 64),
            (7004, 64),
            (7001, 64),
            (7002, 64),
            (7004, 64),
            (7003, 64),
            (7003, 64),
            (7002, 64),
            (7005, 64),
            (7006, 64),
            (7005, 64),
            (7006, 64),
            (7007, 64),
            (7008, 64),
            (7008, 50),
        ] {
            datagram6(&lab, port, hops);
        }
        (1..=rules.len()).map(counters).collect()
    };
    for r in &rules {
        lab.fw_ok(&[&["-6"][..], &r.split(' ').collect::<Vec<_>>()].concat());
    }
    let listed = |out: String, n| integration_tests::rule_counters(&out, n).0;
    let fw = probes(&|n| {
        listed(
            lab.fw_ok(&["-6", "-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]),
            n,
        )
    });
    let fw_rules = lab.fw_ok(&["-6", "-S", "INPUT"]);
    integration_tests::fw_reset(lab.server());
    let legacy = |args: &[&str]| {
        let out = integration_tests::netns_exec(lab.server(), "ip6tables-legacy", args).unwrap();
        assert!(out.status.success(), "ip6tables-legacy {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for r in &rules {
        legacy(&r.split(' ').collect::<Vec<_>>());
    }
    let got = probes(&|n| {
        listed(
            legacy(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]),
            n,
        )
    });
    let legacy_rules = legacy(&["-S", "INPUT"]);
    legacy(&["-F"]);
    assert_eq!(got, [1, 1, 1, 1, 2, 1, 1, 1], "ip6tables-legacy");
    assert_eq!(fw, got, "fw");
    assert_eq!(fw_rules, legacy_rules);
    // A mask other than the whole address is refused in IPv6.
    let out = lab.fw(&[
        "-6",
        "-A",
        "INPUT",
        "-m",
        "recent",
        "--set",
        "--mask",
        "ffff:ffff::",
    ]);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .map(str::to_string)
        ),
        (
            Some(2),
            Some("fw v0.1.0 (eBPF): not supported yet: --mask in IPv6 (-m recent)".to_string())
        )
    );
}
