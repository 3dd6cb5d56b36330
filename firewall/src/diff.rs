//! What changes between two rulesets, rule by rule: the alignment `fw
//! apply` keeps counters by, and the `-A`/`-D` lines `fw apply --diff`
//! prints.
//!
//! Two chains are aligned as diff(1) aligns lines: the common prefix and
//! suffix, then a longest common subsequence of the middle. The table of
//! that last step has one `u32` per pair of middle rules; beyond
//! [`MAX_CELLS`] pairs the middle is taken as all changed (the result is
//! still a correct description, only less economical, and those rules'
//! counters start from zero).

use std::fmt::Write as _;

use crate::{
    edit::{EditError, Slots},
    model::{BuiltinChain, Rule, Ruleset},
    render,
    state::State,
};

/// The largest longest-common-subsequence table (cells) [`align`] builds:
/// 16 MiB.
pub const MAX_CELLS: usize = 4_000_000;

/// The pairs `(old index, new index)` of rules that stay, in order.
pub fn align(old: &[Rule], new: &[Rule]) -> Vec<(usize, usize)> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let (o, n) = (&old[prefix..], &new[prefix..]);
    let suffix = o
        .iter()
        .rev()
        .zip(n.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (o, n) = (&o[..o.len() - suffix], &n[..n.len() - suffix]);
    let mut pairs: Vec<(usize, usize)> = (0..prefix).map(|i| (i, i)).collect();
    let cells = (o.len() + 1).saturating_mul(n.len() + 1);
    if !o.is_empty() && !n.is_empty() && cells <= MAX_CELLS {
        // lcs[i * w + j]: the LCS length of o[i..] and n[j..].
        let w = n.len() + 1;
        let mut lcs = vec![0u32; cells];
        for i in (0..o.len()).rev() {
            for j in (0..n.len()).rev() {
                lcs[i * w + j] = if o[i] == n[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < o.len() && j < n.len() {
            if o[i] == n[j] {
                pairs.push((prefix + i, prefix + j));
                i += 1;
                j += 1;
            } else if lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    let (ob, nb) = (prefix + o.len(), prefix + n.len());
    pairs.extend((0..suffix).map(|k| (ob + k, nb + k)));
    pairs
}

/// Gives the rules of `new` counter slots: a rule [`align`] pairs with a
/// rule of the same chain in `old` takes over its slot (and so its
/// counters), every other rule gets a free slot. Returns the slots handed
/// out anew, whose counters must start from zero.
///
/// # Errors
/// [`EditError::NoCounterSlot`] when the slots run out.
pub fn keep_counters(old: &State, new: &mut State) -> Result<Vec<u32>, EditError> {
    let mut kept: Vec<(String, Vec<Option<u32>>)> = Vec::new();
    for (chain, rules) in new.ruleset.all_rules() {
        let mut slots = vec![None; rules.len()];
        if let Some(before) = old.ruleset.rules(chain) {
            let old_slots = old.chain_slots(chain);
            for (o, n) in align(before, rules) {
                slots[n] = old_slots.get(o).copied();
            }
        }
        kept.push((chain.to_string(), slots));
    }
    // The allocator must not hand out a slot that is kept, nor one of
    // the other family's table (which this change leaves as it is).
    let mut holding = State {
        other: new.other.clone(),
        ..State::default()
    };
    for (chain, slots) in &kept {
        *holding.chain_slots_mut(chain) = slots.iter().flatten().copied().collect();
    }
    let mut alloc = Slots::new(&holding);
    for (chain, slots) in kept {
        let filled = slots
            .into_iter()
            .map(|s| match s {
                Some(s) => Ok(s),
                None => alloc.take(),
            })
            .collect::<Result<Vec<u32>, EditError>>()?;
        *new.chain_slots_mut(&chain) = filled;
    }
    new.user_counters
        .retain(|c, _| new.ruleset.user_chains.contains_key(c));
    Ok(alloc.fresh)
}

/// What changes from `old` to `new`, in `iptables -S` syntax, one line
/// each (empty when nothing does): `-N` for chains created, `-P` for
/// policies changed, per chain (in `-S` order) `-D CHAIN SPEC` for rules
/// that go and `-A CHAIN SPEC` for rules that come, in the order of the
/// alignment, and `-X` for chains removed.
pub fn describe(old: &Ruleset, new: &Ruleset) -> String {
    let mut out = String::new();
    for name in new.user_chains.keys() {
        if !old.user_chains.contains_key(name) {
            let _ = writeln!(out, "-N {name}");
        }
    }
    for c in BuiltinChain::ALL {
        let p = new.chain(c).policy;
        if old.chain(c).policy != p {
            let _ = writeln!(out, "-P {} {}", c.name(), p.name());
        }
    }
    let empty = Vec::new();
    let mut names: Vec<&str> = new.chain_names();
    names.extend(
        old.user_chains
            .keys()
            .map(String::as_str)
            .filter(|n| !new.user_chains.contains_key(*n)),
    );
    for name in names {
        let before = old.rules(name).unwrap_or(&empty);
        let after = new.rules(name).unwrap_or(&empty);
        let pairs = align(before, after);
        let (mut i, mut j) = (0, 0);
        for (o, n) in pairs
            .into_iter()
            .chain(std::iter::once((before.len(), after.len())))
        {
            for r in &before[i..o] {
                let _ = writeln!(
                    out,
                    "{}",
                    render::rule_spec(name, r).replacen("-A", "-D", 1)
                );
            }
            for r in &after[j..n] {
                let _ = writeln!(out, "{}", render::rule_spec(name, r));
            }
            (i, j) = (o + 1, n + 1);
        }
    }
    for name in old.user_chains.keys() {
        if !new.user_chains.contains_key(name) {
            let _ = writeln!(out, "-X {name}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;

    fn rule(port: u8) -> Rule {
        Rule {
            protocol: Some(crate::model::Neg::is(port)),
            target: Target::Accept,
            ..Rule::default()
        }
    }

    #[test]
    fn alignment_keeps_the_longest_common_run() {
        let old: Vec<Rule> = [1, 2, 3, 4, 5].map(rule).to_vec();
        let new: Vec<Rule> = [1, 3, 9, 4, 5, 6].map(rule).to_vec();
        assert_eq!(align(&old, &new), vec![(0, 0), (2, 1), (3, 3), (4, 4)]);
        assert_eq!(
            align(&old, &old),
            (0..5).map(|i| (i, i)).collect::<Vec<_>>()
        );
        assert_eq!(align(&[], &new), vec![]);
    }

    #[test]
    fn counters_stay_with_unchanged_rules() {
        let mut old = State::default();
        old.ruleset.input.rules = [1, 2, 3].map(rule).to_vec();
        *old.slots_mut(BuiltinChain::Input) = vec![7, 0, 3];
        let mut new = State::default();
        new.ruleset.input.rules = [9, 1, 3, 8].map(rule).to_vec();
        *new.slots_mut(BuiltinChain::Input) = vec![0, 1, 2, 3];
        let fresh = keep_counters(&old, &mut new).unwrap();
        assert_eq!(new.slots(BuiltinChain::Input), &vec![0, 7, 3, 1]);
        assert_eq!(fresh, vec![0, 1]);
    }

    /// The other family's table keeps its slots: no new rule shares one.
    #[test]
    fn new_rules_take_no_slot_of_the_other_family() {
        let old = State::default();
        let mut new = State::default();
        new.ruleset.input.rules = [1, 2].map(rule).to_vec();
        new.other.counters[0] = vec![0, 1];
        let fresh = keep_counters(&old, &mut new).unwrap();
        assert_eq!(new.slots(BuiltinChain::Input), &vec![2, 3]);
        assert_eq!(fresh, vec![2, 3]);
    }

    #[test]
    fn description_in_iptables_syntax() {
        let mut old = Ruleset::default();
        old.input.rules = [1, 2].map(rule).to_vec();
        old.user_chains.insert("gone".into(), vec![rule(6)]);
        let mut new = old.clone();
        new.user_chains.clear();
        new.user_chains.insert("web".into(), vec![]);
        new.input.rules = [2, 17].map(rule).to_vec();
        new.forward.policy = crate::model::Policy::Drop;
        assert_eq!(
            describe(&old, &new),
            "-N web\n-P FORWARD DROP\n-D INPUT -p icmp -j ACCEPT\n-A INPUT -p udp -j ACCEPT\n\
             -D gone -p tcp -j ACCEPT\n-X gone\n"
        );
        assert_eq!(describe(&new, &new), "");
    }
}
