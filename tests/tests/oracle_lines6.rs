//! fw's IPv6 grammar and printers against real ip6tables-legacy 1.8.9,
//! line by line, as `oracle_lines.rs` does for IPv4: each command line
//! below runs in ip6tables (in a throwaway network namespace, on a table
//! holding only the user-defined chains `u` and `v`) and through fw's
//! library in [`Family::V6`] (parse, then apply to the same table
//! offline). Both must agree on the exit status and the exact stderr
//! text, and, when the command succeeds, on what it printed and on the
//! table's `-S`, `-L -n` and `-L -v -n -x` afterwards.
//!
//! Lines fw refuses itself ("not supported yet") are listed in
//! [`REFUSED`], with the message.

#[path = "common/iptables.rs"]
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use firewall::{
    model::{Family, Ruleset},
    offline,
    parse::{self, services::Services},
    render::{self, Counters},
    state::State,
};
use iptables::{IP6TABLES, Netns, require_iptables, text};

/// ip6tables' version string as it prints it.
const VERSION: &str = "v1.8.9 (legacy)";

/// Command lines (split like an iptables-restore line: `"..."` groups).
const LINES: &[&str] = &[
    // ---- addresses ----
    "-A INPUT -s 2001:db8::/32 -d 2001:db8::1 -j ACCEPT",
    "-A INPUT ! -s ::/0 -p tcp --dport 22 -j DROP",
    "-A INPUT -s ::/0 -j ACCEPT",
    "-A INPUT ! -d 2001:db8::1/64 -j ACCEPT",
    "-A INPUT -s 2001:db8:1234:5678:9abc:def0:1234:5678/127 -d ::ffff:1.2.3.4 -j ACCEPT",
    "-A INPUT -s 2001:db8::1/ffff::ffff -j ACCEPT",
    "-A INPUT -s 2001:db8::1/ffff:ffff:: -j ACCEPT",
    "-A INPUT -s 2001:db8::1,2001:db8::2/64 -j ACCEPT",
    "-A INPUT ! -s 2001:db8::1,2001:db8::2 -j ACCEPT",
    "-A INPUT -s ::1 -j ACCEPT",
    "-A INPUT -d fe80::/10 -j ACCEPT",
    "-A INPUT -s 2001:db8::/0 -j ACCEPT",
    "-A INPUT -s 2001:db8::/0x40 -j ACCEPT",
    "-A INPUT -s 2001:db8::/129 -j ACCEPT",
    "-A INPUT -s 2001:db8::/-1 -j ACCEPT",
    "-A INPUT -s 2001:db8::/abc -j ACCEPT",
    "-A INPUT -s 2001:db8::/ -j ACCEPT",
    "-A INPUT -s 1.2.3.4 -j ACCEPT",
    "-A INPUT -s 192.0.2.0/24 -j ACCEPT",
    "-A INPUT -s 2001:db8:::1 -j ACCEPT",
    "-A INPUT -s \"\" -j ACCEPT",
    "-D INPUT -s 2001:db8::1 -j ACCEPT",
    "-C INPUT -s 2001:db8::1 -j ACCEPT",
    "-R INPUT 1 -s 2001:db8::1 -j ACCEPT",
    "-I u -s 2001:db8::23 -j REJECT --reject-with icmp6-port-unreachable",
    // ---- protocols, -f, -4/-6 ----
    "-A INPUT -p all -j ACCEPT",
    "-A INPUT -p 0 -j ACCEPT",
    "-A INPUT -p ipv6-icmp -j ACCEPT",
    "-A INPUT -p icmpv6 -j ACCEPT",
    "-A INPUT -p 58 -j ACCEPT",
    "-A INPUT ! -p icmpv6 -j ACCEPT",
    "-A INPUT -p icmp -j ACCEPT",
    "-A INPUT -p udp --dport 53 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 22,80:90 -j ACCEPT",
    "-A INPUT -f -j ACCEPT",
    "-A INPUT ! -f -j ACCEPT",
    "-A INPUT --fragment -j ACCEPT",
    "-6 -A INPUT -j ACCEPT",
    "-A INPUT --ipv6 -j ACCEPT",
    "-4 -A INPUT -j ACCEPT",
    "-o eth0 -A INPUT -j ACCEPT",
    // ---- icmp6 ----
    "-A INPUT -p ipv6-icmp --icmpv6-type echo-request -j ACCEPT",
    "-A INPUT -p icmpv6 -m icmp6 --icmpv6-type 1/3 -j ACCEPT",
    "-A INPUT -p 58 --icmpv6-type 128 -j ACCEPT",
    "-A INPUT -p icmpv6 ! --icmpv6-type 2 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type neighbor-solicitation -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 4/0 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 0x80 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 255 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 1/7 -j ACCEPT",
    "-A INPUT -p icmpv6 -m icmpv6 --icmpv6-type 133 -j ACCEPT",
    "-A INPUT -p icmpv6 -m ipv6-icmp --icmpv6-type 134 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type foo -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 256 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 1/256 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 1/ -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type any -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type e -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 3x -j ACCEPT",
    "-A INPUT -p icmpv6 -m icmp6 -j ACCEPT",
    "-A INPUT -p icmp --icmp-type 8 -j ACCEPT",
    "-A INPUT -m icmp --icmp-type 8 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmp-type 8 -j ACCEPT",
    // ---- hl ----
    "-A INPUT -m hl --hl-eq 255 -j ACCEPT",
    "-A INPUT -m hl ! --hl-eq 3 -j ACCEPT",
    "-A INPUT -m hl --hl-lt 5 -j ACCEPT",
    "-A INPUT -p udp -m hl --hl-gt 3 -m hl --hl-lt 9 -j ACCEPT",
    "-A INPUT -m hl ! --hl-lt 5 -j ACCEPT",
    "-A INPUT -m hl --hl-eq 256 -j ACCEPT",
    "-A INPUT -m hl --hl-eq 3 --hl-lt 4 -j ACCEPT",
    "-A INPUT -m hl -j ACCEPT",
    "-A INPUT -m ttl --ttl-eq 5 -j ACCEPT",
    // ---- rt ----
    "-A INPUT -m rt --rt-type 0 -j DROP",
    "-A INPUT -m rt ! --rt-type 0 -j DROP",
    "-A INPUT -m rt --rt-type 0 --rt-segsleft 2:5 --rt-len 8 -j ACCEPT",
    "-A INPUT -m rt --rt-segsleft 3 -j ACCEPT",
    "-A INPUT -m rt ! --rt-len 8 -j ACCEPT",
    "-A INPUT -m rt -j ACCEPT",
    // ---- REJECT ----
    "-A INPUT -j REJECT",
    "-A INPUT -p tcp -j REJECT --reject-with tcp-reset",
    "-A INPUT -j REJECT --reject-with adm-prohibited",
    "-A INPUT -j REJECT --reject-with icmp6-no-route",
    "-A INPUT -j REJECT --reject-with no-route",
    "-A INPUT -j REJECT --reject-with icmp6-addr-unreachable",
    "-A INPUT -j REJECT --reject-with addr-unreach",
    "-A INPUT -j REJECT --reject-with port-unreach",
    "-A INPUT -j REJECT --reject-with icmp6-policy-fail",
    "-A INPUT -j REJECT --reject-with reject-route",
    "-A INPUT -j REJECT --reject-with icmp6-port",
    "-A INPUT -j REJECT --reject-with tcp-rst",
    "-A INPUT -j REJECT --reject-with icmp-port-unreachable",
    "-A INPUT -j REJECT --reject-with icmp-net-prohibited",
    // ---- shared modules ----
    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -m state --state NEW -j ACCEPT",
    "-A INPUT -m limit --limit 5/sec -j LOG --log-prefix x --log-ip-options",
    "-A INPUT -m comment --comment \"RFC4291 link-local\" -s fe80::/10 -j ACCEPT",
    "-A INPUT -m mac --mac-source 02:00:00:00:00:01 -j DROP",
    "-A INPUT -m mark --mark 0x40000/0xff0000 -j ACCEPT",
    "-A INPUT -i tun+ -s fd42:42:42:42::/112 -j ACCEPT",
    "-A INPUT -p tcp --syn -j u",
    "-A INPUT -j LOG --log-level 6 --log-tcp-options",
    "-A FORWARD -o wg0 -g v",
    "-A INPUT -m realm --realm 1 -j ACCEPT",
    "-A INPUT -p 43 -j ACCEPT",
    "-A INPUT -p ipv6-frag -j ACCEPT",
    "-A INPUT -p ah -j DROP",
    "-A INPUT ! -p 60 -j DROP",
    "-A INPUT -p 60 -s 1.2.3.4 -j DROP",
    // ---- -v echoes ----
    "-A INPUT -v -s 2001:db8::/32 ! -d 2001:db8::1 -p tcp --dport 22 -j ACCEPT",
    "-I INPUT -v -p icmpv6 --icmpv6-type 1 -j DROP",
    "-A INPUT -v -s 2001:db8::1/ffff::ffff -j ACCEPT",
    "-F -v",
    "-A INPUT -m conntrack --ctstate NEW --ctorigsrc 2001:db8::1 -j ACCEPT",
    // ---- hashlimit (IPv6's masks) ----
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode srcip --hashlimit-srcmask 64 --hashlimit-name a -j ACCEPT",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode srcip,dstip --hashlimit-srcmask 128 --hashlimit-dstmask 32 --hashlimit-name b -j ACCEPT",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode dstip --hashlimit-dstmask ffff:ffff:: --hashlimit-name c",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode srcip --hashlimit-srcmask 0 --hashlimit-name d",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-srcmask 129 --hashlimit-name e",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-srcmask 255 --hashlimit-name e",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-srcmask 1.2.3.4 --hashlimit-name e",
    "-A INPUT -m hashlimit --hashlimit-above 1/min --hashlimit-burst 2 --hashlimit-name f -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-name a",
    // ---- addrtype (IPv6's types; the kernel refuses IPv4's own) ----
    "-A INPUT -m addrtype --dst-type LOCAL",
    "-A INPUT -m addrtype ! --src-type LOCAL,UNICAST --dst-type MULTICAST -j DROP",
    "-A INPUT -m addrtype --src-type UNSPEC",
    "-A INPUT -m addrtype --dst-type BROADCAST",
    "-A INPUT -m addrtype --dst-type BLACKHOLE",
    "-A INPUT -m addrtype --dst-type PROHIBIT",
    "-A INPUT -m addrtype --dst-type NAT",
    "-A INPUT -m addrtype --dst-type ANYCAST",
    // ---- recent (IPv6's whole-address mask) ----
    "-A INPUT -m recent --set",
    "-A INPUT -m recent --set --name a",
    "-A INPUT -m recent --rcheck --seconds 60 --hitcount 3 --rttl --name a --rdest -j DROP",
    "-A INPUT -m recent --update --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --name c",
    "-A INPUT -m recent --update --mask 255.255.255.0 --name c",
    "-A INPUT -m recent ! --remove --name d --rsource",
    // Parsed and printed as ip6tables does; loading it is refused (the
    // kernel keeps IPv6's addresses whole: recent.rs).
    "-A INPUT -m recent --update --mask ffff:ffff:: --name b",
    // ---- policy (its tunnel addresses in IPv6) ----
    "-A INPUT -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 2001:db8::1/64 --tunnel-dst 2001:db8::2 -j DROP",
    "-A INPUT -m policy --dir in --pol none -j ACCEPT",
    "-A OUTPUT -m policy --dir out --pol ipsec --strict --reqid 5 --proto esp --next --mode tunnel --tunnel-dst 2001:db8:1::/48 -j ACCEPT",
    "-A INPUT -m policy --dir in --pol ipsec --tunnel-src 192.0.2.1 -j DROP",
    "-A INPUT -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 2001:db8::1/129 -j DROP",
    "-A INPUT -m policy --dir in --pol ipsec --mode tunnel ! --tunnel-dst ::1/128 -j DROP",
    "-A INPUT -m conntrack --ctorigsrc 2001:db8::1/64 ! --ctrepldst ::1",
    "-A INPUT -m conntrack --ctorigdst ::/0 --ctreplsrc ::ffff:1.2.3.4/128 --ctdir REPLY",
    "-A INPUT -p tcp -m conntrack --ctorigdstport 80 --ctrepldst fe80::/10",
    "-A INPUT -m conntrack --ctorigsrc 192.0.2.1",
    "-A INPUT -m conntrack --ctorigsrc 2001:db8::1/129",
    "-A INPUT -m conntrack --ctorigsrc 2001:db8::1/-1",
    "-A INPUT -m iprange --src-range 2001:db8::1-2001:db8::5 -j ACCEPT",
    "-A INPUT -m iprange ! --src-range ::1 --dst-range ::ffff:1.2.3.4-::ffff:1.2.3.9",
    "-A INPUT -m iprange --dst-range 2001:db8::5-2001:db8::1",
    "-A INPUT -m iprange --src-range 1.2.3.4-1.2.3.5",
    "-A INPUT -m iprange --src-range ::1-x",
    "-A INPUT -m iprange",
    // ---- what fw refuses itself ----
    "-A INPUT -m conntrack --ctorigsrc 2001:db8::1/ffff::ffff",
    "-A INPUT -m recent --set",
    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-name a",
    "-A INPUT -m frag --fragid 5 -j ACCEPT",
    "-A INPUT -m ipv6header --header frag -j ACCEPT",
    "-A INPUT -m eui64 -j ACCEPT",
    "-A INPUT -m rt --rt-0-res -j ACCEPT",
    "-A INPUT -s localhost -j ACCEPT",
];

