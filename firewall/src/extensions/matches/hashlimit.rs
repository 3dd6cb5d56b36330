//! `-m hashlimit` (libxt_hashlimit revision 3, `xt_hashlimit`): a token
//! bucket per source and/or destination address (or one for all).

use super::{prelude::*, rate_unit};
use crate::parse::matches::{atoi, uint};

/// `-m hashlimit` in packet mode (`xt_hashlimit_mtinfo3`'s `cfg`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hashlimit {
    /// The average interval between packets, µs (`XT_HASHLIMIT_SCALE_v2`):
    /// `5/sec` is 200000. Never 0.
    pub avg: u64,
    /// `--hashlimit-burst`: bucket size in packets, 1..=1000000.
    pub burst: u64,
    /// `XT_HASHLIMIT_INVERT`: `--hashlimit-above` (match over the rate).
    pub above: bool,
    /// `--hashlimit-mode srcip`: one bucket per source (masked).
    pub srcip: bool,
    /// `--hashlimit-mode dstip`: one bucket per destination (masked).
    pub dstip: bool,
    /// `--hashlimit-srcmask`, 0..=32 (default 32; the parser takes up to
    /// 255, as libxtables, and checkentry refuses more than 32); in
    /// IPv6 0..=128 (default 128).
    pub srcmask: u8,
    /// `--hashlimit-dstmask`, as `srcmask`.
    pub dstmask: u8,
    /// A rule of ip6tables: its masks are IPv6's, and its table is
    /// another than IPv4's of the same name (xt_hashlimit keeps a table
    /// per family).
    #[serde(default)]
    pub v6: bool,
    /// `--hashlimit-name` (1 to 254 bytes): rules with one name share
    /// their buckets.
    pub name: String,
    /// `--hashlimit-htable-size` (0: the kernel's default).
    pub size: u32,
    /// `--hashlimit-htable-max` (0: the kernel's default).
    pub max: u32,
    /// `--hashlimit-htable-gcinterval`, ms (default 1000).
    pub gc_interval: u32,
    /// `--hashlimit-htable-expire`, ms: an idle bucket is forgotten
    /// (full again) after it; default the rate's unit (1000 for /sec).
    pub expire: u32,
}

/// `XT_HASHLIMIT_SCALE_v2`: `avg` units per second.
const SCALE: u64 = 1_000_000;
/// `XT_HASHLIMIT_BURST`, `XT_HASHLIMIT_BURST_MAX`, `XT_HASHLIMIT_GCINTERVAL`.
const DEFAULT_BURST: u64 = 5;
const BURST_MAX: u64 = 1_000_000;
const DEFAULT_GC: u32 = 1000;

/// The options given so far, and the rate's unit in seconds
/// (`hashlimit_mt_udata.mult`), which sets the default expiry.
#[derive(Clone, Debug)]
pub(crate) struct HashlimitParser {
    value: Hashlimit,
    mult: u32,
    expire_given: bool,
    /// `--hashlimit-srcmask` and `--hashlimit-dstmask` given.
    masks_given: (bool, bool),
}

impl Default for HashlimitParser {
    /// `hashlimit_mt4_init`.
    fn default() -> Self {
        Self {
            value: Hashlimit {
                avg: 0,
                burst: DEFAULT_BURST,
                above: false,
                srcip: false,
                dstip: false,
                srcmask: 32,
                dstmask: 32,
                v6: false,
                name: String::new(),
                size: 0,
                max: 0,
                gc_interval: DEFAULT_GC,
                expire: 0,
            },
            mult: 1,
            expire_given: false,
            masks_given: (false, false),
        }
    }
}

const O_UPTO: u8 = 0;
const O_ABOVE: u8 = 1;
const O_SRCMASK: u8 = 3;
const O_DSTMASK: u8 = 4;
const O_NAME: u8 = 5;
const O_BURST: u8 = 6;
const O_SIZE: u8 = 7;
const O_MAX: u8 = 8;
const O_GC: u8 = 9;
const O_EXPIRE: u8 = 10;
const O_MODE: u8 = 11;
const O_RATEMATCH: u8 = 12;
const O_INTERVAL: u8 = 13;
const F_UPTO: u32 = 1 << O_UPTO;
const F_ABOVE: u32 = 1 << O_ABOVE;

