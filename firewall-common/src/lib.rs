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
//! | `ANOMALIES`  | per-CPU array   | [`Anomaly::index`] | packets (`u64`) |
//! | `DROPS`      | per-CPU array   | [`Malformed::index`] | packets (`u64`) |
//!
//! Connection tracking has maps of its own, outside the banks: see [`ct`];
//! so has `-j LOG` (its settings are per bank): see [`log`].
//!
//! Every key carries the bank. A ruleset is written into the bank that
//! [`Config::live`] does not name, then made live by one write of
//! `live`: the program reads that word once per packet, so no packet sees
//! half of two rulesets.
#![no_std]

/// Number of rule banks: one live, one being written.
pub const BANKS: u32 = 2;

/// Built-in chains of the filter table (iptables(8), "TABLES"); user
/// chains follow from [`FIRST_USER_CHAIN`]. These are IPv4's: the IPv6
/// table's chains are the same numbers plus [`CHAIN6_BASE`].
pub const CHAIN_INPUT: u32 = 0;
/// See [`CHAIN_INPUT`].
pub const CHAIN_FORWARD: u32 = 1;
/// See [`CHAIN_INPUT`].
pub const CHAIN_OUTPUT: u32 = 2;
/// Number of built-in chains; also the first user chain's number.
pub const BUILTIN_CHAINS: u32 = 3;
/// See [`BUILTIN_CHAINS`].
pub const FIRST_USER_CHAIN: u32 = BUILTIN_CHAINS;
/// Chains per bank, built-in and user-defined, of both families.
pub const MAX_CHAINS: u32 = 256;
/// The first chain of the IPv6 table (ip6tables' INPUT): a bank holds
/// both families' tables, IPv4's chains below this number and IPv6's
/// from it, so one swap changes both and each keeps its own chains and
/// policies, as iptables and ip6tables do.
pub const CHAIN6_BASE: u32 = MAX_CHAINS / 2;
/// Chains one family's table can hold, built-in and user-defined.
pub const MAX_FAMILY_CHAINS: u32 = MAX_CHAINS - CHAIN6_BASE;

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
/// built-in chain of each family (IPv4's, then IPv6's).
pub const COUNTER_SLOTS: u32 = MAX_RULE_COUNTERS + 2 * BUILTIN_CHAINS;

/// Jumps that may be pending at once (iptables' own limit is the stack of
/// the kernel; real rulesets nest a few levels).
pub const MAX_JUMP_DEPTH: usize = 8;
/// Chain visits per packet the walk may take: a visit per chain entered,
/// per return and per rule without a target. The compiler refuses
/// rulesets that could need more; real ones need tens.
pub const MAX_STEPS: u32 = 1024;

/// A header field the classifier matches on, each with its own classes.
///
/// Adding a field: add the variant here, to [`Field::ALL`] and to
/// [`Field::key`]; the compiler then names every other place (the
/// kernel's `class_of` and `value`, the user-side evaluator, the
/// compiler's columns), because every `match` over `Field` is exhaustive.
/// The match cache key holds one value per field ([`FIELDS`] of them), so
/// it grows with the list by construction.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// Source address (IPv4 or IPv6, network byte order).
    Src = 0,
    /// Destination address.
    Dst = 1,
    /// IP protocol number.
    Proto = 2,
    /// TCP/UDP source port.
    Sport = 3,
    /// TCP/UDP destination port.
    Dport = 4,
    /// Input interface index.
    InIf = 5,
    /// Output interface index.
    OutIf = 6,
    /// IP time to live (`-m ttl`), or IPv6 hop limit (`-m hl`), as
    /// netfilter's hook sees it: one less than received in FORWARD (the
    /// kernel decrements it before the FORWARD hook).
    Ttl = 7,
    /// The connection tracking state of the packet (`-m conntrack
    /// --ctstate`, `-m state --state`): one of the [`ct`] state bits
    /// ([`ct::NEW`], [`ct::ESTABLISHED`], [`ct::RELATED`], [`ct::INVALID`]).
    CtState = 8,
    /// ICMP type and code (`-m icmp --icmp-type`; ICMPv6's, `-m icmp6
    /// --icmpv6-type`, in an IPv6 chain): `type << 8 | code` of
    /// a first fragment, [`NO_HEADER_VALUE`] for a packet without an ICMP
    /// header (not ICMP, or a non-first fragment).
    Icmp = 9,
    /// TCP flags (`-m tcp --tcp-flags`, `--syn`): the six classic flags of
    /// byte 13 of the header (`& 0x3f`), [`NO_HEADER_VALUE`] without a TCP
    /// header (not TCP, or a non-first fragment).
    TcpFlags = 10,
    /// The IPv4 total length (`-m length`), or the IPv6 payload length
    /// plus 40 (xt_length's `length_mt6`, in 16 bits), a 16-bit value
    /// looked up like a port (ranges as LPM prefixes).
    Length = 11,
}

// `Field::ALL[i]` is the field of index `i`: the kernel loops by index.
const _: () = {
    let mut i = 0;
    while i < Field::ALL.len() {
        assert!(Field::ALL[i] as usize == i);
        i += 1;
    }
};

/// Number of fields; [`Field::ALL`] lists them in bit order.
pub const FIELDS: u32 = Field::ALL.len() as u32;

/// How a field's classes are looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKey {
    /// `ADDR_CLASS`, an [`AddrKey`] LPM trie over 32 (IPv4) or 128
    /// (IPv6) address bits.
    Addr,
    /// `PORT_CLASS`, a [`PortKey`] LPM trie over 16 port bits.
    Port,
    /// `VALUE_CLASS`, a [`ValueKey`] hash of exact values.
    Value,
}

impl Field {
    /// Every field, in the order of their bits in [`ChainInfo::fields`].
    pub const ALL: [Field; 12] = [
        Field::Src,
        Field::Dst,
        Field::Proto,
        Field::Sport,
        Field::Dport,
        Field::InIf,
        Field::OutIf,
        Field::Ttl,
        Field::CtState,
        Field::Icmp,
        Field::TcpFlags,
        Field::Length,
    ];

    /// The field's number: its bit in [`ChainInfo::fields`] and its part
    /// of a [`field_id`].
    #[inline(always)]
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// The field's bit in [`ChainInfo::fields`].
    #[inline(always)]
    pub const fn bit(self) -> u32 {
        1 << self.index()
    }

    /// Which map holds the field's classes.
    #[inline(always)]
    pub const fn key(self) -> FieldKey {
        match self {
            Field::Src | Field::Dst => FieldKey::Addr,
            Field::Sport | Field::Dport | Field::Length => FieldKey::Port,
            Field::Proto
            | Field::InIf
            | Field::OutIf
            | Field::Ttl
            | Field::CtState
            | Field::Icmp
            | Field::TcpFlags => FieldKey::Value,
        }
    }
}

/// The packet value of [`Field::Sport`] and [`Field::Dport`] for a packet
/// without ports (not TCP/UDP, or a non-first fragment): above every
/// 16-bit port, so it never equals one in the match cache key.
pub const NO_PORT_VALUE: u32 = 1 << 16;

/// The packet value of [`Field::Icmp`] and [`Field::TcpFlags`] for a
/// packet without that header (another protocol, or a non-first
/// fragment): above every 16-bit value. A negated match names it among
/// its values, so that such a packet matches neither `--icmp-type` nor
/// `! --icmp-type` (ipt_icmp, xt_tcpudp).
pub const NO_HEADER_VALUE: u32 = 1 << 16;

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

/// Index of a built-in chain's policy counter in `COUNTERS`: `chain` is
/// its number in the bank (IPv6's from [`CHAIN6_BASE`]).
#[inline(always)]
pub const fn policy_counter(chain: u32) -> u32 {
    MAX_RULE_COUNTERS + (chain / CHAIN6_BASE % 2) * BUILTIN_CHAINS + chain % CHAIN6_BASE
}

/// The id of one field of one chain of one bank, the first member of every
/// class and word key: bank in bit 31, chain in bits 8..24, field below.
#[inline(always)]
pub const fn field_id(bank: u32, chain: u32, field: Field) -> u32 {
    (bank << FIELD_ID_BANK_SHIFT) | (chain << 8) | field.index()
}

/// Bit of [`field_id`] that holds the bank.
pub const FIELD_ID_BANK_SHIFT: u32 = 31;

/// The bank of a [`field_id`] (what a purge of one bank filters on).
#[inline(always)]
pub const fn field_id_bank(id: u32) -> u32 {
    id >> FIELD_ID_BANK_SHIFT
}

/// Bits of the [`field_id`] that starts every LPM key ([`AddrKey`],
/// [`PortKey`]): a key's LPM prefix length is this plus the prefix length
/// of the address or port.
pub const LPM_ID_BITS: u32 = 32;
/// Bits of an IPv4 address in [`AddrKey`].
pub const ADDR_BITS: u32 = 32;
/// Bits of an IPv6 address in [`AddrKey`].
pub const ADDR6_BITS: u32 = 128;
/// Bits of a port in [`PortKey`].
pub const PORT_BITS: u32 = 16;

/// The LPM prefix length of an [`AddrKey`] for an address prefix of
/// `len` bits (0..=32, or 0..=128 in an IPv6 chain); a packet's lookup
/// uses `addr_lpm_prefix(32)` (IPv4) or `addr_lpm_prefix(128)`.
#[inline(always)]
pub const fn addr_lpm_prefix(len: u32) -> u32 {
    LPM_ID_BITS + len
}

/// The LPM prefix length of a [`PortKey`] for a port prefix of `len` bits
/// (0..=16); a packet's lookup uses `port_lpm_prefix(16)`.
#[inline(always)]
pub const fn port_lpm_prefix(len: u32) -> u32 {
    LPM_ID_BITS + len
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

/// Generations are 30 bits: with the bank below them the `live` word then
/// never reaches [`NOT_LIVE`].
pub const GENERATION_MASK: u32 = 0x3fff_ffff;

impl Config {
    /// The `live` word for `bank` (0 or 1) at swap `generation`
    /// ([`GENERATION_MASK`] bits).
    pub const fn live_word(generation: u32, bank: u32) -> u32 {
        ((generation & GENERATION_MASK) << 1) | (bank & 1)
    }

    /// The generation after `generation`. It is never 0, so a live word
    /// is at least 2 and a zeroed match-cache slot never matches it.
    pub const fn next_generation(generation: u32) -> u32 {
        match (generation + 1) & GENERATION_MASK {
            0 => 1,
            g => g,
        }
    }

    /// The bank the next ruleset is written into: the one not live (bank
    /// 0 before the first ruleset).
    pub const fn spare_bank(&self) -> u32 {
        match self.bank() {
            Some(b) => 1 - b,
            None => 0,
        }
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

/// [`ChainInfo::policy`] of a built-in chain: accept.
pub const POLICY_ACCEPT: u32 = 0;
/// [`ChainInfo::policy`]: drop.
pub const POLICY_DROP: u32 = 1;

/// A built-in chain's policy as the kernel reads it from
/// [`ChainInfo::policy`] (iptables(8) `-P`: ACCEPT or DROP only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// [`POLICY_ACCEPT`].
    Accept,
    /// [`POLICY_DROP`].
    Drop,
}

impl Policy {
    /// The map encoding.
    pub const fn encode(self) -> u32 {
        match self {
            Policy::Accept => POLICY_ACCEPT,
            Policy::Drop => POLICY_DROP,
        }
    }

    /// The policy encoded as `raw`; `None` for a value no compiler wrote
    /// (the kernel then drops and counts [`Anomaly::BadPolicy`]).
    pub const fn decode(raw: u32) -> Option<Self> {
        match raw {
            POLICY_ACCEPT => Some(Policy::Accept),
            POLICY_DROP => Some(Policy::Drop),
            _ => None,
        }
    }
}

/// [`RuleInfo::target`]: accept the packet.
pub const TARGET_ACCEPT: u32 = 0;
/// Drop the packet.
pub const TARGET_DROP: u32 = 1;
/// Return to the calling chain, or take the policy in a built-in chain.
pub const TARGET_RETURN: u32 = 2;
/// Jump to the chain in [`RuleInfo::arg`], coming back after this rule.
pub const TARGET_JUMP: u32 = 3;
/// Go to the chain in [`RuleInfo::arg`] without coming back.
pub const TARGET_GOTO: u32 = 4;
/// Count the packet and go on with the next rule (a rule without `-j`).
pub const TARGET_CONTINUE: u32 = 5;
/// Reject: drop and answer with the [`Reject`] in [`RuleInfo::arg`].
pub const TARGET_REJECT: u32 = 6;
/// Log with the configuration in [`RuleInfo::arg`], then go on with the
/// next rule, as iptables' LOG does.
pub const TARGET_LOG: u32 = 7;

/// [`Reject::encode`]'s bit for ICMPv6 types (the code in the low byte).
pub const REJECT_ICMP6: u32 = 0x200;

/// The answer of a REJECT (iptables-extensions(8) `--reject-with`): an
/// ICMP destination unreachable with the code of RFC 792 / RFC 1812, an
/// ICMPv6 destination unreachable with the code of RFC 4443 3.1, or a
/// TCP RST (RFC 9293).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// `icmp-net-unreachable`: type 3 code 0.
    NetUnreachable,
    /// `icmp-host-unreachable`: type 3 code 1.
    HostUnreachable,
    /// `icmp-proto-unreachable`: type 3 code 2.
    ProtoUnreachable,
    /// `icmp-port-unreachable` (the default): type 3 code 3.
    PortUnreachable,
    /// `icmp-net-prohibited`: type 3 code 9.
    NetProhibited,
    /// `icmp-host-prohibited`: type 3 code 10.
    HostProhibited,
    /// `icmp-admin-prohibited`: type 3 code 13.
    AdminProhibited,
    /// `tcp-reset`: a TCP RST (over IPv4 or IPv6, as the packet).
    TcpReset,
    /// `icmp6-no-route`: ICMPv6 destination unreachable (RFC 4443 3.1)
    /// code 0.
    Icmp6NoRoute,
    /// `icmp6-adm-prohibited`: ICMPv6 type 1 code 1.
    Icmp6AdmProhibited,
    /// `icmp6-addr-unreachable`: ICMPv6 type 1 code 3.
    Icmp6AddrUnreachable,
    /// `icmp6-port-unreachable` (ip6tables' default): ICMPv6 type 1 code 4.
    Icmp6PortUnreachable,
    /// `icmp6-policy-fail`: ICMPv6 type 1 code 5.
    Icmp6PolicyFail,
    /// `icmp6-reject-route`: ICMPv6 type 1 code 6.
    Icmp6RejectRoute,
}

impl Reject {
    /// The map encoding in [`RuleInfo::arg`].
    pub const fn encode(self) -> u32 {
        match self {
            Reject::NetUnreachable => 0,
            Reject::HostUnreachable => 1,
            Reject::ProtoUnreachable => 2,
            Reject::PortUnreachable => 3,
            Reject::NetProhibited => 9,
            Reject::HostProhibited => 10,
            Reject::AdminProhibited => 13,
            Reject::TcpReset => 0x100,
            Reject::Icmp6NoRoute => REJECT_ICMP6,
            Reject::Icmp6AdmProhibited => REJECT_ICMP6 | 1,
            Reject::Icmp6AddrUnreachable => REJECT_ICMP6 | 3,
            Reject::Icmp6PortUnreachable => REJECT_ICMP6 | 4,
            Reject::Icmp6PolicyFail => REJECT_ICMP6 | 5,
            Reject::Icmp6RejectRoute => REJECT_ICMP6 | 6,
        }
    }

    /// The ICMP (ICMPv6) code of an ICMP answer; the TCP RST has none.
    pub const fn code(self) -> u8 {
        self.encode() as u8
    }

    /// Whether the answer fits a packet of this family: ICMP types answer
    /// IPv4, ICMPv6 types IPv6, a RST either.
    pub const fn answers(self, v6: bool) -> bool {
        match self {
            Reject::TcpReset => true,
            Reject::NetUnreachable
            | Reject::HostUnreachable
            | Reject::ProtoUnreachable
            | Reject::PortUnreachable
            | Reject::NetProhibited
            | Reject::HostProhibited
            | Reject::AdminProhibited => !v6,
            Reject::Icmp6NoRoute
            | Reject::Icmp6AdmProhibited
            | Reject::Icmp6AddrUnreachable
            | Reject::Icmp6PortUnreachable
            | Reject::Icmp6PolicyFail
            | Reject::Icmp6RejectRoute => v6,
        }
    }

    /// The answer encoded as `raw`, `None` for any other value.
    pub const fn decode(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Reject::NetUnreachable,
            1 => Reject::HostUnreachable,
            2 => Reject::ProtoUnreachable,
            3 => Reject::PortUnreachable,
            9 => Reject::NetProhibited,
            10 => Reject::HostProhibited,
            13 => Reject::AdminProhibited,
            0x100 => Reject::TcpReset,
            REJECT_ICMP6 => Reject::Icmp6NoRoute,
            0x201 => Reject::Icmp6AdmProhibited,
            0x203 => Reject::Icmp6AddrUnreachable,
            0x204 => Reject::Icmp6PortUnreachable,
            0x205 => Reject::Icmp6PolicyFail,
            0x206 => Reject::Icmp6RejectRoute,
            _ => return None,
        })
    }
}

