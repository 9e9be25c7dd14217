//! Rendering: the [`Select`] statement, its FROM/JOIN/WHERE part for a
//! plan, and the expressions the shapes share (counts, groups, the shown
//! columns, the asked direction).

use std::collections::BTreeSet;

use crate::domain::Dialect;

use super::Reason;
use super::conditions::{Cond, conditions, render_conds};
use super::context::Ctx;
use super::dates::bucket_expr;
use super::joins::{Joins, plan_joins};
use super::plan::{ColRef, Group, Plan};

/// One SELECT statement, clause by clause.
pub(super) struct Select {
    pub(super) distinct: bool,
    pub(super) cols: Vec<String>,
    pub(super) from: String,
    pub(super) joins: Vec<String>,
    pub(super) wheres: Vec<String>,
    pub(super) group: Vec<String>,
    pub(super) having: Option<String>,
    pub(super) order: Vec<String>,
    pub(super) limit: Option<u64>,
}

impl Select {
    pub(super) fn sql(&self) -> String {
        let mut s = format!(
            "SELECT {}{} FROM {}",
            if self.distinct { "DISTINCT " } else { "" },
            self.cols.join(", "),
            self.from
        );
        for j in &self.joins {
            s.push(' ');
            s.push_str(j);
        }
        if !self.wheres.is_empty() {
            s.push_str(" WHERE ");
            s.push_str(&self.wheres.join(" AND "));
        }
        if !self.group.is_empty() {
            s.push_str(" GROUP BY ");
            s.push_str(&self.group.join(", "));
        }
        if let Some(h) = &self.having {
            s.push_str(" HAVING ");
            s.push_str(h);
        }
        if !self.order.is_empty() {
            s.push_str(" ORDER BY ");
            s.push_str(&self.order.join(", "));
        }
        if let Some(l) = self.limit {
            s.push_str(&format!(" LIMIT {l}"));
        }
        s
    }
}

/// FROM + joins + WHERE for `base` and the plan's filters plus `extra` tables.
pub(super) fn from_where(
    cx: &Ctx,
    plan: &Plan,
    base: usize,
    extra: &[usize],
) -> Result<(Joins, Vec<Cond>), Reason> {
    let mut needed = BTreeSet::new();
    needed.extend(extra.iter().copied());
    let conds = conditions(cx, plan, base, &mut needed)?;
    if let Some(having) = plan.having_count {
        needed.insert(having.table);
    }
    needed.remove(&base);
    let joins = plan_joins(cx, base, &needed)?;
    Ok((joins, conds))
}

/// The SELECT over `base` with its joins and rendered conditions.
pub(super) fn select(cx: &Ctx, base: usize, joins: &Joins, conds: &[Cond]) -> Select {
    let q = !joins.clauses.is_empty();
    Select {
        distinct: false,
        cols: vec![],
        from: cx.tname(base),
        joins: joins.clauses.clone(),
        wheres: render_conds(cx, q, conds),
        group: vec![],
        having: None,
        order: vec![],
        limit: None,
    }
}

/// `COUNT(*)`, or `COUNT(DISTINCT pk)` when the joins fan out.
///
/// A key of several columns (`Friend(student_id, friend_id)`) counts its
/// rows by the whole key: its first column alone repeats (a student has
/// many friends), and counting it distinct would count each student once.
pub(super) fn count_expr(cx: &Ctx, q: bool, t: usize, fans_out: bool) -> String {
    if !fans_out {
        return "COUNT(*)".into();
    }
    let table = &cx.schema.tables[t];
    let key: Vec<String> = table
        .primary_key
        .iter()
        .filter_map(|k| table.columns.iter().position(|c| &c.name == k))
        .map(|c| cx.col(q, t, c))
        .collect();
    match key.as_slice() {
        [] => "COUNT(*)".into(),
        [one] => format!("COUNT(DISTINCT {one})"),
        several => match cx.dialect {
            Dialect::Postgres => format!("COUNT(DISTINCT ({}))", several.join(", ")),
            Dialect::Mysql => format!("COUNT(DISTINCT {})", several.join(", ")),
            // SQLite counts one expression: the key's columns joined by a
            // separator that key values seldom hold.
            Dialect::Sqlite => format!("COUNT(DISTINCT {})", several.join(" || '|' || ")),
        },
    }
}

/// What a group shows and what it groups by.
pub(super) struct Grouping {
    /// Select columns.
    pub(super) cols: Vec<String>,
    /// GROUP BY expressions.
    pub(super) by: Vec<String>,
}

/// The [`Grouping`] of `g`; a date bucket groups `date`.
pub(super) fn group_exprs(
    cx: &Ctx,
    q: bool,
    g: Group,
    date: Option<ColRef>,
) -> Result<Grouping, Reason> {
    Ok(match g {
        Group::Col(t, c) => Grouping {
            cols: vec![cx.col(q, t, c)],
            by: vec![cx.col(q, t, c)],
        },
        Group::Entity(t) => {
            let labels: Vec<String> = cx.labels(t).into_iter().map(|c| cx.col(q, t, c)).collect();
            let mut by: Vec<String> = cx.pk(t).map(|pk| cx.col(q, t, pk)).into_iter().collect();
            by.extend(
                labels
                    .iter()
                    .filter(|l| !by.contains(l))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            Grouping { cols: labels, by }
        }
        Group::Bucket(b) => {
            let (t, c) = date.ok_or("I found no date column to group by.")?;
            let col = cx.col(q, t, c);
            let e = bucket_expr(cx, b, &col);
            Grouping {
                cols: vec![format!("{e} AS {}", b.noun())],
                by: vec![e],
            }
        }
    })
}

/// `" DESC"` when the question asks for a descending order.
pub(super) fn direction(cx: &Ctx) -> &'static str {
    if ["descending", "desc", "decreasing", "reversed", "reverse"]
        .iter()
        .any(|w| cx.has(w))
    {
        " DESC"
    } else {
        ""
    }
}

/// The columns the question asks for, else the row's name columns, else every column of `entity`.
pub(super) fn projection(cx: &Ctx, q: bool, entity: usize, proj: &[ColRef]) -> Vec<String> {
    let everything = [
        "information",
        "info",
        "details",
        "everything",
        "columns",
        "attributes",
    ]
    .iter()
    .any(|w| cx.has(w));
    // A question ("which/what …") wants the rows' names; an instruction
    // ("show customers …") every column.
    let asks = matches!(cx.word(0), "what" | "which" | "who" | "whose")
        || (cx.word(0) == "and" && matches!(cx.word(1), "what" | "which"));
    if proj.is_empty() && !everything && asks {
        // "Which orchestras …?": the rows' names.
        let labels = cx.labels(entity);
        let named = labels.iter().all(|&c| {
            let n = cx.schema.tables[entity].columns[c]
                .name
                .to_ascii_lowercase();
            n.ends_with("name") || n == "title"
        });
        if !labels.is_empty() && named {
            return labels.into_iter().map(|c| cx.col(q, entity, c)).collect();
        }
    }
    if proj.is_empty() {
        return vec![if q {
            format!("{}.*", cx.tname(entity))
        } else {
            "*".into()
        }];
    }
    proj.iter().map(|&(t, c)| cx.col(q, t, c)).collect()
}
