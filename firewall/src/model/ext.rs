//! The values of iptables' extension matches and targets
//! (iptables-extensions(8)), as fw's model holds them. Each is defined in
//! its extension's module ([`crate::extensions`]) and re-exported here.
//!
//! Each type keeps exactly what the kernel's `xt_*` structure keeps, in the
//! same units, so that two rules compare equal exactly when iptables would
//! find them equal (`-D`/`-C` by specification) and printing needs nothing
//! else. Bit masks use the kernel's bit values (noted on each constant).

pub use crate::extensions::{
    matches::{
        Match,
        addrtype::{AddrTypes, Addrtype, LimitIface},
        conntrack::{Conntrack, CtAddr, CtDir, CtStates},
        hashlimit::Hashlimit,
        icmp::IcmpType,
        iprange::{Iprange, Ipv4Range},
        length::LengthRange,
        limit::Limit,
        mark::Mark,
        multiport::{Multiport, PortDirection},
        owner::Owner,
        policy::{Policy, PolicyElem},
        recent::{Recent, RecentCommand, RecentSide},
        set::{SetDir, SetMatch},
        tcp::{Tcp, TcpFlags},
        tcpmss::Tcpmss,
        time::Time,
        ttl::Ttl,
        udp::Udp,
    },
    targets::{log::Log, reject::RejectWith},
};
