//! fw on a bridge: attached to the bridge device, not to its ports, so
//! it sees what netfilter without br_netfilter sees (`-i br0` for what the
//! bridge passes up, nothing of what it switches between ports); the
//! bridge may be created before or after its ports; a port added to a
//! loaded bridge does not make later changes fail.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use std::{net::Ipv4Addr, process::Output, time::Duration};

use integration_tests::{
    Netns, fw_in, fw_reset, icmp_probe, netns_exec, policy_counters, rule_counters, sh_in, sh_ok,
};

/// br0's address in the bridge namespace.
const BR_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The hosts behind ports p1 and p2.
const H1_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const H2_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// A probe that is expected to be dropped waits this long.
const WAIT: Duration = Duration::from_millis(500);

/// The bridge namespace `b` with br0 and ports p1, p2 to hosts h1, h2.
struct BridgeLab {
    b: Netns,
    h: [Netns; 2],
}

impl BridgeLab {
    /// With `bridge_first`, br0 exists before p1 and p2 (docker0's order).
    fn new(tag: &str, bridge_first: bool) -> Self {
        let lab = BridgeLab {
            b: Netns::new(&format!("{tag}-b")).unwrap(),
            h: [
                Netns::new(&format!("{tag}-1")).unwrap(),
                Netns::new(&format!("{tag}-2")).unwrap(),
            ],
        };
        let b = lab.b.name();
        let bridge = format!(
            "ip link add br0 type bridge && ip addr add {BR_ADDR}/24 dev br0 && ip link set br0 up"
        );
        if bridge_first {
            sh_ok(b, &bridge);
        }
        for (n, (h, addr)) in lab.h.iter().zip([H1_ADDR, H2_ADDR]).enumerate() {
            lab.add_port(&format!("p{}", n + 1), h.name(), addr, !bridge_first);
        }
        if !bridge_first {
            sh_ok(
                b,
                &format!("{bridge} && ip link set p1 master br0 && ip link set p2 master br0"),
            );
        }
        sh_ok(
            b,
            "ip link set lo up; sysctl -qw net.bridge.bridge-nf-call-iptables=0 || true",
        );
        lab
    }

    /// Port `port` of br0 to a host namespace `h` with address `addr`;
    /// enslaved unless `later`.
    fn add_port(&self, port: &str, h: &str, addr: Ipv4Addr, later: bool) {
        let b = self.b.name();
        sh_ok(
            b,
            &format!("ip link add {port} type veth peer name e netns {h} && ip link set {port} up"),
        );
        if !later {
            sh_ok(b, &format!("ip link set {port} master br0"));
        }
        sh_ok(
            h,
            &format!("ip addr add {addr}/24 dev e && ip link set e up && ip link set lo up"),
        );
    }

    fn fw(&self, args: &[&str]) -> Output {
        fw_in(self.b.name(), args).unwrap()
    }

