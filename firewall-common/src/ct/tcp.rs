//! netfilter's TCP connection tracker, `nf_conntrack_tcp_packet`,
//! `tcp_in_window` and `tcp_new` of net/netfilter/nf_conntrack_proto_tcp.c
//! (Linux 6.x), on fw's [`CtEntry`]: the state machine
//! ([`TCP_TRANSITIONS`]) and the sequence and window checks ("Real
//! Stateful TCP Packet Filtering in IP Filter", Guido van Rooij) that
//! make an out-of-window segment or a RST below the peer's highest ACK
//! INVALID, as `nf_conntrack_tcp_be_liberal=0` (the default) does.
//!
//! The eBPF side runs [`packet`] in one global function, verified once;
//! user-space tests run it as it is. The names are netfilter's: `seen[0]`
//! is the original direction's sender, `seen[1]` the reply's; `td_end`
//! the highest sequence number a side sent plus its length, `td_maxend`
//! the right edge of the window the other side offered, `td_maxwin` the
//! largest window it was offered, `td_maxack` the highest ACK it sent.
//!
//! fw tracks as `nf_conntrack_tcp_loose=0`: only a SYN opens a connection
//! ([`new`]), so no side starts `BE_LIBERAL`.

use super::{
    CtEntry, F_ASSURED, F_ORIG_FIRST, F_SEEN_REPLY, TCP_ACK, TCP_FIN, TCP_IG, TCP_IV, TCP_RST,
    TCP_SYN, TCP_TRANSITIONS, TcpState, Timeouts, tcp_index,
};

/// [`Side::flags`] (netfilter's `IP_CT_TCP_FLAG_*`, nf_conntrack_tcp.h):
/// the side sent the window scale option.
pub const WINDOW_SCALE: u8 = 0x01;
/// The side sent SACK-permitted: its peer's SACK blocks count.
pub const SACK_PERM: u8 = 0x02;
/// A FIN of this side moved the connection to FIN_WAIT.
pub const CLOSE_INIT: u8 = 0x04;
/// Window checks are skipped for this side (a picked-up connection;
/// never set while fw tracks as `loose=0`).
pub const BE_LIBERAL: u8 = 0x08;
/// The side sent data not yet acknowledged.
pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
/// `td_maxack` holds an ACK the side sent.
pub const MAXACK_SET: u8 = 0x20;
/// [`Track::last_flags`]: a SYN in LAST_ACK may draw an RFC 5961
/// challenge ACK.
pub const EXP_CHALLENGE_ACK: u8 = 0x40;
/// [`Track::last_flags`]: both sides sent a SYN.
pub const SIMULTANEOUS_OPEN: u8 = 0x80;

/// `TCP_MAX_WSCALE` (RFC 7323 section 2.3).
const MAX_WSCALE: u8 = 14;
/// `MAXACKWINCONST`.
const MAXACKWINCONST: u32 = 66_000;

/// netfilter's `TCP_*_SET` indexes ([`tcp_index`]).
const SYN_SET: u8 = 0;
const SYNACK_SET: u8 = 1;
const FIN_SET: u8 = 2;
const ACK_SET: u8 = 3;
const RST_SET: u8 = 4;
const NONE_SET: u8 = 5;

/// TCP option kinds (RFC 9293, RFC 7323, RFC 2018). `tcp_sack`'s fast
/// path for a timestamp alone only saves the walk, which finds no SACK.
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_WINDOW: u8 = 3;
const OPT_SACK_PERM: u8 = 4;
const OPT_SACK: u8 = 5;

/// The largest TCP option area, bytes.
pub const MAX_OPTLEN: usize = 40;

/// One direction's sequence space, netfilter's `ip_ct_tcp_state`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Side {
    /// `td_end`: highest sequence number sent plus its length.
    pub end: u32,
    /// `td_maxend`: the right edge of the window offered to this side.
    pub maxend: u32,
    /// `td_maxwin`: the largest window offered to this side.
    pub maxwin: u32,
    /// `td_maxack`: the highest ACK this side sent.
    pub maxack: u32,
    /// `td_scale`: the window scale this side announced.
    pub scale: u8,
    /// The `WINDOW_SCALE` ... `MAXACK_SET` bits.
    pub flags: u8,
    /// Zero.
    pub _pad: [u8; 2],
}

