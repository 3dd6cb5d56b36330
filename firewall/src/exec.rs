//! Executes one parsed command against the namespace's firewall: edits the
//! persisted ruleset, recompiles it and swaps it into the kernel, or reads
//! it back with the kernel's counters; `fw save` and `fw restore`.
//!
//! Every change is all-or-nothing: the command is applied to a copy of the
//! state ([`crate::offline`]), the result checked as the kernel checks a table
//! ([`crate::model::check`]) and for what fw cannot enforce yet
//! ([`crate::model::support`], "not supported yet", exit status 2), then
//! compiled before the kernel is touched, its record written ahead (with
//! the generation it goes live with, [`state::write_ahead`]), written into
//! the bank no packet reads, made live by one map write, and then its
//! record renamed into place. Any error before the switch leaves the
//! running firewall exactly as it was; a crash anywhere is finished or
//! undone by the next command ([`current`]), which also refuses to list or
//! change a firewall whose record is not of the kernel's live generation
//! ([`Inconsistent`]).

use std::{fmt::Write as _, io, path::PathBuf};

use crate::{
    command::Invocation,
    compile::{self, CompileError},
    diff,
    edit::EditError,
    load::{
        self, Kernel, LoadError,
        attach::{self, Interface},
        host,
        pins::{Dirs, PinsError},
    },
    model::{BuiltinChain, Family, Policy},
    offline::{self, CounterRef},
    parse::services::Services,
    render::{self, Counters, Counts},
    restore::{self, RestoreError, RestoreOptions},
    state::{self, State, StateError, StateLock},
    yaml::{self, YamlError},
};

/// Errors executing a command, each with iptables' exit status
/// ([`ExecError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A command iptables would refuse, or fw cannot enforce yet.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// A restore file that failed at one of its lines.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// The process lacks a capability fw needs.
    #[error("Permission denied (you must be root): fw lacks {0}")]
    Permission(String),
    /// The ruleset cannot be compiled.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The kernel refused the programs or maps.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// bpffs pins.
    #[error(transparent)]
    Pins(#[from] PinsError),
    /// The state directory.
    #[error(transparent)]
    State(#[from] StateError),
    /// The kernel enforces a ruleset that the record does not describe.
    #[error(transparent)]
    Inconsistent(#[from] Inconsistent),
    /// A YAML ruleset that cannot be read or applied.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// fw is loaded, but its pins are not in the bpffs this process sees.
    #[error(transparent)]
    Hidden(#[from] HiddenPins),
    /// The ruleset filters, and an interface of the namespace is one fw's
    /// programs cannot parse (neither Ethernet-like nor starting at the IP
    /// header: ipip, gre, ppp, ...): applying it would let that
    /// interface's packets bypass the rules netfilter applies to them, so
    /// the change is refused (exit 1).
    #[error(
        "interface {ifname} ({}) cannot be filtered yet: {}; not supported yet: rules or a \
         DROP policy in a namespace with such an interface (the firewall is left as it was)",
        why.what(),
        why.why()
    )]
    Unfilterable {
        /// The interface's name.
        ifname: String,
        /// Why: its `ARPHRD_*` link type (`<linux/if_arp.h>`), or a VLAN.
        why: attach::Unfilterable,
    },
    /// The ruleset filters, and the namespace does NAT
    /// ([`host::nat_rewriters`]): fw's XDP hook sees a port-forwarded
    /// packet before DNAT (addressed to the host: INPUT, not FORWARD) and
    /// a masqueraded connection's replies before their de-NAT, so its
    /// verdicts would differ from netfilter's (exit 2).
    #[error(
        "not supported yet: rules or a DROP policy while {} (NAT rewrites packets after fw's \
         hook sees them: a DNAT'd packet would meet INPUT instead of FORWARD, and masqueraded \
         replies would not be ESTABLISHED; docs/semantics.md, \"NAT\"; the firewall is left \
         as it was)",
        found.join(", ")
    )]
    Nat {
        /// What does NAT, as [`host::nat_rewriters`] words it.
        found: Vec<String>,
    },
    /// The ruleset filters, and the namespace has IPsec states
    /// ([`host::xfrm_states`]): packets it decrypts would reach netfilter
    /// but not fw's XDP hook (exit 1).
    #[error(
        "the namespace has {states} IPsec (xfrm) state(s): packets they decrypt would bypass \
         fw's hooks; not supported yet: rules or a DROP policy beside IPsec (the firewall is \
         left as it was)"
    )]
    Ipsec {
        /// How many states `ip xfrm state` lists.
        states: usize,
    },
    /// The ruleset has `-m mark`, and something on the host may mark
    /// packets before netfilter's filter table ([`host::mark_setters`]),
    /// where fw's XDP hook sees every packet unmarked: the rule could
    /// match another set of packets in fw than in netfilter (exit 2).
    #[error(
        "not supported yet: -m mark ({chain} rule {rule}) while {} (it may mark packets \
         before the filter table, where fw sees them unmarked; the firewall is left as it was)",
        found.join(", ")
    )]
    MarkUnseen {
        /// The chain of the first rule with `-m mark`.
        chain: String,
        /// Its number in the chain, from 1.
        rule: usize,
        /// What was found, each worded for the message.
        found: Vec<String>,
    },
    /// The host could not be asked what may mark packets.
    #[error("cannot tell what else on the host marks packets: {0}")]
    Host(io::Error),
    /// The local routing table (for `-m addrtype`) could not be read.
    #[error("cannot read the local routing table: {0}")]
    Routes(io::Error),
    /// The local routing table has more routes than `ADDRTYPE` holds
    /// (exit 4).
    #[error(
        "-m addrtype: the local routing tables have {routes} routes, fw holds at most {max} \
         (the firewall is left as it was)"
    )]
    LocalTableTooBig {
        /// Routes in table 255.
        routes: usize,
        /// [`firewall_common::check::addrtype::MAX_ENTRIES`].
        max: u32,
    },
    /// A rule's `-m set` names a set `fw set` has not created, or one of
    /// the other family (exit 2, iptables' messages).
    #[error("{0}")]
    SetUnusable(crate::parse::ParseError),
    /// `fw set` failed.
    #[error(transparent)]
    Set(#[from] crate::sets::SetError),
    /// The ruleset has `-m owner`, and the kernel's BTF does not say
    /// where a socket's credentials are (exit 1).
    #[error(
        "cannot enforce -m owner: {0} (fw reads a socket's owner with the kernel's BTF; the \
         firewall is left as it was)"
    )]
    OwnerBtf(#[source] crate::load::btf::BtfError),
}

/// fw's record says it is loaded and a recorded interface still runs an
/// XDP program, but the pins are not where this process looks: its mount
/// namespace has another bpffs at `/sys/fs/bpf` than the one fw was
/// loaded with (`unshare -m` and `mount -t bpf`, say). What the kernel
/// enforces is then unknown here, so fw refuses (exit status 1) rather
/// than list an empty ruleset or load a second firewall.
#[derive(Debug, thiserror::Error)]
#[error(
    "{record} says fw is loaded and {ifname} runs an XDP program (id {prog}), but fw's \
     pins are not at {pins}: this mount namespace sees another bpffs than the one fw was \
     loaded with; run fw where that bpffs is mounted (what the kernel enforces stays as it is)",
    record = state::record_path(&self.state).display(),
    pins = self.pins.display()
)]
pub struct HiddenPins {
    /// The namespace's state directory (`/run/fw/<cookie>`).
    pub state: PathBuf,
    /// Where the pins were looked for (`<bpffs>/fw/<cookie>`).
    pub pins: PathBuf,
    /// A recorded interface that runs an XDP program.
    pub ifname: String,
    /// That program's id.
    pub prog: u32,
}

/// [`HiddenPins`] when the pins are missing but the record and an
/// interface's XDP program say fw is loaded; after a reboot, or in a
/// deleted namespace whose cookie came back, the recorded interfaces run
/// no XDP program and the record is stale.
fn hidden_pins(dirs: &Dirs) -> Result<(), ExecError> {
    if dirs.pins.exists() {
        return Ok(());
    }
    let Some(record) = state::read(&dirs.state)? else {
        return Ok(());
    };
    let ifaces = attach::interfaces()?;
    for a in &record.attachments {
        if let Some(i) = ifaces
            .iter()
            .find(|i| i.index == a.ifindex && i.name == a.ifname && i.xdp_prog != 0)
        {
            return Err(HiddenPins {
                state: dirs.state.clone(),
                pins: dirs.pins.clone(),
                ifname: i.name.clone(),
                prog: i.xdp_prog,
            }
            .into());
        }
    }
    Ok(())
}

