//! Attaching the programs to the namespace's interfaces: XDP (INPUT) and
//! TC egress (OUTPUT) on every Ethernet-like interface, lo included, and
//! TC ingress (REJECT answers, `firewall_common::iface`) on veth; on a
//! device without a link-layer header (tun, WireGuard), which XDP cannot
//! parse, TC ingress (INPUT, FORWARD) and egress (OUTPUT) programs of
//! their own. Each link is pinned so it stays attached after `fw` exits.
//!
//! TC means TCX links where the kernel has TCX (Linux 6.6), else cls_bpf
//! filters on a clsact qdisc ([`TcMechanism`], probed once per process
//! by [`tc_mechanism`]). Such a filter has no link to pin: it stays
//! attached by itself, and fw finds it again by the id of the program it
//! runs ([`fw_filters`]).

use std::{ffi::CString, io, os::fd::AsRawFd as _};

use aya::{
    Ebpf,
    maps::{HashMap, Map, MapData},
    programs::{
        LinkOrder, ProgramError, SchedClassifier, TcAttach, TcAttachType, Xdp, XdpMode,
        links::FdLink,
    },
};

use aya_obj::programs::XdpAttachType;

use firewall_common::{iface, macvlan, maps};

use super::rtnl::{self, CLSACT_EGRESS, CLSACT_INGRESS, TcFilter};
use super::{LoadError, PROG_TC, PROG_TC_IN, PROG_TC_L3, PROG_TC_L3_IN, PROG_XDP, pins::Dirs};
use crate::state::Attachment;
pub use crate::state::{Refused, TcMechanism};

/// `ARPHRD_ETHER` and `ARPHRD_LOOPBACK` (`<linux/if_arp.h>`): the link types
/// whose frames start with a 14-byte Ethernet header, which the programs
/// parse.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
/// `ARPHRD_NONE`: a device whose packets start at the IP header, with
/// the protocol in `skb->protocol` (tun in `IFF_TUN` mode, WireGuard).
const ARPHRD_NONE: u16 = 65534;

/// An interface of the current namespace.
#[derive(Clone, Debug)]
pub struct Interface {
    /// Interface name (at most 15 bytes, IFNAMSIZ - 1).
    pub name: String,
    /// Interface index in this namespace.
    pub index: u32,
    /// `ARPHRD_*` link type.
    pub link_type: u16,
    /// The driver kind (`bridge`, `bond`, `veth`, `vlan`, ...), empty
    /// when rtnetlink names none.
    pub kind: String,
    /// The bridge, bond or team device this one is a port of, if any: its
    /// (name, kind).
    pub master: Option<(String, String)>,
    /// The id of the XDP program attached to it (fw's or another's), 0
    /// when none is.
    pub xdp_prog: u32,
    /// Administratively up (`IFF_UP`): a down interface passes no packet.
    pub up: bool,
    /// The MAC address (6 bytes, as on the wire), if it has one.
    pub mac: Option<[u8; 6]>,
    /// A macvlan's or macvtap's lower device (its index) when that is in
    /// this namespace, and its mode.
    pub macvlan: Option<(u32, MacvlanMode)>,
}

/// A macvlan's mode (`IFLA_MACVLAN_MODE`, `<linux/if_link.h>`), as far
/// as it decides which unicast frames of the lower the upper gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacvlanMode {
    /// private (1), vepa (2), bridge (4), source (16): the frames to its
    /// address (source: the lower's stack drops them as for another
    /// host, and the upper gets copies by source address).
    ByAddress,
    /// passthru (8): every unicast frame.
    Passthru,
}

/// `MACVLAN_MODE_PASSTHRU`.
const MACVLAN_MODE_PASSTHRU: u32 = 8;

/// Masters whose ports fw leaves alone: the stack sees the frames they
/// pass up as arriving on the master (`-i br0`, `-i bond0`), and what the
/// host sends through them leaves by the master's egress first.
const PORT_MASTERS: [&str; 3] = ["bridge", "bond", "team"];

/// Why fw cannot filter an interface ([`Interface::unfilterable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfilterable {
    /// A link type whose header fw's programs cannot parse (ipip's
    /// ARPHRD_TUNNEL, gre, ppp, ...), by its `ARPHRD_*` number.
    LinkType(u16),
    /// An 802.1Q device: its lower device's receive path (VLAN offload,
    /// veth's included) strips the tag before XDP runs, so fw's XDP on
    /// the lower would take its frames for the lower's and they would
    /// meet the ruleset twice (found in `cargo xtask vmtest`,
    /// tests/tests/vm_devices.rs).
    Vlan,
}

impl Unfilterable {
    /// What the interface is: `link type 768`, `a VLAN device`.
    pub fn what(self) -> String {
        match self {
            Unfilterable::LinkType(t) => format!("link type {t}"),
            Unfilterable::Vlan => "a VLAN device".to_string(),
        }
    }

    /// Why fw cannot filter it, as a clause.
    pub fn why(self) -> &'static str {
        match self {
            Unfilterable::LinkType(_) => {
                "fw cannot parse its link-layer header, so its packets would bypass the ruleset"
            }
            Unfilterable::Vlan => {
                "its frames reach fw's XDP on its lower device with the tag already stripped, \
                 so they would meet the ruleset twice, first as the lower's"
            }
        }
    }

    /// The short form `fw status` shows: `fw cannot parse link type 768`.
    pub fn short(self) -> String {
        match self {
            Unfilterable::LinkType(t) => format!("fw cannot parse link type {t}"),
            Unfilterable::Vlan => "fw cannot filter VLAN devices yet".to_string(),
        }
    }
}

