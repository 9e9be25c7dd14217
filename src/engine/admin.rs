//! Administration as a service: users, their grants, the audit log, usage
//! figures and the job queue, for the admin API (and any other front end),
//! which calls these methods instead of reaching into the store.
//!
//! Every change records an audit event with the acting user and the
//! request's correlation id; a failure to record one is logged, never
//! turned into a failed request. Rules about the actor (an admin cannot
//! demote, disable or reset themselves) live here, beside the change.

use secrecy::SecretString;

use super::pipeline::Engine;
use crate::auth::{Accounts, AuthError, Identity};
use crate::domain::{ConnectionId, Role};
use crate::observability::correlation::current_correlation_id;
use crate::store::grants::Grant;
use crate::store::jobs::{Job, JobStatus};
use crate::store::stats::UsageStats;
use crate::store::{AuditEvent, Page, StoreError, User};

/// Why an administrative request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// What was not found, as the caller named it: "user `u1`".
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    /// The thing to create exists already.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `StoreError::NotFound` as "`what` not found"; other errors unchanged.
fn named(what: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> AdminError {
    move |e| match e {
        StoreError::NotFound => AdminError::NotFound(what()),
        other => AdminError::Store(other),
    }
}

fn user(id: &str) -> impl FnOnce() -> String + '_ {
    move || format!("user `{id}`")
}

/// An auth error whose cause is a missing user, named as such.
fn auth_named(id: &str) -> impl FnOnce(AuthError) -> AdminError + '_ {
    move |e| match e {
        AuthError::Store(e) => named(user(id))(e),
        other => AdminError::Auth(other),
    }
}

impl Engine {
    /// The user accounts of this engine's store.
    fn accounts(&self) -> Accounts {
        Accounts::new(self.store.clone())
    }
    /// Record an audit event for `actor` (an identity, where `Engine::audit`
    /// takes a request context); logged, not returned, on failure.
    pub async fn audit_by(
        &self,
        actor: &Identity,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) {
        let correlation = current_correlation_id();
        if let Err(e) = self
            .store
            .record_audit(
                Some(&actor.user_id),
                action,
                Some(target),
                details,
                correlation.as_deref(),
            )
            .await
        {
            tracing::error!(error = %e, action, "audit event not recorded");
        }
    }

    pub async fn list_users(&self, page: Page) -> Result<(Vec<User>, u64), AdminError> {
        Ok(self.store.list_users(page).await?)
    }

    /// A new user with `password`; audited.
    pub async fn create_user(
        &self,
        actor: &Identity,
        username: &str,
        password: SecretString,
        role: Role,
    ) -> Result<User, AdminError> {
        let user = self
            .accounts()
            .create_user(username, password, role)
            .await?;
        let details = serde_json::json!({ "username": user.username, "role": user.role });
        self.audit_by(actor, "user.create", &user.id, details).await;
        Ok(user)
    }

    /// Change a user's role or disable/enable them. Disabling revokes their
    /// tokens, refresh tokens and API keys at once (re-enabling revives
    /// none). An admin cannot demote or disable themselves.
    pub async fn update_user(
        &self,
        actor: &Identity,
        id: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User, AdminError> {
        if id == actor.user_id && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin))
        {
            return Err(AdminError::BadInput(
                "You cannot demote or disable yourself.".into(),
            ));
        }
        let before = self.store.get_user(id).await.map_err(named(user(id)))?;
        let after = self
            .store
            .update_user(id, role, disabled)
            .await
            .map_err(named(user(id)))?;
        if after.disabled {
            self.accounts().revoke_credentials(id).await?;
        }
        if before.role != after.role {
            let details = serde_json::json!({ "from": before.role, "to": after.role });
            self.audit_by(actor, "user.role_change", id, details).await;
        }
        if before.disabled != after.disabled {
            let action = if after.disabled {
                "user.disable"
            } else {
                "user.enable"
            };
            self.audit_by(actor, action, id, serde_json::json!({}))
                .await;
        }
        Ok(after)
    }

    /// Disable a user (users are never destroyed); not oneself.
    pub async fn disable_user(&self, actor: &Identity, id: &str) -> Result<(), AdminError> {
        if id == actor.user_id {
            return Err(AdminError::BadInput("You cannot disable yourself.".into()));
        }
        self.accounts()
            .set_disabled(id, true)
            .await
            .map_err(auth_named(id))?;
        self.audit_by(actor, "user.disable", id, serde_json::json!({}))
            .await;
        Ok(())
    }

    /// Set another user's password, revoking their credentials; audited.
    pub async fn reset_password(
        &self,
        actor: &Identity,
        id: &str,
        password: SecretString,
    ) -> Result<User, AdminError> {
        if id == actor.user_id {
            return Err(AdminError::BadInput(
                "To change your own password, use Change password (it needs your current one)."
                    .into(),
            ));
        }
        let user = self
            .accounts()
            .reset_password(id, password)
            .await
            .map_err(auth_named(id))?;
        self.audit_by(actor, "user.password_reset", id, serde_json::json!({}))
            .await;
        Ok(user)
    }

    /// A user's connection grants.
    pub async fn grants_of(&self, id: &str) -> Result<Vec<Grant>, AdminError> {
        self.store.get_user(id).await.map_err(named(user(id)))?;
        Ok(self.store.grants_for_user(id).await?)
    }

    /// Replace a user's grants; every connection must be registered. Audited.
    pub async fn set_grants(
        &self,
        actor: &Identity,
        id: &str,
        grants: &[Grant],
    ) -> Result<Vec<Grant>, AdminError> {
        self.store.get_user(id).await.map_err(named(user(id)))?;
        for g in grants {
            let known = ConnectionId::parse(&g.connection)
                .ok()
                .and_then(|c| self.connections.get(&c))
                .is_some();
            if !known {
                return Err(AdminError::BadInput(format!(
                    "unknown connection `{}`",
                    g.connection
                )));
            }
        }
        self.store.set_grants(id, grants).await?;
        let details = serde_json::to_value(grants).unwrap_or_default();
        self.audit_by(actor, "grant.set", id, details).await;
        Ok(self.store.grants_for_user(id).await?)
    }

    /// One page of the audit log, newest first, and the total.
    pub async fn audit_log(&self, page: Page) -> Result<(Vec<AuditEvent>, u64), AdminError> {
        let items = self.store.list_audit(page).await?;
        let total = self.store.count_audit().await?;
        Ok((items, total))
    }

    /// Usage figures over the last `days` days (1 to 366).
    pub async fn usage_stats(&self, days: u32) -> Result<UsageStats, AdminError> {
        if !(1..=366).contains(&days) {
            return Err(AdminError::BadInput(
                "`days` must be between 1 and 366".into(),
            ));
        }
        Ok(self.store.usage_stats(days).await?)
    }

    /// One page of background jobs, newest first, and the total.
    pub async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        page: Page,
    ) -> Result<(Vec<Job>, u64), AdminError> {
        Ok(self.store.list_jobs(status, page).await?)
    }

    pub async fn job(&self, id: &str) -> Result<Job, AdminError> {
        self.store
            .get_job(id)
            .await
            .map_err(named(|| format!("job `{id}`")))
    }
}
