//! `-m udp` (libxt_udp, xt_tcpudp): ports.

use serde::{Deserialize, Serialize};

use super::{
    Given, Line, ListCx, MatchExt, list_ports, port_columns, save_ports,
    tcp::{DPORT, SPORT},
};
use crate::{
    extensions::Enforcement,
    model::{Neg, PortRange},
    parse::{
        ParseError,
        lexer::HasArg::Required,
        matches::{OptSpec, opt, port_value},
        values,
    },
};

/// `-m udp`'s options; the full range without `!` is stored as absent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Udp {
    /// `[!] --sport`.
    pub sport: Option<Neg<PortRange>>,
    /// `[!] --dport`.
    pub dport: Option<Neg<PortRange>>,
}

/// The ports given so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parser {
    sport: Option<Neg<PortRange>>,
    dport: Option<Neg<PortRange>>,
}

/// The udp module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    type Value = Udp;
    type Parser = Parser;
    const NAME: &'static str = "udp";
    const OPTIONS: &'static [OptSpec] = &[
        opt("source-port", SPORT, Required, true),
        opt("sport", SPORT, Required, true),
        opt("destination-port", DPORT, Required, true),
        opt("dport", DPORT, Required, true),
    ];
    const PROTOCOL: Option<u8> = Some(17);

    fn option(p: &mut Parser, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let slot = if o.spec.id == SPORT {
            &mut p.sport
        } else {
            &mut p.dport
        };
        let value = values::udp_port_range(&o.arg, o.name, line.ctx.services)?;
        *slot = port_value(value, o.invert);
        Ok(())
    }

    fn finish(p: &Parser) -> Result<Udp, ParseError> {
        Ok(Udp {
            sport: p.sport.clone(),
            dport: p.dport.clone(),
        })
    }

    fn save(v: &Udp, s: &mut String) {
        save_ports(s, "sport", &v.sport);
        save_ports(s, "dport", &v.dport);
    }

    fn list(v: &Udp, out: &mut String, cx: &ListCx<'_>) {
        out.push_str(" udp");
        list_ports(out, "spt", &v.sport, "udp", cx);
        list_ports(out, "dpt", &v.dport, "udp", cx);
    }

    fn support(v: &Udp) -> Enforcement {
        port_columns(&v.sport, &v.dport)
    }
}
