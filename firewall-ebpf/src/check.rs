//! Rule checks ([`firewall_common::check`]): matches evaluated after the
//! classifier picked a rule as the first candidate, in the rule's match
//! order, stopping at the first that fails (netfilter's order).

use core::arch::asm;

use aya_ebpf::{
    cty::{c_long, c_void},
    helpers::{bpf_ktime_get_ns, bpf_loop},
    macros::map,
    maps::{Array, LruHashMap, PerCpuArray},
};
use firewall_common::{
    Anomaly, BANKS,
    check::{
        self, Check, KIND_LIMIT, KIND_RECENT, MAX_CHECKS, MAX_PER_RULE,
        recent::{self, Entry, Key, STAMPS},
    },
};

use crate::classify::anomaly;

#[map]
static CHECKS: Array<Check> = Array::with_max_entries(BANKS * MAX_CHECKS, 0);
/// Every `-m recent` list, outside the banks: lists outlive rulesets.
#[map]
static RECENT: LruHashMap<Key, Entry> = LruHashMap::with_max_entries(recent::MAX_ENTRIES, 0);
/// A new entry is built here, not on the stack (it is 272 bytes).
#[map]
static RECENT_NEW: PerCpuArray<Entry> = PerCpuArray::with_max_entries(1, 0);

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
pub extern "C" fn fw_rule_checks(bank: u32, packed: u32, src: u32, dst: u32, ttl: u32) -> u32 {
    let (first, count) = check::unpack(packed);
    if count > MAX_PER_RULE || first + count > MAX_CHECKS {
        anomaly(Anomaly::BadCheck);
        return BAD;
    }
    let mut run = Run {
        slot: check::slot(bank, first),
        outcome: PASS,
        src,
        dst,
        ttl,
    };
    // bpf_loop (Linux 5.17): the verifier checks the body once; a loop
    // LLVM rewrote as a countdown it could not bound.
    // SAFETY: `next` has bpf_loop's callback type; `run` outlives the call.
    unsafe {
        bpf_loop(count, next as *mut c_void, (&raw mut run).cast(), 0);
    }
    run.outcome
}

/// [`fw_rule_checks`]' loop state: the next check's slot, the outcome,
/// and what the checks see of the packet.
#[repr(C)]
struct Run {
    slot: u32,
    outcome: u32,
    src: u32,
    dst: u32,
    ttl: u32,
}

/// Runs the next check; returns 1 to stop at the first that fails.
#[inline(never)]
extern "C" fn next(_i: u32, ctx: *mut c_void) -> c_long {
    // SAFETY: ctx is the `Run` of `fw_rule_checks`.
    let run = unsafe { &mut *(ctx as *mut Run) };
    let r = fw_check(run.slot, run.src, run.dst, run.ttl);
    run.slot += 1;
    run.outcome = r;
    (r != PASS) as c_long
}

/// Check `CHECKS[slot]` for a packet from `src` to `dst` (network
/// order) with `ttl` (as received): [`PASS`], [`FAIL`] or [`BAD`].
///
/// A global function (exported, scalar arguments): the verifier checks
/// it once on its own and gives its callers an unknown result, so their
/// states do not multiply by its paths (as a static subprogram inside
/// the walk's `bpf_loop` it hit "the sequence of 8193 jumps is too
/// complex").
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_check(slot: u32, src: u32, dst: u32, ttl: u32) -> u32 {
    let Some(c) = CHECKS.get_ptr_mut(slot) else {
        anomaly(Anomaly::BadCheck);
        return BAD;
    };
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: a map value, valid while the program runs; `state` is only
    // touched atomically (every CPU shares it).
    let (kind, arg, a, b, state) =
        unsafe { ((*c).kind, (*c).arg, (*c).a, (*c).b, &raw mut (*c).state) };
    match kind {
        KIND_LIMIT => limit(state, a, b, now),
        KIND_RECENT => {
            let addr = if b as u32 & recent::F_DEST != 0 {
                dst
            } else {
                src
            };
            let key = Key {
                list: (b >> 32) as u32,
                addr: addr & arg,
            };
            recent_check(&key, b as u32, a, ttl, now)
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

/// `-m recent` as xt_recent's `recent_mt`: `flags` is the low word of
/// `Check::b` (command, flags, `--hitcount`), `seconds` in ns.
#[inline(always)]
fn recent_check(key: &Key, flags: u32, seconds: u64, ttl: u32, now: u64) -> u32 {
    let command = flags & 3;
    let hitcount = (flags >> 8) & 0xffff;
    // `ret` starts as the inversion; each "match" flips it.
    let invert = flags & recent::F_INVERT != 0;
    let found = RECENT.get_ptr_mut(key).filter(|&e| {
        // --rttl: an entry seen with another TTL is not this address's.
        // SAFETY: a map value, valid while the program runs.
        let t = unsafe { (*e).ttl };
        flags & recent::F_RTTL == 0 || t == ttl || ttl == 0 || t == 0
    });
    let Some(e) = found else {
        if command != recent::SET {
            return verdict(invert);
        }
        let Some(new) = RECENT_NEW.get_ptr_mut(0) else {
            anomaly(Anomaly::BadCheck);
            return BAD;
        };
        // SAFETY: this CPU's slot, nothing else uses it meanwhile.
        let n = unsafe { &mut *new };
        n.stamps[0] = now;
        n.index = 1;
        n.nstamps = 1;
        n.ttl = ttl;
        // xt_recent hot-drops when it cannot add the entry.
        if RECENT.insert(key, n, 0).is_err() {
            anomaly(Anomaly::BadCheck);
            return BAD;
        }
        return verdict(!invert);
    };
    // SAFETY: a map value, valid while the program runs; CPUs updating
    // one address at once may lose a stamp (xt_recent takes a lock).
    let e = unsafe { &mut *e };
    let matched = match command {
        recent::SET => !invert,
        recent::REMOVE => {
            let _ = RECENT.remove(key);
            return verdict(!invert);
        }
        // --rcheck, --update: `hitcount` stamps within `seconds`.
        _ => {
            let since = now.saturating_sub(seconds);
            let mut hits = 0;
            let mut hit = false;
            for i in 0..STAMPS {
                if i as u32 >= e.nstamps {
                    break;
                }
                if seconds != 0 && e.stamps[i] < since {
                    continue;
                }
                hits += 1;
                if hitcount == 0 || hits >= hitcount {
                    hit = true;
                    break;
                }
            }
            hit != invert
        }
    };
    if command == recent::SET || (command == recent::UPDATE && matched) {
        let i = e.index as usize % STAMPS;
        e.stamps[i] = now;
        e.index = (i + 1) as u32;
        if e.index > e.nstamps {
            e.nstamps = e.index;
        }
        e.ttl = ttl;
    }
    verdict(matched)
}

/// A match as a check's outcome.
#[inline(always)]
fn verdict(matched: bool) -> u32 {
    if matched { PASS } else { FAIL }
}
