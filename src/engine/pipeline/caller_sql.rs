//! SQL for `/sql/*`: generate without running ([`Engine::generate`], the
//! correction loop stopped at the gate), validate and execute SQL a person
//! gave. Caller SQL is checked and audited here, in the engine, never in a
//! handler: [`Engine::gate_audited`] applies the caller's grant and records
//! a rejection.

use std::time::Instant;

use tracing::instrument;

use super::correct::{Accepted, Echo, Plan, Rejection, Stop, Trail, Until};
use super::types::ms;
use super::{Engine, GeneratedSql, PipelineError, RequestContext, Scope, ValidationReport};
use crate::connectors::{ConnectionHandle, ResultSet};
use crate::domain::{ConnectionId, Question, Trust};
use crate::engine::gate::GatedSql;
use crate::sql::ValidationError;
use crate::store::StoreError;

/// What `/sql/execute` runs.
#[derive(Debug, Clone)]
pub enum SqlSource {
    /// SQL a person wrote, on `connection` (or the default one).
    Written {
        sql: String,
        connection: Option<ConnectionId>,
    },
    /// The SQL of a stored query (the history), on its connection.
    Stored { query_id: String },
}

/// SQL that ran for `/sql/execute`.
#[derive(Debug)]
pub struct Executed {
    pub gated: GatedSql,
    pub rows: ResultSet,
    pub duration_ms: u64,
}

/// The candidate `/sql/generate` shows: the accepted one, or else the
/// last one the gate refused.
struct Shown {
    sql: String,
    errors: Vec<ValidationError>,
    tables: Vec<String>,
    attempt: u32,
    strategy: Option<String>,
    trust: Trust,
}

impl From<Accepted> for Shown {
    fn from(a: Accepted) -> Self {
        Self {
            sql: a.gated.sql().to_string(),
            errors: vec![],
            tables: a.gated.tables().to_vec(),
            attempt: a.attempt,
            strategy: a.strategy,
            trust: a.trust,
        }
    }
}

impl From<Rejection> for Shown {
    fn from(r: Rejection) -> Self {
        Self {
            sql: r.sql,
            errors: vec![r.error],
            tables: vec![],
            attempt: r.attempt,
            strategy: r.strategy,
            trust: r.trust,
        }
    }
}

impl Engine {
    /// Generate and validate SQL without running it: the correction loop,
    /// stopped at the gate. SQL the gate still refuses after the last
    /// attempt is reported (`valid: false`), not an error.
    #[instrument(skip_all, fields(connection.id = scope.connection()))]
    pub async fn generate(
        &self,
        scope: &Scope,
        question: &Question,
    ) -> Result<GeneratedSql, PipelineError> {
        let context = self
            .retrieve(&scope.conn, question.as_str(), &scope.rc)
            .await?;
        let sources = Self::sources(&context);
        let req = self.generation_request(scope, question, context);
        let plan = Plan {
            attempts: 1 + self.settings().max_correction_attempts,
            until: Until::Gated,
            echo: Echo::Validated,
        };
        let mut trail = Trail::default();
        let shown = match self.correct(scope, req, plan, &mut trail, None).await {
            Ok(accepted) => Shown::from(accepted),
            Err(Stop::Broken(e)) => return Err(e),
            Err(stop) => match trail.rejected {
                Some(rejection) => Shown::from(rejection),
                None => return Err(stop.into_error()),
            },
        };
        Ok(GeneratedSql {
            question: question.to_string(),
            connection: scope.connection().to_string(),
            sql: shown.sql,
            valid: shown.errors.is_empty(),
            errors: shown.errors,
            tables: shown.tables,
            sources,
            attempts: shown.attempt,
            strategy: shown.strategy,
            confidence: shown.trust.confidence,
            assumptions: shown.trust.assumptions,
        })
    }

    /// Validate SQL for the caller (their grant narrows the connection's
    /// policy): the report of `POST /sql/validate`. A rejection is audited.
    pub async fn validate(
        &self,
        scope: &Scope,
        sql_text: &str,
    ) -> Result<ValidationReport, PipelineError> {
        Ok(
            match self
                .gate_audited(&scope.rc, &scope.conn, sql_text, "validate")
                .await
            {
                Ok(v) => ValidationReport {
                    valid: true,
                    sql: v.sql().to_string(),
                    errors: vec![],
                    tables: v.tables().to_vec(),
                },
                Err(e) => ValidationReport {
                    valid: false,
                    sql: sql_text.to_string(),
                    errors: vec![e],
                    tables: vec![],
                },
            },
        )
    }

    /// Gate, then run SQL a person gave or a stored query's SQL (one the
    /// caller may not see is [`PipelineError::UnknownQuery`]) for the
    /// caller, on the connection their grant reaches.
    pub async fn execute(
        &self,
        rc: RequestContext,
        source: SqlSource,
    ) -> Result<Executed, PipelineError> {
        let (sql_text, connection) = match source {
            SqlSource::Written { sql, connection } => (sql, connection),
            SqlSource::Stored { query_id } => {
                let (sql, conn) = self.stored_sql(&rc, &query_id).await?;
                (sql, Some(conn))
            }
        };
        let scope = self.scope(rc, connection.as_ref())?;
        self.execute_on(&scope.rc, &scope.conn, &sql_text).await
    }

    /// Gate (audited) and run `sql_text` on `conn` for `rc`: `/sql/execute`
    /// and a feedback's corrected SQL.
    #[instrument(name = "execute", skip_all, fields(connection.id = conn.id.as_str()))]
    pub(crate) async fn execute_on(
        &self,
        rc: &RequestContext,
        conn: &ConnectionHandle,
        sql_text: &str,
    ) -> Result<Executed, PipelineError> {
        let gated = self.gate_audited(rc, conn, sql_text, "execute").await?;
        let t = Instant::now();
        let rows = self.run(conn, &gated, rc).await?;
        Ok(Executed {
            gated,
            rows,
            duration_ms: ms(t.elapsed()),
        })
    }

    /// The SQL and connection of stored query `id` for a re-run, if the
    /// caller may see that query (otherwise `UnknownQuery`, as if it did not
    /// exist); it still goes through the gate when it runs.
    pub async fn stored_sql(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<(String, ConnectionId), PipelineError> {
        let unknown = || PipelineError::UnknownQuery(id.to_string());
        let q = match self.store.get_query(id).await {
            Ok(q) => q,
            Err(StoreError::NotFound) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        };
        if !self.may_see_query(rc, &q) {
            return Err(unknown());
        }
        let sql = q
            .sql
            .ok_or_else(|| PipelineError::BadInput("this query has no SQL to run".into()))?;
        let conn = ConnectionId::parse(&q.connection)
            .map_err(|_| PipelineError::UnknownConnection(q.connection.clone()))?;
        Ok((sql, conn))
    }
}
