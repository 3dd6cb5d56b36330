//! Lab helpers for integration tests.
