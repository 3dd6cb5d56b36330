//! `fw set`'s members in the kernel's maps (`firewall_common::check::set`).

use aya::maps::{MapError, lpm_trie::Key};
use std::net::IpAddr;

use firewall_common::{
    check::set::{FAMILY_INET6, LOOKUP_PREFIX, Meta, NetKey, PortKey, net_prefix},
    maps,
};

use super::{Kernel, LoadError, map_err};
use crate::model::set::{Member, SetDef, SetFamily};

/// An address as the maps hold it: 16 bytes, IPv4's in the first 4.
fn wide(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => firewall_common::ct::wide(a.octets()),
        IpAddr::V6(a) => a.octets(),
    }
}

/// [`wide`]'s inverse for a set of `family`.
fn narrow(w: [u8; 16], family: SetFamily) -> IpAddr {
    match family {
        SetFamily::Inet => IpAddr::from([w[0], w[1], w[2], w[3]]),
        SetFamily::Inet6 => IpAddr::from(w),
    }
}

impl Kernel {
    /// Set `id`'s metadata, if the kernel has the set.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be read.
    pub fn set_meta(&self, id: u32) -> Result<Option<Meta>, LoadError> {
        match self.set_meta.get(&id, 0) {
            Ok(m) => Ok(Some(m)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(LoadError::Map(maps::SET_META, e)),
        }
    }

    /// Makes the kernel know set `id` as `def` describes it, keeping its
    /// member count when it has it already.
    ///
    /// # Errors
    /// [`LoadError::Map`] when the map cannot be written (4096 sets).
    pub fn define_set(&mut self, id: u32, def: &SetDef) -> Result<(), LoadError> {
        let count = self.set_meta(id)?.map_or(0, |m| m.count);
        let meta = Meta {
            kind: def.kind.code(),
            family: def.family.code(),
            count,
            maxelem: def.maxelem,
            hashsize: def.hashsize,
        };
        self.set_meta
            .insert(&id, &meta, 0)
            .map_err(map_err(maps::SET_META))
    }

    fn set_count(&mut self, id: u32, count: u32) -> Result<(), LoadError> {
        if let Some(mut m) = self.set_meta(id)? {
            m.count = count;
            self.set_meta
                .insert(&id, &m, 0)
                .map_err(map_err(maps::SET_META))?;
        }
        Ok(())
    }

    fn net_key(id: u32, addr: IpAddr, len: u8) -> Key<NetKey> {
        Key::new(
            net_prefix(u32::from(len)),
            NetKey {
                set: id.to_be_bytes(),
                addr: wide(addr),
            },
        )
    }

    fn port_key(id: u32, addr: IpAddr, proto: u8, port: u16) -> PortKey {
        PortKey {
            set: id,
            addr: wide(addr),
            port,
            proto,
            _pad: 0,
        }
    }

    /// Whether set `id` holds `m` exactly (not: a prefix that covers it).
    ///
    /// # Errors
    /// [`LoadError::Map`].
    pub fn set_has(&self, id: u32, m: &Member) -> Result<bool, LoadError> {
        let r = match *m {
            // The trie answers with the longest prefix holding the key;
            // the member is there when that prefix is its own length.
            Member::Net { addr, len } => self
                .set_nets
                .get(&Self::net_key(id, addr, len), 0)
                .map_err(|e| (maps::SET_NETS, e))
                .and_then(|found| {
                    if found == len {
                        Ok(())
                    } else {
                        Err((maps::SET_NETS, MapError::KeyNotFound))
                    }
                }),
            Member::Port { addr, proto, port } => self
                .set_ports
                .get(&Self::port_key(id, addr, proto, port), 0)
                .map(|_| ())
                .map_err(|e| (maps::SET_PORTS, e)),
        };
        match r {
            Ok(()) => Ok(true),
            Err((_, MapError::KeyNotFound)) => Ok(false),
            Err((name, e)) => Err(LoadError::Map(name, e)),
        }
    }

    /// Whether set `id` (of `net` kind: `hash:ip`, `hash:net`) has a
    /// prefix holding `addr`, as the kernel's lookup answers.
    ///
    /// # Errors
    /// [`LoadError::Map`].
    pub fn set_covers(&self, id: u32, addr: IpAddr) -> Result<bool, LoadError> {
        let key = Key::new(
            LOOKUP_PREFIX,
            NetKey {
                set: id.to_be_bytes(),
                addr: wide(addr),
            },
        );
        match self.set_nets.get(&key, 0) {
            Ok(_) => Ok(true),
            Err(MapError::KeyNotFound) => Ok(false),
            Err(e) => Err(LoadError::Map(maps::SET_NETS, e)),
        }
    }

    /// Adds `members` to set `id`, which has `count` now; those already
    /// there are skipped. Returns how many were added.
    ///
    /// # Errors
    /// [`LoadError::Map`] (the maps are full: every set together holds
    /// at most `firewall_common::check::set::MAX_ENTRIES` of each kind).
    pub fn set_add(&mut self, id: u32, count: u32, members: &[Member]) -> Result<u32, LoadError> {
        let mut added = 0;
        let mut result = Ok(());
        for m in members {
            if self.set_has(id, m)? {
                continue;
            }
            let r = match *m {
                Member::Net { addr, len } => self
                    .set_nets
                    .insert(&Self::net_key(id, addr, len), &len, 0)
                    .map_err(map_err(maps::SET_NETS)),
                Member::Port { addr, proto, port } => self
                    .set_ports
                    .insert(&Self::port_key(id, addr, proto, port), &1, 0)
                    .map_err(map_err(maps::SET_PORTS)),
            };
            if let Err(e) = r {
                result = Err(e);
                break;
            }
            added += 1;
        }
        // The count follows what went in, even when a later insert failed.
        self.set_count(id, count + added)?;
        result.map(|()| added)
    }

    /// Removes `members` from set `id` (which has `count`); those not
    /// there are skipped. Returns how many were removed.
    ///
    /// # Errors
    /// [`LoadError::Map`].
    pub fn set_del(&mut self, id: u32, count: u32, members: &[Member]) -> Result<u32, LoadError> {
        let mut removed = 0;
        for m in members {
            // An LPM trie's delete of a missing key is a plain ENOENT.
            if !self.set_has(id, m)? {
                continue;
            }
            let r = match *m {
                Member::Net { addr, len } => self
                    .set_nets
                    .remove(&Self::net_key(id, addr, len))
                    .map_err(|e| (maps::SET_NETS, e)),
                Member::Port { addr, proto, port } => self
                    .set_ports
                    .remove(&Self::port_key(id, addr, proto, port))
                    .map_err(|e| (maps::SET_PORTS, e)),
            };
            match r {
                Ok(()) => removed += 1,
                Err((_, MapError::KeyNotFound)) => {}
                Err((name, e)) => return Err(LoadError::Map(name, e)),
            }
        }
        self.set_count(id, count.saturating_sub(removed))?;
        Ok(removed)
    }

    /// Every member of set `id`, sorted.
    ///
    /// # Errors
    /// [`LoadError::Map`] when a map cannot be read.
    pub fn set_members(&self, id: u32) -> Result<Vec<Member>, LoadError> {
        let family = match self.set_meta(id)? {
            Some(m) if m.family == FAMILY_INET6 => SetFamily::Inet6,
            _ => SetFamily::Inet,
        };
        let mut out = Vec::new();
        for k in self.set_nets.keys() {
            let k = k.map_err(map_err(maps::SET_NETS))?;
            let data = k.data();
            if u32::from_be_bytes(data.set) == id {
                out.push(Member::Net {
                    addr: narrow(data.addr, family),
                    len: (k.prefix_len() - net_prefix(0)) as u8,
                });
            }
        }
        for k in self.set_ports.keys() {
            let k = k.map_err(map_err(maps::SET_PORTS))?;
            if k.set == id {
                out.push(Member::Port {
                    addr: narrow(k.addr, family),
                    proto: k.proto,
                    port: k.port,
                });
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes every member of set `id`, and with `forget` the set itself.
    ///
    /// # Errors
    /// [`LoadError::Map`].
    pub fn set_flush(&mut self, id: u32, forget: bool) -> Result<(), LoadError> {
        let members = self.set_members(id)?;
        let count = members.len() as u32;
        self.set_del(id, count, &members)?;
        if forget {
            match self.set_meta.remove(&id) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(LoadError::Map(maps::SET_META, e)),
            }
        }
        Ok(())
    }
}
