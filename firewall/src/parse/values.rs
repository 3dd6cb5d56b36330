//! Grammars of option values, following libxtables 1.8.9: numbers as
//! `strtoul(s, 0)` reads them, IPv4 addresses and masks
//! (`xtables_ipparse_multiple`), port ranges (libxt_tcp's
//! `parse_tcp_ports`), interface names (`xtables_parse_interface`).

use std::net::{Ipv4Addr, Ipv6Addr};

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag_no_case, take_till, take_while},
    character::complete::{char, digit1, hex_digit1, oct_digit0, one_of},
    combinator::{all_consuming, map_res, opt, rest},
    multi::separated_list1,
    sequence::{pair, preceded, separated_pair},
};

use super::{error::ParseError, services::Services};
use crate::model::{AddrMask, Family, Neg, PortRange};

/// C's `isspace`.
pub(crate) fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// An unsigned number as `strtoumax(s, &end, 0)` reads it: leading white
/// space, an optional `+`, then `0x` hex, `0` octal or decimal. (A `-` is
/// refused, as `xtables_strtoul` does.)
fn c_number(i: &str) -> IResult<&str, u64> {
    preceded(
        pair(take_while(is_c_space), opt(char('+'))),
        alt((
            preceded(
                tag_no_case("0x"),
                map_res(hex_digit1, |h| u64::from_str_radix(h, 16)),
            ),
            preceded(
                char('0'),
                map_res(oct_digit0, |o: &str| {
                    if o.is_empty() {
                        Ok(0)
                    } else {
                        u64::from_str_radix(o, 8)
                    }
                }),
            ),
            map_res(digit1, str::parse::<u64>),
        )),
    )
    .parse(i)
}

/// `xtables_strtoui(s, NULL, &v, min, max)`: the whole of `s` is a number
/// in `min..=max`.
pub(crate) fn strtoui(s: &str, min: u64, max: u64) -> Option<u64> {
    all_consuming(c_number)
        .parse(s)
        .ok()
        .map(|(_, v)| v)
        .filter(|v| (min..=max).contains(v))
}

/// C's `strtoumax(s, &end, base)` for base 0 or 16: leading white space,
/// an optional sign, `0x` (hex) or `0` (octal in base 0) prefixes, digits.
/// Returns the value (negated numbers wrap, as in C), the byte offset where
/// the number ends, and whether it overflowed (ERANGE); `None` when there
/// are no digits at all (C's `end == s`).
pub(crate) fn strtoumax(s: &str, base: u32) -> Option<(u64, usize, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i] as char) {
        i += 1;
    }
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex_after = |j: usize| b.get(j).is_some_and(|c| c.is_ascii_hexdigit());
    let mut radix = base;
    let has_0x =
        b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x' | b'X')) && hex_after(i + 2);
    if (base == 0 || base == 16) && has_0x {
        radix = 16;
        i += 2;
    } else if base == 0 {
        radix = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(radix)) {
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    if overflow {
        return Some((u64::MAX, i, true));
    }
    Some((
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        i,
        false,
    ))
}

/// libxtables' `xtables_strtoul(s, &end, ..., min, max)`: a number (base
/// 0, no minus sign) at the start of `s` in `min..=max` (`max` 0: no
/// upper bound). Returns it and the rest of `s`.
pub(crate) fn xt_strtoul(s: &str, min: u64, max: u64) -> Option<(u64, &str)> {
    if s.trim_start_matches(is_c_space).starts_with('-') {
        return None;
    }
    let (v, end, erange) = strtoumax(s, 0)?;
    (!erange && min <= v && (max == 0 || v <= max)).then_some((v, &s[end..]))
}

/// An IPv4 address as libxtables' `xtables_numeric_to_ipaddr` reads it
/// (one to four parts, see [`dotted`]).
pub(crate) fn ipv4(s: &str) -> Option<Ipv4Addr> {
    dotted(s, false)
}

/// A rule number (iptables' `parse_rulenumber`): 1..=2147483647.
///
/// Errors: [`ParseError::InvalidRuleNumber`].
pub(crate) fn rule_number(s: &str) -> Result<u32, ParseError> {
    strtoui(s, 1, i32::MAX as u64)
        .map(|n| n as u32)
        .ok_or_else(|| ParseError::InvalidRuleNumber(s.to_string()))
}

