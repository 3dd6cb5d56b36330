//! The iptables command-line grammar (iptables(8) "COMMANDS", "PARAMETERS",
//! "OTHER OPTIONS"; iptables-extensions(8) for the matches and targets of
//! [`super::matches`] and [`super::targets`]), as iptables 1.8.9's
//! `do_parse` runs it:
//!
//! 1. a left-to-right pass over the words (see [`super::lexer`]), where
//!    each option is checked as it comes: duplicates, `!` placement,
//!    protocols, interfaces, ports, match and target names;
//! 2. checks after the pass, in iptables' order: words after `--`, no
//!    command, a dangling `!`, each match's final check (mandatory and
//!    exclusive options), the addresses of `-s`/`-d`, the command/option
//!    table, the chain name length, `-i`/`-o` against the chain;
//! 3. what iptables only learns later (table, policy name, the kernel's
//!    checks of a rule by itself), then fw's own limits.
//!
//! Whether a chain exists, and whether `-j NAME` names one, depends on the
//! ruleset: exec checks it ([`crate::model::check`]).
//!
//! Matches are modules: `-m tcp` (or `-p tcp` and a tcp option, which
//! loads it implicitly) adds an [`Instance`] whose options join the option
//! table, newest first, exactly as iptables merges them; so does `-j LOG`
//! for the target's options. New modules are files in
//! [`crate::extensions`] and one line in its list (docs/extending.md).

use super::{
    error::ParseError,
    extensions,
    lexer::{HasArg, Item, LongOpt, Scanner},
    matches::{self, Ctx, Instance, OptSpec},
    protocols,
    services::Services,
    targets::{TargetInstance, TargetModule},
    values,
};
use crate::{
    command::{Command, Invocation, Options, RuleRef, Zeroing},
    extensions::matches::Line,
    model::{
        self, AddrMask, BuiltinChain, Family, Fragment, Match, Neg, Policy, RejectWith, Rule,
        Target,
    },
};

/// iptables' core options (`original_opts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Core {
    Append,
    Delete,
    Check,
    Insert,
    Replace,
    List,
    ListRules,
    Flush,
    Zero,
    NewChain,
    DeleteChain,
    RenameChain,
    Policy,
    Source,
    Destination,
    Protocol,
    InInterface,
    Jump,
    Table,
    Match,
    Numeric,
    OutInterface,
    Verbose,
    Wait,
    WaitInterval,
    Exact,
    Fragment,
    Version,
    Help,
    LineNumbers,
    Modprobe,
    SetCounters,
    Goto,
    Ipv4,
    Ipv6,
}

/// What a scanned option stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Core(Core),
    /// Option `id` of match instance `instance` (index into `matches`).
    Ext {
        instance: usize,
        id: u8,
    },
    /// Option `id` of the target extension.
    Target {
        id: u8,
    },
}

use HasArg::{No, Optional, Required};

/// iptables 1.8.9's long options, in its order.
const CORE_LONG: &[(&str, HasArg, Core)] = &[
    ("append", Required, Core::Append),
    ("delete", Required, Core::Delete),
    ("check", Required, Core::Check),
    ("insert", Required, Core::Insert),
    ("replace", Required, Core::Replace),
    ("list", Optional, Core::List),
    ("list-rules", Optional, Core::ListRules),
    ("flush", Optional, Core::Flush),
    ("zero", Optional, Core::Zero),
    ("new-chain", Required, Core::NewChain),
    ("delete-chain", Optional, Core::DeleteChain),
    ("rename-chain", Required, Core::RenameChain),
    ("policy", Required, Core::Policy),
    ("source", Required, Core::Source),
    ("destination", Required, Core::Destination),
    ("src", Required, Core::Source),
    ("dst", Required, Core::Destination),
    ("protocol", Required, Core::Protocol),
    ("in-interface", Required, Core::InInterface),
    ("jump", Required, Core::Jump),
    ("table", Required, Core::Table),
    ("match", Required, Core::Match),
    ("numeric", No, Core::Numeric),
    ("out-interface", Required, Core::OutInterface),
    ("verbose", No, Core::Verbose),
    ("wait", Optional, Core::Wait),
    ("wait-interval", Optional, Core::WaitInterval),
    ("exact", No, Core::Exact),
    ("fragments", No, Core::Fragment),
    ("version", No, Core::Version),
    ("help", Optional, Core::Help),
    ("line-numbers", No, Core::LineNumbers),
    ("modprobe", Required, Core::Modprobe),
    ("set-counters", Required, Core::SetCounters),
    ("goto", Required, Core::Goto),
    ("ipv4", No, Core::Ipv4),
    ("ipv6", No, Core::Ipv6),
];