/// What a rule's target does to the packet's walk, as [`RuleInfo`]
/// encodes it in `target` and `arg`. Apart from [`Policy`]: a policy can
/// only accept or drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `-j ACCEPT`.
    Accept,
    /// `-j DROP`.
    Drop,
    /// `-j REJECT --reject-with X`: drop and answer.
    Reject(Reject),
    /// No target: count and go on with the next rule.
    Continue,
    /// `-j LOG`: log with configuration `n`, then go on.
    Log(u32),
    /// `-j RETURN`.
    Return,
    /// `-j CHAIN`: the chain's number.
    Jump(u32),
    /// `-g CHAIN`.
    Goto(u32),
}

impl Verdict {
    /// `(target, arg)` for [`RuleInfo`].
    pub const fn encode(self) -> (u32, u32) {
        match self {
            Verdict::Accept => (TARGET_ACCEPT, 0),
            Verdict::Drop => (TARGET_DROP, 0),
            Verdict::Reject(r) => (TARGET_REJECT, r.encode()),
            Verdict::Continue => (TARGET_CONTINUE, 0),
            Verdict::Log(n) => (TARGET_LOG, n),
            Verdict::Return => (TARGET_RETURN, 0),
            Verdict::Jump(c) => (TARGET_JUMP, c),
            Verdict::Goto(c) => (TARGET_GOTO, c),
        }
    }

    /// The verdict `(target, arg)` encode; `None` for a pair no compiler
    /// wrote (the kernel then drops and counts [`Anomaly::BadTarget`]).
    pub const fn decode(target: u32, arg: u32) -> Option<Self> {
        Some(match target {
            TARGET_ACCEPT => Verdict::Accept,
            TARGET_DROP => Verdict::Drop,
            TARGET_REJECT => match Reject::decode(arg) {
                Some(r) => Verdict::Reject(r),
                None => return None,
            },
            TARGET_CONTINUE => Verdict::Continue,
            // Numbers past their maps' ends are no compiler's: refused,
            // not folded onto another chain or LOG rule.
            TARGET_LOG if arg < log::MAX_CONFIGS => Verdict::Log(arg),
            TARGET_RETURN => Verdict::Return,
            TARGET_JUMP if arg < MAX_CHAINS => Verdict::Jump(arg),
            TARGET_GOTO if arg < MAX_CHAINS => Verdict::Goto(arg),
            _ => return None,
        })
    }
}

/// How one packet's walk ended: what the hook does with the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Pass it on.
    Accept,
    /// Drop it.
    Drop,
    /// Drop it and answer.
    Reject(Reject),
}

/// Things the kernel side found that no correct ruleset or map contents
/// produce. Each drops the packet and counts in `ANOMALIES[index]`, so a
/// mistake is loud instead of a silent pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// A [`RuleInfo`] whose target does not decode.
    BadTarget = 0,
    /// A [`ChainInfo::policy`] that does not decode.
    BadPolicy = 1,
    /// A chain, rule or scratch slot missing from its map.
    MissingEntry = 2,
    /// Jumps nested past [`MAX_JUMP_DEPTH`] or a walk past [`MAX_STEPS`].
    WalkTooLong = 3,
    /// XDP metadata at TC ingress that is neither [`iface::REJECT_MARK`]
    /// nor a mark already carried out (zero).
    BadRejectMark = 4,
    /// A rule check ([`check::Check`]) whose kind does not decode, whose
    /// slots lie past `CHECKS`, or (`-m recent --set`) whose entry the
    /// kernel could not add (xt_recent hot-drops then too).
    BadCheck = 5,
}

impl Anomaly {
    /// Every anomaly, by index.
    pub const ALL: [Anomaly; 6] = [
        Anomaly::BadTarget,
        Anomaly::BadPolicy,
        Anomaly::MissingEntry,
        Anomaly::WalkTooLong,
        Anomaly::BadRejectMark,
        Anomaly::BadCheck,
    ];

    /// Its slot in `ANOMALIES`.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// A short name for `fw status`.
    pub const fn name(self) -> &'static str {
        match self {
            Anomaly::BadTarget => "bad target",
            Anomaly::BadPolicy => "bad policy",
            Anomaly::MissingEntry => "missing map entry",
            Anomaly::WalkTooLong => "walk too long",
            Anomaly::BadRejectMark => "garbled REJECT mark",
            Anomaly::BadCheck => "bad rule check",
        }
    }
}

/// Entries of `ANOMALIES`.
pub const ANOMALY_SLOTS: u32 = Anomaly::ALL.len() as u32;

/// Packets from the network that fw drops before any rule, each counted
/// in the per-CPU array `DROPS[index]` (packets, `u64`): ones the IP
/// layer drops before netfilter sees them, and first fragments netfilter's
/// tcp, udp and icmp matches hot-drop (docs/semantics.md item 3). Not an
/// [`Anomaly`]: the network sends them, no fault of fw's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// An IPv4 header with a bad version or IHL, a total length below its
    /// IHL or above the bytes the frame holds, or a frame too short for
    /// 20 bytes of it (`ip_rcv_core` drops these).
    IpHeader = 0,
    /// A first fragment too short for its TCP header, UDP ports or ICMP
    /// header.
    TruncatedL4 = 1,
    /// More than [`MAX_PRIORITY_TAGS`] 802.1Q/802.1ad tags of VLAN 0 in
    /// front of an IPv4 header: the kernel would untag them all and filter
    /// the packet as IPv4, fw cannot read that far.
    VlanTags = 2,
    /// An IPv6 header with a bad version, a payload length above the
    /// bytes the frame holds (`ipv6_rcv` drops these) or 0 (a jumbogram,
    /// RFC 2675, which fw does not parse), or an extension header
    /// chain that runs past the packet's end (ip6tables' `-p` hot-drops
    /// it; the IPv6 stack drops it after).
    Ipv6Header = 3,
    /// An IPv6 packet with more than [`MAX_EXT_HEADERS`] extension
    /// headers before its upper-layer header: fw does not look further.
    Ipv6ExtHeaders = 4,
}

impl Malformed {
    /// Every reason, by index.
    pub const ALL: [Malformed; 5] = [
        Malformed::IpHeader,
        Malformed::TruncatedL4,
        Malformed::VlanTags,
        Malformed::Ipv6Header,
        Malformed::Ipv6ExtHeaders,
    ];

    /// Its slot in `DROPS`.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// A short name for `fw status`.
    pub const fn name(self) -> &'static str {
        match self {
            Malformed::IpHeader => "malformed IPv4 header",
            Malformed::TruncatedL4 => "truncated TCP, UDP or ICMP header",
            Malformed::VlanTags => "too many VLAN 0 (priority) tags",
            Malformed::Ipv6Header => "malformed IPv6 header or extension header",
            Malformed::Ipv6ExtHeaders => "too many IPv6 extension headers",
        }
    }
}

/// VLAN 0 (priority) tags fw's XDP program removes from the front of an
/// IPv4 frame, as `__netif_receive_skb_core` does with any number of
/// them; a frame with more is dropped as [`Malformed::VlanTags`].
pub const MAX_PRIORITY_TAGS: usize = 8;

/// IPv6 extension headers (hop-by-hop, routing, fragment, destination
/// options, AH: RFC 8200 section 4, RFC 4302) fw walks to find a
/// packet's upper-layer protocol; RFC 8200 4.1 orders at most six
/// (destination options twice). A packet with more is dropped as
/// [`Malformed::Ipv6ExtHeaders`].
pub const MAX_EXT_HEADERS: usize = 8;

/// The [`Field::Proto`] value of an IPv6 non-first fragment whose
/// fragment header is followed by another extension header:
/// `ipv6_find_hdr` finds no protocol for it, so it matches no `-p` and
/// no `! -p` (the compiler names it in every negated one of an IPv6
/// chain). 255 is IANA's reserved protocol number.
pub const PROTO_NONE6: u8 = 255;

/// Entries of `DROPS`.
pub const MALFORMED_SLOTS: u32 = Malformed::ALL.len() as u32;

/// One chain of one bank, `CHAINS[chain_slot(bank, chain)]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainInfo {
    /// Position of the chain's first rule among its bank's `RULES`.
    pub first_rule: u32,
    /// Rules in the chain, at most [`MAX_RULES_PER_CHAIN`].
    pub rule_count: u32,
    /// [`Field::bit`] set for every field some rule constrains.
    pub fields: u32,
    /// Policy of a built-in chain ([`Policy::encode`]).
    pub policy: u32,
    /// The ESTABLISHED fast path of a built-in chain: 1 + the position of
    /// the rule that takes every ESTABLISHED packet's verdict ([`ct`]'s
    /// state, so the walk would count that rule and no other), 0 for none
    /// (an unwritten slot reads as none). See [`ChainInfo::fast_rule`].
    pub fast: u32,
    /// 1 for a built-in chain netfilter runs on whole datagrams, so a
    /// later fragment takes its first fragment's verdict ([`frag`]):
    /// IPv4's INPUT (`ip_local_deliver` reassembles before LOCAL_IN),
    /// OUTPUT (a local datagram meets it before it is fragmented), and
    /// every built-in chain of a table that tracks connections (`-m
    /// state`, `-m conntrack`: `nf_defrag_ipv4`/`_ipv6` come with
    /// conntrack); 0: each fragment meets the rules.
    pub defrag: u32,
}

impl ChainInfo {
    /// [`ChainInfo::fast`] of a chain whose rule `n` decides every
    /// ESTABLISHED packet, or of none.
    pub const fn fast_of(n: Option<u32>) -> u32 {
        match n {
            Some(n) => n + 1,
            None => 0,
        }
    }

    /// The chain's fast path, read from [`ChainInfo::fast`].
    #[inline(always)]
    pub const fn fast_rule(&self) -> FastPath {
        if self.fast == 0 {
            FastPath::None
        } else if self.fast > self.rule_count {
            FastPath::Garbled
        } else {
            FastPath::Rule(self.fast - 1)
        }
    }
}

/// What [`ChainInfo::fast`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastPath {
    /// No fast path: ESTABLISHED packets walk the chain.
    None,
    /// Rule `n` of the chain decides every ESTABLISHED packet.
    Rule(u32),
    /// A position past the chain's rules: the kernel drops and counts
    /// [`Anomaly::MissingEntry`].
    Garbled,
}

/// One rule, `RULES[rule_slot(bank, first_rule, n)]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleInfo {
    /// Index of the rule's packet and byte counters in `COUNTERS`.
    pub counter: u32,
    /// `TARGET_*`, with `arg` ([`Verdict::encode`]).
    pub target: u32,
    /// The chain of a jump or goto, the [`Reject`] of a REJECT, the
    /// configuration of a LOG; 0 otherwise.
    pub arg: u32,
    /// The rule's checks ([`check`]): `CHECKS[check::slot(bank, first)]`
    /// and the `count - 1` slots after it, packed by [`check::pack`]; 0
    /// when the rule has none.
    pub checks: u32,
}

impl RuleInfo {
    /// The rule with counter slot `counter` and target `verdict`.
    pub const fn new(counter: u32, verdict: Verdict) -> Self {
        let (target, arg) = verdict.encode();
        Self {
            counter,
            target,
            arg,
            checks: 0,
        }
    }

    /// The rule's target, `None` when it does not decode.
    pub const fn verdict(&self) -> Option<Verdict> {
        Verdict::decode(self.target, self.arg)
    }
}

/// `ADDR_CLASS` key: 32 bits of field id, then the address. The LPM
/// prefix length is [`addr_lpm_prefix`] of the address prefix length.
/// One trie serves both families: an IPv4 address fills the first 4
/// bytes (the rest zero), an IPv6 one all 16; the field id, whose chain
/// is of one family, keeps them apart.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrKey {
    /// [`field_id`], big-endian so the trie compares it first as a whole.
    pub id: [u8; 4],
    /// IPv4 address (bytes 0..4) or IPv6 address, network byte order.
    pub addr: [u8; 16],
}

/// `PORT_CLASS` key: field id, then the port. The LPM prefix length is
/// [`port_lpm_prefix`] of the port prefix length (0..=16).
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
    /// IP protocol (0..=255), interface index, TTL (0..=255) or
    /// connection state bit ([`ct`]).
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
    /// Bytes matched: the IPv4 total length, or the IPv6 payload length
    /// plus the 40 bytes of its header (iptables and ip6tables count the
    /// IP datagram, without the link-layer header).
    pub bytes: u64,
}

