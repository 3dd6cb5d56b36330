//! The benchmark's rulesets and probe packets.
//!
//! Ruleset N: N filler rules `-s A/32 -p udp --dport P -j ACCEPT` that the
//! probe never matches (A in 198.51.100.0/24 or 203.0.113.0/24, P spread
//! over 1024..65023, every (A, P) pair distinct), then [`DROP_SPEC`], which
//! every probe packet matches. The INPUT policy is ACCEPT. Every address
//! is a documentation address (RFC 5737).
//!
//! The DROP rule names the source port range so that the probe traffic
//! can consist of more distinct flows than fw's match cache holds (its
//! key is the values of the fields the chain's rules use): see [`Flows`].

use std::{fmt::Write as _, net::Ipv4Addr};

use super::bpf::{XDP_DROP, XDP_PASS};

/// The client's address: the source of every probe packet.
pub const CLIENT: Ipv4Addr = integration_tests::CLIENT_ADDR;
/// The server's address: the destination of every probe packet.
pub const SERVER: Ipv4Addr = integration_tests::SERVER_ADDR;
/// UDP destination port of the probe traffic (discard, RFC 863).
pub const PROBE_PORT: u16 = 9;
/// The last rule: the one that drops the probe traffic.
pub const DROP_SPEC: &str = "-s 192.0.2.0/24 -p udp -m udp --sport 1024:65535 --dport 9 -j DROP";
/// The rule `-A` appends when its latency is measured (matches nothing).
pub const ADD_SPEC: &str = "-s 203.0.113.250/32 -p udp -m udp --dport 4242 -j ACCEPT";
/// [`ADD_SPEC`] as an element of the nftables set.
pub const ADD_ELEMENT: &str = "203.0.113.250 . 4242";
/// The nftables table of the set-based ruleset.
pub const NFT_TABLE: &str = "fwbench";

/// Source addresses of the fillers: 198.51.100.1-254, 203.0.113.1-254.
fn filler_addr(i: u32) -> Ipv4Addr {
    let k = i % 508;
    if k < 254 {
        Ipv4Addr::new(198, 51, 100, (k + 1) as u8)
    } else {
        Ipv4Addr::new(203, 0, 113, (k - 253) as u8)
    }
}

/// Filler `i` (0-based): its source address and destination port. 7919 is
/// prime to 64,000, so ports do not repeat for `i` below 64,000 and no two
/// fillers are equal.
pub fn filler(i: u32) -> (Ipv4Addr, u16) {
    let port = 1024 + (u64::from(i) * 7919 % 64_000) as u16;
    (filler_addr(i), port)
}

/// `-s A/32 -p udp -m udp --dport P -j ACCEPT`, as iptables-save prints it.
fn filler_spec(i: u32) -> String {
    let (a, p) = filler(i);
    format!("-s {a}/32 -p udp -m udp --dport {p} -j ACCEPT")
}

/// The rule specifications of ruleset `n` in order, without `-A INPUT`.
pub fn specs(n: u32) -> Vec<String> {
    (0..n)
        .map(filler_spec)
        .chain([DROP_SPEC.to_owned()])
        .collect()
}

/// Ruleset `n` in iptables-restore format (iptables-restore(8)).
pub fn iptables_restore(n: u32) -> String {
    let mut s =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for spec in specs(n) {
        let _ = writeln!(s, "-A INPUT {spec}");
    }
    s.push_str("COMMIT\n");
    s
}

/// The first rule of the ESTABLISHED ruleset: the fast path's rule. DROP,
/// not ACCEPT, so that its packets end at XDP as the other rulesets'
/// probes do (an accepted one would measure the kernel's UDP stack); the
/// fast path takes either verdict the same way.
pub const ESTABLISHED_SPEC: &str = "-m conntrack --ctstate RELATED,ESTABLISHED -j DROP";

