//! The match modules fw parses (iptables-extensions(8) "MATCH
//! EXTENSIONS"): their options, the grammar of their values, and the
//! checks iptables 1.8.9 makes when an option is given and after the whole
//! line is read, with its messages.
//!
//! Most modules use libxtables' option parser ("xtoptions"): an option
//! given twice, `!` before an option that cannot be inverted, a missing
//! mandatory option and two exclusive options are refused with the
//! generic messages of [`OptSpec`]. tcp and set keep their own older
//! parsers and wording.

use super::{
    error::ParseError,
    lexer::{HasArg, Scanner},
    protocols,
    services::Services,
    values,
};
use crate::model::{
    AddrTypes, Addrtype, CtStates, IcmpType, Ipv4Range, LengthRange, Limit, LimitIface, Match,
    Multiport, Neg, PortDirection, PortRange, SetDir, SetMatch, TcpFlags, Ttl,
};

use HasArg::{No, Required};

/// A match module fw parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Module {
    Tcp,
    Udp,
    Icmp,
    Multiport,
    Conntrack,
    State,
    Iprange,
    Mac,
    Comment,
    Limit,
    Length,
    Ttl,
    Addrtype,
    Set,
}

/// One option of a module, as libxtables' `xt_option_entry` describes it.
/// Aliases share an `id`; messages name the first entry with that id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OptSpec {
    /// The long option name, without `--`.
    pub name: &'static str,
    /// The option's id within its module (its bit in `excl`).
    pub id: u8,
    /// Whether it takes a value.
    pub has_arg: HasArg,
    /// `XTOPT_INVERT`: may follow `!`.
    pub invert: bool,
    /// `XTOPT_MAND`: must be given.
    pub mand: bool,
    /// Ids of the options it excludes (its own bit is ignored).
    pub excl: u32,
    /// A real option fw does not parse yet.
    pub unsupported: bool,
}

const fn opt(name: &'static str, id: u8, has_arg: HasArg, invert: bool) -> OptSpec {
    OptSpec {
        name,
        id,
        has_arg,
        invert,
        mand: false,
        excl: 0,
        unsupported: false,
    }
}

const fn mand(o: OptSpec) -> OptSpec {
    OptSpec { mand: true, ..o }
}

const fn excl(o: OptSpec, excl: u32) -> OptSpec {
    OptSpec { excl, ..o }
}

const fn later(name: &'static str, id: u8, has_arg: HasArg) -> OptSpec {
    OptSpec {
        unsupported: true,
        ..opt(name, id, has_arg, true)
    }
}

// Option ids, per module.
const SPORT: u8 = 0;
const DPORT: u8 = 1;
const SYN: u8 = 2;
const TCP_FLAGS: u8 = 3;
const TCP_OPTION: u8 = 4;

const TCP_OPTS: &[OptSpec] = &[
    opt("source-port", SPORT, Required, true),
    opt("sport", SPORT, Required, true),
    opt("destination-port", DPORT, Required, true),
    opt("dport", DPORT, Required, true),
    opt("syn", SYN, No, true),
    opt("tcp-flags", TCP_FLAGS, Required, true),
    opt("tcp-option", TCP_OPTION, Required, true),
];

const UDP_OPTS: &[OptSpec] = &[
    opt("source-port", SPORT, Required, true),
    opt("sport", SPORT, Required, true),
    opt("destination-port", DPORT, Required, true),
    opt("dport", DPORT, Required, true),
];

const ICMP_OPTS: &[OptSpec] = &[mand(opt("icmp-type", 0, Required, true))];

const MP_ANY: u32 = 0b111;
const MULTIPORT_OPTS: &[OptSpec] = &[
    excl(opt("source-ports", 0, Required, true), MP_ANY),
    excl(opt("sports", 0, Required, true), MP_ANY),
    excl(opt("destination-ports", 1, Required, true), MP_ANY),
    excl(opt("dports", 1, Required, true), MP_ANY),
    excl(opt("ports", 2, Required, true), MP_ANY),
];

const CONNTRACK_OPTS: &[OptSpec] = &[
    opt("ctstate", 0, Required, true),
    later("ctproto", 1, Required),
    later("ctorigsrc", 2, Required),
    later("ctorigdst", 3, Required),
    later("ctreplsrc", 4, Required),
    later("ctrepldst", 5, Required),
    later("ctstatus", 6, Required),
    later("ctexpire", 7, Required),
    later("ctorigsrcport", 8, Required),
    later("ctorigdstport", 9, Required),
    later("ctreplsrcport", 10, Required),
    later("ctrepldstport", 11, Required),
    later("ctdir", 12, Required),
];

