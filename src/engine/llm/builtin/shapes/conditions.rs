//! Conditions: the plan's filters resolved to columns (a year on the
//! nearest date or year column, a literal on the table's name columns) and
//! rendered as WHERE clauses in the connection's dialect.

use std::collections::BTreeSet;

use crate::domain::Dialect;

use super::Reason;
use super::columns::is_year_column;
use super::context::{Ctx, num, quote_str};
use super::dates::{period_cond, year_expr};
use super::joins::{distance_from, nearest_column, nearest_date};
use super::linking::Period;
use super::linking::has_numeric_type;
use super::plan::{
    AvgComparison, Cmp, ColRef, ColumnText, LiteralFilter, NumberComparison, PeriodFilter, Plan,
    ValueFilter, YearFilter,
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
        out.push(Cond::In {
            col: (*t, *c),
            values: values.clone(),
        });
    }
    for NumberComparison {
        col: (t, c),
        cmp,
        value,
    } in &plan.cmps
    {
        needed.insert(*t);
        out.push(Cond::Cmp {
            col: (*t, *c),
            cmp: *cmp,
            value: *value,
        });
    }
    for ColumnText { col: (t, c), text } in &plan.not_values {
        needed.insert(*t);
        out.push(Cond::NotEq {
            col: (*t, *c),
            text: text.clone(),
        });
    }
    for ColumnText { col: (t, c), text } in &plan.not_in {
        needed.insert(*t);
        out.push(Cond::NotIn {
            col: (*t, *c),
            subquery: text.clone(),
        });
    }
    for AvgComparison { col: (t, c), cmp } in &plan.avg_cmps {
        needed.insert(*t);
        out.push(Cond::CmpAvg {
            col: (*t, *c),
            cmp: *cmp,
        });
    }
    for ColumnText { col: (t, c), text } in &plan.likes {
        needed.insert(*t);
        out.push(Cond::Like {
            col: (*t, *c),
            text: text.clone(),
        });
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
        out.push(Cond::Literal {
            table: t,
            labels,
            text: lit.clone(),
        });
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
            out.push(Cond::YearColumn {
                col: (t, c),
                cmp: *cmp,
                year: *y,
            });
            continue;
        }
        let (t, c) = match explicit {
            Some(tc) => *tc,
            None => nearest_date(cx, base)
                .ok_or_else(|| format!("I found no date column to filter on the year {y}."))?,
        };
        needed.insert(t);
        out.push(Cond::Year {
            col: (t, c),
            cmp: *cmp,
            year: *y,
        });
    }
    for PeriodFilter { period, column } in &plan.periods {
        let (t, c) = match column {
            Some(tc) => *tc,
            None => nearest_date(cx, base)
                .ok_or_else(|| "I found no date column to read the period on.".to_string())?,
        };
        needed.insert(t);
        out.push(Cond::Period {
            col: (t, c),
            period: *period,
        });
    }
    Ok(out)
}

/// One WHERE condition, resolved to its table and column.
pub(super) enum Cond {
    /// `col = value`, or `col IN (values)`.
    In { col: ColRef, values: Vec<String> },
    /// `col cmp value`.
    Cmp { col: ColRef, cmp: Cmp, value: f64 },
    /// The text equals the table's name columns (first and last name when
    /// there are two and the text has two words).
    Literal {
        table: usize,
        labels: Vec<usize>,
        text: String,
    },
    /// The year of a date column.
    Year { col: ColRef, cmp: Cmp, year: i32 },
    /// A column that holds years, compared as is.
    YearColumn { col: ColRef, cmp: Cmp, year: i32 },
    /// A date column inside a period.
    Period { col: ColRef, period: Period },
    /// `col LIKE '%text%'`, the text matched literally.
    Like { col: ColRef, text: String },
    /// `col cmp (SELECT AVG(col) FROM table)`.
    CmpAvg { col: ColRef, cmp: Cmp },
    /// `col <> text`.
    NotEq { col: ColRef, text: String },
    /// `col NOT IN (subquery)`.
    NotIn { col: ColRef, subquery: String },
}

pub(super) fn render_conds(cx: &Ctx, q: bool, conds: &[Cond]) -> Vec<String> {
    conds
        .iter()
        .map(|c| match c {
            Cond::In {
                col: (t, col),
                values: vals,
            } => {
                let lhs = cx.col(q, *t, *col);
                if vals.len() == 1 {
                    format!("{lhs} = {}", quote_str(cx.dialect, &vals[0]))
                } else {
                    let list: Vec<String> = vals.iter().map(|v| quote_str(cx.dialect, v)).collect();
                    format!("{lhs} IN ({})", list.join(", "))
                }
            }
            Cond::Cmp {
                col: (t, col),
                cmp,
                value: x,
            } => {
                format!("{} {} {}", cx.num_col(q, *t, *col), cmp.sql(), num(*x))
            }
            Cond::Literal {
                table: t,
                labels,
                text: lit,
            } => {
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
            Cond::NotEq {
                col: (t, col),
                text: v,
            } => {
                format!("{} <> {}", cx.col(q, *t, *col), quote_str(cx.dialect, v))
            }
            Cond::NotIn {
                col: (t, col),
                subquery: inner,
            } => format!("{} NOT IN ({inner})", cx.col(q, *t, *col)),
            Cond::CmpAvg { col: (t, col), cmp } => format!(
                "{} {} (SELECT AVG({}) FROM {})",
                cx.num_col(q, *t, *col),
                cmp.sql(),
                cx.num_col(false, *t, *col),
                cx.tname(*t)
            ),
            Cond::YearColumn {
                col: (t, col),
                cmp,
                year: y,
            } => {
                let v = if has_numeric_type(&cx.schema.tables[*t].columns[*col]) {
                    y.to_string()
                } else {
                    format!("'{y}'")
                };
                format!("{} {} {v}", cx.col(q, *t, *col), cmp.sql())
            }
            Cond::Like {
                col: (t, col),
                text,
            } => {
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
            Cond::Period { col, period } => period_cond(cx, q, *col, *period),
            Cond::Year {
                col: (t, col),
                cmp,
                year: y,
            } => {
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