/// The kernel enforces a ruleset that fw's record does not describe: the
/// record was removed (`rm -rf /run/fw`), or it and the kernel were
/// changed by something other than fw. fw then refuses to list or change
/// the firewall until the user says what it is (exit status 1).
#[derive(Debug, thiserror::Error)]
#[error(
    "{}; fw will neither list, save nor change a firewall it has no true record of \
     (what it enforces stays as it is): `fw restore FILE` replaces it with the \
     ruleset in FILE, `fw reset` removes it (every packet passes then)",
    self.what()
)]
pub struct Inconsistent {
    /// The namespace's record (`/run/fw/<cookie>/state.json`).
    pub record: PathBuf,
    /// The generation it records, `None` when it is missing.
    pub recorded: Option<u32>,
    /// The generation the kernel enforces, `None` when none is live.
    pub live: Option<u32>,
}

impl Inconsistent {
    fn what(&self) -> String {
        let record = self.record.display();
        match (self.recorded, self.live) {
            (None, Some(g)) => {
                format!("{record} is missing, but the kernel enforces a ruleset (generation {g})")
            }
            (Some(r), Some(g)) => {
                format!("{record} records generation {r}, but the kernel enforces generation {g}")
            }
            (Some(r), None) => {
                format!("{record} records generation {r}, but no ruleset is live in the kernel")
            }
            (None, None) => format!("{record} is missing"),
        }
    }
}

/// What fw knows of the namespace's firewall once a change that died
/// half-way is finished or undone ([`current`]).
enum Current {
    /// The record describes what the kernel enforces, or fw is not loaded
    /// and nothing is enforced.
    Known(Box<State>),
    /// The kernel enforces something the record does not describe.
    Unknown(Inconsistent),
}

impl Current {
    /// The state, or the inconsistency as the error that refuses the command.
    fn known(self) -> Result<State, ExecError> {
        match self {
            Self::Known(s) => Ok(*s),
            Self::Unknown(i) => Err(i.into()),
        }
    }
}

impl ExecError {
    /// The chain, target or token the error is about, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::Edit(e) => e.token(),
            Self::Restore(e) => e.token(),
            _ => None,
        }
    }

    /// iptables' exit status for this error: 1 (OTHER_PROBLEM) for a
    /// command that cannot be carried out, 2 (PARAMETER_PROBLEM) for a
    /// feature fw refuses, 3 (VERSION_PROBLEM) for missing privileges and
    /// a kernel or bpffs fw cannot load into, 4 (RESOURCE_PROBLEM) for
    /// limits.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Edit(e) => e.exit_code(),
            Self::Restore(e) => e.exit_code(),
            Self::State(e) => e.exit_code(),
            Self::Yaml(e) => e.exit_code(),
            Self::Compile(CompileError::NotSupported(_))
            | Self::MarkUnseen { .. }
            | Self::Nat { .. }
            | Self::SetUnusable(_) => 2,
            Self::Set(e) => e.exit_code(),
            Self::Permission(_) => 3,
            // 3 too, as iptables' VERSION_PROBLEM for "can't initialize
            // iptables table: ... Perhaps iptables or your kernel needs to
            // be upgraded": the kernel cannot take fw here.
            Self::Load(
                LoadError::OldKernel { .. }
                | LoadError::Load(_)
                | LoadError::Verifier { .. }
                | LoadError::PinRefused { .. },
            )
            | Self::Pins(PinsError::NoBpffs | PinsError::Mount(_) | PinsError::Cookie(_)) => 3,
            Self::Compile(CompileError::TooManyRules { .. }) | Self::LocalTableTooBig { .. } => 4,
            _ => 1,
        }
    }

    /// Whether the message is printed as it is, without fw's `fw: ` prefix:
    /// iptables prints its lock message that way.
    pub fn bare(&self) -> bool {
        matches!(self, Self::State(StateError::Busy { .. }))
    }
}

/// Capabilities fw needs (capabilities(7)): CAP_BPF to load programs and
/// create maps, CAP_PERFMON for the verifier to accept the programs'
/// pointer arithmetic (without it the load fails with a long verifier
/// log), CAP_NET_ADMIN to attach XDP and TCX; CAP_SYS_ADMIN covers the
/// first two. (CAP_SYS_ADMIN is also needed to mount bpffs, which fw does
/// only when it is missing, and says so then.)
///
/// # Errors
/// [`ExecError::Permission`] naming every missing one.
pub fn check_privileges() -> Result<(), ExecError> {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |c: u32| eff & (1 << c) != 0;
    let mut missing = Vec::new();
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_PERFMON");
    }
    if !has(CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(ExecError::Permission(one.to_string())),
        [init @ .., last] => Err(ExecError::Permission(format!(
            "{} and {last}",
            init.join(", ")
        ))),
    }
}

/// `fw gc`: removes the pins, state and lock files of namespaces that no
/// longer exist (every fw command does this first, quietly) and says what
/// it removed.
///
/// # Errors
/// As [`check_privileges`] and [`Dirs::current`].
pub fn gc() -> Result<String, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let mut out = String::new();
    for c in load::gc(&dirs) {
        let what = match (c.pins, c.state) {
            (true, true) => "pins and state",
            (true, false) => "pins",
            (false, true) => "state",
            (false, false) => "lock",
        };
        let _ = writeln!(out, "removed netns cookie {}: {what}", c.cookie);
    }
    Ok(out)
}

/// The quiet garbage collection every fw command starts with, so a deleted
/// namespace's firewall does not outlive it for long. Skipped without the
/// privileges (the command then says what is missing).
pub fn gc_quietly() {
    if check_privileges().is_ok()
        && let Ok(dirs) = Dirs::current()
    {
        load::gc(&dirs);
    }
}

/// Runs `inv` in the calling thread's network namespace and returns what
/// it prints on standard output: [`offline::execute`] on the current state
/// with the kernel's counters, then the counters it zeroes are zeroed and a
/// changed ruleset is loaded.
///
/// # Errors
/// Any [`ExecError`]; the firewall is then unchanged.
pub fn run(inv: &Invocation) -> Result<String, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    // Reading a namespace where fw never ran leaves nothing behind.
    let mut lock = if offline::read_only(&inv.command) && !loaded_or_loading(&dirs) {
        None
    } else {
        Some(StateLock::acquire(&dirs.state)?)
    };
    let mut found = current(&dirs, lock.is_some())?;
    if lock.is_none() && matches!(found, Current::Unknown(_)) {
        // A first load published its pins since: its record follows
        // under the lock.
        lock = Some(StateLock::acquire(&dirs.state)?);
        found = current(&dirs, true)?;
    }
    let _lock = lock;
    let old = found.known()?;
    // The command's family's table in `ruleset` (the record keeps IPv4's).
    let view = old.clone().for_family(inv.family);
    // libxt_set asks for a rule's set as the rule is read, so -C and -D
    // name only sets that exist, of the rule's family, too.
    for rule in inv.command.rules() {
        for m in &rule.matches {
            if let crate::model::Match::Set(s) = m
                && let Some(e) = crate::sets::unusable(&view.sets, &s.name, inv.family)
            {
                return Err(ExecError::SetUnusable(e));
            }
        }
    }
    let done = offline::execute(&view, inv, Services::system(), true, |st| counts(&dirs, st))?;
    let zeroing = matches!(
        inv.command,
        crate::command::Command::Zero { .. }
            | crate::command::Command::List {
                zero: crate::command::Zeroing::Chain | crate::command::Zeroing::Rule,
                ..
            }
            | crate::command::Command::ListRules {
                zero: crate::command::Zeroing::Chain | crate::command::Zeroing::Rule,
                ..
            }
    );
    zero_counters(&dirs, &done.zero, zeroing, inv.family)?;
    if let Some(new) = done.state {
        apply(
            &dirs,
            &old,
            new.for_family(Family::V4),
            &done.fresh,
            inv.family,
        )?;
    }
    Ok(done.output)
}

/// Whether fw is loaded in this namespace, or a first load is (or was,
/// when it died) under way: then even a listing takes the lock, to see
/// the load finished or undone.
fn loaded_or_loading(dirs: &Dirs) -> bool {
    dirs.pins.exists() || dirs.staged().pins.exists()
}

