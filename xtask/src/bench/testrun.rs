//! Per-packet cost of fw's XDP program, measured by the kernel with
//! `BPF_PROG_TEST_RUN` on crafted frames, next to an empty XDP program in
//! the same namespace and the same minute.
//!
//! The runs happen in the lab's server namespace, on fw's pinned program
//! with the ruleset the packet-path measurement just used. The namespace
//! matters: a test run's input device is the namespace's loopback, and
//! fw's `bpf_fib_lookup` finds the destination (the server's address)
//! local there, so the packet goes through INPUT as real traffic does.
//!
//! A test run repeats one frame, so after the first repetition fw answers
//! from its match cache. The cost of a miss is measured separately: one
//! repetition per run, each run on a flow fw has not seen.

use std::os::fd::OwnedFd;

use anyhow::bail;

use super::{bpf, rules};
use rules::{Family, Hit};

/// Repetitions of one frame per run.
pub const REPEAT: u32 = 1_000_000;

/// Cost of one kind of frame with one ruleset.
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    /// Which rule the frame matches.
    pub hit: Hit,
    /// `None`: [`REPEAT`] repetitions of one frame per run. `Some(miss)`:
    /// one repetition per run, each on a new flow (`Some(true)`, a
    /// match-cache miss) or on a frame in the cache (`Some(false)`).
    pub single: Option<bool>,
    /// fw's program, nanoseconds per packet (median over the runs).
    pub fw_ns: u32,
    /// The empty program on the same frames, nanoseconds per packet.
    pub empty_ns: u32,
}

/// Median of the runs `run(i)` for i in 0..runs, in ns; checks verdicts.
fn median_ns(
    runs: usize,
    want: Option<i32>,
    mut run: impl FnMut(usize) -> anyhow::Result<bpf::TestRun>,
) -> anyhow::Result<u32> {
    let mut ns = Vec::with_capacity(runs);
    for i in 0..runs {
        if i % 1024 == 0 {
            super::runner::check_stop()?;
        }
        let r = run(i)?;
        if let Some(w) = want
            && r.retval != w
        {
            bail!("fw returned XDP verdict {} instead of {w}", r.retval);
        }
        ns.push(r.ns);
    }
    ns.sort_unstable();
    Ok(ns[ns.len() / 2])
}

/// Frame `i` of the cache-miss runs: it matches the last rule, and no two
/// share a source address and port, nor does the probe traffic use them.
fn miss_frame(i: usize) -> Vec<u8> {
    let host = 3 + (i % 251) as u8;
    let port = rules::TEST_SPORT + 1 + (i / 251) as u16;
    rules::frame(
        std::net::Ipv4Addr::new(192, 0, 2, host).into(),
        port,
        rules::PROBE_PORT,
    )
}

/// The [`Cost`] of `frame` (which matches `hit` of ruleset `n`): `runs`
/// runs of `reps` repetitions of fw's `prog` and of `empty`.
fn cost(
    prog: &OwnedFd,
    empty: &OwnedFd,
    frame: &[u8],
    runs: usize,
    reps: u32,
    hit: Hit,
    n: u32,
) -> anyhow::Result<Cost> {
    let empty_ns = median_ns(runs, None, |_| bpf::test_run(empty, frame, reps))?;
    let want = Some(hit.verdict(n));
    let fw_ns = median_ns(runs, want, |_| bpf::test_run(prog, frame, reps))?;
    Ok(Cost {
        hit,
        single: (reps == 1).then_some(false),
        fw_ns,
        empty_ns,
    })
}

