//! The benchmark's results and their report: `benchmarks.md` (tables of
//! the latest run, the goals, the method), `bench-rate.png` and the raw
//! figures in `bench/*.csv`.
//!
//! The report is written anew on every run, except the block between
//! [`FINDINGS_START`] and [`FINDINGS_END`], which people write and every
//! run keeps. The IPv6 section (between [`IPV6_START`] and [`IPV6_END`],
//! figures in `bench/rate-ipv6.csv` and `bench/control-ipv6.csv`) and the
//! rest are each written only by a run that measured their family
//! (`--family`), so a run of one family keeps the other's tables.

use std::{fmt::Write as _, path::Path, time::Duration};

use anyhow::Context as _;

use super::{
    machine::Machine,
    peers::{Memory, Peer},
    rules::{Family, Flows, Hit},
    runner::Plan,
    sender::Rate,
    testrun::{Cost, REPEAT},
};

/// Start of the hand-written findings in benchmarks.md.
pub const FINDINGS_START: &str = "<!-- findings: written by hand, kept by `cargo xtask bench` -->";
/// End of the hand-written findings.
pub const FINDINGS_END: &str = "<!-- end of findings -->";
/// Start of the IPv6 section's generated text in benchmarks.md.
pub const IPV6_START: &str = "<!-- ipv6: written by `cargo xtask bench` when it measures IPv6 -->";
/// End of the IPv6 section.
pub const IPV6_END: &str = "<!-- end of ipv6 -->";
/// The IPv6 section's heading, before [`IPV6_START`].
const IPV6_HEADING: &str = "## 5. IPv6";

/// A control-plane operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Replace the ruleset by the N-rule one.
    Load,
    /// Append one rule to it.
    Add,
    /// List it with counters.
    List,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Load => "load",
            Op::Add => "append",
            Op::List => "list",
        }
    }
}

/// The packet rate of one peer with one ruleset.
#[derive(Clone, Debug)]
pub struct RateRow {
    /// The ruleset's and the traffic's family.
    pub family: Family,
    /// Rules before the DROP.
    pub n: u32,
    /// The receiver.
    pub peer: Peer,
    /// The traffic.
    pub flows: Flows,
    /// What was measured.
    pub rate: Rate,
}

/// The time of one control-plane operation.
#[derive(Clone, Debug)]
pub struct ControlRow {
    /// The ruleset's family.
    pub family: Family,
    /// Rules before the DROP.
    pub n: u32,
    /// The firewall.
    pub peer: Peer,
    /// The operation.
    pub op: Op,
    /// Median wall time.
    pub time: Duration,
}

