//! The persisted state of one namespace's firewall: the ruleset as the user
//! wrote it, the counter slot of every rule, and where the programs are
//! attached. It lives in `/run/fw/<netns cookie>/state.json` (see
//! [`crate::load::pins::Dirs`]) and is replaced write-ahead: the new
//! record goes to `state.json.pending` (synced) before the kernel
//! switches, and is renamed into place after; [`recover`] finishes or
//! undoes a change that a killed fw left between the two. Every fw invocation holds [`StateLock`] while it reads or
//! changes the firewall, like iptables' xtables lock; the lock file lives
//! apart, in `/run/fw/lock/<netns cookie>`, so `fw reset` never removes it.

use std::{
    fs::{self, File, OpenOptions},
    io,
    os::{
        fd::AsRawFd,
        unix::fs::{MetadataExt as _, OpenOptionsExt as _},
    },
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{BuiltinChain, Family, Ruleset};

/// Errors reading or writing the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Another fw holds the namespace's lock and `-w N` ran out. The text
    /// is iptables 1.8.9's for its xtables lock (exit status 4).
    #[error(
        "Can't lock {}: Resource temporarily unavailable\n\
         Another app is currently holding the xtables lock. Stopped waiting after {seconds}s.",
        path.display()
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// How long fw waited (`-w`).
        seconds: u32,
    },
    /// fw may not create or open its lock or state files: it runs without
    /// root's file access (exit status 3, as iptables' "you must be root").
    #[error(
        "{}: {source} (you must be root: fw's lock and state under /run/fw \
         need root's file access, or CAP_DAC_OVERRIDE)",
        path.display()
    )]
    Access {
        /// The file or directory.
        path: PathBuf,
        /// The error (EACCES or EPERM).
        source: io::Error,
    },
    /// `state.json` is not valid.
    #[error("{path}: corrupt state: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What serde_json found.
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// As [`io_err`], but a permission error becomes [`StateError::Access`].
fn access_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| match source.kind() {
        io::ErrorKind::PermissionDenied => StateError::Access {
            path: path.to_owned(),
            source,
        },
        _ => io_err(path)(source),
    }
}

impl StateError {
    /// iptables' exit status: 4 (RESOURCE_PROBLEM) for a busy lock, 3 for
    /// missing file access ("you must be root"), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Busy { .. } => 4,
            Self::Access { .. } => 3,
            Self::Io { .. } | Self::Corrupt { .. } => 1,
        }
    }
}

/// How fw is attached to one interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Interface name at attach time.
    pub ifname: String,
    /// Interface index at attach time.
    pub ifindex: u32,
    /// XDP mode: `native` (driver), `generic` (skb), or `none` on a
    /// device without a link-layer header (filtered at TC ingress).
    pub xdp_mode: String,
    /// How the TC programs are attached (records of an fw without the
    /// field were all TCX).
    #[serde(default)]
    pub tc: TcMechanism,
}

/// How fw attaches its TC programs (egress, and ingress where it has
/// one there): TCX links (Linux 6.6 and later), or on a kernel without
/// TCX, cls_bpf filters on the interface's clsact qdisc, made over
/// rtnetlink (what `tc qdisc add dev D clsact; tc filter add dev D
/// egress bpf da ...` makes). Chosen by probing the kernel
/// (`load::attach::tc_mechanism`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TcMechanism {
    /// A pinned TCX link per hook.
    #[default]
    Tcx,
    /// A cls_bpf filter per hook; it stays while the interface does, and
    /// fw finds it by the id of the program it runs.
    Clsact,
}

impl TcMechanism {
    /// The name `fw status` shows: `tcx` or `clsact`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcx => "tcx",
            Self::Clsact => "clsact",
        }
    }
}

/// An interface fw is not attached to because the kernel refused XDP
/// there (EEXIST: an upper device already has XDP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The interface.
    pub ifname: String,
    /// Its index.
    pub ifindex: u32,
    /// Why, for `fw status`.
    pub reason: String,
}

