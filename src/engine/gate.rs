//! The one gate for caller SQL: every path that validates, runs, stores or
//! shows SQL on someone's behalf (ask, stream, generate, validate, execute,
//! re-run, feedback, training add/approve, history) checks it here, under
//! the caller's role and grant, never under the bare connection policy.
//!
//! Why a type and not a convention: the engine's executor
//! ([`crate::engine::pipeline::Engine`]'s private `run`) accepts only a
//! [`GatedSql`], and only [`Engine::gate`] makes one. A `GatedSql` records
//! the connection and the scope (the caller's table allowlist, if any) it
//! was checked for, so SQL checked for one caller or connection cannot be
//! run for another without going through the gate again.
//!
//! The caller travels in [`RequestContext::caller`] (filled by the HTTP
//! layer from the authenticated identity, with every grant): the gate finds
//! the grant for the connection itself, so a handler that forgets to narrow
//! its context still cannot widen what the caller reaches. A caller with no
//! grant on the connection reaches no table at all.
//!
//! Database error text never reaches a caller: [`public_db_error`] reduces
//! it to a fixed sentence per kind of failure (no literals, no values); the
//! full text is logged masked and fed to the correction loop only.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use tracing::instrument;

use super::pipeline::{Engine, RequestContext};
use crate::auth::roles::Action;
use crate::connectors::ConnectionHandle;
use crate::domain::{Dialect, Role, SchemaInfo};
use crate::engine::grant;
use crate::observability::metrics;
use crate::sql::{self, SqlPolicy, ValidatedSql, ValidationError};
use crate::store::grants::Grant;
use crate::store::{QueryRecord, TrainingItem};

/// Who is calling, as the gate needs it: the role and every grant.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// Connections granted; `None` (admins): every connection, no allowlist.
    pub grants: Option<Vec<Grant>>,
}

/// What a caller reaches of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every table the connection's own policy allows.
    All,
    /// Only these tables (lower-case).
    Tables(BTreeSet<String>),
    /// Nothing: no grant on the connection.
    Nothing,
}

impl Caller {
    pub fn reach(&self, connection: &str) -> Reach {
        let Some(grants) = &self.grants else {
            return Reach::All;
        };
        match grants.iter().find(|g| g.connection == connection) {
            None => Reach::Nothing,
            Some(Grant {
                allowed_tables: None,
                ..
            }) => Reach::All,
            Some(Grant {
                allowed_tables: Some(t),
                ..
            }) => Reach::Tables(t.iter().map(|t| t.to_lowercase()).collect()),
        }
    }

    pub fn can(&self, action: Action) -> bool {
        self.role.can(action)
    }
}

/// SQL that passed the gate: validated under the policy of `connection`
/// narrowed by the caller's grant. Only [`Engine::gate`] builds one; the
/// engine's executor takes nothing else.
#[derive(Debug, Clone)]
pub struct GatedSql {
    validated: ValidatedSql,
    connection: String,
    scope: Option<BTreeSet<String>>,
}

impl GatedSql {
    pub fn validated(&self) -> &ValidatedSql {
        &self.validated
    }

    pub fn sql(&self) -> &str {
        self.validated.sql()
    }

    pub fn tables(&self) -> &[String] {
        self.validated.tables()
    }

    /// The connection it was checked for.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// The table allowlist it was checked under (`None`: the connection's
    /// own policy only).
    pub fn scope(&self) -> Option<&BTreeSet<String>> {
        self.scope.as_ref()
    }
}

