//! A tun device (`IFF_TUN | IFF_NO_PI`, ARPHRD_NONE, as OpenVPN's and,
//! for its link type, WireGuard's) whose file descriptor the test holds:
//! what it writes arrives on the device as if from the tunnel's peer, and
//! what the namespace sends through the device is read back from it. Its
//! packets start at the IP header: no link-layer header.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Write},
    net::Ipv4Addr,
    os::fd::AsRawFd,
    time::{Duration, Instant},
};

use crate::{in_netns, internet_checksum, sh_in};

/// `TUNSETIFF` (`<linux/if_tun.h>`: `_IOW('T', 202, int)`).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
/// `TUNSETLINK` (`_IOW('T', 205, int)`): the device's `ARPHRD_*` type.
const TUNSETLINK: libc::c_ulong = 0x4004_54cd;

/// An open tun device; it goes away with the value.
pub struct Tun {
    file: File,
}

impl Tun {
    /// Creates tun device `name` in namespace `ns`, gives it `cidr`
    /// (`203.0.113.1/24`) and brings it (and `lo`) up.
    ///
    /// # Errors
    /// When the device cannot be made or configured.
    pub fn open(ns: &str, name: &str, cidr: &str) -> anyhow::Result<Self> {
        Self::open_as(ns, name, cidr, None)
    }

    /// [`Tun::open`], the device's link type set to `link_type` (an
    /// `ARPHRD_*` value, `<linux/if_arp.h>`) before it is up: a stand-in
    /// for a tunnel type this kernel lacks (ipip's 768, ppp's 512).
    ///
    /// # Errors
    /// As [`Tun::open`].
    pub fn open_as(
        ns: &str,
        name: &str,
        cidr: &str,
        link_type: Option<u16>,
    ) -> anyhow::Result<Self> {
        let dev = name.to_string();
        let file = in_netns(ns, move || -> anyhow::Result<File> {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/net/tun")?;
            // SAFETY: ifreq is plain data; all-zero is a valid start.
            let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
            anyhow::ensure!(dev.len() < req.ifr_name.len(), "tun name {dev} too long");
            for (d, s) in req.ifr_name.iter_mut().zip(dev.as_bytes()) {
                *d = *s as libc::c_char;
            }
            req.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI;
            // SAFETY: TUNSETIFF takes a pointer to an ifreq, valid here.
            let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &raw mut req) };
            anyhow::ensure!(rc == 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
            if let Some(t) = link_type {
                // SAFETY: TUNSETLINK takes the type as its integer argument.
                let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETLINK, libc::c_ulong::from(t)) };
                anyhow::ensure!(rc == 0, "TUNSETLINK: {}", std::io::Error::last_os_error());
            }
            // SAFETY: fcntl on an fd we own.
            unsafe {
                let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
            Ok(f)
        })??;
        let up = sh_in(
            ns,
            &format!("ip addr add {cidr} dev {name} && ip link set {name} up && ip link set lo up"),
            &[],
            None,
        );
        anyhow::ensure!(
            up.status.success(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
        Ok(Self { file })
    }

    /// Writes one IP packet into the device, as the peer would send it.
    ///
    /// # Panics
    /// When the write fails.
    pub fn send(&mut self, packet: &[u8]) {
        self.file
            .write_all(packet)
            .expect("write to the tun device");
    }

    /// The IPv4 packets the namespace sent through the device within
    /// `wait` (IPv6 ones, such as router solicitations, left out).
    pub fn sent(&mut self, wait: Duration) -> Vec<Vec<u8>> {
        let end = Instant::now() + wait;
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            match self.file.read(&mut buf) {
                Ok(n) if n > 0 && buf[0] >> 4 == 4 => out.push(buf[..n].to_vec()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("read from the tun device: {e}"),
            }
        }
        out
    }
}

/// An IPv4 header (RFC 791; no options, id 1, DF clear, TTL 64) for
/// `payload` of protocol `proto`, followed by it.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let sum = internet_checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The checksum of an L4 `segment` of protocol `proto` over the IPv4
/// pseudo-header (RFC 768, RFC 9293 3.1).
fn l4_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, segment: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(12 + segment.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(segment);
    internet_checksum(&pseudo)
}

/// A UDP datagram `src:sport` → `dst:dport` carrying `data`, as an IPv4
/// packet with a correct checksum.
pub fn udp_packet(src: Ipv4Addr, dst: Ipv4Addr, ports: (u16, u16), data: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + data.len());
    u.extend_from_slice(&ports.0.to_be_bytes());
    u.extend_from_slice(&ports.1.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let sum = l4_checksum(src, dst, 17, &u);
    u[6..8].copy_from_slice(&sum.to_be_bytes());
    ipv4(src, dst, 17, &u)
}

/// A bare TCP segment (20-byte header, no data) with `flags`, sequence
/// number `seq` and acknowledgment `ack`, as an IPv4 packet.
pub fn tcp_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ports: (u16, u16),
    flags: u8,
    (seq, ack): (u32, u32),
) -> Vec<u8> {
    let mut t = [0u8; 20];
    t[0..2].copy_from_slice(&ports.0.to_be_bytes());
    t[2..4].copy_from_slice(&ports.1.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    let sum = l4_checksum(src, dst, 6, &t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    ipv4(src, dst, 6, &t)
}
