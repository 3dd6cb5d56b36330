//! `-m policy` (libxt_policy, `xt_policy`): the IPsec policy that
//! decapsulated the packet (`--dir in`) or will encapsulate it
//! (`--dir out`).

use std::collections::BTreeSet;

use super::{conntrack::host_mask_in, prelude::*};
use crate::{
    model::{BuiltinChain, CtAddr, check::hook_names},
    parse::{matches::uint, protocols},
};

/// `-m policy --dir in|out --pol none|ipsec [--strict] [ELEMENT [--next
/// ELEMENT]...]`, as xt_policy's `xt_policy_info` keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy {
    /// `--dir out` (else `in`).
    pub out: bool,
    /// `--pol none` (else `ipsec`).
    pub none: bool,
    /// `--strict`: the elements describe the whole policy, in order.
    pub strict: bool,
    /// The policy elements (none with `--pol none`; at least one, maybe
    /// empty, with `ipsec`).
    pub elems: Vec<PolicyElem>,
}

/// One element of an IPsec policy (`struct xt_policy_elem`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyElem {
    /// `[!] --reqid`.
    pub reqid: Option<Neg<u32>>,
    /// `[!] --spi`.
    pub spi: Option<Neg<u32>>,
    /// `[!] --proto`: 51 (ah), 50 (esp) or 108 (ipcomp).
    pub proto: Option<Neg<u8>>,
    /// `[!] --mode`: `true` for tunnel, `false` for transport.
    pub tunnel: Option<Neg<bool>>,
    /// `[!] --tunnel-src`.
    pub tunnel_src: Option<Neg<CtAddr>>,
    /// `[!] --tunnel-dst`.
    pub tunnel_dst: Option<Neg<CtAddr>>,
}

impl PolicyElem {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The options while the line is read: `elems` grows at each `--next`.
#[derive(Clone, Debug)]
pub(crate) struct Parser {
    dir: Option<bool>,
    none: bool,
    strict: bool,
    elems: Vec<PolicyElem>,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            dir: None,
            none: false,
            strict: false,
            elems: vec![PolicyElem::default()],
        }
    }
}

/// `XT_POLICY_MAX_ELEM`.
const MAX_ELEM: usize = 4;

const O_STRICT: u8 = 2;
const O_NEXT: u8 = 9;

/// The policy module.
pub(crate) struct Ext;

fn problem(message: String, token: &str) -> ParseError {
    ParseError::ModuleProblem {
        message,
        token: token.to_string(),
    }
}

fn double(option: &str) -> ParseError {
    problem(format!("policy match: double --{option} option"), option)
}