impl Interface {
    /// Whether this interface's frames start with an Ethernet header
    /// (XDP's programs parse it).
    pub fn is_ethernet(&self) -> bool {
        matches!(self.link_type, ARPHRD_ETHER | ARPHRD_LOOPBACK)
    }

    /// Whether this interface's packets start at the IP header (no
    /// link-layer header): fw filters it at TCX ingress and egress.
    pub fn is_l3(&self) -> bool {
        self.link_type == ARPHRD_NONE
    }

    /// Whether fw can filter this interface's packets as netfilter does:
    /// an Ethernet-like or an L3 device, but no VLAN device; others are
    /// not filtered, and a ruleset that filters is refused beside one
    /// that is up ([`Interface::unfilterable`]).
    pub fn is_filterable(&self) -> bool {
        self.unfilterable().is_none()
    }

    /// Why fw cannot filter this interface, if it cannot.
    pub fn unfilterable(&self) -> Option<Unfilterable> {
        if self.kind == "vlan" {
            Some(Unfilterable::Vlan)
        } else if self.is_ethernet() || self.is_l3() {
            None
        } else {
            Some(Unfilterable::LinkType(self.link_type))
        }
    }

    /// When this interface is a port of a bridge, bond or team, the
    /// master that fw filters its traffic at: (name, kind).
    pub fn port_of(&self) -> Option<(&str, &str)> {
        self.master
            .as_ref()
            .filter(|(_, kind)| PORT_MASTERS.contains(&kind.as_str()))
            .map(|(n, k)| (n.as_str(), k.as_str()))
    }

    /// Whether fw attaches to this interface: filterable and not a port
    /// of a bridge, bond or team.
    pub fn attachable(&self) -> bool {
        self.is_filterable() && self.port_of().is_none()
    }

    /// Why fw is not attached to a port: `bridge port, filtered at br0`.
    pub fn port_note(&self) -> Option<String> {
        let (name, kind) = self.port_of()?;
        let what = match kind {
            "bridge" => "bridge port",
            "bond" => "bond slave",
            _ => "team port",
        };
        Some(format!("{what}, filtered at {name}"))
    }

    /// Whether XDP must run in generic mode here: a bond's or team's
    /// native XDP runs in its slaves' drivers, which report the slave as
    /// the ingress interface, not the master `-i` names.
    fn generic_only(&self) -> bool {
        matches!(self.kind.as_str(), "bond" | "team" | "bridge")
    }

    /// Whether REJECT answers leave by TCX ingress here: a veth delivers
    /// `XDP_TX` frames only while its peer runs NAPI (an XDP program of
    /// its own), which fw cannot count on. Elsewhere `XDP_TX` sends them
    /// without an skb.
    pub fn answers_at_tc_ingress(&self) -> bool {
        self.kind == "veth"
    }
}

/// The hooks' links pinned per interface: XDP, TCX egress, TCX ingress.
pub const HOOKS: [&str; 3] = ["xdp", "tc", "tcin"];

/// [`Attachment::xdp_mode`] of a device without a link-layer header:
/// no XDP, its input is filtered at TCX ingress.
pub const XDP_NONE: &str = "none";

/// The programs attached to each interface, and `IFACES`, which tells the
/// XDP program how answers leave it.
pub struct Programs<'a> {
    xdp: &'a mut Xdp,
    tc: &'a mut SchedClassifier,
    tc_in: &'a mut SchedClassifier,
    /// The programs of devices without a link-layer header: TCX egress
    /// and ingress; `None` when no such device is to be attached (they
    /// are loaded only then: [`super::PROGRAMS_L3`]).
    tc_l3: Option<&'a mut SchedClassifier>,
    tc_l3_in: Option<&'a mut SchedClassifier>,
    ifaces: HashMap<MapData, u32, u32>,
}

/// `IFACES`, opened from its pin in `dirs`, without the entries of
/// interfaces no longer in `now` (so that it never fills up as veths
/// come and go).
fn ifaces_map(dirs: &Dirs, now: &[Interface]) -> Result<HashMap<MapData, u32, u32>, LoadError> {
    let path = dirs.map(maps::IFACES);
    let data = MapData::from_pin(&path).map_err(|_| LoadError::Incomplete(path))?;
    let mut map =
        HashMap::try_from(Map::HashMap(data)).map_err(|e| LoadError::Map(maps::IFACES, e))?;
    let stale: Vec<u32> = map
        .keys()
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|e| LoadError::Map(maps::IFACES, e))?
        .into_iter()
        .filter(|k| !now.iter().any(|i| i.index == *k))
        .collect();
    for k in stale {
        forget(&mut map, k)?;
    }
    Ok(map)
}

/// Removes interface `ifindex`'s entry from `IFACES`, if it has one.
fn forget(map: &mut HashMap<MapData, u32, u32>, ifindex: u32) -> Result<(), LoadError> {
    match map.remove(&ifindex) {
        Ok(()) => Ok(()),
        Err(aya::maps::MapError::SyscallError(e))
            if e.io_error.raw_os_error() == Some(libc::ENOENT) =>
        {
            Ok(())
        }
        Err(e) => Err(LoadError::Map(maps::IFACES, e)),
    }
}

