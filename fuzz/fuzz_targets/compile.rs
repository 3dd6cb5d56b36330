//! The compiler: a restore file in, map contents out. Any ruleset the
//! restore engine accepts for enforcement compiles or gives a
//! `CompileError`, never a panic; and for packets derived from the input
//! (their addresses, ports and values taken from the compiled maps' own
//! keys, their edges and neighbours) the kernel's algorithm run over the
//! compiled maps (`compile::eval`) takes the reference model's verdict,
//! counts the same rules and agrees on whether the policy decided, in
//! INPUT, FORWARD and OUTPUT. This is the property the compile proptests
//! check on generated rulesets, here on whatever libFuzzer grows from
//! real ones.

#![no_main]

use std::net::Ipv4Addr;

use firewall::{
    compile::{self, eval::Tables},
    model::{BuiltinChain, eval},
    parse::services::Services,
    restore::{RestoreOptions, restore},
    state::State,
    testing,
};
use firewall_common::{ADDR_BITS, LPM_ID_BITS, PORT_BITS, check::owner::Sock};
use libfuzzer_sys::fuzz_target;

/// The interfaces of the namespace the ruleset is compiled for (those of
/// the compile proptests).
const IFACES: [(&str, u32); 4] = [("lo", 1), ("veth0", 2), ("veth1", 3), ("eth0", 4)];

/// Packets checked per input and chain.
const PACKETS: usize = 24;

fn ifindex(name: &str) -> u32 {
    IFACES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, i)| *i)
}

/// splitmix64, seeded from the input: the same input always checks the
/// same packets, so a crash reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
}

/// The values the compiled maps name, with their edges and neighbours:
/// where verdicts change.
struct Pools {
    addrs: Vec<u32>,
    ports: Vec<u16>,
    values: Vec<u32>,
}

impl Pools {
    fn of(c: &compile::Compiled) -> Self {
        let mut addrs = vec![0, u32::MAX, u32::from(Ipv4Addr::new(192, 0, 2, 1))];
        for (len, key, _) in &c.addr {
            let prefix = len.saturating_sub(LPM_ID_BITS).min(ADDR_BITS);
            let first = u32::from_be_bytes(key.addr);
            let last = first | u32::MAX.checked_shr(prefix).unwrap_or(0);
            addrs.extend([first, last, first.wrapping_sub(1), last.wrapping_add(1)]);
        }
        let mut ports = vec![0, 1, 22, 1024, u16::MAX];
        for (len, key, _) in &c.port {
            let prefix = len.saturating_sub(LPM_ID_BITS).min(PORT_BITS);
            let first = u16::from_be_bytes(key.port);
            let last = first | u16::MAX.checked_shr(prefix).unwrap_or(0);
            ports.extend([first, last, first.wrapping_sub(1), last.wrapping_add(1)]);
        }
        let mut values = vec![0, 1, 64, 255];
        for (key, _) in &c.values {
            values.extend([
                key.value,
                key.value.wrapping_sub(1),
                key.value.wrapping_add(1),
            ]);
        }
        for check in &c.checks {
            values.extend([check.a as u32, check.arg, (check.a >> 16) as u32]);
        }
        Self {
            addrs,
            ports,
            values,
        }
    }
}

