//! `fw -L --json`: the ruleset with its counters as one JSON document
//! (layout in docs/json.md, versioned by [`VERSION`]).

use serde::Serialize;

use super::{Counters, Counts, rule_spec};
use crate::{
    edit::EditError,
    model::{BuiltinChain, Match, Ruleset},
};

/// The layout's version: a field removed or changing meaning makes it 2;
/// fields added keep it.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Listing<'a> {
    version: u32,
    family: &'static str,
    table: &'static str,
    /// The running ruleset's generation (0 when fw is not loaded).
    generation: u32,
    chains: Vec<Chain<'a>>,
}

#[derive(Serialize)]
struct Chain<'a> {
    name: &'a str,
    /// `ACCEPT`/`DROP` for a built-in chain, `null` for a user chain.
    policy: Option<&'static str>,
    /// The policy's counters; `null` for a user chain.
    packets: Option<u64>,
    bytes: Option<u64>,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
struct Rule<'a> {
    /// From 1, as `--line-numbers` counts.
    number: usize,
    /// The rule as `fw -S` prints it.
    rule: String,
    /// `-m comment --comment`'s text, `null` without one.
    comment: Option<&'a str>,
    /// The target's name (the chain for a jump or goto), `null` without `-j`.
    target: Option<&'a str>,
    packets: u64,
    bytes: u64,
}

/// `ruleset` with `counters` (rule counters by chain, policy counters in
/// [`BuiltinChain::ALL`] order), every chain or only `chain`, as one
/// JSON document ending in a newline.
///
/// # Errors
/// [`EditError::NoChain`] when `chain` does not exist.
pub fn listing(
    ruleset: &Ruleset,
    counters: &Counters,
    generation: u32,
    chain: Option<&str>,
) -> Result<String, EditError> {
    if let Some(c) = chain
        && !ruleset.all_rules().any(|(n, _)| n == c)
    {
        return Err(EditError::NoChain(c.to_string()));
    }
    let chains = ruleset
        .all_rules()
        .filter(|(name, _)| chain.is_none_or(|c| c == *name))
        .map(|(name, rules)| {
            let builtin = BuiltinChain::ALL.into_iter().position(|b| b.name() == name);
            let policy = builtin.map(|i| counters.policy[i]);
            let counts = counters.rules.get(name);
            Chain {
                name,
                policy: builtin.map(|i| ruleset.chain(BuiltinChain::ALL[i]).policy.name()),
                packets: policy.map(|p| p.packets),
                bytes: policy.map(|p| p.bytes),
                rules: rules
                    .iter()
                    .enumerate()
                    .map(|(n, r)| {
                        let c: Counts = counts.and_then(|c| c.get(n)).copied().unwrap_or_default();
                        Rule {
                            number: n + 1,
                            rule: rule_spec(name, r),
                            comment: r.matches.iter().find_map(|m| match m {
                                Match::Comment(c) => Some(c.as_str()),
                                _ => None,
                            }),
                            target: Some(r.target.name()).filter(|t| !t.is_empty()),
                            packets: c.packets,
                            bytes: c.bytes,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let doc = Listing {
        version: VERSION,
        family: match ruleset.family {
            crate::model::Family::V4 => "ipv4",
            crate::model::Family::V6 => "ipv6",
        },
        table: "filter",
        generation,
        chains,
    };
    let mut out = serde_json::to_string_pretty(&doc).expect("plain data serializes");
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Policy, Rule as ModelRule, Target};

    #[test]
    fn every_chain_rule_and_counter_is_there() {
        let mut r = Ruleset::default();
        r.input.policy = Policy::Drop;
        r.input.rules = vec![
            ModelRule {
                matches: vec![Match::Comment("ssh".into())],
                target: Target::Accept,
                ..ModelRule::default()
            },
            ModelRule::default(),
        ];
        r.user_chains.insert(
            "logdrop".into(),
            vec![ModelRule {
                target: Target::Drop,
                ..ModelRule::default()
            }],
        );
        let mut c = Counters::default();
        c.policy[0] = Counts {
            packets: 3,
            bytes: 180,
        };
        c.rules.insert(
            "INPUT".into(),
            vec![
                Counts {
                    packets: 7,
                    bytes: 420,
                },
                Counts::default(),
            ],
        );
        let v: serde_json::Value =
            serde_json::from_str(&listing(&r, &c, 9, None).unwrap()).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["generation"], 9);
        let input = &v["chains"][0];
        assert_eq!(
            (
                &input["name"],
                &input["policy"],
                &input["packets"],
                &input["bytes"]
            ),
            (&"INPUT".into(), &"DROP".into(), &3.into(), &180.into())
        );
        let rule = &input["rules"][0];
        assert_eq!(rule["number"], 1);
        assert_eq!(rule["rule"], "-A INPUT -m comment --comment ssh -j ACCEPT");
        assert_eq!(rule["comment"], "ssh");
        assert_eq!(rule["target"], "ACCEPT");
        assert_eq!((&rule["packets"], &rule["bytes"]), (&7.into(), &420.into()));
        assert_eq!(input["rules"][1]["target"], serde_json::Value::Null);
        let user = &v["chains"][3];
        assert_eq!(
            (&user["name"], &user["policy"]),
            (&"logdrop".into(), &serde_json::Value::Null)
        );
        assert_eq!(user["rules"][0]["packets"], 0);
        let one: serde_json::Value =
            serde_json::from_str(&listing(&r, &c, 9, Some("logdrop")).unwrap()).unwrap();
        assert_eq!(one["chains"].as_array().unwrap().len(), 1);
        assert_eq!(
            listing(&r, &c, 9, Some("nope")),
            Err(EditError::NoChain("nope".into()))
        );
    }
}