/// A connection's TCP tracking, netfilter's `ip_ct_tcp` less the state
/// (`CtEntry::tcp`). Zero for a connection fw did not see open (one a
/// test or `fw` wrote): its first segment each way then sets up the
/// side as netfilter does for a connection picked up mid-stream.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Track {
    /// By direction: 0 the original, 1 the reply.
    pub seen: [Side; 2],
    /// The last segment the tracker took (for retransmissions, the
    /// ignored-SYN resynchronisation and RST checks): its sequence
    /// number ...
    pub last_seq: u32,
    /// ... its ACK ...
    pub last_ack: u32,
    /// ... and its end.
    pub last_end: u32,
    /// Its window, unscaled.
    pub last_win: u16,
    /// Its [`tcp_index`] (`NONE_SET`, 5, before any).
    pub last_index: u8,
    /// Its direction, 0 or 1.
    pub last_dir: u8,
    /// The window scale of the last ignored SYN.
    pub last_wscale: u8,
    /// `WINDOW_SCALE`, `SACK_PERM` of the last ignored SYN,
    /// [`EXP_CHALLENGE_ACK`], [`SIMULTANEOUS_OPEN`].
    pub last_flags: u8,
    /// Retransmissions of the last ACK segment in a row.
    pub retrans: u8,
    /// Zero.
    pub _pad: [u8; 5],
}

/// What the tracker reads of a TCP segment, host byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Data bytes: the IP total length less the IP header and the TCP
    /// data offset.
    pub payload: u32,
    /// The window field, unscaled.
    pub win: u16,
    /// Flags FIN to URG (byte 13 of the header, bits 0-5).
    pub flags: u8,
    /// 1 when the segment has options (a data offset above 5 words).
    pub has_options: u8,
    /// What [`options`] read: [`WINDOW_SCALE`] and [`SACK_PERM`] ...
    pub opt_flags: u8,
    /// ... and the window scale.
    pub opt_scale: u8,
    /// Zero.
    pub _pad: [u8; 2],
    /// `ack` raised to the highest right edge of its SACK blocks
    /// ([`sack`]).
    pub sack: u32,
}

impl Segment {
    /// `tcp_options` into `side`: the window scale and SACK-permitted
    /// options read, when the segment has options at all.
    #[inline(always)]
    fn options_into(&self, side: &mut Side) {
        if self.has_options == 0 {
            return;
        }
        side.scale = self.opt_scale;
        side.flags = (side.flags & BE_LIBERAL) | self.opt_flags;
    }

    /// The walk [`Segment::read_options`] starts over `len` option bytes.
    pub fn option_walk(&self, len: usize) -> OptionWalk {
        OptionWalk {
            len: if len > MAX_OPTLEN { 0 } else { len as u32 },
            sack: self.ack,
            ..OptionWalk::default()
        }
    }

    /// Fills `has_options`, `opt_flags`, `opt_scale` and `sack` from a
    /// finished walk.
    pub fn take_options(&mut self, w: &OptionWalk) {
        self.has_options = u8::from(w.len > 0);
        self.opt_flags = w.flags;
        self.opt_scale = w.scale;
        self.sack = w.sack;
    }

    /// Fills `has_options`, `opt_flags`, `opt_scale` and `sack` from the
    /// first `len` bytes of the option area.
    pub fn read_options(&mut self, area: &[u8; MAX_OPTLEN], len: usize) {
        let mut w = self.option_walk(len);
        // Each step moves on by at least one byte.
        for _ in 0..MAX_OPTLEN {
            if option_step(area, &mut w) {
                break;
            }
        }
        self.take_options(&w);
    }
}

/// What [`packet`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// INVALID: the packet belongs to no connection (the entry may have
    /// changed, as netfilter notes an invalid FIN or RST).
    Invalid,
    /// Let through with the state it arrived with; the entry updated.
    Accept,
    /// Let through, and the entry removed: a RST before any answer.
    Delete,
    /// A SYN reopening a closed connection: remove the entry and track
    /// the SYN as a new connection.
    Reopen,
}

#[inline(always)]
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

#[inline(always)]
fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// `segment_seq_plus_len`: the sequence number after the segment.
#[inline(always)]
fn seg_end(s: &Segment) -> u32 {
    s.seq
        .wrapping_add(s.payload)
        .wrapping_add(u32::from(s.flags & TCP_SYN != 0))
        .wrapping_add(u32::from(s.flags & TCP_FIN != 0))
}

/// `MAXACKWINDOW(sender)`.
#[inline(always)]
fn max_ack_window(s: &Side) -> u32 {
    if s.maxwin > MAXACKWINCONST {
        s.maxwin
    } else {
        MAXACKWINCONST
    }
}

/// `TCP_TRANSITIONS[dir][index][old]`, `TCP_IV` out of range (a corrupt
/// entry), every index checked where the verifier sees it.
#[inline(always)]
pub fn transition(dir: usize, index: u8, old: u8) -> u8 {
    let Some(by_index) = TCP_TRANSITIONS.get(dir) else {
        return TCP_IV;
    };
    let Some(by_old) = by_index.get(usize::from(index)) else {
        return TCP_IV;
    };
    match by_old.get(usize::from(old)) {
        Some(&s) => s,
        None => TCP_IV,
    }
}

/// Byte `i` of the option area, 0 past it.
#[inline(always)]
fn byte(area: &[u8; MAX_OPTLEN], i: usize) -> u8 {
    match area.get(i) {
        Some(&b) => b,
        None => 0,
    }
}

