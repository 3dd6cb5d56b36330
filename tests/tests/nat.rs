//! NAT on the host (docs/semantics.md, "NAT"): fw's XDP hook sees a
//! packet before DNAT and a masqueraded connection's replies before their
//! de-NAT, so a ruleset that filters is refused while the namespace has
//! an iptables-legacy `nat` table with rules or an nftables `nat` base
//! chain, and `fw status --check` fails when one appears after the load.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use integration_tests::{Lab, sh_in};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_filtering_ruleset_is_refused_beside_nat_and_status_check_fails() {
    let lab = Lab::new("nat").unwrap();
    let s = lab.server();
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "5001", "-j", "DROP"]);
    let before = lab.fw_ok(&["-S"]);
    let out = sh_in(
        s,
        "iptables-legacy -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.0.2.9:8080",
        &[],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Loaded before the NAT rule: status says so.
    let st = lab.fw(&["status", "--check"]);
    assert_eq!(st.status.code(), Some(1));
    assert!(
        text(&st.stderr).contains("iptables-legacy table `nat' has rules: NAT rewrites packets"),
        "{}",
        text(&st.stderr)
    );
    // A change is refused, naming it; nothing changes.
    let out = lab.fw(&["-P", "INPUT", "DROP"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "not supported yet: rules or a DROP policy while iptables-legacy table `nat' has rules"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(lab.fw_ok(&["-S"]), before);
    // nftables' nat chains count too; a filter chain does not.
    let out = sh_in(
        s,
        "iptables-legacy -t nat -F && nft add table ip t && \
         nft add chain ip t f '{ type filter hook input priority 10; }' && \
         nft add chain ip t pre '{ type nat hook prerouting priority -100; }'",
        &[],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = lab.fw(&["-P", "INPUT", "DROP"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("nftables chain `ip t pre' exists"), "{err}");
    assert!(!err.contains("`ip t f'"), "{err}");
    let out = sh_in(s, "nft delete chain ip t pre", &[], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    lab.fw_ok(&["-P", "INPUT", "DROP"]);
    assert_eq!(lab.fw(&["status", "--check"]).status.code(), Some(0));
}

/// IPv6 NAT (an ip6tables-legacy `nat` table with rules, an nftables
/// `ip6` nat chain) bears on the IPv6 table: a filtering `fw -6` change
/// is refused, naming it, and nothing changes; IPv4's table, which that
/// NAT never rewrites for, still changes.
#[test]
fn ipv6_nat_refuses_the_ipv6_table_only() {
    let lab = Lab::new("nat6").unwrap();
    let s = lab.server();
    let sh = |script: &str| {
        let out = sh_in(s, script, &[], None);
        assert!(out.status.success(), "{script}: {}", text(&out.stderr));
    };
    for (setup, what) in [
        (
            "ip6tables-legacy -t nat -A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080",
            "ip6tables-legacy table `nat' has rules",
        ),
        (
            "ip6tables-legacy -t nat -F && nft add table ip6 t6 && \
             nft add chain ip6 t6 pre '{ type nat hook prerouting priority -100; }'",
            "nftables chain `ip6 t6 pre' exists",
        ),
    ] {
        sh(setup);
        let before = lab.fw_ok(&["-6", "-S"]);
        let out = lab.fw(&[
            "-6", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP",
        ]);
        assert_eq!(out.status.code(), Some(2), "{what}");
        let want = format!("not supported yet: rules or a DROP policy while {what}");
        assert!(text(&out.stderr).contains(&want), "{}", text(&out.stderr));
        assert_eq!(lab.fw_ok(&["-6", "-S"]), before);
        lab.fw_ok(&["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP"]);
        lab.fw_ok(&["-F"]);
    }
}
