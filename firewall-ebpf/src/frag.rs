//! Fragments under a table that tracks connections
//! (`firewall_common::ChainInfo::defrag`): netfilter reassembles first
//! (`nf_defrag_ipv4`, `nf_defrag_ipv6`), so its rules judge a datagram
//! once; fw judges the first fragment (which carries the ports) and gives
//! the later ones its verdict (`FRAG_VERDICTS`). A later fragment whose
//! first fragment fw has not judged (reordered, or past the timeout)
//! passes uncounted: the stack reassembles no datagram without its first
//! fragment, so what fw does to that one decides the datagram, as
//! netfilter's verdict on the whole does.

use aya_ebpf::{helpers::bpf_ktime_get_ns, macros::map, maps::LruHashMap};
use firewall_common::frag::{self, ACCEPT, DROP, Key, Verdict};

use crate::{classify, parse::Packet};

#[map]
static FRAG_VERDICTS: LruHashMap<Key, Verdict> = LruHashMap::with_max_entries(frag::MAX, 0);

/// [`fw_frag_later`]: the packet is no later fragment of a reassembled
/// datagram; the rules judge it.
pub const WALK: u32 = 0;

#[inline(always)]
fn key(p: &Packet) -> Key {
    Key {
        src: p.src6,
        dst: p.dst6,
        id: p.frag_id,
        proto: if p.v6 { 0 } else { p.proto },
        v6: u8::from(p.v6),
        _pad: [0; 2],
    }
}

/// For a later fragment of a datagram netfilter would reassemble before
/// built-in chain `root`: [`DROP`] or [`ACCEPT`], its first fragment's
/// verdict (uncached: [`ACCEPT`]); else [`WALK`]. Global: the verifier
/// checks it once.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_frag_later(p: *const Packet, root: u32) -> u32 {
    // SAFETY: the hook's parsed packet, or null.
    let Some(p) = (unsafe { p.as_ref() }) else {
        return WALK;
    };
    if !p.later_fragment || !classify::defrag(root) {
        return WALK;
    }
    // SAFETY: a map value, read at once.
    let Some(v) = (unsafe { FRAG_VERDICTS.get(&key(p)) }).copied() else {
        return ACCEPT;
    };
    // SAFETY: a plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    let timeout = if p.v6 {
        frag::TIMEOUT6_NS
    } else {
        frag::TIMEOUT4_NS
    };
    if now.wrapping_sub(v.at) >= timeout {
        return ACCEPT;
    }
    if v.drop == DROP { DROP } else { ACCEPT }
}

/// Notes the verdict (`DROP` or `ACCEPT`) of a first fragment of a
/// datagram netfilter would reassemble before `root`, for its later
/// fragments; returns 1 when it did (a global function returns a
/// scalar).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn fw_frag_first(p: *const Packet, root: u32, verdict: u32) -> u32 {
    // SAFETY: as in `fw_frag_later`.
    let Some(p) = (unsafe { p.as_ref() }) else {
        return 0;
    };
    if !p.first_fragment || !classify::defrag(root) {
        return 0;
    }
    let v = Verdict {
        // SAFETY: a plain helper call.
        at: unsafe { bpf_ktime_get_ns() },
        drop: verdict,
        _pad: 0,
    };
    u32::from(FRAG_VERDICTS.insert(&key(p), &v, 0).is_ok())
}
