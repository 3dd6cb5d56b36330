//! `fw`: the iptables-compatible command line of the eBPF firewall.
//!
//! `fw [iptables options]` edits or lists the filter table of the current
//! network namespace (iptables(8)); `fw save` and `fw restore` read and
//! write it in iptables-save(8)/iptables-restore(8) format (or as a YAML
//! ruleset, which `fw apply` applies: docs/yaml.md); `fw status`
//! and `fw reset` manage the programs themselves; `fw monitor` prints
//! the records of `-j LOG` rules. Exit codes follow
//! iptables: 0 success, 1 a command that cannot be carried out (or a
//! failed `fw status --check`), 2 a bad command line (or a feature fw does
//! not support yet), 3 missing privileges ("you must be root"), 4 a
//! resource problem or a lock still held after `-w N` seconds.

// Cargo gives the binary all of the package's dependencies; the library
// uses them, the binary only the library.
use aya as _;
use aya_obj as _;
use firewall_common as _;
use libc as _;
use nom as _;
use plotters as _;
use prometheus_client as _;
#[cfg(any(test, feature = "testing"))]
use proptest as _;
use ratatui as _;
use serde as _;
use serde_json as _;
use serde_norway as _;
use thiserror as _;
use tokio as _;

use std::{
    io::{Read as _, Write as _},
    process::ExitCode,
};

use firewall::{
    command::{Command, Invocation, Zeroing},
    exec,
    model::Family,
    parse::{self, services::Services},
    restore::RestoreOptions,
};

const VERSION: &str = env!("CARGO_PKG_VERSION");

const USAGE: &str = "\
Usage: fw -[ACD] chain rule-specification [options]
       fw -I chain [rulenum] rule-specification [options]
       fw -R chain rulenum rule-specification [options]
       fw -D chain rulenum [options]
       fw -[LS] [chain [rulenum]] [options]
       fw -[FZ] [chain] [options]
       fw -[NX] chain
       fw -E old-chain-name new-chain-name
       fw -P chain target [options]
       fw save [--counters] [--format iptables|yaml]
       fw restore [--counters] [--noflush] [--test] [--table filter] [file]
       fw apply [--check|--diff] [-w [secs]] file.yaml
       fw -L [chain] --json
       fw status [--check] | reset | gc | -h | -V
       fw conntrack -L | -F | -C | -S | --timeout [NAME=SECONDS ...]
       fw set create|add|del|test|list|save|restore|flush|destroy ... (fw set -h)
       fw monitor [--count N] | --stats
       fw top [--sort packets|bytes]
       fw report --plot FILE.png [--seconds N] [--top K]
       fw daemon [--metrics-addr ADDR:PORT] [--no-metrics] [--rules FILE.yaml] [--log]
       fw -6 ... | fw6 ...           ip6tables' commands, save and restore, on the IPv6 table

