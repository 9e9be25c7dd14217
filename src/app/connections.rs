//! Connections created through the admin API, as a service: store them
//! (DSN encrypted, a SQLite file fenced to `sqlite_roots`), open and
//! register them, change and delete them, each change audited. It lives at
//! the app level because opening a connection needs the configuration, the
//! DSN cipher and the engine together; the admin handlers only call it.

use secrecy::{ExposeSecret as _, SecretString};

use super::{App, open_connection, stored_connection_config};
use crate::auth::Identity;
use crate::domain::budget::BudgetOverride;
use crate::domain::{ConnectionId, Dialect};
use crate::engine::admin::AdminError;
use crate::store::StoreError;
use crate::store::connections::{StoredConnection, StoredConnectionSettings};

/// The changes of `PATCH /admin/connections/{id}`: `None` keeps a value.
#[derive(Debug, Default)]
pub struct ConnectionChanges {
    pub dsn: Option<SecretString>,
    pub description: Option<String>,
    pub allowed_tables: Option<Vec<String>>,
    pub max_rows: Option<u64>,
    pub timeout_secs: Option<u64>,
    pub allow_values_in_prompt: Option<bool>,
    /// Replaces the connection's budget overrides as a whole.
    pub budgets: Option<BudgetOverride>,
}

fn conn_not_found(id: &str) -> impl FnOnce(StoreError) -> AdminError + '_ {
    move |e| match e {
        StoreError::NotFound => AdminError::NotFound(format!("connection `{id}`")),
        other => AdminError::Store(other),
    }
}

impl App {
    /// Connections created through the API (with their encrypted DSNs).
    pub async fn stored_connections(&self) -> Result<Vec<StoredConnection>, AdminError> {
        Ok(self.engine.store.list_connections().await?)
    }

    /// Store, open and register a new connection; audited. `settings` are
    /// checked before anything is stored.
    pub async fn create_connection(
        &self,
        actor: &Identity,
        id: &ConnectionId,
        dialect: Dialect,
        dsn: &SecretString,
        description: Option<String>,
        settings: StoredConnectionSettings,
    ) -> Result<StoredConnection, AdminError> {
        if self.engine.connections.get(id).is_some() {
            return Err(AdminError::Conflict(format!("connection `{id}` exists")));
        }
        let id = id.to_string();
        let dsn = self.confined_dsn(dialect, dsn.expose_secret())?;
        let dsn = self
            .auth
            .dsn_cipher
            .encrypt(&id, &dsn)
            .map_err(|e| AdminError::Internal(e.to_string()))?;
        let sc = StoredConnection {
            id: id.clone(),
            dialect: dialect.to_string(),
            description,
            dsn_encrypted: Some(dsn),
            settings,
            created_at: String::new(),
            updated_at: String::new(),
        };
        self.check_connection_settings(&sc)?;
        self.engine.store.insert_connection(&sc).await?;
        self.activate(&sc).await?;
        let details = serde_json::json!({ "dialect": sc.dialect });
        self.engine
            .audit_by(actor, "connection.create", &id, details)
            .await;
        Ok(self.engine.store.get_connection(&id).await?)
    }

    /// Apply `changes` to a stored connection and re-register it; audited.
    pub async fn update_connection(
        &self,
        actor: &Identity,
        id: &str,
        changes: ConnectionChanges,
    ) -> Result<StoredConnection, AdminError> {
        let store = &self.engine.store;
        let mut sc = store.get_connection(id).await.map_err(conn_not_found(id))?;
        let dsn_changed = changes.dsn.is_some();
        if let Some(dsn) = &changes.dsn {
            let dialect: Dialect = serde_json::from_value(serde_json::json!(sc.dialect))
                .map_err(|_| AdminError::Internal(format!("stored dialect `{}`", sc.dialect)))?;
            let dsn = self.confined_dsn(dialect, dsn.expose_secret())?;
            let encrypted = self
                .auth
                .dsn_cipher
                .encrypt(id, &dsn)
                .map_err(|e| AdminError::Internal(e.to_string()))?;
            sc.dsn_encrypted = Some(encrypted);
        }
        apply(&mut sc, changes);
        self.check_connection_settings(&sc)?;
        store.update_connection(&sc).await?;
        self.activate(&sc).await?;
        let details = serde_json::json!({ "dsn_changed": dsn_changed });
        self.engine
            .audit_by(actor, "connection.update", id, details)
            .await;
        Ok(store.get_connection(id).await?)
    }

