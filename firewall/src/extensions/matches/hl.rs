//! `-m hl` (libip6t_hl, `ip6t_hl`): one comparison of the IPv6 hop limit,
//! ip6tables' counterpart of `-m ttl`.

use super::prelude::*;
use crate::{model::Family, parse::matches::excl};

/// `-m hl`: one comparison of the hop limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Hl {
    /// `--hl-eq N`.
    Eq(u8),
    /// `! --hl-eq N`.
    Ne(u8),
    /// `--hl-lt N`.
    Lt(u8),
    /// `--hl-gt N`.
    Gt(u8),
}

const EQ: u8 = 0;
const LT: u8 = 1;
const GT: u8 = 2;
const ANY: u32 = 0b111;

/// The hl module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("hl", once Hl);
    const OPTIONS: &'static [OptSpec] = &[
        excl(opt("hl-lt", LT, Required, false), ANY),
        excl(opt("hl-gt", GT, Required, false), ANY),
        excl(opt("hl-eq", EQ, Required, true), ANY),
        excl(opt("hl", EQ, Required, true), ANY),
    ];
    const FAMILY: Option<Family> = Some(Family::V6);

    fn option(p: &mut Option<Hl>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let v = crate::parse::matches::uint(Self::NAME, o.name, &o.arg, 0, 255)? as u8;
        *p = Some(match (o.spec.id, o.invert) {
            (EQ, false) => Hl::Eq(v),
            (EQ, true) => Hl::Ne(v),
            (LT, _) => Hl::Lt(v),
            (GT, _) => Hl::Gt(v),
            (id, _) => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        });
        Ok(())
    }

    fn fcheck(_: &Option<Hl>, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "HL match: You must specify one of `--hl-eq', `--hl-lt', `--hl-gt'")
    }

    fn save(t: &Hl, s: &mut String) {
        let _ = match t {
            Hl::Eq(v) => write!(s, " --hl-eq {v}"),
            Hl::Ne(v) => write!(s, " ! --hl-eq {v}"),
            Hl::Lt(v) => write!(s, " --hl-lt {v}"),
            Hl::Gt(v) => write!(s, " --hl-gt {v}"),
        };
    }

    fn list(t: &Hl, out: &mut String, _cx: &ListCx<'_>) {
        let _ = match t {
            Hl::Eq(v) => write!(out, " HL match HL == {v}"),
            Hl::Ne(v) => write!(out, " HL match HL != {v}"),
            Hl::Lt(v) => write!(out, " HL match HL < {v}"),
            Hl::Gt(v) => write!(out, " HL match HL > {v}"),
        };
    }

    fn support(_: &Hl) -> Enforcement {
        Enforcement::Refused("-m hl")
    }
}
