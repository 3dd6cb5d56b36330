//! Cleanup for the tests that drive fw's library (not the binary) in a
//! namespace, where no `fw reset` runs.

#![allow(dead_code)]

use firewall::load::{self, pins::Dirs};
use integration_tests::in_netns;

/// Removes fw's pins and state in namespace `.0` when dropped, also when
/// the test panics; drop it before the namespace. Drop never panics.
pub struct FwCleanup(pub String);

impl Drop for FwCleanup {
    fn drop(&mut self) {
        let _ = in_netns(&self.0, || {
            if let Ok(dirs) = Dirs::current() {
                let _ = load::remove_pins(&dirs);
                let _ = std::fs::remove_dir_all(&dirs.state);
            }
        });
    }
}
