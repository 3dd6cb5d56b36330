//! What the running kernel offers fw's programs, asked of the kernel
//! itself rather than read from its version: distributions backport
//! features, and a version says nothing of a kernel built without them.
//!
//! fw needs the BPF helpers in [`HELPERS`] (the newest, bpf_ktime_get_tai_ns,
//! is Linux 6.1's) and, for TC, either TCX (6.6) or cls_bpf on a clsact
//! qdisc (`attach::tc_mechanism`, the fallback before 6.6).

use std::io;

/// A BPF helper fw's programs call (`enum bpf_func_id`,
/// include/uapi/linux/bpf.h), with the first mainline kernel that has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Helper {
    /// Its id.
    pub id: u32,
    /// Its name, as the verifier names it.
    pub name: &'static str,
    /// The first Linux version with it.
    pub since: &'static str,
}

/// The helpers fw's programs call that are newer than Linux 5.5 (older
/// ones come with every kernel these have). The unit test
/// `every_newer_helper_the_object_calls_is_probed` keeps this list in
/// step with the embedded object.
pub const HELPERS: [Helper; 9] = [
    Helper {
        id: 113,
        name: "bpf_probe_read_kernel",
        since: "5.5",
    },
    Helper {
        id: 131,
        name: "bpf_ringbuf_reserve",
        since: "5.8",
    },
    Helper {
        id: 132,
        name: "bpf_ringbuf_submit",
        since: "5.8",
    },
    Helper {
        id: 164,
        name: "bpf_for_each_map_elem",
        since: "5.13",
    },
    Helper {
        id: 181,
        name: "bpf_loop",
        since: "5.17",
    },
    Helper {
        id: 188,
        name: "bpf_xdp_get_buff_len",
        since: "5.18",
    },
    Helper {
        id: 189,
        name: "bpf_xdp_load_bytes",
        since: "5.18",
    },
    Helper {
        id: 190,
        name: "bpf_xdp_store_bytes",
        since: "5.18",
    },
    Helper {
        id: 208,
        name: "bpf_ktime_get_tai_ns",
        since: "6.1",
    },
];

/// The oldest helper id [`HELPERS`] must list when fw's programs call it.
pub const NEWER_THAN: u32 = 112;

/// `BPF_PROG_LOAD`, `BPF_PROG_TYPE_XDP`.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_XDP: u64 = 6;

/// The first helper of [`HELPERS`] this kernel lacks, if any.
///
/// Each is probed as bpftool's `feature probe` does: an XDP program that
/// only calls it. The verifier looks the helper up before it checks the
/// arguments, so a kernel without it says `unknown func` (or `invalid
/// func` for an id past its last, `program of this type cannot use
/// helper` for one it has but not for XDP), one with it refuses the
/// arguments or loads the program.
///
/// # Errors
/// When the kernel refuses every program (no privilege, no eBPF): what
/// loading fw then fails with says more.
pub fn missing_helper() -> io::Result<Option<Helper>> {
    for h in HELPERS.into_iter().chain(extra_helper()) {
        if !has_helper(h.id)? {
            return Ok(Some(h));
        }
    }
    Ok(None)
}

/// `bpf_xdp_adjust_meta`'s id.
const XDP_ADJUST_META: u32 = 54;

/// Whether XDP programs may call `bpf_xdp_adjust_meta` here (Linux 4.15
/// has it, but a kernel may be built without it for XDP): how fw's XDP
/// marks the REJECT answers it hands to TC ingress on veth
/// (`firewall_common::iface::XDP_META_GLOBAL`). Probed once per process;
/// a probe the kernel refuses outright counts as yes (loading then fails
/// with the reason).
pub fn xdp_meta() -> bool {
    static PROBED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROBED.get_or_init(|| has_helper(XDP_ADJUST_META).unwrap_or(true))
}

/// Set `FW_PROBE_HELPER=ID` to have fw probe helper ID too (named
/// `#ID (FW_PROBE_HELPER)`, of a made-up "Linux 99") when it loads its
/// programs, i.e. in a namespace where fw is not loaded yet: how the
/// tests see the refusal of a kernel that lacks one, on a kernel that
/// has them all.
pub const PROBE_HELPER_ENV: &str = "FW_PROBE_HELPER";

fn extra_helper() -> Option<Helper> {
    let id: u32 = std::env::var(PROBE_HELPER_ENV).ok()?.parse().ok()?;
    Some(Helper {
        id,
        name: Box::leak(format!("#{id} ({PROBE_HELPER_ENV})").into_boxed_str()),
        since: "99",
    })
}

/// Whether the kernel knows helper `id` in XDP programs.
fn has_helper(id: u32) -> io::Result<bool> {
    // call id; r0 = 0; exit
    let insns: [u64; 3] = [0x85 | (u64::from(id) << 32), 0xb7, 0x95];
    let license = c"GPL";
    let mut log = vec![0u8; 4096];
    // bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt; insns; license;
    // log_level, log_size; log_buf.
    let head = [
        BPF_PROG_TYPE_XDP | ((insns.len() as u64) << 32),
        insns.as_ptr() as u64,
        license.as_ptr() as u64,
        1 | ((log.len() as u64) << 32),
        log.as_mut_ptr() as u64,
    ];
    match super::bpf(BPF_PROG_LOAD, &head) {
        Ok(fd) => {
            // SAFETY: a program fd the kernel just returned, ours alone.
            unsafe { libc::close(fd as i32) };
            Ok(true)
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => Err(e),
        Err(_) => {
            let text = String::from_utf8_lossy(&log);
            Ok(!(text.contains("unknown func")
                || text.contains("invalid func")
                || text.contains("cannot use helper")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids of the helpers the embedded object calls: `call` (0x85)
    /// with src_reg 0 in its executable sections.
    fn helpers_called(elf: &[u8]) -> Vec<u32> {
        let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap());
        let (shoff, shentsize, shnum) = (u64_at(0x28) as usize, u16_at(0x3a), u16_at(0x3c));
        let mut ids = Vec::new();
        for i in 0..usize::from(shnum) {
            let sh = shoff + i * usize::from(shentsize);
            let (ty, flags) = (u32_at(sh + 4), u64_at(sh + 8));
            // SHT_PROGBITS with SHF_EXECINSTR.
            if ty != 1 || flags & 4 == 0 {
                continue;
            }
            let (off, size) = (u64_at(sh + 24) as usize, u64_at(sh + 32) as usize);
            // BPF_JMP|BPF_CALL with src_reg 0: a helper call, imm its id.
            for insn in elf[off..off + size].as_chunks::<8>().0 {
                if insn[0] == 0x85 && insn[1] >> 4 == 0 {
                    ids.push(u32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]));
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    #[test]
    fn every_newer_helper_the_object_calls_is_probed() {
        let called = helpers_called(super::super::EBPF_OBJECT);
        assert!(called.contains(&1), "bpf_map_lookup_elem: {called:?}");
        for id in called.iter().filter(|&&id| id > NEWER_THAN) {
            assert!(
                HELPERS.iter().any(|h| h.id == *id),
                "the programs call helper {id}, which probe::HELPERS does not list"
            );
        }
    }

    #[test]
    fn a_helper_past_the_last_is_missing() {
        // Unprivileged test runs cannot load programs at all.
        if let Ok(has) = has_helper(100_000) {
            assert!(!has);
            assert!(has_helper(1).unwrap(), "bpf_map_lookup_elem");
        }
    }

    #[test]
    fn this_kernel_has_every_helper() {
        // Unprivileged test runs cannot load programs at all.
        if let Ok(missing) = missing_helper() {
            assert_eq!(missing, None);
        }
    }
}
