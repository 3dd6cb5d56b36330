//! Service names for ports, read from /etc/services (services(5)) the way
//! iptables' `getservbyname`/`getservbyport` calls see them: `--dport ssh`
//! with `-p tcp` looks up `ssh` for `tcp`, `-L` prints `dpt:ssh` for port 22.

use std::sync::OnceLock;

use nom::{
    IResult, Parser,
    bytes::complete::take_while1,
    character::complete::{char, digit1, space0, space1},
    combinator::{all_consuming, map_res},
    multi::many0,
    sequence::preceded,
};

/// One service line: `name port/protocol [aliases...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The official name, which `-L` prints.
    pub name: String,
    /// The port, host byte order.
    pub port: u16,
    /// `tcp`, `udp`, `sctp`, ...
    pub protocol: String,
    /// Other names the lookup by name accepts.
    pub aliases: Vec<String>,
}

/// A services database, in file order (lookups return the first match, as
/// glibc's do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services {
    entries: Vec<Service>,
}

fn field(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !c.is_whitespace() && c != '/')(i)
}

/// `name port/proto aliases*`, the comment already cut off.
fn service_line(i: &str) -> IResult<&str, Service> {
    let (i, (_, name, _, port, _, protocol, aliases, _)) = (
        space0,
        field,
        space1,
        map_res(digit1, str::parse::<u16>),
        char('/'),
        field,
        many0(preceded(space1, field)),
        space0,
    )
        .parse(i)?;
    Ok((
        i,
        Service {
            name: name.to_string(),
            port,
            protocol: protocol.to_string(),
            aliases: aliases.into_iter().map(str::to_string).collect(),
        },
    ))
}

impl Services {
    /// Parses the text of a services(5) file. Comments (`#` to the end of
    /// the line), blank lines and malformed lines are skipped, as glibc
    /// skips them.
    pub fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .filter_map(|line| {
                let line = line.split('#').next().unwrap_or("");
                all_consuming(service_line).parse(line).ok().map(|(_, s)| s)
            })
            .collect();
        Self { entries }
    }

    /// The host's /etc/services, read once. An unreadable file gives an
    /// empty database: names are then refused and ports printed as numbers,
    /// which is what iptables does too.
    pub fn system() -> &'static Services {
        static SYSTEM: OnceLock<Services> = OnceLock::new();
        SYSTEM.get_or_init(|| {
            std::fs::read_to_string("/etc/services")
                .map(|t| Self::parse(&t))
                .unwrap_or_default()
        })
    }

    /// `getservbyname(name, protocol)`: the port of the first service called
    /// `name` (official name or alias, case-sensitive) for `protocol`.
    pub fn port(&self, name: &str, protocol: &str) -> Option<u16> {
        self.entries
            .iter()
            .find(|s| {
                s.protocol == protocol && (s.name == name || s.aliases.iter().any(|a| a == name))
            })
            .map(|s| s.port)
    }

    /// The port `getaddrinfo(NULL, name)` finds for a service name of any
    /// protocol (what libxt_udp uses): tcp first, then udp, dccp, udplite,
    /// sctp, as glibc tries them.
    pub fn port_any(&self, name: &str) -> Option<u16> {
        ["tcp", "udp", "dccp", "udplite", "sctp"]
            .iter()
            .find_map(|p| self.port(name, p))
    }

    /// `getservbyport(port, protocol)`: the official name of the first
    /// service on `port` for `protocol`.
    pub fn name(&self, port: u16, protocol: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|s| s.protocol == protocol && s.port == port)
            .map(|s| s.name.as_str())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A few lines of Debian 12's /etc/services, for hermetic tests.
    pub(crate) const SAMPLE: &str = "\
# Network services, Internet style
tcpmux		1/tcp				# TCP port service multiplexer
ftp		21/tcp
ssh		22/tcp				# SSH Remote Login Protocol
domain		53/tcp				# Domain Name Server
domain		53/udp
bootps		67/udp
http		80/tcp		www		# WorldWideWeb HTTP
https		443/tcp				# http protocol over TLS/SSL
https		443/udp				# HTTP/3
shell		514/tcp		cmd		# no passwords used
syslog		514/udp
fsp		21/udp		fspd
broken line
";

    pub(crate) fn sample() -> Services {
        Services::parse(SAMPLE)
    }

    #[test]
    fn lookups() {
        let s = sample();
        assert_eq!(s.port("ssh", "tcp"), Some(22));
        assert_eq!(s.port("ssh", "udp"), None);
        assert_eq!(s.port("SSH", "tcp"), None);
        assert_eq!(s.port("www", "tcp"), Some(80));
        assert_eq!(s.port("bootps", "udp"), Some(67));
        assert_eq!(s.port("bootps", "tcp"), None);
        assert_eq!(s.name(53, "udp"), Some("domain"));
        assert_eq!(s.name(443, "tcp"), Some("https"));
        assert_eq!(s.name(0, "tcp"), None);
        assert_eq!(s.name(1, "tcp"), Some("tcpmux"));
        assert_eq!(s.port_any("ssh"), Some(22));
        assert_eq!(s.port_any("fsp"), Some(21));
        assert_eq!(s.port_any("shell"), Some(514));
        assert_eq!(s.port_any("syslog"), Some(514));
        assert_eq!(s.port_any("nope"), None);
    }

    #[test]
    fn system_file_has_ssh() {
        // Only meaningful where /etc/services exists; the empty fallback is fine too.
        let s = Services::system();
        if !s.entries.is_empty() {
            assert_eq!(s.port("ssh", "tcp"), Some(22));
        }
    }
}