const STATE_OPTS: &[OptSpec] = &[mand(opt("state", 0, Required, true))];

const IPRANGE_OPTS: &[OptSpec] = &[
    opt("src-range", 0, Required, true),
    opt("dst-range", 1, Required, true),
];

const MAC_OPTS: &[OptSpec] = &[mand(opt("mac-source", 0, Required, true))];

const COMMENT_OPTS: &[OptSpec] = &[mand(opt("comment", 0, Required, false))];

const LIMIT_OPTS: &[OptSpec] = &[
    opt("limit", 0, Required, false),
    opt("limit-burst", 1, Required, false),
];

const LENGTH_OPTS: &[OptSpec] = &[mand(opt("length", 0, Required, true))];

const TTL_EQ: u8 = 0;
const TTL_LT: u8 = 1;
const TTL_GT: u8 = 2;
const TTL_ANY: u32 = 0b111;
const TTL_OPTS: &[OptSpec] = &[
    excl(opt("ttl-lt", TTL_LT, Required, false), TTL_ANY),
    excl(opt("ttl-gt", TTL_GT, Required, false), TTL_ANY),
    excl(opt("ttl-eq", TTL_EQ, Required, true), TTL_ANY),
    excl(opt("ttl", TTL_EQ, Required, true), TTL_ANY),
];

const ADDRTYPE_OPTS: &[OptSpec] = &[
    opt("src-type", 0, Required, true),
    opt("dst-type", 1, Required, true),
    excl(opt("limit-iface-in", 2, No, false), 1 << 3),
    excl(opt("limit-iface-out", 3, No, false), 1 << 2),
];

const SET_OPTS: &[OptSpec] = &[
    opt("match-set", 0, Required, true),
    opt("set", 0, Required, true),
    later("return-nomatch", 1, No),
    later("update-counters", 2, No),
    later("packets-eq", 3, Required),
    later("packets-lt", 4, Required),
    later("packets-gt", 5, Required),
    later("bytes-eq", 6, Required),
    later("bytes-lt", 7, Required),
    later("bytes-gt", 8, Required),
    later("update-subcounters", 9, No),
];

impl Module {
    /// The module `-m NAME` loads (case-sensitive, as iptables).
    pub(crate) fn by_name(name: &str) -> Option<Self> {
        Some(match name {
            "tcp" => Self::Tcp,
            "udp" => Self::Udp,
            "icmp" => Self::Icmp,
            "multiport" => Self::Multiport,
            "conntrack" => Self::Conntrack,
            "state" => Self::State,
            "iprange" => Self::Iprange,
            "mac" => Self::Mac,
            "comment" => Self::Comment,
            "limit" => Self::Limit,
            "length" => Self::Length,
            "ttl" => Self::Ttl,
            "addrtype" => Self::Addrtype,
            "set" => Self::Set,
            _ => return None,
        })
    }

    /// The module's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
            Self::Multiport => "multiport",
            Self::Conntrack => "conntrack",
            Self::State => "state",
            Self::Iprange => "iprange",
            Self::Mac => "mac",
            Self::Comment => "comment",
            Self::Limit => "limit",
            Self::Length => "length",
            Self::Ttl => "ttl",
            Self::Addrtype => "addrtype",
            Self::Set => "set",
        }
    }

    /// The module's options.
    pub(crate) fn options(self) -> &'static [OptSpec] {
        match self {
            Self::Tcp => TCP_OPTS,
            Self::Udp => UDP_OPTS,
            Self::Icmp => ICMP_OPTS,
            Self::Multiport => MULTIPORT_OPTS,
            Self::Conntrack => CONNTRACK_OPTS,
            Self::State => STATE_OPTS,
            Self::Iprange => IPRANGE_OPTS,
            Self::Mac => MAC_OPTS,
            Self::Comment => COMMENT_OPTS,
            Self::Limit => LIMIT_OPTS,
            Self::Length => LENGTH_OPTS,
            Self::Ttl => TTL_OPTS,
            Self::Addrtype => ADDRTYPE_OPTS,
            Self::Set => SET_OPTS,
        }
    }

    /// The protocol the kernel requires for the match (its `.proto`).
    pub(crate) fn protocol(self) -> Option<u8> {
        match self {
            Self::Tcp => Some(6),
            Self::Udp => Some(17),
            Self::Icmp => Some(1),
            _ => None,
        }
    }

    /// Whether it has libxtables' generic option checks (tcp and set have
    /// their own).
    fn xtoptions(self) -> bool {
        !matches!(self, Self::Tcp | Self::Set)
    }
}

