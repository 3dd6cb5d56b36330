//! `-m time` (libxt_time, `xt_time`): the time a packet arrives or
//! leaves, in UTC (or the kernel's timezone with `--kerneltz`).

use super::prelude::*;
use crate::parse::values;
use firewall_common::check::time::{ALL_MONTHDAYS, ALL_WEEKDAYS, F_CONTIGUOUS, F_KERNEL_TZ, MAX_DAYTIME};

/// `xt_time_info`: every bound is kept, with its default when not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Time {
    /// `--datestart`, seconds since the epoch (UTC); 0 when not given.
    pub date_start: u32,
    /// `--datestop`; `i32::MAX` (2038-01-19T03:14:07) when not given.
    pub date_stop: u32,
    /// `--timestart`, seconds since midnight; 0 when not given.
    pub daytime_start: u32,
    /// `--timestop`; 23:59:59 when not given.
    pub daytime_stop: u32,
    /// `[!] --weekdays`: bit 1 (Monday) to 7 (Sunday).
    pub weekdays: u32,
    /// `[!] --monthdays`: bit 1 to 31.
    pub monthdays: u32,
    /// `--kerneltz` (`--localtz`): the kernel's timezone, not UTC.
    pub kernel_tz: bool,
    /// `--contiguous`: a daytime range past midnight belongs to the day
    /// it starts on.
    pub contiguous: bool,
}

impl Default for Time {
    /// libxt_time's `time_init`: every day, all day, no date bound.
    fn default() -> Self {
        Time {
            date_start: 0,
            date_stop: i32::MAX as u32,
            daytime_start: 0,
            daytime_stop: MAX_DAYTIME,
            weekdays: ALL_WEEKDAYS,
            monthdays: ALL_MONTHDAYS,
            kernel_tz: false,
            contiguous: false,
        }
    }
}

const O_UTC: u8 = 7;
const O_LOCAL_TZ: u8 = 6;
const O_KERNEL_TZ: u8 = 8;
const O_CONTIGUOUS: u8 = 9;

