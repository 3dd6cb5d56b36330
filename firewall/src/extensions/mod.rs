//! The extensions fw knows (iptables-extensions(8); netfilter's name for
//! match modules and target modules), one Rust module each.
//!
//! A match module ([`matches`]) owns its option table, its model type, its
//! parser, its `-S` and `-L` text and its answer to "how does the kernel
//! enforce this?" ([`Enforcement`]). A target module ([`targets`]) owns the
//! same for a target extension (REJECT, LOG); the built-in verdicts
//! (ACCEPT, DROP, RETURN, jumps, gotos) stay in [`crate::model::Target`].
//! Each list (`match_modules!`, `target_modules!`) names every module once;
//! the dispatch over them is generated from it, with exhaustive `match`es,
//! so that a new module that misses a piece does not compile. The steps are
//! in docs/extending.md.

/// The dispatch `match_modules!` and `target_modules!` share: the enum of
/// the extensions (`$Module`), the enum of their parsers while a line is
/// read (`$Parser`), each generated from the list of `Variant => file`
/// (each file's `Ext` implementing `$ext`), and their [`Extension`] impl
/// (the items in braces are its `xtoptions` and `option`). (The two
/// `mod.rs` see it because their `mod` lines come after it.)
macro_rules! ext_dispatch {
    (
        $ext:ident;
        $(#[$module_doc:meta])* $Module:ident;
        $(#[$parser_doc:meta])* $Parser:ident;
        { $($extension:tt)* }
        $( $(#[$doc:meta])* $variant:ident => $module:ident, )*
    ) => {
        $(#[$module_doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $Module {
            $( $(#[$doc])* $variant, )*
        }

        $(#[$parser_doc])*
        #[derive(Clone, Debug)]
        pub(crate) enum $Parser {
            $( $variant(<$module::Ext as $ext>::Parser), )*
        }

        impl $Module {
            const ALL: &[$Module] = &[$(Self::$variant,)*];

            /// Its name, as `-m` or `-j` takes it (case-sensitive).
            pub(crate) fn name(self) -> &'static str {
                match self { $(Self::$variant => <$module::Ext as $ext>::NAME,)* }
            }

            /// Its options.
            pub(crate) fn options(self) -> &'static [$crate::parse::matches::OptSpec] {
                match self { $(Self::$variant => <$module::Ext as $ext>::OPTIONS,)* }
            }

            /// A parser with no option given.
            pub(crate) fn parser(self) -> $Parser {
                match self { $(Self::$variant => $Parser::$variant(Default::default()),)* }
            }
        }

        impl $crate::extensions::Extension for $Module {
            type Parser = $Parser;

            fn name(self) -> &'static str {
                $Module::name(self)
            }

            fn options(self) -> &'static [$crate::parse::matches::OptSpec] {
                $Module::options(self)
            }

            fn parser(self) -> $Parser {
                $Module::parser(self)
            }

            $($extension)*
        }
    };
}

pub mod matches;
pub mod targets;

use crate::{
    compile::classes::Constraint,
    parse::{ParseError, matches::OptSpec},
};

/// What the parser asks of an extension it loaded, a match module or a
/// target ([`crate::parse::matches::Loaded`] holds one).
pub(crate) trait Extension: Copy {
    /// Its options given so far.
    type Parser: Clone + std::fmt::Debug;

    /// Its name, as `-m` or `-j` takes it.
    fn name(self) -> &'static str;

    /// Its options.
    fn options(self) -> &'static [OptSpec];

    /// A parser with no option given.
    fn parser(self) -> Self::Parser;

    /// Whether libxtables' generic option checks apply.
    fn xtoptions(self) -> bool;

    /// Handles one option, after the generic checks.
    fn option(
        p: &mut Self::Parser,
        o: matches::Given<'_>,
        line: &mut matches::Line<'_, '_>,
    ) -> Result<(), ParseError>;
}

/// How the kernel side enforces one match, as its module answers for a
/// given value: the single source of [`crate::model::support::enforceable`]
/// and of the compiler's per-match work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// Matches every packet (`-m comment`): nothing to compile.
    Always,
    /// Joins the classifier's bit-vector columns with these constraints.
    /// Two matches of one rule may not constrain the same column (each
    /// column has one slot per rule).
    Classifier(Columns),
    /// Checked in the kernel after the classifier picked the rule as the
    /// first candidate (firewall-ebpf `check.rs`): this entry of `CHECKS`,
    /// its state zeroed. A failing check moves the walk to the next rule.
    RuleCheck(firewall_common::check::Check),
    /// Both: columns for the classifier, and a check that runs once they
    /// picked the rule (`-m tcp --dport 22 --tcp-option 2`).
    ClassifierCheck(Columns, firewall_common::check::Check),
    /// Not enforced yet: what is missing, worded for "not supported yet:
    /// {what}" as the user wrote it (`-m conntrack`, `--syn (-m tcp)`).
    Refused(&'static str),
}

/// A port column's constraint: a union of host-order inclusive ranges.
pub type PortColumn = Constraint<Vec<(u16, u16)>>;

/// An address column's constraint: a union of prefixes
/// ([`crate::compile::classes::Prefix`]).
pub type AddrColumn = Constraint<Vec<crate::compile::classes::Prefix>>;

/// What a classifier match adds to its rule's columns
/// (`firewall/src/compile.rs`); `None` where the match says nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns {
    /// The source address column (iprange's `--src-range`); a rule with
    /// `-s` may not have one too.
    pub src: Option<AddrColumn>,
    /// The destination address column (iprange's `--dst-range`); a rule
    /// with `-d` may not have one too.
    pub dst: Option<AddrColumn>,
    /// The source and destination port columns: unions of host-order
    /// inclusive ranges (tcp, udp, multiport).
    pub ports: Option<(PortColumn, PortColumn)>,
    /// The TTL column: the TTL values accepted (ttl).
    pub ttl: Option<Constraint<Vec<u32>>>,
    /// The connection state column: the state bits accepted
    /// (conntrack's `--ctstate`, state's `--state`).
    pub ctstate: Option<Constraint<Vec<u32>>>,
    /// The ICMP column: `type << 8 | code` values (icmp); a negated one
    /// names `NO_HEADER_VALUE` too.
    pub icmp: Option<Constraint<Vec<u32>>>,
    /// The TCP flags column: the flag bytes (`& 0x3f`) accepted (tcp's
    /// `--tcp-flags`, `--syn`).
    pub tcp_flags: Option<Constraint<Vec<u32>>>,
    /// The IP total length column: an inclusive range (length).
    pub length: Option<PortColumn>,
}

impl Columns {
    /// The columns of every classifier match of one rule together.
    ///
    /// # Errors
    /// What the classifier cannot hold, worded for "not supported yet:
    /// {what}": two matches on one column.
    pub fn of_rule(rule: &crate::model::Rule) -> Result<Columns, &'static str> {
        let mut all = Columns::default();
        for m in &rule.matches {
            // The kernel parses ports of TCP and UDP only; multiport's
            // other protocols (udplite, sctp, dccp) would never match.
            if let crate::model::Match::Multiport(_) = m
                && !rule
                    .protocol
                    .as_ref()
                    .is_some_and(|p| !p.invert && matches!(p.value, 6 | 17))
            {
                return Err("-m multiport with a protocol other than tcp or udp");
            }
            // fw's connections keep ports for TCP and UDP only (netfilter
            // compares ICMP's identifier and type as ports too).
            if let crate::model::Match::Conntrack(ct) = m
                && ct.has_ports()
                && !ct.proto_is_tcp_or_udp()
                && !rule
                    .protocol
                    .as_ref()
                    .is_some_and(|p| !p.invert && matches!(p.value, 6 | 17))
            {
                return Err(
                    "-m conntrack port options without -p tcp, -p udp or --ctproto tcp/udp",
                );
            }
            let c = match m.support() {
                Enforcement::Classifier(c) | Enforcement::ClassifierCheck(c, _) => c,
                Enforcement::Always | Enforcement::RuleCheck(_) | Enforcement::Refused(_) => {
                    continue;
                }
            };
            let Columns {
                src,
                dst,
                ports,
                ttl,
                ctstate,
                icmp,
                tcp_flags,
                length,
            } = c;
            fn join<T>(
                all: &mut Option<T>,
                one: Option<T>,
                what: &'static str,
            ) -> Result<(), &'static str> {
                if one.is_some() {
                    if all.is_some() {
                        return Err(what);
                    }
                    *all = one;
                }
                Ok(())
            }
            join(
                &mut all.src,
                src,
                "more than one -m iprange --src-range in one rule",
            )?;
            join(
                &mut all.dst,
                dst,
                "more than one -m iprange --dst-range in one rule",
            )?;
            // `-p udp --dport 53 -m udp`: a tcp/udp match without options
            // only says "has ports", which any other port match says too.
            let has_ports = |p: &Option<(PortColumn, PortColumn)>| {
                *p == Some((Constraint::Is(vec![(0, u16::MAX)]), Constraint::Any))
            };
            match (has_ports(&all.ports), has_ports(&ports)) {
                (_, true) if all.ports.is_some() => {}
                (true, _) if ports.is_some() => all.ports = ports,
                _ => join(
                    &mut all.ports,
                    ports,
                    "more than one tcp/udp/multiport match in one rule",
                )?,
            }
            join(&mut all.ttl, ttl, "more than one -m ttl match in one rule")?;
            join(
                &mut all.ctstate,
                ctstate,
                "more than one connection state match in one rule",
            )?;
            join(
                &mut all.icmp,
                icmp,
                "more than one -m icmp match in one rule",
            )?;
            join(
                &mut all.tcp_flags,
                tcp_flags,
                "more than one tcp flags match in one rule",
            )?;
            join(
                &mut all.length,
                length,
                "more than one -m length match in one rule",
            )?;
        }
        if rule.source.is_some() && all.src.is_some() {
            return Err("-s and -m iprange --src-range in one rule");
        }
        if rule.destination.is_some() && all.dst.is_some() {
            return Err("-d and -m iprange --dst-range in one rule");
        }
        Ok(all)
    }
}
