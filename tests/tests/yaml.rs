//! YAML rulesets (issue 12, docs/yaml.md) through target/debug/fw in
//! network namespaces: errors name the line and column and change
//! nothing; `--check` and `--diff` exit as `iptables-restore --test` and
//! diff(1); counters of unchanged rules survive an apply; concurrent
//! applies leave exactly one file in force; an applied file enforces on
//! real packets; YAML and iptables-save convert into each other byte for
//! byte (every corpus file); and fw.service's own command lines, read out
//! of the unit, in the order systemd runs them.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use std::process::Output;

use firewall::{
    parse::services::Services,
    render::{self, Counters},
    restore::{self, RestoreOptions},
    state::State,
    yaml,
};
use integration_tests::{
    Lab, Netns, PROBE_TIMEOUT, SERVER_ADDR, TempFile, fw_bin, icmp_probe, rule_counters, sh_in,
    tcp_backlogs, tcp_probe, workspace_root,
};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `fw apply ARGS` in the lab's server namespace.
fn apply(lab: &Lab, args: &[&str]) -> Output {
    lab.fw(&[&["apply"], args].concat())
}

/// `fw -S` there.
fn rules(lab: &Lab) -> String {
    lab.fw_ok(&["-S"])
}

/// `fw save` without its comment lines (they hold the date).
fn uncommented(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A ruleset whose INPUT accepts `ports` (TCP) and ICMP, and drops the rest.
fn server(ports: &[u16]) -> String {
    let mut s = String::from(
        "family: ipv4\ninterfaces: all\nchains:\n  INPUT:\n    policy: DROP\n    rules:\n\
         \x20     - {proto: icmp, target: ACCEPT}\n",
    );
    for p in ports {
        s.push_str(&format!(
            "      - {{proto: tcp, dport: {p}, target: ACCEPT}}\n"
        ));
    }
    s
}

#[test]
fn an_error_on_line_17_names_it_exits_2_and_changes_nothing() {
    let lab = Lab::new("yaml-err").unwrap();
    let good = TempFile::new("yaml-err-good.yaml", &server(&[22]));
    assert_eq!(apply(&lab, &[good.path()]).status.code(), Some(0));
    let before = rules(&lab);
    // Lines 1..=16, then the bad rule on line 17.
    let mut head = String::from("# line 1\nchains:\n  INPUT:\n    policy: DROP\n    rules:\n");
    for n in 6..=16 {
        head.push_str(&format!("      - \"-p tcp --dport {n} -j ACCEPT\"\n"));
    }
    assert_eq!(head.lines().count(), 16);
    let cases = [
        (
            "      - {proto: tcp, dprot: 22, target: ACCEPT}\n",
            "chains.INPUT.rules[11]: unknown key `dprot` at PATH:17:22, expected one of `proto`, ",
        ),
        (
            "      - \"-p tcp --dport 99999 -j ACCEPT\"\n",
            "chains.INPUT.rules[11]: invalid port/service `99999' specified at PATH:17:9",
        ),
        (
            "      - -p tcp -m u32 --u32 0x0=0x0 -j ACCEPT\n",
            "chains.INPUT.rules[11]: not supported yet: -m u32 at PATH:17:9",
        ),
    ];
    for (line, message) in cases {
        let bad = TempFile::new("yaml-err-bad.yaml", &format!("{head}{line}"));
        let expected = message.replace("PATH", bad.path());
        for args in [&["--check", bad.path()][..], &[bad.path()]] {
            let out = apply(&lab, args);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.starts_with(&format!("fw apply: {expected}")),
                "{args:?}: {err}\nexpected: {expected}"
            );
            assert_eq!(rules(&lab), before, "{args:?} changed the ruleset");
        }
        // fw restore takes the YAML file too, with the same message.
        let out = lab.fw(&["restore", bad.path()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).starts_with(&format!("fw restore: {expected}")));
        assert_eq!(rules(&lab), before);
    }
}

