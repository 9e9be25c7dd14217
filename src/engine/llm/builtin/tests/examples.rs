//! Trained question→SQL examples: reused only for the same question,
//! adapted with the question's values when close, never answering a
//! different question; and retries that take another reading.

use super::*;

#[test]
fn trained_examples_are_reused_only_for_the_same_question() {
    let trained = "SELECT 42";
    let mut req = request("how many customers do we have in germany");
    req.context.examples = vec![example("How many customers are in Germany?", trained, 0.2)];
    assert_eq!(
        gen_req(&req),
        (Ok(trained.into()), Some("trained_example".into()))
    );

    // High score but another table: not reused.
    let mut req = request("How many orders are there?");
    req.context.examples = vec![example("How many customers are there?", trained, 0.95)];
    assert_eq!(gen_req(&req).0.unwrap(), "SELECT COUNT(*) FROM orders");

    // High score, same entities: reused; below the threshold: not.
    let mut req = request("count of all the orders");
    req.context.examples = vec![example("orders placed so far, how many", trained, 0.85)];
    assert_eq!(gen_req(&req).0.unwrap(), trained);
    req.context.examples[0].score = 0.5;
    assert_eq!(gen_req(&req).0.unwrap(), "SELECT COUNT(*) FROM orders");
    let strict = BuiltinGenerator::with_threshold(0.9);
    req.context.examples[0].score = 0.85;
    assert!(
        matches!(strict.generate_sync(&req).outcome, GenerationOutcome::Sql { sql } if sql != trained)
    );
}

#[test]
fn retries_take_another_reading_then_give_up() {
    // "date" is ambiguous between the date columns of the schema.
    let first = sql("orders sorted by date");
    let mut req = request("orders sorted by date");
    req.previous_attempts = vec![FailedAttempt {
        sql: first.clone(),
        error: "x".into(),
    }];
    let second = gen_req(&req).0.unwrap();
    assert_ne!(first, second);
    let mut req = request("How many customers are there?");
    req.previous_attempts = vec![FailedAttempt {
        sql: "select count(*)  from customers;".into(),
        error: "x".into(),
    }];
    assert!(gen_req(&req).0.is_err());
}

#[tokio::test]
async fn provider_identity() {
    let g = BuiltinGenerator::default();
    assert_eq!((g.name(), g.model()), ("builtin", "offline-v1"));
    assert!(g.ping().await.is_ok());
    assert_eq!(
        g.generate(&request("How many products?"))
            .await
            .unwrap()
            .usage,
        TokenUsage::default()
    );
    assert_eq!(g.reuse_threshold(), 0.80);
}

fn adapted(
    q: &str,
    ex: &str,
    ex_sql: &str,
    score: f32,
) -> (Result<String, String>, Option<String>) {
    let mut req = request(q);
    req.context.examples = vec![example(ex, ex_sql, score)];
    gen_req(&req)
}

#[test]
fn close_examples_are_adapted_with_the_question_values() {
    let ex = "List the names of customers from France";
    let ex_sql = "SELECT name FROM customers WHERE country = 'France'";
    assert_eq!(
        adapted("List the names of customers from Germany", ex, ex_sql, 0.7),
        (
            Ok("SELECT name FROM customers WHERE country = 'Germany'".into()),
            Some("adapted_example".into())
        )
    );
    // Numbers keep their comparison: "more than 5" → "more than 3", never "at least 3".
    let ex = "Which customers have more than 5 orders?";
    let ex_sql = "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id HAVING COUNT(*) > 5";
    let (sql, strategy) = adapted("Which customers have more than 3 orders?", ex, ex_sql, 0.7);
    assert_eq!(sql.unwrap(), ex_sql.replace("> 5", "> 3"));
    assert_eq!(strategy.as_deref(), Some("adapted_example"));
    let (sql, _) = adapted("Which customers have 3 or more orders?", ex, ex_sql, 0.7);
    assert!(!sql.unwrap().starts_with("SELECT c.name"));
    // A column swaps for a column of the same table.
    assert_eq!(
        adapted(
            "What is the average cost of products?",
            "What is the average price of products?",
            "SELECT AVG(price) FROM products",
            0.7
        )
        .0
        .unwrap(),
        "SELECT AVG(cost) FROM products"
    );
}

/// `question` takes nothing from the example `ex` / `sql`, however close.
fn not_adapted(schema: &SchemaInfo, question: &str, ex: &str, sql: &str) {
    let items = [example(ex, sql, 0.9)];
    assert_eq!(
        adapt::adapt(question, schema, &items, &BTreeSet::new()),
        None,
        "{question} / {ex}"
    );
}

