//! `fw monitor`: prints the records of `-j LOG` rules as the kernel's LOG
//! target writes them to the kernel log (nf_log_syslog.c,
//! `nf_log_ip_packet` and `dump_ipv4_packet`, `nf_log_ip6_packet` and
//! `dump_ipv6_packet`), from the `LOG_EVENTS` ring buffer.

use std::{fmt::Write as _, io::Write as _, os::fd::AsRawFd as _};

use firewall_common::{
    CHAIN_OUTPUT,
    log::{Event, FLAG_IPOPT, FLAG_MACDECODE, FLAG_TCPOPT, FLAG_TCPSEQ},
};

use crate::{
    exec::{self, ExecError},
    load::{Kernel, LoadError, pins::Dirs},
};

impl From<LoadError> for MonitorError {
    fn from(e: LoadError) -> Self {
        Self::Exec(e.into())
    }
}

impl From<crate::load::pins::PinsError> for MonitorError {
    fn from(e: crate::load::pins::PinsError) -> Self {
        Self::Exec(e.into())
    }
}

/// Errors of `fw monitor`.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// Privileges, the namespace, its pins or maps (as `fw` commands
    /// report them).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// fw has no programs in this namespace.
    #[error("fw is not loaded in this network namespace")]
    NotLoaded,
}

/// `fw monitor [--count N] [--stats]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print records, stopping after `Some(n)`.
    Follow(Option<u64>),
    /// Print the LOG counters.
    Stats,
}

/// Parses the arguments after `monitor`.
///
/// # Errors
/// The problem, for a usage message.
pub fn parse(args: &[String]) -> Result<Command, String> {
    match args {
        [] => Ok(Command::Follow(None)),
        [s] if s == "--stats" => Ok(Command::Stats),
        [c, n] if c == "--count" => n
            .parse()
            .map(|n| Command::Follow(Some(n)))
            .map_err(|_| format!("--count: not a number: {n}")),
        _ => Err("usage: fw monitor [--count N] | --stats".into()),
    }
}