/// The state of this namespace's firewall, once what a killed fw left
/// half-done is finished or undone (with `locked`, holding the lock):
/// a first load that was not published is removed, its links detached;
/// a write-ahead record is rolled forward when the kernel runs its
/// generation, else discarded ([`state::recover`]). Then the record must
/// be of the generation the kernel enforces, or the firewall is
/// [`Current::Unknown`]. A record without pins is stale (the pins went
/// with a reboot or a deleted namespace whose cookie came back): the
/// ruleset is then empty.
fn current(dirs: &Dirs, locked: bool) -> Result<Current, ExecError> {
    let staged = dirs.staged();
    if locked && staged.pins.exists() {
        // Nothing half-loaded stays enforced.
        load::remove_pins(&staged)?;
    }
    let Some(k) = Kernel::open(dirs)? else {
        hidden_pins(dirs)?;
        if locked {
            state::recover(&dirs.state, None)?;
        }
        return Ok(Current::Known(Box::default()));
    };
    let live = k.live_generation()?;
    if locked {
        state::recover(&dirs.state, live)?;
    }
    let record = state::read(&dirs.state)?;
    Ok(match (record, live) {
        (Some(r), Some(g)) if r.generation == g => Current::Known(Box::new(r)),
        // Loaded, nothing live and nothing recorded: nothing is enforced.
        (None, None) => Current::Known(Box::new(unknown_base(dirs))),
        (r, live) => Current::Unknown(Inconsistent {
            record: state::record_path(&dirs.state),
            recorded: r.map(|r| r.generation),
            live,
        }),
    })
}

/// An empty state with the links pinned in `dirs.pins` as its
/// attachments: what a change starts from when the record cannot be
/// trusted (the links are there whatever the record says).
fn unknown_base(dirs: &Dirs) -> State {
    let links = pinned_links(dirs);
    let attachments = links
        .iter()
        .filter_map(|(hook, name, l)| match l {
            // The input link: XDP, or TCX ingress on a device without XDP
            // (an L3 device).
            Some(l)
                if l.ifindex != 0
                    && (hook == "xdp"
                        || hook == "tcin"
                            && !links.iter().any(|(h, n, _)| h == "xdp" && n == name)) =>
            {
                Some(state::Attachment {
                    ifname: name.clone(),
                    ifindex: l.ifindex,
                    xdp_mode: "unknown".into(),
                    tc: attach::tc_mechanism(),
                })
            }
            _ => None,
        })
        .filter(|a| links.iter().any(|(h, n, _)| h == "tc" && *n == a.ifname))
        .collect();
    State {
        attachments,
        ..State::default()
    }
}

/// Zeroes `zero` (of `family`'s table) in the kernel (nothing where fw is
/// not loaded). `-Z` is a change of the table to iptables-legacy, so then
/// every built-in chain's policy counters go to zero too, whichever chain
/// was named.
fn zero_counters(
    dirs: &Dirs,
    zero: &[CounterRef],
    zeroing: bool,
    family: Family,
) -> Result<(), ExecError> {
    if zero.is_empty() && !zeroing {
        return Ok(());
    }
    let Some(mut k) = Kernel::open(dirs)? else {
        return Ok(());
    };
    for c in zero {
        k.zero(match c {
            CounterRef::Rule(slot) => *slot,
            CounterRef::Policy(b) => Kernel::policy_slot_in(family, b.map_index()),
        })?;
    }
    for b in BuiltinChain::ALL.into_iter().filter(|_| zeroing) {
        k.zero(Kernel::policy_slot_in(family, b.map_index()))?;
    }
    Ok(())
}

/// Counters of every policy and rule of `state`'s table (`ruleset`, of
/// its family), zero where fw is not loaded.
fn counts(dirs: &Dirs, state: &State) -> Result<Counters, ExecError> {
    let k = Kernel::open(dirs)?;
    let read = |slot: u32| -> Result<Counts, ExecError> {
        Ok(match &k {
            Some(k) => {
                let c = k.read(slot)?;
                Counts {
                    packets: c.packets,
                    bytes: c.bytes,
                }
            }
            None => Counts::default(),
        })
    };
    let mut counters = Counters::default();
    for (i, c) in BuiltinChain::ALL.into_iter().enumerate() {
        counters.policy[i] = read(Kernel::policy_slot_in(state.ruleset.family, c.map_index()))?;
    }
    for (chain, rules) in state.ruleset.all_rules() {
        let slots = state.chain_slots(chain);
        let counts = (0..rules.len())
            .map(|n| slots.get(n).map_or(Ok(Counts::default()), |s| read(*s)))
            .collect::<Result<_, _>>()?;
        counters.rules.insert(chain.to_string(), counts);
    }
    Ok(counters)
}

/// The local time as iptables-save prints it (`ctime`'s format, without
/// its newline): `Mon Nov 30 00:11:04 2026`.
fn now() -> String {
    // SAFETY: time(NULL), then localtime_r and strftime into buffers we own.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a %b %e %H:%M:%S %Y".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// `fw save [--counters]`: `family`'s filter table in iptables-save(8)
/// (ip6tables-save) format, with the kernel's counters (policy counters
/// always, as iptables-save prints them; rule counters as
/// `[PACKETS:BYTES]` with `counters`).
///
/// # Errors
/// As [`run`].
pub fn save(counters: bool, family: Family) -> Result<String, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let _lock = StateLock::acquire(&dirs.state)?;
    let st = current(&dirs, true)?.known()?.for_family(family);
    let k = counts(&dirs, &st)?;
    let program = match family {
        Family::V4 => format!("fw save v{}", env!("CARGO_PKG_VERSION")),
        Family::V6 => format!("fw6 save v{}", env!("CARGO_PKG_VERSION")),
    };
    Ok(render::save(
        &st.ruleset,
        &k,
        counters,
        Some((&program, &now())),
    ))
}

/// `fw save --format yaml`: the filter table as a YAML ruleset
/// ([`yaml::save`]; no counters).
///
/// # Errors
/// As [`run`].
pub fn save_yaml() -> Result<String, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let _lock = StateLock::acquire(&dirs.state)?;
    let st = current(&dirs, true)?.known()?;
    let program = format!("fw save v{}", env!("CARGO_PKG_VERSION"));
    let kernel = Kernel::open(&dirs)?;
    let mut sets = Vec::new();
    for (name, def) in &st.sets {
        let members = match &kernel {
            Some(k) => k.set_members(firewall_common::check::set::id(name.as_bytes()))?,
            None => Vec::new(),
        };
        sets.push(yaml::YamlSet {
            name: name.clone(),
            def: *def,
            members: Some(members),
        });
    }
    // The IPv6 table when it holds anything (applying the file then
    // gives it back; without the section apply leaves IPv6's as it is).
    let six = st.table(Family::V6);
    let ipv6 = (*six != crate::model::Ruleset::new(Family::V6)).then_some(six);
    Ok(yaml::save_with_sets(
        &st.ruleset,
        ipv6,
        &sets,
        Some((&program, &now())),
    ))
}

/// What `fw apply` does with a YAML ruleset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyMode {
    /// Make it the ruleset in force.
    Apply,
    /// `--check`: only check it, touching nothing.
    Check,
    /// `--diff`: say what applying it would change.
    Diff,
}

