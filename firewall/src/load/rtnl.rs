//! Netlink dumps ([`dump`]), and the upper/lower relations and XDP programs of the namespace's interfaces, read with one
//! `RTM_GETLINK` dump over rtnetlink (sysfs may be mounted for another
//! namespace than the calling thread's, netlink always answers for the
//! thread's own).

use std::{
    collections::HashMap,
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

/// What rtnetlink says of one interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkInfo {
    /// `IFLA_IFNAME`: the interface's name.
    pub name: String,
    /// `ifinfomsg.ifi_type`: the `ARPHRD_*` link type.
    pub link_type: u16,
    /// `IFF_UP` of `ifinfomsg.ifi_flags`: administratively up.
    pub up: bool,
    /// `IFLA_MASTER`: the index of the device this one is enslaved to (a
    /// bridge, bond, team or VRF), if any.
    pub master: Option<u32>,
    /// `IFLA_INFO_KIND`: the driver kind (`bridge`, `bond`, `veth`,
    /// `vlan`, `macvlan`, ...), empty for devices without one.
    pub kind: String,
    /// `IFLA_XDP_PROG_ID`: the id of the XDP program attached (by fw or
    /// anything else), 0 when none is.
    pub xdp_prog: u32,
    /// `IFLA_ADDRESS` when it is 6 bytes long: the MAC address, as on
    /// the wire.
    pub mac: Option<[u8; 6]>,
    /// `IFLA_LINK` when the link is in this namespace (no
    /// `IFLA_LINK_NETNSID`): the lower device of a vlan or macvlan, a
    /// veth's peer.
    pub link: Option<u32>,
    /// `IFLA_LINK_NETNSID` and `IFLA_LINK` when the link is in another
    /// namespace: that namespace's id here (see [`nsid`]) and its index
    /// there.
    pub foreign_link: Option<(i32, u32)>,
    /// `IFLA_MACVLAN_MODE` of a macvlan's or macvtap's `IFLA_INFO_DATA`
    /// (`MACVLAN_MODE_*`).
    pub macvlan_mode: Option<u32>,
}

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINK: u16 = 5;
const IFLA_LINK_NETNSID: u16 = 37;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_PROG_ID: u16 = 4;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The attributes (type, payload) of a run of `rtattr`s.
pub(crate) fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16_at(b, 0) as usize;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((u16_at(b, 2) & 0x3fff, &b[4..len]));
        b = b.get((len + 3) & !3..).unwrap_or(&[]);
    }
    out
}

/// The messages of one netlink dump over `protocol` (`NETLINK_ROUTE`,
/// `NETLINK_NETFILTER`): `header` is what follows the request's
/// `nlmsghdr` of type `ty` (REQUEST|DUMP); each answer's type and the
/// bytes after its `nlmsghdr`.
///
/// # Errors
/// When the socket cannot be opened, or the dump fails (the kernel's
/// `NLMSG_ERROR` as its errno).
pub(crate) fn dump(protocol: i32, ty: u16, header: &[u8]) -> io::Result<Vec<(u16, Vec<u8>)>> {
    exchange(protocol, ty, libc::NLM_F_DUMP as u16, header)
}

/// One netlink request of type `ty` over `protocol` with `flags` besides
/// REQUEST (`NLM_F_DUMP`: a dump; `NLM_F_ACK`: one answer, then the
/// kernel's acknowledgement), `header` after its `nlmsghdr`; the answers
/// as [`dump`] gives them.
///
/// # Errors
/// As [`dump`].
fn exchange(protocol: i32, ty: u16, flags: u16, header: &[u8]) -> io::Result<Vec<(u16, Vec<u8>)>> {
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is the socket just opened, owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // nlmsghdr (len, type, flags REQUEST|DUMP, seq, pid), then the header.
    let mut req = vec![0u8; NLMSG_HDRLEN];
    req.extend_from_slice(header);
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req[4..6].copy_from_slice(&ty.to_ne_bytes());
    let flags = libc::NLM_F_REQUEST as u16 | flags;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: req is a valid buffer of the length given.
    if unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        // SAFETY: buf is a valid writable buffer of the length given.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut b = &buf[..n as usize];
        if b.is_empty() {
            return Ok(out);
        }
        while b.len() >= NLMSG_HDRLEN {
            let len = u32_at(b, 0) as usize;
            if len < NLMSG_HDRLEN || len > b.len() {
                break;
            }
            let msg = &b[..len];
            match u16_at(msg, 4) {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let errno = msg.get(16..20).map_or(0, |e| u32_at(e, 0) as i32);
                    if errno == 0 {
                        // NLM_F_ACK's acknowledgement: the request is done.
                        return Ok(out);
                    }
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                t => out.push((t, msg[NLMSG_HDRLEN..].to_vec())),
            }
            let next = (len + 3) & !3;
            b = b.get(next..).unwrap_or(&[]);
        }
    }
}

