//! fw's grammar and printers against real iptables-legacy 1.8.9, line by
//! line: each command line below runs in iptables (in a throwaway network
//! namespace, on a table holding only the user-defined chains `u` and `v`)
//! and through fw's library (parse, then apply to the same table offline).
//! Both must agree on the exit status and the exact stderr text, and, when
//! the command succeeds, on the resulting `-S` listing (and on what a
//! listing command prints).
//!
//! The only lines allowed to differ are listed in [`DEVIATIONS`], each with
//! the reason; fw's own "not supported yet" refusals are checked by the
//! corpus tests.

#[path = "common/iptables.rs"]
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use firewall::{
    offline,
    parse::{self, services::Services},
    render::{self, Counters},
    state::State,
};
use iptables::{IPTABLES, Netns, have_ipset, require_iptables, text};

/// iptables' version string as it prints it.
const VERSION: &str = "v1.8.9 (legacy)";

/// Command lines (split like an iptables-restore line: `"..."` groups).
const LINES: &[&str] = &[
    // ---- commands ----
    "-A INPUT -j ACCEPT",
    "-A u -j DROP",
    "-I INPUT -j ACCEPT",
    "-I INPUT 1 -j ACCEPT",
    "-I INPUT 2 -j ACCEPT",
    "-I INPUT 3 -j ACCEPT",
    "-R INPUT 1 -j ACCEPT",
    "-R INPUT -j ACCEPT",
    "-R INPUT 0 -j ACCEPT",
    "-D INPUT 1",
    "-D INPUT -j ACCEPT",
    "-C INPUT -j ACCEPT",
    "-C INPUT",
    "-C INPUT 1 -j ACCEPT",
    "-F",
    "-F u",
    "-F nope",
    "-Z",
    "-Z u",
    "-Z INPUT 1",
    "-Z nope",
    "-N w",
    "-N u",
    "-N INPUT",
    "-N ACCEPT",
    "-N LOG",
    "-N -foo",
    "-N !foo",
    "-N \"a b\"",
    "-N abcdefghijabcdefghijabcdefgh",
    "-N abcdefghijabcdefghijabcdefghi",
    "-N",
    "-X u",
    "-X",
    "-X INPUT",
    "-X nope",
    "-X u v",
    "-E u w",
    "-E u v",
    "-E u INPUT",
    "-E nope w",
    "-E INPUT w",
    "-E u",
    "-E",
    "-E u ACCEPT",
    "-E u \"x y\"",
    "-E u abcdefghijabcdefghijabcdefghi",
    "-P INPUT DROP",
    "-P u DROP",
    "-P INPUT REJECT",
    "-P nope REJECT",
    "-L",
    "-L INPUT",
    "-L u",
    "-L nope",
    "-L -n -v -x --line-numbers",
    "-L u -v",
    "-S",
    "-S u",
    "-S nope",
    "-S INPUT 1",
    "-L INPUT 1",
    "-S -v",
    "-L -Z",
    "-S -Z",
    // One chain and one rule number for -L, -S and -Z; `-Z CHAIN N` drops
    // an earlier -L or -S (then -n is illegal), a later one lists.
    "-L -Z INPUT 1 -n",
    "-L -Z INPUT 9",
    "-Z INPUT 9 -L",
    "-A INPUT -j u",
    "-A INPUT -g u",
    "-A INPUT -j nope",
    "-A INPUT -g nope",
    "-A INPUT -g ACCEPT",
    "-A INPUT -g RETURN",
    "-A INPUT -j INPUT",
    "-A INPUT -g INPUT",
    "-A u -j u",
    "-A INPUT -j RETURN",
    "-A u -j RETURN",
    "-A nope -j ACCEPT",
    "-A nope -j nope",
    "-A INPUT",
    "-A INPUT -p tcp --dport 22",
    // ---- basic matches ----
    "-A INPUT -s 192.0.2.1,192.0.2.2 -d 198.51.100.1,198.51.100.2 -j ACCEPT",
    "-A INPUT -s 192.0.2.1,192.0.2.1/32,192.0.2.0/24 -j ACCEPT",
    "-A INPUT ! -s 192.0.2.1,192.0.2.2 -j ACCEPT",
    "-A INPUT -s 192.0.2.1,192.0.2.2 ! -d 192.0.2.3 -j ACCEPT",
    "-R INPUT 1 -s 192.0.2.1,192.0.2.2 -j ACCEPT",
    "-I INPUT -s 203.0.113.1,203.0.113.2 -j DROP",
    "-D INPUT -s 203.0.113.1,203.0.113.2 -j DROP",
    "-C INPUT -s 203.0.113.1,203.0.113.2 -j DROP",
    "-A INPUT -s 192.0.2.1/33 -j DROP",
    "-A INPUT -s 192.0.2.7/24 -d 198.51.100.9/255.255.0.255 -j DROP",
    "-A INPUT -s 0/0 -j DROP",
    "-A INPUT ! -s 0/0 -j DROP",
    "-A INPUT -s 192.0.2.256 -j DROP",
    "-A INPUT -s ::1/128 -j DROP",
    "-A INPUT -p TCP -j DROP",
    "-A INPUT -p ALL -j DROP",
    "-A INPUT -p 47 -j DROP",
    "-A INPUT ! -p icmp -j DROP",
    "-A INPUT -p icmpv6 -j DROP",
    "-A INPUT -p ipv6-icmp -j DROP",
    "-A INPUT -p foo -j DROP",
    "-A INPUT -i eth+ -j DROP",
    "-A INPUT ! -i lo -j DROP",
    "-A INPUT -i ! lo -j DROP",
    "-A INPUT -o eth0 -j DROP",
    "-A OUTPUT -i eth0 -j DROP",
    "-A FORWARD -i eth0 ! -o eth1 -j DROP",
    "-A u -i eth0 -o eth1 -j DROP",
    "-A INPUT -f -j DROP",
    "-A INPUT ! -f -j DROP",
    "-A INPUT ! -f ! -p tcp -j DROP",
    "-A INPUT ! -j DROP",
    "-A INPUT ! ! -s 192.0.2.1 -j DROP",
    "-A INPUT -j DROP !",
    // ---- tcp ----
    "-A INPUT -p tcp --syn -j DROP",
    "-A INPUT -p tcp ! --syn -j DROP",
    "-A INPUT -p tcp --tcp-flags SYN,ACK SYN,ACK -j DROP",
    "-A INPUT -p tcp --tcp-flags ALL NONE -j DROP",
    "-A INPUT -p tcp --tcp-flags ALL ALL -j DROP",
    "-A INPUT -p tcp --tcp-flags syn,ack ack -j DROP",
    "-A INPUT -p tcp ! --tcp-flags SYN,ACK,FIN,RST RST --dport 22 --sport 1:2 -j DROP",
    "-A INPUT -p tcp --tcp-flags SYN,FOO SYN -j DROP",
    "-A INPUT -p tcp --tcp-flags SYN",
    "-A INPUT -p tcp --tcp-flags SYN -j DROP",
    "-A INPUT -p tcp --syn --tcp-flags SYN SYN -j DROP",
    "-A INPUT -p tcp --tcp-flags SYN SYN --syn -j DROP",
    "-A INPUT -p tcp --tcp-flags \"\" \"\" -j DROP",
    "-A INPUT -p tcp --tcp-option 5 -j DROP",
    "-A INPUT -p tcp ! --tcp-option 0x10 -j DROP",
    "-A INPUT -p tcp --tcp-option 0 -j DROP",
    "-A INPUT -p tcp --tcp-option 256 -j DROP",
    "-A INPUT -p tcp --tcp-option 5 --tcp-option 6 -j DROP",
    "-A INPUT -m tcp --tcp-option 5 -p tcp --tcp-flags SYN SYN --sport 5 -j DROP",
    "-A INPUT -p tcp --dport 99999 -j DROP",
    "-A INPUT -p tcp --dport 30:20 -j DROP",
    "-A INPUT -p tcp --dport :1023 -j DROP",
    "-A INPUT -p tcp --sport 1024: -j DROP",
    "-A INPUT -p tcp --dport ssh:http -j DROP",
    "-A INPUT -p tcp --dport ! 22 -j DROP",
    "-A INPUT -p tcp --dport",
    "-A INPUT -p tcp --dport 22 --dport 23 -j DROP",
    "-A INPUT --dport 22 -j DROP",
    "-A INPUT -m tcp --dport 22 -j DROP",
    "-A INPUT -p udp -m tcp --dport 22 -j DROP",
    "-A INPUT -p tcp -m tcp -m tcp --sport 1 -j DROP",
    // ---- udp ----
    "-A INPUT -p udp --dport 53 --sport 1024:65535 -j DROP",
    "-A INPUT -p udp --dport domain -j DROP",
    "-A INPUT -p udp --dport 99999 -j DROP",
    "-A INPUT -p udp --dport 1:2:3 -j DROP",
    "-A INPUT -p udp --dport 1 --dport 2 -j DROP",
    "-A INPUT -p udp --syn -j DROP",
    "-A INPUT -p udp --dport 123 -m udp -j DROP",
    // ---- icmp ----
    "-A INPUT -p icmp --icmp-type 8 -j DROP",
    "-A INPUT -p icmp --icmp-type echo-request -j DROP",
    "-A INPUT -p icmp --icmp-type ping -j DROP",
    "-A INPUT -p icmp ! --icmp-type 3/4 -j DROP",
    "-A INPUT -p icmp --icmp-type port-unreachable -j DROP",
    "-A INPUT -p icmp --icmp-type any -j DROP",
    "-A INPUT -p icmp --icmp-type Any -j DROP",
    "-A INPUT -p icmp --icmp-type 255 -j DROP",
    "-A INPUT -p icmp --icmp-type echo -j DROP",
    "-A INPUT -p icmp --icmp-type foo -j DROP",
    "-A INPUT -p icmp --icmp-type 256 -j DROP",
    "-A INPUT -p icmp --icmp-type 3/256 -j DROP",
    "-A INPUT -p icmp --icmp-type \"\" -j DROP",
    "-A INPUT -p icmp --icmp-type ECHO-REQ -j DROP",
    "-A INPUT -p icmp --icmp-type 3/1 -j DROP",
    "-A INPUT -p icmp --icmp-type 11 -j DROP",
    "-A INPUT -p icmp --icmp-type 3/ -j DROP",
    "-A INPUT -p icmp --icmp-type 3x -j DROP",
    "-A INPUT -p icmp --icmp-type 08 -j DROP",
    "-A INPUT -p icmp --icmp-type 300/2 -j DROP",
    "-A INPUT -p icmp --icmp-type 3/-1 -j DROP",
    "-A INPUT -p icmp --icmp-type /3 -j DROP",
    "-A INPUT -p icmp --icmp-type 8 --icmp-type 9 -j DROP",
    "-A INPUT -p icmp -m icmp -j DROP",
    "-A INPUT -m icmp --icmp-type 8 -j DROP",
    "-A INPUT -p tcp -m icmp --icmp-type 8 -j DROP",
    "-A INPUT -m icmp --icmp-type 3 -p icmp -j DROP",
    "-A INPUT -p icmp -m icmp --icmp-type 8 -m comment --comment x -j DROP",
    // ---- multiport ----
    "-A INPUT -p tcp -m multiport --dports 22,80:90,https -j DROP",
    "-A INPUT -p udp -m multiport ! --sports 53,domain -j DROP",
    "-A INPUT -p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j DROP",
    "-A INPUT -p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j DROP",
    "-A INPUT -p tcp -m multiport --ports 1:2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j DROP",
    "-A INPUT -p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15 -j DROP",
    "-A INPUT -p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15:16 -j DROP",
    "-A INPUT -p tcp -m multiport --dport 30:20 -j DROP",
    "-A INPUT -p tcp -m multiport --dports 80:80 -j DROP",
    "-A INPUT -p tcp -m multiport --dports 80,80 -j DROP",
    "-A INPUT -p tcp -m multiport --dport 99999 -j DROP",
    "-A INPUT -m multiport --dports 22 -j DROP",
    "-A INPUT -p icmp -m multiport --dports 22 -j DROP",
    "-A INPUT ! -p tcp -m multiport --dports 22 -j DROP",
    "-A INPUT -m multiport --dports 5 -p tcp -j DROP",
    "-A INPUT -p tcp -m multiport --dports 22 --sports 33 -j DROP",
    "-A INPUT -p tcp -m multiport -j DROP",
    "-A INPUT -p tcp -m multiport --source-ports 1 -j DROP",
    "-A INPUT -p tcp -m multiport --destination-ports 1, -j DROP",
    "-A INPUT -p tcp -m multiport --dports 5: -j DROP",
    "-A INPUT -p tcp -m multiport --dports 2 --dport 3 -j DROP",
    "-A INPUT -p sctp -m multiport --dports 5 -j DROP",
    "-A INPUT -p tcp -m multiport --dports ssh,smtp,http,https -j DROP",
    // ---- conntrack, state ----
    "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED,NEW,INVALID,UNTRACKED,SNAT,DNAT -j DROP",
    "-A INPUT -m conntrack ! --ctstate established -j DROP",
    "-A INPUT -m conntrack --ctstate e,i -j DROP",
    "-A INPUT -m conntrack --ctstate FOO -j DROP",
    "-A INPUT -m conntrack --ctstate FOO,NEW -j DROP",
    "-A INPUT -m conntrack --ctstate NEW, -j DROP",
    "-A INPUT -m conntrack --ctstate \"\" -j DROP",
    "-A INPUT -m conntrack --ctstate NEW --ctstate NEW -j DROP",
    "-A INPUT -m conntrack -j DROP",
    "-A FORWARD -m conntrack --ctorigdstport 80 -j ACCEPT",
    "-A FORWARD -p tcp -m conntrack --ctorigdstport :80 -j ACCEPT",
    "-A FORWARD -m conntrack ! --ctorigdstport 80:90 -j ACCEPT",
    "-A FORWARD -m conntrack --ctorigdstport 90:80 ! --ctorigsrcport 7: -j ACCEPT",
    "-A FORWARD -m conntrack --ctreplsrcport domain --ctrepldstport 0:65535 -j ACCEPT",
    "-A FORWARD -m conntrack --ctorigsrc 192.0.2.5/24 ! --ctorigdst 198.51.100.1 -j ACCEPT",
    "-A FORWARD -m conntrack ! --ctreplsrc 192.0.2.1/255.255.255.0 --ctrepldst 0.0.0.0/0 -j ACCEPT",
    "-A FORWARD -m conntrack --ctproto tcp --ctdir reply --ctstate NEW -j ACCEPT",
    "-A FORWARD -m conntrack ! --ctproto 17 --ctdir ORIGINAL -j ACCEPT",
    "-A FORWARD -m conntrack --ctproto all -j ACCEPT",
    "-A FORWARD -m conntrack --ctdir foo -j ACCEPT",
    "-A FORWARD -m conntrack ! --ctdir REPLY -j ACCEPT",
    "-A FORWARD -m conntrack --ctorigsrc 192.0.2.1 --ctorigsrc 192.0.2.2 -j ACCEPT",
    "-A FORWARD -m conntrack --ctorigdstport 1 --ctorigdstport 2 -j ACCEPT",
    "-A INPUT -p icmp --icmp-type echo-request -m hashlimit --hashlimit-upto 5/s --hashlimit-mode srcip --hashlimit-srcmask 32 --hashlimit-name icmp-echo-drop -j ACCEPT",
    "-A INPUT -m hashlimit --hashlimit-above 60/min --hashlimit-burst 10 --hashlimit-mode srcip,dstip --hashlimit-srcmask 24 --hashlimit-name a -j DROP",
    "-A INPUT -m hashlimit ! --hashlimit-above 3/hour --hashlimit-name b --hashlimit-htable-expire 5000 --hashlimit-htable-size 64 --hashlimit-htable-max 128 --hashlimit-htable-gcinterval 500 -j DROP",
    "-A INPUT -m hashlimit --hashlimit 7/day --hashlimit-name c --hashlimit-dstmask 8 -j DROP",
    "-A INPUT -m hashlimit ! --hashlimit-upto 1/s --hashlimit-name d -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s -j DROP",
    "-A INPUT -m hashlimit --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 0/s --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 5/fortnight --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 2000000/s --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-burst 0 --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-burst 1000001 --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-burst 7x --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-mode srcip,bogus --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-srcmask 33 --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-srcmask 255.255.255.0 --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-dstmask 255.0.255.0 --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-srcmask abc --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-srcmask 129 --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-srcmask 4294967295 --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-upto 2/s --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-above 2/s --hashlimit-name e -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-name \"\" -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-name abcdefghijklmnopq -j DROP",
    "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-name e --hashlimit-htable-gcinterval 0 -j DROP",
    "-A INPUT -m mark --mark 0x8000/0x8000 -j DROP",
    "-A INPUT -m mark ! --mark 10 -j DROP",
    "-A OUTPUT -m mark --mark 010/0xff00 -j DROP",
    "-A OUTPUT -m mark --mark 4294967295 -j DROP",
    "-A OUTPUT -m mark --mark 4294967296 -j DROP",
    "-A OUTPUT -m mark --mark -1 -j DROP",
    "-A OUTPUT -m mark --mark 1/ -j DROP",
    "-A OUTPUT -m mark --mark 1/0x1x -j DROP",
    "-A OUTPUT -m mark --mark x -j DROP",
    "-A OUTPUT -m mark -j DROP",
    "-A OUTPUT -m mark --mark 1 --mark 2 -j DROP",
    "-A OUTPUT -m mark ! --mark 0/0 -j DROP",
    "-A OUTPUT -m owner --uid-owner root -j DROP",
    "-A OUTPUT -m owner --uid-owner 0x10 -j DROP",
    "-A OUTPUT -m owner --uid-owner 5:7 ! --gid-owner 4-9 -j DROP",
    "-A OUTPUT -m owner --uid-owner 4294967294 -j DROP",
    "-A OUTPUT -m owner --uid-owner 4294967295 -j DROP",
    "-A OUTPUT -m owner --uid-owner 5- -j DROP",
    "-A OUTPUT -m owner --uid-owner -1 -j DROP",
    "-A OUTPUT -m owner --uid-owner nosuchuser -j DROP",
    "-A OUTPUT -m owner --gid-owner 1 --gid-owner 2 -j DROP",
    "-A OUTPUT -m owner -j DROP",
    "-A OUTPUT -m owner ! --uid-owner 3 ! --gid-owner 4 ! --socket-exists -j DROP",
    "-A OUTPUT -m owner --uid-owner 7-5 -j DROP",
    "-A OUTPUT -m owner --gid-owner 9-8 -j DROP",
    "-A OUTPUT -m owner --gid-owner adm --suppl-groups -j DROP",
    "-A OUTPUT -m owner --suppl-groups --gid-owner 1 -j DROP",
    "-A OUTPUT -m owner ! --suppl-groups --gid-owner 1 -j DROP",
    "-A INPUT -m owner --uid-owner 3 -j DROP",
    "-A INPUT -m time --timestart 21:30 --timestop 22:30 --weekdays Mon,Tue,Wed,Thu,Fri -j DROP",
    "-A INPUT -m time --timestart 21:30 --timestop 2:30 --contiguous -j DROP",
    "-A INPUT -m time --timestart 1:00 --timestop 2:00 --contiguous -j DROP",
    "-A INPUT -m time ! --weekdays Sa,Su -j DROP",
    "-A INPUT -m time --monthdays 1,15,31 -j DROP",
    "-A INPUT -m time ! --monthdays 2,3 -j DROP",
    "-A INPUT -m time --datestart 2026-12-01 --datestop 2027-01-01T12:30 -j DROP",
    "-A INPUT -m time --datestart 2039 -j DROP",
    "-A INPUT -m time --datestop 2038-01-19T03:14:07 -j DROP",
    "-A INPUT -m time --kerneltz --timestart 08:00 -j DROP",
    "-A INPUT -m time --utc --kerneltz -j DROP",
    "-A INPUT -m time --weekdays 0 -j DROP",
    "-A INPUT -m time --weekdays Mo,7 -j DROP",
    "-A INPUT -m time --weekdays Xy -j DROP",
    "-A INPUT -m time --weekdays ,Mon -j DROP",
    "-A INPUT -m time --monthdays 32 -j DROP",
    "-A INPUT -m time --monthdays 08 -j DROP",
    "-A INPUT -m time --monthdays 100 -j DROP",
    "-A INPUT -m time --timestart 24:00 -j DROP",
    "-A INPUT -m time --timestart 8 -j DROP",
    "-A INPUT -m time --timestart 8: -j DROP",
    "-A INPUT -m time --timestart 08:00:60 -j DROP",
    "-A INPUT -m time --timestart 08:60 -j DROP",
    "-A INPUT -m time --days Mon -j DROP",
    "-A INPUT -m time -j DROP",
    "-A INPUT -m time --weekdays Mon --weekdays Tue -j DROP",
    "-A INPUT -m time --datestart 2026-13 -j DROP",
    "-A INPUT -m time --datestart 1970-02-31 -j DROP",
    "-A INPUT -m time --timestart 23:59:59 --timestop 00:00:00 -j DROP",
    "-A INPUT -m time --utc --timestop 12:00 -j DROP",
    "-A INPUT -p tcp -m tcpmss --mss 536 -j DROP",
    "-A INPUT -p tcp -m tcpmss ! --mss 536:65535 -j DROP",
    "-A INPUT -p tcp -m tcpmss --mss 2000:1000 -j DROP",
    "-A INPUT -p tcp -m tcpmss --mss :100 -j DROP",
    "-A INPUT -p tcp -m tcpmss --mss 70000 -j DROP",
    "-A INPUT -m tcpmss --mss 5 -j DROP",
    "-A INPUT -p tcp -m tcpmss -j DROP",
    "-A INPUT -p udp -m tcpmss --mss 5 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --tunnel-src 192.0.2.1 -j DROP",
    "-A FORWARD -m policy ! --dir in --pol none -j DROP",
    "-A FORWARD -m policy --dir in -j DROP",
    "-A FORWARD -m policy --pol none -j DROP",
    "-A FORWARD -m policy --dir in --pol none --proto esp -j DROP",
    "-A FORWARD -m policy --dir in --pol none --next -j DROP",
    "-A FORWARD -m policy --dir in --pol none --strict -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --strict -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --strict --proto esp --next -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --strict --proto esp --next --proto ah --next --proto esp --next --proto ah -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --strict --proto esp --next --proto ah --next --proto esp --next --proto ah --next --proto esp -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --proto tcp -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --proto foo -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --proto 50 --proto 51 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --spi 1 --spi 2 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --reqid x -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --reqid 4294967296 -j DROP",
    "-A FORWARD -m policy --dir in --dir out --pol ipsec -j DROP",
    "-A FORWARD -m policy --dir sideways -j DROP",
    "-A FORWARD -m policy --dir in --pol maybe -j DROP",
    "-A FORWARD -m policy --dir in --mode x -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 192.0.2.0/24 ! --tunnel-dst 198.51.100.1 ! --spi 0x20 ! --reqid 7 ! --proto ipcomp -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 192.0.2.0/255.255.0.0 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 192.0.2.5/24 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec ! --mode transport --tunnel-src 192.0.2.1 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --strict --mode tunnel --next --spi 3 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --next --spi 3 -j DROP",
    "-A FORWARD -m policy --dir in --pol none --next -j DROP",
    "-A FORWARD -m policy --dir out --pol none -j DROP",
    "-A INPUT -m policy --dir out --pol none -j DROP",
    "-A OUTPUT -m policy --dir in --pol ipsec -j DROP",
    "-A INPUT -p ipencap -m policy --dir in --pol ipsec --proto esp -j ACCEPT",
    "-A u -m owner --socket-exists -j DROP",
    "-A INPUT -m state --state ESTABLISHED,RELATED,NEW,INVALID,UNTRACKED -j DROP",
    "-A INPUT -m state ! --state NEW -j DROP",
    "-A INPUT -m state --state n,e -j DROP",
    "-A INPUT -m state --state SNAT -j DROP",
    "-A INPUT -m state --state NEW, -j DROP",
    "-A INPUT -m state --state FOO,NEW -j DROP",
    "-A INPUT -m state -j DROP",
    // ---- iprange ----
    "-A INPUT -m iprange --src-range 192.0.2.1-192.0.2.9 ! --dst-range 198.51.100.1-198.51.100.200 -j DROP",
    "-A INPUT -m iprange --src-range 192.0.2.1 -j DROP",
    "-A INPUT -m iprange --src-range 192.0.2-192.0.3 -j DROP",
    "-A INPUT -m iprange --src-range 192.0.2.1-foo -j DROP",
    "-A INPUT -m iprange --src-range 192.0.2.1- -j DROP",
    "-A INPUT -m iprange --src-range 192.0.2.1-192.0.2.2-192.0.2.3 -j DROP",
    "-A INPUT -m iprange -j DROP",
    "-A INPUT -m iprange --src-range 192.0.2.1 --src-range 192.0.2.1 -j DROP",
    // ---- mac ----
    "-A INPUT -m mac --mac-source 02:00:00:91:04:aB -j DROP",
    "-A INPUT -m mac ! --mac-source 02:00:00:91:04:08 -j DROP",
    "-A INPUT -m mac --mac-source 2:0:0:91:4:8 -j DROP",
    "-A INPUT -m mac --mac-source 02:00:00:91:04 -j DROP",
    "-A INPUT -m mac --mac-source 0x1:0:0:0:0:0 -j DROP",
    "-A INPUT -m mac --mac-source ::::: -j DROP",
    "-A OUTPUT -m mac --mac-source 02:00:00:91:04:08 -j DROP",
    "-A u -m mac --mac-source 02:00:00:91:04:08 -j DROP",
    "-A INPUT -m mac -j DROP",
    // ---- comment ----
    "-A INPUT -m comment --comment \"a b \\\"c\\\" 'd' \\\\e\" -j DROP",
    "-A INPUT -m comment --comment SSH -j DROP",
    "-A INPUT -m comment --comment \"\" -j DROP",
    "-A INPUT -m comment --comment \"!fw3: Allow-Ping\" -j DROP",
    "-A INPUT -m comment ! --comment x -j DROP",
    "-A INPUT -m comment -j DROP",
    "-A INPUT -m comment -s 192.0.2.1/33",
    "-A INPUT -m comment --comment abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123456 -j DROP",
    // ---- limit ----
    "-A INPUT -m limit -j DROP",
    "-A INPUT -m limit --limit 3/min --limit-burst 10 -j DROP",
    "-A INPUT -m limit --limit 5/m --limit-burst 7 -j DROP",
    "-A INPUT -m limit --limit 25/sec --limit-burst 50 -j DROP",
    "-A INPUT -m limit --limit 20/hour --limit-burst 5 -j DROP",
    "-A INPUT -m limit --limit 1/d -j DROP",
    "-A INPUT -m limit --limit 1/d --limit-burst 1 -j DROP",
    "-A INPUT -m limit --limit 7 -j DROP",
    "-A INPUT -m limit --limit 10000/s -j DROP",
    "-A INPUT -m limit --limit 10001/s -j DROP",
    "-A INPUT -m limit --limit 0/s -j DROP",
    "-A INPUT -m limit --limit x/s -j DROP",
    "-A INPUT -m limit --limit 3/x -j DROP",
    "-A INPUT -m limit --limit 3/ -j DROP",
    "-A INPUT -m limit --limit 3x/minute -j DROP",
    "-A INPUT -m limit --limit 7/hour -j DROP",
    "-A INPUT -m limit --limit -1/s -j DROP",
    "-A INPUT -m limit --limit \" 3/s\" -j DROP",
    "-A INPUT -m limit --limit-burst 10001 -j DROP",
    "-A INPUT -m limit --limit-burst 0 -j DROP",
    "-A INPUT -m limit --limit-burst x -j DROP",
    "-A INPUT -m limit --limit-burst 0x10 -j DROP",
    "-A INPUT -m limit ! --limit 3/s -j DROP",
    "-A INPUT -m limit --limit 3/s --limit 4/s -j DROP",
    // ---- recent ----
    "-A INPUT -m recent --set -j DROP",
    "-A INPUT -m recent ! --set -j DROP",
    "-A INPUT -m recent --rcheck --seconds 60 --hitcount 4 --name SSH --rsource -j DROP",
    "-A INPUT -m recent ! --update --seconds 60 --hitcount 4 --rttl --name SSH -j DROP",
    "-A INPUT -m recent --remove --name X --rdest -j DROP",
    "-A INPUT -m recent --set --name SSH --mask 255.255.255.0 -j DROP",
    "-A INPUT -m recent --set --mask 1.2.3 -j DROP",
    "-A INPUT -m recent --set --mask 0x01020304 -j DROP",
    "-A INPUT -m recent --set --mask 10.0.0.0/8 -j DROP",
    "-A INPUT -m recent --set --mask 1.2.3.4.5 -j DROP",
    "-A INPUT -m recent --set --mask 256.1.1.1 -j DROP",
    "-A INPUT -m recent --rcheck --seconds 60 --reap -j DROP",
    "-A INPUT -m recent --update --reap -j DROP",
    "-A INPUT -m recent --reap -j DROP",
    "-A INPUT -m recent --rttl -j DROP",
    "-A INPUT -m recent --set --rcheck -j DROP",
    "-A INPUT -m recent --rcheck --name a --set -j DROP",
    "-A INPUT -m recent -j DROP",
    "-A INPUT -m recent --set --seconds 5 -j DROP",
    "-A INPUT -m recent --set --hitcount 3 -j DROP",
    "-A INPUT -m recent --remove --rttl -j DROP",
    "-A INPUT -m recent --seconds 5 --reap --set -j DROP",
    "-A INPUT -m recent --rcheck --hitcount 21 -j DROP",
    "-A INPUT -m recent --rcheck --hitcount 65535 -j DROP",
    "-A INPUT -m recent --rcheck --hitcount 65536 -j DROP",
    "-A INPUT -m recent --rcheck --hitcount 4294967296 -j DROP",
    "-A INPUT -m recent --set --rttl -j DROP",
    "-A INPUT -m recent --seconds 0 --rcheck -j DROP",
    "-A INPUT -m recent --rcheck --seconds x -j DROP",
    "-A INPUT -m recent --rcheck --seconds 4294967295 -j DROP",
    "-A INPUT -m recent --set --set -j DROP",
    "-A INPUT -m recent --rcheck ! --rttl -j DROP",
    "-A INPUT -m recent --set --name a/b -j DROP",
    "-A INPUT -m recent --set --name \"\" -j DROP",
    "-A INPUT -m recent --set --name . -j DROP",
    "-A INPUT -m recent --set --name .. -j DROP",
    "-A INPUT -m recent --set --name a,b -j DROP",
    "-A INPUT -m recent --rsource --rdest --set -j DROP",
    "-A INPUT -m recent --rcheck --hitcount 0 -j DROP",
    "-A INPUT -m recent --rcheck --seconds 10 --seconds 5 -j DROP",
    "-A INPUT -m recent --set --name A --name B -j DROP",
    "-A INPUT -m recent --set --name abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij -j DROP",
    "-A INPUT -m recent --set --name abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghi -j DROP",
    // ---- length ----
    "-A INPUT -m length --length 100 -j DROP",
    "-A INPUT -m length ! --length 100:200 -j DROP",
    "-A INPUT -m length --length :200 -j DROP",
    "-A INPUT -m length --length 100: -j DROP",
    "-A INPUT -m length --length 200:100 -j DROP",
    "-A INPUT -m length --length 65536 -j DROP",
    "-A INPUT -m length --length 5x -j DROP",
    "-A INPUT -m length --length \"\" -j DROP",
    "-A INPUT -m length --length 1:2:3 -j DROP",
    "-A INPUT -m length --length 100:65536 -j DROP",
    "-A INPUT -m length --length 0x10:020 -j DROP",
    "-A INPUT -m length --length -1 -j DROP",
    "-A INPUT -m length -j DROP",
    // ---- ttl ----
    "-A INPUT -m ttl --ttl-eq 5 -j DROP",
    "-A INPUT -m ttl ! --ttl-eq 5 -j DROP",
    "-A INPUT -m ttl --ttl-gt 5 -j DROP",
    "-A INPUT -m ttl --ttl-lt 5 -j DROP",
    "-A INPUT -m ttl ! --ttl-lt 5 -j DROP",
    "-A INPUT -m ttl --ttl-lt 256 -j DROP",
    "-A INPUT -m ttl --ttl-lt 5 --ttl-gt 3 -j DROP",
    "-A INPUT -m ttl --ttl-eq 5 --ttl-lt 3 -j DROP",
    "-A INPUT -m ttl --ttl 5 -j DROP",
    "-A INPUT -m ttl ! --ttl 5 -j DROP",
    "-A INPUT -m ttl -j DROP",
    // ---- addrtype ----
    "-A INPUT -m addrtype --dst-type LOCAL -j DROP",
    "-A INPUT -m addrtype ! --src-type LOCAL,broadcast --dst-type MULTICAST,UNICAST,UNSPEC,ANYCAST,BLACKHOLE,UNREACHABLE,PROHIBIT,THROW,NAT,XRESOLVE -j DROP",
    "-A INPUT -m addrtype --src-type FOO -j DROP",
    "-A INPUT -m addrtype --src-type FOO,LOCAL -j DROP",
    "-A INPUT -m addrtype --src-type LOCAL, -j DROP",
    "-A INPUT -m addrtype --src-type l,u -j DROP",
    "-A INPUT -m addrtype --src-type LOCAL --limit-iface-in -j DROP",
    "-A OUTPUT -m addrtype --src-type LOCAL --limit-iface-out -j DROP",
    "-A INPUT -m addrtype --src-type LOCAL --limit-iface-out -j DROP",
    "-A INPUT -m addrtype --limit-iface-in -j DROP",
    "-A INPUT -m addrtype -j DROP",
    "-A INPUT -m addrtype --src-type LOCAL --limit-iface-in --limit-iface-out -j DROP",
    // ---- set (needs the sets foo and bar) ----
    "-A INPUT -m set --match-set foo src -j DROP",
    "-A INPUT -m set ! --match-set foo src,dst -j DROP",
    "-A INPUT -m set --match-set foo srcx -j DROP",
    "-A INPUT -m set --match-set foo sr -j DROP",
    "-A INPUT -m set --match-set foo src,dst,src,dst,src,dst -j DROP",
    "-A INPUT -m set --match-set foo src,dst,src,dst,src,dst,src -j DROP",
    "-A INPUT -m set --match-set foo ,src -j DROP",
    "-A INPUT -m set --match-set foo src --match-set bar dst -j DROP",
    "-A INPUT -m set --match-set foo -j DROP",
    "-A INPUT -m set --match-set abcdefghijabcdefghijabcdefghijab src -j DROP",
    "-A INPUT -m set -j DROP",
    // ---- REJECT ----
    "-A INPUT -j REJECT",
    "-A INPUT -j REJECT --reject-with tcp-reset",
    "-A INPUT -p tcp -j REJECT --reject-with tcp-rst",
    "-A INPUT ! -p tcp -j REJECT --reject-with tcp-reset",
    "-A INPUT -j REJECT --reject-with tcp-reset -p tcp",
    "-A INPUT -j REJECT --reject-with icmp-net-unreachable",
    "-A INPUT -j REJECT --reject-with net-unreach",
    "-A INPUT -j REJECT --reject-with icmp-host-unreachable",
    "-A INPUT -j REJECT --reject-with icmp-proto-unreachable",
    "-A INPUT -j REJECT --reject-with icmp-net-prohibited",
    "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
    "-A INPUT -j REJECT --reject-with icmp-admin-prohibited",
    "-A INPUT -j REJECT --reject-with admin",
    "-A INPUT -j REJECT --reject-with icmp",
    "-A INPUT -j REJECT --reject-with ICMP-HOST-PROHIB",
    "-A INPUT -j REJECT --reject-with echo-reply",
    "-A INPUT -j REJECT --reject-with foo",
    "-A INPUT -j REJECT --reject-with \"\"",
    "-A INPUT -j REJECT --reject-with icmp6-adm-prohibited",
    "-A INPUT -j REJECT ! --reject-with tcp-reset",
    "-A INPUT -j REJECT --reject-with tcp-reset --reject-with tcp-reset",
    "-A INPUT -j REJECT --log-prefix x",
    "-A INPUT --reject-with x -j REJECT",
    // ---- LOG ----
    "-A INPUT -j LOG",
    "-A INPUT -j LOG --log-prefix \"IPT INPUT packet died: \" --log-level 7",
    "-A INPUT -j LOG --log-level DEBUG",
    "-A INPUT -j LOG --log-level debug",
    "-A INPUT -j LOG --log-level warn --log-prefix x",
    "-A INPUT -j LOG --log-level 8",
    "-A INPUT -j LOG --log-level 4",
    "-A INPUT -j LOG --log-level emerg --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode",
    "-A INPUT -j LOG --log-prefix abcdefghijabcdefghijabcdefghij",
    "-A INPUT -j LOG --log-prefix \"\"",
    "-A INPUT -j LOG --log-prefix PING-DROP:",
    "-A INPUT -j LOG --log-level 1 --log-level 2",
    "-A INPUT -j LOG ! --log-level 1",
    "-A INPUT -j LOG --log-prefix x -j DROP",
    "-A INPUT -m limit --limit 3/minute --limit-burst 3 -j LOG --log-level debug --log-prefix \"IPT INPUT packet died: \"",
    // ---- everything at once ----
    "-A FORWARD -i eth0 -p tcp -m comment --comment hi -m tcp --dport 22 -m limit -j LOG --log-prefix x",
    "-A u ! -s 192.0.2.0/24 -p udp -g v",
    "-A INPUT -m conntrack --ctstate NEW -m tcp -p tcp -s 192.0.2.10/32 --dport 22 -j ACCEPT",
    // ---- -v on commands ----
    "-A INPUT -p tcp --dport 22 -j ACCEPT -v",
    "-A INPUT -s 192.0.2.1,192.0.2.2 -j DROP -v",
    "-I INPUT -i eth0 -j DROP -v",
    "-A INPUT -p 47 -j DROP -v",
    "-A INPUT -p ipv6-icmp -j DROP -v",
    "-A INPUT -p sctp -j DROP -v",
    "-A INPUT -p 200 -j DROP -v",
    "-A INPUT ! -p udp ! -s 192.0.2.0/24 ! -d 198.51.100.0/255.255.0.255 ! -i eth+ -j u -v",
    "-A INPUT -f -g u -v",
    "-A INPUT ! -f -j REJECT -v",
    "-A INPUT -p tcp --dport 22 -j LOG --log-prefix x -v",
    "-A INPUT -p tcp --dport 22 -v",
    "-A INPUT -p icmp --icmp-type 8 -m limit -m comment --comment c -v",
    "-R INPUT 1 -j ACCEPT -v",
    "-D INPUT -j ACCEPT -v",
    "-D INPUT 1 -v",
    "-C INPUT -j ACCEPT -v",
    "-F -v",
    "-F u -v",
    "-Z -v",
    "-Z u -v",
    "-X -v",
    "-X u -v",
    "-N w -v",
    "-E u w -v",
    "-P INPUT DROP -v",
    "-L -Z -v",
    // ---- options ----
    "-L -v -v",
    "-S -n",
    "-A INPUT -j ACCEPT -n",
    "-t filter -A INPUT -j ACCEPT",
    "-t foo -A INPUT -j ACCEPT",
    "-w -A INPUT -j ACCEPT",
    "-w 5 -A INPUT -j ACCEPT",
];