/// `fw apply [--check|--diff] FILE`: YAML ruleset `text` (read from
/// `file`) replaces the whole filter table through the restore engine
/// ([`yaml::restore`]) and is loaded as [`restore`] loads a file, under the
/// same lock; rules that did not change keep their counters
/// ([`diff::keep_counters`]). Returns what `--diff` prints (empty
/// otherwise), and whether anything would change.
///
/// # Errors
/// [`ExecError::Yaml`] naming the file's line and column; as [`run`].
/// Nothing changes on error.
pub fn apply_yaml(text: &str, file: &str, mode: ApplyMode) -> Result<(String, bool), ExecError> {
    if mode == ApplyMode::Check {
        // As `iptables-restore --test`: the file, against the sets the
        // namespace has (as the kernel's ipsets are there for iptables),
        // when fw's record can be read, and the file's own.
        let mut base = State::default();
        if let Ok(dirs) = Dirs::current()
            && let Ok(Some(st)) = state::read(&dirs.state)
        {
            base.sets = st.sets;
        }
        yaml::restore(&base, text, file, true, Services::system())?;
        crate::sets::check_declared(&base.sets, &yaml::sets(text, file)?, file)?;
        return Ok((String::new(), false));
    }
    check_privileges()?;
    let dirs = Dirs::current()?;
    let _lock = StateLock::acquire(&dirs.state)?;
    let old = match current(&dirs, true)? {
        Current::Known(st) => *st,
        // The file states the whole table, as a restore file does.
        Current::Unknown(i) if mode == ApplyMode::Apply => {
            eprintln!(
                "fw apply: warning: replacing a ruleset fw had no true record of ({})",
                i.what()
            );
            unknown_base(&dirs)
        }
        Current::Unknown(i) => return Err(i.into()),
    };
    let mut new = yaml::restore(&old, text, file, true, Services::system())?.state;
    let sets = yaml::sets(text, file)?;
    crate::sets::check_declared(&old.sets, &sets, file)?;
    // What the file's member lists change: (set, to add, to remove).
    let kernel = Kernel::open(&dirs)?;
    let mut member_changes = Vec::new();
    for s in &sets {
        let Some(want) = &s.members else { continue };
        // A member listed twice (or in two overlapping ranges) is one.
        let want: Vec<_> = want
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let have = match &kernel {
            Some(k) if old.sets.contains_key(&s.name) => {
                k.set_members(firewall_common::check::set::id(s.name.as_bytes()))?
            }
            _ => Vec::new(),
        };
        let add: Vec<_> = want.iter().filter(|m| !have.contains(m)).copied().collect();
        let del: Vec<_> = have.iter().filter(|m| !want.contains(m)).copied().collect();
        if !add.is_empty() || !del.is_empty() {
            member_changes.push((s.name.clone(), add, del));
        }
    }
    let mut changes = String::new();
    for s in &sets {
        if !old.sets.contains_key(&s.name) {
            // As `fw set create` takes it (inet is its default).
            let family = match s.def.family {
                crate::model::set::SetFamily::Inet => "",
                crate::model::set::SetFamily::Inet6 => " family inet6",
            };
            let _ = writeln!(
                changes,
                "set create {} {}{family}",
                s.name,
                s.def.kind.name()
            );
        }
    }
    for (name, add, del) in &member_changes {
        for m in del {
            let _ = writeln!(changes, "set del {name} {m}");
        }
        for m in add {
            let _ = writeln!(changes, "set add {name} {m}");
        }
    }
    // Each table the file states; IPv6's lines as `fw -6` takes them.
    let families = yaml::families(text, file)?;
    for f in &families {
        let d = diff::describe(old.table(*f), new.table(*f));
        match f {
            Family::V4 => changes.push_str(&d),
            Family::V6 => d.lines().for_each(|l| {
                let _ = writeln!(changes, "-6 {l}");
            }),
        }
    }
    let changed = !changes.is_empty() || new.sets != old.sets;
    if mode == ApplyMode::Diff {
        return Ok((changes, changed));
    }
    drop(kernel);
    let mut fresh = Vec::new();
    for f in &families {
        let before = old.clone().for_family(*f);
        let mut after = new.for_family(*f);
        fresh.extend(diff::keep_counters(&before, &mut after)?);
        new = after.for_family(Family::V4);
    }
    if new.sets == old.sets && member_changes.is_empty() {
        apply_keeping_policies(&dirs, &old, new, &fresh)?;
        return Ok((String::new(), changed));
    }
    // Sets first, then the ruleset that names them. Checked first, so
    // that a ruleset the host refuses changes no set either.
    let pre = preflight(&new)?;
    let ifaces: Vec<(String, u32)> = pre
        .ifaces
        .iter()
        .map(|i| (i.name.clone(), i.index))
        .collect();
    compile::compile(&new, 0, &ifaces)?;
    let mut staged = old.clone();
    staged.sets = new.sets.clone();
    if staged != old || Kernel::open(&dirs)?.is_none() {
        // The old ruleset with the new sets (a first load, if need be),
        // then its record (what got attached) is what the ruleset follows.
        apply_keeping_policies(&dirs, &old, staged, &[])?;
        staged = current(&dirs, true)?.known()?;
    }
    let mut k = Kernel::open(&dirs)?.ok_or(crate::sets::SetError::NoSuchSet)?;
    for (name, add, del) in &member_changes {
        let sid = firewall_common::check::set::id(name.as_bytes());
        let count = k.set_meta(sid)?.map_or(0, |m| m.count);
        let removed = k.set_del(sid, count, del)?;
        k.set_add(sid, count - removed, add)?;
    }
    drop(k);
    apply_keeping_policies(&dirs, &staged, new, &fresh)?;
    Ok((String::new(), changed))
}

/// `fw restore [--counters] [--noflush] [--test]`: applies `text` (an
/// iptables-restore(8) file) as [`restore::restore`] describes, refusing
/// rules fw cannot enforce yet, and loads the result; with `--test` only
/// checks it. Returns what listing commands in the file printed.
///
/// # Errors
/// [`ExecError::Restore`] with the line; as [`run`]. Nothing changes on
/// error.
pub fn restore(text: &str, opts: &RestoreOptions, family: Family) -> Result<String, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let _lock = StateLock::acquire(&dirs.state)?;
    let old = match current(&dirs, true)? {
        Current::Known(st) => *st,
        // The file states the whole table: it may replace a ruleset fw
        // has no record of (not with --noflush, which keeps that table).
        Current::Unknown(i) if !opts.noflush => {
            if !opts.test {
                eprintln!(
                    "fw restore: warning: replacing a ruleset fw had no true record of ({})",
                    i.what()
                );
            }
            unknown_base(&dirs)
        }
        Current::Unknown(i) => return Err(i.into()),
    };
    let view = old.clone().for_family(family);
    let done = restore::restore(&view, text, opts, true, Services::system())?;
    if !opts.test && (done.state != view || !opts.noflush) {
        // `apply` starts the policy counters at zero, as every change does.
        apply(
            &dirs,
            &old,
            done.state.for_family(Family::V4),
            &done.fresh,
            family,
        )?;
    }
    Ok(done.output)
}

/// `fw -6 restore --test`: `text` through the restore engine of `family`
/// on an empty table, offline (no lock, no kernel), with what `fw -6
/// restore` would refuse (what fw cannot enforce, and `-m set` naming a
/// set the namespace's record does not have, or one of the other family,
/// as ip6tables-restore --test asks the kernel's ipsets); what its
/// listings print.
///
/// # Errors
/// What the restore engine refuses.
pub fn check_restore(
    text: &str,
    opts: &RestoreOptions,
    family: crate::model::Family,
) -> Result<String, ExecError> {
    let mut base = State::default();
    if let Ok(dirs) = Dirs::current()
        && let Ok(Some(st)) = state::read(&dirs.state)
    {
        base.sets = st.sets;
    }
    let base = base.for_family(family);
    Ok(restore::restore(&base, text, opts, true, Services::system())?.output)
}

/// Whether `r` can give a packet any verdict but ACCEPT: a rule in any
/// chain (even a bare counter, which netfilter would count) or a DROP
/// policy.
fn filters(r: &crate::model::Ruleset) -> bool {
    [&r.input, &r.forward, &r.output]
        .iter()
        .any(|c| !c.rules.is_empty() || c.policy == Policy::Drop)
        || r.user_chains.values().any(|rules| !rules.is_empty())
}

/// The local routes `-m addrtype` reads for `st`: those of each family
/// whose table has it, sorted; `None` when neither has.
fn addrtype_routes(st: &State) -> Result<Option<Vec<load::LocalRoute>>, ExecError> {
    use firewall_common::check::addrtype::{FAMILY4, FAMILY6};
    let has = |f| {
        uses(st.table(f), |m| {
            matches!(m, crate::model::Match::Addrtype(_))
        })
    };
    let (four, six) = (has(Family::V4), has(Family::V6));
    if !four && !six {
        return Ok(None);
    }
    let mut routes = load::local_routes().map_err(ExecError::Routes)?;
    routes.retain(|r| (r.family == FAMILY4 && four) || (r.family == FAMILY6 && six));
    Ok(Some(routes))
}

/// Whether any rule of `r` has a match `is` picks.
fn uses(r: &crate::model::Ruleset, is: impl Fn(&crate::model::Match) -> bool) -> bool {
    r.all_matches().any(is)
}

