//! Chart suggestions: a Vega-Lite v5 spec chosen by deterministic rules from
//! the shape of a result (never by an LLM, and nothing is executed):
//!
//! | shape | chart |
//! |---|---|
//! | one row, one numeric column | big number (`text` mark) |
//! | a time column and a measure | line |
//! | a category column and a measure | bar |
//! | two measures, nothing else | scatter |
//! | anything else | none |
//!
//! The spec embeds the rows it draws (at most [`MAX_POINTS`]), so the API
//! client and the web UI render the same chart from the same data.

use serde_json::{Value, json};

use crate::connectors::ResultColumn;

/// Rows embedded in a spec at most; larger results get no chart.
pub const MAX_POINTS: usize = 500;
/// Bars at most: beyond this a bar chart is unreadable.
const MAX_BARS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Temporal,
    Quantitative,
    Nominal,
    Empty,
}

pub(crate) fn looks_temporal_text(s: &str) -> bool {
    let b = s.as_bytes();
    // 2024, 2024-05, 2024-05-17, 2024-05-17T10:00…, 2024-05-17 10:00…
    let digits =
        |mut r: std::ops::Range<usize>| r.all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    (b.len() == 4 && digits(0..4))
        || (b.len() >= 7
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && (b.len() == 7 || (b.len() >= 10 && b[7] == b'-' && digits(8..10))))
}

fn kind_of(col: &ResultColumn, rows: &[Vec<Value>], i: usize) -> Kind {
    let t = col.data_type.to_ascii_uppercase();
    let name = col.name.to_ascii_lowercase();
    let values: Vec<&Value> = rows
        .iter()
        .filter_map(|r| r.get(i))
        .filter(|v| !v.is_null())
        .collect();
    if values.is_empty() {
        return Kind::Empty;
    }
    let declared_temporal = t.contains("DATE") || t.contains("TIME") || t == "YEAR";
    let all_text = values.iter().all(|v| v.is_string());
    let all_numbers = values.iter().all(|v| v.is_number());
    let named_temporal = ["date", "day", "month", "year", "week", "time", "period"]
        .iter()
        .any(|w| name.contains(w));
    if declared_temporal
        || (all_text
            && values
                .iter()
                .all(|v| v.as_str().is_some_and(looks_temporal_text)))
    {
        return Kind::Temporal;
    }
    if all_numbers {
        // A column of years named like one is a time axis, not a measure.
        if named_temporal
            && values
                .iter()
                .all(|v| v.as_i64().is_some_and(|y| (1000..=9999).contains(&y)))
        {
            return Kind::Temporal;
        }
        return Kind::Quantitative;
    }
    // Decimals arrive as strings (no precision loss): numeric text is a measure.
    if all_text
        && values
            .iter()
            .all(|v| v.as_str().is_some_and(|s| s.parse::<f64>().is_ok()))
    {
        return Kind::Quantitative;
    }
    Kind::Nominal
}

fn data(columns: &[ResultColumn], rows: &[Vec<Value>]) -> Value {
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut obj = serde_json::Map::new();
            for (c, v) in columns.iter().zip(r) {
                // Numeric text (decimals) is drawn as a number.
                let v = match v.as_str().and_then(|s| s.parse::<f64>().ok()) {
                    Some(f)
                        if c.data_type.to_ascii_uppercase().contains("DEC")
                            || c.data_type.to_ascii_uppercase().contains("NUMERIC") =>
                    {
                        json!(f)
                    }
                    _ => v.clone(),
                };
                obj.insert(c.name.clone(), v);
            }
            Value::Object(obj)
        })
        .collect();
    json!({ "values": values })
}

