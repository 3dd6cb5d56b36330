//! `bench-rate.png`: packets handled per second against rule count, one
//! line per peer, drawn with plotters. Text needs a TrueType font, which
//! plotters' pure-Rust renderer reads from Debian's fonts-dejavu-core.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use plotters::prelude::*;

use super::{
    peers::Peer,
    report::Results,
    rules::{Family, Flows},
};

/// The font the plot's text is drawn with.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// One colour per peer, in [`Peer::ALL`] order.
const COLOURS: [RGBColor; 6] = [
    RGBColor(120, 120, 120),
    RGBColor(150, 150, 220),
    RGBColor(230, 120, 30),
    RGBColor(200, 30, 30),
    RGBColor(30, 140, 60),
    RGBColor(20, 60, 200),
];

/// fw's line on ESTABLISHED traffic.
const ESTABLISHED_COLOUR: RGBColor = RGBColor(140, 40, 170);

/// "1k" for 1,000 and so on.
fn rules_label(n: u32) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// Draws the plot into `path` (PNG, 1000 × 620 pixels).
///
/// # Errors
/// When the font cannot be read or the image cannot be written.
pub fn draw(path: &Path, r: &Results) -> anyhow::Result<()> {
    let font = std::fs::read(FONT).with_context(|| format!("read {FONT} (fonts-dejavu-core)"))?;
    // plotters keeps registered fonts for the life of the process.
    plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(font.into()))
        .map_err(|_| anyhow!("{FONT} is not a usable font"))?;
    let ns = &r.plan.ns;
    let rates: Vec<f64> = r
        .rates
        .iter()
        .filter(|x| x.family == Family::V4)
        .map(|x| x.rate.pps)
        .chain(r.established.iter().map(|(_, x, _)| x.pps))
        .filter(|&p| p > 0.0)
        .collect();
    if ns.is_empty() || rates.is_empty() {
        return Ok(());
    }
    // Decades around the data: the y axis is logarithmic so that ratios
    // read as distances.
    let lo = rates.iter().copied().fold(f64::MAX, f64::min);
    let hi = rates.iter().copied().fold(0.0, f64::max);
    let (ymin, ymax) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    let last = ns.len() as f64 - 1.0;

    let root = BitMapBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Packets handled per second vs rules before the matching DROP \
             (solid: 1,024 flows, dashed: 16 M flows)",
            ("sans-serif", 20),
        )
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.25..last + 0.25, (ymin..ymax).log_scale())?;
    let label_of = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < ns.len() {
            rules_label(ns[i as usize])
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(ns.len().max(2))
        .x_label_formatter(&label_of)
        .y_label_formatter(&|y| {
            if *y >= 1e6 {
                format!("{:.0}M", y / 1e6)
            } else if *y >= 1e3 {
                format!("{:.0}k", y / 1e3)
            } else {
                format!("{y:.0}")
            }
        })
        .x_desc("N: non-matching rules before the DROP rule")
        .y_desc("packets per second (log scale)")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for (peer, colour) in Peer::ALL.into_iter().zip(COLOURS) {
        let width = if peer == Peer::Fw { 4 } else { 2 };
        for flows in Flows::ALL {
            let points: Vec<(f64, f64)> = ns
                .iter()
                .enumerate()
                .filter_map(|(i, &n)| Some((i as f64, r.rate(Family::V4, n, peer, flows)?)))
                .filter(|&(_, p)| p > 0.0)
                .collect();
            if points.is_empty() {
                continue;
            }
            let style = colour.stroke_width(width);
            if flows == Flows::Ports {
                chart
                    .draw_series(LineSeries::new(points.clone(), style))?
                    .label(peer.label())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            } else {
                chart.draw_series(DashedLineSeries::new(points.clone(), 8, 6, style))?;
            }
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
        }
    }
    // fw on ESTABLISHED flows through the fast path: its own colour.
    let points: Vec<(f64, f64)> = ns
        .iter()
        .enumerate()
        .filter_map(|(i, &n)| Some((i as f64, r.established_rate(n)?)))
        .filter(|&(_, p)| p > 0.0)
        .collect();
    if !points.is_empty() {
        let colour = ESTABLISHED_COLOUR;
        let style = colour.stroke_width(3);
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label("fw, ESTABLISHED (fast path)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