/// The errno of the `io::Error` somewhere in `e`'s chain of sources (a
/// program's or a qdisc change's error).
fn errno_of(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    use aya::{programs::tc::TcError, sys::NetlinkError};
    // aya's netlink errors are `#[error(transparent)]`: their io::Error
    // is not in the chain of sources, only behind `raw_os_error`.
    let netlink = |c: &(dyn std::error::Error + 'static)| match c.downcast_ref::<ProgramError>() {
        Some(ProgramError::NetlinkError(n) | ProgramError::TcError(TcError::NetlinkError(n))) => {
            n.raw_os_error()
        }
        _ => match c.downcast_ref::<TcError>() {
            Some(TcError::NetlinkError(n)) => n.raw_os_error(),
            _ => c
                .downcast_ref::<NetlinkError>()
                .and_then(NetlinkError::raw_os_error),
        },
    };
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<io::Error>()
            && let Some(n) = io.raw_os_error()
        {
            return Some(n);
        }
        if let Some(n) = netlink(c) {
            return Some(n);
        }
        cur = c.source();
    }
    None
}

/// The likely reason the kernel refused to attach the `hook` program
/// with errno `errno`.
pub fn attach_reason(hook: &str, errno: i32) -> &'static str {
    match (hook, errno) {
        ("xdp", libc::EEXIST) => {
            "an upper device of this interface (a bridge, bond, vlan or macvlan \
             over it) already has an XDP program, or another XDP program is attached here"
        }
        ("xdp", libc::EBUSY) => "another XDP program is attached to this interface",
        ("xdp", libc::EOPNOTSUPP) => "the driver does not support XDP in this mode",
        ("xdp", libc::EINVAL) => "the interface's MTU or configuration does not allow XDP",
        (_, libc::EPERM | libc::EACCES) => "fw needs CAP_NET_ADMIN and CAP_BPF",
        (_, libc::ENODEV) => "the interface went away",
        (_, libc::EEXIST) => "another program of fw is already attached here",
        (_, libc::EINVAL) => "the kernel lacks TCX (Linux 6.6)",
        _ => "",
    }
}

/// Every interface of the calling thread's namespace, sorted by index:
/// the rtnetlink link dump, which has each link whether or not it has an
/// address (getifaddrs' address list left out a tun or a veth with none,
/// which then went unattached and unchecked).
///
/// # Errors
/// [`LoadError::Interfaces`] when the dump cannot be read.
pub fn interfaces() -> Result<Vec<Interface>, LoadError> {
    let links =
        super::rtnl::links().map_err(|e| LoadError::Interfaces(format!("rtnetlink: {e}")))?;
    let mut out: Vec<Interface> = links
        .iter()
        .map(|(&index, info)| {
            let master = info.master.and_then(|m| {
                let up = links.get(&m)?;
                Some((up.name.clone(), up.kind.clone()))
            });
            Interface {
                name: info.name.clone(),
                index,
                link_type: info.link_type,
                kind: info.kind.clone(),
                master,
                xdp_prog: info.xdp_prog,
                up: info.up,
                mac: info.mac,
                macvlan: info.macvlan_mode.and_then(|mode| {
                    let mode = if mode == MACVLAN_MODE_PASSTHRU {
                        MacvlanMode::Passthru
                    } else {
                        MacvlanMode::ByAddress
                    };
                    info.link.map(|lower| (lower, mode))
                }),
            }
        })
        .collect();
    out.sort_by_key(|i| i.index);
    Ok(out)
}

/// The index of interface `name` in the current namespace, if it exists.
pub fn ifindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is NUL-terminated.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The [`LoadError::Attach`] of attaching the `hook` program to `iface`.
fn attach_error(iface: &Interface, hook: &'static str) -> impl Fn(ProgramError) -> LoadError {
    move |source: ProgramError| LoadError::Attach {
        ifname: iface.name.clone(),
        hook,
        errno: errno_of(&source),
        source: Box::new(source),
    }
}

/// Set `FW_TC_ATTACH=clsact` to make fw use clsact filters even where the
/// kernel has TCX (the tests of the fallback run on any kernel that way);
/// `tcx` forces TCX.
pub const TC_ATTACH_ENV: &str = "FW_TC_ATTACH";

/// How this kernel takes fw's TC programs: [`TcMechanism::Tcx`] when a
/// TCX query (`BPF_PROG_QUERY` with `BPF_TCX_INGRESS`, on `lo`) succeeds,
/// else [`TcMechanism::Clsact`] (a kernel before 6.6 refuses the attach
/// type with EINVAL). Probed once per process; [`TC_ATTACH_ENV`]
/// overrides it.
pub fn tc_mechanism() -> TcMechanism {
    static PROBED: std::sync::OnceLock<TcMechanism> = std::sync::OnceLock::new();
    *PROBED.get_or_init(|| match std::env::var(TC_ATTACH_ENV).as_deref() {
        Ok("clsact") => TcMechanism::Clsact,
        Ok("tcx") => TcMechanism::Tcx,
        _ => match SchedClassifier::query_tcx(LOOPBACK, TcAttachType::Ingress) {
            Ok(_) => TcMechanism::Tcx,
            Err(_) => TcMechanism::Clsact,
        },
    })
}

/// `LOOPBACK_IFINDEX`: every namespace's `lo`.
const LOOPBACK: u32 = 1;

/// The clsact filters on interface `ifindex` that run one of `progs`
/// (program ids; 0 is no program), at both parents: fw's own.
///
/// # Errors
/// As [`rtnl::tc_filters`].
pub fn fw_filters(ifindex: u32, progs: &[u32]) -> io::Result<Vec<TcFilter>> {
    let mut out = rtnl::tc_filters(ifindex, CLSACT_EGRESS)?;
    out.extend(rtnl::tc_filters(ifindex, CLSACT_INGRESS)?);
    out.retain(|f| f.prog_id != 0 && progs.contains(&f.prog_id));
    Ok(out)
}

