//! Aggregation: "the average age", "total revenue per region", "the
//! average, minimum and maximum weight" — one or several aggregates of a
//! measure (a column, or quantity × price), overall or per group.

use super::columns::{default_numeric, revenue_measure};
use super::context::{Ctx, num, quote_ident};
use super::counting::{count_shape, group_table};
use super::intent::{AggWord, Intent};
use super::joins::nearest_date;
use super::linking::{Link, Mention, is_key, is_numeric};
use super::plan::{Agg, ColRef, Group, Measure, Plan};
use super::roles::Roles;
use super::select::{Grouping, from_where, group_exprs, select};
use super::{Built, Choices, Reason};

/// An aggregate and the column it applies to.
#[derive(Debug, Clone, Copy)]
pub(super) struct AggregateOf {
    pub(super) agg: Agg,
    pub(super) col: ColRef,
}

/// The aggregate shapes (and a count per group named without a count
/// word), or `None` when the question asks for no aggregate.
pub(super) fn aggregate(
    cx: &Ctx,
    intent: &Intent,
    roles: &Roles,
    subject: usize,
    choices: &mut Choices,
) -> Option<Result<Built, Reason>> {
    let mut all_aggs = intent.agg_words(cx, &roles.total_cols);
    all_aggs.retain(|a| !roles.having_words.contains(&a.pos));
    // "the average, minimum and maximum age", "total population and
    // maximum GNP", "the average and maximum age for each pet type".
    if all_aggs.len() >= 2 {
        let exprs = listed_aggregates(cx, roles, &all_aggs, choices);
        if exprs.len() >= 2 {
            let measures: Vec<(Agg, Measure)> = exprs
                .iter()
                .map(|&AggregateOf { agg, col: (t, c) }| (agg, Measure::Col(t, c)))
                .collect();
            return Some(aggregates_shape(cx, &roles.plan, &measures, roles.group));
        }
    }
    let agg = all_aggs.first().map(|x| x.agg);
    if agg.is_some() || roles.revenue || (roles.group.is_some() && roles.measure_col.is_some()) {
        let group = roles.group.or_else(|| {
            all_aggs
                .first()
                .and_then(|a| per_shown_row(cx, roles, a.pos))
        });
        return Some(single_aggregate(cx, roles, agg, subject, group, choices));
    }
    if !roles.plan.having_aggs.is_empty() {
        return Some(Err(
            "I did not understand which aggregate to show for each group.".into(),
        ));
    }
    // "orders by status" without a count word: count per group.
    let g = roles.group?;
    Some(count_shape(cx, &roles.plan, subject, Some(g), choices))
}

/// Each aggregate word with the numeric column named after it (a column
/// also compared, as in "the average area of countries whose area is over
/// 3000", still counts); words listed together ("average and maximum")
/// share the next column. Empty when some aggregate has no column; the
/// same aggregate of the same column is asked once.
fn listed_aggregates(
    cx: &Ctx,
    roles: &Roles,
    all_aggs: &[AggWord],
    choices: &mut Choices,
) -> Vec<AggregateOf> {
    let schema = cx.schema;
    // The largest and smallest of a text column are its last and first
    // values ("the maximum and minimum share" stored as "22.7%"); sums
    // and averages need numbers. A text key is no value to aggregate.
    let fits = |agg: Agg, (t, c): ColRef| {
        is_numeric(&schema.tables[t].columns[c])
            || (matches!(agg, Agg::Max | Agg::Min) && !is_key(schema, t, c))
    };
    let group_col = match roles.group {
        Some(Group::Col(t, c)) => Some((t, c)),
        _ => None,
    };
    let mut exprs: Vec<AggregateOf> = Vec::new();
    for (k, &AggWord { pos: p, agg }) in all_aggs.iter().enumerate() {
        let col = cx.mentions.iter().enumerate().find_map(|(mi, m)| {
            let Link::Column(cands) = &m.link else {
                return None;
            };
            if m.start <= p {
                return None;
            }
            if let Some(named) = roles.columns.iter().find(|x| x.mention == mi) {
                return fits(agg, named.col).then_some(named.col);
            }
            let nums: Vec<ColRef> = cands
                .iter()
                .copied()
                .filter(|&tc| fits(agg, tc) && Some(tc) != group_col)
                .collect();
            (!nums.is_empty()).then(|| roles.resolve_col(&nums, choices))
        });
        // Agg words listed together share the next column.
        let listed = all_aggs.get(k + 1).is_some_and(|next| {
            (p + 1..next.pos).all(|i| matches!(cx.word(i), "and" | "or" | "the"))
        });
        match col {
            Some(col) => {
                if !exprs.iter().any(|e| e.agg == agg && e.col == col) {
                    exprs.push(AggregateOf { agg, col });
                }
            }
            None if listed => {}
            None => {
                exprs.clear();
                break;
            }
        }
    }
    exprs
}