/// Whether `s` starts like `sscanf("%u")` wants (how `-w`/`-W` check their
/// value): white space, an optional sign, a digit.
pub(crate) fn scanf_unsigned(s: &str) -> bool {
    let r: IResult<&str, _> = (take_while(is_c_space), opt(one_of("+-")), digit1).parse(s);
    r.is_ok()
}

/// A dotted quad as libxtables' `__numeric_to_ipaddr` reads it: 1 to 4
/// numbers 0..=255 (each in strtoul base 0) separated by dots; an address
/// with fewer parts is completed with zeros (`192.0.2` is 192.0.2.0), a
/// mask (`is_mask`) needs all four.
fn dotted(s: &str, is_mask: bool) -> Option<Ipv4Addr> {
    let parts: IResult<&str, Vec<&str>> =
        all_consuming(separated_list1(char('.'), take_till(|c| c == '.'))).parse(s);
    let (_, parts) = parts.ok()?;
    if parts.len() > 4 || (is_mask && parts.len() != 4) {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        *o = strtoui(p, 0, 255)? as u8;
    }
    Some(Ipv4Addr::from(octets))
}

/// The mask after `/`: a prefix length 0..=32 or a dotted quad
/// (`parse_ipmask`).
fn mask(s: &str) -> Result<Ipv4Addr, ParseError> {
    let bad = || ParseError::InvalidMask(s.to_string());
    if s.contains('.') {
        return dotted(s, true).ok_or_else(bad);
    }
    let bits = strtoui(s, 0, 32).ok_or_else(bad)?;
    Ok(Ipv4Addr::from(
        u32::MAX.checked_shl(32 - bits as u32).unwrap_or(0),
    ))
}

/// Whether `s` looks like a host name (which iptables would resolve): a
/// letter somewhere, only name characters, starting with a letter or digit.
fn looks_like_host_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
}

/// `inet_aton`, as getaddrinfo reads a numeric host: 1 to 4 numbers
/// (strtoul base 0) separated by dots, the last filling the bytes left
/// (`1.2.3` is 1.2.0.3, `0x01020304` is 1.2.3.4).
pub(crate) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let nums = parts
        .iter()
        .map(|p| strtoui(p, 0, u64::from(u32::MAX)))
        .collect::<Option<Vec<u64>>>()?;
    let (last, init) = nums.split_last()?;
    let rest_bits = 8 * (4 - init.len() as u32);
    if init.iter().any(|&n| n > 255) || (rest_bits < 32 && *last >> rest_bits != 0) {
        return None;
    }
    let high = init.iter().fold(0u64, |a, &n| a << 8 | n) << rest_bits;
    Some(Ipv4Addr::from((high | last) as u32))
}

/// libxtables' `XTTYPE_HOST` (recent's `--mask`): a numeric IPv4 host
/// ([`inet_aton`]).
///
/// Errors: [`ParseError::NotSupported`] for host names (fw resolves
/// none), [`ParseError::HostUnresolved`] for anything else.
pub(crate) fn host_address(s: &str) -> Result<Ipv4Addr, ParseError> {
    inet_aton(s).ok_or_else(|| {
        if looks_like_host_name(s) {
            ParseError::unsupported(
                format!("host name `{s}' (fw does not resolve names: give an IPv4 address)"),
                s,
            )
        } else {
            ParseError::HostUnresolved(s.to_string())
        }
    })
}

/// One `ADDR[/MASK]`: the mask first (so a bad mask is reported before a
/// bad address, as iptables does), a zero mask ignores the address
/// (`any/0`), the address is masked.
fn host_mask(s: &str) -> Result<AddrMask, ParseError> {
    let (host, m) = match s.rsplit_once('/') {
        Some((h, m)) => (h, mask(m)?),
        None => (s, Ipv4Addr::BROADCAST),
    };
    if m.is_unspecified() {
        return Ok(Family::V4.any());
    }
    let addr = dotted(host, false).ok_or_else(|| {
        if looks_like_host_name(host) {
            ParseError::unsupported(
                format!("host name `{host}' (fw does not resolve names: give an IPv4 address)"),
                host,
            )
        } else {
            ParseError::HostNotFound(host.to_string())
        }
    })?;
    Ok(AddrMask::V4 {
        addr: Ipv4Addr::from(u32::from(addr) & u32::from(m)),
        mask: m,
    })
}

