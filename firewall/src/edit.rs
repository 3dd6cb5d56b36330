//! Commands applied to the persisted state, without the kernel: what
//! libiptc does to a table in iptables (iptables(8) "COMMANDS"), with its
//! checks and messages. exec runs these on a copy of the state and then
//! loads the result; restores and the offline tests run them alone.
//!
//! Each rule of a built-in chain owns a counter slot ([`State::counters`]);
//! rules of user-defined chains own none yet (nothing can jump to them
//! today, see [`crate::model::support`]), and count nothing.

use std::collections::BTreeSet;

use crate::{
    command::{Command, RuleRef},
    model::{BuiltinChain, Policy, Rule, check, support},
    state::State,
};

/// A command iptables (libiptc) would refuse, with its message
/// ([`EditError::exit_code`] gives iptables' exit status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The chain does not exist (ENOENT).
    #[error("No chain/target/match by that name.")]
    NoChain(String),
    /// `-P` on a chain that is not built in.
    #[error("Bad built-in chain name.")]
    BadBuiltinChain(String),
    /// `-D`/`-C` with a rule specification no rule of the chain equals.
    #[error("Bad rule (does a matching rule exist in that chain?).")]
    BadRule,
    /// `-D CHAIN n` past the last rule.
    #[error("Index of deletion too big.")]
    DeletionIndex,
    /// `-I CHAIN n` past the last rule + 1.
    #[error("Index of insertion too big.")]
    InsertionIndex,
    /// `-R CHAIN n` past the last rule.
    #[error("Index of replacement too big.")]
    ReplacementIndex,
    /// `-Z CHAIN n` past the last rule.
    #[error("Index of counter too big.")]
    CounterIndex,
    /// `-N` with a name that is taken.
    #[error("Chain already exists.")]
    ChainExists(String),
    /// `-E` to a name that is taken (EEXIST).
    #[error("File exists.")]
    NameTaken(String),
    /// `-X` of a chain that rules jump to (EMLINK).
    #[error("Too many links.")]
    ChainReferenced(String),
    /// `-X` of a chain that has rules (ENOTEMPTY).
    #[error("Directory not empty.")]
    ChainNotEmpty(String),
    /// `-X INPUT` (libiptc: EINVAL).
    #[error("Invalid argument: built-in chain `{0}' cannot be deleted")]
    DeleteBuiltin(String),
    /// What iptables or the kernel refuse in the ruleset as a whole.
    #[error(transparent)]
    Check(#[from] check::CheckError),
    /// A rule the kernel side cannot enforce yet
    /// ([`support::enforceable`]).
    #[error("not supported yet: {0}")]
    NotSupported(String),
    /// Every counter slot is taken.
    #[error("too many rules: at most {0} rules in all chains")]
    NoCounterSlot(u32),
}

impl EditError {
    /// iptables' exit status: 1 for what libiptc or the kernel refuses, 2
    /// for what iptables finds while parsing and for fw's "not supported
    /// yet", 4 for running out of counter slots.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Check(c) => c.exit_code(),
            Self::NotSupported(_) => 2,
            Self::NoCounterSlot(_) => 4,
            _ => 1,
        }
    }

    /// The whole stderr text iptables-legacy 1.8.9 prints for the same
    /// refusal (`program` for "iptables", `version` for "v1.8.9 (legacy)"),
    /// for byte-for-byte comparisons: `iptables: MESSAGE` for what libiptc
    /// or the kernel refuses (iptables' vague "Invalid argument" where fw
    /// says more), the parser's format for a jump to a missing chain.
    /// `None` for fw's own refusals, which iptables does not have.
    pub fn iptables_stderr(&self, program: &str, version: &str) -> Option<String> {
        let try_help = format!("Try `{program} -h' or '{program} --help' for more information.\n");
        Some(match self {
            Self::NotSupported(_) | Self::NoCounterSlot(_) => return None,
            Self::DeleteBuiltin(_)
            | Self::Check(check::CheckError::JumpToBuiltin(_))
            | Self::Check(check::CheckError::WrongHook(_)) => {
                format!("{program}: Invalid argument. Run `dmesg' for more information.\n")
            }
            Self::Check(e @ check::CheckError::UnknownTarget(_)) => {
                format!("{program} {version}: {e}\n\n{try_help}")
            }
            Self::Check(e @ check::CheckError::GotoNotChain(_)) => {
                format!("{program} {version}: {e}\n{try_help}")
            }
            e => format!("{program}: {e}\n"),
        })
    }

    /// The chain or name the error is about, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::NoChain(t)
            | Self::BadBuiltinChain(t)
            | Self::ChainExists(t)
            | Self::NameTaken(t)
            | Self::ChainReferenced(t)
            | Self::ChainNotEmpty(t)
            | Self::DeleteBuiltin(t) => Some(t),
            Self::Check(c) => c.token(),
            _ => None,
        }
    }
}

