//! The builtin offline generator: SQL without a network or a model.
//!
//! It works only from the introspected schema (names, keys and the stored
//! values of low-cardinality text columns) and the retrieved trained examples,
//! in three steps:
//!
//! 1. **Reuse** a trained example when the question is a paraphrase of it: the
//!    retrieval score reaches `reuse_threshold` *and* both name the same
//!    tables, values and numbers, or their content-word sets nearly agree
//!    (Jaccard ≥ 0.75). The entity check is why "How many orders are there?"
//!    never reuses "How many customers are there?" however close the vectors.
//!    Even then the negation, the ranking direction and the numbers must agree
//!    ([`adapt::fits`]).
//! 2. Otherwise **adapt a close example** ([`adapt`]): same SQL skeleton,
//!    the question's values (or one column) swapped in, never an example
//!    that names a table, column or value the question does not. A very
//!    close one (content-word similarity ≥ 0.5, retrieval score ≥ 0.6) wins
//!    over step 3.
//! 3. Otherwise **map the question's shape** onto the schema ([`shapes`]) via
//!    schema and value linking ([`linking`]). When no shape fits, a looser
//!    adapted example (similarity ≥ 0.2) answers rather than nothing.
//!
//! Time words are read by [`time`]: grains ("monthly", "per quarter") group
//! the nearest date, periods ("last year", "the last 30 days", "December
//! 2025") filter it, relative ones counted from the latest stored date (the
//! anchor the answer states). How sure each answer is, and what it assumed,
//! is [`trust`]'s rule.
//!
//! Words that link to nothing are read past only when they are relationship
//! verbs ("produced", "enrolled"), parts of schema names or generic nouns —
//! the joins carry their meaning — and the answer then names them in a
//! `words_not_used` warning ([`unread_words`]). Any other unknown word (an
//! adjective such as "happy", a capitalised literal we cannot place, "both" /
//! "either") still makes it say what it did not understand instead of
//! guessing: a wrong query that runs is worse than no query. Retries (non-empty
//! `previous_attempts`) take the next-best interpretation and never repeat a
//! failed SQL text.

mod adapt;
mod linking;
mod shapes;
mod sql_pieces;
mod time;
mod trust;

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::trust::Confidence;
use super::{
    ContextItem, Generation, GenerationOutcome, GenerationRequest, LlmError, LlmProvider,
    TokenUsage,
};
use crate::domain::SchemaInfo;
use crate::text;

/// Content-word Jaccard similarity at which a trained question counts as the same question.
const JACCARD_REUSE: f64 = 0.75;
/// Similarity from which an adapted example wins over the shape builder at
/// the default reuse threshold (a stricter threshold raises it)…
const ADAPT_PREFERRED: f64 = 0.5;
/// …if retrieval also ranked it this close.
const ADAPT_PREFERRED_SCORE: f32 = 0.6;
/// Similarity from which an adapted example answers a question the shapes could not read.
const ADAPT_FALLBACK: f64 = 0.2;
/// Interpretations tried at most per question (the best one plus alternatives).
const MAX_VARIANTS: usize = 8;

/// The offline generator (provider name `builtin`).
#[derive(Debug, Clone)]
pub struct BuiltinGenerator {
    /// Retrieval cosine similarity from which a trained example is reused.
    reuse_threshold: f32,
}

impl Default for BuiltinGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl BuiltinGenerator {
    pub const DEFAULT_REUSE_THRESHOLD: f32 = 0.80;

    pub fn new() -> Self {
        Self {
            reuse_threshold: Self::DEFAULT_REUSE_THRESHOLD,
        }
    }

    /// A generator that reuses trained examples from `reuse_threshold` on.
    pub fn with_threshold(reuse_threshold: f32) -> Self {
        Self { reuse_threshold }
    }

    pub fn reuse_threshold(&self) -> f32 {
        self.reuse_threshold
    }

    /// Similarity from which an adapted example wins over the shapes: it
    /// rises twice as fast as the configured reuse threshold.
    fn adapt_floor(&self) -> f64 {
        let extra = f64::from(self.reuse_threshold - Self::DEFAULT_REUSE_THRESHOLD);
        (ADAPT_PREFERRED + 2.0 * extra).max(0.0)
    }

