//! Unit tests per question shape, on a hand-built shop schema.

mod asked;
mod examples;
mod joins;
mod language;
mod reuse;
mod schema_joins;
mod values;

use std::sync::Arc;

use super::*;
use crate::domain::{ColumnInfo, ForeignKey, TableInfo};
use crate::domain::{Dialect, TrainingKind};
use crate::engine::llm::{FailedAttempt, RetrievedContext};

fn col(name: &str, ty: &str, values: &[&str]) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        data_type: ty.into(),
        nullable: false,
        comment: None,
        sample_values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn fk(col: &str, table: &str) -> ForeignKey {
    ForeignKey {
        columns: vec![col.into()],
        ref_table: table.into(),
        ref_columns: vec!["id".into()],
    }
}

fn table(name: &str, columns: Vec<ColumnInfo>, fks: Vec<ForeignKey>) -> TableInfo {
    TableInfo {
        name: name.into(),
        columns,
        primary_key: vec!["id".into()],
        foreign_keys: fks,
        ..Default::default()
    }
}

fn shop() -> Arc<SchemaInfo> {
    Arc::new(SchemaInfo {
        tables: vec![
            table(
                "customers",
                vec![
                    col("id", "INTEGER", &[]),
                    col("name", "TEXT", &[]),
                    col("country", "TEXT", &["France", "Germany", "United States"]),
                    col(
                        "segment",
                        "TEXT",
                        &["Consumer", "Corporate", "Small Business"],
                    ),
                    col("created_at", "DATE", &[]),
                ],
                vec![],
            ),
            table(
                "products",
                vec![
                    col("id", "INTEGER", &[]),
                    col("name", "TEXT", &[]),
                    col(
                        "category",
                        "TEXT",
                        &["Books", "Electronics", "Office Supplies"],
                    ),
                    col("price", "REAL", &[]),
                    col("cost", "REAL", &[]),
                ],
                vec![],
            ),
            table(
                "employees",
                vec![
                    col("id", "INTEGER", &[]),
                    col("first_name", "TEXT", &["Felix", "O'Neil"]),
                    col("last_name", "TEXT", &["Novak"]),
                    col("region", "TEXT", &["East", "West"]),
                    col("hire_date", "DATE", &[]),
                    col("manager_id", "INTEGER", &[]),
                ],
                vec![fk("manager_id", "employees")],
            ),
            table(
                "orders",
                vec![
                    col("id", "INTEGER", &[]),
                    col("customer_id", "INTEGER", &[]),
                    col("employee_id", "INTEGER", &[]),
                    col("order_date", "DATE", &[]),
                    col(
                        "status",
                        "TEXT",
                        &["cancelled", "delivered", "pending", "shipped"],
                    ),
                    col("total", "REAL", &[]),
                ],
                vec![
                    fk("customer_id", "customers"),
                    fk("employee_id", "employees"),
                ],
            ),
            table(
                "order_items",
                vec![
                    col("id", "INTEGER", &[]),
                    col("order_id", "INTEGER", &[]),
                    col("product_id", "INTEGER", &[]),
                    col("quantity", "INTEGER", &[]),
                    col("unit_price", "REAL", &[]),
                ],
                vec![fk("order_id", "orders"), fk("product_id", "products")],
            ),
        ],
    })
}

fn request(q: &str) -> GenerationRequest {
    GenerationRequest {
        question: q.into(),
        dialect: Dialect::Sqlite,
        schema: shop(),
        context: RetrievedContext::default(),
        previous_attempts: vec![],
        correlation_id: None,
        token_budget: 0,
    }
}

fn gen_req(req: &GenerationRequest) -> (Result<String, String>, Option<String>) {
    let g = BuiltinGenerator::new().generate_sync(req);
    match g.outcome {
        GenerationOutcome::Sql { sql } => (Ok(sql), g.strategy),
        GenerationOutcome::Unanswerable { reason } => (Err(reason), g.strategy),
    }
}

#[track_caller]
fn sql(q: &str) -> String {
    match gen_req(&request(q)).0 {
        Ok(s) => s,
        Err(r) => panic!("{q:?} was unanswerable: {r}"),
    }
}

