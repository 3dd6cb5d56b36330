//! The match modules fw parses (iptables-extensions(8) "MATCH
//! EXTENSIONS"), one file each, listed once in `match_modules!` below.
//!
//! Each file has a marker `Ext` implementing [`MatchExt`]: the option
//! table, the parser, the model type ([`MatchExt::Value`], a variant of
//! [`Match`]), the `-S`/iptables-save text, the `-L` text and the
//! [`Enforcement`] answer. The list generates [`Match`], the parse-time
//! [`Module`] and [`Parser`], and their dispatch.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Columns, Enforcement};
use crate::{
    compile::classes::Constraint,
    model::{BuiltinChain, Family, Neg, PortRange, Rule},
    parse::{
        ParseError,
        lexer::Scanner,
        matches::{Ctx, OptSpec},
        services::Services,
    },
};

/// One option as the parser met it, handed to [`MatchExt::option`].
pub(crate) struct Given<'a> {
    /// Its spec in the module's table (`id` says which option).
    pub spec: &'a OptSpec,
    /// The name messages use (the first table entry with its id).
    pub name: &'static str,
    /// As written on the command line (`--dport`, `--dp`).
    pub written: &'a str,
    /// Its value (empty for options without one).
    pub arg: String,
    /// Given after `!`.
    pub invert: bool,
}

impl Given<'_> {
    /// `value` as the option gave it: inverted after `!`.
    pub fn neg<T>(&self, value: T) -> Option<Neg<T>> {
        Some(Neg {
            value,
            invert: self.invert,
        })
    }
}

/// The rest of the command line, for an option handler.
pub(crate) struct Line<'a, 's> {
    /// What the line gave so far (`-p`, service names).
    pub ctx: &'a Ctx<'a>,
    /// The words after the option (`--tcp-flags MASK COMP` reads COMP).
    pub sc: &'a mut Scanner<'s>,
}

/// What `-L` printing needs besides the match.
pub(crate) struct ListCx<'a> {
    /// The rule the match is in (multiport names ports by its `-p`).
    pub rule: &'a Rule,
    /// `-n`: numbers instead of names.
    pub numeric: bool,
    /// Service names for ports.
    pub services: &'a Services,
}

/// One match module: everything fw knows about `-m NAME`.
pub(crate) trait MatchExt {
    /// The model value (what the kernel's `xt_*` structure keeps).
    type Value;
    /// The options given so far, while the line is parsed.
    type Parser: Default + Clone + std::fmt::Debug;
    /// The module's name, as `-m` takes it (case-sensitive).
    const NAME: &'static str;
    /// Its options, as libxtables' `xt_option_entry` table.
    const OPTIONS: &'static [OptSpec];
    /// The protocol the kernel requires (the match's `.proto`).
    const PROTOCOL: Option<u8> = None;
    /// Whether libxtables' generic option checks apply (tcp and set keep
    /// their own older parsers).
    const XTOPTIONS: bool = true;
    /// The one family whose iptables has the module (libipt_*: IPv4,
    /// libip6t_*: IPv6); `None` for libxt_* modules, in both.
    const FAMILY: Option<Family> = None;
    /// Whether its values hold IPv4 addresses or masks (iprange): refused
    /// in IPv6 (iprange6 is IPv6's).
    const IPV4_VALUES: bool = false;

    /// Handles one option (after the generic checks). Options taking a
    /// second word read it from `sc`, as iptables reads `argv[optind]`.
    fn option(
        p: &mut Self::Parser,
        o: Given<'_>,
        line: &mut Line<'_, '_>,
    ) -> Result<(), ParseError>;

    /// The module's own final check (`x6_fcheck`), before libxtables'
    /// mandatory and exclusive options; `given` has a bit per option id.
    fn fcheck(_p: &Self::Parser, _given: u32) -> Result<(), ParseError> {
        Ok(())
    }

    /// The value, after every check passed.
    fn finish(p: &Self::Parser) -> Result<Self::Value, ParseError>;

