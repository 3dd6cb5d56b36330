//! `fw report --plot out.png`: samples the counters once a second for a
//! window and draws the busiest rules' and policies' packet rates over it
//! as a PNG line chart (plotters), for people who would rather look than
//! read; the same figures are printed as text.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use plotters::prelude::*;

use crate::{
    exec::{self, ExecError, Snapshot},
    top::{Sort, rates},
};

/// The TrueType font the chart's text is drawn with (Debian's
/// fonts-dejavu-core; plotters' pure-Rust renderer reads it).
pub const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// The chart's size, pixels.
pub const SIZE: (u32, u32) = (1000, 560);

/// `fw report`'s usage.
pub const USAGE: &str = "\
Usage: fw report --plot FILE.png [--seconds N] [--top K]
Samples the counters every second for N seconds (default 10, 1 to 3600)
and draws the packets per second of the K busiest rules and policies
(default 8, 1 to 20) into FILE.png; prints each one's packets and bytes
in the window.
";

/// Errors of `fw report`.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A bad command line (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// Reading the firewall failed, as an fw command reports it.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// fw has no programs in this namespace: nothing to sample.
    #[error("fw is not loaded in this network namespace")]
    NotLoaded,
    /// The font could not be read.
    #[error("{FONT}: {0} (install fonts-dejavu-core)")]
    Font(std::io::Error),
    /// The chart could not be drawn or written.
    #[error("{path}: {message}")]
    Draw {
        /// The PNG file.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
}

impl ReportError {
    /// The iptables-style exit status: 2 for a bad command line, the
    /// command's own for [`ReportError::Exec`], 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ReportError::Usage(_) => 2,
            ReportError::Exec(e) => e.exit_code(),
            ReportError::NotLoaded | ReportError::Font(_) | ReportError::Draw { .. } => 1,
        }
    }
}

/// `fw report`'s options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The PNG to write.
    pub plot: PathBuf,
    /// The window, seconds.
    pub seconds: u32,
    /// How many rules and policies are drawn.
    pub top: usize,
}

/// Parses the arguments after `report`.
///
/// # Errors
/// [`ReportError::Usage`] naming the argument.
pub fn parse(args: &[String]) -> Result<Options, ReportError> {
    let usage = |m: String| ReportError::Usage(format!("report: {m}"));
    let (mut plot, mut seconds, mut top) = (None, 10, 8);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| usage(format!("{a} needs a value")))
        };
        match a.as_str() {
            "--plot" => plot = Some(PathBuf::from(value()?)),
            "--seconds" => {
                let v = value()?;
                seconds = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=3600).contains(n))
                    .ok_or_else(|| usage(format!("--seconds: `{v}' is not 1 to 3600")))?;
            }
            "--top" => {
                let v = value()?;
                top = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=20).contains(n))
                    .ok_or_else(|| usage(format!("--top: `{v}' is not 1 to 20")))?;
            }
            other => return Err(usage(format!("unknown argument `{other}'"))),
        }
    }
    let plot: PathBuf = plot.ok_or_else(|| usage("--plot FILE.png is needed".into()))?;
    if !plot
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(usage(format!(
            "--plot: `{}' does not end in .png (the chart is a PNG image)",
            plot.display()
        )));
    }
    Ok(Options { plot, seconds, top })
}

/// One line of the chart: a rule or policy and its rate at each second.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// `INPUT:3` or `INPUT:policy`.
    pub place: String,
    /// The rule as `fw -S` prints it.
    pub rule: String,
    /// Packets per second over each second of the window (0 where the
    /// rule was new or changed).
    pub pps: Vec<f64>,
    /// Packets and bytes counted in the window.
    pub packets: u64,
    /// Bytes counted in the window.
    pub bytes: u64,
}

/// The `top` busiest series of `samples` (snapshots a second apart, with
/// the instants they were read at), by packets in the window; ties in
/// ruleset order.
pub fn series(samples: &[(Instant, Snapshot)], top: usize) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::new();
    for pair in samples.windows(2) {
        let ((t0, s0), (t1, s1)) = (&pair[0], &pair[1]);
        let secs = t1.duration_since(*t0).as_secs_f64();
        let step = rates(Some(s0), s1, secs, Sort::Packets);
        for r in step {
            let i = match all
                .iter()
                .position(|s| s.place == r.place && s.rule == r.rule)
            {
                Some(i) => i,
                None => {
                    all.push(Series {
                        place: r.place.clone(),
                        rule: r.rule.clone(),
                        pps: Vec::new(),
                        packets: 0,
                        bytes: 0,
                    });
                    all.len() - 1
                }
            };
            let s = &mut all[i];
            s.pps.push(r.pps.unwrap_or(0.0));
            s.packets += r.pps.map_or(0, |p| (p * secs).round() as u64);
            s.bytes += r.bps.map_or(0, |b| (b * secs).round() as u64);
        }
    }
    // Stable: equal counts keep the ruleset's order.
    all.sort_by_key(|s| std::cmp::Reverse(s.packets));
    all.truncate(top);
    all
}

