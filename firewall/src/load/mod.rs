//! Load and attach: puts fw's eBPF programs into the kernel, attaches them
//! to every interface of the namespace, pins everything under
//! [`pins::Dirs::pins`] so it outlives the `fw` process, and writes compiled
//! rulesets into the maps.
//!
//! Map layouts are defined once, in `firewall_common`.

pub mod attach;
mod batch;
pub mod btf;
mod sets;

pub mod host;
pub mod pins;
pub mod probe;
mod rtnl;
pub use rtnl::{LocalRoute, TcFilter, local_routes};

use std::{fs, io, os::fd::AsFd as _, path::PathBuf};

use aya::maps::IterableMap as _;

use aya::{
    Ebpf, EbpfError,
    maps::{
        Array, HashMap, LpmTrie, Map, MapData, MapError, PerCpuArray, PerCpuValues, lpm_trie::Key,
    },
    pin::PinError,
    programs::{ProgramError, SchedClassifier, Xdp},
    util::nr_cpus,
};
use firewall_common::{
    ANOMALY_SLOTS, AddrKey, Anomaly, BUILTIN_CHAINS, ChainInfo, ClassKey, Config, Counter,
    NOT_LIVE, PortKey, RuleInfo, Summary, ValueKey, WordKey, chain_slot,
    ct::{self, CtEntry, CtKey, Stat, Timeouts},
    field_id_bank, maps, policy_counter, programs, rule_slot,
};

use crate::compile::Compiled;
use pins::Dirs;

/// The eBPF object built by `firewall/build.rs`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/firewall-ebpf"));

/// Program names (`firewall_common::programs`).
pub(crate) const PROG_XDP: &str = programs::XDP;
pub(crate) const PROG_TC: &str = programs::TC;
pub(crate) const PROG_TC_IN: &str = programs::TC_IN;
pub(crate) const PROG_TC_L3: &str = programs::TC_L3;
pub(crate) const PROG_TC_L3_IN: &str = programs::TC_L3_IN;
/// The programs [`Kernel::install`] loads and pins, in that order.
pub(crate) const PROGRAMS: [&str; 3] = [PROG_XDP, PROG_TC, PROG_TC_IN];
/// The programs of devices without a link-layer header, loaded and pinned
/// only once such a device is to be attached ([`load_l3`]): verifying them
/// costs as much as the other three, and most hosts have none.
pub(crate) const PROGRAMS_L3: [&str; 2] = [PROG_TC_L3, PROG_TC_L3_IN];

/// Errors loading, attaching or updating the firewall in the kernel.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The kernel refused the embedded eBPF object (verifier, BTF, maps);
    /// the message names the kernel fw needs and the one running.
    #[error("loading the eBPF object: {0} ({note})", note = kernel_note())]
    Load(#[from] EbpfError),
    /// The running kernel lacks a BPF helper fw's programs call
    /// ([`probe::missing_helper`], checked before anything is loaded).
    #[error(
        "this kernel (Linux {release}) lacks the BPF helper {}, which fw's programs call \
         (Linux {} and later have it); {}",
        helper.name,
        helper.since,
        kernel_need()
    )]
    OldKernel {
        /// `uname -r`.
        release: String,
        /// The first helper it lacks.
        helper: probe::Helper,
    },
    /// The kernel refused to load a program. Its verifier log is saved to
    /// a file rather than printed.
    #[error(
        "the kernel refused eBPF program {program}: {source}{}{}",
        refusal_hint(source),
        log_note(log)
    )]
    Verifier {
        /// The program.
        program: &'static str,
        /// What `BPF_PROG_LOAD` returned.
        source: io::Error,
        /// Where the verifier's log was saved, if it could be.
        log: Option<PathBuf>,
    },
    /// A program could not be loaded, opened from its pin or looked up.
    #[error("eBPF program {0}: {1}")]
    Program(&'static str, ProgramError),
    /// Attaching XDP or TCX to interface `ifname` failed (another XDP
    /// program there, for one).
    #[error(
        "attaching {} to interface {ifname}: {source}{}",
        match *hook { "xdp" => "XDP", "tcin" => "TCX ingress", _ => "TCX egress" },
        errno_note(hook, *errno)
    )]
    Attach {
        /// The interface.
        ifname: String,
        /// `xdp`, `tc` or `tcin` ([`attach::HOOKS`]).
        hook: &'static str,
        /// The errno the kernel returned, when aya's error carries one.
        errno: Option<i32>,
        /// aya's error (boxed: it is large).
        source: Box<ProgramError>,
    },
    /// A map read or write failed (a full map, for one).
    #[error("map {0}: {1}")]
    Map(&'static str, MapError),
    /// A batched map operation failed.
    #[error("map {0}: {1}")]
    Batch(&'static str, io::Error),
    /// Pinning a program, map or link under bpffs failed.
    #[error("pinning {path}: {source}")]
    Pin {
        /// The pin path.
        path: PathBuf,
        /// aya's error.
        source: PinError,
    },
    /// A file-system operation on the pin directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The namespace's interfaces or their link types could not be read.
    #[error("listing interfaces: {0}")]
    Interfaces(String),
    /// The number of possible CPUs could not be read.
    #[error("counting CPUs: {0}")]
    Cpus(String),
    /// The embedded eBPF object does not declare exactly the maps
    /// `firewall_common::maps` names (a build of mismatched sides).
    #[error("the embedded eBPF object does not match firewall-common: {0}")]
    Object(String),
    /// Some pins of the namespace's firewall exist and this one does not.
    #[error("the pinned firewall is incomplete: {0} is missing; run `fw reset`")]
    Incomplete(PathBuf),
    /// The kernel refused to open a pin that exists (bpf(2) `BPF_OBJ_GET`
    /// failed with EPERM or EACCES): a seccomp profile that blocks bpf(2),
    /// as container runtimes' defaults do, or a missing capability (exit
    /// status 3).
    #[error(
        "{}: the kernel refused bpf(2) ({source}): fw needs CAP_BPF and a seccomp profile \
         that allows bpf(2) (in a container: seccomp=unconfined; deploy/README.md); the \
         firewall is in force and unchanged",
        path.display()
    )]
    PinRefused {
        /// The pin.
        path: PathBuf,
        /// The kernel's answer.
        source: std::io::Error,
    },
}

/// Opens pinned map `path`: [`LoadError::Incomplete`] when it is missing,
/// [`LoadError::PinRefused`] when the kernel will not open it.
fn open_pin(path: PathBuf) -> Result<MapData, LoadError> {
    match MapData::from_pin(&path) {
        Ok(m) => Ok(m),
        Err(aya::maps::MapError::SyscallError(aya::sys::SyscallError { io_error, .. }))
            if matches!(io_error.raw_os_error(), Some(libc::EPERM | libc::EACCES)) =>
        {
            Err(LoadError::PinRefused {
                path,
                source: io_error,
            })
        }
        Err(_) => Err(LoadError::Incomplete(path)),
    }
}

/// Entries of the connection table of a new install: `FW_CONNTRACK_MAX`
/// when it is a number from 1 to 2^24, else [`ct::DEFAULT_MAX`].
pub fn conntrack_max() -> u32 {
    std::env::var("FW_CONNTRACK_MAX")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (1..=1 << 24).contains(n))
        .unwrap_or(ct::DEFAULT_MAX)
}

