//! fw's library: parse → model → compile → load/attach → observe.

pub mod command;
pub mod model;
pub mod compile;
pub mod load;
pub mod state;
