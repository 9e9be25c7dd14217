//! A user's own API keys: create (the key is shown once, only its hash and
//! prefix are stored), list and revoke, each change written to the audit log.

use super::{AuthError, AuthService, secure};
use crate::store::api_keys::ApiKey;

/// The longest expiry a new key may ask for, in days.
const MAX_EXPIRY_DAYS: u32 = 3650;

impl AuthService {
    /// Create an API key for `user_id`. `name` is trimmed and must be 1-100
    /// characters; `expires_in_days` (at least 1, capped at ten years) or
    /// `None` for no expiry. Returns the stored key and the key itself.
    pub async fn create_api_key(
        &self,
        user_id: &str,
        name: &str,
        expires_in_days: Option<u32>,
        correlation_id: Option<&str>,
    ) -> Result<(ApiKey, String), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(AuthError::BadInput(
                "`name` must be 1-100 characters".into(),
            ));
        }
        let expires_at = match expires_in_days {
            Some(0) => {
                return Err(AuthError::BadInput(
                    "`expires_in_days` must be at least 1".into(),
                ));
            }
            Some(d) => Some(
                (chrono::Utc::now() + chrono::Duration::days(d.min(MAX_EXPIRY_DAYS) as i64))
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
            None => None,
        };
        let key = secure::new_api_key();
        let info = self
            .store
            .create_api_key(
                user_id,
                name,
                &key[..10],
                &secure::sha256_hex(&key),
                expires_at.as_deref(),
            )
            .await?;
        self.store
            .record_audit(
                Some(user_id),
                "api_key.create",
                Some(&info.id),
                serde_json::json!({ "name": info.name, "expires_at": info.expires_at }),
                correlation_id,
            )
            .await?;
        Ok((info, key))
    }

    /// `user_id`'s API keys, newest first (never the keys themselves).
    pub async fn list_api_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, AuthError> {
        Ok(self.store.list_api_keys(user_id).await?)
    }

    /// Revoke `user_id`'s key `id`. `Ok(false)`: no such key of theirs.
    pub async fn revoke_api_key(
        &self,
        user_id: &str,
        id: &str,
        correlation_id: Option<&str>,
    ) -> Result<bool, AuthError> {
        if self.store.revoke_api_key(user_id, id).await.is_err() {
            return Ok(false);
        }
        self.store
            .record_audit(
                Some(user_id),
                "api_key.revoke",
                Some(id),
                serde_json::json!({}),
                correlation_id,
            )
            .await?;
        Ok(true)
    }
}
