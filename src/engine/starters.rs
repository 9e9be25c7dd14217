//! Starter questions: questions built from a schema by rules about language
//! and schemas (never about one database), offered on the Ask page and
//! with a refusal.
//!
//! The rules: how many rows a table has; counts per category (a
//! low-cardinality text column) or per referenced row (a foreign key); the
//! top rows by a numeric column; counts over time by a date column. Each
//! rule has a phrasing or two; a candidate is offered only when the offline
//! generator ([`BuiltinGenerator`]) turns it into SQL on the caller's view
//! of the schema with nothing read past or guessed, and that SQL passes the
//! gate for the caller. "Nothing guessed": high confidence, or medium only
//! for the structure the rule itself asked for (a grouping, a join along
//! the keys: [`STRUCTURAL`]). So a starter is always answerable offline,
//! whatever generator the service is configured with, and never names a
//! table the caller may not query. Nothing here runs a query.

use std::sync::{Arc, Mutex, Weak};

use super::gate::GatedSql;
use super::llm::builtin::BuiltinGenerator;
use super::llm::{GenerationOutcome, GenerationRequest, RetrievedContext};
use super::pipeline::{Engine, PipelineError, RequestContext, Scope};
use crate::connectors::ConnectionHandle;
use crate::domain::{ColumnInfo, Confidence, SchemaInfo, TableInfo};

/// Starter questions offered at most.
pub const MAX_STARTERS: usize = 8;
/// Starter questions a refusal offers.
pub const REFUSAL_SUGGESTIONS: usize = 4;
/// Candidates tried at most (each is one offline generation, no query).
const MAX_CANDIDATES: usize = 48;

/// Assumptions that only restate what a starter asks for: its grouping and
/// the join to a referenced table. Any other (words read past, values
/// guessed, every column shown) rejects the phrasing.
pub const STRUCTURAL: &[&str] = &["grouped", "joined_tables"];

/// Starters computed per (connection, caller's view of its schema). The
/// view is an `Arc` the connection keeps while its schema is current
/// ([`ConnectionHandle::schema_for`]), and the gate's verdict depends on
/// nothing else, so an entry holds while its `Weak` still points at the
/// very same schema (a `Weak` keeps the allocation, so no other schema can
/// take its address). A schema refresh or another grant is a miss.
struct Memo {
    connection: String,
    schema: Weak<SchemaInfo>,
    starters: Vec<String>,
}

static MEMO: Mutex<Vec<Memo>> = Mutex::new(Vec::new());
/// Entries kept at most (callers with different grants see different views).
const MEMO_ENTRIES: usize = 64;

fn remembered(connection: &str, schema: &Arc<SchemaInfo>) -> Option<Vec<String>> {
    let memo = MEMO.lock().unwrap_or_else(|p| p.into_inner());
    memo.iter()
        .find(|m| {
            m.connection == connection
                && m.schema.upgrade().is_some_and(|s| Arc::ptr_eq(&s, schema))
        })
        .map(|m| m.starters.clone())
}

fn remember(connection: &str, schema: &Arc<SchemaInfo>, starters: &[String]) {
    let mut memo = MEMO.lock().unwrap_or_else(|p| p.into_inner());
    memo.retain(|m| m.schema.strong_count() > 0);
    if memo.len() >= MEMO_ENTRIES {
        memo.remove(0);
    }
    memo.push(Memo {
        connection: connection.to_string(),
        schema: Arc::downgrade(schema),
        starters: starters.to_vec(),
    });
}

/// One rule's phrasings for one table, best first.
struct Candidate {
    /// The rule, so the list can mix rules before repeating one.
    rule: usize,
    phrasings: Vec<String>,
}

impl Engine {
    /// Starter questions for the caller on `conn` (see the module doc).
    pub fn starter_questions(&self, rc: &RequestContext, conn: &ConnectionHandle) -> Vec<String> {
        let schema = rc.schema(conn);
        if let Some(known) = remembered(conn.id.as_str(), &schema) {
            return known;
        }
        let starters = self.check_starters(rc, conn, &schema);
        remember(conn.id.as_str(), &schema, &starters);
        starters
    }

