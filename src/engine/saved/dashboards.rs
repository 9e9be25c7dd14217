//! Dashboards: a caller's saved questions pinned in order, refreshed under
//! the reader's grant (see [`super`]). Only the owner's own saved questions
//! can be pinned; another user's id is `NotFound`.

use std::collections::HashSet;

use super::{TileResult, clean_title, owner, share_token};
use crate::engine::pipeline::{Engine, PipelineError, RequestContext};
use crate::store::dashboards::Dashboard;
use crate::store::{Page, StoreError};

/// Most tiles on one dashboard (each refresh runs every one).
pub const MAX_TILES: usize = 24;

impl Engine {
    pub async fn create_dashboard(
        &self,
        rc: &RequestContext,
        title: &str,
    ) -> Result<Dashboard, PipelineError> {
        let title = clean_title(title)?;
        Ok(self.store.create_dashboard(owner(rc)?, &title).await?)
    }

    pub async fn list_dashboards(
        &self,
        rc: &RequestContext,
        page: Page,
    ) -> Result<(Vec<Dashboard>, u64), PipelineError> {
        Ok(self.store.list_dashboards(owner(rc)?, page).await?)
    }

    /// The caller's dashboard `id`; anyone else's is `NotFound`.
    pub async fn own_dashboard(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<Dashboard, PipelineError> {
        let d = self.store.get_dashboard(id).await?;
        if d.user_id != owner(rc)? {
            return Err(StoreError::NotFound.into());
        }
        Ok(d)
    }

    /// Rename and/or replace the pinned saved questions (the caller's own,
    /// no repeats, at most [`MAX_TILES`]).
    pub async fn update_dashboard(
        &self,
        rc: &RequestContext,
        id: &str,
        title: Option<&str>,
        tiles: Option<&[String]>,
    ) -> Result<Dashboard, PipelineError> {
        self.own_dashboard(rc, id).await?;
        let title = title.map(clean_title).transpose()?;
        if let Some(tiles) = tiles {
            if tiles.len() > MAX_TILES {
                return Err(PipelineError::BadInput(format!(
                    "a dashboard holds at most {MAX_TILES} saved questions"
                )));
            }
            let mut seen = HashSet::new();
            for saved in tiles {
                if !seen.insert(saved) {
                    return Err(PipelineError::BadInput(format!(
                        "saved question `{saved}` is pinned twice"
                    )));
                }
                // Another user's saved question reads as missing.
                self.own_saved(rc, saved).await.map_err(|e| match e {
                    PipelineError::Store(StoreError::NotFound) => {
                        PipelineError::BadInput(format!("no saved question `{saved}` of yours"))
                    }
                    other => other,
                })?;
            }
        }
        Ok(self
            .store
            .update_dashboard(id, title.as_deref(), tiles)
            .await?)
    }

    pub async fn delete_dashboard(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<(), PipelineError> {
        self.own_dashboard(rc, id).await?;
        Ok(self.store.delete_dashboard(id).await?)
    }

    /// Run every tile of the caller's dashboard now, under their grant.
    pub async fn refresh_dashboard(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<(Dashboard, Vec<TileResult>), PipelineError> {
        let d = self.own_dashboard(rc, id).await?;
        let tiles = self.run_tiles(rc, &d.tiles).await?;
        Ok((d, tiles))
    }

    /// Share (`on`) or stop sharing the caller's dashboard; returns the
    /// token while shared.
    pub async fn share_dashboard(
        &self,
        rc: &RequestContext,
        id: &str,
        on: bool,
    ) -> Result<Option<String>, PipelineError> {
        let d = self.own_dashboard(rc, id).await?;
        let token = match (on, d.share_token) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(share_token()),
            (false, _) => None,
        };
        self.store.set_dashboard_share(id, token.as_deref()).await?;
        self.audit(
            rc,
            if on {
                "dashboard.shared"
            } else {
                "dashboard.unshared"
            },
            id,
            serde_json::json!({}),
        )
        .await;
        Ok(token)
    }
}