/// The first option of `table` with id `id` (the name messages use).
fn canonical(table: &[OptSpec], id: u8) -> &'static str {
    table.iter().find(|o| o.id == id).map_or("?", |o| o.name)
}

/// What an option handler needs from the rest of the line.
pub(crate) struct Ctx<'a> {
    /// `-p` as given so far.
    pub protocol: Option<Neg<u8>>,
    /// Service names.
    pub services: &'a Services,
}

/// One loaded match module and the options given to it so far.
#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub module: Module,
    /// Ids of the options given (`xflags`).
    given: u32,
    /// `Some(None)` once given with its match-everything value (stored like
    /// no option, as iptables does, but still counted for "Only one").
    sport: Option<Option<Neg<PortRange>>>,
    dport: Option<Option<Neg<PortRange>>>,
    flags: Option<Option<Neg<TcpFlags>>>,
    tcp_option: Option<Neg<u8>>,
    icmp: Option<Neg<IcmpType>>,
    multiport: Option<Multiport>,
    states: Option<Neg<CtStates>>,
    src_range: Option<Neg<Ipv4Range>>,
    dst_range: Option<Neg<Ipv4Range>>,
    mac: Option<Neg<[u8; 6]>>,
    comment: Option<String>,
    limit: Limit,
    length: Option<Neg<LengthRange>>,
    ttl: Option<Ttl>,
    src_type: Option<Neg<AddrTypes>>,
    dst_type: Option<Neg<AddrTypes>>,
    limit_iface: Option<LimitIface>,
    set: Option<SetMatch>,
}

impl Instance {
    pub(crate) fn new(module: Module) -> Self {
        Self {
            module,
            given: 0,
            sport: None,
            dport: None,
            flags: None,
            tcp_option: None,
            icmp: None,
            multiport: None,
            states: None,
            src_range: None,
            dst_range: None,
            mac: None,
            comment: None,
            limit: Limit {
                avg: Limit::DEFAULT_AVG,
                burst: Limit::DEFAULT_BURST,
            },
            length: None,
            ttl: None,
            src_type: None,
            dst_type: None,
            limit_iface: None,
            set: None,
        }
    }

    /// Handles option `spec` of this module, given as `written` with value
    /// `arg` (`None` for options without value), after `!` when `invert`.
    /// Options that take a second word (`--tcp-flags`, `--match-set`) read
    /// it from `sc`, as iptables reads `argv[optind]`.
    pub(crate) fn option(
        &mut self,
        spec: &OptSpec,
        written: &str,
        arg: Option<String>,
        invert: bool,
        ctx: &Ctx<'_>,
        sc: &mut Scanner<'_>,
    ) -> Result<(), ParseError> {
        let module = self.module.name();
        let table = self.module.options();
        let bit = 1u32 << spec.id;
        let name = canonical(table, spec.id);
        if self.module.xtoptions() {
            // xtables_option_parse: once, then `!`, then the value.
            if self.given & bit != 0 {
                return Err(ParseError::OptionOnce {
                    module,
                    option: name,
                    written: written.to_string(),
                });
            }
            if invert && !spec.invert {
                return Err(ParseError::CannotInvertOption {
                    module,
                    option: name,
                });
            }
        }
        if spec.unsupported {
            let bang = if invert { "! " } else { "" };
            return Err(ParseError::unsupported(
                format!("{bang}--{} (-m {module})", spec.name),
                written,
            ));
        }
        let arg = arg.unwrap_or_default();
        match self.module {
            Module::Tcp => self.tcp(spec.id, written, &arg, invert, ctx, sc)?,
            Module::Udp => {
                let slot = if spec.id == SPORT {
                    &mut self.sport
                } else {
                    &mut self.dport
                };
                let value = values::udp_port_range(&arg, name, ctx.services)?;
                *slot = Some(port_value(value, invert));
            }
            Module::Icmp => {
                self.icmp = Some(Neg {
                    value: icmp_type(&arg)?,
                    invert,
                })
            }
            Module::Multiport => {
                let proto = multiport_protocol(ctx.protocol.clone())?;
                let direction = match spec.id {
                    0 => PortDirection::Source,
                    1 => PortDirection::Destination,
                    _ => PortDirection::Either,
                };
                self.multiport = Some(Multiport {
                    direction,
                    ports: multiport_list(&arg, proto, ctx.services)?,
                    invert,
                });
            }
            Module::Conntrack => {
                self.states = Some(Neg {
                    value: states(&arg, true)?,
                    invert,
                })
            }
            Module::State => {
                self.states = Some(Neg {
                    value: states(&arg, false)?,
                    invert,
                })
            }
            Module::Iprange => {
                let value = ip_range(&arg, name)?;
                let slot = if spec.id == 0 {
                    &mut self.src_range
                } else {
                    &mut self.dst_range
                };
                *slot = Some(Neg { value, invert });
            }
            Module::Mac => {
                self.mac = Some(Neg {
                    value: mac(&arg)?,
                    invert,
                })
            }
            Module::Comment => self.comment = Some(truncate(&arg, 255)),
            Module::Limit => {
                if spec.id == 0 {
                    self.limit.avg = rate(&arg)?;
                } else {
                    self.limit.burst = uint(module, name, &arg, 0, 10000)? as u32;
                }
            }
            Module::Length => {
                let (min, max) = u16_range(module, name, &arg)?;
                self.length = Some(Neg {
                    value: LengthRange { min, max },
                    invert,
                });
            }
            Module::Ttl => {
                let v = uint(module, name, &arg, 0, 255)? as u8;
                self.ttl = Some(match (spec.id, invert) {
                    (TTL_EQ, false) => Ttl::Eq(v),
                    (TTL_EQ, true) => Ttl::Ne(v),
                    (TTL_LT, _) => Ttl::Lt(v),
                    _ => Ttl::Gt(v),
                });
            }
            Module::Addrtype => match spec.id {
                0 | 1 => {
                    let value = AddrTypes(addr_types(&arg)?);
                    let slot = if spec.id == 0 {
                        &mut self.src_type
                    } else {
                        &mut self.dst_type
                    };
                    *slot = Some(Neg { value, invert });
                }
                2 => self.limit_iface = Some(LimitIface::In),
                _ => self.limit_iface = Some(LimitIface::Out),
            },
            Module::Set => self.set_option(&arg, invert, sc)?,
        }
        self.given |= bit;
        Ok(())
    }

