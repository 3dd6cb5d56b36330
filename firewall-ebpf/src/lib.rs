//! Lets `firewall` name this crate as a build-dependency, so cargo rebuilds
//! fw when the eBPF code changes. The programs live in `main.rs`.
#![no_std]

// The package's dependencies are the programs' (`main.rs`); this library
// exists only as fw's build-dependency and uses none of them.
use aya_ebpf as _;
use firewall_common as _;
