//! Tests of the grammar against what iptables-legacy 1.8.9 accepts, refuses
//! and prints (each expectation checked with the real binary in a network
//! namespace), and round trips through [`crate::render::rule_spec`].

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::{services::tests::sample, *};
use crate::{
    command::{Command, Invocation, Options, RuleRef, Zeroing},
    model::{
        AddrMask, AddrTypes, Addrtype, Conntrack, CtStates, Fragment, IcmpType, Iprange, Ipv4Range,
        LengthRange, Limit, LimitIface, Log, Match, Multiport, Neg, Policy, PortDirection,
        PortRange, RejectWith, Rule, SetDir, SetMatch, Target, Tcp, TcpFlags, Ttl, Udp,
    },
    render,
};

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn parse(line: &str) -> Result<Invocation, ParseError> {
    parse_args_with(&words(line), &sample())
}

fn ok(line: &str) -> Invocation {
    parse(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn err(line: &str) -> ParseError {
    match parse(line) {
        Ok(i) => panic!("{line}: accepted as {i:?}"),
        Err(e) => e,
    }
}

/// Each line is refused with its message.
fn refused(cases: &[(&str, &str)]) {
    for (line, msg) in cases {
        assert_eq!(err(line).to_string(), *msg, "{line}");
    }
}

/// Each line is refused with its message and exit code.
fn refused_with_codes(cases: &[(&str, &str, i32)]) {
    for (line, msg, code) in cases {
        let e = err(line);
        assert_eq!(
            (e.to_string().as_str(), e.exit_code()),
            (*msg, *code),
            "{line}"
        );
    }
}

/// The rule of an `-A` line.
fn rule(line: &str) -> Rule {
    match ok(line).command {
        Command::Append { mut rules, .. } if rules.len() == 1 => rules.remove(0),
        c => panic!("{line}: {c:?}"),
    }
}

fn accept() -> Rule {
    Rule {
        fragment: None,
        protocol: None,
        source: None,
        destination: None,
        in_interface: None,
        out_interface: None,
        matches: vec![],
        target: Target::Accept,
    }
}

fn neg<T>(value: T, invert: bool) -> Option<Neg<T>> {
    Some(Neg { value, invert })
}

fn net(a: [u8; 4], prefix: u8) -> AddrMask {
    AddrMask::from_prefix(Ipv4Addr::from(a), prefix)
}

fn ports(lo: u16, hi: u16) -> PortRange {
    PortRange { lo, hi }
}

fn opts(verbose: bool, numeric: bool, exact: bool, line_numbers: bool) -> Options {
    Options {
        verbose,
        numeric,
        exact,
        line_numbers,
    }
}

// ---- The examples of the brief, with iptables' exact words. ----

#[test]
fn brief_examples() {
    let e = err("-A INPUT -p tcp --dport 99999 -j ACCEPT");
    assert_eq!(e.to_string(), "invalid port/service `99999' specified");
    assert_eq!((e.exit_code(), e.token()), (2, Some("99999")));

    let e = err("-A INPUT --dport 22 -j ACCEPT");
    assert_eq!(e.to_string(), "unknown option \"--dport\"");
    assert_eq!((e.exit_code(), e.token()), (2, Some("--dport")));

    let e = err("-A INPUT -m unknownmatch -j ACCEPT");
    assert_eq!(
        e.to_string(),
        "Couldn't load match `unknownmatch':No such file or directory"
    );
    assert_eq!((e.exit_code(), e.token()), (2, Some("unknownmatch")));

    let e = err("-A INPUT -s 192.0.2.1/33 -j DROP");
    assert_eq!(e.to_string(), "invalid mask `33' specified");
    assert_eq!((e.exit_code(), e.token()), (2, Some("33")));

    let e = err("-A INPUT -o eth0 -j DROP");
    assert_eq!(e.to_string(), "Can't use -o with INPUT");
    let e = err("-A OUTPUT -i eth0 -j DROP");
    assert_eq!(e.to_string(), "Can't use -i with OUTPUT");
}

// ---- Accepted command lines. ----

#[test]
fn append_full_rule() {
    let r = rule(
        "-A INPUT ! -s 192.0.2.7/24 -d 198.51.100.0/255.255.0.255 -i eth+ -p udp ! --sport 1000:2000 --dport :53 -j DROP",
    );
    assert_eq!(
        r,
        Rule {
            fragment: None,
            protocol: neg(17, false),
            source: neg(net([192, 0, 2, 0], 24), true),
            destination: neg(
                AddrMask::V4 {
                    addr: [198, 51, 0, 0].into(),
                    mask: [255, 255, 0, 255].into()
                },
                false
            ),
            in_interface: neg("eth+".into(), false),
            out_interface: None,
            matches: vec![Match::Udp(Udp {
                sport: neg(ports(1000, 2000), true),
                dport: neg(ports(0, 53), false),
            })],
            target: Target::Drop,
        }
    );
}

#[test]
fn implicit_and_explicit_tcp() {
    let expect = Rule {
        fragment: None,
        protocol: neg(6, false),
        matches: vec![Match::Tcp(Tcp {
            flags: None,
            option: None,
            sport: None,
            dport: neg(ports(22, 22), false),
        })],
        ..accept()
    };
    for line in [
        "-A INPUT -p tcp --dport 22 -j ACCEPT",
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
        "-A INPUT -m tcp -p tcp --dport 22 -j ACCEPT",
        "-A INPUT -p 6 --destination-port ssh -j ACCEPT",
        "-A INPUT -p TCP --dport=22 -j ACCEPT",
        "-A INPUT -p tcp --dport 0x16 --jump ACCEPT",
        "-A INPUT -p tcp --dp 22 -j ACCEPT",
        "-AINPUT -ptcp --dport 22 -jACCEPT",
        "--append=INPUT --protocol=tcp --dport=22 --jump=ACCEPT",
        "--append INPUT --protocol tcp --destination-port 22 --jump ACCEPT",
    ] {
        assert_eq!(rule(line), expect, "{line}");
    }
    // -p tcp alone loads no module.
    assert_eq!(
        rule("-A INPUT -p tcp -j ACCEPT"),
        Rule {
            fragment: None,
            protocol: neg(6, false),
            ..accept()
        }
    );
    // Explicit -m tcp with no option is a match of its own.
    assert_eq!(
        rule("-A INPUT -p tcp -m tcp -j ACCEPT").matches,
        vec![Match::Tcp(Tcp {
            flags: None,
            option: None,
            sport: None,
            dport: None
        })]
    );
}

#[test]
fn options_go_to_the_newest_module() {
    // iptables: "-A INPUT -p tcp -m tcp --sport 1 --sport 3 --dport 2" (second instance).
    assert_eq!(
        rule("-A INPUT -p tcp --sport 1 -m tcp --dport 2 --sport 3 -j ACCEPT").matches,
        vec![
            Match::Tcp(Tcp {
                flags: None,
                option: None,
                sport: neg(ports(1, 1), false),
                dport: None
            }),
            Match::Tcp(Tcp {
                flags: None,
                option: None,
                sport: neg(ports(3, 3), false),
                dport: neg(ports(2, 2), false)
            }),
        ]
    );
    assert_eq!(
        rule("-A INPUT -p tcp -m tcp -m tcp --sport 1 -j ACCEPT").matches,
        vec![
            Match::Tcp(Tcp {
                flags: None,
                option: None,
                sport: None,
                dport: None
            }),
            Match::Tcp(Tcp {
                flags: None,
                option: None,
                sport: neg(ports(1, 1), false),
                dport: None
            }),
        ]
    );
}

#[test]
fn normal_forms() {
    // Stored as iptables stores them: like no option at all.
    assert_eq!(rule("-A INPUT -p all -j ACCEPT"), accept());
    assert_eq!(rule("-A INPUT -p 0 -j ACCEPT"), accept());
    assert_eq!(rule("-A INPUT -s 0.0.0.0/0 -d 0/0 -j ACCEPT"), accept());
    assert_eq!(rule("-A INPUT -s 192.0.2.1/0 -j ACCEPT"), accept());
    assert_eq!(
        rule("-A INPUT -p tcp --sport 0:65535 --dport : -j ACCEPT").matches,
        vec![Match::Tcp(Tcp {
            flags: None,
            option: None,
            sport: None,
            dport: None
        })]
    );
    // Inverted, they match nothing and are kept.
    assert_eq!(
        rule("-A INPUT ! -s 0/0 -j ACCEPT").source,
        neg(net([0; 4], 0), true)
    );
    assert_eq!(
        rule("-A INPUT -p tcp ! --sport 0:65535 -j ACCEPT").matches,
        vec![Match::Tcp(Tcp {
            flags: None,
            option: None,
            sport: neg(ports(0, 65535), true),
            dport: None
        })]
    );
    assert_eq!(
        rule("-A INPUT -s 192.0.2.1 -j ACCEPT").source,
        neg(net([192, 0, 2, 1], 32), false)
    );
    assert_eq!(
        rule("-A INPUT --src 192.0.2.1/32 -j ACCEPT").source,
        neg(net([192, 0, 2, 1], 32), false)
    );
    assert_eq!(rule("-A INPUT ! -p gre -j ACCEPT").protocol, neg(47, true));
    // udp looks service names up for any protocol, numbers are decimal.
    assert_eq!(
        rule("-A INPUT -p udp --dport ssh --sport 022 -j ACCEPT").matches,
        vec![Match::Udp(Udp {
            sport: neg(ports(22, 22), false),
            dport: neg(ports(22, 22), false)
        })]
    );
    // udp looks service names up for any protocol; its numbers are decimal.
    assert_eq!(
        rule("-A INPUT -p udp --dport ssh --sport 022 -j ACCEPT").matches,
        vec![Match::Udp(Udp {
            sport: neg(ports(22, 22), false),
            dport: neg(ports(22, 22), false)
        })]
    );
    assert_eq!(
        rule("-A INPUT -p udp --sport 5: -j ACCEPT").matches,
        vec![Match::Udp(Udp {
            sport: neg(ports(5, 65535), false),
            dport: None
        })]
    );
}

#[test]
fn commands() {
    let cmd = |line: &str| ok(line).command;
    assert_eq!(
        cmd("-I INPUT -j ACCEPT"),
        Command::Insert {
            chain: "INPUT".into(),
            index: 1,
            rules: vec![accept()]
        }
    );
    assert_eq!(
        cmd("-I FORWARD 3 -j ACCEPT"),
        Command::Insert {
            chain: "FORWARD".into(),
            index: 3,
            rules: vec![accept()]
        }
    );
    assert_eq!(
        cmd("--insert OUTPUT 0x2 -j ACCEPT"),
        Command::Insert {
            chain: "OUTPUT".into(),
            index: 2,
            rules: vec![accept()]
        }
    );
    assert_eq!(
        cmd("-D INPUT 2"),
        Command::Delete {
            chain: "INPUT".into(),
            which: RuleRef::Number(2)
        }
    );
    assert_eq!(
        cmd("-D INPUT -j ACCEPT"),
        Command::Delete {
            chain: "INPUT".into(),
            which: RuleRef::Spec(vec![accept()])
        }
    );
    assert_eq!(cmd("-F"), Command::Flush { chain: None });
    assert_eq!(
        cmd("--flush INPUT"),
        Command::Flush {
            chain: Some("INPUT".into())
        }
    );
    assert_eq!(
        cmd("-P FORWARD DROP"),
        Command::Policy {
            chain: "FORWARD".into(),
            policy: Policy::Drop
        }
    );
    assert_eq!(
        cmd("--policy=INPUT ACCEPT"),
        Command::Policy {
            chain: "INPUT".into(),
            policy: Policy::Accept
        }
    );
    assert_eq!(
        cmd("-L"),
        Command::List {
            chain: None,
            rule: None,
            zero: Zeroing::Not
        }
    );
    assert_eq!(
        cmd("-L INPUT"),
        Command::List {
            chain: Some("INPUT".into()),
            rule: None,
            zero: Zeroing::Not,
        }
    );
    assert_eq!(
        cmd("-LINPUT"),
        Command::List {
            chain: Some("INPUT".into()),
            rule: None,
            zero: Zeroing::Not,
        }
    );
    assert_eq!(
        cmd("--list=OUTPUT"),
        Command::List {
            chain: Some("OUTPUT".into()),
            rule: None,
            zero: Zeroing::Not,
        }
    );
    assert_eq!(
        cmd("-S"),
        Command::ListRules {
            chain: None,
            rule: None,
            zero: Zeroing::Not
        }
    );
    assert_eq!(
        cmd("--list-rules FORWARD"),
        Command::ListRules {
            chain: Some("FORWARD".into()),
            rule: None,
            zero: Zeroing::Not,
        }
    );
    assert_eq!(
        cmd("-Z"),
        Command::Zero {
            chain: None,
            rule: None
        }
    );
    assert_eq!(
        cmd("-Z INPUT"),
        Command::Zero {
            chain: Some("INPUT".into()),
            rule: None,
        }
    );
    // Any chain name parses; whether it exists is checked later.
    assert_eq!(
        cmd("-L FOO"),
        Command::List {
            chain: Some("FOO".into()),
            rule: None,
            zero: Zeroing::Not,
        }
    );
    assert_eq!(
        cmd("-A ABCDEFGHIJABCDEFGHIJABCDEFGH -j ACCEPT"),
        Command::Append {
            chain: "ABCDEFGHIJABCDEFGHIJABCDEFGH".into(),
            rules: vec![accept()]
        }
    );
    // -A takes the next word whatever it is (iptables then finds no chain "-s").
    assert_eq!(
        cmd("-A -s -j ACCEPT"),
        Command::Append {
            chain: "-s".into(),
            rules: vec![accept()]
        }
    );
}

#[test]
fn list_options() {
    let o = |line: &str| ok(line).options;
    assert_eq!(o("-L"), opts(false, false, false, false));
    assert_eq!(o("-nvL"), opts(true, true, false, false));
    assert_eq!(o("-L INPUT -nv"), opts(true, true, false, false));
    assert_eq!(
        o("-L -v -n -x --line-numbers"),
        opts(true, true, true, true)
    );
    assert_eq!(
        o("--list --verbose --numeric --exact --line"),
        opts(true, true, true, true)
    );
    assert_eq!(o("-L -v -v"), opts(true, false, false, false));
    assert_eq!(o("-vL INPUT"), opts(true, false, false, false));
    assert!(o("-A INPUT -j ACCEPT -v").verbose);
    assert!(o("-S -v").verbose);
    assert!(o("-F -v").verbose);
    assert_eq!(
        ok("-nvL INPUT").command,
        Command::List {
            chain: Some("INPUT".into()),
            rule: None,
            zero: Zeroing::Not,
        }
    );
}

#[test]
fn ignored_options() {
    for line in [
        "-w -A INPUT -j ACCEPT",
        "-w 5 -A INPUT -j ACCEPT",
        "-w5 -A INPUT -j ACCEPT",
        "--wait=5 -A INPUT -j ACCEPT",
        "-w -W 100 -A INPUT -j ACCEPT",
        "-t filter -A INPUT -j ACCEPT",
        "-4 -A INPUT -j ACCEPT",
        "-A INPUT -j ACCEPT --",
    ] {
        assert_eq!(ok(line).command, ok("-A INPUT -j ACCEPT").command, "{line}");
    }
}

#[test]
fn wait_seconds_are_kept_and_wait_interval_checked() {
    // iptables 1.8.9: no -w, -w alone and -w 0 all wait as long as it takes.
    for (line, wait) in [
        ("-A INPUT -j ACCEPT", None),
        ("-w -A INPUT -j ACCEPT", None),
        ("-w 0 -A INPUT -j ACCEPT", None),
        ("-w 5 -A INPUT -j ACCEPT", Some(5)),
        ("-w5 -L", Some(5)),
        ("--wait=7 -L", Some(7)),
        ("-w 3x -L", Some(3)),
    ] {
        assert_eq!(ok(line).wait, wait, "{line}");
    }
    assert!(ok("-w 1 -W 999999 -L").wait_interval);
    assert!(!ok("-w 1 -L").wait_interval);
    let e = err("-w 1 -W 1000000 -L");
    assert_eq!(e.to_string(), "too long usec wait 1000000 > 999999 usec");
    assert_eq!(e.exit_code(), 2);
}

// ---- Refused command lines: every error class, in iptables' words. ----

#[test]
fn command_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "no command specified"),
        ("-v", "no command specified"),
        ("-A INPUT -D INPUT 1", "Cannot use -D with -A"),
        ("-A INPUT -j ACCEPT -I INPUT", "Cannot use -I with -A"),
        ("-F -L", "Cannot use -L with -F"),
        ("! -A INPUT -j ACCEPT", "unexpected '!' flag"),
        ("-A", "option \"-A\" requires an argument"),
        ("--append", "option \"--append\" requires an argument"),
        ("-A INPUT -j ACCEPT extra", "Bad argument `extra'"),
        ("-L -nv INPUT", "Bad argument `INPUT'"),
        ("-L INPUT 1 2", "Bad argument `2'"),
        ("-L INPUT FORWARD", "Invalid rule number `FORWARD'"),
        ("-S INPUT FORWARD", "Invalid rule number `FORWARD'"),
        ("-D INPUT -v 1", "Bad argument `1'"),
        ("-F INPUT 1", "Bad argument `1'"),
        ("-P INPUT ACCEPT extra", "Bad argument `extra'"),
        ("-L -- INPUT", "unknown arguments found on commandline"),
        ("-I INPUT 0 -j ACCEPT", "Invalid rule number `0'"),
        ("-I INPUT foo -j ACCEPT", "Invalid rule number `foo'"),
        (
            "-I INPUT 2147483648 -j ACCEPT",
            "Invalid rule number `2147483648'",
        ),
        ("-D INPUT 0", "Invalid rule number `0'"),
        ("-D INPUT x", "Invalid rule number `x'"),
        ("-Z INPUT x", "Invalid rule number `x'"),
        ("-P INPUT", "-P requires a chain and a policy"),
        (
            "-P INPUT REJECT",
            "Bad policy name. Run `dmesg' for more information.",
        ),
        (
            "-P INPUT accept",
            "Bad policy name. Run `dmesg' for more information.",
        ),
        (
            "-A ABCDEFGHIJABCDEFGHIJABCDEFGHI -j ACCEPT",
            "chain name `ABCDEFGHIJABCDEFGHIJABCDEFGHI' too long (must be under 29 chars)",
        ),
        (
            "-L ABCDEFGHIJABCDEFGHIJABCDEFGHI",
            "chain name `ABCDEFGHIJABCDEFGHIJABCDEFGHI' too long (must be under 29 chars)",
        ),
        (
            "-F ABCDEFGHIJABCDEFGHIJABCDEFGHI",
            "chain name `ABCDEFGHIJABCDEFGHIJABCDEFGHI' too long (must be under 29 chars)",
        ),
        ("-w x -A INPUT -j ACCEPT", "wait seconds not numeric"),
        (
            "-W 5 -A INPUT -j ACCEPT",
            "--wait-interval only makes sense with --wait",
        ),
        (
            "-t foo -A INPUT -j ACCEPT",
            "can't initialize iptables table `foo': Table does not exist (do you need to insmod?)",
        ),
        ("! -t filter -L", "unexpected ! flag before --table"),
    ];
    refused(cases);
    assert_eq!(err("-P INPUT REJECT").exit_code(), 1);
    assert_eq!(err("-t foo -L").exit_code(), 3);
}

