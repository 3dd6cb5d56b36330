//! fw's TC programs attached as clsact filters, the fallback on kernels
//! without TCX (before Linux 6.6, issue 16), forced here on any kernel
//! with `FW_TC_ATTACH=clsact`: OUTPUT filtered, REJECT answers sent from
//! TC ingress, one filter per hook however often the ruleset changes,
//! `fw status` naming the mechanism, filters a `tc qdisc del` removed
//! put back at the next change, and `fw reset` leaving no filter.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;

use std::{process::Output, time::Duration};

use integration_tests::{
    CLIENT_ADDR, Lab, PROBE_TIMEOUT, SERVER_ADDR, SERVER_IF, Seen, fw_bin, netns_exec,
    rule_counters, sh_ok, tcp_connect, tcp_listen, udp_probe,
};

/// A probe that is expected to be dropped waits this long.
const DROP_WAIT: Duration = Duration::from_millis(400);

/// fw with `args` in the lab's server namespace, told to use clsact.
fn fw(lab: &Lab, args: &[&str]) -> Output {
    let bin = fw_bin();
    let mut all = vec!["FW_TC_ATTACH=clsact", bin.to_str().unwrap()];
    all.extend_from_slice(args);
    netns_exec(lab.server(), "env", &all).unwrap()
}

fn fw_ok(lab: &Lab, args: &[&str]) -> String {
    let out = fw(lab, args);
    assert!(
        out.status.success(),
        "fw {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The names of the BPF filters at `dev`'s clsact `parent` (`ingress`
/// or `egress`) in `ns`, as `tc filter show` lists them.
fn filters(ns: &str, dev: &str, parent: &str) -> Vec<String> {
    let out = sh_ok(ns, &format!("tc filter show dev {dev} {parent}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let at = l.find(" name ")?;
            Some(l[at + 6..].split_whitespace().next()?.to_string())
        })
        .collect()
}

#[test]
fn clsact_filters_enforce_output_and_reject_and_go_with_reset() {
    let lab = Lab::new("clsact").unwrap();
    let _telnet = tcp_listen(lab.server(), 23).unwrap();
    fw_ok(
        &lab,
        &["-A", "OUTPUT", "-p", "udp", "--dport", "7", "-j", "DROP"],
    );
    fw_ok(
        &lab,
        &[
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "23",
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ],
    );
    // A third change, to see that changes leave one filter per hook.
    fw_ok(
        &lab,
        &["-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "DROP"],
    );
    assert_eq!(filters(lab.server(), SERVER_IF, "egress"), ["fw_tc"]);
    assert_eq!(filters(lab.server(), SERVER_IF, "ingress"), ["fw_tc_in"]);
    assert_eq!(filters(lab.server(), "lo", "egress"), ["fw_tc"]);
    let status = fw_ok(&lab, &["status"]);
    let row = status
        .lines()
        .find(|l| l.starts_with(SERVER_IF))
        .unwrap_or_else(|| panic!("{status}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (cols[3], cols[5], cols[6]),
        ("clsact", "49152", "filtered"),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().nth(3) == Some("tc")),
        "the header names the column: {status}"
    );
    // fw_ok(status --check) exits 0 only without problems.
    fw_ok(&lab, &["status", "--check"]);

    // OUTPUT: the server's datagram to port 7 is dropped at egress and
    // counted once; one to port 8 leaves.
    assert!(!udp_probe(
        lab.server(),
        lab.client(),
        CLIENT_ADDR,
        7,
        DROP_WAIT
    ));
    assert!(udp_probe(
        lab.server(),
        lab.client(),
        CLIENT_ADDR,
        8,
        PROBE_TIMEOUT
    ));
    let listing = fw_ok(&lab, &["-L", "OUTPUT", "-v", "-n", "-x", "--line-numbers"]);
    assert_eq!(rule_counters(&listing, 1).0, 1, "{listing}");
    // REJECT: the RST leaves by the veth's clsact ingress filter, though
    // a listener is there.
    let (seen, _) = tcp_connect(lab.client(), SERVER_ADDR, 23, PROBE_TIMEOUT);
    assert_eq!(seen, Seen::Errno(libc::ECONNREFUSED));
    // INPUT's DROP: the datagram never reaches the server.
    assert!(!udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        9,
        DROP_WAIT
    ));

    // `tc qdisc del` takes fw's filters along: status names it, and the
    // next change puts them back (no TCX link protects a filter).
    sh_ok(
        lab.server(),
        &format!("tc qdisc del dev {SERVER_IF} clsact"),
    );
    let check = fw(&lab, &["status", "--check"]);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    fw_ok(
        &lab,
        &["-A", "INPUT", "-p", "udp", "--dport", "11", "-j", "DROP"],
    );
    assert_eq!(filters(lab.server(), SERVER_IF, "egress"), ["fw_tc"]);
    assert_eq!(filters(lab.server(), SERVER_IF, "ingress"), ["fw_tc_in"]);
    fw_ok(&lab, &["status", "--check"]);
    assert!(!udp_probe(
        lab.server(),
        lab.client(),
        CLIENT_ADDR,
        7,
        DROP_WAIT
    ));
    let listing = fw_ok(&lab, &["-L", "OUTPUT", "-v", "-n", "-x", "--line-numbers"]);
    assert_eq!(rule_counters(&listing, 1).0, 2, "{listing}");

    fw_ok(&lab, &["reset"]);
    for (dev, parent) in [
        (SERVER_IF, "egress"),
        (SERVER_IF, "ingress"),
        ("lo", "egress"),
    ] {
        assert_eq!(
            filters(lab.server(), dev, parent),
            Vec::<String>::new(),
            "{dev} {parent}"
        );
    }
    let (seen, _) = tcp_connect(lab.client(), SERVER_ADDR, 23, PROBE_TIMEOUT);
    assert_eq!(seen, Seen::Connected);
    assert!(udp_probe(
        lab.server(),
        lab.client(),
        CLIENT_ADDR,
        7,
        PROBE_TIMEOUT
    ));
}
