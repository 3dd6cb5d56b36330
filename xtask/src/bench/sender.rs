//! The traffic source: trafgen(8) from Debian's netsniff-ng in the lab's
//! client namespace, one process pinned to CPU 0, sending through a
//! `PACKET_TX_RING` straight to the veth driver (no qdisc).
//!
//! On a veth pair the receiver's work runs in the softirq the sender's
//! transmit raises, on the sender's CPU: the rate measured is that of one
//! CPU doing both, so a cheaper receive path shows as a higher rate.

use std::{
    io::Read as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};
use integration_tests::{CLIENT_IF, SERVER_IF};

use super::{
    rules::{Family, Flows},
    runner,
};

/// A running trafgen; dropping it stops it.
pub struct Sender {
    child: Option<Child>,
}

/// The MAC address of `dev` in namespace `ns` (`ip -brief link`: name,
/// state, address). Not /sys/class/net: sysfs shows the namespace of
/// whoever mounted it, whatever the reading thread's.
fn mac(ns: &str, dev: &str) -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(["-n", ns, "-brief", "link", "show", "dev", dev])
        .stdin(Stdio::null())
        .output()
        .context("cannot run ip")?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)
        .filter(|m| m.len() == 17 && out.status.success())
        .map(str::to_owned)
        .with_context(|| format!("no MAC address for {dev} in {ns}"))
}

/// Writes the trafgen configuration of `flows` of family `f` for a lab
/// into `dir` and returns its path.
///
/// # Errors
/// When the MAC addresses cannot be read or the file written.
pub fn config(
    dir: &Path,
    client: &str,
    server: &str,
    f: Family,
    flows: Flows,
) -> anyhow::Result<PathBuf> {
    let text = flows.trafgen_config(f, &mac(client, CLIENT_IF)?, &mac(server, SERVER_IF)?);
    let path = dir.join(format!(
        "trafgen-{client}-{}-{}.cfg",
        f.name(),
        flows.name()
    ));
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

impl Sender {
    /// Starts trafgen in `client` with configuration `cfg`.
    ///
    /// # Errors
    /// When it cannot be started.
    pub fn start(client: &str, cfg: &Path) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt as _;
        let child = Command::new("ip")
            .args([
                "netns", "exec", client, "trafgen", "--dev", CLIENT_IF, "--conf",
            ])
            .arg(cfg)
            // One process (on CPU 0); leave the host's socket memory
            // sysctls and IRQ affinities alone.
            .args(["--cpus", "1", "--no-sock-mem", "--notouch-irq"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: trafgen forks a worker per CPU and
            // expects SIGINT to reach them all, as Ctrl-C does.
            .process_group(0)
            .spawn()
            .context("cannot start trafgen")?;
        Ok(Self { child: Some(child) })
    }

    /// Whether trafgen is still running.
    ///
    /// # Errors
    /// When its status cannot be read.
    pub fn running(&mut self) -> anyhow::Result<bool> {
        match &mut self.child {
            Some(c) => Ok(c.try_wait()?.is_none()),
            None => Ok(false),
        }
    }

    /// Stops trafgen (SIGINT, as its manual says).
    pub fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            interrupt(&mut c);
            let _ = c.wait();
        }
    }

    /// trafgen's error output, for a report when it stopped on its own.
    pub fn stderr(&mut self) -> String {
        let mut err = String::new();
        if let Some(c) = &mut self.child
            && let Some(s) = &mut c.stderr
        {
            let _ = s.read_to_string(&mut err);
        }
        err.trim().to_owned()
    }
}

/// SIGINT to trafgen's process group, then SIGKILL if it has not exited
/// within 2 s.
fn interrupt(child: &mut Child) {
    let group = -(child.id() as libc::pid_t);
    // SAFETY: kill(2) of the group our own, not yet reaped, child leads.
    unsafe { libc::kill(group, libc::SIGINT) };
    for _ in 0..200 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: as above.
    unsafe { libc::kill(group, libc::SIGKILL) };
}

impl Drop for Sender {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            interrupt(&mut c);
            let _ = c.wait();
        }
    }
}

/// One rate measurement: the median of `windows` windows of `window`
/// each after `warmup`, counted by `count` (a monotonic counter of
/// packets handled at the receiver).
#[derive(Clone, Debug)]
pub struct Rate {
    /// Median over the windows, in packets per second.
    pub pps: f64,
    /// Each window's rate, in packets per second.
    pub windows: Vec<f64>,
}

/// Measures the rate at which the lab's receiver handles the probe
/// traffic; `count` reads the receiver's counter.
///
/// trafgen is restarted (at most twice per window) when it stops on its
/// own, which it does when the veth's ring stays full for too long.
///
/// # Errors
/// When trafgen cannot run, the counter cannot be read, or the counter
/// does not move at all (the ruleset does not drop the probe).
pub fn measure(
    client: &str,
    cfg: &Path,
    warmup: Duration,
    window: Duration,
    windows: usize,
    mut count: impl FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<Rate> {
    // A sample's time is the middle of the counter read.
    let mut sample = || -> anyhow::Result<(u64, std::time::Instant)> {
        let t0 = std::time::Instant::now();
        let c = count()?;
        Ok((c, t0 + t0.elapsed() / 2))
    };
    let mut sender = Sender::start(client, cfg)?;
    runner::sleep(warmup)?;
    let first = sample()?;
    let mut prev = first;
    let mut rates = Vec::new();
    let mut restarts = 0;
    while rates.len() < windows {
        runner::sleep(window)?;
        let now = sample()?;
        if !sender.running()? {
            let err = sender.stderr();
            restarts += 1;
            if restarts > 2 * windows {
                bail!("trafgen keeps stopping: {err}");
            }
            eprintln!("  (trafgen stopped: {err}; window repeated)");
            sender = Sender::start(client, cfg)?;
            runner::sleep(warmup)?;
            prev = sample()?;
            continue;
        }
        let secs = (now.1 - prev.1).as_secs_f64();
        rates.push(now.0.saturating_sub(prev.0) as f64 / secs);
        prev = now;
    }
    sender.stop();
    if prev.0 == first.0 {
        bail!("the receiver counted no packet: the probe traffic did not reach the DROP rule");
    }
    Ok(Rate::of(rates))
}

impl Rate {
    /// The rate of these windows: their median.
    pub fn of(windows: Vec<f64>) -> Self {
        let mut sorted = windows.clone();
        sorted.sort_by(f64::total_cmp);
        Self {
            pps: sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
            windows,
        }
    }
}
