//! 802.1Q priority tags (issue 14, item 4; docs/semantics.md item 6): a
//! frame tagged with VLAN 0, or with several VLAN 0 tags (802.1ad
//! outside 802.1Q), is untagged by the kernel and filtered by netfilter
//! as IPv4, so fw must classify it too, not pass it as "not IPv4". The
//! same frames, sent with AF_PACKET into twin labs, one under real
//! iptables-legacy and one under fw, reach the same sockets and give the
//! INPUT chain the same exact counters.

#[path = "common/iptables.rs"]
#[allow(unused_imports)] // its Netns: the labs here are Lab's
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use std::{net::UdpSocket, time::Duration};

use integration_tests::{
    CLIENT_ADDR, CLIENT_IF, Lab, SERVER_ADDR, SERVER_IF, TempFile, fw_in, in_netns, send_frames,
    sh_in, udp_packet,
};
use iptables::{IPTABLES, legacy_restore, require_iptables, text};

/// The server end's MAC address, set so that the frames can name it.
const SERVER_MAC: [u8; 6] = [0x02, 0, 0x5e, 0, 0x53, 0x02];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0x5e, 0, 0x53, 0x01];

const RULES: &str = "*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 5001 -j ACCEPT
COMMIT
";

/// A UDP datagram from the client to the server's `port`, carrying
/// `label`, in an Ethernet frame under `tags` (TPID, VID; PCP 5).
fn frame(tags: &[(u16, u16)], port: u16, label: &str) -> Vec<u8> {
    let mut f = SERVER_MAC.to_vec();
    f.extend(CLIENT_MAC);
    for &(tpid, vid) in tags {
        f.extend(tpid.to_be_bytes());
        f.extend((0xa000 | vid).to_be_bytes());
    }
    f.extend(0x0800u16.to_be_bytes());
    f.extend(udp_packet(
        CLIENT_ADDR,
        SERVER_ADDR,
        (40000, port),
        label.as_bytes(),
    ));
    f
}

/// Sends the frames through `lab` and returns the labels that reached
/// the server's sockets (sorted) and the INPUT chain as `list` prints it.
fn probe(lab: &Lab, list: &dyn Fn() -> String) -> (Vec<String>, String) {
    let sockets = in_netns(lab.server(), || {
        [5001u16, 5002].map(|p| {
            let s = UdpSocket::bind((SERVER_ADDR, p)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            s
        })
    })
    .unwrap();
    let (q, ad) = ((0x8100, 0), (0x88a8, 0));
    let frames = vec![
        frame(&[], 5001, "untagged 5001"),
        frame(&[], 5002, "untagged 5002"),
        frame(&[q], 5001, "vlan0 5001"),
        frame(&[q], 5002, "vlan0 5002"),
        frame(&[ad, q], 5001, "qinq0 5001"),
        frame(&[ad, q], 5002, "qinq0 5002"),
        frame(&[(0x8100, 5)], 5001, "vlan5 5001"),
        frame(&[(0x8100, 5)], 5002, "vlan5 5002"),
    ];
    send_frames(lab.client(), CLIENT_IF, &frames).unwrap();
    let mut got = Vec::new();
    for s in &sockets {
        let mut buf = [0u8; 64];
        while let Ok(n) = s.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got.sort();
    (got, list())
}

fn lab(tag: &str) -> Lab {
    let lab = Lab::new(tag).unwrap();
    let mac = |m: [u8; 6]| m.map(|b| format!("{b:02x}")).join(":");
    for (ns, dev, m) in [
        (lab.server(), SERVER_IF, SERVER_MAC),
        (lab.client(), CLIENT_IF, CLIENT_MAC),
    ] {
        let out = sh_in(
            ns,
            &format!("ip link set {dev} address {}", mac(m)),
            &[],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    lab
}

#[test]
fn priority_tagged_frames_meet_the_ruleset_as_iptables_filters_them() {
    require_iptables();
    let rules = TempFile::new("vlan.rules", RULES);

    let oracle = lab("vlan-ipt");
    legacy_restore(oracle.server(), rules.path());
    let want = probe(&oracle, &|| {
        text(
            &sh_in(
                oracle.server(),
                &format!("{IPTABLES} -L INPUT -v -n -x --line-numbers"),
                &[],
                None,
            )
            .stdout,
        )
    });

    let ours = lab("vlan-fw");
    let load = fw_in(ours.server(), &["restore", rules.path()]).unwrap();
    assert_eq!(
        (load.status.code(), text(&load.stderr)),
        (Some(0), String::new())
    );
    let got = probe(&ours, &|| {
        text(
            &fw_in(
                ours.server(),
                &["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"],
            )
            .unwrap()
            .stdout,
        )
    });

    assert_eq!(got, want);
    // What iptables did: VLAN 0 untagged and filtered (the accepted port
    // delivered, the other dropped by the policy), VLAN 5 never reached
    // netfilter (no VLAN device: PACKET_OTHERHOST).
    assert_eq!(want.0, ["qinq0 5001", "untagged 5001", "vlan0 5001"]);
    assert!(
        want.1.starts_with("Chain INPUT (policy DROP 3 packets, "),
        "{}",
        want.1
    );
    assert_eq!(
        integration_tests::rule_counters(&want.1, 1).0,
        3,
        "{}",
        want.1
    );
}
