//! Conditions: the plan's filters resolved to columns (a year on the
//! nearest date or year column, a literal on the table's name columns) and
//! rendered as WHERE clauses in the connection's dialect.

use std::collections::BTreeSet;

use crate::domain::Dialect;

use super::Reason;
use super::columns::is_year_column;
use super::context::{Ctx, num, quote_str};
use super::joins::{distance_from, nearest_column, nearest_date};
use super::linking::is_numeric;
use super::plan::{
    AvgComparison, Cmp, ColumnText, LiteralFilter, NumberComparison, Plan, ValueFilter, YearFilter,
};

/// WHERE conditions of the plan; adds the tables they need to `needed`.
pub(super) fn conditions(
    cx: &Ctx,
    plan: &Plan,
    base: usize,
    needed: &mut BTreeSet<usize>,
) -> Result<Vec<Cond>, Reason> {
    let mut out = Vec::new();
    for ValueFilter {
        col: (t, c),
        values,
    } in &plan.values
    {
        needed.insert(*t);
        out.push(Cond::In(*t, *c, values.clone()));
    }
    for NumberComparison {
        col: (t, c),
        cmp,
        value,
    } in &plan.cmps
    {
        needed.insert(*t);
        out.push(Cond::Cmp(*t, *c, *cmp, *value));
    }
    for ColumnText { col: (t, c), text } in &plan.not_values {
        needed.insert(*t);
        out.push(Cond::NotEq(*t, *c, text.clone()));
    }
    for ColumnText { col: (t, c), text } in &plan.not_in {
        needed.insert(*t);
        out.push(Cond::NotIn(*t, *c, text.clone()));
    }
    for AvgComparison { col: (t, c), cmp } in &plan.avg_cmps {
        needed.insert(*t);
        out.push(Cond::CmpAvg(*t, *c, *cmp));
    }
    for ColumnText { col: (t, c), text } in &plan.likes {
        needed.insert(*t);
        out.push(Cond::Like(*t, *c, text.clone()));
    }
    for LiteralFilter { near, text: lit } in &plan.literals {
        let t = near.unwrap_or(base);
        let labels = cx.labels(t);
        let named = labels.iter().all(|&c| {
            let n = cx.schema.tables[t].columns[c].name.to_ascii_lowercase();
            n.ends_with("name") || n == "title"
        });
        if labels.is_empty() || !named {
            return Err(format!("I did not understand '{lit}'."));
        }
        needed.insert(t);
        out.push(Cond::Literal(t, labels, lit.clone()));
    }
    for YearFilter {
        cmp,
        year: y,
        column: explicit,
    } in &plan.years
    {
        // A column holding years ("Open_Year", "year") is compared as is.
        if explicit.is_none()
            && let Some((t, c)) = nearest_column(cx, base, &is_year_column)
            && nearest_date(cx, base)
                .is_none_or(|d| distance_from(cx, base, t) <= distance_from(cx, base, d.0))
        {
            needed.insert(t);
            out.push(Cond::YearColumn(t, c, *cmp, *y));
            continue;
        }
        let (t, c) = match explicit {
            Some(tc) => *tc,
            None => nearest_date(cx, base)
                .ok_or_else(|| format!("I found no date column to filter on the year {y}."))?,
        };
        needed.insert(t);
        out.push(Cond::Year(t, c, *cmp, *y));
    }
    Ok(out)
}

/// One WHERE condition, resolved to its table and column.
pub(super) enum Cond {
    In(usize, usize, Vec<String>),
    Cmp(usize, usize, Cmp, f64),
    Literal(usize, Vec<usize>, String),
    Year(usize, usize, Cmp, i32),
    YearColumn(usize, usize, Cmp, i32),
    Like(usize, usize, String),
    CmpAvg(usize, usize, Cmp),
    NotEq(usize, usize, String),
    NotIn(usize, usize, String),
}

