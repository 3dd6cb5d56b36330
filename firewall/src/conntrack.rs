//! `fw conntrack`: the connection table the eBPF programs keep
//! (`firewall_common::ct`), listed, counted and flushed as conntrack(8)
//! from conntrack-tools does for netfilter's.

use std::{
    fmt::Write as _,
    net::{Ipv4Addr, Ipv6Addr},
};

use firewall_common::ct::{
    CtEntry, CtKey, F_ASSURED, F_ORIG_FIRST, F_SEEN_REPLY, TcpState, Timeouts, icmp_reply_of,
};

use crate::{
    exec::{self, ExecError},
    load::{Kernel, pins::Dirs},
};

/// What `fw conntrack` was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-L`: every live entry, in `conntrack -L`'s layout.
    List,
    /// `-F`: remove every entry.
    Flush,
    /// `-C`: the number of live entries.
    Count,
    /// `-S`: the table's size and the kernel's counters.
    Stats,
    /// `--timeout [NAME=SECONDS ...]`: print the timeouts, or set some.
    Timeouts(Vec<(usize, u32)>),
    /// `--tcp [NAME=VALUE ...]`: print the TCP tracker's switches
    /// (`Timeouts::SWITCHES`), or set some.
    Tcp(Vec<(usize, u32)>),
}

/// The usage of `fw conntrack`.
pub const USAGE: &str = "\
Usage: fw conntrack -L | -F | -C | -S | --timeout [NAME=SECONDS ...] | --tcp [NAME=VALUE ...]
  -L, --dump     list the connections, as conntrack -L
  -F, --flush    remove every connection
  -C, --count    print the number of connections
  -S, --stats    the table's size and the tracking counters
  --timeout      print the timeouts (seconds), or set NAME=SECONDS
  --tcp          print the TCP tracker's switches (be_liberal,
                 ignore_invalid_rst, max_retrans: the nf_conntrack_tcp_*
                 sysctls), or set NAME=VALUE
";

/// Parses the arguments after `fw conntrack`.
///
/// # Errors
/// A message for a bad command line.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let first = args.first().map(String::as_str);
    let one = |c: Command| {
        if args.len() > 1 {
            Err(format!("unknown argument `{}'", args[1]))
        } else {
            Ok(c)
        }
    };
    match first {
        Some("-L" | "--dump") => one(Command::List),
        Some("-F" | "--flush") => one(Command::Flush),
        Some("-C" | "--count") => one(Command::Count),
        Some("-S" | "--stats") => one(Command::Stats),
        Some("--timeout") => {
            settings(&args[1..], &Timeouts::NAMES, "timeout", "SECONDS").map(Command::Timeouts)
        }
        Some("--tcp") => {
            settings(&args[1..], &Timeouts::SWITCHES, "switch", "VALUE").map(Command::Tcp)
        }
        Some(a) => Err(format!("unknown argument `{a}'")),
        None => Err("one of -L, -F, -C, -S or --timeout is required".into()),
    }
}

/// `NAME=VALUE` arguments, each an index into `names` and its value: a
/// positive number of seconds for a timeout, 0 or more for a switch
/// (`be_liberal` and `ignore_invalid_rst` are 0 or 1, as their sysctls).
fn settings(
    args: &[String],
    names: &[&str],
    what: &str,
    unit: &str,
) -> Result<Vec<(usize, u32)>, String> {
    args.iter()
        .map(|a| {
            let (name, value) = a
                .split_once('=')
                .ok_or_else(|| format!("expected NAME={unit}: `{a}'"))?;
            let i = names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| format!("unknown {what} `{name}' (one of {})", names.join(", ")))?;
            let v = value.parse::<u32>().ok().filter(|v| match (what, name) {
                ("timeout", _) => *v > 0,
                (_, "max_retrans") => *v <= 255,
                _ => *v <= 1,
            });
            let v = v.ok_or_else(|| match what {
                "timeout" => format!("bad number of seconds `{value}'"),
                _ => format!("bad value `{value}' for {name}"),
            })?;
            Ok((i, v))
        })
        .collect()
}

