//! The iptables command-line language, parsed with nom into
//! [`crate::command::Invocation`] and [`crate::model::Rule`].
//!
//! The grammar is iptables 1.8.9's (iptables(8), iptables-extensions(8)),
//! checked against iptables-legacy in a network namespace; where iptables
//! would accept something fw does not enforce yet, fw refuses it with
//! [`ParseError::NotSupported`] rather than ignore it (an ignored match
//! widens the rule).
//!
//! Supported now:
//! - commands `-A`, `-I CHAIN [N]`, `-D CHAIN N|rule`, `-F [CHAIN]`,
//!   `-P CHAIN ACCEPT|DROP`, `-L [CHAIN]`, `-S [CHAIN]`, `-Z [CHAIN]`;
//!   options `-v`, `-n`, `-x`, `--line-numbers`; `-w`/`-W` (accepted and
//!   ignored: they only concern iptables' lock), `-t filter`, `-4`;
//! - `[!] -p`, `[!] -s`, `[!] -d`, `[!] -i`, `[!] -o`; `-m tcp`, `-m udp`
//!   with `[!] --sport`/`--dport` (also implicitly after `-p tcp`/`-p udp`);
//!   `-j ACCEPT|DROP`.
//!
//! Long options may be abbreviated and take `--opt=value`; short options
//! cluster (`-nvL`) and take attached values (`-ptcp`), as with getopt.
//!
//! Normal form of the result (so that rules compare as iptables compares
//! them, e.g. for `-D` by specification): addresses are masked; `-p all`,
//! `-s 0.0.0.0/0` and `--dport 0:65535` without `!` are stored as absent
//! (iptables stores them exactly like absent options).

mod error;
mod extensions;
mod lexer;
pub mod protocols;
mod rule;
pub mod services;
mod values;

pub use error::ParseError;
use services::Services;

use crate::{command::Invocation, model::Rule};

/// Parses one fw/iptables command line (argv without the program name).
///
/// Service names (`--dport ssh`) are looked up in the host's /etc/services
/// ([`Services::system`]).
///
/// Errors: any [`ParseError`], the first one iptables 1.8.9 would report
/// for the same line (and fw's own [`ParseError::NotSupported`]).
pub fn parse_args(args: &[String]) -> Result<Invocation, ParseError> {
    parse_args_with(args, Services::system())
}

/// [`parse_args`] with service names from `services`.
pub fn parse_args_with(args: &[String], services: &Services) -> Result<Invocation, ParseError> {
    rule::parse_invocation(args, services)
}

/// Parses a rule specification alone (what follows `-A CHAIN` in
/// `iptables -S` output), for later use by restore files. The line is
/// split into words as iptables-restore splits it (double quotes group,
/// `\"` escapes inside them). Any command (`-A`, ...) in it is refused, as
/// are options that do not belong in a rule (`-n`, ...). `-i`/`-o` are not
/// checked against a chain: the caller knows the chain.
///
/// Errors: any [`ParseError`]; [`ParseError::UnterminatedQuote`].
pub fn parse_rule_spec(spec: &str) -> Result<Rule, ParseError> {
    parse_rule_spec_with(spec, Services::system())
}

/// [`parse_rule_spec`] with service names from `services`.
pub fn parse_rule_spec_with(spec: &str, services: &Services) -> Result<Rule, ParseError> {
    let words = lexer::split_spec(spec)?;
    rule::parse_rule_words(&words, services)
}

#[cfg(test)]
mod tests;
