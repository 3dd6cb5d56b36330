//! `fw daemon`: keeps the namespace's firewall whole while it runs.
//!
//! - It listens to rtnetlink (`RTMGRP_LINK`, `RTMGRP_IPV4_IFADDR`) and,
//!   within [`SETTLE`] of an interface or address coming or going,
//!   recompiles and swaps in the running ruleset for the interfaces there
//!   are now ([`exec::refresh`]): a veth a container runtime creates, a
//!   VPN's tun device, is attached as the ruleset says, with every counter
//!   kept.
//! - It serves Prometheus' text exposition format at `/metrics`
//!   (prometheus-client), per rule and per policy, with drops by reason,
//!   LOG's losses, the connection table's fill and the ruleset's age.
//! - With `--rules FILE` it applies the YAML file at start and again each
//!   time it changes (checked every [`POLL`], applied once it has stayed
//!   the same for a poll, so that a file being written is not read half
//!   way), keeping the running ruleset and saying so, once, when the new
//!   file is bad or gone.
//! - One daemon runs per network namespace: a second one is refused.
//! - With `--log` it prints LOG's records to standard output, as
//!   `fw monitor` does (the journal takes them under systemd).
//! - SIGHUP applies the rules file at once, as it is, and looks at the
//!   interfaces again.
//! - SIGTERM or SIGINT stop it; the firewall stays in force.

use std::{
    fmt,
    net::SocketAddr,
    os::unix::fs::MetadataExt as _,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _, text::encode},
    metrics::{MetricType, counter::ConstCounter, gauge::Gauge},
    registry::Registry,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _, Interest, unix::AsyncFd},
    net::{TcpListener, TcpStream},
    signal::unix::{SignalKind, signal},
};

use crate::{
    exec::{self, ApplyMode, ExecError, Refreshed, Snapshot},
    model::{BuiltinChain, Match},
};

/// How long the interfaces must stay unchanged before the daemon acts: a
/// container's veth comes up in a burst of messages.
pub const SETTLE: Duration = Duration::from_millis(100);
/// How often the rules file is checked for a change.
pub const POLL: Duration = Duration::from_secs(1);
/// The default `--metrics-addr`: loopback only.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9641";
/// The longest HTTP request head the metrics server reads, bytes.
const MAX_REQUEST: usize = 8192;

/// `fw daemon`'s usage.
pub const USAGE: &str = "\
Usage: fw daemon [--metrics-addr ADDR:PORT] [--no-metrics] [--rules FILE.yaml] [--log]
Keeps fw attached to every interface as interfaces come and go (within a
second), serves Prometheus metrics at http://ADDR:PORT/metrics (default
127.0.0.1:9641), re-applies FILE.yaml whenever it changes (keeping the
running ruleset when the file is bad), prints LOG's records with --log,
and stops on SIGTERM, leaving the firewall in force.
";

/// Errors that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A bad command line (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// What an fw command would have reported.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The rules file could not be read at start.
    #[error("{path}: {source}")]
    Rules {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics address could not be listened on (exit status 4, a
    /// resource problem): nothing was applied.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// `--metrics-addr`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Another `fw daemon` runs in this network namespace (exit status 4).
    #[error("another fw daemon runs in this network namespace (pid {pid}); stop it first")]
    Running {
        /// Its process id, as its lock file says.
        pid: String,
    },
    /// The runtime, the netlink socket or a signal handler could not be
    /// set up.
    #[error("{what}: {source}")]
    Setup {
        /// What was being set up.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}

impl DaemonError {
    /// The iptables-style exit status: 2 for a bad command line, the
    /// command's own for [`DaemonError::Exec`], 4 for a port or namespace
    /// already taken, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            DaemonError::Usage(_) => 2,
            DaemonError::Exec(e) => e.exit_code(),
            DaemonError::Listen { .. } | DaemonError::Running { .. } => 4,
            DaemonError::Rules { .. } | DaemonError::Setup { .. } => 1,
        }
    }
}

/// The daemon's options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Where `/metrics` is served; `None` with `--no-metrics`.
    pub metrics_addr: Option<SocketAddr>,
    /// The YAML ruleset to apply and watch.
    pub rules: Option<PathBuf>,
    /// Print LOG's records to standard output.
    pub log: bool,
}

