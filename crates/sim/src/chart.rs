//! Fan charts as hand-written SVG: a p10-p90 band and the p50 line over the steps, with axes and
//! ticks. Text is left to the viewer's sans-serif font, so no font files are needed.

use std::fmt::Write;

use crate::aggregate::Band;
use crate::kpi::Unit;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;
/// Most points drawn per line; longer series are thinned evenly (percentiles, not averages).
const MAX_POINTS: usize = 400;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;

/// The plot area of a chart over `n` epochs: where an epoch and a value are drawn, and the
/// grid, ticks and frame around them (shared by the fan and comparison charts).
struct Axes {
    n: usize,
    y_min: f64,
    y_max: f64,
    /// Between y ticks.
    step: f64,
}

impl Axes {
    /// Axes over `n` epochs with a round y range covering `[lo, hi]`.
    fn new(n: usize, lo: f64, hi: f64) -> Axes {
        let (y_min, y_max, step) = nice_range(lo, hi);
        Axes {
            n,
            y_min,
            y_max,
            step,
        }
    }

    fn x(&self, t: f64) -> f64 {
        LEFT + PLOT_W * t / (self.n.saturating_sub(1).max(1)) as f64
    }

    /// A value's height; a missing value (not finite) sits on the axis.
    fn y(&self, v: f64) -> f64 {
        let v = if v.is_finite() { v } else { self.y_min };
        TOP + PLOT_H * (1.0 - (v - self.y_min) / (self.y_max - self.y_min))
    }

    /// The horizontal grid with y ticks in `unit`, about six x ticks on round epochs, the
    /// `epoch` label and the plot's frame.
    fn write(&self, svg: &mut String, unit: Unit) {
        let mut v = self.y_min;
        while v <= self.y_max + self.step * 1e-9 {
            let py = self.y(v);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                py + 4.0,
                format_tick(v, self.step, unit)
            );
            v += self.step;
        }
        let last = (self.n.max(1) - 1) as f64;
        let x_step = nice_step((self.n.max(2) - 1) as f64 / 6.0).max(1.0);
        let mut t = 0.0;
        while t <= last + 1e-9 {
            let px = self.x(t);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#999"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
                TOP + PLOT_H,
                TOP + PLOT_H + 4.0,
                TOP + PLOT_H + 16.0,
                t as u64
            );
            t += x_step;
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">epoch</text><rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#999"/>"##,
            LEFT + PLOT_W / 2.0,
            HEIGHT - 6.0
        );
    }
}

/// The points drawn of a series of `len`: every `stride`-th, and the last.
fn drawn(len: usize, stride: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..len).step_by(stride).collect();
    if len > 1 && idx.last() != Some(&(len - 1)) {
        idx.push(len - 1);
    }
    idx
}

