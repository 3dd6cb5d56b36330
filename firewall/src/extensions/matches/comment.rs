//! `-m comment` (libxt_comment): a note that matches every packet.

use std::fmt::Write as _;

use super::{Given, Line, ListCx, MatchExt, required};
use crate::{
    extensions::Enforcement,
    parse::{
        ParseError,
        lexer::HasArg::Required,
        matches::{OptSpec, mand, opt, truncate},
    },
    render::save_string,
};

/// The comment module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    type Value = String;
    type Parser = Option<String>;
    const NAME: &'static str = "comment";
    const OPTIONS: &'static [OptSpec] = &[mand(opt("comment", 0, Required, false))];

    fn option(p: &mut Option<String>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        *p = Some(truncate(&o.arg, 255));
        Ok(())
    }

    fn finish(p: &Option<String>) -> Result<String, ParseError> {
        required(p, Self::NAME)
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
