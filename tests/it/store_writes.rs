//! Group commit of the request path's writes (history, audit, feedback,
//! conversation turns), on
//! both app-store backends: concurrent writers all land with their own ids, a
//! bad row in a batch fails only its caller, closing the store drains the
//! queue, and an `/ask`'s `query_id` is readable the moment the answer is
//! back. Batches are made deterministic by holding the database's write lock
//! from another connection while writes queue up behind it.

use std::time::{Duration, Instant};

use insight::store::{Backend, Page, QueryStatus, Store, StoreError};
use serde_json::json;
use sqlx::Connection as _;

use crate::store::{DropSchema, feedback, new_query, postgres_schema_url, postgres_url};
use crate::util::TestApp;

/// A store, the URL to open it again, and what to clean up.
struct Opened {
    store: Store,
    url: String,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<DropSchema>,
}

async fn sqlite() -> Opened {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let store = Store::connect(&url).await.expect("open sqlite store");
    store.migrate().await.expect("migrate");
    Opened {
        store,
        url,
        _dir: Some(dir),
        _schema: None,
    }
}

async fn postgres() -> Option<Opened> {
    let base = postgres_url()?;
    let (url, schema) = postgres_schema_url(&base).await;
    let store = Store::connect(&url).await.expect("open postgres store");
    store.migrate().await.expect("migrate");
    Some(Opened {
        store,
        url,
        _dir: None,
        _schema: Some(DropSchema { url: base, schema }),
    })
}

/// Another connection holding the lock that inserts into `queries` need:
/// SQLite's write lock, or a PostgreSQL `SHARE` lock on the table.
enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(o: &Opened) -> WriteLock {
        match o.store.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&o.url).await.unwrap();
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                WriteLock::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&o.url).await.unwrap();
                sqlx::raw_sql("BEGIN; LOCK TABLE queries IN SHARE MODE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                WriteLock::Postgres(c)
            }
        }
    }

    async fn release(self) {
        match self {
            WriteLock::Sqlite(mut c) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            }
            WriteLock::Postgres(mut c) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            }
        }
    }
}

/// Wait (up to 10 s) until `queued` messages wait in the store's queue.
async fn until_queued(s: &Store, queued: usize) {
    until(s, |s| s.queued_writes() == queued).await;
}

/// Wait until the writer holds exactly one write and nothing is queued: it
/// is committing that one (and, behind a held lock, stuck there).
async fn until_writer_busy(s: &Store) {
    until(s, |s| {
        s.group_commit_stats().waiting == 1 && s.queued_writes() == 0
    })
    .await;
}

async fn until(s: &Store, done: impl Fn(&Store) -> bool) {
    let start = Instant::now();
    while !done(s) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {} queued, {:?}",
            s.queued_writes(),
            s.group_commit_stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Each test once per backend: `store_writes::sqlite::<name>`, `…::postgres::<name>`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(o) = super::postgres().await else { return };
                    super::$name(o).await;
                }
            )*
        }
    };
}

both_backends!(
    concurrent_writers_all_land_with_their_own_ids,
    a_bad_row_fails_only_its_own_caller,
    closing_drains_the_queue,
    turns_of_one_batch_are_numbered_in_order,
);

async fn concurrent_writers_all_land_with_their_own_ids(o: Opened) {
    let s = &o.store;
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let id = format!("q{i}");
                let q = new_query(&id, Some("u1"), "demo", QueryStatus::Answered);
                let rec = s.insert_query(&q).await.expect("history row");
                assert_eq!(rec.id, id, "each caller gets its own record");
                // Readable at once, from another pooled connection.
                assert_eq!(s.get_query(&id).await.expect("read back").id, id);
                s.record_audit(Some("u1"), "test.write", Some(&id), json!({ "i": i }), None)
                    .await
                    .expect("audit row");
                s.insert_feedback(&feedback(&id, "up", None))
                    .await
                    .expect("feedback row")
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let fb = t.await.unwrap();
        assert_eq!(fb.query_id, format!("q{i}"));
    }
    let (_, total) = s.list_queries(None, Page::default()).await.unwrap();
    assert_eq!(total, 64);
    assert_eq!(s.count_audit().await.unwrap(), 64);
    for i in 0..64 {
        assert_eq!(
            s.feedback_for_query(&format!("q{i}")).await.unwrap().len(),
            1
        );
    }
    let stats = s.group_commit_stats();
    assert_eq!(stats.rows, 3 * 64, "{stats:?}");
    assert_eq!(stats.retried_batches, 0, "{stats:?}");
}

