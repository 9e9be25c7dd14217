//! Ranking: superlatives and top-N — rows ranked by their own column (an
//! age, a date, a price, a named number), groups ranked by a summed
//! measure, rows ranked by how many related rows they have, and a column's
//! values ranked by their row counts ("which year has the most concerts").

use std::collections::BTreeSet;

use super::aggregation::{measure_alias, measure_expr};
use super::columns::{age_column, date_column, price_column, revenue_measure};
use super::context::{Ctx, quote_ident};
use super::intent::superlative;
use super::joins::plan_joins;
use super::linking::{holds_numbers, is_key, is_numeric};
use super::plan::{Agg, ColRef, Group, Measure, Plan, named_columns};
use super::roles::Roles;
use super::select::{Grouping, count_expr, from_where, group_exprs, projection, select};
use super::{Built, Choices, Reason};
use crate::domain::SchemaInfo;

/// The ranking shapes, for a question with a superlative at token `rp`.
pub(super) fn rank(
    cx: &Ctx,
    roles: &Roles,
    subject: usize,
    rp: usize,
    choices: &mut Choices,
) -> Result<Built, Reason> {
    let (schema, tokens, mentions, plan) = (cx.schema, cx.tokens, cx.mentions, &roles.plan);
    let desc = superlative(&tokens[rp].lower).unwrap_or(true);
    let entity = roles.tables.first().map(|x| x.table).unwrap_or(subject);
    let entity_mention = roles.tables.first().map(|x| x.mention);
    let plural = entity_mention.is_some_and(|m| {
        let t = &tokens[mentions[m].end - 1];
        t.lower != t.stem && t.lower.ends_with('s')
    });
    let limit = roles.limit.or(if plural { None } else { Some(1) });
    let word = tokens[rp].lower.as_str();
    // "name and age of the oldest singer": the columns named before the
    // superlative are what to show.
    let rank_mention = mentions
        .iter()
        .position(|m| m.start > rp)
        .unwrap_or(mentions.len());
    let rank_proj = named_columns(schema, &roles.columns, rank_mention, plan);
    let ranking = Ranking {
        entity,
        desc,
        limit,
        plural,
        rank_proj: &rank_proj,
    };
    if let Some(built) = rank_by_own_column(cx, roles, &ranking, rp, choices) {
        return built;
    }
    let desc = ranking.desc_for(word, rp, cx);
    if let Some(built) = rank_column_by_count(cx, roles, word, rp, desc, limit) {
        return built;
    }
    // Measure for the ranking.
    let other_table = roles.tables.iter().map(|x| x.table).find(|t| *t != entity);
    // The number named right after the superlative is what ranks
    // ("the country with the lowest population").
    let measure_col = roles
        .columns
        .iter()
        .find(|c| {
            let (t, col) = c.col;
            mentions[c.mention].start > rp && is_measure(schema, t, col)
        })
        .map(|c| c.col)
        .or(roles.measure_col);
    if let Some((t, c)) = measure_col {
        let single =
            t == entity || plan_joins(cx, entity, &BTreeSet::from([t])).is_ok_and(|j| !j.fans_out);
        if single && roles.group.is_none() {
            // "the singer who is worth the most": the measure right
            // before the superlative ranks; it is not asked for.
            let ranks_only = roles.columns.iter().any(|x| {
                x.col == (t, c)
                    && mentions[x.mention].end <= rp
                    && mentions[x.mention].end + 2 >= rp
            });
            let shown: Vec<ColRef> = if ranks_only && rank_proj.len() > 1 {
                rank_proj.iter().copied().filter(|x| *x != (t, c)).collect()
            } else {
                rank_proj.clone()
            };
            return own_column_rank(
                cx,
                plan,
                entity,
                (t, c),
                desc,
                limit.or(Some(10)),
                &shown,
                choices,
            );
        }
        return ranked_group(
            cx,
            plan,
            entity,
            Some(Measure::Col(t, c)),
            Agg::Sum,
            desc,
            limit.or(Some(10)),
            choices,
        );
    }
    if roles.revenue || other_table.is_none() {
        let m = revenue_measure(cx, &[entity], choices)?;
        return ranked_group(
            cx,
            plan,
            entity,
            Some(m),
            Agg::Sum,
            desc,
            limit.or(Some(10)),
            choices,
        );
    }
    let counted = other_table.expect("checked");
    // "the id and name of the museum visited most": the named columns
    // of the ranked rows, when every one is theirs.
    let shown: Vec<ColRef> = if rank_proj.iter().all(|p| p.0 == entity) {
        rank_proj.clone()
    } else {
        Vec::new()
    };
    ranked_group_count(
        cx,
        plan,
        entity,
        counted,
        desc,
        limit.or(Some(10)),
        &shown,
        asks_for_count(cx),
    )
}

