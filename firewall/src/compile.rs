//! The compiler: turns the ruleset model into the map entries the eBPF
//! classifier reads (layouts in `firewall_common`).
//!
//! Each chain is compiled for the Linear Bit Vector Search: per header
//! field, the values rules name are cut into classes ([`classes`]), each
//! class gets the bit vector of the rules that accept it, and the kernel
//! ANDs one vector per used field and takes the lowest set bit.
//!
//! # Complexity and limits
//! * Per packet and chain visit, first a lookup in a direct-mapped
//!   per-CPU cache of recent searches, keyed by the live generation, the
//!   chain and the values of only the fields the chain uses (so packets
//!   differing only in, say, a source port no rule names share an entry). On a miss: one lookup per
//!   field the chain uses
//!   (LPM trie for addresses and ports, hash for protocol and interface),
//!   a 16-word AND of summaries, then two hash lookups per used field for
//!   each candidate word up to the first match. It does not grow with the
//!   number of rules, only with how many rules could match the packet
//!   (candidate words hold 64 rules each).
//! * Compile time: O(R log R) per field plus the size of the output.
//! * Memory: one word entry per (class, word) where the class's own rules
//!   have bits, and `W` once per field: linear in the rules for rulesets
//!   whose rules name distinct values; overlapping port ranges cost more.
//! * At most [`MAX_RULES_PER_CHAIN`] (65,536) rules per chain,
//!   [`MAX_RULES`] in all, [`MAX_CHAINS`] chains. User-defined chains are
//!   searched the same way; the walk between chains (jump, goto, RETURN)
//!   runs in the kernel with a stack of [`MAX_JUMP_DEPTH`] returns, and
//!   rulesets whose walk could take more than [`MAX_STEPS`] chain visits
//!   per packet are refused.
//! * Addresses need a contiguous netmask (a prefix); interface names are
//!   resolved to the interfaces that exist when the ruleset is compiled.

pub mod classes;
pub mod eval;

use std::collections::BTreeMap;

use firewall_common::{
    AddrKey, BUILTIN_CHAINS, CHAIN6_BASE, CLASS_W, ChainInfo, ClassKey, Field, MAX_FAMILY_CHAINS,
    MAX_JUMP_DEPTH, MAX_RULES, MAX_RULES_PER_CHAIN, MAX_STEPS, PortKey, RuleInfo, SUMMARY_WORDS,
    Summary, ValueKey, Verdict, WORD_BITS, WordKey, addr_lpm_prefix, field_id, port_lpm_prefix,
};

use crate::{
    extensions::{self, Enforcement},
    model::{AddrMask, BuiltinChain, Family, Neg, Policy, RejectWith, Rule, Ruleset, Target},
    state::State,
};
use classes::Constraint;

/// Errors compiling a ruleset.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    /// A chain holds more rules than the classifier supports.
    #[error("chain {chain} has {count} rules; at most {max} are supported")]
    TooManyRules {
        /// The chain.
        chain: String,
        /// Its rules.
        count: usize,
        /// The limit.
        max: u32,
    },
    /// The model uses something the classifier cannot enforce yet.
    #[error("not supported yet: {0}")]
    NotSupported(String),
}

/// The map entries of one bank: write them all, then make the bank live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compiled {
    /// `CHAINS` entries: chain number and its description.
    pub chains: Vec<(u32, ChainInfo)>,
    /// `RULES` entries from position 0 of the bank.
    pub rules: Vec<RuleInfo>,
    /// `ADDR_CLASS`: LPM prefix length, key, class.
    pub addr: Vec<(u32, AddrKey, u32)>,
    /// `PORT_CLASS`: LPM prefix length, key, class.
    pub port: Vec<(u32, PortKey, u32)>,
    /// `VALUE_CLASS`.
    pub values: Vec<(ValueKey, u32)>,
    /// `SUMMARY`.
    pub summaries: Vec<(ClassKey, Summary)>,
    /// `WORDS` (only words with a bit set).
    pub words: Vec<(WordKey, u64)>,
    /// `LOG_CONFIGS` from slot 0 of the bank: LOG rule `n`'s settings.
    pub logs: Vec<firewall_common::log::Config>,
    /// `CHECKS` from slot 0 of the bank ([`firewall_common::check`]),
    /// each rule's in its match order.
    pub checks: Vec<firewall_common::check::Check>,
    /// The `-m recent` lists the rules name (ids, sorted): the others'
    /// entries go once the bank is live, as xt_recent frees a list with
    /// its last rule.
    pub recent_lists: Vec<u32>,
    /// The `-m hashlimit` tables the rules name (ids, sorted): the
    /// others' buckets go once the bank is live, as xt_hashlimit frees a
    /// table with its last rule.
    pub hashlimit_tables: Vec<u32>,
}

/// A rule's target as the kernel takes it, with `chain` numbering the
/// chains by name.
///
/// A LOG rule's settings are appended to `logs`; its verdict names them.
///
/// # Errors
/// [`CompileError::NotSupported`] past [`firewall_common::log::MAX_CONFIGS`]
/// LOG rules.
fn target(
    t: &Target,
    chain: &dyn Fn(&str) -> u32,
    logs: &mut Vec<firewall_common::log::Config>,
) -> Result<Verdict, CompileError> {
    Ok(match t {
        Target::Accept => Verdict::Accept,
        Target::Drop => Verdict::Drop,
        Target::Return => Verdict::Return,
        Target::Jump(c) => Verdict::Jump(chain(c)),
        Target::Goto(c) => Verdict::Goto(chain(c)),
        Target::None => Verdict::Continue,
        Target::Reject(w) => Verdict::Reject(reject(*w)),
        Target::Log(l) => {
            let n = logs.len() as u32;
            if n >= firewall_common::log::MAX_CONFIGS {
                return Err(CompileError::NotSupported(format!(
                    "more than {} -j LOG rules",
                    firewall_common::log::MAX_CONFIGS
                )));
            }
            logs.push(log_config(l));
            Verdict::Log(n)
        }
    })
}

/// LOG's settings as the kernel copies them into each record.
pub fn log_config(l: &crate::model::ext::Log) -> firewall_common::log::Config {
    let mut c = firewall_common::log::Config {
        level: l.level,
        flags: l.flag_bits(),
        ..Default::default()
    };
    let b = l.prefix.as_bytes();
    let n = b.len().min(firewall_common::log::PREFIX - 1);
    c.prefix[..n].copy_from_slice(&b[..n]);
    c
}

/// REJECT's answer as the kernel builds it (firewall-ebpf `reject.rs`).
fn reject(w: RejectWith) -> firewall_common::Reject {
    use firewall_common::Reject as R;
    match w {
        RejectWith::NetUnreachable => R::NetUnreachable,
        RejectWith::HostUnreachable => R::HostUnreachable,
        RejectWith::ProtoUnreachable => R::ProtoUnreachable,
        RejectWith::PortUnreachable => R::PortUnreachable,
        RejectWith::NetProhibited => R::NetProhibited,
        RejectWith::HostProhibited => R::HostProhibited,
        RejectWith::AdminProhibited => R::AdminProhibited,
        RejectWith::TcpReset => R::TcpReset,
        RejectWith::Icmp6NoRoute => R::Icmp6NoRoute,
        RejectWith::Icmp6AdmProhibited => R::Icmp6AdmProhibited,
        RejectWith::Icmp6AddrUnreachable => R::Icmp6AddrUnreachable,
        RejectWith::Icmp6PortUnreachable => R::Icmp6PortUnreachable,
        RejectWith::Icmp6PolicyFail => R::Icmp6PolicyFail,
        RejectWith::Icmp6RejectRoute => R::Icmp6RejectRoute,
    }
}

