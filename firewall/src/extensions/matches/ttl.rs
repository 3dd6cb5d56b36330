//! `-m ttl` (libipt_ttl, `ipt_ttl`): one comparison of the IP TTL.

use super::prelude::*;
use crate::{
    compile::classes::Constraint,
    extensions::Columns,
    parse::matches::{excl, uint},
};

/// `-m ttl`: one comparison of the IP TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ttl {
    /// `--ttl-eq N`.
    Eq(u8),
    /// `! --ttl-eq N`.
    Ne(u8),
    /// `--ttl-lt N`.
    Lt(u8),
    /// `--ttl-gt N`.
    Gt(u8),
}

const EQ: u8 = 0;
const LT: u8 = 1;
const GT: u8 = 2;
const ANY: u32 = 0b111;

/// The ttl module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("ttl", once Ttl);
    const FAMILY: Option<crate::model::Family> = Some(crate::model::Family::V4);
    const OPTIONS: &'static [OptSpec] = &[
        excl(opt("ttl-lt", LT, Required, false), ANY),
        excl(opt("ttl-gt", GT, Required, false), ANY),
        excl(opt("ttl-eq", EQ, Required, true), ANY),
        excl(opt("ttl", EQ, Required, true), ANY),
    ];

    fn option(p: &mut Option<Ttl>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let v = uint(Self::NAME, o.name, &o.arg, 0, 255)? as u8;
        *p = Some(match (o.spec.id, o.invert) {
            (EQ, false) => Ttl::Eq(v),
            (EQ, true) => Ttl::Ne(v),
            (LT, _) => Ttl::Lt(v),
            (GT, _) => Ttl::Gt(v),
            (id, _) => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        });
        Ok(())
    }

    fn fcheck(_: &Option<Ttl>, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt")
    }

    fn save(t: &Ttl, s: &mut String) {
        let _ = match t {
            Ttl::Eq(v) => write!(s, " --ttl-eq {v}"),
            Ttl::Ne(v) => write!(s, " ! --ttl-eq {v}"),
            Ttl::Lt(v) => write!(s, " --ttl-lt {v}"),
            Ttl::Gt(v) => write!(s, " --ttl-gt {v}"),
        };
    }

    fn list(t: &Ttl, out: &mut String, _cx: &ListCx<'_>) {
        let _ = match t {
            Ttl::Eq(v) => write!(out, " TTL match TTL == {v}"),
            Ttl::Ne(v) => write!(out, " TTL match TTL != {v}"),
            Ttl::Lt(v) => write!(out, " TTL match TTL < {v}"),
            Ttl::Gt(v) => write!(out, " TTL match TTL > {v}"),
        };
    }

    /// A column of the classifier ([`firewall_common::Field::Ttl`]): the
    /// TTL values the comparison accepts (`ipt_ttl`'s `ttl_mt`).
    fn support(t: &Ttl) -> Enforcement {
        let ttl = match *t {
            Ttl::Eq(v) => Constraint::Is(vec![u32::from(v)]),
            Ttl::Ne(v) => Constraint::Not(vec![u32::from(v)]),
            Ttl::Lt(v) => Constraint::Is((0..u32::from(v)).collect()),
            Ttl::Gt(v) => Constraint::Is((u32::from(v) + 1..=255).collect()),
        };
        Enforcement::Classifier(Columns {
            ttl: Some(ttl),
            ..Columns::default()
        })
    }
}
