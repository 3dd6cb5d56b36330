//! Executes one parsed command against the namespace's firewall: edits the
//! persisted ruleset, recompiles it and swaps it into the kernel, or reads
//! it back with the kernel's counters.
//!
//! Every change is all-or-nothing: the new ruleset is compiled before the
//! kernel is touched, written into the bank no packet reads, made live by
//! one map write, and only then recorded in `state.json`. Any error before
//! that leaves the running firewall exactly as it was.

use std::io;

use crate::{
    command::{Command, Invocation, RuleRef},
    compile::{self, CompileError},
    load::{
        self, Kernel, LoadError,
        attach::{self, Interface},
        pins::{Dirs, PinsError},
    },
    model::BuiltinChain,
    render::{self, Counts},
    state::{self, State, StateError, StateLock},
};

/// Errors executing a command, each with iptables' exit status
/// ([`ExecError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The chain does not exist (iptables: ENOENT).
    #[error("No chain/target/match by that name.")]
    NoChain,
    /// `-P` on a chain that is not built in.
    #[error("Bad built-in chain name.")]
    BadBuiltinChain,
    /// `-D` with a rule specification that no rule of the chain equals.
    #[error("Bad rule (does a matching rule exist in that chain?).")]
    BadRule,
    /// `-D CHAIN n` past the last rule.
    #[error("Index of deletion too big.")]
    DeletionIndex,
    /// `-I CHAIN n` past the last rule + 1.
    #[error("Index of insertion too big.")]
    InsertionIndex,
    /// Every counter slot is taken.
    #[error("too many rules: at most {0} rules in all chains")]
    NoCounterSlot(u32),
    /// The process lacks a capability fw needs.
    #[error("Permission denied (you must be root): missing {0}")]
    Permission(String),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Pins(#[from] PinsError),
    #[error(transparent)]
    State(#[from] StateError),
}

impl ExecError {
    /// iptables' exit status for this error: 1 (OTHER_PROBLEM) for a
    /// command that cannot be carried out, 2 (PARAMETER_PROBLEM) for a
    /// feature fw refuses, 4 (RESOURCE_PROBLEM) for limits and privileges.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Compile(CompileError::NotSupported(_)) => 2,
            Self::Compile(CompileError::TooManyRules { .. })
            | Self::NoCounterSlot(_)
            | Self::Permission(_) => 4,
            _ => 1,
        }
    }
}

/// Capabilities fw needs (capabilities(7)): loading and attaching XDP/TC
/// programs takes CAP_BPF and CAP_NET_ADMIN (CAP_SYS_ADMIN covers CAP_BPF).
///
/// # Errors
/// [`ExecError::Permission`] naming the missing ones.
pub fn check_privileges() -> Result<(), ExecError> {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_BPF: u32 = 39;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |c: u32| eff & (1 << c) != 0;
    let mut missing = Vec::new();
    if !has(CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ExecError::Permission(missing.join(" and ")))
    }
}

fn chain_of(name: &str) -> Result<BuiltinChain, ExecError> {
    BuiltinChain::from_name(name).ok_or(ExecError::NoChain)
}

fn chain_opt(name: &Option<String>) -> Result<Option<BuiltinChain>, ExecError> {
    name.as_deref().map(chain_of).transpose()
}

fn chains(c: Option<BuiltinChain>) -> Vec<BuiltinChain> {
    c.map_or(BuiltinChain::ALL.to_vec(), |c| vec![c])
}

