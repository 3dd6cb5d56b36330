//! Where fw keeps a namespace's firewall: the bpffs pin directory and the
//! state directory, both named by the network namespace's cookie.
//!
//! The cookie (`SO_NETNS_COOKIE`, socket(7), Linux 5.14+) is a 64-bit id the
//! kernel never reuses while it runs, unlike the namespace's inode number,
//! so a new namespace can never pick up a dead one's firewall.

use std::{
    ffi::CString,
    io,
    mem::size_of,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
};

/// `SO_NETNS_COOKIE` from `<asm-generic/socket.h>`; the libc crate lacks it.
const SO_NETNS_COOKIE: libc::c_int = 71;
/// `BPF_FS_MAGIC` from `<linux/magic.h>`.
const BPF_FS_MAGIC: i64 = 0xcafe4a11;
/// Root of fw's state files (rulesets, lock), per namespace cookie.
const STATE_ROOT: &str = "/run/fw";

/// Errors finding or preparing fw's directories.
#[derive(Debug, thiserror::Error)]
pub enum PinsError {
    /// The kernel did not give the namespace cookie.
    #[error("cannot read the network namespace cookie: {0}")]
    Cookie(io::Error),
    /// No bpffs is mounted and mounting one failed.
    #[error("cannot mount bpffs at /sys/fs/bpf: {0}")]
    Mount(io::Error),
}

/// The cookie of the calling thread's network namespace.
///
/// # Errors
/// [`PinsError::Cookie`] when the socket or `getsockopt` fails.
pub fn netns_cookie() -> Result<u64, PinsError> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(PinsError::Cookie(io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh, valid descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut cookie: u64 = 0;
    let mut len = size_of::<u64>() as libc::socklen_t;
    // SAFETY: cookie and len point at live locals of the right size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut cookie).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(PinsError::Cookie(io::Error::last_os_error()));
    }
    Ok(cookie)
}

fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs fills the zeroed struct; c is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC }
}

/// The bpffs mount to pin under.
///
/// `ip netns exec` remounts /sys, which hides the host's /sys/fs/bpf; pins
/// must outlive that private mount, so the host's bpffs is reached through
/// `/proc/1/root` when /sys/fs/bpf is not a bpffs. `FW_BPFFS` overrides.
///
/// # Errors
/// [`PinsError::Mount`] when no bpffs is found and mounting one fails.
pub fn bpffs_root() -> Result<PathBuf, PinsError> {
    if let Some(p) = std::env::var_os("FW_BPFFS") {
        return Ok(PathBuf::from(p));
    }
    for candidate in ["/sys/fs/bpf", "/proc/1/root/sys/fs/bpf"] {
        if is_bpffs(Path::new(candidate)) {
            return Ok(PathBuf::from(candidate));
        }
    }
    let target = c"/sys/fs/bpf";
    // SAFETY: constant, NUL-terminated arguments.
    let rc = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            target.as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(PinsError::Mount(io::Error::last_os_error()));
    }
    Ok(PathBuf::from("/sys/fs/bpf"))
}

/// The two directories of one namespace's firewall.
#[derive(Clone, Debug)]
pub struct Dirs {
    /// Network namespace cookie.
    pub cookie: u64,
    /// `<bpffs>/fw/<cookie>`: pinned programs, maps and links.
    pub pins: PathBuf,
    /// `/run/fw/<cookie>`: the ruleset (`state.json`) and the lock.
    pub state: PathBuf,
}

impl Dirs {
    /// The directories for the calling thread's namespace (nothing is created).
    ///
    /// # Errors
    /// As [`netns_cookie`] and [`bpffs_root`].
    pub fn current() -> Result<Self, PinsError> {
        let cookie = netns_cookie()?;
        Ok(Self {
            cookie,
            pins: bpffs_root()?.join("fw").join(cookie.to_string()),
            state: Path::new(STATE_ROOT).join(cookie.to_string()),
        })
    }

    /// Pin path of map `name`.
    pub fn map(&self, name: &str) -> PathBuf {
        self.pins.join(format!("map_{name}"))
    }

    /// Pin path of program `name`.
    pub fn prog(&self, name: &str) -> PathBuf {
        self.pins.join(format!("prog_{name}"))
    }

    /// Pin path of the `hook` link (`xdp` or `tc`) on interface `ifname`.
    pub fn link(&self, hook: &str, ifname: &str) -> PathBuf {
        self.pins.join(format!("link_{hook}@{ifname}"))
    }
}