impl Core {
    /// The command's letter, for the commands.
    fn command_letter(self) -> Option<char> {
        Some(match self {
            Core::Append => 'A',
            Core::Check => 'C',
            Core::Delete => 'D',
            Core::Replace => 'R',
            Core::Insert => 'I',
            Core::List => 'L',
            Core::ListRules => 'S',
            Core::Flush => 'F',
            Core::Zero => 'Z',
            Core::NewChain => 'N',
            Core::DeleteChain => 'X',
            Core::RenameChain => 'E',
            Core::Policy => 'P',
            _ => return None,
        })
    }
}

/// iptables 1.8.9's short options
/// (`"-:A:C:D:R:I:L::S::M:F::Z::N:X::E:P:Vh::o:p:s:d:j:i:fvw::W::nt:m:xc:g:46"`).
fn core_short(c: char) -> Option<(Key, HasArg)> {
    let (core, has_arg) = match c {
        'A' => (Core::Append, Required),
        'C' => (Core::Check, Required),
        'D' => (Core::Delete, Required),
        'R' => (Core::Replace, Required),
        'I' => (Core::Insert, Required),
        'L' => (Core::List, Optional),
        'S' => (Core::ListRules, Optional),
        'M' => (Core::Modprobe, Required),
        'F' => (Core::Flush, Optional),
        'Z' => (Core::Zero, Optional),
        'N' => (Core::NewChain, Required),
        'X' => (Core::DeleteChain, Optional),
        'E' => (Core::RenameChain, Required),
        'P' => (Core::Policy, Required),
        'V' => (Core::Version, No),
        'h' => (Core::Help, Optional),
        'o' => (Core::OutInterface, Required),
        'p' => (Core::Protocol, Required),
        's' => (Core::Source, Required),
        'd' => (Core::Destination, Required),
        'j' => (Core::Jump, Required),
        'i' => (Core::InInterface, Required),
        'f' => (Core::Fragment, No),
        'v' => (Core::Verbose, No),
        'w' => (Core::Wait, Optional),
        'W' => (Core::WaitInterval, Optional),
        'n' => (Core::Numeric, No),
        't' => (Core::Table, Required),
        'm' => (Core::Match, Required),
        'x' => (Core::Exact, No),
        'c' => (Core::SetCounters, Required),
        'g' => (Core::Goto, Required),
        '4' => (Core::Ipv4, No),
        '6' => (Core::Ipv6, No),
        _ => return None,
    };
    Some((Key::Core(core), has_arg))
}

/// The command, as far as parsed: a command that takes a rule
/// specification (which is parsed after the pass) and `-P` (whose policy
/// is checked then) are held here; any other is complete as parsed.
#[derive(Clone, Debug)]
enum Cmd {
    Append {
        chain: String,
    },
    Check {
        chain: String,
    },
    Insert {
        chain: String,
        index: u32,
    },
    Replace {
        chain: String,
        index: u32,
    },
    Delete {
        chain: String,
    },
    Policy {
        chain: String,
        policy: String,
    },
    /// Any other command.
    Done(Command),
}

impl Cmd {
    fn chain(&self) -> Option<&str> {
        match self {
            Self::Append { chain }
            | Self::Check { chain }
            | Self::Insert { chain, .. }
            | Self::Replace { chain, .. }
            | Self::Delete { chain }
            | Self::Policy { chain, .. } => Some(chain),
            Self::Done(c) => c.chain(),
        }
    }

    /// Whether the command takes a rule specification.
    fn takes_rule(&self) -> bool {
        !matches!(self, Self::Policy { .. } | Self::Done(_))
    }

    /// The command's row of iptables' `commands_v_options` table: for each
    /// of `-n -s -d -p -j -v -x -i -o --line-numbers -c -f`, whether it is
    /// illegal (`x`).
    fn illegal(&self) -> &'static [u8; 12] {
        match self {
            Self::Insert { .. } | Self::Append { .. } | Self::Replace { .. } => b"x     x  x  ",
            Self::Delete { .. } | Self::Check { .. } => b"x     x  xx ",
            Self::Done(Command::List { .. }) => b" xxxx  xx xx",
            Self::Policy { .. } => b"xxxxx xxxx x",
            Self::Done(_) => b"xxxxx xxxxxx",
        }
    }
}

/// iptables' option bits, in the order of `commands_v_options`' columns.
const OPT_LETTERS: [char; 12] = ['n', 's', 'd', 'p', 'j', 'v', 'x', 'i', 'o', '0', 'c', 'f'];

fn opt_bit(letter: char) -> u16 {
    let i = OPT_LETTERS.iter().position(|c| *c == letter).unwrap_or(0);
    1 << i
}

/// Whether an option may follow `!` (iptables' `inverse_for_options`).
fn invertible(letter: char) -> bool {
    matches!(letter, 's' | 'd' | 'p' | 'i' | 'o' | 'f')
}