/// Hands out counter slots no rule of a state uses.
pub struct Slots {
    used: BTreeSet<u32>,
    next: u32,
    /// Slots handed out: their counters must start from zero.
    pub fresh: Vec<u32>,
}

impl Slots {
    /// The allocator for `state`'s slots.
    pub fn new(state: &State) -> Self {
        Self {
            used: state.all_slots().collect(),
            next: 0,
            fresh: Vec::new(),
        }
    }

    /// A free slot.
    ///
    /// # Errors
    /// [`EditError::NoCounterSlot`] when all are taken.
    pub fn take(&mut self) -> Result<u32, EditError> {
        let max = firewall_common::MAX_RULE_COUNTERS;
        while self.next < max && self.used.contains(&self.next) {
            self.next += 1;
        }
        if self.next >= max {
            return Err(EditError::NoCounterSlot(max));
        }
        let s = self.next;
        self.used.insert(s);
        self.fresh.push(s);
        Ok(s)
    }
}

/// The rules of `chain`, or [`EditError::NoChain`].
///
/// # Errors
/// [`EditError::NoChain`].
pub fn rules_of<'a>(state: &'a State, chain: &str) -> Result<&'a Vec<Rule>, EditError> {
    state
        .ruleset
        .rules(chain)
        .ok_or_else(|| EditError::NoChain(chain.to_string()))
}

/// Inserts `rule` at `at` in `chain` (which exists), with a counter slot.
fn insert(
    state: &mut State,
    slots: &mut Slots,
    chain: &str,
    at: usize,
    rule: Rule,
) -> Result<(), EditError> {
    let slot = slots.take()?;
    state.chain_slots_mut(chain).insert(at, slot);
    if let Some(rules) = state.ruleset.rules_mut(chain) {
        rules.insert(at, rule);
    }
    Ok(())
}

/// Removes rule `at` of `chain` (which exists) and its slot.
fn remove(state: &mut State, chain: &str, at: usize) {
    let slots = state.chain_slots_mut(chain);
    if at < slots.len() {
        slots.remove(at);
    }
    if let Some(rules) = state.ruleset.rules_mut(chain) {
        rules.remove(at);
    }
}

/// Empties `chain` (which exists).
fn flush(state: &mut State, chain: &str) {
    state.chain_slots_mut(chain).clear();
    if let Some(rules) = state.ruleset.rules_mut(chain) {
        rules.clear();
    }
}

/// Gives every rule of `state` a counter slot: records written before
/// user-defined chains had counters lack theirs.
pub fn fill_slots(state: &mut State, slots: &mut Slots) -> Result<(), EditError> {
    let chains: Vec<(String, usize)> = state
        .ruleset
        .all_rules()
        .map(|(c, r)| (c.to_string(), r.len()))
        .collect();
    for (chain, n) in chains {
        while state.chain_slots(&chain).len() < n {
            let slot = slots.take()?;
            state.chain_slots_mut(&chain).push(slot);
        }
    }
    Ok(())
}

/// The position of a rule equal to `rule` in `rules`.
fn find(rules: &[Rule], rule: &Rule) -> Option<usize> {
    rules.iter().position(|r| r == rule)
}

