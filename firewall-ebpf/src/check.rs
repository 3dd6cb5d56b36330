//! Rule checks ([`firewall_common::check`]): matches evaluated after the
//! classifier picked a rule as the first candidate, in the rule's match
//! order, stopping at the first that fails (netfilter's order).

use core::arch::asm;

use aya_ebpf::{
    bindings::xdp_md,
    cty::{c_long, c_void},
    helpers::{bpf_ktime_get_ns, bpf_loop},
    macros::map,
    maps::{Array, PerCpuArray},
};
use firewall_common::{
    Anomaly, BANKS,
    check::{
        self, Check, KIND_DATA, KIND_LIMIT, KIND_MAC, KIND_PORTS, MAX_CHECKS, MAX_PER_RULE,
        RANGES_PER_DATA,
    },
};

use crate::{classify::anomaly, parse::Packet};

#[map]
static CHECKS: Array<Check> = Array::with_max_entries(BANKS * MAX_CHECKS, 0);

/// What the checks see of the packet being classified, beyond the
/// classifier's fields: written by the hook ([`note_xdp`], [`note_tc`]) before
/// `classify::run`, read by [`fw_check`], which has no packet. One slot
/// per CPU serves both hooks: neither runs nested in the other on one
/// CPU (TC egress runs with bottom halves disabled, XDP in the softirq,
/// and neither transmits before it returns).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Seen {
    /// The Ethernet source address; valid when `has_mac`.
    pub mac: [u8; 6],
    /// An ARPHRD_ETHER input device (xt_mac's condition): not `lo`, not
    /// TC egress.
    pub has_mac: bool,
    /// A TCP or UDP first fragment: `sport` and `dport` (host order) valid.
    pub has_ports: bool,
    pub sport: u16,
    pub dport: u16,
}

#[map]
static CHECK_PACKET: PerCpuArray<Seen> = PerCpuArray::with_max_entries(1, 0);

/// `ifindex` of every namespace's loopback device (`LOOPBACK_IFINDEX`,
/// include/net/net_namespace.h): its type is ARPHRD_LOOPBACK, the only
/// attached type besides ARPHRD_ETHER (`Interface::is_ethernet`).
pub const LOOPBACK_IFINDEX: u32 = 1;

/// Notes what the checks of an XDP packet's walk look at ([`Seen`]): the
/// frame's Ethernet source (bytes 6..12), the packet's ports. Out of
/// line, so nothing of it sits in the hook's stack frame.
#[inline(never)]
pub fn note_xdp(ctx: *mut xdp_md, pkt: &Packet) {
    let Some(s) = CHECK_PACKET.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: ctx is the kernel's xdp_md for this call.
    let (data, end) = unsafe { ((*ctx).data as usize, (*ctx).data_end as usize) };
    // SAFETY: this CPU's slot; nothing else runs on it until the walk
    // ends. The six bytes are checked against data_end first.
    unsafe {
        (*s).has_mac = false;
        if data + 12 <= end {
            (*s).mac = core::ptr::read_unaligned((data + 6) as *const [u8; 6]);
            (*s).has_mac = pkt.in_ifindex != LOOPBACK_IFINDEX;
        }
        (*s).has_ports = pkt.has_ports;
        (*s).sport = pkt.sport;
        (*s).dport = pkt.dport;
    }
}

/// [`note_xdp`] at TC egress: no Ethernet source for xt_mac (refused
/// from OUTPUT anyway).
#[inline(never)]
pub fn note_tc(pkt: &Packet) {
    let Some(s) = CHECK_PACKET.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: as in `note_xdp`.
    unsafe {
        (*s).has_mac = false;
        (*s).has_ports = pkt.has_ports;
        (*s).sport = pkt.sport;
        (*s).dport = pkt.dport;
    }
}

/// Every check passed.
pub const PASS: u32 = 0;
/// A check failed: the walk goes on at the next rule.
pub const FAIL: u32 = 1;
/// A check did not decode ([`Anomaly::BadCheck`], counted): drop.
pub const BAD: u32 = 2;

/// Compare-and-swap attempts before a contended bucket counts as empty
/// (a loser retries only when another CPU took a token meanwhile; a
/// third CPU winning twice in between is the only way to miss a token).
const CAS_TRIES: u32 = 2;

/// Runs the checks `RuleInfo::checks` names (`packed`) in bank `bank`,
/// in order, up to the first that fails: [`PASS`], [`FAIL`] or [`BAD`].
///
/// Global, as [`fw_check`]: the walk's `bpf_loop` callback sees one call
/// with an unknown result, whatever the loop here does.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_rule_checks(bank: u32, packed: u32) -> u32 {
    let (first, count) = check::unpack(packed);
    if count > MAX_PER_RULE || first + count > MAX_CHECKS {
        anomaly(Anomaly::BadCheck);
        return BAD;
    }
    let mut run = Run {
        slot: check::slot(bank, first),
        outcome: PASS,
    };
    // bpf_loop (Linux 5.17): the verifier checks the body once; a loop
    // LLVM rewrote as a countdown it could not bound.
    // SAFETY: `next` has bpf_loop's callback type; `run` outlives the call.
    unsafe {
        bpf_loop(count, next as *mut c_void, (&raw mut run).cast(), 0);
    }
    run.outcome
}

/// [`fw_rule_checks`]' loop state: the next check's slot, the outcome.
#[repr(C)]
struct Run {
    slot: u32,
    outcome: u32,
}

/// Runs the next check; returns 1 to stop at the first that fails.
#[inline(never)]
extern "C" fn next(_i: u32, ctx: *mut c_void) -> c_long {
    // SAFETY: ctx is the `Run` of `fw_rule_checks`.
    let run = unsafe { &mut *(ctx as *mut Run) };
    let r = fw_check(run.slot);
    run.slot += 1;
    run.outcome = r;
    (r != PASS) as c_long
}

