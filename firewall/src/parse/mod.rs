//! The iptables command-line language, parsed with nom into
//! [`crate::command::Invocation`] and [`crate::model::Rule`].
//!
//! The grammar is iptables 1.8.9's (iptables(8), iptables-extensions(8)),
//! checked against iptables-legacy in a network namespace. The parser
//! knows the whole language below; what the kernel side enforces today is
//! decided later, by [`crate::model::support::enforceable`]. Where
//! iptables would accept something fw cannot even represent (another
//! table, a match module not listed here), fw refuses it with
//! [`ParseError::NotSupported`] rather than ignore it (an ignored match
//! widens the rule).
//!
//! The language:
//! - commands `-A`, `-C`, `-D CHAIN N|rule`, `-I CHAIN [N]`, `-R CHAIN N`,
//!   `-L [CHAIN [N]]`, `-S [CHAIN [N]]`, `-F [CHAIN]`, `-Z [CHAIN [N]]`
//!   (also with `-L`/`-S`), `-N`, `-X [CHAIN]`, `-E OLD NEW`,
//!   `-P CHAIN ACCEPT|DROP`; options `-v`, `-n`, `-x`, `--line-numbers`;
//!   `-w`/`-W` (accepted and ignored: they only concern iptables' lock),
//!   `-t filter`, `-4`;
//! - `[!] -p`, `[!] -s`/`-d` (comma lists: one rule per address),
//!   `[!] -i`/`-o`, `[!] -f`;
//! - matches ([`matches`]): tcp, udp, icmp, multiport, conntrack
//!   (`--ctstate`), state, iprange, mac, comment, limit, length, ttl,
//!   addrtype, set (`--match-set`);
//! - targets: ACCEPT, DROP, RETURN, `-j CHAIN`, `-g CHAIN`, REJECT, LOG
//!   ([`targets`]), or none at all (a rule that only counts).
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
pub(crate) mod lexer;
pub mod matches;
pub mod protocols;
pub mod restore;
mod rule;
pub mod services;
pub mod targets;
pub(crate) mod values;

pub use error::ParseError;
pub use lexer::split_spec;
use services::Services;

use crate::{
    command::Invocation,
    model::{Family, Rule},
};

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
    parse_args_in(args, Family::V4, services)
}

/// [`parse_args_with`] in `family`: an iptables command line, or an
/// ip6tables one for [`Family::V6`] (IPv6 addresses, `-m icmp6`, `-m hl`,
/// `-m rt`, ICMPv6 REJECT types; no `-f`, `-m icmp`, `-m ttl`).
pub fn parse_args_in(
    args: &[String],
    family: Family,
    services: &Services,
) -> Result<Invocation, ParseError> {
    rule::parse_invocation(args, family, services)
}

/// Parses a rule specification alone (what follows `-A CHAIN` in
/// `iptables -S` output). The line is split into words as iptables-restore
/// splits it (double quotes group, `\"` escapes inside them). Any command
/// (`-A`, ...) in it is refused, as are options that do not belong in a
/// rule (`-n`, ...). `-i`/`-o` are not checked against a chain: the caller
/// knows the chain.
///
/// Errors: any [`ParseError`]; [`ParseError::UnterminatedQuote`];
/// [`ParseError::ReplaceNotUnique`] for a list of addresses (which is
/// several rules: use [`parse_args`]).
pub fn parse_rule_spec(spec: &str) -> Result<Rule, ParseError> {
    parse_rule_spec_with(spec, Services::system())
}

/// [`parse_rule_spec`] with service names from `services`.
pub fn parse_rule_spec_with(spec: &str, services: &Services) -> Result<Rule, ParseError> {
    parse_rule_spec_in(spec, Family::V4, services)
}

/// [`parse_rule_spec_with`] in `family`.
pub fn parse_rule_spec_in(
    spec: &str,
    family: Family,
    services: &Services,
) -> Result<Rule, ParseError> {
    let words = lexer::split_spec(spec)?;
    rule::parse_rule_words(&words, family, services)
}

/// Parses the words of one command line of an iptables-restore file (the
/// table is the file's, so `-t` is refused), or of an ip6tables-restore
/// file for [`Family::V6`].
///
/// Errors: any [`ParseError`]; [`ParseError::TableInRestore`].
pub fn parse_restore_line(
    words: &[String],
    family: Family,
    services: &Services,
) -> Result<Invocation, ParseError> {
    rule::parse_restore_words(words, family, services)
}

/// Checks a chain name as `-N` does (under 29 bytes, not starting with `-`
/// or `!`, not a target's name, no white space).
///
/// Errors: [`ParseError::ChainNameTooLong`], [`ParseError::ChainNameStart`],
/// [`ParseError::ChainNameClash`], [`ParseError::InvalidChainName`].
pub fn valid_chain_name(name: &str) -> Result<(), ParseError> {
    rule::valid_chain_name(name)
}

#[cfg(test)]
mod tests;
