//! Tokens: splitting a rule-specification line into words (as
//! iptables-restore does) and walking argv the way iptables' `getopt_long`
//! loop does.
//!
//! iptables parses with glibc `getopt_long` and an option string starting
//! with `-`, so words are taken strictly in order (no permutation):
//! - `--name` and `--name=value`, where `name` may be any unambiguous
//!   prefix of a known long option (`--dest` is `--destination`);
//! - clusters of short options (`-nvL`), a short option's value attached
//!   (`-pudp`) or in the next word;
//! - `--` ends the options; any other word (including `!`) is a
//!   non-option, which iptables' loop handles itself.
//!
//! The set of long options grows while parsing (each `-m tcp` adds its
//! options), so the scanner takes the current table at every step.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_till, take_while1},
    character::complete::{anychar, char, none_of},
    combinator::{all_consuming, cut, map, opt, rest, verify},
    multi::{fold_many0, many0},
    sequence::{pair, preceded, terminated},
};

use super::error::ParseError;

/// Whether an option takes a value (getopt's `has_arg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HasArg {
    /// `no_argument`.
    No,
    /// `required_argument`: attached or the next word, whatever it is.
    Required,
    /// `optional_argument`: only attached (`-LINPUT`, `--list=INPUT`).
    Optional,
}

/// One long option of the current table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LongOpt<K> {
    pub name: &'static str,
    pub has_arg: HasArg,
    pub key: K,
}

/// What the scanner found next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Item<K> {
    /// A known option, `written` as typed (`-s`, `--src`; without `=value`).
    Opt {
        key: K,
        written: String,
        arg: Option<String>,
    },
    /// A word that is not an option (includes `!` and `-`).
    NonOption(String),
    /// An unknown or ambiguous option, as iptables reports it.
    Unknown(String),
    /// An option that needs a value came last (as written).
    MissingArg(String),
    /// `--`.
    EndOfOptions,
}

/// How one argv word looks.
#[derive(Debug, PartialEq, Eq)]
enum Word<'a> {
    End,
    Long {
        name: &'a str,
        value: Option<&'a str>,
    },
    Cluster(&'a str),
    Plain,
}

/// Classifies one argv word.
fn word(w: &str) -> Word<'_> {
    let end = map(all_consuming(tag("--")), |_| Word::End);
    let long = map(
        preceded(
            tag("--"),
            pair(take_till(|c| c == '='), opt(preceded(char('='), rest))),
        ),
        |(name, value)| Word::Long { name, value },
    );
    let cluster = map(
        preceded(char('-'), verify(rest, |s: &str| !s.is_empty())),
        Word::Cluster,
    );
    let res: IResult<&str, Word<'_>> = alt((end, long, cluster)).parse(w);
    res.map(|(_, w)| w).unwrap_or(Word::Plain)
}

/// Looks `name` up as getopt_long does: an exact name wins, else a unique
/// prefix; a prefix of several options is ambiguous unless they all are
/// the same option.
pub(crate) fn lookup_long<K: Copy + PartialEq>(
    table: &[LongOpt<K>],
    name: &str,
) -> Option<LongOpt<K>> {
    if let Some(exact) = table.iter().find(|o| o.name == name) {
        return Some(*exact);
    }
    let mut found: Option<LongOpt<K>> = None;
    for o in table.iter().filter(|o| o.name.starts_with(name)) {
        match found {
            None => found = Some(*o),
            Some(f) if f.key == o.key && f.has_arg == o.has_arg => {}
            Some(_) => return None,
        }
    }
    found
}

/// A saved scanner position, to re-read a word after loading a module (as
/// iptables does with `optind--`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    pos: usize,
    sub: usize,
}