/// `-j`/`-g`'s outcome.
#[derive(Clone, Debug)]
enum Jump {
    /// ACCEPT, DROP, RETURN.
    Builtin(Target),
    /// A target extension with options (REJECT, LOG).
    Ext(TargetInstance),
    /// `-j NAME`: a user-defined chain, if the ruleset has it.
    Chain(String),
    /// `-g NAME`.
    Goto(String),
}

/// What was loaded, in order (for the option table's order).
#[derive(Clone, Copy, Debug)]
enum Loaded {
    Match(usize),
    Target,
}

/// The parser's state: iptables' `iptables_command_state` plus fw's.
#[derive(Default)]
struct State {
    cmd: Option<Cmd>,
    /// Bits of [`OPT_LETTERS`] given so far.
    options: u16,
    /// A `!` waiting for its option.
    invert: bool,
    protocol: Option<Neg<u8>>,
    /// `-s`/`-d` as written: parsed after the pass, as iptables does.
    source: Option<(String, bool)>,
    destination: Option<(String, bool)>,
    in_interface: Option<Neg<String>>,
    out_interface: Option<Neg<String>>,
    fragment: Option<Fragment>,
    matches: Vec<Instance>,
    loaded: Vec<Loaded>,
    /// Whether the protocol's module was loaded implicitly already.
    proto_used: bool,
    jump: Option<Jump>,
    table: Option<String>,
    wait: bool,
    wait_interval: bool,
    /// The seconds of `-w N`.
    out_wait: Option<u32>,
    out: Options,
    /// Parsing a rule specification or restore line: no chain to check the
    /// interfaces against, `-t` refused.
    spec_only: bool,
    /// Inside iptables-restore: `-t` is refused there.
    restore: bool,
    /// The command letters given, in order (iptables' command bits).
    commands: Vec<char>,
    /// iptables (IPv4) or ip6tables (IPv6).
    family: Family,
    /// Warnings for standard error, as iptables prints them while parsing.
    warnings: Vec<String>,
}

/// iptables' bit for a command letter (`CMD_*`), for the order of `cmd2char`
/// (`d` and `z` hold the places of `-D`/`-Z` with a rule number).
fn command_bit(letter: char) -> u16 {
    let order = [
        'I', 'D', 'd', 'R', 'A', 'L', 'F', 'Z', 'N', 'X', 'P', 'E', 'S', 'z', 'C',
    ];
    order
        .iter()
        .position(|c| *c == letter)
        .map_or(0, |i| 1 << i)
}

/// iptables' `assert_valid_chain_name` (for `-N`, and fw also checks the
/// new name of `-E`): under 29 bytes, not starting with `-` or `!`, not a
/// target's name, no white space.
///
/// Errors: [`ParseError::ChainNameTooLong`], [`ParseError::ChainNameStart`],
/// [`ParseError::ChainNameClash`], [`ParseError::InvalidChainName`].
pub(crate) fn valid_chain_name(name: &str) -> Result<(), ParseError> {
    if name.len() > model::MAX_CHAIN_NAME {
        return Err(ParseError::ChainNameTooLong(name.to_string()));
    }
    if let Some(c @ ('-' | '!')) = name.chars().next() {
        return Err(ParseError::ChainNameStart(c, name.to_string()));
    }
    if matches!(name, "ACCEPT" | "DROP" | "RETURN") || extensions::TARGETS.contains(&name) {
        return Err(ParseError::ChainNameClash(name.to_string()));
    }
    if name.chars().any(|c| c.is_ascii_whitespace()) {
        return Err(ParseError::InvalidChainName(name.to_string()));
    }
    Ok(())
}

impl State {
    /// The option table: iptables' options, then each loaded extension's,
    /// newest first (so a later `-m tcp` gets the options that follow it).
    fn long_table(&self) -> Vec<LongOpt<Key>> {
        let mut t: Vec<LongOpt<Key>> = CORE_LONG
            .iter()
            // ip6tables has no `--fragments` (its `-f` only says so).
            .filter(|(_, _, core)| !(*core == Core::Fragment && self.family == Family::V6))
            .map(|(name, has_arg, core)| LongOpt {
                name,
                has_arg: *has_arg,
                key: Key::Core(*core),
            })
            .collect();
        for l in self.loaded.iter().rev() {
            let (specs, key): (&[OptSpec], Box<dyn Fn(u8) -> Key>) = match *l {
                Loaded::Match(instance) => (
                    self.matches[instance].module.options(),
                    Box::new(move |id| Key::Ext { instance, id }),
                ),
                Loaded::Target => match &self.jump {
                    Some(Jump::Ext(t)) => (t.module.options(), Box::new(|id| Key::Target { id })),
                    _ => continue,
                },
            };
            t.extend(specs.iter().map(|o| LongOpt {
                name: o.name,
                has_arg: o.has_arg,
                key: key(o.id),
            }));
        }
        t
    }

