//! The rules behind [`super::validate`]: parse, walk the AST once with a
//! visitor, then enforce the row limit on the outermost query.
//!
//! Rules (each with its stable code): one statement (`multiple_statements`);
//! only queries (`not_a_query`, writes anywhere — also inside CTEs — are
//! `data_modifying`); no `SELECT … INTO` (`select_into`); no locking clauses
//! (`locking_clause`); no dangerous functions of any supported dialect
//! (`forbidden_function`, also for table functions outside a small allowlist);
//! no session variables or assignments (`forbidden_construct`); every table in
//! the connection's schema (`unknown_table`) and, when set, in its allowlist
//! (`table_not_allowed`). A non-literal `LIMIT` (a subquery, a placeholder) is
//! replaced by the maximum rather than trusted.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Fetch, LimitClause, ObjectName, ObjectNamePart, Query, Select, SetExpr,
    Statement, TableFactor, Value, Visit, Visitor,
};
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};

use super::{RejectCode, SqlPolicy, ValidatedSql, ValidationError};
use crate::connectors::SchemaInfo;
use crate::domain::Dialect;

/// Longest SQL text we parse at all.
const MAX_SQL_BYTES: usize = 100_000;
/// Nesting depth at which parsing stops (deeper input is an attack or a bug).
const RECURSION_LIMIT: usize = 48;

/// Functions that read or write files, sleep, take locks, change server or
/// session state, mutate sequences or reach other servers. Matched on the
/// last name part, case-insensitively, for every dialect: a name that is
/// dangerous in one dialect has no business in a query on another.
const FORBIDDEN_FUNCTIONS: &[&str] = &[
    // SQLite
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "zeroblob",
    "randomblob",
    "sqlite_compileoption_get",
    "sqlite_compileoption_used",
    // PostgreSQL
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_stat_file",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_promote",
    "pg_notify",
    "set_config",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_json",
    "table_to_xml",
    "database_to_xml",
    "cursor_to_xml",
    "pg_import_system_collations",
    "pg_stat_reset",
    "pg_create_restore_point",
    "pg_log_backend_memory_contexts",
    "current_setting",
    "pg_backend_pid",
    "inet_server_addr",
    "version",
    // MySQL / MariaDB
    "sleep",
    "benchmark",
    "load_file",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "is_free_lock",
    "is_used_lock",
    "master_pos_wait",
    "source_pos_wait",
    "sys_exec",
    "sys_eval",
    "sys_get",
    "sys_set",
    "uuid_short",
    "found_rows",
    "row_count",
    "last_insert_id",
    "connection_id",
    "system_user",
    "user",
    "session_user",
    "current_user",
    "database",
    "schema",
];

/// Name prefixes with the same verdict (families of admin functions).
const FORBIDDEN_PREFIXES: &[&str] = &[
    "pg_ls_",
    "pg_read_",
    "pg_file_",
    "pg_advisory",
    "pg_try_advisory",
    "lo_",
    "dblink",
    "pg_logical_",
    "pg_replication_",
    "pg_create_",
    "pg_drop_",
    "pg_start_",
    "pg_stop_",
    "pg_backup_",
    "pg_wal_",
    "txid_",
    "pg_current_xact",
    "pg_stat_reset",
    "pg_catalog.",
    "sqlite_",
    "pragma_",
];

/// Table-valued functions allowed in `FROM`.
const ALLOWED_TABLE_FUNCTIONS: &[&str] = &[
    "json_each",
    "json_tree",
    "generate_series",
    "unnest",
    "jsonb_each",
    "jsonb_each_text",
    "json_each_text",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "json_array_elements",
    "json_array_elements_text",
];

fn parser_dialect(d: Dialect) -> Box<dyn SqlDialect> {
    match d {
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::Mysql => Box::new(MySqlDialect {}),
    }
}

fn reject(code: RejectCode, message: impl Into<String>) -> ValidationError {
    ValidationError::new(code, message)
}

