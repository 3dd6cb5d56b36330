//! `cargo xtask vmtest`: fw's kernel-facing integration tests on Debian
//! 12's kernels (6.1, and the 6.12 backport) in qemu (docs/vmtest.md).
//!
//! The kernels are Debian's own packages, fetched with `apt-get download`
//! and unpacked with `dpkg-deb -x` under `target/vmtest/kernels`. fw and
//! the test binaries are built on the host; virtme-ng boots each kernel
//! with the host's root file system shared read-only over 9p (writes go
//! to overlays and tmpfs in the guest) and runs a generated shell script
//! inside, as root, that mounts bpffs, loads the modules the tests use
//! and runs each test binary with `--test-threads=1`. The log directory
//! is shared read-write, so the results, each binary's output, the
//! guest's dmesg and the serial console land on the host.
//!
//! No KVM here: qemu emulates (TCG), so a run takes minutes.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::cmd::{self, probe};

/// The test binaries run by default: enforcement in namespaces (real
/// packets through XDP and TC, tc clsact forced, REJECT, LOG, tun
/// devices, the refusals, the rules/ examples, VLAN and bond devices),
/// and the BPF_PROG_TEST_RUN agreement tests of the classifier and of
/// connection tracking.
pub const DEFAULT_TESTS: [&str; 14] = [
    "enforce",
    "fragments",
    "classifier_kernel",
    "conntrack",
    "tc_attach",
    "reject_kernel",
    "reject",
    "verifier",
    "log",
    "tunnel",
    "errors",
    "examples",
    "vm_devices",
    "ipv6",
];

/// Debian packages the VM needs: qemu, kmod (virtme-ng runs depmod and
/// the guest modprobe), udev (virtme-ng-init starts it), busybox (the
/// initramfs that loads the 9p modules).
const APT_PACKAGES: [&str; 4] = ["qemu-system-x86", "kmod", "udev", "busybox-static"];

/// Test binaries whose tests are `#[ignore]`d on the host for want of a
/// module the guest loads ([`GUEST_MODULES`]): run with
/// `--include-ignored`.
const VM_ONLY: [&str; 1] = ["vm_devices"];

/// Modules loaded in the guest before the tests: the ones the tests and
/// fw use (Debian builds them as modules). A failure is logged, not
/// fatal: a test that needs the module then fails and says so.
const GUEST_MODULES: [&str; 10] = [
    "veth",
    "tun",
    "8021q",
    "bonding",
    "vxlan",
    "xfrm_user",
    "sch_ingress",
    "cls_bpf",
    "nf_conntrack",
    "iptable_filter",
];

/// A Debian 12 kernel series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelArg {
    /// Debian 12's own kernel (linux-image-6.1.0-N-amd64).
    #[value(name = "6.1")]
    V6_1,
    /// The bookworm backport (linux-image-6.12.N+deb12-amd64).
    #[value(name = "6.12")]
    V6_12,
    /// Both, 6.12 first.
    All,
}

/// Options of `cargo xtask vmtest`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Which kernel to boot.
    #[arg(long, value_enum, default_value = "all")]
    pub kernel: KernelArg,
    /// A test binary of tests/tests to run (repeatable); default: enforce,
    /// classifier_kernel, conntrack, tc_attach, reject_kernel, log, tunnel,
    /// errors, examples, vm_devices; `all`: every binary of tests/tests.
    #[arg(long = "test", value_name = "NAME")]
    pub tests: Vec<String>,
    /// Minutes one VM may run before it is killed.
    #[arg(long, default_value_t = 60, value_name = "MIN")]
    pub timeout: u64,
    /// Guest memory (qemu's -m).
    #[arg(long, default_value = "2G")]
    pub memory: String,
    /// Skip `cargo xtask demo`, which otherwise runs in each guest after
    /// the test binaries.
    #[arg(long)]
    pub no_demo: bool,
    /// Extra arguments for each test binary (after `--`), e.g. a test
    /// name filter.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// A kernel series and how its Debian package is named.
