//! The read-only policy, enforced by one walk over the whole statement with
//! sqlparser's visitor, so nothing hides in subqueries, CTE bodies, `CASE`
//! arms, function arguments, `ORDER BY` or set-operation branches.
//!
//! Table references are resolved the way the database would, but more
//! strictly where it matters: a CTE name only counts as a CTE where the
//! database would see it (earlier siblings; itself only under `RECURSIVE`;
//! nested queries inside it), so `WITH pg_user AS (SELECT * FROM pg_user) …`
//! still checks the inner `pg_user` against the schema. Anything not in scope
//! must be a schema table (optionally `main.`/`public.`-qualified).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, ObjectName, ObjectNamePart, Query, Select, SetExpr, Statement,
    TableFactor, Value, Visitor,
};

use super::functions;
use super::{RejectCode, SqlPolicy, ValidationError};
use crate::domain::Dialect;
use crate::domain::SchemaInfo;

fn reject(code: RejectCode, message: impl Into<String>) -> ControlFlow<ValidationError> {
    ControlFlow::Break(ValidationError::new(code, message))
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// CTEs declared by one query, and how many of them are visible right now.
struct Frame {
    /// Name and address of each CTE body, in declaration order.
    ctes: Vec<(String, *const Query)>,
    recursive: bool,
    /// CTEs `..visible` are in scope; changes while their bodies are walked.
    visible: usize,
}

/// Walks one statement; on success `tables` holds the schema tables it reads.
pub(super) struct Checker<'a> {
    schema: &'a SchemaInfo,
    policy: &'a SqlPolicy,
    dialect: Dialect,
    frames: Vec<Frame>,
    /// The next relation is the name of an allowed table function, not a table.
    table_function_pending: bool,
    pub(super) tables: BTreeSet<String>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(schema: &'a SchemaInfo, policy: &'a SqlPolicy, dialect: Dialect) -> Self {
        Self {
            schema,
            policy,
            dialect,
            frames: Vec::new(),
            table_function_pending: false,
            tables: BTreeSet::new(),
        }
    }

    fn dialect_name(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
            Dialect::Mysql => "MySQL",
        }
    }

    fn cte_in_scope(&self, name: &str) -> bool {
        self.frames.iter().any(|f| {
            f.ctes[..f.visible]
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(name))
        })
    }

    fn check_relation(&mut self, p: &[String]) -> ControlFlow<ValidationError> {
        let display = p.join(".");
        let unknown = || {
            reject(
                RejectCode::UnknownTable,
                format!("Table `{display}` does not exist in this connection's schema."),
            )
        };
        let table = match p {
            [t] if self.cte_in_scope(t) => return ControlFlow::Continue(()),
            // MySQL's dummy table for `SELECT 1 FROM DUAL`.
            [t] if self.dialect == Dialect::Mysql && t.eq_ignore_ascii_case("dual") => {
                return ControlFlow::Continue(());
            }
            [t] => t,
            [qualifier, t] => {
                let default_schema = match self.dialect {
                    Dialect::Sqlite => "main",
                    Dialect::Postgres => "public",
                    // The connected database's name is not in the schema
                    // model, so MySQL qualifiers are never accepted.
                    Dialect::Mysql => return unknown(),
                };
                if !qualifier.eq_ignore_ascii_case(default_schema) {
                    return unknown();
                }
                t
            }
            _ => return unknown(),
        };
        let Some(info) = self.schema.table(table) else {
            return unknown();
        };
        let lower = info.name.to_lowercase();
        if let Some(allowed) = &self.policy.allowed_tables
            && !allowed.iter().any(|a| a.eq_ignore_ascii_case(&lower))
        {
            // Word for word the answer for a missing table (same code,
            // same message, the name as written): a limited caller must
            // not learn which hidden tables exist.
            return unknown();
        }
        self.tables.insert(lower);
        ControlFlow::Continue(())
    }

    /// Only queries may appear as a query body; writes are data-modifying
    /// wherever they hide (PostgreSQL allows them in CTEs).
    fn check_body(&mut self, body: &SetExpr) -> ControlFlow<ValidationError> {
        match body {
            SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => {
                ControlFlow::Continue(())
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.check_body(left)?;
                self.check_body(right)
            }
            // `TABLE t`: its name is a bare identifier the visitor does not
            // see as a relation, so check it here.
            SetExpr::Table(t) => {
                let p: Vec<String> = [&t.schema_name, &t.table_name]
                    .into_iter()
                    .flatten()
                    .map(|i: &Ident| i.value.clone())
                    .collect();
                self.check_relation(&p)
            }
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
                reject(
                    RejectCode::DataModifying,
                    format!(
                        "Only read-only queries are allowed; this query contains {}.",
                        with_article(&statement_kind(s))
                    ),
                )
            }
        }
    }
}