/// Deletes fw's clsact filters (those running one of `progs`) on
/// interface `ifindex`; best effort, as unpinning a link is.
pub fn remove_filters(ifindex: u32, progs: &[u32]) {
    for f in fw_filters(ifindex, progs).unwrap_or_default() {
        let _ = rtnl::delete_tc_filter(&f);
    }
}

/// The id of `prog` (0 when the kernel does not say).
fn prog_id(prog: &SchedClassifier) -> u32 {
    prog.info().map_or(0, |i| i.id())
}

/// Attaches `prog` at TC `at` (egress: `tc`, ingress: `tcin`) of `iface`
/// as [`tc_mechanism`] says: a TCX link, pinned, or a clsact filter (the
/// qdisc added if it has none), which stays attached without a pin.
///
/// # Errors
/// [`LoadError::Attach`] or [`LoadError::Pin`].
fn attach_tc(
    prog: &mut SchedClassifier,
    at: TcAttachType,
    iface: &Interface,
    dirs: &Dirs,
) -> Result<(), LoadError> {
    let hook = match at {
        TcAttachType::Ingress => "tcin",
        TcAttachType::Egress => "tc",
    };
    let err = attach_error(iface, hook);
    if tc_mechanism() == TcMechanism::Clsact {
        match aya::programs::tc::qdisc_add_clsact(iface.index) {
            Ok(()) => {}
            // It has one already (fw's of an earlier attach, or tc's).
            Err(e) if errno_of(&e) == Some(libc::EEXIST) => {}
            Err(e) => return Err(err(ProgramError::from(e))),
        }
        // A filter of this program left from an earlier attach (a
        // recreated record) would run it twice: deleted once the new one
        // is in, so that no packet passes between the two.
        let old = fw_filters(iface.index, &[prog_id(prog)]).unwrap_or_default();
        let link = prog
            .attach(
                iface.index,
                TcAttach::Netlink {
                    parent: at.into(),
                    options: aya::programs::tc::NlOptions::default(),
                },
            )
            .map_err(&err)?;
        // Dropping the link would delete the filter: it is to stay.
        std::mem::forget(prog.take_link(link).map_err(&err)?);
        for f in &old {
            let _ = rtnl::delete_tc_filter(f);
        }
        return Ok(());
    }
    let id = prog
        .attach(
            iface.index,
            TcAttach::Tcx {
                attach_type: at,
                order: LinkOrder::default(),
            },
        )
        .map_err(&err)?;
    let link: FdLink = prog
        .take_link(id)
        .map_err(&err)?
        .try_into()
        .map_err(|e| err(ProgramError::from(e)))?;
    let path = dirs.link(hook, &iface.name);
    link.pin(&path)
        .map_err(|source| LoadError::Pin { path, source })?;
    Ok(())
}

/// Attaches `xdp` and `tc` to `iface` and pins both links (and `tc_in`
/// on veth, [`Interface::answers_at_tc_ingress`]). XDP runs in
/// native (driver) mode where the driver has it, else in generic mode
/// (lo, for one).
///
/// # Errors
/// [`LoadError::Attach`] or [`LoadError::Pin`]; a link attached before the
/// error stays pinned.
fn attach_one(p: &mut Programs, iface: &Interface, dirs: &Dirs) -> Result<Attachment, LoadError> {
    if iface.is_l3() {
        let (Some(tc_l3_in), Some(tc_l3)) = (p.tc_l3_in.as_deref_mut(), p.tc_l3.as_deref_mut())
        else {
            // The callers load them whenever an L3 device is to be attached.
            return Err(LoadError::Incomplete(dirs.prog(PROG_TC_L3)));
        };
        // Ingress first: an L3 device filtered on output only would pass
        // what arrives unfiltered, the worse half.
        attach_tc(tc_l3_in, TcAttachType::Ingress, iface, dirs)?;
        attach_tc(tc_l3, TcAttachType::Egress, iface, dirs)?;
        forget(&mut p.ifaces, iface.index)?;
        return Ok(Attachment {
            ifname: iface.name.clone(),
            ifindex: iface.index,
            xdp_mode: XDP_NONE.to_string(),
            tc: tc_mechanism(),
        });
    }
    let (xdp, tc) = (&mut *p.xdp, &mut *p.tc);
    let attach_err = |hook: &'static str| attach_error(iface, hook);
    let native = if iface.generic_only() {
        None
    } else {
        xdp.attach(iface.index, XdpMode::Driver).ok()
    };
    let (id, mode) = match native {
        Some(id) => (id, "native"),
        None => (
            xdp.attach(iface.index, XdpMode::Skb)
                .map_err(attach_err("xdp"))?,
            "generic",
        ),
    };
    let link: FdLink = xdp
        .take_link(id)
        .map_err(attach_err("xdp"))?
        .try_into()
        .map_err(|e| attach_err("xdp")(ProgramError::from(e)))?;
    let path = dirs.link("xdp", &iface.name);
    link.pin(&path)
        .map_err(|source| LoadError::Pin { path, source })?;
    attach_tc(tc, TcAttachType::Egress, iface, dirs)?;
    // The flag follows the pinned link: XDP marks answers for TC ingress
    // only once something there sends them. Another interface that had
    // this ifindex before leaves no flag behind.
    if iface.answers_at_tc_ingress() {
        attach_tc(p.tc_in, TcAttachType::Ingress, iface, dirs)?;
        p.ifaces
            .insert(&iface.index, &iface::ANSWER_AT_TC_INGRESS, 0)
            .map_err(|e| LoadError::Map(maps::IFACES, e))?;
    } else {
        forget(&mut p.ifaces, iface.index)?;
    }
    Ok(Attachment {
        ifname: iface.name.clone(),
        ifindex: iface.index,
        xdp_mode: mode.to_string(),
        tc: tc_mechanism(),
    })
}

