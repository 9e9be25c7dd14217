//! Audit events: who did what to which object, append-only.

use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::Row;

use super::writer::Write;
use super::{Page, Store, StoreError, new_id, now};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub at: String,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub correlation_id: Option<String>,
}

/// An audit row as the writer inserts it.
#[derive(Debug)]
pub(crate) struct AuditRow {
    id: String,
    at: String,
    actor: Option<String>,
    action: String,
    target: Option<String>,
    details_json: String,
    correlation_id: Option<String>,
}

impl AuditRow {
    pub(super) async fn insert(&self, conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO audit_events (id, at, actor, action, target, details_json, correlation_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&self.id)
        .bind(&self.at)
        .bind(&self.actor)
        .bind(&self.action)
        .bind(&self.target)
        .bind(&self.details_json)
        .bind(&self.correlation_id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Append an audit event through the group-commit writer; returns once
    /// it is committed.
    pub async fn record_audit(
        &self,
        actor: Option<&str>,
        action: &str,
        target: Option<&str>,
        details: serde_json::Value,
        correlation_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let row = AuditRow {
            id: new_id(),
            at: now(),
            actor: actor.map(str::to_string),
            action: action.to_string(),
            target: target.map(str::to_string),
            details_json: details.to_string(),
            correlation_id: correlation_id.map(str::to_string),
        };
        self.writer.submit(Write::Audit(Box::new(row))).await
    }

    pub async fn list_audit(&self, page: Page) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, details_json, correlation_id FROM audit_events \
             ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(page.limit as i64)
        .bind(page.offset as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    details: serde_json::from_str(&r.try_get::<String, _>("details_json")?)
                        .unwrap_or(serde_json::Value::Null),
                    correlation_id: r.try_get("correlation_id")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
