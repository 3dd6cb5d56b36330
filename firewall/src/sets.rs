//! `fw set`: named sets for `-m set`, with ipset(8)'s commands and
//! syntax (`create`, `add`, `del`, `test`, `list`, `save`, `restore`,
//! `flush`, `destroy`) for the types `hash:ip`, `hash:net` and
//! `hash:ip,port` (IPv4). A set's members live in the kernel's maps
//! (`firewall_common::check::set`), so adding one changes the verdict
//! for the next packet without touching the ruleset; the sets themselves
//! are in fw's record, beside the ruleset, and go with the namespace's
//! firewall (`fw reset`, a reboot) as ipset's go with the kernel.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use firewall_common::check::set::id;

use crate::{
    exec::{self, ExecError},
    model::set::{Member, SetDef, SetFamily, SetKind},
    parse::{services::Services, values},
    state::State,
};

/// The usage of `fw set`.
pub const USAGE: &str = "\
Usage: fw set COMMAND [-exist]   (ipset(8)'s syntax)
  create SETNAME TYPENAME [family inet|inet6] [hashsize N] [maxelem N]
                 TYPENAME: hash:ip, hash:net or hash:ip,port
  add SETNAME ENTRY       ENTRY: IP[/CIDR|-IP] (hash:ip), IP[/CIDR|-IP] (hash:net),
                          IP,[tcp:|udp:]PORT[-PORT] (hash:ip,port);
                          inet6: one IP, or IP/CIDR in a hash:net
  del SETNAME ENTRY
  test SETNAME ENTRY      exit 0 when ENTRY is in the set, 1 when it is not
  list [SETNAME] [-terse] the sets with their members
  save [SETNAME]          as `fw set restore` reads them
  restore [-exist]        create/add/del/flush/destroy lines from standard input
  flush [SETNAME]         remove the members (of every set)
  destroy [SETNAME]       remove the set (every set); not one a rule uses
";

/// What `fw set` failed at; the texts are ipset 7.17's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// A bad command line (exit 2).
    #[error("{0}\nTry `fw set -h' for more information.")]
    Usage(String),
    /// A value ipset would not take (exit 1, as ipset's syntax errors).
    #[error("Syntax error: {0}")]
    Syntax(String),
    /// A CIDR of 0 (exit 1; ipset's kernel-side message, without
    /// "Syntax error").
    #[error("The value of the CIDR parameter of the IP address is invalid")]
    BadCidr,
    /// Something fw does not do yet (exit 2).
    #[error("not supported yet: {0}")]
    NotSupported(String),
    /// `create` of a name that exists (exit 1).
    #[error("Set cannot be created: set with the same name already exists")]
    Exists,
    /// A name whose id another set has (exit 1).
    #[error("Set cannot be created: its id collides with set {0}'s (choose another name)")]
    IdCollision(String),
    /// No set of that name (exit 1).
    #[error("The set with the given name does not exist")]
    NoSuchSet,
    /// `add` of a member that is there (exit 1).
    #[error("Element cannot be added to the set: it's already added")]
    AlreadyAdded,
    /// `del` of a member that is not (exit 1).
    #[error("Element cannot be deleted from the set: it's not added")]
    NotAdded,
    /// 0.0.0.0 in a hash:ip or hash:ip,port (exit 1).
    #[error("Null-valued element, cannot be stored in a hash type of set")]
    NullElement,
    /// `maxelem` reached (exit 1).
    #[error("Hash is full, cannot add more elements")]
    Full,
    /// A ruleset file declares a set that exists with another type
    /// (exit 1).
    #[error("set {name} exists as a {was}; destroy it first (fw set destroy {name}) in {file}")]
    TypeChange {
        /// The set.
        name: String,
        /// Its type and maxelem now (`hash:ip with maxelem 65536`).
        was: String,
        /// The file that declares it.
        file: String,
    },
    /// `destroy` of a set a rule names (exit 1).
    #[error("Set cannot be destroyed: it is in use by a kernel component")]
    InUse,
    /// A `restore` line failed (its number, from 1).
    #[error("Error in line {line}: {error}")]
    Line {
        /// The line.
        line: usize,
        /// What went wrong there.
        error: Box<SetError>,
    },
}

impl SetError {
    /// ipset's exit status: 2 for a bad command line, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) | Self::NotSupported(_) | Self::TypeChange { .. } => 2,
            Self::Line { error, .. } => error.exit_code(),
            _ => 1,
        }
    }
}

/// One `fw set` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `create NAME TYPE ...`.
    Create(String, SetDef),
    /// `add NAME ENTRY`.
    Add(String, String),
    /// `del NAME ENTRY`.
    Del(String, String),
    /// `test NAME ENTRY`.
    Test(String, String),
    /// `list [NAME] [-terse|-name|-o save] [-sorted]`.
    List(Option<String>, ListMode),
    /// `save [NAME]`.
    Save(Option<String>),
    /// `restore`: the lines of standard input.
    Restore,
    /// `flush [NAME]`.
    Flush(Option<String>),
    /// `destroy [NAME]`.
    Destroy(Option<String>),
}