    /// Every candidate tried until one phrasing per rule and table passes.
    fn check_starters(
        &self,
        rc: &RequestContext,
        conn: &ConnectionHandle,
        schema: &Arc<SchemaInfo>,
    ) -> Vec<String> {
        let generator = BuiltinGenerator::new();
        let mut ok: Vec<(usize, String)> = Vec::new();
        let mut tried = 0;
        for c in candidates(schema) {
            for q in c.phrasings {
                if tried >= MAX_CANDIDATES {
                    break;
                }
                tried += 1;
                let req = GenerationRequest {
                    question: q.clone(),
                    dialect: conn.dialect,
                    schema: Arc::clone(schema),
                    context: RetrievedContext::default(),
                    previous_attempts: Vec::new(),
                    correlation_id: None,
                    token_budget: 0,
                };
                let g = generator.generate_sync(&req);
                let sure = g.trust.as_ref().is_some_and(|t| {
                    t.confidence != Confidence::Low
                        && t.assumptions
                            .iter()
                            .all(|a| STRUCTURAL.contains(&a.code.as_str()))
                });
                if let (true, GenerationOutcome::Sql { sql }) = (sure, &g.outcome)
                    && self.gate(rc, conn, sql).as_ref().is_ok_and(reads_rows)
                {
                    ok.push((c.rule, q));
                    break;
                }
            }
        }
        mix(ok)
    }

    /// What a refusal offers instead: for a question the generator could
    /// not answer, a few starter questions of the connection; nothing for
    /// other failures.
    pub fn refusal_suggestions(&self, scope: &Scope, error: &PipelineError) -> Vec<String> {
        if !matches!(error, PipelineError::Unanswerable(_)) {
            return Vec::new();
        }
        let mut s = self.starter_questions(scope.rc(), scope.conn());
        s.truncate(REFUSAL_SUGGESTIONS);
        s
    }
}

fn reads_rows(g: &GatedSql) -> bool {
    !g.tables().is_empty()
}

/// Round-robin over the rules, so the first starters show different kinds
/// of question; at most [`MAX_STARTERS`].
fn mix(mut ok: Vec<(usize, String)>) -> Vec<String> {
    let mut out = Vec::new();
    while !ok.is_empty() && out.len() < MAX_STARTERS {
        let mut used = Vec::new();
        let mut i = 0;
        while i < ok.len() && out.len() < MAX_STARTERS {
            if used.contains(&ok[i].0) {
                i += 1;
            } else {
                let (rule, q) = ok.remove(i);
                used.push(rule);
                out.push(q);
            }
        }
    }
    out
}

const RULE_COUNT: usize = 0;
const RULE_PER_CATEGORY: usize = 1;
const RULE_TOP: usize = 2;
const RULE_OVER_TIME: usize = 3;
const RULE_PER_PARENT: usize = 4;

/// Every rule applied to every table (views too: they are queryable).
fn candidates(schema: &SchemaInfo) -> Vec<Candidate> {
    let mut out = Vec::new();
    for t in &schema.tables {
        let noun = words(&t.name);
        out.push(Candidate {
            rule: RULE_COUNT,
            phrasings: vec![format!("How many {noun} are there?")],
        });
        if let Some(c) = t.columns.iter().find(|c| is_category(t, c)) {
            let by = words(&c.name);
            out.push(Candidate {
                rule: RULE_PER_CATEGORY,
                phrasings: vec![
                    format!("How many {noun} are there in each {by}?"),
                    format!("Number of {noun} per {by}"),
                ],
            });
        }
        if let Some(c) = t.columns.iter().find(|c| is_measure(t, c)) {
            let by = words(&c.name);
            out.push(Candidate {
                rule: RULE_TOP,
                phrasings: vec![
                    format!("Top 5 {noun} by {by}"),
                    format!("Which 5 {noun} have the highest {by}?"),
                ],
            });
        }
        if t.columns.iter().any(is_date) {
            out.push(Candidate {
                rule: RULE_OVER_TIME,
                phrasings: vec![
                    format!("How many {noun} per month?"),
                    format!("Number of {noun} per year"),
                ],
            });
        }
        if let Some(fk) = t
            .foreign_keys
            .iter()
            .find(|fk| fk.columns.len() == 1 && !fk.ref_table.eq_ignore_ascii_case(&t.name))
        {
            let parent = singular(&words(&fk.ref_table));
            out.push(Candidate {
                rule: RULE_PER_PARENT,
                phrasings: vec![
                    format!("How many {noun} does each {parent} have?"),
                    format!("Number of {noun} per {parent}"),
                ],
            });
        }
    }
    out
}

