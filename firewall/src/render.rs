//! Printing the ruleset the way `iptables -S` and `iptables -L` print it
//! (iptables(8) "COMMANDS"), byte for byte as iptables-legacy 1.8.9 does,
//! trailing spaces included: the column widths and counter formats follow
//! iptables' `print_header`, `print_firewall` and libxtables'
//! `xtables_print_num`; the tcp/udp parts follow libxt_tcp's and libxt_udp's
//! `print` and `save` functions.
//!
//! Deviations, on purpose:
//! - fw does no name lookups for addresses: without `-n`, iptables prints
//!   `localhost` or `default/8` (reverse DNS, /etc/hosts, /etc/networks)
//!   where fw prints the numbers. 0.0.0.0/0 is still `anywhere`.
//! - `-S` prints `! --sport 0:65535` and `! -i +`, which iptables leaves
//!   out (so its `-S` output, restored, would widen these rules, which match
//!   nothing, into rules matching everything).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::{
    command::Options,
    model::{AddrMask, BuiltinChain, Match, Neg, PortRange, Rule, Ruleset},
    parse::{protocols, services::Services},
};

/// Packet and byte counters, as fw reads them from the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Packets counted.
    pub packets: u64,
    /// Bytes counted (of the IP packets, headers included).
    pub bytes: u64,
}

/// The chains to print: `chain`, or all three in [`BuiltinChain::ALL`] order.
fn chains(chain: Option<BuiltinChain>) -> Vec<BuiltinChain> {
    chain.map_or_else(|| BuiltinChain::ALL.to_vec(), |c| vec![c])
}

