//! The benchmark's rulesets and probe packets.
//!
//! Ruleset N: N filler rules `-s A/32 -p udp --dport P -j ACCEPT` that the
//! probe never matches (A in 198.51.100.0/24 or 203.0.113.0/24, P spread
//! over 1024..65023, every (A, P) pair distinct), then [`DROP_SPEC`], which
//! every probe packet matches. The INPUT policy is ACCEPT. Every address
//! is a documentation address (RFC 5737).
//!
//! The IPv6 ruleset ([`Family::V6`]) is the same with the addresses
//! mapped into 2001:db8::/32 (RFC 3849): fillers `-s A/128` with A in
//! 2001:db8:1::/64 or 2001:db8:2::/64 (the same 508 hosts, the same
//! ports), then [`DROP_SPEC6`] for the lab's 2001:db8::/64.
//!
//! The DROP rule names the source port range so that the probe traffic
//! can consist of more distinct flows than fw's match cache holds (its
//! key is the values of the fields the chain's rules use): see [`Flows`].

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use super::bpf::{XDP_DROP, XDP_PASS};

/// The client's address: the source of every probe packet.
pub const CLIENT: Ipv4Addr = integration_tests::CLIENT_ADDR;
/// The server's address: the destination of every probe packet.
pub const SERVER: Ipv4Addr = integration_tests::SERVER_ADDR;
/// The client's IPv6 address (2001:db8::1/64, added to the lab for IPv6).
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The server's IPv6 address (2001:db8::2/64).
pub const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// UDP destination port of the probe traffic (discard, RFC 863).
pub const PROBE_PORT: u16 = 9;
/// The last rule: the one that drops the probe traffic.
pub const DROP_SPEC: &str = "-s 192.0.2.0/24 -p udp -m udp --sport 1024:65535 --dport 9 -j DROP";
/// [`DROP_SPEC`] for IPv6, as ip6tables-save prints it.
pub const DROP_SPEC6: &str = "-s 2001:db8::/64 -p udp -m udp --sport 1024:65535 --dport 9 -j DROP";

/// The address family of a ruleset and its probe traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4: iptables, `table ip`, 60-byte frames.
    V4,
    /// IPv6: ip6tables, `fw -6`, `table ip6`, 62-byte frames.
    V6,
}

impl Family {
    /// Both, in report order.
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// Name in CSV file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    /// "" or "6": what iptables' and the scratch files' names take.
    pub fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "",
            Family::V6 => "6",
        }
    }

    /// fw's options selecting this family's table.
    pub fn fw_opts(self) -> &'static [&'static str] {
        match self {
            Family::V4 => &[],
            Family::V6 => &["-6"],
        }
    }

    /// The probe's source address.
    pub fn client(self) -> IpAddr {
        match self {
            Family::V4 => CLIENT.into(),
            Family::V6 => CLIENT6.into(),
        }
    }

    /// The probe's destination address.
    pub fn server(self) -> IpAddr {
        match self {
            Family::V4 => SERVER.into(),
            Family::V6 => SERVER6.into(),
        }
    }

    /// The last rule of this family's ruleset.
    pub fn drop_spec(self) -> &'static str {
        match self {
            Family::V4 => DROP_SPEC,
            Family::V6 => DROP_SPEC6,
        }
    }

    /// (nft table family, set element type, source address expression,
    /// the DROP rule's source network).
    fn nft(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Family::V4 => ("ip", "ipv4_addr", "ip saddr", "192.0.2.0/24"),
            Family::V6 => ("ip6", "ipv6_addr", "ip6 saddr", "2001:db8::/64"),
        }
    }

    /// The nftables table family: `ip` or `ip6`.
    pub fn nft_family(self) -> &'static str {
        self.nft().0
    }

    /// Bytes of the IP header: 20 (no options) or 40.
    pub fn ip_header_len(self) -> usize {
        match self {
            Family::V4 => 20,
            Family::V6 => 40,
        }
    }

    /// Bytes of UDP payload in a probe frame: what fills it to
    /// [`Family::frame_len`] past the Ethernet, IP and UDP headers.
    pub fn payload_len(self) -> usize {
        self.frame_len() - 14 - self.ip_header_len() - 8
    }

    /// Bytes of a probe frame without the FCS: 60 for IPv4 (14 + 20 + 8
    /// and 18 bytes of payload, Ethernet's minimum), 62 for IPv6 (14 + 40
    /// + 8, no payload: the smallest IPv6 UDP frame needs no padding).
    pub fn frame_len(self) -> usize {
        match self {
            Family::V4 => 60,
            Family::V6 => 62,
        }
    }
}
/// The rule `-A` appends when its latency is measured (matches nothing).
pub const ADD_SPEC: &str = "-s 203.0.113.250/32 -p udp -m udp --dport 4242 -j ACCEPT";
/// [`ADD_SPEC`] as an element of the nftables set.
pub const ADD_ELEMENT: &str = "203.0.113.250 . 4242";
/// The nftables table of the set-based ruleset.
pub const NFT_TABLE: &str = "fwbench";

