//! `-m owner` (libxt_owner revision 1, `xt_owner`): who opened the socket
//! a locally generated packet leaves from.

use std::{collections::BTreeSet, ffi::CString};

use super::prelude::*;
use crate::{
    model::{BuiltinChain, check::hook_names},
    parse::values,
};

/// `-m owner`: at least one of `[!] --uid-owner`, `[!] --gid-owner`,
/// `[!] --socket-exists`. Ids are the kernel's (initial user namespace),
/// ranges inclusive; names are looked up when the rule is parsed, as
/// iptables does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    /// `[!] --uid-owner MIN[-MAX]`: the socket file's fsuid.
    pub uid: Option<Neg<(u32, u32)>>,
    /// `[!] --gid-owner MIN[-MAX]`: its fsgid.
    pub gid: Option<Neg<(u32, u32)>>,
    /// `[!] --socket-exists`, holding whether `!` was given.
    pub socket: Option<bool>,
    /// `--suppl-groups`: `--gid-owner` also matches a supplementary group.
    pub suppl_groups: bool,
}

impl Owner {
    /// [`firewall_common::check::KIND_OWNER`]'s flags.
    pub fn flags(&self) -> u32 {
        use firewall_common::check::owner::{F_GID, F_SOCKET, F_UID, INVERT_SHIFT};
        let mut f = 0;
        for (flag, given, invert) in [
            (F_UID, self.uid.is_some(), self.uid.as_ref().is_some_and(|u| u.invert)),
            (F_GID, self.gid.is_some(), self.gid.as_ref().is_some_and(|g| g.invert)),
            (F_SOCKET, self.socket.is_some(), self.socket == Some(true)),
        ] {
            if given {
                f |= flag;
            }
            if invert {
                f |= flag << INVERT_SHIFT;
            }
        }
        f
    }

    /// The uid and gid ranges as the check holds them (`min | max << 32`).
    pub fn ranges(&self) -> (u64, u64) {
        let word = |r: Option<&Neg<(u32, u32)>>| {
            r.map_or(0, |r| u64::from(r.value.0) | u64::from(r.value.1) << 32)
        };
        (word(self.uid.as_ref()), word(self.gid.as_ref()))
    }
}

/// The owner module.
pub(crate) struct Ext;

impl MatchExt for Ext {
    ext_head!("owner", value Owner);
    const OPTIONS: &'static [OptSpec] = &[
        opt("uid-owner", 0, Required, true),
        opt("gid-owner", 1, Required, true),
        opt("socket-exists", 2, No, true),
        opt("suppl-groups", 3, No, false),
    ];

    fn option(p: &mut Owner, o: Given<'_>, _line: &mut Line<'_, '_>) -> Result<(), ParseError> {
        match o.spec.id {
            0 => p.uid = o.neg(id_range(&o.arg, "uid-owner", user_id)?),
            1 => p.gid = o.neg(id_range(&o.arg, "gid-owner", group_id)?),
            2 => p.socket = Some(o.invert),
            3 => {
                if p.gid.is_none() {
                    return Err(ParseError::BadValue {
                        module: "owner",
                        option: "suppl-groups",
                        value: "you need to use --gid-owner first".into(),
                    });
                }
                p.suppl_groups = true;
            }
            // The table has no other id.
            _ => return Err(ParseError::UnknownOption(o.written.to_string())),
        }
        Ok(())
    }

    fn fcheck(_: &Owner, given: u32) -> Result<(), ParseError> {
        needs(
            given == 0,
            Self::NAME,
            "owner: At least one of --uid-owner, --gid-owner or --socket-exists is required",
        )
    }

    /// xt_owner's `owner_check`: a range must not run backwards.
    fn checkentry(v: &Owner) -> Result<(), ParseError> {
        for r in [v.uid.as_ref(), v.gid.as_ref()].into_iter().flatten() {
            if r.value.1 < r.value.0 {
                return Err(ParseError::KernelRefuses("xt_owner: a range's end is below its start"));
            }
        }
        Ok(())
    }

    /// xt_owner's `.hooks`: OUTPUT and POSTROUTING only.
    fn hooks(_: &Owner, from: &BTreeSet<BuiltinChain>) -> Result<(), String> {
        let wrong: BTreeSet<BuiltinChain> = from
            .iter()
            .copied()
            .filter(|c| *c != BuiltinChain::Output)
            .collect();
        if !wrong.is_empty() {
            return Err(format!(
                "owner match: used from hooks {}, but only valid from OUTPUT/POSTROUTING",
                hook_names(&wrong)
            ));
        }
        Ok(())
    }

    /// libxt_owner's `owner_mt_save`: always numeric.
    fn save(v: &Owner, s: &mut String) {
        print(v, s, ["--socket-exists", "--uid-owner", "--gid-owner", "--suppl-groups"], true);
    }

    /// libxt_owner's `owner_mt_print`: names unless `-n`.
    fn list(v: &Owner, out: &mut String, cx: &ListCx<'_>) {
        print(
            v,
            out,
            ["owner socket exists", "owner UID match", "owner GID match", "incl. suppl. groups"],
            cx.numeric,
        );
    }

    /// Checked at TC egress ([`firewall_common::check::KIND_OWNER`]) on
    /// the packet's socket; `--suppl-groups` is not.
    fn support(v: &Owner) -> Enforcement {
        if v.suppl_groups {
            return Enforcement::Refused("--suppl-groups (-m owner)");
        }
        let (a, b) = v.ranges();
        Enforcement::RuleCheck(firewall_common::check::Check {
            kind: firewall_common::check::KIND_OWNER,
            arg: v.flags(),
            a,
            b,
            state: 0,
        })
    }
}