/// The hashlimit module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("hashlimit", Hashlimit, parser HashlimitParser);
    const OPTIONS: &'static [OptSpec] = &[
        excl(opt("hashlimit-upto", O_UPTO, Required, true), F_ABOVE),
        excl(opt("hashlimit-above", O_ABOVE, Required, true), F_UPTO),
        excl(opt("hashlimit", O_UPTO, Required, true), F_ABOVE),
        opt("hashlimit-srcmask", O_SRCMASK, Required, false),
        opt("hashlimit-dstmask", O_DSTMASK, Required, false),
        opt("hashlimit-burst", O_BURST, Required, false),
        opt("hashlimit-htable-size", O_SIZE, Required, false),
        opt("hashlimit-htable-max", O_MAX, Required, false),
        opt("hashlimit-htable-gcinterval", O_GC, Required, false),
        opt("hashlimit-htable-expire", O_EXPIRE, Required, false),
        opt("hashlimit-mode", O_MODE, Required, false),
        mand(opt("hashlimit-name", O_NAME, Required, false)),
        opt("hashlimit-rate-match", O_RATEMATCH, No, false),
        opt("hashlimit-rate-interval", O_INTERVAL, Required, false),
    ];

    /// libxt_hashlimit's `hashlimit_mt_parse`.
    fn option(p: &mut HashlimitParser, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let u32_opt = |o: &Given<'_>| uint(Self::NAME, o.name, &o.arg, 0, u64::from(u32::MAX)).map(|v| v as u32);
        // `hashlimit_mt6_init`: IPv6's masks default to 128.
        let v6 = line.ctx.family == crate::model::Family::V6;
        if v6 && !p.value.v6 {
            p.value.v6 = true;
            let (src, dst) = p.masks_given;
            if !src {
                p.value.srcmask = 128;
            }
            if !dst {
                p.value.dstmask = 128;
            }
        }
        let v = &mut p.value;
        let plen = |name, arg: &str| if v6 { plen6(name, arg) } else { plen(name, arg) };
        match o.spec.id {
            O_UPTO | O_ABOVE => {
                v.above = (o.spec.id == O_ABOVE) != o.invert;
                if o.arg.find("b/s").is_some_and(|i| i > 0) {
                    return Err(ParseError::unsupported(
                        format!("--{} in bytes (-m hashlimit)", o.name),
                        o.arg.clone(),
                    ));
                }
                let (avg, mult) = rate(&o.arg, o.spec.id)?;
                v.avg = avg;
                p.mult = mult;
            }
            O_SRCMASK => {
                v.srcmask = plen(o.name, &o.arg)?;
                p.masks_given.0 = true;
            }
            O_DSTMASK => {
                v.dstmask = plen(o.name, &o.arg)?;
                p.masks_given.1 = true;
            }
            O_BURST => v.burst = burst(&o.arg)?,
            O_SIZE => v.size = u32_opt(&o)?,
            O_MAX => v.max = u32_opt(&o)?,
            O_GC => v.gc_interval = u32_opt(&o)?,
            O_EXPIRE => {
                v.expire = u32_opt(&o)?;
                p.expire_given = true;
            }
            O_MODE => {
                for tok in o.arg.split([',', '|']).filter(|t| !t.is_empty()) {
                    match tok {
                        "srcip" => v.srcip = true,
                        "dstip" => v.dstip = true,
                        "srcport" | "dstport" => {
                            return Err(ParseError::unsupported(
                                format!("--hashlimit-mode {tok} (-m hashlimit)"),
                                tok,
                            ));
                        }
                        _ => return Err(bad_value("--hashlimit-mode", &o.arg)),
                    }
                }
            }
            O_NAME => {
                if o.arg.is_empty() {
                    return Err(ParseError::ArgumentTooShort {
                        min: 1,
                        written: o.written.to_string(),
                    });
                }
                // XTTYPE_STRING into `char name[NAME_LEN]` (255): the rest is cut.
                v.name = crate::parse::matches::truncate(&o.arg, 254);
            }
            O_RATEMATCH | O_INTERVAL => {
                return Err(ParseError::unsupported(format!("--{} (-m hashlimit)", o.name), o.name));
            }
            id => unreachable!("option id {id} is not in {}'s table", Self::NAME),
        }
        Ok(())
    }

    /// `hashlimit_mt_check`: a rate, and the default expiry.
    fn fcheck(_p: &HashlimitParser, given: u32) -> Result<(), ParseError> {
        needs(given & (F_UPTO | F_ABOVE) == 0, Self::NAME, "You have to specify --hashlimit")
    }

    fn finish(p: &HashlimitParser) -> Result<Hashlimit, ParseError> {
        let mut v = p.value.clone();
        if !p.expire_given {
            v.expire = p.mult * 1000;
        }
        if v.burst > BURST_MAX {
            return Err(burst_error());
        }
        Ok(v)
    }

    /// `hashlimit_mt_check_common`'s refusals (the kernel's, as
    /// iptables-legacy reports them).
    fn checkentry(v: &Hashlimit) -> Result<(), ParseError> {
        if v.gc_interval == 0 || v.expire == 0 {
            return Err(ParseError::KernelRefuses("xt_hashlimit: invalid interval"));
        }
        let full = if v.v6 { 128 } else { 32 };
        if v.srcmask > full || v.dstmask > full {
            return Err(ParseError::KernelRefuses("xt_hashlimit: invalid mask"));
        }
        Ok(())
    }

    /// `hashlimit_mt_save`, revision 3.
    fn save(v: &Hashlimit, s: &mut String) {
        let (rate, quantum) = rate_text(v.avg);
        let _ = write!(
            s,
            " --hashlimit-{} {rate} --hashlimit-burst {}",
            if v.above { "above" } else { "upto" },
            v.burst
        );
        if let Some(m) = mode_text(v, ',') {
            let _ = write!(s, " --hashlimit-mode {m}");
        }
        let _ = write!(s, " --hashlimit-name {}", v.name);
        tables(v, quantum, s, " --hashlimit-htable-", " --hashlimit-");
    }

    /// `hashlimit_mt_print`, revision 3.
    fn list(v: &Hashlimit, out: &mut String, _cx: &ListCx<'_>) {
        let (rate, quantum) = rate_text(v.avg);
        let _ = write!(
            out,
            " limit: {} {rate} burst {}",
            if v.above { "above" } else { "up to" },
            v.burst
        );
        if let Some(m) = mode_text(v, '-') {
            let _ = write!(out, " mode {m}");
        }
        tables(v, quantum, out, " htable-", " ");
    }

    /// A GCRA bucket per masked address in the kernel's `HASHLIMIT` map
    /// ([`firewall_common::check::KIND_HASHLIMIT`]).
    fn support(v: &Hashlimit) -> Enforcement {
        Enforcement::RuleCheck(v.check())
    }

    /// The rate, burst, and the table's maximum and gc interval.
    fn check_data(v: &Hashlimit) -> Vec<firewall_common::check::Check> {
        vec![v.data()]
    }
}