    /// libxt_tcp's own parser.
    fn tcp(
        &mut self,
        id: u8,
        written: &str,
        arg: &str,
        invert: bool,
        ctx: &Ctx<'_>,
        sc: &mut Scanner<'_>,
    ) -> Result<(), ParseError> {
        match id {
            SPORT | DPORT => {
                let (slot, option) = if id == SPORT {
                    (&mut self.sport, "source-port")
                } else {
                    (&mut self.dport, "destination-port")
                };
                if slot.is_some() {
                    return Err(ParseError::DuplicatePortOption {
                        option,
                        written: written.to_string(),
                    });
                }
                let value = values::tcp_port_range(arg, ctx.services)?;
                *slot = Some(port_value(value, invert));
            }
            SYN | TCP_FLAGS => {
                if self.flags.is_some() {
                    return Err(ParseError::SynAndTcpFlags(written.to_string()));
                }
                let value = if id == SYN {
                    TcpFlags::SYN_ONLY
                } else {
                    let comp = sc.next_plain().ok_or(ParseError::TcpFlagsNeedTwoArgs)?;
                    TcpFlags {
                        mask: tcp_flags(arg)?,
                        comp: tcp_flags(comp)?,
                    }
                };
                // No flag examined: stored like no option (libxt_tcp prints
                // nothing for it). fw keeps a COMP without MASK, which matches
                // nothing, so that it prints back.
                let any = value.mask == 0 && value.comp == 0 && !invert;
                self.flags = Some((!any).then_some(Neg { value, invert }));
            }
            _ => {
                if self.tcp_option.is_some() {
                    return Err(ParseError::DuplicatePortOption {
                        option: "tcp-option",
                        written: written.to_string(),
                    });
                }
                let value = values::strtoui(arg, 1, 255)
                    .ok_or_else(|| ParseError::BadTcpOption(arg.to_string()))?
                    as u8;
                self.tcp_option = Some(Neg { value, invert });
            }
        }
        Ok(())
    }

    /// libxt_set's `--match-set NAME FLAGS`.
    fn set_option(
        &mut self,
        name: &str,
        invert: bool,
        sc: &mut Scanner<'_>,
    ) -> Result<(), ParseError> {
        if self.set.is_some() {
            return Err(ParseError::SetTwice);
        }
        let dirs = sc.next_plain().ok_or(ParseError::SetNeedsTwoArgs)?;
        if name.len() > 31 {
            return Err(ParseError::SetNameTooLong(name.to_string()));
        }
        self.set = Some(SetMatch {
            name: name.to_string(),
            dirs: set_dirs(dirs)?,
            invert,
        });
        Ok(())
    }