#[track_caller]
fn unanswerable(q: &str) -> String {
    match gen_req(&request(q)).0 {
        Ok(s) => panic!("{q:?} should be unanswerable, got {s}"),
        Err(r) => r,
    }
}

#[test]
fn counts_with_value_and_year_filters() {
    assert_eq!(
        sql("How many customers are in Germany?"),
        "SELECT COUNT(*) FROM customers WHERE country = 'Germany'"
    );
    assert_eq!(
        sql("How many orders per month in 2024?"),
        "SELECT strftime('%Y-%m', order_date) AS month, COUNT(*) AS count FROM orders \
         WHERE strftime('%Y', order_date) = '2024' GROUP BY strftime('%Y-%m', order_date) ORDER BY strftime('%Y-%m', order_date)"
    );
    // Values of the counted table itself: groups of those values.
    assert_eq!(
        sql("Which countries have more than 3 customers?"),
        "SELECT country FROM customers GROUP BY country HAVING COUNT(*) > 3"
    );
    // Plural names with a count condition: the rows that meet it.
    assert_eq!(
        sql("What are the names of customers with more than one order?"),
        "SELECT customers.name FROM customers JOIN orders ON orders.customer_id = customers.id \
         GROUP BY customers.id HAVING COUNT(DISTINCT orders.id) > 1"
    );
    assert_eq!(
        sql("How many customers have more than 10 orders?"),
        "SELECT COUNT(*) FROM (SELECT customers.id FROM customers JOIN orders ON orders.customer_id = customers.id \
         GROUP BY customers.id HAVING COUNT(DISTINCT orders.id) > 10) AS sub"
    );
    let (_, strategy) = gen_req(&request("number of clients"));
    assert_eq!(strategy.as_deref(), Some("count"));
}

#[test]
fn lists_filters_and_literals() {
    assert_eq!(
        sql("Customers in France or Germany"),
        "SELECT * FROM customers WHERE country IN ('France', 'Germany')"
    );
    assert_eq!(
        sql("Products with price over 100"),
        "SELECT * FROM products WHERE price > 100"
    );
    assert_eq!(
        sql("Products cheaper than 20"),
        "SELECT * FROM products WHERE price < 20"
    );
    assert_eq!(
        sql("Orders sorted by total descending"),
        "SELECT * FROM orders ORDER BY total DESC"
    );
    // Stored spelling with a quote is escaped, quoted or not.
    let expected = "SELECT orders.* FROM orders JOIN employees ON orders.employee_id = employees.id \
                    WHERE employees.first_name = 'O''Neil'";
    assert_eq!(sql("Orders handled by O'Neil"), expected);
    assert_eq!(sql("Orders handled by 'O'Neil'"), expected);
    assert_eq!(
        sql("the product 'Bob's; DROP TABLE x'"),
        "SELECT * FROM products WHERE name = 'Bob''s; DROP TABLE x'"
    );
}

#[test]
fn aggregates_and_groups_join_along_foreign_keys() {
    assert_eq!(
        sql("What is the average price of products?"),
        "SELECT AVG(price) AS average_price FROM products"
    );
    // The aggregate named first stands first.
    assert_eq!(
        sql("Total revenue by country"),
        "SELECT SUM(orders.total) AS total, customers.country FROM orders JOIN customers \
         ON orders.customer_id = customers.id GROUP BY customers.country ORDER BY customers.country"
    );
    // The aggregate named before "each" group comes first, as asked.
    assert_eq!(
        sql("What is the average price for each category?"),
        "SELECT AVG(price) AS average_price, category FROM products GROUP BY category ORDER BY category"
    );
    // Product-level grouping switches revenue to line items, so nothing fans out.
    assert_eq!(
        sql("Revenue per product category"),
        "SELECT products.category, SUM(order_items.quantity * order_items.unit_price) AS total_revenue \
         FROM order_items JOIN products ON order_items.product_id = products.id \
         GROUP BY products.category ORDER BY products.category"
    );
}

