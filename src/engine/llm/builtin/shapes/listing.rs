//! Listing: "names of singers from France", "distinct countries", "all
//! teachers in alphabetical order" — distinct values of one column, or rows
//! with the columns the question names.

use std::collections::BTreeSet;

use super::context::{Ctx, num};
use super::joins::plan_joins;
use super::linking::{Link, is_numeric};
use super::plan::{ColRef, HavingCount, Plan, named_columns};
use super::roles::Roles;
use super::select::{count_expr, direction, from_where, projection, select};
use super::{Built, Choices, Reason};

/// "names of poker players": distinct values of the first named column,
/// when it is a plural, non-numeric column and the only one named; `None`
/// otherwise.
pub(super) fn distinct(
    cx: &Ctx,
    roles: &Roles,
    choices: &mut Choices,
) -> Option<Result<Built, Reason>> {
    let (schema, tokens, mentions, plan) = (cx.schema, cx.tokens, cx.mentions, &roles.plan);
    let fi = mentions
        .iter()
        .position(|m| matches!(m.link, Link::Column(_) | Link::Table(_)))?;
    let (t, c) = roles.columns.iter().find(|x| x.mention == fi)?.col;
    let col = &schema.tables[t].columns[c];
    let tok = &tokens[mentions[fi].end - 1];
    let plural =
        tok.lower != tok.stem || cx.has("distinct") || cx.has("unique") || cx.has("different");
    let several = named_columns(schema, &roles.columns, usize::MAX, plan).len() > 1;
    // "names of conductors with more than one orchestra" is a list of
    // rows with a count condition, not a set of values.
    if !plural || is_numeric(col) || several || plan.having_count.is_some() {
        return None;
    }
    // "names of poker players": the named table keeps only its rows
    // (when a key path joins it), and so does the ordering's table.
    let mut with: Vec<usize> = roles.order_by.map(|o| o.0).into_iter().collect();
    let end = mentions[fi].end;
    let of_it = |mi: usize| {
        let start = mentions[mi].start;
        start > end && start <= end + 3 && (end..start).any(|i| matches!(cx.word(i), "of" | "for"))
    };
    if let Some(named) = roles.tables.iter().find(|x| of_it(x.mention))
        && named.table != t
        && plan_joins(cx, t, &BTreeSet::from([named.table])).is_ok()
    {
        with.push(named.table);
    }
    Some(distinct_shape(
        cx,
        plan,
        (t, c),
        roles.order_by,
        &with,
        choices,
    ))
}

/// The list shape: named columns are the projection ("name and age of
/// singers"), unless they are the value filters' own columns.
pub(super) fn list(cx: &Ctx, roles: &Roles, subject: usize) -> Result<Built, Reason> {
    let plan = &roles.plan;
    let proj = named_columns(cx.schema, &roles.columns, usize::MAX, plan);
    // "in alphabetical order": by the first column shown, else the row's label.
    let alphabetical = [
        "alphabetical",
        "alphabetically",
        "lexicographical",
        "lexicographically",
    ]
    .iter()
    .any(|w| cx.has(w));
    // "in descending order" with no column: by the first column shown.
    let direction_only = [
        "descending",
        "ascending",
        "decreasing",
        "increasing",
        "reversed",
        "reverse",
    ]
    .iter()
    .any(|w| cx.has(w));
    let order_by = match roles.order_by {
        None if alphabetical || (direction_only && !proj.is_empty()) => proj
            .first()
            .copied()
            .or_else(|| cx.labels(subject).first().map(|&c| (subject, c))),
        o => o,
    };
    list_shape(cx, plan, subject, order_by, roles.limit, &proj)
}

/// `SELECT DISTINCT col`, ordered by it (or by the asked ordering).
pub(super) fn distinct_shape(
    cx: &Ctx,
    plan: &Plan,
    (t, c): (usize, usize),
    order_by: Option<(usize, usize)>,
    with: &[usize],
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, t, with)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, t, &joins, &conds);
    s.cols = vec![cx.col(q, t, c)];
    let (ot, oc) = order_by.unwrap_or((t, c));
    // DISTINCT cannot order by a column it does not show (PostgreSQL refuses it).
    s.distinct = (ot, oc) == (t, c);
    s.order = vec![format!("{}{}", cx.col(q, ot, oc), direction(cx))];
    Ok(Built {
        sql: s.sql(),
        strategy: "distinct",
    })
}

/// Rows of the subject: the named columns (else names or every column),
/// filtered, ordered and limited; with a count condition, grouped.
pub(super) fn list_shape(
    cx: &Ctx,
    plan: &Plan,
    subject: usize,
    order_by: Option<(usize, usize)>,
    limit: Option<u64>,
    proj: &[ColRef],
) -> Result<Built, Reason> {
    let mut extra: Vec<usize> = order_by.map(|o| o.0).into_iter().collect();
    extra.extend(proj.iter().map(|p| p.0));
    let (joins, conds) = from_where(cx, plan, subject, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, subject, &joins, &conds);
    s.distinct = joins.fans_out;
    s.cols = projection(cx, q, subject, proj);
    if let Some((t, c)) = order_by {
        s.order = vec![format!("{}{}", cx.col(q, t, c), direction(cx))];
    }
    if let Some(HavingCount {
        table: t,
        cmp,
        value: x,
    }) = plan.having_count
    {
        s.distinct = false;
        if t == subject && !proj.is_empty() && proj.iter().all(|p| p.0 == subject) {
            // "nationalities shared by at least two people": groups of the
            // shown values, counted in the same table.
            s.group = proj.iter().map(|&(pt, pc)| cx.col(q, pt, pc)).collect();
            s.having = Some(format!("COUNT(*) {} {}", cmp.sql(), num(x)));
            s.limit = limit;
            return Ok(Built {
                sql: s.sql(),
                strategy: "list",
            });
        }
        // "customers with more than 10 orders": one row per subject.
        let pk = cx
            .pk(subject)
            .ok_or("I need a primary key to count per row.")?;
        s.group = vec![cx.col(q, subject, pk)];
        s.having = Some(format!(
            "{} {} {}",
            count_expr(cx, q, t, true),
            cmp.sql(),
            num(x)
        ));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "list",
    })
}
