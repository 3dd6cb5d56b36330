//! Random rulesets and packets for the tests that check the classifier
//! against the reference evaluator ([`crate::model::eval`]): the compile
//! agreement proptests here and the kernel tests in `tests/`. One pool of
//! documentation addresses (RFC 5737: 192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24), ports and interface names, so both test the same
//! rules. Built for `cfg(test)` and with the `testing` feature.

use std::net::Ipv4Addr;

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};

use crate::{
    edit::{self, Slots},
    model::{
        AddrMask, Conntrack, CtStates, IcmpType, Iprange, Ipv4Range, LengthRange, Match, Multiport,
        Neg, Policy, PortDirection, PortRange, RejectWith, Rule, Target, Tcp, TcpFlags, Ttl, Udp,
        eval::{Connection, Packet},
    },
    state::State,
};

/// Rule prefixes: documentation networks, parts of them, one host, and
/// `0.0.0.0/0`.
const PREFIXES: [(&str, u8); 7] = [
    ("192.0.2.0", 24),
    ("192.0.2.0", 25),
    ("192.0.2.128", 25),
    ("192.0.2.7", 32),
    ("198.51.100.0", 24),
    ("203.0.113.0", 24),
    ("0.0.0.0", 0),
];

/// Packet addresses: inside and outside the prefixes above.
const ADDRS: [&str; 5] = [
    "192.0.2.7",
    "192.0.2.130",
    "198.51.100.9",
    "203.0.113.1",
    "192.0.2.0",
];

/// Rule port ranges.
const RANGES: [(u16, u16); 6] = [
    (22, 22),
    (20, 30),
    (1024, 65535),
    (0, 65535),
    (53, 53),
    (80, 90),
];

/// Packet ports: on and beside the ranges' edges.
const PORTS: [u16; 8] = [22, 25, 53, 80, 1023, 1024, 65535, 0];

/// Interfaces packets arrive on.
pub const IN_INTERFACES: [&str; 4] = ["lo", "veth0", "veth1", "eth0"];

/// `Some(Neg)` of `v` three times in five, inverted half of those.
pub fn neg<T: std::fmt::Debug + Clone>(
    v: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<Neg<T>>> {
    prop_oneof![
        2 => Just(None),
        3 => (v, any::<bool>()).prop_map(|(value, invert)| Some(Neg { value, invert })),
    ]
}

/// A `-s`/`-d` prefix.
pub fn prefix() -> impl Strategy<Value = AddrMask> {
    prop::sample::select(PREFIXES.to_vec())
        .prop_map(|(a, l)| AddrMask::from_prefix(a.parse().unwrap(), l))
}

/// A `-m ttl` comparison, around [`TTLS`].
pub fn ttl() -> impl Strategy<Value = Ttl> {
    (0..4u8, prop::sample::select(vec![0u8, 1, 63, 64, 65, 255])).prop_map(|(op, v)| match op {
        0 => Ttl::Eq(v),
        1 => Ttl::Ne(v),
        2 => Ttl::Lt(v),
        _ => Ttl::Gt(v),
    })
}

/// Packet TTLs: on and beside the comparisons' values.
pub const TTLS: [u8; 6] = [0, 1, 63, 64, 65, 255];

/// A `-m conntrack [!] --ctstate` or `-m state [!] --state` match of one
/// to three of INVALID, NEW, RELATED, ESTABLISHED and UNTRACKED.
pub fn ctstate() -> impl Strategy<Value = Match> {
    ctstate_admitting(None)
}

/// [`ctstate`], with its `!` set so that it admits ESTABLISHED packets
/// (`Some(true)`) or excludes them (`Some(false)`); `None` leaves it be.
pub fn ctstate_admitting(established: Option<bool>) -> impl Strategy<Value = Match> {
    let bits = [
        CtStates::INVALID,
        CtStates::NEW,
        CtStates::RELATED,
        CtStates::ESTABLISHED,
        CtStates::UNTRACKED,
    ];
    (
        prop::sample::subsequence(bits.to_vec(), 1..=3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(bits, invert, conntrack)| {
            let value = CtStates(bits.iter().fold(0, |a, b| a | b));
            let names = value.0 & CtStates::ESTABLISHED != 0;
            let invert = match established {
                // A state match admits ESTABLISHED when it names it, or
                // when it is negated and does not.
                Some(admit) => names != admit,
                None => invert,
            };
            let state = Neg { value, invert };
            if conntrack {
                Match::Conntrack(Conntrack {
                    state: Some(state),
                    ..Conntrack::default()
                })
            } else {
                Match::State(state)
            }
        })
}

/// The connection states a packet of `proto` can have (a non-first
/// fragment, `first` false, is INVALID): TCP all but RELATED, UDP and
/// other protocols NEW or ESTABLISHED, ICMP all four.
pub fn ctstates_of(proto: u8, first: bool) -> &'static [u16] {
    match (proto, first) {
        (6 | 17 | 1, false) => &[CtStates::INVALID],
        (6, _) => &[CtStates::NEW, CtStates::ESTABLISHED, CtStates::INVALID],
        (1, _) => &[
            CtStates::NEW,
            CtStates::ESTABLISHED,
            CtStates::RELATED,
            CtStates::INVALID,
        ],
        _ => &[CtStates::NEW, CtStates::ESTABLISHED],
    }
}

/// TCP flag bytes a packet of connection state `ctstate` can carry (fw
/// tracks as with `nf_conntrack_tcp_loose=0`): NEW a SYN, ESTABLISHED an
/// ACK of a tracked connection, INVALID anything but a SYN without one.
pub fn tcp_flags_of(ctstate: u16) -> &'static [u8] {
    match ctstate {
        CtStates::NEW => &[0x02, 0x0a, 0x22, 0x2a],
        CtStates::ESTABLISHED => &[0x10, 0x18, 0x30, 0x38],
        _ => &[0x10, 0x00, 0x01, 0x04, 0x12, 0x3f, 0x03, 0x14],
    }
}