/// How `list` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMode {
    /// The header and the members.
    Plain,
    /// `-terse`: the header only.
    Terse,
    /// `-name`: the names only.
    Names,
    /// `-o save`: as `save` prints.
    Save,
}

/// The longest set name (`IPSET_MAXNAMELEN` - 1).
const MAX_NAME: usize = 31;

/// Parses the words after `fw set`: the command and `-exist` (`-!`).
///
/// # Errors
/// [`SetError::Usage`], [`SetError::Syntax`], [`SetError::NotSupported`].
pub fn parse(args: &[String]) -> Result<(Command, bool), SetError> {
    let exist = args.iter().any(|a| a == "-exist" || a == "-!");
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "-exist" && *a != "-!")
        .collect();
    let usage = |m: String| SetError::Usage(m);
    let name = |w: Option<&&str>| -> Result<String, SetError> {
        let n = w.ok_or_else(|| usage("Missing mandatory argument: set name".into()))?;
        if n.len() > MAX_NAME {
            return Err(SetError::Syntax(format!(
                "setname '{n}' is longer than {MAX_NAME} characters"
            )));
        }
        Ok(n.to_string())
    };
    let entry = |w: Option<&&str>| -> Result<String, SetError> {
        Ok(
            w.ok_or_else(|| usage("Missing mandatory argument: element".into()))?
                .to_string(),
        )
    };
    let at_most = |n: usize| -> Result<(), SetError> {
        match words.get(n) {
            Some(extra) => Err(usage(format!("Unknown argument: `{extra}'"))),
            None => Ok(()),
        }
    };
    let cmd = match words.first().copied() {
        Some("create" | "n" | "-N") => {
            let n = name(words.get(1))?;
            let t = words
                .get(2)
                .ok_or_else(|| usage("Missing mandatory argument: typename".into()))?;
            let kind = SetKind::by_name(t).ok_or_else(|| {
                SetError::NotSupported(format!(
                    "set type {t} (fw keeps hash:ip, hash:net and hash:ip,port)"
                ))
            })?;
            Command::Create(n, create_options(kind, &words[3..])?)
        }
        Some(c @ ("add" | "a" | "-A" | "del" | "d" | "-D" | "test" | "t" | "-T")) => {
            let (n, e) = (name(words.get(1))?, entry(words.get(2))?);
            at_most(3)?;
            match c {
                "add" | "a" | "-A" => Command::Add(n, e),
                "del" | "d" | "-D" => Command::Del(n, e),
                _ => Command::Test(n, e),
            }
        }
        Some("list" | "l" | "-L") => {
            let mut mode = ListMode::Plain;
            let mut set = None;
            let mut it = words[1..].iter();
            while let Some(w) = it.next() {
                match *w {
                    "-terse" | "-t" => mode = ListMode::Terse,
                    "-name" | "-n" => mode = ListMode::Names,
                    // fw lists members sorted anyway.
                    "-sorted" | "-s" => {}
                    "-output" | "-o" => {
                        mode = match it.next().copied() {
                            Some("save") => ListMode::Save,
                            Some("plain") => ListMode::Plain,
                            Some(f) => return Err(SetError::NotSupported(format!("-output {f}"))),
                            None => {
                                return Err(usage("Missing mandatory argument of -output".into()));
                            }
                        }
                    }
                    n if set.is_none() && !n.starts_with('-') => set = Some(n.to_string()),
                    other => return Err(usage(format!("Unknown argument: `{other}'"))),
                }
            }
            Command::List(set, mode)
        }
        Some(c @ ("save" | "s" | "-S" | "flush" | "f" | "-F" | "destroy" | "x" | "-X")) => {
            at_most(2)?;
            let n = words.get(1).map(|n| n.to_string());
            match c {
                "save" | "s" | "-S" => Command::Save(n),
                "flush" | "f" | "-F" => Command::Flush(n),
                _ => Command::Destroy(n),
            }
        }
        Some("restore" | "r" | "-R") => {
            at_most(1)?;
            Command::Restore
        }
        Some(c @ ("rename" | "e" | "-E" | "swap" | "w" | "-W")) => {
            return Err(SetError::NotSupported(format!("fw set {c}")));
        }
        Some(other) => {
            return Err(usage(format!(
                "No command specified: unknown argument {other}"
            )));
        }
        None => return Err(usage("No command specified.".into())),
    };
    Ok((cmd, exist))
}

