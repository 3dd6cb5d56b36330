//! The corpus on real packets: every restore-format file of
//! `../shared/corpus` whose filter table fw's library accepts for the
//! kernel (`fw restore --table filter`; pinned in [`LOADED`], and ufw's
//! two files completed as ufw links them, [`COMPLETED`]) runs in two
//! identical labs, one under real iptables-legacy, one under fw, and every
//! probe must end the same way in both.
//!
//! A lab is a "host" namespace with one veth per interface the file names
//! (`-i`/`-o`, a `+` wildcard made concrete with a `0`; `lo` is there
//! already) plus spare ones (`fwx0`, `fwx1`) so that there are at least two
//! and one the file does not name; each leads to a "peer" namespace of its
//! own. Interface `k` is 192.0.2.(4k)/30: the host .4k+1, the peer .4k+2
//! (default route via the host, which forwards). Both ends listen on
//! every probed port (TCP listeners whose handshakes the kernel completes,
//! a UDP echo), but for one "closed" port left unheard.
//!
//! The probes, from each peer to the host (INPUT), from the host to each
//! peer (OUTPUT, the replies through INPUT: `-m state`/`-m conntrack`
//! rules), and between each pair of peers through the host (FORWARD):
//! a TCP connect and a UDP request with `IP_RECVERR` to every port the
//! file names (a range by its ends and the port either side), a few
//! others ([`CLOSED`]), and an ICMP echo. Each ends connected/answered,
//! with an errno (a RST, an ICMP error) or in silence (after [`WAIT`]).
//!
//! Both labs lift the kernel's ICMP error rate limit
//! (`net.ipv4.icmp_ratemask=0`: fw's REJECT has none, docs/semantics.md
//! item 16), pin the ephemeral ports to a window no rule names, and the
//! oracle tracks TCP with `nf_conntrack_tcp_loose=0` as fw does. The
//! peers run no firewall: fw's REJECT answers must reach a plain veth.
//!
//! Asserted per file: both restores succeed, `fw -S` is
//! `iptables-legacy -S`, the probe count is [`PROBES`]' number, some probe
//! is answered and some to a listening port is not, and no probe differs
//! (the differences are printed as a table).