/// A built-in chain's policy as `ChainInfo::policy` encodes it.
fn policy(p: Policy) -> u32 {
    match p {
        Policy::Accept => firewall_common::Policy::Accept,
        Policy::Drop => firewall_common::Policy::Drop,
    }
    .encode()
}

fn constraint<T, U>(m: &Option<Neg<T>>, f: impl FnOnce(&T) -> U) -> Constraint<U> {
    match m {
        None => Constraint::Any,
        Some(n) if n.invert => Constraint::Not(f(&n.value)),
        Some(n) => Constraint::Is(f(&n.value)),
    }
}

fn prefix(a: &AddrMask) -> Result<classes::Prefix, CompileError> {
    let len = a.prefix_len().ok_or_else(|| {
        CompileError::NotSupported(format!("non-contiguous netmask {}", a.mask_text()))
    })?;
    Ok(match *a {
        AddrMask::V4 { addr, .. } => classes::v4(u32::from(addr), len),
        AddrMask::V6 { addr, .. } => (u128::from(addr), len),
    })
}

/// The interface indexes a `-i`/`-o` name matches: the one interface of
/// that name, or every interface whose name starts with the part before a
/// trailing `+` (iptables(8), `--in-interface`).
fn ifindexes(name: &str, interfaces: &[(String, u32)]) -> Vec<u32> {
    match name.strip_suffix('+') {
        Some(stem) => interfaces
            .iter()
            .filter(|(n, _)| n.starts_with(stem))
            .map(|(_, i)| *i)
            .collect(),
        None => interfaces
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, i)| *i)
            .collect(),
    }
}

/// Per-field constraints of a chain's rules.
struct Columns {
    src: Vec<extensions::AddrColumn>,
    dst: Vec<extensions::AddrColumn>,
    proto: Vec<Constraint<Vec<u32>>>,
    sport: Vec<extensions::PortColumn>,
    dport: Vec<extensions::PortColumn>,
    in_if: Vec<Constraint<Vec<u32>>>,
    out_if: Vec<Constraint<Vec<u32>>>,
    ttl: Vec<Constraint<Vec<u32>>>,
    ctstate: Vec<Constraint<Vec<u32>>>,
    icmp: Vec<Constraint<Vec<u32>>>,
    tcp_flags: Vec<Constraint<Vec<u32>>>,
    length: Vec<extensions::PortColumn>,
}

fn columns(rules: &[Rule], interfaces: &[(String, u32)]) -> Result<Columns, CompileError> {
    let mut c = Columns {
        src: Vec::new(),
        dst: Vec::new(),
        proto: Vec::new(),
        sport: Vec::new(),
        dport: Vec::new(),
        in_if: Vec::new(),
        out_if: Vec::new(),
        ttl: Vec::new(),
        ctstate: Vec::new(),
        icmp: Vec::new(),
        tcp_flags: Vec::new(),
        length: Vec::new(),
    };
    for r in rules {
        // `-f`/`! -f` have no column: refused here too, never dropped.
        if r.fragment.is_some() {
            return Err(CompileError::NotSupported("-f (fragments)".into()));
        }
        let addr = |m: &Option<Neg<AddrMask>>| -> Result<_, CompileError> {
            Ok(match m {
                None => Constraint::Any,
                Some(n) if n.invert => Constraint::Not(vec![prefix(&n.value)?]),
                Some(n) => Constraint::Is(vec![prefix(&n.value)?]),
            })
        };
        c.proto
            .push(constraint(&r.protocol, |p| vec![u32::from(*p)]));
        c.in_if
            .push(constraint(&r.in_interface, |n| ifindexes(n, interfaces)));
        c.out_if
            .push(constraint(&r.out_interface, |n| ifindexes(n, interfaces)));
        for m in &r.matches {
            match m.support() {
                // Checks are compiled by `rule_checks`.
                Enforcement::Always
                | Enforcement::Classifier(_)
                | Enforcement::RuleCheck(_)
                | Enforcement::ClassifierCheck(..) => {}
                Enforcement::Refused(what) => {
                    return Err(CompileError::NotSupported(what.into()));
                }
            }
        }
        let cols = extensions::Columns::of_rule(r)
            .map_err(|what| CompileError::NotSupported(what.into()))?;
        // Destructured, so a new column does not build until it is used.
        let extensions::Columns {
            src,
            dst,
            ports,
            ttl,
            ctstate,
            icmp,
            tcp_flags,
            length,
        } = cols;
        // `of_rule` refused `-s` beside `--src-range` (and `-d` beside
        // `--dst-range`): one of each is there at most.
        c.src.push(src.map_or_else(|| addr(&r.source), Ok)?);
        c.dst.push(dst.map_or_else(|| addr(&r.destination), Ok)?);
        let (sport, dport) = ports.unwrap_or((Constraint::Any, Constraint::Any));
        c.ttl.push(ttl.unwrap_or(Constraint::Any));
        c.ctstate.push(ctstate.unwrap_or(Constraint::Any));
        c.icmp.push(icmp.unwrap_or(Constraint::Any));
        c.tcp_flags.push(tcp_flags.unwrap_or(Constraint::Any));
        c.length.push(length.unwrap_or(Constraint::Any));
        c.sport.push(sport);
        c.dport.push(dport);
    }
    Ok(c)
}

/// Appends `r`'s checks to `checks`, in its match order; what
/// [`RuleInfo::checks`] says of them.
///
/// # Errors
/// [`CompileError::NotSupported`] past
/// [`firewall_common::check::MAX_PER_RULE`] checks in the rule or
/// [`firewall_common::check::MAX_CHECKS`] in the bank.
fn rule_checks(
    r: &Rule,
    checks: &mut Vec<firewall_common::check::Check>,
) -> Result<u32, CompileError> {
    use firewall_common::check::{MAX_CHECKS, MAX_PER_RULE, pack};
    let first = checks.len() as u32;
    // Data entries (multiport's ranges, conntrack's tuple) go after the rule's checks, which
    // are consecutive; each check that has some learns where.
    let mut data: Vec<(usize, Vec<firewall_common::check::Check>)> = Vec::new();
    for m in &r.matches {
        match m.support() {
            Enforcement::RuleCheck(c) | Enforcement::ClassifierCheck(_, c) => {
                let entries = m.check_data();
                if !entries.is_empty() {
                    data.push((checks.len(), entries));
                }
                checks.push(c);
            }
            Enforcement::Always | Enforcement::Classifier(_) | Enforcement::Refused(_) => {}
        }
    }
    let count = checks.len() as u32 - first;
    for (at, entries) in data {
        checks[at].a = checks.len() as u64;
        checks.extend(entries);
    }
    if count > MAX_PER_RULE {
        return Err(CompileError::NotSupported(format!(
            "more than {MAX_PER_RULE} rule checks (-m limit, -m recent, -m mac, -m mark, --ports, --tcp-option, conntrack tuples) in one rule"
        )));
    }
    if checks.len() as u32 > MAX_CHECKS {
        return Err(CompileError::NotSupported(format!(
            "more than {MAX_CHECKS} rule checks in all"
        )));
    }
    Ok(if count == 0 { 0 } else { pack(first, count) })
}

