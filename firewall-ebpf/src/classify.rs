//! The classifier: the iptables verdict of one built-in chain for one
//! packet, following jumps, gotos and RETURNs into user chains
//! (iptables(8), "TARGETS"), with the Linear Bit Vector Search inside each
//! chain (see `firewall_common`).
//!
//! Cost per chain visit: one lookup in `MATCH_CACHE`; on a miss, one
//! class lookup per field the chain uses, a
//! 16-word AND of their summaries, then two word lookups per used field
//! for each candidate word until the first match. It depends on how many
//! rules could match the packet, not on how many rules the chain holds.

use aya_ebpf::{
    cty::{c_long, c_void},
    helpers::bpf_loop,
    macros::map,
    maps::{Array, HashMap, LpmTrie, PerCpuArray, lpm_trie::Key},
};
use firewall_common::{
    ADDR_BITS, ADDR6_BITS, ANOMALY_SLOTS, AddrKey, Anomaly, BANKS, CHAIN_FORWARD, CLASS_DEFAULT,
    CLASS_NO_PORT, CLASS_W, COUNTER_SLOTS, ChainInfo, ClassKey, Config, Counter, Decision, FIELDS,
    FastPath, Field, FieldKey, MAX_CHAINS, MAX_JUMP_DEPTH, MAX_RULES, MAX_STEPS, NO_PORT_VALUE,
    NOT_LIVE, PORT_BITS, Policy, PortKey, RuleInfo, SUMMARY_WORDS, Summary, ValueKey, Verdict,
    WORD_BITS, WordKey, addr_lpm_prefix, chain_slot, ct, field_id, log, policy_counter,
    port_lpm_prefix, rule_slot,
};

use crate::parse::Packet;

/// Entries of the class and word maps, both banks together. Elements are
/// allocated on insert, but a hash map's bucket array (16 bytes a bucket)
/// is sized for its maximum at creation, so these are sized to need: a
/// 65,536-rule chain of distinct addresses and ports takes 125,000
/// summaries and 132,000 words per bank.
const LPM_ENTRIES: u32 = 1 << 20;
/// Protocols and interface indexes named by rules: few.
const VALUE_ENTRIES: u32 = 1 << 16;
const SUMMARY_ENTRIES: u32 = 1 << 19;
const WORD_ENTRIES: u32 = 1 << 20;
/// `BPF_F_NO_PREALLOC`: required for LPM tries, and keeps the large hash
/// maps from reserving their maximum up front.
const NO_PREALLOC: u32 = 1;

#[map]
static CONFIG: Array<Config> = Array::with_max_entries(1, 0);
#[map]
static CHAINS: Array<ChainInfo> = Array::with_max_entries(BANKS * MAX_CHAINS, 0);
#[map]
static RULES: Array<RuleInfo> = Array::with_max_entries(BANKS * MAX_RULES, 0);
#[map]
static ADDR_CLASS: LpmTrie<AddrKey, u32> = LpmTrie::with_max_entries(LPM_ENTRIES, NO_PREALLOC);
#[map]
static PORT_CLASS: LpmTrie<PortKey, u32> = LpmTrie::with_max_entries(LPM_ENTRIES, NO_PREALLOC);
#[map]
static VALUE_CLASS: HashMap<ValueKey, u32> = HashMap::with_max_entries(VALUE_ENTRIES, NO_PREALLOC);
#[map]
static SUMMARY: HashMap<ClassKey, Summary> =
    HashMap::with_max_entries(SUMMARY_ENTRIES, NO_PREALLOC);
#[map]
static WORDS: HashMap<WordKey, u64> = HashMap::with_max_entries(WORD_ENTRIES, NO_PREALLOC);
#[map]
static COUNTERS: PerCpuArray<Counter> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);
#[map]
static ANOMALIES: PerCpuArray<u64> = PerCpuArray::with_max_entries(ANOMALY_SLOTS, 0);
#[map]
static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(firewall_common::MALFORMED_SLOTS, 0);