/// Map names, as the eBPF object declares them (`#[map]` statics in
/// `firewall-ebpf/src/classify.rs` take their names from their
/// identifiers; the integration tests check the object against
/// [`maps::ALL`]).
pub mod maps {
    /// `CONFIG`.
    pub const CONFIG: &str = "CONFIG";
    /// `CHAINS`.
    pub const CHAINS: &str = "CHAINS";
    /// `RULES`.
    pub const RULES: &str = "RULES";
    /// `ADDR_CLASS`.
    pub const ADDR_CLASS: &str = "ADDR_CLASS";
    /// `PORT_CLASS`.
    pub const PORT_CLASS: &str = "PORT_CLASS";
    /// `VALUE_CLASS`.
    pub const VALUE_CLASS: &str = "VALUE_CLASS";
    /// `SUMMARY`.
    pub const SUMMARY: &str = "SUMMARY";
    /// `WORDS`.
    pub const WORDS: &str = "WORDS";
    /// `COUNTERS`.
    pub const COUNTERS: &str = "COUNTERS";
    /// `ANOMALIES`.
    pub const ANOMALIES: &str = "ANOMALIES";
    /// `CONNTRACK`: the connection table ([`super::ct`]).
    pub const CONNTRACK: &str = "CONNTRACK";
    /// `CT_CONFIG`: the connection timeouts ([`super::ct::Timeouts`]).
    pub const CT_CONFIG: &str = "CT_CONFIG";
    /// `CT_STATS`: per-CPU connection tracking counters
    /// ([`super::ct::Stat`]).
    pub const CT_STATS: &str = "CT_STATS";
    /// `LOG_EVENTS`: the ring buffer of LOG records ([`super::log::Event`]).
    pub const LOG_EVENTS: &str = "LOG_EVENTS";
    /// `LOG_CONFIGS`: LOG rules' settings, per bank ([`super::log::Config`]).
    pub const LOG_CONFIGS: &str = "LOG_CONFIGS";
    /// `LOG_STATS`: per-CPU LOG counters ([`super::log::Stat`]).
    pub const LOG_STATS: &str = "LOG_STATS";
    /// `IFACES`: how REJECT answers leave each interface
    /// ([`super::iface`]).
    pub const IFACES: &str = "IFACES";
    /// `CHECKS`: rules' checks, per bank ([`super::check::Check`]).
    pub const CHECKS: &str = "CHECKS";
    /// `RECENT`: `-m recent`'s lists ([`super::check::recent`]).
    pub const RECENT: &str = "RECENT";
    /// `HASHLIMIT`: `-m hashlimit`'s buckets ([`super::check::hashlimit`]).
    pub const HASHLIMIT: &str = "HASHLIMIT";
    /// `ADDRTYPE`: the local routing table's prefixes and their types,
    /// for `-m addrtype` ([`super::check::addrtype`]).
    pub const ADDRTYPE: &str = "ADDRTYPE";
    /// `DROPS`: packets dropped before any rule, per CPU
    /// ([`super::Malformed`]).
    pub const DROPS: &str = "DROPS";
    /// `SET_META`: `fw set`'s sets ([`super::check::set`]).
    pub const SET_META: &str = "SET_META";
    /// `SET_NETS`: `hash:ip` and `hash:net` members.
    pub const SET_NETS: &str = "SET_NETS";
    /// `SET_PORTS`: `hash:ip,port` members.
    pub const SET_PORTS: &str = "SET_PORTS";
    /// `HASHLIMIT_TABLES`: each `-m hashlimit` table's bucket count
    /// ([`super::check::hashlimit::Table`]).
    pub const HASHLIMIT_TABLES: &str = "HASHLIMIT_TABLES";
    /// `MACVLANS`: the MAC addresses of the macvlan devices over each
    /// lower device ([`super::macvlan`]).
    pub const MACVLANS: &str = "MACVLANS";
    /// The maps fw pins, in the order it pins them. The kernel-private
    /// working maps (`SCRATCH`, `MATCH_CACHE`, `CT_PENDING`, `LOG_BUCKET`)
    /// are not pinned.
    pub const ALL: [&str; 27] = [
        CONFIG,
        CHAINS,
        RULES,
        ADDR_CLASS,
        PORT_CLASS,
        VALUE_CLASS,
        SUMMARY,
        WORDS,
        COUNTERS,
        ANOMALIES,
        CONNTRACK,
        CT_CONFIG,
        CT_STATS,
        LOG_EVENTS,
        LOG_CONFIGS,
        LOG_STATS,
        IFACES,
        CHECKS,
        RECENT,
        HASHLIMIT,
        HASHLIMIT_TABLES,
        DROPS,
        ADDRTYPE,
        SET_META,
        SET_NETS,
        SET_PORTS,
        MACVLANS,
    ];
    /// Maps of the object that fw does not pin (besides the data
    /// sections, `.rodata` and the like, that hold its constants).
    pub const PRIVATE: [&str; 12] = [
        "SCRATCH",
        "MATCH_CACHE",
        "CT_PENDING",
        "ANSWER",
        "PENDING_ANSWERS",
        "LOG_BUCKET",
        "CHECK_PACKET",
        "RECENT_NEW",
        "LO_MARKS",
        "SWEEP",
        "FRAG_VERDICTS",
        "HASHLIMIT_KEY",
    ];
}

/// Rule checks: matches the kernel evaluates after the classifier picked
/// a rule as the first candidate (`-m limit`). A rule with checks runs
/// them in its match order, stopping at the first that fails; if one
/// fails, the walk goes on at the next rule as if the rule's columns had
/// not matched (the rule is not counted), as netfilter's `ipt_do_table`
/// moves on when a match returns false.
///
/// | map      | kind  | key      | value     |
/// |----------|-------|----------|-----------|
/// | `CHECKS` | array | [`slot`] | [`Check`] |
///
/// `CHECKS` is written with the rest of a bank, so every check's state
/// (a limit's bucket) starts afresh with each ruleset, as iptables-legacy
/// replaces the whole table and `limit_mt_check` fills every new rule's
/// bucket.
pub mod check {
    /// Checks per bank.
    pub const MAX_CHECKS: u32 = 4096;
    /// Checks one rule may carry.
    pub const MAX_PER_RULE: u32 = 8;

    /// FNV-1a (64 bits), which `-m recent`'s lists and `fw set`'s sets
    /// are named by, folded to 32 bits.
    pub mod fnv {
        /// The offset basis.
        pub const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

        /// `h` with `bytes` hashed in.
        pub const fn hash(mut h: u64, bytes: &[u8]) -> u64 {
            let mut i = 0;
            while i < bytes.len() {
                h = (h ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
                i += 1;
            }
            h
        }

        /// The high half XOR the low half.
        pub const fn fold(h: u64) -> u32 {
            (h ^ (h >> 32)) as u32
        }
    }

    /// [`Check::kind`] of `-m limit`: a GCRA bucket. `a` is the interval
    /// between tokens (ns), `b` the burst tolerance `(burst - 1) *
    /// interval` (ns), `state` the theoretical arrival time (ns of
    /// `bpf_ktime_get_ns`; 0 = a full bucket).
    pub const KIND_LIMIT: u32 = 1;
    /// [`Check::kind`] of `-m recent`: `arg` is the `--mask` (network
    /// order, as the packet's addresses), `a` the `--seconds` in ns (0:
    /// any age), `b` the list ([`recent::list_id`]) and
    /// [`recent::pack_b`]'s `--hitcount` and flags; `state` unused.
    pub const KIND_RECENT: u32 = 2;

    impl Check {
        /// Whether running it changes state (takes a limit's token,
        /// writes a recent list) or the verdict (`--tcp-option`'s hot
        /// drop): netfilter runs it even for packets a later match of the
        /// rule refuses, so it may not come before a classifier match.
        /// `--rcheck`, `-m mac`, `--ports`, conntrack's tuple and `-m mark` only read.
        pub const fn has_side_effect(&self) -> bool {
            match self.kind {
                KIND_RECENT => (self.b as u32 & 3) != recent::RCHECK,
                // Compare and read only: they may run after the classifier.
                KIND_MAC | KIND_PORTS | KIND_CONNTRACK | KIND_MARK | KIND_ADDRTYPE | KIND_OWNER
                | KIND_POLICY | KIND_SET => false,
                // The hot drop of a bad option area, as --tcp-option's.
                KIND_TCPMSS => true,
                KIND_TIME => false,
                // A hashlimit takes a token, as a limit does.
                // A limit, --tcp-option's hot drop, and (conservatively) any other.
                _ => true,
            }
        }
    }

    /// `-m recent`'s lists: one LRU hash map, `RECENT`, of every list's
    /// addresses ([`Key`] → [`Entry`]).
    pub mod recent {
        /// Timestamps an entry keeps: xt_recent's `nstamps_max_mask + 1`
        /// with `ip_pkt_list_tot` 0 (its default) and a `--hitcount` of at
        /// most 32.
        pub const STAMPS: usize = 32;
        /// Entries of `RECENT`, every list together.
        pub const MAX_ENTRIES: u32 = 65_536;

        /// `--set`.
        pub const SET: u32 = 0;
        /// `--rcheck`.
        pub const RCHECK: u32 = 1;
        /// `--update`.
        pub const UPDATE: u32 = 2;
        /// `--remove`.
        pub const REMOVE: u32 = 3;
        /// Flag: `!`.
        pub const F_INVERT: u32 = 1 << 2;
        /// Flag: `--rttl`.
        pub const F_RTTL: u32 = 1 << 3;
        /// Flag: `--rdest` (else the source address).
        pub const F_DEST: u32 = 1 << 4;

        /// `Check::b`: the list's id in the high 32 bits, `--hitcount` in
        /// bits 8..24, the command (`SET`...) and flags in the low byte.
        pub const fn pack_b(list: u32, hitcount: u32, flags: u32) -> u64 {
            (list as u64) << 32 | ((hitcount & 0xffff) as u64) << 8 | (flags & 0xff) as u64
        }

        /// A list's id: FNV-1a of its `--name` and `--mask` (network
        /// order: 4 bytes in IPv4, 16 in IPv6, so one name is two lists,
        /// as xt_recent keeps each family's entries apart), folded to 32
        /// bits. The compiler refuses a ruleset whose lists' ids collide.
        pub const fn list_id(name: &[u8], mask: &[u8]) -> u32 {
            use super::fnv;
            fnv::fold(fnv::hash(
                fnv::hash(fnv::hash(fnv::OFFSET, name), &[0]),
                mask,
            ))
        }

        /// `RECENT` key: a list and a masked address, 16 bytes (IPv4's
        /// in the first 4, zeros after).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Key {
            /// [`list_id`].
            pub list: u32,
            /// The address `&` the mask, network order.
            pub addr: [u8; 16],
        }