/// The time module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("time", value Time);
    const OPTIONS: &'static [OptSpec] = &[
        opt("datestart", 0, Required, false),
        opt("datestop", 1, Required, false),
        opt("timestart", 2, Required, false),
        opt("timestop", 3, Required, false),
        opt("monthdays", 4, Required, true),
        opt("weekdays", 5, Required, true),
        excl(opt("localtz", O_LOCAL_TZ, No, false), 1 << O_UTC),
        excl(opt("utc", O_UTC, No, false), 1 << O_LOCAL_TZ | 1 << O_KERNEL_TZ),
        excl(opt("kerneltz", O_KERNEL_TZ, No, false), 1 << O_UTC),
        opt("contiguous", O_CONTIGUOUS, No, false),
    ];

    fn option(p: &mut Time, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let arg = o.arg.as_str();
        match o.spec.id {
            0 => p.date_start = date(arg)?,
            1 => p.date_stop = date(arg)?,
            2 => p.daytime_start = daytime(arg)?,
            3 => p.daytime_stop = daytime(arg)?,
            4 => {
                p.monthdays = monthdays(arg)?;
                if o.invert {
                    p.monthdays ^= ALL_MONTHDAYS;
                }
            }
            5 => {
                p.weekdays = weekdays(arg)?;
                if o.invert {
                    p.weekdays ^= ALL_WEEKDAYS;
                }
            }
            // libxt_time warns that --localtz is --kerneltz.
            O_LOCAL_TZ | O_KERNEL_TZ => p.kernel_tz = true,
            O_UTC => {}
            O_CONTIGUOUS => p.contiguous = true,
            _ => return Err(ParseError::UnknownOption(o.written.to_string())),
        }
        Ok(())
    }

    fn fcheck(p: &Time, given: u32) -> Result<(), ParseError> {
        needs(
            given & 1 << O_CONTIGUOUS != 0 && p.daytime_start < p.daytime_stop,
            Self::NAME,
            "time: --contiguous only makes sense when stoptime is smaller than starttime",
        )
    }

    /// libxt_time's `time_save`.
    fn save(t: &Time, s: &mut String) {
        if t.daytime_start != 0 || t.daytime_stop != MAX_DAYTIME {
            let _ = write!(
                s,
                " --timestart {} --timestop {}",
                hms(t.daytime_start),
                hms(t.daytime_stop)
            );
        }
        if t.monthdays != ALL_MONTHDAYS {
            let _ = write!(s, " --monthdays {}", month_list(t.monthdays, false));
        }
        if t.weekdays != ALL_WEEKDAYS {
            let _ = write!(s, " --weekdays {}", week_list(t.weekdays));
        }
        if t.date_start != 0 {
            let _ = write!(s, " --datestart {}", date_text(t.date_start, 'T'));
        }
        // Only `LONG_MAX` would be left out, and the kernel keeps 32 bits.
        let _ = write!(s, " --datestop {}", date_text(t.date_stop, 'T'));
        if t.kernel_tz {
            s.push_str(" --kerneltz");
        }
        if t.contiguous {
            s.push_str(" --contiguous");
        }
    }

    /// libxt_time's `time_print`.
    fn list(t: &Time, out: &mut String, _cx: &ListCx<'_>) {
        out.push_str(" TIME");
        if t.daytime_start != 0 || t.daytime_stop != MAX_DAYTIME {
            let _ = write!(out, " from {} to {}", hms(t.daytime_start), hms(t.daytime_stop));
        }
        if t.weekdays != ALL_WEEKDAYS {
            let _ = write!(out, " on {}", week_list(t.weekdays));
        }
        if t.monthdays != ALL_MONTHDAYS {
            let _ = write!(out, " on {}", month_list(t.monthdays, true));
        }
        if t.date_start != 0 {
            let _ = write!(out, " starting from {}", date_text(t.date_start, ' '));
        }
        if t.date_stop != i32::MAX as u32 {
            let _ = write!(out, " until date {}", date_text(t.date_stop, ' '));
        }
        if !t.kernel_tz {
            out.push_str(" UTC");
        }
        if t.contiguous {
            out.push_str(" contiguous");
        }
    }

    /// Checked in the kernel ([`firewall_common::check::KIND_TIME`]) on
    /// the wall clock: `bpf_ktime_get_tai_ns` less the TAI offset and
    /// (`--kerneltz`) the kernel's timezone, both read now, when the
    /// ruleset is compiled (docs/semantics.md item 29).
    fn support(t: &Time) -> Enforcement {
        Enforcement::RuleCheck(check(t, clock_adjust(t.kernel_tz)))
    }
}

/// The `KIND_TIME` check of `t`, `adjust` seconds to take off TAI.
pub fn check(t: &Time, adjust: i32) -> firewall_common::check::Check {
    let flags = (u32::from(t.kernel_tz) * F_KERNEL_TZ) | (u32::from(t.contiguous) * F_CONTIGUOUS);
    firewall_common::check::Check {
        kind: firewall_common::check::KIND_TIME,
        arg: flags | (t.weekdays & 0xff) << 8,
        a: u64::from(t.date_start) | u64::from(t.date_stop) << 32,
        b: u64::from(t.daytime_start) | u64::from(t.daytime_stop) << 32,
        state: u64::from(t.monthdays) | u64::from(adjust as u32) << 32,
    }
}

/// What to take off `CLOCK_TAI` (seconds) for xt_time's clock: the TAI
/// offset (`CLOCK_TAI` - `CLOCK_REALTIME`, as adjtimex keeps it) and,
/// with `kernel_tz`, the kernel's timezone (`sys_tz`, gettimeofday(2)'s
/// `tz_minuteswest`), which xt_time subtracts.
pub fn clock_adjust(kernel_tz: bool) -> i32 {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime(2) writes the timespec given.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    };
    let tai = read(libc::CLOCK_TAI) - read(libc::CLOCK_REALTIME);
    let mut adjust = ((tai + 500_000_000) / 1_000_000_000) as i32;
    if kernel_tz {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        /// `struct timezone` (libc's is opaque).
        #[repr(C)]
        struct Timezone {
            tz_minuteswest: i32,
            tz_dsttime: i32,
        }
        let mut tz = Timezone {
            tz_minuteswest: 0,
            tz_dsttime: 0,
        };
        // SAFETY: gettimeofday(2) writes both structures given.
        unsafe { libc::gettimeofday(&mut tv, (&raw mut tz).cast()) };
        adjust += 60 * tz.tz_minuteswest;
    }
    adjust
}

