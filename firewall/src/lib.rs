//! fw's library: parse → model → compile → load/attach → observe.

pub mod command;
pub mod compile;
pub mod conntrack;
pub mod edit;
pub mod exec;
pub mod extensions;
pub mod load;
pub mod model;
pub mod offline;
pub mod parse;
pub mod render;
pub mod restore;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
