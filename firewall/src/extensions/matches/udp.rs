//! `-m udp` (libxt_udp, xt_tcpudp): ports.

use super::{
    list_ports, port_columns,
    prelude::*,
    save_ports,
    tcp::{DPORT, SPORT},
};
use crate::{
    model::PortRange,
    parse::{matches::port_value, values},
};

/// `-m udp`'s options; the full range without `!` is stored as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Udp {
    /// `[!] --sport`.
    pub sport: Option<Neg<PortRange>>,
    /// `[!] --dport`.
    pub dport: Option<Neg<PortRange>>,
}

/// The udp module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("udp", value Udp);
    const OPTIONS: &'static [OptSpec] = &[
        opt("source-port", SPORT, Required, true),
        opt("sport", SPORT, Required, true),
        opt("destination-port", DPORT, Required, true),
        opt("dport", DPORT, Required, true),
    ];
    const PROTOCOL: Option<u8> = Some(17);

    fn option(p: &mut Udp, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let value = values::udp_port_range(&o.arg, o.name, line.ctx.services)?;
        let ports = port_value(value, o.invert);
        if o.spec.id == SPORT {
            p.sport = ports;
        } else {
            p.dport = ports;
        }
        Ok(())
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
        Enforcement::Classifier(port_columns(&v.sport, &v.dport))
    }
}
