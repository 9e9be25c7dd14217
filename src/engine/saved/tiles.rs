//! Running a saved question as a tile: through the gate under the reader's
//! grant, into a [`TileResult`] that is either rows or a clear refusal or
//! failure. A refused tile carries no rows, no SQL and no question (they
//! could name what the reader may not see); a failed one carries the
//! public sentence of its error, never the database's text.

use serde::Serialize;
use serde_json::Value;

use super::ChartChoice;
use crate::connectors::{ConnectorError, ResultColumn};
use crate::domain::ConnectionId;
use crate::engine::gate::{Reach, public_db_error};
use crate::engine::pipeline::{Engine, Executed, PipelineError, RequestContext};
use crate::store::saved::SavedQuestion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TileStatus {
    /// Fresh rows.
    Ok,
    /// The reader's grant does not cover this answer: no rows, no SQL.
    Refused,
    /// It passed the gate but could not run now.
    Failed,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TileError {
    /// `refused`, `query_failed`, `query_timeout`, `result_too_large`,
    /// `query_too_expensive`, `busy`, `upstream_unavailable` or `failed`.
    pub code: String,
    pub message: String,
}

/// One saved question, run for one reader.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TileResult {
    pub saved_id: String,
    pub title: String,
    pub connection: String,
    /// The chart type chosen for it.
    pub chart_type: ChartChoice,
    pub status: TileStatus,
    /// Only when the reader may see it (`ok` and `failed` tiles).
    pub question: Option<String>,
    /// Only when the reader may see it (`ok` and `failed` tiles).
    pub sql: Option<String>,
    pub columns: Vec<ResultColumn>,
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<Value>>,
    pub row_count: usize,
    pub truncated: bool,
    /// A Vega-Lite v5 spec for the chart type, when one fits the rows.
    #[schema(value_type = Option<Object>)]
    pub chart: Option<Value>,
    pub error: Option<TileError>,
    pub duration_ms: u64,
}

/// What a share link opens: one saved question or a dashboard, each tile
/// run under the reader's grant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SharedView {
    /// `question` or `dashboard`.
    pub kind: String,
    pub title: String,
    pub tiles: Vec<TileResult>,
}

impl TileResult {
    fn empty(saved: &SavedQuestion, status: TileStatus, error: TileError) -> Self {
        let visible = status != TileStatus::Refused;
        TileResult {
            saved_id: saved.id.clone(),
            title: saved.title.clone(),
            connection: saved.connection.clone(),
            chart_type: ChartChoice::parse(&saved.chart),
            status,
            question: visible.then(|| saved.question.clone()),
            sql: visible.then(|| saved.sql.clone()),
            columns: Vec::new(),
            rows: Vec::new(),
            row_count: 0,
            truncated: false,
            chart: None,
            error: Some(error),
            duration_ms: 0,
        }
    }
}

fn refusal(connection: &str, no_grant: bool) -> TileError {
    TileError {
        code: "refused".into(),
        message: if no_grant {
            format!("You have no access to the connection `{connection}` this answer uses.")
        } else {
            "Your access does not cover the tables this answer uses (or they no longer exist)."
                .into()
        },
    }
}

/// The tile's error for a failure after the gate: public sentences only.
fn failure(e: &PipelineError) -> TileError {
    let (code, message) = match e {
        PipelineError::Connector(c) => match c {
            ConnectorError::Timeout(_) => ("query_timeout", c.to_string()),
            ConnectorError::Execution(m) => ("query_failed", public_db_error(m)),
            ConnectorError::TooLarge(m) => ("result_too_large", m.clone()),
            ConnectorError::TooExpensive(m) => ("query_too_expensive", m.clone()),
            ConnectorError::Busy { .. } => (
                "busy",
                "The connection is busy; refresh again in a moment.".into(),
            ),
            ConnectorError::Unavailable(_) | ConnectorError::Config(_) => (
                "upstream_unavailable",
                "The database for this connection is not reachable right now.".into(),
            ),
        },
        PipelineError::UnknownConnection(c) => {
            ("failed", format!("The connection `{c}` no longer exists."))
        }
        other => {
            tracing::warn!(error = %other, "saved question could not be refreshed");
            ("failed", "This answer could not be refreshed.".into())
        }
    };
    TileError {
        code: code.into(),
        message,
    }
}

impl Engine {
    /// Run `saved` for the reader in `rc`: through the gate under their
    /// grant (never the owner's). Never an error: a refusal or failure is
    /// the tile's status.
    pub(crate) async fn run_tile(&self, rc: &RequestContext, saved: &SavedQuestion) -> TileResult {
        let no_grant = rc
            .caller
            .as_ref()
            .is_some_and(|c| c.reach(&saved.connection) == Reach::Nothing);
        if no_grant {
            return TileResult::empty(saved, TileStatus::Refused, refusal(&saved.connection, true));
        }
        let conn = match ConnectionId::parse(&saved.connection) {
            Ok(c) => c,
            Err(_) => {
                let e = PipelineError::UnknownConnection(saved.connection.clone());
                return TileResult::empty(saved, TileStatus::Failed, failure(&e));
            }
        };
        let run = match self.scope(rc.clone(), Some(&conn)) {
            Ok(scope) => self.execute_on(&scope.rc, &scope.conn, &saved.sql).await,
            Err(e) => Err(e),
        };
        match run {
            Ok(Executed {
                gated,
                rows: rs,
                duration_ms,
            }) => {
                let choice = ChartChoice::parse(&saved.chart);
                TileResult {
                    saved_id: saved.id.clone(),
                    title: saved.title.clone(),
                    connection: saved.connection.clone(),
                    chart_type: choice,
                    status: TileStatus::Ok,
                    question: Some(saved.question.clone()),
                    sql: Some(gated.sql().to_string()),
                    chart: choice.spec(&rs.columns, &rs.rows),
                    row_count: rs.rows.len(),
                    truncated: rs.truncated,
                    columns: rs.columns,
                    rows: rs.rows,
                    error: None,
                    duration_ms,
                }
            }
            Err(PipelineError::Rejected(_)) => TileResult::empty(
                saved,
                TileStatus::Refused,
                refusal(&saved.connection, false),
            ),
            Err(e) => TileResult::empty(saved, TileStatus::Failed, failure(&e)),
        }
    }

    /// Run the saved questions `ids` in order for the reader. Ids that no
    /// longer exist are skipped.
    pub(crate) async fn run_tiles(
        &self,
        rc: &RequestContext,
        ids: &[String],
    ) -> Result<Vec<TileResult>, PipelineError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.store.get_saved_question(id).await {
                Ok(saved) => out.push(self.run_tile(rc, &saved).await),
                Err(crate::store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}
