//! `-m icmp` (libipt_icmp, `ipt_icmp`): one ICMP type and its codes.

use super::{abbreviates, prelude::*};
use crate::{compile::classes::Constraint, extensions::Columns, parse::values};
use firewall_common::NO_HEADER_VALUE;

/// An ICMP type with a range of codes (`-m icmp --icmp-type`). Type 255
/// with codes 0..=255 is `any`, as in the kernel's `ipt_icmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IcmpType {
    /// The ICMP type (255: any type).
    pub kind: u8,
    /// Lowest code matched.
    pub code_min: u8,
    /// Highest code matched.
    pub code_max: u8,
}

impl IcmpType {
    /// `any`.
    pub const ANY: IcmpType = IcmpType {
        kind: 0xFF,
        code_min: 0,
        code_max: 0xFF,
    };
}

/// The icmp module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("icmp", once Neg<IcmpType>);
    const OPTIONS: &'static [OptSpec] = &[mand(opt("icmp-type", 0, Required, true))];
    const PROTOCOL: Option<u8> = Some(1);
    const FAMILY: Option<crate::model::Family> = Some(crate::model::Family::V4);

    fn option(p: &mut Option<Neg<IcmpType>>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        *p = o.neg(icmp_type(&o.arg)?);
        Ok(())
    }

    fn save(t: &Neg<IcmpType>, s: &mut String) {
        let IcmpType {
            kind,
            code_min,
            code_max,
        } = t.value;
        let _ = write!(s, "{} --icmp-type ", bang(t.invert));
        if kind == 0xFF {
            s.push_str("any");
        } else {
            let _ = write!(s, "{kind}");
            if code_min != 0 || code_max != 0xFF {
                let _ = write!(s, "/{code_min}");
            }
        }
    }

    /// libipt_icmp's `print_icmptype`.
    fn list(t: &Neg<IcmpType>, out: &mut String, cx: &ListCx<'_>) {
        list_type(t, out, cx, "icmp", ICMP_NAMES);
    }

    /// ipt_icmp's `icmp_type_code_match`: the type (255: any) and a code
    /// in range, XOR `!`; a packet without an ICMP header (a non-first
    /// fragment) matches neither way, so a negated column names
    /// [`NO_HEADER_VALUE`] among its values.
    fn support(t: &Neg<IcmpType>) -> Enforcement {
        let IcmpType {
            kind,
            code_min,
            code_max,
        } = t.value;
        let named: Vec<u32> = if kind == 0xFF {
            Vec::new()
        } else {
            (code_min..=code_max)
                .map(|c| u32::from(kind) << 8 | u32::from(c))
                .collect()
        };
        let icmp = match (kind == 0xFF, t.invert) {
            // Every ICMP header; none.
            (true, false) => Constraint::Not(vec![NO_HEADER_VALUE]),
            (true, true) => Constraint::Is(Vec::new()),
            (false, false) => Constraint::Is(named),
            (false, true) => Constraint::Not([named, vec![NO_HEADER_VALUE]].concat()),
        };
        Enforcement::Classifier(Columns {
            icmp: Some(icmp),
            ..Columns::default()
        })
    }
}

/// `-L`'s text of an ICMP or ICMPv6 type match, as libipt_icmp's
/// `print_icmptype` and libip6t_icmp6's `print_icmpv6type` write it: ` PROTO`,
/// then the name from `names` when one fits exactly (not with `-n`), else
/// `type N` with its code(s), the missing space after PROTO included.
pub(crate) fn list_type(
    t: &Neg<IcmpType>,
    out: &mut String,
    cx: &ListCx<'_>,
    proto: &str,
    names: &[(&str, u8, u8, u8)],
) {
    let IcmpType {
        kind,
        code_min,
        code_max,
    } = t.value;
    let _ = write!(out, " {proto}");
    if !cx.numeric
        && let Some((name, ..)) = names
            .iter()
            .find(|(_, k, a, b)| *k == kind && *a == code_min && *b == code_max)
    {
        let _ = write!(out, " {}{name}", if t.invert { "!" } else { "" });
        return;
    }
    if t.invert {
        out.push_str(" !");
    }
    let _ = write!(out, "type {kind}");
    if code_min == code_max {
        let _ = write!(out, " code {code_min}");
    } else if code_min != 0 || code_max != 0xFF {
        let _ = write!(out, " codes {code_min}-{code_max}");
    }
}

/// The ICMP type names iptables knows (libxt_icmp.h), with type and codes,
/// in its table order (which decides ambiguities and what `-L` prints).
pub(crate) const ICMP_NAMES: &[(&str, u8, u8, u8)] = &[
    ("any", 0xFF, 0, 0xFF),
    ("echo-reply", 0, 0, 0xFF),
    ("pong", 0, 0, 0xFF),
    ("destination-unreachable", 3, 0, 0xFF),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xFF),
    ("redirect", 5, 0, 0xFF),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xFF),
    ("ping", 8, 0, 0xFF),
    ("router-advertisement", 9, 0, 0xFF),
    ("router-solicitation", 10, 0, 0xFF),
    ("time-exceeded", 11, 0, 0xFF),
    ("ttl-exceeded", 11, 0, 0xFF),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xFF),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xFF),
    ("timestamp-reply", 14, 0, 0xFF),
    ("address-mask-request", 17, 0, 0xFF),
    ("address-mask-reply", 18, 0, 0xFF),
];