    fn fw_ok(&self, args: &[&str]) -> String {
        let out = self.fw(args);
        assert!(
            out.status.success(),
            "fw {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Three pings from h1 to br0's address and three to h2 (across the
    /// bridge): how many were answered of each.
    fn pings(&self) -> (usize, usize) {
        let h1 = self.h[0].name();
        // The first lets ARP settle both ways.
        let _ = icmp_probe(h1, H2_ADDR, Duration::from_secs(1));
        let count = |to| (0..3).filter(|_| icmp_probe(h1, to, WAIT)).count();
        (count(BR_ADDR), count(H2_ADDR))
    }
}

impl Drop for BridgeLab {
    fn drop(&mut self) {
        fw_reset(self.b.name());
        let _ = sh_in(
            self.b.name(),
            "iptables-legacy -F; iptables-legacy -P INPUT ACCEPT",
            &[],
            None,
        );
    }
}

const RULES: [&str; 2] = ["-P INPUT DROP", "-A INPUT -i br0 -j ACCEPT"];

/// (pings answered to br0, across; `-i br0` rule packets, policy packets)
/// under iptables-legacy, then the same under fw.
fn both(lab: &BridgeLab) -> [(usize, usize, u64, u64); 2] {
    let b = lab.b.name();
    for r in RULES {
        let args: Vec<&str> = r.split(' ').collect();
        assert!(
            netns_exec(b, "iptables-legacy", &args)
                .unwrap()
                .status
                .success()
        );
    }
    // The warm-up ping crosses the bridge only: nothing to count.
    let (to_br, across) = lab.pings();
    let list = netns_exec(
        b,
        "iptables-legacy",
        &["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"],
    )
    .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    let legacy = (
        to_br,
        across,
        rule_counters(&list, 1).0,
        policy_counters(&list).0,
    );
    sh_ok(b, "iptables-legacy -F; iptables-legacy -P INPUT ACCEPT");

    let file = format!(
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{}\nCOMMIT\n",
        RULES[1]
    );
    let out = sh_in(
        b,
        &format!("{} restore", integration_tests::fw_bin().display()),
        &[],
        Some(&file),
    );
    assert!(
        out.status.success(),
        "fw restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (to_br, across) = lab.pings();
    let list = lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    [
        legacy,
        (
            to_br,
            across,
            rule_counters(&list, 1).0,
            policy_counters(&list).0,
        ),
    ]
}

fn status(lab: &BridgeLab) -> String {
    lab.fw_ok(&["status"])
}

fn port_line<'a>(status: &'a str, port: &str) -> &'a str {
    status
        .lines()
        .find(|l| l.split_whitespace().next() == Some(port))
        .unwrap_or_else(|| panic!("no {port} in:\n{status}"))
}

#[test]
fn bridge_created_before_its_ports_loads_and_matches_iptables() {
    let lab = BridgeLab::new("brfirst", true);
    let [legacy, fw] = both(&lab);
    assert_eq!(legacy, (3, 3, 3, 0), "iptables-legacy");
    assert_eq!(fw, legacy, "fw as iptables-legacy");
    let st = status(&lab);
    for p in ["p1", "p2"] {
        assert!(
            port_line(&st, p).contains("not attached: bridge port, filtered at br0"),
            "{st}"
        );
    }
    assert!(port_line(&st, "br0").ends_with("filtered"), "{st}");
    assert!(lab.fw(&["status", "--check"]).status.success(), "{st}");
}

#[test]
fn ports_created_before_the_bridge_match_iptables() {
    let lab = BridgeLab::new("portsfirst", false);
    let [legacy, fw] = both(&lab);
    assert_eq!(legacy, (3, 3, 3, 0), "iptables-legacy");
    assert_eq!(fw, legacy, "fw as iptables-legacy");
}

#[test]
fn a_port_added_to_a_loaded_bridge_does_not_block_changes() {
    let lab = BridgeLab::new("addport", true);
    lab.fw_ok(&["-P", "INPUT", "DROP"]);
    lab.fw_ok(&["-A", "INPUT", "-i", "br0", "-j", "ACCEPT"]);
    let h3 = Netns::new("addport-3").unwrap();
    lab.add_port("p3", h3.name(), Ipv4Addr::new(192, 0, 2, 3), false);
    // "not attached" is printed only when no live link of fw is there.
    let st = status(&lab);
    assert!(
        port_line(&st, "p3").contains("not attached: bridge port"),
        "{st}"
    );
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "-j", "DROP"]);
    lab.fw_ok(&["-P", "INPUT", "ACCEPT"]);
    lab.fw_ok(&["-F"]);
    let st = status(&lab);
    assert!(
        port_line(&st, "p3").contains("not attached: bridge port, filtered at br0"),
        "{st}"
    );
    assert!(lab.fw(&["status", "--check"]).status.success(), "{st}");

    // A port fw attached to before it joined br0 is detached by the next
    // change; until then status calls it filtered twice.
    let h4 = Netns::new("addport-4").unwrap();
    lab.add_port("p4", h4.name(), Ipv4Addr::new(192, 0, 2, 4), true);
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "-j", "DROP"]);
    assert!(port_line(&status(&lab), "p4").ends_with("filtered"));
    sh_ok(lab.b.name(), "ip link set p4 master br0");
    let st = status(&lab);
    assert!(port_line(&st, "p4").contains("filtered twice"), "{st}");
    assert!(!lab.fw(&["status", "--check"]).status.success(), "{st}");
    lab.fw_ok(&["-D", "INPUT", "1"]);
    let st = status(&lab);
    assert!(
        port_line(&st, "p4").contains("not attached: bridge port, filtered at br0"),
        "{st}"
    );
    assert!(lab.fw(&["status", "--check"]).status.success(), "{st}");
}

#[test]
fn br_netfilter_on_is_a_problem_for_status_check() {
    let lab = BridgeLab::new("brnf", true);
    lab.fw_ok(&["-A", "INPUT", "-i", "br0", "-j", "ACCEPT"]);
    assert!(lab.fw(&["status", "--check"]).status.success());
    sh_ok(
        lab.b.name(),
        "sysctl -qw net.bridge.bridge-nf-call-iptables=1",
    );
    let out = lab.fw(&["status", "--check"]);
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("bridge-nf-call-iptables is 1"), "{text}");
}

#[test]
fn a_lower_device_whose_upper_has_xdp_is_reported_not_failed() {
    // A macvlan over p1 moved into a container namespace c where fw runs
    // first: the kernel then refuses XDP on p1 (EEXIST).
    let a = Netns::new("lower-a").unwrap();
    let h = Netns::new("lower-h").unwrap();
    let c = Netns::new("lower-c").unwrap();
    sh_ok(
        a.name(),
        &format!(
            "ip link add p1 type veth peer name e netns {h} && ip link set p1 up && \
             ip link add link p1 name mv type macvlan mode bridge && ip link set mv netns {c}",
            h = h.name(),
            c = c.name()
        ),
    );
    sh_ok(c.name(), "ip link set mv up");
    let fw = |ns: &Netns, args: &[&str]| fw_in(ns.name(), args).unwrap();
    assert!(fw(&c, &["-A", "INPUT", "-j", "ACCEPT"]).status.success());
    for _ in 0..2 {
        let out = fw(&a, &["-A", "INPUT", "-j", "ACCEPT"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let st = String::from_utf8_lossy(&fw(&a, &["status"]).stdout).into_owned();
    assert!(
        port_line(&st, "p1").contains("not attached: the kernel refused XDP (EEXIST"),
        "{st}"
    );
    assert!(!fw(&a, &["status", "--check"]).status.success());
    fw_reset(a.name());
    fw_reset(c.name());
}
