//! Runtime settings overrides, stored as one JSON document per key.

use super::{Store, StoreError, now};

const RUNTIME: &str = "runtime";
const DEPLOYMENT_ID: &str = "deployment_id";

impl Store {
    /// A random id made the first time a store is used and kept with it:
    /// shared caches (Redis) namespace their keys with it, so two stores
    /// whose training versions happen to match never share cached answers.
    pub async fn deployment_id(&self) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, NULL) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(DEPLOYMENT_ID)
        .bind(serde_json::Value::String(super::new_id()).to_string())
        .bind(now())
        .execute(self.pool())
        .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(DEPLOYMENT_ID)
            .fetch_one(self.pool())
            .await?;
        Ok(serde_json::from_str::<String>(&value).unwrap_or(value))
    }

    /// The stored runtime-settings overrides, if an admin ever changed them.
    pub async fn runtime_settings(&self) -> Result<Option<serde_json::Value>, StoreError> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(RUNTIME)
            .fetch_optional(self.pool())
            .await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub async fn save_runtime_settings(
        &self,
        value: &serde_json::Value,
        updated_by: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(RUNTIME)
        .bind(value.to_string())
        .bind(now())
        .bind(updated_by)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