/// [`LinkInfo`] of every interface of the calling thread's namespace, by
/// index.
///
/// # Errors
/// When the netlink socket cannot be opened or the dump fails.
pub fn links() -> io::Result<HashMap<u32, LinkInfo>> {
    // A zeroed ifinfomsg: every family.
    let mut ifinfo = [0u8; IFINFOMSG_LEN];
    ifinfo[0] = libc::AF_UNSPEC as u8;
    let mut out = HashMap::new();
    for (t, msg) in dump(libc::NETLINK_ROUTE, libc::RTM_GETLINK, &ifinfo)? {
        if t != libc::RTM_NEWLINK || msg.len() < IFINFOMSG_LEN {
            continue;
        }
        let index = u32_at(&msg, 4);
        let mut info = LinkInfo {
            link_type: u16_at(&msg, 2),
            up: u32_at(&msg, 8) & libc::IFF_UP as u32 != 0,
            ..LinkInfo::default()
        };
        let mut link_nsid = None;
        let mut info_data: &[u8] = &[];
        for (ty, v) in attrs(&msg[IFINFOMSG_LEN..]) {
            match ty {
                IFLA_IFNAME => info.name = c_string(v),
                IFLA_MASTER if v.len() >= 4 => info.master = Some(u32_at(v, 0)),
                IFLA_ADDRESS if v.len() == 6 => {
                    info.mac = Some([v[0], v[1], v[2], v[3], v[4], v[5]]);
                }
                IFLA_LINK if v.len() >= 4 => info.link = Some(u32_at(v, 0)),
                IFLA_LINK_NETNSID if v.len() >= 4 => link_nsid = Some(u32_at(v, 0) as i32),
                IFLA_LINKINFO => {
                    for (ty, v) in attrs(v) {
                        match ty {
                            IFLA_INFO_KIND => info.kind = c_string(v),
                            IFLA_INFO_DATA => info_data = v,
                            // Attributes fw does not use.
                            _ => {}
                        }
                    }
                }
                IFLA_XDP => {
                    for (ty, v) in attrs(v) {
                        if ty == IFLA_XDP_PROG_ID && v.len() >= 4 {
                            info.xdp_prog = u32_at(v, 0);
                        }
                    }
                }
                // Attributes fw does not use.
                _ => {}
            }
        }
        if let Some(nsid) = link_nsid {
            // An index in another namespace names nothing here.
            info.foreign_link = info.link.take().map(|i| (nsid, i));
        }
        // IFLA_INFO_DATA's attributes depend on the kind.
        if matches!(info.kind.as_str(), "macvlan" | "macvtap") {
            info.macvlan_mode = attrs(info_data)
                .into_iter()
                .find(|(ty, v)| *ty == IFLA_MACVLAN_MODE && v.len() >= 4)
                .map(|(_, v)| u32_at(v, 0));
        }
        out.insert(index, info);
    }
    Ok(out)
}

/// `RTM_GETNSID`, `RTM_NEWNSID` and their attributes
/// (`<linux/net_namespace.h>`).
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;