    /// The synchronous core of [`LlmProvider::generate`].
    pub fn generate_sync(&self, req: &GenerationRequest) -> Generation {
        let failed: BTreeSet<String> = req
            .previous_attempts
            .iter()
            .map(|a| normalise_sql(&a.sql))
            .collect();
        let adapted = || {
            adapt::adapt(&req.question, &req.schema, &req.context.examples, &failed).map(|a| {
                let kept = req
                    .context
                    .examples
                    .iter()
                    .any(|e| e.sql.as_deref() == Some(a.sql.as_str()));
                let strategy = if kept {
                    "trained_example"
                } else {
                    "adapted_example"
                };
                (a, strategy)
            })
        };
        let (outcome, strategy, trust) = match self.reuse(req, &failed) {
            Some(reused) => {
                let own = interpret(&req.question, &req.schema, req.dialect, &failed).ok();
                let trust = trust::reused(
                    &req.question,
                    &reused.question,
                    &reused.sql,
                    own.as_ref().map(|r| r.sql.as_str()),
                    &req.schema,
                );
                let outcome = GenerationOutcome::Sql { sql: reused.sql };
                (outcome, Some("trained_example"), Some(trust))
            }
            None => match adapted().filter(|(a, _)| {
                a.similarity >= self.adapt_floor() && a.score >= ADAPT_PREFERRED_SCORE
            }) {
                Some((a, strategy)) => {
                    let trust = trust::adapted(&a, strategy, Confidence::Medium);
                    (
                        GenerationOutcome::Sql { sql: a.sql },
                        Some(strategy),
                        Some(trust),
                    )
                }
                None => match interpret(&req.question, &req.schema, req.dialect, &failed) {
                    Ok(read) => {
                        let trust =
                            trust::shaped(&req.question, &req.schema, &read.sql, read.variant);
                        let outcome = GenerationOutcome::Sql { sql: read.sql };
                        (outcome, Some(read.strategy), Some(trust))
                    }
                    // No reading of our own: a looser example beats no answer.
                    Err(reason) => {
                        match adapted().filter(|(a, _)| a.similarity >= ADAPT_FALLBACK) {
                            Some((a, strategy)) => {
                                let trust = trust::adapted(&a, strategy, Confidence::Low);
                                (
                                    GenerationOutcome::Sql { sql: a.sql },
                                    Some(strategy),
                                    Some(trust),
                                )
                            }
                            None => (
                                GenerationOutcome::Unanswerable {
                                    reason: write_request_reason(&req.question).unwrap_or(reason),
                                },
                                None,
                                None,
                            ),
                        }
                    }
                },
            },
        };
        Generation {
            outcome,
            usage: TokenUsage::default(),
            strategy: strategy.map(str::to_string),
            trust,
        }
    }

    fn reuse(&self, req: &GenerationRequest, failed: &BTreeSet<String>) -> Option<Reused> {
        let words = text::content_words(&req.question);
        let entities = entity_signature(&req.question, &req.schema);
        let mut best: Option<(f64, &ContextItem)> = None;
        for ex in &req.context.examples {
            let Some(sql) = ex.sql.as_deref() else {
                continue;
            };
            if sql.trim().is_empty() || failed.contains(&normalise_sql(sql)) {
                continue;
            }
            let j = text::jaccard(&words, &text::content_words(&ex.content));
            let by_words = j >= JACCARD_REUSE;
            let by_score = ex.score >= self.reuse_threshold;
            // The same question means the same tables, columns and values.
            let same_entities = entity_signature(&ex.content, &req.schema) == entities;
            if (by_words || by_score)
                && same_entities
                && adapt::fits(&req.question, &req.schema, &ex.content)
            {
                let rank = f64::from(ex.score).max(j);
                if best.is_none_or(|b| rank > b.0) {
                    best = Some((rank, ex));
                }
            }
        }
        best.and_then(|(_, ex)| {
            Some(Reused {
                sql: ex.sql.clone()?,
                question: ex.content.clone(),
            })
        })
    }
}

/// A trained example reused unchanged.
struct Reused {
    sql: String,
    question: String,
}

/// One reading of the question by the shapes.
struct Reading {
    sql: String,
    strategy: &'static str,
    /// 0 for the best reading; more for alternatives taken after failures.
    variant: usize,
}

