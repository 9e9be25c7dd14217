//! Question history: one record per ask with its SQL, outcome, sources,
//! timings and token usage. Result rows are never stored.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::writer::Write;
use super::{Page, Store, StoreError, now};
use crate::domain::{Assumption, Confidence, Trust};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueryStatus {
    Answered,
    Rejected,
    Failed,
    Unanswerable,
}

impl QueryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Answered => "answered",
            QueryStatus::Rejected => "rejected",
            QueryStatus::Failed => "failed",
            QueryStatus::Unanswerable => "unanswerable",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "answered" => QueryStatus::Answered,
            "rejected" => QueryStatus::Rejected,
            "unanswerable" => QueryStatus::Unanswerable,
            _ => QueryStatus::Failed,
        }
    }
}

/// What the pipeline records about one ask.
#[derive(Debug, Clone)]
pub struct NewQuery {
    pub id: String,
    pub user_id: Option<String>,
    pub connection: String,
    pub question: String,
    pub sql: Option<String>,
    pub status: QueryStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub row_count: Option<u64>,
    pub truncated: bool,
    pub tables: Vec<String>,
    pub sources: serde_json::Value,
    pub timings: serde_json::Value,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub strategy: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub attempts: u32,
    pub correlation_id: Option<String>,
    /// How sure the generator was, and what it assumed (`None`: no SQL).
    pub trust: Option<Trust>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueryRecord {
    pub id: String,
    pub user_id: Option<String>,
    pub connection: String,
    pub question: String,
    pub sql: Option<String>,
    pub status: QueryStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub row_count: Option<u64>,
    pub truncated: bool,
    pub tables: Vec<String>,
    pub sources: serde_json::Value,
    pub timings_ms: serde_json::Value,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub strategy: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub attempts: u32,
    pub correlation_id: Option<String>,
    pub created_at: String,
    /// `None` for asks without SQL and records older than migration 0008.
    pub confidence: Option<Confidence>,
    pub assumptions: Vec<Assumption>,
}

fn from_row(r: &AnyRow) -> Result<QueryRecord, sqlx::Error> {
    let json = |col: &str| -> Result<serde_json::Value, sqlx::Error> {
        Ok(serde_json::from_str(&r.try_get::<String, _>(col)?).unwrap_or(serde_json::Value::Null))
    };
    Ok(QueryRecord {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        connection: r.try_get("connection")?,
        question: r.try_get("question")?,
        sql: r.try_get("sql")?,
        status: QueryStatus::parse(&r.try_get::<String, _>("status")?),
        error_code: r.try_get("error_code")?,
        error_message: r.try_get("error_message")?,
        row_count: r
            .try_get::<Option<i64>, _>("row_count")?
            .map(|n| n.max(0) as u64),
        truncated: r.try_get::<i64, _>("truncated")? != 0,
        tables: serde_json::from_str(&r.try_get::<String, _>("tables_json")?).unwrap_or_default(),
        sources: json("sources_json")?,
        timings_ms: json("timings_json")?,
        provider: r.try_get("provider")?,
        model: r.try_get("model")?,
        strategy: r.try_get("strategy")?,
        prompt_tokens: r.try_get::<i64, _>("prompt_tokens")?.max(0) as u64,
        completion_tokens: r.try_get::<i64, _>("completion_tokens")?.max(0) as u64,
        attempts: r.try_get::<i64, _>("attempts")?.max(0) as u32,
        correlation_id: r.try_get("correlation_id")?,
        created_at: r.try_get("created_at")?,
        confidence: r
            .try_get::<Option<String>, _>("confidence")?
            .as_deref()
            .and_then(Confidence::parse),
        assumptions: serde_json::from_str(&r.try_get::<String, _>("assumptions_json")?)
            .unwrap_or_default(),
    })
}

const COLUMNS: &str = "id, user_id, connection, question, sql, status, error_code, error_message, \
    row_count, truncated, tables_json, sources_json, timings_json, provider, model, strategy, \
    prompt_tokens, completion_tokens, attempts, correlation_id, created_at, confidence, \
    assumptions_json";

/// A history row as the writer inserts it: the record and its timestamp.
#[derive(Debug)]
pub(crate) struct QueryRow {
    query: NewQuery,
    created_at: String,
}

impl QueryRow {
    pub(super) async fn insert(&self, conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
        let q = &self.query;
        let done = sqlx::query(
            "INSERT INTO queries (id, user_id, connection, question, sql, status, error_code, \
             error_message, row_count, truncated, tables_json, sources_json, timings_json, provider, \
             model, strategy, prompt_tokens, completion_tokens, attempts, correlation_id, created_at, \
             confidence, assumptions_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
        )
        .bind(&q.id)
        .bind(&q.user_id)
        .bind(&q.connection)
        .bind(&q.question)
        .bind(&q.sql)
        .bind(q.status.as_str())
        .bind(&q.error_code)
        .bind(&q.error_message)
        .bind(q.row_count.map(|n| n as i64))
        .bind(q.truncated as i64)
        .bind(serde_json::to_string(&q.tables).unwrap_or_else(|_| "[]".into()))
        .bind(q.sources.to_string())
        .bind(q.timings.to_string())
        .bind(&q.provider)
        .bind(&q.model)
        .bind(&q.strategy)
        .bind(q.prompt_tokens as i64)
        .bind(q.completion_tokens as i64)
        .bind(q.attempts as i64)
        .bind(&q.correlation_id)
        .bind(&self.created_at)
        .bind(q.trust.as_ref().map(|t| t.confidence.as_str()))
        .bind(
            q.trust
                .as_ref()
                .and_then(|t| serde_json::to_string(&t.assumptions).ok())
                .unwrap_or_else(|| "[]".into()),
        )
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Add LLM tokens to a history row; the rows touched (0: no such row).
pub(super) async fn add_tokens(
    conn: &mut AnyConnection,
    id: &str,
    prompt_tokens: u64,
    completion_tokens: u64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE queries SET prompt_tokens = prompt_tokens + $1, \
         completion_tokens = completion_tokens + $2 WHERE id = $3",
    )
    .bind(prompt_tokens as i64)
    .bind(completion_tokens as i64)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

impl QueryRecord {
    /// The record as `insert_query` stores it, built without reading it back.
    fn stored(q: &NewQuery, created_at: String) -> Self {
        QueryRecord {
            id: q.id.clone(),
            user_id: q.user_id.clone(),
            connection: q.connection.clone(),
            question: q.question.clone(),
            sql: q.sql.clone(),
            status: q.status,
            error_code: q.error_code.clone(),
            error_message: q.error_message.clone(),
            row_count: q.row_count,
            truncated: q.truncated,
            tables: q.tables.clone(),
            sources: q.sources.clone(),
            timings_ms: q.timings.clone(),
            provider: q.provider.clone(),
            model: q.model.clone(),
            strategy: q.strategy.clone(),
            prompt_tokens: q.prompt_tokens,
            completion_tokens: q.completion_tokens,
            attempts: q.attempts,
            correlation_id: q.correlation_id.clone(),
            created_at,
            confidence: q.trust.as_ref().map(|t| t.confidence),
            assumptions: q
                .trust
                .as_ref()
                .map(|t| t.assumptions.clone())
                .unwrap_or_default(),
        }
    }
}

impl Store {
    /// Record one ask. It goes through the group-commit writer (see
    /// `writer.rs`) and returns once the row is committed, so its id is
    /// readable at once.
    pub async fn insert_query(&self, q: &NewQuery) -> Result<QueryRecord, StoreError> {
        let created_at = now();
        let record = QueryRecord::stored(q, created_at.clone());
        self.writer
            .submit(Write::Query(Box::new(QueryRow {
                query: q.clone(),
                created_at,
            })))
            .await?;
        Ok(record)
    }

    /// Add the tokens of LLM calls made for an ask after its record was
    /// written (the answer's extras).
    pub async fn add_query_tokens(
        &self,
        id: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(Write::QueryTokens {
                id: id.to_string(),
                prompt_tokens,
                completion_tokens,
            })
            .await
    }

    pub async fn get_query(&self, id: &str) -> Result<QueryRecord, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM queries WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(from_row(&row)?)
    }

    /// Newest first. `user_id = Some(u)` restricts to that user's questions.
    pub async fn list_queries(
        &self,
        user_id: Option<&str>,
        page: Page,
    ) -> Result<(Vec<QueryRecord>, u64), StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM queries WHERE ($1 IS NULL OR user_id = $1) \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(user_id)
        .bind(page.limit as i64)
        .bind(page.offset as i64)
        .fetch_all(self.pool())
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM queries WHERE ($1 IS NULL OR user_id = $1)")
                .bind(user_id)
                .fetch_one(self.pool())
                .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((items, total.max(0) as u64))
    }
}
