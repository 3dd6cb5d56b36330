//! YAML rulesets (docs/yaml.md, schema in docs/fw-rules.schema.json): the
//! filter table as a YAML document, read with serde_norway and applied by
//! the very engine `fw restore` uses.
//!
//! A document is converted into an iptables-restore file (`*filter`, a
//! `:CHAIN` line per chain, an `-A CHAIN SPEC` line per rule, `COMMIT`)
//! and handed to [`restore::restore`]: rule strings are parsed by fw's
//! iptables parser, structured rules are first written as the iptables
//! words they stand for. So both forms give the same model, and every
//! check `fw restore` makes (iptables' own, and fw's enforceability) is
//! made on YAML too.
//!
//! Positions: serde_norway puts the line and column on an error raised
//! while a value is read, and keeps none for values read successfully. An
//! error the restore engine finds later (at a line of the generated file)
//! is placed by reading the document a second time with that chain or
//! rule failing ([`probe`]): the second read stops exactly there, and
//! serde_norway names its position.

use std::{cell::RefCell, fmt, fmt::Write as _};

use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, MapAccess, Visitor, value::MapAccessDeserializer},
};

use crate::{
    model::{
        BuiltinChain, Ruleset,
        set::{Member, SetDef, SetFamily, SetKind},
    },
    parse::services::Services,
    render::{self, word},
    restore::{self, RestoreError, RestoreOptions, Restored},
    state::State,
};

/// A YAML ruleset that cannot be read or applied: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.text())]
pub struct YamlError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
    /// iptables' exit status: 2 (parameter problem) for anything in the
    /// document, the restore engine's own for what it refuses.
    pub exit: i32,
}

impl YamlError {
    /// `MESSAGE at FILE:LINE:COLUMN`, the position put before
    /// `, expected …` when the message has that part.
    fn text(&self) -> String {
        let at = if self.line == 0 {
            format!(" in {}", self.file)
        } else {
            format!(" at {}:{}:{}", self.file, self.line, self.column)
        };
        // `… anything.` would read `… anything. at FILE`.
        let mut m = self.message.trim_end_matches('.').to_string();
        match [", expected", ", while"].iter().find_map(|s| m.find(s)) {
            Some(i) => m.insert_str(i, &at),
            None => m.push_str(&at),
        }
        m
    }

    /// iptables' exit status for this error.
    pub fn exit_code(&self) -> i32 {
        self.exit
    }

    fn from_serde(file: &str, e: &serde_norway::Error) -> Self {
        let mut message = e.to_string();
        let (mut line, mut column) = (0, 0);
        if let Some(l) = e.location() {
            (line, column) = (l.line(), l.column());
            let suffix = format!(" at line {line} column {column}");
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
        }
        // serde speaks of struct fields; a YAML document has keys.
        let message = message
            .replace("unknown field", "unknown key")
            .replace("missing field", "missing key")
            // Nor Rust type names.
            .replace("struct ChainDoc", "a chain (`policy`, `rules`)")
            .replace("expected u32", "expected a number")
            .replace("struct Fields", "rule fields or a rule string")
            .replace(
                "struct Document",
                "a ruleset (`family`, `interfaces`, `sets`, `chains`)",
            );
        Self {
            file: file.to_string(),
            line,
            column,
            message,
            exit: 2,
        }
    }
}

/// Counts the chains and rules as they are read and fails the one a
/// second read is looking for (module docs, "Positions").
mod probe {
    use super::RefCell;

    #[derive(Default)]
    struct Probe {
        seen: usize,
        fail: Option<(usize, String)>,
    }

    thread_local! {
        static PROBE: RefCell<Probe> = RefCell::default();
    }

    /// Starts a read that fails item `at` (0-based, document order) with
    /// `message`; `None` for a plain read.
    pub(super) fn start(fail: Option<(usize, String)>) {
        PROBE.with(|p| *p.borrow_mut() = Probe { seen: 0, fail });
    }

    /// How many chains and rules were read so far: the next one's item.
    pub(super) fn seen() -> usize {
        PROBE.with(|p| p.borrow().seen)
    }

    /// One more chain or rule read: the message when it is the one to fail.
    pub(super) fn visit() -> Result<(), String> {
        PROBE.with(|p| {
            let mut p = p.borrow_mut();
            let n = p.seen;
            p.seen += 1;
            match &p.fail {
                Some((at, m)) if *at == n => Err(m.clone()),
                _ => Ok(()),
            }
        })
    }
}

/// The top level of a ruleset file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    /// The family of `chains`: `ipv4` (the default) or `ipv6`.
    #[serde(default)]
    family: Family,
    /// `all` (the default); a list is refused.
    #[serde(default)]
    interfaces: Interfaces,
    /// The chains, in document order.
    #[serde(default)]
    chains: Chains,
    /// With `family: ipv4`, the IPv6 table (as `fw -6` holds it): its
    /// chains (`ipv6:` without a value is refused, not read as "no IPv6
    /// table", which would leave IPv6 open).
    #[serde(default, deserialize_with = "present_ipv6")]
    ipv6: Option<Ipv6Section>,
    /// Named sets (`fw set`'s), in document order.
    #[serde(default)]
    sets: Sets,
    /// Connection-tracking settings: refused.
    #[serde(default, deserialize_with = "refuse_conntrack")]
    conntrack: Option<()>,
    /// LOG settings: refused.
    #[serde(default, deserialize_with = "refuse_log")]
    log: Option<()>,
}

/// Reads a value and refuses it with `message`, inside the read so that
/// serde_norway places the error at the value.
fn refuse<'de, D: Deserializer<'de>>(d: D, message: &'static str) -> Result<Option<()>, D::Error> {
    struct V(&'static str);
    impl<'de> Visitor<'de> for V {
        type Value = Option<()>;
        // A scalar is refused by serde as "invalid type: …, expected" this.
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Err(de::Error::custom(self.0))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Err(de::Error::custom(self.0))
        }
    }
    d.deserialize_any(V(message))
}

fn refuse_conntrack<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    refuse(
        d,
        "not supported yet: `conntrack` settings in a ruleset file \
         (set the timeouts with `fw conntrack --timeout NAME=SECONDS`)",
    )
}

fn refuse_log<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    refuse(
        d,
        "not supported yet: `log` settings (fw's LOG rate and ring buffer are fixed; \
         per-rule LOG options go in the rule)",
    )
}

/// `ipv6:`: the IPv6 table beside the IPv4 one.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `chains:` (the IPv6 table)"
)]
struct Ipv6Section {
    /// Its chains, as the document's `chains`.
    #[serde(default)]
    chains: Chains,
}

