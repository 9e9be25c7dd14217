//! The work budget of PostgreSQL and MySQL/MariaDB statements: the planner's
//! estimate (`EXPLAIN`, which plans but never runs the statement) is checked
//! before a statement runs, so a cross join of large tables is refused at once
//! with `query_too_expensive` instead of holding a connection until the
//! timeout. Estimates can be wrong either way; the statement timeout and the
//! byte caps still bound what slips through.

use serde_json::Value;
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::ConnectorError;
use super::budget::Budget;

fn too_expensive(what: &str, estimate: f64, limit: f64) -> ConnectorError {
    ConnectorError::TooExpensive(format!(
        "the query is estimated at {estimate:.0} {what}, over the budget of {limit:.0}; narrow it down (filters, fewer joins, aggregates)"
    ))
}

/// Refuse `sql` when its plan's total cost or row estimate is over budget.
/// Runs inside the caller's read-only transaction, under a savepoint: a
/// statement the server cannot plan is left to fail on its own, with the
/// server's own error (which the correction loop reads), not EXPLAIN's.
pub async fn postgres(
    conn: &mut PgConnection,
    sql: &str,
    budget: &Budget,
) -> Result<(), ConnectorError> {
    let sp = |e: sqlx::Error| ConnectorError::Execution(db_message(e));
    sqlx::query("SAVEPOINT insight_explain")
        .execute(&mut *conn)
        .await
        .map_err(sp)?;
    // `sql` is a validated single SELECT; EXPLAIN without ANALYZE only plans it.
    let planned =
        sqlx::query_scalar::<_, Value>(AssertSqlSafe(format!("EXPLAIN (FORMAT JSON) {sql}")))
            .persistent(false)
            .fetch_one(&mut *conn)
            .await;
    let release = if planned.is_ok() {
        "RELEASE SAVEPOINT insight_explain"
    } else {
        "ROLLBACK TO SAVEPOINT insight_explain"
    };
    sqlx::query(release).execute(&mut *conn).await.map_err(sp)?;
    let Ok(plan) = planned else {
        return Ok(());
    };
    let (cost, rows) = pg_estimate(&plan);
    if cost > budget.max_explain_cost {
        return Err(too_expensive("cost units", cost, budget.max_explain_cost));
    }
    if rows > budget.max_explain_rows {
        return Err(too_expensive("rows", rows, budget.max_explain_rows));
    }
    Ok(())
}

/// Total cost of the top node of an `EXPLAIN (FORMAT JSON)`, and the most
/// rows any node of the plan expects (a count over a cross join returns one
/// row, but its join node produces them all).
fn pg_estimate(plan: &Value) -> (f64, f64) {
    fn max_rows(node: &Value) -> f64 {
        let own = node["Plan Rows"].as_f64().unwrap_or(0.0);
        node["Plans"]
            .as_array()
            .map_or(own, |kids| kids.iter().map(max_rows).fold(own, f64::max))
    }
    let top = &plan[0]["Plan"];
    (top["Total Cost"].as_f64().unwrap_or(0.0), max_rows(top))
}

/// Refuse `sql` when MySQL/MariaDB expects to examine too many rows: per
/// select (`id`), the product of the `rows` of its tables (a join's nested
/// loops), summed over the selects.
pub async fn mysql(
    conn: &mut MySqlConnection,
    sql: &str,
    budget: &Budget,
) -> Result<(), ConnectorError> {
    // A statement the server cannot plan is left to fail on its own, with
    // the server's own error.
    let Ok(rows) = sqlx::query(AssertSqlSafe(format!("EXPLAIN {sql}")))
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
    else {
        return Ok(());
    };
    let mut per_select: Vec<(i64, f64)> = Vec::new();
    for r in &rows {
        let id = int(r, "id").unwrap_or(0.0) as i64;
        let n = int(r, "rows").unwrap_or(1.0).max(1.0);
        match per_select.iter_mut().find(|(i, _)| *i == id) {
            Some((_, product)) => *product *= n,
            None => per_select.push((id, n)),
        }
    }
    let estimate: f64 = per_select.iter().map(|(_, n)| n).sum();
    if estimate > budget.max_explain_rows {
        return Err(too_expensive(
            "rows examined",
            estimate,
            budget.max_explain_rows,
        ));
    }
    Ok(())
}

/// A numeric `EXPLAIN` column, whatever integer or text type the server used.
fn int(r: &sqlx::mysql::MySqlRow, col: &str) -> Option<f64> {
    if let Ok(Some(v)) = r.try_get::<Option<u64>, _>(col) {
        return Some(v as f64);
    }
    if let Ok(Some(v)) = r.try_get::<Option<i64>, _>(col) {
        return Some(v as f64);
    }
    if let Ok(Some(v)) = r.try_get::<Option<f64>, _>(col) {
        return Some(v);
    }
    r.try_get::<Option<String>, _>(col)
        .ok()
        .flatten()
        .and_then(|s| s.trim().parse().ok())
}

fn db_message(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_plan_is_read() {
        let plan = serde_json::json!([{"Plan": {"Node Type": "Aggregate", "Total Cost": 1.5e9, "Plan Rows": 1,
            "Plans": [{"Node Type": "Nested Loop", "Plan Rows": 1e12, "Plans": [{"Plan Rows": 1e6}]}]}}]);
        assert_eq!(pg_estimate(&plan), (1.5e9, 1e12));
        assert_eq!(pg_estimate(&serde_json::json!({})), (0.0, 0.0));
    }
}
