//! Random filter-table rulesets in iptables-restore text, over what fw
//! enforces on INPUT.

use proptest::{prelude::*, sample::select};

const ADDRS: [&str; 6] = [
    "192.0.2.10",
    "192.0.2.2",
    "198.51.100.7",
    "198.51.100.2",
    "203.0.113.9",
    "203.0.113.2",
];
const PORTS: [&str; 8] = [
    "22",
    "53",
    "80",
    "443",
    "1000:2000",
    "8080",
    "0:1023",
    "40000:65535",
];
const STATES: [&str; 4] = ["NEW", "ESTABLISHED", "RELATED", "INVALID"];
const FLAGS: [&str; 6] = ["SYN", "ACK", "FIN", "RST", "PSH", "URG"];
const ICMP: [&str; 7] = [
    "echo-request",
    "echo-reply",
    "3",
    "3/3",
    "11",
    "any",
    "destination-unreachable",
];
const IFACES: [&str; 4] = ["dt0", "dt+", "lo", "eth9"];

fn neg() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => Just(""), 1 => Just("! ")]
}

fn flagset() -> impl Strategy<Value = String> {
    proptest::sample::subsequence(FLAGS.to_vec(), 0..=6).prop_map(|v| {
        if v.is_empty() {
            "NONE".to_string()
        } else {
            v.join(",")
        }
    })
}

/// The matches of one rule (without its target).
fn matches() -> impl Strategy<Value = String> {
    let addr = (
        neg(),
        select(ADDRS.to_vec()),
        select(vec![0u8, 8, 16, 24, 25, 30, 32]),
    );
    (
        proptest::option::weighted(0.3, (addr, any::<bool>())),
        proptest::option::weighted(0.2, (neg(), select(IFACES.to_vec()))),
        proptest::option::weighted(0.05, neg()),
        0..5u8,
        (neg(), select(PORTS.to_vec()), neg(), select(PORTS.to_vec())),
        (neg(), flagset(), flagset(), any::<bool>()),
        (neg(), select(ICMP.to_vec())),
        proptest::option::weighted(
            0.3,
            (
                neg(),
                any::<bool>(),
                proptest::sample::subsequence(STATES.to_vec(), 1..=4),
            ),
        ),
        // 50 and 10000 wrap xt_limit's u32 credit (12 and 23 at once).
        proptest::option::weighted(0.1, select(vec!["1", "2", "3", "5", "50", "10000"])),
    )
        .prop_map(|(a, i, f, proto, ports, tf, icmp, st, lim)| {
            let mut m = String::new();
            if let Some(((n, ad, len), src)) = a {
                m += &format!("{n}{} {ad}/{len} ", if src { "-s" } else { "-d" });
            }
            if let Some((n, i)) = i {
                m += &format!("{n}-i {i} ");
            }
            // fw refuses -f (not supported yet): never generated.
            let _ = f;
            let (np1, p1, np2, p2) = ports;
            match proto {
                1 | 2 => {
                    let p = if proto == 1 { "tcp" } else { "udp" };
                    m += &format!("-p {p} -m {p} {np1}--sport {p1} {np2}--dport {p2} ");
                    let (nf, mask, comp, syn) = tf;
                    if proto == 1 && syn {
                        m += &format!("{nf}--syn ");
                    } else if proto == 1 {
                        m += &format!("{nf}--tcp-flags {mask} {comp} ");
                    }
                }
                3 => {
                    let p = if np1.is_empty() { "tcp" } else { "udp" };
                    let list = format!("{},{}", p1, p2);
                    m += &format!("-p {p} -m multiport {np2}--dports {list} ");
                }
                4 => m += &format!("-p icmp -m icmp {}--icmp-type {} ", icmp.0, icmp.1),
                _ => {}
            }
            if let Some((n, state, list)) = st {
                if state {
                    m += &format!("-m state {n}--state {} ", list.join(","));
                } else {
                    m += &format!("-m conntrack {n}--ctstate {} ", list.join(","));
                }
            }
            if let Some(b) = lim {
                m += &format!("-m limit --limit 1/hour --limit-burst {b} ");
            }
            m
        })
}

/// A ruleset: INPUT's policy, INPUT's rules and up to three user chains
/// (c0..c2), jumps only to later chains, so no loops.
pub fn ruleset() -> impl Strategy<Value = String> {
    let rule = (matches(), 0..8u8, 0..3u8);
    (
        any::<bool>(),
        proptest::collection::vec(proptest::collection::vec(rule, 0..6), 1..=4),
    )
        .prop_map(|(drop, chains)| {
            let n = chains.len();
            let names: Vec<String> = (0..n)
                .map(|i| {
                    if i == 0 {
                        "INPUT".into()
                    } else {
                        format!("c{i}")
                    }
                })
                .collect();
            let mut t = String::from("*filter\n");
            t += &format!(":INPUT {} [0:0]\n", if drop { "DROP" } else { "ACCEPT" });
            t += ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
            for nm in &names[1..] {
                t += &format!(":{nm} - [0:0]\n");
            }
            for (i, rules) in chains.iter().enumerate() {
                for (m, tgt, to) in rules {
                    let later = n - i - 1;
                    let target = match tgt {
                        0 | 1 => "-j ACCEPT".to_string(),
                        2 | 3 => "-j DROP".to_string(),
                        4 => "-j RETURN".to_string(),
                        5 | 6 if later > 0 => format!(
                            "{} {}",
                            if *tgt == 5 { "-j" } else { "-g" },
                            names[i + 1 + usize::from(*to) % later]
                        ),
                        _ => String::new(),
                    };
                    t += format!("-A {} {m}{target}", names[i]).trim_end();
                    t.push('\n');
                }
            }
            t += "COMMIT\n";
            t
        })
}
