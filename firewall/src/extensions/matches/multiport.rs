//! `-m multiport` (libxt_multiport revision 1, `xt_multiport`): up to 15
//! ports or ranges.

use super::{port_name, prelude::*};
use crate::{
    compile::classes::Constraint,
    extensions::Columns,
    model::PortRange,
    parse::{matches::excl, protocols, services::Services, values},
};

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

    /// The `KIND_DATA` entries holding the list for a
    /// [`firewall_common::check::KIND_PORTS`] check: two ranges a word,
    /// the unused ones `(0, 0)` (the check reads only its `count`).
    pub fn data(&self) -> Vec<firewall_common::check::Check> {
        use firewall_common::check::{Check, KIND_DATA, RANGES_PER_DATA, port_ranges};
        let range = |i: usize| self.ports.get(i).map_or((0, 0), |p| (p.lo, p.hi));
        let word = |i: usize| port_ranges(range(i), range(i + 1));
        (0..self.ports.len().div_ceil(RANGES_PER_DATA as usize))
            .map(|d| {
                let at = d * RANGES_PER_DATA as usize;
                Check {
                    kind: KIND_DATA,
                    a: word(at),
                    b: word(at + 2),
                    state: word(at + 4),
                    ..Default::default()
                }
            })
            .collect()
    }

    /// Slots the list takes in the kernel's 15-port array.
    pub fn slots(&self) -> usize {
        self.ports
            .iter()
            .map(|p| if p.lo == p.hi { 1 } else { 2 })
            .sum()
    }
}

const ANY: u32 = 0b111;