impl Hashlimit {
    /// The kernel's check: the masks, mode and table, a bucket idle for
    /// `expire` ms full again. Its `a` (where [`Hashlimit::data`] goes)
    /// is the compiler's.
    pub fn check(&self) -> firewall_common::check::Check {
        use firewall_common::check::hashlimit::*;
        let mut flags = 0;
        if self.above {
            flags |= F_ABOVE;
        }
        if self.srcip {
            flags |= F_SRCIP;
        }
        if self.dstip {
            flags |= F_DSTIP;
        }
        firewall_common::check::Check {
            kind: firewall_common::check::KIND_HASHLIMIT,
            arg: pack_arg(self.srcmask, self.dstmask, flags),
            a: 0,
            b: 0,
            state: pack_state(self.table(), self.expire),
        }
    }

    /// Its table's id in the kernel's maps ([`firewall_common::check::hashlimit::table_id`],
    /// IPv6's [`firewall_common::check::hashlimit::table_id6`]).
    pub fn table(&self) -> u32 {
        use firewall_common::check::hashlimit::{table_id, table_id6};
        if self.v6 {
            table_id6(self.name.as_bytes())
        } else {
            table_id(self.name.as_bytes())
        }
    }

    /// The check's data entry: one token every `avg` µs, `burst` at
    /// most; the table's maximum of buckets on this host
    /// ([`Hashlimit::table_max`]) and its gc interval.
    pub fn data(&self) -> firewall_common::check::Check {
        let interval = self.avg.saturating_mul(1000);
        firewall_common::check::hashlimit::data(
            interval,
            self.burst.saturating_sub(1).saturating_mul(interval),
            self.table_max(),
            self.gc_interval,
        )
    }