/// Ruleset `n` behind [`ESTABLISHED_SPEC`], in iptables-restore format:
/// every probe packet of an ESTABLISHED flow is decided by the first rule.
pub fn iptables_restore_established(n: u32) -> String {
    iptables_restore(n).replacen(
        "-A INPUT ",
        &format!("-A INPUT {ESTABLISHED_SPEC}\n-A INPUT "),
        1,
    )
}

/// Opens the server's side of every [`Flows::Ports`] flow, in the calling
/// thread's namespace (the server's): one datagram from port
/// [`PROBE_PORT`] to each of the client's source ports, through fw's
/// OUTPUT hook, which records the connection; the client's probe packets
/// are then its replies, ESTABLISHED. Returns the datagrams sent.
///
/// # Errors
/// When the socket cannot be bound or a datagram sent.
pub fn open_probe_flows() -> std::io::Result<u32> {
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PROBE_PORT))?;
    let mut sent = 0;
    for port in PORTS_FIRST..=PORTS_LAST {
        s.send_to(b"open", (CLIENT, port))?;
        sent += 1;
    }
    Ok(sent)
}

/// The source ports of [`Flows::Ports`].
const PORTS_FIRST: u16 = 1024;
/// See [`PORTS_FIRST`].
const PORTS_LAST: u16 = 2047;

/// An empty filter table in iptables-restore format.
pub fn iptables_empty() -> String {
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n".into()
}

/// Ruleset `n` as an nftables user would write it: the fillers differ only
/// in their values, so they become elements of one set matched by one
/// rule; each element keeps its own counter, as each iptables rule does.
/// The file replaces the whole ruleset (`flush ruleset`), as
/// iptables-restore replaces the table.
pub fn nft(n: u32) -> String {
    let mut s = format!(
        "flush ruleset\ntable ip {NFT_TABLE} {{\n\tset allowed {{\n\t\ttype ipv4_addr . inet_service\n\t\tcounter\n"
    );
    if n > 0 {
        s.push_str("\t\telements = {\n");
        for i in 0..n {
            let (a, p) = filler(i);
            let sep = if i + 1 < n { "," } else { "" };
            let _ = writeln!(s, "\t\t\t{a} . {p}{sep}");
        }
        s.push_str("\t\t}\n");
    }
    s.push_str(
        "\t}\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\
         \t\tip saddr . udp dport @allowed accept\n\
         \t\tip saddr 192.0.2.0/24 udp sport 1024-65535 udp dport 9 counter drop\n\t}\n}\n",
    );
    s
}

/// Which rule a test-run frame matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// The last rule (the DROP), past all N fillers.
    Last,
    /// The first rule (filler 0; the DROP itself when N = 0).
    First,
    /// No rule: the policy (ACCEPT) decides.
    None,
}

impl Hit {
    /// All kinds, in report order.
    pub const ALL: [Hit; 3] = [Hit::Last, Hit::First, Hit::None];

    /// Name in tables and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Hit::Last => "last",
            Hit::First => "first",
            Hit::None => "none",
        }
    }

    /// The XDP verdict fw must return: drop for the DROP rule, pass for
    /// an ACCEPT rule or the ACCEPT policy.
    pub fn verdict(self, n: u32) -> i32 {
        match self {
            Hit::Last => XDP_DROP,
            Hit::First if n == 0 => XDP_DROP,
            _ => XDP_PASS,
        }
    }

    /// (source address, UDP destination port) of the frame for ruleset `n`.
    pub fn flow(self, n: u32) -> (Ipv4Addr, u16) {
        match self {
            Hit::First if n > 0 => filler(0),
            Hit::Last | Hit::First => (CLIENT, PROBE_PORT),
            // The DROP rule wants port 9; the fillers want other sources.
            Hit::None => (CLIENT, PROBE_PORT + 1),
        }
    }
}

/// Source port of the test-run frames (in the DROP rule's range).
pub const TEST_SPORT: u16 = 40000;

/// A 60-byte Ethernet + IPv4 + UDP frame (64 bytes on the wire with the
/// FCS) from `src`:`sport` to [`SERVER`]:`dport`, 18 bytes of zero
/// payload. Checksums are zero: the XDP program reads no more than the
/// headers.
pub fn frame(src: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&SERVER.octets());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&dport.to_be_bytes());
    udp[4..6].copy_from_slice(&26u16.to_be_bytes());
    f
}

