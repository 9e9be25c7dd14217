//! Result comparison the way Spider's execution evaluator does it, and the
//! direct (trusted) execution of gold SQL.
//!
//! Two results match when they have the same rows as a multiset — or as a
//! sequence when the gold query has a top-level `ORDER BY` — with columns
//! compared by position (names and aliases are ignored). Values are
//! normalised first: an integer equals a float of the same value (`1 == 1.0`,
//! as in Python), floats agree to 12 significant digits (sums computed in a
//! different order may differ in the last bits), strings compare exactly and
//! `NULL` equals `NULL`. Two empty results match whatever their columns.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::TryStreamExt as _;
use serde_json::Value;
use sqlparser::ast::Statement;
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Row as _, TypeInfo as _, ValueRef as _};

/// A value reduced to what the comparison cares about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    Null,
    Int(i64),
    /// A non-integral float, rendered to 12 significant digits.
    Float(String),
    Text(String),
}

impl Cell {
    pub fn from_json(v: &Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Int(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Cell::Int(i),
                None => Cell::from_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Cell::Text(s.clone()),
            other => Cell::Text(other.to_string()),
        }
    }

    fn from_f64(f: f64) -> Cell {
        // Integral floats in the exactly-representable range equal integers.
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
            Cell::Int(f as i64)
        } else {
            Cell::Float(format!("{f:.11e}"))
        }
    }
}

fn canonical(rows: &[Vec<Value>]) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|r| r.iter().map(Cell::from_json).collect())
        .collect()
}

/// Do `pred` rows match `gold` rows? `ordered`: compare as sequences.
pub fn results_match(gold: &[Vec<Value>], pred: &[Vec<Value>], ordered: bool) -> bool {
    if gold.is_empty() && pred.is_empty() {
        return true;
    }
    if gold.len() != pred.len() {
        return false;
    }
    let width = |rows: &[Vec<Value>]| rows.first().map_or(0, Vec::len);
    if width(gold) != width(pred) {
        return false;
    }
    let mut g = canonical(gold);
    let mut p = canonical(pred);
    if !ordered {
        g.sort();
        p.sort();
    }
    g == p
}

/// [`results_match`], but with the predicted columns in any order, as the
/// official test-suite evaluator compares them: some assignment of predicted
/// columns to gold columns (each pair holding the same values as a multiset)
/// makes the rows match. Reported beside the strict, by-position score.
pub fn results_match_any_column_order(
    gold: &[Vec<Value>],
    pred: &[Vec<Value>],
    ordered: bool,
) -> bool {
    if results_match(gold, pred, ordered) {
        return true;
    }
    let width = gold.first().map_or(0, Vec::len);
    if gold.len() != pred.len() || pred.first().map_or(0, Vec::len) != width || width < 2 {
        return false;
    }
    let g = canonical(gold);
    let p = canonical(pred);
    let column = |rows: &[Vec<Cell>], i: usize| {
        let mut c: Vec<Cell> = rows.iter().map(|r| r[i].clone()).collect();
        c.sort();
        c
    };
    let gold_cols: Vec<Vec<Cell>> = (0..width).map(|i| column(&g, i)).collect();
    let pred_cols: Vec<Vec<Cell>> = (0..width).map(|i| column(&p, i)).collect();
    // candidates[i]: predicted columns holding gold column i's values.
    let candidates: Vec<Vec<usize>> = gold_cols
        .iter()
        .map(|gc| (0..width).filter(|&j| &pred_cols[j] == gc).collect())
        .collect();
    let mut target = g;
    if !ordered {
        target.sort();
    }
    let mut chosen = Vec::with_capacity(width);
    let mut budget = 10_000usize;
    try_assignments(&candidates, &mut chosen, &mut budget, &mut |perm| {
        let mut rows: Vec<Vec<Cell>> = p
            .iter()
            .map(|r| perm.iter().map(|&j| r[j].clone()).collect())
            .collect();
        if !ordered {
            rows.sort();
        }
        rows == target
    })
}