/// The multiport module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("multiport", once Multiport);
    const OPTIONS: &'static [OptSpec] = &[
        excl(opt("source-ports", 0, Required, true), ANY),
        excl(opt("sports", 0, Required, true), ANY),
        excl(opt("destination-ports", 1, Required, true), ANY),
        excl(opt("dports", 1, Required, true), ANY),
        excl(opt("ports", 2, Required, true), ANY),
    ];

    fn option(p: &mut Option<Multiport>, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let proto = multiport_protocol(line.ctx.protocol.clone())?;
        let direction = match o.spec.id {
            0 => PortDirection::Source,
            1 => PortDirection::Destination,
            2 => PortDirection::Either,
            id => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        };
        *p = Some(Multiport {
            direction,
            ports: multiport_list(&o.arg, proto, line.ctx.services)?,
            invert: o.invert,
        });
        Ok(())
    }

    fn fcheck(_: &Option<Multiport>, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "multiport expection an option")
    }

    fn save(v: &Multiport, s: &mut String) {
        let list = v
            .ports
            .iter()
            .map(|p| {
                if p.lo == p.hi {
                    p.lo.to_string()
                } else {
                    format!("{}:{}", p.lo, p.hi)
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        let _ = write!(s, "{} --{} {list}", bang(v.invert), direction_name(v.direction));
    }

    fn list(v: &Multiport, out: &mut String, cx: &ListCx<'_>) {
        let proto = cx
            .rule
            .protocol
            .as_ref()
            .and_then(|p| protocols::display_name(p.value))
            .unwrap_or("");
        let _ = write!(out, " multiport {} ", direction_name(v.direction));
        if v.invert {
            out.push_str(" !");
        }
        let list = v
            .ports
            .iter()
            .map(|p| {
                let lo = port_name(p.lo, proto, cx.numeric, cx.services);
                if p.lo == p.hi {
                    lo
                } else {
                    format!("{lo}:{}", port_name(p.hi, proto, cx.numeric, cx.services))
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        out.push_str(&list);
    }

    /// xt_multiport (revision 1): the port of that direction in any of
    /// the ranges, XOR `!`; a packet without ports (a non-first
    /// fragment) never matches, so the other direction still asks for a
    /// port. `--ports` (source or destination) is no AND of columns: a
    /// rule check ([`firewall_common::check::KIND_PORTS`]; the compiler
    /// writes its ranges, [`Multiport::data`]).
    fn support(v: &Multiport) -> Enforcement {
        let ranges: Vec<(u16, u16)> = v.ports.iter().map(|p| (p.lo, p.hi)).collect();
        let list = if v.invert {
            Constraint::Not(ranges)
        } else {
            Constraint::Is(ranges)
        };
        let any_port = Constraint::Is(vec![(0, u16::MAX)]);
        let ports = match v.direction {
            PortDirection::Source => (list, any_port),
            PortDirection::Destination => (any_port, list),
            PortDirection::Either => {
                return Enforcement::RuleCheck(firewall_common::check::Check {
                    kind: firewall_common::check::KIND_PORTS,
                    a: 0,
                    b: v.ports.len() as u64 | u64::from(v.invert) << 32,
                    ..Default::default()
                });
            }
        };
        Enforcement::Classifier(Columns {
            ports: Some(ports),
            ..Columns::default()
        })
    }

    /// `--ports`' ranges ([`Multiport::data`]).
    fn check_data(v: &Multiport) -> Vec<firewall_common::check::Check> {
        v.data()
    }
}

/// The option's name, as `-S` and `-L` print it.
fn direction_name(d: PortDirection) -> &'static str {
    match d {
        PortDirection::Source => "sports",
        PortDirection::Destination => "dports",
        PortDirection::Either => "ports",
    }
}

/// libxt_multiport's `check_proto`: the protocol's name for service lookups.
fn multiport_protocol(p: Option<Neg<u8>>) -> Result<&'static str, ParseError> {
    match p {
        Some(Neg { invert: true, .. }) => Err(ParseError::MultiportWrongProtocol),
        None => Err(ParseError::MultiportNeedsProtocol),
        Some(Neg { value, .. }) => match value {
            6 => Ok("tcp"),
            17 => Ok("udp"),
            136 => Ok("udplite"),
            132 => Ok("sctp"),
            33 => Ok("dccp"),
            _ => Err(ParseError::MultiportWrongProtocol),
        },
    }
}

/// libxt_multiport's `parse_multi_ports_v1`: `PORT` or `LO:HI` (LO < HI),
/// comma-separated, at most 15 slots (a range takes two).
fn multiport_list(
    list: &str,
    proto: &str,
    services: &Services,
) -> Result<Vec<PortRange>, ParseError> {
    let mut out = Vec::new();
    let mut slots = 0;
    for item in list.split(',') {
        if slots >= Multiport::MAX_SLOTS {
            return Err(ParseError::TooManyPorts(list.to_string()));
        }
        match item.split_once(':') {
            Some((lo, hi)) => {
                if slots == Multiport::MAX_SLOTS - 1 {
                    return Err(ParseError::TooManyPorts(list.to_string()));
                }
                let lo = values::parse_port(lo, proto, services)?;
                let hi = values::parse_port(hi, proto, services)?;
                if lo >= hi {
                    return Err(ParseError::MultiportBadRange(item.to_string()));
                }
                out.push(PortRange { lo, hi });
                slots += 2;
            }
            None => {
                let p = values::parse_port(item, proto, services)?;
                out.push(PortRange { lo: p, hi: p });
                slots += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiport_lists() {
        let s = crate::parse::services::tests::sample();
        let r = |lo, hi| PortRange { lo, hi };
        assert_eq!(
            multiport_list("22,80:90,https", "tcp", &s),
            Ok(vec![r(22, 22), r(80, 90), r(443, 443)])
        );
        let fifteen = (1..=15)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(multiport_list(&fifteen, "tcp", &s).unwrap().len(), 15);
        assert!(matches!(
            multiport_list(&format!("{fifteen},16"), "tcp", &s),
            Err(ParseError::TooManyPorts(_))
        ));
        let fourteen_and_range = (1..=13)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(matches!(
            multiport_list(&format!("{fourteen_and_range},14,15:16"), "tcp", &s),
            Err(ParseError::TooManyPorts(_))
        ));
        assert_eq!(
            multiport_list("80:80", "tcp", &s),
            Err(ParseError::MultiportBadRange("80:80".into()))
        );
        assert_eq!(
            multiport_list("1,", "tcp", &s),
            Err(ParseError::InvalidPort("".into()))
        );
    }
}