#[test]
fn command_combinations_and_chain_order() {
    let cases: &[(&str, &str, i32)] = &[
        ("-W -w -L", "wait interval value required", 2),
        ("-W x -w -L", "wait interval not numeric", 2),
        ("-P FOO REJECT", "Bad built-in chain name.", 1),
        ("-S -Z -Z", "Cannot use -Z with -Z", 2),
        ("-Lv -Z -FINPUT --numeric", "Cannot use -F with -Z", 2),
        ("-nL -ZL --list-rules=INPUT", "Cannot use -S with -L", 2),
        (
            "--verbose -n -L --zero -nL",
            "multiple -n flags not allowed",
            2,
        ),
        (
            "-n -Z --list-rules=INPUT",
            "Illegal option `-n' with this command",
            2,
        ),
    ];
    refused_with_codes(cases);
    // Whether a chain exists (and what -j names) is exec's to check.
    assert_eq!(
        ok("-L -Z INPUT -n").command,
        Command::List {
            chain: Some("INPUT".into()),
            rule: None,
            zero: Zeroing::Chain
        }
    );
    // `--zero` takes the next plain word as its chain (iptables then finds
    // no chain "0").
    assert_eq!(
        ok("-S OUTPUT --zero 0").command,
        Command::ListRules {
            chain: Some("0".into()),
            rule: None,
            zero: Zeroing::Chain
        }
    );
    assert_eq!(rule("-A FOO -j BAR").target, Target::Jump("BAR".into()));
    // With a good policy, a chain that is not built in is the caller's to check.
    assert_eq!(
        ok("-P FOO ACCEPT").command,
        Command::Policy {
            chain: "FOO".into(),
            policy: Policy::Accept
        }
    );
    let v = "v1.8.9 (legacy)";
    assert_eq!(
        err("-W 5 -L").iptables_stderr("iptables", v),
        "Ignoring deprecated --wait-interval option.\n\
         iptables v1.8.9 (legacy): --wait-interval only makes sense with --wait\n\n\
         Try `iptables -h' or 'iptables --help' for more information.\n"
    );
}

