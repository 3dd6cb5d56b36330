//! An evaluator of compiled map contents: the kernel classifier's
//! algorithm over in-memory copies of its maps, so property tests can
//! check the compiler against the reference evaluator
//! ([`crate::model::eval`]) on many rulesets quickly. The kernel program
//! itself is checked with BPF_PROG_TEST_RUN in the integration tests.

use std::collections::HashMap;

use firewall_common::{
    CLASS_DEFAULT, CLASS_NO_PORT, CLASS_W, FIELD_DPORT, FIELD_DST, FIELD_IN_IF, FIELD_PROTO,
    FIELD_SPORT, FIELD_SRC, FIELDS, MAX_JUMP_DEPTH, MAX_STEPS, SUMMARY_WORDS, TARGET_ACCEPT,
    TARGET_DROP, TARGET_GOTO, TARGET_JUMP, TARGET_RETURN, VERDICT_ACCEPT, WORD_BITS, field_id,
};

use super::Compiled;
use crate::model::{Policy, eval::Packet};

/// In-memory maps of one compiled bank.
pub struct Tables<'a> {
    bank: u32,
    c: &'a Compiled,
    addr: HashMap<(u32, u32, u32), u32>,
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

fn verdict(v: u32) -> Policy {
    if v == VERDICT_ACCEPT {
        Policy::Accept
    } else {
        Policy::Drop
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
                .map(|(l, k, v)| ((id(k.id), *l, u32::from_be_bytes(k.addr)), *v))
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

    fn class(&self, id: u32, field: u32, p: &Packet, ifindex: &dyn Fn(&str) -> u32) -> u32 {
        let lpm_addr = |a: u32| {
            (0..=32u32).rev().find_map(|l| {
                let m = if l == 0 { 0 } else { u32::MAX << (32 - l) };
                self.addr.get(&(id, 32 + l, a & m)).copied()
            })
        };
        let lpm_port = |x: u16| {
            (0..=16u32).rev().find_map(|l| {
                let m = if l == 0 { 0 } else { u16::MAX << (16 - l) };
                self.port.get(&(id, 32 + l, x & m)).copied()
            })
        };
        let found = match field {
            FIELD_SRC => lpm_addr(u32::from(p.src)),
            FIELD_DST => lpm_addr(u32::from(p.dst)),
            FIELD_SPORT | FIELD_DPORT => match p.ports {
                None => return CLASS_NO_PORT,
                Some((s, d)) => lpm_port(if field == FIELD_SPORT { s } else { d }),
            },
            FIELD_PROTO => self.values.get(&(id, u32::from(p.proto))).copied(),
            FIELD_IN_IF => self.values.get(&(id, ifindex(&p.in_if))).copied(),
            _ => self.values.get(&(id, ifindex(&p.out_if))).copied(),
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
        for f in 0..FIELDS {
            if info.fields & (1 << f) == 0 {
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
            let hit = self.first_match(chain, start, p, ifindex);
            let rule = hit.map(|n| {
                w.counted.push((chain, n));
                self.c.rules[(ci.first_rule + n) as usize]
            });
            match rule.map(|r| (r.target, r.chain)) {
                Some((TARGET_ACCEPT, _)) => {
                    w.verdict = Policy::Accept;
                    return w;
                }
                Some((TARGET_DROP, _)) => return w,
                Some((TARGET_JUMP, to)) => {
                    if stack.len() >= MAX_JUMP_DEPTH {
                        return w;
                    }
                    stack.push((chain, hit.unwrap_or(0) + 1));
                    (chain, start) = (to, 0);
                }
                Some((TARGET_GOTO, to)) => (chain, start) = (to, 0),
                Some((TARGET_RETURN, _)) | None => match stack.pop() {
                    Some(back) => (chain, start) = back,
                    None => {
                        w.verdict = verdict(info(root).map_or(VERDICT_ACCEPT, |i| i.policy));
                        w.policy = true;
                        return w;
                    }
                },
                Some(_) => start = hit.unwrap_or(0) + 1,
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