/// Runs `inv` in the calling thread's network namespace and returns what
/// it prints on standard output.
///
/// # Errors
/// Any [`ExecError`]; the firewall is then unchanged.
pub fn run(inv: &Invocation) -> Result<String, ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let read_only = matches!(
        inv.command,
        Command::List { .. } | Command::ListRules { .. } | Command::Zero { .. }
    );
    // Reading a namespace where fw never ran leaves nothing behind.
    let _lock = if read_only && !dirs.pins.exists() {
        None
    } else {
        Some(StateLock::acquire(&dirs.state)?)
    };
    // A record without pins is stale (the pins went with a reboot or a
    // deleted namespace whose cookie came back): the ruleset is empty.
    let old = if dirs.pins.exists() {
        state::read(&dirs.state)?.unwrap_or_default()
    } else {
        State::default()
    };
    let mut new = old.clone();
    let mut fresh = Vec::new();
    let take_slot = |new: &State, fresh: &mut Vec<u32>| -> Result<u32, ExecError> {
        let slot = new
            .free_slot()
            .ok_or(ExecError::NoCounterSlot(firewall_common::MAX_RULE_COUNTERS))?;
        fresh.push(slot);
        Ok(slot)
    };
    match &inv.command {
        Command::Append { chain, rule } => {
            let c = chain_of(chain)?;
            let slot = take_slot(&new, &mut fresh)?;
            new.ruleset.chain_mut(c).rules.push(rule.clone());
            new.slots_mut(c).push(slot);
        }
        Command::Insert { chain, index, rule } => {
            let c = chain_of(chain)?;
            let at = (*index as usize).saturating_sub(1);
            if at > new.ruleset.chain(c).rules.len() {
                return Err(ExecError::InsertionIndex);
            }
            let slot = take_slot(&new, &mut fresh)?;
            new.ruleset.chain_mut(c).rules.insert(at, rule.clone());
            new.slots_mut(c).insert(at, slot);
        }
        Command::Delete { chain, which } => {
            let c = chain_of(chain)?;
            let rules = &new.ruleset.chain(c).rules;
            let at = match which {
                RuleRef::Number(n) => {
                    let at = (*n as usize).saturating_sub(1);
                    if *n == 0 || at >= rules.len() {
                        return Err(ExecError::DeletionIndex);
                    }
                    at
                }
                RuleRef::Spec(r) => rules
                    .iter()
                    .position(|x| x == r)
                    .ok_or(ExecError::BadRule)?,
            };
            new.ruleset.chain_mut(c).rules.remove(at);
            new.slots_mut(c).remove(at);
        }
        Command::Flush { chain } => {
            for c in chains(chain_opt(chain)?) {
                new.ruleset.chain_mut(c).rules.clear();
                new.slots_mut(c).clear();
            }
        }
        Command::Policy { chain, policy } => {
            let c = BuiltinChain::from_name(chain).ok_or(ExecError::BadBuiltinChain)?;
            new.ruleset.chain_mut(c).policy = *policy;
        }
        Command::Zero { chain } => {
            let cs = chains(chain_opt(chain)?);
            if let Some(mut k) = Kernel::open(&dirs)? {
                for c in cs {
                    for slot in old.slots(c) {
                        k.zero(*slot)?;
                    }
                    k.zero(Kernel::policy_slot(c.map_index()))?;
                }
            }
            return Ok(String::new());
        }
        Command::List { chain } => {
            let c = chain_opt(chain)?;
            let (policy, rules) = counts(&dirs, &old)?;
            return Ok(render::list(&old.ruleset, c, &inv.options, &policy, &rules));
        }
        Command::ListRules { chain } => {
            let c = chain_opt(chain)?;
            return Ok(render::list_rules(&old.ruleset, c));
        }
    }
    apply(&dirs, &old, new, &fresh)?;
    Ok(String::new())
}

/// Counters of every policy and rule of `state`, zero where fw is not loaded.
fn counts(dirs: &Dirs, state: &State) -> Result<([Counts; 3], [Vec<Counts>; 3]), ExecError> {
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
    let mut policy = [Counts::default(); 3];
    let mut rules: [Vec<Counts>; 3] = Default::default();
    for (i, c) in BuiltinChain::ALL.into_iter().enumerate() {
        policy[i] = read(Kernel::policy_slot(c.map_index()))?;
        rules[i] = state
            .slots(c)
            .iter()
            .map(|s| read(*s))
            .collect::<Result<_, _>>()?;
    }
    Ok((policy, rules))
}

