//! The kernel classifier against the reference evaluator: random rulesets
//! are compiled and swapped into the real maps, random IPv4 frames go
//! through the real XDP program with BPF_PROG_TEST_RUN, and the verdict
//! and the matched rule's counter must be what iptables' semantics
//! (`firewall::model::eval`) say. A packet's connection state is preset
//! by writing (or not) its connection's entry into the pinned `CONNTRACK`
//! table before the run, and by the frame's kind: a SYN or an ACK, an
//! echo request or reply, an ICMP error quoting a tracked datagram.

#[path = "common/fw_state.rs"]
mod fw_state;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use firewall::aya::programs::{TestRun, TestRunOptions, Xdp};
use firewall::common::ct::{CtEntry, CtKey, F_ASSURED, F_ORIG_FIRST, F_SEEN_REPLY, TcpState};
use firewall::{
    compile,
    load::{Kernel, pins::Dirs},
    model::{
        AddrMask, BuiltinChain, Conntrack, CtStates, Iprange, Ipv4Range, LengthRange, Match,
        Multiport, Neg, Policy, PortDirection, PortRange, Rule, Target, Tcp, TcpFlags, Ttl, Udp,
        eval::{self, Packet, Verdict},
    },
    state::State,
    testing::{Draw, chained_ruleset, icmp_type_of, input_ruleset, packet},
};
use fw_state::FwCleanup;
use integration_tests::{Netns, in_netns};

/// XDP return codes (linux/bpf.h).
const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

/// `p` as XDP test runs see it: they take the namespace's loopback as the
/// input device; every bucket has tokens ([`bottomless`]).
fn on_lo(p: Packet) -> Packet {
    Packet {
        in_if: "lo".to_string(),
        // ARPHRD_LOOPBACK: no Ethernet source for xt_mac.
        mac: None,
        checks: true,
        ..p
    }
}

/// `state` with every `-m limit` made 10,000 tokens deep, which no run
/// here empties: the kernel's check then passes as the packets say
/// (`a_limit_admits_its_burst_then_falls_through` empties one).
fn bottomless(mut state: State) -> State {
    let names: Vec<String> = state
        .ruleset
        .chain_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    for c in names {
        for r in state.ruleset.rules_mut(&c).into_iter().flatten() {
            for m in &mut r.matches {
                if let Match::Limit(l) = m {
                    l.burst = 10000;
                    l.avg = 1;
                }
            }
        }
    }
    state
}

/// An entry of the connection from `p`'s source to its destination on
/// `ports`, answered, that does not expire during the test.
fn answered(p: &Packet, proto: u8, ports: (u16, u16)) -> (CtKey, CtEntry) {
    let (key, first) = if proto == 1 {
        // Keyed by the query's type and code, as netfilter's tuple is.
        let (kind, code) = p.icmp.unwrap_or((8, 0));
        let query = firewall::common::ct::icmp_query_of(kind).unwrap_or(kind);
        (
            CtKey::icmp(p.src.octets(), p.dst.octets(), ports.0, query, code),
            true,
        )
    } else {
        CtKey::new(p.src.octets(), p.dst.octets(), ports.0, ports.1, proto)
    };
    let entry = CtEntry {
        expires: u64::MAX / 2,
        tcp: if proto == 6 {
            TcpState::Established as u8
        } else {
            0
        },
        flags: F_SEEN_REPLY | F_ASSURED | if first { F_ORIG_FIRST } else { 0 },
        // No sequence numbers yet: the tracker takes the first segment's,
        // as for a connection picked up mid-stream.
        ..CtEntry::default()
    };
    (key, entry)
}

/// Whether [`frame`] sends `p` as a non-first fragment: IPv4's INPUT
/// meets no such packet in netfilter (`ip_local_deliver` reassembles
/// first), so fw passes it uncounted and its first fragment's verdict
/// decides the datagram (tests/tests/fragments.rs).
fn later_fragment(p: &Packet) -> bool {
    match p.proto {
        6 | 17 => p.ports.is_none(),
        1 => p.icmp.is_none(),
        _ => false,
    }
}

/// ICMP identifier of the test's echo messages.
const ICMP_ID: u16 = 0x77;

