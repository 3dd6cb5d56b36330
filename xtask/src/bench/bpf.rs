//! The few bpf(2) commands the benchmark needs, called directly: two
//! hand-assembled XDP programs (an empty one for `BPF_PROG_TEST_RUN`, a
//! counting drop-all one for the packet path), `BPF_PROG_TEST_RUN` itself,
//! XDP links, per-CPU counters, and the memory the kernel charges for fw's
//! programs and maps. Attribute layouts are `union bpf_attr` of
//! `<linux/bpf.h>`; the kernel zero-extends a shorter one.

use std::{
    ffi::CString,
    fs,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    path::Path,
};

use anyhow::{Context as _, bail};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_MAP_GET_FD_BY_ID: libc::c_long = 14;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_LINK_CREATE: libc::c_long = 28;

const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `attach_type` of an XDP link.
const BPF_XDP: u32 = 37;
/// `XDP_FLAGS_DRV_MODE` (`<linux/if_link.h>`): native XDP, as fw uses on veth.
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// XDP verdicts (`enum xdp_action`).
pub const XDP_DROP: i32 = 1;
/// See [`XDP_DROP`].
pub const XDP_PASS: i32 = 2;

/// A zeroed `union bpf_attr` prefix.
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Self {
        Self([0; 128])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn get_u32(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.0[off..off + 4].try_into().expect("4 bytes"))
    }
    /// bpf(2); returns its non-negative result.
    fn call(&mut self, cmd: libc::c_long, what: &str) -> anyhow::Result<i64> {
        // SAFETY: a valid, zero-padded bpf_attr of the size given; every
        // pointer in it points at memory that outlives the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                self.0.as_mut_ptr(),
                self.0.len() as libc::c_uint,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| format!("bpf({what})"));
        }
        Ok(rc)
    }
    /// bpf(2) for a command that returns a new file descriptor.
    fn call_fd(&mut self, cmd: libc::c_long, what: &str) -> anyhow::Result<OwnedFd> {
        let fd = self.call(cmd, what)?;
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// One eBPF instruction (`struct bpf_insn`) as the kernel reads it.
const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    code as u64
        | ((dst | (src << 4)) as u64) << 8
        | (off as u16 as u64) << 16
        | (imm as u32 as u64) << 32
}

/// Loads an XDP program from raw instructions.
fn load_xdp(insns: &[u64], name: &str) -> anyhow::Result<OwnedFd> {
    let license = CString::new("GPL").expect("no NUL");
    let mut prog_name = [0u8; 16];
    prog_name[..name.len()].copy_from_slice(name.as_bytes());
    let mut a = Attr::new();
    a.u32(0, BPF_PROG_TYPE_XDP)
        .u32(4, insns.len() as u32)
        .u64(8, insns.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64);
    a.0[48..64].copy_from_slice(&prog_name);
    a.call_fd(BPF_PROG_LOAD, &format!("BPF_PROG_LOAD {name}"))
}

/// `r0 = XDP_PASS; exit`: the cost of running any XDP program at all.
///
/// # Errors
/// When the kernel refuses it (no CAP_BPF).
pub fn empty_xdp() -> anyhow::Result<OwnedFd> {
    load_xdp(
        &[
            insn(0xb7, 0, 0, 0, XDP_PASS), // r0 = XDP_PASS
            insn(0x95, 0, 0, 0, 0),        // exit
        ],
        "bench_empty",
    )
}

/// Number of possible CPUs: the size of a per-CPU map value, in values.
///
/// # Errors
/// When `/sys/devices/system/cpu/possible` cannot be read.
pub fn possible_cpus() -> anyhow::Result<usize> {
    let s = fs::read_to_string("/sys/devices/system/cpu/possible")
        .context("read /sys/devices/system/cpu/possible")?;
    let mut n = 0;
    for part in s.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>()? - a.parse::<usize>()? + 1,
            None => 1,
        };
    }
    Ok(n)
}

/// A drop-all XDP program that counts what it drops in a one-entry
/// per-CPU array: the least any XDP firewall does per packet.
pub struct CountingDrop {
    prog: OwnedFd,
    map: OwnedFd,
}

