//! `/api/v1/admin/*`: users, grants, connections and the audit log. Every
//! change is audited. DSNs are encrypted before they reach the store and are
//! never returned or logged.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::api::extract::{ApiJson, ApiQuery, Principal};
use crate::api::queries::{PageParams, Paginated};
use crate::app::AppState;
use crate::app::connections::ConnectionChanges;
use crate::auth::Identity;
use crate::domain::Role;
use crate::domain::{ConnectionId, Dialect};
use crate::engine::settings::{RuntimeSettings, SettingsPatch};
use crate::error::ApiError;
use crate::store::connections::{StoredConnection, StoredConnectionSettings};
use crate::store::grants::Grant;
use crate::store::stats::UsageStats;
use crate::store::{AuditEvent, User};

pub(super) async fn audit(
    app: &AppState,
    actor: &Identity,
    action: &str,
    target: &str,
    details: serde_json::Value,
) {
    app.engine.audit_by(actor, action, target, details).await;
}

#[utoipa::path(get, path = "/api/v1/admin/users", operation_id = "admin_list_users", tag = "admin", params(PageParams),
    responses(
        (status = 200, description = "Users", body = Paginated<User>),
        (status = 403, description = "Admins only", body = crate::error::ErrorBody),
    ))]
pub async fn list_users(
    State(app): State<AppState>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<axum::Json<Paginated<User>>, ApiError> {
    let page = p.page()?;
    let (items, total) = app.engine.list_users(page).await?;
    Ok(axum::Json(Paginated::new(items, total, page)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub role: Role,
    /// At least 12 characters; omitted means a generated one, returned once.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    #[serde(flatten)]
    pub user: User,
    /// Only when the password was generated: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/admin/users", operation_id = "admin_create_user", tag = "admin", request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "Bad username or weak password", body = crate::error::ErrorBody),
        (status = 409, description = "Username taken", body = crate::error::ErrorBody),
    ))]
pub async fn create_user(
    State(app): State<AppState>,
    actor: Identity,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, axum::Json<CreatedUser>), ApiError> {
    let (password, generated) = match req.password {
        Some(p) => (p, None),
        None => {
            let p = crate::auth::passwords::generate();
            (p.clone(), Some(p.expose_secret().to_string()))
        }
    };
    let user = app
        .engine
        .create_user(&actor, req.username.trim(), password, req.role)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedUser {
            user,
            password: generated,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", operation_id = "admin_update_user", tag = "admin", params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Updated", body = User),
        (status = 400, description = "An admin cannot demote or disable themselves", body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
    ))]
pub async fn update_user(
    State(app): State<AppState>,
    actor: Identity,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<axum::Json<User>, ApiError> {
    let user = app
        .engine
        .update_user(&actor, &id, req.role, req.disabled)
        .await?;
    Ok(axum::Json(user))
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", operation_id = "admin_delete_user", tag = "admin", params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Disabled (users are never destroyed: history keeps pointing at them)"),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
    ))]
pub async fn delete_user(
    State(app): State<AppState>,
    actor: Identity,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.disable_user(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// At least 12 characters; omitted means a generated one, returned once.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordReset {
    #[serde(flatten)]
    pub user: User,
    /// Only when the password was generated: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/password", operation_id = "admin_reset_password", tag = "admin", params(("id" = String, Path, description = "User id")),
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Password set; the user's sessions, refresh tokens and API keys are revoked and their login lockout lifted", body = PasswordReset),
        (status = 400, description = "Weak password, or your own account (change your own password instead)", body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
    ))]
