//! The member offsets `-m owner` needs, read from the running kernel's
//! BTF (`/sys/kernel/btf/vmlinux`; the format is the kernel's
//! Documentation/bpf/btf.rst). Only struct and union members are looked
//! at; every other type is stepped over by its kind's size.

use std::{fmt, io};

use firewall_common::check::owner::Offsets;

/// Where the running kernel describes its types.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// What went wrong reading the kernel's BTF.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// The file could not be read (a kernel without CONFIG_DEBUG_INFO_BTF).
    #[error("cannot read {VMLINUX}: {0}")]
    Read(#[source] io::Error),
    /// The file is not BTF fw can read.
    #[error("{VMLINUX} is not BTF fw can read: {0}")]
    Format(&'static str),
    /// A structure or member fw follows is not there.
    #[error("{VMLINUX} has no {0}")]
    Missing(Member),
}

/// A member fw looks for: `struct NAME`'s `field`.
#[derive(Clone, Copy, Debug)]
pub struct Member(pub &'static str, pub &'static str);

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member `{}' in struct {}", self.1, self.0)
    }
}

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;

/// One type of the type section: its kind, name and, for a struct or a
/// union, where its members start in the section and how many there are.
#[derive(Clone, Copy)]
struct Type {
    kind: u32,
    name_off: u32,
    kind_flag: bool,
    vlen: u32,
    /// Byte offset of the first member (after the 12-byte header).
    members: usize,
    /// For modifiers and typedefs, the type they refer to.
    refers: u32,
}

/// A parsed BTF blob.
struct Btf<'a> {
    types: Vec<Type>,
    section: &'a [u8],
    strings: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, BtfError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(BtfError::Format("truncated"))
}

impl<'a> Btf<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, BtfError> {
        let magic = data
            .get(0..2)
            .map(|m| u16::from_le_bytes([m[0], m[1]]))
            .ok_or(BtfError::Format("truncated"))?;
        if magic != BTF_MAGIC {
            return Err(BtfError::Format("bad magic (or not little-endian)"));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let (type_off, type_len) = (u32_at(data, 8)? as usize, u32_at(data, 12)? as usize);
        let (str_off, str_len) = (u32_at(data, 16)? as usize, u32_at(data, 20)? as usize);
        let section = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or(BtfError::Format("type section out of bounds"))?;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or(BtfError::Format("string section out of bounds"))?;
        // Type 0 is `void`.
        let mut types = vec![Type {
            kind: 0,
            name_off: 0,
            kind_flag: false,
            vlen: 0,
            members: 0,
            refers: 0,
        }];
        let mut at = 0;
        while at < section.len() {
            let name_off = u32_at(section, at)?;
            let info = u32_at(section, at + 4)?;
            let size_or_type = u32_at(section, at + 8)?;
            let kind = (info >> 24) & 0x1f;
            let vlen = info & 0xffff;
            let vlen_usize = vlen as usize;
            // Each kind's data after the common 12 bytes.
            let extra = match kind {
                // INT, VAR, DECL_TAG: 4 bytes.
                1 | 14 | 17 => 4,
                // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC,
                // FLOAT, TYPE_TAG: none.
                2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
                // ARRAY.
                3 => 12,
                // STRUCT, UNION, DATASEC: 12 per member or variable.
                4 | 5 | 15 => 12 * vlen_usize,
                // ENUM, FUNC_PROTO: 8 per value or parameter.
                6 | 13 => 8 * vlen_usize,
                // ENUM64: 12 per value.
                19 => 12 * vlen_usize,
                _ => return Err(BtfError::Format("unknown type kind")),
            };
            types.push(Type {
                kind,
                name_off,
                kind_flag: info >> 31 != 0,
                vlen,
                members: at + 12,
                refers: size_or_type,
            });
            at += 12 + extra;
        }
        Ok(Self {
            types,
            section,
            strings,
        })
    }

    fn name(&self, off: u32) -> &[u8] {
        let rest = self.strings.get(off as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// The struct or union a member's type id names, through typedefs
    /// and modifiers.
    fn aggregate(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..16 {
            let t = self.types.get(id as usize)?;
            match t.kind {
                KIND_STRUCT | KIND_UNION => return Some(t),
                // TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG.
                8 | 9 | 10 | 11 | 18 => id = t.refers,
                _ => return None,
            }
        }
        None
    }

    /// The byte offset of `field` in `t`, looking into anonymous struct
    /// and union members as C does.
    fn member_in(&self, t: &Type, field: &[u8], depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        for i in 0..t.vlen as usize {
            let at = t.members + 12 * i;
            let name_off = u32_at(self.section, at).ok()?;
            let ty = u32_at(self.section, at + 4).ok()?;
            let raw = u32_at(self.section, at + 8).ok()?;
            // With kind_flag the low 24 bits are the bit offset.
            let bits = if t.kind_flag { raw & 0x00ff_ffff } else { raw };
            let name = self.name(name_off);
            if name == field {
                return (bits % 8 == 0).then_some(bits / 8);
            }
            if name.is_empty()
                && let Some(inner) = self.aggregate(ty)
                && let Some(off) = self.member_in(inner, field, depth + 1)
            {
                return Some(bits / 8 + off);
            }
        }
        None
    }

    fn offset(&self, m: Member) -> Result<u32, BtfError> {
        self.types
            .iter()
            .filter(|t| t.kind == KIND_STRUCT && self.name(t.name_off) == m.0.as_bytes())
            .find_map(|t| self.member_in(t, m.1.as_bytes(), 0))
            .ok_or(BtfError::Missing(m))
    }
}

/// The offsets of [`Offsets`] in BTF `data`.
///
/// # Errors
/// [`BtfError::Format`] for data that is not BTF, [`BtfError::Missing`]
/// when a member is not found.
pub fn owner_offsets_in(data: &[u8]) -> Result<Offsets, BtfError> {
    let btf = Btf::parse(data)?;
    Ok(Offsets {
        skc_state: btf.offset(Member("sock_common", "skc_state"))?,
        // include/net/request_sock.h: `#define rsk_listener
        // __req_common.skc_listener`.
        rsk_listener: btf.offset(Member("sock_common", "skc_listener"))?,
        sk_socket: btf.offset(Member("sock", "sk_socket"))?,
        socket_file: btf.offset(Member("socket", "file"))?,
        file_cred: btf.offset(Member("file", "f_cred"))?,
        cred_fsuid: btf.offset(Member("cred", "fsuid"))?,
        cred_fsgid: btf.offset(Member("cred", "fsgid"))?,
        valid: 1,
    })
}