/// "Which year has the most concerts?": a column named before "most",
/// "fewest" or "least", ranked by how many rows each of its values has.
fn rank_column_by_count(
    cx: &Ctx,
    roles: &Roles,
    word: &str,
    rp: usize,
    desc: bool,
    limit: Option<u64>,
) -> Option<Result<Built, Reason>> {
    let (schema, mentions) = (cx.schema, cx.mentions);
    let col_before = roles
        .columns
        .iter()
        .find(|c| mentions[c.mention].end <= rp)
        .map(|c| c.col);
    let table_before = roles.tables.iter().any(|t| mentions[t.mention].end <= rp);
    let counted_after = roles
        .tables
        .iter()
        .find(|t| mentions[t.mention].start > rp)
        .map(|t| t.table);
    let numeric_after = roles.columns.iter().any(|c| {
        let (t, col) = c.col;
        mentions[c.mention].start > rp && is_measure(schema, t, col)
    });
    if counts_rows(cx, word, rp)
        && !table_before
        && !numeric_after
        && !roles.revenue
        && let Some(col) = col_before
    {
        let counted = counted_after.unwrap_or(col.0);
        return Some(ranked_column_count(
            cx,
            &roles.plan,
            col,
            counted,
            desc,
            limit.or(Some(1)),
            asks_for_count(cx),
        ));
    }
    None
}

/// The superlative at `rp` ranks by a number of rows: "most", "fewest",
/// "least", or any superlative followed by "number of" ("the greatest
/// number of orchestras").
fn counts_rows(cx: &Ctx, word: &str, rp: usize) -> bool {
    matches!(word, "most" | "fewest" | "least")
        || (cx.word(rp + 1) == "number" && cx.word(rp + 2) == "of")
}

/// A column that can rank rows by its value: a number that is not a key
/// (a key stored as text digits, such as a channel id, is no quantity).
fn is_measure(schema: &SchemaInfo, t: usize, c: usize) -> bool {
    let col = &schema.tables[t].columns[c];
    is_numeric(col) && !(holds_numbers(col) && is_key(schema, t, c))
}

/// What is ranked and how, as read from the superlative.
struct Ranking<'a> {
    entity: usize,
    /// The superlative's own direction.
    desc: bool,
    limit: Option<u64>,
    /// The ranked table was written in the plural ("the oldest singers").
    plural: bool,
    /// The columns named before the superlative.
    rank_proj: &'a [ColRef],
}

impl Ranking<'_> {
    /// "most expensive" ranks descending, "least expensive" ascending.
    fn desc_for(&self, word: &str, rp: usize, cx: &Ctx) -> bool {
        if matches!(word, "most" | "least") && price_word(word, rp, cx) {
            word == "most"
        } else {
            self.desc
        }
    }
}

/// "most expensive", "priciest", "cheapest".
fn price_word(word: &str, rp: usize, cx: &Ctx) -> bool {
    matches!(word, "expensive" | "priciest" | "cheapest")
        || (matches!(word, "most" | "least")
            && matches!(cx.word(rp + 1), "expensive" | "pricey" | "costly"))
}

