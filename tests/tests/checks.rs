//! Rule checks without state on real datagrams: `-m mac --mac-source`
//! (the frame's Ethernet source; nothing on `lo`) and `-m multiport
//! --ports` (source or destination port); the same counters under fw and
//! under iptables-legacy in the same lab.

use anyhow as _;
use firewall as _;

use std::net::Ipv4Addr;

#[path = "common/legacy.rs"]
mod legacy;
use legacy::{send_udp, send_udp_from, under_iptables_legacy, under_legacy};

use integration_tests::{CLIENT_IF, Lab, SERVER_ADDR, ip, rule_counters};

/// The client's Ethernet address, set by [`mac_lab`].
const CLIENT_MAC: &str = "02:00:00:00:00:01";

/// The server's rules of [`mac_source_as_iptables`]: the client's
/// address, its negation, another address's negation (a check before a
/// classifier match), and on `lo`, which has no Ethernet source for
/// xt_mac, a negation that matches nothing, then a rule that counts what
/// came.
const MAC: [&str; 5] = [
    "-A INPUT -p udp --dport 5601 -m mac --mac-source 02:00:00:00:00:01 -j DROP",
    "-A INPUT -p udp --dport 5602 -m mac ! --mac-source 02:00:00:00:00:01 -j DROP",
    "-A INPUT -p udp -m mac ! --mac-source 02:00:00:00:00:99 -m udp --dport 5602 -j DROP",
    "-A INPUT -i lo -p udp --dport 5603 -m mac ! --mac-source 02:00:00:00:00:99 -j DROP",
    "-A INPUT -i lo -p udp --dport 5603",
];

fn mac_lab() -> Lab {
    let lab = Lab::new("mac").unwrap();
    ip(&format!(
        "-n {} link set dev {CLIENT_IF} address {CLIENT_MAC}",
        lab.client()
    ))
    .unwrap();
    lab
}

#[test]
fn mac_source_as_iptables() {
    let lab = mac_lab();
    let probes = |counters: &dyn Fn(usize) -> (u64, u64)| {
        send_udp(lab.client(), SERVER_ADDR, 5601, 10, 2);
        send_udp(lab.client(), SERVER_ADDR, 5602, 10, 3);
        send_udp(lab.server(), Ipv4Addr::LOCALHOST, 5603, 10, 4);
        [1, 2, 3, 4, 5].map(|n| counters(n).0)
    };
    let listing = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    lab.fw_rules(&MAC);
    let want = [2, 0, 3, 0, 4];
    assert_eq!(probes(&|n| rule_counters(&listing(), n)), want, "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &MAC, |c| probes(c));
    assert_eq!(got, want, "iptables-legacy");
}

#[test]
fn mac_source_is_refused_from_output() {
    let lab = Lab::new("macout").unwrap();
    let out = lab.fw(&[
        "-A",
        "OUTPUT",
        "-m",
        "mac",
        "--mac-source",
        CLIENT_MAC,
        "-j",
        "DROP",
    ]);
    // Exit 1, as iptables when the kernel's checkentry refuses.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "fw: mac match: used from hooks OUTPUT, but only valid from PREROUTING/INPUT/FORWARD\n"
    );
}

/// The server's rules of [`multiport_ports_as_iptables`]: counters only.
const PORTS: [&str; 2] = [
    "-A INPUT -p udp -m multiport --ports 5701,5710:5720",
    "-A INPUT -p udp -m multiport ! --ports 5701,5710:5720",
];