/// Walks argv like iptables' getopt_long loop.
pub(crate) struct Scanner<'a> {
    args: &'a [String],
    /// Index of the current word.
    pos: usize,
    /// Byte offset inside a short-option cluster, 0 when between words.
    sub: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(args: &'a [String]) -> Self {
        Self {
            args,
            pos: 0,
            sub: 0,
        }
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            sub: self.sub,
        }
    }

    pub(crate) fn reset(&mut self, m: Mark) {
        self.pos = m.pos;
        self.sub = m.sub;
    }

    /// The words not read yet (after `--`).
    pub(crate) fn remaining(&self) -> &'a [String] {
        &self.args[self.pos.min(self.args.len())..]
    }

    /// iptables' `xs_has_arg`: takes the next word if there is one and it
    /// does not start with `-` or `!` (how `-I CHAIN 2`, `-L CHAIN` and
    /// `-P CHAIN POLICY` read their optional words).
    pub(crate) fn next_plain(&mut self) -> Option<&'a str> {
        debug_assert_eq!(self.sub, 0);
        let w = self.args.get(self.pos)?;
        if w.starts_with('-') || w.starts_with('!') {
            return None;
        }
        self.pos += 1;
        Some(w)
    }

    /// The next item, or `None` at the end of argv.
    pub(crate) fn next<K: Copy + PartialEq>(
        &mut self,
        longs: &[LongOpt<K>],
        short: impl Fn(char) -> Option<(K, HasArg)>,
    ) -> Option<Item<K>> {
        if self.sub > 0 {
            return Some(self.next_short(short));
        }
        let w = self.args.get(self.pos)?;
        Some(match word(w) {
            Word::End => {
                self.pos += 1;
                Item::EndOfOptions
            }
            Word::Plain => {
                self.pos += 1;
                Item::NonOption(w.clone())
            }
            Word::Cluster(_) => {
                self.sub = 1;
                self.next_short(short)
            }
            Word::Long { name, value } => {
                self.pos += 1;
                let Some(o) = lookup_long(longs, name) else {
                    return Some(Item::Unknown(w.clone()));
                };
                let written = format!("--{name}");
                let arg = match (o.has_arg, value) {
                    // glibc refuses "--verbose=1"; iptables then calls it unknown.
                    (HasArg::No, Some(_)) => return Some(Item::Unknown(w.clone())),
                    (_, Some(v)) => Some(v.to_string()),
                    (HasArg::Required, None) => match self.args.get(self.pos) {
                        Some(v) => {
                            self.pos += 1;
                            Some(v.clone())
                        }
                        None => return Some(Item::MissingArg(written)),
                    },
                    (_, None) => None,
                };
                Item::Opt {
                    key: o.key,
                    written,
                    arg,
                }
            }
        })
    }

    /// The next option of a short cluster such as `-nvL`.
    fn next_short<K>(&mut self, short: impl Fn(char) -> Option<(K, HasArg)>) -> Item<K> {
        let w = &self.args[self.pos];
        let Some(c) = w[self.sub..].chars().next() else {
            // Cannot happen (the cluster ends are handled below); be safe.
            self.pos += 1;
            self.sub = 0;
            return Item::NonOption(String::new());
        };
        let after = self.sub + c.len_utf8();
        let attached = &w[after..];
        let written = format!("-{c}");
        let finish_word = |s: &mut Self| {
            s.pos += 1;
            s.sub = 0;
        };
        let Some((key, has_arg)) = short(c) else {
            if attached.is_empty() {
                finish_word(self);
            } else {
                self.sub = after;
            }
            return Item::Unknown(written);
        };
        let arg = match has_arg {
            HasArg::No => {
                if attached.is_empty() {
                    finish_word(self);
                } else {
                    self.sub = after;
                }
                None
            }
            _ if !attached.is_empty() => {
                let a = attached.to_string();
                finish_word(self);
                Some(a)
            }
            HasArg::Optional => {
                finish_word(self);
                None
            }
            HasArg::Required => {
                finish_word(self);
                match self.args.get(self.pos) {
                    Some(v) => {
                        self.pos += 1;
                        Some(v.clone())
                    }
                    None => return Item::MissingArg(written),
                }
            }
        };
        Item::Opt { key, written, arg }
    }
}

/// Characters that separate words in a rule specification (iptables-restore
/// splits on space, tab and newline only).
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// `"..."` with `\x` escapes; the closing quote ends the word.
fn quoted(i: &str) -> IResult<&str, String> {
    preceded(
        char('"'),
        cut(terminated(
            fold_many0(
                alt((preceded(char('\\'), anychar), none_of("\\\""))),
                String::new,
                |mut s, c| {
                    s.push(c);
                    s
                },
            ),
            char('"'),
        )),
    )
    .parse(i)
}

/// Unquoted characters; a backslash is literal outside quotes.
fn bare(i: &str) -> IResult<&str, &str> {
    take_while1(|c| !is_separator(c) && c != '"')(i)
}

/// One word: bare characters, optionally followed by a quoted part that
/// ends the word (`a"b c"` is `ab c`; `"a"b` is two words, as in
/// iptables-restore).
fn spec_word(i: &str) -> IResult<&str, String> {
    alt((
        map(pair(opt(bare), quoted), |(b, q)| {
            format!("{}{q}", b.unwrap_or(""))
        }),
        map(bare, str::to_string),
    ))
    .parse(i)
}

