//! Counting: "how many …", "the number of …" — a plain count, a count
//! per group or per shown row, `COUNT(DISTINCT col)`, and counts of rows
//! that meet a count condition.

use std::collections::BTreeSet;

use super::aggregation::aggregate_shape;
use super::context::{Ctx, num};
use super::joins::nearest_date;
use super::linking::{Link, is_numeric};
use super::plan::{Agg, ColRef, Group, HavingCount, Measure, Plan, named_columns};
use super::roles::Roles;
use super::select::{Grouping, count_expr, from_where, group_exprs, select};
use super::{Built, Choices, Reason};

/// The count shapes, for a question with a count word and no superlative.
pub(super) fn count(
    cx: &Ctx,
    roles: &Roles,
    subject: usize,
    choices: &mut Choices,
) -> Result<Built, Reason> {
    let (mentions, plan, group) = (cx.mentions, &roles.plan, roles.group);
    // "How many people live in …" over rows that carry a population: its sum.
    if let Some((t, c)) = population_count(cx, roles, subject) {
        return aggregate_shape(cx, plan, Measure::Col(t, c), Agg::Sum, group, choices);
    }
    let count_at = count_word_position(cx);
    let right_after =
        |mi: usize| count_at.is_some_and(|p| mentions[mi].start > p && mentions[mi].start <= p + 5);
    let named = named_columns(cx.schema, &roles.columns, usize::MAX, plan);
    // "how many different countries": COUNT(DISTINCT country).
    let distinct_word = count_at.is_some_and(|p| {
        (p + 1..p + 4).any(|i| matches!(cx.word(i), "different" | "distinct" | "unique"))
    });
    if distinct_word
        && plan.having_count.is_none()
        && let Some(c) = roles
            .columns
            .iter()
            .find(|c| right_after(c.mention) && named.contains(&c.col))
    {
        return count_distinct_shape(cx, plan, c.col);
    }
    // "names of teachers and the number of courses", "each continent's
    // id, name and number of countries": a count per shown row.
    let counted_col = roles
        .columns
        .iter()
        .find(|c| right_after(c.mention))
        .filter(|c| {
            !roles
                .tables
                .iter()
                .any(|t| t.mention < c.mention && right_after(t.mention))
        });
    let counted = roles
        .tables
        .iter()
        .find(|t| right_after(t.mention))
        .map(|t| t.table)
        .or(counted_col.map(|c| c.col.0));
    let shown: Vec<ColRef> = named
        .iter()
        .copied()
        .filter(|tc| counted_col.is_none_or(|x| x.col != *tc))
        .filter(|tc| match group {
            Some(Group::Entity(g)) => tc.0 == g,
            Some(_) => false,
            None => true,
        })
        .filter(|tc| Some(tc.0) != counted || group.is_none())
        .collect();
    if plan.having_count.is_none()
        && !shown.is_empty()
        && matches!(group, None | Some(Group::Entity(_)))
    {
        let counted = counted.unwrap_or(subject);
        let shown_tables: BTreeSet<usize> = shown.iter().map(|x| x.0).collect();
        if !(shown_tables.len() == 1 && shown_tables.contains(&counted) && group.is_some()) {
            return count_per_shape(cx, plan, counted, &shown);
        }
    }
    let subject = match (group, counted) {
        (Some(Group::Entity(g)), Some(c)) if c != g => c,
        _ => subject,
    };
    count_shape(cx, plan, subject, group, choices)
}

/// "how many people / inhabitants / residents" (no table of that name)
/// counts heads: the `population` column of the subject or of a table in
/// play, when there is one.
fn population_count(cx: &Ctx, roles: &Roles, subject: usize) -> Option<ColRef> {
    const HEADS: &[&str] = &["people", "inhabitants", "residents", "persons"];
    let at = (1..cx.tokens.len()).find(|&i| {
        HEADS.contains(&cx.word(i)) && cx.word(i - 1) == "many" && i >= 2 && cx.word(i - 2) == "how"
    })?;
    let named = cx
        .mentions
        .iter()
        .any(|m| m.start <= at && at < m.end && matches!(m.link, Link::Table(_)));
    if named {
        return None;
    }
    let tables = std::iter::once(subject)
        .chain(roles.tables.iter().map(|x| x.table))
        .chain(roles.plan.values.iter().map(|v| v.col.0));
    for t in tables {
        let cols = &cx.schema.tables[t].columns;
        if let Some(c) = cols
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case("population") && is_numeric(c))
        {
            return Some((t, c));
        }
    }
    None
}