pub(super) fn year_expr(cx: &Ctx, col: &str) -> String {
    match cx.dialect {
        Dialect::Sqlite => format!("strftime('%Y', {col})"),
        Dialect::Postgres => format!("EXTRACT(YEAR FROM {col})"),
        Dialect::Mysql => format!("YEAR({col})"),
    }
}

pub(super) fn month_expr(cx: &Ctx, col: &str) -> String {
    match cx.dialect {
        Dialect::Sqlite => format!("strftime('%Y-%m', {col})"),
        Dialect::Postgres => format!("to_char({col}, 'YYYY-MM')"),
        Dialect::Mysql => format!("DATE_FORMAT({col}, '%Y-%m')"),
    }
}

pub(super) fn render_conds(cx: &Ctx, q: bool, conds: &[Cond]) -> Vec<String> {
    conds
        .iter()
        .map(|c| match c {
            Cond::In(t, col, vals) => {
                let lhs = cx.col(q, *t, *col);
                if vals.len() == 1 {
                    format!("{lhs} = {}", quote_str(cx.dialect, &vals[0]))
                } else {
                    let list: Vec<String> = vals.iter().map(|v| quote_str(cx.dialect, v)).collect();
                    format!("{lhs} IN ({})", list.join(", "))
                }
            }
            Cond::Cmp(t, col, cmp, x) => {
                format!("{} {} {}", cx.col(q, *t, *col), cmp.sql(), num(*x))
            }
            Cond::Literal(t, labels, lit) => {
                let parts: Vec<&str> = lit.split_whitespace().collect();
                if labels.len() == 2 && parts.len() == 2 {
                    format!(
                        "{} = {} AND {} = {}",
                        cx.col(q, *t, labels[0]),
                        quote_str(cx.dialect, parts[0]),
                        cx.col(q, *t, labels[1]),
                        quote_str(cx.dialect, parts[1])
                    )
                } else if labels.len() > 1 {
                    let ors: Vec<String> = labels
                        .iter()
                        .map(|l| format!("{} = {}", cx.col(q, *t, *l), quote_str(cx.dialect, lit)))
                        .collect();
                    format!("({})", ors.join(" OR "))
                } else {
                    format!(
                        "{} = {}",
                        cx.col(q, *t, labels[0]),
                        quote_str(cx.dialect, lit)
                    )
                }
            }
            Cond::NotEq(t, col, v) => {
                format!("{} <> {}", cx.col(q, *t, *col), quote_str(cx.dialect, v))
            }
            Cond::NotIn(t, col, inner) => format!("{} NOT IN ({inner})", cx.col(q, *t, *col)),
            Cond::CmpAvg(t, col, cmp) => format!(
                "{} {} (SELECT AVG({}) FROM {})",
                cx.col(q, *t, *col),
                cmp.sql(),
                cx.col(false, *t, *col),
                cx.tname(*t)
            ),
            Cond::YearColumn(t, col, cmp, y) => {
                let v = if is_numeric(&cx.schema.tables[*t].columns[*col]) {
                    y.to_string()
                } else {
                    format!("'{y}'")
                };
                format!("{} {} {v}", cx.col(q, *t, *col), cmp.sql())
            }
            Cond::Like(t, col, text) => {
                // The text is matched literally: its own % and _ are escaped.
                let special = text.contains(['%', '_', '\\']);
                let escaped = text
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let like = format!(
                    "{} LIKE {}",
                    cx.col(q, *t, *col),
                    quote_str(cx.dialect, &format!("%{escaped}%"))
                );
                if special {
                    format!("{like} ESCAPE {}", quote_str(cx.dialect, "\\"))
                } else {
                    like
                }
            }
            Cond::Year(t, col, cmp, y) => {
                let e = year_expr(cx, &cx.col(q, *t, *col));
                let v = if cx.dialect == Dialect::Sqlite {
                    format!("'{y}'")
                } else {
                    y.to_string()
                };
                format!("{e} {} {v}", cmp.sql())
            }
        })
        .collect()
}
