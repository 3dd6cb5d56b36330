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
use integration_tests::{CLIENT_IF, Lab, SERVER_IF, in_netns};

use super::{
    bpf, memory,
    rules::{self, Family},
};

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

    /// [`Peer::name`] in family `f`: ip6tables for IPv6.
    pub fn name_in(self, f: Family) -> &'static str {
        match (f, self) {
            (Family::V6, Peer::Legacy) => "ip6tables-legacy",
            (Family::V6, Peer::IptNft) => "ip6tables-nft",
            _ => self.name(),
        }
    }

    /// [`Peer::label`] in family `f`: ip6tables for IPv6.
    pub fn label_in(self, f: Family) -> &'static str {
        match (f, self) {
            (Family::V6, Peer::Legacy | Peer::IptNft) => self.name_in(f),
            _ => self.label(),
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

/// iptables' tools of `peer` in family `f`: (iptables, iptables-restore,
/// extra options); ip6tables' for IPv6.
fn iptables(peer: Peer, f: Family) -> (&'static str, &'static str, &'static [&'static str]) {
    match (peer, f) {
        // -w: the legacy backend shares one lock file (/run/xtables.lock)
        // with every other iptables-legacy on the host; wait for it.
        (Peer::Legacy, Family::V4) => ("iptables-legacy", "iptables-legacy-restore", &["-w"]),
        (Peer::Legacy, Family::V6) => ("ip6tables-legacy", "ip6tables-legacy-restore", &["-w"]),
        (_, Family::V4) => ("iptables-nft", "iptables-nft-restore", &[]),
        (_, Family::V6) => ("ip6tables-nft", "ip6tables-nft-restore", &[]),
    }
}

/// The scratch file of iptables-restore ruleset `n` of family `f`
/// (`None`: the empty one, the same for both).
pub fn ipt_file(f: Family, n: Option<u32>) -> String {
    match n {
        Some(n) => format!("ipt{}-{n}.rules", f.suffix()),
        None => "ipt-empty.rules".into(),
    }
}

/// The scratch file of nftables ruleset `n` of family `f` (`None`: empty).
pub fn nft_file(f: Family, n: Option<u32>) -> String {
    let n = n.map_or("empty".into(), |n| n.to_string());
    format!("nft{}-{n}.nft", f.suffix())
}

/// Gives the lab's veth ends [`rules::CLIENT6`] and [`rules::SERVER6`]
/// (/64, without duplicate address detection, so usable at once).
///
/// # Errors
/// When `ip` fails.
pub fn add_ipv6(lab: &Lab) -> anyhow::Result<()> {
    for (ns, dev, a) in [
        (lab.client(), CLIENT_IF, rules::CLIENT6),
        (lab.server(), SERVER_IF, rules::SERVER6),
    ] {
        integration_tests::ip(&format!("-n {ns} addr add {a}/64 dev {dev} nodad"))?;
    }
    Ok(())
}

/// `fw` options `args` in family `f`'s table: `-6` first for IPv6.
fn fw_args<'a>(f: Family, args: &[&'a str]) -> Vec<&'a str> {
    f.fw_opts().iter().chain(args).copied().collect()
}

