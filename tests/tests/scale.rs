//! Large rulesets on real packets: a 10,000-rule chain decides by its last
//! rule without touching the others' counters, and replacing a 10,000-rule
//! ruleset under a steady flow loses no packet both rulesets accept.
//!
//! These drive fw's library directly (compile, load, attach) in the lab's
//! server namespace: loading 10,000 rules one `fw -A` at a time would
//! recompile the chain 10,000 times.

#[path = "common/fw_state.rs"]
mod fw_state;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;

use std::{
    net::{Ipv4Addr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use firewall::{
    compile,
    load::{Kernel, attach, pins::Dirs},
    model::{AddrMask, Match, Neg, Policy, PortRange, Rule, Target, Udp},
    state::State,
};
use fw_state::FwCleanup;
use integration_tests::{Lab, PROBE_TIMEOUT, SERVER_ADDR, in_netns, spawn_in_netns, udp_probe};

const N: u32 = 10_000;

/// `-A INPUT -s 198.51.100.x/32 -p udp --dport P -j ACCEPT`: never matches
/// the lab's client (192.0.2.1).
fn filler(i: u32, shift: u32) -> Rule {
    let src = Ipv4Addr::from(0xc633_6400 + (i + shift) % 256);
    let port = (1000 + (i + shift) % 50_000) as u16;
    Rule {
        source: Some(Neg::is(AddrMask::from_prefix(src, 32))),
        ..udp_rule(port, Target::Accept)
    }
}

/// `-A INPUT -p udp --dport PORT -j TARGET`.
fn udp_rule(port: u16, target: Target) -> Rule {
    Rule {
        protocol: Some(Neg::is(17)),
        matches: vec![Match::Udp(Udp {
            sport: None,
            dport: Some(Neg::is(PortRange { lo: port, hi: port })),
        })],
        target,
        ..Rule::default()
    }
}

/// A ruleset of `n - 1` fillers and `last`, with `policy`.
fn ruleset_of(n: u32, shift: u32, last: Rule, policy: Policy) -> State {
    let mut st = State::default();
    st.ruleset.input.rules = (0..n - 1).map(|i| filler(i, shift)).chain([last]).collect();
    st.ruleset.input.policy = policy;
    st.counters[0] = (0..n).collect();
    st
}

/// [`ruleset_of`] with `N` rules.
fn ruleset(shift: u32, last: Rule, policy: Policy) -> State {
    ruleset_of(N, shift, last, policy)
}

/// Loads `state` into `ns` and attaches fw there; the returned guard
/// removes it. Runs in a thread inside the namespace.
fn load(ns: &str, state: State) -> FwCleanup {
    let fw = FwCleanup(ns.to_string());
    in_netns(ns, move || {
        let dirs = Dirs::current().unwrap();
        let (mut k, mut ebpf) = Kernel::install(&dirs).unwrap();
        let ifs = interfaces();
        let c = compile::compile(&state, k.spare_bank().unwrap(), &ifs).unwrap();
        k.swap_in(&c, &state.counters[0], None).unwrap();
        attach::attach_all(&mut ebpf, &dirs).unwrap();
    })
    .unwrap();
    fw
}

fn interfaces() -> Vec<(String, u32)> {
    attach::interfaces()
        .unwrap()
        .into_iter()
        .map(|i| (i.name, i.index))
        .collect()
}

#[test]
fn the_last_of_10000_rules_decides_and_the_others_count_nothing() {
    last_rule_decides(N);
}

#[test]
fn a_chain_holds_65536_rules() {
    last_rule_decides(firewall::common::MAX_RULES_PER_CHAIN);
}

/// Rules 1..n-1 never match the lab's client; rule n drops UDP port 9.
fn last_rule_decides(n: u32) {
    let lab = Lab::new("scale").unwrap();
    let _fw = load(
        lab.server(),
        ruleset_of(n, 0, udp_rule(9, Target::Drop), Policy::Accept),
    );
    assert!(!udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        9,
        Duration::from_millis(400)
    ));
    assert!(udp_probe(
        lab.client(),
        lab.server(),
        SERVER_ADDR,
        10,
        PROBE_TIMEOUT
    ));
    let (last, others) = in_netns(lab.server(), move || {
        let k = Kernel::open(&Dirs::current().unwrap()).unwrap().unwrap();
        let others: u64 = (0..n - 1).map(|s| k.read(s).unwrap().packets).sum();
        (k.read(n - 1).unwrap(), others)
    })
    .unwrap();
    assert_eq!(last.packets, 1, "the probe to port 9");
    assert_eq!(others, 0, "rules 1..{} matched nothing", n - 1);
}

#[test]
fn replacing_10000_rules_under_a_steady_flow_loses_nothing() {
    let lab = Lab::new("swap").unwrap();
    let accept = || udp_rule(5000, Target::Accept);
    let _fw = load(lab.server(), ruleset(0, accept(), Policy::Drop));

    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let stop = stop.clone();
        spawn_in_netns(lab.server(), move || {
            let s = UdpSocket::bind("0.0.0.0:5000").unwrap();
            // A deep buffer, so a receiver starved of CPU by the other
            // tests loses nothing in its socket.
            let size: libc::c_int = 64 << 20;
            // SAFETY: setsockopt with a c_int option value.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&s),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUFFORCE,
                    (&raw const size).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "SO_RCVBUFFORCE");
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut buf = [0u8; 64];
            let mut got = 0u64;
            loop {
                match s.recv(&mut buf) {
                    Ok(_) => got += 1,
                    Err(_) if stop.load(Ordering::SeqCst) => return got,
                    Err(_) => {}
                }
            }
        })
        .unwrap()
    };
    std::thread::sleep(Duration::from_millis(100));
    let sender = spawn_in_netns(lab.client(), move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        let start = Instant::now();
        let mut sent = 0u64;
        // A steady 5,000 datagrams per second for 3 seconds.
        while start.elapsed() < Duration::from_secs(3) {
            if start.elapsed() >= Duration::from_micros(200 * sent) {
                s.send_to(&sent.to_be_bytes(), (SERVER_ADDR, 5000)).unwrap();
                sent += 1;
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        sent
    })
    .unwrap();
    // Swap the whole ruleset back and forth while the flow runs.
    let swaps = in_netns(lab.server(), move || {
        let dirs = Dirs::current().unwrap();
        let mut k = Kernel::open(&dirs).unwrap().unwrap();
        let ifs = interfaces();
        let mut swaps = 0;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2500) {
            let st = ruleset(1 + swaps % 2, udp_rule(5000, Target::Accept), Policy::Drop);
            let c = compile::compile(&st, k.spare_bank().unwrap(), &ifs).unwrap();
            k.swap_in(&c, &[], None).unwrap();
            swaps += 1;
        }
        swaps
    })
    .unwrap();
    let sent = sender.join().unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let got = receiver.join().unwrap().unwrap();
    assert!(swaps >= 3, "only {swaps} swaps");
    assert!(sent > 10_000, "only {sent} sent");
    let policy_drops = in_netns(lab.server(), || {
        let k = Kernel::open(&Dirs::current().unwrap()).unwrap().unwrap();
        k.read(Kernel::policy_slot(0)).unwrap().packets
    })
    .unwrap();
    assert_eq!(
        policy_drops, 0,
        "fw dropped flow packets during {swaps} swaps"
    );
    assert_eq!(got, sent, "{swaps} swaps of {N} rules");
}