/// C's `strtoul(s, &end, base)`: the number and the rest (all of `s`,
/// and 0, when it starts with no digit).
fn strtoul(s: &str, base: u32) -> (u64, &str) {
    match values::strtoumax(s, base) {
        Some((v, end, _)) => (v, &s[end..]),
        None => (0, s),
    }
}

fn problem(message: String, token: &str) -> ParseError {
    ParseError::ModuleProblem {
        message,
        token: token.to_string(),
    }
}

/// libxt_time's `time_parse_date`: `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`
/// (1970 to 2038), as mktime(3) in UTC normalizes it.
fn date(arg: &str) -> Result<u32, ParseError> {
    let bad = || {
        problem(
            format!("Invalid date \"{arg}\" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]"),
            arg,
        )
    };
    // (separator allowed after it, largest value)
    let parts: [(char, u64); 6] = [
        ('-', 2038),
        ('-', 12),
        ('T', 31),
        (':', 23),
        (':', 59),
        ('\0', 59),
    ];
    let mut v = [1970u64, 1, 1, 0, 0, 0];
    let mut s = arg;
    for (i, (sep, max)) in parts.iter().enumerate() {
        let (n, rest) = strtoul(s, 10);
        let at_end = rest.is_empty();
        if !(at_end || rest.starts_with(*sep)) || n > *max || (i == 0 && n < 1970) {
            return Err(bad());
        }
        v[i] = n;
        if at_end {
            break;
        }
        s = &rest[sep.len_utf8()..];
    }
    // mktime: month and day out of range carry over.
    let months = v[0] as i64 * 12 + v[1] as i64 - 1;
    let days = days_from_civil(months.div_euclid(12), months.rem_euclid(12) as u32 + 1)
        + v[2] as i64
        - 1;
    let t = days * 86_400 + (v[3] * 3600 + v[4] * 60 + v[5]) as i64;
    u32::try_from(t).map_err(|_| bad())
}