/// `ipv6:` as [`present`] reads a key.
fn present_ipv6<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv6Section>, D::Error> {
    present(d, "ipv6")
}

/// `family:`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Family(crate::model::Family);

impl<'de> Deserialize<'de> for Family {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "ipv4" => Ok(Family(crate::model::Family::V4)),
            "ipv6" => Ok(Family(crate::model::Family::V6)),
            other => Err(de::Error::unknown_variant(other, &["ipv4", "ipv6"])),
        }
    }
}

/// `interfaces:`.
#[derive(Debug, Default)]
struct Interfaces;

impl<'de> Deserialize<'de> for Interfaces {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Interfaces;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`all`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Interfaces, E> {
                match v {
                    "all" => Ok(Interfaces),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Interfaces, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Err(de::Error::custom(
                    "not supported yet: a list of interfaces (fw attaches to every \
                     interface of the network namespace; write `interfaces: all` and \
                     use `in`/`out` in rules)",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

/// `sets:`: name → set, in document order.
#[derive(Debug, Default)]
struct Sets(Vec<YamlSet>);

/// A set a document declares: its definition and, when it lists them,
/// its members (then the set holds exactly those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlSet {
    /// Its name (at most 31 bytes, as ipset's).
    pub name: String,
    /// Its type, `hashsize` and `maxelem`.
    pub def: SetDef,
    /// `members:` (ranges and CIDRs of a `hash:ip` expanded), if given.
    pub members: Option<Vec<Member>>,
}

impl<'de> Deserialize<'de> for Sets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sets;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of set names to sets")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Sets, A::Error> {
                let mut out: Vec<YamlSet> = Vec::new();
                while let Some(name) = a.next_key::<String>()? {
                    if name.is_empty() || name.len() > 31 {
                        return Err(de::Error::custom(format!(
                            "set name `{name}`, expected 1 to 31 bytes"
                        )));
                    }
                    if out.iter().any(|s| s.name == name) {
                        return Err(de::Error::custom(format!("duplicate set `{name}`")));
                    }
                    let SetDoc(def, members) = a.next_value()?;
                    out.push(YamlSet { name, def, members });
                }
                Ok(Sets(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One set: `type` (required), `family`, `hashsize`, `maxelem`,
/// `members`.
struct SetDoc(SetDef, Option<Vec<Member>>);

/// The keys of a set.
const SET_KEYS: &[&str] = &["type", "family", "hashsize", "maxelem", "members"];

impl<'de> Deserialize<'de> for SetDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SetDoc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a set: `type` and optionally `family`, `hashsize`, `maxelem`, `members`",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<SetDoc, A::Error> {
                let (mut kind, mut hashsize, mut maxelem) = (None, None, None);
                let (mut members, mut early) = (None, None);
                let mut family = SetFamily::Inet;
                while let Some(key) = a.next_key::<String>()? {
                    match key.as_str() {
                        "type" => {
                            let t: String = a.next_value()?;
                            kind = Some(SetKind::by_name(&t).ok_or_else(|| {
                                de::Error::custom(format!(
                                    "unknown set type `{t}`, expected one of hash:ip, \
                                     hash:net, hash:ip,port"
                                ))
                            })?);
                        }
                        "family" => {
                            let f: String = a.next_value()?;
                            // As `fw set create`'s `family` reads it.
                            let Some(given) =
                                SetFamily::by_name(&f).filter(|_| !f.starts_with('-'))
                            else {
                                return Err(de::Error::custom(format!(
                                    "unknown set family `{f}`, expected inet or inet6"
                                )));
                            };
                            // Members are read as the family says.
                            if members.is_some() && given != family {
                                return Err(de::Error::custom(format!(
                                    "`family: {f}` after `members`, expected it before them"
                                )));
                            }
                            family = given;
                        }
                        "hashsize" => hashsize = Some(a.next_value::<u32>()?),
                        "maxelem" => maxelem = Some(a.next_value::<u32>()?),
                        // Read as the type says once it is known, so an
                        // error names the member's own position.
                        "members" => match kind {
                            Some(k) => {
                                members = Some(a.next_value_seed(MembersSeed(k, family))?);
                            }
                            None => early = Some(a.next_value::<Vec<String>>()?),
                        },
                        other => return Err(de::Error::unknown_field(other, SET_KEYS)),
                    }
                }
                let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
                if let Some(list) = early {
                    let mut all = Vec::new();
                    for m in list {
                        all.extend(member(kind, family, &m).map_err(de::Error::custom)?);
                    }
                    members = Some(all);
                }
                let mut def = SetDef::new(kind);
                def.family = family;
                if let Some(h) = hashsize {
                    if h < 64 {
                        return Err(de::Error::custom(format!(
                            "hashsize {h}, expected 64 or more"
                        )));
                    }
                    def.hashsize = h.next_power_of_two();
                }
                if let Some(m) = maxelem {
                    if m == 0 {
                        return Err(de::Error::custom("maxelem 0, expected 1 or more"));
                    }
                    def.maxelem = m;
                }
                if let Some(ms) = &members
                    && ms.len() as u64 > u64::from(def.maxelem)
                {
                    return Err(de::Error::custom(format!(
                        "{} members, more than the set's maxelem {}",
                        ms.len(),
                        def.maxelem
                    )));
                }
                Ok(SetDoc(def, members))
            }
        }
        d.deserialize_map(V)
    }
}

/// One member string of a set of `kind` and `family`, as `fw set add`
/// reads it.
fn member(kind: SetKind, family: SetFamily, text: &str) -> Result<Vec<Member>, String> {
    crate::sets::members(kind, family, text, Services::system())
        .map_err(|e| format!("set member `{text}`: {e}"))
}

/// A `members:` list of a set of a known type and family.
struct MembersSeed(SetKind, SetFamily);

impl<'de> de::DeserializeSeed<'de> for MembersSeed {
    type Value = Vec<Member>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Member>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed {
    type Value = Vec<Member>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of members")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Vec<Member>, A::Error> {
        let mut out = Vec::new();
        while let Some(ms) = a.next_element_seed(MemberSeed(self.0, self.1))? {
            out.extend(ms);
        }
        Ok(out)
    }
}

/// One member of a `members:` list.
struct MemberSeed(SetKind, SetFamily);

impl<'de> de::DeserializeSeed<'de> for MemberSeed {
    type Value = Vec<Member>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Member>, D::Error> {
        let text = String::deserialize(d)?;
        member(self.0, self.1, &text).map_err(de::Error::custom)
    }
}

/// `chains:`: name → chain, in document order.
/// The second field is the item ([`probe`]) of its first chain.
#[derive(Debug, Default)]
struct Chains(Vec<(String, ChainDoc)>, usize);

/// A chain's name, counted by [`probe`] where it is read.
struct ChainName(String);

impl<'de> Deserialize<'de> for ChainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // As `-N` checks it (iptables-restore's `:CHAIN` checks less).
        if BuiltinChain::from_name(&s).is_none() {
            crate::parse::valid_chain_name(&s).map_err(de::Error::custom)?;
        }
        Ok(Self(s))
    }
}

