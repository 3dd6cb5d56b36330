//! `-m recent` (libxt_recent revision 1, `xt_recent`): lists of recently
//! seen addresses, shared by name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::prelude::*;
use crate::parse::matches::{truncate, uint};

/// What a recent match does with the list (exactly one per match).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecentCommand {
    /// `--set`: add the address (or refresh it); always matches.
    Set,
    /// `--rcheck`: whether the address is in the list.
    Rcheck,
    /// `--update`: as `--rcheck`, and refresh it when it matches.
    Update,
    /// `--remove`: drop the address; matches when it was there.
    Remove,
}

/// Which address of the packet the list keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecentSide {
    /// `--rsource` (the default).
    Source,
    /// `--rdest`.
    Dest,
}

/// `-m recent` (iptables-extensions(8) "recent").
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recent {
    /// `--set`, `--rcheck`, `--update` or `--remove`.
    pub command: RecentCommand,
    /// `!` before the command.
    pub invert: bool,
    /// `--seconds`: only hits this recent count (0: any age).
    pub seconds: u32,
    /// `--reap`: drop the oldest entry when it is older than `seconds`.
    pub reap: bool,
    /// `--hitcount`: hits needed (0: one).
    pub hitcount: u32,
    /// `--rttl`: the entry's TTL must be the packet's.
    pub rttl: bool,
    /// `--name` (default `DEFAULT`, at most 199 bytes).
    pub name: String,
    /// `--rsource` / `--rdest`.
    pub side: RecentSide,
    /// `--mask`: applied to the address (default 255.255.255.255; in
    /// IPv6 all ones, an IPv6 address).
    pub mask: IpAddr,
}

impl Recent {
    /// Its list's id in the kernel's `RECENT` map: of the name and mask
    /// ([`firewall_common::check::recent::list_id`]; an IPv6 rule's
    /// 16-byte mask makes its list another than IPv4's of that name).
    pub fn list(&self) -> u32 {
        let name = self.name.as_bytes();
        match self.mask {
            IpAddr::V4(m) => firewall_common::check::recent::list_id(name, &m.octets()),
            IpAddr::V6(m) => firewall_common::check::recent::list_id(name, &m.octets()),
        }
    }

    /// Whether its mask keeps the whole address (the default).
    pub fn whole_mask(&self) -> bool {
        match self.mask {
            IpAddr::V4(m) => m == Ipv4Addr::BROADCAST,
            IpAddr::V6(m) => u128::from(m) == u128::MAX,
        }
    }
}

/// The options while a line is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentParser {
    command: Option<RecentCommand>,
    value: Recent,
    /// `--mask` given.
    mask_given: bool,
}

impl Default for RecentParser {
    /// `recent_init`: name DEFAULT, the source address, a full mask.
    fn default() -> Self {
        Self {
            command: None,
            value: Recent {
                command: RecentCommand::Set,
                invert: false,
                seconds: 0,
                reap: false,
                hitcount: 0,
                rttl: false,
                name: "DEFAULT".into(),
                side: RecentSide::Source,
                mask: IpAddr::V4(Ipv4Addr::BROADCAST),
            },
            mask_given: false,
        }
    }
}

/// `F_ANY_OP`: the four commands exclude each other.
const ANY_OP: u32 = 0b1111;