    /// The kernel's `checkentry` of the value by itself (after the whole
    /// line is parsed).
    fn checkentry(_v: &Self::Value) -> Result<(), ParseError> {
        Ok(())
    }

    /// The kernel's hook restriction: `Err(message)` when the match is
    /// reached from a built-in chain in `from` that it may not be used in.
    fn hooks(_v: &Self::Value, _from: &BTreeSet<BuiltinChain>) -> Result<(), String> {
        Ok(())
    }

    /// The options as `-S` and iptables-save print them (the extension's
    /// `save`), after ` -m NAME`: ` --dport 22`.
    fn save(v: &Self::Value, out: &mut String);

    /// The text `-L` prints for it (the extension's `print`): ` tcp dpt:22`.
    fn list(v: &Self::Value, out: &mut String, cx: &ListCx<'_>);

    /// How the kernel enforces it.
    fn support(v: &Self::Value) -> Enforcement;

    /// The `KIND_DATA` entries a check of [`MatchExt::support`] reads
    /// (the compiler puts them after the rule's checks and sets the
    /// check's `a` to the first); none for most.
    fn check_data(_v: &Self::Value) -> Vec<firewall_common::check::Check> {
        Vec::new()
    }
}

/// The value given, which the generic checks made mandatory ("option
/// missing" should they not have).
pub(crate) fn required<T: Clone>(v: &Option<T>, module: &'static str) -> Result<T, ParseError> {
    v.clone().ok_or(ParseError::ModuleNeedsOption {
        module,
        message: "option missing",
    })
}

/// An `x6_fcheck` refusal: `message` when `unmet`.
pub(crate) fn needs(
    unmet: bool,
    module: &'static str,
    message: &'static str,
) -> Result<(), ParseError> {
    if unmet {
        return Err(ParseError::ModuleNeedsOption { module, message });
    }
    Ok(())
}

/// The head of a module's [`MatchExt`] impl: `NAME` and the two types.
/// `value T` parses into the value itself (every option optional, `T`'s
/// default when none is given), `once T` into `Option<T>` (the value comes
/// with an option the generic checks made mandatory), and both write
/// `finish`; `parser P` leaves `finish` to the module. (The module files
/// see it because their `mod` lines come after it.)
macro_rules! ext_head {
    ($name:literal, value $value:ty) => {
        type Value = $value;
        type Parser = $value;
        const NAME: &'static str = $name;

        fn finish(p: &$value) -> Result<$value, $crate::parse::ParseError> {
            Ok(Clone::clone(p))
        }
    };
    ($name:literal, once $value:ty) => {
        type Value = $value;
        type Parser = Option<$value>;
        const NAME: &'static str = $name;

        fn finish(p: &Option<$value>) -> Result<$value, $crate::parse::ParseError> {
            $crate::extensions::matches::required(p, Self::NAME)
        }
    };
    ($name:literal, $value:ty, parser $parser:ty) => {
        type Value = $value;
        type Parser = $parser;
        const NAME: &'static str = $name;
    };
}

/// What every match module's file uses.
pub(crate) mod prelude {
    pub(crate) use std::fmt::Write as _;

    pub(crate) use serde::{Deserialize, Serialize};

