//! An evaluator of compiled map contents: the kernel classifier's
//! algorithm over in-memory copies of its maps, so property tests can
//! check the compiler against the reference evaluator
//! ([`crate::model::eval`]) on many rulesets quickly. The kernel program
//! itself is checked with BPF_PROG_TEST_RUN in the integration tests.

use std::collections::HashMap;

use firewall_common::{
    ADDR_BITS, CLASS_DEFAULT, CLASS_NO_PORT, CLASS_W, FastPath, Field, FieldKey, LPM_ID_BITS,
    MAX_JUMP_DEPTH, MAX_STEPS, NO_HEADER_VALUE, NO_PORT_VALUE, POLICY_ACCEPT, PORT_BITS,
    SUMMARY_WORDS, Verdict, WORD_BITS, ct, field_id,
};

use super::Compiled;
use crate::model::{Policy, eval::Packet};

/// In-memory maps of one compiled bank.
pub struct Tables<'a> {
    bank: u32,
    c: &'a Compiled,
    addr: HashMap<(u32, u32, u128), u32>,
    port: HashMap<(u32, u32, u16), u32>,
    values: HashMap<(u32, u32), u32>,
    summaries: HashMap<(u32, u32), [u64; SUMMARY_WORDS]>,
    words: HashMap<(u32, u32, u32), u64>,
}

/// The outcome, as the kernel computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Rule `n` of the chain matched with this verdict.
    Rule(usize, Policy),
    /// The policy.
    Policy(Policy),
}

/// The packet's value of `field` as the kernel's `Packet::value` gives
/// it, with `ifindex` mapping interface names to indexes.
fn value(field: Field, p: &Packet, ifindex: &dyn Fn(&str) -> u32) -> u32 {
    match (field, p.ports) {
        (Field::Src, _) => u32::from(p.src),
        (Field::Dst, _) => u32::from(p.dst),
        (Field::Proto, _) => u32::from(p.proto),
        (Field::Sport, Some((s, _))) => u32::from(s),
        (Field::Dport, Some((_, d))) => u32::from(d),
        (Field::Sport | Field::Dport, None) => NO_PORT_VALUE,
        (Field::InIf, _) => ifindex(&p.in_if),
        (Field::OutIf, _) => ifindex(&p.out_if),
        (Field::Ttl, _) => u32::from(p.ttl),
        (Field::CtState, _) => u32::from(p.ctstate),
        (Field::Icmp, _) => p
            .icmp
            .map_or(NO_HEADER_VALUE, |(t, c)| u32::from(t) << 8 | u32::from(c)),
        (Field::TcpFlags, _) => p.tcp_flags.map_or(NO_HEADER_VALUE, |f| u32::from(f & 0x3f)),
        (Field::Length, _) => u32::from(p.len),
    }
}

impl<'a> Tables<'a> {
    /// Indexes the entries of `c`, compiled for bank `bank`.
    pub fn new(c: &'a Compiled, bank: u32) -> Self {
        let id = |b: [u8; 4]| u32::from_be_bytes(b);
        Self {
            bank,
            c,
            addr: c
                .addr
                .iter()
                .map(|(l, k, v)| ((id(k.id), *l, u128::from_be_bytes(k.addr)), *v))
                .collect(),
            port: c
                .port
                .iter()
                .map(|(l, k, v)| ((id(k.id), *l, u16::from_be_bytes(k.port)), *v))
                .collect(),
            values: c
                .values
                .iter()
                .map(|(k, v)| ((k.id, k.value), *v))
                .collect(),
            summaries: c
                .summaries
                .iter()
                .map(|(k, s)| ((k.id, k.class), s.words))
                .collect(),
            words: c
                .words
                .iter()
                .map(|(k, w)| ((k.id, k.class, k.word), *w))
                .collect(),
        }
    }

