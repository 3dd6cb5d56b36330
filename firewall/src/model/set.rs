//! `fw set`'s named sets (ipset(8)): their types and members, as the
//! ruleset's `-m set` and the kernel's `SET_*` maps
//! (`firewall_common::check::set`) see them.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// A set type fw keeps (ipset's `TYPENAME`, IPv4 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SetKind {
    /// `hash:ip`: addresses.
    #[serde(rename = "hash:ip")]
    Ip,
    /// `hash:net`: prefixes.
    #[serde(rename = "hash:net")]
    Net,
    /// `hash:ip,port`: an address with a TCP or UDP port.
    #[serde(rename = "hash:ip,port")]
    IpPort,
}

impl SetKind {
    /// Every kind, in `ipset help`'s order.
    pub const ALL: [SetKind; 3] = [SetKind::Ip, SetKind::Net, SetKind::IpPort];

    /// Its ipset name.
    pub fn name(self) -> &'static str {
        match self {
            SetKind::Ip => "hash:ip",
            SetKind::Net => "hash:net",
            SetKind::IpPort => "hash:ip,port",
        }
    }

    /// The kind `name` names.
    pub fn by_name(name: &str) -> Option<SetKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// `firewall_common::check::set::Meta::kind`.
    pub fn code(self) -> u32 {
        use firewall_common::check::set::{KIND_IP, KIND_IP_PORT, KIND_NET};
        match self {
            SetKind::Ip => KIND_IP,
            SetKind::Net => KIND_NET,
            SetKind::IpPort => KIND_IP_PORT,
        }
    }

    /// The revision `ipset list` reports for it (ipset 7.17's kernel).
    pub fn revision(self) -> u32 {
        match self {
            SetKind::Ip => 6,
            SetKind::Net => 7,
            SetKind::IpPort => 7,
        }
    }
}

/// A set as `fw set create` made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SetDef {
    /// Its type.
    pub kind: SetKind,
    /// `hashsize`, rounded up to a power of two as ipset does (1024 when
    /// not given); fw's maps do not depend on it.
    pub hashsize: u32,
    /// `maxelem`: members at most (65536 when not given).
    pub maxelem: u32,
}

impl SetDef {
    /// The set `kind` with ipset's defaults.
    pub fn new(kind: SetKind) -> SetDef {
        SetDef {
            kind,
            hashsize: 1024,
            maxelem: 65536,
        }
    }
}

/// One member of a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Member {
    /// A `hash:ip` address (`len` 32) or a `hash:net` prefix, its host
    /// bits zero.
    Net {
        /// The address.
        addr: Ipv4Addr,
        /// The prefix length, 1..=32.
        len: u8,
    },
    /// A `hash:ip,port` member.
    Port {
        /// The address.
        addr: Ipv4Addr,
        /// 6 (tcp) or 17 (udp).
        proto: u8,
        /// The port.
        port: u16,
    },
}

impl std::fmt::Display for Member {
    /// As `ipset list` prints it: `192.0.2.1`, `192.0.2.0/24`,
    /// `192.0.2.1,tcp:80`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Member::Net { addr, len: 32 } => write!(f, "{addr}"),
            Member::Net { addr, len } => write!(f, "{addr}/{len}"),
            Member::Port { addr, proto, port } => {
                let p = if proto == 6 { "tcp" } else { "udp" };
                write!(f, "{addr},{p}:{port}")
            }
        }
    }
}
