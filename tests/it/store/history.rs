//! History upkeep on both backends: cleanup, usage counts, conversations.

use super::*;

store_suite!(
    history_cleanup_keeps_questions_with_feedback,
    usage_stats_count_history_and_feedback,
    conversations_keep_their_owner_and_turns_in_order,
    text_with_a_nul_is_kept_or_refused_as_input_never_a_fault,
);

/// PostgreSQL cannot hold a NUL in text: a lookup by such an id, or an item
/// carrying one, is the caller's bad input (`Unstorable`, a 400), not an app
/// store fault (a 500); SQLite keeps the text as it is.
async fn text_with_a_nul_is_kept_or_refused_as_input_never_a_fault(s: &Store) {
    let by_backend = |r: StoreError| match s.backend() {
        Backend::Sqlite => panic!("SQLite holds NUL; got {r:?}"),
        Backend::Postgres => assert!(matches!(r, StoreError::Unstorable(_)), "{r:?}"),
    };
    match s.get_query("q\u{0}1").await {
        Err(StoreError::NotFound) => assert_eq!(s.backend(), Backend::Sqlite),
        Err(e) => by_backend(e),
        Ok(q) => panic!("no such query: {q:?}"),
    }
    let mut item = training(
        "demo",
        "how many\u{0} orders?",
        "SELECT count(*) FROM orders",
    );
    item.kind = insight::domain::TrainingKind::Documentation;
    match s.insert_training(&item).await {
        Ok((stored, _)) => {
            assert_eq!(s.backend(), Backend::Sqlite);
            assert_eq!(
                s.get_training(&stored.id).await.unwrap().content,
                item.content
            );
        }
        Err(e) => by_backend(e),
    }
}

async fn history_cleanup_keeps_questions_with_feedback(s: &Store) {
    for id in ["old1", "old2"] {
        s.insert_query(&new_query(id, Some("u"), "demo", QueryStatus::Answered))
            .await
            .unwrap();
    }
    s.insert_feedback(&feedback("old2", "up", None))
        .await
        .unwrap();
    s.add_turn(
        "conv-1",
        Some("u"),
        &insight::store::conversations::NewTurn {
            query_id: Some("old1"),
            question: "how many orders?",
            standalone_question: "how many orders?",
        },
    )
    .await
    .unwrap();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        s.delete_queries_before("2000-01-01T00:00:00.000Z")
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.delete_queries_before(&tomorrow).await.unwrap(), 1);
    assert!(s.get_query("old2").await.is_ok());
    assert!(s.get_query("old1").await.is_err());
    assert!(s.find_conversation("conv-1").await.unwrap().is_none());
    assert!(s.recent_turns("conv-1", 10).await.unwrap().is_empty());
}

async fn usage_stats_count_history_and_feedback(s: &Store) {
    let empty = s.usage_stats(7).await.unwrap();
    assert_eq!((empty.questions, empty.per_day.len()), (0, 7));
    for (i, status) in [
        QueryStatus::Answered,
        QueryStatus::Answered,
        QueryStatus::Rejected,
    ]
    .into_iter()
    .enumerate()
    {
        s.insert_query(&new_query(&format!("q{i}"), Some("u"), "demo", status))
            .await
            .unwrap();
    }
    s.insert_feedback(&feedback("q0", "up", None))
        .await
        .unwrap();
    let stats = s.usage_stats(30).await.unwrap();
    assert_eq!((stats.questions, stats.answered), (3, 2));
    assert_eq!((stats.thumbs_up, stats.thumbs_down), (1, 0));
    assert_eq!(stats.per_day.iter().map(|d| d.questions).sum::<u64>(), 3);
}

async fn conversations_keep_their_owner_and_turns_in_order(s: &Store) {
    use insight::store::conversations::NewTurn;
    let id = insight::store::new_id();
    assert!(s.find_conversation(&id).await.unwrap().is_none());
    let asked = [
        (
            "How many customers are there?",
            "How many customers are there?",
        ),
        (
            "and by country?",
            "How many customers are there by country?",
        ),
        (
            "what about in 2023?",
            "How many customers are there by country in 2023?",
        ),
    ];
    for (i, (question, standalone)) in asked.iter().enumerate() {
        let query_id = format!("q{i}");
        let turn = s
            .add_turn(
                &id,
                Some("u1"),
                &NewTurn {
                    query_id: Some(&query_id),
                    question,
                    standalone_question: standalone,
                },
            )
            .await
            .unwrap();
        assert_eq!(turn.seq, i as i64 + 1);
    }
    let c = s.find_conversation(&id).await.unwrap().expect("created");
    assert_eq!(c.user_id.as_deref(), Some("u1"));
    assert!(c.updated_at >= c.created_at);
    let recent = s.recent_turns(&id, 2).await.unwrap();
    assert_eq!(
        recent.iter().map(|t| t.seq).collect::<Vec<_>>(),
        vec![2, 3],
        "the last two, oldest first"
    );
    assert_eq!(recent[0].question, "and by country?");
    assert_eq!(
        recent[1].standalone_question,
        "How many customers are there by country in 2023?"
    );
    assert_eq!(recent[1].query_id.as_deref(), Some("q2"));
    // A later turn by someone else does not take the conversation over.
    s.add_turn(
        &id,
        Some("u2"),
        &NewTurn {
            query_id: None,
            question: "x",
            standalone_question: "x",
        },
    )
    .await
    .unwrap();
    let c = s
        .find_conversation(&id)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(c.user_id.as_deref(), Some("u1"));
    assert!(
        s.recent_turns("no-such-conversation", 3)
            .await
            .unwrap()
            .is_empty()
    );
}
