//! The persisted state of one namespace's firewall: the ruleset as the user
//! wrote it, the counter slot of every rule, and where the programs are
//! attached. It lives in `/run/fw/<netns cookie>/state.json` (see
//! [`crate::load::pins::Dirs`]) and is replaced atomically (write, then
//! rename). Every fw invocation holds [`StateLock`] while it reads or
//! changes the firewall, like iptables' xtables lock.

use std::{
    fs::{self, File},
    io,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{BuiltinChain, Ruleset};

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

/// How fw is attached to one interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Interface name at attach time.
    pub ifname: String,
    /// Interface index at attach time.
    pub ifindex: u32,
    /// XDP mode: `native` (driver) or `generic` (skb).
    pub xdp_mode: String,
}

/// Everything fw remembers about one namespace between invocations.
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
    /// The `firewall_common::Config::generation` this ruleset went live
    /// with; when the kernel's differs, this record may not describe the
    /// live bank (a swap died before the record was written).
    #[serde(default)]
    pub generation: u32,
    /// The interfaces (name, index) the live ruleset was compiled against,
    /// so fw can compile it again to the very same map entries.
    #[serde(default)]
    pub interfaces: Vec<(String, u32)>,
}

impl State {
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

    /// Every counter slot in use.
    pub fn all_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.counters
            .iter()
            .chain(self.user_counters.values())
            .flatten()
            .copied()
    }
}

/// An exclusive `flock(2)` on `<state dir>/lock`, released on drop.
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Creates `dir` if needed and waits for the lock.
    ///
    /// # Errors
    /// [`StateError::Io`] when the directory or lock file cannot be made.
    pub fn acquire(dir: &Path) -> Result<Self, StateError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join("lock");
        let file = File::create(&path).map_err(io_err(&path))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io_err(&path)(io::Error::last_os_error()));
        }
        Ok(Self { _file: file })
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
/// [`PendingState::commit`] once the kernel runs the same ruleset.
///
/// # Errors
/// [`StateError::Io`] when writing fails.
pub fn prepare(dir: &Path, state: &State) -> Result<PendingState, StateError> {
    let tmp = dir.join("state.json.new");
    let bytes = serde_json::to_vec(state).expect("State serializes");
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    Ok(PendingState {
        tmp,
        path: dir.join("state.json"),
    })
}