/// The recent module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("recent", Recent, parser RecentParser);
    const OPTIONS: &'static [OptSpec] = &[
        excl(opt("set", 0, No, true), ANY_OP),
        excl(opt("rcheck", 1, No, true), ANY_OP),
        excl(opt("update", 2, No, true), ANY_OP),
        excl(opt("remove", 3, No, true), ANY_OP),
        opt("seconds", 4, Required, false),
        also(opt("reap", 5, No, false), 1 << 4),
        opt("hitcount", 6, Required, false),
        excl(opt("rttl", 7, No, false), 1 << 0 | 1 << 3),
        opt("name", 8, Required, false),
        opt("rsource", 9, No, false),
        opt("rdest", 10, No, false),
        opt("mask", 11, Required, false),
    ];

    /// libxt_recent's `recent_parse`.
    fn option(p: &mut RecentParser, o: Given<'_>, line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        let v6 = line.ctx.family == crate::model::Family::V6;
        // `recent_init` fills the whole mask with ones, in either family.
        if v6 && !p.mask_given && p.value.mask.is_ipv4() {
            p.value.mask = IpAddr::V6(Ipv6Addr::from(u128::MAX));
        }
        let v = &mut p.value;
        let command = |c| (Some(c), o.invert);
        match o.spec.id {
            0 => (p.command, v.invert) = command(RecentCommand::Set),
            1 => (p.command, v.invert) = command(RecentCommand::Rcheck),
            2 => (p.command, v.invert) = command(RecentCommand::Update),
            3 => (p.command, v.invert) = command(RecentCommand::Remove),
            4 => v.seconds = uint(Self::NAME, o.name, &o.arg, 1, u64::from(u32::MAX))? as u32,
            5 => v.reap = true,
            6 => v.hitcount = uint(Self::NAME, o.name, &o.arg, 0, u64::from(u32::MAX))? as u32,
            7 => v.rttl = true,
            // XTTYPE_STRING into `char name[200]`: the rest is cut.
            8 => v.name = truncate(&o.arg, 199),
            9 => v.side = RecentSide::Source,
            10 => v.side = RecentSide::Dest,
            _ => {
                v.mask = if v6 {
                    IpAddr::V6(mask6(&o.arg)?)
                } else {
                    IpAddr::V4(crate::parse::values::host_address(&o.arg)?)
                };
                p.mask_given = true;
            }
        }
        Ok(())
    }

    /// `recent_check`: one of the commands.
    fn fcheck(p: &RecentParser, _given: u32) -> Result<(), ParseError> {
        needs(
            p.command.is_none(),
            Self::NAME,
            "recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'",
        )
    }

    fn finish(p: &RecentParser) -> Result<Recent, ParseError> {
        Ok(Recent {
            command: super::required(&p.command, Self::NAME)?,
            ..p.value.clone()
        })
    }

    /// `recent_mt_check`.
    fn checkentry(r: &Recent) -> Result<(), ParseError> {
        let plain = matches!(r.command, RecentCommand::Set | RecentCommand::Remove);
        if plain && (r.seconds != 0 || r.hitcount != 0 || r.rttl || r.reap) {
            return Err(ParseError::KernelRefuses(
                "recent: --set and --remove take no --seconds, --hitcount, --rttl or --reap",
            ));
        }
        if r.reap && r.seconds == 0 {
            return Err(ParseError::KernelRefuses("recent: --reap needs --seconds"));
        }
        if r.hitcount >= 65536 {
            return Err(ParseError::KernelRefuses(
                "recent: hitcount is larger than allowed maximum (65535)",
            ));
        }
        // The list's /proc/net/xt_recent file must be creatable.
        if r.name.is_empty() || r.name.contains('/') || r.name == "." || r.name == ".." {
            return Err(ParseError::KernelRefuses("recent: bad --name"));
        }
        Ok(())
    }

    fn save(r: &Recent, s: &mut String) {
        text(r, s, &SAVE);
    }

    fn list(r: &Recent, out: &mut String, _cx: &ListCx<'_>) {
        text(r, out, &LIST);
    }

    /// A check of the `RECENT` lists ([`firewall_common::check::KIND_RECENT`]).
    fn support(r: &Recent) -> Enforcement {
        use firewall_common::check::{self, recent as k};
        if r.reap {
            // It drops the oldest entry of the whole list: fw's lists
            // share one LRU map and have no per-list order.
            return Enforcement::Refused("--reap (-m recent)");
        }
        // The kernel keeps IPv6's addresses whole.
        let mask = match r.mask {
            IpAddr::V4(m) => u32::from_ne_bytes(m.octets()),
            IpAddr::V6(_) if r.whole_mask() => u32::MAX,
            IpAddr::V6(_) => return Enforcement::Refused("--mask in IPv6 (-m recent)"),
        };
        if r.hitcount > k::STAMPS as u32 {
            return Enforcement::Refused("-m recent --hitcount above 32");
        }
        let command = match r.command {
            RecentCommand::Set => k::SET,
            RecentCommand::Rcheck => k::RCHECK,
            RecentCommand::Update => k::UPDATE,
            RecentCommand::Remove => k::REMOVE,
        };
        let flags = command
            | if r.invert { k::F_INVERT } else { 0 }
            | if r.rttl { k::F_RTTL } else { 0 }
            | match r.side {
                RecentSide::Source => 0,
                RecentSide::Dest => k::F_DEST,
            };
        Enforcement::RuleCheck(check::Check {
            kind: check::KIND_RECENT,
            arg: mask,
            a: u64::from(r.seconds) * 1_000_000_000,
            b: k::pack_b(r.list(), r.hitcount, flags),
            state: 0,
        })
    }
}

