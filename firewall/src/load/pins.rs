//! Where fw keeps a namespace's firewall: the bpffs pin directory and the
//! state directory, both named by the network namespace's cookie.
//!
//! The cookie (`SO_NETNS_COOKIE`, socket(7), Linux 5.14+) is a 64-bit id the
//! kernel never reuses while it runs, unlike the namespace's inode number,
//! so a new namespace can never pick up a dead one's firewall.

use std::{
    ffi::CString,
    fs, io,
    mem::size_of,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
};

/// `SO_NETNS_COOKIE` from `<asm-generic/socket.h>`; the libc crate lacks it.
const SO_NETNS_COOKIE: libc::c_int = 71;
/// `BPF_FS_MAGIC` from `<linux/magic.h>`.
const BPF_FS_MAGIC: i64 = 0xcafe4a11;
/// Root of fw's state files (rulesets), per namespace cookie.
pub const STATE_ROOT: &str = "/run/fw";
/// fw's lock files, one per namespace cookie. `fw reset` never removes
/// them, so nobody ever waits on a lock file that is gone; only the
/// garbage collection of a namespace that no longer exists does, holding
/// the lock (see [`crate::state::StateLock`]).
pub const LOCK_ROOT: &str = "/run/fw/lock";

/// The suffix of a pin directory a first load is filling ([`Dirs::staged`]).
pub const STAGED_SUFFIX: &str = "-new";

/// Errors finding or preparing fw's directories.
#[derive(Debug, thiserror::Error)]
pub enum PinsError {
    /// The kernel did not give the namespace cookie.
    #[error(
        "cannot read the network namespace cookie (SO_NETNS_COOKIE, Linux 5.14; fw needs Linux 6.1): {0}"
    )]
    Cookie(io::Error),
    /// Mounting the host's bpffs failed.
    #[error("cannot mount bpffs at /sys/fs/bpf or /run/fw-bpffs (needs CAP_SYS_ADMIN): {0}")]
    Mount(io::Error),
    /// A private mount namespace without the host's bpffs.
    #[error(
        "no bpffs of the host is visible here (`ip netns exec` remounts /sys): \
         run `fw status` once outside `ip netns exec`, or `cargo xtask setup`, \
         to mount it at /run/fw-bpffs"
    )]
    NoBpffs,
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
    // SAFETY: as above.
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC }
}

/// The host's bpffs, as iproute2 and bpftool expect it.
const SYS_BPFFS: &str = "/sys/fs/bpf";
/// A second mount of the same bpffs instance. `ip netns exec` detaches and
/// remounts /sys in its private mount namespace, which hides /sys/fs/bpf;
/// a mount outside /sys survives, so fw run under `ip netns exec` finds
/// the same pins there. It is outside /run/fw, which fw (and a user's
/// `rm -rf /run/fw`) deletes recursively: that must never walk into bpffs.
pub const RUN_BPFFS: &str = "/run/fw-bpffs";
/// Where older fw versions bound the host's bpffs; read, never mounted.
const OLD_RUN_BPFFS: &str = "/run/fw/bpffs";