/// The ICMP type of a packet of connection state `ctstate`, as the kernel
/// tests send it: NEW and ESTABLISHED an echo request, RELATED a
/// destination unreachable quoting a tracked datagram, INVALID an echo
/// reply of no request.
pub fn icmp_type_of(ctstate: u16) -> u8 {
    match ctstate {
        CtStates::NEW | CtStates::ESTABLISHED => 8,
        CtStates::RELATED => 3,
        _ => 0,
    }
}

/// Packet ICMP codes: on and beside the rules' codes.
pub const ICMP_CODES: [u8; 4] = [0, 1, 3, 255];

/// One of `values`, inverted half the time.
fn either_way<T: std::fmt::Debug + Clone + 'static>(
    values: &[T],
) -> impl Strategy<Value = Neg<T>> + use<T> {
    (prop::sample::select(values.to_vec()), any::<bool>())
        .prop_map(|(value, invert)| Neg { value, invert })
}

/// `--icmp-type TYPE[/CODE]` of the rules: named types, one code, a code
/// range, `any` (the kernel edge test runs each of them too).
pub const ICMP_TYPES: [IcmpType; 7] = [
    IcmpType {
        kind: 8,
        code_min: 0,
        code_max: 255,
    },
    IcmpType {
        kind: 0,
        code_min: 0,
        code_max: 255,
    },
    IcmpType {
        kind: 3,
        code_min: 0,
        code_max: 255,
    },
    IcmpType {
        kind: 3,
        code_min: 3,
        code_max: 3,
    },
    IcmpType {
        kind: 3,
        code_min: 2,
        code_max: 4,
    },
    IcmpType {
        kind: 8,
        code_min: 0,
        code_max: 0,
    },
    IcmpType::ANY,
];

/// A `-m icmp [!] --icmp-type` of [`ICMP_TYPES`].
pub fn icmp_type() -> impl Strategy<Value = Neg<IcmpType>> {
    either_way(&ICMP_TYPES)
}