#[path = "common/iptables.rs"]
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use std::{
    collections::BTreeSet,
    net::{Ipv4Addr, TcpListener},
    path::Path,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use firewall::{
    model::{Match, Neg, PortRange, Rule, Ruleset},
    parse::services::Services,
    restore::{self, RestoreOptions},
    state::State,
};
use integration_tests::{
    Seen, UdpEcho, fw_in, fw_reset, icmp_probe, ip, sysctl_in, tcp_backlogs, tcp_connect, udp_echo,
    udp_request,
};
use iptables::{IPTABLES, Netns, require_iptables, text};

/// The corpus files whose filter table fw's library accepts for the
/// kernel, in name order.
const LOADED: [&str; 9] = integration_tests::CORPUS_LOADED;

/// Files that load once the chains they jump to but do not declare exist
/// (ufw creates them and links its chains from its own code), in name
/// order, each with what completes it in both labs: chains declared
/// after `*filter` (with a policy for a built-in one), and rules added
/// before its `COMMIT`. 01 as ufw links it with its default policy
/// (INPUT and FORWARD DROP); 02 with `ufw-skip-to-policy-input` dropping.
const COMPLETED: [(&str, &[&str], &[&str]); 2] = [
    (
        "01_ufw_before.rules",
        &[":INPUT DROP", ":FORWARD DROP", ":ufw-logging-deny -"],
        &[
            "-A INPUT -j ufw-before-input",
            "-A FORWARD -j ufw-before-forward",
            "-A OUTPUT -j ufw-before-output",
        ],
    ),
    (
        "02_ufw_after.rules",
        &[":ufw-skip-to-policy-input -"],
        &[
            "-A INPUT -j ufw-after-input",
            "-A FORWARD -j ufw-after-forward",
            "-A OUTPUT -j ufw-after-output",
            "-A ufw-skip-to-policy-input -j DROP",
        ],
    ),
];

/// `text` completed as [`COMPLETED`] says for `file`.
fn completed(file: &str, text: &str) -> String {
    let Some((_, chains, rules)) = COMPLETED.iter().find(|(f, ..)| *f == file) else {
        return text.to_string();
    };
    let decls: String = chains.iter().map(|c| format!("{c} [0:0]\n")).collect();
    let adds: String = rules.iter().map(|r| format!("{r}\n")).collect();
    let at = text.rfind("COMMIT").expect("a COMMIT");
    let (head, tail) = text.split_at(at);
    format!("{head}{adds}{tail}").replacen("*filter\n", &format!("*filter\n{decls}"), 1)
}

/// How many probes each file of [`LOADED`] and [`COMPLETED`] gets (ports
/// × 2 + an echo, per path).
const PROBES: [(&str, usize); 11] = [
    ("01_ufw_before.rules", 162),
    ("02_ufw_after.rules", 186),
    ("05_centos_sysconfig_iptables_webmin.rules", 198),
    ("09_docker_moby_usernet_portmap.rules", 156),
    ("10_kube_router_issue1069_docker_k8s_filter.rules", 42),
    ("12_algo_vpn_rules.v4", 318),
    ("17_openwrt_fw3_filter_excerpt.rules", 228),
    ("20_docker_user_filters_chain.rules", 114),
    ("21_debian_raspi3_rules.v4", 78),
    ("23_perfsonar_firewall.conf", 1002),
    ("25_kilo_issue128_mangle_counters.rules", 42),
];

/// Ports probed besides the file's own, where the file does not name
/// them; the first of them that is left has no listener.
const CLOSED: [u16; 3] = [9, 2222, 44444];

/// How long a probe waits for an answer (a veth link answers in
/// microseconds; TCP's first SYN retransmission comes only after 1 s).
const WAIT: Duration = Duration::from_millis(400);

/// Probes running at once in each lab.
const WORKERS: usize = 16;

/// The interfaces added to those a file names.
const SPARE: [&str; 2] = ["fwx0", "fwx1"];

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The filter table of `text` as `fw restore --table filter` loads it,
/// when fw's library accepts it for the kernel.
fn filter_table(text: &str) -> Option<Ruleset> {
    let opts = RestoreOptions {
        filter_only: true,
        ..Default::default()
    };
    // With the sets its rules name, which the labs create (as hash:net).
    let mut base = State::default();
    if let Ok(read) = restore::restore(&base, text, &opts, false, Services::system()) {
        for set in set_names(&read.state.ruleset) {
            base.sets.insert(
                set,
                firewall::model::set::SetDef::new(firewall::model::set::SetKind::Net),
            );
        }
    }
    restore::restore(&base, text, &opts, true, Services::system())
        .ok()
        .map(|done| done.state.ruleset)
}

/// The `*filter` section of `text`, up to its `COMMIT`, for
/// iptables-legacy-restore.
fn filter_section(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for l in text.lines() {
        inside |= l.trim_end() == "*filter";
        if inside {
            out.push_str(l);
            out.push('\n');
            if l.trim_end() == "COMMIT" {
                return out;
            }
        }
    }
    panic!("no complete *filter table in:\n{text}")
}

/// What a ruleset names: interfaces (concrete), port ranges, and whether
/// it matches connection-tracking states.
#[derive(Debug, Default)]
struct Named {
    interfaces: BTreeSet<String>,
    ranges: BTreeSet<(u16, u16)>,
    tracks: bool,
}

impl Named {
    fn of(rs: &Ruleset) -> Self {
        let mut n = Named::default();
        let chains = [&rs.input.rules, &rs.forward.rules, &rs.output.rules];
        for rule in chains.into_iter().chain(rs.user_chains.values()).flatten() {
            n.rule(rule);
        }
        n
    }

    fn rule(&mut self, rule: &Rule) {
        for iface in [&rule.in_interface, &rule.out_interface]
            .into_iter()
            .flatten()
        {
            let v = &iface.value;
            // A wildcard stands for one name it matches; `+` alone for any.
            let concrete = match v.strip_suffix('+') {
                Some("") => None,
                Some(prefix) => Some(format!("{prefix}0")),
                None => Some(v.clone()),
            };
            self.interfaces.extend(concrete.filter(|c| c != "lo"));
        }
        for m in &rule.matches {
            self.matched(m);
        }
    }

    fn matched(&mut self, m: &Match) {
        let mut add = |r: &Option<Neg<PortRange>>| {
            if let Some(r) = r {
                self.ranges.insert((r.value.lo, r.value.hi));
            }
        };
        match m {
            Match::Tcp(t) => {
                add(&t.sport);
                add(&t.dport);
            }
            Match::Udp(u) => {
                add(&u.sport);
                add(&u.dport);
            }
            Match::Multiport(mp) => self.ranges.extend(mp.ports.iter().map(|p| (p.lo, p.hi))),
            Match::Conntrack(c) => {
                self.tracks = true;
                c.ports.iter().for_each(&mut add);
            }
            Match::State(_) => self.tracks = true,
            // No port, no interface, no state.
            Match::Icmp(_)
            | Match::Iprange(_)
            | Match::Mac(_)
            | Match::Mark(_)
            | Match::Hashlimit(_)
            | Match::Comment(_)
            | Match::Limit(_)
            | Match::Length(_)
            | Match::Ttl(_)
            | Match::Addrtype(_)
            | Match::Recent(_)
            | Match::Owner(_)
            | Match::Policy(_)
            | Match::Tcpmss(_)
            | Match::Time(_)
            | Match::Set(_)
            | Match::Icmp6(_)
            | Match::Hl(_)
            | Match::Rt(_)
            | Match::Iprange6(_) => {}
        }
    }

    fn covers(&self, port: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&port))
    }

    /// The probed ports: each range's ends and the ports either side,
    /// and [`CLOSED`] where not named; and the one left unheard.
    fn ports(&self) -> (Vec<u16>, Option<u16>) {
        let mut ports = BTreeSet::new();
        for &(lo, hi) in &self.ranges {
            ports.extend(
                [lo.checked_sub(1), Some(lo), Some(hi), hi.checked_add(1)]
                    .into_iter()
                    .flatten(),
            );
        }
        ports.remove(&0);
        let closed: Vec<u16> = CLOSED.into_iter().filter(|&p| !self.covers(p)).collect();
        ports.extend(&closed);
        (ports.into_iter().collect(), closed.first().copied())
    }

    /// 1000 ephemeral ports (`ip_local_port_range`) that neither a rule
    /// nor a probe names, so no reply meets a port rule by chance.
    fn ephemeral(&self, probed: &[u16]) -> (u16, u16) {
        let mut lo = 61000u16;
        loop {
            let hi = lo + 999;
            let clash = self.ranges.iter().any(|&(a, b)| a <= hi && lo <= b)
                || probed.iter().any(|p| (lo..=hi).contains(p));
            if !clash {
                return (lo, hi);
            }
            lo = lo
                .checked_sub(1000)
                .filter(|&l| l >= 1024)
                .expect("no free port window");
        }
    }

    /// The lab's interfaces: those named, then spares up to two and one
    /// the file does not name.
    fn lab_interfaces(&self) -> Vec<String> {
        let mut v: Vec<String> = self.interfaces.iter().cloned().collect();
        for spare in SPARE {
            if v.len() < 2 || v.len() == self.interfaces.len() {
                v.push(spare.to_string());
            }
        }
        v
    }
}

