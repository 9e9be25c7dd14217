//! Columns by role: which column of a table is its age, price, date or
//! default number, which column a LIKE text or a bound literal belongs to,
//! and the money measure for revenue questions.

use crate::domain::ColumnInfo;

use super::Choices;
use super::Reason;
use super::context::Ctx;
use super::joins::distance;
use super::linking::{Link, is_date, is_key, is_numeric};
use super::plan::{ColRef, Measure};
use super::roles::ColumnMention;

/// The table's one non-key numeric column, else its money column.
pub(super) fn default_numeric(cx: &Ctx, t: usize) -> Option<(usize, usize)> {
    let cols = &cx.schema.tables[t].columns;
    let nums: Vec<usize> = (0..cols.len())
        .filter(|&c| is_numeric(&cols[c]) && !is_key(cx.schema, t, c))
        .collect();
    if nums.len() == 1 {
        return Some((t, nums[0]));
    }
    let money = ["price", "total", "amount", "revenue"];
    money
        .iter()
        .find_map(|m| nums.iter().find(|&&c| cols[c].name.eq_ignore_ascii_case(m)))
        .map(|&c| (t, c))
}

/// The column a LIKE text is matched in: the text column named just before
/// it ("a city containing …"), else just after ("'Hey' in its title").
pub(super) fn like_target(
    cx: &Ctx,
    mi: usize,
    plain: &[ColumnMention],
    choices: &mut Choices,
) -> Option<ColRef> {
    let text = |&(t, c): &ColRef| !is_numeric(&cx.schema.tables[t].columns[c]);
    let start = cx.mentions[mi].start;
    if let Some(named) = plain
        .iter()
        .rev()
        .find(|p| cx.mentions[p.mention].end + 5 >= start && text(&p.col))
    {
        return Some(named.col);
    }
    let next = cx.mentions.get(mi + 1)?;
    if next.start > cx.mentions[mi].end + 3 {
        return None;
    }
    match &next.link {
        Link::Column(cs) => {
            let texts: Vec<ColRef> = cs.iter().copied().filter(text).collect();
            (!texts.is_empty()).then(|| texts[choices.pick(texts.len()).min(texts.len() - 1)])
        }
        _ => None,
    }
}

/// The text columns a literal is bound to.
pub(super) struct BoundColumn {
    pub(super) cols: Vec<ColRef>,
    /// The column is written after the literal ("Gelderland district").
    pub(super) after: bool,
}

/// A literal written right after or right before a text column names that
/// column's value.
pub(super) fn bound_column(cx: &Ctx, mi: usize) -> Option<BoundColumn> {
    let m = &cx.mentions[mi];
    let texts = |cs: &[ColRef]| -> Vec<ColRef> {
        cs.iter()
            .copied()
            .filter(|&(t, c)| !is_numeric(&cx.schema.tables[t].columns[c]))
            .collect()
    };
    if mi > 0 {
        let p = &cx.mentions[mi - 1];
        let gap = m.start - p.end;
        let glue = (p.end..m.start).all(|i| matches!(cx.word(i), "named" | "called" | "of"));
        if gap <= 1
            && glue
            && let Link::Column(cs) = &p.link
        {
            let t = texts(cs);
            if !t.is_empty() {
                return Some(BoundColumn {
                    cols: t,
                    after: false,
                });
            }
        }
    }
    let n = cx.mentions.get(mi + 1)?;
    if n.start == m.end
        && let Link::Column(cs) = &n.link
    {
        let t = texts(cs);
        if !t.is_empty() {
            return Some(BoundColumn {
                cols: t,
                after: true,
            });
        }
    }
    None
}

/// The table's age column (`age`, `*_age`).
pub(super) fn age_column(cx: &Ctx, t: usize) -> Option<(usize, usize)> {
    let cols = &cx.schema.tables[t].columns;
    cols.iter()
        .position(|c| {
            let n = c.name.to_ascii_lowercase();
            is_numeric(c)
                && (n == "age" || n.ends_with("_age") || n.ends_with("age") && n.len() <= 7)
        })
        .map(|c| (t, c))
}

/// The table's price column, else its default numeric column.
pub(super) fn price_column(cx: &Ctx, t: usize) -> Option<(usize, usize)> {
    let cols = &cx.schema.tables[t].columns;
    cols.iter()
        .position(|c| c.name.to_ascii_lowercase().contains("price") && is_numeric(c))
        .map(|c| (t, c))
        .or_else(|| default_numeric(cx, t))
}

/// The date column named for table `t`, else its first date column.
pub(super) fn date_column(cx: &Ctx, t: usize, plain: &[ColumnMention]) -> Option<ColRef> {
    if let Some(named) = plain.iter().find(|p| {
        let (pt, pc) = p.col;
        pt == t && is_date(&cx.schema.tables[pt].columns[pc])
    }) {
        return Some(named.col);
    }
    cx.schema.tables[t]
        .columns
        .iter()
        .position(is_date)
        .map(|c| (t, c))
}

/// Money measure for questions about revenue/sales: a column called
/// revenue/sales/amount/total, or quantity × price on a line-item table;
/// the candidate nearest (by FK hops) to the tables in play wins.
pub(super) fn revenue_measure(
    cx: &Ctx,
    near: &[usize],
    choices: &mut Choices,
) -> Result<Measure, Reason> {
    let mut cands: Vec<Measure> = Vec::new();
    for (ti, t) in cx.schema.tables.iter().enumerate() {
        for (ci, c) in t.columns.iter().enumerate() {
            let n = c.name.to_ascii_lowercase();
            if is_numeric(c)
                && ["revenue", "sales", "amount", "total", "total_amount"].contains(&n.as_str())
            {
                cands.push(Measure::Col(ti, ci));
            }
        }
        let q = t.columns.iter().position(|c| {
            let n = c.name.to_ascii_lowercase();
            is_numeric(c) && (n == "quantity" || n == "qty" || n == "units")
        });
        let p = t
            .columns
            .iter()
            .position(|c| c.name.to_ascii_lowercase().contains("price") && is_numeric(c));
        if let (Some(q), Some(p)) = (q, p) {
            cands.push(Measure::Product(ti, q, p));
        }
    }
    if cands.is_empty() {
        return Err("I did not find a revenue, sales or amount column, nor quantity and price columns to compute it.".into());
    }
    let cost = |m: &Measure| {
        near.iter()
            .map(|&t| distance(cx.schema, m.table(), t))
            .sum::<usize>()
    };
    cands.sort_by_key(|m| (cost(m), matches!(m, Measure::Product(..))));
    let i = choices.pick(cands.len());
    Ok(cands[i])
}

/// A column holding years (`year`, `open_year`), not a date.
pub(super) fn is_year_column(c: &ColumnInfo) -> bool {
    let n = c.name.to_ascii_lowercase();
    !is_date(c) && (n == "year" || n.ends_with("_year") || n.starts_with("year_"))
}
