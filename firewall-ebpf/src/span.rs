//! Lengths for the helpers that copy packet bytes (`bpf_xdp_load_bytes`,
//! `bpf_skb_load_bytes`, `bpf_skb_store_bytes`), in a form every verifier
//! fw runs on can bound.
//!
//! Those helpers refuse a length that may be zero (ARG_CONST_SIZE). A
//! guard `n > 0` compiles to `if n != 0`, from which Linux 6.1's verifier
//! learns nothing (6.12's learns `n >= 1`): it then refuses the program
//! ("R3 min value is outside of the allowed memory range"). An unsigned
//! `n - 1 < max` bounds `n - 1` to 0..max-1 on every kernel, and the
//! register that goes to the helper is that value plus one.

use core::arch::asm;

/// `Some(n)` when `1 <= n <= max`, else `None`; the returned value is the
/// one the verifier bounded (above), so pass it, not `n`, to the helper.
#[inline(always)]
pub fn nonzero(n: u32, max: u32) -> Option<u32> {
    let mut m = u64::from(n.wrapping_sub(1));
    // SAFETY: a register moved to itself. It hides from LLVM that `m` is
    // `n - 1`, so that LLVM cannot fold `m + 1` back into `n` (a register
    // the check below does not bound for the verifier). Not an empty
    // `asm!`: that gives two line_info records one offset, which the
    // kernel refuses.
    unsafe { asm!("{m} = {m}", m = inout(reg) m, options(nomem, nostack, preserves_flags)) };
    if m < u64::from(max) {
        Some(m as u32 + 1)
    } else {
        None
    }
}
