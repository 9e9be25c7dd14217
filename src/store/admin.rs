//! Reads for the admin and access views that the per-aggregate modules do
//! not offer.

use super::{Store, StoreError};

impl Store {
    pub async fn count_audit(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(self.pool())
            .await?;
        Ok(n.max(0) as u64)
    }

    /// History on some connections (an analyst's granted ones), newest first.
    pub async fn list_queries_on(
        &self,
        connections: &[String],
        page: super::Page,
    ) -> Result<(Vec<super::QueryRecord>, u64), StoreError> {
        if connections.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let n = connections.len();
        let marks = super::placeholders(1, n);
        let mut ids = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM queries WHERE connection IN ({marks}) \
             ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        )));
        for c in connections {
            ids = ids.bind(c);
        }
        let ids = ids
            .bind(page.limit as i64)
            .bind(page.offset as i64)
            .fetch_all(self.pool())
            .await?;
        let mut total = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM queries WHERE connection IN ({marks})"
        )));
        for c in connections {
            total = total.bind(c);
        }
        let total = total.fetch_one(self.pool()).await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            items.push(self.get_query(&id).await?);
        }
        Ok((items, total.max(0) as u64))
    }
}