/// A `[!] --tcp-flags MASK COMP` (`--syn` among them).
pub fn tcp_flags() -> impl Strategy<Value = Neg<TcpFlags>> {
    let f = |mask, comp| TcpFlags { mask, comp };
    either_way(&[
        TcpFlags::SYN_ONLY,
        f(0x3f, 0),
        f(0x3f, 0x3f),
        f(0x12, 0x12),
        f(0x10, 0x10),
        f(0x04, 0x04),
        f(0x01, 0x01),
        f(0, 0x02),
    ])
}

/// A `-m length [!] --length` range, around [`LENS`] (one with min > max).
pub fn length() -> impl Strategy<Value = Neg<LengthRange>> {
    let l = |min, max| LengthRange { min, max };
    either_way(&[
        l(0, 56),
        l(64, 64),
        l(64, 100),
        l(101, 576),
        l(100, 64),
        l(0, 65535),
    ])
}

/// Packet lengths: on and beside the ranges' edges (each at least the
/// longest headers the kernel tests build, 56 bytes).
pub const LENS: [u16; 6] = [56, 64, 100, 101, 576, 1500];

/// A `--sport`/`--dport` range.
pub fn range() -> impl Strategy<Value = PortRange> {
    prop::sample::select(RANGES.to_vec()).prop_map(|(lo, hi)| PortRange { lo, hi })
}

/// `-m multiport` lists of the rules (around [`PORTS`]): overlapping,
/// adjacent, a single port, a complement.
pub const MULTIPORT_LISTS: [&[(u16, u16)]; 5] = [
    &[(22, 22), (80, 90)],
    &[(20, 30), (25, 25), (53, 53)],
    &[(53, 53)],
    &[(1024, 65535), (0, 0)],
    &[(0, 21), (23, 1023), (1024, 1100)],
];

/// A `-m multiport [!] --sports|--dports` of [`MULTIPORT_LISTS`].
pub fn multiport() -> impl Strategy<Value = Multiport> {
    (
        prop::sample::select(MULTIPORT_LISTS.to_vec()),
        0..3u8,
        any::<bool>(),
    )
        .prop_map(|(list, direction, invert)| Multiport {
            direction: match direction {
                0 => PortDirection::Source,
                1 => PortDirection::Destination,
                _ => PortDirection::Either,
            },
            ports: list.iter().map(|&(lo, hi)| PortRange { lo, hi }).collect(),
            invert,
        })
}

/// A NEW datagram 192.0.2.1:1 -> 192.0.2.2:2 on lo, 28 bytes, TTL 64,
/// every check passing.
pub fn datagram() -> Packet {
    Packet {
        src: Ipv4Addr::new(192, 0, 2, 1),
        dst: Ipv4Addr::new(192, 0, 2, 2),
        proto: 17,
        ports: Some((1, 2)),
        in_if: "lo".into(),
        out_if: String::new(),
        ttl: 64,
        ctstate: crate::model::CtStates::NEW,
        icmp: None,
        tcp_flags: None,
        len: 28,
        mac: None,
        tcp_options: Some(Vec::new()),
        checks: true,
        conn: Some(Connection {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(192, 0, 2, 2),
            sport: 1,
            dport: 2,
            proto: 17,
            reply: false,
        }),
        mark: 0,
        addr_types: (1, 1),
        sock: firewall_common::check::owner::Sock::None,
    }
}

/// TCP option areas of packets (at most 16 bytes: every length of
/// [`LENS`] holds them): none, MSS, SACK-permitted after NOPs, a
/// timestamp, EOL then zeros, a length 0 (read as 1), a length past
/// the area (which hides the kinds after it).
pub const TCP_OPTION_AREAS: [&[u8]; 7] = [
    &[],
    &[2, 4, 5, 0xb4],
    &[1, 1, 4, 2],
    &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
    &[0, 0, 0, 0],
    &[5, 0, 2, 0],
    &[254, 200, 2, 4],
];

/// Option kinds of `--tcp-option` rules: each of [`TCP_OPTION_AREAS`]'
/// and some of none.
pub const TCP_OPTION_KINDS: [u8; 8] = [0, 1, 2, 4, 5, 8, 200, 254];

