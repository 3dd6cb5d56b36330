//! `-m mac` (libxt_mac, `xt_mac`): the Ethernet source address.

use std::collections::BTreeSet;

use super::prelude::*;
use crate::{
    model::{BuiltinChain, check::hook_names},
    parse::values,
};

/// The mac module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("mac", once Neg<[u8; 6]>);
    const OPTIONS: &'static [OptSpec] = &[mand(opt("mac-source", 0, Required, true))];

    fn option(p: &mut Option<Neg<[u8; 6]>>, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        *p = o.neg(mac(&o.arg)?);
        Ok(())
    }

    fn hooks(_: &Neg<[u8; 6]>, from: &BTreeSet<BuiltinChain>) -> Result<(), String> {
        if from.contains(&BuiltinChain::Output) {
            return Err(format!(
                "mac match: used from hooks {}, but only valid from PREROUTING/INPUT/FORWARD",
                hook_names(from)
            ));
        }
        Ok(())
    }

    fn save(m: &Neg<[u8; 6]>, s: &mut String) {
        let _ = write!(s, "{} --mac-source {}", bang(m.invert), mac_text(&m.value));
    }

    fn list(m: &Neg<[u8; 6]>, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(out, " MAC{} {}", bang(m.invert), mac_text(&m.value));
    }

    /// Checked in the kernel ([`firewall_common::check::KIND_MAC`]): the
    /// frame's source address, no match either way without an Ethernet
    /// header (`lo`), as xt_mac.
    fn support(m: &Neg<[u8; 6]>) -> Enforcement {
        Enforcement::RuleCheck(firewall_common::check::Check {
            kind: firewall_common::check::KIND_MAC,
            a: firewall_common::check::mac_word(m.value),
            b: u64::from(m.invert),
            ..Default::default()
        })
    }
}

/// `xx:xx:xx:xx:xx:xx`, lower-case hex.
fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// libxtables' `XTTYPE_ETHERMAC`: six parts separated by `:`, each at most
/// two characters that `strtoul(part, 16)` reads (so `1:2:3:4:5:6` works).
fn mac(arg: &str) -> Result<[u8; 6], ParseError> {
    let bad = || ParseError::BadMac(arg.to_string());
    let mut out = [0u8; 6];
    let mut rest = arg;
    for (i, byte) in out.iter_mut().enumerate() {
        let (v, end) = match values::strtoumax(rest, 16) {
            Some((v, end, _)) => (v, end),
            None => (0, 0),
        };
        if end > 2 {
            return Err(bad());
        }
        *byte = v as u8;
        let after = &rest[end..];
        if i < 5 {
            rest = after.strip_prefix(':').ok_or_else(bad)?;
        } else if !after.is_empty() {
            return Err(bad());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_like_libxtables() {
        assert_eq!(mac("02:00:00:91:04:aB"), Ok([2, 0, 0, 0x91, 4, 0xab]));
        assert_eq!(mac("2:0:0:91:4:8"), Ok([2, 0, 0, 0x91, 4, 8]));
        assert_eq!(mac(":::::"), Ok([0; 6]));
        assert_eq!(mac(" 1:0:0:0:0:0"), Ok([1, 0, 0, 0, 0, 0]));
        for bad in [
            "02:00:00:91:04",
            "1:2:3:4:5:6:7",
            "123:2:3:4:5:6",
            "0x1:0:0:0:0:0",
        ] {
            assert_eq!(mac(bad), Err(ParseError::BadMac(bad.into())), "{bad}");
        }
    }
}
