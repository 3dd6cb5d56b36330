//! A two-namespace lab for fw's integration tests and `cargo xtask demo`.
//!
//! [`Lab::new`] creates a client and a server network namespace joined by a
//! veth pair, with documentation addresses (RFC 5737): the client is
//! [`CLIENT_ADDR`], the server [`SERVER_ADDR`], both /[`PREFIX_LEN`]. Nothing
//! on the host's own interfaces or firewall is touched: the veth ends are
//! created directly inside the namespaces.
//!
//! fw runs in the server namespace ([`Lab::fw`], [`fw_in`]); probes send real
//! packets with real sockets from threads that have entered a namespace
//! ([`tcp_probe`], [`udp_probe`], [`icmp_probe`], [`tcp_listen`]), so no
//! external tool such as ping or nc is needed.
//!
//! Everything here needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
//!
//! ```no_run
//! use integration_tests::{Lab, PROBE_TIMEOUT, SERVER_ADDR, tcp_listen, tcp_probe};
//!
//! let lab = Lab::new("doc").unwrap();
//! let _ssh = tcp_listen(lab.server(), 22).unwrap();
//! lab.fw_ok(&["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP"]);
//! assert!(!tcp_probe(lab.client(), SERVER_ADDR, 22, PROBE_TIMEOUT));
//! // Dropping `lab` runs `fw reset` in the server and deletes both namespaces.
//! ```

mod netns;
mod probe;
mod tun;