#[test]
fn option_errors() {
    let cases: &[(&str, &str)] = &[
        ("-L ! -v", "cannot have ! before -v"),
        ("-L ! -n", "cannot have ! before -n"),
        ("-L ! -x", "cannot have ! before -x"),
        ("-L ! --line-numbers", "cannot have ! before -0"),
        ("-A INPUT ! -j ACCEPT", "cannot have ! before -j"),
        (
            "-A INPUT ! -m tcp -j ACCEPT",
            "unexpected ! flag before --match",
        ),
        (
            "-A INPUT ! ! -s 192.0.2.1 -j ACCEPT",
            "multiple consecutive ! not allowed",
        ),
        ("-A INPUT -j ACCEPT !", "nothing appropriate following !"),
        ("-L -n -n", "multiple -n flags not allowed"),
        ("-L -x -x", "multiple -x flags not allowed"),
        (
            "-L --line-numbers --line-numbers",
            "multiple -0 flags not allowed",
        ),
        (
            "-A INPUT -p tcp -p tcp -j ACCEPT",
            "multiple -p flags not allowed",
        ),
        (
            "-A INPUT -s 192.0.2.1 -s 192.0.2.2 -j ACCEPT",
            "multiple -s flags not allowed",
        ),
        (
            "-A INPUT -j ACCEPT -j DROP",
            "multiple -j flags not allowed",
        ),
        (
            "-A INPUT -j ACCEPT -n",
            "Illegal option `-n' with this command",
        ),
        (
            "-A INPUT -j ACCEPT -x",
            "Illegal option `-x' with this command",
        ),
        (
            "-A INPUT -j ACCEPT --line-numbers",
            "Illegal option `-0' with this command",
        ),
        ("-S -n", "Illegal option `-n' with this command"),
        ("-S --line-numbers", "Illegal option `-0' with this command"),
        ("-F -n", "Illegal option `-n' with this command"),
        ("-Z -n", "Illegal option `-n' with this command"),
        ("-L -s 192.0.2.1", "Illegal option `-s' with this command"),
        ("-L -p tcp", "Illegal option `-p' with this command"),
        ("-L -j ACCEPT", "Illegal option `-j' with this command"),
        ("-L -i lo", "Illegal option `-i' with this command"),
        (
            "-D INPUT 1 -j ACCEPT",
            "Illegal option `-j' with this command",
        ),
        (
            "-P INPUT ACCEPT -s 192.0.2.1",
            "Illegal option `-s' with this command",
        ),
        (
            "-P INPUT ACCEPT -n",
            "Illegal option `-n' with this command",
        ),
        ("-A INPUT -nfoo", "Illegal option `-n' with this command"),
        // fw refuses a match that iptables would silently ignore here.
        (
            "-F -m tcp --dport 22",
            "Illegal option `-m' with this command",
        ),
        ("-A INPUT -s", "option \"-s\" requires an argument"),
        ("-A INPUT -j", "option \"-j\" requires an argument"),
        (
            "-A INPUT -p tcp --dport",
            "option \"--dport\" requires an argument",
        ),
        (
            "-A INPUT -p tcp --sport",
            "option \"--sport\" requires an argument",
        ),
        ("-A INPUT --foo", "unknown option \"--foo\""),
        ("-A INPUT -y", "unknown option \"-y\""),
        ("-L --foo", "unknown option \"--foo\""),
        ("-A INPUT --s 192.0.2.1 -j ACCEPT", "unknown option \"--s\""),
        ("--li", "unknown option \"--li\""),
        ("-A INPUT --verbose=1", "unknown option \"--verbose=1\""),
        (
            "-A INPUT -p udp --syn -j ACCEPT",
            "unknown option \"--syn\"",
        ),
        (
            "-A INPUT -p udp --foo -j ACCEPT",
            "unknown option \"--foo\"",
        ),
        (
            "-A INPUT -p icmp --dport 22 -j ACCEPT",
            "unknown option \"--dport\"",
        ),
        (
            "-A INPUT -p all --dport 22 -j ACCEPT",
            "unknown option \"--dport\"",
        ),
        (
            "-A INPUT --dport 22 -p tcp -j ACCEPT",
            "unknown option \"--dport\"",
        ),
    ];
    refused(cases);
}