/// Counts a packet dropped before any rule; the caller drops it. Out of
/// line: its map key stays off the program's frame, which the walk needs.
#[inline(never)]
pub fn malformed(m: firewall_common::Malformed) {
    if let Some(c) = DROPS.get_ptr_mut(m.index()) {
        // SAFETY: this CPU's slot; no other writer while the program runs.
        unsafe { *c += 1 };
    }
}

#[inline(always)]
fn count(slot: u32, bytes: u16) {
    if let Some(c) = COUNTERS.get_ptr_mut(slot) {
        // SAFETY: this CPU's slot; no other writer while the program runs.
        unsafe {
            (*c).packets += 1;
            (*c).bytes += bytes as u64;
        }
    }
}

/// Counts `a`; the caller then drops the packet.
#[inline(always)]
pub fn anomaly(a: Anomaly) {
    if let Some(c) = ANOMALIES.get_ptr_mut(a.index()) {
        // SAFETY: this CPU's slot; no other writer while the program runs.
        unsafe { *c += 1 };
    }
}

/// Index of the lowest set bit of `x`, which must not be 0: the number of
/// ones below it, counted without branches (BPF has no count-trailing-zeros
/// instruction, and every branch here would multiply the verifier's
/// states).
#[inline(always)]
fn lowest_bit(x: u64) -> u32 {
    let mut v = (x & x.wrapping_neg()).wrapping_sub(1);
    v -= (v >> 1) & 0x5555_5555_5555_5555;
    v = (v & 0x3333_3333_3333_3333) + ((v >> 2) & 0x3333_3333_3333_3333);
    v = (v + (v >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    (v.wrapping_mul(0x0101_0101_0101_0101) >> 56) as u32
}

/// The class of the packet's value of `field`, or [`CLASS_DEFAULT`].
#[inline(always)]
fn class_of(id: u32, field: Field, p: &Packet) -> u32 {
    let value = p.value(field);
    let found = match field.key() {
        FieldKey::Addr => {
            let mut key = Key::new(
                addr_lpm_prefix(ADDR_BITS),
                AddrKey {
                    id: id.to_be_bytes(),
                    addr: [0; 16],
                },
            );
            if p.v6 {
                key.prefix_len = addr_lpm_prefix(ADDR6_BITS);
                key.data.addr = if field == Field::Src { p.src6 } else { p.dst6 };
            } else {
                key.data.addr[..4].copy_from_slice(&value.to_ne_bytes());
            }
            ADDR_CLASS.get(&key).copied()
        }
        FieldKey::Port => {
            if value == NO_PORT_VALUE {
                return CLASS_NO_PORT;
            }
            let key = Key::new(
                port_lpm_prefix(PORT_BITS),
                PortKey {
                    id: id.to_be_bytes(),
                    port: (value as u16).to_be_bytes(),
                    _pad: [0; 2],
                },
            );
            PORT_CLASS.get(&key).copied()
        }
        // SAFETY: the value is copied out before the map can change it.
        FieldKey::Value => unsafe { VALUE_CLASS.get(&ValueKey { id, value }) }.copied(),
    };
    found.unwrap_or(CLASS_DEFAULT)
}

/// The search for the first rule of one chain that every used field
/// accepts.
#[repr(C)]
struct Search {
    /// AND of the used fields' summaries: candidate words.
    cand: [u64; SUMMARY_WORDS],
    /// Field id and class per field; `used` has bit `f` set for used fields.
    ids: [u32; FIELDS as usize],
    classes: [u32; FIELDS as usize],
    used: u32,
    /// The first rule that may match (rules before it were already passed).
    start: u32,
    /// The matching rule, or [`NO_MATCH`].
    hit: u32,
    /// The summary word being searched, and its candidates left.
    sw: u32,
    cur: u64,
}

/// One packet's walk through the chains.
#[repr(C)]
struct Walk {
    pkt: Packet,
    bank: u32,
    /// `Config::live` as read at the start: bank and generation.
    live: u32,
    /// The built-in chain the walk started in.
    root: u32,
    /// Where the walk is: chain and the first rule not yet tried.
    chain: u32,
    start: u32,
    /// Pending returns: (chain, rule to resume at).
    stack: [(u32, u32); MAX_JUMP_DEPTH],
    depth: u32,
    /// The decision once taken, else `None`.
    decision: Option<Decision>,
    /// `LOG_CONFIGS` slots of the LOG rules taken, in order; `nlogs` of
    /// them are valid.
    logs: [u32; LOG_PER_PACKET],
    nlogs: u32,
}

const LOG_PER_PACKET: usize = log::MAX_PER_PACKET as usize;

/// The `LOG_CONFIGS` slot of the `i`th LOG rule the last walk on `slot`
/// took, `None` past the last.
#[inline(always)]
pub fn pending_log(slot: u32, i: u32) -> Option<u32> {
    let sc = SCRATCH.get(slot)?;
    let w = &sc.walk;
    if i >= w.nlogs {
        return None;
    }
    Some(w.logs[i as usize % LOG_PER_PACKET])
}

/// Working memory of one classification.
///
/// It lives in a per-CPU map rather than on the stack: the verifier does
/// not track map contents, so the `bpf_loop` callbacks are verified against
/// one caller state instead of one per path through the caller, and the
/// 512-byte stack stays free. XDP and TC use separate slots ([`Hook`]); a
/// program runs to completion on its CPU before the next one there.
#[repr(C)]
pub struct Scratch {
    walk: Walk,
    search: Search,
    /// The match cache key of the search under way: here rather than on
    /// the stack, which it would push past 512 bytes (it grows with
    /// [`FIELDS`]).
    key: CacheKey,
    /// The packet as the hook parsed it, for a program whose own frame
    /// would otherwise hold it (see [`packet`]).
    parsed: Packet,
}

/// Scratch slot of the XDP program.
pub const SLOT_XDP: u32 = 0;
/// Scratch slot of the TC program.
pub const SLOT_TC: u32 = 1;

#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(2, 0);

/// A zeroed packet in `slot`'s scratch, to parse into (`None`, counted,
/// when the slot is missing). `fw_xdp` keeps its
/// packet here, not on its stack: Linux 6.1 sums the frames of a whole
/// call chain, each rounded up to 32 bytes, against 512, and XDP's chain
/// through the TCP tracker (`fw_track`, `fw_ct_tcp`, `fw_tcp_window`) is
/// the deepest.
#[inline(always)]
pub fn packet(slot: u32) -> Option<&'static mut Packet> {
    let Some(sc) = SCRATCH.get_ptr_mut(slot) else {
        anomaly(Anomaly::MissingEntry);
        return None;
    };
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    let p = unsafe { &mut (*sc).parsed };
    *p = Packet::default();
    Some(p)
}

/// No rule matched.
const NO_MATCH: u32 = u32::MAX;

/// `MATCH_CACHE` key: one chain search, by the values of only the fields
/// the chain's rules look at, so packets that differ in nothing the chain
/// uses (a source port no rule names, say) share an entry. It holds one
/// value per [`Field`], so a new field is in the key by construction. An
/// IPv6 address does not fit a value: it is in `addr6` (an IPv4 packet's
/// are zero there).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CacheKey {
    /// `Config::live`: a swap changes it, so old entries are never hit.
    live: u32,
    chain: u32,
    start: u32,
    /// [`Packet::value`] of each used field, 0 for the others.
    values: [u32; FIELDS as usize],
    /// An IPv6 packet's source (words 0..4) and destination address, as
    /// its `src6`, `dst6` read in native words, when used; else (and for
    /// IPv4) 0.
    addr6: [u32; 8],
}

