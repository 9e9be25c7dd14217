//! The offline generator's confidence rule (see [`crate::engine::llm::trust`]).
//!
//! - Its own reading of the question (the shapes): `high` when every content
//!   word was mapped onto the schema and the SQL uses every table, column
//!   and value the question names, on one table without grouping; `medium`
//!   when words were read past (`words_ignored`), matched the schema but went
//!   unused (`words_unused`), a literal matched no stored value
//!   (`value_guessed`), tables were joined along an inferred path
//!   (`joined_tables`), rows were grouped (`grouped`), a "than" found no
//!   comparison (`comparison_unread`), two values joined by "and" were
//!   read as rows having both (`values_both`), or no column was named
//!   so all are shown (`all_columns`); `low` when an alternative reading was
//!   taken after the best one failed. Joins and groupings are where the
//!   offline reading goes wrong most often (measured in docs/EVALUATION.md),
//!   so they are never `high`.
//! - A trained example reused unchanged: `high` only when both questions have
//!   the same content words and the shapes' own reading agrees with its SQL
//!   (same columns, aggregates, literals and limit); otherwise `medium`.
//! - A trained example adapted to the question: `medium` when it was close
//!   enough to win over the shapes; `low` when it only stood in because the
//!   shapes found no reading.

use crate::domain::SchemaInfo;
use crate::engine::llm::trust::{Assumption, Confidence, Trust};
use crate::text;

use super::adapt::Adapted;
use super::linking::{self, Link};

/// A trained example reused as is: `high` only when both questions have the
/// same content words *and* the shapes' own reading of the question
/// (`own_sql`) agrees with the example's SQL ([`same_reading`]); a twin
/// trained with other SQL for the same words is a guess between two answers.
pub fn reused(
    question: &str,
    example: &str,
    example_sql: &str,
    own_sql: Option<&str>,
    schema: &SchemaInfo,
) -> Trust {
    let same_words = text::content_words(question) == text::content_words(example);
    let agrees = own_sql.is_some_and(|own| same_reading(own, example_sql, schema));
    let mut t = Trust::new(Confidence::High);
    let message = format!("answered with the SQL of the trained example '{example}'");
    if same_words && agrees {
        t.assumptions
            .push(Assumption::new("trained_example", message));
    } else {
        t.assume(
            Confidence::Medium,
            Assumption::new("trained_example", message),
        );
    }
    t
}

/// Two SQL texts read the question alike: the same non-key columns,
/// aggregate functions, literals and row limit. Style (aliases, quoting,
/// `DISTINCT`, the order of a list) is left out.
pub fn same_reading(a: &str, b: &str, schema: &SchemaInfo) -> bool {
    use super::sql_pieces::{Piece, idents, pieces, str_body};
    use std::collections::BTreeSet;
    let sig = |sql: &str| {
        let ps = pieces(sql);
        let mut ids = idents(sql, &ps);
        // A double-quoted name of the schema is an identifier, not a string.
        let names = |n: &str| {
            schema.tables.iter().any(|t| {
                t.name.eq_ignore_ascii_case(n)
                    || t.columns.iter().any(|c| c.name.eq_ignore_ascii_case(n))
            })
        };
        let quoted_name = |p: &Piece| match p {
            Piece::Str {
                start,
                end,
                quote: '"',
            } => {
                let body = str_body(sql, *start, *end);
                names(body).then(|| body.to_lowercase())
            }
            _ => None,
        };
        ids.extend(ps.iter().filter_map(quoted_name));
        let mut out: BTreeSet<String> = BTreeSet::new();
        for (ti, t) in schema.tables.iter().enumerate() {
            for (ci, c) in t.columns.iter().enumerate() {
                let name = c.name.to_lowercase();
                if ids.contains(&name) && !linking::is_key(schema, ti, ci) {
                    out.insert(format!("c:{name}"));
                }
            }
        }
        for f in ["count", "avg", "sum", "max", "min", "limit"] {
            if ids.contains(f) {
                out.insert(format!("f:{f}"));
            }
        }
        for p in &ps {
            match p {
                Piece::Str { .. } if quoted_name(p).is_some() => {}
                Piece::Str { start, end, .. } => {
                    out.insert(format!("s:{}", str_body(sql, *start, *end).to_lowercase()));
                }
                Piece::Num { value, .. } => {
                    out.insert(format!("n:{value}"));
                }
                Piece::Ident { .. } => {}
            }
        }
        out
    };
    sig(a) == sig(b)
}

