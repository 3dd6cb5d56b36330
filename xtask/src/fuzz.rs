//! `cargo xtask fuzz`: runs the cargo-fuzz (libFuzzer) targets of `fuzz/`
//! one after another, each for a fixed time from a seed corpus of the
//! project's own rule files and the real-world rulesets of
//! `shared/corpus`, and prints per target what libFuzzer measured
//! (executions per second, its `cov:` and `ft:` counts) and any crash.
//!
//! The targets check what unit tests and proptests cannot enumerate:
//! that no input makes the rule parser, the restore engine, the YAML
//! loader or the compiler panic, and that the compiled maps agree with
//! the reference model (docs/fuzzing.md). Not part of CI: each run is
//! minutes per target.
//!
//! The pinned toolchain is stable; cargo fuzz's `-Z` flags (sanitizers,
//! coverage instrumentation) need `RUSTC_BOOTSTRAP=1`, which only the
//! fuzz build sees. cargo fuzz passes `--target`, so build scripts are
//! not instrumented; its `RUSTFLAGS` do reach the nested cargo that
//! `firewall/build.rs` starts for the eBPF object through aya-build, but
//! aya-build sets `CARGO_ENCODED_RUSTFLAGS` there, which cargo takes
//! instead of `RUSTFLAGS`: the BPF object builds as usual.

use std::{
    collections::BTreeSet,
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context as _, bail};

use crate::cmd::{self, probe};

/// The targets of `fuzz/fuzz_targets`, in the order they run.
pub const TARGETS: [&str; 4] = ["rule", "restore", "yaml", "compile"];

/// Options of `cargo xtask fuzz`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Seconds each target runs.
    #[arg(long, default_value_t = 60, value_name = "S")]
    pub seconds: u64,
    /// Run only this target.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub target: Option<String>,
    /// libFuzzer's `-jobs`/`-workers`: parallel processes for each target
    /// (the machine has 2 cores).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub jobs: u32,
}

/// What one target's run gave.
#[derive(Debug, Default)]
struct Outcome {
    target: String,
    /// libFuzzer's `stat::number_of_executed_units`.
    execs: u64,
    /// `stat::average_exec_per_sec`.
    exec_per_sec: u64,
    /// `cov:` and `ft:` of the last status line.
    cov: u64,
    ft: u64,
    /// `corp:` of the last status line (units/size).
    corpus: String,
    /// The crash artifacts written (`Test unit written to PATH`).
    artifacts: Vec<String>,
    /// Whether libFuzzer exited non-zero.
    failed: bool,
}

/// Runs `args`' targets in turn and prints a summary line for each.
///
/// # Errors
/// When cargo-fuzz cannot be installed, a build fails, or a target
/// crashed (the error names the artifacts).
pub fn run(args: &Args) -> anyhow::Result<()> {
    cargo_fuzz()?;
    let root = cmd::workspace_root();
    let fuzz = root.join("fuzz");
    let targets: Vec<&str> = match &args.target {
        Some(t) => vec![t.as_str()],
        None => TARGETS.to_vec(),
    };
    // Build all first: a build error is not a crash.
    cmd::run(fuzz_cmd(&fuzz).args(["build", "--debug-assertions"]))?;
    let mut outcomes = Vec::new();
    for target in targets {
        let corpus = fuzz.join("corpus").join(target);
        let seeds = seed(target, &root, &corpus)?;
        println!("fuzz: {target}: {seeds} seed files in {}", corpus.display());
        outcomes.push(run_target(&fuzz, target, &corpus, args)?);
    }
    println!();
    println!(
        "{:<8} {:>6} {:>12} {:>8} {:>7} {:>8} {:>14}  crashes",
        "target", "s", "execs", "exec/s", "cov", "ft", "corpus"
    );
    for o in &outcomes {
        println!(
            "{:<8} {:>6} {:>12} {:>8} {:>7} {:>8} {:>14}  {}",
            o.target,
            args.seconds,
            o.execs,
            o.exec_per_sec,
            o.cov,
            o.ft,
            o.corpus,
            if o.artifacts.is_empty() && !o.failed {
                "none".to_string()
            } else if o.artifacts.is_empty() {
                "libFuzzer failed (see its output above)".to_string()
            } else {
                o.artifacts.join(" ")
            }
        );
    }
    let crashed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.failed || !o.artifacts.is_empty())
        .map(|o| match o.artifacts.as_slice() {
            [] => format!("{} (no artifact)", o.target),
            a => format!("{}: {}", o.target, a.join(" ")),
        })
        .collect();
    if !crashed.is_empty() {
        bail!(
            "crash found: {}; reproduce with `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -a TARGET ARTIFACT`",
            crashed.join("; ")
        );
    }
    Ok(())
}

