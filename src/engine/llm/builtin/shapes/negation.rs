//! Negation: "singers who are not from France" (`<>` on a value) and
//! "stadiums that did not have a concert in 2014" (`NOT IN` a subquery
//! over the negated table, built from its own small plan). When the
//! question asks for the distinct values of one column ("countries that
//! are not playing cartoons by X"), the values are negated, not the rows:
//! a country is left out when any of its channels plays one.

use super::context::Ctx;
use super::joins::{Edge, fk_path};
use super::linking::Link;
use super::linking::is_key;
use super::plan::{ColRef, ColumnText, Plan};
use super::roles::ColumnMention;
use super::select::{from_where, select};
use super::{NEGATIONS, Reason};

/// How a negation in the question is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Neg {
    None,
    /// The mention at this index is a value (or a literal right after one of
    /// the subject's columns) the subject must not have (`<>`).
    Value(usize),
    /// From mention `first` on, the question describes rows of `table`
    /// that the subject must have none of (`NOT IN`).
    Exists {
        first: usize,
        table: usize,
    },
}

/// Position of the first negation word.
pub(super) fn negation_at(cx: &Ctx) -> Option<usize> {
    cx.tokens
        .iter()
        .position(|t| !t.quoted && NEGATIONS.contains(&t.lower.as_str()))
}

/// The table the question is about before its negation.
pub(super) fn pre_negation_subject(cx: &Ctx) -> Option<usize> {
    let p = negation_at(cx)?;
    cx.mentions
        .iter()
        .filter(|m| m.end <= p)
        .find_map(|m| match &m.link {
            Link::Table(t) => Some(*t),
            _ => None,
        })
        .or_else(|| {
            cx.mentions
                .iter()
                .filter(|m| m.end <= p)
                .find_map(|m| match &m.link {
                    Link::Column(c) => c.first().map(|x| x.0),
                    _ => None,
                })
        })
}

/// How the question's negation (if any) is read.
pub(super) fn negation(cx: &Ctx) -> Neg {
    let Some(p) = negation_at(cx) else {
        return Neg::None;
    };
    // "no less than", "no more than" are comparisons.
    if super::vocabulary::negated_comparison(cx.word(p + 1)) {
        return Neg::None;
    }
    let Some(subject) = pre_negation_subject(cx) else {
        return Neg::None;
    };
    let Some(first) = cx.mentions.iter().position(|m| {
        m.start > p
            && m.start <= p + 6
            && matches!(m.link, Link::Table(_) | Link::Column(_) | Link::Value(_))
    }) else {
        return Neg::None;
    };
    match &cx.mentions[first].link {
        Link::Table(t) if *t != subject => Neg::Exists { first, table: *t },
        Link::Value(v) if v.iter().any(|x| x.0 == subject) => Neg::Value(first),
        Link::Value(v) => Neg::Exists {
            first,
            table: v[0].0,
        },
        // "channels that do not have any cartoons directed by X": a column
        // of another table describes the rows the subject must have none of.
        Link::Column(c) if !c.iter().any(|x| x.0 == subject) => {
            if column_clause_is_plain(cx, p, first) {
                Neg::Exists {
                    first,
                    table: c[0].0,
                }
            } else {
                Neg::None
            }
        }
        // "conductors that do not have the nationality 'USA'": the value or
        // literal right after the subject's own column.
        Link::Column(_) if !first_after(cx, p, first) => Neg::None,
        Link::Column(_) => match cx.mentions.get(first + 1) {
            Some(m)
                if m.start <= cx.mentions[first].end + 2
                    && matches!(m.link, Link::Value(_) | Link::Literal(_)) =>
            {
                Neg::Value(first + 1)
            }
            _ => Neg::None,
        },
        _ => Neg::None,
    }
}

/// Mention `first` is the first mention of any kind after the negation at `p`.
fn first_after(cx: &Ctx, p: usize, first: usize) -> bool {
    cx.mentions.iter().position(|m| m.start > p) == Some(first)
}