/// Parses the arguments after `daemon`.
///
/// # Errors
/// [`DaemonError::Usage`] naming the argument.
pub fn parse(args: &[String]) -> Result<Options, DaemonError> {
    let mut opts = Options {
        metrics_addr: Some(DEFAULT_METRICS_ADDR.parse().expect("a socket address")),
        rules: None,
        log: false,
    };
    let (mut named_addr, mut no_metrics) = (false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| DaemonError::Usage(format!("daemon: {name} needs a value")))
        };
        match a.as_str() {
            "--metrics-addr" => {
                let v = value("--metrics-addr")?;
                opts.metrics_addr = Some(v.parse().map_err(|_| {
                    DaemonError::Usage(format!(
                        "daemon: --metrics-addr: `{v}' is not an ADDRESS:PORT"
                    ))
                })?);
                named_addr = true;
            }
            "--no-metrics" => {
                opts.metrics_addr = None;
                no_metrics = true;
            }
            "--rules" => opts.rules = Some(PathBuf::from(value("--rules")?)),
            "--log" => opts.log = true,
            other => {
                return Err(DaemonError::Usage(format!(
                    "daemon: unknown argument `{other}'"
                )));
            }
        }
    }
    if named_addr && no_metrics {
        return Err(DaemonError::Usage(
            "daemon: --metrics-addr and --no-metrics exclude each other".into(),
        ));
    }
    Ok(opts)
}

