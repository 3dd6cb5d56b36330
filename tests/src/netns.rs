//! Network namespaces of the tests' own, and running code inside one.

use std::{
    fs::File,
    io::Write as _,
    os::fd::AsRawFd,
    path::Path,
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread::JoinHandle,
};

use anyhow::{Context as _, bail};

use crate::{ip, quiet};

/// Makes namespace names unique within this process; the pid makes them
/// unique across processes.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `fw-<tag>-<pid>-<n>`: a namespace name no other test uses.
///
/// # Errors
/// When `tag` is empty or has characters other than ASCII letters, digits,
/// `-` and `_`.
pub fn unique_name(tag: &str) -> anyhow::Result<String> {
    if tag.is_empty()
        || !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("namespace tag {tag:?} must be non-empty ASCII letters, digits, - or _");
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(format!("fw-{tag}-{}-{n}", std::process::id()))
}

/// A network namespace (under /run/netns) that is deleted when this is
/// dropped, also when the test panics. Drop never panics. The labs
/// ([`crate::Lab`] and those of the tests) are built of these.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace [`unique_name`]`(tag)`.
    ///
    /// # Errors
    /// As [`unique_name`] and [`Netns::create`].
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        Self::create(unique_name(tag)?)
    }

    /// Creates the namespace `name` (which should come from
    /// [`unique_name`]).
    ///
    /// # Errors
    /// When not root, or when `ip netns add` fails.
    pub fn create(name: String) -> anyhow::Result<Self> {
        if name.contains(char::is_whitespace) {
            bail!("namespace name {name:?} has white space");
        }
        ip(&format!("netns add {name}"))?;
        Ok(Self { name })
    }

    /// Its name under /run/netns.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sh -c script` inside, as [`sh_in`].
    pub fn sh(&self, script: &str, args: &[String], stdin: Option<&str>) -> Output {
        sh_in(&self.name, script, args, stdin)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        quiet(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

/// [`sh_in`] without arguments or input, for a script that must succeed.
///
/// # Panics
/// When the script fails, with its standard error.
pub fn sh_ok(ns: &str, script: &str) -> Output {
    let out = sh_in(ns, script, &[], None);
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `sh -c script` inside namespace `ns` with `args` as `$1...` and
/// `stdin` as its input, and returns its output whatever its exit status.
///
/// # Panics
/// When `ip netns exec` cannot be started.
pub fn sh_in(ns: &str, script: &str, args: &[String], stdin: Option<&str>) -> Output {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", script, "sh"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ip netns exec");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

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