impl<'de> Deserialize<'de> for Chains {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Chains;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of chain names to chains")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Chains, A::Error> {
                let first = probe::seen();
                let mut out: Vec<(String, ChainDoc)> = Vec::new();
                while let Some(ChainName(name)) = a.next_key()? {
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(de::Error::custom(format!("duplicate chain `{name}`")));
                    }
                    let chain: Option<ChainDoc> = a.next_value_seed(ChainSeed)?;
                    // `INPUT:` and nothing else is what a file cut short
                    // looks like; it would leave INPUT's policy ACCEPT.
                    if chain.is_none() && BuiltinChain::from_name(&name).is_some() {
                        return Err(de::Error::custom(format!(
                            "built-in chain `{name}` has no value, expected `policy` and \
                             `rules` (`{name}: {{policy: ACCEPT}}` to accept everything)"
                        )));
                    }
                    out.push((name, chain.unwrap_or_default()));
                }
                Ok(Chains(out, first))
            }
        }
        d.deserialize_map(V)
    }
}

/// A chain's value, counted by [`probe`] where it is read (an error
/// there is placed at the value; one raised in a key is placed at the
/// mapping that holds it).
struct ChainSeed;

impl<'de> de::DeserializeSeed<'de> for ChainSeed {
    type Value = Option<ChainDoc>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<ChainDoc>, D::Error> {
        match probe::visit() {
            Ok(()) => Option::<ChainDoc>::deserialize(d),
            // Failed while the value is read, so that it is placed there.
            Err(m) => d.deserialize_any(FailHere(m)),
        }
    }
}

/// A visitor that fails at whatever value it meets, with its message.
struct FailHere(String);

impl<'de> Visitor<'de> for FailHere {
    type Value = Option<ChainDoc>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(self.0))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(self.0))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(self.0))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(self.0))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::custom(self.0))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(E::custom(self.0))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(E::custom(self.0))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(E::custom(self.0))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(E::custom(self.0))
    }
}

/// One chain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainDoc {
    /// Built-in chains only; ACCEPT when left out, as iptables starts
    /// (`policy:` with no value is refused: a file cut short there).
    #[serde(default, deserialize_with = "present_policy")]
    policy: Option<PolicyName>,
    /// First match first (`rules:` with no value is refused: a file cut
    /// short there).
    #[serde(default, deserialize_with = "present_rules")]
    rules: Vec<RuleEntry>,
}

/// `ACCEPT` or `DROP`.
#[derive(Debug, Clone, Copy, Deserialize)]
enum PolicyName {
    #[serde(rename = "ACCEPT")]
    Accept,
    #[serde(rename = "DROP")]
    Drop,
}

/// A rule as an iptables rule specification (what follows `-A CHAIN` in
/// `iptables -S`): a string as written, or structured fields written as
/// one.
#[derive(Debug)]
struct RuleEntry(String);

impl<'de> Deserialize<'de> for RuleEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RuleEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an iptables rule string or a mapping of rule fields")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RuleEntry, E> {
                probe::visit().map_err(E::custom)?;
                if v.contains('\n') {
                    return Err(E::custom("a rule string must be one line"));
                }
                Ok(RuleEntry(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<RuleEntry, A::Error> {
                let f = Fields::deserialize(MapAccessDeserializer::new(a))?;
                probe::visit().map_err(de::Error::custom)?;
                f.spec().map(RuleEntry).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar written as a string or a number (`dport: 22`, `dport: ssh`).
#[derive(Debug, Clone)]
struct Word(String);

/// One value or a list of them.
#[derive(Debug, Clone)]
struct Words(Vec<Word>);

/// Reads a [`Word`] (`many: None`) or [`Words`] into `T`.
struct WordVisitor<T> {
    one: fn(Word) -> T,
    many: Option<fn(Vec<Word>) -> T>,
}

impl<'de, T> Visitor<'de> for WordVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.many {
            None => f.write_str("a string or a number"),
            Some(_) => f.write_str("a string, a number or a list of them"),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.one)(Word(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok((self.one)(Word(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok((self.one)(Word(v.to_string())))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<T, A::Error> {
        let Some(many) = self.many else {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        };
        let mut out = Vec::new();
        while let Some(w) = a.next_element::<Word>()? {
            out.push(w);
        }
        Ok(many(out))
    }
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(WordVisitor {
            one: |w| w,
            many: None,
        })
    }
}

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(WordVisitor {
            one: |w| Words(vec![w]),
            many: Some(Words),
        })
    }
}

/// An optional key that, when written, has a value: `src:` alone (YAML's
/// null) is refused, not read as "no `src`", which would widen the rule.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    key: &str,
) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(de::Error::custom(format!(
            "`{key}` without a value, expected one (or leave `{key}` out)"
        ))),
    }
}

/// `rules:` as [`present`] reads a key.
fn present_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RuleEntry>, D::Error> {
    present(d, "rules").map(Option::unwrap_or_default)
}

/// [`present`] for each key, named in its message.
macro_rules! present_keys {
    ($($f:ident $key:literal),* $(,)?) => {
        $(
            fn $f<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
                present(d, $key)
            }
        )*
    };
}

present_keys!(
    present_proto "proto", present_src "src", present_dst "dst", present_in "in",
    present_out "out", present_sport "sport", present_dport "dport",
    present_icmp_type "icmp_type", present_ctstate "ctstate", present_comment "comment",
    present_target "target", present_goto "goto", present_reject_with "reject_with",
    present_log_prefix "log_prefix", present_log_level "log_level", present_policy "policy",
);