/// fw's own refusals among [`LINES`]: the line and its message.
const REFUSED: &[(&str, &str)] = &[
    (
        "-A INPUT -m conntrack --ctorigsrc 2001:db8::1/ffff::ffff",
        "not supported yet: mask `2001:db8::1/ffff::ffff' (-m conntrack)",
    ),
    (
        "-A INPUT -m frag --fragid 5 -j ACCEPT",
        "not supported yet: -m frag",
    ),
    (
        "-A INPUT -m ipv6header --header frag -j ACCEPT",
        "not supported yet: -m ipv6header",
    ),
    ("-A INPUT -m eui64 -j ACCEPT", "not supported yet: -m eui64"),
    (
        "-A INPUT -m rt --rt-0-res -j ACCEPT",
        "not supported yet: --rt-0-res (-m rt)",
    ),
    (
        "-A INPUT -s localhost -j ACCEPT",
        "not supported yet: host name `localhost' (fw does not resolve names: give an IPv6 address)",
    ),
];

/// Lines where fw and ip6tables differ on purpose, with the reason.
const DEVIATIONS: &[(&str, &str)] = &[
    (
        "-A INPUT -p 60 -s 1.2.3.4 -j DROP",
        "ip6tables prints its \"never matched protocol\" warning before the line's error; fw \
         prints only the error (a parse error carries no warnings)",
    ),
    (
        "-A INPUT -m iprange --dst-range 2001:db8::5-2001:db8::1",
        "a reversed range: ip6tables warns on stderr, fw accepts silently (as in IPv4)",
    ),
];

