//! `-j LOG`: once a walk is over, one [`Event`] per LOG rule it took goes
//! to `fw monitor` through the `LOG_EVENTS` ring buffer, within a per-CPU
//! token bucket so that a flood cannot keep the host busy logging.

use aya_ebpf::{
    bindings::{__sk_buff, xdp_md},
    cty::c_void,
    helpers::{bpf_ktime_get_ns, bpf_skb_load_bytes, bpf_xdp_get_buff_len, bpf_xdp_load_bytes},
    macros::map,
    maps::{Array, PerCpuArray, RingBuf},
};
use firewall_common::{
    BANKS, CHAIN_OUTPUT,
    log::{self, Bucket, Config, Event, Stat},
};

use crate::{classify, span};

#[map]
static LOG_EVENTS: RingBuf = RingBuf::with_byte_size(log::RING_BYTES, 0);
#[map]
static LOG_CONFIGS: Array<Config> = Array::with_max_entries(BANKS * log::MAX_CONFIGS, 0);
#[map]
static LOG_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(log::STATS, 0);
#[map]
static LOG_BUCKET: PerCpuArray<Bucket> = PerCpuArray::with_max_entries(1, 0);

/// Nanoseconds of credit one event costs.
const COST: u64 = 1_000_000_000 / log::RATE;

/// Counts `s` on this CPU.
#[inline(always)]
pub fn stat(s: Stat) {
    if let Some(c) = LOG_STATS.get_ptr_mut(s.index()) {
        // SAFETY: this CPU's slot; no other writer while the program runs.
        unsafe { *c += 1 };
    }
}

/// Takes one event's credit from this CPU's bucket.
#[inline(always)]
fn allowed() -> bool {
    let Some(b) = LOG_BUCKET.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's slot; no other writer while the program runs.
    let b = unsafe { &mut *b };
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    let max = log::BURST * COST;
    let credit = b.credit.saturating_add(now.saturating_sub(b.last));
    b.last = now;
    let credit = if credit > max { max } else { credit };
    if credit < COST {
        b.credit = credit;
        return false;
    }
    b.credit = credit - COST;
    true
}

/// Where the frame comes from: XDP (after Ethernet), or TC with the
/// link-layer header's length (14, or 0 on a device without one).
enum Frame {
    Xdp(*mut xdp_md),
    Tc(*mut __sk_buff, u32),
}

/// `Event::mac_len` of an Ethernet frame.
const ETH_HLEN: u32 = 14;

/// Sends the events of the walk on `slot`.
#[inline(always)]
fn emit(frame: Frame, slot: u32, hook: u32, in_ifindex: u32, out_ifindex: u32) {
    for i in 0..log::MAX_PER_PACKET {
        let Some(cs) = classify::pending_log(slot, i) else {
            return;
        };
        let Some(config) = LOG_CONFIGS.get(cs) else {
            return;
        };
        if !allowed() {
            stat(Stat::RateLimited);
            continue;
        }
        let Some(mut entry) = LOG_EVENTS.reserve::<Event>(0) else {
            stat(Stat::RingFull);
            continue;
        };
        let e = entry.as_mut_ptr();
        // SAFETY: `e` is the reserved record, ours until submitted; every
        // field but `data` is written before submission, and `data` is
        // zeroed past `caplen` by the load or left as the ring held it
        // (the reader looks at `caplen` bytes only).
        let len = unsafe {
            (*e).config = *config;
            (*e).hook = hook;
            (*e).in_ifindex = in_ifindex;
            (*e).out_ifindex = out_ifindex;
            let len = match frame {
                Frame::Xdp(x) => {
                    (*e).mac_len = ETH_HLEN;
                    bpf_xdp_get_buff_len(x) as u32
                }
                Frame::Tc(s, mac_len) => {
                    (*e).mac_len = mac_len;
                    (*s).len
                }
            };
            (*e).len = len;
            len
        };
        let cap = if len > log::CAPTURE as u32 {
            log::CAPTURE as u32
        } else {
            len
        };
        let mut caplen = 0;
        if let Some(cap) = span::nonzero(cap, log::CAPTURE as u32) {
            // SAFETY: `data` has CAPTURE bytes; the helpers check the frame.
            let r = unsafe {
                let to = (&raw mut (*e).data).cast::<c_void>();
                match frame {
                    Frame::Xdp(x) => bpf_xdp_load_bytes(x, 0, to, cap),
                    Frame::Tc(s, _) => bpf_skb_load_bytes(s as *const c_void, 0, to, cap),
                }
            };
            if r == 0 {
                caplen = cap;
            }
        }
        // SAFETY: as above.
        unsafe { (*e).caplen = caplen };
        entry.submit(0);
        stat(Stat::Sent);
    }
}

/// The XDP program's events (INPUT or FORWARD `hook`).
#[inline(never)]
pub fn xdp(ctx: *mut xdp_md, hook: u32, in_ifindex: u32, out_ifindex: u32) {
    emit(
        Frame::Xdp(ctx),
        classify::SLOT_XDP,
        hook,
        in_ifindex,
        out_ifindex,
    );
}

/// The TC egress programs' events (OUTPUT); `mac_len` as [`Frame::Tc`].
#[inline(never)]
pub fn tc(skb: *mut __sk_buff, out_ifindex: u32, mac_len: u32) {
    emit(
        Frame::Tc(skb, mac_len),
        classify::SLOT_TC,
        CHAIN_OUTPUT,
        0,
        out_ifindex,
    );
}

/// The events of the TC ingress program of devices without a link-layer
/// header (INPUT or FORWARD `hook`), on the ingress slot as XDP's.
#[inline(never)]
pub fn tc_in_l3(skb: *mut __sk_buff, hook: u32, in_ifindex: u32, out_ifindex: u32) {
    emit(
        Frame::Tc(skb, 0),
        classify::SLOT_XDP,
        hook,
        in_ifindex,
        out_ifindex,
    );
}
