//! The reference evaluator: iptables' semantics as a plain linear walk of
//! the chain (iptables(8): rules are tried in order, the first whose every
//! match holds decides; otherwise the policy). The compiled classifier is
//! tested against it.

use std::net::Ipv4Addr;

use super::{
    AddrMask, BuiltinChain, Match, Neg, Policy, PortDirection, PortRange, Rule, Ruleset, Target,
    Tcp, Ttl, Udp,
};

/// What the matches look at in one IPv4 packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol number.
    pub proto: u8,
    /// TCP/UDP (source, destination) port, host order; `None` when the
    /// packet is not TCP/UDP or is a non-first fragment.
    pub ports: Option<(u16, u16)>,
    /// Input interface name ("" in OUTPUT).
    pub in_if: String,
    /// Output interface name ("" in INPUT).
    pub out_if: String,
    /// Time to live as the chain's hook sees it (in FORWARD one less than
    /// received: ip_forward() decrements it before the hook).
    pub ttl: u8,
    /// The connection tracking state: one bit of `CtStates` (NEW,
    /// ESTABLISHED, RELATED or INVALID), as fw's tracking gives it.
    pub ctstate: u16,
    /// ICMP (type, code); `None` when the packet is not ICMP or is a
    /// non-first fragment.
    pub icmp: Option<(u8, u8)>,
    /// The TCP header's flags byte; `None` when the packet is not TCP or
    /// is a non-first fragment.
    pub tcp_flags: Option<u8>,
    /// The IPv4 total length, bytes.
    pub len: u16,
    /// The frame's Ethernet source address (xt_mac's); `None` when the
    /// input device has no Ethernet header (`lo`) or in OUTPUT.
    pub mac: Option<[u8; 6]>,
    /// The TCP option area (the header's bytes 20 up to its data
    /// offset); `None` for a data offset below 5 or past the datagram (a
    /// hot drop at `--tcp-option`). Empty for packets without a TCP
    /// header (their ports already fail every tcp match).
    pub tcp_options: Option<Vec<u8>>,
    /// Whether the rule checks the walk runs pass (`-m limit`: the
    /// bucket has a token). Their state is the kernel's, so the packet
    /// carries their answer, as it carries `ctstate`.
    pub checks: bool,
    /// The packet's connection, as fw's tracking gives it; `None` for an
    /// INVALID packet (netfilter leaves it without one).
    pub conn: Option<Connection>,
    /// The packet's mark (`skb->mark`): 0 as it arrives.
    pub mark: u32,
    /// The `RTN_*` types of its source and destination address, as the
    /// host's local routing table gives them
    /// (`firewall_common::check::addrtype::type_of`): host state, which
    /// the packet carries.
    pub addr_types: (u32, u32),
    /// The socket it leaves from, as xt_owner sees it (OUTPUT);
    /// `Sock::None` for a packet that arrived.
    pub sock: firewall_common::check::owner::Sock,
}

/// A packet's connection (what `-m conntrack`'s tuple options compare):
/// its original tuple and the packet's direction. The reply tuple is
/// the mirror of the original one (fw knows no NAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The original direction's source address.
    pub src: Ipv4Addr,
    /// The original direction's destination address.
    pub dst: Ipv4Addr,
    /// The original direction's source port, host order (0 but for TCP
    /// and UDP).
    pub sport: u16,
    /// The original direction's destination port, host order.
    pub dport: u16,
    /// The connection's IP protocol (an ICMP error's: the quoted one's).
    pub proto: u8,
    /// The packet travels the reply way.
    pub reply: bool,
}

impl Connection {
    /// The connection `p` opens (or belongs to, in its original direction).
    pub fn opened_by(p: &Packet) -> Connection {
        let (sport, dport) = p.ports.unwrap_or((0, 0));
        Connection {
            src: p.src,
            dst: p.dst,
            sport,
            dport,
            proto: p.proto,
            reply: false,
        }
    }
}