/// The program `name` of the embedded object, as its concrete type.
pub(crate) fn program<'a, P>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut P, LoadError>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = ProgramError>,
{
    ebpf.program_mut(name)
        .expect("program is in the embedded object")
        .try_into()
        .map_err(|e| LoadError::Program(name, e))
}

/// A program load error; the verifier's log, which can run to hundreds of
/// lines, goes to [`Dirs::verifier_log`] instead of the message.
fn refused(dirs: &Dirs, name: &'static str, e: ProgramError) -> LoadError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let path = dirs.verifier_log();
            let saved = fs::create_dir_all(pins::STATE_ROOT)
                .and_then(|()| fs::write(&path, verifier_log.to_string()))
                .is_ok();
            LoadError::Verifier {
                program: name,
                source: io_error,
                log: saved.then_some(path),
            }
        }
        e => LoadError::Program(name, e),
    }
}

/// Loads XDP program `name` of the eBPF object `object` as
/// [`Kernel::install`] loads fw's own, without pinning or attaching it, for
/// tests that need the kernel to refuse a program.
///
/// # Errors
/// [`LoadError::Load`] when aya cannot read the object;
/// [`LoadError::Verifier`] when the kernel refuses the program, its log
/// saved to [`Dirs::verifier_log`].
///
/// # Panics
/// When the object has no program `name`.
#[cfg(feature = "testing")]
pub fn load_xdp(dirs: &Dirs, object: &[u8], name: &'static str) -> Result<Ebpf, LoadError> {
    let mut ebpf = aya::EbpfLoader::new().load(object)?;
    let xdp: &mut Xdp = program(&mut ebpf, name)?;
    xdp.load().map_err(|e| refused(dirs, name, e))?;
    Ok(ebpf)
}

/// What a refused load may be missing: EPERM means a capability;
/// anything else (EACCES for a program the verifier finds unsafe, EINVAL
/// for an unknown helper or program type, E2BIG, ENOTSUPP) a kernel fw was
/// not written for. (Without CAP_PERFMON the verifier answers EACCES too,
/// but fw checks its capabilities before it loads.)
fn refusal_hint(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) => {
            " (fw needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, or CAP_SYS_ADMIN)".into()
        }
        Some(_) | None => format!(" ({})", kernel_note()),
    }
}

/// The oldest kernel fw is written for, (major, minor), as messages
/// name it: its newest BPF helper is 6.1's ([`probe::HELPERS`]); TCX
/// (6.6) is used where the kernel has it, clsact filters where not
/// ([`attach::tc_mechanism`]); XDP links (5.9), `SO_NETNS_COOKIE` (5.14)
/// and batched map operations (5.6) are older. fw checks features by
/// probing ([`check_kernel`]), not this number. The programs use no
/// CO-RE relocations, so the kernel's own BTF (/sys/kernel/btf/vmlinux)
/// is not needed.
pub const MIN_KERNEL: (u32, u32) = (6, 1);

/// What fw needs of the kernel, as a message part.
fn kernel_need() -> String {
    format!(
        "fw needs Linux {}.{} or later with eBPF (CONFIG_BPF_SYSCALL, CONFIG_BPF_JIT)",
        MIN_KERNEL.0, MIN_KERNEL.1
    )
}

/// [`kernel_need`] and the running kernel's release.
fn kernel_note() -> String {
    format!("{}; this is Linux {}", kernel_need(), kernel_release())
}

