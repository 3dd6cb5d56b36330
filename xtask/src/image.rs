//! `cargo xtask image [--tag T] [--check]`: the container image of
//! deploy/Containerfile, built offline: fw statically linked (glibc with
//! `+crt-static`: the toolchain has no musl target here), staged with the
//! Containerfile and the host's services(5) and protocols(5) in
//! target/image/, and built `FROM scratch` with podman (buildah if podman
//! is missing). `--check` then runs the image in a throwaway network
//! namespace and checks that the ruleset it loads is enforced there.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail, ensure};

use crate::cmd;

/// The image's default name.
pub const DEFAULT_TAG: &str = concat!("localhost/fw:", env!("CARGO_PKG_VERSION"));
/// What `--check` needs besides podman: runc copes with this machine's
/// cgroup v1 hierarchy, which crun refuses ("hybrid mode").
const PACKAGES: [&str; 2] = ["podman", "runc"];

/// `cargo xtask image`'s options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image's name.
    #[arg(long, default_value = DEFAULT_TAG)]
    pub tag: String,
    /// Run the image in a throwaway network namespace and check that the
    /// ruleset it applies is enforced.
    #[arg(long)]
    pub check: bool,
}

/// Builds the image (and checks it with `--check`).
///
/// # Errors
/// A failed build, a binary that is not static, a failed check.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let missing = cmd::missing_packages(&PACKAGES);
    if !missing.is_empty() {
        cmd::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    let root = cmd::workspace_root();
    let fw = build_static(&root)?;
    let context = root.join("target/image");
    fs::create_dir_all(&context)?;
    for (from, to) in [
        (fw.as_path(), "fw"),
        (&root.join("deploy/Containerfile"), "Containerfile"),
        (Path::new("/etc/services"), "services"),
        (Path::new("/etc/protocols"), "protocols"),
    ] {
        fs::copy(from, context.join(to))
            .with_context(|| format!("copy {} into {}", from.display(), context.display()))?;
    }
    let podman = which("podman");
    let mut build = if podman {
        let mut c = Command::new("podman");
        c.args(["build", "--pull=never", "-t", &args.tag, "-f"]);
        c
    } else {
        let mut c = Command::new("buildah");
        c.args(["bud", "-t", &args.tag, "-f"]);
        c
    };
    build.arg(context.join("Containerfile")).arg(&context);
    cmd::run(&mut build)?;
    println!("built image {}", args.tag);
    if args.check {
        ensure!(
            podman,
            "--check runs the image with podman, which is missing"
        );
        check(&args.tag, &fw)?;
    }
    Ok(())
}

fn which(program: &str) -> bool {
    cmd::probe(Command::new("sh").args(["-c", &format!("command -v {program}")])).is_some()
}

/// `cargo build --release` of fw for the host target with `+crt-static`,
/// in target/static (its own directory: other flags, other artefacts).
fn build_static(root: &Path) -> anyhow::Result<PathBuf> {
    let target = "x86_64-unknown-linux-gnu";
    let dir = root.join("target/static");
    let mut build = cmd::cargo();
    build
        .args(["build", "--release", "-p", "firewall", "--target", target])
        .arg("--target-dir")
        .arg(&dir)
        // Only the host target's crates: the eBPF object, which build.rs
        // compiles for the BPF target, is not linked.
        .env(
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "-C target-feature=+crt-static",
        );
    cmd::run(&mut build)?;
    let fw = dir.join(target).join("release/fw");
    let ldd = Command::new("ldd").arg(&fw).output()?;
    let said =
        String::from_utf8_lossy(&ldd.stdout).into_owned() + &String::from_utf8_lossy(&ldd.stderr);
    if !said.contains("statically linked") && !said.contains("not a dynamic executable") {
        bail!("{} is not statically linked: {said}", fw.display());
    }
    Ok(fw)
}

/// Runs the image in a new network namespace with the capabilities
/// deploy/README.md lists: it loads a DROP-policy ruleset that accepts
/// UDP port 5001 on `lo`; a datagram to 5001 must arrive and one to 5002
/// must not.
fn check(tag: &str, fw: &Path) -> anyhow::Result<()> {
    let ns = format!("fw-image-{}", std::process::id());
    cmd::run(Command::new("ip").args(["netns", "add", &ns]))?;
    let result = (|| -> anyhow::Result<()> {
        cmd::run(Command::new("ip").args(["-n", &ns, "link", "set", "lo", "up"]))?;
        // These machines refuse to raise a container's RLIMIT_NOFILE and
        // RLIMIT_NPROC to podman's defaults: lower ones are asked for.
        let conf = std::env::temp_dir().join(format!("fw-image-{}.conf", std::process::id()));
        fs::write(
            &conf,
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n",
        )?;
        let run = |args: &[&str]| -> anyhow::Result<()> {
            let mut c = Command::new("podman");
            c.env("CONTAINERS_CONF", &conf)
                .args([
                    "--cgroup-manager=cgroupfs",
                    "--runtime",
                    "runc",
                    "run",
                    "--rm",
                ])
                .arg(format!("--network=ns:/run/netns/{ns}"))
                .args(["--cap-drop=all", "--cap-add=BPF,PERFMON,NET_ADMIN"])
                .args(["--security-opt", "seccomp=unconfined"])
                .args(["-v", "/run/fw-bpffs:/run/fw-bpffs", "-v", "/run/fw:/run/fw"])
                .arg(tag)
                .args(args);
            cmd::run(&mut c)
        };
        run(&["-P", "INPUT", "DROP"])?;
        run(&[
            "-A", "INPUT", "-i", "lo", "-p", "udp", "--dport", "5001", "-j", "ACCEPT",
        ])?;
        let _ = fs::remove_file(&conf);
        let probe = "import socket\n\
            r = {}\n\
            for p in (5001, 5002):\n\
            \x20   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', p)); s.settimeout(0.5); r[p] = s\n\
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
            got = []\n\
            for p, s in r.items():\n\
            \x20   c.sendto(b'probe', ('127.0.0.1', p))\n\
            \x20   try:\n\
            \x20       s.recv(16); got.append(str(p))\n\
            \x20   except OSError:\n\
            \x20       pass\n\
            print(' '.join(got))\n";
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", probe])
            .output()?;
        let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
        ensure!(
            got == "5001",
            "the image's ruleset is not enforced: datagrams delivered to [{got}], expected [5001]; {}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!("checked: the image's fw enforces its ruleset in network namespace {ns}");
        Ok(())
    })();
    // The same binary outside the container removes what it pinned.
    let _ = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(fw)
        .arg("reset")
        .status();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    result
}
