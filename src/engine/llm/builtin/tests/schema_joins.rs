//! Joins read from the schema (issue 14, JOIN / SCHEMA families): counts
//! over a composite key, the words of a link table's keys, column
//! candidates that reference one another, and which of two keys to one
//! table a question means.

use super::*;

/// Students and their friendships: `Friend` is a link table whose key is
/// the pair (student_id, friend_id), both referencing `Highschooler`;
/// SQLite lists the keys in reverse declaration order, as here.
fn network() -> Arc<SchemaInfo> {
    let link = |name: &str, other: &str| TableInfo {
        name: name.into(),
        columns: vec![
            col("student_id", "INTEGER", &[]),
            col(other, "INTEGER", &[]),
        ],
        primary_key: vec!["student_id".into(), other.into()],
        foreign_keys: vec![
            ForeignKey {
                columns: vec![other.into()],
                ref_table: "Highschooler".into(),
                ref_columns: vec!["ID".into()],
            },
            ForeignKey {
                columns: vec!["student_id".into()],
                ref_table: "Highschooler".into(),
                ref_columns: vec!["ID".into()],
            },
        ],
        ..Default::default()
    };
    Arc::new(SchemaInfo {
        tables: vec![
            TableInfo {
                name: "Highschooler".into(),
                columns: vec![
                    col("ID", "INTEGER", &[]),
                    col("name", "TEXT", &["Jordan", "Kyle"]),
                    col("grade", "INTEGER", &[]),
                ],
                primary_key: vec!["ID".into()],
                ..Default::default()
            },
            link("Friend", "friend_id"),
            link("Likes", "liked_id"),
        ],
    })
}

/// Car makers, their models, and the car names that point at a model by
/// its name (`car_names.Model` references `model_list.Model`).
fn cars() -> Arc<SchemaInfo> {
    let key = |c: &str, t: &str, k: &str| ForeignKey {
        columns: vec![c.into()],
        ref_table: t.into(),
        ref_columns: vec![k.into()],
    };
    Arc::new(SchemaInfo {
        tables: vec![
            TableInfo {
                name: "car_makers".into(),
                columns: vec![
                    col("Id", "INTEGER", &[]),
                    col("Maker", "TEXT", &["amc", "volvo"]),
                    col("FullName", "TEXT", &[]),
                ],
                primary_key: vec!["Id".into()],
                ..Default::default()
            },
            TableInfo {
                name: "model_list".into(),
                columns: vec![
                    col("ModelId", "INTEGER", &[]),
                    col("Maker", "INTEGER", &[]),
                    col("Model", "TEXT", &[]),
                ],
                primary_key: vec!["ModelId".into()],
                foreign_keys: vec![key("Maker", "car_makers", "Id")],
                ..Default::default()
            },
            TableInfo {
                name: "car_names".into(),
                columns: vec![
                    col("MakeId", "INTEGER", &[]),
                    col("Model", "TEXT", &[]),
                    col("Make", "TEXT", &[]),
                ],
                primary_key: vec!["MakeId".into()],
                foreign_keys: vec![key("Model", "model_list", "Model")],
                ..Default::default()
            },
        ],
    })
}

#[track_caller]
fn sql_on(schema: Arc<SchemaInfo>, dialect: Dialect, q: &str) -> String {
    let mut req = request(q);
    req.schema = schema;
    req.dialect = dialect;
    match gen_req(&req).0 {
        Ok(s) => s,
        Err(r) => panic!("{q:?} was unanswerable: {r}"),
    }
}