    pub(crate) use super::{Given, Line, ListCx, MatchExt, bang, needs};
    pub(crate) use crate::{
        extensions::Enforcement,
        model::Neg,
        parse::{
            ParseError,
            lexer::HasArg::{No, Required},
            matches::{OptSpec, also, excl, mand, multi, opt},
        },
    };
}

/// The list: each module once, as `doc Variant(Value) => file`.
macro_rules! match_modules {
    ($( $(#[$doc:meta])* $variant:ident($value:ty) => $module:ident, )*) => {
        $(pub mod $module;)*

        /// A `-m` match module with its options (iptables-extensions(8)).
        /// `-p tcp --dport 22` loads the tcp module implicitly, as iptables
        /// does. Options given as their "match everything" value are
        /// stored as absent, as iptables stores them (`--dport 0:65535`).
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Match {
            $( $(#[$doc])* $variant($value), )*
        }

        ext_dispatch! {
            MatchExt;
            /// A match module fw parses, before its options are known.
            Module;
            /// A module's options given so far.
            Parser;
            {
                fn xtoptions(self) -> bool {
                    Module::xtoptions(self)
                }

                fn option(
                    p: &mut Parser,
                    o: Given<'_>,
                    line: &mut Line<'_, '_>,
                ) -> Result<(), ParseError> {
                    p.option(o, line)
                }
            }
            $( $(#[$doc])* $variant => $module, )*
        }

        impl Module {
            /// The protocol the kernel requires for the match (its `.proto`).
            pub(crate) fn protocol(self) -> Option<u8> {
                match self { $(Self::$variant => <$module::Ext as MatchExt>::PROTOCOL,)* }
            }

            /// [`MatchExt::FAMILY`].
            pub(crate) fn family(self) -> Option<Family> {
                match self { $(Self::$variant => <$module::Ext as MatchExt>::FAMILY,)* }
            }

            /// The module `-m name` loads in `family`: of the modules by
            /// that name (iprange has one per family), the one the family has.
            pub(crate) fn by_name_in(name: &str, family: Family) -> Option<Self> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|m| m.name() == name && m.family().is_none_or(|f| f == family))
            }

            /// [`MatchExt::IPV4_VALUES`].
            pub(crate) fn ipv4_values(self) -> bool {
                match self { $(Self::$variant => <$module::Ext as MatchExt>::IPV4_VALUES,)* }
            }

            /// Whether it has libxtables' generic option checks.
            pub(crate) fn xtoptions(self) -> bool {
                match self { $(Self::$variant => <$module::Ext as MatchExt>::XTOPTIONS,)* }
            }
        }

        impl Parser {
            /// [`MatchExt::option`].
            pub(crate) fn option(&mut self, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
                match self { $(Self::$variant(p) => <$module::Ext as MatchExt>::option(p, o, line),)* }
            }

            /// [`MatchExt::fcheck`].
            pub(crate) fn fcheck(&self, given: u32) -> Result<(), ParseError> {
                match self { $(Self::$variant(p) => <$module::Ext as MatchExt>::fcheck(p, given),)* }
            }

            /// [`MatchExt::finish`].
            pub(crate) fn finish(&self) -> Result<Match, ParseError> {
                Ok(match self {
                    $(Self::$variant(p) => Match::$variant(<$module::Ext as MatchExt>::finish(p)?),)*
                })
            }
        }

        impl Match {
            /// The module's name, as `-m` takes it.
            pub fn module(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$module::Ext as MatchExt>::NAME,)* }
            }

            /// How the kernel side enforces this match.
            pub fn support(&self) -> Enforcement {
                match self { $(Self::$variant(v) => <$module::Ext as MatchExt>::support(v),)* }
            }

            /// [`MatchExt::check_data`].
            pub fn check_data(&self) -> Vec<firewall_common::check::Check> {
                match self { $(Self::$variant(v) => <$module::Ext as MatchExt>::check_data(v),)* }
            }

            /// [`MatchExt::checkentry`].
            pub(crate) fn checkentry(&self) -> Result<(), ParseError> {
                match self { $(Self::$variant(v) => <$module::Ext as MatchExt>::checkentry(v),)* }
            }

            /// [`MatchExt::hooks`].
            pub(crate) fn hooks(&self, from: &BTreeSet<BuiltinChain>) -> Result<(), String> {
                match self { $(Self::$variant(v) => <$module::Ext as MatchExt>::hooks(v, from),)* }
            }

            /// [`MatchExt::save`].
            pub(crate) fn save(&self, out: &mut String) {
                match self { $(Self::$variant(v) => <$module::Ext as MatchExt>::save(v, out),)* }
            }

            /// [`MatchExt::list`].
            pub(crate) fn list(&self, out: &mut String, cx: &ListCx<'_>) {
                match self { $(Self::$variant(v) => <$module::Ext as MatchExt>::list(v, out, cx),)* }
            }
        }
    };
}

match_modules! {
    /// `-m tcp`: `--sport`, `--dport`, `--tcp-flags`/`--syn`, `--tcp-option`.
    Tcp(tcp::Tcp) => tcp,
    /// `-m udp`: `--sport`, `--dport`.
    Udp(udp::Udp) => udp,
    /// `-m icmp [!] --icmp-type TYPE[/CODE]|NAME`.
    Icmp(Neg<icmp::IcmpType>) => icmp,
    /// `-m multiport`.
    Multiport(multiport::Multiport) => multiport,
    /// `-m conntrack [!] --ctstate STATES`.
    Conntrack(conntrack::Conntrack) => conntrack,
    /// `-m state [!] --state STATES`.
    State(Neg<conntrack::CtStates>) => state,
    /// `-m iprange [!] --src-range A-B [!] --dst-range A-B` (one at least).
    Iprange(iprange::Iprange) => iprange,
    /// `-m mac [!] --mac-source XX:XX:XX:XX:XX:XX`.
    Mac(Neg<[u8; 6]>) => mac,
    /// `-m comment --comment TEXT` (at most 255 bytes; matches everything).
    Comment(String) => comment,
    /// `-m limit [--limit RATE] [--limit-burst N]`.
    Limit(limit::Limit) => limit,
    /// `-m length [!] --length MIN[:MAX]`.
    Length(Neg<length::LengthRange>) => length,
    /// `-m ttl --ttl-eq|--ttl-gt|--ttl-lt N`.
    Ttl(ttl::Ttl) => ttl,
    /// `-m addrtype`.
    Addrtype(addrtype::Addrtype) => addrtype,
    /// `-m set [!] --match-set NAME DIRS`.
    Set(set::SetMatch) => set,
    /// `-m recent [!] --set|--rcheck|--update|--remove ...`.
    Recent(recent::Recent) => recent,
    /// `-m mark [!] --mark VALUE[/MASK]`.
    Mark(mark::Mark) => mark,
    /// `-m hashlimit --hashlimit-upto|--hashlimit-above RATE ...`.
    Hashlimit(hashlimit::Hashlimit) => hashlimit,
    /// `-m owner [!] --uid-owner ID[-ID] [!] --gid-owner ID[-ID] [!] --socket-exists`.
    Owner(owner::Owner) => owner,
    /// `-m policy --dir in|out --pol none|ipsec ...`.
    Policy(policy::Policy) => policy,
    /// `-m tcpmss [!] --mss MIN[:MAX]` (with `-p tcp`).
    Tcpmss(Neg<tcpmss::Tcpmss>) => tcpmss,
    /// `-m time [--datestart ...] [--timestart ...] [!] --weekdays ...`.
    Time(time::Time) => time,
    /// `-m icmp6 [!] --icmpv6-type TYPE[/CODE]|NAME` (ip6tables).
    Icmp6(Neg<icmp::IcmpType>) => icmp6,
    /// `-m hl --hl-eq|--hl-lt|--hl-gt N` (ip6tables).
    Hl(hl::Hl) => hl,
    /// `-m rt [!] --rt-type N [!] --rt-segsleft A[:B] [!] --rt-len N` (ip6tables).
    Rt(rt::Rt) => rt,
    /// `-m iprange` with IPv6 ranges (ip6tables).
    Iprange6(iprange6::Iprange6) => iprange6,
}

/// libxt_limit's and libxt_hashlimit's rate unit: the seconds of the
/// `/second|minute|hour|day` after a rate (any abbreviation, any case; 1
/// without one), `None` for an empty or unknown unit.
pub(crate) fn rate_unit(arg: &str) -> Option<u64> {
    let Some((_, unit)) = arg.split_once('/') else {
        return Some(1);
    };
    if unit.is_empty() {
        return None;
    }
    [
        ("second", 1),
        ("minute", 60),
        ("hour", 3600),
        ("day", 86400),
    ]
    .iter()
    .find(|(n, _)| abbreviates(unit, n))
    .map(|(_, m)| *m)
}

/// Their `print_rate`: a nonzero average interval (`scale` units a
/// second) in the largest unit that shows the rate as a whole number
/// (`3/hour`, `25/sec`), and that unit in `scale` units.
pub(crate) fn rate_text(avg: u64, scale: u64) -> (String, u64) {
    let rates = [
        ("day", scale * 86400),
        ("hour", scale * 3600),
        ("min", scale * 60),
        ("sec", scale),
    ];
    let mut i = 1;
    while i < rates.len() {
        let mult = rates[i].1;
        if avg > mult || mult / avg < mult % avg {
            break;
        }
        i += 1;
    }
    let (name, mult) = rates[i - 1];
    (format!("{}/{name}", mult / avg), mult)
}

/// `" !"` before an inverted option of `-S` (and some `-L` texts).
pub(crate) fn bang(invert: bool) -> &'static str {
    if invert { " !" } else { "" }
}

/// `"!"` glued to a `-L` value (`dpt:!22`).
pub(crate) fn excl(invert: bool) -> &'static str {
    if invert { "!" } else { "" }
}

/// tcp's and udp's port columns: the classifier's answer for
/// `--sport`/`--dport`. The match itself never accepts a packet without
/// ports (a non-first fragment), even with no port option (xt_tcpudp), so
/// then the source port column still asks for a port.
pub(crate) fn port_columns(
    sport: &Option<Neg<PortRange>>,
    dport: &Option<Neg<PortRange>>,
) -> Columns {
    let column = |p: &Option<Neg<PortRange>>| match p {
        None => Constraint::Any,
        Some(n) if n.invert => Constraint::Not(vec![(n.value.lo, n.value.hi)]),
        Some(n) => Constraint::Is(vec![(n.value.lo, n.value.hi)]),
    };
    let (mut sport, dport) = (column(sport), column(dport));
    if sport == Constraint::Any && dport == Constraint::Any {
        sport = Constraint::Is(vec![(0, u16::MAX)]);
    }
    Columns {
        ports: Some((sport, dport)),
        ..Columns::default()
    }
}

/// ` [!] --sport A[:B]` (libxt_tcp's and libxt_udp's `save`).
pub(crate) fn save_ports(out: &mut String, name: &str, p: &Option<Neg<PortRange>>) {
    use std::fmt::Write as _;
    if let Some(p) = p {
        let PortRange { lo, hi } = p.value;
        let _ = write!(out, "{} --{name} {lo}", bang(p.invert));
        if lo != hi {
            let _ = write!(out, ":{hi}");
        }
    }
}

/// A port for `-L`: its service name for `proto` unless `-n`.
pub(crate) fn port_name(n: u16, proto: &str, numeric: bool, services: &Services) -> String {
    match services.name(n, proto) {
        Some(s) if !numeric => s.to_string(),
        _ => n.to_string(),
    }
}

/// ` spt:22`, ` dpts:!1000:2000` (libxt_tcp's `print_ports`).
pub(crate) fn list_ports(
    out: &mut String,
    name: &str,
    p: &Option<Neg<PortRange>>,
    proto: &str,
    cx: &ListCx<'_>,
) {
    use std::fmt::Write as _;
    let Some(p) = p else { return };
    let port = |n: u16| port_name(n, proto, cx.numeric, cx.services);
    let inv = excl(p.invert);
    let PortRange { lo, hi } = p.value;
    let _ = if lo == hi {
        write!(out, " {name}:{inv}{}", port(lo))
    } else {
        write!(out, " {name}s:{inv}{}:{}", port(lo), port(hi))
    };
}

/// Whether `abbrev` abbreviates `name` (`strncasecmp(name, abbrev,
/// strlen(abbrev)) == 0`).
pub(crate) fn abbreviates(abbrev: &str, name: &str) -> bool {
    abbrev.len() <= name.len()
        && name.is_char_boundary(abbrev.len())
        && name[..abbrev.len()].eq_ignore_ascii_case(abbrev)
}
