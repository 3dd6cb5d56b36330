//! fw on a macvlan and its lower device, against iptables-legacy in a twin
//! lab: a unicast frame for the macvlan's address meets the ruleset once,
//! with `-i mv0` (it passes p1's XDP untouched), as netfilter sees it; a
//! frame for p1's address meets it with `-i p1`; under passthru every
//! unicast frame is the macvlan's. A broadcast meets it on both, as in
//! netfilter, but one dropped on p1 reaches the macvlan only under
//! iptables (the kernel copies it to the macvlan after p1's XDP); so does
//! a frame a source-mode macvlan gets a copy of. A macvlan moved to
//! another namespace passes p1 too (netfilter in p1's never sees it).

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;

use std::{
    net::{Ipv4Addr, UdpSocket},
    os::fd::AsRawFd as _,
    time::Duration,
};

use integration_tests::{Netns, fw_bin, fw_reset, in_netns, rule_counters, sh_in, sh_ok};

/// p1's address (the lower device) and mv0's (the macvlan over it), in
/// subnets of their own so that each has one route.
const LOWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const UPPER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Ports the lab listens on: datagrams arriving there are counted.
const PORT_A: u16 = 9001;
const PORT_B: u16 = 9002;
const PORT_BCAST: u16 = 9003;
/// Every port the lab listens on.
const PORTS: [u16; 3] = [PORT_A, PORT_B, PORT_BCAST];

/// Which firewall a lab runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Filter {
    Legacy,
    Fw,
}

/// Namespace `a` with veth p1 (to the peer namespace `h`, whose end is
/// `e`) and macvlan mv0 over p1 in mode `mode`.
struct MacvlanLab {
    filter: Filter,
    a: Netns,
    h: Netns,
}