#[test]
fn top_n_and_superlatives() {
    assert_eq!(
        sql("Top 5 customers by total"),
        "SELECT customers.name, SUM(orders.total) AS total FROM orders JOIN customers ON orders.customer_id = customers.id \
         GROUP BY customers.id, customers.name ORDER BY total DESC, customers.id LIMIT 5"
    );
    // The count ranks; it is shown only when asked for.
    assert_eq!(
        sql("Which employee has the most orders?"),
        "SELECT employees.first_name, employees.last_name FROM orders \
         JOIN employees ON orders.employee_id = employees.id \
         GROUP BY employees.id, employees.first_name, employees.last_name ORDER BY COUNT(*) DESC, employees.id LIMIT 1"
    );
    assert_eq!(
        sql("Which employee has the most orders and how many?"),
        "SELECT employees.first_name, employees.last_name, COUNT(*) AS order_count FROM orders \
         JOIN employees ON orders.employee_id = employees.id \
         GROUP BY employees.id, employees.first_name, employees.last_name ORDER BY order_count DESC, employees.id LIMIT 1"
    );
    // Named columns of the ranked rows are what is shown.
    assert_eq!(
        sql("What are the id and last name of the employee with the largest number of orders?"),
        "SELECT employees.id, employees.last_name FROM orders \
         JOIN employees ON orders.employee_id = employees.id \
         GROUP BY employees.id, employees.last_name ORDER BY COUNT(*) DESC, employees.id LIMIT 1"
    );
    // "the greatest number of" ranks by row counts like "the most".
    assert_eq!(
        sql("Which country has the greatest number of customers?"),
        "SELECT country FROM customers GROUP BY country ORDER BY COUNT(*) DESC LIMIT 1"
    );
    // A name column counted in another table: per row of its table, not per name.
    assert_eq!(
        sql("Which product name has the most order items?"),
        "SELECT products.name FROM order_items JOIN products ON order_items.product_id = products.id \
         GROUP BY products.id, products.name ORDER BY COUNT(*) DESC LIMIT 1"
    );
    // A column that names no row is counted per value.
    assert_eq!(
        sql("Which segment has the most orders?"),
        "SELECT customers.segment FROM orders JOIN customers ON orders.customer_id = customers.id \
         GROUP BY customers.segment ORDER BY COUNT(*) DESC LIMIT 1"
    );
    // The measure right before the superlative ranks; it is not shown.
    assert_eq!(
        sql("What is the name of the product whose cost is the highest?"),
        "SELECT name FROM products ORDER BY cost DESC, id DESC LIMIT 1"
    );
    assert_eq!(
        sql("most expensive product"),
        "SELECT * FROM products ORDER BY price DESC, id DESC LIMIT 1"
    );
    assert_eq!(
        sql("the 3 cheapest products"),
        "SELECT * FROM products ORDER BY price ASC, id ASC LIMIT 3"
    );
    assert_eq!(
        sql("latest 2 orders"),
        "SELECT * FROM orders ORDER BY order_date DESC, id DESC LIMIT 2"
    );
}

#[test]
fn distinct_values() {
    assert_eq!(
        sql("List distinct product categories"),
        "SELECT DISTINCT category FROM products ORDER BY category"
    );
    assert_eq!(
        sql("Which countries do we have customers in?"),
        "SELECT DISTINCT country FROM customers ORDER BY country"
    );
}

#[test]
fn dialects_change_date_functions_and_quoting() {
    let mut req = request("How many orders in 2024?");
    req.dialect = Dialect::Postgres;
    assert_eq!(
        gen_req(&req).0.unwrap(),
        "SELECT COUNT(*) FROM orders WHERE EXTRACT(YEAR FROM order_date) = 2024"
    );
    req.dialect = Dialect::Mysql;
    assert_eq!(
        gen_req(&req).0.unwrap(),
        "SELECT COUNT(*) FROM orders WHERE YEAR(order_date) = 2024"
    );
    assert_eq!(
        shapes::quote_ident(Dialect::Mysql, "Order Items"),
        "`Order Items`"
    );
    assert_eq!(shapes::quote_ident(Dialect::Postgres, "order"), "\"order\"");
    assert_eq!(shapes::quote_str(Dialect::Mysql, r"a\'b"), r"'a\\''b'");
}