impl RequestContext {
    /// The connection's validator policy narrowed by the caller's grant (and
    /// by `allowed_tables`, when a handler narrowed the context itself).
    pub fn policy(&self, conn: &ConnectionHandle) -> SqlPolicy {
        let mut policy = conn.policy();
        let mut narrow = |mine: BTreeSet<String>| {
            policy.allowed_tables = Some(match policy.allowed_tables.take() {
                Some(theirs) => theirs
                    .iter()
                    .map(|t| t.to_lowercase())
                    .filter(|t| mine.contains(t))
                    .collect(),
                None => mine,
            });
        };
        if let Some(caller) = &self.caller {
            match caller.reach(conn.id.as_str()) {
                Reach::All => {}
                Reach::Tables(t) => narrow(t),
                Reach::Nothing => narrow(BTreeSet::new()),
            }
        }
        if let Some(mine) = &self.allowed_tables {
            narrow(mine.iter().map(|t| t.to_lowercase()).collect());
        }
        policy
    }

    /// The connection's schema as this caller may see it: narrowed to their
    /// allowlist (see [`crate::engine::grant`]).
    pub fn schema(&self, conn: &ConnectionHandle) -> Arc<SchemaInfo> {
        conn.schema_for(self.policy(conn).allowed_tables.as_ref())
    }

    /// Whether the caller's role allows `action`; trusted internal callers
    /// (CLI, jobs: no caller) may do everything.
    pub fn can(&self, action: Action) -> bool {
        self.caller.as_ref().is_none_or(|c| c.can(action))
    }

    /// The caller's role (`None`: a trusted internal caller).
    pub fn role(&self) -> Option<Role> {
        self.caller.as_ref().map(|c| c.role)
    }
}

impl Engine {
    /// THE gate: validate `sql_text` for `conn` under the caller's role and
    /// grant. Rejections are counted by code and traced; callers that take
    /// SQL from a person use [`Engine::gate_audited`], which also audits.
    #[instrument(name = "sql.validate", skip_all, fields(connection.id = %conn.id, sql.reject_code))]
    pub fn gate(
        &self,
        rc: &RequestContext,
        conn: &ConnectionHandle,
        sql_text: &str,
    ) -> Result<GatedSql, ValidationError> {
        let policy = rc.policy(conn);
        let result = self.validate_for(conn, sql_text, &policy);
        match result {
            Ok(validated) => Ok(GatedSql {
                validated,
                connection: conn.id.to_string(),
                scope: policy.allowed_tables,
            }),
            Err(e) => {
                tracing::Span::current().record("sql.reject_code", e.code.as_str());
                metrics::sql_rejected(e.code.as_str());
                Err(e)
            }
        }
    }

    /// The validator's verdict on `sql_text` for `conn` under `policy`,
    /// through the engine's [`GateCache`].
    fn validate_for(
        &self,
        conn: &ConnectionHandle,
        sql_text: &str,
        policy: &SqlPolicy,
    ) -> Result<ValidatedSql, ValidationError> {
        self.gate_cache.validate(
            conn.id.as_str(),
            sql_text,
            conn.dialect,
            &conn.schema(),
            policy,
        )
    }

    /// [`Engine::gate`] for SQL a person wrote (execute, re-run, feedback,
    /// training): a rejection is a security signal and goes to the audit log
    /// (its reason code and what it was for, never the SQL text).
    pub async fn gate_audited(
        &self,
        rc: &RequestContext,
        conn: &ConnectionHandle,
        sql_text: &str,
        purpose: &str,
    ) -> Result<GatedSql, ValidationError> {
        let gated = self.gate(rc, conn, sql_text);
        if let Err(e) = &gated {
            self.audit(
                rc,
                "sql.rejected",
                conn.id.as_str(),
                serde_json::json!({ "reason": e.code.as_str(), "purpose": purpose }),
            )
            .await;
        }
        gated
    }

    /// Whether stored SQL (a history record's, a feedback correction's, a
    /// training example's) may be shown to the caller: it passes the gate.
    pub fn may_see_sql(&self, rc: &RequestContext, connection: &str, sql_text: &str) -> bool {
        let Ok(conn) = self.connection_named(Some(connection)) else {
            return false;
        };
        let policy = rc.policy(&conn);
        if policy.allowed_tables.is_none() {
            return true;
        }
        self.validate_for(&conn, sql_text, &policy).is_ok()
    }

