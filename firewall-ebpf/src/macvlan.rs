//! Frames for a macvlan upper pass its lower device's XDP untouched
//! ([`firewall_common::macvlan`]): netfilter sees them once, on the upper.

use aya_ebpf::{macros::map, maps::HashMap, programs::XdpContext};
use firewall_common::macvlan::{ANY, Key, MAX};

/// (lower ifindex, destination MAC) of the uppers fw is attached to,
/// written by fw at every attach.
#[map]
static MACVLANS: HashMap<Key, u32> = HashMap::with_max_entries(MAX, 0);

/// Whether the kernel will hand this frame, arriving on `ifindex`, to a
/// macvlan upper: a unicast destination (the I/G bit of its first byte
/// clear) that is an upper's address, or any unicast destination under a
/// passthru upper.
#[inline(always)]
pub fn for_upper(ctx: &XdpContext, ifindex: u32) -> bool {
    let (start, end) = (ctx.data(), ctx.data_end());
    if start + 6 > end {
        return false;
    }
    // SAFETY: the 6 bytes were checked against data_end just above.
    let mac = unsafe { core::ptr::read_unaligned(start as *const [u8; 6]) };
    if mac[0] & 1 != 0 {
        // Broadcast and multicast: the lower's stack gets them (and the
        // uppers copies), so the lower classifies them.
        return false;
    }
    let mut key = Key {
        ifindex,
        mac,
        pad: [0; 2],
    };
    // SAFETY: a lookup in a hash map; the value is not kept.
    if unsafe { MACVLANS.get(&key) }.is_some() {
        return true;
    }
    key.mac = ANY;
    // SAFETY: as above.
    unsafe { MACVLANS.get(&key) }.is_some()
}