/// Lines where fw and iptables differ on purpose, with the reason.
const DEVIATIONS: &[(&str, &str)] = &[
    (
        "-A INPUT -p udp --dport 99999 -j DROP",
        "iptables 1.8.9 truncates udp ports above 65535 (99999 becomes 34463); fw refuses them",
    ),
    (
        "-D INPUT -j ACCEPT -v",
        "iptables prints the rule line before it finds out that no rule matches; fw prints \
         nothing on error",
    ),
    (
        "-C INPUT -j ACCEPT -v",
        "as -D: iptables prints the rule line even when the check fails",
    ),
    (
        "-R INPUT 1 -j ACCEPT -v",
        "as -D: iptables prints the rule line even when there is no rule 1",
    ),
    (
        "-L -v -v",
        "iptables -vv also dumps libiptc's internal table; fw lists as with -v",
    ),
    (
        "-E u ACCEPT",
        "fw checks -E's new name as -N checks names (exit 2, \"chain name may not clash \
         with target name\"); iptables says \"File exists.\" (exit 1)",
    ),
    (
        "-E u \"x y\"",
        "fw refuses white space in -E's new name as -N does; iptables renames the chain \
         to a name no command can use",
    ),
    (
        "-E u abcdefghijabcdefghijabcdefghi",
        "fw: chain name too long (exit 2); iptables: \"No chain/target/match by that name.\" (exit 1)",
    ),
];