/// The table every line starts from, in ip6tables.
const RESET: &str = "ipt=/usr/sbin/ip6tables-legacy; $ipt -F; $ipt -X; \
    $ipt -P INPUT ACCEPT; $ipt -P FORWARD ACCEPT; $ipt -P OUTPUT ACCEPT; \
    $ipt -N u; $ipt -N v";

/// The listings each accepted line's table is compared by.
const AFTER: [&str; 3] = ["-S", "-L -n", "-L -v -n -x"];

/// What a command line did.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    /// The [`AFTER`] listings of the table afterwards (when it succeeded).
    tables: Vec<String>,
}

/// The line in ip6tables.
fn ip6tables(ns: &Netns, words: &[String]) -> Outcome {
    let listings: String = AFTER
        .iter()
        .map(|l| format!("; echo @@; {IP6TABLES} {l}"))
        .collect();
    let script = format!("{RESET}; {IP6TABLES} \"$@\"; rc=$?; echo \"@@RC=$rc\"{listings}");
    let out = ns.sh(&script, words, None);
    let stdout = text(&out.stdout);
    let (cmd_out, rest) = stdout
        .split_once("@@RC=")
        .unwrap_or_else(|| panic!("no marker in {stdout:?}"));
    let (code, tables) = rest.split_once('\n').unwrap_or((rest, ""));
    let code: i32 = code.trim().parse().unwrap();
    Outcome {
        code,
        stdout: cmd_out.to_string(),
        stderr: text(&out.stderr),
        tables: if code == 0 {
            tables.split("@@\n").skip(1).map(str::to_string).collect()
        } else {
            Vec::new()
        },
    }
}

