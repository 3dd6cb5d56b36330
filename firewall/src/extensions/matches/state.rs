//! `-m state` (libxt_state, conntrack's older face): `--state`.

use std::fmt::Write as _;

use super::{
    Given, ListCx, MatchExt, bang,
    conntrack::{CtStates, state_names, states},
    missing,
};
use crate::{
    extensions::Enforcement,
    model::Neg,
    parse::{
        ParseError,
        lexer::{HasArg::Required, Scanner},
        matches::{Ctx, OptSpec, mand, opt},
    },
};

/// The states given, if any.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parser(Option<Neg<CtStates>>);

/// The state module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    type Value = Neg<CtStates>;
    type Parser = Parser;
    const NAME: &'static str = "state";
    const OPTIONS: &'static [OptSpec] = &[mand(opt("state", 0, Required, true))];

    fn option(
        p: &mut Parser,
        o: Given<'_>,
        _ctx: &Ctx<'_>,
        _sc: &mut Scanner<'_>,
    ) -> Result<(), ParseError> {
        p.0 = Some(Neg {
            value: states(&o.arg, false)?,
            invert: o.invert,
        });
        Ok(())
    }

    fn finish(p: &Parser) -> Result<Neg<CtStates>, ParseError> {
        p.0.clone().ok_or_else(|| missing(Self::NAME))
    }

    fn save(st: &Neg<CtStates>, s: &mut String) {
        let _ = write!(s, "{} --state {}", bang(st.invert), state_names(st.value));
    }

    fn list(st: &Neg<CtStates>, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(out, "{} state {}", bang(st.invert), state_names(st.value));
    }

    fn support(_: &Neg<CtStates>) -> Enforcement {
        Enforcement::Refused("-m state")
    }
}
