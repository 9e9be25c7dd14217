//! What an example must share with the question beyond its slots: every
//! filter it applies is asked for, every table it counts through is named,
//! the grouping and the comparisons are the question's. Each check names the
//! way an example of another meaning would otherwise slip through
//! [`super::adapt_one`].

use std::collections::BTreeSet;

use crate::domain::SchemaInfo;

use super::super::sql_pieces::{Piece, str_body};
use super::{Facts, lit_pieces, table_name};

/// Every string literal of the example's SQL is named by one of the two
/// questions (a value to keep or swap), or the question has a word it
/// starts ("Asian" for 'Asia'). An unnamed filter is part of the example's
/// meaning the question may not share: "the most popular language in Asia"
/// never answers "the continent with the most languages". One- and
/// two-letter flags ('T', 'F') are left out: "official" reads `= 'T'`.
/// When the example's question asks for nothing the question does not (no
/// content word of its own, no value without a counterpart), an unnamed literal cannot stand for a word of
/// it: it is a convention the trainer wrote into the SQL ("customers" never
/// counts the corporate segment), and the adapted SQL keeps it.
pub(super) fn unnamed_literals(
    q: &Facts,
    e: &Facts,
    sql: &str,
    ps: &[Piece],
) -> Result<(), &'static str> {
    if e.values.len() <= q.values.len() && e.words.is_subset(&q.words) {
        return Ok(());
    }
    let named: BTreeSet<usize> = q
        .values
        .iter()
        .chain(&e.values)
        .flat_map(|l| lit_pieces(sql, ps, l))
        .collect();
    for (i, p) in ps.iter().enumerate() {
        let Piece::Str { start, end, .. } = p else {
            continue;
        };
        let body = str_body(sql, *start, *end).to_lowercase();
        if named.contains(&i) || body.chars().count() <= 2 {
            continue;
        }
        let first = body.split_whitespace().next().unwrap_or("");
        let worded = first.chars().count() >= 3
            && q.raw_words
                .iter()
                .any(|w| w.starts_with(first) || (w.len() >= 4 && first.starts_with(w.as_str())));
        if !worded {
            return Err("unnamed literal");
        }
    }
    Ok(())
}

/// A table the example's question names that its SQL reaches only through a
/// key column ("How many different departments offer degrees?" counts
/// `department_id` of the degree programs) is a slot like any other: the
/// question must name it too.
pub(super) fn unnamed_key_tables(
    q: &Facts,
    e: &Facts,
    ids: &BTreeSet<String>,
    schema: &SchemaInfo,
) -> Result<(), &'static str> {
    let q_tables = q.named_tables();
    for &t in &e.tables {
        if ids.contains(&table_name(schema, t)) || q_tables.contains(&t) {
            continue;
        }
        let target = &schema.tables[t].name;
        // A key column of the SQL to it, or a table of the SQL that
        // refers to it (the bridge the example counts through).
        let by_key = schema.tables.iter().any(|other| {
            let in_sql = ids.contains(&other.name.to_lowercase());
            other.foreign_keys.iter().any(|f| {
                f.ref_table.eq_ignore_ascii_case(target)
                    && (in_sql || f.columns.iter().any(|c| ids.contains(&c.to_lowercase())))
            })
        });
        if by_key {
            return Err("example key table unmatched");
        }
    }
    Ok(())
}

/// "For each citizenship …" is answered by groups, never by an example
/// without `GROUP BY`; "How many different nationalities" (distinct values,
/// no "each") never by an example that groups.
pub(super) fn same_grouping(q: &Facts, sql: &str) -> Result<(), &'static str> {
    let groups = sql.to_lowercase().contains(" group by ");
    if q.form.grouped && !groups {
        return Err("grouping missing");
    }
    if q.form.distinct && !q.form.grouped && groups {
        return Err("grouping added");
    }
    Ok(())
}

/// A number the question compares ("2 or more") is compared the same way
/// in the SQL: `>= 2`, not `BETWEEN 1 AND 2`.
pub(super) fn same_comparisons(q: &Facts, sql: &str, ps: &[Piece]) -> Result<(), &'static str> {
    for l in q.values.iter().filter(|l| l.number.is_some()) {
        if l.context == "=" {
            continue;
        }
        for i in lit_pieces(sql, ps, l) {
            let Piece::Num { start, .. } = ps[i] else {
                continue;
            };
            let prev_end = match i.checked_sub(1).map(|j| &ps[j]) {
                Some(
                    Piece::Str { end, .. } | Piece::Num { end, .. } | Piece::Ident { end, .. },
                ) => *end,
                None => 0,
            };
            let op = sql[prev_end..start].trim();
            if op != l.context {
                return Err("comparison");
            }
        }
    }
    Ok(())
}