/// Depth-first search over column assignments (each predicted column used
/// once); `check` decides a complete one. `budget` bounds the assignments
/// tried, so a wide result of identical columns cannot explode.
fn try_assignments(
    candidates: &[Vec<usize>],
    chosen: &mut Vec<usize>,
    budget: &mut usize,
    check: &mut dyn FnMut(&[usize]) -> bool,
) -> bool {
    if chosen.len() == candidates.len() {
        *budget = budget.saturating_sub(1);
        return check(chosen);
    }
    for &j in &candidates[chosen.len()] {
        if *budget == 0 {
            return false;
        }
        if chosen.contains(&j) {
            continue;
        }
        chosen.push(j);
        if try_assignments(candidates, chosen, budget, check) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// Does the statement end in its own `ORDER BY` (not one inside a subquery)?
/// Unparseable SQL falls back to the official evaluator's substring test.
pub fn has_top_level_order_by(sql: &str) -> bool {
    match Parser::parse_sql(&SQLiteDialect {}, sql) {
        Ok(stmts) => stmts
            .iter()
            .any(|s| matches!(s, Statement::Query(q) if q.order_by.is_some())),
        Err(_) => sql.to_lowercase().contains("order by"),
    }
}

/// A dataset database opened read-only for running gold SQL.
///
/// Gold SQL is benchmark data, not user input, and runs outside the
/// validator on purpose: the reference result must not depend on our
/// policy. The file is still opened read-only with `query_only`, and a
/// progress handler stops a statement at its deadline.
pub struct GoldDb {
    pool: SqlitePool,
}

impl GoldDb {
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .pragma("query_only", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        Ok(Self { pool })
    }

    /// Run `sql`; the error is the database's message (or a timeout note).
    pub async fn run(&self, sql: &str, timeout: Duration) -> Result<Vec<Vec<Value>>, String> {
        let mut conn = self.pool.acquire().await.map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        {
            let mut handle = conn.lock_handle().await.map_err(|e| e.to_string())?;
            handle.set_progress_handler(1000, move || Instant::now() < deadline);
        }
        let run = async {
            let mut stream = sqlx::query(AssertSqlSafe(sql.to_string()))
                .persistent(false)
                .fetch(&mut *conn);
            let mut rows = Vec::new();
            while let Some(row) = stream.try_next().await.map_err(|e| e.to_string())? {
                rows.push(row_to_json(&row)?);
            }
            Ok::<_, String>(rows)
        };
        let result = match tokio::time::timeout(timeout + Duration::from_millis(500), run).await {
            Ok(Err(_)) if Instant::now() >= deadline => Err(format!("timed out after {timeout:?}")),
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {timeout:?}")),
        };
        if let Ok(mut handle) = conn.lock_handle().await {
            handle.remove_progress_handler();
        }
        result
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The same JSON mapping as the SQLite connector, so both sides compare alike.
fn row_to_json(row: &SqliteRow) -> Result<Vec<Value>, String> {
    let err = |e: sqlx::Error| e.to_string();
    let mut out = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        let raw = row.try_get_raw(i).map_err(err)?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let class = raw.type_info().name().to_ascii_uppercase();
        out.push(match class.as_str() {
            "INTEGER" => Value::from(row.try_get::<i64, _>(i).map_err(err)?),
            "REAL" => serde_json::Number::from_f64(row.try_get::<f64, _>(i).map_err(err)?)
                .map_or(Value::Null, Value::Number),
            "BLOB" => Value::String(
                base64::engine::general_purpose::STANDARD
                    .encode(row.try_get::<Vec<u8>, _>(i).map_err(err)?),
            ),
            _ => Value::String(row.try_get::<String, _>(i).map_err(err)?),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn any_column_order_matches_permuted_columns_only() {
        let gold = vec![vec![json!("a"), json!(1)], vec![json!("b"), json!(2)]];
        let swapped = vec![vec![json!(1), json!("a")], vec![json!(2), json!("b")]];
        assert!(!results_match(&gold, &swapped, false));
        assert!(results_match_any_column_order(&gold, &swapped, false));
        assert!(results_match_any_column_order(&gold, &swapped, true));
        // Same column values, but paired differently: no assignment matches.
        let crossed = vec![vec![json!(2), json!("a")], vec![json!(1), json!("b")]];
        assert!(!results_match_any_column_order(&gold, &crossed, false));
        // Order still counts when the gold is ordered.
        let reversed = vec![vec![json!(2), json!("b")], vec![json!(1), json!("a")]];
        assert!(!results_match_any_column_order(&gold, &reversed, true));
        assert!(results_match_any_column_order(&gold, &reversed, false));
        // A different width never matches.
        assert!(!results_match_any_column_order(
            &gold,
            &[vec![json!("a")], vec![json!("b")]],
            false
        ));
    }

    use super::*;
    use serde_json::json;

    fn rows(v: Value) -> Vec<Vec<Value>> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn order_matters_only_when_asked() {
        let a = rows(json!([[1, "a"], [2, "b"]]));
        let b = rows(json!([[2, "b"], [1, "a"]]));
        assert!(results_match(&a, &b, false));
        assert!(!results_match(&a, &b, true));
        assert!(results_match(&a, &a, true));
    }

    #[test]
    fn rows_are_a_multiset_not_a_set() {
        let a = rows(json!([[1], [1], [2]]));
        let b = rows(json!([[1], [2], [2]]));
        let c = rows(json!([[1], [2]]));
        assert!(!results_match(&a, &b, false));
        assert!(!results_match(&a, &c, false));
        assert!(results_match(&a, &rows(json!([[2], [1], [1]])), false));
    }

    #[test]
    fn ints_equal_floats_of_the_same_value_and_floats_have_a_tolerance() {
        assert!(results_match(
            &rows(json!([[1, 2.5]])),
            &rows(json!([[1.0, 2.5]])),
            true
        ));
        assert!(results_match(
            &rows(json!([[0.1 + 0.2]])),
            &rows(json!([[0.3]])),
            true
        ));
        assert!(!results_match(
            &rows(json!([[1]])),
            &rows(json!([[1.5]])),
            true
        ));
        // Strings are exact: "1" is not 1.
        assert!(!results_match(
            &rows(json!([["1"]])),
            &rows(json!([[1]])),
            true
        ));
        assert!(!results_match(
            &rows(json!([["A"]])),
            &rows(json!([["a"]])),
            true
        ));
    }

    #[test]
    fn columns_compare_by_position_and_names_do_not_matter() {
        // Same values in another column order is a different answer.
        let a = rows(json!([[1, "x"]]));
        let b = rows(json!([["x", 1]]));
        assert!(!results_match(&a, &b, false));
        // Aliases never reach the comparison: only values do.
        assert!(!results_match(&a, &rows(json!([[1, "x", 2]])), false));
    }

    #[test]
    fn nulls_and_empty_results() {
        assert!(results_match(
            &rows(json!([[null, 1]])),
            &rows(json!([[null, 1.0]])),
            true
        ));
        assert!(!results_match(
            &rows(json!([[null]])),
            &rows(json!([[0]])),
            true
        ));
        assert!(results_match(&[], &[], true));
        assert!(!results_match(&[], &rows(json!([[1]])), false));
    }

    #[test]
    fn only_a_top_level_order_by_makes_order_matter() {
        assert!(has_top_level_order_by(
            "SELECT a FROM t ORDER BY a DESC LIMIT 1"
        ));
        assert!(!has_top_level_order_by(
            "SELECT a FROM t WHERE b IN (SELECT b FROM u ORDER BY b LIMIT 3)"
        ));
        assert!(!has_top_level_order_by("SELECT count(*) FROM t"));
    }
}
