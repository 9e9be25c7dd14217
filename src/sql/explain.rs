//! SQL in plain words, read off the syntax tree without a model: which
//! tables, how they are joined, the filters, the grouping, the ordering and
//! the row limit, one sentence each.
//!
//! It explains only a [`ValidatedSql`] (SQL that passed the gate for the
//! caller), so nothing here sees a table the caller may not, and the text is
//! for people: it is never parsed or run. Expressions it has no words for are
//! quoted as SQL rather than guessed at.

use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, InTarget, JoinConstraint, JoinOperator, LimitClause,
    OrderByKind, OrderBySort, Query, Select, SelectItem, SetExpr, Statement, TableFactor,
    TableWithJoins,
};

use super::ValidatedSql;

/// Longest quoted SQL fragment in a sentence.
const MAX_FRAGMENT: usize = 120;

/// The explanation of a validated statement, one sentence per clause.
pub fn explain(v: &ValidatedSql) -> Vec<String> {
    match super::parse::parse_one(v.sql(), v.dialect()) {
        Ok(Statement::Query(q)) => query(&q),
        // A validated statement is always a query; say so plainly if not.
        _ => vec!["This statement reads data.".to_string()],
    }
}

fn query(q: &Query) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(with) = &q.with {
        let names: Vec<String> = with
            .cte_tables
            .iter()
            .map(|c| c.alias.name.value.clone())
            .collect();
        out.push(format!(
            "It first builds the intermediate result{} {}.",
            if names.len() == 1 { "" } else { "s" },
            list(&names)
        ));
    }
    match q.body.as_ref() {
        SetExpr::Select(s) => select(s, &mut out),
        SetExpr::Query(inner) => out.extend(query(inner)),
        SetExpr::SetOperation { op, .. } => out.push(format!(
            "It combines the results of several queries ({}).",
            op.to_string().to_lowercase()
        )),
        other => out.push(format!("It reads `{}`.", fragment(&other.to_string()))),
    }
    if let Some(order) = &q.order_by
        && let OrderByKind::Expressions(exprs) = &order.kind
        && !exprs.is_empty()
    {
        let parts: Vec<String> = exprs
            .iter()
            .map(|o| {
                let dir = match o.options.sort {
                    Some(OrderBySort::Desc) => "from highest to lowest",
                    _ => "from lowest to highest",
                };
                format!("{} {dir}", phrase(&o.expr))
            })
            .collect();
        out.push(format!("It sorts the rows by {}.", list(&parts)));
    }
    if let Some(LimitClause::LimitOffset { limit, offset, .. }) = &q.limit_clause {
        if let Some(limit) = limit {
            out.push(format!("It returns at most {} rows.", plain(limit)));
        }
        if let Some(offset) = offset {
            out.push(format!("It skips the first {} rows.", plain(&offset.value)));
        }
    }
    out
}

fn select(s: &Select, out: &mut Vec<String>) {
    let columns: Vec<String> = s.projection.iter().map(select_item).collect();
    let distinct = if s.distinct.is_some() {
        "different "
    } else {
        ""
    };
    let from: Vec<String> = s.from.iter().map(|t| relation(&t.relation)).collect();
    if from.is_empty() {
        out.push(format!("It computes {}.", list(&columns)));
    } else {
        out.push(format!(
            "It reads the {} {} and shows {distinct}{}.",
            if from.len() == 1 { "table" } else { "tables" },
            list(&from),
            list(&columns)
        ));
    }
    for t in &s.from {
        joins(t, out);
    }
    if let Some(w) = &s.selection {
        out.push(format!("It keeps only the rows where {}.", phrase(w)));
    }
    if let GroupByExpr::Expressions(exprs, _) = &s.group_by
        && !exprs.is_empty()
    {
        let parts: Vec<String> = exprs.iter().map(phrase).collect();
        out.push(format!(
            "It groups the rows by {}, one result row per group.",
            list(&parts)
        ));
    }
    if let Some(h) = &s.having {
        out.push(format!("It keeps only the groups where {}.", phrase(h)));
    }
}

