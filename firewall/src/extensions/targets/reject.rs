//! `-j REJECT` (libipt_REJECT, `ipt_REJECT`): drop and answer with an ICMP
//! error or a TCP reset.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{TargetExt, TargetSupport};
use crate::{
    extensions::matches::Given,
    model::Target,
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

/// The REJECT target.
pub(crate) struct Ext;

impl TargetExt for Ext {
    type Value = RejectWith;
    type Parser = RejectWith;
    const NAME: &'static str = "REJECT";
    const OPTIONS: &'static [OptSpec] = &[opt("reject-with", 0, Required, false)];

    fn option(p: &mut RejectWith, o: Given<'_>) -> Result<(), ParseError> {
        *p = reject_with(&o.arg)?;
        Ok(())
    }

    fn finish(p: &RejectWith) -> Target {
        Target::Reject(*p)
    }

    fn save(w: &RejectWith, s: &mut String) {
        let _ = write!(s, " --reject-with {}", w.name());
    }

    fn list(w: &RejectWith, out: &mut String, _numeric: bool) {
        let _ = write!(out, " reject-with {}", w.name());
    }

    fn support(_: &RejectWith) -> TargetSupport {
        TargetSupport::Kernel("reject::xdp, reject::tc")
    }
}

/// libipt_REJECT: the first type whose name or alias `arg` abbreviates
/// (any case), in the table's order.
fn reject_with(arg: &str) -> Result<RejectWith, ParseError> {
    let abbreviates =
        |name: &str| arg.len() <= name.len() && name[..arg.len()].eq_ignore_ascii_case(arg);
    RejectWith::TABLE
        .iter()
        .find(|(_, name, alias)| abbreviates(name) || abbreviates(alias))
        .map(|(w, _, _)| *w)
        .ok_or_else(|| ParseError::UnknownRejectType(arg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_types_abbreviate_in_table_order() {
        assert_eq!(reject_with("tcp-reset"), Ok(RejectWith::TcpReset));
        assert_eq!(reject_with("tcp-rst"), Ok(RejectWith::TcpReset));
        assert_eq!(
            reject_with("ICMP-HOST-PROHIB"),
            Ok(RejectWith::HostProhibited)
        );
        assert_eq!(reject_with("icmp"), Ok(RejectWith::NetUnreachable));
        assert_eq!(reject_with(""), Ok(RejectWith::NetUnreachable));
        assert_eq!(reject_with("admin"), Ok(RejectWith::AdminProhibited));
        assert_eq!(
            reject_with("icmp6-adm-prohibited"),
            Err(ParseError::UnknownRejectType("icmp6-adm-prohibited".into()))
        );
    }
}
