//! IP protocol names (`-p`), as iptables resolves them: a number 0..=255,
//! `all`, a name of /etc/protocols (`getprotobyname`), or a name of
//! libxtables' own table (`xtables_chain_protos`).
//!
//! fw uses a built-in copy of Debian 12's /etc/protocols (netbase 6.4) so
//! that parsing and printing do not depend on the host's file.

use super::{error::ParseError, values::strtoui};

/// One line of /etc/protocols: official name, number, aliases
/// (protocols(5)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolEntry {
    /// The official name, which `iptables -S` and `-L` print.
    pub name: &'static str,
    /// The IANA protocol number (may exceed 255: MPTCP is 262).
    pub number: u16,
    /// Other names `-p` accepts (after iptables lower-cases the argument,
    /// only lower-case aliases can match).
    pub aliases: &'static [&'static str],
}

const fn p(name: &'static str, number: u16, aliases: &'static [&'static str]) -> ProtocolEntry {
    ProtocolEntry {
        name,
        number,
        aliases,
    }
}

/// Debian 12's /etc/protocols, in file order (the first entry for a
/// number is what `getprotobynumber` returns).
pub const PROTOCOLS: &[ProtocolEntry] = &[
    p("ip", 0, &["IP"]),
    p("hopopt", 0, &["HOPOPT"]),
    p("icmp", 1, &["ICMP"]),
    p("igmp", 2, &["IGMP"]),
    p("ggp", 3, &["GGP"]),
    p("ipencap", 4, &["IP-ENCAP"]),
    p("st", 5, &["ST"]),
    p("tcp", 6, &["TCP"]),
    p("egp", 8, &["EGP"]),
    p("igp", 9, &["IGP"]),
    p("pup", 12, &["PUP"]),
    p("udp", 17, &["UDP"]),
    p("hmp", 20, &["HMP"]),
    p("xns-idp", 22, &["XNS-IDP"]),
    p("rdp", 27, &["RDP"]),
    p("iso-tp4", 29, &["ISO-TP4"]),
    p("dccp", 33, &["DCCP"]),
    p("xtp", 36, &["XTP"]),
    p("ddp", 37, &["DDP"]),
    p("idpr-cmtp", 38, &["IDPR-CMTP"]),
    p("ipv6", 41, &["IPv6"]),
    p("ipv6-route", 43, &["IPv6-Route"]),
    p("ipv6-frag", 44, &["IPv6-Frag"]),
    p("idrp", 45, &["IDRP"]),
    p("rsvp", 46, &["RSVP"]),
    p("gre", 47, &["GRE"]),
    p("esp", 50, &["IPSEC-ESP"]),
    p("ah", 51, &["IPSEC-AH"]),
    p("skip", 57, &["SKIP"]),
    p("ipv6-icmp", 58, &["IPv6-ICMP"]),
    p("ipv6-nonxt", 59, &["IPv6-NoNxt"]),
    p("ipv6-opts", 60, &["IPv6-Opts"]),
    p("rspf", 73, &["RSPF", "CPHB"]),
    p("vmtp", 81, &["VMTP"]),
    p("eigrp", 88, &["EIGRP"]),
    p("ospf", 89, &["OSPFIGP"]),
    p("ax.25", 93, &["AX.25"]),
    p("ipip", 94, &["IPIP"]),
    p("etherip", 97, &["ETHERIP"]),
    p("encap", 98, &["ENCAP"]),
    p("pim", 103, &["PIM"]),
    p("ipcomp", 108, &["IPCOMP"]),
    p("vrrp", 112, &["VRRP"]),
    p("l2tp", 115, &["L2TP"]),
    p("isis", 124, &["ISIS"]),
    p("sctp", 132, &["SCTP"]),
    p("fc", 133, &["FC"]),
    p("mobility-header", 135, &["Mobility-Header"]),
    p("udplite", 136, &["UDPLite"]),
    p("mpls-in-ip", 137, &["MPLS-in-IP"]),
    p("manet", 138, &[]),
    p("hip", 139, &["HIP"]),
    p("shim6", 140, &["Shim6"]),
    p("wesp", 141, &["WESP"]),
    p("rohc", 142, &["ROHC"]),
    p("ethernet", 143, &["Ethernet"]),
    p("mptcp", 262, &["MPTCP"]),
];

/// libxtables' `xtables_chain_protos`: names iptables knows even without
/// /etc/protocols, in its order (the first name of a number is the one
/// iptables prints where it does not look protocols up, as in the rule
/// lines of `-v`).
pub const CHAIN_PROTOS: &[(&str, u8)] = &[
    ("tcp", 6),
    ("sctp", 132),
    ("udp", 17),
    ("udplite", 136),
    ("icmp", 1),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-mh", 135),
    ("mh", 135),
    ("all", 0),
];

/// Parses `-p`'s argument as `xtables_parse_protocol` does, after iptables
/// has lower-cased it: a number (decimal, `0x` hex or `0` octal) 0..=255,
/// `all` (0), a /etc/protocols name or alias, an `xtables_chain_protos`
/// name.
///
/// Errors: [`ParseError::UnknownProtocol`] (holding `arg` lower-cased);
/// [`ParseError::NotSupported`] for `mptcp`, whose number 262 is not an IP
/// protocol number (iptables stores it in a 16-bit field and never matches).
pub fn parse_protocol(arg: &str) -> Result<u8, ParseError> {
    let lower = arg.to_ascii_lowercase();
    if let Some(n) = strtoui(&lower, 0, 255) {
        return Ok(n as u8);
    }
    if lower == "all" {
        return Ok(0);
    }
    if let Some(e) = PROTOCOLS
        .iter()
        .find(|e| e.name == lower || e.aliases.contains(&lower.as_str()))
    {
        return u8::try_from(e.number).map_err(|_| {
            ParseError::unsupported(
                format!(
                    "-p {lower} (protocol {} is not an IPv4 protocol number)",
                    e.number
                ),
                lower.clone(),
            )
        });
    }
    CHAIN_PROTOS
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|(_, num)| *num)
        .ok_or(ParseError::UnknownProtocol(lower))
}

