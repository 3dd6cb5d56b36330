//! Equivalence classes of one header field over one chain's rules, the
//! core of the Linear Bit Vector Search (Miano et al., "Securing Linux with
//! a faster and scalable iptables", SIGCOMM CCR 2019).
//!
//! For a field `f`, every value the packet can carry falls in exactly one
//! class; all values of a class are matched by the same rules. For each
//! class `c` the classifier needs the set `match(c)` of rules whose `f`
//! constraint accepts it. Stored densely that is `classes × rules` bits,
//! which does not fit 65,536 rules, so it is split as
//!
//! `match(c) = W xor X(c)`
//!
//! where `W` = `match(default class)` — the rules that do not constrain `f`
//! plus the negated ones — is one dense vector per field, and `X(c)` holds
//! only the rules whose own constraint names a value set containing `c`.
//! `X(c)` is small for every realistic ruleset, so memory is close to
//! linear in the number of rules.
//!
//! Rule sets are sorted `Vec<u32>` of rule positions (0-based) in the chain.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One rule's constraint on a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Constraint<T> {
    /// The rule does not look at this field.
    Any,
    /// The field must lie in `T`.
    Is(T),
    /// The field must not lie in `T` (iptables' `!`).
    Not(T),
}

impl<T> Constraint<T> {
    fn value(&self) -> Option<&T> {
        match self {
            Self::Any => None,
            Self::Is(v) | Self::Not(v) => Some(v),
        }
    }

    /// Whether the rule is in `W` (matches values its constraint does not name).
    fn in_default(&self) -> bool {
        !matches!(self, Self::Is(_))
    }
}

/// The classes of one field: `W` and, per class, `X` (see the module doc).
/// Class 0 is the default class (values no rule names); its `X` is empty
/// and it has no entry in `classes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Field<K> {
    /// Whether any rule constrains this field; the classifier skips it if not.
    pub used: bool,
    /// Rules matching the default class.
    pub w: Vec<u32>,
    /// Class `i + 1`: the lookup keys that select it, and its `X`.
    pub classes: Vec<(Vec<K>, Vec<u32>)>,
}

fn default_set<T>(rules: &[Constraint<T>]) -> Vec<u32> {
    (0..rules.len() as u32)
        .filter(|&i| rules[i as usize].in_default())
        .collect()
}

/// An address prefix of either family: the address in 128 bits, host
/// order, left-aligned (an IPv4 address in the top 32 bits, [`v4`]) and
/// masked, and the prefix length (0..=32 for IPv4, 0..=128 for IPv6).
/// Big-endian bytes of the address are an `AddrKey`'s address as they
/// are.
pub type Prefix = (u128, u8);

/// The IPv4 prefix `a/len` (`a` in host order) as a [`Prefix`].
pub const fn v4(a: u32, len: u8) -> Prefix {
    ((a as u128) << 96, len)
}

fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// The fewest prefixes covering the inclusive IPv4 address range
/// `lo..=hi` (none when `lo > hi`).
pub fn addr_range_prefixes(lo: u32, hi: u32) -> Vec<Prefix> {
    addr_prefixes(u128::from(lo), u128::from(hi), 32)
}

/// The fewest prefixes covering the inclusive IPv6 address range
/// `lo..=hi` (none when `lo > hi`).
pub fn addr6_range_prefixes(lo: u128, hi: u128) -> Vec<Prefix> {
    addr_prefixes(lo, hi, 128)
}

/// The fewest prefixes covering `lo..=hi` of a `bits`-bit address
/// space (the values right-aligned): at each step the largest block
/// aligned at `lo` that stays within `hi`.
fn addr_prefixes(mut lo: u128, hi: u128, bits: u32) -> Vec<Prefix> {
    // The low `k` bits set (a block of 2^k addresses, less one).
    let low = |k: u32| if k == 0 { 0 } else { u128::MAX >> (128 - k) };
    let mut out = Vec::new();
    if lo > hi {
        return out;
    }
    loop {
        let mut k = lo.trailing_zeros().min(bits);
        while lo | low(k) > hi {
            k -= 1;
        }
        out.push((lo << (128 - bits), (bits - k) as u8));
        let last = lo | low(k);
        if last == hi {
            return out;
        }
        lo = last + 1;
    }
}

/// Address classes: one per distinct prefix some rule names; a rule names
/// a union of prefixes (one for `-s`, an `-m iprange` range's several).
/// A packet's class is its longest matching prefix (an LPM trie lookup);
/// `X` of a prefix is every rule one of whose prefixes contains it.
pub fn addr(rules: &[Constraint<Vec<Prefix>>]) -> Field<Prefix> {
    let mut by_prefix: BTreeMap<Prefix, Vec<u32>> = BTreeMap::new();
    let mut used = false;
    for (i, c) in rules.iter().enumerate() {
        let Some(prefixes) = c.value() else { continue };
        used = true;
        for &(a, l) in prefixes {
            by_prefix
                .entry((a & mask(l), l))
                .or_default()
                .push(i as u32);
        }
    }
    let classes = by_prefix
        .keys()
        .map(|&(a, l)| {
            let mut x: Vec<u32> = (0..=l)
                .filter_map(|al| by_prefix.get(&(a & mask(al), al)))
                .flatten()
                .copied()
                .collect();
            x.sort_unstable();
            x.dedup();
            (vec![(a, l)], x)
        })
        .collect();
    Field {
        used,
        w: default_set(rules),
        classes,
    }
}

