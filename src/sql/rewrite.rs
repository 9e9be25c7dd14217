//! The one rewrite the validator makes: a row limit on the outermost query.
//!
//! A missing limit is added, a larger literal one clamped, a smaller one kept,
//! and `OFFSET` preserved. A limit that is not a plain integer literal
//! (`LIMIT (SELECT …)`, `LIMIT ?`, `LIMIT -1`, `LIMIT ALL`) is replaced by the
//! maximum: we cannot know its value, and replacing it keeps the query useful
//! where rejecting it would not. For set operations the limit applies to the
//! whole result, which is where sqlparser puts the outer `LIMIT` anyway.

use sqlparser::ast::{Expr, Fetch, LimitClause, Query, Value};

fn number(n: u64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

/// The value of a limit expression when it is a plain non-negative integer.
fn literal(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(s, _) => s.parse::<u64>().ok(),
            _ => None,
        },
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

fn clamp(e: Option<&Expr>, max: u64) -> u64 {
    e.and_then(literal).map_or(max, |n| n.min(max))
}

/// Add or clamp the limit of `q`; returns the limit now in force.
pub(super) fn enforce_limit(q: &mut Query, max: u64) -> u64 {
    let has_limit = matches!(
        q.limit_clause,
        Some(LimitClause::LimitOffset { limit: Some(_), .. })
            | Some(LimitClause::OffsetCommaLimit { .. })
    );
    if let Some(fetch) = &mut q.fetch {
        if !has_limit {
            // `FETCH FIRST ROW ONLY` means one row; `PERCENT` and `WITH TIES`
            // can exceed any count we set, so they are dropped.
            let n = match (&fetch.quantity, fetch.percent) {
                (_, true) => max,
                (None, false) => 1.min(max),
                (Some(e), false) => clamp(Some(e), max),
            };
            *fetch = Fetch {
                with_ties: false,
                percent: false,
                quantity: Some(number(n)),
            };
            return n;
        }
        // Both LIMIT and FETCH: keep only the LIMIT.
        q.fetch = None;
    }
    match &mut q.limit_clause {
        None => {
            q.limit_clause = Some(LimitClause::LimitOffset {
                limit: Some(number(max)),
                offset: None,
                limit_by: vec![],
            });
            max
        }
        Some(LimitClause::LimitOffset {
            limit, limit_by, ..
        }) => {
            let n = clamp(limit.as_ref(), max);
            *limit = Some(number(n));
            limit_by.clear();
            n
        }
        Some(LimitClause::OffsetCommaLimit { limit, .. }) => {
            let n = clamp(Some(limit), max);
            *limit = number(n);
            n
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::ast::Statement;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
    use sqlparser::parser::Parser;

    use super::*;

    fn rewrite(d: &dyn sqlparser::dialect::Dialect, sql: &str, max: u64) -> (String, u64) {
        let mut s = Parser::parse_sql(d, sql).unwrap().remove(0);
        let Statement::Query(q) = &mut s else {
            panic!("not a query")
        };
        let n = enforce_limit(q, max);
        (s.to_string(), n)
    }

    #[test]
    fn added_clamped_kept_or_replaced() {
        let pg = PostgreSqlDialect {};
        let cases = [
            ("SELECT 1", "SELECT 1 LIMIT 50", 50),
            ("SELECT 1 LIMIT 10", "SELECT 1 LIMIT 10", 10),
            ("SELECT 1 LIMIT 500", "SELECT 1 LIMIT 50", 50),
            (
                "SELECT 1 LIMIT 500 OFFSET 7",
                "SELECT 1 LIMIT 50 OFFSET 7",
                50,
            ),
            ("SELECT 1 OFFSET 7", "SELECT 1 LIMIT 50 OFFSET 7", 50),
            ("SELECT 1 LIMIT ALL", "SELECT 1 LIMIT 50", 50),
            ("SELECT 1 LIMIT $1", "SELECT 1 LIMIT 50", 50),
            ("SELECT 1 LIMIT -1", "SELECT 1 LIMIT 50", 50),
            ("SELECT 1 LIMIT (SELECT 10)", "SELECT 1 LIMIT 50", 50),
            (
                "SELECT 1 LIMIT 99999999999999999999999",
                "SELECT 1 LIMIT 50",
                50,
            ),
            (
                "SELECT 1 UNION SELECT 2 ORDER BY 1",
                "SELECT 1 UNION SELECT 2 ORDER BY 1 LIMIT 50",
                50,
            ),
            (
                "SELECT 1 FETCH FIRST ROW ONLY",
                "SELECT 1 FETCH FIRST 1 ROWS ONLY",
                1,
            ),
            (
                "SELECT 1 FETCH FIRST 900 ROWS WITH TIES",
                "SELECT 1 FETCH FIRST 50 ROWS ONLY",
                50,
            ),
            (
                "SELECT 1 OFFSET 3 ROWS FETCH NEXT 5 ROWS ONLY",
                "SELECT 1 OFFSET 3 ROWS FETCH FIRST 5 ROWS ONLY",
                5,
            ),
        ];
        for (sql, want, n) in cases {
            assert_eq!(rewrite(&pg, sql, 50), (want.to_string(), n), "{sql}");
        }
    }

    #[test]
    fn mysql_offset_comma_limit() {
        let my = MySqlDialect {};
        assert_eq!(
            rewrite(&my, "SELECT 1 LIMIT 10, 500", 50),
            ("SELECT 1 LIMIT 10, 50".to_string(), 50)
        );
        assert_eq!(
            rewrite(&my, "SELECT 1 LIMIT 10, 5", 50),
            ("SELECT 1 LIMIT 10, 5".to_string(), 5)
        );
    }
}