    fn class(&self, id: u32, field: Field, p: &Packet, ifindex: &dyn Fn(&str) -> u32) -> u32 {
        let v = value(field, p, ifindex);
        let found = match field.key() {
            // IPv4, left-aligned as the compiler writes it.
            FieldKey::Addr => (0..=ADDR_BITS).rev().find_map(|l| {
                let m = u32::MAX.checked_shl(ADDR_BITS - l).unwrap_or(0);
                let a = u128::from(v & m) << 96;
                self.addr.get(&(id, LPM_ID_BITS + l, a)).copied()
            }),
            FieldKey::Port if v == NO_PORT_VALUE => return CLASS_NO_PORT,
            FieldKey::Port => (0..=PORT_BITS).rev().find_map(|l| {
                let m = u16::MAX.checked_shl(PORT_BITS - l).unwrap_or(0);
                self.port.get(&(id, LPM_ID_BITS + l, v as u16 & m)).copied()
            }),
            FieldKey::Value => self.values.get(&(id, v)).copied(),
        };
        found.unwrap_or(CLASS_DEFAULT)
    }

    fn word(&self, id: u32, class: u32, w: u32) -> u64 {
        self.words.get(&(id, class, w)).copied().unwrap_or(0)
    }

    /// The kernel's search: first rule at or after `start` of chain
    /// `chain` accepting `p`. `ifindex` maps interface names to indexes
    /// (0 for none).
    pub fn first_match(
        &self,
        chain: u32,
        start: u32,
        p: &Packet,
        ifindex: &dyn Fn(&str) -> u32,
    ) -> Option<u32> {
        let info = self.c.chains.iter().find(|(n, _)| *n == chain)?.1;
        if start >= info.rule_count {
            return None;
        }
        if info.fields == 0 {
            return Some(start);
        }
        let mut cand = [u64::MAX; SUMMARY_WORDS];
        let mut fields = Vec::new();
        for f in Field::ALL {
            if info.fields & f.bit() == 0 {
                continue;
            }
            let id = field_id(self.bank, chain, f);
            let class = self.class(id, f, p, ifindex);
            let sum = self.summaries.get(&(id, class))?;
            for (c, s) in cand.iter_mut().zip(sum) {
                *c &= s;
            }
            fields.push((id, class));
        }
        for (sw, &bits) in cand.iter().enumerate() {
            for b in 0..WORD_BITS {
                if bits & (1 << b) == 0 {
                    continue;
                }
                let w = sw as u32 * WORD_BITS + b;
                if w < start / WORD_BITS {
                    continue;
                }
                let mut acc = u64::MAX;
                if w == start / WORD_BITS {
                    acc <<= start % WORD_BITS;
                }
                for &(id, class) in &fields {
                    acc &= self.word(id, CLASS_W, w) ^ self.word(id, class, w);
                }
                if acc != 0 {
                    return Some(w * WORD_BITS + acc.trailing_zeros());
                }
            }
        }
        None
    }