/// The host's address on interface `k`.
fn host_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, (4 * k + 1) as u8)
}

/// The peer's address behind interface `k`.
fn peer_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, (4 * k + 2) as u8)
}

/// One lab: the host, its peers, what listens in them. Dropping it stops
/// the listeners, resets fw everywhere and deletes the namespaces.
struct Twin {
    listeners: Vec<Vec<TcpListener>>,
    echoes: Vec<UdpEcho>,
    host: Netns,
    peers: Vec<Netns>,
}

impl Drop for Twin {
    fn drop(&mut self) {
        // Then the fields, in order: listeners, namespaces.
        fw_reset(self.host.name());
    }
}

impl Twin {
    fn new(tag: &str, ifaces: &[String], listened: &[u16], window: (u16, u16)) -> Self {
        assert!(ifaces.len() <= 63, "192.0.2.0/24 holds 63 links");
        let mut twin = Twin {
            listeners: Vec::new(),
            echoes: Vec::new(),
            host: Netns::new(&format!("{tag}-h")).unwrap(),
            peers: Vec::new(),
        };
        let host = twin.host.name().to_string();
        for (k, dev) in ifaces.iter().enumerate() {
            let peer = Netns::new(&format!("{tag}-p{k}")).unwrap();
            let p = peer.name();
            ip(&format!(
                "-n {p} link add veth-p type veth peer name {dev} netns {host}"
            ))
            .unwrap();
            ip(&format!("-n {host} addr add {}/30 dev {dev}", host_addr(k))).unwrap();
            ip(&format!("-n {p} addr add {}/30 dev veth-p", peer_addr(k))).unwrap();
            ip(&format!("-n {host} link set {dev} up")).unwrap();
            ip(&format!("-n {p} link set veth-p up")).unwrap();
            ip(&format!("-n {p} route add default via {}", host_addr(k))).unwrap();
            twin.peers.push(peer);
        }
        sysctl_in(&host, "net.ipv4.ip_forward=1").unwrap();
        let all: Vec<String> = std::iter::once(host.clone())
            .chain(twin.peers.iter().map(|p| p.name().to_string()))
            .collect();
        for ns in &all {
            ip(&format!("-n {ns} link set lo up")).unwrap();
            sysctl_in(ns, "net.ipv4.icmp_ratemask=0").unwrap();
            let range = format!("net.ipv4.ip_local_port_range={} {}", window.0, window.1);
            sysctl_in(ns, &range).unwrap();
            twin.listeners.push(tcp_backlogs(ns, listened).unwrap());
            twin.echoes.push(udp_echo(ns, listened).unwrap());
        }
        twin
    }