#[test]
fn value_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "-A INPUT -p foo -j ACCEPT",
            "unknown protocol \"foo\" specified",
        ),
        (
            "-A INPUT -p FOO -j ACCEPT",
            "unknown protocol \"foo\" specified",
        ),
        (
            "-A INPUT -p 256 -j ACCEPT",
            "unknown protocol \"256\" specified",
        ),
        (
            "-A INPUT -p -1 -j ACCEPT",
            "unknown protocol \"-1\" specified",
        ),
        (
            "-A INPUT ! -p all -j ACCEPT",
            "rule would never match protocol",
        ),
        (
            "-A INPUT ! -p 0 -j ACCEPT",
            "rule would never match protocol",
        ),
        (
            "-A INPUT -s 192.0.2.256 -j DROP",
            "host/network `192.0.2.256' not found",
        ),
        (
            "-A INPUT -s 192.0.2.1/32/32 -j DROP",
            "host/network `192.0.2.1/32' not found",
        ),
        (
            "-A INPUT -s 192.0.2.1/-1 -j DROP",
            "invalid mask `-1' specified",
        ),
        (
            "-A INPUT -d 192.0.2.1/255.0.255.256 -j DROP",
            "invalid mask `255.0.255.256' specified",
        ),
        (
            "-A INPUT -i 0123456789abcdef -j DROP",
            "interface name `0123456789abcdef' must be shorter than IFNAMSIZ (15)",
        ),
        (
            "-A INPUT -p tcp --dport 65536 -j ACCEPT",
            "invalid port/service `65536' specified",
        ),
        (
            "-A INPUT -p tcp --dport -1 -j ACCEPT",
            "invalid port/service `-1' specified",
        ),
        (
            "-A INPUT -p tcp --dport SSH -j ACCEPT",
            "invalid port/service `SSH' specified",
        ),
        (
            "-A INPUT -p tcp --dport bootps -j ACCEPT",
            "invalid port/service `bootps' specified",
        ),
        (
            "-A INPUT -p tcp --dport 1:2:3 -j ACCEPT",
            "invalid port/service `2:3' specified",
        ),
        (
            "-A INPUT -p tcp --sport=!22",
            "invalid port/service `!22' specified",
        ),
        // iptables 1.8.9 has dropped the old "--dport ! 22" form.
        (
            "-A INPUT -p tcp --dport ! 22 -j ACCEPT",
            "invalid port/service `!' specified",
        ),
        (
            "-A INPUT -p tcp --dport 30:20 -j ACCEPT",
            "invalid portrange (min > max)",
        ),
        (
            "-A INPUT -p tcp --dport 22 --dport 23 -j ACCEPT",
            "Only one `--destination-port' allowed",
        ),
        (
            "-A INPUT -p tcp --dport 22 --destination-port 23 -j ACCEPT",
            "Only one `--destination-port' allowed",
        ),
        (
            "-A INPUT -p udp --sport 1 --sport 1 -j ACCEPT",
            "udp: option \"--source-port\" can only be used once.",
        ),
        (
            "-A INPUT -p udp --dport 1 --destination-port 2 -j ACCEPT",
            "udp: option \"--destination-port\" can only be used once.",
        ),
        (
            "-A INPUT -p udp --dport 0x50 -j ACCEPT",
            "Port \"0x50\" does not resolve to anything.",
        ),
        (
            "-A INPUT -p udp --dport ! 22 -j ACCEPT",
            "Port \"!\" does not resolve to anything.",
        ),
        (
            "-A INPUT -p udp --dport 1:2:3 -j ACCEPT",
            "udp: Too many components for option \"--destination-port\" (max: 2)",
        ),
        // iptables truncates 99999 to 34463 here; fw refuses.
        (
            "-A INPUT -p udp --dport 99999 -j ACCEPT",
            "Port \"99999\" does not resolve to anything.",
        ),
        (
            "-A INPUT -m tcp -p tcp -m tcp --dport 1 --sport 2 --dport 3",
            "Only one `--destination-port' allowed",
        ),
        (
            "-A INPUT -m TCP",
            "Couldn't load match `TCP':No such file or directory",
        ),
        (
            "-A INPUT -j ABCDEFGHIJABCDEFGHIJABCDEFGHI",
            "Invalid target name `ABCDEFGHIJABCDEFGHIJABCDEFGHI' (28 chars max)",
        ),
        // The kernel's refusals (iptables: "Invalid argument", exit 1).
        (
            "-A INPUT -m tcp --dport 22 -j ACCEPT",
            "tcp match: only valid for protocol 6",
        ),
        (
            "-A INPUT -p udp -m tcp --dport 22 -j ACCEPT",
            "tcp match: only valid for protocol 6",
        ),
        (
            "-A INPUT ! -p tcp --dport 22 -j ACCEPT",
            "tcp match: only valid for protocol 6",
        ),
        (
            "-A INPUT -p tcp -m udp --dport 22 -j ACCEPT",
            "udp match: only valid for protocol 17",
        ),
    ];
    refused(cases);
    // Words with spaces need argv, not split_whitespace.
    let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let e =
        parse_args_with(&argv(&["-A", "INPUT", "-i", "", "-j", "DROP"]), &sample()).unwrap_err();
    assert_eq!(e.to_string(), "Empty interface is likely to be undesired");
    let e =
        parse_args_with(&argv(&["-A", "INPUT", "-s", "", "-j", "DROP"]), &sample()).unwrap_err();
    assert_eq!(e.to_string(), "host/network `' not found");
    let e = parse_args_with(&argv(&["-A", "INPUT", "-j", "A B"]), &sample()).unwrap_err();
    assert_eq!(e.to_string(), "Invalid target name `A B'");
    let e = parse_args_with(&argv(&["-A", "INPUT", "-j", ""]), &sample()).unwrap_err();
    assert_eq!(e.to_string(), "Invalid target name (too short)");
    let e = parse_args_with(
        &argv(&["-A", "INPUT", "-p", "tcp", "--dport", "22 "]),
        &sample(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "invalid port/service `22 ' specified");
    assert_eq!(err("-A INPUT -m tcp --dport 22 -j ACCEPT").exit_code(), 1);
}

#[test]
fn error_order_follows_iptables() {
    // Protocols and ports are checked as they come, addresses after the pass.
    assert_eq!(
        err("-A INPUT -s 192.0.2.1/33 -p foo").to_string(),
        "unknown protocol \"foo\" specified"
    );
    assert_eq!(
        err("-A INPUT -s 192.0.2.1/33 -m foo").to_string(),
        "Couldn't load match `foo':No such file or directory"
    );
    assert_eq!(
        err("-A INPUT -s 192.0.2.1/33 -j FOO").to_string(),
        "invalid mask `33' specified"
    );
    assert_eq!(
        err("-A INPUT -s 192.0.2.1/33 -n").to_string(),
        "invalid mask `33' specified"
    );
    assert_eq!(
        err("-L -s 192.0.2.1/33").to_string(),
        "invalid mask `33' specified"
    );
    assert_eq!(
        err("-A INPUT -o eth0 -s 192.0.2.1/33").to_string(),
        "invalid mask `33' specified"
    );
    assert_eq!(
        err("-A ABCDEFGHIJABCDEFGHIJABCDEFGHI -n").to_string(),
        "Illegal option `-n' with this command"
    );
    assert_eq!(
        err("-A INPUT -s 192.0.2.1/33 !").to_string(),
        "nothing appropriate following !"
    );
    assert_eq!(
        err("-A INPUT -i 0123456789abcdef -s 192.0.2.1/33").to_string(),
        "interface name `0123456789abcdef' must be shorter than IFNAMSIZ (15)"
    );
    assert_eq!(
        err("-A INPUT -p tcp --dport 65536 -s 1.1.1.1/33").to_string(),
        "invalid port/service `65536' specified"
    );
    assert_eq!(
        err("-A INPUT -s -j ACCEPT").to_string(),
        "Bad argument `ACCEPT'"
    );
    assert_eq!(
        err("-A INPUT -j ACCEPT ! -p").to_string(),
        "option \"-p\" requires an argument"
    );
    assert_eq!(
        err("-A INPUT -p tcp --dport 22 -A INPUT").to_string(),
        "Cannot use -A with -A"
    );
}

#[test]
fn not_supported_yet() {
    // What fw cannot even represent: other tables, match modules and
    // targets it does not parse, options of them, counters, names.
    let cases: &[(&str, &str, &str)] = &[
        (
            "-A INPUT -m u32 --u32 0>>22&0x3C@12>>26&0x3C@0=0x50 -j ACCEPT",
            "-m u32",
            "u32",
        ),
        (
            "-A INPUT -m conntrack --ctstatus ASSURED -j ACCEPT",
            "--ctstatus (-m conntrack)",
            "--ctstatus",
        ),
        (
            "-A INPUT -m set --match-set s src --return-nomatch -j ACCEPT",
            "--return-nomatch (-m set)",
            "--return-nomatch",
        ),
        ("-A INPUT -j QUEUE", "-j QUEUE", "QUEUE"),
        ("-A INPUT -j MASQUERADE", "-j MASQUERADE", "MASQUERADE"),
        (
            "-A INPUT -p sctp --dport 22 -j ACCEPT",
            "--dport (-m sctp)",
            "--dport",
        ),
        ("-c 1 2 -A INPUT -j ACCEPT", "-c (setting counters)", "-c"),
        ("-t nat -A PREROUTING -j ACCEPT", "-t nat", "nat"),
        ("-V", "-V", "-V"),
        ("-h", "-h", "-h"),
        (
            "-A INPUT -s localhost -j ACCEPT",
            "host name `localhost' (fw does not resolve names: give an IPv4 address)",
            "localhost",
        ),
        (
            "-A INPUT -p mptcp -j ACCEPT",
            "-p mptcp (protocol 262 is not an IPv4 protocol number)",
            "mptcp",
        ),
    ];
    for (line, what, token) in cases {
        let e = err(line);
        assert_eq!(
            e.to_string(),
            format!("not supported yet: {what}"),
            "{line}"
        );
        assert_eq!(e.token(), Some(*token), "{line}");
        assert_eq!(e.exit_code(), 2, "{line}");
    }
    assert_eq!(err("-6 -A INPUT -j ACCEPT"), ParseError::Ipv6);
}