/// Attaches to `iface` as [`attach_one`]; an XDP attach the kernel
/// refuses with EEXIST (an upper device already has XDP: a vlan or
/// macvlan over it, or a master fw does not know) is not an error but a
/// [`Refused`], with nothing left attached to the interface.
fn attach_or_refuse(
    p: &mut Programs,
    iface: &Interface,
    dirs: &Dirs,
) -> Result<Result<Attachment, Refused>, LoadError> {
    match attach_one(p, iface, dirs) {
        Ok(a) => Ok(Ok(a)),
        Err(LoadError::Attach {
            hook: "xdp",
            errno: Some(libc::EEXIST),
            ..
        }) => {
            unlink(dirs, &iface.name);
            Ok(Err(Refused {
                ifname: iface.name.clone(),
                ifindex: iface.index,
                reason: format!(
                    "the kernel refused XDP (EEXIST: {})",
                    attach_reason("xdp", libc::EEXIST)
                ),
            }))
        }
        Err(e) => {
            unlink(dirs, &iface.name);
            Err(e)
        }
    }
}

/// Detaches any link of fw still pinned for a port (of a bridge, bond or
/// team) among `now`: the interface became a port since fw attached.
fn unlink_ports(dirs: &Dirs, now: &[Interface]) {
    for i in now.iter().filter(|i| i.port_of().is_some()) {
        unlink(dirs, &i.name);
    }
}

/// Interfaces in the order fw attaches to them: lower devices (ports,
/// the devices under a vlan or macvlan) before the devices over them, as
/// the kernel refuses XDP on a device whose upper already has it.
fn attach_order(ifaces: &[Interface]) -> Vec<&Interface> {
    let mut v: Vec<&Interface> = ifaces.iter().collect();
    // Uppers made by stacking: vlan, macvlan, ipvlan and the masters.
    let rank = |i: &Interface| match i.kind.as_str() {
        "bridge" | "bond" | "team" | "vrf" => 2,
        "vlan" | "macvlan" | "macvtap" | "ipvlan" | "ipvtap" => 1,
        _ => 0,
    };
    v.sort_by_key(|i| (rank(i), i.index));
    v
}

/// The pinned programs of devices without a link-layer header, loaded
/// first if need be ([`super::load_l3`]); `None` unless `needed`.
///
/// # Errors
/// As [`super::load_l3`]; [`LoadError::Program`] when a pin cannot be
/// opened.
#[allow(clippy::type_complexity)]
fn l3_programs(
    dirs: &Dirs,
    needed: bool,
) -> Result<(Option<SchedClassifier>, Option<SchedClassifier>), LoadError> {
    if !needed {
        return Ok((None, None));
    }
    super::load_l3(dirs)?;
    let open = |name: &'static str| {
        SchedClassifier::from_pin(dirs.prog(name)).map_err(|e| LoadError::Program(name, e))
    };
    Ok((Some(open(PROG_TC_L3)?), Some(open(PROG_TC_L3_IN)?)))
}

/// Attaches both programs of a freshly loaded `ebpf` to every
/// Ethernet-like interface and pins the links.
///
/// Interfaces of other link types (tun, WireGuard, ...) are returned in
/// `skipped`, unattached: their frames have no Ethernet header. Ports of
/// a bridge, bond or team are left alone (fw filters at the master), and
/// interfaces the kernel refuses XDP on with EEXIST are in `refused`.
///
/// # Errors
/// As [`attach_one`]; the caller removes the pin directory.
pub fn attach_all(ebpf: &mut Ebpf, dirs: &Dirs) -> Result<Reconciled, LoadError> {
    let now = interfaces()?;
    let (mut tc_l3, mut tc_l3_in) = l3_programs(dirs, now.iter().any(Interface::is_l3))?;
    let (mut xdp, mut tc, mut tc_in) = (None, None, None);
    for (name, prog) in ebpf.programs_mut() {
        match name {
            PROG_XDP => xdp = prog.try_into().ok(),
            PROG_TC => tc = prog.try_into().ok(),
            PROG_TC_IN => tc_in = prog.try_into().ok(),
            // From their pins ([`l3_programs`]).
            PROG_TC_L3 | PROG_TC_L3_IN => {}
            // Programs are only ever added with their attach code.
            other => return Err(LoadError::Object(format!("unknown program {other}"))),
        }
    }
    let (Some(xdp), Some(tc), Some(tc_in)) = (xdp, tc, tc_in) else {
        return Err(LoadError::Incomplete(dirs.prog(PROG_XDP)));
    };
    let mut p = Programs {
        xdp,
        tc,
        tc_in,
        tc_l3: tc_l3.as_mut(),
        tc_l3_in: tc_l3_in.as_mut(),
        ifaces: ifaces_map(dirs, &now)?,
    };
    let skipped = now.iter().filter(|i| !i.is_filterable()).cloned().collect();
    let now_all = now.clone();
    let ifaces: Vec<Interface> = now.into_iter().filter(Interface::attachable).collect();
    let mut attached = Vec::new();
    let mut refused = Vec::new();
    for i in attach_order(&ifaces) {
        match attach_or_refuse(&mut p, i, dirs)? {
            Ok(a) => attached.push(a),
            Err(r) => refused.push(r),
        }
    }
    attached.sort_by_key(|a: &Attachment| a.ifindex);
    sync_macvlans(dirs, &now_all, &attached)?;
    Ok(Reconciled {
        added: attached.iter().map(|a| a.ifname.clone()).collect(),
        attached,
        skipped,
        refused,
    })
}

