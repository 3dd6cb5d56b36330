//! `fw set` and `-m set` against real ipset and iptables-legacy: the same
//! sets, rules and datagrams give the same counters, and a member added
//! or removed changes the verdict for the next packet without a change
//! of the ruleset. Also `fw set`'s answers to ipset's commands.

#[path = "common/legacy.rs"]
mod legacy;

use anyhow as _;
use firewall as _;
use libc as _;

use std::net::IpAddr;

use integration_tests::{CLIENT_ADDR, CLIENT6_ADDR, Lab, SERVER_ADDR, SERVER6_ADDR, rule_counters};
use legacy::send_udp;

/// The sets, as `ipset` and `fw set` both take them.
const SETS: [&str; 6] = [
    "create a hash:ip",
    "add a 192.0.2.1",
    "create n hash:net",
    "add n 192.0.2.0/24",
    "create p hash:ip,port",
    "add p 192.0.2.1,udp:5911",
];

/// INPUT rules, each counting what it saw (comments in the test).
const RULES: [&str; 7] = [
    "-A INPUT -p udp --dport 5910 -m set --match-set a src -j ACCEPT",
    "-A INPUT -p udp --dport 5910 -m set ! --match-set n src -j ACCEPT",
    "-A INPUT -p udp -m set --match-set p src,dst -j ACCEPT",
    "-A INPUT -p udp --dport 5912 -m set --match-set p src -j ACCEPT",
    "-A INPUT -p udp --dport 5912 -m set ! --match-set p src -j ACCEPT",
    "-A INPUT -p udp --dport 5913 -m set --match-set a dst,src -j ACCEPT",
    "-A INPUT -p udp --dport 5913 -j ACCEPT",
];

/// IPv6's sets and rules: [`SETS`] and [`RULES`] with inet6 sets.
const SETS6: [&str; 6] = [
    "create a6 hash:ip family inet6",
    "add a6 2001:db8::1",
    "create n6 hash:net family inet6",
    "add n6 2001:db8::/64",
    "create p6 hash:ip,port family inet6",
    "add p6 2001:db8::1,udp:5911",
];

/// [`RULES`] on the inet6 sets.
fn rules6() -> Vec<String> {
    RULES
        .iter()
        .map(|r| {
            r.replace("set a ", "set a6 ")
                .replace("set n ", "set n6 ")
                .replace("set p ", "set p6 ")
        })
        .collect()
}

