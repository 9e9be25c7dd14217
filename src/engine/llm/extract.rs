//! Turning a model's free-text reply into a [`GenerationOutcome`]: the SQL to
//! validate, or the model's `UNANSWERABLE:` verdict.
//!
//! Models wrap SQL in fences, tags and prose however they like; this module
//! only *finds* the query. It never judges whether the SQL is safe or valid —
//! that is the validator's job, so a fenced `DELETE` is passed on for the
//! validator to reject (and the correction loop to fix) rather than dropped.

use std::sync::LazyLock;

use regex::Regex;

use crate::engine::llm::{Generation, GenerationOutcome, LlmError, TextCompletion, TokenUsage};
use crate::engine::prompt::{Prompt, estimate_tokens};

/// Longest reason we keep from an unanswerable reply; it is shown to users.
const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the model's reply was empty")]
    Empty,
    /// The reply has no query and no `UNANSWERABLE:` marker; carries the
    /// (trimmed, shortened) reply so the caller can surface it.
    #[error("the model's reply contains no SQL query")]
    NoQuery(String),
}

impl ExtractError {
    /// What a provider reports for a reply without a query: a prose-only reply
    /// is the model explaining why it cannot answer, so it becomes the reason
    /// of an unanswerable outcome; `None` when there is nothing to show.
    pub fn into_outcome(self) -> Option<GenerationOutcome> {
        match self {
            ExtractError::Empty => None,
            ExtractError::NoQuery(text) => Some(GenerationOutcome::Unanswerable { reason: text }),
        }
    }
}

/// [`extract_sql`] as the remote providers report it: a prose-only reply is
/// unanswerable (the prose is the reason), an empty one is a bad response.
pub fn outcome_from_reply(reply: &str) -> Result<GenerationOutcome, LlmError> {
    extract_sql(reply).or_else(|e| {
        let message = e.to_string();
        e.into_outcome().ok_or(LlmError::BadResponse(message))
    })
}

/// What a provider said, before SQL extraction.
#[derive(Debug, Default)]
pub struct ProviderReply {
    pub text: String,
    /// A refusal (OpenAI `message.refusal`, Anthropic `stop_reason: refusal`).
    pub refusal: Option<String>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

impl ProviderReply {
    /// The reply as free text; a refusal or an empty reply is a bad response
    /// (callers of free-text completions fall back, they never show it).
    pub fn into_text(self, prompt: &Prompt) -> Result<TextCompletion, LlmError> {
        if self.text.trim().is_empty() {
            return Err(LlmError::BadResponse(match self.refusal {
                Some(_) => "the model declined to answer".into(),
                None => "the model's reply was empty".into(),
            }));
        }
        Ok(TextCompletion {
            usage: TokenUsage {
                prompt_tokens: self.prompt_tokens.unwrap_or(prompt.estimated_tokens as u64),
                completion_tokens: self
                    .completion_tokens
                    .unwrap_or_else(|| estimate_tokens(&self.text) as u64),
            },
            text: self.text,
        })
    }