#[test]
fn check_and_diff_exit_as_iptables_restore_test_and_diff() {
    let lab = Lab::new("yaml-diff").unwrap();
    let a = TempFile::new("yaml-diff-a.yaml", &server(&[22, 443]));
    let b = TempFile::new("yaml-diff-b.yaml", &server(&[443, 8443]));
    let check = apply(&lab, &["--check", a.path()]);
    assert_eq!(
        (check.status.code(), text(&check.stdout)),
        (Some(0), "".into())
    );
    // --check touches nothing: fw is still not loaded.
    assert!(lab.fw_ok(&["status"]).starts_with("fw is not loaded"));
    let d = apply(&lab, &["--diff", a.path()]);
    assert_eq!(d.status.code(), Some(1));
    assert_eq!(
        text(&d.stdout),
        "-P INPUT DROP\n-A INPUT -p icmp -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
         -A INPUT -p tcp -m tcp --dport 443 -j ACCEPT\n"
    );
    assert_eq!(apply(&lab, &[a.path()]).status.code(), Some(0));
    let d = apply(&lab, &["--diff", a.path()]);
    assert_eq!((d.status.code(), text(&d.stdout)), (Some(0), "".into()));
    let d = apply(&lab, &["--diff", b.path()]);
    assert_eq!(d.status.code(), Some(1));
    assert_eq!(
        text(&d.stdout),
        "-D INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 8443 -j ACCEPT\n"
    );
    // --diff changes nothing either.
    assert!(rules(&lab).contains("--dport 22 "));
    // Saved as YAML and applied again: no change.
    let saved = TempFile::new(
        "yaml-diff-saved.yaml",
        &lab.fw_ok(&["save", "--format", "yaml"]),
    );
    let d = apply(&lab, &["--diff", saved.path()]);
    assert_eq!((d.status.code(), text(&d.stdout)), (Some(0), "".into()));
    // fw restore takes YAML on standard input too, and applies it.
    let script = format!("{} restore", fw_bin().display());
    let out = sh_in(
        lab.server(),
        &script,
        &[],
        Some(&std::fs::read_to_string(b.path()).unwrap()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = apply(&lab, &["--diff", b.path()]);
    assert_eq!((d.status.code(), text(&d.stdout)), (Some(0), "".into()));
    // A bad option is a parameter problem.
    assert_eq!(
        apply(&lab, &["--check", "--diff", a.path()]).status.code(),
        Some(2)
    );
    assert_eq!(apply(&lab, &[]).status.code(), Some(2));
}

#[test]
fn counters_of_unchanged_rules_survive_an_apply() {
    let lab = Lab::new("yaml-count").unwrap();
    let a = TempFile::new("yaml-count-a.yaml", &server(&[22]));
    assert_eq!(apply(&lab, &[a.path()]).status.code(), Some(0));
    for _ in 0..3 {
        assert!(icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
    }
    let list = || lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    let icmp = rule_counters(&list(), 1);
    assert_eq!(icmp.0, 3, "{}", list());
    // A rule inserted before it, one changed after it: the ICMP rule keeps
    // its counts, the new rules start from zero.
    let b = TempFile::new(
        "yaml-count-b.yaml",
        "chains:\n  INPUT:\n    policy: DROP\n    rules:\n      - -p udp --dport 53 -j ACCEPT\n\
         \x20     - {proto: icmp, target: ACCEPT}\n      - {proto: tcp, dport: 2222, target: ACCEPT}\n",
    );
    assert_eq!(apply(&lab, &[b.path()]).status.code(), Some(0));
    let after = list();
    assert_eq!(rule_counters(&after, 2), icmp, "{after}");
    assert_eq!(rule_counters(&after, 1), (0, 0), "{after}");
    assert_eq!(rule_counters(&after, 3), (0, 0), "{after}");
    assert!(icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
    assert_eq!(rule_counters(&list(), 2).0, 4);
}

#[test]
fn concurrent_applies_leave_exactly_one_file_in_force() {
    let lab = Lab::new("yaml-race").unwrap();
    const FILES: u16 = 20;
    let files: Vec<TempFile> = (0..FILES)
        .map(|i| {
            let ports: Vec<u16> = (0..20).map(|k| 1000 + i * 100 + k).collect();
            TempFile::new(&format!("yaml-race-{i}.yaml"), &server(&ports))
        })
        .collect();
    // What each file's `fw -S` is, from the library.
    let expected: Vec<String> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f.path()).unwrap();
            let done = yaml::restore(&State::default(), &text, f.path(), true, Services::system())
                .unwrap();
            render::list_rules(&done.state.ruleset, None, None, None)
        })
        .collect();
    for round in 0..2 {
        let bin = fw_bin();
        let children: Vec<_> = files
            .iter()
            .map(|f| {
                std::process::Command::new("ip")
                    .args(["netns", "exec", lab.server()])
                    .arg(&bin)
                    .args(["apply", "-w", f.path()])
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let now = rules(&lab);
        let matching = expected.iter().filter(|e| **e == now).count();
        assert_eq!(matching, 1, "round {round}: {now}");
        assert!(lab.fw_ok(&["status", "--check"]).is_empty());
    }
}

#[test]
fn an_applied_ruleset_enforces_on_real_packets() {
    let lab = Lab::new("yaml-enforce").unwrap();
    let _listeners = tcp_backlogs(lab.server(), &[2222, 2323]).unwrap();
    let f = TempFile::new(
        "yaml-enforce.yaml",
        "chains:\n  INPUT:\n    policy: DROP\n    rules:\n\
         \x20     - {ctstate: [ESTABLISHED, RELATED], target: ACCEPT}\n\
         \x20     - {proto: tcp, dport: 2222, comment: allowed, target: ACCEPT}\n",
    );
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 2323, PROBE_TIMEOUT));
    assert_eq!(apply(&lab, &[f.path()]).status.code(), Some(0));
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 2222, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 2323, PROBE_TIMEOUT));
    assert!(!icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
}

