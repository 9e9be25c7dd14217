//! `ApiError`: the one error vocabulary at the HTTP edge.
//!
//! Variants are named for what the client should do. `status()` and `code()`
//! are one `match` each; codes are stable and documented. Every error body is
//! `{"error": {"code", "message", "correlation_id", "details"?}}`. Layer errors
//! (`StoreError`, `ConnectorError`, `LlmError`, `ValidationError`) reach HTTP
//! only through the `From` impls here. 5xx bodies never carry internal details:
//! those are logged once, with the correlation id, and replaced by a generic
//! sentence.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::connectors::ConnectorError;
use crate::engine::llm::LlmError;
use crate::observability::correlation::current_correlation_id;
use crate::sql::ValidationError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: bad JSON, a missing or invalid field.
    #[error("{message}")]
    BadRequest {
        message: String,
        details: Option<serde_json::Value>,
    },
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("too many requests; retry after {} seconds", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// The SQL failed validation; `reason` is the validator's stable code.
    #[error("{message}")]
    SqlRejected {
        reason: &'static str,
        message: String,
    },
    /// The generator could not map the question onto the schema.
    #[error("{0}")]
    Unanswerable(String),
    /// The target database refused the (validated) query.
    #[error("{0}")]
    QueryFailed(String),
    #[error("the query took longer than {} seconds and was stopped", .0.as_secs())]
    QueryTimeout(Duration),
    /// A dependency (LLM provider, target database) is unreachable or failing.
    #[error("{0}")]
    UpstreamUnavailable(String),
    #[error("the request took too long")]
    Timeout,
    #[error("internal error")]
    Internal(String),
    /// A value or the whole result is over its byte budget (`docs/SECURITY.md`, Budgets).
    #[error("{0}")]
    ResultTooLarge(String),
    /// The statement is over its work budget (SQLite steps, `EXPLAIN` estimate).
    #[error("{0}")]
    QueryTooExpensive(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            details: None,
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::SqlRejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unanswerable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::QueryFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::QueryTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::UpstreamUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::ResultTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::QueryTooExpensive(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::SqlRejected { .. } => "sql_rejected",
            ApiError::Unanswerable(_) => "unanswerable",
            ApiError::QueryFailed(_) => "query_failed",
            ApiError::QueryTimeout(_) => "query_timeout",
            ApiError::UpstreamUnavailable(_) => "upstream_unavailable",
            ApiError::Timeout => "timeout",
            ApiError::Internal(_) => "internal",
            ApiError::ResultTooLarge(_) => "result_too_large",
            ApiError::QueryTooExpensive(_) => "query_too_expensive",
        }
    }

    pub(crate) fn details(&self) -> Option<serde_json::Value> {
        match self {
            ApiError::BadRequest { details, .. } => details.clone(),
            ApiError::SqlRejected { reason, .. } => Some(serde_json::json!({ "reason": reason })),
            ApiError::RateLimited { retry_after } => {
                Some(serde_json::json!({ "retry_after_secs": retry_after.as_secs().max(1) }))
            }
            _ => None,
        }
    }

    /// What we log: the internal detail for `Internal`, the message otherwise.
    fn detail(&self) -> String {
        match self {
            ApiError::Internal(d) => d.clone(),
            other => other.to_string(),
        }
    }

    /// The message a client sees; 5xx internals are replaced.
    pub(crate) fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "Something went wrong on our side. Report the correlation id if it persists.".into()
            }
            other => other.to_string(),
        }
    }
}

