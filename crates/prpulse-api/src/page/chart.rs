//! Line charts as inline SVG: one per span, p50 and p90 by week.

use std::fmt::Write;

use prpulse_domain::rollup::Span;

use super::render::{duration, escape};
use crate::summary::GroupOut;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// The chart of `span` over `weeks` (one group per week, in order).
pub fn weekly(span: Span, title: &str, weeks: &[GroupOut]) -> String {
    let series: [(&str, &str, Vec<Option<f64>>); 2] = [
        (
            "p50",
            "#2563eb",
            weeks.iter().map(|w| w.span(span).p50).collect(),
        ),
        (
            "p90",
            "#dc2626",
            weeks.iter().map(|w| w.span(span).p90).collect(),
        ),
    ];
    let top = series
        .iter()
        .flat_map(|(_, _, values)| values.iter().flatten())
        .fold(0.0_f64, |a, b| a.max(*b));
    let top = if top > 0.0 { top * 1.1 } else { 3600.0 };
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let x = |index: usize| {
        if weeks.len() <= 1 {
            LEFT + plot_width / 2.0
        } else {
            LEFT + plot_width * index as f64 / (weeks.len() - 1) as f64
        }
    };
    let y = |value: f64| TOP + plot_height * (1.0 - value / top);

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}: weekly p50 and p90" data-span="{column}">"#,
        column = span.column()
    );
    // Gridlines at quarters of the scale, labelled in hours or days.
    for quarter in 0..=4 {
        let value = top * f64::from(quarter) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y0:.1}" y2="{y0:.1}" stroke="#e5e7eb"/><text x="{lx}" y="{ly:.1}" font-size="13" text-anchor="end" fill="#6b7280">{label}</text>"##,
            x2 = WIDTH - RIGHT,
            y0 = y(value),
            lx = LEFT - 6.0,
            ly = y(value) + 4.0,
            label = duration(Some(value)),
        );
    }
    let label_every = weeks.len().div_ceil(6).max(1);
    for (index, week) in weeks.iter().enumerate() {
        if index % label_every == 0 {
            let label = week
                .bucket
                .map(|b| b.format("%d %b").to_string())
                .unwrap_or_default();
            let _ = write!(
                svg,
                r##"<text x="{x:.1}" y="{ly}" font-size="13" text-anchor="middle" fill="#6b7280">{label}</text>"##,
                x = x(index),
                ly = HEIGHT - 8.0,
            );
        }
    }
    for (name, colour, values) in &series {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(index, value)| value.map(|v| format!("{:.1},{:.1}", x(index), y(v))))
            .collect();
        if points.len() > 1 {
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                points.join(" ")
            );
        }
        for (index, value) in values.iter().enumerate() {
            let Some(value) = value else { continue };
            let bucket = weeks[index]
                .bucket
                .map(|b| b.to_string())
                .unwrap_or_default();
            let _ = write!(
                svg,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="{colour}" data-series="{name}" data-bucket="{bucket}" data-value="{value}"><title>{name} week of {bucket}: {text}</title></circle>"#,
                cx = x(index),
                cy = y(*value),
                text = escape(&duration(Some(*value))),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}