/// One aggregate (a sum when only revenue or a group was asked for) of
/// the named measure, else revenue, else the subject's obvious number.
fn single_aggregate(
    cx: &Ctx,
    roles: &Roles,
    agg: Option<Agg>,
    subject: usize,
    group: Option<Group>,
    choices: &mut Choices,
) -> Result<Built, Reason> {
    let group_tables: Vec<usize> = match group {
        Some(Group::Col(t, _)) | Some(Group::Entity(t)) => vec![t],
        _ => vec![],
    };
    let measure = match roles.measure_col {
        Some((t, c)) => Measure::Col(t, c),
        None if roles.revenue || agg == Some(Agg::Sum) => {
            let mut near = group_tables;
            near.extend(roles.plan.values.iter().map(|v| v.col.0));
            if near.is_empty() {
                near.extend(roles.tables.iter().map(|x| x.table));
            }
            revenue_measure(cx, &near, choices)?
        }
        None => {
            // "average customers"? Use the subject's single obvious numeric column.
            let (t, c) = default_numeric(cx, subject).ok_or_else(|| {
                format!(
                    "I did not understand which number to aggregate in {}.",
                    cx.schema.tables[subject].name
                )
            })?;
            Measure::Col(t, c)
        }
    };
    let agg = agg.unwrap_or(Agg::Sum);
    aggregate_shape(cx, &roles.plan, measure, agg, group, choices)
}

/// "the names of singers and the total sales of their songs": the name
/// columns of another table, named before the aggregate word at `agg_at`,
/// ask for one aggregate per row of that table.
fn per_shown_row(cx: &Ctx, roles: &Roles, agg_at: usize) -> Option<Group> {
    let (mt, _) = roles.measure_col?;
    let shown: Vec<ColRef> = roles
        .columns
        .iter()
        .filter(|x| cx.mentions[x.mention].end <= agg_at)
        .map(|x| x.col)
        .filter(|&(t, c)| !is_numeric(&cx.schema.tables[t].columns[c]))
        .collect();
    let &(t, _) = shown.first()?;
    let labels = cx.labels(t);
    let names_only = shown.iter().all(|&(st, c)| st == t && labels.contains(&c));
    (t != mt && names_only).then_some(Group::Entity(t))
}

/// The SQL of a measure: its column, or quantity * price.
pub(super) fn measure_expr(cx: &Ctx, q: bool, m: Measure) -> String {
    match m {
        Measure::Col(t, c) => cx.num_col(q, t, c),
        Measure::Product(t, a, b) => format!("{} * {}", cx.num_col(q, t, a), cx.num_col(q, t, b)),
    }
}

/// The alias of an aggregated measure (`average_age`, `total_revenue`).
pub(super) fn measure_alias(cx: &Ctx, agg: Agg, m: Measure) -> String {
    match m {
        Measure::Col(t, c)
            if agg != Agg::Sum
                || !cx.schema.tables[t].columns[c]
                    .name
                    .eq_ignore_ascii_case("total") =>
        {
            format!(
                "{}_{}",
                agg.alias(),
                cx.schema.tables[t].columns[c].name.to_ascii_lowercase()
            )
        }
        Measure::Col(..) => "total".into(),
        Measure::Product(..) => format!("{}_revenue", agg.alias()),
    }
}