/// Runs `set` commands in the server namespace: `ipset` or `fw set`.
fn sets(lab: &Lab, fw: bool, commands: &[&str]) {
    for c in commands {
        let words: Vec<&str> = c.split(' ').collect();
        let out = if fw {
            lab.fw(&[&["set"], words.as_slice()].concat())
        } else {
            integration_tests::netns_exec(lab.server(), "ipset", &words).unwrap()
        };
        assert!(
            out.status.success(),
            "{} {c}: {}",
            if fw { "fw set" } else { "ipset" },
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Probes to `to`, then a member added to the address set (the server's
/// address `server`: rule 6 matches) and the client's `client` removed
/// from it (rule 1 no longer), probed again; the counters after each
/// round. `set` is the address set's name.
fn probes(
    lab: &Lab,
    fw: bool,
    (set, client, server): (&str, IpAddr, IpAddr),
    list: &dyn Fn() -> String,
) -> Vec<Vec<u64>> {
    let round = || {
        for (port, count) in [(5910, 2), (5911, 3), (5912, 1), (5913, 4)] {
            send_udp(lab.client(), server, port, 10, count);
        }
        let out = list();
        (1..=RULES.len())
            .map(|n| rule_counters(&out, n).0)
            .collect::<Vec<_>>()
    };
    let first = round();
    sets(
        lab,
        fw,
        &[
            &format!("add {set} {server}"),
            &format!("del {set} {client}"),
        ],
    );
    vec![first, round()]
}

/// The same sets, rules and datagrams in fw and in ipset with
/// iptables-legacy (`ip6tables-legacy` with `v6`): the same counters.
fn sets_agree(lab: &Lab, v6: bool) {
    let want = vec![vec![2, 0, 3, 0, 1, 0, 4], vec![2, 0, 6, 0, 2, 4, 4]];
    let (set_cmds, rules, addrs): (&[&str], Vec<String>, (&str, IpAddr, IpAddr)) = if v6 {
        (
            &SETS6,
            rules6(),
            ("a6", CLIENT6_ADDR.into(), SERVER6_ADDR.into()),
        )
    } else {
        (
            &SETS,
            RULES.iter().map(|r| r.to_string()).collect(),
            ("a", CLIENT_ADDR.into(), SERVER_ADDR.into()),
        )
    };
    let (fw_family, legacy_bin) = if v6 {
        (&["-6"][..], "ip6tables-legacy")
    } else {
        (&[][..], "iptables-legacy")
    };
    let fw_cmd = |args: &[&str]| lab.fw_ok(&[fw_family, args].concat());
    sets(lab, true, set_cmds);
    for r in &rules {
        fw_cmd(&r.split(' ').collect::<Vec<_>>());
    }
    let fw = probes(lab, true, addrs, &|| {
        fw_cmd(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"])
    });
    let fw_rules = fw_cmd(&["-S", "INPUT"]);
    integration_tests::fw_reset(lab.server());
    let legacy = |args: &[&str]| {
        let out = integration_tests::netns_exec(lab.server(), legacy_bin, args).unwrap();
        assert!(out.status.success(), "{legacy_bin} {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    sets(lab, false, set_cmds);
    for r in &rules {
        legacy(&r.split(' ').collect::<Vec<_>>());
    }
    let got = probes(lab, false, addrs, &|| {
        legacy(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"])
    });
    assert_eq!(fw_rules, legacy(&["-S", "INPUT"]));
    legacy(&["-F"]);
    sets(lab, false, &["destroy"]);
    assert_eq!(got, want, "{legacy_bin}");
    assert_eq!(fw, want, "fw");
}

#[test]
fn set_matches_as_ipset_and_iptables_legacy() {
    let lab = Lab::new("sets").unwrap();
    sets_agree(&lab, false);
}

/// inet6 sets in ip6tables rules, on IPv6 datagrams, as ipset and
/// ip6tables-legacy; a set of the other family is refused by either
/// command, as libxt_set refuses it.
#[test]
fn inet6_set_matches_as_ipset_and_ip6tables_legacy() {
    let lab = Lab::new6("sets6").unwrap();
    sets_agree(&lab, true);
    let refusals = |fw: bool| {
        sets(
            &lab,
            fw,
            &["create v4 hash:ip", "create v6 hash:ip family inet6"],
        );
        let run = |family: &str, set: &str| {
            let rule = [
                "-A",
                "INPUT",
                "-m",
                "set",
                "--match-set",
                set,
                "src",
                "-j",
                "DROP",
            ];
            let out = if fw {
                lab.fw(&[&[family][..], &rule].concat())
            } else {
                let bin = if family == "-6" {
                    "ip6tables-legacy"
                } else {
                    "iptables-legacy"
                };
                integration_tests::netns_exec(lab.server(), bin, &rule).unwrap()
            };
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let first = err.lines().next().unwrap_or_default();
            (
                out.status.code(),
                first[first.find("): ").map_or(0, |i| i + 3)..].to_string(),
            )
        };
        let got = [run("-6", "v4"), run("-4", "v6")];
        sets(&lab, fw, &["destroy"]);
        got
    };
    // -C and -D, and `fw -6 restore --test`, ask for the set as -A does.
    sets(&lab, true, &["create v4 hash:ip"]);
    let first_line = |out: std::process::Output| {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            err.lines().next().unwrap_or_default().to_string(),
        )
    };
    let refused =
        "fw v0.1.0 (eBPF): The protocol family of set v4 is IPv4, which is not applicable.";
    for c in ["-C", "-D"] {
        let out = lab.fw(&[
            "-6",
            c,
            "INPUT",
            "-m",
            "set",
            "--match-set",
            "v4",
            "src",
            "-j",
            "DROP",
        ]);
        assert_eq!(first_line(out), (Some(2), refused.to_string()), "{c}");
    }
    let file = integration_tests::TempFile::new(
        "sets6-test.rules",
        "*filter\n-A INPUT -m set --match-set v4 src -j DROP\nCOMMIT\n",
    );
    let out = lab.fw(&["-6", "restore", "--test", file.path()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sets(&lab, true, &["destroy"]);
    let want = [
        (
            Some(2),
            "The protocol family of set v4 is IPv4, which is not applicable.".to_string(),
        ),
        (
            Some(2),
            "The protocol family of set v6 is IPv6, which is not applicable.".to_string(),
        ),
    ];
    assert_eq!(refusals(false), want, "ip6tables-legacy");
    assert_eq!(refusals(true), want, "fw");
}

/// `fw set`'s answers where ipset's are the same: exit status and what
/// it says, for each command.
#[test]
fn set_commands_answer_as_ipset() {
    let lab = Lab::new("setcmds").unwrap();
    let ipset =
        |words: &[&str]| integration_tests::netns_exec(lab.server(), "ipset", words).unwrap();
    // (command, exit status, the message after ipset's "ipset v7.17: " or
    // fw's "fw set: ", on stderr; or a test's line).
    let cases: &[(&str, i32, &str)] = &[
        ("create foo hash:ip", 0, ""),
        (
            "create foo hash:ip",
            1,
            "Set cannot be created: set with the same name already exists",
        ),
        ("create foo hash:ip -exist", 0, ""),
        ("add foo 192.0.2.1", 0, ""),
        (
            "add foo 192.0.2.1",
            1,
            "Element cannot be added to the set: it's already added",
        ),
        ("add foo 192.0.2.1 -exist", 0, ""),
        ("add foo 192.0.2.8/30", 0, ""),
        ("test foo 192.0.2.9", 0, "Warning: 192.0.2.9 is in set foo."),
        ("test foo 192.0.2.2", 1, "192.0.2.2 is NOT in set foo."),
        (
            "del foo 192.0.2.2",
            1,
            "Element cannot be deleted from the set: it's not added",
        ),
        ("del foo 192.0.2.2 -exist", 0, ""),
        (
            "add nosuch 192.0.2.1",
            1,
            "The set with the given name does not exist",
        ),
        ("create small hash:ip maxelem 2", 0, ""),
        ("add small 192.0.2.1", 0, ""),
        ("add small 192.0.2.2", 0, ""),
        (
            "add small 192.0.2.3",
            1,
            "Hash is full, cannot add more elements",
        ),
        ("create n hash:net", 0, ""),
        ("add n 192.0.2.5/24", 0, ""),
        ("test n 192.0.2.77", 0, "Warning: 192.0.2.77 is in set n."),
        ("test n 198.51.100.1", 1, "198.51.100.1 is NOT in set n."),
        // A range stops at the first member already there.
        (
            "add foo 192.0.2.0/29",
            1,
            "Element cannot be added to the set: it's already added",
        ),
        ("test foo 192.0.2.0", 0, "Warning: 192.0.2.0 is in set foo."),
        ("test foo 192.0.2.2", 1, "192.0.2.2 is NOT in set foo."),
        // hash:net members are networks, nested ones too.
        ("create nn hash:net", 0, ""),
        ("add nn 198.51.100.0/24", 0, ""),
        ("add nn 198.51.100.0/30", 0, ""),
        (
            "test nn 198.51.100.0/25",
            1,
            "198.51.100.0/25 is NOT in set nn.",
        ),
        (
            "test nn 198.51.100.0/30",
            0,
            "Warning: 198.51.100.0/30 is in set nn.",
        ),
        ("del nn 198.51.100.0/24", 0, ""),
        (
            "test nn 198.51.100.1",
            0,
            "Warning: 198.51.100.1 is in set nn.",
        ),
        ("test nn 198.51.100.9", 1, "198.51.100.9 is NOT in set nn."),
        // A hash:net range is the prefixes that cover it.
        ("create r hash:net", 0, ""),
        ("add r 203.0.113.10-203.0.113.20", 0, ""),
        (
            "test r 203.0.113.15",
            0,
            "Warning: 203.0.113.15 is in set r.",
        ),
        ("test r 203.0.113.21", 1, "203.0.113.21 is NOT in set r."),
        (
            "add foo 0.0.0.0",
            1,
            "Null-valued element, cannot be stored in a hash type of set",
        ),
        ("create hz hash:ip hashsize 128", 0, ""),
        ("create hz hash:ip -exist", 0, ""),
        ("destroy hz", 0, ""),
        ("destroy small", 0, ""),
        ("flush foo", 0, ""),
        ("test foo 192.0.2.1", 1, "192.0.2.1 is NOT in set foo."),
    ];
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end().to_string();
    for (i, &(c, code, said)) in cases.iter().enumerate() {
        let words: Vec<&str> = c.split(' ').collect();
        for fw in [false, true] {
            // Each under both: the ipset run first, then fw's.
            let out = if fw {
                lab.fw(&[&["set"], words.as_slice()].concat())
            } else {
                ipset(&words)
            };
            let what = if fw { "fw set" } else { "ipset" };
            assert_eq!(out.status.code(), Some(code), "{what} {c} (case {i})");
            let msg = format!("{}{}", text(&out.stderr), text(&out.stdout));
            let msg = msg
                .trim_start_matches("ipset v7.17: ")
                .trim_start_matches("fw set: ");
            assert_eq!(msg, said, "{what} {c}");
        }
    }
    // The same sets, members and all.
    let fw_save = lab.fw_ok(&["set", "save"]);
    let ipset_save = text(&ipset(&["save"]).stdout);
    let strip = |s: &str| -> Vec<String> {
        let mut lines: Vec<String> = s
            .lines()
            .map(|l| l.split(" bucketsize").next().unwrap_or(l).to_string())
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(strip(&fw_save), strip(&ipset_save));
    // Sets survive a change of the ruleset, and one a rule names stays.
    lab.fw_ok(&[
        "-A",
        "INPUT",
        "-m",
        "set",
        "--match-set",
        "foo",
        "src",
        "-j",
        "DROP",
    ]);
    let out = lab.fw(&["set", "destroy", "foo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "fw set: Set cannot be destroyed: it is in use by a kernel component"
    );
    let out = lab.fw(&[
        "-A",
        "INPUT",
        "-m",
        "set",
        "--match-set",
        "nosuch",
        "src",
        "-j",
        "DROP",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Set nosuch doesn't exist."),
        "{}",
        text(&out.stderr)
    );
    // A restore with a bad line changes nothing (ipset's keeps what came
    // before it).
    let bad = integration_tests::sh_in(
        lab.server(),
        &format!("{} set restore", integration_tests::fw_bin().display()),
        &[],
        Some("create r1 hash:ip\nadd r1 192.0.2.7\nadd r1 192.0.2.999\n"),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr)
            .starts_with("fw set: Error in line 3: Syntax error: cannot parse 192.0.2.999"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!lab.fw_ok(&["set", "list", "-name"]).contains("r1"));
    // What ipset save writes (bucketsize, initval) restores into fw.
    lab.fw_ok(&["-F"]);
    lab.fw_ok(&["set", "destroy"]);
    let from_ipset = integration_tests::sh_in(
        lab.server(),
        &format!("{} set restore", integration_tests::fw_bin().display()),
        &[],
        Some(&format!("{ipset_save}\n")),
    );
    assert!(from_ipset.status.success(), "{}", text(&from_ipset.stderr));
    assert_eq!(strip(&lab.fw_ok(&["set", "save"])), strip(&ipset_save));
    // A restore of what save printed, into a flushed namespace.
    lab.fw_ok(&["-F"]);
    lab.fw_ok(&["set", "destroy"]);
    let restored = integration_tests::sh_in(
        lab.server(),
        &format!("{} set restore", integration_tests::fw_bin().display()),
        &[],
        Some(&fw_save),
    );
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert_eq!(lab.fw_ok(&["set", "save"]), fw_save);
    integration_tests::netns_exec(lab.server(), "ipset", &["destroy"]).unwrap();
    let _ = CLIENT_ADDR;
}