    /// The checks after the line is read (the module's own `x6_fcheck`,
    /// then libxtables' mandatory and exclusive options), and the match.
    pub(crate) fn finish(&self) -> Result<Match, ParseError> {
        let module = self.module.name();
        let needs = |message: &'static str| ParseError::ModuleNeedsOption { module, message };
        match self.module {
            Module::Multiport if self.given == 0 => {
                return Err(needs("multiport expection an option"));
            }
            Module::Conntrack if self.given == 0 => {
                return Err(needs("conntrack: At least one option is required"));
            }
            Module::Iprange if self.given == 0 => {
                return Err(needs(
                    "iprange match: You must specify `--src-range' or `--dst-range'",
                ));
            }
            Module::Ttl if self.given == 0 => {
                return Err(needs(
                    "TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt",
                ));
            }
            Module::Addrtype if self.given & 0b11 == 0 => {
                return Err(needs("addrtype: you must specify --src-type or --dst-type"));
            }
            Module::Set if self.set.is_none() => {
                return Err(needs(
                    "You must specify `--match-set' with proper arguments",
                ));
            }
            _ => {}
        }
        if self.module.xtoptions() {
            let table = self.module.options();
            for o in table {
                let bit = 1u32 << o.id;
                if o.mand && self.given & bit == 0 {
                    return Err(ParseError::MissingOption {
                        module,
                        option: o.name,
                    });
                }
                if self.given & bit == 0 {
                    continue;
                }
                for i in 0..32u8 {
                    if i != o.id && o.excl & (1 << i) != 0 && self.given & (1 << i) != 0 {
                        return Err(ParseError::ExclusiveOptions {
                            module,
                            option: o.name,
                            other: canonical(table, i),
                        });
                    }
                }
            }
        }
        let missing = || ParseError::ModuleNeedsOption {
            module,
            message: "option missing",
        };
        Ok(match self.module {
            Module::Tcp => Match::Tcp {
                sport: self.sport.clone().flatten(),
                dport: self.dport.clone().flatten(),
                flags: self.flags.clone().flatten(),
                option: self.tcp_option.clone(),
            },
            Module::Udp => Match::Udp {
                sport: self.sport.clone().flatten(),
                dport: self.dport.clone().flatten(),
            },
            Module::Icmp => Match::Icmp(self.icmp.clone().ok_or_else(missing)?),
            Module::Multiport => Match::Multiport(self.multiport.clone().ok_or_else(missing)?),
            Module::Conntrack => Match::Conntrack {
                state: self.states.clone(),
            },
            Module::State => Match::State(self.states.clone().ok_or_else(missing)?),
            Module::Iprange => Match::Iprange {
                src: self.src_range.clone(),
                dst: self.dst_range.clone(),
            },
            Module::Mac => Match::Mac(self.mac.clone().ok_or_else(missing)?),
            Module::Comment => Match::Comment(self.comment.clone().ok_or_else(missing)?),
            Module::Limit => Match::Limit(self.limit),
            Module::Length => Match::Length(self.length.clone().ok_or_else(missing)?),
            Module::Ttl => Match::Ttl(self.ttl.ok_or_else(missing)?),
            Module::Addrtype => Match::Addrtype(Addrtype {
                src: self.src_type.clone(),
                dst: self.dst_type.clone(),
                limit_iface: self.limit_iface,
            }),
            Module::Set => Match::Set(self.set.clone().ok_or_else(missing)?),
        })
    }
}

/// A port range as stored: the full range without `!` is no option.
fn port_value(value: PortRange, invert: bool) -> Option<Neg<PortRange>> {
    let full = value
        == PortRange {
            lo: 0,
            hi: u16::MAX,
        };
    (invert || !full).then_some(Neg { value, invert })
}

/// `s` cut to at most `max` bytes (on a character boundary), as libxtables
/// cuts strings to the kernel's buffer.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// libxtables' integer options: a number (base 0) in `min..=max`.
fn uint(
    module: &'static str,
    option: &'static str,
    arg: &str,
    min: u64,
    max: u64,
) -> Result<u64, ParseError> {
    match values::xt_strtoul(arg, min, max) {
        Some((v, "")) => Ok(v),
        _ => Err(ParseError::BadOptionValue {
            module,
            option,
            value: arg.to_string(),
            min,
            max,
        }),
    }
}