/// Makes `new` the running ruleset, loading and attaching fw first when
/// this namespace has none. On error nothing changes.
fn apply(dirs: &Dirs, old: &State, mut new: State, fresh: &[u32]) -> Result<(), ExecError> {
    let interfaces: Vec<(String, u32)> = attach::interfaces()?
        .into_iter()
        .map(|i| (i.name, i.index))
        .collect();
    // Compiled for bank 0 first, so a ruleset fw cannot enforce is refused
    // before anything is loaded.
    let compiled = compile::compile(&new, 0, &interfaces)?;
    new.interfaces = interfaces;
    if let Some(mut k) = Kernel::open(dirs)? {
        // Interfaces that appeared since the last change are attached now.
        let (attached, _) = attach::reconcile(&old.attachments, dirs)?;
        new.attachments = attached;
        let bank = k.spare_bank()?;
        let compiled = if bank == 0 {
            compiled
        } else {
            compile::compile(&new, bank, &new.interfaces)?
        };
        // What the live bank holds, when the record describes it: then the
        // old entries are removed by key instead of by walking the maps.
        let live = match k.active_bank()? {
            Some(b) if k.generation()? == old.generation => {
                compile::compile(old, b, &old.interfaces).ok()
            }
            _ => None,
        };
        new.generation = k.swap_in(&compiled, fresh, live.as_ref())?;
        state::prepare(&dirs.state, &new)?.commit()?;
        return Ok(());
    }
    // Pins of namespaces that are gone.
    load::remove_stale(dirs);
    let installed = (|| -> Result<Vec<Interface>, ExecError> {
        let (mut k, mut ebpf) = Kernel::install(dirs)?;
        // The ruleset is live before the first packet reaches the programs.
        new.generation = k.swap_in(&compiled, fresh, None)?;
        let (attached, skipped) = attach::attach_all(&mut ebpf, dirs)?;
        new.attachments = attached;
        state::prepare(&dirs.state, &new)?.commit()?;
        Ok(skipped)
    })();
    match installed {
        Ok(skipped) => {
            for i in skipped {
                eprintln!(
                    "fw: warning: interface {} is not filtered (link type {} has no Ethernet header)",
                    i.name, i.link_type
                );
            }
            Ok(())
        }
        Err(e) => {
            // Nothing of this namespace's firewall existed before: remove it all.
            let _ = load::remove_pins(dirs);
            Err(e)
        }
    }
}

/// `fw status`: where the programs are attached and how many rules each
/// chain holds.
///
/// # Errors
/// As [`run`].
pub fn status() -> Result<String, ExecError> {
    use std::fmt::Write as _;
    check_privileges()?;
    let dirs = Dirs::current()?;
    let _lock = StateLock::acquire(&dirs.state)?;
    let Some(k) = Kernel::open(&dirs)? else {
        return Ok("fw is not loaded in this network namespace\n".into());
    };
    let st = state::read(&dirs.state)?.unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "fw is loaded (netns cookie {})", dirs.cookie);
    let _ = writeln!(out, "pins: {}", dirs.pins.display());
    let _ = writeln!(
        out,
        "live bank: {}",
        k.active_bank()?.map_or("none".into(), |b| b.to_string())
    );
    let (xdp_id, tc_id) = load::program_ids(&dirs)?;
    let _ = writeln!(out, "programs: fw_xdp id {xdp_id}, fw_tc id {tc_id}");
    let _ = writeln!(
        out,
        "{:<16} {:>7} {:<8} {:>8} {:>8}",
        "interface", "ifindex", "xdp", "xdp link", "tc link"
    );
    for a in &st.attachments {
        let (x, t) = load::link_ids(&dirs, &a.ifname);
        let _ = writeln!(
            out,
            "{:<16} {:>7} {:<8} {:>8} {:>8}",
            a.ifname,
            a.ifindex,
            a.xdp_mode,
            x.map_or("gone".into(), |i| i.to_string()),
            t.map_or("gone".into(), |i| i.to_string())
        );
    }
    for c in BuiltinChain::ALL {
        let ch = st.ruleset.chain(c);
        let _ = writeln!(
            out,
            "chain {}: policy {}, {} rules",
            c.name(),
            ch.policy.name(),
            ch.rules.len()
        );
    }
    Ok(out)
}

/// `fw reset`: removes every program, link, pin and state file fw made in
/// this namespace. Running it where fw is not loaded is not an error.
///
/// # Errors
/// As [`run`].
pub fn reset() -> Result<(), ExecError> {
    check_privileges()?;
    let dirs = Dirs::current()?;
    let lock = StateLock::acquire(&dirs.state)?;
    load::remove_pins(&dirs)?;
    drop(lock);
    match std::fs::remove_dir_all(&dirs.state) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StateError::Io {
            path: dirs.state.clone(),
            source: e,
        }
        .into()),
        _ => Ok(()),
    }
}
