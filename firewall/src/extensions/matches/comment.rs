//! `-m comment` (libxt_comment): a note that matches every packet.

use std::fmt::Write as _;

use super::{Given, ListCx, MatchExt, missing};
use crate::{
    extensions::Enforcement,
    parse::{
        ParseError,
        lexer::{HasArg::Required, Scanner},
        matches::{Ctx, OptSpec, mand, opt, truncate},
    },
    render::save_string,
};

/// The comment given, if any.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parser(Option<String>);

/// The comment module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    type Value = String;
    type Parser = Parser;
    const NAME: &'static str = "comment";
    const OPTIONS: &'static [OptSpec] = &[mand(opt("comment", 0, Required, false))];

    fn option(
        p: &mut Parser,
        o: Given<'_>,
        _ctx: &Ctx<'_>,
        _sc: &mut Scanner<'_>,
    ) -> Result<(), ParseError> {
        p.0 = Some(truncate(&o.arg, 255));
        Ok(())
    }

    fn finish(p: &Parser) -> Result<String, ParseError> {
        p.0.clone().ok_or_else(|| missing(Self::NAME))
    }

    fn save(c: &String, s: &mut String) {
        s.push_str(" --comment");
        save_string(s, c);
    }

    fn list(c: &String, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(out, " /* {c} */");
    }

    fn support(_: &String) -> Enforcement {
        Enforcement::Always
    }
}
