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

    /// An `XTTYPE_HOST` option that is neither an address nor a name.
    #[error("getaddrinfo: Name or service not known")]
    HostUnresolved(String),

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

    /// udp's `--sport`/`--dport` (or length's `--length`) with more than two
    /// `:`-separated parts.
    #[error("{module}: Too many components for option \"--{option}\" (max: 2)")]
    TooManyPortComponents {
        /// `udp` or `length`.
        module: &'static str,
        /// The canonical name: `source-port` or `destination-port`.
        option: &'static str,
        /// The whole argument.
        value: String,
    },

    /// An option given twice to one match or target that uses libxtables'
    /// option parser (udp, icmp, multiport, conntrack, limit, ...), e.g.
    /// `--sport` twice for one `-m udp`.
    #[error("{module}: option \"--{option}\" can only be used once.")]
    OptionOnce {
        /// The extension: `udp`, `icmp`, `limit`, `LOG`, ...
        module: &'static str,
        /// The option's canonical (first) name, e.g. `source-port`.
        option: &'static str,
        /// The option as written, e.g. `--dport`.
        written: String,
    },

    /// `--sport`, `--dport` or `--tcp-option` twice for one `-m tcp`
    /// (libxt_tcp's wording).
    #[error("Only one `--{option}' allowed")]
    DuplicatePortOption {
        /// The canonical name: `source-port`, `destination-port` or
        /// `tcp-option`.
        option: &'static str,
        /// The option as written, e.g. `--dport`.
        written: String,
    },

    /// `-m` with a module iptables does not have.
    #[error("Couldn't load match `{0}':No such file or directory")]
    UnknownMatch(String),

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

    /// `-W` with more than 999999 microseconds.
    #[error("too long usec wait {0} > 999999 usec")]
    WaitIntervalTooLong(u32),

    /// `-W` without `-w`.
    #[error("--wait-interval only makes sense with --wait")]
    WaitIntervalWithoutWait,

    /// `-t` with a table the kernel does not have. Exit status 3.
    #[error("can't initialize iptables table `{0}': Table does not exist (do you need to insmod?)")]
    UnknownTable(String),

    /// `-t` on a line of an iptables-restore file.
    #[error("The -t option cannot be used in iptables-restore.")]
    TableInRestore,

    /// `-6` in an IPv4 command (iptables exits 2 printing only its
    /// "Try ..." hint): IPv6 commands are `fw -6 ...` or `fw6 ...`.
    #[error("-6 is not accepted in an IPv4 command (IPv6 is `fw -6' or `fw6')")]
    Ipv6,

    /// `-4` in an IPv6 command (ip6tables exits 2 printing only its
    /// "Try ..." hint).
    #[error("-4 is not accepted in an IPv6 command")]
    Ipv4,

    /// `-f` in an IPv6 command (ip6tables(8): no fragment flag in IPv6).
    #[error("`-f' is not supported in IPv6, use -m frag instead")]
    FragmentInIpv6,

    /// A `"` without its closing `"` in a rule specification (iptables-restore
    /// would silently swallow the rest of the line into the argument).
    #[error("unterminated quote in rule specification")]
    UnterminatedQuote,

    /// `!` before an extension option that cannot be inverted.
    #[error("{module}: option \"--{option}\" cannot be inverted.")]
    CannotInvertOption {
        /// The extension.
        module: &'static str,
        /// The option's canonical name.
        option: &'static str,
    },

    /// A mandatory option of an extension is missing (e.g. `-m comment`
    /// without `--comment`).
    #[error("{module}: option \"--{option}\" must be specified")]
    MissingOption {
        /// The extension.
        module: &'static str,
        /// The option's canonical name.
        option: &'static str,
    },

    /// Two options of one extension that exclude each other.
    #[error("{module}: option \"--{option}\" cannot be used together with \"--{other}\".")]
    ExclusiveOptions {
        /// The extension.
        module: &'static str,
        /// The option found first in the extension's option table.
        option: &'static str,
        /// The other one.
        other: &'static str,
    },

    /// An extension option given without one it needs (libxtables'
    /// `also`).
    #[error("{module}: option \"--{option}\" also requires \"--{other}\".")]
    AlsoRequires {
        /// The extension.
        module: &'static str,
        /// The option given.
        option: &'static str,
        /// The option it needs.
        other: &'static str,
    },

    /// A number out of range for an extension option (libxtables'
    /// integer types), e.g. `--ttl-lt 256`.
    #[error("{module}: bad value for option \"--{option}\", or out of range ({min}-{max}).")]
    BadOptionValue {
        /// The extension.
        module: &'static str,
        /// The option's canonical name.
        option: &'static str,
        /// The argument.
        value: String,
        /// Smallest value allowed.
        min: u64,
        /// Largest value allowed.
        max: u64,
    },

    /// A bad component of a `MIN[:MAX]` option (libxtables' range types),
    /// e.g. `--length 100:65536`. `near` is the rest of the argument from the
    /// bad component on.
    #[error(
        "{module}: bad value for option \"--{option}\" near \"{near}\", or out of range (0-{max})."
    )]
    BadRangeValue {
        /// The extension.
        module: &'static str,
        /// The option's canonical name.
        option: &'static str,
        /// The argument from the bad component on.
        near: String,
        /// Largest value allowed.
        max: u64,
    },

    /// Characters after a number in a `MIN[:MAX]` option, e.g. `--length 5x`.
    #[error("{module}: Argument to \"--{option}\" has unexpected characters near \"{near}\".")]
    RangeTrailingCharacters {
        /// The extension.
        module: &'static str,
        /// The option's canonical name.
        option: &'static str,
        /// The argument from the unexpected character on.
        near: String,
    },

    /// An empty string where at least `min` characters are needed
    /// (`--log-prefix ""`).
    #[error("Argument must have a minimum length of {min} characters")]
    ArgumentTooShort {
        /// The minimum length.
        min: usize,
        /// The option as written.
        written: String,
    },

    /// A module's own final check failed: it needs one of its options
    /// (`-m multiport`, `-m conntrack`, `-m ttl`, ...). Holds iptables'
    /// message for the module.
    #[error("{message}")]
    ModuleNeedsOption {
        /// The extension.
        module: &'static str,
        /// iptables' message, e.g. "multiport expection an option" (sic).
        message: &'static str,
    },

    /// `--tcp-flags` with a flag name that does not exist.
    #[error("Unknown TCP flag `{0}'")]
    UnknownTcpFlag(String),

    /// `--tcp-flags MASK` without the second argument.
    #[error("--tcp-flags requires two args.")]
    TcpFlagsNeedTwoArgs,

    /// `--syn` and `--tcp-flags` (or either twice) in one tcp match.
    #[error("Only one of `--syn' or `--tcp-flags'  allowed")]
    SynAndTcpFlags(String),

    /// `--tcp-option` outside 1..=255.
    #[error("Bad TCP option \"{0}\"")]
    BadTcpOption(String),

    /// An abbreviation of two ICMP type names.
    #[error("Ambiguous ICMP type `{given}': `{first}' or `{second}'?")]
    AmbiguousIcmpType {
        /// The argument.
        given: String,
        /// The first name it abbreviates.
        first: &'static str,
        /// The second name it abbreviates.
        second: &'static str,
    },

    /// `--icmp-type` that is neither a name nor a type number 0..=255.
    #[error("Unknown ICMP type `{0}'")]
    UnknownIcmpType(String),

    /// `--icmp-type TYPE/CODE` with a bad code.
    #[error("Unknown ICMP code `{0}'")]
    UnknownIcmpCode(String),

    /// An abbreviation of two ICMPv6 type names (`-m icmp6`).
    #[error("Ambiguous ICMPv6 type `{given}': `{first}' or `{second}'?")]
    AmbiguousIcmp6Type {
        /// The argument.
        given: String,
        /// The first name it abbreviates.
        first: &'static str,
        /// The second.
        second: &'static str,
    },

    /// `--icmpv6-type` that is neither a name nor a type number 0..=255.
    #[error("Unknown ICMPv6 type `{0}'")]
    UnknownIcmp6Type(String),

    /// `--icmpv6-type TYPE/CODE` with a bad code.
    #[error("Unknown ICMPv6 code `{0}'")]
    UnknownIcmp6Code(String),

    /// `--icmp-type` with characters after the number.
    #[error("unknown character {0}")]
    IcmpUnknownCharacter(char),

    /// More than 15 ports (a range counts two) in `-m multiport`.
    #[error("too many ports specified")]
    TooManyPorts(String),

    /// A multiport range `A:B` with A >= B.
    #[error("invalid portrange specified")]
    MultiportBadRange(String),

    /// `-m multiport` without `-p`.
    #[error("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'")]
    MultiportNeedsProtocol,

    /// `-m multiport` with `! -p` or a protocol without ports.
    #[error("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP")]
    MultiportWrongProtocol,

    /// `--ctstate` with a state conntrack does not know; holds the list
    /// from the bad state on, as iptables prints it.
    #[error("Bad ctstate \"{0}\"")]
    BadCtState(String),

    /// `--state` with a state the state match does not know.
    #[error("Bad state \"{0}\"")]
    BadState(String),

    /// `--state` ending in a comma.
    #[error("\"--state\" requires a list of states with no spaces, e.g. ESTABLISHED,RELATED")]
    StateListEmpty,

    /// libxtables' `XTF_BAD_VALUE` for a module's option (`-m owner
    /// --uid-owner nosuchuser`).
    #[error("{module}: Bad value for \"--{option}\" option: \"{value}\"")]
    BadValue {
        /// The extension.
        module: &'static str,
        /// The option's canonical name.
        option: &'static str,
        /// The argument (or libxtables' explanation in its place).
        value: String,
    },

    /// `-m set` naming a set that does not exist (libxt_set's
    /// `get_set_byname`; for fw, `fw set`'s sets).
    #[error("Set {0} doesn't exist.")]
    NoSuchSet(String),

    /// `-m set` naming a set of the other family (libxt_set's
    /// `get_set_byname`): an inet set in ip6tables, an inet6 one in
    /// iptables.
    #[error("The protocol family of set {name} is {family}, which is not applicable.")]
    SetFamily {
        /// The set.
        name: String,
        /// "IPv4" or "IPv6".
        family: &'static str,
    },

    /// A module's own parameter problem, as its `xtables_error` words it
    /// (`policy match: invalid dir "sideways"`); `token` is what the user
    /// wrote that it is about.
    #[error("{message}")]
    ModuleProblem {
        /// iptables' message.
        message: String,
        /// The word it is about.
        token: String,
    },

    /// `--ctdir` neither `ORIGINAL` nor `REPLY` (libxt_conntrack).
    #[error("conntrack: Bad value for \"--ctdir\" option: \"{0}\"")]
    BadCtDir(String),

    /// `--src-range`/`--dst-range` with a bad address.
    #[error("iprange: Bad value for \"--{option}\" option: \"{value}\"")]
    BadIpRange {
        /// `src-range` or `dst-range`.
        option: &'static str,
        /// The bad address.
        value: String,
    },

    /// `--mark` whose value or mask is no number up to 2^32 - 1
    /// (libxtables' `XTTYPE_MARKMASK32`).
    #[error("mark: bad integer value for option \"--mark\", or out of range.")]
    BadMark {
        /// The argument.
        value: String,
    },

    /// `--mark` with something after its value and mask.
    #[error("mark: trailing garbage after value for option \"--mark\".")]
    MarkTrailingGarbage(String),

    /// `-m hashlimit`'s `XTF_BAD_VALUE`: a rate or mode it cannot read.
    #[error("hashlimit: Bad value for \"{option}\" option: \"{value}\"")]
    HashlimitBadValue {
        /// The option as written in the message (`--hashlimit-upto`).
        option: &'static str,
        /// The argument.
        value: String,
    },

    /// `--hashlimit-srcmask`/`--hashlimit-dstmask` that is neither a
    /// number nor a netmask.
    #[error(
        "hashlimit: bad value for option \"--{option}\", neither a valid network mask nor valid CIDR (0-32)."
    )]
    HashlimitBadMask {
        /// The option's name.
        option: &'static str,
        /// The argument.
        value: String,
    },

    /// An address option's `/N` beyond the family's prefixes
    /// (`XTTYPE_HOSTMASK` in ip6tables: 0-128).
    #[error(
        "{module}: bad value for option \"--{option}\", neither a valid network mask nor valid CIDR (0-{max})."
    )]
    BadCidr {
        /// The module.
        module: &'static str,
        /// The option's name.
        option: &'static str,
        /// The argument.
        value: String,
        /// The longest prefix.
        max: u8,
    },

    /// An IPv4 address where ip6tables' libxtables asks getaddrinfo for an
    /// IPv6 one (`-m conntrack --ctorigsrc 192.0.2.1` in ip6tables).
    #[error("getaddrinfo: Address family for hostname not supported")]
    AddressFamily,

    /// `--hashlimit-burst` out of 1..=1000000.
    #[error("bad value for option \"--hashlimit-burst\", or out of range (1-1000000).")]
    HashlimitBurst,

    /// `--mac-source` that is not six `:`-separated hex bytes.
    #[error("Invalid MAC address specified.")]
    BadMac(String),

    /// `--limit` above 10000/s.
    #[error("Rate too fast \"{0}\"")]
    RateTooFast(String),

    /// `--limit` that is not `N[/second|minute|hour|day]` (iptables' message
    /// has the stray quote).
    #[error("bad rate \"{0}\"'")]
    BadRate(String),

    /// `--limit` and `--limit-burst` the kernel cannot hold (its ERANGE, e.g.
    /// `--limit 1/day` with the default burst). iptables: exit status 1.
    #[error("Numerical result out of range.")]
    RateOutOfRange(String),

    /// `--src-type`/`--dst-type` with an unknown type; `in_list` when it was
    /// followed by a comma (iptables quotes it differently then).
    #[error("addrtype: bad type {}", if *in_list { format!("`{value}'") } else { format!("\"{value}\"") })]
    BadAddrType {
        /// The list from the bad type on.
        value: String,
        /// Whether a comma followed the bad type.
        in_list: bool,
    },

    /// `--match-set NAME` without the flags.
    #[error("--match-set requires two args.")]
    SetNeedsTwoArgs,

    /// `--match-set` with a set name of 32 bytes or more.
    #[error("setname `{0}' too long, max 31 characters.")]
    SetNameTooLong(String),

    /// `--match-set` flags other than `src`/`dst` (iptables' typo kept).
    #[error("You must spefify (the comma separated list of) 'src' or 'dst'.")]
    BadSetFlags(String),

    /// More than 6 `src`/`dst` flags.
    #[error("Can't be more src/dst options than 6.")]
    TooManySetFlags(String),

    /// `--match-set` twice in one set match.
    #[error("--match-set can be specified only once")]
    SetTwice,

    /// `--reject-with` with a type that does not exist (for IPv4).
    #[error("unknown reject type \"{0}\"")]
    UnknownRejectType(String),

    /// `--log-level` that is neither 0..=7 nor a level name.
    #[error("log level \"{0}\" unknown")]
    UnknownLogLevel(String),

    /// `--log-prefix` with a newline.
    #[error("Newlines not allowed in --log-prefix")]
    LogPrefixNewline,

    /// What the kernel refuses in a rule by itself (iptables prints
    /// "Invalid argument. Run `dmesg' for more information." and exits 1);
    /// fw prints the line the kernel logs, e.g. "TCP_RESET invalid for
    /// non-tcp".
    #[error("{0}")]
    KernelRefuses(&'static str),

    /// `-N`/`-E` with a name starting with `-` or `!`.
    #[error("chain name not allowed to start with `{0}'")]
    ChainNameStart(char, String),

    /// `-N`/`-E` with a name that is a target (`ACCEPT`, `LOG`, ...).
    #[error("chain name may not clash with target name")]
    ChainNameClash(String),

    /// `-N`/`-E` with white space in the name.
    #[error("Invalid chain name `{0}'")]
    InvalidChainName(String),

    /// `-E OLD` without the new name.
    #[error("-E requires old-chain-name and new-chain-name")]
    RenameNeedsTwoNames,

    /// `-R CHAIN` without a rule number.
    #[error("-R requires a rule number")]
    ReplaceNeedsNumber,

    /// `-R` with several `-s`/`-d` addresses.
    #[error("Replacement rule does not specify a unique address")]
    ReplaceNotUnique,

    /// `!` with a comma list of `-s`/`-d` addresses.
    #[error("! not allowed with multiple source or destination IP addresses")]
    BangWithMultipleAddresses,

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
    /// [`ParseError::MatchNeedsProtocol`], [`ParseError::KernelRefuses`],
    /// [`ParseError::RateOutOfRange`]); 3 (`VERSION_PROBLEM`) for
    /// [`ParseError::UnknownTable`].
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::BadPolicy(_)
            | Self::BadBuiltinChain(_)
            | Self::NoSuchChain(_)
            | Self::MatchNeedsProtocol { .. }
            | Self::KernelRefuses(_)
            | Self::RateOutOfRange(_) => 1,
            Self::UnknownTable(_) => 3,
            _ => 2,
        }
    }

    /// The offending token, if any (e.g. `"99999"`, `"--dport"`).
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::NoCommand
            | Self::AddressFamily
            | Self::MissingPolicy
            | Self::EmptyInterface
            | Self::EmptyTargetName
            | Self::WaitIntervalWithoutWait
            | Self::WaitIntervalRequired
            | Self::WaitIntervalTooLong(_)
            | Self::UnterminatedQuote
            | Self::TableInRestore
            | Self::MultiportNeedsProtocol
            | Self::MultiportWrongProtocol
            | Self::TcpFlagsNeedTwoArgs
            | Self::StateListEmpty
            | Self::SetNeedsTwoArgs
            | Self::SetTwice
            | Self::LogPrefixNewline
            | Self::KernelRefuses(_)
            | Self::RenameNeedsTwoNames
            | Self::ReplaceNeedsNumber
            | Self::ReplaceNotUnique
            | Self::BangWithMultipleAddresses
            | Self::IcmpUnknownCharacter(_)
            | Self::HashlimitBurst => None,
            Self::CannotInvertOption { option, .. }
            | Self::MissingOption { option, .. }
            | Self::ExclusiveOptions { option, .. }
            | Self::AlsoRequires { option, .. } => Some(option),
            Self::ModuleNeedsOption { module, .. } => Some(module),
            Self::BadOptionValue { value, .. } => Some(value),
            Self::BadRangeValue { near, .. } | Self::RangeTrailingCharacters { near, .. } => {
                Some(near)
            }
            Self::ArgumentTooShort { written, .. } => Some(written),
            Self::AmbiguousIcmpType { given, .. } | Self::AmbiguousIcmp6Type { given, .. } => {
                Some(given)
            }
            Self::BadIpRange { value, .. }
            | Self::BadValue { value, .. }
            | Self::ModuleProblem { token: value, .. }
            | Self::BadAddrType { value, .. }
            | Self::BadMark { value, .. }
            | Self::HashlimitBadValue { value, .. }
            | Self::HashlimitBadMask { value, .. }
            | Self::BadCidr { value, .. } => Some(value),
            Self::ChainNameStart(_, t) => Some(t),
            Self::UnknownTcpFlag(t)
            | Self::SynAndTcpFlags(t)
            | Self::BadTcpOption(t)
            | Self::UnknownIcmpType(t)
            | Self::UnknownIcmpCode(t)
            | Self::UnknownIcmp6Type(t)
            | Self::UnknownIcmp6Code(t)
            | Self::TooManyPorts(t)
            | Self::MultiportBadRange(t)
            | Self::BadCtState(t)
            | Self::BadState(t)
            | Self::BadMac(t)
            | Self::MarkTrailingGarbage(t)
            | Self::RateTooFast(t)
            | Self::BadRate(t)
            | Self::RateOutOfRange(t)
            | Self::SetNameTooLong(t)
            | Self::BadSetFlags(t)
            | Self::TooManySetFlags(t)
            | Self::UnknownRejectType(t)
            | Self::UnknownLogLevel(t)
            | Self::ChainNameClash(t)
            | Self::InvalidChainName(t) => Some(t),
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
            Self::Ipv4 => Some("-4"),
            Self::FragmentInIpv6 => Some("-f"),
            Self::DuplicatePortOption { written, .. } | Self::OptionOnce { written, .. } => {
                Some(written)
            }
            Self::TooManyPortComponents { value, .. } => Some(value),
            Self::SetFamily { name, .. } => Some(name),
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
            | Self::HostUnresolved(t)
            | Self::InvalidMask(t)
            | Self::InterfaceTooLong(t)
            | Self::InvalidPort(t)
            | Self::InvalidPortRange(t)
            | Self::BadCtDir(t)
            | Self::NoSuchSet(t)
            | Self::PortNotResolved(t)
            | Self::UnknownMatch(t)
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
            Self::MatchNeedsProtocol { .. } | Self::KernelRefuses(_) => {
                format!("{program}: Invalid argument. Run `dmesg' for more information.\n")
            }
            Self::RateOutOfRange(_) => format!("{program}: {self}\n"),
            Self::UnknownRejectType(t)
                if !t.is_empty()
                    && ["echo-reply", "echoreply"]
                        .iter()
                        .any(|n| n.len() >= t.len() && n[..t.len()].eq_ignore_ascii_case(t)) =>
            {
                format!(
                    "--reject-with echo-reply no longer supported\n{program} {version}: {self}\n{try_help}"
                )
            }
            Self::WaitIntervalWithoutWait => format!(
                "Ignoring deprecated --wait-interval option.\n{program} {version}: {self}\n\n{try_help}"
            ),
            Self::UnknownTable(_) => format!(
                "{program} {version}: {self}\nPerhaps iptables or your kernel needs to be upgraded.\n"
            ),
            Self::Ipv6 | Self::Ipv4 => try_help,
            // These format strings end in "\n" in iptables, hence the blank line.
            Self::InterfaceNotAllowed { .. }
            | Self::UnknownMatch(_)
            | Self::PortNotResolved(_)
            | Self::TooManyPortComponents { .. }
            | Self::OptionOnce { .. }
            | Self::CannotInvertOption { .. }
            | Self::MissingOption { .. }
            | Self::ExclusiveOptions { .. }
            | Self::AlsoRequires { .. }
            | Self::HostUnresolved(_)
            | Self::BadOptionValue { .. }
            | Self::BadMark { .. }
            | Self::HashlimitBadMask { .. }
            | Self::BadCidr { .. }
            | Self::AddressFamily
            | Self::MarkTrailingGarbage(_)
            | Self::BadRangeValue { .. }
            | Self::RangeTrailingCharacters { .. }
            | Self::ArgumentTooShort { .. }
            | Self::UnknownLogLevel(_)
            | Self::NoSuchSet(_)
            | Self::SetFamily { .. }
            | Self::TableInRestore => {
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