    /// Whether a history record may be shown to the caller: their own, or
    /// (with `ReadAllHistory`) another user's on a connection they reach
    /// whose SQL passes the gate under their grant. A record without SQL
    /// of a limited caller's connection stays hidden (its question may be
    /// about tables they do not see).
    pub fn may_see_query(&self, rc: &RequestContext, q: &QueryRecord) -> bool {
        if rc.user_id.is_some() && q.user_id == rc.user_id {
            return true;
        }
        let Some(caller) = &rc.caller else {
            return true;
        };
        if !caller.can(Action::ReadAllHistory) {
            return false;
        }
        match caller.reach(&q.connection) {
            Reach::Nothing => false,
            Reach::All => {
                // The connection's own allowlist still applies.
                match self.connection_named(Some(&q.connection)) {
                    Ok(conn) if conn.policy().allowed_tables.is_some() => q
                        .sql
                        .as_deref()
                        .is_some_and(|s| self.may_see_sql(rc, &q.connection, s)),
                    _ => true,
                }
            }
            Reach::Tables(_) => q
                .sql
                .as_deref()
                .is_some_and(|s| self.may_see_sql(rc, &q.connection, s)),
        }
    }

    /// Whether every table `item` is about lies inside the caller's grant:
    /// question→SQL pairs pass the gate, other items name no hidden table
    /// (see [`grant::Sight`]).
    pub fn covers_training(&self, rc: &RequestContext, item: &TrainingItem) -> bool {
        let Ok(conn) = self.connection_named(Some(&item.connection)) else {
            return false;
        };
        let policy = rc.policy(&conn);
        if let Some(sql_text) = item.sql.as_deref() {
            return self.may_see_sql(rc, &item.connection, sql_text);
        }
        let schema = conn.schema();
        grant::Sight::new(&schema, conn.dialect, &policy)
            .is_none_or(|s| s.shows(item.kind, &item.content, item.sql.as_deref()))
    }
}

/// Verdicts of the validator, kept so SQL checked again (every candidate
/// is gated, a re-run, a dashboard refreshing, the history shown to a
/// limited caller) is not parsed, checked and re-parsed each time.
///
/// Validation is a pure function of (SQL text, dialect, schema, policy);
/// an entry answers only when all four equal the request's, compared in
/// full (the hash only finds the slot). The policy carries the caller's
/// grant (the table allowlist, after narrowing) and the row cap, so a
/// caller never gets a verdict reached under another caller's grant. The
/// schema is compared by identity with the `Arc` the connection holds now:
/// a schema refresh, or a connection registered again under the same name,
/// misses. An entry keeps only a `Weak` to its schema, so a replaced schema
/// is freed at once and its allocation cannot be reused for another schema
/// while the entry still points at it.
#[derive(Default)]
pub struct GateCache {
    slots: std::sync::Mutex<HashMap<u64, GateEntry>>,
    hasher: RandomState,
    hits: AtomicU64,
}

struct GateEntry {
    connection: String,
    sql: String,
    dialect: Dialect,
    max_rows: u64,
    allowed_tables: Option<BTreeSet<String>>,
    schema: Weak<SchemaInfo>,
    verdict: Result<ValidatedSql, ValidationError>,
}

/// Entries at most (an arbitrary one makes room for a new one).
const GATE_CACHE_ENTRIES: usize = 256;
/// Longer SQL is validated every time: with the entry cap, the cache holds
/// at most about 2 MiB of SQL text and renderings.
const GATE_CACHE_MAX_SQL: usize = 4096;

