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

use std::collections::BTreeSet;
use std::sync::Arc;

use tracing::instrument;

use super::pipeline::{Engine, RequestContext};
use crate::auth::roles::Action;
use crate::connectors::ConnectionHandle;
use crate::domain::Role;
use crate::domain::SchemaInfo;
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
        let result = sql::validate(sql_text, conn.dialect, &conn.schema(), &policy);
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
        sql::validate(sql_text, conn.dialect, &conn.schema(), &policy).is_ok()
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
