//! The one definition of fw's BPF map layouts, shared by the no_std eBPF
//! program (`firewall-ebpf`) and the user side (`firewall`).
//!
//! Every type here is `#[repr(C)]` and plain data. Byte order is stated per
//! field: addresses are kept in network byte order exactly as they appear in
//! the IPv4 header (RFC 791), so the kernel side compares them without
//! swapping; ports and lengths are host order.
//!
//! # Maps
//! | name       | kind             | key                          | value        |
//! |------------|------------------|------------------------------|--------------|
//! | `CONFIG`   | array, 1 entry   | 0                            | [`Config`]   |
//! | `CHAINS`   | array            | [`chain_slot`]`(bank, chain)` | [`ChainHeader`] |
//! | `RULES`    | array            | [`rule_slot`]`(bank, chain, n)` | [`RuleEntry`] |
//! | `COUNTERS` | per-CPU array    | [`RuleEntry::counter`] or [`policy_counter`] | [`Counter`] |
//!
//! A ruleset is written into the bank that [`Config::active_bank`] does not
//! name, then made live by one write of `active_bank`: the program reads that
//! word once per packet, so no packet sees half of two rulesets.
#![no_std]

/// Number of rule banks: one live, one being written.
pub const BANKS: u32 = 2;

/// Built-in chains of the filter table, in map order (iptables(8), "TABLES").
pub const CHAIN_INPUT: u32 = 0;
/// See [`CHAIN_INPUT`].
pub const CHAIN_FORWARD: u32 = 1;
/// See [`CHAIN_INPUT`].
pub const CHAIN_OUTPUT: u32 = 2;
/// Number of built-in chains.
pub const CHAINS: u32 = 3;

/// Rules one chain can hold. The classifier walks a chain's rules in order,
/// so this bounds its per-packet loop.
pub const MAX_RULES_PER_CHAIN: u32 = 1024;

/// Entries in `RULES`: both banks, every chain.
pub const RULE_SLOTS: u32 = BANKS * CHAINS * MAX_RULES_PER_CHAIN;

/// Counter slots for rules. A rule keeps its slot for its whole life, so its
/// counters survive edits of other rules (iptables does the same).
pub const MAX_RULE_COUNTERS: u32 = CHAINS * MAX_RULES_PER_CHAIN;

/// Entries in `COUNTERS`: the rule slots, then one policy counter per chain.
pub const COUNTER_SLOTS: u32 = MAX_RULE_COUNTERS + CHAINS;

/// Index of a chain's header in `CHAINS`.
#[inline(always)]
pub const fn chain_slot(bank: u32, chain: u32) -> u32 {
    bank * CHAINS + chain
}

/// Index of rule `n` (0-based) of `chain` in `RULES`.
#[inline(always)]
pub const fn rule_slot(bank: u32, chain: u32, n: u32) -> u32 {
    (bank * CHAINS + chain) * MAX_RULES_PER_CHAIN + n
}

/// Index of a chain's policy counter in `COUNTERS`.
#[inline(always)]
pub const fn policy_counter(chain: u32) -> u32 {
    MAX_RULE_COUNTERS + chain
}

/// Global switch, `CONFIG[0]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The bank (0 or 1) the program reads; anything else means "no
    /// ruleset loaded" and every packet passes.
    pub active_bank: u32,
}

/// Verdicts stored in [`RuleEntry::verdict`] and [`ChainHeader::policy`].
pub const VERDICT_ACCEPT: u8 = 0;
/// See [`VERDICT_ACCEPT`].
pub const VERDICT_DROP: u8 = 1;

/// One chain of one bank, `CHAINS[chain_slot(bank, chain)]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainHeader {
    /// Rules in this chain, at most [`MAX_RULES_PER_CHAIN`].
    pub rule_count: u32,
    /// The policy verdict ([`VERDICT_ACCEPT`] or [`VERDICT_DROP`]).
    pub policy: u8,
    pub _pad: [u8; 3],
}

/// [`RuleEntry::flags`]: the rule has a protocol match.
pub const F_PROTO: u16 = 1 << 0;
/// The protocol match is negated (`! -p`).
pub const F_NOT_PROTO: u16 = 1 << 1;
/// The source match is negated (`! -s`).
pub const F_NOT_SRC: u16 = 1 << 2;
/// The destination match is negated (`! -d`).
pub const F_NOT_DST: u16 = 1 << 3;
/// The rule has an input interface match (`-i`).
pub const F_IN_IF: u16 = 1 << 4;
/// The input interface match is negated.
pub const F_NOT_IN_IF: u16 = 1 << 5;
/// The rule has an output interface match (`-o`).
pub const F_OUT_IF: u16 = 1 << 6;
/// The output interface match is negated.
pub const F_NOT_OUT_IF: u16 = 1 << 7;
/// The rule has a source port match (`--sport`, tcp or udp).
pub const F_SPORT: u16 = 1 << 8;
/// The source port match is negated.
pub const F_NOT_SPORT: u16 = 1 << 9;
/// The rule has a destination port match (`--dport`, tcp or udp).
pub const F_DPORT: u16 = 1 << 10;
/// The destination port match is negated.
pub const F_NOT_DPORT: u16 = 1 << 11;

/// One compiled rule, `RULES[rule_slot(bank, chain, n)]`.
///
/// A packet matches when every present field matches (iptables(8),
/// "PARAMETERS"); source and destination always take part, with mask 0
/// for "any".
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleEntry {
    /// Source address, network byte order, already masked.
    pub src_addr: u32,
    /// Source netmask, network byte order; 0 matches any source.
    pub src_mask: u32,
    /// Destination address, network byte order, already masked.
    pub dst_addr: u32,
    /// Destination netmask, network byte order.
    pub dst_mask: u32,
    /// Input interface index (`-i`), when [`F_IN_IF`].
    pub in_ifindex: u32,
    /// Output interface index (`-o`), when [`F_OUT_IF`].
    pub out_ifindex: u32,
    /// Index of this rule's packet and byte counters in `COUNTERS`.
    pub counter: u32,
    /// Inclusive source port range, host byte order.
    pub sport_lo: u16,
    /// See [`RuleEntry::sport_lo`].
    pub sport_hi: u16,
    /// Inclusive destination port range, host byte order.
    pub dport_lo: u16,
    /// See [`RuleEntry::dport_lo`].
    pub dport_hi: u16,
    /// `F_*` bits.
    pub flags: u16,
    /// IP protocol number (RFC 790 / IANA), when [`F_PROTO`].
    pub proto: u8,
    /// [`VERDICT_ACCEPT`] or [`VERDICT_DROP`].
    pub verdict: u8,
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
    // SAFETY: all four are repr(C) plain data whose padding is explicit.
    unsafe impl aya::Pod for super::Config {}
    unsafe impl aya::Pod for super::ChainHeader {}
    unsafe impl aya::Pod for super::RuleEntry {}
    unsafe impl aya::Pod for super::Counter {}
}