    /// Delete a stored connection and its grants, and unregister it; audited.
    pub async fn delete_connection(&self, actor: &Identity, id: &str) -> Result<(), AdminError> {
        let store = &self.engine.store;
        store
            .delete_connection(id)
            .await
            .map_err(conn_not_found(id))?;
        store.delete_grants_for_connection(id).await?;
        if let Ok(cid) = ConnectionId::parse(id) {
            self.engine.connections.remove(&cid);
        }
        self.engine
            .audit_by(actor, "connection.delete", id, serde_json::json!({}))
            .await;
        Ok(())
    }

    /// Refuse a connection whose target is malformed or whose numeric
    /// settings are outside their documented ranges (each problem names its
    /// setting).
    fn check_connection_settings(&self, sc: &StoredConnection) -> Result<(), AdminError> {
        let cc = stored_connection_config(sc, &self.auth)
            .map_err(|e| AdminError::Internal(e.to_string()))?;
        cc.target().map_err(AdminError::BadInput)?;
        let problems = crate::config::bounds::connection_problems("", &cc);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AdminError::BadInput(problems.join("; ")))
        }
    }

    /// A SQLite DSN must name a SQLite file inside the allowed directories
    /// (`connectors::sqlite_paths`); it is stored with the checked, canonical
    /// path. Other DSNs pass unchanged.
    fn confined_dsn(&self, dialect: Dialect, dsn: &str) -> Result<String, AdminError> {
        if dialect != Dialect::Sqlite {
            return Ok(dsn.to_string());
        }
        let rest = dsn
            .strip_prefix("sqlite://")
            .or_else(|| dsn.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                AdminError::BadInput("`dsn`: a SQLite DSN starts with sqlite://".into())
            })?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let policy = crate::connectors::sqlite_paths::SqlitePathPolicy::for_config(&self.config);
        let real = policy
            .check(std::path::Path::new(path))
            .map_err(|why| AdminError::BadInput(format!("`dsn`: {why}")))?;
        Ok(match query {
            Some(q) => format!("sqlite://{}?{q}", real.display()),
            None => format!("sqlite://{}", real.display()),
        })
    }

    /// Open and register a stored connection, replacing any previous handle.
    async fn activate(&self, sc: &StoredConnection) -> Result<(), AdminError> {
        let cc = stored_connection_config(sc, &self.auth)
            .map_err(|e| AdminError::Internal(e.to_string()))?;
        cc.target().map_err(AdminError::BadInput)?;
        let handle = open_connection(&self.config, &sc.id, &cc)
            .await
            .map_err(|e| AdminError::BadInput(e.to_string()))?;
        let handle = self.engine.connections.insert(handle);
        if let Err(e) = self.engine.sync_schema(&handle).await {
            tracing::warn!(connection.id = %sc.id, error = %e, "schema introspection failed");
        }
        Ok(())
    }
}

/// `changes` applied to `sc`'s description and settings (not the DSN).
fn apply(sc: &mut StoredConnection, changes: ConnectionChanges) {
    if changes.description.is_some() {
        sc.description = changes.description;
    }
    let s = &mut sc.settings;
    if changes.allowed_tables.is_some() {
        s.allowed_tables = changes.allowed_tables;
    }
    if changes.max_rows.is_some() {
        s.max_rows = changes.max_rows;
    }
    if changes.timeout_secs.is_some() {
        s.timeout_secs = changes.timeout_secs;
    }
    if changes.allow_values_in_prompt.is_some() {
        s.allow_values_in_prompt = changes.allow_values_in_prompt;
    }
    if let Some(b) = changes.budgets {
        s.budgets = b;
    }
}