impl CacheKey {
    /// Word by word: `==` on arrays may become a `memcmp` call, which BPF
    /// has not.
    #[inline(always)]
    fn same(&self, o: &CacheKey) -> bool {
        let mut same = self.live == o.live && self.chain == o.chain && self.start == o.start;
        for i in 0..FIELDS as usize {
            same &= self.values[i] == o.values[i];
        }
        for i in 0..8 {
            same &= self.addr6[i] == o.addr6[i];
        }
        same
    }
}

/// Slots of the match cache, per CPU (a power of two).
const CACHE_SLOTS: u32 = 1 << 13;

/// One remembered search: its key and the matching rule or [`NO_MATCH`].
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CacheEntry {
    key: CacheKey,
    hit: u32,
}

/// Results of recent searches, direct-mapped: a key has one slot, chosen
/// by its hash, and a new search overwrites it. Per CPU, so no locks and
/// no torn entries; an array, so a lookup costs no hashing in the kernel
/// and a miss no eviction (an LRU hash map costs hundreds of nanoseconds
/// per miss when every packet is a new flow). A zeroed slot never
/// matches: a live key's `live` word is at least 2
/// (`Config::next_generation` is never 0).
#[map]
static MATCH_CACHE: PerCpuArray<CacheEntry> = PerCpuArray::with_max_entries(CACHE_SLOTS, 0);

