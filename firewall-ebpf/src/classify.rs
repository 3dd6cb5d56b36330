//! The classifier: walks one chain of the live bank in order and returns the
//! first matching rule's verdict, or the chain's policy (iptables(8):
//! "a rule ... specifies what to do with a packet that matches").
//!
//! Cost: O(rules in the chain) per packet, at most
//! [`MAX_RULES_PER_CHAIN`] `bpf_loop` steps.

use aya_ebpf::{
    cty::{c_long, c_void},
    helpers::bpf_loop,
    macros::map,
    maps::{Array, PerCpuArray},
};
use firewall_common::{
    BANKS, COUNTER_SLOTS, ChainHeader, Config, Counter, F_DPORT, F_IN_IF, F_NOT_DPORT, F_NOT_DST,
    F_NOT_IN_IF, F_NOT_OUT_IF, F_NOT_PROTO, F_NOT_SPORT, F_NOT_SRC, F_OUT_IF, F_PROTO, F_SPORT,
    MAX_RULES_PER_CHAIN, RULE_SLOTS, RuleEntry, VERDICT_ACCEPT, chain_slot, policy_counter,
    rule_slot,
};

use crate::parse::Packet;

#[map]
static CONFIG: Array<Config> = Array::with_max_entries(1, 0);
#[map]
static CHAINS: Array<ChainHeader> = Array::with_max_entries(BANKS * firewall_common::CHAINS, 0);
#[map]
static RULES: Array<RuleEntry> = Array::with_max_entries(RULE_SLOTS, 0);
#[map]
static COUNTERS: PerCpuArray<Counter> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);

#[inline(always)]
fn count(slot: u32, bytes: u16) {
    if let Some(c) = COUNTERS.get_ptr_mut(slot) {
        // Per-CPU slot: no other writer.
        unsafe {
            (*c).packets += 1;
            (*c).bytes += bytes as u64;
        }
    }
}

/// `field` matched (`hit`), XOR the rule's negation bit for it.
#[inline(always)]
fn check(flags: u16, neg: u16, hit: bool) -> bool {
    hit != (flags & neg != 0)
}

#[inline(always)]
fn matches(r: &RuleEntry, p: &Packet) -> bool {
    let f = r.flags;
    if !check(f, F_NOT_SRC, p.src & r.src_mask == r.src_addr) {
        return false;
    }
    if !check(f, F_NOT_DST, p.dst & r.dst_mask == r.dst_addr) {
        return false;
    }
    if f & F_PROTO != 0 && !check(f, F_NOT_PROTO, p.proto == r.proto) {
        return false;
    }
    if f & F_IN_IF != 0 && !check(f, F_NOT_IN_IF, p.in_ifindex == r.in_ifindex) {
        return false;
    }
    if f & F_OUT_IF != 0 && !check(f, F_NOT_OUT_IF, p.out_ifindex == r.out_ifindex) {
        return false;
    }
    if f & (F_SPORT | F_DPORT) != 0 {
        // tcp/udp matches never match a non-first fragment, negated or not
        // (xt_tcpudp: "if (par->fragoff != 0) return false").
        if !p.has_ports {
            return false;
        }
        if f & F_SPORT != 0
            && !check(
                f,
                F_NOT_SPORT,
                p.sport >= r.sport_lo && p.sport <= r.sport_hi,
            )
        {
            return false;
        }
        if f & F_DPORT != 0
            && !check(
                f,
                F_NOT_DPORT,
                p.dport >= r.dport_lo && p.dport <= r.dport_hi,
            )
        {
            return false;
        }
    }
    true
}

/// State of one chain walk, shared with the `bpf_loop` callback.
#[repr(C)]
struct Walk {
    pkt: Packet,
    /// `rule_slot(bank, chain, 0)`.
    base: u32,
    /// Rules in the chain.
    count: u32,
    /// The matching rule's slot in `RULES`, or `u32::MAX`.
    hit: u32,
}

/// One step of the walk: rule `i`. Returns 1 to stop (a match or the end).
///
/// `bpf_loop` (Linux 5.17) has the verifier check this body once, not once
/// per rule, which a plain loop over a long chain would exceed.
#[inline(never)]
extern "C" fn step(i: u32, ctx: *mut c_void) -> c_long {
    // SAFETY: ctx is the `Walk` that `run` passes to bpf_loop.
    let w = unsafe { &mut *(ctx as *mut Walk) };
    if i >= w.count {
        return 1;
    }
    let slot = w.base + i;
    let Some(r) = RULES.get(slot) else {
        return 1;
    };
    if matches(r, &w.pkt) {
        w.hit = slot;
        return 1;
    }
    0
}

/// The verdict of `chain` for `p`, counting the rule or policy that gave it.
#[inline(always)]
pub fn run(chain: u32, p: Packet) -> u8 {
    let bank = match CONFIG.get(0) {
        Some(c) => c.active_bank,
        None => return VERDICT_ACCEPT,
    };
    if bank >= BANKS {
        return VERDICT_ACCEPT;
    }
    let Some(hdr) = CHAINS.get(chain_slot(bank, chain)) else {
        return VERDICT_ACCEPT;
    };
    let policy = hdr.policy;
    let len = p.len;
    let mut w = Walk {
        pkt: p,
        base: rule_slot(bank, chain, 0),
        count: hdr.rule_count,
        hit: u32::MAX,
    };
    // SAFETY: `step` matches bpf_loop's callback type and `w` outlives the call.
    unsafe {
        bpf_loop(
            MAX_RULES_PER_CHAIN,
            step as *mut c_void,
            (&raw mut w).cast(),
            0,
        );
    }
    if w.hit != u32::MAX
        && let Some(r) = RULES.get(w.hit)
    {
        count(r.counter, len);
        return r.verdict;
    }
    count(policy_counter(chain), len);
    policy
}
