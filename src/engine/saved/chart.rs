//! The chart type a saved question is shown with. `auto` keeps the
//! suggestion of `engine::chart` (from the result's shape); `bar` and
//! `line` switch between the two when the data allow it; `table` shows no
//! chart. A switch the data do not allow (a line over categories that are
//! not times) falls back to the suggestion, so a chart is never drawn wrong.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::connectors::ResultColumn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChartChoice {
    #[default]
    Auto,
    Bar,
    Line,
    Table,
}

impl ChartChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            ChartChoice::Auto => "auto",
            ChartChoice::Bar => "bar",
            ChartChoice::Line => "line",
            ChartChoice::Table => "table",
        }
    }

    /// A stored value; unknown text (a newer release's) reads as `auto`.
    pub fn parse(s: &str) -> ChartChoice {
        match s {
            "bar" => ChartChoice::Bar,
            "line" => ChartChoice::Line,
            "table" => ChartChoice::Table,
            _ => ChartChoice::Auto,
        }
    }

    /// The Vega-Lite spec for these rows under this choice (`None`: no chart).
    pub fn spec(self, columns: &[ResultColumn], rows: &[Vec<Value>]) -> Option<Value> {
        if self == ChartChoice::Table {
            return None;
        }
        let mut spec = crate::engine::chart::suggest(columns, rows)?;
        let drawn = spec["description"].as_str().unwrap_or_default().to_string();
        match (self, drawn.as_str()) {
            // A time series as bars, in time order.
            (ChartChoice::Bar, "line") => {
                spec["mark"] = json!("bar");
                spec["encoding"]["x"]["type"] = json!("ordinal");
                spec["description"] = json!("bar");
            }
            // Bars over a time-like category as a line.
            (ChartChoice::Line, "bar") if x_is_temporal(&spec) => {
                spec["mark"] = json!({ "type": "line", "point": true });
                spec["encoding"]["x"]["type"] = json!("temporal");
                if let Some(x) = spec["encoding"]["x"].as_object_mut() {
                    x.remove("sort");
                }
                spec["description"] = json!("line");
            }
            _ => {}
        }
        Some(spec)
    }
}

/// Whether every x value of a bar spec reads as a time (a year, a month,
/// a date).
fn x_is_temporal(spec: &Value) -> bool {
    let Some(field) = spec["encoding"]["x"]["field"].as_str() else {
        return false;
    };
    spec["data"]["values"].as_array().is_some_and(|values| {
        values.iter().all(|row| match &row[field] {
            Value::String(s) => crate::engine::chart::looks_temporal_text(s),
            Value::Number(n) => n.as_i64().is_some_and(|y| (1000..=9999).contains(&y)),
            _ => false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[(&str, &str)]) -> Vec<ResultColumn> {
        names
            .iter()
            .map(|(n, t)| ResultColumn {
                name: (*n).into(),
                data_type: (*t).into(),
            })
            .collect()
    }

    #[test]
    fn a_time_series_switches_between_line_and_bar() {
        let c = cols(&[("month", "TEXT"), ("orders", "INTEGER")]);
        let rows = vec![
            vec![json!("2024-01"), json!(3)],
            vec![json!("2024-02"), json!(5)],
        ];
        let auto = ChartChoice::Auto.spec(&c, &rows).unwrap();
        assert_eq!(auto["description"], "line");
        let bar = ChartChoice::Bar.spec(&c, &rows).unwrap();
        assert_eq!(bar["mark"], "bar");
        assert!(ChartChoice::Table.spec(&c, &rows).is_none());
    }

    #[test]
    fn a_line_over_categories_falls_back_to_bars() {
        let c = cols(&[("country", "TEXT"), ("customers", "INTEGER")]);
        let rows = vec![
            vec![json!("France"), json!(3)],
            vec![json!("Spain"), json!(5)],
        ];
        let line = ChartChoice::Line.spec(&c, &rows).unwrap();
        assert_eq!(line["description"], "bar");
        assert_eq!(ChartChoice::parse("nonsense"), ChartChoice::Auto);
        assert_eq!(
            ChartChoice::parse(ChartChoice::Line.as_str()),
            ChartChoice::Line
        );
    }
}
