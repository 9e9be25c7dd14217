//! The renderer's tests: escaping, scales, each mark, label layout.

use super::*;
use serde_json::json;

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

#[test]
fn numbers_are_grouped_and_shortened() {
    assert_eq!(format_number(1234567.0, false), "1,234,567");
    assert_eq!(format_number(-1234.5, false), "-1,234.5");
    assert_eq!(format_number(0.125, false), "0.13");
    assert_eq!(format_number(12.0, false), "12");
    assert_eq!(format_number(2500.0, true), "2.5k");
    assert_eq!(format_number(3_000_000.0, true), "3M");
    assert_eq!(format_number(999.0, true), "999");
}

#[test]
fn ticks_are_round_and_cover_the_range() {
    assert_eq!(
        nice_ticks(0.0, 19.0, 5, true),
        vec![0.0, 5.0, 10.0, 15.0, 20.0]
    );
    assert_eq!(nice_ticks(0.0, 2.0, 5, true), vec![0.0, 1.0, 2.0]);
    assert_eq!(
        nice_ticks(0.0, 2.0, 4, false),
        vec![0.0, 0.5, 1.0, 1.5, 2.0]
    );
    let t = nice_ticks(-3.0, 7.0, 5, false);
    assert!(t[0] <= -3.0 && *t.last().unwrap() >= 7.0, "{t:?}");
    let flat = nice_ticks(5.0, 5.0, 5, false);
    assert!(flat.len() >= 2 && flat[0] < 5.0 && *flat.last().unwrap() > 5.0);
}

