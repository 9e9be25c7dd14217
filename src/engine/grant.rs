//! What a caller limited to some tables of a connection (their grant's
//! allowlist, narrowed further by the connection's own) may see of it on
//! the way to a prompt: the schema narrowed to those tables
//! ([`crate::connectors::ConnectionHandle::schema_for`]) and retrieved
//! context that names no other table of the schema.
//!
//! The validator already refuses SQL over other tables; this keeps their
//! names, columns and stored values out of the prompt (a remote model's
//! input) and out of the answer's sources, so a limited user cannot learn
//! them by asking.
//!
//! The rules, per kind of retrieved item:
//! - **DDL** of an introspected table: kept only for an allowed table, and
//!   re-rendered from the narrowed schema (foreign keys to other tables go).
//!   Other DDL (added as training): kept only if every table it creates is
//!   allowed and it names no other schema table.
//! - **Documentation**: kept only if it names no other schema table.
//! - **Question→SQL examples**: kept only if the SQL passes the validator
//!   under the caller's policy.
//! - **Value hints**: only for allowed tables.
//!
//! "Names" means the table name appears as a whole identifier (or quoted),
//! case-insensitively; an item that merely uses the same English word is
//! dropped too, which costs some context but never leaks.

use std::collections::BTreeSet;

use crate::domain::Dialect;
use crate::domain::TrainingKind;
use crate::domain::{SchemaInfo, TableInfo};
use crate::engine::llm::{ContextItem, RetrievedContext};
use crate::sql::{self, SqlPolicy};

/// What one caller may see of a connection: its full schema, the caller's
/// policy (with the allowlist), and the schema tables outside it.
pub struct Sight<'a> {
    full: &'a SchemaInfo,
    dialect: Dialect,
    policy: &'a SqlPolicy,
    allowed: &'a BTreeSet<String>,
    hidden: Vec<String>,
}

impl<'a> Sight<'a> {
    /// `None` when the policy has no allowlist: the caller sees everything.
    pub fn new(full: &'a SchemaInfo, dialect: Dialect, policy: &'a SqlPolicy) -> Option<Self> {
        let allowed = policy.allowed_tables.as_ref()?;
        let hidden = full
            .tables
            .iter()
            .map(|t| t.name.to_lowercase())
            .filter(|t| !allowed.contains(t))
            .collect();
        Some(Self {
            full,
            dialect,
            policy,
            allowed,
            hidden,
        })
    }

    /// Whether a training item of `kind` (its content, and SQL for
    /// question→SQL pairs) is about the caller's tables only.
    pub fn shows(&self, kind: TrainingKind, content: &str, sql: Option<&str>) -> bool {
        match kind {
            TrainingKind::Ddl => {
                let text = content.trim();
                match introspected(self.full, text) {
                    Some(t) => self.allowed.contains(&t.name.to_lowercase()),
                    None => {
                        created_names(text).iter().all(|n| self.allowed.contains(n))
                            && !names_any(text, &self.hidden)
                    }
                }
            }
            TrainingKind::Documentation => !names_any(content, &self.hidden),
            TrainingKind::QuestionSql => {
                sql.is_some_and(|s| sql::validate(s, self.dialect, self.full, self.policy).is_ok())
            }
        }
    }
}

/// Drop from `ctx` what the caller may not see (see the module docs).
/// `full` is the connection's schema, `narrowed` the caller's view of it,
/// `policy` the caller's validator policy (with its allowlist).
pub fn narrow_context(
    ctx: &mut RetrievedContext,
    full: &SchemaInfo,
    narrowed: &SchemaInfo,
    dialect: Dialect,
    policy: &SqlPolicy,
) {
    let Some(sight) = Sight::new(full, dialect, policy) else {
        return;
    };
    let shown = |i: &ContextItem| sight.shows(i.kind, &i.content, i.sql.as_deref());
    ctx.ddl.retain(shown);
    // Introspected DDL is shown as the caller's view of the table: without
    // keys to tables they do not see.
    for item in &mut ctx.ddl {
        if let Some(t) = introspected(full, item.content.trim())
            && let Some(mine) = narrowed.table(&t.name)
        {
            item.content = mine.to_ddl();
        }
    }
    ctx.documentation.retain(shown);
    ctx.examples.retain(shown);
    ctx.values
        .retain(|h| sight.allowed.contains(&h.table.to_lowercase()));
}

