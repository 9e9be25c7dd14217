//! The plan: what a question asks, before any SQL. The vocabulary of the
//! generator's rooms (measures, aggregates, groups, comparisons, the
//! column references) and the filters a question puts on its rows, each
//! a named struct. [`Roles`](super::roles::Roles) fills a [`Plan`]; the
//! shape rooms render it through [`conditions`](super::conditions).

use crate::domain::SchemaInfo;

use super::linking::{Bucket, Period};
use super::roles::ColumnMention;

/// A measure: a column, or quantity × price on one table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Measure {
    Col(usize, usize),
    Product(usize, usize, usize),
}

impl Measure {
    pub(super) fn table(self) -> usize {
        match self {
            Measure::Col(t, _) | Measure::Product(t, _, _) => t,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Agg {
    Sum,
    Avg,
    Min,
    Max,
}

impl Agg {
    pub(super) fn sql(self) -> &'static str {
        match self {
            Agg::Sum => "SUM",
            Agg::Avg => "AVG",
            Agg::Min => "MIN",
            Agg::Max => "MAX",
        }
    }
    pub(super) fn alias(self) -> &'static str {
        match self {
            Agg::Sum => "total",
            Agg::Avg => "average",
            Agg::Min => "minimum",
            Agg::Max => "maximum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Group {
    Col(usize, usize),
    Entity(usize),
    Bucket(Bucket),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    pub(super) fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
}

/// `(table index, column index)` in the schema.
pub(super) type ColRef = (usize, usize);

/// `col IN (values)`, or `col = value` for one value.
pub(super) struct ValueFilter {
    pub(super) col: ColRef,
    pub(super) values: Vec<String>,
}

/// A literal matched against the name columns of a table: the table named
/// right before it, else the query's base table.
pub(super) struct LiteralFilter {
    pub(super) near: Option<usize>,
    pub(super) text: String,
}

/// A column and a text: `col <> text`, `col LIKE '%text%'`, or
/// `col NOT IN (text)` where the text is a subquery.
pub(super) struct ColumnText {
    pub(super) col: ColRef,
    pub(super) text: String,
}

/// `col cmp (SELECT AVG(col) FROM table)`.
pub(super) struct AvgComparison {
    pub(super) col: ColRef,
    pub(super) cmp: Cmp,
}

/// A year condition, on an explicitly named date column if any.
pub(super) struct YearFilter {
    pub(super) cmp: Cmp,
    pub(super) year: i32,
    pub(super) column: Option<ColRef>,
}

/// A period ("last year", "in December 2025"), on an explicitly named date
/// column if any.
pub(super) struct PeriodFilter {
    pub(super) period: Period,
    pub(super) column: Option<ColRef>,
}

/// `col cmp value`.
pub(super) struct NumberComparison {
    pub(super) col: ColRef,
    pub(super) cmp: Cmp,
    pub(super) value: f64,
}

/// `HAVING COUNT(table) cmp value`.
#[derive(Clone, Copy)]
pub(super) struct HavingCount {
    pub(super) table: usize,
    pub(super) cmp: Cmp,
    pub(super) value: f64,
}

/// `HAVING agg(col) cmp value`: "government forms whose average life
/// expectancy is over 72".
#[derive(Clone, Copy)]
pub(super) struct HavingAggregate {
    pub(super) agg: Agg,
    pub(super) col: ColRef,
    pub(super) cmp: Cmp,
    pub(super) value: f64,
}

/// What the question asks, before SQL.
#[derive(Default)]
pub(super) struct Plan {
    pub(super) subject: Option<usize>,
    /// Value filters.
    pub(super) values: Vec<ValueFilter>,
    pub(super) literals: Vec<LiteralFilter>,
    /// `col <> value`.
    pub(super) not_values: Vec<ColumnText>,
    /// `col NOT IN (subquery)`.
    pub(super) not_in: Vec<ColumnText>,
    /// `col cmp (SELECT AVG(col) FROM table)`.
    pub(super) avg_cmps: Vec<AvgComparison>,
    /// `col LIKE '%text%'`.
    pub(super) likes: Vec<ColumnText>,
    /// Year conditions, on an explicitly named date column if any.
    pub(super) years: Vec<YearFilter>,
    /// Periods, on an explicitly named date column if any.
    pub(super) periods: Vec<PeriodFilter>,
    /// Column comparisons.
    pub(super) cmps: Vec<NumberComparison>,
    /// HAVING COUNT(table) cmp n.
    pub(super) having_count: Option<HavingCount>,
    /// HAVING agg(col) cmp n, per group.
    pub(super) having_aggs: Vec<HavingAggregate>,
}

/// Columns named before mention position `before` (deduplicated, in order),
/// leaving out the columns the plan filters on.
pub(super) fn named_columns(
    schema: &SchemaInfo,
    plain: &[ColumnMention],
    before: usize,
    plan: &Plan,
) -> Vec<ColRef> {
    let name = |t: usize, c: usize| schema.tables[t].columns[c].name.as_str();
    let mut out: Vec<ColRef> = Vec::new();
    for &ColumnMention {
        mention: mi,
        col: tc,
    } in plain
    {
        let same_name = |(t, c): ColRef| {
            t == tc.0 && c == tc.1 || name(t, c).eq_ignore_ascii_case(name(tc.0, tc.1))
        };
        let filtered = plan.values.iter().any(|v| same_name(v.col))
            || plan.not_values.iter().any(|v| same_name(v.col))
            || plan.likes.iter().any(|v| v.col == tc)
            || plan.cmps.iter().any(|c| c.col == tc)
            || plan.years.iter().any(|y| y.column == Some(tc))
            || plan.periods.iter().any(|p| p.column == Some(tc));
        if mi < before && !filtered && !out.contains(&tc) {
            out.push(tc);
        }
    }
    out
}