/// The chain and number (from 1) of the first rule of `r` with `-m mark`.
fn first_mark(r: &crate::model::Ruleset) -> Option<(String, usize)> {
    r.all_rules().find_map(|(chain, rules)| {
        rules
            .iter()
            .position(|rule| {
                rule.matches
                    .iter()
                    .any(|m| matches!(m, crate::model::Match::Mark(_)))
            })
            .map(|n| (chain.to_string(), n + 1))
    })
}

/// Makes `new` the running ruleset, loading and attaching fw first when
/// this namespace has none; `changed` is the family whose table the
/// command changed. On error nothing changes.
fn apply(
    dirs: &Dirs,
    old: &State,
    new: State,
    fresh: &[u32],
    changed: Family,
) -> Result<(), ExecError> {
    // iptables-legacy replaces the whole table on every change, and the
    // built-in chains' policy counters start again from zero (the other
    // family's table, another table to netfilter, keeps its own).
    let mut fresh = fresh.to_vec();
    fresh.extend(BuiltinChain::ALL.map(|c| Kernel::policy_slot_in(changed, c.map_index())));
    swap(dirs, old, new, &fresh)
}

/// [`apply`] for `fw apply`: a built-in chain's policy counters are kept
/// while its policy stays (they are the file's counters, as its rules'
/// are, and `/metrics` would see a reset at each edit otherwise).
fn apply_keeping_policies(
    dirs: &Dirs,
    old: &State,
    new: State,
    fresh: &[u32],
) -> Result<(), ExecError> {
    let mut fresh = fresh.to_vec();
    for f in [Family::V4, Family::V6] {
        fresh.extend(
            BuiltinChain::ALL
                .into_iter()
                .filter(|&c| old.table(f).chain(c).policy != new.table(f).chain(c).policy)
                .map(|c| Kernel::policy_slot_in(f, c.map_index())),
        );
    }
    swap(dirs, old, new, &fresh)
}

/// [`apply`], zeroing only the counters of the slots in `fresh`.
fn swap(dirs: &Dirs, old: &State, mut new: State, fresh: &[u32]) -> Result<(), ExecError> {
    let Preflight { ifaces, routes } = preflight(&new)?;
    let interfaces: Vec<(String, u32)> = ifaces.iter().map(|i| (i.name.clone(), i.index)).collect();
    let kernel = Kernel::open(dirs)?;
    let bank = match &kernel {
        Some(k) => k.spare_bank()?,
        None => 0,
    };
    // Compiled before anything changes, so a ruleset fw cannot enforce is
    // refused with the firewall as it was.
    let compiled = compile::compile(&new, bank, &interfaces)?;
    new.interfaces = interfaces;
    if let Some(mut k) = kernel {
        // Interfaces that appeared since the last change are attached now
        // (and detached again if the change fails).
        let rec = attach::reconcile(&old.attachments, &ifaces, dirs)?;
        new.attachments = rec.attached;
        new.refused = rec.refused;
        let undo = |e: ExecError| {
            for name in &rec.added {
                attach::unlink(dirs, name);
            }
            e
        };
        // What the live bank holds, when the record describes it: then the
        // old entries are removed by key instead of by walking the maps.
        let live = match k.active_bank().map_err(|e| undo(e.into()))? {
            Some(b) if k.generation().map_err(|e| undo(e.into()))? == old.generation => {
                compile::compile(old, b, &old.interfaces).ok()
            }
            _ => None,
        };
        // Write-ahead: the record of the new ruleset, with the generation
        // it goes live with, is on disk before the switch.
        new.generation = k.next_generation().map_err(|e| undo(e.into()))?;
        define_sets(&mut k, &new).map_err(undo)?;
        let mut ahead = state::write_ahead(&dirs.state, &new).map_err(|e| undo(e.into()))?;
        if let Some(routes) = &routes {
            k.sync_local_table(routes).map_err(|e| undo(e.into()))?;
        }
        let generation = k
            .swap_in(&compiled, fresh, live.as_ref())
            .map_err(|e| undo(e.into()))?;
        ahead.went_live();
        debug_assert_eq!(generation, new.generation);
        commit(ahead);
        let newly: Vec<_> = new
            .refused
            .iter()
            .filter(|r| !old.refused.contains(r))
            .cloned()
            .collect();
        warn_unattached(&newly, &ifaces, &new, false);
        return Ok(());
    }
    // A first load: everything is built aside, in the staged pin
    // directory, and published by renaming it, so a crash leaves either
    // no firewall (the next command removes the leftovers) or all of it.
    let staged = dirs.staged();
    let installed = (|| -> Result<(Vec<Interface>, state::WriteAhead), ExecError> {
        load::remove_pins(&staged)?;
        let (mut k, mut ebpf) = Kernel::install(&staged)?;
        new.generation = k.next_generation()?;
        define_sets(&mut k, &new)?;
        // The ruleset is live before the first packet reaches the programs.
        if let Some(routes) = &routes {
            k.sync_local_table(routes)?;
        }
        let generation = k.swap_in(&compiled, fresh, None)?;
        debug_assert_eq!(generation, new.generation);
        let done = attach::attach_all(&mut ebpf, &staged)?;
        new.attachments = done.attached;
        new.refused = done.refused;
        let skipped = done.skipped;
        let ahead = state::write_ahead(&dirs.state, &new)?;
        load::publish(&staged, dirs)?;
        Ok((skipped, ahead))
    })();
    match installed {
        Ok((skipped, mut ahead)) => {
            ahead.went_live();
            commit(ahead);
            warn_unattached(&new.refused, &ifaces, &new, true);
            // Only an all-ACCEPT ruleset gets here beside such an
            // interface (`filters`): its policy counters miss it.
            for i in skipped {
                if let Some(why) = i.unfilterable() {
                    eprintln!(
                        "fw: warning: interface {} is not filtered ({})",
                        i.name,
                        why.short()
                    );
                }
            }
            Ok(())
        }
        Err(e) => {
            // Nothing of this namespace's firewall existed before: remove
            // it all, detaching the links attached from the staged pins.
            let _ = load::remove_pins(&staged);
            Err(e)
        }
    }
}

/// What [`refresh`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// fw is not loaded in this namespace: nothing to attach.
    NotLoaded,
    /// The interfaces (and, for `-m addrtype`, the local addresses) are
    /// those of the last change.
    Unchanged,
    /// The ruleset was recompiled and swapped in for the interfaces
    /// there are now: `attached` are the ones that were not attached
    /// before, `detached` those that are gone.
    Changed {
        /// Interfaces attached now.
        attached: Vec<String>,
        /// Interfaces whose links went with them.
        detached: Vec<String>,
    },
}

/// What `fw daemon` does when an interface or address comes or goes:
/// the running ruleset is recompiled for the interfaces there are now
/// (an `-i` name resolves to the new interface's index) and swapped in
/// as any change is, attaching new interfaces and dropping the links of
/// gone ones, with every counter kept (for iptables nothing changed, so
/// even the policy counters go on). Nothing happens when the interfaces
/// and local addresses are those of the last change.
///
/// # Errors
/// As [`run`]; a ruleset the new interfaces make unenforceable (an
/// interface fw cannot parse that filters would bypass) is refused with
/// the firewall left as it was.
pub fn refresh() -> Result<Refreshed, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    if !loaded_or_loading(&dirs) {
        return Ok(Refreshed::NotLoaded);
    }
    let _lock = StateLock::acquire(&dirs.state)?;
    let old = current(&dirs, true)?.known()?;
    let Some(k) = Kernel::open(&dirs)? else {
        return Ok(Refreshed::NotLoaded);
    };
    let now = attach::interfaces()?;
    // A macvlan's address may change with nothing else: its frames would
    // be classified on the lower too, or pass the lower for nothing.
    attach::sync_macvlans(&dirs, &now, &old.attachments)?;
    let listed: Vec<(String, u32)> = now.iter().map(|i| (i.name.clone(), i.index)).collect();
    let attached_all = now.iter().filter(|i| i.attachable()).all(|i| {
        old.attachments
            .iter()
            .any(|a| a.ifname == i.name && a.ifindex == i.index)
            || old.refused.iter().any(|r| r.ifindex == i.index)
    });
    let routes_same = match addrtype_routes(&old)? {
        None => true,
        Some(now) => k.local_table()? == now,
    };
    // `swap` opens the maps itself.
    drop(k);
    if listed == old.interfaces && attached_all && routes_same {
        return Ok(Refreshed::Unchanged);
    }
    let before: Vec<String> = old.attachments.iter().map(|a| a.ifname.clone()).collect();
    swap(&dirs, &old, old.clone(), &[])?;
    let after: Vec<String> = state::read(&dirs.state)?
        .map(|s| s.attachments.into_iter().map(|a| a.ifname).collect())
        .unwrap_or_default();
    Ok(Refreshed::Changed {
        attached: after
            .iter()
            .filter(|n| !before.contains(n))
            .cloned()
            .collect(),
        detached: before.into_iter().filter(|n| !after.contains(n)).collect(),
    })
}

