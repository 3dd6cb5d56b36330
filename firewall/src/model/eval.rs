//! The reference evaluator: iptables' semantics as a plain linear walk of
//! the chain (iptables(8): rules are tried in order, the first whose every
//! match holds decides; otherwise the policy). The compiled classifier is
//! tested against it.

use std::net::Ipv4Addr;

use super::{AddrMask, BuiltinChain, Match, Neg, Policy, PortRange, Rule, Ruleset, Target};

/// What the matches look at in one IPv4 packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// IP protocol number.
    pub proto: u8,
    /// TCP/UDP (source, destination) port, host order; `None` when the
    /// packet is not TCP/UDP or is a non-first fragment.
    pub ports: Option<(u16, u16)>,
    /// Input interface name ("" in OUTPUT).
    pub in_if: String,
    /// Output interface name ("" in INPUT).
    pub out_if: String,
}

/// The outcome of a chain for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Rule `n` (0-based) matched and its target decided.
    Rule(usize, Policy),
    /// No rule matched: the chain's policy.
    Policy(Policy),
}

fn neg<T>(m: &Option<Neg<T>>, hit: impl FnOnce(&T) -> bool) -> bool {
    m.as_ref().is_none_or(|n| hit(&n.value) != n.invert)
}

fn addr_in(a: Ipv4Addr, m: &AddrMask) -> bool {
    u32::from(a) & u32::from(m.mask) == u32::from(m.addr)
}

/// iptables' interface match: exact, or a prefix when the name ends in `+`.
pub fn iface_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('+') {
        Some(stem) => name.starts_with(stem),
        None => pattern == name,
    }
}

fn ports(p: &Packet, sport: &Option<Neg<PortRange>>, dport: &Option<Neg<PortRange>>) -> bool {
    // xt_tcpudp: a packet without ports (a non-first fragment) never
    // matches, negated or not.
    let Some((s, d)) = p.ports else { return false };
    neg(sport, |r| r.lo <= s && s <= r.hi) && neg(dport, |r| r.lo <= d && d <= r.hi)
}

/// Whether every match of `rule` holds for `p`.
pub fn matches(rule: &Rule, p: &Packet) -> bool {
    neg(&rule.protocol, |v| *v == p.proto)
        && neg(&rule.source, |m| addr_in(p.src, m))
        && neg(&rule.destination, |m| addr_in(p.dst, m))
        && neg(&rule.in_interface, |n| iface_matches(n, &p.in_if))
        && neg(&rule.out_interface, |n| iface_matches(n, &p.out_if))
        && rule.matches.iter().all(|m| match m {
            Match::Tcp { sport, dport, .. } | Match::Udp { sport, dport } => ports(p, sport, dport),
            // Outside support::enforceable: never loaded, not evaluated.
            _ => false,
        })
}

/// The verdict of built-in chain `chain` of `ruleset` for `p`.
pub fn evaluate(ruleset: &Ruleset, chain: BuiltinChain, p: &Packet) -> Verdict {
    let ch = ruleset.chain(chain);
    for (n, r) in ch.rules.iter().enumerate() {
        if matches(r, p) {
            let verdict = match r.target {
                Target::Accept => Policy::Accept,
                Target::Drop => Policy::Drop,
                // Outside support::enforceable: never loaded, not evaluated.
                _ => continue,
            };
            return Verdict::Rule(n, verdict);
        }
    }
    Verdict::Policy(ch.policy)
}