/// A rule's structured fields (docs/yaml.md, "Structured rules"): each is
/// written as the iptables option it names, so the iptables parser decides
/// what it means. A value starting with `!` inverts the match.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    /// `-p`.
    #[serde(default, deserialize_with = "present_proto")]
    proto: Option<Word>,
    /// `-s`.
    #[serde(default, deserialize_with = "present_src")]
    src: Option<Word>,
    /// `-d`.
    #[serde(default, deserialize_with = "present_dst")]
    dst: Option<Word>,
    /// `-i`.
    #[serde(rename = "in", default, deserialize_with = "present_in")]
    in_interface: Option<Word>,
    /// `-o`.
    #[serde(rename = "out", default, deserialize_with = "present_out")]
    out_interface: Option<Word>,
    /// `-m PROTO --sport`, or `-m multiport --sports` for a list.
    #[serde(default, deserialize_with = "present_sport")]
    sport: Option<Words>,
    /// `-m PROTO --dport`, or `-m multiport --dports` for a list.
    #[serde(default, deserialize_with = "present_dport")]
    dport: Option<Words>,
    /// `-m icmp --icmp-type` (with `proto: ipv6-icmp`, `-m icmp6
    /// --icmpv6-type`).
    #[serde(default, deserialize_with = "present_icmp_type")]
    icmp_type: Option<Word>,
    /// `-m conntrack --ctstate`, a list joined with commas.
    #[serde(default, deserialize_with = "present_ctstate")]
    ctstate: Option<Words>,
    /// `-m comment --comment`.
    #[serde(default, deserialize_with = "present_comment")]
    comment: Option<String>,
    /// `-j`.
    #[serde(default, deserialize_with = "present_target")]
    target: Option<Word>,
    /// `-g`.
    #[serde(default, deserialize_with = "present_goto")]
    goto: Option<Word>,
    /// `--reject-with` (REJECT).
    #[serde(default, deserialize_with = "present_reject_with")]
    reject_with: Option<Word>,
    /// `--log-prefix` (LOG).
    #[serde(default, deserialize_with = "present_log_prefix")]
    log_prefix: Option<String>,
    /// `--log-level` (LOG).
    #[serde(default, deserialize_with = "present_log_level")]
    log_level: Option<Word>,
}

/// `value` as `[!] FLAG value` words.
fn option(words: &mut Vec<String>, flag: &str, value: &str) {
    match value.strip_prefix('!') {
        Some(v) => words.extend(["!".into(), flag.into(), v.trim_start().into()]),
        None => words.extend([flag.into(), value.into()]),
    }
}

impl Fields {
    /// The iptables words these fields stand for, in `iptables -S` order.
    ///
    /// Errors: a combination the fields cannot express (ports without
    /// tcp or udp).
    fn words(&self) -> Result<Vec<String>, String> {
        let mut w = Vec::new();
        let opt = |w: &mut Vec<String>, flag: &str, v: &Option<Word>| {
            if let Some(Word(v)) = v {
                option(w, flag, v);
            }
        };
        opt(&mut w, "-s", &self.src);
        opt(&mut w, "-d", &self.dst);
        opt(&mut w, "-i", &self.in_interface);
        opt(&mut w, "-o", &self.out_interface);
        opt(&mut w, "-p", &self.proto);
        if self.sport.is_some() || self.dport.is_some() {
            // The protocol's own match module carries single ports, as
            // `iptables -S` prints `-p tcp -m tcp --sport 1024 --dport 22`;
            // a list goes through multiport.
            let module = match self.proto.as_ref().map(|Word(p)| p.as_str()) {
                Some("tcp" | "6") => "tcp",
                Some("udp" | "17") => "udp",
                _ => {
                    return Err("`sport` and `dport` need `proto: tcp` or `proto: udp` \
                         (write other port matches as a rule string)"
                        .into());
                }
            };
            let ports = [("sport", &self.sport), ("dport", &self.dport)];
            let mut single = ports.iter().filter_map(|(flag, p)| match p {
                Some(Words(v)) if v.len() == 1 => Some((flag, &v[0].0)),
                Some(_) | None => None,
            });
            if let Some(first) = single.next() {
                w.extend(["-m".into(), module.into()]);
                for (flag, port) in std::iter::once(first).chain(single) {
                    option(&mut w, &format!("--{flag}"), port);
                }
            }
            for (flag, p) in ports {
                if let Some(Words(list)) = p
                    && list.len() != 1
                {
                    w.extend(["-m".into(), "multiport".into()]);
                    let joined: Vec<&str> = list.iter().map(|Word(p)| p.as_str()).collect();
                    w.extend([format!("--{flag}s"), joined.join(",")]);
                }
            }
        }
        if let Some(Word(t)) = &self.icmp_type {
            // ICMPv6's type is ip6tables' `-m icmp6 --icmpv6-type`.
            let v6 = matches!(
                self.proto.as_ref().map(|Word(p)| p.as_str()),
                Some("ipv6-icmp" | "icmpv6" | "icmp6" | "58")
            );
            let (module, flag) = if v6 {
                ("icmp6", "--icmpv6-type")
            } else {
                ("icmp", "--icmp-type")
            };
            w.extend(["-m".into(), module.into()]);
            option(&mut w, flag, t);
        }
        if let Some(Words(states)) = &self.ctstate {
            w.extend(["-m".into(), "conntrack".into()]);
            let joined: Vec<&str> = states.iter().map(|Word(s)| s.as_str()).collect();
            option(&mut w, "--ctstate", &joined.join(","));
        }
        if let Some(c) = &self.comment {
            w.extend(["-m".into(), "comment".into(), "--comment".into(), c.clone()]);
        }
        opt(&mut w, "-j", &self.target);
        opt(&mut w, "-g", &self.goto);
        opt(&mut w, "--reject-with", &self.reject_with);
        if let Some(p) = &self.log_prefix {
            w.extend(["--log-prefix".into(), p.clone()]);
        }
        opt(&mut w, "--log-level", &self.log_level);
        Ok(w)
    }

    /// The rule specification, quoted as iptables-restore splits it.
    fn spec(&self) -> Result<String, String> {
        Ok(self
            .words()?
            .iter()
            .map(|s| word(s))
            .collect::<Vec<_>>()
            .join(" "))
    }
}

/// A document as iptables-restore files, one per table it states, with
/// the document item each line came from.
struct Converted {
    /// Each table: its family and restore file (the document's `chains`
    /// first, then its `ipv6` section's).
    tables: Vec<(crate::model::Family, Part)>,
    /// The sets the document declares.
    sets: Vec<YamlSet>,
}

/// One table's restore file.
struct Part {
    /// The restore file.
    text: String,
    /// `items[line - 1]`: the chain or rule (0-based, document order) of
    /// that line, `None` for `*filter` and `COMMIT`.
    items: Vec<Option<usize>>,
}