/// An IPv6 table with the chains `u` and `v`.
fn base() -> State {
    let mut st = State {
        ruleset: Ruleset::new(Family::V6),
        ..State::default()
    };
    st.ruleset.user_chains.insert("u".into(), vec![]);
    st.ruleset.user_chains.insert("v".into(), vec![]);
    st
}

/// `listing` (an [`AFTER`] entry) of `st` as fw prints it.
fn fw_listing(st: &State, listing: &str, services: &Services) -> String {
    let words = parse::split_spec(listing).unwrap();
    let inv = parse::parse_args_in(&words, Family::V6, services).unwrap();
    offline::execute(st, &inv, services, false, offline::no_counters)
        .unwrap_or_else(|e| panic!("{listing}: {e}"))
        .output
}

/// The same line through fw's library, offline, in IPv6.
fn fw(words: &[String], services: &Services) -> Result<Outcome, String> {
    let st = base();
    let fail = |code: i32, stderr: Option<String>| -> Result<Outcome, String> {
        stderr
            .map(|stderr| Outcome {
                code,
                stdout: String::new(),
                stderr,
                tables: Vec::new(),
            })
            .ok_or_else(|| "fw-only refusal".to_string())
    };
    let inv = match parse::parse_args_in(words, Family::V6, services) {
        Ok(inv) => inv,
        Err(e) => {
            if matches!(e, parse::ParseError::NotSupported { .. }) {
                return Err(e.to_string());
            }
            return fail(e.exit_code(), Some(e.iptables_stderr("ip6tables", VERSION)));
        }
    };
    // ip6tables prints its warnings while it parses, before anything else.
    let warnings: String = inv.warnings.iter().map(|w| format!("{w}\n")).collect();
    match offline::execute(&st, &inv, services, false, offline::no_counters) {
        Ok(done) => {
            let after = done.state.unwrap_or(st);
            Ok(Outcome {
                code: 0,
                stdout: done.output,
                stderr: warnings,
                tables: AFTER
                    .iter()
                    .map(|l| fw_listing(&after, l, services))
                    .collect(),
            })
        }
        Err(e) => match e.iptables_stderr("ip6tables", VERSION) {
            Some(stderr) => fail(e.exit_code(), Some(warnings + &stderr)),
            None => Err(e.to_string()),
        },
    }
}