/// One family's filter table with its counter slots, as [`State`] keeps
/// the other family's ([`State::other`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The table.
    pub ruleset: Ruleset,
    /// As [`State::counters`].
    pub counters: [Vec<u32>; 3],
    /// As [`State::user_counters`].
    #[serde(default)]
    pub user_counters: BTreeMap<String, Vec<u32>>,
}

impl Table {
    /// An empty IPv6 table without slots (left out of the record).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for Table {
    /// An empty IPv6 table: what the record of an fw that had none holds.
    fn default() -> Self {
        Self {
            ruleset: Ruleset::new(Family::V6),
            counters: Default::default(),
            user_counters: BTreeMap::new(),
        }
    }
}

/// Everything fw remembers about one namespace between invocations.
///
/// Both families' filter tables are here, as the kernel holds both in one
/// bank: `ruleset` (with `counters`, `user_counters`) is IPv4's in the
/// record and `other` IPv6's; a command on IPv6 works on
/// [`State::for_family`]`(Family::V6)`, which swaps them, and the record
/// is written back as [`State::for_family`]`(Family::V4)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The filter table as the user wrote it.
    pub ruleset: Ruleset,
    /// `counters[c][n]`: the `COUNTERS` slot of rule `n` of chain `c`
    /// ([`BuiltinChain::ALL`] order). A rule keeps its slot until deleted.
    pub counters: [Vec<u32>; 3],
    /// `user_counters[name][n]`: the slot of rule `n` of user-defined
    /// chain `name`, as [`State::counters`] for the built-in ones.
    #[serde(default)]
    pub user_counters: BTreeMap<String, Vec<u32>>,
    /// Interfaces the programs are attached to.
    pub attachments: Vec<Attachment>,
    /// Interfaces the kernel refused to attach to at the last change.
    #[serde(default)]
    pub refused: Vec<Refused>,
    /// The `firewall_common::Config::generation` this ruleset went live
    /// with; when the kernel's differs, this record may not describe the
    /// live bank (a swap died before the record was written).
    #[serde(default)]
    pub generation: u32,
    /// The interfaces (name, index) the live ruleset was compiled against,
    /// so fw can compile it again to the very same map entries.
    #[serde(default)]
    pub interfaces: Vec<(String, u32)>,
    /// `fw set`'s sets by name (their members are in the kernel's maps).
    #[serde(default)]
    pub sets: BTreeMap<String, crate::model::set::SetDef>,
    /// The other family's table (see the type's doc); records of an fw
    /// without IPv6 have an empty one.
    #[serde(default, skip_serializing_if = "Table::is_empty")]
    pub other: Table,
}

impl State {
    /// This state with `family`'s table in `ruleset` (and its slots in
    /// `counters`, `user_counters`), the other family's in `other`.
    pub fn for_family(mut self, family: Family) -> Self {
        if self.ruleset.family != family {
            std::mem::swap(&mut self.ruleset, &mut self.other.ruleset);
            std::mem::swap(&mut self.counters, &mut self.other.counters);
            std::mem::swap(&mut self.user_counters, &mut self.other.user_counters);
        }
        self
    }

    /// `family`'s table.
    pub fn table(&self, family: Family) -> &Ruleset {
        if self.ruleset.family == family {
            &self.ruleset
        } else {
            &self.other.ruleset
        }
    }

    /// The counter slots of `family`'s chain named `chain`, as
    /// [`State::chain_slots`].
    pub fn slots_in(&self, family: Family, chain: &str) -> &[u32] {
        if self.ruleset.family == family {
            return self.chain_slots(chain);
        }
        match BuiltinChain::from_name(chain) {
            Some(c) => &self.other.counters[c.map_index() as usize],
            None => self
                .other
                .user_counters
                .get(chain)
                .map_or(&[], Vec::as_slice),
        }
    }

    /// Counter slots of chain `c`.
    pub fn slots(&self, c: BuiltinChain) -> &Vec<u32> {
        &self.counters[c.map_index() as usize]
    }

    /// Counter slots of chain `c`, mutably.
    pub fn slots_mut(&mut self, c: BuiltinChain) -> &mut Vec<u32> {
        &mut self.counters[c.map_index() as usize]
    }