#[test]
fn a_count_over_a_composite_key_counts_whole_keys() {
    let q = "What are the names of highschoolers who have 3 or more friends?";
    let s = sql_on(network(), Dialect::Sqlite, q);
    assert!(
        s.contains(
            "HAVING COUNT(DISTINCT \"Friend\".student_id || '|' || \"Friend\".friend_id) >= 3"
        ),
        "{s}"
    );
    let s = sql_on(network(), Dialect::Postgres, q);
    assert!(
        s.contains("HAVING COUNT(DISTINCT (\"Friend\".student_id, \"Friend\".friend_id)) >= 3"),
        "{s}"
    );
    let s = sql_on(network(), Dialect::Mysql, q);
    assert!(
        s.contains("HAVING COUNT(DISTINCT `Friend`.student_id, `Friend`.friend_id) >= 3"),
        "{s}"
    );
}

#[test]
fn a_word_of_a_link_table_key_names_the_rows_it_references() {
    // "students" are Highschooler rows, not `Friend.student_id` values.
    assert_eq!(
        sql_on(
            network(),
            Dialect::Sqlite,
            "What are the names of students who have no friends?"
        ),
        "SELECT DISTINCT name FROM \"Highschooler\" WHERE \"ID\" NOT IN \
         (SELECT student_id FROM \"Friend\") ORDER BY name"
    );
}

#[test]
fn a_word_for_two_columns_reads_the_referenced_one_first() {
    // `car_names.Model` points at `model_list.Model`: "models" are the
    // models of `model_list`.
    let s = sql_on(
        cars(),
        Dialect::Sqlite,
        "How many models were produced by the maker amc?",
    );
    assert!(s.starts_with("SELECT COUNT(*) FROM model_list"), "{s}");
    assert!(!s.contains("car_names"), "{s}");
}

/// Flights with two keys to `airports`, one per end of the trip, listed
/// destination first (SQLite's reverse order).
fn flights() -> Arc<SchemaInfo> {
    let key = |c: &str| ForeignKey {
        columns: vec![c.into()],
        ref_table: "airports".into(),
        ref_columns: vec!["AirportCode".into()],
    };
    Arc::new(SchemaInfo {
        tables: vec![
            TableInfo {
                name: "airports".into(),
                columns: vec![
                    col("City", "TEXT", &["Aberdeen", "Abilene"]),
                    col("AirportCode", "TEXT", &[]),
                    col("AirportName", "TEXT", &[]),
                ],
                primary_key: vec!["AirportCode".into()],
                ..Default::default()
            },
            TableInfo {
                name: "flights".into(),
                columns: vec![
                    col("FlightNo", "INTEGER", &[]),
                    col("SourceAirport", "TEXT", &[]),
                    col("DestAirport", "TEXT", &[]),
                ],
                primary_key: vec!["FlightNo".into()],
                foreign_keys: vec![key("DestAirport"), key("SourceAirport")],
                ..Default::default()
            },
        ],
    })
}

#[test]
fn of_two_keys_for_the_ends_of_a_trip_the_asked_end_is_joined() {
    for (q, key) in [
        ("How many flights depart from Aberdeen?", "SourceAirport"),
        ("Count the flights leaving Abilene.", "SourceAirport"),
        ("How many flights are arriving in Aberdeen?", "DestAirport"),
        (
            "How many flights land in Aberdeen or Abilene?",
            "DestAirport",
        ),
        (
            "Which city has the most departing flights?",
            "SourceAirport",
        ),
        ("Which city has the most arriving flights?", "DestAirport"),
    ] {
        let s = sql_on(flights(), Dialect::Sqlite, q);
        assert!(
            s.contains(&format!("flights.\"{key}\" = airports.\"AirportCode\"")),
            "{q}: {s}"
        );
    }
}

