//! The offline generator's confidence rule (see [`crate::engine::llm::trust`]).
//!
//! - Its own reading of the question (the shapes): `high` when every content
//!   word was mapped onto the schema and the SQL uses every table, column
//!   and value the question names, on one table without grouping; `medium`
//!   when words were read past (`words_ignored`), matched the schema but went
//!   unused (`words_unused`), a literal matched no stored value
//!   (`value_guessed`), tables were joined along an inferred path
//!   (`joined_tables`), rows were grouped (`grouped`), a "than" found no
//!   comparison (`comparison_unread`) or no column was named
//!   so all are shown (`all_columns`); `low` when an alternative reading was
//!   taken after the best one failed. Joins and groupings are where the
//!   offline reading goes wrong most often (measured in docs/EVALUATION.md),
//!   so they are never `high`.
//! - A trained example reused unchanged: `high` only when both questions have
//!   the same content words; otherwise `medium`.
//! - A trained example adapted to the question: `medium` when it was close
//!   enough to win over the shapes; `low` when it only stood in because the
//!   shapes found no reading.

use crate::connectors::SchemaInfo;
use crate::engine::llm::trust::{Assumption, Confidence, Trust};
use crate::text;

use super::adapt::Adapted;
use super::linking::{self, Link};

/// A trained example reused as is.
pub fn reused(question: &str, example: &str) -> Trust {
    let same_words = text::content_words(question) == text::content_words(example);
    let mut t = Trust::new(Confidence::High);
    let message = format!("answered with the SQL of the trained example '{example}'");
    if same_words {
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
        Some(format!("{}.{}", table.trim_matches('"'), col.trim_matches('"')))
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
