//! Target databases ("connections"): the databases users ask questions about.
//!
//! This module owns the [`Connector`] trait, introspection (which fills the
//! domain's [`SchemaInfo`]) and the result model ([`ResultSet`]). A
//! connector can execute nothing but a [`ValidatedSql`], so "validate before
//! execute" is enforced by the compiler; on top of that every connector opens a
//! read-only session with a timeout and a row cap (defense in depth).
//! Connectors never import axum and never touch the app store.

pub mod budget;
pub mod demo;
pub mod explain;
pub mod mysql;
pub mod postgres;
pub mod registry;
pub mod sqlite;
pub mod sqlite_paths;
pub mod uploads;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::{Dialect, SchemaInfo};
use crate::sql::ValidatedSql;

pub use budget::{Budget, BudgetOverride, Caller, RoleBudgets};
pub use registry::{ConnectionHandle, ConnectorRegistry};

/// Errors of a target database, kept in this layer and mapped to HTTP in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("the query ran longer than {0:?} and was stopped")]
    Timeout(Duration),
    #[error("the database could not be reached: {0}")]
    Unavailable(String),
    /// The database refused or failed the statement; the message is the
    /// database's own and is safe to show (it names no credentials).
    #[error("the database reported an error: {0}")]
    Execution(String),
    #[error("configuration error: {0}")]
    Config(String),
    /// A byte budget (per value or per result) was exceeded while rows streamed.
    #[error("{0}")]
    TooLarge(String),
    /// The work budget (SQLite steps, `EXPLAIN` estimate) was exceeded.
    #[error("{0}")]
    TooExpensive(String),
    /// No slot for this caller on the connection within the bounded wait.
    #[error("{reason}")]
    Busy {
        retry_after: Duration,
        reason: String,
    },
}

/// Limits applied to one execution.
#[derive(Debug, Clone, Copy)]
pub struct ExecLimits {
    pub timeout: Duration,
    /// Rows returned at most; one more is fetched to detect truncation.
    pub max_rows: u64,
    /// Byte and work budgets (see [`budget`]).
    pub budget: Budget,
}

impl ExecLimits {
    /// `timeout` and `max_rows` with the default budgets.
    pub fn new(timeout: Duration, max_rows: u64) -> Self {
        Self {
            timeout,
            max_rows,
            budget: Budget::default(),
        }
    }

    /// When the statement must be done: now + timeout, never overflowing
    /// (an `Instant` plus a huge duration would panic).
    pub fn deadline(&self) -> std::time::Instant {
        let now = std::time::Instant::now();
        now.checked_add(self.timeout)
            .or_else(|| now.checked_add(Duration::from_secs(3600)))
            .unwrap_or(now)
    }
}

/// Name and type of a result column. `type` is the database's declared type
/// when known, otherwise the type of the first non-null value.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ResultColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
}

/// Rows of a query as JSON values: integers and floats as numbers, decimals as
/// strings (no precision loss), dates/times ISO-8601, blobs base64.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct ResultSet {
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub truncated: bool,
}

#[async_trait]
pub trait Connector: Send + Sync {
    fn dialect(&self) -> Dialect;

    /// Read tables, columns, keys and low-cardinality text values from the catalog.
    async fn introspect(&self) -> Result<SchemaInfo, ConnectorError>;

    /// Run a validated query in a read-only session under `limits`.
    async fn execute(
        &self,
        sql: &ValidatedSql,
        limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError>;

    /// A cheap round trip for readiness checks.
    async fn ping(&self) -> Result<(), ConnectorError>;

    /// Connections in this connector's pool: the slots [`budget::Admission`] shares out.
    fn slots(&self) -> u32 {
        4
    }
}

/// Stands in for a connection that could not be opened at startup, so the
/// service still starts and readiness reports the failure.
pub struct Unavailable {
    dialect: Dialect,
    reason: String,
}

impl Unavailable {
    pub fn new(dialect: Dialect, reason: String) -> Self {
        Self { dialect, reason }
    }
}

#[async_trait]
impl Connector for Unavailable {
    fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn introspect(&self) -> Result<SchemaInfo, ConnectorError> {
        Err(ConnectorError::Unavailable(self.reason.clone()))
    }

    async fn execute(
        &self,
        _sql: &ValidatedSql,
        _limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError> {
        Err(ConnectorError::Unavailable(self.reason.clone()))
    }

    async fn ping(&self) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unavailable(self.reason.clone()))
    }
}
