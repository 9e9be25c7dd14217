//! A small SVG renderer for the Vega-Lite specs `engine::chart` suggests:
//! bar, line, scatter (`point`) and big number (`text`). It draws only what
//! those specs use (one `x`/`y` or `text` encoding over inline
//! `data.values`), so the web UI and API clients see the same chart from the
//! same spec without a browser-side charting library.
//!
//! Every piece of text from the spec (field names, category labels) is
//! escaped. Colours use `currentColor` and classes, so the page's stylesheet
//! themes an inline chart (dark/light) and a standalone file still reads.

use std::fmt::Write as _;

use serde_json::Value;

use crate::engine::chart::MAX_POINTS;

/// Drawing area (the `viewBox`); the SVG scales to its container.
const W: f64 = 640.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
/// Room for category labels and the x-axis title (more is added below the
/// plot when slanted labels need it).
const BOTTOM: f64 = 72.0;
/// The x axis: the bottom of the plot area.
const PLOT_BOTTOM: f64 = H - BOTTOM;
/// Text size in viewBox units for a chart shown at its viewBox width.
const FONT: f64 = 12.0;
/// Longest x label before it is cut with `…`.
const MAX_LABEL_CHARS: usize = 16;
/// Least slant of x labels that do not fit side by side; steeper (up to
/// upright) when they are many, so neighbours do not touch.
const SLANT_DEG: f64 = 40.0;
const MARK_COLOUR: &str = "#4e79a7";

/// The layout of one drawing. Text is sized in viewBox units for the width
/// the chart is shown at, so it stays about 12 px on a phone (where the
/// 640-unit drawing is shown ~330 px wide) instead of shrinking with it; the
/// left margin follows the text, and the drawing grows below the plot when
/// slanted labels need the room, so they never run into the axis title.
struct Frame {
    font: f64,
    left: f64,
    height: f64,
    rotate: bool,
    /// The slant of rotated labels, in degrees.
    slant: f64,
    /// Label every this many categories (more would touch even upright).
    every: usize,
    label_y: f64,
    title_y: f64,
}

impl Frame {
    /// `shown_px`: the CSS width the client shows the chart at, if known.
    fn new(shown_px: Option<f64>) -> Self {
        let font = shown_px
            .filter(|px| px.is_finite())
            .map_or(FONT, |px| FONT * W / px.clamp(W / 2.0, W));
        Self {
            font,
            left: LEFT * font / FONT,
            height: H,
            rotate: false,
            slant: SLANT_DEG,
            every: 1,
            label_y: PLOT_BOTTOM + 4.0 + font,
            title_y: H - 6.0,
        }
    }

    /// Lay out x labels whose longest has `chars` characters, `slot`
    /// viewBox units apart: slanted when they do not fit side by side.
    fn with_labels(mut self, chars: usize, slot: f64) -> Self {
        let char_w = self.font * 0.6;
        let chars = chars.min(MAX_LABEL_CHARS) as f64;
        self.rotate = chars * char_w + 6.0 > slot;
        // Slanted labels `slot` apart are `slot · sin(slant)` apart across
        // their lines: steepen until that clears a line of text, and beyond
        // upright label only every `every`-th.
        let line = self.font * 1.15;
        self.every = if self.rotate {
            (line / slot.max(0.1)).ceil().max(1.0) as usize
        } else {
            1
        };
        let gap = slot * self.every as f64;
        self.slant = (line / gap)
            .min(1.0)
            .asin()
            .to_degrees()
            .clamp(SLANT_DEG, 90.0)
            .round();
        let drop = if self.rotate {
            chars * char_w * self.slant.to_radians().sin() + self.font
        } else {
            self.font
        };
        self.title_y = (PLOT_BOTTOM + 6.0 + drop + self.font * 1.4).max(H - 6.0);
        self.height = self.title_y + 6.0;
        self
    }

    fn plot_width(&self) -> f64 {
        W - self.left - RIGHT
    }
}

/// Why a spec cannot be drawn; the message is for the API client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ChartError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ChartError> {
    Err(ChartError(msg.into()))
}

/// Escape text for SVG/HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// The numeric value of a cell: numbers, and numeric text (decimals arrive
/// as strings).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A position on a time axis: a year, or days since the common era for
/// `YYYY-MM`, `YYYY-MM-DD` and timestamps starting with a date.
fn time_value(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let date = |t: &str| chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").ok();
    let d = match s.len() {
        4 => return s.parse::<f64>().ok(),
        7 => date(&format!("{s}-01")),
        n if n >= 10 => date(&s[..10]),
        _ => None,
    }?;
    Some(f64::from(chrono::Datelike::num_days_from_ce(&d)))
}

/// A cell as label text.
fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(null)".into(),
        other => other.to_string(),
    }
}

