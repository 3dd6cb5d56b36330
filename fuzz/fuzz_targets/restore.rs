//! The restore-file parser and engine (`fw restore`): any text gives a
//! new state or a `RestoreError` naming its line, never a panic, with
//! and without `--noflush`, `--counters` and the enforcement check, from
//! an empty state and on top of what the file itself built.

#![no_main]

use firewall::{
    parse::services::Services,
    restore::{RestoreOptions, restore},
    state::State,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let services = Services::default();
    let empty = State::default();
    let plain = RestoreOptions::default();
    let Ok(built) = restore(&empty, text, &plain, false, &services) else {
        return;
    };
    let _ = restore(&empty, text, &plain, true, &services);
    let other = RestoreOptions {
        counters: true,
        noflush: true,
        test: false,
        filter_only: true,
    };
    let _ = restore(&built.state, text, &other, true, &services);
});
