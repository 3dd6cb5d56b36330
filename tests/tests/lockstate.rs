//! fw's lock, its status and its leftovers (issue 9): `fw reset` racing
//! `fw -A` leaves one consistent firewall, `-w N` gives up as iptables
//! does, `fw status` tells a recreated interface is unfiltered, a deleted
//! namespace's pins and state go with the next fw command, and policy
//! counters restart at every change as in iptables-legacy.

#[path = "common/iptables.rs"]
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;

use std::{
    fs::{File, OpenOptions},
    net::UdpSocket,
    os::fd::AsRawFd as _,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use firewall::load::pins::{lock_path, netns_cookie};
use integration_tests::{Lab, SERVER_ADDR, fw_bin, in_netns, ip, policy_counters, rule_counters};
use iptables::{IPTABLES, require_iptables, text};

/// The lock file of the lab's server namespace.
fn lock_of(lab: &Lab) -> std::path::PathBuf {
    lock_path(in_netns(lab.server(), || netns_cookie().unwrap()).unwrap())
}

/// Holds an exclusive flock on `path` until dropped (the file is kept
/// only to keep the lock).
struct Held(#[allow(dead_code)] File);

fn hold(path: &Path) -> Held {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    Held(f)
}

/// `fw ARGS` in the server namespace, started and not waited for.
fn spawn_fw(lab: &Lab, args: &[&str]) -> std::process::Child {
    Command::new("ip")
        .args(["netns", "exec", lab.server()])
        .arg(fw_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends one UDP datagram to each port from the client.
fn send_udp(lab: &Lab, ports: Vec<u16>) {
    in_netns(lab.client(), move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        for p in ports {
            s.send_to(&[0x5a; 10], (SERVER_ADDR, p)).unwrap();
        }
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(150));
}

/// iptables 1.8.9's message when `-w N` runs out.
const BUSY: &str = "Another app is currently holding the xtables lock. Stopped waiting after 1s.";

/// One race: 19 `fw -A` (each its own port) and one `fw reset` at once;
/// then what `fw -S` lists must be what the kernel enforces: one packet
/// to every port, and each listed rule counts exactly one, the policy the
/// rest.
fn race_once(lab: &Lab, run: usize) {
    lab.fw_ok(&["reset"]);
    let ports: Vec<u16> = (0..19).map(|i| 7000 + i).collect();
    let mut children = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let p = p.to_string();
        children.push(spawn_fw(
            lab,
            &["-A", "INPUT", "-p", "udp", "--dport", &p, "-j", "ACCEPT"],
        ));
        if i == 9 {
            children.push(spawn_fw(lab, &["reset"]));
        }
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(
            out.status.success() || (out.status.code() == Some(4) && err.contains(BUSY)),
            "run {run}: a command failed ({}): {err}",
            out.status
        );
    }
    let listed = lab.fw_ok(&["-S", "INPUT"]);
    let listed: Vec<u16> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "--dport").nth(1))
        .map(|p| p.parse().unwrap())
        .collect();
    eprintln!("run {run}: {} of 19 rules listed", listed.len());
    if listed.is_empty() {
        // reset came last: nothing may be left loaded.
        let st = lab.fw_ok(&["status"]);
        assert!(st.starts_with("fw is not loaded"), "run {run}: {st}");
        return;
    }
    let check = lab.fw(&["status", "--check"]);
    assert!(check.status.success(), "run {run}: {}", text(&check.stderr));
    send_udp(lab, ports.clone());
    let table = lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    for n in 1..=listed.len() {
        assert_eq!(
            rule_counters(&table, n).0,
            1,
            "run {run}: rule {n} (port {}) is listed but not enforced:\n{table}",
            listed[n - 1]
        );
    }
    assert_eq!(
        policy_counters(&table).0,
        (ports.len() - listed.len()) as u64,
        "run {run}: packets to unlisted ports must reach the policy:\n{table}"
    );
}

#[test]
fn reset_racing_appends_leaves_what_is_listed_enforced() {
    let lab = Lab::new("race").unwrap();
    // 5 runs by default; FW_RACE_RUNS=20 for the full measurement.
    let runs: usize = std::env::var("FW_RACE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for run in 0..runs {
        race_once(&lab, run);
    }
}

/// 50 `fw -w -A` started at once, each with its own port: every one
/// succeeds and the chain holds each rule exactly once, in some order,
/// as with `iptables -w`; the kernel enforces what is listed.
#[test]
fn fifty_concurrent_appends_leave_fifty_rules() {
    let lab = Lab::new("fifty").unwrap();
    let ports: Vec<String> = (1..=50).map(|n| n.to_string()).collect();
    let children: Vec<_> = ports
        .iter()
        .map(|p| {
            spawn_fw(
                &lab,
                &[
                    "-w", "-A", "INPUT", "-p", "tcp", "--dport", p, "-j", "ACCEPT",
                ],
            )
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = lab.fw_ok(&["-S", "INPUT"]);
    let mut rules: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rules.len(), 50, "{listed}");
    rules.sort();
    let mut want: Vec<String> = ports
        .iter()
        .map(|p| format!("-A INPUT -p tcp -m tcp --dport {p} -j ACCEPT"))
        .collect();
    want.sort();
    assert_eq!(rules, want);
    assert!(lab.fw(&["status", "--check"]).status.success());
}

#[test]
fn wait_seconds_give_up_with_iptables_message_and_status_4() {
    require_iptables();
    let lab = Lab::new("wait").unwrap();
    lab.fw_ok(&["-A", "INPUT", "-s", "203.0.113.1", "-j", "DROP"]);
    let lock = lock_of(&lab);
    let held = hold(&lock);
    let start = Instant::now();
    let out = lab.fw(&["-w", "1", "-A", "INPUT", "-s", "203.0.113.2", "-j", "DROP"]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "Can't lock {}: Resource temporarily unavailable\n{BUSY}\n",
            lock.display()
        )
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "gave up after {took:?}"
    );
    // -W is accepted with iptables' warning, and the lock still counts.
    let out = lab.fw(&["-w", "1", "-W", "100", "-L", "INPUT"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).starts_with("Ignoring deprecated --wait-interval option.\n"),
        "{}",
        text(&out.stderr)
    );
    // fw apply takes the same lock and honours -w; --check takes none.
    let yaml = integration_tests::TempFile::new(
        "wait.yaml",
        "chains:\n  INPUT:\n    rules:\n      - -s 203.0.113.9 -j DROP\n",
    );
    let out = lab.fw(&["apply", "-w", "1", yaml.path()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with(&format!("{BUSY}\n")));
    assert_eq!(
        lab.fw(&["apply", "--check", yaml.path()]).status.code(),
        Some(0)
    );
    // iptables-legacy 1.8.9 on a lock file of its own, held the same way.
    let xt = std::env::temp_dir().join(format!("fw-xtables-{}.lock", std::process::id()));
    let xt_held = hold(&xt);
    let ns = iptables::Netns::new("wait").unwrap();
    let want: Output = Command::new("ip")
        .args(["netns", "exec", ns.name(), IPTABLES, "-w", "1", "-L"])
        .env("XTABLES_LOCKFILE", &xt)
        .output()
        .unwrap();
    drop(xt_held);
    let _ = std::fs::remove_file(&xt);
    assert_eq!(want.status.code(), out.status.code());
    assert_eq!(
        text(&want.stderr).lines().last(),
        Some(BUSY),
        "iptables' own message"
    );
    // Without -w fw waits, as iptables-legacy 1.8.9 does.
    let child = spawn_fw(&lab, &["-A", "INPUT", "-s", "203.0.113.3", "-j", "DROP"]);
    std::thread::sleep(Duration::from_millis(1200));
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lab.fw_ok(&["-S", "INPUT"]).lines().count(), 3);
    let held = hold(&lock);
    let child = spawn_fw(&lab, &["apply", yaml.path()]);
    std::thread::sleep(Duration::from_millis(1200));
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        lab.fw_ok(&["-S", "INPUT"]),
        "-P INPUT ACCEPT\n-A INPUT -s 203.0.113.9/32 -j DROP\n"
    );
}

