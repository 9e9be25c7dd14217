//! Portable export and import on both backends: rows, conversations, saved
//! questions and dashboards.

use super::*;

store_suite!(
    export_rows_import_idempotently,
    conversations_export_and_import,
    saved_questions_and_dashboards_export_and_import,
);

async fn export_rows_import_idempotently(s: &Store) {
    s.insert_query(&new_query("q1", Some("u"), "demo", QueryStatus::Answered))
        .await
        .unwrap();
    s.insert_query(&new_query("q2", Some("u"), "demo", QueryStatus::Answered))
        .await
        .unwrap();
    s.insert_feedback(&NewFeedback {
        user_id: Some("u".into()),
        status: FeedbackStatus::Trained,
        ..feedback("q1", "down", Some("SELECT 2"))
    })
    .await
    .unwrap();
    s.insert_training(&training(
        "demo",
        "How many orders?",
        "SELECT COUNT(*) FROM orders",
    ))
    .await
    .unwrap();
    let rows = s.export_rows().await.unwrap();
    assert_eq!(
        (
            rows.training_items.len(),
            rows.feedback.len(),
            rows.queries.len()
        ),
        (1, 1, 1),
        "only questions with feedback travel"
    );
    assert_eq!(rows.queries[0]["truncated"], json!(1));
    let (added, counts) = s.import_rows(&rows).await.unwrap();
    assert!(added.is_empty());
    assert_eq!(
        (counts.training_items, counts.feedback, counts.queries),
        (0, 0, 0)
    );

    // Confidence and assumptions (migration 0008) travel with the question…
    assert_eq!(rows.queries[0]["confidence"], "medium");
    let other = sqlite_store().await;
    other.import_rows(&rows).await.unwrap();
    let q1 = other.get_query("q1").await.unwrap();
    assert_eq!(q1.confidence, Some(Confidence::Medium));
    assert_eq!(q1.assumptions[0].code, "words_ignored");
    assert_eq!(other.export_rows().await.unwrap().queries, rows.queries);
    // …and an export written before them still imports, with none.
    let mut old = rows.clone();
    for q in &mut old.queries {
        q.remove("confidence");
        q.remove("assumptions_json");
        q.insert("id".into(), json!("q-old"));
    }
    old.feedback.clear();
    old.training_items.clear();
    other.import_rows(&old).await.unwrap();
    let q_old = other.get_query("q-old").await.unwrap();
    assert_eq!((q_old.confidence, q_old.assumptions.len()), (None, 0));
}