/// xt_conntrack's `conntrack_mt` (revision 3) for `c` and `p`: the state,
/// then, for a packet with a connection, every other option, each XOR
/// its `!`; one without passes when a state was given (and held).
fn conntrack(c: &super::Conntrack, p: &Packet) -> bool {
    if let Some(n) = &c.state
        && (n.value.0 & p.ctstate != 0) == n.invert
    {
        return false;
    }
    let Some(k) = p.conn else {
        return c.state.is_some();
    };
    if let Some(d) = c.dir
        && (d == super::CtDir::Reply) != k.reply
    {
        return false;
    }
    let addrs = [k.src, k.dst, k.dst, k.src];
    for (a, have) in c.addrs.iter().zip(addrs) {
        if let Some(a) = a {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(a.value.prefix))
                .unwrap_or(0);
            // The evaluator's connections are IPv4: no IPv6 address is
            // the same.
            let same = a
                .value
                .v4()
                .is_some_and(|addr| (u32::from(have) ^ u32::from(addr)) & mask == 0);
            if same == a.invert {
                return false;
            }
        }
    }
    if let Some(n) = &c.proto
        && (n.value == k.proto) == n.invert
    {
        return false;
    }
    let ports = [k.sport, k.dport, k.dport, k.sport];
    for (r, have) in c.ports.iter().zip(ports) {
        if let Some(r) = r
            && (r.value.lo <= have && have <= r.value.hi) == r.invert
        {
            return false;
        }
    }
    true
}

/// The outcome of a chain for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Rule `n` (0-based) matched and its target decided.
    Rule(usize, Policy),
    /// No rule matched: the chain's policy.
    Policy(Policy),
}

fn neg<T>(m: &Option<Neg<T>>, hit: impl FnOnce(&T) -> bool) -> bool {
    m.as_ref().is_none_or(|n| hit(&n.value) != n.invert)
}

/// Whether `a` is in `m`; the reference evaluator sees IPv4 packets, which
/// no IPv6 address matches.
fn addr_in(a: Ipv4Addr, m: &AddrMask) -> bool {
    m.v4()
        .is_some_and(|(addr, mask)| u32::from(a) & u32::from(mask) == u32::from(addr))
}

/// iptables' interface match: exact, or a prefix when the name ends in `+`.
pub fn iface_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('+') {
        Some(stem) => name.starts_with(stem),
        None => pattern == name,
    }
}

fn ports(p: &Packet, sport: &Option<Neg<PortRange>>, dport: &Option<Neg<PortRange>>) -> bool {
    // xt_tcpudp: a packet without ports (a non-first fragment) never
    // matches, negated or not.
    let Some((s, d)) = p.ports else { return false };
    neg(sport, |r| r.lo <= s && s <= r.hi) && neg(dport, |r| r.lo <= d && d <= r.hi)
}

/// xt_tcpudp's `tcp_mt` up to the options: ports, then flags.
fn tcp_fixed(
    p: &Packet,
    sport: &Option<Neg<PortRange>>,
    dport: &Option<Neg<PortRange>>,
    flags: &Option<Neg<super::TcpFlags>>,
) -> bool {
    ports(p, sport, dport)
        && flags.as_ref().is_none_or(|f| {
            p.tcp_flags
                .is_some_and(|b| (b & f.value.mask == f.value.comp) != f.invert)
        })
}

/// xt_tcpudp's `tcp_find_option`: whether the walk of `area` (kinds 0
/// and 1 one byte long, the others as their length byte says, 0 read
/// as 1) meets `kind`.
pub fn find_option(area: &[u8], kind: u8) -> bool {
    let mut i = 0;
    while i < area.len() {
        if area[i] == kind {
            return true;
        }
        i += if area[i] < 2 {
            1
        } else {
            match area.get(i + 1) {
                Some(0) | None => 1,
                Some(&l) => usize::from(l),
            }
        };
    }
    false
}

/// Whether netfilter drops `p` at `rule` (a hot drop) before its
/// verdict: the matches before a `--tcp-option` match hold, so do its
/// ports and flags, and the option area is bad.
pub fn hot_drop(rule: &Rule, p: &Packet) -> bool {
    if p.tcp_options.is_some() {
        return false;
    }
    let ip = Rule {
        matches: Vec::new(),
        ..rule.clone()
    };
    if !matches(&ip, p) {
        return false;
    }
    for m in &rule.matches {
        if let Match::Tcp(Tcp {
            sport,
            dport,
            flags,
            option: Some(_),
        }) = m
        {
            return tcp_fixed(p, sport, dport, flags);
        }
        let one = Rule {
            matches: vec![m.clone()],
            ..ip.clone()
        };
        if !matches(&one, p) {
            return false;
        }
    }
    false
}