/// A port prefix: value and length 0..=16, for an LPM trie.
pub type PortPrefix = (u16, u8);

/// The fewest prefixes covering the inclusive range `lo..=hi`.
pub fn range_prefixes(lo: u16, hi: u16) -> Vec<PortPrefix> {
    let (mut lo, hi) = (u32::from(lo), u32::from(hi));
    let mut out = Vec::new();
    while lo <= hi {
        // The largest aligned block starting at lo that stays within hi.
        let mut size = if lo == 0 {
            1 << 16
        } else {
            1u32 << lo.trailing_zeros().min(16)
        };
        while lo + size - 1 > hi {
            size >>= 1;
        }
        out.push((lo as u16, 16 - size.trailing_zeros() as u8));
        lo += size;
    }
    out
}

/// Port classes for packets that have ports: the elementary intervals cut
/// by every rule's range boundaries. A rule names a union of inclusive
/// ranges (`-m multiport`'s list; one range for `--dport`); `X` of an
/// interval is every rule one of whose ranges contains it. The returned [`Field`]'s class 1 is reserved for
/// packets without ports (not TCP/UDP, or a non-first fragment), which no
/// port rule matches, negated or not (xt_tcpudp); its keys are empty.
pub fn port(rules: &[Constraint<Vec<(u16, u16)>>]) -> Field<PortPrefix> {
    let mut events: BTreeMap<u32, (Vec<u32>, Vec<u32>)> = BTreeMap::new();
    let mut used = false;
    for (i, c) in rules.iter().enumerate() {
        let Some(ranges) = c.value() else { continue };
        used = true;
        for (lo, hi) in merge(ranges) {
            events.entry(lo).or_default().0.push(i as u32);
            events.entry(hi + 1).or_default().1.push(i as u32);
        }
    }
    let noport: Vec<u32> = (0..rules.len() as u32)
        .filter(|&i| matches!(rules[i as usize], Constraint::Not(_)))
        .collect();
    let mut classes = vec![(Vec::new(), noport)];
    let mut active = BTreeSet::new();
    let points: Vec<u32> = events.keys().copied().collect();
    for (k, at) in points.iter().enumerate() {
        let (starts, ends) = &events[at];
        for r in ends {
            active.remove(r);
        }
        active.extend(starts.iter().copied());
        let end = points.get(k + 1).map_or(1 << 16, |&n| n);
        if !active.is_empty() && *at < 1 << 16 {
            classes.push((
                range_prefixes(*at as u16, (end - 1) as u16),
                active.iter().copied().collect(),
            ));
        }
    }
    Field {
        used,
        w: default_set(rules),
        classes,
    }
}