/// Ethernet source addresses of rules and packets.
pub const MACS: [[u8; 6]; 3] = [
    [0x02, 0, 0, 0, 0, 0x01],
    [0x02, 0, 0, 0, 0, 0x02],
    [0, 0, 0, 0, 0, 0],
];

/// `-m iprange` ranges of the rules, around [`ADDRS`]: inside one
/// network, across two, one address, reversed (names nothing), all.
pub const IP_RANGES: [(&str, &str); 6] = [
    ("192.0.2.0", "192.0.2.127"),
    ("192.0.2.5", "192.0.2.130"),
    ("198.51.100.9", "198.51.100.9"),
    ("192.0.2.200", "192.0.2.100"),
    ("0.0.0.0", "255.255.255.255"),
    ("192.0.2.8", "203.0.113.0"),
];

/// An `-m iprange [!] --src-range [!] --dst-range` of [`IP_RANGES`] (one
/// or both).
pub fn iprange() -> impl Strategy<Value = Iprange> {
    let range = || {
        either_way(&IP_RANGES).prop_map(|n| Neg {
            value: Ipv4Range {
                lo: n.value.0.parse().unwrap(),
                hi: n.value.1.parse().unwrap(),
            },
            invert: n.invert,
        })
    };
    (0..3u8, range(), range()).prop_map(|(which, src, dst)| Iprange {
        src: (which != 1).then_some(src),
        dst: (which != 0).then_some(dst),
    })
}

