//! `fw`: the iptables-compatible command line of the eBPF firewall.
//!
//! `fw [iptables options]` edits or lists the filter table of the current
//! network namespace (iptables(8)); `fw status` and `fw reset` manage the
//! programs themselves. Exit codes follow iptables: 0 success, 1 a command
//! that cannot be carried out, 2 a bad command line, 4 a resource or
//! privilege problem.

use std::{io::Write as _, process::ExitCode};

use firewall::{exec, parse};

const VERSION: &str = env!("CARGO_PKG_VERSION");

const USAGE: &str = "\
Usage: fw -[ACD] chain rule-specification [options]
       fw -I chain [rulenum] rule-specification [options]
       fw -D chain rulenum [options]
       fw -[LSFZ] [chain] [options]
       fw -P chain target [options]
       fw status | reset | -h | -V

Commands:
  --append  -A chain           Append to chain
  --insert  -I chain [rulenum] Insert in chain as rulenum (default 1=first)
  --delete  -D chain           Delete matching rule from chain
  --delete  -D chain rulenum   Delete rule rulenum (1 = first) from chain
  --list    -L [chain]         List the rules in a chain or all chains
  --list-rules -S [chain]      Print the rules in a chain or all chains
  --flush   -F [chain]         Delete all rules in chain or all chains
  --zero    -Z [chain]         Zero counters in chain or all chains
  --policy  -P chain target    Change policy on chain to target
  status                       Show where fw is attached and its rule counts
  reset                        Remove fw's programs, maps and state from this namespace

Options:
  [!] --protocol -p proto      protocol: tcp, udp, icmp, all or a number
  [!] --source   -s address[/mask]
  [!] --destination -d address[/mask]
  [!] --in-interface -i name
  [!] --out-interface -o name
  [!] --sport / --dport port[:port]   after -p tcp or -p udp
  --jump -j target             ACCEPT or DROP
  --verbose -v                 verbose mode
  --numeric -n                 numeric output of addresses and ports
  --exact   -x                 expand numbers (display exact values)
  --line-numbers               print line numbers when listing
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let first = args.first().map(String::as_str);
    let result = match first {
        Some("-h" | "--help") if args.len() == 1 => {
            out(&format!("fw v{VERSION} (eBPF)\n\n{USAGE}"));
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") if args.len() == 1 => {
            out(&format!("fw v{VERSION} (eBPF)\n"));
            return ExitCode::SUCCESS;
        }
        Some(cmd @ ("status" | "reset")) if args.len() > 1 => {
            return usage_error(&format!("{cmd} takes no arguments: `{}'", args[1]));
        }
        Some("status") => exec::status(),
        Some("reset") => exec::reset().map(|()| String::new()),
        _ => {
            let inv = match parse::parse_args(&args) {
                Ok(inv) => inv,
                Err(e) => {
                    eprint!("{}", e.iptables_stderr("fw", &format!("v{VERSION} (eBPF)")));
                    return ExitCode::from(e.exit_code() as u8);
                }
            };
            exec::run(&inv)
        }
    };
    match result {
        Ok(text) => {
            out(&text);
            ExitCode::SUCCESS
        }
        Err(e) if e.exit_code() == 2 => usage_error(&e.to_string()),
        Err(e) => {
            eprintln!("fw: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
