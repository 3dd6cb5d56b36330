//! The compiler: turns the ruleset model into the map entries the eBPF
//! classifier reads (`firewall_common::RuleEntry`, `ChainHeader`).
//!
//! Addresses and masks become network-order `u32`s, interface names become
//! interface indexes of the current namespace, and each rule carries its
//! counter slot.

use std::net::Ipv4Addr;

use firewall_common::{
    ChainHeader, F_DPORT, F_IN_IF, F_NOT_DPORT, F_NOT_DST, F_NOT_IN_IF, F_NOT_OUT_IF, F_NOT_PROTO,
    F_NOT_SPORT, F_NOT_SRC, F_OUT_IF, F_PROTO, F_SPORT, MAX_RULES_PER_CHAIN, RuleEntry,
    VERDICT_ACCEPT, VERDICT_DROP,
};

use crate::{
    model::{AddrMask, BuiltinChain, Match, Neg, Policy, PortRange, Rule, Target},
    state::State,
};

/// Errors compiling a ruleset.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    /// A chain holds more rules than the classifier walks.
    #[error("chain {chain} has {count} rules; at most {max} are supported")]
    TooManyRules {
        chain: &'static str,
        count: usize,
        max: u32,
    },
    /// The model uses something the classifier cannot enforce yet.
    #[error("not supported yet: {0}")]
    NotSupported(String),
}

/// One chain ready for the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledChain {
    pub header: ChainHeader,
    pub rules: Vec<RuleEntry>,
}

/// The three chains, in [`BuiltinChain::ALL`] order.
pub type Compiled = [CompiledChain; 3];

fn verdict(t: &Target) -> u8 {
    match t {
        Target::Accept => VERDICT_ACCEPT,
        Target::Drop => VERDICT_DROP,
    }
}

fn policy(p: Policy) -> u8 {
    match p {
        Policy::Accept => VERDICT_ACCEPT,
        Policy::Drop => VERDICT_DROP,
    }
}

/// Network-order `u32` of an address, as the classifier compares it.
fn be(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

fn addr(m: &Option<Neg<AddrMask>>, neg_flag: u16, flags: &mut u16) -> (u32, u32) {
    match m {
        Some(n) => {
            if n.invert {
                *flags |= neg_flag;
            }
            (be(n.value.addr), be(n.value.mask))
        }
        None => (0, 0),
    }
}

fn iface(
    m: &Option<Neg<String>>,
    (has, neg): (u16, u16),
    flags: &mut u16,
    ifindex: &dyn Fn(&str) -> Option<u32>,
) -> Result<u32, CompileError> {
    let Some(n) = m else { return Ok(0) };
    if n.value.ends_with('+') {
        return Err(CompileError::NotSupported(format!(
            "interface wildcard `{}'",
            n.value
        )));
    }
    *flags |= has;
    if n.invert {
        *flags |= neg;
    }
    // An interface that does not exist matches no packet, as in iptables;
    // index 0 is never a real interface.
    Ok(ifindex(&n.value).unwrap_or(0))
}

fn ports(p: &Option<Neg<PortRange>>, (has, neg): (u16, u16), flags: &mut u16) -> (u16, u16) {
    match p {
        Some(n) => {
            *flags |= has;
            if n.invert {
                *flags |= neg;
            }
            (n.value.lo, n.value.hi)
        }
        None => (0, u16::MAX),
    }
}

/// Compiles one rule whose counters live in `counter`.
///
/// # Errors
/// [`CompileError::NotSupported`] for an interface wildcard.
pub fn compile_rule(
    rule: &Rule,
    counter: u32,
    ifindex: &dyn Fn(&str) -> Option<u32>,
) -> Result<RuleEntry, CompileError> {
    let mut flags = 0u16;
    let (src_addr, src_mask) = addr(&rule.source, F_NOT_SRC, &mut flags);
    let (dst_addr, dst_mask) = addr(&rule.destination, F_NOT_DST, &mut flags);
    let in_ifindex = iface(
        &rule.in_interface,
        (F_IN_IF, F_NOT_IN_IF),
        &mut flags,
        ifindex,
    )?;
    let out_ifindex = iface(
        &rule.out_interface,
        (F_OUT_IF, F_NOT_OUT_IF),
        &mut flags,
        ifindex,
    )?;
    let mut proto = 0;
    if let Some(p) = &rule.protocol {
        flags |= F_PROTO;
        if p.invert {
            flags |= F_NOT_PROTO;
        }
        proto = p.value;
    }
    let (mut sport, mut dport) = ((0, u16::MAX), (0, u16::MAX));
    if rule.matches.len() > 1 {
        return Err(CompileError::NotSupported(
            "more than one tcp/udp match in one rule".into(),
        ));
    }
    for m in &rule.matches {
        match m {
            Match::Tcp { sport: s, dport: d } | Match::Udp { sport: s, dport: d } => {
                sport = ports(s, (F_SPORT, F_NOT_SPORT), &mut flags);
                dport = ports(d, (F_DPORT, F_NOT_DPORT), &mut flags);
            }
        }
    }
    Ok(RuleEntry {
        src_addr,
        src_mask,
        dst_addr,
        dst_mask,
        in_ifindex,
        out_ifindex,
        counter,
        sport_lo: sport.0,
        sport_hi: sport.1,
        dport_lo: dport.0,
        dport_hi: dport.1,
        flags,
        proto,
        verdict: verdict(&rule.target),
    })
}

/// Compiles every chain of `state`, resolving interface names with
/// `ifindex` (in the namespace the programs run in).
///
/// # Errors
/// [`CompileError::TooManyRules`] past `MAX_RULES_PER_CHAIN` rules in a
/// chain; [`CompileError::NotSupported`] as [`compile_rule`].
pub fn compile(
    state: &State,
    ifindex: &dyn Fn(&str) -> Option<u32>,
) -> Result<Compiled, CompileError> {
    let chain = |c: BuiltinChain| -> Result<CompiledChain, CompileError> {
        let ch = state.ruleset.chain(c);
        if ch.rules.len() > MAX_RULES_PER_CHAIN as usize {
            return Err(CompileError::TooManyRules {
                chain: c.name(),
                count: ch.rules.len(),
                max: MAX_RULES_PER_CHAIN,
            });
        }
        let rules = ch
            .rules
            .iter()
            .zip(state.slots(c))
            .map(|(r, slot)| compile_rule(r, *slot, ifindex))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CompiledChain {
            header: ChainHeader {
                rule_count: rules.len() as u32,
                policy: policy(ch.policy),
                _pad: [0; 3],
            },
            rules,
        })
    };
    Ok([
        chain(BuiltinChain::Input)?,
        chain(BuiltinChain::Forward)?,
        chain(BuiltinChain::Output)?,
    ])
}
