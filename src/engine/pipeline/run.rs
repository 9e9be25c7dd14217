//! The one executor: runs a [`GatedSql`] on its connection (and nothing
//! else: SQL gated for another connection is refused), with the result
//! cache in front, admission and budgets for the caller, metrics and a
//! masked log of database errors.

use std::time::Instant;

use tracing::instrument;

use super::{Engine, RequestContext};
use crate::connectors::{ConnectionHandle, ConnectorError, ResultSet};
use crate::engine::gate::GatedSql;
use crate::observability::metrics;

impl Engine {
    /// One execution on a target database, measured and traced.
    #[instrument(name = "sql.execute", skip_all, fields(connection.id = %conn.id, sql.rows))]
    pub(crate) async fn run(
        &self,
        conn: &ConnectionHandle,
        sql: &GatedSql,
        rc: &RequestContext,
    ) -> Result<ResultSet, ConnectorError> {
        if sql.connection() != conn.id.as_str() {
            return Err(ConnectorError::Config(
                "SQL gated for another connection".into(),
            ));
        }
        let sql = sql.validated();
        let ttl = self.settings().result_cache_ttl;
        let key = (!ttl.is_zero()).then(|| {
            crate::cache::cache_key(&[
                "rows",
                &self.cache_namespace,
                conn.id.as_str(),
                &conn.schema_version().to_string(),
                &conn.limits.max_rows.to_string(),
                sql.sql(),
            ])
        });
        if let Some(key) = &key {
            let hit = crate::cache::get_json::<ResultSet>(self.cache.as_ref(), key).await;
            metrics::cache_lookup("result", hit.is_some());
            if let Some(rs) = hit {
                tracing::Span::current().record("sql.rows", rs.rows.len());
                return Ok(rs);
            }
        }
        let t = Instant::now();
        let result = conn.execute(sql, rc.budget_caller()).await;
        if let (Some(key), Ok(rs)) = (&key, &result)
            && let Err(e) = crate::cache::set_json(self.cache.as_ref(), key, rs, ttl).await
        {
            tracing::debug!(error = %e, "result not cached");
        }
        let (rows, err) = match &result {
            Ok(rs) => {
                tracing::Span::current().record("sql.rows", rs.rows.len());
                (Some(rs.rows.len()), None)
            }
            Err(ConnectorError::Timeout(_)) => (None, Some("timeout")),
            Err(ConnectorError::Unavailable(_)) => (None, Some("unavailable")),
            Err(ConnectorError::Execution(m)) => {
                crate::engine::gate::log_db_error(m);
                (None, Some("execution"))
            }
            Err(_) => (None, Some("execution")),
        };
        metrics::sql_execution(conn.id.as_str(), t.elapsed(), rows, err);
        result
    }
}
