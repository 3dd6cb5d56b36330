//! The target extensions fw parses (iptables-extensions(8) "TARGET
//! EXTENSIONS"), one file each, listed once in `target_modules!` below.
//! Their options join the option table after `-j`, as iptables merges a
//! target's options. The built-in verdicts are [`crate::model::Target`]'s
//! other variants.

use super::matches::{Given, Line};
use crate::{
    model::Target,
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

    /// Handles one option, after the generic checks.
    fn option(p: &mut Self::Parser, o: Given<'_>) -> Result<(), ParseError>;

    /// The target, after the line is read.
    fn finish(p: &Self::Parser) -> Target;

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
                    _line: &mut Line<'_, '_>,
                ) -> Result<(), ParseError> {
                    p.option(o)
                }
            }
            $( $(#[$doc])* $variant => $module, )*
        }

        impl TargetParser {
            /// [`TargetExt::option`].
            pub(crate) fn option(&mut self, o: Given<'_>) -> Result<(), ParseError> {
                match self { $(Self::$variant(p) => <$module::Ext as TargetExt>::option(p, o),)* }
            }

            /// [`TargetExt::finish`].
            pub(crate) fn finish(&self) -> Target {
                match self { $(Self::$variant(p) => <$module::Ext as TargetExt>::finish(p),)* }
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