/// The mask after `/` of an IPv6 address (libxtables' `parse_ip6mask`):
/// an address (`ffff::`) or a prefix length 0..=128.
fn mask6(s: &str) -> Result<Ipv6Addr, ParseError> {
    let bad = || ParseError::InvalidMask(s.to_string());
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().map_err(|_| bad());
    }
    let bits = strtoui(s, 0, 128).ok_or_else(bad)?;
    Ok(Ipv6Addr::from(
        u128::MAX.checked_shl(128 - bits as u32).unwrap_or(0),
    ))
}

/// One IPv6 `ADDR[/MASK]` (`xtables_ip6parse_multiple`): the mask first,
/// a zero mask ignores the address, the address (`inet_pton`) masked.
fn host_mask6(s: &str) -> Result<AddrMask, ParseError> {
    let (host, m) = match s.rsplit_once('/') {
        Some((h, m)) => (h, mask6(m)?),
        None => (s, Ipv6Addr::from(u128::MAX)),
    };
    if m.is_unspecified() {
        return Ok(Family::V6.any());
    }
    let addr = host.parse::<Ipv6Addr>().map_err(|_| {
        if looks_like_host_name(host) {
            ParseError::unsupported(
                format!("host name `{host}' (fw does not resolve names: give an IPv6 address)"),
                host,
            )
        } else {
            ParseError::HostNotFound(host.to_string())
        }
    })?;
    Ok(AddrMask::V6 {
        addr: Ipv6Addr::from(u128::from(addr) & u128::from(m)),
        mask: m,
    })
}

/// `-s`/`-d`'s argument: a comma-separated list of `ADDR[/PREFIX]` or
/// `ADDR/DOTTED.MASK`, each address masked, as `xtables_ipparse_multiple`
/// reads them; iptables makes one rule of each (duplicates included). A non-inverted 0.0.0.0/0 is `None`: iptables stores it exactly
/// like no `-s` at all.
///
/// Errors: [`ParseError::InvalidMask`], [`ParseError::HostNotFound`];
/// [`ParseError::BangWithMultipleAddresses`] for `!` with several
/// addresses; [`ParseError::NotSupported`] for host names.
///
/// In [`Family::V6`], ip6tables' `ADDR[/PREFIX]` or `ADDR/MASK6` instead
/// (`2001:db8::/32`, `::1`, `::/0`); an IPv4 address is "not found" there,
/// as in ip6tables.
pub(crate) fn addresses(
    s: &str,
    invert: bool,
    family: Family,
) -> Result<Vec<Option<Neg<AddrMask>>>, ParseError> {
    let one = match family {
        Family::V4 => host_mask,
        Family::V6 => host_mask6,
    };
    // iptables keeps duplicates: `-s a,a` makes two identical rules.
    let all = s.split(',').map(one).collect::<Result<Vec<_>, _>>()?;
    Ok(all
        .into_iter()
        .map(|value| (invert || !value.is_any()).then_some(Neg { value, invert }))
        .collect())
}

/// [`addresses`] for exactly one address.
#[cfg(test)]
pub(crate) fn address(s: &str, invert: bool) -> Result<Option<Neg<AddrMask>>, ParseError> {
    address_in(s, invert, Family::V4)
}

/// [`address`] in `family`.
#[cfg(test)]
pub(crate) fn address_in(
    s: &str,
    invert: bool,
    family: Family,
) -> Result<Option<Neg<AddrMask>>, ParseError> {
    let mut all = addresses(s, invert, family)?;
    if all.len() > 1 {
        return Err(ParseError::unsupported("several addresses", s));
    }
    Ok(all.remove(0))
}

/// One tcp port (`xtables_parse_port`): a number 0..=65535 (strtoul base
/// 0) or a tcp service of `services`.
fn tcp_port(s: &str, services: &Services) -> Result<u16, ParseError> {
    parse_port(s, "tcp", services)
}

/// libxtables' `xtables_parse_port(s, proto)`: a number 0..=65535 (strtoul
/// base 0) or a service of `services` for protocol `proto` (`tcp`, `udp`,
/// `sctp`, ...).
///
/// Errors: [`ParseError::InvalidPort`].
pub(crate) fn parse_port(s: &str, proto: &str, services: &Services) -> Result<u16, ParseError> {
    strtoui(s, 0, 65535)
        .map(|p| p as u16)
        .or_else(|| services.port(s, proto))
        .ok_or_else(|| ParseError::InvalidPort(s.to_string()))
}

