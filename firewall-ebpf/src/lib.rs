//! Lets `firewall` name this crate as a build-dependency, so cargo rebuilds
//! fw when the eBPF code changes. The programs live in `main.rs`.
#![no_std]