/// The error body, documented in the API contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub correlation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// Build an error response from parts (also used by middleware to rewrite
/// errors produced outside our handlers).
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: String,
    details: Option<serde_json::Value>,
) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message,
            correlation_id: current_correlation_id().unwrap_or_default(),
            details,
        },
    };
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // Logged once here, with the internal detail; the body stays generic.
            tracing::error!(error.code = self.code(), error.detail = %self.detail(), "request failed");
        }
        let mut resp = error_response(status, self.code(), self.public_message(), self.details());
        if let ApiError::RateLimited { retry_after } = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("object".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unstorable(_) => ApiError::BadRequest {
                message: "The request contains a character that cannot be stored \
                          (a NUL character, for example)."
                    .into(),
                details: None,
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ConnectorError> for ApiError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::Timeout(d) => ApiError::QueryTimeout(d),
            ConnectorError::Unavailable(m) => {
                tracing::warn!(error.detail = %m, "target database unavailable");
                ApiError::UpstreamUnavailable(
                    "The database for this connection is not reachable right now.".into(),
                )
            }
            // The database's text can quote data: the caller gets a fixed
            // sentence (the full text was logged, masked, where it ran).
            ConnectorError::Execution(m) => {
                ApiError::QueryFailed(crate::engine::gate::public_db_error(&m))
            }
            ConnectorError::Config(m) => ApiError::Internal(m),
            ConnectorError::TooLarge(m) => ApiError::ResultTooLarge(m),
            ConnectorError::TooExpensive(m) => ApiError::QueryTooExpensive(m),
            ConnectorError::Busy {
                retry_after,
                reason,
            } => {
                tracing::info!(reason = %reason, "query refused: connection busy");
                ApiError::RateLimited { retry_after }
            }
        }
    }
}