/// `create`'s options after the type.
fn create_options(kind: SetKind, words: &[&str]) -> Result<SetDef, SetError> {
    let mut def = SetDef::new(kind);
    let mut it = words.iter();
    // ipset takes each option once ("family already specified").
    let mut given: Vec<&str> = Vec::new();
    while let Some(w) = it.next() {
        let name = match *w {
            "-4" | "-6" => "family",
            other => other,
        };
        if matches!(name, "family" | "hashsize" | "maxelem") {
            if given.contains(&name) {
                return Err(SetError::Syntax(format!("{name} already specified")));
            }
            given.push(name);
        }
        let mut value = || {
            it.next()
                .ok_or_else(|| SetError::Syntax(format!("Missing mandatory argument of {w}")))
        };
        match *w {
            "family" => {
                let f = value()?;
                def.family = SetFamily::by_name(f)
                    .filter(|_| !f.starts_with('-'))
                    .ok_or_else(|| SetError::Syntax(format!("unknown inet family {f}")))?;
            }
            "-4" | "-6" => def.family = SetFamily::by_name(w).expect("a family's option"),
            "hashsize" => {
                let v = number(value()?, 64, u64::from(u32::MAX / 2))?;
                // ipset rounds it up to a power of two.
                def.hashsize = (v as u32).next_power_of_two();
            }
            "maxelem" => def.maxelem = number(value()?, 1, u64::from(u32::MAX))? as u32,
            // What ipset save writes of its hash's layout: nothing fw's
            // maps depend on.
            "bucketsize" | "initval" => {
                value()?;
            }
            other => return Err(SetError::NotSupported(format!("create option {other}"))),
        }
    }
    Ok(def)
}

fn number(s: &str, min: u64, max: u64) -> Result<u64, SetError> {
    match values::strtoui(s, 0, u64::MAX) {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(SetError::Syntax(format!(
            "'{s}' is out of range {min}-{max}"
        ))),
        None => Err(SetError::Syntax(format!("'{s}' is invalid as number"))),
    }
}

fn address(s: &str) -> Result<Ipv4Addr, SetError> {
    values::inet_aton(s).ok_or_else(|| {
        SetError::Syntax(format!(
            "cannot parse {s}: resolving to IPv4 address failed"
        ))
    })
}

/// An IPv6 address as ipset reads one (`[2001:db8::1]` too).
fn address6(s: &str) -> Result<Ipv6Addr, SetError> {
    let bare = s
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse().map_err(|_| {
        SetError::Syntax(format!(
            "cannot parse {s}: resolving to IPv6 address failed"
        ))
    })
}

/// The members `entry` names in a set of `kind` and `family`: a
/// `hash:ip` range or CIDR is every address in it, a `hash:net` address
/// is its network, a `hash:ip,port` port range every port. An inet6
/// set takes no address ranges, as ipset's: one address (`hash:ip`,
/// `hash:ip,port`) or one prefix (`hash:net`). `test` takes one member
/// only.
///
/// # Errors
/// [`SetError::Syntax`] as ipset's; [`SetError::NotSupported`] for
/// protocols other than tcp and udp.
pub fn members(
    kind: SetKind,
    family: SetFamily,
    entry: &str,
    services: &Services,
) -> Result<Vec<Member>, SetError> {
    match (kind, family) {
        (SetKind::Ip, SetFamily::Inet) => Ok(non_null(hosts(entry)?)?
            .into_iter()
            .map(|addr| Member::Net {
                addr: addr.into(),
                len: 32,
            })
            .collect()),
        (SetKind::Ip, SetFamily::Inet6) => Ok(vec![Member::Net {
            addr: host6(entry)?.into(),
            len: 128,
        }]),
        (SetKind::Net, SetFamily::Inet) if entry.contains('-') => {
            let (a, b) = entry.split_once('-').unwrap_or((entry, entry));
            let (a, b) = (u32::from(address(a)?), u32::from(address(b)?));
            Ok(cover(a.min(b), a.max(b)))
        }
        (SetKind::Net, SetFamily::Inet6) if entry.contains('-') => Err(SetError::Syntax(format!(
            "IP address or IP/cidr must be specified: {entry}"
        ))),
        (SetKind::Net, _) => {
            let bits = family.bits();
            let (host, len) = match entry.split_once('/') {
                Some((h, l)) => (h, number(l, 0, u64::from(bits))? as u8),
                None => (entry, bits),
            };
            if len == 0 {
                return Err(SetError::BadCidr);
            }
            let addr: IpAddr = match family {
                SetFamily::Inet => {
                    let mask = u32::MAX << (32 - u32::from(len));
                    Ipv4Addr::from(u32::from(address(host)?) & mask).into()
                }
                SetFamily::Inet6 => {
                    let mask = u128::MAX << (128 - u32::from(len));
                    Ipv6Addr::from(u128::from(address6(host)?) & mask).into()
                }
            };
            Ok(vec![Member::Net { addr, len }])
        }
        (SetKind::IpPort, _) => {
            let (ip, port) = entry.split_once(',').ok_or_else(|| {
                SetError::Syntax(format!("Second element is missing from {entry}."))
            })?;
            let (proto, ports) = match port.split_once(':') {
                Some((t, p)) if t.eq_ignore_ascii_case("tcp") => (6, p),
                Some((t, p)) if t.eq_ignore_ascii_case("udp") => (17, p),
                Some((other, _)) => {
                    return Err(SetError::NotSupported(format!(
                        "protocol {other} in a hash:ip,port entry (fw keeps tcp and udp)"
                    )));
                }
                None => (6, port),
            };
            let name = if proto == 6 { "tcp" } else { "udp" };
            let one = |p: &str| {
                values::parse_port(p, name, services)
                    .map_err(|_| SetError::Syntax(format!("cannot parse '{p}' as a {name} port")))
            };
            let (lo, hi) = match ports.split_once('-') {
                Some((a, b)) => (one(a)?, one(b)?),
                None => (one(ports)?, one(ports)?),
            };
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            let addrs: Vec<IpAddr> = match family {
                SetFamily::Inet => {
                    let bare = ip
                        .strip_prefix('[')
                        .and_then(|a| a.strip_suffix(']'))
                        .unwrap_or(ip);
                    non_null(hosts(bare)?)?
                        .into_iter()
                        .map(IpAddr::from)
                        .collect()
                }
                SetFamily::Inet6 => vec![host6(ip)?.into()],
            };
            let mut out = Vec::new();
            for addr in addrs {
                out.extend((lo..=hi).map(|port| Member::Port { addr, proto, port }));
            }
            Ok(out)
        }
    }
}