/// Superlatives that name their own column: "youngest"/"oldest" (an age
/// column when there is one, else a date), "newest"/"most recent" (a date)
/// and "most expensive"/"cheapest" (a price).
fn rank_by_own_column(
    cx: &Ctx,
    roles: &Roles,
    ranking: &Ranking,
    rp: usize,
    choices: &mut Choices,
) -> Option<Result<Built, Reason>> {
    let word = cx.tokens[rp].lower.as_str();
    let entity = ranking.entity;
    let own_limit = ranking.limit.or(Some(if ranking.plural { 10 } else { 1 }));
    let date_word = matches!(word, "newest" | "latest" | "oldest" | "earliest")
        || (matches!(word, "most") && cx.word(rp + 1) == "recent");
    let price_word = price_word(word, rp, cx);
    let desc = ranking.desc_for(word, rp, cx);
    // "youngest"/"oldest": by an age column when there is one.
    if matches!(word, "youngest" | "oldest")
        && let Some(age) = age_column(cx, entity)
    {
        return Some(own_column_rank(
            cx,
            &roles.plan,
            entity,
            age,
            word == "oldest",
            own_limit,
            ranking.rank_proj,
            choices,
        ));
    }
    let date_word = date_word || word == "youngest";
    let desc = if word == "youngest" { true } else { desc };
    if !(date_word || price_word) {
        return None;
    }
    let col = if date_word {
        date_column(cx, entity, &roles.columns)
    } else {
        price_column(cx, entity)
    };
    let Some(col) = col else {
        return Some(Err(format!(
            "I did not find a {} column in {}.",
            if date_word { "date" } else { "price" },
            cx.schema.tables[entity].name
        )));
    };
    Some(own_column_rank(
        cx,
        &roles.plan,
        entity,
        col,
        desc,
        own_limit,
        ranking.rank_proj,
        choices,
    ))
}

