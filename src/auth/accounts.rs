//! User accounts as a service: create, disable, unlock, reset a password,
//! revoke every credential, and the first-start admin. The admin service
//! (`engine::admin`) and the `insight user` commands call these methods
//! rather than changing users in the store themselves, so the rules (a
//! username's shape, password strength, what disabling revokes) live in one
//! place.
//!
//! It needs only the app store, not the token keys: `insight user …` runs
//! it without `jwt_secret` or `secret_key`. Audit events are the caller's
//! (it knows the actor and the channel).

use secrecy::{ExposeSecret as _, SecretString};

use super::password_change::set_password;
use super::{AuthError, check_username, passwords};
use crate::config::Config;
use crate::domain::Role;
use crate::store::{Store, StoreError, User};

/// The users of one app store.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
}

impl Accounts {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Create a user with a password (hashed off the runtime).
    pub async fn create_user(
        &self,
        username: &str,
        password: SecretString,
        role: Role,
    ) -> Result<User, AuthError> {
        check_username(username)?;
        passwords::check_strength(password.expose_secret()).map_err(AuthError::BadInput)?;
        let hash = passwords::hash(password)
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(self.store.create_user(username, &hash, role).await?)
    }

    /// The user named `username` (`StoreError::NotFound` when none).
    pub async fn by_name(&self, username: &str) -> Result<User, AuthError> {
        self.store
            .find_user_by_name(username)
            .await?
            .ok_or(AuthError::Store(StoreError::NotFound))
    }

    /// Disable or re-enable a user. Disabling revokes every credential the
    /// user holds — access tokens (epoch), refresh tokens and API keys — so
    /// enabling the user again revives none of them: they sign in afresh.
    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<User, AuthError> {
        let user = self
            .store
            .update_user(user_id, None, Some(disabled))
            .await?;
        if disabled {
            self.revoke_credentials(user_id).await?;
        }
        Ok(user)
    }

    /// Revoke every access token, refresh token and API key of `user_id`.
    pub async fn revoke_credentials(&self, user_id: &str) -> Result<(), AuthError> {
        self.store.bump_token_epoch(user_id).await?;
        self.store.revoke_user_refresh_tokens(user_id).await?;
        self.store.revoke_user_api_keys(user_id).await?;
        Ok(())
    }

    /// `insight user unlock NAME`: forget the user's counted login failures,
    /// in Redis and in every process (the keys carry the epoch this moves
    /// on). The per-address limit is not the user's and stays.
    pub async fn unlock(&self, username: &str) -> Result<User, AuthError> {
        let user = self.by_name(username).await?;
        self.store.bump_lockout_epoch(&user.id).await?;
        Ok(user)
    }

    /// An admin sets `user_id`'s password. Every credential the user holds
    /// is revoked ([`Accounts::revoke_credentials`]) and their login lockout
    /// lifted. (Changing one's own password is
    /// [`super::AuthService::change_password`].)
    pub async fn reset_password(
        &self,
        user_id: &str,
        new: SecretString,
    ) -> Result<User, AuthError> {
        let store = &self.store;
        let user = store.get_user(user_id).await?;
        set_password(store, &user, new).await?;
        self.revoke_credentials(&user.id).await?;
        store.bump_lockout_epoch(&user.id).await?;
        Ok(store.get_user(&user.id).await?)
    }

    /// On a store without users, create `admin` with `admin_password` or a
    /// random password. Returns the username and the generated password (to
    /// print once).
    pub async fn bootstrap_admin(
        &self,
        config: &Config,
    ) -> anyhow::Result<Option<(String, Option<SecretString>)>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match &config.admin_password {
            Some(p) => (p.clone(), None),
            None => {
                let p = passwords::generate();
                (p.clone(), Some(p))
            }
        };
        let user = self
            .create_user("admin", password, Role::Admin)
            .await
            .map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?;
        self.store
            .record_audit(
                None,
                "user.bootstrap",
                Some(&user.id),
                serde_json::json!({ "username": user.username }),
                None,
            )
            .await?;
        Ok(Some((user.username, generated)))
    }
}