/// Tables, columns, values, numbers and years a question names: two
/// questions about different things never share an answer.
fn entity_signature(question: &str, schema: &SchemaInfo) -> BTreeSet<String> {
    let tokens = text::question_tokens(question);
    linking::link(&tokens, schema)
        .into_iter()
        .filter_map(|m| match m.link {
            linking::Link::Table(t) => Some(format!("t:{t}")),
            linking::Link::Column(c) => c.first().map(|(t, c)| format!("c:{t}.{c}")),
            linking::Link::Value(v) => v.first().map(|(_, _, s)| format!("v:{}", s.to_lowercase())),
            linking::Link::Literal(s) => Some(format!("l:{}", s.to_lowercase())),
            linking::Link::Number(x) => Some(format!("n:{x}")),
            linking::Link::Year(y) => Some(format!("y:{y}")),
            linking::Link::Revenue => Some("revenue".into()),
            linking::Link::Bucket(b) => Some(format!("b:{b:?}")),
            linking::Link::Period(p) => Some(format!("p:{p:?}")),
        })
        .collect()
}

/// Words of `question` that the shape reading did not use: they link to no
/// table, column or value and are not question vocabulary (relationship verbs
/// such as "produced", which the joins stand for). An answer built from the
/// shapes shows them, so the user can check the SQL means what they asked.
pub fn unread_words(question: &str, schema: &SchemaInfo) -> Vec<String> {
    let tokens = text::question_tokens(question);
    let mentions = linking::link(&tokens, schema);
    tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            !mentions.iter().any(|m| m.start <= *i && *i < m.end)
                && !t.quoted
                && !text::is_question_filler(&t.lower)
                && !linking::INTENT_WORDS.contains(&t.lower.as_str())
                && t.number().is_none()
                && !shapes::NEGATIONS.contains(&t.lower.as_str())
        })
        .map(|(_, t)| t.raw.clone())
        .collect()
}

/// Whitespace- and case-insensitive form used to recognise a repeated SQL text.
fn normalise_sql(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(';')
        .trim()
        .to_lowercase()
}

/// "both X and Y" / "either X or Y", where X and Y are parallel filters
/// ("both cats and dogs", "both before 2009 and after 2011"): the question is
/// read once with each conjunct and the two queries joined with `INTERSECT`
/// or `UNION`. Conjuncts are taken as equally long, and each must hold a
/// filter (a value, literal, number or year), so "show both the name and
/// the id" is not split.
fn set_operation(
    tokens: &[text::Token],
    schema: &SchemaInfo,
    dialect: crate::domain::Dialect,
    failed: &BTreeSet<String>,
) -> Option<String> {
    let p = tokens
        .iter()
        .position(|t| !t.quoted && matches!(t.lower.as_str(), "both" | "either"))?;
    let (joiner, op) = if tokens[p].lower == "both" {
        ("and", "INTERSECT")
    } else {
        ("or", "UNION")
    };
    let k = (p + 2..tokens.len()).find(|&i| !tokens[i].quoted && tokens[i].lower == joiner)?;
    let len = k - (p + 1);
    let end = (k + 1 + len).min(tokens.len());
    let first = &tokens[p + 1..k];
    let second = &tokens[k + 1..end];
    let filters = |part: &[text::Token]| {
        linking::link(part, schema).iter().any(|m| {
            matches!(
                m.link,
                linking::Link::Value(_)
                    | linking::Link::Literal(_)
                    | linking::Link::Number(_)
                    | linking::Link::Year(_)
            )
        })
    };
    if !filters(first) || !filters(second) {
        return None;
    }
    let read = |part: &[text::Token]| -> Option<String> {
        let mut toks: Vec<text::Token> = tokens[..p].to_vec();
        toks.extend_from_slice(part);
        toks.extend_from_slice(&tokens[end..]);
        let mentions = linking::link(&toks, schema);
        let built = shapes::build(
            schema,
            dialect,
            &toks,
            &mentions,
            &mut shapes::Choices::new(0),
        )
        .ok()?;
        // Counts and rankings do not combine row by row.
        if !matches!(built.strategy, "list" | "distinct") || built.sql.contains(" LIMIT ") {
            return None;
        }
        let sql = match built.sql.rfind(" ORDER BY ") {
            Some(i) if !built.sql[i..].contains(')') => built.sql[..i].to_string(),
            _ => built.sql,
        };
        Some(sql)
    };
    let (a, b) = (read(first)?, read(second)?);
    // Both halves must show the same columns.
    let shown = |sql: &str| -> Option<String> {
        let rest = sql.strip_prefix("SELECT ")?;
        let rest = rest.strip_prefix("DISTINCT ").unwrap_or(rest);
        Some(rest[..rest.find(" FROM ")?].to_string())
    };
    if a == b || shown(&a)? != shown(&b)? {
        return None;
    }
    let sql = format!("{a} {op} {b}");
    (!failed.contains(&normalise_sql(&sql))).then_some(sql)
}

