//! Real iptables-legacy 1.8.9 in a throwaway network namespace, for the
//! oracle tests: the host's own tables are never touched.

#![allow(dead_code)]

use std::{
    path::Path,
    process::{Command, Stdio},
};

/// The iptables-legacy binary the oracle runs.
pub const IPTABLES: &str = "/usr/sbin/iptables-legacy";

/// The ip6tables-legacy binary the IPv6 oracle runs.
pub const IP6TABLES: &str = "/usr/sbin/ip6tables-legacy";

/// Panics (loudly, with what to do) when iptables-legacy is missing.
pub fn require_iptables() {
    assert!(
        Path::new(IPTABLES).exists(),
        "{IPTABLES} not found: the oracle tests compare fw with real iptables-legacy \
         (`cargo xtask setup` installs the iptables package)"
    );
}

/// Whether the ipset tool is there (to create the sets `-m set` names).
pub fn have_ipset() -> bool {
    Command::new("ipset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The oracle's namespaces (`Netns::new("oracle-…")`): iptables runs in
/// one of its own.
pub use integration_tests::Netns;

/// The text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Loads the iptables-restore file at `path` into iptables-legacy in
/// namespace `ns`.
///
/// # Panics
/// When iptables-legacy-restore refuses it.
pub fn legacy_restore(ns: &str, path: &str) {
    let load = integration_tests::sh_in(ns, &format!("{IPTABLES}-restore < {path}"), &[], None);
    assert_eq!(load.status.code(), Some(0), "{}", text(&load.stderr));
}