#[test]
fn every_ipv6_line_like_ip6tables_legacy() {
    require_iptables();
    let ns = Netns::new("oracle-lines6").unwrap();
    let services = Services::system();
    let mut failures = Vec::new();
    let mut refused = Vec::new();
    for line in LINES {
        let words = parse::split_spec(line).unwrap();
        let want = ip6tables(&ns, &words);
        let got = match fw(&words, services) {
            Ok(o) => o,
            Err(refusal) => {
                refused.push((line.to_string(), refusal));
                continue;
            }
        };
        let deviation = DEVIATIONS.iter().any(|(l, _)| l == line);
        if got != want && !deviation {
            failures.push(format!(
                "{line}\n  ip6tables: {want:?}\n  fw:        {got:?}"
            ));
        }
        if got == want && deviation {
            failures.push(format!("{line}\n  listed as a deviation but agrees"));
        }
    }
    let expected: Vec<(String, String)> = REFUSED
        .iter()
        .map(|(l, m)| (l.to_string(), m.to_string()))
        .collect();
    if refused != expected {
        failures.push(format!("fw's own refusals differ: {refused:#?}"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} lines differ:\n{}",
        failures.len(),
        LINES.len(),
        failures.join("\n")
    );
}

/// A table of IPv6 rules, built in both by the same lines.
const TABLE: &[&str] = &[
    "-N w",
    "-P FORWARD DROP",
    "-A INPUT -i lo -j ACCEPT",
    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -m conntrack --ctstate NEW --ctorigsrc 2001:db8::/32 ! --ctorigdst ::/0 -j u",
    "-A INPUT -m rt --rt-type 0 -j DROP",
    "-A INPUT -p ipv6-icmp --icmpv6-type echo-request -m limit --limit 5/sec -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type router-advertisement -m hl --hl-eq 255 -j ACCEPT",
    "-A INPUT -p icmpv6 ! --icmpv6-type 1/4 -s fe80::/10 -j ACCEPT",
    "-A INPUT -p icmpv6 --icmpv6-type 200 -j ACCEPT",
    "-A INPUT -s 2001:db8::/32,2001:db8:1::7 -p tcp -m multiport --dports 22,80:90 -j ACCEPT",
    "-A INPUT -p udp -s fe80::/10 --sport 547 -d fe80::/10 --dport 546 -j ACCEPT",
    "-A INPUT -p udp -d ff02::fb --dport 5353 -j ACCEPT",
    "-A INPUT ! -s 2001:db8::1/ffff::ffff -j w",
    "-A INPUT -s 2001:db8:1234:5678:9abc:def0:1234:5678/127 -j DROP",
    "-A INPUT -m hl --hl-lt 2 -j LOG --log-prefix \"hl: \" --log-level 6",
    "-A INPUT -p tcp --dport 22 -m comment --comment SSH -j REJECT --reject-with icmp6-port-unreachable",
    "-A INPUT -m iprange --src-range 2001:db8::1-2001:db8::ff ! --dst-range ::1-::2 -j DROP",
    "-A INPUT -j REJECT --reject-with icmp6-adm-prohibited",
    "-A FORWARD -i tun+ -s fd42:42:42:42::/112 -j ACCEPT",
    "-A FORWARD -o tun+ -d fd42:42:42:42::/112 -g u",
    "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset",
    "-A OUTPUT -o lo -j ACCEPT",
    "-A OUTPUT -p icmpv6 -m hl ! --hl-eq 1 -j ACCEPT",
    "-A OUTPUT -m rt ! --rt-type 2 --rt-segsleft 1:3 ! --rt-len 4",
    "-A u -p udp --sport 53 -j RETURN",
    "-A u -m mark --mark 0x40000/0xff0000 -j ACCEPT",
    "-A v -m state --state NEW -j DROP",
    "-A w -p tcp ! --syn -j ACCEPT",
];

/// The listings compared.
const LISTINGS: &[&str] = &[
    "-S",
    "-S -v",
    "-S INPUT 3",
    "-L",
    "-L -n",
    "-L -v",
    "-L -v -n",
    "-L -x -v -n --line-numbers",
    "-L --line-numbers",
    "-L u",
    "-L INPUT 5",
    "-L FORWARD -n",
];

#[test]
fn ipv6_listings_like_ip6tables_legacy() {
    require_iptables();
    let ns = Netns::new("oracle-listings6").unwrap();
    let mut script = String::from(RESET);
    let mut st = base();
    let services = Services::system();
    for line in TABLE {
        script.push_str(&format!(
            "; {IP6TABLES} {} || echo FAILED: {line}",
            sh_words(line)
        ));
        let words = parse::split_spec(line).unwrap();
        let inv = parse::parse_args_in(&words, Family::V6, services)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        st = offline::execute(&st, &inv, services, false, offline::no_counters)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .state
            .unwrap_or_else(|| panic!("{line}: not a change"));
    }
    let setup = ns.sh(&script, &[], None);
    assert!(
        !text(&setup.stdout).contains("FAILED") && setup.stderr.is_empty(),
        "ip6tables refused a line: {}{}",
        text(&setup.stdout),
        text(&setup.stderr)
    );
    let mut failures = Vec::new();
    for listing in LISTINGS {
        let want = text(&ns.sh(&format!("{IP6TABLES} {listing}"), &[], None).stdout);
        let got = fw_listing(&st, listing, services);
        if got != want {
            failures.push(format!(
                "ip6tables {listing}\n--- ip6tables\n{want}--- fw\n{got}"
            ));
        }
    }
    // ip6tables-save, without its comment lines (they hold the date).
    let want: String = text(
        &ns.sh(&format!("{IP6TABLES}-save -t filter"), &[], None)
            .stdout,
    )
    .lines()
    .filter(|l| !l.starts_with('#'))
    .map(|l| format!("{l}\n"))
    .collect();
    let got = render::save(&st.ruleset, &Counters::default(), false, None);
    if got != want {
        failures.push(format!(
            "ip6tables-save\n--- ip6tables\n{want}--- fw\n{got}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `line` quoted for sh, word by word (as fw splits it).
fn sh_words(line: &str) -> String {
    parse::split_spec(line)
        .unwrap()
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}