    /// Whether the checks `packed` (`RuleInfo::checks`) pass for `p`, as
    /// firewall-ebpf's `fw_check` decides them in order; `None` where
    /// the kernel finds one that does not decode (and drops).
    fn checks(&self, packed: u32, p: &Packet) -> Option<bool> {
        use firewall_common::check::{
            KIND_ADDRTYPE, KIND_CONNTRACK, KIND_DATA, KIND_HASHLIMIT, KIND_LIMIT, KIND_MAC,
            KIND_MARK, KIND_OWNER, KIND_POLICY, KIND_PORTS, KIND_RECENT, KIND_RT, KIND_SET,
            KIND_TCP_OPTION, KIND_TCPMSS, KIND_TIME, RANGES_PER_DATA, mac_word, unpack,
        };
        let (first, count) = unpack(packed);
        for n in first..first + count {
            let c = self.c.checks.get(n as usize)?;
            let pass = match c.kind {
                // Kernel state: the packet says.
                KIND_LIMIT | KIND_RECENT | KIND_HASHLIMIT | KIND_SET | KIND_TIME => p.checks,
                KIND_MAC => p.mac.is_some_and(|m| (mac_word(m) == c.a) != (c.b != 0)),
                KIND_PORTS => {
                    let count = (c.b & 0xffff) as usize;
                    let mut ranges = Vec::new();
                    for d in 0..count.div_ceil(RANGES_PER_DATA as usize) {
                        let e = self.c.checks.get(c.a as usize + d)?;
                        if e.kind != KIND_DATA {
                            return None;
                        }
                        for w in [e.a, e.b, e.state] {
                            ranges.push((w as u16, (w >> 16) as u16));
                            ranges.push(((w >> 32) as u16, (w >> 48) as u16));
                        }
                    }
                    let hit = |v: u16| ranges[..count].iter().any(|&(lo, hi)| lo <= v && v <= hi);
                    p.ports
                        .is_some_and(|(s, d)| (hit(s) || hit(d)) != (c.b >> 32 & 1 != 0))
                }
                KIND_MARK => (p.mark & c.arg == c.a as u32) != (c.b != 0),
                KIND_POLICY => c.arg == 1,
                // A bad option area drops (the hot drop), as `None` does.
                KIND_TCPMSS => {
                    let area = p.tcp_options.as_ref()?;
                    p.tcp_flags.is_some()
                        && match firewall_common::check::first_mss(area) {
                            Some(v) => {
                                (u64::from(v) >= c.a & 0xffff && u64::from(v) <= c.a >> 16 & 0xffff)
                                    != (c.b != 0)
                            }
                            None => c.b != 0,
                        }
                }
                KIND_OWNER => {
                    let range = |r: u64| (r as u32, (r >> 32) as u32);
                    firewall_common::check::owner::matches(c.arg, range(c.a), range(c.b), p.sock)
                }
                KIND_ADDRTYPE => firewall_common::check::addrtype::matches(
                    c.arg,
                    c.a as u32,
                    c.b as u32,
                    p.addr_types.0,
                    p.addr_types.1,
                ),
                KIND_CONNTRACK => {
                    let data = |i: u64| {
                        self.c
                            .checks
                            .get((c.a + i) as usize)
                            .filter(|e| e.kind == KIND_DATA)
                    };
                    conntrack(c, &[data(0)?, data(1)?, data(2)?, data(3)?, data(4)?], p)
                }
                // A bad option area drops (the hot drop), as `None` does.
                KIND_TCP_OPTION => p
                    .tcp_options
                    .as_ref()
                    .map(|area| crate::model::eval::find_option(area, c.a as u8) != (c.b != 0))?,
                // The reference's packets are IPv4's: no routing header,
                // as `model::eval` answers `-m rt`.
                KIND_RT => false,
                _ => return None,
            };
            if !pass {
                return Some(false);
            }
        }
        Some(true)
    }

    /// The verdict of built-in chain `chain` for `p`, for rulesets
    /// without user-defined chains.
    pub fn evaluate(&self, chain: u32, p: &Packet, ifindex: &dyn Fn(&str) -> u32) -> Outcome {
        let w = self.walk(chain, p, ifindex);
        match w.counted.last() {
            Some(&(c, n)) if !w.policy && c == chain => Outcome::Rule(n as usize, w.verdict),
            _ => Outcome::Policy(w.verdict),
        }
    }