#[test]
fn adaptation_never_answers_a_different_question() {
    let schema = shop();
    let none = |q: &str, ex: &str, sql: &str| not_adapted(&schema, q, ex, sql);
    // Another table.
    none(
        "How many orders are there?",
        "How many customers are there?",
        "SELECT COUNT(*) FROM customers",
    );
    // Another value the example's SQL does not hold, with nothing to swap.
    none(
        "How many customers are in Germany?",
        "How many customers are there?",
        "SELECT COUNT(*) FROM customers",
    );
    // A word that is no stored value never replaces one ('French' ≠ 'France').
    none(
        "How many French customers are there?",
        "How many customers from France are there?",
        "SELECT COUNT(*) FROM customers WHERE country = 'France'",
    );
    // Negation, aggregate and direction must agree.
    none(
        "Which customers have not placed orders?",
        "Which customers have placed orders?",
        "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.id",
    );
    none(
        "What is the average price of products?",
        "What is the total price of products?",
        "SELECT SUM(price) FROM products",
    );
    none(
        "Which product has the lowest price?",
        "Which product has the highest price?",
        "SELECT name FROM products ORDER BY price DESC LIMIT 1",
    );
    // The stored value must fit the column the SQL compares.
    none(
        "How many orders are delivered?",
        "How many customers from France?",
        "SELECT COUNT(*) FROM customers WHERE country = 'France'",
    );
}

#[test]
fn an_example_with_a_slot_the_question_lacks_is_not_adapted() {
    let schema = shop();
    let none = |q: &str, ex: &str, sql: &str| not_adapted(&schema, q, ex, sql);
    // "ids" is no column of the SQL because the tables are joined on one.
    none(
        "List the ids and names of customers with delivered orders",
        "List the names of customers with delivered orders",
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status = 'delivered'",
    );
    // A filter no word of the question asks for ('France' for "French").
    none(
        "How many customers are there?",
        "How many French customers are there?",
        "SELECT COUNT(*) FROM customers WHERE country = 'France'",
    );
    // The same, with nothing else changed: the example's question has a
    // word ("French") the question lacks, so the filter may stand for it.
    none(
        "How many customers are in Germany?",
        "How many French customers are in Germany?",
        "SELECT COUNT(*) FROM customers WHERE country = 'Germany' AND segment = 'Consumer'",
    );
    // The example counts customers through their key in orders.
    none(
        "How many different orders are there?",
        "How many different customers placed orders?",
        "SELECT COUNT(DISTINCT customer_id) FROM orders",
    );
    // "dates" fits columns of several tables: it never names the orders
    // the example joins.
    none(
        "What are the first names and dates of employees?",
        "What are the first names and hire dates of employees who took orders?",
        "SELECT DISTINCT e.first_name, e.hire_date FROM employees e JOIN orders o ON o.employee_id = e.id",
    );
    // An example that counts through a table of its own: orders "placed by
    // customers" reach the customers by their key.
    none(
        "How many orders are there?",
        "How many orders were placed by customers?",
        "SELECT COUNT(*) FROM orders",
    );
}

#[test]
fn an_example_grouped_or_compared_otherwise_is_not_adapted() {
    let schema = shop();
    let none = |q: &str, ex: &str, sql: &str| not_adapted(&schema, q, ex, sql);
    // "each" asks for groups.
    none(
        "For each category, what is the maximum price of products?",
        "Which category has the product with the maximum price?",
        "SELECT category FROM products ORDER BY price DESC LIMIT 1",
    );
    // "different" without "each" asks for distinct values, not groups.
    none(
        "How many different countries do customers come from?",
        "What are the different countries and the number of customers from each?",
        "SELECT country, COUNT(*) FROM customers GROUP BY country",
    );
    // "3 or more" is no "= 3".
    none(
        "Which customers have 3 or more orders?",
        "Which customers have 3 orders?",
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id HAVING COUNT(*) = 3",
    );
}

#[test]
fn a_convention_the_examples_question_does_not_word_is_kept() {
    // The trainer's SQL excludes a segment no word of either question names:
    // a convention of what "customers" means here, not part of another
    // meaning, so the adapted SQL keeps it and swaps only the country.
    let schema = shop();
    let sql = "SELECT COUNT(*) FROM customers WHERE country = 'Germany' AND segment <> 'Corporate'";
    let items = [example("How many customers are in Germany?", sql, 0.7)];
    let adapted = adapt::adapt(
        "How many customers are in France?",
        &schema,
        &items,
        &BTreeSet::new(),
    )
    .expect("adapted");
    assert_eq!(adapted.sql, sql.replace("Germany", "France"));
}