/// Detaches and unpins fw's links on interface `ifname` (pinned in
/// `dirs`), and deletes its clsact filters of fw's programs.
pub fn unlink(dirs: &Dirs, ifname: &str) {
    for hook in HOOKS {
        let path = dirs.link(hook, ifname);
        let _ = super::detach_link(&path);
        let _ = std::fs::remove_file(&path);
    }
    if let Some(index) = ifindex(ifname) {
        remove_filters(index, &super::tc_program_ids(dirs));
    }
}

/// How many TC hooks fw attaches on `i`: egress, and ingress on veth
/// (REJECT's answers) and on L3 devices (INPUT).
fn tc_hooks(i: &Interface) -> usize {
    if i.is_l3() || i.answers_at_tc_ingress() {
        2
    } else {
        1
    }
}

/// Re-adds those of `iface`'s clsact filters that are gone.
///
/// # Errors
/// As [`attach_tc`].
fn repair_tc(p: &mut Programs, iface: &Interface, dirs: &Dirs) -> Result<(), LoadError> {
    let one = |prog: &mut SchedClassifier, at: TcAttachType| {
        let parent = match at {
            TcAttachType::Ingress => CLSACT_INGRESS,
            TcAttachType::Egress => CLSACT_EGRESS,
        };
        let id = prog_id(prog);
        let there = rtnl::tc_filters(iface.index, parent)
            .is_ok_and(|fs| fs.iter().any(|f| f.prog_id == id));
        if there {
            Ok(())
        } else {
            attach_tc(prog, at, iface, dirs)
        }
    };
    if iface.is_l3() {
        let (Some(tc_l3_in), Some(tc_l3)) = (p.tc_l3_in.as_deref_mut(), p.tc_l3.as_deref_mut())
        else {
            return Err(LoadError::Incomplete(dirs.prog(PROG_TC_L3)));
        };
        one(tc_l3_in, TcAttachType::Ingress)?;
        return one(tc_l3, TcAttachType::Egress);
    }
    one(p.tc, TcAttachType::Egress)?;
    if iface.answers_at_tc_ingress() {
        one(p.tc_in, TcAttachType::Ingress)?;
    }
    Ok(())
}

/// What [`reconcile`] did.
#[derive(Clone, Debug, Default)]
pub struct Reconciled {
    /// The attachments now.
    pub attached: Vec<Attachment>,
    /// Interfaces left unattached for their link type (neither
    /// Ethernet-like nor L3, [`Interface::is_filterable`]).
    pub skipped: Vec<Interface>,
    /// Interfaces it attached (by name): [`unlink`] them to undo it.
    pub added: Vec<String>,
    /// Interfaces the kernel refused XDP on (EEXIST), left unattached.
    pub refused: Vec<Refused>,
}