/// A number for humans: thousands separators, at most two decimals, and
/// `k`/`M`/`B` on axes where space is short.
pub fn format_number(x: f64, short: bool) -> String {
    let abs = x.abs();
    if short && abs >= 1e3 {
        for (div, suffix) in [(1e9, "B"), (1e6, "M"), (1e3, "k")] {
            if abs >= div {
                let v = x / div;
                let s = format!("{v:.1}");
                return format!("{}{suffix}", s.trim_end_matches(".0"));
            }
        }
    }
    let rounded = (x * 100.0).round() / 100.0;
    let (int, frac) = if rounded.fract() == 0.0 {
        (format!("{:.0}", rounded.abs()), String::new())
    } else {
        let s = format!("{:.2}", rounded.abs());
        let (i, f) = s.split_once('.').unwrap_or((&s, ""));
        (i.to_string(), format!(".{}", f.trim_end_matches('0')))
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if rounded < 0.0 { "-" } else { "" };
    format!("{sign}{grouped}{frac}")
}

/// Round tick values covering `[lo, hi]`: about `n` steps of 1, 2 or 5 × 10^k
/// (at least 1 when every value is whole: counts have no half ticks).
fn nice_ticks(lo: f64, hi: f64, n: usize, whole: bool) -> Vec<f64> {
    let (lo, hi) = if (hi - lo).abs() < f64::EPSILON {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let step = if whole { step.max(1.0) } else { step };
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let mut ticks = Vec::new();
    // Multiply rather than accumulate, so 0.1 steps do not drift.
    for i in 0..50 {
        let t = start + step * f64::from(i);
        if t > end + step * 1e-9 {
            break;
        }
        ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
    }
    ticks
}

struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span.abs() < f64::EPSILON {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }
}

fn field<'a>(spec: &'a Value, channel: &str) -> Result<&'a str, ChartError> {
    spec["encoding"][channel]["field"].as_str().map_or_else(
        || err(format!("the spec has no `encoding.{channel}.field`")),
        Ok,
    )
}

fn open(f: &Frame, kind: &str, aria: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h:.0}\" class=\"chart chart-{kind}\" \
         role=\"img\" aria-label=\"{a}\" font-family=\"system-ui, sans-serif\" font-size=\"{fs:.1}\" \
         fill=\"currentColor\"><title>{a}</title>",
        h = f.height.ceil(),
        fs = f.font,
        a = escape(aria)
    )
}

/// Horizontal grid lines and labels for the y axis, plus its title.
fn y_axis(out: &mut String, f: &Frame, ticks: &[f64], y: &Scale, title: &str) {
    for t in ticks {
        let py = y.at(*t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x1:.1}\" x2=\"{x2}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"currentColor\" stroke-opacity=\"0.15\"/>\
             <text class=\"tick\" x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text>",
            x1 = f.left,
            x2 = W - RIGHT,
            tx = f.left - 6.0,
            ty = py + f.font / 3.0,
            l = escape(&format_number(*t, true)),
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis-title\" transform=\"translate({tx:.1} {cy}) rotate(-90)\" text-anchor=\"middle\">{t}</text>",
        tx = f.font + 2.0,
        cy = (TOP + PLOT_BOTTOM) / 2.0,
        t = escape(title),
    );
}

fn x_title(out: &mut String, f: &Frame, title: &str) {
    let _ = write!(
        out,
        "<text class=\"axis-title\" x=\"{cx:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{t}</text>\
         <line class=\"axis\" x1=\"{x1:.1}\" x2=\"{x2}\" y1=\"{b}\" y2=\"{b}\" stroke=\"currentColor\" stroke-opacity=\"0.5\"/>",
        cx = (f.left + W - RIGHT) / 2.0,
        y = f.title_y,
        x1 = f.left,
        x2 = W - RIGHT,
        b = PLOT_BOTTOM,
        t = escape(title),
    );
}

/// A label as drawn under the x axis: cut at [`MAX_LABEL_CHARS`].
fn short_label(text: &str) -> String {
    if text.chars().count() > MAX_LABEL_CHARS {
        text.chars()
            .take(MAX_LABEL_CHARS - 1)
            .chain(['…'])
            .collect()
    } else {
        text.to_string()
    }
}

/// The longest of `labels` as drawn, in characters.
fn longest<'a>(labels: impl Iterator<Item = &'a str>) -> usize {
    labels
        .map(|l| short_label(l).chars().count())
        .max()
        .unwrap_or(0)
}

