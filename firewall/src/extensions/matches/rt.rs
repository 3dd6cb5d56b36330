//! `-m rt` (libip6t_rt, `ip6t_rt`): the IPv6 routing header, ip6tables
//! only. fw parses `--rt-type`, `--rt-segsleft` and `--rt-len`; the type 0
//! options (`--rt-0-res`, `--rt-0-addrs`, `--rt-0-not-strict`) are refused.

use super::{excl as glued, prelude::*};
use crate::{
    model::Family,
    parse::matches::{uint, uint_range},
};

/// `-m rt`: what ip6t_rt compares (`struct ip6t_rt`, without type 0's
/// addresses).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rt {
    /// `[!] --rt-type N`.
    pub rt_type: Option<Neg<u32>>,
    /// `[!] --rt-segsleft MIN[:MAX]`; `None` is 0:4294967295.
    pub segsleft: Option<Neg<(u32, u32)>>,
    /// `[!] --rt-len N`.
    pub len: Option<Neg<u32>>,
}

const TYPE: u8 = 0;
const SEGSLEFT: u8 = 1;
const LEN: u8 = 2;
const RES: u8 = 3;
const ADDRS: u8 = 4;
const NOT_STRICT: u8 = 5;

/// The rt module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("rt", value Rt);
    const OPTIONS: &'static [OptSpec] = &[
        opt("rt-type", TYPE, Required, true),
        opt("rt-segsleft", SEGSLEFT, Required, true),
        opt("rt-len", LEN, Required, true),
        opt("rt-0-res", RES, No, false),
        opt("rt-0-addrs", ADDRS, Required, false),
        opt("rt-0-not-strict", NOT_STRICT, No, false),
    ];
    const FAMILY: Option<Family> = Some(Family::V6);

    fn option(p: &mut Rt, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let max = u64::from(u32::MAX);
        match o.spec.id {
            TYPE => p.rt_type = o.neg(uint(Self::NAME, o.name, &o.arg, 0, max)? as u32),
            SEGSLEFT => {
                let (lo, hi) = uint_range(Self::NAME, o.name, &o.arg, max)?;
                p.segsleft = o.neg((lo as u32, hi as u32));
            }
            LEN => p.len = o.neg(uint(Self::NAME, o.name, &o.arg, 0, max)? as u32),
            RES | ADDRS | NOT_STRICT => {
                return Err(ParseError::unsupported(
                    format!("--{} (-m rt)", o.name),
                    o.written,
                ));
            }
            id => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        }
        Ok(())
    }

    /// libip6t_rt's `save`.
    fn save(v: &Rt, s: &mut String) {
        if let Some(t) = &v.rt_type {
            let _ = write!(s, "{} --rt-type {}", bang(t.invert), t.value);
        }
        if let Some(n) = &v.segsleft
            && (n.value != (0, u32::MAX) || n.invert)
        {
            let _ = write!(s, "{} --rt-segsleft {}", bang(n.invert), n.value.0);
            if n.value.0 != n.value.1 {
                let _ = write!(s, ":{}", n.value.1);
            }
        }
        if let Some(l) = &v.len {
            let _ = write!(s, "{} --rt-len {}", bang(l.invert), l.value);
        }
    }

    /// libip6t_rt's `print`: ` rt type:0 segslefts:2:5 length:8`.
    fn list(v: &Rt, out: &mut String, _cx: &ListCx<'_>) {
        out.push_str(" rt");
        if let Some(t) = &v.rt_type {
            let _ = write!(out, " type:{}{}", glued(t.invert), t.value);
        }
        if let Some(n) = &v.segsleft
            && (n.value != (0, u32::MAX) || n.invert)
        {
            let (lo, hi) = n.value;
            let _ = if lo == hi {
                write!(out, " segsleft:{}{lo}", glued(n.invert))
            } else {
                write!(out, " segslefts:{}{lo}:{hi}", glued(n.invert))
            };
        }
        if let Some(l) = &v.len {
            let _ = write!(out, " length:{}{}", glued(l.invert), l.value);
        }
    }

    fn support(_: &Rt) -> Enforcement {
        Enforcement::Refused("-m rt")
    }
}