/// Runs `cmd`, writing to stdout.
///
/// # Errors
/// Missing privileges, fw not loaded, or a map that cannot be read.
pub fn run(cmd: &Command) -> Result<(), MonitorError> {
    exec::check_privileges()?;
    let dirs = Dirs::current()?;
    match cmd {
        Command::Stats => {
            let Some(k) = Kernel::open(&dirs)? else {
                return Err(MonitorError::NotLoaded);
            };
            let mut out = String::new();
            for (s, n) in k.log_stats()? {
                let _ = writeln!(out, "{}: {n}", s.name());
            }
            print!("{out}");
            Ok(())
        }
        Command::Follow(count) => {
            let Some(mut ring) = Kernel::log_events(&dirs)? else {
                return Err(MonitorError::NotLoaded);
            };
            let mut printed = 0u64;
            let stdout = std::io::stdout();
            loop {
                // Checked before taking a record, so none is consumed
                // unprinted.
                if count.is_some_and(|c| printed >= c) {
                    return Ok(());
                }
                if let Some(item) = ring.next() {
                    if let Some(e) = decode(&item) {
                        let mut o = stdout.lock();
                        let _ = writeln!(o, "{}", line(&e, &ifname));
                        let _ = o.flush();
                        printed += 1;
                    }
                    continue;
                }
                let mut pfd = libc::pollfd {
                    fd: ring.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd, valid for the call.
                unsafe { libc::poll(&mut pfd, 1, 200) };
            }
        }
    }
}

/// The record in `bytes`, `None` when it is too short.
pub fn decode(bytes: &[u8]) -> Option<Event> {
    if bytes.len() < size_of::<Event>() {
        return None;
    }
    // SAFETY: Event is repr(C) plain data valid for every bit pattern, and
    // `bytes` holds at least one; read_unaligned copes with alignment.
    Some(unsafe { bytes.as_ptr().cast::<Event>().read_unaligned() })
}

/// The name of interface `ifindex`, empty for 0.
pub fn ifname(ifindex: u32) -> String {
    if ifindex == 0 {
        return String::new();
    }
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes, as if_indextoname needs.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return ifindex.to_string();
    }
    // SAFETY: if_indextoname wrote a NUL-terminated name into buf.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// One record as the kernel's LOG line (without the syslog level and
/// timestamp, and without the trailing space).
pub fn line(e: &Event, ifname: &dyn Fn(u32) -> String) -> String {
    let c = &e.config;
    let plen = c
        .prefix
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(c.prefix.len());
    let mut s = String::from_utf8_lossy(&c.prefix[..plen]).into_owned();
    let name = |i: u32| if i == 0 { String::new() } else { ifname(i) };
    let _ = write!(s, "IN={} OUT={} ", name(e.in_ifindex), name(e.out_ifindex));
    let caplen = (e.caplen as usize).min(e.data.len());
    let frame = &e.data[..caplen];
    let mac_len = e.mac_len as usize;
    // The kernel prints the MAC header for packets with an input device;
    // one without a link-layer header prints none (`MAC= `).
    if e.hook != CHAIN_OUTPUT && mac_len == 0 {
        s.push_str("MAC= ");
    } else if e.hook != CHAIN_OUTPUT && frame.len() >= 14 {
        if c.flags & FLAG_MACDECODE != 0 {
            let hex = |b: &[u8]| {
                b.iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            let _ = write!(
                s,
                "MACSRC={} MACDST={} MACPROTO={:04x} ",
                hex(&frame[6..12]),
                hex(&frame[0..6]),
                u16::from_be_bytes([frame[12], frame[13]])
            );
        } else {
            s.push_str("MAC=");
            let hex: Vec<String> = frame[..14].iter().map(|x| format!("{x:02x}")).collect();
            s.push_str(&hex.join(":"));
            s.push(' ');
        }
    }
    let ip = frame.get(mac_len..).unwrap_or(&[]);
    match ip.first().map(|b| b >> 4) {
        Some(6) => ipv6(&mut s, ip, c.flags, true),
        _ => ipv4(&mut s, ip, c.flags),
    }
    s.truncate(s.trim_end().len());
    s
}

/// `OPT (...)`: options in hex, as the kernel prints them.
fn options(s: &mut String, opt: &[u8]) {
    s.push_str("OPT (");
    for b in opt {
        let _ = write!(s, "{b:02X}");
    }
    s.push_str(") ");
}

/// Whether the L4 header is there to print: not on a later fragment
/// (nothing is printed), and at least `need` bytes of it (else
/// nf_log_syslog's `INCOMPLETE [N bytes]`).
fn header_whole(s: &mut String, l4: &[u8], later: bool, need: usize) -> bool {
    if later {
        return false;
    }
    if l4.len() < need {
        let _ = write!(s, "INCOMPLETE [{} bytes] ", l4.len());
        return false;
    }
    true
}

/// `dump_ipv4_packet`: the IPv4 header and what the kernel prints of the
/// transport header.
fn ipv4(s: &mut String, ip: &[u8], flags: u8) {
    if ip.len() < 20 {
        s.push_str("TRUNCATED");
        return;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let tos = ip[1];
    let frag = be16(ip, 6).unwrap_or(0);
    let _ = write!(
        s,
        "SRC={}.{}.{}.{} DST={}.{}.{}.{} LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID={} ",
        ip[12],
        ip[13],
        ip[14],
        ip[15],
        ip[16],
        ip[17],
        ip[18],
        ip[19],
        be16(ip, 2).unwrap_or(0),
        tos & 0x1e,
        tos & 0xe0,
        ip[8],
        be16(ip, 4).unwrap_or(0),
    );
    if frag & 0x8000 != 0 {
        s.push_str("CE ");
    }
    if frag & 0x4000 != 0 {
        s.push_str("DF ");
    }
    if frag & 0x2000 != 0 {
        s.push_str("MF ");
    }
    if frag & 0x1fff != 0 {
        let _ = write!(s, "FRAG:{} ", frag & 0x1fff);
    }
    if flags & FLAG_IPOPT != 0
        && ihl > 20
        && let Some(opt) = ip.get(20..ihl)
    {
        options(s, opt);
    }
    let l4 = ip.get(ihl..).unwrap_or(&[]);
    let later = frag & 0x1fff != 0;
    match ip[9] {
        6 => tcp(s, l4, later, flags),
        p @ (17 | 136) => udp(s, p, l4, later),
        1 => {
            s.push_str("PROTO=ICMP ");
            if !header_whole(s, l4, later, 4) {
                return;
            }
            let _ = write!(s, "TYPE={} CODE={} ", l4[0], l4[1]);
            if matches!(l4[0], 0 | 8) && l4.len() >= 8 {
                let _ = write!(
                    s,
                    "ID={} SEQ={} ",
                    be16(l4, 4).unwrap_or(0),
                    be16(l4, 6).unwrap_or(0)
                );
            }
        }
        p => {
            let _ = write!(s, "PROTO={p} ");
        }
    }
}

/// `nf_log_dump_tcp_header`: `PROTO=TCP` and, unless `later` (a later
/// fragment), the TCP header `l4`.
fn tcp(s: &mut String, l4: &[u8], later: bool, flags: u8) {
    s.push_str("PROTO=TCP ");
    if !header_whole(s, l4, later, 20) {
        return;
    }
    let _ = write!(
        s,
        "SPT={} DPT={} ",
        be16(l4, 0).unwrap_or(0),
        be16(l4, 2).unwrap_or(0)
    );
    if flags & FLAG_TCPSEQ != 0 {
        let _ = write!(
            s,
            "SEQ={} ACK={} ",
            be32(l4, 4).unwrap_or(0),
            be32(l4, 8).unwrap_or(0)
        );
    }
    let word = be32(l4, 12).unwrap_or(0);
    let _ = write!(
        s,
        "WINDOW={} RES=0x{:02x} ",
        be16(l4, 14).unwrap_or(0),
        (word & 0x0f00_0000) >> 22
    );
    for (bit, name) in [
        (0x80, "CWR"),
        (0x40, "ECE"),
        (0x20, "URG"),
        (0x10, "ACK"),
        (0x08, "PSH"),
        (0x04, "RST"),
        (0x02, "SYN"),
        (0x01, "FIN"),
    ] {
        if l4[13] & bit != 0 {
            let _ = write!(s, "{name} ");
        }
    }
    let _ = write!(s, "URGP={} ", be16(l4, 18).unwrap_or(0));
    let doff = usize::from(l4[12] >> 4) * 4;
    if flags & FLAG_TCPOPT != 0
        && doff > 20
        && let Some(opt) = l4.get(20..doff)
    {
        options(s, opt);
    }
}

/// `nf_log_dump_udp_header`: `PROTO=UDP` (UDPLITE for protocol 136)
/// and, unless `later`, the UDP header `l4`.
fn udp(s: &mut String, proto: u8, l4: &[u8], later: bool) {
    s.push_str(if proto == 17 {
        "PROTO=UDP "
    } else {
        "PROTO=UDPLITE "
    });
    if !header_whole(s, l4, later, 8) {
        return;
    }
    let _ = write!(
        s,
        "SPT={} DPT={} LEN={} ",
        be16(l4, 0).unwrap_or(0),
        be16(l4, 2).unwrap_or(0),
        be16(l4, 4).unwrap_or(0)
    );
}

/// An IPv6 address as the kernel's `%pI6` prints it: eight groups of
/// four hex digits, nothing compressed.
fn pi6(a: &[u8]) -> String {
    a.chunks(2)
        .map(|g| format!("{:02x}{:02x}", g[0], g[1]))
        .collect::<Vec<_>>()
        .join(":")
}

/// `dump_ipv6_packet`: the IPv6 header, the extension headers (with
/// `--log-ip-options`) and what the kernel prints of the upper layer;
/// `recurse` on the outer packet, whose ICMPv6 error's quoted packet is
/// printed in brackets.
fn ipv6(s: &mut String, ip: &[u8], flags: u8, recurse: bool) {
    if ip.len() < 40 {
        s.push_str("TRUNCATED");
        return;
    }
    let word = be32(ip, 0).unwrap_or(0);
    let _ = write!(
        s,
        "SRC={} DST={} LEN={} TC={} HOPLIMIT={} FLOWLBL={} ",
        pi6(&ip[8..24]),
        pi6(&ip[24..40]),
        usize::from(be16(ip, 4).unwrap_or(0)) + 40,
        (word & 0x0ff0_0000) >> 20,
        ip[7],
        word & 0x000f_ffff,
    );
    let opt = flags & FLAG_IPOPT != 0;
    let (mut next, mut at, mut fragment) = (ip[6], 40, false);
    // `nf_ip6_ext_hdr`: hop-by-hop, routing, fragment, ESP, AH,
    // destination options (no next header ends the walk).
    while matches!(next, 0 | 43 | 44 | 50 | 51 | 60) {
        let Some(h) = ip.get(at..at + 2) else {
            s.push_str("TRUNCATED");
            return;
        };
        if opt {
            s.push_str("OPT ( ");
        }
        let len = match next {
            44 => {
                s.push_str("FRAG:");
                let (Some(off), Some(id)) = (be16(ip, at + 2), be32(ip, at + 4)) else {
                    s.push_str("TRUNCATED ");
                    return;
                };
                let _ = write!(s, "{} ", off & 0xfff8);
                if off & 1 != 0 {
                    s.push_str("INCOMPLETE ");
                }
                let _ = write!(s, "ID:{id:08x} ");
                fragment |= off & 0xfff8 != 0;
                8
            }
            51 => {
                if opt {
                    s.push_str("AH ");
                    if fragment {
                        s.push(')');
                        return;
                    }
                    if ip.len() < at + 12 {
                        let _ = write!(s, "INCOMPLETE [{} bytes] )", ip.len() - at);
                        return;
                    }
                    let _ = write!(s, "SPI=0x{:x} ", be32(ip, at + 4).unwrap_or(0));
                }
                (usize::from(h[1]) + 2) * 4
            }
            50 => {
                if opt {
                    s.push_str("ESP ");
                    if fragment {
                        s.push(')');
                        return;
                    }
                    match be32(ip, at) {
                        Some(spi) => {
                            let _ = write!(s, "SPI=0x{spi:x} )");
                        }
                        None => {
                            let _ = write!(s, "INCOMPLETE [{} bytes] )", ip.len() - at);
                        }
                    }
                }
                return;
            }
            // Hop-by-hop, routing, destination options: nothing past a
            // later fragment.
            _ => {
                if fragment {
                    if opt {
                        s.push(')');
                    }
                    return;
                }
                (usize::from(h[1]) + 1) * 8
            }
        };
        if opt {
            s.push_str(") ");
        }
        next = h[0];
        at += len;
    }
    let l4 = ip.get(at..).unwrap_or(&[]);
    match next {
        6 => tcp(s, l4, fragment, flags),
        p @ (17 | 136) => udp(s, p, l4, fragment),
        58 => {
            s.push_str("PROTO=ICMPv6 ");
            if fragment {
                return;
            }
            if l4.len() < 8 {
                let _ = write!(s, "INCOMPLETE [{} bytes] ", l4.len());
                return;
            }
            let _ = write!(s, "TYPE={} CODE={} ", l4[0], l4[1]);
            let error = match l4[0] {
                128 | 129 => {
                    let _ = write!(
                        s,
                        "ID={} SEQ={} ",
                        be16(l4, 4).unwrap_or(0),
                        be16(l4, 6).unwrap_or(0)
                    );
                    false
                }
                4 => {
                    let _ = write!(s, "POINTER={:08x} ", be32(l4, 4).unwrap_or(0));
                    true
                }
                1..=3 => true,
                _ => false,
            };
            if error && recurse {
                s.push('[');
                ipv6(s, &l4[8..], flags, false);
                s.push_str("] ");
            }
            if error && l4[0] == 2 {
                let _ = write!(s, "MTU={} ", be32(l4, 4).unwrap_or(0));
            }
        }
        p => {
            let _ = write!(s, "PROTO={p} ");
        }
    }
}

#[cfg(test)]
mod tests {
    use firewall_common::{CHAIN_INPUT, log::Config};

    use super::*;

    fn event(ip: &[u8], prefix: &str, flags: u8) -> Event {
        let mut e = Event {
            config: Config {
                level: 4,
                flags,
                ..Default::default()
            },
            hook: CHAIN_INPUT,
            in_ifindex: 7,
            out_ifindex: 0,
            len: 0,
            caplen: 0,
            mac_len: 14,
            data: [0; firewall_common::log::CAPTURE],
        };
        e.config.prefix[..prefix.len()].copy_from_slice(prefix.as_bytes());
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        f.extend_from_slice(if ip[0] >> 4 == 6 {
            &[0x86, 0xdd]
        } else {
            &[8, 0]
        });
        f.extend_from_slice(ip);
        e.data[..f.len()].copy_from_slice(&f);
        e.len = f.len() as u32;
        e.caplen = f.len() as u32;
        e
    }

    #[test]
    fn tcp_syn_as_the_kernel_prints_it() {
        let mut p = vec![
            0x45, 0x00, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&22u16.to_be_bytes());
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = 0x02;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        p.extend_from_slice(&t);
        let e = event(&p, "fw: ", FLAG_TCPSEQ);
        assert_eq!(
            line(&e, &|i| format!("if{i}")),
            "fw: IN=if7 OUT= MAC=02:00:00:00:00:02:02:00:00:00:00:01:08:00 \
             SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=4660 DF \
             PROTO=TCP SPT=40000 DPT=22 SEQ=1000 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0"
        );
    }

    #[test]
    fn options_macdecode_and_icmp() {
        // IHL 6: one 4-byte option (router alert).
        let p = vec![
            0x46, 0, 0, 32, 0, 7, 0x20, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x94, 4, 0, 0, 8,
            0, 0, 0, 0, 9, 0, 3,
        ];
        let e = event(&p, "x ", FLAG_IPOPT | FLAG_MACDECODE);
        assert_eq!(
            line(&e, &|i| format!("if{i}")),
            "x IN=if7 OUT= MACSRC=02:00:00:00:00:01 MACDST=02:00:00:00:00:02 MACPROTO=0800 \
             SRC=10.0.0.1 DST=10.0.0.2 LEN=32 TOS=0x00 PREC=0x00 TTL=64 ID=7 MF \
             OPT (94040000) PROTO=ICMP TYPE=8 CODE=0 ID=9 SEQ=3"
        );
        // A later fragment: no transport header.
        let mut p = p;
        p[6] = 0x00;
        p[7] = 0x10;
        let e = event(&p, "", 0);
        assert!(line(&e, &|i| format!("if{i}")).ends_with("ID=7 FRAG:16 PROTO=ICMP"));
    }

    #[test]
    fn udp_and_output() {
        let p = vec![
            0x45, 0xb8, 0, 29, 0, 1, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x1c, 0x20, 0x1c,
            0x20, 0, 9, 0, 0, 0x41,
        ];
        let mut e = event(&p, "", 0);
        e.hook = CHAIN_OUTPUT;
        e.in_ifindex = 0;
        e.out_ifindex = 3;
        assert_eq!(
            line(&e, &|i| format!("if{i}")),
            "IN= OUT=if3 SRC=10.0.0.1 DST=10.0.0.2 LEN=29 TOS=0x18 PREC=0xA0 TTL=1 ID=1 \
             PROTO=UDP SPT=7200 DPT=7200 LEN=9"
        );
        assert_eq!(
            parse(&["--count".into(), "3".into()]),
            Ok(Command::Follow(Some(3)))
        );
        assert_eq!(parse(&["--stats".into()]), Ok(Command::Stats));
        assert!(parse(&["--bogus".into()]).is_err());
    }

    /// An IPv6 header from 2001:db8::1 to 2001:db8::2, then `payload`.
    fn ip6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0x12, 0x34, 0x56];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        for last in [1, 2] {
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            p.extend_from_slice(&[0; 11]);
            p.push(last);
        }
        p.extend_from_slice(payload);
        p
    }

    const SRC_DST6: &str = "SRC=2001:0db8:0000:0000:0000:0000:0000:0001 \
                            DST=2001:0db8:0000:0000:0000:0000:0000:0002";

    #[test]
    fn ipv6_as_nf_log_ipv6_prints_it() {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&22u16.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = 0x12;
        let e = event(&ip6(6, &t), "fw6: ", 0);
        assert_eq!(
            line(&e, &|i| format!("if{i}")),
            format!(
                "fw6: IN=if7 OUT= MAC=02:00:00:00:00:02:02:00:00:00:00:01:86:dd {SRC_DST6} \
                 LEN=60 TC=1 HOPLIMIT=64 FLOWLBL=144470 PROTO=TCP SPT=40000 DPT=22 \
                 WINDOW=0 RES=0x00 ACK SYN URGP=0"
            )
        );
        // Destination options, then the first fragment (more to come), a
        // UDP header: each in `OPT ( ... )` with --log-ip-options.
        let udp = [0x9c, 0x40, 0, 53, 0, 8, 0, 0];
        let headers = [
            &[44, 0, 1, 4, 0, 0, 0, 0][..],
            &[17, 0, 0, 1, 0, 0, 0, 9],
            &udp,
        ]
        .concat();
        let e = event(&ip6(60, &headers), "", FLAG_IPOPT);
        assert!(
            line(&e, &|i| format!("if{i}")).ends_with(
                "FLOWLBL=144470 OPT ( ) OPT ( FRAG:0 INCOMPLETE ID:00000009 ) \
                 PROTO=UDP SPT=40000 DPT=53 LEN=8"
            ),
            "{}",
            line(&e, &|i| format!("if{i}"))
        );
        // A later fragment: its header printed (FRAG: with or without
        // --log-ip-options), nothing of what follows.
        let later = [&[17, 0, 0, 0x10, 0, 0, 0, 9][..], &udp].concat();
        let e = event(&ip6(44, &later), "", 0);
        assert!(
            line(&e, &|i| format!("if{i}"))
                .ends_with("FLOWLBL=144470 FRAG:16 ID:00000009 PROTO=UDP")
        );
        // An echo request, and an error with the packet it quotes in
        // brackets (once: not the quote's own).
        let e = event(&ip6(58, &[128, 0, 0, 0, 0, 7, 0, 3]), "", 0);
        assert!(
            line(&e, &|i| format!("if{i}")).ends_with("PROTO=ICMPv6 TYPE=128 CODE=0 ID=7 SEQ=3")
        );
        let quoted = ip6(17, &udp);
        let err = [&[1, 4, 0, 0, 0, 0, 0, 0][..], &quoted].concat();
        let e = event(&ip6(58, &err), "", 0);
        assert!(
            line(&e, &|i| format!("if{i}")).ends_with(&format!(
                "PROTO=ICMPv6 TYPE=1 CODE=4 [{SRC_DST6} LEN=48 TC=1 HOPLIMIT=64 \
                 FLOWLBL=144470 PROTO=UDP SPT=40000 DPT=53 LEN=8 ]"
            )),
            "{}",
            line(&e, &|i| format!("if{i}"))
        );
        // Shorter than its header.
        let e = event(&ip6(17, &[])[..30], "", 0);
        assert!(line(&e, &|i| format!("if{i}")).ends_with("TRUNCATED"));
    }
}