#[derive(Debug, Clone, Copy)]
struct Series {
    /// The package name is `prefix` + a number + `suffix`; the newest
    /// number wins.
    prefix: &'static str,
    suffix: &'static str,
}

const SERIES_6_1: Series = Series {
    prefix: "linux-image-6.1.0-",
    suffix: "-amd64",
};
const SERIES_6_12: Series = Series {
    prefix: "linux-image-6.12.",
    suffix: "+deb12-amd64",
};

/// A test binary built on the host.
#[derive(Debug, Clone)]
struct TestBin {
    name: String,
    path: PathBuf,
}

/// What one test binary gave in the guest.
#[derive(Debug, Default)]
struct Outcome {
    name: String,
    passed: u64,
    failed: u64,
    ignored: u64,
    /// Names of the failed tests (`test NAME ... FAILED`).
    failures: Vec<String>,
    /// The message of the first panic in the output: on a kernel fw
    /// refuses, fw's own error.
    first_error: Option<String>,
    /// Exit code, `None` when the binary never finished.
    rc: Option<i32>,
    /// Whether libtest printed its `test result:` line.
    completed: bool,
    seconds: f64,
    /// For the demo: the tc attach mechanism `fw status` showed.
    tc: Option<String>,
}

impl Outcome {
    /// Whether this binary counts as failed: a failed test, a non-zero
    /// exit, or no result line at all (crash, timeout).
    fn is_failure(&self) -> bool {
        self.failed > 0 || self.rc != Some(0) || !self.completed
    }
}

/// One kernel's run.
#[derive(Debug)]
struct KernelRun {
    version: String,
    boot_seconds: Option<f64>,
    total: Duration,
    outcomes: Vec<Outcome>,
    logs: PathBuf,
    /// Why the VM gave no results, if it did not.
    error: Option<String>,
}

/// Runs `args`: install, fetch kernels, build, boot each kernel and run
/// the tests inside, print a summary.
///
/// # Errors
/// When something cannot be installed, fetched or built, or when a test
/// failed on some kernel.
pub fn run(args: &Args) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!("cargo xtask vmtest must run as root (apt-get, and the guest runs tests as root)");
    }
    install()?;
    let series: Vec<Series> = match args.kernel {
        KernelArg::V6_1 => vec![SERIES_6_1],
        KernelArg::V6_12 => vec![SERIES_6_12],
        KernelArg::All => vec![SERIES_6_12, SERIES_6_1],
    };
    let root = cmd::workspace_root();
    let base = cmd::target_dir().join("vmtest");
    let mut kernels = Vec::new();
    for s in series {
        kernels.push(fetch_kernel(s, &base.join("kernels"))?);
    }

    let fw = cmd::build_fw(false)?;
    let bins = build_tests()?;
    let wanted: Vec<String> = if args.tests.is_empty() {
        DEFAULT_TESTS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.tests.clone()
    };
    let mut chosen = Vec::new();
    if wanted.iter().any(|w| w == "all") {
        chosen.clone_from(&bins);
    }
    for w in wanted.iter().filter(|w| *w != "all") {
        match bins.iter().find(|b| &b.name == w) {
            Some(b) if chosen.iter().any(|c: &TestBin| c.name == b.name) => {}
            Some(b) => chosen.push(b.clone()),
            None => {
                let names: Vec<&str> = bins.iter().map(|b| b.name.as_str()).collect();
                bail!("no test binary {w:?}; there are: {}", names.join(" "));
            }
        }
    }

    let stamp = probe(Command::new("date").args(["-u", "+%Y%m%dT%H%M%SZ"]))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "run".into());
    let logs = base.join("logs").join(stamp);
    let mut runs = Vec::new();
    for (version, kimg) in &kernels {
        let dir = logs.join(version);
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        println!(
            "vmtest: booting {version} (TCG, no KVM: expect minutes); logs in {}",
            dir.display()
        );
        let r = boot_and_test(args, &root, &fw, &chosen, version, kimg, &dir)?;
        print_kernel(&r);
        runs.push(r);
    }

    println!("\nvmtest summary (logs: {})", logs.display());
    let (mut passed, mut failed, mut bad) = (0, 0, 0);
    for r in &runs {
        print_kernel(r);
        for o in &r.outcomes {
            passed += o.passed;
            failed += o.failed;
            bad += u64::from(o.is_failure());
        }
        bad += u64::from(r.error.is_some());
    }
    // The plain closing line CI runners read.
    println!("vmtest: {passed} passed, {failed} failed");
    if bad > 0 {
        bail!(
            "{bad} test binar{} or VM failed (logs: {})",
            if bad == 1 { "y" } else { "ies" },
            logs.display()
        );
    }
    Ok(())
}