    /// Counter slots of the chain named `chain`, built-in or user-defined;
    /// empty for a chain without any.
    pub fn chain_slots(&self, chain: &str) -> &[u32] {
        match BuiltinChain::from_name(chain) {
            Some(c) => self.slots(c),
            None => self.user_counters.get(chain).map_or(&[], Vec::as_slice),
        }
    }

    /// Counter slots of the chain named `chain`, mutably (created empty for
    /// a user-defined chain that has none).
    pub fn chain_slots_mut(&mut self, chain: &str) -> &mut Vec<u32> {
        match BuiltinChain::from_name(chain) {
            Some(c) => self.slots_mut(c),
            None => self.user_counters.entry(chain.to_string()).or_default(),
        }
    }

    /// Every counter slot in use, of both families.
    pub fn all_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.counters
            .iter()
            .chain(self.user_counters.values())
            .chain(self.other.counters.iter())
            .chain(self.other.user_counters.values())
            .flatten()
            .copied()
    }
}

/// How long [`StateLock::acquire`] waits, in seconds; 0 waits as long as
/// it takes. Process-wide, like iptables' `-w`: set once from the command
/// line ([`set_wait`]) rather than threaded through every command.
static WAIT_SECONDS: AtomicU32 = AtomicU32::new(0);

/// Makes [`StateLock::acquire`] give up after `seconds` (`fw -w N`);
/// `None` waits as long as it takes (no `-w`, as iptables 1.8.9 does).
pub fn set_wait(seconds: Option<u32>) {
    WAIT_SECONDS.store(seconds.unwrap_or(0), Ordering::Relaxed);
}

/// The lock file of the namespace whose state directory is `dir`
/// (`/run/fw/<cookie>` → `/run/fw/lock/<cookie>`).
pub fn lock_file(dir: &Path) -> PathBuf {
    let root = dir.parent().unwrap_or(Path::new("/"));
    root.join("lock")
        .join(dir.file_name().unwrap_or_else(|| "root".as_ref()))
}

/// Whether the open `file` is still the one named `path`: the garbage
/// collection unlinks a dead namespace's lock file while holding it, and a
/// lock on an unlinked file protects nothing.
fn still_named(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn open_lock(path: &Path) -> Result<File, StateError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir).map_err(access_err(dir))?;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(access_err(path))
}

/// `flock(fd, op)`, retried when a signal interrupts it.
fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Why [`DaemonLock::acquire`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonLockError {
    /// Another daemon holds it; its pid as it wrote it.
    #[error("held by pid {0}")]
    Held(String),
    /// The file could not be opened or written.
    #[error(transparent)]
    Io(io::Error),
}

/// `fw daemon`'s own lock, `PATH` (beside the namespace's lock file, as
/// `<cookie>.daemon`): one daemon per namespace. Held until dropped; it
/// holds the daemon's pid.
pub struct DaemonLock {
    _file: File,
}

impl DaemonLock {
    /// The path of the daemon lock of the namespace whose command lock is
    /// `lock` ([`lock_file`] or `pins::lock_path`).
    pub fn path_for(lock: &Path) -> PathBuf {
        let mut name = lock.file_name().unwrap_or_default().to_os_string();
        name.push(".daemon");
        lock.with_file_name(name)
    }

    /// Takes the daemon lock at `path` without waiting.
    ///
    /// # Errors
    /// [`DaemonLockError::Held`] when another process holds it.
    pub fn acquire(path: &Path) -> Result<Self, DaemonLockError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(DaemonLockError::Io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(DaemonLockError::Io)?;
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut pid = String::new();
                let _ = io::Read::read_to_string(&mut file, &mut pid);
                return Err(DaemonLockError::Held(pid.trim().to_string()));
            }
            Err(e) => return Err(DaemonLockError::Io(e)),
        }
        file.set_len(0).map_err(DaemonLockError::Io)?;
        io::Write::write_all(&mut file, format!("{}\n", std::process::id()).as_bytes())
            .map_err(DaemonLockError::Io)?;
        Ok(Self { _file: file })
    }
}

