//! `-L` output, in all its variants (`-v -n -x --line-numbers`).

use std::fmt::Write as _;

use super::{Counters, Counts, chains};
use crate::{
    command::Options,
    extensions::{
        matches::ListCx,
        targets::{TargetExt, log, reject},
    },
    model::{AddrMask, BuiltinChain, Family, Fragment, Neg, Rule, Ruleset, Target},
    parse::{protocols, services::Services},
};

/// libxtables' `xtables_print_num`: a counter in a `-L` column (`table`)
/// or in the policy line. Without `-x`, numbers above 99999 are rounded to
/// K, M, G or T (thousands; the rounding wraps around like iptables' u64).
pub(super) fn number(out: &mut String, n: u64, exact: bool, table: bool) {
    // `n` and its unit, right-aligned in `width` (with the unit) in a column.
    let mut put = |n: u64, width: usize, unit: &str| {
        let _ = if table {
            write!(out, "{n:>width$}{unit} ")
        } else {
            write!(out, "{n}{unit} ")
        };
    };
    if exact {
        return put(n, 8, "");
    }
    if n <= 99999 {
        return put(n, 5, "");
    }
    let mut n = n.wrapping_add(500) / 1000;
    for unit in ["K", "M", "G"] {
        if n <= 9999 {
            return put(n, 4, unit);
        }
        n = n.wrapping_add(500) / 1000;
    }
    put(n, 4, "T");
}

/// The `-L` header of one chain: the `Chain` line (policy and, with `-v`,
/// its counters for a built-in chain; the number of references for a
/// user-defined one) and the column titles.
fn header(out: &mut String, chain: &str, ruleset: &Ruleset, opts: &Options, counters: &Counters) {
    match BuiltinChain::from_name(chain) {
        Some(c) => {
            let _ = write!(
                out,
                "Chain {chain} (policy {}",
                ruleset.chain(c).policy.name()
            );
            if opts.verbose {
                let k = counters.policy(c);
                out.push(' ');
                number(out, k.packets, opts.exact, false);
                out.push_str("packets, ");
                number(out, k.bytes, opts.exact, false);
                out.push_str("bytes");
            }
            out.push_str(")\n");
        }
        None => {
            let _ = writeln!(
                out,
                "Chain {chain} ({} references)",
                ruleset.references(chain)
            );
        }
    }
    if opts.line_numbers {
        let _ = write!(out, "{:<4} ", "num");
    }
    if opts.verbose {
        let _ = if opts.exact {
            write!(out, "{:>8} {:>10} ", "pkts", "bytes")
        } else {
            write!(out, "{:>5} {:>5} ", "pkts", "bytes")
        };
    }
    let _ = write!(out, "{:<9} ", "target");
    out.push_str(" prot opt");
    if opts.verbose {
        let _ = write!(out, " {:<6} {:<6} ", "in", "out");
    }
    let _ = writeln!(out, " {:<19}  {:<19} ", "source", "destination");
}

/// An address column of `-L`: `anywhere` for 0.0.0.0/0 (`::/0`) without
/// `-n`, else the address, then `/N` or the mask in address form unless
/// it is a host's (/32, /128). ip6tables prints its columns as iptables.
fn list_addr(out: &mut String, a: &Option<Neg<AddrMask>>, family: Family, numeric: bool) {
    let any = Neg::is(family.any());
    let a = a.as_ref().unwrap_or(&any);
    out.push(if a.invert { '!' } else { ' ' });
    let text = if a.value.is_any() && !numeric {
        "anywhere".to_string()
    } else {
        addr_with_mask(&a.value, false)
    };
    let _ = write!(out, "{text:<19} ");
}

/// `ADDR/N`, `ADDR/MASK` (non-contiguous), or `ADDR` alone for a host's
/// mask unless `host_len` (as `-S` prints `/32` and `/128`).
pub(super) fn addr_with_mask(a: &AddrMask, host_len: bool) -> String {
    let mask = match a.prefix_len() {
        Some(n) if n == a.host_len() && !host_len => String::new(),
        Some(n) => format!("/{n}"),
        None => format!("/{}", a.mask_text()),
    };
    format!("{}{mask}", a.addr_text())
}

/// An interface column of `-L -v`: the name, `any` (`*` with `-n`), `!`.
pub(super) fn list_iface(i: &Option<Neg<String>>, numeric: bool) -> String {
    match i {
        Some(i) => format!("{}{}", if i.invert { "!" } else { "" }, i.value),
        None if numeric => "*".to_string(),
        None => "any".to_string(),
    }
}

/// The target's part at the end of a `-L` line (the target's `print`).
pub(super) fn list_target(out: &mut String, t: &Target, numeric: bool) {
    match t {
        Target::Accept
        | Target::Drop
        | Target::Return
        | Target::Jump(_)
        | Target::Goto(_)
        | Target::None => {}
        Target::Reject(w) => <reject::Ext as TargetExt>::list(w, out, numeric),
        Target::Log(l) => <log::Ext as TargetExt>::list(l, out, numeric),
    }
}