/// A trained example adapted (or, `strategy == "trained_example"`, taken
/// unchanged because nothing needed swapping).
pub fn adapted(a: &Adapted, strategy: &str, at_most: Confidence) -> Trust {
    let mut t = Trust::new(Confidence::High);
    let (code, verb) = if at_most == Confidence::Low {
        ("loose_example", "borrowed from the loosely similar")
    } else if strategy == "trained_example" {
        ("trained_example", "answered with the SQL of the similar")
    } else {
        ("adapted_example", "adapted from the")
    };
    t.assume(
        at_most,
        Assumption::new(code, format!("{verb} trained example '{}'", a.question)),
    );
    t
}

/// The shapes' own reading.
pub fn shaped(question: &str, schema: &SchemaInfo, sql: &str, variant: usize) -> Trust {
    let mut t = Trust::new(Confidence::High);
    let unused = unused_mentions(question, schema, sql);
    if !unused.is_empty() {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "words_unused",
                format!(
                    "'{}' matched the schema but the SQL does not use it",
                    unused.join("', '")
                ),
            ),
        );
    }
    for note in period_notes(question, schema, sql) {
        t.assume(Confidence::Medium, Assumption::new("period_anchor", note));
    }
    if let Some(col) = empty_range(sql) {
        t.assume(
            Confidence::Low,
            Assumption::new(
                "contradictory_filters",
                format!(
                    "the conditions on {col} exclude each other, so no row can match; the question may ask for rows meeting each condition separately"
                ),
            ),
        );
    }
    if let Some((a, b)) = values_joined_by_and(question, schema, sql) {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "values_either",
                format!(
                    "'{a}' and '{b}' read as rows with either value; something having both would need another reading"
                ),
            ),
        );
    }
    let both = text::question_tokens(question)
        .iter()
        .any(|t| !t.quoted && t.lower == "both");
    if sql.contains(" INTERSECT ") && !both {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "values_both",
                "two values joined by 'and' read as rows having both; rows with either value would need another reading",
            ),
        );
    }
    for (code, message) in misreadings(question, schema, sql) {
        t.assume(Confidence::Medium, Assumption::new(code, message));
    }
    if let Some(n) = ranked_limit(sql) {
        // Stated, not doubted: the cut-off is a choice the reader should see.
        t.assumptions.push(Assumption::new(
            "ties",
            if n == 1 {
                "only the first row by the ranking is shown; a row tied with it is left out (ties are broken by key order)".to_string()
            } else {
                format!(
                    "only the first {n} rows by the ranking are shown; rows tied at the cut-off are broken by key order"
                )
            },
        ));
    }
    let guessed = guessed_literals(question, schema);
    if !guessed.is_empty() {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "value_guessed",
                format!(
                    "'{}' is no stored value; the column it is compared with was guessed",
                    guessed.join("', '")
                ),
            ),
        );
    }
    let asks_comparison = text::question_tokens(question)
        .iter()
        .any(|t| !t.quoted && t.lower == "than");
    if asks_comparison && !sql.contains('>') && !sql.contains('<') {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "comparison_unread",
                "the question compares ('… than …') but the SQL has no comparison",
            ),
        );
    }
    if sql.contains(" JOIN ") {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "joined_tables",
                "the tables were joined along their keys; the join path was inferred, not stated",
            ),
        );
    }
    if sql.contains(" GROUP BY ") {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "grouped",
                "the rows are grouped by the column read as the question's grouping",
            ),
        );
    }
    if selects_every_column(sql) {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "all_columns",
                "no column was named, so every column of the table is shown",
            ),
        );
    }
    let unread = super::unread_words(question, schema);
    if !unread.is_empty() {
        t.assume(
            Confidence::Medium,
            Assumption::new(
                "words_ignored",
                format!(
                    "read past '{}': no table, column or value matches",
                    unread.join("', '")
                ),
            ),
        );
    }
    if variant > 0 {
        t.assume(
            Confidence::Low,
            Assumption::new(
                "alternative_reading",
                "an alternative reading of the question, taken after the first one failed",
            ),
        );
    }
    t
}