/// tcp's `--sport`/`--dport` argument (libxt_tcp's `parse_tcp_ports`):
/// `PORT`, `A:B`, `:B` (from 0), `A:` (to 65535); a port is a number
/// (decimal, `0x` hex, `0` octal) or a tcp service name. Only the first `:`
/// splits (`1:2:3` is the range 1 to "2:3", refused).
///
/// Errors: [`ParseError::InvalidPort`], [`ParseError::InvalidPortRange`].
pub(crate) fn tcp_port_range(s: &str, services: &Services) -> Result<PortRange, ParseError> {
    let split: IResult<&str, (&str, &str)> =
        separated_pair(take_till(|c| c == ':'), char(':'), rest).parse(s);
    let Ok((_, (lo, hi))) = split else {
        let p = tcp_port(s, services)?;
        return Ok(PortRange { lo: p, hi: p });
    };
    let lo = if lo.is_empty() {
        0
    } else {
        tcp_port(lo, services)?
    };
    let hi = if hi.is_empty() {
        u16::MAX
    } else {
        tcp_port(hi, services)?
    };
    if lo > hi {
        return Err(ParseError::InvalidPortRange(s.to_string()));
    }
    Ok(PortRange { lo, hi })
}

/// A decimal number as glibc's `getaddrinfo` reads a numeric service
/// (`strtoul(s, &end, 10)`, all of `s`): white space, `+`, digits.
fn decimal(s: &str) -> Option<u64> {
    let r: IResult<&str, &str> = all_consuming(preceded(
        pair(take_while(is_c_space), opt(char('+'))),
        digit1,
    ))
    .parse(s);
    r.ok().and_then(|(_, d)| d.parse().ok())
}

/// One udp port (`xtables_getportbyname`): a decimal number 0..=65535 or a
/// service name of any protocol.
fn udp_port(s: &str, services: &Services) -> Result<u16, ParseError> {
    decimal(s)
        .and_then(|n| u16::try_from(n).ok())
        .or_else(|| services.port_any(s))
        .ok_or_else(|| ParseError::PortNotResolved(s.to_string()))
}

/// udp's `--sport`/`--dport` argument (libxtables' `xtopt_parse_mport`):
/// `PORT`, `A:B`, `:B`, `A:`, `:`; a port is a decimal number (`022` is 22)
/// or a service name of any protocol (`ssh` works).
///
/// Errors: [`ParseError::PortNotResolved`] (also for `""` and numbers
/// above 65535, which iptables 1.8.9 turns into port 0 and truncates),
/// [`ParseError::TooManyPortComponents`], [`ParseError::InvalidPortRange`]
/// (iptables 1.8.9 accepts `30:20`, a range that matches nothing).
pub(crate) fn udp_port_range(
    s: &str,
    option: &'static str,
    services: &Services,
) -> Result<PortRange, ParseError> {
    if s.is_empty() {
        return Err(ParseError::PortNotResolved(String::new()));
    }
    let parts: IResult<&str, Vec<&str>> =
        all_consuming(separated_list1(char(':'), take_till(|c| c == ':'))).parse(s);
    let parts = parts.map(|(_, p)| p).unwrap_or_default();
    let mut range = [0, u16::MAX];
    for (i, part) in parts.iter().enumerate() {
        if i == 2 {
            return Err(ParseError::TooManyPortComponents {
                module: "udp",
                option,
                value: s.to_string(),
            });
        }
        if !part.is_empty() {
            range[i] = udp_port(part, services)?;
        }
    }
    let (lo, hi) = match parts.len() {
        1 => (range[0], range[0]),
        _ => (range[0], range[1]),
    };
    if lo > hi {
        return Err(ParseError::InvalidPortRange(s.to_string()));
    }
    Ok(PortRange { lo, hi })
}

