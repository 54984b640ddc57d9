//! Fan charts as hand-written SVG: a p10-p90 band and the p50 line over the steps, with axes and
//! ticks. Text is left to the viewer's sans-serif font, so no font files are needed.

use std::fmt::Write;

use crate::aggregate::Band;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;
/// Most points drawn per line; longer series are thinned evenly (percentiles, not averages).
const MAX_POINTS: usize = 400;

/// An SVG fan chart of `bands` (one per step) titled `title`; `markers` are steps to flag with a
/// vertical dashed line and a label (scheduled events).
pub fn fan_chart(title: &str, bands: &[Band], markers: &[(u32, String)]) -> String {
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
    let (y_min, y_max, step) = nice_range(lo, hi);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: f64| LEFT + plot_w * t / (n.saturating_sub(1).max(1)) as f64;
    let y = |v: f64| {
        let v = if v.is_finite() { v } else { y_min };
        TOP + plot_h * (1.0 - (v - y_min) / (y_max - y_min))
    };
    let stride = n.div_ceil(MAX_POINTS).max(1);
    let mut idx: Vec<usize> = (0..n).step_by(stride).collect();
    if idx.last() != Some(&(n - 1)) {
        idx.push(n - 1);
    }
    let idx: Vec<usize> = idx.into_iter().filter(|i| *i < bands.len()).collect();

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
    // Horizontal grid and y ticks.
    let mut v = y_min;
    while v <= y_max + step * 1e-9 {
        let py = y(v);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            format_tick(v, step)
        );
        v += step;
    }
    // X ticks: about six, on round step numbers.
    let x_step = nice_step((n.max(2) - 1) as f64 / 6.0).max(1.0);
    let mut t = 0.0;
    while t <= (n - 1) as f64 + 1e-9 {
        let px = x(t);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#999"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 4.0,
            TOP + plot_h + 16.0,
            t as u64
        );
        t += x_step;
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">epoch</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 6.0
    );
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
    let column = plot_w / idx.len().max(1) as f64;
    for i in &idx {
        let b = &bands[*i];
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="transparent"><title>epoch {i}: median {}, p10 {}, p90 {}</title></rect>"##,
            x(*i as f64) - column / 2.0,
            column,
            hover_value(b.p50),
            hover_value(b.p10),
            hover_value(b.p90)
        );
    }
    for (step, label) in markers {
        if (*step as usize) < n {
            let px = x(f64::from(*step));
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#c0392b">{}</text>"##,
                TOP + plot_h,
                px + 3.0,
                TOP + 10.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/><text x="{:.1}" y="20" text-anchor="end" fill="#555">median, p10-p90 band</text></svg>"##,
        WIDTH - RIGHT
    );
    svg
}

/// A value for a tooltip: four significant digits, thousands in full.
fn hover_value(v: f64) -> String {
    if !v.is_finite() {
        return "none".into();
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

/// A tick label: k/M/B suffixes for large values, enough decimals for small steps.
fn format_tick(v: f64, step: f64) -> String {
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
    format!("{scaled:.decimals$}{suffix}")
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
        assert_eq!(format_tick(25_000.0, 5_000.0), "25k");
        assert_eq!(format_tick(0.25, 0.05), "0.25");
        assert_eq!(format_tick(2_000_000.0, 500_000.0), "2.0M");
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
        let svg = fan_chart("Active <suppliers>", &bands, &[(20, "halving".into())]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<polygon") && svg.contains("<polyline"));
        assert!(svg.contains("Active &lt;suppliers&gt;") && svg.contains(">halving<"));
        // Every drawn epoch has its values on hover.
        assert!(
            svg.contains("<title>epoch 10: median 15, p10 10, p90 20</title>"),
            "{svg}"
        );
        // A flat or empty series still yields a drawable axis.
        assert!(fan_chart("flat", &[Band::default(); 3], &[]).contains("<polyline"));
        assert!(fan_chart("none", &[], &[]).ends_with("</svg>"));
    }
}
