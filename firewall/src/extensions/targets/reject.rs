//! `-j REJECT` (libipt_REJECT, `ipt_REJECT`; libip6t_REJECT, `ip6t_REJECT`
//! in ip6tables): drop and answer with an ICMP or ICMPv6 error or a TCP
//! reset.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{TargetExt, TargetSupport};
use crate::{
    extensions::matches::Given,
    model::{Family, Target},
    parse::{
        ParseError,
        lexer::HasArg::Required,
        matches::{OptSpec, opt},
    },
};

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
    /// `icmp6-no-route` (ip6tables).
    Icmp6NoRoute,
    /// `icmp6-adm-prohibited` (ip6tables).
    Icmp6AdmProhibited,
    /// `icmp6-addr-unreachable` (ip6tables).
    Icmp6AddrUnreachable,
    /// `icmp6-port-unreachable`, ip6tables' default.
    Icmp6PortUnreachable,
    /// `icmp6-policy-fail` (ip6tables).
    Icmp6PolicyFail,
    /// `icmp6-reject-route` (ip6tables).
    Icmp6RejectRoute,
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

    /// ip6tables' types with name and alias, in libip6t_REJECT's table
    /// order (`tcp-reset` has no other alias there).
    pub const TABLE6: [(RejectWith, &'static str, &'static str); 7] = [
        (Self::Icmp6NoRoute, "icmp6-no-route", "no-route"),
        (
            Self::Icmp6AdmProhibited,
            "icmp6-adm-prohibited",
            "adm-prohibited",
        ),
        (
            Self::Icmp6AddrUnreachable,
            "icmp6-addr-unreachable",
            "addr-unreach",
        ),
        (
            Self::Icmp6PortUnreachable,
            "icmp6-port-unreachable",
            "port-unreach",
        ),
        (Self::TcpReset, "tcp-reset", "tcp-reset"),
        (Self::Icmp6PolicyFail, "icmp6-policy-fail", "policy-fail"),
        (Self::Icmp6RejectRoute, "icmp6-reject-route", "reject-route"),
    ];

    /// The table of `family`'s REJECT.
    pub fn table(family: Family) -> &'static [(RejectWith, &'static str, &'static str)] {
        match family {
            Family::V4 => &Self::TABLE,
            Family::V6 => &Self::TABLE6,
        }
    }

    /// The type without `--reject-with`.
    pub fn default_for(family: Family) -> Self {
        match family {
            Family::V4 => Self::PortUnreachable,
            Family::V6 => Self::Icmp6PortUnreachable,
        }
    }

    /// The name `-S` and `-L` print.
    pub fn name(self) -> &'static str {
        Self::TABLE
            .iter()
            .chain(&Self::TABLE6)
            .find(|(w, _, _)| *w == self)
            .map_or("icmp-port-unreachable", |(_, n, _)| n)
    }
}

/// The REJECT target.
pub(crate) struct Ext;

impl TargetExt for Ext {
    type Value = RejectWith;
    type Parser = Option<RejectWith>;
    const NAME: &'static str = "REJECT";
    const OPTIONS: &'static [OptSpec] = &[opt("reject-with", 0, Required, false)];

    fn option(p: &mut Option<RejectWith>, o: Given<'_>, family: Family) -> Result<(), ParseError> {
        *p = Some(reject_with(&o.arg, family)?);
        Ok(())
    }

    fn finish(p: &Option<RejectWith>, family: Family) -> Target {
        Target::Reject(p.unwrap_or(RejectWith::default_for(family)))
    }

    fn save(w: &RejectWith, s: &mut String) {
        let _ = write!(s, " --reject-with {}", w.name());
    }

    fn list(w: &RejectWith, out: &mut String, _numeric: bool) {
        let _ = write!(out, " reject-with {}", w.name());
    }

    fn support(w: &RejectWith) -> TargetSupport {
        match w {
            RejectWith::NetUnreachable
            | RejectWith::HostUnreachable
            | RejectWith::ProtoUnreachable
            | RejectWith::PortUnreachable
            | RejectWith::NetProhibited
            | RejectWith::HostProhibited
            | RejectWith::TcpReset
            | RejectWith::AdminProhibited
            | RejectWith::Icmp6NoRoute
            | RejectWith::Icmp6AdmProhibited
            | RejectWith::Icmp6AddrUnreachable
            | RejectWith::Icmp6PortUnreachable
            | RejectWith::Icmp6PolicyFail
            | RejectWith::Icmp6RejectRoute => TargetSupport::Kernel("reject::xdp, reject::tc"),
        }
    }
}

/// libipt_REJECT (libip6t_REJECT): the first type whose name or alias
/// `arg` abbreviates (any case), in the table's order.
fn reject_with(arg: &str, family: Family) -> Result<RejectWith, ParseError> {
    let abbreviates =
        |name: &str| arg.len() <= name.len() && name[..arg.len()].eq_ignore_ascii_case(arg);
    RejectWith::table(family)
        .iter()
        .find(|(_, name, alias)| abbreviates(name) || abbreviates(alias))
        .map(|(w, _, _)| *w)
        .ok_or_else(|| ParseError::UnknownRejectType(arg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip6tables_reject_types() {
        let v6 = |a: &str| reject_with(a, Family::V6);
        assert_eq!(v6("adm-prohibited"), Ok(RejectWith::Icmp6AdmProhibited));
        assert_eq!(v6("icmp6-port"), Ok(RejectWith::Icmp6PortUnreachable));
        assert_eq!(v6(""), Ok(RejectWith::Icmp6NoRoute));
        assert_eq!(v6("tcp-reset"), Ok(RejectWith::TcpReset));
        for bad in ["tcp-rst", "icmp-port-unreachable", "icmp-net-prohibited"] {
            assert_eq!(v6(bad), Err(ParseError::UnknownRejectType(bad.into())));
        }
        assert_eq!(RejectWith::Icmp6PolicyFail.name(), "icmp6-policy-fail");
        assert_eq!(
            RejectWith::default_for(Family::V6).name(),
            "icmp6-port-unreachable"
        );
    }

    #[test]
    fn reject_types_abbreviate_in_table_order() {
        assert_eq!(reject_with("tcp-reset", Family::V4), Ok(RejectWith::TcpReset));
        assert_eq!(reject_with("tcp-rst", Family::V4), Ok(RejectWith::TcpReset));
        assert_eq!(
            reject_with("ICMP-HOST-PROHIB", Family::V4),
            Ok(RejectWith::HostProhibited)
        );
        assert_eq!(reject_with("icmp", Family::V4), Ok(RejectWith::NetUnreachable));
        assert_eq!(reject_with("", Family::V4), Ok(RejectWith::NetUnreachable));
        assert_eq!(reject_with("admin", Family::V4), Ok(RejectWith::AdminProhibited));
        assert_eq!(
            reject_with("icmp6-adm-prohibited", Family::V4),
            Err(ParseError::UnknownRejectType("icmp6-adm-prohibited".into()))
        );
    }
}