/// Conversations and their turns travel in the export, in order, and come
/// back whole in another store; a turn without its conversation is refused.
async fn conversations_export_and_import(s: &Store) {
    use insight::store::conversations::NewTurn;
    let turn = |question, standalone| NewTurn {
        query_id: Some("q1"),
        question,
        standalone_question: standalone,
    };
    s.add_turn(
        "conv-a",
        Some("u1"),
        &turn("How many orders?", "How many orders?"),
    )
    .await
    .unwrap();
    s.add_turn(
        "conv-a",
        Some("u1"),
        &turn("and in 2024?", "How many orders in 2024?"),
    )
    .await
    .unwrap();
    s.add_turn(
        "conv-b",
        None,
        &turn("How many products?", "How many products?"),
    )
    .await
    .unwrap();
    let rows = s.export_rows().await.unwrap();
    assert_eq!(rows.conversations.len(), 2);
    let a = rows
        .conversations
        .iter()
        .find(|c| c["id"] == "conv-a")
        .expect("conv-a exported");
    assert_eq!(a["user_id"], "u1");
    let turns: Vec<(&str, i64, &str)> = rows
        .conversation_turns
        .iter()
        .map(|t| {
            (
                t["conversation_id"].as_str().unwrap(),
                t["seq"].as_i64().unwrap(),
                t["standalone_question"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        turns,
        vec![
            ("conv-a", 1, "How many orders?"),
            ("conv-a", 2, "How many orders in 2024?"),
            ("conv-b", 1, "How many products?"),
        ]
    );
    assert_eq!(rows.conversation_turns[1]["question"], "and in 2024?");
    assert_eq!(rows.conversation_turns[0]["query_id"], "q1");

    // Into a fresh SQLite store (from PostgreSQL in the postgres half): all
    // of it, once.
    let other = sqlite_store().await;
    let (_, counts) = other.import_rows(&rows).await.unwrap();
    assert_eq!((counts.conversations, counts.conversation_turns), (2, 3));
    assert_eq!(other.export_rows().await.unwrap(), rows);
    let found = other.find_conversation("conv-a").await.unwrap().unwrap();
    assert_eq!(found.user_id.as_deref(), Some("u1"));
    assert_eq!(other.recent_turns("conv-a", 10).await.unwrap().len(), 2);
    // The imported conversation carries on where it stopped.
    let next = other
        .add_turn(
            "conv-a",
            Some("u1"),
            &turn("and 2025?", "How many orders in 2025?"),
        )
        .await
        .unwrap();
    assert_eq!(next.seq, 3);
    let (_, again) = s.import_rows(&rows).await.unwrap();
    assert_eq!((again.conversations, again.conversation_turns), (0, 0));

    let mut orphan = rows.clone();
    orphan.conversations.retain(|c| c["id"] != "conv-b");
    let err = other.import_rows(&orphan).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("conv-b")),
        "{err:?}"
    );
}

/// Saved questions and dashboards travel in the export with their tiles
/// in order and their share tokens; on a side without their owner they are
/// skipped and counted, never half-imported.
async fn saved_questions_and_dashboards_export_and_import(s: &Store) {
    use insight::store::saved::NewSavedQuestion;
    let ann = user(s, "ann", Role::Analyst).await;
    let save = |title| NewSavedQuestion {
        user_id: &ann,
        title,
        question: title,
        sql: "SELECT COUNT(*) FROM orders",
        connection: "demo",
        chart: "bar",
    };
    let first = s.create_saved_question(&save("Orders")).await.unwrap();
    let second = s.create_saved_question(&save("Revenue")).await.unwrap();
    s.set_saved_question_share(&first.id, Some("tok-q"))
        .await
        .unwrap();
    let board = s.create_dashboard(&ann, "Weekly").await.unwrap();
    let tiles = vec![second.id.clone(), first.id.clone()];
    s.update_dashboard(&board.id, None, Some(&tiles))
        .await
        .unwrap();
    let rows = s.export_rows().await.unwrap();
    assert_eq!(
        (
            rows.saved_questions.len(),
            rows.dashboards.len(),
            rows.dashboard_tiles.len()
        ),
        (2, 1, 2)
    );
    let orders = rows
        .saved_questions
        .iter()
        .find(|q| q["title"] == "Orders")
        .expect("exported");
    assert_eq!(
        (&orders["share_token"], &orders["chart"]),
        (&json!("tok-q"), &json!("bar"))
    );

    // Lost here, then imported back: whole, tiles in order, link working.
    s.delete_dashboard(&board.id).await.unwrap();
    s.delete_saved_question(&first.id).await.unwrap();
    let (_, counts) = s.import_rows(&rows).await.unwrap();
    assert_eq!(
        (
            counts.saved_questions,
            counts.dashboards,
            counts.dashboard_tiles,
            counts.skipped
        ),
        (1, 1, 2, 0)
    );
    assert_eq!(s.get_dashboard(&board.id).await.unwrap().tiles, tiles);
    assert_eq!(
        s.saved_question_by_token("tok-q").await.unwrap().title,
        "Orders"
    );
    assert_eq!(s.export_rows().await.unwrap(), rows);
    let (_, again) = s.import_rows(&rows).await.unwrap();
    assert_eq!(
        (
            again.saved_questions,
            again.dashboards,
            again.dashboard_tiles
        ),
        (0, 0, 0)
    );

    // Another store has no user `ann`: nothing of hers, all counted.
    let other = sqlite_store().await;
    let (_, counts) = other.import_rows(&rows).await.unwrap();
    assert_eq!(
        (counts.saved_questions, counts.dashboards, counts.skipped),
        (0, 0, 5)
    );
    assert!(
        other
            .export_rows()
            .await
            .unwrap()
            .saved_questions
            .is_empty()
    );
}
