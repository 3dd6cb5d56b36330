//! fw's developer tasks, run as `cargo xtask <task>` (the alias lives in
//! `.cargo/config.toml`):
//!
//! * `setup`: installs what building and testing need on a fresh Debian 12
//!   machine (idempotent; root).
//! * `demo`: applies `rules/demo.rules` in a two-namespace lab and shows
//!   which probes get through.
//! * `test`: setup, build fw, and run the whole workspace's tests against it.
//! * `bench`: fw against iptables and nftables (docs/benchmarks.md).
//! * `install`: the fw binary, fw.service and an example /etc/fw/rules.yaml.
//! * `fuzz`: the cargo-fuzz targets of `fuzz/`, each for a while.
//! * `difftest`: random rulesets and frames under iptables-legacy and fw.
//! * `vmtest`: the kernel-facing tests on Debian 12's kernels in qemu.

mod bench;
mod cmd;
mod demo;
mod difftest;
mod fuzz;
mod image;
mod install;
mod setup;
mod vmtest;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// fw developer tasks. All of them need root.
#[derive(Debug, Parser)]
#[command(name = "xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install build and test prerequisites (apt packages, the pinned Rust
    /// toolchain, bpf-linker, bpffs). Idempotent.
    Setup,
    /// Run setup, build fw, apply rules/demo.rules in a namespace lab and
    /// probe it with real packets.
    Demo {
        /// Use this binary instead of building fw (e.g. target/release/fw,
        /// or /usr/sbin/iptables to compare with netfilter).
        #[arg(long, value_name = "PATH")]
        fw: Option<std::path::PathBuf>,
    },
    /// Run setup, build fw, then `cargo test --workspace` (less the BPF-only
    /// crate) with FW_BIN set.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run setup, then measure fw against iptables-legacy, iptables-nft and
    /// nftables (packet rate, per-packet cost, control plane, memory) and
    /// write docs/benchmarks.md. Takes about 10 minutes; --quick about one.
    Bench(bench::Args),
    /// Build fw (release) and install it with fw.service, its fallback
    /// ruleset and an example /etc/fw/rules.yaml (never overwritten).
    Install {
        /// Installation prefix: PREFIX/sbin/fw, PREFIX/lib/systemd/system,
        /// PREFIX/share/fw (rules.yaml under /etc for /usr and /usr/local,
        /// else PREFIX/etc).
        #[arg(long, value_name = "PATH")]
        prefix: Option<std::path::PathBuf>,
    },
    /// Run the cargo-fuzz targets of fuzz/ (rule, restore, yaml, compile)
    /// in turn from a seed corpus, installing cargo-fuzz if missing, and
    /// print each one's exec/s, coverage and crashes (docs/fuzzing.md).
    /// Fails naming the artifact of any crash. Needs no root.
    Fuzz(fuzz::Args),
    /// Build the container image of deploy/Containerfile offline: fw
    /// statically linked, FROM scratch, with podman or buildah; --check
    /// runs it in a throwaway network namespace (deploy/README.md).
    Image(image::Args),
    /// Random rulesets and frames through iptables-legacy and fw in twin
    /// namespace labs; compares arrivals and rule counters, shrinks and
    /// writes a mismatch to tests/difftest/ (docs/difftest.md).
    Difftest(difftest::Args),
    /// Boot Debian 12's kernels (6.1, the 6.12 backport) in qemu with
    /// virtme-ng and run fw's kernel-facing test binaries inside
    /// (docs/vmtest.md). Installs qemu, virtme-ng and the kernel packages
    /// if missing. Minutes per kernel (no KVM).
    Vmtest(vmtest::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Setup => setup::run(),
        Task::Demo { fw } => demo::run(fw),
        Task::Test { args } => test(&args),
        Task::Bench(args) => bench::run(&args),
        Task::Install { prefix } => install::run(prefix),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Image(args) => image::run(&args),
        Task::Difftest(args) => difftest::run(&args),
        Task::Vmtest(args) => vmtest::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask test`: setup, build fw, run every test of the workspace
/// with `FW_BIN` pointing at the fresh binary.
fn test(extra: &[String]) -> anyhow::Result<()> {
    setup::run()?;
    let fw = cmd::build_fw(false)?;
    let mut test = cmd::cargo();
    // firewall-ebpf is a no_main BPF binary: it cannot link for the host
    // (firewall's build.rs builds it for the BPF target instead).
    // --no-fail-fast: one failing test binary should not hide the others.
    test.args([
        "test",
        "--workspace",
        "--exclude",
        "firewall-ebpf",
        "--no-fail-fast",
    ])
    .args(extra)
    .env("FW_BIN", &fw);
    cmd::run(&mut test)
}