/// An Ethernet + IPv4 frame for `p`, and the connection entry that gives
/// it `p.ctstate`; a packet without ports or ICMP header is sent as a
/// non-first fragment, its TCP flags and ICMP type and code as `p` has
/// them, padded to `p.len`.
/// Checksums are left zero: the program reads no more.
fn frame(p: &Packet) -> (Vec<u8>, Option<(CtKey, CtEntry)>) {
    let est = p.ctstate == CtStates::ESTABLISHED;
    let mut entry = None;
    let l4: Vec<u8> = match (p.proto, p.ports) {
        (6, Some((s, d))) => {
            let mut t = vec![0u8; 20];
            t[..2].copy_from_slice(&s.to_be_bytes());
            t[2..4].copy_from_slice(&d.to_be_bytes());
            // The option area after the fixed header; a bad one: a data
            // offset of 15 words, past a datagram shorter than 80 bytes.
            match &p.tcp_options {
                Some(area) => {
                    assert_eq!(area.len() % 4, 0, "{p:?}");
                    t.extend_from_slice(area);
                    t[12] = (t.len() as u8 / 4) << 4;
                }
                None => t[12] = 15 << 4,
            }
            // The packet's flags, else by its state. NEW: a SYN;
            // ESTABLISHED: an ACK of a tracked connection; INVALID: an ACK
            // of none (or any flags but a lone SYN).
            t[13] = p.tcp_flags.unwrap_or(if p.ctstate == CtStates::NEW {
                0x02
            } else {
                0x10
            });
            if est {
                entry = Some(answered(p, 6, (s, d)));
            }
            t
        }
        (17, Some((s, d))) => {
            let mut u = vec![0u8; 8];
            u[..2].copy_from_slice(&s.to_be_bytes());
            u[2..4].copy_from_slice(&d.to_be_bytes());
            u[4..6].copy_from_slice(&8u16.to_be_bytes());
            if est {
                entry = Some(answered(p, 17, (s, d)));
            }
            u
        }
        // A non-first fragment: 8 bytes of the message's middle.
        (1, _) if p.icmp.is_none() => vec![8, 0, 0, 0, 0, 0, 0, 0],
        (1, _) if p.ctstate == CtStates::RELATED => {
            // An ICMP error (a port unreachable unless the packet says
            // otherwise) about a datagram the destination sent to the
            // source, 53 -> 1234, which is tracked.
            let (kind, code) = p.icmp.unwrap_or((3, 3));
            let mut m = vec![kind, code, 0, 0, 0, 0, 0, 0];
            let mut inner = [0u8; 28];
            inner[0] = 0x45;
            inner[2..4].copy_from_slice(&28u16.to_be_bytes());
            inner[8] = 64;
            inner[9] = 17;
            inner[12..16].copy_from_slice(&p.dst.octets());
            inner[16..20].copy_from_slice(&p.src.octets());
            inner[20..22].copy_from_slice(&53u16.to_be_bytes());
            inner[22..24].copy_from_slice(&1234u16.to_be_bytes());
            m.extend_from_slice(&inner);
            let q = Packet {
                src: p.dst,
                dst: p.src,
                ..p.clone()
            };
            entry = Some(answered(&q, 17, (53, 1234)));
            m
        }
        (1, _) => {
            // NEW and ESTABLISHED: an echo request (with the entry of an
            // answered ping for the latter); INVALID: a reply of none.
            let (kind, code) = p
                .icmp
                .unwrap_or((if p.ctstate == CtStates::INVALID { 0 } else { 8 }, 0));
            if est {
                entry = Some(answered(p, 1, (ICMP_ID, ICMP_ID)));
            }
            let id = ICMP_ID.to_be_bytes();
            vec![kind, code, 0, 0, id[0], id[1], 0, 1]
        }
        (proto, _) => {
            if est && !matches!(proto, 6 | 17) {
                entry = Some(answered(p, proto, (0, 0)));
            }
            vec![8, 0, 0, 0, 0, 0, 0, 0]
        }
    };
    // Padded to the packet's length.
    let mut l4 = l4;
    assert!(
        usize::from(p.len) >= 20 + l4.len(),
        "{p:?} is longer than its length"
    );
    l4.resize(usize::from(p.len) - 20, 0);
    let total = p.len;
    let mut f = vec![0u8; 14];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    if (matches!(p.proto, 6 | 17) && p.ports.is_none()) || (p.proto == 1 && p.icmp.is_none()) {
        ip[6..8].copy_from_slice(&100u16.to_be_bytes()); // fragment offset 800 bytes
    }
    ip[8] = p.ttl;
    ip[9] = p.proto;
    ip[12..16].copy_from_slice(&p.src.octets());
    ip[16..20].copy_from_slice(&p.dst.octets());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&l4);
    (f, entry)
}

/// What fw's XDP program returns for `p` (one BPF_PROG_TEST_RUN), with
/// the connection table holding only what gives `p` its state.
fn xdp_verdict(k: &mut Kernel, xdp: &Xdp, p: &Packet) -> u32 {
    let (data, entry) = frame(p);
    k.ct_flush().unwrap();
    if let Some((key, e)) = entry {
        k.ct_insert(key, e).unwrap();
    }
    xdp.test_run(TestRunOptions {
        data_in: Some(&data),
        ..Default::default()
    })
    .unwrap()
    .return_value
}

#[test]
fn kernel_classifier_agrees_with_reference() {
    // 300 rulesets x 100 packets.
    assert_eq!(in_fresh_netns("kprop", run), 30_000);
}

/// Runs `f` in a new namespace of its own with fw's directories there,
/// and removes the namespace, pins and state afterwards, even on panic.
fn in_fresh_netns(name: &str, f: fn(&mut Kernel, &Xdp) -> usize) -> usize {
    let ns = Netns::new(name).unwrap();
    let _fw = FwCleanup(ns.name().to_string());
    in_netns(ns.name(), move || {
        let (mut k, ebpf) = Kernel::install(&Dirs::current().unwrap()).unwrap();
        let xdp: &Xdp = ebpf.program("fw_xdp").unwrap().try_into().unwrap();
        f(&mut k, xdp)
    })
    .unwrap()
}

