//! `cargo xtask setup`: everything building and testing fw needs on a fresh
//! Debian 12 machine that has only rustup and cargo. Each step checks first
//! and prints one line; a second run installs nothing.

use std::{path::Path, process::Command};

use anyhow::{Context as _, bail};

use crate::cmd::{self, probe};

/// The toolchain `rust-toolchain.toml` pins; aya-build also builds the eBPF
/// object with it.
const TOOLCHAIN: &str = "1.98.0";
/// Components of [`TOOLCHAIN`]: rust-src for `-Z build-std=core` (the BPF
/// target ships no std), clippy and rustfmt for CI.
const COMPONENTS: [&str; 3] = ["rust-src", "clippy", "rustfmt"];
/// Debian packages: LLVM 22 for bpf-linker, `ip` for the test lab,
/// iptables/nft to compare fw with the kernel's own firewalls.
/// ipset: the oracle tests of `-m set` need its kernel sets.
const APT_PACKAGES: [&str; 7] = [
    "llvm-22-dev",
    "iproute2",
    "iptables",
    "nftables",
    "ipset",
    // conntrack -F between `cargo xtask difftest`'s cases.
    "conntrack",
    // The TrueType font `fw report --plot` and the benchmark's plot draw text with.
    "fonts-dejavu-core",
];
/// Where Debian's llvm-22 puts `llvm-config`, which bpf-linker's build needs.
const LLVM_BIN: &str = "/usr/lib/llvm-22/bin";
/// The bpf-linker series aya-build 0.2 works with.
const BPF_LINKER_SERIES: &str = "0.13.";
/// Where fw pins its maps and links.
const BPFFS: &str = "/sys/fs/bpf";

/// Runs every step in order.
///
/// # Errors
/// When not root, or when a step's install fails.
pub fn run() -> anyhow::Result<()> {
    root()?;
    apt_packages()?;
    toolchain()?;
    bpf_linker()?;
    bpffs()?;
    bpffs_bind()?;
    Ok(())
}

/// The steps running a built fw needs, not building one: the packages
/// and bpffs (no toolchain, no bpf-linker), for `cargo xtask demo --fw`.
///
/// # Errors
/// As [`run`].
pub fn run_only() -> anyhow::Result<()> {
    root()?;
    apt_packages()?;
    bpffs()?;
    bpffs_bind()?;
    Ok(())
}

fn root() -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "cargo xtask must run as root: it installs packages, mounts bpffs and \
             creates network namespaces (try `sudo -E cargo xtask …`)"
        );
    }
    Ok(())
}

/// Prints one step's result line.
fn report(step: &str, what: &str) {
    println!("setup: {step:<10} {what}");
}

/// Installs the missing [`APT_PACKAGES`]; `apt-get update` only when
/// something is missing.
fn apt_packages() -> anyhow::Result<()> {
    let missing = cmd::missing_packages(&APT_PACKAGES);
    if missing.is_empty() {
        report(
            "apt",
            &format!("already present: {}", APT_PACKAGES.join(" ")),
        );
        return Ok(());
    }
    cmd::run(Command::new("apt-get").arg("update"))?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    report("apt", &format!("installed: {}", missing.join(" ")));
    Ok(())
}

/// Installs [`TOOLCHAIN`] with [`COMPONENTS`], or just the missing
/// components.
fn toolchain() -> anyhow::Result<()> {
    let has_toolchain =
        probe(Command::new("rustup").args(["run", TOOLCHAIN, "rustc", "--version"])).is_some();
    if !has_toolchain {
        if probe(Command::new("rustup").arg("--version")).is_none() {
            bail!("rustup not found: install it first (https://rustup.rs)");
        }
        cmd::run(Command::new("rustup").args([
            "toolchain",
            "install",
            TOOLCHAIN,
            "--profile",
            "minimal",
            "-c",
            &COMPONENTS.join(","),
        ]))?;
        report(
            "toolchain",
            &format!("installed: {TOOLCHAIN} with {}", COMPONENTS.join(",")),
        );
        return Ok(());
    }
    let installed = probe(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        TOOLCHAIN,
        "--installed",
    ]))
    .context("rustup component list failed")?;
    // Lines are "rust-src" or "clippy-x86_64-unknown-linux-gnu".
    let missing: Vec<&str> = COMPONENTS
        .into_iter()
        .filter(|c| {
            !installed
                .lines()
                .any(|l| l == *c || l.starts_with(&format!("{c}-")))
        })
        .collect();
    if missing.is_empty() {
        report(
            "toolchain",
            &format!("already present: {TOOLCHAIN} with {}", COMPONENTS.join(",")),
        );
        return Ok(());
    }
    cmd::run(
        Command::new("rustup")
            .args(["component", "add", "--toolchain", TOOLCHAIN])
            .args(&missing),
    )?;
    report(
        "toolchain",
        &format!("installed: {TOOLCHAIN} components {}", missing.join(",")),
    );
    Ok(())
}

