//! Connection tracking: gives each IPv4 and IPv6 packet netfilter's connection
//! state (NEW, ESTABLISHED, RELATED or INVALID) from the `CONNTRACK`
//! table, and keeps the table's entries up to date (layouts and the
//! policy in `firewall_common::ct`).
//!
//! [`track`] runs before the chains: it updates an existing entry at once
//! (netfilter's tracking runs before the filter hooks, whatever their
//! verdict) and returns the entry a NEW packet would create; [`confirm`]
//! writes it only once the verdict is ACCEPT (netfilter confirms a new
//! entry at the end of the hooks, so a dropped SYN leaves nothing).
//!
//! TCP is tracked as with `nf_conntrack_tcp_loose=0`: only a SYN opens a
//! connection, so an ACK, FIN, RST or SYN+ACK without an entry is INVALID;
//! so is, on any connection, a combination of flags netfilter's
//! `tcp_valid_flags` refuses (FIN without ACK, SYN+FIN, none, ...). A
//! connection's packets go through netfilter's tracker, its state table
//! and its sequence and window checks (`ct::tcp`, in [`fw_ct_tcp`]); a
//! RST before the connection's first answer deletes its entry.

use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{Array, LruHashMap, PerCpuArray},
};
use firewall_common::ct::{
    self, CtEntry, CtKey, F_ASSURED, F_ORIG_FIRST, F_SEEN_REPLY, Stat, Timeouts,
    tcp::{self, Verdict, Window},
};

use crate::{
    check::{self, CtSeen},
    parse::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, Packet},
};

/// The connection table; user space may size it at load
/// (`FW_CONNTRACK_MAX`).
#[map]
static CONNTRACK: LruHashMap<CtKey, CtEntry> = LruHashMap::with_max_entries(ct::DEFAULT_MAX, 0);
/// The timeouts, written by user space at install and by
/// `fw conntrack --timeout`.
#[map]
static CT_CONFIG: Array<Timeouts> = Array::with_max_entries(1, 0);
/// Per-CPU counters, by [`Stat`].
#[map]
static CT_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(ct::STATS, 0);

const NS: u64 = 1_000_000_000;

#[inline(always)]
fn stat(s: Stat) {
    if let Some(c) = CT_STATS.get_ptr_mut(s as u32) {
        // SAFETY: this CPU's slot; no other writer while the program runs.
        unsafe { *c += 1 };
    }
}

/// An entry a NEW packet creates once accepted.
#[repr(C)]
pub struct Pending {
    key: CtKey,
    entry: CtEntry,
}

/// The entry staged by [`track`] for [`confirm`], per CPU, one slot per
/// hook (a program runs to completion on its CPU): kept off the 512-byte
/// stack.
#[map]
static CT_PENDING: PerCpuArray<Pending> = PerCpuArray::with_max_entries(2, 0);

#[inline(always)]
fn invalid() -> u32 {
    stat(Stat::Invalid);
    ct::INVALID
}

/// [`track`]'s answer bit: an entry is staged in `CT_PENDING[slot]` for
/// [`confirm`].
pub const STAGED: u32 = 1 << 31;

/// The packet's connection state, updating its entry, with [`STAGED`] set
/// when a NEW packet's entry waits in `CT_PENDING[slot]` for its verdict.
/// The connection's tuple goes to the checks (`check::note_ct`).
#[inline(always)]
pub fn track(slot: u32, p: &Packet) -> u32 {
    fw_track(slot, p)
}

/// [`track`], global: verified once, not once for every parsed shape of
/// packet that reaches it (the verifier's budget is the program's).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_track(slot: u32, p: *const Packet) -> u32 {
    if p.is_null() {
        return invalid();
    }
    // SAFETY: the caller's packet, not null.
    let p = unsafe { &*p };
    let mut ct = CtSeen::NONE;
    let state = classify(slot, p, &mut ct);
    // netfilter leaves an INVALID packet without a connection, even one
    // whose entry exists (a bad TCP transition).
    check::note_ct(if state == ct::INVALID {
        CtSeen::NONE
    } else {
        ct
    });
    state
}

/// Creates the entry [`track`] staged in `CT_PENDING[slot]`, the packet
/// having been accepted.
#[inline(never)]
pub fn confirm(slot: u32) {
    let Some(p) = CT_PENDING.get_ptr(slot) else {
        return;
    };
    // SAFETY: as in `track`.
    let p = unsafe { &*p };
    if CONNTRACK.insert(&p.key, &p.entry, 0).is_ok() {
        stat(Stat::Created);
    } else {
        stat(Stat::InsertFailed);
    }
}