/// The slot of `k`: a multiplicative hash of its words.
#[inline(always)]
fn cache_slot(k: &CacheKey) -> u32 {
    let mix = |h: u32, w: u32| {
        let h = (h ^ w).wrapping_mul(0x9e37_79b1);
        h ^ (h >> 15)
    };
    let mut h = mix(mix(mix(0x811c_9dc5, k.live), k.chain), k.start);
    for i in 0..FIELDS as usize {
        h = mix(h, k.values[i]);
    }
    for i in 0..8 {
        h = mix(h, k.addr6[i]);
    }
    h & (CACHE_SLOTS - 1)
}

/// Writes into `k` the key of searching `chain` from `start` for `w`'s
/// packet.
#[inline(always)]
fn cache_key(k: &mut CacheKey, w: &Walk, chain: u32, fields: u32, start: u32) {
    k.live = w.live;
    k.chain = chain;
    k.start = start;
    // By index, so the loop unrolls and every access is in bounds.
    for i in 0..FIELDS as usize {
        let f = Field::ALL[i];
        k.values[i] = if fields & f.bit() == 0 {
            0
        } else {
            w.pkt.value(f)
        };
    }
    // Without branches on the family: zero for an IPv4 packet (whose
    // addresses are in `values`).
    let word = |a: &[u8; 16], j: usize| {
        u32::from_ne_bytes([a[4 * j], a[4 * j + 1], a[4 * j + 2], a[4 * j + 3]])
    };
    let v6 = 0u32.wrapping_sub(u32::from(w.pkt.v6));
    let src = if fields & Field::Src.bit() != 0 {
        v6
    } else {
        0
    };
    let dst = if fields & Field::Dst.bit() != 0 {
        v6
    } else {
        0
    };
    for j in 0..4 {
        k.addr6[j] = word(&w.pkt.src6, j) & src;
        k.addr6[4 + j] = word(&w.pkt.dst6, j) & dst;
    }
}

/// The `bpf_loop` context: which scratch slot the callbacks use.
#[repr(C)]
struct Hook {
    slot: u32,
}

#[inline(always)]
fn scratch(ctx: *mut c_void) -> Option<&'static mut Scratch> {
    // SAFETY: ctx is the `Hook` that `run` passes to every bpf_loop.
    let slot = unsafe { (*(ctx as *const Hook)).slot };
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    SCRATCH.get_ptr_mut(slot).map(|p| unsafe { &mut *p })
}

#[inline(always)]
fn word(id: u32, class: u32, w: u32) -> u64 {
    let key = WordKey { id, class, word: w };
    // SAFETY: the word is copied out before the map can change it.
    unsafe { WORDS.get(&key) }.copied().unwrap_or(0)
}

