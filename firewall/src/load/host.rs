//! What else on the host may change a packet before netfilter's filter
//! table sees it, where fw's hooks cannot see the change: a mark set in
//! the mangle, nat, raw or security table (iptables-legacy or
//! ip6tables-legacy) or in an nftables base chain. fw refuses `-m mark`
//! while any is there (docs/semantics.md, "Marks").

use std::{ffi::CString, io, os::fd::AsRawFd as _, os::fd::FromRawFd as _, os::fd::OwnedFd};

use super::rtnl;
use crate::model::Family;

/// `IPT_SO_GET_INFO` (`<linux/netfilter_ipv4/ip_tables.h>`, `IPT_BASE_CTL`),
/// and `IP6T_SO_GET_INFO` (`<linux/netfilter_ipv6/ip6_tables.h>`), the
/// same number.
const IPT_SO_GET_INFO: libc::c_int = 64;
/// `sizeof(struct ipt_getinfo)` (and `ip6t_getinfo`, the same layout):
/// name[32], valid_hooks, hook_entry[5], underflow[5], num_entries, size.
const IPT_GETINFO_LEN: usize = 84;
/// Offset of `num_entries` in `struct ipt_getinfo`.
const NUM_ENTRIES_AT: usize = 76;

/// The iptables-legacy tables that run before or beside filter, with
/// their built-in chains (an empty table has one entry each, and one to
/// end it).
const LEGACY_TABLES: [(&str, u32); 4] = [("raw", 2), ("mangle", 5), ("nat", 4), ("security", 3)];

/// `NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETCHAIN`, and the answer's type
/// (`NFT_MSG_NEWCHAIN`).
const NFT_GETCHAIN: u16 = 10 << 8 | 4;
const NFT_NEWCHAIN: u16 = 10 << 8 | 3;
/// `NFTA_CHAIN_TABLE`, `NFTA_CHAIN_NAME`, `NFTA_CHAIN_HOOK` (present only
/// on base chains, which the hooks run).
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
/// `NFTA_CHAIN_TYPE`: `filter`, `route` or `nat`.
const NFTA_CHAIN_TYPE: u16 = 7;

/// `XFRM_MSG_GETSA` and its answer, `XFRM_MSG_NEWSA` (`<linux/xfrm.h>`).
const XFRM_MSG_GETSA: u16 = 0x12;
const XFRM_MSG_NEWSA: u16 = 0x10;