fn joins(t: &TableWithJoins, out: &mut Vec<String>) {
    for j in &t.joins {
        let table = relation(&j.relation);
        let (kind, constraint) = match &j.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => {
                ("only rows with a match in both", Some(c))
            }
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => {
                ("every row of the left side, matched or not, with", Some(c))
            }
            JoinOperator::Right(c) | JoinOperator::RightOuter(c) => {
                ("every row of the right side, matched or not, with", Some(c))
            }
            JoinOperator::FullOuter(c) => {
                ("every row of both sides, matched or not, with", Some(c))
            }
            JoinOperator::CrossJoin(_) => ("every combination of rows with", None),
            _ => ("rows matched with", None),
        };
        let on = match constraint {
            Some(JoinConstraint::On(e)) => format!(", matching rows where {}", phrase(e)),
            Some(JoinConstraint::Using(cols)) => {
                let c: Vec<String> = cols.iter().map(|c| format!("`{c}`")).collect();
                format!(", matching on {}", list(&c))
            }
            Some(JoinConstraint::Natural) => ", matching on columns of the same name".to_string(),
            _ => String::new(),
        };
        let sentence = if kind.starts_with("only") {
            format!("It joins {table}{on}, keeping {kind}.")
        } else {
            format!("It joins {table}{on}, keeping {kind} {table}.")
        };
        out.push(sentence);
    }
}

fn relation(t: &TableFactor) -> String {
    match t {
        TableFactor::Table { name, alias, .. } => match alias {
            Some(a) if !a.name.value.eq_ignore_ascii_case(&name.to_string()) => {
                format!("`{name}` (as `{}`)", a.name.value)
            }
            _ => format!("`{name}`"),
        },
        TableFactor::Derived { alias, .. } => match alias {
            Some(a) => format!("a subquery named `{}`", a.name.value),
            None => "a subquery".to_string(),
        },
        other => format!("`{}`", fragment(&other.to_string())),
    }
}

fn select_item(item: &SelectItem) -> String {
    match item {
        SelectItem::UnnamedExpr(e) => phrase(e),
        SelectItem::ExprWithAlias { expr, alias } => {
            let p = phrase(expr);
            if p == format!("`{}`", alias.value) {
                p
            } else {
                format!("{p} (as `{}`)", alias.value)
            }
        }
        SelectItem::Wildcard(_) => "every column".to_string(),
        SelectItem::QualifiedWildcard(kind, _) => format!("every column of `{kind}`"),
        other => format!("`{}`", fragment(&other.to_string())),
    }
}

/// An expression in words where we have them, else quoted SQL.
fn phrase(e: &Expr) -> String {
    match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => format!("`{e}`"),
        Expr::Value(_) => plain(e),
        Expr::Nested(inner) => phrase(inner),
        Expr::IsNull(x) => format!("{} is empty", phrase(x)),
        Expr::IsNotNull(x) => format!("{} is not empty", phrase(x)),
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => format!(
            "{} is{} between {} and {}",
            phrase(expr),
            if *negated { " not" } else { "" },
            phrase(low),
            phrase(high)
        ),
        Expr::In {
            expr,
            target: InTarget::List(items),
            negated,
            ..
        } => {
            let items: Vec<String> = items.iter().map(phrase).collect();
            format!(
                "{} is{} one of {}",
                phrase(expr),
                if *negated { " not" } else { "" },
                either(&items)
            )
        }
        Expr::Like {
            negated,
            expr,
            pattern,
            ..
        }
        | Expr::ILike {
            negated,
            expr,
            pattern,
            ..
        } => format!(
            "{} {}matches the pattern {}",
            phrase(expr),
            if *negated { "does not " } else { "" },
            plain(pattern)
        ),
        Expr::BinaryOp { left, op, right } => binary(left, op, right),
        Expr::Function(_) => function(e),
        _ => format!("`{}`", fragment(&e.to_string())),
    }
}

fn binary(left: &Expr, op: &BinaryOperator, right: &Expr) -> String {
    let word = match op {
        BinaryOperator::And => "and",
        BinaryOperator::Or => "or",
        BinaryOperator::Eq => "is",
        BinaryOperator::NotEq => "is not",
        BinaryOperator::Gt => "is greater than",
        BinaryOperator::GtEq => "is at least",
        BinaryOperator::Lt => "is less than",
        BinaryOperator::LtEq => "is at most",
        _ => return format!("`{}`", fragment(&format!("{left} {op} {right}"))),
    };
    format!("{} {word} {}", phrase(left), phrase(right))
}