    /// Turn the reply into a [`Generation`]; token counts the server did not
    /// report are estimated so budgets and metrics still see them.
    pub fn into_generation(self, prompt: &Prompt) -> Result<Generation, LlmError> {
        let outcome = match self.refusal {
            Some(reason) if self.text.trim().is_empty() => {
                GenerationOutcome::Unanswerable { reason }
            }
            _ => outcome_from_reply(&self.text)?,
        };
        Ok(Generation {
            outcome,
            usage: TokenUsage {
                prompt_tokens: self.prompt_tokens.unwrap_or(prompt.estimated_tokens as u64),
                completion_tokens: self
                    .completion_tokens
                    .unwrap_or_else(|| estimate_tokens(&self.text) as u64),
            },
            strategy: None,
            trust: None,
        })
    }
}

static FENCE: LazyLock<Regex> = LazyLock::new(|| {
    // An opening fence (at a line start, or after prose on the same line as
    // in "Sure! ```sql") with an optional info string, its body, and a closing
    // fence or the end of the reply (a reply cut by max_tokens).
    Regex::new(r"(?ms)(?:^[ \t]*|[ \t])(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+\-]*)[^\n]*\n(.*?)(?:^[ \t]*(?:`{3,}|~{3,})[ \t]*$|\z)")
        .expect("fence regex")
});
static SQL_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<sql>(.*?)(?:</sql>|\z)").expect("sql tag regex"));
static UNANSWERABLE: LazyLock<Regex> = LazyLock::new(|| {
    // Tolerate markdown emphasis or a bullet before the marker.
    Regex::new(r"(?im)^[ \t>*_#-]*UNANSWERABLE[*_]*[ \t]*:[*_]*[ \t]*(.*)$").expect("marker regex")
});
static QUERY_START: LazyLock<Regex> = LazyLock::new(|| {
    // `WITH` only counts when a CTE follows, so prose such as "With this
    // schema, …" is not taken for a query.
    Regex::new(
        r#"(?i)^(?:select\b|\(|with\s+(?:recursive\s+)?[\w"`\[\].]+\s*(?:\([^)]*\))?\s*as\s*(?:not\s+)?(?:materialized\s*)?\()"#,
    )
    .expect("query start regex")
});

/// Find the query in a model reply.
///
/// In order: an `UNANSWERABLE: <reason>` line outside code → `Unanswerable`;
/// the first `<sql>` tag or fenced block (any language) whose text starts with
/// `SELECT`, `WITH` or `(` once leading comments are skipped; else the first
/// `sql`-labelled fence whatever it holds (for the validator to judge); else
/// bare SQL starting at a line beginning with `SELECT`/`WITH`, up to its first
/// top-level `;` or the prose after a blank line. Trailing semicolons are
/// stripped.
pub fn extract_sql(reply: &str) -> Result<GenerationOutcome, ExtractError> {
    let reply = reply.trim();
    if reply.is_empty() {
        return Err(ExtractError::Empty);
    }

    let blocks = code_blocks(reply);
    let outside_code = blank_ranges(reply, blocks.iter().map(|b| b.span));
    if let Some(caps) = UNANSWERABLE.captures(&outside_code) {
        let start = caps.get(0).map_or(0, |m| m.start());
        return Ok(GenerationOutcome::Unanswerable {
            reason: unanswerable_reason(
                &outside_code[start..],
                caps.get(1).map_or("", |m| m.as_str()),
            ),
        });
    }

    if let Some(block) = blocks.iter().find(|b| looks_like_query(&b.text)) {
        return Ok(sql(clean(&block.text)));
    }
    if let Some(block) = blocks
        .iter()
        .find(|b| b.sql_labelled && !b.text.trim().is_empty())
    {
        return Ok(sql(clean(&block.text)));
    }
    // Bare SQL: search the text outside blocks (a non-query block such as a
    // results table must not be mistaken for the query).
    if let Some(bare) = bare_sql(&outside_code) {
        return Ok(sql(bare));
    }
    Err(ExtractError::NoQuery(truncate(reply, MAX_REASON_CHARS)))
}

fn sql(text: String) -> GenerationOutcome {
    GenerationOutcome::Sql { sql: text }
}

struct Block {
    span: (usize, usize),
    text: String,
    sql_labelled: bool,
}

/// `<sql>` tags and fenced blocks, in reply order. A fence inside a tag is
/// unwrapped; a tag inside a fence is ignored.
fn code_blocks(reply: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for caps in SQL_TAG.captures_iter(reply) {
        let whole = caps.get(0).expect("group 0");
        let inner = caps.get(1).map_or("", |m| m.as_str());
        let text = match FENCE.captures(inner) {
            Some(f) => f.get(3).map_or("", |m| m.as_str()).to_string(),
            None => inner.to_string(),
        };
        blocks.push(Block {
            span: (whole.start(), whole.end()),
            text,
            sql_labelled: true,
        });
    }
    for caps in FENCE.captures_iter(reply) {
        let whole = caps.get(0).expect("group 0");
        if blocks
            .iter()
            .any(|b| b.span.0 <= whole.start() && whole.start() < b.span.1)
        {
            continue;
        }
        let lang = caps.get(2).map_or("", |m| m.as_str()).to_ascii_lowercase();
        blocks.retain(|b| !(whole.start() <= b.span.0 && b.span.0 < whole.end()));
        blocks.push(Block {
            span: (whole.start(), whole.end()),
            text: caps.get(3).map_or("", |m| m.as_str()).to_string(),
            sql_labelled: matches!(
                lang.as_str(),
                "sql" | "sqlite" | "postgres" | "postgresql" | "pgsql" | "mysql" | "psql" | "plsql"
            ),
        });
    }
    blocks.sort_by_key(|b| b.span.0);
    blocks
}

/// `text` with the given byte ranges replaced by newlines, so line-anchored
/// searches outside code blocks keep working.
fn blank_ranges(text: &str, ranges: impl Iterator<Item = (usize, usize)>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (start, end) in ranges {
        if start < pos {
            continue;
        }
        out.push_str(&text[pos..start]);
        out.push_str("\n\n");
        pos = end;
    }
    out.push_str(&text[pos..]);
    out
}

fn unanswerable_reason(from_marker: &str, first_line: &str) -> String {
    // The reason may continue on the following lines until a blank line.
    let mut reason = first_line
        .trim()
        .trim_matches(['*', '_'])
        .trim()
        .to_string();
    for line in from_marker.lines().skip(1) {
        if line.trim().is_empty() {
            break;
        }
        if !reason.is_empty() {
            reason.push(' ');
        }
        reason.push_str(line.trim());
    }
    if reason.is_empty() {
        "the model found no way to answer this question from the schema".to_string()
    } else {
        truncate(&reason, MAX_REASON_CHARS)
    }
}

/// Skip leading whitespace, `-- …` lines and `/* … */` blocks.
fn skip_leading_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return s;
        }
    }
}