Commands:
  --append  -A chain           Append to chain
  --check   -C chain           Check for the existence of a rule
  --delete  -D chain           Delete matching rule from chain
  --delete  -D chain rulenum   Delete rule rulenum (1 = first) from chain
  --insert  -I chain [rulenum] Insert in chain as rulenum (default 1=first)
  --replace -R chain rulenum   Replace rule rulenum (1 = first) in chain
  --list    -L [chain [rulenum]]  List the rules in a chain or all chains
  --list-rules -S [chain [rulenum]]  Print the rules in a chain or all chains
  --list -L [chain] --json     The rules and exact counters as JSON (docs/json.md)
  --flush   -F [chain]         Delete all rules in chain or all chains
  --zero    -Z [chain [rulenum]]  Zero counters in chain or all chains
  --new     -N chain           Create a new user-defined chain
  --delete-chain -X [chain]    Delete a user-defined chain (or all)
  --rename-chain -E old new    Change a chain's name
  --policy  -P chain target    Change policy on chain to target
  save                         Print the filter table in iptables-save format
                               (--format yaml: as a YAML ruleset, docs/yaml.md)
  restore                      Load a file in iptables-restore format or a YAML ruleset
                               (stdin by default)
  apply FILE                   Replace the whole ruleset with a YAML ruleset, atomically,
                               keeping the counters of rules that did not change
  apply --check FILE           Only check the file (exit 0, or 2 naming line and column)
  apply --diff FILE            Print what would change as -N/-P/-D/-A/-X lines; exit 0 when
                               nothing would, 1 when something would
  status                       Show every interface, filtered or not and why, and the chains
  status --check               Exit 1 (naming why) when an interface is unfiltered or the
                               record disagrees with the kernel; silent and 0 otherwise
  reset                        Remove fw's programs, maps and state from this namespace
  gc                           Remove what namespaces deleted without `fw reset' left behind
                               (every fw command does this first, quietly)
  conntrack -L                 List the tracked connections, as conntrack -L
  conntrack -F                 Flush the connection table
  conntrack -C                 Count the tracked connections
  conntrack -S                 The table's size and the tracking counters
  conntrack --timeout [N=S]    Print the connection timeouts (seconds), or set some
  set COMMAND ...              Named sets for -m set, as ipset(8) (fw set -h)
  monitor [--count N]          Print the records of -j LOG rules as they come
  monitor --stats              How many LOG records were sent and dropped
  report --plot FILE.png       Sample the counters for a while, chart the busiest rules
  top                          Live view of the rules' hit rates (p/b sort, q quits)
  daemon                       Attach to interfaces as they appear, serve Prometheus
                               metrics, re-apply --rules FILE when it changes (fw daemon -h)

Options (iptables(8), iptables-extensions(8)):
  [!] --protocol -p proto      protocol: a name (tcp, udp, icmp, all, ...) or a number
  [!] --source   -s address[/mask][,...]
  [!] --destination -d address[/mask][,...]
  [!] --in-interface -i name[+]
  [!] --out-interface -o name[+]
  [!] --fragment -f            second and further fragments only
  --match -m match             tcp udp icmp multiport conntrack state iprange mac
                               comment limit hashlimit recent length ttl mark addrtype
                               owner policy set tcpmss time (their options:
                               iptables-extensions(8); the others are refused)
  [!] --ctstate (-m conntrack), [!] --state (-m state)
                               INVALID,NEW,ESTABLISHED,RELATED,UNTRACKED (fw's tracking)
  [!] --ctproto, [!] --ctorig{src,dst}[port], [!] --ctrepl{src,dst}[port],
  --ctdir ORIGINAL|REPLY (-m conntrack; ports need tcp or udp)
  [!] --mark value[/mask] (-m mark)
  --jump -j target             ACCEPT DROP RETURN REJECT LOG or a user-defined chain
  --goto -g chain              jump to a user-defined chain without returning
  --verbose -v                 verbose mode
  --numeric -n                 numeric output of addresses and ports
  --exact   -x                 expand numbers (display exact values)
  --line-numbers               print line numbers when listing
  --wait    -w [seconds]       maximum wait to acquire fw's lock before giving up
                               (exit 4); without -w fw waits, as iptables 1.8.9 does
  --wait-interval -W [usecs]   accepted and ignored, as iptables 1.8.9 does

Rules the kernel side does not enforce yet are refused with
\"not supported yet\" and exit status 2.
";

/// Writes to standard output; a closed pipe or a full disk is not fw's
/// error to report (iptables exits 0 then too).
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Prints a bad command line the way iptables does and returns its exit
/// status (2).
fn usage_error(message: &str) -> ExitCode {
    eprintln!("fw v{VERSION} (eBPF): {message}");
    eprintln!("Try `fw -h' or 'fw --help' for more information.");
    ExitCode::from(2)
}

/// What `fw save` writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    /// iptables-save(8) format.
    Iptables,
    /// A YAML ruleset (docs/yaml.md).
    Yaml,
}