/// A union of inclusive ranges as disjoint, non-adjacent ones in order
/// (so one rule starts and ends once per range in [`port`]'s sweep).
fn merge(ranges: &[(u16, u16)]) -> Vec<(u32, u32)> {
    let mut sorted: Vec<(u32, u32)> = ranges
        .iter()
        .filter(|(lo, hi)| lo <= hi)
        .map(|&(lo, hi)| (u32::from(lo), u32::from(hi)))
        .collect();
    sorted.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (lo, hi) in sorted {
        match out.last_mut() {
            Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Classes of a field compared for equality (protocol, interface index):
/// one per distinct value; a rule may name several values (an interface
/// wildcard that matches several interfaces).
pub fn exact(rules: &[Constraint<Vec<u32>>]) -> Field<u32> {
    let mut by_value: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut used = false;
    for (i, c) in rules.iter().enumerate() {
        if let Some(vs) = c.value() {
            used = true;
            for v in vs {
                by_value.entry(*v).or_default().push(i as u32);
            }
        }
    }
    // Values that the same rules accept share one class (a `--ttl-gt 10`
    // names 245 values, an interface wildcard several indexes).
    let mut by_rules: BTreeMap<Vec<u32>, Vec<u32>> = BTreeMap::new();
    for (v, x) in by_value {
        by_rules.entry(x).or_default().push(v);
    }
    let mut classes: Vec<(Vec<u32>, Vec<u32>)> = by_rules
        .into_iter()
        .map(|(x, mut vs)| {
            vs.sort_unstable();
            (vs, x)
        })
        .collect();
    classes.sort();
    Field {
        used,
        w: default_set(rules),
        classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Constraint::*;

    #[test]
    fn range_prefixes_cover_exactly() {
        assert_eq!(range_prefixes(0, 65535), vec![(0, 0)]);
        assert_eq!(range_prefixes(22, 22), vec![(22, 16)]);
        assert_eq!(range_prefixes(1024, 2047), vec![(1024, 6)]);
        for (lo, hi) in [(1, 65535), (3, 17), (1000, 60000), (65535, 65535), (0, 0)] {
            let ps = range_prefixes(lo, hi);
            let covered: u32 = ps.iter().map(|&(_, l)| 1u32 << (16 - l)).sum();
            assert_eq!(covered, u32::from(hi) - u32::from(lo) + 1);
            for &(p, l) in &ps {
                let m = if l == 0 { 0 } else { u16::MAX << (16 - l) };
                assert_eq!(p & !m, 0, "{p}/{l} is aligned");
            }
        }
    }

    #[test]
    fn addr_classes_nest() {
        let rules = vec![
            Is(vec![v4(0xc0000200, 24)]), // 192.0.2.0/24
            Any,
            Not(vec![v4(0xc0000201, 32)]), // ! 192.0.2.1
            Is(vec![v4(0xc0000000, 8)]),
        ];
        let f = addr(&rules);
        assert!(f.used);
        assert_eq!(f.w, vec![1, 2]);
        let x = |p: Prefix| f.classes.iter().find(|(k, _)| k[0] == p).unwrap().1.clone();
        assert_eq!(x(v4(0xc0000000, 8)), vec![3]);
        assert_eq!(x(v4(0xc0000200, 24)), vec![0, 3]);
        assert_eq!(x(v4(0xc0000201, 32)), vec![0, 2, 3]);
    }

    #[test]
    fn port_intervals() {
        let rules = vec![
            Is(vec![(22, 22)]),
            Not(vec![(20, 30)]),
            Any,
            Is(vec![(0, 65535)]),
        ];
        let f = port(&rules);
        assert_eq!(f.w, vec![1, 2]);
        assert_eq!(f.classes[0], (vec![], vec![1]), "no-port class");
        let xs: Vec<_> = f.classes[1..].iter().map(|(_, x)| x.clone()).collect();
        // [0,19] [20,21] [22] [23,30] [31,65535]
        assert_eq!(
            xs,
            vec![vec![3], vec![1, 3], vec![0, 1, 3], vec![1, 3], vec![3]]
        );
        assert_eq!(f.classes[3].0, vec![(22, 16)]);
    }

    #[test]
    fn addr_ranges() {
        assert_eq!(addr_range_prefixes(0, u32::MAX), vec![(0, 0)]);
        // IPv6 prefixes nest as IPv4's do.
        let f = addr(&[
            Is(vec![(0x2001_0db8 << 96, 32)]),
            Is(vec![(0x2001_0db8_0001 << 80, 48)]),
        ]);
        assert_eq!(f.classes.len(), 2);
        assert_eq!(f.classes[1].1, vec![0, 1]);
        assert_eq!(addr_range_prefixes(5, 4), vec![]);
        // IPv6: the whole space, and 2001:db8::1 to 2001:db8::6.
        assert_eq!(addr6_range_prefixes(0, u128::MAX), vec![(0, 0)]);
        let base = 0x2001_0db8_u128 << 96;
        assert_eq!(
            addr6_range_prefixes(base | 1, base | 6),
            vec![
                (base | 1, 128),
                (base | 2, 127),
                (base | 4, 127),
                (base | 6, 128)
            ]
        );
        assert_eq!(
            addr_range_prefixes(0xc0000201, 0xc0000204),
            vec![v4(0xc0000201, 32), v4(0xc0000202, 31), v4(0xc0000204, 32)]
        );
        let ps = addr_range_prefixes(3, u32::MAX - 2);
        let covered: u64 = ps.iter().map(|&(_, l)| 1u64 << (32 - l)).sum();
        assert_eq!(covered, u64::from(u32::MAX) - 4);
        // A range that names nothing still constrains its rule.
        let f = addr(&[Is(vec![]), Any]);
        assert!(f.used);
        assert_eq!(f.w, vec![1]);
    }

    #[test]
    fn port_unions() {
        // Overlapping and adjacent ranges of one rule merge: 80..=95.
        let rules = vec![
            Is(vec![(90, 95), (80, 85), (86, 89), (82, 82)]),
            Not(vec![(1, 1), (3, 3)]),
        ];
        let f = port(&rules);
        assert_eq!(f.w, vec![1]);
        let xs: Vec<_> = f.classes[1..]
            .iter()
            .map(|(k, x)| (k[0], x.clone()))
            .collect();
        // [1] [3] [80,95]
        assert_eq!(
            xs,
            vec![((1, 16), vec![1]), ((3, 16), vec![1]), ((80, 12), vec![0])]
        );
        // `Not` of an empty union: every port, no port-less packet.
        let f = port(&[Not(vec![])]);
        assert!(f.used);
        assert_eq!(f.w, vec![0]);
        assert_eq!(f.classes, vec![(vec![], vec![0])]);
    }

    #[test]
    fn exact_values() {
        let f = exact(&[Is(vec![6]), Not(vec![17]), Any, Is(vec![6, 17])]);
        assert_eq!(f.w, vec![1, 2]);
        assert_eq!(
            f.classes,
            vec![(vec![6], vec![0, 3]), (vec![17], vec![1, 3])]
        );
    }
}