/// The table every line starts from, in iptables.
const RESET: &str = "ipt=/usr/sbin/iptables-legacy; $ipt -F; $ipt -X; \
    $ipt -P INPUT ACCEPT; $ipt -P FORWARD ACCEPT; $ipt -P OUTPUT ACCEPT; \
    $ipt -N u; $ipt -N v";

/// What a command line did.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    /// `-S` of the table afterwards (when the command succeeded).
    table: String,
}

/// The line in iptables.
fn iptables(ns: &Netns, words: &[String]) -> Outcome {
    let script = format!("{RESET}; {IPTABLES} \"$@\"; rc=$?; echo \"@@RC=$rc\"; {IPTABLES} -S");
    let out = ns.sh(&script, words, None);
    let stdout = text(&out.stdout);
    let (cmd_out, rest) = stdout
        .split_once("@@RC=")
        .unwrap_or_else(|| panic!("no marker in {stdout:?}"));
    let (code, table) = rest.split_once('\n').unwrap_or((rest, ""));
    let code: i32 = code.trim().parse().unwrap();
    Outcome {
        code,
        stdout: cmd_out.to_string(),
        stderr: text(&out.stderr),
        table: if code == 0 {
            table.to_string()
        } else {
            String::new()
        },
    }
}

/// The same line through fw's library, offline.
fn fw(words: &[String], services: &Services) -> Result<Outcome, String> {
    let mut st = State::default();
    st.ruleset.user_chains.insert("u".into(), vec![]);
    st.ruleset.user_chains.insert("v".into(), vec![]);
    let fail = |code: i32, stderr: Option<String>| -> Result<Outcome, String> {
        stderr
            .map(|stderr| Outcome {
                code,
                stdout: String::new(),
                stderr,
                table: String::new(),
            })
            .ok_or_else(|| "fw-only refusal".to_string())
    };
    let inv = match parse::parse_args_with(words, services) {
        Ok(inv) => inv,
        Err(e) => {
            if matches!(e, parse::ParseError::NotSupported { .. }) {
                return Err(e.to_string());
            }
            return fail(e.exit_code(), Some(e.iptables_stderr("iptables", VERSION)));
        }
    };
    match offline::execute(&st, &inv, services, false, offline::no_counters) {
        Ok(done) => Ok(Outcome {
            code: 0,
            stdout: done.output,
            stderr: String::new(),
            table: render::list_rules(
                &done.state.as_ref().unwrap_or(&st).ruleset,
                None,
                None,
                None,
            ),
        }),
        Err(e) => fail(e.exit_code(), e.iptables_stderr("iptables", VERSION)),
    }
}

