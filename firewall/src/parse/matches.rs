//! The generic half of match parsing: libxtables' option tables and checks
//! (iptables 1.8.9's "xtoptions") and the value grammars several modules
//! share. Each module's own options, values and messages are in
//! [`crate::extensions::matches`].
//!
//! Most modules use libxtables' option parser: an option given twice, `!`
//! before an option that cannot be inverted, a missing mandatory option
//! and two exclusive options are refused with the generic messages of
//! [`OptSpec`]. tcp and set keep their own older parsers and wording.

use super::{error::ParseError, lexer::HasArg, protocols, services::Services, values};
pub(crate) use crate::extensions::matches::Module;
use crate::{
    extensions::{
        Extension,
        matches::{Given, Line},
    },
    model::{Family, Match, Neg, PortRange},
};

/// One option of a module, as libxtables' `xt_option_entry` describes it.
/// Aliases share an `id`; messages name the first entry with that id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OptSpec {
    /// The long option name, without `--`.
    pub name: &'static str,
    /// The option's id within its module (its bit in `excl`).
    pub id: u8,
    /// Whether it takes a value.
    pub has_arg: HasArg,
    /// `XTOPT_INVERT`: may follow `!`.
    pub invert: bool,
    /// `XTOPT_MAND`: must be given.
    pub mand: bool,
    /// Ids of the options it excludes (its own bit is ignored).
    pub excl: u32,
    /// Ids of the options it needs beside it (`also`).
    pub also: u32,
    /// A real option fw does not parse yet.
    pub unsupported: bool,
    /// `XTOPT_MULTI`: may be given more than once (the module checks).
    pub multi: bool,
}

/// An option with no flags.
pub(crate) const fn opt(name: &'static str, id: u8, has_arg: HasArg, invert: bool) -> OptSpec {
    OptSpec {
        name,
        id,
        has_arg,
        invert,
        mand: false,
        excl: 0,
        also: 0,
        unsupported: false,
        multi: false,
    }
}

/// `o`, which may be given more than once.
pub(crate) const fn multi(o: OptSpec) -> OptSpec {
    OptSpec { multi: true, ..o }
}

/// `o`, mandatory.
pub(crate) const fn mand(o: OptSpec) -> OptSpec {
    OptSpec { mand: true, ..o }
}

/// `o`, excluding the options with the ids in `excl`.
pub(crate) const fn excl(o: OptSpec, excl: u32) -> OptSpec {
    OptSpec { excl, ..o }
}

/// `o`, needing the options with the ids in `also` beside it.
pub(crate) const fn also(o: OptSpec, also: u32) -> OptSpec {
    OptSpec { also, ..o }
}

/// A real option fw does not parse yet (refused as not supported).
pub(crate) const fn later(name: &'static str, id: u8, has_arg: HasArg) -> OptSpec {
    OptSpec {
        unsupported: true,
        ..opt(name, id, has_arg, true)
    }
}

/// The first option of `table` with id `id` (the name messages use).
pub(crate) fn canonical(table: &[OptSpec], id: u8) -> &'static str {
    table.iter().find(|o| o.id == id).map_or("?", |o| o.name)
}

/// What an option handler needs from the rest of the line.
pub(crate) struct Ctx<'a> {
    /// `-p` as given so far.
    pub protocol: Option<Neg<u8>>,
    /// The family of the command (iptables or ip6tables).
    pub family: Family,
    /// Service names.
    pub services: &'a Services,
}

/// A loaded extension, a match module or a target, and the options given
/// to it so far.
#[derive(Clone, Debug)]
pub(crate) struct Loaded<M: Extension> {
    pub module: M,
    /// Ids of the options given (`xflags`).
    given: u32,
    /// The extension's own state.
    pub(super) parser: M::Parser,
}

/// A loaded match module.
pub(crate) type Instance = Loaded<Module>;

impl<M: Extension> Loaded<M> {
    pub(crate) fn new(module: M) -> Self {
        Self {
            module,
            given: 0,
            parser: module.parser(),
        }
    }