/// Everything one run measured.
pub struct Results {
    /// What was run.
    pub plan: Plan,
    /// Where.
    pub machine: Machine,
    /// Whether fw's rulesets were loaded with `fw restore`.
    pub fw_restore: bool,
    /// Packet rates.
    pub rates: Vec<RateRow>,
    /// fw's packet rate on the 1,024 flows once ESTABLISHED, through the
    /// fast path, and on the same flows as NEW packets (cache hits) in
    /// alternate windows, by rule count.
    pub established: Vec<(u32, Rate, Rate)>,
    /// fw's per-packet cost on a frame of one of those flows, by rule
    /// count.
    pub established_costs: Vec<(u32, Cost)>,
    /// Per-packet costs of fw's program, by rule count.
    pub costs: Vec<(u32, Cost)>,
    /// The cost of the IPv6 probe's frame (last rule, cache hit), by rule
    /// count.
    pub costs6: Vec<(u32, Cost)>,
    /// Control-plane times.
    pub control: Vec<ControlRow>,
    /// Kernel memory, by rule count and peer.
    pub memory: Vec<(u32, Peer, Memory)>,
    /// fw's first loads (programs verified and attached, empty ruleset).
    pub fw_install: Vec<Duration>,
    /// XDP mode fw got on the lab's veth (`native` or `generic`).
    pub fw_xdp_mode: Option<String>,
    /// Failures and skipped measurements (IPv4).
    pub notes: Vec<String>,
    /// Failures and skipped measurements of IPv6.
    pub notes6: Vec<String>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl Results {
    /// Empty results for a run of `plan` on `machine`.
    pub fn new(plan: Plan, machine: Machine, fw_restore: bool) -> Self {
        Self {
            plan,
            machine,
            fw_restore,
            rates: Vec::new(),
            established: Vec::new(),
            established_costs: Vec::new(),
            costs: Vec::new(),
            costs6: Vec::new(),
            control: Vec::new(),
            memory: Vec::new(),
            fw_install: Vec::new(),
            fw_xdp_mode: None,
            notes: Vec::new(),
            notes6: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    /// How fw's rulesets were loaded.
    pub fn fw_loader(&self) -> &'static str {
        if self.fw_restore {
            "`fw restore`"
        } else {
            "fw's library and `fw -P` (no `fw restore` yet)"
        }
    }

    /// Packets per second of `peer` with ruleset `n` of family `f` and
    /// traffic `flows`.
    pub fn rate(&self, f: Family, n: u32, peer: Peer, flows: Flows) -> Option<f64> {
        self.rates
            .iter()
            .find(|r| r.family == f && r.n == n && r.peer == peer && r.flows == flows)
            .map(|r| r.rate.pps)
    }

    /// fw's packets per second on the ESTABLISHED flows with ruleset `n`.
    pub fn established_rate(&self, n: u32) -> Option<f64> {
        self.established
            .iter()
            .find(|(m, _, _)| *m == n)
            .map(|(_, r, _)| r.pps)
    }

    /// fw's packets per second on the same flows as NEW packets (cache
    /// hits), in the windows between the ESTABLISHED ones.
    pub fn alternate_hit_rate(&self, n: u32) -> Option<f64> {
        self.established
            .iter()
            .find(|(m, _, _)| *m == n)
            .map(|(_, _, r)| r.pps)
    }

    /// Time of `op` for `peer` with ruleset `n` of family `f`.
    pub fn control_time(&self, f: Family, n: u32, peer: Peer, op: Op) -> Option<Duration> {
        self.control
            .iter()
            .find(|r| r.family == f && r.n == n && r.peer == peer && r.op == op)
            .map(|r| r.time)
    }

    /// The notes of family `f`.
    pub fn notes_mut(&mut self, f: Family) -> &mut Vec<String> {
        match f {
            Family::V4 => &mut self.notes,
            Family::V6 => &mut self.notes6,
        }
    }

    /// Whether this run measured family `f`.
    fn measured(&self, f: Family) -> bool {
        self.plan.families.contains(&f)
    }

    fn memory_of(&self, n: u32, peer: Peer) -> Option<&Memory> {
        self.memory
            .iter()
            .find(|(m, p, _)| *m == n && *p == peer)
            .map(|(_, _, m)| m)
    }
}

/// Writes the report into `dir`: benchmarks.md, bench-rate.png and
/// bench/{rate,cost,control,memory}.csv for IPv4,
/// bench/{rate,control}-ipv6.csv for IPv6; only the files of the families
/// this run measured (see the module's documentation).
///
/// # Errors
/// When a file cannot be written.
pub fn write(dir: &Path, r: &Results) -> anyhow::Result<()> {
    let csv_dir = dir.join("bench");
    std::fs::create_dir_all(&csv_dir).with_context(|| format!("create {}", csv_dir.display()))?;
    let put = |name: &str, text: String| -> anyhow::Result<()> {
        let p = csv_dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("write {}", p.display()))
    };
    if r.measured(Family::V4) {
        put("rate.csv", rate_csv(r, Family::V4))?;
        put("cost.csv", cost_csv(&r.costs))?;
        put("control.csv", control_csv(r, Family::V4))?;
        put("memory.csv", memory_csv(r))?;
        let png = dir.join("bench-rate.png");
        if let Err(e) = super::plot::draw(&png, r) {
            eprintln!("bench: no plot: {e:#}");
        }
    }
    if r.measured(Family::V6) {
        put("rate-ipv6.csv", rate_csv(r, Family::V6))?;
        put("control-ipv6.csv", control_csv(r, Family::V6))?;
        put("cost-ipv6.csv", cost_csv(&r.costs6))?;
    }
    let md = dir.join("benchmarks.md");
    let old = std::fs::read_to_string(&md).ok();
    let block = |start: &str, end: &str| {
        let old = old.as_deref()?;
        let (a, b) = (old.find(start)?, old.find(end)?);
        (b > a).then(|| old[a + start.len()..b].trim().to_owned())
    };
    let ipv6 = if r.measured(Family::V6) {
        ipv6_section(r)
    } else {
        block(IPV6_START, IPV6_END).unwrap_or_else(|| "(not measured yet)".into())
    };
    let text = match old.as_deref() {
        // Only IPv6 measured: the old report with its IPv6 section replaced.
        Some(old) if !r.measured(Family::V4) => with_ipv6(old, &ipv6),
        _ => markdown(
            r,
            &block(FINDINGS_START, FINDINGS_END).unwrap_or_default(),
            &ipv6,
        ),
    };
    std::fs::write(&md, text).with_context(|| format!("write {}", md.display()))
}

/// The IPv6 section with its heading, `body` between the markers.
fn ipv6_block(body: &str) -> String {
    format!("{IPV6_HEADING}\n\n{IPV6_START}\n{body}\n{IPV6_END}\n")
}

/// Report `old` with its IPv6 section's body replaced by `body`; a report
/// without one gets it before its Method.
fn with_ipv6(old: &str, body: &str) -> String {
    if let (Some(a), Some(b)) = (old.find(IPV6_START), old.find(IPV6_END))
        && b > a
    {
        return format!("{}{IPV6_START}\n{body}\n{}", &old[..a], &old[b..]);
    }
    let at = old.find("## Method").unwrap_or(old.len());
    format!("{}{}\n{}", &old[..at], ipv6_block(body), &old[at..])
}

/// The rates of family `f` (IPv4: with fw's ESTABLISHED rows).
fn rate_csv(r: &Results, f: Family) -> String {
    let mut s = String::from("rules,peer,traffic,packets_per_second,window_packets_per_second\n");
    for row in r.rates.iter().filter(|row| row.family == f) {
        let windows: Vec<String> = row.rate.windows.iter().map(|w| format!("{w:.0}")).collect();
        let _ = writeln!(
            s,
            "{},{},{},{:.0},{}",
            row.n,
            row.peer.name_in(f),
            row.flows.name(),
            row.rate.pps,
            windows.join(";")
        );
    }
    let established = if f == Family::V4 {
        &r.established[..]
    } else {
        &[]
    };
    for (n, est, hit) in established {
        for (name, rate) in [(ESTABLISHED_NAME, est), (ALTERNATE_NAME, hit)] {
            let windows: Vec<String> = rate.windows.iter().map(|w| format!("{w:.0}")).collect();
            let _ = writeln!(
                s,
                "{n},{},{name},{:.0},{}",
                Peer::Fw.name(),
                rate.pps,
                windows.join(";")
            );
        }
    }
    s
}

/// The ESTABLISHED traffic's name in rate.csv.
const ESTABLISHED_NAME: &str = "1024-flows-established";
/// The same flows as NEW packets, in the windows between, in rate.csv.
const ALTERNATE_NAME: &str = "1024-flows-new-alternating";
/// The ESTABLISHED traffic's name in the report.
const ESTABLISHED_LABEL: &str = "1,024 flows, ESTABLISHED (fast path)";

fn cost_csv(costs: &[(u32, Cost)]) -> String {
    let mut s = String::from(
        "rules,packet_matches,match_cache,repetitions,fw_ns_per_packet,empty_xdp_ns_per_packet\n",
    );
    for (n, c) in costs {
        let (cache, reps) = match c.single {
            None => ("hit", REPEAT),
            Some(false) => ("hit", 1),
            Some(true) => ("miss", 1),
        };
        let _ = writeln!(
            s,
            "{n},{},{cache},{reps},{},{}",
            c.hit.name(),
            c.fw_ns,
            c.empty_ns
        );
    }
    s
}

fn control_csv(r: &Results, f: Family) -> String {
    let mut s = String::from("rules,peer,operation,milliseconds\n");
    for row in r.control.iter().filter(|row| row.family == f) {
        let _ = writeln!(
            s,
            "{},{},{},{:.3}",
            row.n,
            row.peer.name_in(f),
            row.op.name(),
            ms(row.time)
        );
    }
    s
}

fn memory_csv(r: &Results) -> String {
    let mut s = String::from("rules,peer,bytes,method\n");
    for (n, p, m) in &r.memory {
        let _ = writeln!(s, "{n},{},{},{}", p.name(), m.bytes, m.method);
    }
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Three significant digits.
fn sig3(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn kpps(pps: f64) -> String {
    sig3(pps / 1e3)
}

fn times(x: f64) -> String {
    format!("{}×", sig3(x))
}

fn bytes(b: i64) -> String {
    let m = b as f64 / (1024.0 * 1024.0);
    if m.abs() >= 1.0 {
        format!("{} MiB", sig3(m))
    } else {
        format!("{} KiB", sig3(b as f64 / 1024.0))
    }
}

fn with_commas(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A Markdown table.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|", head.join(" | "));
    // Numbers right-aligned; the first column names the row.
    for (i, _) in head.iter().enumerate() {
        s.push_str(if i == 0 { "---|" } else { "---:|" });
    }
    s.push('\n');
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// Peers that hold the ruleset, in report order.
const RULE_PEERS: [Peer; 4] = [Peer::Legacy, Peer::IptNft, Peer::NftSet, Peer::Fw];

/// One goal's row: what it asks, of which traffic, this run's figures,
/// the verdict.
fn goal_row(what: &str, traffic: &str, got: Option<(String, bool)>) -> Vec<String> {
    let (detail, verdict) = match got {
        Some((d, ok)) => (d, if ok { "**met**" } else { "**missed**" }.to_owned()),
        None => ("not measured in this run".to_owned(), "–".to_owned()),
    };
    vec![what.to_owned(), traffic.to_owned(), detail, verdict]
}

/// The flatness goal: fw's rate at 10,000 rules against its rate at 1
/// (connection tracking runs on every packet).
const FLAT_GOAL: &str = "at 10,000 rules, fw's rate ≥ 90% of its rate at 1 rule, conntrack on";

/// [`FLAT_GOAL`]'s figures from `rate` (by rule count).
fn flat(rate: impl Fn(u32) -> Option<f64>) -> Option<(String, bool)> {
    rate(10_000).zip(rate(1)).map(|(a, b)| {
        (
            format!("{} vs {} kpps: {:.0}%", kpps(a), kpps(b), 100.0 * a / b),
            a >= 0.9 * b,
        )
    })
}

/// The 30× goal's figures from `rate` (by peer, at 5,000 rules): fw's
/// against iptables-nft's.
fn thirty(rate: impl Fn(Peer) -> Option<f64>) -> Option<(String, bool)> {
    rate(Peer::Fw).zip(rate(Peer::IptNft)).map(|(f, i)| {
        (
            format!("{} vs {} kpps: {}", kpps(f), kpps(i), times(f / i)),
            f >= 30.0 * i,
        )
    })
}

/// The lowest and highest of `pairs` (rule count, ratio), worded: "what:
/// 0.9× to 1.1×, lowest at N = 5,000", and whether the lowest is at least
/// `floor`.
fn ratio_range(what: &str, pairs: &[(u32, f64)], floor: f64) -> Option<(String, bool)> {
    let worst = pairs.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
    let best = pairs.iter().map(|p| p.1).fold(0.0, f64::max);
    worst.map(|(n, w)| {
        (
            format!(
                "{what}: {} to {}, lowest at N = {}",
                times(w),
                times(best),
                with_commas(n)
            ),
            w >= floor,
        )
    })
}

fn goals(r: &Results) -> String {
    let mut rows = Vec::new();
    for flows in Flows::ALL {
        let rate = |n, p| r.rate(Family::V4, n, p, flows);
        rows.push(goal_row(
            "at 5,000 rules, fw's rate ≥ 30× iptables-nft's",
            flows.label(),
            thirty(|p| rate(5000, p)),
        ));
        rows.push(goal_row(
            FLAT_GOAL,
            flows.label(),
            flat(|n| rate(n, Peer::Fw)),
        ));
        let pairs: Vec<(u32, f64)> = r
            .plan
            .ns
            .iter()
            .filter_map(|&n| Some((n, rate(n, Peer::Fw)? / rate(n, Peer::NftSet)?)))
            .collect();
        rows.push(goal_row(
            "fw's rate ≥ nftables-with-a-set's, at every N",
            flows.label(),
            ratio_range("fw ÷ nftables", &pairs, 1.0),
        ));
    }
    rows.push(goal_row(
        FLAT_GOAL,
        ESTABLISHED_LABEL,
        flat(|n| r.established_rate(n)),
    ));
    rows.push(goal_row(
        "ESTABLISHED traffic through the fast path within 10% of fw's cache-hit rate (1,024 flows), at every N",
        ESTABLISHED_LABEL,
        ratio_range("fast path ÷ cache hit", &fast_over_hit(r), 0.9),
    ));
    table(&["goal", "traffic", "this run", "verdict"], &rows)
}

/// The rates of family `f` on traffic `flows`: each peer's, then fw's
/// over each other's; `extra` adds the cells of columns `extra_head` at
/// the end of a row.
fn rate_table(
    r: &Results,
    f: Family,
    flows: Flows,
    extra_head: &[&str],
    extra: impl Fn(u32, &mut Vec<String>),
) -> String {
    let mut head = vec!["N".to_owned()];
    head.extend(Peer::ALL.iter().map(|p| p.label_in(f).to_owned()));
    let others = [Peer::Legacy, Peer::IptNft, Peer::NftSet, Peer::None];
    head.extend(others.iter().map(|p| format!("fw ÷ {}", p.label_in(f))));
    head.extend(extra_head.iter().map(|&h| h.to_owned()));
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    per_n_table(r.plan.ns_of(f), &head, |n, row| {
        for p in Peer::ALL {
            row.push(r.rate(f, n, p, flows).map_or("–".into(), kpps));
        }
        let fw = r.rate(f, n, Peer::Fw, flows);
        for p in others {
            row.push(match (fw, r.rate(f, n, p, flows)) {
                (Some(f), Some(x)) if x > 0.0 => times(f / x),
                _ => "–".into(),
            });
        }
        extra(n, row);
    })
}

/// (N, fw's ESTABLISHED rate ÷ its 1,024-flow rate) for each N that has
/// both.
fn fast_over_hit(r: &Results) -> Vec<(u32, f64)> {
    r.plan
        .ns
        .iter()
        .filter_map(|&n| Some((n, r.established_rate(n)? / r.alternate_hit_rate(n)?)))
        .collect()
}

/// fw's ESTABLISHED rate next to its cache-hit rates.
fn established_table(r: &Results) -> String {
    let head = [
        "N",
        "fw, ESTABLISHED (fast path)",
        "fw, same flows NEW (cache hit), windows between",
        "fast path ÷ cache hit",
        "fw, 1,024 flows (table above)",
        "test run: fw, ESTABLISHED",
        "test run: fw, last rule (cache hit)",
    ];
    per_n_table(&r.plan.ns, &head, |n, row| {
        let (e, h) = (r.established_rate(n), r.alternate_hit_rate(n));
        row.push(e.map_or("–".into(), kpps));
        row.push(h.map_or("–".into(), kpps));
        row.push(match (e, h) {
            (Some(e), Some(h)) if h > 0.0 => times(e / h),
            _ => "–".into(),
        });
        row.push(
            r.rate(Family::V4, n, Peer::Fw, Flows::Ports)
                .map_or("–".into(), kpps),
        );
        let est = r.established_costs.iter().find(|(m, _)| *m == n);
        row.push(est.map_or("–".into(), |(_, c)| format!("{} ns", c.fw_ns)));
        let hit = r
            .costs
            .iter()
            .find(|(m, c)| *m == n && c.hit == Hit::Last && c.single.is_none());
        row.push(hit.map_or("–".into(), |(_, c)| format!("{} ns", c.fw_ns)));
    })
}

/// A table with a row for each N of `ns`: N, then the cells `cells` adds
/// for it.
fn per_n_table(ns: &[u32], head: &[&str], cells: impl Fn(u32, &mut Vec<String>)) -> String {
    let rows: Vec<Vec<String>> = ns
        .iter()
        .map(|&n| {
            let mut row = vec![with_commas(n)];
            cells(n, &mut row);
            row
        })
        .collect();
    table(head, &rows)
}

fn cost_table(r: &Results) -> String {
    let head = [
        "N",
        "empty XDP",
        "fw, matches last rule",
        "fw, matches first rule",
        "fw, matches no rule",
        "1 rep.: empty XDP",
        "1 rep.: fw, last rule, cache hit",
        "1 rep.: fw, last rule, cache miss",
    ];
    let cell = |c: Option<Cost>| match c {
        Some(c) if c.empty_ns > 0 => format!(
            "{} ns ({})",
            c.fw_ns,
            times(f64::from(c.fw_ns) / f64::from(c.empty_ns))
        ),
        Some(c) => format!("{} ns", c.fw_ns),
        None => "–".into(),
    };
    let rows: Vec<Vec<String>> = r
        .plan
        .ns
        .iter()
        .filter(|&&n| r.costs.iter().any(|(m, _)| *m == n))
        .map(|&n| {
            let get = |h: Hit, single: Option<bool>| {
                r.costs
                    .iter()
                    .find(|(m, c)| *m == n && c.hit == h && c.single == single)
                    .map(|(_, c)| *c)
            };
            let empty = |single| {
                get(Hit::Last, single).map_or("–".into(), |c| format!("{} ns", c.empty_ns))
            };
            let mut row = vec![with_commas(n), empty(None)];
            for h in Hit::ALL {
                row.push(cell(get(h, None)));
            }
            row.push(empty(Some(true)));
            row.push(cell(get(Hit::Last, Some(false))));
            row.push(cell(get(Hit::Last, Some(true))));
            row
        })
        .collect();
    table(&head, &rows)
}

fn control_table(r: &Results, f: Family, op: Op) -> String {
    let mut head = vec!["N"];
    head.extend(RULE_PEERS.iter().map(|p| p.label_in(f)));
    let over = format!("fw ÷ {}", Peer::IptNft.label_in(f));
    head.push(&over);
    per_n_table(r.plan.ns_of(f), &head, |n, row| {
        for p in RULE_PEERS {
            row.push(
                r.control_time(f, n, p, op)
                    .map_or("–".into(), |t| format!("{} ms", sig3(ms(t)))),
            );
        }
        row.push(
            match (
                r.control_time(f, n, Peer::Fw, op),
                r.control_time(f, n, Peer::IptNft, op),
            ) {
                (Some(f), Some(i)) if !i.is_zero() => times(f.as_secs_f64() / i.as_secs_f64()),
                _ => "–".into(),
            },
        );
    })
}

fn memory_table(r: &Results) -> String {
    let mut head = vec!["N"];
    head.extend(RULE_PEERS.iter().map(|p| p.label()));
    per_n_table(&r.plan.ns, &head, |n, row| {
        for p in RULE_PEERS {
            row.push(r.memory_of(n, p).map_or("–".into(), |m| {
                let approx = if m.exact { "" } else { "≈ " };
                format!("{approx}{}", bytes(m.bytes))
            }));
        }
    })
}

fn fw_parts(r: &Results) -> String {
    let Some(&n) = r
        .plan
        .ns
        .iter()
        .rev()
        .find(|&&n| r.memory_of(n, Peer::Fw).is_some())
    else {
        return String::new();
    };
    let m = r.memory_of(n, Peer::Fw).expect("found");
    let rows: Vec<Vec<String>> = m
        .parts
        .iter()
        .map(|(name, b)| vec![name.clone(), bytes(*b as i64)])
        .collect();
    format!(
        "fw's memory at N = {} by object (`memlock` of each program and map):\n\n{}",
        with_commas(n),
        table(&["object", "memlock"], &rows)
    )
}

/// The whole report; `findings` and `ipv6` are the bodies of those two
/// sections.
fn markdown(r: &Results, findings: &str, ipv6: &str) -> String {
    let m = &r.machine;
    let p = &r.plan;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Benchmarks\n\n\
         fw against the kernel's own firewalls on the same ruleset: N rules that \
         the probe traffic does not match, then the DROP rule it does. Written by \
         `cargo xtask bench{}` ({}); run it again to refresh every table, the plot \
         ([`bench-rate.png`](bench-rate.png)) and the raw figures \
         ([`bench/*.csv`](bench/)). The machine is shared and noisy: what carries \
         over to other machines are the ratios within one run, not the absolute \
         figures.\n",
        if p.quick { " --quick" } else { "" },
        if p.quick {
            "a **quick** run: fewer rule counts, two short windows per rate, no repetitions"
        } else {
            "a full run"
        }
    );
    let _ = writeln!(s, "## Machine and run\n");
    let mut rows = vec![
        vec!["CPU".into(), m.cpu.clone()],
        vec!["cores".into(), m.cores.to_string()],
        vec!["kernel".into(), m.kernel.clone()],
        vec!["memory".into(), format!("{:.0} GiB", m.memory_gib)],
    ];
    for (t, v) in &m.tools {
        rows.push(vec![t.clone(), v.clone()]);
    }
    rows.extend([
        vec!["fw commit".into(), m.commit.clone()],
        vec!["fw rulesets loaded with".into(), r.fw_loader().into()],
        vec![
            "fw's XDP mode on the veth".into(),
            r.fw_xdp_mode.clone().unwrap_or_else(|| "unknown".into()),
        ],
        vec!["date".into(), m.date.clone()],
        vec![
            "rate windows".into(),
            format!(
                "{} × {:?} after {:?} of warm-up (median)",
                p.windows, p.window, p.warmup
            ),
        ],
        vec![
            "control-plane repetitions".into(),
            format!("{} (median)", p.reps),
        ],
        vec!["run time".into(), format!("{:.0?}", r.elapsed)],
    ]);
    s.push_str(&table(&["", ""], &rows).replace("|---|---:|", "|---|---|"));
    let _ = writeln!(
        s,
        "\n## Goals\n\n{}\nIPv6's goals are in [section 5](#5-ipv6).\n",
        goals(r)
    );
    let _ = writeln!(
        s,
        "## Findings\n\n{FINDINGS_START}\n{}\n{FINDINGS_END}\n",
        if findings.is_empty() {
            "(none written yet)"
        } else {
            findings
        }
    );
    let _ = writeln!(
        s,
        "## 1. Packet rate\n\n\
         Probe packets handled (dropped by the last rule) per second, in thousands \
         (kpps); `fw ÷ X` is fw's rate over X's. Two kinds of traffic: the flows \
         of the first all fit in fw's match cache, those of the second almost \
         never repeat (see Method). The plot draws the first solid, the second \
         dashed.\n\n![packet rate against rule count](bench-rate.png)\n"
    );
    for flows in Flows::ALL {
        let _ = writeln!(
            s,
            "**{}**\n\n{}",
            flows.label(),
            rate_table(r, Family::V4, flows, &[], |_, _| {})
        );
    }
    let _ = writeln!(
        s,
        "**{ESTABLISHED_LABEL}**: fw alone, ruleset N behind `-A INPUT {}` (see \
         Method), next to its rate on the same 1,024 flows as NEW packets that \
         the last rule drops (the match cache answers), measured in windows \
         alternating with the ESTABLISHED ones in the same lab, and the per-packet cost \
         of each in the kernel's test run ({} repetitions of one frame, as in \
         section 2: a frame of an ESTABLISHED flow, and the probe's frame \
         matching the last rule).\n\n{}",
        super::rules::ESTABLISHED_SPEC,
        with_commas(REPEAT),
        established_table(r)
    );
    let _ = writeln!(
        s,
        "## 2. Per-packet cost of fw's XDP program\n\n\
         Nanoseconds per packet measured by the kernel (`BPF_PROG_TEST_RUN`, {} \
         repetitions of one 64-byte frame, median of {} runs), and the multiple \
         of an empty XDP program (`return XDP_PASS`) measured on the same frame \
         right before. From the second repetition on, fw answers from its match \
         cache. The last three columns (\"1 rep.\") come from {} runs of one \
         repetition each (median): the empty program, fw on the probe's frame \
         (in the cache), and fw on a flow it has not seen in each run (a cache \
         miss: the classifier's search and the cache insert). A single \
         repetition includes the kernel's timing of it and runs with cold CPU \
         caches; the empty program's figure shows that floor, the hit's the \
         same for fw. The kernel reports whole nanoseconds.\n\n{}",
        with_commas(REPEAT),
        p.runs,
        with_commas(p.misses as u32),
        cost_table(r)
    );
    let install = if r.fw_install.is_empty() {
        String::new()
    } else {
        let mut t = r.fw_install.clone();
        t.sort_unstable();
        format!(
            "fw's first load in a namespace (object loaded, programs verified, \
             pinned and attached to `lo` and the veth, empty ruleset; `fw -P INPUT \
             ACCEPT`): {} ms (median of {}).\n",
            sig3(ms(t[t.len() / 2])),
            t.len()
        )
    };
    let _ = writeln!(
        s,
        "## 3. Control plane\n\n\
         Wall time of the command, from start to exit, run with `ip netns exec` \
         (median of {}); `fw ÷ iptables-nft` is fw's time over iptables-nft's \
         (above 1: fw is slower).\n\n\
         **Load**: replace an empty ruleset by the N-rule one \
         (`iptables-restore`, `nft -f`, fw: {}).\n\n{}\n\
         **Append** one rule to the N-rule ruleset (`-A`; nftables: `nft add \
         element` to the set).\n\n{}\n\
         **List** with counters (`-L INPUT -v -x -n`; nftables: `nft list \
         ruleset`).\n\n{}\n{install}",
        p.reps,
        r.fw_loader(),
        control_table(r, Family::V4, Op::Load),
        control_table(r, Family::V4, Op::Add),
        control_table(r, Family::V4, Op::List),
    );
    let _ = writeln!(
        s,
        "## 4. Kernel memory\n\n\
         Memory the kernel holds for the loaded ruleset (see Method for what \
         each figure is; ≈: a system-wide difference, ±0.2 MiB).\n\n{}\n{}",
        memory_table(r),
        fw_parts(r)
    );
    s.push_str(&ipv6_block(ipv6));
    s.push('\n');
    s.push_str(METHOD);
    if !r.notes.is_empty() {
        let _ = writeln!(s, "\n## Notes on this run\n");
        for n in &r.notes {
            let _ = writeln!(s, "* {n}");
        }
    }
    s
}

/// The IPv6 section's body: the run, its goals, rates, loads, listings,
/// method and notes.
fn ipv6_section(r: &Results) -> String {
    let (m, p, f, flows) = (&r.machine, &r.plan, Family::V6, Flows::Ports);
    let rate = |n, peer| r.rate(f, n, peer, flows);
    let goals = table(
        &["goal", "traffic", "this run", "verdict"],
        &[
            goal_row(
                "at 5,000 rules, fw's rate ≥ 30× ip6tables-nft's",
                flows.label(),
                thirty(|peer| rate(5000, peer)),
            ),
            goal_row(FLAT_GOAL, flows.label(), flat(|n| rate(n, Peer::Fw))),
        ],
    );
    let ns_cost = |costs: &[(u32, Cost)], n: u32| {
        costs
            .iter()
            .find(|(m, c)| *m == n && c.hit == Hit::Last && c.single.is_none())
            .map_or("–".into(), |(_, c)| format!("{} ns", c.fw_ns))
    };
    let extra = |n: u32, row: &mut Vec<String>| {
        let v4 = r.rate(Family::V4, n, Peer::Fw, flows);
        row.push(match (rate(n, Peer::Fw), v4) {
            (Some(a), Some(b)) if b > 0.0 => times(a / b),
            _ => "–".into(),
        });
        row.push(ns_cost(&r.costs6, n));
        row.push(ns_cost(&r.costs, n));
    };
    let rates = rate_table(
        r,
        f,
        flows,
        &[
            "fw IPv6 ÷ fw IPv4 (this run)",
            "test run: fw, IPv6 probe",
            "test run: fw, IPv4 probe",
        ],
        extra,
    );
    let mut s = format!(
        "From `cargo xtask bench{}{}` ({}), {} at {}: the IPv4 \
         benchmark's ruleset and probe in IPv6 (Method below), {} × {:?} windows \
         after {:?} of warm-up per rate (median), rule counts {}.\n\n\
         **Goals (IPv6)**\n\n{goals}\n\
         **Packet rate**, {} in IPv6, in kpps (`fw ÷ X` is fw's rate over X's). \
         The last columns: fw's IPv6 rate over its IPv4 rate at the same N when \
         this run measured both, and the kernel's test run of fw's XDP program \
         ({} repetitions of one frame, match-cache hits, median of {} runs) on \
         the IPv6 probe's 62-byte frame and, from section 2, on the IPv4 \
         probe's.\n\n{rates}\n\
         **Load** (`ip6tables-restore`, `nft -f`, `fw -6 restore`; one run \
         each).\n\n{}\n\
         **List** with counters (`-L INPUT -v -x -n`, `fw -6 -L INPUT -v -x -n`, \
         `nft list ruleset`; one run each).\n\n{}\n",
        if p.quick { " --quick" } else { "" },
        if r.measured(Family::V4) {
            ""
        } else {
            " --family ipv6"
        },
        if p.quick { "quick" } else { "full" },
        m.date,
        m.commit,
        p.windows,
        p.window,
        p.warmup,
        p.ns6
            .iter()
            .map(|&n| with_commas(n))
            .collect::<Vec<_>>()
            .join(", "),
        flows.label(),
        with_commas(REPEAT),
        p.runs,
        control_table(r, f, Op::Load),
        control_table(r, f, Op::List),
    );
    s.push_str(METHOD6);
    if !r.notes6.is_empty() {
        s.push_str("\n**Notes on this run (IPv6)**\n\n");
        for n in &r.notes6 {
            let _ = writeln!(s, "* {n}");
        }
    }
    s.trim_end().to_owned()
}

/// How the IPv6 rows differ from the IPv4 ones.
const METHOD6: &str = "\
**Method (IPv6).** As for IPv4 (Method), in a lab whose veth ends also \
have 2001:db8::1/64 (client) and 2001:db8::2/64 (server), without \
duplicate address detection. The ruleset: N rules `-A INPUT -s A/128 -p \
udp -m udp --dport P -j ACCEPT`, A in 2001:db8:1::1-fe and 2001:db8:2::1-fe \
(the IPv4 fillers' hosts and ports, filler by filler), then `-A INPUT -s \
2001:db8::/64 -p udp -m udp --sport 1024:65535 --dport 9 -j DROP`; policy \
ACCEPT; every address in 2001:db8::/32 (RFC 3849). ip6tables-legacy, \
ip6tables-nft and fw (`fw -6 restore`, fw's IPv6 table) get it as an \
ip6tables-restore file; nftables a `table ip6` with a set of type \
`ipv6_addr . inet_service` (`ip6 saddr . udp dport @allowed accept`, \
then `ip6 saddr 2001:db8::/64 udp sport 1024-65535 udp dport 9 counter \
drop`). The traffic: the 1,024 flows only (2001:db8::1, source ports \
1024-2047, to 2001:db8::2 port 9), in 62-byte frames, 66 on the wire: \
Ethernet, IPv6 and UDP headers (14 + 40 + 8) and no payload, the smallest \
IPv6 UDP frame (it needs no padding), 2 bytes more than IPv4's 60-byte \
frames; trafgen fills in the UDP checksum, which IPv6 requires. Counted \
as for IPv4: each DROP rule's counter (`ip6tables -L INPUT N+1 -v -x`, \
`fw -6 -L INPUT -v -x`, nft's `counter`); for no firewall \
`Udp6NoPorts` + `Udp6InErrors` of the namespace's /proc/net/snmp6. The \
listing is checked as for IPv4. Loads and listings are timed once each; \
no memory, append or ESTABLISHED measurements. fw's connection tracking \
covers IPv6 too, so it runs on every IPv6 probe packet as on IPv4's.
";

/// The method, as the code implements it (`xtask/src/bench/`).
const METHOD: &str = "\
## Method

**Lab.** Every measurement of every firewall and rule count gets a fresh \
pair of network namespaces joined by a veth pair (`integration_tests::Lab`): \
the client 192.0.2.1, the server 192.0.2.2. A fresh namespace means no \
table, hook or program left by another firewall: iptables-legacy's tables, \
for one, stay registered in a namespace once used. Nothing on the host's own \
interfaces or firewall is touched; the labs are removed on exit and on \
Ctrl-C.

**Ruleset.** N rules `-A INPUT -s A/32 -p udp -m udp --dport P -j ACCEPT` \
with A in 198.51.100.1-254 and 203.0.113.1-254 and P spread over \
1024-65023 (no two alike), then `-A INPUT -s 192.0.2.0/24 -p udp -m udp \
--sport 1024:65535 --dport 9 -j DROP`; policy ACCEPT. iptables-legacy, \
iptables-nft and fw get it as an iptables-restore file. nftables gets what \
an nftables user would write instead: the N (address, port) pairs as \
elements of one set of type `ipv4_addr . inet_service` matched by one rule \
(`ip saddr . udp dport @allowed accept`), each element with its own \
counter as each iptables rule has, then `ip saddr 192.0.2.0/24 udp sport \
1024-65535 udp dport 9 counter drop`. After the traffic, the listing of \
each ruleset is checked: the DROP rule counted packets and no other rule \
did.

**Packet rate.** trafgen (netsniff-ng) in the client namespace sends \
60-byte frames (64 bytes on the wire) of UDP to port 9 through a \
`PACKET_TX_RING` straight to the veth driver (no qdisc), one process on \
CPU 0, in two kinds of traffic:

* *1,024 flows*: from 192.0.2.1, the source port counting through \
  1024-2047. fw remembers the outcome of recent chain searches in a \
  match cache keyed by the values of the fields the chain's rules use \
  (here source address, protocol and both ports); 1,024 flows that \
  repeat every 1,024 packets stay in it, so nearly every packet is a \
  cache hit.
* *16 M flows*: source address (192.0.2.3-253) and source port \
  (1024-65535) counting together, 251 × 64,512 = 16,192,512 flows before \
  one repeats: almost every packet is a cache miss, which is what a \
  server sees from many clients. The DROP rule names the source port \
  range only so that such traffic can exist within the documentation \
  addresses: it makes the port part of fw's cache key, and costs \
  netfilter nothing measurable (xt_udp compares both port ranges \
  anyway).

On a veth the receiving side runs in the softirq the sender's transmit \
raises, on the same CPU: the rate is that of one CPU sending and \
receiving, so a cheaper receive path shows as a higher rate but the \
sender's own cost caps every figure (compare *no firewall* and *XDP \
drop-all*). \"Handled\" is counted at the receiver, by the receiver's own \
counter of the packets it disposed of:

* no firewall: the namespace's `Udp: NoPorts` + `InErrors` (the datagram \
  went up the whole stack, found no socket and was dropped);
* iptables-legacy, iptables-nft: the DROP rule's packet counter \
  (`-L INPUT N+1 -v -x`);
* nftables: the DROP rule's `counter`;
* fw: the DROP rule's counter (`fw -L INPUT -v -x`);
* XDP drop-all: a reference, not a firewall: a hand-written XDP program \
  that counts each packet in a per-CPU array and drops it, attached \
  natively like fw. It is the most any XDP program can do in this lab: \
  on a veth, XDP gets an skb (the sender built one) and copies it into an \
  XDP buffer first. On a physical NIC's native XDP no skb exists yet, so \
  fw's lead over netfilter there would be larger than here.

*ESTABLISHED, through the fast path* (fw only): the ruleset is N \
rules behind a first rule `-m conntrack --ctstate RELATED,ESTABLISHED -j \
DROP` (the fillers and the DROP rule follow), which fw's compiler finds \
decides every ESTABLISHED packet, so the kernel takes it without the \
classifier's search or its match cache. Its target is DROP, not the usual \
ACCEPT, only so that the packets end at XDP as every other probe does (an \
accepted packet would measure the kernel's UDP stack); the fast path \
takes either verdict the same way. Before the traffic, the server opens \
each of the 1,024 flows itself: one datagram from port 9 to each of the \
client's ports 1024-2047, through fw's OUTPUT hook, which records the \
connection as it does for any the server starts (`fw conntrack -C` is \
checked to hold them all). The probe packets are then replies: \
ESTABLISHED, each updating its connection's entry. Counted by the first \
rule's counter; afterwards the last rule, which would take a probe packet \
that was not ESTABLISHED, is checked to have counted none. Then `fw \
conntrack -F` forgets the flows and the same traffic, now NEW, is \
measured on the same ruleset (the last rule's counter, answered by the \
match cache): the two alternate window by window, each window with its \
own warm-up, so that load from elsewhere on the machine falls on both \
alike; the goal compares their medians. In the other \
traffic connection tracking runs too: every probe packet is looked up, \
found in no entry, NEW, and dropped before an entry is made.

Each rate is the median of the windows; a counter's sample time is the \
middle of its read. trafgen is restarted if it stops on its own (it gives \
up when the veth's XDP ring stays full).

**Per-packet cost.** `BPF_PROG_TEST_RUN` of fw's pinned XDP program (the \
one attached in the lab, with ruleset N live) in the server namespace, \
where the test run's input device is `lo` and fw's `bpf_fib_lookup` finds \
192.0.2.2 local, so the frame goes through INPUT like the real traffic. \
Three frames: one that matches the last rule (the probe: 192.0.2.1:40000 \
→ port 9, dropped), the first rule (filler 0's address and port, \
accepted; at N = 0 the DROP itself) and no rule (192.0.2.1 → port 10: \
the policy). A test run repeats its frame, so all but the first \
repetition are match-cache hits; the cache-miss cost comes from runs of \
one repetition, each on a new flow (192.0.2.3-253, ports from 40001). \
The verdict of every run is checked. The empty program is `r0 = \
XDP_PASS; exit`, loaded from hand-written bytecode.

**Control plane.** Wall time of each command from start to exit, started \
with `ip netns exec` in the server namespace, after an empty ruleset was \
loaded there first (tables exist, fw's programs are loaded and attached), \
so a load replaces an empty ruleset; between repetitions the ruleset is \
emptied again, untimed. fw loads with `fw restore` (stdin) when the fw \
binary has it; an fw without it is loaded through its library instead: \
the rule lines are parsed and written into fw's state record \
(`/run/fw/<netns>/state.json`) by the benchmark, then `fw -P INPUT \
ACCEPT` (which changes nothing) makes fw compile the whole ruleset and \
swap it into the kernel as every fw command does; the time is the sum of \
both. `-A` appends after the N-rule ruleset's DROP (iptables, fw) or adds \
one element to the set (nftables); `-L` lists with counters.

**Memory.** What the kernel holds for the loaded ruleset, where the \
kernel tells:

* fw: the `memlock` the kernel charges for fw's two programs and every \
  map they use (`/proc/self/fdinfo` of each; for maps the kernel's \
  `map_mem_usage`: hash tables count their bucket arrays and elements, \
  arrays their full size). Exact.
* iptables-legacy: the filter table's rule blob (`IPT_SO_GET_INFO` \
  size) plus its per-CPU counters (16 bytes per entry and CPU). Exact.
* iptables-nft and nftables: nf_tables allocates rules and set elements \
  with `GFP_KERNEL_ACCOUNT`, from the `kmalloc-cg-*` slab caches. The \
  figure is the growth of those caches (`/proc/slabinfo`, active objects \
  × object size) plus that of `Percpu` and `VmallocUsed` \
  (`/proc/meminfo`) across the `-restore`/`nft -f`, after waiting for the \
  counters to settle. Anything else the host allocates meanwhile counts \
  too (±100-200 KiB here), and hash-table arrays larger than two pages \
  that come straight from the page allocator are not seen.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_run_replaces_only_the_ipv6_section() {
        let ipv4 = "# Benchmarks\n\n## 1. Packet rate\n\n| 1 | 2 |\n\n## Method\n\nText.\n";
        // A report from before IPv6: the section goes before the Method.
        let first = with_ipv6(ipv4, "six");
        assert_eq!(
            first,
            format!(
                "# Benchmarks\n\n## 1. Packet rate\n\n| 1 | 2 |\n\n{}\n## Method\n\nText.\n",
                ipv6_block("six")
            )
        );
        // Again: the body replaced, everything else as it was.
        let second = with_ipv6(&first, "new");
        assert_eq!(second, first.replace("\nsix\n", "\nnew\n"));
        assert!(second.starts_with("# Benchmarks\n\n## 1. Packet rate\n\n| 1 | 2 |\n"));
        assert_eq!(second.matches(IPV6_HEADING).count(), 1);
    }
}