/// Installs the missing [`APT_PACKAGES`] and virtme-ng (from PyPI).
fn install() -> anyhow::Result<()> {
    let missing = cmd::missing_packages(&APT_PACKAGES);
    if missing.is_empty() {
        println!(
            "vmtest: apt      already present: {}",
            APT_PACKAGES.join(" ")
        );
    } else {
        cmd::run(Command::new("apt-get").arg("update"))?;
        cmd::run(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        println!("vmtest: apt      installed: {}", missing.join(" "));
    }
    if let Some(v) = probe(Command::new("vng").arg("--version")) {
        println!("vmtest: vng      already present: {}", v.trim());
        return Ok(());
    }
    let pip = || {
        let mut c = Command::new("python3");
        c.args(["-m", "pip", "install", "--quiet", "virtme-ng"]);
        c
    };
    // Debian's own python3 refuses pip installs outside a venv (PEP 668).
    if cmd::run(&mut pip()).is_err() {
        cmd::run(pip().arg("--break-system-packages"))?;
    }
    match probe(Command::new("vng").arg("--version")) {
        Some(v) => println!("vmtest: vng      installed: {}", v.trim()),
        None => bail!(
            "installed virtme-ng, but `vng` is not on PATH (pip's scripts directory, \
             e.g. ~/.local/bin, is missing from it)"
        ),
    }
    Ok(())
}

/// The newest package of `s` that apt can install, e.g.
/// `linux-image-6.12.118+deb12-amd64`.
fn newest_package(s: Series) -> anyhow::Result<String> {
    let regex = format!(
        "^{}[0-9]+{}$",
        s.prefix.replace('.', "\\."),
        s.suffix.replace('.', "\\.").replace('+', "\\+")
    );
    let search = || {
        probe(Command::new("apt-cache").args(["search", "--names-only", &regex]))
            .unwrap_or_default()
    };
    let mut found = search();
    if found.trim().is_empty() {
        cmd::run(Command::new("apt-get").arg("update"))?;
        found = search();
    }
    let mut best: Option<(u64, String)> = None;
    for line in found.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(n) = name
            .strip_prefix(s.prefix)
            .and_then(|r| r.strip_suffix(s.suffix))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, name.to_owned()));
        }
    }
    best.map(|(_, n)| n)
        .with_context(|| format!("apt knows no package matching {regex}"))
}