/// `-i`/`-o`'s argument: 1 to 15 bytes (`IFNAMSIZ` - 1); a trailing `+`
/// is a wildcard. iptables only warns about `/` and spaces, which the kernel
/// never uses in names, so such a rule is accepted and never matches.
///
/// Errors: [`ParseError::InterfaceTooLong`], [`ParseError::EmptyInterface`].
pub(crate) fn interface(s: &str) -> Result<String, ParseError> {
    if s.len() > 15 {
        return Err(ParseError::InterfaceTooLong(s.to_string()));
    }
    if s.is_empty() {
        return Err(ParseError::EmptyInterface);
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::services::tests::sample;

    #[test]
    fn numbers_like_strtoul() {
        assert_eq!(strtoui("22", 0, 65535), Some(22));
        assert_eq!(strtoui("0x16", 0, 65535), Some(22));
        assert_eq!(strtoui("026", 0, 65535), Some(22));
        assert_eq!(strtoui("+22", 0, 65535), Some(22));
        assert_eq!(strtoui(" 22", 0, 65535), Some(22));
        assert_eq!(strtoui("0", 0, 65535), Some(0));
        assert_eq!(strtoui("22 ", 0, 65535), None);
        assert_eq!(strtoui("08", 0, 32), None);
        assert_eq!(strtoui("0x", 0, 32), None);
        assert_eq!(strtoui("-1", 0, 32), None);
        assert_eq!(strtoui("-0", 0, 32), None);
        assert_eq!(strtoui("", 0, 32), None);
        assert_eq!(strtoui("33", 0, 32), None);
        assert_eq!(strtoui("99999999999999999999999", 0, 32), None);
    }

    #[test]
    fn rule_numbers() {
        assert_eq!(rule_number("1"), Ok(1));
        assert_eq!(rule_number("0x2"), Ok(2));
        assert_eq!(rule_number("2147483647"), Ok(2147483647));
        for bad in ["0", "2147483648", "x"] {
            assert_eq!(
                rule_number(bad),
                Err(ParseError::InvalidRuleNumber(bad.into()))
            );
        }
    }

    fn am(a: [u8; 4], m: [u8; 4]) -> AddrMask {
        AddrMask::V4 {
            addr: a.into(),
            mask: m.into(),
        }
    }

    fn some(a: AddrMask, invert: bool) -> Option<Neg<AddrMask>> {
        Some(Neg { value: a, invert })
    }

    #[test]
    fn addresses() {
        let host = [255; 4];
        let net = [255, 255, 255, 0];
        for (text, invert, addr, mask) in [
            ("192.0.2.7/24", false, [192, 0, 2, 0], net),
            ("192.0.2.1", true, [192, 0, 2, 1], host),
            ("192.0.2.1/32", false, [192, 0, 2, 1], host),
            ("192.0.2", false, [192, 0, 2, 0], host),
            ("1", false, [1, 0, 0, 0], host),
            ("010.0.0.1", false, [8, 0, 0, 1], host),
            ("0xC0.0.2.1", false, [192, 0, 2, 1], host),
            (
                "198.51.100.7/255.255.0.255",
                false,
                [198, 51, 0, 7],
                [255, 255, 0, 255],
            ),
            ("192.0.2.1/0x18", false, [192, 0, 2, 0], net),
            ("192.0.2.1/+8", false, [192, 0, 0, 0], [255, 0, 0, 0]),
        ] {
            assert_eq!(
                address(text, invert),
                Ok(some(am(addr, mask), invert)),
                "{text}"
            );
        }
        // 0/0 is no address at all, unless inverted.
        assert_eq!(address("0.0.0.0/0", false), Ok(None));
        assert_eq!(address("192.0.2.1/0", false), Ok(None));
        assert_eq!(address("0/0", true), Ok(some(am([0; 4], [0; 4]), true)));
        assert_eq!(address("anything/0", false), Ok(None));
        assert_eq!(
            super::addresses("192.0.2.1,192.0.2.1/32,192.0.2.7/24", false, Family::V4),
            Ok(vec![
                some(am([192, 0, 2, 1], host), false),
                some(am([192, 0, 2, 1], host), false),
                some(am([192, 0, 2, 0], [255, 255, 255, 0]), false),
            ])
        );
    }

    #[test]
    fn ipv6_addresses_as_ip6tables_reads_them() {
        let v6 = |t: &str| address_in(t, false, Family::V6);
        let am6 = |a: &str, p: u8| Ok(Some(Neg::is(AddrMask::from_prefix6(a.parse().unwrap(), p))));
        assert_eq!(v6("2001:db8::/32"), am6("2001:db8::", 32));
        assert_eq!(v6("2001:db8::7/32"), am6("2001:db8::", 32));
        assert_eq!(v6("2001:db8::1"), am6("2001:db8::1", 128));
        assert_eq!(v6("::ffff:1.2.3.4"), am6("::ffff:1.2.3.4", 128));
        assert_eq!(v6("2001:db8::1/0x40"), am6("2001:db8::", 64));
        // A zero mask is no address, unless inverted.
        assert_eq!(v6("::/0"), Ok(None));
        assert_eq!(v6("2001:db8::/0"), Ok(None));
        assert_eq!(
            address_in("::/0", true, Family::V6),
            Ok(Some(Neg::not(Family::V6.any())))
        );
        // A mask in address form, possibly not contiguous.
        let odd = v6("2001:db8::1/ffff::ffff").unwrap().unwrap().value;
        assert_eq!(odd.prefix_len(), None);
        assert_eq!(
            (odd.addr_text(), odd.mask_text()),
            ("2001::1".into(), "ffff::ffff".into())
        );
        let mask = |m: &str| Err(ParseError::InvalidMask(m.into()));
        let host = |h: &str| Err(ParseError::HostNotFound(h.into()));
        assert_eq!(v6("2001:db8::/129"), mask("129"));
        assert_eq!(v6("2001:db8::/-1"), mask("-1"));
        assert_eq!(v6("2001:db8::/abc"), mask("abc"));
        assert_eq!(v6("2001:db8::/ffff::g"), mask("ffff::g"));
        assert_eq!(v6("1.2.3.4"), host("1.2.3.4"));
        assert_eq!(v6(""), host(""));
        assert_eq!(v6("2001:db8:::1"), host("2001:db8:::1"));
        assert!(matches!(
            v6("foo.invalid"),
            Err(ParseError::NotSupported { .. })
        ));
        assert_eq!(
            super::addresses("2001:db8::1,2001:db8::2/64", false, Family::V6),
            Ok(vec![
                am6("2001:db8::1", 128).unwrap(),
                am6("2001:db8::", 64).unwrap()
            ])
        );
    }

    #[test]
    fn address_errors() {
        let mask = |m: &str| Err(ParseError::InvalidMask(m.into()));
        let host = |h: &str| Err(ParseError::HostNotFound(h.into()));
        assert_eq!(address("192.0.2.1/33", false), mask("33"));
        assert_eq!(address("192.0.2.1/-1", false), mask("-1"));
        assert_eq!(address("192.0.2.1/", false), mask(""));
        assert_eq!(address("192.0.2.1/08", false), mask("08"));
        assert_eq!(address("192.0.2.1/0x", false), mask("0x"));
        assert_eq!(
            address("192.0.2.1/255.0.255.256", false),
            mask("255.0.255.256")
        );
        assert_eq!(address("192.0.2.1/255.255.0", false), mask("255.255.0"));
        assert_eq!(
            address("192.0.2.1/255.255.255.255.0", false),
            mask("255.255.255.255.0")
        );
        assert_eq!(address("foo/33", false), mask("33"));
        assert_eq!(address("192.0.2.256", false), host("192.0.2.256"));
        assert_eq!(address("192.0.2.1.5", false), host("192.0.2.1.5"));
        assert_eq!(address("192.0.2.", false), host("192.0.2."));
        assert_eq!(address(".1", false), host(".1"));
        assert_eq!(address("", false), host(""));
        assert_eq!(address("192.0.2.1/32/32", false), host("192.0.2.1/32"));
        assert_eq!(address("192.0.2.1/24,", false), host(""));
        assert_eq!(address("::1", false), host("::1"));
        assert_eq!(address("-n", false), host("-n"));
        assert_eq!(address("--sport", false), host("--sport"));
        assert!(matches!(
            address("localhost", false),
            Err(ParseError::NotSupported { .. })
        ));
        assert!(matches!(
            address("192.0.2.1,198.51.100.1", false),
            Err(ParseError::NotSupported { .. })
        ));
    }

    #[test]
    fn udp_ports() {
        let s = sample();
        let r = |lo, hi| Ok(PortRange { lo, hi });
        let u = |p: &str| udp_port_range(p, "destination-port", &s);
        for (text, port) in [
            ("22", 22),
            ("+22", 22),
            (" 22", 22),
            ("022", 22),
            ("ssh", 22),
            ("fsp", 21),
            ("shell", 514),
            ("0", 0),
            ("65535", 65535),
        ] {
            assert_eq!(u(text), r(port, port), "{text}");
        }
        for (text, lo, hi) in [
            ("ssh:http", 22, 80),
            (":", 0, 65535),
            ("22:", 22, 65535),
            (":22", 0, 22),
        ] {
            assert_eq!(u(text), r(lo, hi), "{text}");
        }
        let bad = |p: &str| Err(ParseError::PortNotResolved(p.into()));
        for (text, near) in [
            ("0x50", "0x50"),
            ("-1", "-1"),
            ("22 ", "22 "),
            ("!", "!"),
            ("99999", "99999"),
            ("65536", "65536"),
            ("", ""),
            ("x:2:3", "x"),
        ] {
            assert_eq!(u(text), bad(near), "{text}");
        }
        let many = |p: &str| {
            Err(ParseError::TooManyPortComponents {
                module: "udp",
                option: "destination-port",
                value: p.into(),
            })
        };
        assert_eq!(u("1:2:3"), many("1:2:3"));
        assert_eq!(u("1:2:3:4"), many("1:2:3:4"));
        assert_eq!(
            u("30:20"),
            Err(ParseError::InvalidPortRange("30:20".into()))
        );
    }

    #[test]
    fn ports() {
        let s = sample();
        let r = |lo, hi| Ok(PortRange { lo, hi });
        assert_eq!(tcp_port_range("22", &s), r(22, 22));
        assert_eq!(tcp_port_range("ssh", &s), r(22, 22));
        assert_eq!(tcp_port_range("1000:2000", &s), r(1000, 2000));
        assert_eq!(udp_port_range(":53", "destination-port", &s), r(0, 53));
        assert_eq!(udp_port_range("5:", "destination-port", &s), r(5, 65535));
        assert_eq!(udp_port_range(":", "destination-port", &s), r(0, 65535));
        assert_eq!(tcp_port_range("http:https", &s), r(80, 443));
        assert_eq!(tcp_port_range("0x16", &s), r(22, 22));
        assert_eq!(tcp_port_range(" 22", &s), r(22, 22));
        assert_eq!(tcp_port_range("65535", &s), r(65535, 65535));
        let bad = |p: &str| Err(ParseError::InvalidPort(p.into()));
        assert_eq!(tcp_port_range("99999", &s), bad("99999"));
        assert_eq!(tcp_port_range("65536", &s), bad("65536"));
        assert_eq!(tcp_port_range("-1", &s), bad("-1"));
        assert_eq!(tcp_port_range("", &s), bad(""));
        assert_eq!(tcp_port_range("22 ", &s), bad("22 "));
        assert_eq!(tcp_port_range("SSH", &s), bad("SSH"));
        assert_eq!(tcp_port_range("bootps", &s), bad("bootps"));
        assert_eq!(udp_port_range("bootps", "destination-port", &s), r(67, 67));
        assert_eq!(tcp_port_range("1:2:3", &s), bad("2:3"));
        assert_eq!(tcp_port_range("!22", &s), bad("!22"));
        assert_eq!(
            tcp_port_range("30:20", &s),
            Err(ParseError::InvalidPortRange("30:20".into()))
        );
        assert_eq!(
            tcp_port_range("ssh:ftp", &s),
            Err(ParseError::InvalidPortRange("ssh:ftp".into()))
        );
    }

    #[test]
    fn interfaces() {
        assert_eq!(interface("eth0"), Ok("eth0".into()));
        assert_eq!(interface("eth+"), Ok("eth+".into()));
        assert_eq!(interface("0123456789abcde"), Ok("0123456789abcde".into()));
        assert_eq!(
            interface("0123456789abcdef"),
            Err(ParseError::InterfaceTooLong("0123456789abcdef".into()))
        );
        assert_eq!(interface(""), Err(ParseError::EmptyInterface));
    }

    #[test]
    fn wait_values() {
        assert!(scanf_unsigned("5"));
        assert!(scanf_unsigned(" 5x"));
        assert!(!scanf_unsigned("x"));
        assert!(!scanf_unsigned(""));
    }
}