/// Words of the question that link to a table, column or value the SQL
/// never names: the reading left part of the question out.
fn unused_mentions(question: &str, schema: &SchemaInfo, sql: &str) -> Vec<String> {
    let tokens = text::question_tokens(question);
    let lower = sql.to_lowercase();
    let has = |name: &str| lower.contains(&name.to_lowercase());
    let col = |t: usize, c: usize| schema.tables[t].columns[c].name.as_str();
    let mut out = Vec::new();
    for m in linking::link(&tokens, schema) {
        let used = match &m.link {
            Link::Table(t) => has(&schema.tables[*t].name),
            Link::Column(c) => c.iter().any(|&(t, c)| has(col(t, c))),
            Link::Value(v) => v.iter().any(|(_, _, s)| has(s)),
            Link::Literal(s) => has(s),
            // A grain is used only by a grouping ("monthly" must not vanish).
            Link::Bucket(_) => lower.contains(" group by "),
            Link::Number(_) | Link::Year(_) | Link::Revenue | Link::Period(_) => true,
        };
        if !used {
            let words: Vec<&str> = tokens[m.start..m.end]
                .iter()
                .map(|t| t.raw.as_str())
                .collect();
            out.push(words.join(" "));
        }
    }
    out
}

/// What each relative period of the question ("last year") was counted
/// from: the anchor subquery `(SELECT MAX(col) FROM table)` the shapes wrote.
fn period_notes(question: &str, schema: &SchemaInfo, sql: &str) -> Vec<String> {
    let tokens = text::question_tokens(question);
    let anchor = sql.find("(SELECT MAX(").and_then(|i| {
        let rest = &sql[i + "(SELECT MAX(".len()..];
        let (col, rest) = rest.split_once(") FROM ")?;
        let table = rest.split(')').next()?;
        Some(format!(
            "{}.{}",
            table.trim_matches('"'),
            col.trim_matches('"')
        ))
    });
    linking::link(&tokens, schema)
        .into_iter()
        .filter_map(|m| match m.link {
            Link::Period(p) if p.is_relative() => {
                let words: Vec<&str> = tokens[m.start..m.end]
                    .iter()
                    .map(|t| t.raw.as_str())
                    .collect();
                let column = anchor.clone().unwrap_or_else(|| "date".into());
                Some(super::time::anchor_note(&words.join(" "), p, &column))
            }
            _ => None,
        })
        .collect()
}