/// A name as words: `order_items` → "order items", `createdAt` stays.
fn words(name: &str) -> String {
    name.replace(['_', '-'], " ").trim().to_lowercase()
}

/// A plural noun made singular by the common English endings.
fn singular(noun: &str) -> String {
    let (head, last) = match noun.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l),
        None => (String::new(), noun),
    };
    let one = if let Some(stem) = last.strip_suffix("ies") {
        format!("{stem}y")
    } else if last.ends_with("sses") || last.ends_with("xes") || last.ends_with("ches") {
        last[..last.len() - 2].to_string()
    } else if last.ends_with('s') && !last.ends_with("ss") && last.len() > 3 {
        last[..last.len() - 1].to_string()
    } else {
        last.to_string()
    };
    format!("{head}{one}")
}

fn is_key(t: &TableInfo, c: &ColumnInfo) -> bool {
    let n = c.name.to_lowercase();
    n == "id"
        || n.ends_with("_id")
        || t.primary_key
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&c.name))
        || t.foreign_keys
            .iter()
            .any(|fk| fk.columns.iter().any(|k| k.eq_ignore_ascii_case(&c.name)))
}

/// A column whose values sort rows into a few groups: low-cardinality text
/// (introspection kept its values) repeated across rows, and not a name or
/// contact detail (a first name per employee is no category).
fn is_category(t: &TableInfo, c: &ColumnInfo) -> bool {
    let n = c.name.to_lowercase();
    let personal = ["name", "email", "phone", "address", "url"]
        .iter()
        .any(|w| n.contains(w));
    let repeated = t
        .row_count
        .is_none_or(|rows| (c.sample_values.len() as u64) * 2 <= rows);
    !c.sample_values.is_empty() && repeated && !personal && !is_key(t, c)
}

/// A numeric column that measures something (not a key).
fn is_measure(t: &TableInfo, c: &ColumnInfo) -> bool {
    let ty = c.data_type.to_lowercase();
    let numeric = [
        "int", "real", "numeric", "decimal", "double", "float", "money",
    ]
    .iter()
    .any(|k| ty.contains(k));
    numeric && !is_key(t, c)
}

fn is_date(c: &ColumnInfo) -> bool {
    let ty = c.data_type.to_lowercase();
    let n = c.name.to_lowercase();
    ty.contains("date") || ty.contains("time") || n.ends_with("_date") || n.ends_with("_at")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_table_names_become_singular() {
        assert_eq!(singular("customers"), "customer");
        assert_eq!(singular("categories"), "category");
        assert_eq!(singular("order items"), "order item");
        assert_eq!(singular("boxes"), "box");
        assert_eq!(singular("address"), "address");
        assert_eq!(singular("staff"), "staff");
    }

    #[test]
    fn categories_repeat_and_are_not_names() {
        let col = |name: &str, values: usize| ColumnInfo {
            name: name.into(),
            data_type: "TEXT".into(),
            sample_values: (0..values).map(|i| format!("v{i}")).collect(),
            ..Default::default()
        };
        let t = TableInfo {
            name: "employees".into(),
            row_count: Some(20),
            columns: vec![col("first_name", 20), col("title", 20), col("region", 4)],
            ..Default::default()
        };
        let picked: Vec<&str> = t
            .columns
            .iter()
            .filter(|c| is_category(&t, c))
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(picked, ["region"]);
    }

    #[test]
    fn remembered_only_for_the_very_same_schema() {
        let a = Arc::new(SchemaInfo::default());
        let b = Arc::new(SchemaInfo::default());
        let list = vec!["How many rows are there?".to_string()];
        remember("memo-test", &a, &list);
        assert_eq!(remembered("memo-test", &a), Some(list));
        // An equal but other schema (a refresh, another grant) is a miss,
        // and so is another connection.
        assert_eq!(remembered("memo-test", &b), None);
        assert_eq!(remembered("memo-other", &a), None);
        drop(a);
        let c = Arc::new(SchemaInfo::default());
        assert_eq!(remembered("memo-test", &c), None);
    }

    #[test]
    fn rules_alternate_before_repeating() {
        let ok = vec![
            (0, "a".to_string()),
            (0, "b".to_string()),
            (1, "c".to_string()),
            (2, "d".to_string()),
        ];
        assert_eq!(mix(ok), vec!["a", "c", "d", "b"]);
    }
}