/// `fw -L [CHAIN] --json`: the ruleset with the kernel's counters as one
/// JSON document (`render::json`, docs/json.md).
///
/// # Errors
/// As [`run`]; [`EditError::NoChain`] for a chain that does not exist.
pub fn list_json(chain: Option<&str>, family: Family) -> Result<String, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let lock = if loaded_or_loading(&dirs) {
        Some(StateLock::acquire(&dirs.state)?)
    } else {
        None
    };
    let state = current(&dirs, lock.is_some())?.known()?.for_family(family);
    let counters = counts(&dirs, &state)?;
    Ok(render::json::listing(
        &state.ruleset,
        &counters,
        state.generation,
        chain,
    )?)
}

/// What `fw daemon` serves at `/metrics`, read at once ([`snapshot`]).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Whether fw is loaded in this namespace (else all is empty).
    pub loaded: bool,
    /// The running ruleset.
    pub state: State,
    /// Its counters, read from the kernel (IPv4's table).
    pub counters: Counters,
    /// The IPv6 table's counters (`state.other`'s).
    pub counters6: Counters,
    /// Packets dropped before any rule, by reason.
    pub malformed: Vec<(firewall_common::Malformed, u64)>,
    /// LOG's counters (events sent, lost to the rate limit or a full ring).
    pub log: Vec<(firewall_common::log::Stat, u64)>,
    /// Entries in the connection table (expired ones not yet reused
    /// included) and its size.
    pub ct_entries: u64,
    /// The connection table's size, entries.
    pub ct_max: u64,
    /// When the running ruleset was made live: seconds since the epoch
    /// (the record's modification time), 0 when nothing is recorded.
    pub applied: f64,
}

/// Reads a [`Snapshot`] under the namespace's lock, changing nothing.
///
/// # Errors
/// As [`run`].
pub fn snapshot() -> Result<Snapshot, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    if !loaded_or_loading(&dirs) {
        return Ok(Snapshot::default());
    }
    let _lock = StateLock::acquire(&dirs.state)?;
    let state = current(&dirs, true)?.known()?;
    let Some(k) = Kernel::open(&dirs)? else {
        return Ok(Snapshot::default());
    };
    let counters = counts(&dirs, &state)?;
    let counters6 = counts(&dirs, &state.clone().for_family(Family::V6))?;
    let applied = std::fs::metadata(state::record_path(&dirs.state))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    Ok(Snapshot {
        loaded: true,
        counters,
        counters6,
        malformed: k.malformed()?,
        log: k.log_stats()?,
        ct_entries: k.ct_entries()?.len() as u64,
        ct_max: aya::maps::MapInfo::from_pin(dirs.map(firewall_common::maps::CONNTRACK))
            .map_or(0, |i| u64::from(i.max_entries())),
        applied,
        state,
    })
}

/// What [`preflight`] read of the host.
struct Preflight {
    /// The namespace's interfaces.
    ifaces: Vec<Interface>,
    /// The local routing table, when the ruleset has `-m addrtype`.
    routes: Option<Vec<load::LocalRoute>>,
}

/// The checks of a new ruleset against the host, changing nothing: an
/// interface or IPsec state that would bypass it, marks it cannot see,
/// `-m addrtype`'s table, `-m set`'s sets, `-m owner`'s BTF.
fn preflight(new: &State) -> Result<Preflight, ExecError> {
    let ifaces = attach::interfaces()?;
    // A ruleset that accepts everything gives every packet netfilter's
    // verdict without fw's programs; any other would be bypassed there.
    let filtering = filters(&new.ruleset) || filters(&new.other.ruleset);
    if filtering
        // A down one (ipip's tunl0, sit0, a tun not yet configured) passes
        // nothing; `fw status --check` fails once it is up.
        && let Some((i, why)) = ifaces
            .iter()
            .filter(|i| i.up)
            .find_map(|i| Some((i, i.unfilterable()?)))
    {
        return Err(ExecError::Unfilterable {
            ifname: i.name.clone(),
            why,
        });
    }
    if filtering {
        let states = host::xfrm_states().map_err(ExecError::Host)?;
        if states > 0 {
            return Err(ExecError::Ipsec { states });
        }
        // Each family's NAT bears on that family's table only.
        for table in [&new.ruleset, &new.other.ruleset] {
            if !filters(table) {
                continue;
            }
            let found = host::nat_rewriters(table.family).map_err(ExecError::Host)?;
            if !found.is_empty() {
                return Err(ExecError::Nat { found });
            }
        }
    }
    for table in [&new.ruleset, &new.other.ruleset] {
        if let Some((chain, rule)) = first_mark(table) {
            let found = host::mark_setters(table.family).map_err(ExecError::Host)?;
            if !found.is_empty() {
                return Err(ExecError::MarkUnseen { chain, rule, found });
            }
        }
    }
    // -m addrtype reads the host's local table as it is at this change
    // (a ruleset without it leaves the copy alone: no limit on how many
    // addresses a host without such rules has).
    let routes = addrtype_routes(new)?;
    let max = firewall_common::check::addrtype::MAX_ENTRIES;
    if let Some(r) = &routes
        && r.len() > max as usize
    {
        return Err(ExecError::LocalTableTooBig {
            routes: r.len(),
            max,
        });
    }
    // -m set names sets that exist, of the rule's family (as libxt_set's
    // lookup).
    for table in [&new.ruleset, &new.other.ruleset] {
        if let Some(e) = table
            .set_names()
            .find_map(|n| crate::sets::unusable(&new.sets, n, table.family))
        {
            return Err(ExecError::SetUnusable(e));
        }
    }
    // -m owner follows the kernel's structures as its BTF lays them out
    // (the programs were loaded with the same offsets).
    if uses(&new.ruleset, |m| matches!(m, crate::model::Match::Owner(_))) {
        crate::load::btf::owner_offsets().map_err(ExecError::OwnerBtf)?;
    }
    Ok(Preflight { ifaces, routes })
}

/// Makes the kernel know every set of `st` (their members stay).
fn define_sets(k: &mut Kernel, st: &State) -> Result<(), ExecError> {
    for (name, def) in &st.sets {
        k.define_set(firewall_common::check::set::id(name.as_bytes()), def)?;
    }
    Ok(())
}

/// Runs `f` under the namespace's lock on its current record and
/// kernel maps (`None` before fw is loaded); a state `f` returns is
/// applied as any change is (loading fw first if it is not). For `fw
/// set`, whose members live in the maps and whose sets live in the
/// record.
///
/// # Errors
/// As [`run`], and what `f` returns.
pub fn with_sets<T>(
    f: impl FnOnce(&State, Option<&mut Kernel>) -> Result<(T, Option<State>), ExecError>,
) -> Result<T, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let _lock = StateLock::acquire(&dirs.state)?;
    let old = match current(&dirs, true)? {
        Current::Known(st) => *st,
        Current::Unknown(i) => return Err(i.into()),
    };
    let mut kernel = Kernel::open(&dirs)?;
    let (out, new) = f(&old, kernel.as_mut())?;
    drop(kernel);
    if let Some(new) = new {
        apply(&dirs, &old, new, &[], Family::V4)?;
    }
    Ok(out)
}

/// Warns of interfaces the kernel refused to attach to, and of
/// br_netfilter on a first load and at every change while FORWARD
/// filters anything (`fw status` repeats it).
fn warn_unattached(refused: &[state::Refused], ifaces: &[Interface], new: &State, first: bool) {
    for r in refused {
        eprintln!(
            "fw: warning: interface {} is not filtered: {}",
            r.ifname, r.reason
        );
    }
    let forward = &new.ruleset.forward;
    let forward_filters = !forward.rules.is_empty() || forward.policy == Policy::Drop;
    if let Some(w) = attach::br_netfilter_warning(ifaces).filter(|_| first || forward_filters) {
        eprintln!("fw: warning: {w}");
    }
}

