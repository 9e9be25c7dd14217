//! An Excel workbook (`.xlsx`) read into a [`NewTable`]: one sheet (the
//! first, or the one named), its first non-empty row the header, every cell
//! turned into text as a person would type it (whole numbers without `.0`,
//! dates as `YYYY-MM-DD`), then the same names, type inference and errors
//! as a CSV file ([`super::csv::build`]). Reading the workbook is
//! `calamine`'s; this module decides what a well-formed upload is.
//!
//! A workbook is a zip file, so a small upload can expand to a great deal
//! of XML: the sizes its directory declares are added up and refused past
//! [`EXPANSION`] times the upload limit before anything is decompressed
//! (the `zip` crate stops reading an entry at its declared size). Cells are
//! read one by one, never as a dense range, so a sheet with two cells a
//! million rows apart costs two cells.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};

use super::csv::{self, CsvError};
use crate::connectors::uploads::NewTable;

/// How many times the upload limit a workbook's contents may expand to.
pub const EXPANSION: u64 = 16;

/// The first bytes of every zip file, hence of every `.xlsx`.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Whether `data` looks like a workbook rather than CSV text.
pub fn is_workbook(data: &[u8]) -> bool {
    data.starts_with(ZIP_MAGIC)
}

/// What is wrong with a workbook, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XlsxError {
    #[error("the file could not be read as an Excel workbook (.xlsx): {0}")]
    NotAWorkbook(String),
    #[error("the workbook's contents expand to more than {max} bytes")]
    TooLarge { max: u64 },
    #[error("{0}")]
    NoSheet(String),
    #[error("cell {cell} {problem}")]
    BadCell { cell: String, problem: String },
    #[error(transparent)]
    Table(#[from] CsvError),
}

impl XlsxError {
    /// A stable reason code for the error body's `details.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            XlsxError::NotAWorkbook(_) => "not_a_workbook",
            XlsxError::TooLarge { .. } => "too_large",
            XlsxError::NoSheet(_) => "no_sheet",
            XlsxError::BadCell { .. } => "bad_cell",
            XlsxError::Table(e) => e.reason(),
        }
    }
}

fn unreadable(e: impl std::fmt::Display) -> XlsxError {
    XlsxError::NotAWorkbook(e.to_string())
}

/// Read sheet `sheet` (default: the first) of the workbook `data` into
/// table `name`; `max_bytes` is the upload limit.
pub fn parse(
    name: &str,
    data: &[u8],
    sheet: Option<&str>,
    max_bytes: u64,
) -> Result<NewTable, XlsxError> {
    check_expansion(data, max_bytes.saturating_mul(EXPANSION))?;
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(data)).map_err(unreadable)?;
    let names = book.sheet_names();
    let sheet = match sheet {
        Some(s) => names.iter().find(|n| n.as_str() == s).ok_or_else(|| {
            XlsxError::NoSheet(format!(
                "the workbook has no sheet `{s}`; its sheets: {}",
                names.join(", ")
            ))
        })?,
        None => names
            .first()
            .ok_or_else(|| XlsxError::NoSheet("the workbook has no sheets".into()))?,
    }
    .clone();
    let rows = read_rows(&mut book, &sheet)?;
    let mut rows = rows.into_iter();
    let Some((header_row, header)) = rows.next() else {
        return Err(CsvError::Empty.into());
    };
    let (first, last) = (
        *header.keys().next().unwrap_or(&0),
        *header.keys().next_back().unwrap_or(&0),
    );
    let texts: Vec<&str> = (first..=last)
        .map(|c| header.get(&c).map_or("", String::as_str))
        .collect();
    let columns = csv::header_names(&texts)?;
    let mut raw = Vec::new();
    for (row, cells) in rows {
        if let Some((&col, _)) = cells
            .range(..first)
            .next()
            .or(cells.range(last + 1..).next())
        {
            return Err(XlsxError::BadCell {
                cell: cell_ref(row, col),
                problem: format!("has a value but no column name in row {}", header_row + 1),
            });
        }
        raw.push(
            (first..=last)
                .map(|c| cells.get(&c).cloned().unwrap_or_default())
                .collect(),
        );
    }
    Ok(csv::build(name, columns, raw)?)
}

/// Refuse a zip whose entries declare more than `max` bytes in all.
fn check_expansion(data: &[u8], max: u64) -> Result<(), XlsxError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data)).map_err(unreadable)?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        total = total.saturating_add(zip.by_index_raw(i).map_err(unreadable)?.size());
        if total > max {
            return Err(XlsxError::TooLarge { max });
        }
    }
    Ok(())
}

/// A sheet's non-empty rows (0-based row → 0-based column → text), in order.
type Rows = BTreeMap<u32, BTreeMap<u32, String>>;

fn read_rows(book: &mut Xlsx<Cursor<&[u8]>>, sheet: &str) -> Result<Rows, XlsxError> {
    let mut reader = book.worksheet_cells_reader(sheet).map_err(unreadable)?;
    let mut rows = Rows::new();
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        let text = cell_text(cell.get_value()).map_err(|problem| XlsxError::BadCell {
            cell: cell_ref(row, col),
            problem,
        })?;
        if !text.is_empty() {
            rows.entry(row).or_default().insert(col, text);
        }
    }
    Ok(rows)
}