/// Checks the next candidate word of summary word `sw`; returns 1 to stop
/// (a match, or no candidate left in it).
#[inline(never)]
extern "C" fn next_word(_i: u32, ctx: *mut c_void) -> c_long {
    let Some(sc) = scratch(ctx) else { return 1 };
    let s = &mut sc.search;
    let cur = s.cur;
    if cur == 0 {
        return 1;
    }
    s.cur = cur & (cur - 1);
    let w = (s.sw % SUMMARY_WORDS as u32) * WORD_BITS + lowest_bit(cur);
    let first = s.start / WORD_BITS;
    if w < first {
        return 0;
    }
    let mut acc = u64::MAX;
    if w == first {
        acc <<= s.start % WORD_BITS;
    }
    let used = s.used;
    for f in 0..FIELDS as usize {
        if used & (1 << f) != 0 {
            acc &= word(s.ids[f], CLASS_W, w) ^ word(s.ids[f], s.classes[f], w);
        }
    }
    if acc != 0 {
        s.hit = w * WORD_BITS + lowest_bit(acc);
        return 1;
    }
    0
}

/// Searches summary word `i`; returns 1 to stop once a rule matched.
///
/// Both loops run through `bpf_loop` (Linux 5.17), so the verifier checks
/// each body once rather than once per word.
#[inline(never)]
extern "C" fn next_summary(i: u32, ctx: *mut c_void) -> c_long {
    let Some(sc) = scratch(ctx) else { return 1 };
    let s = &mut sc.search;
    let sw = i % SUMMARY_WORDS as u32;
    if sw < s.start / WORD_BITS / WORD_BITS {
        return 0;
    }
    s.sw = sw;
    s.cur = s.cand[sw as usize];
    if s.cur != 0 {
        // SAFETY: `next_word` has bpf_loop's callback type; ctx outlives the call.
        unsafe {
            bpf_loop(WORD_BITS, next_word as *mut c_void, ctx, 0);
        }
    }
    (s.hit != NO_MATCH) as c_long
}

/// The position in `chain` of its first rule at or after `start` that
/// accepts the walk's packet, or [`NO_MATCH`].
#[inline(always)]
fn first_match(
    ctx: *mut c_void,
    sc: &mut Scratch,
    chain: u32,
    info: &ChainInfo,
    start: u32,
) -> u32 {
    if start >= info.rule_count {
        return NO_MATCH;
    }
    if info.fields == 0 {
        return start;
    }
    cache_key(&mut sc.key, &sc.walk, chain, info.fields, start);
    let slot = cache_slot(&sc.key);
    if let Some(e) = MATCH_CACHE.get(slot)
        && e.key.same(&sc.key)
    {
        return e.hit;
    }
    let hit = search(ctx, sc, chain, info, start);
    if let Some(e) = MATCH_CACHE.get_ptr_mut(slot) {
        // SAFETY: this CPU's slot; nothing else writes it meanwhile.
        let e = unsafe { &mut *e };
        e.key.live = sc.key.live;
        e.key.chain = sc.key.chain;
        e.key.start = sc.key.start;
        for i in 0..FIELDS as usize {
            e.key.values[i] = sc.key.values[i];
        }
        for i in 0..8 {
            e.key.addr6[i] = sc.key.addr6[i];
        }
        e.hit = hit;
    }
    hit
}