/// How many IPsec security associations (xfrm states) the namespace has
/// (`ip xfrm state`). With one, netfilter sees packets fw's hooks do not:
/// an ESP packet at XDP comes back decrypted through the stack, past
/// netfilter's hooks again but not past XDP, and `-m policy` could match.
///
/// # Errors
/// When the xfrm netlink socket fails for another reason than a kernel
/// without it (which has no states).
pub fn xfrm_states() -> io::Result<usize> {
    match rtnl::dump(libc::NETLINK_XFRM, XFRM_MSG_GETSA, &[]) {
        Ok(m) => Ok(m.iter().filter(|(t, _)| *t == XFRM_MSG_NEWSA).count()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPROTONOSUPPORT | libc::ENOENT)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Where a mark could be set on `family`'s packets that fw's XDP hook
/// does not see, each worded for a message ("iptables-legacy table `mangle' has rules",
/// "nftables chain `inet t c' exists"); empty when there is none.
///
/// # Errors
/// When the calling thread's namespace cannot be asked (the netlink or
/// raw socket fails for another reason than a kernel without nftables or
/// iptables).
pub fn mark_setters(family: Family) -> io::Result<Vec<String>> {
    let mut out = legacy_tables(family, &LEGACY_TABLES)?;
    out.extend(nft_base_chains(family)?.into_iter().map(|c| c.describe()));
    Ok(out)
}

/// Where the namespace rewrites `family`'s addresses or ports (NAT): the
/// iptables-legacy (ip6tables-legacy) `nat` table with rules, nftables
/// base chains of type `nat` that see the family. fw's XDP hook sees a packet before DNAT and its replies before
/// their de-NAT, so netfilter's chain and tuple differ from fw's;
/// empty when there is none.
///
/// # Errors
/// As [`mark_setters`].
pub fn nat_rewriters(family: Family) -> io::Result<Vec<String>> {
    let mut out = legacy_tables(family, &[("nat", 4)])?;
    out.extend(
        nft_base_chains(family)?
            .into_iter()
            .filter(|c| c.kind == "nat")
            .map(|c| c.describe()),
    );
    Ok(out)
}

/// The iptables-legacy (for IPv6, ip6tables-legacy) tables of `tables`
/// (name, built-in chains) with more than their built-in chains: only
/// tables that exist (`/proc/net/ip_tables_names`, `ip6_tables_names`)
/// are asked, since asking for one loads it.
fn legacy_tables(family: Family, tables: &[(&str, u32)]) -> io::Result<Vec<String>> {
    let (tool, names, af, level) = match family {
        Family::V4 => (
            "iptables-legacy",
            "/proc/net/ip_tables_names",
            libc::AF_INET,
            libc::IPPROTO_IP,
        ),
        Family::V6 => (
            "ip6tables-legacy",
            "/proc/net/ip6_tables_names",
            libc::AF_INET6,
            libc::IPPROTO_IPV6,
        ),
    };
    let names = match std::fs::read_to_string(names) {
        Ok(n) => n,
        // No ip_tables (ip6_tables) in the kernel: no legacy table.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for &(table, chains) in tables {
        if !names.lines().any(|l| l == table) {
            continue;
        }
        if entries(af, level, table)? > chains + 1 {
            out.push(format!("{tool} table `{table}' has rules"));
        }
    }
    Ok(out)
}

/// `num_entries` of the legacy table `table` of socket `family`
/// (`IPT_SO_GET_INFO` at `level`).
fn entries(family: libc::c_int, level: libc::c_int, table: &str) -> io::Result<u32> {
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is the socket just opened, owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut info = [0u8; IPT_GETINFO_LEN];
    let name = CString::new(table).map_err(io::Error::other)?;
    info[..name.as_bytes().len()].copy_from_slice(name.as_bytes());
    let mut len = IPT_GETINFO_LEN as libc::socklen_t;
    // SAFETY: info is a writable buffer of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            level,
            IPT_SO_GET_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rtnl::u32_at(&info, NUM_ENTRIES_AT))
}

/// An nftables base chain: one the hooks run.
struct BaseChain {
    family: &'static str,
    table: String,
    name: String,
    /// `filter`, `route` or `nat`.
    kind: String,
}

impl BaseChain {
    /// As messages name it.
    fn describe(&self) -> String {
        format!(
            "nftables chain `{} {} {}' exists",
            self.family, self.table, self.name
        )
    }
}

/// The nftables base chains of the namespace that see `family`'s
/// packets, as `family table chain`: any of them may set a mark (`meta
/// mark set`) or rewrite an address.
fn nft_base_chains(of: Family) -> io::Result<Vec<BaseChain>> {
    // nfgenmsg: every family, NFNETLINK_V0, res_id 0.
    let msgs = match rtnl::dump(libc::NETLINK_NETFILTER, NFT_GETCHAIN, &[0, 0, 0, 0]) {
        Ok(m) => m,
        // A kernel without nf_tables (or nfnetlink).
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::EOPNOTSUPP | libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT)
            ) =>
        {
            return Ok(vec![]);
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (t, msg) in msgs {
        if t != NFT_NEWCHAIN || msg.len() < 4 {
            continue;
        }
        let family = match i32::from(msg[0]) {
            libc::NFPROTO_INET => "inet",
            libc::NFPROTO_IPV4 => "ip",
            libc::NFPROTO_IPV6 => "ip6",
            libc::NFPROTO_ARP => "arp",
            libc::NFPROTO_BRIDGE => "bridge",
            libc::NFPROTO_NETDEV => "netdev",
            _ => "unknown-family",
        };
        // ip6 chains never see an IPv4 packet, ip chains no IPv6 one,
        // arp chains neither.
        let other = match of {
            Family::V4 => "ip6",
            Family::V6 => "ip",
        };
        if family == other || family == "arp" {
            continue;
        }
        let (mut table, mut name, mut kind, mut base) =
            (String::new(), String::new(), String::new(), false);
        for (ty, v) in rtnl::attrs(&msg[4..]) {
            match ty {
                NFTA_CHAIN_TABLE => table = rtnl::c_string(v),
                NFTA_CHAIN_NAME => name = rtnl::c_string(v),
                NFTA_CHAIN_HOOK => base = true,
                NFTA_CHAIN_TYPE => kind = rtnl::c_string(v),
                // The chain's other attributes say nothing of its hook.
                _ => {}
            }
        }
        if base {
            out.push(BaseChain {
                family,
                table,
                name,
                kind,
            });
        }
    }
    Ok(out)
}
