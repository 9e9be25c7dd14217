//! Backups taken on request (`POST /admin/backups` without `queue`): this
//! instance writes one now to its backup dir, pruning to `backup.keep`, and
//! audits it. Scheduled and queued backups run in a worker (`jobs`).

use super::App;
use crate::auth::Identity;
use crate::backup::{BackupInfo, BackupTarget};

impl App {
    /// Take a backup now (logged and returned when it cannot be written).
    pub async fn take_backup(&self, actor: &Identity) -> Result<BackupInfo, BackupFailed> {
        let target = BackupTarget::from_config(&self.config);
        let info = crate::backup::create(&self.engine.store, &target)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "backup failed");
                BackupFailed(e.to_string())
            })?;
        let details = serde_json::json!({ "size_bytes": info.size_bytes });
        self.engine
            .audit_by(actor, "backup.create", &info.name, details)
            .await;
        Ok(info)
    }
}

/// Why a backup could not be written (the backup error's text).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupFailed(pub String);
