//! The one definition of fw's BPF map layouts, shared by the no_std eBPF
//! program (`firewall-ebpf`) and the user side (`firewall`).
//!
//! Every type here is `#[repr(C)]` plain data. Addresses are kept in
//! network byte order exactly as they appear in the IPv4 header (RFC 791);
//! LPM trie keys are network order too, because the trie compares bytes
//! from the first one. Everything else is host order.
//!
//! # The classifier's maps
//! A chain is classified with the Linear Bit Vector Search: for every
//! header field the chain constrains, one lookup gives the packet's class
//! of that field, each class names the set of rules that accept it, and
//! the first rule present in every field's set is the match. Sets are
//! bit vectors of [`MAX_RULES_PER_CHAIN`] bits, stored sparsely as
//! `W xor X(class)` (see `firewall/src/compile/classes.rs`).
//!
//! | map          | kind            | key              | value           |
//! |--------------|-----------------|------------------|-----------------|
//! | `CONFIG`     | array, 1        | 0                | [`Config`]      |
//! | `CHAINS`     | array           | [`chain_slot`]   | [`ChainInfo`]   |
//! | `RULES`      | array           | [`rule_slot`]    | [`RuleInfo`]    |
//! | `ADDR_CLASS` | LPM trie        | [`AddrKey`]      | class (`u32`)   |
//! | `PORT_CLASS` | LPM trie        | [`PortKey`]      | class (`u32`)   |
//! | `VALUE_CLASS`| hash            | [`ValueKey`]     | class (`u32`)   |
//! | `SUMMARY`    | hash            | [`ClassKey`]     | [`Summary`]     |
//! | `WORDS`      | hash            | [`WordKey`]      | `u64` bits      |
//! | `COUNTERS`   | per-CPU array   | [`RuleInfo::counter`] or [`policy_counter`] | [`Counter`] |
//!
//! Every key carries the bank. A ruleset is written into the bank that
//! [`Config::live`] does not name, then made live by one write of
//! `live`: the program reads that word once per packet, so no packet sees
//! half of two rulesets.
#![no_std]

/// Number of rule banks: one live, one being written.
pub const BANKS: u32 = 2;

/// Built-in chains of the filter table (iptables(8), "TABLES"); user
/// chains follow from [`FIRST_USER_CHAIN`].
pub const CHAIN_INPUT: u32 = 0;
/// See [`CHAIN_INPUT`].
pub const CHAIN_FORWARD: u32 = 1;
/// See [`CHAIN_INPUT`].
pub const CHAIN_OUTPUT: u32 = 2;
/// Number of built-in chains; also the first user chain's number.
pub const BUILTIN_CHAINS: u32 = 3;
/// See [`BUILTIN_CHAINS`].
pub const FIRST_USER_CHAIN: u32 = BUILTIN_CHAINS;
/// Chains per bank, built-in and user-defined.
pub const MAX_CHAINS: u32 = 256;

/// Rules one chain can hold.
pub const MAX_RULES_PER_CHAIN: u32 = 65536;
/// Rules all chains of one bank can hold together.
pub const MAX_RULES: u32 = 262_144;
/// Bits per bit-vector word.
pub const WORD_BITS: u32 = 64;
/// Words of one chain's rule bit vector.
pub const MAX_WORDS: u32 = MAX_RULES_PER_CHAIN / WORD_BITS;
/// Words of a [`Summary`]: one bit per rule word.
pub const SUMMARY_WORDS: usize = (MAX_WORDS / WORD_BITS) as usize;

/// Counter slots for rules. A rule keeps its slot for its whole life, so
/// its counters survive edits of other rules (iptables does the same).
pub const MAX_RULE_COUNTERS: u32 = MAX_RULES;
/// Entries in `COUNTERS`: the rule slots, then one policy counter per
/// built-in chain.
pub const COUNTER_SLOTS: u32 = MAX_RULE_COUNTERS + BUILTIN_CHAINS;