/// The version line of the `bpf-linker` on PATH, if any.
fn bpf_linker_version() -> Option<String> {
    probe(Command::new("bpf-linker").arg("--version")).map(|s| s.trim().to_owned())
}

/// Installs bpf-linker 0.13 linked against Debian's LLVM 22, unless a 0.13.x
/// is already on PATH.
fn bpf_linker() -> anyhow::Result<()> {
    let is_wanted = |v: &str| {
        v.strip_prefix("bpf-linker ")
            .is_some_and(|ver| ver.starts_with(BPF_LINKER_SERIES))
    };
    if let Some(v) = bpf_linker_version().filter(|v| is_wanted(v)) {
        report("bpf-linker", &format!("already present: {v}"));
        return Ok(());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![LLVM_BIN.into()];
    dirs.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(dirs).context("PATH")?;
    // --force: our check already decided a (re)install is needed, whatever
    // cargo's own install records say.
    cmd::run(
        cmd::cargo()
            .args([
                "install",
                "bpf-linker",
                "--version",
                "^0.13",
                "--no-default-features",
                "--features",
                "llvm-22",
                "--force",
            ])
            .env("PATH", path),
    )?;
    match bpf_linker_version() {
        Some(v) if is_wanted(&v) => {
            report("bpf-linker", &format!("installed: {v}"));
            Ok(())
        }
        Some(v) => bail!("installed bpf-linker 0.13, but PATH finds {v} first"),
        None => bail!(
            "installed bpf-linker, but it is not on PATH: add cargo's bin directory \
             (usually ~/.cargo/bin) to PATH"
        ),
    }
}

/// Whether a bpf filesystem is mounted at [`BPFFS`].
/// A second mount of the host's bpffs outside /sys, where fw finds its
/// pins when run under `ip netns exec` (which remounts /sys). Not inside
/// /run/fw, which fw and people delete recursively.
const RUN_BPFFS: &str = "/run/fw-bpffs";

fn bpffs_mounted_at(path: &str) -> anyhow::Result<bool> {
    let mounts = std::fs::read_to_string("/proc/mounts").context("read /proc/mounts")?;
    Ok(mounts.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 2 && f[1] == path && f[2] == "bpf"
    }))
}

fn bpffs_mounted() -> anyhow::Result<bool> {
    bpffs_mounted_at(BPFFS)
}

/// Mounts bpffs at [`BPFFS`] unless it is mounted.
fn bpffs() -> anyhow::Result<()> {
    if bpffs_mounted()? {
        report("bpffs", &format!("already present: {BPFFS}"));
        return Ok(());
    }
    if !Path::new(BPFFS).is_dir() {
        bail!("{BPFFS} does not exist (is sysfs mounted?)");
    }
    cmd::run(Command::new("mount").args(["-t", "bpf", "bpf", BPFFS]))?;
    report("bpffs", &format!("installed: mounted at {BPFFS}"));
    Ok(())
}

/// Binds the host's bpffs at [`RUN_BPFFS`] unless it is there (fw does the
/// same itself whenever it runs outside `ip netns exec`).
fn bpffs_bind() -> anyhow::Result<()> {
    if bpffs_mounted_at(RUN_BPFFS)? {
        report("bpffs bind", &format!("already present: {RUN_BPFFS}"));
        return Ok(());
    }
    std::fs::create_dir_all(RUN_BPFFS).with_context(|| format!("create {RUN_BPFFS}"))?;
    cmd::run(Command::new("mount").args(["--bind", BPFFS, RUN_BPFFS]))?;
    report(
        "bpffs bind",
        &format!("installed: {BPFFS} bound at {RUN_BPFFS}"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pin lives in rust-toolchain.toml; this file and the README's
    /// quick start repeat it, so they must agree with it.
    #[test]
    fn toolchain_agrees_with_rust_toolchain_toml_and_the_readme() {
        let root = cmd::workspace_root();
        let toml = std::fs::read_to_string(root.join("rust-toolchain.toml")).unwrap();
        assert!(
            toml.contains(&format!("channel = \"{TOOLCHAIN}\"")),
            "{toml}"
        );
        let components = COMPONENTS.map(|c| format!("\"{c}\"")).join(", ");
        assert!(
            toml.contains(&format!("components = [{components}]")),
            "{toml}"
        );
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let line = format!(
            "`rustup toolchain install {TOOLCHAIN} --profile minimal -c {}`",
            COMPONENTS.join(",")
        );
        assert!(readme.contains(&line), "README.md lacks {line:?}");
        assert!(readme.contains("rustup toolchain install    #"));
    }
}
