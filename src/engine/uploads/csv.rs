//! A CSV file read into a [`NewTable`]: header names sanitised, every field
//! checked (UTF-8, the header's width), each column's type inferred from
//! all of its values (integer, real, ISO date, else text; empty fields are
//! NULL and do not vote). Parsing is the `csv` crate's; this module only
//! decides what a well-formed upload is and says clearly what is wrong.

use std::collections::HashMap;

use crate::connectors::uploads::{Cell, ColumnType, MAX_IDENTIFIER, NewTable, sanitize_identifier};

/// Most columns one upload may have.
pub const MAX_COLUMNS: usize = 200;

/// What is wrong with a file, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("the file is empty: it needs a header line and at least one row")]
    Empty,
    #[error("line {line} is not UTF-8 text: save the file as UTF-8 and upload it again")]
    Encoding { line: u64 },
    #[error("line {line} has {got} fields but the header has {expected}")]
    Ragged {
        line: u64,
        expected: usize,
        got: usize,
    },
    #[error("header: {0}")]
    BadHeader(String),
    #[error("the file could not be read as CSV (line {line}): {reason}")]
    Malformed { line: u64, reason: String },
}

impl CsvError {
    /// A stable reason code for the error body's `details.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            CsvError::Empty => "empty",
            CsvError::Encoding { .. } => "encoding",
            CsvError::Ragged { .. } => "ragged_rows",
            CsvError::BadHeader(_) => "bad_header",
            CsvError::Malformed { .. } => "malformed",
        }
    }
}

/// The delimiter of the first line: `,`, `;` or a tab, whichever it has most of.
fn sniff_delimiter(data: &[u8]) -> u8 {
    let first = data.split(|b| *b == b'\n').next().unwrap_or_default();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| (first.iter().filter(|b| *b == d).count(), *d == b','))
        .unwrap_or(b',')
}

fn line_of(pos: Option<&csv::Position>) -> u64 {
    pos.map_or(0, csv::Position::line)
}

/// Read `data` as CSV with a header line into table `name`.
pub fn parse(name: &str, data: &[u8]) -> Result<NewTable, CsvError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(data))
        .has_headers(true)
        .flexible(false)
        .from_reader(data);
    let header = reader.byte_headers().map_err(csv_error)?.clone();
    let header: Vec<&str> = header
        .iter()
        .map(std::str::from_utf8)
        .collect::<Result<_, _>>()
        .map_err(|_| CsvError::Encoding { line: 1 })?;
    let columns = header_names(&header)?;
    let mut raw: Vec<Vec<String>> = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(csv_error)?;
        let line = line_of(record.position());
        let mut row = Vec::with_capacity(record.len());
        for field in record.iter() {
            let text = std::str::from_utf8(field).map_err(|_| CsvError::Encoding { line })?;
            row.push(text.trim().to_string());
        }
        raw.push(row);
    }
    build(name, columns, raw)
}

/// Table `name` from its column names (from [`header_names`]) and rows of
/// trimmed text, each as wide as the header: each column's type inferred
/// from all of its values. Shared with [`super::xlsx`], so both kinds of
/// file make the same tables and the same errors.
pub(super) fn build(
    name: &str,
    columns: Vec<String>,
    raw: Vec<Vec<String>>,
) -> Result<NewTable, CsvError> {
    if raw.is_empty() {
        return Err(CsvError::Empty);
    }
    let types: Vec<ColumnType> = (0..columns.len())
        .map(|i| infer(raw.iter().map(|r| r[i].as_str())))
        .collect();
    let rows = raw
        .into_iter()
        .map(|r| {
            r.into_iter()
                .zip(&types)
                .map(|(v, t)| cell(v, *t))
                .collect()
        })
        .collect();
    Ok(NewTable {
        name: name.to_string(),
        columns: columns.into_iter().zip(types).collect(),
        rows,
    })
}

fn csv_error(e: csv::Error) -> CsvError {
    let line = line_of(e.position());
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => CsvError::Ragged {
            line,
            expected: *expected_len as usize,
            got: *len as usize,
        },
        csv::ErrorKind::Utf8 { .. } => CsvError::Encoding { line },
        _ => CsvError::Malformed {
            line,
            reason: e.to_string(),
        },
    }
}

