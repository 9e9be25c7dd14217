//! Editing a training item (`PATCH /training/{id}`), under the same
//! integrity rules as adding one: the edited item is checked like a new one
//! (its SQL through the caller's gate, its text against their grant), its
//! author becomes the editor, and an edit never approves anything — a pending
//! item stays pending, and only an active item stays active.
//!
//! Why a new item and not an update in place: authorship and approval
//! belong to the text that was approved. Keeping the old id with new text
//! would carry an approval over to words nobody approved, and
//! `revert_author` would then remove or keep the wrong text. The edit adds
//! the new version and removes the old one; the response names both.

use serde::Serialize;

use super::pipeline::{Engine, PipelineError, RequestContext};
use super::training::TrainingInput;
use crate::domain::ConnectionId;
use crate::store::{StoreError, TrainingItem};

/// What changes; omitted fields keep their value.
#[derive(Debug, Clone, Default)]
pub struct TrainingEdit {
    pub content: Option<String>,
    pub sql: Option<String>,
}

/// The edited item and the id it replaced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EditedTraining {
    #[serde(flatten)]
    pub item: TrainingItem,
    /// The id of the item this edit replaced (the same as `id` when nothing
    /// changed).
    pub replaces: String,
}

impl Engine {
    /// Replace item `id` by its edited version (see the module docs). An
    /// item whose tables the caller's grant does not cover is `NotFound`.
    pub async fn edit_training(
        &self,
        id: &str,
        edit: TrainingEdit,
        rc: &RequestContext,
    ) -> Result<EditedTraining, PipelineError> {
        let old = self.store.get_training(id).await?;
        if !self.covers_training(rc, &old) {
            return Err(PipelineError::Store(StoreError::NotFound));
        }
        let connection = ConnectionId::parse(&old.connection)
            .map_err(|_| PipelineError::UnknownConnection(old.connection.clone()))?;
        let input = TrainingInput {
            kind: old.kind,
            content: edit.content.unwrap_or_else(|| old.content.clone()),
            sql: edit.sql.or_else(|| old.sql.clone()),
        };
        let (item, created) = self
            .add_training(Some(&connection), input, old.source, old.status, rc)
            .await?;
        if item.id == old.id {
            return Ok(EditedTraining {
                item,
                replaces: old.id,
            });
        }
        self.store.delete_training(&old.id).await?;
        self.index.remove(&old.id).await?;
        self.audit(
            rc,
            "training.edited",
            &item.id,
            serde_json::json!({ "replaces": old.id, "connection": item.connection, "created": created }),
        )
        .await;
        Ok(EditedTraining {
            item,
            replaces: old.id,
        })
    }
}
