//! The schema browser behind `GET /connections/{id}/schema` and
//! `GET /connections/{id}/samples/{table}`: what a caller may see of a
//! connection's schema (tables, columns, types, keys, comments and the
//! documentation trained for each table), with starter questions
//! ([`super::starters`]), and a few sample rows of one table.
//!
//! Everything is the caller's view: a caller limited to some tables sees
//! only those, no foreign key pointing at a hidden table, and only
//! documentation that names none of the hidden tables
//! ([`Engine::covers_training`]). Sample rows are a query like any other:
//! `SELECT * … LIMIT n` passes the gate under the caller's grant and runs
//! through the engine's one executor, so budgets, admission and timeouts
//! apply. Stored low-cardinality values from introspection are never shown
//! here: they are not bounded by the caller's grant at read time.

use std::collections::BTreeSet;

use serde::Serialize;
use tracing::instrument;

use super::pipeline::{Engine, PipelineError, RequestContext, Scope};
use crate::connectors::ConnectionHandle;
use crate::domain::{Dialect, SchemaInfo, TableInfo, TrainingKind};
use crate::store::Page;
use crate::store::training::{TrainingFilter, TrainingStatus};

/// Sample rows shown per table.
pub const SAMPLE_ROWS: u64 = 5;
/// A sample value longer than this is cut (with `…`).
const SAMPLE_CHARS: usize = 80;
/// Documentation items shown per table, and their length.
const DOCS_PER_TABLE: usize = 3;
const DOC_CHARS: usize = 400;

/// A connection's schema as the caller may see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SchemaView {
    pub connection: String,
    pub dialect: Dialect,
    pub tables: Vec<TableView>,
    /// Questions the offline generator answers on this schema (each one
    /// checked by generating and gating its SQL for the caller).
    pub starter_questions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TableView {
    pub name: String,
    pub is_view: bool,
    pub row_count: Option<u64>,
    /// The database's comment on the table.
    pub comment: Option<String>,
    /// Active documentation training items that name this table.
    pub documentation: Vec<String>,
    pub columns: Vec<ColumnView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ColumnView {
    pub name: String,
    /// The declared type as the database spells it.
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    pub primary_key: bool,
    /// `table.column` this column references (a foreign key the caller sees).
    pub references: Option<String>,
    pub comment: Option<String>,
}

/// A few rows of one table, read under the caller's grant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TableSamples {
    pub connection: String,
    pub table: String,
    /// Per column, its distinct non-empty values among the sampled rows.
    pub columns: Vec<ColumnSamples>,
    /// Rows read (at most [`SAMPLE_ROWS`]).
    pub row_count: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ColumnSamples {
    pub name: String,
    pub values: Vec<String>,
}

/// Why the browser could not answer.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Unknown, or outside the caller's grant: the same answer for both.
    #[error("table `{0}`")]
    UnknownTable(String),
}

impl Engine {
    /// The caller's view of `connection`'s schema, with starter questions.
    #[instrument(skip_all, fields(connection.id))]
    pub async fn browse_schema(&self, scope: &Scope) -> Result<SchemaView, PipelineError> {
        let (rc, conn) = (scope.rc(), scope.conn());
        tracing::Span::current().record("connection.id", conn.id.as_str());
        let schema = rc.schema(conn);
        let docs = self.table_documentation(rc, conn, &schema).await?;
        let tables = schema
            .tables
            .iter()
            .zip(docs)
            .map(|(t, documentation)| table_view(t, documentation))
            .collect();
        Ok(SchemaView {
            connection: conn.id.to_string(),
            dialect: conn.dialect,
            tables,
            starter_questions: self.starter_questions(rc, conn),
        })
    }

