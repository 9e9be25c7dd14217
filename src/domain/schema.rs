//! The schema model produced by introspection, and its rendering as DDL text
//! (the `ddl` training items) for retrieval and prompts.

use std::collections::BTreeSet;

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SchemaInfo {
    pub tables: Vec<TableInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableInfo {
    pub name: String,
    /// `true` for views: queryable, but have no keys.
    pub is_view: bool,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
    pub row_count: Option<u64>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    /// Declared type as the database spells it (`INTEGER`, `varchar(40)`…).
    pub data_type: String,
    pub nullable: bool,
    pub comment: Option<String>,
    /// Distinct values of a low-cardinality text column (at most a few dozen),
    /// used for value linking; empty for other columns.
    pub sample_values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
}

impl SchemaInfo {
    /// Case-insensitive table lookup (SQL identifiers usually are).
    pub fn table(&self, name: &str) -> Option<&TableInfo> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    pub fn has_table(&self, name: &str) -> bool {
        self.table(name).is_some()
    }

    /// Only the tables whose lower-case names are in `allowed`, without the
    /// foreign keys that point at a table left out: what a caller limited to
    /// those tables may see of the schema.
    pub fn narrowed_to(&self, allowed: &BTreeSet<String>) -> SchemaInfo {
        let keep = |name: &str| allowed.contains(&name.to_lowercase());
        let tables = self
            .tables
            .iter()
            .filter(|t| keep(&t.name))
            .map(|t| TableInfo {
                foreign_keys: t
                    .foreign_keys
                    .iter()
                    .filter(|fk| keep(&fk.ref_table))
                    .cloned()
                    .collect(),
                ..t.clone()
            })
            .collect();
        SchemaInfo { tables }
    }

    /// One `CREATE TABLE` statement per table, in schema order.
    pub fn ddl_statements(&self) -> Vec<(String, String)> {
        self.tables
            .iter()
            .map(|t| (t.name.clone(), t.to_ddl()))
            .collect()
    }
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Render as `CREATE TABLE` text with keys and comments, the form LLMs know best.
    pub fn to_ddl(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.comment {
            out.push_str(&format!("-- {c}\n"));
        }
        let kw = if self.is_view { "VIEW" } else { "TABLE" };
        out.push_str(&format!("CREATE {kw} {} (\n", quote_ident(&self.name)));
        let mut lines: Vec<String> = Vec::new();
        for col in &self.columns {
            let mut line = format!("  {} {}", quote_ident(&col.name), col.data_type);
            if !col.nullable {
                line.push_str(" NOT NULL");
            }
            if let Some(c) = &col.comment {
                line.push_str(&format!(" -- {c}"));
            }
            lines.push(line);
        }
        if !self.primary_key.is_empty() {
            lines.push(format!(
                "  PRIMARY KEY ({})",
                self.primary_key
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for fk in &self.foreign_keys {
            lines.push(format!(
                "  FOREIGN KEY ({}) REFERENCES {}({})",
                fk.columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                quote_ident(&fk.ref_table),
                fk.ref_columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // Comments after a column would swallow the separating comma, so put
        // commas before the comment.
        let n = lines.len();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 < n { "," } else { "" };
            match line.find(" -- ") {
                Some(pos) => {
                    out.push_str(&line[..pos]);
                    out.push_str(sep);
                    out.push_str(&line[pos..]);
                }
                None => {
                    out.push_str(line);
                    out.push_str(sep);
                }
            }
            out.push('\n');
        }
        out.push_str(");");
        out
    }
}

/// Quote an identifier only when it needs it, so DDL stays readable.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_renders_keys_and_comments() {
        let t = TableInfo {
            name: "orders".into(),
            columns: vec![
                ColumnInfo {
                    name: "id".into(),
                    data_type: "INTEGER".into(),
                    nullable: false,
                    ..Default::default()
                },
                ColumnInfo {
                    name: "customer id".into(),
                    data_type: "INTEGER".into(),
                    nullable: true,
                    comment: Some("buyer".into()),
                    ..Default::default()
                },
            ],
            primary_key: vec!["id".into()],
            foreign_keys: vec![ForeignKey {
                columns: vec!["customer id".into()],
                ref_table: "customers".into(),
                ref_columns: vec!["id".into()],
            }],
            ..Default::default()
        };
        let ddl = t.to_ddl();
        assert_eq!(
            ddl,
            "CREATE TABLE orders (\n  id INTEGER NOT NULL,\n  \"customer id\" INTEGER, -- buyer\n  PRIMARY KEY (id),\n  FOREIGN KEY (\"customer id\") REFERENCES customers(id)\n);"
        );
    }
}
