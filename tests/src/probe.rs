//! Probes: real TCP, UDP and ICMP packets sent with sockets opened inside a
//! lab namespace. Each probe answers "delivered?" as a bool; a harness
//! failure (the namespace cannot be entered, a socket cannot be opened)
//! panics instead, so it is never mistaken for "dropped".

use std::{
    io::ErrorKind,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow};

use crate::netns::{in_netns, spawn_in_netns};

/// A probe timeout that is long for a veth link (replies take well under a
/// millisecond) and short enough that dropped probes keep the suite fast.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Makes each probe's payload (and ICMP sequence number) unique.
static PROBE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A token no other probe of any process sends.
fn unique_token(kind: &str) -> (u32, Vec<u8>) {
    let n = PROBE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let token = format!("fw-{kind}-probe {} {n} {nanos}", std::process::id());
    (n, token.into_bytes())
}

/// The unspecified address of `addr`'s family, to bind a server socket to.
fn unspecified_like(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// A TCP listener running in a namespace: it accepts every connection and
/// closes it at once. Dropping it (or [`TcpServer::stop`]) stops the thread
/// and closes the listening socket.
#[derive(Debug)]
pub struct TcpServer {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TcpServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Stops listening and waits for the thread (at most a few ms).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Listens on TCP `port` on every IPv4 address of namespace `server_ns`,
/// accepting and closing connections until the returned [`TcpServer`] is
/// dropped. The socket is listening when this returns.
///
/// # Errors
/// When the namespace cannot be entered or the port cannot be bound.
pub fn tcp_listen(server_ns: &str, port: u16) -> anyhow::Result<TcpServer> {
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
    let (stop2, accepted2) = (stop.clone(), accepted.clone());
    let thread = spawn_in_netns(server_ns, move || {
        let listener = match TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
        {
            Ok(l) => l,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        // Polls so that the stop flag is seen within a few ms.
        while !stop2.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    accepted2.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })?;
    let what = format!("cannot listen on TCP port {port} in {server_ns}");
    Ok(TcpServer {
        port,
        stop,
        accepted,
        thread: Some(when_bound(thread, &ready_rx, what)?),
    })
}

/// A server thread once it said that its sockets are bound; or why not:
/// the bind error (in context `what`), or the namespace it could not
/// enter.
fn when_bound(
    thread: JoinHandle<anyhow::Result<()>>,
    ready: &mpsc::Receiver<std::io::Result<()>>,
    what: String,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    match ready.recv() {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e).context(what)
        }
        // The thread ended without binding: it could not enter the namespace.
        Err(_) => Err(match thread.join() {
            Ok(Err(e)) => e,
            Ok(Ok(())) => anyhow!("{what}: the thread ended early"),
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

/// Tries a TCP connect from namespace `client_ns` to `addr:port`; `true`
/// when the handshake completes within `timeout`. A refused connection
/// (RST) returns `false` at once; a dropped SYN after `timeout`.
///
/// # Panics
/// When the namespace cannot be entered.
pub fn tcp_probe(client_ns: &str, addr: impl Into<IpAddr>, port: u16, timeout: Duration) -> bool {
    let target = SocketAddr::new(addr.into(), port);
    in_netns(client_ns, move || {
        TcpStream::connect_timeout(&target, timeout).is_ok()
    })
    .unwrap_or_else(|e| panic!("tcp probe to {target}: {e:#}"))
}

/// Listening TCP sockets on `ports` (every IPv4 address) of namespace
/// `ns`, never accepted: the kernel completes each handshake into the
/// backlog (128), so a connect succeeds exactly when the SYN and its
/// answer pass. Dropping them closes them.
///
/// # Errors
/// When the namespace cannot be entered or a port cannot be bound.
pub fn tcp_backlogs(ns: &str, ports: &[u16]) -> anyhow::Result<Vec<TcpListener>> {
    tcp_backlogs_on(ns, Ipv4Addr::UNSPECIFIED.into(), ports)
}

/// [`tcp_backlogs`] on address `any` (`::` for IPv6).
///
/// # Errors
/// As [`tcp_backlogs`].
pub fn tcp_backlogs_on(ns: &str, any: IpAddr, ports: &[u16]) -> anyhow::Result<Vec<TcpListener>> {
    let ports = ports.to_vec();
    let what = format!("TCP listeners in {ns}");
    in_netns(ns, move || {
        ports
            .iter()
            .map(|&p| {
                TcpListener::bind((any, p))
                    .with_context(|| format!("cannot listen on TCP port {p}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .and_then(|r| r)
    .context(what)
}

/// A UDP echo server on several ports of a namespace (one thread): every
/// datagram is sent back to where it came from. Dropping it stops the
/// thread and closes the sockets.
#[derive(Debug)]
pub struct UdpEcho {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Echoes UDP on `ports` (every IPv4 address) of namespace `ns` until the
/// returned [`UdpEcho`] is dropped. The sockets are bound when this
/// returns.
///
/// # Errors
/// When the namespace cannot be entered or a port cannot be bound.
pub fn udp_echo(ns: &str, ports: &[u16]) -> anyhow::Result<UdpEcho> {
    udp_echo_on(ns, Ipv4Addr::UNSPECIFIED.into(), ports)
}

/// [`udp_echo`] on address `any` (`::` for IPv6).
///
/// # Errors
/// As [`udp_echo`].
pub fn udp_echo_on(ns: &str, any: IpAddr, ports: &[u16]) -> anyhow::Result<UdpEcho> {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
    let (stop2, ports) = (stop.clone(), ports.to_vec());
    let thread = spawn_in_netns(ns, move || {
        let bound: std::io::Result<Vec<UdpSocket>> = ports
            .iter()
            .map(|&p| {
                let s = UdpSocket::bind((any, p))?;
                s.set_nonblocking(true)?;
                Ok(s)
            })
            .collect();
        let socks = match bound {
            Ok(s) => s,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        let mut fds: Vec<libc::pollfd> = socks
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let mut buf = [0u8; 2048];
        // Polls with a short timeout so that the stop flag is seen soon.
        while !stop2.load(Ordering::Relaxed) {
            // SAFETY: `fds` holds `fds.len()` valid pollfds.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20) };
            if ready <= 0 {
                continue;
            }
            for (s, fd) in socks.iter().zip(&mut fds) {
                if fd.revents != 0 {
                    fd.revents = 0;
                    while let Ok((n, from)) = s.recv_from(&mut buf) {
                        let _ = s.send_to(&buf[..n], from);
                    }
                }
            }
        }
    })?;
    let what = format!("cannot bind the UDP echo ports in {ns}");
    Ok(UdpEcho {
        stop,
        thread: Some(when_bound(thread, &ready_rx, what)?),
    })
}

/// What a socket saw of a connect or a request ([`tcp_connect`],
/// [`udp_request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The connection was made, or the answer came.
    Connected,
    /// The call failed with this errno (a RST, an ICMP error).
    Errno(i32),
    /// Nothing within the wait.
    Silence,
}

/// `connect()` from namespace `ns` to `to:port`, waiting at most
/// `timeout`: what it gave and how long it took.
///
/// # Panics
/// When the namespace cannot be entered.
pub fn tcp_connect(
    ns: &str,
    to: impl Into<IpAddr>,
    port: u16,
    timeout: Duration,
) -> (Seen, Duration) {
    let to = to.into();
    in_netns(ns, move || {
        let t = Instant::now();
        let seen = match TcpStream::connect_timeout(&SocketAddr::from((to, port)), timeout) {
            Ok(_) => Seen::Connected,
            Err(e) if e.kind() == ErrorKind::TimedOut => Seen::Silence,
            Err(e) => Seen::Errno(e.raw_os_error().unwrap_or(-1)),
        };
        (seen, t.elapsed())
    })
    .unwrap_or_else(|e| panic!("tcp connect to {to}:{port}: {e:#}"))
}

/// One datagram to `to:port` from a connected UDP socket in namespace
/// `ns`, then a `recv()` waiting at most `timeout`: what the socket
/// reported and how long it took. With `recverr` the socket has
/// `IP_RECVERR` (`IPV6_RECVERR`), which makes it report the ICMP errors
/// Linux otherwise keeps to itself on UDP (the non-fatal ones of
/// `icmp_err_convert`, `icmpv6_err_convert`).
///
/// # Panics
/// When the namespace cannot be entered or the socket cannot be set up.
pub fn udp_request(
    ns: &str,
    to: impl Into<IpAddr>,
    port: u16,
    recverr: bool,
    timeout: Duration,
) -> (Seen, Duration) {
    let to = to.into();
    in_netns(ns, move || {
        let (any, level, option) = match to {
            IpAddr::V4(_) => (
                IpAddr::from(Ipv4Addr::UNSPECIFIED),
                libc::IPPROTO_IP,
                libc::IP_RECVERR,
            ),
            IpAddr::V6(_) => (
                IpAddr::from(Ipv6Addr::UNSPECIFIED),
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVERR,
            ),
        };
        let s = UdpSocket::bind((any, 0)).unwrap();
        if recverr {
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on a valid socket with an int option.
            let rc = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    level,
                    option,
                    (&raw const one).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "IP_RECVERR");
        }
        s.connect((to, port)).unwrap();
        s.set_read_timeout(Some(timeout)).unwrap();
        let t = Instant::now();
        let seen = match s.send(b"fw udp request") {
            Err(e) => Seen::Errno(e.raw_os_error().unwrap_or(-1)),
            Ok(_) => match s.recv(&mut [0u8; 64]) {
                Ok(_) => Seen::Connected,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Seen::Silence
                }
                Err(e) => Seen::Errno(e.raw_os_error().unwrap_or(-1)),
            },
        };
        (seen, t.elapsed())
    })
    .unwrap_or_else(|e| panic!("udp request to {to}:{port}: {e:#}"))
}

/// Binds UDP `port` (every address) in `server_ns`, sends one datagram with
/// a unique payload from `client_ns` to `addr:port`, and returns whether it
/// arrived within `timeout`.
///
/// # Panics
/// When a namespace cannot be entered or the server port cannot be bound.
pub fn udp_probe(
    client_ns: &str,
    server_ns: &str,
    addr: impl Into<IpAddr>,
    port: u16,
    timeout: Duration,
) -> bool {
    let addr = addr.into();
    let target = SocketAddr::new(addr, port);
    let (_, payload) = unique_token("udp");
    let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
    let expected = payload.clone();
    let server = spawn_in_netns(server_ns, move || -> std::io::Result<bool> {
        let sock = match UdpSocket::bind((unspecified_like(addr), port)) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return Ok(false);
            }
        };
        let _ = ready_tx.send(Ok(()));
        let mut buf = [0u8; 2048];
        until_deadline(timeout, |left| {
            sock.set_read_timeout(Some(left))?;
            match sock.recv_from(&mut buf) {
                Ok((n, _)) if buf[..n] == expected[..] => Ok(Some(true)),
                Ok(_) => Ok(None), // someone else's datagram
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Ok(Some(false))
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => Ok(None),
                Err(e) => Err(e),
            }
        })
    })
    .unwrap_or_else(|e| panic!("udp probe to {target}: {e:#}"));
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = server.join();
            panic!("udp probe: cannot bind UDP port {port} in {server_ns}: {e}");
        }
        // The thread ended without binding: it could not enter the namespace.
        Err(_) => match server.join() {
            Ok(Err(e)) => panic!("udp probe to {target}: {e:#}"),
            Ok(Ok(_)) => panic!("udp probe: server thread ended early"),
            Err(panic) => std::panic::resume_unwind(panic),
        },
    }
    in_netns(client_ns, move || {
        // A send error (e.g. no route) just means nothing was delivered.
        if let Ok(sock) = UdpSocket::bind((unspecified_like(addr), 0)) {
            let _ = sock.send_to(&payload, target);
        }
    })
    .unwrap_or_else(|e| panic!("udp probe to {target}: {e:#}"));
    match server.join() {
        Ok(Ok(Ok(arrived))) => arrived,
        Ok(Ok(Err(e))) => panic!("udp probe: receiving on port {port} in {server_ns}: {e}"),
        Ok(Err(e)) => panic!("udp probe to {target}: {e:#}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Sends one ICMP echo request (RFC 792) from namespace `client_ns` to
/// `addr` over a raw socket, and returns whether the matching echo reply
/// (same identifier, sequence number and payload, from `addr`) arrived
/// within `timeout`.
///
/// # Panics
/// When the namespace cannot be entered or the raw socket cannot be opened
/// (needs CAP_NET_RAW).
pub fn icmp_probe(client_ns: &str, addr: Ipv4Addr, timeout: Duration) -> bool {
    in_netns(client_ns, move || icmp_echo(addr, timeout))
        .and_then(|r| r.context("raw ICMP socket"))
        .unwrap_or_else(|e| panic!("icmp probe to {addr}: {e:#}"))
}

/// ICMP type of an echo request (RFC 792).
const ICMP_ECHO_REQUEST: u8 = 8;
/// ICMP type of an echo reply (RFC 792).
const ICMP_ECHO_REPLY: u8 = 0;

/// The echo exchange of [`icmp_probe`], in the current thread's namespace.
/// `Err` only when the socket cannot be opened or read.
fn icmp_echo(addr: Ipv4Addr, timeout: Duration) -> std::io::Result<bool> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };

    let (seq, payload) = unique_token("icmp");
    let ident = (std::process::id() as u16) ^ 0x4657; // "FW"
    let seq = seq as u16;
    let request = echo_packet(ICMP_ECHO_REQUEST, ident, seq, &payload);

    if raw_sendto(&sock, addr, &request) < 0 {
        // No route and the like: nothing was delivered.
        return Ok(false);
    }

    let mut buf = [0u8; 2048];
    until_deadline(timeout, |left| {
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&raw mut pfd, 1, ms) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(e);
        }
        if ready == 0 {
            return Ok(Some(false));
        }
        // SAFETY: `buf` is valid for its length.
        let n = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) {
                return Ok(None);
            }
            return Err(e);
        }
        let reply = is_echo_reply(&buf[..n as usize], addr, ident, seq, &payload);
        Ok(reply.then_some(true))
    })
}

/// Sends an ICMPv6 echo request (RFC 4443 4.1) of 96 bytes (IPv6
/// header, 8 of ICMPv6, 48 of data) from namespace `client_ns` to
/// `addr`; `true` when its echo reply arrives within `timeout`.
///
/// # Panics
/// When the namespace cannot be entered or the raw socket opened.
pub fn icmp6_probe(client_ns: &str, addr: Ipv6Addr, timeout: Duration) -> bool {
    in_netns(client_ns, move || icmp6_echo(addr, timeout))
        .and_then(|r| r.context("raw ICMPv6 socket"))
        .unwrap_or_else(|e| panic!("icmp6 probe to {addr}: {e:#}"))
}

/// The exchange of [`icmp6_probe`] in the current thread's namespace. A
/// raw ICMPv6 socket has the kernel fill in the checksum (RFC 3542 3.1)
/// and receives ICMPv6 messages without their IPv6 header.
fn icmp6_echo(addr: Ipv6Addr, timeout: Duration) -> std::io::Result<bool> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET6,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMPV6,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let (seq, mut payload) = unique_token("icmp6");
    // Always 48 bytes, so that the request's length (96) is known.
    payload.resize(48, b'.');
    let ident = (std::process::id() as u16) ^ 0x4636; // "F6"
    let seq = seq as u16;
    let mut request = vec![128, 0, 0, 0];
    request.extend_from_slice(&ident.to_be_bytes());
    request.extend_from_slice(&seq.to_be_bytes());
    request.extend_from_slice(&payload);
    // SAFETY: sockaddr_in6 is plain data; all-zero is valid.
    let mut to: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    to.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    to.sin6_addr.s6_addr = addr.octets();
    // SAFETY: the buffer and address are valid for the lengths given.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&raw const to).cast(),
            size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Ok(false);
    }
    let mut buf = [0u8; 2048];
    until_deadline(timeout, |left| {
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&raw mut pfd, 1, ms) } {
            0 => return Ok(Some(false)),
            // EINTR and the like: poll again.
            r if r < 0 => return Ok(None),
            _ => {}
        }
        // SAFETY: `buf` is valid for its length.
        let n = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 8 {
            return Ok(None);
        }
        let m = &buf[..n as usize];
        let reply = m[0] == 129
            && m[4..6] == ident.to_be_bytes()
            && m[6..8] == seq.to_be_bytes()
            && m[8..] == payload[..];
        Ok(reply.then_some(true))
    })
}

