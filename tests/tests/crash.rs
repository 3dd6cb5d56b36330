//! What fw lists is what the kernel enforces, whatever instant fw dies at
//! (issue 9): `fw restore` of 50,000 rules killed at evenly spaced
//! instants of a first load and of a replace leaves either the old or the
//! new ruleset, listed as it is enforced (real packets tell), and the next
//! `fw -A` works; a removed record makes fw refuse to list or change what
//! it no longer knows, and nothing enforced changes.
//!
//! `FW_KILL_INSTANTS` sets the number of kills (default 12, half of them
//! during a first load; the full run is 50). They are evenly spaced over
//! the measured duration of the command (and 15% past it).

// Dependencies of the integration-tests package this test does not use.
use anyhow as _;
use libc as _;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use firewall::load::pins::{STATE_ROOT, netns_cookie};
use integration_tests::{Lab, SERVER_ADDR, TempFile, fw_bin, in_netns, udp_probe};

/// Rules of the new ruleset, its probe rule included.
const RULES: usize = 50_000;
/// The probe rule's port: DROP in the old ruleset, ACCEPT in the new.
const PROBE: u16 = 9;
/// A port no rule names: the policy decides (ACCEPT old, DROP new).
const OTHER: u16 = 10;
/// Long for a veth link, short enough for many probes.
const TIMEOUT: Duration = Duration::from_millis(300);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The new ruleset: `-P INPUT DROP`, 49,999 rules that never match the
/// lab's client (sources in 198.51.100.0/24) and the probe rule.
fn new_ruleset() -> String {
    let mut s =
        String::from("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for i in 0..RULES - 1 {
        s.push_str(&format!(
            "-A INPUT -s 198.51.100.{}/32 -p udp --dport {} -j ACCEPT\n",
            i % 256,
            1000 + i % 50_000
        ));
    }
    s.push_str(&format!(
        "-A INPUT -p udp --dport {PROBE} -j ACCEPT\nCOMMIT\n"
    ));
    s
}

/// The old ruleset: `-P INPUT ACCEPT` and the probe rule dropping.
fn old_ruleset() -> String {
    format!(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         -A INPUT -p udp --dport {PROBE} -j DROP\nCOMMIT\n"
    )
}