/// "channels playing cartoons directed by A and B", "the document ids with
/// paragraph text 'A' and 'B'": two values of one column joined by "and"
/// (no "or" in the question), on rows of which each answer row stands for
/// many — a table the shown rows reach from parent to children, or the
/// filtered table itself when only its keys to other tables are shown. One
/// row cannot hold both values, so `col IN (A, B)` would answer "either";
/// the rows having both are the `INTERSECT` of the two readings. Rows of
/// the filtered table itself ("names of customers in France and Germany")
/// keep `IN`.
fn both_values(
    tokens: &[text::Token],
    schema: &SchemaInfo,
    dialect: crate::domain::Dialect,
    sql: &str,
) -> Option<String> {
    if tokens
        .iter()
        .any(|t| !t.quoted && matches!(t.lower.as_str(), "or" | "either"))
        || [
            " INTERSECT ",
            " UNION ",
            " EXCEPT ",
            " GROUP BY ",
            " LIMIT ",
            "(SELECT",
        ]
        .iter()
        .any(|k| sql.contains(k))
    {
        return None;
    }
    let mentions = linking::link(tokens, schema);
    let text_of = |m: &linking::Mention| match &m.link {
        linking::Link::Value(v) => v.first().map(|x| x.2.clone()),
        linking::Link::Literal(s) => Some(s.clone()),
        _ => None,
    };
    let (a, b) = mentions.windows(2).find_map(|w| {
        let joined = w[0].end + 1 == w[1].start && tokens[w[0].end].lower == "and";
        joined.then_some(())?;
        Some((text_of(&w[0])?, text_of(&w[1])?))
    })?;
    let list = format!(
        " IN ({}, {})",
        shapes::quote_str(dialect, &a),
        shapes::quote_str(dialect, &b)
    );
    let at = sql.find(&list)?;
    let filtered = owner_of(schema, sql[..at].rsplit([' ', '(']).next()?, sql)?;
    let (shown, _) = sql.strip_prefix("SELECT ")?.split_once(" FROM ")?;
    let shown = shown.strip_prefix("DISTINCT ").unwrap_or(shown);
    let many = shown.split(", ").all(|c| {
        let Some((t, col)) = owner_col(schema, c, sql) else {
            return false;
        };
        let table = &schema.tables[t];
        match col {
            Some(name) if t == filtered => {
                table
                    .foreign_keys
                    .iter()
                    .any(|f| f.columns == [name.clone()])
                    && !table.primary_key.contains(&name)
            }
            _ if t == filtered => false,
            _ => shapes::fans_out(schema, t, filtered),
        }
    });
    if !many {
        return None;
    }
    let half = |v: &str| {
        let one = sql.replacen(&list, &format!(" = {}", shapes::quote_str(dialect, v)), 1);
        match one.rfind(" ORDER BY ") {
            Some(i) if !one[i..].contains(')') => one[..i].to_string(),
            _ => one,
        }
    };
    Some(format!("{} INTERSECT {}", half(&a), half(&b)))
}

/// The table of a (possibly qualified, quoted) column reference of `sql`.
fn owner_of(schema: &SchemaInfo, reference: &str, sql: &str) -> Option<usize> {
    owner_col(schema, reference, sql).map(|(t, _)| t)
}

/// The table of a shown expression of `sql` and its column (`None` for
/// `table.*` or `*`): a qualified name's table, else the FROM table.
fn owner_col(schema: &SchemaInfo, expr: &str, sql: &str) -> Option<(usize, Option<String>)> {
    let unquote = |s: &str| s.trim_matches(|c| c == '"' || c == '`').to_string();
    let table_named = |n: &str| {
        schema
            .tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(&unquote(n)))
    };
    let base = table_named(sql.split_once(" FROM ")?.1.split(' ').next()?)?;
    let (t, col) = match expr.rsplit_once('.') {
        Some((t, c)) => (table_named(t)?, c),
        None => (base, expr),
    };
    if col == "*" {
        return Some((t, None));
    }
    let name = unquote(col);
    let known = schema.tables[t].columns.iter().any(|c| c.name == name);
    known.then_some((t, Some(name)))
}