/// Runs the daemon until SIGTERM or SIGINT; messages go to standard error
/// as `fw daemon: ...` lines.
///
/// # Errors
/// Missing privileges; a rules file that cannot be read or applied at
/// start; a socket, signal handler or listener that cannot be set up.
/// Errors after the start are reported and the daemon goes on.
pub fn run(opts: &Options) -> Result<(), DaemonError> {
    exec::check_privileges()?;
    // A busy lock (another fw command) is waited for, not failed on.
    crate::state::set_wait(None);
    let setup = |what: &str| {
        let what = what.to_string();
        move |source| DaemonError::Setup { what, source }
    };
    let dirs = crate::load::pins::Dirs::current().map_err(ExecError::from)?;
    let _one = crate::state::DaemonLock::acquire(&crate::state::DaemonLock::path_for(&dirs.lock))
        .map_err(|e| match e {
        crate::state::DaemonLockError::Held(pid) => DaemonError::Running { pid },
        crate::state::DaemonLockError::Io(source) => DaemonError::Setup {
            what: "the daemon's lock file".into(),
            source,
        },
    })?;
    // Bound before the file is applied: a port in use changes nothing.
    let std_listener = match opts.metrics_addr {
        Some(addr) => Some(
            std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| DaemonError::Listen { addr, source })?,
        ),
        None => None,
    };
    let mut rules = opts.rules.clone().map(Watched::new);
    if let Some(r) = &mut rules {
        let text = r.read()?;
        let (out, _) = exec::apply_yaml(&text, &r.path.to_string_lossy(), ApplyMode::Apply)?;
        eprint!("{out}");
        say(&format!("applied {}", r.path.display()));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(setup("the tokio runtime"))?;
    rt.block_on(async move {
        let sock = subscribe().map_err(setup("rtnetlink"))?;
        // SAFETY: the AsyncFd owns the OwnedFd, which stays open and the
        // same until the AsyncFd is dropped.
        let netlink = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }
            .map_err(|e| DaemonError::Setup {
                what: "rtnetlink".into(),
                source: e.into(),
            })?;
        let mut term = signal(SignalKind::terminate()).map_err(setup("SIGTERM"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(setup("SIGINT"))?;
        let mut hup = signal(SignalKind::hangup()).map_err(setup("SIGHUP"))?;
        let listener = match std_listener {
            Some(l) => Some(TcpListener::from_std(l).map_err(setup("the metrics listener"))?),
            None => None,
        };
        // The port the kernel chose, for `:0`.
        if let Some(addr) = listener.as_ref().and_then(|l| l.local_addr().ok()) {
            say(&format!("metrics at http://{addr}/metrics"));
        }
        if opts.log {
            std::thread::spawn(|| {
                let follow = crate::monitor::Command::Follow(None);
                if let Err(e) = crate::monitor::run(&follow) {
                    say(&format!("LOG records: {e}"));
                }
            });
        }
        // Interfaces created before the daemon started.
        let mut failed = None;
        // Deadlines, not timers started anew at each turn of the loop:
        // other events (a scrape, a connection) must not put them off.
        use tokio::time::{Instant, sleep_until};
        let mut retry_at = refresh(&mut failed).await;
        let mut poll = tokio::time::interval(POLL);
        let mut settle_at: Option<Instant> = None;
        // One scrape at a time: a flood of them must not keep the
        // namespace's lock from the interface refresh.
        let scrapes = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                ready = netlink.readable() => {
                    if let Ok(mut guard) = ready {
                        drain(guard.get_inner());
                        guard.clear_ready();
                        // Quiet for SETTLE since the last message.
                        settle_at = Some(Instant::now() + SETTLE);
                    }
                }
                () = sleep_until(settle_at.unwrap_or_else(Instant::now)), if settle_at.is_some() => {
                    settle_at = None;
                    retry_at = refresh(&mut failed).await;
                }
                // A refresh the ruleset refused (a nat table appeared, say)
                // is tried again every second until it goes through (a
                // rules file refused so is retried at the poll below).
                () = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() && settle_at.is_none() => {
                    retry_at = refresh(&mut failed).await;
                }
                accepted = accept(listener.as_ref()) => {
                    if let Ok((stream, _)) = accepted {
                        tokio::spawn(serve(stream, scrapes.clone()));
                    }
                }
                _ = poll.tick(), if rules.is_some() => {
                    if let Some(r) = &mut rules {
                        reapply(r, false).await;
                    }
                }
                // As systemd's ExecReload sends it: the file now, as it is.
                _ = hup.recv() => {
                    if let Some(r) = &mut rules {
                        reapply(r, true).await;
                    }
                    retry_at = refresh(&mut failed).await;
                }
            }
        }
        say("stopping; the firewall stays in force");
        Ok(())
    })
}

/// `fw daemon: MESSAGE` on standard error.
fn say(message: &str) {
    eprintln!("fw daemon: {message}");
}

