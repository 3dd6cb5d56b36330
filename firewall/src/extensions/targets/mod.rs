//! The target extensions fw parses (iptables-extensions(8) "TARGET
//! EXTENSIONS"), one file each, listed once in `target_modules!` below.
//! Their options join the option table after `-j`, as iptables merges a
//! target's options. The built-in verdicts are [`crate::model::Target`]'s
//! other variants.

use super::matches::{Given, Line};
use crate::{
    model::{Family, Target},
    parse::{ParseError, matches::OptSpec},
};

/// How the kernel side carries out a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSupport {
    /// By the named kernel function in firewall-ebpf.
    Kernel(&'static str),
    /// Not yet: what is missing, worded for "not supported yet: {what}"
    /// (`-j LOG`).
    Refused(&'static str),
}

/// One target extension: everything fw knows about `-j NAME`.
pub(crate) trait TargetExt {
    /// The model value ([`Target`]'s variant holds it).
    type Value;
    /// The options given so far, while the line is parsed.
    type Parser: Default + Clone + std::fmt::Debug;
    /// The target's name, as `-j` takes it.
    const NAME: &'static str;
    /// Its options (libxtables' generic checks apply: once each, no `!`).
    const OPTIONS: &'static [OptSpec];

    /// Handles one option, after the generic checks, in `family`.
    fn option(p: &mut Self::Parser, o: Given<'_>, family: Family) -> Result<(), ParseError>;

    /// The target, after the line is read, in `family`.
    fn finish(p: &Self::Parser, family: Family) -> Target;

    /// The options as `-S` and iptables-save print them, after ` -j NAME`.
    fn save(v: &Self::Value, out: &mut String);

    /// The text `-L` prints at the end of the rule line (`numeric`: `-n`).
    fn list(v: &Self::Value, out: &mut String, numeric: bool);

    /// How the kernel carries it out.
    fn support(v: &Self::Value) -> TargetSupport;
}

/// The list: each target extension once, as `Variant => file`.
macro_rules! target_modules {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident, )*) => {
        $(pub mod $module;)*

        ext_dispatch! {
            TargetExt;
            /// A target extension with options.
            TargetModule;
            /// A target extension's options given so far.
            TargetParser;
            {
                fn xtoptions(self) -> bool {
                    true
                }

                fn option(
                    p: &mut TargetParser,
                    o: Given<'_>,
                    line: &mut Line<'_, '_>,
                ) -> Result<(), ParseError> {
                    p.option(o, line.ctx.family)
                }
            }
            $( $(#[$doc])* $variant => $module, )*
        }

        impl TargetModule {
            /// The target `-j NAME` loads, if fw parses it (the same in
            /// both families).
            pub(crate) fn by_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|m| m.name() == name)
            }
        }

        impl TargetParser {
            /// [`TargetExt::option`].
            pub(crate) fn option(&mut self, o: Given<'_>, family: Family) -> Result<(), ParseError> {
                match self { $(Self::$variant(p) => <$module::Ext as TargetExt>::option(p, o, family),)* }
            }

            /// [`TargetExt::finish`].
            pub(crate) fn finish(&self, family: Family) -> Target {
                match self { $(Self::$variant(p) => <$module::Ext as TargetExt>::finish(p, family),)* }
            }
        }
    };
}

target_modules! {
    /// `-j REJECT`.
    Reject => reject,
    /// `-j LOG`.
    Log => log,
}
