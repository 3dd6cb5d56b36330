//! The lines of an iptables-restore(8) file, classified as iptables-restore
//! 1.8.9 (legacy) reads them: `#` comments and empty lines, `*TABLE`,
//! `:CHAIN POLICY [PACKETS:BYTES]`, `COMMIT`, and command lines (a rule
//! command such as `-A INPUT ...`, optionally preceded by
//! `[PACKETS:BYTES]`). Applying them is [`crate::restore`]'s job.
//!
//! Like iptables-restore, only a line that is exactly empty is skipped, a
//! comment needs its `#` in the first column, and `COMMIT` must be alone on
//! its line. fw also takes a last `COMMIT` without its newline (iptables
//! reads it as a command and refuses it), and refuses a `"` without its
//! closing quote (iptables takes the rest of the line, newline included).

use super::{error::ParseError, lexer::split_spec};
use crate::model::MAX_CHAIN_NAME;

/// A line that is not a valid iptables-restore line, in iptables-restore's
/// words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// `*` without a table name.
    #[error("table name invalid")]
    TableName,
    /// `:` without a chain name.
    #[error("chain name invalid")]
    ChainName,
    /// `:CHAIN` with a name of 29 bytes or more.
    #[error("Invalid chain name `{0}' ({MAX_CHAIN_NAME} chars max)")]
    ChainNameTooLong(String),
    /// `:CHAIN` without a policy (`-` for user-defined chains).
    #[error("policy invalid")]
    Policy,
    /// `:CHAIN POLICY` without `[PACKETS:BYTES]` (or with a bad one) when
    /// restoring counters.
    #[error("invalid policy counters for chain '{0}'")]
    PolicyCounters(String),
    /// `[PACKETS:BYTES` without `]` or `:`.
    #[error("Bad line {line}: need {need}")]
    Counters {
        /// The line number.
        line: usize,
        /// `]` or `:`.
        need: char,
    },
    /// A counter of `[PACKETS:BYTES]` that is not a number (when restoring
    /// counters).
    #[error("-c {0} counter not numeric")]
    CounterNotNumeric(&'static str),
    /// The words of a command line could not be split.
    #[error(transparent)]
    Words(#[from] ParseError),
}

/// One classified line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// An empty line or a comment.
    Skip,
    /// `*TABLE`: a table starts.
    Table(String),
    /// `:CHAIN POLICY [PACKETS:BYTES]`: `policy` is `None` for `-`;
    /// `counters` only when restoring counters.
    Chain {
        /// The chain.
        name: String,
        /// The policy as written, `None` for `-`.
        policy: Option<String>,
        /// `[PACKETS:BYTES]`, when restoring counters.
        counters: Option<(u64, u64)>,
    },
    /// `COMMIT`.
    Commit,
    /// A command line, split into words (without the counters).
    Command {
        /// The words, as iptables-restore splits them.
        words: Vec<String>,
        /// `[PACKETS:BYTES]` before the command, when restoring counters.
        counters: Option<(u64, u64)>,
    },
    /// A line outside any table that is not `*TABLE`, or `COMMIT` outside
    /// a table: iptables-restore just says the line failed.
    Stray,
}

