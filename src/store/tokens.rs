//! Refresh tokens, stored as SHA-256 hashes, grouped in families (one per
//! login). Rotation revokes the presented token and inserts its successor;
//! presenting an already revoked token revokes the whole family, since only
//! a thief or a replay would hold an old one.

use sqlx::Row;

use super::{Store, StoreError, new_id, now};

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub id: String,
    pub user_id: String,
    pub family_id: String,
    pub expires_at: String,
    pub revoked: bool,
}

impl Store {
    pub async fn insert_refresh_token(
        &self,
        user_id: &str,
        family_id: &str,
        token_hash: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(family_id)
        .bind(token_hash)
        .bind(expires_at)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, family_id, expires_at, revoked_at FROM refresh_tokens \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(RefreshToken {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                family_id: r.try_get("family_id")?,
                expires_at: r.try_get("expires_at")?,
                revoked: r.try_get::<Option<String>, _>("revoked_at")?.is_some(),
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }

    /// Revoke one token; `false` when it was already revoked (a race lost).
    pub async fn revoke_refresh_token(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn revoke_refresh_family(&self, family_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(family_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn revoke_user_refresh_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