/// The options of `fw save`: counters and format.
fn save_args(args: &[String]) -> Result<(bool, Format), String> {
    let mut counters = false;
    let mut format = Format::Iptables;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" | "--counters" => counters = true,
            "-t" | "--table" => match it.next().map(String::as_str) {
                Some("filter") => {}
                Some(t) => {
                    return Err(format!(
                        "table `{t}' is not supported yet (fw has only the filter table)"
                    ));
                }
                None => return Err(format!("option \"{a}\" requires an argument")),
            },
            f if f == "--format" || f.starts_with("--format=") => {
                let v = match f.strip_prefix("--format=") {
                    Some(v) => Some(v.to_string()),
                    None => it.next().cloned(),
                };
                format = match v.as_deref() {
                    Some("iptables") => Format::Iptables,
                    Some("yaml") => Format::Yaml,
                    Some(other) => {
                        return Err(format!(
                            "unknown format `{other}' (expected `iptables' or `yaml')"
                        ));
                    }
                    None => return Err("option `--format' requires an argument".into()),
                };
            }
            other => return Err(format!("unknown argument `{other}'")),
        }
    }
    if counters && format == Format::Yaml {
        return Err("not supported yet: --counters with --format yaml \
                    (a YAML ruleset carries no counters)"
            .into());
    }
    Ok((counters, format))
}

/// iptables-restore's `-w [secs]` (`w` is the option as given, `it` the
/// rest of the arguments): the seconds, `None` to wait as long as it takes.
fn wait_arg<'a>(
    w: &str,
    it: &mut std::iter::Peekable<impl Iterator<Item = &'a String>>,
) -> Result<Option<u32>, String> {
    let v = match w.strip_prefix("--wait=") {
        Some(v) => Some(v.to_string()),
        None => it.next_if(|v| v.parse::<u32>().is_ok()).cloned(),
    };
    match v {
        Some(v) => match v.parse::<u32>() {
            Ok(n) => Ok(Some(n).filter(|&n| n > 0)),
            Err(_) => Err("wait seconds not numeric".into()),
        },
        None => Ok(None),
    }
}

/// The mode, file and `-w` seconds of `fw apply`.
fn apply_args(args: &[String]) -> Result<(exec::ApplyMode, String, Option<u32>), String> {
    let mut mode = exec::ApplyMode::Apply;
    let mut file = None;
    let mut wait = None;
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" | "-t" | "--test" if mode == exec::ApplyMode::Apply => {
                mode = exec::ApplyMode::Check;
            }
            "--diff" if mode == exec::ApplyMode::Apply => mode = exec::ApplyMode::Diff,
            "--check" | "-t" | "--test" | "--diff" => {
                return Err("--check and --diff exclude each other".into());
            }
            w if w == "-w" || w == "--wait" || w.starts_with("--wait=") => {
                wait = wait_arg(w, &mut it)?;
            }
            f if !f.starts_with('-') && file.is_none() => file = Some(f.to_string()),
            other => return Err(format!("unknown argument `{other}'")),
        }
    }
    match file {
        Some(f) => Ok((mode, f, wait)),
        None => Err("a YAML ruleset file is required".into()),
    }
}

/// Reads `file` (standard input for `None`), or prints iptables-restore's
/// "Can't open FILE: REASON" and gives exit status 1.
fn read_input(file: Option<&str>) -> Result<String, ExitCode> {
    let mut text = String::new();
    let read = match file {
        Some(f) => std::fs::read_to_string(f).map(|t| text = t),
        None => std::io::stdin().read_to_string(&mut text).map(|_| ()),
    };
    match read {
        Ok(()) => Ok(text),
        Err(e) => {
            let text = e.to_string();
            let reason = match e.raw_os_error() {
                // strerror(3)'s text, without Rust's " (os error N)".
                Some(n) => text
                    .trim_end_matches(&format!(" (os error {n})"))
                    .to_string(),
                None => text,
            };
            eprintln!("Can't open {}: {reason}", file.unwrap_or("standard input"));
            Err(ExitCode::from(1))
        }
    }
}

