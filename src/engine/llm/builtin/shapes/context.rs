//! The reading context ([`Ctx`]) with its word and schema helpers, and
//! dialect-aware quoting of identifiers, strings and numbers.

use crate::domain::Dialect;
use crate::domain::SchemaInfo;
use crate::text::Token;

use super::linking::{Mention, holds_numbers, is_date, is_numeric};

/// The question being read: the schema, the dialect to write, the tokens
/// and their linked mentions. Every room reads it; none changes it.
pub(super) struct Ctx<'a> {
    pub(super) schema: &'a SchemaInfo,
    pub(super) dialect: Dialect,
    pub(super) tokens: &'a [Token],
    pub(super) mentions: &'a [Mention],
}

impl Ctx<'_> {
    pub(super) fn word(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| t.lower.as_str())
    }
    pub(super) fn has(&self, w: &str) -> bool {
        self.tokens.iter().any(|t| !t.quoted && t.lower == w)
    }
    pub(super) fn has_seq(&self, a: &str, b: &str) -> bool {
        (0..self.tokens.len().saturating_sub(1)).any(|i| self.word(i) == a && self.word(i + 1) == b)
    }
    pub(super) fn ident(&self, name: &str) -> String {
        quote_ident(self.dialect, name)
    }
    pub(super) fn tname(&self, t: usize) -> String {
        self.ident(&self.schema.tables[t].name)
    }
    pub(super) fn col(&self, q: bool, t: usize, c: usize) -> String {
        let c = self.ident(&self.schema.tables[t].columns[c].name);
        if q {
            format!("{}.{c}", self.tname(t))
        } else {
            c
        }
    }
    /// A column as a number: text that holds numbers is cast, so "10"
    /// sorts and compares after "9".
    pub(super) fn num_col(&self, q: bool, t: usize, c: usize) -> String {
        let e = self.col(q, t, c);
        if !holds_numbers(&self.schema.tables[t].columns[c]) {
            return e;
        }
        match self.dialect {
            Dialect::Postgres => format!("CAST({e} AS DOUBLE PRECISION)"),
            Dialect::Mysql => format!("({e} + 0)"),
            Dialect::Sqlite => format!("CAST({e} AS REAL)"),
        }
    }
    pub(super) fn pk(&self, t: usize) -> Option<usize> {
        let table = &self.schema.tables[t];
        let name = table.primary_key.first()?;
        table.columns.iter().position(|c| &c.name == name)
    }
    pub(super) fn table_names(&self) -> String {
        self.schema
            .tables
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
    /// Columns that name a row: `name`, else `*name` columns, else `title`, else the first text column.
    pub(super) fn labels(&self, t: usize) -> Vec<usize> {
        let cols = &self.schema.tables[t].columns;
        let find = |f: &dyn Fn(&str) -> bool| -> Vec<usize> {
            cols.iter()
                .enumerate()
                .filter(|(_, c)| f(&c.name.to_ascii_lowercase()))
                .map(|(i, _)| i)
                .collect()
        };
        for v in [
            find(&|n| n == "name"),
            find(&|n| n.ends_with("name")),
            find(&|n| n == "title"),
        ] {
            if !v.is_empty() {
                return v;
            }
        }
        let text = cols
            .iter()
            .position(|c| !is_numeric(c) && !is_date(c) && !c.name.eq_ignore_ascii_case("id"));
        text.or_else(|| self.pk(t)).into_iter().collect()
    }
}

/// Dialect-aware identifier quoting: plain lower-case names stay bare.
pub fn quote_ident(dialect: Dialect, name: &str) -> String {
    const RESERVED: &[&str] = &[
        "order", "group", "user", "select", "from", "where", "table", "by", "limit", "key", "desc",
        "asc", "index", "values", "check", "default", "column", "to", "in", "is", "as", "on",
    ];
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else if dialect == Dialect::Mysql {
        format!("`{}`", name.replace('`', "``"))
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal with quotes doubled (and backslashes for MySQL).
pub fn quote_str(dialect: Dialect, s: &str) -> String {
    let mut v = s.replace('\'', "''");
    if dialect == Dialect::Mysql {
        v = v.replace('\\', "\\\\");
    }
    format!("'{v}'")
}

/// A number as SQL: integers without a fraction.
pub(super) fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