/// A rule of what fw enforces: `[!] -p tcp|udp|icmp`, `[!] -s`, `[!] -d`,
/// `[!] -i` (wildcards and absent interfaces too), an iprange range in
/// place of `-s`/`-d`, tcp/udp ports or a multiport list instead, tcp flags, icmp types, ttl, connection state,
/// length; ACCEPT or DROP.
pub fn rule() -> impl Strategy<Value = Rule> {
    let proto = prop_oneof![
        Just(None),
        (prop::sample::select(vec![6u8, 17, 1]), any::<bool>())
            .prop_map(|(value, invert)| Some(Neg { value, invert })),
    ];
    let iface = prop::sample::select(vec!["lo", "veth0", "veth1", "veth+", "eth9"]);
    (
        proto,
        neg(prefix()),
        neg(prefix()),
        neg(iface.prop_map(str::to_string)),
        neg(range()),
        neg(range()),
        prop::option::weighted(0.25, ttl()),
        prop::option::weighted(0.3, ctstate()),
        any::<bool>(),
        (
            prop::option::weighted(0.3, icmp_type()),
            prop::option::weighted(0.3, tcp_flags()),
            prop::option::weighted(0.2, length()),
            prop::option::weighted(0.25, multiport()),
            prop::option::weighted(0.2, iprange()),
            prop::option::weighted(0.15, (1u32..1000, 1u32..10)),
            prop::option::weighted(0.15, (prop::sample::select(MACS.to_vec()), any::<bool>())),
            prop::option::weighted(
                0.3,
                (
                    prop::sample::select(TCP_OPTION_KINDS.to_vec()),
                    any::<bool>(),
                ),
            ),
            prop::option::weighted(0.25, ct_tuple()),
            prop::option::weighted(
                0.15,
                (
                    prop::sample::select(vec![
                        (0u32, u32::MAX),
                        (0, 0x8000),
                        (0x8000, 0x8000),
                        (1, 0),
                    ]),
                    any::<bool>(),
                ),
            ),
            prop::option::weighted(
                0.2,
                (
                    prop::sample::select(vec![(0u16, 65535), (536, 1460), (1460, 1460), (0, 535)]),
                    any::<bool>(),
                ),
            ),
        ),
    )
        .prop_map(
            |(
                protocol,
                source,
                destination,
                in_interface,
                sport,
                dport,
                ttl,
                ct,
                drop,
                (icmp, flags, length, multiport, iprange, limit, mac, option, tuple, mark, mss),
            )| {
                // -s and --src-range (-d and --dst-range) are not joined:
                // the range replaces the prefix.
                let (mut source, mut destination) = (source, destination);
                if let Some(r) = &iprange {
                    if r.src.is_some() {
                        source = None;
                    }
                    if r.dst.is_some() {
                        destination = None;
                    }
                }
                let mut matches = match &protocol {
                    // One port match per rule: multiport replaces tcp/udp.
                    Some(Neg {
                        value: 6 | 17,
                        invert: false,
                    }) if multiport.is_some() => {
                        multiport.map(Match::Multiport).into_iter().collect()
                    }
                    Some(Neg {
                        value: 6,
                        invert: false,
                    }) => vec![Match::Tcp(Tcp {
                        sport,
                        dport,
                        flags,
                        option: option.map(|(value, invert)| Neg { value, invert }),
                    })],
                    Some(Neg {
                        value: 1,
                        invert: false,
                    }) => icmp.map(Match::Icmp).into_iter().collect(),
                    Some(Neg {
                        value: 17,
                        invert: false,
                    }) => vec![Match::Udp(Udp { sport, dport })],
                    _ => vec![],
                };
                matches.extend(ttl.map(Match::Ttl));
                // A pure check may stand before classifier matches.
                matches.extend(mac.map(|(value, invert)| Match::Mac(Neg { value, invert })));
                matches.extend(mark.map(|((value, mask), invert)| {
                    Match::Mark(crate::model::ext::Mark {
                        value,
                        mask,
                        invert,
                    })
                }));
                // The tuple options join a -m conntrack --ctstate, else
                // stand alone; port options need a TCP or UDP connection.
                let tcp_or_udp = protocol
                    .as_ref()
                    .is_some_and(|p| !p.invert && matches!(p.value, 6 | 17));
                let tuple = tuple.map(|mut t: Conntrack| {
                    if t.has_ports() && !tcp_or_udp && !t.proto_is_tcp_or_udp() {
                        t.proto = Some(Neg::is(6));
                    }
                    t
                });
                match (ct, tuple) {
                    (Some(Match::Conntrack(c)), Some(t)) => {
                        matches.push(Match::Conntrack(Conntrack {
                            state: c.state,
                            ..t
                        }))
                    }
                    (ct, t) => {
                        matches.extend(ct);
                        matches.extend(t.map(Match::Conntrack));
                    }
                }
                matches.extend(length.map(Match::Length));
                matches.extend(iprange.map(Match::Iprange));
                // Last: a check before a classifier match is refused.
                matches.extend(
                    limit.map(|(avg, burst)| Match::Limit(crate::model::ext::Limit { avg, burst })),
                );
                // -m tcpmss needs -p tcp.
                if protocol == Some(Neg::is(6)) {
                    matches.extend(mss.map(|((min, max), invert)| {
                        Match::Tcpmss(Neg {
                            value: crate::model::ext::Tcpmss { min, max },
                            invert,
                        })
                    }));
                }
                Rule {
                    protocol,
                    source,
                    destination,
                    in_interface,
                    out_interface: None,
                    fragment: None,
                    matches,
                    target: if drop { Target::Drop } else { Target::Accept },
                }
            },
        )
}

/// `-m conntrack`'s tuple options, `--ctproto` and `--ctdir`, without a
/// state: at least one, addresses from [`PREFIXES`], ports from
/// [`RANGES`].
pub fn ct_tuple() -> impl Strategy<Value = Conntrack> {
    let addr = || {
        prop::option::weighted(
            0.3,
            (prop::sample::select(PREFIXES.to_vec()), any::<bool>()).prop_map(
                |((a, l), invert)| Neg {
                    value: crate::model::CtAddr {
                        addr: a.parse().unwrap(),
                        prefix: l,
                    },
                    invert,
                },
            ),
        )
    };
    let port = || {
        prop::option::weighted(
            0.3,
            (range(), any::<bool>()).prop_map(|(value, invert)| Neg { value, invert }),
        )
    };
    (
        [addr(), addr(), addr(), addr()],
        [port(), port(), port(), port()],
        prop::option::weighted(
            0.3,
            (prop::sample::select(vec![6u8, 17, 1]), any::<bool>())
                .prop_map(|(value, invert)| Neg { value, invert }),
        ),
        prop::option::weighted(0.3, any::<bool>()),
    )
        .prop_map(|(addrs, ports, proto, dir)| {
            let mut t = Conntrack {
                state: None,
                proto,
                addrs,
                ports,
                dir: dir.map(|reply| {
                    if reply {
                        crate::model::CtDir::Reply
                    } else {
                        crate::model::CtDir::Original
                    }
                }),
            };
            if t.check().is_none() {
                t.dir = Some(crate::model::CtDir::Original);
            }
            t
        })
}