/// Commits the record of a change that is live. Should the rename fail,
/// the change has happened all the same and the pending record stays:
/// the next command rolls it forward.
fn commit(ahead: state::WriteAhead) {
    if let Err(e) = ahead.commit() {
        eprintln!("fw: warning: {e}; the next fw command records the change");
    }
}

/// What `fw status` found: the report, and every way in which an
/// interface is unfiltered or the record disagrees with the kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The report `fw status` prints.
    pub text: String,
    /// What `fw status --check` reports (and exits 1 for), one line each.
    pub problems: Vec<String>,
}

/// fw's hooks on the namespace's interfaces: the links pinned in
/// `dirs.pins` (hook, name in the pin, kernel state; `None` when the pin
/// cannot be read), then fw's clsact filters ([`clsact_links`]).
fn pinned_links(dirs: &Dirs) -> Vec<(String, String, Option<load::LinkState>)> {
    let mut out = link_pins(dirs);
    out.extend(clsact_links(dirs));
    out
}

/// fw's clsact filters (on a kernel without TCX,
/// [`attach::TcMechanism::Clsact`]) as [`pinned_links`] lists links:
/// hook `tc` (egress) or `tcin` (ingress), the interface's name, and
/// the filter's priority in place of a link id.
fn clsact_links(dirs: &Dirs) -> Vec<(String, String, Option<load::LinkState>)> {
    let progs = load::tc_program_ids(dirs);
    if progs.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in attach::interfaces().unwrap_or_default() {
        for f in attach::fw_filters(i.index, &progs).unwrap_or_default() {
            let state = load::LinkState {
                id: u32::from(f.pref()),
                prog_id: f.prog_id,
                ifindex: f.ifindex,
            };
            out.push((f.hook().to_string(), i.name.clone(), Some(state)));
        }
    }
    out
}

/// The links pinned in `dirs.pins`, as [`pinned_links`] lists them.
fn link_pins(dirs: &Dirs) -> Vec<(String, String, Option<load::LinkState>)> {
    let Ok(entries) = std::fs::read_dir(&dirs.pins) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            let (hook, name) = Dirs::link_of(&file)?;
            Some((hook.to_string(), name, load::link_state(&e.path()).ok()))
        })
        .collect()
}

