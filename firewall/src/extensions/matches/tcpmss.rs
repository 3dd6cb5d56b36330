//! `-m tcpmss` (libxt_tcpmss, `xt_tcpmss`): the MSS option of a TCP
//! header.

use super::prelude::*;
use crate::parse::matches::u16_range;

/// `-p tcp -m tcpmss [!] --mss MIN[:MAX]`: an inclusive range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tcpmss {
    /// Smallest MSS.
    pub min: u16,
    /// Largest MSS.
    pub max: u16,
}

/// The tcpmss module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("tcpmss", once Neg<Tcpmss>);
    const OPTIONS: &'static [OptSpec] = &[mand(opt("mss", 0, Required, true))];
    const PROTOCOL: Option<u8> = Some(6);

    fn option(p: &mut Option<Neg<Tcpmss>>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let (min, max) = u16_range(Self::NAME, o.name, &o.arg)?;
        if min > max {
            return Err(ParseError::ModuleProblem {
                message: "tcpmss: invalid range given".into(),
                token: o.arg.clone(),
            });
        }
        *p = o.neg(Tcpmss { min, max });
        Ok(())
    }

    fn save(m: &Neg<Tcpmss>, s: &mut String) {
        let _ = write!(s, "{} --mss {}", bang(m.invert), range(&m.value));
    }

    fn list(m: &Neg<Tcpmss>, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(
            out,
            " tcpmss match {}{}",
            if m.invert { "!" } else { "" },
            range(&m.value)
        );
    }

    /// Checked in the kernel ([`firewall_common::check::KIND_TCPMSS`])
    /// on the option walk `--tcp-option` uses.
    fn support(m: &Neg<Tcpmss>) -> Enforcement {
        Enforcement::RuleCheck(firewall_common::check::Check {
            kind: firewall_common::check::KIND_TCPMSS,
            a: u64::from(m.value.min) | u64::from(m.value.max) << 16,
            b: u64::from(m.invert),
            ..Default::default()
        })
    }
}

/// `MIN` or `MIN:MAX`.
fn range(m: &Tcpmss) -> String {
    if m.min == m.max {
        m.min.to_string()
    } else {
        format!("{}:{}", m.min, m.max)
    }
}

/// xt_tcpmss's answer for an option area (`None`: a bad one, the hot
/// drop): the first MSS option whose length byte is 4 and which fits,
/// within the range XOR `!`; none, `!`.
pub fn matches(m: &Neg<Tcpmss>, area: &[u8]) -> bool {
    match firewall_common::check::first_mss(area) {
        Some(v) => (m.value.min <= v && v <= m.value.max) != m.invert,
        None => m.invert,
    }
}
