//! `-m addrtype` (libxt_addrtype revision 1, `xt_addrtype`): the route
//! type of the source or destination address.

use std::collections::BTreeSet;

use super::{abbreviates, excl as inverted, prelude::*};
use crate::{model::BuiltinChain, parse::matches::excl};

/// Route types of `-m addrtype` (`RTN_*` as `1 << n`, `xt_addrtype.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrTypes(pub u16);

impl AddrTypes {
    /// Names in bit order, which is also the order iptables prints them.
    pub const NAMES: [&'static str; 12] = [
        "UNSPEC",
        "UNICAST",
        "LOCAL",
        "BROADCAST",
        "ANYCAST",
        "MULTICAST",
        "BLACKHOLE",
        "UNREACHABLE",
        "PROHIBIT",
        "THROW",
        "NAT",
        "XRESOLVE",
    ];
}

/// `--limit-iface-in` / `--limit-iface-out` of `-m addrtype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LimitIface {
    /// `--limit-iface-in`: look the address up on the input interface.
    In,
    /// `--limit-iface-out`.
    Out,
}

/// `-m addrtype`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Addrtype {
    /// `[!] --src-type TYPES`.
    pub src: Option<Neg<AddrTypes>>,
    /// `[!] --dst-type TYPES`.
    pub dst: Option<Neg<AddrTypes>>,
    /// `--limit-iface-in|out`.
    pub limit_iface: Option<LimitIface>,
    /// A rule of ip6tables (xt_addrtype's `match_type6`).
    #[serde(default)]
    pub v6: bool,
}

/// The addrtype module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("addrtype", value Addrtype);
    const OPTIONS: &'static [OptSpec] = &[
        opt("src-type", 0, Required, true),
        opt("dst-type", 1, Required, true),
        excl(opt("limit-iface-in", 2, No, false), 1 << 3),
        excl(opt("limit-iface-out", 3, No, false), 1 << 2),
    ];

    fn option(p: &mut Addrtype, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        p.v6 = line.ctx.family == crate::model::Family::V6;
        match o.spec.id {
            0 => p.src = o.neg(AddrTypes(addr_types(&o.arg)?)),
            1 => p.dst = o.neg(AddrTypes(addr_types(&o.arg)?)),
            2 => p.limit_iface = Some(LimitIface::In),
            3 => p.limit_iface = Some(LimitIface::Out),
            id => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        }
        Ok(())
    }

    fn fcheck(_: &Addrtype, given: u32) -> Result<(), ParseError> {
        needs(given & 0b11 == 0, Self::NAME, "addrtype: you must specify --src-type or --dst-type")
    }

    /// `addrtype_mt_checkentry_v1`'s IPv6 refusals (the kernel's).
    fn checkentry(a: &Addrtype) -> Result<(), ParseError> {
        const BROADCAST: u16 = 1 << 3;
        const BLACKHOLE: u16 = 1 << 6;
        const PROHIBIT: u16 = 1 << 8;
        let types = a.types();
        if !a.v6 {
            return Ok(());
        }
        if types & BLACKHOLE != 0 {
            return Err(ParseError::KernelRefuses(
                "xt_addrtype: ipv6 BLACKHOLE matching not supported",
            ));
        }
        if types >= PROHIBIT {
            return Err(ParseError::KernelRefuses(
                "xt_addrtype: ipv6 PROHIBIT (THROW, NAT ..) matching not supported",
            ));
        }
        if types & BROADCAST != 0 {
            return Err(ParseError::KernelRefuses(
                "xt_addrtype: ipv6 does not support BROADCAST matching",
            ));
        }
        Ok(())
    }

    fn hooks(a: &Addrtype, from: &BTreeSet<BuiltinChain>) -> Result<(), String> {
        match a.limit_iface {
            Some(LimitIface::In) if from.contains(&BuiltinChain::Output) => Err(
                "xt_addrtype: input interface limitation not valid in POSTROUTING and OUTPUT"
                    .into(),
            ),
            Some(LimitIface::Out) if from.contains(&BuiltinChain::Input) => Err(
                "xt_addrtype: output interface limitation not valid in PREROUTING and INPUT"
                    .into(),
            ),
            Some(LimitIface::In | LimitIface::Out) | None => Ok(()),
        }
    }

    fn save(a: &Addrtype, s: &mut String) {
        for (name, t) in [("src-type", &a.src), ("dst-type", &a.dst)] {
            if let Some(t) = t {
                let _ = write!(
                    s,
                    "{} --{name} {}",
                    bang(t.invert),
                    addr_type_names(t.value)
                );
            }
        }
        match a.limit_iface {
            Some(LimitIface::In) => s.push_str(" --limit-iface-in"),
            Some(LimitIface::Out) => s.push_str(" --limit-iface-out"),
            None => {}
        }
    }

    fn list(a: &Addrtype, out: &mut String, _cx: &ListCx<'_>) {
        out.push_str(" ADDRTYPE match");
        for (name, t) in [("src-type", &a.src), ("dst-type", &a.dst)] {
            if let Some(t) = t {
                let _ = write!(
                    out,
                    " {name} {}{}",
                    inverted(t.invert),
                    addr_type_names(t.value)
                );
            }
        }
        match a.limit_iface {
            Some(LimitIface::In) => out.push_str(" limit-in"),
            Some(LimitIface::Out) => out.push_str(" limit-out"),
            None => {}
        }
    }

    /// A rule check against the `ADDRTYPE` copy of the local routing
    /// table ([`firewall_common::check::KIND_ADDRTYPE`]); with
    /// `--limit-iface-*` the route's device would count too: refused.
    fn support(a: &Addrtype) -> Enforcement {
        // IPv6's ANYCAST and UNREACHABLE are a full route lookup's answer
        // (`match_lookup_rt6`), not the local table's.
        const ROUTED: u16 = 1 << 4 | 1 << 7;
        let types = a.types();
        match a.limit_iface {
            Some(LimitIface::In) => Enforcement::Refused("-m addrtype --limit-iface-in"),
            Some(LimitIface::Out) => Enforcement::Refused("-m addrtype --limit-iface-out"),
            None if a.v6 && types & ROUTED != 0 => {
                Enforcement::Refused("-m addrtype ANYCAST or UNREACHABLE in IPv6")
            }
            None => {
                let (arg, src, dst) = a.words();
                Enforcement::RuleCheck(firewall_common::check::Check {
                    kind: firewall_common::check::KIND_ADDRTYPE,
                    arg,
                    a: u64::from(src),
                    b: u64::from(dst),
                    state: 0,
                })
            }
        }
    }
}

