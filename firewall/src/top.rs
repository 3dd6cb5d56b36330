//! `fw top`: a live terminal view of the rules' hit rates, refreshed every
//! second, with ratatui. Rules and policies sorted by packets or bytes per
//! second, the connection table's fill and the packets dropped before any
//! rule; it fits 80×24 and works over SSH. Keys: `p` sort by packets, `b`
//! by bytes, `q` (or Esc, Ctrl-C) quits.

use std::time::{Duration, Instant};

use ratatui::{
    Frame,
    crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers},
    layout::{Constraint, Layout},
    style::{Modifier, Style},
    text::Line,
    widgets::{Row, Table},
};

use crate::{
    exec::{self, ExecError, Snapshot},
    model::BuiltinChain,
    render::rule_spec,
};

/// How often the view is refreshed.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// `fw top`'s usage.
pub const USAGE: &str = "\
Usage: fw top [--sort packets|bytes]
A live view of the rules' and policies' hit rates, refreshed every second,
with the connection table's fill and the packets dropped before any rule.
Keys: p sort by packets/s, b by bytes/s, q quits.
";

/// Errors of `fw top`.
#[derive(Debug, thiserror::Error)]
pub enum TopError {
    /// A bad command line (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// Reading the firewall failed, as an fw command reports it.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Standard output is not a terminal, or the terminal failed.
    #[error("the terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

impl TopError {
    /// The iptables-style exit status: 2 for a bad command line, the
    /// command's own for [`TopError::Exec`], 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            TopError::Usage(_) => 2,
            TopError::Exec(e) => e.exit_code(),
            TopError::Terminal(_) => 1,
        }
    }
}

/// What the rows are sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// Packets per second, highest first.
    Packets,
    /// Bytes per second, highest first.
    Bytes,
}

/// Parses the arguments after `top`.
///
/// # Errors
/// [`TopError::Usage`] naming the argument.
pub fn parse(args: &[String]) -> Result<Sort, TopError> {
    match args {
        [] => Ok(Sort::Packets),
        [s, v] if s == "--sort" => match v.as_str() {
            "packets" => Ok(Sort::Packets),
            "bytes" => Ok(Sort::Bytes),
            other => Err(TopError::Usage(format!(
                "top: --sort: `{other}' is not packets or bytes"
            ))),
        },
        [s] if s == "--sort" => Err(TopError::Usage("top: --sort needs a value".into())),
        [a, ..] => Err(TopError::Usage(format!("top: unknown argument `{a}'"))),
    }
}

/// One rule's or policy's counters and rates.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    /// `INPUT:3` for rule 3 of INPUT, `INPUT:policy` for its policy.
    pub place: String,
    /// The rule as `fw -S` prints it, or `-P INPUT DROP`.
    pub rule: String,
    /// Counters now.
    pub packets: u64,
    /// Bytes now.
    pub bytes: u64,
    /// Per second over the last interval; `None` for a rule that is new
    /// or changed since (its counters started again).
    pub pps: Option<f64>,
    /// Bytes per second, as `pps`.
    pub bps: Option<f64>,
}

/// Every rule and policy of `now` with its rate since `before`, `secs`
/// earlier, sorted by `sort` (highest first; ties and unknown rates in
/// ruleset order).
pub fn rates(before: Option<&Snapshot>, now: &Snapshot, secs: f64, sort: Sort) -> Vec<Rate> {
    let entries = |s: &Snapshot| -> Vec<(String, String, u64, u64)> {
        let mut out = Vec::new();
        for (i, c) in BuiltinChain::ALL.into_iter().enumerate() {
            out.push((
                format!("{}:policy", c.name()),
                format!("-P {} {}", c.name(), s.state.ruleset.chain(c).policy.name()),
                s.counters.policy[i].packets,
                s.counters.policy[i].bytes,
            ));
        }
        for (chain, rules) in s.state.ruleset.all_rules() {
            let counts = s.counters.rules.get(chain);
            for (n, r) in rules.iter().enumerate() {
                let c = counts.and_then(|c| c.get(n)).copied().unwrap_or_default();
                out.push((
                    format!("{chain}:{}", n + 1),
                    rule_spec(chain, r),
                    c.packets,
                    c.bytes,
                ));
            }
        }
        out
    };
    let old = before.map(entries).unwrap_or_default();
    let mut rows: Vec<Rate> = entries(now)
        .into_iter()
        .map(|(place, rule, packets, bytes)| {
            let prev = old.iter().find(|(p, r, ..)| *p == place && *r == rule);
            let per = |now: u64, then: u64| {
                (secs > 0.0 && now >= then).then(|| (now - then) as f64 / secs)
            };
            Rate {
                pps: prev.and_then(|p| per(packets, p.2)),
                bps: prev.and_then(|p| per(bytes, p.3)),
                place,
                rule,
                packets,
                bytes,
            }
        })
        .collect();
    let key = |r: &Rate| match sort {
        Sort::Packets => r.pps.unwrap_or(-1.0),
        Sort::Bytes => r.bps.unwrap_or(-1.0),
    };
    rows.sort_by(|a, b| key(b).total_cmp(&key(a)));
    rows
}

