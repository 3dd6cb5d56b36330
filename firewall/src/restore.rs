//! `fw restore`: an iptables-restore(8) file applied to the state, all or
//! nothing, as iptables-restore 1.8.9 (legacy) applies it: `*filter`
//! flushes the table (unless `--noflush`: every chain emptied, user-defined
//! chains deleted, policies kept), `:CHAIN` lines create chains and set
//! policies, command lines run as `fw` commands with the table preset, and
//! `COMMIT` checks the table as the kernel would.
//!
//! fw has only the filter table: `*nat`, `*mangle`, `*raw` and `*security`
//! are refused as "not supported yet" (exit status 2), an unknown table as
//! iptables-restore refuses it. Since fw applies nothing unless the whole
//! file succeeds, any error anywhere leaves the firewall unchanged.
//!
//! Counters: without `--counters`, `[PACKETS:BYTES]` are read and ignored,
//! as iptables-restore ignores them. With it, only zero counters are
//! accepted: fw cannot set a counter yet.

use std::fmt;

use crate::{
    command::Command,
    edit::{self, EditError, Slots},
    model::{BuiltinChain, Policy, Rule, support},
    offline,
    parse::{
        self, ParseError,
        restore::{Line, LineError, classify},
        services::Services,
    },
    state::State,
};

/// iptables-restore's options that fw takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// `--counters` (`-c`): read `[PACKETS:BYTES]`.
    pub counters: bool,
    /// `--noflush` (`-n`): do not flush the table first.
    pub noflush: bool,
    /// `--test` (`-t`): only check the file.
    pub test: bool,
    /// `--table filter` (`-T filter`): restore the filter table only;
    /// every other table of the file is skipped unread, up to the next
    /// `*TABLE` line, as iptables-restore skips it (fw has no other
    /// table to name).
    pub filter_only: bool,
    /// A line for the other family (`-4` in an IPv6 file) is an error,
    /// where ip6tables-restore skips it (a YAML ruleset's table states
    /// one family: a pasted `-4` rule there is a mistake).
    pub strict_family: bool,
}

/// What went wrong, without the line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreErrorKind {
    /// A line that is not a valid restore line.
    #[error(transparent)]
    Line(#[from] LineError),
    /// A command line that does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A command or `COMMIT` iptables (libiptc, the kernel) would refuse,
    /// or fw cannot enforce yet.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// A line outside a table that is not `*TABLE` (iptables-restore only
    /// says that the line failed).
    #[error("not inside a table (expected `*filter')")]
    OutsideTable,
    /// The file ends inside a table.
    #[error("COMMIT expected")]
    CommitExpected,
    /// `*NAME` for a table the kernel does not have.
    #[error("unable to initialize table '{0}'")]
    UnknownTable(String),
    /// `*nat`, `*mangle`, `*raw`, `*security`.
    #[error(
        "not supported yet: table `{0}' (fw has only the filter table; \
         `fw restore --table filter` restores the filter table alone)"
    )]
    TableNotSupported(String),
    /// `:CHAIN` of a user-defined chain that exists already.
    #[error("error creating chain '{0}':File exists")]
    ChainExists(String),
    /// `:CHAIN POLICY` that cannot be set.
    #[error("Can't set policy `{policy}' on `{chain}': {reason}")]
    Policy {
        /// The policy as written.
        policy: String,
        /// The chain.
        chain: String,
        /// libiptc's reason.
        reason: &'static str,
    },
    /// `[PACKETS:BYTES]` with `--counters` other than zero.
    #[error("not supported yet: restoring counters (--counters with non-zero counts)")]
    Counters,
}

/// A restore that failed at line `line` (1-based), changing nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError {
    /// The line, as iptables-restore counts them (for
    /// [`RestoreErrorKind::CommitExpected`], one past the last line).
    pub line: usize,
    /// What failed.
    pub kind: RestoreErrorKind,
}

