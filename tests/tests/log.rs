//! `-j LOG` in the real programs (issue 10): a logged packet reaches
//! `fw monitor` as the kernel's LOG line, the walk goes on after the LOG
//! rule, and a flood is held to the per-CPU token bucket with the rest
//! counted in `fw monitor --stats`.

// Cargo gives every test all of the package's dependencies; this one
// does without these.
use anyhow as _;
use firewall as _;
use libc as _;

use std::{
    io::Read as _,
    net::UdpSocket,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use integration_tests::{Lab, SERVER_ADDR, SERVER_IF, fw_bin, in_netns, rule_counters};

/// Sends `count` UDP datagrams from `ns` to the server's port 7200.
fn send_udp(ns: &str, count: usize) {
    in_netns(ns, move || {
        let s = UdpSocket::bind("0.0.0.0:40001").unwrap();
        for _ in 0..count {
            s.send_to(b"log me", (SERVER_ADDR, 7200)).unwrap();
        }
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
}

/// `fw monitor --stats` as (name, count) pairs.
fn stats(lab: &Lab) -> Vec<(String, u64)> {
    lab.fw_ok(&["monitor", "--stats"])
        .lines()
        .map(|l| {
            let (name, n) = l.rsplit_once(": ").expect("name: count");
            (name.to_string(), n.parse().expect("a count"))
        })
        .collect()
}

fn stat(all: &[(String, u64)], name: &str) -> u64 {
    all.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {all:?}"))
        .1
}

/// Starts `fw monitor --count 1` in the server namespace, runs `send`,
/// and returns the line it printed.
fn one_line(lab: &Lab, send: impl FnOnce()) -> String {
    let mut monitor = Command::new("ip")
        .args(["netns", "exec", lab.server()])
        .arg(fw_bin())
        .args(["monitor", "--count", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    send();
    let deadline = Instant::now() + Duration::from_secs(5);
    while monitor.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = monitor.kill();
            let _ = monitor.wait();
            panic!("fw monitor --count 1 did not print a line");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    monitor
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let line = out.lines().next().expect("one line").to_string();
    eprintln!("fw monitor: {line}");
    line
}

#[test]
fn output_is_logged_without_in_or_mac() {
    let lab = Lab::new("logout").unwrap();
    lab.fw_ok(&[
        "-A",
        "OUTPUT",
        "-p",
        "udp",
        "--dport",
        "7201",
        "-j",
        "LOG",
        "--log-prefix",
        "out: ",
        "--log-level",
        "6",
    ]);
    let line = one_line(&lab, || {
        in_netns(lab.server(), || {
            let s = UdpSocket::bind("0.0.0.0:40002").unwrap();
            s.send_to(b"x", (integration_tests::CLIENT_ADDR, 7201))
                .unwrap();
        })
        .unwrap();
    });
    let want = format!(
        "out: IN= OUT={SERVER_IF} SRC={SERVER_ADDR} DST={} LEN=29 ",
        integration_tests::CLIENT_ADDR
    );
    assert!(line.starts_with(&want), "{want:?} does not start {line:?}");
    assert!(
        line.ends_with("PROTO=UDP SPT=40002 DPT=7201 LEN=9"),
        "{line:?}"
    );
}

#[test]
fn log_reaches_monitor_and_the_walk_goes_on() {
    let lab = Lab::new("log").unwrap();
    lab.fw_rules(&[
        "-A INPUT -p udp --dport 7200 -j LOG --log-prefix fw-test:",
        "-A INPUT -p udp --dport 7200 -j DROP",
    ]);
    let line = one_line(&lab, || send_udp(lab.client(), 1));
    let line = line.as_str();
    for want in [
        format!("fw-test:IN={SERVER_IF} OUT= MAC="),
        format!(
            "SRC={} DST={SERVER_ADDR} LEN=34 ",
            integration_tests::CLIENT_ADDR
        ),
        "TTL=64 ".to_string(),
        "PROTO=UDP SPT=40001 DPT=7200 LEN=14".to_string(),
    ] {
        assert!(line.contains(&want), "{want:?} not in {line:?}");
    }
    // The DROP rule after the LOG rule saw the packet.
    let listing = lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    assert_eq!(rule_counters(&listing, 1).0, 1, "{listing}");
    assert_eq!(rule_counters(&listing, 2).0, 1, "{listing}");
    let s = stats(&lab);
    assert_eq!(stat(&s, "sent"), 1, "{s:?}");

    // A flood: at most the buckets' burst plus their rate over the time
    // it took, on every CPU; every event is accounted for.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let start = Instant::now();
    send_udp(lab.client(), 5000);
    let secs = start.elapsed().as_secs_f64();
    let s = stats(&lab);
    eprintln!("after the flood ({secs:.3}s): {s:?}");
    let sent = stat(&s, "sent") - 1;
    let limited = stat(&s, "dropped (rate limit)");
    let full = stat(&s, "dropped (ring full)");
    let bound = cpus * (100 + (1000.0 * secs).ceil() as u64);
    assert!(
        sent + full <= bound,
        "{sent} + {full} over {bound} in {secs}s: {s:?}"
    );
    assert!(limited > 0, "{s:?}");
    assert_eq!(sent + limited + full, 5000, "{s:?}");
    // The ring holds exactly the records sent since the first line was
    // read: `--count` takes them and exits.
    let lines = lab.fw_ok(&["monitor", "--count", &sent.to_string()]);
    assert_eq!(lines.lines().count() as u64, sent);
    assert!(
        lines
            .lines()
            .all(|l| l.starts_with("fw-test:IN=") && l.contains("PROTO=UDP SPT=40001 DPT=7200 ")),
        "{lines}"
    );
    let listing = lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    assert_eq!(rule_counters(&listing, 2).0, 5001, "{listing}");
}

/// IPv6 LOG (`fw -6`): the record reaches `fw monitor` as nf_log_ipv6
/// prints it (`%pI6` addresses, LEN with the IPv6 header, TC, HOPLIMIT,
/// FLOWLBL), from INPUT, and the walk goes on to the DROP.
#[test]
fn ipv6_log_reaches_monitor_as_nf_log_ipv6_prints_it() {
    let lab = Lab::new6("log6").unwrap();
    let (client, server) = (
        integration_tests::CLIENT6_ADDR,
        integration_tests::SERVER6_ADDR,
    );
    lab.fw_rules(&[
        "-6 -A INPUT -p udp --dport 7300 -j LOG --log-prefix v6: --log-ip-options",
        "-6 -A INPUT -p udp --dport 7300 -j DROP",
    ]);
    let line = one_line(&lab, || {
        in_netns(lab.client(), move || {
            let s = UdpSocket::bind((client, 40003)).unwrap();
            s.send_to(b"log me", (server, 7300)).unwrap();
        })
        .unwrap();
    });
    let want = format!("v6:IN={SERVER_IF} OUT= MAC=",);
    assert!(line.starts_with(&want), "{want:?} does not start {line:?}");
    let want = "SRC=2001:0db8:0000:0000:0000:0000:0000:0001 \
                DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=54 TC=0 HOPLIMIT=64 FLOWLBL=";
    assert!(line.contains(want), "{want:?} not in {line:?}");
    assert!(
        line.ends_with("PROTO=UDP SPT=40003 DPT=7300 LEN=14"),
        "{line:?}"
    );
    let listing = lab.fw_ok(&["-6", "-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    assert_eq!(rule_counters(&listing, 1).0, 1, "{listing}");
    assert_eq!(rule_counters(&listing, 2).0, 1, "{listing}");
}