/// Calls `attempt` with what is left of `timeout` until it decides
/// whether the awaited packet arrived (`Ok(Some(arrived))`, or an error);
/// `Ok(None)` is "not yet" (someone else's packet, an interrupted call).
/// Nothing arrived (`Ok(false)`) once the time is up.
fn until_deadline(
    timeout: Duration,
    mut attempt: impl FnMut(Duration) -> std::io::Result<Option<bool>>,
) -> std::io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        if let Some(arrived) = attempt(left)? {
            return Ok(arrived);
        }
    }
}

/// An ICMP echo message (RFC 792): type, code 0, checksum, identifier,
/// sequence number, data.
fn echo_packet(kind: u8, ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + data.len());
    p.extend_from_slice(&[kind, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(data);
    let sum = internet_checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

/// Sends `packet` on the raw socket `sock` to `to`: what sendto(2)
/// returns (bytes sent, or -1 with errno set).
pub fn raw_sendto(sock: &OwnedFd, to: Ipv4Addr, packet: &[u8]) -> isize {
    let dest = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(to.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: the buffer and address are valid for the lengths given.
    unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&raw const dest).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    }
}

/// Sends one bare 20-byte TCP header with `flags` from `ns` (source
/// `from`) to `to` (`ports`: source, destination) over a raw socket,
/// its data offset `doff` words (5 for a sound one; another claims
/// options the segment lacks): no connection behind it.
///
/// # Panics
/// When the namespace cannot be entered or the segment not sent.
pub fn raw_tcp(ns: &str, from: Ipv4Addr, to: Ipv4Addr, ports: (u16, u16), flags: u8, doff: u8) {
    in_netns(ns, move || {
        let mut t = [0u8; 20];
        t[0..2].copy_from_slice(&ports.0.to_be_bytes());
        t[2..4].copy_from_slice(&ports.1.to_be_bytes());
        t[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        t[8..12].copy_from_slice(&0x0bad_cafeu32.to_be_bytes());
        t[12] = doff << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&1024u16.to_be_bytes());
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&from.octets());
        pseudo.extend_from_slice(&to.octets());
        pseudo.extend_from_slice(&[0, 6, 0, 20]);
        pseudo.extend_from_slice(&t);
        let sum = internet_checksum(&pseudo);
        t[16..18].copy_from_slice(&sum.to_be_bytes());
        // SAFETY: plain socket(2), owned at once.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_TCP) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        // SAFETY: a fresh fd.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        let n = raw_sendto(&sock, to, &t);
        assert_eq!(n, 20, "sendto: {}", std::io::Error::last_os_error());
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

/// An Ethernet frame from `src_mac` to `dst_mac` carrying an IPv6 packet
/// (RFC 8200 3: traffic class and flow label 0, hop limit 64) from `src`
/// to `dst` with next header `next` and `payload` (the extension headers
/// and what follows them), its payload length in the header.
pub fn ipv6_frame(
    macs: ([u8; 6], [u8; 6]),
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (dst_mac, src_mac) = macs;
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[next, 64]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    f
}

/// The Internet checksum (RFC 1071): one's complement of the one's
/// complement sum of the 16-bit big-endian words, an odd byte padded; 0
/// over data that holds a correct checksum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `datagram` (an IPv4 packet as a raw socket receives it) is the
/// echo reply from `from` to our request.
fn is_echo_reply(datagram: &[u8], from: Ipv4Addr, ident: u16, seq: u16, data: &[u8]) -> bool {
    if datagram.len() < 20 || datagram[0] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(datagram[0] & 0x0f) * 4;
    if ihl < 20 || datagram.len() < ihl + 8 || datagram[9] != libc::IPPROTO_ICMP as u8 {
        return false;
    }
    let src = Ipv4Addr::new(datagram[12], datagram[13], datagram[14], datagram[15]);
    let icmp = &datagram[ihl..];
    // A correct checksum sums to zero over the whole message.
    src == from
        && icmp[0] == ICMP_ECHO_REPLY
        && icmp[1] == 0
        && internet_checksum(icmp) == 0
        && icmp[4..6] == ident.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
        && &icmp[8..] == data
}

/// Sends each of `frames` (whole Ethernet frames, FCS excluded) out of
/// interface `ifname` of namespace `ns` with an AF_PACKET socket, as a
/// device on the link would put them there: no routing, no netfilter,
/// no change to their bytes.
///
/// # Errors
/// When the namespace cannot be entered, the interface is missing or a
/// frame is not sent whole.
pub fn send_frames(ns: &str, ifname: &str, frames: &[Vec<u8>]) -> anyhow::Result<()> {
    let (ifname, frames) = (ifname.to_string(), frames.to_vec());
    in_netns(ns, move || -> anyhow::Result<()> {
        let name = std::ffi::CString::new(ifname.clone())?;
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        anyhow::ensure!(ifindex != 0, "no interface {ifname}");
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        anyhow::ensure!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fd was just returned by socket(2).
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        for f in &frames {
            // SAFETY: sockaddr_ll is plain data; all-zero is valid.
            let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            to.sll_family = libc::AF_PACKET as u16;
            to.sll_ifindex = ifindex as i32;
            to.sll_halen = 6;
            to.sll_addr[..6].copy_from_slice(&f[..6]);
            // SAFETY: the buffer and address are valid for the lengths given.
            let sent = unsafe {
                libc::sendto(
                    sock.as_raw_fd(),
                    f.as_ptr().cast(),
                    f.len(),
                    0,
                    (&raw const to).cast(),
                    size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            anyhow::ensure!(
                sent == f.len() as isize,
                "sendto {ifname}: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
    }

    #[test]
    fn built_echo_checks_out_and_parses() {
        let mut reply = echo_packet(ICMP_ECHO_REPLY, 7, 9, b"hello");
        assert_eq!(internet_checksum(&reply), 0);
        let from = Ipv4Addr::new(192, 0, 2, 2);
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        ip.extend_from_slice(&from.octets());
        ip.extend_from_slice(&[192, 0, 2, 1]);
        let mut datagram = ip.clone();
        datagram.extend_from_slice(&reply);
        assert!(is_echo_reply(&datagram, from, 7, 9, b"hello"));
        assert!(!is_echo_reply(&datagram, from, 7, 10, b"hello"));
        assert!(!is_echo_reply(
            &datagram,
            Ipv4Addr::new(192, 0, 2, 3),
            7,
            9,
            b"hello"
        ));
        reply[8] ^= 1; // corrupt the data: the checksum no longer holds
        let mut bad = ip;
        bad.extend_from_slice(&reply);
        assert!(!is_echo_reply(&bad, from, 7, 9, b"hello"));
    }
}