/// Checks `-C CHAIN rule...`: every rule exists in the chain.
///
/// # Errors
/// [`EditError::Check`] for a jump to a chain that does not exist (as
/// iptables' parser), [`EditError::NoChain`], [`EditError::BadRule`].
pub fn check_rules(state: &State, chain: &str, rules: &[Rule]) -> Result<(), EditError> {
    for r in rules {
        check::rule_target(&state.ruleset, r)?;
    }
    let have = rules_of(state, chain)?;
    if rules.iter().all(|r| find(have, r).is_some()) {
        Ok(())
    } else {
        Err(EditError::BadRule)
    }
}

/// Applies a command that changes the table to `state`, as libiptc does:
/// `-A -I -R -D -F -P -N -X -E`. Other commands change nothing. New rules
/// get counter slots from `slots`.
///
/// Only what iptables checks is checked here, rule by rule; the checks of
/// the whole table (loops, hooks: [`check::ruleset`]) and fw's own
/// ([`enforceable`]) belong to whoever commits the result.
///
/// # Errors
/// Any [`EditError`]; `state` may then be half changed (callers work on a
/// copy).
pub fn apply(state: &mut State, slots: &mut Slots, command: &Command) -> Result<(), EditError> {
    match command {
        Command::Append { chain, rules } => {
            for r in rules {
                check::rule_target(&state.ruleset, r)?;
            }
            rules_of(state, chain)?;
            for r in rules {
                let at = state.ruleset.rules(chain).map_or(0, Vec::len);
                insert(state, slots, chain, at, r.clone())?;
            }
        }
        Command::Insert {
            chain,
            index,
            rules,
        } => {
            for r in rules {
                check::rule_target(&state.ruleset, r)?;
            }
            let at = (*index as usize).saturating_sub(1);
            if at > rules_of(state, chain)?.len() {
                return Err(EditError::InsertionIndex);
            }
            // Each at the same place: a list ends up reversed, as in iptables.
            for r in rules {
                insert(state, slots, chain, at, r.clone())?;
            }
        }
        Command::Replace { chain, index, rule } => {
            check::rule_target(&state.ruleset, rule)?;
            let at = (*index as usize).saturating_sub(1);
            if at >= rules_of(state, chain)?.len() {
                return Err(EditError::ReplacementIndex);
            }
            // The replacement is a new rule: its counters start from zero.
            remove(state, chain, at);
            insert(state, slots, chain, at, rule.clone())?;
        }
        Command::Delete { chain, which } => match which {
            RuleRef::Number(n) => {
                let at = (*n as usize).saturating_sub(1);
                if *n == 0 || at >= rules_of(state, chain)?.len() {
                    return Err(EditError::DeletionIndex);
                }
                remove(state, chain, at);
            }
            RuleRef::Spec(rules) => {
                for r in rules {
                    check::rule_target(&state.ruleset, r)?;
                }
                rules_of(state, chain)?;
                for r in rules {
                    let at = find(rules_of(state, chain)?, r).ok_or(EditError::BadRule)?;
                    remove(state, chain, at);
                }
            }
        },
        Command::Flush { chain } => match chain {
            Some(c) => {
                rules_of(state, c)?;
                flush(state, c);
            }
            None => {
                let names: Vec<String> = state
                    .ruleset
                    .chain_names()
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                for c in names {
                    flush(state, &c);
                }
            }
        },
        Command::Policy { chain, policy } => set_policy(state, chain, *policy)?,
        Command::NewChain { chain } => {
            if state.ruleset.has_chain(chain) {
                return Err(EditError::ChainExists(chain.clone()));
            }
            state.ruleset.user_chains.insert(chain.clone(), Vec::new());
            state.user_counters.insert(chain.clone(), Vec::new());
        }
        Command::DeleteChain { chain } => match chain {
            Some(c) => delete_chain(state, c)?,
            None => {
                let names: Vec<String> = state.ruleset.user_chains.keys().cloned().collect();
                for c in names {
                    delete_chain(state, &c)?;
                }
            }
        },
        Command::RenameChain { old, new } => {
            if !state.ruleset.user_chains.contains_key(old) {
                return Err(EditError::NoChain(old.clone()));
            }
            if state.ruleset.has_chain(new) {
                return Err(EditError::NameTaken(new.clone()));
            }
            let rules = state.ruleset.user_chains.remove(old).unwrap_or_default();
            state.ruleset.user_chains.insert(new.clone(), rules);
            let counters = state.user_counters.remove(old).unwrap_or_default();
            state.user_counters.insert(new.clone(), counters);
            // Jumps follow the chain, as libiptc keeps them by reference.
            let retarget = |r: &mut Rule| match &mut r.target {
                crate::model::Target::Jump(c) | crate::model::Target::Goto(c) if c == old => {
                    *c = new.clone();
                }
                _ => {}
            };
            for b in BuiltinChain::ALL {
                state
                    .ruleset
                    .chain_mut(b)
                    .rules
                    .iter_mut()
                    .for_each(retarget);
            }
            for rules in state.ruleset.user_chains.values_mut() {
                rules.iter_mut().for_each(retarget);
            }
        }
        Command::Check { .. }
        | Command::List { .. }
        | Command::ListRules { .. }
        | Command::Zero { .. } => {}
    }
    Ok(())
}

