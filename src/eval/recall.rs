//! Context recall: which tables and columns the gold SQL uses, and whether
//! the retrieved context (or the prompt) shows all of them.
//!
//! Gold references are read from the gold SQL's AST and resolved against the
//! introspected schema: a qualified `T1.name` through the aliases of the
//! statement, a bare `name` to the statement's tables that have such a
//! column. Identifiers that resolve to nothing (output aliases such as
//! `ORDER BY count`) are ignored. Names are compared lower-cased.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, TableFactor, Visit, Visitor};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use crate::domain::SchemaInfo;

/// Tables and `(table, column)` pairs a query uses, lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldRefs {
    pub tables: BTreeSet<String>,
    pub columns: BTreeSet<(String, String)>,
}

#[derive(Default)]
struct Collect {
    /// (table name, alias) for every table in a FROM/JOIN.
    relations: Vec<(String, Option<String>)>,
    qualified: Vec<(String, String)>,
    bare: Vec<String>,
}

fn last_part(name: &ObjectName) -> Option<String> {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_lowercase())
}

impl Visitor for Collect {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = tf
            && let Some(t) = last_part(name)
        {
            self.relations
                .push((t, alias.as_ref().map(|a| a.name.value.to_lowercase())));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Identifier(i) => self.bare.push(i.value.to_lowercase()),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let n = parts.len();
                self.qualified.push((
                    parts[n - 2].value.to_lowercase(),
                    parts[n - 1].value.to_lowercase(),
                ));
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// The tables and columns `sql` uses, resolved against `schema`.
/// `None` when the SQL does not parse.
pub fn gold_refs(sql: &str, schema: &SchemaInfo) -> Option<GoldRefs> {
    let stmts = Parser::parse_sql(&SQLiteDialect {}, sql).ok()?;
    let mut c = Collect::default();
    let _ = stmts.visit(&mut c);
    let mut refs = GoldRefs::default();
    // Real table names (as the schema spells them, lower-cased).
    let known = |t: &str| schema.table(t).map(|ti| ti.name.to_lowercase());
    let has_col = |t: &str, col: &str| schema.table(t).is_some_and(|ti| ti.column(col).is_some());
    let mut by_alias: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (t, alias) in &c.relations {
        let Some(real) = known(t) else { continue };
        refs.tables.insert(real.clone());
        by_alias.entry(real.clone()).or_default().push(real.clone());
        if let Some(a) = alias {
            by_alias.entry(a.clone()).or_default().push(real.clone());
        }
    }
    for (q, col) in &c.qualified {
        // Spider reuses aliases (T1, T2) across subqueries: take the first
        // table behind the alias that has the column.
        if let Some(t) = by_alias
            .get(q)
            .and_then(|ts| ts.iter().find(|t| has_col(t, col)))
        {
            refs.columns.insert((t.clone(), col.clone()));
        }
    }
    for col in &c.bare {
        for t in refs.tables.clone() {
            if has_col(&t, col) {
                refs.columns.insert((t, col.clone()));
            }
        }
    }
    Some(refs)
}

/// What one DDL text shows: its table and columns, lower-cased.
pub fn ddl_refs(ddl: &str, schema: &SchemaInfo) -> Option<(String, BTreeSet<String>)> {
    // Introspected items are exactly `TableInfo::to_ddl()`.
    if let Some(t) = schema.tables.iter().find(|t| t.to_ddl() == ddl) {
        return Some((
            t.name.to_lowercase(),
            t.columns.iter().map(|c| c.name.to_lowercase()).collect(),
        ));
    }
    let stmts = Parser::parse_sql(&SQLiteDialect {}, ddl).ok()?;
    stmts.into_iter().find_map(|s| match s {
        sqlparser::ast::Statement::CreateTable(ct) => Some((
            last_part(&ct.name)?,
            ct.columns
                .iter()
                .map(|c| c.name.value.to_lowercase())
                .collect(),
        )),
        _ => None,
    })
}

/// The DDL blocks of a prompt's `<schema>` section (blank-line separated),
/// as the model reads them.
pub fn schema_blocks(user_message: &str) -> Vec<&str> {
    let Some(start) = user_message.find("<schema>\n") else {
        return Vec::new();
    };
    let body = &user_message[start + "<schema>\n".len()..];
    let body = body.find("</schema>").map_or(body, |end| &body[..end]);
    body.split("\n\n")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .collect()
}

/// Does the union of `shown` (table → columns) cover every gold reference?
pub fn covers(gold: &GoldRefs, shown: &BTreeMap<String, BTreeSet<String>>) -> bool {
    gold.tables.iter().all(|t| shown.contains_key(t))
        && gold
            .columns
            .iter()
            .all(|(t, c)| shown.get(t).is_some_and(|cols| cols.contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ColumnInfo, TableInfo};

    fn schema() -> SchemaInfo {
        let table = |name: &str, cols: &[&str]| TableInfo {
            name: name.into(),
            columns: cols
                .iter()
                .map(|c| ColumnInfo {
                    name: (*c).into(),
                    data_type: "TEXT".into(),
                    nullable: true,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        SchemaInfo {
            tables: vec![
                table("singer", &["Singer_ID", "Name", "Age"]),
                table("concert", &["concert_ID", "Year"]),
                table("singer_in_concert", &["concert_ID", "Singer_ID"]),
            ],
        }
    }

    #[test]
    fn aliases_and_bare_columns_resolve_to_tables() {
        let r = gold_refs(
            "SELECT T2.name, count(*) AS cnt FROM singer_in_concert AS T1 JOIN singer AS T2 \
             ON T1.singer_id = T2.singer_id WHERE age > 30 GROUP BY T2.name ORDER BY cnt",
            &schema(),
        )
        .unwrap();
        assert_eq!(
            r.tables,
            BTreeSet::from(["singer".to_string(), "singer_in_concert".to_string()])
        );
        assert!(r.columns.contains(&("singer".into(), "name".into())));
        assert!(r.columns.contains(&("singer".into(), "age".into())));
        assert!(
            r.columns
                .contains(&("singer_in_concert".into(), "singer_id".into()))
        );
        assert!(!r.columns.iter().any(|(_, c)| c == "cnt"));
    }

    #[test]
    fn ddl_items_cover_their_table_and_columns() {
        let s = schema();
        let ddl = s.tables[0].to_ddl();
        let (t, cols) = ddl_refs(&ddl, &s).unwrap();
        assert_eq!(t, "singer");
        assert!(cols.contains("age"));
        let (t, cols) = ddl_refs("CREATE TABLE x (a INT, B TEXT);", &s).unwrap();
        assert_eq!((t.as_str(), cols.len()), ("x", 2));
        let gold = gold_refs("SELECT name FROM singer", &s).unwrap();
        let shown = BTreeMap::from([("singer".to_string(), cols_of(&s, 0))]);
        assert!(covers(&gold, &shown));
        assert!(!covers(&gold, &BTreeMap::new()));
    }

    #[test]
    fn the_prompt_shows_what_its_schema_section_holds() {
        use crate::engine::llm::{GenerationRequest, RetrievedContext};
        // A wide `singer` table that cannot be shown whole in the budget.
        let mut s = schema();
        s.tables[0].primary_key = vec!["Singer_ID".into()];
        s.tables[0].columns.extend((0..200).map(|i| ColumnInfo {
            name: format!("extra_{i}"),
            data_type: "TEXT".into(),
            nullable: true,
            ..Default::default()
        }));
        let req = GenerationRequest {
            question: "What is the age of each singer?".into(),
            dialect: crate::domain::Dialect::Sqlite,
            schema: std::sync::Arc::new(s.clone()),
            context: RetrievedContext::default(),
            previous_attempts: vec![],
            correlation_id: None,
            token_budget: 600,
        };
        let prompt = crate::engine::prompt::build_prompt(&req);
        let mut shown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for block in schema_blocks(&prompt.user) {
            let (t, cols) = ddl_refs(block, &s).expect(block);
            shown.entry(t).or_default().extend(cols);
        }
        let singer = &shown["singer"];
        assert!(
            singer.contains("age") && singer.contains("singer_id"),
            "{shown:?}"
        );
        assert!(
            !singer.contains("extra_1"),
            "trimmed columns are not counted"
        );
        let gold = gold_refs("SELECT age FROM singer", &s).unwrap();
        assert!(covers(&gold, &shown));
        let gold = gold_refs("SELECT extra_7 FROM singer", &s).unwrap();
        assert!(!covers(&gold, &shown));
        assert!(schema_blocks("no schema here").is_empty());
    }

    fn cols_of(s: &SchemaInfo, i: usize) -> BTreeSet<String> {
        s.tables[i]
            .columns
            .iter()
            .map(|c| c.name.to_lowercase())
            .collect()
    }
}