/// The ids of the `-m recent` lists of `rs`, sorted.
///
/// # Errors
/// [`CompileError::NotSupported`] when two lists (name and mask) share an
/// id, or one name comes with two masks (xt_recent's list keeps the mask
/// of the rule that created it, whatever later rules say), of the IPv4
/// and IPv6 tables (each family's entries are apart).
fn recent_lists(tables_of: [&Ruleset; 2]) -> Result<Vec<u32>, CompileError> {
    use std::net::IpAddr;
    let mut lists: BTreeMap<u32, (&str, IpAddr)> = BTreeMap::new();
    let mut masks: BTreeMap<(bool, &str), IpAddr> = BTreeMap::new();
    for (_, rules) in tables_of.into_iter().flat_map(|rs| rs.all_rules()) {
        for m in rules.iter().flat_map(|r| &r.matches) {
            if let crate::model::Match::Recent(r) = m {
                let v6 = r.mask.is_ipv6();
                if *masks.entry((v6, r.name.as_str())).or_insert(r.mask) != r.mask {
                    return Err(CompileError::NotSupported(format!(
                        "-m recent list {} with two --mask values",
                        r.name
                    )));
                }
                let this = (r.name.as_str(), r.mask);
                if let Some(other) = lists.insert(r.list(), this)
                    && other != this
                {
                    return Err(CompileError::NotSupported(format!(
                        "-m recent lists {} and {} in one ruleset (their ids collide)",
                        other.0, this.0
                    )));
                }
            }
        }
    }
    // xt_recent's table of a name has one mask, its first rule's, for
    // both families: an IPv4 --mask would mask IPv6's addresses too.
    for ((v6, name), mask) in &masks {
        if !v6 && masks.contains_key(&(true, *name)) && *mask != IpAddr::from([255; 4]) {
            return Err(CompileError::NotSupported(format!(
                "-m recent list {name} with --mask {mask} in IPv4 and in IPv6 rules"
            )));
        }
    }
    Ok(lists.into_keys().collect())
}

/// Refuses what fw's `-m hashlimit` tables cannot hold: two names whose
/// ids collide, and one name with two settings (xt_hashlimit's table
/// keeps those of the rule that made it, whatever later rules say); of
/// the IPv4 and IPv6 tables (one name in each family is two tables).
///
/// The ids of the tables, sorted.
///
/// # Errors
/// [`CompileError::NotSupported`] naming the table.
fn hashlimit_tables(tables_of: [&Ruleset; 2]) -> Result<Vec<u32>, CompileError> {
    let mut ids: BTreeMap<u32, (bool, &str)> = BTreeMap::new();
    let mut tables: BTreeMap<(bool, &str), &crate::model::Hashlimit> = BTreeMap::new();
    for (_, rules) in tables_of.into_iter().flat_map(|rs| rs.all_rules()) {
        for m in rules.iter().flat_map(|r| &r.matches) {
            if let crate::model::Match::Hashlimit(h) = m {
                let name = h.name.as_str();
                // A name is one table per family.
                let table = (h.v6, name);
                if let Some(prev) = ids.insert(h.table(), table)
                    && prev != table
                {
                    return Err(CompileError::NotSupported(format!(
                        "-m hashlimit tables {} and {name} in one ruleset (their ids collide)",
                        prev.1
                    )));
                }
                let mut settings = h.clone();
                settings.above = false;
                if let Some(first) = tables.insert((h.v6, name), h) {
                    let mut f = first.clone();
                    f.above = false;
                    if f != settings {
                        return Err(CompileError::NotSupported(format!(
                            "-m hashlimit table {name} with two settings"
                        )));
                    }
                }
            }
        }
    }
    // Every table may fill up to its maximum at once; the kernel's map
    // holds them all (else a new key would be dropped early).
    let total: u64 = tables.values().map(|h| u64::from(h.table_max())).sum();
    let cap = firewall_common::check::hashlimit::MAX_ENTRIES;
    if total > u64::from(cap) {
        return Err(CompileError::NotSupported(format!(
            "-m hashlimit tables of {total} buckets at most in all (--hashlimit-htable-max; fw holds {cap})"
        )));
    }
    if ids.len() as u32 > firewall_common::check::hashlimit::MAX_TABLES {
        return Err(CompileError::NotSupported(format!(
            "more than {} -m hashlimit tables",
            firewall_common::check::hashlimit::MAX_TABLES
        )));
    }
    Ok(ids.into_keys().collect())
}

/// Whether `r` has checks: a failing one moves the walk to the next rule,
/// a chain visit more.
fn has_checks(r: &Rule) -> bool {
    r.matches.iter().any(|m| {
        matches!(
            m.support(),
            Enforcement::RuleCheck(_) | Enforcement::ClassifierCheck(..)
        )
    })
}

/// Sorted rule positions as 64-bit words: word index → bits.
fn words(rules: &[u32]) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for r in rules {
        *out.entry(r / WORD_BITS).or_insert(0) |= 1u64 << (r % WORD_BITS);
    }
    out
}

fn set_bit(s: &mut Summary, w: u32, on: bool) {
    let (i, b) = ((w / WORD_BITS) as usize, w % WORD_BITS);
    if on {
        s.words[i] |= 1 << b;
    } else {
        s.words[i] &= !(1 << b);
    }
}

/// Emits the summaries and words of one field, calling `key` for each
/// class's lookup entries.
fn emit_field<K>(
    out: &mut Compiled,
    id: u32,
    field: &classes::Field<K>,
    mut key: impl FnMut(&mut Compiled, &K, u32),
) {
    let w = words(&field.w);
    let mut w_summary = Summary::default();
    for (&i, &bits) in &w {
        set_bit(&mut w_summary, i, bits != 0);
        out.words.push((
            WordKey {
                id,
                class: CLASS_W,
                word: i,
            },
            bits,
        ));
    }
    if w_summary.words.iter().any(|&x| x != 0) {
        out.summaries.push((ClassKey { id, class: 0 }, w_summary));
    }
    for (n, (keys, x)) in field.classes.iter().enumerate() {
        let class = n as u32 + 1;
        let mut summary = w_summary;
        for (&i, &bits) in &words(x) {
            set_bit(&mut summary, i, w.get(&i).copied().unwrap_or(0) ^ bits != 0);
            out.words.push((WordKey { id, class, word: i }, bits));
        }
        if summary.words.iter().any(|&x| x != 0) {
            out.summaries.push((ClassKey { id, class }, summary));
        }
        for k in keys {
            key(out, k, class);
        }
    }
}

/// How one rule treats the packets whose connection state is
/// ESTABLISHED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Established {
    /// It matches none of them: its state column excludes ESTABLISHED.
    None,
    /// It matches every one: it constrains nothing but the state, and
    /// that admits ESTABLISHED.
    Every,
    /// It may match some and not others (or the compiler cannot tell).
    Some,
}

fn any<T>(c: &Constraint<T>) -> bool {
    match c {
        Constraint::Any => true,
        Constraint::Is(_) | Constraint::Not(_) => false,
    }
}