impl MatchExt for Ext {
    ext_head!("policy", Policy, parser Parser);
    const OPTIONS: &'static [OptSpec] = &[
        opt("dir", 0, Required, false),
        opt("pol", 1, Required, false),
        opt("strict", O_STRICT, No, false),
        multi(opt("reqid", 3, Required, true)),
        multi(opt("spi", 4, Required, true)),
        multi(opt("tunnel-src", 5, Required, true)),
        multi(opt("tunnel-dst", 6, Required, true)),
        multi(opt("proto", 7, Required, true)),
        multi(opt("mode", 8, Required, true)),
        also(multi(opt("next", O_NEXT, No, false)), 1 << O_STRICT),
    ];

    fn option(p: &mut Parser, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let arg = o.arg.as_str();
        let e = p.elems.last_mut().expect("one element at least");
        match o.spec.id {
            0 => {
                p.dir = Some(match arg {
                    "in" => false,
                    "out" => true,
                    _ => return Err(problem(format!("policy_match: invalid dir \"{arg}\""), arg)),
                })
            }
            1 => {
                p.none = match arg {
                    "none" => true,
                    "ipsec" => false,
                    _ => {
                        return Err(problem(format!("policy match: invalid policy \"{arg}\""), arg));
                    }
                }
            }
            O_STRICT => p.strict = true,
            3 | 4 => {
                let v = uint("policy", o.name, arg, 0, u64::from(u32::MAX))? as u32;
                let slot = if o.spec.id == 3 { &mut e.reqid } else { &mut e.spi };
                if slot.is_some() {
                    return Err(double(o.name));
                }
                *slot = o.neg(v);
            }
            5 | 6 => {
                let a = host_mask_in(arg, "policy", o.name, line.ctx.family)?;
                let slot = if o.spec.id == 5 {
                    &mut e.tunnel_src
                } else {
                    &mut e.tunnel_dst
                };
                if slot.is_some() {
                    return Err(double(o.name));
                }
                *slot = o.neg(a);
            }
            7 => {
                if e.proto.is_some() {
                    return Err(double("proto"));
                }
                let n = protocols::parse_protocol(arg)?;
                if ![51, 50, 108].contains(&n) {
                    return Err(problem("policy match: protocol must be ah/esp/ipcomp".into(), arg));
                }
                e.proto = o.neg(n);
            }
            8 => {
                if e.tunnel.is_some() {
                    return Err(double("mode"));
                }
                e.tunnel = o.neg(match arg {
                    "transport" => false,
                    "tunnel" => true,
                    _ => return Err(problem(format!("policy match: invalid mode \"{arg}\""), arg)),
                });
            }
            O_NEXT => {
                if p.elems.len() == MAX_ELEM {
                    return Err(problem("policy match: maximum policy depth reached".into(), "--next"));
                }
                p.elems.push(PolicyElem::default());
            }
            _ => return Err(ParseError::UnknownOption(o.written.to_string())),
        }
        Ok(())
    }

    /// libxt_policy's `policy_check` (before `--next`'s `--strict`).
    fn fcheck(p: &Parser, _given: u32) -> Result<(), ParseError> {
        let fail = |m: &str| Err(problem(format!("policy match: {m}"), "policy"));
        if p.dir.is_none() {
            return fail("neither --dir in nor --dir out specified");
        }
        if p.none {
            if p.strict {
                return fail("policy none but --strict given");
            }
            if p.elems.len() > 1 {
                return fail("policy none but policy given");
            }
            return Ok(());
        }
        for (i, e) in p.elems.iter().enumerate() {
            if p.strict && e.is_empty() {
                return fail(&format!(
                    "empty policy element {i}. --strict is in effect, but at least one of reqid, \
                     spi, tunnel-src, tunnel-dst, proto or mode is required."
                ));
            }
            // No --mode is transport (`XT_POLICY_MODE_TRANSPORT` is 0).
            let transport = e.tunnel.as_ref().is_none_or(|m| m.value == m.invert);
            if (e.tunnel_src.is_some() || e.tunnel_dst.is_some()) && transport {
                return fail("--tunnel-src/--tunnel-dst is only valid in tunnel mode");
            }
        }
        Ok(())
    }

    fn finish(p: &Parser) -> Result<Policy, ParseError> {
        Ok(Policy {
            out: p.dir == Some(true),
            none: p.none,
            strict: p.strict,
            // With `none` the kernel keeps no element (len 0).
            elems: if p.none { Vec::new() } else { p.elems.clone() },
        })
    }

    /// xt_policy's `policy_mt_check`: `--dir in` only where a packet was
    /// received, `--dir out` only where one is sent.
    fn hooks(v: &Policy, from: &BTreeSet<BuiltinChain>) -> Result<(), String> {
        let bad = if v.out {
            BuiltinChain::Input
        } else {
            BuiltinChain::Output
        };
        if from.contains(&bad) {
            return Err(format!(
                "xt_policy: {} policy not valid in {} (reached from {})",
                if v.out { "output" } else { "input" },
                if v.out {
                    "PREROUTING and INPUT"
                } else {
                    "POSTROUTING and OUTPUT"
                },
                hook_names(from)
            ));
        }
        Ok(())
    }

    /// libxt_policy's `policy4_save`.
    fn save(v: &Policy, s: &mut String) {
        flags(v, s, "--");
        for (i, e) in v.elems.iter().enumerate() {
            elem(e, s, "--", false);
            if i + 1 < v.elems.len() {
                s.push_str(" --next");
            }
        }
    }

    /// libxt_policy's `policy4_print`.
    fn list(v: &Policy, out: &mut String, cx: &ListCx<'_>) {
        out.push_str(" policy match");
        flags(v, out, "");
        for (i, e) in v.elems.iter().enumerate() {
            if v.elems.len() > 1 {
                let _ = write!(out, " [{i}]");
            }
            elem(e, out, "", cx.numeric);
        }
    }

    /// Checked in the kernel ([`firewall_common::check::KIND_POLICY`]):
    /// fw filters only while the namespace has no IPsec state, so no
    /// packet it sees has a policy, and the match holds exactly for
    /// `--pol none`, as xt_policy answers for a packet without one.
    fn support(v: &Policy) -> Enforcement {
        Enforcement::RuleCheck(firewall_common::check::Check {
            kind: firewall_common::check::KIND_POLICY,
            arg: u32::from(v.none),
            ..Default::default()
        })
    }
}

/// libxt_policy's `print_flags`.
fn flags(v: &Policy, out: &mut String, prefix: &str) {
    let _ = write!(out, " {prefix}dir {}", if v.out { "out" } else { "in" });
    let _ = write!(out, " {prefix}pol {}", if v.none { "none" } else { "ipsec" });
    if v.strict {
        let _ = write!(out, " {prefix}strict");
    }
}

/// libxt_policy's `print_entry`.
fn elem(e: &PolicyElem, out: &mut String, prefix: &str, numeric: bool) {
    if let Some(r) = &e.reqid {
        let _ = write!(out, "{} {prefix}reqid {}", bang(r.invert), r.value);
    }
    if let Some(r) = &e.spi {
        let _ = write!(out, "{} {prefix}spi {:#x}", bang(r.invert), r.value);
    }
    if let Some(p) = &e.proto {
        let _ = write!(out, "{} {prefix}proto ", bang(p.invert));
        match (!numeric).then(|| protocols::protocol_name(p.value)).flatten() {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "{}", p.value);
            }
        }
    }
    if let Some(m) = &e.tunnel {
        let mode = if m.value { "tunnel" } else { "transport" };
        let _ = write!(out, "{} {prefix}mode {mode}", bang(m.invert));
    }
    // ip6tables prints IPv6's with `xtables_ip6mask_to_numeric`: no /128.
    for (a, name) in [(&e.tunnel_dst, "tunnel-dst"), (&e.tunnel_src, "tunnel-src")] {
        if let Some(a) = a {
            let full = if a.value.addr.is_ipv4() { 32 } else { 128 };
            let _ = write!(out, "{} {prefix}{name} {}", bang(a.invert), a.value.addr_text());
            if a.value.prefix != full {
                let _ = write!(out, "/{}", a.value.prefix);
            }
        }
    }
}