/// The next connection, or never without a listener.
async fn accept(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// [`exec::refresh`] off the runtime's thread, reporting what it did;
/// `None` when it went through, else when to try again ([`POLL`] from
/// now). A failure is said once while it stays the same (`failed` holds
/// the last one said).
async fn refresh(failed: &mut Option<String>) -> Option<tokio::time::Instant> {
    let problem = match tokio::task::spawn_blocking(exec::refresh).await {
        Ok(Ok(Refreshed::Changed { attached, detached })) => {
            for i in attached {
                say(&format!("attached {i}"));
            }
            for i in detached {
                say(&format!("detached {i} (gone)"));
            }
            None
        }
        Ok(Ok(Refreshed::Unchanged | Refreshed::NotLoaded)) => None,
        Ok(Err(e)) => Some(format!(
            "interfaces changed, the ruleset was not updated (trying again every second): {e}"
        )),
        Err(e) => Some(format!("interfaces changed: {e}")),
    };
    match problem {
        None => {
            if failed.take().is_some() {
                say("the ruleset follows the interfaces again");
            }
            None
        }
        Some(p) => {
            if failed.as_ref() != Some(&p) {
                say(&p);
                *failed = Some(p);
            }
            Some(tokio::time::Instant::now() + POLL)
        }
    }
}

/// A rules file and what it held when last applied.
struct Watched {
    path: PathBuf,
    /// Modification time, length, inode (a rename over the file that
    /// keeps the first two, as `cp -p` or `install -p` do, changes it)
    /// and text.
    seen: Option<(Stamp, String)>,
    /// The file's modification time, length and inode at the last poll,
    /// while they differ from `seen`: it is read once a poll finds them
    /// the same.
    settling: Option<Stamp>,
    /// A file the running firewall refused for a reason of the host (a
    /// nat table, say), not of its text: applied again at each poll.
    refused: Option<String>,
    /// The last problem reported, so that it is said once.
    reported: Option<String>,
}

impl Watched {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            seen: None,
            settling: None,
            refused: None,
            reported: None,
        }
    }

    /// Says `message` unless it was the last thing said about the file.
    fn report(&mut self, message: String) {
        if self.reported.as_ref() != Some(&message) {
            say(&message);
            self.reported = Some(message);
        }
    }

    /// The file's text, remembered as seen.
    fn read(&mut self) -> Result<String, DaemonError> {
        let err = |source| DaemonError::Rules {
            path: self.path.clone(),
            source,
        };
        let meta = std::fs::metadata(&self.path).map_err(err)?;
        // A FIFO or a device would block the daemon in read(2).
        if !meta.is_file() {
            return Err(err(std::io::Error::other("not a regular file")));
        }
        let text = std::fs::read_to_string(&self.path).map_err(err)?;
        self.seen = Some((Stamp::of(&meta), text.clone()));
        Ok(text)
    }

    /// The file's text when it differs from what was seen last and has
    /// stayed the same since the previous poll.
    fn changed(&mut self) -> Option<Result<String, DaemonError>> {
        let meta = std::fs::metadata(&self.path);
        if let (Ok(m), Some((stamp, _))) = (&meta, &self.seen)
            && Stamp::of(m) == *stamp
        {
            self.settling = None;
            return None;
        }
        if let Ok(m) = &meta {
            let now = Stamp::of(m);
            if self.settling != Some(now) {
                self.settling = Some(now);
                return None;
            }
        }
        self.settling = None;
        if being_written(&self.path) {
            // Read once its writer has closed it.
            return None;
        }
        let before = self.seen.as_ref().map(|(_, t)| t.clone());
        match self.read() {
            Ok(t) if Some(&t) == before.as_ref() => None,
            r => Some(r),
        }
    }
}

/// What tells one version of the rules file from another: modification
/// and change times, length and inode (a rename over it that keeps the
/// mtime and size, as `cp -p` does, still changes the inode or ctime).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    mtime: Option<SystemTime>,
    ctime: (i64, i64),
    len: u64,
    ino: u64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Self {
        Self {
            mtime: m.modified().ok(),
            ctime: (m.ctime(), m.ctime_nsec()),
            len: m.len(),
            ino: m.ino(),
        }
    }
}