        /// One address of one list (xt_recent's `recent_entry`).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct Entry {
            /// When it was seen, `bpf_ktime_get_ns`; `nstamps` are valid.
            pub stamps: [u64; STAMPS],
            /// The next slot of `stamps` to write.
            pub index: u32,
            /// Valid stamps.
            pub nstamps: u32,
            /// The TTL it was last seen with.
            pub ttl: u32,
            /// Zero.
            pub _pad: u32,
        }
    }

    /// [`Check::kind`] of `-m mac --mac-source` (xt_mac): `a` the
    /// address, its six bytes big-endian in the low 48 bits (the first
    /// byte in bits 40..48); `b` 1 for `!`, else 0; `state` unused. The
    /// frame's Ethernet source is compared; a packet without one (from
    /// `lo`, or at TC egress) matches neither way, as xt_mac returns false
    /// before its inversion for a device that is not ARPHRD_ETHER.
    pub const KIND_MAC: u32 = 16;
    /// [`Check::kind`] of `-m multiport --ports` (xt_multiport revision
    /// 1, `XT_MULTIPORT_EITHER`): the source or the destination port in
    /// one of `count` ranges, XOR `!`; a packet without ports (a later
    /// fragment) matches neither way. `a` is the bank index of the first
    /// [`KIND_DATA`] entry holding the ranges, `b` is `count` (1..=15) in
    /// bits 0..16 and 1 in bit 32 for `!`; `state` unused.
    pub const KIND_PORTS: u32 = 17;
    /// [`Check::kind`] of an entry that only holds another check's data
    /// (a rule's checks never name it; run, it is [`super::Anomaly::BadCheck`]):
    /// `a`, `b`, `state` each hold two port ranges, [`port_ranges`].
    pub const KIND_DATA: u32 = 18;
    /// [`Check::kind`] of `-m tcp [!] --tcp-option N` (xt_tcpudp's
    /// `tcp_find_option`): `a` the option kind N, `b` 1 for `!`, else 0;
    /// `state` unused. Matches when the walk of the option area (kinds 0
    /// and 1 one byte, the others their length byte, 0 taken as 1)
    /// meets kind N, XOR `!`; a data offset below 5 or an option area
    /// past the end of the IPv4 datagram drops the packet (the match's
    /// hot drop), a side effect ([`Check::has_side_effect`]).
    pub const KIND_TCP_OPTION: u32 = 19;
    /// [`Check::kind`] of `-m conntrack`'s tuple options, `--ctproto` and
    /// `--ctdir` (xt_conntrack's `conntrack_mt`, revision 3): `arg` holds
    /// the [`conntrack`] flags, `a` the bank index of the two
    /// [`KIND_DATA`] entries with the values ([`conntrack::data`]), `b` the
    /// `--ctproto` number; `state` unused. A packet without a connection
    /// (INVALID) passes only when the match also names a state
    /// ([`conntrack::F_STATE`]), which the classifier checked; otherwise
    /// each given option must hold, XOR its `!`, for the connection's
    /// original tuple (the reply tuple is its mirror: fw knows no NAT).
    pub const KIND_CONNTRACK: u32 = 20;
    /// [`Check::kind`] of `-m mark [!] --mark V/M` (xt_mark): `arg` the
    /// mask, `a` the value, `b` 1 for `!`, else 0; `state` unused.
    /// Matches when `mark & mask == value`, XOR `!`; the mark is 0 at XDP
    /// (no skb yet, nothing set one) and `skb->mark` at TC egress.
    pub const KIND_MARK: u32 = 21;
    /// [`Check::kind`] of `-m hashlimit` (xt_hashlimit, packet mode): a
    /// GCRA bucket per key in `HASHLIMIT` ([`hashlimit`]). `a` is the
    /// bank index of its [`KIND_DATA`] entry ([`hashlimit::data`]: rate,
    /// burst, the table's `--hashlimit-htable-max` and gc interval), `b`
    /// 0; `arg` [`hashlimit::pack_arg`] (masks, mode,
    /// `--hashlimit-above`), `state` [`hashlimit::pack_state`] (the
    /// table's id and the expiry, never changed by the kernel).
    pub const KIND_HASHLIMIT: u32 = 22;
    /// [`Check::kind`] of `-m addrtype` (xt_addrtype revision 1, without
    /// `--limit-iface-*`): `arg` the [`addrtype`] flags, `a` the
    /// `--src-type` mask, `b` the `--dst-type` mask (bit `1 << RTN_*`);
    /// `state` unused.
    pub const KIND_ADDRTYPE: u32 = 23;
    /// `-m addrtype`: the route type of an address as
    /// `inet_addr_type_dev_table` gives it with no device: 0.0.0.0/8 and
    /// 255.255.255.255 are BROADCAST, 224.0.0.0/4 MULTICAST, any other
    /// the type of its longest prefix in the local routing table (table
    /// 255, which fw copies into the `ADDRTYPE` LPM trie, key the family,
    /// the prefix length and the network-order address, value the `RTN_*`
    /// type) or UNICAST. IPv6 (`F_V6`) as xt_addrtype's `match_type6`:
    /// each of UNSPEC, UNICAST and MULTICAST asked must hold of the
    /// address ([`bits6`]), and LOCAL, asked, that its longest prefix in
    /// IPv6's local table is a `local` route.
    pub mod addrtype {
        /// `--src-type` is given.
        pub const F_SRC: u32 = 1 << 0;
        /// `! --src-type`.
        pub const F_SRC_NOT: u32 = 1 << 1;
        /// `--dst-type` is given.
        pub const F_DST: u32 = 1 << 2;
        /// `! --dst-type`.
        pub const F_DST_NOT: u32 = 1 << 3;
        /// Entries of `ADDRTYPE`.
        pub const MAX_ENTRIES: u32 = 16_384;
        /// `RTN_UNICAST` (`<linux/rtnetlink.h>`).
        pub const RTN_UNICAST: u32 = 1;
        /// `RTN_BROADCAST`.
        pub const RTN_BROADCAST: u32 = 3;
        /// `RTN_MULTICAST`.
        pub const RTN_MULTICAST: u32 = 5;
        /// `RTN_LOCAL`.
        pub const RTN_LOCAL: u32 = 2;
        /// `RTN_UNSPEC`.
        pub const RTN_UNSPEC: u32 = 0;
        /// An IPv6 rule's check: the addresses' types are [`bits6`].
        pub const F_V6: u32 = 1 << 4;
        /// [`Key::family`] of IPv4's routes.
        pub const FAMILY4: u8 = 4;
        /// [`Key::family`] of IPv6's routes.
        pub const FAMILY6: u8 = 6;

        /// `ADDRTYPE` key data, after the LPM prefix length (8 + the
        /// route's): the family, then the prefix, network order (IPv4's
        /// in the first 4 bytes, zeros after).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
        pub struct Key {
            /// [`FAMILY4`] or [`FAMILY6`].
            pub family: u8,
            /// The prefix.
            pub addr: [u8; 16],
        }

        /// The LPM prefix length of a route of `len` bits.
        pub const fn prefix(len: u32) -> u32 {
            8 + len
        }

        /// What xt_addrtype's `match_type6` reads of IPv6 address `a`
        /// (`ipv6_addr_type`), as `1 << RTN_*` bits: UNSPEC for `::`,
        /// MULTICAST for ff00::/8, UNICAST for any other but
        /// ::ffff:0:0/96 (mapped IPv4); and LOCAL when `local` (its
        /// longest prefix in IPv6's local table is a `local` route).
        pub const fn bits6(a: &[u8; 16], local: bool) -> u32 {
            let hi = u64::from_be_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]);
            let lo = u64::from_be_bytes([a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]]);
            let bits = if hi == 0 && lo == 0 {
                1 << RTN_UNSPEC
            } else if hi >> 56 == 0xff {
                1 << RTN_MULTICAST
            } else if hi == 0 && lo >> 32 == 0xffff {
                // ::ffff:a.b.c.d: IPV6_ADDR_MAPPED, not UNICAST.
                0
            } else {
                1 << RTN_UNICAST
            };
            if local { bits | 1 << RTN_LOCAL } else { bits }
        }

        /// The type of `addr` (network order), `local` being the local
        /// table's type for it, if it has a prefix holding it.
        pub const fn type_of(addr: u32, local: Option<u32>) -> u32 {
            let a = u32::from_be(addr);
            if a >> 24 == 0 || a == u32::MAX {
                RTN_BROADCAST
            } else if a >> 28 == 0xe {
                RTN_MULTICAST
            } else {
                match local {
                    Some(t) => t,
                    None => RTN_UNICAST,
                }
            }
        }

        /// xt_addrtype's `addrtype_mt_v1`: each given type mask holds
        /// its address's type ([`type_of`]; with [`F_V6`] the address's
        /// [`bits6`], as `match_type6` tests them), XOR its `!`.
        pub const fn matches(
            flags: u32,
            src_mask: u32,
            dst_mask: u32,
            src_type: u32,
            dst_type: u32,
        ) -> bool {
            const fn has(mask: u32, t: u32) -> bool {
                t < 32 && mask >> t & 1 != 0
            }
            const fn has6(mask: u32, bits: u32) -> bool {
                let plain = 1 << RTN_UNSPEC | 1 << RTN_UNICAST | 1 << RTN_MULTICAST;
                if mask & plain & !bits != 0 {
                    return false;
                }
                // LOCAL, ANYCAST, UNREACHABLE: the route's answer (fw
                // enforces LOCAL; the others are refused in IPv6).
                let routed = 1 << RTN_LOCAL | 1 << 4 | 1 << 7;
                mask & routed == 0 || mask & bits & routed != 0
            }
            const fn holds(v6: bool, mask: u32, t: u32) -> bool {
                if v6 { has6(mask, t) } else { has(mask, t) }
            }
            let v6 = flags & F_V6 != 0;
            if flags & F_SRC != 0 && holds(v6, src_mask, src_type) == (flags & F_SRC_NOT != 0) {
                return false;
            }
            !(flags & F_DST != 0 && holds(v6, dst_mask, dst_type) == (flags & F_DST_NOT != 0))
        }
    }
    /// [`Check::kind`] of `-m owner` (xt_owner revision 1, without
    /// `--suppl-groups`): `arg` the [`owner`] flags, `a` the uid range
    /// (`min | max << 32`), `b` the gid range; `state` unused. Only TC
    /// egress (OUTPUT) has a socket; the compiler refuses it elsewhere, as
    /// the kernel does.
    pub const KIND_OWNER: u32 = 24;
    /// [`Check::kind`] of `-m policy` (xt_policy): `arg` 1 for `--pol
    /// none`, 0 for `ipsec`; the rest unused. fw filters only while the
    /// namespace has no IPsec (xfrm) state, so no packet it sees was
    /// decapsulated by a policy or will be encapsulated by one, and
    /// xt_policy's answer for such a packet is "matches iff `--pol none`".
    pub const KIND_POLICY: u32 = 25;
    /// [`Check::kind`] of `-m set [!] --match-set NAME FLAGS` (xt_set
    /// revision 4, without its counter options): `arg` the set's id
    /// ([`set::id`]), `a` [`set::pack_a`] of the flags, `b` 1 for `!`;
    /// `state` unused.
    pub const KIND_SET: u32 = 26;
    /// [`Check::kind`] of `-m tcpmss [!] --mss MIN[:MAX]` (xt_tcpmss):
    /// `a` is `min | max << 16`, `b` 1 for `!`; the rest unused. The
    /// first MSS option of the TCP header ([`first_mss`]) within the
    /// range XOR `!`; without one, `!`; a bad option area drops the
    /// packet (the hot drop, as `--tcp-option`'s).
    pub const KIND_TCPMSS: u32 = 27;
    /// [`Check::kind`] of `-m time` (xt_time): `arg` the [`time`] flags
    /// and the weekday mask (`<< 8`), `a` `date_start | date_stop << 32`,
    /// `b` `daytime_start | daytime_stop << 32` (seconds), `state` the
    /// monthday mask and (`<< 32`, an i32) the seconds to take off
    /// `bpf_ktime_get_tai_ns` for xt_time's clock ([`time::matches`]).
    pub const KIND_TIME: u32 = 28;
    /// [`Check::kind`] of `-m rt` (ip6t_rt): `arg` the [`rt`] flags, `a`
    /// `segsleft_min | segsleft_max << 32`, `b` `type | len << 32` (the
    /// header's length in bytes, as `--rt-len` gives it); `state` unused.
    /// The packet's first routing header ([`rt::header`]) compared as
    /// `rt_mt6` compares it ([`rt::matches`]); none, no match.
    pub const KIND_RT: u32 = 29;
    /// `-m rt`'s fields (`struct ip6t_rt`'s flags and inversions) and
    /// ip6t_rt's `rt_mt6`.
    pub mod rt {
        /// `--rt-type` given (`IP6T_RT_TYP`).
        pub const F_TYPE: u32 = 1;
        /// `--rt-len` given (`IP6T_RT_LEN`).
        pub const F_LEN: u32 = 2;
        /// `! --rt-type` (`IP6T_RT_INV_TYP`).
        pub const INV_TYPE: u32 = 4;
        /// `! --rt-segsleft` (`IP6T_RT_INV_SGS`).
        pub const INV_SEGSLEFT: u32 = 8;
        /// `! --rt-len` (`IP6T_RT_INV_LEN`).
        pub const INV_LEN: u32 = 16;
        /// [`header`]'s bit for "the packet has a routing header".
        pub const PRESENT: u32 = 1 << 31;

        /// A routing header (RFC 8200 4.4) as the parser notes it: its
        /// Hdr Ext Len (8-byte units, not counting the first 8), Routing
        /// Type and Segments Left, with [`PRESENT`].
        pub const fn header(ext_len: u8, rt_type: u8, segs_left: u8) -> u32 {
            PRESENT | (rt_type as u32) << 16 | (segs_left as u32) << 8 | ext_len as u32
        }

        /// `rt_mt6` for the noted `header` (0: the packet has none).
        pub const fn matches(flags: u32, segsleft: u64, type_len: u64, header: u32) -> bool {
            if header & PRESENT == 0 {
                return false;
            }
            let (rt_type, segs, ext_len) = (header >> 16 & 0xff, header >> 8 & 0xff, header & 0xff);
            // `ipv6_optlen`: the whole header's bytes.
            let len = (ext_len + 1) * 8;
            let (lo, hi) = (segsleft as u32, (segsleft >> 32) as u32);
            let segs_ok = (lo <= segs && segs <= hi) != (flags & INV_SEGSLEFT != 0);
            let len_ok =
                flags & F_LEN == 0 || ((len == (type_len >> 32) as u32) != (flags & INV_LEN != 0));
            let type_ok =
                flags & F_TYPE == 0 || ((rt_type == type_len as u32) != (flags & INV_TYPE != 0));
            segs_ok && len_ok && type_ok
        }
    }
    /// `-m time`'s fields and xt_time's `time_mt`.
    pub mod time {
        /// `--kerneltz` (`XT_TIME_LOCAL_TZ`).
        pub const F_KERNEL_TZ: u32 = 1;
        /// `--contiguous` (`XT_TIME_CONTIGUOUS`).
        pub const F_CONTIGUOUS: u32 = 2;
        /// `XT_TIME_ALL_WEEKDAYS`: bits 1 (Monday) to 7.
        pub const ALL_WEEKDAYS: u32 = 0xfe;
        /// `XT_TIME_ALL_MONTHDAYS`: bits 1 to 31.
        pub const ALL_MONTHDAYS: u32 = 0xffff_fffe;
        /// `XT_TIME_MAX_DAYTIME`: 23:59:59.
        pub const MAX_DAYTIME: u32 = 24 * 60 * 60 - 1;
        const DAY: i64 = 86_400;

        /// xt_time's `time_mt` at `stamp` (seconds since the epoch, the
        /// timezone already taken off): within the dates, then the
        /// daytime (a range past midnight when start > stop), then the
        /// weekday and the monthday of the day (with `--contiguous`, the
        /// day a range past midnight started on).
        #[allow(clippy::too_many_arguments)]
        pub const fn matches(
            flags: u32,
            date_start: u32,
            date_stop: u32,
            day_start: u32,
            day_stop: u32,
            weekdays: u32,
            monthdays: u32,
            stamp: i64,
        ) -> bool {
            if stamp < date_start as i64 || stamp > date_stop as i64 {
                return false;
            }
            // Not negative from here: date_start is.
            let mut stamp = stamp as u64;
            let packet_time = (stamp % DAY as u64) as u32;
            if day_start < day_stop {
                if packet_time < day_start || packet_time > day_stop {
                    return false;
                }
            } else {
                if packet_time < day_start && packet_time > day_stop {
                    return false;
                }
                if flags & F_CONTIGUOUS != 0 && packet_time <= day_stop {
                    stamp = stamp.saturating_sub(DAY as u64);
                }
            }
            let days = stamp / DAY as u64;
            // 1970-01-01 was a Thursday (4); Monday is 1.
            let weekday = ((4 + days + 6) % 7 + 1) as u32;
            if weekdays & (1 << weekday) == 0 {
                return false;
            }
            if monthdays != ALL_MONTHDAYS && monthdays & (1 << monthday(days)) == 0 {
                return false;
            }
            true
        }

        /// The day of the month (1-31) of day `days` after 1970-01-01.
        pub const fn monthday(days: u64) -> u32 {
            civil(days).2
        }

        /// The (year, month 1-12, day 1-31) of day `days` after
        /// 1970-01-01, proleptic Gregorian (unsigned: no signed division
        /// in eBPF).
        pub const fn civil(days: u64) -> (u64, u32, u32) {
            let z = days + 719_468;
            let era = z / 146_097;
            let doe = z - era * 146_097;
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
            let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
            (yoe + era * 400 + (m <= 2) as u64, m, d)
        }
    }

    /// xt_tcpmss's walk of a TCP option area: the value of the first
    /// option of kind 2 whose length byte is 4 and whose four bytes fit;
    /// the walk steps one byte over kinds 0 and 1, else by the length
    /// byte (0 taken as 1).
    pub fn first_mss(area: &[u8]) -> Option<u16> {
        let mut i = 0;
        while i < area.len() {
            let k = area[i];
            let len = area.get(i + 1).copied();
            if k == 2 && area.len() - i >= 4 && len == Some(4) {
                return Some(u16::from(area[i + 2]) << 8 | u16::from(area[i + 3]));
            }
            i += if k < 2 {
                1
            } else {
                match len {
                    Some(0) | None => 1,
                    Some(l) => usize::from(l),
                }
            };
        }
        None
    }
    /// `fw set`'s named sets (ipset(8)'s `hash:ip`, `hash:net` and
    /// `hash:ip,port`, of family inet or inet6), outside the banks:
    /// changing one changes no ruleset. `SET_META` says each set's type
    /// and family; `hash:ip` and `hash:net` members are prefixes in the
    /// `SET_NETS` LPM trie ([`set::NetKey`], a host a /32 or /128),
    /// `hash:ip,port` members entries of the `SET_PORTS` hash
    /// ([`set::PortKey`]). Addresses are 16 bytes, an IPv4 one in the
    /// first 4 and zeros after (as the parser's `src6`/`dst6` hold it):
    /// a set's id keeps one family's members from another's.
    ///
    /// | map         | kind     | key                  | value         |
    /// |-------------|----------|----------------------|---------------|
    /// | `SET_META`  | hash     | set id (u32)         | [`set::Meta`] |
    /// | `SET_NETS`  | LPM trie | 32 + len, `NetKey`   | u8: len       |
    /// | `SET_PORTS` | hash     | [`set::PortKey`]     | u8 (1)        |
    pub mod set {
        /// Entries of `SET_NETS`, and of `SET_PORTS`, every set together.
        pub const MAX_ENTRIES: u32 = 262_144;
        /// Sets at once (`SET_META`'s entries).
        pub const MAX_SETS: u32 = 1024;
        /// [`Meta::kind`]: `hash:ip` (members are /32s of `SET_NETS`).
        pub const KIND_IP: u32 = 1;
        /// [`Meta::kind`]: `hash:net`.
        pub const KIND_NET: u32 = 2;
        /// [`Meta::kind`]: `hash:ip,port` (`SET_PORTS`).
        pub const KIND_IP_PORT: u32 = 3;
        /// [`Meta::family`]: `family inet` (`NFPROTO_IPV4`).
        pub const FAMILY_INET: u32 = 2;
        /// [`Meta::family`]: `family inet6` (`NFPROTO_IPV6`).
        pub const FAMILY_INET6: u32 = 10;
        /// The LPM prefix length of a [`NetKey`] for a member prefix of
        /// `len` bits (the id's 32 bits first).
        pub const fn net_prefix(len: u32) -> u32 {
            32 + len
        }
        /// The prefix length a packet's address is looked up with: the
        /// whole key (an IPv4 address's zeros after it are the members'
        /// zeros too).
        pub const LOOKUP_PREFIX: u32 = 32 + 128;
        /// The dimensions of a set of `kind`: what `--match-set`'s flags
        /// must give at least for a packet to be tested (ip_set_test).
        pub const fn dimensions(kind: u32) -> u32 {
            match kind {
                KIND_IP_PORT => 2,
                _ => 1,
            }
        }

        /// A set's id: FNV-1a of its name, folded to 32 bits. `fw set
        /// create` refuses a name whose id another set has.
        pub const fn id(name: &[u8]) -> u32 {
            use super::fnv;
            fnv::fold(fnv::hash(fnv::OFFSET, name))
        }

        /// `KIND_SET`'s `a`: the number of flags in bits 0..8, bit `8 +
        /// i` set when flag `i` is `dst` (else `src`).
        pub const fn pack_a(flags: u32, dst_bits: u32) -> u64 {
            (flags & 0xff) as u64 | ((dst_bits & 0x3f) as u64) << 8
        }

        /// A set's type and size.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Meta {
            /// [`KIND_IP`], [`KIND_NET`] or [`KIND_IP_PORT`].
            pub kind: u32,
            /// [`FAMILY_INET`] or [`FAMILY_INET6`]: the packets it can
            /// hold (a rule of the other family cannot name it, as
            /// libxt_set refuses).
            pub family: u32,
            /// Members now (kept by the user side).
            pub count: u32,
            /// `maxelem`: members at most.
            pub maxelem: u32,
            /// `hashsize` as `ipset list` reports it (a power of two).
            pub hashsize: u32,
        }

        /// A `SET_NETS` key's data (after the LPM prefix length,
        /// [`net_prefix`] of the member's prefix length): the set's id and
        /// the address, both network order, so the prefix covers the id.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct NetKey {
            /// [`id`], big-endian.
            pub set: [u8; 4],
            /// The address, network order (IPv4: the first 4 bytes, zeros
            /// after).
            pub addr: [u8; 16],
        }

        /// A `SET_PORTS` key: a `hash:ip,port` member.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct PortKey {
            /// [`id`].
            pub set: u32,
            /// The address, network order (IPv4: the first 4 bytes, zeros
            /// after).
            pub addr: [u8; 16],
            /// The port, host order.
            pub port: u16,
            /// The IP protocol (6 or 17).
            pub proto: u8,
            /// Zero.
            pub _pad: u8,
        }
    }
    /// `-m owner`: what xt_owner's `owner_mt` reads of the packet's
    /// socket (`skb_to_full_sk`: a request socket's listener, no time-wait
    /// socket), and where fw's TC program finds it. The socket's file
    /// holds the credentials of whoever opened it (`f_cred`), and the
    /// match compares their fsuid and fsgid, as the kernel keeps them
    /// (the initial user namespace's ids).
    pub mod owner {
        /// `--uid-owner` (`XT_OWNER_UID`).
        pub const F_UID: u32 = 1 << 0;
        /// `--gid-owner` (`XT_OWNER_GID`).
        pub const F_GID: u32 = 1 << 1;
        /// `--socket-exists` (`XT_OWNER_SOCKET`).
        pub const F_SOCKET: u32 = 1 << 2;
        /// Shift from an option's flag to its `!` flag.
        pub const INVERT_SHIFT: u32 = 8;

        /// What the packet's socket shows the match.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Sock {
            /// No full socket, or one without a `struct socket` (forwarded
            /// packets, a time-wait socket's answers).
            None,
            /// A socket without a file (the kernel's own control sockets,
            /// which send TCP resets for closed ports).
            NoFile,
            /// A socket opened with these fsuid and fsgid.
            File {
                /// `f_cred->fsuid`.
                uid: u32,
                /// `f_cred->fsgid`.
                gid: u32,
            },
        }

        /// xt_owner's `owner_mt`: `flags` as [`super::KIND_OWNER`]'s
        /// `arg`, the ranges inclusive.
        pub const fn matches(flags: u32, uid: (u32, u32), gid: (u32, u32), sock: Sock) -> bool {
            let given = flags & 0xff;
            let invert = (flags >> INVERT_SHIFT) & 0xff;
            match sock {
                Sock::None => given ^ invert == 0,
                // "Socket exists but user wanted ! --socket-exists".
                _ if given & invert & F_SOCKET != 0 => false,
                Sock::NoFile => (given ^ invert) & (F_UID | F_GID) == 0,
                Sock::File { uid: u, gid: g } => {
                    let in_uid = uid.0 <= u && u <= uid.1;
                    let in_gid = gid.0 <= g && g <= gid.1;
                    !(given & F_UID != 0 && in_uid == (invert & F_UID != 0))
                        && !(given & F_GID != 0 && in_gid == (invert & F_GID != 0))
                }
            }
        }

        /// Byte offsets into the kernel's structures, from its BTF
        /// (`/sys/kernel/btf/vmlinux`), that fw's TC program follows from
        /// `skb->sk` to the credentials: a `.rodata` constant
        /// (`OWNER_BTF`) set when the program is loaded. `valid` is 0 when
        /// they could not be found; the check then drops and counts
        /// ([`crate::Anomaly::BadCheck`]), and the user side refuses the
        /// match before that.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Offsets {
            /// `struct sock_common`'s `skc_state` (u8).
            pub skc_state: u32,
            /// `struct request_sock`'s `rsk_listener` (pointer), which is
            /// `struct sock_common`'s `skc_listener`.
            pub rsk_listener: u32,
            /// `struct sock`'s `sk_socket` (pointer).
            pub sk_socket: u32,
            /// `struct socket`'s `file` (pointer).
            pub socket_file: u32,
            /// `struct file`'s `f_cred` (pointer).
            pub file_cred: u32,
            /// `struct cred`'s `fsuid` (u32).
            pub cred_fsuid: u32,
            /// `struct cred`'s `fsgid` (u32).
            pub cred_fsgid: u32,
            /// 1 when the others are known.
            pub valid: u32,
        }

        /// The name of the [`Offsets`] constant in the eBPF object (its
        /// `static`'s identifier), which the loader sets.
        pub const GLOBAL: &str = "OWNER_BTF";

        /// `TCP_TIME_WAIT` (include/net/tcp_states.h).
        pub const TCP_TIME_WAIT: u8 = 6;
        /// `TCP_NEW_SYN_RECV`: a request socket.
        pub const TCP_NEW_SYN_RECV: u8 = 12;
    }
    /// `-m hashlimit`'s buckets: one hash map, `HASHLIMIT`, of every
    /// table's keys ([`Key`] → [`Entry`]), and `HASHLIMIT_TABLES`, each
    /// table's bucket count ([`Table`]), outside the banks: a table lives
    /// on while a rule names it, as xt_hashlimit's. As there, a table at
    /// its `--hashlimit-htable-max` drops the packet of a new key (hot
    /// drop); buckets idle past the expiry go at a sweep, at most one
    /// per gc interval and only when the table is full.
    pub mod hashlimit {
        use super::{Check, KIND_DATA};

        /// Entries of `HASHLIMIT`, every table together: the sum of the
        /// tables' maxima may not exceed it (the compiler refuses).
        pub const MAX_ENTRIES: u32 = 262_144;
        /// Entries of `HASHLIMIT_TABLES`.
        pub const MAX_TABLES: u32 = 1024;
        /// Flag: `--hashlimit-above` (`XT_HASHLIMIT_INVERT`).
        pub const F_ABOVE: u32 = 1 << 0;
        /// Flag: `--hashlimit-mode srcip`.
        pub const F_SRCIP: u32 = 1 << 1;
        /// Flag: `--hashlimit-mode dstip`.
        pub const F_DSTIP: u32 = 1 << 2;

        /// `Check::arg`: the source prefix length in bits 0..8, the
        /// destination's in 8..16, the flags from bit 16.
        pub const fn pack_arg(srcmask: u8, dstmask: u8, flags: u32) -> u32 {
            srcmask as u32 | (dstmask as u32) << 8 | flags << 16
        }

        /// `Check::state`: the table's id ([`table_id`]) in the high 32
        /// bits, the expiry (ms) in the low ones.
        pub const fn pack_state(table: u32, expire_ms: u32) -> u64 {
            (table as u64) << 32 | expire_ms as u64
        }

        /// A table's id: FNV-1a of its `--hashlimit-name`, folded to 32
        /// bits. The compiler refuses a ruleset whose names' ids collide.
        pub const fn table_id(name: &[u8]) -> u32 {
            use super::fnv;
            fnv::fold(fnv::hash(fnv::OFFSET, name))
        }

        /// An IPv6 table's id: xt_hashlimit keeps a table per family, so
        /// one name in `ip6tables` rules is another table than in
        /// `iptables` ones ([`table_id`] with the byte 6 hashed in after
        /// the name).
        pub const fn table_id6(name: &[u8]) -> u32 {
            use super::fnv;
            fnv::fold(fnv::hash(fnv::hash(fnv::OFFSET, name), &[6]))
        }

        /// `addr` (16 bytes, network order; IPv4's in the first 4, zeros
        /// after) with all but its first `len` bits cleared.
        #[inline(always)]
        pub fn masked(addr: &[u8; 16], len: u32) -> [u8; 16] {
            let half = |at: usize, bits: u32| -> u64 {
                let v = u64::from_be_bytes([
                    addr[at],
                    addr[at + 1],
                    addr[at + 2],
                    addr[at + 3],
                    addr[at + 4],
                    addr[at + 5],
                    addr[at + 6],
                    addr[at + 7],
                ]);
                match bits {
                    0 => 0,
                    1..=63 => v & (u64::MAX << (64 - bits)),
                    _ => v,
                }
            };
            let len = if len > 128 { 128 } else { len };
            let hi = half(0, if len > 64 { 64 } else { len });
            let lo = half(8, len.saturating_sub(64));
            let mut out = [0u8; 16];
            out[..8].copy_from_slice(&hi.to_be_bytes());
            out[8..].copy_from_slice(&lo.to_be_bytes());
            out
        }

        /// `HASHLIMIT` key: a table and the masked addresses its mode
        /// names (zeros for the others), network order, 16 bytes (IPv4's
        /// in the first 4).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Key {
            /// [`table_id`] or [`table_id6`].
            pub table: u32,
            /// The source address masked, or zeros.
            pub src: [u8; 16],
            /// The destination address masked, or zeros.
            pub dst: [u8; 16],
        }

        /// One bucket.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Entry {
            /// The GCRA theoretical arrival time, ns of `bpf_ktime_get_ns`.
            pub tat: u64,
            /// When a packet last looked at it, ns.
            pub seen: u64,
        }

        /// `HASHLIMIT_TABLES` value (key: [`table_id`]), written by the
        /// kernel only; fw removes a table no rule names.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Table {
            /// Buckets of the table in `HASHLIMIT` (xt_hashlimit's
            /// `count`), updated atomically.
            pub count: u64,
            /// When the last sweep ran, ns of `bpf_ktime_get_ns`.
            pub swept: u64,
        }

        /// The [`KIND_DATA`] entry of a check: `a` the interval between
        /// tokens (ns), `b` the burst tolerance (ns), as [`super::KIND_LIMIT`]'s;
        /// `state` the table's maximum of buckets (low 32 bits) and its gc
        /// interval (ms, high 32 bits).
        pub const fn data(interval: u64, tolerance: u64, max: u32, gc_ms: u32) -> Check {
            Check {
                kind: KIND_DATA,
                arg: 0,
                a: interval,
                b: tolerance,
                state: (gc_ms as u64) << 32 | max as u64,
            }
        }

        /// xt_hashlimit's `htable_create`: the table's bucket maximum for
        /// `--hashlimit-htable-size`/`-max` (0: not given) on a host with
        /// `ram` bytes of memory (`totalram_pages() << PAGE_SHIFT`) and
        /// pages of `page` bytes. With no size, one hash slot (8 bytes)
        /// per 16 KiB of memory, 8,192 above 1 GiB, 16 at least; the
        /// maximum defaults to 8 × size and is never below it.
        pub const fn effective_max(size: u32, max: u32, ram: u64, page: u64) -> u32 {
            let size = if size != 0 {
                size as u64
            } else {
                let mut s = ram / 16384 / 8;
                if page != 0 && ram / page > 1024 * 1024 * 1024 / page {
                    s = 8192;
                }
                if s < 16 { 16 } else { s }
            };
            let m = if max == 0 {
                8 * size
            } else if (max as u64) < size {
                size
            } else {
                max as u64
            };
            if m > u32::MAX as u64 {
                u32::MAX
            } else {
                m as u32
            }
        }
    }

    /// [`KIND_CONNTRACK`]'s flags and data.
    pub mod conntrack {
        use super::{Check, KIND_DATA, port_ranges};

        /// Tuple address option `i` (0 `--ctorigsrc`, 1 `--ctorigdst`, 2
        /// `--ctreplsrc`, 3 `--ctrepldst`) is given: `F_ADDR << i`.
        pub const F_ADDR: u32 = 1 << 0;
        /// Address option `i` has `!`: `F_ADDR_NOT << i`.
        pub const F_ADDR_NOT: u32 = 1 << 4;
        /// Tuple port option `i` (0 `--ctorigsrcport`, 1 `--ctorigdstport`,
        /// 2 `--ctreplsrcport`, 3 `--ctrepldstport`) is given: `F_PORT << i`.
        pub const F_PORT: u32 = 1 << 8;
        /// Port option `i` has `!`: `F_PORT_NOT << i`.
        pub const F_PORT_NOT: u32 = 1 << 12;
        /// `--ctproto` is given.
        pub const F_PROTO: u32 = 1 << 16;
        /// `! --ctproto`.
        pub const F_PROTO_NOT: u32 = 1 << 17;
        /// `--ctdir` is given.
        pub const F_DIR: u32 = 1 << 18;
        /// `--ctdir REPLY` (else `ORIGINAL`).
        pub const F_DIR_REPLY: u32 = 1 << 19;
        /// The match names a `--ctstate`: a packet without a connection
        /// passes the check (xt_conntrack returns the state's answer).
        pub const F_STATE: u32 = 1 << 20;

        /// [`KIND_DATA`] entries of a [`super::KIND_CONNTRACK`] check.
        pub const DATA: usize = 5;

        /// Address option `i`'s [`KIND_DATA`] entry (the first four of
        /// [`data`]): the address in 128 bits, left-aligned (an IPv4
        /// address in the first 4 bytes, as [`crate::ct::CtKey`] holds it),
        /// its first 8 bytes big-endian in `a`, the last 8 in `b`, and the
        /// prefix length in `state`.
        pub const fn addr_entry(addr: [u8; 16], prefix: u8) -> Check {
            let mut hi = [0u8; 8];
            let mut lo = [0u8; 8];
            let mut i = 0;
            while i < 8 {
                hi[i] = addr[i];
                lo[i] = addr[i + 8];
                i += 1;
            }
            Check {
                kind: KIND_DATA,
                arg: 0,
                a: u64::from_be_bytes(hi),
                b: u64::from_be_bytes(lo),
                state: prefix as u64,
            }
        }

        /// Whether the 16-byte address `have` (left-aligned) is within
        /// address entry `e` ([`addr_entry`]).
        pub const fn within(have: &[u8; 16], e: &Check) -> bool {
            let mut hi = [0u8; 8];
            let mut lo = [0u8; 8];
            let mut i = 0;
            while i < 8 {
                hi[i] = have[i];
                lo[i] = have[i + 8];
                i += 1;
            }
            let len = if e.state > 128 { 128 } else { e.state as u32 };
            let mask_hi = if len >= 64 {
                u64::MAX
            } else if len == 0 {
                0
            } else {
                u64::MAX << (64 - len)
            };
            let mask_lo = if len >= 128 {
                u64::MAX
            } else if len <= 64 {
                0
            } else {
                u64::MAX << (128 - len)
            };
            (u64::from_be_bytes(hi) ^ e.a) & mask_hi == 0
                && (u64::from_be_bytes(lo) ^ e.b) & mask_lo == 0
        }

        /// The [`DATA`] entries of a [`super::KIND_CONNTRACK`] check: the
        /// four address options in option order ([`addr_entry`]; unused:
        /// 0.0.0.0/0), then `ports` as host-order inclusive ranges
        /// ([`port_ranges`]): 0 and 1 in `a`, 2 and 3 in `b`.
        pub const fn data(addrs: [Check; 4], ports: [(u16, u16); 4]) -> [Check; DATA] {
            [
                addrs[0],
                addrs[1],
                addrs[2],
                addrs[3],
                Check {
                    kind: KIND_DATA,
                    arg: 0,
                    a: port_ranges(ports[0], ports[1]),
                    b: port_ranges(ports[2], ports[3]),
                    state: 0,
                },
            ]
        }
    }

    /// Port ranges one [`KIND_DATA`] entry holds.
    pub const RANGES_PER_DATA: u32 = 6;

    /// Two inclusive port ranges `(lo, hi)`, host order, in one word of a
    /// [`KIND_DATA`] entry: `lo0 | hi0 << 16 | lo1 << 32 | hi1 << 48`.
    pub const fn port_ranges(r0: (u16, u16), r1: (u16, u16)) -> u64 {
        r0.0 as u64 | (r0.1 as u64) << 16 | (r1.0 as u64) << 32 | (r1.1 as u64) << 48
    }

    /// `KIND_MAC`'s `a` of a MAC address.
    pub const fn mac_word(m: [u8; 6]) -> u64 {
        (m[0] as u64) << 40
            | (m[1] as u64) << 32
            | (m[2] as u64) << 24
            | (m[3] as u64) << 16
            | (m[4] as u64) << 8
            | m[5] as u64
    }

    /// The slot of bank `bank`'s check `n` in `CHECKS`.
    pub const fn slot(bank: u32, n: u32) -> u32 {
        (bank % super::BANKS) * MAX_CHECKS + n % MAX_CHECKS
    }

    /// [`super::RuleInfo::checks`] for `count` (1..=[`MAX_PER_RULE`])
    /// checks from bank index `first`: `count << 16 | first`.
    pub const fn pack(first: u32, count: u32) -> u32 {
        count << 16 | first
    }

    /// `(first, count)` of [`super::RuleInfo::checks`]; count 0: none.
    pub const fn unpack(checks: u32) -> (u32, u32) {
        (checks & 0xffff, checks >> 16)
    }

    /// One check of one rule.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Check {
        /// `KIND_*`.
        pub kind: u32,
        /// The kind's 32-bit parameter.
        pub arg: u32,
        /// The kind's first parameter.
        pub a: u64,
        /// The kind's second parameter.
        pub b: u64,
        /// State the kernel updates (atomically: all CPUs share it).
        pub state: u64,
    }
}