#[test]
fn every_line_like_iptables_legacy() {
    require_iptables();
    let ns = Netns::new("oracle-lines").unwrap();
    let sets = have_ipset();
    if sets {
        let out = ns.sh(
            "ipset create foo hash:ip && ipset create bar hash:ip,port",
            &[],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    } else {
        eprintln!("note: ipset is not installed: the -m set lines are skipped");
    }
    let services = Services::system();
    let mut failures = Vec::new();
    for line in LINES {
        if !sets && line.contains("-m set") {
            continue;
        }
        let words = parse::split_spec(line).unwrap();
        let want = iptables(&ns, &words);
        let got = match fw(&words, services) {
            Ok(o) => o,
            Err(refusal) => {
                failures.push(format!(
                    "{line}\n  fw refused: {refusal}\n  iptables: {want:?}"
                ));
                continue;
            }
        };
        let deviation = DEVIATIONS.iter().any(|(l, _)| l == line);
        if got != want && !deviation {
            failures.push(format!("{line}\n  iptables: {want:?}\n  fw:       {got:?}"));
        }
        if got == want && deviation {
            failures.push(format!(
                "{line}\n  listed as a deviation but agrees: {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} lines differ:\n{}",
        failures.len(),
        LINES.len(),
        failures.join("\n")
    );
}

/// A table using every feature, built in both by the same lines.
const TABLE: &[&str] = &[
    "-N w",
    "-P FORWARD DROP",
    "-A INPUT -i lo -j ACCEPT",
    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -m conntrack ! --ctstate INVALID -j u",
    "-A INPUT -p tcp --syn -m conntrack --ctstate NEW -j w",
    "-A INPUT -p icmp --icmp-type echo-request -m limit --limit 5/sec --limit-burst 10 -j ACCEPT",
    "-A INPUT -p icmp ! --icmp-type 3/4 -j DROP",
    "-A INPUT -p tcp --dport 22 -m recent --update --seconds 60 --hitcount 4 --rttl --name SSH --mask 255.255.255.0 --rdest -j DROP",
    "-A INPUT -m recent ! --rcheck --seconds 5 --reap -j ACCEPT",
    "-A INPUT -p icmp --icmp-type 255/0 -j DROP",
    "-A INPUT -p icmp --icmp-type 5 -j DROP",
    "-A INPUT -s 192.0.2.0/24,198.51.100.7 -p tcp -m multiport --dports 22,80:90,https -j ACCEPT",
    "-A INPUT -p udp -m multiport ! --sports domain,123 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --ports 1:1023 -g v",
    "-A INPUT -m state --state NEW,UNTRACKED -j LOG --log-prefix \"new: \" --log-level 6 --log-uid",
    "-A INPUT -m iprange --src-range 192.0.2.1-192.0.2.9 ! --dst-range 198.51.100.1-198.51.100.200 -j DROP",
    "-A INPUT -m mac --mac-source 02:00:00:91:04:aB -j DROP",
    "-A INPUT -m comment --comment \"a b \\\"c\\\" 'd' \\\\e\" -j DROP",
    "-A INPUT -m length ! --length 100:200 -m ttl --ttl-lt 5 -j DROP",
    "-A INPUT -m ttl ! --ttl-eq 64 -j DROP",
    "-A INPUT -m ttl --ttl-gt 200 -j DROP",
    "-A INPUT -m addrtype ! --src-type LOCAL,BROADCAST --dst-type UNICAST --limit-iface-in -j DROP",
    "-A INPUT -p tcp ! --tcp-flags FIN,SYN,RST,ACK SYN --tcp-option 2 -j REJECT --reject-with tcp-reset",
    "-A INPUT -p tcp --tcp-flags ALL NONE -j LOG --log-level emerg --log-tcp-sequence --log-tcp-options --log-ip-options --log-macdecode",
    "-A INPUT -p udp -j REJECT",
    "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
    "-A INPUT -f -j DROP",
    "-A INPUT ! -f -p 47 -j RETURN",
    "-A INPUT -p tcp --dport 22",
    "-A INPUT -s 192.0.2.0/255.0.255.0 ! -d 203.0.113.9 -j DROP",
    "-A FORWARD -i eth0 ! -o eth1 -p tcp -m comment --comment hi -m tcp --dport 22 -m limit -j LOG --log-prefix x",
    "-A FORWARD -i tun+ -s 10.8.0.0/24 -j ACCEPT",
    "-A FORWARD -p tcp -m conntrack --ctstate NEW --ctorigdstport 8080 ! --ctorigdst 192.0.2.0/24 --ctdir ORIGINAL -j ACCEPT",
    "-A FORWARD -m set --match-set foo src,dst -j w",
    "-A FORWARD -m set ! --match-set bar dst -j DROP",
    "-A OUTPUT -o lo -j ACCEPT",
    "-A OUTPUT -m mark --mark 0x8000/0x8000 -j DROP",
    "-A OUTPUT -m mark ! --mark 0x1 -j RETURN",
    "-A OUTPUT -m owner --uid-owner 0 --gid-owner 4 -j ACCEPT",
    "-A OUTPUT -m owner ! --socket-exists ! --uid-owner 1-2 -j RETURN",
    "-A OUTPUT -m owner --gid-owner 7 --suppl-groups -j DROP",
    "-A INPUT -m time --timestart 21:30 --timestop 02:30 ! --weekdays Sa,Su --monthdays 1,2,11,12,22,23 --datestart 2026-12-01 --contiguous -j DROP",
    "-A FORWARD -m time --kerneltz --datestop 2030-06-30T12:00:01 -j ACCEPT",
    "-A INPUT -p tcp -m tcpmss ! --mss 536:1460 -j DROP",
    "-A FORWARD -m policy --dir in --pol ipsec --strict --proto esp --mode tunnel --tunnel-dst 192.0.2.0/24 --next ! --proto ah ! --spi 0x10 --reqid 3",
    "-A FORWARD -s 10.19.49.0/24 -m policy --dir in --pol none -j ACCEPT",
    "-A INPUT -p ipencap -m policy --dir in --pol ipsec --proto esp -j ACCEPT",
    "-A OUTPUT -p icmp -m hashlimit --hashlimit-above 60/min --hashlimit-burst 10 --hashlimit-mode srcip,dstip --hashlimit-srcmask 24 --hashlimit-name a --hashlimit-htable-expire 5000 -j DROP",
    "-A OUTPUT -m hashlimit --hashlimit-upto 3/hour --hashlimit-name b --hashlimit-htable-size 64 --hashlimit-htable-max 128 --hashlimit-htable-gcinterval 500 --hashlimit-dstmask 8 -j RETURN",
    "-A OUTPUT -p udp --dport 53 -j u",
    "-A OUTPUT -m addrtype --src-type LOCAL --limit-iface-out -j ACCEPT",
    "-A u ! -s 192.0.2.0/24 -p udp -g v",
    "-A u -p udp --sport 53 --dport 1024:65535 -j RETURN",
    "-A u -j ACCEPT",
    "-A v -m limit --limit 3/hour -j LOG",
    "-A v -m limit --limit 1/d --limit-burst 1 -j DROP",
    "-A w -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT",
    "-A w -p tcp --sport 1:2 --dport ssh:http -j REJECT --reject-with icmp-admin-prohibited",
];

/// The listings compared.
const LISTINGS: &[&str] = &[
    "-S",
    "-S -v",
    "-S INPUT",
    "-S u",
    "-S INPUT 3",
    "-L",
    "-L -n",
    "-L -v",
    "-L -x -v -n --line-numbers",
    "-L --line-numbers",
    "-L u",
    "-L w -v",
    "-L INPUT 5",
    "-L INPUT 5 -v --line-numbers",
    "-L FORWARD -n",
    "-Z INPUT 2 -L INPUT",
    "-Z INPUT 2 -S INPUT",
    "-Z INPUT 2 -L INPUT 1",
    "-Z INPUT -L INPUT 2",
    "-L -Z INPUT 2",
    "-S -Z INPUT 2",
    "-L INPUT 1 -Z INPUT 2",
];

#[test]
fn listings_like_iptables_legacy() {
    require_iptables();
    let ns = Netns::new("oracle-listings").unwrap();
    let sets = have_ipset();
    let lines: Vec<&str> = TABLE
        .iter()
        .copied()
        .filter(|l| sets || !l.contains("-m set"))
        .collect();
    let mut script = String::from(RESET);
    if sets {
        script.push_str("; ipset create foo hash:ip; ipset create bar hash:ip");
    }
    let mut st = State::default();
    st.ruleset.user_chains.insert("u".into(), vec![]);
    st.ruleset.user_chains.insert("v".into(), vec![]);
    let services = Services::system();
    for line in &lines {
        script.push_str(&format!(
            "; {IPTABLES} {} || echo FAILED: {line}",
            sh_words(line)
        ));
        let words = parse::split_spec(line).unwrap();
        let inv =
            parse::parse_args_with(&words, services).unwrap_or_else(|e| panic!("{line}: {e}"));
        st = offline::execute(&st, &inv, services, false, offline::no_counters)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .state
            .unwrap_or_else(|| panic!("{line}: not a change"));
    }
    let setup = ns.sh(&script, &[], None);
    assert!(
        !text(&setup.stdout).contains("FAILED") && setup.stderr.is_empty(),
        "iptables refused a line: {}{}",
        text(&setup.stdout),
        text(&setup.stderr)
    );
    let counters = Counters::default();
    let mut failures = Vec::new();
    for listing in LISTINGS {
        let want = text(&ns.sh(&format!("{IPTABLES} {listing}"), &[], None).stdout);
        let words = parse::split_spec(listing).unwrap();
        let inv = parse::parse_args_with(&words, services).unwrap();
        let got = offline::execute(&st, &inv, services, false, offline::no_counters)
            .unwrap_or_else(|e| panic!("{listing}: {e}"))
            .output;
        if got != want {
            failures.push(format!(
                "iptables {listing}\n--- iptables\n{want}--- fw\n{got}"
            ));
        }
    }
    // iptables-save, without its comment lines (they hold the date).
    let want: String = text(
        &ns.sh(&format!("{IPTABLES}-save -t filter"), &[], None)
            .stdout,
    )
    .lines()
    .filter(|l| !l.starts_with('#'))
    .map(|l| format!("{l}\n"))
    .collect();
    let got = render::save(&st.ruleset, &counters, false, None);
    if got != want {
        failures.push(format!("iptables-save\n--- iptables\n{want}--- fw\n{got}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `line` quoted for sh, word by word (as fw splits it).
fn sh_words(line: &str) -> String {
    parse::split_spec(line)
        .unwrap()
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}