/// The original tuple of the connection with `key`, opened by the key's
/// first endpoint when `orig_first`, seen by a packet of its reply
/// direction when `reply`.
#[inline(always)]
fn seen(key: &CtKey, orig_first: bool, reply: bool) -> CtSeen {
    let (a, b) = if orig_first { (0, 1) } else { (1, 0) };
    CtSeen {
        dir: if reply {
            check::CT_REPLY
        } else {
            check::CT_ORIGINAL
        },
        proto: u32::from(key.proto),
        src: key.addr[a],
        dst: key.addr[b],
        sport: key.port[a],
        dport: key.port[b],
    }
}

#[inline(always)]
fn classify(slot: u32, p: &Packet, ct: &mut CtSeen) -> u32 {
    if p.later_fragment {
        // The ports are in the first fragment: fw does not reassemble.
        return invalid();
    }
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    let t = CT_CONFIG.get(0).unwrap_or(&Timeouts::DEFAULT);
    // netfilter's tcp_error: a flag combination no TCP sends is INVALID,
    // whatever its connection, which it leaves as it is; so is a data
    // offset below 5 words or past the segment ("truncated header or
    // options").
    if p.proto == IPPROTO_TCP
        && (!p.has_tcp_flags
            || !ct::tcp_flags_valid(p.tcp_flags)
            || p.tcp_flags & crate::parse::TCP_BAD_OFFSET != 0)
    {
        return invalid();
    }
    // The key is built in this hook's CT_PENDING slot, where `new`
    // stages a NEW packet's entry under it.
    let Some(pending) = CT_PENDING.get_ptr_mut(slot) else {
        return invalid();
    };
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    let made = fw_ct_key(p, unsafe { &raw mut (*pending).key });
    if made & (KEY_INVALID | KEY_UNTRACKED) != 0 {
        return if made & KEY_INVALID != 0 {
            invalid()
        } else {
            // Neighbour discovery and MLD: no connection, not INVALID.
            ct::UNTRACKED
        };
    }
    let src_first = made & KEY_FIRST != 0;
    // SAFETY: as above; read in place (a copy would cost the stack).
    let key = unsafe { &(*pending).key };
    if made & KEY_RELATED != 0 {
        return related(key, src_first, now, ct);
    }
    let Some(e) = CONNTRACK.get_ptr_mut(key) else {
        *ct = seen(key, src_first, false);
        return new(slot, p, src_first, now, t);
    };
    // SAFETY: the entry stays valid for the program's run (RCU); a
    // concurrent update of the same connection on another CPU may
    // interleave, as the kernel's own LRU users accept.
    let e = unsafe { &mut *e };
    if e.expires <= now {
        *ct = seen(key, src_first, false);
        return new(slot, p, src_first, now, t);
    }
    let orig = (e.flags & F_ORIG_FIRST != 0) == src_first;
    if p.proto == IPPROTO_TCP {
        // The state the packet arrived with (netfilter's ctinfo), before
        // it marks the reply seen.
        let state = direction_state(e, orig);
        let orig_first = e.flags & F_ORIG_FIRST != 0;
        return match fw_ct_tcp(e as *mut CtEntry, u32::from(!orig), 0) {
            TCP_ACCEPT => {
                *ct = seen(key, orig_first, !orig);
                state
            }
            TCP_DELETE => {
                // "If only reply is a RST, we can consider ourselves not
                // to have an established connection": the RST keeps the
                // state it arrived with.
                *ct = seen(key, orig_first, !orig);
                let _ = CONNTRACK.remove(key);
                state
            }
            TCP_REOPEN => {
                // netfilter kills the entry and tracks the SYN anew,
                // its sender the original direction.
                let _ = CONNTRACK.remove(key);
                *ct = seen(key, src_first, false);
                new(slot, p, src_first, now, t)
            }
            _ => invalid(),
        };
    }
    *ct = seen(key, e.flags & F_ORIG_FIRST != 0, !orig);
    // UDP: a packet after the answer makes a stream, assured and kept
    // longer (netfilter waits 2 s for it; the request and its answer
    // alone, a DNS lookup, stay at the short timeout).
    let stream = e.flags & F_SEEN_REPLY != 0;
    if !orig {
        e.flags |= F_SEEN_REPLY;
    }
    let secs = match p.proto {
        IPPROTO_UDP if stream => {
            e.flags |= F_ASSURED;
            t.udp_stream
        }
        IPPROTO_UDP => t.udp,
        IPPROTO_ICMP | IPPROTO_ICMPV6 => t.icmp,
        _ => t.generic,
    };
    e.expires = now + secs as u64 * NS;
    direction_state(e, orig)
}