/// libxtables' `MIN[:MAX]` of u16 (`XTTYPE_UINT16RC`): an empty part is 0
/// (first) or 65535 (second); one part gives MIN = MAX.
fn u16_range(
    module: &'static str,
    option: &'static str,
    arg: &str,
) -> Result<(u16, u16), ParseError> {
    let max = u64::from(u16::MAX);
    let mut vals: Vec<u16> = Vec::new();
    let mut rest = arg;
    loop {
        if vals.len() == 2 {
            return Err(ParseError::TooManyPortComponents {
                module,
                option,
                value: arg.to_string(),
            });
        }
        let (v, after) = if rest.is_empty() || rest.starts_with(':') {
            (if vals.len() == 1 { max } else { 0 }, rest)
        } else {
            let (v, after) =
                values::xt_strtoul(rest, 0, max).ok_or_else(|| ParseError::BadRangeValue {
                    module,
                    option,
                    near: rest.to_string(),
                    max,
                })?;
            if !after.is_empty() && !after.starts_with(':') {
                return Err(ParseError::RangeTrailingCharacters {
                    module,
                    option,
                    near: after.to_string(),
                });
            }
            (v, after)
        };
        vals.push(v as u16);
        match after.strip_prefix(':') {
            Some(next) => rest = next,
            None => break,
        }
    }
    Ok((vals[0], *vals.get(1).unwrap_or(&vals[0])))
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

/// The ICMP type names iptables knows (libxt_icmp.h), with type and codes,
/// in its table order (which decides ambiguities and what `-L` prints).
pub(crate) const ICMP_NAMES: &[(&str, u8, u8, u8)] = &[
    ("any", 0xFF, 0, 0xFF),
    ("echo-reply", 0, 0, 0xFF),
    ("pong", 0, 0, 0xFF),
    ("destination-unreachable", 3, 0, 0xFF),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xFF),
    ("redirect", 5, 0, 0xFF),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xFF),
    ("ping", 8, 0, 0xFF),
    ("router-advertisement", 9, 0, 0xFF),
    ("router-solicitation", 10, 0, 0xFF),
    ("time-exceeded", 11, 0, 0xFF),
    ("ttl-exceeded", 11, 0, 0xFF),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xFF),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xFF),
    ("timestamp-reply", 14, 0, 0xFF),
    ("address-mask-request", 17, 0, 0xFF),
    ("address-mask-reply", 18, 0, 0xFF),
];

/// Whether `abbrev` abbreviates `name` (`strncasecmp(name, abbrev,
/// strlen(abbrev)) == 0`).
fn abbreviates(abbrev: &str, name: &str) -> bool {
    abbrev.len() <= name.len()
        && name.is_char_boundary(abbrev.len())
        && name[..abbrev.len()].eq_ignore_ascii_case(abbrev)
}

