//! The fw binary with IPv6 (issue 11): `fw -6`, `--ipv6` anywhere in an
//! iptables command line and the `fw6` name select ip6tables' language
//! and the IPv6 table; what has no IPv6 form yet (`--json`, `apply`,
//! YAML) is refused with one line and exit status 2, and
//! `fw -6 restore --test FILE` checks an ip6tables-save file offline.
//! Each command runs in a throwaway namespace.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use std::process::Output;

use integration_tests::{Netns, TempFile, fw_bin};

/// The one-line refusal of `what` in IPv6.
fn refusal(what: &str) -> String {
    format!("fw v0.1.0 (eBPF): not supported yet: {what} in IPv6\n")
}

/// `program args` in `ns`, with `stdin`.
fn run(ns: &Netns, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    ns.sh(&format!("'{program}' \"$@\""), &args, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn ipv6_commands_run_on_the_ipv6_table() {
    let fw = fw_bin();
    assert!(
        fw.exists(),
        "{} missing: cargo build -p firewall",
        fw.display()
    );
    let fw = fw.to_str().unwrap().to_string();
    let ns = Netns::new("ipv6-cli").unwrap();
    let rules = TempFile::new(
        "ipv6-cli.v6",
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 2001:db8::/32 -j ACCEPT\nCOMMIT\n",
    );
    let path = rules.path().to_string();
    for (args, what) in [
        (&["--ipv6", "apply", &path][..], "`apply'"),
        (&["-6", "save", "--format", "yaml"], "save --format yaml"),
    ] {
        let out = run(&ns, &fw, args, None);
        assert_eq!(
            (
                out.status.code(),
                text(&out.stderr).as_str(),
                text(&out.stdout).as_str()
            ),
            (Some(2), refusal(what).as_str(), ""),
            "fw {args:?}"
        );
    }
    // Each form reaches the IPv6 table, and only it.
    for args in [
        &["-6", "-A", "INPUT", "-s", "2001:db8::/32", "-j", "ACCEPT"][..],
        &["-A", "INPUT", "--ipv6", "-s", "2001:db8::1", "-j", "DROP"],
        &["-6", "restore", "--noflush", &path],
    ] {
        let out = run(&ns, &fw, args, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "fw {args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = run(&ns, &fw, &["-6", "-S", "INPUT"], None);
    assert_eq!(
        text(&out.stdout),
        "-P INPUT ACCEPT\n-A INPUT -s 2001:db8::/32 -j ACCEPT\n-A INPUT -s 2001:db8::1/128 -j DROP\n\
         -A INPUT -s 2001:db8::/32 -j ACCEPT\n"
    );
    let out = run(&ns, &fw, &["-S", "INPUT"], None);
    assert_eq!(text(&out.stdout), "-P INPUT ACCEPT\n");
    // ip6tables' errors come first, in ip6tables' words.
    let out = run(
        &ns,
        &fw,
        &["-6", "-A", "INPUT", "-s", "192.0.2.1", "-j", "ACCEPT"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("fw v0.1.0 (eBPF): host/network `192.0.2.1' not found\n"),
        "{}",
        text(&out.stderr)
    );
    // The program name: a link called fw6 is ip6tables' counterpart.
    let dir = std::env::temp_dir().join(format!("fw6-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fw6 = dir.join("fw6");
    let _ = std::fs::remove_file(&fw6);
    std::os::unix::fs::symlink(&fw, &fw6).unwrap();
    let fw6 = fw6.to_str().unwrap();
    let out = run(
        &ns,
        fw6,
        &["-A", "INPUT", "-p", "icmpv6", "-j", "ACCEPT"],
        None,
    );
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(0), String::new())
    );
    let out = run(&ns, fw6, &["-S", "INPUT"], None);
    assert!(
        text(&out.stdout).ends_with("-A INPUT -p ipv6-icmp -j ACCEPT\n"),
        "{}",
        text(&out.stdout)
    );
    // --json lists the IPv6 table, from fw6 as with -6 in the line.
    for (prog, args) in [
        (fw6, &["-L", "--json"][..]),
        (fw.as_str(), &["-L", "INPUT", "--ipv6", "--json"]),
    ] {
        let out = run(&ns, prog, args, None);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let listing = text(&out.stdout);
        assert!(
            listing.contains("\"family\": \"ipv6\"")
                && listing.contains("-A INPUT -p ipv6-icmp -j ACCEPT"),
            "{listing}"
        );
    }
    let out = run(&ns, &fw, &["reset"], None);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&ns, fw6, &["-A", "INPUT", "-f", "-j", "ACCEPT"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`-f' is not supported in IPv6, use -m frag instead"));
    // fw -6 restore --test: the IPv6 restore engine, offline.
    let out = run(&ns, &fw, &["-6", "restore", "--test", &path], None);
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(0), String::new())
    );
    let out = run(
        &ns,
        fw6,
        &["restore", "--test"],
        Some("*filter\n-A INPUT -s 10.0.0.1 -j DROP\nCOMMIT\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .starts_with("fw restore: line 2 failed: host/network `10.0.0.1' not found"),
        "{}",
        text(&out.stderr)
    );
    // The same file is no IPv4 file.
    let out = run(&ns, &fw, &["restore", "--test", &path], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