/// An SVG fan chart of `bands` (one per step) titled `title`, values written in `unit`;
/// `markers` are steps to flag with a vertical dashed line and a label (scheduled events). The
/// last epoch's median and band are written above the plot, so the chart reads without hovering.
pub fn fan_chart(title: &str, unit: Unit, bands: &[Band], markers: &[(u32, String)]) -> String {
    let n = bands.len().max(1);
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    let lo = bands
        .iter()
        .filter_map(|b| finite(b.p10))
        .fold(f64::INFINITY, f64::min);
    let hi = bands
        .iter()
        .filter_map(|b| finite(b.p90))
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        // Start at zero unless the series moves within a narrow band far from it (total
        // supply), where a zero baseline would flatten the shape the chart is for.
        let floor = if lo > 0.0 && hi - lo < 0.5 * hi {
            lo
        } else {
            lo.min(0.0)
        };
        (floor.min(hi), hi.max(lo))
    } else {
        (0.0, 1.0)
    };
    let axes = Axes::new(n, lo, hi);
    let (x, y) = (|t: f64| axes.x(t), |v: f64| axes.y(v));
    let idx = drawn(bands.len(), n.div_ceil(MAX_POINTS).max(1));

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="11">"##
    );
    let _ = write!(
        svg,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/><text x="{LEFT}" y="20" font-size="14" font-weight="bold" fill="#222">{}</text>"##,
        escape(title)
    );
    axes.write(&mut svg, unit);
    // Band: p90 left to right, then p10 right to left.
    let mut band = String::new();
    for i in &idx {
        let _ = write!(band, "{:.1},{:.1} ", x(*i as f64), y(bands[*i].p90));
    }
    for i in idx.iter().rev() {
        let _ = write!(band, "{:.1},{:.1} ", x(*i as f64), y(bands[*i].p10));
    }
    let _ = write!(
        svg,
        r##"<polygon points="{}" fill="#4a7fc1" fill-opacity="0.25" stroke="none"/>"##,
        band.trim_end()
    );
    let mut line = String::new();
    for i in &idx {
        let _ = write!(line, "{:.1},{:.1} ", x(*i as f64), y(bands[*i].p50));
    }
    let _ = write!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1f4e8c" stroke-width="2"/>"##,
        line.trim_end()
    );
    // Values on hover: a transparent column per drawn epoch with the median and band as its
    // tooltip (a browser shows an SVG <title> on hover; the chart stays one static file).
    let column = PLOT_W / idx.len().max(1) as f64;
    for i in &idx {
        let b = &bands[*i];
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{PLOT_H}" fill="transparent"><title>epoch {i}: median {}, p10 {}, p90 {}</title></rect>"##,
            x(*i as f64) - column / 2.0,
            column,
            hover_value(b.p50, unit),
            hover_value(b.p10, unit),
            hover_value(b.p90, unit)
        );
    }
    for (step, label) in markers {
        if (*step as usize) < n {
            let px = x(f64::from(*step));
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#c0392b">{}</text>"##,
                TOP + PLOT_H,
                px + 3.0,
                TOP + 10.0,
                escape(label)
            );
        }
    }
    let end = match bands.last() {
        Some(b) => format!(
            "epoch {}: {} ({} to {})",
            bands.len() - 1,
            format_value(b.p50, unit),
            format_value(b.p10, unit),
            format_value(b.p90, unit)
        ),
        None => "no data".into(),
    };
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="20" text-anchor="end" fill="#1f4e8c" font-weight="bold">{}</text><text x="6" y="{:.1}" fill="#777">line: median; band: p10 to p90</text></svg>"##,
        WIDTH - RIGHT,
        escape(&end),
        HEIGHT - 6.0
    );
    svg
}

/// Colours of the series of a comparison chart, in order.
const SERIES: [&str; 8] = [
    "#1f4e8c", "#c0392b", "#27864a", "#8e44ad", "#d68910", "#17808f", "#6d4c41", "#555555",
];

/// An SVG chart comparing several series (one median per step each), with a legend that gives
/// each series' last value in text.
pub fn lines_chart(title: &str, unit: Unit, series: &[(String, Vec<f64>)]) -> String {
    let legend_h = 16.0 * series.len() as f64;
    let height = HEIGHT + legend_h;
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let values = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        (lo.min(0.0), hi.max(lo))
    } else {
        (0.0, 1.0)
    };
    let axes = Axes::new(n, lo, hi);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11"><rect width="{WIDTH}" height="{height}" fill="#ffffff"/><text x="{LEFT}" y="20" font-size="14" font-weight="bold" fill="#222">{}</text><text x="{:.1}" y="20" text-anchor="end" fill="#555">medians</text>"##,
        escape(title),
        WIDTH - RIGHT
    );
    axes.write(&mut svg, unit);
    let stride = n.div_ceil(MAX_POINTS).max(1);
    for (i, (label, values)) in series.iter().enumerate() {
        let colour = SERIES[i % SERIES.len()];
        let mut line = String::new();
        for t in drawn(values.len(), stride) {
            let _ = write!(line, "{:.1},{:.1} ", axes.x(t as f64), axes.y(values[t]));
        }
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"##,
            line.trim_end()
        );
        let ly = HEIGHT + 16.0 * i as f64 + 4.0;
        let last = values.last().copied().unwrap_or(f64::NAN);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}" fill="#222">{}: {} at epoch {}</text>"##,
            ly - 4.0,
            LEFT + 18.0,
            ly - 4.0,
            LEFT + 24.0,
            ly,
            escape(label),
            format_value(last, unit),
            values.len().saturating_sub(1)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// An SVG bar chart of shares (0 to 1) with each bar's percentage written on it.