/// ip6tables' `XTTYPE_HOST` for `--mask`: a numeric IPv6 address (an
/// IPv4 one is getaddrinfo's "Address family for hostname not
/// supported", as in ip6tables).
fn mask6(arg: &str) -> Result<Ipv6Addr, ParseError> {
    match arg.parse() {
        Ok(m) => Ok(m),
        Err(_) if crate::parse::values::inet_aton(arg).is_some() => Err(ParseError::AddressFamily),
        Err(_) => Err(ParseError::unsupported(
            format!("host `{arg}' (-m recent: give a numeric IPv6 address)"),
            arg,
        )),
    }
}

/// The words of `-S` (libxt_recent `recent_save`) or `-L` (`recent_print`).
struct Words {
    commands: [&'static str; 4],
    seconds: &'static str,
    reap: &'static str,
    hitcount: &'static str,
    rttl: &'static str,
    name: &'static str,
    sides: [&'static str; 2],
    mask: &'static str,
    /// Whether the side comes after the mask (`-S`) or before it (`-L`).
    side_last: bool,
}

const SAVE: Words = Words {
    commands: [" --set", " --rcheck", " --update", " --remove"],
    seconds: " --seconds",
    reap: " --reap",
    hitcount: " --hitcount",
    rttl: " --rttl",
    name: " --name",
    sides: [" --rsource", " --rdest"],
    mask: " --mask",
    side_last: true,
};

const LIST: Words = Words {
    commands: [" recent: SET", " recent: CHECK", " recent: UPDATE", " recent: REMOVE"],
    seconds: " seconds:",
    reap: " reap",
    hitcount: " hit_count:",
    rttl: " TTL-Match",
    name: " name:",
    sides: [" side: source", " side: dest"],
    mask: " mask:",
    side_last: false,
};

/// `r` in the words `w`; numbers as `%d` of the u32, as libxt_recent
/// prints them.
fn text(r: &Recent, out: &mut String, w: &Words) {
    out.push_str(bang(r.invert));
    out.push_str(match r.command {
        RecentCommand::Set => w.commands[0],
        RecentCommand::Rcheck => w.commands[1],
        RecentCommand::Update => w.commands[2],
        RecentCommand::Remove => w.commands[3],
    });
    if r.seconds != 0 {
        let _ = write!(out, "{} {}", w.seconds, r.seconds as i32);
    }
    if r.reap {
        out.push_str(w.reap);
    }
    if r.hitcount != 0 {
        let _ = write!(out, "{} {}", w.hitcount, r.hitcount as i32);
    }
    if r.rttl {
        out.push_str(w.rttl);
    }
    let _ = write!(out, "{} {}", w.name, r.name);
    let side = match r.side {
        RecentSide::Source => w.sides[0],
        RecentSide::Dest => w.sides[1],
    };
    if !w.side_last {
        out.push_str(side);
    }
    let mask = match r.mask {
        IpAddr::V4(m) => m.to_string(),
        IpAddr::V6(m) => crate::model::ntop6(&m),
    };
    let _ = write!(out, "{} {mask}", w.mask);
    if w.side_last {
        out.push_str(side);
    }
}