/// A category or time label under the x axis, slanted when they do not fit.
fn x_label(out: &mut String, f: &Frame, x: f64, text: &str) {
    let text = short_label(text);
    let y = f.label_y;
    if f.rotate {
        let _ = write!(
            out,
            "<text class=\"tick\" text-anchor=\"end\" transform=\"translate({x:.1} {y:.1}) rotate(-{s})\">{t}</text>",
            s = f.slant,
            t = escape(&text)
        );
    } else {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}</text>",
            escape(&text)
        );
    }
}

fn domain(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    (lo, hi)
}

fn bar(spec: &Value, values: &[Value], f: Frame) -> Result<String, ChartError> {
    let (xf, yf) = (field(spec, "x")?, field(spec, "y")?);
    let mut points: Vec<(String, f64)> = values
        .iter()
        .filter_map(|r| Some((label(&r[xf]), number(&r[yf])?)))
        .collect();
    match spec["encoding"]["x"]["sort"].as_str() {
        Some("-y") => points.sort_by(|a, b| b.1.total_cmp(&a.1)),
        Some("y") => points.sort_by(|a, b| a.1.total_cmp(&b.1)),
        _ => {}
    }
    let band = f.plot_width() / points.len().max(1) as f64;
    let f = f.with_labels(longest(points.iter().map(|p| p.0.as_str())), band);
    let mut out = open(&f, "bar", &format!("Bar chart of {yf} by {xf}"));
    let (lo, hi) = domain(points.iter().map(|p| p.1), true);
    let ticks = nice_ticks(lo, hi, 5, points.iter().all(|p| p.1.fract() == 0.0));
    let y = Scale {
        d0: *ticks.first().unwrap_or(&lo),
        d1: *ticks.last().unwrap_or(&hi),
        r0: PLOT_BOTTOM,
        r1: TOP,
    };
    y_axis(&mut out, &f, &ticks, &y, yf);
    // A few bars stay slim rather than filling the width.
    let bar_w = (band * 0.8).min(72.0);
    for (i, (name, v)) in points.iter().enumerate() {
        let x = f.left + band * i as f64 + (band - bar_w) / 2.0;
        let (y0, y1) = (y.at(0.0), y.at(*v));
        let _ = write!(
            out,
            "<rect class=\"mark\" x=\"{x:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{MARK_COLOUR}\">\
             <title>{n}: {val}</title></rect>",
            top = y0.min(y1),
            w = bar_w,
            h = (y0 - y1).abs().max(0.5),
            n = escape(name),
            val = escape(&format_number(*v, false)),
        );
        if i % f.every == 0 {
            x_label(&mut out, &f, x + bar_w / 2.0, name);
        }
    }
    x_title(&mut out, &f, xf);
    out.push_str("</svg>");
    Ok(out)
}