async fn a_bad_row_fails_only_its_own_caller(o: Opened) {
    let s = &o.store;
    s.insert_query(&new_query("taken", None, "demo", QueryStatus::Answered))
        .await
        .unwrap();
    let lock = WriteLock::take(&o).await;
    // The writer takes this one alone and waits on the lock …
    let first = {
        let s = s.clone();
        tokio::spawn(async move {
            s.insert_query(&new_query("first", None, "demo", QueryStatus::Answered))
                .await
        })
    };
    until_writer_busy(s).await;
    // … while these queue up behind it and go out as one batch.
    let mut good = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        good.push(tokio::spawn(async move {
            let id = format!("good{i}");
            s.insert_query(&new_query(&id, None, "demo", QueryStatus::Answered))
                .await
                .map(|r| r.id)
        }));
    }
    let duplicate = {
        let s = s.clone();
        tokio::spawn(async move {
            s.insert_query(&new_query("taken", None, "demo", QueryStatus::Failed))
                .await
        })
    };
    let orphan = {
        let s = s.clone();
        tokio::spawn(async move {
            s.insert_feedback(&feedback("no-such-query", "up", None))
                .await
        })
    };
    let tokens = {
        let s = s.clone();
        tokio::spawn(async move { s.add_query_tokens("no-such-query", 1, 1).await })
    };
    until_queued(s, 23).await;
    let before = s.group_commit_stats();
    lock.release().await;

    first.await.unwrap().expect("the write ahead of the batch");
    for (i, t) in good.into_iter().enumerate() {
        assert_eq!(t.await.unwrap().expect("a good row"), format!("good{i}"));
    }
    assert!(
        matches!(duplicate.await.unwrap(), Err(StoreError::Conflict(_))),
        "a duplicate id is its caller's conflict"
    );
    assert!(orphan.await.unwrap().is_err(), "feedback on no query fails");
    assert!(matches!(tokens.await.unwrap(), Err(StoreError::NotFound)));
    let after = s.group_commit_stats();
    assert_eq!(
        after.retried_batches - before.retried_batches,
        1,
        "{after:?}"
    );
    for i in 0..20 {
        s.get_query(&format!("good{i}")).await.expect("committed");
    }
    // The row that was there is untouched.
    assert_eq!(
        s.get_query("taken").await.unwrap().status,
        QueryStatus::Answered
    );
    let (_, total) = s.list_queries(None, Page::default()).await.unwrap();
    assert_eq!(total, 22, "taken, first and the 20 good rows");
}

async fn closing_drains_the_queue(o: Opened) {
    let s = &o.store;
    let lock = WriteLock::take(&o).await;
    let mut writes = Vec::new();
    for i in 0..30 {
        let w = s.clone();
        writes.push(tokio::spawn(async move {
            w.insert_query(&new_query(
                &format!("d{i}"),
                None,
                "demo",
                QueryStatus::Answered,
            ))
            .await
        }));
        if i == 0 {
            // The writer holds the first; the rest wait in the queue.
            until_writer_busy(s).await;
        }
    }
    until_queued(s, 29).await;
    let closing = {
        let s = s.clone();
        tokio::spawn(async move { s.close().await })
    };
    until_queued(s, 30).await; // the close request is queued behind the writes
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!closing.is_finished(), "close waits for the queued writes");
    lock.release().await;
    closing.await.unwrap();
    for w in writes {
        w.await
            .unwrap()
            .expect("a write queued before close is committed");
    }
    let late = s
        .insert_query(&new_query("late", None, "demo", QueryStatus::Answered))
        .await;
    assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");

    let reopened = Store::connect(&o.url).await.unwrap();
    let (_, total) = reopened.list_queries(None, Page::default()).await.unwrap();
    assert_eq!(total, 30);
    reopened.close().await;
}

/// The `query_id` an answer carries is in the history the moment the
/// answer is back, for every one of many concurrent asks.
#[tokio::test]
async fn every_concurrent_ask_is_in_the_history_when_it_answers() {
    let app = TestApp::spawn().await;
    let user = std::sync::Arc::new(app.login_as(insight::domain::Role::Viewer).await);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let user = user.clone();
            tokio::spawn(async move {
                let answer = user.ask("How many customers are there?").await.expect(200);
                let id = answer["query_id"].as_str().expect("query_id").to_string();
                let detail = user.get(&format!("/api/v1/queries/{id}")).await.expect(200);
                assert_eq!(detail["id"], id.as_str(), "{detail}");
                assert_eq!(detail["status"], "answered", "{detail}");
                id
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "each ask has its own query_id");
}

/// Turns of two conversations queued behind a held lock commit in one batch,
/// each conversation numbered 1, 2, 3 … without gaps or conflicts.
async fn turns_of_one_batch_are_numbered_in_order(o: Opened) {
    use insight::store::conversations::NewTurn;
    let s = &o.store;
    let lock = WriteLock::take(&o).await;
    let blocked = {
        let s = s.clone();
        tokio::spawn(async move {
            s.insert_query(&new_query("first", None, "demo", QueryStatus::Answered))
                .await
        })
    };
    until_writer_busy(s).await;
    let turns: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let conversation = if i % 2 == 0 { "c-even" } else { "c-odd" };
                let question = format!("question {i}");
                let turn = NewTurn {
                    query_id: None,
                    question: &question,
                    standalone_question: &question,
                };
                s.add_turn(conversation, Some("u1"), &turn).await
            })
        })
        .collect();
    until_queued(s, 10).await;
    let batches_before = s.group_commit_stats().batches;
    lock.release().await;
    blocked.await.unwrap().expect("the blocked write lands");
    let mut seqs: Vec<i64> = Vec::new();
    for t in turns {
        seqs.push(t.await.unwrap().expect("turn appended").seq);
    }
    for conversation in ["c-even", "c-odd"] {
        let stored = s.recent_turns(conversation, 10).await.unwrap();
        let numbers: Vec<i64> = stored.iter().map(|t| t.seq).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5], "{conversation}");
        let found = s.find_conversation(conversation).await.unwrap().unwrap();
        assert_eq!(found.user_id.as_deref(), Some("u1"));
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
        "each caller got its own number"
    );
    let stats = s.group_commit_stats();
    assert_eq!(stats.retried_batches, 0, "{stats:?}");
    assert!(
        stats.batches - batches_before <= 2,
        "the queued turns shared a transaction: {stats:?}"
    );
}