/// Fetches and unpacks the newest kernel of `s` under `dir` unless it is
/// there; returns (kernel release, path of vmlinuz).
fn fetch_kernel(s: Series, dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let package = newest_package(s)?;
    let version = package
        .strip_prefix("linux-image-")
        .context("package name")?
        .to_owned();
    let unpacked = dir.join(&version);
    let vmlinuz = unpacked.join("boot").join(format!("vmlinuz-{version}"));
    if vmlinuz.exists() && unpacked.join("lib/modules").join(&version).is_dir() {
        println!(
            "vmtest: kernel   already present: {package} in {}",
            unpacked.display()
        );
        return Ok((version, vmlinuz));
    }
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).with_context(|| format!("create {}", debs.display()))?;
    cmd::run(
        Command::new("apt-get")
            .args(["download", &package])
            .current_dir(&debs),
    )?;
    let deb = std::fs::read_dir(&debs)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
        })
        .with_context(|| format!("apt-get download left no {package}_*.deb"))?;
    // Unpack beside, then rename: an interrupted unpack is never taken
    // for a complete one.
    let partial = dir.join(format!("{version}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    cmd::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&partial))?;
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::rename(&partial, &unpacked)?;
    if !vmlinuz.exists() {
        bail!("{} has no boot/vmlinuz-{version}", deb.display());
    }
    println!(
        "vmtest: kernel   unpacked: {package} in {}",
        unpacked.display()
    );
    Ok((version, vmlinuz))
}

/// `cargo test -p integration-tests --no-run`, and the test binaries it
/// names in its JSON messages.
fn build_tests() -> anyhow::Result<Vec<TestBin>> {
    let mut c = cmd::cargo();
    c.args([
        "test",
        "-p",
        "integration-tests",
        "--no-run",
        "--message-format=json",
    ]);
    println!("$ {}", cmd::show(&c));
    let out = c
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo test --no-run")?;
    if !out.status.success() {
        bail!(
            "cargo test -p integration-tests --no-run failed ({})",
            out.status
        );
    }
    let mut bins = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let is_test = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "test"));
        if let (true, Some(name), Some(exe)) = (
            is_test,
            msg["target"]["name"].as_str(),
            msg["executable"].as_str(),
        ) {
            bins.push(TestBin {
                name: name.to_owned(),
                path: exe.into(),
            });
        }
    }
    if bins.is_empty() {
        bail!("cargo test --no-run named no test binary");
    }
    Ok(bins)
}

/// Quotes `s` for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script the guest runs: bpffs, modules, then each test binary,
/// its output, exit code and start/end times into `dir`, then the demo
/// when `demo` is this xtask binary.
fn guest_script(
    args: &Args,
    root: &Path,
    fw: &Path,
    bins: &[TestBin],
    demo: Option<&Path>,
    dir: &Path,
) -> String {
    let d = sh_quote(&dir.to_string_lossy());
    let mut s =
        String::from("#!/bin/sh\n# Written by cargo xtask vmtest; runs as root in the guest.\n");
    let fw_q = sh_quote(&fw.to_string_lossy());
    let _ = writeln!(s, "D={d}");
    s.push_str("exec >\"$D/guest.log\" 2>&1\n");
    s.push_str("cut -d' ' -f1 /proc/uptime >\"$D/boot-seconds\"\n");
    s.push_str("uname -a\n");
    // As `cargo xtask setup` mounts them on the host: fw pins under
    // /sys/fs/bpf and finds its pins at /run/fw-bpffs under `ip netns exec`.
    s.push_str("mount -t bpf bpf /sys/fs/bpf\n");
    s.push_str("mkdir -p /run/fw-bpffs /run/netns && mount --bind /sys/fs/bpf /run/fw-bpffs\n");
    let _ = writeln!(
        s,
        "for m in {}; do modprobe $m || echo \"modprobe $m failed\"; done",
        GUEST_MODULES.join(" ")
    );
    // Cargo runs integration tests from the package's directory.
    let _ = writeln!(s, "cd {}", sh_quote(&root.join("tests").to_string_lossy()));
    let _ = writeln!(s, "export FW_BIN={fw_q}");
    s.push_str("export RUST_BACKTRACE=1\n");
    let extra: Vec<String> = args.args.iter().map(|a| sh_quote(a)).collect();
    for b in bins {
        let n = &b.name;
        let _ = writeln!(s, "echo \"== {n}\"");
        let _ = writeln!(s, "date +%s.%N >\"$D/{n}.start\"");
        // Tests of modules the host lacks are ignored there, run here.
        let ignored = if VM_ONLY.contains(&n.as_str()) {
            " --include-ignored"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "{} --test-threads=1{ignored} {} >\"$D/{n}.log\" 2>&1; echo $? >\"$D/{n}.rc\"",
            sh_quote(&b.path.to_string_lossy()),
            extra.join(" ")
        );
        let _ = writeln!(s, "date +%s.%N >\"$D/{n}.end\"");
    }
    if let Some(x) = demo {
        // The demo as a user runs it, with the fw just tested.
        let _ = writeln!(s, "echo \"== demo\"");
        s.push_str("date +%s.%N >\"$D/demo.start\"\n");
        let _ = writeln!(
            s,
            "cd {} && {} demo --fw {fw_q} >\"$D/demo.log\" 2>&1; echo $? >\"$D/demo.rc\"",
            sh_quote(&root.to_string_lossy()),
            sh_quote(&x.to_string_lossy())
        );
        s.push_str("date +%s.%N >\"$D/demo.end\"\n");
    }
    // fw saves each verifier refusal's log under /run/fw, the guest's tmpfs.
    s.push_str("cp /run/fw/verifier-*.log \"$D\"/ 2>/dev/null\n");
    s.push_str("dmesg >\"$D/dmesg.log\"\n");
    s.push_str("echo done >\"$D/done\"\n");
    s
}

