//! Aggregation: "the average age", "total revenue per region", "the
//! average, minimum and maximum weight" — one or several aggregates of a
//! measure (a column, or quantity × price), overall or per group.

use super::columns::{default_numeric, revenue_measure};
use super::context::{Ctx, quote_ident};
use super::counting::{count_shape, group_table};
use super::intent::{AggWord, Intent};
use super::joins::nearest_date;
use super::linking::{Link, Mention, is_numeric};
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
    let all_aggs = intent.agg_words(cx, &roles.total_cols);
    // "the average, minimum and maximum age", "total population and maximum GNP".
    if all_aggs.len() >= 2 && roles.group.is_none() {
        let exprs = listed_aggregates(cx, roles, &all_aggs);
        if exprs.len() >= 2 {
            return Some(multi_aggregate_shape(cx, &roles.plan, &exprs));
        }
    }
    let agg = all_aggs.first().map(|x| x.agg);
    if agg.is_some() || roles.revenue || (roles.group.is_some() && roles.measure_col.is_some()) {
        return Some(single_aggregate(cx, roles, agg, subject, choices));
    }
    // "orders by status" without a count word: count per group.
    let g = roles.group?;
    Some(count_shape(cx, &roles.plan, subject, Some(g), choices))
}

/// Each aggregate word with the numeric column named after it; words
/// listed together ("average and maximum") share the next column. Empty
/// when some aggregate has no column.
fn listed_aggregates(cx: &Ctx, roles: &Roles, all_aggs: &[AggWord]) -> Vec<AggregateOf> {
    let schema = cx.schema;
    let mentions: &[Mention] = cx.mentions;
    let numeric = |(t, c): ColRef| is_numeric(&schema.tables[t].columns[c]);
    let mut exprs: Vec<AggregateOf> = Vec::new();
    for (k, &AggWord { pos: p, agg }) in all_aggs.iter().enumerate() {
        let col = roles
            .columns
            .iter()
            .find(|x| mentions[x.mention].start > p && numeric(x.col))
            .map(|x| x.col);
        // Agg words listed together share the next column.
        let listed = all_aggs.get(k + 1).is_some_and(|next| {
            (p + 1..next.pos).all(|i| matches!(cx.word(i), "and" | "or" | "the"))
        });
        match col {
            Some(col) => exprs.push(AggregateOf { agg, col }),
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
    choices: &mut Choices,
) -> Result<Built, Reason> {
    let group_tables: Vec<usize> = match roles.group {
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
    aggregate_shape(cx, &roles.plan, measure, agg, roles.group, choices)
}

/// Several aggregates in one row: `SELECT AVG(a), MAX(b) FROM …`.
pub(super) fn multi_aggregate_shape(
    cx: &Ctx,
    plan: &Plan,
    exprs: &[AggregateOf],
) -> Result<Built, Reason> {
    let base = exprs[0].col.0;
    let extra: Vec<usize> = exprs.iter().map(|e| e.col.0).collect();
    let (joins, conds) = from_where(cx, plan, base, &extra)?;
    if joins.fans_out {
        return Err(format!(
            "Aggregating {} across those tables would count rows more than once; please rephrase.",
            cx.schema.tables[base].name
        ));
    }
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, base, &joins, &conds);
    s.cols = exprs
        .iter()
        .map(|&AggregateOf { agg, col: (t, c) }| {
            let m = Measure::Col(t, c);
            format!(
                "{}({}) AS {}",
                agg.sql(),
                measure_expr(cx, q, m),
                quote_ident(cx.dialect, &measure_alias(cx, agg, m))
            )
        })
        .collect();
    Ok(Built {
        sql: s.sql(),
        strategy: "aggregate",
    })
}

/// The SQL of a measure: its column, or quantity * price.
pub(super) fn measure_expr(cx: &Ctx, q: bool, m: Measure) -> String {
    match m {
        Measure::Col(t, c) => cx.col(q, t, c),
        Measure::Product(t, a, b) => format!("{} * {}", cx.col(q, t, a), cx.col(q, t, b)),
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
    let base = m.table();
    // A grain groups the nearest date, whose table must be joined.
    let extra: Vec<usize> = group
        .and_then(|g| group_table(g).or_else(|| nearest_date(cx, base).map(|d| d.0)))
        .into_iter()
        .collect();
    let (joins, conds) = from_where(cx, plan, base, &extra)?;
    if joins.fans_out {
        return Err(format!(
            "Aggregating {} across those tables would count rows more than once; please rephrase.",
            cx.schema.tables[base].name
        ));
    }
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, base, &joins, &conds);
    let alias = measure_alias(cx, agg, m);
    let e = format!(
        "{}({}) AS {}",
        agg.sql(),
        measure_expr(cx, q, m),
        quote_ident(cx.dialect, &alias)
    );
    match group {
        None => {
            s.cols = vec![e];
            Ok(Built {
                sql: s.sql(),
                strategy: "aggregate",
            })
        }
        Some(g) => {
            let Grouping { cols, by } = group_exprs(cx, q, g, nearest_date(cx, base))?;
            s.cols = cols;
            s.cols.push(e);
            if aggregate_first(cx, g) {
                s.cols.rotate_right(1);
            }
            s.group = by.clone();
            s.order = by;
            Ok(Built {
                sql: s.sql(),
                strategy: "group_aggregate",
            })
        }
    }
}

/// Whether the question names the aggregate before the groups it is per
/// ("the average weight for each pet type"): then the aggregate is the
/// first column, as asked. (Counts keep the groups first: "how many … in
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
    agg < group && (agg..group).any(|i| matches!(cx.word(i), "each" | "every"))
}
