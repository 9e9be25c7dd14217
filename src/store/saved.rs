//! Saved questions: an answer a user kept (question, SQL, connection, chart
//! choice), owned by that user, optionally shared by an unguessable token.
//! This module only stores; who may read or run one is decided by the
//! engine (`engine::saved`), which runs the SQL under the reader's grant.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Page, Store, StoreError, new_id, now};

/// One saved question as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SavedQuestion {
    pub id: String,
    /// The owner.
    pub user_id: String,
    pub title: String,
    pub question: String,
    pub sql: String,
    pub connection: String,
    /// `auto`, `bar`, `line`, `point` or `table` (see `engine::chart::ChartChoice`).
    pub chart: String,
    /// Set while the question is shared; `/ui/shared/<token>` opens it.
    pub share_token: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What saving needs.
#[derive(Debug, Clone)]
pub struct NewSavedQuestion<'a> {
    pub user_id: &'a str,
    pub title: &'a str,
    pub question: &'a str,
    pub sql: &'a str,
    pub connection: &'a str,
    pub chart: &'a str,
}

const COLUMNS: &str = "id, user_id, title, question, sql, connection, chart, share_token, \
                       created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<SavedQuestion, sqlx::Error> {
    Ok(SavedQuestion {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        title: r.try_get("title")?,
        question: r.try_get("question")?,
        sql: r.try_get("sql")?,
        connection: r.try_get("connection")?,
        chart: r.try_get("chart")?,
        share_token: r.try_get("share_token")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn create_saved_question(
        &self,
        new: &NewSavedQuestion<'_>,
    ) -> Result<SavedQuestion, StoreError> {
        let id = new_id();
        let at = now();
        sqlx::query(
            "INSERT INTO saved_questions (id, user_id, title, question, sql, connection, chart, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(new.title)
        .bind(new.question)
        .bind(new.sql)
        .bind(new.connection)
        .bind(new.chart)
        .bind(&at)
        .execute(self.pool())
        .await?;
        self.get_saved_question(&id).await
    }

    pub async fn get_saved_question(&self, id: &str) -> Result<SavedQuestion, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM saved_questions WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(from_row(&row)?)
    }

    /// The saved question shared under `token`.
    pub async fn saved_question_by_token(&self, token: &str) -> Result<SavedQuestion, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM saved_questions WHERE share_token = $1"
        )))
        .bind(token)
        .fetch_one(self.pool())
        .await?;
        Ok(from_row(&row)?)
    }

    /// One page of `user_id`'s saved questions, most recently changed first,
    /// with their total.
    pub async fn list_saved_questions(
        &self,
        user_id: &str,
        page: Page,
    ) -> Result<(Vec<SavedQuestion>, u64), StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM saved_questions WHERE user_id = $1 \
             ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(user_id)
        .bind(i64::from(page.limit))
        .bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM saved_questions WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(self.pool())
                .await?;
        let items = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok((items, total.max(0) as u64))
    }

    /// Change the title and/or the chart choice.
    pub async fn update_saved_question(
        &self,
        id: &str,
        title: Option<&str>,
        chart: Option<&str>,
    ) -> Result<SavedQuestion, StoreError> {
        let done = sqlx::query(
            "UPDATE saved_questions SET title = COALESCE($2, title), \
             chart = COALESCE($3, chart), updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(title)
        .bind(chart)
        .bind(now())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_saved_question(id).await
    }

    /// Set (`Some`) or clear (`None`) the share token.
    pub async fn set_saved_question_share(
        &self,
        id: &str,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE saved_questions SET share_token = $2 WHERE id = $1")
            .bind(id)
            .bind(token)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Delete a saved question (and its dashboard tiles, by cascade).
    pub async fn delete_saved_question(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        // Explicit as well as by foreign key: SQLite connections opened
        // without `foreign_keys = ON` (older tools) would leave tiles behind.
        sqlx::query("DELETE FROM dashboard_tiles WHERE saved_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM saved_questions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}
