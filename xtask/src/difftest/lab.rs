//! Twin labs: a sender and a DUT namespace joined by a veth, one DUT under
//! iptables-legacy, one under fw, an nftables observer after the filter
//! hook in both.

use std::{
    collections::BTreeMap,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    process::Output,
    sync::atomic::{AtomicU16, Ordering},
    time::Duration,
};

use anyhow::{Context as _, bail};
use integration_tests::{Netns, fw_bin, fw_reset, ip, unique_name};

use super::frames::{self, DUT_ADDRS, DUT_MAC, SOURCES, SRC_MAC};

const OBSERVER: &str = "table ip dtobs {
  set seen { typeof ip id; flags dynamic; size 65535; }
  chain in {
    type filter hook input priority 100; policy accept;
    update @seen { ip id }
  }
}
";

pub enum Verdict {
    Agree,
    Refused(String),
    Differ(String),
}

#[derive(PartialEq, Eq, Debug)]
struct Seen {
    arrived: Vec<bool>,
    counters: BTreeMap<String, Vec<u64>>,
}

struct Lab {
    legacy: bool,
    sender: Netns,
    dut: Netns,
    sock: OwnedFd,
    ifindex: i32,
    /// The DUT's TCP listeners, opened anew for every case.
    listeners: std::sync::Mutex<Vec<std::net::TcpListener>>,
}

/// Listeners on 22 and 80 in namespace `ns`: SYNs there get a SYN-ACK
/// (conntrack moves on).
fn listen(ns: &str) -> anyhow::Result<Vec<std::net::TcpListener>> {
    integration_tests::in_netns(ns, || {
        [22u16, 80]
            .iter()
            .filter_map(|p| std::net::TcpListener::bind(("0.0.0.0", *p)).ok())
            .collect::<Vec<_>>()
    })
}

pub struct Twin {
    labs: [Lab; 2],
}

static NEXT_ID: AtomicU16 = AtomicU16::new(1);

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

fn sh(ns: &str, script: &str, stdin: Option<&str>) -> anyhow::Result<Output> {
    let out = integration_tests::sh_in(ns, script, &[], stdin);
    Ok(out)
}

