//! Bad input gets iptables' exit code and message and changes nothing
//! (issue 2): the examples are real iptables 1.8.9's answers. So does a
//! machine fw cannot load on (issue 12): no capabilities, an old kernel,
//! no bpffs, a program the verifier refuses.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use firewall::load::{self, LoadError, pins::Dirs};
use integration_tests::{Lab, Netns, PROBE_TIMEOUT, SERVER_ADDR, fw_bin, icmp_probe, in_netns};

#[test]
fn bad_input_is_refused_and_the_ruleset_is_unchanged() {
    let lab = Lab::new("errors").unwrap();
    lab.fw_ok(&["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"]);
    lab.fw_ok(&["-P", "INPUT", "DROP"]);
    let before = lab.fw_ok(&["-S"]);
    let cases: &[(&str, i32, &str)] = &[
        (
            "-A INPUT -p tcp --dport 99999 -j ACCEPT",
            2,
            "invalid port/service `99999' specified",
        ),
        (
            "-A INPUT --dport 22 -j ACCEPT",
            2,
            "unknown option \"--dport\"",
        ),
        ("-A INPUT -m unknownmatch -j ACCEPT", 2, "unknownmatch"),
        (
            "-A INPUT -s 192.0.2.1/33 -j DROP",
            2,
            "invalid mask `33' specified",
        ),
        ("-A NOPE -j DROP", 1, "No chain/target/match by that name."),
        (
            "-D INPUT -p tcp --dport 23 -j ACCEPT",
            1,
            "Bad rule (does a matching rule exist in that chain?).",
        ),
        ("-D INPUT 5", 1, "Index of deletion too big."),
        ("-I INPUT 5 -j ACCEPT", 1, "Index of insertion too big."),
        ("-P NOPE DROP", 1, "Bad built-in chain name."),
        ("-A INPUT -j LOG --log-uid", 2, "--log-uid"),
        (
            "-A INPUT -m limit --limit 3/min -p tcp --dport 22 -j ACCEPT",
            2,
            "-m limit before -m tcp",
        ),
    ];
    for (cmd, code, msg) in cases {
        let out = lab.fw(&cmd.split(' ').collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "`fw {cmd}`: {stderr}");
        assert!(
            stderr.contains(msg),
            "`fw {cmd}`: expected {msg:?} in {stderr:?}"
        );
        assert_eq!(lab.fw_ok(&["-S"]), before, "`fw {cmd}` changed the ruleset");
    }
}