/// A packet: tcp, udp, icmp or gre between the pool's addresses, on one of
/// [`IN_INTERFACES`], of one of [`LENS`]; a tcp, udp or icmp packet is a
/// non-first fragment one time in ten. Its connection state is one its
/// kind can have ([`ctstates_of`]), its TCP flags and ICMP type ones that
/// state allows ([`tcp_flags_of`], [`icmp_type_of`]).
pub fn packet() -> impl Strategy<Value = Packet> {
    let addr = prop::sample::select(ADDRS.to_vec()).prop_map(|a| a.parse::<Ipv4Addr>().unwrap());
    let port = prop::sample::select(PORTS.to_vec());
    (
        addr.clone(),
        addr,
        prop::sample::select(vec![6u8, 17, 1, 47]),
        prop::option::weighted(0.9, (port.clone(), port)),
        prop::sample::select(IN_INTERFACES.to_vec()),
        prop::sample::select(TTLS.to_vec()),
        0..4usize,
        0..8usize,
        prop::sample::select(ICMP_CODES.to_vec()),
        prop::sample::select(LENS.to_vec()),
        any::<bool>(),
        (
            prop::option::of(prop::sample::select(MACS.to_vec())),
            prop::sample::select(TCP_OPTION_AREAS.to_vec()),
        ),
    )
        .prop_map(
            |(src, dst, proto, ports, in_if, ttl, state, flags, code, len, checks, (mac, area))| {
                let first = ports.is_some() || !matches!(proto, 6 | 17 | 1);
                let ports = if proto == 6 || proto == 17 {
                    ports
                } else {
                    None
                };
                let states = ctstates_of(proto, first);
                let ctstate = states[state % states.len()];
                let tcp_flags = (proto == 6 && first).then(|| {
                    let f = tcp_flags_of(ctstate);
                    f[flags % f.len()]
                });
                let icmp = (proto == 1 && first).then(|| (icmp_type_of(ctstate), code));
                let mut packet = Packet {
                    src,
                    dst,
                    proto,
                    ports,
                    in_if: in_if.to_string(),
                    out_if: String::new(),
                    ttl,
                    ctstate,
                    icmp,
                    tcp_flags,
                    len,
                    mac,
                    tcp_options: Some(if tcp_flags.is_some() {
                        area.to_vec()
                    } else {
                        Vec::new()
                    }),
                    checks,
                    conn: None,
                    // Arriving packets carry none (XDP, the kernel tests).
                    mark: 0,
                    // Documentation addresses: in no local table.
                    addr_types: (1, 1),
                    // Arriving: no socket.
                    sock: firewall_common::check::owner::Sock::None,
                };
                packet.conn = connection_of(&packet);
                packet
            },
        )
}

/// The connection the kernel tests give `p` (tests/classifier_kernel.rs
/// `frame`): none when INVALID; a RELATED error's is the UDP datagram
/// 53 -> 1234 it quotes, which `p`'s destination sent to its source (the
/// error goes the reply way); else `p` goes its own the original way.
pub fn connection_of(p: &Packet) -> Option<Connection> {
    match p.ctstate {
        CtStates::INVALID => None,
        CtStates::RELATED => Some(Connection {
            src: p.dst,
            dst: p.src,
            sport: RELATED_QUOTED.0,
            dport: RELATED_QUOTED.1,
            proto: 17,
            reply: true,
        }),
        _ => Some(Connection::opened_by(p)),
    }
}

