//! The target extensions fw parses (iptables-extensions(8) "TARGET
//! EXTENSIONS"): REJECT and LOG, whose options join the option table after
//! `-j`, as iptables merges a target's options.

use super::{error::ParseError, lexer::HasArg, matches::OptSpec, values};
use crate::model::{Log, RejectWith, Target};

use HasArg::{No, Required};

/// A target extension with options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TargetModule {
    Reject,
    Log,
}

const fn opt(name: &'static str, id: u8, has_arg: HasArg) -> OptSpec {
    OptSpec {
        name,
        id,
        has_arg,
        invert: false,
        mand: false,
        excl: 0,
        unsupported: false,
    }
}

const REJECT_OPTS: &[OptSpec] = &[opt("reject-with", 0, Required)];

const LOG_LEVEL: u8 = 6;
const LOG_PREFIX: u8 = 7;
// Ids 0..=5 are the XT_LOG_* flag bits, as libxt_LOG numbers them.
const LOG_OPTS: &[OptSpec] = &[
    opt("log-level", LOG_LEVEL, Required),
    opt("log-prefix", LOG_PREFIX, Required),
    opt("log-tcp-sequence", 0, No),
    opt("log-tcp-options", 1, No),
    opt("log-ip-options", 2, No),
    opt("log-uid", 3, No),
    opt("log-macdecode", 5, No),
];

impl TargetModule {
    /// The target extension `-j NAME` loads, if fw parses it.
    pub(crate) fn by_name(name: &str) -> Option<Self> {
        match name {
            "REJECT" => Some(Self::Reject),
            "LOG" => Some(Self::Log),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Reject => "REJECT",
            Self::Log => "LOG",
        }
    }

    /// Its options.
    pub(crate) fn options(self) -> &'static [OptSpec] {
        match self {
            Self::Reject => REJECT_OPTS,
            Self::Log => LOG_OPTS,
        }
    }
}

/// A loaded target extension and the options given to it so far.
#[derive(Clone, Debug)]
pub(crate) struct TargetInstance {
    pub module: TargetModule,
    given: u32,
    reject: RejectWith,
    log: Log,
}

impl TargetInstance {
    pub(crate) fn new(module: TargetModule) -> Self {
        Self {
            module,
            given: 0,
            reject: RejectWith::default(),
            log: Log::default(),
        }
    }

    /// Handles one option (libxtables' generic checks, then the value).
    pub(crate) fn option(
        &mut self,
        spec: &OptSpec,
        written: &str,
        arg: Option<String>,
        invert: bool,
    ) -> Result<(), ParseError> {
        let module = self.module.name();
        let bit = 1u32 << spec.id;
        if self.given & bit != 0 {
            return Err(ParseError::OptionOnce {
                module,
                option: spec.name,
                written: written.to_string(),
            });
        }
        if invert {
            return Err(ParseError::CannotInvertOption {
                module,
                option: spec.name,
            });
        }
        let arg = arg.unwrap_or_default();
        match (self.module, spec.id) {
            (TargetModule::Reject, _) => self.reject = reject_with(&arg)?,
            (TargetModule::Log, LOG_LEVEL) => self.log.level = log_level(&arg)?,
            (TargetModule::Log, LOG_PREFIX) => {
                if arg.is_empty() {
                    return Err(ParseError::ArgumentTooShort {
                        min: 1,
                        written: written.to_string(),
                    });
                }
                self.log.prefix = super::matches::truncate(&arg, Log::MAX_PREFIX);
                if arg.contains('\n') {
                    return Err(ParseError::LogPrefixNewline);
                }
            }
            (TargetModule::Log, 0) => self.log.tcp_sequence = true,
            (TargetModule::Log, 1) => self.log.tcp_options = true,
            (TargetModule::Log, 2) => self.log.ip_options = true,
            (TargetModule::Log, 3) => self.log.uid = true,
            (TargetModule::Log, _) => self.log.macdecode = true,
        }
        self.given |= bit;
        Ok(())
    }

    /// The target.
    pub(crate) fn finish(&self) -> Target {
        match self.module {
            TargetModule::Reject => Target::Reject(self.reject),
            TargetModule::Log => Target::Log(self.log.clone()),
        }
    }
}

/// libipt_REJECT: the first type whose name or alias `arg` abbreviates
/// (any case), in the table's order.
fn reject_with(arg: &str) -> Result<RejectWith, ParseError> {
    let abbreviates =
        |name: &str| arg.len() <= name.len() && name[..arg.len()].eq_ignore_ascii_case(arg);
    RejectWith::TABLE
        .iter()
        .find(|(_, name, alias)| abbreviates(name) || abbreviates(alias))
        .map(|(w, _, _)| *w)
        .ok_or_else(|| ParseError::UnknownRejectType(arg.to_string()))
}

/// libxtables' `XTTYPE_SYSLOGLEVEL`: 0..=7 (strtoul base 0) or one of its
/// names (case-sensitive).
fn log_level(arg: &str) -> Result<u8, ParseError> {
    if let Some(n) = values::strtoui(arg, 0, 7) {
        return Ok(n as u8);
    }
    const NAMES: [(&str, u8); 9] = [
        ("alert", 1),
        ("crit", 2),
        ("debug", 7),
        ("emerg", 0),
        ("error", 3),
        ("info", 6),
        ("notice", 5),
        ("panic", 0),
        ("warning", 4),
    ];
    NAMES
        .iter()
        .find(|(n, _)| *n == arg)
        .map(|(_, l)| *l)
        .ok_or_else(|| ParseError::UnknownLogLevel(arg.to_string()))
}

/// The name `-L` prints for a syslog level (glibc's `prioritynames`, first
/// match).
pub(crate) fn log_level_name(level: u8) -> Option<&'static str> {
    Some(match level {
        0 => "emerg",
        1 => "alert",
        2 => "crit",
        3 => "err",
        4 => "warn",
        5 => "notice",
        6 => "info",
        7 => "debug",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_types_abbreviate_in_table_order() {
        assert_eq!(reject_with("tcp-reset"), Ok(RejectWith::TcpReset));
        assert_eq!(reject_with("tcp-rst"), Ok(RejectWith::TcpReset));
        assert_eq!(
            reject_with("ICMP-HOST-PROHIB"),
            Ok(RejectWith::HostProhibited)
        );
        assert_eq!(reject_with("icmp"), Ok(RejectWith::NetUnreachable));
        assert_eq!(reject_with(""), Ok(RejectWith::NetUnreachable));
        assert_eq!(reject_with("admin"), Ok(RejectWith::AdminProhibited));
        assert_eq!(
            reject_with("icmp6-adm-prohibited"),
            Err(ParseError::UnknownRejectType("icmp6-adm-prohibited".into()))
        );
    }

    #[test]
    fn log_levels() {
        assert_eq!(log_level("7"), Ok(7));
        assert_eq!(log_level("debug"), Ok(7));
        assert_eq!(log_level("panic"), Ok(0));
        for bad in ["DEBUG", "warn", "err", "8"] {
            assert_eq!(log_level(bad), Err(ParseError::UnknownLogLevel(bad.into())));
        }
        assert_eq!(log_level_name(4), Some("warn"));
        assert_eq!(log_level_name(3), Some("err"));
    }
}