/// `fw status`: every interface of the namespace, filtered or not and
/// why (asking the kernel which interface each pinned link is attached
/// to), whether the recorded ruleset is the live one, and the chains.
///
/// # Errors
/// As [`run`].
pub fn status() -> Result<Status, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    // A namespace where fw never ran is read without leaving a lock file.
    let _lock = if loaded_or_loading(&dirs) {
        Some(StateLock::acquire(&dirs.state)?)
    } else {
        None
    };
    // What a killed fw left half-done is finished or undone first; an
    // inconsistency is reported below, not refused.
    if _lock.is_some() {
        let _ = current(&dirs, true)?;
    }
    let ifaces = attach::interfaces()?;
    let mut st = Status::default();
    let out = &mut st.text;
    let Some(k) = Kernel::open(&dirs)? else {
        hidden_pins(&dirs)?;
        let _ = writeln!(out, "fw is not loaded in this network namespace");
        let _ = writeln!(out, "{:<16} {:>7}  status", "interface", "ifindex");
        for i in &ifaces {
            let _ = writeln!(out, "{:<16} {:>7}  unfiltered", i.name, i.index);
        }
        st.problems.push(format!(
            "fw is not loaded in this network namespace: {} interface{} unfiltered",
            ifaces.len(),
            if ifaces.len() == 1 { "" } else { "s" }
        ));
        return Ok(st);
    };
    let record = state::read(&dirs.state)?;
    if record.is_none() {
        st.problems
            .push("fw's programs are loaded but there is no state record".into());
    }
    let rec = record.unwrap_or_default();
    let _ = writeln!(out, "fw is loaded (netns cookie {})", dirs.cookie);
    let _ = writeln!(out, "pins: {}", dirs.pins.display());
    let bank = k.active_bank()?;
    let generation = k.generation()?;
    match bank {
        Some(b) => {
            let _ = writeln!(out, "live bank: {b}, generation {generation}");
        }
        None => {
            let _ = writeln!(out, "live bank: none");
            st.problems
                .push("no ruleset is live: every packet passes".into());
        }
    }
    if bank.is_some() && generation != rec.generation {
        let _ = writeln!(out, "recorded generation: {}", rec.generation);
        st.problems.push(format!(
            "the record is of generation {}, the kernel runs generation {generation}: \
             the listing may not be what is enforced",
            rec.generation
        ));
    }
    let ids = load::program_ids(&dirs)?;
    let l3 = if ids.tc_l3 == 0 || ids.tc_l3_in == 0 {
        // Loaded with the first device without a link-layer header.
        "fw_tc_l3 and fw_tc_l3in not loaded (no tun-like device attached)".to_string()
    } else {
        format!("fw_tc_l3 id {}, fw_tc_l3in id {}", ids.tc_l3, ids.tc_l3_in)
    };
    let _ = writeln!(
        out,
        "programs: fw_xdp id {}, fw_tc id {}, fw_tc_in id {}, {l3}",
        ids.xdp, ids.tc, ids.tc_in
    );
    let forced = std::env::var_os(attach::TC_ATTACH_ENV).is_some();
    let _ = writeln!(
        out,
        "tc: {}",
        match (attach::tc_mechanism(), forced) {
            (_, true) => "as FW_TC_ATTACH says, for this command's new attachments",
            (attach::TcMechanism::Tcx, false) => "TCX links",
            (attach::TcMechanism::Clsact, false) =>
                "clsact filters (this kernel has no TCX, which Linux 6.6 added)",
        }
    );
    if !load::probe::xdp_meta() {
        let _ = writeln!(
            out,
            "xdp metadata: not on this kernel (REJECT answers reach TC ingress remembered by \
             their first {} bytes)",
            firewall_common::iface::FINGERPRINT_LEN
        );
    }
    // The network's doing, not fw's: shown, not a problem.
    for (m, n) in k.malformed()?.into_iter().filter(|(_, n)| *n != 0) {
        let _ = writeln!(out, "dropped before any rule: {}: {n} packets", m.name());
    }
    // Packets the kernel dropped on map contents it could not decode:
    // always zero unless fw (or another writer of its maps) has a bug.
    for (a, n) in k.anomalies()?.into_iter().filter(|(_, n)| *n != 0) {
        let _ = writeln!(out, "anomaly: {}: {n} packets", a.name());
        st.problems.push(format!(
            "the kernel program met a {} {n} times (a bug: please report it)",
            a.name()
        ));
    }
    // IPsec states that appeared after the last change: what they
    // decrypt bypasses fw (a change would be refused).
    let states = host::xfrm_states().map_err(ExecError::Host)?;
    if states > 0 && filters(&rec.ruleset) {
        let _ = writeln!(out, "ipsec: {states} xfrm state(s)");
        st.problems.push(format!(
            "the namespace has {states} IPsec (xfrm) state(s): packets they decrypt bypass fw"
        ));
    }
    // NAT that appeared after the last change: verdicts may now differ
    // from netfilter's (a change would be refused).
    for table in [&rec.ruleset, &rec.other.ruleset] {
        let nat = host::nat_rewriters(table.family).map_err(ExecError::Host)?;
        if !nat.is_empty() && filters(table) {
            let _ = writeln!(out, "nat: {}", nat.join(", "));
            st.problems.push(format!(
                "{}: NAT rewrites packets after fw's hook sees them, so its verdicts may differ \
                 from netfilter's (DNAT'd packets meet INPUT, not FORWARD)",
                nat.join(", ")
            ));
        }
        // A mark setter that appeared after the last change: `-m mark`
        // may now differ from netfilter (a change would be refused).
        if let Some((chain, rule)) = first_mark(table) {
            let found = host::mark_setters(table.family).map_err(ExecError::Host)?;
            if !found.is_empty() {
                let _ = writeln!(out, "marks: {}", found.join(", "));
                st.problems.push(format!(
                    "-m mark ({chain} rule {rule}) is loaded while {}: it may mark packets \
                     before the filter table, where fw sees them unmarked",
                    found.join(", ")
                ));
            }
        }
    }
    // -m addrtype sees the local table of the last change.
    if let Some(now) = addrtype_routes(&rec)?
        && k.local_table()? != now
    {
        let _ = writeln!(
            out,
            "addresses: changed since the last change of the ruleset"
        );
        st.problems.push(
            "the host's addresses (its local routing table) changed since the last change of \
             the ruleset: -m addrtype still sees the old ones; the next change updates them"
                .to_string(),
        );
    }
    // -m time's clock: the TAI offset and the kernel's timezone as of
    // the last change.
    if uses(&rec.ruleset, |m| matches!(m, crate::model::Match::Time(_)))
        && k.time_adjusts()?
            .iter()
            .any(|&(tz, adjust)| adjust != crate::extensions::matches::time::clock_adjust(tz))
    {
        let _ = writeln!(out, "clock: changed since the last change of the ruleset");
        st.problems.push(
            "the clock's TAI offset or the kernel's timezone changed since the last change of \
             the ruleset: -m time is off by the difference; the next change corrects it"
                .to_string(),
        );
    }
    let links = pinned_links(&dirs);
    // The live link of `hook` on interface `index`, and the name it was
    // pinned under (the interface's name at attach time).
    let live = |hook: &str, prog: u32, index: u32| {
        links.iter().find_map(|(h, name, l)| match l {
            Some(l) if h == hook && l.ifindex == index && l.prog_id == prog => {
                Some((name.as_str(), l.id))
            }
            _ => None,
        })
    };
    let _ = writeln!(
        out,
        "{:<16} {:>7} {:<8} {:<6} {:>8} {:>8}  status",
        "interface", "ifindex", "xdp", "tc", "xdp link", "tc link"
    );
    for i in &ifaces {
        let recorded = rec.attachments.iter().find(|a| a.ifindex == i.index);
        // An L3 device's input is filtered at TCX ingress, not XDP; its
        // link shows in the "xdp link" column.
        let (in_hook, in_prog, out_prog) = if i.is_l3() {
            ("tcin", ids.tc_l3_in, ids.tc_l3)
        } else {
            ("xdp", ids.xdp, ids.tc)
        };
        let (xdp, tc) = (
            live(in_hook, in_prog, i.index),
            live("tc", out_prog, i.index),
        );
        let by_name = rec.attachments.iter().find(|a| a.ifname == i.name);
        let refused = rec.refused.iter().find(|r| r.ifindex == i.index);
        let port = i.port_note();
        let unfilterable = i.unfilterable();
        let why = match (xdp, tc) {
            _ if unfilterable.is_some() && i.up => {
                unfilterable.map(|u| format!("unfiltered: {}", u.short()))
            }
            _ if let Some(u) = unfilterable => {
                // Down, it passes nothing: not a problem until it is up.
                let _ = writeln!(
                    out,
                    "{:<16} {:>7} {:<8} {:<6} {:>8} {:>8}  down: {}",
                    i.name,
                    i.index,
                    "-",
                    "-",
                    "-",
                    "-",
                    u.short()
                );
                continue;
            }
            (None, None) if port.is_some() => {
                // What the stack sees of a port it sees on the master.
                let port = port.unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<16} {:>7} {:<8} {:<6} {:>8} {:>8}  not attached: {port}",
                    i.name, i.index, "-", "-", "-", "-"
                );
                continue;
            }
            _ if port.is_some() => Some(format!(
                "filtered twice: {}, but fw is still attached to it; \
                 the next change of the ruleset detaches it",
                port.unwrap_or_default()
            )),
            (None, None) if refused.is_some() => Some(format!(
                "not attached: {}",
                refused.map_or("", |r| r.reason.as_str())
            )),
            (Some(_), Some(_)) => None,
            (None, None) => Some(match by_name {
                Some(a) if a.ifindex != i.index => format!(
                    "unfiltered: recreated (fw attached to ifindex {}, now {}); \
                     the next change of the ruleset attaches it",
                    a.ifindex, i.index
                ),
                _ => "unfiltered: not attached (it appeared after fw last changed \
                      the ruleset; the next change attaches it)"
                    .to_string(),
            }),
            (None, Some(_)) if i.is_l3() => {
                Some("unfiltered on input: no live TC ingress link".into())
            }
            (None, Some(_)) => Some("unfiltered on input: no live XDP link".into()),
            (Some(_), None) => Some("unfiltered on output: no live TC link".into()),
        };
        // Without it REJECT answers arriving here are lost (REJECT acts as
        // DROP); the rejected packets still never pass.
        let why = why.or_else(|| {
            (i.answers_at_tc_ingress() && live("tcin", ids.tc_in, i.index).is_none())
                .then(|| "REJECT answers lost: no live TC ingress link".to_string())
        });
        let name_of_link = xdp.or(tc).map(|(n, _)| n);
        let note = match (&why, name_of_link) {
            (None, Some(n)) if n != i.name => format!("filtered (attached as {n})"),
            (None, _) => "filtered".to_string(),
            (Some(w), _) => w.clone(),
        };
        let id = |l: Option<(&str, u32)>| l.map_or("-".to_string(), |(_, id)| id.to_string());
        let _ = writeln!(
            out,
            "{:<16} {:>7} {:<8} {:<6} {:>8} {:>8}  {note}",
            i.name,
            i.index,
            recorded.map_or("-", |a| a.xdp_mode.as_str()),
            recorded.map_or("-", |a| a.tc.name()),
            id(xdp),
            id(tc),
        );
        match (why, recorded) {
            (Some(w), _) => st.problems.push(format!("{}: {w}", i.name)),
            (None, None) => st.problems.push(format!(
                "{}: filtered, but the record does not list it as attached",
                i.name
            )),
            (None, Some(a)) if a.ifname != i.name => st.problems.push(format!(
                "{}: renamed from {} since the last change of the ruleset: \
                 -i/-o rules match the new name only after the next change",
                i.name, a.ifname
            )),
            (None, Some(_)) => {}
        }
    }
    for a in &rec.attachments {
        // Renamed and recreated interfaces are reported above.
        if !ifaces
            .iter()
            .any(|i| i.index == a.ifindex || i.name == a.ifname)
        {
            let _ = writeln!(
                out,
                "{:<16} {:>7} {:<8} {:<6} {:>8} {:>8}  gone (recorded as attached)",
                a.ifname,
                a.ifindex,
                a.xdp_mode,
                a.tc.name(),
                "-",
                "-"
            );
            st.problems.push(format!(
                "{}: recorded as attached (ifindex {}), but no such interface exists",
                a.ifname, a.ifindex
            ));
        }
    }
    if let Some(w) = attach::br_netfilter_warning(&ifaces) {
        let _ = writeln!(out, "warning: {w}");
        st.problems.push(w);
    }
    // IPv4's table as `chain ...`, as before IPv6; IPv6's as `ip6 chain`.
    for (rs, tag) in [(&rec.ruleset, ""), (&rec.other.ruleset, "ip6 ")] {
        for c in BuiltinChain::ALL {
            let ch = rs.chain(c);
            let _ = writeln!(
                out,
                "{tag}chain {}: policy {}, {} rules",
                c.name(),
                ch.policy.name(),
                ch.rules.len()
            );
        }
        for (name, rules) in &rs.user_chains {
            let _ = writeln!(
                out,
                "{tag}user chain {name}: {} rules, {} references",
                rules.len(),
                rs.references(name)
            );
        }
    }
    // fw set's sets: their members as the kernel counts them.
    for (name, def) in &rec.sets {
        let count = k
            .set_meta(firewall_common::check::set::id(name.as_bytes()))?
            .map_or(0, |m| m.count);
        let _ = writeln!(
            out,
            "set {name}: {} with {count} of {} members",
            def.kind.name(),
            def.maxelem
        );
    }
    Ok(st)
}

/// `fw reset`: removes every program, link, pin and state file fw made in
/// this namespace. Running it where fw is not loaded is not an error.
///
/// # Errors
/// As [`run`].
pub fn reset() -> Result<(), ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    // The lock file stays: others may be waiting on it.
    let _lock = StateLock::acquire(&dirs.state)?;
    load::remove_pins(&dirs.staged())?;
    load::remove_pins(&dirs)?;
    match std::fs::remove_dir_all(&dirs.state) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StateError::Io {
            path: dirs.state.clone(),
            source: e,
        }
        .into()),
        _ => Ok(()),
    }
}
