//! Connections created through the admin API. The DSN is stored encrypted
//! (`auth::crypto`); this module only moves bytes and never sees plaintext.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError, now};

/// Non-secret settings of a stored connection (the `settings` JSON column).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredConnectionSettings {
    #[serde(default)]
    pub allowed_tables: Option<Vec<String>>,
    #[serde(default)]
    pub max_rows: Option<u64>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Overrides `llm.allow_values_in_prompt` for this connection.
    #[serde(default)]
    pub allow_values_in_prompt: Option<bool>,
    /// Budgets of this connection (`docs/SECURITY.md`, Budgets).
    #[serde(default)]
    pub budgets: crate::domain::budget::BudgetOverride,
}

#[derive(Debug, Clone)]
pub struct StoredConnection {
    pub id: String,
    pub dialect: String,
    pub description: Option<String>,
    pub dsn_encrypted: Option<Vec<u8>>,
    pub settings: StoredConnectionSettings,
    pub created_at: String,
    pub updated_at: String,
}

fn row_to_conn(r: &sqlx::any::AnyRow) -> Result<StoredConnection, sqlx::Error> {
    let settings: String = r.try_get("settings")?;
    Ok(StoredConnection {
        id: r.try_get("id")?,
        dialect: r.try_get("dialect")?,
        description: r.try_get("description")?,
        dsn_encrypted: r.try_get("dsn_encrypted")?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn insert_connection(&self, c: &StoredConnection) -> Result<(), StoreError> {
        let at = now();
        sqlx::query(
            "INSERT INTO connections (id, dialect, description, dsn_encrypted, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.dialect)
        .bind(&c.description)
        .bind(&c.dsn_encrypted)
        .bind(serde_json::to_string(&c.settings).unwrap_or_else(|_| "{}".into()))
        .bind(&at)
        .bind(&at)
        .execute(self.pool())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("connection `{}` exists", c.id)),
            other => other,
        })?;
        Ok(())
    }

    pub async fn update_connection(&self, c: &StoredConnection) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE connections SET description = $1, dsn_encrypted = $2, settings = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(&c.description)
        .bind(&c.dsn_encrypted)
        .bind(serde_json::to_string(&c.settings).unwrap_or_else(|_| "{}".into()))
        .bind(now())
        .bind(&c.id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn get_connection(&self, id: &str) -> Result<StoredConnection, StoreError> {
        let row = sqlx::query(
            "SELECT id, dialect, description, dsn_encrypted, settings, created_at, updated_at \
             FROM connections WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(row_to_conn(&row)?)
    }

    pub async fn list_connections(&self) -> Result<Vec<StoredConnection>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, dialect, description, dsn_encrypted, settings, created_at, updated_at \
             FROM connections ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(row_to_conn).collect::<Result<_, _>>()?)
    }

    pub async fn delete_connection(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM connections WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
