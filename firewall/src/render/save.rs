//! `-S` (with `-v`: `-c` counters) and iptables-save(8) output.

use std::fmt::Write as _;

use super::{Counters, Counts, chains, word};
use crate::{
    extensions::{
        matches::bang,
        targets::{TargetExt, log, reject},
    },
    model::{BuiltinChain, Fragment, Rule, Ruleset, Target},
    parse::protocols,
};

/// The target part of a `-S` line (` -j NAME` and the target's `save`).
fn save_target(s: &mut String, t: &Target) {
    match t {
        Target::None => {}
        Target::Goto(c) => {
            let _ = write!(s, " -g {c}");
        }
        Target::Accept | Target::Drop | Target::Return | Target::Jump(_) => {
            let _ = write!(s, " -j {}", t.name());
        }
        Target::Reject(w) => {
            let _ = write!(s, " -j {}", t.name());
            <reject::Ext as TargetExt>::save(w, s);
        }
        Target::Log(l) => {
            let _ = write!(s, " -j {}", t.name());
            <log::Ext as TargetExt>::save(l, s);
        }
    }
}

/// The rule part of a `-S` line, with `-c` counters when given.
fn spec_body(rule: &Rule, counts: Option<Counts>) -> String {
    let mut s = String::new();
    for (flag, a) in [("-s", &rule.source), ("-d", &rule.destination)] {
        if let Some(a) = a {
            // `/N` for a contiguous mask (`/32` too), else the mask
            // itself (iptables' and ip6tables' `print_ip`).
            let _ = write!(
                s,
                "{} {flag} {}",
                bang(a.invert),
                super::list::addr_with_mask(&a.value, true)
            );
        }
    }
    for (flag, i) in [("-i", &rule.in_interface), ("-o", &rule.out_interface)] {
        // Like iptables, leave out `-i +`, which matches every interface.
        if let Some(i) = i
            && (i.invert || i.value != "+")
        {
            let _ = write!(s, "{} {flag} {}", bang(i.invert), word(&i.value));
        }
    }
    if let Some(p) = &rule.protocol
        && p.value != 0
    {
        let name =
            protocols::display_name(p.value).map_or_else(|| p.value.to_string(), str::to_string);
        let _ = write!(s, "{} -p {name}", bang(p.invert));
    }
    match rule.fragment {
        Some(Fragment::Later) => s.push_str(" -f"),
        Some(Fragment::NotLater) => s.push_str(" ! -f"),
        None => {}
    }
    for m in &rule.matches {
        let _ = write!(s, " -m {}", m.module());
        m.save(&mut s);
    }
    if let Some(c) = counts {
        let _ = write!(s, " -c {} {}", c.packets, c.bytes);
    }
    save_target(&mut s, &rule.target);
    s
}

/// `-S` line for one rule, without the newline:
/// `"-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT"`.
///
/// Order as iptables prints it: `-s`, `-d`, `-i`, `-o`, `-p`, `-f`, the
/// `-m` matches in rule order (each with its options in the module's
/// order), `-j`/`-g` with the target's options. Addresses keep `/32`
/// (`-s 192.0.2.1/32`); a non-contiguous mask is printed dotted; protocols
/// by /etc/protocols name (`-p gre`), else by number; ports by number.
/// `-i +` (any interface) is left out, as iptables does, so it reads back
/// as no `-i`.
pub fn rule_spec(chain: &str, rule: &Rule) -> String {
    format!("-A {chain}{}", spec_body(rule, None))
}

/// Whole `-S` output for `chain` (or every chain): the `-P CHAIN POLICY`
/// lines of the built-in chains and the `-N CHAIN` lines of user-defined
/// ones first, then the `-A` lines chain by chain, each line ending in
/// `'\n'`. With `rule`, only that rule's `-A` line (nothing when it does
/// not exist). With `counts` (`-S -v`), iptables' `-c PACKETS BYTES`
/// after `-P` lines and before `-j` in `-A` lines. A chain that does not
/// exist prints nothing (exec checks chains first).
pub fn list_rules(
    ruleset: &Ruleset,
    chain: Option<&str>,
    rule: Option<u32>,
    counts: Option<&Counters>,
) -> String {
    let mut out = String::new();
    let names = chains(ruleset, chain);
    if let (Some(c), Some(n)) = (chain, rule) {
        let at = (n as usize).wrapping_sub(1);
        if let Some(r) = ruleset.rules(c).and_then(|rules| rules.get(at)) {
            let rc = counts.map(|k| k.rule(c, at));
            let _ = writeln!(out, "-A {c}{}", spec_body(r, rc));
        }
        return out;
    }
    for c in &names {
        match BuiltinChain::from_name(c) {
            Some(b) => {
                let _ = write!(out, "-P {c} {}", ruleset.chain(b).policy.name());
                if let Some(k) = counts {
                    let pc = k.policy(b);
                    let _ = write!(out, " -c {} {}", pc.packets, pc.bytes);
                }
                out.push('\n');
            }
            None if ruleset.user_chains.contains_key(*c) => {
                let _ = writeln!(out, "-N {c}");
            }
            None => {}
        }
    }
    for c in &names {
        for (n, r) in ruleset.rules(c).into_iter().flatten().enumerate() {
            let rc = counts.map(|k| k.rule(c, n));
            let _ = writeln!(out, "-A {c}{}", spec_body(r, rc));
        }
    }
    out
}

/// iptables-save(8) output of the filter table: the `*filter` line, a
/// `:CHAIN POLICY [PACKETS:BYTES]` line per chain (user-defined chains
/// have `-` and `[0:0]`), the rules as `-S` prints them (each preceded by
/// `[PACKETS:BYTES] ` when `rule_counters`, like `iptables-save -c`), and
/// `COMMIT`. `header` is `(program, date)` for the `# Generated by` and
/// `# Completed on` comments iptables-save writes around the table; `None`
/// leaves them out.
pub fn save(
    ruleset: &Ruleset,
    counters: &Counters,
    rule_counters: bool,
    header: Option<(&str, &str)>,
) -> String {
    let mut out = String::new();
    if let Some((program, date)) = header {
        let _ = writeln!(out, "# Generated by {program} on {date}");
    }
    out.push_str("*filter\n");
    for c in ruleset.chain_names() {
        match BuiltinChain::from_name(c) {
            Some(b) => {
                let pc = counters.policy(b);
                let _ = writeln!(
                    out,
                    ":{c} {} [{}:{}]",
                    ruleset.chain(b).policy.name(),
                    pc.packets,
                    pc.bytes
                );
            }
            None => {
                let _ = writeln!(out, ":{c} - [0:0]");
            }
        }
    }
    for (c, rules) in ruleset.all_rules() {
        for (n, r) in rules.iter().enumerate() {
            if rule_counters {
                let k = counters.rule(c, n);
                let _ = write!(out, "[{}:{}] ", k.packets, k.bytes);
            }
            let _ = writeln!(out, "-A {c}{}", spec_body(r, None));
        }
    }
    out.push_str("COMMIT\n");
    if let Some((_, date)) = header {
        let _ = writeln!(out, "# Completed on {date}");
    }
    out
}