/// `-j LOG`: the records the programs send to `fw monitor`.
///
/// A LOG rule's [`super::RuleInfo::arg`] is its index among its bank's
/// LOG rules; `LOG_CONFIGS[config_slot(bank, n)]` holds its settings. The
/// walk notes up to [`MAX_PER_PACKET`] LOG rules; once it has decided, the
/// hook sends one [`Event`] per noted rule through the `LOG_EVENTS` ring
/// buffer, if the CPU's token bucket ([`RATE`], [`BURST`]) allows.
///
/// | map          | kind          | key             | value      |
/// |--------------|---------------|-----------------|------------|
/// | `LOG_EVENTS` | ring buffer   | -               | [`Event`]  |
/// | `LOG_CONFIGS`| array         | [`config_slot`] | [`Config`] |
/// | `LOG_STATS`  | per-CPU array | [`Stat`]        | `u64`      |
pub mod log {
    /// LOG rules per bank.
    pub const MAX_CONFIGS: u32 = 4096;
    /// LOG rules one packet's walk records; more count as
    /// [`Stat::Overflow`].
    pub const MAX_PER_PACKET: u32 = 4;
    /// Events per second per CPU, on average.
    pub const RATE: u64 = 1000;
    /// Events a CPU may send at once after a quiet spell.
    pub const BURST: u64 = 100;
    /// Bytes of the frame an event carries, from the MAC header: 14 of
    /// Ethernet, then the IPv4 header and what follows it.
    pub const CAPTURE: usize = 160;
    /// Size of `LOG_EVENTS` in bytes (a power of two of pages).
    pub const RING_BYTES: u32 = 1 << 18;
    /// `--log-prefix` bytes kept, as the kernel's `xt_log_info.prefix`.
    pub const PREFIX: usize = 30;