/// One aggregate of a measure, per group when there is one.
pub(super) fn aggregate_shape(
    cx: &Ctx,
    plan: &Plan,
    m: Measure,
    agg: Agg,
    group: Option<Group>,
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    aggregates_shape(cx, plan, &[(agg, m)], group)
}

/// Aggregates of measures in one row (`SELECT AVG(a), MAX(b) FROM …`), or
/// one row per group, the groups first unless the question names the
/// aggregate first ([`aggregate_first`]).
fn aggregates_shape(
    cx: &Ctx,
    plan: &Plan,
    measures: &[(Agg, Measure)],
    group: Option<Group>,
) -> Result<Built, Reason> {
    let base = measures[0].1.table();
    // A grain groups the nearest date, whose table must be joined.
    let mut extra: Vec<usize> = group
        .and_then(|g| group_table(g).or_else(|| nearest_date(cx, base).map(|d| d.0)))
        .into_iter()
        .collect();
    extra.extend(measures.iter().map(|(_, m)| m.table()));
    extra.extend(plan.having_aggs.iter().map(|h| h.col.0));
    let (joins, conds) = from_where(cx, plan, base, &extra)?;
    if joins.fans_out {
        return Err(format!(
            "Aggregating {} across those tables would count rows more than once; please rephrase.",
            cx.schema.tables[base].name
        ));
    }
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, base, &joins, &conds);
    let aggs: Vec<String> = measures
        .iter()
        .map(|&(agg, m)| {
            format!(
                "{}({}) AS {}",
                agg.sql(),
                measure_expr(cx, q, m),
                quote_ident(cx.dialect, &measure_alias(cx, agg, m))
            )
        })
        .collect();
    let Some(g) = group else {
        if !plan.having_aggs.is_empty() {
            return Err("I did not understand which groups to compare the aggregate of.".into());
        }
        s.cols = aggs;
        return Ok(Built {
            sql: s.sql(),
            strategy: "aggregate",
        });
    };
    let Grouping { cols, by } = group_exprs(cx, q, g, nearest_date(cx, base))?;
    s.cols = if aggregate_first(cx, g) {
        aggs.into_iter().chain(cols).collect()
    } else {
        cols.into_iter().chain(aggs).collect()
    };
    s.group = by.clone();
    s.order = by;
    let having: Vec<String> = plan
        .having_aggs
        .iter()
        .map(|h| {
            format!(
                "{}({}) {} {}",
                h.agg.sql(),
                cx.num_col(q, h.col.0, h.col.1),
                h.cmp.sql(),
                num(h.value)
            )
        })
        .collect();
    if !having.is_empty() {
        s.having = Some(having.join(" AND "));
    }
    Ok(Built {
        sql: s.sql(),
        strategy: "group_aggregate",
    })
}

/// Whether the question names the aggregate before the groups it is per
/// ("the average weight for each pet type", "the maximum weight and type
/// for each type"): then the aggregate is the first column, as asked. (Counts keep the groups first: "how many … in
/// each …" is read both ways, and the groups-first table reads better.)
pub(super) fn aggregate_first(cx: &Ctx, g: Group) -> bool {
    const AGG: &[&str] = &[
        "average", "avg", "mean", "total", "sum", "maximum", "max", "minimum", "min",
    ];
    let Some(agg) = (0..cx.tokens.len()).find(|&i| AGG.contains(&cx.word(i))) else {
        return false;
    };
    let names_group = |m: &Mention| match (&m.link, g) {
        (Link::Column(cands), Group::Col(t, c)) => cands.first() == Some(&(t, c)),
        (Link::Table(t), Group::Entity(e)) => *t == e,
        (Link::Column(cands), Group::Entity(e)) => cands.first().is_some_and(|x| x.0 == e),
        _ => false,
    };
    let Some(group) = cx.mentions.iter().find(|m| names_group(m)).map(|m| m.start) else {
        return false;
    };
    agg < group
}
