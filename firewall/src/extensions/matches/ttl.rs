//! `-m ttl` (libipt_ttl, `ipt_ttl`): one comparison of the IP TTL.

use super::prelude::*;
use crate::{
    compile::classes::Constraint,
    extensions::Columns,
    parse::matches::{excl, uint},
};

/// `-m ttl`: one comparison of the IP TTL (and, as [`super::hl::Hl`], of
/// the IPv6 hop limit).
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

pub(super) const EQ: u8 = 0;
pub(super) const LT: u8 = 1;
pub(super) const GT: u8 = 2;
pub(super) const ANY: u32 = 0b111;

impl Ttl {
    /// The comparison of option `id` ([`EQ`], [`LT`], [`GT`]; `!` only
    /// with `--*-eq`) and value `v`, for `module`'s messages.
    pub(super) fn of_option(module: &'static str, o: &Given<'_>) -> Result<Self, ParseError> {
        let v = uint(module, o.name, &o.arg, 0, 255)? as u8;
        Ok(match (o.spec.id, o.invert) {
            (EQ, false) => Ttl::Eq(v),
            (EQ, true) => Ttl::Ne(v),
            (LT, _) => Ttl::Lt(v),
            (GT, _) => Ttl::Gt(v),
            (id, _) => unreachable!("option id {id} is not in {module}'s table"),
        })
    }

    /// `-S`'s options, `--FLAG-eq` and the like (`ttl`, `hl`).
    pub(super) fn save_as(&self, flag: &str, s: &mut String) {
        let _ = match self {
            Ttl::Eq(v) => write!(s, " --{flag}-eq {v}"),
            Ttl::Ne(v) => write!(s, " ! --{flag}-eq {v}"),
            Ttl::Lt(v) => write!(s, " --{flag}-lt {v}"),
            Ttl::Gt(v) => write!(s, " --{flag}-gt {v}"),
        };
    }

    /// `-L`'s ` LABEL match LABEL == N` and the like (`TTL`, `HL`).
    pub(super) fn list_as(&self, label: &str, out: &mut String) {
        let _ = match self {
            Ttl::Eq(v) => write!(out, " {label} match {label} == {v}"),
            Ttl::Ne(v) => write!(out, " {label} match {label} != {v}"),
            Ttl::Lt(v) => write!(out, " {label} match {label} < {v}"),
            Ttl::Gt(v) => write!(out, " {label} match {label} > {v}"),
        };
    }
}

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
        *p = Some(Ttl::of_option(Self::NAME, &o)?);
        Ok(())
    }

    fn fcheck(_: &Option<Ttl>, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt")
    }

    fn save(t: &Ttl, s: &mut String) {
        t.save_as("ttl", s);
    }

    fn list(t: &Ttl, out: &mut String, _cx: &ListCx<'_>) {
        t.list_as("TTL", out);
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