/// Whether every match of `rule` holds for `p`.
pub fn matches(rule: &Rule, p: &Packet) -> bool {
    neg(&rule.protocol, |v| *v == p.proto)
        && neg(&rule.source, |m| addr_in(p.src, m))
        && neg(&rule.destination, |m| addr_in(p.dst, m))
        && neg(&rule.in_interface, |n| iface_matches(n, &p.in_if))
        && neg(&rule.out_interface, |n| iface_matches(n, &p.out_if))
        && rule.matches.iter().all(|m| match m {
            Match::Tcp(Tcp {
                sport,
                dport,
                flags,
                option,
            }) => {
                // xt_tcpudp: `(flags & mask) == comp`, XOR `!`; no TCP
                // header, no match.
                tcp_fixed(p, sport, dport, flags)
                    && option.as_ref().is_none_or(|o| {
                        // A bad option area: the hot drop (`hot_drop`).
                        p.tcp_options
                            .as_ref()
                            .is_some_and(|area| find_option(area, o.value) != o.invert)
                    })
            }
            Match::Udp(Udp { sport, dport }) => ports(p, sport, dport),
            // xt_multiport revision 1: the port in any of the ranges, XOR
            // `!`; a non-first fragment never matches.
            Match::Multiport(m) => p.ports.is_some_and(|(s, d)| {
                let hit = |v: u16| m.ports.iter().any(|r| r.lo <= v && v <= r.hi);
                let any = match m.direction {
                    PortDirection::Source => hit(s),
                    PortDirection::Destination => hit(d),
                    PortDirection::Either => hit(s) || hit(d),
                };
                any != m.invert
            }),
            // ipt_icmp: type 255 is any type; a non-first fragment never
            // matches, negated or not.
            Match::Icmp(n) => p.icmp.is_some_and(|(t, c)| {
                let v = n.value;
                (v.kind == 0xFF || (t == v.kind && v.code_min <= c && c <= v.code_max)) != n.invert
            }),
            // xt_length: the IPv4 total length in range, XOR `!`.
            Match::Length(n) => (n.value.min <= p.len && p.len <= n.value.max) != n.invert,
            Match::Comment(_) => true,
            // xt_conntrack / xt_state: the packet's state bit in the mask.
            Match::Conntrack(c) => conntrack(c, p),
            Match::Mark(m) => (p.mark & m.mask == m.value) != m.invert,
            Match::State(n) => (n.value.0 & p.ctstate != 0) != n.invert,
            Match::Ttl(t) => match *t {
                Ttl::Eq(v) => p.ttl == v,
                Ttl::Ne(v) => p.ttl != v,
                Ttl::Lt(v) => p.ttl < v,
                Ttl::Gt(v) => p.ttl > v,
            },
            // xt_iprange: each given range, XOR its `!`.
            Match::Iprange(r) => {
                let within = |a: Ipv4Addr, m: &Option<Neg<crate::model::Ipv4Range>>| {
                    neg(m, |r| r.lo <= a && a <= r.hi)
                };
                within(p.src, &r.src) && within(p.dst, &r.dst)
            }
            // xt_limit: a token in the bucket; xt_recent: the list's
            // answer. Kernel state, which the packet says.
            Match::Limit(_) | Match::Recent(_) | Match::Hashlimit(_) => p.checks,
            // Outside support::enforceable: never loaded, not evaluated.
            // xt_mac: no Ethernet header, no match either way.
            Match::Mac(n) => p.mac.is_some_and(|m| (m == n.value) != n.invert),
            // xt_addrtype (without --limit-iface-*, which is refused).
            Match::Addrtype(a) => {
                let (flags, src, dst) = a.words();
                firewall_common::check::addrtype::matches(
                    flags,
                    src,
                    dst,
                    p.addr_types.0,
                    p.addr_types.1,
                )
            }
            // xt_owner (without --suppl-groups, which is refused).
            Match::Owner(o) => {
                let (uid, gid) = o.ranges();
                let range = |r: u64| (r as u32, (r >> 32) as u32);
                firewall_common::check::owner::matches(o.flags(), range(uid), range(gid), p.sock)
            }
            // xt_policy for a packet without an IPsec policy: fw
            // filters only where none has one.
            Match::Policy(p) => p.none,
            // Kernel state (the set's members), which the packet says.
            Match::Set(_) => p.checks,
            // The clock: kernel state, which the packet says.
            Match::Time(_) => p.checks,
            // ip6tables' matches: the reference evaluator's packets are
            // IPv4, which they never match.
            Match::Icmp6(_) | Match::Hl(_) | Match::Rt(_) | Match::Iprange6(_) => false,
            // xt_tcpmss on the option area (a bad one: the hot drop).
            Match::Tcpmss(m) => p.tcp_options.as_ref().is_some_and(|area| {
                p.tcp_flags.is_some() && crate::extensions::matches::tcpmss::matches(m, area)
            }),
        })
}