pub fn share_bars(title: &str, bars: &[(String, f64)]) -> String {
    let n = bars.len().max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM - 14.0;
    let top = bars.iter().map(|(_, v)| *v).fold(0.0f64, f64::max);
    let (_, y_max, _) = nice_range(0.0, top.max(0.01));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="11"><rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/><text x="{LEFT}" y="20" font-size="14" font-weight="bold" fill="#222">{}</text>"##,
        escape(title)
    );
    let slot = plot_w / n;
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = if v.is_finite() {
            plot_h * v / y_max
        } else {
            0.0
        };
        let bx = LEFT + slot * i as f64 + slot * 0.1;
        let by = TOP + 14.0 + plot_h - h;
        let _ = write!(
            svg,
            r##"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{h:.1}" fill="#4a7fc1"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            slot * 0.8,
            bx + slot * 0.4,
            by - 3.0,
            format_value(*v, Unit::Percent),
            bx + slot * 0.4,
            TOP + 14.0 + plot_h + 14.0,
            escape(label)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/></svg>"##,
        TOP + 14.0 + plot_h,
        WIDTH - RIGHT,
        TOP + 14.0 + plot_h
    );
    svg
}

/// A value for people: shares as percentages, dollars with `$`, large numbers with k/M/B.
pub fn format_value(v: f64, unit: Unit) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    match unit {
        Unit::Percent => {
            let p = v * 100.0;
            if p.abs() >= 10.0 || p == 0.0 {
                format!("{p:.0}%")
            } else if p.abs() >= 1.0 {
                format!("{p:.1}%")
            } else {
                format!("{p:.2}%")
            }
        }
        Unit::Usd => {
            let sign = if v < 0.0 { "-" } else { "" };
            format!("{sign}${}", magnitude(v.abs()))
        }
        Unit::Count if v.abs() >= 100.0 && v.abs() < 1e6 => grouped(v.round()),
        Unit::Tokens | Unit::Count => magnitude_signed(v),
        Unit::Ratio => {
            if v.abs() >= 100.0 {
                magnitude_signed(v)
            } else {
                format!("{v:.2}")
            }
        }
    }
}