/// One IPv6 address, as an inet6 `hash:ip` or `hash:ip,port` takes it
/// (a `/128` is one; no ranges), not `::`.
fn host6(s: &str) -> Result<Ipv6Addr, SetError> {
    let plain = || SetError::Syntax(format!("plain IP address must be supplied: {s}"));
    let a = match s.split_once('/') {
        Some((a, "128")) => a,
        Some(_) => return Err(plain()),
        None if s.contains('-') => return Err(plain()),
        None => s,
    };
    let a = address6(a)?;
    if a.is_unspecified() {
        return Err(SetError::NullElement);
    }
    Ok(a)
}

/// ipset refuses the address 0.0.0.0 in a hash:ip or hash:ip,port.
fn non_null(hosts: Vec<Ipv4Addr>) -> Result<Vec<Ipv4Addr>, SetError> {
    if hosts.iter().any(|a| a.is_unspecified()) {
        return Err(SetError::NullElement);
    }
    Ok(hosts)
}

/// The fewest prefixes that cover `lo..=hi` exactly (as ipset splits a
/// `hash:net` range).
fn cover(mut lo: u32, hi: u32) -> Vec<Member> {
    let mut out = Vec::new();
    loop {
        // The largest block starting at `lo` that stays within `hi`.
        let mut len = 32 - lo.trailing_zeros().min(32);
        while len < 32 && u64::from(lo) + (1u64 << (32 - len)) - 1 > u64::from(hi) {
            len += 1;
        }
        let len = len.max(1);
        out.push(Member::Net {
            addr: Ipv4Addr::from(lo).into(),
            len: len as u8,
        });
        let next = u64::from(lo) + (1u64 << (32 - len));
        if next > u64::from(hi) {
            return out;
        }
        lo = next as u32;
    }
}

/// `IP`, `IP/CIDR` or `IP-IP` as the addresses it holds (at most 2^16,
/// ipset's limit for a range in a hash:ip).
fn hosts(s: &str) -> Result<Vec<Ipv4Addr>, SetError> {
    let (lo, hi) = if let Some((a, b)) = s.split_once('-') {
        let (a, b) = (u32::from(address(a)?), u32::from(address(b)?));
        (a.min(b), a.max(b))
    } else if let Some((a, l)) = s.split_once('/') {
        let len = number(l, 0, 32)? as u32;
        let a = u32::from(address(a)?);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        (a & mask, a | !mask)
    } else {
        let a = u32::from(address(s)?);
        (a, a)
    };
    if hi - lo >= 1 << 16 {
        return Err(SetError::Syntax(format!(
            "'{s}' holds more than 65536 addresses (use hash:net)"
        )));
    }
    Ok((lo..=hi).map(Ipv4Addr::from).collect())
}

