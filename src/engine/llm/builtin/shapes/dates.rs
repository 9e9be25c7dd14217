//! Dates in SQL, per dialect: the year of a date, a date truncated to a
//! grain (day, week, month, quarter, year) as a sortable label, and a period
//! ("last year", "the last 30 days", "December 2025") as a condition.
//!
//! Relative periods are counted from the anchor `(SELECT MAX(col) FROM
//! table)`, the latest date stored in the filtered column (see
//! [`time`](super::super::time) for why not the clock). The anchor is written
//! in that exact form so the answer's assumption can name it.

use crate::domain::Dialect;

use super::context::Ctx;
use super::linking::{Bucket, Period};
use super::plan::ColRef;

pub(super) fn year_expr(cx: &Ctx, col: &str) -> String {
    match cx.dialect {
        Dialect::Sqlite => format!("strftime('%Y', {col})"),
        Dialect::Postgres => format!("EXTRACT(YEAR FROM {col})"),
        Dialect::Mysql => format!("YEAR({col})"),
    }
}

/// `col` as a label of its `grain` that sorts in time order: `2025-12-07`,
/// `2025-W49`, `2025-12`, `2025-Q4`, `2025`.
pub(super) fn bucket_expr(cx: &Ctx, grain: Bucket, col: &str) -> String {
    match (cx.dialect, grain) {
        (_, Bucket::Year) => year_expr(cx, col),
        (Dialect::Sqlite, Bucket::Day) => format!("date({col})"),
        (Dialect::Sqlite, Bucket::Week) => format!("strftime('%Y-W%W', {col})"),
        (Dialect::Sqlite, Bucket::Month) => format!("strftime('%Y-%m', {col})"),
        (Dialect::Sqlite, Bucket::Quarter) => format!(
            "strftime('%Y', {col}) || '-Q' || ((CAST(strftime('%m', {col}) AS INTEGER) + 2) / 3)"
        ),
        (Dialect::Postgres, Bucket::Day) => format!("to_char({col}, 'YYYY-MM-DD')"),
        (Dialect::Postgres, Bucket::Week) => format!("to_char({col}, 'IYYY-\"W\"IW')"),
        (Dialect::Postgres, Bucket::Month) => format!("to_char({col}, 'YYYY-MM')"),
        (Dialect::Postgres, Bucket::Quarter) => format!("to_char({col}, 'YYYY-\"Q\"Q')"),
        (Dialect::Mysql, Bucket::Day) => format!("DATE_FORMAT({col}, '%Y-%m-%d')"),
        (Dialect::Mysql, Bucket::Week) => format!("DATE_FORMAT({col}, '%x-W%v')"),
        (Dialect::Mysql, Bucket::Month) => format!("DATE_FORMAT({col}, '%Y-%m')"),
        (Dialect::Mysql, Bucket::Quarter) => format!("CONCAT(YEAR({col}), '-Q', QUARTER({col}))"),
    }
}

/// The condition that keeps the rows of `col` inside `period`.
pub(super) fn period_cond(cx: &Ctx, q: bool, (t, c): ColRef, period: Period) -> String {
    let col = cx.col(q, t, c);
    let anchor = format!("(SELECT MAX({}) FROM {})", cx.col(false, t, c), cx.tname(t));
    match period {
        Period::Month { year, month } => {
            let label = format!("'{year:04}-{month:02}'");
            format!("{} = {label}", bucket_expr(cx, Bucket::Month, &col))
        }
        Period::Trailing { unit, n } => {
            let (n, unit) = match unit {
                Bucket::Week => (n * 7, Bucket::Day),
                Bucket::Quarter => (n * 3, Bucket::Month),
                u => (n, u),
            };
            format!("{col} > {}", minus(cx, &anchor, n, unit))
        }
        Period::Calendar { unit, back } => {
            let start = start_of(cx, &anchor, unit);
            if back == 0 {
                return format!("{col} >= {start}");
            }
            let (step, unit) = match unit {
                Bucket::Week => (7, Bucket::Day),
                Bucket::Quarter => (3, Bucket::Month),
                u => (1, u),
            };
            let from = minus(cx, &start, back * step, unit);
            let to = minus(cx, &start, (back - 1) * step, unit);
            format!("{col} >= {from} AND {col} < {to}")
        }
    }
}

/// `date - n units` (`unit` is a day, month or year).
fn minus(cx: &Ctx, date: &str, n: u32, unit: Bucket) -> String {
    if n == 0 {
        return date.to_string();
    }
    let word = unit.noun();
    match cx.dialect {
        Dialect::Sqlite => format!("date({date}, '-{n} {word}s')"),
        Dialect::Postgres => format!("({date} - INTERVAL '{n} {word}s')"),
        Dialect::Mysql => format!("DATE_SUB({date}, INTERVAL {n} {})", word.to_uppercase()),
    }
}

/// The first day of the `unit` holding `date`.
fn start_of(cx: &Ctx, date: &str, unit: Bucket) -> String {
    match (cx.dialect, unit) {
        (Dialect::Sqlite, Bucket::Day) => format!("date({date})"),
        // Weeks start on Monday.
        (Dialect::Sqlite, Bucket::Week) => format!("date({date}, '-6 days', 'weekday 1')"),
        (Dialect::Sqlite, Bucket::Month) => format!("date({date}, 'start of month')"),
        (Dialect::Sqlite, Bucket::Quarter) => format!(
            "date({date}, 'start of month', '-' || ((CAST(strftime('%m', {date}) AS INTEGER) - 1) % 3) || ' months')"
        ),
        (Dialect::Sqlite, Bucket::Year) => format!("date({date}, 'start of year')"),
        (Dialect::Postgres, u) => format!("date_trunc('{}', {date})", u.noun()),
        (Dialect::Mysql, Bucket::Day) => format!("DATE({date})"),
        (Dialect::Mysql, Bucket::Week) => {
            format!("DATE_SUB(DATE({date}), INTERVAL WEEKDAY({date}) DAY)")
        }
        (Dialect::Mysql, Bucket::Month) => format!("DATE_FORMAT({date}, '%Y-%m-01')"),
        (Dialect::Mysql, Bucket::Quarter) => {
            format!("MAKEDATE(YEAR({date}), 1) + INTERVAL (QUARTER({date}) - 1) QUARTER")
        }
        (Dialect::Mysql, Bucket::Year) => format!("MAKEDATE(YEAR({date}), 1)"),
    }
}