/// A negated clause that starts with another table's column reads as "has
/// no such rows" only when it is that simple: the column comes right after
/// the negation, a stored value or a year follows it, no number (a measure
/// compared: "have not cost more than 1000" is a sum, not a row) and no
/// literal right before the negation ("English is not the official
/// language" negates the literal, not the column).
fn column_clause_is_plain(cx: &Ctx, p: usize, first: usize) -> bool {
    let after = &cx.mentions[first + 1..];
    let literal_before = cx
        .mentions
        .iter()
        .any(|m| m.end <= p && m.end + 2 >= p && matches!(m.link, Link::Literal(_)));
    first_after(cx, p, first)
        && !literal_before
        && after
            .iter()
            .any(|m| matches!(m.link, Link::Value(_) | Link::Year(_)))
        && !after.iter().any(|m| matches!(m.link, Link::Number(_)))
}

/// `NOT IN` for "subjects without any `negated` row (matching `sub`)": the
/// subject's key and the subquery over the first table of the path.
pub(super) fn not_in_subquery(
    cx: &Ctx,
    subject: usize,
    negated: usize,
    sub: &Plan,
) -> Result<ColumnText, Reason> {
    let path = fk_path(cx.schema, &[subject], negated)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            format!(
                "I could not find a foreign-key path between {} and {}.",
                cx.schema.tables[subject].name, cx.schema.tables[negated].name
            )
        })?;
    let Edge {
        to,
        child,
        child_col: ccol,
        parent_col: pcol,
        ..
    } = path[0];
    let (key, inner_col) = if child == to {
        ((subject, pcol), ccol)
    } else {
        ((subject, ccol), pcol)
    };
    let (joins, conds) = from_where(cx, sub, to, &[negated])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, to, &joins, &conds);
    s.cols = vec![cx.col(q, to, inner_col)];
    Ok(ColumnText {
        col: key,
        text: s.sql(),
    })
}

/// The one column asked for when the question wants distinct values of the
/// subject (a plural, or "different", naming one text column of it that is
/// neither a key nor a name): the column a negation should exclude values of.
pub(super) fn values_asked(cx: &Ctx, shown: &[ColumnMention], subject: usize) -> Option<ColRef> {
    let [one] = shown else {
        return None;
    };
    let (t, c) = one.col;
    let col = &cx.schema.tables[t].columns[c];
    let m = &cx.mentions[one.mention];
    let tok = &cx.tokens[m.end - 1];
    let plural = tok.lower != tok.stem
        || ["distinct", "different", "unique"]
            .iter()
            .any(|w| cx.has(w));
    // A name stands for its row: "names of stadiums without concerts" are
    // the stadiums' names, and the rows are negated as before.
    let lower = col.name.to_ascii_lowercase();
    let name = lower.ends_with("name") || lower == "title";
    (t == subject
        && plural
        && !name
        && !is_key(cx.schema, t, c)
        && !super::linking::is_numeric(col))
    .then_some((t, c))
}

/// `col NOT IN` the values of `col` on rows that have a `negated` row
/// (matching `sub`): "template type codes not used by any document" leaves
/// out a code when any template of that code is used. NULLs are kept out of
/// the subquery, where one would make `NOT IN` match nothing.
pub(super) fn not_in_values(
    cx: &Ctx,
    (t, c): ColRef,
    negated: usize,
    sub: &Plan,
) -> Result<ColumnText, Reason> {
    let (joins, conds) = from_where(cx, sub, t, &[negated])?;
    if joins.clauses.is_empty() {
        return Err(format!(
            "I could not find a foreign-key path between {} and {}.",
            cx.schema.tables[t].name, cx.schema.tables[negated].name
        ));
    }
    let mut s = select(cx, t, &joins, &conds);
    let inner = cx.col(true, t, c);
    s.cols = vec![inner.clone()];
    s.wheres.push(format!("{inner} IS NOT NULL"));
    Ok(ColumnText {
        col: (t, c),
        text: s.sql(),
    })
}
