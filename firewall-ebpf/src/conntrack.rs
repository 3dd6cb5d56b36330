//! Connection tracking: gives each IPv4 packet netfilter's connection
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
//! connection's packets follow netfilter's transition table
//! (`ct::TCP_TRANSITIONS`), ignored packets included.
//! Sequence numbers and windows are not checked. A RST before the
//! connection's first answer deletes its entry, as netfilter does.

use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{Array, LruHashMap, PerCpuArray},
};
use firewall_common::ct::{
    self, CtEntry, CtKey, F_ASSURED, F_CLOSE_INIT, F_LAST_REPLY, F_LAST_RST, F_LAST_SYN,
    F_ORIG_FIRST, F_SEEN_REPLY, Stat, TcpState, Timeouts,
};

use crate::{
    check::{self, CtSeen},
    parse::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, Packet},
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

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

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
fn invalid() -> (u32, Option<Pending>) {
    stat(Stat::Invalid);
    (ct::INVALID, None)
}

/// [`track`]'s answer bit: an entry is staged in `CT_PENDING[slot]` for
/// [`confirm`].
pub const STAGED: u32 = 1 << 31;

/// The packet's connection state, updating its entry, with [`STAGED`] set
/// when a NEW packet's entry waits in `CT_PENDING[slot]` for its verdict.
/// The connection's tuple goes to the checks (`check::note_ct`).
#[inline(never)]
pub fn track(slot: u32, p: &Packet) -> u32 {
    let mut ct = CtSeen::NONE;
    let (state, pending) = classify(p, &mut ct);
    // netfilter leaves an INVALID packet without a connection, even one
    // whose entry exists (a bad TCP transition).
    check::note_ct(if state == ct::INVALID {
        CtSeen::NONE
    } else {
        ct
    });
    if let Some(pending) = pending
        && let Some(at) = CT_PENDING.get_ptr_mut(slot)
    {
        // SAFETY: this CPU's slot, used by nothing else until the program ends.
        unsafe { *at = pending };
        return state | STAGED;
    }
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
        src: u32::from_ne_bytes(key.addr[a]),
        dst: u32::from_ne_bytes(key.addr[b]),
        sport: key.port[a],
        dport: key.port[b],
    }
}

#[inline(always)]
fn classify(p: &Packet, ct: &mut CtSeen) -> (u32, Option<Pending>) {
    if p.later_fragment {
        // The ports are in the first fragment: fw does not reassemble.
        return invalid();
    }
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    let t = CT_CONFIG.get(0).unwrap_or(&Timeouts::DEFAULT);
    let (sport, dport) = match p.proto {
        IPPROTO_TCP | IPPROTO_UDP => (p.sport, p.dport),
        _ => (0, 0),
    };
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
    let (key, src_first) = if p.proto == IPPROTO_ICMP {
        if !p.has_icmp {
            return invalid();
        }
        if ct::icmp_is_error(p.icmp_type) {
            return related(p, now, ct);
        }
        let (src, dst) = (p.src.to_ne_bytes(), p.dst.to_ne_bytes());
        if ct::icmp_reply_of(p.icmp_type).is_some() {
            (
                CtKey::icmp(src, dst, p.icmp_id, p.icmp_type, p.icmp_code),
                true,
            )
        } else if let Some(query) = ct::icmp_query_of(p.icmp_type) {
            (CtKey::icmp(dst, src, p.icmp_id, query, p.icmp_code), false)
        } else {
            return invalid();
        }
    } else {
        CtKey::new(
            p.src.to_ne_bytes(),
            p.dst.to_ne_bytes(),
            sport,
            dport,
            p.proto,
        )
    };
    let Some(e) = CONNTRACK.get_ptr_mut(&key) else {
        *ct = seen(&key, src_first, false);
        return new(p, key, src_first, now, t);
    };
    // SAFETY: the entry stays valid for the program's run (RCU); a
    // concurrent update of the same connection on another CPU may
    // interleave, as the kernel's own LRU users accept.
    let e = unsafe { &mut *e };
    if e.expires <= now {
        *ct = seen(&key, src_first, false);
        return new(p, key, src_first, now, t);
    }
    let orig = (e.flags & F_ORIG_FIRST != 0) == src_first;
    if p.proto == IPPROTO_TCP && p.tcp_flags & RST != 0 && e.flags & F_SEEN_REPLY == 0 {
        // nf_conntrack_proto_tcp.c: "If only reply is a RST, we can
        // consider ourselves not to have an established connection ...
        // delete the conntrack immediately" (a RST from either side
        // before any answer). The RST keeps the state it arrived with.
        let state = direction_state(e, orig);
        *ct = seen(&key, e.flags & F_ORIG_FIRST != 0, !orig);
        let _ = CONNTRACK.remove(&key);
        return (state, None);
    }
    if p.proto == IPPROTO_TCP {
        let r = (tcp(p.tcp_flags, e, orig, now, t), None);
        // After: a SYN reopening a closed connection makes its sender the
        // original direction.
        let orig_first = e.flags & F_ORIG_FIRST != 0;
        *ct = seen(&key, orig_first, orig_first != src_first);
        return r;
    }
    *ct = seen(&key, e.flags & F_ORIG_FIRST != 0, !orig);
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
        IPPROTO_ICMP => t.icmp,
        _ => t.generic,
    };
    e.expires = now + secs as u64 * NS;
    (direction_state(e, orig), None)
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

