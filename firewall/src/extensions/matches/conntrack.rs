//! `-m conntrack` (libxt_conntrack, `xt_conntrack`): `--ctstate`,
//! `--ctproto`, the tuple options and `--ctdir`; `--ctstatus` and
//! `--ctexpire` are known and refused as not supported yet.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use serde::{Deserialize, Serialize};

use super::{Given, Line, needs, ListCx, MatchExt, abbreviates, bang};
use crate::{
    compile::classes::Constraint,
    extensions::{Columns, Enforcement},
    model::{Family, Neg, PortRange},
    parse::{
        ParseError,
        protocols::parse_protocol,
        services::Services,
        values,
        lexer::HasArg::Required,
        matches::{OptSpec, later, opt},
    },
};

/// `-m conntrack`'s options (revision 3, `xt_conntrack_mtinfo3`); at least
/// one is given. `--ctstatus` and `--ctexpire` are not parsed yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conntrack {
    /// `[!] --ctstate`.
    pub state: Option<Neg<CtStates>>,
    /// `[!] --ctproto`: the layer 4 protocol number (`l4proto`; `all` is 0).
    pub proto: Option<Neg<u8>>,
    /// `[!] --ctorigsrc`, `--ctorigdst`, `--ctreplsrc`, `--ctrepldst`, in
    /// that order: the conntrack tuples' addresses.
    pub addrs: [Option<Neg<CtAddr>>; 4],
    /// `[!] --ctorigsrcport`, `--ctorigdstport`, `--ctreplsrcport`,
    /// `--ctrepldstport`, in that order: host-order ranges, `lo` may exceed
    /// `hi` (stored as given; matches nothing).
    pub ports: [Option<Neg<PortRange>>; 4],
    /// `--ctdir` (never inverted).
    pub dir: Option<CtDir>,
}

/// An address and prefix of `--ctorig*`/`--ctrepl*` (`XTTYPE_HOSTMASK`):
/// the address is kept as given, not masked (libxt_conntrack prints it so).
/// IPv4 in iptables, IPv6 in ip6tables (serialized as the address's
/// string either way, as the IPv4-only field was).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CtAddr {
    /// The address as written.
    pub addr: IpAddr,
    /// Prefix length, 0..=32 (0..=128 for IPv6).
    pub prefix: u8,
}

impl CtAddr {
    /// The IPv4 address, `None` for IPv6.
    pub fn v4(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }

    /// The host prefix of its family (32, 128), which prints without `/N`.
    pub fn host_len(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// The address as iptables prints it (`inet_ntop`).
    pub fn addr_text(&self) -> String {
        match &self.addr {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => crate::model::ntop6(a),
        }
    }
}

/// `--ctdir`: which direction of its connection the packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CtDir {
    /// `ORIGINAL`: the direction of the connection's first packet.
    Original,
    /// `REPLY`: the other one.
    Reply,
}

/// The tuple options' names in `Conntrack::addrs`' order.
const ADDR_NAMES: [&str; 4] = ["ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"];
/// The tuple options' names in `Conntrack::ports`' order.
const PORT_NAMES: [&str; 4] = ["ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport"];

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