    /// The slot of bank `bank`'s LOG rule `n` in `LOG_CONFIGS`.
    pub const fn config_slot(bank: u32, n: u32) -> u32 {
        (bank % super::BANKS) * MAX_CONFIGS + n % MAX_CONFIGS
    }

    /// One LOG rule's settings.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Config {
        /// `--log-prefix`, NUL-padded (at most `PREFIX - 1` bytes).
        pub prefix: [u8; PREFIX],
        /// `--log-level`.
        pub level: u8,
        /// `XT_LOG_*` flag bits.
        pub flags: u8,
    }

    /// `XT_LOG_TCPSEQ`: `--log-tcp-sequence`.
    pub const FLAG_TCPSEQ: u8 = 0x01;
    /// `XT_LOG_TCPOPT`: `--log-tcp-options`.
    pub const FLAG_TCPOPT: u8 = 0x02;
    /// `XT_LOG_IPOPT`: `--log-ip-options`.
    pub const FLAG_IPOPT: u8 = 0x04;
    /// `XT_LOG_MACDECODE`: `--log-macdecode`.
    pub const FLAG_MACDECODE: u8 = 0x20;

    /// One record: the rule's settings, where the packet was, and its
    /// first [`CAPTURE`] bytes.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Event {
        /// The LOG rule's settings, copied when the packet passed.
        pub config: Config,
        /// The built-in chain (`CHAIN_INPUT`, `CHAIN_FORWARD`,
        /// `CHAIN_OUTPUT`).
        pub hook: u32,
        /// Input interface index, 0 for OUTPUT.
        pub in_ifindex: u32,
        /// Output interface index, 0 for INPUT.
        pub out_ifindex: u32,
        /// The frame's length.
        pub len: u32,
        /// Bytes of `data` that hold the frame.
        pub caplen: u32,
        /// The link-layer header's length at the start of `data`: 14
        /// (Ethernet), or 0 on a device without one (tun, WireGuard),
        /// where the frame starts at the IP header.
        pub mac_len: u32,
        /// The frame from its MAC header.
        pub data: [u8; CAPTURE],
    }

    /// `LOG_STATS` slots.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Stat {
        /// Events sent.
        Sent = 0,
        /// Events not sent: the CPU's bucket was empty.
        RateLimited = 1,
        /// Events not sent: the ring buffer was full.
        RingFull = 2,
        /// LOG rules past [`MAX_PER_PACKET`] in one walk.
        Overflow = 3,
    }

    impl Stat {
        /// Every counter, by slot.
        pub const ALL: [Stat; 4] = [
            Stat::Sent,
            Stat::RateLimited,
            Stat::RingFull,
            Stat::Overflow,
        ];
        /// Its slot.
        pub const fn index(self) -> u32 {
            self as u32
        }
        /// Its name in `fw monitor --stats`.
        pub const fn name(self) -> &'static str {
            match self {
                Stat::Sent => "sent",
                Stat::RateLimited => "dropped (rate limit)",
                Stat::RingFull => "dropped (ring full)",
                Stat::Overflow => "dropped (too many LOG rules in one walk)",
            }
        }
    }

    /// Entries of `LOG_STATS`.
    pub const STATS: u32 = Stat::ALL.len() as u32;

    /// A CPU's token bucket, in nanoseconds of credit: each event costs
    /// `1e9 / RATE`, credit grows with time up to `BURST` events.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Bucket {
        /// Credit, ns.
        pub credit: u64,
        /// When credit was last added, `bpf_ktime_get_ns`.
        pub last: u64,
    }
}

/// Connection tracking: the layouts of the `CONNTRACK` table, its
/// timeouts and its counters, and the state bits of [`Field::CtState`].
///
/// One table serves both directions: a connection is keyed by its
/// normalized 5-tuple ([`CtKey::new`]: the lower endpoint first), and the
/// entry says which endpoint opened it. The eBPF programs look every IPv4
/// packet up at XDP (incoming, INPUT and FORWARD) and at TC egress
/// (locally generated, OUTPUT), give the packet its state, and create an
/// entry only for a NEW packet that fw's verdict accepts (netfilter
/// confirms an entry only at the end of the hooks, so a dropped SYN leaves
/// nothing). `CONNTRACK` is an LRU hash map: when it is full, the kernel
/// evicts the least recently used entry to make room, so a new flow is
/// always seen as NEW and never inherits another's state.
///
/// | map         | kind            | key       | value        |
/// |-------------|-----------------|-----------|--------------|
/// | `CONNTRACK` | LRU hash        | [`CtKey`] | [`CtEntry`]  |
/// | `CT_CONFIG` | array, 1        | 0         | [`Timeouts`] |
/// | `CT_STATS`  | per-CPU array   | [`Stat`]  | `u64`        |
pub mod ct {
    pub mod tcp;

    /// `INVALID`: no connection could be found or made for the packet
    /// (xt_conntrack.h's `XT_CONNTRACK_STATE_INVALID`, as the model's
    /// `CtStates`).
    pub const INVALID: u32 = 1 << 0;
    /// `ESTABLISHED`: the connection has seen packets both ways.
    pub const ESTABLISHED: u32 = 1 << 1;
    /// `RELATED`: an ICMP error about a tracked connection.
    pub const RELATED: u32 = 1 << 2;
    /// `NEW`: the packet starts a connection (or the opener repeats
    /// itself before any answer).
    pub const NEW: u32 = 1 << 3;
    /// `UNTRACKED`: exists only with the raw table's NOTRACK, which fw
    /// has not; no packet has it.
    pub const UNTRACKED: u32 = 1 << 8;

    /// Default size of `CONNTRACK` (netfilter's `nf_conntrack_max` is of
    /// the same order on small hosts); `FW_CONNTRACK_MAX` overrides it
    /// when fw first loads in a namespace.
    pub const DEFAULT_MAX: u32 = 65_536;

    /// ICMP types (RFC 792).
    pub const ICMP_ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const ICMP_DEST_UNREACH: u8 = 3;
    /// Source quench (an error, deprecated).
    pub const ICMP_SOURCE_QUENCH: u8 = 4;
    /// Redirect (an error).
    pub const ICMP_REDIRECT: u8 = 5;
    /// Echo request.
    pub const ICMP_ECHO: u8 = 8;
    /// Time exceeded.
    pub const ICMP_TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const ICMP_PARAMETERPROB: u8 = 12;
    /// Timestamp request.
    pub const ICMP_TIMESTAMP: u8 = 13;
    /// Timestamp reply.
    pub const ICMP_TIMESTAMPREPLY: u8 = 14;
    /// Information request.
    pub const ICMP_INFO_REQUEST: u8 = 15;
    /// Information reply.
    pub const ICMP_INFO_REPLY: u8 = 16;
    /// Address mask request.
    pub const ICMP_ADDRESS: u8 = 17;
    /// Address mask reply.
    pub const ICMP_ADDRESSREPLY: u8 = 18;

    /// ICMPv6 types (RFC 4443, RFC 4620): echo request.
    pub const ICMPV6_ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ICMPV6_ECHO_REPLY: u8 = 129;
    /// Node information query.
    pub const ICMPV6_NI_QUERY: u8 = 139;
    /// Node information reply.
    pub const ICMPV6_NI_REPLY: u8 = 140;

    /// Whether ICMPv6 `kind` is an error quoting the packet it is about:
    /// every type below 128 (nf_conntrack_proto_icmpv6.c `icmpv6_error`).
    pub const fn icmp6_is_error(kind: u8) -> bool {
        kind < 128
    }

    /// The reply type of an ICMPv6 query type (netfilter's `invmap` in
    /// nf_conntrack_proto_icmpv6.c).
    pub const fn icmp6_reply_of(kind: u8) -> Option<u8> {
        match kind {
            ICMPV6_ECHO_REQUEST => Some(ICMPV6_ECHO_REPLY),
            ICMPV6_NI_QUERY => Some(ICMPV6_NI_REPLY),
            _ => None,
        }
    }

    /// The query type ICMPv6 reply type `kind` answers.
    pub const fn icmp6_query_of(kind: u8) -> Option<u8> {
        match kind {
            ICMPV6_ECHO_REPLY => Some(ICMPV6_ECHO_REQUEST),
            ICMPV6_NI_REPLY => Some(ICMPV6_NI_QUERY),
            _ => None,
        }
    }

    /// Whether ICMPv6 `kind` is one netfilter leaves UNTRACKED
    /// (`noct_valid_new`: multicast listener query, report and done, MLDv2
    /// report, router and neighbour solicitation and advertisement).
    pub const fn icmp6_untracked(kind: u8) -> bool {
        matches!(kind, 130..=136 | 143)
    }

    /// TCP flag bits (RFC 9293 section 3.1).
    pub const TCP_FIN: u8 = 0x01;
    /// See [`TCP_FIN`].
    pub const TCP_SYN: u8 = 0x02;
    /// See [`TCP_FIN`].
    pub const TCP_RST: u8 = 0x04;
    /// See [`TCP_FIN`].
    pub const TCP_ACK: u8 = 0x10;
    /// See [`TCP_FIN`].
    pub const TCP_URG: u8 = 0x20;

    /// Whether TCP flag byte `flags` is a combination netfilter tracks:
    /// nf_conntrack_proto_tcp.c's `tcp_valid_flags` table, PSH, ECE and
    /// CWR aside (always valid). Any other (no flag, FIN without ACK,
    /// SYN+FIN, SYN+RST, ...) makes the packet INVALID before its
    /// connection is looked at, and changes no entry.
    pub const fn tcp_flags_valid(flags: u8) -> bool {
        const FIN: u8 = TCP_FIN;
        const SYN: u8 = TCP_SYN;
        const RST: u8 = TCP_RST;
        const ACK: u8 = TCP_ACK;
        const URG: u8 = TCP_URG;
        const SYN_URG: u8 = SYN | URG;
        const SYN_ACK: u8 = SYN | ACK;
        const RST_ACK: u8 = RST | ACK;
        const FIN_ACK: u8 = FIN | ACK;
        const FIN_ACK_URG: u8 = FIN | ACK | URG;
        const ACK_URG: u8 = ACK | URG;
        matches!(
            flags & (FIN | SYN | RST | ACK | URG),
            SYN | SYN_URG | SYN_ACK | RST | RST_ACK | FIN_ACK | FIN_ACK_URG | ACK | ACK_URG
        )
    }

    /// Whether ICMP `kind` is an error that quotes the datagram it is
    /// about (netfilter's `icmp_error_message` cases).
    pub const fn icmp_is_error(kind: u8) -> bool {
        matches!(
            kind,
            ICMP_DEST_UNREACH
                | ICMP_SOURCE_QUENCH
                | ICMP_REDIRECT
                | ICMP_TIME_EXCEEDED
                | ICMP_PARAMETERPROB
        )
    }

