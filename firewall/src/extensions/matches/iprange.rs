//! `-m iprange` (libxt_iprange revision 1, `xt_iprange`): IPv4 address
//! ranges (ip6tables' are [`super::iprange6`]).

use std::net::Ipv4Addr;

use super::prelude::*;
use crate::{
    compile::classes::{Constraint, addr_range_prefixes},
    extensions::Columns,
    parse::values,
};

/// `-m iprange`'s ranges (one at least).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Iprange {
    /// `[!] --src-range`.
    pub src: Option<Neg<Ipv4Range>>,
    /// `[!] --dst-range`.
    pub dst: Option<Neg<Ipv4Range>>,
}

/// An inclusive IPv4 address range (`-m iprange`), `lo` may exceed `hi`
/// (iptables warns and stores it; it matches nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv4Range {
    /// First address.
    pub lo: Ipv4Addr,
    /// Last address (inclusive).
    pub hi: Ipv4Addr,
}

/// The iprange module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("iprange", value Iprange);
    const FAMILY: Option<crate::model::Family> = Some(crate::model::Family::V4);
    const OPTIONS: &'static [OptSpec] = &[
        opt("src-range", 0, Required, true),
        opt("dst-range", 1, Required, true),
    ];

    fn option(p: &mut Iprange, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let range = o.neg(ip_range(&o.arg, o.name)?);
        if o.spec.id == 0 {
            p.src = range;
        } else {
            p.dst = range;
        }
        Ok(())
    }

    fn fcheck(_: &Iprange, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "iprange match: You must specify `--src-range' or `--dst-range'")
    }

    fn save(v: &Iprange, s: &mut String) {
        for (name, r) in [("src-range", &v.src), ("dst-range", &v.dst)] {
            if let Some(r) = r {
                let _ = write!(
                    s,
                    "{} --{name} {}-{}",
                    bang(r.invert),
                    r.value.lo,
                    r.value.hi
                );
            }
        }
    }

    fn list(v: &Iprange, out: &mut String, _cx: &ListCx<'_>) {
        for (name, r) in [("source", &v.src), ("destination", &v.dst)] {
            if let Some(r) = r {
                let _ = write!(
                    out,
                    " {name} IP range{} {}-{}",
                    bang(r.invert),
                    r.value.lo,
                    r.value.hi
                );
            }
        }
    }

    /// xt_iprange: `lo <= addr <= hi` XOR `!`, on the source and the
    /// destination address columns (a union of prefixes each); a
    /// reversed range names no address.
    fn support(v: &Iprange) -> Enforcement {
        let prefixes = |r: &Ipv4Range| addr_range_prefixes(u32::from(r.lo), u32::from(r.hi));
        range_columns(&v.src, &v.dst, prefixes)
    }
}

/// The classifier's source and destination columns of `--src-range`
/// `src` and `--dst-range` `dst` (either family): each range's
/// `prefixes`, XOR its `!`.
pub(super) fn range_columns<R>(
    src: &Option<Neg<R>>,
    dst: &Option<Neg<R>>,
    prefixes: impl Fn(&R) -> Vec<crate::compile::classes::Prefix>,
) -> Enforcement {
    let column = |r: &Option<Neg<R>>| {
        r.as_ref().map(|n| {
            let ps = prefixes(&n.value);
            if n.invert {
                Constraint::Not(ps)
            } else {
                Constraint::Is(ps)
            }
        })
    };
    Enforcement::Classifier(Columns {
        src: column(src),
        dst: column(dst),
        ..Columns::default()
    })
}

/// `--src-range`/`--dst-range`: `A-B` or one address `A` (= `A-A`).
fn ip_range(arg: &str, option: &'static str) -> Result<Ipv4Range, ParseError> {
    let (lo, hi) = arg.split_once('-').unwrap_or((arg, arg));
    let addr = |s: &str| {
        values::ipv4(s).ok_or_else(|| ParseError::BadIpRange {
            option,
            value: s.to_string(),
        })
    };
    Ok(Ipv4Range {
        lo: addr(lo)?,
        hi: addr(hi)?,
    })
}

