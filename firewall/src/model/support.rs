//! What the kernel side enforces today: the one place that decides whether
//! a parsed rule may be loaded.
//!
//! The grammar and the model hold the whole iptables language; the eBPF
//! classifier learns it piece by piece. A rule using anything it cannot
//! enforce yet is refused (never loaded with the feature ignored, which
//! would widen or narrow the rule behind the user's back). exec calls
//! [`enforceable`] on every rule of a new ruleset before compiling it, so
//! widening the language fw enforces means widening this function (and the
//! compiler with it), nothing else. Each extension answers for itself
//! ([`crate::extensions::Enforcement`]); this function adds what concerns
//! the whole rule.

use crate::{
    extensions::{
        Columns, Enforcement,
        targets::{TargetExt, TargetSupport, log, reject},
    },
    model::{Family, Rule, Ruleset, Target},
};

/// Whether the kernel side can enforce `rule` of an IPv6 table: what
/// [`enforceable`] says, within what fw's IPv6 path has so far. The
/// programs parse IPv6 (addresses, hop limit, length, the upper-layer
/// protocol past the extension headers, ports, TCP flags, ICMPv6 type
/// and code), track its connections, answer REJECT and log (LOG): what
/// needs more is refused, never loaded half-enforced.
///
/// # Errors
/// What is missing, worded for "not supported yet: {what}".
pub fn enforceable6(rule: &Rule) -> Result<(), String> {
    use crate::model::Match;
    // Targets as in IPv4: [`enforceable`] asks each module.
    for m in &rule.matches {
        let refused = match m {
            // Read from the headers the IPv6 parser fills in, or (TCP
            // options, the socket, the clock) by checks that do not ask
            // the family.
            Match::Tcp(_)
            | Match::Tcpmss(_)
            | Match::Owner(_)
            | Match::Time(_)
            | Match::Udp(_)
            | Match::Rt(_)
            | Match::Iprange6(_)
            | Match::Mark(_)
            | Match::Multiport(_)
            | Match::Icmp6(_)
            | Match::Hl(_)
            | Match::Length(_)
            | Match::Comment(_)
            | Match::Limit(_)
            | Match::Mac(_) => None,
            // Looked up with the packet's own family (an inet6 set's
            // 16-byte addresses).
            Match::Set(_) => None,
            // No packet fw sees has an IPsec policy, whatever its family.
            Match::Policy(_) => None,
            // Buckets and lists keyed by 16-byte addresses.
            Match::Hashlimit(_) | Match::Recent(_) => None,
            Match::State(_) | Match::Conntrack(_) => None,
            // IPv6's local table (its ANYCAST and UNREACHABLE refused by
            // the module).
            Match::Addrtype(_) => None,
            // The parser refuses these in IPv6 (IPv4 values or IPv4's
            // headers); named so that a new module must be placed here.
            Match::Icmp(_) | Match::Ttl(_) | Match::Iprange(_) => Some("an IPv4 match in IPv6"),
        };
        if let Some(what) = refused {
            return Err(what.into());
        }
    }
    enforceable(rule)
}

