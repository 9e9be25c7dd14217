//! `/api/v1/auth/*`: login, refresh, logout, the caller's profile and their
//! API keys. Passwords, tokens and keys never reach a log line.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::api::access::ClientIp;
use crate::api::extract::ApiJson;
use crate::api::middleware::correlation::current_correlation_id;
use crate::app::AppState;
use crate::auth::{Identity, TokenPair};
use crate::error::ApiError;
use crate::store::api_keys::ApiKey;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "auth_login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Access and refresh tokens", body = TokenPair),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 401, description = "Wrong username or password, or the user is disabled", body = crate::error::ErrorBody),
        (status = 429, description = "Too many attempts; see `Retry-After`", body = crate::error::ErrorBody),
    ))]
pub async fn login(
    State(app): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<axum::Json<TokenPair>, ApiError> {
    let cid = current_correlation_id();
    let (_, pair) = app
        .auth
        .login(req.username.trim(), req.password, ip, cid.as_deref())
        .await?;
    Ok(axum::Json(pair))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "auth_refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the presented refresh token is spent", body = TokenPair),
        (status = 401, description = "Unknown, expired or reused refresh token (reuse revokes the whole family)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many requests", body = crate::error::ErrorBody),
    ))]
pub async fn refresh(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<axum::Json<TokenPair>, ApiError> {
    use secrecy::ExposeSecret as _;
    let cid = current_correlation_id();
    Ok(axum::Json(
        app.auth
            .refresh(req.refresh_token.expose_secret(), cid.as_deref())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "auth_logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "The refresh token's family is revoked"),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    ))]
pub async fn logout(
    State(app): State<AppState>,
    identity: Identity,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    use secrecy::ExposeSecret as _;
    app.auth
        .logout(&identity.user_id, req.refresh_token.expose_secret())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/auth/me", operation_id = "auth_me", tag = "auth",
    responses(
        (status = 200, description = "The caller: user, role, grants", body = Identity),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    ))]
pub async fn me(identity: Identity) -> axum::Json<Identity> {
    axum::Json(identity)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    /// Days until the key stops working; omitted means no expiry.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub info: ApiKey,
    /// The key itself: shown this once, store it now.
    pub key: String,
}

#[utoipa::path(post, path = "/api/v1/auth/api-keys", operation_id = "auth_create_key", tag = "auth", request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The new key, shown once", body = CreatedKey),
        (status = 400, description = "Malformed request", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    ))]
pub async fn create_key(
    State(app): State<AppState>,
    identity: Identity,
    ApiJson(req): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, axum::Json<CreatedKey>), ApiError> {
    let (info, key) = app
        .auth
        .create_api_key(
            &identity.user_id,
            &req.name,
            req.expires_in_days,
            current_correlation_id().as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedKey { info, key })))
}

#[utoipa::path(get, path = "/api/v1/auth/api-keys", operation_id = "auth_list_keys", tag = "auth",
    responses(
        (status = 200, description = "The caller's API keys (never the keys themselves)", body = Vec<ApiKey>),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    ))]
pub async fn list_keys(
    State(app): State<AppState>,
    identity: Identity,
) -> Result<axum::Json<Vec<ApiKey>>, ApiError> {
    Ok(axum::Json(app.auth.list_api_keys(&identity.user_id).await?))
}

#[utoipa::path(delete, path = "/api/v1/auth/api-keys/{id}", operation_id = "auth_revoke_key", tag = "auth", params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key of yours", body = crate::error::ErrorBody),
    ))]
pub async fn revoke_key(
    State(app): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let cid = current_correlation_id();
    if !app
        .auth
        .revoke_api_key(&identity.user_id, &id, cid.as_deref())
        .await?
    {
        return Err(ApiError::NotFound(format!("API key `{id}`")));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    /// At least 12 characters, different from the current one.
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

#[utoipa::path(post, path = "/api/v1/auth/password", operation_id = "auth_change_password", tag = "auth", request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Changed. Every earlier session of the user ends (API keys stay); use this new token pair", body = TokenPair),
        (status = 400, description = "Weak new password, or the same as the current one", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "The current password is wrong", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong current passwords; see `Retry-After`", body = crate::error::ErrorBody),
    ))]
pub async fn change_password(
    State(app): State<AppState>,
    identity: Identity,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<axum::Json<TokenPair>, ApiError> {
    let pair = app
        .auth
        .change_password(
            &identity.user_id,
            req.current_password,
            req.new_password,
            ip,
            current_correlation_id().as_deref(),
        )
        .await?;
    Ok(axum::Json(pair))
}
