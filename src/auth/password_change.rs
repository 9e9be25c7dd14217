//! Changing passwords: a user changes their own (the current password is
//! required, and wrong guesses count towards the same login lockout, so a
//! stolen access token cannot be used to brute-force the password), and an
//! admin resets someone else's ([`super::Accounts::reset_password`], which
//! shares [`set_password`]). Both end the user's other sessions.
//!
//! Why the two revoke different things: changing your own password ends
//! every session (access and refresh tokens) and hands the caller a fresh
//! pair, but keeps API keys (they are separate, named credentials the user
//! manages). An admin reset is what you do for a compromised or forgotten
//! account, so it revokes everything: tokens, refresh tokens and API keys.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use super::{AuthError, AuthService, LoginKeys, TokenPair, passwords};
use crate::store::{Store, User};

impl AuthService {
    /// Change `user_id`'s own password. Returns a fresh token pair: every
    /// earlier access and refresh token of the user, this one's included,
    /// stops working. Written to the audit log (`user.password_change`).
    pub async fn change_password(
        &self,
        user_id: &str,
        current: SecretString,
        new: SecretString,
        ip: Option<IpAddr>,
        correlation_id: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        let store = &self.store;
        let user = store.get_user(user_id).await?;
        let l = &self.config.login;
        let window = Duration::from_secs(l.window_secs.max(1));
        let keys = LoginKeys::new(&user.username, user.lockout_epoch, ip);
        if let Some(retry_after) = self
            .login_failures
            .blocked(&keys.user_at_address, l.max_failures_per_username, window)
            .await
        {
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        if !passwords::verify(current, user.password_hash.clone()).await {
            self.login_failures
                .fail(&keys.user_at_address, window)
                .await;
            tracing::info!(user.id = %user.id, "password change refused: wrong current password");
            return Err(AuthError::WrongPassword);
        }
        set_password(store, &user, new).await?;
        store.bump_token_epoch(&user.id).await?;
        store.revoke_user_refresh_tokens(&user.id).await?;
        self.login_failures.reset(&keys.user_at_address).await;
        let user = store.get_user(&user.id).await?;
        let family = uuid::Uuid::new_v4().to_string();
        let pair = self.issue_pair(store, &user, &family).await?;
        store
            .record_audit(
                Some(&user.id),
                "user.password_change",
                Some(&user.id),
                serde_json::json!({}),
                correlation_id,
            )
            .await?;
        Ok(pair)
    }
}

/// Store `new` as `user`'s password: strong enough and not the current one.
pub(super) async fn set_password(
    store: &Store,
    user: &User,
    new: SecretString,
) -> Result<(), AuthError> {
    passwords::check_strength(new.expose_secret()).map_err(AuthError::BadInput)?;
    if passwords::verify(new.clone(), user.password_hash.clone()).await {
        return Err(AuthError::BadInput(
            "The new password must differ from the current one.".into(),
        ));
    }
    let hash = passwords::hash(new)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    store.set_password_hash(&user.id, &hash).await?;
    Ok(())
}