/// `cargo fuzz` in `fuzz/`, with the pinned stable toolchain allowed its
/// `-Z` flags.
fn fuzz_cmd(fuzz: &Path) -> Command {
    let mut c = cmd::cargo();
    c.current_dir(fuzz).arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
    c
}

/// Installs cargo-fuzz unless `cargo fuzz` already runs (as setup installs
/// bpf-linker).
fn cargo_fuzz() -> anyhow::Result<()> {
    if let Some(v) = probe(cmd::cargo().args(["fuzz", "--version"])) {
        println!("fuzz: cargo-fuzz already present: {}", v.trim());
        return Ok(());
    }
    cmd::run(cmd::cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    match probe(cmd::cargo().args(["fuzz", "--version"])) {
        Some(v) => {
            println!("fuzz: cargo-fuzz installed: {}", v.trim());
            Ok(())
        }
        None => bail!(
            "installed cargo-fuzz, but `cargo fuzz` does not run: add cargo's bin \
             directory (usually ~/.cargo/bin) to PATH"
        ),
    }
}

/// Runs `target` for `args.seconds` on `corpus` (which it grows), echoing
/// libFuzzer's output, and reads its statistics.
fn run_target(fuzz: &Path, target: &str, corpus: &Path, args: &Args) -> anyhow::Result<Outcome> {
    let artifacts = fuzz.join("artifacts").join(target);
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("create {}", artifacts.display()))?;
    let mut c = fuzz_cmd(fuzz);
    c.args(["run", "--debug-assertions", target])
        .arg(corpus)
        .arg("--")
        .arg(format!("-max_total_time={}", args.seconds))
        .arg("-print_final_stats=1")
        // A unit that takes this long is a hang, reported as a crash.
        .arg("-timeout=30")
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    if args.jobs > 1 {
        c.arg(format!("-jobs={}", args.jobs))
            .arg(format!("-workers={}", args.jobs));
    }
    let shown = cmd::show(&c);
    println!("$ {shown}");
    let mut child = c
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{shown}`"))?;
    let stderr = child.stderr.take().context("libFuzzer's stderr")?;
    let mut o = Outcome {
        target: target.to_string(),
        ..Outcome::default()
    };
    for line in BufReader::new(stderr).lines() {
        let line = line.context("read libFuzzer's output")?;
        eprintln!("{line}");
        read_line(&line, &mut o);
    }
    // With -jobs, each worker writes to fuzz-N.log: read them too.
    if args.jobs > 1 {
        for n in 0..args.jobs {
            let log = fuzz.join(format!("fuzz-{n}.log"));
            if let Ok(text) = std::fs::read_to_string(&log) {
                let mut w = Outcome::default();
                text.lines().for_each(|l| read_line(l, &mut w));
                o.execs += w.execs;
                o.exec_per_sec += w.exec_per_sec;
                o.cov = o.cov.max(w.cov);
                o.ft = o.ft.max(w.ft);
                if o.corpus.is_empty() {
                    o.corpus = w.corpus;
                }
                o.artifacts.extend(w.artifacts);
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("wait for `{shown}`"))?;
    o.failed = !status.success();
    Ok(o)
}

/// The number after `key` in `line` (`cov: 1234`), if any.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Takes what `line` of libFuzzer's output says into `o`.
fn read_line(line: &str, o: &mut Outcome) {
    if line.starts_with('#') && line.contains(" cov: ") {
        o.cov = number_after(line, " cov: ").unwrap_or(o.cov);
        o.ft = number_after(line, " ft: ").unwrap_or(o.ft);
        if let Some(c) = line
            .split(" corp: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        {
            o.corpus = c.to_string();
        }
    }
    if let Some(n) = number_after(line, "stat::number_of_executed_units:") {
        o.execs = n;
    }
    if let Some(n) = number_after(line, "stat::average_exec_per_sec:") {
        o.exec_per_sec = n;
    }
    if let Some(path) = line.split("Test unit written to ").nth(1) {
        o.artifacts.push(path.trim().to_string());
    }
}

/// Writes the seed files of `target` into `corpus` (named by content, so
/// reseeding adds nothing twice) and returns how many there are.
fn seed(target: &str, root: &Path, corpus: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(corpus).with_context(|| format!("create {}", corpus.display()))?;
    let files = seed_files(root)?;
    let mut seeds = BTreeSet::new();
    for (path, text) in &files {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let markdown = ext == "md";
        match target {
            "rule" => seeds.extend(command_lines(text)),
            "restore" | "compile" if !markdown && ext != "yaml" => {
                seeds.insert(text.clone());
                if let Some(filter) = filter_table(text) {
                    seeds.insert(filter);
                }
            }
            "yaml" if ext == "yaml" => {
                seeds.insert(text.clone());
            }
            "yaml" if markdown => seeds.extend(fenced(text, "yaml")),
            _ => {}
        }
    }
    for s in &seeds {
        let name = format!("seed-{:016x}", fnv(s.as_bytes()));
        let path = corpus.join(name);
        std::fs::write(&path, s).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(seeds.len())
}

/// rules/* and docs/*.md and README.md of the workspace, and the files
/// of `shared/corpus` (`FW_CORPUS`, else beside the clone) when present.
fn seed_files(root: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let corpus = std::env::var_os("FW_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus"));
    if !corpus.is_dir() {
        println!(
            "fuzz: no corpus at {} (set FW_CORPUS): seeding from rules/ and docs/ only",
            corpus.display()
        );
    }
    let mut files = Vec::new();
    for dir in [root.join("rules"), root.join("docs"), corpus] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            // Binary files (plots) are no seeds.
            if let Ok(text) = std::fs::read_to_string(&p) {
                files.push((p, text));
            }
        }
    }
    let readme = root.join("README.md");
    let text =
        std::fs::read_to_string(&readme).with_context(|| format!("read {}", readme.display()))?;
    files.push((readme, text));
    Ok(files)
}

/// The fw/iptables command lines of `text`: lines starting with `-`
/// (rule files, iptables-save files) and what follows `iptables ` in
/// shell scripts.
fn command_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('-') {
                Some(l.to_string())
            } else {
                l.split_once("iptables ").map(|(_, rest)| rest.to_string())
            }
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// The `*filter` table of an iptables-save file, through its COMMIT, if
/// the file has one and other tables too.
fn filter_table(text: &str) -> Option<String> {
    let start = text.find("*filter\n")?;
    let rest = &text[start..];
    let end = rest.find("\nCOMMIT")? + "\nCOMMIT\n".len();
    let table = &rest[..end.min(rest.len())];
    (table.len() < text.len()).then(|| table.to_string())
}

/// The bodies of the ```` ```LANG ```` blocks of a Markdown text.
fn fenced(text: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}");
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match &mut block {
            None if line.trim() == open => block = Some(String::new()),
            None => {}
            Some(_) if line.trim() == "```" => out.extend(block.take()),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    out
}

/// FNV-1a, for seed file names.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_status_and_final_stats() {
        let mut o = Outcome::default();
        for l in [
            "#2	INITED cov: 100 ft: 120 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#65536	pulse  cov: 1234 ft: 5678 corp: 321/45Kb lim: 4096 exec/s: 2048 rss: 80Mb",
            "stat::number_of_executed_units: 123456",
            "stat::average_exec_per_sec:     2057",
            "artifact_prefix='a/'; Test unit written to a/crash-0123",
        ] {
            read_line(l, &mut o);
        }
        assert_eq!((o.cov, o.ft, o.corpus.as_str()), (1234, 5678, "321/45Kb"));
        assert_eq!((o.execs, o.exec_per_sec), (123456, 2057));
        assert_eq!(o.artifacts, ["a/crash-0123"]);
    }

    #[test]
    fn seeds_come_from_rule_files_and_markdown() {
        assert_eq!(
            command_lines("# c\n-A INPUT -j ACCEPT\n  iptables -P INPUT DROP\necho\n"),
            ["-A INPUT -j ACCEPT", "-P INPUT DROP"]
        );
        let save = "*nat\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n*raw\nCOMMIT\n";
        assert_eq!(
            filter_table(save).as_deref(),
            Some("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
        );
        assert_eq!(filter_table("*filter\nCOMMIT\n"), None);
        assert_eq!(
            fenced("x\n```yaml\na: 1\n```\n```sh\nb\n```\n", "yaml"),
            ["a: 1\n"]
        );
    }
}
