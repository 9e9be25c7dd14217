//! Loading a Spider-format dataset: `dev.json` (questions with gold SQL, in
//! the official gold order), optionally a `dev_gold.sql`-style gold file that
//! overrides the SQL, and `database/<db>/<db>.sqlite` files.
//!
//! Owns nothing but parsing and selection; it never opens a database.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// One benchmark question, with its position in the official gold order.
#[derive(Debug, Clone)]
pub struct Example {
    /// 0-based index in `dev.json` (the official gold order).
    pub index: usize,
    pub db_id: String,
    pub question: String,
    pub gold_sql: String,
}

#[derive(Deserialize)]
struct RawExample {
    db_id: String,
    question: String,
    query: String,
}

/// A loaded dataset: every example, and where the database files live.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub root: PathBuf,
    pub examples: Vec<Example>,
}

impl Dataset {
    /// Read `<root>/dev.json`; with `gold`, take the SQL from that file
    /// (`SQL<TAB>db_id` per line, either one line per example or one per
    /// example whose database file exists, e.g. `dev_gold_19db.sql`).
    pub fn load(root: &Path, gold: Option<&Path>) -> anyhow::Result<Self> {
        let dev = root.join("dev.json");
        let text = std::fs::read_to_string(&dev).with_context(|| {
            format!("reading {} (is --dataset a Spider folder?)", dev.display())
        })?;
        let raw: Vec<RawExample> =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", dev.display()))?;
        let mut ds = Dataset {
            root: root.to_path_buf(),
            examples: raw
                .into_iter()
                .enumerate()
                .map(|(index, r)| Example {
                    index,
                    db_id: r.db_id,
                    question: r.question.trim().to_string(),
                    gold_sql: r.query.trim().to_string(),
                })
                .collect(),
        };
        if let Some(gold) = gold {
            ds.apply_gold_file(gold)?;
        }
        Ok(ds)
    }

    fn apply_gold_file(&mut self, gold: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(gold)
            .with_context(|| format!("reading the gold file {}", gold.display()))?;
        let lines: Vec<(String, String)> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.rsplit_once('\t') {
                Some((sql, db)) => Ok((sql.trim().to_string(), db.trim().to_string())),
                None => anyhow::bail!("{}: a line without `SQL<TAB>db_id`: {l}", gold.display()),
            })
            .collect::<anyhow::Result<_>>()?;
        // One line per example, or one per example whose database exists.
        let targets: Vec<usize> = if lines.len() == self.examples.len() {
            (0..self.examples.len()).collect()
        } else {
            (0..self.examples.len())
                .filter(|&i| self.db_path(&self.examples[i].db_id).exists())
                .collect()
        };
        anyhow::ensure!(
            targets.len() == lines.len(),
            "{} has {} lines; dev.json has {} questions ({} with a database file)",
            gold.display(),
            lines.len(),
            self.examples.len(),
            targets.len()
        );
        for (i, (sql, db)) in targets.into_iter().zip(lines) {
            let ex = &mut self.examples[i];
            anyhow::ensure!(
                ex.db_id == db,
                "{}: line for question {} names database `{db}`, dev.json says `{}`",
                gold.display(),
                i + 1,
                ex.db_id
            );
            ex.gold_sql = sql;
        }
        Ok(())
    }

    /// `database/<db>/<db>.sqlite`.
    pub fn db_path(&self, db_id: &str) -> PathBuf {
        self.root
            .join("database")
            .join(db_id)
            .join(format!("{db_id}.sqlite"))
    }

    /// The examples to evaluate, in gold order: restricted to `dbs` (when not
    /// empty), without those whose database file is missing, then the first
    /// first `per_db` of each database, then the first `limit`. Returns them
    /// with the number skipped for a missing file.
    pub fn select(
        &self,
        dbs: &[String],
        per_db: Option<usize>,
        limit: Option<usize>,
    ) -> (Vec<Example>, usize) {
        let mut taken: std::collections::BTreeMap<&str, usize> = Default::default();
        let wanted: BTreeSet<&str> = dbs.iter().map(String::as_str).collect();
        let mut missing = 0;
        let mut out = Vec::new();
        for ex in &self.examples {
            if !wanted.is_empty() && !wanted.contains(ex.db_id.as_str()) {
                continue;
            }
            if !self.db_path(&ex.db_id).exists() {
                missing += 1;
                continue;
            }
            let n = taken.entry(ex.db_id.as_str()).or_default();
            if per_db.is_some_and(|max| *n >= max) {
                continue;
            }
            *n += 1;
            out.push(ex.clone());
        }
        if let Some(n) = limit {
            out.truncate(n);
        }
        (out, missing)
    }

    /// Every example of `db_id` (the leave-one-out training pool).
    pub fn of_db<'a>(&'a self, db_id: &'a str) -> impl Iterator<Item = &'a Example> + 'a {
        self.examples.iter().filter(move |e| e.db_id == db_id)
    }
}

/// The key under which two questions count as "the same question":
/// whitespace collapsed and lower-cased, like the training store's dedupe key.
pub fn question_key(q: &str) -> String {
    q.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A gold SQL as leave-group-out compares it: keywords and names lower-cased,
/// quoted literals kept as written, white space folded and dropped next to
/// punctuation, trailing semicolons removed. Two pairs whose keys are equal
/// ask for the same thing, whatever their wording.
pub fn sql_key(sql: &str) -> String {
    const PUNCT: &str = "(),;=<>!+-*/";
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in sql.trim().trim_end_matches(';').trim_end().chars() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let after_punct = out.chars().last().is_some_and(|l| PUNCT.contains(l));
        if pending_space && !out.is_empty() && !PUNCT.contains(c) && !after_punct {
            out.push(' ');
        }
        pending_space = false;
        if c == '\'' || c == '"' {
            quote = Some(c);
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod key_tests {
    use super::sql_key;

    #[test]
    fn sql_keys_fold_case_space_and_semicolons_but_not_literals() {
        assert_eq!(
            sql_key("SELECT count(*)  FROM singer ;"),
            sql_key("select COUNT( * ) from singer")
        );
        assert_eq!(
            sql_key("SELECT name FROM t WHERE a = 'France'"),
            "select name from t where a='France'"
        );
        assert_ne!(
            sql_key("SELECT name FROM t WHERE a = 'France'"),
            sql_key("SELECT name FROM t WHERE a = 'france'")
        );
        assert_ne!(sql_key("SELECT a FROM t"), sql_key("SELECT b FROM t"));
        assert_eq!(sql_key("SELECT 'it''s'"), "select 'it''s'");
    }
}