/// Brings the attachments in line with the namespace's interfaces `now`
/// (as [`interfaces`] lists them): interfaces created since are attached, links of interfaces
/// that are gone (or were recreated or renamed) are removed. Takes the
/// programs from their pins.
///
/// # Errors
/// As [`attach_one`], or [`LoadError::Program`] when a pinned program
/// cannot be opened; the links it attached are detached again then.
pub fn reconcile(
    have: &[Attachment],
    now: &[Interface],
    dirs: &Dirs,
) -> Result<Reconciled, LoadError> {
    let skipped: Vec<Interface> = now.iter().filter(|i| !i.is_filterable()).cloned().collect();
    let ifaces: Vec<Interface> = now.iter().filter(|i| i.attachable()).cloned().collect();
    let present = |a: &Attachment| {
        ifaces
            .iter()
            .any(|i| i.name == a.ifname && i.index == a.ifindex)
    };
    // An interface that became a port of a bridge (or bond) is detached
    // first: the kernel refuses XDP under a master that has it, and the
    // master sees what the stack sees.
    unlink_ports(dirs, now);
    let mut kept: Vec<Attachment> = Vec::new();
    for a in have {
        if present(a) {
            kept.push(a.clone());
        } else {
            unlink(dirs, &a.ifname);
        }
    }
    let missing: Vec<&Interface> = attach_order(&ifaces)
        .into_iter()
        .filter(|i| {
            !kept
                .iter()
                .any(|a| a.ifname == i.name && a.ifindex == i.index)
        })
        .collect();
    // Kept interfaces whose clsact filters are gone (`tc qdisc del ...
    // clsact` takes them along, and nothing tells fw): re-added below.
    // Program ids are read only where some attachment is by clsact.
    let tc_ids = if kept.iter().any(|a| a.tc == TcMechanism::Clsact) {
        super::tc_program_ids(dirs)
    } else {
        Vec::new()
    };
    let repair: Vec<&Interface> = ifaces
        .iter()
        .filter(|i| {
            kept.iter()
                .any(|a| a.ifindex == i.index && a.ifname == i.name && a.tc == TcMechanism::Clsact)
                && fw_filters(i.index, &tc_ids).map_or(0, |f| f.len()) < tc_hooks(i)
        })
        .collect();
    let mut added = Vec::new();
    let mut refused = Vec::new();
    if !missing.is_empty() || !repair.is_empty() {
        let program_err = |name| move |e| LoadError::Program(name, e);
        let mut xdp = Xdp::from_pin(dirs.prog(PROG_XDP), XdpAttachType::Interface)
            .map_err(program_err(PROG_XDP))?;
        let mut tc = SchedClassifier::from_pin(dirs.prog(PROG_TC)).map_err(program_err(PROG_TC))?;
        let mut tc_in =
            SchedClassifier::from_pin(dirs.prog(PROG_TC_IN)).map_err(program_err(PROG_TC_IN))?;
        let (mut tc_l3, mut tc_l3_in) =
            l3_programs(dirs, missing.iter().chain(&repair).any(|i| i.is_l3()))?;
        let mut p = Programs {
            xdp: &mut xdp,
            tc: &mut tc,
            tc_in: &mut tc_in,
            tc_l3: tc_l3.as_mut(),
            tc_l3_in: tc_l3_in.as_mut(),
            ifaces: ifaces_map(dirs, now)?,
        };
        for i in &repair {
            repair_tc(&mut p, i, dirs)?;
        }
        for i in missing {
            for hook in HOOKS {
                // A recreated interface's old link is defunct; its pin goes.
                let _ = std::fs::remove_file(dirs.link(hook, &i.name));
            }
            match attach_or_refuse(&mut p, i, dirs) {
                Ok(Ok(a)) => {
                    added.push(a.ifname.clone());
                    kept.push(a);
                }
                Ok(Err(r)) => refused.push(r),
                Err(e) => {
                    // A failed change leaves no link of its own behind.
                    for name in &added {
                        unlink(dirs, name);
                    }
                    return Err(e);
                }
            }
        }
    }
    kept.sort_by_key(|a| a.ifindex);
    if let Err(e) = sync_macvlans(dirs, now, &kept) {
        for name in &added {
            unlink(dirs, name);
        }
        return Err(e);
    }
    Ok(Reconciled {
        attached: kept,
        skipped,
        added,
        refused,
    })
}

/// What `MACVLANS` should hold for the namespace's interfaces `now` of
/// which fw is `attached` to: an entry per macvlan (or macvtap) upper
/// whose lower is in this namespace, when fw is attached to both (a frame
/// passes the lower only where the upper filters it).
fn macvlan_entries(now: &[Interface], attached: &[Attachment]) -> Vec<(macvlan::Key, u32)> {
    let on = |index: u32| {
        now.iter().any(|i| {
            i.index == index
                && attached
                    .iter()
                    .any(|a| a.ifindex == i.index && a.ifname == i.name)
        })
    };
    now.iter()
        .filter_map(|up| {
            let (lower, mode) = up.macvlan?;
            let mac = match mode {
                MacvlanMode::ByAddress => up.mac?,
                MacvlanMode::Passthru => macvlan::ANY,
            };
            (on(up.index) && on(lower)).then_some((
                macvlan::Key {
                    ifindex: lower,
                    mac,
                    pad: [0; 2],
                },
                up.index,
            ))
        })
        .collect()
}

/// The `MACVLANS` entries of macvlans (and macvtaps) in other network
/// namespaces whose lower is one of `lowers` (indexes here): a
/// container's, typically. netfilter here never sees their frames, so
/// they pass whether or not anything filters them there. The namespaces
/// are those of `/run/netns` and of every process; one that cannot be
/// read is left out (its macvlans' frames then meet the lower's rules,
/// as before).
fn foreign_entries(lowers: &[u32]) -> Vec<(macvlan::Key, u32)> {
    use std::os::{fd::AsFd as _, unix::fs::MetadataExt as _};
    let Ok(own) = std::fs::File::open("/proc/thread-self/ns/net") else {
        return Vec::new();
    };
    let Ok(own_meta) = own.metadata() else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::from([(own_meta.dev(), own_meta.ino())]);
    let named = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    let of_processes = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|e| e.path().join("ns/net"));
    let mut out = Vec::new();
    for path in named.chain(of_processes) {
        let Ok(ns) = std::fs::File::open(&path) else {
            continue;
        };
        let Ok(m) = ns.metadata() else { continue };
        if !seen.insert((m.dev(), m.ino())) {
            continue;
        }
        let (ns_fd, own_fd) = (ns.as_fd(), own.as_fd());
        let found = std::thread::scope(|scope| {
            scope
                .spawn(move || -> Option<Vec<(macvlan::Key, u32)>> {
                    // SAFETY: setns(2) on an open namespace file; it moves
                    // only this thread, which ends here.
                    if unsafe { libc::setns(ns_fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return None;
                    }
                    // Links first: dumping one whose lower is in our
                    // namespace gives our namespace an id there if it had
                    // none.
                    let links = super::rtnl::links().ok()?;
                    let here = super::rtnl::nsid(own_fd).ok()??;
                    Some(
                        links
                            .iter()
                            .filter_map(|(&index, l)| {
                                let (nsid, lower) = l.foreign_link?;
                                let mode = l.macvlan_mode?;
                                let mac = if mode == MACVLAN_MODE_PASSTHRU {
                                    macvlan::ANY
                                } else {
                                    l.mac?
                                };
                                (nsid == here && lowers.contains(&lower)).then_some((
                                    macvlan::Key {
                                        ifindex: lower,
                                        mac,
                                        pad: [0; 2],
                                    },
                                    index,
                                ))
                            })
                            .collect(),
                    )
                })
                .join()
                .ok()
                .flatten()
        });
        out.extend(found.unwrap_or_default());
    }
    out
}