    /// iptables' `set_option`: no duplicates, `!` only where allowed.
    fn set_option(&mut self, letter: char) -> Result<(), ParseError> {
        let bit = opt_bit(letter);
        if self.options & bit != 0 {
            return Err(ParseError::DuplicateOption(letter));
        }
        self.options |= bit;
        if self.invert && !invertible(letter) {
            return Err(ParseError::CannotInvert(letter));
        }
        Ok(())
    }

    /// iptables' `add_command`: one command per line, except `-Z` together
    /// with `-L` or `-S`.
    fn add_command(&mut self, letter: char) -> Result<(), ParseError> {
        if self.invert {
            return Err(ParseError::BangBeforeCommand(letter));
        }
        let others: &[char] = match letter {
            'L' | 'S' => &['Z'],
            'Z' => &['L', 'S'],
            _ => &[],
        };
        let clash: Vec<char> = self
            .commands
            .iter()
            .copied()
            .filter(|c| !others.contains(c))
            .collect();
        // iptables names the clashing command with the highest bit (`cmd2char`).
        if let Some(old) = clash.iter().max_by_key(|c| command_bit(**c)) {
            return Err(ParseError::CommandConflict {
                new: letter,
                old: *old,
            });
        }
        self.commands.push(letter);
        Ok(())
    }

    /// The chain and optional rule number of `-L`/`-S`/`-Z`.
    fn list_chain(
        &mut self,
        arg: Option<String>,
        sc: &mut Scanner<'_>,
    ) -> Result<(Option<String>, Option<u32>), ParseError> {
        let chain = arg.or_else(|| sc.next_plain().map(str::to_string));
        let mut rule = None;
        if chain.is_some()
            && let Some(n) = sc.next_plain()
        {
            rule = Some(values::rule_number(n)?);
        }
        Ok((chain, rule))
    }