/// `--icmp-type`: a name or an unambiguous abbreviation of one (any case),
/// else `TYPE[/CODE]` as `strtoul` reads numbers (`0x8`, `+3`, ` 3`).
fn icmp_type(arg: &str) -> Result<IcmpType, ParseError> {
    let mut found: Option<&(&str, u8, u8, u8)> = None;
    for entry in ICMP_NAMES.iter().filter(|e| abbreviates(arg, e.0)) {
        if let Some(first) = found {
            return Err(ParseError::AmbiguousIcmpType {
                given: arg.to_string(),
                first: first.0,
                second: entry.0,
            });
        }
        found = Some(entry);
    }
    if let Some((_, kind, code_min, code_max)) = found {
        return Ok(IcmpType {
            kind: *kind,
            code_min: *code_min,
            code_max: *code_max,
        });
    }
    let number = |s: &str| values::strtoumax(s, 0).filter(|(v, _, e)| !e && *v <= 255);
    let (kind, end, _) = number(arg).ok_or_else(|| ParseError::UnknownIcmpType(arg.to_string()))?;
    let rest = &arg[end..];
    let Some(code) = rest.strip_prefix('/') else {
        return match rest.chars().next() {
            None => Ok(IcmpType {
                kind: kind as u8,
                code_min: 0,
                code_max: 0xFF,
            }),
            Some(c) => Err(ParseError::IcmpUnknownCharacter(c)),
        };
    };
    let (c, end, _) = number(code).ok_or_else(|| ParseError::UnknownIcmpCode(arg.to_string()))?;
    match code[end..].chars().next() {
        None => Ok(IcmpType {
            kind: kind as u8,
            code_min: c as u8,
            code_max: c as u8,
        }),
        Some(ch) => Err(ParseError::IcmpUnknownCharacter(ch)),
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

/// Conntrack's (`conntrack`) or the state match's states: comma-separated
/// abbreviations of the names, any case. The error holds the list from the
/// bad state on, as iptables prints it.
fn states(arg: &str, conntrack: bool) -> Result<CtStates, ParseError> {
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

/// `--src-range`/`--dst-range`: `A-B` or one address `A` (= `A-A`).
fn ip_range(arg: &str, option: &'static str) -> Result<Ipv4Range, ParseError> {
    let (lo, hi) = arg.split_once('-').unwrap_or((arg, arg));
    let addr = |s: &str| {
        values::ipv4(s).ok_or_else(|| ParseError::BadIpRange {
            option,
            value: s.to_string(),
        })
    };
    Ok(Ipv4Range {
        lo: addr(lo)?,
        hi: addr(hi)?,
    })
}

/// libxtables' `XTTYPE_ETHERMAC`: six parts separated by `:`, each at most
/// two characters that `strtoul(part, 16)` reads (so `1:2:3:4:5:6` works).
fn mac(arg: &str) -> Result<[u8; 6], ParseError> {
    let bad = || ParseError::BadMac(arg.to_string());
    let mut out = [0u8; 6];
    let mut rest = arg;
    for (i, byte) in out.iter_mut().enumerate() {
        let (v, end) = match values::strtoumax(rest, 16) {
            Some((v, end, _)) => (v, end),
            None => (0, 0),
        };
        if end > 2 {
            return Err(bad());
        }
        *byte = v as u8;
        let after = &rest[end..];
        if i < 5 {
            rest = after.strip_prefix(':').ok_or_else(bad)?;
        } else if !after.is_empty() {
            return Err(bad());
        }
    }
    Ok(out)
}

/// C's `atoi`: white space, a sign, decimal digits; 0 when none.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches(values::is_c_space);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let v = digits
        .parse::<i64>()
        .unwrap_or(if digits.is_empty() { 0 } else { i64::MAX });
    if neg { -v } else { v }
}

/// libxt_limit's `parse_rate`: `N[/second|minute|hour|day]` (any
/// abbreviation, any case; N as `atoi` reads it), as the average interval
/// in 1/10000 s.
fn rate(arg: &str) -> Result<u32, ParseError> {
    let bad = || ParseError::BadRate(arg.to_string());
    let mut mult: u64 = 1;
    if let Some((_, unit)) = arg.split_once('/') {
        if unit.is_empty() {
            return Err(bad());
        }
        mult = [
            ("second", 1),
            ("minute", 60),
            ("hour", 3600),
            ("day", 86400),
        ]
        .iter()
        .find(|(n, _)| abbreviates(unit, n))
        .map(|(_, m)| *m)
        .ok_or_else(bad)?;
    }
    // The C code keeps atoi's int in a uint32_t.
    let r = atoi(arg) as i32 as u32;
    if r == 0 {
        return Err(bad());
    }
    // At most 10000 * 86400: always fits the kernel's u32.
    let avg = (u64::from(Limit::SCALE) * mult / u64::from(r)) as u32;
    if avg == 0 {
        return Err(ParseError::RateTooFast(arg.to_string()));
    }
    Ok(avg)
}

/// libxt_addrtype's type list: comma-separated abbreviations of the route
/// types, any case (an abbreviation means the first type it fits).
fn addr_types(arg: &str) -> Result<u16, ParseError> {
    let one = |s: &str| {
        (!s.is_empty())
            .then(|| AddrTypes::NAMES.iter().position(|n| abbreviates(s, n)))
            .flatten()
            .map(|i| 1u16 << i)
    };
    let mut bits = 0;
    let mut rest = arg;
    while let Some((item, after)) = rest.split_once(',') {
        bits |= one(item).ok_or_else(|| ParseError::BadAddrType {
            value: rest.to_string(),
            in_list: true,
        })?;
        rest = after;
    }
    bits |= one(rest).ok_or_else(|| ParseError::BadAddrType {
        value: rest.to_string(),
        in_list: false,
    })?;
    Ok(bits)
}

/// libxt_set's `parse_dirs`: up to 6 comma-separated flags, each starting
/// with `src` or `dst` (what follows is ignored, as in iptables).
fn set_dirs(arg: &str) -> Result<Vec<SetDir>, ParseError> {
    let items: Vec<&str> = arg.split(',').collect();
    let mut dirs = Vec::new();
    for item in items.iter().take(6) {
        dirs.push(if item.starts_with("src") {
            SetDir::Src
        } else if item.starts_with("dst") {
            SetDir::Dst
        } else {
            return Err(ParseError::BadSetFlags(arg.to_string()));
        });
    }
    if items.len() > 6 {
        return Err(ParseError::TooManySetFlags(arg.to_string()));
    }
    Ok(dirs)
}

/// The name of a protocol number for a module iptables loads implicitly
/// after `-p` (`proto_to_name`): tcp, udp, icmp.
pub(crate) fn implicit_module(protocol: u8) -> Option<Module> {
    protocols::display_name(protocol).and_then(Module::by_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoul_style_numbers() {
        assert_eq!(u16_range("length", "length", "100"), Ok((100, 100)));
        assert_eq!(u16_range("length", "length", ":200"), Ok((0, 200)));
        assert_eq!(u16_range("length", "length", "100:"), Ok((100, 65535)));
        assert_eq!(u16_range("length", "length", ""), Ok((0, 0)));
        assert_eq!(u16_range("length", "length", "0x10:020"), Ok((16, 16)));
        assert!(matches!(
            u16_range("length", "length", "1:2:3"),
            Err(ParseError::TooManyPortComponents { .. })
        ));
        assert_eq!(
            u16_range("length", "length", "5x").unwrap_err().to_string(),
            "length: Argument to \"--length\" has unexpected characters near \"x\"."
        );
        assert_eq!(
            u16_range("length", "length", "100:65536")
                .unwrap_err()
                .to_string(),
            "length: bad value for option \"--length\" near \"65536\", or out of range (0-65535)."
        );
    }

    #[test]
    fn icmp_types_like_iptables() {
        let t = |k, a, b| {
            Ok(IcmpType {
                kind: k,
                code_min: a,
                code_max: b,
            })
        };
        assert_eq!(icmp_type("echo-request"), t(8, 0, 255));
        assert_eq!(icmp_type("ECHO-REQ"), t(8, 0, 255));
        assert_eq!(icmp_type("ping"), t(8, 0, 255));
        assert_eq!(icmp_type("port-unreachable"), t(3, 3, 3));
        assert_eq!(icmp_type("8"), t(8, 0, 255));
        assert_eq!(icmp_type("0x8"), t(8, 0, 255));
        assert_eq!(icmp_type("+3"), t(3, 0, 255));
        assert_eq!(icmp_type("3/ 1"), t(3, 1, 1));
        assert_eq!(icmp_type("255"), t(255, 0, 255));
        assert_eq!(
            icmp_type("echo").unwrap_err().to_string(),
            "Ambiguous ICMP type `echo': `echo-reply' or `echo-request'?"
        );
        assert_eq!(
            icmp_type("").unwrap_err().to_string(),
            "Ambiguous ICMP type `': `any' or `echo-reply'?"
        );
        assert_eq!(
            icmp_type("foo"),
            Err(ParseError::UnknownIcmpType("foo".into()))
        );
        assert_eq!(
            icmp_type("256"),
            Err(ParseError::UnknownIcmpType("256".into()))
        );
        assert_eq!(
            icmp_type("/3"),
            Err(ParseError::UnknownIcmpType("/3".into()))
        );
        assert_eq!(
            icmp_type("3/"),
            Err(ParseError::UnknownIcmpCode("3/".into()))
        );
        assert_eq!(
            icmp_type("3/-1"),
            Err(ParseError::UnknownIcmpCode("3/-1".into()))
        );
        assert_eq!(icmp_type("3x"), Err(ParseError::IcmpUnknownCharacter('x')));
        assert_eq!(icmp_type("08"), Err(ParseError::IcmpUnknownCharacter('8')));
        assert_eq!(
            icmp_type("3/4/5"),
            Err(ParseError::IcmpUnknownCharacter('/'))
        );
    }

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

    #[test]
    fn rates_like_libxt_limit() {
        assert_eq!(rate("3/min"), Ok(200000));
        assert_eq!(rate("3/m"), Ok(200000));
        assert_eq!(rate("7"), Ok(1428));
        assert_eq!(rate("3x/minute"), Ok(200000));
        assert_eq!(rate("10000/s"), Ok(1));
        assert_eq!(
            rate("10001/s"),
            Err(ParseError::RateTooFast("10001/s".into()))
        );
        assert_eq!(rate("-1/s"), Err(ParseError::RateTooFast("-1/s".into())));
        assert_eq!(rate("0/s"), Err(ParseError::BadRate("0/s".into())));
        assert_eq!(rate("3/"), Err(ParseError::BadRate("3/".into())));
        assert_eq!(
            rate("3/secondx"),
            Err(ParseError::BadRate("3/secondx".into()))
        );
    }

    #[test]
    fn macs_like_libxtables() {
        assert_eq!(mac("02:00:00:91:04:aB"), Ok([2, 0, 0, 0x91, 4, 0xab]));
        assert_eq!(mac("2:0:0:91:4:8"), Ok([2, 0, 0, 0x91, 4, 8]));
        assert_eq!(mac(":::::"), Ok([0; 6]));
        assert_eq!(mac(" 1:0:0:0:0:0"), Ok([1, 0, 0, 0, 0, 0]));
        for bad in [
            "02:00:00:91:04",
            "1:2:3:4:5:6:7",
            "123:2:3:4:5:6",
            "0x1:0:0:0:0:0",
        ] {
            assert_eq!(mac(bad), Err(ParseError::BadMac(bad.into())), "{bad}");
        }
    }

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