/// A cell as the text a person would have typed into a CSV file.
fn cell_text(value: &DataRef<'_>) -> Result<String, String> {
    Ok(match value {
        DataRef::Empty => String::new(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::String(s) => s.trim().to_string(),
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) if d.is_duration() => number_text(d.as_f64()),
        DataRef::DateTime(d) => match d.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => return Err(format!("holds a date Excel cannot show ({})", d.as_f64())),
        },
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.trim().to_string(),
        DataRef::Error(e) => {
            return Err(format!(
                "holds the error {e}: fix or clear it in the workbook and upload it again"
            ));
        }
    })
}

/// Excel keeps every number as a float: whole ones are written without a
/// fraction so they are inferred as integers, as in a CSV file.
fn number_text(f: f64) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() < EXACT {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// `A1` notation of a 0-based (row, column).
fn cell_ref(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = col + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(row + 1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::uploads::{Cell, ColumnType};
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    fn book(fill: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
        let mut wb = Workbook::new();
        fill(wb.add_worksheet().set_name("Sales").unwrap());
        wb.save_to_buffer().unwrap()
    }

    #[test]
    fn cells_become_the_same_typed_table_as_csv() {
        let data = book(|ws| {
            let date = Format::new().set_num_format("yyyy-mm-dd");
            for (c, h) in ["Region", "Units", "Price", "Sold on", "Note"]
                .iter()
                .enumerate()
            {
                ws.write(0, c as u16, *h).unwrap();
            }
            ws.write(1, 0, "North").unwrap();
            ws.write(1, 1, 3).unwrap();
            ws.write(1, 2, 2.5).unwrap();
            let d = ExcelDateTime::from_ymd(2024, 1, 5).unwrap();
            ws.write_datetime_with_format(1, 3, &d, &date).unwrap();
            ws.write(2, 0, "South").unwrap();
            ws.write(2, 2, 4).unwrap();
            let d = ExcelDateTime::from_ymd(2024, 2, 29).unwrap();
            ws.write_datetime_with_format(2, 3, &d, &date).unwrap();
            ws.write(2, 4, "ok").unwrap();
        });
        assert!(is_workbook(&data));
        let t = parse("sales", &data, None, 1 << 20).unwrap();
        let cols: Vec<_> = t.columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        assert_eq!(
            cols,
            [
                ("region", ColumnType::Text),
                ("units", ColumnType::Integer),
                ("price", ColumnType::Real),
                ("sold_on", ColumnType::Date),
                ("note", ColumnType::Text),
            ]
        );
        assert_eq!(t.rows[0][3], Cell::Text("2024-01-05".into()));
        assert_eq!(t.rows[1][1], Cell::Null);
        assert_eq!(t.rows[1][2], Cell::Real(4.0));
    }

    #[test]
    fn bad_workbooks_get_clear_errors() {
        let e = parse("x", b"PK\x03\x04 not really", None, 1 << 20).unwrap_err();
        assert_eq!(e.reason(), "not_a_workbook", "{e}");
        let empty = book(|_| {});
        assert_eq!(
            parse("x", &empty, None, 1 << 20).unwrap_err(),
            XlsxError::Table(CsvError::Empty)
        );
        let header_only = book(|ws| {
            ws.write(0, 0, "a").unwrap();
        });
        assert_eq!(
            parse("x", &header_only, None, 1 << 20).unwrap_err(),
            XlsxError::Table(CsvError::Empty)
        );
        let e = parse("x", &header_only, Some("Other"), 1 << 20).unwrap_err();
        assert_eq!(e.reason(), "no_sheet");
        assert!(e.to_string().contains("its sheets: Sales"), "{e}");
        let stray = book(|ws| {
            ws.write(0, 0, "a").unwrap();
            ws.write(1, 0, 1).unwrap();
            ws.write(4, 2, "stray").unwrap();
        });
        let e = parse("x", &stray, None, 1 << 20).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cell C5 has a value but no column name in row 1"
        );
        let error_cell = book(|ws| {
            ws.write(0, 0, "a").unwrap();
            ws.write_formula(1, 0, "=1/0").unwrap();
            ws.set_formula_result(1, 0, "#DIV/0!");
        });
        let e = parse("x", &error_cell, None, 1 << 20).unwrap_err();
        assert_eq!(e.reason(), "bad_cell", "{e}");
        assert!(e.to_string().starts_with("cell A2 holds the error"), "{e}");
    }

    #[test]
    fn a_workbook_that_expands_too_far_is_refused_unread() {
        let big = book(|ws| {
            for r in 0..2_000u32 {
                ws.write(r, 0, "the same text over and over again").unwrap();
            }
        });
        // Far more XML than the 1 KiB limit times the expansion allowed.
        let e = parse("x", &big, None, 1024).unwrap_err();
        assert_eq!(
            e,
            XlsxError::TooLarge {
                max: 1024 * EXPANSION
            }
        );
    }

    #[test]
    fn cells_are_named_in_a1_notation() {
        assert_eq!(cell_ref(0, 0), "A1");
        assert_eq!(cell_ref(4, 25), "Z5");
        assert_eq!(cell_ref(9, 26), "AA10");
        assert_eq!(cell_ref(0, 16_383), "XFD1");
        assert_eq!(number_text(3.0), "3");
        assert_eq!(number_text(2.5), "2.5");
    }
}