/// Source addresses of the fillers: 198.51.100.1-254, 203.0.113.1-254;
/// in IPv6 2001:db8:1::1-fe, 2001:db8:2::1-fe.
fn filler_addr(f: Family, i: u32) -> IpAddr {
    let k = i % 508;
    let (net, host) = if k < 254 { (0, k + 1) } else { (1, k - 253) };
    match f {
        Family::V4 => {
            let [a, b, c] = [[198, 51, 100], [203, 0, 113]][net];
            Ipv4Addr::new(a, b, c, host as u8).into()
        }
        Family::V6 => Ipv6Addr::new(0x2001, 0xdb8, net as u16 + 1, 0, 0, 0, 0, host as u16).into(),
    }
}

/// Filler `i` (0-based) of family `f`: its source address and destination
/// port. 7919 is prime to 64,000, so ports do not repeat for `i` below
/// 64,000 and no two fillers are equal.
pub fn filler(f: Family, i: u32) -> (IpAddr, u16) {
    let port = 1024 + (u64::from(i) * 7919 % 64_000) as u16;
    (filler_addr(f, i), port)
}

/// `-s A/32 -p udp -m udp --dport P -j ACCEPT` (IPv6: `A/128`), as
/// iptables-save prints it.
fn filler_spec(f: Family, i: u32) -> String {
    let (a, p) = filler(f, i);
    let len = if a.is_ipv4() { 32 } else { 128 };
    format!("-s {a}/{len} -p udp -m udp --dport {p} -j ACCEPT")
}

/// The rule specifications of ruleset `n` in order, without `-A INPUT`.
pub fn specs(f: Family, n: u32) -> Vec<String> {
    (0..n)
        .map(|i| filler_spec(f, i))
        .chain([f.drop_spec().to_owned()])
        .collect()
}