#[test]
fn the_example_rules_yaml_enforces_what_it_says() {
    let lab = Lab::new6("yaml-example").unwrap();
    // Dual-stack listeners.
    let any6 = std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
    let _listeners =
        integration_tests::tcp_backlogs_on(lab.server(), any6, &[22, 80, 443]).unwrap();
    let example = workspace_root().join("rules/rules.yaml");
    assert_eq!(
        apply(&lab, &[example.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let s6 = integration_tests::SERVER6_ADDR;
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 22, PROBE_TIMEOUT));
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 443, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 80, PROBE_TIMEOUT));
    assert!(icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
    assert!(tcp_probe(lab.client(), s6, 22, PROBE_TIMEOUT));
    assert!(tcp_probe(lab.client(), s6, 443, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), s6, 80, PROBE_TIMEOUT));
}

/// The boot unit's fallback closes IPv6 too, and keeps neighbour
/// discovery: from a fresh neighbour cache the host still connects out
/// to its neighbour over IPv6 (the neighbour's advertisement must pass
/// INPUT's DROP policy), while nothing connects in.
#[test]
fn the_fallback_closes_ipv6_and_keeps_neighbour_discovery() {
    let lab = Lab::new6("yaml-fallback6").unwrap();
    let any6 = std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
    let _server = integration_tests::tcp_backlogs_on(lab.server(), any6, &[22]).unwrap();
    let _client = integration_tests::tcp_backlogs_on(lab.client(), any6, &[2424]).unwrap();
    let fallback = workspace_root().join("rules/fallback.yaml");
    let out = apply(&lab, &[fallback.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for ns in [lab.client(), lab.server()] {
        integration_tests::ip(&format!("-n {ns} -6 neigh flush all")).unwrap();
    }
    assert!(tcp_probe(
        lab.server(),
        integration_tests::CLIENT6_ADDR,
        2424,
        PROBE_TIMEOUT
    ));
    assert!(!tcp_probe(
        lab.client(),
        integration_tests::SERVER6_ADDR,
        22,
        PROBE_TIMEOUT
    ));
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 22, PROBE_TIMEOUT));
}