/// libxt_owner's `owner_mt_print_item` for each given option, with
/// `labels` for socket, uid, gid and supplementary groups.
fn print(v: &Owner, out: &mut String, labels: [&str; 4], numeric: bool) {
    if let Some(invert) = v.socket {
        let _ = write!(out, "{} {}", bang(invert), labels[0]);
    }
    for (r, label, name) in [
        (v.uid.as_ref(), labels[1], user_name as fn(u32) -> Option<String>),
        (v.gid.as_ref(), labels[2], group_name),
    ] {
        let Some(r) = r else { continue };
        let _ = write!(out, "{} {label}", bang(r.invert));
        let (lo, hi) = r.value;
        if lo != hi {
            let _ = write!(out, " {lo}-{hi}");
        } else if let Some(n) = (!numeric).then(|| name(lo)).flatten() {
            let _ = write!(out, " {n}");
        } else {
            let _ = write!(out, " {lo}");
        }
    }
    if v.suppl_groups {
        let _ = write!(out, " {}", labels[3]);
    }
}

/// libxt_owner's `owner_mt_parse`: a user (group) name, else
/// `owner_parse_range`'s `ID[-ID]` or `ID[:ID]`, each at most 2^32 - 2.
fn id_range(
    arg: &str,
    option: &'static str,
    by_name: fn(&str) -> Option<u32>,
) -> Result<(u32, u32), ParseError> {
    if let Some(id) = by_name(arg) {
        return Ok((id, id));
    }
    let bad = || ParseError::BadValue {
        module: "owner",
        option,
        value: arg.to_string(),
    };
    let max = u64::from(u32::MAX - 1);
    let (lo, rest) = values::xt_strtoul(arg, 0, max).ok_or_else(bad)?;
    let (hi, rest) = match rest.strip_prefix(['-', ':']) {
        Some(r) => values::xt_strtoul(r, 0, max).ok_or_else(bad)?,
        None => (lo, rest),
    };
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok((lo as u32, hi as u32))
}

/// The size of the buffer `get*_r` fill.
const NSS_BUF: usize = 16 * 1024;

/// getpwnam(3).
fn user_id(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; NSS_BUF];
    // SAFETY: all-zero is a valid passwd (null pointers, zero ids).
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: the buffers outlive the call, their sizes as given.
    let rc = unsafe { libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    (rc == 0 && !found.is_null()).then_some(pw.pw_uid)
}

/// getgrnam(3).
fn group_id(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; NSS_BUF];
    // SAFETY: all-zero is a valid group.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_id`.
    let rc = unsafe { libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut found) };
    (rc == 0 && !found.is_null()).then_some(gr.gr_gid)
}

/// getpwuid(3)'s name.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; NSS_BUF];
    // SAFETY: as in `user_id`.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: as in `user_id`.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r left a NUL-terminated name in `buf`.
    Some(unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }.to_string_lossy().into_owned())
}

/// getgrgid(3)'s name.
fn group_name(gid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; NSS_BUF];
    // SAFETY: as in `user_id`.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_id`.
    let rc = unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || gr.gr_name.is_null() {
        return None;
    }
    // SAFETY: as in `user_name`.
    Some(unsafe { std::ffi::CStr::from_ptr(gr.gr_name) }.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_like_libxt_owner() {
        let user = |a: &str| id_range(a, "uid-owner", user_id);
        assert_eq!(user("root"), Ok((0, 0)));
        assert_eq!(user("0x10"), Ok((16, 16)));
        assert_eq!(user("5:7"), Ok((5, 7)));
        assert_eq!(user("5-7"), Ok((5, 7)));
        assert_eq!(user("4294967294"), Ok((u32::MAX - 1, u32::MAX - 1)));
        for bad in ["4294967295", "5-", "-1", "nosuchuser", "1x", ""] {
            assert_eq!(
                user(bad),
                Err(ParseError::BadValue {
                    module: "owner",
                    option: "uid-owner",
                    value: bad.into()
                }),
                "{bad}"
            );
        }
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_id("root"), Some(0));
    }

    #[test]
    fn flags_as_the_kernel_keeps_them() {
        use firewall_common::check::owner::{F_GID, F_SOCKET, F_UID, INVERT_SHIFT};
        let o = Owner {
            uid: Some(Neg {
                value: (1, 2),
                invert: true,
            }),
            gid: Some(Neg {
                value: (3, 3),
                invert: false,
            }),
            socket: Some(false),
            suppl_groups: false,
        };
        assert_eq!(o.flags(), F_UID | F_GID | F_SOCKET | F_UID << INVERT_SHIFT);
        assert_eq!(o.ranges(), (1 | 2 << 32, 3 | 3 << 32));
    }
}