/// The index of `c` in [`BuiltinChain::ALL`] (and in the counter arrays).
fn index(c: BuiltinChain) -> usize {
    BuiltinChain::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

/// A word as `-S` prints it: as is, or double-quoted (with `\"` and `\\`)
/// when it would not survive splitting (white space, quotes). iptables
/// never quotes interface names; fw does so that its output parses back.
fn word(s: &str) -> String {
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

/// `/N` for a contiguous mask, else `/a.b.c.d` (iptables' `print_ip`).
fn save_mask(m: &AddrMask) -> String {
    match m.prefix_len() {
        Some(n) => format!("/{n}"),
        None => format!("/{}", m.mask),
    }
}

fn bang(invert: bool) -> &'static str {
    if invert { " !" } else { "" }
}

/// ` [!] --sport A[:B]` (libxt_tcp's and libxt_udp's `save`).
fn save_ports(out: &mut String, name: &str, p: &Option<Neg<PortRange>>) {
    if let Some(p) = p {
        let PortRange { lo, hi } = p.value;
        let _ = write!(out, "{} --{name} {lo}", bang(p.invert));
        if lo != hi {
            let _ = write!(out, ":{hi}");
        }
    }
}

/// The rule part of a `-S` line, with `-c` counters when given.
fn spec_body(rule: &Rule, counts: Option<Counts>) -> String {
    let mut s = String::new();
    for (flag, a) in [("-s", &rule.source), ("-d", &rule.destination)] {
        if let Some(a) = a {
            let _ = write!(
                s,
                "{} {flag} {}{}",
                bang(a.invert),
                a.value.addr,
                save_mask(&a.value)
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
    for m in &rule.matches {
        let (name, sport, dport) = match m {
            Match::Tcp { sport, dport } => ("tcp", sport, dport),
            Match::Udp { sport, dport } => ("udp", sport, dport),
        };
        let _ = write!(s, " -m {name}");
        save_ports(&mut s, "sport", sport);
        save_ports(&mut s, "dport", dport);
    }
    if let Some(c) = counts {
        let _ = write!(s, " -c {} {}", c.packets, c.bytes);
    }
    let _ = write!(s, " -j {}", rule.target.name());
    s
}

/// `-S` line for one rule, without the newline:
/// `"-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT"`.
///
/// Order as iptables prints it: `-s`, `-d`, `-i`, `-o`, `-p`, the `-m`
/// matches in rule order (each with `--sport` then `--dport`), `-j`.
/// Addresses keep `/32` (`-s 192.0.2.1/32`); a non-contiguous mask is
/// printed dotted; protocols by /etc/protocols name (`-p gre`), else by
/// number; ports by number. `-i +` (any interface) is left out, as
/// iptables does, so it reads back as no `-i`.
pub fn rule_spec(chain: &str, rule: &Rule) -> String {
    format!("-A {chain}{}", spec_body(rule, None))
}

/// Whole `-S` output for `chain` (or all three built-in chains, INPUT
/// FORWARD OUTPUT): the `-P CHAIN POLICY` lines first, then the `-A` lines
/// chain by chain, each line ending in `'\n'`.
pub fn list_rules(ruleset: &Ruleset, chain: Option<BuiltinChain>) -> String {
    list_rules_inner(ruleset, chain, None)
}

/// `-S -v` output: as [`list_rules`] with each chain's counters, which
/// iptables appends as `-c PACKETS BYTES` to `-P` lines and puts before
/// `-j` in `-A` lines. Counters are indexed as in [`list`].
pub fn list_rules_counted(
    ruleset: &Ruleset,
    chain: Option<BuiltinChain>,
    policy_counts: &[Counts; 3],
    rule_counts: &[Vec<Counts>; 3],
) -> String {
    list_rules_inner(ruleset, chain, Some((policy_counts, rule_counts)))
}

type CountsRef<'a> = (&'a [Counts; 3], &'a [Vec<Counts>; 3]);

fn list_rules_inner(
    ruleset: &Ruleset,
    chain: Option<BuiltinChain>,
    counts: Option<CountsRef<'_>>,
) -> String {
    let mut out = String::new();
    for c in chains(chain) {
        let _ = write!(out, "-P {} {}", c.name(), ruleset.chain(c).policy.name());
        if let Some((policy, _)) = counts {
            let pc = policy[index(c)];
            let _ = write!(out, " -c {} {}", pc.packets, pc.bytes);
        }
        out.push('\n');
    }
    for c in chains(chain) {
        for (n, rule) in ruleset.chain(c).rules.iter().enumerate() {
            let rc = counts.map(|(_, rules)| rules[index(c)].get(n).copied().unwrap_or_default());
            let _ = writeln!(out, "-A {}{}", c.name(), spec_body(rule, rc));
        }
    }
    out
}

/// libxtables' `xtables_print_num`: a counter in a `-L` column (`table`)
/// or in the policy line. Without `-x`, numbers above 99999 are rounded to
/// K, M, G or T (thousands; the rounding wraps around like iptables' u64).
fn number(out: &mut String, n: u64, exact: bool, table: bool) {
    if exact {
        let _ = if table {
            write!(out, "{n:>8} ")
        } else {
            write!(out, "{n} ")
        };
        return;
    }
    if n <= 99999 {
        let _ = if table {
            write!(out, "{n:>5} ")
        } else {
            write!(out, "{n} ")
        };
        return;
    }
    let mut n = n.wrapping_add(500) / 1000;
    for unit in ['K', 'M', 'G'] {
        if n <= 9999 {
            let _ = if table {
                write!(out, "{n:>4}{unit} ")
            } else {
                write!(out, "{n}{unit} ")
            };
            return;
        }
        n = n.wrapping_add(500) / 1000;
    }
    let _ = if table {
        write!(out, "{n:>4}T ")
    } else {
        write!(out, "{n}T ")
    };
}

/// The `-L` header of one chain: the `Chain` line and the column titles.
fn header(out: &mut String, c: BuiltinChain, ruleset: &Ruleset, opts: &Options, counts: Counts) {
    let _ = write!(
        out,
        "Chain {} (policy {}",
        c.name(),
        ruleset.chain(c).policy.name()
    );
    if opts.verbose {
        out.push(' ');
        number(out, counts.packets, opts.exact, false);
        out.push_str("packets, ");
        number(out, counts.bytes, opts.exact, false);
        out.push_str("bytes");
    }
    out.push_str(")\n");
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

/// An address column of `-L`: `anywhere` for 0.0.0.0/0 without `-n`, else
/// the address, then `/N` or `/a.b.c.d` unless the mask is /32.
fn list_addr(out: &mut String, a: &Option<Neg<AddrMask>>, numeric: bool) {
    let any = Neg {
        value: AddrMask {
            addr: Ipv4Addr::UNSPECIFIED,
            mask: Ipv4Addr::UNSPECIFIED,
        },
        invert: false,
    };
    let a = a.as_ref().unwrap_or(&any);
    out.push(if a.invert { '!' } else { ' ' });
    let text = if a.value.mask.is_unspecified() && !numeric {
        "anywhere".to_string()
    } else {
        let mask = match a.value.prefix_len() {
            Some(32) => String::new(),
            Some(n) => format!("/{n}"),
            None => format!("/{}", a.value.mask),
        };
        format!("{}{mask}", a.value.addr)
    };
    let _ = write!(out, "{text:<19} ");
}

/// An interface column of `-L -v`: the name, `any` (`*` with `-n`), `!`.
fn list_iface(i: &Option<Neg<String>>, numeric: bool) -> String {
    match i {
        Some(i) => format!("{}{}", if i.invert { "!" } else { "" }, i.value),
        None if numeric => "*".to_string(),
        None => "any".to_string(),
    }
}

/// ` spt:22`, ` dpts:!1000:2000` (libxt_tcp's `print_ports`).
fn list_ports(
    out: &mut String,
    name: &str,
    p: &Option<Neg<PortRange>>,
    proto: &str,
    numeric: bool,
    services: &Services,
) {
    let Some(p) = p else { return };
    let port = |n: u16| match services.name(n, proto) {
        Some(s) if !numeric => s.to_string(),
        _ => n.to_string(),
    };
    let inv = if p.invert { "!" } else { "" };
    let PortRange { lo, hi } = p.value;
    let _ = if lo == hi {
        write!(out, " {name}:{inv}{}", port(lo))
    } else {
        write!(out, " {name}s:{inv}{}:{}", port(lo), port(hi))
    };
}

/// One rule line of `-L`.
fn list_rule(
    out: &mut String,
    num: usize,
    rule: &Rule,
    counts: Counts,
    opts: &Options,
    services: &Services,
) {
    if opts.line_numbers {
        let _ = write!(out, "{num:<4} ");
    }
    if opts.verbose {
        number(out, counts.packets, opts.exact, true);
        number(out, counts.bytes, opts.exact, true);
    }
    let _ = write!(out, "{:<9} ", rule.target.name());
    let (proto, invert) = rule
        .protocol
        .as_ref()
        .map_or((0, false), |p| (p.value, p.invert));
    out.push(if invert { '!' } else { ' ' });
    let pname = match protocols::display_name(proto) {
        Some(name) if !opts.numeric => name.to_string(),
        _ => proto.to_string(),
    };
    // "--": neither -f nor ! -f.
    let _ = write!(out, "{pname:<4} -- ");
    if opts.verbose {
        let _ = write!(
            out,
            " {:<6} {:<6} ",
            list_iface(&rule.in_interface, opts.numeric),
            list_iface(&rule.out_interface, opts.numeric)
        );
    }
    list_addr(out, &rule.source, opts.numeric);
    list_addr(out, &rule.destination, opts.numeric);
    for m in &rule.matches {
        let (name, sport, dport) = match m {
            Match::Tcp { sport, dport } => ("tcp", sport, dport),
            Match::Udp { sport, dport } => ("udp", sport, dport),
        };
        let _ = write!(out, " {name}");
        list_ports(out, "spt", sport, name, opts.numeric, services);
        list_ports(out, "dpt", dport, name, opts.numeric, services);
    }
    out.push('\n');
}

/// Whole `-L` output for `chain` (or all three chains with a blank line
/// between, exactly like iptables), honouring [`Options`] `verbose` (counters
/// and interfaces), `numeric` (numbers for addresses, protocols and ports),
/// `exact` (counters unrounded) and `line_numbers`.
///
/// `policy_counts[i]` and `rule_counts[i][n]` are indexed by
/// [`BuiltinChain::ALL`] order (INPUT, FORWARD, OUTPUT); a missing rule
/// counter prints as 0. Service names come from the host's /etc/services.
///
/// Without `-n`, fw prints addresses as numbers (it does no reverse DNS and
/// reads neither /etc/hosts nor /etc/networks) except 0.0.0.0/0, which is
/// `anywhere` as in iptables.
pub fn list(
    ruleset: &Ruleset,
    chain: Option<BuiltinChain>,
    opts: &Options,
    policy_counts: &[Counts; 3],
    rule_counts: &[Vec<Counts>; 3],
) -> String {
    list_with(
        ruleset,
        chain,
        opts,
        policy_counts,
        rule_counts,
        Services::system(),
    )
}

/// [`list`] with service names from `services`.
pub fn list_with(
    ruleset: &Ruleset,
    chain: Option<BuiltinChain>,
    opts: &Options,
    policy_counts: &[Counts; 3],
    rule_counts: &[Vec<Counts>; 3],
    services: &Services,
) -> String {
    let mut out = String::new();
    for (n, c) in chains(chain).into_iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let i = index(c);
        header(&mut out, c, ruleset, opts, policy_counts[i]);
        for (r, rule) in ruleset.chain(c).rules.iter().enumerate() {
            let counts = rule_counts[i].get(r).copied().unwrap_or_default();
            list_rule(&mut out, r + 1, rule, counts, opts, services);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Expected texts are iptables-legacy 1.8.9's output for the same
    //! ruleset and counters, captured in a network namespace and pasted here.

    use super::*;
    use crate::{
        command::Command,
        model::{Policy, Target},
        parse::{parse_args_with, services::tests::sample},
    };

    /// The fixture ruleset, as given to iptables (its `-c PKTS BYTES` set the
    /// counters, listed in [`rule_counts`]).
    const RULES: &[&str] = &[
        "-A INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j ACCEPT",
        "-A INPUT ! -s 192.0.2.1 -d 198.51.100.0/255.255.0.255 -i eth+ -p udp ! --sport 1000:2000 --dport :53 -j DROP",
        "-A INPUT -p tcp -m tcp --sport 1 -m tcp --sport 3 --dport 2 -j ACCEPT",
        "-A INPUT ! -p gre -j ACCEPT",
        "-A INPUT -p 200 -j DROP",
        "-A INPUT ! -s 0/0 -j ACCEPT",
        "-A INPUT -p tcp -m tcp -j DROP",
        "-A FORWARD ! -i eth0 ! -o eth1 -p 143 -j ACCEPT",
        "-A FORWARD -i veryveryverylon -o wlan0 -p udp --sport 5: -j DROP",
        "-A FORWARD -s 192.0.2.1/255.0.255.0 -d 203.0.113.0/25 -j ACCEPT",
        "-A OUTPUT -o veryveryverylo+ ! -p udp -j ACCEPT",
        "-A OUTPUT ! -d 203.0.113.9 -p udp --sport 53 -j ACCEPT",
        "-A OUTPUT -p icmp -j ACCEPT",
        "-A OUTPUT -p ipv6-icmp -j DROP",
        "-A OUTPUT -p tcp --dport 80:443 -j ACCEPT",
        "-A OUTPUT -p tcp ! --dport 0 --sport 65535 -j DROP",
    ];

    fn ruleset() -> Ruleset {
        let mut rs = Ruleset::default();
        rs.input.policy = Policy::Drop;
        for line in RULES {
            let argv: Vec<String> = line.split(' ').map(str::to_string).collect();
            let Command::Append { chain, rule } =
                parse_args_with(&argv, &sample()).unwrap().command
            else {
                panic!("{line}")
            };
            let c = BuiltinChain::from_name(&chain).unwrap();
            rs.chain_mut(c).rules.push(rule);
        }
        rs
    }

    fn c(packets: u64, bytes: u64) -> Counts {
        Counts { packets, bytes }
    }

    fn policy_counts() -> [Counts; 3] {
        [c(0, 0), c(0, 0), c(150000, 8700000)]
    }

    fn rule_counts() -> [Vec<Counts>; 3] {
        [
            vec![
                c(99999, 100000),
                c(99499999, 99500000),
                c(9999499999, 9999500000),
                c(9999500299999, 9999521600000),
                c(18446744073709551615, 12345678901234567),
                c(123456789012, 1),
                c(100499, 100500),
            ],
            // A missing counter prints as 0.
            vec![c(5, 6)],
            vec![c(0, 0), c(0, 0), c(150000, 12900000)],
        ]
    }

    fn list_of(
        chain: Option<BuiltinChain>,
        verbose: bool,
        numeric: bool,
        exact: bool,
        line_numbers: bool,
    ) -> String {
        let opts = Options {
            verbose,
            numeric,
            exact,
            line_numbers,
        };
        list_with(
            &ruleset(),
            chain,
            &opts,
            &policy_counts(),
            &rule_counts(),
            &sample(),
        )
    }

    #[test]
    fn list_rules_as_iptables() {
        assert_eq!(list_rules(&ruleset(), None), S);
        assert_eq!(
            list_rules(&ruleset(), Some(BuiltinChain::Forward)),
            S_FORWARD
        );
        assert_eq!(
            list_rules_counted(&ruleset(), None, &policy_counts(), &rule_counts()),
            S_V
        );
        assert_eq!(
            list_rules(&Ruleset::default(), None),
            "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
        );
    }

    #[test]
    fn list_as_iptables() {
        use BuiltinChain::*;
        assert_eq!(list_of(None, false, false, false, false), L);
        assert_eq!(list_of(None, false, true, false, false), L_N);
        assert_eq!(list_of(None, true, false, false, false), L_V);
        assert_eq!(list_of(None, true, true, true, true), L_V_N_X_LINE_NUMBERS);
        assert_eq!(
            list_of(Some(Input), false, false, false, true),
            L_INPUT_LINE_NUMBERS
        );
        // -x changes nothing without -v.
        assert_eq!(
            list_of(Some(Input), false, false, true, true),
            L_INPUT_LINE_NUMBERS
        );
        assert_eq!(
            list_of(Some(Output), true, false, true, false),
            L_OUTPUT_V_X
        );
        assert_eq!(
            list_of(Some(Forward), true, true, false, false),
            L_FORWARD_N_V
        );
    }

    #[test]
    fn empty_chains() {
        let opts = Options::default();
        let none = [Counts::default(); 3];
        let rules: [Vec<Counts>; 3] = Default::default();
        assert_eq!(
            list_with(
                &Ruleset::default(),
                Some(BuiltinChain::Input),
                &opts,
                &none,
                &rules,
                &sample()
            ),
            "Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination         \n"
        );
    }

    #[test]
    fn counters_like_xtables_print_num() {
        let t = |n: u64| {
            let mut s = String::new();
            number(&mut s, n, false, true);
            s
        };
        assert_eq!(t(0), "    0 ");
        assert_eq!(t(99999), "99999 ");
        assert_eq!(t(100000), " 100K ");
        assert_eq!(t(9999499), "9999K ");
        assert_eq!(t(9999500), "  10M ");
        assert_eq!(t(u64::MAX), "   0K ");
        let mut s = String::new();
        number(&mut s, 8700000, false, false);
        assert_eq!(s, "8700K ");
    }

    #[test]
    fn rule_spec_lines() {
        let rs = ruleset();
        let lines: Vec<String> = BuiltinChain::ALL
            .iter()
            .flat_map(|c| rs.chain(*c).rules.iter().map(|r| rule_spec(c.name(), r)))
            .collect();
        let expected: Vec<&str> = S.lines().filter(|l| l.starts_with("-A")).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn deviations_that_keep_rules_narrow() {
        // iptables -S prints "-A INPUT -p tcp -m tcp -j DROP" for this rule,
        // which would match every port once restored.
        let argv: Vec<String> = "-A INPUT -p tcp ! --sport 0:65535 -j DROP"
            .split(' ')
            .map(Into::into)
            .collect();
        let Command::Append { rule, .. } = parse_args_with(&argv, &sample()).unwrap().command
        else {
            unreachable!()
        };
        assert_eq!(
            rule_spec("INPUT", &rule),
            "-A INPUT -p tcp -m tcp ! --sport 0:65535 -j DROP"
        );
        let r = Rule {
            protocol: None,
            source: None,
            destination: None,
            in_interface: Some(Neg {
                value: "+".into(),
                invert: true,
            }),
            out_interface: None,
            matches: vec![],
            target: Target::Drop,
        };
        assert_eq!(rule_spec("INPUT", &r), "-A INPUT ! -i + -j DROP");
        // Not inverted, it matches every interface: left out, as iptables does.
        let any = Rule {
            in_interface: Some(Neg {
                value: "+".into(),
                invert: false,
            }),
            ..r
        };
        assert_eq!(rule_spec("INPUT", &any), "-A INPUT -j DROP");
    }

    /// `iptables-legacy -S` (1.8.9).
    const S: &str = concat!(
        "-P INPUT DROP\n",
        "-P FORWARD ACCEPT\n",
        "-P OUTPUT ACCEPT\n",
        "-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\n",
        "-A INPUT ! -s 192.0.2.1/32 -d 198.51.0.0/255.255.0.255 -i eth+ -p udp -m udp ! --sport 1000:2000 --dport 0:53 -j DROP\n",
        "-A INPUT -p tcp -m tcp --sport 1 -m tcp --sport 3 --dport 2 -j ACCEPT\n",
        "-A INPUT ! -p gre -j ACCEPT\n",
        "-A INPUT -p 200 -j DROP\n",
        "-A INPUT ! -s 0.0.0.0/0 -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp -j DROP\n",
        "-A FORWARD ! -i eth0 ! -o eth1 -p ethernet -j ACCEPT\n",
        "-A FORWARD -i veryveryverylon -o wlan0 -p udp -m udp --sport 5:65535 -j DROP\n",
        "-A FORWARD -s 192.0.2.0/255.0.255.0 -d 203.0.113.0/25 -j ACCEPT\n",
        "-A OUTPUT -o veryveryverylo+ ! -p udp -j ACCEPT\n",
        "-A OUTPUT ! -d 203.0.113.9/32 -p udp -m udp --sport 53 -j ACCEPT\n",
        "-A OUTPUT -p icmp -j ACCEPT\n",
        "-A OUTPUT -p ipv6-icmp -j DROP\n",
        "-A OUTPUT -p tcp -m tcp --dport 80:443 -j ACCEPT\n",
        "-A OUTPUT -p tcp -m tcp --sport 65535 ! --dport 0 -j DROP\n",
    );

    /// `iptables-legacy -S FORWARD` (1.8.9).
    const S_FORWARD: &str = concat!(
        "-P FORWARD ACCEPT\n",
        "-A FORWARD ! -i eth0 ! -o eth1 -p ethernet -j ACCEPT\n",
        "-A FORWARD -i veryveryverylon -o wlan0 -p udp -m udp --sport 5:65535 -j DROP\n",
        "-A FORWARD -s 192.0.2.0/255.0.255.0 -d 203.0.113.0/25 -j ACCEPT\n",
    );

    /// `iptables-legacy -S -v` (1.8.9).
    const S_V: &str = concat!(
        "-P INPUT DROP -c 0 0\n",
        "-P FORWARD ACCEPT -c 0 0\n",
        "-P OUTPUT ACCEPT -c 150000 8700000\n",
        "-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -c 99999 100000 -j ACCEPT\n",
        "-A INPUT ! -s 192.0.2.1/32 -d 198.51.0.0/255.255.0.255 -i eth+ -p udp -m udp ! --sport 1000:2000 --dport 0:53 -c 99499999 99500000 -j DROP\n",
        "-A INPUT -p tcp -m tcp --sport 1 -m tcp --sport 3 --dport 2 -c 9999499999 9999500000 -j ACCEPT\n",
        "-A INPUT ! -p gre -c 9999500299999 9999521600000 -j ACCEPT\n",
        "-A INPUT -p 200 -c 18446744073709551615 12345678901234567 -j DROP\n",
        "-A INPUT ! -s 0.0.0.0/0 -c 123456789012 1 -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp -c 100499 100500 -j DROP\n",
        "-A FORWARD ! -i eth0 ! -o eth1 -p ethernet -c 5 6 -j ACCEPT\n",
        "-A FORWARD -i veryveryverylon -o wlan0 -p udp -m udp --sport 5:65535 -c 0 0 -j DROP\n",
        "-A FORWARD -s 192.0.2.0/255.0.255.0 -d 203.0.113.0/25 -c 0 0 -j ACCEPT\n",
        "-A OUTPUT -o veryveryverylo+ ! -p udp -c 0 0 -j ACCEPT\n",
        "-A OUTPUT ! -d 203.0.113.9/32 -p udp -m udp --sport 53 -c 0 0 -j ACCEPT\n",
        "-A OUTPUT -p icmp -c 150000 12900000 -j ACCEPT\n",
        "-A OUTPUT -p ipv6-icmp -c 0 0 -j DROP\n",
        "-A OUTPUT -p tcp -m tcp --dport 80:443 -c 0 0 -j ACCEPT\n",
        "-A OUTPUT -p tcp -m tcp --sport 65535 ! --dport 0 -c 0 0 -j DROP\n",
    );

    /// `iptables-legacy -L` (1.8.9).
    const L: &str = concat!(
        "Chain INPUT (policy DROP)\n",
        "target     prot opt source               destination         \n",
        "ACCEPT     tcp  --  192.0.2.0/24         anywhere             tcp dpt:ssh\n",
        "DROP       udp  -- !192.0.2.1            198.51.0.0/255.255.0.255  udp spts:!1000:2000 dpts:0:domain\n",
        "ACCEPT     tcp  --  anywhere             anywhere             tcp spt:tcpmux tcp spt:3 dpt:2\n",
        "ACCEPT    !gre  --  anywhere             anywhere            \n",
        "DROP       200  --  anywhere             anywhere            \n",
        "ACCEPT     all  -- !anywhere             anywhere            \n",
        "DROP       tcp  --  anywhere             anywhere             tcp\n",
        "\n",
        "Chain FORWARD (policy ACCEPT)\n",
        "target     prot opt source               destination         \n",
        "ACCEPT     ethernet --  anywhere             anywhere            \n",
        "DROP       udp  --  anywhere             anywhere             udp spts:5:65535\n",
        "ACCEPT     all  --  192.0.2.0/255.0.255.0  203.0.113.0/25      \n",
        "\n",
        "Chain OUTPUT (policy ACCEPT)\n",
        "target     prot opt source               destination         \n",
        "ACCEPT    !udp  --  anywhere             anywhere            \n",
        "ACCEPT     udp  --  anywhere            !203.0.113.9          udp spt:domain\n",
        "ACCEPT     icmp --  anywhere             anywhere            \n",
        "DROP       ipv6-icmp --  anywhere             anywhere            \n",
        "ACCEPT     tcp  --  anywhere             anywhere             tcp dpts:http:https\n",
        "DROP       tcp  --  anywhere             anywhere             tcp spt:65535 dpt:!0\n",
    );

    /// `iptables-legacy -L -n` (1.8.9).
    const L_N: &str = concat!(
        "Chain INPUT (policy DROP)\n",
        "target     prot opt source               destination         \n",
        "ACCEPT     6    --  192.0.2.0/24         0.0.0.0/0            tcp dpt:22\n",
        "DROP       17   -- !192.0.2.1            198.51.0.0/255.255.0.255  udp spts:!1000:2000 dpts:0:53\n",
        "ACCEPT     6    --  0.0.0.0/0            0.0.0.0/0            tcp spt:1 tcp spt:3 dpt:2\n",
        "ACCEPT    !47   --  0.0.0.0/0            0.0.0.0/0           \n",
        "DROP       200  --  0.0.0.0/0            0.0.0.0/0           \n",
        "ACCEPT     0    -- !0.0.0.0/0            0.0.0.0/0           \n",
        "DROP       6    --  0.0.0.0/0            0.0.0.0/0            tcp\n",
        "\n",
        "Chain FORWARD (policy ACCEPT)\n",
        "target     prot opt source               destination         \n",
        "ACCEPT     143  --  0.0.0.0/0            0.0.0.0/0           \n",
        "DROP       17   --  0.0.0.0/0            0.0.0.0/0            udp spts:5:65535\n",
        "ACCEPT     0    --  192.0.2.0/255.0.255.0  203.0.113.0/25      \n",
        "\n",
        "Chain OUTPUT (policy ACCEPT)\n",
        "target     prot opt source               destination         \n",
        "ACCEPT    !17   --  0.0.0.0/0            0.0.0.0/0           \n",
        "ACCEPT     17   --  0.0.0.0/0           !203.0.113.9          udp spt:53\n",
        "ACCEPT     1    --  0.0.0.0/0            0.0.0.0/0           \n",
        "DROP       58   --  0.0.0.0/0            0.0.0.0/0           \n",
        "ACCEPT     6    --  0.0.0.0/0            0.0.0.0/0            tcp dpts:80:443\n",
        "DROP       6    --  0.0.0.0/0            0.0.0.0/0            tcp spt:65535 dpt:!0\n",
    );

    /// `iptables-legacy -L -v` (1.8.9).
    const L_V: &str = concat!(
        "Chain INPUT (policy DROP 0 packets, 0 bytes)\n",
        " pkts bytes target     prot opt in     out     source               destination         \n",
        "99999  100K ACCEPT     tcp  --  any    any     192.0.2.0/24         anywhere             tcp dpt:ssh\n",
        " 100M  100M DROP       udp  --  eth+   any    !192.0.2.1            198.51.0.0/255.255.0.255  udp spts:!1000:2000 dpts:0:domain\n",
        "  10G   10G ACCEPT     tcp  --  any    any     anywhere             anywhere             tcp spt:tcpmux tcp spt:3 dpt:2\n",
        "  10T   10T ACCEPT    !gre  --  any    any     anywhere             anywhere            \n",
        "   0K 12346T DROP       200  --  any    any     anywhere             anywhere            \n",
        " 123G     1 ACCEPT     all  --  any    any    !anywhere             anywhere            \n",
        " 100K  101K DROP       tcp  --  any    any     anywhere             anywhere             tcp\n",
        "\n",
        "Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)\n",
        " pkts bytes target     prot opt in     out     source               destination         \n",
        "    5     6 ACCEPT     ethernet --  !eth0  !eth1   anywhere             anywhere            \n",
        "    0     0 DROP       udp  --  veryveryverylon wlan0   anywhere             anywhere             udp spts:5:65535\n",
        "    0     0 ACCEPT     all  --  any    any     192.0.2.0/255.0.255.0  203.0.113.0/25      \n",
        "\n",
        "Chain OUTPUT (policy ACCEPT 150K packets, 8700K bytes)\n",
        " pkts bytes target     prot opt in     out     source               destination         \n",
        "    0     0 ACCEPT    !udp  --  any    veryveryverylo+  anywhere             anywhere            \n",
        "    0     0 ACCEPT     udp  --  any    any     anywhere            !203.0.113.9          udp spt:domain\n",
        " 150K   13M ACCEPT     icmp --  any    any     anywhere             anywhere            \n",
        "    0     0 DROP       ipv6-icmp --  any    any     anywhere             anywhere            \n",
        "    0     0 ACCEPT     tcp  --  any    any     anywhere             anywhere             tcp dpts:http:https\n",
        "    0     0 DROP       tcp  --  any    any     anywhere             anywhere             tcp spt:65535 dpt:!0\n",
    );

    /// `iptables-legacy -L -v -n -x --line-numbers` (1.8.9).
    const L_V_N_X_LINE_NUMBERS: &str = concat!(
        "Chain INPUT (policy DROP 0 packets, 0 bytes)\n",
        "num      pkts      bytes target     prot opt in     out     source               destination         \n",
        "1       99999   100000 ACCEPT     6    --  *      *       192.0.2.0/24         0.0.0.0/0            tcp dpt:22\n",
        "2    99499999 99500000 DROP       17   --  eth+   *      !192.0.2.1            198.51.0.0/255.255.0.255  udp spts:!1000:2000 dpts:0:53\n",
        "3    9999499999 9999500000 ACCEPT     6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp spt:1 tcp spt:3 dpt:2\n",
        "4    9999500299999 9999521600000 ACCEPT    !47   --  *      *       0.0.0.0/0            0.0.0.0/0           \n",
        "5    18446744073709551615 12345678901234567 DROP       200  --  *      *       0.0.0.0/0            0.0.0.0/0           \n",
        "6    123456789012        1 ACCEPT     0    --  *      *      !0.0.0.0/0            0.0.0.0/0           \n",
        "7      100499   100500 DROP       6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp\n",
        "\n",
        "Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)\n",
        "num      pkts      bytes target     prot opt in     out     source               destination         \n",
        "1           5        6 ACCEPT     143  --  !eth0  !eth1   0.0.0.0/0            0.0.0.0/0           \n",
        "2           0        0 DROP       17   --  veryveryverylon wlan0   0.0.0.0/0            0.0.0.0/0            udp spts:5:65535\n",
        "3           0        0 ACCEPT     0    --  *      *       192.0.2.0/255.0.255.0  203.0.113.0/25      \n",
        "\n",
        "Chain OUTPUT (policy ACCEPT 150000 packets, 8700000 bytes)\n",
        "num      pkts      bytes target     prot opt in     out     source               destination         \n",
        "1           0        0 ACCEPT    !17   --  *      veryveryverylo+  0.0.0.0/0            0.0.0.0/0           \n",
        "2           0        0 ACCEPT     17   --  *      *       0.0.0.0/0           !203.0.113.9          udp spt:53\n",
        "3      150000 12900000 ACCEPT     1    --  *      *       0.0.0.0/0            0.0.0.0/0           \n",
        "4           0        0 DROP       58   --  *      *       0.0.0.0/0            0.0.0.0/0           \n",
        "5           0        0 ACCEPT     6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp dpts:80:443\n",
        "6           0        0 DROP       6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp spt:65535 dpt:!0\n",
    );

    /// `iptables-legacy -L INPUT --line-numbers` (1.8.9).
    const L_INPUT_LINE_NUMBERS: &str = concat!(
        "Chain INPUT (policy DROP)\n",
        "num  target     prot opt source               destination         \n",
        "1    ACCEPT     tcp  --  192.0.2.0/24         anywhere             tcp dpt:ssh\n",
        "2    DROP       udp  -- !192.0.2.1            198.51.0.0/255.255.0.255  udp spts:!1000:2000 dpts:0:domain\n",
        "3    ACCEPT     tcp  --  anywhere             anywhere             tcp spt:tcpmux tcp spt:3 dpt:2\n",
        "4    ACCEPT    !gre  --  anywhere             anywhere            \n",
        "5    DROP       200  --  anywhere             anywhere            \n",
        "6    ACCEPT     all  -- !anywhere             anywhere            \n",
        "7    DROP       tcp  --  anywhere             anywhere             tcp\n",
    );

    /// `iptables-legacy -L OUTPUT -v -x` (1.8.9).
    const L_OUTPUT_V_X: &str = concat!(
        "Chain OUTPUT (policy ACCEPT 150000 packets, 8700000 bytes)\n",
        "    pkts      bytes target     prot opt in     out     source               destination         \n",
        "       0        0 ACCEPT    !udp  --  any    veryveryverylo+  anywhere             anywhere            \n",
        "       0        0 ACCEPT     udp  --  any    any     anywhere            !203.0.113.9          udp spt:domain\n",
        "  150000 12900000 ACCEPT     icmp --  any    any     anywhere             anywhere            \n",
        "       0        0 DROP       ipv6-icmp --  any    any     anywhere             anywhere            \n",
        "       0        0 ACCEPT     tcp  --  any    any     anywhere             anywhere             tcp dpts:http:https\n",
        "       0        0 DROP       tcp  --  any    any     anywhere             anywhere             tcp spt:65535 dpt:!0\n",
    );

    /// `iptables-legacy -L FORWARD -n -v` (1.8.9).
    const L_FORWARD_N_V: &str = concat!(
        "Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)\n",
        " pkts bytes target     prot opt in     out     source               destination         \n",
        "    5     6 ACCEPT     143  --  !eth0  !eth1   0.0.0.0/0            0.0.0.0/0           \n",
        "    0     0 DROP       17   --  veryveryverylon wlan0   0.0.0.0/0            0.0.0.0/0            udp spts:5:65535\n",
        "    0     0 ACCEPT     0    --  *      *       192.0.2.0/255.0.255.0  203.0.113.0/25      \n",
    );
}
