//! The benchmark's course: for each rule count, each peer in a fresh lab
//! (so no table, hook or program of one peer can tax another), then the
//! report.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use integration_tests::Lab;

use super::{
    Args, Families, bpf, machine, memory,
    peers::{self, Env, Peer},
    report::{ControlRow, Op, RateRow, Results},
    rules::{self, Family, Flows},
    sender, testrun,
};
use crate::cmd::{self, probe};

/// Set by SIGINT or SIGTERM: every wait checks it, and the lab guards
/// clean up on the way out.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Fails once Ctrl-C (or SIGTERM) arrived.
///
/// # Errors
/// "interrupted".
pub fn check_stop() -> anyhow::Result<()> {
    if STOP.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps for `d`, checking for Ctrl-C every 50 ms.
///
/// # Errors
/// "interrupted".
pub fn sleep(d: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + d;
    loop {
        check_stop()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// How long and how often to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The families measured, in [`Family::ALL`] order.
    pub families: Vec<Family>,
    /// IPv4 rule counts, ascending.
    pub ns: Vec<u32>,
    /// IPv6 rule counts, ascending: fewer by default, the IPv6 rows being
    /// the 1,024-flow rates only.
    pub ns6: Vec<u32>,
    /// Whether this is a `--quick` run.
    pub quick: bool,
    /// Traffic before the first window, to reach a steady state.
    pub warmup: Duration,
    /// Length of one rate window.
    pub window: Duration,
    /// Windows per rate (the median is reported).
    pub windows: usize,
    /// Repetitions of each control-plane operation (the median is
    /// reported).
    pub reps: usize,
    /// `BPF_PROG_TEST_RUN` runs per program and frame (median).
    pub runs: usize,
    /// Single-repetition test runs on new flows, for the cache-miss cost.
    pub misses: usize,
    /// Longest wait for the memory counters to settle.
    pub settle: Duration,
}

impl Plan {
    fn new(args: &Args) -> Self {
        let quick = args.quick;
        let families = match args.family {
            Families::Ipv4 => vec![Family::V4],
            Families::Ipv6 => vec![Family::V6],
            Families::Both => Family::ALL.to_vec(),
        };
        let counts = |f: Family| {
            let default: &[u32] = match (quick, f) {
                (true, _) => &[1, 5_000, 10_000],
                (false, Family::V4) => &[0, 1, 100, 1_000, 5_000, 10_000, 50_000],
                (false, Family::V6) => &[1, 100, 1_000, 5_000, 10_000],
            };
            let mut ns = args.rules.clone().unwrap_or_else(|| default.to_vec());
            ns.sort_unstable();
            ns.dedup();
            if !families.contains(&f) {
                ns.clear();
            }
            ns
        };
        let (ns, ns6) = (counts(Family::V4), counts(Family::V6));
        if quick {
            Self {
                families,
                ns,
                ns6,
                quick,
                warmup: Duration::from_millis(200),
                window: Duration::from_millis(500),
                windows: 2,
                reps: 1,
                runs: 1,
                misses: 5_000,
                settle: Duration::from_millis(500),
            }
        } else {
            Self {
                families,
                ns,
                ns6,
                quick,
                warmup: Duration::from_secs(1),
                window: Duration::from_secs(2),
                windows: 3,
                reps: 3,
                runs: 3,
                misses: 20_000,
                settle: Duration::from_secs(3),
            }
        }
    }

    /// The rule counts of family `f` (empty when it is not measured).
    pub fn ns_of(&self, f: Family) -> &[u32] {
        match f {
            Family::V4 => &self.ns,
            Family::V6 => &self.ns6,
        }
    }
}

/// Removes the scratch directory however the run ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Debian packages the benchmark needs beyond `setup`'s: trafgen, and a
/// font for the plot's text.
const PACKAGES: [&str; 2] = ["netsniff-ng", "fonts-dejavu-core"];

/// Installs the missing [`PACKAGES`] (idempotent).
fn packages() -> anyhow::Result<()> {
    let missing = cmd::missing_packages(&PACKAGES);
    if missing.is_empty() {
        return Ok(());
    }
    let install = || {
        cmd::run(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        cmd::run(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    Ok(())
}

/// Runs the benchmark and writes the report.
///
/// # Errors
/// When not root, a prerequisite is missing, the output cannot be
/// written, or on Ctrl-C. A failing single measurement is reported and
/// skipped instead.
pub fn run(args: &Args) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("cargo xtask bench must run as root (namespaces, iptables, BPF)");
    }
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let plan = Plan::new(args);
    packages()?;
    let fw = cmd::build_fw(true)?;
    // SAFETY: no other thread exists yet; the lab's cleanup reads FW_BIN.
    unsafe { std::env::set_var("FW_BIN", &fw) };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| cmd::workspace_root().join("docs"));

    let scratch = Scratch(std::env::temp_dir().join(format!("fw-bench-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).context("create the scratch directory")?;
    // `fw restore` takes no --help; its usage line in `fw -h` tells.
    let fw_restore = probe(Command::new(&fw).arg("-h")).is_some_and(|h| h.contains("fw restore"));
    let env = Env {
        fw: fw.clone(),
        tmp: scratch.0.clone(),
        cpus: bpf::possible_cpus()?,
        fw_restore,
        xdp_drop: bpf::CountingDrop::new()?,
    };
    let empty = bpf::empty_xdp()?;
    write(&env.file("ipt-empty.rules"), &rules::iptables_empty())?;
    for f in Family::ALL {
        write(&env.file(&peers::nft_file(f, None)), &rules::nft(f, 0))?;
    }

    let mut results = Results::new(plan.clone(), machine::describe(&fw), fw_restore);
    println!(
        "bench: rule counts {:?} (IPv4), {:?} (IPv6), {} window(s) of {:?} per rate; \
         fw rulesets loaded with {}",
        plan.ns,
        plan.ns6,
        plan.windows,
        plan.window,
        results.fw_loader()
    );
    let started = Instant::now();
    let mut too_slow: Vec<(Family, Peer)> = Vec::new();
    for &f in &plan.families {
        for &n in plan.ns_of(f) {
            let (ipt, nft) = (peers::ipt_file(f, Some(n)), peers::nft_file(f, Some(n)));
            write(&env.file(&ipt), &rules::iptables_restore(f, n))?;
            write(&env.file(&nft), &rules::nft(f, n))?;
            for peer in Peer::ALL {
                check_stop()?;
                let label = peer.label_in(f);
                if too_slow.contains(&(f, peer)) {
                    results
                        .notes_mut(f)
                        .push(format!("{label} skipped at N = {n}: loading was too slow"));
                    continue;
                }
                print!("{} N = {n:>6}  {label:<16}", f.name());
                let _ = std::io::Write::flush(&mut std::io::stdout());
                match one(&env, &empty, &plan, f, peer, n, &mut results) {
                    Ok(slow) => {
                        if slow {
                            too_slow.push((f, peer));
                        }
                    }
                    Err(e) => {
                        println!();
                        check_stop()?;
                        println!("  FAILED: {e:#}");
                        results
                            .notes_mut(f)
                            .push(format!("{label} at N = {n} failed: {e:#}"));
                    }
                }
                // Let the kernel finish freeing the lab before the next one.
                sleep(plan.warmup)?;
            }
            remove(&env.file(&ipt));
            remove(&env.file(&nft));
        }
    }
    results.elapsed = started.elapsed();
    super::report::write(&out, &results)?;
    println!(
        "bench: done in {:.0?}; report in {}",
        results.elapsed,
        out.join("benchmarks.md").display()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// A load slower than this keeps the peer out of larger rule counts.
const TOO_SLOW: Duration = Duration::from_secs(60);

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

/// Measures `peer` with ruleset `n` of family `f` in a lab of its own;
/// returns whether loading was too slow to try larger rulesets. IPv4 gets
/// every measurement; IPv6 the rate of the 1,024 flows, one load and
/// listing, and for fw one test run on the probe's frame.
fn one(
    env: &Env,
    empty: &std::os::fd::OwnedFd,
    plan: &Plan,
    f: Family,
    peer: Peer,
    n: u32,
    results: &mut Results,
) -> anyhow::Result<bool> {
    let v4 = f == Family::V4;
    let lab = Lab::new("bench")?;
    if !v4 {
        peers::add_ipv6(&lab)?;
    }
    let prepared = peers::prepare(peer, f, env, &lab)?;
    if let Some(t) = prepared.install
        && v4
    {
        results.fw_install.push(t);
        if results.fw_xdp_mode.is_none() {
            let (_, status) = peers::run_in(lab.server(), &env.fw, &["status"], None)?;
            results.fw_xdp_mode = status
                .lines()
                .find(|l| l.starts_with(integration_tests::SERVER_IF))
                .and_then(|l| l.split_whitespace().nth(2))
                .map(str::to_owned);
        }
    }
    // IPv6 repeats nothing: its rows are the rates.
    let reps = if v4 { plan.reps } else { 1 };
    let mut slow = false;
    if peer.has_rules() {
        let before = if v4 {
            Some(memory::settle(plan.settle)?)
        } else {
            None
        };
        let first = peers::load(peer, f, env, &lab, n)?;
        if let Some(before) = &before
            && let Some(m) = peers::memory(peer, env, &lab, before)?
        {
            results.memory.push((n, peer, m));
        }
        let mut loads = vec![first];
        for _ in 1..reps {
            peers::unload(peer, f, env, &lab)?;
            loads.push(peers::load(peer, f, env, &lab, n)?);
        }
        let t = median(loads);
        slow = t > TOO_SLOW;
        results.control.push(ControlRow {
            family: f,
            n,
            peer,
            op: Op::Load,
            time: t,
        });
    }
    let traffic: &[Flows] = if v4 { &Flows::ALL } else { &[Flows::Ports] };
    for &flows in traffic {
        let rate = rate(env, plan, &lab, f, flows, plan.windows, || {
            peers::count(peer, f, env, &lab, n)
        })?;
        print!("  {:>8.0}/s", rate.pps);
        let _ = std::io::Write::flush(&mut std::io::stdout());
        results.rates.push(RateRow {
            family: f,
            n,
            peer,
            flows,
            rate,
        });
    }
    if peer.has_rules() {
        let mut lists = Vec::new();
        for r in 0..reps {
            let (t, listing) = peers::list(peer, f, env, &lab)?;
            if r == 0 {
                peers::verify(peer, &listing, n)?;
            }
            lists.push(t);
        }
        results.control.push(ControlRow {
            family: f,
            n,
            peer,
            op: Op::List,
            time: median(lists),
        });
        if peer == Peer::Fw {
            if v4 {
                for c in testrun::measure(lab.server(), n, empty, plan.runs, plan.misses)? {
                    results.costs.push((n, c));
                }
            } else {
                let c = testrun::last_rule(lab.server(), f, n, empty, plan.runs)?;
                results.costs6.push((n, c));
            }
        }
        if v4 {
            let mut adds = Vec::new();
            for _ in 0..reps {
                adds.push(peers::add(peer, env, &lab)?);
            }
            results.control.push(ControlRow {
                family: f,
                n,
                peer,
                op: Op::Add,
                time: median(adds),
            });
        }
        print!(
            "  load {:>8.1?}",
            results
                .control_time(f, n, peer, Op::Load)
                .unwrap_or_default()
        );
    }
    if peer == Peer::Fw && v4 {
        let (rate, hit) = established(env, plan, &lab, n)?;
        print!("  established {:>8.0}/s vs {:>8.0}/s", rate.pps, hit.pps);
        results.established.push((n, rate, hit));
        let cost = testrun::established(lab.server(), n, empty, plan.runs)?;
        results.established_costs.push((n, cost));
    }
    println!();
    drop(prepared);
    drop(lab);
    Ok(slow)
}

/// fw's rates on ESTABLISHED flows through the fast path and, in
/// alternate windows of the same lab and ruleset, on the same flows as
/// NEW packets (match-cache hits): (ESTABLISHED, cache hit). Alternating
/// keeps a busy machine from favouring one: the ratio is what counts.
///
/// Ruleset `n` behind [`rules::ESTABLISHED_SPEC`] is loaded. Before each
/// ESTABLISHED window the server opens the 1,024 probe flows itself
/// ([`rules::open_probe_flows`]: real packets through fw's OUTPUT hook
/// create the entries, as for any connection the server starts), so the
/// probe traffic of [`Flows::Ports`] is their replies; fw must hold an
/// entry for each, and afterwards the last rule (which takes any probe
/// packet that is not ESTABLISHED) must have counted none of the window's
/// packets. Then `fw conntrack -F` forgets them, and the same traffic is
/// NEW: the first rule does not match it, and the match cache answers
/// with the last rule, whose counter then counts.
fn established(
    env: &Env,
    plan: &Plan,
    lab: &Lab,
    n: u32,
) -> anyhow::Result<(sender::Rate, sender::Rate)> {
    if !env.fw_restore {
        bail!("the ESTABLISHED measurement loads with `fw restore`, which this fw has not");
    }
    let file = env.file(&format!("ipt-est-{n}.rules"));
    write(&file, &rules::iptables_restore_established(n))?;
    let loaded = peers::run_in(lab.server(), &env.fw, &["restore"], Some(&file));
    remove(&file);
    loaded?;
    let fw = |args: &[&str]| peers::run_in(lab.server(), &env.fw, args, None).map(|(_, out)| out);
    let counters = || peers::fw_packets(Family::V4, env, lab);
    let (mut est, mut hit) = (Vec::new(), Vec::new());
    for _ in 0..plan.windows {
        let opened = integration_tests::in_netns(lab.server(), rules::open_probe_flows)??;
        let entries: u32 = fw(&["conntrack", "-C"])?
            .trim()
            .parse()
            .context("fw conntrack -C")?;
        if entries < opened {
            bail!("fw tracks {entries} connections after the server opened {opened}");
        }
        let before = counters()?;
        let first = || counters()?.first().copied().context("no rule line");
        est.push(rate(env, plan, lab, Family::V4, Flows::Ports, 1, first)?.pps);
        let after = counters()?;
        if before.last() != after.last() {
            bail!("not every probe packet took the fast path: rule packets {before:?} → {after:?}");
        }
        fw(&["conntrack", "-F"])?;
        let last = || counters()?.last().copied().context("no rule line");
        hit.push(rate(env, plan, lab, Family::V4, Flows::Ports, 1, last)?.pps);
    }
    Ok((sender::Rate::of(est), sender::Rate::of(hit)))
}

/// The rate of the lab's receiver on traffic `flows` of family `f` over
/// `windows` windows, `count` reading its counter (after the plan's
/// warm-up).
fn rate(
    env: &Env,
    plan: &Plan,
    lab: &Lab,
    f: Family,
    flows: Flows,
    windows: usize,
    count: impl FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<sender::Rate> {
    let cfg = sender::config(&env.tmp, lab.client(), lab.server(), f, flows)?;
    sleep(plan.warmup)?;
    let rate = sender::measure(lab.client(), &cfg, plan.warmup, plan.window, windows, count);
    remove(&cfg);
    rate
}