impl RestoreError {
    /// iptables-restore's exit status: 1 for a line libiptc or the kernel
    /// refuses, a missing COMMIT and a line outside a table; 2 for what does
    /// not parse and for what fw cannot do yet; as the command's for
    /// command lines.
    pub fn exit_code(&self) -> i32 {
        match &self.kind {
            RestoreErrorKind::Line(_)
            | RestoreErrorKind::UnknownTable(_)
            | RestoreErrorKind::TableNotSupported(_)
            | RestoreErrorKind::ChainExists(_)
            | RestoreErrorKind::Counters => 2,
            RestoreErrorKind::Parse(e) => e.exit_code(),
            RestoreErrorKind::Edit(e) => e.exit_code(),
            RestoreErrorKind::OutsideTable
            | RestoreErrorKind::CommitExpected
            | RestoreErrorKind::Policy { .. } => 1,
        }
    }

    /// The offending token, if any.
    pub fn token(&self) -> Option<&str> {
        match &self.kind {
            RestoreErrorKind::Parse(e) => e.token(),
            RestoreErrorKind::Edit(e) => e.token(),
            RestoreErrorKind::UnknownTable(t)
            | RestoreErrorKind::TableNotSupported(t)
            | RestoreErrorKind::ChainExists(t) => Some(t),
            RestoreErrorKind::Policy { policy, .. } => Some(policy),
            RestoreErrorKind::Line(LineError::ChainNameTooLong(t))
            | RestoreErrorKind::Line(LineError::PolicyCounters(t)) => Some(t),
            _ => None,
        }
    }
}

impl RestoreError {
    /// The whole stderr text iptables-legacy-restore 1.8.9 prints for the
    /// same failure (`program` for "iptables-restore", `version` for
    /// "v1.8.9 (legacy)"), for byte-for-byte comparisons. `None` for fw's
    /// own refusals (tables and counters it does not support yet, rules it
    /// cannot enforce yet), which iptables-restore does not have.
    ///
    /// One known difference remains: what the kernel refuses in a rule by
    /// itself (e.g. `-m tcp` without `-p tcp`) iptables-restore reports at
    /// the `COMMIT` line, fw at the rule's line.
    pub fn iptables_stderr(&self, program: &str, version: &str) -> Option<String> {
        let n = self.line;
        let try_help = format!("Try `{program} -h' or '{program} --help' for more information.\n");
        let parse_style = |msg: &str, blank: bool| {
            format!(
                "{program} {version}: {msg}\n{}Error occurred at line: {n}\n{try_help}",
                if blank { "\n" } else { "" }
            )
        };
        let failed = format!("{program}: line {n} failed\n");
        let at_line = |text: String| match text.find("Try `") {
            Some(at) => format!(
                "{}Error occurred at line: {n}\n{}",
                &text[..at],
                &text[at..]
            ),
            None => text,
        };
        Some(match &self.kind {
            RestoreErrorKind::CommitExpected => format!("{program}: COMMIT expected at line {n}\n"),
            RestoreErrorKind::OutsideTable => failed,
            RestoreErrorKind::TableNotSupported(_) | RestoreErrorKind::Counters => return None,
            RestoreErrorKind::UnknownTable(t) => parse_style(
                &format!("{program}: unable to initialize table '{t}'"),
                false,
            ),
            RestoreErrorKind::ChainExists(_) => parse_style(&self.kind.to_string(), false),
            RestoreErrorKind::Policy {
                policy,
                chain,
                reason,
            } => format!(
                "{program} {version}: Can't set policy `{policy}' on `{chain}' line {n}: {reason}\n"
            ),
            RestoreErrorKind::Line(e) => match e {
                LineError::TableName | LineError::ChainName | LineError::Policy => {
                    parse_style(&format!("{program}: line {n} {e}"), false)
                }
                LineError::PolicyCounters(_) => parse_style(&e.to_string(), true),
                LineError::Words(_) => return None,
                _ => parse_style(&e.to_string(), false),
            },
            RestoreErrorKind::Parse(e) => {
                if e.exit_code() != 2 {
                    return Some(failed);
                }
                if matches!(
                    e,
                    ParseError::NotSupported { .. } | ParseError::UnterminatedQuote
                ) {
                    return None;
                }
                // The command line's own text, with the line inserted
                // before the hint.
                at_line(e.iptables_stderr(program, version))
            }
            RestoreErrorKind::Edit(e) => {
                if e.exit_code() == 1 {
                    return Some(failed);
                }
                at_line(e.iptables_stderr(program, version)?)
            }
        })
    }
}

