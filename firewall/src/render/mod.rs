//! Printing the ruleset the way `iptables -S`, `iptables -L` and
//! `iptables-save` print it (iptables(8) "COMMANDS", iptables-save(8)),
//! byte for byte as iptables-legacy 1.8.9 does, trailing spaces included:
//! the column widths and counter formats follow iptables' `print_header`,
//! `print_firewall` and libxtables' `xtables_print_num`; each match and
//! target follows its extension's `print` (for `-L`) and `save` (for `-S`
//! and iptables-save) functions (iptables-extensions(8)).
//!
//! One file per output: [`save`] (`-S`, iptables-save), [`list`] (`-L`),
//! [`verbose`] (the `-v` echo of commands); each extension prints its own
//! part ([`crate::extensions`]).
//!
//! Deviations, on purpose:
//! - fw does no name lookups for addresses: without `-n`, iptables prints
//!   `localhost` or `default/8` (reverse DNS, /etc/hosts, /etc/networks)
//!   where fw prints the numbers. 0.0.0.0/0 is still `anywhere`.
//! - `-S` prints `! --sport 0:65535`, `! -i +` and a `--tcp-flags` whose
//!   mask is empty but whose comparison is not, which iptables leaves out
//!   (so its `-S` output, restored, would widen these rules, which match
//!   nothing, into rules matching everything).
//! - Interface names and set names with white space or quotes are quoted
//!   so that the output parses back; iptables never quotes them.

pub mod json;
mod list;
mod save;
mod verbose;

use std::collections::BTreeMap;

pub use list::{list, list_with};
pub use save::{list_rules, rule_spec, save};
pub use verbose::{rule_line, verbose_output};

use crate::model::{BuiltinChain, Ruleset};

/// Packet and byte counters, as fw reads them from the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Packets counted.
    pub packets: u64,
    /// Bytes counted (of the IP packets, headers included).
    pub bytes: u64,
}

/// The counters to print: each built-in chain's policy counter and each
/// rule's. A counter not given prints as 0 (a rule fw does not load, such
/// as one in a user-defined chain today, has counted nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Policy counters, in [`BuiltinChain::ALL`] order.
    pub policy: [Counts; 3],
    /// Rule counters by chain name, in rule order.
    pub rules: BTreeMap<String, Vec<Counts>>,
}

impl Counters {
    /// Counters of the built-in chains only, `rules[i]` for
    /// `BuiltinChain::ALL[i]`.
    pub fn builtin(policy: [Counts; 3], rules: [Vec<Counts>; 3]) -> Self {
        Self {
            policy,
            rules: BuiltinChain::ALL
                .iter()
                .map(|c| c.name().to_string())
                .zip(rules)
                .collect(),
        }
    }

    /// The policy counter of `c`.
    pub fn policy(&self, c: BuiltinChain) -> Counts {
        self.policy[c.map_index() as usize]
    }

    /// The counter of rule `n` (0-based) of `chain`.
    pub fn rule(&self, chain: &str, n: usize) -> Counts {
        self.rules
            .get(chain)
            .and_then(|r| r.get(n))
            .copied()
            .unwrap_or_default()
    }
}

/// The chains a command names, in listing order: `chain`, or every chain
/// (built-in ones first, then user-defined ones by name).
fn chains<'a>(ruleset: &'a Ruleset, chain: Option<&'a str>) -> Vec<&'a str> {
    match chain {
        Some(c) => vec![c],
        None => ruleset.chain_names(),
    }
}

/// A word as `-S` prints it: as is, or double-quoted (with `\"` and `\\`)
/// when it would not survive splitting (white space, quotes). iptables
/// never quotes interface names; fw does so that its output parses back.
pub(crate) fn word(s: &str) -> String {
    if s.is_empty() || s.chars().any(|c| matches!(c, ' ' | '\t' | '\n' | '"')) {
        let mut q = String::from("\"");
        for c in s.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        s.to_string()
    }
}

/// libxtables' `xtables_save_string`: ` value`, or ` "value"` with `"`,
/// `\` and `'` escaped when it has anything but letters, digits, `_`, `-`
/// (or is empty).
pub(crate) fn save_string(out: &mut String, value: &str) {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    out.push(' ');
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests;