/// Where the count word is: "number of", else "how many", else "count".
fn count_word_position(cx: &Ctx) -> Option<usize> {
    let n = cx.tokens.len();
    (0..n)
        .find(|&i| cx.word(i) == "number" && cx.word(i + 1) == "of")
        .or_else(|| (1..n).find(|&i| cx.word(i) == "many" && cx.word(i - 1) == "how"))
        .or_else(|| (0..n).find(|&i| cx.word(i) == "count"))
}

/// `COUNT(*)` of the subject, per group when there is one; with a count
/// condition, the number of subjects that meet it.
pub(super) fn count_shape(
    cx: &Ctx,
    plan: &Plan,
    subject: usize,
    group: Option<Group>,
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    // A grain groups the nearest date, whose table must be joined.
    let extra: Vec<usize> = group
        .and_then(|g| group_table(g).or_else(|| nearest_date(cx, subject).map(|d| d.0)))
        .into_iter()
        .collect();
    let (joins, conds) = from_where(cx, plan, subject, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, subject, &joins, &conds);
    if let Some(HavingCount {
        table: t,
        cmp,
        value: x,
    }) = plan.having_count
    {
        // "customers with more than 10 orders": count the qualifying subjects.
        let pk = cx
            .pk(subject)
            .ok_or("I need a primary key to count per row.")?;
        let inner_count = count_expr(cx, q, t, true);
        s.cols = vec![cx.col(q, subject, pk)];
        s.group = vec![cx.col(q, subject, pk)];
        s.having = Some(format!("{inner_count} {} {}", cmp.sql(), num(x)));
        return Ok(Built {
            sql: format!("SELECT COUNT(*) FROM ({}) AS sub", s.sql()),
            strategy: "count",
        });
    }
    let count = count_expr(cx, q, subject, joins.fans_out);
    match group {
        None => {
            s.cols = vec![count];
            Ok(Built {
                sql: s.sql(),
                strategy: "count",
            })
        }
        Some(g) => {
            let date = nearest_date(cx, subject);
            let Grouping { cols, by } = group_exprs(cx, q, g, date)?;
            s.cols = cols;
            s.cols.push(format!("{count} AS count"));
            // Counts per day, month… read in time order; others by size.
            s.order = match g {
                Group::Bucket(_) => by.clone(),
                _ => vec!["count DESC".into()],
            };
            s.group = by;
            Ok(Built {
                sql: s.sql(),
                strategy: "group_count",
            })
        }
    }
}

/// `COUNT(DISTINCT col)`.
pub(super) fn count_distinct_shape(cx: &Ctx, plan: &Plan, (t, c): ColRef) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, t, &[])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, t, &joins, &conds);
    s.cols = vec![format!("COUNT(DISTINCT {})", cx.col(q, t, c))];
    Ok(Built {
        sql: s.sql(),
        strategy: "count",
    })
}

/// The shown columns and how many `counted` rows each has.
pub(super) fn count_per_shape(
    cx: &Ctx,
    plan: &Plan,
    counted: usize,
    shown: &[ColRef],
) -> Result<Built, Reason> {
    let extra: Vec<usize> = shown.iter().map(|x| x.0).collect();
    let (joins, conds) = from_where(cx, plan, counted, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, counted, &joins, &conds);
    s.cols = shown.iter().map(|&(t, c)| cx.col(q, t, c)).collect();
    let mut by: Vec<String> = Vec::new();
    for &(t, _) in shown {
        if t != counted
            && let Some(pk) = cx.pk(t)
        {
            let k = cx.col(q, t, pk);
            if !by.contains(&k) {
                by.push(k);
            }
        }
    }
    for col in &s.cols {
        if !by.contains(col) {
            by.push(col.clone());
        }
    }
    s.group = by;
    s.cols.push(format!(
        "{} AS count",
        count_expr(cx, q, counted, joins.fans_out)
    ));
    Ok(Built {
        sql: s.sql(),
        strategy: "group_count",
    })
}

/// The table a group belongs to (none for a date bucket).
pub(super) fn group_table(g: Group) -> Option<usize> {
    match g {
        Group::Col(t, _) | Group::Entity(t) => Some(t),
        Group::Bucket(_) => None,
    }
}
