//! `-m comment` (libxt_comment): a note that matches every packet.

use super::prelude::*;
use crate::{parse::matches::truncate, render::save_string};

/// The comment module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("comment", once String);
    const OPTIONS: &'static [OptSpec] = &[mand(opt("comment", 0, Required, false))];

    fn option(p: &mut Option<String>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        *p = Some(truncate(&o.arg, 255));
        Ok(())
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
