//! [`ParseError`]: everything the command-line grammar can refuse, worded as
//! iptables 1.8.9 (legacy) words it.
//!
//! `Display` gives the message text without iptables' `"iptables v1.8.9
//! (legacy): "` prefix. [`ParseError::iptables_stderr`] rebuilds the whole
//! stderr text (prefix, blank lines, the "Try ..." hint) exactly as
//! iptables-legacy 1.8.9 prints it, for byte-for-byte comparisons.

/// A refused command line or rule specification.
///
/// Every variant's `Display` is the message iptables 1.8.9 (legacy) prints
/// for the same input (checked against the real binary in a network
/// namespace), except the fw-only variants [`ParseError::NotSupported`],
/// [`ParseError::Ipv6`], [`ParseError::UnterminatedQuote`] and the deviations
/// documented on [`ParseError::MatchNeedsProtocol`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No command (`-A`, `-L`, ...) on the line.
    #[error("no command specified")]
    NoCommand,

    /// Two commands on one line, e.g. `-A INPUT -D INPUT 1`: `new` is the
    /// later one.
    #[error("Cannot use -{new} with -{old}")]
    CommandConflict {
        /// The command letter that was refused.
        new: char,
        /// The command letter given first.
        old: char,
    },

    /// `!` before a command, e.g. `! -A INPUT`.
    #[error("unexpected '!' flag")]
    BangBeforeCommand(char),

    /// `!` before `-m` or `-t`; `option` is the long name (`match`, `table`).
    #[error("unexpected ! flag before --{option}")]
    BangBeforeOption {
        /// `match` or `table`.
        option: &'static str,
    },

    /// `!` before an option that cannot be inverted (`-j`, `-v`, `-n`, ...).
    /// The letter is iptables' internal one (`0` for `--line-numbers`).
    #[error("cannot have ! before -{0}")]
    CannotInvert(char),

    /// `! !`.
    #[error("multiple consecutive ! not allowed")]
    MultipleBang,

    /// A `!` at the end of the line.
    #[error("nothing appropriate following !")]
    DanglingBang,

    /// The same basic option twice (`-s ... -s ...`). The letter is
    /// iptables' internal one (`0` for `--line-numbers`).
    #[error("multiple -{0} flags not allowed")]
    DuplicateOption(char),

    /// An option the command does not take (iptables(8)'s table of legal
    /// command/option pairs, e.g. `-n` with `-A`). fw also refuses `-m` with
    /// a command that takes no rule, where iptables ignores it.
    #[error("Illegal option `-{0}' with this command")]
    IllegalOption(char),

    /// An option that needs a value came last. Holds the option as written.
    #[error("option \"{0}\" requires an argument")]
    MissingArgument(String),

    /// An option no loaded module knows, as written (e.g. `--dport` without
    /// `-p tcp`), or an ambiguous abbreviation.
    #[error("unknown option \"{0}\"")]
    UnknownOption(String),

    /// A word that is not an option where an option was expected.
    #[error("Bad argument `{0}'")]
    BadArgument(String),

    /// Words after `--`. Holds the first one.
    #[error("unknown arguments found on commandline")]
    TrailingArguments(String),

    /// A rule number that is not an integer in 1..=2147483647.
    #[error("Invalid rule number `{0}'")]
    InvalidRuleNumber(String),

    /// A chain name of 29 bytes or more (iptables' `XT_EXTENSION_MAXNAMELEN`).
    #[error("chain name `{0}' too long (must be under 29 chars)")]
    ChainNameTooLong(String),

    /// `-P` with a chain that is not built in (reported only when the policy
    /// is bad too; otherwise the caller checks the chain). libiptc's error:
    /// exit status 1, prefix `iptables: `.
    #[error("Bad built-in chain name.")]
    BadBuiltinChain(String),

    /// A chain fw does not have (only INPUT, FORWARD, OUTPUT exist). The
    /// parser reports it only before its own "not supported yet" refusals,
    /// to keep iptables' order; otherwise the caller checks the chain.
    /// Exit status 1, prefix `iptables: `.
    #[error("No chain/target/match by that name.")]
    NoSuchChain(String),

    /// `-P CHAIN` without a policy.
    #[error("-P requires a chain and a policy")]
    MissingPolicy,

    /// A policy other than `ACCEPT` or `DROP`. iptables reports this from
    /// libiptc, so it exits with status 1 and prefixes `iptables: `.
    #[error("Bad policy name. Run `dmesg' for more information.")]
    BadPolicy(String),

    /// `-p` with a name or number that is not an IP protocol (0..=255).
    /// Holds the argument lower-cased, as iptables prints it.
    #[error("unknown protocol \"{0}\" specified")]
    UnknownProtocol(String),

    /// `! -p all` (or `! -p 0`): a rule that can never match. Holds the
    /// argument as written.
    #[error("rule would never match protocol")]
    NeverMatchProtocol(String),

    /// `-s`/`-d` with something that is not an IPv4 address.
    #[error("host/network `{0}' not found")]
    HostNotFound(String),

    /// `-s`/`-d` with a bad `/mask` (not 0..=32, not a dotted quad).
    #[error("invalid mask `{0}' specified")]
    InvalidMask(String),

    /// `-i`/`-o` with a name of 16 bytes or more (`IFNAMSIZ` is 16).
    #[error("interface name `{0}' must be shorter than IFNAMSIZ (15)")]
    InterfaceTooLong(String),

    /// `-i ""` or `-o ""`.
    #[error("Empty interface is likely to be undesired")]
    EmptyInterface,

    /// `-o` with INPUT, `-i` with OUTPUT (the packet has no such interface).
    #[error("Can't use -{option} with {chain}")]
    InterfaceNotAllowed {
        /// `i` or `o`.
        option: char,
        /// The chain named on the command line.
        chain: String,
    },

    /// `--sport`/`--dport` with something that is neither a number in
    /// 0..=65535 nor a service of /etc/services for that protocol.
    #[error("invalid port/service `{0}' specified")]
    InvalidPort(String),

    /// A port range `A:B` with A > B. Holds the whole range. (For udp,
    /// iptables 1.8.9 accepts such a range, which then matches nothing; fw
    /// refuses it as iptables does for tcp.)
    #[error("invalid portrange (min > max)")]
    InvalidPortRange(String),

    /// udp's `--sport`/`--dport` with something that is neither a decimal
    /// number 0..=65535 nor a service of /etc/services (libxt_udp looks names
    /// up for any protocol). iptables 1.8.9 accepts, and silently truncates,
    /// numbers above 65535 (`99999` becomes 34463) and takes `""` as port 0;
    /// fw refuses both with this message.
    #[error("Port \"{0}\" does not resolve to anything.")]
    PortNotResolved(String),

    /// udp's `--sport`/`--dport` with more than two `:`-separated parts.
    #[error("{module}: Too many components for option \"--{option}\" (max: 2)")]
    TooManyPortComponents {
        /// `udp`.
        module: &'static str,
        /// The canonical name: `source-port` or `destination-port`.
        option: &'static str,
        /// The whole argument.
        value: String,
    },

    /// `--sport` or `--dport` twice for one `-m udp` (libxt_udp's wording).
    #[error("{module}: option \"--{option}\" can only be used once.")]
    OptionOnce {
        /// `udp`.
        module: &'static str,
        /// The canonical name: `source-port` or `destination-port`.
        option: &'static str,
        /// The option as written, e.g. `--dport`.
        written: String,
    },

    /// `--sport` or `--dport` twice for one `-m tcp` (libxt_tcp's wording).
    #[error("Only one `--{option}' allowed")]
    DuplicatePortOption {
        /// The canonical name: `source-port` or `destination-port`.
        option: &'static str,
        /// The option as written, e.g. `--dport`.
        written: String,
    },

    /// `-m` with a module iptables does not have.
    #[error("Couldn't load match `{0}':No such file or directory")]
    UnknownMatch(String),

    /// `-j` with a target that is neither built in nor an extension (fw has
    /// no user-defined chains, so it is never a chain either).
    #[error("Couldn't load target `{0}':No such file or directory")]
    UnknownTarget(String),

    /// `-j ""`.
    #[error("Invalid target name (too short)")]
    EmptyTargetName,

    /// A target name of 29 bytes or more.
    #[error("Invalid target name `{0}' (28 chars max)")]
    TargetNameTooLong(String),

    /// A target name with white space in it.
    #[error("Invalid target name `{0}'")]
    InvalidTargetName(String),

    /// `-m tcp`/`-m udp` without `-p tcp`/`-p udp` (or with `! -p`). The
    /// kernel refuses such a rule: iptables prints "iptables: Invalid
    /// argument. Run `dmesg' for more information." and exits 1. fw's
    /// message is the line the kernel logs instead, which says why.
    #[error("{module} match: only valid for protocol {protocol}")]
    MatchNeedsProtocol {
        /// `tcp` or `udp`.
        module: &'static str,
        /// 6 or 17.
        protocol: u8,
    },

    /// `-w` with a value that is not a number.
    #[error("wait seconds not numeric")]
    WaitNotNumeric(String),

    /// `-W` with a value that is not a number.
    #[error("wait interval not numeric")]
    WaitIntervalNotNumeric(String),

    /// `-W` without a value.
    #[error("wait interval value required")]
    WaitIntervalRequired,

    /// `-W` without `-w`.
    #[error("--wait-interval only makes sense with --wait")]
    WaitIntervalWithoutWait,

    /// `-t` with a table the kernel does not have. Exit status 3.
    #[error("can't initialize iptables table `{0}': Table does not exist (do you need to insmod?)")]
    UnknownTable(String),

    /// `-6`: fw filters IPv4 only (iptables exits 2 printing only its
    /// "Try ..." hint).
    #[error("-6 is not accepted: fw filters IPv4 only")]
    Ipv6,

    /// A `"` without its closing `"` in a rule specification (iptables-restore
    /// would silently swallow the rest of the line into the argument).
    #[error("unterminated quote in rule specification")]
    UnterminatedQuote,

    /// An iptables feature fw does not enforce yet. fw refuses it rather than
    /// ignore it: ignoring a match would widen the rule.
    #[error("not supported yet: {what}")]
    NotSupported {
        /// What is missing, naming the token, e.g. `-m conntrack`.
        what: String,
        /// The offending token, if there is one.
        token: Option<String>,
    },
}

