//! Builds `firewall-ebpf` for the BPF target with the pinned toolchain and
//! leaves the object in OUT_DIR, where `fw` embeds it.

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};
// A build-dependency only so that cargo reruns this script when the eBPF
// code changes; the script builds it from its sources, not as a crate.
use firewall_ebpf as _;

fn main() -> anyhow::Result<()> {
    let cargo_metadata::Metadata { packages, .. } = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = packages
        .into_iter()
        .find(|p| p.name.as_str() == "firewall-ebpf")
        .ok_or_else(|| anyhow!("firewall-ebpf package not found"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("firewall-ebpf has no manifest directory"))?;
    // The pinned toolchain is stable; -Z build-std=core needs this. It only
    // affects the child cargo that aya-build starts from this process.
    // SAFETY: the build script is single-threaded here.
    unsafe { std::env::set_var("RUSTC_BOOTSTRAP", "1") };
    // aya-build turns every line the inner cargo prints into a build
    // warning; without progress lines only real diagnostics remain.
    // SAFETY: as above.
    unsafe { std::env::set_var("CARGO_TERM_QUIET", "true") };
    aya_build::build_ebpf(
        [Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            ..Default::default()
        }],
        Toolchain::Custom("1.98.0"),
    )
}