    fn ns(&self, end: End) -> &str {
        match end {
            End::Host => self.host.name(),
            End::Peer(k) => self.peers[k].name(),
        }
    }

    fn run(&self, p: &Probe) -> Seen {
        let to = match (p.from, p.to) {
            (End::Peer(k), End::Host) => host_addr(k),
            (_, End::Peer(k)) => peer_addr(k),
            (End::Host, End::Host) => unreachable!("no probe from the host to itself"),
        };
        let ns = self.ns(p.from);
        match p.proto {
            Proto::Tcp => tcp_connect(ns, to, p.port, WAIT).0,
            Proto::Udp => udp_request(ns, to, p.port, true, WAIT).0,
            Proto::Icmp if icmp_probe(ns, to, WAIT) => Seen::Connected,
            Proto::Icmp => Seen::Silence,
        }
    }
}

/// Where a probe starts or ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Host,
    Peer(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
    Icmp,
}

#[derive(Clone, Copy, Debug)]
struct Probe {
    from: End,
    to: End,
    proto: Proto,
    /// 0 for ICMP.
    port: u16,
}

impl Probe {
    fn label(&self, ifaces: &[String]) -> String {
        let end = |e: End| match e {
            End::Host => "host".to_string(),
            End::Peer(k) => format!("peer@{}", ifaces[k]),
        };
        let what = match self.proto {
            Proto::Tcp => format!("tcp/{}", self.port),
            Proto::Udp => format!("udp/{}", self.port),
            Proto::Icmp => "icmp echo".to_string(),
        };
        format!("{} -> {} {what}", end(self.from), end(self.to))
    }
}

/// Every probe: into the host, out of it, and through it.
fn probes(n_ifaces: usize, ports: &[u16]) -> Vec<Probe> {
    let mut paths = Vec::new();
    paths.extend((0..n_ifaces).map(|k| (End::Peer(k), End::Host)));
    paths.extend((0..n_ifaces).map(|k| (End::Host, End::Peer(k))));
    for j in 0..n_ifaces {
        paths.extend(
            (0..n_ifaces)
                .filter(|&k| k != j)
                .map(|k| (End::Peer(j), End::Peer(k))),
        );
    }
    let mut out = Vec::new();
    for (from, to) in paths {
        for proto in [Proto::Tcp, Proto::Udp] {
            out.extend(ports.iter().map(|&port| Probe {
                from,
                to,
                proto,
                port,
            }));
        }
        out.push(Probe {
            from,
            to,
            proto: Proto::Icmp,
            port: 0,
        });
    }
    out
}