#[test]
fn text_is_escaped_everywhere() {
    let spec = json!({
        "mark": "bar",
        "data": {"values": [{"<b>&\"'": "<script>alert(1)</script>", "n": 3}]},
        "encoding": {"x": {"field": "<b>&\"'", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
    });
    let svg = render(&spec).unwrap();
    assert!(!svg.contains("<script"), "{svg}");
    assert!(!svg.contains("<b>"), "{svg}");
    assert!(svg.contains("&lt;script&gt;"));
    assert!(svg.contains("&lt;b&gt;&amp;&quot;&#39;"));
}

#[test]
fn bars_are_sorted_by_value_with_one_rect_each() {
    let spec = json!({
        "mark": "bar",
        "data": {"values": [{"c": "Spain", "n": 2}, {"c": "Germany", "n": "7.5"}, {"c": "Peru", "n": 4}]},
        "encoding": {"x": {"field": "c", "type": "nominal", "sort": "-y"}, "y": {"field": "n", "type": "quantitative"}},
    });
    let svg = render(&spec).unwrap();
    assert_eq!(count(&svg, "<rect class=\"mark\""), 3);
    let (g, p, s) = (
        svg.find(">Germany<").unwrap(),
        svg.find(">Peru<").unwrap(),
        svg.find(">Spain<").unwrap(),
    );
    assert!(g < p && p < s, "sorted descending: {svg}");
    assert!(svg.contains("aria-label=\"Bar chart of n by c\""));
}

#[test]
fn lines_follow_time_order() {
    let spec = json!({
        "mark": {"type": "line", "point": true},
        "data": {"values": [{"m": "2024-03", "v": 3}, {"m": "2024-01", "v": 1}, {"m": "2024-02", "v": 2}]},
        "encoding": {"x": {"field": "m", "type": "temporal"}, "y": {"field": "v", "type": "quantitative"}},
    });
    let svg = render(&spec).unwrap();
    assert_eq!(count(&svg, "<polyline"), 1);
    assert_eq!(count(&svg, "<circle class=\"mark\""), 3);
    assert!(svg.find("2024-01").unwrap() < svg.find("2024-03").unwrap());
    // Left to right: x coordinates of the polyline increase.
    let pts = svg
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let xs: Vec<f64> = pts
        .split(' ')
        .map(|p| p.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
}

#[test]
fn scatter_and_big_number() {
    let spec = json!({
        "mark": "point",
        "data": {"values": [{"a": 1, "b": 2}, {"a": 3, "b": 5}]},
        "encoding": {"x": {"field": "a", "type": "quantitative"}, "y": {"field": "b", "type": "quantitative"}},
    });
    assert_eq!(count(&render(&spec).unwrap(), "<circle class=\"mark\""), 2);
    let spec = json!({
        "mark": {"type": "text", "fontSize": 48},
        "data": {"values": [{"count": 12345}]},
        "encoding": {"text": {"field": "count", "type": "quantitative"}},
    });
    let svg = render(&spec).unwrap();
    assert!(svg.contains(">12,345<"), "{svg}");
}

#[test]
fn the_engine_suggestions_render() {
    use crate::connectors::ResultColumn;
    let cols = vec![
        ResultColumn {
            name: "country".into(),
            data_type: "TEXT".into(),
        },
        ResultColumn {
            name: "customers".into(),
            data_type: "INTEGER".into(),
        },
    ];
    let rows = vec![
        vec![json!("France"), json!(4)],
        vec![json!("Italy"), json!(9)],
    ];
    let spec = crate::engine::chart::suggest(&cols, &rows).unwrap();
    assert!(render(&spec).unwrap().starts_with("<svg"));
}

/// The drawing's height, from its `viewBox`.
fn height(svg: &str) -> f64 {
    let vb = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
    vb.split(['"', ' ']).nth(1).unwrap().parse().unwrap()
}

#[test]
fn slanted_labels_leave_room_for_the_axis_title() {
    let values: Vec<Value> = (0..14)
        .map(|i| json!({"category": format!("A long category name {i}"), "n": i + 1}))
        .collect();
    let spec = json!({
        "mark": "bar",
        "data": {"values": values},
        "encoding": {"x": {"field": "category", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
    });
    let svg = render(&spec).unwrap();
    assert!(svg.contains("rotate(-40)"), "{svg}");
    let h = height(&svg);
    let title_y: f64 = svg
        .split("class=\"axis-title\" x=")
        .nth(1)
        .unwrap()
        .split("y=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The slanted labels start at the axis and drop at most this far.
    let chars = MAX_LABEL_CHARS as f64;
    let drop = chars * FONT * 0.6 * SLANT_DEG.to_radians().sin();
    let label_y = PLOT_BOTTOM + 4.0 + FONT;
    assert!(label_y + drop + FONT * 0.5 < title_y - FONT, "{svg}");
    assert!(
        title_y < h,
        "the title is inside the drawing: {h} {title_y}"
    );
    // Few short labels stay level, and the drawing keeps its height.
    let few = json!({
        "mark": "bar",
        "data": {"values": [{"c": "Spain", "n": 2}, {"c": "Peru", "n": 4}]},
        "encoding": {"x": {"field": "c", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
    });
    let svg = render(&few).unwrap();
    assert!(!svg.contains("rotate(-40)"), "{svg}");
    assert_eq!(height(&svg), H);
}

#[test]
fn many_labels_steepen_then_thin_out_so_neighbours_never_touch() {
    let bars = |n: usize| {
        let values: Vec<Value> = (0..n)
            .map(|i| json!({"c": format!("City number {i}"), "n": i + 1}))
            .collect();
        render(&json!({
            "mark": "bar",
            "data": {"values": values},
            "encoding": {"x": {"field": "c", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
        }))
        .unwrap()
    };
    for n in [26, 60, 300] {
        let svg = bars(n);
        let slant: f64 = svg
            .split("rotate(-")
            .nth(2) // the first is the y-axis title
            .unwrap()
            .split(')')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let labels = svg
            .matches("<text class=\"tick\" text-anchor=\"end\" transform")
            .count();
        // Labelled bars are this far apart; across the slanted lines
        // that leaves at least a line of text.
        let band = (W - LEFT - RIGHT) / n as f64;
        let every = n.div_ceil(labels) as f64;
        let apart = band * every.floor() * slant.to_radians().sin();
        assert!(
            apart >= FONT * 1.1,
            "{n} bars: {labels} labels at {slant}°: {apart}"
        );
        assert!(labels >= n.min(40) / 2, "{n} bars: only {labels} labels");
    }
}

#[test]
fn text_keeps_its_size_on_a_narrow_screen() {
    let spec = json!({
        "mark": "bar",
        "data": {"values": [{"c": "Spain", "n": 2}, {"c": "Peru", "n": 4}]},
        "encoding": {"x": {"field": "c", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
    });
    let font = |svg: &str| -> f64 {
        svg.split("font-size=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(font(&render(&spec).unwrap()), FONT);
    // Shown 330 px wide, the 640-unit drawing scales by ~0.52: text
    // grows in drawing units so it is still ~12 px on screen.
    let phone = render_at(&spec, Some(330.0)).unwrap();
    let on_screen = font(&phone) * 330.0 / W;
    assert!((on_screen - FONT).abs() < 0.5, "{on_screen}");
    // Never more than twice, whatever width is claimed.
    assert_eq!(font(&render_at(&spec, Some(10.0)).unwrap()), 2.0 * FONT);
    assert_eq!(font(&render_at(&spec, Some(5000.0)).unwrap()), FONT);
}

#[test]
fn bad_specs_are_refused_with_a_reason() {
    assert!(render(&json!([])).is_err());
    assert_eq!(
        render(&json!({"mark": "bar", "data": {}})).unwrap_err().0,
        "the spec has no inline `data.values`"
    );
    let arc = json!({"mark": "arc", "data": {"values": []}});
    assert!(render(&arc).unwrap_err().0.contains("`arc`"));
    let no_field = json!({"mark": "bar", "data": {"values": [{"a": 1}]}, "encoding": {}});
    assert!(
        render(&no_field)
            .unwrap_err()
            .0
            .contains("encoding.x.field")
    );
    let many: Vec<Value> = (0..=MAX_POINTS).map(|i| json!({"a": i, "b": i})).collect();
    let big = json!({"mark": "point", "data": {"values": many}, "encoding": {}});
    assert!(render(&big).unwrap_err().0.contains("at most"));
}
