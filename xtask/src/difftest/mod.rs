//! `cargo xtask difftest`: random rulesets and frames, run under real
//! iptables-legacy and under fw in twin labs, compared frame by frame and
//! rule counter by rule counter (docs/difftest.md).

mod frames;
mod lab;
mod rules;

use std::{collections::BTreeSet, path::PathBuf};

use anyhow::Context as _;
use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};

/// Options of `cargo xtask difftest`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Random cases to run.
    #[arg(long, default_value_t = 100, value_name = "N")]
    cases: u64,
    /// Seed of the generator (default: from the clock); printed first.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Run the corpus rulesets of ../shared/corpus that fw loads instead,
    /// each with N batches of generated frames.
    #[arg(long)]
    corpus: bool,
    /// Stop starting cases after this many seconds (0: no limit).
    #[arg(long, default_value_t = 0, value_name = "S")]
    seconds: u64,
    /// fw binary (default: target/debug/fw).
    #[arg(long, value_name = "PATH")]
    fw: Option<PathBuf>,
}

/// One case: a ruleset and the frames sent.
#[derive(Debug, Clone)]
struct Case {
    ruleset: String,
    frames: Vec<Vec<u8>>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    println!("difftest seed {seed}");
    if let Some(fw) = &args.fw {
        // SAFETY: set before any thread starts.
        unsafe { std::env::set_var("FW_BIN", fw) };
    }
    let labs = lab::Twin::new().context("cannot build the twin labs")?;
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let corpus = if args.corpus {
        corpus_rulesets()?
    } else {
        Vec::new()
    };
    let total = if args.corpus {
        args.cases.max(1) * corpus.len() as u64
    } else {
        args.cases
    };
    let (mut frames_sent, mut mismatches, mut refused, mut known) = (0u64, 0u64, 0u64, 0u64);
    let start = std::time::Instant::now();
    let mut ran = 0;
    for k in 0..total {
        if args.seconds > 0 && start.elapsed().as_secs() >= args.seconds {
            break;
        }
        ran += 1;
        let fixed = corpus.get((k as usize) % corpus.len().max(1)).cloned();
        let strategy = (rules::ruleset(), frames::batch()).prop_map(move |(r, f)| {
            let ruleset = fixed.clone().unwrap_or(r);
            Case {
                ruleset,
                frames: frames::build(&f),
            }
        });
        let mut tree = strategy
            .new_tree(&mut runner)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let case = tree.current();
        frames_sent += case.frames.len() as u64;
        let diff = match labs.compare(&case.ruleset, &case.frames)? {
            lab::Verdict::Agree => continue,
            lab::Verdict::Refused(why) => {
                refused += 1;
                if refused <= 3 {
                    eprintln!("case {k}: fw refused the ruleset: {why}");
                }
                continue;
            }
            lab::Verdict::Differ(d) => d,
        };
        // A case whose frames fall under a documented difference is run
        // again without them: only what remains counts as a mismatch.
        if case.frames.iter().any(|f| frames::known(f).is_some()) {
            let plain: Vec<Vec<u8>> = case
                .frames
                .iter()
                .filter(|f| frames::known(f).is_none())
                .cloned()
                .collect();
            if !matches!(
                labs.compare(&case.ruleset, &plain)?,
                lab::Verdict::Differ(_)
            ) {
                known += 1;
                if known <= 2 {
                    println!(
                        "case {k}: known difference (fragments or truncated headers):\n{diff}"
                    );
                }
                continue;
            }
        }
        mismatches += 1;
        println!("case {k}: MISMATCH\n{diff}");
        let minimal = shrink(&labs, &mut tree, case)?;
        let (text, d) = minimal;
        println!(
            "case {k} minimal (seed {seed}):\n{}\n--- frames\n{}\n{d}",
            text.ruleset,
            text.frames
                .iter()
                .map(|f| hex(f))
                .collect::<Vec<_>>()
                .join("\n")
        );
        write_regression(seed, k, &text)?;
    }
    println!(
        "difftest summary: seed {seed}, cases {ran} in {:.0?}, frames {frames_sent}, mismatches {mismatches}, known differences {known}, refused by fw {refused}",
        start.elapsed()
    );
    if mismatches > 0 {
        anyhow::bail!("{mismatches} mismatches");
    }
    Ok(())
}

/// proptest's shrinking, each step checked in the labs: keeps a simpler
/// case while it still differs.
fn shrink(
    labs: &lab::Twin,
    tree: &mut impl ValueTree<Value = Case>,
    first: Case,
) -> anyhow::Result<(Case, String)> {
    let mut best = first;
    let mut best_diff = String::new();
    let mut steps = 0;
    if !tree.simplify() {
        return Ok((best, best_diff));
    }
    loop {
        steps += 1;
        if steps > 200 {
            break;
        }
        let mut c = tree.current();
        // Documented differences do not make a case minimal.
        c.frames.retain(|f| frames::known(f).is_none());
        let still = match labs.compare(&c.ruleset, &c.frames)? {
            lab::Verdict::Differ(d) => Some(d),
            _ => None,
        };
        let more = if let Some(d) = still {
            best = c;
            best_diff = d;
            tree.simplify()
        } else {
            tree.complicate()
        };
        if !more {
            break;
        }
    }
    Ok((best, best_diff))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A mismatch as a regression case: tests/difftest/seed-S-case-K.case.
fn write_regression(seed: u64, k: u64, case: &Case) -> anyhow::Result<()> {
    let dir = integration_tests::workspace_root().join("tests/difftest");
    std::fs::create_dir_all(&dir)?;
    let body = format!(
        "# difftest seed {seed} case {k}\n{}--- frames\n{}\n",
        case.ruleset,
        case.frames
            .iter()
            .map(|f| hex(f))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let path = dir.join(format!("seed-{seed}-case-{k}.case"));
    std::fs::write(&path, body).with_context(|| path.display().to_string())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The `*filter` sections of the corpus files fw loads.
fn corpus_rulesets() -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for name in integration_tests::CORPUS_LOADED {
        let text = std::fs::read_to_string(integration_tests::corpus_dir().join(name))?;
        let mut sec = String::new();
        let mut inside = false;
        let mut seen = BTreeSet::new();
        for l in text.lines() {
            inside |= l.trim_end() == "*filter";
            if inside {
                seen.insert(());
                sec.push_str(l);
                sec.push('\n');
                if l.trim_end() == "COMMIT" {
                    break;
                }
            }
        }
        out.push(sec);
    }
    Ok(out)
}