/// `--ports`: the source port in the list, the destination, both (one
/// count), neither (the negation's).
#[test]
fn multiport_ports_as_iptables() {
    let lab = Lab::new("ports").unwrap();
    let probes = |counters: &dyn Fn(usize) -> (u64, u64)| {
        for (sport, dport, count) in [
            (5701, 9000, 1),
            (40000, 5715, 2),
            (5720, 5710, 1),
            (40001, 5702, 3),
        ] {
            send_udp_from(lab.client(), sport, SERVER_ADDR, dport, 10, count);
        }
        [1, 2].map(|n| counters(n).0)
    };
    let listing = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    lab.fw_rules(&PORTS);
    let want = [4, 3];
    assert_eq!(probes(&|n| rule_counters(&listing(), n)), want, "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &PORTS, |c| probes(c));
    assert_eq!(got, want, "iptables-legacy");
}

/// The server's rules of [`tcp_option_as_iptables`]: Linux's SYN
/// carries MSS (2) and timestamps (8), its other segments timestamps;
/// nothing carries MD5 (19). Port 5804: a sound bare header (no options)
/// passes the option rule to the counter after it; one whose data
/// offset is 15 words (past its 40-byte datagram) or 4 is dropped at the
/// option rule (xt_tcpudp's hot drop), counted by neither.
const TCP_OPTION: [&str; 6] = [
    "-A INPUT -p tcp --dport 5801 --tcp-option 2",
    "-A INPUT -p tcp --dport 5802 --tcp-option 8 -j DROP",
    "-A INPUT -p tcp --dport 5803 ! --tcp-option 8 -j DROP",
    "-A INPUT -p tcp --dport 5803 --tcp-option 19 -j DROP",
    "-A INPUT -p tcp --dport 5804 ! --tcp-option 19",
    "-A INPUT -p tcp --dport 5804",
];

#[test]
fn tcp_option_as_iptables() {
    use integration_tests::{CLIENT_ADDR, PROBE_TIMEOUT, raw_tcp, tcp_listen, tcp_probe};
    let lab = Lab::new("tcpopt").unwrap();
    let _listeners: Vec<_> = [5801, 5802, 5803]
        .map(|p| tcp_listen(lab.server(), p).unwrap())
        .into();
    let probes = |counters: &dyn Fn(usize) -> (u64, u64)| {
        let connected =
            [5801, 5802, 5803].map(|p| tcp_probe(lab.client(), SERVER_ADDR, p, PROBE_TIMEOUT));
        for doff in [5, 15, 4] {
            raw_tcp(
                lab.client(),
                CLIENT_ADDR,
                SERVER_ADDR,
                (40000, 5804),
                0x10,
                doff,
            );
        }
        let counted = [1, 3, 4, 5, 6].map(|n| counters(n).0);
        (connected, counted, counters(2).0 > 0)
    };
    let listing = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    lab.fw_rules(&TCP_OPTION);
    let want = ([true, false, true], [1, 0, 0, 1, 1], true);
    assert_eq!(probes(&|n| rule_counters(&listing(), n)), want, "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &TCP_OPTION, |c| probes(c));
    assert_eq!(got, want, "iptables-legacy");
}

/// A TCP data offset below 5 words, or past the segment, is INVALID in
/// netfilter (`tcp_error`: "truncated header or options"), a sound one
/// NEW: rule 1 counts the two bad segments, rule 2 the sound one.
const BAD_OFFSET: [&str; 2] = [
    "-A INPUT -p tcp --dport 5805 -m conntrack --ctstate INVALID -j DROP",
    "-A INPUT -p tcp --dport 5805 -j DROP",
];

#[test]
fn a_bad_tcp_data_offset_is_invalid_as_iptables() {
    use integration_tests::{CLIENT_ADDR, raw_tcp};
    let lab = Lab::new("tcpdoff").unwrap();
    let probes = |counters: &dyn Fn(usize) -> (u64, u64)| {
        for doff in [4, 6, 5] {
            raw_tcp(
                lab.client(),
                CLIENT_ADDR,
                SERVER_ADDR,
                (40001 + u16::from(doff), 5805),
                0x02,
                doff,
            );
        }
        [1, 2].map(|n| counters(n).0)
    };
    let listing = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    lab.fw_rules(&BAD_OFFSET);
    assert_eq!(probes(&|n| rule_counters(&listing(), n)), [2, 1], "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &BAD_OFFSET, |c| probes(c));
    assert_eq!(got, [2, 1], "iptables-legacy");
}

/// `-m addrtype` against the server's local routing table: datagrams to
/// its address (LOCAL), to its subnet's broadcast address (BROADCAST)
/// and to 224.0.0.1, which every interface has joined (MULTICAST).
const ADDRTYPE: [&str; 5] = [
    "-A INPUT -p udp --dport 5901 -m addrtype --dst-type LOCAL",
    "-A INPUT -p udp --dport 5901 -m addrtype --dst-type BROADCAST",
    "-A INPUT -p udp --dport 5901 -m addrtype --dst-type MULTICAST",
    "-A INPUT -p udp --dport 5901 -m addrtype ! --src-type LOCAL,UNICAST",
    "-A INPUT -p udp --dport 5901 -m addrtype --src-type UNICAST --dst-type LOCAL,BROADCAST",
];

/// 2 datagrams to the server, 3 to 192.0.2.255, 1 to 224.0.0.1; rules
/// 1-5's packets.
fn addrtype_probes(lab: &Lab, counters: &dyn Fn(usize) -> (u64, u64)) -> [u64; 5] {
    for (to, n) in [
        (SERVER_ADDR, 2),
        (Ipv4Addr::new(192, 0, 2, 255), 3),
        (Ipv4Addr::new(224, 0, 0, 1), 1),
    ] {
        integration_tests::in_netns(lab.client(), move || {
            let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            s.set_broadcast(true).unwrap();
            for _ in 0..n {
                s.send_to(&[0x5a; 10], (to, 5901)).unwrap();
            }
        })
        .unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    [1, 2, 3, 4, 5].map(|n| counters(n).0)
}

#[test]
fn addrtype_as_iptables() {
    let lab = Lab::new("addrtype").unwrap();
    ip(&format!(
        "-n {} route add 224.0.0.0/4 dev {CLIENT_IF}",
        lab.client()
    ))
    .unwrap();
    let want = [2, 3, 1, 0, 5];
    let listing = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    lab.fw_rules(&ADDRTYPE);
    assert_eq!(
        addrtype_probes(&lab, &|n| rule_counters(&listing(), n)),
        want,
        "fw"
    );
    // An address added since: fw status names the change, --check fails,
    // and the next change of the ruleset takes it in.
    let added = "198.51.100.7";
    ip(&format!("-n {} addr add {added}/32 dev lo", lab.server())).unwrap();
    let out = lab.fw(&["status", "--check"]);
    assert!(!out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stderr.contains("the host's addresses (its local routing table) changed"),
        "{stdout}{stderr}"
    );
    lab.fw_ok(&[
        "-A",
        "INPUT",
        "-p",
        "udp",
        "--dport",
        "5902",
        "-m",
        "addrtype",
        "--src-type",
        "LOCAL",
    ]);
    assert!(lab.fw(&["status", "--check"]).status.success());
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &ADDRTYPE, |c| addrtype_probes(&lab, c));
    assert_eq!(got, want, "iptables-legacy");
}

/// IPv6's `-m addrtype` (xt_addrtype's `match_type6`): LOCAL from IPv6's
/// local table, MULTICAST, UNICAST and UNSPEC from the address; a mask
/// naming UNICAST and LOCAL needs both in IPv6 (IPv4's needs either).
const ADDRTYPE6: [&str; 6] = [
    "-A INPUT -p udp --dport 5901 -m addrtype --dst-type LOCAL",
    "-A INPUT -p udp --dport 5901 -m addrtype --dst-type MULTICAST",
    "-A INPUT -p udp --dport 5901 -m addrtype ! --src-type LOCAL,UNICAST",
    "-A INPUT -p udp --dport 5901 -m addrtype --src-type UNICAST --dst-type LOCAL",
    "-A INPUT -p udp --dport 5901 -m addrtype --dst-type UNSPEC",
    "-A INPUT -p udp --dport 5901 -m addrtype ! --dst-type UNICAST",
];

/// 2 datagrams to the server's IPv6 address, 1 to ff02::1 on the link;
/// rules 1-6's packets.
fn addrtype6_probes(lab: &Lab, counters: &dyn Fn(usize) -> (u64, u64)) -> [u64; 6] {
    for (to, link, n) in [
        (integration_tests::SERVER6_ADDR, false, 2),
        (
            std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            true,
            1,
        ),
    ] {
        integration_tests::in_netns(lab.client(), move || {
            let name = std::ffi::CString::new(CLIENT_IF).unwrap();
            let scope = if link {
                // SAFETY: a NUL-terminated name.
                unsafe { libc::if_nametoindex(name.as_ptr()) }
            } else {
                0
            };
            let s = std::net::UdpSocket::bind("[::]:0").unwrap();
            for _ in 0..n {
                let dst = std::net::SocketAddrV6::new(to, 5901, 0, scope);
                s.send_to(&[0x5a; 10], dst).unwrap();
            }
        })
        .unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    [1, 2, 3, 4, 5, 6].map(|n| counters(n).0)
}

#[test]
fn ipv6_addrtype_as_ip6tables() {
    let lab = Lab::new6("addrtype6").unwrap();
    let want = [2, 1, 3, 2, 0, 1];
    let listing = || lab.fw_ok(&["-6", "-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    for r in ADDRTYPE6 {
        lab.fw_ok(&[&["-6"][..], &r.split(' ').collect::<Vec<_>>()].concat());
    }
    let fw = addrtype6_probes(&lab, &|n| rule_counters(&listing(), n));
    // ANYCAST and UNREACHABLE are a route lookup's answer: refused.
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
    integration_tests::fw_reset(lab.server());
    let got = under_legacy(&lab, "ip6tables-legacy", &ADDRTYPE6, |c| {
        addrtype6_probes(&lab, c)
    });
    assert_eq!(got, want, "ip6tables-legacy");
    assert_eq!(fw, want, "fw");
}

/// The server's rules of [`mark_as_iptables`]: OUTPUT sees the mark a
/// socket gives its datagrams (`SO_MARK`), INPUT sees arriving packets
/// unmarked, but a datagram looped on `lo` with the mark it was sent with.
const MARK: [&str; 6] = [
    "-A OUTPUT -p udp --dport 5701 -m mark --mark 0x8000/0x8000 -j DROP",
    "-A OUTPUT -p udp --dport 5701 -m mark ! --mark 0x0 -j ACCEPT",
    "-A OUTPUT -p udp --dport 5701",
    "-A INPUT -p udp --dport 5702 -m mark --mark 0x0 -j ACCEPT",
    "-A INPUT -p udp --dport 5702 -m mark ! --mark 0x0/0xffff -j DROP",
    "-A INPUT -i lo -p udp --dport 5703 -m mark --mark 0x1 -j DROP",
];

/// `count` datagrams from `ns` to `to:port` from a socket with `SO_MARK`
/// `mark`.
fn send_marked(ns: &str, mark: u32, to: impl Into<std::net::IpAddr>, port: u16, count: usize) {
    let to = to.into();
    integration_tests::in_netns(ns, move || {
        use std::os::fd::AsRawFd as _;
        let any: std::net::IpAddr = if to.is_ipv6() {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        let s = std::net::UdpSocket::bind((any, 0)).unwrap();
        // SAFETY: setsockopt(2) with a u32 of the length given.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MARK,
                (&raw const mark).cast(),
                4,
            )
        };
        assert_eq!(rc, 0, "SO_MARK: {}", std::io::Error::last_os_error());
        for _ in 0..count {
            // A dropped datagram fails with EPERM, under both.
            let _ = s.send_to(&[0x5a; 10], (to, port));
        }
    })
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
}

/// The packets of OUTPUT rules 1-3 and INPUT rules 1-3 in a listing
/// program (`fw` or `iptables-legacy`).
fn mark_counters(list: &dyn Fn(&str) -> String) -> [u64; 6] {
    let (output, input) = (list("OUTPUT"), list("INPUT"));
    [
        rule_counters(&output, 1).0,
        rule_counters(&output, 2).0,
        rule_counters(&output, 3).0,
        rule_counters(&input, 1).0,
        rule_counters(&input, 2).0,
        rule_counters(&input, 3).0,
    ]
}

#[test]
fn mark_as_iptables() {
    use integration_tests::CLIENT_ADDR;
    let lab = Lab::new("mark").unwrap();
    let to = (
        CLIENT_ADDR.into(),
        SERVER_ADDR.into(),
        Ipv4Addr::LOCALHOST.into(),
    );
    mark_as_legacy(&lab, &[], "iptables-legacy", to);
}

/// [`mark_as_iptables`] in IPv6 (`fw -6`, ip6tables-legacy): looped
/// datagrams over `lo` to `::1` keep their mark (`LO_MARKS` by IPv6
/// tuple).
#[test]
fn mark_as_ip6tables() {
    use std::net::Ipv6Addr;
    let lab = Lab::new6("mark6").unwrap();
    let (client, server) = (
        integration_tests::CLIENT6_ADDR,
        integration_tests::SERVER6_ADDR,
    );
    let to = (client.into(), server.into(), Ipv6Addr::LOCALHOST.into());
    mark_as_legacy(&lab, &["-6"], "ip6tables-legacy", to);
}

/// [`MARK`] under fw (`family`'s flag before each command) and then
/// under `legacy`, with the probes to `to` (client, server, loopback):
/// the same counters, and the ones expected.
fn mark_as_legacy(
    lab: &Lab,
    family: &[&str],
    legacy_tool: &str,
    to: (std::net::IpAddr, std::net::IpAddr, std::net::IpAddr),
) {
    let (client, server, lo) = to;
    let probes = || {
        send_marked(lab.server(), 0x8001, client, 5701, 2);
        send_marked(lab.server(), 0x1, client, 5701, 3);
        send_marked(lab.server(), 0, client, 5701, 4);
        send_marked(lab.client(), 0x8000, server, 5702, 5);
        send_marked(lab.server(), 0x1, lo, 5703, 3);
        send_marked(lab.server(), 0x2, lo, 5703, 2);
        send_marked(lab.server(), 0x1, server, 5703, 1);
    };
    let want = [2, 3, 4, 5, 0, 4];
    for r in MARK {
        let args: Vec<&str> = r.split(' ').collect();
        lab.fw_ok(&[family, &args[..]].concat());
    }
    probes();
    let fw = mark_counters(&|chain| {
        lab.fw_ok(
            &[
                family,
                &["-L", chain, "-v", "-n", "-x", "--line-numbers"][..],
            ]
            .concat(),
        )
    });
    assert_eq!(fw, want, "fw");
    integration_tests::fw_reset(lab.server());
    let legacy = |args: &[&str]| {
        let out = integration_tests::netns_exec(lab.server(), legacy_tool, args).unwrap();
        assert!(out.status.success(), "{legacy_tool} {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for r in MARK {
        legacy(&r.split(' ').collect::<Vec<_>>());
    }
    probes();
    let got = mark_counters(&|chain| legacy(&["-L", chain, "-v", "-n", "-x", "--line-numbers"]));
    assert_eq!(got, want, "{legacy_tool}");
    legacy(&["-F"]);
}

/// A mark set before the filter table (iptables-legacy's mangle table, an
/// nftables base chain) is one fw cannot see: `-m mark` is refused while
/// one is there (exit 2, the firewall as it was), and loads once it is
/// gone.
#[test]
fn mark_is_refused_while_the_host_may_set_marks() {
    let lab = Lab::new("markhost").unwrap();
    let sh = |script: &str| {
        let out = integration_tests::sh_in(lab.server(), script, &[], None);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "DROP"]);
    let before = lab.fw_ok(&["-S"]);
    let rule = ["-A", "INPUT", "-m", "mark", "--mark", "0x1", "-j", "DROP"];
    sh("iptables-legacy -t mangle -A PREROUTING -j MARK --set-mark 1");
    let out = lab.fw(&rule);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "fw v0.1.0 (eBPF): not supported yet: -m mark (INPUT rule 2) while iptables-legacy table `mangle' has \
         rules (it may mark packets before the filter table, where fw sees them unmarked; the \
         firewall is left as it was)\nTry `fw -h' or 'fw --help' for more information.\n"
    );
    assert_eq!(lab.fw_ok(&["-S"]), before);
    sh("iptables-legacy -t mangle -F");
    // nft is one of `cargo xtask setup`'s packages.
    sh(
        "nft add table inet fwtest; nft add chain inet fwtest pre '{ type filter hook prerouting priority -150; }'",
    );
    let out = lab.fw(&rule);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(
            "fw v0.1.0 (eBPF): not supported yet: -m mark (INPUT rule 2) while nftables chain `inet fwtest pre' exists"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A table without base chains runs nothing.
    sh("nft delete chain inet fwtest pre");
    lab.fw_ok(&rule);
    assert_eq!(
        lab.fw_ok(&["-S", "INPUT"]),
        "-P INPUT ACCEPT\n-A INPUT -p udp -m udp --dport 9 -j DROP\n-A INPUT -m mark --mark 0x1 -j DROP\n"
    );
    assert!(lab.fw(&["status", "--check"]).status.success());
    // A mark setter that comes after the rule: status says so and --check fails.
    sh("iptables-legacy -t raw -A PREROUTING -j MARK --set-mark 1");
    let out = lab.fw(&["status", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let status = lab.fw_ok(&["status"]);
    assert!(
        status.contains("marks: iptables-legacy table `raw' has rules\n"),
        "{status}"
    );
    sh("iptables-legacy -t raw -F");
}

/// `-m owner` rules in OUTPUT, each counting what it saw: datagrams from
/// sockets opened with other fsuids and fsgids, a listener's SYN-ACK (sent
/// from its request socket) and the kernel's reset for a closed port
/// (sent from a control socket without a file).
const OWNER: [&str; 8] = [
    "-A OUTPUT -p udp --dport 5801 -m owner --uid-owner 1000-1999 -j ACCEPT",
    "-A OUTPUT -p udp --dport 5801 -m owner ! --gid-owner 15000 -j ACCEPT",
    "-A OUTPUT -p udp --dport 5801 -m owner --socket-exists -j ACCEPT",
    "-A OUTPUT -p tcp --sport 5802 --tcp-flags SYN,ACK SYN,ACK -m owner --uid-owner 2000 -j ACCEPT",
    "-A OUTPUT -p tcp --sport 5802 --tcp-flags SYN,ACK SYN,ACK -j ACCEPT",
    "-A OUTPUT -p tcp --sport 5803 --tcp-flags RST RST -m owner --socket-exists -j ACCEPT",
    "-A OUTPUT -p tcp --sport 5803 --tcp-flags RST RST -m owner ! --uid-owner 0 -j ACCEPT",
    "-A OUTPUT -p tcp --sport 5803 --tcp-flags RST RST -j ACCEPT",
];

/// Sets this thread's fsuid and fsgid (setfsuid(2) acts per thread, and
/// a socket keeps the credentials it was opened with: xt_owner's).
fn set_fs_ids(uid: u32, gid: u32) {
    // SAFETY: plain syscalls on this thread's credentials.
    unsafe {
        libc::syscall(libc::SYS_setfsgid, gid);
        libc::syscall(libc::SYS_setfsuid, uid);
    }
}

/// `count` datagrams from the server to the client's port 5801, from a
/// socket opened with fsuid `uid` and fsgid `gid`.
fn send_as(ns: &str, uid: u32, gid: u32, count: usize) {
    integration_tests::in_netns(ns, move || {
        set_fs_ids(uid, gid);
        let s = std::net::UdpSocket::bind(("0.0.0.0", 0)).unwrap();
        for _ in 0..count {
            s.send_to(&[0x5a; 10], (integration_tests::CLIENT_ADDR, 5801))
                .unwrap();
        }
    })
    .unwrap();
}

/// The probes of [`OWNER`]: 2, 1 and 3 datagrams, a connection to a
/// listener opened with fsuid 2000, one to a closed port.
fn owner_probes(lab: &Lab) {
    send_as(lab.server(), 1500, 0, 2);
    send_as(lab.server(), 0, 0, 1);
    send_as(lab.server(), 0, 15000, 3);
    let client = lab.client().to_string();
    integration_tests::in_netns(lab.server(), move || {
        set_fs_ids(2000, 2000);
        let l = std::net::TcpListener::bind(("0.0.0.0", 5802)).unwrap();
        integration_tests::in_netns(&client, || {
            std::net::TcpStream::connect((SERVER_ADDR, 5802)).unwrap();
            let refused = std::net::TcpStream::connect((SERVER_ADDR, 5803)).unwrap_err();
            assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        })
        .unwrap();
        drop(l.accept().unwrap());
    })
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
}

#[test]
fn owner_as_iptables() {
    let lab = Lab::new("owner").unwrap();
    let counters = |list: &dyn Fn() -> String| -> Vec<u64> {
        let out = list();
        (1..=OWNER.len())
            .map(|n| rule_counters(&out, n).0)
            .collect()
    };
    let want = [2, 1, 3, 1, 0, 1, 0, 0];
    lab.fw_rules(&OWNER);
    owner_probes(&lab);
    let fw = counters(&|| lab.fw_ok(&["-L", "OUTPUT", "-v", "-n", "-x", "--line-numbers"]));
    let fw_rules = lab.fw_ok(&["-S", "OUTPUT"]);
    integration_tests::fw_reset(lab.server());
    let legacy = |args: &[&str]| {
        let out = integration_tests::netns_exec(lab.server(), "iptables-legacy", args).unwrap();
        assert!(out.status.success(), "iptables-legacy {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for r in OWNER {
        legacy(&r.split(' ').collect::<Vec<_>>());
    }
    owner_probes(&lab);
    let got = counters(&|| legacy(&["-L", "OUTPUT", "-v", "-n", "-x", "--line-numbers"]));
    assert_eq!(fw_rules, legacy(&["-S", "OUTPUT"]));
    legacy(&["-F"]);
    assert_eq!(got, want, "iptables-legacy");
    assert_eq!(fw, want, "fw");
}

/// `-m policy` rules, the `ipsec` one first in each chain: no packet has
/// an IPsec policy (the lab has no xfrm state), so each datagram meets
/// the `--pol none` rule.
const POLICY: [&str; 4] = [
    "-A INPUT -p udp --dport 5901 -m policy --dir in --pol ipsec -j ACCEPT",
    "-A INPUT -p udp --dport 5901 -m policy --dir in --pol none -j ACCEPT",
    "-A OUTPUT -p udp --dport 5902 -m policy --dir out --pol ipsec --strict --proto esp --mode tunnel --tunnel-dst 198.51.100.0/24 -j ACCEPT",
    "-A OUTPUT -p udp --dport 5902 -m policy --dir out --pol none -j ACCEPT",
];

#[test]
fn policy_as_iptables() {
    use integration_tests::CLIENT_ADDR;
    let lab = Lab::new("policy").unwrap();
    let probes = || {
        send_udp(lab.client(), SERVER_ADDR, 5901, 10, 2);
        send_udp(lab.server(), CLIENT_ADDR, 5902, 10, 3);
    };
    let counters = |list: &dyn Fn(&str) -> String| -> [u64; 4] {
        let (input, output) = (list("INPUT"), list("OUTPUT"));
        [
            rule_counters(&input, 1).0,
            rule_counters(&input, 2).0,
            rule_counters(&output, 1).0,
            rule_counters(&output, 2).0,
        ]
    };
    let want = [0, 2, 0, 3];
    lab.fw_rules(&POLICY);
    probes();
    let fw = counters(&|chain| lab.fw_ok(&["-L", chain, "-v", "-n", "-x", "--line-numbers"]));
    let fw_rules = lab.fw_ok(&["-S"]);
    integration_tests::fw_reset(lab.server());
    let legacy = |args: &[&str]| {
        let out = integration_tests::netns_exec(lab.server(), "iptables-legacy", args).unwrap();
        assert!(out.status.success(), "iptables-legacy {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for r in POLICY {
        legacy(&r.split(' ').collect::<Vec<_>>());
    }
    probes();
    let got = counters(&|chain| legacy(&["-L", chain, "-v", "-n", "-x", "--line-numbers"]));
    assert_eq!(fw_rules, legacy(&["-S"]));
    legacy(&["-F"]);
    assert_eq!(got, want, "iptables-legacy");
    assert_eq!(fw, want, "fw");
}

/// `-m tcpmss` on SYNs to a closed port (one each: the RST ends it),
/// advertising Linux's MSS for the veth (1460), 1200 and 900.
const TCPMSS: [&str; 3] = [
    "-A INPUT -p tcp --dport 5921 -m tcpmss --mss 1460 -j ACCEPT",
    "-A INPUT -p tcp --dport 5921 -m tcpmss ! --mss 1000:1400 -j ACCEPT",
    "-A INPUT -p tcp --dport 5921 -j ACCEPT",
];

/// A connect from `ns` to the server's closed port 5921 whose SYN
/// advertises at most `mss` (`TCP_MAXSEG`; 0: the route's).
fn syn_with_mss(ns: &str, mss: i32) {
    integration_tests::in_netns(ns, move || {
        // SAFETY: plain socket calls on a socket owned here.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0);
            if mss > 0 {
                let rc = libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_MAXSEG,
                    (&raw const mss).cast(),
                    4,
                );
                assert_eq!(rc, 0, "TCP_MAXSEG");
            }
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: 5921u16.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(SERVER_ADDR.octets()),
                },
                sin_zero: [0; 8],
            };
            let rc = libc::connect(
                fd,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_in>() as u32,
            );
            // Refused: the RST came back.
            assert_eq!(rc, -1);
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::ECONNREFUSED)
            );
            libc::close(fd);
        }
    })
    .unwrap();
}

#[test]
fn tcpmss_as_iptables() {
    let lab = Lab::new("tcpmss").unwrap();
    let probes = |counters: &dyn Fn(usize) -> (u64, u64)| {
        for mss in [0, 1200, 900] {
            syn_with_mss(lab.client(), mss);
        }
        [1, 2, 3].map(|n| counters(n).0)
    };
    let listing = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    lab.fw_rules(&TCPMSS);
    let want = [1, 1, 1];
    assert_eq!(probes(&|n| rule_counters(&listing(), n)), want, "fw");
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &TCPMSS, |c| probes(c));
    assert_eq!(got, want, "iptables-legacy");
}

/// `-m time` rules built around the current time (UTC), each on a port
/// of its own, one datagram each: a daytime range holding now (it may
/// pass midnight) and one that does not, today's and tomorrow's weekday,
/// today's monthday with and without `!`, a date range that ended and
/// one that started, and `--kerneltz` (the machines keep the kernel's
/// timezone at UTC).
fn time_rules() -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let day = now / 86_400;
    let hour = now % 86_400 / 3600;
    let at = |h: u64| format!("{:02}:00", (hour + h) % 24);
    let weekday = |d: u64| ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(d % 7) as usize];
    // The date command's own calendar, in UTC.
    let date = |t: u64, format: &str| {
        let out = std::process::Command::new("date")
            .env("LC_ALL", "C")
            .args(["-u", "-d", &format!("@{t}"), format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let monthday: u32 = date(now, "+%d").parse().unwrap();
    let yesterday = date((day - 1) * 86_400, "+%Y-%m-%d");
    [
        format!("--timestart {} --timestop {}", at(22), at(2)),
        format!("--timestart {} --timestop {}", at(3), at(4)),
        format!("--weekdays {}", weekday(day)),
        format!("--weekdays {}", weekday(day + 1)),
        format!("--monthdays {monthday}"),
        format!("! --monthdays {monthday}"),
        format!("--datestop {yesterday}"),
        format!("--datestart {yesterday}"),
        format!("--kerneltz --timestart {} --timestop {}", at(22), at(2)),
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| format!("-A INPUT -p udp --dport {} -m time {t} -j ACCEPT", 5950 + i))
    .collect()
}

#[test]
fn time_as_iptables() {
    let lab = Lab::new("time").unwrap();
    let rules = time_rules();
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let probes = |counters: &dyn Fn(usize) -> (u64, u64)| {
        for i in 0..rules.len() {
            send_udp(lab.client(), SERVER_ADDR, 5950 + i as u16, 10, 1);
        }
        (1..=rules.len()).map(|n| counters(n).0).collect::<Vec<_>>()
    };
    let listing = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    lab.fw_rules(&rules);
    let want = vec![1, 0, 1, 0, 1, 0, 0, 1, 1];
    assert_eq!(
        probes(&|n| rule_counters(&listing(), n)),
        want,
        "fw {rules:#?}"
    );
    // The clock fw compiled against is the clock now.
    assert!(lab.fw(&["status", "--check"]).status.success());
    integration_tests::fw_reset(lab.server());
    let got = under_iptables_legacy(&lab, &rules, |c| probes(c));
    assert_eq!(got, want, "iptables-legacy {rules:#?}");
}