/// The verdict of built-in chain `chain` of `ruleset` for `p`, for
/// rulesets without user-defined chains: the deciding rule of `chain`, or
/// its policy.
pub fn evaluate(ruleset: &Ruleset, chain: BuiltinChain, p: &Packet) -> Verdict {
    let t = walk(ruleset, chain, p);
    match t.counted.last() {
        Some((c, n)) if !t.policy && c == chain.name() => Verdict::Rule(*n, t.verdict),
        _ => Verdict::Policy(t.verdict),
    }
}

/// What a packet's walk through the chains did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The verdict.
    pub verdict: Policy,
    /// Every rule whose target was taken, in order: (chain, 0-based rule).
    /// iptables counts each of them once.
    pub counted: Vec<(String, usize)>,
    /// Whether the built-in chain's policy decided (and counted).
    pub policy: bool,
}

/// The walk of iptables(8) "TARGETS" from built-in chain `root`: rules in
/// order; `-j CHAIN` continues in CHAIN and comes back after the rule,
/// `-g CHAIN` continues there without coming back, `RETURN` or the end of
/// a user-defined chain goes back, and `RETURN` or the end of the built-in
/// chain applies its policy. A rule without a target counts and goes on.
/// Jump targets must exist and not loop (`super::check` refuses both).
pub fn walk(ruleset: &Ruleset, root: BuiltinChain, p: &Packet) -> Trace {
    let mut counted = Vec::new();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let (mut chain, mut at) = (root.name().to_string(), 0usize);
    loop {
        let rules = ruleset.rules(&chain).map_or(&[][..], |r| r.as_slice());
        let hit = rules
            .iter()
            .enumerate()
            .skip(at)
            .find(|(_, r)| matches(r, p) || hot_drop(r, p));
        // The hot drop: dropped, nothing counted.
        if hit.is_some_and(|(_, r)| hot_drop(r, p)) {
            return Trace {
                verdict: Policy::Drop,
                counted,
                policy: false,
            };
        }
        let target = hit.map(|(n, r)| {
            counted.push((chain.clone(), n));
            (n, &r.target)
        });
        let done = |verdict| Trace {
            verdict,
            counted: counted.clone(),
            policy: false,
        };
        match target {
            Some((_, Target::Accept)) => return done(Policy::Accept),
            // REJECT drops and answers: for the walk, a drop.
            Some((_, Target::Drop | Target::Reject(_))) => return done(Policy::Drop),
            Some((n, Target::Jump(to))) => {
                stack.push((chain.clone(), n + 1));
                (chain, at) = (to.clone(), 0);
            }
            Some((_, Target::Goto(to))) => (chain, at) = (to.clone(), 0),
            Some((n, Target::None)) => at = n + 1,
            Some((_, Target::Return)) | None => match stack.pop() {
                Some(back) => (chain, at) = back,
                None => {
                    return Trace {
                        verdict: ruleset.chain(root).policy,
                        counted,
                        policy: true,
                    };
                }
            },
            // LOG logs and goes on.
            Some((n, Target::Log(_))) => at = n + 1,
        }
    }
}
