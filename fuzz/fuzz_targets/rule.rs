//! The rule parser: any line, as a command line (`fw ARGS`) and as a rule
//! specification, gives a rule or a `ParseError`, never a panic; a rule
//! specification that parses reads back to the same rule from what
//! `fw -S` prints for it (the normal form `-D` by specification and
//! `fw save`/`fw restore` depend on), but for a plain `-i +`/`-o +`,
//! which is printed as nothing, as iptables prints it. Both families:
//! iptables' language and ip6tables'.

#![no_main]

use firewall::{
    model::Family,
    parse::{self, services::Services},
    render::rule_spec,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let services = Services::default();
    if let Ok(words) = parse::split_spec(line) {
        for family in [Family::V4, Family::V6] {
            let _ = parse::parse_args_in(&words, family, &services);
            let _ = parse::parse_restore_line(&words, family, &services);
        }
    }
    // Lines of iptables-save files start with `-A CHAIN`: the spec is the rest.
    let spec = match line.strip_prefix("-A ") {
        Some(rest) => rest.split_once(' ').map_or("", |(_, spec)| spec),
        None => line,
    };
    for family in [Family::V4, Family::V6] {
        let Ok(rule) = parse::parse_rule_spec_in(spec, family, &services) else {
            continue;
        };
        // A plain `-i +`/`-o +` (any interface) is printed as nothing, as
        // iptables -S prints it, so it reads back as no `-i`/`-o`.
        let any = |i: &Option<firewall::model::Neg<String>>| {
            i.clone().filter(|i| i.invert || i.value != "+")
        };
        let rule = firewall::model::Rule {
            in_interface: any(&rule.in_interface),
            out_interface: any(&rule.out_interface),
            ..rule
        };
        let printed = rule_spec("INPUT", &rule);
        let body = printed
            .strip_prefix("-A INPUT")
            .expect("rule_spec starts with -A INPUT");
        match parse::parse_rule_spec_in(body, family, &services) {
            Ok(again) => assert_eq!(again, rule, "`{spec}` printed as `{printed}`"),
            Err(e) => panic!("`{spec}` printed as `{printed}`, which does not parse: {e}"),
        }
    }
});