/// Is this function name forbidden? `name` is lower-case.
fn is_forbidden_function(name: &str) -> bool {
    FORBIDDEN_FUNCTIONS.contains(&name) || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn last_part(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => i.value.to_lowercase(),
        Some(other) => other.to_string().to_lowercase(),
        None => String::new(),
    }
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

/// The first keyword of a statement, for messages ("a DELETE").
fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    let word = text
        .split_whitespace()
        .next()
        .unwrap_or("statement")
        .to_uppercase();
    match word.as_str() {
        "WITH" | "SELECT" | "VALUES" => "query".into(),
        _ => word,
    }
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

fn readable_parse_error(e: ParserError) -> ValidationError {
    let msg = match e {
        ParserError::RecursionLimitExceeded => {
            "The query is nested too deeply to be checked.".to_string()
        }
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => {
            format!("The SQL could not be parsed: {m}")
        }
    };
    reject(RejectCode::ParseError, msg)
}

struct Checker<'a> {
    schema: &'a SchemaInfo,
    policy: &'a SqlPolicy,
    dialect: Dialect,
    /// CTE names in scope, one frame per query being visited.
    cte_scopes: Vec<Vec<String>>,
    /// Names used as allowed table functions (skipped as relations).
    table_functions: BTreeSet<String>,
    tables: BTreeSet<String>,
}

impl Checker<'_> {
    fn in_cte_scope(&self, name: &str) -> bool {
        self.cte_scopes
            .iter()
            .any(|frame| frame.iter().any(|c| c.eq_ignore_ascii_case(name)))
    }

    fn check_relation(&mut self, name: &ObjectName) -> Result<(), ValidationError> {
        let p = parts(name);
        let display = p.join(".");
        let table = match p.as_slice() {
            [t] => {
                if self.in_cte_scope(t) || self.table_functions.contains(&t.to_lowercase()) {
                    return Ok(());
                }
                t.clone()
            }
            [qualifier, t] => {
                let q = qualifier.to_lowercase();
                let ok = matches!(
                    (self.dialect, q.as_str()),
                    (Dialect::Sqlite, "main") | (Dialect::Postgres, "public")
                );
                if !ok {
                    return Err(reject(
                        RejectCode::UnknownTable,
                        format!("Table `{display}` is not part of this connection's schema."),
                    ));
                }
                t.clone()
            }
            _ => {
                return Err(reject(
                    RejectCode::UnknownTable,
                    format!("Table `{display}` is not part of this connection's schema."),
                ));
            }
        };
        let Some(info) = self.schema.table(&table) else {
            return Err(reject(
                RejectCode::UnknownTable,
                format!("Table `{display}` does not exist in this connection's schema."),
            ));
        };
        let lower = info.name.to_lowercase();
        if let Some(allowed) = &self.policy.allowed_tables {
            if !allowed.contains(&lower) {
                return Err(reject(
                    RejectCode::TableNotAllowed,
                    format!(
                        "Table `{}` is not available to you on this connection.",
                        info.name
                    ),
                ));
            }
        }
        self.tables.insert(lower);
        Ok(())
    }

    fn check_set_expr(&self, body: &SetExpr) -> Result<(), ValidationError> {
        match body {
            SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) | SetExpr::Table(_) => {
                Ok(())
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.check_set_expr(left)?;
                self.check_set_expr(right)
            }
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                Err(reject(
                    RejectCode::DataModifying,
                    "Only read-only queries are allowed; this query modifies data.",
                ))
            }
            #[allow(unreachable_patterns)]
            _ => Err(reject(
                RejectCode::ForbiddenConstruct,
                "This kind of query is not supported.",
            )),
        }
    }
}

