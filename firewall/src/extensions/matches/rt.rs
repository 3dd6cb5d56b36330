//! `-m rt` (libip6t_rt, `ip6t_rt`): the IPv6 routing header, ip6tables
//! only. fw enforces `--rt-type`, `--rt-segsleft` and `--rt-len` (a check,
//! `firewall_common::check::KIND_RT`, on the routing header the parser
//! noted); the type 0 options (`--rt-0-res`, `--rt-0-addrs`,
//! `--rt-0-not-strict`) are refused.

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

    fn support(v: &Rt) -> Enforcement {
        use firewall_common::check::{KIND_RT, rt};
        let mut flags = 0;
        let (mut rt_type, mut len) = (0, 0);
        if let Some(t) = &v.rt_type {
            flags |= rt::F_TYPE | if t.invert { rt::INV_TYPE } else { 0 };
            rt_type = t.value;
        }
        if let Some(l) = &v.len {
            flags |= rt::F_LEN | if l.invert { rt::INV_LEN } else { 0 };
            len = l.value;
        }
        // libip6t_rt's default: every number of segments left.
        let (lo, hi) = match &v.segsleft {
            Some(n) => {
                if n.invert {
                    flags |= rt::INV_SEGSLEFT;
                }
                n.value
            }
            None => (0, u32::MAX),
        };
        Enforcement::RuleCheck(firewall_common::check::Check {
            kind: KIND_RT,
            arg: flags,
            a: u64::from(lo) | u64::from(hi) << 32,
            b: u64::from(rt_type) | u64::from(len) << 32,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewall_common::check::rt;

    /// The check's answer for a routing header of `ext_len`, `rt_type`
    /// and `segs` under `v`.
    fn met(v: &Rt, header: u32) -> bool {
        let Enforcement::RuleCheck(c) = Ext::support(v) else {
            panic!("-m rt is a rule check");
        };
        rt::matches(c.arg, c.a, c.b, header)
    }

    #[test]
    fn compared_as_ip6t_rt_compares() {
        let type0 = Rt {
            rt_type: Some(Neg::is(0)),
            ..Rt::default()
        };
        let h = |len, ty, segs| rt::header(len, ty, segs);
        assert!(met(&type0, h(2, 0, 1)));
        assert!(!met(&type0, h(2, 2, 1)));
        assert!(!met(&type0, 0), "no routing header, no match");
        let not2 = Rt {
            rt_type: Some(Neg { value: 2, invert: true }),
            segsleft: Some(Neg::is((1, 3))),
            len: Some(Neg::is(24)),
        };
        assert!(met(&not2, h(2, 0, 3)));
        assert!(!met(&not2, h(2, 2, 3)), "! --rt-type 2");
        assert!(!met(&not2, h(2, 0, 4)), "segments left past 3");
        assert!(!met(&not2, h(1, 0, 2)), "16 bytes, not 24");
        assert!(!met(&not2, 0), "! --rt-type needs a routing header too");
        let all = Rt::default();
        assert!(met(&all, h(0, 7, 255)));
    }
}