    /// The kernel's walk from built-in chain `root` (`walk_step` in
    /// firewall-ebpf): the verdict, every (chain, rule) whose target was
    /// taken, and whether the policy decided.
    pub fn walk(&self, root: u32, p: &Packet, ifindex: &dyn Fn(&str) -> u32) -> Walk {
        let info = |c: u32| self.c.chains.iter().find(|(n, _)| *n == c).map(|(_, i)| *i);
        let mut w = Walk {
            verdict: Policy::Drop,
            counted: Vec::new(),
            policy: false,
        };
        let mut stack: Vec<(u32, u32)> = Vec::new();
        let (mut chain, mut start) = (root, 0u32);
        for _ in 0..MAX_STEPS {
            let Some(ci) = info(chain) else { return w };
            // The kernel's ESTABLISHED fast path (classify.rs `fast`).
            let fast = if chain == root && start == 0 && u32::from(p.ctstate) == ct::ESTABLISHED {
                ci.fast_rule()
            } else {
                FastPath::None
            };
            let hit = match fast {
                FastPath::Rule(n) => Some(n),
                FastPath::None => self.first_match(chain, start, p, ifindex),
                // The kernel drops.
                FastPath::Garbled => return w,
            };
            // A failing check: on at the next rule, uncounted (check.rs).
            if let Some(n) = hit {
                match self.checks(self.c.rules[(ci.first_rule + n) as usize].checks, p) {
                    Some(true) => {}
                    Some(false) => {
                        start = n + 1;
                        continue;
                    }
                    // The kernel drops on a check that does not decode.
                    None => return w,
                }
            }
            let rule = hit.map(|n| {
                w.counted.push((chain, n));
                self.c.rules[(ci.first_rule + n) as usize]
            });
            let verdict = match rule.map(|r| r.verdict()) {
                Some(Some(v)) => Some(v),
                None => None,
                // The kernel drops on a target that does not decode.
                Some(None) => return w,
            };
            match verdict {
                Some(Verdict::Accept) => {
                    w.verdict = Policy::Accept;
                    return w;
                }
                // REJECT is a drop with an answer.
                Some(Verdict::Drop | Verdict::Reject(_)) => return w,
                Some(Verdict::Continue | Verdict::Log(_)) => start = hit.unwrap_or(0) + 1,
                Some(Verdict::Jump(to)) => {
                    if stack.len() >= MAX_JUMP_DEPTH {
                        return w;
                    }
                    stack.push((chain, hit.unwrap_or(0) + 1));
                    (chain, start) = (to, 0);
                }
                Some(Verdict::Goto(to)) => (chain, start) = (to, 0),
                Some(Verdict::Return) | None => match stack.pop() {
                    Some(back) => (chain, start) = back,
                    None => {
                        // A CHAINS array slot never written reads as zeros.
                        let raw = info(root).map_or(POLICY_ACCEPT, |i| i.policy);
                        let policy = firewall_common::Policy::decode(raw);
                        w.verdict = match policy {
                            Some(firewall_common::Policy::Accept) => Policy::Accept,
                            // The kernel drops on a policy that does not decode.
                            Some(firewall_common::Policy::Drop) | None => Policy::Drop,
                        };
                        w.policy = true;
                        return w;
                    }
                },
            }
        }
        w
    }
}

/// What the kernel's walk did for one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    /// The verdict (DROP when the walk ran out of steps).
    pub verdict: Policy,
    /// (chain number, rule position) of every rule whose target was taken.
    pub counted: Vec<(u32, u32)>,
    /// Whether the built-in chain's policy decided.
    pub policy: bool,
}

/// firewall-ebpf's `conntrack` check of `c` (its data entries `d`)
/// for `p`.
fn conntrack(
    c: &firewall_common::check::Check,
    d: &[&firewall_common::check::Check; firewall_common::check::conntrack::DATA],
    p: &Packet,
) -> bool {
    use firewall_common::check::conntrack::*;
    let f = c.arg;
    let Some(k) = p.conn else {
        return f & F_STATE != 0;
    };
    if f & F_DIR != 0 && k.reply != (f & F_DIR_REPLY != 0) {
        return false;
    }
    if f & F_PROTO != 0 && (u64::from(k.proto) == c.b) == (f & F_PROTO_NOT != 0) {
        return false;
    }
    let wide = |a: std::net::Ipv4Addr| {
        let mut w = [0u8; 16];
        w[..4].copy_from_slice(&a.octets());
        w
    };
    let addrs = [wide(k.src), wide(k.dst), wide(k.dst), wide(k.src)];
    for (i, have) in addrs.iter().enumerate() {
        if f & (F_ADDR << i) != 0 && within(have, d[i]) == (f & (F_ADDR_NOT << i) != 0) {
            return false;
        }
    }
    let ports = [
        (k.sport, d[4].a),
        (k.dport, d[4].a >> 32),
        (k.dport, d[4].b),
        (k.sport, d[4].b >> 32),
    ];
    for (i, (have, r)) in ports.into_iter().enumerate() {
        let within = r as u16 <= have && have <= (r >> 16) as u16;
        if f & (F_PORT << i) != 0 && within == (f & (F_PORT_NOT << i) != 0) {
            return false;
        }
    }
    true
}
