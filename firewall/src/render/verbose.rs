//! What iptables prints with `-v` for the commands that change the
//! ruleset (`print_firewall_line` and the "Flushing chain" lines).

use std::fmt::Write as _;

use super::list::{addr_with_mask, fragment_opt, list_iface, list_line_end, protocol_bang};
use crate::{
    model::{AddrMask, Family, Neg, Rule, Ruleset},
    parse::{protocols, services::Services},
};

/// The line iptables prints for a rule with `-v` before it adds, inserts,
/// replaces, deletes or checks it (its `print_firewall_line`): numeric,
/// without counters or columns, e.g.
/// `ACCEPT  tcp opt -- in * out *  0.0.0.0/0  -> 0.0.0.0/0   tcp dpt:22`.
/// Protocols are printed by the names libxtables knows itself (`tcp`,
/// `all`, ...), others by number.
pub fn rule_line(rule: &Rule, family: Family, services: &Services) -> String {
    let mut out = String::new();
    let _ = write!(out, "{} ", rule.target.name());
    let proto = protocol_bang(&mut out, rule);
    match protocols::CHAIN_PROTOS.iter().find(|(_, n)| *n == proto) {
        Some((name, _)) => {
            let _ = write!(out, "{name} ");
        }
        None => {
            let _ = write!(out, "{proto} ");
        }
    }
    let opt = fragment_opt(rule);
    let _ = write!(
        out,
        "opt {opt} in {} out {} ",
        list_iface(&rule.in_interface, true),
        list_iface(&rule.out_interface, true)
    );
    let addr = |a: &Option<Neg<AddrMask>>| -> (char, String) {
        match a {
            None => (' ', addr_with_mask(&family.any(), false)),
            Some(a) => (
                if a.invert { '!' } else { ' ' },
                addr_with_mask(&a.value, false),
            ),
        }
    };
    let (si, s) = addr(&rule.source);
    let (di, d) = addr(&rule.destination);
    let _ = write!(out, "{si}{s} {di}-> {d}  ");
    list_line_end(&mut out, rule, true, services);
    out
}

/// What iptables prints on standard output for `command` with `-v`, run on
/// `ruleset` (as it was before the command): the rule lines of
/// [`rule_line`] for `-A -I -R -C` and `-D` by specification, and
/// "Flushing chain", "Zeroing chain", "Deleting chain" lines for `-F`,
/// `-Z` and `-X` (one per chain, all chains when none is named).
pub fn verbose_output(
    command: &crate::command::Command,
    ruleset: &Ruleset,
    services: &Services,
) -> String {
    use crate::command::{Command, RuleRef};
    let mut out = String::new();
    let each = |out: &mut String, verb: &str, chain: &Option<String>, builtins: bool| {
        let names: Vec<&str> = match chain {
            Some(c) => vec![c.as_str()],
            None if builtins => ruleset.chain_names(),
            None => ruleset.user_chains.keys().map(String::as_str).collect(),
        };
        for c in names {
            let _ = writeln!(out, "{verb} chain `{c}'");
        }
    };
    match command {
        Command::Append { rules, .. }
        | Command::Insert { rules, .. }
        | Command::Check { rules, .. }
        | Command::Delete {
            which: RuleRef::Spec(rules),
            ..
        } => {
            for r in rules {
                out.push_str(&rule_line(r, ruleset.family, services));
            }
        }
        Command::Replace { rule, .. } => out.push_str(&rule_line(rule, ruleset.family, services)),
        Command::Flush { chain } => each(&mut out, "Flushing", chain, true),
        Command::Zero { chain, rule: None } => each(&mut out, "Zeroing", chain, true),
        Command::DeleteChain { chain } => each(&mut out, "Deleting", chain, false),
        _ => {}
    }
    out
}
