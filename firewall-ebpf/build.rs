//! Build script of the eBPF crate: nothing to generate, only a rebuild
//! trigger when bpf-linker changes.

use which::which;

/// Rebuilds the eBPF object when bpf-linker changes (a new LLVM changes the code).
fn main() {
    if let Ok(bpf_linker) = which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", bpf_linker.display());
    }
}