#[test]
fn unmapped_questions_are_unanswerable() {
    let r = unanswerable("how many unicorns are there");
    assert!(
        r.contains("unicorns") && r.contains("Known tables: customers"),
        "{r}"
    );
    unanswerable("what is the meaning of life");
    unanswerable("hello there");
    // A negation the reading cannot place still stops it.
    let r = unanswerable("Which customers are not happy with either product?");
    assert!(r.contains("'either'"), "{r}");
    unanswerable("Show orders 42");
}

fn example(content: &str, sql: &str, score: f32) -> crate::engine::llm::ContextItem {
    crate::engine::llm::ContextItem {
        id: "x".into(),
        kind: TrainingKind::QuestionSql,
        score,
        content: content.into(),
        sql: Some(sql.into()),
    }
}

#[test]
fn named_columns_are_the_projection() {
    assert_eq!(
        sql("Show the name and segment of customers in Germany"),
        "SELECT name, segment FROM customers WHERE country = 'Germany'"
    );
    assert_eq!(
        sql("Show the ids of customers in France"),
        "SELECT id FROM customers WHERE country = 'France'"
    );
    assert_eq!(
        sql("What is the name of the most expensive product?"),
        "SELECT name FROM products ORDER BY price DESC, id DESC LIMIT 1"
    );
    assert_eq!(
        sql("Show the name and segment of all customers in alphabetical order"),
        "SELECT name, segment FROM customers ORDER BY name"
    );
}

#[test]
fn negations_become_not_equal_or_not_in() {
    assert_eq!(
        sql("How many customers are not in Germany?"),
        "SELECT COUNT(*) FROM customers WHERE country <> 'Germany'"
    );
    assert_eq!(
        sql("Which customers have no orders?"),
        "SELECT name FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)"
    );
    // The negated part keeps its own filters, inside the subquery.
    assert_eq!(
        sql("List the customers who never placed a cancelled order"),
        "SELECT * FROM customers WHERE id NOT IN \
         (SELECT customer_id FROM orders WHERE status = 'cancelled')"
    );
    // Another table's column right after the negation, with a value: no such rows.
    assert_eq!(
        sql("Names of customers who never had the status cancelled"),
        "SELECT DISTINCT name FROM customers WHERE id NOT IN \
         (SELECT customer_id FROM orders WHERE status = 'cancelled') ORDER BY name"
    );
    // The subject's own column and a literal after it: `<>`.
    assert_eq!(
        sql("Employees that do not have the region 'North'"),
        "SELECT * FROM employees WHERE region <> 'North'"
    );
    // A literal right before the negation is what is negated: not read as
    // "no rows" of the column's table.
    unanswerable("Customers where 'Acme' is not the status");
    // "no more than" is a comparison, not a negation.
    assert_eq!(
        sql("Which products have a price of no more than 20?"),
        "SELECT name FROM products WHERE price <= 20"
    );
}

#[test]
fn relationship_verbs_are_read_past_but_literals_are_not() {
    // "bought" links to nothing; the join says it.
    assert_eq!(
        sql("How many customers reviewed products?"),
        sql("How many customers products?")
    );
    let r = unanswerable("How many orders are in Atlantis?");
    assert!(r.contains("Atlantis"), "{r}");
}

#[test]
fn counts_per_shown_row_and_distinct_counts() {
    assert_eq!(
        sql("Show the names of customers and the number of orders"),
        "SELECT customers.name, COUNT(*) AS count FROM orders JOIN customers ON orders.customer_id = customers.id \
         GROUP BY customers.id, customers.name"
    );
    assert_eq!(
        sql("How many different countries do customers come from?"),
        "SELECT COUNT(DISTINCT country) FROM customers"
    );
    assert_eq!(
        sql("Which status has the most orders?"),
        "SELECT status FROM orders GROUP BY status ORDER BY COUNT(*) DESC LIMIT 1"
    );
}

