//! fw's library: parse → model → compile → load/attach → observe.

/// The aya fw's API speaks (the loader hands out its `Ebpf`), for callers
/// that drive the programs themselves (the kernel classifier test).
pub use aya;
/// The map layouts and limits fw shares with its kernel side.
pub use firewall_common as common;
/// The JSON library of `fw -L --json` and the state record, for callers
/// that read them (the integration tests).
pub use serde_json;
/// The YAML library of fw's rulesets, for callers that read YAML of their
/// own (the integration tests' check of deploy/kubernetes).
pub use serde_norway;

pub mod command;
pub mod compile;
pub mod conntrack;
pub mod daemon;
pub mod diff;
pub mod edit;
pub mod exec;
pub mod extensions;
pub mod load;
pub mod model;
pub mod monitor;
pub mod offline;
pub mod parse;
pub mod render;
pub mod report;
pub mod restore;
pub mod sets;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod top;
pub mod yaml;
