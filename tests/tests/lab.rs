//! The lab itself, without fw: packets flow between the namespaces, and the
//! probes tell delivered from not delivered. If this fails, fw's own
//! integration tests cannot be trusted.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use firewall as _;
use libc as _;

use integration_tests::{
    CLIENT_ADDR, Lab, PROBE_TIMEOUT, SERVER_ADDR, UNUSED_ADDR, icmp_probe, tcp_listen, tcp_probe,
    udp_probe,
};

#[test]
fn traffic_flows_without_a_firewall() {
    let lab = Lab::new("lab").expect("create lab (needs root)");
    let server = tcp_listen(lab.server(), 8022).expect("listen");

    assert!(
        tcp_probe(lab.client(), SERVER_ADDR, 8022, PROBE_TIMEOUT),
        "tcp to a listener"
    );
    assert!(server.accepted() <= 1);
    assert!(
        udp_probe(lab.client(), lab.server(), SERVER_ADDR, 5353, PROBE_TIMEOUT),
        "udp to a bound port"
    );
    assert!(
        icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT),
        "icmp echo to the server"
    );
    // And the other way round: the client answers too.
    assert!(
        icmp_probe(lab.server(), CLIENT_ADDR, PROBE_TIMEOUT),
        "icmp echo to the client"
    );
}

#[test]
fn probes_report_failure() {
    let lab = Lab::new("neg").expect("create lab (needs root)");
    // Closed port: the server answers with RST.
    assert!(
        !tcp_probe(lab.client(), SERVER_ADDR, 8023, PROBE_TIMEOUT),
        "tcp to a closed port"
    );
    // Nobody owns the address: ARP fails, nothing answers.
    assert!(
        !tcp_probe(lab.client(), UNUSED_ADDR, 8022, PROBE_TIMEOUT),
        "tcp to an unused address"
    );
    assert!(
        !udp_probe(lab.client(), lab.server(), UNUSED_ADDR, 5353, PROBE_TIMEOUT),
        "udp to an unused address"
    );
    assert!(
        !icmp_probe(lab.client(), UNUSED_ADDR, PROBE_TIMEOUT),
        "icmp to an unused address"
    );
}

#[test]
fn a_stopped_listener_refuses() {
    let lab = Lab::new("stop").expect("create lab (needs root)");
    let server = tcp_listen(lab.server(), 8024).expect("listen");
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 8024, PROBE_TIMEOUT));
    server.stop();
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 8024, PROBE_TIMEOUT));
}

#[test]
fn labs_are_removed_on_drop() {
    let lab = Lab::new("drop").expect("create lab (needs root)");
    let (c, s) = (lab.client().to_owned(), lab.server().to_owned());
    assert!(std::path::Path::new("/run/netns").join(&c).exists());
    drop(lab);
    for ns in [c, s] {
        assert!(
            !std::path::Path::new("/run/netns").join(&ns).exists(),
            "{ns} left behind"
        );
    }
}