/// A packet without a (live) entry: NEW with the entry it would create,
/// or INVALID when it cannot open a connection.
#[inline(always)]
fn new(p: &Packet, key: CtKey, src_first: bool, now: u64, t: &Timeouts) -> (u32, Option<Pending>) {
    let (tcp, secs) = match p.proto {
        IPPROTO_TCP => {
            if p.tcp_flags & (SYN | ACK | RST | FIN) != SYN {
                return invalid();
            }
            (TcpState::SynSent as u8, t.tcp_syn_sent)
        }
        IPPROTO_UDP => (0, t.udp),
        IPPROTO_ICMP => {
            if ct::icmp_reply_of(p.icmp_type).is_none() {
                // A reply without its query.
                return invalid();
            }
            (0, t.icmp)
        }
        _ => (0, t.generic),
    };
    let entry = CtEntry {
        expires: now + secs as u64 * NS,
        tcp,
        flags: if src_first { F_ORIG_FIRST } else { 0 }
            | if p.proto == IPPROTO_TCP {
                F_LAST_SYN
            } else {
                0
            },
        _pad: [0; 6],
    };
    (ct::NEW, Some(Pending { key, entry }))
}

/// An ICMP error: RELATED when the datagram it quotes belongs to a live
/// connection, else INVALID. Its connection is the quoted one (`ct`),
/// and it travels against the quoted datagram's direction.
#[inline(always)]
fn related(p: &Packet, now: u64, ct: &mut CtSeen) -> (u32, Option<Pending>) {
    if !p.has_inner {
        return invalid();
    }
    let (src, dst) = (p.inner_src.to_ne_bytes(), p.inner_dst.to_ne_bytes());
    let (key, quoted_first) = if p.inner_proto == IPPROTO_ICMP {
        let (kind, code) = ((p.inner_dport >> 8) as u8, p.inner_dport as u8);
        (CtKey::icmp(src, dst, p.inner_sport, kind, code), true)
    } else {
        CtKey::new(src, dst, p.inner_sport, p.inner_dport, p.inner_proto)
    };
    // SAFETY: only `expires` and `flags` are copied out.
    match unsafe { CONNTRACK.get(&key) } {
        Some(e) if e.expires > now => {
            let orig_first = e.flags & F_ORIG_FIRST != 0;
            // The quoted datagram went the original way: the error the reply way.
            *ct = seen(&key, orig_first, orig_first == quoted_first);
            (ct::RELATED, None)
        }
        _ => invalid(),
    }
}

/// A TCP packet of a live connection: the state machine of netfilter's
/// nf_conntrack_proto_tcp.c ([`fw_tcp_step`]), without the window checks.
/// Its connection state.
#[inline(always)]
fn tcp(flags: u8, e: &mut CtEntry, orig: bool, now: u64, t: &Timeouts) -> u32 {
    let step = fw_tcp_step(
        u32::from(flags),
        u32::from(e.tcp),
        u32::from(e.flags),
        u32::from(orig),
    );
    let (next, new_flags) = (step as u8, (step >> 8) as u8);
    // The state the packet arrived with (netfilter's ctinfo), before it
    // marks the reply seen.
    let state = direction_state(e, orig);
    match step >> 16 {
        STEP_REOPEN => {
            e.flags = new_flags;
            e.tcp = TcpState::SynSent as u8;
            e.expires = now + t.tcp_syn_sent as u64 * NS;
            ct::NEW
        }
        // Let through with the state it has; not even the timeout changes.
        STEP_IGNORE => {
            e.flags = new_flags;
            state
        }
        STEP_MOVE => {
            e.flags = new_flags;
            e.tcp = next;
            e.expires = now + tcp_timeout(t, next) as u64 * NS;
            state
        }
        _ => invalid().0,
    }
}