/// Map the question onto the schema; the first interpretation whose SQL did
/// not already fail wins.
fn interpret(
    question: &str,
    schema: &SchemaInfo,
    dialect: crate::domain::Dialect,
    failed: &BTreeSet<String>,
) -> Result<Reading, String> {
    let tokens = text::question_tokens(question);
    if tokens.is_empty() {
        return Err("The question has no words I could read.".into());
    }
    if let Some(sql) = set_operation(&tokens, schema, dialect, failed) {
        return Ok(Reading {
            sql,
            strategy: "set_operation",
            variant: 0,
        });
    }
    let mentions = linking::link(&tokens, schema);
    let mut variant = 0;
    let mut last_err: Option<String> = None;
    while variant <= MAX_VARIANTS {
        let mut choices = shapes::Choices::new(variant);
        match shapes::build(schema, dialect, &tokens, &mentions, &mut choices) {
            Ok(built) if !failed.contains(&normalise_sql(&built.sql)) => {
                if variant == 0
                    && matches!(built.strategy, "list" | "distinct")
                    && let Some(sql) = both_values(&tokens, schema, dialect, &built.sql)
                        .filter(|s| !failed.contains(&normalise_sql(s)))
                {
                    return Ok(Reading {
                        sql,
                        strategy: "set_operation",
                        variant,
                    });
                }
                return Ok(Reading {
                    sql: built.sql,
                    strategy: built.strategy,
                    variant,
                });
            }
            Ok(_) => {}
            Err(reason) if variant == 0 => return Err(reason),
            Err(reason) => last_err = Some(reason),
        }
        // No further ambiguous points: no other reading exists.
        if variant >= choices.seen() {
            break;
        }
        variant += 1;
    }
    Err(last_err.unwrap_or_else(|| {
        "Every interpretation I have of this question already failed; please rephrase it or name the tables and columns.".into()
    }))
}

#[async_trait]
impl LlmProvider for BuiltinGenerator {
    fn name(&self) -> &str {
        "builtin"
    }

    fn model(&self) -> &str {
        "offline-v1"
    }

    async fn generate(&self, req: &GenerationRequest) -> Result<Generation, LlmError> {
        Ok(self.generate_sync(req))
    }

    /// No language model here: summaries, follow-ups and rewrites are built
    /// deterministically by their callers (`engine::extras`, `engine::conversation`).
    async fn complete_text(
        &self,
        _req: &super::TextRequest,
    ) -> Result<Option<super::TextCompletion>, LlmError> {
        Ok(None)
    }

    async fn ping(&self) -> Result<(), LlmError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// A question asking to change data ("Delete all customers") gets a plain
/// answer instead of the word-by-word refusal. Only refusal text changes:
/// a question the generator can read is never affected.
fn write_request_reason(question: &str) -> Option<String> {
    const WRITE_VERBS: &[&str] = &[
        "delete", "remove", "drop", "truncate", "update", "change", "insert", "add", "create",
        "alter", "rename", "erase", "wipe", "purge", "modify", "set",
    ];
    let first = question
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| {
            !w.is_empty()
                && !matches!(
                    w.to_lowercase().as_str(),
                    "please" | "can" | "could" | "you"
                )
        })?
        .to_lowercase();
    WRITE_VERBS.contains(&first.as_str()).then(|| {
        "I only read data: I cannot delete, change or add anything. Ask me a question about the data instead.".to_string()
    })
}

#[cfg(test)]
mod write_request_tests {
    use super::write_request_reason;

    #[test]
    fn requests_to_change_data_are_told_we_only_read() {
        for q in [
            "Delete all customers",
            "please drop the orders table",
            "Could you update prices?",
        ] {
            assert!(
                write_request_reason(q)
                    .unwrap()
                    .starts_with("I only read data"),
                "{q}"
            );
        }
        for q in [
            "How many customers?",
            "Which orders were deleted?",
            "Top products",
        ] {
            assert_eq!(write_request_reason(q), None, "{q}");
        }
    }
}