/// `fw restore FILE` in the server namespace, started and not waited for.
/// (`ip netns exec` execs fw in its own process, so killing the child
/// kills fw.)
fn spawn_restore(lab: &Lab, file: &TempFile) -> std::process::Child {
    Command::new("ip")
        .args(["netns", "exec", lab.server()])
        .arg(fw_bin())
        .args(["restore", file.path()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `fw restore FILE` to its end; returns how long it took.
fn timed_restore(lab: &Lab, file: &TempFile) -> Duration {
    let t = Instant::now();
    let out = spawn_restore(lab, file).wait_with_output().unwrap();
    assert!(out.status.success(), "fw restore: {}", text(&out.stderr));
    t.elapsed()
}

/// Which ruleset a listing or the packets show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// No firewall: both probes pass.
    Nothing,
    /// The old ruleset: the probe rule drops, the policy accepts.
    Old,
    /// The new one: the probe rule accepts, the policy drops.
    New,
}

/// What `fw -S INPUT` lists.
fn listed(lab: &Lab, at: &str) -> Seen {
    let out = lab.fw(&["-S", "INPUT"]);
    assert!(
        out.status.success(),
        "{at}: fw -S failed after the kill ({}): {}",
        out.status,
        text(&out.stderr)
    );
    let s = text(&out.stdout);
    let lines: Vec<&str> = s.lines().collect();
    let probe = |target: &str| format!("-A INPUT -p udp -m udp --dport {PROBE} -j {target}");
    match lines.as_slice() {
        ["-P INPUT ACCEPT"] => Seen::Nothing,
        ["-P INPUT ACCEPT", rule] if *rule == probe("DROP") => Seen::Old,
        ["-P INPUT DROP", .., last] if lines.len() == RULES + 1 && *last == probe("ACCEPT") => {
            Seen::New
        }
        _ => panic!(
            "{at}: fw -S lists neither ruleset ({} lines, first {:?}, last {:?})",
            lines.len(),
            lines.first(),
            lines.last()
        ),
    }
}

/// What real packets from the client show is enforced.
fn enforced(lab: &Lab, at: &str) -> Seen {
    let probe = |port| udp_probe(lab.client(), lab.server(), SERVER_ADDR, port, TIMEOUT);
    match (probe(PROBE), probe(OTHER)) {
        (true, true) => Seen::Nothing,
        (false, true) => Seen::Old,
        (true, false) => Seen::New,
        (false, false) => panic!("{at}: both probes dropped: neither ruleset is enforced"),
    }
}

/// After a kill: the listing is what is enforced, one of `allowed`; the
/// record agrees with the kernel; the next `fw -A` works and is listed.
fn check_after_kill(lab: &Lab, at: &str, allowed: &[Seen]) -> Seen {
    let seen = listed(lab, at);
    assert!(allowed.contains(&seen), "{at}: fw -S lists {seen:?}");
    assert_eq!(enforced(lab, at), seen, "{at}: fw -S lists {seen:?}");
    let append = ["-A", "INPUT", "-s", "203.0.113.7/32", "-j", "DROP"];
    let out = lab.fw(&append);
    assert!(
        out.status.success(),
        "{at}: fw -A after the kill ({seen:?}) failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    let s = lab.fw_ok(&["-S", "INPUT"]);
    assert_eq!(
        s.lines().last(),
        Some("-A INPUT -s 203.0.113.7/32 -j DROP"),
        "{at}"
    );
    let check = lab.fw(&["status", "--check"]);
    assert!(
        check.status.success(),
        "{at}: fw status --check: {}",
        text(&check.stderr)
    );
    seen
}

fn kill_at(lab: &Lab, file: &TempFile, after: Duration) -> bool {
    let mut child = spawn_restore(lab, file);
    std::thread::sleep(after);
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill();
    let _ = child.wait();
    finished
}

/// Kills `fw restore` of `new` at `at` and checks what is left: `before`
/// (what was there) or the new ruleset, and the new one whenever the
/// restore finished before the kill.
fn kill_and_check(lab: &Lab, new: &TempFile, at: Duration, what: &str, before: Seen) -> Seen {
    let done = kill_at(lab, new, at);
    let label = format!("{what} killed at {at:?}");
    let s = check_after_kill(lab, &label, &[before, Seen::New]);
    assert!(!done || s == Seen::New, "{label}: finished, yet {s:?}");
    s
}

#[test]
fn restore_killed_at_any_instant_leaves_the_old_or_the_new_ruleset_listed_as_enforced() {
    let instants: usize = std::env::var("FW_KILL_INSTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
        .max(2);
    let new = TempFile::new("crash-new.rules", &new_ruleset());
    let old = TempFile::new("crash-old.rules", &old_ruleset());
    let started = Instant::now();

    // The durations the kills are spread over.
    let lab = Lab::new("crash-t").unwrap();
    let first = timed_restore(&lab, &new);
    timed_restore(&lab, &old);
    let replace = timed_restore(&lab, &new);
    drop(lab);
    eprintln!("first load {first:?}, replace {replace:?}");

    // The last kills land around the end of the command, where the switch
    // and the commit are: a killed run is often a little slower than the
    // measured one, so the instants reach 15% past its end.
    let (first, replace) = (first.mul_f64(1.15), replace.mul_f64(1.15));
    let firsts = instants / 2;
    let mut seen = Vec::new();
    for i in 0..firsts {
        // A namespace of its own for each first load.
        let lab = Lab::new("crash-f").unwrap();
        let at = first.mul_f64((i + 1) as f64 / firsts as f64);
        seen.push((
            "first load",
            at,
            kill_and_check(&lab, &new, at, "first load", Seen::Nothing),
        ));
    }
    let lab = Lab::new("crash-r").unwrap();
    let replaces = instants - firsts;
    for i in 0..replaces {
        lab.fw_ok(&["reset"]);
        lab.fw_ok(&["restore", old.path()]);
        let at = replace.mul_f64((i + 1) as f64 / replaces as f64);
        seen.push((
            "replace",
            at,
            kill_and_check(&lab, &new, at, "replace", Seen::Old),
        ));
    }
    for (what, at, s) in &seen {
        eprintln!("{what} killed at {at:?}: {s:?}");
    }
    eprintln!("{instants} kills in {:?}", started.elapsed());
}

/// The record directory of the lab's server namespace.
fn state_dir(lab: &Lab) -> PathBuf {
    let cookie = in_netns(lab.server(), || netns_cookie().unwrap()).unwrap();
    Path::new(STATE_ROOT).join(cookie.to_string())
}

fn assert_refused(out: &Output, what: &str, words: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    for w in words {
        assert!(err.contains(w), "{what}: {w:?} not in: {err}");
    }
}

#[test]
fn a_removed_or_foreign_record_is_refused_and_nothing_enforced_changes() {
    let lab = Lab::new("crash-rm").unwrap();
    let rules = TempFile::new(
        "crash-rm.rules",
        &format!(
            "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -p udp --dport {PROBE} -j ACCEPT\n\
             -A INPUT -s 198.51.100.1/32 -j ACCEPT\n\
             -A INPUT -s 198.51.100.2/32 -j ACCEPT\nCOMMIT\n"
        ),
    );
    lab.fw_ok(&["restore", rules.path()]);
    assert_eq!(enforced(&lab, "loaded"), Seen::New);
    let dir = state_dir(&lab);
    let record = dir.join("state.json");
    let record_name = record.to_str().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let missing = [record_name, "is missing", "generation 1", "fw reset"];
    assert_refused(&lab.fw(&["-S"]), "fw -S", &missing);
    assert_refused(&lab.fw(&["-L", "-n"]), "fw -L", &missing);
    assert_refused(&lab.fw(&["save"]), "fw save", &missing);
    let accept_other = ["-A", "INPUT", "-p", "udp", "--dport", "10", "-j", "ACCEPT"];
    assert_refused(&lab.fw(&accept_other), "fw -A", &missing);
    assert_refused(&lab.fw(&["-P", "INPUT", "ACCEPT"]), "fw -P", &missing);
    assert_refused(
        &lab.fw(&["restore", "--noflush", rules.path()]),
        "fw restore --noflush",
        &missing,
    );
    assert!(!record.exists(), "a refused command wrote a record");
    assert_eq!(enforced(&lab, "after the refusals"), Seen::New);
    let status = lab.fw(&["status", "--check"]);
    assert_eq!(status.status.code(), Some(1));

    // Restoring a whole table replaces what fw had no record of.
    lab.fw_ok(&["restore", rules.path()]);
    assert_eq!(lab.fw_ok(&["-S", "INPUT"]).lines().count(), 4);
    lab.fw_ok(&accept_other);
    assert_eq!(enforced(&lab, "restored"), Seen::Nothing);

    // A record of another generation than the kernel's is refused too.
    let json = std::fs::read_to_string(&record).unwrap();
    let key = "\"generation\":";
    let at = json.find(key).unwrap() + key.len();
    let len = json[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    let live: u64 = json[at..at + len].parse().unwrap();
    let forged = format!("{}{}{}", &json[..at], live + 5, &json[at + len..]);
    std::fs::write(&record, forged).unwrap();
    let foreign = [
        record_name.to_string(),
        format!("records generation {}", live + 5),
        format!("the kernel enforces generation {live}"),
    ];
    let foreign: Vec<&str> = foreign.iter().map(String::as_str).collect();
    assert_refused(&lab.fw(&["-S"]), "fw -S of a foreign record", &foreign);
    assert_refused(&lab.fw(&["-F"]), "fw -F of a foreign record", &foreign);
    assert_eq!(enforced(&lab, "foreign record"), Seen::Nothing);
    lab.fw_ok(&["reset"]);
    assert_eq!(lab.fw_ok(&["-S", "INPUT"]), "-P INPUT ACCEPT\n");
}