/// Rule `n`'s [`Established`], from its columns (`c`, of its chain) and
/// its matches.
fn established(rule: &Rule, c: &Columns, n: usize) -> Established {
    // Destructured, so a new column or rule field is weighed here too.
    let Columns {
        src,
        dst,
        proto,
        sport,
        dport,
        in_if,
        out_if,
        ttl,
        ctstate,
        icmp,
        tcp_flags,
        length,
    } = c;
    // -p, -s, -d, -i and -o are in the columns.
    let Rule {
        protocol: _,
        source: _,
        destination: _,
        in_interface: _,
        out_interface: _,
        fragment,
        matches,
        target: _,
    } = rule;
    let est = firewall_common::ct::ESTABLISHED;
    let admits = match &ctstate[n] {
        Constraint::Any => true,
        Constraint::Is(v) => v.contains(&est),
        Constraint::Not(v) => !v.contains(&est),
    };
    if !admits {
        return Established::None;
    }
    // A per-rule kernel check (or anything but a column) could tell two
    // ESTABLISHED packets apart.
    let plain = fragment.is_none()
        && matches.iter().all(|m| match m.support() {
            Enforcement::Always | Enforcement::Classifier(_) => true,
            Enforcement::RuleCheck(_)
            | Enforcement::ClassifierCheck(..)
            | Enforcement::Refused(_) => false,
        });
    let unconstrained = any(&src[n])
        && any(&dst[n])
        && any(&proto[n])
        && any(&sport[n])
        && any(&dport[n])
        && any(&in_if[n])
        && any(&out_if[n])
        && any(&ttl[n])
        && any(&icmp[n])
        && any(&tcp_flags[n])
        && any(&length[n]);
    if plain && unconstrained {
        Established::Every
    } else {
        Established::Some
    }
}

/// The ESTABLISHED fast path of a built-in chain: the position of the
/// rule whose terminal verdict (ACCEPT, DROP, REJECT) the walk takes for
/// every ESTABLISHED packet, counting it and no other rule; `None` when a
/// rule before it could match some ESTABLISHED packets (a jump, a LOG, a
/// rule without a target too: their counters must stay exact), or when
/// that rule's target is not terminal.
fn fast_rule(rules: &[Rule], c: &Columns) -> Option<u32> {
    for (n, r) in rules.iter().enumerate() {
        match established(r, c, n) {
            Established::None => continue,
            Established::Some => return None,
            Established::Every => {
                return match &r.target {
                    Target::Accept | Target::Drop | Target::Reject(_) => Some(n as u32),
                    // RETURN in a built-in chain is its policy: left to the walk.
                    Target::Return
                    | Target::Jump(_)
                    | Target::Goto(_)
                    | Target::None
                    | Target::Log(_) => None,
                };
            }
        }
    }
    None
}

/// Compiles one chain's rules into `out` as chain `chain` of `bank`: the
/// fields it uses ([`ChainInfo::fields`]) and its [`fast_rule`] (for a
/// built-in chain; `None` for a user chain, entered only by a walk).
fn compile_chain(
    out: &mut Compiled,
    bank: u32,
    chain: u32,
    rules: &[Rule],
    interfaces: &[(String, u32)],
) -> Result<(u32, Option<u32>), CompileError> {
    let mut c = columns(rules, interfaces)?;
    if chain >= CHAIN6_BASE {
        // An IPv6 non-first fragment without a protocol (PROTO_NONE6)
        // matches no `! -p` either, as in
        // ip6_packet_match.
        for p in &mut c.proto {
            if let Constraint::Not(v) = p {
                v.push(u32::from(firewall_common::PROTO_NONE6));
            }
        }
    }
    let fast = if chain % CHAIN6_BASE < BUILTIN_CHAINS {
        fast_rule(rules, &c)
    } else {
        None
    };
    let mut used = 0u32;
    // Every field is matched to its column here: a new `Field` does not
    // build until it has one.
    for f in Field::ALL {
        let id = field_id(bank, chain, f);
        let emitted = match f {
            Field::Src => emit_addr(out, id, &classes::addr(&c.src)),
            Field::Dst => emit_addr(out, id, &classes::addr(&c.dst)),
            Field::Sport => emit_port(out, id, &classes::port(&c.sport)),
            Field::Dport => emit_port(out, id, &classes::port(&c.dport)),
            Field::Proto => emit_value(out, id, &classes::exact(&c.proto)),
            Field::InIf => emit_value(out, id, &classes::exact(&c.in_if)),
            Field::OutIf => emit_value(out, id, &classes::exact(&c.out_if)),
            Field::Ttl => emit_value(out, id, &classes::exact(&c.ttl)),
            Field::CtState => emit_value(out, id, &classes::exact(&c.ctstate)),
            Field::Icmp => emit_value(out, id, &classes::exact(&c.icmp)),
            Field::TcpFlags => emit_value(out, id, &classes::exact(&c.tcp_flags)),
            Field::Length => emit_port(out, id, &classes::port(&c.length)),
        };
        if emitted {
            used |= f.bit();
        }
    }
    Ok((used, fast))
}

/// Emits an address field's classes (`ADDR_CLASS`); whether any rule
/// uses the field.
fn emit_addr(out: &mut Compiled, id: u32, fl: &classes::Field<classes::Prefix>) -> bool {
    if fl.used {
        emit_field(out, id, fl, |out, &(a, l), class| {
            // Left-aligned: an IPv4 address fills the first 4 bytes.
            let key = AddrKey {
                id: id.to_be_bytes(),
                addr: a.to_be_bytes(),
            };
            out.addr.push((addr_lpm_prefix(u32::from(l)), key, class));
        });
    }
    fl.used
}

/// Emits a port field's classes (`PORT_CLASS`); whether any rule uses it.
fn emit_port(out: &mut Compiled, id: u32, fl: &classes::Field<(u16, u8)>) -> bool {
    if fl.used {
        emit_field(out, id, fl, |out, &(p, l), class| {
            let key = PortKey {
                id: id.to_be_bytes(),
                port: p.to_be_bytes(),
                _pad: [0; 2],
            };
            out.port.push((port_lpm_prefix(u32::from(l)), key, class));
        });
    }
    fl.used
}

/// Emits an exact-value field's classes (`VALUE_CLASS`); whether any rule
/// uses it.
fn emit_value(out: &mut Compiled, id: u32, fl: &classes::Field<u32>) -> bool {
    if fl.used {
        emit_field(out, id, fl, |out, &value, class| {
            out.values.push((ValueKey { id, value }, class));
        });
    }
    fl.used
}

/// Chain visits one packet's walk may take, at most, from each chain:
/// the visit itself, one per jump and its return, one per rule without a
/// target, and the longest goto. `None` when over `limit` (loops are
/// refused before compiling, by `model::check`).
fn walk_bound(ruleset: &Ruleset, limit: u64) -> Option<u64> {
    fn visits(
        ruleset: &Ruleset,
        chain: &str,
        memo: &mut BTreeMap<String, u64>,
        limit: u64,
        depth: usize,
    ) -> u64 {
        if let Some(v) = memo.get(chain) {
            return *v;
        }
        if depth > MAX_JUMP_DEPTH + 1 {
            return u64::MAX;
        }
        let mut n = 1u64;
        let mut goto = 0u64;
        for r in ruleset.rules(chain).map_or(&[][..], Vec::as_slice) {
            if has_checks(r) {
                n = n.saturating_add(1);
            }
            match &r.target {
                Target::Jump(c) => {
                    n = n
                        .saturating_add(visits(ruleset, c, memo, limit, depth + 1))
                        .saturating_add(1);
                }
                Target::Goto(c) => goto = goto.max(visits(ruleset, c, memo, limit, depth + 1)),
                Target::None => n = n.saturating_add(1),
                Target::Accept
                | Target::Drop
                | Target::Return
                | Target::Reject(_)
                | Target::Log(_) => {}
            }
            if n > limit {
                break;
            }
        }
        let v = n.saturating_add(goto);
        memo.insert(chain.to_string(), v);
        v
    }
    let mut memo = BTreeMap::new();
    BuiltinChain::ALL
        .iter()
        .map(|c| visits(ruleset, c.name(), &mut memo, limit, 0))
        .max()
        .filter(|&v| v <= limit)
}