/// Errors of `fw conntrack`.
#[derive(Debug, thiserror::Error)]
pub enum CtError {
    /// Privileges, pins, maps.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A change asked where fw has never loaded.
    #[error("fw is not loaded in this network namespace")]
    NotLoaded,
}

impl From<crate::load::LoadError> for CtError {
    fn from(e: crate::load::LoadError) -> Self {
        CtError::Exec(e.into())
    }
}

impl From<crate::load::pins::PinsError> for CtError {
    fn from(e: crate::load::pins::PinsError) -> Self {
        CtError::Exec(e.into())
    }
}

impl CtError {
    /// The exit status: as the executor's, 1 when fw is not loaded.
    pub fn exit_code(&self) -> i32 {
        match self {
            CtError::Exec(e) => e.exit_code(),
            CtError::NotLoaded => 1,
        }
    }
}

/// The monotonic clock `bpf_ktime_get_ns` reads, in ns.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Carries out `cmd` in the current network namespace; returns what goes
/// to standard output and the note for standard error (conntrack prints
/// its summary there).
///
/// # Errors
/// Missing privileges, unreadable maps, or a change where fw is not
/// loaded.
pub fn run(cmd: &Command) -> Result<(String, String), CtError> {
    exec::check_privileges()?;
    let dirs = Dirs::current()?;
    let kernel = Kernel::open(&dirs)?;
    let now = now_ns();
    let live = |k: &Kernel| -> Result<Vec<(CtKey, CtEntry)>, CtError> {
        Ok(k.ct_entries()?
            .into_iter()
            .filter(|(_, e)| e.expires > now)
            .collect())
    };
    Ok(match (cmd, kernel) {
        (Command::List, None) => (String::new(), shown(0)),
        (Command::List, Some(k)) => {
            let entries = live(&k)?;
            (list(&entries, now), shown(entries.len()))
        }
        (Command::Count, None) => ("0\n".into(), String::new()),
        (Command::Count, Some(k)) => (format!("{}\n", live(&k)?.len()), String::new()),
        (Command::Flush, None) => (String::new(), emptied()),
        (Command::Flush, Some(mut k)) => {
            k.ct_flush()?;
            (String::new(), emptied())
        }
        (Command::Stats, None) => return Err(CtError::NotLoaded),
        (Command::Stats, Some(k)) => {
            let mut out = format!("entries={} max={}", live(&k)?.len(), k.ct_max());
            for (s, n) in k.ct_stats()? {
                let _ = write!(out, " {}={n}", s.name());
            }
            (out + "\n", String::new())
        }
        (Command::Timeouts(set), k) => configure(k, set, show_timeouts, |old, set| {
            let mut a = old.to_array();
            for &(i, v) in set {
                a[i] = v;
            }
            old.with_array(a)
        })?,
        (Command::Tcp(set), k) => configure(k, set, show_switches, |old, set| {
            let mut a = old.switches();
            for &(i, v) in set {
                a[i] = v;
            }
            old.with_switches(a)
        })?,
    })
}

fn shown(n: usize) -> String {
    format!("fw conntrack: {n} flow entries have been shown.\n")
}

fn emptied() -> String {
    "fw conntrack: connection tracking table has been emptied.\n".into()
}

/// `--timeout` and `--tcp` on `CT_CONFIG`: with nothing in `set`, prints
/// what `show` shows of it (the defaults where fw is not loaded);
/// otherwise writes `apply(old, set)` and prints that.
fn configure(
    k: Option<Kernel>,
    set: &[(usize, u32)],
    show: fn(&Timeouts) -> String,
    apply: impl Fn(Timeouts, &[(usize, u32)]) -> Timeouts,
) -> Result<(String, String), CtError> {
    let Some(mut k) = k else {
        if set.is_empty() {
            return Ok((show(&Timeouts::DEFAULT), String::new()));
        }
        return Err(CtError::NotLoaded);
    };
    let t = apply(k.timeouts()?, set);
    if !set.is_empty() {
        k.set_timeouts(&t)?;
    }
    Ok((show(&t), String::new()))
}

