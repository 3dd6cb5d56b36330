//! `-m state` (libxt_state, conntrack's older face): `--state`.

use std::fmt::Write as _;

use super::{
    Given, Line, ListCx, MatchExt, bang,
    conntrack::{CtStates, state_names, state_support, states},
    required,
};
use crate::{
    extensions::Enforcement,
    model::Neg,
    parse::{
        ParseError,
        lexer::HasArg::Required,
        matches::{OptSpec, mand, opt},
    },
};

/// The state module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    type Value = Neg<CtStates>;
    type Parser = Option<Neg<CtStates>>;
    const NAME: &'static str = "state";
    const OPTIONS: &'static [OptSpec] = &[mand(opt("state", 0, Required, true))];

    fn option(p: &mut Option<Neg<CtStates>>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        *p = Some(Neg {
            value: states(&o.arg, false)?,
            invert: o.invert,
        });
        Ok(())
    }

    fn finish(p: &Option<Neg<CtStates>>) -> Result<Neg<CtStates>, ParseError> {
        required(p, Self::NAME)
    }

    fn save(st: &Neg<CtStates>, s: &mut String) {
        let _ = write!(s, "{} --state {}", bang(st.invert), state_names(st.value));
    }

    fn list(st: &Neg<CtStates>, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(out, "{} state {}", bang(st.invert), state_names(st.value));
    }

    /// The connection state column, as `-m conntrack --ctstate`.
    fn support(st: &Neg<CtStates>) -> Enforcement {
        state_support(st)
    }
}
