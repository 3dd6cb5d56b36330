//! The YAML loader (`fw apply`): any document gives a state or a
//! `YamlError` naming line and column, never a panic; a ruleset it loads
//! is saved (`fw save --format yaml`) as a document that loads back to
//! the same ruleset.

#![no_main]

use firewall::{parse::services::Services, state::State, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = yaml::is_yaml(text);
    let _ = yaml::sets(text, "fuzz.yaml");
    let _ = yaml::to_restore_file(text, "fuzz.yaml");
    let services = Services::default();
    let Ok(done) = yaml::restore(&State::default(), text, "fuzz.yaml", false, &services) else {
        return;
    };
    let sets = yaml::sets(text, "fuzz.yaml").expect("a document that loads has its sets");
    let saved = yaml::save_with_sets(&done.state.ruleset, &sets, None);
    match yaml::restore(&State::default(), &saved, "saved.yaml", false, &services) {
        Ok(again) => assert_eq!(
            again.state.ruleset, done.state.ruleset,
            "saved as:\n{saved}"
        ),
        Err(e) => panic!("saved as:\n{saved}\nwhich does not load: {e}"),
    }
});
