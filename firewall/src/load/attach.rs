//! Attaching the programs to the namespace's interfaces: XDP (INPUT) and
//! TCX egress (OUTPUT) on every interface, lo included, with each link
//! pinned so it stays attached after `fw` exits.

use std::{ffi::CString, io, os::fd::AsRawFd};

use aya::{
    Ebpf,
    programs::{LinkOrder, SchedClassifier, TcAttach, TcAttachType, Xdp, XdpMode, links::FdLink},
};
use network_interface::{NetworkInterface, NetworkInterfaceConfig};

use aya_obj::programs::XdpAttachType;

use super::{LoadError, PROG_TC, PROG_XDP, pins::Dirs};
use crate::state::Attachment;

/// `ARPHRD_ETHER` and `ARPHRD_LOOPBACK` (`<linux/if_arp.h>`): the link types
/// whose frames start with a 14-byte Ethernet header, which the programs
/// parse.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;

/// An interface of the current namespace.
#[derive(Clone, Debug)]
pub struct Interface {
    /// Interface name (at most 15 bytes, IFNAMSIZ - 1).
    pub name: String,
    /// Interface index in this namespace.
    pub index: u32,
    /// `ARPHRD_*` link type.
    pub link_type: u16,
}

impl Interface {
    /// Whether fw's programs can parse this interface's frames.
    pub fn is_ethernet(&self) -> bool {
        matches!(self.link_type, ARPHRD_ETHER | ARPHRD_LOOPBACK)
    }
}

fn link_type(name: &str) -> io::Result<u16> {
    // SAFETY: plain socket(2), closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is the socket just opened, owned by nothing else.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; the name fits (IFNAMSIZ checked).
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= ifr.ifr_name.len() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR fills ifr_hwaddr of our ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR set ifr_hwaddr, the union's member read here.
    Ok(unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_family })
}