#[test]
fn a_reference_is_chosen_by_its_role_not_by_the_order_of_the_keys() {
    // Both keys reference `customers`; the database lists the billing one
    // first. "their customer" is the key named after the table alone.
    let schema = Arc::new(SchemaInfo {
        tables: vec![
            table(
                "customers",
                vec![col("id", "INTEGER", &[]), col("name", "TEXT", &[])],
                vec![],
            ),
            table(
                "invoices",
                vec![
                    col("id", "INTEGER", &[]),
                    col("number", "TEXT", &[]),
                    col("customer_id", "INTEGER", &[]),
                    col("billing_customer_id", "INTEGER", &[]),
                ],
                vec![
                    fk("billing_customer_id", "customers"),
                    fk("customer_id", "customers"),
                ],
            ),
        ],
    });
    let s = sql_on(
        schema,
        Dialect::Sqlite,
        "List the invoices with their customer names.",
    );
    assert!(
        s.contains("LEFT JOIN customers ON invoices.customer_id = customers.id"),
        "{s}"
    );
}

#[test]
fn rows_reached_through_a_link_table_join_their_table_twice() {
    for q in [
        "Show the names of all of Kyle's friends.",
        "Return the names of friends of the student Kyle.",
    ] {
        assert_eq!(
            sql_on(network(), Dialect::Sqlite, q),
            "SELECT friend_highschooler.name FROM \"Friend\" JOIN \"Highschooler\" AS student \
             ON \"Friend\".student_id = student.\"ID\" JOIN \"Highschooler\" AS friend_highschooler \
             ON \"Friend\".friend_id = friend_highschooler.\"ID\" WHERE student.name = 'Kyle'",
            "{q}"
        );
    }
}

/// Students with two addresses, the permanent one listed first (SQLite's
/// reverse order of the declared keys).
fn addresses() -> Arc<SchemaInfo> {
    let key = |c: &str| ForeignKey {
        columns: vec![c.into()],
        ref_table: "addresses".into(),
        ref_columns: vec!["address_id".into()],
    };
    Arc::new(SchemaInfo {
        tables: vec![
            TableInfo {
                name: "addresses".into(),
                columns: vec![
                    col("address_id", "INTEGER", &[]),
                    col("line_1", "TEXT", &[]),
                    col("country", "TEXT", &["Haiti", "Peru"]),
                ],
                primary_key: vec!["address_id".into()],
                ..Default::default()
            },
            TableInfo {
                name: "students".into(),
                columns: vec![
                    col("student_id", "INTEGER", &[]),
                    col("current_address_id", "INTEGER", &[]),
                    col("permanent_address_id", "INTEGER", &[]),
                    col("first_name", "TEXT", &[]),
                ],
                primary_key: vec!["student_id".into()],
                foreign_keys: vec![key("permanent_address_id"), key("current_address_id")],
                ..Default::default()
            },
        ],
    })
}

#[test]
fn of_two_keys_to_one_table_the_named_one_else_the_first_declared_is_joined() {
    for (q, key) in [
        ("How many students live in Haiti?", "current_address_id"),
        (
            "How many students currently live in Haiti?",
            "current_address_id",
        ),
        (
            "How many students have a permanent address in Haiti?",
            "permanent_address_id",
        ),
    ] {
        let s = sql_on(addresses(), Dialect::Sqlite, q);
        assert!(
            s.contains(&format!("students.{key} = addresses.address_id")),
            "{q}: {s}"
        );
    }
}

#[test]
fn two_words_may_spell_a_one_word_table_name() {
    assert_eq!(
        sql_on(
            network(),
            Dialect::Sqlite,
            "How many high schoolers are there?"
        ),
        "SELECT COUNT(*) FROM \"Highschooler\""
    );
}

#[test]
fn an_opening_verb_is_not_a_table_of_that_name() {
    let schema = Arc::new(SchemaInfo {
        tables: vec![
            table(
                "conductor",
                vec![col("id", "INTEGER", &[]), col("name", "TEXT", &[])],
                vec![],
            ),
            TableInfo {
                name: "show".into(),
                columns: vec![col("result", "TEXT", &[]), col("attendance", "REAL", &[])],
                ..Default::default()
            },
        ],
    });
    assert_eq!(
        sql_on(schema, Dialect::Sqlite, "Show the names of conductors."),
        "SELECT DISTINCT name FROM conductor ORDER BY name"
    );
}