/// The header's names, sanitised: none empty, none repeated.
pub(super) fn header_names(header: &[&str]) -> Result<Vec<String>, CsvError> {
    if header.is_empty() || header.iter().all(|f| f.trim().is_empty()) {
        return Err(CsvError::Empty);
    }
    if header.len() > MAX_COLUMNS {
        return Err(CsvError::BadHeader(format!(
            "{} columns; at most {MAX_COLUMNS} can be uploaded",
            header.len()
        )));
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(header.len());
    for (i, text) in header.iter().enumerate() {
        let n = i + 1;
        if text.trim().is_empty() {
            return Err(CsvError::BadHeader(format!("column {n} has no name")));
        }
        if text.chars().count() > 4 * MAX_IDENTIFIER {
            return Err(CsvError::BadHeader(format!(
                "the name of column {n} is longer than {} characters",
                4 * MAX_IDENTIFIER
            )));
        }
        let name = sanitize_identifier(text).ok_or_else(|| {
            CsvError::BadHeader(format!(
                "column {n} (`{}`) has no letters or digits to name it by",
                text.trim()
            ))
        })?;
        if let Some(first) = seen.insert(name.clone(), text.trim().to_string()) {
            return Err(CsvError::BadHeader(format!(
                "columns `{first}` and `{}` both become `{name}`; rename one",
                text.trim()
            )));
        }
        out.push(name);
    }
    Ok(out)
}

fn is_date(v: &str) -> bool {
    v.len() == 10 && chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
}

/// The narrowest type every non-empty value fits.
fn infer<'a>(values: impl Iterator<Item = &'a str>) -> ColumnType {
    let (mut int, mut real, mut date, mut any) = (true, true, true, false);
    for v in values.filter(|v| !v.is_empty()) {
        any = true;
        int &= v.parse::<i64>().is_ok();
        real &= v.parse::<f64>().is_ok_and(f64::is_finite);
        date &= is_date(v);
        if !int && !real && !date {
            return ColumnType::Text;
        }
    }
    match (any, int, real, date) {
        (false, ..) => ColumnType::Text,
        (_, true, _, _) => ColumnType::Integer,
        (_, _, true, _) => ColumnType::Real,
        (_, _, _, true) => ColumnType::Date,
        _ => ColumnType::Text,
    }
}

fn cell(v: String, t: ColumnType) -> Cell {
    if v.is_empty() {
        return Cell::Null;
    }
    match t {
        ColumnType::Integer => v.parse().map_or(Cell::Text(v), Cell::Integer),
        ColumnType::Real => v.parse().map_or(Cell::Text(v), Cell::Real),
        ColumnType::Date | ColumnType::Text => Cell::Text(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_inferred_from_every_value() {
        let t = parse(
            "sales",
            b"\xEF\xBB\xBFRegion,Units,Price,Sold on,Note\nNorth,3,2.5,2024-01-05,\nSouth,,4,2024-02-29,ok\n",
        )
        .unwrap();
        let names: Vec<_> = t.columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        assert_eq!(
            names,
            [
                ("region", ColumnType::Text),
                ("units", ColumnType::Integer),
                ("price", ColumnType::Real),
                ("sold_on", ColumnType::Date),
                ("note", ColumnType::Text),
            ]
        );
        assert_eq!(t.rows[1][1], Cell::Null);
        assert_eq!(t.rows[0][2], Cell::Real(2.5));
        assert_eq!(t.rows[1][2], Cell::Real(4.0));
    }

    #[test]
    fn semicolons_and_quotes_are_read() {
        let t = parse("x", b"a;b\n\"1;2\";3\n").unwrap();
        assert_eq!(t.rows[0][0], Cell::Text("1;2".into()));
        assert_eq!(t.rows[0][1], Cell::Integer(3));
    }

    #[test]
    fn bad_files_get_clear_errors() {
        assert_eq!(parse("x", b"").unwrap_err(), CsvError::Empty);
        assert_eq!(parse("x", b"a,b\n").unwrap_err(), CsvError::Empty);
        assert_eq!(
            parse("x", b"a,b\n1,2\n3\n").unwrap_err(),
            CsvError::Ragged {
                line: 3,
                expected: 2,
                got: 1
            }
        );
        assert_eq!(
            parse("x", b"a,b\n1,\xff\n").unwrap_err(),
            CsvError::Encoding { line: 2 }
        );
        assert!(matches!(
            parse("x", b"a,,c\n1,2,3\n"),
            Err(CsvError::BadHeader(_))
        ));
        let dup = parse("x", b"Order Date,order_date\n1,2\n").unwrap_err();
        assert!(
            dup.to_string().contains("both become `order_date`"),
            "{dup}"
        );
        assert_eq!(dup.reason(), "bad_header");
    }
}