impl From<LlmError> for ApiError {
    fn from(e: LlmError) -> Self {
        match e {
            LlmError::Config(m) => ApiError::Internal(m),
            other => {
                tracing::warn!(error.detail = %other, "LLM provider failed");
                ApiError::UpstreamUnavailable(
                    "The SQL generator (LLM provider) is not available right now.".into(),
                )
            }
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::SqlRejected {
            reason: e.code.as_str(),
            message: e.message,
        }
    }
}

impl From<crate::domain::DomainError> for ApiError {
    fn from(e: crate::domain::DomainError) -> Self {
        ApiError::BadRequest {
            message: e.to_string(),
            details: Some(serde_json::json!({ "field": e.field })),
        }
    }
}

impl From<crate::engine::pipeline::PipelineError> for ApiError {
    fn from(e: crate::engine::pipeline::PipelineError) -> Self {
        use crate::engine::pipeline::PipelineError as P;
        match e {
            P::UnknownConnection(name) => ApiError::NotFound(format!("connection `{name}`")),
            P::Unanswerable(reason) => ApiError::Unanswerable(reason),
            P::Rejected(v) => v.into(),
            P::Connector(c) => c.into(),
            P::Llm(l) => l.into(),
            P::Store(StoreError::NotFound) => ApiError::NotFound("object".into()),
            P::Store(s) => s.into(),
            P::Index(crate::engine::retrieval::IndexError::Unavailable(m)) => {
                tracing::warn!(error.detail = %m, "vector index unavailable");
                ApiError::UpstreamUnavailable(
                    "The vector index (retrieval of training context) is not reachable right now."
                        .into(),
                )
            }
            P::Index(crate::engine::retrieval::IndexError::Embedding(m)) => {
                tracing::warn!(error.detail = %m, "embedder failed");
                ApiError::UpstreamUnavailable(
                    "The embedding service (retrieval of training context) is not reachable right now."
                        .into(),
                )
            }
            P::Index(i) => ApiError::Internal(i.to_string()),
            P::BadInput(m) => ApiError::bad_request(m),
            P::UnknownConversation(id) => ApiError::NotFound(format!("conversation `{id}`")),
            P::UnknownQuery(id) => ApiError::NotFound(format!("query `{id}`")),
        }
    }
}

impl From<crate::engine::uploads::UploadError> for ApiError {
    fn from(e: crate::engine::uploads::UploadError) -> Self {
        use crate::engine::uploads::UploadError as U;
        match e {
            U::Disabled => ApiError::NotFound("uploads (turned off on this server)".into()),
            U::NoConnection => ApiError::NotFound("connection `uploads`".into()),
            U::Forbidden(m) => ApiError::Forbidden(m),
            U::TooLarge { .. } => ApiError::PayloadTooLarge,
            U::BadName(m) => ApiError::BadRequest {
                message: m,
                details: Some(serde_json::json!({ "reason": "bad_name" })),
            },
            U::Csv(c) => ApiError::BadRequest {
                details: Some(serde_json::json!({ "reason": c.reason() })),
                message: c.to_string(),
            },
            U::Xlsx(x) => ApiError::BadRequest {
                details: Some(serde_json::json!({ "reason": x.reason() })),
                message: x.to_string(),
            },
            U::Exists(t) => ApiError::Conflict(format!(
                "table `{t}` exists: send `replace=true` to replace it"
            )),
            U::NotFound(t) => ApiError::NotFound(format!("uploaded table `{t}`")),
            U::Pipeline(p) => p.into(),
        }
    }
}

impl From<crate::engine::schema_browser::BrowseError> for ApiError {
    fn from(e: crate::engine::schema_browser::BrowseError) -> Self {
        use crate::engine::schema_browser::BrowseError as B;
        match e {
            B::Pipeline(p) => p.into(),
            B::UnknownTable(t) => ApiError::NotFound(format!("table `{t}`")),
        }
    }
}

/// A failed ask keeps its history id in `details.query_id`, so the client
/// can give feedback with a corrected SQL; a refusal (`unanswerable`) also
/// offers questions that can be answered in `details.suggestions`.
pub struct AskError(pub crate::engine::pipeline::AskFailure, pub Vec<String>);

impl AskError {
    /// The error and its body's `details` (`None` when there are none).
    pub fn parts(self) -> (ApiError, Option<serde_json::Value>) {
        let query_id = self.0.query_id.clone();
        let api: ApiError = self.0.error.into();
        let mut details = api.details().unwrap_or_else(|| serde_json::json!({}));
        if let Some(obj) = details.as_object_mut() {
            if let Some(id) = query_id {
                obj.insert("query_id".into(), serde_json::Value::String(id));
            }
            if !self.1.is_empty() {
                obj.insert("suggestions".into(), serde_json::json!(self.1));
            }
        }
        let details = if details.as_object().is_some_and(|o| o.is_empty()) {
            None
        } else {
            Some(details)
        };
        (api, details)
    }
}

impl AskError {
    /// The error and its details, with a server error logged once (with its
    /// internal detail) — for the JSON answer and the stream's `error` event alike.
    pub fn logged_parts(self) -> (ApiError, Option<serde_json::Value>) {
        let (api, details) = self.parts();
        if api.status().is_server_error() {
            tracing::error!(error.code = api.code(), error.detail = %api.detail(), "ask failed");
        }
        (api, details)
    }
}

impl IntoResponse for AskError {
    fn into_response(self) -> Response {
        let (api, details) = self.logged_parts();
        error_response(api.status(), api.code(), api.public_message(), details)
    }
}

impl From<crate::engine::admin::AdminError> for ApiError {
    fn from(e: crate::engine::admin::AdminError) -> Self {
        use crate::engine::admin::AdminError as A;
        match e {
            A::NotFound(what) => ApiError::NotFound(what),
            A::BadInput(m) => ApiError::bad_request(m),
            A::Conflict(m) => ApiError::Conflict(m),
            A::Internal(m) => ApiError::Internal(m),
            A::Auth(e) => e.into(),
            A::Store(e) => e.into(),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as A;
        match e {
            A::InvalidCredentials | A::Unauthenticated => ApiError::Unauthorized,
            A::TooManyAttempts { retry_after } => ApiError::RateLimited { retry_after },
            A::WrongPassword => ApiError::Forbidden("The current password is wrong.".into()),
            A::BadInput(m) => ApiError::bad_request(m),
            A::Store(s) => s.into(),
            A::Internal(m) => ApiError::Internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_the_app_store_cannot_hold_is_the_callers_bad_request() {
        let e: ApiError = StoreError::Unstorable("invalid byte sequence".into()).into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "bad_request");
        assert!(!e.public_message().contains("byte sequence"));
    }
}