// The unit tests here use none of the dev-dependencies (fw's library, for
// the tests in tests/ that drive it).
#[cfg(test)]
use firewall as _;
use std::{
    net::{Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

pub use netns::{Netns, in_netns, sh_in, sh_ok, spawn_in_netns, unique_name};
pub use probe::{
    PROBE_TIMEOUT, Seen, TcpServer, UdpEcho, icmp_probe, icmp6_probe, internet_checksum,
    ipv6_frame, raw_sendto, raw_tcp, send_frames, tcp_backlogs, tcp_backlogs_on, tcp_connect,
    tcp_listen, tcp_probe, udp_echo, udp_echo_on, udp_probe, udp_request,
};
pub use tun::{Tun, tcp_packet, udp_packet};

/// The client's address on the lab link (RFC 5737 TEST-NET-1).
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The server's address on the lab link; fw runs on this side.
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// An address inside the lab subnet that no host owns: probes to it fail.
pub const UNUSED_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);
/// Prefix length of the lab subnet (192.0.2.0/24).
pub const PREFIX_LEN: u8 = 24;
/// The client's IPv6 address on the lab link (RFC 3849), with
/// [`Lab::new6`].
pub const CLIENT6_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The server's IPv6 address on the lab link, with [`Lab::new6`].
pub const SERVER6_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// Name of the veth end inside the client namespace.
pub const CLIENT_IF: &str = "veth-c";
/// Name of the veth end inside the server namespace (what `-i` matches there).
pub const SERVER_IF: &str = "veth-s";

/// Two network namespaces joined by a veth pair.
///
/// Dropping it runs `fw reset` in the server namespace (when the fw binary
/// exists; failures are ignored) and deletes both namespaces, which also
/// destroys the veth pair. Drop never panics.
#[derive(Debug)]
pub struct Lab {
    client: Netns,
    server: Netns,
}

impl Lab {
    /// Creates the namespaces `fw-<prefix>-<pid>-<n>-c` and `…-s`, the veth
    /// pair [`CLIENT_IF`] / [`SERVER_IF`] between them, assigns
    /// [`CLIENT_ADDR`] and [`SERVER_ADDR`], and brings the veth ends and `lo`
    /// up in both.
    ///
    /// # Errors
    /// When `prefix` is empty or has characters other than ASCII letters,
    /// digits, `-` and `_`; when not root, or when an `ip` command fails
    /// (whatever was already created is removed again).
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let base = unique_name(prefix)?;
        let lab = Lab {
            client: Netns::create(format!("{base}-c"))?,
            server: Netns::create(format!("{base}-s"))?,
        };
        // Created inside the client namespace with its peer placed straight
        // into the server's: no device ever appears on the host.
        ip(&format!(
            "-n {} link add {CLIENT_IF} type veth peer name {SERVER_IF} netns {}",
            lab.client(),
            lab.server()
        ))?;
        for (ns, dev, addr) in [
            (lab.client(), CLIENT_IF, CLIENT_ADDR),
            (lab.server(), SERVER_IF, SERVER_ADDR),
        ] {
            ip(&format!("-n {ns} addr add {addr}/{PREFIX_LEN} dev {dev}"))?;
            ip(&format!("-n {ns} link set {dev} up"))?;
            ip(&format!("-n {ns} link set lo up"))?;
        }
        Ok(lab)
    }

    /// [`Lab::new`] with [`CLIENT6_ADDR`] and [`SERVER6_ADDR`] too (/64,
    /// without duplicate address detection, so they are usable at once).
    ///
    /// # Errors
    /// As [`Lab::new`].
    pub fn new6(prefix: &str) -> anyhow::Result<Self> {
        let lab = Self::new(prefix)?;
        for (ns, dev, a) in [
            (lab.client(), CLIENT_IF, CLIENT6_ADDR),
            (lab.server(), SERVER_IF, SERVER6_ADDR),
        ] {
            ip(&format!("-n {ns} addr add {a}/64 dev {dev} nodad"))?;
        }
        Ok(lab)
    }

    /// Name of the client namespace (under /run/netns).
    pub fn client(&self) -> &str {
        self.client.name()
    }

    /// Name of the server namespace, where fw runs.
    pub fn server(&self) -> &str {
        self.server.name()
    }

    /// Runs fw with `args` in the server namespace and returns its output,
    /// whatever its exit status.
    ///
    /// # Panics
    /// When the fw binary cannot be started (see [`fw_bin`]).
    pub fn fw(&self, args: &[&str]) -> Output {
        fw_in(self.server(), args).unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Runs fw with `args` in the server namespace and returns its stdout.
    ///
    /// # Panics
    /// When fw cannot be started or exits non-zero; the message has its
    /// stderr.
    pub fn fw_ok(&self, args: &[&str]) -> String {
        let out = self.fw(args);
        assert!(
            out.status.success(),
            "fw {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs fw once per rule of `rules` (command lines split at spaces,
    /// `-A INPUT -p udp --dport 7 -j DROP`) in the server namespace.
    ///
    /// # Panics
    /// As [`Lab::fw_ok`], at the first that fails.
    pub fn fw_rules(&self, rules: &[&str]) {
        for r in rules {
            self.fw_ok(&r.split(' ').collect::<Vec<_>>());
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Then the fields delete the namespaces, and with them the veth.
        fw_reset(self.server());
    }
}

/// Sets `setting` (`net.ipv4.ip_forward=1`) with `sysctl -qw` inside
/// namespace `ns`.
///
/// # Errors
/// When sysctl cannot be run or fails (an unknown key, say).
pub fn sysctl_in(ns: &str, setting: &str) -> anyhow::Result<()> {
    let out = netns_exec(ns, "sysctl", &["-qw", setting])?;
    if !out.status.success() {
        bail!(
            "sysctl {setting} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs `fw reset` in namespace `ns` for cleanup (when the fw binary exists
/// and so does `ns`; failures are ignored): detaches fw and frees its pinned
/// state before the namespace disappears.
pub fn fw_reset(ns: &str) {
    if fw_bin().exists() && Path::new("/run/netns").join(ns).exists() {
        let mut reset = Command::new("ip");
        reset.args(["netns", "exec", ns]).arg(fw_bin()).arg("reset");
        quiet(&mut reset);
    }
}

/// How long cleanup waits for one command before killing it.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a command with no output for cleanup, where failure is acceptable;
/// kills it after [`CLEANUP_TIMEOUT`] so a hung fw cannot hang a test.
/// Returns whether it ran and succeeded.
fn quiet(cmd: &mut Command) -> bool {
    let Ok(mut child) = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Runs `ip` (iproute2) with the whitespace-separated arguments `args`,
/// e.g. `ip(&format!("-n {} addr add 198.51.100.1/24 dev {CLIENT_IF}",
/// lab.client()))`. Lab names contain no whitespace.
///
/// # Errors
/// When `ip` cannot be started or exits non-zero; the error has its stderr.
pub fn ip(args: &str) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .stdin(Stdio::null())
        .output()
        .context("cannot run `ip` (iproute2; `cargo xtask setup` installs it)")?;
    if !out.status.success() {
        bail!(
            "ip {args} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A file of the test's own in the temporary directory, holding `content`,
/// removed on drop: `fw-<pid>-<tag>` (`tag` ends in the extension, e.g.
/// `crash-new.rules`), unique per test process and tag.
#[derive(Debug)]
pub struct TempFile(PathBuf);

impl TempFile {
    /// Creates (or replaces) it.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn new(tag: &str, content: &str) -> Self {
        let p = std::env::temp_dir().join(format!("fw-{}-{tag}", std::process::id()));
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        Self(p)
    }

    /// Its path.
    ///
    /// # Panics
    /// When the temporary directory's path is not UTF-8.
    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary directory")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The fw binary the lab runs: `$FW_BIN` when set, else
/// `$CARGO_TARGET_DIR/debug/fw` when that is set, else
/// `<workspace>/target/debug/fw`.
pub fn fw_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("FW_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join("fw")
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Runs `program args…` inside namespace `ns` with `ip netns exec`, and
/// returns its output whatever its exit status.
///
/// Note: `ip netns exec` gives the command a fresh /sys, so bpffs is not
/// mounted at /sys/fs/bpf inside it.
///
/// # Errors
/// When `ip` cannot be started.
pub fn netns_exec(ns: &str, program: impl AsRef<Path>, args: &[&str]) -> anyhow::Result<Output> {
    let program = program.as_ref();
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `ip netns exec {ns} {}`", program.display()))
}

/// Runs fw ([`fw_bin`]) with `args` inside namespace `ns` and returns its
/// output, whatever its exit status.
///
/// # Errors
/// When the fw binary does not exist or `ip` cannot be started.
pub fn fw_in(ns: &str, args: &[&str]) -> anyhow::Result<Output> {
    let bin = fw_bin();
    if !bin.exists() {
        bail!(
            "fw binary {} not found: build it with `cargo build -p firewall` or set FW_BIN",
            bin.display()
        );
    }
    netns_exec(ns, &bin, args)
}

/// `(packets, bytes)` of rule `n` (1-based) in the text of
/// `fw -L CHAIN -v -n -x --line-numbers`.
///
/// # Panics
/// When the listing has no rule `n` or its counters are not numbers.
pub fn rule_counters(listing: &str, n: usize) -> (u64, u64) {
    let line = listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&n.to_string()))
        .unwrap_or_else(|| panic!("no rule {n} in:\n{listing}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    (cols[1].parse().unwrap(), cols[2].parse().unwrap())
}

/// `(packets, bytes)` of the policy in the text of `fw -L CHAIN -v -x`:
/// its header line is "Chain INPUT (policy DROP 3 packets, 180 bytes)".
///
/// # Panics
/// When the first line is not such a header.
pub fn policy_counters(listing: &str) -> (u64, u64) {
    let head = listing.lines().next().unwrap_or_default();
    let cols: Vec<&str> = head.split_whitespace().collect();
    (cols[4].parse().unwrap(), cols[6].parse().unwrap())
}

/// The real-world rulesets of `shared/corpus`: `FW_CORPUS` when set, else
/// `<workspace>/../shared/corpus`, where CI places a copy of `shared/`
/// beside the clone.
///
/// # Panics
/// When the directory has no `SOURCES.md`: the corpus tests must not pass
/// by finding nothing.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("FW_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus"));
    assert!(
        dir.join("SOURCES.md").exists(),
        "the corpus is missing: expected {} (set FW_CORPUS to the shared/corpus directory)",
        dir.display()
    );
    dir
}

/// The corpus files whose filter table fw enforces (`fw restore --table
/// filter`), in name order: the one list the corpus tests pin (fw_cli
/// takes those without other tables, which a whole restore refuses).
pub const CORPUS_LOADED: [&str; 9] = [
    "05_centos_sysconfig_iptables_webmin.rules",
    "09_docker_moby_usernet_portmap.rules",
    "10_kube_router_issue1069_docker_k8s_filter.rules",
    "12_algo_vpn_rules.v4",
    "17_openwrt_fw3_filter_excerpt.rules",
    "20_docker_user_filters_chain.rules",
    "21_debian_raspi3_rules.v4",
    "23_perfsonar_firewall.conf",
    "25_kilo_issue128_mangle_counters.rules",
];

/// The corpus's iptables-restore files for IPv4 (`.rules`, `.conf`,
/// `.v4`), sorted by name.
///
/// # Panics
/// As [`corpus_dir`]; when the directory cannot be read.
pub fn corpus_restore_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the corpus directory")
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("rules" | "conf" | "v4")
            )
        })
        .collect();
    v.sort();
    v
}
