//! `/api/v1/sql/*`: generate without running, validate, execute, explain and
//! fix. Each handler takes its body with the caller bound to the connection
//! ([`Scoped`]) and calls one engine function, which checks and audits the
//! SQL (`/sql/execute` resolves its own scope: a stored query names its
//! connection).

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::api::extract::{ApiJson, Connected, Principal, Scoped};
use crate::app::AppState;
use crate::connectors::ResultColumn;
use crate::domain::{ConnectionId, Question};
use crate::engine::pipeline::{GeneratedSql, SqlSource, ValidationReport};
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub question: Question,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

impl Connected for GenerateRequest {
    fn connection(&self) -> Option<&ConnectionId> {
        self.connection.as_ref()
    }
}

#[utoipa::path(post, path = "/api/v1/sql/generate", operation_id = "generate_sql", tag = "sql", request_body = GenerateRequest,
    responses(
        (status = 200, description = "Generated and validated SQL (not run)", body = GeneratedSql),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection", body = crate::error::ErrorBody),
        (status = 422, description = "The question could not be mapped", body = crate::error::ErrorBody),
        (status = 503, description = "The LLM provider is unavailable", body = crate::error::ErrorBody),
    ))]
pub async fn generate(
    State(app): State<AppState>,
    Scoped(scope, req): Scoped<GenerateRequest>,
) -> Result<axum::Json<GeneratedSql>, ApiError> {
    Ok(axum::Json(
        app.engine.generate(&scope, &req.question).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub sql: String,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

impl Connected for ValidateRequest {
    fn connection(&self) -> Option<&ConnectionId> {
        self.connection.as_ref()
    }
}

#[utoipa::path(post, path = "/api/v1/sql/validate", operation_id = "validate_sql", tag = "sql", request_body = ValidateRequest,
    responses(
        (status = 200, description = "Validation report; `valid: false` lists the errors", body = ValidationReport),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection", body = crate::error::ErrorBody),
    ))]
pub async fn validate(
    State(app): State<AppState>,
    Scoped(scope, req): Scoped<ValidateRequest>,
) -> Result<axum::Json<ValidationReport>, ApiError> {
    // The engine's gate applies the caller's grant and audits a rejection.
    Ok(axum::Json(app.engine.validate(&scope, &req.sql).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    #[serde(default)]
    pub sql: Option<String>,
    /// Re-run the SQL of a stored query (on its connection).
    #[serde(default)]
    pub query_id: Option<String>,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

impl ExecuteRequest {
    /// What to run: exactly one of `sql` (on `connection`) or `query_id`.
    fn source(self) -> Result<SqlSource, ApiError> {
        match (self.sql, self.query_id) {
            (Some(sql), None) => Ok(SqlSource::Written {
                sql,
                connection: self.connection,
            }),
            // Someone else's query the caller may not see answers 404.
            (None, Some(query_id)) => Ok(SqlSource::Stored { query_id }),
            _ => Err(ApiError::bad_request(
                "send exactly one of `sql` or `query_id`",
            )),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExecuteResponse {
    pub connection: String,
    pub sql: String,
    pub tables: Vec<String>,
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    pub truncated: bool,
    pub duration_ms: u64,
}

#[utoipa::path(post, path = "/api/v1/sql/execute", operation_id = "execute_sql", tag = "sql", request_body = ExecuteRequest,
    responses(
        (status = 200, description = "Rows of the validated query", body = ExecuteResponse),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection or query", body = crate::error::ErrorBody),
        (status = 422, description = "`sql_rejected` or `query_failed`", body = crate::error::ErrorBody),
        (status = 504, description = "The query timed out", body = crate::error::ErrorBody),
    ))]
pub async fn execute(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> Result<axum::Json<ExecuteResponse>, ApiError> {
    let ran = app.engine.execute(rc, req.source()?).await?;
    Ok(axum::Json(ExecuteResponse {
        connection: ran.gated.connection().to_string(),
        sql: ran.gated.sql().to_string(),
        tables: ran.gated.tables().to_vec(),
        row_count: ran.rows.rows.len(),
        truncated: ran.rows.truncated,
        columns: ran.rows.columns,
        rows: ran.rows.rows,
        duration_ms: ran.duration_ms,
    }))
}

#[utoipa::path(post, path = "/api/v1/sql/explain", operation_id = "explain_sql", tag = "sql", request_body = ValidateRequest,
    responses(
        (status = 200, description = "The SQL in plain words: `steps` read off the syntax tree, `explanation` by the LLM when one is configured (`source`)", body = crate::engine::explain::SqlExplanation),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection", body = crate::error::ErrorBody),
        (status = 422, description = "`sql_rejected`: not a read-only query over tables the caller may see", body = crate::error::ErrorBody),
    ))]
pub async fn explain(
    State(app): State<AppState>,
    Scoped(scope, req): Scoped<ValidateRequest>,
) -> Result<axum::Json<crate::engine::explain::SqlExplanation>, ApiError> {
    Ok(axum::Json(app.engine.explain_sql(&scope, &req.sql).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixRequest {
    /// The SQL that fails.
    pub sql: String,
    /// What it was meant to answer; helps the correction.
    #[serde(default)]
    pub question: Option<Question>,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
}

impl Connected for FixRequest {
    fn connection(&self) -> Option<&ConnectionId> {
        self.connection.as_ref()
    }
}

#[utoipa::path(post, path = "/api/v1/sql/fix", operation_id = "fix_sql", tag = "sql", request_body = FixRequest,
    responses(
        (status = 200, description = "A validated statement that runs (`fixed: false` when the given SQL already ran)", body = crate::engine::fix::SqlFix),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection", body = crate::error::ErrorBody),
        (status = 422, description = "`unanswerable`: no working correction was found", body = crate::error::ErrorBody),
        (status = 503, description = "The LLM provider is unavailable", body = crate::error::ErrorBody),
        (status = 504, description = "The query timed out", body = crate::error::ErrorBody),
    ))]
pub async fn fix(
    State(app): State<AppState>,
    Scoped(scope, req): Scoped<FixRequest>,
) -> Result<axum::Json<crate::engine::fix::SqlFix>, ApiError> {
    Ok(axum::Json(
        app.engine
            .fix_sql(&scope, &req.sql, req.question.as_ref())
            .await?,
    ))
}