/// The ports of the UDP datagram a RELATED packet of [`packet`] quotes.
pub const RELATED_QUOTED: (u16, u16) = (53, 1234);

/// INPUT with up to 39 [`rule`]s and either policy; rule `n` counts in
/// slot `n`.
pub fn input_ruleset() -> impl Strategy<Value = State> {
    (prop::collection::vec(rule(), 0..40), any::<bool>()).prop_map(|(rules, drop)| {
        let mut state = State::default();
        state.ruleset.input.policy = if drop { Policy::Drop } else { Policy::Accept };
        state.counters[0] = (0..rules.len() as u32).collect();
        state.ruleset.input.rules = rules;
        state
    })
}

/// Targets for the rules of chain `i` of `n` user chains u0..: jumps
/// and gotos only go to later chains, so there are no loops.
fn chain_target(i: usize, n: usize) -> impl Strategy<Value = Target> {
    let later: Vec<String> = (i + 1..n).map(|j| format!("u{j}")).collect();
    let mut choices: Vec<Target> = vec![Target::Accept, Target::Drop, Target::Return, Target::None];
    for c in later {
        choices.push(Target::Jump(c.clone()));
        choices.push(Target::Jump(c.clone()));
        choices.push(Target::Goto(c));
    }
    prop::sample::select(choices)
}

/// Up to 4 user chains (u0..u3) and INPUT, whose rules' targets are
/// anything, jumps included; every rule has a counter slot. Its walks may
/// be longer than the kernel follows (then compiling it fails).
pub fn chained_ruleset() -> impl Strategy<Value = State> {
    let chain = |i: usize| {
        prop::collection::vec((rule(), chain_target(i, 4)), 0..8).prop_map(|rs| {
            rs.into_iter()
                .map(|(r, target)| Rule { target, ..r })
                .collect::<Vec<_>>()
        })
    };
    let input = prop::collection::vec((rule(), chain_target(usize::MAX - 1, 0), 0..5usize), 0..10)
        .prop_map(|rs| {
            rs.into_iter()
                .map(|(r, t, j)| match j {
                    0 => Rule {
                        target: Target::Jump("u0".into()),
                        ..r
                    },
                    1 => Rule {
                        target: Target::Goto("u1".into()),
                        ..r
                    },
                    _ => Rule { target: t, ..r },
                })
                .collect::<Vec<_>>()
        });
    (input, chain(0), chain(1), chain(2), chain(3), any::<bool>()).prop_map(
        |(input, u0, u1, u2, u3, drop)| {
            let mut st = State::default();
            st.ruleset.input.policy = if drop { Policy::Drop } else { Policy::Accept };
            st.ruleset.input.rules = input;
            for (i, rules) in [u0, u1, u2, u3].into_iter().enumerate() {
                st.ruleset.user_chains.insert(format!("u{i}"), rules);
            }
            let mut slots = Slots::new(&st);
            edit::fill_slots(&mut st, &mut slots).expect("few rules");
            st
        },
    )
}

/// Values drawn from the strategies above outside `proptest!`, the same
/// ones for the same seed (the kernel tests draw a fixed number).
pub struct Draw(TestRunner);

impl Draw {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Self(TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
        ))
    }

    /// One value of `strategy`.
    ///
    /// # Panics
    /// When `strategy` rejects every value (none of the above does).
    pub fn draw<S: Strategy>(&mut self, strategy: &S) -> S::Value {
        strategy
            .new_tree(&mut self.0)
            .expect("a strategy without filters")
            .current()
    }
}

/// The one rule `-A INPUT {spec}` appends (split at spaces).
///
/// # Panics
/// When the line does not parse or appends more than one rule.
pub fn appended(spec: &str) -> Rule {
    let line = format!("-A INPUT {spec}");
    let inv = crate::parse::parse_args_with(
        &line.split(' ').map(String::from).collect::<Vec<_>>(),
        &crate::parse::services::Services::default(),
    )
    .unwrap_or_else(|e| panic!("{line}: {e}"));
    match inv.command {
        crate::command::Command::Append { mut rules, .. } if rules.len() == 1 => rules.remove(0),
        c => panic!("{line}: {c:?}"),
    }
}

