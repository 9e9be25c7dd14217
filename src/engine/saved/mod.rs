//! Saved questions, dashboards and share links: keeping an answer, pinning
//! it, and running it again later.
//!
//! The rule this module exists to keep: stored SQL is never trusted. Every
//! run (a saved question's, a dashboard tile's, a shared link's) goes
//! through the engine's gate under the *reader's* role and grant, never the
//! owner's, so a share link gives nobody more than their own grant allows.
//! A tile the reader may not see comes back `refused`, without rows, SQL or
//! question; saving checks the SQL under the saver's grant too.
//!
//! Objects belong to their owner: another user's saved question or
//! dashboard is `NotFound`, as if it did not exist. A share token (122
//! random bits) is the only way another signed-in user reaches one.

pub mod chart;
pub mod dashboards;
pub mod tiles;

use tracing::instrument;

use super::pipeline::{Engine, PipelineError, RequestContext};
use crate::domain::ConnectionId;
use crate::store::saved::{NewSavedQuestion, SavedQuestion};
use crate::store::{Page, StoreError};
pub use chart::ChartChoice;
pub use tiles::{SharedView, TileError, TileResult, TileStatus};

/// Longest title kept, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// What to save: an answer from the history (`query_id`), or a question
/// with its SQL.
#[derive(Debug, Clone, Default)]
pub struct SaveInput {
    pub query_id: Option<String>,
    pub title: Option<String>,
    pub question: Option<String>,
    pub sql: Option<String>,
    pub connection: Option<ConnectionId>,
    pub chart: Option<ChartChoice>,
}