fn ok(ns: &str, script: &str, stdin: Option<&str>) -> anyhow::Result<String> {
    let out = sh(ns, script, stdin)?;
    if !out.status.success() {
        bail!(
            "in {ns}: {script}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Lab {
    fn new(legacy: bool) -> anyhow::Result<Self> {
        let base = unique_name(if legacy { "dt-ipt" } else { "dt-fw" })?;
        let sender = Netns::create(format!("{base}-s"))?;
        let dut = Netns::create(format!("{base}-d"))?;
        let (s, d) = (sender.name().to_string(), dut.name().to_string());
        ip(&format!(
            "-n {s} link add dts address {} type veth peer name dt0 address {} netns {d}",
            mac(SRC_MAC),
            mac(DUT_MAC)
        ))?;
        ok(
            &s,
            "sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip link set dts up; ip link set lo up",
            None,
        )?;
        let mut script = String::from(
            "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.conf.all.rp_filter=0 \
             net.ipv4.conf.default.rp_filter=0 net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 \
             net.ipv4.tcp_synack_retries=0 net.ipv4.tcp_max_tw_buckets=0 net.ipv4.tcp_syncookies=2\n\
             sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 net.netfilter.nf_conntrack_tcp_be_liberal=0 || true\n\
             ip link set lo up; ip link set dt0 up; sysctl -qw net.ipv4.conf.dt0.rp_filter=0\n\
             ip addr add 192.0.2.2/24 dev dt0\n",
        );
        for a in &DUT_ADDRS[1..] {
            script += &format!("ip addr add {}/32 dev dt0\n", dotted(*a));
        }
        script += &format!(
            "ip neigh replace 192.0.2.1 lladdr {} dev dt0 nud permanent\n",
            mac(SRC_MAC)
        );
        for a in SOURCES.iter().filter(|a| a[..3] == [192, 0, 2]) {
            script += &format!(
                "ip neigh replace {} lladdr {} dev dt0 nud permanent\n",
                dotted(*a),
                mac(SRC_MAC)
            );
        }
        script += "ip route add default via 192.0.2.1 dev dt0\nnft -f -\n";
        ok(&d, &script, Some(OBSERVER))?;
        let listeners = listen(&d)?;
        let (sock, ifindex) =
            integration_tests::in_netns(&s, || -> anyhow::Result<(OwnedFd, i32)> {
                // SAFETY: plain socket(2); the fd is owned at once.
                let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
                if fd < 0 {
                    bail!("AF_PACKET socket: {}", std::io::Error::last_os_error());
                }
                // SAFETY: fd is a fresh descriptor nobody else owns.
                let sock = unsafe { OwnedFd::from_raw_fd(fd) };
                // SAFETY: a NUL-terminated name.
                let idx = unsafe { libc::if_nametoindex(c"dts".as_ptr()) };
                Ok((sock, idx as i32))
            })??;
        Ok(Self {
            legacy,
            sender,
            dut,
            sock,
            ifindex,
            listeners: std::sync::Mutex::new(listeners),
        })
    }

    fn send(&self, f: &[u8]) {
        let mut sa: libc::sockaddr_ll = unsafe_zeroed();
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_ifindex = self.ifindex;
        sa.sll_halen = 6;
        sa.sll_addr[..6].copy_from_slice(&DUT_MAC);
        // SAFETY: buffer and address valid for the lengths given.
        unsafe {
            libc::sendto(
                self.sock.as_raw_fd(),
                f.as_ptr().cast(),
                f.len(),
                0,
                (&raw const sa).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            );
        }
    }

    /// Loads the ruleset; Err(text) when the back end refuses it.
    fn load(&self, ruleset: &str) -> anyhow::Result<Result<(), String>> {
        let d = self.dut.name();
        // No TCP state of an earlier case may answer this one's segments
        // (the two labs' stacks differ after a case with a known
        // difference): closing the listeners drops their half-open and
        // unaccepted connections, and no socket lingers in TIME_WAIT
        // (`tcp_max_tw_buckets=0`). Their RSTs leave before the counters
        // are zeroed.
        {
            let mut l = self
                .listeners
                .lock()
                .map_err(|_| anyhow::anyhow!("listeners"))?;
            l.clear();
            *l = listen(d)?;
        }
        let out = if self.legacy {
            sh(
                d,
                "iptables-legacy-restore && conntrack -F 2>/dev/null; true",
                Some(ruleset),
            )?
        } else {
            let fw = fw_bin();
            sh(
                d,
                &format!(
                    "{0} restore && {0} -Z && {0} conntrack -F >/dev/null",
                    fw.display()
                ),
                Some(ruleset),
            )?
        };
        if !out.status.success() {
            return Ok(Err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        Ok(Ok(()))
    }

    fn observe(&self, ids: &[u16]) -> anyhow::Result<Seen> {
        std::thread::sleep(Duration::from_millis(5));
        let d = self.dut.name();
        let listing = ok(
            d,
            "nft list set ip dtobs seen; nft flush set ip dtobs seen",
            None,
        )?;
        let mut got = std::collections::BTreeSet::new();
        if let Some(at) = listing.find("elements = {") {
            let rest = &listing[at + 12..];
            let end = rest.find('}').unwrap_or(rest.len());
            for tok in rest[..end].split(|c: char| c == ',' || c.is_whitespace()) {
                if let Ok(v) = tok.parse::<u16>() {
                    got.insert(v);
                }
            }
        }
        let save = if self.legacy {
            ok(d, "iptables-legacy-save -c -t filter", None)?
        } else {
            ok(d, &format!("{} save -c", fw_bin().display()), None)?
        };
        Ok(Seen {
            arrived: ids.iter().map(|i| got.contains(i)).collect(),
            counters: counters(&save),
        })
    }
}

fn unsafe_zeroed() -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all zeroes is valid.
    unsafe { std::mem::zeroed() }
}

/// Packet counts per chain: the policy (INPUT) then each rule in order.
fn counters(save: &str) -> BTreeMap<String, Vec<u64>> {
    let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let pk = |s: &str| {
        s.trim_start_matches('[')
            .split(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(u64::MAX)
    };
    for l in save.lines() {
        if let Some(rest) = l.strip_prefix(":INPUT ") {
            if let Some(c) = rest.split_whitespace().nth(1) {
                m.entry("INPUT policy".into()).or_default().push(pk(c));
            }
        } else if l.starts_with('[') {
            let mut w = l.split_whitespace();
            let c = w.next().unwrap_or_default();
            let _ = w.next();
            let chain = w.next().unwrap_or_default().to_string();
            m.entry(chain).or_default().push(pk(c));
        }
    }
    m
}

impl Twin {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            labs: [Lab::new(true)?, Lab::new(false)?],
        })
    }

    /// Runs one case in both labs and compares what arrived and the counters.
    pub fn compare(&self, ruleset: &str, frames: &[Vec<u8>]) -> anyhow::Result<Verdict> {
        // Fresh IDs at every send: no stale fragment or set entry can match.
        let mut remap = BTreeMap::new();
        let mut sent = Vec::new();
        let mut ids = Vec::new();
        for f in frames {
            let mut f = f.clone();
            let old = frames::id_of(&f).unwrap_or(0);
            let new = *remap.entry(old).or_insert_with(|| {
                let v = NEXT_ID.fetch_add(7, Ordering::Relaxed);
                if v == 0 {
                    NEXT_ID.fetch_add(7, Ordering::Relaxed)
                } else {
                    v
                }
            });
            frames::set_id(&mut f, new);
            ids.push(new);
            sent.push(f);
        }
        let results: Vec<anyhow::Result<Result<Seen, String>>> = std::thread::scope(|sc| {
            let hs: Vec<_> = self
                .labs
                .iter()
                .map(|lab| {
                    let (sent, ids) = (&sent, &ids);
                    sc.spawn(move || -> anyhow::Result<Result<Seen, String>> {
                        if let Err(e) = lab.load(ruleset)? {
                            return Ok(Err(e));
                        }
                        for f in sent {
                            lab.send(f);
                        }
                        Ok(Ok(lab.observe(ids)?))
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("lab thread"))
                .collect()
        });
        let mut it = results.into_iter();
        let legacy = it.next().context("legacy")??;
        let fw = it.next().context("fw")??;
        let (legacy, fw) = match (legacy, fw) {
            (Ok(l), Ok(f)) => (l, f),
            (Err(e), _) => {
                bail!("iptables-legacy-restore refused a generated ruleset: {e}\n{ruleset}")
            }
            (Ok(_), Err(e)) => return Ok(Verdict::Refused(e)),
        };
        if legacy == fw {
            return Ok(Verdict::Agree);
        }
        let mut d = String::new();
        for (i, (l, f)) in legacy.arrived.iter().zip(&fw.arrived).enumerate() {
            if l != f {
                d += &format!("  frame {i}: iptables-legacy {}, fw {}\n", arr(*l), arr(*f));
            }
        }
        if legacy.counters != fw.counters {
            d += &format!(
                "  counters iptables-legacy {:?}\n  counters fw              {:?}\n",
                legacy.counters, fw.counters
            );
        }
        Ok(Verdict::Differ(d))
    }
}

fn arr(b: bool) -> &'static str {
    if b { "arrived" } else { "dropped" }
}

impl Drop for Lab {
    fn drop(&mut self) {
        fw_reset(self.dut.name());
        fw_reset(self.sender.name());
    }
}
