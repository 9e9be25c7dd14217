//! Training that never hurts (issue 14, item 2): a trained example answers
//! only a question of the same form, and a reused example is `high` only
//! when the generator's own reading agrees with it. On the shop schema.

use super::*;

fn answer(q: &str, ex: &str, ex_sql: &str, score: f32) -> Generation {
    let mut req = request(q);
    req.context.examples = vec![example(ex, ex_sql, score)];
    BuiltinGenerator::new().generate_sync(&req)
}

fn sql_of(g: &Generation) -> &str {
    match &g.outcome {
        GenerationOutcome::Sql { sql } => sql,
        GenerationOutcome::Unanswerable { reason } => panic!("unanswerable: {reason}"),
    }
}

#[test]
fn an_example_of_another_form_is_never_reused_or_adapted() {
    // "both … and …" is not "… or …", whatever the words share.
    let or_sql = "SELECT name FROM products WHERE category IN ('Books', 'Electronics')";
    let g = answer(
        "Which products are in both Books and Electronics?",
        "Which products are in Books or Electronics?",
        or_sql,
        0.95,
    );
    assert!(
        !matches!(&g.outcome, GenerationOutcome::Sql { sql } if sql == or_sql),
        "{g:?}"
    );
    // One row per group is not the number of distinct values.
    let distinct_sql = "SELECT COUNT(DISTINCT country) FROM customers";
    let g = answer(
        "How many customers are there in each country?",
        "How many distinct countries do customers come from?",
        distinct_sql,
        0.95,
    );
    assert_ne!(sql_of(&g), distinct_sql);
    assert_ne!(g.strategy.as_deref(), Some("trained_example"));
    // Every row in order is not the top row of a superlative.
    let top_sql = "SELECT name FROM products ORDER BY price DESC LIMIT 1";
    let g = answer(
        "List the names of products in descending order of price",
        "List the name of the product with the highest price",
        top_sql,
        0.95,
    );
    assert!(!sql_of(&g).ends_with("LIMIT 1"), "{g:?}");
    // A word one question has and the other lacks is no conflict: the
    // paraphrase is still reused.
    let g = answer(
        "How many different countries do customers come from?",
        "How many distinct countries do customers come from?",
        distinct_sql,
        0.95,
    );
    assert_eq!(sql_of(&g), distinct_sql);
    assert_eq!(g.strategy.as_deref(), Some("trained_example"));
}

#[test]
fn a_reused_example_is_high_only_when_the_own_reading_agrees() {
    // Same words, and the shapes read the question the same way: high.
    let agreeing = "SELECT COUNT(*) FROM customers WHERE country = 'France'";
    let g = answer(
        "How many customers are in France?",
        "How many customers are in France ?",
        agreeing,
        0.95,
    );
    assert_eq!(sql_of(&g), agreeing);
    let trust = g.trust.unwrap();
    assert_eq!(trust.confidence, Confidence::High, "{trust:?}");
    assert_eq!(trust.assumptions[0].code, "trained_example");

    // Same words, but the trained SQL reads them otherwise (another
    // aggregate): reused, yet only medium.
    let disagreeing = "SELECT SUM(price) FROM products";
    let g = answer(
        "What is the average price of products?",
        "What is the average price of products ?",
        disagreeing,
        0.95,
    );
    assert_eq!(sql_of(&g), disagreeing);
    let trust = g.trust.unwrap();
    assert_eq!(trust.confidence, Confidence::Medium, "{trust:?}");
}

#[test]
fn same_reading_ignores_style_but_not_meaning() {
    let schema = shop();
    let same = |a: &str, b: &str| super::trust::same_reading(a, b, &schema);
    assert!(same(
        "SELECT DISTINCT \"name\" FROM customers WHERE \"country\" = 'France' ORDER BY \"name\"",
        "select T1.name from customers as T1 where T1.country = \"France\""
    ));
    assert!(!same(
        "SELECT name FROM customers WHERE country = 'France'",
        "SELECT name FROM customers WHERE country = 'Germany'"
    ));
    assert!(!same(
        "SELECT MAX(price) FROM products",
        "SELECT MIN(price) FROM products"
    ));
    assert!(!same(
        "SELECT name FROM products ORDER BY price DESC LIMIT 1",
        "SELECT name FROM products ORDER BY price DESC"
    ));
}