impl ParseError {
    /// A [`ParseError::NotSupported`] naming `token`.
    pub(crate) fn unsupported(what: impl Into<String>, token: impl Into<String>) -> Self {
        Self::NotSupported {
            what: what.into(),
            token: Some(token.into()),
        }
    }

    /// iptables' exit status for this error: 2 (`PARAMETER_PROBLEM`) for
    /// every error iptables finds while parsing; 1 for the errors it only
    /// learns from libiptc or the kernel ([`ParseError::BadPolicy`],
    /// [`ParseError::BadBuiltinChain`], [`ParseError::NoSuchChain`],
    /// [`ParseError::MatchNeedsProtocol`]); 3 (`VERSION_PROBLEM`) for
    /// [`ParseError::UnknownTable`].
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::BadPolicy(_)
            | Self::BadBuiltinChain(_)
            | Self::NoSuchChain(_)
            | Self::MatchNeedsProtocol { .. } => 1,
            Self::UnknownTable(_) => 3,
            _ => 2,
        }
    }

    /// The offending token, if any (e.g. `"99999"`, `"--dport"`).
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::NoCommand
            | Self::MissingPolicy
            | Self::EmptyInterface
            | Self::EmptyTargetName
            | Self::WaitIntervalWithoutWait
            | Self::WaitIntervalRequired
            | Self::UnterminatedQuote => None,
            Self::CommandConflict { new: c, .. }
            | Self::BangBeforeCommand(c)
            | Self::CannotInvert(c)
            | Self::DuplicateOption(c)
            | Self::IllegalOption(c) => Some(flag_text(*c)),
            Self::BangBeforeOption { option } => Some(if *option == "match" { "-m" } else { "-t" }),
            Self::MultipleBang | Self::DanglingBang => Some("!"),
            Self::InterfaceNotAllowed { option, .. } => Some(flag_text(*option)),
            Self::MatchNeedsProtocol { module, .. } => Some(module),
            Self::Ipv6 => Some("-6"),
            Self::DuplicatePortOption { written, .. } | Self::OptionOnce { written, .. } => {
                Some(written)
            }
            Self::TooManyPortComponents { value, .. } => Some(value),
            Self::NotSupported { token, .. } => token.as_deref(),
            Self::MissingArgument(t)
            | Self::UnknownOption(t)
            | Self::BadArgument(t)
            | Self::TrailingArguments(t)
            | Self::InvalidRuleNumber(t)
            | Self::ChainNameTooLong(t)
            | Self::BadPolicy(t)
            | Self::BadBuiltinChain(t)
            | Self::NoSuchChain(t)
            | Self::UnknownProtocol(t)
            | Self::NeverMatchProtocol(t)
            | Self::HostNotFound(t)
            | Self::InvalidMask(t)
            | Self::InterfaceTooLong(t)
            | Self::InvalidPort(t)
            | Self::InvalidPortRange(t)
            | Self::PortNotResolved(t)
            | Self::UnknownMatch(t)
            | Self::UnknownTarget(t)
            | Self::TargetNameTooLong(t)
            | Self::InvalidTargetName(t)
            | Self::WaitNotNumeric(t)
            | Self::WaitIntervalNotNumeric(t)
            | Self::UnknownTable(t) => Some(t),
        }
    }

    /// The whole stderr text iptables-legacy 1.8.9 prints for this error,
    /// with `program` for "iptables" and `version` for "v1.8.9 (legacy)":
    /// `iptables_stderr("iptables", "v1.8.9 (legacy)")` reproduces it byte
    /// for byte, including the empty line some messages end with and the
    /// "Try `iptables -h' ..." hint of parameter problems. For the errors
    /// iptables gets from the kernel it is iptables' own vaguer text.
    pub fn iptables_stderr(&self, program: &str, version: &str) -> String {
        let try_help = format!("Try `{program} -h' or '{program} --help' for more information.\n");
        match self {
            Self::BadArgument(_) => format!("{self}\n{try_help}"),
            Self::BadPolicy(_) | Self::BadBuiltinChain(_) | Self::NoSuchChain(_) => {
                format!("{program}: {self}\n")
            }
            Self::MatchNeedsProtocol { .. } => {
                format!("{program}: Invalid argument. Run `dmesg' for more information.\n")
            }
            Self::WaitIntervalWithoutWait => format!(
                "Ignoring deprecated --wait-interval option.\n{program} {version}: {self}\n\n{try_help}"
            ),
            Self::UnknownTable(_) => format!(
                "{program} {version}: {self}\nPerhaps iptables or your kernel needs to be upgraded.\n"
            ),
            Self::Ipv6 => try_help,
            // These format strings end in "\n" in iptables, hence the blank line.
            Self::InterfaceNotAllowed { .. }
            | Self::UnknownMatch(_)
            | Self::UnknownTarget(_)
            | Self::PortNotResolved(_)
            | Self::TooManyPortComponents { .. }
            | Self::OptionOnce { .. } => {
                format!("{program} {version}: {self}\n\n{try_help}")
            }
            _ => format!("{program} {version}: {self}\n{try_help}"),
        }
    }
}