    /// What an extension's option handler sees of the line so far.
    fn ctx<'a>(&self, services: &'a Services) -> Ctx<'a> {
        Ctx {
            protocol: self.protocol.clone(),
            family: self.family,
            services,
        }
    }

    fn handle_core(
        &mut self,
        core: Core,
        written: &str,
        arg: Option<String>,
        sc: &mut Scanner<'_>,
    ) -> Result<(), ParseError> {
        // The scanner guarantees a value for Required options.
        let req = |a: Option<String>| a.unwrap_or_default();
        if let Some(letter) = core.command_letter() {
            self.add_command(letter)?;
        }
        match core {
            Core::Append => self.cmd = Some(Cmd::Append { chain: req(arg) }),
            Core::Check => self.cmd = Some(Cmd::Check { chain: req(arg) }),
            Core::Insert => {
                let chain = req(arg);
                let index = match sc.next_plain() {
                    Some(n) => values::rule_number(n)?,
                    None => 1,
                };
                self.cmd = Some(Cmd::Insert { chain, index });
            }
            Core::Replace => {
                let chain = req(arg);
                let index = match sc.next_plain() {
                    Some(n) => values::rule_number(n)?,
                    None => return Err(ParseError::ReplaceNeedsNumber),
                };
                self.cmd = Some(Cmd::Replace { chain, index });
            }
            Core::Delete => {
                let chain = req(arg);
                self.cmd = Some(match sc.next_plain() {
                    Some(n) => Cmd::Done(Command::Delete {
                        chain,
                        which: RuleRef::Number(values::rule_number(n)?),
                    }),
                    None => Cmd::Delete { chain },
                });
            }
            Core::List | Core::ListRules | Core::Zero => {
                // iptables keeps one chain and one rule number for -L, -S
                // and -Z: each is replaced only where given again.
                let (given, given_rule) = self.list_chain(arg, sc)?;
                let zero_num = matches!(
                    &self.cmd,
                    Some(Cmd::Done(Command::Zero { rule: Some(_), .. }))
                );
                let (before, before_rule) = match &self.cmd {
                    Some(Cmd::Done(
                        Command::List { chain, rule, .. }
                        | Command::ListRules { chain, rule, .. }
                        | Command::Zero { chain, rule },
                    )) => (chain.clone(), *rule),
                    _ => (None, None),
                };
                let chain = given.or(before);
                let rule = given_rule.or(before_rule);
                // Only -L, -S and -Z go together, and they all come here.
                let zero = match (self.commands.contains(&'Z'), zero_num) {
                    (false, _) => Zeroing::Not,
                    (true, false) => Zeroing::Chain,
                    (true, true) => Zeroing::Rule,
                };
                self.cmd = Some(Cmd::Done(match (core, self.cmd.take()) {
                    // `-Z CHAIN N` makes the command CMD_ZERO_NUM, dropping
                    // an -L or -S given before it (a later one lists).
                    (Core::Zero, _) if given_rule.is_some() => Command::Zero { chain, rule },
                    (Core::List, _) | (Core::Zero, Some(Cmd::Done(Command::List { .. }))) => {
                        Command::List { chain, rule, zero }
                    }
                    (Core::ListRules, _)
                    | (Core::Zero, Some(Cmd::Done(Command::ListRules { .. }))) => {
                        Command::ListRules { chain, rule, zero }
                    }
                    _ => Command::Zero { chain, rule },
                }));
            }
            Core::Flush | Core::DeleteChain => {
                let chain = arg.or_else(|| sc.next_plain().map(str::to_string));
                self.cmd = Some(Cmd::Done(if core == Core::Flush {
                    Command::Flush { chain }
                } else {
                    Command::DeleteChain { chain }
                }));
            }
            Core::NewChain => {
                let chain = req(arg);
                valid_chain_name(&chain)?;
                self.cmd = Some(Cmd::Done(Command::NewChain { chain }));
            }
            Core::RenameChain => {
                let old = req(arg);
                let new = sc
                    .next_plain()
                    .ok_or(ParseError::RenameNeedsTwoNames)?
                    .to_string();
                self.cmd = Some(Cmd::Done(Command::RenameChain { old, new }));
            }
            Core::Policy => {
                let chain = req(arg);
                let policy = sc.next_plain().ok_or(ParseError::MissingPolicy)?;
                self.cmd = Some(Cmd::Policy {
                    chain,
                    policy: policy.to_string(),
                });
            }
            Core::Version | Core::Help => {
                return Err(ParseError::unsupported(written, written));
            }
            Core::Source | Core::Destination => {
                let letter = if core == Core::Source { 's' } else { 'd' };
                self.set_option(letter)?;
                let v = Some((req(arg), self.invert));
                if core == Core::Source {
                    self.source = v;
                } else {
                    self.destination = v;
                }
            }
            Core::Protocol => {
                self.set_option('p')?;
                let a = req(arg);
                let n = protocols::parse_protocol(&a)?;
                if n == 0 && self.invert {
                    return Err(ParseError::NeverMatchProtocol(a));
                }
                // ip6tables' `is_exthdr`: such a protocol is never the
                // last header's, so the rule never matches (routing,
                // fragment, AH, destination options).
                if self.family == Family::V6 && !self.invert && matches!(n, 43 | 44 | 51 | 60) {
                    self.warnings.push(format!(
                        "Warning: never matched protocol: {a}. use extension match instead."
                    ));
                }
                // -p all is stored as no protocol, as iptables stores 0.
                self.protocol = (n != 0).then_some(Neg {
                    value: n,
                    invert: self.invert,
                });
            }
            Core::InInterface | Core::OutInterface => {
                let letter = if core == Core::InInterface { 'i' } else { 'o' };
                self.set_option(letter)?;
                let v = Some(Neg {
                    value: values::interface(&req(arg))?,
                    invert: self.invert,
                });
                if letter == 'i' {
                    self.in_interface = v;
                } else {
                    self.out_interface = v;
                }
            }
            Core::Jump => {
                self.set_option('j')?;
                let j = jump(&req(arg))?;
                if matches!(j, Jump::Ext(_)) {
                    self.loaded.push(Loaded::Target);
                }
                self.jump = Some(j);
            }
            Core::Goto => {
                self.set_option('j')?;
                let name = req(arg);
                check_target_name(&name)?;
                self.jump = Some(Jump::Goto(name));
            }
            Core::Match => {
                if self.invert {
                    return Err(ParseError::BangBeforeOption { option: "match" });
                }
                let name = req(arg);
                let module = matches::module_named(&name, self.family);
                match module {
                    Some(m) if self.family == Family::V6 && m.ipv4_values() => {
                        return Err(ParseError::unsupported(
                            format!("-m {name} in IPv6 (fw keeps its addresses as IPv4)"),
                            name,
                        ));
                    }
                    Some(m) => {
                        self.matches.push(Instance::new(m));
                        self.loaded.push(Loaded::Match(self.matches.len() - 1));
                    }
                    None if extensions::known_match(&name, self.family) => {
                        let what = match extensions::refusal_reason(&name) {
                            Some(why) => format!("-m {name} ({why})"),
                            None => format!("-m {name}"),
                        };
                        return Err(ParseError::unsupported(what, name));
                    }
                    None => return Err(ParseError::UnknownMatch(name)),
                }
            }
            Core::Numeric => {
                self.set_option('n')?;
                self.out.numeric = true;
            }
            Core::Exact => {
                self.set_option('x')?;
                self.out.exact = true;
            }
            Core::LineNumbers => {
                self.set_option('0')?;
                self.out.line_numbers = true;
            }
            Core::Verbose => {
                // iptables registers -v once and counts the rest.
                if !self.out.verbose {
                    self.set_option('v')?;
                }
                self.out.verbose = true;
            }
            Core::Wait | Core::WaitInterval => {
                // fw's lock stands in for the xtables lock (`-w`); `-W` is
                // checked and then ignored, as iptables 1.8.9 does.
                let v = arg.or_else(|| sc.next_plain().map(str::to_string));
                if core == Core::WaitInterval && v.is_none() {
                    return Err(ParseError::WaitIntervalRequired);
                }
                let n = match v {
                    Some(v) => Some(scanf_u32(&v).ok_or_else(|| {
                        if core == Core::Wait {
                            ParseError::WaitNotNumeric(v)
                        } else {
                            ParseError::WaitIntervalNotNumeric(v)
                        }
                    })?),
                    None => None,
                };
                if core == Core::Wait {
                    self.wait = true;
                    self.out_wait = n;
                } else {
                    if let Some(usec) = n
                        && usec > 999_999
                    {
                        return Err(ParseError::WaitIntervalTooLong(usec));
                    }
                    self.wait_interval = true;
                }
            }
            Core::Table => {
                if self.invert {
                    return Err(ParseError::BangBeforeOption { option: "table" });
                }
                if self.restore {
                    return Err(ParseError::TableInRestore);
                }
                self.table = Some(req(arg));
            }
            Core::Fragment => {
                if self.family == Family::V6 {
                    return Err(ParseError::FragmentInIpv6);
                }
                self.set_option('f')?;
                self.fragment = Some(if self.invert {
                    Fragment::NotLater
                } else {
                    Fragment::Later
                });
            }
            Core::SetCounters => {
                self.set_option('c')?;
                return Err(ParseError::unsupported("-c (setting counters)", written));
            }
            Core::Modprobe => return Err(ParseError::unsupported("--modprobe", written)),
            // Each family's iptables accepts its own flag and refuses the
            // other's.
            Core::Ipv4 => match self.family {
                Family::V4 => {}
                Family::V6 => return Err(ParseError::Ipv4),
            },
            Core::Ipv6 => match self.family {
                Family::V4 => return Err(ParseError::Ipv6),
                Family::V6 => {}
            },
        }
        Ok(())
    }

    /// iptables' `load_proto`, on an option nobody knows: after `-p tcp`
    /// the tcp module is loaded once and the word read again. Returns
    /// whether to re-read.
    fn load_protocol_module(&mut self, written: &str) -> Result<bool, ParseError> {
        if self.proto_used {
            return Ok(false);
        }
        let Some(p) = self.protocol.as_ref() else {
            return Ok(false);
        };
        let Some(name) = protocols::display_name(p.value) else {
            return Ok(false);
        };
        self.proto_used = true;
        if let Some(m) = matches::implicit_module(p.value, self.family) {
            self.matches.push(Instance::new(m));
            self.loaded.push(Loaded::Match(self.matches.len() - 1));
            return Ok(true);
        }
        let Some((_, options)) = extensions::PROTOCOL_MODULES
            .iter()
            .find(|(n, _)| *n == name)
        else {
            return Ok(false);
        };
        let long = written.strip_prefix("--").unwrap_or("");
        let long = long.split('=').next().unwrap_or("");
        match extensions::resolve(options, long) {
            Some(o) if written.starts_with("--") => Err(ParseError::unsupported(
                format!("--{o} (-m {name})"),
                written,
            )),
            _ => Ok(false),
        }
    }

    /// The left-to-right pass.
    fn scan(&mut self, args: &[String], services: &Services) -> Result<(), ParseError> {
        let mut sc = Scanner::new(args);
        loop {
            let mark = sc.mark();
            let table = self.long_table();
            let Some(item) = sc.next(&table, core_short) else {
                return Ok(());
            };
            match item {
                Item::EndOfOptions => {
                    if let Some(first) = sc.remaining().first() {
                        return Err(ParseError::TrailingArguments(first.clone()));
                    }
                    return Ok(());
                }
                Item::NonOption(w) if w == "!" => {
                    if self.invert {
                        return Err(ParseError::MultipleBang);
                    }
                    self.invert = true;
                    continue;
                }
                Item::NonOption(w) => return Err(ParseError::BadArgument(w)),
                Item::MissingArg(w) => return Err(ParseError::MissingArgument(w)),
                Item::Unknown(w) => {
                    if self.load_protocol_module(&w)? {
                        sc.reset(mark);
                        continue;
                    }
                    return Err(ParseError::UnknownOption(w));
                }
                Item::Opt {
                    key: Key::Core(c),
                    written,
                    arg,
                } => self.handle_core(c, &written, arg, &mut sc)?,
                Item::Opt {
                    key: Key::Ext { instance, id },
                    written,
                    arg,
                } => {
                    let ctx = self.ctx(services);
                    let line = &mut Line {
                        ctx: &ctx,
                        sc: &mut sc,
                    };
                    self.matches[instance].option(id, &written, arg, self.invert, line)?;
                }
                Item::Opt {
                    key: Key::Target { id },
                    written,
                    arg,
                } => {
                    let ctx = self.ctx(services);
                    let Some(Jump::Ext(t)) = &mut self.jump else {
                        return Err(ParseError::UnknownOption(written));
                    };
                    let line = &mut Line {
                        ctx: &ctx,
                        sc: &mut sc,
                    };
                    t.option(id, &written, arg, self.invert, line)?;
                }
            }
            self.invert = false;
        }
    }

    /// The checks after the pass, then the command.
    fn finish(self) -> Result<Invocation, ParseError> {
        let Some(cmd) = self.cmd.clone() else {
            return Err(ParseError::NoCommand);
        };
        if self.invert {
            return Err(ParseError::DanglingBang);
        }
        if self.wait_interval && !self.wait {
            return Err(ParseError::WaitIntervalWithoutWait);
        }
        // Each match's (then the target's) final check, as xtables_option_mfcall.
        let matches = self
            .matches
            .iter()
            .map(Instance::finish)
            .collect::<Result<Vec<Match>, _>>()?;
        let target = match &self.jump {
            None => Target::None,
            Some(Jump::Builtin(t)) => t.clone(),
            Some(Jump::Ext(t)) => t.finish(self.family),
            Some(Jump::Chain(c)) => Target::Jump(c.clone()),
            Some(Jump::Goto(c)) => Target::Goto(c.clone()),
        };

        // iptables parses -s/-d of a rule command as 0.0.0.0/0 when absent.
        let addrs = |a: &Option<(String, bool)>| -> Result<Vec<Option<Neg<AddrMask>>>, ParseError> {
            match a {
                Some((text, invert)) => values::addresses(text, *invert, self.family),
                None => Ok(vec![None]),
            }
        };
        let sources = addrs(&self.source)?;
        let destinations = addrs(&self.destination)?;
        if (sources.len() > 1 || destinations.len() > 1)
            && (self.source.as_ref().is_some_and(|s| s.1)
                || self.destination.as_ref().is_some_and(|d| d.1))
        {
            return Err(ParseError::BangWithMultipleAddresses);
        }
        if matches!(cmd, Cmd::Replace { .. }) && (sources.len() != 1 || destinations.len() != 1) {
            return Err(ParseError::ReplaceNotUnique);
        }

        // iptables' generic_opt_check, in its column order.
        let illegal = cmd.illegal();
        for (i, letter) in OPT_LETTERS.iter().enumerate() {
            if self.options & (1 << i) != 0 && illegal[i] == b'x' {
                return Err(ParseError::IllegalOption(*letter));
            }
        }
        // iptables ignores -m without a rule; ignoring a match is not safe.
        if !cmd.takes_rule() && !self.matches.is_empty() {
            return Err(ParseError::IllegalOption('m'));
        }
        if let Some(chain) = cmd.chain()
            && chain.len() > model::MAX_CHAIN_NAME
        {
            return Err(ParseError::ChainNameTooLong(chain.to_string()));
        }
        if cmd.takes_rule() && !self.spec_only {
            let chain = cmd.chain().unwrap_or("");
            let bad = match chain {
                "INPUT" | "PREROUTING" if self.out_interface.is_some() => Some('o'),
                "OUTPUT" | "POSTROUTING" if self.in_interface.is_some() => Some('i'),
                _ => None,
            };
            if let Some(option) = bad {
                return Err(ParseError::InterfaceNotAllowed {
                    option,
                    chain: chain.to_string(),
                });
            }
        }
        if let Cmd::Done(Command::RenameChain { new, .. }) = &cmd {
            // fw checks the new name as -N checks names (iptables does not).
            valid_chain_name(new)?;
        }

        // What iptables only finds out after parsing.
        if let Some(t) = &self.table
            && t != "filter"
        {
            return Err(if extensions::TABLES.contains(&t.as_str()) {
                ParseError::unsupported(format!("-t {t}"), t.clone())
            } else {
                ParseError::UnknownTable(t.clone())
            });
        }
        if let Cmd::Policy { policy, chain } = &cmd
            && !matches!(policy.as_str(), "ACCEPT" | "DROP")
        {
            // libiptc looks the chain up before the policy.
            return Err(if BuiltinChain::from_name(chain).is_none() {
                ParseError::BadBuiltinChain(chain.clone())
            } else {
                ParseError::BadPolicy(policy.clone())
            });
        }
        // The kernel's checks of the rule by itself.
        for m in &self.matches {
            if let Some(needed) = m.module.protocol()
                && self.protocol
                    != Some(Neg {
                        value: needed,
                        invert: false,
                    })
            {
                return Err(ParseError::MatchNeedsProtocol {
                    module: m.module.name(),
                    protocol: needed,
                });
            }
        }
        for m in &matches {
            m.checkentry()?;
        }
        if target == Target::Reject(RejectWith::TcpReset)
            && self.protocol
                != Some(Neg {
                    value: 6,
                    invert: false,
                })
        {
            return Err(ParseError::KernelRefuses("TCP_RESET invalid for non-tcp"));
        }

        let rules = || -> Vec<Rule> {
            let mut out = Vec::new();
            for s in &sources {
                for d in &destinations {
                    out.push(Rule {
                        protocol: self.protocol.clone(),
                        source: s.clone(),
                        destination: d.clone(),
                        in_interface: self.in_interface.clone(),
                        out_interface: self.out_interface.clone(),
                        fragment: self.fragment,
                        matches: matches.clone(),
                        target: target.clone(),
                    });
                }
            }
            out
        };
        let command = match cmd {
            Cmd::Append { chain } => Command::Append {
                chain,
                rules: rules(),
            },
            Cmd::Check { chain } => Command::Check {
                chain,
                rules: rules(),
            },
            Cmd::Insert { chain, index } => Command::Insert {
                chain,
                index,
                rules: rules(),
            },
            Cmd::Replace { chain, index } => Command::Replace {
                chain,
                index,
                rule: rules().remove(0),
            },
            Cmd::Delete { chain } => Command::Delete {
                chain,
                which: RuleRef::Spec(rules()),
            },
            Cmd::Policy { chain, policy } => Command::Policy {
                chain,
                policy: if policy == "DROP" {
                    Policy::Drop
                } else {
                    Policy::Accept
                },
            },
            Cmd::Done(command) => command,
        };
        Ok(Invocation {
            command,
            family: self.family,
            options: self.out,
            // `-w 0`, like `-w` alone and no `-w`, waits as long as it takes
            // in iptables 1.8.9 (alarm(0) sets no alarm).
            wait: self.out_wait.filter(|&s| s > 0),
            wait_interval: self.wait_interval,
            warnings: self.warnings,
        })
    }
}