/// Boots `kimg` with virtme-ng, runs `bins` inside, reads their results.
fn boot_and_test(
    args: &Args,
    root: &Path,
    fw: &Path,
    bins: &[TestBin],
    version: &str,
    kimg: &Path,
    dir: &Path,
) -> anyhow::Result<KernelRun> {
    let script = dir.join("guest.sh");
    let xtask = std::env::current_exe().context("this xtask binary's path")?;
    let demo = (!args.no_demo).then_some(xtask.as_path());
    std::fs::write(&script, guest_script(args, root, fw, bins, demo, dir))?;
    let console = std::fs::File::create(dir.join("console.log"))?;
    // nice: the machine's two cores are shared; timeout: a hung guest
    // must not hang the run.
    let mut vng = Command::new("nice");
    vng.arg("timeout")
        .arg(format!("{}m", args.timeout))
        .arg("vng")
        .arg("--run")
        .arg(kimg)
        // No usable KVM on these machines; 9p because virtiofsd is not
        // there. The root file system is shared read-only, the log
        // directory read-write, so the results reach the host.
        // --verbose puts the serial console (kernel messages) on stdout.
        .args(["--disable-kvm", "--force-9p", "--cpus", "2", "--verbose"])
        .args(["--memory", &args.memory])
        .arg("--qemu-opts=-accel tcg,thread=multi")
        .arg(format!("--rwdir={}", dir.display()))
        .arg("--exec")
        .arg(format!("sh {}", sh_quote(&script.to_string_lossy())))
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(console.try_clone()?)
        .stderr(console);
    println!("$ {}", cmd::show(&vng));
    let start = Instant::now();
    let status = vng.status().context("cannot run vng")?;
    let total = start.elapsed();
    let boot_seconds = std::fs::read_to_string(dir.join("boot-seconds"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let mut outcomes = Vec::new();
    for b in bins {
        outcomes.push(read_outcome(dir, &b.name));
    }
    if !args.no_demo {
        outcomes.push(read_demo(dir));
    }
    let error = if dir.join("done").exists() {
        None
    } else if status.code() == Some(124) {
        Some(format!(
            "the VM ran past --timeout {}m and was killed",
            args.timeout
        ))
    } else if boot_seconds.is_none() {
        Some(format!(
            "the guest never ran the script (vng: {status}); see console.log"
        ))
    } else {
        Some(format!(
            "the guest stopped before the end (vng: {status}); see guest.log"
        ))
    };
    Ok(KernelRun {
        version: version.to_owned(),
        boot_seconds,
        total,
        outcomes,
        logs: dir.to_owned(),
        error,
    })
}

/// Reads `<name>.log`, `.rc`, `.start`, `.end` from `dir`.
fn read_outcome(dir: &Path, name: &str) -> Outcome {
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{name}.{ext}"))).ok();
    let mut o = parse_libtest(&read("log").unwrap_or_default());
    o.name = name.to_owned();
    o.rc = read("rc").and_then(|s| s.trim().parse().ok());
    let time = |ext: &str| read(ext).and_then(|s| s.trim().parse::<f64>().ok());
    if let (Some(a), Some(b)) = (time("start"), time("end")) {
        o.seconds = b - a;
    }
    o
}

/// Reads the demo's `demo.log`, `.rc`, `.start`, `.end` from `dir`.
fn read_demo(dir: &Path) -> Outcome {
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("demo.{ext}"))).ok();
    let mut o = parse_demo(&read("log").unwrap_or_default());
    o.rc = read("rc").and_then(|s| s.trim().parse().ok());
    let time = |ext: &str| read(ext).and_then(|s| s.trim().parse::<f64>().ok());
    if let (Some(a), Some(b)) = (time("start"), time("end")) {
        o.seconds = b - a;
    }
    o
}