/// `sscanf("%llu")`: white space, an optional `+`, digits; the rest is
/// ignored.
fn scan_u64(s: &str) -> Option<u64> {
    let t = s.trim_start_matches(super::values::is_c_space);
    let t = t.strip_prefix('+').unwrap_or(t);
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Classifies line `number` (1-based; `text` without its newline) given
/// whether a table is open.
/// `counters` is iptables-restore's `--counters`: only then are counters
/// read (and checked).
///
/// # Errors
/// [`LineError`].
pub fn classify(
    text: &str,
    number: usize,
    in_table: bool,
    counters: bool,
) -> Result<Line, LineError> {
    if text.is_empty() || text.starts_with('#') {
        return Ok(Line::Skip);
    }
    if text == "COMMIT" && in_table {
        return Ok(Line::Commit);
    }
    if let Some(rest) = text.strip_prefix('*')
        && !in_table
    {
        let name = rest.split([' ', '\t']).find(|w| !w.is_empty());
        return name
            .map(|n| Line::Table(n.to_string()))
            .ok_or(LineError::TableName);
    }
    if !in_table {
        return Ok(Line::Stray);
    }
    if let Some(rest) = text.strip_prefix(':') {
        let mut words = rest.split([' ', '\t']).filter(|w| !w.is_empty());
        let name = words.next().ok_or(LineError::ChainName)?;
        if name.len() > MAX_CHAIN_NAME {
            return Err(LineError::ChainNameTooLong(name.to_string()));
        }
        let policy = words.next().ok_or(LineError::Policy)?;
        let mut parsed = None;
        if policy != "-" && counters {
            parsed = words
                .next()
                .and_then(|c| c.strip_prefix('['))
                .and_then(|c| {
                    let (p, b) = c.split_once(':')?;
                    let b = b.strip_suffix(']').unwrap_or(b);
                    Some((scan_u64(p)?, scan_u64(b)?))
                });
            if parsed.is_none() {
                return Err(LineError::PolicyCounters(name.to_string()));
            }
        }
        return Ok(Line::Chain {
            name: name.to_string(),
            policy: (policy != "-").then(|| policy.to_string()),
            counters: parsed,
        });
    }
    let mut start = text;
    let mut parsed = None;
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(LineError::Counters {
            line: number,
            need: ']',
        })?;
        let (p, b) = inside.split_once(':').ok_or(LineError::Counters {
            line: number,
            need: ':',
        })?;
        if counters {
            parsed = Some((
                scan_u64(p).ok_or(LineError::CounterNotNumeric("packet"))?,
                scan_u64(b).ok_or(LineError::CounterNotNumeric("byte"))?,
            ));
        }
        start = after;
    }
    Ok(Line::Command {
        words: split_spec(start)?,
        counters: parsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str, in_table: bool) -> Result<Line, LineError> {
        classify(text, 7, in_table, false)
    }

    #[test]
    fn lines() {
        assert_eq!(c("", true), Ok(Line::Skip));
        assert_eq!(c("# x", false), Ok(Line::Skip));
        assert_eq!(c("*filter", false), Ok(Line::Table("filter".into())));
        assert_eq!(c("* nat", false), Ok(Line::Table("nat".into())));
        assert_eq!(c("*", false), Err(LineError::TableName));
        assert_eq!(c("COMMIT", false), Ok(Line::Stray));
        assert_eq!(c("-A INPUT -j ACCEPT", false), Ok(Line::Stray));
        assert_eq!(c("COMMIT", true), Ok(Line::Commit));
        assert_eq!(
            c("COMMIT ", true),
            Ok(Line::Command {
                words: vec!["COMMIT".into()],
                counters: None
            })
        );
        assert_eq!(
            c(":INPUT DROP [1:2]", true),
            Ok(Line::Chain {
                name: "INPUT".into(),
                policy: Some("DROP".into()),
                counters: None
            })
        );
        assert_eq!(
            classify(":INPUT DROP [1:2]", 2, true, true),
            Ok(Line::Chain {
                name: "INPUT".into(),
                policy: Some("DROP".into()),
                counters: Some((1, 2))
            })
        );
        assert_eq!(
            classify(":INPUT DROP [x:y]", 2, true, true),
            Err(LineError::PolicyCounters("INPUT".into()))
        );
        assert_eq!(
            c(":u - [0:0]", true),
            Ok(Line::Chain {
                name: "u".into(),
                policy: None,
                counters: None
            })
        );
        assert_eq!(c(":INPUT", true), Err(LineError::Policy));
        assert_eq!(
            c(":abcdefghijabcdefghijabcdefghij - [0:0]", true)
                .unwrap_err()
                .to_string(),
            "Invalid chain name `abcdefghijabcdefghijabcdefghij' (28 chars max)"
        );
        assert_eq!(
            c("[3:4] -A INPUT -j ACCEPT", true),
            Ok(Line::Command {
                words: vec!["-A".into(), "INPUT".into(), "-j".into(), "ACCEPT".into()],
                counters: None
            })
        );
        assert_eq!(
            classify("[3:4] -A INPUT", 2, true, true),
            Ok(Line::Command {
                words: vec!["-A".into(), "INPUT".into()],
                counters: Some((3, 4))
            })
        );
        assert_eq!(
            c("[1:2 -A INPUT", true).unwrap_err().to_string(),
            "Bad line 7: need ]"
        );
        assert_eq!(
            classify("[x:y] -A INPUT", 2, true, true)
                .unwrap_err()
                .to_string(),
            "-c packet counter not numeric"
        );
        assert_eq!(
            c("-A INPUT -m comment --comment \"a b", true),
            Err(LineError::Words(ParseError::UnterminatedQuote))
        );
    }
}