/// `sscanf(s, "%u")`: leading white space, a sign and digits, the rest
/// ignored; out-of-range values wrap as glibc's `strtoul` does.
fn scanf_u32(s: &str) -> Option<u32> {
    if !values::scanf_unsigned(s) {
        return None;
    }
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = t.bytes().take_while(u8::is_ascii_digit).fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    let n = if neg { n.wrapping_neg() } else { n };
    Some(n as u32)
}

/// `-j`/`-g` name checks (iptables' `xt_parse_target`).
fn check_target_name(name: &str) -> Result<(), ParseError> {
    if name.is_empty() {
        return Err(ParseError::EmptyTargetName);
    }
    if name.len() > model::MAX_CHAIN_NAME {
        return Err(ParseError::TargetNameTooLong(name.to_string()));
    }
    if name.chars().any(|c| c.is_ascii_whitespace()) {
        return Err(ParseError::InvalidTargetName(name.to_string()));
    }
    Ok(())
}

/// `-j NAME`.
fn jump(name: &str) -> Result<Jump, ParseError> {
    check_target_name(name)?;
    Ok(match name {
        "ACCEPT" => Jump::Builtin(Target::Accept),
        "DROP" => Jump::Builtin(Target::Drop),
        "RETURN" => Jump::Builtin(Target::Return),
        _ => match TargetModule::by_name(name) {
            Some(m) => Jump::Ext(TargetInstance::new(m)),
            None if extensions::TARGETS.contains(&name) => {
                return Err(ParseError::unsupported(format!("-j {name}"), name));
            }
            // A user-defined chain, if the ruleset has one by that name.
            None => Jump::Chain(name.to_string()),
        },
    })
}

