//! The real-world rulesets of `../shared/corpus` (see its SOURCES.md)
//! through fw's grammar, model and printers, against real iptables-legacy
//! 1.8.9 in throwaway network namespaces:
//!
//! - shell scripts: every `iptables`/`ip6tables` command is extracted (with
//!   the script's variables, quotes and line continuations) and run, one by
//!   one, through fw's library and through iptables (`ip6tables` ones
//!   through fw's IPv6 family, on a table of their own, and through
//!   ip6tables-legacy); both must agree on the exit status, the exact error
//!   text and the resulting `-S` table. Commands fw refuses (other tables,
//!   modules it does not parse) are skipped in iptables too, and must be
//!   exactly the refusals of [`SCRIPT_REFUSALS`];
//! - restore files: the whole file through `fw restore`'s engine and
//!   `iptables-legacy-restore` (the IPv6 files of [`IPV6_FILES`] through
//!   the IPv6 engine and `ip6tables-legacy-restore`); both must fail at the
//!   same line with the same text, or both succeed with the same
//!   `iptables-save` filter table. Files with other tables are refused as
//!   [`RESTORE_REFUSALS`] says, and their `*filter` section is compared on
//!   its own.
//!
//! Nothing is loaded into the kernel here (most of the corpus uses
//! features fw does not enforce yet); `fw_cli` tests the command line.
//! The corpus must be at `<workspace>/../shared/corpus` (CI places a copy
//! of shared/ beside the clone): the tests fail when it is missing.

#[path = "common/iptables.rs"]
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use firewall::{
    model::{Family, Ruleset},
    offline,
    parse::{self, services::Services},
    render::{self, Counters},
    restore::{self, RestoreOptions},
    state::State,
};
use iptables::{IP6TABLES, IPTABLES, Netns, have_ipset, require_iptables, text};

const VERSION: &str = "v1.8.9 (legacy)";

/// The corpus directory; panics loudly when it is missing.
fn corpus_dir() -> PathBuf {
    integration_tests::corpus_dir()
}

/// The corpus files with `ext`ensions, sorted.
fn files(exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap()
}

// ---- shell scripts ----

/// One `iptables`/`ip6tables` command of a script.
#[derive(Debug)]
struct ShellCommand {
    /// The line it starts on.
    line: usize,
    /// `iptables` or `ip6tables`.
    program: String,
    /// Its arguments, after the shell's expansions.
    args: Vec<String>,
}

/// The words of one shell line: white space separates, `'...'` is
/// literal, `"..."` expands `$VAR`, `\` escapes outside quotes.
fn shell_words(line: &str, vars: &BTreeMap<String, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    let mut chars = line.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String| {
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut var = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                var.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            chars.next();
        }
        out.push_str(vars.get(&var).map_or("", String::as_str));
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if started {
                    words.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            '\'' => {
                started = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                started = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        '$' => expand(&mut chars, &mut cur),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                started = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '$' => {
                started = true;
                expand(&mut chars, &mut cur);
            }
            c => {
                started = true;
                cur.push(c);
            }
        }
    }
    if started {
        words.push(cur);
    }
    words
}

/// The iptables commands of a shell script, with its variables expanded.
fn shell_commands(script: &str) -> Vec<ShellCommand> {
    let mut vars = BTreeMap::new();
    let mut out = Vec::new();
    let lines: Vec<&str> = script.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut logical = String::new();
        loop {
            let l = lines[i];
            i += 1;
            match l.strip_suffix('\\') {
                Some(head) if i < lines.len() => logical.push_str(head),
                _ => {
                    logical.push_str(l);
                    break;
                }
            }
        }
        let trimmed = logical.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = shell_words(trimmed, &vars);
        let Some(first) = words.first() else { continue };
        if words.len() == 1
            && let Some((var, value)) = first.split_once('=')
            && !var.is_empty()
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            vars.insert(var.to_string(), value.to_string());
            continue;
        }
        let program = Path::new(first)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if program == "iptables" || program == "ip6tables" {
            out.push(ShellCommand {
                line: start + 1,
                program: program.to_string(),
                args: words[1..].to_vec(),
            });
        }
    }
    out
}

