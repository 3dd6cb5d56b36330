//! What the benchmark ran on, for the report.

use std::process::Command;

use crate::cmd::{probe, workspace_root};

/// The machine and the versions of everything measured.
#[derive(Clone, Debug)]
pub struct Machine {
    /// `model name` of /proc/cpuinfo.
    pub cpu: String,
    /// Online CPUs.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// Memory, in GiB.
    pub memory_gib: f64,
    /// (tool, version line) of iptables, nft, trafgen and fw.
    pub tools: Vec<(String, String)>,
    /// The workspace's commit, with a note when the tree has changes.
    pub commit: String,
    /// When the run started (UTC).
    pub date: String,
}

fn first_line(s: Option<String>) -> String {
    s.and_then(|s| s.lines().next().map(|l| l.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into())
}

/// Describes this machine; `fw` is the binary measured.
pub fn describe(fw: &std::path::Path) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let tool = |name: &str, args: &[&str]| {
        (
            name.to_owned(),
            first_line(probe(Command::new(name).args(args))),
        )
    };
    let git = |args: &[&str]| probe(Command::new("git").current_dir(workspace_root()).args(args));
    let mut commit = first_line(git(&["rev-parse", "--short", "HEAD"]));
    if git(&["status", "--porcelain"]).is_some_and(|s| !s.trim().is_empty()) {
        commit.push_str(" + uncommitted changes");
    }
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: first_line(std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()),
        memory_gib: mem_kb / 1024.0 / 1024.0,
        tools: vec![
            tool("iptables-legacy", &["-V"]),
            tool("iptables-nft", &["-V"]),
            tool("nft", &["-v"]),
            // trafgen -v prints its version and exits 1.
            (
                "trafgen".into(),
                first_line(
                    Command::new("trafgen")
                        .arg("-v")
                        .output()
                        .ok()
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned()),
                ),
            ),
            ("fw".into(), first_line(probe(Command::new(fw).arg("-V")))),
        ],
        commit,
        date: first_line(probe(
            Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]),
        )),
    }
}
