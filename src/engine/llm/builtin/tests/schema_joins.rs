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
        columns: vec![col("student_id", "INTEGER", &[]), col(other, "INTEGER", &[])],
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
        "SELECT name FROM \"Highschooler\" WHERE \"ID\" NOT IN (SELECT student_id FROM \"Friend\")"
    );
    // The two-word name of the key is still the column.
    let s = sql_on(network(), Dialect::Sqlite, "Show the student ids of all likes.");
    assert!(s.starts_with("SELECT student_id FROM \"Likes\""), "{s}");
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