/// Introspected DDL `text` as a caller under `policy` may see it: re-rendered
/// from the narrowed schema, so foreign keys to tables outside the grant are
/// gone. `None`: not introspected DDL, or the caller has no allowlist.
pub fn caller_ddl(full: &SchemaInfo, policy: &SqlPolicy, text: &str) -> Option<String> {
    let allowed = policy.allowed_tables.as_ref()?;
    let table = introspected(full, text.trim())?;
    full.narrowed_to(allowed)
        .table(&table.name)
        .map(TableInfo::to_ddl)
}

/// The table whose introspected DDL `text` is (looked up by the name it
/// creates, so a request renders one table's DDL, not the whole schema's).
fn introspected<'s>(full: &'s SchemaInfo, text: &str) -> Option<&'s TableInfo> {
    let name = created_names(text).into_iter().next()?;
    full.table(&name).filter(|t| t.to_ddl() == text)
}

/// Lower-case identifiers of `text`: runs of letters, digits and `_`, and
/// the insides of `"…"`, `` `…` `` and `[…]` quotes.
fn identifiers(text: &str) -> BTreeSet<String> {
    let lower = text.to_lowercase();
    let mut out: BTreeSet<String> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    for (open, close) in [('"', '"'), ('`', '`'), ('[', ']')] {
        let mut rest = lower.as_str();
        while let Some(start) = rest.find(open) {
            let after = &rest[start + open.len_utf8()..];
            let Some(end) = after.find(close) else {
                break;
            };
            out.insert(after[..end].to_string());
            rest = &after[end + close.len_utf8()..];
        }
    }
    out
}

/// Whether `text` names any of `tables` (lower-case).
fn names_any(text: &str, tables: &[String]) -> bool {
    if tables.is_empty() {
        return false;
    }
    let ids = identifiers(text);
    tables.iter().any(|t| ids.contains(t))
}

