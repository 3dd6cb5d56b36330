//! Real iptables-legacy 1.8.9 in a throwaway network namespace, for the
//! oracle tests: the host's own tables are never touched.

#![allow(dead_code)]

use std::{
    path::Path,
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

/// The iptables-legacy binary the oracle runs.
pub const IPTABLES: &str = "/usr/sbin/iptables-legacy";

static COUNTER: AtomicU32 = AtomicU32::new(0);

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

/// A network namespace of its own, deleted on drop.
pub struct Netns {
    /// Its name under /run/netns.
    pub name: String,
}

impl Netns {
    /// Creates `fw-oracle-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("fw-oracle-{tag}-{}-{n}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip netns add (needs root and iproute2)");
        assert!(st.success(), "ip netns add {name} failed");
        Self { name }
    }

    /// Runs `sh -c script` inside, with `args` as `$1...`, `stdin` as input.
    pub fn sh(&self, script: &str, args: &[String], stdin: Option<&str>) -> Output {
        use std::io::Write as _;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script, "sh"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
        drop(input);
        child.wait_with_output().expect("wait")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