/// What fw makes of one command, offline.
enum FwOutcome {
    /// Done: what it printed.
    Ok(String),
    /// Refused as iptables refuses it: exit status and stderr.
    Failed(i32, String),
    /// fw's own refusal (not supported yet, IPv6): its message.
    Refused(String),
}

/// An empty table of `family`.
fn empty(family: Family) -> State {
    State {
        ruleset: Ruleset::new(family),
        ..State::default()
    }
}

/// `iptables` or `ip6tables`, as their messages name them.
fn family_program(family: Family) -> &'static str {
    family.program()
}

/// The family of `iptables` (IPv4) or `ip6tables` (IPv6), and its binary.
fn program_family(program: &str) -> (Family, &'static str) {
    match program {
        "ip6tables" => (Family::V6, IP6TABLES),
        _ => (Family::V4, IPTABLES),
    }
}

/// Runs one command of `program` (`iptables` or `ip6tables`) on `st` (a
/// table of its family) as exec does (on a copy, kept on success).
fn fw_command(st: &mut State, program: &str, args: &[String], services: &Services) -> FwOutcome {
    let (family, _) = program_family(program);
    let inv = match parse::parse_args_in(args, family, services) {
        Ok(inv) => inv,
        Err(e @ parse::ParseError::NotSupported { .. }) => {
            return FwOutcome::Refused(e.to_string());
        }
        Err(e) => return FwOutcome::Failed(e.exit_code(), e.iptables_stderr(program, VERSION)),
    };
    match offline::execute(st, &inv, services, false, offline::no_counters) {
        Ok(done) => {
            if let Some(new) = done.state {
                *st = new;
            }
            FwOutcome::Ok(done.output)
        }
        Err(e) => match e.iptables_stderr(program, VERSION) {
            Some(stderr) => FwOutcome::Failed(e.exit_code(), stderr),
            None => FwOutcome::Refused(e.to_string()),
        },
    }
}