/// The running kernel's release (`uname -r`, uname(2)); `unknown` when it
/// cannot be read.
pub fn kernel_release() -> String {
    // SAFETY: utsname is plain old data; all zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a live, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    // SAFETY: uname(2) NUL-terminates release; u outlives the borrow.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Refuses a kernel without a BPF helper fw's programs call
/// ([`probe::missing_helper`]) before anything is loaded, so that it gets
/// one message naming the helper instead of a verifier log. When the
/// probes cannot run (no privilege, no eBPF) the load says why.
///
/// # Errors
/// [`LoadError::OldKernel`].
pub fn check_kernel() -> Result<(), LoadError> {
    match probe::missing_helper() {
        Ok(Some(helper)) => Err(LoadError::OldKernel {
            release: kernel_release(),
            helper,
        }),
        Ok(None) | Err(_) => Ok(()),
    }
}

/// `: errno 17 (File exists): <likely reason>` for an attach error.
fn errno_note(hook: &str, errno: Option<i32>) -> String {
    let Some(n) = errno else {
        return String::new();
    };
    let reason = attach::attach_reason(hook, n);
    let text = io::Error::from_raw_os_error(n);
    if reason.is_empty() {
        format!(" (errno {n}: {text})")
    } else {
        format!(" (errno {n}: {text}; {reason})")
    }
}

fn log_note(log: &Option<PathBuf>) -> String {
    match log {
        Some(p) => format!("; the verifier's log is in {}", p.display()),
        None => String::new(),
    }
}

/// Handles on the pinned maps of one namespace's firewall.
pub struct Kernel {
    config: Array<MapData, Config>,
    chains: Array<MapData, ChainInfo>,
    rules: Array<MapData, RuleInfo>,
    addr: LpmTrie<MapData, AddrKey, u32>,
    port: LpmTrie<MapData, PortKey, u32>,
    values: HashMap<MapData, ValueKey, u32>,
    summary: HashMap<MapData, ClassKey, Summary>,
    words: HashMap<MapData, WordKey, u64>,
    counters: PerCpuArray<MapData, Counter>,
    anomalies: PerCpuArray<MapData, u64>,
    drops: PerCpuArray<MapData, u64>,
    addrtype: LpmTrie<MapData, firewall_common::check::addrtype::Key, u32>,
    conntrack: HashMap<MapData, CtKey, CtEntry>,
    ct_config: Array<MapData, Timeouts>,
    ct_stats: PerCpuArray<MapData, u64>,
    log_configs: Array<MapData, firewall_common::log::Config>,
    log_stats: PerCpuArray<MapData, u64>,
    checks: Array<MapData, firewall_common::check::Check>,
    recent: HashMap<
        MapData,
        firewall_common::check::recent::Key,
        firewall_common::check::recent::Entry,
    >,
    hashlimit: HashMap<
        MapData,
        firewall_common::check::hashlimit::Key,
        firewall_common::check::hashlimit::Entry,
    >,
    hashlimit_tables: HashMap<MapData, u32, firewall_common::check::hashlimit::Table>,
    set_meta: HashMap<MapData, u32, firewall_common::check::set::Meta>,
    set_nets: LpmTrie<MapData, firewall_common::check::set::NetKey, u8>,
    set_ports: HashMap<MapData, firewall_common::check::set::PortKey, u8>,
    cpus: usize,
}

/// Removes the entries of `map` whose list or table (`id`) is not in
/// `keep` (sorted): `RECENT`'s and `HASHLIMIT`'s.
fn forget_unnamed<K: aya::Pod, V: aya::Pod>(
    map: &mut HashMap<MapData, K, V>,
    keep: &[u32],
    id: impl Fn(&K) -> u32,
    name: &'static str,
) -> Result<(), LoadError> {
    let keys: Vec<K> = map
        .keys()
        .collect::<Result<_, _>>()
        .map_err(map_err(name))?;
    for k in keys.iter().filter(|k| keep.binary_search(&id(k)).is_err()) {
        // Gone already (evicted meanwhile) is fine.
        let _ = map.remove(k);
    }
    Ok(())
}

fn map_err(name: &'static str) -> impl FnOnce(MapError) -> LoadError {
    move |e| LoadError::Map(name, e)
}

/// Removes the entries of `bank` from a keyed map. Keys are collected
/// first: deleting while walking with `BPF_MAP_GET_NEXT_KEY` skips keys.
macro_rules! purge {
    ($map:expr, $name:expr, $bank:expr, $id:expr) => {{
        let keys: Vec<_> = $map
            .keys()
            .collect::<Result<_, _>>()
            .map_err(map_err($name))?;
        for k in keys.iter().filter(|k| field_id_bank($id(k)) == $bank) {
            $map.remove(k).map_err(map_err($name))?;
        }
    }};
}

/// Removes the entries of `bank` from a hash map with batched syscalls.
macro_rules! purge_hash {
    ($map:expr, $name:expr, $bank:expr, $id:expr, $v:ty) => {{
        let fd = $map.map().fd().as_fd();
        let keys: Vec<_> = batch::keys::<_, $v>(fd)
            .map_err(|e| LoadError::Batch($name, e))?
            .into_iter()
            .filter(|k| field_id_bank($id(k)) == $bank)
            .collect();
        batch::delete(fd, &keys).map_err(|e| LoadError::Batch($name, e))?;
    }};
}

impl Kernel {
    fn from_maps(
        mut get: impl FnMut(&'static str) -> Result<MapData, LoadError>,
    ) -> Result<Self, LoadError> {
        let cpus = nr_cpus()
            .map_err(|(what, e)| LoadError::Cpus(format!("{what}: {e}")))?
            .get() as usize;
        Ok(Self {
            config: Array::try_from(Map::Array(get(maps::CONFIG)?))
                .map_err(map_err(maps::CONFIG))?,
            chains: Array::try_from(Map::Array(get(maps::CHAINS)?))
                .map_err(map_err(maps::CHAINS))?,
            rules: Array::try_from(Map::Array(get(maps::RULES)?)).map_err(map_err(maps::RULES))?,
            addr: LpmTrie::try_from(Map::LpmTrie(get(maps::ADDR_CLASS)?))
                .map_err(map_err(maps::ADDR_CLASS))?,
            port: LpmTrie::try_from(Map::LpmTrie(get(maps::PORT_CLASS)?))
                .map_err(map_err(maps::PORT_CLASS))?,
            values: HashMap::try_from(Map::HashMap(get(maps::VALUE_CLASS)?))
                .map_err(map_err(maps::VALUE_CLASS))?,
            summary: HashMap::try_from(Map::HashMap(get(maps::SUMMARY)?))
                .map_err(map_err(maps::SUMMARY))?,
            words: HashMap::try_from(Map::HashMap(get(maps::WORDS)?))
                .map_err(map_err(maps::WORDS))?,
            counters: PerCpuArray::try_from(Map::PerCpuArray(get(maps::COUNTERS)?))
                .map_err(map_err(maps::COUNTERS))?,
            anomalies: PerCpuArray::try_from(Map::PerCpuArray(get(maps::ANOMALIES)?))
                .map_err(map_err(maps::ANOMALIES))?,
            drops: PerCpuArray::try_from(Map::PerCpuArray(get(maps::DROPS)?))
                .map_err(map_err(maps::DROPS))?,
            addrtype: LpmTrie::try_from(Map::LpmTrie(get(maps::ADDRTYPE)?))
                .map_err(map_err(maps::ADDRTYPE))?,
            conntrack: HashMap::try_from(Map::LruHashMap(get(maps::CONNTRACK)?))
                .map_err(map_err(maps::CONNTRACK))?,
            ct_config: Array::try_from(Map::Array(get(maps::CT_CONFIG)?))
                .map_err(map_err(maps::CT_CONFIG))?,
            ct_stats: PerCpuArray::try_from(Map::PerCpuArray(get(maps::CT_STATS)?))
                .map_err(map_err(maps::CT_STATS))?,
            log_configs: Array::try_from(Map::Array(get(maps::LOG_CONFIGS)?))
                .map_err(map_err(maps::LOG_CONFIGS))?,
            log_stats: PerCpuArray::try_from(Map::PerCpuArray(get(maps::LOG_STATS)?))
                .map_err(map_err(maps::LOG_STATS))?,
            checks: Array::try_from(Map::Array(get(maps::CHECKS)?))
                .map_err(map_err(maps::CHECKS))?,
            recent: HashMap::try_from(Map::LruHashMap(get(maps::RECENT)?))
                .map_err(map_err(maps::RECENT))?,
            hashlimit: HashMap::try_from(Map::HashMap(get(maps::HASHLIMIT)?))
                .map_err(map_err(maps::HASHLIMIT))?,
            hashlimit_tables: HashMap::try_from(Map::HashMap(get(maps::HASHLIMIT_TABLES)?))
                .map_err(map_err(maps::HASHLIMIT_TABLES))?,
            set_meta: HashMap::try_from(Map::HashMap(get(maps::SET_META)?))
                .map_err(map_err(maps::SET_META))?,
            set_nets: LpmTrie::try_from(Map::LpmTrie(get(maps::SET_NETS)?))
                .map_err(map_err(maps::SET_NETS))?,
            set_ports: HashMap::try_from(Map::HashMap(get(maps::SET_PORTS)?))
                .map_err(map_err(maps::SET_PORTS))?,
            cpus,
        })
    }

    /// Opens the pinned maps; `None` when fw is not loaded in this namespace.
    ///
    /// # Errors
    /// [`LoadError::Incomplete`] when some pins exist and others do not.
    pub fn open(dirs: &Dirs) -> Result<Option<Self>, LoadError> {
        if !dirs.pins.exists() {
            return Ok(None);
        }
        Self::from_maps(|name| open_pin(dirs.map(name))).map(Some)
    }

    /// Loads the eBPF object and pins its maps and programs under
    /// `dirs.pins`, which must not exist yet. Nothing is attached.
    ///
    /// On error the caller removes `dirs.pins` (see [`remove_pins`]).
    ///
    /// # Errors
    /// [`LoadError::OldKernel`] on a kernel older than [`MIN_KERNEL`];
    /// [`LoadError::Load`] when the verifier or the kernel refuses the
    /// object; [`LoadError::Pin`] or [`LoadError::Io`] when pinning fails.
    pub fn install(dirs: &Dirs) -> Result<(Self, Ebpf), LoadError> {
        check_kernel()?;
        fs::create_dir_all(&dirs.pins).map_err(|source| LoadError::Io {
            path: dirs.pins.clone(),
            source,
        })?;
        let mut ebpf = load_object(conntrack_max(), &[])?;
        let xdp: &mut Xdp = program(&mut ebpf, PROG_XDP)?;
        xdp.load().map_err(|e| refused(dirs, PROG_XDP, e))?;
        for name in [PROG_TC, PROG_TC_IN] {
            let tc: &mut SchedClassifier = program(&mut ebpf, name)?;
            tc.load().map_err(|e| refused(dirs, name, e))?;
        }
        pin_programs(&mut ebpf, dirs, &PROGRAMS)?;
        if attach::interfaces()?
            .iter()
            .any(|i| i.attachable() && i.is_l3())
        {
            // Here, while the object still holds its maps, rather than
            // later from the pins ([`load_l3`]): one object, one set of
            // private maps.
            load_programs_l3(&mut ebpf, dirs)?;
        }
        let mut maps = Vec::new();
        // The object and firewall_common name the same maps: one fact.
        let declared: Vec<&str> = ebpf.maps().map(|(n, _)| n).collect();
        for name in &declared {
            // `.rodata` and the like hold the program's constants.
            let data_section = name.starts_with('.');
            if !data_section && !maps::ALL.contains(name) && !maps::PRIVATE.contains(name) {
                return Err(LoadError::Object(format!(
                    "map {name} is not in firewall_common::maps"
                )));
            }
        }
        for name in maps::ALL.iter().chain(&maps::PRIVATE) {
            if !declared.contains(name) {
                return Err(LoadError::Object(format!("map {name} is missing")));
            }
        }
        for name in maps::ALL {
            let map = ebpf.take_map(name).expect("checked above");
            let data = match map {
                Map::Array(d)
                | Map::PerCpuArray(d)
                | Map::LpmTrie(d)
                | Map::HashMap(d)
                | Map::LruHashMap(d)
                | Map::RingBuf(d) => d,
                _ => unreachable!("fw's maps are arrays, hashes, LPM tries and a ring buffer"),
            };
            let path = dirs.map(name);
            data.pin(&path)
                .map_err(|source| LoadError::Pin { path, source })?;
            maps.push((name, data));
        }
        let mut k = Self::from_maps(|name| {
            let i = maps
                .iter()
                .position(|(n, _)| *n == name)
                .expect("map taken");
            Ok(maps.swap_remove(i).1)
        })?;
        k.config
            .set(
                0,
                &Config {
                    live: NOT_LIVE,
                    spare_dirty: 0,
                },
                0,
            )
            .map_err(map_err(maps::CONFIG))?;
        k.set_timeouts(&Timeouts::DEFAULT)?;
        Ok((k, ebpf))
    }

    /// Every entry of the connection table, expired ones included.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the table cannot be read.
    pub fn ct_entries(&self) -> Result<Vec<(CtKey, CtEntry)>, LoadError> {
        self.conntrack
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(maps::CONNTRACK))
    }

    /// Removes every entry of the connection table; returns how many.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the table cannot be read or written.
    pub fn ct_flush(&mut self) -> Result<usize, LoadError> {
        let keys: Vec<CtKey> = self
            .conntrack
            .keys()
            .collect::<Result<_, _>>()
            .map_err(map_err(maps::CONNTRACK))?;
        for k in &keys {
            match self.conntrack.remove(k) {
                // Evicted or expired meanwhile by the kernel.
                Err(MapError::KeyNotFound) | Ok(()) => {}
                Err(e) => return Err(LoadError::Map(maps::CONNTRACK, e)),
            }
        }
        Ok(keys.len())
    }

    /// Writes one connection entry (for tests that preset a state).
    ///
    /// # Errors
    /// [`LoadError::Map`] when the write fails.
    pub fn ct_insert(&mut self, key: CtKey, entry: CtEntry) -> Result<(), LoadError> {
        self.conntrack
            .insert(&key, &entry, 0)
            .map_err(map_err(maps::CONNTRACK))
    }

    /// The connection timeouts in force.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn timeouts(&self) -> Result<Timeouts, LoadError> {
        self.ct_config.get(&0, 0).map_err(map_err(maps::CT_CONFIG))
    }

    /// Sets the connection timeouts (the kernel reads them per packet).
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be written.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), LoadError> {
        self.ct_config
            .set(0, t, 0)
            .map_err(map_err(maps::CT_CONFIG))
    }

    /// The connection table's size (its `max_entries`).
    pub fn ct_max(&self) -> u32 {
        self.conntrack.map().info().map_or(0, |i| i.max_entries())
    }

    /// The connection tracking counters, summed over CPUs.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn ct_stats(&self) -> Result<Vec<(Stat, u64)>, LoadError> {
        Stat::ALL
            .iter()
            .map(|&s| {
                let v: PerCpuValues<u64> = self
                    .ct_stats
                    .get(&(s as u32), 0)
                    .map_err(map_err(maps::CT_STATS))?;
                Ok((s, v.iter().sum()))
            })
            .collect()
    }

    /// The LOG counters, summed over CPUs.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn log_stats(&self) -> Result<Vec<(firewall_common::log::Stat, u64)>, LoadError> {
        firewall_common::log::Stat::ALL
            .iter()
            .map(|&s| {
                let v: PerCpuValues<u64> = self
                    .log_stats
                    .get(&s.index(), 0)
                    .map_err(map_err(maps::LOG_STATS))?;
                Ok((s, v.iter().sum()))
            })
            .collect()
    }

    /// The pinned `LOG_EVENTS` ring buffer, for `fw monitor`; `None` when
    /// fw is not loaded in this namespace.
    ///
    /// # Errors
    /// [`LoadError::Incomplete`] when the pin is missing, [`LoadError::Map`]
    /// when it is not a ring buffer.
    pub fn log_events(dirs: &Dirs) -> Result<Option<aya::maps::RingBuf<MapData>>, LoadError> {
        if !dirs.pins.exists() {
            return Ok(None);
        }
        let path = dirs.map(maps::LOG_EVENTS);
        let data = open_pin(path)?;
        aya::maps::RingBuf::try_from(Map::RingBuf(data))
            .map(Some)
            .map_err(map_err(maps::LOG_EVENTS))
    }

    /// The live bank, or `None` before the first ruleset.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn active_bank(&self) -> Result<Option<u32>, LoadError> {
        Ok(self
            .config
            .get(&0, 0)
            .map_err(map_err(maps::CONFIG))?
            .bank())
    }

    /// The live bank's `-m time` checks: each one's `--kerneltz` and the
    /// seconds it takes off the TAI clock (`firewall_common::check::KIND_TIME`).
    ///
    /// # Errors
    /// [`LoadError::Map`] when `CONFIG` or `CHECKS` cannot be read.
    pub fn time_adjusts(&self) -> Result<Vec<(bool, i32)>, LoadError> {
        use firewall_common::check::{KIND_TIME, MAX_CHECKS, slot, time::F_KERNEL_TZ};
        let Some(bank) = self.active_bank()? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for n in 0..MAX_CHECKS {
            let c = self
                .checks
                .get(&slot(bank, n), 0)
                .map_err(map_err(maps::CHECKS))?;
            if c.kind == KIND_TIME {
                out.push((c.arg & F_KERNEL_TZ != 0, (c.state >> 32) as u32 as i32));
            }
        }
        Ok(out)
    }

    /// The bank the next ruleset is written into: the one not live.
    ///
    /// # Errors
    /// As [`Kernel::active_bank`].
    pub fn spare_bank(&self) -> Result<u32, LoadError> {
        Ok(self
            .config
            .get(&0, 0)
            .map_err(map_err(maps::CONFIG))?
            .spare_bank())
    }

    fn purge(&mut self, bank: u32) -> Result<(), LoadError> {
        purge!(self.addr, maps::ADDR_CLASS, bank, |k: &Key<AddrKey>| {
            u32::from_be_bytes(k.data().id)
        });
        purge!(self.port, maps::PORT_CLASS, bank, |k: &Key<PortKey>| {
            u32::from_be_bytes(k.data().id)
        });
        purge_hash!(
            self.values,
            maps::VALUE_CLASS,
            bank,
            |k: &ValueKey| k.id,
            u32
        );
        purge_hash!(
            self.summary,
            maps::SUMMARY,
            bank,
            |k: &ClassKey| k.id,
            Summary
        );
        purge_hash!(self.words, maps::WORDS, bank, |k: &WordKey| k.id, u64);
        Ok(())
    }

    /// The generation of the live bank (see `firewall_common::Config`).
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn generation(&self) -> Result<u32, LoadError> {
        Ok(self
            .config
            .get(&0, 0)
            .map_err(map_err(maps::CONFIG))?
            .generation())
    }

    /// Writes `compiled` (compiled for [`Kernel::spare_bank`]) into the
    /// spare bank, then makes it live with one map write, so each packet
    /// sees either the old or the new ruleset, never a mix. Counter slots
    /// in `fresh` are zeroed first. Afterwards the old bank is emptied:
    /// exactly of `old`'s entries when the caller knows what it holds,
    /// else by walking the maps. Returns the new generation.
    ///
    /// # Errors
    /// [`LoadError::Map`] or [`LoadError::Batch`] when a map write fails
    /// (a full map, for one); the live bank is then unchanged.
    pub fn swap_in(
        &mut self,
        compiled: &Compiled,
        fresh: &[u32],
        old: Option<&Compiled>,
    ) -> Result<u32, LoadError> {
        let config = self.config.get(&0, 0).map_err(map_err(maps::CONFIG))?;
        let live = self.active_bank()?;
        let bank = self.spare_bank()?;
        let set = |k: &mut Self, c: Config| k.config.set(0, &c, 0).map_err(map_err(maps::CONFIG));
        if config.spare_dirty != 0 {
            // Left over from a swap that died half-way.
            self.purge(bank)?;
        }
        set(
            self,
            Config {
                spare_dirty: 1,
                ..config
            },
        )?;
        for slot in fresh {
            self.zero(*slot)?;
        }
        let rules: Vec<(u32, RuleInfo)> = (0..)
            .zip(&compiled.rules)
            .map(|(n, r)| (rule_slot(bank, 0, n), *r))
            .collect();
        batch::update(self.rules.map().fd().as_fd(), &rules)
            .map_err(|e| LoadError::Batch(maps::RULES, e))?;
        for (chain, info) in &compiled.chains {
            self.chains
                .set(chain_slot(bank, *chain), info, 0)
                .map_err(map_err(maps::CHAINS))?;
        }
        for (len, k, class) in &compiled.addr {
            self.addr
                .insert(&Key::new(*len, *k), class, 0)
                .map_err(map_err(maps::ADDR_CLASS))?;
        }
        for (len, k, class) in &compiled.port {
            self.port
                .insert(&Key::new(*len, *k), class, 0)
                .map_err(map_err(maps::PORT_CLASS))?;
        }
        batch::update(self.values.map().fd().as_fd(), &compiled.values)
            .map_err(|e| LoadError::Batch(maps::VALUE_CLASS, e))?;
        batch::update(self.summary.map().fd().as_fd(), &compiled.summaries)
            .map_err(|e| LoadError::Batch(maps::SUMMARY, e))?;
        batch::update(self.words.map().fd().as_fd(), &compiled.words)
            .map_err(|e| LoadError::Batch(maps::WORDS, e))?;
        for (n, c) in (0..).zip(&compiled.logs) {
            self.log_configs
                .set(firewall_common::log::config_slot(bank, n), c, 0)
                .map_err(map_err(maps::LOG_CONFIGS))?;
        }
        // Each check with its state zeroed: every bucket starts full with
        // the new ruleset, as with iptables-legacy's table replace.
        for (n, c) in (0..).zip(&compiled.checks) {
            self.checks
                .set(firewall_common::check::slot(bank, n), c, 0)
                .map_err(map_err(maps::CHECKS))?;
        }
        // The switch: one word the program reads once per packet.
        let generation = Config::next_generation(config.generation());
        let switched = Config {
            live: Config::live_word(generation, bank),
            spare_dirty: 1,
        };
        set(self, switched)?;
        // Lists no rule names any more go, as xt_recent frees a list with
        // its last rule (one the new ruleset keeps keeps its entries). The
        // change has happened: a failure here leaves stale entries of
        // lists no rule reads, and the next change retries.
        let _ = forget_unnamed(
            &mut self.recent,
            &compiled.recent_lists,
            |k| k.list,
            maps::RECENT,
        );
        // Hashlimit tables too, as xt_hashlimit frees a table with its last rule.
        let _ = forget_unnamed(
            &mut self.hashlimit,
            &compiled.hashlimit_tables,
            |k| k.table,
            maps::HASHLIMIT,
        );
        let _ = forget_unnamed(
            &mut self.hashlimit_tables,
            &compiled.hashlimit_tables,
            |k| *k,
            maps::HASHLIMIT_TABLES,
        );
        // The new ruleset is live: what follows only empties the old bank.
        // Should that fail, `spare_dirty` stays set and the next swap
        // empties it first; the change itself has happened, and is
        // reported as done (its record is committed).
        let _ = (|| -> Result<(), LoadError> {
            if let Some(live) = live {
                match old {
                    Some(old) => self.purge_exact(old)?,
                    None => self.purge(live)?,
                }
            }
            set(
                self,
                Config {
                    spare_dirty: 0,
                    ..switched
                },
            )
        })();
        Ok(generation)
    }

    /// The generation the next [`Kernel::swap_in`] makes live: what a
    /// write-ahead record of the change carries.
    ///
    /// # Errors
    /// As [`Kernel::generation`].
    pub fn next_generation(&self) -> Result<u32, LoadError> {
        Ok(Config::next_generation(self.generation()?))
    }

    /// The live generation, or `None` while no ruleset is live.
    ///
    /// # Errors
    /// As [`Kernel::generation`].
    pub fn live_generation(&self) -> Result<Option<u32>, LoadError> {
        Ok(match self.active_bank()? {
            Some(_) => Some(self.generation()?),
            None => None,
        })
    }

    /// Removes exactly `old`'s entries, which the caller compiled for the
    /// bank that was live; falls back to walking the maps if one is
    /// missing (the record did not describe the bank after all).
    fn purge_exact(&mut self, old: &Compiled) -> Result<(), LoadError> {
        let bank = self.spare_bank()?;
        let exact = (|| -> Result<(), LoadError> {
            for (len, k, _) in &old.addr {
                self.addr
                    .remove(&Key::new(*len, *k))
                    .map_err(map_err(maps::ADDR_CLASS))?;
            }
            for (len, k, _) in &old.port {
                self.port
                    .remove(&Key::new(*len, *k))
                    .map_err(map_err(maps::PORT_CLASS))?;
            }
            let keys = |v: &[(ValueKey, u32)]| v.iter().map(|(k, _)| *k).collect::<Vec<_>>();
            batch::delete(self.values.map().fd().as_fd(), &keys(&old.values))
                .map_err(|e| LoadError::Batch(maps::VALUE_CLASS, e))?;
            let keys: Vec<ClassKey> = old.summaries.iter().map(|(k, _)| *k).collect();
            batch::delete(self.summary.map().fd().as_fd(), &keys)
                .map_err(|e| LoadError::Batch(maps::SUMMARY, e))?;
            let keys: Vec<WordKey> = old.words.iter().map(|(k, _)| *k).collect();
            batch::delete(self.words.map().fd().as_fd(), &keys)
                .map_err(|e| LoadError::Batch(maps::WORDS, e))
        })();
        match exact {
            Ok(()) => Ok(()),
            Err(_) => self.purge(bank),
        }
    }

    /// Sets counter slot `slot` to zero on every CPU.
    ///
    /// # Errors
    /// [`LoadError::Map`].
    pub fn zero(&mut self, slot: u32) -> Result<(), LoadError> {
        let zeros = PerCpuValues::try_from(vec![Counter::default(); self.cpus])
            .map_err(|e| LoadError::Cpus(e.to_string()))?;
        self.counters
            .set(slot, zeros, 0)
            .map_err(map_err(maps::COUNTERS))
    }

    /// Sum over CPUs of counter slot `slot`: (packets, bytes).
    ///
    /// # Errors
    /// [`LoadError::Map`].
    pub fn read(&self, slot: u32) -> Result<Counter, LoadError> {
        let v = self
            .counters
            .get(&slot, 0)
            .map_err(map_err(maps::COUNTERS))?;
        Ok(v.iter().fold(Counter::default(), |a, c| Counter {
            packets: a.packets + c.packets,
            bytes: a.bytes + c.bytes,
        }))
    }

    /// Packets the kernel side dropped for each [`Anomaly`], summed over
    /// CPUs.
    /// All zero unless fw itself has a bug or its maps were written by
    /// something else.
    ///
    /// # Errors
    /// [`LoadError::Map`].
    pub fn anomalies(&self) -> Result<Vec<(Anomaly, u64)>, LoadError> {
        debug_assert_eq!(Anomaly::ALL.len() as u32, ANOMALY_SLOTS);
        Anomaly::ALL
            .into_iter()
            .map(|a| {
                let v = self
                    .anomalies
                    .get(&a.index(), 0)
                    .map_err(map_err(maps::ANOMALIES))?;
                Ok((a, v.iter().sum()))
            })
            .collect()
    }

    /// The local routing tables as `ADDRTYPE` holds them, sorted.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn local_table(&self) -> Result<Vec<LocalRoute>, LoadError> {
        use firewall_common::check::addrtype::prefix;
        let mut out = Vec::new();
        for k in self.addrtype.keys() {
            let k = k.map_err(map_err(maps::ADDRTYPE))?;
            let kind = self.addrtype.get(&k, 0).map_err(map_err(maps::ADDRTYPE))?;
            let data = k.data();
            out.push(LocalRoute {
                family: data.family,
                len: (k.prefix_len() - prefix(0)) as u8,
                addr: data.addr,
                kind: kind as u8,
            });
        }
        out.sort();
        Ok(out)
    }

    /// Makes `ADDRTYPE` hold `routes` (the local tables, as
    /// [`local_routes`] read them): new prefixes first, then the gone ones
    /// go, so a prefix in both is never missing meanwhile.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read or written.
    pub fn sync_local_table(&mut self, routes: &[LocalRoute]) -> Result<(), LoadError> {
        use aya::maps::lpm_trie::Key;
        use firewall_common::check::addrtype::{self, prefix};
        let key = |r: &LocalRoute| {
            Key::new(
                prefix(u32::from(r.len)),
                addrtype::Key {
                    family: r.family,
                    addr: r.addr,
                },
            )
        };
        let old = self.local_table()?;
        for r in routes {
            self.addrtype
                .insert(&key(r), &u32::from(r.kind), 0)
                .map_err(map_err(maps::ADDRTYPE))?;
        }
        let same =
            |a: &LocalRoute, b: &LocalRoute| (a.family, a.len, a.addr) == (b.family, b.len, b.addr);
        for r in old.iter().filter(|o| !routes.iter().any(|n| same(n, o))) {
            self.addrtype
                .remove(&key(r))
                .map_err(map_err(maps::ADDRTYPE))?;
        }
        Ok(())
    }

    /// Packets dropped before any rule, by reason (`DROPS`), all CPUs
    /// summed.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn malformed(&self) -> Result<Vec<(firewall_common::Malformed, u64)>, LoadError> {
        firewall_common::Malformed::ALL
            .into_iter()
            .map(|m| {
                let v = self
                    .drops
                    .get(&m.index(), 0)
                    .map_err(map_err(maps::DROPS))?;
                Ok((m, v.iter().sum()))
            })
            .collect()
    }

    /// The policy counter slot of IPv4's built-in chain index `chain`.
    pub fn policy_slot(chain: u32) -> u32 {
        Self::policy_slot_in(crate::model::Family::V4, chain)
    }

    /// The policy counter slot of `family`'s built-in chain index `chain`.
    pub fn policy_slot_in(family: crate::model::Family, chain: u32) -> u32 {
        debug_assert!(chain < BUILTIN_CHAINS);
        policy_counter(match family {
            crate::model::Family::V4 => chain,
            crate::model::Family::V6 => firewall_common::CHAIN6_BASE + chain,
        })
    }
}