fn run(k: &mut Kernel, xdp: &Xdp) -> usize {
    let interfaces = vec![("lo".to_string(), 1)];
    let mut draw = Draw::new(0x5eed_f00d_cafe_1234);
    let (rulesets, packets) = (input_ruleset(), packet());
    let mut checked = 0;
    for _ in 0..300 {
        let state = bottomless(draw.draw(&rulesets));
        let compiled = compile::compile(&state, k.spare_bank().unwrap(), &interfaces).unwrap();
        k.swap_in(&compiled, &state.counters[0], None).unwrap();
        for _ in 0..100 {
            let p = on_lo(draw.draw(&packets));
            if later_fragment(&p) {
                let before = k.read(Kernel::policy_slot(0)).unwrap().packets;
                assert_eq!(xdp_verdict(k, xdp, &p), XDP_PASS, "{p:?}");
                assert_eq!(k.read(Kernel::policy_slot(0)).unwrap().packets, before);
                checked += 1;
                continue;
            }
            let want = eval::evaluate(&state.ruleset, BuiltinChain::Input, &p);
            let slot = match want {
                Verdict::Rule(n, _) => n as u32,
                Verdict::Policy(_) => Kernel::policy_slot(0),
            };
            let before = k.read(slot).unwrap().packets;
            let got = xdp_verdict(k, xdp, &p);
            let verdict = match want {
                Verdict::Rule(_, v) | Verdict::Policy(v) => v,
            };
            let expected = if verdict == Policy::Accept {
                XDP_PASS
            } else {
                XDP_DROP
            };
            if got != expected {
                let tables =
                    firewall::compile::eval::Tables::new(&compiled, k.spare_bank().unwrap() ^ 1);
                let user = tables.evaluate(0, &p, &|n| u32::from(n == "lo"));
                for (i, r) in state.ruleset.input.rules.iter().enumerate() {
                    eprintln!("{i}: {}", firewall::render::rule_spec("INPUT", r));
                }
                eprintln!(
                    "policy {:?} want {want:?} user-space {user:?} kernel {got}",
                    state.ruleset.input.policy
                );
            }
            assert_eq!(got, expected, "{p:?}");
            assert_eq!(
                k.read(slot).unwrap().packets,
                before + 1,
                "counter of {want:?}"
            );
            checked += 1;
        }
    }
    checked
}

/// One rule per case, checked on the packets at and around its edges:
/// every prefix length 0..=32 of `-s`/`-d`, negated or not, and port
/// ranges whose prefix decompositions differ in shape.
#[test]
fn kernel_edges_of_prefixes_and_port_ranges() {
    let checked = in_fresh_netns("kedge", edges);
    // 1,210 prefix and port-range edges, 100 TTL comparison edges, 112
    // connection state matches, 140 ICMP type edges, 795 TCP flags
    // edges, 200 TCP option areas, 90 length edges, 328 multiport edges
    // and 316 of --ports, 2 mac frames, 96 iprange edges.
    assert_eq!(checked, 3389);
}