/// `NAME VALUE` lines, `names` and `values` in the same order.
fn name_lines(names: &[&str], values: &[u32]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n} {v}\n"))
        .collect()
}

/// `NAME SECONDS` lines of the timeouts.
fn show_timeouts(t: &Timeouts) -> String {
    name_lines(&Timeouts::NAMES, &t.to_array())
}

/// `NAME VALUE` lines of the TCP tracker's switches.
fn show_switches(t: &Timeouts) -> String {
    name_lines(&Timeouts::SWITCHES, &t.switches())
}

/// Family (IPv4 first), protocol, original source and destination, their
/// ports.
type SortKey = (u8, u8, [u8; 16], [u8; 16], u16, u16);

/// `conntrack -L`'s lines for `entries` at monotonic time `now` (ns),
/// sorted by protocol and original tuple.
pub fn list(entries: &[(CtKey, CtEntry)], now: u64) -> String {
    let mut lines: Vec<(SortKey, String)> = entries
        .iter()
        .map(|(k, e)| {
            let (o, r) = if e.flags & F_ORIG_FIRST != 0 {
                (0, 1)
            } else {
                (1, 0)
            };
            let sort = (k.v6, k.proto, k.addr[o], k.addr[r], k.port[o], k.port[r]);
            (sort, line(k, e, now))
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, l)| l + "\n").collect()
}

