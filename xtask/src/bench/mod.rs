//! `cargo xtask bench`: fw against the kernel's own firewalls.
//!
//! Four measurements, each for rulesets of N non-matching rules followed
//! by the DROP rule the probe traffic hits (see [`rules`]):
//!
//! 1. packet rate: trafgen floods 64-byte UDP frames over a veth pair into
//!    a namespace that runs no firewall, iptables-legacy, iptables-nft,
//!    nftables with a set, or fw, and the receiver's own counter of the
//!    DROP rule gives the packets handled per second; for fw also the
//!    same flows once ESTABLISHED, behind a first rule that its fast path
//!    takes, alternating with them as NEW packets (cache hits);
//! 2. per-packet cost of fw's XDP program with `BPF_PROG_TEST_RUN`, next to
//!    an empty XDP program;
//! 3. control-plane latency: loading N rules, one `-A`, one `-L -v -x`;
//! 4. kernel memory held by the ruleset;
//! 5. for IPv6 (`fw -6`, ip6tables, `table ip6`): the packet rate of the
//!    1,024 flows, the load time and one test run of fw's program.
//!
//! The report goes to `docs/benchmarks.md`, `docs/bench-rate.png` and
//! `docs/bench/*.csv`; the methodology is explained there.
//!
//! The measuring code links fw's library, whose build needs bpf-linker, so
//! it is behind xtask's `bench` feature: plain `cargo xtask bench` runs
//! `setup`, then runs xtask again, in release mode, with that feature.

#[cfg(feature = "bench")]
mod bpf;
#[cfg(feature = "bench")]
mod machine;
#[cfg(feature = "bench")]
mod memory;
#[cfg(feature = "bench")]
mod peers;
#[cfg(feature = "bench")]
mod plot;
#[cfg(feature = "bench")]
mod report;
#[cfg(feature = "bench")]
mod rules;
#[cfg(feature = "bench")]
mod runner;
#[cfg(feature = "bench")]
mod sender;
#[cfg(feature = "bench")]
mod testrun;

use std::path::PathBuf;

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Fewer rule counts (1, 5,000, 10,000), two short windows per rate
    /// and no repetitions: about a minute per family.
    #[arg(long)]
    pub quick: bool,
    /// Rule counts to measure instead of the default lists (both
    /// families'), e.g. `0,100,5000`.
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub rules: Option<Vec<u32>>,
    /// Directory for benchmarks.md, bench-rate.png and bench/*.csv
    /// (default: the workspace's docs/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Which address families to measure; the report keeps the other's
    /// tables from its last run.
    #[arg(long, value_enum, default_value_t = Families::Both)]
    pub family: Families,
}

/// The address families of a run (`--family`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Families {
    /// IPv4 only: every measurement.
    Ipv4,
    /// IPv6 only: rates of the 1,024 flows, loads, one test run.
    Ipv6,
    /// Both.
    Both,
}

/// Runs the benchmark: in-process when built with the `bench` feature,
/// else after `setup` by running xtask again with it.
///
/// # Errors
/// When setup, a build, the lab or a measurement fails, or on Ctrl-C.
pub fn run(args: &Args) -> anyhow::Result<()> {
    #[cfg(feature = "bench")]
    {
        runner::run(args)
    }
    #[cfg(not(feature = "bench"))]
    {
        let _ = args;
        reexec()
    }
}

/// `setup`, then replaces this process with `cargo run --release
/// --features bench` of xtask and the same arguments. Release mode: the
/// benchmark times fw's release binary, and its own harness should not be
/// the slow part either.
#[cfg(not(feature = "bench"))]
fn reexec() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;

    crate::setup::run()?;
    let mut cmd = crate::cmd::cargo();
    cmd.args([
        "run",
        "--quiet",
        "--release",
        "--package",
        "xtask",
        "--features",
        "bench",
        "--",
    ])
    .args(std::env::args_os().skip(1));
    println!("$ {}", crate::cmd::show(&cmd));
    // exec: Ctrl-C then reaches the benchmark itself, which cleans up.
    let err = cmd.exec();
    Err(anyhow::Error::new(err).context("cannot run cargo"))
}