    /// The reply type of an ICMP query type, `None` for other types
    /// (netfilter's `invmap` in nf_conntrack_proto_icmp.c).
    pub const fn icmp_reply_of(kind: u8) -> Option<u8> {
        match kind {
            ICMP_ECHO => Some(ICMP_ECHO_REPLY),
            ICMP_TIMESTAMP => Some(ICMP_TIMESTAMPREPLY),
            ICMP_INFO_REQUEST => Some(ICMP_INFO_REPLY),
            ICMP_ADDRESS => Some(ICMP_ADDRESSREPLY),
            _ => None,
        }
    }

    /// Whether ICMP `kind` answers a query.
    pub const fn icmp_is_reply(kind: u8) -> bool {
        matches!(
            kind,
            ICMP_ECHO_REPLY | ICMP_TIMESTAMPREPLY | ICMP_INFO_REPLY | ICMP_ADDRESSREPLY
        )
    }

    /// The query type ICMP reply type `kind` answers, `None` for other
    /// types (the inverse of [`icmp_reply_of`]).
    pub const fn icmp_query_of(kind: u8) -> Option<u8> {
        match kind {
            ICMP_ECHO_REPLY => Some(ICMP_ECHO),
            ICMP_TIMESTAMPREPLY => Some(ICMP_TIMESTAMP),
            ICMP_INFO_REPLY => Some(ICMP_INFO_REQUEST),
            ICMP_ADDRESSREPLY => Some(ICMP_ADDRESS),
            _ => None,
        }
    }

    /// A connection's key: the two endpoints, lower first (by address,
    /// then port, as numbers of their network-order bytes), and the IP
    /// protocol; other protocols without ports have zeros. ICMP queries
    /// ([`CtKey::icmp`]) are not normalized: the querier comes first, as
    /// netfilter's tuple tells a query from a reply by its type (a query
    /// from the other side with the same identifier is another
    /// connection); the first port is the identifier, the second the
    /// query's type (high byte) and code (low byte), which netfilter's
    /// tuple holds too (`dst.u.icmp`): an echo reply answers only an echo
    /// request of its code.
    ///
    /// One table holds both families: an IPv4 address fills the first 4
    /// bytes of its 16, and `v6` keeps an IPv6 connection apart from an
    /// IPv4 one whose bytes are the same.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct CtKey {
        /// Addresses, network byte order: `addr[0]` is the lower endpoint's.
        pub addr: [[u8; 16]; 2],
        /// Ports (or the ICMP identifier), host order.
        pub port: [u16; 2],
        /// IP protocol (1 for ICMP, 58 for ICMPv6).
        pub proto: u8,
        /// 1 for an IPv6 connection, 0 for IPv4.
        pub v6: u8,
        /// Zero.
        pub _pad: [u8; 2],
    }

    /// An IPv4 address in a [`CtKey`]'s 16 bytes.
    #[inline(always)]
    pub const fn wide(a: [u8; 4]) -> [u8; 16] {
        let mut w = [0u8; 16];
        w[0] = a[0];
        w[1] = a[1];
        w[2] = a[2];
        w[3] = a[3];
        w
    }

    impl CtKey {
        /// The key of the ICMP query connection from `querier` to
        /// `responder` with identifier `id`, of query type `kind` (the
        /// request's: 8 for an echo) and `code`.
        #[inline(always)]
        pub fn icmp(querier: [u8; 4], responder: [u8; 4], id: u16, kind: u8, code: u8) -> Self {
            let mut k = CtKey::default();
            k.set_icmp(&wide(querier), &wide(responder), id, (kind, code), false);
            k
        }

        /// [`CtKey::icmp`] of an ICMPv6 query (type 128 for an echo).
        #[inline(always)]
        pub fn icmp6(querier: [u8; 16], responder: [u8; 16], id: u16, kind: u8, code: u8) -> Self {
            let mut k = CtKey::default();
            k.set_icmp(&querier, &responder, id, (kind, code), true);
            k
        }

        /// Makes this the key of an ICMP (`v6`: ICMPv6) query connection,
        /// as [`CtKey::icmp`], in place (the programs build keys in map
        /// memory: a copy would cost their stack).
        #[inline(always)]
        pub fn set_icmp(
            &mut self,
            querier: &[u8; 16],
            responder: &[u8; 16],
            id: u16,
            (kind, code): (u8, u8),
            v6: bool,
        ) {
            self.addr[0] = *querier;
            self.addr[1] = *responder;
            self.port = [id, (kind as u16) << 8 | code as u16];
            self.proto = if v6 { 58 } else { 1 };
            self.v6 = v6 as u8;
            self._pad = [0; 2];
        }

        /// The key of a packet from `src:sport` to `dst:dport` (addresses
        /// as their network-order bytes), and whether the source is the
        /// key's first endpoint.
        #[inline(always)]
        pub fn new(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, proto: u8) -> (Self, bool) {
            let mut k = CtKey::default();
            let first = k.set(&wide(src), &wide(dst), (sport, dport), proto, false);
            (k, first)
        }

        /// [`CtKey::new`] of an IPv6 packet.
        #[inline(always)]
        pub fn new6(
            src: [u8; 16],
            dst: [u8; 16],
            sport: u16,
            dport: u16,
            proto: u8,
        ) -> (Self, bool) {
            let mut k = CtKey::default();
            let first = k.set(&src, &dst, (sport, dport), proto, true);
            (k, first)
        }

        /// Makes this the key of a packet from `src:sport` to
        /// `dst:dport` (16-byte addresses: IPv4's [`wide`]), as
        /// [`CtKey::new`], in place; whether the source is the first
        /// endpoint.
        #[inline(always)]
        pub fn set(
            &mut self,
            src: &[u8; 16],
            dst: &[u8; 16],
            (sport, dport): (u16, u16),
            proto: u8,
            v6: bool,
        ) -> bool {
            // The addresses as numbers, word by word without branches.
            let (mut lt, mut eq) = (false, true);
            let mut i = 0;
            while i < 4 {
                let w = |a: &[u8; 16]| {
                    u32::from_be_bytes([a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]])
                };
                let (s, d) = (w(src), w(dst));
                lt |= eq & (s < d);
                eq &= s == d;
                i += 1;
            }
            let src_first = lt | (eq & (sport <= dport));
            let (a, b) = if src_first { (src, dst) } else { (dst, src) };
            self.addr[0] = *a;
            self.addr[1] = *b;
            self.port = if src_first {
                [sport, dport]
            } else {
                [dport, sport]
            };
            self.proto = proto;
            self.v6 = v6 as u8;
            self._pad = [0; 2];
            src_first
        }

        /// The IPv4 address of endpoint `i` (0 or 1) of an IPv4 key.
        #[inline(always)]
        pub fn addr4(&self, i: usize) -> [u8; 4] {
            let a = &self.addr[i % 2];
            [a[0], a[1], a[2], a[3]]
        }
    }

    /// [`CtEntry::flags`]: the connection was opened by the key's first
    /// endpoint (its original direction is `addr[0]` to `addr[1]`).
    pub const F_ORIG_FIRST: u8 = 1 << 0;
    /// A packet of the reply direction was seen (`IPS_SEEN_REPLY`).
    pub const F_SEEN_REPLY: u8 = 1 << 1;
    /// The connection is assured (`IPS_ASSURED`: TCP past the handshake,
    /// UDP answered).
    pub const F_ASSURED: u8 = 1 << 2;
    /// [`TCP_TRANSITIONS`]: the packet is INVALID (netfilter's `sIV`,
    /// `TCP_CONNTRACK_MAX`).
    pub const TCP_IV: u8 = 10;
    /// [`TCP_TRANSITIONS`]: the packet is let through with the state it
    /// has and changes nothing (netfilter's `sIG`, `TCP_CONNTRACK_IGNORE`).
    pub const TCP_IG: u8 = 11;

    /// netfilter's TCP state machine, `tcp_conntracks` of
    /// nf_conntrack_proto_tcp.c (Linux 6.x), by direction (0 original, 1
    /// reply), [`tcp_index`] and [`TcpState`] number: the next state,
    /// [`TCP_IV`] or [`TCP_IG`].
    pub const TCP_TRANSITIONS: [[[u8; 10]; 6]; 2] = {
        const NO: u8 = 0;
        const SS: u8 = 1;
        const SR: u8 = 2;
        const ES: u8 = 3;
        const FW: u8 = 4;
        const CW: u8 = 5;
        const LA: u8 = 6;
        const TW: u8 = 7;
        const CL: u8 = 8;
        const S2: u8 = 9;
        const IV: u8 = TCP_IV;
        const IG: u8 = TCP_IG;
        let _ = NO;
        [
            [
                // sNO sSS sSR sES sFW sCW sLA sTW sCL sS2
                [SS, SS, IG, IG, IG, IG, IG, SS, SS, S2], // syn
                [IV, IV, IG, IG, IG, IG, IG, IG, IG, SR], // syn+ack
                [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV], // fin
                [ES, IV, ES, ES, CW, CW, TW, TW, CL, IV], // ack
                [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL], // rst
                [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV], // none
            ],
            [
                [IV, S2, IV, IV, IV, IV, IV, SS, IV, S2], // syn
                [IV, SR, IG, IG, IG, IG, IG, IG, IG, SR], // syn+ack
                [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV], // fin
                [IV, IG, SR, ES, CW, CW, TW, TW, CL, IG], // ack
                [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL], // rst
                [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV], // none
            ],
        ]
    };

    /// The row of [`TCP_TRANSITIONS`] for TCP `flags` (netfilter's
    /// `get_conntrack_index`): 0 SYN, 1 SYN+ACK, 2 FIN, 3 ACK, 4 RST,
    /// 5 none of them.
    pub const fn tcp_index(flags: u8) -> u8 {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        const ACK: u8 = 0x10;
        if flags & RST != 0 {
            4
        } else if flags & SYN != 0 {
            if flags & ACK != 0 { 1 } else { 0 }
        } else if flags & FIN != 0 {
            2
        } else if flags & ACK != 0 {
            3
        } else {
            5
        }
    }

    /// TCP states ([`CtEntry::tcp`]), netfilter's `tcp_conntrack` numbers
    /// and names (nf_conntrack_tcp.h).
    #[repr(u8)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TcpState {
        /// Not TCP.
        None = 0,
        /// The opener's SYN was seen.
        SynSent = 1,
        /// The answer's SYN+ACK was seen.
        SynRecv = 2,
        /// The handshake completed.
        Established = 3,
        /// One side sent a FIN.
        FinWait = 4,
        /// One side's FIN was acknowledged.
        CloseWait = 5,
        /// Both sides sent a FIN.
        LastAck = 6,
        /// Both FINs were acknowledged.
        TimeWait = 7,
        /// A RST closed it.
        Close = 8,
        /// The reply side sent a SYN too (a simultaneous open).
        SynSent2 = 9,
    }

    impl TcpState {
        /// The state numbered `n`.
        pub const fn from_u8(n: u8) -> TcpState {
            match n {
                1 => TcpState::SynSent,
                2 => TcpState::SynRecv,
                3 => TcpState::Established,
                4 => TcpState::FinWait,
                5 => TcpState::CloseWait,
                6 => TcpState::LastAck,
                7 => TcpState::TimeWait,
                8 => TcpState::Close,
                9 => TcpState::SynSent2,
                _ => TcpState::None,
            }
        }

        /// Its name in `conntrack -L`.
        pub const fn name(self) -> &'static str {
            match self {
                TcpState::None => "NONE",
                TcpState::SynSent => "SYN_SENT",
                TcpState::SynRecv => "SYN_RECV",
                TcpState::Established => "ESTABLISHED",
                TcpState::FinWait => "FIN_WAIT",
                TcpState::CloseWait => "CLOSE_WAIT",
                TcpState::LastAck => "LAST_ACK",
                TcpState::TimeWait => "TIME_WAIT",
                TcpState::Close => "CLOSE",
                TcpState::SynSent2 => "SYN_SENT2",
            }
        }
    }

    /// One connection, `CONNTRACK[key]`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CtEntry {
        /// When it expires: `bpf_ktime_get_ns()` (CLOCK_MONOTONIC), ns.
        /// An expired entry is the same as none.
        pub expires: u64,
        /// [`TcpState`] for TCP, 0 otherwise.
        pub tcp: u8,
        /// `F_*` bits.
        pub flags: u8,
        /// Zero.
        pub _pad: [u8; 6],
        /// TCP's sequence tracking ([`tcp::Track`]); zero otherwise.
        pub track: tcp::Track,
    }

    /// Connection timeouts in seconds, `CT_CONFIG[0]`, with netfilter's
    /// defaults (`nf_conntrack_*_timeout*` sysctls, Linux 6.x), and the
    /// TCP tracker's switches.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Timeouts {
        /// `nf_conntrack_tcp_timeout_syn_sent`: 120.
        pub tcp_syn_sent: u32,
        /// `nf_conntrack_tcp_timeout_syn_recv`: 60.
        pub tcp_syn_recv: u32,
        /// `nf_conntrack_tcp_timeout_established`: 432000 (5 days).
        pub tcp_established: u32,
        /// `nf_conntrack_tcp_timeout_fin_wait`: 120.
        pub tcp_fin_wait: u32,
        /// `nf_conntrack_tcp_timeout_close_wait`: 60.
        pub tcp_close_wait: u32,
        /// `nf_conntrack_tcp_timeout_last_ack`: 30.
        pub tcp_last_ack: u32,
        /// `nf_conntrack_tcp_timeout_time_wait`: 120.
        pub tcp_time_wait: u32,
        /// `nf_conntrack_tcp_timeout_close`: 10.
        pub tcp_close: u32,
        /// `nf_conntrack_udp_timeout`: 30, until both directions were seen.
        pub udp: u32,
        /// `nf_conntrack_udp_timeout_stream`: 120, once they were.
        pub udp_stream: u32,
        /// `nf_conntrack_icmp_timeout`: 30.
        pub icmp: u32,
        /// `nf_conntrack_generic_timeout`: 600, other protocols.
        pub generic: u32,
        /// `nf_conntrack_tcp_timeout_max_retrans`: 300, once the same
        /// segment was sent `max_retrans` times in a row.
        pub tcp_max_retrans: u32,
        /// `nf_conntrack_tcp_timeout_unacknowledged`: 300, while data is
        /// unacknowledged.
        pub tcp_unacknowledged: u32,
        /// `nf_conntrack_tcp_be_liberal`: 0; not 0, only an out-of-window
        /// RST is INVALID (every other window check passes).
        pub be_liberal: u32,
        /// `nf_conntrack_tcp_ignore_invalid_rst`: 0; not 0, a RST below
        /// the peer's highest ACK is not INVALID.
        pub ignore_invalid_rst: u32,
        /// `nf_conntrack_tcp_max_retrans`: 3.
        pub max_retrans: u32,
    }

    impl Timeouts {
        /// netfilter's defaults.
        pub const DEFAULT: Timeouts = Timeouts {
            tcp_syn_sent: 120,
            tcp_syn_recv: 60,
            tcp_established: 432_000,
            tcp_fin_wait: 120,
            tcp_close_wait: 60,
            tcp_last_ack: 30,
            tcp_time_wait: 120,
            tcp_close: 10,
            udp: 30,
            udp_stream: 120,
            icmp: 30,
            generic: 600,
            tcp_max_retrans: 300,
            tcp_unacknowledged: 300,
            be_liberal: 0,
            ignore_invalid_rst: 0,
            max_retrans: 3,
        };

        /// The switches `fw conntrack --tcp NAME=VALUE` takes
        /// (`nf_conntrack_tcp_NAME`), in field order.
        pub const SWITCHES: [&'static str; 3] = ["be_liberal", "ignore_invalid_rst", "max_retrans"];

        /// The switches in [`Timeouts::SWITCHES`] order.
        pub const fn switches(&self) -> [u32; 3] {
            [self.be_liberal, self.ignore_invalid_rst, self.max_retrans]
        }

        /// These timeouts with the switches of `a`, in
        /// [`Timeouts::SWITCHES`] order.
        pub const fn with_switches(self, a: [u32; 3]) -> Self {
            Timeouts {
                be_liberal: a[0],
                ignore_invalid_rst: a[1],
                max_retrans: a[2],
                ..self
            }
        }

        /// The names `fw conntrack --timeout NAME=SECONDS` takes, in
        /// field order.
        pub const NAMES: [&'static str; 14] = [
            "tcp_syn_sent",
            "tcp_syn_recv",
            "tcp_established",
            "tcp_fin_wait",
            "tcp_close_wait",
            "tcp_last_ack",
            "tcp_time_wait",
            "tcp_close",
            "udp",
            "udp_stream",
            "icmp",
            "generic",
            "tcp_max_retrans",
            "tcp_unacknowledged",
        ];

        /// The fields in [`Timeouts::NAMES`] order.
        pub const fn to_array(&self) -> [u32; 14] {
            [
                self.tcp_syn_sent,
                self.tcp_syn_recv,
                self.tcp_established,
                self.tcp_fin_wait,
                self.tcp_close_wait,
                self.tcp_last_ack,
                self.tcp_time_wait,
                self.tcp_close,
                self.udp,
                self.udp_stream,
                self.icmp,
                self.generic,
                self.tcp_max_retrans,
                self.tcp_unacknowledged,
            ]
        }

        /// These switches with the timeouts of `a`, in
        /// [`Timeouts::NAMES`] order.
        pub const fn with_array(self, a: [u32; 14]) -> Self {
            Timeouts {
                tcp_syn_sent: a[0],
                tcp_syn_recv: a[1],
                tcp_established: a[2],
                tcp_fin_wait: a[3],
                tcp_close_wait: a[4],
                tcp_last_ack: a[5],
                tcp_time_wait: a[6],
                tcp_close: a[7],
                udp: a[8],
                udp_stream: a[9],
                icmp: a[10],
                generic: a[11],
                tcp_max_retrans: a[12],
                tcp_unacknowledged: a[13],
                ..self
            }
        }

        /// The timeout of TCP state number `s` (a [`TcpState`]), bounded
        /// where the verifier sees it: `tcp_close` past the last state.
        #[inline(never)]
        pub fn tcp_timeout(&self, s: u8) -> u32 {
            if s > TcpState::SynSent2 as u8 {
                return self.tcp_close;
            }
            self.tcp(TcpState::from_u8(s))
        }

        /// The timeout of TCP state `s`.
        pub const fn tcp(&self, s: TcpState) -> u32 {
            match s {
                // netfilter's SYN_SENT2 timeout is SYN_SENT's (2 minutes).
                TcpState::None | TcpState::SynSent | TcpState::SynSent2 => self.tcp_syn_sent,
                TcpState::SynRecv => self.tcp_syn_recv,
                TcpState::Established => self.tcp_established,
                TcpState::FinWait => self.tcp_fin_wait,
                TcpState::CloseWait => self.tcp_close_wait,
                TcpState::LastAck => self.tcp_last_ack,
                TcpState::TimeWait => self.tcp_time_wait,
                TcpState::Close => self.tcp_close,
            }
        }
    }

    /// Counters of `CT_STATS`, per CPU.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Stat {
        /// Entries created (a NEW packet accepted).
        Created = 0,
        /// Creations that failed (the kernel could not insert; the packet
        /// still went on as NEW, as decided).
        InsertFailed = 1,
        /// Packets found INVALID.
        Invalid = 2,
    }

    impl Stat {
        /// Every counter, by index.
        pub const ALL: [Stat; 3] = [Stat::Created, Stat::InsertFailed, Stat::Invalid];

        /// A short name for `fw conntrack -S`.
        pub const fn name(self) -> &'static str {
            match self {
                Stat::Created => "created",
                Stat::InsertFailed => "insert_failed",
                Stat::Invalid => "invalid",
            }
        }
    }

    /// Entries of `CT_STATS`.
    pub const STATS: u32 = Stat::ALL.len() as u32;
}