/// `bpf(2)` commands from `<linux/bpf.h>` that aya does not wrap.
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_DETACH: libc::c_long = 34;

/// `bpf(2)` with a zero-padded `union bpf_attr` whose first words are `head`.
fn bpf(cmd: libc::c_long, head: &[u64]) -> io::Result<i64> {
    let mut attr = [0u64; 16];
    attr[..head.len()].copy_from_slice(head);
    // SAFETY: attr is a valid, zero-padded bpf_attr of the size given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Detaches the link pinned at `path` right away (Linux 5.9), rather than
/// when its last reference goes, which the kernel defers to a workqueue.
pub(crate) fn detach_link(path: &std::path::Path) -> io::Result<()> {
    use std::os::fd::{FromRawFd as _, OwnedFd};
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // BPF_OBJ_GET: pathname (u64 pointer), bpf_fd, file_flags.
    let fd = bpf(BPF_OBJ_GET, &[c.as_ptr() as u64])?;
    // SAFETY: the kernel returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    use std::os::fd::AsRawFd as _;
    // BPF_LINK_DETACH: link_fd in the low half of the first word.
    bpf(BPF_LINK_DETACH, &[fd.as_raw_fd() as u64]).map(|_| ())
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;

/// What the kernel says of a pinned XDP or TCX link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// The link's id.
    pub id: u32,
    /// The program it runs.
    pub prog_id: u32,
    /// The interface it is attached to; 0 once that interface is gone
    /// (deleted, or its namespace destroyed): the link is then defunct.
    pub ifindex: u32,
}

/// [`LinkState`] of the link pinned at `path` (`struct bpf_link_info`:
/// id at byte 4, prog_id at 8, `xdp.ifindex` and `tcx.ifindex` at 16).
///
/// # Errors
/// When the pin cannot be opened or its info read.
pub fn link_state(path: &std::path::Path) -> io::Result<LinkState> {
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fd = bpf(BPF_OBJ_GET, &[c.as_ptr() as u64])?;
    // SAFETY: the kernel returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut info = [0u8; 64];
    // bpf_fd, info_len, then the info pointer.
    bpf(
        BPF_OBJ_GET_INFO_BY_FD,
        &[
            fd.as_raw_fd() as u64 | (info.len() as u64) << 32,
            info.as_mut_ptr() as u64,
        ],
    )?;
    let word = |at: usize| u32::from_ne_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]]);
    Ok(LinkState {
        id: word(4),
        prog_id: word(8),
        ifindex: word(16),
    })
}