impl CountingDrop {
    /// Creates the map and loads the program.
    ///
    /// # Errors
    /// When the kernel refuses either.
    pub fn new() -> anyhow::Result<Self> {
        let mut a = Attr::new();
        // map_type, key_size, value_size, max_entries
        a.u32(0, BPF_MAP_TYPE_PERCPU_ARRAY)
            .u32(4, 4)
            .u32(8, 8)
            .u32(12, 1);
        let map = a.call_fd(BPF_MAP_CREATE, "BPF_MAP_CREATE")?;
        let fd = map.as_raw_fd();
        let prog = load_xdp(
            &[
                insn(0x62, 10, 0, -4, 0),      // *(u32 *)(r10 - 4) = 0: the key
                insn(0xbf, 2, 10, 0, 0),       // r2 = r10
                insn(0x07, 2, 0, 0, -4),       // r2 += -4
                insn(0x18, 1, 1, 0, fd),       // r1 = the map (BPF_PSEUDO_MAP_FD)
                insn(0, 0, 0, 0, 0),           //   (second half of the 64-bit load)
                insn(0x85, 0, 0, 0, 1),        // call bpf_map_lookup_elem
                insn(0x15, 0, 0, 3, 0),        // if r0 == 0 goto +3
                insn(0x79, 1, 0, 0, 0),        // r1 = *(u64 *)(r0 + 0)
                insn(0x07, 1, 0, 0, 1),        // r1 += 1
                insn(0x7b, 0, 1, 0, 0),        // *(u64 *)(r0 + 0) = r1
                insn(0xb7, 0, 0, 0, XDP_DROP), // r0 = XDP_DROP
                insn(0x95, 0, 0, 0, 0),        // exit
            ],
            "bench_drop",
        )?;
        Ok(Self { prog, map })
    }

    /// A new descriptor of the program, for [`attach_xdp`] in another
    /// thread.
    ///
    /// # Errors
    /// When dup(2) fails.
    pub fn prog(&self) -> anyhow::Result<OwnedFd> {
        Ok(self.prog.try_clone()?)
    }

    /// Packets dropped so far, summed over CPUs.
    ///
    /// # Errors
    /// When the map cannot be read.
    pub fn dropped(&self) -> anyhow::Result<u64> {
        let key = 0u32;
        let mut values = vec![0u64; possible_cpus()?];
        let mut a = Attr::new();
        // map_fd, key, value
        a.u32(0, self.map.as_raw_fd() as u32)
            .u64(8, &raw const key as u64)
            .u64(16, values.as_mut_ptr() as u64);
        a.call(BPF_MAP_LOOKUP_ELEM, "BPF_MAP_LOOKUP_ELEM")?;
        Ok(values.iter().sum())
    }
}

/// Attaches XDP program `prog` in native mode to interface `ifindex` of
/// the calling thread's network namespace; it stays attached while the
/// returned link lives.
///
/// # Errors
/// When the link cannot be created.
pub fn attach_xdp(prog: &OwnedFd, ifindex: u32) -> anyhow::Result<OwnedFd> {
    let mut a = Attr::new();
    // prog_fd, target_ifindex, attach_type, flags
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(4, ifindex)
        .u32(8, BPF_XDP)
        .u32(12, XDP_FLAGS_DRV_MODE);
    a.call_fd(BPF_LINK_CREATE, "BPF_LINK_CREATE xdp")
}

/// Opens the program or map pinned at `path`.
///
/// # Errors
/// When the pin does not exist or is not a BPF object.
pub fn obj_get(path: &Path) -> anyhow::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())?;
    let mut a = Attr::new();
    a.u64(0, c.as_ptr() as u64);
    a.call_fd(BPF_OBJ_GET, &format!("BPF_OBJ_GET {}", path.display()))
}

/// One `BPF_PROG_TEST_RUN` result.
#[derive(Clone, Copy, Debug)]
pub struct TestRun {
    /// The program's return value (an XDP verdict).
    pub retval: i32,
    /// Mean time per run measured by the kernel, in nanoseconds (the
    /// kernel's integer division: 1 ns resolution).
    pub ns: u32,
}

