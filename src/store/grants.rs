//! Connection grants: which connections a non-admin user may reach, each
//! with an optional table allowlist that the SQL validator enforces.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError, now};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grant {
    pub connection: String,
    /// Lower-case table names; `null` means every table of the connection.
    pub allowed_tables: Option<Vec<String>>,
}

impl Store {
    pub async fn grants_for_user(&self, user_id: &str) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(
            "SELECT connection, allowed_tables FROM connection_grants WHERE user_id = $1 \
             ORDER BY connection",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let tables: Option<String> = r.try_get::<Option<String>, _>("allowed_tables")?;
                Ok(Grant {
                    connection: r.try_get("connection")?,
                    allowed_tables: tables.and_then(|t| serde_json::from_str(&t).ok()),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Replace `user_id`'s grants with `grants`.
    pub async fn set_grants(&self, user_id: &str, grants: &[Grant]) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM connection_grants WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for g in grants {
            let tables = g.allowed_tables.as_ref().map(|t| {
                serde_json::Value::from(t.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>())
                    .to_string()
            });
            sqlx::query(
                "INSERT INTO connection_grants (user_id, connection, allowed_tables, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(&g.connection)
            .bind(tables)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_grants_for_connection(&self, connection: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM connection_grants WHERE connection = $1")
            .bind(connection)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