/// Parses a whole command line; see [`super::parse_args`].
pub(crate) fn parse_invocation(
    args: &[String],
    family: Family,
    services: &Services,
) -> Result<Invocation, ParseError> {
    let mut st = State {
        family,
        ..State::default()
    };
    st.scan(args, services)?;
    st.finish()
}

/// Parses one command line of an iptables-restore file (its words): as a
/// command line, except that `-t` is refused (the table is the file's).
pub(crate) fn parse_restore_words(
    words: &[String],
    family: Family,
    services: &Services,
) -> Result<Invocation, ParseError> {
    let mut st = State {
        restore: true,
        family,
        ..State::default()
    };
    st.scan(words, services)?;
    st.finish()
}

/// Parses the words of a rule specification; see [`super::parse_rule_spec`].
pub(crate) fn parse_rule_words(
    words: &[String],
    family: Family,
    services: &Services,
) -> Result<Rule, ParseError> {
    let mut st = State {
        family,
        cmd: Some(Cmd::Replace {
            chain: String::new(),
            index: 1,
        }),
        spec_only: true,
        commands: vec!['A'],
        ..State::default()
    };
    st.scan(words, services)?;
    match st.finish()?.command {
        Command::Replace { rule, .. } => Ok(rule),
        // Cannot happen: the command was set above and others conflict.
        _ => Err(ParseError::NoCommand),
    }
}