/// The cost of a probe frame of an ESTABLISHED flow (the client's port
/// [`ESTABLISHED_SPORT`], one of those the server opened) with the
/// ESTABLISHED ruleset `n` live in `ns`: [`REPEAT`] repetitions, each
/// tracked (its entry found and updated) and decided by the fast path's
/// first rule, a DROP. `hit` is [`Hit::First`].
///
/// # Errors
/// When a run fails or fw does not drop the frame.
pub fn established(ns: &str, n: u32, empty: &OwnedFd, runs: usize) -> anyhow::Result<Cost> {
    let empty = empty.try_clone()?;
    integration_tests::in_netns(ns, move || -> anyhow::Result<Cost> {
        let dirs = firewall::load::pins::Dirs::current()?;
        let prog = bpf::obj_get(&dirs.prog("fw_xdp"))?;
        let frame = rules::frame(rules::CLIENT.into(), ESTABLISHED_SPORT, rules::PROBE_PORT);
        let mut c = cost(&prog, &empty, &frame, runs, REPEAT, Hit::Last, n)?;
        c.hit = Hit::First;
        Ok(c)
    })?
}

/// The cost of the probe's frame of family `f` (it matches the last rule
/// of ruleset `n`, live in `ns`): `runs` runs of [`REPEAT`] repetitions,
/// match-cache hits after the first.
///
/// # Errors
/// When a run fails or fw does not drop the frame.
pub fn last_rule(
    ns: &str,
    f: Family,
    n: u32,
    empty: &OwnedFd,
    runs: usize,
) -> anyhow::Result<Cost> {
    let empty = empty.try_clone()?;
    integration_tests::in_netns(ns, move || -> anyhow::Result<Cost> {
        let dirs = firewall::load::pins::Dirs::current()?;
        let prog = bpf::obj_get(&dirs.prog("fw_xdp"))?;
        let (src, dport) = Hit::Last.flow(f, n);
        let frame = rules::frame(src, rules::TEST_SPORT, dport);
        cost(&prog, &empty, &frame, runs, REPEAT, Hit::Last, n)
    })?
}

/// Source port of the ESTABLISHED test-run frame: one of the probe
/// flows' (1024-2047).
pub const ESTABLISHED_SPORT: u16 = 1500;

/// Measures fw's program pinned in namespace `ns` (holding ruleset `n`)
/// and `empty`: `runs` runs of [`REPEAT`] on a frame of each [`Hit`], then
/// `misses` runs of one repetition on the probe's cached frame, and as
/// many on new flows that match the last rule.
///
/// # Errors
/// When a run fails or fw's verdict is not the one the ruleset implies.
pub fn measure(
    ns: &str,
    n: u32,
    empty: &OwnedFd,
    runs: usize,
    misses: usize,
) -> anyhow::Result<Vec<Cost>> {
    let empty = empty.try_clone()?;
    integration_tests::in_netns(ns, move || -> anyhow::Result<Vec<Cost>> {
        let dirs = firewall::load::pins::Dirs::current()?;
        let prog = bpf::obj_get(&dirs.prog("fw_xdp"))?;
        let mut out = Vec::new();
        for hit in Hit::ALL {
            let (src, dport) = hit.flow(Family::V4, n);
            let frame = rules::frame(src, rules::TEST_SPORT, dport);
            out.push(cost(&prog, &empty, &frame, runs, REPEAT, hit, n)?);
        }
        // The same single repetitions on the probe's own frame, which is
        // in the cache: what a hit costs measured this way.
        let (src, dport) = Hit::Last.flow(Family::V4, n);
        let frame = rules::frame(src, rules::TEST_SPORT, dport);
        out.push(cost(&prog, &empty, &frame, misses, 1, Hit::Last, n)?);
        let frames: Vec<Vec<u8>> = (0..misses).map(miss_frame).collect();
        let empty_ns = median_ns(misses, None, |i| bpf::test_run(&empty, &frames[i], 1))?;
        let want = Some(Hit::Last.verdict(n));
        let fw_ns = median_ns(misses, want, |i| bpf::test_run(&prog, &frames[i], 1))?;
        out.push(Cost {
            hit: Hit::Last,
            single: Some(true),
            fw_ns,
            empty_ns,
        });
        Ok(out)
    })?
}
