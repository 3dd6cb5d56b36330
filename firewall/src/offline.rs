//! The offline executor: one command line run against a state, touching
//! neither the kernel nor a file. `fw` ([`crate::exec::run`]) runs every
//! command through [`execute`] and then loads what it returns; `fw
//! restore` runs each command line of a file through [`query`] and
//! [`edit::apply`] and checks each table with [`commit_checks`]; the oracle
//! and corpus tests run [`execute`] alone.
//!
//! Counters enter through a closure, called only by the commands that print
//! them (`-L`, `-S -v`): exec reads the kernel's, the tests and restores
//! pass [`no_counters`]. Counters a command zeroes come back as
//! [`CounterRef`]s for the caller to zero.

use crate::{
    command::{Command, Invocation, Zeroing},
    edit::{self, EditError, Slots},
    model::{BuiltinChain, Ruleset, check},
    parse::services::Services,
    render::{self, Counters},
    state::State,
};

/// A counter a command zeroes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterRef {
    /// A rule's counter slot ([`State::counters`]).
    Rule(u32),
    /// A built-in chain's policy counter.
    Policy(BuiltinChain),
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The state after the command; `None` for the commands that change
    /// nothing (`-C`, `-L`, `-S`, `-Z`).
    pub state: Option<State>,
    /// What it prints on standard output.
    pub output: String,
    /// Counter slots of the rules it added: their counters must start from
    /// zero.
    pub fresh: Vec<u32>,
    /// Counters it zeroes (`-Z`, `-L -Z`, `-S -Z`).
    pub zero: Vec<CounterRef>,
}

/// What a read-only command prints and zeroes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The listing (empty for `-C` and `-Z`).
    pub output: String,
    /// Counters to zero.
    pub zero: Vec<CounterRef>,
}

/// Counters for callers without a kernel: every counter is zero.
///
/// # Errors
/// Never.
pub fn no_counters(_: &State) -> Result<Counters, EditError> {
    Ok(Counters::default())
}

/// Whether `command` leaves the table as it is (`-C`, `-L`, `-S`, `-Z`).
/// [`query`] matches every command exhaustively; one not listed here is
/// taken for a change (exec then takes the lock).
pub fn read_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Check { .. }
            | Command::List { .. }
            | Command::ListRules { .. }
            | Command::Zero { .. }
    )
}

/// Runs `inv` on `state` as iptables runs a command on a table: a change
/// is made to a copy, which is returned only when it passes what the
/// kernel checks of a table and, with `enforce`, what fw can enforce
/// ([`commit_checks`]). With `-v`, the output ends with iptables' echo of
/// the command ([`render::verbose_output`]). `counters` gives the counters
/// a listing prints; `services` the service names it uses.
///
/// # Errors
/// Any [`EditError`], or what `counters` returns; `state` is unchanged.
pub fn execute<E, F>(
    state: &State,
    inv: &Invocation,
    services: &Services,
    enforce: bool,
    counters: F,
) -> Result<Outcome, E>
where
    E: From<EditError>,
    F: FnOnce(&State) -> Result<Counters, E>,
{
    same_family(state, inv)?;
    let mut done = match query(state, inv, services, counters)? {
        Some(q) => Outcome {
            state: None,
            output: q.output,
            fresh: Vec::new(),
            zero: q.zero,
        },
        None => {
            let mut new = state.clone();
            let mut slots = Slots::new(&new);
            edit::fill_slots(&mut new, &mut slots)?;
            edit::apply(&mut new, &mut slots, &inv.command)?;
            commit_checks(&new, enforce)?;
            Outcome {
                state: Some(new),
                output: String::new(),
                fresh: slots.fresh,
                zero: Vec::new(),
            }
        }
    };
    if inv.options.verbose {
        done.output
            .push_str(&echo(&inv.command, &state.ruleset, services));
    }
    Ok(done)
}

