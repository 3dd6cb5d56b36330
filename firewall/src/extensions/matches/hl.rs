//! `-m hl` (libip6t_hl, `ip6t_hl`): one comparison of the IPv6 hop limit,
//! ip6tables' counterpart of `-m ttl`.

use super::{
    prelude::*,
    ttl::{ANY, EQ, GT, LT},
};
use crate::{model::Family, parse::matches::excl};

/// `-m hl`: one comparison of the hop limit, in the TTL's shape
/// (`Eq` is `--hl-eq`, and so on).
pub type Hl = super::ttl::Ttl;

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
        *p = Some(Hl::of_option(Self::NAME, &o)?);
        Ok(())
    }

    fn fcheck(_: &Option<Hl>, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "HL match: You must specify one of `--hl-eq', `--hl-lt', `--hl-gt'")
    }

    fn save(t: &Hl, s: &mut String) {
        t.save_as("hl", s);
    }

    fn list(t: &Hl, out: &mut String, _cx: &ListCx<'_>) {
        t.list_as("HL", out);
    }

    /// The hop limit column, in `-m ttl`'s shape (the kernel keeps the
    /// hop limit where it keeps IPv4's TTL).
    fn support(t: &Hl) -> Enforcement {
        <super::ttl::Ext as MatchExt>::support(t)
    }
}
