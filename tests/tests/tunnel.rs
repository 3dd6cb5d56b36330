//! Interfaces without an Ethernet header (issue 14, item 4): a tun device
//! (ARPHRD_NONE, as OpenVPN's and WireGuard's) is one fw's programs do
//! not filter yet, so a change that filters anything is refused while
//! one exists, rather than let the tunnel's packets bypass the rules
//! (docs/semantics.md, "Interfaces without an Ethernet header").
//! iptables-legacy in a twin namespace shows what the refused rule does
//! there, on a datagram written to the tun device's file descriptor.

#[path = "common/iptables.rs"]
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;

use std::{
    fs::{File, OpenOptions},
    io::Write,
    net::{Ipv4Addr, UdpSocket},
    os::fd::AsRawFd,
    time::Duration,
};

use integration_tests::{fw_in, in_netns};
use iptables::{IPTABLES, Netns, require_iptables, text};

/// The tun device's address and its peer's, as the datagram carries them.
const LOCAL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
const PORT: u16 = 5353;
/// How long a datagram that should arrive is waited for.
const WAIT: Duration = Duration::from_millis(500);

/// `TUNSETIFF` (`<linux/if_tun.h>`: `_IOW('T', 202, int)`).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;

/// Opens tun0 in `ns` (IFF_TUN | IFF_NO_PI: what is written is one raw
/// IPv4 packet), gives it LOCAL/24 and brings it up. The device lives as
/// long as the returned file.
fn tun0(ns: &Netns) -> File {
    let name = ns.name().to_string();
    let file = in_netns(&name, || {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .expect("/dev/net/tun");
        // SAFETY: ifreq is plain data; all-zero is a valid start.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(b"tun0") {
            *d = *s as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI;
        // SAFETY: TUNSETIFF takes a pointer to an ifreq, valid here.
        let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &raw mut req) };
        assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
        f
    })
    .unwrap();
    let up = ns.sh(
        "ip addr add 203.0.113.1/24 dev tun0 && ip link set tun0 up && ip link set lo up",
        &[],
        None,
    );
    assert!(up.status.success(), "{}", text(&up.stderr));
    file
}

/// The Internet checksum (RFC 1071) of `b`.
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A UDP datagram PEER:40000 → LOCAL:PORT carrying `payload`, as an IPv4
/// packet (RFC 791, RFC 768; UDP checksum 0: none).
fn datagram(payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&PEER.octets());
    p.extend_from_slice(&LOCAL.octets());
    let sum = checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&PORT.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Whether a datagram written to `tun` reaches a socket bound to PORT
/// in `ns`.
fn delivered(ns: &Netns, tun: &mut File) -> bool {
    let sock: UdpSocket = in_netns(ns.name(), || {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT)).unwrap()
    })
    .unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    tun.write_all(&datagram(b"through the tunnel")).unwrap();
    let mut buf = [0u8; 64];
    match sock.recv_from(&mut buf) {
        Ok((n, from)) => {
            assert_eq!(
                (&buf[..n], from.ip()),
                (&b"through the tunnel"[..], PEER.into())
            );
            true
        }
        Err(_) => false,
    }
}

#[test]
fn a_filtering_change_beside_a_tun_device_is_refused_where_iptables_drops() {
    require_iptables();
    // The oracle: iptables' INPUT policy meets the tunnel's datagram.
    let oracle = Netns::new("tun-ipt").unwrap();
    let mut oracle_tun = tun0(&oracle);
    assert!(delivered(&oracle, &mut oracle_tun));
    let set = oracle.sh(&format!("{IPTABLES} -P INPUT DROP"), &[], None);
    assert_eq!(set.status.code(), Some(0), "{}", text(&set.stderr));
    assert!(!delivered(&oracle, &mut oracle_tun));
    let counters = oracle.sh(&format!("{IPTABLES} -L INPUT -vnx"), &[], None);
    assert!(
        text(&counters.stdout).starts_with("Chain INPUT (policy DROP 1 packets, 46 bytes)"),
        "{}",
        text(&counters.stdout)
    );

    // fw cannot filter tun0 yet: the same command is refused, naming it,
    // and the namespace is left as it was (no firewall: it passes).
    let ns = Netns::new("tun-fw").unwrap();
    let mut tun = tun0(&ns);
    let out = fw_in(ns.name(), &["-P", "INPUT", "DROP"]).unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (
            Some(1),
            "fw: interface tun0 (link type 65534) cannot be filtered yet: its packets have no \
             Ethernet header and would bypass the ruleset; not supported yet: rules or a DROP \
             policy in a namespace with such an interface (the firewall is left as it was)\n"
                .to_string()
        )
    );
    let rule = fw_in(
        ns.name(),
        &[
            "-A", "INPUT", "-i", "tun0", "-p", "udp", "--dport", "5353", "-j", "ACCEPT",
        ],
    )
    .unwrap();
    assert_eq!(rule.status.code(), Some(1), "{}", text(&rule.stderr));
    let listed = fw_in(ns.name(), &["-S"]).unwrap();
    assert_eq!(
        text(&listed.stdout),
        "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
    );
    assert!(delivered(&ns, &mut tun));
    let check = fw_in(ns.name(), &["status", "--check"]).unwrap();
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
}

/// The interface list is the rtnetlink link dump: a veth with no address
/// is attached (getifaddrs' list, used before, left it out, unfiltered),
/// and a tun that is down passes nothing, so it does not block a change
/// until it is up.
#[test]
fn an_addressless_veth_is_attached_and_a_down_tun_blocks_nothing_until_up() {
    let ns = Netns::new("tun-down").unwrap();
    let setup = ns.sh(
        "ip tuntap add dev tun9 mode tun && ip link add fwq0 type veth peer name fwq1 \
         && ip link set fwq0 up && ip link set fwq1 up",
        &[],
        None,
    );
    assert_eq!(setup.status.code(), Some(0), "{}", text(&setup.stderr));
    let set = fw_in(ns.name(), &["-P", "INPUT", "DROP"]).unwrap();
    assert_eq!(set.status.code(), Some(0), "{}", text(&set.stderr));
    let status = text(&fw_in(ns.name(), &["status"]).unwrap().stdout);
    let row = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .map(|l| l.split("  ").last().unwrap_or_default().trim().to_string())
    };
    assert_eq!(row("fwq0").as_deref(), Some("filtered"), "{status}");
    assert_eq!(row("fwq1").as_deref(), Some("filtered"), "{status}");
    assert_eq!(
        row("tun9").as_deref(),
        Some("down: link type 65534 has no Ethernet header"),
        "{status}"
    );
    let check = fw_in(ns.name(), &["status", "--check"]).unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let up = ns.sh("ip link set tun9 up", &[], None);
    assert_eq!(up.status.code(), Some(0), "{}", text(&up.stderr));
    let check = fw_in(ns.name(), &["status", "--check"]).unwrap();
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
    let add = fw_in(ns.name(), &["-A", "INPUT", "-j", "ACCEPT"]).unwrap();
    assert_eq!(add.status.code(), Some(1), "{}", text(&add.stderr));
    assert_eq!(
        text(&fw_in(ns.name(), &["-S"]).unwrap().stdout),
        "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
    );
    let reset = fw_in(ns.name(), &["reset"]).unwrap();
    assert_eq!(reset.status.code(), Some(0), "{}", text(&reset.stderr));
}
