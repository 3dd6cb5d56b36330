//! One parsed `fw` command line in iptables syntax (iptables(8),
//! "COMMANDS" and "OTHER OPTIONS"), ready to execute.
//!
//! A rule specification with comma lists in `-s`/`-d` stands for several
//! rules, one per source and destination pair (sources outer), as iptables
//! expands it; commands that take a rule therefore hold a list.

use crate::model::{Family, Policy, Rule};

/// Which rule `-D` removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleRef {
    /// `-D CHAIN rulenum`, 1-based.
    Number(u32),
    /// `-D CHAIN rule-specification`: for each rule, the first rule of the
    /// chain equal to it (all of them must exist).
    Spec(Vec<Rule>),
}

/// What `-Z` zeroes when it comes with `-L` or `-S` (iptables'
/// `CMD_ZERO` and `CMD_ZERO_NUM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zeroing {
    /// No `-Z`.
    Not,
    /// `-Z [CHAIN]`: the listed chain, or every chain.
    Chain,
    /// `-Z CHAIN N`: the listed rule alone ("Index of counter too big"
    /// when there is none).
    Rule,
}

/// The command (exactly one per invocation, as in iptables; `-Z` may come
/// with `-L` or `-S`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-A CHAIN rule`: appends every rule, in order.
    Append {
        /// The chain.
        chain: String,
        /// The rules (one per address pair).
        rules: Vec<Rule>,
    },
    /// `-C CHAIN rule`: succeeds when every rule exists in the chain.
    Check {
        /// The chain.
        chain: String,
        /// The rules (one per address pair).
        rules: Vec<Rule>,
    },
    /// `-I CHAIN [rulenum] rule`; `index` is 1-based, 1 when omitted. Each
    /// rule is inserted at `index` in turn, so a list ends up reversed, as
    /// with iptables.
    Insert {
        /// The chain.
        chain: String,
        /// 1-based position.
        index: u32,
        /// The rules (one per address pair).
        rules: Vec<Rule>,
    },
    /// `-R CHAIN rulenum rule` (one address pair only).
    Replace {
        /// The chain.
        chain: String,
        /// 1-based position of the rule replaced.
        index: u32,
        /// The new rule.
        rule: Rule,
    },
    /// `-D CHAIN rulenum|rule`.
    Delete {
        /// The chain.
        chain: String,
        /// Which rule(s).
        which: RuleRef,
    },
    /// `-F [CHAIN]`; `None` flushes every chain.
    Flush {
        /// The chain, or all.
        chain: Option<String>,
    },
    /// `-P CHAIN TARGET`.
    Policy {
        /// A built-in chain (checked by exec).
        chain: String,
        /// ACCEPT or DROP.
        policy: Policy,
    },
    /// `-L [CHAIN [rulenum]]`, with `-Z` when `zero`.
    List {
        /// The chain, or all.
        chain: Option<String>,
        /// Only this rule (1-based), printed without the chain header.
        rule: Option<u32>,
        /// What `-Z` zeroes after listing.
        zero: Zeroing,
    },
    /// `-S [CHAIN [rulenum]]`, with `-Z` when `zero`.
    ListRules {
        /// The chain, or all.
        chain: Option<String>,
        /// Only this rule (1-based).
        rule: Option<u32>,
        /// What `-Z` zeroes after listing.
        zero: Zeroing,
    },
    /// `-Z [CHAIN [rulenum]]`.
    Zero {
        /// The chain, or all.
        chain: Option<String>,
        /// Only this rule (1-based).
        rule: Option<u32>,
    },
    /// `-N CHAIN`.
    NewChain {
        /// The new user-defined chain.
        chain: String,
    },
    /// `-X [CHAIN]`; `None` deletes every user-defined chain.
    DeleteChain {
        /// The chain, or all.
        chain: Option<String>,
    },
    /// `-E OLD NEW`.
    RenameChain {
        /// The user-defined chain renamed.
        old: String,
        /// Its new name.
        new: String,
    },
}

impl Command {
    /// The rules the command gives (`-A`, `-I`, `-R`, `-C`, `-D` by
    /// specification).
    pub fn rules(&self) -> &[Rule] {
        match self {
            Self::Append { rules, .. } | Self::Check { rules, .. } | Self::Insert { rules, .. } => {
                rules
            }
            Self::Replace { rule, .. } => std::slice::from_ref(rule),
            Self::Delete {
                which: RuleRef::Spec(rules),
                ..
            } => rules,
            _ => &[],
        }
    }

    /// The chain the command names (`-E`: the old name); `None` where it
    /// acts on every chain.
    pub fn chain(&self) -> Option<&str> {
        match self {
            Self::Append { chain, .. }
            | Self::Check { chain, .. }
            | Self::Insert { chain, .. }
            | Self::Replace { chain, .. }
            | Self::Delete { chain, .. }
            | Self::Policy { chain, .. }
            | Self::NewChain { chain }
            | Self::RenameChain { old: chain, .. } => Some(chain),
            Self::Flush { chain }
            | Self::List { chain, .. }
            | Self::ListRules { chain, .. }
            | Self::Zero { chain, .. }
            | Self::DeleteChain { chain } => chain.as_deref(),
        }
    }
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
    /// What to do.
    pub command: Command,
    /// The family it was parsed in: the table it runs on must be of it.
    pub family: Family,
    /// How to print.
    pub options: Options,
    /// `-w N`: give up on the lock after N seconds (exit status 4);
    /// `None` (no `-w`, `-w` alone or `-w 0`) waits as long as it takes,
    /// as iptables 1.8.9 does.
    pub wait: Option<u32>,
    /// `-W` was given: accepted and ignored with iptables' warning.
    pub wait_interval: bool,
    /// What the parser warned about on standard error, line by line, as
    /// ip6tables warns of `-p` with an IPv6 extension header's protocol.
    pub warnings: Vec<String>,
}
