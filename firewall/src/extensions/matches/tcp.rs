//! `-m tcp` (libxt_tcp, xt_tcpudp): ports, flags, one TCP option.

use super::{excl, list_ports, port_columns, prelude::*, save_ports};
use crate::{
    compile::classes::Constraint,
    model::PortRange,
    parse::{matches::port_value, values},
};

/// `-m tcp`'s options; those given as their match-everything value are
/// stored as absent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tcp {
    /// `[!] --sport`.
    pub sport: Option<Neg<PortRange>>,
    /// `[!] --dport`.
    pub dport: Option<Neg<PortRange>>,
    /// `[!] --tcp-flags MASK COMP` or `[!] --syn`.
    #[serde(default)]
    pub flags: Option<Neg<TcpFlags>>,
    /// `[!] --tcp-option N`: the TCP option kind.
    #[serde(default)]
    pub option: Option<Neg<u8>>,
}

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

// Option ids; tcp's and udp's ports share them.
pub(crate) const SPORT: u8 = 0;
pub(crate) const DPORT: u8 = 1;
const SYN: u8 = 2;
const TCP_FLAGS: u8 = 3;
const TCP_OPTION: u8 = 4;

/// libxt_tcp's parser state. `Some(None)` once given with its
/// match-everything value (stored like no option, as iptables does, but
/// still counted for "Only one").
#[derive(Clone, Debug, Default)]
pub(crate) struct Parser {
    sport: Option<Option<Neg<PortRange>>>,
    dport: Option<Option<Neg<PortRange>>>,
    flags: Option<Option<Neg<TcpFlags>>>,
    option: Option<Neg<u8>>,
}