/// Sets `peer` up in the lab's server namespace with an empty ruleset of
/// family `f`, so that the timed loads that follow compare replacing a
/// ruleset, not creating tables or loading programs.
///
/// # Errors
/// When a tool fails.
pub fn prepare(peer: Peer, f: Family, env: &Env, lab: &Lab) -> anyhow::Result<Prepared> {
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
        Peer::Legacy | Peer::IptNft | Peer::NftSet => unload(peer, f, env, lab)?,
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

/// Replaces the peer's ruleset by ruleset `n` of family `f`; returns the
/// time it took.
///
/// iptables: `iptables-restore < file` (`ip6tables-restore`); nftables:
/// `nft -f file`; fw: `fw restore < file` (`fw -6 restore`) once it
/// exists. Until then fw's rulesets are
/// loaded through its library: the rules are parsed and written into fw's
/// state record in this process, then `fw -P INPUT ACCEPT` (a no-op
/// change) makes fw compile the whole ruleset and swap it into the
/// kernel, exactly as any fw command does. The time is the sum of both.
///
/// # Errors
/// When the tool fails, or for IPv6 when fw has no `fw restore`.
pub fn load(peer: Peer, f: Family, env: &Env, lab: &Lab, n: u32) -> anyhow::Result<Duration> {
    let ns = lab.server();
    let rules = env.file(&ipt_file(f, Some(n)));
    Ok(match peer {
        Peer::None | Peer::XdpDrop => Duration::ZERO,
        Peer::Legacy | Peer::IptNft => {
            let (_, restore, opts) = iptables(peer, f);
            run_in(ns, restore, opts, Some(&rules))?.0
        }
        Peer::NftSet => {
            let file = env.file(&nft_file(f, Some(n)));
            run_in(ns, "nft", &["-f", &file.to_string_lossy()], None)?.0
        }
        Peer::Fw if env.fw_restore => {
            run_in(ns, &env.fw, &fw_args(f, &["restore"]), Some(&rules))?.0
        }
        Peer::Fw if f == Family::V6 => bail!("IPv6 rulesets load with `fw -6 restore`"),
        Peer::Fw => {
            let write = in_netns(ns, move || fw_write_state(n))??;
            write + run_in(ns, &env.fw, &["-P", "INPUT", "ACCEPT"], None)?.0
        }
    })
}

/// Empties the peer's ruleset of family `f` again (untimed), so that
/// every timed [`load`] replaces an empty ruleset, not the N-rule one: fw,
/// for one, must also remove the old ruleset's entries from its maps.
///
/// # Errors
/// When the tool fails.
pub fn unload(peer: Peer, f: Family, env: &Env, lab: &Lab) -> anyhow::Result<()> {
    let ns = lab.server();
    match peer {
        Peer::None | Peer::XdpDrop => {}
        Peer::Legacy | Peer::IptNft => {
            let (_, restore, opts) = iptables(peer, f);
            run_in(ns, restore, opts, Some(&env.file(&ipt_file(f, None))))?;
        }
        Peer::NftSet => {
            let file = env.file(&nft_file(f, None));
            run_in(ns, "nft", &["-f", &file.to_string_lossy()], None)?;
        }
        Peer::Fw => {
            run_in(ns, &env.fw, &fw_args(f, &["-F", "INPUT"]), None)?;
        }
    }
    Ok(())
}

/// Writes ruleset `n` into the fw state record of the calling thread's
/// namespace (which fw must hold already) and returns the time taken.
fn fw_write_state(n: u32) -> anyhow::Result<Duration> {
    use firewall::{load::pins::Dirs, parse, state};
    let t = Instant::now();
    let parsed = rules::specs(Family::V4, n)
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

/// The receiver's count of packets of family `f` handled so far: the DROP
/// rule's packet counter; for no firewall, UDP datagrams that found no
/// socket (or failed their checksum); for the reference program, its own
/// count.
///
/// # Errors
/// When the counter cannot be read.
pub fn count(peer: Peer, f: Family, env: &Env, lab: &Lab, n: u32) -> anyhow::Result<u64> {
    let ns = lab.server();
    match peer {
        Peer::None => in_netns(ns, move || udp_no_ports(f))?,
        Peer::XdpDrop => env.xdp_drop.dropped(),
        Peer::Legacy | Peer::IptNft => {
            let (ipt, _, opts) = iptables(peer, f);
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
                &["list", "chain", f.nft_family(), rules::NFT_TABLE, "input"],
                None,
            )?;
            nft_packets(&out).last().copied().context("no counter")
        }
        Peer::Fw => fw_packets(f, env, lab)?
            .last()
            .copied()
            .context("no rule line"),
    }
}

/// The packet counter of each of fw's INPUT rules of family `f`, in
/// order.
///
/// # Errors
/// When fw fails.
pub fn fw_packets(f: Family, env: &Env, lab: &Lab) -> anyhow::Result<Vec<u64>> {
    let args = fw_args(f, &["-L", "INPUT", "-v", "-x", "-n"]);
    let (_, out) = run_in(lab.server(), &env.fw, &args, None)?;
    Ok(rule_packets(&out))
}

/// `Udp: NoPorts` + `InErrors` of the calling thread's namespace; for
/// IPv6 `Udp6NoPorts` + `Udp6InErrors`.
fn udp_no_ports(f: Family) -> anyhow::Result<u64> {
    if f == Family::V6 {
        let snmp6 = std::fs::read_to_string("/proc/thread-self/net/snmp6")?;
        return Ok(udp6_no_ports(&snmp6));
    }
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

/// `Udp6NoPorts` + `Udp6InErrors` of /proc/net/snmp6's text (`NAME
/// VALUE` lines).
fn udp6_no_ports(snmp6: &str) -> u64 {
    snmp6
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .filter(|(k, _)| matches!(*k, "Udp6NoPorts" | "Udp6InErrors"))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum()
}

/// Lists the ruleset of family `f` with its counters and returns the time
/// it took and the listing: `-L INPUT -v -x -n`, or `nft list ruleset`.
///
/// # Errors
/// When the tool fails.
pub fn list(peer: Peer, f: Family, env: &Env, lab: &Lab) -> anyhow::Result<(Duration, String)> {
    let ns = lab.server();
    match peer {
        Peer::Legacy | Peer::IptNft => {
            let (ipt, _, opts) = iptables(peer, f);
            let mut args = opts.to_vec();
            args.extend(["-L", "INPUT", "-v", "-x", "-n"]);
            run_in(ns, ipt, &args, None)
        }
        Peer::NftSet => run_in(ns, "nft", &["list", "ruleset"], None),
        Peer::Fw => run_in(
            ns,
            &env.fw,
            &fw_args(f, &["-L", "INPUT", "-v", "-x", "-n"]),
            None,
        ),
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

/// Appends one IPv4 rule that matches nothing (for nftables: one element
/// to the set, which is how that ruleset grows) and returns the time
/// taken.
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
            let (ipt, _, opts) = iptables(peer, Family::V4);
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
    fn snmp6_udp_counts() {
        let t = "Udp6InDatagrams                 \t5\nUdp6NoPorts                     \t7\n\
                 Udp6InErrors                    \t2\nUdp6OutDatagrams                \t1\n";
        assert_eq!(udp6_no_ports(t), 9);
    }

    #[test]
    fn ipv6_peers_are_ip6tables() {
        assert_eq!(
            iptables(Peer::Legacy, Family::V6).1,
            "ip6tables-legacy-restore"
        );
        assert_eq!(Peer::IptNft.label_in(Family::V6), "ip6tables-nft");
        assert_eq!(Peer::NftSet.label_in(Family::V6), Peer::NftSet.label());
        assert_eq!(fw_args(Family::V6, &["-F", "INPUT"]), ["-6", "-F", "INPUT"]);
        assert_eq!(nft_file(Family::V6, None), "nft6-empty.nft");
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