/// Runs `fw apply` (or `fw restore` of a YAML file) and gives its exit
/// status: `--diff` exits 1 when something would change and 2 or more on
/// trouble, as diff(1).
fn apply_file(text: &str, file: &str, mode: exec::ApplyMode, program: &str) -> ExitCode {
    match exec::apply_yaml(text, file, mode) {
        Ok((out_text, changed)) => {
            out(&out_text);
            ExitCode::from(u8::from(mode == exec::ApplyMode::Diff && changed))
        }
        Err(e) if mode == exec::ApplyMode::Diff && e.exit_code() == 1 => {
            let _ = failed(&e, program);
            ExitCode::from(2)
        }
        Err(e) => failed(&e, program),
    }
}

/// Prints the error of a whole-file command (`PROGRAM: MESSAGE`, or
/// iptables' bare lock message) and gives its exit status.
fn failed(e: &exec::ExecError, program: &str) -> ExitCode {
    if e.bare() {
        eprintln!("{e}");
    } else {
        eprintln!("{program}: {e}");
    }
    ExitCode::from(e.exit_code() as u8)
}

/// The options, input and `-w` seconds of `fw restore`.
type RestoreArgs = (RestoreOptions, Option<String>, Option<u32>);

/// The options and input of `fw restore`.
fn restore_args(args: &[String]) -> Result<RestoreArgs, String> {
    let mut opts = RestoreOptions::default();
    let mut file = None;
    let mut wait = None;
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" | "--counters" => opts.counters = true,
            "-n" | "--noflush" => opts.noflush = true,
            "-t" | "--test" => opts.test = true,
            // iptables-restore's `-T NAME`: only that table. fw has only
            // filter, so any other is refused rather than skipped.
            t if t == "-T" || t == "--table" || t.starts_with("--table=") => {
                let name = match t.strip_prefix("--table=") {
                    Some(v) => Some(v.to_string()),
                    None => it.next().cloned(),
                };
                match name.as_deref() {
                    Some("filter") => opts.filter_only = true,
                    Some(other) => {
                        return Err(format!(
                            "not supported yet: table `{other}' (fw has only the filter table)"
                        ));
                    }
                    None => return Err("option `--table' requires an argument".into()),
                }
            }
            // iptables-restore's `-w [secs]` and `-W [usecs]`, values as the
            // next argument or after `=`.
            w if w == "-w" || w == "--wait" || w.starts_with("--wait=") => {
                wait = wait_arg(w, &mut it)?;
            }
            w if w == "-W" || w.starts_with("--wait-interval") => {
                let v = match w.strip_prefix("--wait-interval=") {
                    Some(v) => Some(v.to_string()),
                    None => it.next().cloned(),
                };
                match v.map(|v| v.parse::<u32>()) {
                    Some(Ok(n)) if n > 999_999 => {
                        return Err(format!("too long usec wait {n} > 999999 usec"));
                    }
                    Some(Ok(_)) => eprintln!("Ignoring deprecated --wait-interval option."),
                    Some(Err(_)) => return Err("wait interval not numeric".into()),
                    None => return Err("wait interval value required".into()),
                }
            }
            f if !f.starts_with('-') && file.is_none() => file = Some(f.to_string()),
            other => return Err(format!("unknown argument `{other}'")),
        }
    }
    Ok((opts, file, wait))
}

