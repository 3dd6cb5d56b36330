//! The checks iptables and the kernel make on a ruleset beyond the grammar:
//! that jumps name existing user-defined chains, that no chain reachable
//! from a built-in chain reaches itself, and that matches restricted to
//! some hooks (`-m mac`, `--limit-iface-in/out`) are only reachable from
//! those (the kernel's `translate_table` / `xt_check_match`).
//!
//! Messages are iptables 1.8.9's; where iptables only says "Invalid
//! argument. Run `dmesg' for more information.", fw says what the kernel
//! logs, which tells why.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{BuiltinChain, Rule, Ruleset, Target};

/// A ruleset or rule iptables (libiptc or the kernel) would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// `-j NAME` where NAME is neither a target nor a chain (iptables finds
    /// this while parsing: exit status 2).
    #[error("Couldn't load target `{0}':No such file or directory")]
    UnknownTarget(String),
    /// `-g NAME` where NAME is not a user-defined chain (exit status 2).
    #[error("goto '{0}' is not a chain")]
    GotoNotChain(String),
    /// `-j INPUT`: a built-in chain cannot be jumped to (libiptc: EINVAL).
    #[error("Invalid argument: `{0}' is a built-in chain, which cannot be jumped to")]
    JumpToBuiltin(String),
    /// A chain reachable from a built-in chain reaches itself (the kernel's
    /// ELOOP). Holds the chain.
    #[error("Too many levels of symbolic links.")]
    Loop(String),
    /// A match used from a hook it is not valid in (the kernel's EINVAL);
    /// holds the kernel's log line.
    #[error("{0}")]
    WrongHook(String),
}

impl CheckError {
    /// iptables' exit status: 2 for what iptables finds while parsing, 1
    /// for what libiptc or the kernel refuses.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::UnknownTarget(_) | Self::GotoNotChain(_) => 2,
            _ => 1,
        }
    }

    /// The offending token (chain or target name), if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::UnknownTarget(t)
            | Self::GotoNotChain(t)
            | Self::JumpToBuiltin(t)
            | Self::Loop(t) => Some(t),
            Self::WrongHook(_) => None,
        }
    }
}

/// Checks that `rule`'s jump or goto names a chain of `ruleset` that may
/// be entered (what iptables checks while parsing `-j`/`-g`, and libiptc
/// when it maps the target).
///
/// # Errors
/// [`CheckError::UnknownTarget`], [`CheckError::GotoNotChain`],
/// [`CheckError::JumpToBuiltin`].
pub fn rule_target(ruleset: &Ruleset, rule: &Rule) -> Result<(), CheckError> {
    match &rule.target {
        Target::Jump(c) if BuiltinChain::from_name(c).is_some() => {
            Err(CheckError::JumpToBuiltin(c.clone()))
        }
        Target::Jump(c) if !ruleset.user_chains.contains_key(c) => {
            Err(CheckError::UnknownTarget(c.clone()))
        }
        Target::Goto(c) if BuiltinChain::from_name(c).is_some() => {
            Err(CheckError::JumpToBuiltin(c.clone()))
        }
        Target::Goto(c) if !ruleset.user_chains.contains_key(c) => {
            Err(CheckError::GotoNotChain(c.clone()))
        }
        _ => Ok(()),
    }
}

/// For every chain reachable from a built-in chain, the built-in chains it
/// is reachable from.
///
/// # Errors
/// [`CheckError::Loop`] when a reachable chain reaches itself.
pub fn hooks(ruleset: &Ruleset) -> Result<BTreeMap<String, BTreeSet<BuiltinChain>>, CheckError> {
    let mut reach: BTreeMap<String, BTreeSet<BuiltinChain>> = BTreeMap::new();
    for hook in BuiltinChain::ALL {
        // Depth-first walk with the current path, as the kernel's
        // mark_source_chains does (minus its shortcut after unconditional
        // verdicts: fw refuses every reachable loop).
        let mut path: Vec<String> = vec![hook.name().to_string()];
        let mut seen: BTreeSet<String> = BTreeSet::new();
        walk(ruleset, hook, &mut path, &mut seen, &mut reach)?;
    }
    Ok(reach)
}