/// Reads `text` and converts it.
fn convert(text: &str, file: &str) -> Result<Converted, YamlError> {
    use crate::model::Family as F;
    probe::start(None);
    let doc: Document = read(text, file)?;
    // The refused sections never get here.
    let Document {
        family: Family(family),
        interfaces: Interfaces,
        chains,
        ipv6,
        sets: Sets(sets),
        conntrack: None | Some(()),
        log: None | Some(()),
    } = doc;
    let mut tables = vec![(family, part(text, file, &chains, "`chains:`")?)];
    match (family, ipv6) {
        (_, None) => {}
        (F::V4, Some(six)) => {
            tables.push((F::V6, part(text, file, &six.chains, "`ipv6: chains:`")?))
        }
        (F::V6, Some(_)) => {
            return Err(locate(
                text,
                file,
                None,
                "`ipv6:` in a document of `family: ipv6`, expected its chains under `chains:` \
                 (an `ipv6:` section goes with `family: ipv4`)"
                    .into(),
                2,
            ));
        }
    }
    Ok(Converted { tables, sets })
}

/// `chains` as a restore file; `what` names them for the message when
/// there are none.
fn part(text: &str, file: &str, chains: &Chains, what: &str) -> Result<Part, YamlError> {
    let Chains(chains, first) = chains;
    // An empty or cut-short file must not open the firewall.
    if chains.is_empty() {
        return Err(locate(
            text,
            file,
            None,
            format!(
                "no chains, expected {what} with at least one of INPUT, FORWARD and OUTPUT \
                 (a ruleset without them would leave every policy ACCEPT)"
            ),
            2,
        ));
    }
    let mut out = Part {
        text: "*filter\n".into(),
        items: vec![None],
    };
    let mut item = *first;
    // Chain lines first (as iptables-save writes them), then the rules:
    // a jump may name a chain defined further down.
    let mut rules = Vec::new();
    let line = |out: &mut Part, text: String, item: Option<usize>| {
        out.text.push_str(&text);
        out.text.push('\n');
        out.items.push(item);
    };
    for b in BuiltinChain::ALL {
        if !chains.iter().any(|(n, _)| n == b.name()) {
            line(&mut out, format!(":{} ACCEPT [0:0]", b.name()), None);
        }
    }
    for (name, chain) in chains {
        let policy = match (BuiltinChain::from_name(name), chain.policy) {
            (Some(_), None | Some(PolicyName::Accept)) => "ACCEPT",
            (Some(_), Some(PolicyName::Drop)) => "DROP",
            (None, None) => "-",
            // A schema error here, where iptables-restore's `:web DROP`
            // would be libiptc's (exit 1).
            (None, Some(_)) => {
                return Err(locate(
                    text,
                    file,
                    Some(item),
                    format!(
                        "`policy` in user-defined chain `{name}`, expected one only in \
                         INPUT, FORWARD or OUTPUT (a packet that falls off a user-defined \
                         chain returns to the calling chain)"
                    ),
                    2,
                ));
            }
        };
        line(&mut out, format!(":{name} {policy} [0:0]"), Some(item));
        item += 1;
        for RuleEntry(spec) in &chain.rules {
            rules.push((format!("-A {name} {spec}"), item));
            item += 1;
        }
    }
    for (text, item) in rules {
        line(&mut out, text, Some(item));
    }
    line(&mut out, "COMMIT".into(), None);
    Ok(out)
}

fn read(text: &str, file: &str) -> Result<Document, YamlError> {
    serde_norway::from_str(text).map_err(|e| YamlError::from_serde(file, &e))
}

/// Where item `item` of `text` is: the position serde_norway gives when
/// the document is read with that item failing with `message`.
fn locate(text: &str, file: &str, item: Option<usize>, message: String, exit: i32) -> YamlError {
    let mut e = match item {
        Some(at) => {
            probe::start(Some((at, message.clone())));
            let found = read(text, file).err();
            probe::start(None);
            found.unwrap_or_else(|| YamlError {
                file: file.into(),
                line: 0,
                column: 0,
                message: message.clone(),
                exit,
            })
        }
        None => YamlError {
            file: file.into(),
            line: 0,
            column: 0,
            message: message.clone(),
            exit,
        },
    };
    e.exit = exit;
    e
}

/// The restore engine's message without its `line N failed: `.
fn engine_message(e: &RestoreError) -> String {
    let text = e.to_string();
    let prefix = format!("line {} failed: ", e.line);
    text.strip_prefix(&prefix).unwrap_or(&text).to_string()
}

/// Applies YAML ruleset `text` (from `file`, for messages) to `base` with
/// the restore engine: each table the document states (its `chains`, of
/// its `family`, and an `ipv6` section's) is replaced whole; a table it
/// does not state is left as it is, as iptables-restore leaves
/// ip6tables'. With `enforce`, rules fw cannot enforce yet are refused,
/// as [`restore::restore`] does. The state returned is oriented as
/// `base` (IPv4's table in `ruleset`).
///
/// # Errors
/// [`YamlError`] naming the file, line and column; nothing is applied.
pub fn restore(
    base: &State,
    text: &str,
    file: &str,
    enforce: bool,
    services: &Services,
) -> Result<Restored, YamlError> {
    let conv = convert(text, file)?;
    // The rules may name the sets the document declares.
    let mut state = base.clone();
    for s in &conv.sets {
        state.sets.insert(s.name.clone(), s.def);
    }
    let home = state.ruleset.family;
    let mut done = Restored {
        state,
        fresh: Vec::new(),
        output: String::new(),
    };
    for (family, part) in &conv.tables {
        let view = done.state.clone().for_family(*family);
        let opts = RestoreOptions {
            strict_family: true,
            ..RestoreOptions::default()
        };
        let r = restore::restore(&view, &part.text, &opts, enforce, services).map_err(|e| {
            let item = part.items.get(e.line.wrapping_sub(1)).copied().flatten();
            locate(text, file, item, engine_message(&e), e.exit_code())
        })?;
        done.state = r.state.for_family(home);
        done.fresh.extend(r.fresh);
        done.output.push_str(&r.output);
    }
    Ok(done)
}

/// The families whose tables YAML ruleset `text` states (its `family`,
/// and IPv6 with an `ipv6` section).
///
/// # Errors
/// [`YamlError`] for a document that does not follow the schema.
pub fn families(text: &str, file: &str) -> Result<Vec<crate::model::Family>, YamlError> {
    convert(text, file).map(|c| c.tables.iter().map(|(f, _)| *f).collect())
}