pub async fn reset_password(
    State(app): State<AppState>,
    actor: Identity,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> Result<axum::Json<PasswordReset>, ApiError> {
    let (password, generated) = match req.password {
        Some(p) => (p, None),
        None => {
            let p = crate::auth::passwords::generate();
            (p.clone(), Some(p.expose_secret().to_string()))
        }
    };
    let user = app.engine.reset_password(&actor, &id, password).await?;
    Ok(axum::Json(PasswordReset {
        user,
        password: generated,
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/users/{id}/grants", operation_id = "admin_get_grants", tag = "admin", params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user's connection grants", body = Vec<Grant>),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
    ))]
pub async fn get_grants(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<Grant>>, ApiError> {
    Ok(axum::Json(app.engine.grants_of(&id).await?))
}

#[utoipa::path(put, path = "/api/v1/admin/users/{id}/grants", operation_id = "admin_put_grants", tag = "admin", params(("id" = String, Path, description = "User id")),
    request_body = Vec<Grant>,
    responses(
        (status = 200, description = "Grants replaced", body = Vec<Grant>),
        (status = 400, description = "Unknown connection", body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
    ))]
pub async fn put_grants(
    State(app): State<AppState>,
    actor: Identity,
    Path(id): Path<String>,
    ApiJson(grants): ApiJson<Vec<Grant>>,
) -> Result<axum::Json<Vec<Grant>>, ApiError> {
    Ok(axum::Json(
        app.engine.set_grants(&actor, &id, &grants).await?,
    ))
}

/// A stored connection as the API shows it: never the DSN.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminConnection {
    pub id: String,
    pub dialect: String,
    pub description: Option<String>,
    pub settings: StoredConnectionSettings,
    pub has_dsn: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<StoredConnection> for AdminConnection {
    fn from(c: StoredConnection) -> Self {
        Self {
            id: c.id,
            dialect: c.dialect,
            description: c.description,
            settings: c.settings,
            has_dsn: c.dsn_encrypted.is_some(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/admin/connections", operation_id = "admin_list_connections", tag = "admin",
    responses((status = 200, description = "Connections created through the API (DSNs never shown)", body = Vec<AdminConnection>)))]
pub async fn list_connections(
    State(app): State<AppState>,
) -> Result<axum::Json<Vec<AdminConnection>>, ApiError> {
    let list = app.stored_connections().await?;
    Ok(axum::Json(list.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    pub id: ConnectionId,
    pub dialect: Dialect,
    /// `postgres://user:pass@host/db`, `mysql://…` or `sqlite:///path.db`;
    /// encrypted at rest, never returned. A SQLite file must be a SQLite
    /// database under `sqlite_roots` (default `<data_dir>/databases`) or the
    /// demo database; never the app store (400 otherwise).
    #[schema(value_type = String, format = Password)]
    pub dsn: SecretString,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allowed_tables: Option<Vec<String>>,
    #[serde(default)]
    pub max_rows: Option<u64>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Overrides `llm.allow_values_in_prompt` for this connection.
    #[serde(default)]
    pub allow_values_in_prompt: Option<bool>,
    /// Budgets of this connection (`docs/SECURITY.md`, Budgets).
    #[serde(default)]
    pub budgets: Option<crate::domain::budget::BudgetOverride>,
}

#[utoipa::path(post, path = "/api/v1/admin/connections", operation_id = "admin_create_connection", tag = "admin", request_body = CreateConnectionRequest,
    responses(
        (status = 201, description = "Created and registered", body = AdminConnection),
        (status = 400, description = "Malformed DSN, or a SQLite path outside the allowed directories", body = crate::error::ErrorBody),
        (status = 409, description = "The id is taken", body = crate::error::ErrorBody),
    ))]
pub async fn create_connection(
    State(app): State<AppState>,
    actor: Identity,
    ApiJson(req): ApiJson<CreateConnectionRequest>,
) -> Result<(StatusCode, axum::Json<AdminConnection>), ApiError> {
    let settings = StoredConnectionSettings {
        allowed_tables: req.allowed_tables,
        max_rows: req.max_rows,
        timeout_secs: req.timeout_secs,
        allow_values_in_prompt: req.allow_values_in_prompt,
        budgets: req.budgets.unwrap_or_default(),
    };
    let stored = app
        .create_connection(
            &actor,
            &req.id,
            req.dialect,
            &req.dsn,
            req.description,
            settings,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(stored.into())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectionRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub dsn: Option<SecretString>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allowed_tables: Option<Vec<String>>,
    #[serde(default)]
    pub max_rows: Option<u64>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub allow_values_in_prompt: Option<bool>,
    /// Replaces the connection's budget overrides as a whole.
    #[serde(default)]
    pub budgets: Option<crate::domain::budget::BudgetOverride>,
}

#[utoipa::path(patch, path = "/api/v1/admin/connections/{id}", operation_id = "admin_update_connection", tag = "admin", params(("id" = String, Path, description = "Connection id")),
    request_body = UpdateConnectionRequest,
    responses(
        (status = 200, description = "Updated and re-registered", body = AdminConnection),
        (status = 400, description = "Malformed settings, or a SQLite path outside the allowed directories", body = crate::error::ErrorBody),
        (status = 404, description = "No such stored connection", body = crate::error::ErrorBody),
    ))]
pub async fn update_connection(
    State(app): State<AppState>,
    actor: Identity,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateConnectionRequest>,
) -> Result<axum::Json<AdminConnection>, ApiError> {
    let changes = ConnectionChanges {
        dsn: req.dsn,
        description: req.description,
        allowed_tables: req.allowed_tables,
        max_rows: req.max_rows,
        timeout_secs: req.timeout_secs,
        allow_values_in_prompt: req.allow_values_in_prompt,
        budgets: req.budgets,
    };
    Ok(axum::Json(
        app.update_connection(&actor, &id, changes).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/admin/connections/{id}", operation_id = "admin_delete_connection", tag = "admin", params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 204, description = "Deleted from the store and its grants removed"),
        (status = 404, description = "No such stored connection", body = crate::error::ErrorBody),
    ))]
pub async fn delete_connection(
    State(app): State<AppState>,
    actor: Identity,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_connection(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admin/audit", operation_id = "admin_audit_log", tag = "admin", params(PageParams),
    responses((status = 200, description = "Audit events, newest first", body = Paginated<AuditEvent>)))]
pub async fn audit_log(
    State(app): State<AppState>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<axum::Json<Paginated<AuditEvent>>, ApiError> {
    let page = p.page()?;
    let (items, total) = app.engine.audit_log(page).await?;
    Ok(axum::Json(Paginated::new(items, total, page)))
}

/// `?days=` for the dashboard: the window, 1..=366 days ending today.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// Days ending today (UTC), default 30.
    pub days: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/admin/stats", operation_id = "admin_stats", tag = "admin", params(StatsParams),
    responses(
        (status = 200, description = "Usage figures for the dashboard", body = UsageStats),
        (status = 400, description = "`days` out of range", body = crate::error::ErrorBody),
    ))]
pub async fn stats(
    State(app): State<AppState>,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> Result<axum::Json<UsageStats>, ApiError> {
    let days = p.days.unwrap_or(30);
    Ok(axum::Json(app.engine.usage_stats(days).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/settings", operation_id = "admin_get_settings", tag = "admin",
    responses((status = 200, description = "The runtime-tunable settings in force", body = RuntimeSettings)))]
pub async fn get_settings(State(app): State<AppState>) -> axum::Json<RuntimeSettings> {
    axum::Json(app.engine.runtime_settings())
}

#[utoipa::path(patch, path = "/api/v1/admin/settings", operation_id = "admin_update_settings", tag = "admin",
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "Applied and stored; in force now and after restarts", body = RuntimeSettings),
        (status = 400, description = "A value is out of bounds; every problem is named", body = crate::error::ErrorBody),
    ))]
pub async fn update_settings(
    State(app): State<AppState>,
    Principal(rc): Principal,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> Result<axum::Json<RuntimeSettings>, ApiError> {
    Ok(axum::Json(app.engine.update_settings(&patch, &rc).await?))
}
