//! Charts drawn on the server as SVG: no chart library, no script. Each series has a CSS class
//! (`series-0`, `series-1`, …) the stylesheet colours; labels are escaped. Numbers on the axes
//! are formatted for the page's language.

use std::fmt::Write as _;

use crate::format;
use crate::words::Lang;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// Text for SVG: `&`, `<`, `>` and quotes escaped.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The top of the value axis: four whole steps of 1, 2 or 5 times a power of ten (at least 1)
/// that reach `max`, so every guide's value is a round whole number.
fn nice_top(max: f64) -> f64 {
    let quarter = max / 4.0;
    if quarter <= 1.0 {
        return 4.0;
    }
    let power = 10_f64.powf(quarter.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|step| *step >= quarter)
        .unwrap_or(10.0 * power);
    4.0 * step
}

/// The frame, the horizontal guides with their values, and the first and last x labels.
fn frame(svg: &mut String, lang: Lang, top: f64, x_labels: (&str, &str), title: &str) {
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escaped(title)
    );
    for i in 0..=4 {
        let value = top * f64::from(i) / 4.0;
        let y = HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * f64::from(i) / 4.0;
        #[expect(clippy::cast_possible_truncation, reason = "an axis label")]
        let label = format::number(lang, value.round() as i64);
        let _ = write!(
            svg,
            r#"<line class="guide" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escaped(&label)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis" x="{LEFT}" y="{:.1}" text-anchor="start">{}</text><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        HEIGHT - 8.0,
        escaped(x_labels.0),
        WIDTH - RIGHT,
        HEIGHT - 8.0,
        escaped(x_labels.1)
    );
}

/// Lines over days: one polyline per series (`(label, values)`, all of `x_labels`' length).
#[expect(clippy::cast_precision_loss, reason = "positions on a chart")]
pub(crate) fn lines(
    lang: Lang,
    title: &str,
    x_labels: &[String],
    series: &[(&str, Vec<i128>)],
) -> String {
    let max = series
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(0) as f64;
    let top = nice_top(max);
    let mut svg = String::new();
    let first = x_labels.first().map_or("", String::as_str);
    let last = x_labels.last().map_or("", String::as_str);
    frame(&mut svg, lang, top, (first, last), title);
    let n = x_labels.len().max(2) - 1;
    for (index, (_, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let x = LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / n as f64;
                let y =
                    HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (*v as f64 / top).clamp(0.0, 1.0);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series series-{index}" points="{}"/>"#,
            points.join(" ")
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Bars per group (`(group label, values)`), one bar per series side by side.
#[expect(clippy::cast_precision_loss, reason = "positions on a chart")]
pub(crate) fn bars(lang: Lang, title: &str, groups: &[(String, Vec<i128>)]) -> String {
    let max = groups
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(0) as f64;
    let top = nice_top(max);
    let mut svg = String::new();
    frame(&mut svg, lang, top, ("", ""), title);
    let slot = (WIDTH - LEFT - RIGHT) / groups.len().max(1) as f64;
    for (g, (label, values)) in groups.iter().enumerate() {
        let width = slot * 0.7 / values.len().max(1) as f64;
        for (s, value) in values.iter().enumerate() {
            let height = (HEIGHT - TOP - BOTTOM) * (*value as f64 / top).clamp(0.0, 1.0);
            let x = LEFT + slot * g as f64 + slot * 0.15 + width * s as f64;
            let _ = write!(
                svg,
                r#"<rect class="series-fill series-{s}" x="{x:.1}" y="{:.1}" width="{width:.1}" height="{height:.1}"/>"#,
                HEIGHT - BOTTOM - height
            );
        }
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + slot * (g as f64 + 0.5),
            HEIGHT - 8.0,
            escaped(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers_and_labels_are_escaped() {
        for (max, top) in [
            (0.0, 4.0),
            (2.0, 4.0),
            (7.0, 8.0),
            (750.0, 800.0),
            (1_234.0, 2_000.0),
            (4_100.0, 8_000.0),
        ] {
            assert!(
                (nice_top(max) - top).abs() < f64::EPSILON,
                "{max}: {}",
                nice_top(max)
            );
        }
        let svg = bars(Lang::En, "a <b>", &[("x & y".into(), vec![3, 5])]);
        assert!(svg.contains("x &amp; y") && svg.contains("a &lt;b&gt;"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let svg = lines(
            Lang::Fa,
            "t",
            &["a".into(), "b".into(), "c".into()],
            &[("s", vec![0, 5, 10])],
        );
        assert!(svg.contains(">۲۰<") && svg.contains("<polyline"));
    }
}
