//! `-m set` (libxt_set revision 4, `xt_set`): membership in an ipset.

use super::prelude::*;
use crate::{parse::matches::later, render::word};

/// One dimension of `-m set --match-set NAME FLAGS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SetDir {
    /// `src`.
    Src,
    /// `dst`.
    Dst,
}

/// `-m set [!] --match-set NAME src|dst[,...]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SetMatch {
    /// The ipset's name (at most 31 bytes).
    pub name: String,
    /// 1 to 6 dimensions.
    pub dirs: Vec<SetDir>,
    /// `!`.
    pub invert: bool,
}

/// The set module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("set", once SetMatch);
    const OPTIONS: &'static [OptSpec] = &[
        opt("match-set", 0, Required, true),
        opt("set", 0, Required, true),
        later("return-nomatch", 1, No),
        later("update-counters", 2, No),
        later("packets-eq", 3, Required),
        later("packets-lt", 4, Required),
        later("packets-gt", 5, Required),
        later("bytes-eq", 6, Required),
        later("bytes-lt", 7, Required),
        later("bytes-gt", 8, Required),
        later("update-subcounters", 9, No),
    ];
    const XTOPTIONS: bool = false;

    /// libxt_set's `--match-set NAME FLAGS`.
    fn option(p: &mut Option<SetMatch>, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        if p.is_some() {
            return Err(ParseError::SetTwice);
        }
        let dirs = line.sc.next_plain().ok_or(ParseError::SetNeedsTwoArgs)?;
        if o.arg.len() > 31 {
            return Err(ParseError::SetNameTooLong(o.arg));
        }
        *p = Some(SetMatch {
            name: o.arg,
            dirs: set_dirs(dirs)?,
            invert: o.invert,
        });
        Ok(())
    }

    fn fcheck(p: &Option<SetMatch>, _given: u32) -> Result<(), ParseError> {
        needs(p.is_none(), Self::NAME, "You must specify `--match-set' with proper arguments")
    }

    fn save(m: &SetMatch, s: &mut String) {
        let _ = write!(
            s,
            "{} --match-set {} {}",
            bang(m.invert),
            word(&m.name),
            dir_names(&m.dirs)
        );
    }

    fn list(m: &SetMatch, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(
            out,
            "{} match-set {} {}",
            bang(m.invert),
            m.name,
            dir_names(&m.dirs)
        );
    }

    /// Checked in the kernel ([`firewall_common::check::KIND_SET`])
    /// against `fw set`'s set of that name, which must exist when the
    /// rule is loaded.
    fn support(m: &SetMatch) -> Enforcement {
        use firewall_common::check::set;
        let dst = m
            .dirs
            .iter()
            .enumerate()
            .filter(|(_, d)| **d == SetDir::Dst)
            .fold(0, |bits, (i, _)| bits | 1 << i);
        Enforcement::RuleCheck(firewall_common::check::Check {
            kind: firewall_common::check::KIND_SET,
            arg: set::id(m.name.as_bytes()),
            a: set::pack_a(m.dirs.len() as u32, dst),
            b: u64::from(m.invert),
            state: 0,
        })
    }
}

/// `src,dst,...`.
fn dir_names(dirs: &[SetDir]) -> String {
    dirs.iter()
        .map(|d| match d {
            SetDir::Src => "src",
            SetDir::Dst => "dst",
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// libxt_set's `parse_dirs`: up to 6 comma-separated flags, each starting
/// with `src` or `dst` (what follows is ignored, as in iptables).
fn set_dirs(arg: &str) -> Result<Vec<SetDir>, ParseError> {
    let items: Vec<&str> = arg.split(',').collect();
    let mut dirs = Vec::new();
    for item in items.iter().take(6) {
        dirs.push(if item.starts_with("src") {
            SetDir::Src
        } else if item.starts_with("dst") {
            SetDir::Dst
        } else {
            return Err(ParseError::BadSetFlags(arg.to_string()));
        });
    }
    if items.len() > 6 {
        return Err(ParseError::TooManySetFlags(arg.to_string()));
    }
    Ok(dirs)
}