/// The deepest nesting of `-j` jumps from the built-in chains: how many
/// returns are pending at its bottom, and the chains on the way (a goto
/// continues a path without nesting).
fn deepest_jumps(ruleset: &Ruleset) -> (usize, Vec<String>) {
    fn from(
        ruleset: &Ruleset,
        chain: &str,
        memo: &mut BTreeMap<String, (usize, Vec<String>)>,
    ) -> (usize, Vec<String>) {
        if let Some(v) = memo.get(chain) {
            return v.clone();
        }
        let mut best = (0, vec![chain.to_string()]);
        // Guards against loops, which model::check refuses beforehand.
        memo.insert(chain.to_string(), best.clone());
        for r in ruleset.rules(chain).map_or(&[][..], Vec::as_slice) {
            let (nests, next) = match &r.target {
                Target::Jump(c) => (1, c),
                Target::Goto(c) => (0, c),
                Target::Accept
                | Target::Drop
                | Target::Return
                | Target::Reject(_)
                | Target::Log(_)
                | Target::None => continue,
            };
            let (depth, path) = from(ruleset, next, memo);
            if depth + nests > best.0 {
                best = (depth + nests, [vec![chain.to_string()], path].concat());
            }
        }
        memo.insert(chain.to_string(), best.clone());
        best
    }
    let mut memo = BTreeMap::new();
    BuiltinChain::ALL
        .iter()
        .map(|c| from(ruleset, c.name(), &mut memo))
        .max_by_key(|(d, _)| *d)
        .unwrap_or_default()
}

/// Compiles every chain of `state`, built-in (numbers 0..3) and
/// user-defined (3.., in name order), into the entries of bank `bank`,
/// resolving `-i`/`-o` names against `interfaces` (name, index) of the
/// namespace the programs run in.
///
/// # Errors
/// [`CompileError::TooManyRules`] past the limits of the module doc or
/// [`MAX_CHAINS`] chains; [`CompileError::NotSupported`] for what the
/// classifier cannot enforce, and for jumps nested deeper than
/// [`MAX_JUMP_DEPTH`] or walks longer than [`MAX_STEPS`] chain visits.
pub fn compile(
    state: &State,
    bank: u32,
    interfaces: &[(String, u32)],
) -> Result<Compiled, CompileError> {
    let mut out = Compiled::default();
    let mut first_rule = 0u32;
    for (family, base) in [(Family::V4, 0), (Family::V6, CHAIN6_BASE)] {
        compile_table(
            &mut out,
            &mut first_rule,
            state,
            family,
            (bank, base),
            interfaces,
        )?;
    }
    debug_assert!(SUMMARY_WORDS * 64 * 64 >= MAX_RULES_PER_CHAIN as usize);
    out.recent_lists = recent_lists([state.table(Family::V4), state.table(Family::V6)])?;
    out.hashlimit_tables = hashlimit_tables([state.table(Family::V4), state.table(Family::V6)])?;
    Ok(out)
}