/// Aggregates in words (`COUNT(*)` → "the number of rows"); other
/// functions quoted.
fn function(e: &Expr) -> String {
    let text = e.to_string();
    let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else {
        return format!("`{}`", fragment(&text));
    };
    let name = text[..open].trim().to_lowercase();
    let arg = text[open + 1..close].trim();
    let (distinct, arg) = match arg.get(..9) {
        Some(p) if p.eq_ignore_ascii_case("distinct ") => ("different ", arg[9..].trim()),
        _ => ("", arg),
    };
    let arg_words = format!("`{}`", fragment(arg));
    match name.as_str() {
        "count" if arg == "*" => "the number of rows".to_string(),
        "count" => format!("the number of {distinct}values of {arg_words}"),
        "sum" => format!("the total of {distinct}{arg_words}"),
        "avg" => format!("the average of {distinct}{arg_words}"),
        "min" => format!("the smallest {arg_words}"),
        "max" => format!("the largest {arg_words}"),
        _ => format!("`{}`", fragment(&text)),
    }
}

/// A literal as written (strings keep their quotes), or quoted SQL.
fn plain(e: &Expr) -> String {
    match e {
        Expr::Value(v) => fragment(&v.to_string()),
        other => format!("`{}`", fragment(&other.to_string())),
    }
}

fn fragment(s: &str) -> String {
    if s.chars().count() <= MAX_FRAGMENT {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX_FRAGMENT).collect();
        format!("{cut}…")
    }
}

fn join_words(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

fn list(items: &[String]) -> String {
    join_words(items, "and")
}

fn either(items: &[String]) -> String {
    join_words(items, "or")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Dialect;

    fn words(sql: &str) -> Vec<String> {
        explain(&ValidatedSql {
            sql: sql.to_string(),
            dialect: Dialect::Sqlite,
            tables: Vec::new(),
            limit: 1,
        })
    }

    #[test]
    fn a_join_with_filter_grouping_order_and_limit_reads_as_sentences() {
        let w = words(
            "SELECT c.country, COUNT(*) AS n, SUM(o.total) FROM customers c \
             JOIN orders o ON o.customer_id = c.id \
             WHERE o.status = 'paid' AND o.total >= 10 \
             GROUP BY c.country HAVING COUNT(*) > 5 ORDER BY n DESC LIMIT 10",
        );
        assert_eq!(
            w,
            vec![
                "It reads the table `customers` (as `c`) and shows `c.country`, the number of rows (as `n`) and the total of `o.total`.",
                "It joins `orders` (as `o`), matching rows where `o.customer_id` is `c.id`, keeping only rows with a match in both.",
                "It keeps only the rows where `o.status` is 'paid' and `o.total` is at least 10.",
                "It groups the rows by `c.country`, one result row per group.",
                "It keeps only the groups where the number of rows is greater than 5.",
                "It sorts the rows by `n` from highest to lowest.",
                "It returns at most 10 rows.",
            ]
        );
    }

    #[test]
    fn left_joins_lists_nulls_and_distinct_have_words() {
        let w = words(
            "SELECT DISTINCT p.name FROM products p LEFT JOIN order_items i ON i.product_id = p.id \
             WHERE i.id IS NULL OR p.category IN ('a', 'b') ORDER BY p.name",
        );
        assert!(w[0].contains("shows different `p.name`"), "{w:?}");
        assert!(w[1].contains("every row of the left side"), "{w:?}");
        assert!(
            w[2].contains("`i.id` is empty or `p.category` is one of 'a' or 'b'"),
            "{w:?}"
        );
        assert!(w[3].contains("from lowest to highest"), "{w:?}");
    }

    #[test]
    fn what_has_no_words_is_quoted_not_guessed() {
        let w = words("SELECT strftime('%Y', created_at) AS y FROM orders WHERE total * 2 > 5");
        assert!(
            w[0].contains("`strftime('%Y', created_at)` (as `y`)"),
            "{w:?}"
        );
        assert!(w[1].contains("`total * 2` is greater than 5"), "{w:?}");
    }
}
