//! The iptables command-line grammar (iptables(8) "COMMANDS", "PARAMETERS",
//! "OTHER OPTIONS"; iptables-extensions(8) "tcp", "udp"), as iptables
//! 1.8.9's `do_parse` runs it:
//!
//! 1. a left-to-right pass over the words (see [`super::lexer`]), where
//!    each option is checked as it comes: duplicates, `!` placement,
//!    protocols, interfaces, ports, match and target names;
//! 2. checks after the pass, in iptables' order: words after `--`, no
//!    command, a dangling `!`, the addresses of `-s`/`-d`, the
//!    command/option table, the chain name length, `-i`/`-o` against the
//!    chain;
//! 3. what iptables only learns later (table, target, policy name, the
//!    kernel's protocol check for `-m tcp`), then fw's own limits.
//!
//! Matches are modules: `-m tcp` (or `-p tcp` and a tcp option, which
//! loads it implicitly) adds a [`Instance`] whose options join the option
//! table, newest first, exactly as iptables merges them. New modules slot
//! in as a [`Module`] variant, their options and a `Match` conversion.

use super::{
    error::ParseError,
    extensions,
    lexer::{HasArg, Item, LongOpt, Scanner},
    protocols,
    services::Services,
    values,
};
use crate::{
    command::{Command, Invocation, Options, RuleRef},
    model::{AddrMask, BuiltinChain, Match, Neg, Policy, PortRange, Rule, Target},
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

/// An option of a match module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExtOpt {
    SourcePort,
    DestinationPort,
    /// A real option of the module that fw does not enforce yet.
    Unsupported(&'static str),
}

/// What a scanned option stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Core(Core),
    /// Option `opt` of match instance `instance` (index into `matches`).
    Ext {
        instance: usize,
        opt: ExtOpt,
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

/// A loadable match module fw enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Module {
    Tcp,
    Udp,
}

impl Module {
    fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }

    fn by_name(name: &str) -> Option<Self> {
        match name {
            "tcp" => Some(Self::Tcp),
            "udp" => Some(Self::Udp),
            _ => None,
        }
    }

    /// The protocol the kernel requires (`tcp_mt_check`, `udp_mt_check`).
    fn protocol(self) -> u8 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
        }
    }

    /// The module's long options (libxt_tcp, libxt_udp).
    fn options(self) -> Vec<(&'static str, HasArg, ExtOpt)> {
        let mut v = vec![
            ("source-port", Required, ExtOpt::SourcePort),
            ("sport", Required, ExtOpt::SourcePort),
            ("destination-port", Required, ExtOpt::DestinationPort),
            ("dport", Required, ExtOpt::DestinationPort),
        ];
        if self == Self::Tcp {
            for name in extensions::TCP_UNSUPPORTED {
                let has_arg = if *name == "syn" { No } else { Required };
                v.push((name, has_arg, ExtOpt::Unsupported(name)));
            }
        }
        v
    }
}

/// One loaded match module and the options given to it so far.
#[derive(Clone, Debug)]
struct Instance {
    module: Module,
    /// `Some(None)` once given as the full range 0:65535 (stored like no
    /// option, as iptables does, but still counted for "Only one").
    sport: Option<Option<Neg<PortRange>>>,
    dport: Option<Option<Neg<PortRange>>>,
}

impl Instance {
    fn new(module: Module) -> Self {
        Self {
            module,
            sport: None,
            dport: None,
        }
    }

    fn to_match(&self) -> Match {
        let sport = self.sport.clone().flatten();
        let dport = self.dport.clone().flatten();
        match self.module {
            Module::Tcp => Match::Tcp { sport, dport },
            Module::Udp => Match::Udp { sport, dport },
        }
    }
}

/// The command, as far as parsed.
#[derive(Clone, Debug)]
enum Cmd {
    Append { chain: String },
    Insert { chain: String, index: u32 },
    Delete { chain: String },
    DeleteNum { chain: String, number: u32 },
    Flush { chain: Option<String> },
    Policy { chain: String, policy: String },
    List { chain: Option<String> },
    ListRules { chain: Option<String> },
    Zero { chain: Option<String> },
}