/// Whether some process has `path` open for writing: a read lease
/// (fcntl(2) `F_SETLEASE`, `F_RDLCK`) is refused with EAGAIN then. A file
/// system without leases says nothing (false).
fn being_written(path: &std::path::Path) -> bool {
    use std::os::fd::AsRawFd as _;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    // SAFETY: fcntl on a descriptor we own.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
    if rc == 0 {
        // SAFETY: as above; the lease goes with the descriptor anyway.
        unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
        return false;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

/// Applies the rules file again when it changed (or at once, changed or
/// not, with `now`); a bad one is reported and the running ruleset kept.
async fn reapply(r: &mut Watched, now: bool) {
    let found = if now {
        r.settling = None;
        r.reported = None;
        Some(r.read())
    } else {
        r.changed()
    };
    let text = match found {
        None => match r.refused.clone() {
            Some(t) => t,
            None => return,
        },
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            r.report(format!("{e}; the running ruleset stays"));
            return;
        }
    };
    let file = r.path.to_string_lossy().into_owned();
    let applying = text.clone();
    let done =
        tokio::task::spawn_blocking(move || exec::apply_yaml(&applying, &file, ApplyMode::Apply))
            .await;
    match done {
        Ok(Ok((out, _))) => {
            eprint!("{out}");
            say(&format!("applied {}", r.path.display()));
            r.reported = None;
            r.refused = None;
        }
        Ok(Err(e)) => {
            // What the text says is final; what the host refused may go.
            r.refused = (!matches!(e, ExecError::Yaml(_))).then_some(text);
            r.report(format!("{e}; the running ruleset stays"));
        }
        Err(e) => r.report(format!(
            "{}: {e}; the running ruleset stays",
            r.path.display()
        )),
    }
}

/// Answers one HTTP request: `GET /metrics` with the metrics, anything
/// else with 404 (or 405 for another method).
async fn serve(mut stream: TcpStream, scrapes: std::sync::Arc<tokio::sync::Mutex<()>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => {
            let _one = scrapes.lock().await;
            match tokio::task::spawn_blocking(exec::snapshot).await {
                Ok(Ok(s)) => ("200 OK", exposition(&s)),
                Ok(Err(e)) => ("500 Internal Server Error", format!("{e}\n")),
                Err(e) => ("500 Internal Server Error", format!("{e}\n")),
            }
        }
        ("GET", _) => ("404 Not Found", "fw daemon serves /metrics only\n".into()),
        _ => ("405 Method Not Allowed", "GET /metrics\n".into()),
    };
    // prometheus-client writes OpenMetrics text (it ends in `# EOF`).
    let content_type = if status.starts_with("200") {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let allow = if status.starts_with("405") {
        "Allow: GET\r\n"
    } else {
        ""
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{allow}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    family: String,
    chain: String,
    rule: String,
    comment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabels {
    family: String,
    chain: String,
    policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// A counter family whose series are written in the order given (a
/// `Family` writes them in hash order, which changes between scrapes).
#[derive(Debug)]
struct Ordered<L> {
    name: &'static str,
    help: &'static str,
    series: Vec<(L, u64)>,
}

impl<L> Ordered<L> {
    fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            series: Vec::new(),
        }
    }
}

impl<L: EncodeLabelSet + fmt::Debug + Send + Sync + 'static> Collector for Ordered<L> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let mut metric =
            encoder.encode_descriptor(self.name, self.help, None, MetricType::Counter)?;
        for (labels, value) in &self.series {
            ConstCounter::new(*value).encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// The metrics of `s` in the OpenMetrics text format (names and labels
/// in docs/daemon.md), rules in chain and rule order.
pub fn exposition(s: &Snapshot) -> String {
    let mut reg = Registry::default();
    let mut rule_packets = Ordered::new(
        "fw_rule_packets",
        "Packets that matched the rule (chain, number from 1 as fw -L --line-numbers shows it)",
    );
    let mut rule_bytes = Ordered::new(
        "fw_rule_bytes",
        "Bytes of the packets that matched the rule",
    );
    let mut policy_packets = Ordered::new(
        "fw_policy_packets",
        "Packets the built-in chain's policy decided",
    );
    let mut policy_bytes = Ordered::new(
        "fw_policy_bytes",
        "Bytes the built-in chain's policy decided",
    );
    // IPv4's table, then IPv6's.
    let tables = [
        ("ipv4", &s.state.ruleset, &s.counters),
        ("ipv6", &s.state.other.ruleset, &s.counters6),
    ];
    for (family, ruleset, counters) in tables {
        for (chain, rules) in ruleset.all_rules() {
            let counts = counters.rules.get(chain);
            for (n, r) in rules.iter().enumerate() {
                let comment = r
                    .matches
                    .iter()
                    .find_map(|m| match m {
                        Match::Comment(c) => Some(c.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let labels = RuleLabels {
                    family: family.to_string(),
                    chain: chain.to_string(),
                    rule: (n + 1).to_string(),
                    comment,
                };
                let c = counts.and_then(|c| c.get(n)).copied().unwrap_or_default();
                rule_packets.series.push((labels.clone(), c.packets));
                rule_bytes.series.push((labels, c.bytes));
            }
        }
        for (i, c) in BuiltinChain::ALL.into_iter().enumerate() {
            let labels = ChainLabels {
                family: family.to_string(),
                chain: c.name().to_string(),
                policy: ruleset.chain(c).policy.name().to_string(),
            };
            policy_packets
                .series
                .push((labels.clone(), counters.policy[i].packets));
            policy_bytes.series.push((labels, counters.policy[i].bytes));
        }
    }
    reg.register_collector(Box::new(rule_packets));
    reg.register_collector(Box::new(rule_bytes));
    reg.register_collector(Box::new(policy_packets));
    reg.register_collector(Box::new(policy_bytes));
    let mut dropped = Ordered::new(
        "fw_dropped_before_rules_packets",
        "Packets dropped before any rule, by reason (as fw status lists them)",
    );
    for (m, n) in &s.malformed {
        dropped.series.push((
            ReasonLabels {
                reason: m.name().to_string(),
            },
            *n,
        ));
    }
    reg.register_collector(Box::new(dropped));
    let mut log = Ordered::new(
        "fw_log_records",
        "LOG records sent to fw monitor, or lost (rate limit, full ring)",
    );
    for (st, n) in &s.log {
        log.series.push((
            ReasonLabels {
                reason: st.name().to_string(),
            },
            *n,
        ));
    }
    reg.register_collector(Box::new(log));
    let gauge = |v: i64| {
        let g = Gauge::<i64>::default();
        g.set(v);
        g
    };
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    reg.register(
        "fw_loaded",
        "1 when fw is loaded in this network namespace",
        gauge(i64::from(s.loaded)),
    );
    reg.register(
        "fw_conntrack_entries",
        "Entries in the connection table (expired ones not yet reused included)",
        gauge(int(s.ct_entries)),
    );
    reg.register(
        "fw_conntrack_max",
        "Size of the connection table, entries",
        gauge(int(s.ct_max)),
    );
    reg.register(
        "fw_ruleset_generation",
        "Generation of the running ruleset (one more at each change)",
        gauge(i64::from(s.state.generation)),
    );
    let applied = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    applied.set(s.applied);
    reg.register(
        "fw_ruleset_applied_timestamp_seconds",
        "When the running ruleset was made live, seconds since the epoch",
        applied,
    );
    let mut out = String::new();
    // Writing into a String does not fail.
    let _ = encode(&mut out, &reg);
    out
}

/// A netlink socket joined to the groups of link and IPv4 address changes.
fn subscribe() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd as _;
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket(2).
    let sock = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR) as u32;
    // SAFETY: a valid address of the length given.
    let rc = unsafe {
        libc::bind(
            fd,
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(sock)
}

/// Reads every pending message of `sock` (their content does not
/// matter: any change means looking at the interfaces again). An
/// overrun (ENOBUFS) also means that.
fn drain(sock: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd as _;
    let mut buf = [0u8; 16384];
    loop {
        // SAFETY: reading into a buffer we own, of the length given.
        let n = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            let e = std::io::Error::last_os_error();
            if n == 0 || e.raw_os_error() != Some(libc::ENOBUFS) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn options_parse_and_bad_ones_name_the_argument() {
        assert_eq!(
            parse(&args(&[])).unwrap(),
            Options {
                metrics_addr: Some("127.0.0.1:9641".parse().unwrap()),
                rules: None,
                log: false
            }
        );
        let o = parse(&args(&[
            "--metrics-addr",
            "[::1]:9000",
            "--rules",
            "/etc/fw/rules.yaml",
            "--log",
        ]))
        .unwrap();
        assert_eq!(o.metrics_addr, Some("[::1]:9000".parse().unwrap()));
        assert_eq!(o.rules, Some(PathBuf::from("/etc/fw/rules.yaml")));
        assert!(o.log);
        assert_eq!(parse(&args(&["--no-metrics"])).unwrap().metrics_addr, None);
        for (bad, msg) in [
            (
                &["--metrics-addr", "localhost"][..],
                "daemon: --metrics-addr: `localhost' is not an ADDRESS:PORT",
            ),
            (&["--rules"][..], "daemon: --rules needs a value"),
            (
                &["--no-metrics", "--metrics-addr", "127.0.0.1:1"][..],
                "daemon: --metrics-addr and --no-metrics exclude each other",
            ),
            (
                &["--frobnicate"][..],
                "daemon: unknown argument `--frobnicate'",
            ),
        ] {
            let e = parse(&args(bad)).unwrap_err();
            assert_eq!((e.to_string(), e.exit_code()), (msg.to_string(), 2));
        }
    }

    #[test]
    fn exposition_has_every_rule_and_policy_with_its_counts() {
        use crate::render::Counts;
        let mut s = Snapshot {
            loaded: true,
            ..Snapshot::default()
        };
        s.state.ruleset.input.policy = crate::model::Policy::Drop;
        s.state.ruleset.input.rules = vec![
            crate::model::Rule {
                matches: vec![Match::Comment("ssh".into())],
                target: crate::model::Target::Accept,
                ..crate::model::Rule::default()
            },
            crate::model::Rule::default(),
        ];
        s.counters.rules.insert(
            "INPUT".into(),
            vec![
                Counts {
                    packets: 7,
                    bytes: 420,
                },
                Counts {
                    packets: 1,
                    bytes: 60,
                },
            ],
        );
        s.counters.policy[0] = Counts {
            packets: 3,
            bytes: 180,
        };
        s.state.generation = 5;
        // The IPv6 table's, labelled as such.
        s.state.other.ruleset.forward.policy = crate::model::Policy::Drop;
        s.state.other.ruleset.input.rules = vec![crate::model::Rule::default()];
        s.counters6.rules.insert(
            "INPUT".into(),
            vec![Counts {
                packets: 2,
                bytes: 96,
            }],
        );
        s.counters6.policy[1] = Counts {
            packets: 4,
            bytes: 400,
        };
        let text = exposition(&s);
        for line in [
            "fw_rule_packets_total{family=\"ipv4\",chain=\"INPUT\",rule=\"1\",comment=\"ssh\"} 7",
            "fw_rule_bytes_total{family=\"ipv4\",chain=\"INPUT\",rule=\"1\",comment=\"ssh\"} 420",
            "fw_rule_packets_total{family=\"ipv4\",chain=\"INPUT\",rule=\"2\",comment=\"\"} 1",
            "fw_policy_packets_total{family=\"ipv4\",chain=\"INPUT\",policy=\"DROP\"} 3",
            "fw_policy_bytes_total{family=\"ipv4\",chain=\"INPUT\",policy=\"DROP\"} 180",
            "fw_policy_packets_total{family=\"ipv4\",chain=\"FORWARD\",policy=\"ACCEPT\"} 0",
            "fw_rule_bytes_total{family=\"ipv6\",chain=\"INPUT\",rule=\"1\",comment=\"\"} 96",
            "fw_policy_packets_total{family=\"ipv6\",chain=\"FORWARD\",policy=\"DROP\"} 4",
            "fw_ruleset_generation 5",
            "fw_loaded 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        // Series in rule order, the same at every scrape.
        let at = |needle: &str| text.find(needle).unwrap();
        assert!(at("rule=\"1\"") < at("rule=\"2\""), "{text}");
        assert_eq!(text, exposition(&s));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