/// Runs the XDP program `prog` `repeat` times on `frame` in the calling
/// thread's network namespace (its loopback is the input device).
///
/// # Errors
/// When the kernel refuses the run.
pub fn test_run(prog: &OwnedFd, frame: &[u8], repeat: u32) -> anyhow::Result<TestRun> {
    let mut a = Attr::new();
    // prog_fd, data_size_in, data_in, repeat
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(8, frame.len() as u32)
        .u64(16, frame.as_ptr() as u64)
        .u32(32, repeat);
    a.call(BPF_PROG_TEST_RUN, "BPF_PROG_TEST_RUN")?;
    Ok(TestRun {
        retval: a.get_u32(4) as i32,
        ns: a.get_u32(36),
    })
}

/// The `memlock:` line of a BPF object's fdinfo: what the kernel charges
/// for it, in bytes (maps: `map_mem_usage`; programs: their pages).
fn memlock(fd: &OwnedFd) -> anyhow::Result<u64> {
    let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
    let info = fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    info.lines()
        .find_map(|l| l.strip_prefix("memlock:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no memlock in {path}"))
}

/// The name (`struct bpf_map_info.name`) of map `fd`.
fn map_name(fd: &OwnedFd) -> anyhow::Result<String> {
    let mut info = [0u8; 128];
    let mut a = Attr::new();
    a.u32(0, fd.as_raw_fd() as u32)
        .u32(4, info.len() as u32)
        .u64(8, info.as_mut_ptr() as u64);
    a.call(BPF_OBJ_GET_INFO_BY_FD, "BPF_OBJ_GET_INFO_BY_FD map")?;
    // type, id, key_size, value_size, max_entries, map_flags, then name[16].
    let name = &info[24..40];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// The ids of the maps program `fd` uses (`struct bpf_prog_info`).
fn prog_map_ids(fd: &OwnedFd) -> anyhow::Result<Vec<u32>> {
    let get = |ids: &mut [u32]| -> anyhow::Result<u32> {
        let mut info = [0u8; 256];
        // nr_map_ids at 52, map_ids at 56.
        info[52..56].copy_from_slice(&(ids.len() as u32).to_ne_bytes());
        info[56..64].copy_from_slice(&(ids.as_mut_ptr() as u64).to_ne_bytes());
        let mut a = Attr::new();
        a.u32(0, fd.as_raw_fd() as u32)
            .u32(4, info.len() as u32)
            .u64(8, info.as_mut_ptr() as u64);
        a.call(BPF_OBJ_GET_INFO_BY_FD, "BPF_OBJ_GET_INFO_BY_FD prog")?;
        Ok(u32::from_ne_bytes(
            info[52..56].try_into().expect("4 bytes"),
        ))
    };
    let n = get(&mut [])?;
    let mut ids = vec![0u32; n as usize];
    let m = get(&mut ids)?;
    if m != n {
        bail!("the program's map count changed from {n} to {m}");
    }
    Ok(ids)
}

/// Kernel memory (`memlock`, bytes) of the programs pinned at `progs` and
/// of every map they use, each map once: (name, bytes) per object,
/// programs first.
///
/// # Errors
/// When a pin, a map or its fdinfo cannot be read.
pub fn memory_of(progs: &[&Path]) -> anyhow::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for p in progs {
        let fd = obj_get(p)?;
        let name = p
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        out.push((name, memlock(&fd)?));
        for id in prog_map_ids(&fd)? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    for id in ids {
        let mut a = Attr::new();
        a.u32(0, id);
        let fd = a.call_fd(BPF_MAP_GET_FD_BY_ID, "BPF_MAP_GET_FD_BY_ID")?;
        out.push((map_name(&fd)?, memlock(&fd)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        // r0 = 2: opcode 0xb7, registers 0, offset 0, immediate 2.
        assert_eq!(
            insn(0xb7, 0, 0, 0, 2).to_le_bytes(),
            [0xb7, 0, 0, 0, 2, 0, 0, 0]
        );
        // *(u32 *)(r10 - 4) = 0: dst r10 in the low nibble, offset -4.
        assert_eq!(
            insn(0x62, 10, 0, -4, 0).to_le_bytes(),
            [0x62, 0x0a, 0xfc, 0xff, 0, 0, 0, 0]
        );
        // r2 = r10: src in the high nibble.
        assert_eq!(insn(0xbf, 2, 10, 0, 0).to_le_bytes()[1], 0xa2);
    }
}