    /// Up to [`SAMPLE_ROWS`] rows of `table`, through the gate and the
    /// executor like any query of the caller's.
    #[instrument(skip_all, fields(connection.id))]
    pub async fn sample_table(
        &self,
        scope: &Scope,
        table: &str,
    ) -> Result<TableSamples, BrowseError> {
        let (rc, conn) = (scope.rc(), scope.conn());
        tracing::Span::current().record("connection.id", conn.id.as_str());
        let schema = rc.schema(conn);
        let Some(info) = schema.table(table) else {
            return Err(BrowseError::UnknownTable(table.to_string()));
        };
        let sql_text = format!(
            "SELECT * FROM {} LIMIT {SAMPLE_ROWS}",
            quote(conn.dialect, &info.name)
        );
        let gated = self
            .gate_audited(rc, conn, &sql_text, "samples")
            .await
            .map_err(PipelineError::from)?;
        let rs = self
            .run(conn, &gated, rc)
            .await
            .map_err(PipelineError::from)?;
        let columns = rs
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut seen = BTreeSet::new();
                let values = rs
                    .rows
                    .iter()
                    .filter_map(|r| r.get(i).and_then(sample_text))
                    .filter(|v| seen.insert(v.clone()))
                    .collect();
                ColumnSamples {
                    name: c.name.clone(),
                    values,
                }
            })
            .collect();
        Ok(TableSamples {
            connection: conn.id.to_string(),
            table: info.name.clone(),
            columns,
            row_count: rs.rows.len(),
        })
    }

    /// Per table of `schema` (in order), the active documentation items
    /// that name it and that the caller may see.
    async fn table_documentation(
        &self,
        rc: &RequestContext,
        conn: &ConnectionHandle,
        schema: &SchemaInfo,
    ) -> Result<Vec<Vec<String>>, PipelineError> {
        let filter = TrainingFilter {
            connection: Some(conn.id.to_string()),
            kind: Some(TrainingKind::Documentation),
            status: Some(TrainingStatus::Active),
            search: None,
        };
        let page = Page {
            limit: 200,
            offset: 0,
        };
        let (items, _) = self.store.list_training(&filter, page).await?;
        let items: Vec<_> = items
            .into_iter()
            .filter(|i| self.covers_training(rc, i))
            .collect();
        Ok(schema
            .tables
            .iter()
            .map(|t| {
                items
                    .iter()
                    .filter(|i| names_word(&i.content, &t.name))
                    .take(DOCS_PER_TABLE)
                    .map(|i| cut(i.content.trim(), DOC_CHARS))
                    .collect()
            })
            .collect())
    }
}

fn table_view(t: &TableInfo, documentation: Vec<String>) -> TableView {
    let columns = t
        .columns
        .iter()
        .map(|c| ColumnView {
            name: c.name.clone(),
            data_type: c.data_type.clone(),
            nullable: c.nullable,
            primary_key: t
                .primary_key
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&c.name)),
            references: t.foreign_keys.iter().find_map(|fk| {
                let i = fk
                    .columns
                    .iter()
                    .position(|k| k.eq_ignore_ascii_case(&c.name))?;
                let to = fk.ref_columns.get(i).map_or("", String::as_str);
                Some(format!("{}.{to}", fk.ref_table))
            }),
            comment: c.comment.clone(),
        })
        .collect();
    TableView {
        name: t.name.clone(),
        is_view: t.is_view,
        row_count: t.row_count,
        comment: t.comment.clone(),
        documentation,
        columns,
    }
}

/// An identifier quoted for `dialect`.
fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A cell as a short text; `None` for nulls and empty strings.
fn sample_text(v: &serde_json::Value) -> Option<String> {
    let s = match v {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    (!s.is_empty()).then(|| cut(&s, SAMPLE_CHARS))
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max - 1).chain(['…']).collect()
}

/// Whether `text` names `table` as a word (case-insensitive; `order_items`
/// also as "order items").
fn names_word(text: &str, table: &str) -> bool {
    let text = text.to_lowercase();
    let table = table.to_lowercase();
    let spaced = table.replace('_', " ");
    [table, spaced].iter().any(|name| {
        text.match_indices(name.as_str()).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            let edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_');
            edge(before) && edge(after)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_named_as_words_only() {
        assert!(names_word("Every order has a customer.", "order"));
        assert!(names_word("Order items list the lines.", "order_items"));
        assert!(names_word("see ORDER_ITEMS", "order_items"));
        assert!(!names_word("orders are shipped", "order"));
        assert!(!names_word("reorder", "order"));
    }

    #[test]
    fn identifiers_are_quoted_per_dialect() {
        assert_eq!(quote(Dialect::Sqlite, "a\"b"), "\"a\"\"b\"");
        assert_eq!(quote(Dialect::Mysql, "a`b"), "`a``b`");
    }

    #[test]
    fn samples_are_short_and_never_null() {
        assert_eq!(sample_text(&serde_json::Value::Null), None);
        assert_eq!(sample_text(&serde_json::json!("  ")), None);
        assert_eq!(sample_text(&serde_json::json!(3.5)), Some("3.5".into()));
        let long = "x".repeat(200);
        assert_eq!(
            sample_text(&serde_json::json!(long))
                .unwrap()
                .chars()
                .count(),
            SAMPLE_CHARS
        );
    }

    #[test]
    fn columns_show_keys_and_references() {
        use crate::domain::{ColumnInfo, ForeignKey};
        let t = TableInfo {
            name: "orders".into(),
            columns: vec![
                ColumnInfo {
                    name: "id".into(),
                    data_type: "INTEGER".into(),
                    ..Default::default()
                },
                ColumnInfo {
                    name: "customer_id".into(),
                    data_type: "INTEGER".into(),
                    ..Default::default()
                },
            ],
            primary_key: vec!["id".into()],
            foreign_keys: vec![ForeignKey {
                columns: vec!["customer_id".into()],
                ref_table: "customers".into(),
                ref_columns: vec!["id".into()],
            }],
            ..Default::default()
        };
        let v = table_view(&t, vec![]);
        assert!(v.columns[0].primary_key && v.columns[0].references.is_none());
        assert_eq!(v.columns[1].references.as_deref(), Some("customers.id"));
    }
}