/// An exclusive `flock(2)` on the namespace's lock file
/// ([`lock_file`]), released on drop. The file is never removed while its
/// namespace exists, `fw reset` included: removing it would let a waiter
/// and a newcomer hold two different locks.
pub struct StateLock {
    file: File,
    path: PathBuf,
}

impl StateLock {
    /// Waits for the lock of the namespace whose state directory is `dir`
    /// (creating the lock file), at most as long as [`set_wait`] allows.
    ///
    /// # Errors
    /// [`StateError::Busy`] when the wait runs out (exit status 4, with
    /// iptables' message); [`StateError::Access`] when the lock file cannot
    /// be opened for lack of permission; [`StateError::Io`] otherwise.
    pub fn acquire(dir: &Path) -> Result<Self, StateError> {
        let path = lock_file(dir);
        let seconds = WAIT_SECONDS.load(Ordering::Relaxed);
        let deadline =
            (seconds > 0).then(|| Instant::now() + Duration::from_secs(u64::from(seconds)));
        loop {
            let file = open_lock(&path)?;
            match deadline {
                None => flock(&file, libc::LOCK_EX).map_err(io_err(&path))?,
                Some(deadline) => loop {
                    match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                        Ok(()) => break,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            let now = Instant::now();
                            if now >= deadline {
                                return Err(StateError::Busy { path, seconds });
                            }
                            std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
                        }
                        Err(e) => return Err(io_err(&path)(e)),
                    }
                },
            }
            if still_named(&file, &path) {
                return Ok(Self { file, path });
            }
        }
    }

    /// Takes the lock file `path` (creating it) if nobody holds it; `None`
    /// when someone does or it cannot be opened.
    pub fn try_acquire(path: &Path) -> Option<Self> {
        let file = open_lock(path).ok()?;
        flock(&file, libc::LOCK_EX | libc::LOCK_NB).ok()?;
        still_named(&file, path).then(|| Self {
            file,
            path: path.to_owned(),
        })
    }

    /// Removes the lock file, then releases the lock. Only for a namespace
    /// that is gone: whoever waited on the file sees it unlinked and
    /// retries on a new one.
    pub fn remove(self) {
        let _ = fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Reads `<dir>/state.json`; `None` when fw has never changed this namespace.
///
/// # Errors
/// [`StateError::Io`] or [`StateError::Corrupt`].
pub fn read(dir: &Path) -> Result<Option<State>, StateError> {
    let path = dir.join("state.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Corrupt { path, source }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// A written but not yet committed `state.json`.
pub struct PendingState {
    tmp: PathBuf,
    path: PathBuf,
}

impl PendingState {
    /// Makes the new state current (one rename).
    ///
    /// # Errors
    /// [`StateError::Io`] when the rename fails.
    pub fn commit(self) -> Result<(), StateError> {
        fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))
    }
}

impl Drop for PendingState {
    fn drop(&mut self) {
        // After a commit the temporary name no longer exists.
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Writes `state` next to `<dir>/state.json`, to be made current by
/// [`PendingState::commit`]. Not crash-safe: fw itself uses
/// [`write_ahead`]; this is for tools that edit a record in place.
///
/// # Errors
/// [`StateError::Io`] when writing fails.
pub fn prepare(dir: &Path, state: &State) -> Result<PendingState, StateError> {
    fs::create_dir_all(dir).map_err(access_err(dir))?;
    let tmp = dir.join("state.json.new");
    let bytes = serde_json::to_vec(state).expect("State serializes");
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    Ok(PendingState {
        tmp,
        path: dir.join("state.json"),
    })
}

/// The record of the namespace whose state directory is `dir`.
pub fn record_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

/// The write-ahead record: the state a change will make live, written
/// (and synced) before the kernel is touched ([`write_ahead`]).
pub fn pending_path(dir: &Path) -> PathBuf {
    dir.join("state.json.pending")
}

/// `fsync(2)` of `path` (a file or a directory).
fn sync(path: &Path) -> Result<(), StateError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

/// A write-ahead record ([`pending_path`]): the state of a change that is
/// about to go live. Until [`WriteAhead::went_live`] is called, dropping
/// it removes the file (the change failed before the kernel switched);
/// afterwards the file stays until [`WriteAhead::commit`] renames it into
/// place, so a crash in between is rolled forward by [`recover`].
pub struct WriteAhead {
    dir: PathBuf,
    live: bool,
}

impl WriteAhead {
    /// The kernel now runs the ruleset of this record (or is about to:
    /// the step that makes it live has been started): from here on the
    /// file is kept even if fw stops.
    pub fn went_live(&mut self) {
        self.live = true;
    }

    /// Makes the record current: renames it to `state.json` and syncs the
    /// directory.
    ///
    /// # Errors
    /// [`StateError::Io`]; the pending record then stays for [`recover`].
    pub fn commit(mut self) -> Result<(), StateError> {
        self.live = true;
        let path = record_path(&self.dir);
        fs::rename(pending_path(&self.dir), &path).map_err(io_err(&path))?;
        sync(&self.dir)
    }
}

impl Drop for WriteAhead {
    fn drop(&mut self) {
        if !self.live {
            let _ = fs::remove_file(pending_path(&self.dir));
        }
    }
}

/// Writes `state` (with the generation it will go live with) to
/// `<dir>/state.json.pending`: to a temporary name, synced, renamed, and
/// the directory synced, so the pending record is either whole or absent.
///
/// # Errors
/// [`StateError::Io`] or [`StateError::Access`].
pub fn write_ahead(dir: &Path, state: &State) -> Result<WriteAhead, StateError> {
    use std::io::Write as _;
    fs::create_dir_all(dir).map_err(access_err(dir))?;
    let tmp = dir.join("state.json.pending.tmp");
    let bytes = serde_json::to_vec(state).expect("State serializes");
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()
    };
    write().map_err(access_err(&tmp))?;
    let pending = pending_path(dir);
    fs::rename(&tmp, &pending).map_err(io_err(&pending))?;
    sync(dir)?;
    Ok(WriteAhead {
        dir: dir.to_owned(),
        live: false,
    })
}

/// What [`recover`] did with a write-ahead record left by an fw that
/// stopped half-way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// There was none.
    Nothing,
    /// The kernel runs its generation: it became `state.json`.
    RolledForward(u32),
    /// The kernel does not run it (the change never went live): removed.
    Discarded,
}

/// Finishes or undoes a change that stopped between its write-ahead
/// record and its commit: when the kernel's live generation (`live`,
/// `None` when no ruleset is live or fw is not loaded) is the pending
/// record's, the change went live and the record is renamed into place;
/// otherwise it is removed. Temporary files of a write that died are
/// removed too. Call it holding [`StateLock`].
///
/// # Errors
/// [`StateError::Io`] when a rename or removal fails.
pub fn recover(dir: &Path, live: Option<u32>) -> Result<Recovery, StateError> {
    for tmp in ["state.json.pending.tmp", "state.json.new"] {
        match fs::remove_file(dir.join(tmp)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&dir.join(tmp))(e)),
            _ => {}
        }
    }
    let pending = pending_path(dir);
    let bytes = match fs::read(&pending) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Recovery::Nothing),
        Err(e) => return Err(io_err(&pending)(e)),
    };
    // A pending record that does not parse was never complete, so never
    // went live (it is renamed to its name only once synced).
    let generation = serde_json::from_slice::<State>(&bytes)
        .ok()
        .map(|s| s.generation);
    if generation.is_some() && generation == live {
        let path = record_path(dir);
        fs::rename(&pending, &path).map_err(io_err(&path))?;
        sync(dir)?;
        return Ok(Recovery::RolledForward(generation.unwrap_or_default()));
    }
    fs::remove_file(&pending).map_err(io_err(&pending))?;
    Ok(Recovery::Discarded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state directory `<tmp>/fw-lock-test-<pid>-<tag>/<cookie>` of its own.
    fn dir(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("fw-lock-test-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        root.join("42")
    }

    /// A state directory with `state.json` of generation `recorded` and a
    /// pending record of generation `pending` (raw bytes when `None`).
    fn crashed(tag: &str, recorded: u32, pending: Option<u32>) -> PathBuf {
        let d = dir(tag);
        let st = |g| State {
            generation: g,
            ..State::default()
        };
        prepare(&d, &st(recorded)).unwrap().commit().unwrap();
        match pending {
            Some(g) => {
                let mut ahead = write_ahead(&d, &st(g)).unwrap();
                // As after a kill -9: the file stays.
                ahead.went_live();
                drop(ahead);
            }
            // Killed while writing: a truncated file.
            None => fs::write(pending_path(&d), b"{\"ruleset\":").unwrap(),
        }
        assert!(pending_path(&d).exists());
        d
    }

    fn recorded(d: &Path) -> u32 {
        read(d).unwrap().unwrap().generation
    }

    #[test]
    fn a_pending_record_of_the_live_generation_is_rolled_forward() {
        let d = crashed("forward", 4, Some(5));
        assert_eq!(recover(&d, Some(5)).unwrap(), Recovery::RolledForward(5));
        assert_eq!(recorded(&d), 5);
        assert!(!pending_path(&d).exists());
        // Nothing left to do the next time.
        assert_eq!(recover(&d, Some(5)).unwrap(), Recovery::Nothing);
        let _ = fs::remove_dir_all(d.parent().unwrap());
    }

    #[test]
    fn a_pending_record_that_never_went_live_is_discarded() {
        for (tag, pending, live) in [
            ("back", Some(5), Some(4)),
            ("back-unloaded", Some(1), None),
            ("back-truncated", None, Some(4)),
        ] {
            let d = crashed(tag, 4, pending);
            assert_eq!(recover(&d, live).unwrap(), Recovery::Discarded, "{tag}");
            assert_eq!(recorded(&d), 4, "{tag}");
            assert!(!pending_path(&d).exists(), "{tag}");
            let _ = fs::remove_dir_all(d.parent().unwrap());
        }
    }

    #[test]
    fn a_failed_change_removes_its_pending_record() {
        let d = dir("failed");
        let ahead = write_ahead(&d, &State::default()).unwrap();
        assert!(pending_path(&d).exists());
        drop(ahead);
        assert!(!pending_path(&d).exists());
        let mut ahead = write_ahead(
            &d,
            &State {
                generation: 7,
                ..State::default()
            },
        )
        .unwrap();
        ahead.went_live();
        ahead.commit().unwrap();
        assert_eq!(recorded(&d), 7);
        assert!(!pending_path(&d).exists());
        let _ = fs::remove_dir_all(d.parent().unwrap());
    }

    #[test]
    fn the_lock_file_lives_beside_the_state_directories() {
        assert_eq!(
            lock_file(Path::new("/run/fw/1234")),
            Path::new("/run/fw/lock/1234")
        );
    }

    #[test]
    fn a_second_daemon_lock_is_refused_with_the_first_ones_pid() {
        let d = std::env::temp_dir().join(format!("fw-daemon-lock-{}", std::process::id()));
        let path = DaemonLock::path_for(&d.join("lock").join("77"));
        assert_eq!(path, d.join("lock").join("77.daemon"));
        let first = DaemonLock::acquire(&path).unwrap();
        match DaemonLock::acquire(&path) {
            Err(DaemonLockError::Held(pid)) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("{:?}", other.err()),
        }
        drop(first);
        DaemonLock::acquire(&path).unwrap();
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_waiter_on_a_removed_lock_file_takes_the_new_one() {
        let d = dir("removed");
        let first = StateLock::acquire(&d).unwrap();
        let path = lock_file(&d);
        let d2 = d.clone();
        let waiter = std::thread::spawn(move || {
            let l = StateLock::acquire(&d2).unwrap();
            // Held on the file that now bears the name: nobody else can take it.
            assert!(StateLock::try_acquire(&lock_file(&d2)).is_none());
            drop(l);
        });
        std::thread::sleep(Duration::from_millis(100));
        // What gc does for a namespace that is gone.
        first.remove();
        waiter.join().unwrap();
        assert!(StateLock::try_acquire(&path).is_some());
        let _ = fs::remove_dir_all(d.parent().unwrap());
    }
}
