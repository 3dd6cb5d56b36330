//! One parsed `fw` command line in iptables syntax (iptables(8),
//! "COMMANDS" and "OTHER OPTIONS"), ready to execute.

use crate::model::{Policy, Rule};

/// Which rule `-D` removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleRef {
    /// `-D CHAIN rulenum`, 1-based.
    Number(u32),
    /// `-D CHAIN rule-specification`: the first rule equal to this one.
    Spec(Rule),
}

/// The command (exactly one per invocation, as in iptables).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-A CHAIN rule`.
    Append { chain: String, rule: Rule },
    /// `-I CHAIN [rulenum] rule`; `index` is 1-based, 1 when omitted.
    Insert {
        chain: String,
        index: u32,
        rule: Rule,
    },
    /// `-D CHAIN rulenum|rule`.
    Delete { chain: String, which: RuleRef },
    /// `-F [CHAIN]`; `None` flushes every chain.
    Flush { chain: Option<String> },
    /// `-P CHAIN TARGET`.
    Policy { chain: String, policy: Policy },
    /// `-L [CHAIN]`.
    List { chain: Option<String> },
    /// `-S [CHAIN]`.
    ListRules { chain: Option<String> },
    /// `-Z [CHAIN]`.
    Zero { chain: Option<String> },
}

/// Options that change how a command prints (iptables(8), "OTHER OPTIONS").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-v`: counters and interfaces in `-L`.
    pub verbose: bool,
    /// `-n`: numeric addresses and ports.
    pub numeric: bool,
    /// `-x`: exact counters instead of K/M/G.
    pub exact: bool,
    /// `--line-numbers`.
    pub line_numbers: bool,
}

/// A whole command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    pub options: Options,
}
