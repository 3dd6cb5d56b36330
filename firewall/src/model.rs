//! The ruleset model: the filter table's chains, their policies and rules,
//! as iptables(8) defines them. Parsing produces it, printing renders it,
//! the compiler turns it into map entries.
//!
//! Addresses are `Ipv4Addr` (the four bytes in network order, as written);
//! ports are host-order `u16`.

pub mod eval;

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The built-in chains of the filter table (iptables(8), "TABLES").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BuiltinChain {
    /// Packets for a local address.
    Input,
    /// Packets routed through the host.
    Forward,
    /// Locally generated packets.
    Output,
}

impl BuiltinChain {
    /// All built-in chains, in the order `iptables -L` and `-S` print them.
    pub const ALL: [BuiltinChain; 3] = [Self::Input, Self::Forward, Self::Output];

    /// The chain's name as iptables spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Input => "INPUT",
            Self::Forward => "FORWARD",
            Self::Output => "OUTPUT",
        }
    }

    /// The chain named `name` (case-sensitive, as in iptables).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The chain's index in the BPF maps (`firewall_common::CHAIN_*`).
    pub fn map_index(self) -> u32 {
        match self {
            Self::Input => firewall_common::CHAIN_INPUT,
            Self::Forward => firewall_common::CHAIN_FORWARD,
            Self::Output => firewall_common::CHAIN_OUTPUT,
        }
    }
}

/// A built-in chain's policy: the verdict for packets no rule decides
/// (iptables(8), `-P`). Only ACCEPT and DROP are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Policy {
    Accept,
    Drop,
}

impl Policy {
    /// `ACCEPT` or `DROP`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Drop => "DROP",
        }
    }
}

/// A rule's target (`-j`). More arrive with the full language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Accept,
    Drop,
}

impl Target {
    /// The target's name as `-j` takes it and `-L` prints it.
    pub fn name(&self) -> &str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Drop => "DROP",
        }
    }
}

/// A match value with iptables' `!` inversion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neg<T> {
    pub value: T,
    /// `true` when the match was written with a leading `!`.
    pub invert: bool,
}

/// An address with its netmask (`-s`/`-d`). `addr` is already masked, as
/// iptables stores it (`-s 192.0.2.7/24` is kept as 192.0.2.0/24). The
/// mask may be non-contiguous when given in dotted form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrMask {
    pub addr: Ipv4Addr,
    pub mask: Ipv4Addr,
}

impl AddrMask {
    /// `addr/prefix`, masking `addr`. `prefix` must be 0..=32.
    pub fn from_prefix(addr: Ipv4Addr, prefix: u8) -> Self {
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        };
        Self {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            mask: Ipv4Addr::from(mask),
        }
    }

    /// The prefix length when the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let m = u32::from(self.mask);
        let ones = m.leading_ones();
        (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
    }
}

/// An inclusive port range, host byte order; a single port has `lo == hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

/// A `-m` match module with its options (iptables-extensions(8)).
/// `-p tcp --dport 22` loads the tcp module implicitly, as iptables does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Match {
    /// `-m tcp`: `--sport`, `--dport`.
    Tcp {
        sport: Option<Neg<PortRange>>,
        dport: Option<Neg<PortRange>>,
    },
    /// `-m udp`: `--sport`, `--dport`.
    Udp {
        sport: Option<Neg<PortRange>>,
        dport: Option<Neg<PortRange>>,
    },
}

/// One rule: the basic matches of iptables(8) "PARAMETERS", the `-m`
/// matches in the order given, and the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// `-p`: IP protocol number (IANA); `None` for any (`-p all` is stored
    /// as `None`, as iptables does).
    pub protocol: Option<Neg<u8>>,
    /// `-s`.
    pub source: Option<Neg<AddrMask>>,
    /// `-d`.
    pub destination: Option<Neg<AddrMask>>,
    /// `-i`: interface name, a trailing `+` matches any name with that prefix.
    pub in_interface: Option<Neg<String>>,
    /// `-o`: as `in_interface`.
    pub out_interface: Option<Neg<String>>,
    /// `-m` matches, in command-line order.
    pub matches: Vec<Match>,
    /// `-j`.
    pub target: Target,
}

/// One built-in chain with its policy and rules, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    pub policy: Policy,
    pub rules: Vec<Rule>,
}

impl Default for Chain {
    fn default() -> Self {
        Self {
            policy: Policy::Accept,
            rules: Vec::new(),
        }
    }
}

/// The filter table: INPUT, FORWARD and OUTPUT, indexed by
/// [`BuiltinChain`] order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    pub input: Chain,
    pub forward: Chain,
    pub output: Chain,
}

impl Ruleset {
    /// The chain `c`.
    pub fn chain(&self, c: BuiltinChain) -> &Chain {
        match c {
            BuiltinChain::Input => &self.input,
            BuiltinChain::Forward => &self.forward,
            BuiltinChain::Output => &self.output,
        }
    }

    /// The chain `c`, mutably.
    pub fn chain_mut(&mut self, c: BuiltinChain) -> &mut Chain {
        match c {
            BuiltinChain::Input => &mut self.input,
            BuiltinChain::Forward => &mut self.forward,
            BuiltinChain::Output => &mut self.output,
        }
    }
}
