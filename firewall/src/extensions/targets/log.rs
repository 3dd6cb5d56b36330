//! `-j LOG` (libxt_LOG, `xt_LOG`): log the packet to the kernel log and go
//! on with the next rule.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{TargetExt, TargetSupport};
use crate::{
    extensions::matches::Given,
    model::{Family, Target},
    parse::{
        ParseError,
        lexer::HasArg::{No, Required},
        matches::{OptSpec, opt, truncate},
        values,
    },
    render::save_string,
};

/// `-j LOG` (libxt_LOG).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Log {
    /// `--log-level`: syslog level 0 (emerg) ..= 7 (debug); default 4.
    pub level: u8,
    /// `--log-prefix`: at most 29 bytes, no newline; empty when not given.
    pub prefix: String,
    /// `--log-tcp-sequence`.
    pub tcp_sequence: bool,
    /// `--log-tcp-options`.
    pub tcp_options: bool,
    /// `--log-ip-options`.
    pub ip_options: bool,
    /// `--log-uid`.
    pub uid: bool,
    /// `--log-macdecode`.
    pub macdecode: bool,
}

impl Log {
    /// `LOG_WARNING`, the default level.
    pub const DEFAULT_LEVEL: u8 = 4;
    /// Longest prefix the kernel keeps (`sizeof(prefix) - 1`).
    pub const MAX_PREFIX: usize = 29;

    /// The flags as the kernel's `logflags` bits (`XT_LOG_*`), which
    /// `-L -n` prints.
    pub fn flag_bits(&self) -> u8 {
        u8::from(self.tcp_sequence)
            | u8::from(self.tcp_options) << 1
            | u8::from(self.ip_options) << 2
            | u8::from(self.uid) << 3
            | u8::from(self.macdecode) << 5
    }
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: Self::DEFAULT_LEVEL,
            prefix: String::new(),
            tcp_sequence: false,
            tcp_options: false,
            ip_options: false,
            uid: false,
            macdecode: false,
        }
    }
}

const LEVEL: u8 = 6;
const PREFIX: u8 = 7;

/// The LOG target.
pub(crate) struct Ext;

impl TargetExt for Ext {
    type Value = Log;
    type Parser = Log;
    const NAME: &'static str = "LOG";
    // Ids 0..=5 are the XT_LOG_* flag bits, as libxt_LOG numbers them.
    const OPTIONS: &'static [OptSpec] = &[
        opt("log-level", LEVEL, Required, false),
        opt("log-prefix", PREFIX, Required, false),
        opt("log-tcp-sequence", 0, No, false),
        opt("log-tcp-options", 1, No, false),
        opt("log-ip-options", 2, No, false),
        opt("log-uid", 3, No, false),
        opt("log-macdecode", 5, No, false),
    ];

    fn option(p: &mut Log, o: Given<'_>, _family: Family) -> Result<(), ParseError> {
        let l = p;
        match o.spec.id {
            LEVEL => l.level = log_level(&o.arg)?,
            PREFIX => {
                if o.arg.is_empty() {
                    return Err(ParseError::ArgumentTooShort {
                        min: 1,
                        written: o.written.to_string(),
                    });
                }
                l.prefix = truncate(&o.arg, Log::MAX_PREFIX);
                if o.arg.contains('\n') {
                    return Err(ParseError::LogPrefixNewline);
                }
            }
            0 => l.tcp_sequence = true,
            1 => l.tcp_options = true,
            2 => l.ip_options = true,
            3 => l.uid = true,
            5 => l.macdecode = true,
            id => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        }
        Ok(())
    }

    fn finish(p: &Log, _family: Family) -> Target {
        Target::Log(p.clone())
    }

    fn save(l: &Log, s: &mut String) {
        if !l.prefix.is_empty() {
            s.push_str(" --log-prefix");
            save_string(s, &l.prefix);
        }
        if l.level != Log::DEFAULT_LEVEL {
            let _ = write!(s, " --log-level {}", l.level);
        }
        for (on, flag) in l.flags() {
            if on {
                let _ = write!(s, " --log-{flag}");
            }
        }
    }

    fn list(l: &Log, out: &mut String, numeric: bool) {
        out.push_str(" LOG");
        if numeric {
            let _ = write!(out, " flags {} level {}", l.flag_bits(), l.level);
        } else {
            match log_level_name(l.level) {
                Some(n) => {
                    let _ = write!(out, " level {n}");
                }
                None => {
                    let _ = write!(out, " UNKNOWN level {}", l.level);
                }
            }
            for (on, name) in l.flags() {
                if on {
                    let _ = write!(out, " {name}");
                }
            }
        }
        if !l.prefix.is_empty() {
            let _ = write!(out, " prefix \"{}\"", l.prefix);
        }
    }

    fn support(l: &Log) -> TargetSupport {
        // The owner of a packet's socket is not known at XDP or TC: the
        // kernel's LOG prints it only for locally generated packets.
        if l.uid {
            return TargetSupport::Refused("-j LOG --log-uid");
        }
        TargetSupport::Kernel("log::xdp, log::tc")
    }
}

impl Log {
    /// The flags with their names (after `--log-`), in libxt_LOG's order.
    fn flags(&self) -> [(bool, &'static str); 5] {
        [
            (self.tcp_sequence, "tcp-sequence"),
            (self.tcp_options, "tcp-options"),
            (self.ip_options, "ip-options"),
            (self.uid, "uid"),
            (self.macdecode, "macdecode"),
        ]
    }
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
    fn log_levels() {
        for (text, want) in [
            ("7", 7),
            ("debug", 7),
            ("panic", 0),
        ] {
            assert_eq!(log_level(text), Ok(want), "{text}");
        }
        for bad in ["DEBUG", "warn", "err", "8"] {
            assert_eq!(log_level(bad), Err(ParseError::UnknownLogLevel(bad.into())));
        }
        assert_eq!(log_level_name(4), Some("warn"));
        assert_eq!(log_level_name(3), Some("err"));
    }
}