/// What [`gc`] removed of one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collected {
    /// The namespace's cookie.
    pub cookie: u64,
    /// Its pin directory was removed (the namespace no longer exists).
    pub pins: bool,
    /// Its state directory was removed.
    pub state: bool,
}

/// Numeric names in `dir` (namespace cookies), with `strip` removed first.
fn cookies_in(dir: &std::path::Path, strip: fn(&str) -> Option<&str>) -> Vec<u64> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| strip(e.file_name().to_str()?)?.parse().ok())
        .collect()
}

fn whole(name: &str) -> Option<&str> {
    Some(name)
}

/// Whether the namespace whose pins are `pins` is gone: the XDP link fw
/// pinned for its `lo` (which every namespace has and cannot delete) lost
/// its interface. `false` when that cannot be told.
fn namespace_gone(pins: &std::path::Path) -> bool {
    link_state(&pins.join("link_xdp@lo")).is_ok_and(|l| l.ifindex == 0)
}

/// Removes what other namespaces left behind: the pins, state and lock
/// of a namespace deleted without `fw reset` (~45 MiB of kernel memory
/// each), and state directories without a record and lock files with no
/// pins (after `fw reset` or a failed first load). A record without pins
/// is kept: its pins may only be out of this process's sight. Each namespace is
/// handled holding its lock, taken only if free, so a namespace where fw
/// is at work is left alone. Best effort: errors are skipped. Runs at
/// the start of every fw command, and as `fw gc`.
pub fn gc(dirs: &Dirs) -> Vec<Collected> {
    use crate::state::StateLock;
    let Some(pin_root) = dirs.pins.parent() else {
        return Vec::new();
    };
    let state_root = std::path::Path::new(pins::STATE_ROOT);
    let mut cookies = cookies_in(pin_root, whole);
    cookies.extend(cookies_in(pin_root, |n| {
        n.strip_suffix(pins::STAGED_SUFFIX)
    }));
    cookies.extend(cookies_in(state_root, whole));
    cookies.extend(cookies_in(std::path::Path::new(pins::LOCK_ROOT), whole));
    cookies.sort_unstable();
    cookies.dedup();
    let mut out = Vec::new();
    for cookie in cookies.into_iter().filter(|&c| c != dirs.cookie) {
        let name = cookie.to_string();
        let pins = pin_root.join(&name);
        // Checked before and again under the lock: most namespaces are alive.
        if pins.exists() && !namespace_gone(&pins) {
            continue;
        }
        let Some(lock) = StateLock::try_acquire(&pins::lock_path(cookie)) else {
            continue;
        };
        let state = state_root.join(&name);
        // Older fw versions lock `<state>/lock`: one at work there is left
        // alone too.
        let old_lock = state.join("lock");
        let _old = if old_lock.exists() {
            match StateLock::try_acquire(&old_lock) {
                Some(l) => Some(l),
                None => continue,
            }
        } else {
            None
        };
        // A first load that died before publishing (nobody holds the
        // lock, so nobody is loading): its links are detached.
        let staged = Dirs {
            cookie,
            pins: pin_root.join(format!("{name}{}", pins::STAGED_SUFFIX)),
            state: state.clone(),
            lock: pins::lock_path(cookie),
        };
        let removed_staged = staged.pins.exists() && remove_pins(&staged).is_ok();
        let has_pins = pins.exists();
        if has_pins && !namespace_gone(&pins) {
            continue;
        }
        let removed_pins = removed_staged || (has_pins && fs::remove_dir_all(&pins).is_ok());
        // A record without pins stays: this process may see another
        // bpffs than the one that namespace's fw pinned in (`unshare -m`
        // and a fresh mount), where its pins are merely out of sight.
        let recorded = crate::state::record_path(&state).exists();
        let removed_state = state.exists()
            && (has_pins || removed_staged || !recorded)
            && fs::remove_dir_all(&state).is_ok();
        // A daemon of a namespace that is gone holds nothing any more.
        let daemon = crate::state::DaemonLock::path_for(&pins::lock_path(cookie));
        if crate::state::DaemonLock::acquire(&daemon).is_ok() {
            let _ = fs::remove_file(&daemon);
        }
        lock.remove();
        if removed_pins || removed_state {
            out.push(Collected {
                cookie,
                pins: removed_pins,
                state: removed_state,
            });
        }
    }
    // Verifier logs are for people to read: they go after a day.
    for cookie in cookies_in(state_root, |n| {
        n.strip_prefix("verifier-")?.strip_suffix(".log")
    }) {
        let path = state_root.join(format!("verifier-{cookie}.log"));
        let old = fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 86_400));
        if old && cookie != dirs.cookie {
            let _ = fs::remove_file(path);
        }
    }
    out
}