fn line(spec: &Value, values: &[Value], f: Frame) -> Result<String, ChartError> {
    let (xf, yf) = (field(spec, "x")?, field(spec, "y")?);
    let mut points: Vec<(f64, String, f64)> = values
        .iter()
        .filter_map(|r| Some((time_value(&r[xf])?, label(&r[xf]), number(&r[yf])?)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    // At most ~8 labels on the time axis, evenly picked.
    let every = points.len().div_ceil(8).max(1);
    let shown = points.len().div_ceil(every).max(1);
    let slot = (f.plot_width() - 24.0) / shown as f64;
    let f = f.with_labels(longest(points.iter().map(|p| p.1.as_str())), slot);
    let mut out = open(&f, "line", &format!("Line chart of {yf} over {xf}"));
    let (ylo, yhi) = domain(points.iter().map(|p| p.2), true);
    let ticks = nice_ticks(ylo, yhi, 5, points.iter().all(|p| p.2.fract() == 0.0));
    let y = Scale {
        d0: *ticks.first().unwrap_or(&ylo),
        d1: *ticks.last().unwrap_or(&yhi),
        r0: PLOT_BOTTOM,
        r1: TOP,
    };
    y_axis(&mut out, &f, &ticks, &y, yf);
    let (xlo, xhi) = domain(points.iter().map(|p| p.0), false);
    let x = Scale {
        d0: xlo,
        d1: xhi,
        r0: f.left + 12.0,
        r1: W - RIGHT - 12.0,
    };
    let path: Vec<String> = points
        .iter()
        .map(|(t, _, v)| format!("{:.1},{:.1}", x.at(*t), y.at(*v)))
        .collect();
    let _ = write!(
        out,
        "<polyline class=\"line\" fill=\"none\" stroke=\"{MARK_COLOUR}\" stroke-width=\"2\" points=\"{}\"/>",
        path.join(" ")
    );
    for (i, (t, name, v)) in points.iter().enumerate() {
        let _ = write!(
            out,
            "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{MARK_COLOUR}\"><title>{}: {}</title></circle>",
            x.at(*t),
            y.at(*v),
            escape(name),
            escape(&format_number(*v, false)),
        );
        if i % every == 0 {
            x_label(&mut out, &f, x.at(*t), name);
        }
    }
    x_title(&mut out, &f, xf);
    out.push_str("</svg>");
    Ok(out)
}

fn scatter(spec: &Value, values: &[Value], f: Frame) -> Result<String, ChartError> {
    let (xf, yf) = (field(spec, "x")?, field(spec, "y")?);
    let points: Vec<(f64, f64)> = values
        .iter()
        .filter_map(|r| Some((number(&r[xf])?, number(&r[yf])?)))
        .collect();
    let (xlo, xhi) = domain(points.iter().map(|p| p.0), false);
    let xt = nice_ticks(xlo, xhi, 6, false);
    let tick_labels: Vec<String> = xt.iter().map(|t| format_number(*t, true)).collect();
    let slot = (f.plot_width() - 16.0) / xt.len().max(1) as f64;
    let f = f.with_labels(longest(tick_labels.iter().map(String::as_str)), slot);
    let mut out = open(&f, "scatter", &format!("Scatter plot of {yf} against {xf}"));
    let (ylo, yhi) = domain(points.iter().map(|p| p.1), false);
    let yt = nice_ticks(ylo, yhi, 5, false);
    let y = Scale {
        d0: *yt.first().unwrap_or(&ylo),
        d1: *yt.last().unwrap_or(&yhi),
        r0: PLOT_BOTTOM,
        r1: TOP,
    };
    y_axis(&mut out, &f, &yt, &y, yf);
    let x = Scale {
        d0: *xt.first().unwrap_or(&xlo),
        d1: *xt.last().unwrap_or(&xhi),
        r0: f.left + 8.0,
        r1: W - RIGHT - 8.0,
    };
    for (t, label) in xt.iter().zip(&tick_labels) {
        x_label(&mut out, &f, x.at(*t), label);
    }
    for (px, py) in &points {
        let _ = write!(
            out,
            "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{MARK_COLOUR}\" fill-opacity=\"0.75\"><title>{}, {}</title></circle>",
            x.at(*px),
            y.at(*py),
            escape(&format_number(*px, false)),
            escape(&format_number(*py, false)),
        );
    }
    x_title(&mut out, &f, xf);
    out.push_str("</svg>");
    Ok(out)
}

fn big_number(spec: &Value, values: &[Value], f: Frame) -> Result<String, ChartError> {
    let fname = field(spec, "text")?;
    let Some(cell) = values.first().map(|r| &r[fname]) else {
        return err("a big number needs one row");
    };
    let text = number(cell).map_or_else(|| label(cell), |n| format_number(n, false));
    let mut out = open(&f, "number", &format!("{fname}: {text}"));
    let _ = write!(
        out,
        "<text class=\"big\" x=\"{cx}\" y=\"{cy}\" text-anchor=\"middle\" font-size=\"72\" font-weight=\"600\">{t}</text>\
         <text class=\"axis-title\" x=\"{cx}\" y=\"{ly}\" text-anchor=\"middle\" font-size=\"22\">{l}</text></svg>",
        cx = W / 2.0,
        cy = H / 2.0 + 16.0,
        ly = H / 2.0 + 56.0,
        t = escape(&text),
        l = escape(fname),
    );
    Ok(out)
}

/// Draw a spec as SVG for a chart shown at its viewBox width. Refuses specs
/// it does not understand, or with more than [`MAX_POINTS`] rows (what
/// `engine::chart` ever embeds).
pub fn render(spec: &Value) -> Result<String, ChartError> {
    render_at(spec, None)
}

/// [`render`] for a chart shown `shown_px` CSS pixels wide: text keeps
/// its size on screen (see [`Frame`]).
pub fn render_at(spec: &Value, shown_px: Option<f64>) -> Result<String, ChartError> {
    if !spec.is_object() {
        return err("the chart spec must be a JSON object");
    }
    let Some(values) = spec["data"]["values"].as_array() else {
        return err("the spec has no inline `data.values`");
    };
    if values.len() > MAX_POINTS {
        return err(format!(
            "the spec has {} rows; at most {MAX_POINTS} can be drawn",
            values.len()
        ));
    }
    let mark = spec["mark"]
        .as_str()
        .or_else(|| spec["mark"]["type"].as_str())
        .unwrap_or_default();
    match mark {
        "bar" => bar(spec, values, Frame::new(shown_px)),
        "line" => line(spec, values, Frame::new(shown_px)),
        "point" | "circle" => scatter(spec, values, Frame::new(shown_px)),
        "text" => big_number(spec, values, Frame::new(shown_px)),
        "" => err("the spec has no `mark`"),
        other => err(format!(
            "mark `{other}` is not supported (bar, line, point, text)"
        )),
    }
}

#[cfg(test)]
mod tests;