impl fmt::Display for RestoreError {
    /// `line N failed: DETAIL`, with `` (at `TOKEN')`` when the detail does
    /// not quote the token; `COMMIT expected at line N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == RestoreErrorKind::CommitExpected {
            return write!(f, "COMMIT expected at line {}", self.line);
        }
        let detail = self.kind.to_string();
        write!(f, "line {} failed: {detail}", self.line)?;
        if let Some(t) = self.token()
            && !t.is_empty()
            && !detail.contains(t)
        {
            write!(f, " (at `{t}')")?;
        }
        Ok(())
    }
}

impl std::error::Error for RestoreError {}

/// A successful restore: the new state, the counter slots it handed out
/// (their counters must start from zero) and what `-L`/`-S` lines in the
/// file printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The state after the last COMMIT.
    pub state: State,
    /// Counter slots of new rules.
    pub fresh: Vec<u32>,
    /// Output of listing commands in the file.
    pub output: String,
}

/// Applies restore file `text` to `base` (nothing is loaded: the caller
/// does that). With `enforce`, a rule fw cannot enforce yet
/// ([`support::enforceable`]) is refused at its line, as exec needs; the
/// offline tests build models of anything without it.
///
/// # Errors
/// [`RestoreError`] at the first failing line; nothing is applied.
pub fn restore(
    base: &State,
    text: &str,
    opts: &RestoreOptions,
    enforce: bool,
    services: &Services,
) -> Result<Restored, RestoreError> {
    let mut committed = base.clone();
    let mut fresh = Vec::new();
    let mut output = String::new();
    // The table being read: its working state and slot allocator.
    let mut open: Option<(State, Slots)> = None;
    let mut line_no = 0;
    // Inside a table that `--table` leaves out.
    let mut skipping = false;
    for raw in text.split_inclusive('\n') {
        line_no += 1;
        if skipping && !raw.starts_with('*') {
            continue;
        }
        skipping = false;
        let at = |kind: RestoreErrorKind| RestoreError {
            line: line_no,
            kind,
        };
        let text = raw.strip_suffix('\n').unwrap_or(raw);
        let line =
            classify(text, line_no, open.is_some(), opts.counters).map_err(|e| at(e.into()))?;
        match line {
            Line::Skip => {}
            Line::Stray => return Err(at(RestoreErrorKind::OutsideTable)),
            Line::Table(name) if opts.filter_only && name != "filter" => {
                skipping = true;
            }
            Line::Table(name) => {
                match name.as_str() {
                    "filter" => {}
                    "nat" | "mangle" | "raw" | "security" => {
                        return Err(at(RestoreErrorKind::TableNotSupported(name)));
                    }
                    _ => return Err(at(RestoreErrorKind::UnknownTable(name))),
                }
                let mut work = committed.clone();
                if !opts.noflush {
                    work.ruleset.user_chains.clear();
                    work.user_counters.clear();
                    for c in BuiltinChain::ALL {
                        work.ruleset.chain_mut(c).rules.clear();
                        work.slots_mut(c).clear();
                    }
                }
                let slots = Slots::new(&work);
                open = Some((work, slots));
            }
            Line::Chain {
                name,
                policy,
                counters,
            } => {
                let (work, _) = open.as_mut().expect("inside a table");
                if counters.is_some_and(|c| c != (0, 0)) {
                    return Err(at(RestoreErrorKind::Counters));
                }
                if BuiltinChain::from_name(&name).is_none() {
                    match work.ruleset.user_chains.get_mut(&name) {
                        Some(rules) if opts.noflush => rules.clear(),
                        Some(_) => return Err(at(RestoreErrorKind::ChainExists(name))),
                        None => {
                            work.ruleset.user_chains.insert(name.clone(), Vec::new());
                        }
                    }
                }
                if let Some(p) = policy {
                    let value = match p.as_str() {
                        "ACCEPT" => Some(Policy::Accept),
                        "DROP" => Some(Policy::Drop),
                        _ => None,
                    };
                    let reason = if BuiltinChain::from_name(&name).is_none() {
                        Some("Bad built-in chain name")
                    } else if value.is_none() {
                        Some("Bad policy name")
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        return Err(at(RestoreErrorKind::Policy {
                            policy: p,
                            chain: name,
                            reason,
                        }));
                    }
                    if let Some(v) = value {
                        edit::set_policy(work, &name, v).map_err(|e| at(e.into()))?;
                    }
                }
            }
            Line::Command { words, counters } => {
                let (work, slots) = open.as_mut().expect("inside a table");
                let inv = match parse::parse_restore_line(&words, work.ruleset.family, services) {
                    // ip6tables-restore skips a line meant for iptables
                    // (`-4`), so one file can serve both. (fw's IPv4 engine
                    // still refuses `-6` lines, as it always has.)
                    Err(ParseError::Ipv4) if !opts.strict_family => continue,
                    r => r.map_err(|e| at(e.into()))?,
                };
                if counters.is_some_and(|c| c != (0, 0)) {
                    return Err(at(RestoreErrorKind::Counters));
                }
                // The table checks wait for COMMIT, so not offline::execute.
                // Listings print zero counters, a -Z line zeroes nothing
                // (the rules of a restore start from zero anyway), and -v
                // echoes nothing.
                match offline::query(work, &inv, services, offline::no_counters)
                    .map_err(|e| at(e.into()))?
                {
                    Some(listed) => output.push_str(&listed.output),
                    None => {
                        edit::apply(work, slots, &inv.command).map_err(|e| at(e.into()))?;
                        if enforce {
                            for r in added(&inv.command) {
                                support::enforceable_in(work.ruleset.family, r)
                                    .map_err(|w| at(EditError::NotSupported(w).into()))?;
                                // As iptables-restore asks the kernel for the
                                // ipset: fw's sets of the state restored onto.
                                for m in &r.matches {
                                    if let crate::model::Match::Set(s) = m
                                        && let Some(e) = crate::sets::unusable(
                                            &work.sets,
                                            &s.name,
                                            work.ruleset.family,
                                        )
                                    {
                                        return Err(at(e.into()));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Line::Commit => {
                let (work, slots) = open.take().expect("inside a table");
                offline::commit_checks(&work, enforce).map_err(|e| at(e.into()))?;
                fresh.extend(slots.fresh);
                committed = work;
            }
        }
    }
    if open.is_some() {
        return Err(RestoreError {
            line: line_no + 1,
            kind: RestoreErrorKind::CommitExpected,
        });
    }
    Ok(Restored {
        state: committed,
        fresh,
        output,
    })
}

/// The rules a command adds.
fn added(command: &Command) -> Vec<&Rule> {
    match command {
        Command::Append { rules, .. } | Command::Insert { rules, .. } => rules.iter().collect(),
        Command::Replace { rule, .. } => vec![rule],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse::services::tests::sample, render};

    fn run(text: &str, opts: RestoreOptions) -> Result<Restored, RestoreError> {
        restore(&State::default(), text, &opts, false, &sample())
    }

    fn save(st: &State) -> String {
        render::save(&st.ruleset, &render::Counters::default(), false, None)
    }

    #[test]
    fn a_table_with_user_chains() {
        let r = run(
            "# c\n*filter\n:INPUT DROP [1:2]\n:FORWARD ACCEPT [0:0]\n:u - [0:0]\n\
             -A INPUT -j u\n[5:6] -A u -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
            RestoreOptions::default(),
        )
        .unwrap();
        assert_eq!(
            save(&r.state),
            "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:u - [0:0]\n\
             -A INPUT -j u\n-A u -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
        );
        assert_eq!(
            r.fresh.len(),
            2,
            "a counter slot for each rule, user chains too"
        );
    }

    #[test]
    fn errors_give_line_and_token() {
        let e = |text: &str| run(text, RestoreOptions::default()).unwrap_err();
        let err = e("*filter\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n");
        assert_eq!(err.line, 2);
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "line 2 failed: invalid port/service `99999' specified"
        );
        let err = e("*filter\n-A INPUT -j ACCEPT\n");
        assert_eq!(err.to_string(), "COMMIT expected at line 3");
        assert_eq!(err.exit_code(), 1);
        let err = e("*filter\n-A INPUT -j nope\nCOMMIT\n");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "line 2 failed: Couldn't load target `nope':No such file or directory"
        );
        let err = e("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n");
        assert_eq!(
            (err.line, err.exit_code(), err.to_string()),
            (
                1,
                2,
                "line 1 failed: not supported yet: table `nat' (fw has only the filter table; \
                 `fw restore --table filter` restores the filter table alone)"
                    .into()
            )
        );
        let err =
            e("*filter\n:x - [0:0]\n:y - [0:0]\n-A x -j y\n-A y -j x\n-A INPUT -j x\nCOMMIT\n");
        assert_eq!(
            (err.line, err.to_string()),
            (
                7,
                "line 7 failed: Too many levels of symbolic links. (at `x')".into()
            )
        );
        let err = e("*filter\n:INPUT FOO\nCOMMIT\n");
        assert_eq!(
            err.to_string(),
            "line 2 failed: Can't set policy `FOO' on `INPUT': Bad policy name"
        );
        let err = e("-A INPUT -j ACCEPT\n");
        assert_eq!((err.line, err.exit_code()), (1, 1));
        let err = e("*filter\n-A INPUT -m comment --comment \"x -j ACCEPT\nCOMMIT\n");
        assert_eq!(err.line, 2);
        assert_eq!(
            e("*filter\n:a - [0:0]\n:a - [0:0]\nCOMMIT\n").to_string(),
            "line 3 failed: error creating chain 'a':File exists"
        );
    }

    #[test]
    fn noflush_keeps_what_is_there() {
        let first = run(
            "*filter\n:a - [0:0]\n-A INPUT -j a\nCOMMIT\n",
            RestoreOptions::default(),
        )
        .unwrap();
        let second = restore(
            &first.state,
            "*filter\n:b - [0:0]\nCOMMIT\n",
            &RestoreOptions {
                noflush: true,
                ..Default::default()
            },
            false,
            &sample(),
        )
        .unwrap();
        assert_eq!(
            save(&second.state),
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             :a - [0:0]\n:b - [0:0]\n-A INPUT -j a\nCOMMIT\n"
        );
        let flushed = restore(
            &first.state,
            "*filter\nCOMMIT\n",
            &RestoreOptions::default(),
            false,
            &sample(),
        )
        .unwrap();
        assert_eq!(flushed.state.ruleset, crate::model::Ruleset::default());
    }

    #[test]
    fn filter_only_skips_the_other_tables() {
        // As iptables-legacy-restore -T filter: the other tables are not
        // read at all, up to the next `*TABLE` line, COMMIT or not.
        let file = "*nat\n-A BOGUS -j FOO\n*filter\n-A INPUT -j ACCEPT\nCOMMIT\n\
                    *mangle\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n";
        let opts = RestoreOptions {
            filter_only: true,
            ..Default::default()
        };
        let done = restore(&State::default(), file, &opts, false, &sample()).unwrap();
        assert_eq!(
            save(&done.state),
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -j ACCEPT\nCOMMIT\n"
        );
        // Without it, the first other table is refused, naming it and its line.
        let e = restore(
            &State::default(),
            file,
            &RestoreOptions::default(),
            false,
            &sample(),
        )
        .unwrap_err();
        assert_eq!((e.line, e.exit_code()), (1, 2));
        assert_eq!(e.kind, RestoreErrorKind::TableNotSupported("nat".into()));
    }

    #[test]
    fn counters_are_refused_unless_zero() {
        let with = RestoreOptions {
            counters: true,
            ..Default::default()
        };
        assert!(
            run(
                "*filter\n:INPUT ACCEPT [0:0]\n[0:0] -A INPUT -j DROP\nCOMMIT\n",
                with
            )
            .is_ok()
        );
        let err = run("*filter\n[1:2] -A INPUT -j DROP\nCOMMIT\n", with).unwrap_err();
        assert_eq!((err.line, err.exit_code()), (2, 2));
        // Without --counters they are ignored, as iptables-restore does.
        assert!(
            run(
                "*filter\n[1:2] -A INPUT -j DROP\nCOMMIT\n",
                RestoreOptions::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn enforcement_is_checked_at_the_line() {
        let err = restore(
            &State::default(),
            "*filter\n-A INPUT -j ACCEPT\n-A INPUT -p tcp -m limit --limit 5/sec --dport 22 -j ACCEPT\nCOMMIT\n",
            &RestoreOptions::default(),
            true,
            &sample(),
        )
        .unwrap_err();
        assert_eq!(
            (err.line, err.exit_code(), err.to_string()),
            (
                3,
                2,
                "line 3 failed: not supported yet: -m limit before -m tcp in one rule \
                 (netfilter updates -m limit's state even for packets that -m tcp then rejects, fw only \
             for packets the rule's other matches accept; put -m limit after them)"
                    .into()
            )
        );
    }
}