/// The sets YAML ruleset `text` declares, in document order.
///
/// # Errors
/// [`YamlError`] for a document that does not follow the schema.
pub fn sets(text: &str, file: &str) -> Result<Vec<YamlSet>, YamlError> {
    convert(text, file).map(|c| c.sets)
}

/// The iptables-restore file a YAML document stands for (what
/// [`restore`] hands to the restore engine).
///
/// # Errors
/// [`YamlError`] for a document that does not follow the schema.
pub fn to_restore_file(text: &str, file: &str) -> Result<String, YamlError> {
    convert(text, file).map(|c| c.tables.into_iter().map(|(_, p)| p.text).collect())
}

/// Whether `text` is a YAML ruleset rather than an iptables-restore
/// file: its first line that is neither blank nor a `#` comment is `---`,
/// starts with `{` (a flow mapping), or starts with a letter and holds a
/// `:` (`family: ipv4`, `chains:`).
/// An iptables-restore file's first such line is `*TABLE` (any other is
/// an error there), never a key.
pub fn is_yaml(text: &str) -> bool {
    text.lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .is_some_and(|l| {
            l == "---"
                || l.starts_with("--- ")
                || l.starts_with('{')
                || (l.starts_with(|c: char| c.is_ascii_alphabetic()) && l.contains(':'))
        })
}

/// `fw save --format yaml`: `ruleset` as a YAML document that
/// [`restore`] reads back to the same ruleset. Rules are written as
/// iptables rule strings, exactly as `iptables -S` prints them (so
/// iptables-save → YAML → iptables-save gives the same bytes); counters are
/// not written. `header` is `(program, date)` for a leading comment.
pub fn save(ruleset: &Ruleset, header: Option<(&str, &str)>) -> String {
    save_with_sets(ruleset, None, &[], header)
}

/// [`save`] with the namespace's sets, each with all its members (so
/// applying the file gives the sets back as they are), and with `ipv6`,
/// the IPv6 table in an `ipv6:` section.
pub fn save_with_sets(
    ruleset: &Ruleset,
    ipv6: Option<&Ruleset>,
    sets: &[YamlSet],
    header: Option<(&str, &str)>,
) -> String {
    let mut out = String::new();
    if let Some((program, date)) = header {
        let _ = writeln!(out, "# Generated by {program} on {date}");
    }
    out.push_str("family: ipv4\ninterfaces: all\n");
    if !sets.is_empty() {
        out.push_str("sets:\n");
    }
    for s in sets {
        let _ = writeln!(
            out,
            "  {}:",
            serde_json::to_string(&s.name).unwrap_or_default()
        );
        let _ = writeln!(out, "    type: {}", s.def.kind.name());
        if s.def.family != SetFamily::Inet {
            let _ = writeln!(out, "    family: {}", s.def.family.name());
        }
        let _ = writeln!(out, "    hashsize: {}", s.def.hashsize);
        let _ = writeln!(out, "    maxelem: {}", s.def.maxelem);
        let members = s.members.as_deref().unwrap_or_default();
        if members.is_empty() {
            out.push_str("    members: []\n");
        } else {
            out.push_str("    members:\n");
        }
        for m in members {
            let _ = writeln!(out, "      - \"{m}\"");
        }
    }
    out.push_str("chains:\n");
    chains_text(&mut out, ruleset, "  ");
    if let Some(six) = ipv6 {
        out.push_str("ipv6:\n  chains:\n");
        chains_text(&mut out, six, "    ");
    }
    out
}

/// The chains of `ruleset` as `chains:`'s value, each line after `indent`.
fn chains_text(out: &mut String, ruleset: &Ruleset, indent: &str) {
    for (name, rules) in ruleset.all_rules() {
        let _ = writeln!(out, "{indent}{}:", quote_key(name));
        if let Some(b) = BuiltinChain::from_name(name) {
            let _ = writeln!(out, "{indent}  policy: {}", ruleset.chain(b).policy.name());
        }
        if !rules.is_empty() {
            let _ = writeln!(out, "{indent}  rules:");
        }
        for r in rules {
            let spec = render::rule_spec(name, r);
            let spec = spec
                .strip_prefix(&format!("-A {name}"))
                .unwrap_or(&spec)
                .trim_start();
            // A JSON string is a YAML double-quoted scalar.
            let _ = writeln!(
                out,
                "{indent}    - {}",
                serde_json::to_string(spec).unwrap_or_default()
            );
        }
    }
}