/// The running kernel's [`Offsets`].
///
/// # Errors
/// As [`owner_offsets_in`], and [`BtfError::Read`].
pub fn owner_offsets() -> Result<Offsets, BtfError> {
    let data = std::fs::read(VMLINUX).map_err(BtfError::Read)?;
    owner_offsets_in(&data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running kernel's structures: `sock_common` starts `sock` and
    /// `request_sock`, the credentials follow each other as in
    /// include/linux/cred.h.
    #[test]
    fn offsets_of_the_running_kernel() {
        let Ok(data) = std::fs::read(VMLINUX) else {
            panic!("{VMLINUX} is missing: fw needs a kernel with BTF");
        };
        let o = owner_offsets_in(&data).unwrap();
        assert_eq!(o.valid, 1);
        assert!(o.skc_state < 32, "{o:?}");
        assert_eq!(o.cred_fsgid, o.cred_fsuid + 4, "{o:?}");
        assert!(
            o.sk_socket > o.skc_state && o.rsk_listener > o.skc_state,
            "{o:?}"
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            owner_offsets_in(b"nope"),
            Err(BtfError::Format(_))
        ));
        assert!(matches!(
            owner_offsets_in(&[0x9f, 0xeb, 1, 0]),
            Err(BtfError::Format(_))
        ));
    }
}