/// Ruleset `n` of family `f` in iptables-restore format
/// (iptables-restore(8); ip6tables-restore reads the same).
pub fn iptables_restore(f: Family, n: u32) -> String {
    let mut s =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for spec in specs(f, n) {
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

/// IPv4 ruleset `n` behind [`ESTABLISHED_SPEC`], in iptables-restore
/// format: every probe packet of an ESTABLISHED flow is decided by the
/// first rule.
pub fn iptables_restore_established(n: u32) -> String {
    iptables_restore(Family::V4, n).replacen(
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

/// An empty filter table in iptables-restore format (either family).
pub fn iptables_empty() -> String {
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n".into()
}

/// Ruleset `n` as an nftables user would write it: the fillers differ only
/// in their values, so they become elements of one set matched by one
/// rule; each element keeps its own counter, as each iptables rule does.
/// The file replaces the whole ruleset (`flush ruleset`), as
/// iptables-restore replaces the table. IPv6: `table ip6`, `ipv6_addr`,
/// `ip6 saddr`.
pub fn nft(f: Family, n: u32) -> String {
    let (family, addr_type, saddr, net) = f.nft();
    let mut s = format!(
        "flush ruleset\ntable {family} {NFT_TABLE} {{\n\tset allowed {{\n\t\ttype {addr_type} . inet_service\n\t\tcounter\n"
    );
    if n > 0 {
        s.push_str("\t\telements = {\n");
        for i in 0..n {
            let (a, p) = filler(f, i);
            let sep = if i + 1 < n { "," } else { "" };
            let _ = writeln!(s, "\t\t\t{a} . {p}{sep}");
        }
        s.push_str("\t\t}\n");
    }
    let _ = write!(
        s,
        "\t}}\n\tchain input {{\n\t\ttype filter hook input priority filter; policy accept;\n\
         \t\t{saddr} . udp dport @allowed accept\n\
         \t\t{saddr} {net} udp sport 1024-65535 udp dport 9 counter drop\n\t}}\n}}\n",
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

    /// (source address, UDP destination port) of the frame for ruleset `n`
    /// of family `f`.
    pub fn flow(self, f: Family, n: u32) -> (IpAddr, u16) {
        match self {
            Hit::First if n > 0 => filler(f, 0),
            Hit::Last | Hit::First => (f.client(), PROBE_PORT),
            // The DROP rule wants port 9; the fillers want other sources.
            Hit::None => (f.client(), PROBE_PORT + 1),
        }
    }
}

/// Source port of the test-run frames (in the DROP rule's range).
pub const TEST_SPORT: u16 = 40000;

/// An Ethernet + IP + UDP frame from `src`:`sport` to the server of
/// `src`'s family, port `dport`: for IPv4 60 bytes (64 on the wire with
/// the FCS), 18 of them zero payload; for IPv6 62 bytes (66 on the wire),
/// no payload ([`Family::frame_len`]). Checksums are zero: the XDP
/// program reads no more than the headers.
pub fn frame(src: IpAddr, sport: u16, dport: u16) -> Vec<u8> {
    let (family, ether_type) = match src {
        IpAddr::V4(_) => (Family::V4, 0x0800u16),
        IpAddr::V6(_) => (Family::V6, 0x86dd),
    };
    let l4 = 14 + family.ip_header_len();
    let mut f = vec![0u8; family.frame_len()];
    f[12..14].copy_from_slice(&ether_type.to_be_bytes());
    let udp_len = (f.len() - l4) as u16;
    match (src, family.server()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let ip = &mut f[14..l4];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
            ip[8] = 64;
            ip[9] = 17;
            ip[12..16].copy_from_slice(&src.octets());
            ip[16..20].copy_from_slice(&dst.octets());
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let ip = &mut f[14..l4];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&udp_len.to_be_bytes());
            ip[6] = 17;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&src.octets());
            ip[24..40].copy_from_slice(&dst.octets());
        }
        _ => unreachable!("Family::server has the family of its address"),
    }
    let udp = &mut f[l4..l4 + 8];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&dport.to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    f
}

/// The probe traffic's variety.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flows {
    /// 192.0.2.1 (IPv6: 2001:db8::1), source ports 1024-2047: 1,024
    /// flows, repeating every 1,024 packets, so fw's match cache holds
    /// (nearly) all of them.
    Ports,
    /// Source addresses 192.0.2.3-253 (2001:db8::3-fd) and ports
    /// 1024-65535 counting together: 251 × 64,512 = 16,192,512 flows
    /// before one repeats (251 is prime); nearly every packet misses fw's
    /// match cache. (.2 is the server itself: the kernel would drop those
    /// as martians.)
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

    /// trafgen(8) configuration: frames of [`Family::frame_len`] bytes
    /// (as [`frame`]'s) from the client's subnet to [`PROBE_PORT`], the
    /// source port (and address) counting so that consecutive packets are
    /// different flows. trafgen fills in the IP and UDP checksums (UDP's
    /// is mandatory in IPv6).
    pub fn trafgen_config(self, f: Family, src_mac: &str, dst_mac: &str) -> String {
        // The last byte of the source address: sa[3] of an IPv4 one, sa[15] of IPv6.
        let last = match f {
            Family::V4 => 3,
            Family::V6 => 15,
        };
        let (addr, sport) = match self {
            Flows::Ports => (String::new(), format!("dinc({PORTS_FIRST}, {PORTS_LAST})")),
            Flows::Hosts => (
                format!(", sa[{last}]=dinc(3, 253)"),
                "dinc(1024, 65535)".to_owned(),
            ),
        };
        let (client, server) = (f.client(), f.server());
        let ip = match f {
            Family::V4 => format!("ipv4(sa={client}{addr}, da={server}, ttl=64)"),
            Family::V6 => format!("ipv6(sa={client}{addr}, da={server}, nh=17, hl=64)"),
        };
        let fill = match f.payload_len() {
            0 => String::new(),
            len => format!(", fill(0, {len})"),
        };
        format!(
            "{{ eth(da={dst_mac}, sa={src_mac}), {ip}, udp(sp={sport}, dp={PROBE_PORT}){fill} }}\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn fillers_are_distinct_and_miss_the_probe() {
        let all: HashSet<_> = (0..50_000).map(|i| filler(Family::V4, i)).collect();
        assert_eq!(all.len(), 50_000);
        for (a, p) in all {
            let IpAddr::V4(a) = a else {
                panic!("{a} in IPv4")
            };
            assert!(a.octets()[..3] == [198, 51, 100] || a.octets()[..3] == [203, 0, 113]);
            assert!(a.octets()[3] != 0 && a.octets()[3] != 255);
            assert!(p >= 1024);
            assert_ne!(a, CLIENT);
        }
    }

    #[test]
    fn ipv6_fillers_are_distinct_documentation_addresses_missing_the_probe() {
        let all: HashSet<_> = (0..50_000).map(|i| filler(Family::V6, i)).collect();
        assert_eq!(all.len(), 50_000);
        for (a, p) in all {
            let IpAddr::V6(a) = a else {
                panic!("{a} in IPv6")
            };
            let s = a.segments();
            // 2001:db8:1::/64 or 2001:db8:2::/64: inside 2001:db8::/32,
            // outside the DROP rule's 2001:db8::/64.
            assert_eq!(&s[..2], &[0x2001, 0xdb8]);
            assert!(s[2] == 1 || s[2] == 2);
            assert_eq!(&s[3..7], &[0; 4]);
            assert!((1..=254).contains(&s[7]));
            assert!(p >= 1024);
        }
        // The same hosts and ports as IPv4's, filler by filler.
        for i in [0, 253, 254, 507, 508, 9_999] {
            let (a4, p4) = filler(Family::V4, i);
            let (a6, p6) = filler(Family::V6, i);
            let (IpAddr::V4(a4), IpAddr::V6(a6)) = (a4, a6) else {
                panic!()
            };
            assert_eq!((u16::from(a4.octets()[3]), p4), (a6.segments()[7], p6));
        }
    }

    #[test]
    fn restore_file_has_n_fillers_and_the_drop_last() {
        for f in Family::ALL {
            let text = iptables_restore(f, 3);
            let rules: Vec<_> = text.lines().filter(|l| l.starts_with("-A ")).collect();
            assert_eq!(rules.len(), 4);
            assert_eq!(rules[0], format!("-A INPUT {}", filler_spec(f, 0)));
            assert_eq!(rules[3], format!("-A INPUT {}", f.drop_spec()));
            assert!(text.starts_with("*filter\n:INPUT ACCEPT [0:0]\n"));
            assert!(text.ends_with("COMMIT\n"));
        }
        let v6 = iptables_restore(Family::V6, 1);
        assert!(
            v6.contains("-A INPUT -s 2001:db8:1::1/128 -p udp -m udp --dport 1024 -j ACCEPT\n")
        );
        assert!(!v6.contains('.'), "an IPv4 address in the IPv6 ruleset");
    }

    #[test]
    fn established_file_has_the_fast_path_rule_first() {
        let text = iptables_restore_established(2);
        let rules: Vec<_> = text.lines().filter(|l| l.starts_with("-A ")).collect();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[0], format!("-A INPUT {ESTABLISHED_SPEC}"));
        assert_eq!(rules[1], format!("-A INPUT {}", filler_spec(Family::V4, 0)));
        assert_eq!(rules[3], format!("-A INPUT {DROP_SPEC}"));
    }

    #[test]
    fn nft_file_has_one_element_per_filler() {
        for f in Family::ALL {
            let text = nft(f, 5);
            assert_eq!(text.lines().filter(|l| l.starts_with("\t\t\t")).count(), 5);
            assert!(!nft(f, 0).contains("elements"));
            let (family, addr_type, saddr, net) = f.nft();
            assert!(text.contains(&format!("table {family} {NFT_TABLE} {{")));
            assert!(text.contains(&format!("type {addr_type} . inet_service")));
            assert!(text.contains(&format!("{saddr} {net} udp sport 1024-65535")));
            // The DROP rule of the iptables ruleset names the same network.
            assert!(f.drop_spec().starts_with(&format!("-s {net} ")));
        }
        assert!(nft(Family::V6, 1).contains("\t\t\t2001:db8:1::1 . 1024\n"));
    }

    #[test]
    fn frames_are_the_smallest_of_their_family() {
        let f = frame(CLIENT.into(), TEST_SPORT, PROBE_PORT);
        assert_eq!(f.len() + 4, 64);
        assert_eq!(&f[36..38], &9u16.to_be_bytes());
        let f = frame(CLIENT6.into(), TEST_SPORT, PROBE_PORT);
        assert_eq!(f.len() + 4, 66);
        assert_eq!(f.len(), 14 + 40 + 8);
        assert_eq!(&f[12..14], &0x86ddu16.to_be_bytes());
        // Payload length 8 (the UDP header alone), next header UDP.
        assert_eq!(&f[18..21], &[0, 8, 17]);
        assert_eq!(&f[22..38], &CLIENT6.octets());
        assert_eq!(&f[38..54], &SERVER6.octets());
        assert_eq!(&f[56..58], &9u16.to_be_bytes());
        assert_eq!(&f[58..60], &8u16.to_be_bytes());
        for fam in Family::ALL {
            let (src, dport) = Hit::Last.flow(fam, 3);
            assert_eq!(frame(src, TEST_SPORT, dport).len(), fam.frame_len());
        }
    }

    #[test]
    fn trafgen_frames_match_the_test_frames() {
        let v6 = Flows::Ports.trafgen_config(Family::V6, "aa", "bb");
        assert!(v6.contains("ipv6(sa=2001:db8::1, da=2001:db8::2, nh=17, hl=64)"));
        assert!(!v6.contains("fill"));
        assert!(
            Flows::Hosts
                .trafgen_config(Family::V6, "aa", "bb")
                .contains("sa[15]=dinc(3, 253)")
        );
        let v4 = Flows::Hosts.trafgen_config(Family::V4, "aa", "bb");
        assert!(v4.contains("ipv4(sa=192.0.2.1, sa[3]=dinc(3, 253), da=192.0.2.2, ttl=64)"));
        assert!(v4.contains("fill(0, 18)"));
    }
}