/// A Vega-Lite v5 spec for this result, or `None` when no chart fits.
pub fn suggest(columns: &[ResultColumn], rows: &[Vec<Value>]) -> Option<Value> {
    if columns.is_empty() || rows.is_empty() || rows.len() > MAX_POINTS {
        return None;
    }
    let kinds: Vec<Kind> = (0..columns.len())
        .map(|i| kind_of(&columns[i], rows, i))
        .collect();
    let first = |k: Kind| kinds.iter().position(|x| *x == k);
    let measures: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == Kind::Quantitative)
        .map(|(i, _)| i)
        .collect();
    let schema = "https://vega.github.io/schema/vega-lite/v5.json";
    let field = |i: usize, t: &str| json!({ "field": columns[i].name, "type": t });

    if rows.len() == 1 && columns.len() == 1 && kinds[0] == Kind::Quantitative {
        return Some(json!({
            "$schema": schema,
            "description": "big number",
            "data": data(columns, rows),
            "mark": { "type": "text", "fontSize": 48 },
            "encoding": { "text": field(0, "quantitative") },
        }));
    }
    if let (Some(t), Some(&m)) = (first(Kind::Temporal), measures.first()) {
        return Some(json!({
            "$schema": schema,
            "description": "line",
            "data": data(columns, rows),
            "mark": { "type": "line", "point": true },
            "encoding": { "x": field(t, "temporal"), "y": field(m, "quantitative") },
        }));
    }
    if let (Some(c), Some(&m)) = (first(Kind::Nominal), measures.first()) {
        if rows.len() > MAX_BARS {
            return None;
        }
        let mut x = field(c, "nominal");
        x["sort"] = json!("-y");
        return Some(json!({
            "$schema": schema,
            "description": "bar",
            "data": data(columns, rows),
            "mark": "bar",
            "encoding": { "x": x, "y": field(m, "quantitative") },
        }));
    }
    if measures.len() == 2
        && kinds
            .iter()
            .all(|k| matches!(k, Kind::Quantitative | Kind::Empty))
    {
        return Some(json!({
            "$schema": schema,
            "description": "scatter",
            "data": data(columns, rows),
            "mark": "point",
            "encoding": { "x": field(measures[0], "quantitative"), "y": field(measures[1], "quantitative") },
        }));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(spec: &[(&str, &str)]) -> Vec<ResultColumn> {
        spec.iter()
            .map(|(n, t)| ResultColumn {
                name: (*n).into(),
                data_type: (*t).into(),
            })
            .collect()
    }

    fn kind(v: &Option<Value>) -> &str {
        v.as_ref()
            .and_then(|s| s["description"].as_str())
            .unwrap_or("none")
    }

    #[test]
    fn one_value_is_a_big_number() {
        let c = suggest(&cols(&[("count", "INTEGER")]), &[vec![json!(200)]]);
        assert_eq!(kind(&c), "big number");
        assert_eq!(c.unwrap()["data"]["values"][0]["count"], 200);
    }

    #[test]
    fn time_and_measure_is_a_line() {
        let rows = vec![
            vec![json!("2024-01"), json!(10.5)],
            vec![json!("2024-02"), json!(12)],
        ];
        assert_eq!(
            kind(&suggest(
                &cols(&[("month", "TEXT"), ("revenue", "REAL")]),
                &rows
            )),
            "line"
        );
        let years = vec![vec![json!(2023), json!(5)], vec![json!(2024), json!(7)]];
        assert_eq!(
            kind(&suggest(
                &cols(&[("year", "INTEGER"), ("orders", "INTEGER")]),
                &years
            )),
            "line"
        );
        let dates = vec![vec![json!("2024-05-17"), json!(1)]; 3];
        assert_eq!(
            kind(&suggest(&cols(&[("d", "DATE"), ("n", "INTEGER")]), &dates)),
            "line"
        );
    }

    #[test]
    fn category_and_measure_is_a_bar_sorted_by_value() {
        let rows = vec![
            vec![json!("Germany"), json!(18)],
            vec![json!("Spain"), json!(19)],
        ];
        let c = suggest(&cols(&[("country", "TEXT"), ("count", "INTEGER")]), &rows);
        assert_eq!(kind(&c), "bar");
        let c = c.unwrap();
        assert_eq!(c["encoding"]["x"]["field"], "country");
        assert_eq!(c["encoding"]["x"]["sort"], "-y");
        assert_eq!(c["encoding"]["y"]["field"], "count");
        // Decimals come as strings and still count as measures.
        let rows = vec![
            vec![json!("a"), json!("12.50")],
            vec![json!("b"), json!("3.10")],
        ];
        assert_eq!(
            kind(&suggest(
                &cols(&[("cat", "TEXT"), ("total", "NUMERIC")]),
                &rows
            )),
            "bar"
        );
        // Too many bars: no chart.
        let many: Vec<Vec<Value>> = (0..60)
            .map(|i| vec![json!(format!("c{i}")), json!(i)])
            .collect();
        assert_eq!(
            kind(&suggest(&cols(&[("cat", "TEXT"), ("n", "INTEGER")]), &many)),
            "none"
        );
    }

    #[test]
    fn two_measures_are_a_scatter() {
        let rows = vec![vec![json!(1.0), json!(2.0)], vec![json!(2.0), json!(3.5)]];
        assert_eq!(
            kind(&suggest(
                &cols(&[("price", "REAL"), ("cost", "REAL")]),
                &rows
            )),
            "scatter"
        );
    }

    #[test]
    fn other_shapes_get_no_chart() {
        assert_eq!(
            kind(&suggest(
                &cols(&[("name", "TEXT"), ("email", "TEXT")]),
                &[vec![json!("a"), json!("b")]]
            )),
            "none"
        );
        assert_eq!(kind(&suggest(&cols(&[("n", "INTEGER")]), &[])), "none");
        let three = vec![vec![json!(1), json!(2), json!(3)]; 2];
        assert_eq!(
            kind(&suggest(
                &cols(&[("a", "INTEGER"), ("b", "INTEGER"), ("c", "INTEGER")]),
                &three
            )),
            "none"
        );
    }
}
