//! GRO and GSO, pinned with exact numbers (docs/semantics.md item 2): a
//! bulk TCP transfer over a veth whose receiving end merges with GRO, in
//! twin labs, one filtered by iptables-legacy and one by fw. Both deliver
//! every byte (the verdict is the same); fw's XDP sees each frame before
//! GRO and counts exactly the frames the sender sent, netfilter counts
//! the merged packets, fewer. On the sender, TCP hands the device GSO
//! packets that are cut into frames after TCX egress: fw's OUTPUT
//! counts each GSO packet once, exactly as iptables' OUTPUT does.

// Cargo gives every test all of the package's dependencies; this one
// does without this (the lab library or other tests use it).
use anyhow as _;
use firewall as _;

use std::{
    io::{Read as _, Write as _},
    net::{Ipv4Addr, Shutdown, TcpListener, TcpStream},
    os::fd::AsRawFd as _,
    time::Duration,
};

use integration_tests::{Netns, fw_bin, fw_reset, in_netns, rule_counters, sh_ok, spawn_in_netns};

/// The sender's and the receiver's addresses.
const SENDER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const RECEIVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PORT: u16 = 5201;
/// Bytes sent: about 280 full-size segments.
const BYTES: usize = 400_000;

/// `SIOCETHTOOL` and the legacy one-feature commands of
/// `<linux/ethtool.h>` (`struct ethtool_value`: cmd, data).
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_SGRO: u32 = 0x2c;

/// `struct ifreq` with `ifr_data` (40 bytes on 64-bit Linux).
#[repr(C)]
struct IfreqData {
    name: [u8; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    pad: [u8; 16],
}

/// `ethtool -K dev <feature> on|off` of one legacy feature command, in
/// the calling thread's namespace.
fn ethtool_set(dev: &str, cmd: u32, on: bool) {
    let sock = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let mut value = [cmd, u32::from(on)];
    let mut req = IfreqData {
        name: [0; libc::IFNAMSIZ],
        data: value.as_mut_ptr().cast(),
        pad: [0; 16],
    };
    req.name[..dev.len()].copy_from_slice(dev.as_bytes());
    // SAFETY: a valid socket, an ifreq whose data points at a live
    // ethtool_value.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL, &mut req) };
    assert_eq!(
        rc,
        0,
        "SIOCETHTOOL {cmd:#x} on {dev}: {}",
        std::io::Error::last_os_error()
    );
}

/// Which firewall a lab runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Filter {
    Legacy,
    Fw,
}

/// Sender namespace `s` (veth `s`) and receiver `r` (veth `r`).
struct GroLab {
    s: Netns,
    r: Netns,
}

impl Drop for GroLab {
    fn drop(&mut self) {
        fw_reset(self.s.name());
        fw_reset(self.r.name());
    }
}

/// What one transfer gave.
#[derive(Debug)]
struct Transfer {
    /// Bytes the receiver read.
    received: usize,
    /// Frames the sender's veth sent (`tx_packets`): the transfer's
    /// alone, with no IPv6 and static neighbours.
    frames: u64,
    /// Packets of the receiver's INPUT rule.
    input: u64,
    /// Packets of the sender's iptables-legacy OUTPUT rule.
    legacy_output: u64,
    /// Packets of the sender's fw OUTPUT rule (fw's lab).
    fw_output: Option<u64>,
}