    /// The table's maximum of buckets as xt_hashlimit sets it on this
    /// host ([`firewall_common::check::hashlimit::effective_max`], from
    /// `sysinfo(2)`'s total RAM when `--hashlimit-htable-size` is not
    /// given).
    pub fn table_max(&self) -> u32 {
        // SAFETY: sysinfo fills the struct it is given.
        let (ram, page) = unsafe {
            let mut si: libc::sysinfo = core::mem::zeroed();
            let ram = if libc::sysinfo(&mut si) == 0 {
                si.totalram as u64 * u64::from(si.mem_unit.max(1))
            } else {
                0
            };
            (ram, libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64)
        };
        firewall_common::check::hashlimit::effective_max(self.size, self.max, ram, page)
    }
}

/// libxtables' `XTTYPE_PLEN` for IPv4: a number up to 255 (the kernel
/// refuses more than 32, `checkentry`), else a netmask as `inet_aton`
/// reads it, whose prefix length it is (255 when not contiguous, which
/// the kernel refuses too).
fn plen(option: &'static str, arg: &str) -> Result<u8, ParseError> {
    if let Some((v, "")) = crate::parse::values::xt_strtoul(arg, 0, 255) {
        return Ok(v as u8);
    }
    let m = crate::parse::values::inet_aton(arg).ok_or(ParseError::HashlimitBadMask {
        option,
        value: arg.to_string(),
    })?;
    let m = u32::from(m);
    Ok(if m.leading_ones() + m.trailing_zeros() == 32 {
        m.leading_ones() as u8
    } else {
        255
    })
}

/// libxtables' `XTTYPE_PLEN` for IPv6: a number up to 128, else an IPv6
/// netmask, whose prefix length it is (255 when not contiguous, which
/// the kernel refuses).
fn plen6(option: &'static str, arg: &str) -> Result<u8, ParseError> {
    if let Some((v, "")) = crate::parse::values::xt_strtoul(arg, 0, 128) {
        return Ok(v as u8);
    }
    let m: std::net::Ipv6Addr = arg.parse().map_err(|_| ParseError::BadCidr {
        module: "hashlimit",
        option,
        value: arg.to_string(),
        max: 128,
    })?;
    let m = u128::from(m);
    Ok(if m.leading_ones() + m.trailing_zeros() == 128 {
        m.leading_ones() as u8
    } else {
        255
    })
}

/// `XTF_BAD_VALUE`'s message.
fn bad_value(option: &'static str, arg: &str) -> ParseError {
    ParseError::HashlimitBadValue {
        option,
        value: arg.to_string(),
    }
}

fn burst_error() -> ParseError {
    ParseError::HashlimitBurst
}

/// libxt_hashlimit's `parse_burst` (revision 2 and up): a number
/// 1..=1000000, then `k` or `m` multiply it (meant for byte mode), other
/// characters after it are ignored.
fn burst(arg: &str) -> Result<u64, ParseError> {
    // xtables_strtoul(burst, &end, &v, 1, UINT64_MAX).
    let Some((v, rest)) = crate::parse::values::xt_strtoul(arg, 1, 0) else {
        return Err(burst_error());
    };
    if rest.is_empty() && v > BURST_MAX {
        return Err(burst_error());
    }
    let factor = match rest.as_bytes().first() {
        Some(b'm') => 1024 * 1024,
        Some(b'k') => 1024,
        _ => 1,
    };
    v.checked_mul(factor).ok_or_else(burst_error)
}