/// The demo's probes (lines ending `ok` or `WRONG`), its error, and the
/// tc mechanism of the first interface in its `fw status` table.
fn parse_demo(log: &str) -> Outcome {
    let mut o = Outcome {
        name: "demo".into(),
        ..Outcome::default()
    };
    let mut columns: Option<usize> = None;
    for line in log.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.contains(" expected ") && line.contains(" got ") {
            match words.last() {
                Some(&"ok") => o.passed += 1,
                Some(&"WRONG") => {
                    o.failed += 1;
                    o.failures.push(line.trim().to_owned());
                }
                _ => {}
            }
        }
        if line.starts_with("all ") && line.ends_with(" probes as expected") {
            o.completed = true;
        }
        // xtask's main: "error: {e:#}".
        if let Some(e) = line.strip_prefix("error: ") {
            o.completed = o.passed + o.failed > 0;
            o.first_error.get_or_insert_with(|| e.to_owned());
        }
        // "interface  ifindex xdp  tc  xdp link  tc link  status"
        if words.first() == Some(&"interface") {
            columns = words.iter().position(|w| *w == "tc");
        } else if let (Some(c), None) = (columns, &o.tc)
            && let Some(tc) = words.get(c)
        {
            o.tc = Some((*tc).to_owned());
        }
    }
    o
}

