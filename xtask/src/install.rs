//! `cargo xtask install [--prefix P]`: the fw binary, fw.service, its
//! fallback ruleset and an example /etc/fw/rules.yaml (docs/yaml.md, "Boot").
//!
//! With prefix P (default `/usr/local`): `P/sbin/fw` and `P/sbin/fw6` (a
//! link to it: fw runs ip6tables' commands by that name),
//! `P/lib/systemd/system/fw.service` and `fw-daemon.service` (systemd reads units from
//! `/usr/local/lib/systemd/system` and `/usr/lib/systemd/system`),
//! `P/share/fw/fallback.yaml`, and the example at `/etc/fw/rules.yaml`
//! (for `/usr` and `/usr/local`; under any other prefix, a staging root,
//! `P/etc/fw/rules.yaml`). An existing rules.yaml is never overwritten.
//! The unit's `/usr/local` paths are rewritten to P.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

use crate::cmd;

/// The paths the unit in the repository names.
const UNIT_BIN: &str = "/usr/local/sbin/fw";
const UNIT_SHARE: &str = "/usr/local/share/fw";
const UNIT_RULES: &str = "/etc/fw/rules.yaml";

/// Installs under `prefix` (default `/usr/local`); builds fw in release
/// mode first.
pub fn run(prefix: Option<PathBuf>) -> anyhow::Result<()> {
    let prefix = prefix.unwrap_or_else(|| PathBuf::from("/usr/local"));
    let fw = cmd::build_fw(true)?;
    let repo = cmd::workspace_root().join("rules");
    let sysconf = if prefix == Path::new("/usr") || prefix == Path::new("/usr/local") {
        PathBuf::from("/etc")
    } else {
        prefix.join("etc")
    };
    let bin = prefix.join("sbin/fw");
    let share = prefix.join("share/fw");
    let rules = sysconf.join("fw/rules.yaml");
    let unit = prefix.join("lib/systemd/system/fw.service");

    copy(&fw, &bin, 0o755)?;
    link6(&bin)?;
    copy(
        &repo.join("fallback.yaml"),
        &share.join("fallback.yaml"),
        0o644,
    )?;
    let text = fs::read_to_string(repo.join("fw.service"))?
        .replace(UNIT_BIN, &bin.display().to_string())
        .replace(UNIT_SHARE, &share.display().to_string())
        .replace(UNIT_RULES, &rules.display().to_string());
    write(&unit, &text, 0o644)?;
    let daemon = fs::read_to_string(repo.join("fw-daemon.service"))?
        .replace(UNIT_BIN, &bin.display().to_string())
        .replace(UNIT_RULES, &rules.display().to_string());
    write(&unit.with_file_name("fw-daemon.service"), &daemon, 0o644)?;
    if rules.exists() {
        println!("kept {} (it exists)", rules.display());
    } else {
        copy(&repo.join("rules.yaml"), &rules, 0o644)?;
    }
    println!(
        "installed; then: `fw apply --check {}` and `systemctl daemon-reload && systemctl enable --now fw fw-daemon`",
        rules.display()
    );
    Ok(())
}

/// `fw6` beside `bin`: a symbolic link to `fw`, made anew (through a
/// temporary name and a rename, as [`write`]).
fn link6(bin: &Path) -> anyhow::Result<()> {
    let six = bin.with_file_name("fw6");
    let tmp = bin.with_file_name("fw6.fw-install-tmp");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink("fw", &tmp)
        .with_context(|| format!("cannot link {}", tmp.display()))?;
    fs::rename(&tmp, &six).with_context(|| format!("cannot install {}", six.display()))?;
    println!("installed {} -> fw", six.display());
    Ok(())
}

fn copy(from: &Path, to: &Path, mode: u32) -> anyhow::Result<()> {
    let bytes = fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    write(to, bytes, mode)
}

/// Writes `to` through a temporary file and a rename, so a running fw or
/// a reader never sees half a file.
fn write(to: &Path, bytes: impl AsRef<[u8]>, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = to.parent().context("a path without a directory")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = to.with_extension("fw-install-tmp");
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    fs::rename(&tmp, to).with_context(|| format!("cannot install {}", to.display()))?;
    println!("installed {}", to.display());
    Ok(())
}
