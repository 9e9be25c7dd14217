//! Values and aggregates (issue 14, family B): numbers stored in text
//! columns are compared and aggregated as numbers, several aggregates in
//! one row or per group, and "how many people" over a population column.

use super::*;

/// A kennel: ages and weights stored as text, a zip code and a yes/no
/// flag that only look like numbers, a year stored as text.
fn kennel() -> Arc<SchemaInfo> {
    Arc::new(SchemaInfo {
        tables: vec![
            table(
                "dogs",
                vec![
                    col("id", "INTEGER", &[]),
                    col("name", "TEXT", &[]),
                    col("breed", "TEXT", &["Bulldog", "Husky"]),
                    col("age", "VARCHAR(20)", &["1", "10", "2", "9"]),
                    col("weight", "VARCHAR(20)", &["7.57", "12.5"]),
                    col("zip_code", "VARCHAR(20)", &["02647", "93165"]),
                    col("abandoned_yn", "VARCHAR(1)", &["0", "1"]),
                    col("arrival_year", "TEXT", &["2017", "2018"]),
                ],
                vec![],
            ),
            table(
                "towns",
                vec![
                    col("id", "INTEGER", &[]),
                    col("name", "TEXT", &[]),
                    col("district", "TEXT", &["Gelderland", "Utrecht"]),
                    col("population", "INTEGER", &[]),
                ],
                vec![],
            ),
            table(
                "shows",
                vec![
                    col("id", "INTEGER", &[]),
                    col("title", "TEXT", &[]),
                    col("share", "TEXT", &["22.7%", "29.4%"]),
                ],
                vec![],
            ),
        ],
    })
}

fn kennel_sql(q: &str, dialect: Dialect) -> String {
    let req = GenerationRequest {
        schema: kennel(),
        dialect,
        ..request(q)
    };
    match gen_req(&req).0 {
        Ok(s) => s,
        Err(r) => panic!("{q:?} was unanswerable: {r}"),
    }
}

#[test]
fn text_columns_of_plain_numbers_hold_quantities() {
    let schema = kennel();
    let dogs = &schema.tables[0].columns;
    let holds = |name: &str| {
        let c = dogs.iter().find(|c| c.name == name).unwrap();
        linking::holds_numbers(c)
    };
    assert!(holds("age") && holds("weight"));
    // Codes, flags and years only look like numbers.
    assert!(!holds("zip_code") && !holds("abandoned_yn") && !holds("arrival_year"));
    assert!(!holds("breed") && !holds("id"));
}

#[test]
fn numbers_stored_as_text_are_aggregated_compared_and_ranked_as_numbers() {
    let sq = |q: &str| kennel_sql(q, Dialect::Sqlite);
    assert_eq!(
        sq("What is the average age of all the dogs?"),
        "SELECT AVG(CAST(age AS REAL)) AS average_age FROM dogs"
    );
    // "10" is older than "9": compared and sorted as numbers.
    assert_eq!(
        sq("Dogs with age above 5"),
        "SELECT * FROM dogs WHERE CAST(age AS REAL) > 5"
    );
    assert_eq!(
        sq("How many dogs have an age below the average?"),
        "SELECT COUNT(*) FROM dogs WHERE CAST(age AS REAL) < (SELECT AVG(CAST(age AS REAL)) FROM dogs)"
    );
    assert_eq!(
        sq("What is the age of the oldest dog?"),
        "SELECT age FROM dogs ORDER BY CAST(age AS REAL) DESC, id DESC LIMIT 1"
    );
    // Each dialect casts its own way.
    assert_eq!(
        kennel_sql("Dogs with age above 5", Dialect::Postgres),
        "SELECT * FROM dogs WHERE CAST(age AS DOUBLE PRECISION) > 5"
    );
    assert_eq!(
        kennel_sql("Dogs with age above 5", Dialect::Mysql),
        "SELECT * FROM dogs WHERE (age + 0) > 5"
    );
    // A column of a number type is used as is.
    assert_eq!(
        sql("Products with price over 100"),
        "SELECT * FROM products WHERE price > 100"
    );
}

#[test]
fn several_aggregates_in_one_row_or_per_group() {
    // A column also compared is still the one aggregated.
    assert_eq!(
        sql("What is the total price and average cost of products with cost over 10?"),
        "SELECT SUM(price) AS total_price, AVG(cost) AS average_cost FROM products WHERE cost > 10"
    );
    // Per group, the aggregates first as asked.
    assert_eq!(
        sql("What is the average and maximum price for each category?"),
        "SELECT AVG(price) AS average_price, MAX(price) AS maximum_price, category \
         FROM products GROUP BY category ORDER BY category"
    );
}

#[test]
fn how_many_people_sums_a_population() {
    let sq = |q: &str| kennel_sql(q, Dialect::Sqlite);
    assert_eq!(
        sq("How many people live in Gelderland district?"),
        "SELECT SUM(population) AS total_population FROM towns WHERE district = 'Gelderland'"
    );
    // Rows without a population are counted.
    assert_eq!(
        sq("How many towns are in Gelderland district?"),
        "SELECT COUNT(*) FROM towns WHERE district = 'Gelderland'"
    );
}

#[test]
fn aggregates_stand_where_the_question_names_them() {
    // The aggregate named before the group comes first, "each" or not.
    assert_eq!(
        sql("List the maximum price and category for each category."),
        "SELECT MAX(price) AS maximum_price, category FROM products GROUP BY category ORDER BY category"
    );
    // The group named first comes first.
    assert_eq!(
        sql("For each category, what is the maximum price?"),
        "SELECT category, MAX(price) AS maximum_price FROM products GROUP BY category ORDER BY category"
    );
}

#[test]
fn the_largest_and_smallest_of_a_text_column_are_its_last_and_first_values() {
    assert_eq!(
        kennel_sql(
            "What are the maximum and minimum share of shows?",
            Dialect::Sqlite
        ),
        "SELECT MAX(share) AS maximum_share, MIN(share) AS minimum_share FROM shows"
    );
    // Sums and averages still need numbers.
    let req = GenerationRequest {
        schema: kennel(),
        ..request("What are the average and total share of shows?")
    };
    assert!(gen_req(&req).0.is_err());
}

#[test]
fn names_of_another_table_before_an_aggregate_ask_for_one_row_each() {
    assert_eq!(
        sql("Show the names of products and the total quantity of their order items."),
        "SELECT products.name, SUM(order_items.quantity) AS total_quantity FROM order_items \
         JOIN products ON order_items.product_id = products.id \
         GROUP BY products.id, products.name ORDER BY products.id, products.name"
    );
}
