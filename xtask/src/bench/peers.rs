//! The firewalls compared ("peers") and what the benchmark does with each
//! in the lab's server namespace: load a ruleset, read the DROP rule's
//! counter, list, append, and measure memory.

use std::{
    fs::File,
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use integration_tests::{Lab, SERVER_IF, in_netns};

use super::{bpf, memory, rules};

/// One receiver configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// No firewall: the probe reaches UDP, which finds no socket.
    None,
    /// A hand-written XDP program that counts and drops every packet: the
    /// ceiling of any XDP firewall in this lab (a reference, no rules).
    XdpDrop,
    /// iptables with the legacy (x_tables) kernel backend.
    Legacy,
    /// iptables with the nf_tables backend (Debian's default `iptables`).
    IptNft,
    /// nftables as its users write such a ruleset: one set, one rule.
    NftSet,
    /// fw.
    Fw,
}

impl Peer {
    /// Every peer, in report order.
    pub const ALL: [Peer; 6] = [
        Peer::None,
        Peer::XdpDrop,
        Peer::Legacy,
        Peer::IptNft,
        Peer::NftSet,
        Peer::Fw,
    ];

    /// Short name, for CSV files.
    pub fn name(self) -> &'static str {
        match self {
            Peer::None => "none",
            Peer::XdpDrop => "xdp-drop",
            Peer::Legacy => "iptables-legacy",
            Peer::IptNft => "iptables-nft",
            Peer::NftSet => "nft-set",
            Peer::Fw => "fw",
        }
    }

    /// Name in tables and the plot.
    pub fn label(self) -> &'static str {
        match self {
            Peer::None => "no firewall",
            Peer::XdpDrop => "XDP drop-all",
            Peer::Legacy => "iptables-legacy",
            Peer::IptNft => "iptables-nft",
            Peer::NftSet => "nftables (set)",
            Peer::Fw => "fw",
        }
    }

    /// Whether the peer holds the benchmark's ruleset.
    pub fn has_rules(self) -> bool {
        matches!(self, Peer::Legacy | Peer::IptNft | Peer::NftSet | Peer::Fw)
    }
}

/// What every peer operation needs.
pub struct Env {
    /// The fw binary (release build).
    pub fw: PathBuf,
    /// Scratch directory for rule files.
    pub tmp: PathBuf,
    /// Possible CPUs (per-CPU counters have one value each).
    pub cpus: usize,
    /// Whether `fw restore` exists; else rulesets are loaded through the
    /// library (see [`load`]).
    pub fw_restore: bool,
    /// The reference XDP program.
    pub xdp_drop: bpf::CountingDrop,
}

impl Env {
    /// Rule file `name` in the scratch directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }
}

/// Runs `prog args…` in namespace `ns` (through `ip netns exec`, like a
/// user would) with `stdin` from a file, and returns its wall time (from
/// start to exit) and stdout.
///
/// # Errors
/// When it cannot be started or fails; the error has its stderr.
pub fn run_in(
    ns: &str,
    prog: impl AsRef<Path>,
    args: &[&str],
    stdin: Option<&Path>,
) -> anyhow::Result<(Duration, String)> {
    let prog = prog.as_ref();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(prog).args(args);
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(File::open(p).with_context(|| format!("open {}", p.display()))?),
        None => Stdio::null(),
    });
    let shown = format!("{} {}", prog.display(), args.join(" "));
    let t = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("cannot run `{shown}`"))?;
    let took = t.elapsed();
    super::runner::check_stop()?;
    if !out.status.success() {
        bail!(
            "`{shown}` in {ns} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((took, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// A peer set up in a lab with an empty ruleset; dropping it removes what
/// the lab's own cleanup does not (the reference program's link).
pub struct Prepared {
    /// The reference program's XDP link, for [`Peer::XdpDrop`].
    _link: Option<OwnedFd>,
    /// For fw: how long its first load took (programs loaded, verified,
    /// pinned and attached, empty ruleset).
    pub install: Option<Duration>,
}

/// iptables' tools of `peer`: (iptables, iptables-restore, extra options).
fn iptables(peer: Peer) -> (&'static str, &'static str, &'static [&'static str]) {
    match peer {
        // -w: the legacy backend shares one lock file (/run/xtables.lock)
        // with every other iptables-legacy on the host; wait for it.
        Peer::Legacy => ("iptables-legacy", "iptables-legacy-restore", &["-w"]),
        _ => ("iptables-nft", "iptables-nft-restore", &[]),
    }
}

/// Sets `peer` up in the lab's server namespace with an empty ruleset, so
/// that the timed loads that follow compare replacing a ruleset, not
/// creating tables or loading programs.
///
/// # Errors
/// When a tool fails.
pub fn prepare(peer: Peer, env: &Env, lab: &Lab) -> anyhow::Result<Prepared> {
    let ns = lab.server();
    let mut prepared = Prepared {
        _link: None,
        install: None,
    };
    match peer {
        Peer::None => {}
        Peer::XdpDrop => {
            let prog = env.xdp_drop.prog()?;
            // The link must be made inside the namespace: the kernel looks
            // the interface index up in the caller's.
            prepared._link = Some(in_netns(ns, move || {
                bpf::attach_xdp(&prog, ifindex(SERVER_IF)?)
            })??);
        }
        // An empty ruleset: the same as emptying one.
        Peer::Legacy | Peer::IptNft | Peer::NftSet => unload(peer, env, lab)?,
        Peer::Fw => {
            let (took, _) = run_in(ns, &env.fw, &["-P", "INPUT", "ACCEPT"], None)?;
            prepared.install = Some(took);
        }
    }
    Ok(prepared)
}

/// The index of interface `name` in the calling thread's namespace.
fn ifindex(name: &str) -> anyhow::Result<u32> {
    let c = std::ffi::CString::new(name)?;
    // SAFETY: c is NUL-terminated.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        bail!("no interface {name}");
    }
    Ok(i)
}