fn looks_like_query(text: &str) -> bool {
    QUERY_START.is_match(skip_leading_comments(text))
}

fn clean(text: &str) -> String {
    text.trim()
        .trim_end_matches([';', ' ', '\t', '\r', '\n'])
        .trim()
        .to_string()
}

/// Clause words that may start a continuation line of a bare query after a
/// blank line; any other first word means prose has begun.
const CONTINUATION: &[&str] = &[
    "select",
    "from",
    "where",
    "group",
    "order",
    "having",
    "limit",
    "offset",
    "join",
    "left",
    "right",
    "inner",
    "outer",
    "full",
    "cross",
    "natural",
    "on",
    "and",
    "or",
    "union",
    "intersect",
    "except",
    "window",
    "with",
    "fetch",
    "qualify",
    "as",
    "case",
    "when",
    "then",
    "else",
    "end",
    "not",
    "--",
    "/*",
    ")",
    "(",
    ",",
];

/// Bare SQL: from the first line starting with SELECT/WITH to the first
/// top-level `;`, or to a blank line followed by prose.
fn bare_sql(text: &str) -> Option<String> {
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if QUERY_START.is_match(trimmed) && !trimmed.starts_with('(') {
            start = Some(offset + (line.len() - trimmed.len()));
            break;
        }
        offset += line.len();
    }
    let rest = &text[start?..];
    let end = statement_end(rest);
    let stmt = clean(&rest[..end]);
    (!stmt.is_empty()).then_some(stmt)
}