/// A walk of a TCP option area as netfilter's `tcp_options` and
/// `tcp_sack` walk it (the two step alike: EOL ends, NOP is one byte, a
/// length below 2 or past the area ends), one option a [`option_step`],
/// so that the eBPF side can run it in `bpf_loop`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionWalk {
    /// The next option's offset.
    pub i: u32,
    /// The area's length, bytes (at most [`MAX_OPTLEN`]).
    pub len: u32,
    /// `tcp_sack`'s answer so far: the ACK raised to the highest right
    /// edge of the first SACK option's blocks.
    pub sack: u32,
    /// `tcp_options`' answer: [`WINDOW_SCALE`], [`SACK_PERM`] ...
    pub flags: u8,
    /// ... and the scale (at most 14).
    pub scale: u8,
    /// The first SACK option was read (`tcp_sack` stops there).
    pub sack_done: u8,
    /// Zero.
    pub _pad: u8,
}

/// One option of `w`'s walk over `area`; true when the walk ends.
#[inline(always)]
pub fn option_step(area: &[u8; MAX_OPTLEN], w: &mut OptionWalk) -> bool {
    let (i, len) = (w.i as usize, w.len as usize);
    if i >= len || i >= MAX_OPTLEN {
        return true;
    }
    let kind = byte(area, i);
    match kind {
        OPT_EOL => return true,
        OPT_NOP => {
            w.i += 1;
            return false;
        }
        _ => {}
    }
    let left = len - i;
    if left < 2 {
        return true;
    }
    let size = usize::from(byte(area, i + 1));
    if size < 2 || size > left {
        return true;
    }
    if kind == OPT_SACK_PERM && size == 2 {
        w.flags |= SACK_PERM;
    } else if kind == OPT_WINDOW && size == 3 {
        let scale = byte(area, i + 2);
        w.scale = if scale > MAX_WSCALE {
            MAX_WSCALE
        } else {
            scale
        };
        w.flags |= WINDOW_SCALE;
    } else if kind == OPT_SACK && w.sack_done == 0 && size >= 10 && (size - 2) % 8 == 0 {
        // At most 4 blocks fit in 40 bytes.
        for b in 0..4 {
            if 2 + b * 8 >= size {
                break;
            }
            let at = i + 2 + b * 8 + 4;
            let edge = u32::from_be_bytes([
                byte(area, at),
                byte(area, at + 1),
                byte(area, at + 2),
                byte(area, at + 3),
            ]);
            if after(edge, w.sack) {
                w.sack = edge;
            }
        }
        w.sack_done = 1;
    }
    w.i += size as u32;
    false
}

/// `nf_ct_tcp_state_reset`.
#[inline(always)]
fn reset(s: &mut Side) {
    *s = Side {
        flags: s.flags & BE_LIBERAL,
        ..Side::default()
    };
}

/// `tcp_init_sender`: a SYN+ACK answering a SYN, or a SYN of the reply
/// side in a simultaneous open.
#[inline(always)]
fn init_sender(
    sender: &mut Side,
    receiver: &mut Side,
    seg: &Segment,
    end: u32,
    win: u32,
    reply: bool,
) {
    sender.end = end;
    sender.maxend = end;
    sender.maxwin = if win == 0 { 1 } else { win };
    seg.options_into(sender);
    // RFC 7323: both sides must send the option for either to scale.
    if reply && !(sender.flags & WINDOW_SCALE != 0 && receiver.flags & WINDOW_SCALE != 0) {
        sender.scale = 0;
        receiver.scale = 0;
    }
}

/// `tcp_in_window`'s three answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// In window: the connection updated.
    Accept = 0,
    /// Let through, the connection as it was (a retransmission, a late
    /// ACK).
    Ignore = 1,
    /// INVALID.
    Invalid = 2,
}

impl Window {
    /// The answer numbered `n` (`Window as u32`); INVALID for any other.
    pub const fn from_u32(n: u32) -> Window {
        match n {
            0 => Window::Accept,
            1 => Window::Ignore,
            _ => Window::Invalid,
        }
    }
}

/// `nf_tcp_log_invalid`: under `be_liberal` a failed check accepts.
#[inline(always)]
fn failed(sender: &Side, cfg: &Timeouts, w: Window) -> Window {
    if sender.flags & BE_LIBERAL != 0 || cfg.be_liberal != 0 {
        Window::Accept
    } else {
        w
    }
}