#[test]
fn comparisons_with_columns_averages_and_ranges() {
    assert_eq!(
        sql("List products with a price above the average price"),
        "SELECT * FROM products WHERE price > (SELECT AVG(price) FROM products)"
    );
    assert_eq!(
        sql("Which products cost between 10 and 20?"),
        "SELECT name FROM products WHERE cost >= 10 AND cost <= 20"
    );
    assert_eq!(
        sql("Show orders with quantity 3"),
        "SELECT DISTINCT orders.* FROM orders JOIN order_items ON order_items.order_id = orders.id \
         WHERE order_items.quantity = 3"
    );
    assert_eq!(
        sql("What are the average, minimum and maximum price of products?"),
        "SELECT AVG(price) AS average_price, MIN(price) AS minimum_price, MAX(price) AS maximum_price FROM products"
    );
}

#[test]
fn substrings_ordering_and_named_columns() {
    // The text's own wildcards are matched literally.
    assert_eq!(
        sql("Find customers whose name contains the substring '5%_off'"),
        r"SELECT * FROM customers WHERE name LIKE '%5\%\_off%' ESCAPE '\'"
    );
    assert_eq!(
        sql("Find customers whose name contains the substring 'son'"),
        "SELECT * FROM customers WHERE name LIKE '%son%'"
    );
    assert_eq!(
        sql("List product names in descending order of price"),
        "SELECT name FROM products ORDER BY price DESC"
    );
    assert_eq!(
        sql("List all distinct product names in descending order"),
        "SELECT DISTINCT name FROM products ORDER BY name DESC"
    );
}

#[test]
fn both_and_either_join_two_readings() {
    assert_eq!(
        sql("Which customers have orders with both status cancelled and status pending?"),
        "SELECT DISTINCT customers.name FROM customers JOIN orders ON orders.customer_id = customers.id \
         WHERE orders.status = 'cancelled' INTERSECT SELECT DISTINCT customers.name FROM customers \
         JOIN orders ON orders.customer_id = customers.id WHERE orders.status = 'pending'"
    );
    assert_eq!(
        sql("List customers in either France or Germany"),
        "SELECT * FROM customers WHERE country = 'France' UNION SELECT * FROM customers WHERE country = 'Germany'"
    );
    let (_, strategy) = gen_req(&request("List customers in either France or Germany"));
    assert_eq!(strategy.as_deref(), Some("set_operation"));
    // "both" without parallel filters is not split.
    unanswerable("Show both the name and the country of happy customers");
}

#[test]
fn abbreviated_column_names_are_found_by_their_words() {
    let schema = Arc::new(SchemaInfo {
        tables: vec![table(
            "student",
            vec![
                col("StuID", "INTEGER", &[]),
                col("Fname", "TEXT", &[]),
                col("LName", "TEXT", &[]),
                col("Age", "INTEGER", &[]),
            ],
            vec![],
        )],
    });
    let req = GenerationRequest {
        schema,
        ..request("What are the first name and last name of every student with an age above 20?")
    };
    assert_eq!(
        gen_req(&req).0.unwrap(),
        "SELECT \"Fname\", \"LName\" FROM student WHERE \"Age\" > 20"
    );
}

#[test]
fn a_named_table_and_the_ordering_table_are_joined_to_the_listed_column() {
    let mut people = table(
        "people",
        vec![col("People_ID", "int", &[]), col("Name", "text", &[])],
        vec![],
    );
    people.primary_key = vec!["People_ID".into()];
    let mut players = table(
        "poker_player",
        vec![
            col("Poker_Player_ID", "int", &[]),
            col("People_ID", "int", &[]),
            col("Earnings", "real", &[]),
        ],
        vec![ForeignKey {
            columns: vec!["People_ID".into()],
            ref_table: "people".into(),
            ref_columns: vec!["People_ID".into()],
        }],
    );
    players.primary_key = vec!["Poker_Player_ID".into()];
    let schema = Arc::new(SchemaInfo {
        tables: vec![players, people],
    });
    let ask = |q: &str| {
        gen_req(&GenerationRequest {
            schema: schema.clone(),
            ..request(q)
        })
        .0
        .unwrap()
    };
    // Names live in `people`; only poker players' names are asked for, and
    // the ordering column is theirs: both tables are joined.
    assert_eq!(
        ask("What are the names of poker players in descending order of earnings?"),
        "SELECT people.\"Name\" FROM people JOIN poker_player ON poker_player.\"People_ID\" = people.\"People_ID\" \
         ORDER BY poker_player.\"Earnings\" DESC"
    );
    assert_eq!(
        ask("What are the names of poker players?"),
        "SELECT DISTINCT people.\"Name\" FROM people JOIN poker_player ON poker_player.\"People_ID\" = people.\"People_ID\" \
         ORDER BY people.\"Name\""
    );
}