/// Whether the kernel side can enforce `rule` exactly.
///
/// Today that is what the classifier compiles: `[!] -p`, `[!] -s`/`-d`
/// (one address, prefix masks only), `[!] -i`/`-o` (with `+` wildcards),
/// and the matches whose module answers [`Enforcement::Always`] or
/// [`Enforcement::Classifier`] (each module's `support()` says which
/// values), at most one per column; targets ACCEPT, DROP, RETURN, REJECT
/// and LOG as their modules answer, a jump or goto to a user-defined
/// chain, or none (a rule that counts).
///
/// # Errors
/// What is missing, worded for "not supported yet: {what}", naming the
/// feature as the user wrote it (`-j REJECT`, `-m conntrack`, `--syn` ...).
pub fn enforceable(rule: &Rule) -> Result<(), String> {
    match &rule.target {
        Target::Accept
        | Target::Drop
        | Target::Return
        | Target::Jump(_)
        | Target::Goto(_)
        | Target::None => {}
        Target::Reject(w) => target(<reject::Ext as TargetExt>::support(w))?,
        Target::Log(l) => target(<log::Ext as TargetExt>::support(l))?,
    }
    if let Some(f) = rule.fragment {
        return Err(match f {
            crate::model::Fragment::Later => "-f (fragments)".into(),
            crate::model::Fragment::NotLater => "! -f (fragments)".into(),
        });
    }
    for (flag, a) in [("-s", &rule.source), ("-d", &rule.destination)] {
        if let Some(a) = a
            && a.value.prefix_len().is_none()
        {
            return Err(format!(
                "{flag} with a non-contiguous netmask ({}/{})",
                a.value.addr_text(),
                a.value.mask_text()
            ));
        }
    }
    // A check runs after the classifier; netfilter runs a rule's matches
    // in order, so a check's side effect (limit takes a token) before a
    // classifier match happens there even when that match fails.
    let mut check_before: Option<(&'static str, u32)> = None;
    let mut checks = 0u32;
    for m in &rule.matches {
        let support = m.support();
        match &support {
            Enforcement::Always | Enforcement::RuleCheck(_) => {}
            Enforcement::Classifier(_) | Enforcement::ClassifierCheck(..) => {
                if let Some((c, kind)) = check_before {
                    let effect = if kind == firewall_common::check::KIND_TCP_OPTION {
                        "drops a bad TCP option area at -m tcp".to_string()
                    } else {
                        format!("updates -m {c}'s state")
                    };
                    return Err(format!(
                        "-m {c} before -m {} in one rule (netfilter {effect} even for \
                         packets that -m {} then rejects, fw only for packets the \
                         rule's other matches accept; put -m {c} after them)",
                        m.module(),
                        m.module()
                    ));
                }
            }
            Enforcement::Refused(what) => return Err((*what).into()),
        }
        match support {
            // --tcp-option's hot drop, too, happens where its match stands.
            Enforcement::RuleCheck(c) | Enforcement::ClassifierCheck(_, c) => {
                // A pure check (mac, multiport --ports) may stand anywhere.
                if c.has_side_effect() {
                    check_before.get_or_insert((m.module(), c.kind));
                }
                checks += 1;
            }
            Enforcement::Always | Enforcement::Classifier(_) | Enforcement::Refused(_) => {}
        }
    }
    if checks > firewall_common::check::MAX_PER_RULE {
        return Err(format!(
            "more than {} rule checks (-m limit, -m recent, -m mac, -m mark, --ports, --tcp-option, conntrack tuples) in one rule",
            firewall_common::check::MAX_PER_RULE
        ));
    }
    Columns::of_rule(rule).map(|_| ()).map_err(String::from)
}

/// A target extension's answer as [`enforceable`]'s.
fn target(s: TargetSupport) -> Result<(), String> {
    match s {
        // compile.rs `target()` gives each one its `Verdict`.
        TargetSupport::Kernel(_) => Ok(()),
        TargetSupport::Refused(what) => Err(what.into()),
    }
}

/// [`enforceable`] (IPv6: [`enforceable6`]) over every rule of every
/// chain of `ruleset`, built-in and user-defined, in listing order.
///
/// # Errors
/// The first refusal, with the chain and 1-based rule number it is in.
pub fn ruleset_enforceable(ruleset: &Ruleset) -> Result<(), (String, usize, String)> {
    for (chain, rules) in ruleset.all_rules() {
        for (n, rule) in rules.iter().enumerate() {
            enforceable_in(ruleset.family, rule)
                .map_err(|what| (chain.to_string(), n + 1, what))?;
        }
    }
    Ok(())
}

/// [`enforceable`] for a rule of an IPv4 table, [`enforceable6`] of an
/// IPv6 one.
///
/// # Errors
/// As theirs.
pub fn enforceable_in(family: Family, rule: &Rule) -> Result<(), String> {
    match family {
        Family::V4 => enforceable(rule),
        Family::V6 => enforceable6(rule),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Conntrack, CtStates, Match, Multiport, Neg, PortDirection, PortRange, Tcp, Udp,
    };

    fn accept() -> Rule {
        Rule {
            target: Target::Accept,
            ..Rule::default()
        }
    }

    fn multiport(direction: PortDirection) -> Multiport {
        Multiport {
            direction,
            ports: vec![PortRange { lo: 22, hi: 22 }, PortRange { lo: 80, hi: 90 }],
            invert: false,
        }
    }

    #[test]
    fn a_limit_is_enforced_after_the_classifier_matches_only() {
        let limit = Match::Limit(crate::model::ext::Limit::default());
        let tcp = Match::Tcp(Tcp {
            sport: None,
            dport: Some(Neg::is(PortRange { lo: 22, hi: 22 })),
            flags: None,
            option: None,
        });
        let rule = |matches| Rule {
            protocol: Some(Neg::is(6)),
            matches,
            ..accept()
        };
        assert_eq!(enforceable(&rule(vec![tcp.clone(), limit.clone()])), Ok(()));
        assert_eq!(
            enforceable(&rule(vec![limit.clone(), limit.clone()])),
            Ok(())
        );
        // netfilter takes the token before -m tcp refuses the packet.
        assert_eq!(
            enforceable(&rule(vec![limit.clone(), tcp])),
            Err(
                "-m limit before -m tcp in one rule (netfilter updates -m limit's state even for packets that -m tcp then rejects, fw only \
             for packets the rule's other matches accept; put -m limit after them)"
                    .into()
            )
        );
        assert_eq!(
            enforceable(&rule(vec![limit.clone(); 9])),
            Err("more than 8 rule checks (-m limit, -m recent, -m mac, -m mark, --ports, --tcp-option, conntrack tuples) in one rule".into())
        );
    }

    #[test]
    fn recent_is_enforced_but_reap_and_long_hitcounts() {
        let parse = |opts: &str| {
            crate::testing::appended(&format!("-p tcp --dport 22 -m recent {opts} -j DROP"))
        };
        for ok in [
            "--set --name SSH",
            "--update --seconds 60 --hitcount 32 --rttl --name SSH",
            "! --rcheck --rdest --mask 255.255.255.0",
            "--remove",
        ] {
            assert_eq!(enforceable(&parse(ok)), Ok(()), "{ok}");
        }
        // --rcheck only reads: before the port match it answers the same.
        let before = |opts: &str| {
            let mut r = parse(opts);
            r.matches.rotate_left(1);
            enforceable(&r)
        };
        assert_eq!(before("--rcheck --name SSH"), Ok(()));
        assert_eq!(
            before("--update --name SSH"),
            Err(
                "-m recent before -m tcp in one rule (netfilter updates -m recent's state even for packets that -m tcp then rejects, fw only \
             for packets the rule's other matches accept; put -m recent after them)"
                    .into()
            )
        );
        assert_eq!(
            enforceable(&parse("--rcheck --seconds 60 --reap")),
            Err("--reap (-m recent)".into())
        );
        assert_eq!(
            enforceable(&parse("--rcheck --hitcount 33")),
            Err("-m recent --hitcount above 32".into())
        );
    }

    #[test]
    fn multiport_sports_dports_and_ports_are_enforceable() {
        for (proto, direction) in [
            (6, PortDirection::Source),
            (17, PortDirection::Destination),
            (6, PortDirection::Either),
        ] {
            let r = Rule {
                protocol: Some(Neg::is(proto)),
                matches: vec![Match::Multiport(Multiport {
                    invert: true,
                    ..multiport(direction)
                })],
                ..accept()
            };
            assert_eq!(enforceable(&r), Ok(()), "{r:?}");
        }
    }

    #[test]
    fn pure_checks_may_stand_before_classifier_matches() {
        // -m mac and -m multiport --ports change no state: their place in
        // the rule does not matter, unlike -m limit's.
        let mac = Match::Mac(Neg::not([2, 0, 0, 0, 0, 1]));
        let ports = Match::Multiport(multiport(PortDirection::Either));
        let ttl = Match::Ttl(crate::model::Ttl::Eq(64));
        let r = Rule {
            protocol: Some(Neg::is(17)),
            matches: vec![mac.clone(), ports.clone(), ttl.clone()],
            ..accept()
        };
        assert_eq!(enforceable(&r), Ok(()));
        let limit = Match::Limit(crate::model::ext::Limit::default());
        let r = Rule {
            protocol: Some(Neg::is(17)),
            matches: vec![mac, limit, ports, ttl],
            ..accept()
        };
        assert!(
            enforceable(&r)
                .unwrap_err()
                .starts_with("-m limit before -m ttl"),
            "{r:?}"
        );
    }

    #[test]
    fn a_tcp_udp_match_without_options_joins_a_port_match() {
        // `-p udp --dport 123 -m udp` (perfSONAR's rules): the second udp
        // match only says "has ports"; it narrows nothing further.
        let dport = Match::Udp(Udp {
            sport: None,
            dport: Some(Neg::is(PortRange { lo: 123, hi: 123 })),
        });
        let bare = Match::Udp(Udp {
            sport: None,
            dport: None,
        });
        for matches in [vec![dport.clone(), bare.clone()], vec![bare, dport]] {
            let r = Rule {
                protocol: Some(Neg::is(17)),
                matches,
                ..accept()
            };
            assert_eq!(enforceable(&r), Ok(()), "{r:?}");
            let cols = crate::extensions::Columns::of_rule(&r).unwrap();
            assert_eq!(
                cols.ports,
                Some((
                    crate::compile::classes::Constraint::Any,
                    crate::compile::classes::Constraint::Is(vec![(123, 123)])
                ))
            );
        }
    }

    #[test]
    fn header_matches_and_verdicts_are_enforceable() {
        let r = Rule {
            protocol: Some(Neg {
                value: 6,
                invert: false,
            }),
            in_interface: Some(Neg {
                value: "eth+".into(),
                invert: true,
            }),
            matches: vec![Match::Tcp(Tcp {
                sport: None,
                dport: Some(Neg {
                    value: PortRange { lo: 22, hi: 22 },
                    invert: false,
                }),
                flags: None,
                option: None,
            })],
            ..accept()
        };
        assert_eq!(enforceable(&r), Ok(()));
        let commented = Rule {
            matches: vec![Match::Comment("x".into())],
            ..accept()
        };
        assert_eq!(
            enforceable(&commented),
            Ok(()),
            "a comment matches everything"
        );
        for target in [
            Target::Drop,
            Target::Return,
            Target::Jump("x".into()),
            Target::Goto("x".into()),
            Target::None,
        ] {
            assert_eq!(
                enforceable(&Rule {
                    target,
                    ..Rule::default()
                }),
                Ok(())
            );
        }
    }

    #[test]
    fn log_is_enforced_but_its_uid() {
        use crate::model::ext::Log;
        let rule = |l: Log| Rule {
            target: Target::Log(l),
            ..Rule::default()
        };
        let all = Log {
            prefix: "p: ".into(),
            level: 7,
            tcp_sequence: true,
            tcp_options: true,
            ip_options: true,
            macdecode: true,
            ..Log::default()
        };
        assert_eq!(enforceable(&rule(all.clone())), Ok(()));
        assert_eq!(
            enforceable(&rule(Log { uid: true, ..all })),
            Err("-j LOG --log-uid".into())
        );
    }

    #[test]
    fn connection_states_are_enforced() {
        let all = CtStates::NAMES.iter().fold(0, |a, (_, b)| a | b);
        for invert in [false, true] {
            let state = Neg {
                value: CtStates(all),
                invert,
            };
            for m in [
                Match::State(state.clone()),
                Match::Conntrack(Conntrack {
                    state: Some(state.clone()),
                    ..Conntrack::default()
                }),
            ] {
                let rule = Rule {
                    matches: vec![m, Match::Ttl(crate::model::Ttl::Eq(1))],
                    ..accept()
                };
                assert_eq!(enforceable(&rule), Ok(()), "{rule:?}");
            }
        }
    }

    #[test]
    fn conntrack_tuples_are_checks_and_their_ports_need_tcp_or_udp() {
        use firewall_common::check::{KIND_CONNTRACK, conntrack::*};
        let port = Some(Neg::is(PortRange { lo: 80, hi: 80 }));
        let addr = Some(Neg::not(crate::model::CtAddr {
            addr: [192, 0, 2, 1].into(),
            prefix: 24,
        }));
        let state = Some(Neg::is(CtStates(CtStates::NEW)));
        let rule = |c: Conntrack, protocol| Rule {
            protocol,
            matches: vec![Match::Conntrack(c)],
            ..accept()
        };
        // With a state: the state's column and a check that lets a
        // packet without a connection pass.
        let c = Conntrack {
            proto: Some(Neg::is(6)),
            state: state.clone(),
            ports: [None, port.clone(), None, None],
            ..Conntrack::default()
        };
        let Enforcement::ClassifierCheck(cols, check) = Match::Conntrack(c.clone()).support()
        else {
            panic!("{c:?}");
        };
        assert!(cols.ctstate.is_some());
        assert_eq!(
            (check.kind, check.arg, check.b),
            (KIND_CONNTRACK, F_PROTO | F_PORT << 1 | F_STATE, 6)
        );
        assert_eq!(enforceable(&rule(c, None)), Ok(()));
        // Alone: a check whose addresses keep their masks.
        let c = Conntrack {
            addrs: [None, None, None, addr],
            dir: Some(crate::model::CtDir::Reply),
            ..Conntrack::default()
        };
        let Enforcement::RuleCheck(check) = Match::Conntrack(c.clone()).support() else {
            panic!("{c:?}");
        };
        assert_eq!(
            check.arg,
            F_ADDR << 3 | F_ADDR_NOT << 3 | F_DIR | F_DIR_REPLY
        );
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&[192, 0, 2, 1]);
        assert_eq!(c.data()[3], addr_entry(addr, 24));
        assert_eq!(enforceable(&rule(c, None)), Ok(()));
        // Ports of a connection that may be ICMP (its identifier) are refused.
        let ports = Conntrack {
            ports: [None, port, None, None],
            state,
            ..Conntrack::default()
        };
        let refused = "-m conntrack port options without -p tcp, -p udp or --ctproto tcp/udp";
        assert_eq!(enforceable(&rule(ports.clone(), None)), Err(refused.into()));
        assert_eq!(
            enforceable(&rule(ports.clone(), Some(Neg::not(6)))),
            Err(refused.into())
        );
        assert_eq!(enforceable(&rule(ports, Some(Neg::is(17)))), Ok(()));
    }

    #[test]
    fn icmp_types_tcp_flags_and_lengths_are_enforced() {
        use crate::model::{IcmpType, LengthRange, TcpFlags};
        let tcp = |flags, option| {
            Match::Tcp(Tcp {
                sport: None,
                dport: Some(Neg::is(PortRange { lo: 22, hi: 22 })),
                flags,
                option,
            })
        };
        let length = |min, max| Match::Length(Neg::is(LengthRange { min, max }));
        let rule = |matches| Rule {
            matches,
            ..accept()
        };
        for invert in [false, true] {
            let flags = Neg {
                value: TcpFlags::SYN_ONLY,
                invert,
            };
            let icmp = Neg {
                value: IcmpType::ANY,
                invert,
            };
            for r in [
                rule(vec![tcp(Some(flags.clone()), None), length(0, 100)]),
                rule(vec![Match::Icmp(icmp), length(100, 64)]),
                // --tcp-option after the rule's other classifier matches.
                rule(vec![
                    length(0, 100),
                    tcp(Some(flags.clone()), Some(Neg { value: 2, invert })),
                ]),
            ] {
                assert_eq!(enforceable(&r), Ok(()), "{r:?}");
            }
        }
        for (r, what) in [
            (
                // netfilter hot-drops a bad option area before -m length.
                rule(vec![tcp(None, Some(Neg::is(2))), length(0, 100)]),
                "-m tcp before -m length in one rule (netfilter drops a bad TCP option \
                 area at -m tcp even for packets that -m length then rejects, fw only for \
                 packets the rule's other matches accept; put -m tcp after them)",
            ),
            (
                rule(vec![length(0, 1), length(2, 3)]),
                "more than one -m length match in one rule",
            ),
        ] {
            assert_eq!(enforceable(&r), Err(what.to_string()), "{r:?}");
        }
    }

    #[test]
    fn everything_else_is_named() {
        let cases: Vec<(Rule, &str)> = vec![
            (
                Rule {
                    fragment: Some(crate::model::Fragment::Later),
                    ..accept()
                },
                "-f (fragments)",
            ),
            (
                Rule {
                    source: Some(Neg {
                        value: crate::model::AddrMask::V4 {
                            addr: [192, 0, 0, 2].into(),
                            mask: [255, 0, 255, 255].into(),
                        },
                        invert: false,
                    }),
                    ..accept()
                },
                "-s with a non-contiguous netmask (192.0.0.2/255.0.255.255)",
            ),
            (
                Rule {
                    matches: vec![
                        Match::Udp(Udp {
                            sport: None,
                            dport: Some(Neg::is(PortRange { lo: 53, hi: 53 })),
                        }),
                        Match::Udp(Udp {
                            sport: Some(Neg::is(PortRange { lo: 53, hi: 53 })),
                            dport: None,
                        }),
                    ],
                    ..accept()
                },
                "more than one tcp/udp/multiport match in one rule",
            ),
            (
                Rule {
                    protocol: Some(Neg::is(6)),
                    matches: vec![
                        Match::Tcp(Tcp {
                            sport: None,
                            dport: Some(Neg::is(PortRange { lo: 22, hi: 22 })),
                            flags: None,
                            option: None,
                        }),
                        Match::Multiport(multiport(PortDirection::Destination)),
                    ],
                    ..accept()
                },
                "more than one tcp/udp/multiport match in one rule",
            ),
            (
                Rule {
                    protocol: Some(Neg::is(132)),
                    matches: vec![Match::Multiport(multiport(PortDirection::Either))],
                    ..accept()
                },
                "-m multiport with a protocol other than tcp or udp",
            ),
            (
                Rule {
                    protocol: Some(Neg::is(132)),
                    matches: vec![Match::Multiport(multiport(PortDirection::Source))],
                    ..accept()
                },
                "-m multiport with a protocol other than tcp or udp",
            ),
            (
                Rule {
                    source: Some(Neg::is(crate::model::AddrMask::from_prefix(
                        [192, 0, 2, 0].into(),
                        24,
                    ))),
                    matches: vec![Match::Iprange(crate::model::Iprange {
                        src: Some(Neg::is(crate::model::Ipv4Range {
                            lo: [192, 0, 2, 1].into(),
                            hi: [192, 0, 2, 9].into(),
                        })),
                        dst: None,
                    })],
                    ..accept()
                },
                "-s and -m iprange --src-range in one rule",
            ),
            (
                Rule {
                    matches: vec![
                        Match::State(Neg::is(CtStates(CtStates::NEW))),
                        Match::Conntrack(Conntrack {
                            state: Some(Neg::is(CtStates(CtStates::INVALID))),
                            ..Conntrack::default()
                        }),
                    ],
                    ..accept()
                },
                "more than one connection state match in one rule",
            ),
        ];
        for (rule, what) in cases {
            assert_eq!(enforceable(&rule), Err(what.to_string()), "{rule:?}");
        }
    }
}