/// Replaces the peer's ruleset by ruleset `n`; returns the time it took.
///
/// iptables: `iptables-restore < file`; nftables: `nft -f file`; fw:
/// `fw restore < file` once it exists. Until then fw's rulesets are
/// loaded through its library: the rules are parsed and written into fw's
/// state record in this process, then `fw -P INPUT ACCEPT` (a no-op
/// change) makes fw compile the whole ruleset and swap it into the
/// kernel, exactly as any fw command does. The time is the sum of both.
///
/// # Errors
/// When the tool fails.
pub fn load(peer: Peer, env: &Env, lab: &Lab, n: u32) -> anyhow::Result<Duration> {
    let ns = lab.server();
    let rules = env.file(&format!("ipt-{n}.rules"));
    Ok(match peer {
        Peer::None | Peer::XdpDrop => Duration::ZERO,
        Peer::Legacy | Peer::IptNft => {
            let (_, restore, opts) = iptables(peer);
            run_in(ns, restore, opts, Some(&rules))?.0
        }
        Peer::NftSet => {
            let file = env.file(&format!("nft-{n}.nft"));
            run_in(ns, "nft", &["-f", &file.to_string_lossy()], None)?.0
        }
        Peer::Fw if env.fw_restore => run_in(ns, &env.fw, &["restore"], Some(&rules))?.0,
        Peer::Fw => {
            let write = in_netns(ns, move || fw_write_state(n))??;
            write + run_in(ns, &env.fw, &["-P", "INPUT", "ACCEPT"], None)?.0
        }
    })
}

/// Empties the peer's ruleset again (untimed), so that every timed
/// [`load`] replaces an empty ruleset, not the N-rule one: fw, for one,
/// must also remove the old ruleset's entries from its maps.
///
/// # Errors
/// When the tool fails.
pub fn unload(peer: Peer, env: &Env, lab: &Lab) -> anyhow::Result<()> {
    let ns = lab.server();
    match peer {
        Peer::None | Peer::XdpDrop => {}
        Peer::Legacy | Peer::IptNft => {
            let (_, restore, opts) = iptables(peer);
            run_in(ns, restore, opts, Some(&env.file("ipt-empty.rules")))?;
        }
        Peer::NftSet => {
            run_in(
                ns,
                "nft",
                &["-f", &env.file("nft-empty.nft").to_string_lossy()],
                None,
            )?;
        }
        Peer::Fw => {
            run_in(ns, &env.fw, &["-F", "INPUT"], None)?;
        }
    }
    Ok(())
}

