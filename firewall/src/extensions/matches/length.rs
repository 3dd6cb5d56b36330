//! `-m length` (libxt_length, `xt_length`): the IP packet's length.

use super::{excl, prelude::*};
use crate::{compile::classes::Constraint, extensions::Columns, parse::matches::u16_range};

/// An inclusive range of IP packet lengths (`-m length`), in bytes; `min`
/// may exceed `max` (matches nothing, as in iptables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LengthRange {
    /// Shortest length.
    pub min: u16,
    /// Longest length.
    pub max: u16,
}

/// The length module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("length", once Neg<LengthRange>);
    const OPTIONS: &'static [OptSpec] = &[mand(opt("length", 0, Required, true))];

    fn option(p: &mut Option<Neg<LengthRange>>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let (min, max) = u16_range(Self::NAME, o.name, &o.arg)?;
        *p = o.neg(LengthRange { min, max });
        Ok(())
    }

    fn save(l: &Neg<LengthRange>, s: &mut String) {
        let _ = write!(s, "{} --length {}", bang(l.invert), l.value.min);
        if l.value.min != l.value.max {
            let _ = write!(s, ":{}", l.value.max);
        }
    }

    fn list(l: &Neg<LengthRange>, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(out, " length {}{}", excl(l.invert), l.value.min);
        if l.value.min != l.value.max {
            let _ = write!(out, ":{}", l.value.max);
        }
    }

    /// xt_length: `min <= len <= max` XOR `!`, on the IPv4 total length;
    /// `min > max` names no length.
    fn support(l: &Neg<LengthRange>) -> Enforcement {
        let LengthRange { min, max } = l.value;
        let length = match (min <= max, l.invert) {
            (true, false) => Constraint::Is(vec![(min, max)]),
            (true, true) => Constraint::Not(vec![(min, max)]),
            // Nothing; everything.
            (false, false) => Constraint::Not(vec![(0, u16::MAX)]),
            (false, true) => Constraint::Is(vec![(0, u16::MAX)]),
        };
        Enforcement::Classifier(Columns {
            length: Some(length),
            ..Columns::default()
        })
    }
}