/// [`first_match`] without the cache.
#[inline(always)]
fn search(ctx: *mut c_void, sc: &mut Scratch, chain: u32, info: &ChainInfo, start: u32) -> u32 {
    let bank = sc.walk.bank;
    let s = &mut sc.search;
    s.used = info.fields;
    s.start = start;
    s.hit = NO_MATCH;
    for i in 0..SUMMARY_WORDS {
        s.cand[i] = u64::MAX;
    }
    // By index, so the loop unrolls and every access is in bounds.
    for i in 0..FIELDS as usize {
        let f = Field::ALL[i];
        if info.fields & f.bit() == 0 {
            continue;
        }
        let id = field_id(bank, chain, f);
        let class = class_of(id, f, &sc.walk.pkt);
        // SAFETY: the summary is read before the map can change it (a swap
        // deletes the old bank's entries only after `live` moved on, and
        // an RCU grace period keeps them valid meanwhile).
        let Some(sum) = (unsafe { SUMMARY.get(&ClassKey { id, class }) }) else {
            // No rule accepts this class of this field.
            return NO_MATCH;
        };
        for i in 0..SUMMARY_WORDS {
            s.cand[i] &= sum.words[i];
        }
        s.ids[i] = id;
        s.classes[i] = class;
    }
    // Only the summary words that can hold this chain's rules: one for
    // chains of up to 4,096 rules.
    let summary_words = info.rule_count.div_ceil(WORD_BITS * WORD_BITS);
    // SAFETY: `next_summary` has bpf_loop's callback type; ctx outlives the call.
    unsafe {
        bpf_loop(summary_words, next_summary as *mut c_void, ctx, 0);
    }
    sc.search.hit
}

/// The root chain's fast path for an ESTABLISHED packet at the start of
/// its walk: the rule the compiler found to decide every such packet
/// (`ChainInfo::fast`), taken without the search and counted as the
/// walk counts it.
#[inline(always)]
fn fast(w: &Walk, chain: u32, info: &ChainInfo) -> FastPath {
    if chain != w.root || w.start != 0 || w.pkt.ctstate != ct::ESTABLISHED {
        return FastPath::None;
    }
    info.fast_rule()
}

/// One chain visit: find the first matching rule from `start` and take its
/// target. Returns 1 once the decision is taken.
#[inline(never)]
extern "C" fn walk_step(_i: u32, ctx: *mut c_void) -> c_long {
    let Some(sc) = scratch(ctx) else { return 1 };
    let bank = sc.walk.bank % BANKS;
    let chain = sc.walk.chain % MAX_CHAINS;
    let Some(info) = CHAINS.get(chain_slot(bank, chain)) else {
        anomaly(Anomaly::MissingEntry);
        sc.walk.decision = Some(Decision::Drop);
        return 1;
    };
    let n = match fast(&sc.walk, chain, info) {
        FastPath::Rule(n) => n,
        FastPath::None => first_match(ctx, sc, chain, info, sc.walk.start),
        FastPath::Garbled => {
            anomaly(Anomaly::MissingEntry);
            sc.walk.decision = Some(Decision::Drop);
            return 1;
        }
    };
    let len = sc.walk.pkt.len;
    let w = &mut sc.walk;
    // `None`: no rule matched, the chain's end.
    let verdict = if n == NO_MATCH {
        None
    } else {
        let Some(r) = RULES.get(rule_slot(bank, info.first_rule, n) % (BANKS * MAX_RULES)) else {
            anomaly(Anomaly::MissingEntry);
            w.decision = Some(Decision::Drop);
            return 1;
        };
        if r.checks != 0 {
            // xt_recent takes the TTL as received: FORWARD's is one less.
            let ttl = u32::from(w.pkt.ttl) + u32::from(w.root == CHAIN_FORWARD);
            match crate::check::fw_rule_checks(bank, r.checks, w.pkt.src, w.pkt.dst, ttl) {
                crate::check::PASS => {}
                crate::check::FAIL => {
                    // As if the rule's columns had not matched.
                    w.start = n + 1;
                    return 0;
                }
                // BAD (its anomaly counted) or HOTDROP: the packet drops.
                _ => {
                    w.decision = Some(Decision::Drop);
                    return 1;
                }
            }
        }
        count(r.counter, len);
        match r.verdict() {
            Some(v) => Some(v),
            None => {
                anomaly(Anomaly::BadTarget);
                w.decision = Some(Decision::Drop);
                return 1;
            }
        }
    };
    match verdict {
        Some(Verdict::Accept) => w.decision = Some(Decision::Accept),
        Some(Verdict::Drop) => w.decision = Some(Decision::Drop),
        // The hook answers (reject.rs).
        Some(Verdict::Reject(r)) => w.decision = Some(Decision::Reject(r)),
        Some(Verdict::Continue) => w.start = n + 1,
        Some(Verdict::Log(c)) => {
            // Noted here, sent by the hook once the walk is over (it has
            // the packet; this callback has not): the walk goes on.
            let k = w.nlogs;
            if k < log::MAX_PER_PACKET {
                w.logs[k as usize % LOG_PER_PACKET] = log::config_slot(bank, c);
                w.nlogs = k + 1;
            } else {
                crate::log::stat(log::Stat::Overflow);
            }
            w.start = n + 1;
        }
        Some(Verdict::Jump(to)) => {
            let d = w.depth as usize;
            if d >= MAX_JUMP_DEPTH {
                anomaly(Anomaly::WalkTooLong);
                w.decision = Some(Decision::Drop);
            } else {
                w.stack[d] = (chain, n + 1);
                w.depth += 1;
                (w.chain, w.start) = (to, 0);
            }
        }
        Some(Verdict::Goto(to)) => (w.chain, w.start) = (to, 0),
        Some(Verdict::Return) | None => {
            if w.depth > 0 {
                w.depth -= 1;
                (w.chain, w.start) = w.stack[w.depth as usize % MAX_JUMP_DEPTH];
            } else {
                // The end of (or a RETURN in) the built-in chain: its policy.
                let root = w.root % MAX_CHAINS;
                let policy = CHAINS
                    .get(chain_slot(bank, root))
                    .and_then(|i| Policy::decode(i.policy));
                w.decision = Some(match policy {
                    Some(Policy::Accept) => Decision::Accept,
                    Some(Policy::Drop) => Decision::Drop,
                    None => {
                        anomaly(Anomaly::BadPolicy);
                        Decision::Drop
                    }
                });
                count(policy_counter(root), len);
            }
        }
    }
    w.decision.is_some() as c_long
}