/// A ruleset for the ESTABLISHED fast path: INPUT starts with up to 3
/// [`rule`]s whose state match excludes ESTABLISHED (any target, a jump
/// to u0 too), then a rule that is, by `kind`: 0, a state match admitting
/// ESTABLISHED (or none), `-m comment` perhaps, and ACCEPT, DROP or
/// REJECT; 1, the same with a target that goes on (none, RETURN, a
/// jump); 2, any [`rule`] with any target; then up to 4 [`rule`]s. With
/// the fast path the compiler should find: `Some(Some(n))` for kind 0,
/// `Some(None)` for kind 1, `None` (either) for kind 2.
pub fn established_ruleset() -> impl Strategy<Value = (State, Option<Option<u32>>)> {
    let any_target = || {
        prop::sample::select(vec![
            Target::Accept,
            Target::Drop,
            Target::Return,
            Target::None,
            Target::Jump("u0".into()),
            Target::Reject(RejectWith::PortUnreachable),
        ])
    };
    let excluding =
        (rule(), ctstate_admitting(Some(false)), any_target()).prop_map(|(mut r, ct, target)| {
            r.matches.retain(|m| !is_state_match(m));
            r.matches.push(ct);
            Rule { target, ..r }
        });
    let terminal = prop::sample::select(vec![
        Target::Accept,
        Target::Drop,
        Target::Reject(RejectWith::TcpReset),
    ]);
    let going_on = prop::sample::select(vec![
        Target::None,
        Target::Return,
        Target::Jump("u0".into()),
    ]);
    let plain = || {
        (
            prop::option::weighted(0.8, ctstate_admitting(Some(true))),
            any::<bool>(),
        )
            .prop_map(|(ct, comment)| {
                let mut matches: Vec<Match> = ct.into_iter().collect();
                if comment {
                    matches.push(Match::Comment("established".into()));
                }
                Rule {
                    matches,
                    ..Rule::default()
                }
            })
    };
    let decider = prop_oneof![
        (plain(), terminal).prop_map(|(r, target)| (Rule { target, ..r }, 0)),
        (plain(), going_on).prop_map(|(r, target)| (Rule { target, ..r }, 1)),
        (rule(), any_target()).prop_map(|(r, target)| (Rule { target, ..r }, 2)),
    ];
    let u0_target = prop::sample::select(vec![
        Target::Accept,
        Target::Drop,
        Target::Return,
        Target::None,
    ]);
    (
        prop::collection::vec(excluding, 0..4),
        decider,
        prop::collection::vec((rule(), any_target()), 0..5),
        prop::collection::vec((rule(), u0_target), 0..5),
        any::<bool>(),
    )
        .prop_map(|(before, (decider, kind), after, u0, drop)| {
            let at = before.len() as u32;
            let mut st = State::default();
            st.ruleset.input.policy = if drop { Policy::Drop } else { Policy::Accept };
            st.ruleset.input.rules = before;
            st.ruleset.input.rules.push(decider);
            st.ruleset
                .input
                .rules
                .extend(after.into_iter().map(|(r, target)| Rule { target, ..r }));
            st.ruleset.user_chains.insert(
                "u0".into(),
                u0.into_iter()
                    .map(|(r, target)| Rule { target, ..r })
                    .collect(),
            );
            let mut slots = Slots::new(&st);
            edit::fill_slots(&mut st, &mut slots).expect("few rules");
            let want = match kind {
                0 => Some(Some(at)),
                1 => Some(None),
                _ => None,
            };
            (st, want)
        })
}

/// Whether `m` is a connection state match (a rule holds one at most).
fn is_state_match(m: &Match) -> bool {
    matches!(m, Match::Conntrack(_) | Match::State(_))
}