impl Visitor for Checker<'_> {
    type Break = ValidationError;

    fn pre_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<ValidationError> {
        match stmt {
            Statement::Query(_) => ControlFlow::Continue(()),
            s if is_write(s) => ControlFlow::Break(reject(
                RejectCode::DataModifying,
                format!(
                    "Only read-only queries are allowed; this statement is a {}.",
                    statement_kind(s)
                ),
            )),
            s => ControlFlow::Break(reject(
                RejectCode::NotAQuery,
                format!(
                    "Only read-only queries are allowed; this statement is a {}.",
                    statement_kind(s)
                ),
            )),
        }
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<ValidationError> {
        let mut frame = Vec::new();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = cte.alias.name.value.clone();
                // A CTE named like a real table would hide which one a
                // reference reads; refuse the ambiguity.
                if self.schema.has_table(&name) {
                    return ControlFlow::Break(reject(
                        RejectCode::ForbiddenConstruct,
                        format!("The CTE name `{name}` shadows a table; choose another name."),
                    ));
                }
                frame.push(name);
            }
        }
        self.cte_scopes.push(frame);
        if !q.locks.is_empty() {
            return ControlFlow::Break(reject(
                RejectCode::LockingClause,
                "Locking clauses (FOR UPDATE / FOR SHARE) are not allowed in read-only queries.",
            ));
        }
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return ControlFlow::Break(reject(
                RejectCode::ForbiddenConstruct,
                "This query uses a clause that is not supported.",
            ));
        }
        if let Err(e) = self.check_set_expr(&q.body) {
            return ControlFlow::Break(e);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<ValidationError> {
        self.cte_scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<ValidationError> {
        if s.into.is_some() {
            return ControlFlow::Break(reject(
                RejectCode::SelectInto,
                "SELECT … INTO writes a new table or variables; only plain queries are allowed.",
            ));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<ValidationError> {
        let function_name = match tf {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => Some(last_part(name)),
            TableFactor::Function { name, .. } => Some(last_part(name)),
            TableFactor::TableFunction { .. } => Some("table".to_string()),
            TableFactor::UNNEST { .. } => None,
            _ => None,
        };
        if let Some(f) = function_name {
            if !ALLOWED_TABLE_FUNCTIONS.contains(&f.as_str()) {
                return ControlFlow::Break(reject(
                    RejectCode::ForbiddenFunction,
                    format!("The table function `{f}` is not allowed."),
                ));
            }
            self.table_functions.insert(f);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<ValidationError> {
        match self.check_relation(name) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<ValidationError> {
        match expr {
            Expr::Function(f) => {
                let full = parts(&f.name).join(".").to_lowercase();
                let last = last_part(&f.name);
                if is_forbidden_function(&last) || is_forbidden_function(&full) {
                    return ControlFlow::Break(reject(
                        RejectCode::ForbiddenFunction,
                        format!("The function `{last}` is not allowed in queries."),
                    ));
                }
            }
            Expr::Identifier(i) if i.value.starts_with('@') => {
                return ControlFlow::Break(reject(
                    RejectCode::ForbiddenConstruct,
                    "Session and system variables (`@…`) are not allowed.",
                ));
            }
            Expr::BinaryOp {
                op: BinaryOperator::Assignment,
                ..
            } => {
                return ControlFlow::Break(reject(
                    RejectCode::ForbiddenConstruct,
                    "Variable assignments (`:=`) are not allowed.",
                ));
            }
            Expr::Value(v) if matches!(v.value, Value::Placeholder(ref p) if p.starts_with('@')) => {
                return ControlFlow::Break(reject(
                    RejectCode::ForbiddenConstruct,
                    "Session and system variables (`@…`) are not allowed.",
                ));
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn number(n: u64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

/// The literal value of a limit expression, when it is a plain integer.
fn literal_limit(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(s, _) => s.parse::<u64>().ok(),
            _ => None,
        },
        Expr::Nested(inner) => literal_limit(inner),
        _ => None,
    }
}

/// Add or clamp the outer query's limit; returns the limit in force.
fn enforce_limit(q: &mut Query, max: u64) -> u64 {
    let clamp = |e: &Option<Expr>| -> u64 {
        e.as_ref()
            .and_then(literal_limit)
            .map_or(max, |n| n.min(max))
    };
    if let Some(fetch) = &mut q.fetch {
        if q.limit_clause.is_none() {
            let n = if fetch.percent {
                max
            } else {
                clamp(&fetch.quantity)
            };
            *fetch = Fetch {
                with_ties: false,
                percent: false,
                quantity: Some(number(n)),
            };
            return n;
        }
        q.fetch = None;
    }
    match &mut q.limit_clause {
        None => {
            q.limit_clause = Some(LimitClause::LimitOffset {
                limit: Some(number(max)),
                offset: None,
                limit_by: vec![],
            });
            max
        }
        Some(LimitClause::LimitOffset {
            limit, limit_by, ..
        }) => {
            let n = clamp(limit);
            *limit = Some(number(n));
            limit_by.clear();
            n
        }
        Some(LimitClause::OffsetCommaLimit { limit, .. }) => {
            let n = literal_limit(limit).map_or(max, |n| n.min(max));
            *limit = number(n);
            n
        }
    }
}

/// Does the text hold anything but whitespace and comments?
fn only_comments(sql: &str) -> bool {
    let mut rest = sql.trim();
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after).trim();
        } else if let Some(r) = rest.strip_prefix("/*") {
            match r.split_once("*/") {
                Some((_, after)) => rest = after.trim(),
                None => return true,
            }
        } else if let Some(r) = rest.strip_prefix(';') {
            rest = r.trim();
        } else {
            return false;
        }
    }
}

pub(super) fn validate_impl(
    sql: &str,
    dialect: Dialect,
    schema: &SchemaInfo,
    policy: &SqlPolicy,
) -> Result<ValidatedSql, ValidationError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(reject(
            RejectCode::TooLong,
            format!("The SQL is longer than {MAX_SQL_BYTES} bytes."),
        ));
    }
    if only_comments(sql) {
        return Err(reject(
            RejectCode::Empty,
            "There is no SQL statement to check.",
        ));
    }
    let d = parser_dialect(dialect);
    let mut statements = Parser::new(d.as_ref())
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(readable_parse_error)?;
    if statements.is_empty() {
        return Err(reject(
            RejectCode::Empty,
            "There is no SQL statement to check.",
        ));
    }
    if statements.len() > 1 {
        return Err(reject(
            RejectCode::MultipleStatements,
            format!(
                "Exactly one statement is allowed; found {}.",
                statements.len()
            ),
        ));
    }
    let mut statement = statements.remove(0);
    let mut checker = Checker {
        schema,
        policy,
        dialect,
        cte_scopes: Vec::new(),
        table_functions: BTreeSet::new(),
        tables: BTreeSet::new(),
    };
    if let ControlFlow::Break(e) = statement.visit(&mut checker) {
        return Err(e);
    }
    let Statement::Query(query) = &mut statement else {
        return Err(reject(
            RejectCode::NotAQuery,
            "Only read-only queries are allowed.",
        ));
    };
    let limit = enforce_limit(query, policy.max_rows.max(1));
    let rendered = statement.to_string();
    // The rendering must parse back to one query: a guard against a
    // rendering bug turning a checked AST into different SQL.
    let reparsed = Parser::new(d.as_ref())
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(&rendered)
        .and_then(|mut p| p.parse_statements());
    match reparsed {
        Ok(s) if s.len() == 1 && matches!(s[0], Statement::Query(_)) => {}
        _ => {
            return Err(reject(
                RejectCode::ParseError,
                "The query could not be normalised safely.",
            ));
        }
    }
    Ok(ValidatedSql {
        sql: rendered,
        dialect,
        tables: checker.tables.into_iter().collect(),
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::{ColumnInfo, TableInfo};

    fn schema() -> SchemaInfo {
        let t = |name: &str, cols: &[&str]| TableInfo {
            name: name.into(),
            columns: cols
                .iter()
                .map(|c| ColumnInfo {
                    name: (*c).into(),
                    data_type: "TEXT".into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        SchemaInfo {
            tables: vec![
                t("customers", &["id", "name"]),
                t("Orders", &["id", "customer_id", "total"]),
            ],
        }
    }

    fn ok(sql: &str) -> ValidatedSql {
        validate_impl(
            sql,
            Dialect::Sqlite,
            &schema(),
            &SqlPolicy {
                max_rows: 100,
                allowed_tables: None,
            },
        )
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    fn err(sql: &str, dialect: Dialect) -> ValidationError {
        validate_impl(
            sql,
            dialect,
            &schema(),
            &SqlPolicy {
                max_rows: 100,
                allowed_tables: None,
            },
        )
        .unwrap_err()
    }

    #[test]
    fn limits_are_added_clamped_or_kept() {
        assert_eq!(
            ok("SELECT * FROM customers").sql(),
            "SELECT * FROM customers LIMIT 100"
        );
        assert_eq!(ok("SELECT * FROM customers LIMIT 5000").limit(), 100);
        let v = ok("SELECT * FROM customers LIMIT 7 OFFSET 3");
        assert_eq!(
            (v.limit(), v.sql()),
            (7, "SELECT * FROM customers LIMIT 7 OFFSET 3")
        );
        // A non-literal limit is replaced by the maximum.
        assert_eq!(
            ok("SELECT * FROM customers LIMIT (SELECT 100000)").limit(),
            100
        );
        // Set operations get one outer limit.
        assert_eq!(
            ok("SELECT id FROM customers UNION SELECT id FROM orders").sql(),
            "SELECT id FROM customers UNION SELECT id FROM orders LIMIT 100"
        );
        let mysql = validate_impl(
            "SELECT * FROM customers LIMIT 10, 500",
            Dialect::Mysql,
            &schema(),
            &SqlPolicy {
                max_rows: 100,
                allowed_tables: None,
            },
        )
        .unwrap();
        assert_eq!(mysql.limit(), 100);
        assert!(mysql.sql().ends_with("LIMIT 10, 100"), "{}", mysql.sql());
        let pg = validate_impl(
            "SELECT * FROM customers FETCH FIRST 1000 ROWS ONLY",
            Dialect::Postgres,
            &schema(),
            &SqlPolicy {
                max_rows: 100,
                allowed_tables: None,
            },
        )
        .unwrap();
        assert_eq!(pg.limit(), 100);
    }

    #[test]
    fn tables_are_reported_without_ctes_and_case_insensitively() {
        let v = ok(
            "WITH big AS (SELECT * FROM orders WHERE total > 10) SELECT c.name FROM customers c JOIN big ON big.customer_id = c.id",
        );
        assert_eq!(v.tables(), ["customers", "orders"]);
        assert_eq!(ok("SELECT * FROM ORDERS").tables(), ["orders"]);
    }

    #[test]
    fn cte_names_are_scoped() {
        // `x` is a CTE only inside the subquery that defines it.
        let e = err(
            "SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) t, x",
            Dialect::Sqlite,
        );
        assert_eq!(e.code, RejectCode::UnknownTable, "{e:?}");
        // A CTE may not shadow a real table.
        assert_eq!(
            err(
                "WITH orders AS (SELECT 1) SELECT * FROM orders",
                Dialect::Sqlite
            )
            .code,
            RejectCode::ForbiddenConstruct
        );
    }

    #[test]
    fn messages_are_sentences_with_codes() {
        let e = err("DELETE FROM customers", Dialect::Sqlite);
        assert_eq!(e.code, RejectCode::DataModifying);
        assert_eq!(
            e.message,
            "Only read-only queries are allowed; this statement is a DELETE."
        );
        let e = err("SELECT * FROM secrets", Dialect::Sqlite);
        assert_eq!(
            e.message,
            "Table `secrets` does not exist in this connection's schema."
        );
        assert_eq!(
            err("SELECT 1; SELECT 2", Dialect::Sqlite).message,
            "Exactly one statement is allowed; found 2."
        );
        assert_eq!(err("", Dialect::Sqlite).code, RejectCode::Empty);
        assert_eq!(
            err(&"x".repeat(MAX_SQL_BYTES + 1), Dialect::Sqlite).code,
            RejectCode::TooLong
        );
    }

    #[test]
    fn deep_nesting_is_a_parse_error_not_a_crash() {
        let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(err(&deep, Dialect::Sqlite).code, RejectCode::ParseError);
        let deep_sub = format!(
            "SELECT * FROM customers WHERE id IN {}",
            "(SELECT id FROM customers WHERE id IN ".repeat(200)
        );
        assert_eq!(err(&deep_sub, Dialect::Sqlite).code, RejectCode::ParseError);
    }

    #[test]
    fn forbidden_functions_are_found_anywhere() {
        for sql in [
            "SELECT load_extension('x')",
            "SELECT name FROM customers WHERE id = (SELECT max(length(readfile('/etc/passwd'))))",
            "SELECT * FROM customers ORDER BY (CASE WHEN 1 THEN load_extension('x') END)",
            "SELECT count(*) FROM customers GROUP BY id HAVING sum(length(readfile('x'))) > 0",
        ] {
            assert_eq!(
                err(sql, Dialect::Sqlite).code,
                RejectCode::ForbiddenFunction,
                "{sql}"
            );
        }
        assert_eq!(
            err("SELECT pg_catalog.PG_SLEEP(1)", Dialect::Postgres).code,
            RejectCode::ForbiddenFunction
        );
    }
}