/// Makes `MACVLANS` (pinned in `dirs`) hold [`macvlan_entries`] of `now`
/// and `attached` and the [`foreign_entries`] of the lowers fw is
/// attached to, and nothing else; whether it changed anything.
///
/// # Errors
/// [`LoadError::Incomplete`] when the map is not pinned (pins of an
/// older fw), [`LoadError::Map`] when it cannot be read or written.
pub fn sync_macvlans(
    dirs: &Dirs,
    now: &[Interface],
    attached: &[Attachment],
) -> Result<bool, LoadError> {
    let path = dirs.map(maps::MACVLANS);
    let data = MapData::from_pin(&path).map_err(|_| LoadError::Incomplete(path))?;
    let err = |e| LoadError::Map(maps::MACVLANS, e);
    let mut map: HashMap<MapData, macvlan::Key, u32> =
        HashMap::try_from(Map::HashMap(data)).map_err(err)?;
    let mut want = macvlan_entries(now, attached);
    let lowers: Vec<u32> = attached.iter().map(|a| a.ifindex).collect();
    want.extend(foreign_entries(&lowers));
    let have: Vec<(macvlan::Key, u32)> = map.iter().collect::<Result<_, _>>().map_err(err)?;
    let mut changed = false;
    // Stale entries first: one left for a MAC now on another device
    // would let that device's frames by unfiltered.
    for (k, _) in have.iter().filter(|e| !want.contains(e)) {
        match map.remove(k) {
            Ok(()) => {}
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(err(e)),
        }
        changed = true;
    }
    for (k, v) in want.iter().filter(|e| !have.contains(e)) {
        map.insert(k, v, 0).map_err(err)?;
        changed = true;
    }
    Ok(changed)
}

/// `/proc/sys/net/bridge/bridge-nf-call-iptables` is 1 (br_netfilter is
/// loaded and on, as Docker sets it): iptables then also filters frames
/// a bridge switches between its ports, which fw does not see.
pub fn br_netfilter_on() -> bool {
    std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables")
        .is_ok_and(|v| v.trim() == "1")
}

/// The warning for [`br_netfilter_on`] when the namespace has a bridge.
pub fn br_netfilter_warning(ifaces: &[Interface]) -> Option<String> {
    let bridges: Vec<&str> = ifaces
        .iter()
        .filter(|i| i.kind == "bridge")
        .map(|i| i.name.as_str())
        .collect();
    (!bridges.is_empty() && br_netfilter_on()).then(|| {
        format!(
            "net.bridge.bridge-nf-call-iptables is 1: iptables would also filter frames \
             switched between the ports of {} in FORWARD (-i/-o the bridge), fw does not \
             see them (they pass unfiltered)",
            bridges.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, index: u32, macvlan: Option<(u32, MacvlanMode)>) -> Interface {
        Interface {
            name: name.into(),
            index,
            link_type: ARPHRD_ETHER,
            kind: if macvlan.is_some() { "macvlan" } else { "veth" }.into(),
            master: None,
            xdp_prog: 0,
            up: true,
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            macvlan,
        }
    }

    fn on(i: &Interface) -> Attachment {
        Attachment {
            ifname: i.name.clone(),
            ifindex: i.index,
            xdp_mode: "generic".into(),
            tc: TcMechanism::Tcx,
        }
    }

    #[test]
    fn macvlans_are_entered_only_while_fw_filters_both_devices() {
        let lower = iface("p1", 2, None);
        let mv = iface("mv0", 3, Some((2, MacvlanMode::ByAddress)));
        let pass = iface("mv1", 4, Some((5, MacvlanMode::Passthru)));
        let lower2 = iface("p2", 5, None);
        let now = [lower.clone(), mv.clone(), pass.clone(), lower2.clone()];
        let key = |ifindex, mac| macvlan::Key {
            ifindex,
            mac,
            pad: [0; 2],
        };
        assert_eq!(
            macvlan_entries(&now, &[on(&lower), on(&mv), on(&pass), on(&lower2)]),
            [(key(2, [2, 0, 0, 0, 0, 3]), 3), (key(5, macvlan::ANY), 4)]
        );
        // The upper unfiltered (not attached yet, or recreated: another
        // index under its name): its frames stay on the lower's rules.
        let mut recreated = on(&mv);
        recreated.ifindex = 9;
        assert_eq!(
            macvlan_entries(&now, &[on(&lower), recreated, on(&lower2)]),
            []
        );
        // No lower of fw's: nothing to pass.
        assert_eq!(macvlan_entries(&now, &[on(&mv), on(&pass)]), []);
    }

    #[test]
    fn an_attach_error_names_the_errno_and_the_likely_reason() {
        let source = ProgramError::SyscallError(aya::sys::SyscallError {
            call: "bpf_link_create",
            io_error: io::Error::from_raw_os_error(libc::EEXIST),
        });
        let e = LoadError::Attach {
            ifname: "p1".into(),
            hook: "xdp",
            errno: errno_of(&source),
            source: Box::new(source),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("attaching XDP to interface p1: "),
            "{text}"
        );
        assert!(text.contains("errno 17"), "{text}");
        assert!(text.contains("upper device"), "{text}");
    }
}
