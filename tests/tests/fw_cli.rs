//! The fw binary with the whole iptables language (issue 3): user-defined
//! chains, `-C -R -N -X -E`, address lists, `fw save` and `fw restore`,
//! refusals of what fw cannot enforce yet, and every class of error: the
//! message says where, the exit status is iptables', the ruleset is
//! unchanged, nothing panics. Where iptables can run the same commands
//! (in a throwaway namespace), fw's listings must be byte for byte its own.

#[path = "common/iptables.rs"]
mod iptables;

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use std::process::Output;

use firewall::{
    load::pins::Dirs,
    parse::services::Services,
    render::{self, Counters},
    restore::{self, RestoreOptions},
    state::State,
};
use integration_tests::{
    Lab, PROBE_TIMEOUT, SERVER_ADDR, SERVER_IF, in_netns, tcp_listen, tcp_probe,
};
use iptables::{IPTABLES, Netns, require_iptables, text};

fn words(line: &str) -> Vec<String> {
    firewall::parse::split_spec(line).unwrap()
}

fn fw(lab: &Lab, line: &str) -> Output {
    let w = words(line);
    lab.fw(&w.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Runs `fw restore ARGS` in the lab with `input` on stdin.
fn fw_restore(lab: &Lab, args: &[&str], input: &str) -> Output {
    let bin = integration_tests::fw_bin();
    let script = format!("{} restore \"$@\"", bin.display());
    integration_tests::sh_in(
        lab.server(),
        &script,
        &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        Some(input),
    )
}

/// `fw save` without its comment lines (they hold the date).
fn saved(lab: &Lab) -> String {
    uncommented(&lab.fw_ok(&["save"]))
}

fn uncommented(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn ipt(ns: &Netns, line: &str) -> Output {
    ns.sh(&format!("{IPTABLES} \"$@\""), &words(line), None)
}

/// The message of an iptables error, without its program prefix.
fn message(stderr: &str) -> String {
    let first = stderr.lines().next().unwrap_or_default();
    match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("iptables") => rest.to_string(),
        _ => first.to_string(),
    }
}

#[test]
fn commands_and_listings_like_iptables() {
    require_iptables();
    let lab = Lab::new("cli-oracle").unwrap();
    let ns = Netns::new("oracle-cli").unwrap();
    let lines = [
        "-N spare",
        "-A spare -p tcp --dport 22 -j ACCEPT",
        "-A INPUT -s 192.0.2.0/24,198.51.100.0/24 -p tcp --dport 22 -j ACCEPT",
        "-I INPUT 2 -i lo -j ACCEPT",
        "-I INPUT -s 203.0.113.1,203.0.113.2 -j DROP",
        "-R INPUT 1 -p udp --sport 53 -j ACCEPT",
        "-R INPUT 1 -s 192.0.2.1,192.0.2.2 -j ACCEPT",
        "-C INPUT -p udp --sport 53 -j ACCEPT",
        "-C INPUT -p udp --sport 54 -j ACCEPT",
        "-C INPUT -s 192.0.2.0/24,198.51.100.0/24 -p tcp --dport 22 -j ACCEPT",
        "-D INPUT -i lo -j ACCEPT",
        "-D INPUT 9",
        "-A OUTPUT -o veth+ ! -p icmp -j DROP",
        "-A FORWARD -s 10.0.0.0/8 -i eth0 -o eth1 -p udp -m udp ! --dport 1000:2000 -j DROP",
        "-E spare reserve",
        "-E reserve INPUT",
        "-X reserve",
        "-F reserve",
        "-X reserve",
        "-N a",
        "-N b",
        "-X a",
        "-X",
        "-P FORWARD DROP",
        "-P spare DROP",
        "-A nope -j DROP",
        "-A INPUT -j nope",
        "-A INPUT -g nope",
        "-N INPUT",
        "-X INPUT",
        "-X nope",
        "-L nope",
        "-Z INPUT 99",
        "-I INPUT 9 -j DROP",
        "-A INPUT -p tcp --dport 99999 -j DROP",
    ];
    for line in lines {
        let got = fw(&lab, line);
        let want = ipt(&ns, line);
        let (gc, wc) = (got.status.code(), want.status.code());
        let (gerr, werr) = (text(&got.stderr), text(&want.stderr));
        assert_eq!(gc, wc, "`{line}`: fw said {gerr}, iptables {werr}");
        assert!(
            !werr.is_empty() || gerr.is_empty(),
            "`{line}`: fw said {gerr}"
        );
        // fw says why where iptables only says "Invalid argument. Run `dmesg'".
        let vague = "Invalid argument. Run `dmesg' for more information.";
        assert!(
            gerr.contains(&message(&werr))
                || (message(&werr) == vague && gerr.contains("Invalid argument")),
            "`{line}`: fw said {gerr:?}, iptables {werr:?}"
        );
        let fw_s = lab.fw_ok(&["-S"]);
        let ipt_s = text(&ipt(&ns, "-S").stdout);
        assert_eq!(fw_s, ipt_s, "after `{line}`");
    }
    for listing in [
        "-S",
        "-S INPUT",
        "-S INPUT 2",
        "-L -n",
        "-L -n --line-numbers",
        "-L INPUT 2 -n",
        "-L FORWARD -n",
    ] {
        assert_eq!(
            text(&fw(&lab, listing).stdout),
            text(&ipt(&ns, listing).stdout),
            "{listing}"
        );
    }
    let want = uncommented(&text(
        &ns.sh(&format!("{IPTABLES}-save -t filter"), &[], None)
            .stdout,
    ));
    assert_eq!(saved(&lab), want, "save");
}

/// A ruleset fw enforces today, in iptables-save format.
const DUMP: &str = "\
# a comment
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:spare - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -s 192.0.2.0/24,198.51.100.0/24 -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p udp -m udp --sport 53 -j ACCEPT
-A INPUT ! -s 203.0.113.0/24 -p tcp --dport 80:90 -j ACCEPT
-A INPUT -i veth+ -p 47 -j DROP
-A OUTPUT -o lo -j ACCEPT
[5:6] -A spare -p tcp -j DROP
COMMIT
";

#[test]
fn save_and_restore_like_iptables() {
    require_iptables();
    let lab = Lab::new("cli-restore").unwrap();
    let _ssh = tcp_listen(lab.server(), 22).unwrap();
    let _telnet = tcp_listen(lab.server(), 23).unwrap();
    let ns = Netns::new("oracle-restore").unwrap();
    let out = fw_restore(&lab, &[], DUMP);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ns.sh(&format!("{IPTABLES}-restore"), &[], Some(DUMP));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = uncommented(&text(
        &ns.sh(&format!("{IPTABLES}-save -t filter"), &[], None)
            .stdout,
    ));
    assert_eq!(saved(&lab), want);
    // And it is enforced: ssh from 192.0.2.1 passes, telnet meets the DROP policy.
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 22, PROBE_TIMEOUT));
    assert!(!tcp_probe(
        lab.client(),
        SERVER_ADDR,
        23,
        std::time::Duration::from_millis(400)
    ));
    // The header comments iptables-save writes.
    let full = lab.fw_ok(&["save"]);
    assert!(full.starts_with("# Generated by fw save v"), "{full}");
    assert!(full.lines().last().unwrap().starts_with("# Completed on "));
    // --counters: every rule with its [packets:bytes].
    let counted = lab.fw_ok(&["save", "--counters"]);
    assert!(
        counted.contains("] -A INPUT -i lo -j ACCEPT\n"),
        "{counted}"
    );
    assert!(
        counted.contains("[0:0] -A spare -p tcp -j DROP\n"),
        "{counted}"
    );

    // --test checks and changes nothing, even for a good file.
    let before = saved(&lab);
    let out = fw_restore(&lab, &["--test"], "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(saved(&lab), before);
    // --noflush appends to what is there.
    let out = fw_restore(
        &lab,
        &["--noflush"],
        "*filter\n-A OUTPUT -p udp --dport 9 -j DROP\nCOMMIT\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        saved(&lab)
            .contains("-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -p udp -m udp --dport 9 -j DROP\n")
    );
    // A file argument, and a restore of fw's own save output.
    let path = std::env::temp_dir().join(format!("fw-restore-{}.rules", std::process::id()));
    std::fs::write(&path, lab.fw_ok(&["save"])).unwrap();
    let again = lab.fw(&["restore", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(saved(&lab).contains("--dport 9 -j DROP"));
    // Counters other than zero cannot be restored yet.
    let out = fw_restore(&lab, &["--counters"], DUMP);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "fw restore: line 13 failed: not supported yet: restoring counters (--counters with non-zero counts)\n"
    );
}

#[test]
fn corpus_restores_are_refused_as_the_library_says() {
    let mut loaded = Vec::new();
    let lab = Lab::new("cli-corpus").unwrap();
    lab.fw_ok(&["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"]);
    let before = saved(&lab);
    let dir = integration_tests::corpus_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("rules" | "conf" | "v4" | "v6")
            )
        })
        .collect();
    files.sort();
    for path in files {
        let input = std::fs::read_to_string(&path).unwrap();
        let offline = restore::restore(
            &State::default(),
            &input,
            &RestoreOptions::default(),
            true,
            Services::system(),
        );
        let e = match offline {
            // The library loads it: so does fw, and lists what it loaded.
            Ok(done) => {
                let out = fw_restore(&lab, &[], &input);
                assert_eq!(out.status.code(), Some(0), "{}", path.display());
                assert_eq!(
                    saved(&lab),
                    render::save(&done.state.ruleset, &Counters::default(), false, None)
                        .lines()
                        .filter(|l| !l.starts_with('#'))
                        .map(|l| format!("{l}\n"))
                        .collect::<String>(),
                    "{}",
                    path.display()
                );
                loaded.push(path.file_name().unwrap().to_string_lossy().into_owned());
                // Back to the ruleset the refusals are checked against.
                let back = fw_restore(&lab, &[], &before);
                assert_eq!(back.status.code(), Some(0));
                continue;
            }
            Err(e) => e,
        };
        for args in [&["--test"][..], &[]] {
            let out = fw_restore(&lab, args, &input);
            assert_eq!(out.status.code(), Some(e.exit_code()), "{}", path.display());
            assert_eq!(
                text(&out.stderr),
                format!("fw restore: {e}\n"),
                "{}",
                path.display()
            );
            assert_eq!(
                saved(&lab),
                before,
                "{} changed the ruleset",
                path.display()
            );
        }
    }
    // The corpus files whose filter table fw enforces, alone in the file.
    let want: Vec<&str> = integration_tests::CORPUS_LOADED
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap()
                .lines()
                .all(|l| !l.starts_with('*') || l == "*filter")
        })
        .collect();
    assert_eq!(loaded, want);
}

