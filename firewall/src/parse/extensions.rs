//! What iptables 1.8.9 knows that fw does not parse yet, so that fw can
//! say "not supported yet" (instead of iptables' "Couldn't load match")
//! for real features, and "unknown" for typos. Lists taken from the
//! IPv4 extensions iptables 1.8.9 ships (iptables-extensions(8),
//! /usr/lib/x86_64-linux-gnu/xtables/lib{xt,ipt,ip6t}_*.so on Debian 12).

use crate::model::Family;

/// Match modules (`-m NAME`) both iptables and ip6tables can load
/// (libxt_*; those fw parses, [`super::matches::Module`], are looked up
/// first).
/// Why fw refuses a match module it knows but does not parse, where
/// there is more to say than "not supported yet".
pub(crate) fn refusal_reason(name: &str) -> Option<&'static str> {
    match name {
        "string" => Some(
            "netfilter searches a packet after GRO merged its TCP segments, fw's XDP hook each \
             frame before: a string across two segments would match in one and not the other \
             (docs/semantics.md item 30)",
        ),
        _ => None,
    }
}

pub(crate) const MATCHES: &[&str] = &[
    "addrtype",
    "ah",
    "bpf",
    "cgroup",
    "cluster",
    "comment",
    "connbytes",
    "connlabel",
    "connlimit",
    "connmark",
    "conntrack",
    "cpu",
    "dccp",
    "devgroup",
    "dscp",
    "ecn",
    "esp",
    "helper",
    "ipcomp",
    "iprange",
    "ipvs",
    "length",
    "limit",
    "mac",
    "multiport",
    "nfacct",
    "osf",
    "owner",
    "physdev",
    "pkttype",
    "policy",
    "quota",
    "rateest",
    "recent",
    "rpfilter",
    "sctp",
    "set",
    "socket",
    "state",
    "statistic",
    "string",
    "tcpmss",
    "time",
    "tos",
    "u32",
];

/// Match modules only iptables (IPv4) has (libipt_*).
pub(crate) const MATCHES_V4: &[&str] = &["icmp", "realm", "ttl"];

/// Match modules only ip6tables has (libip6t_*; `ah` has one for each).
pub(crate) const MATCHES_V6: &[&str] = &[
    "dst",
    "eui64",
    "frag",
    "hbh",
    "hl",
    "icmp6",
    "ipv6header",
    "mh",
    "rt",
    "srh",
];

/// Whether `-m name` is a module the iptables of `family` can load
/// (for "not supported yet" rather than "Couldn't load match").
pub(crate) fn known_match(name: &str, family: Family) -> bool {
    MATCHES.contains(&name)
        || match family {
            Family::V4 => MATCHES_V4.contains(&name),
            Family::V6 => MATCHES_V6.contains(&name),
        }
}

/// Targets (`-j NAME`) iptables knows for IPv4, besides ACCEPT and DROP:
/// the other built-in verdicts and the target extensions (RETURN, REJECT
/// and LOG are parsed before this list is consulted; the list also names
/// what a chain may not be called).
pub(crate) const TARGETS: &[&str] = &[
    "RETURN",
    "QUEUE",
    "AUDIT",
    "CHECKSUM",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNMARK",
    "CONNSECMARK",
    "CT",
    "DNAT",
    "DSCP",
    "ECN",
    "HMARK",
    "IDLETIMER",
    "LED",
    "LOG",
    "MARK",
    "MASQUERADE",
    "NETMAP",
    "NFLOG",
    "NFQUEUE",
    "NOTRACK",
    "RATEEST",
    "REDIRECT",
    "REJECT",
    "SECMARK",
    "SET",
    "SNAT",
    "SYNPROXY",
    "TCPMSS",
    "TCPOPTSTRIP",
    "TEE",
    "TOS",
    "TPROXY",
    "TRACE",
    "TTL",
    "ULOG",
];

/// Tables iptables has besides `filter`.
pub(crate) const TABLES: &[&str] = &["nat", "mangle", "raw", "security"];

/// Protocol modules iptables loads implicitly after `-p NAME` when it
/// meets an option it does not know, with their long options.
pub(crate) const PROTOCOL_MODULES: &[(&str, &[&str])] = &[
    (
        "sctp",
        &[
            "source-port",
            "sport",
            "destination-port",
            "dport",
            "chunk-types",
        ],
    ),
    (
        "dccp",
        &[
            "source-port",
            "sport",
            "destination-port",
            "dport",
            "dccp-types",
            "dccp-option",
        ],
    ),
    ("esp", &["espspi"]),
    ("ah", &["ahspi"]),
    ("ipcomp", &["ipcompspi", "compres"]),
];

/// The option of `options` that `name` names, as getopt_long resolves a
/// long name (exact, or a unique prefix).
pub(crate) fn resolve<'a>(options: &[&'a str], name: &str) -> Option<&'a str> {
    if let Some(o) = options.iter().find(|o| **o == name) {
        return Some(o);
    }
    let mut prefixed = options.iter().filter(|o| o.starts_with(name));
    match (prefixed.next(), prefixed.next()) {
        (Some(o), None) => Some(o),
        _ => None,
    }
}