/// Days from 1970-01-01 to the first of `month` (1-12) of `year`
/// (the proleptic Gregorian calendar).
fn days_from_civil(year: i64, month: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// libxt_time's `time_parse_minutes`: `hh:mm[:ss]`; the message names
/// the part from the one that is wrong on.
fn daytime(arg: &str) -> Result<u32, ParseError> {
    let bad = |s: &str| {
        problem(
            format!(
                "invalid time \"{s}\" specified, should be hh:mm[:ss] format and within the boundaries"
            ),
            arg,
        )
    };
    let (h, rest) = strtoul(arg, 10);
    if !rest.starts_with(':') || h > 23 {
        return Err(bad(arg));
    }
    let s = &rest[1..];
    let (m, rest) = strtoul(s, 10);
    if !(rest.is_empty() || rest.starts_with(':')) || m > 59 {
        return Err(bad(s));
    }
    let mut sec = 0;
    if let Some(s) = rest.strip_prefix(':') {
        let (n, rest) = strtoul(s, 10);
        if !rest.is_empty() || n > 59 {
            return Err(bad(s));
        }
        sec = n;
    }
    Ok((h * 3600 + m * 60 + sec) as u32)
}

/// libxt_time's `my_strseg`: the comma-separated parts, each cut to
/// `keep` bytes (its buffer), up to an empty rest.
fn segments(arg: &str, keep: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = Some(arg);
    while let Some(r) = rest.filter(|r| !r.is_empty()) {
        let (part, next) = match r.split_once(',') {
            Some((p, n)) => (p, Some(n)),
            None => (r, None),
        };
        out.push(part.chars().take(keep).collect());
        rest = next;
    }
    out
}

/// libxt_time's `time_parse_monthdays`.
fn monthdays(arg: &str) -> Result<u32, ParseError> {
    let mut mask = 0u32;
    for day in segments(arg, 2) {
        let (i, rest) = strtoul(&day, 0);
        if !(rest.is_empty() || rest.starts_with(',')) || i > 31 {
            return Err(problem(format!("{day} is not a valid day for --monthdays"), arg));
        }
        mask |= 1 << i;
    }
    Ok(mask)
}

const WEEK_DAYS: [&str; 8] = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// libxt_time's `time_parse_weekdays`: numbers 1-7 or names matched on
/// their first two letters.
fn weekdays(arg: &str) -> Result<u32, ParseError> {
    let mut mask = 0u32;
    for day in segments(arg, 3) {
        let (i, rest) = strtoul(&day, 0);
        if rest.is_empty() {
            if i == 0 {
                return Err(problem("No, the week does NOT begin with Sunday.".into(), arg));
            }
            // Bits past Sunday print as nothing and match nothing more.
            mask |= 1u32.checked_shl(i as u32).unwrap_or(0);
            continue;
        }
        let two: String = day.chars().take(2).collect();
        let at = WEEK_DAYS[1..]
            .iter()
            .position(|w| two.len() == 2 && w.starts_with(two.as_str()));
        match at {
            Some(n) => mask |= 1 << (n + 1),
            None => return Err(problem(format!("{day} is not a valid day specifier"), arg)),
        }
    }
    Ok(mask)
}

/// `HH:MM:SS`.
fn hms(t: u32) -> String {
    format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

/// `YYYY-MM-DD?HH:MM:SS` in UTC, `sep` between date and time.
fn date_text(t: u32, sep: char) -> String {
    let days = u64::from(t / 86_400);
    let (y, m, d) = firewall_common::check::time::civil(days);
    format!("{y:04}-{m:02}-{d:02}{sep}{}", hms(t % 86_400))
}

/// The days of `mask` (bits 1-31), `1st,2nd,...` when `human`.
fn month_list(mask: u32, human: bool) -> String {
    (1..=31)
        .filter(|i| mask >> i & 1 != 0)
        .map(|i| {
            let suffix = match (human, i % 10) {
                (false, _) => "",
                (true, 1) => "st",
                (true, 2) => "nd",
                (true, 3) => "rd",
                (true, _) => "th",
            };
            format!("{i}{suffix}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The weekdays of `mask` (bits 1-7) by name.
fn week_list(mask: u32) -> String {
    (1..=7)
        .filter(|i| mask >> i & 1 != 0)
        .map(|i| WEEK_DAYS[i])
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_as_libxt_time_reads_them() {
        assert_eq!(date("2026-12-01"), Ok(1_796_083_200));
        assert_eq!(date("2038-01-19T03:14:07"), Ok(i32::MAX as u32));
        assert_eq!(date("1970"), Ok(0));
        // mktime carries February 31st into March.
        assert_eq!(date("1970-02-31"), Ok(61 * 86_400));
        assert!(date("2039").is_err());
        assert!(date("2026-13").is_err());
        assert!(date("2026-1x").is_err());
        assert_eq!(daytime("21:30"), Ok(77_400));
        assert_eq!(daytime("8:"), Ok(8 * 3600));
        assert_eq!(daytime("23:59:59"), Ok(MAX_DAYTIME));
        assert!(daytime("24:00").is_err());
        assert!(daytime("8").is_err());
        assert_eq!(date_text(1_796_083_200, 'T'), "2026-12-01T00:00:00");
        assert_eq!(date_text(i32::MAX as u32, ' '), "2038-01-19 03:14:07");
    }

    #[test]
    fn days_as_libxt_time_reads_them() {
        assert_eq!(weekdays("Mon,Tue"), Ok(0b110));
        assert_eq!(weekdays("Sa,Su"), Ok(0b1100_0000));
        assert_eq!(weekdays("Mo,7"), Ok(0b1000_0010));
        assert_eq!(weekdays("Monday"), Ok(0b10));
        assert!(weekdays("0").is_err());
        assert!(weekdays("Xy").is_err());
        assert_eq!(monthdays("1,15,31"), Ok(1 << 1 | 1 << 15 | 1 << 31));
        assert!(monthdays("32").is_err());
        assert!(monthdays("08").is_err());
        assert_eq!(month_list(1 << 11 | 1 << 12 | 1 << 23, true), "11st,12nd,23rd");
    }
}