/// Runs every probe in both labs (`WORKERS` at a time): `[oracle, fw]`.
fn run_all(probes: &[Probe], labs: [&Twin; 2]) -> Vec<[Seen; 2]> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; probes.len()]);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = probes.get(i) else { break };
                    let got = [labs[0].run(p), labs[1].run(p)];
                    results.lock().unwrap()[i] = Some(got);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every probe ran"))
        .collect()
}

fn describe(s: Seen) -> String {
    match s {
        Seen::Connected => "answered".to_string(),
        Seen::Errno(e) => format!("errno {e} ({})", std::io::Error::from_raw_os_error(e)),
        Seen::Silence => "silence".to_string(),
    }
}

/// The sets the rules of `rs` name, sorted.
fn set_names(rs: &Ruleset) -> BTreeSet<String> {
    rs.set_names().map(str::to_string).collect()
}

/// One file in the twin labs: the differences found, as lines, and the
/// number of probes run.
fn compare_file(path: &Path, input: &str, rs: &Ruleset) -> (Vec<String>, usize) {
    let file = name(path);
    let named = Named::of(rs);
    let ifaces = named.lab_interfaces();
    let (ports, unheard) = named.ports();
    let listened: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|&p| Some(p) != unheard)
        .collect();
    let window = named.ephemeral(&ports);
    let oracle = Twin::new("cvo", &ifaces, &listened, window);
    let fw = Twin::new("cvf", &ifaces, &listened, window);

    // The sets `-m set` names, in both labs: the first interface's
    // subnet (as Docker's set holds its bridges' subnets).
    for set in set_names(rs) {
        let script = format!("ipset create {set} hash:net && ipset add {set} 192.0.2.0/30");
        let out = oracle.host.sh(&script, &[], None);
        assert!(
            out.status.success(),
            "{file}: {script}: {}",
            text(&out.stderr)
        );
        for args in [
            vec!["set", "create", &set, "hash:net"],
            vec!["set", "add", &set, "192.0.2.0/30"],
        ] {
            let out = fw_in(fw.host.name(), &args).unwrap();
            assert!(
                out.status.success(),
                "{file}: fw {args:?}: {}",
                text(&out.stderr)
            );
        }
    }
    let out = oracle.host.sh(
        &format!("{IPTABLES}-restore"),
        &[],
        Some(&filter_section(input)),
    );
    assert!(
        out.status.success(),
        "{file}: iptables-legacy-restore: {}",
        text(&out.stderr)
    );
    if named.tracks {
        sysctl_in(oracle.host.name(), "net.netfilter.nf_conntrack_tcp_loose=0").unwrap();
    }
    let copy = std::env::temp_dir().join(format!("fw-corpus-{}-{file}", std::process::id()));
    std::fs::write(&copy, input).unwrap();
    let loaded = fw_in(
        fw.host.name(),
        &["restore", "--table", "filter", &copy.to_string_lossy()],
    )
    .unwrap();
    let _ = std::fs::remove_file(&copy);
    assert!(
        loaded.status.success(),
        "{file}: fw restore: {}",
        text(&loaded.stderr)
    );
    let fw_s = text(&fw_in(fw.host.name(), &["-S"]).unwrap().stdout);
    let ipt_s = text(&oracle.host.sh(&format!("{IPTABLES} -S"), &[], None).stdout);
    assert_eq!(fw_s, ipt_s, "{file}: fw -S and iptables-legacy -S");

    let probes = probes(ifaces.len(), &ports);
    let started = Instant::now();
    let results = run_all(&probes, [&oracle, &fw]);
    let mut tally = [0usize; 3];
    let mut differ = Vec::new();
    for (p, [want, got]) in probes.iter().zip(&results) {
        tally[match want {
            Seen::Connected => 0,
            Seen::Errno(_) => 1,
            Seen::Silence => 2,
        }] += 1;
        if want != got {
            differ.push(format!(
                "{file}: {:40} iptables-legacy {:45} fw {}",
                p.label(&ifaces),
                describe(*want),
                describe(*got)
            ));
        }
    }
    eprintln!(
        "{file}: interfaces {ifaces:?}, {} ports, {} probes in {:?}: \
         iptables-legacy answered {}, errno {}, silence {}; {} differ",
        ports.len(),
        probes.len(),
        started.elapsed(),
        tally[0],
        tally[1],
        tally[2],
        differ.len()
    );
    assert!(
        results.iter().any(|r| r[0] == Seen::Connected),
        "{file}: no probe was answered"
    );
    assert!(
        probes
            .iter()
            .zip(&results)
            .any(|(p, r)| r[0] != Seen::Connected
                && (p.proto == Proto::Icmp || Some(p.port) != unheard)),
        "{file}: nothing was denied"
    );
    (differ, probes.len())
}