fn mount(src: &str, target: &str, fstype: Option<&str>, flags: libc::c_ulong) -> io::Result<()> {
    let c = |s: &str| CString::new(s).expect("no NUL in mount arguments");
    let (src, target) = (c(src), c(target));
    let fstype = fstype.map(c);
    // SAFETY: NUL-terminated arguments that outlive the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            flags,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether this process shares PID 1's mount namespace (it is not inside
/// `ip netns exec` or another private mount namespace).
fn in_host_mount_ns() -> bool {
    let ns = |p: &str| fs::read_link(p).ok();
    let own = ns("/proc/self/ns/mnt");
    own.is_some() && own == ns("/proc/1/ns/mnt")
}

/// The bpffs to pin under: the host's /sys/fs/bpf, reached directly or
/// through its second mount at [`RUN_BPFFS`]. In the host mount
/// namespace fw mounts both when they are missing. `FW_BPFFS` overrides.
///
/// # Errors
/// [`PinsError::NoBpffs`] inside a private mount namespace that sees no
/// bpffs of the host; [`PinsError::Mount`] when a mount fails.
pub fn bpffs_root() -> Result<PathBuf, PinsError> {
    if let Some(p) = std::env::var_os("FW_BPFFS") {
        return Ok(PathBuf::from(p));
    }
    let host = in_host_mount_ns();
    let bind_run = || -> Result<(), PinsError> {
        if host && !is_bpffs(Path::new(RUN_BPFFS)) {
            fs::create_dir_all(RUN_BPFFS).map_err(PinsError::Mount)?;
            mount(SYS_BPFFS, RUN_BPFFS, None, libc::MS_BIND).map_err(PinsError::Mount)?;
        }
        Ok(())
    };
    if is_bpffs(Path::new(SYS_BPFFS)) {
        bind_run()?;
        return Ok(PathBuf::from(SYS_BPFFS));
    }
    // A bpffs already there is used before any is mounted: a container
    // given the host's bpffs at /run/fw-bpffs is PID 1 of its own mount
    // namespace (so "host" to the test above) and may not mount.
    for p in [RUN_BPFFS, OLD_RUN_BPFFS] {
        if is_bpffs(Path::new(p)) {
            return Ok(PathBuf::from(p));
        }
    }
    if host {
        mount("bpf", SYS_BPFFS, Some("bpf"), 0).map_err(PinsError::Mount)?;
        bind_run()?;
        return Ok(PathBuf::from(SYS_BPFFS));
    }
    Err(PinsError::NoBpffs)
}

/// The lock file of the namespace with cookie `cookie`.
pub fn lock_path(cookie: u64) -> PathBuf {
    Path::new(LOCK_ROOT).join(cookie.to_string())
}

/// The directories of one namespace's firewall.
#[derive(Clone, Debug)]
pub struct Dirs {
    /// Network namespace cookie.
    pub cookie: u64,
    /// `<bpffs>/fw/<cookie>`: pinned programs, maps and links.
    pub pins: PathBuf,
    /// `/run/fw/<cookie>`: the ruleset (`state.json`).
    pub state: PathBuf,
    /// `/run/fw/lock/<cookie>`: the lock ([`crate::state::StateLock`]).
    pub lock: PathBuf,
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
            lock: lock_path(cookie),
        })
    }

    /// The directories of a first load under way: the same, but with the
    /// pins in `<bpffs>/fw/<cookie>.new`, which the load renames to
    /// [`Dirs::pins`] once everything is in place (bpffs directories can
    /// be renamed), so the firewall appears whole or not at all.
    pub fn staged(&self) -> Self {
        let mut name = self.pins.file_name().unwrap_or_default().to_os_string();
        name.push(STAGED_SUFFIX);
        Self {
            pins: self.pins.with_file_name(name),
            ..self.clone()
        }
    }

    /// Where a refused program's verifier log goes:
    /// `/run/fw/verifier-<cookie>.log`.
    pub fn verifier_log(&self) -> PathBuf {
        Path::new(STATE_ROOT).join(format!("verifier-{}.log", self.cookie))
    }

    /// Pin path of map `name`.
    pub fn map(&self, name: &str) -> PathBuf {
        self.pins.join(format!("map_{name}"))
    }

    /// Pin path of program `name`.
    pub fn prog(&self, name: &str) -> PathBuf {
        self.pins.join(format!("prog_{name}"))
    }

    /// Pin path of the `hook` link (`xdp` or `tc`) on interface `ifname`:
    /// `link_{hook}@{ifname}`, each `.` of the name (a VLAN's `eth0.10`)
    /// written `:`, since bpffs refuses names with a dot (EPERM) and an
    /// interface name cannot hold a colon (`dev_valid_name`).
    pub fn link(&self, hook: &str, ifname: &str) -> PathBuf {
        self.pins
            .join(format!("link_{hook}@{}", ifname.replace('.', ":")))
    }

    /// The hook and interface name of a [`Dirs::link`] file name.
    pub fn link_of(file: &str) -> Option<(&str, String)> {
        let (hook, name) = file.strip_prefix("link_")?.split_once('@')?;
        Some((hook, name.replace(':', ".")))
    }
}

#[cfg(test)]
mod tests {
    use super::Dirs;

    #[test]
    fn a_vlans_link_pin_has_no_dot_and_reads_back() {
        let d = Dirs {
            cookie: 1,
            pins: "/p".into(),
            state: "/s".into(),
            lock: "/l".into(),
        };
        let path = d.link("xdp", "eth0.10");
        assert_eq!(path.to_str(), Some("/p/link_xdp@eth0:10"));
        let file = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(Dirs::link_of(file), Some(("xdp", "eth0.10".to_string())));
        assert_eq!(Dirs::link_of("map_CONFIG"), None);
    }
}