/// The family a command line is for, as ip6tables is told apart: by the
/// program's name (`fw6`, like `ip6tables` of xtables-legacy-multi), or
/// `-6`/`--ipv6` (`-4`/`--ipv4`) before a subcommand (`fw -6 restore`).
/// Inside an iptables command line, `-6` is found by the parser
/// ([`parse_invocation`]). Returns the family and the arguments left.
fn family_of(argv0: &str, mut args: Vec<String>) -> (Family, Vec<String>) {
    let name = std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let mut family = if name == "fw6" {
        Family::V6
    } else {
        Family::V4
    };
    // `fw -6 status`, and `fw -6 -h`/`-V` (one word after the flag).
    let subcommand = args
        .get(1)
        .is_some_and(|a| !a.starts_with('-') && !a.is_empty())
        || (args.len() == 2 && matches!(args[1].as_str(), "-h" | "--help" | "-V" | "--version"));
    match args.first().map(String::as_str) {
        Some("-6" | "--ipv6") if subcommand => {
            family = Family::V6;
            args.remove(0);
        }
        Some("-4" | "--ipv4") if subcommand => {
            family = Family::V4;
            args.remove(0);
        }
        _ => {}
    }
    (family, args)
}

/// The refusal of an fw command that has no IPv6 form yet (exit status
/// 2, one line).
fn ipv6_refused(what: &str) -> ExitCode {
    eprintln!("fw v{VERSION} (eBPF): not supported yet: {what} in IPv6");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    // Bytes that are not UTF-8 become U+FFFD: such a name or address then
    // fails to parse with a message, as it would in iptables.
    let mut argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv0 = argv.next().unwrap_or_default();
    let (family, args) = family_of(&argv0, argv.collect());
    let first = args.first().map(String::as_str);
    if family == Family::V6
        && let Some(code) = main6(&args)
    {
        return code;
    }
    let result = match first {
        Some("-h" | "--help") if args.len() == 1 => {
            out(&format!("fw v{VERSION} (eBPF)\n\n{USAGE}"));
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") if args.len() == 1 => {
            out(&format!("fw v{VERSION} (eBPF)\n"));
            return ExitCode::SUCCESS;
        }
        Some(f) if f.starts_with('-') && args.iter().any(|a| a == "--json") => {
            // The rest is an iptables command line (`-nvL INPUT -w 1`):
            // JSON counters are exact and addresses numeric, so -n, -v,
            // -x and --line-numbers change nothing.
            let rest: Vec<String> = args.iter().filter(|a| *a != "--json").cloned().collect();
            let parsed = match family {
                Family::V4 => parse_invocation(&rest),
                Family::V6 => parse_in(&rest, Family::V6),
            };
            let inv = match parsed {
                Ok(inv) => inv,
                Err(code) => return code,
            };
            let Command::List {
                chain,
                rule: None,
                zero: Zeroing::Not,
            } = &inv.command
            else {
                return usage_error("--json goes with -L [CHAIN] only (no rule number, no -Z)");
            };
            firewall::state::set_wait(inv.wait);
            exec::gc_quietly();
            exec::list_json(chain.as_deref(), inv.family)
        }
        Some("status") if args.len() > 2 || args.get(1).is_some_and(|a| a != "--check") => {
            return usage_error(&format!("status: unknown argument `{}'", args[1]));
        }
        Some(cmd @ ("reset" | "gc")) if args.len() > 1 => {
            return usage_error(&format!("{cmd} takes no arguments: `{}'", args[1]));
        }
        Some("status") => {
            exec::gc_quietly();
            let check = args.len() == 2;
            match exec::status() {
                Ok(st) if check => {
                    for p in &st.problems {
                        eprintln!("fw: {p}");
                    }
                    return ExitCode::from(u8::from(!st.problems.is_empty()));
                }
                r => r.map(|st| st.text),
            }
        }
        Some("reset") => {
            exec::gc_quietly();
            exec::reset().map(|()| String::new())
        }
        Some("gc") => exec::gc(),
        Some("daemon") => {
            if matches!(args.get(1).map(String::as_str), Some("-h" | "--help")) {
                out(firewall::daemon::USAGE);
                return ExitCode::SUCCESS;
            }
            let opts = match firewall::daemon::parse(&args[1..]) {
                Ok(o) => o,
                Err(e) => return usage_error(&e.to_string()),
            };
            exec::gc_quietly();
            return match firewall::daemon::run(&opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fw daemon: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            };
        }
        Some("report") => {
            if matches!(args.get(1).map(String::as_str), Some("-h" | "--help")) {
                out(firewall::report::USAGE);
                return ExitCode::SUCCESS;
            }
            let opts = match firewall::report::parse(&args[1..]) {
                Ok(o) => o,
                Err(e) => return usage_error(&e.to_string()),
            };
            exec::gc_quietly();
            return match firewall::report::run(&opts) {
                Ok(text) => {
                    out(&text);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("fw report: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            };
        }
        Some("top") => {
            if matches!(args.get(1).map(String::as_str), Some("-h" | "--help")) {
                out(firewall::top::USAGE);
                return ExitCode::SUCCESS;
            }
            let sort = match firewall::top::parse(&args[1..]) {
                Ok(s) => s,
                Err(e) => return usage_error(&e.to_string()),
            };
            exec::gc_quietly();
            return match firewall::top::run(sort) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fw top: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            };
        }
        Some("monitor") => {
            let cmd = match firewall::monitor::parse(&args[1..]) {
                Ok(c) => c,
                Err(e) => return usage_error(&format!("monitor: {e}")),
            };
            return match firewall::monitor::run(&cmd) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fw monitor: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Some("conntrack") => {
            if matches!(args.get(1).map(String::as_str), Some("-h" | "--help")) {
                out(firewall::conntrack::USAGE);
                return ExitCode::SUCCESS;
            }
            let cmd = match firewall::conntrack::parse(&args[1..]) {
                Ok(c) => c,
                Err(e) => return usage_error(&format!("conntrack: {e}")),
            };
            exec::gc_quietly();
            return match firewall::conntrack::run(&cmd) {
                Ok((text, note)) => {
                    out(&text);
                    eprint!("{note}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("fw conntrack: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            };
        }
        Some("set") => {
            if matches!(
                args.get(1).map(String::as_str),
                Some("-h" | "--help" | "help")
            ) {
                out(firewall::sets::USAGE);
                return ExitCode::SUCCESS;
            }
            let (cmd, exist) = match firewall::sets::parse(&args[1..]) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("fw set: {e}");
                    return ExitCode::from(e.exit_code() as u8);
                }
            };
            let input = if cmd == firewall::sets::Command::Restore {
                match read_input(None) {
                    Ok(t) => t,
                    Err(code) => return code,
                }
            } else {
                String::new()
            };
            return match firewall::sets::run(&cmd, exist, &input) {
                Ok(o) => {
                    out(&o.stdout);
                    eprint!("{}", o.stderr);
                    if o.not_found {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => failed(&e, "fw set"),
            };
        }
        Some("save") => match save_args(&args[1..]) {
            Ok((counters, Format::Iptables)) => {
                exec::gc_quietly();
                exec::save(counters, Family::V4)
            }
            Ok((_, Format::Yaml)) => {
                exec::gc_quietly();
                exec::save_yaml()
            }
            Err(e) => return usage_error(&format!("save: {e}")),
        },
        Some("restore") if matches!(args.get(1).map(String::as_str), Some("-h" | "--help")) => {
            out(
                "Usage: fw restore [-c|--counters] [-n|--noflush] [-t|--test] [-T|--table filter]\n\
                 \x20                 [-w [secs]] [-W [usecs]] [file]\n\
                 Reads an iptables-save file (standard input when no file is given)\n\
                 and loads its filter table, all or nothing. With --table filter,\n\
                 the file's other tables (nat, mangle, raw, ...) are skipped.\n",
            );
            return ExitCode::SUCCESS;
        }
        Some("apply") if matches!(args.get(1).map(String::as_str), Some("-h" | "--help")) => {
            out("Usage: fw apply [--check|--diff] [-w [secs]] file.yaml\n\
                 Replaces the whole filter table with a YAML ruleset (docs/yaml.md),\n\
                 atomically, keeping the counters of rules that did not change.\n\
                 --check only checks the file; --diff prints what would change and\n\
                 exits 1 when something would, 0 when nothing would.\n");
            return ExitCode::SUCCESS;
        }
        Some("apply") => {
            let (mode, file, wait) = match apply_args(&args[1..]) {
                Ok(x) => x,
                Err(e) => return usage_error(&format!("apply: {e}")),
            };
            firewall::state::set_wait(wait);
            if mode != exec::ApplyMode::Check {
                exec::gc_quietly();
            }
            let text = match read_input(Some(&file)) {
                Ok(t) => t,
                // diff(1): 1 means "differs", trouble is 2.
                Err(_) if mode == exec::ApplyMode::Diff => return ExitCode::from(2),
                Err(code) => return code,
            };
            return apply_file(&text, &file, mode, "fw apply");
        }
        Some("restore") => {
            let (opts, file, wait) = match restore_args(&args[1..]) {
                Ok(x) => x,
                Err(e) => return usage_error(&format!("restore: {e}")),
            };
            firewall::state::set_wait(wait);
            exec::gc_quietly();
            let text = match read_input(file.as_deref()) {
                Ok(t) => t,
                Err(code) => return code,
            };
            if firewall::yaml::is_yaml(&text) {
                if opts.noflush || opts.counters {
                    return usage_error(
                        "restore: not supported yet: --noflush or --counters with a YAML ruleset",
                    );
                }
                let mode = match opts.test {
                    true => exec::ApplyMode::Check,
                    false => exec::ApplyMode::Apply,
                };
                let name = file.as_deref().unwrap_or("<stdin>");
                return apply_file(&text, name, mode, "fw restore");
            }
            // iptables-restore style: "fw restore: line N failed: ...".
            return match exec::restore(&text, &opts, Family::V4) {
                Ok(text) => {
                    out(&text);
                    ExitCode::SUCCESS
                }
                Err(e) => failed(&e, "fw restore"),
            };
        }
        _ => {
            return match parse_invocation(&args) {
                Ok(inv) => run_invocation(&inv),
                Err(code) => code,
            };
        }
    };
    finish(result)
}

/// What a command printed, or its error as iptables reports it.
fn finish(result: Result<String, exec::ExecError>) -> ExitCode {
    match result {
        Ok(text) => {
            out(&text);
            ExitCode::SUCCESS
        }
        // libxt_set's own words, as iptables prints them.
        Err(exec::ExecError::SetUnusable(e)) => report(&e),
        Err(e) if e.exit_code() == 2 => {
            let hint = position(&e.to_string(), e.token()).unwrap_or_default();
            usage_error(format!("{e}\n{}", hint.trim_end()).trim_end())
        }
        Err(e) if e.bare() => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
        Err(e) => {
            eprintln!("fw: {e}");
            if let Some(hint) = position(&e.to_string(), e.token()) {
                eprint!("{hint}");
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// `fw6 ...`, `fw -6 ...`: ip6tables command lines, `save` and
/// `restore` of ip6tables-save files, on the IPv6 table; `None` for what
/// does not depend on the family (`status`, `reset`, `gc`, `monitor`,
/// `conntrack`, `daemon`, which see both families, and `-h`, `-V`), which
/// `main` then runs as for IPv4.
fn main6(args: &[String]) -> Option<ExitCode> {
    let result = match args.first().map(String::as_str) {
        None | Some("status" | "reset" | "gc" | "monitor" | "conntrack" | "daemon") => return None,
        Some("-h" | "--help" | "-V" | "--version") if args.len() == 1 => return None,
        Some("restore") if matches!(args.get(1).map(String::as_str), Some("-h" | "--help")) => {
            return None;
        }
        Some("restore") => {
            let (opts, file, wait) = match restore_args(&args[1..]) {
                Ok(x) => x,
                Err(e) => return Some(usage_error(&format!("restore: {e}"))),
            };
            let text = match read_input(file.as_deref()) {
                Ok(t) => t,
                Err(code) => return Some(code),
            };
            if firewall::yaml::is_yaml(&text) {
                return Some(ipv6_refused("a YAML ruleset"));
            }
            let done = if opts.test {
                // Offline, as for IPv4's restore --test of a file alone.
                exec::check_restore(&text, &opts, Family::V6)
            } else {
                firewall::state::set_wait(wait);
                exec::gc_quietly();
                exec::restore(&text, &opts, Family::V6)
            };
            return Some(match done {
                Ok(text) => {
                    out(&text);
                    ExitCode::SUCCESS
                }
                Err(e) => failed(&e, "fw restore"),
            });
        }
        Some("save") => match save_args(&args[1..]) {
            Ok((counters, Format::Iptables)) => {
                exec::gc_quietly();
                exec::save(counters, Family::V6)
            }
            Ok((_, Format::Yaml)) => return Some(ipv6_refused("save --format yaml")),
            Err(e) => return Some(usage_error(&format!("save: {e}"))),
        },
        // `--json` as IPv4's, on the IPv6 table.
        Some(f) if f.starts_with('-') && args.iter().any(|a| a == "--json") => return None,
        Some(f) if f.starts_with('-') => {
            let inv = match parse_in(args, Family::V6) {
                Ok(inv) => inv,
                Err(code) => return Some(code),
            };
            return Some(run_invocation(&inv));
        }
        Some(cmd) => return Some(ipv6_refused(&format!("`{cmd}'"))),
    };
    Some(finish(result))
}

/// Runs a parsed iptables or ip6tables command line in this namespace.
fn run_invocation(inv: &Invocation) -> ExitCode {
    if inv.wait_interval {
        eprintln!("Ignoring deprecated --wait-interval option.");
    }
    warn(inv);
    firewall::state::set_wait(inv.wait);
    exec::gc_quietly();
    finish(exec::run(inv))
}

/// An iptables command line, or the exit status after iptables' message;
/// one with `-6` is parsed again as ip6tables' (and runs on the IPv6
/// table).
fn parse_invocation(args: &[String]) -> Result<Invocation, ExitCode> {
    match parse::parse_args(args) {
        Err(parse::ParseError::Ipv6) => parse_in(args, Family::V6),
        r => r.map_err(|e| report(&e)),
    }
}

/// The parser's warnings, on standard error as iptables prints them.
fn warn(inv: &Invocation) {
    for w in &inv.warnings {
        eprintln!("{w}");
    }
}

/// [`parse_invocation`] in `family`.
fn parse_in(args: &[String], family: Family) -> Result<Invocation, ExitCode> {
    parse::parse_args_in(args, family, Services::system()).map_err(|e| report(&e))
}

/// iptables' message for a command line that does not parse, and its
/// exit status.
fn report(e: &parse::ParseError) -> ExitCode {
    {
        let mut text = e.iptables_stderr("fw", &format!("v{VERSION} (eBPF)"));
        if let Some(hint) = position(&e.to_string(), e.token()) {
            match text.find("Try `") {
                Some(at) => text.insert_str(at, &hint),
                None => text.push_str(&hint),
            }
        }
        eprint!("{text}");
        ExitCode::from(e.exit_code() as u8)
    }
}

/// Where an error is, when its message does not say: the offending
/// argument (as iptables-restore adds "Error occurred at line: N").
fn position(message: &str, token: Option<&str>) -> Option<String> {
    token
        .filter(|t| !t.is_empty() && !message.contains(*t))
        .map(|t| format!("Error occurred at argument `{t}'\n"))
}