/// The probe traffic's variety.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flows {
    /// 192.0.2.1, source ports 1024-2047: 1,024 flows, repeating every
    /// 1,024 packets, so fw's match cache holds (nearly) all of them.
    Ports,
    /// Source addresses 192.0.2.3-253 and ports 1024-65535 counting
    /// together: 251 × 64,512 = 16,192,512 flows before one repeats (251
    /// is prime); nearly every packet misses fw's match cache. (.2 is the
    /// server itself: the kernel would drop those as martians.)
    Hosts,
}

impl Flows {
    /// Both, in report order.
    pub const ALL: [Flows; 2] = [Flows::Ports, Flows::Hosts];

    /// Name in CSV files.
    pub fn name(self) -> &'static str {
        match self {
            Flows::Ports => "1024-flows",
            Flows::Hosts => "16M-flows",
        }
    }

    /// Name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Flows::Ports => "1,024 flows (1 address × 1,024 ports)",
            Flows::Hosts => "16 M flows (251 addresses × 64,512 ports)",
        }
    }

    /// trafgen(8) configuration: 60-byte frames (64 on the wire) from the
    /// client's subnet to [`PROBE_PORT`], the source port (and address)
    /// counting so that consecutive packets are different flows. trafgen
    /// fills in the IPv4 and UDP checksums.
    pub fn trafgen_config(self, src_mac: &str, dst_mac: &str) -> String {
        let (addr, sport) = match self {
            Flows::Ports => ("", format!("dinc({PORTS_FIRST}, {PORTS_LAST})")),
            Flows::Hosts => (", sa[3]=dinc(3, 253)", "dinc(1024, 65535)".to_owned()),
        };
        format!(
            "{{ eth(da={dst_mac}, sa={src_mac}), \
             ipv4(sa={CLIENT}{addr}, da={SERVER}, ttl=64), \
             udp(sp={sport}, dp={PROBE_PORT}), \
             fill(0, 18) }}\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn fillers_are_distinct_and_miss_the_probe() {
        let all: HashSet<_> = (0..50_000).map(filler).collect();
        assert_eq!(all.len(), 50_000);
        for (a, p) in all {
            assert!(a.octets()[..3] == [198, 51, 100] || a.octets()[..3] == [203, 0, 113]);
            assert!(a.octets()[3] != 0 && a.octets()[3] != 255);
            assert!(p >= 1024);
            assert_ne!(a, CLIENT);
        }
    }

    #[test]
    fn restore_file_has_n_fillers_and_the_drop_last() {
        let text = iptables_restore(3);
        let rules: Vec<_> = text.lines().filter(|l| l.starts_with("-A ")).collect();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[3], format!("-A INPUT {DROP_SPEC}"));
        assert!(text.ends_with("COMMIT\n"));
    }

    #[test]
    fn established_file_has_the_fast_path_rule_first() {
        let text = iptables_restore_established(2);
        let rules: Vec<_> = text.lines().filter(|l| l.starts_with("-A ")).collect();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[0], format!("-A INPUT {ESTABLISHED_SPEC}"));
        assert_eq!(rules[1], format!("-A INPUT {}", filler_spec(0)));
        assert_eq!(rules[3], format!("-A INPUT {DROP_SPEC}"));
    }

    #[test]
    fn nft_file_has_one_element_per_filler() {
        assert_eq!(
            nft(5).lines().filter(|l| l.starts_with("\t\t\t")).count(),
            5
        );
        assert!(!nft(0).contains("elements"));
    }

    #[test]
    fn frames_are_64_bytes_on_the_wire() {
        let f = frame(CLIENT, TEST_SPORT, PROBE_PORT);
        assert_eq!(f.len() + 4, 64);
        assert_eq!(&f[36..38], &9u16.to_be_bytes());
    }
}