impl Cmd {
    fn chain(&self) -> Option<&str> {
        match self {
            Self::Append { chain }
            | Self::Insert { chain, .. }
            | Self::Delete { chain }
            | Self::DeleteNum { chain, .. }
            | Self::Policy { chain, .. } => Some(chain),
            Self::Flush { chain }
            | Self::List { chain }
            | Self::ListRules { chain }
            | Self::Zero { chain } => chain.as_deref(),
        }
    }

    /// Whether the command takes a rule specification.
    fn takes_rule(&self) -> bool {
        matches!(
            self,
            Self::Append { .. } | Self::Insert { .. } | Self::Delete { .. }
        )
    }

    /// The command's row of iptables' `commands_v_options` table: for each
    /// of `-n -s -d -p -j -v -x -i -o --line-numbers -c -f`, whether it is
    /// illegal (`x`).
    fn illegal(&self) -> &'static [u8; 12] {
        match self {
            Self::Insert { .. } | Self::Append { .. } => b"x     x  x  ",
            Self::Delete { .. } => b"x     x  xx ",
            Self::List { .. } => b" xxxx  xx xx",
            Self::Policy { .. } => b"xxxxx xxxx x",
            Self::DeleteNum { .. }
            | Self::Flush { .. }
            | Self::Zero { .. }
            | Self::ListRules { .. } => b"xxxxx xxxxxx",
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

/// `-j`'s outcome.
#[derive(Clone, Debug)]
enum Jump {
    Target(Target),
    /// Not a target iptables knows: refused after the other checks, as
    /// iptables only looks the name up after parsing.
    Unknown(String),
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
    matches: Vec<Instance>,
    /// Whether the protocol's module was loaded implicitly already.
    proto_used: bool,
    jump: Option<Jump>,
    table: Option<String>,
    wait: bool,
    wait_interval: bool,
    out: Options,
    /// Parsing a rule specification alone: no chain to check.
    spec_only: bool,
    /// fw's refusal of something iptables accepts and that does not change
    /// how the rest of the line parses: reported after iptables' own checks.
    deferred: Option<ParseError>,
    /// The command letters given, in order (iptables' command bits).
    commands: Vec<char>,
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

impl State {
    /// The option table: iptables' options, then each loaded module's,
    /// newest first (so a later `-m tcp` gets the options that follow it).
    fn long_table(&self) -> Vec<LongOpt<Key>> {
        let mut t: Vec<LongOpt<Key>> = CORE_LONG
            .iter()
            .map(|(name, has_arg, core)| LongOpt {
                name,
                has_arg: *has_arg,
                key: Key::Core(*core),
            })
            .collect();
        for (instance, m) in self.matches.iter().enumerate().rev() {
            t.extend(
                m.module
                    .options()
                    .into_iter()
                    .map(|(name, has_arg, opt)| LongOpt {
                        name,
                        has_arg,
                        key: Key::Ext { instance, opt },
                    }),
            );
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

    /// iptables' `add_command`: one command per line (except -L/-S with -Z,
    /// which fw does not support yet).
    fn add_command(&mut self, letter: char) -> Result<(), ParseError> {
        if self.invert {
            return Err(ParseError::BangBeforeCommand(letter));
        }
        // iptables allows -Z together with -L or -S, nothing else.
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
        if self.commands.len() > 1 {
            self.defer(ParseError::unsupported(
                "-L or -S with -Z (list and zero at once)",
                "-Z",
            ));
        }
        Ok(())
    }

    /// Remembers the first of fw's deferred refusals.
    fn defer(&mut self, e: ParseError) {
        self.deferred.get_or_insert(e);
    }

    /// The chain and optional rule number of `-L`/`-S`/`-Z`.
    fn list_chain(
        &mut self,
        letter: char,
        arg: Option<String>,
        sc: &mut Scanner<'_>,
    ) -> Result<Option<String>, ParseError> {
        let chain = arg.or_else(|| sc.next_plain().map(str::to_string));
        if chain.is_some()
            && let Some(n) = sc.next_plain()
        {
            values::rule_number(n)?;
            self.defer(ParseError::unsupported(
                format!("-{letter} CHAIN RULENUM (a single rule)"),
                n,
            ));
        }
        Ok(chain)
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
        match core {
            Core::Append => {
                self.add_command('A')?;
                self.cmd = Some(Cmd::Append { chain: req(arg) });
            }
            Core::Insert => {
                self.add_command('I')?;
                let chain = req(arg);
                let index = match sc.next_plain() {
                    Some(n) => values::rule_number(n)?,
                    None => 1,
                };
                self.cmd = Some(Cmd::Insert { chain, index });
            }
            Core::Delete => {
                self.add_command('D')?;
                let chain = req(arg);
                self.cmd = Some(match sc.next_plain() {
                    Some(n) => Cmd::DeleteNum {
                        chain,
                        number: values::rule_number(n)?,
                    },
                    None => Cmd::Delete { chain },
                });
            }
            Core::List | Core::ListRules | Core::Zero => {
                let letter = match core {
                    Core::List => 'L',
                    Core::ListRules => 'S',
                    _ => 'Z',
                };
                self.add_command(letter)?;
                // With -Z and -L/-S together (refused later), iptables keeps
                // the chain given last; -L/-S stays the command.
                let given = self.list_chain(letter, arg, sc)?;
                let chain = given.or_else(|| {
                    self.cmd
                        .as_ref()
                        .and_then(|c| c.chain().map(str::to_string))
                });
                self.cmd = Some(match (letter, self.cmd.take()) {
                    ('L', _) | ('Z', Some(Cmd::List { .. })) => Cmd::List { chain },
                    ('S', _) | ('Z', Some(Cmd::ListRules { .. })) => Cmd::ListRules { chain },
                    _ => Cmd::Zero { chain },
                });
            }
            Core::Flush => {
                self.add_command('F')?;
                let chain = arg.or_else(|| sc.next_plain().map(str::to_string));
                self.cmd = Some(Cmd::Flush { chain });
            }
            Core::Policy => {
                self.add_command('P')?;
                let chain = req(arg);
                let policy = sc.next_plain().ok_or(ParseError::MissingPolicy)?;
                self.cmd = Some(Cmd::Policy {
                    chain,
                    policy: policy.to_string(),
                });
            }
            Core::Check
            | Core::Replace
            | Core::NewChain
            | Core::DeleteChain
            | Core::RenameChain => {
                let (letter, what) = match core {
                    Core::Check => ('C', "-C (check for a rule)"),
                    Core::Replace => ('R', "-R (replace a rule)"),
                    Core::NewChain => ('N', "-N (user-defined chains)"),
                    Core::DeleteChain => ('X', "-X (user-defined chains)"),
                    _ => ('E', "-E (user-defined chains)"),
                };
                self.add_command(letter)?;
                return Err(ParseError::unsupported(what, written));
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
                self.jump = Some(jump(&req(arg))?);
            }
            Core::Goto => {
                self.set_option('j')?;
                let name = req(arg);
                check_target_name(&name)?;
                return Err(ParseError::unsupported(
                    format!("-g {name} (user-defined chains)"),
                    name,
                ));
            }
            Core::Match => {
                if self.invert {
                    return Err(ParseError::BangBeforeOption { option: "match" });
                }
                let name = req(arg);
                match Module::by_name(&name) {
                    Some(m) => self.matches.push(Instance::new(m)),
                    None if extensions::MATCHES.contains(&name.as_str()) => {
                        return Err(ParseError::unsupported(format!("-m {name}"), name));
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
                // Only about the xtables lock, which fw does not take: ignored.
                let v = arg.or_else(|| sc.next_plain().map(str::to_string));
                if core == Core::WaitInterval && v.is_none() {
                    return Err(ParseError::WaitIntervalRequired);
                }
                if let Some(v) = v
                    && !values::scanf_unsigned(&v)
                {
                    return Err(if core == Core::Wait {
                        ParseError::WaitNotNumeric(v)
                    } else {
                        ParseError::WaitIntervalNotNumeric(v)
                    });
                }
                if core == Core::Wait {
                    self.wait = true;
                } else {
                    self.wait_interval = true;
                }
            }
            Core::Table => {
                if self.invert {
                    return Err(ParseError::BangBeforeOption { option: "table" });
                }
                self.table = Some(req(arg));
            }
            Core::Fragment => {
                self.set_option('f')?;
                let bang = if self.invert { "! " } else { "" };
                self.defer(ParseError::unsupported(
                    format!("{bang}-f (fragments)"),
                    written,
                ));
            }
            Core::SetCounters => {
                self.set_option('c')?;
                return Err(ParseError::unsupported("-c (setting counters)", written));
            }
            Core::Modprobe => return Err(ParseError::unsupported("--modprobe", written)),
            Core::Ipv4 => {}
            Core::Ipv6 => return Err(ParseError::Ipv6),
        }
        Ok(())
    }

    fn handle_ext(
        &mut self,
        instance: usize,
        opt: ExtOpt,
        written: &str,
        arg: Option<String>,
        services: &Services,
    ) -> Result<(), ParseError> {
        let invert = self.invert;
        let Some(inst) = self.matches.get_mut(instance) else {
            return Err(ParseError::UnknownOption(written.to_string()));
        };
        let (slot, canonical) = match opt {
            ExtOpt::SourcePort => (&mut inst.sport, "source-port"),
            ExtOpt::DestinationPort => (&mut inst.dport, "destination-port"),
            ExtOpt::Unsupported(name) => {
                let bang = if invert { "! " } else { "" };
                return Err(ParseError::unsupported(format!("{bang}--{name}"), written));
            }
        };
        let written = written.to_string();
        let arg = arg.unwrap_or_default();
        // tcp still uses iptables' old parser, udp the newer xtoptions one:
        // their wording and number syntax differ.
        let value = match inst.module {
            Module::Tcp => {
                if slot.is_some() {
                    return Err(ParseError::DuplicatePortOption {
                        option: canonical,
                        written,
                    });
                }
                values::tcp_port_range(&arg, services)?
            }
            Module::Udp => {
                if slot.is_some() {
                    return Err(ParseError::OptionOnce {
                        module: "udp",
                        option: canonical,
                        written,
                    });
                }
                values::udp_port_range(&arg, canonical, services)?
            }
        };
        let full = value
            == PortRange {
                lo: 0,
                hi: u16::MAX,
            };
        // The full range matches every port: iptables stores it like no option.
        *slot = Some((invert || !full).then_some(Neg { value, invert }));
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
        if let Some(m) = Module::by_name(name) {
            self.matches.push(Instance::new(m));
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
                    key: Key::Ext { instance, opt },
                    written,
                    arg,
                } => self.handle_ext(instance, opt, &written, arg, services)?,
            }
            self.invert = false;
        }
    }

    /// The checks after the pass, then the command.
    fn finish(self) -> Result<Invocation, ParseError> {
        let Some(cmd) = self.cmd else {
            return Err(ParseError::NoCommand);
        };
        if self.invert {
            return Err(ParseError::DanglingBang);
        }
        if self.wait_interval && !self.wait {
            return Err(ParseError::WaitIntervalWithoutWait);
        }
        let addr = |a: &Option<(String, bool)>| -> Result<Option<Neg<AddrMask>>, ParseError> {
            match a {
                Some((text, invert)) => values::address(text, *invert),
                None => Ok(None),
            }
        };
        let source = addr(&self.source)?;
        let destination = addr(&self.destination)?;

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
            && chain.len() >= 29
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

        // What iptables only finds out after parsing.
        if let Some(t) = self.table
            && t != "filter"
        {
            return Err(if extensions::TABLES.contains(&t.as_str()) {
                ParseError::unsupported(format!("-t {t}"), t)
            } else {
                ParseError::UnknownTable(t)
            });
        }
        if let Some(Jump::Unknown(name)) = &self.jump {
            return Err(ParseError::UnknownTarget(name.clone()));
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
        for m in &self.matches {
            let needed = m.module.protocol();
            if self.protocol
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

        // fw's own refusals come last, after iptables would have failed to
        // find the chain (fw has only the built-in ones).
        let missing_target = cmd.takes_rule() && !matches!(self.jump, Some(Jump::Target(_)));
        if (self.deferred.is_some() || missing_target)
            && !self.spec_only
            && let Some(chain) = cmd.chain()
            && BuiltinChain::from_name(chain).is_none()
        {
            return Err(ParseError::NoSuchChain(chain.to_string()));
        }
        if let Some(e) = self.deferred {
            return Err(e);
        }
        let build_rule = |jump: Option<Jump>| match jump {
            Some(Jump::Target(target)) => Ok(Rule {
                protocol: self.protocol,
                source,
                destination,
                in_interface: self.in_interface.clone(),
                out_interface: self.out_interface.clone(),
                matches: self.matches.iter().map(Instance::to_match).collect(),
                target,
            }),
            _ => Err(ParseError::NotSupported {
                what: "rule without -j (a rule that only counts)".into(),
                token: None,
            }),
        };
        let command = match cmd {
            Cmd::Append { chain } => Command::Append {
                chain,
                rule: build_rule(self.jump)?,
            },
            Cmd::Insert { chain, index } => Command::Insert {
                chain,
                index,
                rule: build_rule(self.jump)?,
            },
            Cmd::Delete { chain } => Command::Delete {
                chain,
                which: RuleRef::Spec(build_rule(self.jump)?),
            },
            Cmd::DeleteNum { chain, number } => Command::Delete {
                chain,
                which: RuleRef::Number(number),
            },
            Cmd::Flush { chain } => Command::Flush { chain },
            Cmd::Policy { chain, policy } => Command::Policy {
                chain,
                policy: if policy == "DROP" {
                    Policy::Drop
                } else {
                    Policy::Accept
                },
            },
            Cmd::List { chain } => Command::List { chain },
            Cmd::ListRules { chain } => Command::ListRules { chain },
            Cmd::Zero { chain } => Command::Zero { chain },
        };
        Ok(Invocation {
            command,
            options: self.out,
        })
    }
}

/// `-j`/`-g` name checks (iptables' `xt_parse_target`).
fn check_target_name(name: &str) -> Result<(), ParseError> {
    if name.is_empty() {
        return Err(ParseError::EmptyTargetName);
    }
    if name.len() >= 29 {
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
        "ACCEPT" => Jump::Target(Target::Accept),
        "DROP" => Jump::Target(Target::Drop),
        _ if extensions::TARGETS.contains(&name) => {
            return Err(ParseError::unsupported(format!("-j {name}"), name));
        }
        _ => Jump::Unknown(name.to_string()),
    })
}

/// Parses a whole command line; see [`super::parse_args`].
pub(crate) fn parse_invocation(
    args: &[String],
    services: &Services,
) -> Result<Invocation, ParseError> {
    let mut st = State::default();
    st.scan(args, services)?;
    st.finish()
}

/// Parses the words of a rule specification; see [`super::parse_rule_spec`].
pub(crate) fn parse_rule_words(words: &[String], services: &Services) -> Result<Rule, ParseError> {
    let mut st = State {
        cmd: Some(Cmd::Append {
            chain: String::new(),
        }),
        spec_only: true,
        commands: vec!['A'],
        ..State::default()
    };
    st.scan(words, services)?;
    match st.finish()?.command {
        Command::Append { rule, .. } => Ok(rule),
        // Cannot happen: the command was set to -A above and others conflict.
        _ => Err(ParseError::NoCommand),
    }
}