/// One entry in `conntrack -L`'s layout (conntrack-tools'
/// `nfct_snprintf` default output): protocol name padded to 8, number,
/// seconds left, TCP state, the original tuple, `[UNREPLIED]` before an
/// answer, the reply tuple, `[ASSURED]`, `mark=0 use=1`.
pub fn line(k: &CtKey, e: &CtEntry, now: u64) -> String {
    let (o, r) = if e.flags & F_ORIG_FIRST != 0 {
        (0, 1)
    } else {
        (1, 0)
    };
    let name = match k.proto {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        _ => "unknown",
    };
    let secs = e.expires.saturating_sub(now) / 1_000_000_000;
    let mut s = format!("{name:<8} {} {secs} ", k.proto);
    if k.proto == 6 {
        let _ = write!(s, "{} ", TcpState::from_u8(e.tcp).name());
    }
    let tuple = |s: &mut String, from: usize, to: usize, reply: bool| {
        if k.v6 != 0 {
            let (src, dst) = (Ipv6Addr::from(k.addr[from]), Ipv6Addr::from(k.addr[to]));
            let _ = write!(s, "src={src} dst={dst} ");
        } else {
            let (src, dst) = (Ipv4Addr::from(k.addr4(from)), Ipv4Addr::from(k.addr4(to)));
            let _ = write!(s, "src={src} dst={dst} ");
        }
        match k.proto {
            6 | 17 => {
                let _ = write!(s, "sport={} dport={} ", k.port[from], k.port[to]);
            }
            1 | 58 => {
                // The first port is the identifier, the second the
                // query's type and code (`CtKey::icmp`).
                let (query, code) = ((k.port[1] >> 8) as u8, k.port[1] as u8);
                let kind = match (reply, k.proto) {
                    (false, _) => query,
                    (true, 1) => icmp_reply_of(query).unwrap_or(0),
                    (true, _) => firewall_common::ct::icmp6_reply_of(query).unwrap_or(0),
                };
                let _ = write!(s, "type={kind} code={code} id={} ", k.port[0]);
            }
            _ => {}
        }
    };
    tuple(&mut s, o, r, false);
    if e.flags & F_SEEN_REPLY == 0 {
        s.push_str("[UNREPLIED] ");
    }
    tuple(&mut s, r, o, true);
    if e.flags & F_ASSURED != 0 {
        s.push_str("[ASSURED] ");
    }
    s.push_str("mark=0 use=1");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_flags_valid_is_netfilters_table() {
        use firewall_common::ct::tcp_flags_valid;
        // nf_conntrack_proto_tcp.c's tcp_valid_flags: SYN, SYN|URG,
        // SYN|ACK, RST, RST|ACK, FIN|ACK, FIN|ACK|URG, ACK, ACK|URG.
        let valid = [0x02, 0x22, 0x12, 0x04, 0x14, 0x11, 0x31, 0x10, 0x30];
        for f in 0..=255u8 {
            // PSH, ECE and CWR do not count.
            let base = f & !(0x08 | 0x40 | 0x80);
            assert_eq!(tcp_flags_valid(f), valid.contains(&base), "{f:#04x}");
        }
        for f in [0x00, 0x01, 0x03, 0x06, 0x13, 0x08, 0x29] {
            assert!(!tcp_flags_valid(f), "{f:#04x}");
        }
    }

    #[test]
    fn lines_in_conntrack_layout() {
        let (k, first) = CtKey::new([192, 0, 2, 2], [192, 0, 2, 1], 40000, 8080, 6);
        let e = CtEntry {
            expires: 432_000 * 1_000_000_000 + 5,
            tcp: TcpState::Established as u8,
            flags: F_SEEN_REPLY | F_ASSURED | if first { F_ORIG_FIRST } else { 0 },
            _pad: [0; 6],
            ..CtEntry::default()
        };
        assert_eq!(
            line(&k, &e, 1_000_000_000),
            "tcp      6 431999 ESTABLISHED src=192.0.2.2 dst=192.0.2.1 sport=40000 \
             dport=8080 src=192.0.2.1 dst=192.0.2.2 sport=8080 dport=40000 [ASSURED] \
             mark=0 use=1"
        );
        let (k, first) = CtKey::new([192, 0, 2, 1], [192, 0, 2, 2], 53, 5353, 17);
        let e = CtEntry {
            expires: 30_000_000_000,
            flags: if first { F_ORIG_FIRST } else { 0 },
            ..CtEntry::default()
        };
        assert_eq!(
            line(&k, &e, 0),
            "udp      17 30 src=192.0.2.1 dst=192.0.2.2 sport=53 dport=5353 [UNREPLIED] \
             src=192.0.2.2 dst=192.0.2.1 sport=5353 dport=53 mark=0 use=1"
        );
        let k = CtKey::icmp([192, 0, 2, 2], [192, 0, 2, 1], 7, 8, 0);
        let e = CtEntry {
            expires: 29_500_000_000,
            flags: F_SEEN_REPLY | F_ORIG_FIRST,
            ..CtEntry::default()
        };
        assert_eq!(
            line(&k, &e, 0),
            "icmp     1 29 src=192.0.2.2 dst=192.0.2.1 type=8 code=0 id=7 \
             src=192.0.2.1 dst=192.0.2.2 type=0 code=0 id=7 mark=0 use=1"
        );
    }

    #[test]
    fn arguments() {
        let a = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(parse(&a("-L")), Ok(Command::List));
        assert_eq!(parse(&a("--flush")), Ok(Command::Flush));
        assert_eq!(
            parse(&a("--timeout udp=60 tcp_established=3600")),
            Ok(Command::Timeouts(vec![(8, 60), (2, 3600)]))
        );
        assert!(parse(&a("--timeout udp=0")).is_err());
        assert!(parse(&a("--timeout bogus=1")).is_err());
        assert!(parse(&a("-L -n")).is_err());
        assert_eq!(
            parse(&a("--timeout tcp_unacknowledged=90")),
            Ok(Command::Timeouts(vec![(13, 90)]))
        );
        assert_eq!(
            parse(&a("--tcp be_liberal=1 max_retrans=5 ignore_invalid_rst=0")),
            Ok(Command::Tcp(vec![(0, 1), (2, 5), (1, 0)]))
        );
        assert_eq!(parse(&a("--tcp")), Ok(Command::Tcp(vec![])));
        assert_eq!(
            parse(&a("--tcp be_liberal=2")),
            Err("bad value `2' for be_liberal".into())
        );
        assert_eq!(
            parse(&a("--tcp loose=1")),
            Err(
                "unknown switch `loose' (one of be_liberal, ignore_invalid_rst, max_retrans)"
                    .into()
            )
        );
        assert_eq!(
            show_switches(&Timeouts::DEFAULT),
            "be_liberal 0\nignore_invalid_rst 0\nmax_retrans 3\n"
        );
    }
}
