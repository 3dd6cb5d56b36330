//! The values of iptables' extension matches and targets
//! (iptables-extensions(8)), as fw's model holds them.
//!
//! Each type keeps exactly what the kernel's `xt_*` structure keeps, in the
//! same units, so that two rules compare equal exactly when iptables would
//! find them equal (`-D`/`-C` by specification) and printing needs nothing
//! else. Bit masks use the kernel's bit values (noted on each constant).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// `--tcp-flags MASK COMP` (and `--syn`, which is `FIN,SYN,RST,ACK SYN`):
/// of the flags in `mask`, exactly those in `comp` must be set
/// (iptables-extensions(8) "tcp"). Only the six classic flags exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TcpFlags {
    /// Flags to examine ([`TcpFlags::FIN`] ...).
    pub mask: u8,
    /// Flags that must be set among `mask`.
    pub comp: u8,
}

impl TcpFlags {
    /// FIN (0x01).
    pub const FIN: u8 = 0x01;
    /// SYN (0x02).
    pub const SYN: u8 = 0x02;
    /// RST (0x04).
    pub const RST: u8 = 0x04;
    /// PSH (0x08).
    pub const PSH: u8 = 0x08;
    /// ACK (0x10).
    pub const ACK: u8 = 0x10;
    /// URG (0x20).
    pub const URG: u8 = 0x20;
    /// `ALL`: every flag above.
    pub const ALL: u8 = 0x3F;
    /// `--syn`: `--tcp-flags FIN,SYN,RST,ACK SYN`.
    pub const SYN_ONLY: TcpFlags = TcpFlags {
        mask: Self::FIN | Self::SYN | Self::RST | Self::ACK,
        comp: Self::SYN,
    };
    /// Names in the order libxt_tcp prints them.
    pub const NAMES: [(&'static str, u8); 6] = [
        ("FIN", Self::FIN),
        ("SYN", Self::SYN),
        ("RST", Self::RST),
        ("PSH", Self::PSH),
        ("ACK", Self::ACK),
        ("URG", Self::URG),
    ];
}

/// An ICMP type with a range of codes (`-m icmp --icmp-type`). Type 255
/// with codes 0..=255 is `any`, as in the kernel's `ipt_icmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IcmpType {
    /// The ICMP type (255: any type).
    pub kind: u8,
    /// Lowest code matched.
    pub code_min: u8,
    /// Highest code matched.
    pub code_max: u8,
}

impl IcmpType {
    /// `any`.
    pub const ANY: IcmpType = IcmpType {
        kind: 0xFF,
        code_min: 0,
        code_max: 0xFF,
    };
}

/// Which ports `-m multiport` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PortDirection {
    /// `--sports` (`--source-ports`).
    Source,
    /// `--dports` (`--destination-ports`).
    Destination,
    /// `--ports`: source or destination.
    Either,
}

/// `-m multiport [!] --sports|--dports|--ports LIST` (revision 1).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Multiport {
    /// Which ports are compared.
    pub direction: PortDirection,
    /// The list: a single port has `lo == hi`, a range `lo < hi` (iptables
    /// refuses `80:80`). At most [`Multiport::MAX_SLOTS`] slots, a range
    /// taking two.
    pub ports: Vec<crate::model::PortRange>,
    /// `!`: none of the ports.
    pub invert: bool,
}

impl Multiport {
    /// `XT_MULTI_PORTS`.
    pub const MAX_SLOTS: usize = 15;

    /// Slots the list takes in the kernel's 15-port array.
    pub fn slots(&self) -> usize {
        self.ports
            .iter()
            .map(|p| if p.lo == p.hi { 1 } else { 2 })
            .sum()
    }
}

/// Connection tracking states (`--ctstate`, `--state`), with
/// `xt_conntrack.h`'s bit values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CtStates(pub u16);

impl CtStates {
    /// `INVALID`.
    pub const INVALID: u16 = 1 << 0;
    /// `ESTABLISHED`.
    pub const ESTABLISHED: u16 = 1 << 1;
    /// `RELATED`.
    pub const RELATED: u16 = 1 << 2;
    /// `NEW`.
    pub const NEW: u16 = 1 << 3;
    /// `SNAT` (conntrack only).
    pub const SNAT: u16 = 1 << 6;
    /// `DNAT` (conntrack only).
    pub const DNAT: u16 = 1 << 7;
    /// `UNTRACKED`.
    pub const UNTRACKED: u16 = 1 << 8;
    /// Names in the order libxt_conntrack prints them.
    pub const NAMES: [(&'static str, u16); 7] = [
        ("INVALID", Self::INVALID),
        ("NEW", Self::NEW),
        ("RELATED", Self::RELATED),
        ("ESTABLISHED", Self::ESTABLISHED),
        ("UNTRACKED", Self::UNTRACKED),
        ("SNAT", Self::SNAT),
        ("DNAT", Self::DNAT),
    ];
}

/// An inclusive IPv4 address range (`-m iprange`), `lo` may exceed `hi`
/// (iptables warns and stores it; it matches nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv4Range {
    /// First address.
    pub lo: Ipv4Addr,
    /// Last address (inclusive).
    pub hi: Ipv4Addr,
}

/// `-m limit`: a token bucket (iptables-extensions(8) "limit").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limit {
    /// The average interval between packets, in 1/10000 s
    /// (`XT_LIMIT_SCALE`): `3/min` is 200000. 0 never occurs.
    pub avg: u32,
    /// `--limit-burst`: bucket size in packets, 1..=10000.
    pub burst: u32,
}

