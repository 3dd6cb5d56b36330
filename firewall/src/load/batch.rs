//! Batched map operations (`BPF_MAP_*_BATCH`, Linux 5.6) for hash maps,
//! which aya does not wrap: one syscall writes, lists or deletes thousands
//! of entries, which makes swapping a large ruleset several times faster
//! than one syscall per entry.

use std::{
    io,
    mem::size_of,
    os::fd::{AsRawFd, BorrowedFd},
};

const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;
const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;

/// Entries per syscall: large enough that a hash bucket never overflows a
/// batch (the kernel answers ENOSPC then), small enough for the stack of
/// buffers.
const CHUNK: usize = 8192;

/// `bpf(2)` with the `batch` member of `union bpf_attr`.
fn batch(
    cmd: libc::c_long,
    fd: BorrowedFd<'_>,
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: &mut u32,
) -> io::Result<()> {
    // in_batch, out_batch, keys, values, count | map_fd << 32, elem_flags, flags.
    let mut attr = [0u64; 16];
    attr[0] = in_batch;
    attr[1] = out_batch;
    attr[2] = keys;
    attr[3] = values;
    attr[4] = u64::from(*count) | (fd.as_raw_fd() as u64) << 32;
    // SAFETY: attr is a zero-padded bpf_attr; the buffers it points at
    // hold `count` keys and values and outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            size_of::<[u64; 16]>(),
        )
    };
    // The kernel writes back how many elements it processed.
    *count = attr[4] as u32;
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Writes every `(key, value)` of `entries` into the hash map `fd`.
///
/// # Errors
/// The kernel's error for the first chunk that failed (ENOSPC/E2BIG when
/// the map is full); entries of earlier chunks stay written.
pub fn update<K: Copy, V: Copy>(fd: BorrowedFd<'_>, entries: &[(K, V)]) -> io::Result<()> {
    for chunk in entries.chunks(CHUNK) {
        let keys: Vec<K> = chunk.iter().map(|(k, _)| *k).collect();
        let values: Vec<V> = chunk.iter().map(|(_, v)| *v).collect();
        let mut count = chunk.len() as u32;
        batch(
            BPF_MAP_UPDATE_BATCH,
            fd,
            0,
            0,
            keys.as_ptr() as u64,
            values.as_ptr() as u64,
            &mut count,
        )?;
    }
    Ok(())
}

/// Every key of the hash map `fd`, whose values are `V`.
///
/// # Errors
/// The kernel's error, other than the ENOENT that ends the walk.
pub fn keys<K: Copy + Default, V: Copy + Default>(fd: BorrowedFd<'_>) -> io::Result<Vec<K>> {
    let mut out = Vec::new();
    let mut keys = vec![K::default(); CHUNK];
    let mut values = vec![V::default(); CHUNK];
    // The position token is a bucket index (u32) for hash maps.
    let (mut token, mut first) = (0u64, true);
    loop {
        let mut count = CHUNK as u32;
        let next = token;
        let r = batch(
            BPF_MAP_LOOKUP_BATCH,
            fd,
            if first { 0 } else { (&raw const next) as u64 },
            (&raw mut token) as u64,
            keys.as_mut_ptr() as u64,
            values.as_mut_ptr() as u64,
            &mut count,
        );
        first = false;
        out.extend_from_slice(&keys[..count as usize]);
        match r {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

/// Deletes `keys` from the hash map `fd`.
///
/// # Errors
/// The kernel's error (ENOENT when a key is missing).
pub fn delete<K: Copy>(fd: BorrowedFd<'_>, keys: &[K]) -> io::Result<()> {
    for chunk in keys.chunks(CHUNK) {
        let mut count = chunk.len() as u32;
        batch(
            BPF_MAP_DELETE_BATCH,
            fd,
            0,
            0,
            chunk.as_ptr() as u64,
            0,
            &mut count,
        )?;
    }
    Ok(())
}