#[test]
fn a_user_without_privileges_is_told_which_capability_is_missing() {
    let lab = Lab::new("noroot").unwrap();
    // `fw -A INPUT -j DROP` as nobody, with these capabilities: its exit
    // code and stderr.
    let as_nobody = |caps: &[&str]| {
        let fw = integration_tests::fw_bin();
        let mut args = vec!["--reuid=65534", "--regid=65534", "--clear-groups"];
        args.extend(caps);
        args.extend([fw.to_str().unwrap(), "-A", "INPUT", "-j", "DROP"]);
        let out = integration_tests::netns_exec(lab.server(), "setpriv", &args).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    let (code, stderr) = as_nobody(&["--inh-caps=-all"]);
    // 3, as iptables-legacy's "Permission denied (you must be root)".
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stderr,
        "fw: Permission denied (you must be root): \
         fw lacks CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN\n"
    );
    assert!(lab.fw_ok(&["status"]).contains("not loaded"));
    // The capabilities without root's file access: the lock is named.
    let (code, stderr) = as_nobody(&[
        "--inh-caps=+bpf,+perfmon,+net_admin",
        "--ambient-caps=+bpf,+perfmon,+net_admin",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.starts_with("fw: /run/fw/lock/") && stderr.contains("(you must be root: "),
        "{stderr}"
    );
}

/// On a kernel without a BPF helper fw's programs call (made up here:
/// `FW_PROBE_HELPER` has fw probe an id past the kernel's last) fw
/// refuses to load, naming the helper and the kernel that has it, exits
/// 3 (iptables' VERSION_PROBLEM) and leaves nothing behind.
#[test]
fn an_old_kernel_is_named_and_nothing_is_loaded() {
    let lab = Lab::new("oldkernel").unwrap();
    let fw = fw_bin();
    let out = integration_tests::netns_exec(
        lab.server(),
        "env",
        &[
            "FW_PROBE_HELPER=100000",
            fw.to_str().unwrap(),
            "-A",
            "INPUT",
            "-j",
            "DROP",
        ],
    )
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.starts_with("fw: this kernel (Linux ")
            && stderr.ends_with(
                ") lacks the BPF helper #100000 (FW_PROBE_HELPER), which fw's programs call \
                 (Linux 99 and \
                 later have it); fw needs Linux 6.1 or later with eBPF (CONFIG_BPF_SYSCALL, \
                 CONFIG_BPF_JIT)\n"
            ),
        "{stderr}"
    );
    assert!(lab.fw_ok(&["status"]).starts_with("fw is not loaded"));
    assert!(icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
}

/// In a mount namespace where neither /sys/fs/bpf nor /run/fw-bpffs is
/// bpffs (tmpfs over the latter, and `ip netns exec` remounts /sys), fw
/// cannot pin: it says so, exits 3 and the loaded firewall is as it was.
/// (fw mounts bpffs itself only in the host's mount namespace, so "not
/// mountable there" cannot be produced without the host's mounts.)
#[test]
fn no_bpffs_is_named_and_the_firewall_is_untouched() {
    let lab = Lab::new("nobpffs").unwrap();
    lab.fw_rules(&["-A INPUT -p icmp -j DROP"]);
    let before = lab.fw_ok(&["-S"]);
    assert!(!icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
    let script = "unshare -m sh -c 'mount -t tmpfs none /run/fw-bpffs && \
                  { ! mountpoint -q /run/fw/bpffs || mount -t tmpfs none /run/fw/bpffs; } && \
                  exec ip netns exec \"$1\" \"$2\" -A INPUT -p tcp --dport 23 -j DROP' sh \"$1\" \"$2\"";
    let out = std::process::Command::new("sh")
        .args(["-c", script, "sh", lab.server(), fw_bin().to_str().unwrap()])
        .env_remove("FW_BPFFS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr,
        "fw: no bpffs of the host is visible here (`ip netns exec` remounts /sys): \
         run `fw status` once outside `ip netns exec`, or `cargo xtask setup`, \
         to mount it at /run/fw-bpffs\n"
    );
    assert_eq!(lab.fw_ok(&["-S"]), before);
    assert!(!icmp_probe(lab.client(), SERVER_ADDR, PROBE_TIMEOUT));
}

/// An XDP program that reads past its context, assembled with LLVM's
/// llvm-mc (what `cargo xtask setup` installs): the kernel's verifier
/// refuses it, and fw's load path saves the verifier's log to the file
/// its message names. (fw's own programs pass on this kernel, so the
/// refusal needs a program of its own; it goes through the same
/// `refused` path as `Kernel::install`.)
#[test]
fn a_verifier_rejection_saves_the_log_to_the_file_the_message_names() {
    let asm = "\t.section xdp,\"ax\",@progbits\n\t.globl bad\n\t.type bad,@function\nbad:\n\
               \tr0 = *(u32 *)(r1 + 9999)\n\texit\n.Lend:\n\t.size bad, .Lend-bad\n\
               \t.section license,\"aw\",@progbits\n\t.asciz \"GPL\"\n";
    let src = integration_tests::TempFile::new("verifier-bad.s", asm);
    let obj = integration_tests::TempFile::new("verifier-bad.o", "");
    let out = std::process::Command::new("/usr/lib/llvm-22/bin/llvm-mc")
        .args([
            "-triple",
            "bpfel",
            "-filetype=obj",
            src.path(),
            "-o",
            obj.path(),
        ])
        .output()
        .expect("llvm-mc of LLVM 22 (cargo xtask setup installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let object = std::fs::read(obj.path()).unwrap();
    let ns = Netns::new("verifier").unwrap();
    let (dirs, result) = in_netns(ns.name(), move || {
        let dirs = Dirs::current().unwrap();
        let result = load::load_xdp(&dirs, &object, "bad").map(|_| ());
        (dirs, result)
    })
    .unwrap();
    let log = dirs.verifier_log();
    let saved = std::fs::read_to_string(&log);
    let _ = std::fs::remove_file(&log);
    let e = result.unwrap_err();
    assert!(
        matches!(&e, LoadError::Verifier { program: "bad", log: Some(p), .. } if *p == log),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.starts_with(
            "the kernel refused eBPF program bad: Permission denied (os error 13) \
             (fw needs Linux 6.1 or later with eBPF (CONFIG_BPF_SYSCALL, CONFIG_BPF_JIT); \
             this is Linux "
        ) && message.ends_with(&format!("; the verifier's log is in {}", log.display())),
        "{message}"
    );
    let saved = saved.unwrap();
    assert!(
        saved.contains("invalid bpf_context access off=9999"),
        "{saved}"
    );
}