/// The README's correction ("customers per country") must not hijack
/// questions that do not group by country (issue 14).
#[test]
fn a_trained_grouping_never_answers_other_questions() {
    let trained = "SELECT country, COUNT(*) AS customers FROM customers GROUP BY country ORDER BY customers DESC";
    let ex = |score| {
        example(
            "How many customers are there in each country?",
            trained,
            score,
        )
    };

    let mut req = request("How many customers do we have?");
    req.context.examples = vec![ex(0.66)];
    let g = BuiltinGenerator::new().generate_sync(&req);
    assert_eq!(
        g.outcome,
        GenerationOutcome::Sql {
            sql: "SELECT COUNT(*) FROM customers".into()
        }
    );
    assert_ne!(g.strategy.as_deref(), Some("trained_example"));

    let mut req = request("How many new customers signed up each year?");
    req.context.examples = vec![ex(0.39)];
    let g = BuiltinGenerator::new().generate_sync(&req);
    assert!(
        !matches!(&g.outcome, GenerationOutcome::Sql { sql } if sql.contains("GROUP BY country")),
        "{g:?}"
    );

    // The same question in other words still reuses it, and says so.
    let mut req = request("how many customers are there per country");
    req.context.examples = vec![ex(0.9)];
    let g = BuiltinGenerator::new().generate_sync(&req);
    assert_eq!(
        g.outcome,
        GenerationOutcome::Sql {
            sql: trained.into()
        }
    );
    let trust = g.trust.unwrap();
    assert_eq!(trust.assumptions[0].code, "trained_example");
}

#[test]
fn confidence_says_what_was_read_past() {
    let g = BuiltinGenerator::new().generate_sync(&request("How many customers are there?"));
    let trust = g.trust.unwrap();
    assert_eq!(trust.confidence, Confidence::High, "{trust:?}");
    assert!(trust.assumptions.is_empty());

    // Words read past and a join inferred: never high, and each is said.
    let g = BuiltinGenerator::new().generate_sync(&request(
        "How many products were reviewed by customers in France?",
    ));
    assert!(matches!(g.outcome, GenerationOutcome::Sql { .. }), "{g:?}");
    let trust = g.trust.unwrap();
    assert_eq!(trust.confidence, Confidence::Medium, "{trust:?}");
    let codes: Vec<&str> = trust.assumptions.iter().map(|a| a.code.as_str()).collect();
    assert!(codes.contains(&"words_ignored"), "{trust:?}");
    assert!(codes.contains(&"joined_tables"), "{trust:?}");
    assert!(
        trust
            .assumptions
            .iter()
            .any(|a| a.message.contains("'reviewed'")),
        "{trust:?}"
    );

    // An adapted example is never high.
    let mut req = request("How many customers are in France?");
    req.context.examples = vec![example(
        "How many customers are in Germany?",
        "SELECT COUNT(*) FROM customers WHERE country = 'Germany'",
        0.9,
    )];
    let g = BuiltinGenerator::new().generate_sync(&req);
    assert_eq!(
        g.outcome,
        GenerationOutcome::Sql {
            sql: "SELECT COUNT(*) FROM customers WHERE country = 'France'".into()
        }
    );
    let trust = g.trust.unwrap();
    assert_eq!(trust.confidence, Confidence::Medium);
    assert_eq!(trust.assumptions[0].code, "adapted_example");
}