impl GateCache {
    /// [`sql::validate`], answered from the cache when the same SQL was
    /// checked before on `connection` under an equal policy and the same
    /// schema.
    pub fn validate(
        &self,
        connection: &str,
        sql_text: &str,
        dialect: Dialect,
        schema: &Arc<SchemaInfo>,
        policy: &SqlPolicy,
    ) -> Result<ValidatedSql, ValidationError> {
        if sql_text.len() > GATE_CACHE_MAX_SQL {
            return sql::validate(sql_text, dialect, schema, policy);
        }
        let key = self.hasher.hash_one((
            connection,
            sql_text,
            policy.max_rows,
            &policy.allowed_tables,
        ));
        {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = slots.get(&key)
                && e.sql == sql_text
                && e.connection == connection
                && e.dialect == dialect
                && e.max_rows == policy.max_rows
                && e.allowed_tables == policy.allowed_tables
                && std::ptr::eq(e.schema.as_ptr(), Arc::as_ptr(schema))
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return e.verdict.clone();
            }
        }
        let verdict = sql::validate(sql_text, dialect, schema, policy);
        let entry = GateEntry {
            connection: connection.to_string(),
            sql: sql_text.to_string(),
            dialect,
            max_rows: policy.max_rows,
            allowed_tables: policy.allowed_tables.clone(),
            schema: Arc::downgrade(schema),
            verdict: verdict.clone(),
        };
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() >= GATE_CACHE_ENTRIES
            && !slots.contains_key(&key)
            && let Some(old) = slots.keys().next().copied()
        {
            slots.remove(&old);
        }
        slots.insert(key, entry);
        verdict
    }

    /// Verdicts answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a caller is told when the database refused a query: a fixed
/// sentence per kind of failure, without literals, values or names from
/// the database's text (which can quote data: `json_extract` errors, for
/// one, echo their argument).
pub fn public_db_error(detail: &str) -> String {
    let d = detail.to_lowercase();
    let kind = if d.contains("no such column")
        || d.contains("unknown column")
        || (d.contains("column") && d.contains("does not exist"))
    {
        "a column it names does not exist"
    } else if d.contains("syntax") {
        "it has a syntax error the database does not accept"
    } else if d.contains("division by zero") || d.contains("divide by zero") {
        "it divides by zero"
    } else if d.contains("json") {
        "a JSON function got an argument it cannot use"
    } else if d.contains("ambiguous") {
        "a column name is ambiguous"
    } else if d.contains("function") {
        "a function is used in a way the database does not support"
    } else if d.contains("type") || d.contains("cast") || d.contains("invalid input") {
        "a value has the wrong type"
    } else if d.contains("interrupt") || d.contains("cancel") {
        "it was interrupted"
    } else {
        "the database could not run it"
    };
    format!("The database rejected the query: {kind}.")
}