#[test]
fn corpus_verdicts_match_iptables_legacy() {
    require_iptables();
    let mut counts = Vec::new();
    let mut differ = Vec::new();
    for path in integration_tests::corpus_restore_files() {
        let input = completed(&name(&path), &std::fs::read_to_string(&path).unwrap());
        let Some(rs) = filter_table(&input) else {
            continue;
        };
        let (d, n) = compare_file(&path, &input, &rs);
        differ.extend(d);
        counts.push((name(&path), n));
    }
    assert!(
        differ.is_empty(),
        "{} probes differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    let loaded: Vec<&str> = counts.iter().map(|(f, _)| f.as_str()).collect();
    let mut want_loaded: Vec<&str> = LOADED.to_vec();
    want_loaded.extend(COMPLETED.iter().map(|(f, ..)| *f));
    want_loaded.sort();
    assert_eq!(loaded, want_loaded, "the corpus files fw loads");
    let want: Vec<(String, usize)> = PROBES.iter().map(|&(f, n)| (f.to_string(), n)).collect();
    assert_eq!(counts, want, "probes run per file");
}

/// What the labs are built from: concrete interface names, the probed
/// ports and the ephemeral window, from a ruleset of every kind of name.
#[test]
fn labs_are_built_from_what_the_file_names() {
    let text = "*filter\n\
        -A INPUT -i eth+ -p tcp --dport 1000:1002 -j ACCEPT\n\
        -A INPUT -i lo -j ACCEPT\n\
        -A INPUT -i + -j ACCEPT\n\
        -A FORWARD -o wg0 -p udp -m multiport --dports 9,65535 -j DROP\n\
        -A OUTPUT -p tcp --sport 61500 -j ACCEPT\n\
        COMMIT\n";
    let opts = RestoreOptions::default();
    let done = restore::restore(&State::default(), text, &opts, false, Services::system()).unwrap();
    let named = Named::of(&done.state.ruleset);
    assert_eq!(named.lab_interfaces(), ["eth0", "wg0", "fwx0"]);
    assert!(!named.tracks);
    let (ports, unheard) = named.ports();
    assert_eq!(
        ports,
        [
            8, 9, 10, 999, 1000, 1002, 1003, 2222, 44444, 61499, 61500, 61501, 65534, 65535
        ]
    );
    assert_eq!(unheard, Some(2222));
    assert_eq!(named.ephemeral(&ports), (60000, 60999));
    // Nothing named: two spares, the closed ports, a state match seen.
    let text = "*filter\n-A INPUT -m conntrack --ctstate NEW -j DROP\nCOMMIT\n";
    let done = restore::restore(&State::default(), text, &opts, false, Services::system()).unwrap();
    let named = Named::of(&done.state.ruleset);
    assert_eq!(named.lab_interfaces(), ["fwx0", "fwx1"]);
    assert!(named.tracks);
    assert_eq!(named.ports(), (CLOSED.to_vec(), Some(9)));
    assert_eq!(named.ephemeral(&CLOSED), (61000, 61999));
}
