//! `fw set`'s named sets (ipset(8)): their types and members, as the
//! ruleset's `-m set` and the kernel's `SET_*` maps
//! (`firewall_common::check::set`) see them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A set type fw keeps (ipset's `TYPENAME`).
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

/// A set's family (ipset's `family inet|inet6`): the addresses it holds,
/// and the rules that can name it (iptables' or ip6tables').
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SetFamily {
    /// `inet`: IPv4 (the default).
    #[default]
    #[serde(rename = "inet")]
    Inet,
    /// `inet6`: IPv6.
    #[serde(rename = "inet6")]
    Inet6,
}

impl SetFamily {
    /// Its ipset name.
    pub fn name(self) -> &'static str {
        match self {
            SetFamily::Inet => "inet",
            SetFamily::Inet6 => "inet6",
        }
    }

    /// The family `name` names, as ipset's `family` option reads it.
    pub fn by_name(name: &str) -> Option<SetFamily> {
        match name {
            "inet" | "ipv4" | "-4" => Some(SetFamily::Inet),
            "inet6" | "ipv6" | "-6" => Some(SetFamily::Inet6),
            _ => None,
        }
    }

    /// The ruleset family whose rules can name a set of this family.
    pub fn rules(self) -> crate::model::Family {
        match self {
            SetFamily::Inet => crate::model::Family::V4,
            SetFamily::Inet6 => crate::model::Family::V6,
        }
    }

    /// libxt_set's word for it ("The protocol family of set X is IPv4").
    pub fn protocol(self) -> &'static str {
        match self {
            SetFamily::Inet => "IPv4",
            SetFamily::Inet6 => "IPv6",
        }
    }

    /// Address bits: 32 or 128.
    pub fn bits(self) -> u8 {
        match self {
            SetFamily::Inet => 32,
            SetFamily::Inet6 => 128,
        }
    }

    /// `firewall_common::check::set::Meta::family`.
    pub fn code(self) -> u32 {
        use firewall_common::check::set::{FAMILY_INET, FAMILY_INET6};
        match self {
            SetFamily::Inet => FAMILY_INET,
            SetFamily::Inet6 => FAMILY_INET6,
        }
    }
}

/// A set as `fw set create` made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SetDef {
    /// Its type.
    pub kind: SetKind,
    /// Its family (records of an fw before IPv6 sets have none: inet).
    #[serde(default)]
    pub family: SetFamily,
    /// `hashsize`, rounded up to a power of two as ipset does (1024 when
    /// not given); fw's maps do not depend on it.
    pub hashsize: u32,
    /// `maxelem`: members at most (65536 when not given).
    pub maxelem: u32,
}

impl SetDef {
    /// The set `kind` with ipset's defaults (family inet).
    pub fn new(kind: SetKind) -> SetDef {
        SetDef {
            kind,
            family: SetFamily::Inet,
            hashsize: 1024,
            maxelem: 65536,
        }
    }
}

/// One member of a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Member {
    /// A `hash:ip` address (`len` 32 or 128) or a `hash:net` prefix, its
    /// host bits zero.
    Net {
        /// The address, of the set's family.
        addr: IpAddr,
        /// The prefix length, 1..=32 (IPv6: 1..=128).
        len: u8,
    },
    /// A `hash:ip,port` member.
    Port {
        /// The address, of the set's family.
        addr: IpAddr,
        /// 6 (tcp) or 17 (udp).
        proto: u8,
        /// The port.
        port: u16,
    },
}

impl std::fmt::Display for Member {
    /// As `ipset list` prints it: `192.0.2.1`, `192.0.2.0/24`,
    /// `192.0.2.1,tcp:80`, `2001:db8::1`, `2001:db8::/64`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Member::Net { addr, len } if len == bits(addr) => f.write_str(&text(addr)),
            Member::Net { addr, len } => write!(f, "{}/{len}", text(addr)),
            Member::Port { addr, proto, port } => {
                let p = if proto == 6 { "tcp" } else { "udp" };
                write!(f, "{},{p}:{port}", text(addr))
            }
        }
    }
}

/// An address as ipset prints it (`inet_ntop`).
fn text(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => crate::model::ntop6(&a),
    }
}

/// The bits of `addr`'s family.
fn bits(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}
