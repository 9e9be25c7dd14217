//! Plain-text tables for the terminal.

use crate::connectors::ResultColumn;

const MAX_CELL: usize = 40;

fn cell(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => "NULL".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => crate::text::numbers::human(other).unwrap_or_else(|| other.to_string()),
    };
    let s = s.replace(['\n', '\r', '\t'], " ");
    if s.chars().count() > MAX_CELL {
        format!("{}…", s.chars().take(MAX_CELL - 1).collect::<String>())
    } else {
        s
    }
}

/// Render rows as an aligned table with a header rule.
pub fn table(columns: &[ResultColumn], rows: &[Vec<serde_json::Value>]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.name.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = String::new();
    let header: Vec<String> = columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| pad(&c.name, *w))
        .collect();
    out.push_str(header.join(" | ").trim_end());
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    out.push('\n');
    for row in &cells {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| pad(c, *w)).collect();
        out.push_str(line.join(" | ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_truncate() {
        let cols = vec![
            ResultColumn {
                name: "name".into(),
                data_type: "TEXT".into(),
            },
            ResultColumn {
                name: "n".into(),
                data_type: "INTEGER".into(),
            },
        ];
        let rows = vec![
            vec![serde_json::json!("Ann"), serde_json::json!(12)],
            vec![serde_json::Value::Null, serde_json::json!(3)],
        ];
        assert_eq!(
            table(&cols, &rows),
            "name | n\n-----+---\nAnn  | 12\nNULL | 3\n"
        );
    }
}