/// The masked full text of a database error, for the log.
pub fn log_db_error(detail: &str) {
    tracing::warn!(
        error.detail = %crate::observability::redact::mask(detail),
        "the database rejected a query"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(extra_table: Option<&str>) -> Arc<SchemaInfo> {
        use crate::domain::{ColumnInfo, TableInfo};
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
        let mut tables = vec![
            t("customers", &["id", "name"]),
            t("orders", &["id", "total"]),
        ];
        tables.extend(extra_table.map(|name| t(name, &["id"])));
        Arc::new(SchemaInfo { tables })
    }

    fn open() -> SqlPolicy {
        SqlPolicy {
            max_rows: 100,
            allowed_tables: None,
        }
    }

    #[test]
    fn a_cached_verdict_equals_a_fresh_one() {
        let cache = GateCache::default();
        let schema = shop(None);
        for sql_text in [
            "SELECT name FROM customers",
            "DELETE FROM customers",
            "SELECT nope FROM customers",
        ] {
            let fresh = sql::validate(sql_text, Dialect::Sqlite, &schema, &open());
            for _ in 0..2 {
                let got = cache.validate("shop", sql_text, Dialect::Sqlite, &schema, &open());
                assert_eq!(got, fresh, "{sql_text}");
            }
        }
        assert_eq!(cache.hits(), 3);
    }

    #[test]
    fn a_verdict_under_one_grant_is_never_given_under_another() {
        let cache = GateCache::default();
        let schema = shop(None);
        let orders_only = SqlPolicy {
            allowed_tables: Some(["orders".to_string()].into_iter().collect()),
            ..open()
        };
        let sql_text = "SELECT name FROM customers";
        let check =
            |policy: &SqlPolicy| cache.validate("shop", sql_text, Dialect::Sqlite, &schema, policy);
        assert!(check(&open()).is_ok());
        assert!(check(&orders_only).is_err());
        assert!(check(&open()).is_ok());
        assert!(check(&orders_only).is_err());
        // The row cap is part of the key too: its LIMIT is in the SQL that runs.
        let capped = SqlPolicy {
            max_rows: 5,
            ..open()
        };
        assert!(check(&capped).unwrap().sql().ends_with("LIMIT 5"));
        assert!(check(&open()).unwrap().sql().ends_with("LIMIT 100"));
    }

    #[test]
    fn a_new_schema_or_another_connection_misses() {
        let cache = GateCache::default();
        let sql_text = "SELECT id FROM invoices";
        let before = shop(None);
        let after = shop(Some("invoices"));
        let check = |conn: &str, schema: &Arc<SchemaInfo>| {
            cache.validate(conn, sql_text, Dialect::Sqlite, schema, &open())
        };
        assert!(check("shop", &before).is_err());
        // A refresh that added the table: a new `Arc`, a new verdict.
        assert!(check("shop", &after).is_ok());
        // Another connection with the old schema gets its own verdict.
        assert!(check("other", &before).is_err());
        // An equal schema in a new `Arc` (a connection registered again) misses.
        let again = Arc::new((*before).clone());
        drop(before);
        assert!(check("shop", &again).is_err());
        assert_eq!(cache.hits(), 0);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = GateCache::default();
        let schema = shop(None);
        for i in 0..GATE_CACHE_ENTRIES + 40 {
            let sql_text = format!("SELECT id + {i} FROM orders");
            assert!(
                cache
                    .validate("shop", &sql_text, Dialect::Sqlite, &schema, &open())
                    .is_ok()
            );
        }
        assert_eq!(cache.len(), GATE_CACHE_ENTRIES);
        // SQL over the size cap is checked every time and never kept.
        let long = format!(
            "SELECT id FROM orders WHERE total <> '{}'",
            "x".repeat(5000)
        );
        for _ in 0..2 {
            assert!(
                cache
                    .validate("shop", &long, Dialect::Sqlite, &schema, &open())
                    .is_ok()
            );
        }
        assert_eq!(cache.hits(), 0);
    }

    #[test]
    fn database_errors_lose_their_values() {
        let leaked = "malformed JSON path: alice@example.com,bob@example.com";
        let shown = public_db_error(leaked);
        assert!(!shown.contains("alice"), "{shown}");
        assert!(!shown.contains('@'), "{shown}");
        assert_eq!(
            public_db_error("no such column: secret_value"),
            "The database rejected the query: a column it names does not exist."
        );
        assert!(!public_db_error("near \"x'42'\": syntax error").contains("42"));
    }

    #[test]
    fn a_caller_without_a_grant_reaches_nothing() {
        let caller = Caller {
            role: Role::Viewer,
            grants: Some(vec![Grant {
                connection: "shop".into(),
                allowed_tables: Some(vec!["Orders".into()]),
            }]),
        };
        assert_eq!(caller.reach("demo"), Reach::Nothing);
        assert_eq!(
            caller.reach("shop"),
            Reach::Tables(["orders".to_string()].into_iter().collect())
        );
        let admin = Caller {
            role: Role::Admin,
            grants: None,
        };
        assert_eq!(admin.reach("anything"), Reach::All);
    }
}