/// A chain name as a YAML key: plain when it reads back as the same
/// string, else double-quoted.
fn quote_key(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !matches!(
            name.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        name.to_string()
    } else {
        serde_json::to_string(name).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::services::tests::sample;

    fn load(text: &str) -> Result<Restored, YamlError> {
        restore(&State::default(), text, "rules.yaml", true, &sample())
    }

    fn saved(r: &Restored) -> String {
        render::save(&r.state.ruleset, &render::Counters::default(), false, None)
    }

    #[test]
    fn structured_fields_and_strings_give_the_same_rules() {
        let pairs = [
            (
                "{proto: tcp, dport: 22, target: ACCEPT}",
                "-p tcp -m tcp --dport 22 -j ACCEPT",
            ),
            (
                "{proto: udp, src: 192.0.2.0/24, sport: \"1000:2000\", target: DROP}",
                "-s 192.0.2.0/24 -p udp -m udp --sport 1000:2000 -j DROP",
            ),
            (
                "{proto: tcp, dport: [80, 443], comment: web ports, target: ACCEPT}",
                "-p tcp -m multiport --dports 80,443 -m comment --comment \"web ports\" -j ACCEPT",
            ),
            (
                "{ctstate: [ESTABLISHED, RELATED], target: ACCEPT}",
                "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            ),
            (
                "{in: \"!eth0\", dst: 198.51.100.7, proto: icmp, icmp_type: echo-request, target: DROP}",
                "-d 198.51.100.7/32 ! -i eth0 -p icmp -m icmp --icmp-type 8 -j DROP",
            ),
            (
                "{proto: tcp, dport: \"!22\", target: REJECT, reject_with: tcp-reset}",
                "-p tcp -m tcp ! --dport 22 -j REJECT --reject-with tcp-reset",
            ),
            (
                "{out: wg0, target: LOG, log_prefix: \"out: \", log_level: 4}",
                "-o wg0 -j LOG --log-prefix \"out: \" --log-level 4",
            ),
            (
                "{proto: 6, sport: 1024, dport: 22, target: ACCEPT}",
                "-p tcp -m tcp --sport 1024 --dport 22 -j ACCEPT",
            ),
            ("{}", ""),
        ];
        for (fields, spec) in pairs {
            let a = load(&format!(
                "chains:\n  FORWARD:\n    rules:\n      - {fields}\n"
            ))
            .unwrap_or_else(|e| panic!("{fields}: {e}"));
            let b = load(&format!(
                "chains:\n  FORWARD:\n    rules:\n      - {}\n",
                serde_json::to_string(spec).unwrap()
            ))
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(a.state.ruleset, b.state.ruleset, "{fields} vs {spec}");
            assert_eq!(a.state.ruleset.forward.rules.len(), 1);
        }
    }

    #[test]
    fn policies_user_chains_and_round_trip() {
        let text = "# a comment\nfamily: ipv4\ninterfaces: all\nchains:\n  INPUT:\n    policy: DROP\n    rules:\n\
                    \x20     - -j web\n  web:\n    rules:\n      - {proto: tcp, dport: 443, target: ACCEPT}\n";
        let r = load(text).unwrap();
        assert_eq!(
            saved(&r),
            "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             :web - [0:0]\n-A INPUT -j web\n-A web -p tcp -m tcp --dport 443 -j ACCEPT\nCOMMIT\n"
        );
        let yaml = save(&r.state.ruleset, None);
        assert_eq!(
            yaml,
            "family: ipv4\ninterfaces: all\nchains:\n  INPUT:\n    policy: DROP\n    rules:\n\
             \x20     - \"-j web\"\n  FORWARD:\n    policy: ACCEPT\n  OUTPUT:\n    policy: ACCEPT\n\
             \x20 web:\n    rules:\n      - \"-p tcp -m tcp --dport 443 -j ACCEPT\"\n"
        );
        assert_eq!(load(&yaml).unwrap().state.ruleset, r.state.ruleset);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e =
            load("chains:\n  INPUT:\n    rules:\n      - {proto: tcp, dprot: 22}\n").unwrap_err();
        assert_eq!((e.line, e.column, e.exit), (4, 22, 2), "{e}");
        assert!(
            e.to_string().starts_with(
                "chains.INPUT.rules[0]: unknown key `dprot` at rules.yaml:4:22, expected one of `proto`"
            ),
            "{e}"
        );
        // Inside a rule string: the string's position.
        let e = load(
            "chains:\n  INPUT:\n    rules:\n      - -j ACCEPT\n      - \"-p tcp --dport 99999\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "chains.INPUT.rules[1]: invalid port/service `99999' specified at rules.yaml:5:9"
        );
        assert_eq!(e.exit, 2);
        // Not enforceable yet, in a structured rule: the rule's position.
        let e = load("chains:\n  OUTPUT:\n    rules:\n\n      - {target: ACCEPT}\n      - -m conntrack --ctorigdstport 80\n")
            .unwrap_err();
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (
                6,
                9,
                "chains.OUTPUT.rules[1]: not supported yet: -m conntrack port options without -p tcp, -p udp or --ctproto tcp/udp"
            )
        );
        // A policy on a user-defined chain: the chain's value.
        let e = load("chains:\n  INPUT: {}\n  web:\n    policy: DROP\n").unwrap_err();
        assert_eq!((e.line, e.column, e.exit), (4, 5, 2), "{e}");
        assert!(
            e.message
                .contains("`policy` in user-defined chain `web`, expected")
        );
    }

    #[test]
    fn a_key_without_a_value_is_refused_not_left_out() {
        for key in [
            "proto",
            "src",
            "dst",
            "in",
            "out",
            "sport",
            "dport",
            "icmp_type",
            "ctstate",
            "comment",
            "goto",
            "reject_with",
            "log_prefix",
            "log_level",
        ] {
            for null in ["", "~", "null"] {
                let text = format!(
                    "chains:\n  INPUT:\n    rules:\n      - {{target: ACCEPT, {key}: {null}}}\n"
                );
                let e = load(&text).unwrap_err();
                assert_eq!((e.line, e.exit), (4, 2), "{key}: {null:?}: {e}");
            }
        }
        let e =
            load("chains:\n  INPUT:\n    rules:\n      - {proto: tcp, target: }\n").unwrap_err();
        assert_eq!((e.line, e.exit), (4, 2), "{e}");
        // `policy:` or `rules:` cut short.
        for cut in [
            "chains:\n  INPUT:\n    policy:\n",
            "chains:\n  INPUT:\n    rules:\n",
        ] {
            let e = load(cut).unwrap_err();
            assert_eq!(e.exit, 2, "{e}");
            assert!(e.line >= 2, "{e}");
        }
    }

    #[test]
    fn a_file_without_chains_or_cut_short_is_refused() {
        let no_chains = "no chains in rules.yaml, expected `chains:` with at least one of \
                         INPUT, FORWARD and OUTPUT (a ruleset without them would leave every \
                         policy ACCEPT)";
        for text in [
            "",
            "# nothing yet\n",
            "chains:\n",
            "family: ipv4\nchains: {}\n",
        ] {
            let e = load(text).unwrap_err();
            assert_eq!((e.to_string().as_str(), e.exit), (no_chains, 2), "{text:?}");
        }
        let e = load("chains:\n  INPUT:\n").unwrap_err();
        assert_eq!(e.exit, 2);
        assert!(
            e.to_string()
                .starts_with("chains: built-in chain `INPUT` has no value at rules.yaml:"),
            "{e}"
        );
        // A user-defined chain with no rules is saved that way.
        load("chains:\n  INPUT: {policy: DROP}\n  web:\n").unwrap();
    }

    /// A set's `family` says how its members read, and is saved back.
    #[test]
    fn inet6_sets_read_and_save() {
        let doc = "sets:\n  v6:\n    type: hash:net\n    family: inet6\n    members:\n      - 2001:db8::/64\nchains:\n  INPUT: {policy: ACCEPT}\n";
        let got = sets(doc, "s.yaml").unwrap();
        assert_eq!(got[0].def.family, SetFamily::Inet6);
        assert_eq!(
            got[0].members.as_ref().unwrap()[0].to_string(),
            "2001:db8::/64"
        );
        let saved = save_with_sets(&Ruleset::default(), None, &got, None);
        assert!(
            saved.contains("    type: hash:net\n    family: inet6\n"),
            "{saved}"
        );
        assert_eq!(sets(&saved, "s.yaml").unwrap(), got);
        // Without `family`: inet, whose members are IPv4.
        let e = sets(
            "sets:\n  v4:\n    type: hash:ip\n    members: [\"2001:db8::1\"]\n",
            "s.yaml",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("resolving to IPv4 address failed"),
            "{e}"
        );
        let e = sets(
            "sets:\n  v6:\n    type: hash:ip\n    members: []\n    family: inet6\n",
            "s.yaml",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "sets.v6: `family: inet6` after `members` at s.yaml:3:5, expected it before them"
            ),
            "{e}"
        );
        let e = sets(
            "sets:\n  v6:\n    type: hash:ip\n    family: ip6\n",
            "s.yaml",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "sets.v6: unknown set family `ip6` at s.yaml:3:5, expected inet or inet6"
        );
    }

    #[test]
    fn what_fw_cannot_apply_is_refused() {
        for (text, line, what) in [
            (
                "interfaces: [eth0]\n",
                1,
                "not supported yet: a list of interfaces",
            ),
            (
                // A set is a mapping with a type (not a list of members).
                "sets:\n  ssh: [192.0.2.1]\n",
                2,
                "expected a set: `type`",
            ),
            (
                "conntrack: {udp: 60}\n",
                1,
                "not supported yet: `conntrack`",
            ),
            ("log: {rate: 5}\n", 1, "not supported yet: `log`"),
            ("family: ipx\n", 1, "unknown variant `ipx`"),
            ("interfaces: some\n", 1, "invalid value"),
            ("chains:\n  -web: {}\n", 2, "chain name"),
            (
                "chains:\n  INPUT:\n    rules:\n     - {dport: 22}\n",
                4,
                "`sport` and `dport` need `proto: tcp` or `proto: udp`",
            ),
            // fw's own limit, refused rather than split into two rules.
            (
                "chains:\n  INPUT:\n    rules:\n      - {proto: udp, sport: 53, dport: [1, 2]}\n",
                4,
                "not supported yet: more than one tcp/udp/multiport match in one rule",
            ),
        ] {
            let e = load(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
            assert_eq!(e.exit, 2);
        }
    }

    /// `family: ipv6` states the IPv6 table; `ipv6:` beside IPv4's
    /// chains states both, each through its own restore engine; errors in
    /// the section name their own line.
    #[test]
    fn ipv6_tables_in_a_document() {
        use crate::model::Family;
        let save6 = |r: &Restored| {
            let st = r.state.clone().for_family(Family::V6);
            render::save(&st.ruleset, &render::Counters::default(), false, None)
        };
        let r = load(
            "family: ipv6\nchains:\n  INPUT:\n    policy: DROP\n    rules:\n      - -p ipv6-icmp -j ACCEPT\n      - {src: 2001:db8::/32, proto: tcp, dport: 22, target: ACCEPT}\n",
        )
        .unwrap();
        assert_eq!(
            save6(&r),
            "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -p ipv6-icmp -j ACCEPT\n\
             -A INPUT -s 2001:db8::/32 -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
        );
        // A structured ICMPv6 type is ip6tables' icmp6 match.
        let icmp6 = load(
            "family: ipv6\nchains:\n  INPUT:\n    rules:\n      - {proto: ipv6-icmp, icmp_type: echo-request, target: ACCEPT}\n",
        )
        .unwrap();
        assert!(
            save6(&icmp6).contains("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT\n"),
            "{}",
            save6(&icmp6)
        );
        // IPv4's table is left as it was (empty here).
        assert_eq!(r.state.ruleset, crate::model::Ruleset::default());
        let both = "chains:\n  INPUT: {policy: DROP}\nipv6:\n  chains:\n    INPUT:\n      policy: DROP\n      rules:\n        - -p ipv6-icmp -j ACCEPT\n";
        let r = load(both).unwrap();
        assert_eq!(r.state.ruleset.input.policy, crate::model::Policy::Drop);
        assert!(save6(&r).contains("-A INPUT -p ipv6-icmp -j ACCEPT\n"));
        assert_eq!(
            families(both, "rules.yaml").unwrap(),
            [Family::V4, Family::V6]
        );
        // Saved and read back: the same two tables.
        let six = r.state.table(Family::V6).clone();
        let again = load(&save_with_sets(&r.state.ruleset, Some(&six), &[], None)).unwrap();
        assert_eq!(again.state, r.state);
        for (text, line, what) in [
            // An IPv6 rule string is ip6tables': an IPv4 address is refused.
            (
                "family: ipv6\nchains:\n  INPUT:\n    rules:\n      - -s 192.0.2.1 -j DROP\n",
                5,
                "host/network `192.0.2.1' not found",
            ),
            (
                "chains:\n  INPUT: {}\nipv6:\n  chains:\n    INPUT:\n      rules:\n        - -m ttl --ttl-eq 5 -j DROP\n",
                7,
                "ttl",
            ),
            (
                "chains:\n  INPUT: {}\nipv6:\n  chains: {}\n",
                0,
                "no chains, expected `ipv6: chains:`",
            ),
            (
                "family: ipv6\nchains:\n  INPUT: {}\nipv6:\n  chains:\n    INPUT: {}\n",
                0,
                "`ipv6:` in a document of `family: ipv6`",
            ),
            (
                "chains:\n  INPUT: {}\nipv6:\n  policy: DROP\n",
                4,
                "ipv6: unknown key `policy`",
            ),
            // Cut short after `ipv6:`: refused, not read as no IPv6 table.
            ("chains:\n  INPUT: {}\nipv6:\n", 1, "`ipv6` without a value"),
            (
                "chains:\n  INPUT: {}\nipv6: ~\n",
                1,
                "`ipv6` without a value",
            ),
            (
                "chains:\n  INPUT: {}\nipv6: [1]\n",
                3,
                "expected a mapping with `chains:`",
            ),
            // A pasted IPv4 rule in the IPv6 table is an error, not skipped.
            (
                "chains:\n  INPUT: {}\nipv6:\n  chains:\n    INPUT:\n      rules:\n        - -4 -s 192.0.2.1 -j ACCEPT\n",
                7,
                "-4",
            ),
        ] {
            let e = load(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
            assert_eq!(e.exit, 2, "{text}: {e}");
        }
    }

    #[test]
    fn yaml_is_told_from_iptables_save() {
        assert!(is_yaml("# fw\nfamily: ipv4\n"));
        assert!(is_yaml("---\nchains: {}\n"));
        assert!(is_yaml("chains:\n"));
        assert!(is_yaml("{chains: {INPUT: {policy: DROP}}}\n"));
        assert!(!is_yaml(
            "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
        ));
        assert!(!is_yaml("*filter\nCOMMIT\n"));
        assert!(!is_yaml(""));
        assert!(!is_yaml("COMMIT\n"));
    }
}
