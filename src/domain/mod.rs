//! Domain vocabulary shared by every layer: identifiers, dialects, training kinds,
//! questions, roles and the schema model ([`SchemaInfo`]) that introspection
//! fills. Types here are parsed once at the edge ("parse, don't validate") so
//! the rest of the code can trust them. This module depends on nothing else in
//! the crate and must never import axum, sqlx or an HTTP client.

pub mod budget;
pub mod cron;
pub mod role;
pub mod schema;

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod trust;
pub use role::Role;
pub use schema::{ColumnInfo, ForeignKey, SchemaInfo, TableInfo};
pub use trust::{Assumption, Confidence, Trust};

/// SQL dialect of a target database. Decides the parser dialect, the list of
/// forbidden functions and the prompt's dialect notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// Human name used in prompts ("SQLite", "PostgreSQL", "MySQL").
    pub fn display_name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
            Dialect::Mysql => "MySQL",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a domain value was refused while parsing it from input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DomainError {
    pub field: &'static str,
    pub message: String,
}

impl DomainError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Name of a configured target database: 1–64 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 64 {
            return Err(DomainError::new(
                "connection",
                "a connection name has 1 to 64 characters",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(DomainError::new(
                "connection",
                "a connection name may contain only letters, digits, '_' and '-'",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ConnectionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ConnectionId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A natural-language question: trimmed, non-empty, at most 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Question(String);

impl Question {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let q = raw.trim();
        if q.is_empty() {
            return Err(DomainError::new("question", "the question is empty"));
        }
        if q.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::new(
                "question",
                format!("the question is longer than {} characters", Self::MAX_CHARS),
            ));
        }
        if q.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(DomainError::new(
                "question",
                "the question contains control characters",
            ));
        }
        Ok(Self(q.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Question {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Question::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The three kinds of training item retrieval works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrainingKind {
    /// `CREATE TABLE …` text, generated by introspection or given by a user.
    Ddl,
    /// Free text about the data: business terms, caveats, definitions.
    Documentation,
    /// A question with the SQL that answers it.
    QuestionSql,
}

impl TrainingKind {
    pub const ALL: [TrainingKind; 3] = [
        TrainingKind::Ddl,
        TrainingKind::Documentation,
        TrainingKind::QuestionSql,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrainingKind::Ddl => "ddl",
            TrainingKind::Documentation => "documentation",
            TrainingKind::QuestionSql => "question_sql",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ddl" => Some(Self::Ddl),
            "documentation" => Some(Self::Documentation),
            "question_sql" => Some(Self::QuestionSql),
            _ => None,
        }
    }
}

impl fmt::Display for TrainingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_checked() {
        assert!(ConnectionId::parse("demo").is_ok());
        assert!(ConnectionId::parse("sales-eu_2").is_ok());
        assert!(ConnectionId::parse("").is_err());
        assert!(ConnectionId::parse("a b").is_err());
        assert!(ConnectionId::parse("../etc").is_err());
        assert!(ConnectionId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn questions_are_trimmed_and_bounded() {
        assert_eq!(Question::parse("  hi ").unwrap().as_str(), "hi");
        assert!(Question::parse("   ").is_err());
        assert!(Question::parse(&"a".repeat(2001)).is_err());
        assert!(Question::parse("a\u{0}b").is_err());
    }
}