/// Byte index where the statement at the start of `sql` ends: its first `;`
/// outside quotes, comments and parentheses, or a blank line (at depth 0)
/// followed by something that does not continue a query.
fn statement_end(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |p| i + 2 + p + 2);
                continue;
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            b';' if depth <= 0 => return i,
            b'\n' if depth <= 0 => {
                let after = &sql[i + 1..];
                let next_line_blank = after.lines().next().is_some_and(|l| l.trim().is_empty());
                if next_line_blank {
                    let next = after.trim_start();
                    let word: String = next
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>()
                        .to_ascii_lowercase();
                    let continues = CONTINUATION.contains(&word.as_str())
                        || CONTINUATION.iter().any(|c| {
                            !c.starts_with(|ch: char| ch.is_alphabetic()) && next.starts_with(c)
                        });
                    if next.is_empty() || !continues {
                        return i;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_of(reply: &str) -> String {
        match extract_sql(reply) {
            Ok(GenerationOutcome::Sql { sql }) => sql,
            other => panic!("expected SQL from {reply:?}, got {other:?}"),
        }
    }

    fn reason_of(reply: &str) -> String {
        match extract_sql(reply) {
            Ok(GenerationOutcome::Unanswerable { reason }) => reason,
            other => panic!("expected unanswerable from {reply:?}, got {other:?}"),
        }
    }

    #[test]
    fn sql_fence_with_prose_around() {
        let reply = "Here is the query you asked for:\n\n```sql\nSELECT name FROM users WHERE age > 30;\n```\n\nIt lists users older than 30.";
        assert_eq!(sql_of(reply), "SELECT name FROM users WHERE age > 30");
    }

    #[test]
    fn plain_and_tilde_fences() {
        assert_eq!(sql_of("```\nselect 1\n```"), "select 1");
        assert_eq!(sql_of("~~~\nSELECT 2;\n~~~"), "SELECT 2");
        assert_eq!(sql_of("```SQL\nSELECT 3\n```"), "SELECT 3");
    }

    #[test]
    fn first_query_like_fence_wins() {
        let reply = "Schema recap:\n```\nusers(id, name)\n```\nQuery:\n```sql\nSELECT id FROM users\n```\nAlternative:\n```sql\nSELECT name FROM users\n```";
        assert_eq!(sql_of(reply), "SELECT id FROM users");
    }

    #[test]
    fn leading_comments_are_kept_but_skipped_when_judging() {
        let reply = "```sql\n-- count users\n/* all of them */\nSELECT count(*) FROM users;\n```";
        assert_eq!(
            sql_of(reply),
            "-- count users\n/* all of them */\nSELECT count(*) FROM users"
        );
    }

    #[test]
    fn parenthesised_query_in_fence() {
        assert_eq!(
            sql_of("```sql\n(SELECT 1) UNION (SELECT 2)\n```"),
            "(SELECT 1) UNION (SELECT 2)"
        );
    }

    #[test]
    fn cte_with_many_parts() {
        let q = "WITH a AS (\n  SELECT id FROM t WHERE x = 'a;b'\n),\nb AS (SELECT id FROM a),\nc AS (SELECT count(*) AS n FROM b)\nSELECT n FROM c";
        assert_eq!(sql_of(&format!("```sql\n{q};\n```")), q);
        assert_eq!(sql_of(&format!("{q};\n\nThis uses three CTEs.")), q);
    }

    #[test]
    fn non_query_sql_fence_is_passed_to_the_validator() {
        assert_eq!(
            sql_of("```sql\nDELETE FROM users;\n```"),
            "DELETE FROM users"
        );
    }

    #[test]
    fn python_fence_is_not_sql() {
        let reply = "```python\nprint('hi')\n```\nSELECT 1";
        assert_eq!(sql_of(reply), "SELECT 1");
    }

    #[test]
    fn unclosed_fence_from_a_truncated_reply() {
        assert_eq!(
            sql_of("```sql\nSELECT a, b\nFROM t\n"),
            "SELECT a, b\nFROM t"
        );
    }

    #[test]
    fn sql_tags() {
        assert_eq!(
            sql_of("Answer: <sql>SELECT * FROM orders;</sql> done"),
            "SELECT * FROM orders"
        );
        assert_eq!(sql_of("<SQL>\n```sql\nSELECT 1\n```\n</SQL>"), "SELECT 1");
    }

    #[test]
    fn bare_sql_with_trailing_explanation() {
        let reply = "SELECT name\nFROM users\nWHERE active = 1\n\nThis returns the active users.";
        assert_eq!(sql_of(reply), "SELECT name\nFROM users\nWHERE active = 1");
        let reply = "Sure.\nselect count(*) from orders; -- that's it\nThe count of orders.";
        assert_eq!(sql_of(reply), "select count(*) from orders");
    }

    #[test]
    fn bare_sql_clauses_after_blank_lines_continue_the_query() {
        let reply = "SELECT name\nFROM users\n\nWHERE active = 1\n\nORDER BY name";
        assert_eq!(sql_of(reply), reply);
    }

    #[test]
    fn bare_sql_ignores_semicolons_in_strings_and_comments() {
        let reply = "SELECT ';' AS s, \"a;b\" -- c;d\nFROM t; trailing";
        assert_eq!(sql_of(reply), "SELECT ';' AS s, \"a;b\" -- c;d\nFROM t");
    }

    #[test]
    fn fences_after_prose_on_the_same_line_keep_the_whole_block() {
        // Stacked statements must reach the validator whole, to be refused.
        let reply = "Sure! ```sql\nSELECT * FROM customers; DROP TABLE orders;\n```";
        assert_eq!(sql_of(reply), "SELECT * FROM customers; DROP TABLE orders");
    }

    #[test]
    fn trailing_semicolons_are_stripped() {
        assert_eq!(sql_of("SELECT 1;;  "), "SELECT 1");
        assert_eq!(sql_of("```sql\nSELECT 1 ;\n\n```"), "SELECT 1");
    }

    #[test]
    fn unanswerable_marker() {
        assert_eq!(
            reason_of("UNANSWERABLE: there is no table about weather."),
            "there is no table about weather."
        );
        assert_eq!(
            reason_of(
                "I looked at the schema.\n\n**UNANSWERABLE:** no salary column\nin any table.\n\nSorry!"
            ),
            "no salary column in any table."
        );
        assert_eq!(
            reason_of("unanswerable:"),
            "the model found no way to answer this question from the schema"
        );
    }

    #[test]
    fn marker_inside_code_is_not_a_verdict() {
        let reply = "```sql\nSELECT 'UNANSWERABLE: x' AS note\n```";
        assert_eq!(sql_of(reply), "SELECT 'UNANSWERABLE: x' AS note");
    }

    #[test]
    fn prose_without_sql_and_empty_replies() {
        assert_eq!(extract_sql("   \n "), Err(ExtractError::Empty));
        assert_eq!(
            extract_sql("I cannot help with that."),
            Err(ExtractError::NoQuery("I cannot help with that.".into()))
        );
        assert_eq!(
            ExtractError::NoQuery("why".into()).into_outcome(),
            Some(GenerationOutcome::Unanswerable {
                reason: "why".into()
            })
        );
        assert_eq!(ExtractError::Empty.into_outcome(), None);
    }

    #[test]
    fn prose_starting_with_with_is_not_a_cte() {
        let reply = "With the given schema, here is the query:\nSELECT 1\n\nDone.";
        assert_eq!(sql_of(reply), "SELECT 1");
        assert_eq!(
            sql_of(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
            ),
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
        );
    }

    #[test]
    fn select_word_inside_prose_is_not_a_query() {
        assert!(matches!(
            extract_sql("You could select rows from a table, but the schema has none."),
            Err(ExtractError::NoQuery(_))
        ));
    }
}