/// The option an iptables option letter stands for, for [`ParseError::token`].
fn flag_text(c: char) -> &'static str {
    match c {
        'A' => "-A",
        'C' => "-C",
        'D' => "-D",
        'E' => "-E",
        'F' => "-F",
        'I' => "-I",
        'L' => "-L",
        'N' => "-N",
        'P' => "-P",
        'R' => "-R",
        'S' => "-S",
        'X' => "-X",
        'Z' => "-Z",
        'c' => "-c",
        'd' => "-d",
        'f' => "-f",
        'i' => "-i",
        'j' => "-j",
        'm' => "-m",
        'n' => "-n",
        'o' => "-o",
        'p' => "-p",
        's' => "-s",
        'v' => "-v",
        'x' => "-x",
        '0' => "--line-numbers",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_iptables() {
        assert_eq!(ParseError::InvalidPort("99999".into()).exit_code(), 2);
        assert_eq!(ParseError::BadPolicy("REJECT".into()).exit_code(), 1);
        let e = ParseError::MatchNeedsProtocol {
            module: "tcp",
            protocol: 6,
        };
        assert_eq!(e.exit_code(), 1);
        assert_eq!(ParseError::UnknownTable("foo".into()).exit_code(), 3);
        assert_eq!(
            ParseError::unsupported("-m conntrack", "conntrack").exit_code(),
            2
        );
    }

    #[test]
    fn tokens() {
        assert_eq!(
            ParseError::InvalidPort("99999".into()).token(),
            Some("99999")
        );
        assert_eq!(
            ParseError::UnknownOption("--dport".into()).token(),
            Some("--dport")
        );
        assert_eq!(
            ParseError::IllegalOption('0').token(),
            Some("--line-numbers")
        );
        assert_eq!(ParseError::NoCommand.token(), None);
    }

    #[test]
    fn stderr_texts_as_iptables_prints_them() {
        let v = "v1.8.9 (legacy)";
        let try_help = "Try `iptables -h' or 'iptables --help' for more information.\n";
        assert_eq!(
            ParseError::InvalidMask("33".into()).iptables_stderr("iptables", v),
            format!("iptables v1.8.9 (legacy): invalid mask `33' specified\n{try_help}")
        );
        assert_eq!(
            ParseError::InterfaceNotAllowed {
                option: 'o',
                chain: "INPUT".into()
            }
            .iptables_stderr("iptables", v),
            format!("iptables v1.8.9 (legacy): Can't use -o with INPUT\n\n{try_help}")
        );
        assert_eq!(
            ParseError::BadArgument("extra".into()).iptables_stderr("iptables", v),
            format!("Bad argument `extra'\n{try_help}")
        );
        assert_eq!(
            ParseError::BadPolicy("REJECT".into()).iptables_stderr("iptables", v),
            "iptables: Bad policy name. Run `dmesg' for more information.\n"
        );
    }
}