/// `--icmp-type`: a name or an unambiguous abbreviation of one (any case),
/// else `TYPE[/CODE]` as `strtoul` reads numbers (`0x8`, `+3`, ` 3`).
fn icmp_type(arg: &str) -> Result<IcmpType, ParseError> {
    parse_type(arg, Version::Icmp)
}

/// Which ICMP libxtables' shared parser reads: the names and the words of
/// its messages differ, nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// ICMP (`-m icmp --icmp-type`, [`ICMP_NAMES`]).
    Icmp,
    /// ICMPv6 (`-m icmp6 --icmpv6-type`, [`super::icmp6::ICMP6_NAMES`]).
    Icmp6,
}

/// libxtables' ICMP type parser for `version`: a name or an unambiguous
/// abbreviation, else `TYPE[/CODE]`.
pub(crate) fn parse_type(arg: &str, version: Version) -> Result<IcmpType, ParseError> {
    /// A message naming the argument.
    type Message = fn(String) -> ParseError;
    let (names, unknown_type, unknown_code): (_, Message, Message) = match version {
        Version::Icmp => (
            ICMP_NAMES,
            ParseError::UnknownIcmpType,
            ParseError::UnknownIcmpCode,
        ),
        Version::Icmp6 => (
            super::icmp6::ICMP6_NAMES,
            ParseError::UnknownIcmp6Type,
            ParseError::UnknownIcmp6Code,
        ),
    };
    let mut found: Option<&(&str, u8, u8, u8)> = None;
    for entry in names.iter().filter(|e| abbreviates(arg, e.0)) {
        if let Some(first) = found {
            let (given, first, second) = (arg.to_string(), first.0, entry.0);
            return Err(match version {
                Version::Icmp => ParseError::AmbiguousIcmpType {
                    given,
                    first,
                    second,
                },
                Version::Icmp6 => ParseError::AmbiguousIcmp6Type {
                    given,
                    first,
                    second,
                },
            });
        }
        found = Some(entry);
    }
    if let Some((_, kind, code_min, code_max)) = found {
        return Ok(IcmpType {
            kind: *kind,
            code_min: *code_min,
            code_max: *code_max,
        });
    }
    let number = |s: &str| values::strtoumax(s, 0).filter(|(v, _, e)| !e && *v <= 255);
    let (kind, end, _) = number(arg).ok_or_else(|| unknown_type(arg.to_string()))?;
    let rest = &arg[end..];
    let Some(code) = rest.strip_prefix('/') else {
        return match rest.chars().next() {
            None => Ok(IcmpType {
                kind: kind as u8,
                code_min: 0,
                code_max: 0xFF,
            }),
            Some(c) => Err(ParseError::IcmpUnknownCharacter(c)),
        };
    };
    let (c, end, _) = number(code).ok_or_else(|| unknown_code(arg.to_string()))?;
    match code[end..].chars().next() {
        None => Ok(IcmpType {
            kind: kind as u8,
            code_min: c as u8,
            code_max: c as u8,
        }),
        Some(ch) => Err(ParseError::IcmpUnknownCharacter(ch)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_types_like_iptables() {
        let t = |k, a, b| {
            Ok(IcmpType {
                kind: k,
                code_min: a,
                code_max: b,
            })
        };
        assert_eq!(icmp_type("echo-request"), t(8, 0, 255));
        assert_eq!(icmp_type("ECHO-REQ"), t(8, 0, 255));
        assert_eq!(icmp_type("ping"), t(8, 0, 255));
        assert_eq!(icmp_type("port-unreachable"), t(3, 3, 3));
        assert_eq!(icmp_type("8"), t(8, 0, 255));
        assert_eq!(icmp_type("0x8"), t(8, 0, 255));
        assert_eq!(icmp_type("+3"), t(3, 0, 255));
        assert_eq!(icmp_type("3/ 1"), t(3, 1, 1));
        assert_eq!(icmp_type("255"), t(255, 0, 255));
        assert_eq!(
            icmp_type("echo").unwrap_err().to_string(),
            "Ambiguous ICMP type `echo': `echo-reply' or `echo-request'?"
        );
        assert_eq!(
            icmp_type("").unwrap_err().to_string(),
            "Ambiguous ICMP type `': `any' or `echo-reply'?"
        );
        for bad in ["foo", "256", "/3"] {
            assert_eq!(icmp_type(bad), Err(ParseError::UnknownIcmpType(bad.into())));
        }
        for bad in ["3/", "3/-1"] {
            assert_eq!(icmp_type(bad), Err(ParseError::UnknownIcmpCode(bad.into())));
        }
        assert_eq!(icmp_type("3x"), Err(ParseError::IcmpUnknownCharacter('x')));
        assert_eq!(icmp_type("08"), Err(ParseError::IcmpUnknownCharacter('8')));
        assert_eq!(
            icmp_type("3/4/5"),
            Err(ParseError::IcmpUnknownCharacter('/'))
        );
    }
}