/// A count with K/M/G suffixes as `fw -L -v` prints them.
fn human(v: f64) -> String {
    let mut v = v;
    for unit in ["", "K", "M", "G", "T"] {
        if v < 100_000.0 {
            return if unit.is_empty() && v.fract() == 0.0 {
                format!("{v:.0}")
            } else if unit.is_empty() {
                format!("{v:.1}")
            } else {
                format!("{v:.0}{unit}")
            };
        }
        v /= 1000.0;
    }
    format!("{v:.0}P")
}

/// Draws one frame: a header with the totals, then the rows.
pub fn draw(frame: &mut Frame, now: &Snapshot, rows: &[Rate], sort: Sort) {
    let [head, body] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(frame.area());
    let dropped: u64 = now.malformed.iter().map(|(_, n)| n).sum();
    let lost: u64 = now.log.iter().skip(1).map(|(_, n)| n).sum();
    let by = match sort {
        Sort::Packets => "packets/s",
        Sort::Bytes => "bytes/s",
    };
    let header = vec![
        Line::from(format!(
            "fw top: sorted by {by}; p packets, b bytes, q quit"
        ))
        .style(Style::default().add_modifier(Modifier::BOLD)),
        Line::from(if now.loaded {
            format!(
                "generation {}  conntrack {}/{}  dropped before rules {}  LOG lost {}",
                now.state.generation, now.ct_entries, now.ct_max, dropped, lost
            )
        } else {
            "fw is not loaded in this network namespace".to_string()
        }),
    ];
    frame.render_widget(ratatui::widgets::Paragraph::new(header), head);
    let rate = |r: Option<f64>| r.map_or("-".to_string(), human);
    let table_rows = rows.iter().map(|r| {
        Row::new(vec![
            rate(r.pps),
            rate(r.bps),
            human(r.packets as f64),
            r.place.clone(),
            r.rule.clone(),
        ])
    });
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(14),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new(vec!["pkts/s", "bytes/s", "packets", "where", "rule"])
            .style(Style::default().add_modifier(Modifier::REVERSED)),
    );
    frame.render_widget(table, body);
}