impl MacvlanLab {
    /// `kind` is `macvlan` or `macvtap` (a macvlan whose frames go to a
    /// tap file when one is open; none is here, so the stack gets them).
    fn new(tag: &str, kind: &str, mode: &str, filter: Filter) -> Self {
        let lab = MacvlanLab {
            filter,
            a: Netns::new(&format!("{tag}-a")).unwrap(),
            h: Netns::new(&format!("{tag}-h")).unwrap(),
        };
        let (a, h) = (lab.a.name(), lab.h.name());
        // No IPv6 (its neighbour and router messages are frames too).
        let quiet = "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
                     net.ipv6.conf.default.disable_ipv6=1";
        sh_ok(a, quiet);
        sh_ok(h, quiet);
        sh_ok(
            a,
            &format!(
                "ip link add p1 type veth peer name e netns {h} && \
                 ip link add link p1 name mv0 type {kind} mode {mode} && \
                 ip addr add {LOWER}/24 dev p1 && ip addr add {UPPER}/24 dev mv0 && \
                 ip link set p1 up && ip link set mv0 up && ip link set lo up"
            ),
        );
        let mac = |dev: &str| {
            let out = sh_ok(a, &format!("cat /sys/class/net/{dev}/address"));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        if mode == "source" {
            // A source macvlan gets copies of the frames from the
            // addresses it lists, whatever their destination.
            let out = sh_ok(h, "cat /sys/class/net/e/address");
            let peer = String::from_utf8_lossy(&out.stdout).trim().to_string();
            sh_ok(
                a,
                &format!("ip link set mv0 type macvlan macaddr add {peer}"),
            );
        }
        // Static neighbours: which device answers ARP does not matter.
        sh_ok(
            h,
            &format!(
                "ip addr add 192.0.2.9/24 dev e && ip addr add 198.51.100.9/24 dev e && \
                 ip link set e up && ip link set lo up && \
                 ip neigh add {LOWER} lladdr {} dev e && ip neigh add {UPPER} lladdr {} dev e",
                mac("p1"),
                mac("mv0")
            ),
        );
        lab
    }

    /// Loads `rules` (INPUT rules, iptables-restore lines) into the lab's
    /// firewall, replacing what it had.
    fn load(&self, rules: &[&str]) {
        let file = format!(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{}\nCOMMIT\n",
            rules.join("\n")
        );
        let cmd = match self.filter {
            Filter::Legacy => "iptables-legacy-restore".to_string(),
            Filter::Fw => format!("{} restore", fw_bin().display()),
        };
        let out = sh_in(self.a.name(), &cmd, &[], Some(&file));
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Packets of INPUT rules 1..=n.
    fn counts(&self, n: usize) -> Vec<u64> {
        let cmd = match self.filter {
            Filter::Legacy => "iptables-legacy".to_string(),
            Filter::Fw => fw_bin().display().to_string(),
        };
        let out = sh_ok(
            self.a.name(),
            &format!("{cmd} -L INPUT -v -n -x --line-numbers"),
        );
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        (1..=n).map(|i| rule_counters(&list, i).0).collect()
    }

    /// Sends each (address, port, count) from the peer, UDP; a broadcast
    /// address goes out `e` as a link-layer broadcast. Then, how many
    /// datagrams arrived on each of [`PORTS`] in the lab's namespace.
    fn send(&self, what: &[(Ipv4Addr, u16, usize)]) -> [usize; 3] {
        let socks: Vec<UdpSocket> = in_netns(self.a.name(), || {
            PORTS
                .iter()
                .map(|p| {
                    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, *p)).unwrap();
                    s.set_nonblocking(true).unwrap();
                    s
                })
                .collect()
        })
        .unwrap();
        let what = what.to_vec();
        in_netns(self.h.name(), move || {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            s.set_broadcast(true).unwrap();
            // Limited broadcast has no route: the device says where.
            let dev = b"e\0";
            // SAFETY: a valid socket and a NUL-terminated name of that length.
            let rc = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_BINDTODEVICE,
                    dev.as_ptr().cast(),
                    dev.len() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "SO_BINDTODEVICE");
            for (to, port, n) in what {
                for _ in 0..n {
                    s.send_to(b"x", (to, port)).unwrap();
                    // One at a time: nothing lost to a full queue.
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        })
        .unwrap();
        // Let the frames (and the macvlan's broadcast copies, queued to a
        // worker) arrive.
        std::thread::sleep(Duration::from_millis(300));
        let mut got = [0; 3];
        let mut buf = [0u8; 64];
        for (n, s) in got.iter_mut().zip(&socks) {
            while s.recv_from(&mut buf).is_ok() {
                *n += 1;
            }
        }
        got
    }
}

impl Drop for MacvlanLab {
    fn drop(&mut self) {
        fw_reset(self.a.name());
    }
}

/// (per-rule packets, arrivals per port) of the same `rules` and `sends`
/// in twin labs of a `kind` (macvlan, macvtap) in `mode`:
/// iptables-legacy's, then fw's.
#[allow(clippy::type_complexity)]
fn twins(
    tag: &str,
    (kind, mode): (&str, &str),
    rules: &[&str],
    sends: &[(Ipv4Addr, u16, usize)],
) -> [(Vec<u64>, [usize; 3]); 2] {
    [Filter::Legacy, Filter::Fw].map(|f| {
        let lab = MacvlanLab::new(&format!("{tag}-{f:?}"), kind, mode, f);
        lab.load(rules);
        let got = lab.send(sends);
        (lab.counts(rules.len()), got)
    })
}

/// Rules on both devices, each with an ACCEPT for one port and a DROP for
/// the rest: fw before the fix dropped the macvlan's datagrams at p1
/// (rule 2) and counted them there.
const UNICAST_RULES: [&str; 4] = [
    "-A INPUT -i p1 -p udp --dport 9001 -j ACCEPT",
    "-A INPUT -i p1 -p udp -j DROP",
    "-A INPUT -i mv0 -p udp --dport 9002 -j ACCEPT",
    "-A INPUT -i mv0 -p udp -j DROP",
];

/// To p1's address: 3 to the ACCEPT port, 2 to the other; to mv0's: 3
/// to its ACCEPT port, 2 to the other.
const UNICAST_SENDS: [(Ipv4Addr, u16, usize); 4] = [
    (LOWER, PORT_A, 3),
    (LOWER, PORT_B, 2),
    (UPPER, PORT_B, 3),
    (UPPER, PORT_A, 2),
];

#[test]
fn unicast_to_a_macvlan_or_macvtap_meets_the_ruleset_once_on_it_as_iptables() {
    for kind in [
        ("macvlan", "bridge"),
        ("macvlan", "private"),
        ("macvlan", "vepa"),
        ("macvtap", "bridge"),
    ] {
        let [legacy, fw] = twins("mvuni", kind, &UNICAST_RULES, &UNICAST_SENDS);
        // Each datagram meets one rule, on the device its MAC names.
        assert_eq!(
            legacy,
            (vec![3, 2, 3, 2], [3, 3, 0]),
            "iptables-legacy, {kind:?}"
        );
        assert_eq!(fw, legacy, "fw as iptables-legacy, {kind:?}");
    }
}

#[test]
fn under_passthru_every_unicast_frame_is_the_macvlans_as_in_iptables() {
    // passthru: mv0 has p1's MAC address and the driver hands it every
    // unicast frame of p1, those for p1's IP address too.
    let [legacy, fw] = twins(
        "mvpass",
        ("macvlan", "passthru"),
        &UNICAST_RULES,
        &UNICAST_SENDS,
    );
    assert_eq!(legacy, (vec![0, 0, 5, 5], [0, 5, 0]), "iptables-legacy");
    assert_eq!(fw, legacy, "fw as iptables-legacy");
}

#[test]
fn a_source_macvlan_skips_the_lower_for_its_frames_and_misses_copies_the_lower_drops() {
    // p1's frames meet p1 and, copied, mv0 (rules 4 and 3: a copy to
    // 9002 arrives by mv0); mv0's meet only mv0 (p1's stack drops them,
    // addressed to another host).
    let [legacy, fw] = twins(
        "mvsrc",
        ("macvlan", "source"),
        &UNICAST_RULES,
        &UNICAST_SENDS,
    );
    assert_eq!(legacy, (vec![3, 2, 5, 5], [3, 5, 0]), "iptables-legacy");
    // Known difference, as for broadcasts: the driver copies the frame
    // after p1's XDP, so the 2 that fw's rule 2 drops on p1 never reach
    // mv0 (rule 3 counts 3, not 5, and port 9002 gets 3).
    assert_eq!(fw, (vec![3, 2, 3, 5], [3, 3, 0]), "fw");
}

#[test]
fn a_broadcast_meets_the_lower_and_the_macvlan_and_a_drop_on_the_lower_differs() {
    let sends = [(Ipv4Addr::BROADCAST, PORT_BCAST, 3)];
    let accept = [
        "-A INPUT -i p1 -p udp --dport 9003 -j ACCEPT",
        "-A INPUT -i mv0 -p udp --dport 9003 -j ACCEPT",
    ];
    // p1 gets the frame and mv0 a copy: counted on each, delivered twice.
    let [legacy, fw] = twins("mvbc", ("macvlan", "bridge"), &accept, &sends);
    assert_eq!(legacy, (vec![3, 3], [0, 0, 6]), "iptables-legacy");
    assert_eq!(fw, legacy, "fw as iptables-legacy");

    // Known difference (docs/semantics.md item 6): the driver copies the
    // broadcast to mv0 before p1's netfilter hooks, but after p1's XDP,
    // so fw's DROP on p1 leaves mv0 without it.
    let drop_lower = [
        "-A INPUT -i p1 -p udp --dport 9003 -j DROP",
        "-A INPUT -i mv0 -p udp --dport 9003 -j ACCEPT",
    ];
    let [legacy, fw] = twins("mvbcdrop", ("macvlan", "bridge"), &drop_lower, &sends);
    assert_eq!(legacy, (vec![3, 3], [0, 0, 3]), "iptables-legacy");
    assert_eq!(fw, (vec![3, 0], [0, 0, 0]), "fw");
}

/// The daemon (`fw daemon --no-metrics`) in a namespace, stopped with
/// SIGTERM when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

#[test]
fn a_macvlan_added_later_is_followed_at_the_next_change_and_a_new_address_by_the_daemon() {
    let lab = MacvlanLab::new("mvlater", "macvlan", "bridge", Filter::Fw);
    let (a, h) = (lab.a.name(), lab.h.name());
    let mut rules = UNICAST_RULES.to_vec();
    rules.push("-A INPUT -i mv1 -p udp -j ACCEPT");
    lab.load(&rules);
    let fw = |args: &str| sh_ok(a, &format!("{} {args}", fw_bin().display()));
    let mv1 = Ipv4Addr::new(203, 0, 113, 1);
    sh_ok(
        a,
        &format!(
            "ip link add link p1 name mv1 type macvlan mode bridge && \
             ip addr add {mv1}/24 dev mv1 && ip link set mv1 up"
        ),
    );
    let mac = |dev: &str| {
        let out = sh_ok(a, &format!("cat /sys/class/net/{dev}/address"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    sh_ok(
        h,
        &format!(
            "ip addr add 203.0.113.9/24 dev e && ip neigh add {mv1} lladdr {} dev e",
            mac("mv1")
        ),
    );
    // Not attached to mv1 yet: its frames meet p1's rules (rule 2 drops
    // them), never unfiltered.
    assert_eq!(lab.send(&[(mv1, PORT_B, 3)]), [0, 0, 0]);
    assert_eq!(lab.counts(5), [0, 3, 0, 0, 0]);
    // The next change attaches mv1 and lets its frames by p1.
    fw("-A INPUT -p icmp -j ACCEPT");
    assert_eq!(lab.send(&[(mv1, PORT_B, 3)]), [0, 3, 0]);
    assert_eq!(lab.counts(5), [0, 3, 0, 0, 3]);

    // mv0 takes another address with nothing else changing: the daemon
    // follows it.
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", a])
        .arg(fw_bin())
        .args(["daemon", "--no-metrics"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("fw daemon");
    let _daemon = Daemon(child);
    std::thread::sleep(Duration::from_millis(500));
    let new_mac = "02:00:5e:00:53:01";
    sh_ok(a, &format!("ip link set mv0 address {new_mac}"));
    sh_ok(
        h,
        &format!("ip neigh replace {UPPER} lladdr {new_mac} dev e"),
    );
    // Until the daemon's refresh the new address's frames meet p1's
    // rule 2 (dropped): wait for one to arrive.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while lab.send(&[(UPPER, PORT_B, 1)])[1] == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "mv0's new address still meets p1"
        );
    }
    fw("-Z");
    assert_eq!(lab.send(&UNICAST_SENDS), [3, 3, 0]);
    assert_eq!(lab.counts(5), [3, 2, 3, 2, 0]);
}

/// Loads `rules` into `filter` in namespace `ns`, as [`MacvlanLab::load`].
fn load_in(ns: &str, filter: Filter, rules: &[&str]) {
    let file = format!(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{}\nCOMMIT\n",
        rules.join("\n")
    );
    let cmd = match filter {
        Filter::Legacy => "iptables-legacy-restore".to_string(),
        Filter::Fw => format!("{} restore", fw_bin().display()),
    };
    let out = sh_in(ns, &cmd, &[], Some(&file));
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_macvlan_in_another_namespace_passes_the_lower_as_in_iptables() {
    // mv0 moved to namespace c (a container's): netfilter in a never sees
    // its frames; p1's rules must not count or drop them.
    let rules = [
        "-A INPUT -i p1 -p udp --dport 9001 -j ACCEPT",
        "-A INPUT -i p1 -p udp -j DROP",
    ];
    let got = [Filter::Legacy, Filter::Fw].map(|f| {
        let lab = MacvlanLab::new(&format!("mvns-{f:?}"), "macvlan", "bridge", f);
        let c = Netns::new(&format!("mvns-{f:?}-c")).unwrap();
        sh_ok(lab.a.name(), &format!("ip link set mv0 netns {}", c.name()));
        sh_ok(
            c.name(),
            &format!("ip addr add {UPPER}/24 dev mv0 && ip link set mv0 up && ip link set lo up"),
        );
        load_in(lab.a.name(), f, &rules);
        let in_c = in_netns(c.name(), || {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT_B)).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .unwrap();
        let in_a = lab.send(&[(LOWER, PORT_A, 3), (LOWER, PORT_B, 2), (UPPER, PORT_B, 3)]);
        let mut buf = [0u8; 64];
        let mut arrived_c = 0;
        while in_c.recv_from(&mut buf).is_ok() {
            arrived_c += 1;
        }
        let counts = lab.counts(rules.len());
        fw_reset(c.name());
        (counts, in_a, arrived_c)
    });
    assert_eq!(got[0], (vec![3, 2], [3, 0, 0], 3), "iptables-legacy");
    assert_eq!(got[1], got[0], "fw as iptables-legacy");
}
