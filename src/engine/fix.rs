//! `POST /sql/fix`: a failing SQL in, a working one out. The SQL goes
//! through the gate and, if the gate passes it, runs once to see the
//! database's error; that error (the full text, which goes to the generator
//! only, never back to the caller) seeds the correction loop, whose every
//! candidate passes the gate and must run before it is returned. The caller
//! sees the public sentence for the original failure and the validated fix.

use serde::Serialize;
use tracing::instrument;

use super::gate::public_db_error;
use super::llm::{FailedAttempt, GenerationOutcome};
use super::pipeline::{Engine, PipelineError, RequestContext};
use crate::connectors::ConnectorError;
use crate::domain::{ConnectionId, Question};

/// What the generator is asked when the caller does not say what the SQL
/// was meant to answer.
const DEFAULT_QUESTION: &str = "Correct this SQL query so that it runs.";

/// The outcome of `POST /sql/fix`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SqlFix {
    pub connection: String,
    /// `false`: the SQL already ran as given (`sql` is it, validated).
    pub fixed: bool,
    /// Why the given SQL failed: the safety check's reason, or a fixed
    /// sentence per kind of database error (never the database's text).
    pub error: Option<String>,
    /// The validated statement that runs.
    pub sql: String,
    pub tables: Vec<String>,
    /// Generation attempts used (0 when nothing needed fixing).
    pub attempts: u32,
}

impl Engine {
    /// Gate and try `sql_text`; when it fails, run the correction loop.
    #[instrument(skip_all, fields(connection.id))]
    pub async fn fix_sql(
        &self,
        rc: &RequestContext,
        sql_text: &str,
        question: Option<&Question>,
        connection: Option<&ConnectionId>,
    ) -> Result<SqlFix, PipelineError> {
        let conn = self.connection(connection)?;
        tracing::Span::current().record("connection.id", conn.id.as_str());
        let (for_model, public) = match self.gate_audited(rc, &conn, sql_text, "fix").await {
            Ok(gated) => match self.run(&conn, &gated, rc).await {
                Ok(_) => {
                    return Ok(SqlFix {
                        connection: conn.id.to_string(),
                        fixed: false,
                        error: None,
                        sql: gated.sql().to_string(),
                        tables: gated.tables().to_vec(),
                        attempts: 0,
                    });
                }
                Err(ConnectorError::Execution(m)) => {
                    let public = public_db_error(&m);
                    (m, public)
                }
                // Timeouts and outages are not the SQL's fault to correct.
                Err(e) => return Err(e.into()),
            },
            Err(v) => (v.message.clone(), v.message),
        };
        let question = match question {
            Some(q) => q.clone(),
            None => Question::parse(DEFAULT_QUESTION)
                .map_err(|e| PipelineError::BadInput(e.to_string()))?,
        };
        let context = self.retrieve(&conn, question.as_str(), rc).await?;
        let mut req = self.generation_request(&question, &conn, context, rc);
        req.previous_attempts.push(FailedAttempt {
            sql: sql_text.to_string(),
            error: for_model,
        });
        let attempts = self.settings().max_correction_attempts.max(1);
        for attempt in 1..=attempts {
            let candidate = match self.call_llm(&req).await?.outcome {
                GenerationOutcome::Sql { sql } => sql,
                GenerationOutcome::Unanswerable { reason } => {
                    return Err(PipelineError::Unanswerable(reason));
                }
            };
            let error = match self.gate(rc, &conn, &candidate) {
                Ok(gated) => match self.run(&conn, &gated, rc).await {
                    Ok(_) => {
                        return Ok(SqlFix {
                            connection: conn.id.to_string(),
                            fixed: true,
                            error: Some(public),
                            sql: gated.sql().to_string(),
                            tables: gated.tables().to_vec(),
                            attempts: attempt,
                        });
                    }
                    Err(ConnectorError::Execution(m)) => m,
                    Err(e) => return Err(e.into()),
                },
                Err(v) => v.message,
            };
            req.previous_attempts.push(FailedAttempt {
                sql: candidate,
                error,
            });
        }
        Err(PipelineError::Unanswerable(format!(
            "no working correction was found ({public})"
        )))
    }
}
