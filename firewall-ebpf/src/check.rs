//! Rule checks ([`firewall_common::check`]): matches evaluated after the
//! classifier picked a rule as the first candidate, in the rule's match
//! order, stopping at the first that fails (netfilter's order).

use core::arch::asm;

use aya_ebpf::{
    cty::{c_long, c_void},
    helpers::{bpf_ktime_get_ns, bpf_loop},
    macros::map,
    maps::Array,
};
use firewall_common::{
    Anomaly, BANKS,
    check::{self, Check, KIND_LIMIT, MAX_CHECKS, MAX_PER_RULE},
};

use crate::classify::anomaly;

#[map]
static CHECKS: Array<Check> = Array::with_max_entries(BANKS * MAX_CHECKS, 0);

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
