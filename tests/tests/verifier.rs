//! The verifier's budget: each program fw loads was verified in fewer
//! instructions than [`HEADROOM`] leaves of Linux's limit
//! (`BPF_COMPLEXITY_LIMIT_INSNS`, 1,000,000), read back from the kernel
//! (`bpf_prog_info.verified_insns`, Linux 5.16). A change that pushes a
//! program towards the limit fails here, on this kernel, before it fails
//! to load on another whose verifier explores more.

#[path = "common/fw_state.rs"]
mod fw_state;

// Dependencies of the integration-tests package this test does not use.
use anyhow as _;
use libc as _;

use firewall::load::{Kernel, pins::Dirs};
use fw_state::FwCleanup;
use integration_tests::{Netns, in_netns};

/// Linux's limit on instructions verified per program.
const LIMIT: u32 = 1_000_000;
/// The share of [`LIMIT`] a program may use here.
const HEADROOM: u32 = LIMIT / 10 * 8;

#[test]
fn every_program_leaves_the_verifier_headroom() {
    let ns = Netns::new("verif").unwrap();
    let _fw = FwCleanup(ns.name().to_string());
    let counts = in_netns(ns.name(), || {
        let (_k, ebpf) = Kernel::install(&Dirs::current().unwrap()).unwrap();
        // Programs loaded only where needed (not yet here) have no info.
        ebpf.programs()
            .filter_map(|(name, p)| {
                let n = p.info().ok()?.verified_instruction_count();
                Some((name.to_string(), n))
            })
            .collect::<Vec<_>>()
    })
    .unwrap();
    for (name, n) in &counts {
        eprintln!("{name:16} {n:?} instructions verified");
    }
    assert!(counts.iter().any(|(name, _)| name == "fw_xdp"));
    for (name, n) in counts {
        let n = n.expect("Linux 5.16 or later reports verified_insns");
        assert!(n < HEADROOM, "{name}: {n} of the verifier's {LIMIT}");
    }
}
