//! `-m icmp6` (libip6t_icmp6, `ip6t_icmp`): one ICMPv6 type and its codes,
//! ip6tables only. `-p ipv6-icmp --icmpv6-type T` loads it implicitly, and
//! `-m icmpv6` and `-m ipv6-icmp` name it too (libxtables' aliases).

use super::{
    icmp::{IcmpType, Version, list_type, parse_type},
    prelude::*,
};
use crate::{compile::classes::Constraint, extensions::Columns, model::Family};
use firewall_common::NO_HEADER_VALUE;

/// The icmp6 module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("icmp6", once Neg<IcmpType>);
    const OPTIONS: &'static [OptSpec] = &[mand(opt("icmpv6-type", 0, Required, true))];
    const PROTOCOL: Option<u8> = Some(58);
    const FAMILY: Option<Family> = Some(Family::V6);

    fn option(p: &mut Option<Neg<IcmpType>>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        *p = o.neg(parse_type(&o.arg, Version::Icmp6)?);
        Ok(())
    }

    /// libip6t_icmp6's `save`: the number, `/CODE` unless every code.
    fn save(t: &Neg<IcmpType>, s: &mut String) {
        let IcmpType {
            kind,
            code_min,
            code_max,
        } = t.value;
        let _ = write!(s, "{} --icmpv6-type {kind}", bang(t.invert));
        if code_min != 0 || code_max != 0xFF {
            let _ = write!(s, "/{code_min}");
        }
    }

    /// libip6t_icmp6's `print_icmpv6type`.
    fn list(t: &Neg<IcmpType>, out: &mut String, cx: &ListCx<'_>) {
        list_type(t, out, cx, "ipv6-icmp", ICMP6_NAMES);
    }

    /// The ICMPv6 column of an IPv6 chain (`type << 8 | code`). Unlike
    /// ipt_icmp, `icmp6_type_code_match` has no "any" type: 255 is a
    /// type like another. A packet without the header (a non-first
    /// fragment) matches neither `--icmpv6-type` nor its negation.
    fn support(t: &Neg<IcmpType>) -> Enforcement {
        let IcmpType {
            kind,
            code_min,
            code_max,
        } = t.value;
        let named: Vec<u32> = (code_min..=code_max)
            .map(|c| u32::from(kind) << 8 | u32::from(c))
            .collect();
        let icmp = if t.invert {
            Constraint::Not([named, vec![NO_HEADER_VALUE]].concat())
        } else {
            Constraint::Is(named)
        };
        Enforcement::Classifier(Columns {
            icmp: Some(icmp),
            ..Columns::default()
        })
    }
}

/// The ICMPv6 type names ip6tables knows (libxtables' `icmpv6_codes`,
/// `ip6tables -p icmpv6 -h`), with type and codes, in its table order
/// (which decides ambiguities and what `-L` prints).
pub(crate) const ICMP6_NAMES: &[(&str, u8, u8, u8)] = &[
    ("destination-unreachable", 1, 0, 0xFF),
    ("no-route", 1, 0, 0),
    ("communication-prohibited", 1, 1, 1),
    ("beyond-scope", 1, 2, 2),
    ("address-unreachable", 1, 3, 3),
    ("port-unreachable", 1, 4, 4),
    ("failed-policy", 1, 5, 5),
    ("reject-route", 1, 6, 6),
    ("packet-too-big", 2, 0, 0xFF),
    ("time-exceeded", 3, 0, 0xFF),
    ("ttl-exceeded", 3, 0, 0xFF),
    ("ttl-zero-during-transit", 3, 0, 0),
    ("ttl-zero-during-reassembly", 3, 1, 1),
    ("parameter-problem", 4, 0, 0xFF),
    ("bad-header", 4, 0, 0),
    ("unknown-header-type", 4, 1, 1),
    ("unknown-option", 4, 2, 2),
    ("echo-request", 128, 0, 0xFF),
    ("ping", 128, 0, 0xFF),
    ("echo-reply", 129, 0, 0xFF),
    ("pong", 129, 0, 0xFF),
    ("router-solicitation", 133, 0, 0xFF),
    ("router-advertisement", 134, 0, 0xFF),
    ("neighbour-solicitation", 135, 0, 0xFF),
    ("neighbor-solicitation", 135, 0, 0xFF),
    ("neighbour-advertisement", 136, 0, 0xFF),
    ("neighbor-advertisement", 136, 0, 0xFF),
    ("redirect", 137, 0, 0xFF),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmpv6_types_like_ip6tables() {
        let t = |k, a, b| {
            Ok(IcmpType {
                kind: k,
                code_min: a,
                code_max: b,
            })
        };
        let p = |s: &str| parse_type(s, Version::Icmp6);
        assert_eq!(p("echo-request"), t(128, 0, 255));
        assert_eq!(p("neighbor-solicitation"), t(135, 0, 255));
        assert_eq!(p("address-unreachable"), t(1, 3, 3));
        assert_eq!(p("1/3"), t(1, 3, 3));
        assert_eq!(p("0x80"), t(128, 0, 255));
        assert_eq!(p("255"), t(255, 0, 255));
        assert_eq!(
            p("e").unwrap_err().to_string(),
            "Ambiguous ICMPv6 type `e': `echo-request' or `echo-reply'?"
        );
        assert_eq!(
            p("").unwrap_err().to_string(),
            "Ambiguous ICMPv6 type `': `destination-unreachable' or `no-route'?"
        );
        for bad in ["foo", "256", "any", "/3"] {
            assert_eq!(p(bad), Err(ParseError::UnknownIcmp6Type(bad.into())));
        }
        for bad in ["1/", "1/256"] {
            assert_eq!(p(bad), Err(ParseError::UnknownIcmp6Code(bad.into())));
        }
        assert_eq!(p("3x"), Err(ParseError::IcmpUnknownCharacter('x')));
    }
}