/// What [`fw_ct_key`] made of a packet: bits.
const KEY_FIRST: u32 = 1 << 0;
const KEY_RELATED: u32 = 1 << 1;
const KEY_INVALID: u32 = 1 << 2;
const KEY_UNTRACKED: u32 = 1 << 3;

/// The connection key of `p` into `out`, built in place: [`KEY_FIRST`]
/// when the packet's source is the key's first endpoint; with
/// [`KEY_RELATED`], for an ICMP or ICMPv6 error, the key is the quoted
/// packet's (and [`KEY_FIRST`] says so of its source); [`KEY_UNTRACKED`]
/// for neighbour discovery and MLD (netfilter's `noct_valid_new`),
/// [`KEY_INVALID`] for a packet that has none. Global, so that the
/// verifier checks the families' and protocols' ways to a key once, and
/// `classify` goes on from one state whichever it took.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_ct_key(p: *const Packet, out: *mut CtKey) -> u32 {
    // SAFETY: the caller's packet and key slot, or null.
    let (Some(p), Some(out)) = (unsafe { p.as_ref() }, unsafe { out.as_mut() }) else {
        return KEY_INVALID;
    };
    let v6 = p.v6;
    let icmp = if v6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
    let first = |f: bool| if f { KEY_FIRST } else { 0 };
    if p.proto != icmp {
        let ports = match p.proto {
            IPPROTO_TCP | IPPROTO_UDP => (p.sport, p.dport),
            _ => (0, 0),
        };
        return first(out.set(&p.src6, &p.dst6, ports, p.proto, v6));
    }
    if !p.has_icmp {
        return KEY_INVALID;
    }
    let t = p.icmp_type;
    let error = if v6 {
        ct::icmp6_is_error(t)
    } else {
        ct::icmp_is_error(t)
    };
    if error {
        if !p.has_inner {
            return KEY_INVALID;
        }
        let [a, b] = &p.inner6;
        if p.inner_proto == icmp {
            let (kind, code) = ((p.inner_dport >> 8) as u8, p.inner_dport as u8);
            out.set_icmp(a, b, p.inner_sport, (kind, code), v6);
            return KEY_RELATED | KEY_FIRST;
        }
        let ports = (p.inner_sport, p.inner_dport);
        return KEY_RELATED | first(out.set(a, b, ports, p.inner_proto, v6));
    }
    if v6 && ct::icmp6_untracked(t) {
        return KEY_UNTRACKED;
    }
    let (reply_of, query_of) = if v6 {
        (ct::icmp6_reply_of(t), ct::icmp6_query_of(t))
    } else {
        (ct::icmp_reply_of(t), ct::icmp_query_of(t))
    };
    if reply_of.is_some() {
        out.set_icmp(&p.src6, &p.dst6, p.icmp_id, (t, p.icmp_code), v6);
        KEY_FIRST
    } else if let Some(query) = query_of {
        out.set_icmp(&p.dst6, &p.src6, p.icmp_id, (query, p.icmp_code), v6);
        0
    } else {
        KEY_INVALID
    }
}

/// ESTABLISHED once the connection was answered or for the answer
/// itself; NEW for the opener's packets before (netfilter's ctinfo).
#[inline(always)]
fn direction_state(e: &CtEntry, orig: bool) -> u32 {
    if !orig || e.flags & F_SEEN_REPLY != 0 {
        ct::ESTABLISHED
    } else {
        ct::NEW
    }
}

/// A packet without a (live) entry: NEW, [`STAGED`], with the entry it
/// would create in `CT_PENDING[slot]` (under the key already there), or
/// INVALID when it cannot open a connection.
#[inline(always)]
fn new(slot: u32, p: &Packet, src_first: bool, now: u64, t: &Timeouts) -> u32 {
    let secs = match p.proto {
        IPPROTO_TCP => 0,
        IPPROTO_UDP => t.udp,
        IPPROTO_ICMP if !p.v6 => {
            if ct::icmp_reply_of(p.icmp_type).is_none() {
                // A reply without its query.
                return invalid();
            }
            t.icmp
        }
        IPPROTO_ICMPV6 if p.v6 => {
            if ct::icmp6_reply_of(p.icmp_type).is_none() {
                return invalid();
            }
            t.icmp
        }
        _ => t.generic,
    };
    let Some(at) = CT_PENDING.get_ptr_mut(slot) else {
        return invalid();
    };
    // SAFETY: this CPU's slot, used by nothing else until the program
    // ends; built in place, off the stack, beside the key `fw_ct_key`
    // wrote there.
    unsafe {
        (*at).entry = CtEntry {
            expires: now + secs as u64 * NS,
            flags: if src_first { F_ORIG_FIRST } else { 0 },
            ..CtEntry::default()
        };
    }
    // SAFETY: as above.
    if p.proto == IPPROTO_TCP && fw_ct_tcp(unsafe { &raw mut (*at).entry }, 0, 1) != TCP_ACCEPT {
        // Only a SYN opens a connection (loose=0).
        return invalid();
    }
    ct::NEW | STAGED
}