/// `Some(what fw refused)` unless it is exactly `expected`: per file, the
/// lines and messages.
fn refusals_differ(
    refusals: &[(String, usize, String)],
    expected: &[(&str, &[(usize, &str)])],
) -> Option<String> {
    let expected: Vec<(String, usize, String)> = expected
        .iter()
        .flat_map(|(f, lines)| {
            lines
                .iter()
                .map(|(l, m)| (f.to_string(), *l, m.to_string()))
        })
        .collect();
    (refusals != expected).then(|| {
        format!(
            "refusals differ; fw refused:\n{}",
            refusals
                .iter()
                .map(|(f, l, m)| format!("    ({f:?}, {l}, {m:?}),"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// fw's refusals in the scripts: per file, the line and message (exactly).
const SCRIPT_REFUSALS: &[(&str, &[(usize, &str)])] = &[
    (
        "08_rc_firewall_andreasson.sh",
        &[(142, "not supported yet: -j SNAT")],
    ),
    (
        "11_libvirt_nat_tftp.sh",
        &[
            (14, "not supported yet: -t nat"),
            (18, "not supported yet: -t mangle"),
            (67, "not supported yet: -t nat"),
            (71, "not supported yet: -t nat"),
            (76, "not supported yet: -t mangle"),
            (80, "not supported yet: -t mangle"),
            (202, "not supported yet: -j MASQUERADE"),
            (209, "not supported yet: -j MASQUERADE"),
            (218, "not supported yet: -j MASQUERADE"),
            (227, "not supported yet: -t nat"),
            (234, "not supported yet: -t nat"),
            (241, "not supported yet: -j CHECKSUM"),
        ],
    ),
    (
        "13_openvpn_install_rules.sh",
        &[
            (8, "not supported yet: -j MASQUERADE"),
            (13, "not supported yet: -j MASQUERADE"),
            (20, "not supported yet: -j MASQUERADE"),
            (25, "not supported yet: -j MASQUERADE"),
        ],
    ),
    (
        "14_wireguard_install_postup.sh",
        &[
            (12, "not supported yet: -j MASQUERADE"),
            (14, "not supported yet: -j MASQUERADE"),
            (20, "not supported yet: -j MASQUERADE"),
            (22, "not supported yet: -j MASQUERADE"),
        ],
    ),
    ("15_fail2ban_jails.sh", &[]),
    (
        "16_iptables_essentials_commands.sh",
        &[
            (16, "not supported yet: -t nat"),
            (17, "not supported yet: -t mangle"),
            (
                93,
                "not supported yet: -m string (netfilter searches a packet after GRO merged its TCP segments, fw's XDP hook each frame before: a string across two segments would match in one and not the other (docs/semantics.md item 30))",
            ),
            (
                94,
                "not supported yet: -m string (netfilter searches a packet after GRO merged its TCP segments, fw's XDP hook each frame before: a string across two segments would match in one and not the other (docs/semantics.md item 30))",
            ),
            (118, "not supported yet: -j CT"),
            (119, "not supported yet: -j SYNPROXY"),
            (124, "not supported yet: -t mangle"),
            (131, "not supported yet: -t mangle"),
            (132, "not supported yet: -t mangle"),
            (133, "not supported yet: -t mangle"),
            (134, "not supported yet: -t mangle"),
            (135, "not supported yet: -t mangle"),
            (136, "not supported yet: -t mangle"),
            (137, "not supported yet: -t mangle"),
            (138, "not supported yet: -t mangle"),
            (139, "not supported yet: -t mangle"),
            (140, "not supported yet: -t mangle"),
            (141, "not supported yet: -t mangle"),
            (142, "not supported yet: -t mangle"),
            (143, "not supported yet: -t mangle"),
            (144, "not supported yet: -t mangle"),
            (146, "not supported yet: -t mangle"),
            (147, "not supported yet: -t mangle"),
            (148, "not supported yet: -t mangle"),
            (149, "not supported yet: -t mangle"),
            (150, "not supported yet: -t mangle"),
            (151, "not supported yet: -t mangle"),
            (152, "not supported yet: -t mangle"),
            (153, "not supported yet: -t mangle"),
            (154, "not supported yet: -t mangle"),
            (156, "not supported yet: -j NFQUEUE"),
            (159, "not supported yet: -j NFQUEUE"),
        ],
    ),
    (
        "18_tailscale_linuxfw.sh",
        &[
            (12, "not supported yet: -t nat"),
            (15, "not supported yet: -t nat"),
            (23, "not supported yet: -j MARK"),
            (30, "not supported yet: -j MASQUERADE"),
            (32, "not supported yet: -j TCPMSS"),
            (33, "not supported yet: -j CONNMARK"),
            (34, "not supported yet: -j CONNMARK"),
            (42, "not supported yet: -j MARK"),
        ],
    ),
];

#[test]
fn scripts_like_iptables_legacy() {
    require_iptables();
    let services = Services::system();
    let mut failures = Vec::new();
    let mut refusals: Vec<(String, usize, String)> = Vec::new();
    for path in files(&["sh"]) {
        let file = name(&path).to_string();
        let commands = shell_commands(&std::fs::read_to_string(&path).unwrap());
        assert!(!commands.is_empty(), "{file}: no iptables command found");
        let ns = Netns::new("oracle-script").unwrap();
        // iptables' and ip6tables' tables are apart, in fw as in the kernel.
        let mut tables = [empty(Family::V4), empty(Family::V6)];
        for c in &commands {
            let at = format!("{file}:{} `{} {}'", c.line, c.program, c.args.join(" "));
            let (family, binary) = program_family(&c.program);
            let st = &mut tables[usize::from(family == Family::V6)];
            let fw = fw_command(st, &c.program, &c.args, services);
            if let FwOutcome::Refused(msg) = fw {
                refusals.push((file.clone(), c.line, msg));
                continue;
            }
            let out = ns.sh(
                &format!("{binary} \"$@\"; echo \"@@RC=$?\"; {binary} -S"),
                &c.args,
                None,
            );
            let stdout = text(&out.stdout);
            let (printed, rest) = stdout.split_once("@@RC=").unwrap();
            let (code, table) = rest.split_once('\n').unwrap();
            let code: i32 = code.parse().unwrap();
            let stderr = text(&out.stderr);
            match fw {
                FwOutcome::Ok(fw_printed) => {
                    if code != 0 {
                        failures.push(format!(
                            "{at}: fw accepted, iptables said ({code}) {stderr}"
                        ));
                    } else if fw_printed != printed {
                        failures.push(format!("{at}: printed\n{printed}--- fw\n{fw_printed}"));
                    }
                }
                FwOutcome::Failed(fw_code, fw_stderr) => {
                    if (fw_code, &fw_stderr) != (code, &stderr) {
                        failures.push(format!(
                            "{at}: iptables ({code}) {stderr:?}, fw ({fw_code}) {fw_stderr:?}"
                        ));
                    }
                }
                FwOutcome::Refused(_) => unreachable!(),
            }
            let fw_table = render::list_rules(&st.ruleset, None, None, None);
            if fw_table != table {
                failures.push(format!("{at}: tables differ\n{table}--- fw\n{fw_table}"));
                break;
            }
        }
    }
    failures.extend(refusals_differ(&refusals, SCRIPT_REFUSALS));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- restore files ----

/// What a restore file needs that it does not declare (ufw creates some
/// chains from its own code; Docker's rules name an ipset): chains to
/// create first (then the file is restored with `--noflush`) and sets.
fn prerequisites(file: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match file {
        f if f.starts_with("01_") => (&["ufw-logging-deny"], &[]),
        f if f.starts_with("02_") => (&["ufw-skip-to-policy-input"], &[]),
        f if f.starts_with("03_") => (&["ufw6-logging-deny"], &[]),
        f if f.starts_with("09_") => (&[], &["docker-ext-bridges-v4"]),
        _ => (&[], &[]),
    }
}

/// The corpus files written for ip6tables-restore (their sources say so:
/// ufw's before6.rules, RHEL's sysconfig/ip6tables, Debian's rules.v6,
/// perfSONAR's v6 file); the others are iptables-restore files.
const IPV6_FILES: &[&str] = &[
    "03_ufw_before6.rules",
    "04_rhel_sysconfig_ip6tables.rules",
    "22_debian_raspi3_rules.v6",
    "24_perfsonar_firewall_v6_noCOMMIT.conf",
];

/// The family a restore file is for, and its restore binary.
fn file_family(file: &str) -> (Family, &'static str) {
    if IPV6_FILES.contains(&file) {
        (Family::V6, IP6TABLES)
    } else {
        (Family::V4, IPTABLES)
    }
}

/// fw's own refusals of whole restore files: per file, line and message.
const RESTORE_REFUSALS: &[(&str, &[(usize, &str)])] = &[
    (
        "09_docker_moby_usernet_portmap.rules",
        &[(
            32,
            "line 32 failed: not supported yet: table `nat' (fw has only the filter table; `fw restore --table filter` restores the filter table alone)",
        )],
    ),
    (
        "12_algo_vpn_rules.v4",
        &[
            (
                12,
                "line 12 failed: not supported yet: table `mangle' (fw has only the filter table; `fw restore --table filter` restores the filter table alone)",
            ),
            (
                28,
                "line 28 failed: not supported yet: table `nat' (fw has only the filter table; `fw restore --table filter` restores the filter table alone)",
            ),
        ],
    ),
    (
        "25_kilo_issue128_mangle_counters.rules",
        &[(
            3,
            "line 3 failed: not supported yet: table `mangle' (fw has only the filter table; `fw restore --table filter` restores the filter table alone)",
        )],
    ),
];

/// `text` with line `n` (1-based) emptied, or, when it starts a table,
/// that whole table (up to its `COMMIT`): line numbers stay the same.
fn blank(text: &str, n: usize) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = n - 1;
    let end = if lines[i].starts_with('*') {
        (i..lines.len())
            .find(|&j| lines[j] == "COMMIT")
            .unwrap_or(i)
    } else {
        i
    };
    for l in &mut lines[i..=end] {
        l.clear();
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// What a file that needs these chains is restored onto: a state with
/// them (empty), and `--noflush` when there are any, as iptables-restore
/// is run.
fn restore_base(chains: &[&str], family: Family) -> (State, RestoreOptions) {
    let mut base = empty(family);
    for c in chains {
        base.ruleset.user_chains.insert(c.to_string(), vec![]);
    }
    let opts = RestoreOptions {
        noflush: !chains.is_empty(),
        ..Default::default()
    };
    (base, opts)
}

/// `text` through iptables-legacy-restore and fw's restore engine; a
/// description of any difference.
fn compare_restore(file: &str, input: &str, services: &Services, sets: bool) -> Option<String> {
    let (chains, needed_sets) = prerequisites(file);
    if !sets && !needed_sets.is_empty() {
        eprintln!("note: {file}: ipset is missing, skipped");
        return None;
    }
    let (family, binary) = file_family(file);
    let ns = Netns::new("oracle-restore").unwrap();
    let mut script = String::new();
    for s in needed_sets {
        script.push_str(&format!("ipset create {s} hash:ip; "));
    }
    for c in chains {
        script.push_str(&format!("{binary} -N {c}; "));
    }
    let noflush = if chains.is_empty() { "" } else { " --noflush" };
    script.push_str(&format!(
        "{binary}-restore{noflush}; echo \"@@RC=$?\"; {binary}-save -t filter"
    ));
    let out = ns.sh(&script, &[], Some(input));
    let stdout = text(&out.stdout);
    let (_, rest) = stdout.split_once("@@RC=").unwrap();
    let (code, saved) = rest.split_once('\n').unwrap();
    let code: i32 = code.parse().unwrap();
    let saved: String = saved
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let stderr = text(&out.stderr);

    let (base, opts) = restore_base(chains, family);
    let program = format!("{}-restore", family_program(family));
    match restore::restore(&base, input, &opts, false, services) {
        Ok(done) => {
            let fw = render::save(&done.state.ruleset, &Counters::default(), false, None);
            if code != 0 {
                Some(format!(
                    "{file} : fw restored it, iptables said ({code}) {stderr}"
                ))
            } else if fw != saved {
                Some(format!("{file} : saved tables differ\n{saved}--- fw\n{fw}"))
            } else {
                None
            }
        }
        Err(e) => match e.iptables_stderr(&program, VERSION) {
            Some(fw_stderr) if (e.exit_code(), &fw_stderr) == (code, &stderr) => None,
            Some(fw_stderr) => Some(format!(
                "{file} : iptables ({code}) {stderr:?}, fw ({}) {fw_stderr:?}",
                e.exit_code()
            )),
            None => Some(format!("{file} : fw-only refusal {e}")),
        },
    }
}

#[test]
fn restore_files_like_iptables_legacy() {
    require_iptables();
    let services = Services::system();
    let sets = have_ipset();
    let mut failures = Vec::new();
    let mut refusals: Vec<(String, usize, String)> = Vec::new();
    for path in files(&["rules", "conf", "v4", "v6"]) {
        let file = name(&path).to_string();
        let mut input = std::fs::read_to_string(&path).unwrap();
        let (chains, _) = prerequisites(&file);
        let (family, _) = file_family(&file);
        let (base, opts) = restore_base(chains, family);
        let program = format!("{}-restore", family_program(family));
        // fw's own refusals are recorded and their line (or table) left
        // out, until what is left is compared with iptables.
        loop {
            let fw_only = restore::restore(&base, &input, &opts, false, services)
                .err()
                .filter(|e| e.iptables_stderr(&program, VERSION).is_none());
            let Some(e) = fw_only else { break };
            refusals.push((file.clone(), e.line, e.to_string()));
            input = blank(&input, e.line);
        }
        failures.extend(compare_restore(&file, &input, services, sets));
    }
    failures.extend(refusals_differ(&refusals, RESTORE_REFUSALS));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shell_words_like_sh() {
    let mut vars = BTreeMap::new();
    vars.insert("IF".to_string(), "eth0".to_string());
    assert_eq!(
        shell_words(r#"iptables -i $IF --comment "a $IF" '!' x\ y"#, &vars),
        ["iptables", "-i", "eth0", "--comment", "a eth0", "!", "x y"]
    );
    let cmds = shell_commands("X=\"1 2\"\n# c\niptables \\\n-A INPUT \\\n -s $X\n\necho x\n");
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].line, 3);
    assert_eq!(cmds[0].args, ["-A", "INPUT", "-s", "1 2"]);
}
