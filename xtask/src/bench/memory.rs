//! Kernel memory a ruleset holds, measured for each firewall where the
//! kernel tells (see "Memory" in docs/benchmarks.md):
//!
//! * fw: the `memlock` the kernel charges for its programs and maps
//!   ([`super::bpf::memory_of`]), exact;
//! * iptables-legacy: the size of the filter table's rule blob
//!   (`IPT_SO_GET_INFO`) plus its per-CPU counters (16 bytes per entry and
//!   CPU), exact;
//! * nftables (iptables-nft and nft): rules and set elements are allocated
//!   with `GFP_KERNEL_ACCOUNT`, i.e. from the `kmalloc-cg-*` slab caches:
//!   the growth of those caches (`/proc/slabinfo`) plus that of per-CPU
//!   and vmalloc memory (`/proc/meminfo`) while the ruleset loads. The
//!   host's other activity is in that figure too: it is approximate.

use std::{fs, time::Duration};

use anyhow::{Context as _, bail};

/// A snapshot of the memory counters [`delta`] compares, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    /// Σ active objects × object size over the `kmalloc-cg-*` caches.
    cg_slab: i64,
    /// `Percpu` of /proc/meminfo.
    percpu: i64,
    /// `VmallocUsed` of /proc/meminfo.
    vmalloc: i64,
}

impl Snapshot {
    fn total(&self) -> i64 {
        self.cg_slab + self.percpu + self.vmalloc
    }
}

/// Reads the counters now.
///
/// # Errors
/// When /proc/slabinfo (root only) or /proc/meminfo cannot be read.
pub fn snapshot() -> anyhow::Result<Snapshot> {
    let slab = fs::read_to_string("/proc/slabinfo").context("read /proc/slabinfo")?;
    let mut cg_slab = 0i64;
    for l in slab.lines().skip(2) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 3 && f[0].starts_with("kmalloc-cg-") {
            let active: i64 = f[1].parse().unwrap_or(0);
            let size: i64 = f[3].parse().unwrap_or(0);
            cg_slab += active * size;
        }
    }
    let mem = fs::read_to_string("/proc/meminfo").context("read /proc/meminfo")?;
    let kb = |key: &str| -> i64 {
        mem.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Ok(Snapshot {
        cg_slab,
        percpu: kb("Percpu:"),
        vmalloc: kb("VmallocUsed:"),
    })
}

/// Growth from `before` to now, in bytes (negative when the host freed
/// more than the ruleset took).
///
/// # Errors
/// As [`snapshot`].
pub fn delta(before: &Snapshot) -> anyhow::Result<i64> {
    Ok(snapshot()?.total() - before.total())
}

/// Waits (at most `max`) until the counters move less than 128 KiB in
/// 250 ms: namespaces deleted just before are freed by kernel workers a
/// little later, and that must not count for the next ruleset. Returns
/// the last snapshot.
///
/// # Errors
/// As [`snapshot`], or on Ctrl-C.
pub fn settle(max: Duration) -> anyhow::Result<Snapshot> {
    let mut last = snapshot()?;
    for _ in 0..(max.as_millis() / 250).max(1) {
        super::runner::sleep(Duration::from_millis(250))?;
        let now = snapshot()?;
        let moved = (now.total() - last.total()).abs();
        last = now;
        if moved < 128 * 1024 {
            break;
        }
    }
    Ok(last)
}

/// `struct ipt_getinfo` (`<linux/netfilter_ipv4/ip_tables.h>`).
#[repr(C)]
struct IptGetinfo {
    name: [u8; 32],
    valid_hooks: u32,
    hook_entry: [u32; 5],
    underflow: [u32; 5],
    num_entries: u32,
    size: u32,
}

/// `IPT_SO_GET_INFO` (`IPT_BASE_CTL`).
const IPT_SO_GET_INFO: libc::c_int = 64;

/// Bytes iptables-legacy's filter table holds in the calling thread's
/// namespace: the rule blob plus 16 bytes of per-CPU counters per entry
/// (chain policies and the end marker are entries too) and possible CPU.
///
/// # Errors
/// When the table cannot be queried (not loaded, or not root).
pub fn iptables_legacy(cpus: usize) -> anyhow::Result<u64> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("raw socket");
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let mut info = IptGetinfo {
        name: [0; 32],
        valid_hooks: 0,
        hook_entry: [0; 5],
        underflow: [0; 5],
        num_entries: 0,
        size: 0,
    };
    info.name[..6].copy_from_slice(b"filter");
    let mut len = std::mem::size_of::<IptGetinfo>() as libc::socklen_t;
    // SAFETY: info and len are live locals of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            libc::IPPROTO_IP,
            IPT_SO_GET_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("getsockopt(IPT_SO_GET_INFO)");
    }
    if info.num_entries == 0 {
        bail!("the legacy filter table has no entries");
    }
    Ok(u64::from(info.size) + 16 * u64::from(info.num_entries) * cpus as u64)
}
