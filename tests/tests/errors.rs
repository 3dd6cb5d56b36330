//! Bad input gets iptables' exit code and message and changes nothing
//! (issue 2): the examples are real iptables 1.8.9's answers.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use integration_tests::Lab;

#[test]
fn bad_input_is_refused_and_the_ruleset_is_unchanged() {
    let lab = Lab::new("errors").unwrap();
    lab.fw_ok(&["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"]);
    lab.fw_ok(&["-P", "INPUT", "DROP"]);
    let before = lab.fw_ok(&["-S"]);
    let cases: &[(&str, i32, &str)] = &[
        (
            "-A INPUT -p tcp --dport 99999 -j ACCEPT",
            2,
            "invalid port/service `99999' specified",
        ),
        (
            "-A INPUT --dport 22 -j ACCEPT",
            2,
            "unknown option \"--dport\"",
        ),
        ("-A INPUT -m unknownmatch -j ACCEPT", 2, "unknownmatch"),
        (
            "-A INPUT -s 192.0.2.1/33 -j DROP",
            2,
            "invalid mask `33' specified",
        ),
        ("-A NOPE -j DROP", 1, "No chain/target/match by that name."),
        (
            "-D INPUT -p tcp --dport 23 -j ACCEPT",
            1,
            "Bad rule (does a matching rule exist in that chain?).",
        ),
        ("-D INPUT 5", 1, "Index of deletion too big."),
        ("-I INPUT 5 -j ACCEPT", 1, "Index of insertion too big."),
        ("-P NOPE DROP", 1, "Bad built-in chain name."),
        ("-A INPUT -j LOG --log-uid", 2, "--log-uid"),
        (
            "-A INPUT -m limit --limit 3/min -p tcp --dport 22 -j ACCEPT",
            2,
            "-m limit before -m tcp",
        ),
    ];
    for (cmd, code, msg) in cases {
        let out = lab.fw(&cmd.split(' ').collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "`fw {cmd}`: {stderr}");
        assert!(
            stderr.contains(msg),
            "`fw {cmd}`: expected {msg:?} in {stderr:?}"
        );
        assert_eq!(lab.fw_ok(&["-S"]), before, "`fw {cmd}` changed the ruleset");
    }
}

#[test]
fn a_user_without_privileges_is_told_which_capability_is_missing() {
    let lab = Lab::new("noroot").unwrap();
    // `fw -A INPUT -j DROP` as nobody, with these capabilities: its exit
    // code and stderr.
    let as_nobody = |caps: &[&str]| {
        let fw = integration_tests::fw_bin();
        let mut args = vec!["--reuid=65534", "--regid=65534", "--clear-groups"];
        args.extend(caps);
        args.extend([fw.to_str().unwrap(), "-A", "INPUT", "-j", "DROP"]);
        let out = integration_tests::netns_exec(lab.server(), "setpriv", &args).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    let (code, stderr) = as_nobody(&["--inh-caps=-all"]);
    // 3, as iptables-legacy's "Permission denied (you must be root)".
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stderr,
        "fw: Permission denied (you must be root): \
         fw lacks CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN\n"
    );
    assert!(lab.fw_ok(&["status"]).contains("not loaded"));
    // The capabilities without root's file access: the lock is named.
    let (code, stderr) = as_nobody(&[
        "--inh-caps=+bpf,+perfmon,+net_admin",
        "--ambient-caps=+bpf,+perfmon,+net_admin",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.starts_with("fw: /run/fw/lock/") && stderr.contains("(you must be root: "),
        "{stderr}"
    );
}