/// [`fw_tcp_step`]'s verdicts (bits 16 and up of its answer).
const STEP_INVALID: u32 = 0;
const STEP_IGNORE: u32 = 1;
const STEP_MOVE: u32 = 2;
const STEP_REOPEN: u32 = 3;

/// One TCP packet through netfilter's transition table
/// (`ct::TCP_TRANSITIONS`): `flags` the packet's TCP flags, `tcp` and
/// `eflags` its entry's `CtEntry::tcp` and `flags`, `orig` 1 when it goes
/// the original way. The answer packs the next state (bits 0-7), the
/// entry's next flags (bits 8-15) and what to do (bits 16 and up:
/// `STEP_*`). Global and on scalars only, so that the verifier checks it
/// once, not in every path of the programs that track (their budget is
/// shared).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_tcp_step(flags: u32, tcp: u32, eflags: u32, orig: u32) -> u32 {
    let orig = orig != 0;
    let index = u32::from(ct::tcp_index(flags as u8));
    let old = tcp & 0xff;
    let mut e_flags = eflags as u8;
    let mut next = transition(u32::from(!orig), index, old);
    let reply_bit = if orig { 0 } else { F_LAST_REPLY };
    let pack = |next: u8, f: u8, step: u32| u32::from(next) | u32::from(f) << 8 | step << 16;
    if next == TcpState::SynSent as u8 && old >= TcpState::TimeWait as u32 {
        // A SYN in TIME_WAIT or CLOSE reopens the connection when a FIN
        // closed it or this side's RST was the last packet; netfilter
        // then deletes the entry and tracks the SYN as a new connection,
        // opened by its sender. Otherwise the SYN is ignored.
        let last_rst_here = e_flags & (F_LAST_RST | F_LAST_REPLY) == F_LAST_RST | reply_bit;
        if e_flags & F_CLOSE_INIT != 0 || last_rst_here {
            let sender_first = orig == (e_flags & F_ORIG_FIRST != 0);
            let f = if sender_first { F_ORIG_FIRST } else { 0 } | F_LAST_SYN;
            return pack(TcpState::SynSent as u8, f, STEP_REOPEN);
        }
        next = ct::TCP_IG;
    }
    if next == ct::TCP_IG
        && index == 1
        && !orig
        && e_flags & (F_LAST_SYN | F_LAST_REPLY) == F_LAST_SYN
    {
        // A SYN+ACK answering a SYN netfilter ignored: both ends are in
        // sync and the table is not; it resynchronises to SYN_RECV
        // (netfilter also compares the acknowledgement with the SYN's
        // sequence, which fw does not track).
        next = TcpState::SynRecv as u8;
    }
    if next == ct::TCP_IV {
        return pack(0, e_flags, STEP_INVALID);
    }
    // netfilter's last_index and last_dir, kept for ignored packets too.
    e_flags &= !(F_LAST_RST | F_LAST_SYN | F_LAST_REPLY);
    e_flags |= reply_bit
        | match index {
            0 => F_LAST_SYN,
            4 => F_LAST_RST,
            _ => 0,
        };
    if next == ct::TCP_IG {
        return pack(old as u8, e_flags, STEP_IGNORE);
    }
    if u32::from(next) != old && next == TcpState::FinWait as u8 {
        e_flags |= F_CLOSE_INIT;
    }
    if e_flags & F_SEEN_REPLY != 0
        && (old == TcpState::SynRecv as u32 || old == TcpState::Established as u32)
        && next == TcpState::Established as u8
    {
        e_flags |= F_ASSURED;
    }
    if !orig {
        e_flags |= F_SEEN_REPLY;
    }
    pack(next, e_flags, STEP_MOVE)
}

/// `ct::TCP_TRANSITIONS[dir][index][old]`, out of line and bounded so
/// that the verifier sees the load stay inside the table; an index out of
/// range (a corrupt entry) is INVALID.
#[inline(never)]
fn transition(dir: u32, index: u32, old: u32) -> u8 {
    if dir > 1 || index > 5 || old > TcpState::SynSent2 as u32 {
        return ct::TCP_IV;
    }
    ct::TCP_TRANSITIONS[dir as usize][index as usize][old as usize]
}

/// `Timeouts::tcp` of state number `s`, out of line: inlined, LLVM turns
/// the match into a load at an offset computed from the state, bounded
/// only by what it knows of the enum, which the verifier cannot see.
#[inline(never)]
fn tcp_timeout(t: &Timeouts, s: u8) -> u32 {
    if s > TcpState::SynSent2 as u8 {
        return t.tcp_close;
    }
    t.tcp(TcpState::from_u8(s))
}