/// The name `getprotobynumber` gives `number` (first /etc/protocols entry).
pub fn protocol_name(number: u8) -> Option<&'static str> {
    PROTOCOLS
        .iter()
        .find(|e| e.number == u16::from(number))
        .map(|e| e.name)
}

/// The name iptables prints for `number` in `-S` and in `-L` without `-n`
/// (`proto_to_name`): /etc/protocols first, then `xtables_chain_protos`
/// (`all` for 0); `None` when only the number can be printed.
pub fn display_name(number: u8) -> Option<&'static str> {
    if number == 0 {
        return Some("all");
    }
    protocol_name(number).or_else(|| {
        CHAIN_PROTOS
            .iter()
            .find(|(_, n)| *n == number)
            .map(|(name, _)| *name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for (text, want) in [
            ("tcp", 6),
            ("TCP", 6),
            ("Tcp", 6),
            ("0x6", 6),
            ("017", 15),
            ("all", 0),
            ("ip", 0),
            ("gre", 47),
            ("ipv6-icmp", 58),
            ("icmpv6", 58),
            ("255", 255),
        ] {
            assert_eq!(parse_protocol(text), Ok(want), "{text}");
        }
        for (bad, lower) in [("FOO", "foo"), ("256", "256"), ("-1", "-1")] {
            assert_eq!(
                parse_protocol(bad),
                Err(ParseError::UnknownProtocol(lower.into()))
            );
        }
        assert!(matches!(
            parse_protocol("mptcp"),
            Err(ParseError::NotSupported { .. })
        ));
    }

    #[test]
    fn printed_names() {
        assert_eq!(display_name(0), Some("all"));
        assert_eq!(display_name(6), Some("tcp"));
        assert_eq!(display_name(47), Some("gre"));
        assert_eq!(display_name(58), Some("ipv6-icmp"));
        assert_eq!(display_name(143), Some("ethernet"));
        assert_eq!(display_name(200), None);
        // Every printed name parses back to its number.
        for n in 0..=255u8 {
            if let Some(name) = display_name(n) {
                assert_eq!(parse_protocol(name), Ok(n), "{name}");
            }
        }
    }
}