#[test]
fn status_shows_a_recreated_interface_unfiltered_and_check_fails() {
    let lab = Lab::new("status").unwrap();
    let s = lab.server();
    ip(&format!("-n {s} link add t0 type veth peer name t1")).unwrap();
    lab.fw_ok(&["-A", "INPUT", "-s", "203.0.113.1", "-j", "DROP"]);
    let ok = lab.fw(&["status", "--check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "");
    let status = lab.fw_ok(&["status"]);
    let row = |status: &str, name: &str| {
        status
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{status}"))
            .to_string()
    };
    assert!(row(&status, "t0").ends_with("  filtered"), "{status}");
    // Same name, new ifindex: the old links went with the old device.
    ip(&format!("-n {s} link del t0")).unwrap();
    ip(&format!("-n {s} link add t0 type veth peer name t1")).unwrap();
    let status = lab.fw_ok(&["status"]);
    assert!(
        row(&status, "t0").contains("unfiltered: recreated"),
        "{status}"
    );
    let bad = lab.fw(&["status", "--check"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(err.contains("fw: t0: unfiltered: recreated"), "{err}");
    assert!(err.contains("fw: t1: unfiltered: recreated"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    // The next change attaches them again.
    lab.fw_ok(&["-A", "INPUT", "-s", "203.0.113.2", "-j", "DROP"]);
    let ok = lab.fw(&["status", "--check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
}

#[test]
fn a_deleted_namespace_is_collected_by_the_next_command() {
    let gone = Lab::new("gone").unwrap();
    gone.fw_ok(&["-A", "INPUT", "-s", "203.0.113.1", "-j", "DROP"]);
    let cookie = in_netns(gone.server(), || netns_cookie().unwrap()).unwrap();
    let pins = Path::new("/sys/fs/bpf/fw").join(cookie.to_string());
    let state = Path::new("/run/fw").join(cookie.to_string());
    assert!(pins.join("map_CONFIG").exists());
    assert!(state.join("state.json").exists());
    assert!(lock_path(cookie).exists());
    // Deleted without `fw reset` (the lab's drop then finds no namespace).
    ip(&format!("netns del {}", gone.server())).unwrap();
    let other = Lab::new("collector").unwrap();
    // The kernel tears a namespace down in a workqueue: allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pins.exists() && Instant::now() < deadline {
        other.fw_ok(&["-L", "-n"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!pins.exists(), "pins of netns cookie {cookie} left behind");
    assert!(
        !state.exists(),
        "state of netns cookie {cookie} left behind"
    );
    assert!(!lock_path(cookie).exists(), "lock of {cookie} left behind");
}

#[test]
fn policy_counters_restart_at_every_change_like_iptables_legacy() {
    let lab = Lab::new("polctr").unwrap();
    lab.fw_ok(&[
        "-A", "INPUT", "-p", "udp", "--dport", "7500", "-j", "ACCEPT",
    ]);
    let policy = |lab: &Lab| policy_counters(&lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x"]));
    send_udp(&lab, vec![7501; 3]);
    assert_eq!(policy(&lab), (3, 3 * 38));
    // A change of another chain: iptables-legacy replaces the table.
    lab.fw_ok(&["-A", "FORWARD", "-j", "ACCEPT"]);
    assert_eq!(policy(&lab), (0, 0));
    send_udp(&lab, vec![7501; 2]);
    assert_eq!(policy(&lab), (2, 2 * 38));
    // A command that fails changes nothing.
    assert_eq!(lab.fw(&["-D", "INPUT", "5"]).status.code(), Some(1));
    assert_eq!(policy(&lab), (2, 2 * 38));
    // -Z of another chain zeroes every policy, as iptables-legacy does.
    lab.fw_ok(&["-Z", "OUTPUT"]);
    assert_eq!(policy(&lab), (0, 0));
    send_udp(&lab, vec![7500]);
    let table = lab.fw_ok(&["-L", "INPUT", "-v", "-n", "-x", "--line-numbers"]);
    assert_eq!(rule_counters(&table, 1), (1, 38), "rule counters are kept");
}