/// A new share token: 122 random bits (UUID v4), hex.
fn share_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A title as kept: trimmed, not empty, at most [`MAX_TITLE_CHARS`].
pub fn clean_title(title: &str) -> Result<String, PipelineError> {
    let t = title.trim();
    if t.is_empty() {
        return Err(PipelineError::BadInput(
            "the title must not be empty".into(),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(PipelineError::BadInput(
            "the title must not contain control characters".into(),
        ));
    }
    if t.chars().count() > MAX_TITLE_CHARS {
        return Err(PipelineError::BadInput(format!(
            "the title must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(t.to_string())
}

impl Engine {
    /// Save an answer for the caller. Its SQL must pass the gate under the
    /// caller's grant now (it is checked again at every run).
    #[instrument(skip_all)]
    pub async fn save_question(
        &self,
        rc: &RequestContext,
        input: SaveInput,
    ) -> Result<SavedQuestion, PipelineError> {
        let owner = owner(rc)?;
        let (question, sql, connection) = match (&input.query_id, &input.sql) {
            (Some(id), None) => {
                let q = self.visible_query(rc, id).await?;
                let sql = q.sql.ok_or_else(|| {
                    PipelineError::BadInput("this answer has no SQL to save".into())
                })?;
                let conn = ConnectionId::parse(&q.connection)
                    .map_err(|_| PipelineError::UnknownConnection(q.connection.clone()))?;
                (q.question, sql, conn)
            }
            (None, Some(sql)) => {
                let question = input.question.clone().unwrap_or_default();
                if question.contains('\0') || question.chars().count() > 2000 {
                    return Err(PipelineError::BadInput(
                        "the question must be at most 2000 characters, without NUL".into(),
                    ));
                }
                let conn = match &input.connection {
                    Some(c) => c.clone(),
                    None => self.connection(None)?.id.clone(),
                };
                (question, sql.clone(), conn)
            }
            _ => {
                return Err(PipelineError::BadInput(
                    "send exactly one of `query_id` or `sql`".into(),
                ));
            }
        };
        let conn = self.connection(Some(&connection))?;
        let gated = self.gate_audited(rc, &conn, &sql, "save").await?;
        let title = match input.title.as_deref() {
            Some(t) => clean_title(t)?,
            None => default_title(&question),
        };
        let chart = input.chart.unwrap_or_default();
        let saved = self
            .store
            .create_saved_question(&NewSavedQuestion {
                user_id: owner,
                title: &title,
                question: &question,
                sql: gated.sql(),
                connection: conn.id.as_str(),
                chart: chart.as_str(),
            })
            .await?;
        Ok(saved)
    }

    /// One page of the caller's saved questions.
    pub async fn list_saved(
        &self,
        rc: &RequestContext,
        page: Page,
    ) -> Result<(Vec<SavedQuestion>, u64), PipelineError> {
        Ok(self.store.list_saved_questions(owner(rc)?, page).await?)
    }

    /// The caller's saved question `id`; anyone else's is `NotFound`.
    pub async fn own_saved(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<SavedQuestion, PipelineError> {
        let saved = self.store.get_saved_question(id).await?;
        if saved.user_id != owner(rc)? {
            return Err(StoreError::NotFound.into());
        }
        Ok(saved)
    }

    /// Rename it and/or switch its chart type.
    pub async fn update_saved(
        &self,
        rc: &RequestContext,
        id: &str,
        title: Option<&str>,
        chart: Option<ChartChoice>,
    ) -> Result<SavedQuestion, PipelineError> {
        self.own_saved(rc, id).await?;
        let title = title.map(clean_title).transpose()?;
        Ok(self
            .store
            .update_saved_question(id, title.as_deref(), chart.map(ChartChoice::as_str))
            .await?)
    }

    pub async fn delete_saved(&self, rc: &RequestContext, id: &str) -> Result<(), PipelineError> {
        self.own_saved(rc, id).await?;
        Ok(self.store.delete_saved_question(id).await?)
    }

    /// Run the caller's saved question now, under their grant.
    pub async fn run_saved(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<TileResult, PipelineError> {
        let saved = self.own_saved(rc, id).await?;
        Ok(self.run_tile(rc, &saved).await)
    }

    /// Share (`on`) or stop sharing the caller's saved question; returns the
    /// token while shared. Sharing again keeps the token.
    pub async fn share_saved(
        &self,
        rc: &RequestContext,
        id: &str,
        on: bool,
    ) -> Result<Option<String>, PipelineError> {
        let saved = self.own_saved(rc, id).await?;
        let token = match (on, saved.share_token) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(share_token()),
            (false, _) => None,
        };
        self.store
            .set_saved_question_share(id, token.as_deref())
            .await?;
        self.audit(
            rc,
            if on { "saved.shared" } else { "saved.unshared" },
            id,
            serde_json::json!({}),
        )
        .await;
        Ok(token)
    }

    /// What a share link opens, run under the *reader's* grant: a saved
    /// question (one tile) or a dashboard. An unknown or revoked token is
    /// `NotFound`.
    #[instrument(skip_all)]
    pub async fn open_shared(
        &self,
        rc: &RequestContext,
        token: &str,
    ) -> Result<SharedView, PipelineError> {
        owner(rc)?;
        // Tokens are hex; anything else cannot match and is not looked up.
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound.into());
        }
        match self.store.saved_question_by_token(token).await {
            Ok(saved) => {
                let tile = self.run_tile(rc, &saved).await;
                return Ok(SharedView {
                    kind: "question".into(),
                    title: saved.title,
                    tiles: vec![tile],
                });
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let dashboard = self.store.dashboard_by_token(token).await?;
        let tiles = self.run_tiles(rc, &dashboard.tiles).await?;
        Ok(SharedView {
            kind: "dashboard".into(),
            title: dashboard.title,
            tiles,
        })
    }
}

/// A title from the question: its first [`MAX_TITLE_CHARS`] characters.
fn default_title(question: &str) -> String {
    let t: String = question
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE_CHARS)
        .collect();
    if t.is_empty() {
        "Saved query".into()
    } else {
        t
    }
}

/// The signed-in caller's id: saved objects always have an owner.
fn owner(rc: &RequestContext) -> Result<&str, PipelineError> {
    rc.user_id
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| PipelineError::BadInput("saving answers needs a signed-in user".into()))
}
