//! `POST /api/v1/ask` and `POST /api/v1/ask/stream`: the main job.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use crate::api::extract::{Connected, Scoped};
use crate::app::AppState;
use crate::domain::{ConnectionId, Question};
use crate::engine::pipeline::{Answer, AskEvent, AskFailure, AskOptions};
use crate::error::AskError;

/// One Server-Sent Event as documented: its name and its JSON data.
#[derive(Debug, utoipa::ToSchema)]
pub struct SseEvent {
    /// `retrieval`, `sql`, `validation`, `rows`, `done` or `error`.
    pub event: String,
    /// The event's JSON payload, as text.
    pub data: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    pub question: Question,
    #[serde(default)]
    pub connection: Option<ConnectionId>,
    /// `false` leaves out the chart suggestion (default: `query.charts`).
    #[serde(default)]
    pub chart: Option<bool>,
    /// `true` adds a short summary of the result (at most
    /// `query.summary_max_rows` rows are summarised; needs `query.summaries`).
    #[serde(default)]
    pub summary: bool,
    /// `true` adds up to 3 suggested next questions.
    #[serde(default)]
    pub followups: bool,
    /// Continue a conversation of yours: a follow-up ("and by country?") is
    /// rewritten into a standalone question from its previous turns. Absent:
    /// a new conversation, whose id the answer returns.
    #[serde(default)]
    pub conversation_id: Option<String>,
}

impl Connected for AskRequest {
    fn connection(&self) -> Option<&ConnectionId> {
        self.connection.as_ref()
    }
}

impl AskRequest {
    fn options(&self) -> AskOptions {
        AskOptions {
            summary: self.summary,
            followups: self.followups,
            conversation_id: self.conversation_id.clone(),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/ask", operation_id = "ask", tag = "ask", request_body = AskRequest,
    responses(
        (status = 200, description = "The answer: SQL, rows and sources, the conversation id and the requested extras (a failed extra is missing and named in `warnings`)", body = Answer),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection, or a conversation that is unknown or not yours", body = crate::error::ErrorBody),
        (status = 422, description = "`unanswerable`, `sql_rejected` or `query_failed`; `details.query_id` names the history record", body = crate::error::ErrorBody),
        (status = 503, description = "The LLM provider or the database is unavailable", body = crate::error::ErrorBody),
        (status = 504, description = "The query timed out", body = crate::error::ErrorBody),
    ))]
pub async fn ask(
    State(app): State<AppState>,
    Scoped(scope, req): Scoped<AskRequest>,
) -> Result<axum::Json<Answer>, AskError> {
    // A rejection is audited by the engine itself.
    let mut answer = app
        .engine
        .ask_with(&scope, &req.question, &req.options(), None)
        .await
        .map_err(|e| {
            let offer = app.engine.refusal_suggestions(&scope, &e.error);
            AskError(e, offer)
        })?;
    if req.chart == Some(false) {
        answer.chart = None;
    }
    Ok(axum::Json(answer))
}

/// Server-Sent Events: `retrieval`, `sql`, `validation`, `rows`, then `done`
/// (the full answer without rows) or `error` (our error body).
#[utoipa::path(post, path = "/api/v1/ask/stream", operation_id = "ask_stream", tag = "ask", request_body = AskRequest,
    responses(
        (status = 200, description = "Server-Sent Events: `retrieval`, `sql`, `validation`, `rows`, then `done` (the answer without rows) or `error` (an error body)", content_type = "text/event-stream", body = SseEvent),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown connection", body = crate::error::ErrorBody),
    ))]
pub async fn ask_stream(
    State(app): State<AppState>,
    Scoped(scope, req): Scoped<AskRequest>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<AskEvent>(16);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Event>();
    // The ask runs in its own task so a slow client cannot stall it; it is
    // recorded in the history even if the client disconnects.
    // In the request's span, so its logs carry the correlation id.
    let span = tracing::Span::current();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let result = app
                .engine
                .ask_with(&scope, &req.question, &req.options(), Some(&tx))
                .await;
            drop(tx);
            let correlation = scope.rc().correlation_id.clone().unwrap_or_default();
            let offer = match &result {
                Err(failure) => app.engine.refusal_suggestions(&scope, &failure.error),
                Ok(_) => Vec::new(),
            };
            let _ = done_tx.send(last_event(result, req.chart, &correlation, offer));
        },
        span,
    ));
    let progress = ReceiverStream::new(rx).map(|ev| Ok(progress_event(&ev)));
    let done = futures::stream::once(async move {
        Ok(done_rx
            .await
            .unwrap_or_else(|_| Event::default().event("error").data("{}")))
    });
    Sse::new(progress.chain(done)).keep_alive(KeepAlive::default())
}

/// One progress event, named for its kind.
fn progress_event(ev: &AskEvent) -> Event {
    let name = match ev {
        AskEvent::Retrieval { .. } => "retrieval",
        AskEvent::Sql { .. } => "sql",
        AskEvent::Validation { .. } => "validation",
        AskEvent::Rows { .. } => "rows",
    };
    Event::default()
        .event(name)
        .json_data(ev)
        .unwrap_or_default()
}

/// The closing event: `done` with the answer (its rows already streamed),
/// or `error` with an error body naming the history record (and, for a
/// refusal, the questions `offer` suggests instead).
fn last_event(
    result: Result<Answer, AskFailure>,
    chart: Option<bool>,
    correlation: &str,
    offer: Vec<String>,
) -> Event {
    match result {
        Ok(mut answer) => {
            answer.rows.clear();
            if chart == Some(false) {
                answer.chart = None;
            }
            Event::default()
                .event("done")
                .json_data(&answer)
                .unwrap_or_default()
        }
        Err(failure) => {
            let (api, details) = AskError(failure, offer).logged_parts();
            let body = serde_json::json!({"error": {
                "code": api.code(),
                "message": api.public_message(),
                "correlation_id": correlation,
                "details": details,
            }});
            Event::default()
                .event("error")
                .json_data(body)
                .unwrap_or_default()
        }
    }
}