/// Rows of `entity` ordered by one column, with its key as tie-break.
#[expect(
    clippy::too_many_arguments,
    reason = "one call per ranking flavour; a struct would only rename them"
)]
pub(super) fn own_column_rank(
    cx: &Ctx,
    plan: &Plan,
    entity: usize,
    (t, c): (usize, usize),
    desc: bool,
    limit: Option<u64>,
    proj: &[ColRef],
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let mut extra = vec![t];
    extra.extend(proj.iter().map(|p| p.0));
    let (joins, conds) = from_where(cx, plan, entity, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, entity, &joins, &conds);
    s.distinct = joins.fans_out;
    s.cols = projection(cx, q, entity, proj);
    // "What is the most expensive product?" shows the price it ranked by;
    // named columns ("the name of …") are shown as asked.
    let measure = cx.col(q, t, c);
    let names_asked = cx.mentions.iter().any(|m| {
        matches!(&m.link, super::linking::Link::Column(cs)
            if cs.iter().any(|&(a, b)| a == entity && cx.labels(entity).contains(&b)))
    });
    if proj.is_empty() && !names_asked && !s.cols.iter().any(|x| *x == measure || x.ends_with('*'))
    {
        s.cols.push(measure);
    }
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{} {dir}", cx.num_col(q, t, c))];
    if let Some(pk) = cx.pk(entity) {
        s.order.push(format!("{} {dir}", cx.col(q, entity, pk)));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

/// Rows of `entity` ranked by an aggregate of a measure over their rows.
#[expect(
    clippy::too_many_arguments,
    reason = "one call per ranking flavour; a struct would only rename them"
)]
pub(super) fn ranked_group(
    cx: &Ctx,
    plan: &Plan,
    entity: usize,
    m: Option<Measure>,
    agg: Agg,
    desc: bool,
    limit: Option<u64>,
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let m = m.ok_or("I did not understand what to rank by.")?;
    let base = m.table();
    let (joins, conds) = from_where(cx, plan, base, &[entity])?;
    if joins.fans_out {
        return Err(format!(
            "Ranking {} by a value of {} would count rows more than once; please rephrase.",
            cx.schema.tables[entity].name, cx.schema.tables[base].name
        ));
    }
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, base, &joins, &conds);
    let Grouping { cols, by } = group_exprs(cx, q, Group::Entity(entity), None)?;
    let alias = quote_ident(cx.dialect, &measure_alias(cx, agg, m));
    s.cols = cols;
    s.cols.push(format!(
        "{}({}) AS {alias}",
        agg.sql(),
        measure_expr(cx, q, m)
    ));
    s.group = by;
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{alias} {dir}")];
    if let Some(pk) = cx.pk(entity) {
        s.order.push(cx.col(q, entity, pk));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

/// Rows of `entity` ranked by how many `counted` rows each has: their
/// `shown` columns (else their names), and the count itself only when the
/// question asks for it ("… and how many …", "list the name and number of …").
#[expect(
    clippy::too_many_arguments,
    reason = "one call per ranking flavour; a struct would only rename them"
)]
pub(super) fn ranked_group_count(
    cx: &Ctx,
    plan: &Plan,
    entity: usize,
    counted: usize,
    desc: bool,
    limit: Option<u64>,
    shown: &[ColRef],
    show_count: bool,
) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, counted, &[entity])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, counted, &joins, &conds);
    let Grouping { mut cols, mut by } = group_exprs(cx, q, Group::Entity(entity), None)?;
    if !shown.is_empty() {
        cols = shown.iter().map(|&(t, c)| cx.col(q, t, c)).collect();
        by = cx
            .pk(entity)
            .map(|pk| cx.col(q, entity, pk))
            .into_iter()
            .collect();
        for c in &cols {
            if !by.contains(c) {
                by.push(c.clone());
            }
        }
    }
    let count = count_expr(cx, q, counted, joins.fans_out);
    s.cols = cols;
    let order = if show_count {
        let alias = format!(
            "{}_count",
            crate::text::stem(&cx.schema.tables[counted].name.to_ascii_lowercase())
        );
        let alias = quote_ident(cx.dialect, &alias);
        s.cols.push(format!("{count} AS {alias}"));
        alias
    } else {
        count
    };
    s.group = by;
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{order} {dir}")];
    if let Some(pk) = cx.pk(entity) {
        s.order.push(cx.col(q, entity, pk));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

/// `col` ranked by how many `counted` rows each of its values has.
pub(super) fn ranked_column_count(
    cx: &Ctx,
    plan: &Plan,
    (t, c): ColRef,
    counted: usize,
    desc: bool,
    limit: Option<u64>,
    show_count: bool,
) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, counted, &[t])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, counted, &joins, &conds);
    let col = cx.col(q, t, c);
    let count = count_expr(cx, q, counted, joins.fans_out);
    s.cols = vec![col.clone()];
    if show_count {
        s.cols.push(count.clone());
    }
    // "the name of the student with the most friends": the rows of another
    // table are counted per student (its one-column key), not per name.
    // Other columns ("which city has the most flights") are counted per value.
    let names_rows = {
        let n = cx.schema.tables[t].columns[c].name.to_ascii_lowercase();
        n.contains("name") || n.contains("title")
    };
    let key = cx.pk(t).filter(|&pk| {
        names_rows && t != counted && pk != c && cx.schema.tables[t].primary_key.len() == 1
    });
    s.group = match key {
        Some(pk) => vec![cx.col(q, t, pk), col],
        None => vec![col],
    };
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{count} {dir}")];
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

/// Whether a ranking question also asks for the count it ranks by: "how
/// many", or "number"/"count" that is not the ranking phrase itself ("the
/// most number of", "the largest number of").
pub(super) fn asks_for_count(cx: &Ctx) -> bool {
    const RANKING: &[&str] = &[
        "most", "least", "fewest", "largest", "greatest", "highest", "lowest", "smallest",
        "biggest", "maximum", "minimum", "max", "min",
    ];
    (0..cx.tokens.len()).any(|i| match cx.word(i) {
        "many" => i > 0 && cx.word(i - 1) == "how",
        "number" | "count" | "counts" => {
            let before = |k: usize| i >= k && RANKING.contains(&cx.word(i - k));
            !(before(1) || (before(2) && cx.word(i - 1) == "the"))
        }
        _ => false,
    })
}
