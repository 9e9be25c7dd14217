//! Target database settings: `[connections.NAME]` tables in `insight.toml`.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::Dialect;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    pub dialect: Dialect,
    /// SQLite file path.
    pub path: Option<PathBuf>,
    /// DSN, e.g. `sqlite:///abs/path.db`; for PostgreSQL/MySQL it holds
    /// credentials, so it is a secret and redacted in `Debug`.
    pub url: Option<SecretString>,
    #[serde(default)]
    pub description: Option<String>,
    /// Per-connection row cap (at most the global `query.max_rows`).
    #[serde(default)]
    pub max_rows: Option<u64>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// When set, queries may read only these tables.
    #[serde(default)]
    pub allowed_tables: Option<Vec<String>>,
    /// Connections kept open to a PostgreSQL/MySQL target.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Overrides `llm.allow_values_in_prompt` for this connection (e.g.
    /// `false` for a database whose values must never leave the network).
    #[serde(default)]
    pub allow_values_in_prompt: Option<bool>,
    /// Budgets of this connection, replacing `[budgets.defaults]` field by field.
    #[serde(default)]
    pub budgets: crate::domain::budget::BudgetOverride,
}

fn default_pool_size() -> u32 {
    5
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("dialect", &self.dialect)
            .field("path", &self.path)
            .field(
                "url",
                &self.url.as_ref().map(|u| redact_dsn(u.expose_secret())),
            )
            .field("description", &self.description)
            .field("max_rows", &self.max_rows)
            .field("timeout_secs", &self.timeout_secs)
            .field("allowed_tables", &self.allowed_tables)
            .field("pool_size", &self.pool_size)
            .field("allow_values_in_prompt", &self.allow_values_in_prompt)
            .field("budgets", &self.budgets)
            .finish()
    }
}

/// Where a connection's data lives, resolved from `path`/`url`.
#[derive(Clone)]
pub enum ConnectionTarget {
    SqliteFile(PathBuf),
    Url(SecretString),
}

impl ConnectionConfig {
    pub fn target(&self) -> Result<ConnectionTarget, String> {
        match (self.dialect, &self.path, &self.url) {
            (_, Some(_), Some(_)) => Err("set either `path` or `url`, not both".into()),
            (Dialect::Sqlite, Some(p), None) => Ok(ConnectionTarget::SqliteFile(p.clone())),
            (Dialect::Sqlite, None, Some(u)) => {
                let u = u.expose_secret();
                let p = u
                    .strip_prefix("sqlite://")
                    .or_else(|| u.strip_prefix("sqlite:"))
                    .ok_or("a SQLite url starts with sqlite://")?;
                let p = p.split('?').next().unwrap_or(p);
                Ok(ConnectionTarget::SqliteFile(PathBuf::from(p)))
            }
            (Dialect::Sqlite, None, None) => Err("a SQLite connection needs `path`".into()),
            (_, Some(_), None) => Err(format!(
                "a {} connection needs `url`, not `path`",
                self.dialect
            )),
            (_, None, Some(u)) => Ok(ConnectionTarget::Url(u.clone())),
            (_, None, None) => Err(format!("a {} connection needs `url`", self.dialect)),
        }
    }
}

/// Replace the password of a DSN (`scheme://user:pass@host/…`) with `***`.
pub fn redact_dsn(dsn: &str) -> String {
    let Some(scheme_end) = dsn.find("://") else {
        return dsn.to_string();
    };
    let rest = &dsn[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!(
                "{}://{masked}@{}{}",
                &dsn[..scheme_end],
                &authority[at + 1..],
                &rest[authority_end..]
            )
        }
        None => dsn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_passwords_are_redacted() {
        assert_eq!(
            redact_dsn("postgres://app:s3cr%40t@db:5432/sales?sslmode=require"),
            "postgres://app:***@db:5432/sales?sslmode=require"
        );
        assert_eq!(
            redact_dsn("mysql://root@localhost/test"),
            "mysql://root@localhost/test"
        );
        assert_eq!(redact_dsn("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = ConnectionConfig {
            dialect: Dialect::Postgres,
            path: None,
            url: Some(SecretString::from("postgres://u:hunter2@h/db")),
            description: None,
            max_rows: None,
            timeout_secs: None,
            allowed_tables: None,
            pool_size: 5,
            allow_values_in_prompt: None,
            budgets: Default::default(),
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