/// Runs the view until `q`.
///
/// # Errors
/// Missing privileges; a terminal that cannot be set up. A read that
/// fails meanwhile ends the view with its error.
pub fn run(sort: Sort) -> Result<(), TopError> {
    exec::check_privileges()?;
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return Err(TopError::Terminal(std::io::Error::other(
            "standard output is not a terminal (fw -L --json gives the counters to scripts)",
        )));
    }
    let mut sort = sort;
    let mut before: Option<(Instant, Snapshot)> = None;
    let mut terminal = ratatui::init();
    let result = (|| -> Result<(), TopError> {
        loop {
            let now = exec::snapshot()?;
            let at = Instant::now();
            let secs = before
                .as_ref()
                .map_or(0.0, |(t, _)| at.duration_since(*t).as_secs_f64());
            let rows = rates(before.as_ref().map(|(_, s)| s), &now, secs, sort);
            terminal.draw(|f| draw(f, &now, &rows, sort))?;
            before = Some((at, now));
            let until = at + INTERVAL;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if !event::poll(left)? {
                    break;
                }
                if let Event::Key(k) = event::read()?
                    && k.kind == KeyEventKind::Press
                {
                    match k.code {
                        KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                            return Ok(());
                        }
                        KeyCode::Char('p') => sort = Sort::Packets,
                        KeyCode::Char('b') => sort = Sort::Bytes,
                        _ => {}
                    }
                }
            }
        }
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        model::{Match, Policy, Rule, Target},
        render::Counts,
    };
    use ratatui::{Terminal, backend::TestBackend};

    fn snapshot(ssh: u64, udp: u64, policy: u64) -> Snapshot {
        let mut s = Snapshot {
            loaded: true,
            ct_entries: 12,
            ct_max: 65536,
            ..Snapshot::default()
        };
        s.state.generation = 4;
        s.state.ruleset.input.policy = Policy::Drop;
        s.state.ruleset.input.rules = vec![
            Rule {
                protocol: Some(crate::model::Neg::is(6)),
                matches: vec![Match::Comment("ssh".into())],
                target: Target::Accept,
                ..Rule::default()
            },
            Rule {
                protocol: Some(crate::model::Neg::is(17)),
                target: Target::Drop,
                ..Rule::default()
            },
        ];
        let c = |p: u64| Counts {
            packets: p,
            bytes: p * 100,
        };
        s.counters
            .rules
            .insert("INPUT".into(), vec![c(ssh), c(udp)]);
        s.counters.policy[0] = c(policy);
        s
    }

    #[test]
    fn rates_are_deltas_per_second_sorted_highest_first() {
        let (a, b) = (snapshot(10, 100, 5), snapshot(30, 110, 5));
        let rows = rates(Some(&a), &b, 2.0, Sort::Packets);
        let got: Vec<(&str, Option<f64>)> =
            rows.iter().map(|r| (r.place.as_str(), r.pps)).collect();
        assert_eq!(
            &got[..3],
            [
                ("INPUT:1", Some(10.0)),
                ("INPUT:2", Some(5.0)),
                ("INPUT:policy", Some(0.0))
            ]
        );
        // A changed rule starts again: no rate for it.
        let mut c = snapshot(1, 110, 5);
        c.state.ruleset.input.rules[0].target = Target::Drop;
        let rows = rates(Some(&b), &c, 1.0, Sort::Bytes);
        let first = rows.iter().find(|r| r.place == "INPUT:1").unwrap();
        assert_eq!(first.pps, None);
        // No earlier sample: no rates at all.
        assert!(
            rates(None, &a, 0.0, Sort::Packets)
                .iter()
                .all(|r| r.pps.is_none())
        );
    }

    #[test]
    fn the_view_fits_80_by_24() {
        let (a, b) = (snapshot(10, 100, 5), snapshot(30, 110, 5));
        let rows = rates(Some(&a), &b, 2.0, Sort::Packets);
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| draw(f, &b, &rows, Sort::Packets)).unwrap();
        let buf = t.backend().buffer().clone();
        let line = |y: u16| -> String {
            (0..80)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        };
        assert!(line(0).starts_with("fw top: sorted by packets/s; p packets, b bytes, q quit"));
        assert!(line(1).starts_with("generation 4  conntrack 12/65536  dropped before rules 0"));
        assert!(
            line(2).starts_with("pkts/s  bytes/s packets where"),
            "{}",
            line(2)
        );
        let first = line(3);
        assert!(
            first.starts_with("10      1000    30      INPUT:1        -A INPUT -p tcp"),
            "{first}"
        );
        assert!(line(4).contains("INPUT:2"), "{}", line(4));
    }

    #[test]
    fn arguments() {
        let a = |v: &[&str]| parse(&v.iter().map(ToString::to_string).collect::<Vec<_>>());
        assert_eq!(a(&[]).unwrap(), Sort::Packets);
        assert_eq!(a(&["--sort", "bytes"]).unwrap(), Sort::Bytes);
        assert_eq!(
            a(&["--sort", "pkts"]).unwrap_err().to_string(),
            "top: --sort: `pkts' is not packets or bytes"
        );
        assert_eq!(
            a(&["--sort"]).unwrap_err().to_string(),
            "top: --sort needs a value"
        );
        assert_eq!(a(&["-x"]).unwrap_err().exit_code(), 2);
    }
}