/// The tcp module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("tcp", Tcp, parser Parser);
    const OPTIONS: &'static [OptSpec] = &[
        opt("source-port", SPORT, Required, true),
        opt("sport", SPORT, Required, true),
        opt("destination-port", DPORT, Required, true),
        opt("dport", DPORT, Required, true),
        opt("syn", SYN, No, true),
        opt("tcp-flags", TCP_FLAGS, Required, true),
        opt("tcp-option", TCP_OPTION, Required, true),
    ];
    const PROTOCOL: Option<u8> = Some(6);
    const XTOPTIONS: bool = false;

    /// libxt_tcp's own parser.
    fn option(p: &mut Parser, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let (arg, invert) = (o.arg.as_str(), o.invert);
        match o.spec.id {
            SPORT | DPORT => {
                let (slot, option) = if o.spec.id == SPORT {
                    (&mut p.sport, "source-port")
                } else {
                    (&mut p.dport, "destination-port")
                };
                if slot.is_some() {
                    return Err(ParseError::DuplicatePortOption {
                        option,
                        written: o.written.to_string(),
                    });
                }
                let value = values::tcp_port_range(arg, line.ctx.services)?;
                *slot = Some(port_value(value, invert));
            }
            SYN | TCP_FLAGS => {
                if p.flags.is_some() {
                    return Err(ParseError::SynAndTcpFlags(o.written.to_string()));
                }
                let value = if o.spec.id == SYN {
                    TcpFlags::SYN_ONLY
                } else {
                    let comp = line.sc.next_plain().ok_or(ParseError::TcpFlagsNeedTwoArgs)?;
                    TcpFlags {
                        mask: tcp_flags(arg)?,
                        comp: tcp_flags(comp)?,
                    }
                };
                // No flag examined: stored like no option (libxt_tcp prints
                // nothing for it). fw keeps a COMP without MASK, which matches
                // nothing, so that it prints back.
                let any = value.mask == 0 && value.comp == 0 && !invert;
                p.flags = Some((!any).then_some(Neg { value, invert }));
            }
            TCP_OPTION => {
                if p.option.is_some() {
                    return Err(ParseError::DuplicatePortOption {
                        option: "tcp-option",
                        written: o.written.to_string(),
                    });
                }
                let value = values::strtoui(arg, 1, 255)
                    .ok_or_else(|| ParseError::BadTcpOption(arg.to_string()))?
                    as u8;
                p.option = Some(Neg { value, invert });
            }
            id => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        }
        Ok(())
    }

    fn finish(p: &Parser) -> Result<Tcp, ParseError> {
        Ok(Tcp {
            sport: p.sport.clone().flatten(),
            dport: p.dport.clone().flatten(),
            flags: p.flags.clone().flatten(),
            option: p.option.clone(),
        })
    }

    fn save(v: &Tcp, s: &mut String) {
        save_ports(s, "sport", &v.sport);
        save_ports(s, "dport", &v.dport);
        if let Some(o) = &v.option {
            let _ = write!(s, "{} --tcp-option {}", bang(o.invert), o.value);
        }
        if let Some(f) = &v.flags
            && flags_printed(f)
        {
            let _ = write!(
                s,
                "{} --tcp-flags {} {}",
                bang(f.invert),
                tcp_flag_names(f.value.mask),
                tcp_flag_names(f.value.comp)
            );
        }
    }

    fn list(v: &Tcp, out: &mut String, cx: &ListCx<'_>) {
        out.push_str(" tcp");
        list_ports(out, "spt", &v.sport, "tcp", cx);
        list_ports(out, "dpt", &v.dport, "tcp", cx);
        if let Some(o) = &v.option {
            let _ = write!(out, " option={}{}", excl(o.invert), o.value);
        }
        if let Some(f) = &v.flags
            && flags_printed(f)
        {
            let inv = excl(f.invert);
            let _ = if cx.numeric {
                write!(
                    out,
                    " flags:{inv}0x{:02X}/0x{:02X}",
                    f.value.mask, f.value.comp
                )
            } else {
                write!(
                    out,
                    " flags:{inv}{}/{}",
                    tcp_flag_names(f.value.mask),
                    tcp_flag_names(f.value.comp)
                )
            };
        }
    }

    /// The port columns and, with `--tcp-flags`/`--syn`, the flags column:
    /// the flag bytes `b` with `(b & mask == comp) != invert` (xt_tcpudp).
    /// A packet without a TCP header has no flag byte, so it is in neither
    /// set.
    fn support(v: &Tcp) -> Enforcement {
        let mut cols = port_columns(&v.sport, &v.dport);
        cols.tcp_flags = v.flags.as_ref().map(|f| {
            Constraint::Is(
                (0..=u32::from(TcpFlags::ALL))
                    .filter(|&b| (b as u8 & f.value.mask == f.value.comp) != f.invert)
                    .collect(),
            )
        });
        // --tcp-option: a check after the columns (KIND_TCP_OPTION).
        match &v.option {
            None => Enforcement::Classifier(cols),
            Some(o) => Enforcement::ClassifierCheck(
                cols,
                firewall_common::check::Check {
                    kind: firewall_common::check::KIND_TCP_OPTION,
                    a: u64::from(o.value),
                    b: u64::from(o.invert),
                    ..Default::default()
                },
            ),
        }
    }
}

/// libxt_tcp's flag list: names (any case) separated by commas, empty
/// names skipped; `ALL` is every flag, `NONE` none.
fn tcp_flags(list: &str) -> Result<u8, ParseError> {
    let mut bits = 0;
    for name in list.split(',').filter(|n| !n.is_empty()) {
        bits |= match name.to_ascii_uppercase().as_str() {
            "ALL" => TcpFlags::ALL,
            "NONE" => 0,
            upper => TcpFlags::NAMES
                .iter()
                .find(|(n, _)| *n == upper)
                .map(|(_, b)| *b)
                .ok_or_else(|| ParseError::UnknownTcpFlag(name.to_string()))?,
        };
    }
    Ok(bits)
}

/// libxt_tcp's `print_tcpf`: flag names joined by commas, `NONE` for none.
fn tcp_flag_names(bits: u8) -> String {
    let names: Vec<&str> = TcpFlags::NAMES
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "NONE".into()
    } else {
        names.join(",")
    }
}

/// Whether a tcp flags test is printed (libxt_tcp prints it when the mask
/// is not empty or it is inverted; fw also when COMP is not empty).
fn flags_printed(f: &Neg<TcpFlags>) -> bool {
    f.value.mask != 0 || f.value.comp != 0 || f.invert
}
