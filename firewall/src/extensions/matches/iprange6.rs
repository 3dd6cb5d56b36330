//! `-m iprange` in ip6tables (libxt_iprange revision 1 for NFPROTO_IPV6,
//! `xt_iprange`): IPv6 address ranges. The IPv4 module is
//! [`super::iprange`]; both are `-m iprange`, the family picks one.

use std::net::Ipv6Addr;

use super::prelude::*;
use crate::{
    compile::classes::addr6_range_prefixes,
    model::{Family, ntop6},
};

/// ip6tables' `-m iprange` ranges (one at least).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Iprange6 {
    /// `[!] --src-range`.
    pub src: Option<Neg<Ipv6Range>>,
    /// `[!] --dst-range`.
    pub dst: Option<Neg<Ipv6Range>>,
}

/// An inclusive IPv6 address range, `lo` may exceed `hi` (stored as
/// given; it matches nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv6Range {
    /// First address.
    pub lo: Ipv6Addr,
    /// Last address (inclusive).
    pub hi: Ipv6Addr,
}

/// The IPv6 iprange module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("iprange", value Iprange6);
    const FAMILY: Option<Family> = Some(Family::V6);
    const OPTIONS: &'static [OptSpec] = &[
        opt("src-range", 0, Required, true),
        opt("dst-range", 1, Required, true),
    ];

    fn option(p: &mut Iprange6, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let range = o.neg(ip_range(&o.arg, o.name)?);
        if o.spec.id == 0 {
            p.src = range;
        } else {
            p.dst = range;
        }
        Ok(())
    }

    fn fcheck(_: &Iprange6, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "iprange match: You must specify `--src-range' or `--dst-range'")
    }

    fn save(v: &Iprange6, s: &mut String) {
        for (name, r) in [("src-range", &v.src), ("dst-range", &v.dst)] {
            if let Some(r) = r {
                let _ = write!(
                    s,
                    "{} --{name} {}-{}",
                    bang(r.invert),
                    ntop6(&r.value.lo),
                    ntop6(&r.value.hi)
                );
            }
        }
    }

    fn list(v: &Iprange6, out: &mut String, _cx: &ListCx<'_>) {
        for (name, r) in [("source", &v.src), ("destination", &v.dst)] {
            if let Some(r) = r {
                let _ = write!(
                    out,
                    " {name} IP range{} {}-{}",
                    bang(r.invert),
                    ntop6(&r.value.lo),
                    ntop6(&r.value.hi)
                );
            }
        }
    }

    fn support(v: &Iprange6) -> Enforcement {
        let prefixes = |r: &Ipv6Range| addr6_range_prefixes(u128::from(r.lo), u128::from(r.hi));
        super::iprange::range_columns(&v.src, &v.dst, prefixes)
    }
}

/// `--src-range`/`--dst-range`: `A-B` or one address `A` (= `A-A`),
/// numeric IPv6 addresses.
fn ip_range(arg: &str, option: &'static str) -> Result<Ipv6Range, ParseError> {
    let (lo, hi) = arg.split_once('-').unwrap_or((arg, arg));
    let addr = |s: &str| {
        s.parse::<Ipv6Addr>().map_err(|_| ParseError::BadIpRange {
            option,
            value: s.to_string(),
        })
    };
    Ok(Ipv6Range {
        lo: addr(lo)?,
        hi: addr(hi)?,
    })
}