/// Lower-case names after `CREATE [OR REPLACE] [TEMP…] TABLE|VIEW [IF NOT
/// EXISTS]` in `text`, unquoted; a schema-qualified name gives its last part.
fn created_names(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if *w != "create" {
            continue;
        }
        let mut j = i + 1;
        while let Some(&w) = words.get(j) {
            match w {
                "or" | "replace" | "temp" | "temporary" | "materialized" | "unlogged" => j += 1,
                _ => break,
            }
        }
        if !matches!(words.get(j), Some(&"table" | &"view")) {
            continue;
        }
        j += 1;
        if words.get(j..j + 3) == Some(&["if", "not", "exists"][..]) {
            j += 3;
        }
        let Some(raw) = words.get(j) else {
            continue;
        };
        // Up to the column list, then the last dotted part, unquoted.
        let name = raw.split('(').next().unwrap_or_default();
        let last = name.rsplit('.').next().unwrap_or_default();
        let bare = last.trim_matches(|c| matches!(c, '"' | '`' | '[' | ']'));
        if !bare.is_empty() {
            out.push(bare.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ColumnInfo, ForeignKey, TableInfo};
    use crate::engine::llm::ValueHint;

    fn table(name: &str, cols: &[&str], fks: &[(&str, &str)]) -> TableInfo {
        TableInfo {
            name: name.into(),
            columns: cols
                .iter()
                .map(|c| ColumnInfo {
                    name: (*c).into(),
                    data_type: "INTEGER".into(),
                    nullable: true,
                    ..Default::default()
                })
                .collect(),
            foreign_keys: fks
                .iter()
                .map(|(col, to)| ForeignKey {
                    columns: vec![(*col).into()],
                    ref_table: (*to).into(),
                    ref_columns: vec!["id".into()],
                })
                .collect(),
            ..Default::default()
        }
    }

    fn schema() -> SchemaInfo {
        SchemaInfo {
            tables: vec![
                table("customers", &["id", "country"], &[]),
                table(
                    "orders",
                    &["id", "customer_id", "salary_id"],
                    &[("customer_id", "customers"), ("salary_id", "salaries")],
                ),
                table("salaries", &["id", "amount"], &[]),
            ],
        }
    }

    fn item(kind: TrainingKind, content: &str, sql: Option<&str>) -> ContextItem {
        ContextItem {
            id: content.chars().take(12).collect(),
            kind,
            score: 1.0,
            content: content.into(),
            sql: sql.map(str::to_string),
        }
    }

    fn allowed(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_narrowed_schema_keeps_allowed_tables_and_their_inner_keys() {
        let s = schema().narrowed_to(&allowed(&["customers", "orders"]));
        let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["customers", "orders"]);
        let orders = s.table("orders").unwrap();
        assert_eq!(orders.foreign_keys.len(), 1);
        assert_eq!(orders.foreign_keys[0].ref_table, "customers");
        assert!(!orders.to_ddl().contains("salaries"), "{}", orders.to_ddl());
        // The columns stay: only the key to the hidden table goes.
        assert!(orders.column("salary_id").is_some());
    }

    #[test]
    fn context_naming_other_tables_is_dropped() {
        let full = schema();
        let mine = allowed(&["customers", "orders"]);
        let narrowed = full.narrowed_to(&mine);
        let policy = SqlPolicy {
            max_rows: 100,
            allowed_tables: Some(mine),
        };
        let mut ctx = RetrievedContext {
            ddl: vec![
                item(TrainingKind::Ddl, &full.tables[2].to_ddl(), None),
                item(TrainingKind::Ddl, &full.tables[1].to_ddl(), None),
                item(
                    TrainingKind::Ddl,
                    "CREATE TABLE IF NOT EXISTS \"Salaries\" (x int);",
                    None,
                ),
                item(
                    TrainingKind::Ddl,
                    "create view big_orders as select * from orders;",
                    None,
                ),
                item(
                    TrainingKind::Ddl,
                    "CREATE TABLE customers_archive (id int);",
                    None,
                ),
                item(
                    TrainingKind::Ddl,
                    "CREATE VIEW v AS SELECT * FROM `salaries`;",
                    None,
                ),
            ],
            documentation: vec![
                item(
                    TrainingKind::Documentation,
                    "Pay lives in [salaries].",
                    None,
                ),
                item(
                    TrainingKind::Documentation,
                    "Revenue is the sum of orders.",
                    None,
                ),
            ],
            examples: vec![
                item(
                    TrainingKind::QuestionSql,
                    "total pay",
                    Some("SELECT SUM(amount) FROM salaries"),
                ),
                item(
                    TrainingKind::QuestionSql,
                    "orders per country",
                    Some(
                        "SELECT c.country, COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY 1",
                    ),
                ),
                item(TrainingKind::QuestionSql, "no sql", None),
            ],
            values: vec![
                ValueHint {
                    table: "Salaries".into(),
                    column: "amount".into(),
                    matched: vec![],
                    samples: vec!["1".into()],
                },
                ValueHint {
                    table: "customers".into(),
                    column: "country".into(),
                    matched: vec!["France".into()],
                    samples: vec![],
                },
            ],
        };
        narrow_context(&mut ctx, &full, &narrowed, Dialect::Sqlite, &policy);

        let ddl: Vec<&str> = ctx.ddl.iter().map(|i| i.content.as_str()).collect();
        assert_eq!(ddl.len(), 1, "{ddl:?}");
        assert_eq!(ddl[0], narrowed.table("orders").unwrap().to_ddl());
        let docs: Vec<&str> = ctx
            .documentation
            .iter()
            .map(|i| i.content.as_str())
            .collect();
        assert_eq!(docs, ["Revenue is the sum of orders."]);
        let examples: Vec<&str> = ctx.examples.iter().map(|i| i.content.as_str()).collect();
        assert_eq!(examples, ["orders per country"]);
        assert_eq!(ctx.values.len(), 1);
        assert_eq!(ctx.values[0].table, "customers");
    }

    #[test]
    fn without_an_allowlist_nothing_changes() {
        let full = schema();
        let mut ctx = RetrievedContext {
            ddl: vec![item(TrainingKind::Ddl, &full.tables[2].to_ddl(), None)],
            ..Default::default()
        };
        narrow_context(
            &mut ctx,
            &full,
            &full,
            Dialect::Sqlite,
            &SqlPolicy::default(),
        );
        assert_eq!(ctx.ddl.len(), 1);
    }

    #[test]
    fn created_names_are_read_past_modifiers_and_quotes() {
        assert_eq!(
            created_names(
                "CREATE OR REPLACE TEMP VIEW main.\"Big\" AS SELECT 1; create table t(x int)"
            ),
            ["big", "t"]
        );
        assert!(created_names("-- just a comment").is_empty());
    }
}