/// Every corpus restore file the model reads: iptables-save → YAML →
/// iptables-save gives the same bytes, and the YAML reads back to the
/// same ruleset. The files fw enforces go through the kernel too: `fw
/// restore`, `fw save --format yaml`, `fw apply --diff` (no change), `fw
/// apply` of it, and `fw save` is what it was.
#[test]
fn iptables_save_and_yaml_convert_byte_for_byte_on_the_corpus() {
    let files = integration_tests::corpus_restore_files();
    let lab = Lab::new("yaml-corpus").unwrap();
    let (mut modelled, mut loaded) = (0, Vec::new());
    let filter_only = RestoreOptions {
        filter_only: true,
        ..RestoreOptions::default()
    };
    for path in files {
        let input = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(done) = restore::restore(
            &State::default(),
            &input,
            &filter_only,
            false,
            Services::system(),
        ) else {
            continue;
        };
        modelled += 1;
        let save = |st: &State| render::save(&st.ruleset, &Counters::default(), false, None);
        let as_yaml = yaml::save(&done.state.ruleset, None);
        let back = yaml::restore(
            &State::default(),
            &as_yaml,
            &name,
            false,
            Services::system(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(save(&back.state), save(&done.state), "{name}");
        assert_eq!(yaml::save(&back.state.ruleset, None), as_yaml, "{name}");
        // The ones fw enforces, in the kernel (with the sets they name).
        let mut base = State::default();
        for set in done.state.ruleset.set_names() {
            base.sets.insert(
                set.to_string(),
                firewall::model::set::SetDef::new(firewall::model::set::SetKind::Net),
            );
        }
        if restore::restore(&base, &input, &filter_only, true, Services::system()).is_err() {
            continue;
        }
        // The sets its rules name must exist (as ipsets for iptables).
        for set in done.state.ruleset.set_names() {
            lab.fw_ok(&["set", "create", set, "hash:net", "-exist"]);
        }
        let out = lab.fw(&["restore", "--table", "filter", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let iptables = uncommented(&lab.fw_ok(&["save"]));
        let y = TempFile::new(
            "yaml-corpus.yaml",
            &lab.fw_ok(&["save", "--format", "yaml"]),
        );
        let d = apply(&lab, &["--diff", y.path()]);
        assert_eq!(
            (d.status.code(), text(&d.stdout)),
            (Some(0), "".into()),
            "{name}"
        );
        assert_eq!(apply(&lab, &[y.path()]).status.code(), Some(0), "{name}");
        assert_eq!(uncommented(&lab.fw_ok(&["save"])), iptables, "{name}");
        loaded.push(name);
    }
    assert!(
        modelled >= loaded.len() && modelled > 3,
        "{modelled} files modelled"
    );
    // The corpus files whose filter table fw enforces: fw_cli's LOADED,
    // and one whose other table `--table filter` skips.
    assert_eq!(loaded, integration_tests::CORPUS_LOADED);
    println!("{modelled} corpus files modelled, {} loaded", loaded.len());
}

/// The values of `KEY=` lines of the unit, in order.
fn unit_lines(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

/// fw.service's command lines, read out of rules/fw.service with its
/// paths pointed at this build and this test's files.
struct Unit {
    text: String,
}

impl Unit {
    fn new(rules: &TempFile) -> Self {
        let root = workspace_root();
        let raw = std::fs::read_to_string(root.join("rules/fw.service")).unwrap();
        let text = raw
            .replace("/usr/local/sbin/fw", fw_bin().to_str().unwrap())
            .replace("/usr/local/share/fw", root.join("rules").to_str().unwrap())
            .replace("/etc/fw/rules.yaml", rules.path());
        Self { text }
    }

    /// Runs the unit's `key` lines in namespace `ns` as systemd would
    /// (`SERVICE_RESULT` set as systemd sets it for ExecStopPost); the
    /// exit status of the first that fails, else 0.
    fn run(&self, ns: &str, key: &str, result: &str) -> i32 {
        let lines = unit_lines(&self.text, key);
        assert!(!lines.is_empty(), "fw.service has no {key}=");
        for l in lines {
            let out = sh_in(
                ns,
                &format!("SERVICE_RESULT={result}; export SERVICE_RESULT; {l}"),
                &[],
                None,
            );
            let code = out.status.code().unwrap_or(-1);
            if code != 0 {
                return code;
            }
        }
        0
    }
}

#[test]
fn the_units_commands_in_order() {
    let ns = Netns::new("yaml-unit").unwrap();
    let rules_file = TempFile::new("yaml-unit-rules.yaml", &server(&[22]));
    let unit = Unit::new(&rules_file);
    // The unit's promises, as the unit file states them.
    for (key, value) in [
        ("Type", "oneshot"),
        ("RemainAfterExit", "yes"),
        ("Before", "network-pre.target shutdown.target"),
        ("Wants", "network-pre.target"),
    ] {
        assert_eq!(unit_lines(&unit.text, key), [value], "{key}");
    }
    let fw_s = || {
        let out = integration_tests::fw_in(ns.name(), &["-S"]).unwrap();
        text(&out.stdout)
    };
    let expect = |file: &str| {
        let text = std::fs::read_to_string(file).unwrap();
        let done = yaml::restore(&State::default(), &text, file, true, Services::system()).unwrap();
        render::list_rules(&done.state.ruleset, None, None, None)
    };
    let fallback = workspace_root().join("rules/fallback.yaml");
    let fallback = expect(fallback.to_str().unwrap());
    let empty = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";

    // Boot.
    assert_eq!(unit.run(ns.name(), "ExecStart", "success"), 0);
    assert_eq!(fw_s(), expect(rules_file.path()));
    // Reload with a changed file.
    std::fs::write(rules_file.path(), server(&[22, 443])).unwrap();
    assert_eq!(unit.run(ns.name(), "ExecReload", "success"), 0);
    assert_eq!(fw_s(), expect(rules_file.path()));
    let good = fw_s();
    // Reload with an invalid file: it fails, the last good ruleset stays.
    std::fs::write(rules_file.path(), "chains:\n  INPUT:\n    polcy: DROP\n").unwrap();
    assert_eq!(unit.run(ns.name(), "ExecReload", "success"), 2);
    assert_eq!(fw_s(), good);
    // Stop: fw removed, everything passes; ExecStopPost after a clean stop
    // applies nothing.
    assert_eq!(unit.run(ns.name(), "ExecStop", "success"), 0);
    assert_eq!(unit.run(ns.name(), "ExecStopPost", "success"), 0);
    assert_eq!(fw_s(), empty);
    assert!(
        text(
            &integration_tests::fw_in(ns.name(), &["status"])
                .unwrap()
                .stdout
        )
        .starts_with("fw is not loaded")
    );
    // Boot with the invalid file: the start fails (exit 2), and systemd's
    // ExecStopPost (SERVICE_RESULT=exit-code) puts the fallback in force.
    assert_eq!(unit.run(ns.name(), "ExecStart", "success"), 2);
    assert_eq!(fw_s(), empty);
    assert_eq!(unit.run(ns.name(), "ExecStopPost", "exit-code"), 0);
    assert_eq!(fw_s(), fallback);
    assert_eq!(unit.run(ns.name(), "ExecStop", "success"), 0);
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let Ok(which) = std::process::Command::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
    else {
        println!("skipped: no sh");
        return;
    };
    if !which.status.success() {
        println!("skipped: systemd-analyze is not installed");
        return;
    }
    let rules_file = TempFile::new("yaml-verify-rules.yaml", &server(&[22]));
    let unit = Unit::new(&rules_file);
    let dir = std::env::temp_dir().join(format!("fw-{}-unit", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fw.service");
    std::fs::write(&path, &unit.text).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// docs/fw-rules.schema.json accepts the example files and what `fw save
/// --format yaml` writes, and refuses a misspelt key, as fw does (where
/// Python's jsonschema and yaml modules exist; skipped otherwise).
#[test]
fn the_json_schema_agrees_with_fw_on_the_examples() {
    let root = workspace_root();
    let check = "import json, sys, yaml, jsonschema\n\
                 s = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator.check_schema(s)\n\
                 v = jsonschema.Draft202012Validator(s)\n\
                 for f in sys.argv[2:]:\n\
                 \x20   print(f, 'ok' if v.is_valid(yaml.safe_load(open(f))) else 'invalid')\n";
    let probe = std::process::Command::new("python3")
        .args(["-c", "import yaml, jsonschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("skipped: python3 with the yaml and jsonschema modules is not installed");
        return;
    }
    let saved = TempFile::new(
        "yaml-schema-saved.yaml",
        &yaml::save(
            &yaml::restore(
                &State::default(),
                &server(&[22, 443]),
                "server.yaml",
                true,
                Services::system(),
            )
            .unwrap()
            .state
            .ruleset,
            Some(("fw save", "today")),
        ),
    );
    let typo = TempFile::new(
        "yaml-schema-typo.yaml",
        "chains:\n  INPUT:\n    rules:\n      - {proto: tcp, dprot: 22}\n",
    );
    // The shipped files (rules/*.yaml, the examples among them), what fw
    // saves, and a typo.
    let mut shipped: Vec<String> = std::fs::read_dir(root.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    shipped.sort();
    assert!(shipped.len() >= 7, "{shipped:?}");
    let valid = shipped.len() + 1;
    let files: Vec<String> = shipped
        .into_iter()
        .chain([saved.path().to_string(), typo.path().to_string()])
        .collect();
    let expected = |i: usize| i < valid;
    let out = std::process::Command::new("python3")
        .args(["-c", check])
        .arg(root.join("docs/fw-rules.schema.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let verdicts: Vec<String> = files
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{f} {}", if expected(i) { "ok" } else { "invalid" }))
        .collect();
    assert_eq!(text(&out.stdout), verdicts.join("\n") + "\n");
    // And fw agrees with each verdict.
    for (i, f) in files.iter().enumerate() {
        let ok = expected(i);
        let t = std::fs::read_to_string(f).unwrap();
        let done = yaml::restore(&State::default(), &t, f, true, Services::system());
        assert_eq!(done.is_ok(), ok, "{f}");
    }
}

/// A file with two sets (one listing its members, one not) and rules
/// that name the first.
fn with_sets(members: &str) -> String {
    format!(
        "sets:\n  blocked:\n    type: hash:net\n    members: [{members}]\n  bans:\n    type: hash:ip\n\
         chains:\n  INPUT:\n    rules:\n\
         \x20     - -p udp --dport 5931 -m set --match-set blocked src -j DROP\n\
         \x20     - -p udp --dport 5931 -j ACCEPT\n"
    )
}

#[test]
fn sets_in_a_ruleset_file_come_before_its_rules() {
    let lab = Lab::new("yaml-sets").unwrap();
    let send = || {
        integration_tests::in_netns(lab.client(), || {
            let s = std::net::UdpSocket::bind(("0.0.0.0", 0)).unwrap();
            for _ in 0..3 {
                s.send_to(&[0x5a; 10], (SERVER_ADDR, 5931)).unwrap();
            }
        })
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let counters = || {
        let l = lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
        (rule_counters(&l, 1).0, rule_counters(&l, 2).0)
    };
    // A first load: the sets exist and hold their members before the rule.
    let first = TempFile::new("yaml-sets-1.yaml", &with_sets("\"192.0.2.0/24\""));
    let out = apply(&lab, &[first.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(lab.fw_ok(&["set", "list", "-name"]), "bans\nblocked\n");
    let status = lab.fw_ok(&["status"]);
    assert!(
        status.contains("set bans: hash:ip with 0 of 65536 members\nset blocked: hash:net with 1 of 65536 members\n"),
        "{status}"
    );
    send();
    assert_eq!(counters(), (3, 0));
    // A set without `members` keeps what it was given since.
    lab.fw_ok(&["set", "add", "bans", "198.51.100.9"]);
    assert_eq!(apply(&lab, &[first.path()]).status.code(), Some(0));
    assert_eq!(
        lab.fw_ok(&["set", "save", "bans"]),
        "create bans hash:ip family inet hashsize 1024 maxelem 65536\nadd bans 198.51.100.9\n"
    );
    // Other members: --diff names them, apply makes them so; the rules
    // did not change and keep their counters.
    let second = TempFile::new("yaml-sets-2.yaml", &with_sets("\"198.51.100.0/24\""));
    let d = apply(&lab, &["--diff", second.path()]);
    assert_eq!(
        (d.status.code(), text(&d.stdout)),
        (
            Some(1),
            "set del blocked 192.0.2.0/24\nset add blocked 198.51.100.0/24\n".into()
        )
    );
    assert_eq!(apply(&lab, &[second.path()]).status.code(), Some(0));
    send();
    assert_eq!(counters(), (3, 3));
    // What save writes applies back to no change.
    let saved = TempFile::new(
        "yaml-sets-saved.yaml",
        &lab.fw_ok(&["save", "--format", "yaml"]),
    );
    assert!(
        text(&std::fs::read(saved.path()).unwrap()).contains(
            "sets:\n  \"bans\":\n    type: hash:ip\n    hashsize: 1024\n    maxelem: 65536\n    members:\n      - \"198.51.100.9\"\n"
        ),
        "{}",
        text(&std::fs::read(saved.path()).unwrap())
    );
    let d = apply(&lab, &["--diff", saved.path()]);
    assert_eq!((d.status.code(), text(&d.stdout)), (Some(0), String::new()));
    // Errors name the place and change nothing.
    let before = lab.fw_ok(&["set", "save"]);
    let cases = [
        (
            "chains:\n  INPUT:\n    rules:\n      - -m set --match-set ghost src -j DROP\n",
            2,
            "Set ghost doesn't exist at bad.yaml:4:9",
        ),
        (
            "sets:\n  n:\n    type: hash:net\n    members:\n      - 192.0.2.0/33\n",
            2,
            "set member `192.0.2.0/33`: Syntax error: '33' is out of range 0-32 at bad.yaml:5:7",
        ),
        (
            "sets:\n  n:\n    type: hash:mac\n",
            2,
            "unknown set type `hash:mac` at bad.yaml:3:5, expected one of hash:ip, hash:net, hash:ip,port",
        ),
        (
            "sets:\n  blocked:\n    type: hash:ip\n",
            2,
            "set blocked exists as a hash:net with maxelem 65536; destroy it first (fw set destroy blocked) in bad.yaml",
        ),
        // ipset cannot change a set's maxelem either.
        (
            "sets:\n  blocked:\n    type: hash:net\n    maxelem: 10\n",
            2,
            "set blocked exists as a hash:net with maxelem 65536; destroy it first",
        ),
        // Two names with one id (FNV-1a folded to 32 bits).
        (
            "sets:\n  s38675:\n    type: hash:ip\n  s61566:\n    type: hash:ip\n",
            1,
            "its id collides with set",
        ),
    ];
    for (yaml, code, said) in cases {
        // A file without chains is refused before its sets are read.
        let yaml = if yaml.starts_with("sets:") {
            format!("{yaml}chains:\n  INPUT: {{}}\n")
        } else {
            yaml.to_string()
        };
        let bad = TempFile::new("bad.yaml", &yaml);
        for mode in [&["--check"][..], &[][..]] {
            let out = lab.fw(&[&["apply"], mode, &[bad.path()]].concat());
            assert_eq!(
                out.status.code(),
                Some(code),
                "{yaml} {mode:?}: {}",
                text(&out.stderr)
            );
            let err = text(&out.stderr).replace(bad.path(), "bad.yaml");
            assert!(err.contains(said), "{yaml} {mode:?}: {err}");
        }
    }
    assert_eq!(lab.fw_ok(&["set", "save"]), before);
}

/// Both tables from one file: `chains` (IPv4's) and an `ipv6:` section,
/// enforced on real IPv4 and IPv6 connections (IPv6's default DROP with
/// ICMPv6 accepted keeps neighbour discovery working); `--diff` prints
/// IPv6's changes as `fw -6` lines; an unchanged IPv6 rule keeps its
/// counters; `fw save --format yaml` writes the section back, and
/// applying it changes nothing. A file without the section leaves the
/// IPv6 table as it is.
#[test]
fn an_ipv6_section_states_the_ipv6_table() {
    use std::net::{IpAddr, Ipv6Addr};
    let lab = Lab::new6("yaml-v6").unwrap();
    let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    // Dual-stack listeners: IPv4's connections too.
    let _listeners = integration_tests::tcp_backlogs_on(lab.server(), any6, &[2222, 2323]).unwrap();
    let doc = |v6_port: u16| {
        format!(
            "chains:\n  INPUT:\n    policy: DROP\n    rules:\n      - -p tcp --dport 2323 -j ACCEPT\n\
             ipv6:\n  chains:\n    INPUT:\n      policy: DROP\n      rules:\n\
             \x20       - -p ipv6-icmp -j ACCEPT\n\
             \x20       - {{proto: tcp, dport: {v6_port}, target: ACCEPT}}\n"
        )
    };
    let a = TempFile::new("yaml-v6-a.yaml", &doc(2222));
    let out = apply(&lab, &[a.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s6 = integration_tests::SERVER6_ADDR;
    assert!(tcp_probe(lab.client(), s6, 2222, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), s6, 2323, PROBE_TIMEOUT));
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 2323, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 2222, PROBE_TIMEOUT));
    assert_eq!(
        lab.fw_ok(&["-6", "-S", "INPUT"]),
        "-P INPUT DROP\n-A INPUT -p ipv6-icmp -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT\n"
    );
    let list6 = || lab.fw_ok(&["-6", "-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    let icmp6 = rule_counters(&list6(), 1);
    assert!(icmp6.0 > 0, "{}", list6());
    // The IPv6 port changes: the diff in fw -6's words, exit 1.
    let b = TempFile::new("yaml-v6-b.yaml", &doc(2323));
    let diff = apply(&lab, &["--diff", b.path()]);
    assert_eq!(
        (diff.status.code(), text(&diff.stdout)),
        (
            Some(1),
            "-6 -D INPUT -p tcp -m tcp --dport 2222 -j ACCEPT\n\
             -6 -A INPUT -p tcp -m tcp --dport 2323 -j ACCEPT\n"
                .to_string()
        )
    );
    assert_eq!(apply(&lab, &[b.path()]).status.code(), Some(0));
    assert!(tcp_probe(lab.client(), s6, 2323, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), s6, 2222, PROBE_TIMEOUT));
    // The ICMPv6 rule did not change: its counters stay (and grow).
    assert!(rule_counters(&list6(), 1).0 >= icmp6.0, "{}", list6());
    // Saved as YAML, applied again: nothing to change.
    let saved = lab.fw_ok(&["save", "--format", "yaml"]);
    assert!(
        saved.contains("\nipv6:\n  chains:\n    INPUT:\n      policy: DROP\n"),
        "{saved}"
    );
    let c = TempFile::new("yaml-v6-c.yaml", &saved);
    let again = apply(&lab, &["--diff", c.path()]);
    assert_eq!(
        (again.status.code(), text(&again.stdout)),
        (Some(0), String::new())
    );
    // A file with IPv4's chains only leaves the IPv6 table alone.
    let d = TempFile::new("yaml-v6-d.yaml", &server(&[2222]));
    assert_eq!(apply(&lab, &[d.path()]).status.code(), Some(0));
    assert!(tcp_probe(lab.client(), s6, 2323, PROBE_TIMEOUT));
    assert!(!tcp_probe(lab.client(), s6, 2222, PROBE_TIMEOUT));
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 2222, PROBE_TIMEOUT));
}