/// Writes ruleset `n` into the fw state record of the calling thread's
/// namespace (which fw must hold already) and returns the time taken.
fn fw_write_state(n: u32) -> anyhow::Result<Duration> {
    use firewall::{load::pins::Dirs, parse, state};
    let t = Instant::now();
    let parsed = rules::specs(n)
        .iter()
        .map(|s| parse::parse_rule_spec(s).with_context(|| format!("parse {s}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dirs = Dirs::current()?;
    let mut st = state::read(&dirs.state)?.context("fw has no state record here")?;
    st.ruleset.input.rules = parsed;
    st.counters[0] = (0..=n).collect();
    // The record no longer describes the live bank: say so, so that fw
    // empties the old bank by walking it rather than by this ruleset's keys.
    st.generation = st.generation.wrapping_add(1);
    state::prepare(&dirs.state, &st)?.commit()?;
    Ok(t.elapsed())
}

/// The packet count of the last rule in an iptables-style listing
/// (`-L CHAIN -v -x -n`): rule lines start with the packet count.
fn rule_packets(listing: &str) -> Vec<u64> {
    listing
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Every `packets N` of an nft listing, in order.
fn nft_packets(listing: &str) -> Vec<u64> {
    listing
        .split("packets ")
        .skip(1)
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The receiver's count of packets handled so far: the DROP rule's packet
/// counter; for no firewall, UDP datagrams that found no socket (or
/// failed their checksum); for the reference program, its own count.
///
/// # Errors
/// When the counter cannot be read.
pub fn count(peer: Peer, env: &Env, lab: &Lab, n: u32) -> anyhow::Result<u64> {
    let ns = lab.server();
    match peer {
        Peer::None => in_netns(ns, udp_no_ports)?,
        Peer::XdpDrop => env.xdp_drop.dropped(),
        Peer::Legacy | Peer::IptNft => {
            let (ipt, _, opts) = iptables(peer);
            let k = (n + 1).to_string();
            let mut args = opts.to_vec();
            args.extend(["-L", "INPUT", &k, "-v", "-x", "-n"]);
            let (_, out) = run_in(ns, ipt, &args, None)?;
            rule_packets(&out).last().copied().context("no rule line")
        }
        Peer::NftSet => {
            let (_, out) = run_in(
                ns,
                "nft",
                &["list", "chain", "ip", rules::NFT_TABLE, "input"],
                None,
            )?;
            nft_packets(&out).last().copied().context("no counter")
        }
        Peer::Fw => fw_packets(env, lab)?
            .last()
            .copied()
            .context("no rule line"),
    }
}

/// The packet counter of each of fw's INPUT rules, in order.
///
/// # Errors
/// When fw fails.
pub fn fw_packets(env: &Env, lab: &Lab) -> anyhow::Result<Vec<u64>> {
    let (_, out) = run_in(
        lab.server(),
        &env.fw,
        &["-L", "INPUT", "-v", "-x", "-n"],
        None,
    )?;
    Ok(rule_packets(&out))
}

/// `Udp: NoPorts` + `InErrors` of the calling thread's namespace.
fn udp_no_ports() -> anyhow::Result<u64> {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp")?;
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (
        lines.next().context("no Udp header")?,
        lines.next().context("no Udp values")?,
    );
    let mut total = 0;
    for (k, v) in names.split_whitespace().zip(values.split_whitespace()) {
        if k == "NoPorts" || k == "InErrors" {
            total += v.parse::<u64>()?;
        }
    }
    Ok(total)
}

/// Lists the ruleset with its counters and returns the time it took and
/// the listing: `-L INPUT -v -x -n`, or `nft list ruleset`.
///
/// # Errors
/// When the tool fails.
pub fn list(peer: Peer, env: &Env, lab: &Lab) -> anyhow::Result<(Duration, String)> {
    let ns = lab.server();
    match peer {
        Peer::Legacy | Peer::IptNft => {
            let (ipt, _, opts) = iptables(peer);
            let mut args = opts.to_vec();
            args.extend(["-L", "INPUT", "-v", "-x", "-n"]);
            run_in(ns, ipt, &args, None)
        }
        Peer::NftSet => run_in(ns, "nft", &["list", "ruleset"], None),
        Peer::Fw => run_in(ns, &env.fw, &["-L", "INPUT", "-v", "-x", "-n"], None),
        Peer::None | Peer::XdpDrop => Ok((Duration::ZERO, String::new())),
    }
}

/// Checks a listing of ruleset `n` after the probe traffic: the last
/// counter (the DROP rule) moved and no other did, so the probe matched
/// the last rule only.
///
/// # Errors
/// When another rule counted packets, or the listing has the wrong number
/// of rules.
pub fn verify(peer: Peer, listing: &str, n: u32) -> anyhow::Result<()> {
    let counts = match peer {
        Peer::NftSet => nft_packets(listing),
        Peer::Legacy | Peer::IptNft | Peer::Fw => rule_packets(listing),
        Peer::None | Peer::XdpDrop => return Ok(()),
    };
    if counts.len() != n as usize + 1 {
        bail!(
            "{}: the listing has {} counters, expected {}",
            peer.name(),
            counts.len(),
            n + 1
        );
    }
    let (last, others) = counts.split_last().expect("n + 1 > 0");
    if *last == 0 || others.iter().any(|&c| c != 0) {
        bail!(
            "{}: the DROP rule counted {last} packets and the other rules {}",
            peer.name(),
            others.iter().sum::<u64>()
        );
    }
    Ok(())
}

/// Appends one rule that matches nothing (for nftables: one element to
/// the set, which is how that ruleset grows) and returns the time taken.
///
/// # Errors
/// When the tool fails.
pub fn add(peer: Peer, env: &Env, lab: &Lab) -> anyhow::Result<Duration> {
    let ns = lab.server();
    let spec: Vec<&str> = rules::ADD_SPEC.split_whitespace().collect();
    let mut args: Vec<&str> = vec!["-A", "INPUT"];
    args.extend(&spec);
    Ok(match peer {
        Peer::Legacy | Peer::IptNft => {
            let (ipt, _, opts) = iptables(peer);
            let mut all = opts.to_vec();
            all.extend(args);
            run_in(ns, ipt, &all, None)?.0
        }
        Peer::NftSet => {
            let element = format!("{{ {} }}", rules::ADD_ELEMENT);
            run_in(
                ns,
                "nft",
                &[
                    "add",
                    "element",
                    "ip",
                    rules::NFT_TABLE,
                    "allowed",
                    &element,
                ],
                None,
            )?
            .0
        }
        Peer::Fw => run_in(ns, &env.fw, &args, None)?.0,
        Peer::None | Peer::XdpDrop => Duration::ZERO,
    })
}

/// Kernel memory of one loaded ruleset.
#[derive(Clone, Debug)]
pub struct Memory {
    /// Bytes.
    pub bytes: i64,
    /// How they were measured.
    pub method: &'static str,
    /// Whether the figure is the kernel's own account of the ruleset
    /// (else a system-wide difference, with other activity in it).
    pub exact: bool,
    /// For fw: bytes per program and map.
    pub parts: Vec<(String, u64)>,
}

/// Measures the kernel memory the peer's ruleset holds; `before` is the
/// snapshot taken just before the ruleset was loaded (see [`memory`]).
///
/// # Errors
/// When the kernel's figures cannot be read.
pub fn memory(
    peer: Peer,
    env: &Env,
    lab: &Lab,
    before: &memory::Snapshot,
) -> anyhow::Result<Option<Memory>> {
    let ns = lab.server();
    Ok(match peer {
        Peer::None | Peer::XdpDrop => None,
        Peer::Fw => {
            let parts = in_netns(ns, || {
                let dirs = firewall::load::pins::Dirs::current()?;
                bpf::memory_of(&[&dirs.prog("fw_xdp"), &dirs.prog("fw_tc")])
            })??;
            Some(Memory {
                bytes: parts.iter().map(|(_, b)| *b as i64).sum(),
                method: "memlock of fw's programs and maps (fdinfo)",
                exact: true,
                parts,
            })
        }
        Peer::Legacy => {
            let cpus = env.cpus;
            let bytes = in_netns(ns, move || memory::iptables_legacy(cpus))??;
            Some(Memory {
                bytes: bytes as i64,
                method: "rule blob (IPT_SO_GET_INFO) + per-CPU counters",
                exact: true,
                parts: Vec::new(),
            })
        }
        Peer::IptNft | Peer::NftSet => Some(Memory {
            bytes: memory::delta(before)?,
            method: "growth of kmalloc-cg-* slabs + percpu + vmalloc while loading",
            exact: false,
            parts: Vec::new(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPTABLES: &str = "\
Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
    pkts      bytes target     prot opt in     out     source               destination
       0        0 ACCEPT     17   --  *      *       198.51.100.1         0.0.0.0/0            udp dpt:1024
  593902 27319492 DROP       17   --  *      *       192.0.2.0/24         0.0.0.0/0            udp dpt:9
";

    #[test]
    fn iptables_listing_counts() {
        assert_eq!(rule_packets(IPTABLES), vec![0, 593_902]);
        assert!(verify(Peer::Legacy, IPTABLES, 1).is_ok());
        assert!(verify(Peer::Legacy, IPTABLES, 2).is_err());
    }

    #[test]
    fn nft_listing_counts() {
        let l = "table ip fwbench {\n\tset allowed {\n\t\telements = { 198.51.100.1 . 1024 counter packets 0 bytes 0,\n\
                 \t\t\t203.0.113.1 . 1031 counter packets 3 bytes 9 }\n\t}\n\tchain input {\n\
                 \t\tip saddr 192.0.2.0/24 udp dport 9 counter packets 12 bytes 552 drop\n\t}\n}\n";
        assert_eq!(nft_packets(l), vec![0, 3, 12]);
        assert!(verify(Peer::NftSet, l, 2).is_err());
    }
}
