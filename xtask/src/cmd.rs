//! Running commands and cargo, and finding the workspace.

use std::{
    ffi::OsString,
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context as _, bail};

/// The workspace root (xtask's parent directory).
pub fn workspace_root() -> PathBuf {
    integration_tests::workspace_root()
}

/// A `cargo` command in the workspace root. Uses `$CARGO` (the cargo that
/// runs xtask) when set, so the pinned toolchain builds everything.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());
    cmd
}

/// The printable form of `cmd`, for logs and errors.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    if s.ends_with("/cargo") {
        s = "cargo".into(); // $CARGO is an absolute toolchain path
    }
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Prints `cmd` and runs it with inherited stdio.
///
/// # Errors
/// When it cannot be started or exits non-zero.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = show(cmd);
    println!("$ {shown}");
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout when it exits 0, `None` when
/// it fails or cannot be started: for "is it there?" checks.
pub fn probe(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The Debian packages of `packages` that dpkg does not report as
/// installed.
pub fn missing_packages<'a>(packages: &[&'a str]) -> Vec<&'a str> {
    packages
        .iter()
        .copied()
        .filter(|p| {
            probe(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_none_or(|s| s.trim() != "install ok installed")
        })
        .collect()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the
/// workspace when relative) or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    if target.is_relative() {
        workspace_root().join(target)
    } else {
        target
    }
}

/// `cargo build -p firewall` (with `--release` when `release`), then the
/// path of the fw binary it made (`$CARGO_TARGET_DIR` or
/// `<workspace>/target`, `debug/fw` or `release/fw`).
///
/// # Errors
/// When the build fails or leaves no binary.
pub fn build_fw(release: bool) -> anyhow::Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "-p", "firewall"]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let fw = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("fw");
    if !fw.exists() {
        bail!("the build left no fw binary at {}", fw.display());
    }
    Ok(fw)
}