/// `family`'s table of `state` into `out`, its chains numbered from
/// `base` (0, or [`CHAIN6_BASE`] for IPv6) and its rules from
/// `first_rule` on in the bank.
fn compile_table(
    out: &mut Compiled,
    first_rule: &mut u32,
    state: &State,
    family: Family,
    (bank, base): (u32, u32),
    interfaces: &[(String, u32)],
) -> Result<(), CompileError> {
    let rs = state.table(family);
    let names: Vec<&str> = rs.chain_names();
    if names.len() > MAX_FAMILY_CHAINS as usize {
        return Err(CompileError::TooManyRules {
            chain: format!("(user-defined chains: {})", rs.user_chains.len()),
            count: names.len(),
            max: MAX_FAMILY_CHAINS,
        });
    }
    let number = |name: &str| -> u32 {
        base + match BuiltinChain::from_name(name) {
            Some(c) => c.map_index(),
            None => {
                BUILTIN_CHAINS + rs.user_chains.keys().position(|k| k == name).unwrap_or(0) as u32
            }
        }
    };
    let (depth, path) = deepest_jumps(rs);
    if depth > MAX_JUMP_DEPTH {
        return Err(CompileError::NotSupported(format!(
            "jumps nested more than {MAX_JUMP_DEPTH} deep ({})",
            path.join(" -> ")
        )));
    }
    if walk_bound(rs, u64::from(MAX_STEPS)).is_none() {
        return Err(CompileError::NotSupported(format!(
            "rulesets whose walk can visit chains more than {MAX_STEPS} times per packet"
        )));
    }
    // A table that tracks connections has netfilter reassemble first
    // (nf_defrag comes with nf_conntrack, per family): then every
    // built-in chain sees whole datagrams.
    let tracks = rs.all_matches().any(|m| {
        matches!(
            m,
            crate::model::Match::State(_) | crate::model::Match::Conntrack(_)
        )
    });
    for name in names {
        let rules = rs.rules(name).map_or(&[][..], Vec::as_slice);
        if rules.len() > MAX_RULES_PER_CHAIN as usize
            || *first_rule as usize + rules.len() > MAX_RULES as usize
        {
            return Err(CompileError::TooManyRules {
                chain: name.to_string(),
                count: rules.len(),
                max: MAX_RULES_PER_CHAIN,
            });
        }
        let chain = number(name);
        let (fields, fast) = compile_chain(out, bank, chain, rules, interfaces)?;
        let slots = state.slots_in(family, name);
        for (n, r) in rules.iter().enumerate() {
            let verdict = target(&r.target, &number, &mut out.logs)?;
            // Records from before user chains had counters: fill_slots
            // gives them slots before anything is compiled.
            let mut info = RuleInfo::new(slots.get(n).copied().unwrap_or(0), verdict);
            info.checks = rule_checks(r, &mut out.checks)?;
            out.rules.push(info);
        }
        let policy = BuiltinChain::from_name(name)
            .map_or(policy(Policy::Accept), |c| policy(rs.chain(c).policy));
        out.chains.push((
            chain,
            ChainInfo {
                first_rule: *first_rule,
                rule_count: rules.len() as u32,
                fields,
                policy,
                fast: ChainInfo::fast_of(fast),
                defrag: u32::from(match (family, BuiltinChain::from_name(name)) {
                    // ip_local_deliver reassembles before LOCAL_IN, and a
                    // local datagram meets LOCAL_OUT before it is cut up.
                    (Family::V4, Some(BuiltinChain::Input)) | (_, Some(BuiltinChain::Output)) => {
                        true
                    }
                    (_, Some(BuiltinChain::Input | BuiltinChain::Forward)) => tracks,
                    (_, None) => false,
                }),
            },
        ));
        *first_rule += rules.len() as u32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use firewall_common::FastPath;

    use super::*;
    use crate::{
        model::{
            CtStates,
            eval::{self, Packet, Verdict},
        },
        testing::{chained_ruleset, input_ruleset, packet},
    };
    use eval_compiled::{Outcome, Tables};

    use super::eval as eval_compiled;

    const IFACES: [(&str, u32); 4] = [("lo", 1), ("veth0", 2), ("veth1", 3), ("eth0", 4)];

    /// Every REJECT type reaches the kernel as itself, with its ICMP
    /// (ICMPv6) code, answering its family's packets only.
    #[test]
    fn reject_types_encode_for_the_kernel() {
        use firewall_common::Reject as R;
        for (w, _, _) in RejectWith::TABLE.iter().chain(&RejectWith::TABLE6) {
            let r = reject(*w);
            assert_eq!(R::decode(r.encode()), Some(r), "{w:?}");
            let v4 = RejectWith::TABLE.iter().any(|(t, _, _)| t == w);
            let v6 = RejectWith::TABLE6.iter().any(|(t, _, _)| t == w);
            assert_eq!((r.answers(false), r.answers(true)), (v4, v6), "{w:?}");
        }
        let codes = [
            (RejectWith::AdminProhibited, 13),
            (RejectWith::Icmp6NoRoute, 0),
            (RejectWith::Icmp6AdmProhibited, 1),
            (RejectWith::Icmp6AddrUnreachable, 3),
            (RejectWith::Icmp6PortUnreachable, 4),
            (RejectWith::Icmp6PolicyFail, 5),
            (RejectWith::Icmp6RejectRoute, 6),
        ];
        for (w, code) in codes {
            assert_eq!(reject(w).code(), code, "{w:?}");
        }
        assert_eq!(R::decode(0x202), None, "code 2 is no ip6tables type");
    }

    fn interfaces() -> Vec<(String, u32)> {
        IFACES.iter().map(|(n, i)| (n.to_string(), *i)).collect()
    }

    fn ifindex(name: &str) -> u32 {
        IFACES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, i)| *i)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2500))]

        /// The compiled tables and the reference evaluator agree on
        /// 2,500 rulesets x 40 packets = 100,000 (ruleset, packet) pairs.
        #[test]
        fn compiled_agrees_with_reference(
            state in input_ruleset(),
            packets in prop::collection::vec(packet(), 40),
            bank in 0u32..2,
        ) {
            let compiled = compile(&state, bank, &interfaces()).unwrap();
            let tables = Tables::new(&compiled, bank);
            for p in &packets {
                let want = match eval::evaluate(&state.ruleset, BuiltinChain::Input, p) {
                    Verdict::Rule(n, v) => Outcome::Rule(n, v),
                    Verdict::Policy(v) => Outcome::Policy(v),
                };
                prop_assert_eq!(tables.evaluate(0, p, &ifindex), want, "packet {:?}", p);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2500))]

        /// With user chains, jumps, gotos, RETURN and rules without a
        /// target: the compiled walk takes the same verdict and counts the
        /// same rules as iptables' walk, on 2,500 rulesets x 40 packets.
        #[test]
        fn compiled_walk_agrees_with_reference(
            state in chained_ruleset(),
            packets in prop::collection::vec(packet(), 40),
            bank in 0u32..2,
        ) {
            // A ruleset whose walk could exceed MAX_STEPS is refused.
            let compiled = compile(&state, bank, &interfaces());
            prop_assume!(compiled.is_ok());
            walks_agree(&state, &compiled.unwrap(), bank, &packets)?;
        }
    }

    /// The compiled walk of INPUT (with its ESTABLISHED fast path) takes
    /// iptables' verdict and counts the same rules for each of `packets`.
    fn walks_agree(
        state: &State,
        compiled: &Compiled,
        bank: u32,
        packets: &[Packet],
    ) -> Result<(), TestCaseError> {
        let tables = Tables::new(compiled, bank);
        let number = |name: &str| match BuiltinChain::from_name(name) {
            Some(c) => c.map_index(),
            None => {
                3 + state
                    .ruleset
                    .user_chains
                    .keys()
                    .position(|k| k == name)
                    .unwrap() as u32
            }
        };
        for p in packets {
            let want = eval::walk(&state.ruleset, BuiltinChain::Input, p);
            let got = tables.walk(0, p, &ifindex);
            prop_assert_eq!(got.verdict, want.verdict, "packet {:?}", p);
            prop_assert_eq!(got.policy, want.policy, "packet {:?}", p);
            let counted: Vec<(u32, u32)> = want
                .counted
                .iter()
                .map(|(c, n)| (number(c), *n as u32))
                .collect();
            prop_assert_eq!(got.counted, counted, "packet {:?}", p);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2500))]

        /// The ESTABLISHED fast path the compiler chooses is the one its
        /// generator built, and the reference walk agrees with it: every
        /// ESTABLISHED packet is decided by that rule alone, counted once.
        #[test]
        fn fast_path_agrees_with_reference(
            (state, want) in crate::testing::established_ruleset(),
            packets in prop::collection::vec(packet(), 40),
            bank in 0u32..2,
        ) {
            let compiled = compile(&state, bank, &interfaces()).unwrap();
            let input = compiled.chains.iter().find(|(c, _)| *c == 0).unwrap().1;
            let fast = match input.fast_rule() {
                FastPath::Rule(n) => Some(n),
                FastPath::None => None,
                FastPath::Garbled => panic!("garbled fast path {input:?}"),
            };
            if let Some(want) = want {
                prop_assert_eq!(fast, want);
            }
            for (c, info) in &compiled.chains {
                if *c != 0 {
                    prop_assert_eq!(info.fast, 0, "chain {}", c);
                }
            }
            if let Some(n) = fast {
                let rule = &state.ruleset.input.rules[n as usize];
                for p in packets.iter().filter(|p| p.ctstate == CtStates::ESTABLISHED) {
                    let want = eval::walk(&state.ruleset, BuiltinChain::Input, p);
                    prop_assert_eq!(&want.counted, &vec![("INPUT".to_string(), n as usize)]);
                    let verdict = match rule.target {
                        Target::Accept => Policy::Accept,
                        _ => Policy::Drop,
                    };
                    prop_assert_eq!(want.verdict, verdict);
                }
            }
            walks_agree(&state, &compiled, bank, &packets)?;
        }
    }

    /// The fast path of INPUT, FORWARD and OUTPUT after running `lines`
    /// through the offline executor.
    fn fast_paths(lines: &[&str]) -> [Option<u32>; 3] {
        let mut st = State::default();
        for line in lines {
            let words = crate::parse::split_spec(line).unwrap();
            let inv = crate::parse::parse_args(&words).unwrap();
            let done = crate::offline::execute(
                &st,
                &inv,
                crate::parse::services::Services::system(),
                true,
                crate::offline::no_counters,
            );
            st = done
                .unwrap_or_else(|e: crate::edit::EditError| panic!("{line}: {e}"))
                .state
                .unwrap();
        }
        let c = compile(&st, 0, &interfaces()).unwrap();
        for (n, info) in &c.chains {
            if *n >= BUILTIN_CHAINS {
                assert_eq!(info.fast, 0, "user chain {n}");
            }
        }
        [0, 1, 2].map(|chain| {
            let info = c.chains.iter().find(|(n, _)| *n == chain).unwrap().1;
            match info.fast_rule() {
                FastPath::Rule(n) => Some(n),
                FastPath::None => None,
                FastPath::Garbled => panic!("garbled {info:?}"),
            }
        })
    }

    #[test]
    fn fast_path_is_the_first_rule_every_established_packet_meets() {
        const EST: &str = "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT";
        let input = |lines: &[&str]| fast_paths(lines)[0];
        // The usual first rule.
        assert_eq!(
            input(&[EST, "-A INPUT -p tcp --dport 22 -j ACCEPT"]),
            Some(0)
        );
        // After rules whose states exclude ESTABLISHED, whatever they do.
        assert_eq!(
            input(&[
                "-N u",
                "-A INPUT -m conntrack --ctstate INVALID -j DROP",
                "-A INPUT -p tcp --dport 22 -m state --state NEW -j u",
                "-A INPUT -m conntrack ! --ctstate ESTABLISHED,RELATED -j LOG",
                "-A INPUT -m state --state ESTABLISHED -m comment --comment est -j DROP",
            ]),
            Some(3)
        );
        // A negated state that admits ESTABLISHED decides; REJECT is terminal.
        assert_eq!(
            input(&["-A INPUT -m conntrack ! --ctstate NEW,INVALID -j REJECT"]),
            Some(0)
        );
        // So does a rule without any match.
        assert_eq!(input(&["-A INPUT -j DROP", EST]), Some(0));
        // A rule before that could match some ESTABLISHED packets: none.
        assert_eq!(input(&["-A INPUT -i lo -j ACCEPT", EST]), None);
        assert_eq!(input(&["-A INPUT -p udp -j LOG", EST]), None);
        assert_eq!(input(&["-A INPUT -j LOG", EST]), None);
        assert_eq!(input(&["-N u", "-A INPUT -j u", EST]), None);
        assert_eq!(
            input(&[
                "-A INPUT -s 192.0.2.0/24 -m state --state NEW,ESTABLISHED -j DROP",
                EST
            ]),
            None
        );
        // A state set that admits ESTABLISHED among others decides too.
        assert_eq!(
            input(&["-A INPUT -m state --state NEW,ESTABLISHED -j ACCEPT", EST]),
            Some(0)
        );
        // The deciding rule constrains something else, or goes on.
        assert_eq!(
            input(&["-A INPUT -p tcp -m conntrack --ctstate ESTABLISHED -j ACCEPT"]),
            None
        );
        assert_eq!(
            input(&["-A INPUT -m conntrack --ctstate ESTABLISHED"]),
            None
        );
        assert_eq!(
            input(&["-A INPUT -m conntrack --ctstate ESTABLISHED -j RETURN"]),
            None
        );
        assert_eq!(
            input(&["-N u", "-A INPUT -m conntrack --ctstate ESTABLISHED -j u"]),
            None
        );
        // No rule admits ESTABLISHED: the policy decides, by the walk.
        assert_eq!(input(&["-A INPUT -m state --state NEW -j ACCEPT"]), None);
        assert_eq!(input(&[]), None);
        // Each built-in chain has its own; a user chain has none.
        assert_eq!(
            fast_paths(&[
                "-N u",
                "-A u -m state --state ESTABLISHED -j ACCEPT",
                "-A FORWARD -m state --state INVALID -j DROP",
                "-A FORWARD -m state --state ESTABLISHED -j ACCEPT",
                "-A OUTPUT -m state --state ESTABLISHED,RELATED -j ACCEPT",
            ]),
            [None, Some(1), Some(0)]
        );
    }

    #[test]
    fn log_rules_number_their_settings_and_go_on() {
        use crate::model::ext::Log;
        let mut st = State::default();
        let log = |prefix: &str, level| Rule {
            target: Target::Log(Log {
                prefix: prefix.into(),
                level,
                tcp_sequence: true,
                ..Log::default()
            }),
            ..Rule::default()
        };
        st.ruleset.input.rules = vec![log("a: ", 4), log("abcdefghijabcdefghijabcdefghij", 7)];
        let c = compile(&st, 1, &interfaces()).unwrap();
        assert_eq!(c.rules[0].verdict(), Some(firewall_common::Verdict::Log(0)));
        assert_eq!(c.rules[1].verdict(), Some(firewall_common::Verdict::Log(1)));
        assert_eq!(c.logs.len(), 2);
        assert_eq!(&c.logs[0].prefix[..4], b"a: \0");
        assert_eq!(c.logs[0].flags, firewall_common::log::FLAG_TCPSEQ);
        assert_eq!(c.logs[1].level, 7);
        // 29 bytes and the NUL, as the kernel's prefix.
        assert_eq!(
            &c.logs[1].prefix[..29],
            &b"abcdefghijabcdefghijabcdefghij"[..29]
        );
        assert_eq!(c.logs[1].prefix[29], 0);
    }

    #[test]
    fn a_hashlimit_table_has_one_setting() {
        let rule = |opts: &str| crate::testing::appended(&format!("-m hashlimit {opts}"));
        let mut st = State::default();
        st.ruleset.input.rules = vec![
            rule("--hashlimit-upto 5/s --hashlimit-name X"),
            rule("--hashlimit-above 5/s --hashlimit-name X"),
        ];
        st.counters[0] = vec![0, 1];
        // Upto and above read one bucket the same way.
        let c = compile(&st, 0, &interfaces()).unwrap();
        // Each check, then its data entry.
        assert_eq!(c.checks.len(), 4);
        assert_eq!(c.checks[0].state, c.checks[2].state);
        assert_eq!((c.checks[0].a, c.checks[2].a), (1, 3));
        assert_eq!(c.checks[1], c.checks[3]);
        st.ruleset.input.rules[1] = rule("--hashlimit-upto 6/s --hashlimit-name X");
        assert_eq!(
            compile(&st, 0, &interfaces()),
            Err(CompileError::NotSupported(
                "-m hashlimit table X with two settings".into()
            ))
        );
        st.ruleset.input.rules[1] = rule("--hashlimit-upto 6/s --hashlimit-name Y");
        let c = compile(&st, 0, &interfaces()).unwrap();
        assert_ne!(c.checks[0].state >> 32, c.checks[2].state >> 32);
        // The tables' maxima must fit the kernel's one map.
        st.ruleset.input.rules = vec![
            rule("--hashlimit-upto 5/s --hashlimit-name X --hashlimit-htable-max 200000"),
            rule("--hashlimit-upto 5/s --hashlimit-name Y --hashlimit-htable-max 62144"),
        ];
        let c = compile(&st, 0, &interfaces()).unwrap();
        assert_eq!(c.checks[1].state & 0xffff_ffff, 200_000);
        st.ruleset.input.rules[1] =
            rule("--hashlimit-upto 5/s --hashlimit-name Y --hashlimit-htable-max 62145");
        assert_eq!(
            compile(&st, 0, &interfaces()),
            Err(CompileError::NotSupported(
                "-m hashlimit tables of 262145 buckets at most in all (--hashlimit-htable-max; fw holds 262144)".into()
            ))
        );
    }

    #[test]
    fn a_hashlimit_table_max_is_xt_hashlimits() {
        use firewall_common::check::hashlimit::effective_max;
        const G: u64 = 1 << 30;
        // Above 1 GiB: 8,192 slots, 8 × as many buckets.
        assert_eq!(effective_max(0, 0, 4 * G, 4096), 65_536);
        // 256 MiB: one 8-byte slot per 16 KiB.
        assert_eq!(effective_max(0, 0, G / 4, 4096), 8 * 2048);
        assert_eq!(effective_max(0, 0, 0, 4096), 8 * 16);
        assert_eq!(effective_max(1, 2, 4 * G, 4096), 2);
        // Never below the size.
        assert_eq!(effective_max(100, 10, 4 * G, 4096), 100);
        assert_eq!(effective_max(0, 7, 4 * G, 4096), 8192);
    }

    #[test]
    fn a_recent_list_has_one_mask() {
        use crate::model::{Match, ext::Recent};
        let rule = |opts: &str| crate::testing::appended(&format!("-m recent {opts}"));
        let mut st = State::default();
        st.ruleset.input.rules = vec![
            rule("--set --name X"),
            rule("--rcheck --name X --mask 255.255.255.0"),
        ];
        st.counters[0] = vec![0, 1];
        assert_eq!(
            compile(&st, 0, &interfaces()),
            Err(CompileError::NotSupported(
                "-m recent list X with two --mask values".into()
            ))
        );
        st.ruleset.input.rules[1] = rule("--rcheck --name Y --mask 255.255.255.0");
        let c = compile(&st, 0, &interfaces()).unwrap();
        let Match::Recent(x) = &st.ruleset.input.rules[0].matches[0] else {
            panic!()
        };
        let Match::Recent(y) = &st.ruleset.input.rules[1].matches[0] else {
            panic!()
        };
        let mut want = vec![Recent::list(x), Recent::list(y)];
        want.sort();
        assert_eq!(c.recent_lists, want);
        assert_eq!(c.checks.len(), 2);
    }

    #[test]
    fn nesting_past_the_return_stack_is_refused_naming_the_chains() {
        let mut st = State::default();
        let jump = |to: &str| Rule {
            target: Target::Jump(to.into()),
            ..Rule::default()
        };
        st.ruleset.input.rules = vec![jump("c0")];
        for i in 0..9 {
            let rules = if i < 8 {
                vec![jump(&format!("c{}", i + 1))]
            } else {
                vec![]
            };
            st.ruleset.user_chains.insert(format!("c{i}"), rules);
        }
        let mut slots = crate::edit::Slots::new(&st);
        crate::edit::fill_slots(&mut st, &mut slots).unwrap();
        assert_eq!(
            compile(&st, 0, &interfaces()),
            Err(CompileError::NotSupported(
                "jumps nested more than 8 deep \
                 (INPUT -> c0 -> c1 -> c2 -> c3 -> c4 -> c5 -> c6 -> c7 -> c8)"
                    .into()
            ))
        );
        // Eight deep is fine.
        st.ruleset.user_chains.get_mut("c7").unwrap().clear();
        st.user_counters.get_mut("c7").unwrap().clear();
        assert!(compile(&st, 0, &interfaces()).is_ok());
    }

    #[test]
    fn first_match_honours_start_across_words() {
        // 200 identical rules: the search from any start finds that start.
        let mut state = State::default();
        let r = Rule {
            protocol: Some(Neg::is(17)),
            target: Target::Accept,
            ..Rule::default()
        };
        state.ruleset.input.rules = vec![r; 200];
        state.counters[0] = (0..200).collect();
        let compiled = compile(&state, 1, &interfaces()).unwrap();
        let tables = Tables::new(&compiled, 1);
        let p = crate::testing::datagram();
        for start in [0, 1, 63, 64, 65, 127, 128, 199] {
            assert_eq!(tables.first_match(0, start, &p, &ifindex), Some(start));
        }
        assert_eq!(tables.first_match(0, 200, &p, &ifindex), None);
    }

    /// The state `text` (a restore file) builds for enforcement.
    /// Both families' tables in one bank: IPv6's chains from
    /// CHAIN6_BASE, its rules after IPv4's, its addresses 16 bytes, and
    /// a negated `-p` of an IPv6 chain also names PROTO_NONE6 (a later
    /// fragment without a protocol matches no `! -p`).
    #[test]
    fn ipv6_tables_compile_beside_ipv4_ones() {
        let services = crate::parse::services::Services::default();
        let opts = crate::restore::RestoreOptions::default();
        let v4 = restored("*filter\n-A INPUT -s 192.0.2.0/24 -j DROP\nCOMMIT\n");
        let v6 = crate::restore::restore(
            &v4.for_family(crate::model::Family::V6),
            "*filter\n:OUTPUT DROP [0:0]\n-A INPUT -s 2001:db8::/32 ! -p tcp -j DROP\nCOMMIT\n",
            &opts,
            true,
            &services,
        )
        .unwrap()
        .state
        .for_family(crate::model::Family::V4);
        let c = compile(&v6, 1, &[]).unwrap();
        let chain6 = |n: u32| c.chains.iter().find(|(k, _)| *k == n).unwrap().1;
        assert_eq!(chain6(CHAIN6_BASE).first_rule, 1);
        assert_eq!(chain6(CHAIN6_BASE).rule_count, 1);
        assert_eq!(
            chain6(CHAIN6_BASE + 2).policy,
            firewall_common::Policy::Drop.encode()
        );
        assert_eq!(c.chains.len(), 6);
        let id6 = field_id(1, CHAIN6_BASE, Field::Src);
        let mut want = [0u8; 16];
        want[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        assert!(
            c.addr.iter().any(|(l, k, _)| *l == addr_lpm_prefix(32)
                && u32::from_be_bytes(k.id) == id6
                && k.addr == want),
            "{:?}",
            c.addr
        );
        let id4 = field_id(1, 0, Field::Src);
        assert!(
            c.addr
                .iter()
                .any(|(_, k, _)| u32::from_be_bytes(k.id) == id4
                    && k.addr[..4] == [192, 0, 2, 0]
                    && k.addr[4..] == [0; 12])
        );
        let proto6 = field_id(1, CHAIN6_BASE, Field::Proto);
        let named: Vec<u32> = c
            .values
            .iter()
            .filter(|(k, _)| k.id == proto6)
            .map(|(k, _)| k.value)
            .collect();
        assert_eq!(named, [6, u32::from(firewall_common::PROTO_NONE6)]);
    }

    fn restored(text: &str) -> State {
        let services = crate::parse::services::Services::default();
        let opts = crate::restore::RestoreOptions::default();
        crate::restore::restore(&State::default(), text, &opts, true, &services)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .state
    }

    /// Found by the `compile` fuzz target: the evaluator of compiled maps
    /// took a `-m recent` check for one the kernel cannot decode (a drop)
    /// where the kernel and the reference ask the recent list, which the
    /// packet's `checks` stands for, as for `-m limit`.
    #[test]
    fn fuzz_recent_check_is_kernel_state() {
        let state = restored(
            "*filter\n:INPUT DROP [0:0]\n\
             -A INPUT -p udp -m recent --set --name ssh --rsource\n\
             -A INPUT -p udp -m recent --update --seconds 60 --hitcount 4 --name ssh -j DROP\n\
             -A INPUT -p udp -j ACCEPT\nCOMMIT\n",
        );
        let compiled = compile(&state, 0, &interfaces()).unwrap();
        let packets = [true, false].map(|checks| Packet {
            checks,
            ..crate::testing::datagram()
        });
        walks_agree(&state, &compiled, 0, &packets).unwrap();
    }
}