/// Removes every pin of the namespace's firewall. The links are detached
/// first, so no packet meets the programs once this returns; unpinning
/// the maps and programs then frees them.
///
/// # Errors
/// [`LoadError::Io`] when the directory cannot be read or removed.
pub fn remove_pins(dirs: &Dirs) -> Result<(), LoadError> {
    let io_err = |source| LoadError::Io {
        path: dirs.pins.clone(),
        source,
    };
    // clsact filters hold their programs without a pin: removed first,
    // on every interface, by the programs' ids.
    let progs = tc_program_ids(dirs);
    if !progs.is_empty() {
        for i in attach::interfaces().unwrap_or_default() {
            attach::remove_filters(i.index, &progs);
        }
    }
    match fs::read_dir(&dirs.pins) {
        Ok(entries) => {
            for e in entries {
                let path = e.map_err(io_err)?.path();
                let is_link = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("link_"));
                if is_link {
                    // A link whose interface is gone is already detached.
                    let _ = detach_link(&path);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(e)),
    }
    match fs::remove_dir_all(&dirs.pins) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LoadError::Io {
            path: dirs.pins.clone(),
            source,
        }),
    }
}

/// Publishes a first load: renames the pin directory of `staged`
/// ([`Dirs::staged`]) to that of `dirs`. From then on the firewall is
/// this namespace's.
///
/// # Errors
/// [`LoadError::Io`] when the rename fails (nothing is published then).
pub fn publish(staged: &Dirs, dirs: &Dirs) -> Result<(), LoadError> {
    fs::rename(&staged.pins, &dirs.pins).map_err(|source| LoadError::Io {
        path: dirs.pins.clone(),
        source,
    })
}

