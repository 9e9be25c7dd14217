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
//!
//! Steps, one submodule each: `parse` (size, emptiness, one statement,
//! bounded tree), `policy` (the read-only rules and table checks, in one AST
//! walk), `functions` (which functions are off limits), `rewrite` (the row
//! limit). Rules and their codes:
//!
//! | code | rule |
//! |---|---|
//! | `empty` | nothing but whitespace, comments or `;` |
//! | `too_long` | more than 100 000 bytes |
//! | `parse_error` | not valid SQL in the dialect, nested too deeply, or too many operators |
//! | `multiple_statements` | more than one statement (stacked queries) |
//! | `not_a_query` | not `SELECT`/`WITH`/`VALUES`/set operation (PRAGMA, SET, EXPLAIN, ATTACH…) |
//! | `data_modifying` | a write or DDL statement, also inside a CTE |
//! | `select_into` | `SELECT … INTO` a table or variables |
//! | `locking_clause` | `FOR UPDATE`/`FOR SHARE`/`LOCK IN SHARE MODE`, at any depth |
//! | `forbidden_function` | a dangerous function anywhere, or a table function outside the allowlist |
//! | `forbidden_construct` | `@` variables, `:=`, `INTO OUTFILE/DUMPFILE`, a CTE named like a table |
//! | `unknown_table` | a relation that is neither a CTE in scope nor a schema table |
//! | `unknown_table` (again) | a schema table or view outside `SqlPolicy::allowed_tables`: worded exactly like a missing table, so a limited caller cannot tell hidden from absent (`table_not_allowed` stays in the enum for API compatibility but is no longer emitted) |
//! | `parse_error` (again) | syntax the connection's database does not run (`FETCH FIRST` on SQLite/MySQL) |
//!
//! A `LIMIT` that is not an integer literal (`LIMIT ?`, `LIMIT (SELECT …)`)
//! is replaced by `max_rows`, not rejected. The output SQL is rendered from
//! the checked AST (comments and anything the parser skipped are gone) and
//! must parse back to the very same AST.

pub mod explain;
mod functions;
mod parse;
mod policy;
mod rewrite;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Statement, Visit};

use serde::Serialize;

use crate::domain::Dialect;
use crate::domain::SchemaInfo;

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

/// SQL that passed validation. Only [`validate`] can build one (and, in
/// builds with the `test-bypass` feature, which only the test suite enables,
/// `ValidatedSql::bypass_for_tests`).
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

    /// Wrap SQL that was NOT validated, so tests can prove the connectors'
    /// own read-only sessions refuse writes even if the validator were
    /// bypassed. Exists only with the `test-bypass` feature (enabled by the
    /// crate's dev-dependency on itself, never in a release build).
    #[cfg(feature = "test-bypass")]
    #[doc(hidden)]
    pub fn bypass_for_tests(sql: &str, dialect: Dialect) -> Self {
        Self {
            sql: sql.to_string(),
            dialect,
            tables: Vec::new(),
            limit: 1,
        }
    }
}

/// Validate `sql` for `dialect` against `schema` under `policy`.
pub fn validate(
    sql: &str,
    dialect: Dialect,
    schema: &SchemaInfo,
    policy: &SqlPolicy,
) -> Result<ValidatedSql, ValidationError> {
    let mut statement = parse::parse_one(sql, dialect)?;
    let tables = check(&statement, dialect, schema, policy)?;
    let Statement::Query(query) = &mut statement else {
        // The checker breaks on every other statement; this is a backstop.
        return Err(ValidationError::new(
            RejectCode::NotAQuery,
            "Only read-only queries are allowed.",
        ));
    };
    let limit = rewrite::enforce_limit(query, policy.max_rows);
    let rendered = statement.to_string();
    // What runs is the rendering, so the rendering itself must parse to one
    // statement that passes the same checks and renders identically: a
    // `Display` bug in the parser library must not turn a checked tree into
    // different SQL. (Comparing trees with `==` would recurse too deeply on
    // long operator chains.)
    let d = parse::parser_dialect(dialect);
    let unsafe_rendering = || {
        ValidationError::new(
            RejectCode::ParseError,
            "The query uses syntax that cannot be checked safely; try writing it more simply.",
        )
    };
    let mut again = parse::parse_all(d.as_ref(), &rendered).map_err(|_| unsafe_rendering())?;
    if again.len() != 1 || again[0].to_string() != rendered {
        return Err(unsafe_rendering());
    }
    if check(&again.remove(0), dialect, schema, policy)? != tables {
        return Err(unsafe_rendering());
    }
    Ok(ValidatedSql {
        sql: rendered,
        dialect,
        tables: tables.into_iter().collect(),
        limit,
    })
}

/// Run every policy rule over `statement`; returns the schema tables it reads.
fn check(
    statement: &Statement,
    dialect: Dialect,
    schema: &SchemaInfo,
    policy: &SqlPolicy,
) -> Result<BTreeSet<String>, ValidationError> {
    let mut checker = policy::Checker::new(schema, policy, dialect);
    match statement.visit(&mut checker) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(checker.tables),
    }
}
