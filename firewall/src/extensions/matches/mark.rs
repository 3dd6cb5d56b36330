//! `-m mark` (libxt_mark revision 1, `xt_mark`): the packet's mark.

use super::prelude::*;
use crate::parse::values;

/// `-m mark [!] --mark VALUE[/MASK]`: matches when `skb->mark & mask ==
/// value`, XOR `!` (the value is kept as given, not masked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mark {
    /// The value compared.
    pub value: u32,
    /// The mask (`0xffffffff` when none is written).
    pub mask: u32,
    /// `!`.
    pub invert: bool,
}

/// The mark module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("mark", once Mark);
    const OPTIONS: &'static [OptSpec] = &[mand(opt("mark", 0, Required, true))];

    fn option(p: &mut Option<Mark>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let (value, mask) = mark_mask(&o.arg)?;
        *p = Some(Mark {
            value,
            mask,
            invert: o.invert,
        });
        Ok(())
    }

    fn save(m: &Mark, s: &mut String) {
        let _ = write!(s, "{} --mark{}", bang(m.invert), mark_text(m));
    }

    fn list(m: &Mark, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(out, " mark match{}{}", bang(m.invert), mark_text(m));
    }

    /// Checked in the kernel ([`firewall_common::check::KIND_MARK`]): at
    /// XDP (INPUT, FORWARD) no mark is set yet, so the mark is 0; at TC
    /// egress (OUTPUT) it is `skb->mark`. fw refuses the match where the
    /// host could set marks before netfilter's filter table
    /// (`load::host`, docs/semantics.md).
    fn support(m: &Mark) -> Enforcement {
        Enforcement::RuleCheck(firewall_common::check::Check {
            kind: firewall_common::check::KIND_MARK,
            arg: m.mask,
            a: u64::from(m.value),
            b: u64::from(m.invert),
            state: 0,
        })
    }
}

/// libxt_mark's `print_mark`: ` 0xV/0xM`, the mask left out when it is
/// `0xffffffff`.
fn mark_text(m: &Mark) -> String {
    if m.mask == u32::MAX {
        format!(" {:#x}", m.value)
    } else {
        format!(" {:#x}/{:#x}", m.value, m.mask)
    }
}

/// libxtables' `XTTYPE_MARKMASK32`: `VALUE[/MASK]`, each read as C's
/// `strtoul(s, &end, 0)` (decimal, `0x` hex, `0` octal) up to 2^32 - 1,
/// no leading `-`; the mask is `0xffffffff` when absent.
fn mark_mask(arg: &str) -> Result<(u32, u32), ParseError> {
    let number = |s| {
        values::xt_strtoul(s, 0, u64::from(u32::MAX))
            .map(|(v, rest)| (v as u32, rest))
            .ok_or_else(|| ParseError::BadMark {
                value: arg.to_string(),
            })
    };
    let (value, mut rest) = number(arg)?;
    let mut mask = u32::MAX;
    if let Some(m) = rest.strip_prefix('/') {
        (mask, rest) = number(m)?;
    }
    if !rest.is_empty() {
        return Err(ParseError::MarkTrailingGarbage(arg.to_string()));
    }
    Ok((value, mask))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_like_libxtables() {
        assert_eq!(mark_mask("0x8000/0x8000"), Ok((0x8000, 0x8000)));
        assert_eq!(mark_mask("10"), Ok((10, u32::MAX)));
        assert_eq!(mark_mask("010/0xff"), Ok((8, 0xff)));
        assert_eq!(mark_mask("4294967295"), Ok((u32::MAX, u32::MAX)));
        for bad in ["4294967296", "-1", "x", "1/", "1/-2"] {
            assert_eq!(
                mark_mask(bad),
                Err(ParseError::BadMark { value: bad.into() }),
                "{bad}"
            );
        }
        assert_eq!(mark_mask("1/2x"), Err(ParseError::MarkTrailingGarbage("1/2x".into())));
        assert_eq!(mark_mask("1 "), Err(ParseError::MarkTrailingGarbage("1 ".into())));
    }
}