/// Pins the loaded programs `names` of `ebpf`, replacing any old pin.
fn pin_programs(ebpf: &mut Ebpf, dirs: &Dirs, names: &[&str]) -> Result<(), LoadError> {
    for name in names {
        let path = dirs.prog(name);
        let _ = fs::remove_file(&path);
        ebpf.program_mut(name)
            .expect("program is in the embedded object")
            .pin(&path)
            .map_err(|source| LoadError::Pin { path, source })?;
    }
    Ok(())
}

/// Loads and pins [`PROGRAMS_L3`] of `ebpf`.
fn load_programs_l3(ebpf: &mut Ebpf, dirs: &Dirs) -> Result<(), LoadError> {
    for name in PROGRAMS_L3 {
        let tc: &mut SchedClassifier = program(ebpf, name)?;
        tc.load().map_err(|e| refused(dirs, name, e))?;
    }
    pin_programs(ebpf, dirs, &PROGRAMS_L3)
}

/// Loads and pins [`PROGRAMS_L3`] unless they are pinned already, for a
/// device without a link-layer header that appeared after
/// [`Kernel::install`]: in a new copy of the object whose maps are the
/// pinned ones (its private per-CPU scratch maps, match cache and LOG's
/// rate bucket are its own).
///
/// # Errors
/// [`LoadError::Incomplete`] when a pinned map is missing;
/// [`LoadError::Load`] when the pinned maps do not fit the object (pins
/// made by another fw: `fw reset`) or the kernel refuses it;
/// [`LoadError::Verifier`] or [`LoadError::Pin`].
pub(crate) fn load_l3(dirs: &Dirs) -> Result<(), LoadError> {
    if PROGRAMS_L3.iter().all(|n| dirs.prog(n).exists()) {
        return Ok(());
    }
    let paths: Vec<(&str, PathBuf)> = maps::ALL
        .iter()
        .map(|&name| (name, dirs.map(name)))
        .collect();
    if let Some((_, path)) = paths.iter().find(|(_, p)| !p.exists()) {
        // aya would create a map there that no other program uses.
        return Err(LoadError::Incomplete(path.clone()));
    }
    let conntrack = aya::maps::MapInfo::from_pin(dirs.map(maps::CONNTRACK))
        .map_err(map_err(maps::CONNTRACK))?
        .max_entries();
    let mut ebpf = load_object(conntrack, &paths)?;
    load_programs_l3(&mut ebpf, dirs)
}

