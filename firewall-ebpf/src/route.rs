//! Which filter chain an incoming packet belongs to: INPUT when the kernel
//! will deliver it locally, FORWARD when it will route it on (iptables(8),
//! "TABLES"; the kernel's routing decision, asked with `bpf_fib_lookup`).

use aya_ebpf::{
    bindings::{
        BPF_FIB_LKUP_RET_FRAG_NEEDED, BPF_FIB_LKUP_RET_NO_NEIGH, BPF_FIB_LKUP_RET_SUCCESS,
        bpf_fib_lookup as FibParams,
    },
    cty::c_void,
    helpers::bpf_fib_lookup,
};

use crate::parse::Packet;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `BPF_FIB_LOOKUP_SKIP_NEIGH` (Linux 6.3): the route is enough, the
/// next hop's MAC address need not be resolved.
const SKIP_NEIGH: u32 = 1 << 2;

/// The chain of an incoming packet.
pub enum Hook {
    /// Delivered locally: INPUT.
    Input,
    /// Routed on through interface `out_ifindex`: FORWARD.
    Forward { out_ifindex: u32 },
}

/// Asks the kernel's FIB where `p`, arriving on `p.in_ifindex`, goes;
/// `ctx` is the program's context (an `xdp_md` or a `__sk_buff`).
///
/// Local, broadcast and multicast destinations, and every packet on an
/// interface with forwarding disabled (the lookup then refuses before
/// routing), are INPUT: with forwarding off the kernel drops packets for
/// other hosts itself, so only their counting differs from netfilter.
/// Unroutable packets are INPUT as well; the kernel answers them with an
/// ICMP error or drops them after fw.
/// Out of line: its 64-byte `bpf_fib_lookup` stays off the frame of the
/// program, whose calls into the classifier need the stack.
#[inline(never)]
pub fn ingress(ctx: *mut c_void, p: &Packet) -> Hook {
    // SAFETY: bpf_fib_lookup is plain data; all-zero is a valid start.
    let mut params: FibParams = unsafe { core::mem::zeroed() };
    params.l4_protocol = p.proto;
    params.sport = p.sport.to_be();
    params.dport = p.dport.to_be();
    params.__bindgen_anon_1.tot_len = p.len;
    params.ifindex = p.in_ifindex;
    if p.v6 {
        // Multicast (neighbour discovery's solicited-node addresses,
        // ff02::1) and local addresses are not forwarded: INPUT.
        params.family = AF_INET6;
        params.__bindgen_anon_3.ipv6_src = words(&p.src6);
        params.__bindgen_anon_4.ipv6_dst = words(&p.dst6);
    } else {
        params.family = AF_INET;
        params.__bindgen_anon_3.ipv4_src = p.src;
        params.__bindgen_anon_4.ipv4_dst = p.dst;
    }
    // SAFETY: params is a valid bpf_fib_lookup of the size passed.
    let rc = unsafe {
        bpf_fib_lookup(
            ctx,
            &mut params,
            core::mem::size_of::<FibParams>() as i32,
            SKIP_NEIGH,
        )
    } as u32;
    match rc {
        BPF_FIB_LKUP_RET_SUCCESS | BPF_FIB_LKUP_RET_NO_NEIGH | BPF_FIB_LKUP_RET_FRAG_NEEDED => {
            Hook::Forward {
                out_ifindex: params.ifindex,
            }
        }
        _ => Hook::Input,
    }
}

/// An IPv6 address as `bpf_fib_lookup`'s four network-order words.
#[inline(always)]
fn words(a: &[u8; 16]) -> [u32; 4] {
    let w = |i: usize| u32::from_ne_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}
