//! Running code inside a named network namespace.

use std::{fs::File, os::fd::AsRawFd, path::Path, thread::JoinHandle};

use anyhow::Context as _;

/// Runs `f` on a fresh thread that has first entered the network namespace
/// `/run/netns/<ns>` (as created by `ip netns add`), and returns its result.
///
/// Sockets `f` creates belong to that namespace. Only the new thread
/// switches (setns(2) with CLONE_NEWNET acts per thread), so the caller's
/// thread stays where it is. A panic in `f` is re-raised in the caller.
///
/// # Errors
/// When the namespace does not exist, or setns fails (needs CAP_SYS_ADMIN).
pub fn in_netns<T, F>(ns: &str, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let handle = spawn_in_netns(ns, f)?;
    match handle.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Like [`in_netns`], but returns at once with the thread's handle; joining
/// it yields `Err` when entering the namespace failed, else `f`'s result.
///
/// # Errors
/// When the thread cannot be spawned.
pub fn spawn_in_netns<T, F>(ns: &str, f: F) -> anyhow::Result<JoinHandle<anyhow::Result<T>>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let path = Path::new("/run/netns").join(ns);
    std::thread::Builder::new()
        .name(format!("netns {ns}"))
        .spawn(move || -> anyhow::Result<T> {
            enter(&path)?;
            Ok(f())
        })
        .context("cannot spawn a thread")
}

/// Moves the calling thread into the network namespace bound at `path`.
fn enter(path: &Path) -> anyhow::Result<()> {
    let file = File::open(path)
        .with_context(|| format!("cannot open network namespace {}", path.display()))?;
    // SAFETY: a valid fd and a valid namespace type; only this thread moves.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("setns({}) (are you root?)", path.display()));
    }
    Ok(())
}