/// The matches of `rule` as `-L` prints them (each module's `print`).
pub(super) fn list_matches(out: &mut String, rule: &Rule, numeric: bool, services: &Services) {
    let cx = ListCx {
        rule,
        numeric,
        services,
    };
    for m in &rule.matches {
        m.list(out, &cx);
    }
}

/// One rule line of `-L`.
fn list_rule(
    out: &mut String,
    num: usize,
    rule: &Rule,
    counts: Counts,
    opts: &Options,
    services: &Services,
    family: Family,
) {
    if opts.line_numbers {
        let _ = write!(out, "{num:<4} ");
    }
    if opts.verbose {
        number(out, counts.packets, opts.exact, true);
        number(out, counts.bytes, opts.exact, true);
    }
    let _ = write!(out, "{:<9} ", rule.target.name());
    let proto = protocol_bang(out, rule);
    let pname = match protocols::display_name(proto) {
        Some(name) if !opts.numeric => name.to_string(),
        _ => proto.to_string(),
    };
    let _ = write!(out, "{pname:<4} {} ", fragment_opt(rule));
    if opts.verbose {
        let _ = write!(
            out,
            " {:<6} {:<6} ",
            list_iface(&rule.in_interface, opts.numeric),
            list_iface(&rule.out_interface, opts.numeric)
        );
    }
    list_addr(out, &rule.source, family, opts.numeric);
    list_addr(out, &rule.destination, family, opts.numeric);
    list_line_end(out, rule, opts.numeric, services);
}

/// The protocol column's `!` (or a space) of `rule`; its protocol number
/// (0 for any).
pub(super) fn protocol_bang(out: &mut String, rule: &Rule) -> u8 {
    let (proto, invert) = rule
        .protocol
        .as_ref()
        .map_or((0, false), |p| (p.value, p.invert));
    out.push(if invert { '!' } else { ' ' });
    proto
}

/// The `opt` column: `-f`, `!f` or `--`.
pub(super) fn fragment_opt(rule: &Rule) -> &'static str {
    match rule.fragment {
        None => "--",
        Some(Fragment::Later) => "-f",
        Some(Fragment::NotLater) => "!f",
    }
}

/// The end of a rule line: `[goto]`, the matches, the target's text and
/// the newline.
pub(super) fn list_line_end(out: &mut String, rule: &Rule, numeric: bool, services: &Services) {
    if matches!(rule.target, Target::Goto(_)) {
        out.push_str("[goto] ");
    }
    list_matches(out, rule, numeric, services);
    list_target(out, &rule.target, numeric);
    out.push('\n');
}

/// Whole `-L` output for `chain` (or every chain, built-in ones first, with
/// a blank line between chains, exactly like iptables), honouring
/// [`Options`] `verbose` (counters and interfaces), `numeric` (numbers for
/// addresses, protocols and ports), `exact` (counters unrounded) and
/// `line_numbers`. With `rule`, only that rule's line, without the chain
/// header (nothing when it does not exist). A chain that does not exist
/// prints nothing (exec checks chains first). Service names come from the
/// host's /etc/services.
///
/// Without `-n`, fw prints addresses as numbers (it does no reverse DNS and
/// reads neither /etc/hosts nor /etc/networks) except 0.0.0.0/0, which is
/// `anywhere` as in iptables.
pub fn list(
    ruleset: &Ruleset,
    chain: Option<&str>,
    rule: Option<u32>,
    opts: &Options,
    counters: &Counters,
) -> String {
    list_with(ruleset, chain, rule, opts, counters, Services::system())
}

/// [`list`] with service names from `services`.
pub fn list_with(
    ruleset: &Ruleset,
    chain: Option<&str>,
    rule: Option<u32>,
    opts: &Options,
    counters: &Counters,
    services: &Services,
) -> String {
    let mut out = String::new();
    if let (Some(c), Some(n)) = (chain, rule) {
        let at = (n as usize).wrapping_sub(1);
        if let Some(r) = ruleset.rules(c).and_then(|rules| rules.get(at)) {
            list_rule(
                &mut out,
                at + 1,
                r,
                counters.rule(c, at),
                opts,
                services,
                ruleset.family,
            );
        }
        return out;
    }
    for (i, c) in chains(ruleset, chain).into_iter().enumerate() {
        let Some(rules) = ruleset.rules(c) else {
            continue;
        };
        if i > 0 {
            out.push('\n');
        }
        header(&mut out, c, ruleset, opts, counters);
        for (n, r) in rules.iter().enumerate() {
            list_rule(
                &mut out,
                n + 1,
                r,
                counters.rule(c, n),
                opts,
                services,
                ruleset.family,
            );
        }
    }
    out
}