/// Jumps that may be pending at once (iptables' own limit is the stack of
/// the kernel; real rulesets nest a few levels).
pub const MAX_JUMP_DEPTH: usize = 8;
/// Chain visits per packet the walk may take: a visit per chain entered,
/// per return and per rule without a target. The compiler refuses
/// rulesets that could need more; real ones need tens.
pub const MAX_STEPS: u32 = 1024;

/// Header fields the classifier matches on, each with its own classes.
pub const FIELD_SRC: u32 = 0;
/// Destination address.
pub const FIELD_DST: u32 = 1;
/// IP protocol.
pub const FIELD_PROTO: u32 = 2;
/// TCP/UDP source port.
pub const FIELD_SPORT: u32 = 3;
/// TCP/UDP destination port.
pub const FIELD_DPORT: u32 = 4;
/// Input interface index.
pub const FIELD_IN_IF: u32 = 5;
/// Output interface index.
pub const FIELD_OUT_IF: u32 = 6;
/// Number of fields.
pub const FIELDS: u32 = 7;

/// Class of values no rule names. It has no map entry: a lookup that
/// misses means this class.
pub const CLASS_DEFAULT: u32 = 0;
/// Port class of packets without ports (not TCP/UDP, or a non-first
/// fragment).
pub const CLASS_NO_PORT: u32 = 1;
/// The pseudo-class under which `WORDS` keeps a field's `W` vector.
pub const CLASS_W: u32 = u32::MAX;

/// Index of a chain in `CHAINS`.
#[inline(always)]
pub const fn chain_slot(bank: u32, chain: u32) -> u32 {
    bank * MAX_CHAINS + chain
}

/// Index of a rule in `RULES`: `first` is [`ChainInfo::first_rule`].
#[inline(always)]
pub const fn rule_slot(bank: u32, first: u32, n: u32) -> u32 {
    bank * MAX_RULES + first + n
}

/// Index of a built-in chain's policy counter in `COUNTERS`.
#[inline(always)]
pub const fn policy_counter(chain: u32) -> u32 {
    MAX_RULE_COUNTERS + chain
}

/// The id of one field of one chain of one bank, the first member of every
/// class and word key: bank in bit 31, chain in bits 8..24, field below.
#[inline(always)]
pub const fn field_id(bank: u32, chain: u32, field: u32) -> u32 {
    (bank << 31) | (chain << 8) | field
}

/// [`Config::live`] when no ruleset is loaded: every packet passes.
pub const NOT_LIVE: u32 = u32::MAX;

/// Global switch, `CONFIG[0]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The live bank in bit 0 and the swap generation above it (see
    /// [`Config::live_word`]), or [`NOT_LIVE`]. One aligned word, so the
    /// program reads bank and generation together, never half of a swap:
    /// the generation keys `MATCH_CACHE`.
    pub live: u32,
    /// Non-zero while the spare bank may hold entries (a swap is under way
    /// or died half-way); user space then clears it before writing it.
    /// The program never reads this.
    pub spare_dirty: u32,
}

impl Config {
    /// The `live` word for `bank` (0 or 1) at swap `generation` (31 bits).
    pub const fn live_word(generation: u32, bank: u32) -> u32 {
        ((generation & 0x3fff_ffff) << 1) | (bank & 1)
    }

    /// The live bank, if any.
    pub const fn bank(&self) -> Option<u32> {
        if self.live == NOT_LIVE {
            None
        } else {
            Some(self.live & 1)
        }
    }

    /// The swap generation of the live bank (0 before the first swap).
    pub const fn generation(&self) -> u32 {
        if self.live == NOT_LIVE {
            0
        } else {
            self.live >> 1
        }
    }
}

/// Verdicts of built-in chain policies ([`ChainInfo::policy`]).
pub const VERDICT_ACCEPT: u32 = 0;
/// See [`VERDICT_ACCEPT`].
pub const VERDICT_DROP: u32 = 1;

