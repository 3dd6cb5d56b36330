//! `-m limit` (libxt_limit, `xt_limit`): a token bucket.

use super::{prelude::*, rate_unit};
use crate::parse::matches::{atoi, uint};

/// `-m limit`: a token bucket (iptables-extensions(8) "limit").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limit {
    /// The average interval between packets, in 1/10000 s
    /// (`XT_LIMIT_SCALE`): `3/min` is 200000. 0 never occurs.
    pub avg: u32,
    /// `--limit-burst`: bucket size in packets, 1..=10000.
    pub burst: u32,
}

impl Limit {
    /// `XT_LIMIT_SCALE`: `avg` units per second.
    pub const SCALE: u32 = 10000;
    /// The default `--limit` (3/hour).
    pub const DEFAULT_AVG: u32 = Self::SCALE * 60 * 60 / 3;
    /// The default `--limit-burst`.
    pub const DEFAULT_BURST: u32 = 5;

    /// `HZ * CREDITS_PER_JIFFY` of xt_limit.c: 250 * 128 with HZ=250
    /// (Debian, Ubuntu), 1000 * 32 with HZ=1000 (Fedora, RHEL) alike.
    const CREDITS_PER_SECOND: u32 = 32000;

    /// xt_limit's `user2credits`, in its u32 arithmetic (which wraps).
    fn user2credits(user: u32) -> u32 {
        if user > u32::MAX / Self::CREDITS_PER_SECOND {
            (user / Self::SCALE).wrapping_mul(Self::CREDITS_PER_SECOND)
        } else {
            user * Self::CREDITS_PER_SECOND / Self::SCALE
        }
    }

    /// How many packets the full bucket admits back to back, as
    /// xt_limit computes it: `credit_cap = user2credits(avg * burst)` in
    /// u32, so a large burst at a slow rate wraps (`--limit 1/hour
    /// --limit-burst 50` admits 12, not 50); at least 1.
    pub fn effective_burst(&self) -> u32 {
        let cap = Self::user2credits(self.avg.wrapping_mul(self.burst));
        let cost = Self::user2credits(self.avg).max(1);
        (cap / cost).max(1)
    }

    /// The kernel's bucket: one token every `avg` (1/10000 s = 100,000
    /// ns), [`Limit::effective_burst`] tokens at most, full at the start
    /// (state 0), as xt_limit's `limit_mt_check` fills it.
    pub fn check(&self) -> firewall_common::check::Check {
        let interval = u64::from(self.avg) * (1_000_000_000 / u64::from(Self::SCALE));
        firewall_common::check::Check {
            kind: firewall_common::check::KIND_LIMIT,
            arg: 0,
            a: interval,
            b: u64::from(self.effective_burst() - 1) * interval,
            state: 0,
        }
    }
}

impl Default for Limit {
    /// The bucket with no option given: 3/hour, burst 5.
    fn default() -> Self {
        Self {
            avg: Self::DEFAULT_AVG,
            burst: Self::DEFAULT_BURST,
        }
    }
}

/// The limit module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("limit", value Limit);
    const OPTIONS: &'static [OptSpec] = &[
        opt("limit", 0, Required, false),
        opt("limit-burst", 1, Required, false),
    ];

    fn option(p: &mut Limit, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        if o.spec.id == 0 {
            p.avg = rate(&o.arg)?;
        } else {
            p.burst = uint(Self::NAME, o.name, &o.arg, 0, 10000)? as u32;
        }
        Ok(())
    }

    /// `limit_mt_check`'s test, in its u32 arithmetic: the full bucket
    /// must hold at least one packet's cost (a product that wraps is
    /// loaded as long as that holds).
    fn checkentry(l: &Limit) -> Result<(), ParseError> {
        if l.burst == 0
            || Limit::user2credits(l.avg.wrapping_mul(l.burst)) < Limit::user2credits(l.avg)
        {
            // The product overflows, not one option: name the match.
            return Err(ParseError::RateOutOfRange("-m limit".into()));
        }
        Ok(())
    }

    fn save(l: &Limit, s: &mut String) {
        let _ = write!(s, " --limit {}", rate_text(l.avg));
        if l.burst != Limit::DEFAULT_BURST {
            let _ = write!(s, " --limit-burst {}", l.burst);
        }
    }

    fn list(l: &Limit, out: &mut String, _cx: &ListCx<'_>) {
        let _ = write!(out, " limit: avg {} burst {}", rate_text(l.avg), l.burst);
    }

    /// A GCRA bucket checked in the kernel ([`firewall_common::check::KIND_LIMIT`]).
    fn support(l: &Limit) -> Enforcement {
        Enforcement::RuleCheck(l.check())
    }
}

/// libxt_limit's `parse_rate`: `N[/second|minute|hour|day]` (any
/// abbreviation, any case; N as `atoi` reads it), as the average interval
/// in 1/10000 s.
fn rate(arg: &str) -> Result<u32, ParseError> {
    let bad = || ParseError::BadRate(arg.to_string());
    let mult = rate_unit(arg).ok_or_else(bad)?;
    // The C code keeps atoi's int in a uint32_t.
    let r = atoi(arg) as i32 as u32;
    if r == 0 {
        return Err(bad());
    }
    // At most 10000 * 86400: always fits the kernel's u32.
    let avg = (u64::from(Limit::SCALE) * mult / u64::from(r)) as u32;
    if avg == 0 {
        return Err(ParseError::RateTooFast(arg.to_string()));
    }
    Ok(avg)
}

/// libxt_limit's `print_rate`: the largest unit that shows the rate as a
/// whole number (`3/hour`, `25/sec`).
fn rate_text(avg: u32) -> String {
    if avg == 0 {
        return "inf".into();
    }
    super::rate_text(u64::from(avg), u64::from(Limit::SCALE)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_xt_limits_with_its_u32_wrap() {
        let l = |avg: &str, burst| Limit {
            avg: rate(avg).unwrap(),
            burst,
        };
        for (avg, burst, want) in [
            ("3/hour", 5, 5),
            // credit_cap = (1.8e9 / 10000) * 32000 wraps u32.
            ("1/hour", 50, 12),
            // Divided first: (142800 / 10000) * 32000 loses 0.28 of 14.28.
            ("7/s", 100, 98),
            ("10000/s", 5, 5),
            ("1/s", 1, 1),
        ] {
            assert_eq!(l(avg, burst).effective_burst(), want, "{avg} {burst}");
        }
    }

    #[test]
    fn rates_like_libxt_limit() {
        for (text, want) in [
            ("3/min", 200000),
            ("3/m", 200000),
            ("7", 1428),
            ("3x/minute", 200000),
            ("10000/s", 1),
        ] {
            assert_eq!(rate(text), Ok(want), "{text}");
        }
        assert_eq!(
            rate("10001/s"),
            Err(ParseError::RateTooFast("10001/s".into()))
        );
        assert_eq!(rate("-1/s"), Err(ParseError::RateTooFast("-1/s".into())));
        assert_eq!(rate("0/s"), Err(ParseError::BadRate("0/s".into())));
        assert_eq!(rate("3/"), Err(ParseError::BadRate("3/".into())));
        assert_eq!(
            rate("3/secondx"),
            Err(ParseError::BadRate("3/secondx".into()))
        );
    }
}