fn edges(k: &mut Kernel, xdp: &Xdp) -> usize {
    let interfaces = vec![("lo".to_string(), 1)];
    let base = u32::from(std::net::Ipv4Addr::new(198, 51, 100, 77));
    let mut cases: Vec<(Rule, Vec<Packet>)> = Vec::new();
    let udp = |src: u32, dst: u32, sport: u16, dport: u16| Packet {
        src: src.into(),
        dst: dst.into(),
        ports: Some((sport, dport)),
        ..datagram()
    };
    // A datagram with `a` on the side a rule looks at (the destination
    // when `dst_side`) and `other` on the other side.
    let address_edge = |dst_side: bool, a: u32, other: u32| {
        if dst_side {
            udp(other, a, 1, 2)
        } else {
            udp(a, other, 1, 2)
        }
    };
    // Every connection state match against a packet of each state.
    for bits in [
        CtStates::INVALID,
        CtStates::NEW,
        CtStates::RELATED,
        CtStates::ESTABLISHED,
        CtStates::UNTRACKED,
        CtStates::NEW | CtStates::ESTABLISHED,
        CtStates::ESTABLISHED | CtStates::RELATED,
    ] {
        for invert in [false, true] {
            for conntrack in [false, true] {
                let state = Neg {
                    value: CtStates(bits),
                    invert,
                };
                let m = if conntrack {
                    Match::Conntrack(Conntrack {
                        state: Some(state),
                        ..Conntrack::default()
                    })
                } else {
                    Match::State(state)
                };
                let rule = Rule {
                    matches: vec![m],
                    target: Target::Drop,
                    ..Rule::default()
                };
                let packets = [
                    CtStates::NEW,
                    CtStates::ESTABLISHED,
                    CtStates::RELATED,
                    CtStates::INVALID,
                ]
                .map(|ctstate| Packet {
                    proto: 1,
                    ports: None,
                    ctstate,
                    icmp: Some((icmp_type_of(ctstate), 0)),
                    len: 56,
                    ..udp(base, base + 1, 1, 2)
                })
                .to_vec();
                cases.push((rule, packets));
            }
        }
    }
    // Every -m ttl comparison at the edges of its value.
    for v in [0u8, 1, 64, 254, 255] {
        for t in [Ttl::Eq(v), Ttl::Ne(v), Ttl::Lt(v), Ttl::Gt(v)] {
            let rule = Rule {
                matches: vec![Match::Ttl(t)],
                target: Target::Drop,
                ..Rule::default()
            };
            let packets = [v.saturating_sub(1), v, v.saturating_add(1), 0, 255]
                .map(|ttl| Packet {
                    ttl,
                    ..udp(base, base, 1, 2)
                })
                .to_vec();
            cases.push((rule, packets));
        }
    }
    // Every kind of -m icmp --icmp-type, negated or not, against types
    // and codes on and beside it, a non-first fragment and a datagram.
    let icmp = |t: u8, code: u8, ctstate| Packet {
        proto: 1,
        ports: None,
        ctstate,
        icmp: Some((t, code)),
        len: 56,
        ..udp(base, base + 1, 1, 2)
    };
    for value in firewall::testing::ICMP_TYPES {
        for invert in [false, true] {
            let rule = Rule {
                protocol: Some(Neg::is(1)),
                matches: vec![Match::Icmp(Neg { value, invert })],
                target: Target::Drop,
                ..Rule::default()
            };
            let (new, rel) = (CtStates::NEW, CtStates::RELATED);
            let packets = vec![
                icmp(8, 0, new),
                icmp(8, 1, new),
                icmp(8, 255, new),
                icmp(0, 0, CtStates::INVALID),
                icmp(3, 2, rel),
                icmp(3, 3, rel),
                icmp(3, 4, rel),
                icmp(11, 0, rel),
                Packet {
                    icmp: None,
                    ..icmp(8, 0, CtStates::INVALID)
                },
                udp(base, base + 1, 1, 2),
            ];
            cases.push((rule, packets));
        }
    }
    // --tcp-flags and --syn, negated or not, against every flags byte, a
    // non-first fragment and a datagram; with a port, --syn to it and
    // beside it.
    let tcp = |dport: u16, flags: u8| Packet {
        proto: 6,
        ports: Some((1000, dport)),
        // Only a lone SYN opens a connection (no entry is preset).
        ctstate: if flags & 0x17 == 0x02 {
            CtStates::NEW
        } else {
            CtStates::INVALID
        },
        tcp_flags: Some(flags),
        len: 40,
        ..udp(base, base + 1, 1, 2)
    };
    let f = |mask, comp| TcpFlags { mask, comp };
    for value in [
        TcpFlags::SYN_ONLY,
        f(0x3f, 0),
        f(0x3f, 0x3f),
        f(0x12, 0x12),
        f(0x11, 0x01),
        f(0, 0x02),
    ] {
        for invert in [false, true] {
            let rule = tcp_rule(Some(Neg { value, invert }), None);
            let mut packets: Vec<Packet> = (0..64u8).map(|b| tcp(22, b)).collect();
            packets.push(Packet {
                ports: None,
                tcp_flags: None,
                ..tcp(22, 0x02)
            });
            packets.push(udp(base, base + 1, 1, 2));
            cases.push((rule, packets));
        }
    }
    // --tcp-option, negated or not, for kinds of every area and beside
    // them, on every area, a bad one and a datagram; an ACCEPT rule
    // drops the bad one too (the hot drop).
    for kind in firewall::testing::TCP_OPTION_KINDS
        .into_iter()
        .chain([3, 255])
    {
        for invert in [false, true] {
            let rule = tcp_rule(
                None,
                Some(Neg {
                    value: kind,
                    invert,
                }),
            );
            let bad = Packet {
                tcp_options: None,
                ..tcp(22, 0x02)
            };
            cases.push((
                Rule {
                    target: Target::Accept,
                    ..rule.clone()
                },
                vec![bad.clone()],
            ));
            let mut packets: Vec<Packet> = firewall::testing::TCP_OPTION_AREAS
                .iter()
                .map(|a| Packet {
                    tcp_options: Some(a.to_vec()),
                    len: 40 + a.len() as u16,
                    ..tcp(22, 0x02)
                })
                .collect();
            packets.push(bad);
            packets.push(udp(base, base + 1, 1, 2));
            cases.push((rule, packets));
        }
    }
    cases.push((
        Rule {
            protocol: Some(Neg::is(6)),
            matches: vec![Match::Tcp(Tcp {
                sport: None,
                dport: Some(Neg::is(PortRange { lo: 22, hi: 22 })),
                flags: Some(Neg::is(TcpFlags::SYN_ONLY)),
                option: None,
            })],
            target: Target::Drop,
            ..Rule::default()
        },
        vec![tcp(22, 0x02), tcp(23, 0x02), tcp(22, 0x10)],
    ));
    // -m length, negated or not, at the edges of its range (one with
    // min > max).
    for (min, max) in [(0, 64), (64, 64), (100, 1500), (1500, 65535), (100, 64)] {
        for invert in [false, true] {
            let rule = Rule {
                matches: vec![Match::Length(Neg {
                    value: LengthRange { min, max },
                    invert,
                })],
                target: Target::Drop,
                ..Rule::default()
            };
            let packets = [28, 63, 64, 65, 99, 100, 101, 1499, 1500]
                .map(|len| Packet {
                    len,
                    ..udp(base, base + 1, 1, 2)
                })
                .to_vec();
            cases.push((rule, packets));
        }
    }
    for len in 0..=32u8 {
        for invert in [false, true] {
            for dst_side in [false, true] {
                let m = AddrMask::from_prefix(base.into(), len);
                let net = u32::from(m.v4().expect("an IPv4 prefix").0);
                let size = if len == 0 { 0 } else { 1u32 << (32 - len) };
                let probes: Vec<u32> = [
                    net,
                    net.wrapping_add(size.wrapping_sub(1)),
                    net.wrapping_add(size),
                    net.wrapping_sub(1),
                    base,
                ]
                .into();
                let other = u32::from(std::net::Ipv4Addr::new(192, 0, 2, 1));
                let neg = Some(Neg { value: m, invert });
                let rule = Rule {
                    source: if dst_side { None } else { neg.clone() },
                    destination: if dst_side { neg } else { None },
                    target: Target::Drop,
                    ..Rule::default()
                };
                let pkts = probes
                    .iter()
                    .map(|&a| address_edge(dst_side, a, other))
                    .collect();
                cases.push((rule, pkts));
            }
        }
    }
    let edges = [0u16, 1, 2, 1023, 1024, 1025, 32767, 32768, 65534, 65535];
    for &lo in &edges {
        for &hi in edges.iter().filter(|&&h| h >= lo) {
            for invert in [false, true] {
                let rule = Rule {
                    protocol: Some(Neg::is(17)),
                    matches: vec![Match::Udp(Udp {
                        sport: None,
                        dport: Some(Neg {
                            value: PortRange { lo, hi },
                            invert,
                        }),
                    })],
                    target: Target::Drop,
                    ..Rule::default()
                };
                let pkts = [lo.wrapping_sub(1), lo, hi, hi.wrapping_add(1), 80]
                    .iter()
                    .map(|&p| udp(1, 2, 9, p))
                    .collect();
                cases.push((rule, pkts));
            }
        }
    }
    // -m multiport --sports/--dports, negated or not, at the edges of
    // every range of its list (overlapping, adjacent, 15 slots), and a
    // non-first fragment.
    let fifteen: &[(u16, u16)] = &[
        (1, 2),
        (4, 5),
        (7, 8),
        (10, 11),
        (13, 14),
        (16, 17),
        (19, 20),
        (65535, 65535),
    ];
    let lists = firewall::testing::MULTIPORT_LISTS
        .iter()
        .copied()
        .chain([fifteen]);
    for list in lists {
        for direction in [
            PortDirection::Source,
            PortDirection::Destination,
            PortDirection::Either,
        ] {
            for invert in [false, true] {
                let rule = Rule {
                    protocol: Some(Neg::is(17)),
                    matches: vec![Match::Multiport(Multiport {
                        direction,
                        ports: list.iter().map(|&(lo, hi)| PortRange { lo, hi }).collect(),
                        invert,
                    })],
                    target: Target::Drop,
                    ..Rule::default()
                };
                let at = |port: u16| match direction {
                    PortDirection::Source => udp(1, 2, port, 7777),
                    _ => udp(1, 2, 7777, port),
                };
                let edges = || {
                    list.iter()
                        .flat_map(|&(lo, hi)| [lo.wrapping_sub(1), lo, hi, hi.wrapping_add(1)])
                };
                let mut pkts: Vec<Packet> = edges().map(at).collect();
                // --ports (a rule check): each edge on the other side too.
                if direction == PortDirection::Either {
                    pkts.extend(edges().map(|port| udp(1, 2, port, 7777)));
                }
                pkts.push(Packet {
                    ports: None,
                    ..at(list[0].0)
                });
                cases.push((rule, pkts));
            }
        }
    }
    // -m mac (a rule check): frames on lo have no Ethernet source for
    // xt_mac, so neither the address nor its negation matches.
    for invert in [false, true] {
        let rule = Rule {
            matches: vec![Match::Mac(Neg {
                value: [0; 6],
                invert,
            })],
            target: Target::Drop,
            ..Rule::default()
        };
        cases.push((rule, vec![udp(1, 2, 3, 4)]));
    }
    // -m iprange --src-range/--dst-range, negated or not, on and beside
    // each end of every range (one reversed, naming nothing).
    for (lo, hi) in firewall::testing::IP_RANGES {
        let (lo, hi): (std::net::Ipv4Addr, std::net::Ipv4Addr) =
            (lo.parse().unwrap(), hi.parse().unwrap());
        for dst_side in [false, true] {
            for invert in [false, true] {
                let range = Some(Neg {
                    value: Ipv4Range { lo, hi },
                    invert,
                });
                let m = if dst_side {
                    Iprange {
                        src: None,
                        dst: range,
                    }
                } else {
                    Iprange {
                        src: range,
                        dst: None,
                    }
                };
                let rule = Rule {
                    matches: vec![Match::Iprange(m)],
                    target: Target::Drop,
                    ..Rule::default()
                };
                let (lo, hi) = (u32::from(lo), u32::from(hi));
                let other = u32::from(std::net::Ipv4Addr::new(203, 0, 113, 9));
                let pkts = [lo.wrapping_sub(1), lo, hi, hi.wrapping_add(1)]
                    .iter()
                    .map(|&a| address_edge(dst_side, a, other))
                    .collect();
                cases.push((rule, pkts));
            }
        }
    }
    let mut checked = 0;
    for (rule, pkts) in cases {
        let mut state = State::default();
        state.ruleset.input.rules = vec![rule];
        state.counters[0] = vec![0];
        let compiled = compile::compile(&state, k.spare_bank().unwrap(), &interfaces).unwrap();
        k.swap_in(&compiled, &[], None).unwrap();
        for p in pkts {
            let want = match eval::evaluate(&state.ruleset, BuiltinChain::Input, &p) {
                Verdict::Rule(_, v) | Verdict::Policy(v) => v,
            };
            let got = xdp_verdict(k, xdp, &p);
            let expected = if want == Policy::Accept {
                XDP_PASS
            } else {
                XDP_DROP
            };
            assert_eq!(
                got, expected,
                "{p:?} against {:?}",
                state.ruleset.input.rules[0]
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn kernel_walk_through_user_chains_agrees_with_reference() {
    // 200 rulesets x 50 packets.
    assert_eq!(in_fresh_netns("kwalk", walk_chains), 10_000);
}

fn walk_chains(k: &mut Kernel, xdp: &Xdp) -> usize {
    let interfaces = vec![("lo".to_string(), 1)];
    let mut draw = Draw::new(0xc4a1_25ee_d00d_0001);
    let (chained, packets) = (chained_ruleset(), packet());
    let mut checked = 0;
    let mut rulesets = 0;
    while rulesets < 200 {
        let state = bottomless(draw.draw(&chained));
        let Ok(compiled) = compile::compile(&state, k.spare_bank().unwrap(), &interfaces) else {
            continue; // a walk longer than the kernel follows: refused
        };
        rulesets += 1;
        k.swap_in(&compiled, &state.all_slots().collect::<Vec<_>>(), None)
            .unwrap();
        for _ in 0..50 {
            let p = on_lo(draw.draw(&packets));
            if later_fragment(&p) {
                assert_eq!(xdp_verdict(k, xdp, &p), XDP_PASS, "{p:?}");
                checked += 1;
                continue;
            }
            let want = eval::walk(&state.ruleset, BuiltinChain::Input, &p);
            let mut slots: Vec<u32> = want
                .counted
                .iter()
                .map(|(c, n)| state.chain_slots(c)[*n])
                .collect();
            if want.policy {
                slots.push(Kernel::policy_slot(0));
            }
            // A rule reached twice (two jumps into one chain) counts twice.
            let mut times = std::collections::BTreeMap::<u32, u64>::new();
            for s in &slots {
                *times.entry(*s).or_default() += 1;
            }
            let before: Vec<(u32, u64, u64)> = times
                .iter()
                .map(|(s, n)| (*s, *n, k.read(*s).unwrap().packets))
                .collect();
            let got = xdp_verdict(k, xdp, &p);
            let expected = if want.verdict == Policy::Accept {
                XDP_PASS
            } else {
                XDP_DROP
            };
            assert_eq!(got, expected, "{p:?}: {want:?} in {:#?}", state.ruleset);
            for (s, n, b) in before {
                assert_eq!(k.read(s).unwrap().packets, b + n, "slot {s}: {want:?}");
            }
            checked += 1;
        }
    }
    checked
}

/// `-p tcp -m tcp` with these flags and option, `-j DROP`.
fn tcp_rule(flags: Option<Neg<TcpFlags>>, option: Option<Neg<u8>>) -> Rule {
    Rule {
        protocol: Some(Neg::is(6)),
        matches: vec![Match::Tcp(Tcp {
            sport: None,
            dport: None,
            flags,
            option,
        })],
        target: Target::Drop,
        ..Rule::default()
    }
}

/// A NEW datagram 192.0.2.1:1 -> 192.0.2.2:2 on lo.
fn datagram() -> Packet {
    firewall::testing::datagram()
}

/// The kernel fails closed on map contents no compiler writes: a rule
/// target, a policy or a rule check it cannot decode drops the packet
/// and counts the anomaly; the embedded object declares exactly the maps that
/// `firewall_common::maps` names (checked by `Kernel::install`).
#[test]
fn undecodable_targets_drop_and_count() {
    assert_eq!(in_fresh_netns("kanom", anomalies), 5);
}

fn anomalies(k: &mut Kernel, xdp: &Xdp) -> usize {
    use firewall::common::{Anomaly, RuleInfo};
    let interfaces = vec![("lo".to_string(), 1)];
    let count = |k: &Kernel, a: Anomaly| {
        k.anomalies()
            .unwrap()
            .into_iter()
            .find(|(x, _)| *x == a)
            .unwrap()
            .1
    };
    let mut state = State::default();
    state.ruleset.input.rules = vec![Rule {
        protocol: Some(Neg::is(17)),
        target: Target::Accept,
        ..Rule::default()
    }];
    state.counters[0] = vec![0];
    let udp = datagram();
    let icmp = Packet {
        proto: 1,
        ports: None,
        icmp: Some((8, 0)),
        ..udp.clone()
    };
    let mut compiled = compile::compile(&state, k.spare_bank().unwrap(), &interfaces).unwrap();
    // As compiled: the rule accepts, the policy accepts.
    k.swap_in(&compiled, &[0], None).unwrap();
    assert_eq!(xdp_verdict(k, xdp, &udp), XDP_PASS);
    assert_eq!(xdp_verdict(k, xdp, &icmp), XDP_PASS);
    // A target code no compiler writes, and a policy no compiler writes.
    compiled = compile::compile(&state, k.spare_bank().unwrap(), &interfaces).unwrap();
    compiled.rules[0] = RuleInfo {
        target: 99,
        ..compiled.rules[0]
    };
    for (_, info) in compiled.chains.iter_mut().filter(|(c, _)| *c == 0) {
        info.policy = 7;
    }
    k.swap_in(&compiled, &[], None).unwrap();
    assert_eq!(xdp_verdict(k, xdp, &udp), XDP_DROP);
    assert_eq!(count(k, Anomaly::BadTarget), 1);
    // The rule's counter still counted the packet it could not decide.
    assert_eq!(k.read(0).unwrap().packets, 2);
    assert_eq!(xdp_verdict(k, xdp, &icmp), XDP_DROP);
    assert_eq!(count(k, Anomaly::BadPolicy), 1);
    // A check of a kind no compiler writes: dropped, counted, the rule
    // not counted.
    state.ruleset.input.rules[0]
        .matches
        .push(Match::Limit(Default::default()));
    compiled = compile::compile(&state, k.spare_bank().unwrap(), &interfaces).unwrap();
    assert_ne!(compiled.rules[0].checks, 0);
    compiled.checks[0].kind = 99;
    let before = k.read(0).unwrap().packets;
    k.swap_in(&compiled, &[], None).unwrap();
    assert_eq!(xdp_verdict(k, xdp, &udp), XDP_DROP);
    assert_eq!(count(k, Anomaly::BadCheck), 1);
    assert_eq!(k.read(0).unwrap().packets, before);
    5
}

/// `-m limit` in the kernel: a bucket of `--limit-burst` tokens that
/// starts full; once empty, the walk goes on past the rule (to the DROP
/// policy here) and the rule is not counted; a new ruleset fills it
/// again (docs/semantics.md, -m limit).
#[test]
fn a_limit_admits_its_burst_then_falls_through() {
    assert_eq!(in_fresh_netns("klimit", limit_burst), 2);
}

fn limit_burst(k: &mut Kernel, xdp: &Xdp) -> usize {
    use firewall::model::ext::Limit;
    let mut state = State::default();
    state.ruleset.input.policy = Policy::Drop;
    state.ruleset.input.rules = vec![Rule {
        protocol: Some(Neg::is(17)),
        // One token an hour: none comes back during the test (a day
        // with a burst of 7 wraps xt_limit's credit below one token).
        matches: vec![Match::Limit(Limit {
            avg: Limit::SCALE * 3600,
            burst: 7,
        })],
        target: Target::Accept,
        ..Rule::default()
    }];
    state.counters[0] = vec![0];
    let udp = datagram();
    for round in 0..2 {
        let compiled = compile::compile(&state, k.spare_bank().unwrap(), &[]).unwrap();
        k.swap_in(&compiled, &[0], None).unwrap();
        let verdicts: Vec<u32> = (0..10).map(|_| xdp_verdict(k, xdp, &udp)).collect();
        let mut want = vec![XDP_PASS; 7];
        want.extend([XDP_DROP; 3]);
        assert_eq!(verdicts, want, "round {round}");
        assert_eq!(k.read(0).unwrap().packets, 7, "round {round}");
    }
    2
}

/// docs/semantics.md item 3: a first fragment too short for its TCP
/// header (20 bytes), UDP ports (4) or ICMP header (8) is dropped before
/// any rule and counted nowhere, even under an ACCEPT policy; one long
/// enough passes.
#[test]
fn truncated_first_fragments_are_dropped_before_any_rule() {
    assert_eq!(in_fresh_netns("ktrunc", truncated), 24);
}

fn truncated(k: &mut Kernel, xdp: &Xdp) -> usize {
    let state = State::default();
    let compiled = compile::compile(&state, k.spare_bank().unwrap(), &[]).unwrap();
    k.swap_in(&compiled, &[], None).unwrap();
    // Ethernet + IPv4 (192.0.2.1 -> 192.0.2.2) + `l4` bytes of protocol `proto`.
    let frame = |proto: u8, l4: usize| {
        let mut f = vec![0u8; 14 + 20 + l4];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&(20 + l4 as u16).to_be_bytes());
        f[22] = 64;
        f[23] = proto;
        f[26..30].copy_from_slice(&[192, 0, 2, 1]);
        f[30..34].copy_from_slice(&[192, 0, 2, 2]);
        if proto == 6 && l4 >= 13 {
            f[34 + 13] = 0x02; // SYN
        }
        f
    };
    let run = |data: Vec<u8>| {
        xdp.test_run(TestRunOptions {
            data_in: Some(&data),
            ..Default::default()
        })
        .unwrap()
        .return_value
    };
    let mut checked = 0;
    for (proto, short, whole) in [(6u8, 19, 20), (17, 3, 8), (1, 7, 8)] {
        assert_eq!(
            run(frame(proto, short)),
            XDP_DROP,
            "proto {proto}, {short} bytes"
        );
        assert_eq!(
            run(frame(proto, whole)),
            XDP_PASS,
            "proto {proto}, {whole} bytes"
        );
        checked += 2;
    }
    // Malformed IPv4 headers, which ip_rcv_core drops before netfilter.
    let udp = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut f = frame(17, 8);
        edit(&mut f);
        f
    };
    for (what, f) in [
        (
            "total length past the frame",
            udp(&|f| f[16..18].copy_from_slice(&38u16.to_be_bytes())),
        ),
        (
            "total length below the IHL",
            udp(&|f| f[16..18].copy_from_slice(&19u16.to_be_bytes())),
        ),
        ("IHL 4", udp(&|f| f[14] = 0x44)),
        ("version 6", udp(&|f| f[14] = 0x65)),
        ("10 bytes of IPv4 header", udp(&|f| f.truncate(24))),
    ] {
        assert_eq!(run(f), XDP_DROP, "{what}");
        checked += 1;
    }
    // Ethernet padding after the datagram is not part of it.
    assert_eq!(run(udp(&|f| f.resize(60, 0))), XDP_PASS, "padded");
    // IPv6 (2001:db8::1 -> 2001:db8::2): `next` and `payload` (the
    // extension headers and what follows), its length in the header.
    let frame6 = |next: u8, payload: &[u8]| {
        let (src, dst) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        integration_tests::ipv6_frame(([0; 6], [0; 6]), src, dst, next, payload)
    };
    // `n` destination options headers (8 bytes each) before `next`.
    let dests = |n: usize, next: u8| -> Vec<u8> {
        (0..n)
            .flat_map(|i| [if i + 1 == n { next } else { 60 }, 0, 1, 4, 0, 0, 0, 0])
            .collect()
    };
    let udp = [0x30, 0x39, 0, 53, 0, 8, 0, 0];
    let cases6: [(&str, Vec<u8>, u32); 9] = [
        (
            "8 extension headers",
            frame6(60, &[dests(8, 17), udp.to_vec()].concat()),
            XDP_PASS,
        ),
        (
            "9 extension headers",
            frame6(60, &[dests(9, 17), udp.to_vec()].concat()),
            XDP_DROP,
        ),
        (
            "payload past the frame",
            {
                let mut f = frame6(17, &udp);
                f[19] = 9;
                f
            },
            XDP_DROP,
        ),
        (
            "jumbogram (payload 0)",
            {
                let mut f = frame6(0, &[]);
                f.extend([0u8; 8]);
                f
            },
            XDP_DROP,
        ),
        (
            "options past the packet",
            frame6(60, &[17, 1, 1, 4, 0, 0, 0, 0]),
            XDP_DROP,
        ),
        (
            "version 4 under 0x86dd",
            {
                let mut f = frame6(17, &udp);
                f[14] = 0x40;
                f
            },
            XDP_DROP,
        ),
        (
            "TCP 19 bytes after options",
            frame6(60, &[dests(1, 6), vec![0; 19]].concat()),
            XDP_DROP,
        ),
        ("ICMPv6 3 bytes", frame6(58, &[128, 0, 0]), XDP_DROP),
        // A later fragment has no ports to read: 2 bytes pass.
        (
            "later fragment",
            frame6(44, &[17, 0, 0, 8, 0, 0, 0, 1, 0x55, 0x55]),
            XDP_PASS,
        ),
    ];
    for (what, f, want) in cases6 {
        assert_eq!(run(f), want, "IPv6: {what}");
        checked += 1;
    }
    // Counted nowhere but in DROPS: the ACCEPT policies saw only the
    // three whole ones and the padded one, and IPv6's the two passed.
    assert_eq!(k.read(Kernel::policy_slot(0)).unwrap().packets, 4);
    let v6 = firewall::model::Family::V6;
    assert_eq!(k.read(Kernel::policy_slot_in(v6, 0)).unwrap().packets, 2);
    use firewall::common::Malformed;
    assert_eq!(
        k.malformed().unwrap(),
        vec![
            (Malformed::IpHeader, 5),
            (Malformed::TruncatedL4, 5),
            (Malformed::VlanTags, 0),
            (Malformed::Ipv6Header, 4),
            (Malformed::Ipv6ExtHeaders, 1)
        ]
    );
    checked + 4
}

/// docs/semantics.md item 6: the kernel untags 802.1Q/802.1ad tags of
/// VLAN 0 (priority tags, any number of them) and filters the packet as
/// IPv4, so fw removes them and classifies what is under them; a frame
/// of another VLAN is left alone (the kernel drops it with no VLAN
/// device). Under `-A INPUT -p udp -j DROP`: a UDP datagram under one,
/// two or eight VLAN 0 tags is dropped by the rule, under a VLAN 5 tag
/// it passes fw uncounted, and under nine VLAN 0 tags it is dropped
/// before any rule and counted in DROPS.
#[test]
fn priority_tagged_frames_are_classified_as_the_kernel_untags_them() {
    assert_eq!(in_fresh_netns("kvlan", priority_tags), 6);
}

fn priority_tags(k: &mut Kernel, xdp: &Xdp) -> usize {
    let mut state = State::default();
    state.ruleset.input.rules = vec![Rule {
        protocol: Some(Neg::is(17)),
        target: Target::Drop,
        ..Rule::default()
    }];
    state.counters[0] = vec![0];
    let compiled = compile::compile(&state, k.spare_bank().unwrap(), &[]).unwrap();
    k.swap_in(&compiled, &[0], None).unwrap();
    // Ethernet, `tags` (TPID, VID), IPv4 192.0.2.1 -> 192.0.2.2, UDP.
    let frame = |tags: &[(u16, u16)]| {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        for &(tpid, vid) in tags {
            f.extend(tpid.to_be_bytes());
            f.extend((0xa000 | vid).to_be_bytes()); // PCP 5
        }
        f.extend(0x0800u16.to_be_bytes());
        let mut ip = [0u8; 28];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&28u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 2]);
        ip[20..24].copy_from_slice(&[0x30, 0x39, 0, 53]);
        ip[25] = 8;
        f.extend(ip);
        f
    };
    let run = |data: Vec<u8>| {
        let out = xdp
            .test_run(TestRunOptions {
                data_in: Some(&data),
                ..Default::default()
            })
            .unwrap();
        out.return_value
    };
    let q = (0x8100, 0);
    let ad = (0x88a8, 0);
    assert_eq!(run(frame(&[])), XDP_DROP, "untagged");
    assert_eq!(run(frame(&[q])), XDP_DROP, "one VLAN 0 tag");
    assert_eq!(run(frame(&[ad, q])), XDP_DROP, "802.1ad and 802.1Q VLAN 0");
    assert_eq!(run(frame(&[q; 8])), XDP_DROP, "eight VLAN 0 tags");
    assert_eq!(k.read(0).unwrap().packets, 4);
    assert_eq!(run(frame(&[(0x8100, 5)])), XDP_PASS, "VLAN 5");
    assert_eq!(run(frame(&[q; 9])), XDP_DROP, "nine VLAN 0 tags");
    assert_eq!(k.read(0).unwrap().packets, 4, "rule counter");
    use firewall::common::Malformed;
    assert_eq!(
        k.malformed().unwrap(),
        vec![
            (Malformed::IpHeader, 0),
            (Malformed::TruncatedL4, 0),
            (Malformed::VlanTags, 1),
            (Malformed::Ipv6Header, 0),
            (Malformed::Ipv6ExtHeaders, 0)
        ]
    );
    6
}