#[test]
fn the_whole_language_parses() {
    // Everything fw's first parser refused at parse time is now part of the
    // model (whether it is enforced is model::support's business).
    for line in [
        "-A INPUT -m conntrack --ctstate NEW -j ACCEPT",
        "-A INPUT -m state --state NEW -j ACCEPT",
        "-A INPUT -m comment --comment x -j ACCEPT",
        "-A INPUT -p tcp -m multiport --dports 1,2 -j ACCEPT",
        "-A INPUT -j REJECT",
        "-A INPUT -j LOG",
        "-A INPUT -j RETURN",
        "-A INPUT -g FOO",
        "-A INPUT -p tcp --syn -j ACCEPT",
        "-A INPUT -p tcp ! --syn -j ACCEPT",
        "-A INPUT -p tcp -m tcp --tcp-flags SYN SYN -j ACCEPT",
        "-A INPUT -p icmp --icmp-type 8 -j ACCEPT",
        "-A INPUT -f -j ACCEPT",
        "-A INPUT ! --fragment -j ACCEPT",
        "-A INPUT -p tcp --dport 22",
        "-A INPUT",
        "-A INPUT -s 192.0.2.1,198.51.100.1 -j DROP",
    ] {
        ok(line);
    }
    let c = |line: &str| ok(line).command;
    assert_eq!(
        c("-N FOO"),
        Command::NewChain {
            chain: "FOO".into()
        }
    );
    assert_eq!(
        c("-X FOO"),
        Command::DeleteChain {
            chain: Some("FOO".into())
        }
    );
    assert_eq!(c("-X"), Command::DeleteChain { chain: None });
    assert_eq!(
        c("-E FOO BAR"),
        Command::RenameChain {
            old: "FOO".into(),
            new: "BAR".into()
        }
    );
    assert_eq!(
        c("-C INPUT -j ACCEPT"),
        Command::Check {
            chain: "INPUT".into(),
            rules: vec![accept()]
        }
    );
    assert_eq!(
        c("-R INPUT 1 -j ACCEPT"),
        Command::Replace {
            chain: "INPUT".into(),
            index: 1,
            rule: accept()
        }
    );
    assert_eq!(
        c("-L INPUT 1"),
        Command::List {
            chain: Some("INPUT".into()),
            rule: Some(1),
            zero: Zeroing::Not
        }
    );
    assert_eq!(
        c("-S INPUT 1"),
        Command::ListRules {
            chain: Some("INPUT".into()),
            rule: Some(1),
            zero: Zeroing::Not
        }
    );
    assert_eq!(
        c("-Z INPUT 1"),
        Command::Zero {
            chain: Some("INPUT".into()),
            rule: Some(1)
        }
    );
    assert_eq!(
        c("-S -Z"),
        Command::ListRules {
            chain: None,
            rule: None,
            zero: Zeroing::Chain
        }
    );
    // One chain and rule number for -L/-S/-Z; `-Z CHAIN N` is CMD_ZERO_NUM.
    let list = |chain: &str, rule, zero| Command::List {
        chain: Some(chain.into()),
        rule,
        zero,
    };
    assert_eq!(c("-Z INPUT 2 -L"), list("INPUT", Some(2), Zeroing::Rule));
    assert_eq!(
        c("-Z INPUT 2 -L INPUT 1"),
        list("INPUT", Some(1), Zeroing::Rule)
    );
    assert_eq!(
        c("-Z INPUT -L INPUT 2"),
        list("INPUT", Some(2), Zeroing::Chain)
    );
    assert_eq!(c("-L INPUT 2 -Z"), list("INPUT", Some(2), Zeroing::Chain));
    assert_eq!(
        c("-L FORWARD -Z INPUT 2"),
        Command::Zero {
            chain: Some("INPUT".into()),
            rule: Some(2)
        }
    );
    // A rule without -j only counts.
    assert_eq!(rule("-A INPUT").target, Target::None);
    assert_eq!(rule("-A INPUT -g FOO").target, Target::Goto("FOO".into()));
    assert_eq!(rule("-A INPUT -j FOO").target, Target::Jump("FOO".into()));
    let Command::Append { rules, .. } =
        c("-A INPUT -s 192.0.2.1,198.51.100.1 -d 203.0.113.1,203.0.113.2 -j DROP")
    else {
        unreachable!()
    };
    let pairs: Vec<(String, String)> = rules
        .iter()
        .map(|r| {
            (
                r.source.as_ref().unwrap().value.addr_text(),
                r.destination.as_ref().unwrap().value.addr_text(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("192.0.2.1", "203.0.113.1"),
            ("192.0.2.1", "203.0.113.2"),
            ("198.51.100.1", "203.0.113.1"),
            ("198.51.100.1", "203.0.113.2"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

// ---- parse_rule_spec and round trips through render::rule_spec. ----

fn spec(s: &str) -> Rule {
    parse_rule_spec_with(s, &sample()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// `rule_spec` without the leading `-A CHAIN `.
fn body(rule: &Rule) -> String {
    let line = render::rule_spec("X", rule);
    line["-A X".len()..].trim_start().to_string()
}

#[test]
fn rule_specs() {
    assert_eq!(
        spec("-s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT"),
        rule("-A INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j ACCEPT")
    );
    assert_eq!(
        spec("  -s \"192.0.2.1\"\t-j   ACCEPT\n"),
        rule("-A INPUT -s 192.0.2.1/32 -j ACCEPT")
    );
    let e = |s: &str| parse_rule_spec_with(s, &sample()).unwrap_err();
    assert_eq!(
        e("-A INPUT -j ACCEPT"),
        ParseError::CommandConflict { new: 'A', old: 'A' }
    );
    assert_eq!(e("-j ACCEPT -n"), ParseError::IllegalOption('n'));
    assert_eq!(
        e("-m comment --comment \"a b -j ACCEPT"),
        ParseError::UnterminatedQuote
    );
    assert_eq!(
        spec("-m comment --comment \"a b\" -j ACCEPT").matches,
        vec![Match::Comment("a b".into())]
    );
    // No chain is known: -o is not checked against INPUT.
    assert_eq!(
        spec("-o eth0 -j DROP").out_interface,
        neg("eth0".into(), false)
    );
}

#[test]
fn hand_written_round_trips() {
    let lines = [
        // (-S line as iptables-legacy 1.8.9 printed it, for the rule given as).
        (
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
            "-A INPUT -p tcp --dport 22 -j ACCEPT",
        ),
        (
            "-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT",
            "-A INPUT -s 192.0.2.7/24 -p tcp -m tcp --dport 22 -j ACCEPT",
        ),
        (
            "-A INPUT ! -s 192.0.2.1/32 -d 198.51.0.0/255.255.0.255 -i eth+ -p udp -m udp ! --sport 1000:2000 --dport 0:53 -j DROP",
            "-A INPUT ! -s 192.0.2.1 -d 198.51.100.0/255.255.0.255 -i eth+ -p udp ! --sport 1000:2000 --dport :53 -j DROP",
        ),
        (
            "-A FORWARD ! -i eth0 -o wlan0 -p udp -m udp --sport 5:65535 -j DROP",
            "-A FORWARD -p udp --sport 5: -o wlan0 ! -i eth0 -j DROP",
        ),
        ("-A OUTPUT -p icmp -j ACCEPT", "-A OUTPUT -p icmp -j ACCEPT"),
        (
            "-A OUTPUT ! -p gre -j ACCEPT",
            "-A OUTPUT ! -p 47 -j ACCEPT",
        ),
        ("-A OUTPUT -j ACCEPT", "-A OUTPUT -p all -j ACCEPT"),
        ("-A OUTPUT -j ACCEPT", "-A OUTPUT -d 0.0.0.0/0 -j ACCEPT"),
        (
            "-A OUTPUT ! -s 0.0.0.0/0 -j ACCEPT",
            "-A OUTPUT -d 0.0.0.0/0 ! -s 0/0 -j ACCEPT",
        ),
        (
            "-A OUTPUT -d 0.0.0.0/0.0.0.255 -j ACCEPT",
            "-A OUTPUT -d 192.0.2.0/0.0.0.255 -j ACCEPT",
        ),
        (
            "-A OUTPUT -p tcp -m tcp --sport 22 -j ACCEPT",
            "-A OUTPUT -p tcp --sport 22:22 -j ACCEPT",
        ),
        (
            "-A OUTPUT -p tcp -m tcp -j ACCEPT",
            "-A OUTPUT -p tcp --sport 0:65535 -j ACCEPT",
        ),
        (
            "-A OUTPUT -p tcp -m tcp --sport 80:443 -j ACCEPT",
            "-A OUTPUT -p tcp --sport http:https -j ACCEPT",
        ),
        (
            "-A OUTPUT -p tcp -m tcp -m tcp --sport 1 -j ACCEPT",
            "-A OUTPUT -p tcp -m tcp -m tcp --sport 1 -j ACCEPT",
        ),
        (
            "-A INPUT -p tcp -m tcp --sport 1 -m tcp --sport 3 --dport 2 -j ACCEPT",
            "-A INPUT -p tcp --sport 1 -m tcp --dport 2 --sport 3 -j ACCEPT",
        ),
        (
            "-A FORWARD ! -i eth0 ! -o eth1 -p 200 -j ACCEPT",
            "-A FORWARD ! -i eth0 ! -o eth1 -p 200 -j ACCEPT",
        ),
        (
            "-A FORWARD -p ethernet -j ACCEPT",
            "-A FORWARD -p 143 -j ACCEPT",
        ),
        (
            "-A INPUT -p ipv6-icmp -j ACCEPT",
            "-A INPUT -p ipv6-icmp -j ACCEPT",
        ),
        (
            "-A OUTPUT ! -d 203.0.113.9/32 -o veryveryverylon -p udp -m udp --sport 53 -j ACCEPT",
            "-A OUTPUT -o veryveryverylon -p udp ! -d 203.0.113.9 --sport 53 -j ACCEPT",
        ),
        (
            "-A INPUT -s 192.0.2.0/255.0.255.0 -j DROP",
            "-A INPUT -s 192.0.2.1/255.0.255.0 -j DROP",
        ),
        (
            "-A INPUT -s 8.0.0.1/32 -j DROP",
            "-A INPUT -s 010.0.0.1 -j DROP",
        ),
        (
            "-A INPUT -s 192.0.2.0/32 -j DROP",
            "-A INPUT -s 192.0.2 -j DROP",
        ),
    ];
    for (printed, given) in lines {
        let words = words(given);
        let inv = parse_args_with(&words, &sample()).unwrap_or_else(|e| panic!("{given}: {e}"));
        let Command::Append { chain, mut rules } = inv.command else {
            panic!("{given}")
        };
        let rule = rules.remove(0);
        assert_eq!(render::rule_spec(&chain, &rule), printed, "{given}");
        assert_eq!(spec(&printed[3 + chain.len() + 1..]), rule, "{printed}");
    }
}

#[test]
fn odd_interface_names_round_trip() {
    for name in ["eth 0", "a\"b", "x\\y", "!", "-i", "+", "eth/0", "é"] {
        let r = Rule {
            in_interface: neg(name.to_string(), true),
            out_interface: neg(name.to_string(), false),
            ..accept()
        };
        // A plain "-o +" (any interface) is left out, as iptables does.
        let expected = Rule {
            out_interface: r.out_interface.clone().filter(|o| o.value != "+"),
            ..r.clone()
        };
        assert_eq!(
            spec(&body(&r)),
            expected,
            "{name:?} printed as {}",
            body(&r)
        );
    }
}

// ---- Random rules of the whole language: parse(render(rule)) == rule. ----

fn addr_strategy() -> impl Strategy<Value = Option<Neg<AddrMask>>> {
    let mask = prop_oneof![
        (0u8..=32).prop_map(|p| AddrMask::from_prefix(Ipv4Addr::BROADCAST, p)
            .v4()
            .unwrap()
            .1),
        any::<u32>().prop_map(Ipv4Addr::from),
    ];
    proptest::option::of((any::<u32>(), mask, any::<bool>())).prop_map(|o| {
        o.and_then(|(a, m, invert)| {
            let value = AddrMask::V4 {
                addr: Ipv4Addr::from(a & u32::from(m)),
                mask: m,
            };
            (invert || !m.is_unspecified()).then_some(Neg { value, invert })
        })
    })
}

fn iface_strategy() -> impl Strategy<Value = Option<Neg<String>>> {
    // A plain "+" (any interface) is printed as nothing, like iptables.
    proptest::option::of(("[a-zA-Z0-9._+!-]{1,15}", any::<bool>())).prop_map(|o| {
        o.map(|(value, invert)| Neg { value, invert })
            .filter(|i| i.invert || i.value != "+")
    })
}

fn ports_strategy() -> impl Strategy<Value = Option<Neg<PortRange>>> {
    proptest::option::of((any::<u16>(), any::<u16>(), any::<bool>(), any::<bool>())).prop_map(|o| {
        o.and_then(|(a, b, single, invert)| {
            let value = if single {
                ports(a, a)
            } else {
                ports(a.min(b), a.max(b))
            };
            (invert || value != ports(0, u16::MAX)).then_some(Neg { value, invert })
        })
    })
}

fn neg_of<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Neg<T>> {
    (s, any::<bool>()).prop_map(|(value, invert)| Neg { value, invert })
}

/// A tcp/udp port range as iptables stores one (the full range only
/// with `!`).
fn tcp_match() -> impl Strategy<Value = Match> {
    let flags = proptest::option::of(neg_of((0u8..=0x3F, 0u8..=0x3F))).prop_map(|f| {
        f.map(|n| Neg {
            value: TcpFlags {
                mask: n.value.0,
                comp: n.value.1,
            },
            invert: n.invert,
        })
        .filter(|n| n.value.mask != 0 || n.value.comp != 0 || n.invert)
    });
    (
        ports_strategy(),
        ports_strategy(),
        flags,
        proptest::option::of(neg_of(1u8..=255)),
    )
        .prop_map(|(sport, dport, flags, option)| {
            Match::Tcp(Tcp {
                sport,
                dport,
                flags,
                option,
            })
        })
}

fn icmp_match() -> impl Strategy<Value = Match> {
    let t = prop_oneof![
        Just(IcmpType::ANY),
        (0u8..=254).prop_map(|kind| IcmpType {
            kind,
            code_min: 0,
            code_max: 255
        }),
        (0u8..=254, any::<u8>()).prop_map(|(kind, c)| IcmpType {
            kind,
            code_min: c,
            code_max: c
        }),
    ];
    neg_of(t).prop_map(Match::Icmp)
}

fn multiport_match() -> impl Strategy<Value = Match> {
    let item = prop_oneof![
        any::<u16>().prop_map(|p| PortRange { lo: p, hi: p }),
        (any::<u16>(), any::<u16>())
            .prop_filter("lo < hi", |(a, b)| a != b)
            .prop_map(|(a, b)| PortRange {
                lo: a.min(b),
                hi: a.max(b)
            }),
    ];
    let dir = prop_oneof![
        Just(PortDirection::Source),
        Just(PortDirection::Destination),
        Just(PortDirection::Either)
    ];
    (dir, proptest::collection::vec(item, 1..12), any::<bool>())
        .prop_map(|(direction, ports, invert)| Multiport {
            direction,
            ports,
            invert,
        })
        .prop_filter("at most 15 slots", |m| m.slots() <= Multiport::MAX_SLOTS)
        .prop_map(Match::Multiport)
}

fn states(all: u16) -> impl Strategy<Value = CtStates> {
    let bits: Vec<u16> = CtStates::NAMES
        .iter()
        .map(|(_, b)| *b)
        .filter(|b| all & b != 0)
        .collect();
    proptest::sample::subsequence(bits.clone(), 1..=bits.len())
        .prop_map(|v| CtStates(v.into_iter().fold(0, |a, b| a | b)))
}

fn range4() -> impl Strategy<Value = Ipv4Range> {
    (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Ipv4Range {
        lo: Ipv4Addr::from(a),
        hi: Ipv4Addr::from(b),
    })
}

fn addrtype_match() -> impl Strategy<Value = Match> {
    let types = || proptest::option::of(neg_of((1u16..(1 << 12)).prop_map(AddrTypes)));
    let limit = proptest::option::of(prop_oneof![Just(LimitIface::In), Just(LimitIface::Out)]);
    (types(), types(), limit)
        .prop_filter("a type", |(s, d, _)| s.is_some() || d.is_some())
        .prop_map(|(src, dst, limit_iface)| {
            Match::Addrtype(Addrtype {
                src,
                dst,
                limit_iface,
                v6: false,
            })
        })
}

/// Matches that need no particular protocol.
fn any_protocol_match() -> impl Strategy<Value = Match> {
    let unit = prop_oneof![Just(1u32), Just(60), Just(3600), Just(86400)];
    prop_oneof![
        proptest::option::of(neg_of(states(0x1CF)))
            .prop_filter("a state", Option::is_some)
            .prop_map(|state| {
                Match::Conntrack(Conntrack {
                    state,
                    ..Conntrack::default()
                })
            }),
        neg_of(states(0x10F)).prop_map(Match::State),
        (
            proptest::option::of(neg_of(range4())),
            proptest::option::of(neg_of(range4()))
        )
            .prop_filter("a range", |(s, d)| s.is_some() || d.is_some())
            .prop_map(|(src, dst)| Match::Iprange(Iprange { src, dst })),
        neg_of(any::<[u8; 6]>()).prop_map(Match::Mac),
        (any::<u32>(), any::<u32>(), any::<bool>()).prop_map(|(value, mask, invert)| {
            Match::Mark(crate::model::Mark {
                value,
                mask,
                invert,
            })
        }),
        "[ -~]{0,40}".prop_map(Match::Comment),
        "[éø→ a-z\"'\\\\]{0,20}".prop_map(Match::Comment),
        (1u32..=20000, unit, 1u32..=10000)
            .prop_map(|(r, mult, burst)| Limit {
                avg: Limit::SCALE * mult / r,
                burst,
            })
            .prop_filter("kernel range", |l| {
                l.avg != 0 && l.avg.checked_mul(l.burst).is_some()
            })
            // libxt_limit prints a rate rounded to a whole number per unit:
            // an average like 6001/hour (5999) comes back as 100/min (6000),
            // in iptables too. Only averages that survive printing are kept.
            .prop_filter("printable rate", |l| {
                let r = Rule {
                    matches: vec![Match::Limit(*l)],
                    ..Rule::default()
                };
                parse_rule_spec_with(&body(&r), &sample()) == Ok(r)
            })
            .prop_map(Match::Limit),
        neg_of((any::<u16>(), any::<u16>()).prop_map(|(min, max)| LengthRange { min, max }))
            .prop_map(Match::Length),
        prop_oneof![
            any::<u8>().prop_map(Ttl::Eq),
            any::<u8>().prop_map(Ttl::Ne),
            any::<u8>().prop_map(Ttl::Lt),
            any::<u8>().prop_map(Ttl::Gt),
        ]
        .prop_map(Match::Ttl),
        addrtype_match(),
        (
            "[a-zA-Z0-9_.-]{1,31}",
            proptest::collection::vec(prop_oneof![Just(SetDir::Src), Just(SetDir::Dst)], 1..=6),
            any::<bool>()
        )
            .prop_map(|(name, dirs, invert)| Match::Set(SetMatch { name, dirs, invert })),
    ]
}

fn chain_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,20}"
}

fn target_strategy(tcp: bool) -> impl Strategy<Value = Target> {
    let reject = proptest::sample::select(RejectWith::TABLE.to_vec())
        .prop_map(|(w, _, _)| w)
        .prop_filter("tcp-reset needs -p tcp", move |w| {
            tcp || *w != RejectWith::TcpReset
        });
    let log = (0u8..=7, "[ -~]{0,29}", any::<[bool; 5]>()).prop_map(|(level, prefix, f)| {
        Target::Log(Log {
            level,
            prefix,
            tcp_sequence: f[0],
            tcp_options: f[1],
            ip_options: f[2],
            uid: f[3],
            macdecode: f[4],
        })
    });
    prop_oneof![
        Just(Target::Accept),
        Just(Target::Drop),
        Just(Target::Return),
        Just(Target::None),
        chain_name().prop_map(Target::Jump),
        chain_name().prop_map(Target::Goto),
        reject.prop_map(Target::Reject),
        log,
    ]
}

/// Random rules of the whole language, as iptables stores them: the
/// protocol decides which protocol matches can appear.
fn rule_strategy() -> impl Strategy<Value = Rule> {
    let proto = prop_oneof![
        Just(None),
        Just(Some(6u8)),
        Just(Some(17u8)),
        Just(Some(1u8)),
        Just(Some(132u8)),
        (1u8..=255).prop_map(Some),
    ];
    (proto, any::<bool>()).prop_flat_map(|(p, invert)| {
        let protocol = p.map(|value| Neg { value, invert });
        let plain = !invert;
        let tcp = plain && p == Some(6);
        let udp = plain && p == Some(17);
        let icmp = plain && p == Some(1);
        let ports = plain && matches!(p, Some(6 | 17 | 132));
        let mut options: Vec<(u32, BoxedStrategy<Match>)> = vec![(3, any_protocol_match().boxed())];
        if tcp {
            options.push((1, tcp_match().boxed()));
        }
        if udp {
            options.push((
                1,
                (ports_strategy(), ports_strategy())
                    .prop_map(|(sport, dport)| Match::Udp(Udp { sport, dport }))
                    .boxed(),
            ));
        }
        if icmp {
            options.push((1, icmp_match().boxed()));
        }
        if ports {
            options.push((1, multiport_match().boxed()));
        }
        let m = proptest::strategy::Union::new_weighted(options);
        let fragment =
            proptest::option::of(prop_oneof![Just(Fragment::Later), Just(Fragment::NotLater)]);
        (
            Just(protocol),
            (addr_strategy(), addr_strategy()),
            (iface_strategy(), iface_strategy()),
            fragment,
            proptest::collection::vec(m, 0..4),
            target_strategy(tcp),
        )
            .prop_map(
                |(
                    protocol,
                    (source, destination),
                    (in_interface, out_interface),
                    fragment,
                    matches,
                    target,
                )| {
                    Rule {
                        protocol,
                        source,
                        destination,
                        in_interface,
                        out_interface,
                        fragment,
                        matches,
                        target,
                    }
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// parse(print(rule)) == rule over the whole language.
    #[test]
    fn render_then_parse_is_identity(r in rule_strategy()) {
        let line = body(&r);
        prop_assert_eq!(parse_rule_spec_with(&line, &sample()), Ok(r.clone()), "{}", line);
        // The same words as a command line.
        let mut argv = vec!["-A".to_string(), "FORWARD".to_string()];
        argv.extend(super::lexer::split_spec(&line).unwrap());
        let inv = parse_args_with(&argv, &sample());
        prop_assert_eq!(inv.map(|i| i.command), Ok(Command::Append { chain: "FORWARD".into(), rules: vec![r] }));
    }

    #[test]
    fn never_panics(argv in proptest::collection::vec(
        prop_oneof![
            Just("-A".to_string()), Just("INPUT".to_string()), Just("-p".to_string()),
            Just("tcp".to_string()), Just("--dport".to_string()), Just("!".to_string()),
            Just("-m".to_string()), Just("-j".to_string()), Just("ACCEPT".to_string()),
            Just("-L".to_string()), Just("--".to_string()), Just("-nvL".to_string()),
            Just("--tcp-flags".to_string()), Just("multiport".to_string()),
            Just("--dports".to_string()), Just("set".to_string()),
            Just("--match-set".to_string()), Just("LOG".to_string()),
            Just("--log-prefix".to_string()), Just("icmp".to_string()),
            Just("--icmp-type".to_string()), Just("-N".to_string()),
            Just("-E".to_string()), Just("-X".to_string()), Just("-R".to_string()),
            Just("-C".to_string()), Just("limit".to_string()), Just("--limit".to_string()),
            Just("REJECT".to_string()), Just("--reject-with".to_string()),
            ".{0,8}",
        ],
        0..14,
    )) {
        let _ = parse_args_with(&argv, &sample());
        let _ = parse_rule_spec_with(&argv.join(" "), &sample());
    }
}

/// `-m conntrack`'s tuple options: iptables-legacy 1.8.9's refusals, and
/// what fw refuses as not supported yet (masks it reads oddly).
#[test]
fn conntrack_tuple_options() {
    let e = |l: &str| err(l).to_string();
    assert_eq!(
        e("-A FORWARD -m conntrack --ctdir foo"),
        "conntrack: Bad value for \"--ctdir\" option: \"foo\""
    );
    assert_eq!(err("-A FORWARD -m conntrack --ctdir foo").exit_code(), 2);
    assert!(e("-A FORWARD -m conntrack ! --ctdir REPLY").contains("cannot be inverted"));
    assert!(
        e("-A FORWARD -m conntrack --ctorigsrc 192.0.2.1 --ctorigsrc 192.0.2.2")
            .contains("can only be used once")
    );
    for odd in ["192.0.2.1/33", "192.0.2.1/255.255.0.255"] {
        assert!(matches!(
            err(&format!("-A FORWARD -m conntrack --ctorigsrc {odd}")),
            ParseError::NotSupported { .. }
        ));
    }
}

// ---- ip6tables' language (Family::V6) ----

use crate::{model::Family, state::State};

fn parse6(line: &str) -> Result<Invocation, ParseError> {
    crate::parse::parse_args_in(&words(line), Family::V6, &sample())
}

/// The rule of an IPv6 `-A` line, printed back as `-S` prints it.
fn spec6(line: &str) -> String {
    match parse6(line)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
        .command
    {
        Command::Append { rules, .. } => rules
            .iter()
            .map(|r| crate::render::rule_spec("INPUT", r)["-A INPUT ".len()..].to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        c => panic!("{line}: {c:?}"),
    }
}

#[test]
fn ip6tables_lines_parse_in_ipv6() {
    for (line, spec) in [
        (
            "-A INPUT -s 2001:db8::7/32 -d ::1 -j ACCEPT",
            "-s 2001:db8::/32 -d ::1/128 -j ACCEPT",
        ),
        ("-A INPUT ! -s ::/0 -j DROP", "! -s ::/0 -j DROP"),
        ("-A INPUT -s ::/0 -j DROP", "-j DROP"),
        (
            "-A INPUT -s 2001:db8::1,2001:db8::2/64 -j ACCEPT",
            "-s 2001:db8::1/128 -j ACCEPT\n-s 2001:db8::/64 -j ACCEPT",
        ),
        (
            "-A INPUT -p icmpv6 --icmpv6-type echo-request -j ACCEPT",
            "-p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT",
        ),
        (
            "-A INPUT -p 58 -m icmpv6 ! --icmpv6-type 1/3 -j ACCEPT",
            "-p ipv6-icmp -m icmp6 ! --icmpv6-type 1/3 -j ACCEPT",
        ),
        (
            "-A INPUT -m hl ! --hl-eq 3 -j ACCEPT",
            "-m hl ! --hl-eq 3 -j ACCEPT",
        ),
        (
            "-A INPUT -m rt --rt-type 0 --rt-segsleft 2:5 ! --rt-len 8 -j DROP",
            "-m rt --rt-type 0 --rt-segsleft 2:5 ! --rt-len 8 -j DROP",
        ),
        (
            "-A INPUT -j REJECT",
            "-j REJECT --reject-with icmp6-port-unreachable",
        ),
        (
            "-A INPUT -j REJECT --reject-with adm",
            "-j REJECT --reject-with icmp6-adm-prohibited",
        ),
        ("-6 -A INPUT -m state --state NEW", "-m state --state NEW"),
        (
            "-A INPUT -m iprange ! --src-range 2001:db8::1-2001:db8:0::ff",
            "-m iprange ! --src-range 2001:db8::1-2001:db8::ff",
        ),
        (
            "-A INPUT -m conntrack --ctorigsrc 2001:db8::1/64 ! --ctrepldst ::1",
            "-m conntrack --ctorigsrc 2001:db8::1/64 ! --ctrepldst ::1",
        ),
    ] {
        assert_eq!(spec6(line), spec, "{line}");
    }
    assert_eq!(parse6("-A INPUT -j ACCEPT").unwrap().family, Family::V6);
    assert_eq!(ok("-A INPUT -j ACCEPT").family, Family::V4);
}

#[test]
fn ip6tables_refuses_what_is_ipv4_only() {
    for (line, e) in [
        ("-A INPUT -f -j ACCEPT", ParseError::FragmentInIpv6),
        ("-4 -A INPUT -j ACCEPT", ParseError::Ipv4),
        (
            "-A INPUT --fragments -j ACCEPT",
            ParseError::UnknownOption("--fragments".into()),
        ),
        (
            "-A INPUT -m icmp --icmp-type 8",
            ParseError::UnknownMatch("icmp".into()),
        ),
        (
            "-A INPUT -m ttl --ttl-eq 5",
            ParseError::UnknownMatch("ttl".into()),
        ),
        (
            "-A INPUT -p icmp --icmp-type 8",
            ParseError::UnknownOption("--icmp-type".into()),
        ),
        (
            "-A INPUT -s 192.0.2.1 -j ACCEPT",
            ParseError::HostNotFound("192.0.2.1".into()),
        ),
        (
            "-A INPUT -j REJECT --reject-with icmp-port-unreachable",
            ParseError::UnknownRejectType("icmp-port-unreachable".into()),
        ),
        (
            "-A INPUT -m conntrack --ctorigsrc 192.0.2.1",
            ParseError::AddressFamily,
        ),
        (
            "-A INPUT -m conntrack --ctreplsrc ::1/129",
            ParseError::BadCidr {
                module: "conntrack",
                option: "ctreplsrc",
                value: "::1/129".into(),
                max: 128,
            },
        ),
    ] {
        assert_eq!(parse6(line).unwrap_err(), e, "{line}");
    }
    // And iptables refuses ip6tables' modules and addresses.
    for (line, e) in [
        (
            "-A INPUT -m hl --hl-eq 1",
            ParseError::UnknownMatch("hl".into()),
        ),
        (
            "-A INPUT -m icmp6 --icmpv6-type 1",
            ParseError::UnknownMatch("icmp6".into()),
        ),
        (
            "-A INPUT -m rt --rt-type 0",
            ParseError::UnknownMatch("rt".into()),
        ),
        ("-6 -A INPUT -j ACCEPT", ParseError::Ipv6),
        (
            "-A INPUT -s 2001:db8::1 -j ACCEPT",
            ParseError::HostNotFound("2001:db8::1".into()),
        ),
    ] {
        assert_eq!(err(line), e, "{line}");
    }
    // What fw cannot hold in IPv6 yet is refused, never parsed as IPv4.
    for line in [
        "-A INPUT -m conntrack --ctorigsrc 2001:db8::1/ffff::",
        "-A INPUT -m frag --fragid 1",
        "-A INPUT -m rt --rt-0-res",
    ] {
        assert!(
            matches!(parse6(line), Err(ParseError::NotSupported { .. })),
            "{line}"
        );
    }
}

#[test]
fn ipv6_tables_run_ipv6_commands_only() {
    let services = sample();
    let v6 = State {
        ruleset: crate::model::Ruleset::new(Family::V6),
        ..State::default()
    };
    let add6 = parse6("-A INPUT -s 2001:db8::/32 -j DROP").unwrap();
    let done = crate::offline::execute(&v6, &add6, &services, false, crate::offline::no_counters)
        .unwrap_or_else(|e: crate::edit::EditError| panic!("{e}"));
    let after = done.state.unwrap();
    assert_eq!(
        crate::render::list_rules(&after.ruleset, None, None, None),
        "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -s 2001:db8::/32 -j DROP\n"
    );
    // Enforced, the rule is accepted; what the IPv6 path lacks is refused.
    assert!(
        crate::offline::execute(&v6, &add6, &services, true, crate::offline::no_counters).is_ok()
    );
    let typed = parse6("-A INPUT -m addrtype --dst-type ANYCAST -j LOG").unwrap();
    let e = crate::offline::execute(&v6, &typed, &services, true, crate::offline::no_counters)
        .unwrap_err();
    assert_eq!(
        e,
        crate::edit::EditError::NotSupported(
            "-m addrtype ANYCAST or UNREACHABLE in IPv6".to_string()
        )
    );
    // An iptables command on an IPv6 table, or the other way round.
    let add4 = ok("-A INPUT -j DROP");
    assert!(matches!(
        crate::offline::execute(&v6, &add4, &services, false, crate::offline::no_counters),
        Err(crate::edit::EditError::NotSupported(_))
    ));
    assert!(matches!(
        crate::offline::execute(
            &State::default(),
            &add6,
            &services,
            false,
            crate::offline::no_counters
        ),
        Err(crate::edit::EditError::NotSupported(_))
    ));
}

#[test]
fn ip6tables_restore_files_through_the_ipv6_engine() {
    let v6 = State {
        ruleset: crate::model::Ruleset::new(Family::V6),
        ..State::default()
    };
    let text = "*filter\n:INPUT DROP [0:0]\n:u - [0:0]\n\
        -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT\n\
        -A INPUT -s fe80::/10 -j u\n-A u -j REJECT\nCOMMIT\n";
    let opts = crate::restore::RestoreOptions::default();
    let done = crate::restore::restore(&v6, text, &opts, false, &sample()).unwrap();
    assert_eq!(
        crate::render::save(&done.state.ruleset, &Default::default(), false, None),
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:u - [0:0]\n\
         -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT\n\
         -A INPUT -s fe80::/10 -j u\n-A u -j REJECT --reject-with icmp6-port-unreachable\nCOMMIT\n"
    );
    // It loads (IPv6 REJECT is enforced); a line with what IPv6 does not
    // enforce yet is refused at its line.
    assert!(crate::restore::restore(&v6, text, &opts, true, &sample()).is_ok());
    let typed = text.replace(
        "-A u -j REJECT",
        "-A u -m addrtype --dst-type ANYCAST -j LOG",
    );
    let e = crate::restore::restore(&v6, &typed, &opts, true, &sample()).unwrap_err();
    assert_eq!(e.line, 6);
    assert!(
        e.to_string()
            .contains("-m addrtype ANYCAST or UNREACHABLE in IPv6"),
        "{e}"
    );
    // A line for iptables (`-4`) is skipped, as ip6tables-restore skips it.
    let both = "*filter\n-A INPUT -4 -s 10.0.0.1 -j DROP\n-A INPUT -6 -s ::1 -j DROP\nCOMMIT\n";
    let done = crate::restore::restore(&v6, both, &opts, false, &sample()).unwrap();
    assert_eq!(
        crate::render::list_rules(&done.state.ruleset, Some("INPUT"), None, None),
        "-P INPUT ACCEPT\n-A INPUT -s ::1/128 -j DROP\n"
    );
    // An IPv4 file fails where its first IPv4 address is.
    let e = crate::restore::restore(
        &v6,
        "*filter\n-A INPUT -s 10.0.0.0/8\nCOMMIT\n",
        &opts,
        false,
        &sample(),
    )
    .unwrap_err();
    assert_eq!(
        (e.line, e.to_string()),
        (2, "line 2 failed: host/network `10.0.0.0' not found".into())
    );
}
