//! `cargo xtask demo`: fw in a two-namespace lab. The server namespace gets
//! `rules/demo.rules`; the client probes it with real TCP, UDP and ICMP
//! packets; each probe's result is compared with what the rules promise.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use anyhow::{Context as _, bail};
use integration_tests::{
    CLIENT_ADDR, Lab, SERVER_ADDR, TcpServer, fw_in, icmp_probe, tcp_listen, tcp_probe, udp_probe,
};

use crate::{cmd, setup};

/// How long a probe waits for its answer: longer than the tests' second,
/// so a first run on a machine still busy with the build does not read a
/// slow answer as a drop (a dropped probe costs this much each).
const DEMO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// One probe of the demo.
#[derive(Clone, Copy, Debug)]
enum Probe {
    /// TCP connect to this port.
    Tcp(u16),
    /// One UDP datagram to this port.
    Udp(u16),
    /// ICMP echo request.
    Icmp,
}

/// The probes and whether `rules/demo.rules` lets each through: TCP 22 and
/// 80 and ICMP are accepted, everything else meets the DROP policy.
const PROBES: [(Probe, bool); 6] = [
    (Probe::Tcp(22), true),
    (Probe::Tcp(80), true),
    (Probe::Tcp(23), false),
    (Probe::Tcp(8080), false),
    (Probe::Udp(53), false),
    (Probe::Icmp, true),
];

/// Runs the demo with `fw` (built from the workspace when `None`).
///
/// # Errors
/// When setup, the build, the lab or a rule fails, or when a probe's result
/// differs from its expectation. The lab is removed in every case.
pub fn run(fw: Option<PathBuf>) -> anyhow::Result<()> {
    let fw = match fw {
        Some(p) => {
            setup::run_only()?;
            std::path::absolute(&p).with_context(|| format!("{}", p.display()))?
        }
        None => {
            setup::run()?;
            cmd::build_fw(false)?
        }
    };
    println!("fw binary: {}", fw.display());
    // SAFETY: no other thread exists yet; the lab harness reads FW_BIN.
    unsafe { std::env::set_var("FW_BIN", &fw) };

    let rules_file = cmd::workspace_root().join("rules").join("demo.rules");
    let rules = read_rules(&rules_file)?;

    // The lab is the drop guard: however this function ends, its Drop runs
    // `fw reset` in the server and deletes both namespaces.
    let lab = Lab::new("demo").context("create the demo lab")?;
    println!(
        "lab: client {} ({CLIENT_ADDR}) <-> server {} ({SERVER_ADDR})",
        lab.client(),
        lab.server()
    );
    let result = demo(&lab, &rules, &rules_file);
    // `reset` is fw's own; iptables' rules go with the namespace.
    let is_fw = fw.file_name().is_some_and(|n| n == "fw");
    let reset = is_fw.then(|| fw_in(lab.server(), &["reset"]));
    let (client, server) = (lab.client().to_owned(), lab.server().to_owned());
    drop(lab);
    match reset {
        Some(Ok(out)) if out.status.success() => println!("fw reset in {server}: ok"),
        Some(Ok(out)) => println!("fw reset in {server}: failed: {}", stderr(&out)),
        Some(Err(e)) => println!("fw reset in {server}: {e:#}"),
        None => {}
    }
    println!("lab removed: {client} {server}");
    result
}

/// Applies the rules, probes, and prints the listing. Returns an error
/// when a probe's result is not the expected one.
fn demo(lab: &Lab, rules: &[Vec<String>], rules_file: &Path) -> anyhow::Result<()> {
    println!("applying {} in {}:", rules_file.display(), lab.server());
    for rule in rules {
        let args: Vec<&str> = rule.iter().map(String::as_str).collect();
        let out = fw_in(lab.server(), &args)?;
        println!("  fw {}", args.join(" "));
        if !out.status.success() {
            bail!(
                "`fw {}` failed ({}): {}",
                args.join(" "),
                out.status,
                stderr(&out)
            );
        }
    }

    // Listeners on every probed TCP port, the dropped ones too: then a
    // failed connect can only be the firewall, never a closed port.
    let _listeners: Vec<TcpServer> = PROBES
        .iter()
        .filter_map(|(p, _)| match p {
            Probe::Tcp(port) => Some(*port),
            _ => None,
        })
        .map(|port| tcp_listen(lab.server(), port))
        .collect::<anyhow::Result<_>>()?;

    println!("probes from {CLIENT_ADDR} to {SERVER_ADDR} (timeout {DEMO_TIMEOUT:?}):");
    let mut wrong = 0;
    for (probe, expected) in PROBES {
        let (what, got) = match probe {
            Probe::Tcp(port) => (
                format!("tcp  {port}"),
                tcp_probe(lab.client(), SERVER_ADDR, port, DEMO_TIMEOUT),
            ),
            Probe::Udp(port) => (
                format!("udp  {port}"),
                udp_probe(lab.client(), lab.server(), SERVER_ADDR, port, DEMO_TIMEOUT),
            ),
            Probe::Icmp => (
                "icmp echo".to_owned(),
                icmp_probe(lab.client(), SERVER_ADDR, DEMO_TIMEOUT),
            ),
        };
        let verdict = if got == expected { "ok" } else { "WRONG" };
        wrong += usize::from(got != expected);
        println!(
            "  {what:<10} expected {:<9}  got {:<9}  {verdict}",
            word(expected),
            word(got)
        );
    }

    println!("fw -L -v -n in {}:", lab.server());
    let out = fw_in(lab.server(), &["-L", "-v", "-n"])?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        println!("(fw -L failed ({}): {})", out.status, stderr(&out));
    }

    // Which attach mechanism each interface got (TCX, or tc clsact on
    // kernels before 6.6): `cargo xtask vmtest` reads it from here.
    println!("fw status in {}:", lab.server());
    let out = fw_in(lab.server(), &["status"])?;
    print!("{}", String::from_utf8_lossy(&out.stdout));

    if wrong > 0 {
        bail!(
            "{wrong} of {} probes did not get the expected result",
            PROBES.len()
        );
    }
    println!("all {} probes as expected", PROBES.len());
    Ok(())
}

/// "delivered" or "dropped".
fn word(delivered: bool) -> &'static str {
    if delivered { "delivered" } else { "dropped" }
}

/// fw's stderr, trimmed, or a note that it said nothing.
fn stderr(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if s.is_empty() {
        "(no message)".into()
    } else {
        s
    }
}

/// Reads a rules file: one fw command line per line, arguments separated
/// by whitespace (no quoting); blank lines and lines whose first non-blank
/// character is `#` are skipped.
///
/// # Errors
/// When the file cannot be read.
fn read_rules(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    Ok(parse_rules(&text))
}

/// The lines of a rules file as argument lists (see [`read_rules`]).
fn parse_rules(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_skip_comments_and_blank_lines() {
        let text =
            "# header\n\n  -A INPUT -p tcp --dport 22 -j ACCEPT\n   # indented\n-P INPUT DROP\n";
        assert_eq!(
            parse_rules(text),
            vec![
                vec!["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"],
                vec!["-P", "INPUT", "DROP"],
            ]
        );
    }

    #[test]
    fn shipped_demo_rules_parse() {
        let rules = read_rules(&cmd::workspace_root().join("rules/demo.rules")).unwrap();
        assert!(rules.iter().any(|r| r == &["-P", "INPUT", "DROP"]));
    }
}