/// The conntrack module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    type Value = Conntrack;
    type Parser = Conntrack;
    const NAME: &'static str = "conntrack";
    const OPTIONS: &'static [OptSpec] = &[
        opt("ctstate", 0, Required, true),
        opt("ctproto", 1, Required, true),
        opt("ctorigsrc", 2, Required, true),
        opt("ctorigdst", 3, Required, true),
        opt("ctreplsrc", 4, Required, true),
        opt("ctrepldst", 5, Required, true),
        later("ctstatus", 6, Required),
        later("ctexpire", 7, Required),
        opt("ctorigsrcport", 8, Required, true),
        opt("ctorigdstport", 9, Required, true),
        opt("ctreplsrcport", 10, Required, true),
        opt("ctrepldstport", 11, Required, true),
        opt("ctdir", 12, Required, false),
    ];

    fn option(p: &mut Conntrack, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        match o.spec.id {
            0 => p.state = o.neg(states(&o.arg, true)?),
            1 => p.proto = o.neg(parse_protocol(&o.arg)?),
            2..=5 => {
                p.addrs[usize::from(o.spec.id - 2)] = o.neg(ct_addr(&o.arg, o.name, line.ctx.family)?)
            }
            8..=11 => {
                p.ports[usize::from(o.spec.id - 8)] = o.neg(port_range(&o.arg, line.ctx.services)?)
            }
            12 => {
                p.dir = Some(if o.arg.eq_ignore_ascii_case("ORIGINAL") {
                    CtDir::Original
                } else if o.arg.eq_ignore_ascii_case("REPLY") {
                    CtDir::Reply
                } else {
                    return Err(ParseError::BadCtDir(o.arg.clone()));
                })
            }
            // 6, 7: `later`, refused before they get here.
            _ => return Err(ParseError::unsupported(format!("--{} (-m conntrack)", o.name), o.written)),
        }
        Ok(())
    }

    fn fcheck(_: &Conntrack, given: u32) -> Result<(), ParseError> {
        needs(given == 0, Self::NAME, "conntrack: At least one option is required")
    }

    fn finish(p: &Conntrack) -> Result<Conntrack, ParseError> {
        Ok(p.clone())
    }

    /// libxt_conntrack's `conntrack_dump` (revision 3, prefix `--`).
    fn save(v: &Conntrack, s: &mut String) {
        dump(v, s, "--", true);
    }

    /// libxt_conntrack's `conntrack_dump` (revision 3, prefix ``).
    fn list(v: &Conntrack, out: &mut String, cx: &ListCx<'_>) {
        dump(v, out, "", cx.numeric);
    }

    /// `--ctstate` is a column of the classifier
    /// ([`firewall_common::Field::CtState`]: xt_conntrack's
    /// `conntrack_mt_v3` with `XT_CONNTRACK_STATE`); the tuple options,
    /// `--ctproto` and `--ctdir` are a rule check of fw's connection
    /// ([`firewall_common::check::KIND_CONNTRACK`], its data
    /// [`Conntrack::data`]). Port options need the connection to be TCP or
    /// UDP: the rule's `-p` or this `--ctproto` says so
    /// (`Columns::of_rule`).
    fn support(v: &Conntrack) -> Enforcement {
        let check = v.check();
        match (&v.state, check) {
            (Some(st), None) => state_support(st),
            (Some(st), Some(c)) => match state_support(st) {
                Enforcement::Classifier(cols) => Enforcement::ClassifierCheck(cols, c),
                other => other,
            },
            (None, Some(c)) => Enforcement::RuleCheck(c),
            // The parser's `fcheck` wants one option at least.
            (None, None) => Enforcement::Refused("-m conntrack without an option"),
        }
    }

    /// The tuple's addresses and ports ([`Conntrack::data`]).
    fn check_data(v: &Conntrack) -> Vec<firewall_common::check::Check> {
        v.data().to_vec()
    }
}

impl Conntrack {
    /// The [`firewall_common::check::KIND_CONNTRACK`] check of the tuple
    /// options, `--ctproto` and `--ctdir`; `None` when only `--ctstate`
    /// is given. Its `a` (where the data goes) is the compiler's.
    pub fn check(&self) -> Option<firewall_common::check::Check> {
        use firewall_common::check::{Check, KIND_CONNTRACK, conntrack::*};
        let mut flags = 0;
        for (i, a) in self.addrs.iter().enumerate() {
            if let Some(a) = a {
                flags |= F_ADDR << i;
                if a.invert {
                    flags |= F_ADDR_NOT << i;
                }
            }
        }
        for (i, p) in self.ports.iter().enumerate() {
            if let Some(p) = p {
                flags |= F_PORT << i;
                if p.invert {
                    flags |= F_PORT_NOT << i;
                }
            }
        }
        if let Some(p) = &self.proto {
            flags |= if p.invert { F_PROTO | F_PROTO_NOT } else { F_PROTO };
        }
        match self.dir {
            Some(CtDir::Original) => flags |= F_DIR,
            Some(CtDir::Reply) => flags |= F_DIR | F_DIR_REPLY,
            None => {}
        }
        if flags == 0 {
            return None;
        }
        if self.state.is_some() {
            flags |= F_STATE;
        }
        Some(Check {
            kind: KIND_CONNTRACK,
            arg: flags,
            a: 0,
            b: self.proto.as_ref().map_or(0, |p| u64::from(p.value)),
            state: 0,
        })
    }

    /// The `KIND_DATA` entries of [`Conntrack::check`]
    /// ([`firewall_common::check::conntrack::data`]): each address with
    /// its prefix length, and each port range.
    pub fn data(&self) -> [firewall_common::check::Check; firewall_common::check::conntrack::DATA] {
        use firewall_common::check::conntrack::{addr_entry, data};
        let addrs = self.addrs.each_ref().map(|a| match a {
            Some(n) => {
                let mut addr = [0u8; 16];
                match n.value.addr {
                    IpAddr::V4(v) => addr[..4].copy_from_slice(&v.octets()),
                    IpAddr::V6(v) => addr = v.octets(),
                }
                addr_entry(addr, n.value.prefix)
            }
            None => addr_entry([0; 16], 0),
        });
        let ports = self.ports.each_ref().map(|p| p.as_ref().map_or((0, 0), |n| (n.value.lo, n.value.hi)));
        data(addrs, ports)
    }

    /// Whether a port option is given (the connection must be TCP or UDP).
    pub fn has_ports(&self) -> bool {
        self.ports.iter().any(Option::is_some)
    }