/// `tcp_in_window`: checks the segment against the sequence space and
/// updates it. `state` is the connection's state before the packet.
#[inline(always)]
pub fn in_window(
    t: &mut Track,
    state: u8,
    reply: bool,
    index: u8,
    seg: &Segment,
    cfg: &Timeouts,
) -> Window {
    let dir = u8::from(reply);
    let [s0, s1] = &mut t.seen;
    let (sender, receiver) = if reply { (s1, s0) } else { (s0, s1) };
    let syn = seg.flags & TCP_SYN != 0;
    let has_ack = seg.flags & TCP_ACK != 0;
    let mut seq = seg.seq;
    let mut ack = seg.ack;
    let mut sack = seg.ack;
    let mut win = u32::from(seg.win);
    let mut end = seg_end(seg);
    if receiver.flags & SACK_PERM != 0 {
        sack = seg.sack;
    }
    if sender.maxwin == 0 {
        if syn {
            init_sender(sender, receiver, seg, end, win, reply);
            if !has_ack {
                // A simultaneous open.
                return Window::Accept;
            }
        } else {
            // Mid-connection: its history is lost; take the packet's.
            sender.end = end;
            let swin = win << (sender.scale & 31);
            sender.maxwin = if swin == 0 { 1 } else { swin };
            sender.maxend = end.wrapping_add(sender.maxwin);
            if receiver.maxwin == 0 {
                receiver.end = sack;
                receiver.maxend = sack;
            } else if sack == receiver.end.wrapping_add(1) {
                // Likely a reply to a keepalive.
                receiver.end = receiver.end.wrapping_add(1);
            }
        }
    } else if syn
        && after(end, sender.end)
        && (state == TcpState::SynSent as u8 || state == TcpState::SynRecv as u8)
    {
        // RFC 9293: a reinitialised TCP uses higher sequence numbers.
        init_sender(sender, receiver, seg, end, win, reply);
        if reply && !has_ack {
            return Window::Accept;
        }
    }
    if !has_ack || (seg.flags & (TCP_ACK | TCP_RST) == TCP_ACK | TCP_RST && ack == 0) {
        // No ACK (or a broken stack's RST+ACK 0): pretend it acked all.
        ack = receiver.end;
        sack = receiver.end;
    }
    if seg.flags & TCP_RST != 0 && seq == 0 && state == TcpState::SynSent as u8 {
        // A RST answering a SYN.
        seq = sender.end;
        end = sender.end;
    }
    if !before(seq, sender.maxend.wrapping_add(1)) {
        let overshot = end.wrapping_sub(sender.maxend).wrapping_add(1);
        let ack_ok = after(
            sack,
            receiver
                .end
                .wrapping_sub(max_ack_window(sender))
                .wrapping_sub(1),
        );
        let in_recv_win = receiver.maxwin != 0
            && after(
                end,
                sender.end.wrapping_sub(receiver.maxwin).wrapping_sub(1),
            );
        if in_recv_win
            && ack_ok
            && overshot <= receiver.maxwin
            && before(sack, receiver.end.wrapping_add(1))
        {
            // More bytes than the window allows: note them, so that
            // their ACK does not fail the upper bound.
            sender.end = end;
            sender.flags |= DATA_UNACKNOWLEDGED;
            return failed(sender, cfg, Window::Ignore);
        }
        return failed(sender, cfg, Window::Invalid);
    }
    if !before(sack, receiver.end.wrapping_add(1)) {
        // ACK over the upper bound: acked data not seen yet.
        return failed(sender, cfg, Window::Invalid);
    }
    let in_recv_win = receiver.maxwin == 0
        || after(
            end,
            sender.end.wrapping_sub(receiver.maxwin).wrapping_sub(1),
        );
    if !in_recv_win {
        // Already acknowledged data retransmitted.
        return failed(sender, cfg, Window::Ignore);
    }
    if !after(
        sack,
        receiver
            .end
            .wrapping_sub(max_ack_window(sender))
            .wrapping_sub(1),
    ) {
        // An ACK under the lower bound (overly delayed).
        return failed(sender, cfg, Window::Ignore);
    }
    if !syn {
        win <<= sender.scale & 31;
    }
    let swin = win.wrapping_add(sack.wrapping_sub(ack));
    if sender.maxwin < swin {
        sender.maxwin = swin;
    }
    if after(end, sender.end) {
        sender.end = end;
        sender.flags |= DATA_UNACKNOWLEDGED;
    }
    if has_ack {
        if sender.flags & MAXACK_SET == 0 {
            sender.maxack = ack;
            sender.flags |= MAXACK_SET;
        } else if after(ack, sender.maxack) {
            sender.maxack = ack;
        }
    }
    if receiver.maxwin != 0 && after(end, sender.maxend) {
        receiver.maxwin = receiver
            .maxwin
            .wrapping_add(end.wrapping_sub(sender.maxend));
    }
    if after(sack.wrapping_add(win), receiver.maxend.wrapping_sub(1)) {
        receiver.maxend = sack.wrapping_add(win);
        if win == 0 {
            receiver.maxend = receiver.maxend.wrapping_add(1);
        }
    }
    if ack == receiver.end {
        receiver.flags &= !DATA_UNACKNOWLEDGED;
    }
    if index == ACK_SET {
        if t.last_dir == dir
            && t.last_seq == seq
            && t.last_ack == ack
            && t.last_end == end
            && t.last_win == seg.win
        {
            t.retrans = t.retrans.saturating_add(1);
        } else {
            t.last_dir = dir;
            t.last_seq = seq;
            t.last_ack = ack;
            t.last_end = end;
            t.last_win = seg.win;
            t.retrans = 0;
        }
    }
    Window::Accept
}

