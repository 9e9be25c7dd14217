//! Authentication and authorisation: who is calling, and may they.
//!
//! Owns passwords (Argon2id), access tokens (JWT HS256), rotating refresh
//! tokens, API keys, roles and the permission table, DSN encryption and
//! rate limiting. It never imports axum: the HTTP layer (`api::access`)
//! turns headers into calls here and results into responses.
//!
//! Never log a password, token, key or DSN: log ids (`user.id`,
//! `api_key.id`) and usernames only.

pub mod accounts;
pub mod api_keys;
pub mod crypto;
pub mod jwt;
pub mod password_change;
pub mod passwords;
pub mod rate_limit;
pub mod roles;
pub mod secure;

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use crate::config::{AuthConfig, Config};
use crate::domain::Role;
use crate::store::grants::Grant;
use crate::store::{Store, StoreError, User};
pub use accounts::Accounts;
pub use roles::Action;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong username or password (deliberately not saying which).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Missing, malformed, expired or revoked credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// The current password given to change it is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("too many failed attempts")]
    TooManyAttempts { retry_after: Duration },
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// The authenticated caller, as the HTTP layer hands it to handlers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Identity {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    /// Set when the caller used an API key.
    pub api_key_id: Option<String>,
    /// Connections granted (`None` for admins: every connection).
    pub grants: Option<Vec<Grant>>,
}

impl Identity {
    /// The grant for `connection`, `None` when it is out of reach. Admins
    /// reach everything without allowlist.
    pub fn reach(&self, connection: &str) -> Option<Option<Vec<String>>> {
        match &self.grants {
            None => Some(None),
            Some(grants) => grants
                .iter()
                .find(|g| g.connection == connection)
                .map(|g| g.allowed_tables.clone()),
        }
    }

    /// Key for per-caller rate limits: an API key has its own bucket.
    pub fn limit_key(&self) -> String {
        match &self.api_key_id {
            Some(k) => format!("key:{k}"),
            None => format!("user:{}", self.user_id),
        }
    }
}

/// An access + refresh token pair, as returned by login and refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Credentials found in a request.
pub enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

/// Authentication services, built once from the config.
pub struct AuthService {
    pub config: AuthConfig,
    jwt: jwt::JwtKeys,
    pub dsn_cipher: crypto::DsnCipher,
    pub limiter: rate_limit::RateLimiter,
    login_failures: rate_limit::FailureCounter,
    /// Redis behind the limiter and the login counters, when configured.
    shared_limits: Option<std::sync::Arc<rate_limit::SharedLimits>>,
    /// Users, tokens, API keys and the audit log.
    store: Store,
}