/// Whether the live bank's built-in chain `root` belongs to a table
/// netfilter reassembles datagrams for (`ChainInfo::defrag`).
#[inline(always)]
pub fn defrag(root: u32) -> bool {
    let Some(c) = CONFIG.get(0) else {
        return false;
    };
    if c.live == NOT_LIVE {
        return false;
    }
    CHAINS
        .get(chain_slot(c.live & 1, root % MAX_CHAINS))
        .is_some_and(|i| i.defrag != 0)
}

/// The decision of built-in chain `root` for `p`, counting the rules whose
/// targets were taken and, when it decides, the policy. `slot` is the
/// hook's scratch slot ([`SLOT_XDP`] or [`SLOT_TC`]).
#[inline(always)]
pub fn run(slot: u32, root: u32, p: &Packet) -> Decision {
    let Some(sc) = SCRATCH.get_ptr_mut(slot) else {
        anomaly(Anomaly::MissingEntry);
        return Decision::Drop;
    };
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    unsafe { (*sc).walk.nlogs = 0 };
    let live = match CONFIG.get(0) {
        Some(c) => c.live,
        None => return Decision::Accept,
    };
    if live == NOT_LIVE {
        return Decision::Accept;
    }
    let bank = live & 1;
    // SAFETY: this CPU's slot, used by nothing else until the program ends.
    let w = unsafe { &mut (*sc).walk };
    w.pkt = *p;
    w.bank = bank;
    w.live = live;
    w.root = root;
    w.chain = root;
    w.start = 0;
    w.depth = 0;
    w.decision = None;
    let mut hook = Hook { slot };
    // SAFETY: `walk_step` has bpf_loop's callback type; `hook` outlives the call.
    unsafe {
        bpf_loop(
            MAX_STEPS,
            walk_step as *mut c_void,
            (&raw mut hook).cast(),
            0,
        );
    }
    // SAFETY: as above; the callbacks have returned.
    match unsafe { (*sc).walk.decision } {
        Some(d) => d,
        None => {
            // The compiler refuses rulesets whose walks could run out of steps.
            anomaly(Anomaly::WalkTooLong);
            Decision::Drop
        }
    }
}