fn walk(
    ruleset: &Ruleset,
    hook: BuiltinChain,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
    reach: &mut BTreeMap<String, BTreeSet<BuiltinChain>>,
) -> Result<(), CheckError> {
    let here = path.last().cloned().unwrap_or_default();
    reach.entry(here.clone()).or_default().insert(hook);
    if !seen.insert(here.clone()) {
        return Ok(());
    }
    for rule in ruleset.rules(&here).into_iter().flatten() {
        let Some(next) = rule.target.chain() else {
            continue;
        };
        if path.iter().any(|c| c == next) {
            return Err(CheckError::Loop(next.to_string()));
        }
        if ruleset.user_chains.contains_key(next) {
            path.push(next.to_string());
            walk(ruleset, hook, path, seen, reach)?;
            path.pop();
        }
    }
    Ok(())
}

/// The kernel's hook names, `/`-separated (its `textify_hooks`).
pub(crate) fn hook_names(hooks: &BTreeSet<BuiltinChain>) -> String {
    hooks.iter().map(|h| h.name()).collect::<Vec<_>>().join("/")
}

/// Checks a whole ruleset as the kernel checks a table when it is loaded:
/// no loop is reachable, and hook-restricted matches are used only where
/// they are valid (`-m mac`: INPUT, FORWARD; `--limit-iface-in`: not
/// OUTPUT; `--limit-iface-out`: not INPUT).
///
/// # Errors
/// [`CheckError::Loop`], [`CheckError::WrongHook`], and
/// [`rule_target`]'s errors for a jump to a chain that does not exist.
pub fn ruleset(ruleset: &Ruleset) -> Result<(), CheckError> {
    for (_, rules) in ruleset.all_rules() {
        for rule in rules {
            rule_target(ruleset, rule)?;
        }
    }
    let reach = hooks(ruleset)?;
    for (chain, rules) in ruleset.all_rules() {
        let Some(from) = reach.get(chain) else {
            continue;
        };
        for rule in rules {
            for m in &rule.matches {
                m.hooks(from).map_err(CheckError::WrongHook)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Match, Neg};

    fn jump(c: &str) -> Rule {
        Rule {
            target: Target::Jump(c.into()),
            ..Rule::default()
        }
    }

    #[test]
    fn targets_must_exist() {
        let mut rs = Ruleset::default();
        rs.user_chains.insert("a".into(), vec![]);
        assert_eq!(rule_target(&rs, &jump("a")), Ok(()));
        assert_eq!(
            rule_target(&rs, &jump("b")),
            Err(CheckError::UnknownTarget("b".into()))
        );
        let goto = Rule {
            target: Target::Goto("b".into()),
            ..Rule::default()
        };
        assert_eq!(
            rule_target(&rs, &goto).unwrap_err().to_string(),
            "goto 'b' is not a chain"
        );
        assert_eq!(rule_target(&rs, &jump("INPUT")).unwrap_err().exit_code(), 1);
    }

    #[test]
    fn reachable_loops_are_refused() {
        let mut rs = Ruleset::default();
        rs.user_chains.insert("a".into(), vec![jump("b")]);
        rs.user_chains.insert("b".into(), vec![jump("a")]);
        // Not reachable from a built-in chain: the kernel accepts it.
        assert_eq!(ruleset(&rs), Ok(()));
        rs.output.rules.push(jump("a"));
        assert_eq!(ruleset(&rs), Err(CheckError::Loop("a".into())));
        // A chain reached twice without a loop is fine.
        let mut rs = Ruleset::default();
        rs.user_chains
            .insert("a".into(), vec![jump("b"), jump("b")]);
        rs.user_chains.insert("b".into(), vec![]);
        rs.input.rules.push(jump("a"));
        rs.input.rules.push(jump("b"));
        assert_eq!(ruleset(&rs), Ok(()));
    }

    #[test]
    fn mac_only_where_the_kernel_allows_it() {
        let mac = Rule {
            matches: vec![Match::Mac(Neg {
                value: [2, 0, 0, 0, 0, 1],
                invert: false,
            })],
            ..Rule::default()
        };
        let mut rs = Ruleset::default();
        rs.user_chains.insert("m".into(), vec![mac.clone()]);
        rs.input.rules.push(jump("m"));
        assert_eq!(ruleset(&rs), Ok(()));
        rs.output.rules.push(jump("m"));
        assert_eq!(
            ruleset(&rs).unwrap_err().to_string(),
            "mac match: used from hooks INPUT/OUTPUT, but only valid from PREROUTING/INPUT/FORWARD"
        );
    }
}