impl GroLab {
    fn new(tag: &str) -> Self {
        let lab = GroLab {
            s: Netns::new(&format!("{tag}-s")).unwrap(),
            r: Netns::new(&format!("{tag}-r")).unwrap(),
        };
        let (s, r) = (lab.s.name(), lab.r.name());
        for ns in [s, r] {
            sh_ok(
                ns,
                "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
            );
        }
        sh_ok(
            s,
            &format!(
                "ip link add s type veth peer name r netns {r} && ip addr add {SENDER}/24 dev s \
                 && ip link set s up && ip link set lo up"
            ),
        );
        sh_ok(
            r,
            &format!("ip addr add {RECEIVER}/24 dev r && ip link set r up && ip link set lo up"),
        );
        let mac = |ns: &str, dev: &str| {
            let out = sh_ok(ns, &format!("cat /sys/class/net/{dev}/address"));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        sh_ok(
            s,
            &format!("ip neigh add {RECEIVER} lladdr {} dev s", mac(r, "r")),
        );
        sh_ok(
            r,
            &format!("ip neigh add {SENDER} lladdr {} dev r", mac(s, "s")),
        );
        // The sender cuts its GSO packets into frames of one segment (no
        // TSO, no GSO handed to the veth); the receiver merges them again.
        in_netns(s, || {
            ethtool_set("s", ETHTOOL_STSO, false);
            ethtool_set("s", ETHTOOL_SGSO, false);
        })
        .unwrap();
        in_netns(r, || ethtool_set("r", ETHTOOL_SGRO, true)).unwrap();
        lab
    }

    fn tx_packets(&self) -> u64 {
        let out = sh_ok(self.s.name(), "cat /sys/class/net/s/statistics/tx_packets");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// Loads the rules, sends [`BYTES`] from `s` to `r`, and reads the
    /// counters.
    fn transfer(&self, filter: Filter) -> Transfer {
        let (s, r) = (self.s.name(), self.r.name());
        let rule = format!("-p tcp --dport {PORT} -j ACCEPT");
        let fw = fw_bin().display().to_string();
        sh_ok(s, &format!("iptables-legacy -A OUTPUT {rule}"));
        match filter {
            Filter::Legacy => {
                sh_ok(r, &format!("iptables-legacy -A INPUT {rule}"));
            }
            Filter::Fw => {
                sh_ok(r, &format!("{fw} -A INPUT {rule}"));
                sh_ok(s, &format!("{fw} -A OUTPUT {rule}"));
            }
        }
        let listener = in_netns(r, || TcpListener::bind((RECEIVER, PORT)).unwrap()).unwrap();
        let before = self.tx_packets();
        let server = spawn_in_netns(r, move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            got.len()
        })
        .unwrap();
        in_netns(s, || {
            let mut c =
                TcpStream::connect_timeout(&(RECEIVER, PORT).into(), Duration::from_secs(5))
                    .unwrap();
            c.write_all(&vec![0x5a; BYTES]).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            // Until the receiver closes: its FIN is acknowledged too.
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).unwrap();
        })
        .unwrap();
        let received = server.join().unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let frames = self.tx_packets() - before;
        let count = |ns: &str, bin: &str, chain: &str| {
            let out = sh_ok(ns, &format!("{bin} -L {chain} -v -n -x --line-numbers"));
            rule_counters(&String::from_utf8_lossy(&out.stdout), 1).0
        };
        Transfer {
            received,
            frames,
            input: match filter {
                Filter::Legacy => count(r, "iptables-legacy", "INPUT"),
                Filter::Fw => count(r, &fw, "INPUT"),
            },
            legacy_output: count(s, "iptables-legacy", "OUTPUT"),
            fw_output: (filter == Filter::Fw).then(|| count(s, &fw, "OUTPUT")),
        }
    }
}

#[test]
fn fw_counts_every_frame_before_gro_where_iptables_counts_merged_packets() {
    let legacy = GroLab::new("grolegacy").transfer(Filter::Legacy);
    let fw = GroLab::new("grofw").transfer(Filter::Fw);
    eprintln!("iptables-legacy: {legacy:?}\nfw: {fw:?}");
    // The same verdict: every byte arrives.
    assert_eq!(legacy.received, BYTES, "iptables-legacy");
    assert_eq!(fw.received, BYTES, "fw");
    // One segment per frame: at least BYTES / 1448 frames.
    assert!(legacy.frames >= (BYTES / 1448) as u64, "{legacy:?}");
    assert!(fw.frames >= (BYTES / 1448) as u64, "{fw:?}");
    // XDP sees every frame, GRO merges them for netfilter.
    assert_eq!(
        fw.input, fw.frames,
        "fw's INPUT rule counts every frame sent"
    );
    assert!(
        legacy.input < legacy.frames,
        "GRO merged nothing for iptables-legacy: {legacy:?}"
    );
    // GSO: both OUTPUT hooks see the packets before they are cut.
    assert_eq!(
        fw.fw_output,
        Some(fw.legacy_output),
        "fw's OUTPUT as iptables' OUTPUT on the same sender"
    );
    assert!(fw.legacy_output < fw.frames, "{fw:?}");
}