/// "an INSERT", "a DELETE".
pub(super) fn with_article(word: &str) -> String {
    let vowel = word
        .chars()
        .next()
        .is_some_and(|c| "AEIOUaeiou".contains(c))
        && !word.to_uppercase().starts_with("US");
    format!("{} {word}", if vowel { "an" } else { "a" })
}

/// The statement's leading keywords, for messages: "DELETE", "CREATE TABLE".
fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    let words: Vec<String> = text
        .split_whitespace()
        .take(6)
        .map(str::to_uppercase)
        .collect();
    let Some(first) = words.first() else {
        return "statement".into();
    };
    if matches!(first.as_str(), "CREATE" | "DROP" | "ALTER") {
        const OBJECTS: &[&str] = &[
            "TABLE",
            "VIEW",
            "INDEX",
            "SCHEMA",
            "DATABASE",
            "FUNCTION",
            "PROCEDURE",
            "TRIGGER",
            "SEQUENCE",
            "ROLE",
            "USER",
            "EXTENSION",
            "TYPE",
        ];
        if let Some(object) = words[1..].iter().find(|w| OBJECTS.contains(&w.as_str())) {
            return format!("{first} {object}");
        }
    }
    first.clone()
}

fn is_write(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_)
            | Statement::Merge(_)
            | Statement::Truncate(_)
            | Statement::Drop { .. }
            | Statement::CreateTable(_)
            | Statement::CreateView(_)
            | Statement::CreateIndex(_)
            | Statement::AlterTable(_)
            | Statement::Copy { .. }
    )
}

fn is_variable(name: &str) -> bool {
    name.starts_with('@')
}