/// `nf_tcp_handle_invalid`: an invalid FIN or RST of an assured
/// connection is noted, or, answering the other side's, shortens its
/// timeout to `tcp_unacknowledged`.
#[inline(always)]
fn handle_invalid(e: &mut CtEntry, reply: bool, index: u8, cfg: &Timeouts, now: u64) {
    if e.flags & F_ASSURED == 0 || (index != RST_SET && index != FIN_SET) {
        return;
    }
    let dir = u8::from(reply);
    let t = &mut e.track;
    if t.last_dir != dir && (t.last_index == FIN_SET || t.last_index == RST_SET) {
        let left = e.expires.saturating_sub(now);
        if left < 120 * NS {
            return;
        }
        let timeout = u64::from(cfg.tcp_unacknowledged) * NS;
        if left > timeout {
            e.expires = now + timeout;
        }
    } else {
        t.last_index = index;
        t.last_dir = dir;
    }
}

const NS: u64 = 1_000_000_000;

/// `nf_conntrack_tcp_established`.
#[inline(always)]
fn established(e: &CtEntry) -> bool {
    e.tcp == TcpState::Established as u8 && e.flags & F_ASSURED != 0
}

/// `tcp_can_early_drop`: a closing connection, whose tuple may be reused.
#[inline(always)]
fn closing(state: u8) -> bool {
    state == TcpState::FinWait as u8
        || state == TcpState::LastAck as u8
        || state == TcpState::TimeWait as u8
        || state == TcpState::Close as u8
        || state == TcpState::CloseWait as u8
}

/// The connection a SYN opens, before [`packet`] takes the SYN
/// (`tcp_new` with `loose=0`): false when the packet cannot open one
/// (INVALID). `e` keeps only its `F_ORIG_FIRST` flag, and takes the
/// SYN's sequence space; [`packet`] then runs on it as on any entry (its
/// state NONE), as netfilter runs `nf_conntrack_tcp_packet` on the new
/// connection.
#[inline(always)]
pub fn open(seg: &Segment, e: &mut CtEntry) -> bool {
    if transition(0, tcp_index(seg.flags), TcpState::None as u8) != TcpState::SynSent as u8 {
        return false;
    }
    *e = CtEntry {
        flags: e.flags & F_ORIG_FIRST,
        ..CtEntry::default()
    };
    let s = &mut e.track.seen[0];
    s.end = seg_end(seg);
    s.maxwin = if seg.win == 0 { 1 } else { u32::from(seg.win) };
    s.maxend = s.end;
    seg.options_into(s);
    e.track.last_index = NONE_SET;
    true
}

/// One TCP packet of a live connection (`nf_conntrack_tcp_packet`, then
/// `nf_conntrack_in`'s `IPS_SEEN_REPLY`), `reply` when it goes the reply
/// way; updates `e` (state, tracking, `expires`) and says what to do.
/// `seg` has its options read ([`Segment::read_options`]).
#[inline(always)]
pub fn packet(e: &mut CtEntry, seg: &Segment, reply: bool, cfg: &Timeouts, now: u64) -> Verdict {
    packet_with(e, seg, reply, cfg, now, &mut |e, state, reply, index| {
        in_window(&mut e.track, state, reply, index, seg, cfg)
    })
}

/// [`packet`] with [`in_window`] given as `window` (`state`, `reply`,
/// `index`): the eBPF side runs it as a global function of its own, so
/// that the verifier checks it once rather than on every path here.
#[inline(always)]
pub fn packet_with(
    e: &mut CtEntry,
    seg: &Segment,
    reply: bool,
    cfg: &Timeouts,
    now: u64,
    window: &mut impl FnMut(&mut CtEntry, u8, bool, u8) -> Window,
) -> Verdict {
    let v = step(e, seg, reply, cfg, now, window);
    if v == Verdict::Accept && reply {
        e.flags |= F_SEEN_REPLY;
    }
    v
}

