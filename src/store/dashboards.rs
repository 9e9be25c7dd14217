//! Dashboards: a titled, ordered set of saved questions of one owner
//! (tiles), optionally shared by an unguessable token. This module only
//! stores; the engine (`engine::dashboards`) checks ownership and runs each
//! tile under the reader's own grant.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Page, Store, StoreError, new_id, now};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub id: String,
    /// The owner.
    pub user_id: String,
    pub title: String,
    /// Set while the dashboard is shared; `/ui/shared/<token>` opens it.
    pub share_token: Option<String>,
    /// Saved question ids, in the order shown.
    pub tiles: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, user_id, title, share_token, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<Dashboard, sqlx::Error> {
    Ok(Dashboard {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        title: r.try_get("title")?,
        share_token: r.try_get("share_token")?,
        tiles: Vec::new(),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn create_dashboard(
        &self,
        user_id: &str,
        title: &str,
    ) -> Result<Dashboard, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO dashboards (id, user_id, title, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(title)
        .bind(now())
        .execute(self.pool())
        .await?;
        self.get_dashboard(&id).await
    }

    /// A dashboard with its tiles in order.
    pub async fn get_dashboard(&self, id: &str) -> Result<Dashboard, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM dashboards WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        let mut d = from_row(&row)?;
        d.tiles = self.dashboard_tiles(id).await?;
        Ok(d)
    }

    /// The dashboard shared under `token`, with its tiles.
    pub async fn dashboard_by_token(&self, token: &str) -> Result<Dashboard, StoreError> {
        let id: String = sqlx::query_scalar("SELECT id FROM dashboards WHERE share_token = $1")
            .bind(token)
            .fetch_one(self.pool())
            .await?;
        self.get_dashboard(&id).await
    }

    async fn dashboard_tiles(&self, id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT saved_id FROM dashboard_tiles WHERE dashboard_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?)
    }

    /// One page of `user_id`'s dashboards (without tiles), most recently
    /// changed first, with their total.
    pub async fn list_dashboards(
        &self,
        user_id: &str,
        page: Page,
    ) -> Result<(Vec<Dashboard>, u64), StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM dashboards WHERE user_id = $1 \
             ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(user_id)
        .bind(i64::from(page.limit))
        .bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dashboards WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        let items = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok((items, total.max(0) as u64))
    }

    /// Rename and/or replace the tiles (in one transaction).
    pub async fn update_dashboard(
        &self,
        id: &str,
        title: Option<&str>,
        tiles: Option<&[String]>,
    ) -> Result<Dashboard, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE dashboards SET title = COALESCE($2, title), updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(title)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(tiles) = tiles {
            sqlx::query("DELETE FROM dashboard_tiles WHERE dashboard_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (position, saved_id) in tiles.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO dashboard_tiles (dashboard_id, saved_id, position) \
                     VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(saved_id)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.get_dashboard(id).await
    }

    /// Set (`Some`) or clear (`None`) the share token.
    pub async fn set_dashboard_share(
        &self,
        id: &str,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE dashboards SET share_token = $2 WHERE id = $1")
            .bind(id)
            .bind(token)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_dashboard(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM dashboard_tiles WHERE dashboard_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM dashboards WHERE id = $1")
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