impl Limit {
    /// `XT_LIMIT_SCALE`: `avg` units per second.
    pub const SCALE: u32 = 10000;
    /// The default `--limit` (3/hour).
    pub const DEFAULT_AVG: u32 = Self::SCALE * 60 * 60 / 3;
    /// The default `--limit-burst`.
    pub const DEFAULT_BURST: u32 = 5;
}

/// An inclusive range of IP packet lengths (`-m length`), in bytes; `min`
/// may exceed `max` (matches nothing, as in iptables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LengthRange {
    /// Shortest length.
    pub min: u16,
    /// Longest length.
    pub max: u16,
}

/// `-m ttl`: one comparison of the IP TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ttl {
    /// `--ttl-eq N`.
    Eq(u8),
    /// `! --ttl-eq N`.
    Ne(u8),
    /// `--ttl-lt N`.
    Lt(u8),
    /// `--ttl-gt N`.
    Gt(u8),
}

/// Route types of `-m addrtype` (`RTN_*` as `1 << n`, `xt_addrtype.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrTypes(pub u16);

impl AddrTypes {
    /// Names in bit order, which is also the order iptables prints them.
    pub const NAMES: [&'static str; 12] = [
        "UNSPEC",
        "UNICAST",
        "LOCAL",
        "BROADCAST",
        "ANYCAST",
        "MULTICAST",
        "BLACKHOLE",
        "UNREACHABLE",
        "PROHIBIT",
        "THROW",
        "NAT",
        "XRESOLVE",
    ];
}

/// `--limit-iface-in` / `--limit-iface-out` of `-m addrtype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LimitIface {
    /// `--limit-iface-in`: look the address up on the input interface.
    In,
    /// `--limit-iface-out`.
    Out,
}

/// `-m addrtype`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Addrtype {
    /// `[!] --src-type TYPES`.
    pub src: Option<crate::model::Neg<AddrTypes>>,
    /// `[!] --dst-type TYPES`.
    pub dst: Option<crate::model::Neg<AddrTypes>>,
    /// `--limit-iface-in|out`.
    pub limit_iface: Option<LimitIface>,
}

/// One dimension of `-m set --match-set NAME FLAGS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SetDir {
    /// `src`.
    Src,
    /// `dst`.
    Dst,
}

/// `-m set [!] --match-set NAME src|dst[,...]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SetMatch {
    /// The ipset's name (at most 31 bytes).
    pub name: String,
    /// 1 to 6 dimensions.
    pub dirs: Vec<SetDir>,
    /// `!`.
    pub invert: bool,
}

/// `-j REJECT --reject-with TYPE` (libipt_REJECT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RejectWith {
    /// `icmp-net-unreachable`.
    NetUnreachable,
    /// `icmp-host-unreachable`.
    HostUnreachable,
    /// `icmp-proto-unreachable`.
    ProtoUnreachable,
    /// `icmp-port-unreachable`, the default.
    #[default]
    PortUnreachable,
    /// `icmp-net-prohibited`.
    NetProhibited,
    /// `icmp-host-prohibited`.
    HostProhibited,
    /// `tcp-reset` (only with `-p tcp`).
    TcpReset,
    /// `icmp-admin-prohibited`.
    AdminProhibited,
}

impl RejectWith {
    /// Every type with its name and alias, in libipt_REJECT's table order
    /// (which decides what an abbreviation means).
    pub const TABLE: [(RejectWith, &'static str, &'static str); 8] = [
        (Self::NetUnreachable, "icmp-net-unreachable", "net-unreach"),
        (
            Self::HostUnreachable,
            "icmp-host-unreachable",
            "host-unreach",
        ),
        (
            Self::ProtoUnreachable,
            "icmp-proto-unreachable",
            "proto-unreach",
        ),
        (
            Self::PortUnreachable,
            "icmp-port-unreachable",
            "port-unreach",
        ),
        (Self::NetProhibited, "icmp-net-prohibited", "net-prohib"),
        (Self::HostProhibited, "icmp-host-prohibited", "host-prohib"),
        (Self::TcpReset, "tcp-reset", "tcp-rst"),
        (
            Self::AdminProhibited,
            "icmp-admin-prohibited",
            "admin-prohib",
        ),
    ];

    /// The name `-S` and `-L` print.
    pub fn name(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(w, _, _)| *w == self)
            .map_or("icmp-port-unreachable", |(_, n, _)| n)
    }
}

/// `-j LOG` (libxt_LOG).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Log {
    /// `--log-level`: syslog level 0 (emerg) ..= 7 (debug); default 4.
    pub level: u8,
    /// `--log-prefix`: at most 29 bytes, no newline; empty when not given.
    pub prefix: String,
    /// `--log-tcp-sequence`.
    pub tcp_sequence: bool,
    /// `--log-tcp-options`.
    pub tcp_options: bool,
    /// `--log-ip-options`.
    pub ip_options: bool,
    /// `--log-uid`.
    pub uid: bool,
    /// `--log-macdecode`.
    pub macdecode: bool,
}

impl Log {
    /// `LOG_WARNING`, the default level.
    pub const DEFAULT_LEVEL: u8 = 4;
    /// Longest prefix the kernel keeps (`sizeof(prefix) - 1`).
    pub const MAX_PREFIX: usize = 29;

    /// The flags as the kernel's `logflags` bits (`XT_LOG_*`), which
    /// `-L -n` prints.
    pub fn flag_bits(&self) -> u8 {
        u8::from(self.tcp_sequence)
            | u8::from(self.tcp_options) << 1
            | u8::from(self.ip_options) << 2
            | u8::from(self.uid) << 3
            | u8::from(self.macdecode) << 5
    }
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: Self::DEFAULT_LEVEL,
            prefix: String::new(),
            tcp_sequence: false,
            tcp_options: false,
            ip_options: false,
            uid: false,
            macdecode: false,
        }
    }
}