#[inline(always)]
fn step(
    e: &mut CtEntry,
    seg: &Segment,
    reply: bool,
    cfg: &Timeouts,
    now: u64,
    window: &mut impl FnMut(&mut CtEntry, u8, bool, u8) -> Window,
) -> Verdict {
    let dir = u8::from(reply);
    let index = tcp_index(seg.flags);
    let state = e.tcp;
    let est = established(e);
    let seen_reply = e.flags & F_SEEN_REPLY != 0;
    let assured = e.flags & F_ASSURED != 0;
    let mut old = state;
    let mut next = transition(usize::from(dir), index, old);
    let mut skip_window = false;
    let end = seg_end(seg);
    let t = &mut e.track;
    if next == TcpState::SynSent as u8 && old >= TcpState::TimeWait as u8 {
        // A SYN reopening a connection a FIN closed, or one this side's
        // RST aborted: tracked anew. Otherwise ignored.
        if (t.seen[0].flags | t.seen[1].flags) & CLOSE_INIT != 0
            || (t.last_dir == dir && t.last_index == RST_SET)
        {
            return Verdict::Reopen;
        }
        next = TCP_IG;
    }
    if next == TCP_IG {
        if index == SYNACK_SET
            && t.last_index == SYN_SET
            && t.last_dir != dir
            && seg.ack == t.last_end
        {
            // This SYN+ACK answers a SYN ignored earlier: both ends are
            // in sync and the tracker is not; take the SYN's values.
            old = TcpState::SynSent as u8;
            next = TcpState::SynRecv as u8;
            let [s0, s1] = &mut t.seen;
            let (synner, this) = if t.last_dir == 0 { (s0, s1) } else { (s1, s0) };
            synner.end = t.last_end;
            synner.maxend = t.last_end;
            synner.maxwin = if t.last_win == 0 {
                1
            } else {
                u32::from(t.last_win)
            };
            synner.scale = t.last_wscale;
            t.last_flags &= !EXP_CHALLENGE_ACK;
            synner.flags = t.last_flags;
            reset(this);
        } else {
            t.last_index = index;
            t.last_dir = dir;
            t.last_seq = seg.seq;
            t.last_end = end;
            t.last_win = seg.win;
            if index == SYN_SET && !reply {
                // A SYN the tracker is not in sync with: note its options
                // for the SYN+ACK that may answer it.
                let mut s = Side::default();
                t.last_flags = 0;
                t.last_wscale = 0;
                seg.options_into(&mut s);
                if s.flags & WINDOW_SCALE != 0 {
                    t.last_flags |= WINDOW_SCALE;
                    t.last_wscale = s.scale;
                }
                if s.flags & SACK_PERM != 0 {
                    t.last_flags |= SACK_PERM;
                }
                if old == TcpState::LastAck as u8 {
                    t.last_flags |= EXP_CHALLENGE_ACK;
                }
            }
            if old == TcpState::SynSent as u8 && index == ACK_SET && reply {
                // A possible challenge ACK answering the SYN.
                t.last_ack = seg.ack;
            }
            return Verdict::Accept;
        }
    } else if next == TCP_IV {
        return Verdict::Invalid;
    } else if next == TcpState::TimeWait as u8 {
        if old == TcpState::LastAck as u8
            && index == ACK_SET
            && t.last_dir != dir
            && t.last_index == SYN_SET
            && t.last_flags & EXP_CHALLENGE_ACK != 0
        {
            // An RFC 5961 challenge ACK, not the ACK of the last FIN.
            t.last_flags &= !EXP_CHALLENGE_ACK;
            return Verdict::Accept;
        }
    } else if next == TcpState::SynSent2 as u8 {
        t.last_flags |= SIMULTANEOUS_OPEN;
    } else if next == TcpState::SynRecv as u8 {
        if reply && index == ACK_SET && t.last_flags & SIMULTANEOUS_OPEN != 0 {
            next = TcpState::Established as u8;
        }
    } else if next == TcpState::Close as u8 && index == RST_SET {
        if closing(state) {
            // The tuple may have been reused: no sequence checks.
            skip_window = true;
        } else {
            let mut checked = false;
            let peer = if reply { t.seen[0] } else { t.seen[1] };
            if peer.flags & MAXACK_SET != 0 && t.last_index != SYN_SET {
                let seq = seg.seq;
                if seq == 0 && !est {
                    // Likely the answer to a SYN let through.
                    checked = true;
                } else if before(seq, peer.maxack) && cfg.ignore_invalid_rst == 0 {
                    return Verdict::Invalid;
                } else if !est || seq == peer.maxack {
                    checked = true;
                } else if t.last_index == ACK_SET && t.last_dir == dir && seq == t.last_end {
                    // A RST ending a train of data.
                    checked = true;
                } else {
                    // Not exactly in sequence: stay, for a challenge ACK.
                    next = old;
                }
            }
            if !checked {
                if ((seen_reply && t.last_index == SYN_SET)
                    || (!assured && t.last_index == ACK_SET))
                    && seg.ack == t.last_end
                {
                    // A RST answering a SYN or ACK let through: the
                    // connection is half open.
                    skip_window = true;
                } else if old == TcpState::SynSent as u8
                    && t.last_index == ACK_SET
                    && t.last_dir == 1
                    && seg.seq == t.last_ack
                {
                    // A RST answering a challenge ACK let through.
                    skip_window = true;
                }
            }
        }
    }
    if !skip_window {
        match window(e, state, reply, index) {
            Window::Accept => {}
            Window::Ignore => return Verdict::Accept,
            Window::Invalid => {
                handle_invalid(e, reply, index, cfg, now);
                return Verdict::Invalid;
            }
        }
    }
    let t = &mut e.track;
    t.last_index = index;
    t.last_dir = dir;
    e.tcp = next;
    if old != next && next == TcpState::FinWait as u8 {
        if reply {
            t.seen[1].flags |= CLOSE_INIT;
        } else {
            t.seen[0].flags |= CLOSE_INIT;
        }
    }
    let of_state = cfg.tcp_timeout(next);
    let timeout = if u32::from(t.retrans) >= cfg.max_retrans && of_state > cfg.tcp_max_retrans {
        cfg.tcp_max_retrans
    } else if index == RST_SET {
        cfg.tcp_close
    } else if (t.seen[0].flags | t.seen[1].flags) & DATA_UNACKNOWLEDGED != 0
        && of_state > cfg.tcp_unacknowledged
    {
        cfg.tcp_unacknowledged
    } else if t.last_win == 0 && of_state > cfg.tcp_max_retrans {
        cfg.tcp_max_retrans
    } else {
        of_state
    };
    let mut timeout = timeout;
    if e.flags & F_SEEN_REPLY == 0 {
        if seg.flags & TCP_RST != 0 {
            // "If only reply is a RST, we can consider ourselves not to
            // have an established connection": deleted at once.
            return Verdict::Delete;
        }
        if index == SYN_SET && old == TcpState::SynSent as u8 {
            // A SYN retransmitted does not renew the timeout.
            return Verdict::Accept;
        }
        if next == TcpState::Established as u8 && timeout > cfg.tcp_unacknowledged {
            timeout = cfg.tcp_unacknowledged;
        }
    } else if e.flags & F_ASSURED == 0
        && (old == TcpState::SynRecv as u8 || old == TcpState::Established as u8)
        && next == TcpState::Established as u8
    {
        e.flags |= F_ASSURED;
    }
    e.expires = now + u64::from(timeout) * NS;
    Verdict::Accept
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000 * NS;

    /// [`open`], then [`packet`], as the eBPF side runs a new
    /// connection's SYN: whether `seg` opens one in `e` (`flags`: its
    /// `F_ORIG_FIRST`).
    fn new(seg: &Segment, flags: u8, cfg: &Timeouts, now: u64, e: &mut CtEntry) -> bool {
        e.flags = flags;
        super::open(seg, e) && packet(e, seg, false, cfg, now) != Verdict::Invalid
    }

    fn seg(flags: u8, seq: u32, ack: u32, payload: u32) -> Segment {
        let mut s = Segment {
            seq,
            ack,
            payload,
            win: 64_240,
            flags,
            ..Segment::default()
        };
        s.read_options(&[0; MAX_OPTLEN], 0);
        s
    }

    fn go(e: &mut CtEntry, s: Segment, reply: bool) -> Verdict {
        packet(e, &s, reply, &Timeouts::DEFAULT, NOW)
    }

    /// A handshake from client seq 1000 to server seq 5000.
    fn open() -> CtEntry {
        let mut e = CtEntry::default();
        assert!(new(
            &seg(TCP_SYN, 1000, 0, 0),
            0,
            &Timeouts::DEFAULT,
            NOW,
            &mut e
        ));
        assert_eq!(e.tcp, TcpState::SynSent as u8);
        assert_eq!(
            go(&mut e, seg(TCP_SYN | TCP_ACK, 5000, 1001, 0), true),
            Verdict::Accept
        );
        assert_eq!(e.tcp, TcpState::SynRecv as u8);
        assert_eq!(
            go(&mut e, seg(TCP_ACK, 1001, 5001, 0), false),
            Verdict::Accept
        );
        assert_eq!(e.tcp, TcpState::Established as u8);
        assert_ne!(e.flags & F_ASSURED, 0);
        e
    }

    #[test]
    fn a_handshake_and_data_in_window_are_accepted() {
        let mut e = open();
        assert_eq!(
            go(&mut e, seg(TCP_ACK, 1001, 5001, 100), false),
            Verdict::Accept
        );
        assert_eq!(
            go(&mut e, seg(TCP_ACK, 5001, 1101, 0), true),
            Verdict::Accept
        );
        assert_eq!(e.track.seen[0].end, 1101);
        assert_eq!(e.track.seen[1].maxack, 1101);
    }

    #[test]
    fn an_ack_of_data_never_sent_is_invalid_unless_liberal() {
        let mut e = open();
        let s = seg(TCP_ACK, 5001, 90_000, 0);
        assert_eq!(go(&mut e.clone(), s, true), Verdict::Invalid);
        let liberal = Timeouts {
            be_liberal: 1,
            ..Timeouts::DEFAULT
        };
        assert_eq!(packet(&mut e, &s, true, &liberal, NOW), Verdict::Accept);
    }

    #[test]
    fn a_rst_below_the_peers_highest_ack_is_invalid() {
        let mut e = open();
        // The server acknowledged 1001; a RST from the client at 900.
        assert_eq!(
            go(&mut e, seg(TCP_ACK, 5001, 1001, 0), true),
            Verdict::Accept
        );
        assert_eq!(
            go(&mut e.clone(), seg(TCP_RST, 900, 0, 0), false),
            Verdict::Invalid
        );
        let ignore = Timeouts {
            ignore_invalid_rst: 1,
            ..Timeouts::DEFAULT
        };
        // Not below: but not exactly at it either, so the state stays.
        let mut e2 = e;
        assert_eq!(
            packet(&mut e2, &seg(TCP_RST, 900, 0, 0), false, &ignore, NOW),
            Verdict::Accept
        );
        assert_eq!(e2.tcp, TcpState::Established as u8);
        assert_eq!(go(&mut e, seg(TCP_RST, 1001, 0, 0), false), Verdict::Accept);
        assert_eq!(e.tcp, TcpState::Close as u8);
    }

    #[test]
    fn a_rst_answering_the_syn_deletes_the_connection() {
        let mut e = CtEntry::default();
        assert!(new(
            &seg(TCP_SYN, 1000, 0, 0),
            0,
            &Timeouts::DEFAULT,
            NOW,
            &mut e
        ));
        assert_eq!(
            go(&mut e.clone(), seg(TCP_RST | TCP_ACK, 0, 1001, 0), true),
            Verdict::Delete
        );
        // One acknowledging what was not sent is out of window.
        assert_eq!(
            go(&mut e, seg(TCP_RST | TCP_ACK, 0, 7777, 0), true),
            Verdict::Invalid
        );
    }

    #[test]
    fn options_and_sack_blocks_are_read_as_netfilter_reads_them() {
        let mut area = [0u8; MAX_OPTLEN];
        // MSS, SACK-permitted, NOP, window scale 15 (capped at 14).
        area[..11].copy_from_slice(&[2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 15, 0]);
        let mut s = Segment::default();
        s.read_options(&area, 12);
        assert_eq!(
            (s.opt_scale, s.opt_flags, s.has_options),
            (14, WINDOW_SCALE | SACK_PERM, 1)
        );
        // NOP, NOP, SACK with two blocks: right edges 300 and 200.
        let mut a = [0u8; MAX_OPTLEN];
        a[..4].copy_from_slice(&[1, 1, 5, 18]);
        a[4..12].copy_from_slice(&[0, 0, 0, 100, 0, 0, 1, 44]);
        a[12..20].copy_from_slice(&[0, 0, 0, 100, 0, 0, 0, 200]);
        let mut s = Segment {
            ack: 50,
            ..Segment::default()
        };
        s.read_options(&a, 20);
        assert_eq!(s.sack, 300);
        // A partial option ends the walk.
        let mut a = [0u8; MAX_OPTLEN];
        a[..3].copy_from_slice(&[3, 9, 7]);
        let mut s = Segment::default();
        s.read_options(&a, 4);
        assert_eq!(s.opt_flags, 0);
    }

    #[test]
    fn a_syn_after_a_fin_closed_connection_reopens_it() {
        let mut e = open();
        assert_eq!(
            go(&mut e, seg(TCP_FIN | TCP_ACK, 1001, 5001, 0), false),
            Verdict::Accept
        );
        assert_eq!(
            go(&mut e, seg(TCP_FIN | TCP_ACK, 5001, 1002, 0), true),
            Verdict::Accept
        );
        assert_eq!(
            go(&mut e, seg(TCP_ACK, 1002, 5002, 0), false),
            Verdict::Accept
        );
        assert_eq!(e.tcp, TcpState::TimeWait as u8);
        assert_eq!(go(&mut e, seg(TCP_SYN, 9000, 0, 0), false), Verdict::Reopen);
    }

    #[test]
    fn a_syn_ack_answering_an_ignored_syn_resynchronises() {
        let mut e = open();
        // A SYN in ESTABLISHED is ignored and noted ...
        assert_eq!(
            go(&mut e, seg(TCP_SYN, 70_000, 0, 0), false),
            Verdict::Accept
        );
        assert_eq!(e.tcp, TcpState::Established as u8);
        // ... a SYN+ACK acknowledging it takes the tracker to SYN_RECV.
        assert_eq!(
            go(&mut e, seg(TCP_SYN | TCP_ACK, 80_000, 70_001, 0), true),
            Verdict::Accept
        );
        assert_eq!(e.tcp, TcpState::SynRecv as u8);
    }
}