/// A whole number with thousands separated by commas: 12,345.
fn grouped(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn magnitude_signed(v: f64) -> String {
    if v < 0.0 {
        format!("-{}", magnitude(-v))
    } else {
        magnitude(v)
    }
}

/// A non-negative number with three significant digits and a k/M/B suffix.
fn magnitude(a: f64) -> String {
    let (scaled, suffix) = if a >= 1e9 {
        (a / 1e9, "B")
    } else if a >= 1e6 {
        (a / 1e6, "M")
    } else if a >= 1e3 {
        (a / 1e3, "k")
    } else {
        (a, "")
    };
    let digits = if scaled >= 100.0 || (suffix.is_empty() && scaled == scaled.trunc()) {
        0
    } else if scaled >= 10.0 {
        1
    } else if scaled >= 0.01 || scaled == 0.0 {
        2
    } else {
        4
    };
    format!("{scaled:.digits$}{suffix}")
}

/// A value for a tooltip: four significant digits, thousands in full.
fn hover_value(v: f64, unit: Unit) -> String {
    if !v.is_finite() {
        return "none".into();
    }
    if unit == Unit::Percent {
        return format!("{:.2}%", v * 100.0);
    }
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// A round axis range covering [lo, hi] and its tick step (1, 2 or 5 times a power of ten).
fn nice_range(lo: f64, hi: f64) -> (f64, f64, f64) {
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    let step = nice_step(span / 5.0);
    let y_min = (lo / step).floor() * step;
    let mut y_max = (hi / step).ceil() * step;
    if y_max <= y_min {
        y_max = y_min + step;
    }
    (y_min, y_max, step)
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let f = raw / power;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A tick label: k/M/B suffixes for large values, enough decimals for small steps, shares as
/// percentages.
fn format_tick(v: f64, step: f64, unit: Unit) -> String {
    if unit == Unit::Percent {
        let s = step * 100.0;
        let decimals = if s >= 1.0 {
            0
        } else {
            (-s.log10().floor()) as usize
        };
        return format!("{:.decimals$}%", v * 100.0);
    }
    let a = v.abs();
    let (scaled, suffix, s) = if a >= 1e9 {
        (v / 1e9, "B", step / 1e9)
    } else if a >= 1e6 {
        (v / 1e6, "M", step / 1e6)
    } else if a >= 1e4 {
        (v / 1e3, "k", step / 1e3)
    } else {
        (v, "", step)
    };
    let decimals = if s >= 1.0 {
        0
    } else {
        (-s.log10().floor()) as usize
    };
    let text = format!("{scaled:.decimals$}{suffix}");
    if unit == Unit::Usd {
        format!("${text}")
    } else {
        text
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_range(0.0, 9.3), (0.0, 10.0, 2.0));
        assert_eq!(nice_range(0.13, 0.87).2, 0.2);
        assert_eq!(format_tick(25_000.0, 5_000.0, Unit::Count), "25k");
        assert_eq!(format_tick(0.25, 0.05, Unit::Ratio), "0.25");
        assert_eq!(format_tick(2_000_000.0, 500_000.0, Unit::Tokens), "2.0M");
        assert_eq!(format_tick(0.25, 0.05, Unit::Percent), "25%");
        assert_eq!(format_tick(0.025, 0.005, Unit::Percent), "2.5%");
        assert_eq!(format_tick(2_000_000.0, 500_000.0, Unit::Usd), "$2.0M");
    }

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(format_value(0.253, Unit::Percent), "25%");
        assert_eq!(format_value(0.0253, Unit::Percent), "2.5%");
        assert_eq!(format_value(-0.4, Unit::Percent), "-40%");
        assert_eq!(format_value(1_234_567.0, Unit::Usd), "$1.23M");
        assert_eq!(format_value(-12.5, Unit::Usd), "-$12.5");
        assert_eq!(format_value(0.004, Unit::Usd), "$0.0040");
        assert_eq!(format_value(98_765.0, Unit::Tokens), "98.8k");
        assert_eq!(format_value(3_000.0, Unit::Count), "3,000");
        assert_eq!(format_value(123_456.4, Unit::Count), "123,456");
        assert_eq!(format_value(2_500_000.0, Unit::Count), "2.50M");
        assert_eq!(format_value(42.0, Unit::Count), "42");
        assert_eq!(format_value(0.42, Unit::Ratio), "0.42");
        assert_eq!(format_value(f64::NAN, Unit::Usd), "-");
    }

    #[test]
    fn draws_band_line_and_markers_as_valid_markup() {
        let bands: Vec<Band> = (0..50)
            .map(|t| Band {
                p10: f64::from(t),
                p50: f64::from(t) * 1.5,
                p90: f64::from(t) * 2.0,
            })
            .collect();
        let svg = fan_chart(
            "Active <suppliers>",
            Unit::Count,
            &bands,
            &[(20, "halving".into())],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<polygon") && svg.contains("<polyline"));
        assert!(svg.contains("Active &lt;suppliers&gt;") && svg.contains(">halving<"));
        // Every drawn epoch has its values on hover.
        assert!(
            svg.contains("<title>epoch 10: median 15, p10 10, p90 20</title>"),
            "{svg}"
        );
        // The last epoch's values are written, not only on hover.
        assert!(svg.contains(">epoch 49: 73.5 (49 to 98)<"), "{svg}");
        // A flat or empty series still yields a drawable axis.
        assert!(fan_chart("flat", Unit::Count, &[Band::default(); 3], &[]).contains("<polyline"));
        assert!(fan_chart("none", Unit::Count, &[], &[]).ends_with("</svg>"));
    }

    #[test]
    fn comparison_and_bar_charts_write_their_values() {
        let svg = lines_chart(
            "Token price",
            Unit::Usd,
            &[
                ("base".into(), vec![1.0, 2.0]),
                ("crash".into(), vec![1.0, 0.5]),
            ],
        );
        assert!(
            svg.contains(">base: $2 at epoch 1<") && svg.contains(">crash: $0.50 at epoch 1<"),
            "{svg}"
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        let bars = share_bars("Payback", &[("0-9".into(), 0.25), ("10-19".into(), 0.5)]);
        assert!(bars.contains(">25%<") && bars.contains(">50%<") && bars.contains(">10-19<"));
    }
}