/// Every interface of the calling thread's namespace, sorted by index.
///
/// # Errors
/// [`LoadError::Interfaces`] when the list or a link type cannot be read.
pub fn interfaces() -> Result<Vec<Interface>, LoadError> {
    let mut out = Vec::new();
    for i in NetworkInterface::show().map_err(|e| LoadError::Interfaces(e.to_string()))? {
        let link_type =
            link_type(&i.name).map_err(|e| LoadError::Interfaces(format!("{}: {e}", i.name)))?;
        out.push(Interface {
            name: i.name,
            index: i.index,
            link_type,
        });
    }
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

/// Attaches `xdp` and `tc` to `iface` and pins both links. XDP runs in
/// native (driver) mode where the driver has it, else in generic mode
/// (lo, for one).
///
/// # Errors
/// [`LoadError::Attach`] or [`LoadError::Pin`]; a link attached before the
/// error stays pinned.
fn attach_one(
    xdp: &mut Xdp,
    tc: &mut SchedClassifier,
    iface: &Interface,
    dirs: &Dirs,
) -> Result<Attachment, LoadError> {
    let attach_err = |source| LoadError::Attach {
        ifname: iface.name.clone(),
        source,
    };
    let (id, mode) = match xdp.attach(iface.index, XdpMode::Driver) {
        Ok(id) => (id, "native"),
        Err(_) => (
            xdp.attach(iface.index, XdpMode::Skb).map_err(attach_err)?,
            "generic",
        ),
    };
    let link: FdLink = xdp
        .take_link(id)
        .map_err(attach_err)?
        .try_into()
        .map_err(|e| attach_err(aya::programs::ProgramError::from(e)))?;
    let path = dirs.link("xdp", &iface.name);
    link.pin(&path)
        .map_err(|source| LoadError::Pin { path, source })?;
    let id = tc
        .attach(
            iface.index,
            TcAttach::Tcx {
                attach_type: TcAttachType::Egress,
                order: LinkOrder::default(),
            },
        )
        .map_err(attach_err)?;
    let link: FdLink = tc
        .take_link(id)
        .map_err(attach_err)?
        .try_into()
        .map_err(|e| attach_err(aya::programs::ProgramError::from(e)))?;
    let path = dirs.link("tc", &iface.name);
    link.pin(&path)
        .map_err(|source| LoadError::Pin { path, source })?;
    Ok(Attachment {
        ifname: iface.name.clone(),
        ifindex: iface.index,
        xdp_mode: mode.to_string(),
    })
}

/// Attaches both programs of a freshly loaded `ebpf` to every
/// Ethernet-like interface and pins the links.
///
/// Interfaces of other link types (tun, WireGuard, ...) are returned in
/// the second list, unattached: their frames have no Ethernet header.
///
/// # Errors
/// As [`attach_one`]; the caller removes the pin directory.
pub fn attach_all(
    ebpf: &mut Ebpf,
    dirs: &Dirs,
) -> Result<(Vec<Attachment>, Vec<Interface>), LoadError> {
    let mut xdp_tc: (Option<&mut Xdp>, Option<&mut SchedClassifier>) = (None, None);
    for (name, prog) in ebpf.programs_mut() {
        match name {
            PROG_XDP => xdp_tc.0 = prog.try_into().ok(),
            PROG_TC => xdp_tc.1 = prog.try_into().ok(),
            _ => {}
        }
    }
    let (Some(xdp), Some(tc)) = xdp_tc else {
        return Err(LoadError::Incomplete(dirs.prog(PROG_XDP)));
    };
    let (ifaces, skipped): (Vec<_>, Vec<_>) =
        interfaces()?.into_iter().partition(Interface::is_ethernet);
    let attached = ifaces
        .iter()
        .map(|i| attach_one(xdp, tc, i, dirs))
        .collect::<Result<_, _>>()?;
    Ok((attached, skipped))
}

/// Detaches and unpins fw's links on interface `ifname` (pinned in `dirs`).
pub fn unlink(dirs: &Dirs, ifname: &str) {
    for hook in ["xdp", "tc"] {
        let path = dirs.link(hook, ifname);
        let _ = super::detach_link(&path);
        let _ = std::fs::remove_file(&path);
    }
}

/// What [`reconcile`] did.
#[derive(Clone, Debug, Default)]
pub struct Reconciled {
    /// The attachments now.
    pub attached: Vec<Attachment>,
    /// Interfaces left unattached for their link type.
    pub skipped: Vec<Interface>,
    /// Interfaces it attached (by name): [`unlink`] them to undo it.
    pub added: Vec<String>,
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
    let (ifaces, skipped): (Vec<_>, Vec<_>) = now.iter().cloned().partition(Interface::is_ethernet);
    let present = |a: &Attachment| {
        ifaces
            .iter()
            .any(|i| i.name == a.ifname && i.index == a.ifindex)
    };
    let mut kept: Vec<Attachment> = Vec::new();
    for a in have {
        if present(a) {
            kept.push(a.clone());
        } else {
            unlink(dirs, &a.ifname);
        }
    }
    let missing: Vec<&Interface> = ifaces
        .iter()
        .filter(|i| {
            !kept
                .iter()
                .any(|a| a.ifname == i.name && a.ifindex == i.index)
        })
        .collect();
    let mut added = Vec::new();
    if !missing.is_empty() {
        let program_err = |name| move |e| LoadError::Program(name, e);
        let mut xdp = Xdp::from_pin(dirs.prog(PROG_XDP), XdpAttachType::Interface)
            .map_err(program_err(PROG_XDP))?;
        let mut tc = SchedClassifier::from_pin(dirs.prog(PROG_TC)).map_err(program_err(PROG_TC))?;
        for i in missing {
            for hook in ["xdp", "tc"] {
                // A recreated interface's old link is defunct; its pin goes.
                let _ = std::fs::remove_file(dirs.link(hook, &i.name));
            }
            match attach_one(&mut xdp, &mut tc, i, dirs) {
                Ok(a) => {
                    added.push(a.ifname.clone());
                    kept.push(a);
                }
                Err(e) => {
                    // A failed change leaves the attachments as they were.
                    for name in added.iter().chain([&i.name]) {
                        unlink(dirs, name);
                    }
                    return Err(e);
                }
            }
        }
    }
    kept.sort_by_key(|a| a.ifindex);
    Ok(Reconciled {
        attached: kept,
        skipped,
        added,
    })
}