/// libxt_hashlimit's `parse_rate` (revision 2 and up): `N[/second|minute|
/// hour|day]` (abbreviations, any case; N as `atoll` reads it) as µs per
/// packet, and the unit in seconds.
fn rate(arg: &str, id: u8) -> Result<(u64, u32), ParseError> {
    let option = if id == O_ABOVE { "--hashlimit-above" } else { "--hashlimit-upto" };
    let bad = || bad_value(option, arg);
    let mult = rate_unit(arg).ok_or_else(bad)? as u32;
    let r = atoi(arg) as u64;
    if r == 0 {
        return Err(bad());
    }
    let avg = SCALE * u64::from(mult) / r;
    if avg == 0 {
        return Err(ParseError::RateTooFast(arg.to_string()));
    }
    Ok((avg, mult))
}

/// libxt_hashlimit's `print_rate` (revision 2 and up): the rate in the
/// largest unit that shows it whole, and that unit in ms (the default
/// expiry printing leaves out).
fn rate_text(avg: u64) -> (String, u32) {
    let (text, unit) = super::rate_text(avg, SCALE);
    (text, (unit / SCALE * 1000) as u32)
}

/// `print_mode`: the address modes in libxt's order, `None` for none.
fn mode_text(v: &Hashlimit, sep: char) -> Option<String> {
    let modes: Vec<&str> = [(v.srcip, "srcip"), (v.dstip, "dstip")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
    (!modes.is_empty()).then(|| modes.join(&sep.to_string()))
}

/// The table options that differ from their defaults, then the masks
/// that are not 32 (IPv6: 128), as `-S` (`prefix` `--hashlimit-htable-`)
/// or `-L` prints them.
fn tables(v: &Hashlimit, quantum: u32, out: &mut String, table: &str, mask: &str) {
    if v.size != 0 {
        let _ = write!(out, "{table}size {}", v.size);
    }
    if v.max != 0 {
        let _ = write!(out, "{table}max {}", v.max);
    }
    if v.gc_interval != DEFAULT_GC {
        let _ = write!(out, "{table}gcinterval {}", v.gc_interval);
    }
    if v.expire != quantum {
        let _ = write!(out, "{table}expire {}", v.expire);
    }
    let full = if v.v6 { 128 } else { 32 };
    if v.srcmask != full {
        let _ = write!(out, "{mask}srcmask {}", v.srcmask);
    }
    if v.dstmask != full {
        let _ = write!(out, "{mask}dstmask {}", v.dstmask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's key masking, on 16-byte addresses of either family.
    #[test]
    fn addresses_are_masked_to_their_prefix() {
        use firewall_common::check::hashlimit::masked;
        let a: std::net::Ipv6Addr = "2001:db8:1:2:3456:4:5:6".parse().unwrap();
        let m = |len| std::net::Ipv6Addr::from(masked(&a.octets(), len)).to_string();
        assert_eq!(m(128), "2001:db8:1:2:3456:4:5:6");
        assert_eq!(m(200), "2001:db8:1:2:3456:4:5:6");
        assert_eq!(m(64), "2001:db8:1:2::");
        assert_eq!(m(72), "2001:db8:1:2:3400::");
        assert_eq!(m(33), "2001:db8::");
        assert_eq!(m(0), "::");
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&[192, 0, 2, 77]);
        assert_eq!(&masked(&v4, 24)[..5], &[192, 0, 2, 0, 0]);
        assert_eq!(masked(&v4, 32), v4);
    }

    #[test]
    fn rates_and_bursts_like_libxt_hashlimit() {
        assert_eq!(rate("5/s", O_UPTO), Ok((200_000, 1)));
        assert_eq!(rate("60/min", O_UPTO), Ok((1_000_000, 60)));
        assert_eq!(rate_text(1_000_000), ("1/sec".into(), 1000));
        assert_eq!(rate_text(200_000), ("5/sec".into(), 1000));
        assert_eq!(rate_text(SCALE * 3600 / 7), ("7/hour".into(), 3_600_000));
        assert_eq!(rate("0/s", O_UPTO), Err(bad_value("--hashlimit-upto", "0/s")));
        assert_eq!(rate("2000000/s", O_ABOVE), Err(ParseError::RateTooFast("2000000/s".into())));
        assert_eq!(burst("10"), Ok(10));
        assert_eq!(burst("2k"), Ok(2048));
        assert_eq!(burst("1000001"), Err(burst_error()));
        assert_eq!(burst("0"), Err(burst_error()));
    }
}
