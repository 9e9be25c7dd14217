//! Joins and set operations (issue 14, family A): which of two keys to the
//! same table a join walks, negations that exclude values rather than
//! rows, and "both … and …" read as `INTERSECT`.

use super::*;

/// Students, their friendships (two keys to `students`, listed with the
/// key named after its own table first, as SQLite reports declared keys in
/// reverse), TV channels and the cartoons they play.
fn school() -> Arc<SchemaInfo> {
    let friends = TableInfo {
        name: "friends".into(),
        columns: vec![
            col("student_id", "INTEGER", &[]),
            col("friend_id", "INTEGER", &[]),
        ],
        primary_key: vec!["student_id".into(), "friend_id".into()],
        foreign_keys: vec![fk("friend_id", "students"), fk("student_id", "students")],
        ..Default::default()
    };
    Arc::new(SchemaInfo {
        tables: vec![
            table(
                "students",
                vec![
                    col("id", "INTEGER", &[]),
                    col("name", "TEXT", &["Jordan", "Kyle"]),
                    col("grade", "INTEGER", &[]),
                ],
                vec![],
            ),
            friends,
            table(
                "channels",
                vec![
                    col("id", "INTEGER", &[]),
                    col("series_name", "TEXT", &[]),
                    col("country", "TEXT", &["Italy", "Poland"]),
                ],
                vec![],
            ),
            table(
                "cartoons",
                vec![
                    col("id", "INTEGER", &[]),
                    col("title", "TEXT", &[]),
                    col("written_by", "TEXT", &["Todd Casey", "Joseph Kuhr"]),
                    col("channel_id", "INTEGER", &[]),
                ],
                vec![fk("channel_id", "channels")],
            ),
        ],
    })
}

#[track_caller]
fn school_sql(q: &str) -> String {
    let mut req = request(q);
    req.schema = school();
    match gen_req(&req).0 {
        Ok(s) => s,
        Err(r) => panic!("{q:?} was unanswerable: {r}"),
    }
}

fn school_trust(q: &str) -> crate::engine::llm::trust::Trust {
    let mut req = request(q);
    req.schema = school();
    BuiltinGenerator::new()
        .generate_sync(&req)
        .trust
        .unwrap_or_else(|| panic!("{q:?}: no answer"))
}

#[test]
fn of_two_keys_to_one_table_the_one_not_named_after_its_table_is_walked() {
    for q in [
        "What is the name of the student with the most friends?",
        "Count the number of friends Kyle has.",
        "What are the names of the students and how many friends does each have?",
    ] {
        let s = school_sql(q);
        assert!(s.contains("friends.student_id = students.id"), "{q}: {s}");
        assert!(!s.contains("friend_id"), "{q}: {s}");
    }
    // A student without friends has no row of their own.
    let s = school_sql("Find the minimum grade of students who have no friends.");
    assert!(
        s.contains("id NOT IN (SELECT student_id FROM friends)"),
        "{s}"
    );
}

#[test]
fn a_negation_on_distinct_values_excludes_the_values() {
    assert_eq!(
        school_sql(
            "What are the countries of channels that are not playing cartoons written by Todd Casey?"
        ),
        "SELECT DISTINCT country FROM channels WHERE country NOT IN (SELECT channels.country \
         FROM channels JOIN cartoons ON cartoons.channel_id = channels.id \
         WHERE cartoons.written_by = 'Todd Casey' AND channels.country IS NOT NULL) ORDER BY country"
    );
    // Names stand for their rows: the rows are negated.
    let s = school_sql(
        "What are the series names of channels that do not play cartoons written by Todd Casey?",
    );
    assert!(
        s.contains("id NOT IN (SELECT channel_id FROM cartoons WHERE written_by = 'Todd Casey')"),
        "{s}"
    );
}

#[test]
fn two_values_joined_by_and_on_the_many_side_are_both_had() {
    let q = "What are the series names of channels playing cartoons written by Todd Casey and Joseph Kuhr?";
    let s = school_sql(q);
    let (a, b) = s.split_once(" INTERSECT ").unwrap_or_else(|| panic!("{s}"));
    assert!(
        a.contains("written_by = 'Todd Casey'") && !a.contains("ORDER BY"),
        "{s}"
    );
    assert!(b.contains("written_by = 'Joseph Kuhr'"), "{s}");
    let codes: Vec<String> = school_trust(q)
        .assumptions
        .into_iter()
        .map(|a| a.code)
        .collect();
    assert!(codes.contains(&"values_both".to_string()), "{codes:?}");
    assert_eq!(
        school_trust(q).confidence,
        crate::engine::llm::trust::Confidence::Medium
    );
    // "or", and rows of the filtered table itself, keep `IN`.
    for q in [
        "What are the series names of channels playing cartoons written by Todd Casey or Joseph Kuhr?",
        "What are the titles of cartoons written by Todd Casey and Joseph Kuhr?",
    ] {
        let s = school_sql(q);
        assert!(
            s.contains("IN ('Todd Casey', 'Joseph Kuhr')") && !s.contains("INTERSECT"),
            "{q}: {s}"
        );
    }
}