/// The id the calling thread's namespace gives the namespace `fd` is
/// open on (what `IFLA_LINK_NETNSID` says of a link there), `None` when
/// it gives none.
///
/// # Errors
/// When the netlink socket cannot be opened or the kernel refuses.
pub fn nsid(fd: std::os::fd::BorrowedFd) -> io::Result<Option<i32>> {
    // struct rtgenmsg (AF_UNSPEC, padded to 4), then NETNSA_FD.
    let mut req = vec![0u8; 4];
    req.extend_from_slice(&8u16.to_ne_bytes());
    req.extend_from_slice(&NETNSA_FD.to_ne_bytes());
    req.extend_from_slice(&(fd.as_raw_fd() as u32).to_ne_bytes());
    let answers = exchange(
        libc::NETLINK_ROUTE,
        RTM_GETNSID,
        libc::NLM_F_ACK as u16,
        &req,
    )?;
    Ok(answers
        .iter()
        .filter(|(t, m)| *t == RTM_NEWNSID && m.len() >= 4)
        .flat_map(|(_, m)| attrs(&m[4..]))
        .find(|(ty, v)| *ty == NETNSA_NSID && v.len() >= 4)
        .map(|(_, v)| u32_at(v, 0) as i32)
        .filter(|id| *id >= 0))
}

/// One route of a local routing table (table 255, `RT_TABLE_LOCAL`):
/// what `ip route show table local` (`ip -6 route ...`) lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalRoute {
    /// `firewall_common::check::addrtype::FAMILY4` or `FAMILY6`.
    pub family: u8,
    /// The prefix length, 0..=32 (IPv6: 0..=128).
    pub len: u8,
    /// The prefix, network order (as `RTA_DST` carries it; IPv4's in the
    /// first 4 bytes, zeros after).
    pub addr: [u8; 16],
    /// `rtmsg.rtm_type`: `RTN_LOCAL` (2), `RTN_BROADCAST` (3), ...
    pub kind: u8,
}

/// `sizeof(struct rtmsg)`, `RTA_DST`, `RTA_TABLE`, `RT_TABLE_LOCAL`.
const RTMSG_LEN: usize = 12;
const RTA_DST: u16 = 1;
const RTA_TABLE: u16 = 15;
const RT_TABLE_LOCAL: u32 = 255;