/// A read-only command (`-C`, `-L`, `-S`, `-Z`) run on `state`: what it
/// lists (without the `-v` echo) and which counters it zeroes. `None` for a
/// command that changes the table. `counters` is called only to list.
///
/// # Errors
/// [`EditError::NoChain`], [`EditError::BadRule`], [`EditError::CounterIndex`]
/// and the checks of `-C`; what `counters` returns.
pub fn query<E, F>(
    state: &State,
    inv: &Invocation,
    services: &Services,
    counters: F,
) -> Result<Option<Query>, E>
where
    E: From<EditError>,
    F: FnOnce(&State) -> Result<Counters, E>,
{
    let opts = &inv.options;
    Ok(Some(match &inv.command {
        Command::Check { chain, rules } => {
            edit::check_rules(state, chain, rules)?;
            Query::default()
        }
        Command::List { chain, rule, zero } | Command::ListRules { chain, rule, zero } => {
            if let Some(c) = chain {
                edit::rules_of(state, c)?;
            }
            let counters = counters(state)?;
            let output = match &inv.command {
                Command::List { .. } => render::list_with(
                    &state.ruleset,
                    chain.as_deref(),
                    *rule,
                    opts,
                    &counters,
                    services,
                ),
                _ => render::list_rules(
                    &state.ruleset,
                    chain.as_deref(),
                    *rule,
                    opts.verbose.then_some(&counters),
                ),
            };
            let zero = match zero {
                Zeroing::Not => Vec::new(),
                Zeroing::Chain => zeroed(state, chain.as_deref(), None)?,
                Zeroing::Rule => zeroed(state, chain.as_deref(), *rule)?,
            };
            Query { output, zero }
        }
        Command::Zero { chain, rule } => Query {
            output: String::new(),
            zero: zeroed(state, chain.as_deref(), *rule)?,
        },
        Command::Append { .. }
        | Command::Insert { .. }
        | Command::Replace { .. }
        | Command::Delete { .. }
        | Command::Flush { .. }
        | Command::Policy { .. }
        | Command::NewChain { .. }
        | Command::DeleteChain { .. }
        | Command::RenameChain { .. } => return Ok(None),
    }))
}

/// An ip6tables command runs on an IPv6 table only, an iptables one on
/// an IPv4 table only (the two families keep separate tables).
///
/// # Errors
/// [`EditError::NotSupported`] naming both families.
pub fn same_family(state: &State, inv: &Invocation) -> Result<(), EditError> {
    if state.ruleset.family == inv.family {
        return Ok(());
    }
    Err(EditError::NotSupported(format!(
        "an {} command on {}' table",
        inv.family.program(),
        state.ruleset.family.program()
    )))
}

/// What a table must pass before it is committed: what the kernel checks
/// when a table is loaded ([`check::ruleset`]), then, with `enforce`, what
/// fw can enforce today ([`edit::enforceable`]).
///
/// # Errors
/// [`EditError::Check`], [`EditError::NotSupported`].
pub fn commit_checks(state: &State, enforce: bool) -> Result<(), EditError> {
    check::ruleset(&state.ruleset)?;
    if enforce {
        edit::enforceable(state)?;
    }
    Ok(())
}

/// `-Z [CHAIN [N]]`: the rules' counters (and the policy counters of the
/// built-in chains named), as iptables zeroes them.
fn zeroed(
    state: &State,
    chain: Option<&str>,
    rule: Option<u32>,
) -> Result<Vec<CounterRef>, EditError> {
    let names: Vec<&str> = match chain {
        Some(c) => {
            let rules = edit::rules_of(state, c)?;
            if let Some(n) = rule
                && (n as usize) > rules.len()
            {
                return Err(EditError::CounterIndex);
            }
            vec![c]
        }
        None => state.ruleset.chain_names(),
    };
    let mut zero = Vec::new();
    for c in names {
        let slots = state.chain_slots(c);
        match rule {
            // A rule from a record without its slot has counted nothing.
            Some(n) => zero.extend(
                (n as usize)
                    .checked_sub(1)
                    .and_then(|i| slots.get(i))
                    .map(|s| CounterRef::Rule(*s)),
            ),
            None => {
                zero.extend(slots.iter().map(|s| CounterRef::Rule(*s)));
                zero.extend(BuiltinChain::from_name(c).map(CounterRef::Policy));
            }
        }
    }
    Ok(zero)
}

/// iptables' `-v` echo of `command` run on `before`; `-L -Z` and `-S -Z`
/// echo their zeroing.
fn echo(command: &Command, before: &Ruleset, services: &Services) -> String {
    match command {
        Command::List {
            chain, rule, zero, ..
        }
        | Command::ListRules {
            chain, rule, zero, ..
        } if *zero != Zeroing::Not => {
            let zero = Command::Zero {
                chain: chain.clone(),
                rule: rule.filter(|_| *zero == Zeroing::Rule),
            };
            render::verbose_output(&zero, before, services)
        }
        command => render::verbose_output(command, before, services),
    }
}