/// Checks the sets a ruleset file declares against the namespace's
/// (`have`): one that exists keeps its type and `maxelem` (ipset cannot
/// change them either), and no two sets share an id.
///
/// # Errors
/// [`SetError::TypeChange`], [`SetError::IdCollision`].
pub fn check_declared(
    have: &std::collections::BTreeMap<String, SetDef>,
    declared: &[crate::yaml::YamlSet],
    file: &str,
) -> Result<(), SetError> {
    for s in declared {
        if let Some(d) = have.get(&s.name)
            && (d.kind != s.def.kind || d.family != s.def.family || d.maxelem != s.def.maxelem)
        {
            return Err(SetError::TypeChange {
                name: s.name.clone(),
                was: format!(
                    "{}{} with maxelem {}",
                    d.kind.name(),
                    match d.family {
                        SetFamily::Inet => "",
                        SetFamily::Inet6 => " of family inet6",
                    },
                    d.maxelem
                ),
                file: file.to_string(),
            });
        }
        let others = have
            .keys()
            .chain(declared.iter().map(|o| &o.name))
            .filter(|o| **o != s.name);
        if let Some(other) = others
            .into_iter()
            .find(|o| id(o.as_bytes()) == id(s.name.as_bytes()))
        {
            return Err(SetError::IdCollision(other.clone()));
        }
    }
    Ok(())
}

/// How many rules of `st`, of either family, name set `name`.
fn referenced(st: &State, name: &str) -> usize {
    st.ruleset
        .set_names()
        .chain(st.other.ruleset.set_names())
        .filter(|n| *n == name)
        .count()
}

/// Why a rule of `family` cannot name set `name` of `sets`, as libxt_set
/// refuses it when the rule is added (`get_set_byname`): no such set, or
/// a set of the other family.
pub fn unusable(
    sets: &std::collections::BTreeMap<String, SetDef>,
    name: &str,
    family: crate::model::Family,
) -> Option<crate::parse::ParseError> {
    use crate::parse::ParseError;
    match sets.get(name) {
        None => Some(ParseError::NoSuchSet(name.to_string())),
        Some(d) if d.family.rules() != family => Some(ParseError::SetFamily {
            name: name.to_string(),
            family: d.family.protocol(),
        }),
        Some(_) => None,
    }
}

/// What a command printed: standard output and standard error, and
/// whether it ends with exit status 1 (a `test` that found nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output.
    pub stdout: String,
    /// Standard error (ipset's warnings).
    pub stderr: String,
    /// A `test` whose member is not in the set.
    pub not_found: bool,
}

/// Runs `cmd` (with `-exist` when `exist`) in the current namespace;
/// `input` is what `restore` reads.
///
/// # Errors
/// [`ExecError::Set`] as ipset fails; [`ExecError`] as any change.
pub fn run(cmd: &Command, exist: bool, input: &str) -> Result<Outcome, ExecError> {
    let services = Services::system();
    match cmd {
        Command::Restore => {
            // Every line is read (and every member of a set the file
            // creates or the namespace has) before any is carried out, so
            // a syntax error changes nothing.
            let known: std::collections::BTreeMap<String, SetDef> =
                exec::with_sets(|st, _| Ok((st.sets.clone(), None)))?;
            let mut kinds = known;
            let mut parsed = Vec::new();
            for (i, line) in input.lines().enumerate() {
                let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                if words.is_empty() || words[0].starts_with('#') || words[0] == "COMMIT" {
                    continue;
                }
                let at = |e: SetError| {
                    ExecError::Set(SetError::Line {
                        line: i + 1,
                        error: Box::new(e),
                    })
                };
                let (c, line_exist) = parse(&words).map_err(at)?;
                match &c {
                    Command::Restore | Command::List(..) | Command::Save(_) | Command::Test(..) => {
                        return Err(at(SetError::Usage(format!(
                            "`{}' in a restore file",
                            words[0]
                        ))));
                    }
                    Command::Create(name, def) => {
                        kinds.insert(name.clone(), *def);
                    }
                    Command::Add(name, entry) | Command::Del(name, entry) => {
                        if let Some(def) = kinds.get(name) {
                            members(def.kind, def.family, entry, services).map_err(at)?;
                        }
                    }
                    _ => {}
                }
                parsed.push((i, c, line_exist));
            }
            // Runs of member lines share one lock and one open of the
            // maps; a create or destroy changes the record on its own.
            let mut rest = parsed.as_slice();
            while let Some(((i, c, line_exist), after)) = rest.split_first() {
                let at = |i: usize| {
                    move |e: ExecError| match e {
                        ExecError::Set(e) => ExecError::Set(SetError::Line {
                            line: i + 1,
                            error: Box::new(e),
                        }),
                        e => e,
                    }
                };
                if matches!(c, Command::Create(..) | Command::Destroy(_)) {
                    run(c, exist || *line_exist, "").map_err(at(*i))?;
                    rest = after;
                    continue;
                }
                let n = rest
                    .iter()
                    .take_while(|(_, c, _)| !matches!(c, Command::Create(..) | Command::Destroy(_)))
                    .count();
                let (run_of, after) = rest.split_at(n);
                exec::with_sets(|st, mut k| {
                    for (i, c, line_exist) in run_of {
                        let k = k.as_deref_mut();
                        one(c, exist || *line_exist, st, k, services).map_err(at(*i))?;
                    }
                    Ok(((), None))
                })?;
                rest = after;
            }
            Ok(Outcome::default())
        }
        _ => exec::with_sets(|st, k| one(cmd, exist, st, k, services)),
    }
}