/// Program names, as the eBPF object declares them.
pub mod programs {
    /// The XDP program (INPUT and FORWARD).
    pub const XDP: &str = "fw_xdp";
    /// The TCX egress program (OUTPUT).
    pub const TC: &str = "fw_tc";
    /// The TCX ingress program: sends the REJECT answers XDP marked
    /// ([`super::iface`]) back out their interface.
    pub const TC_IN: &str = "fw_tc_in";
    /// The TCX egress program of devices without a link-layer header
    /// (tun, WireGuard: `ARPHRD_NONE`): OUTPUT.
    pub const TC_L3: &str = "fw_tc_l3";
    /// The TCX ingress program of those devices: INPUT and FORWARD, which
    /// XDP cannot parse there.
    pub const TC_L3_IN: &str = "fw_tc_l3in";
}

/// How an INPUT or FORWARD REJECT answer leaves its interface.
///
/// XDP builds the answer over the rejected frame, then either returns
/// `XDP_TX`, or, where `IFACES[ifindex]` has [`ANSWER_AT_TC_INGRESS`],
/// puts [`REJECT_MARK`] in front of it as XDP metadata
/// (`bpf_xdp_adjust_meta`, [`MARK_LEN`] bytes) and passes it to the TCX
/// ingress program, which zeroes the mark and `bpf_redirect`s the frame
/// out the same interface. A veth delivers `XDP_TX` frames only while its
/// peer runs NAPI (an XDP program of its own); the skb path needs nothing
/// of the peer. The frame passed is always the answer, never the rejected
/// packet: should the TC stage be missing, the stack drops it (addressed
/// to another host's MAC address).
///
/// | map      | kind | key                  | value                        |
/// |----------|------|----------------------|------------------------------|
/// | `IFACES` | hash | ifindex (u32, host)  | flags (u32, host)            |
pub mod iface {
    /// Entries of `IFACES`: interfaces fw attaches to in one namespace.
    pub const MAX: u32 = 4096;
    /// The answer leaves by TCX ingress and `bpf_redirect` (set on veth,
    /// once the TCX ingress link is pinned).
    pub const ANSWER_AT_TC_INGRESS: u32 = 1;
    /// The XDP metadata of a marked answer (host byte order). On a device
    /// without a link-layer header, an OUTPUT REJECT's answer, handed to
    /// the device's ingress, carries it as `skb->mark`, which `fw_tc_l3in`
    /// zeroes and lets by (an Ethernet device's answer meets no INPUT).
    pub const REJECT_MARK: u32 = 0x6677_524a;
    /// Bytes of the metadata.
    pub const MARK_LEN: usize = 4;
    /// The object's `.rodata` constant (u32) that the loader sets to 1
    /// where XDP programs may call `bpf_xdp_adjust_meta` (probed, as
    /// `bpftool feature probe` does), else 0. With 0 the verifier never
    /// sees the call, and a marked answer is told apart by its first
    /// [`FINGERPRINT_LEN`] bytes instead: XDP remembers them in this
    /// CPU's `PENDING_ANSWERS` slots, the TCX ingress program redirects
    /// a frame that begins with remembered bytes and forgets them.
    pub const XDP_META_GLOBAL: &str = "FW_XDP_META";
    /// Answers remembered per CPU: more answers than this before the
    /// stack hands the first to TC ingress (its receive batch) lose the
    /// oldest, which the stack then drops (addressed to another host).
    pub const PENDING: usize = 8;
    /// How long a remembered answer waits for TC ingress, ns.
    pub const PENDING_NS: u64 = 100_000_000;
    /// Bytes of an answer that identify it: Ethernet (the peer's address
    /// as destination, the interface's as source), the IP header, and
    /// the first 6 bytes of its ICMP or TCP header.
    pub const FINGERPRINT_LEN: usize = 40;
}

/// Frames the kernel hands to a macvlan (or macvtap) upper device: they
/// pass the lower device's XDP program untouched and meet the ruleset
/// once, on the upper (`-i mv0`), where netfilter sees them.
///
/// The macvlan driver's rx_handler runs on the lower device after XDP
/// and gives a unicast frame to the upper whose address is its
/// destination (every mode: bridge, private, vepa, and source, whose
/// upper only gets copies by source address and whose destination the
/// lower's stack drops as `PACKET_OTHERHOST` before netfilter), or, in
/// passthru mode, every unicast frame to the one upper. Broadcast and
/// multicast frames go to the lower's stack and are copied to the
/// uppers: they are classified on each, as netfilter does.
///
/// User space writes the map at every attach (and `fw daemon` at its
/// refresh): for an upper in the same namespace only when fw is attached
/// to it, so that nothing passes the lower unless the upper filters it;
/// for an upper in another namespace (a container's) always, as this
/// namespace's netfilter never sees its frames.
///
/// | map        | kind | key                    | value                                          |
/// |------------|------|------------------------|------------------------------------------------|
/// | `MACVLANS` | hash | [`Key`]                | the upper's ifindex in its namespace (u32, host) |
pub mod macvlan {
    /// Entries of `MACVLANS`: macvlan devices over lower devices of one
    /// namespace.
    pub const MAX: u32 = 4096;
    /// [`Key::mac`] of a passthru upper: every unicast destination (a
    /// lower device has one passthru upper and no other).
    pub const ANY: [u8; 6] = [0; 6];

    /// A lower device and a unicast destination address.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Key {
        /// The lower device's ifindex (host byte order).
        pub ifindex: u32,
        /// The upper's MAC address as on the wire (bytes 0..6 of the
        /// frame), or [`ANY`].
        pub mac: [u8; 6],
        /// Zero.
        pub pad: [u8; 2],
    }
}

// Every map type is repr(C) plain data without implicit padding: its size
// is the sum of its fields' (what `aya::Pod` below relies on).
const _: () = {
    use core::mem::size_of;
    assert!(size_of::<Config>() == 8);
    assert!(size_of::<ChainInfo>() == 24);
    assert!(size_of::<frag::Key>() == 40);
    assert!(size_of::<frag::Verdict>() == 16);
    assert!(size_of::<RuleInfo>() == 16);
    assert!(size_of::<check::Check>() == 32);
    assert!(size_of::<check::recent::Key>() == 20);
    assert!(size_of::<check::hashlimit::Key>() == 36);
    assert!(size_of::<check::set::Meta>() == 20);
    assert!(size_of::<check::addrtype::Key>() == 17);
    assert!(size_of::<check::set::NetKey>() == 20);
    assert!(size_of::<check::set::PortKey>() == 24);
    assert!(size_of::<check::hashlimit::Entry>() == 16);
    assert!(size_of::<check::hashlimit::Table>() == 16);
    assert!(size_of::<check::recent::Entry>() == 8 * check::recent::STAMPS + 16);
    assert!(size_of::<AddrKey>() == 20);
    assert!(size_of::<PortKey>() == 8);
    assert!(size_of::<ValueKey>() == 8);
    assert!(size_of::<ClassKey>() == 8);
    assert!(size_of::<Summary>() == 8 * SUMMARY_WORDS);
    assert!(size_of::<WordKey>() == 12);
    assert!(size_of::<Counter>() == 16);
    assert!(size_of::<ct::CtKey>() == 40);
    assert!(size_of::<ct::tcp::Side>() == 20);
    assert!(size_of::<ct::tcp::Track>() == 64);
    assert!(size_of::<ct::tcp::Segment>() == 24);
    assert!(size_of::<ct::CtEntry>() == 16 + 64);
    assert!(size_of::<ct::Timeouts>() == 4 * 17);
    assert!(size_of::<log::Config>() == log::PREFIX + 2);
    assert!(size_of::<log::Config>().is_multiple_of(4));
    assert!(size_of::<log::Event>() == size_of::<log::Config>() + 24 + log::CAPTURE);
    assert!(size_of::<log::Bucket>() == 16);
    assert!(size_of::<macvlan::Key>() == 12);
};

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C) plain data without implicit padding (the sizes are
    // asserted above), valid for every bit pattern.
    unsafe impl aya::Pod for super::Config {}
    // SAFETY: five u32s; 20 bytes; 24 bytes with the u16 and two u8s.
    unsafe impl aya::Pod for super::check::set::Meta {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::set::NetKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::addrtype::Key {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::set::PortKey {}
    // SAFETY: eight u32s, no padding.
    unsafe impl aya::Pod for super::check::owner::Offsets {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ChainInfo {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::RuleInfo {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::AddrKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PortKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ValueKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ClassKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Summary {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::WordKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Counter {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ct::CtKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ct::CtEntry {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ct::Timeouts {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::log::Config {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::Check {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::recent::Key {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::recent::Entry {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::hashlimit::Key {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::hashlimit::Entry {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::check::hashlimit::Table {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::macvlan::Key {}
}

/// Fragments under a table that tracks connections ([`ChainInfo::defrag`]):
/// netfilter reassembles before its filter table, so one verdict covers a
/// datagram; fw sees each fragment, judges the first (the one with the
/// ports) and gives the later ones its verdict.
pub mod frag {
    /// `FRAG_VERDICTS`' entries (an LRU hash).
    pub const MAX: u32 = 8192;
    /// How long a first fragment's verdict holds for its later ones:
    /// `net.ipv4.ipfrag_time` (30 s), `net.ipv6.ip6frag_time` (60 s), the
    /// longest netfilter keeps a datagram's fragments.
    pub const TIMEOUT4_NS: u64 = 30_000_000_000;
    /// [`TIMEOUT4_NS`]'s IPv6 counterpart.
    pub const TIMEOUT6_NS: u64 = 60_000_000_000;
    /// [`Verdict::drop`]: the datagram was dropped (or rejected).
    pub const DROP: u32 = 1;
    /// [`Verdict::drop`]: the datagram was accepted.
    pub const ACCEPT: u32 = 2;

    /// A datagram's fragments, as the kernel's reassembly keys them
    /// (`ip4_frag_key`: addresses, identification, protocol;
    /// `frag_v6_compare_key`: addresses, identification).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Key {
        /// Source, 16 bytes (IPv4's left-aligned).
        pub src: [u8; 16],
        /// Destination, as `src`.
        pub dst: [u8; 16],
        /// The identification: IPv4's 16 bits, the IPv6 fragment
        /// header's 32, network order.
        pub id: u32,
        /// IPv4's protocol; 0 for IPv6.
        pub proto: u8,
        /// 1 for IPv6.
        pub v6: u8,
        /// Zero.
        pub _pad: [u8; 2],
    }

    /// A first fragment's verdict.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Verdict {
        /// `bpf_ktime_get_ns` when the first fragment was judged.
        pub at: u64,
        /// [`DROP`] or [`ACCEPT`].
        pub drop: u32,
        /// Zero.
        pub _pad: u32,
    }
}