/// Draws `lines` over `seconds` into `path`.
///
/// # Errors
/// [`ReportError::Font`] without the font; [`ReportError::Draw`] when the
/// PNG cannot be drawn or written.
pub fn draw(path: &Path, lines: &[Series], seconds: u32) -> Result<(), ReportError> {
    let font = std::fs::read(FONT).map_err(ReportError::Font)?;
    // plotters keeps registered fonts for the life of the process.
    plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(font.into()))
        .map_err(|_| ReportError::Font(std::io::Error::other("not a usable font")))?;
    let err = |e: &dyn std::fmt::Display| ReportError::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let peak = lines
        .iter()
        .flat_map(|s| s.pps.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "fw: packets per second, busiest {} rules and policies",
                lines.len()
            ),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..f64::from(seconds), 0.0..peak * 1.1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("packets/s")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in lines.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let points = s.pps.iter().enumerate().map(|(t, &p)| (t as f64 + 1.0, p));
        let label = format!("{} {}", s.place, s.rule);
        let label: String = label.chars().take(70).collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Samples for `opts.seconds`, draws the chart, and returns the text
/// summary (one line per series drawn).
///
/// # Errors
/// Missing privileges, fw not loaded ([`ExecError`]), the font or the
/// file ([`ReportError`]).
pub fn run(opts: &Options) -> Result<String, ReportError> {
    exec::check_privileges()?;
    // The font and the file are checked before the window, not after it.
    std::fs::metadata(FONT).map_err(ReportError::Font)?;
    let existed = opts.plot.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&opts.plot)
        .map_err(|e| ReportError::Draw {
            path: opts.plot.clone(),
            message: e.to_string(),
        })?;
    let result = sample_and_draw(opts);
    if result.is_err() && !existed {
        let _ = std::fs::remove_file(&opts.plot);
    }
    result
}

/// [`run`] once the file is known to be writable.
fn sample_and_draw(opts: &Options) -> Result<String, ReportError> {
    let start = Instant::now();
    let mut samples = vec![(start, exec::snapshot()?)];
    if !samples[0].1.loaded {
        return Err(ReportError::NotLoaded);
    }
    for i in 1..=opts.seconds {
        let at = start + Duration::from_secs(u64::from(i));
        if let Some(left) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(left);
        }
        samples.push((Instant::now(), exec::snapshot()?));
    }
    let lines = series(&samples, opts.top);
    draw(&opts.plot, &lines, opts.seconds)?;
    let mut out = String::new();
    for s in &lines {
        let _ = writeln!(
            out,
            "{:<15} {:>10} packets {:>12} bytes  {}",
            s.place, s.packets, s.bytes, s.rule
        );
    }
    let _ = writeln!(
        out,
        "{} seconds; the chart is in {}",
        opts.seconds,
        opts.plot.display()
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        model::{Rule, Target},
        render::Counts,
    };

    fn snap(a: u64, b: u64) -> Snapshot {
        let mut s = Snapshot {
            loaded: true,
            ..Snapshot::default()
        };
        s.state.ruleset.input.rules = vec![
            Rule {
                target: Target::Accept,
                ..Rule::default()
            },
            Rule {
                target: Target::Drop,
                ..Rule::default()
            },
        ];
        let c = |p| Counts {
            packets: p,
            bytes: p * 50,
        };
        s.counters.rules.insert("INPUT".into(), vec![c(a), c(b)]);
        s
    }

    #[test]
    fn series_add_up_the_window_busiest_first() {
        let t = Instant::now();
        let samples = vec![
            (t, snap(0, 10)),
            (t + Duration::from_secs(1), snap(5, 10)),
            (t + Duration::from_secs(2), snap(8, 12)),
        ];
        let s = series(&samples, 2);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].place.as_str(), s[0].packets, s[0].bytes),
            ("INPUT:1", 8, 400)
        );
        assert_eq!(s[0].pps, [5.0, 3.0]);
        assert_eq!((s[1].place.as_str(), s[1].packets), ("INPUT:2", 2));
    }

    #[test]
    fn the_chart_is_a_png_of_its_size() {
        if std::fs::metadata(FONT).is_err() {
            // `cargo xtask setup` installs it; without it `draw` says so.
            assert!(matches!(
                draw(Path::new("/nonexistent/x.png"), &[], 3),
                Err(ReportError::Font(_))
            ));
            return;
        }
        let path = std::env::temp_dir().join(format!("fw-report-{}.png", std::process::id()));
        let t = Instant::now();
        let samples: Vec<_> = (0..4)
            .map(|i| (t + Duration::from_secs(i), snap(i * 3, i)))
            .collect();
        draw(&path, &series(&samples, 8), 3).unwrap();
        let png = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        let (w, h) = (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap()),
        );
        assert_eq!((w, h), SIZE);
    }

    #[test]
    fn arguments() {
        let a = |v: &[&str]| parse(&v.iter().map(ToString::to_string).collect::<Vec<_>>());
        assert_eq!(
            a(&["--plot", "x.png", "--seconds", "3", "--top", "2"]).unwrap(),
            Options {
                plot: "x.png".into(),
                seconds: 3,
                top: 2
            }
        );
        for (args, msg) in [
            (&[][..], "report: --plot FILE.png is needed"),
            (&["--plot"][..], "report: --plot needs a value"),
            (
                &["--plot", "x", "--seconds", "0"][..],
                "report: --seconds: `0' is not 1 to 3600",
            ),
            (
                &["--plot", "x", "--top", "99"][..],
                "report: --top: `99' is not 1 to 20",
            ),
            (&["--plot", "x", "-v"][..], "report: unknown argument `-v'"),
            (
                &["--plot", "rates.txt"][..],
                "report: --plot: `rates.txt' does not end in .png (the chart is a PNG image)",
            ),
        ] {
            let e = a(args).unwrap_err();
            assert_eq!((e.to_string(), e.exit_code()), (msg.to_string(), 2));
        }
    }
}
