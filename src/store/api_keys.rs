//! API keys: stored as SHA-256 hashes with a short display prefix; the key
//! itself is shown once at creation and never again.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, new_id, now};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub user_id: String,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub expires_at: Option<String>,
    pub revoked: bool,
    pub last_used_at: Option<String>,
    pub created_at: String,
}

fn row_to_key(r: &sqlx::any::AnyRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        expires_at: r.try_get("expires_at")?,
        revoked: r.try_get::<Option<String>, _>("revoked_at")?.is_some(),
        last_used_at: r.try_get("last_used_at")?,
        created_at: r.try_get("created_at")?,
    })
}

const COLUMNS: &str = "id, user_id, name, prefix, expires_at, revoked_at, last_used_at, created_at";

impl Store {
    pub async fn create_api_key(
        &self,
        user_id: &str,
        name: &str,
        prefix: &str,
        key_hash: &str,
        expires_at: Option<&str>,
    ) -> Result<ApiKey, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(name)
        .bind(prefix)
        .bind(key_hash)
        .bind(expires_at)
        .bind(now())
        .execute(self.pool())
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_keys WHERE id = $1"
        )))
        .bind(&id)
        .fetch_one(self.pool())
        .await?;
        Ok(row_to_key(&row)?)
    }

    /// The live key with this hash (not revoked, not expired).
    pub async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)"
        )))
        .bind(key_hash)
        .bind(now())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(row_to_key).transpose()?)
    }

    /// Record use, at most once a minute per key (a write per request
    /// would serialise every API-key caller on the store's write lock).
    pub async fn touch_api_key(&self, id: &str) -> Result<(), StoreError> {
        let a_minute_ago = (chrono::Utc::now() - chrono::Duration::seconds(60))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now())
        .bind(id)
        .bind(a_minute_ago)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn list_api_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
        )))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(row_to_key).collect::<Result<_, _>>()?)
    }

    /// Revoke one of `user_id`'s keys; another user's key is `NotFound`.
    pub async fn revoke_api_key(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3",
        )
        .bind(now())
        .bind(id)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Revoke every live key of `user_id` (disabling a user); returns how many.
    pub async fn revoke_user_api_keys(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