    /// Handles the option with id `id` of this extension, given as
    /// `written` with value `arg` (`None` for options without value),
    /// after `!` when `invert`: libxtables' generic checks, then the
    /// extension's. Options that take a second word (`--tcp-flags`,
    /// `--match-set`) read it from `line`, as iptables reads
    /// `argv[optind]`.
    pub(crate) fn option(
        &mut self,
        id: u8,
        written: &str,
        arg: Option<String>,
        invert: bool,
        line: &mut Line<'_, '_>,
    ) -> Result<(), ParseError> {
        let table = self.module.options();
        let Some(spec) = table.iter().find(|o| o.id == id) else {
            return Err(ParseError::UnknownOption(written.to_string()));
        };
        let module = self.module.name();
        let bit = 1u32 << spec.id;
        let name = canonical(table, spec.id);
        if self.module.xtoptions() {
            once_then_invert(
                module,
                name,
                self.given & bit != 0 && !spec.multi,
                written,
                invert && !spec.invert,
            )?;
        }
        // Only match modules have options fw does not parse yet.
        if spec.unsupported {
            let bang = if invert { "! " } else { "" };
            return Err(ParseError::unsupported(
                format!("{bang}--{} (-m {module})", spec.name),
                written,
            ));
        }
        let given = Given {
            spec,
            name,
            written,
            arg: arg.unwrap_or_default(),
            invert,
        };
        M::option(&mut self.parser, given, line)?;
        self.given |= bit;
        Ok(())
    }
}

impl Instance {
    /// The checks after the line is read (the module's own `x6_fcheck`,
    /// then libxtables' mandatory and exclusive options), and the match.
    pub(crate) fn finish(&self) -> Result<Match, ParseError> {
        let module = self.module.name();
        self.parser.fcheck(self.given)?;
        if self.module.xtoptions() {
            let table = self.module.options();
            for o in table {
                let bit = 1u32 << o.id;
                if o.mand && self.given & bit == 0 {
                    return Err(ParseError::MissingOption {
                        module,
                        option: o.name,
                    });
                }
                if self.given & bit == 0 {
                    continue;
                }
                for i in 0..32u8 {
                    if i != o.id && o.excl & (1 << i) != 0 && self.given & (1 << i) != 0 {
                        return Err(ParseError::ExclusiveOptions {
                            module,
                            option: o.name,
                            other: canonical(table, i),
                        });
                    }
                }
                for i in 0..32u8 {
                    if o.also & (1 << i) != 0 && self.given & (1 << i) == 0 {
                        return Err(ParseError::AlsoRequires {
                            module,
                            option: o.name,
                            other: canonical(table, i),
                        });
                    }
                }
            }
        }
        self.parser.finish()
    }
}

/// xtables_option_parse's first checks: an option given `twice`, then
/// `!` before one that `cannot_invert`.
fn once_then_invert(
    module: &'static str,
    option: &'static str,
    twice: bool,
    written: &str,
    cannot_invert: bool,
) -> Result<(), ParseError> {
    if twice {
        return Err(ParseError::OptionOnce {
            module,
            option,
            written: written.to_string(),
        });
    }
    if cannot_invert {
        return Err(ParseError::CannotInvertOption { module, option });
    }
    Ok(())
}

/// A port range as stored: the full range without `!` is no option.
pub(crate) fn port_value(value: PortRange, invert: bool) -> Option<Neg<PortRange>> {
    let full = value
        == PortRange {
            lo: 0,
            hi: u16::MAX,
        };
    (invert || !full).then_some(Neg { value, invert })
}

/// `s` cut to at most `max` bytes (on a character boundary), as libxtables
/// cuts strings to the kernel's buffer.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// libxtables' integer options: a number (base 0) in `min..=max`.
pub(crate) fn uint(
    module: &'static str,
    option: &'static str,
    arg: &str,
    min: u64,
    max: u64,
) -> Result<u64, ParseError> {
    match values::xt_strtoul(arg, min, max) {
        Some((v, "")) => Ok(v),
        _ => Err(ParseError::BadOptionValue {
            module,
            option,
            value: arg.to_string(),
            min,
            max,
        }),
    }
}