/// A column that the WHERE clause bounds below and above with no room in
/// between (`age > 40 AND age < 30`), as written by the shapes.
fn empty_range(sql: &str) -> Option<String> {
    let body = sql.split_once(" WHERE ")?.1;
    let body = [" GROUP BY ", " ORDER BY ", " LIMIT "]
        .iter()
        .filter_map(|k| body.find(k))
        .min()
        .map_or(body, |i| &body[..i]);
    let mut bounds: Vec<(&str, f64, f64)> = Vec::new();
    for part in body.split(" AND ") {
        let mut it = part.split_whitespace();
        let (Some(col), Some(op), Some(x), None) = (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let Ok(x) = x.parse::<f64>() else { continue };
        let (lo, hi) = match op {
            ">" | ">=" => (x, f64::INFINITY),
            "<" | "<=" => (f64::NEG_INFINITY, x),
            _ => continue,
        };
        match bounds.iter_mut().find(|b| b.0 == col) {
            Some(b) => {
                b.1 = b.1.max(lo);
                b.2 = b.2.min(hi);
            }
            None => bounds.push((col, lo, hi)),
        }
    }
    bounds
        .into_iter()
        .find(|b| b.1 >= b.2)
        .map(|b| b.0.trim_matches('"').to_string())
}

/// Two stored values joined by "and" ("paragraph text 'Brazil' and
/// 'Ireland'") that the SQL reads as `IN (…)`: either one, not both.
fn values_joined_by_and(
    question: &str,
    schema: &SchemaInfo,
    sql: &str,
) -> Option<(String, String)> {
    if !sql.contains(" IN ('") {
        return None;
    }
    let tokens = text::question_tokens(question);
    let mentions = linking::link(&tokens, schema);
    let text_of = |m: &linking::Mention| -> Option<String> {
        match &m.link {
            Link::Value(v) => v.first().map(|x| x.2.clone()),
            Link::Literal(s) => Some(s.clone()),
            _ => None,
        }
    };
    mentions.windows(2).find_map(|w| {
        let joined = w[0].end + 1 == w[1].start && tokens[w[0].end].lower == "and";
        if !joined {
            return None;
        }
        Some((text_of(&w[0])?, text_of(&w[1])?))
    })
}

/// Signs that the reading took one meaning of an ambiguous question: a
/// word that fits several columns of one table (`column_guessed`), a column
/// named twice — to show and to filter — that is only filtered
/// (`column_not_shown`), a ranked row showing a column no word names
/// (`columns_added`), and an ordinal ("the first student to register")
/// with no ranking in the SQL (`ordinal_unread`).
fn misreadings(question: &str, schema: &SchemaInfo, sql: &str) -> Vec<(&'static str, String)> {
    let tokens = text::question_tokens(question);
    let mentions = linking::link(&tokens, schema);
    let lower = sql.to_lowercase();
    let shown = lower
        .split_once(" from ")
        .map_or("", |(h, _)| h)
        .to_string();
    let words = |m: &linking::Mention| -> String {
        tokens[m.start..m.end]
            .iter()
            .map(|t| t.raw.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = Vec::new();
    for m in &mentions {
        if let Link::Column(c) = &m.link
            && let Some(&(t0, _)) = c.first()
            && c.iter().filter(|(t, _)| *t == t0).count() > 1
        {
            out.push((
                "column_guessed",
                format!(
                    "'{}' fits several columns of {}; one was chosen",
                    words(m),
                    schema.tables[t0].name
                ),
            ));
        }
    }
    let firsts: Vec<(usize, usize)> = mentions
        .iter()
        .filter_map(|m| match &m.link {
            Link::Column(c) if c.len() == 1 => Some(c[0]),
            _ => None,
        })
        .collect();
    for (i, &(t, c)) in firsts.iter().enumerate() {
        let name = schema.tables[t].columns[c].name.to_lowercase();
        if firsts[..i].contains(&(t, c)) && !shown.contains(&name) {
            out.push((
                "column_not_shown",
                format!("{name} is named twice but only filtered on, not shown"),
            ));
        }
    }
    let covered = |i: usize| mentions.iter().any(|m| m.start <= i && i < m.end);
    let ordinal = (1..tokens.len()).any(|i| {
        matches!(tokens[i].lower.as_str(), "first" | "last")
            && !tokens[i].quoted
            && !covered(i)
            && tokens[i - 1].lower == "the"
    });
    // A ranked row showing a column no word asked for: "the lowest grade"
    // may want the value itself, not the row that has it.
    if ranked_limit(sql).is_some() {
        let named = |col: &str| {
            mentions.iter().any(|m| match &m.link {
                Link::Column(c) => c
                    .iter()
                    .any(|&(t, c)| schema.tables[t].columns[c].name.eq_ignore_ascii_case(col)),
                _ => false,
            })
        };
        let unasked: Vec<String> = shown
            .trim_start_matches("select ")
            .trim_start_matches("distinct ")
            .split(", ")
            .filter(|e| !e.contains('(') && !e.contains(" as ") && !e.contains('*'))
            .map(|e| {
                e.rsplit('.')
                    .next()
                    .unwrap_or(e)
                    .trim_matches(['"', '`'])
                    .to_string()
            })
            .filter(|c| !named(c))
            .collect();
        if !unasked.is_empty() {
            out.push((
                "columns_added",
                format!(
                    "{} shown though not asked for; the question may want the ranked value itself",
                    unasked.join(", ")
                ),
            ));
        }
    }
    if ordinal && !lower.contains(" limit ") {
        out.push((
            "ordinal_unread",
            "'first'/'last' may rank the rows, but the SQL shows all of them".to_string(),
        ));
    }
    out
}

/// The N of a ranked `ORDER BY … LIMIT N` (the shapes' top-N and superlatives).
fn ranked_limit(sql: &str) -> Option<u64> {
    let (head, limit) = sql.rsplit_once(" LIMIT ")?;
    if !head.contains(" ORDER BY ") {
        return None;
    }
    limit.trim().trim_end_matches(';').parse().ok()
}

/// Capitalised or quoted words that matched no stored value.
fn guessed_literals(question: &str, schema: &SchemaInfo) -> Vec<String> {
    let tokens = text::question_tokens(question);
    linking::link(&tokens, schema)
        .into_iter()
        .filter_map(|m| match m.link {
            Link::Literal(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// `SELECT *` or `SELECT t.*`: the columns to show were guessed.
fn selects_every_column(sql: &str) -> bool {
    let head = sql
        .split_once(" FROM ")
        .map_or(sql, |(h, _)| h)
        .trim_start();
    let Some(list) = head.trim_start().strip_prefix("SELECT") else {
        return false;
    };
    let list = list.trim_start();
    let list = list.strip_prefix("DISTINCT ").unwrap_or(list);
    // A `*` item, not the `*` of `COUNT(*)` or of `quantity * price`.
    list.split(", ")
        .any(|item| item.trim() == "*" || item.trim().ends_with(".*"))
}