/// The IPv4 and IPv6 routes of the calling thread's namespace's local
/// tables, sorted; one per prefix (the first the kernel lists, which its
/// lookup takes too).
///
/// # Errors
/// When the netlink socket cannot be opened or the dump fails.
pub fn local_routes() -> io::Result<Vec<LocalRoute>> {
    use firewall_common::check::addrtype::{FAMILY4, FAMILY6};
    let mut out: Vec<LocalRoute> = Vec::new();
    for (af, family, bits) in [
        (libc::AF_INET, FAMILY4, 32usize),
        (libc::AF_INET6, FAMILY6, 128),
    ] {
        let mut rtmsg = [0u8; RTMSG_LEN];
        rtmsg[0] = af as u8;
        for (t, msg) in dump(libc::NETLINK_ROUTE, libc::RTM_GETROUTE, &rtmsg)? {
            if t != libc::RTM_NEWROUTE || msg.len() < RTMSG_LEN || msg[0] != af as u8 {
                continue;
            }
            let mut table = u32::from(msg[4]);
            let mut addr = [0u8; 16];
            for (ty, v) in attrs(&msg[RTMSG_LEN..]) {
                match ty {
                    RTA_DST if v.len() >= bits / 8 => {
                        addr[..bits / 8].copy_from_slice(&v[..bits / 8])
                    }
                    RTA_TABLE if v.len() >= 4 => table = u32_at(v, 0),
                    // Attributes fw does not use.
                    _ => {}
                }
            }
            if table == RT_TABLE_LOCAL && usize::from(msg[1]) <= bits {
                let r = LocalRoute {
                    family,
                    len: msg[1],
                    addr,
                    kind: msg[7],
                };
                if !out
                    .iter()
                    .any(|o| (o.family, o.len, o.addr) == (r.family, r.len, r.addr))
                {
                    out.push(r);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A NUL-terminated string attribute.
pub(crate) fn c_string(v: &[u8]) -> String {
    String::from_utf8_lossy(v)
        .trim_end_matches('\0')
        .to_string()
}

/// One BPF filter of a clsact qdisc (cls_bpf, `tc filter show dev D
/// ingress|egress`), as `RTM_GETTFILTER` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcFilter {
    /// The interface's index.
    pub ifindex: u32,
    /// `tcm_parent`: [`CLSACT_INGRESS`] or [`CLSACT_EGRESS`].
    pub parent: u32,
    /// `tcm_info`: the priority (`pref`, high 16 bits) and the protocol
    /// (network order, low 16 bits).
    pub info: u32,
    /// `tcm_handle`.
    pub handle: u32,
    /// `TCA_BPF_ID`: the id of the program the filter runs.
    pub prog_id: u32,
}

impl TcFilter {
    /// The filter's priority (`tc filter show`'s `pref`).
    pub fn pref(&self) -> u16 {
        (self.info >> 16) as u16
    }

    /// fw's name of the hook ([`super::attach::HOOKS`]): `tcin` at
    /// ingress, `tc` at egress.
    pub fn hook(&self) -> &'static str {
        if self.parent == CLSACT_INGRESS {
            "tcin"
        } else {
            "tc"
        }
    }
}

/// clsact's ingress and egress parents, `TC_H_MAKE(TC_H_CLSACT,
/// TC_H_MIN_INGRESS)` and `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)`
/// (`<linux/pkt_sched.h>`).
pub const CLSACT_INGRESS: u32 = 0xffff_fff2;
pub const CLSACT_EGRESS: u32 = 0xffff_fff3;
/// `sizeof(struct tcmsg)`, `RTM_*TFILTER`, `TCA_OPTIONS`, `TCA_BPF_ID`
/// (`<linux/rtnetlink.h>`, `<linux/pkt_cls.h>`).
const TCMSG_LEN: usize = 20;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_GETTFILTER: u16 = 46;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_ID: u16 = 11;

/// `struct tcmsg`: family AF_UNSPEC, then ifindex, handle, parent, info.
fn tcmsg(ifindex: u32, handle: u32, parent: u32, info: u32) -> [u8; TCMSG_LEN] {
    let mut m = [0u8; TCMSG_LEN];
    m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    m[8..12].copy_from_slice(&handle.to_ne_bytes());
    m[12..16].copy_from_slice(&parent.to_ne_bytes());
    m[16..20].copy_from_slice(&info.to_ne_bytes());
    m
}

/// The BPF filters at `parent` of interface `ifindex`'s clsact qdisc;
/// none when it has no clsact qdisc.
///
/// # Errors
/// When the netlink socket cannot be opened or the dump fails (other
/// than for a missing qdisc or interface).
pub fn tc_filters(ifindex: u32, parent: u32) -> io::Result<Vec<TcFilter>> {
    let answers = match dump(
        libc::NETLINK_ROUTE,
        RTM_GETTFILTER,
        &tcmsg(ifindex, 0, parent, 0),
    ) {
        Ok(a) => a,
        // No clsact qdisc (EINVAL), or the interface went away.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::ENODEV | libc::ENOENT)
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    Ok(answers
        .iter()
        .filter(|(t, m)| *t == RTM_NEWTFILTER && m.len() >= TCMSG_LEN)
        .filter_map(|(_, m)| {
            // A priority's head message has no options and no program.
            let prog_id = attrs(&m[TCMSG_LEN..])
                .into_iter()
                .filter(|(ty, _)| *ty == TCA_OPTIONS)
                .flat_map(|(_, v)| attrs(v))
                .find(|(ty, v)| *ty == TCA_BPF_ID && v.len() >= 4)
                .map(|(_, v)| u32_at(v, 0))?;
            Some(TcFilter {
                ifindex: u32_at(m, 4),
                handle: u32_at(m, 8),
                parent: u32_at(m, 12),
                info: u32_at(m, 16),
                prog_id,
            })
        })
        .collect())
}

/// Deletes filter `f` (`tc filter del dev D parent P pref N handle H
/// bpf`).
///
/// # Errors
/// The kernel's errno (ENOENT: it is gone already).
pub fn delete_tc_filter(f: &TcFilter) -> io::Result<()> {
    exchange(
        libc::NETLINK_ROUTE,
        RTM_DELTFILTER,
        libc::NLM_F_ACK as u16,
        &tcmsg(f.ifindex, f.handle, f.parent, f.info),
    )
    .map(|_| ())
}