/// Splits a rule specification into words the way iptables-restore does
/// (iptables-restore(8)): white space separates words, `"..."` groups
/// (with `\"` and `\\` escapes inside), `""` is an empty word.
///
/// Errors: [`ParseError::UnterminatedQuote`].
pub fn split_spec(line: &str) -> Result<Vec<String>, ParseError> {
    let sep = |i| take_while1(is_separator).parse(i);
    let words = preceded(opt(sep), many0(terminated(spec_word, opt(sep))));
    match all_consuming(words).parse(line) {
        Ok((_, w)) => Ok(w),
        // The only way to fail: a quote without its closing quote.
        Err(_) => Err(ParseError::UnterminatedQuote),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn words() {
        assert_eq!(word("--"), Word::End);
        assert_eq!(
            word("--dport=22"),
            Word::Long {
                name: "dport",
                value: Some("22")
            }
        );
        assert_eq!(
            word("--sport="),
            Word::Long {
                name: "sport",
                value: Some("")
            }
        );
        assert_eq!(word("-nvL"), Word::Cluster("nvL"));
        assert_eq!(word("-"), Word::Plain);
        assert_eq!(word("!"), Word::Plain);
        assert_eq!(word("INPUT"), Word::Plain);
    }

    #[test]
    fn split_like_iptables_restore() {
        assert_eq!(
            split_spec("  -s \"192.0.2.1\"\t -j  ACCEPT \n").unwrap(),
            s(&["-s", "192.0.2.1", "-j", "ACCEPT"])
        );
        assert_eq!(
            split_spec(r#"--comment "a b" x"#).unwrap(),
            s(&["--comment", "a b", "x"])
        );
        assert_eq!(
            split_spec(r#""a\"b" "a\\b""#).unwrap(),
            s(&["a\"b", "a\\b"])
        );
        assert_eq!(split_spec(r#""a"b"#).unwrap(), s(&["a", "b"]));
        assert_eq!(split_spec(r#"a"b c"d"#).unwrap(), s(&["ab c", "d"]));
        assert_eq!(split_spec(r#"x "" y"#).unwrap(), s(&["x", "", "y"]));
        assert_eq!(split_spec(r"a\b").unwrap(), s(&["a\\b"]));
        assert_eq!(split_spec("").unwrap(), Vec::<String>::new());
        assert_eq!(
            split_spec(r#"-m comment --comment "ab -j"#),
            Err(ParseError::UnterminatedQuote)
        );
        assert_eq!(split_spec(r#""a\"#), Err(ParseError::UnterminatedQuote));
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum K {
        Source,
        Src,
        SetCounters,
        Verbose,
        List,
    }

    const T: &[LongOpt<K>] = &[
        LongOpt {
            name: "source",
            has_arg: HasArg::Required,
            key: K::Source,
        },
        LongOpt {
            name: "src",
            has_arg: HasArg::Required,
            key: K::Src,
        },
        LongOpt {
            name: "set-counters",
            has_arg: HasArg::Required,
            key: K::SetCounters,
        },
        LongOpt {
            name: "verbose",
            has_arg: HasArg::No,
            key: K::Verbose,
        },
        LongOpt {
            name: "list",
            has_arg: HasArg::Optional,
            key: K::List,
        },
    ];

    fn short(c: char) -> Option<(K, HasArg)> {
        match c {
            's' => Some((K::Source, HasArg::Required)),
            'v' => Some((K::Verbose, HasArg::No)),
            'L' => Some((K::List, HasArg::Optional)),
            _ => None,
        }
    }

    fn scan(args: &[&str]) -> Vec<Item<K>> {
        let a = s(args);
        let mut sc = Scanner::new(&a);
        let mut out = vec![];
        while let Some(i) = sc.next(T, short) {
            out.push(i);
        }
        out
    }

    fn opt(key: K, written: &str, arg: Option<&str>) -> Item<K> {
        Item::Opt {
            key,
            written: written.into(),
            arg: arg.map(Into::into),
        }
    }

    #[test]
    fn getopt_like_scanning() {
        assert_eq!(
            scan(&["-vs", "x", "-sy", "--so", "z", "--source=w", "!", "--"]),
            vec![
                opt(K::Verbose, "-v", None),
                opt(K::Source, "-s", Some("x")),
                opt(K::Source, "-s", Some("y")),
                opt(K::Source, "--so", Some("z")),
                opt(K::Source, "--source", Some("w")),
                Item::NonOption("!".into()),
                Item::EndOfOptions,
            ]
        );
        // "--s" is a prefix of source, src and set-counters: ambiguous.
        assert_eq!(
            scan(&["--s", "x"]),
            vec![Item::Unknown("--s".into()), Item::NonOption("x".into())]
        );
        assert_eq!(
            scan(&["--verbose=1"]),
            vec![Item::Unknown("--verbose=1".into())]
        );
        assert_eq!(scan(&["-s"]), vec![Item::MissingArg("-s".into())]);
        assert_eq!(scan(&["--src"]), vec![Item::MissingArg("--src".into())]);
        // Optional values are attached only.
        assert_eq!(
            scan(&["-LINPUT", "-L", "X", "--list=Y"]),
            vec![
                opt(K::List, "-L", Some("INPUT")),
                opt(K::List, "-L", None),
                Item::NonOption("X".into()),
                opt(K::List, "--list", Some("Y")),
            ]
        );
        // A required value is taken whatever it looks like.
        assert_eq!(scan(&["-s", "-v"]), vec![opt(K::Source, "-s", Some("-v"))]);
        assert_eq!(
            scan(&["-yv", "-é"]),
            vec![
                Item::Unknown("-y".into()),
                opt(K::Verbose, "-v", None),
                Item::Unknown("-é".into())
            ]
        );
    }
}