/// Counts and failed test names from libtest's output.
fn parse_libtest(log: &str) -> Outcome {
    let mut o = Outcome::default();
    let mut lines = log.lines();
    while let Some(line) = lines.next() {
        // "thread 'x' (12) panicked at tests/src/lib.rs:135:9:" and the
        // message on the next line.
        if o.first_error.is_none() && line.starts_with("thread '") && line.contains("panicked at") {
            o.first_error = lines.next().map(|m| m.trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("test ")
            && let Some(name) = rest.strip_suffix(" ... FAILED")
        {
            o.failures.push(name.to_owned());
        }
        // "test result: FAILED. 3 passed; 1 failed; 0 ignored; ..."
        if let Some(rest) = line.strip_prefix("test result: ") {
            o.completed = true;
            for part in rest.split(';') {
                let words: Vec<&str> = part.split_whitespace().collect();
                let (n, what) = match words.as_slice() {
                    [_, n, what, ..] if n.parse::<u64>().is_ok() => (n, what),
                    [n, what, ..] => (n, what),
                    _ => continue,
                };
                let Ok(n) = n.parse::<u64>() else { continue };
                match *what {
                    "passed" => o.passed = n,
                    "failed" => o.failed = n,
                    "ignored" => o.ignored = n,
                    _ => {}
                }
            }
        }
    }
    o
}

/// Prints one kernel's results.
fn print_kernel(r: &KernelRun) {
    let boot = r
        .boot_seconds
        .map_or_else(|| "?".into(), |b| format!("{b:.0} s"));
    println!(
        "kernel {}: boot {boot}, whole VM {:.0} s, logs {}",
        r.version,
        r.total.as_secs_f64(),
        r.logs.display()
    );
    if let Some(e) = &r.error {
        println!("  VM: {e}");
    }
    for o in &r.outcomes {
        let status = if !o.completed {
            format!(
                "no result (exit {})",
                o.rc.map_or("-".into(), |c| c.to_string())
            )
        } else if o.is_failure() {
            "FAILED".into()
        } else {
            "ok".into()
        };
        println!(
            "  {:<20} {:>4} passed {:>4} failed {:>3} ignored {:>6.0} s  {status}",
            o.name, o.passed, o.failed, o.ignored, o.seconds
        );
        if let Some(tc) = &o.tc {
            println!("      fw status: tc hook by {tc}");
        }
        for f in &o.failures {
            println!("      failed: {f}");
        }
        if let Some(e) = &o.first_error {
            println!("      first error: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_output_is_counted() {
        let log = "running 3 tests\n\
                   test a ... ok\n\
                   test b::c ... FAILED\n\
                   test d ... ignored\n\
                   \n\
                   failures:\n    b::c\n\n\
                   test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.00s\n";
        let o = parse_libtest(&format!(
            "thread 'b::c' (7) panicked at tests/src/lib.rs:135:9:\nfw -A failed: fw: too old\n{log}"
        ));
        assert_eq!(o.first_error.as_deref(), Some("fw -A failed: fw: too old"));
        assert!(o.completed);
        assert_eq!((o.passed, o.failed, o.ignored), (1, 1, 1));
        assert_eq!(o.failures, ["b::c"]);
    }

    #[test]
    fn a_binary_without_a_result_line_fails() {
        let mut o = parse_libtest("running 2 tests\ntest a ... ok\n");
        o.rc = Some(101);
        assert!(!o.completed);
        assert!(o.is_failure());
    }

    #[test]
    fn the_guest_script_quotes_paths_and_runs_each_binary() {
        let args = Args {
            kernel: KernelArg::All,
            tests: vec![],
            timeout: 1,
            memory: "2G".into(),
            no_demo: false,
            args: vec!["it's".into()],
        };
        let bins = [TestBin {
            name: "enforce".into(),
            path: "/w/target/debug/deps/enforce-1".into(),
        }];
        let s = guest_script(
            &args,
            Path::new("/w"),
            Path::new("/w/target/debug/fw"),
            &bins,
            Some(Path::new("/w/target/debug/xtask")),
            Path::new("/l"),
        );
        assert!(s.contains("mount -t bpf bpf /sys/fs/bpf"), "{s}");
        assert!(s.contains("export FW_BIN='/w/target/debug/fw'"), "{s}");
        assert!(
            s.contains("'/w/target/debug/deps/enforce-1' --test-threads=1 'it'\\''s'"),
            "{s}"
        );
        assert!(
            s.contains("cd '/w' && '/w/target/debug/xtask' demo --fw '/w/target/debug/fw' >"),
            "{s}"
        );
    }

    #[test]
    fn the_demo_counts_probes_and_reads_the_tc_mechanism() {
        let log = "probes from 192.0.2.1 to 192.0.2.2 (timeout 1s):\n  \
                   tcp  22     expected delivered  got delivered  ok\n  \
                   udp  53     expected dropped    got delivered  WRONG\n\
                   fw status in fw-demo-s:\n\
                   interface        ifindex xdp      tc     xdp link  tc link  status\n\
                   lo                     1 generic  clsact        3    49152  filtered\n\
                   error: 1 of 2 probes did not get the expected result\n";
        let o = parse_demo(log);
        assert_eq!((o.passed, o.failed), (1, 1));
        assert_eq!(o.tc.as_deref(), Some("clsact"));
        assert!(o.completed);
        assert_eq!(
            o.first_error.as_deref(),
            Some("1 of 2 probes did not get the expected result")
        );
        let ok = parse_demo(
            "  icmp echo  expected delivered  got delivered  ok\nall 1 probes as expected\n",
        );
        assert!(ok.completed && ok.failed == 0 && ok.passed == 1);
    }
}
