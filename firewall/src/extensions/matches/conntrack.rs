//! `-m conntrack` (libxt_conntrack, `xt_conntrack`): only `--ctstate` so
//! far; the other options are known and refused as not supported yet.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Given, Line, needs, ListCx, MatchExt, abbreviates, bang};
use crate::{
    compile::classes::Constraint,
    extensions::{Columns, Enforcement},
    model::Neg,
    parse::{
        ParseError,
        lexer::HasArg::Required,
        matches::{OptSpec, later, opt},
    },
};

/// `-m conntrack`'s options (only `--ctstate` is parsed; `None` never
/// comes out of the parser).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conntrack {
    /// `[!] --ctstate`.
    pub state: Option<Neg<CtStates>>,
}

/// Connection tracking states (`--ctstate`, `--state`), with
/// `xt_conntrack.h`'s bit values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CtStates(pub u16);

impl CtStates {
    /// `INVALID`.
    pub const INVALID: u16 = 1 << 0;
    /// `ESTABLISHED`.
    pub const ESTABLISHED: u16 = 1 << 1;
    /// `RELATED`.
    pub const RELATED: u16 = 1 << 2;
    /// `NEW`.
    pub const NEW: u16 = 1 << 3;
    /// `SNAT` (conntrack only).
    pub const SNAT: u16 = 1 << 6;
    /// `DNAT` (conntrack only).
    pub const DNAT: u16 = 1 << 7;
    /// `UNTRACKED`.
    pub const UNTRACKED: u16 = 1 << 8;
    /// Names in the order libxt_conntrack prints them.
    pub const NAMES: [(&'static str, u16); 7] = [
        ("INVALID", Self::INVALID),
        ("NEW", Self::NEW),
        ("RELATED", Self::RELATED),
        ("ESTABLISHED", Self::ESTABLISHED),
        ("UNTRACKED", Self::UNTRACKED),
        ("SNAT", Self::SNAT),
        ("DNAT", Self::DNAT),
    ];
}

/// The conntrack module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    type Value = Conntrack;
    type Parser = Option<Neg<CtStates>>;
    const NAME: &'static str = "conntrack";
    const OPTIONS: &'static [OptSpec] = &[
        opt("ctstate", 0, Required, true),
        later("ctproto", 1, Required),
        later("ctorigsrc", 2, Required),
        later("ctorigdst", 3, Required),
        later("ctreplsrc", 4, Required),
        later("ctrepldst", 5, Required),
        later("ctstatus", 6, Required),
        later("ctexpire", 7, Required),
        later("ctorigsrcport", 8, Required),
        later("ctorigdstport", 9, Required),
        later("ctreplsrcport", 10, Required),
        later("ctrepldstport", 11, Required),
        later("ctdir", 12, Required),
    ];

    fn option(p: &mut Option<Neg<CtStates>>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        *p = Some(Neg {
            value: states(&o.arg, true)?,
            invert: o.invert,
        });
        Ok(())
    }

    fn fcheck(_: &Option<Neg<CtStates>>, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "conntrack: At least one option is required")
    }

    fn finish(p: &Option<Neg<CtStates>>) -> Result<Conntrack, ParseError> {
        Ok(Conntrack { state: p.clone() })
    }

    fn save(v: &Conntrack, s: &mut String) {
        if let Some(st) = &v.state {
            let _ = write!(s, "{} --ctstate {}", bang(st.invert), state_names(st.value));
        }
    }

    fn list(v: &Conntrack, out: &mut String, _cx: &ListCx<'_>) {
        if let Some(st) = &v.state {
            let _ = write!(out, "{} ctstate {}", bang(st.invert), state_names(st.value));
        }
    }

    /// A column of the classifier ([`firewall_common::Field::CtState`]):
    /// the state bits `--ctstate` names (xt_conntrack's
    /// `conntrack_mt_v3` with `XT_CONNTRACK_STATE`).
    fn support(v: &Conntrack) -> Enforcement {
        match &v.state {
            Some(st) => state_support(st),
            None => Enforcement::Refused("-m conntrack"),
        }
    }
}

/// The classifier column of `[!] --ctstate`/`[!] --state S`: the packet's
/// state is one bit, and the rule accepts the bits of `S` (or the others).
/// UNTRACKED, SNAT and DNAT are values no packet has: fw has no NOTRACK
/// and no NAT.
pub(crate) fn state_support(st: &Neg<CtStates>) -> Enforcement {
    let bits: Vec<u32> = CtStates::NAMES
        .iter()
        .map(|&(_, b)| b)
        .filter(|b| st.value.0 & b != 0)
        .map(u32::from)
        .collect();
    let ctstate = if st.invert {
        Constraint::Not(bits)
    } else {
        Constraint::Is(bits)
    };
    Enforcement::Classifier(Columns {
        ctstate: Some(ctstate),
        ..Columns::default()
    })
}

/// Connection states joined by commas in libxt_conntrack's order.
pub(crate) fn state_names(s: CtStates) -> String {
    CtStates::NAMES
        .iter()
        .filter(|(_, b)| s.0 & b != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// Conntrack's (`conntrack`) or the state match's states: comma-separated
/// abbreviations of the names, any case. The error holds the list from the
/// bad state on, as iptables prints it.
pub(crate) fn states(arg: &str, conntrack: bool) -> Result<CtStates, ParseError> {
    let names: &[(&str, u16)] = &[
        ("INVALID", CtStates::INVALID),
        ("NEW", CtStates::NEW),
        ("ESTABLISHED", CtStates::ESTABLISHED),
        ("RELATED", CtStates::RELATED),
        ("UNTRACKED", CtStates::UNTRACKED),
        ("SNAT", CtStates::SNAT),
        ("DNAT", CtStates::DNAT),
    ];
    let names = if conntrack { names } else { &names[..5] };
    let bad = |rest: &str| {
        if conntrack {
            ParseError::BadCtState(rest.to_string())
        } else {
            ParseError::BadState(rest.to_string())
        }
    };
    let one = |s: &str| {
        names
            .iter()
            .find(|(n, _)| abbreviates(s, n))
            .map(|(_, b)| *b)
    };
    let mut bits = 0;
    let mut rest = arg;
    while let Some((item, after)) = rest.split_once(',') {
        bits |= one(item)
            .filter(|_| !item.is_empty())
            .ok_or_else(|| bad(rest))?;
        rest = after;
    }
    if rest.is_empty() && !conntrack {
        return Err(ParseError::StateListEmpty);
    }
    bits |= one(rest)
        .filter(|_| !rest.is_empty())
        .ok_or_else(|| bad(rest))?;
    Ok(CtStates(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_lists() {
        assert_eq!(
            states("RELATED,ESTABLISHED", true),
            Ok(CtStates(CtStates::RELATED | CtStates::ESTABLISHED))
        );
        assert_eq!(
            states("e,i", true),
            Ok(CtStates(CtStates::ESTABLISHED | CtStates::INVALID))
        );
        assert_eq!(
            states("FOO,NEW", true),
            Err(ParseError::BadCtState("FOO,NEW".into()))
        );
        assert_eq!(states("NEW,", true), Err(ParseError::BadCtState("".into())));
        assert_eq!(states("NEW,", false), Err(ParseError::StateListEmpty));
        assert_eq!(
            states("SNAT", false),
            Err(ParseError::BadState("SNAT".into()))
        );
        assert_eq!(
            states("NEWS", true),
            Err(ParseError::BadCtState("NEWS".into()))
        );
    }
}