/// The embedded object, its maps created (CONNTRACK with `conntrack`
/// entries) or, for the maps in `pinned`, opened from those pins; no
/// program loaded yet.
///
/// # Errors
/// [`LoadError::Load`] when aya cannot read the object, the kernel refuses
/// a map, or a pinned map does not fit the object.
fn load_object(conntrack: u32, pinned: &[(&str, PathBuf)]) -> Result<Ebpf, LoadError> {
    // -m owner's offsets (all zero, `valid` 0, on a kernel whose BTF
    // fw cannot read: the user side then refuses the match).
    let owner = btf::owner_offsets().unwrap_or_default();
    let xdp_meta = u32::from(probe::xdp_meta());
    let mut loader = aya::EbpfLoader::new();
    loader
        .map_max_entries(maps::CONNTRACK, conntrack)
        .override_global(firewall_common::check::owner::GLOBAL, &owner, true)
        .override_global(firewall_common::iface::XDP_META_GLOBAL, &xdp_meta, true);
    for (name, path) in pinned {
        loader.map_pin_path(name, path.as_path());
    }
    Ok(loader.load(EBPF_OBJECT)?)
}

/// Kernel ids of the pinned programs.
#[derive(Clone, Copy, Debug)]
pub struct ProgramIds {
    /// `fw_xdp`.
    pub xdp: u32,
    /// `fw_tc` (TCX egress).
    pub tc: u32,
    /// `fw_tc_in` (TCX ingress, veth's REJECT answers).
    pub tc_in: u32,
    /// `fw_tc_l3`: 0 until a device without a link-layer header is
    /// attached ([`PROGRAMS_L3`]).
    pub tc_l3: u32,
    /// `fw_tc_l3in`, as `tc_l3`.
    pub tc_l3_in: u32,
}

/// Kernel ids of the TC programs pinned in `dirs` (those of them that
/// are): what fw's clsact filters run ([`attach::fw_filters`]).
pub fn tc_program_ids(dirs: &Dirs) -> Vec<u32> {
    [PROG_TC, PROG_TC_IN, PROG_TC_L3, PROG_TC_L3_IN]
        .iter()
        .filter_map(|name| aya::programs::ProgramInfo::from_pin(dirs.prog(name)).ok())
        .map(|p| p.id())
        .collect()
}

/// Kernel ids of the pinned programs ([`ProgramIds`]).
///
/// # Errors
/// [`LoadError::Program`] when a pin of the first three cannot be opened.
pub fn program_ids(dirs: &Dirs) -> Result<ProgramIds, LoadError> {
    let id = |name: &'static str| {
        aya::programs::ProgramInfo::from_pin(dirs.prog(name))
            .map(|p| p.id())
            .map_err(|e| LoadError::Program(name, e))
    };
    Ok(ProgramIds {
        xdp: id(PROG_XDP)?,
        tc: id(PROG_TC)?,
        tc_in: id(PROG_TC_IN)?,
        tc_l3: id(PROG_TC_L3).unwrap_or(0),
        tc_l3_in: id(PROG_TC_L3_IN).unwrap_or(0),
    })
}

/// Kernel ids of the XDP and TC links pinned for `ifname`, `None` where a
/// pin is missing.
pub fn link_ids(dirs: &Dirs, ifname: &str) -> (Option<u32>, Option<u32>) {
    let id = |hook| {
        aya::programs::links::PinnedLink::from_pin(dirs.link(hook, ifname))
            .ok()
            .and_then(|l| aya::programs::links::FdLink::from(l).info().ok())
            .map(|i| i.id())
    };
    (id("xdp"), id("tc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_without_a_helper_is_refused_naming_it_and_the_kernel_with_it() {
        let e = LoadError::OldKernel {
            release: "5.15.0-91-generic".into(),
            helper: probe::HELPERS[4],
        };
        assert_eq!(
            e.to_string(),
            "this kernel (Linux 5.15.0-91-generic) lacks the BPF helper bpf_loop, which fw's \
             programs call (Linux 5.17 and later have it); fw needs Linux 6.1 or later with \
             eBPF (CONFIG_BPF_SYSCALL, CONFIG_BPF_JIT)"
        );
    }

    /// A refused program: the message names the file the verifier's log
    /// went to, and the file holds the log.
    #[test]
    fn a_verifier_rejection_saves_the_log_to_the_file_it_names() {
        let cookie = u64::MAX - u64::from(std::process::id());
        let dirs = Dirs {
            cookie,
            pins: PathBuf::from("/nonexistent"),
            state: PathBuf::from("/nonexistent"),
            lock: PathBuf::from("/nonexistent"),
        };
        let log = "0: R1=ctx() R10=fp0\n0: (85) call unknown#999\ninvalid func unknown#999\n";
        let e = refused(
            &dirs,
            PROG_XDP,
            ProgramError::LoadError {
                io_error: io::Error::from_raw_os_error(libc::EINVAL),
                verifier_log: aya_obj::VerifierLog::new(log.into()),
            },
        );
        let path = dirs.verifier_log();
        let saved = fs::read_to_string(&path);
        let _ = fs::remove_file(&path);
        assert_eq!(saved.unwrap(), log);
        assert_eq!(
            e.to_string(),
            format!(
                "the kernel refused eBPF program {PROG_XDP}: Invalid argument (os error 22) ({}); \
                 the verifier's log is in /run/fw/verifier-{cookie}.log",
                kernel_note()
            )
        );
    }
}