/// Check `CHECKS[slot]`: [`PASS`], [`FAIL`] or [`BAD`].
///
/// A global function (exported, a scalar argument): the verifier checks
/// it once on its own and gives its callers an unknown result, so their
/// states do not multiply by its paths (as a static subprogram inside
/// the walk's `bpf_loop` it hit "the sequence of 8193 jumps is too
/// complex").
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_check(slot: u32) -> u32 {
    let Some(c) = CHECKS.get_ptr_mut(slot) else {
        anomaly(Anomaly::BadCheck);
        return BAD;
    };
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: a map value, valid while the program runs; `state` is only
    // touched atomically (every CPU shares it).
    let (kind, a, b, state) = unsafe { ((*c).kind, (*c).a, (*c).b, &raw mut (*c).state) };
    match kind {
        KIND_LIMIT => limit(state, a, b, now),
        KIND_MAC => mac(a, b != 0),
        KIND_PORTS => ports(slot - slot % MAX_CHECKS, a as u32, b),
        // Data is read by the check it belongs to, never run.
        KIND_DATA => {
            anomaly(Anomaly::BadCheck);
            BAD
        }
        // No compiler writes another kind.
        _ => {
            anomaly(Anomaly::BadCheck);
            BAD
        }
    }
}

/// `-m limit` as GCRA: conforming iff `tat - tolerance <= now`, and then
/// `tat = max(tat, now) + interval`; a packet that finds no token takes
/// none (xt_limit's `limit_mt`). `interval` and `tolerance` in ns, below
/// 2^60 (`Limit::check`), so no sum here wraps for centuries of uptime.
#[inline(always)]
fn limit(tat: *mut u64, interval: u64, tolerance: u64, now: u64) -> u32 {
    // Few branches: the verifier walks each try once per caller state.
    for _ in 0..CAS_TRIES {
        // SAFETY: `tat` is an aligned u64 of a map value (see `one`).
        let t = unsafe { core::ptr::read_volatile(tat) };
        if t > now.wrapping_add(tolerance) {
            return FAIL;
        }
        let next = if t > now { t } else { now }.wrapping_add(interval);
        let seen: u64;
        // SAFETY: as above. BPF_CMPXCHG (Linux 5.12): if `*tat == r0` it
        // stores `next`; r0 gets the old value either way.
        unsafe {
            asm!(
                "r0 = cmpxchg_64({p} + 0, r0, {n})",
                p = in(reg) tat,
                n = in(reg) next,
                inout("r0") t => seen,
                options(nostack),
            );
        }
        if seen == t {
            return PASS;
        }
    }
    FAIL
}

/// The packet as [`note_xdp`] or [`note_tc`] left it; `None` if the
/// slot is missing (counted as [`Anomaly::BadCheck`]).
#[inline(always)]
fn seen() -> Option<&'static Seen> {
    let s = CHECK_PACKET.get(0);
    if s.is_none() {
        anomaly(Anomaly::BadCheck);
    }
    s
}

/// A match's answer as a check's outcome.
#[inline(always)]
fn outcome(matched: bool) -> u32 {
    if matched { PASS } else { FAIL }
}

/// `-m mac` as xt_mac's `mac_mt`: no Ethernet header, no match (before
/// the inversion); else the source address equal to `want`, XOR `invert`.
#[inline(always)]
fn mac(want: u64, invert: bool) -> u32 {
    let Some(s) = seen() else { return BAD };
    if !s.has_mac {
        return FAIL;
    }
    outcome((check::mac_word(s.mac) == want) != invert)
}

/// `-m multiport --ports` as xt_multiport's `ports_match_v1`: the first
/// range holding the source or the destination port matches (XOR `!`);
/// none: `!`. A packet without ports never matches (`fragoff != 0`).
/// `base` is the bank's first `CHECKS` slot, `data` the bank index of
/// the first [`KIND_DATA`] entry, `b` as [`KIND_PORTS`] says.
#[inline(always)]
fn ports(base: u32, data: u32, b: u64) -> u32 {
    let Some(s) = seen() else { return BAD };
    if !s.has_ports {
        return FAIL;
    }
    let (sport, dport) = (s.sport, s.dport);
    let count = (b & 0xffff) as u32;
    let invert = b >> 32 & 1 != 0;
    let mut hit = false;
    // By constant index: 15 ranges (XT_MULTI_PORTS) fit in three entries.
    for d in 0..3u32 {
        let first = d * RANGES_PER_DATA;
        if first >= count {
            break;
        }
        let Some(e) = CHECKS.get(base + (data + d) % MAX_CHECKS) else {
            anomaly(Anomaly::BadCheck);
            return BAD;
        };
        if e.kind != KIND_DATA {
            anomaly(Anomaly::BadCheck);
            return BAD;
        }
        let left = count - first;
        hit |= two(e.a, left, sport, dport)
            || two(e.b, left.saturating_sub(2), sport, dport)
            || two(e.state, left.saturating_sub(4), sport, dport);
    }
    outcome(hit != invert)
}

/// Whether one of the first `left` (at most two) ranges of `word`
/// ([`check::port_ranges`]) holds `sport` or `dport`.
#[inline(always)]
fn two(word: u64, left: u32, sport: u16, dport: u16) -> bool {
    let within = |w: u64, p: u16| (w as u16) <= p && p <= (w >> 16) as u16;
    let one = |w: u64| within(w, sport) || within(w, dport);
    (left >= 1 && one(word)) || (left >= 2 && one(word >> 32))
}