/// libxtables' `MIN[:MAX]` of u16 (`XTTYPE_UINT16RC`): an empty part is 0
/// (first) or 65535 (second); one part gives MIN = MAX.
pub(crate) fn u16_range(
    module: &'static str,
    option: &'static str,
    arg: &str,
) -> Result<(u16, u16), ParseError> {
    let (lo, hi) = uint_range(module, option, arg, u64::from(u16::MAX))?;
    Ok((lo as u16, hi as u16))
}

/// libxtables' `MIN[:MAX]` of integers up to `max` (`XTTYPE_UINT16RC`,
/// `XTTYPE_UINT32RC`): an empty part is 0 (first) or `max` (second); one
/// part gives MIN = MAX.
pub(crate) fn uint_range(
    module: &'static str,
    option: &'static str,
    arg: &str,
    max: u64,
) -> Result<(u64, u64), ParseError> {
    let mut vals: Vec<u64> = Vec::new();
    let mut rest = arg;
    loop {
        if vals.len() == 2 {
            return Err(ParseError::TooManyPortComponents {
                module,
                option,
                value: arg.to_string(),
            });
        }
        let (v, after) = if rest.is_empty() || rest.starts_with(':') {
            (if vals.len() == 1 { max } else { 0 }, rest)
        } else {
            let (v, after) =
                values::xt_strtoul(rest, 0, max).ok_or_else(|| ParseError::BadRangeValue {
                    module,
                    option,
                    near: rest.to_string(),
                    max,
                })?;
            if !after.is_empty() && !after.starts_with(':') {
                return Err(ParseError::RangeTrailingCharacters {
                    module,
                    option,
                    near: after.to_string(),
                });
            }
            (v, after)
        };
        vals.push(v);
        match after.strip_prefix(':') {
            Some(next) => rest = next,
            None => break,
        }
    }
    Ok((vals[0], *vals.get(1).unwrap_or(&vals[0])))
}

/// C's `atoi`: white space, a sign, decimal digits; 0 when none.
pub(crate) fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches(values::is_c_space);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let v = digits
        .parse::<i64>()
        .unwrap_or(if digits.is_empty() { 0 } else { i64::MAX });
    if neg { -v } else { v }
}

/// The module iptables loads implicitly after `-p` (`proto_to_name`):
/// tcp, udp, icmp; in IPv6 icmp6 for `ipv6-icmp` (libxtables' alias),
/// and never a module of the other family.
pub(crate) fn implicit_module(protocol: u8, family: Family) -> Option<Module> {
    protocols::display_name(protocol).and_then(|name| module_named(name, family))
}

/// The module `-m NAME` loads in `family`, if fw parses it and the
/// family has it: in IPv6 `icmpv6` and `ipv6-icmp` are icmp6
/// (`xtables_find_match`).
pub(crate) fn module_named(name: &str, family: Family) -> Option<Module> {
    let name = match (family, name) {
        (Family::V6, "icmpv6" | "ipv6-icmp") => "icmp6",
        _ => name,
    };
    Module::by_name_in(name, family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoul_style_numbers() {
        assert_eq!(u16_range("length", "length", "100"), Ok((100, 100)));
        assert_eq!(u16_range("length", "length", ":200"), Ok((0, 200)));
        assert_eq!(u16_range("length", "length", "100:"), Ok((100, 65535)));
        assert_eq!(u16_range("length", "length", ""), Ok((0, 0)));
        assert_eq!(u16_range("length", "length", "0x10:020"), Ok((16, 16)));
        assert!(matches!(
            u16_range("length", "length", "1:2:3"),
            Err(ParseError::TooManyPortComponents { .. })
        ));
        assert_eq!(
            u16_range("length", "length", "5x").unwrap_err().to_string(),
            "length: Argument to \"--length\" has unexpected characters near \"x\"."
        );
        assert_eq!(
            u16_range("length", "length", "100:65536")
                .unwrap_err()
                .to_string(),
            "length: bad value for option \"--length\" near \"65536\", or out of range (0-65535)."
        );
    }
}