/// [`RuleInfo::target`]: accept the packet.
pub const TARGET_ACCEPT: u32 = 0;
/// Drop the packet.
pub const TARGET_DROP: u32 = 1;
/// Return to the calling chain, or take the policy in a built-in chain.
pub const TARGET_RETURN: u32 = 2;
/// Jump to [`RuleInfo::chain`], coming back after this rule.
pub const TARGET_JUMP: u32 = 3;
/// Go to [`RuleInfo::chain`] without coming back.
pub const TARGET_GOTO: u32 = 4;
/// Count the packet and go on with the next rule (a rule without `-j`).
pub const TARGET_NONE: u32 = 5;

/// One chain of one bank, `CHAINS[chain_slot(bank, chain)]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainInfo {
    /// Position of the chain's first rule among its bank's `RULES`.
    pub first_rule: u32,
    /// Rules in the chain, at most [`MAX_RULES_PER_CHAIN`].
    pub rule_count: u32,
    /// Bit `f` set when some rule constrains field `f` (`FIELD_*`).
    pub fields: u32,
    /// Policy of a built-in chain ([`VERDICT_ACCEPT`] or [`VERDICT_DROP`]).
    pub policy: u32,
}

/// One rule, `RULES[rule_slot(bank, first_rule, n)]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleInfo {
    /// Index of the rule's packet and byte counters in `COUNTERS`.
    pub counter: u32,
    /// `TARGET_*`.
    pub target: u32,
    /// The chain of a jump or goto.
    pub chain: u32,
}

/// `ADDR_CLASS` key: 32 bits of field id, then the address. The LPM
/// prefix length is 32 + the address prefix length.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrKey {
    /// [`field_id`], big-endian so the trie compares it first as a whole.
    pub id: [u8; 4],
    /// IPv4 address, network byte order.
    pub addr: [u8; 4],
}

/// `PORT_CLASS` key: field id, then the port. The LPM prefix length is
/// 32 + the port prefix length (0..=16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortKey {
    /// [`field_id`], big-endian.
    pub id: [u8; 4],
    /// Port, network byte order.
    pub port: [u8; 2],
    /// Zero; keeps the key 8 bytes long.
    pub _pad: [u8; 2],
}

/// `VALUE_CLASS` key: a protocol number or interface index.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValueKey {
    /// [`field_id`].
    pub id: u32,
    /// IP protocol (0..=255) or interface index.
    pub value: u32,
}

/// `SUMMARY` key: one class of one field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassKey {
    /// [`field_id`].
    pub id: u32,
    /// Class number.
    pub class: u32,
}

/// Which words of a class's rule vector (`W xor X`) have a bit set: bit
/// `w % 64` of word `w / 64`. A class with no entry matches no rule.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Bit `b` of `words[i]` is set when rule word `64 * i + b` may hold a
    /// match.
    pub words: [u64; SUMMARY_WORDS],
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            words: [0; SUMMARY_WORDS],
        }
    }
}

/// `WORDS` key: word `word` of `X(class)`, or of `W` when `class` is
/// [`CLASS_W`]. A missing entry is an all-zero word. Bit `b` of word `w`
/// stands for rule `64 * w + b`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WordKey {
    /// [`field_id`].
    pub id: u32,
    /// Class number, or [`CLASS_W`].
    pub class: u32,
    /// Word index, below [`MAX_WORDS`].
    pub word: u32,
}

/// Per-CPU match counters of one rule or policy, `COUNTERS[i]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    /// Packets matched.
    pub packets: u64,
    /// Bytes matched: the IPv4 total length (iptables counts the IP
    /// datagram, without the link-layer header).
    pub bytes: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all are repr(C) plain data without implicit padding.
    unsafe impl aya::Pod for super::Config {}
    unsafe impl aya::Pod for super::ChainInfo {}
    unsafe impl aya::Pod for super::RuleInfo {}
    unsafe impl aya::Pod for super::AddrKey {}
    unsafe impl aya::Pod for super::PortKey {}
    unsafe impl aya::Pod for super::ValueKey {}
    unsafe impl aya::Pod for super::ClassKey {}
    unsafe impl aya::Pod for super::Summary {}
    unsafe impl aya::Pod for super::WordKey {}
    unsafe impl aya::Pod for super::Counter {}
}