#[test]
fn every_error_class_says_where_and_changes_nothing() {
    let lab = Lab::new("cli-errors").unwrap();
    lab.fw_ok(&["-N", "keep"]);
    lab.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "53", "-j", "ACCEPT"]);
    let before = saved(&lab);
    // (command line, exit status, stderr).
    let cases: &[(&str, i32, &str)] = &[
        (
            "-A INPUT -p tcp --dport",
            2,
            "fw v0.1.0 (eBPF): option \"--dport\" requires an argument\n",
        ),
        (
            "-A INPUT --s 192.0.2.1 -j DROP",
            2,
            "fw v0.1.0 (eBPF): unknown option \"--s\"\n",
        ),
        (
            "-A INPUT ! -j DROP",
            2,
            "fw v0.1.0 (eBPF): cannot have ! before -j\n",
        ),
        (
            "-A INPUT -p tcp --dport ! 22 -j DROP",
            2,
            "fw v0.1.0 (eBPF): invalid port/service `!' specified\n",
        ),
        (
            "-A INPUT -p tcp --dport 99999 -j DROP",
            2,
            "fw v0.1.0 (eBPF): invalid port/service `99999' specified\n",
        ),
        (
            "-A INPUT -p tcp --dport 30:20 -j DROP",
            2,
            "fw v0.1.0 (eBPF): invalid portrange (min > max)\nError occurred at argument `30:20'\n",
        ),
        (
            "-A INPUT -s 192.0.2.1/33 -j DROP",
            2,
            "fw v0.1.0 (eBPF): invalid mask `33' specified\n",
        ),
        (
            "-A INPUT -p icmp --icmp-type foo -j DROP",
            2,
            "fw v0.1.0 (eBPF): Unknown ICMP type `foo'\n",
        ),
        (
            "-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j DROP",
            2,
            "fw v0.1.0 (eBPF): too many ports specified\n\
             Error occurred at argument `1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16'\n",
        ),
        (
            "-N abcdefghijabcdefghijabcdefghi",
            2,
            "fw v0.1.0 (eBPF): chain name `abcdefghijabcdefghijabcdefghi' too long (must be under 29 chars)\n",
        ),
        (
            "-A INPUT -j nope",
            2,
            "fw v0.1.0 (eBPF): Couldn't load target `nope':No such file or directory\n",
        ),
        (
            "-A INPUT -m limit --limit 3/min -p tcp --dport 22 -j ACCEPT",
            2,
            "fw v0.1.0 (eBPF): not supported yet: -m limit before -m tcp in one rule \
             (netfilter updates -m limit's state even for packets that -m tcp then rejects, fw only \
             for packets the rule's other matches accept; put -m limit after them)\n",
        ),
        (
            "-A OUTPUT -m owner --gid-owner 0 --suppl-groups -j ACCEPT",
            2,
            "fw v0.1.0 (eBPF): not supported yet: --suppl-groups (-m owner)\n",
        ),
        (
            "-A INPUT -j LOG --log-uid",
            2,
            "fw v0.1.0 (eBPF): not supported yet: -j LOG --log-uid\n",
        ),
        (
            "-X keep -n",
            2,
            "fw v0.1.0 (eBPF): Illegal option `-n' with this command\n",
        ),
        (
            "-A INPUT -s 192.0.2.1/255.0.255.255 -j DROP",
            2,
            "fw v0.1.0 (eBPF): not supported yet: -s with a non-contiguous netmask (192.0.2.1/255.0.255.255)\n",
        ),
        (
            "-A nope -j DROP",
            1,
            "fw: No chain/target/match by that name.\nError occurred at argument `nope'\n",
        ),
    ];
    let try_help = "Try `fw -h' or 'fw --help' for more information.\n";
    for (line, code, want) in cases {
        let out = fw(&lab, line);
        let stderr = text(&out.stderr);
        let want = if *code == 2 {
            format!("{want}{try_help}")
        } else {
            want.to_string()
        };
        assert_eq!(
            (out.status.code(), stderr.as_str()),
            (Some(*code), want.as_str()),
            "`fw {line}`"
        );
        assert_eq!(saved(&lab), before, "`fw {line}` changed the ruleset");
    }
    // Restore files: the line and the token.
    let restores: &[(&str, i32, &str)] = &[
        (
            "*filter\n-A INPUT -m comment --comment \"unterminated -j ACCEPT\nCOMMIT\n",
            2,
            "fw restore: line 2 failed: unterminated quote in rule specification\n",
        ),
        (
            "*filter\n-A INPUT -p tcp --dport 30:20 -j DROP\nCOMMIT\n",
            2,
            "fw restore: line 2 failed: invalid portrange (min > max) (at `30:20')\n",
        ),
        (
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -j nope\nCOMMIT\n",
            2,
            "fw restore: line 3 failed: Couldn't load target `nope':No such file or directory\n",
        ),
        (
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n",
            1,
            "fw restore: COMMIT expected at line 4\n",
        ),
        (
            "*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n",
            2,
            "fw restore: line 1 failed: not supported yet: table `nat' (fw has only the filter table; `fw restore --table filter` restores the filter table alone)\n",
        ),
        (
            "*filter\n-A INPUT -j LOG --log-uid\nCOMMIT\n",
            2,
            "fw restore: line 2 failed: not supported yet: -j LOG --log-uid\n",
        ),
        (
            "-A INPUT -j ACCEPT\n",
            1,
            "fw restore: line 1 failed: not inside a table (expected `*filter')\n",
        ),
    ];
    for (input, code, want) in restores {
        let out = fw_restore(&lab, &[], input);
        assert_eq!(
            (out.status.code(), text(&out.stderr)),
            (Some(*code), want.to_string()),
            "{input:?}"
        );
        assert_eq!(saved(&lab), before, "{input:?} changed the ruleset");
    }
    // A whole iptables-save file: --table filter takes the filter table
    // alone, as iptables-restore -T filter does; another table is refused.
    let whole = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 80 -j DNAT \
                 --to-destination 192.0.2.5\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n\
                 -A INPUT -p udp --dport 7777 -j DROP\nCOMMIT\n";
    let out = fw_restore(&lab, &["--table", "nat"], whole);
    assert_eq!(
        (out.status.code(), text(&out.stderr).lines().next().map(str::to_string)),
        (
            Some(2),
            Some(
                "fw v0.1.0 (eBPF): restore: not supported yet: table `nat' (fw has only the filter table)"
                    .to_string()
            )
        )
    );
    assert_eq!(saved(&lab), before);
    let out = fw_restore(&lab, &["-T", "filter"], whole);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        lab.fw_ok(&["-S", "INPUT"]),
        "-P INPUT ACCEPT\n-A INPUT -p udp -m udp --dport 7777 -j DROP\n"
    );
}

