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
