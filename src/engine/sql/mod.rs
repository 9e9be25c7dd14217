//! SQL safety: parse generated or hand-written SQL into an AST (sqlparser, in
//! the connection's dialect), enforce the read-only policy, check every table
//! against the connection's schema, and add or clamp a row limit.
//!
//! The output is a [`ValidatedSql`]: its fields are private and the only
//! constructor is [`validate`], and connectors accept nothing else, so no code
//! path can execute SQL that did not pass through here. Each rejection carries a
//! stable [`RejectCode`] and a message a person understands.
//!
//! This module is pure (no I/O) and must stay that way: it runs on every ask.

mod check;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::connectors::SchemaInfo;
use crate::domain::Dialect;

/// What the validator enforces beyond the fixed read-only rules.
#[derive(Debug, Clone)]
pub struct SqlPolicy {
    /// Rows a query may return: a missing `LIMIT` is added, a larger one clamped.
    pub max_rows: u64,
    /// When set, only these tables (case-insensitive) may be referenced.
    pub allowed_tables: Option<BTreeSet<String>>,
}

impl Default for SqlPolicy {
    fn default() -> Self {
        Self {
            max_rows: 1000,
            allowed_tables: None,
        }
    }
}

/// Stable rejection codes, part of the API contract (`errors[].code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    Empty,
    TooLong,
    ParseError,
    MultipleStatements,
    NotAQuery,
    DataModifying,
    SelectInto,
    LockingClause,
    ForbiddenFunction,
    ForbiddenConstruct,
    UnknownTable,
    TableNotAllowed,
}

impl RejectCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::Empty => "empty",
            RejectCode::TooLong => "too_long",
            RejectCode::ParseError => "parse_error",
            RejectCode::MultipleStatements => "multiple_statements",
            RejectCode::NotAQuery => "not_a_query",
            RejectCode::DataModifying => "data_modifying",
            RejectCode::SelectInto => "select_into",
            RejectCode::LockingClause => "locking_clause",
            RejectCode::ForbiddenFunction => "forbidden_function",
            RejectCode::ForbiddenConstruct => "forbidden_construct",
            RejectCode::UnknownTable => "unknown_table",
            RejectCode::TableNotAllowed => "table_not_allowed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, utoipa::ToSchema)]
#[error("{message}")]
pub struct ValidationError {
    pub code: RejectCode,
    pub message: String,
}

impl ValidationError {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// SQL that passed validation. Only [`validate`] can build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedSql {
    sql: String,
    dialect: Dialect,
    tables: Vec<String>,
    limit: u64,
}

impl ValidatedSql {
    /// The SQL to run: re-rendered from the AST, with the enforced `LIMIT`.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Schema tables the query reads (CTE names excluded), lower-cased, sorted.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The row limit the query carries after validation.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// Validate `sql` for `dialect` against `schema` under `policy`.
pub fn validate(
    sql: &str,
    dialect: Dialect,
    schema: &SchemaInfo,
    policy: &SqlPolicy,
) -> Result<ValidatedSql, ValidationError> {
    check::validate_impl(sql, dialect, schema, policy)
}
