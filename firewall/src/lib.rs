//! fw's library: parse → model → compile → load/attach → observe.