/// `-P CHAIN POLICY`.
///
/// # Errors
/// [`EditError::BadBuiltinChain`].
pub fn set_policy(state: &mut State, chain: &str, policy: Policy) -> Result<(), EditError> {
    let b = BuiltinChain::from_name(chain)
        .ok_or_else(|| EditError::BadBuiltinChain(chain.to_string()))?;
    state.ruleset.chain_mut(b).policy = policy;
    Ok(())
}

/// `-X CHAIN`: libiptc's checks in its order.
fn delete_chain(state: &mut State, chain: &str) -> Result<(), EditError> {
    if BuiltinChain::from_name(chain).is_some() {
        return Err(EditError::DeleteBuiltin(chain.to_string()));
    }
    let Some(rules) = state.ruleset.user_chains.get(chain) else {
        return Err(EditError::NoChain(chain.to_string()));
    };
    if state.ruleset.references(chain) > 0 {
        return Err(EditError::ChainReferenced(chain.to_string()));
    }
    if !rules.is_empty() {
        return Err(EditError::ChainNotEmpty(chain.to_string()));
    }
    state.ruleset.user_chains.remove(chain);
    state.user_counters.remove(chain);
    Ok(())
}

/// Whether every rule of `state` can be enforced today
/// ([`support::enforceable`]).
///
/// # Errors
/// [`EditError::NotSupported`] naming the first feature missing.
pub fn enforceable(state: &State) -> Result<(), EditError> {
    support::ruleset_enforceable(&state.ruleset)
        .map_err(|(_, _, what)| EditError::NotSupported(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_args_with, services::tests::sample};

    /// Runs `line` as exec does: on a copy, kept only when it succeeds.
    fn run(state: &mut State, line: &str) -> Result<(), EditError> {
        let argv: Vec<String> = crate::parse::split_spec(line).unwrap();
        let inv = parse_args_with(&argv, &sample()).unwrap_or_else(|e| panic!("{line}: {e}"));
        let done =
            crate::offline::execute(state, &inv, &sample(), false, crate::offline::no_counters)?;
        if let Some(new) = done.state {
            *state = new;
        }
        Ok(())
    }

    fn ok(state: &mut State, line: &str) {
        run(state, line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }

    fn s(state: &State) -> String {
        crate::render::list_rules(&state.ruleset, None, None, None)
    }

    #[test]
    fn user_chains_like_libiptc() {
        let mut st = State::default();
        ok(&mut st, "-N b");
        ok(&mut st, "-N a");
        ok(&mut st, "-A INPUT -j b");
        ok(&mut st, "-A b -j a");
        ok(&mut st, "-A a -p tcp --dport 22");
        assert_eq!(
            s(&st),
            "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N a\n-N b\n\
             -A INPUT -j b\n-A a -p tcp -m tcp --dport 22\n-A b -j a\n"
        );
        let err = |st: &mut State, line: &str| run(st, line).unwrap_err().to_string();
        assert_eq!(err(&mut st, "-X a"), "Too many links.");
        assert_eq!(err(&mut st, "-X"), "Too many links.");
        assert_eq!(err(&mut st, "-N a"), "Chain already exists.");
        assert_eq!(err(&mut st, "-N INPUT"), "Chain already exists.");
        assert_eq!(err(&mut st, "-E a b"), "File exists.");
        assert_eq!(
            err(&mut st, "-E nope q"),
            "No chain/target/match by that name."
        );
        assert_eq!(
            err(&mut st, "-A a -j b"),
            "Too many levels of symbolic links."
        );
        assert_eq!(
            err(&mut st, "-A a -j nope"),
            "Couldn't load target `nope':No such file or directory"
        );
        assert_eq!(err(&mut st, "-A a -g nope"), "goto 'nope' is not a chain");
        ok(&mut st, "-E a c");
        assert!(s(&st).contains("-A b -j c\n"), "{}", s(&st));
        ok(&mut st, "-F c");
        ok(&mut st, "-D b -j c");
        ok(&mut st, "-X c");
        assert_eq!(
            err(&mut st, "-X INPUT"),
            "Invalid argument: built-in chain `INPUT' cannot be deleted"
        );
        ok(&mut st, "-D INPUT 1");
        ok(&mut st, "-X");
        assert!(st.ruleset.user_chains.is_empty());
    }

    #[test]
    fn address_lists_expand_like_iptables() {
        let mut st = State::default();
        ok(
            &mut st,
            "-A INPUT -s 192.0.2.1,192.0.2.2 -d 198.51.100.1,198.51.100.2 -j ACCEPT",
        );
        ok(&mut st, "-I INPUT 2 -s 203.0.113.1,203.0.113.2 -j DROP");
        assert_eq!(
            s(&st),
            "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n\
             -A INPUT -s 192.0.2.1/32 -d 198.51.100.1/32 -j ACCEPT\n\
             -A INPUT -s 203.0.113.2/32 -j DROP\n\
             -A INPUT -s 203.0.113.1/32 -j DROP\n\
             -A INPUT -s 192.0.2.1/32 -d 198.51.100.2/32 -j ACCEPT\n\
             -A INPUT -s 192.0.2.2/32 -d 198.51.100.1/32 -j ACCEPT\n\
             -A INPUT -s 192.0.2.2/32 -d 198.51.100.2/32 -j ACCEPT\n"
        );
        assert_eq!(st.counters[0].len(), 6);
        let slots: BTreeSet<u32> = st.counters[0].iter().copied().collect();
        assert_eq!(slots.len(), 6, "every rule has its own slot");
        // A list deletes all or nothing.
        let before = st.clone();
        assert_eq!(
            run(
                &mut st.clone(),
                "-D INPUT -s 203.0.113.1,203.0.113.9 -j DROP"
            ),
            Err(EditError::BadRule)
        );
        ok(&mut st, "-D INPUT -s 203.0.113.2,203.0.113.1 -j DROP");
        assert_eq!(st.ruleset.input.rules.len(), 4);
        assert_ne!(st, before);
        assert_eq!(
            check_rules(
                &st,
                "INPUT",
                &match parse_args_with(
                    &crate::parse::split_spec(
                        "-C INPUT -s 192.0.2.1,192.0.2.2 -d 198.51.100.1 -j ACCEPT"
                    )
                    .unwrap(),
                    &sample()
                )
                .unwrap()
                .command
                {
                    Command::Check { rules, .. } => rules,
                    _ => unreachable!(),
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn indexes() {
        let mut st = State::default();
        ok(&mut st, "-A INPUT -j ACCEPT");
        ok(&mut st, "-I INPUT 2 -j DROP");
        let err = |st: &mut State, line: &str| run(st, line).unwrap_err();
        assert_eq!(
            err(&mut st, "-I INPUT 4 -j DROP"),
            EditError::InsertionIndex
        );
        assert_eq!(
            err(&mut st, "-R INPUT 3 -j DROP"),
            EditError::ReplacementIndex
        );
        assert_eq!(err(&mut st, "-D INPUT 3"), EditError::DeletionIndex);
        let slot = st.counters[0][1];
        ok(&mut st, "-R INPUT 2 -j ACCEPT");
        assert_ne!(st.counters[0][1], slot, "a replaced rule counts from zero");
        assert_eq!(
            err(&mut st, "-P nope DROP"),
            EditError::BadBuiltinChain("nope".into())
        );
    }
}