    /// Whether `--ctproto` names TCP or UDP, without `!`.
    pub fn proto_is_tcp_or_udp(&self) -> bool {
        self.proto.as_ref().is_some_and(|p| !p.invert && matches!(p.value, 6 | 17))
    }
}

/// libxt_conntrack's `conntrack_dump` for IPv4, revision 3: state, proto,
/// addresses, ports, direction, each ` [!] PREFIXname value`. Ports and
/// protocols are always numbers; an address is `anywhere` for
/// `0.0.0.0/0` unless `numeric`, and `/N` is left out for 32.
fn dump(v: &Conntrack, out: &mut String, prefix: &str, numeric: bool) {
    if let Some(st) = &v.state {
        let _ = write!(out, "{} {prefix}ctstate {}", bang(st.invert), state_names(st.value));
    }
    if let Some(p) = &v.proto {
        let _ = write!(out, "{} {prefix}ctproto {}", bang(p.invert), p.value);
    }
    for (a, name) in v.addrs.iter().zip(ADDR_NAMES) {
        if let Some(a) = a {
            let (text, len) = (a.value.addr_text(), a.value.prefix);
            let _ = write!(out, "{} {prefix}{name} ", bang(a.invert));
            let _ = match len {
                0 if !numeric && a.value.addr.is_unspecified() => write!(out, "anywhere"),
                n if n == a.value.host_len() => write!(out, "{text}"),
                n => write!(out, "{text}/{n}"),
            };
        }
    }
    for (p, name) in v.ports.iter().zip(PORT_NAMES) {
        if let Some(p) = p {
            let PortRange { lo, hi } = p.value;
            let _ = write!(out, "{} {prefix}{name} {lo}", bang(p.invert));
            if lo != hi {
                let _ = write!(out, ":{hi}");
            }
        }
    }
    if let Some(d) = v.dir {
        let name = match d {
            CtDir::Original => "ORIGINAL",
            CtDir::Reply => "REPLY",
        };
        let _ = write!(out, " {prefix}ctdir {name}");
    }
}

/// `XTTYPE_HOSTMASK` for IPv4: a numeric address, `/N` (0..=32) or a
/// dotted contiguous mask. Masks iptables reads in other ways (`/33`, a
/// non-contiguous mask) and host names are refused as not supported.
///
/// In IPv6 (ip6tables' `XTTYPE_HOSTMASK`): a numeric IPv6 address and
/// `/N` (0..=128); an IPv4 one is getaddrinfo's "Address family for
/// hostname not supported", as in ip6tables.
fn ct_addr(arg: &str, option: &'static str, family: Family) -> Result<CtAddr, ParseError> {
    host_mask_in(arg, "conntrack", option, family)
}

/// [`ct_addr`] for option `option` of `-m module`.
pub(crate) fn host_mask_in(
    arg: &str,
    module: &'static str,
    option: &'static str,
    family: Family,
) -> Result<CtAddr, ParseError> {
    match family {
        Family::V4 => host_mask(arg, module),
        Family::V6 => host_mask6(arg, module, option),
    }
}

/// [`ct_addr`] for IPv6.
fn host_mask6(arg: &str, module: &'static str, option: &'static str) -> Result<CtAddr, ParseError> {
    let (host, mask) = match arg.split_once('/') {
        Some((h, m)) => (h, Some(m)),
        None => (arg, None),
    };
    let addr: Ipv6Addr = match host.parse() {
        Ok(a) => a,
        Err(_) if values::inet_aton(host).is_some() => return Err(ParseError::AddressFamily),
        Err(_) => {
            return Err(ParseError::unsupported(
                format!("host `{host}' (-m {module}: give a numeric IPv6 address)"),
                host,
            ));
        }
    };
    let prefix = match mask {
        None => 128,
        Some(m) => match values::strtoui(m, 0, 128) {
            Some(n) => n as u8,
            None if m.contains(':') => {
                return Err(ParseError::unsupported(
                    format!("mask `{arg}' (-m {module})"),
                    arg,
                ));
            }
            None => {
                return Err(ParseError::BadCidr {
                    module,
                    option,
                    value: arg.to_string(),
                    max: 128,
                });
            }
        },
    };
    Ok(CtAddr {
        addr: IpAddr::V6(addr),
        prefix,
    })
}