impl Visitor for Checker<'_> {
    type Break = ValidationError;

    fn pre_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<ValidationError> {
        if matches!(stmt, Statement::Query(_)) {
            return ControlFlow::Continue(());
        }
        let code = if is_write(stmt) {
            RejectCode::DataModifying
        } else {
            RejectCode::NotAQuery
        };
        reject(
            code,
            format!(
                "Only read-only queries are allowed; this statement is {}.",
                with_article(&statement_kind(stmt))
            ),
        )
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<ValidationError> {
        // Entering the body of a CTE of the enclosing query: only earlier
        // CTEs (and itself, when recursive) are in scope inside it.
        if let Some(parent) = self.frames.last_mut()
            && let Some(i) = parent
                .ctes
                .iter()
                .position(|(_, body)| std::ptr::eq(*body, q))
        {
            parent.visible = if parent.recursive { i + 1 } else { i };
        }
        let mut frame = Frame {
            ctes: Vec::new(),
            recursive: false,
            visible: 0,
        };
        if let Some(with) = &q.with {
            frame.recursive = with.recursive;
            for cte in &with.cte_tables {
                let name = &cte.alias.name.value;
                // A CTE named like a real table would hide which one a
                // reference reads; refuse the ambiguity.
                if self.schema.has_table(name) {
                    return reject(
                        RejectCode::ForbiddenConstruct,
                        format!(
                            "The CTE name `{name}` is also a table name; choose a different name."
                        ),
                    );
                }
                frame.ctes.push((name.clone(), &*cte.query as *const Query));
            }
            frame.visible = frame.ctes.len();
        }
        self.frames.push(frame);
        // Only syntax the connection's database runs: SQLite and MySQL have
        // no `FETCH FIRST`, which would pass here and fail in the database.
        if q.fetch.is_some() && self.dialect != Dialect::Postgres {
            return reject(
                RejectCode::ParseError,
                format!(
                    "`FETCH FIRST` is not supported by {}; use `LIMIT` instead.",
                    self.dialect_name()
                ),
            );
        }
        if !q.locks.is_empty() {
            return reject(
                RejectCode::LockingClause,
                "Locking clauses (FOR UPDATE / FOR SHARE) are not allowed in read-only queries.",
            );
        }
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return reject(
                RejectCode::ForbiddenConstruct,
                "This query uses a clause that is not supported here.",
            );
        }
        self.check_body(&q.body)
    }

    fn post_visit_query(&mut self, q: &Query) -> ControlFlow<ValidationError> {
        self.frames.pop();
        // Leaving a CTE body: the main query of the parent sees every CTE
        // (the next sibling's body narrows it again when entered).
        if let Some(parent) = self.frames.last_mut()
            && parent.ctes.iter().any(|(_, body)| std::ptr::eq(*body, q))
        {
            parent.visible = parent.ctes.len();
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<ValidationError> {
        if s.into.is_some() {
            return reject(
                RejectCode::SelectInto,
                "SELECT … INTO writes a new table or variables; only plain queries are allowed.",
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<ValidationError> {
        let (name, is_relation) = match tf {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => (parts(name), true),
            TableFactor::Function { name, .. } => (parts(name), false),
            TableFactor::TableFunction { .. } => (vec!["TABLE".to_string()], false),
            _ => return ControlFlow::Continue(()),
        };
        if !functions::is_allowed_table_function(&name) {
            return reject(
                RejectCode::ForbiddenFunction,
                format!(
                    "The table function `{}` is not allowed; only {} are.",
                    name.join("."),
                    "json_each, json_tree, generate_series, unnest and the JSON element functions"
                ),
            );
        }
        // The name of `f(...)` in FROM is visited next as a relation; it is
        // a function, not a table.
        self.table_function_pending = is_relation;
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<ValidationError> {
        if std::mem::take(&mut self.table_function_pending) {
            return ControlFlow::Continue(());
        }
        self.check_relation(&parts(name))
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<ValidationError> {
        let variable = || {
            reject(
                RejectCode::ForbiddenConstruct,
                "Session and system variables (`@…`) are not allowed.",
            )
        };
        match expr {
            Expr::Function(f) => {
                let name = parts(&f.name);
                if functions::is_forbidden(&name) {
                    return reject(
                        RejectCode::ForbiddenFunction,
                        format!(
                            "The function `{}` is not allowed in queries.",
                            name.join(".").to_lowercase()
                        ),
                    );
                }
            }
            Expr::Identifier(i) if is_variable(&i.value) => return variable(),
            Expr::CompoundIdentifier(ids) if ids.first().is_some_and(|i| is_variable(&i.value)) => {
                return variable();
            }
            Expr::Value(v) if matches!(&v.value, Value::Placeholder(p) if is_variable(p)) => {
                return variable();
            }
            Expr::BinaryOp {
                op: BinaryOperator::Assignment,
                ..
            } => {
                return reject(
                    RejectCode::ForbiddenConstruct,
                    "Variable assignments (`:=`) are not allowed.",
                );
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles() {
        assert_eq!(with_article("INSERT"), "an INSERT");
        assert_eq!(with_article("UPDATE"), "an UPDATE");
        assert_eq!(with_article("USE"), "a USE");
        assert_eq!(with_article("DELETE"), "a DELETE");
    }
}
