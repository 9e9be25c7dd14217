//! `POST /sql/fix`: a failing SQL in, a working one out. The SQL goes
//! through the gate and, if the gate passes it, runs once to see the
//! database's error; that error (the full text, which goes to the generator
//! only, never back to the caller) seeds the correction loop, whose every
//! candidate passes the gate and must run before it is returned. The caller
//! sees the public sentence for the original failure and the validated fix.

use serde::Serialize;
use tracing::instrument;

use super::gate::{GatedSql, public_db_error};
use super::llm::FailedAttempt;
use super::pipeline::correct::{Echo, Plan, Stop, Trail, Until};
use super::pipeline::{Engine, PipelineError, Scope};
use crate::connectors::ConnectorError;
use crate::domain::Question;

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
    /// Gate and try `sql_text`; when it fails, run the correction loop from
    /// it (every candidate gated and run before it is returned).
    #[instrument(skip_all, fields(connection.id = scope.connection()))]
    pub async fn fix_sql(
        &self,
        scope: &Scope,
        sql_text: &str,
        question: Option<&Question>,
    ) -> Result<SqlFix, PipelineError> {
        let (for_model, public) = match self
            .gate_audited(&scope.rc, &scope.conn, sql_text, "fix")
            .await
        {
            Ok(gated) => match self.run(&scope.conn, &gated, &scope.rc).await {
                Ok(_) => return Ok(fix(scope, gated, false, None, 0)),
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
        let context = self
            .retrieve(&scope.conn, question.as_str(), &scope.rc)
            .await?;
        let mut req = self.generation_request(scope, &question, context);
        req.previous_attempts.push(FailedAttempt {
            sql: sql_text.to_string(),
            error: for_model,
        });
        let plan = Plan {
            attempts: self.settings().max_correction_attempts.max(1),
            until: Until::Ran,
            echo: Echo::Written,
        };
        match self
            .correct(scope, req, plan, &mut Trail::default(), None)
            .await
        {
            Ok(a) => Ok(fix(scope, a.gated, true, Some(public), a.attempt)),
            Err(Stop::GaveUp { reason, .. }) => Err(PipelineError::Unanswerable(reason)),
            Err(Stop::Exhausted(_)) => Err(PipelineError::Unanswerable(format!(
                "no working correction was found ({public})"
            ))),
            Err(Stop::Broken(e)) => Err(e),
        }
    }
}

/// The answer of `/sql/fix` for SQL that ran.
fn fix(
    scope: &Scope,
    gated: GatedSql,
    fixed: bool,
    error: Option<String>,
    attempts: u32,
) -> SqlFix {
    SqlFix {
        connection: scope.connection().to_string(),
        fixed,
        error,
        sql: gated.sql().to_string(),
        tables: gated.tables().to_vec(),
        attempts,
    }
}