/// A packet as fw's tracking and the kernel tests give them
/// (`testing::packet`'s rules: a state its kind can have, flags and ICMP
/// type that state allows, its connection), through `chain`.
fn packet(rng: &mut Rng, pools: &Pools, chain: BuiltinChain) -> eval::Packet {
    let value = |rng: &mut Rng| rng.pick(&pools.values);
    let proto = match rng.below(6) {
        0 => 6,
        1 => 17,
        2 => 1,
        3 => 47,
        _ => value(rng) as u8,
    };
    let first = !matches!(proto, 6 | 17 | 1) || !rng.chance(10);
    let ports = (matches!(proto, 6 | 17) && first)
        .then(|| (rng.pick(&pools.ports), rng.pick(&pools.ports)));
    let states = testing::ctstates_of(proto, first);
    let ctstate = rng.pick(states);
    let tcp_flags = (proto == 6 && first).then(|| rng.pick(testing::tcp_flags_of(ctstate)));
    let icmp = (proto == 1 && first).then(|| {
        let code = if rng.chance(2) {
            rng.pick(&testing::ICMP_CODES)
        } else {
            value(rng) as u8
        };
        (testing::icmp_type_of(ctstate), code)
    });
    let iface = |rng: &mut Rng| rng.pick(&testing::IN_INTERFACES).to_string();
    let (in_if, out_if) = match chain {
        BuiltinChain::Input => (iface(rng), String::new()),
        BuiltinChain::Forward => (iface(rng), iface(rng)),
        BuiltinChain::Output => (String::new(), iface(rng)),
    };
    let mac = (chain != BuiltinChain::Output && in_if != "lo" && !rng.chance(4))
        .then(|| rng.pick(&testing::MACS));
    let mut p = eval::Packet {
        src: Ipv4Addr::from(rng.pick(&pools.addrs)),
        dst: Ipv4Addr::from(rng.pick(&pools.addrs)),
        proto,
        ports,
        in_if,
        out_if,
        ttl: value(rng) as u8,
        ctstate,
        icmp,
        tcp_flags,
        len: if rng.chance(2) {
            value(rng) as u16
        } else {
            20 + rng.below(1480) as u16
        },
        mac,
        tcp_options: Some(if tcp_flags.is_some() {
            rng.pick(&testing::TCP_OPTION_AREAS).to_vec()
        } else {
            Vec::new()
        }),
        checks: rng.chance(2),
        conn: None,
        mark: if rng.chance(2) { 0 } else { value(rng) },
        addr_types: (
            if rng.chance(2) {
                1
            } else {
                rng.below(12) as u32
            },
            if rng.chance(2) {
                1
            } else {
                rng.below(12) as u32
            },
        ),
        sock: match (chain, rng.below(3)) {
            (BuiltinChain::Output, 0) => Sock::NoFile,
            (BuiltinChain::Output, 1) => Sock::File {
                uid: value(rng),
                gid: value(rng),
            },
            _ => Sock::None,
        },
    };
    p.conn = testing::connection_of(&p);
    p
}

/// FNV-1a of the input: the packets' seed.
fn seed(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let services = Services::default();
    let opts = RestoreOptions::default();
    let Ok(done) = restore(&State::default(), text, &opts, true, &services) else {
        return;
    };
    let state = done.state;
    let mut rng = Rng(seed(data));
    let bank = (rng.next() & 1) as u32;
    let interfaces: Vec<(String, u32)> = IFACES.iter().map(|(n, i)| (n.to_string(), *i)).collect();
    let Ok(compiled) = compile::compile(&state, bank, &interfaces) else {
        return;
    };
    let tables = Tables::new(&compiled, bank);
    let pools = Pools::of(&compiled);
    let number = |name: &str| match BuiltinChain::from_name(name) {
        Some(c) => c.map_index(),
        None => {
            let n = state.ruleset.user_chains.keys().position(|k| k == name);
            3 + n.expect("a counted chain exists") as u32
        }
    };
    for chain in BuiltinChain::ALL {
        for _ in 0..PACKETS {
            let p = packet(&mut rng, &pools, chain);
            let want = eval::walk(&state.ruleset, chain, &p);
            let got = tables.walk(chain.map_index(), &p, &ifindex);
            let counted: Vec<(u32, u32)> = want
                .counted
                .iter()
                .map(|(c, n)| (number(c), *n as u32))
                .collect();
            assert_eq!(
                (got.verdict, got.policy, &got.counted),
                (want.verdict, want.policy, &counted),
                "{} (compiled, reference) disagree on {p:?}",
                chain.name()
            );
        }
    }
});
