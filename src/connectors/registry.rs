//! The set of target connections the service knows, each with its connector,
//! its current schema (refreshed by introspection), its SQL policy and its
//! budgets; [`ConnectionHandle::execute`] is the one way a query reaches a
//! connector, past admission (see [`super::budget`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::budget::{Admission, Caller, RoleBudgets};
use super::{Connector, ConnectorError, ExecLimits, ResultSet};
use crate::domain::SchemaInfo;
use crate::domain::{ConnectionId, Dialect};
use crate::sql::{SqlPolicy, ValidatedSql};

/// Narrowed schemas kept per connection (distinct allowlists in use).
const MAX_NARROWED: usize = 16;

struct Narrowed {
    from: Arc<SchemaInfo>,
    allowed: BTreeSet<String>,
    schema: Arc<SchemaInfo>,
}

/// One registered connection.
pub struct ConnectionHandle {
    pub id: ConnectionId,
    pub dialect: Dialect,
    pub description: Option<String>,
    pub connector: Arc<dyn Connector>,
    pub limits: ExecLimits,
    pub allowed_tables: Option<Vec<String>>,
    /// Overrides `llm.allow_values_in_prompt` for this connection.
    pub allow_values_in_prompt: Option<bool>,
    /// Per-role tightening of `limits.budget` (`[budgets.roles.*]`).
    pub role_budgets: RoleBudgets,
    /// Per-user caps and the bounded wait for one of the pool's slots.
    admission: Admission,
    schema: RwLock<Arc<SchemaInfo>>,
    /// Schemas narrowed to an allowlist, built from the current schema (the
    /// `Arc` they came from) and kept so that prompt preparation, cached
    /// per schema `Arc`, is not redone for every request of a limited user.
    narrowed: std::sync::Mutex<Vec<Narrowed>>,
    /// Bumped on each schema refresh that changed something; part of cache keys.
    schema_version: std::sync::atomic::AtomicU64,
}

impl ConnectionHandle {
    pub fn new(
        id: ConnectionId,
        description: Option<String>,
        connector: Arc<dyn Connector>,
        limits: ExecLimits,
        allowed_tables: Option<Vec<String>>,
    ) -> Self {
        Self {
            id,
            dialect: connector.dialect(),
            admission: Admission::new(connector.slots()),
            description,
            connector,
            limits,
            allowed_tables,
            allow_values_in_prompt: None,
            role_budgets: RoleBudgets::default(),
            schema: RwLock::new(Arc::new(SchemaInfo::default())),
            narrowed: Default::default(),
            schema_version: Default::default(),
        }
    }

    pub fn schema(&self) -> Arc<SchemaInfo> {
        self.schema
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The schema as a caller limited to `allowed` (lower-case table names)
    /// sees it: only those tables, and no foreign key pointing elsewhere.
    /// `None`: the whole schema.
    pub fn schema_for(&self, allowed: Option<&BTreeSet<String>>) -> Arc<SchemaInfo> {
        let full = self.schema();
        let Some(allowed) = allowed else {
            return full;
        };
        let mut cache = self.narrowed.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|n| Arc::ptr_eq(&n.from, &full));
        if let Some(n) = cache.iter().find(|n| &n.allowed == allowed) {
            return n.schema.clone();
        }
        let schema = Arc::new(full.narrowed_to(allowed));
        if cache.len() >= MAX_NARROWED {
            cache.remove(0);
        }
        cache.push(Narrowed {
            from: full,
            allowed: allowed.clone(),
            schema: schema.clone(),
        });
        schema
    }

    pub fn schema_version(&self) -> u64 {
        self.schema_version
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Introspect again; returns the new schema and whether it changed.
    pub async fn refresh_schema(&self) -> Result<(Arc<SchemaInfo>, bool), ConnectorError> {
        let fresh = Arc::new(self.connector.introspect().await?);
        let mut guard = self.schema.write().unwrap_or_else(|p| p.into_inner());
        let changed = **guard != *fresh;
        if changed {
            *guard = fresh.clone();
            self.schema_version
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok((fresh, changed))
    }

    /// Run a validated query for `caller`: the connection's limits tightened
    /// by the caller's role, after admission (per-user cap, bounded wait).
    pub async fn execute(
        &self,
        sql: &ValidatedSql,
        caller: Caller<'_>,
    ) -> Result<ResultSet, ConnectorError> {
        let mut limits = self.limits;
        if let Some(o) = caller.role.and_then(|r| self.role_budgets.get(r)) {
            limits.budget = limits.budget.narrowed_by(o);
        }
        let _permit = self.admission.enter(caller, &limits.budget).await?;
        self.connector.execute(sql, limits).await
    }

    /// The validator policy for this connection.
    pub fn policy(&self) -> SqlPolicy {
        SqlPolicy {
            max_rows: self.limits.max_rows,
            allowed_tables: self
                .allowed_tables
                .as_ref()
                .map(|t| t.iter().map(|n| n.to_lowercase()).collect()),
        }
    }
}

/// All connections by id. Reads are lock-free clones of `Arc`s.
#[derive(Default)]
pub struct ConnectorRegistry {
    map: RwLock<BTreeMap<ConnectionId, Arc<ConnectionHandle>>>,
}

impl ConnectorRegistry {
    pub fn insert(&self, handle: ConnectionHandle) -> Arc<ConnectionHandle> {
        let handle = Arc::new(handle);
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle.id.clone(), handle.clone());
        handle
    }

    /// Forget a connection; in-flight requests keep their `Arc` and finish.
    pub fn remove(&self, id: &ConnectionId) -> Option<Arc<ConnectionHandle>> {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    pub fn get(&self, id: &ConnectionId) -> Option<Arc<ConnectionHandle>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<ConnectionHandle>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// Longest statement timeout any setting can ask for (settings are refused
/// above it; this clamp keeps stored values from older releases safe too).
pub const MAX_TIMEOUT_SECS: u64 = 3600;

/// Default execution limits from the global config, narrowed per connection.
pub fn limits(
    global_max_rows: u64,
    global_timeout_secs: u64,
    max_rows: Option<u64>,
    timeout_secs: Option<u64>,
) -> ExecLimits {
    ExecLimits::new(
        Duration::from_secs(
            timeout_secs
                .unwrap_or(global_timeout_secs)
                .clamp(1, MAX_TIMEOUT_SECS),
        ),
        max_rows.map_or(global_max_rows, |m| m.clamp(1, global_max_rows.max(1))),
    )
}