/// Set `name` of `st`, or [`SetError::NoSuchSet`].
fn def_of(st: &State, name: &str) -> Result<SetDef, ExecError> {
    st.sets.get(name).copied().ok_or(SetError::NoSuchSet.into())
}

/// The sets `name` picks: that one, or all.
fn picked(st: &State, name: &Option<String>) -> Result<Vec<(String, SetDef)>, ExecError> {
    Ok(match name {
        Some(n) => vec![(n.clone(), def_of(st, n)?)],
        None => st.sets.iter().map(|(n, d)| (n.clone(), *d)).collect(),
    })
}

type Done = (Outcome, Option<State>);

fn one(
    cmd: &Command,
    exist: bool,
    st: &State,
    k: Option<&mut crate::load::Kernel>,
    services: &Services,
) -> Result<Done, ExecError> {
    let mut out = Outcome::default();
    match cmd {
        Command::Create(name, def) => {
            if let Some(old) = st.sets.get(name) {
                if exist
                    && old.kind == def.kind
                    && old.family == def.family
                    && old.maxelem == def.maxelem
                {
                    return Ok((out, None));
                }
                return Err(SetError::Exists.into());
            }
            if let Some(other) = st
                .sets
                .keys()
                .find(|o| id(o.as_bytes()) == id(name.as_bytes()))
            {
                return Err(SetError::IdCollision(other.clone()).into());
            }
            let mut new = st.clone();
            new.sets.insert(name.clone(), *def);
            Ok((out, Some(new)))
        }
        Command::Add(name, entry) | Command::Del(name, entry) | Command::Test(name, entry) => {
            let def = def_of(st, name)?;
            let ms = members(def.kind, def.family, entry, services)?;
            // A set exists only in a loaded firewall.
            let k = k.ok_or(SetError::NoSuchSet)?;
            let sid = id(name.as_bytes());
            let count = k.set_meta(sid)?.map_or(0, |m| m.count);
            match cmd {
                // As ipset's kernel side walks a range: in order, up to the
                // first member already there (without -exist) or the
                // first that does not fit; those before it stay added.
                Command::Add(..) => {
                    let mut todo = Vec::new();
                    let mut stop = None;
                    for m in &ms {
                        if k.set_has(sid, m)? {
                            if exist {
                                continue;
                            }
                            stop = Some(SetError::AlreadyAdded);
                            break;
                        }
                        if u64::from(count) + todo.len() as u64 >= u64::from(def.maxelem) {
                            stop = Some(SetError::Full);
                            break;
                        }
                        todo.push(*m);
                    }
                    k.set_add(sid, count, &todo)?;
                    if let Some(e) = stop {
                        return Err(e.into());
                    }
                }
                Command::Del(..) => {
                    let mut todo = Vec::new();
                    let mut stop = None;
                    for m in &ms {
                        if !k.set_has(sid, m)? {
                            if exist {
                                continue;
                            }
                            stop = Some(SetError::NotAdded);
                            break;
                        }
                        todo.push(*m);
                    }
                    k.set_del(sid, count, &todo)?;
                    if let Some(e) = stop {
                        return Err(e.into());
                    }
                }
                _ => {
                    let [m] = ms.as_slice() else {
                        return Err(SetError::Syntax(format!(
                            "{entry}: test takes one element, not a range"
                        ))
                        .into());
                    };
                    let found = match *m {
                        // hash:net: whether a prefix holds the address
                        // given (a prefix given: that prefix exactly).
                        Member::Net { addr, len }
                            if def.kind == SetKind::Net && len == def.family.bits() =>
                        {
                            k.set_covers(sid, addr)?
                        }
                        _ => k.set_has(sid, m)?,
                    };
                    if found {
                        out.stderr = format!("Warning: {entry} is in set {name}.\n");
                    } else {
                        out.stderr = format!("{entry} is NOT in set {name}.\n");
                        out.not_found = true;
                    }
                }
            }
            Ok((out, None))
        }
        Command::List(name, ListMode::Names) => {
            for (n, _) in picked(st, name)? {
                let _ = writeln!(out.stdout, "{n}");
            }
            Ok((out, None))
        }
        Command::List(name, ListMode::Save) => {
            one(&Command::Save(name.clone()), exist, st, k, services)
        }
        Command::List(name, mode) => {
            let terse = *mode == ListMode::Terse;
            let sets = picked(st, name)?;
            for (i, (n, def)) in sets.iter().enumerate() {
                let members = match &k {
                    Some(k) => k.set_members(id(n.as_bytes()))?,
                    None => Vec::new(),
                };
                if i > 0 {
                    out.stdout.push('\n');
                }
                let _ = write!(
                    out.stdout,
                    "Name: {n}\nType: {}\nRevision: {}\nHeader: family {} hashsize {} maxelem {}\n\
                     References: {}\nNumber of entries: {}\n{}",
                    def.kind.name(),
                    def.kind.revision(),
                    def.family.name(),
                    def.hashsize,
                    def.maxelem,
                    referenced(st, n),
                    members.len(),
                    if terse { "" } else { "Members:\n" }
                );
                if !terse {
                    for m in members {
                        let _ = writeln!(out.stdout, "{m}");
                    }
                }
            }
            Ok((out, None))
        }
        Command::Save(name) => {
            for (n, def) in picked(st, name)? {
                let _ = writeln!(
                    out.stdout,
                    "create {n} {} family {} hashsize {} maxelem {}",
                    def.kind.name(),
                    def.family.name(),
                    def.hashsize,
                    def.maxelem
                );
                if let Some(k) = &k {
                    for m in k.set_members(id(n.as_bytes()))? {
                        let _ = writeln!(out.stdout, "add {n} {m}");
                    }
                }
            }
            Ok((out, None))
        }
        Command::Flush(name) => {
            let sets = picked(st, name)?;
            if let Some(k) = k {
                for (n, _) in sets {
                    k.set_flush(id(n.as_bytes()), false)?;
                }
            }
            Ok((out, None))
        }
        Command::Destroy(name) => {
            let sets = picked(st, name)?;
            if sets.iter().any(|(n, _)| referenced(st, n) > 0) {
                return Err(SetError::InUse.into());
            }
            if let Some(k) = k {
                for (n, _) in &sets {
                    k.set_flush(id(n.as_bytes()), true)?;
                }
            }
            let mut new = st.clone();
            for (n, _) in &sets {
                new.sets.remove(n);
            }
            Ok((out, (new != *st).then_some(new)))
        }
        Command::Restore => unreachable!("run handles restore"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn commands_as_ipset_writes_them() {
        assert_eq!(
            parse(&words("create foo hash:ip hashsize 100 maxelem 2 -exist")).unwrap(),
            (
                Command::Create(
                    "foo".into(),
                    SetDef {
                        kind: SetKind::Ip,
                        family: SetFamily::Inet,
                        hashsize: 128,
                        maxelem: 2
                    }
                ),
                true
            )
        );
        assert_eq!(
            parse(&words("a foo 192.0.2.1")).unwrap(),
            (Command::Add("foo".into(), "192.0.2.1".into()), false)
        );
        assert_eq!(
            parse(&words("list -terse")).unwrap(),
            (Command::List(None, ListMode::Terse), false)
        );
        assert_eq!(
            parse(&words("list -o save foo -s")).unwrap(),
            (Command::List(Some("foo".into()), ListMode::Save), false)
        );
        assert!(matches!(parse(&words("bogus")), Err(SetError::Usage(_))));
        assert!(matches!(
            parse(&words("create x hash:mac")),
            Err(SetError::NotSupported(_))
        ));
        assert!(matches!(
            parse(&words("create x hash:ip timeout 5")),
            Err(SetError::NotSupported(_))
        ));
        for w in ["family inet6", "family ipv6", "-6"] {
            let Ok((Command::Create(_, def), false)) =
                parse(&words(&format!("create x hash:ip {w}")))
            else {
                panic!("{w}");
            };
            assert_eq!(def.family, SetFamily::Inet6, "{w}");
        }
        assert_eq!(
            parse(&words("create x hash:ip family foo"))
                .unwrap_err()
                .to_string(),
            "Syntax error: unknown inet family foo"
        );
        for (w, what) in [
            ("family inet6 family inet", "family"),
            ("-6 family inet", "family"),
            ("hashsize 64 hashsize 128", "hashsize"),
            ("maxelem 5 maxelem 6", "maxelem"),
        ] {
            assert_eq!(
                parse(&words(&format!("create x hash:ip {w}")))
                    .unwrap_err()
                    .to_string(),
                format!("Syntax error: {what} already specified"),
                "{w}"
            );
        }
        assert!(matches!(parse(&words("add foo")), Err(SetError::Usage(_))));
    }

    #[test]
    fn entries_as_ipset_reads_them() {
        let s = Services::system();
        let net = |a: [u8; 4], len| Member::Net {
            addr: a.into(),
            len,
        };
        assert_eq!(
            members(SetKind::Ip, SetFamily::Inet, "192.0.2.8/30", s).unwrap(),
            (8..12).map(|i| net([192, 0, 2, i], 32)).collect::<Vec<_>>()
        );
        assert_eq!(
            members(SetKind::Ip, SetFamily::Inet, "192.0.2.22-192.0.2.20", s)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            members(SetKind::Ip, SetFamily::Inet, "1.2.3", s).unwrap(),
            vec![net([1, 2, 0, 3], 32)]
        );
        assert_eq!(
            members(SetKind::Net, SetFamily::Inet, "192.0.2.5/24", s).unwrap(),
            vec![net([192, 0, 2, 0], 24)]
        );
        assert!(members(SetKind::Net, SetFamily::Inet, "192.0.2.0/0", s).is_err());
        assert!(members(SetKind::Net, SetFamily::Inet, "192.0.2.0/33", s).is_err());
        assert_eq!(
            members(SetKind::IpPort, SetFamily::Inet, "192.0.2.1,udp:53", s).unwrap(),
            vec![Member::Port {
                addr: [192, 0, 2, 1].into(),
                proto: 17,
                port: 53
            }]
        );
        assert_eq!(
            members(
                SetKind::IpPort,
                SetFamily::Inet,
                "192.0.2.1,tcp:8080-8081",
                s
            )
            .unwrap()
            .len(),
            2
        );
        assert_eq!(
            members(SetKind::IpPort, SetFamily::Inet, "192.0.2.1,80", s)
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            members(SetKind::IpPort, SetFamily::Inet, "192.0.2.1,icmp:ping", s),
            Err(SetError::NotSupported(_))
        ));
        assert_eq!(
            Member::Port {
                addr: [192, 0, 2, 1].into(),
                proto: 6,
                port: 80
            }
            .to_string(),
            "192.0.2.1,tcp:80"
        );
        assert_eq!(
            members(SetKind::IpPort, SetFamily::Inet, "192.0.2.1", s)
                .unwrap_err()
                .to_string(),
            "Syntax error: Second element is missing from 192.0.2.1."
        );
    }

    /// ipset 7.17's answers for inet6 sets (checked with it).
    #[test]
    fn inet6_entries_as_ipset_reads_them() {
        let s = Services::system();
        let v6 = SetFamily::Inet6;
        let one = |kind, e: &str| {
            members(kind, v6, e, s).map(|m| m.iter().map(|m| m.to_string()).collect::<Vec<_>>())
        };
        let err = |kind, e: &str| members(kind, v6, e, s).unwrap_err().to_string();
        assert_eq!(one(SetKind::Ip, "2001:DB8::1").unwrap(), ["2001:db8::1"]);
        assert_eq!(one(SetKind::Ip, "[2001:db8::2]").unwrap(), ["2001:db8::2"]);
        assert_eq!(
            one(SetKind::Ip, "2001:db8::1/128").unwrap(),
            ["2001:db8::1"]
        );
        assert_eq!(
            one(SetKind::Ip, "::ffff:192.0.2.1").unwrap(),
            ["::ffff:192.0.2.1"]
        );
        assert_eq!(
            err(SetKind::Ip, "2001:db8::/126"),
            "Syntax error: plain IP address must be supplied: 2001:db8::/126"
        );
        assert_eq!(
            err(SetKind::Ip, "2001:db8::5-2001:db8::7"),
            "Syntax error: plain IP address must be supplied: 2001:db8::5-2001:db8::7"
        );
        assert_eq!(
            err(SetKind::Ip, "192.0.2.1"),
            "Syntax error: cannot parse 192.0.2.1: resolving to IPv6 address failed"
        );
        assert_eq!(
            err(SetKind::Ip, "::"),
            "Null-valued element, cannot be stored in a hash type of set"
        );
        assert_eq!(
            one(SetKind::Net, "2001:db8:0:1:2:3:4:5/64").unwrap(),
            ["2001:db8:0:1::/64"]
        );
        assert_eq!(
            one(SetKind::Net, "[2001:db8::]/64").unwrap(),
            ["2001:db8::/64"]
        );
        assert_eq!(
            one(SetKind::Net, "2001:db8:2::1").unwrap(),
            ["2001:db8:2::1"]
        );
        assert_eq!(
            err(SetKind::Net, "2001:db8::1-2001:db8::5"),
            "Syntax error: IP address or IP/cidr must be specified: 2001:db8::1-2001:db8::5"
        );
        assert_eq!(
            err(SetKind::Net, "2001:db8::/129"),
            "Syntax error: '129' is out of range 0-128"
        );
        assert_eq!(
            err(SetKind::Net, "::/0"),
            "The value of the CIDR parameter of the IP address is invalid"
        );
        assert_eq!(
            one(SetKind::IpPort, "2001:db8::3,80-81").unwrap(),
            ["2001:db8::3,tcp:80", "2001:db8::3,tcp:81"]
        );
        assert_eq!(
            one(SetKind::IpPort, "[2001:db8::2],udp:53").unwrap(),
            ["2001:db8::2,udp:53"]
        );
        assert_eq!(
            err(SetKind::IpPort, "2001:db8::/127,tcp:80"),
            "Syntax error: plain IP address must be supplied: 2001:db8::/127"
        );
        assert_eq!(
            err(SetKind::IpPort, "2001:db8::1"),
            "Syntax error: Second element is missing from 2001:db8::1."
        );
    }
}
