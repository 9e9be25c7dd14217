//! Users: username, Argon2id hash, role, disabled flag. Users are never
//! deleted (history and audit point at them); they are disabled.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, new_id, now};
use crate::domain::Role;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub password_hash: String,
    /// Access tokens issued under an older epoch are refused (logout,
    /// disable and revoke bump it).
    #[serde(skip)]
    #[schema(ignore)]
    pub token_epoch: i64,
    /// Part of the login-failure keys; `insight user unlock` bumps it.
    #[serde(skip)]
    #[schema(ignore)]
    pub lockout_epoch: i64,
}

fn row_to_user(r: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Database(format!("bad role {role}")))?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        password_hash: r.try_get("password_hash")?,
        token_epoch: r.try_get("token_epoch")?,
        lockout_epoch: r.try_get("lockout_epoch")?,
    })
}

const COLUMNS: &str = "id, username, password_hash, role, disabled, created_at, updated_at, \
                       token_epoch, lockout_epoch";

impl Store {
    /// Insert a user; a taken username is `Conflict`.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        let id = new_id();
        let at = now();
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $6)",
        )
        .bind(&id)
        .bind(username)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(&at)
        .bind(&at)
        .execute(self.pool())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("username `{username}` is taken")),
            other => other,
        })?;
        self.get_user(&id).await
    }

    pub async fn get_user(&self, id: &str) -> Result<User, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        row_to_user(&row)
    }

    pub async fn find_user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(row_to_user).transpose()
    }

    pub async fn count_users(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(n.max(0) as u64)
    }

    pub async fn list_users(&self, page: super::Page) -> Result<(Vec<User>, u64), StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"
        )))
        .bind(page.limit as i64)
        .bind(page.offset as i64)
        .fetch_all(self.pool())
        .await?;
        let users = rows.iter().map(row_to_user).collect::<Result<_, _>>()?;
        Ok((users, self.count_users().await?))
    }

    /// Change role and/or disabled flag; returns the updated user.
    pub async fn update_user(
        &self,
        id: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET role = COALESCE($1, role), disabled = COALESCE($2, disabled), \
             updated_at = $3 WHERE id = $4",
        )
        .bind(role.map(Role::as_str))
        .bind(disabled.map(i64::from))
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_user(id).await
    }

    pub async fn set_password_hash(&self, id: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Refuse every access token issued so far (they carry the old epoch).
    pub async fn bump_token_epoch(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE users SET token_epoch = token_epoch + 1, updated_at = $1 WHERE id = $2",
        )
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Forget the user's counted login failures (their keys carry the epoch).
    pub async fn bump_lockout_epoch(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE users SET lockout_epoch = lockout_epoch + 1, updated_at = $1 WHERE id = $2",
        )
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
