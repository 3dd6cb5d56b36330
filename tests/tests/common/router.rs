//! The router lab: client 192.0.2.1 — (192.0.2.2) router
//! (198.51.100.1) — server 198.51.100.2, three namespaces; fw runs on the
//! router, which forwards between the two others.

#![allow(dead_code)]

use std::process::Command;

use integration_tests::{Netns, fw_in, fw_reset, ip, rule_counters, unique_name};

/// The three namespaces; dropping it resets fw on the router and deletes
/// them all.
pub struct RouterLab {
    pub client: Netns,
    pub router: Netns,
    pub server: Netns,
}

impl RouterLab {
    pub fn new() -> Self {
        let base = unique_name("fwd").unwrap();
        let ns = |side: &str| Netns::create(format!("{base}-{side}")).unwrap();
        let lab = RouterLab {
            client: ns("c"),
            router: ns("r"),
            server: ns("s"),
        };
        for ns in [&lab.client, &lab.router, &lab.server] {
            ip(&format!("-n {} link set lo up", ns.name())).unwrap();
        }
        let (c, r, s) = (lab.client.name(), lab.router.name(), lab.server.name());
        ip(&format!(
            "-n {c} link add veth-c type veth peer name veth-rc netns {r}"
        ))
        .unwrap();
        ip(&format!(
            "-n {s} link add veth-s type veth peer name veth-rs netns {r}"
        ))
        .unwrap();
        for (ns, dev, addr) in [
            (c, "veth-c", "192.0.2.1/24"),
            (r, "veth-rc", "192.0.2.2/24"),
            (r, "veth-rs", "198.51.100.1/24"),
            (s, "veth-s", "198.51.100.2/24"),
        ] {
            ip(&format!("-n {ns} addr add {addr} dev {dev}")).unwrap();
            ip(&format!("-n {ns} link set {dev} up")).unwrap();
        }
        ip(&format!("-n {c} route add default via 192.0.2.2")).unwrap();
        ip(&format!("-n {s} route add default via 198.51.100.1")).unwrap();
        let ok = Command::new("ip")
            .args(["netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "enable forwarding on the router");
        lab
    }

    /// The lab with IPv6 too: client 2001:db8:1::1, router 2001:db8:1::2
    /// and 2001:db8:2::1, server 2001:db8:2::2 (without duplicate address
    /// detection), the router forwarding.
    pub fn new6() -> Self {
        let lab = Self::new();
        let (c, r, s) = (lab.client.name(), lab.router.name(), lab.server.name());
        for (ns, dev, a) in [
            (c, "veth-c", "2001:db8:1::1/64"),
            (r, "veth-rc", "2001:db8:1::2/64"),
            (r, "veth-rs", "2001:db8:2::1/64"),
            (s, "veth-s", "2001:db8:2::2/64"),
        ] {
            ip(&format!("-n {ns} addr add {a} dev {dev} nodad")).unwrap();
        }
        ip(&format!("-n {c} -6 route add default via 2001:db8:1::2")).unwrap();
        ip(&format!("-n {s} -6 route add default via 2001:db8:2::1")).unwrap();
        let ok = Command::new("ip")
            .args(["netns", "exec", r, "sysctl", "-qw"])
            .arg("net.ipv6.conf.all.forwarding=1")
            .status()
            .unwrap()
            .success();
        assert!(ok, "enable IPv6 forwarding on the router");
        lab
    }

    pub fn fw(&self, args: &str) -> String {
        let out = fw_in(self.router.name(), &args.split(' ').collect::<Vec<_>>()).unwrap();
        assert!(
            out.status.success(),
            "fw {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// (packets, bytes) of rule `n` of `chain` on the router.
    pub fn counters(&self, chain: &str, n: usize) -> (u64, u64) {
        rule_counters(&self.fw(&format!("-L {chain} -v -n -x --line-numbers")), n)
    }

    /// Applies `rules` (iptables command lines) on the router with
    /// iptables-legacy, the oracle.
    #[allow(dead_code)] // Not every test that includes the lab uses it.
    pub fn legacy(&self, rules: &[&str]) {
        for r in rules {
            let out = integration_tests::netns_exec(
                self.router.name(),
                "iptables-legacy",
                &r.split(' ').collect::<Vec<_>>(),
            )
            .unwrap();
            assert!(out.status.success(), "iptables-legacy {r}");
        }
    }

    /// Empties iptables-legacy's filter table on the router, policies
    /// ACCEPT again.
    #[allow(dead_code)] // As `legacy`.
    pub fn legacy_reset(&self) {
        for args in [
            &["-F"][..],
            &["-P", "FORWARD", "ACCEPT"],
            &["-P", "INPUT", "ACCEPT"],
        ] {
            let _ = integration_tests::netns_exec(self.router.name(), "iptables-legacy", args);
        }
    }
}

impl Drop for RouterLab {
    fn drop(&mut self) {
        // Then the fields delete the namespaces.
        fw_reset(self.router.name());
    }
}