/// [`ct_addr`] for the options of `-m module`, in IPv4.
pub(crate) fn host_mask(arg: &str, module: &str) -> Result<CtAddr, ParseError> {
    let (host, mask) = match arg.split_once('/') {
        Some((h, m)) => (h, Some(m)),
        None => (arg, None),
    };
    let addr = values::host_address(host)?;
    let odd = || ParseError::unsupported(format!("mask `{arg}' (-m {module})"), arg);
    let prefix = match mask {
        None => 32,
        Some(m) => match values::strtoui(m, 0, 32) {
            Some(n) => n as u8,
            None => {
                let m = u32::from(values::ipv4(m).ok_or_else(odd)?);
                if m.leading_ones() + m.trailing_zeros() != 32 {
                    return Err(odd());
                }
                m.leading_ones() as u8
            }
        },
    };
    Ok(CtAddr {
        addr: IpAddr::V4(addr),
        prefix,
    })
}

/// `XTTYPE_PORTRC`: `PORT`, `A:B`, `A:` (to 65535) or `:B` (from 0), each a number or a
/// service name (looked up as tcp: /etc/services lists tcp first).
fn port_range(arg: &str, services: &Services) -> Result<PortRange, ParseError> {
    let port = |s: &str| values::parse_port(s, "tcp", services);
    Ok(match arg.split_once(':') {
        None => {
            let p = port(arg)?;
            PortRange { lo: p, hi: p }
        }
        Some((lo, "")) => PortRange {
            lo: port(lo)?,
            hi: u16::MAX,
        },
        Some(("", hi)) => PortRange {
            lo: 0,
            hi: port(hi)?,
        },
        Some((lo, hi)) => PortRange {
            lo: port(lo)?,
            hi: port(hi)?,
        },
    })
}

/// The classifier column of `[!] --ctstate`/`[!] --state S`: the packet's
/// state is one bit, and the rule accepts the bits of `S` (or the others).
/// UNTRACKED, SNAT and DNAT are values no packet has: fw has no NOTRACK
/// and no NAT.
pub(crate) fn state_support(st: &Neg<CtStates>) -> Enforcement {
    let bits: Vec<u32> = CtStates::NAMES
        .iter()
        .map(|&(_, b)| b)
        .filter(|b| st.value.0 & b != 0)
        .map(u32::from)
        .collect();
    let ctstate = if st.invert {
        Constraint::Not(bits)
    } else {
        Constraint::Is(bits)
    };
    Enforcement::Classifier(Columns {
        ctstate: Some(ctstate),
        ..Columns::default()
    })
}

/// Connection states joined by commas in libxt_conntrack's order.
pub(crate) fn state_names(s: CtStates) -> String {
    CtStates::NAMES
        .iter()
        .filter(|(_, b)| s.0 & b != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// Conntrack's (`conntrack`) or the state match's states: comma-separated
/// abbreviations of the names, any case. The error holds the list from the
/// bad state on, as iptables prints it.
pub(crate) fn states(arg: &str, conntrack: bool) -> Result<CtStates, ParseError> {
    let names: &[(&str, u16)] = &[
        ("INVALID", CtStates::INVALID),
        ("NEW", CtStates::NEW),
        ("ESTABLISHED", CtStates::ESTABLISHED),
        ("RELATED", CtStates::RELATED),
        ("UNTRACKED", CtStates::UNTRACKED),
        ("SNAT", CtStates::SNAT),
        ("DNAT", CtStates::DNAT),
    ];
    let names = if conntrack { names } else { &names[..5] };
    let bad = |rest: &str| {
        if conntrack {
            ParseError::BadCtState(rest.to_string())
        } else {
            ParseError::BadState(rest.to_string())
        }
    };
    let one = |s: &str| {
        names
            .iter()
            .find(|(n, _)| abbreviates(s, n))
            .map(|(_, b)| *b)
    };
    let mut bits = 0;
    let mut rest = arg;
    while let Some((item, after)) = rest.split_once(',') {
        bits |= one(item)
            .filter(|_| !item.is_empty())
            .ok_or_else(|| bad(rest))?;
        rest = after;
    }
    if rest.is_empty() && !conntrack {
        return Err(ParseError::StateListEmpty);
    }
    bits |= one(rest)
        .filter(|_| !rest.is_empty())
        .ok_or_else(|| bad(rest))?;
    Ok(CtStates(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_lists() {
        assert_eq!(
            states("RELATED,ESTABLISHED", true),
            Ok(CtStates(CtStates::RELATED | CtStates::ESTABLISHED))
        );
        assert_eq!(
            states("e,i", true),
            Ok(CtStates(CtStates::ESTABLISHED | CtStates::INVALID))
        );
        assert_eq!(
            states("FOO,NEW", true),
            Err(ParseError::BadCtState("FOO,NEW".into()))
        );
        assert_eq!(states("NEW,", true), Err(ParseError::BadCtState("".into())));
        assert_eq!(states("NEW,", false), Err(ParseError::StateListEmpty));
        assert_eq!(
            states("SNAT", false),
            Err(ParseError::BadState("SNAT".into()))
        );
        assert_eq!(
            states("NEWS", true),
            Err(ParseError::BadCtState("NEWS".into()))
        );
    }
}