#[test]
fn user_chains_live_beside_the_enforced_ruleset() {
    let lab = Lab::new("cli-chains").unwrap();
    let _ssh = tcp_listen(lab.server(), 22).unwrap();
    lab.fw_ok(&["-N", "ssh"]);
    lab.fw_ok(&["-A", "ssh", "-p", "tcp", "--dport", "22", "-j", "DROP"]);
    assert_eq!(
        lab.fw_ok(&["-L", "ssh", "-n"]),
        "Chain ssh (0 references)\n\
         target     prot opt source               destination         \n\
         DROP       6    --  0.0.0.0/0            0.0.0.0/0            tcp dpt:22\n"
    );
    // Nothing jumps to it: ssh still passes.
    assert!(tcp_probe(lab.client(), SERVER_ADDR, 22, PROBE_TIMEOUT));
    lab.fw_ok(&["-E", "ssh", "guard"]);
    assert_eq!(
        lab.fw_ok(&["-S"]),
        "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N guard\n\
         -A guard -p tcp -m tcp --dport 22 -j DROP\n"
    );
    assert_eq!(lab.fw(&["-X", "guard"]).status.code(), Some(1));
    lab.fw_ok(&["-F", "guard"]);
    lab.fw_ok(&["-X"]);
    assert_eq!(
        lab.fw_ok(&["-S"]),
        "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
    );
    // -C: exit status only.
    lab.fw_ok(&["-A", "INPUT", "-s", "192.0.2.1,192.0.2.3", "-j", "ACCEPT"]);
    assert_eq!(
        lab.fw(&["-C", "INPUT", "-s", "192.0.2.3", "-j", "ACCEPT"])
            .status
            .code(),
        Some(0)
    );
    let out = lab.fw(&["-C", "INPUT", "-s", "192.0.2.4", "-j", "ACCEPT"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "fw: Bad rule (does a matching rule exist in that chain?).\n"
    );
}

/// REJECT on a veth needs no warning: its answers leave by fw's TCX
/// ingress link. Without that link `fw status --check` fails naming it,
/// and the rejected packet still never passes (the answer XDP passed up
/// is dropped by the stack, so REJECT acts as DROP).
#[test]
fn reject_on_veth_leaves_by_tc_ingress_or_not_at_all() {
    let lab = Lab::new("cli-rejveth").unwrap();
    let _web = tcp_listen(lab.server(), 81).unwrap();
    let add = ["-A", "INPUT", "-p", "tcp", "--dport", "81", "-j", "REJECT"];
    let first = lab.fw(&add);
    assert_eq!(
        (first.status.code(), text(&first.stderr)),
        (Some(0), String::new())
    );
    assert!(lab.fw(&["status", "--check"]).status.success());
    let status = lab.fw_ok(&["status"]);
    assert!(status.contains(", fw_tc_in id "), "{status}");

    let pin = in_netns(lab.server(), || {
        Dirs::current().unwrap().link("tcin", SERVER_IF)
    })
    .unwrap();
    std::fs::remove_file(&pin).unwrap();
    let check = lab.fw(&["status", "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let said = text(&check.stderr);
    assert!(
        said.contains("fw: veth-s: REJECT answers lost: no live TC ingress link"),
        "{said}"
    );
    assert!(!tcp_probe(lab.client(), SERVER_ADDR, 81, PROBE_TIMEOUT));
}

#[test]
fn another_bpffs_is_refused_not_listed_empty() {
    // `unshare -m` and a fresh bpffs at /sys/fs/bpf (and none at
    // /run/fw-bpffs): fw's pins are out of sight, its programs still run.
    let lab = Lab::new("cli-hidden").unwrap();
    lab.fw_ok(&["-P", "INPUT", "DROP"]);
    lab.fw_ok(&["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"]);
    let before = saved(&lab);
    // Another namespace's record must outlive the hidden view too (every
    // command starts with a garbage collection of other namespaces).
    let other = Lab::new("cli-hidden2").unwrap();
    other.fw_ok(&["-A", "INPUT", "-p", "udp", "--dport", "53", "-j", "ACCEPT"]);
    let other_before = saved(&other);
    let fw = integration_tests::fw_bin();
    let hidden = |args: &str| {
        let script = format!(
            "umount /run/fw-bpffs 2>/dev/null; mount -t bpf bpf /sys/fs/bpf && exec {} {args}",
            fw.display()
        );
        std::process::Command::new("ip")
            .args(["netns", "exec", lab.server(), "unshare", "-m", "sh", "-c"])
            .arg(&script)
            .output()
            .unwrap()
    };
    // `fw gc` there sees no pins at all, and removes no one's record.
    let gc = hidden("gc");
    assert_eq!(
        (gc.status.code(), text(&gc.stdout)),
        (Some(0), String::new()),
        "{}",
        text(&gc.stderr)
    );
    for args in ["-S", "status", "-A INPUT -j ACCEPT"] {
        let out = hidden(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "fw {args}: {err}");
        assert!(
            err.contains("runs an XDP program")
                && err.contains("this mount namespace sees another bpffs"),
            "fw {args}: {err}"
        );
        assert_eq!(text(&out.stdout), "", "fw {args}");
    }
    assert_eq!(saved(&lab), before);
    assert_eq!(saved(&other), other_before);
}