impl Addrtype {
    /// The types both options name.
    fn types(&self) -> u16 {
        let of = |t: &Option<Neg<AddrTypes>>| t.as_ref().map_or(0, |t| t.value.0);
        of(&self.src) | of(&self.dst)
    }

    /// The check's flags ([`firewall_common::check::addrtype`]) and its
    /// source and destination type masks (bit `1 << RTN_*`).
    pub fn words(&self) -> (u32, u32, u32) {
        use firewall_common::check::addrtype::*;
        let mut flags = 0;
        let mut mask = |t: &Option<Neg<AddrTypes>>, given: u32, not: u32| match t {
            Some(t) => {
                flags |= given | if t.invert { not } else { 0 };
                u32::from(t.value.0)
            }
            None => 0,
        };
        let src = mask(&self.src, F_SRC, F_SRC_NOT);
        let dst = mask(&self.dst, F_DST, F_DST_NOT);
        if self.v6 {
            flags |= F_V6;
        }
        (flags, src, dst)
    }
}

/// Route types joined by commas (libxt_addrtype's `print_types`).
fn addr_type_names(t: AddrTypes) -> String {
    AddrTypes::NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| t.0 & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// libxt_addrtype's type list: comma-separated abbreviations of the route
/// types, any case (an abbreviation means the first type it fits).
fn addr_types(arg: &str) -> Result<u16, ParseError> {
    let one = |s: &str| {
        (!s.is_empty())
            .then(|| AddrTypes::NAMES.iter().position(|n| abbreviates(s, n)))
            .flatten()
            .map(|i| 1u16 << i)
    };
    let mut bits = 0;
    let mut rest = arg;
    while let Some((item, after)) = rest.split_once(',') {
        bits |= one(item).ok_or_else(|| ParseError::BadAddrType {
            value: rest.to_string(),
            in_list: true,
        })?;
        rest = after;
    }
    bits |= one(rest).ok_or_else(|| ParseError::BadAddrType {
        value: rest.to_string(),
        in_list: false,
    })?;
    Ok(bits)
}