/// An ICMP or ICMPv6 error: RELATED when the packet it quotes, whose
/// connection key is `key` (its source the key's first endpoint when
/// `quoted_first`), belongs to a live connection, else INVALID. Its
/// connection is the quoted one (`ct`), and it travels against the
/// quoted packet's direction.
#[inline(always)]
fn related(key: &CtKey, quoted_first: bool, now: u64, ct: &mut CtSeen) -> u32 {
    // SAFETY: only `expires` and `flags` are copied out.
    match unsafe { CONNTRACK.get(key) } {
        Some(e) if e.expires > now => {
            let orig_first = e.flags & F_ORIG_FIRST != 0;
            // The quoted packet went the original way: the error the reply way.
            *ct = seen(key, orig_first, orig_first == quoted_first);
            ct::RELATED
        }
        _ => invalid(),
    }
}

/// [`fw_ct_tcp`]'s answers ([`Verdict`] as numbers).
const TCP_INVALID: u32 = 0;
const TCP_ACCEPT: u32 = 1;
const TCP_DELETE: u32 = 2;
const TCP_REOPEN: u32 = 3;

/// One TCP packet through netfilter's tracker (`ct::tcp`) on entry `e`:
/// `reply` 1 when it goes the reply way; `fresh` 1 for the SYN of a new
/// connection (`e` holds only its `F_ORIG_FIRST`; [`TCP_ACCEPT`] when it
/// opens one). The segment and its options are what the hook noted
/// (`check::Seen`). Global, so that the verifier checks it once, not in
/// every path of the programs that track (their budget is shared).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_ct_tcp(e: *mut CtEntry, reply: u32, fresh: u32) -> u32 {
    // The verifier takes a global function's pointer as maybe null.
    if e.is_null() {
        return TCP_INVALID;
    }
    // SAFETY: a live map value (`CONNTRACK` or `CT_PENDING`), not null.
    let e = unsafe { &mut *e };
    check::fw_tcp_options();
    let Some(s) = check::seen() else {
        return TCP_INVALID;
    };
    let t = CT_CONFIG.get(0).unwrap_or(&Timeouts::DEFAULT);
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    // One copy of the tracker for both: the verifier's budget is the
    // program's, global functions included.
    if fresh != 0 && !tcp::open(&s.seg, e) {
        return TCP_INVALID;
    }
    let mut window = |e: &mut CtEntry, state: u8, reply: bool, index: u8| {
        Window::from_u32(fw_tcp_window(
            e,
            u32::from(state),
            u32::from(reply),
            u32::from(index),
        ))
    };
    match tcp::packet_with(e, &s.seg, reply != 0 && fresh == 0, t, now, &mut window) {
        Verdict::Invalid => TCP_INVALID,
        Verdict::Accept => TCP_ACCEPT,
        Verdict::Delete => TCP_DELETE,
        Verdict::Reopen => TCP_REOPEN,
    }
}

/// `tcp::in_window` on entry `e` for the noted segment: `state` the
/// connection's state before it, `reply` 1 the reply way, `index` its
/// `ct::tcp_index`; a `Window` as a number. Global for the verifier, as
/// [`fw_ct_tcp`]: every path there to the window checks would otherwise
/// verify them again.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_tcp_window(e: *mut CtEntry, state: u32, reply: u32, index: u32) -> u32 {
    if e.is_null() {
        return Window::Invalid as u32;
    }
    // SAFETY: a live map value, not null (as in `fw_ct_tcp`).
    let e = unsafe { &mut *e };
    let Some(s) = check::seen() else {
        return Window::Invalid as u32;
    };
    let t = CT_CONFIG.get(0).unwrap_or(&Timeouts::DEFAULT);
    tcp::in_window(
        &mut e.track,
        state as u8,
        reply != 0,
        index as u8,
        &s.seg,
        t,
    ) as u32
}
