//! What the pipeline hands back: answers, generated SQL, validation reports,
//! the progress events of a streamed ask, and why an ask failed.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::connectors::{ConnectorError, ResultColumn, ResultSet};
use crate::domain::{Assumption, Confidence, TrainingKind};
use crate::engine::extras::AnswerWarning;
use crate::engine::llm::LlmError;
use crate::engine::retrieval::IndexError;
use crate::sql::{ValidatedSql, ValidationError};
use crate::store::StoreError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Source {
    pub id: String,
    pub kind: TrainingKind,
    pub score: f32,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Timings {
    pub retrieval: u64,
    pub generation: u64,
    pub validation: u64,
    pub execution: u64,
    pub total: u64,
}

/// A complete answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub query_id: String,
    pub question: String,
    pub connection: String,
    pub sql: String,
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    pub truncated: bool,
    pub tables: Vec<String>,
    pub sources: Vec<Source>,
    pub timings_ms: Timings,
    pub attempts: u32,
    pub provider: String,
    pub strategy: Option<String>,
    pub cached: bool,
    /// A Vega-Lite v5 spec suggested from the result's shape, when one fits
    /// (see `engine::chart`).
    #[schema(value_type = Option<Object>)]
    pub chart: Option<serde_json::Value>,
    /// The conversation of this answer; send it back as `conversation_id`
    /// to ask a follow-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// What a follow-up was rewritten into: the question actually answered
    /// and recorded in the history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standalone_question: Option<String>,
    /// A short summary of (at most `query.summary_max_rows` rows of) the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `llm` or `builtin` (built from the rows without a model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_source: Option<String>,
    /// Suggested next questions (at most 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followups: Option<Vec<String>>,
    /// Extras that were asked for but are missing, and why.
    pub warnings: Vec<AnswerWarning>,
    /// How sure the generator is that the SQL means what was asked.
    pub confidence: Confidence,
    /// What the answer took for granted (words read past, trained examples
    /// used or adapted, corrections): nothing is dropped silently.
    pub assumptions: Vec<Assumption>,
}

/// What an ask may add to the plain pipeline.
#[derive(Debug, Clone, Default)]
pub struct AskOptions {
    pub summary: bool,
    pub followups: bool,
    /// Continue this conversation (it must belong to the caller); `None`
    /// starts a new one.
    pub conversation_id: Option<String>,
}

/// Progress of one ask, streamed to SSE clients as it happens.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AskEvent {
    Retrieval {
        sources: Vec<Source>,
        duration_ms: u64,
    },
    Sql {
        sql: String,
        attempt: u32,
    },
    Validation {
        valid: bool,
        sql: String,
        tables: Vec<String>,
        errors: Vec<ValidationError>,
    },
    Rows {
        columns: Vec<ResultColumn>,
        rows: Vec<Vec<serde_json::Value>>,
        row_count: usize,
        truncated: bool,
    },
}

/// Why an ask did not produce rows. `query_id` is set when the ask was
/// recorded in the history.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("unknown connection `{0}`")]
    UnknownConnection(String),
    #[error("{0}")]
    Unanswerable(String),
    #[error(transparent)]
    Rejected(#[from] ValidationError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{0}")]
    BadInput(String),
    /// Unknown, or another user's: the same answer for both.
    #[error("unknown conversation `{0}`")]
    UnknownConversation(String),
    /// A history record that is unknown or hidden from the caller: the same
    /// answer for both.
    #[error("unknown query `{0}`")]
    UnknownQuery(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct AskFailure {
    pub query_id: Option<String>,
    #[source]
    pub error: PipelineError,
}

impl From<PipelineError> for AskFailure {
    fn from(error: PipelineError) -> Self {
        Self {
            query_id: None,
            error,
        }
    }
}

/// Result of `generate`: SQL checked but not executed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GeneratedSql {
    pub question: String,
    pub connection: String,
    pub sql: String,
    pub valid: bool,
    pub errors: Vec<ValidationError>,
    pub tables: Vec<String>,
    pub sources: Vec<Source>,
    pub attempts: u32,
    pub strategy: Option<String>,
    pub confidence: Confidence,
    pub assumptions: Vec<Assumption>,
}

/// Result of `validate`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub sql: String,
    pub errors: Vec<ValidationError>,
    pub tables: Vec<String>,
}

pub(super) fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// Where a streamed ask sends its progress; `None`: nobody listens.
pub type Sink<'a> = Option<&'a mpsc::Sender<AskEvent>>;

pub(super) async fn emit(sink: Sink<'_>, ev: AskEvent) {
    if let Some(tx) = sink {
        // A client that went away must not stop the ask: ignore send errors.
        let _ = tx.send(ev).await;
    }
}

pub(super) fn validation_event(v: &ValidatedSql) -> AskEvent {
    AskEvent::Validation {
        valid: true,
        sql: v.sql().to_string(),
        tables: v.tables().to_vec(),
        errors: vec![],
    }
}

pub(super) fn rows_event(rs: &ResultSet) -> AskEvent {
    AskEvent::Rows {
        columns: rs.columns.clone(),
        rows: rs.rows.clone(),
        row_count: rs.rows.len(),
        truncated: rs.truncated,
    }
}