impl AuthService {
    /// Needs `jwt_secret` and `secret_key` (dev fills them in; production
    /// refuses to start without them). `store` holds the users, tokens and
    /// API keys.
    pub fn new(config: &Config, store: Store) -> anyhow::Result<Self> {
        let jwt_secret = config
            .jwt_secret
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("jwt_secret (INSIGHT_JWT_SECRET) is not set"))?;
        let secret_key = config
            .secret_key
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("secret_key (INSIGHT_SECRET_KEY) is not set"))?;
        let a = &config.auth;
        Ok(Self {
            config: a.clone(),
            jwt: jwt::JwtKeys::new(jwt_secret, &a.issuer, &a.audience, a.access_token_ttl_secs),
            dsn_cipher: crypto::DsnCipher::new(secret_key),
            limiter: Default::default(),
            login_failures: Default::default(),
            shared_limits: None,
            store,
        })
    }

    /// Keep rate limits and login failure counts in Redis, shared by every
    /// instance (see [`rate_limit`]).
    pub fn with_shared_limits(mut self, shared: std::sync::Arc<rate_limit::SharedLimits>) -> Self {
        self.limiter = rate_limit::RateLimiter::new(Some(shared.clone()));
        self.login_failures = rate_limit::FailureCounter::new(Some(shared.clone()));
        self.shared_limits = Some(shared);
        self
    }

    /// The Redis side of the limits, for readiness (`None`: in process).
    pub fn shared_limits(&self) -> Option<&rate_limit::SharedLimits> {
        self.shared_limits.as_deref()
    }

    /// The users of this service's store ([`Accounts`]).
    pub fn accounts(&self) -> Accounts {
        Accounts::new(self.store.clone())
    }

    pub fn jwt(&self) -> &jwt::JwtKeys {
        &self.jwt
    }

    /// Resolve a credential to a live, enabled user.
    pub async fn authenticate(&self, credential: Credential<'_>) -> Result<Identity, AuthError> {
        let store = &self.store;
        let (user, api_key_id) = match credential {
            Credential::Bearer(t) if t.starts_with(secure::API_KEY_PREFIX) => {
                self.by_api_key(store, t).await?
            }
            Credential::ApiKey(t) => self.by_api_key(store, t).await?,
            Credential::Bearer(t) => {
                let claims = self.jwt.verify(t).ok_or(AuthError::Unauthenticated)?;
                let user = match store.get_user(&claims.sub).await {
                    Ok(u) => u,
                    Err(StoreError::NotFound) => return Err(AuthError::Unauthenticated),
                    Err(e) => return Err(e.into()),
                };
                // Logout and disable move the epoch on: older tokens are dead
                // at once, on every replica (the row is read per request anyway).
                if claims.epoch != user.token_epoch {
                    return Err(AuthError::Unauthenticated);
                }
                (user, None)
            }
        };
        if user.disabled {
            return Err(AuthError::Unauthenticated);
        }
        let grants = if user.role == Role::Admin {
            None
        } else {
            Some(store.grants_for_user(&user.id).await?)
        };
        Ok(Identity {
            user_id: user.id,
            username: user.username,
            // The stored role, not the token's: a demotion takes effect at once.
            role: user.role,
            api_key_id,
            grants,
        })
    }

    async fn by_api_key(
        &self,
        store: &Store,
        key: &str,
    ) -> Result<(User, Option<String>), AuthError> {
        let key = store
            .find_api_key(&secure::sha256_hex(key))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        let user = store.get_user(&key.user_id).await?;
        // Best effort; a failed touch must not fail the request.
        let _ = store.touch_api_key(&key.id).await;
        Ok((user, Some(key.id)))
    }

    /// Check a username and password; on success start a refresh family.
    pub async fn login(
        &self,
        username: &str,
        password: SecretString,
        ip: Option<IpAddr>,
        correlation_id: Option<&str>,
    ) -> Result<(User, TokenPair), AuthError> {
        let store = &self.store;
        let l = &self.config.login;
        let window = Duration::from_secs(l.window_secs.max(1));
        // The user row first: its lockout epoch is part of the key, so
        // `insight user unlock` forgets the failures wherever they are counted.
        let user = store.find_user_by_name(username).await?;
        let keys = LoginKeys::new(username, user.as_ref().map_or(0, |u| u.lockout_epoch), ip);
        let blocked = match self
            .login_failures
            .blocked(&keys.user_at_address, l.max_failures_per_username, window)
            .await
        {
            Some(r) => Some(r),
            None => {
                self.login_failures
                    .blocked(&keys.address, l.max_failures_per_ip, window)
                    .await
            }
        };
        if let Some(retry_after) = blocked {
            let _ = store
                .record_audit(
                    None,
                    "auth.login_blocked",
                    Some(username),
                    serde_json::json!({ "ip": ip.map(|i| i.to_string()) }),
                    correlation_id,
                )
                .await;
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        let phc = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| passwords::dummy_hash().to_string());
        let ok = passwords::verify(password, phc).await;
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            other => {
                self.login_failures
                    .fail(&keys.user_at_address, window)
                    .await;
                self.login_failures.fail(&keys.address, window).await;
                let reason = match other {
                    None => "unknown_user",
                    Some(u) if u.disabled => "disabled",
                    Some(_) => "bad_password",
                };
                tracing::info!(user.name = %username, reason, "login failed");
                let _ = store
                    .record_audit(
                        None,
                        "auth.login_failed",
                        Some(username),
                        serde_json::json!({ "reason": reason, "ip": ip.map(|i| i.to_string()) }),
                        correlation_id,
                    )
                    .await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.login_failures.reset(&keys.user_at_address).await;
        let family = uuid::Uuid::new_v4().to_string();
        let pair = self.issue_pair(store, &user, &family).await?;
        store
            .record_audit(
                Some(&user.id),
                "auth.login",
                Some(&user.id),
                serde_json::json!({ "ip": ip.map(|i| i.to_string()) }),
                correlation_id,
            )
            .await?;
        Ok((user, pair))
    }

    async fn issue_pair(
        &self,
        store: &Store,
        user: &User,
        family: &str,
    ) -> Result<TokenPair, AuthError> {
        let access = self
            .jwt
            .issue_at_epoch(&user.id, user.role, user.token_epoch)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let refresh = secure::new_refresh_token();
        let expires = chrono::Utc::now()
            + chrono::Duration::seconds(self.config.refresh_token_ttl_secs as i64);
        store
            .insert_refresh_token(
                &user.id,
                family,
                &secure::sha256_hex(&refresh),
                &expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .await?;
        Ok(TokenPair {
            access_token: access,
            refresh_token: refresh,
            token_type: "bearer",
            expires_in: self.jwt.ttl_secs(),
        })
    }

    /// Rotate a refresh token. A revoked one revokes its whole family.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        correlation_id: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        let store = &self.store;
        let t = store
            .find_refresh_token(&secure::sha256_hex(refresh_token))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if t.revoked || !store.revoke_refresh_token(&t.id).await? {
            let n = store.revoke_refresh_family(&t.family_id).await?;
            tracing::warn!(user.id = %t.user_id, revoked = n, "refresh token reused; family revoked");
            let _ = store
                .record_audit(
                    Some(&t.user_id),
                    "auth.refresh_reuse",
                    Some(&t.user_id),
                    serde_json::json!({ "family_revoked": n }),
                    correlation_id,
                )
                .await;
            return Err(AuthError::Unauthenticated);
        }
        let expired = chrono::DateTime::parse_from_rfc3339(&t.expires_at)
            .map(|e| e < chrono::Utc::now())
            .unwrap_or(true);
        let user = store.get_user(&t.user_id).await?;
        if expired || user.disabled {
            store.revoke_refresh_family(&t.family_id).await?;
            return Err(AuthError::Unauthenticated);
        }
        self.issue_pair(store, &user, &t.family_id).await
    }

    /// Sign out: revoke the family of `user_id`'s `refresh_token` (unknown
    /// tokens, and other users' tokens, are ignored) and every access token
    /// of the user issued so far (the epoch moves on; other devices get a
    /// fresh access token through their own refresh token).
    pub async fn logout(&self, user_id: &str, refresh_token: &str) -> Result<(), AuthError> {
        let store = &self.store;
        if let Some(t) = store
            .find_refresh_token(&secure::sha256_hex(refresh_token))
            .await?
            .filter(|t| t.user_id == user_id)
        {
            store.revoke_refresh_family(&t.family_id).await?;
        }
        store.bump_token_epoch(user_id).await?;
        Ok(())
    }
}

/// The login-failure counter keys of one attempt.
struct LoginKeys {
    /// `(username, client address)`: a stranger's failures lock the name
    /// only from the stranger's address, never its owner's.
    user_at_address: String,
    /// Every failure from one address, whatever the username.
    address: String,
}

impl LoginKeys {
    fn new(username: &str, lockout_epoch: i64, ip: Option<IpAddr>) -> Self {
        let addr = ip.map(|i| i.to_string()).unwrap_or_default();
        Self {
            user_at_address: format!("login:{}:{lockout_epoch}@{addr}", username.to_lowercase()),
            address: format!("login-ip:{addr}"),
        }
    }
}

/// Check a username: 3–64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_username(username: &str) -> Result<(), AuthError> {
    let ok = (3..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadInput(
            "`username` must be 3-64 characters: letters, digits, `.`, `_`, `-`, `@`".into(),
        ))
    }
}
