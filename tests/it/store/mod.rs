//! The app-store suite: the same tests on both backends. Each test gets a
//! fresh store: a SQLite file in a temp dir, or a uniquely named PostgreSQL
//! schema (dropped afterwards) on the server from `INSIGHT_TEST_POSTGRES_URL`
//! (`./scripts/test` starts it; without it the PostgreSQL half skips locally
//! and fails in CI).
use insight::domain::Role;
use insight::domain::{Assumption, Confidence, TrainingKind, Trust};
use insight::store::connections::{StoredConnection, StoredConnectionSettings};
use insight::store::grants::Grant;
use insight::store::jobs::{JobStatus, NewJob};
use insight::store::training::TrainingFilter;
use insight::store::{
    Backend, FeedbackStatus, NewFeedback, NewQuery, NewTrainingItem, Page, QueryStatus, Store,
    StoreError, TrainingSource, TrainingStatus,
};
use serde_json::json;
use sqlx::Connection as _;
use std::time::Duration;

/// A store on one backend, and what to clean up when the test ends.
pub struct TestStore {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<DropSchema>,
}

impl std::ops::Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// Drops a test's PostgreSQL schema when the test ends, also when it fails.
pub struct DropSchema {
    pub url: String,
    pub schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // From a plain thread: the test's runtime may be shutting down.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&mut c)
                    .await;
                }
            });
        })
        .join()
        .ok();
    }
}

pub async fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let store = Store::connect(&url).await.expect("open sqlite store");
    store.migrate().await.expect("migrate sqlite store");
    TestStore {
        store,
        _dir: Some(dir),
        _schema: None,
    }
}

pub fn postgres_url() -> Option<String> {
    crate::util::service_url("INSIGHT_TEST_POSTGRES_URL", "PostgreSQL")
}

/// A URL whose connections live in a fresh schema of the test server.
pub async fn postgres_schema_url(url: &str) -> (String, String) {
    let schema = format!("store_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    (
        format!("{url}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    )
}

pub async fn postgres_store() -> Option<TestStore> {
    let url = postgres_url()?;
    let (schema_url, schema) = postgres_schema_url(&url).await;
    let store = Store::connect(&schema_url)
        .await
        .expect("open postgres store");
    assert_eq!(store.backend(), Backend::Postgres);
    store.migrate().await.expect("migrate postgres store");
    Some(TestStore {
        store,
        _dir: None,
        _schema: Some(DropSchema { url, schema }),
    })
}

/// Each named test runs once per backend: `store::sqlite::<name>` and
/// `store::postgres::<name>`.
/// The PostgreSQL server drops every connection of the store (as a restart
/// does): the next operations reconnect instead of failing.
#[tokio::test]
async fn postgres_store_reconnects_after_its_connections_are_dropped() {
    let Some(url) = postgres_url() else {
        return;
    };
    let (schema_url, schema) = postgres_schema_url(&url).await;
    let _cleanup = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    // Named connections, so only this store's are dropped.
    let s = Store::connect(&format!("{schema_url}&application_name={schema}"))
        .await
        .unwrap();
    s.migrate().await.unwrap();
    s.create_user("before", "h", Role::Viewer).await.unwrap();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&schema)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "the store had open connections");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..5 {
        s.create_user(&format!("after{i}"), "h", Role::Viewer)
            .await
            .expect("the pool replaced its dead connections");
    }
    assert_eq!(s.count_users().await.unwrap(), 6);
}

macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let s = super::sqlite_store().await;
                    super::$name(&s).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(s) = super::postgres_store().await else { return };
                    super::$name(&s).await;
                }
            )*
        }
    };
}

store_suite!(
    migrations_are_complete_and_idempotent,
    users_create_find_update_and_unique_names,
    refresh_tokens_rotate_and_revoke_by_family_and_user,
    api_keys_find_touch_list_revoke_and_expire,
    grants_replace_and_follow_connection_deletion,
    stored_connections_round_trip_bytes_and_settings,
    query_history_records_pages_and_filters,
    feedback_is_recorded_per_query,
    training_items_dedupe_search_approve_delete_and_version,
    introspected_ddl_sync_keeps_unchanged_items,
    audit_events_newest_first,
    runtime_settings_upsert,
    concurrent_writers_do_not_fail,
);

async fn migrations_are_complete_and_idempotent(s: &Store) {
    assert_eq!(s.pending_migrations().await.unwrap(), 0);
    assert_eq!(s.migrate().await.unwrap(), 0);
    s.ping().await.unwrap();
}

async fn user(s: &Store, name: &str, role: Role) -> String {
    s.create_user(name, "argon2-hash", role).await.unwrap().id
}

async fn users_create_find_update_and_unique_names(s: &Store) {
    let id = user(s, "ann", Role::Analyst).await;
    assert!(matches!(
        s.create_user("ann", "other", Role::Viewer).await,
        Err(StoreError::Conflict(_))
    ));
    let found = s.find_user_by_name("ann").await.unwrap().expect("ann");
    assert_eq!(found.id, id);
    assert_eq!(found.role, Role::Analyst);
    assert!(s.find_user_by_name("nobody").await.unwrap().is_none());
    let updated = s
        .update_user(&id, Some(Role::Viewer), Some(true))
        .await
        .unwrap();
    assert_eq!(updated.role, Role::Viewer);
    assert!(updated.disabled);
    s.set_password_hash(&id, "new-hash").await.unwrap();
    assert_eq!(s.get_user(&id).await.unwrap().password_hash, "new-hash");
    user(s, "bob", Role::Viewer).await;
    assert_eq!(s.count_users().await.unwrap(), 2);
    let (page, total) = s
        .list_users(Page {
            limit: 1,
            offset: 1,
        })
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 2));
    assert!(matches!(
        s.get_user("missing").await,
        Err(StoreError::NotFound)
    ));
}

async fn refresh_tokens_rotate_and_revoke_by_family_and_user(s: &Store) {
    let uid = user(s, "ann", Role::Viewer).await;
    s.insert_refresh_token(&uid, "fam1", "h1", "2999-01-01T00:00:00.000Z")
        .await
        .unwrap();
    s.insert_refresh_token(&uid, "fam1", "h2", "2999-01-01T00:00:00.000Z")
        .await
        .unwrap();
    s.insert_refresh_token(&uid, "fam2", "h3", "2999-01-01T00:00:00.000Z")
        .await
        .unwrap();
    let t1 = s.find_refresh_token("h1").await.unwrap().expect("h1");
    assert_eq!(t1.family_id, "fam1");
    assert!(s.revoke_refresh_token(&t1.id).await.unwrap());
    assert!(!s.revoke_refresh_token(&t1.id).await.unwrap(), "only once");
    assert_eq!(s.revoke_refresh_family("fam1").await.unwrap(), 1);
    assert_eq!(s.revoke_user_refresh_tokens(&uid).await.unwrap(), 1);
    assert!(
        s.find_refresh_token("h3")
            .await
            .unwrap()
            .expect("h3")
            .revoked
    );
    assert!(s.find_refresh_token("nope").await.unwrap().is_none());
}

async fn api_keys_find_touch_list_revoke_and_expire(s: &Store) {
    let uid = user(s, "ann", Role::Analyst).await;
    let key = s
        .create_api_key(&uid, "ci", "ik_abcd", "hash-1", None)
        .await
        .unwrap();
    s.create_api_key(
        &uid,
        "old",
        "ik_efgh",
        "hash-2",
        Some("2000-01-01T00:00:00.000Z"),
    )
    .await
    .unwrap();
    let found = s.find_api_key("hash-1").await.unwrap().expect("live key");
    assert_eq!(found.id, key.id);
    assert!(s.find_api_key("hash-2").await.unwrap().is_none(), "expired");
    s.touch_api_key(&key.id).await.unwrap();
    let listed = s.list_api_keys(&uid).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .any(|k| k.id == key.id && k.last_used_at.is_some())
    );
    s.revoke_api_key(&uid, &key.id).await.unwrap();
    assert!(s.find_api_key("hash-1").await.unwrap().is_none());
    assert!(matches!(
        s.revoke_api_key("someone-else", &key.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn grants_replace_and_follow_connection_deletion(s: &Store) {
    let uid = user(s, "ann", Role::Viewer).await;
    let grants = vec![
        Grant {
            connection: "sales".into(),
            allowed_tables: Some(vec!["orders".into()]),
        },
        Grant {
            connection: "demo".into(),
            allowed_tables: None,
        },
    ];
    s.set_grants(&uid, &grants).await.unwrap();
    let got = s.grants_for_user(&uid).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].connection, "demo");
    assert_eq!(got[1].allowed_tables, Some(vec!["orders".to_string()]));
    s.set_grants(&uid, &grants[..1]).await.unwrap();
    assert_eq!(s.grants_for_user(&uid).await.unwrap().len(), 1);
    s.delete_grants_for_connection("sales").await.unwrap();
    assert!(s.grants_for_user(&uid).await.unwrap().is_empty());
}

async fn stored_connections_round_trip_bytes_and_settings(s: &Store) {
    let bytes: Vec<u8> = (0u8..=255).collect();
    let mut c = StoredConnection {
        id: "sales".into(),
        dialect: "postgres".into(),
        description: Some("Sales".into()),
        dsn_encrypted: Some(bytes.clone()),
        settings: StoredConnectionSettings {
            allowed_tables: Some(vec!["orders".into()]),
            max_rows: Some(50),
            timeout_secs: None,
            allow_values_in_prompt: Some(false),
            budgets: Default::default(),
        },
        created_at: String::new(),
        updated_at: String::new(),
    };
    s.insert_connection(&c).await.unwrap();
    assert!(matches!(
        s.insert_connection(&c).await,
        Err(StoreError::Conflict(_))
    ));
    let got = s.get_connection("sales").await.unwrap();
    assert_eq!(got.dsn_encrypted.as_deref(), Some(&bytes[..]));
    assert_eq!(got.settings.max_rows, Some(50));
    assert_eq!(got.settings.allow_values_in_prompt, Some(false));
    c.description = None;
    c.settings.max_rows = Some(7);
    s.update_connection(&c).await.unwrap();
    let got = s.get_connection("sales").await.unwrap();
    assert_eq!((got.description, got.settings.max_rows), (None, Some(7)));
    assert_eq!(s.list_connections().await.unwrap().len(), 1);
    s.delete_connection("sales").await.unwrap();
    assert!(matches!(
        s.delete_connection("sales").await,
        Err(StoreError::NotFound)
    ));
}

pub fn new_query(id: &str, user: Option<&str>, connection: &str, status: QueryStatus) -> NewQuery {
    NewQuery {
        id: id.into(),
        user_id: user.map(Into::into),
        connection: connection.into(),
        question: format!("question {id}"),
        sql: Some("SELECT 1".into()),
        status,
        error_code: None,
        error_message: None,
        row_count: Some(3),
        truncated: true,
        tables: vec!["orders".into()],
        sources: json!([{"kind": "ddl"}]),
        timings: json!({"total": 1.5}),
        provider: Some("builtin".into()),
        model: None,
        strategy: Some("rules".into()),
        prompt_tokens: 12,
        completion_tokens: 34,
        attempts: 1,
        correlation_id: Some("corr-1".into()),
        trust: Some(Trust {
            confidence: Confidence::Medium,
            assumptions: vec![Assumption::new("words_ignored", "read past 'happy'")],
        }),
    }
}

async fn query_history_records_pages_and_filters(s: &Store) {
    for (i, (user, conn)) in [
        (Some("u1"), "demo"),
        (Some("u2"), "demo"),
        (Some("u1"), "sales"),
        (None, "sales"),
    ]
    .into_iter()
    .enumerate()
    {
        s.insert_query(&new_query(
            &format!("q{i}"),
            user,
            conn,
            QueryStatus::Answered,
        ))
        .await
        .unwrap();
    }
    let q = s.get_query("q0").await.unwrap();
    assert_eq!(q.tables, vec!["orders"]);
    assert_eq!(q.timings_ms, json!({"total": 1.5}));
    assert!(q.truncated);
    assert_eq!(
        (q.prompt_tokens, q.completion_tokens, q.row_count),
        (12, 34, Some(3))
    );
    // Confidence and assumptions are stored with the query (migration 0008).
    assert_eq!(q.confidence, Some(Confidence::Medium));
    assert_eq!(q.assumptions[0].code, "words_ignored");
    // Tokens of calls made after the record was written are added to it.
    s.add_query_tokens("q0", 5, 6).await.unwrap();
    let q = s.get_query("q0").await.unwrap();
    assert_eq!((q.prompt_tokens, q.completion_tokens), (17, 40));
    assert!(matches!(
        s.add_query_tokens("missing", 1, 1).await,
        Err(StoreError::NotFound)
    ));
    let (mine, total) = s.list_queries(Some("u1"), Page::default()).await.unwrap();
    assert_eq!(total, 2);
    assert!(mine.iter().all(|q| q.user_id.as_deref() == Some("u1")));
    let (all, total) = s
        .list_queries(
            None,
            Page {
                limit: 2,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!((all.len(), total), (2, 4));
    assert!(all[0].created_at >= all[1].created_at, "newest first");
    let (on_sales, total) = s
        .list_queries_on(&["sales".into()], Page::default())
        .await
        .unwrap();
    assert_eq!((on_sales.len(), total), (2, 2));
    let (none, total) = s.list_queries_on(&[], Page::default()).await.unwrap();
    assert_eq!((none.len(), total), (0, 0));
}

async fn feedback_is_recorded_per_query(s: &Store) {
    s.insert_query(&new_query("q1", Some("u1"), "demo", QueryStatus::Answered))
        .await
        .unwrap();
    let f = s
        .insert_feedback(&NewFeedback {
            user_id: Some("u1".into()),
            comment: Some("off by one".into()),
            status: FeedbackStatus::Pending,
            ..feedback("q1", "down", Some("SELECT 2"))
        })
        .await
        .unwrap();
    let list = s.feedback_for_query("q1").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, f.id);
    assert_eq!(list[0].corrected_sql.as_deref(), Some("SELECT 2"));
    assert!(s.feedback_for_query("q2").await.unwrap().is_empty());
}

/// Feedback on `query_id` by nobody in particular, `recorded`.
pub fn feedback(query_id: &str, rating: &str, corrected_sql: Option<&str>) -> NewFeedback {
    NewFeedback {
        query_id: query_id.into(),
        user_id: None,
        rating: rating.into(),
        corrected_sql: corrected_sql.map(Into::into),
        comment: None,
        status: FeedbackStatus::Recorded,
        training_item_id: None,
    }
}

pub fn training(connection: &str, question: &str, sql: &str) -> NewTrainingItem {
    NewTrainingItem {
        connection: connection.into(),
        kind: TrainingKind::QuestionSql,
        content: question.into(),
        sql: Some(sql.into()),
        source: TrainingSource::User,
        status: TrainingStatus::Active,
        embedding: vec![0.5, -0.25, 1.0e-7],
        embedder: "test".into(),
        created_by: None,
        query_id: None,
    }
}

async fn training_items_dedupe_search_approve_delete_and_version(s: &Store) {
    assert_eq!(s.training_version("demo").await.unwrap(), 0);
    let (a, created) = s
        .insert_training(&training("demo", "How many orders?", "SELECT 1"))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(a.embedding, vec![0.5, -0.25, 1.0e-7]);
    let (b, created) = s
        .insert_training(&training("demo", "  how   MANY orders? ", "select 1"))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(a.id, b.id);
    let pending = NewTrainingItem {
        status: TrainingStatus::Pending,
        ..training("demo", "Top customers", "SELECT 2")
    };
    let (p, _) = s.insert_training(&pending).await.unwrap();
    s.insert_training(&training("sales", "Revenue by month", "SELECT 3"))
        .await
        .unwrap();
    let filter = |connection: Option<&str>, status, search: Option<&str>| TrainingFilter {
        connection: connection.map(Into::into),
        status,
        search: search.map(Into::into),
        ..Default::default()
    };
    let count =
        |f: TrainingFilter| async move { s.list_training(&f, Page::default()).await.unwrap().1 };
    assert_eq!(count(filter(None, None, None)).await, 3);
    assert_eq!(count(filter(Some("demo"), None, None)).await, 2);
    assert_eq!(
        count(filter(None, Some(TrainingStatus::Pending), None)).await,
        1
    );
    assert_eq!(count(filter(None, None, Some("ORDERS"))).await, 1);
    assert_eq!(count(filter(None, None, Some("select 3"))).await, 1);
    assert_eq!(s.active_training().await.unwrap().len(), 2);
    let many = s
        .get_training_many(&[p.id.clone(), a.id.clone(), "missing".into()])
        .await
        .unwrap();
    assert_eq!(
        many.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        vec![p.id.clone(), a.id.clone()]
    );
    let approved = s.approve_training(&p.id, Some("approver")).await.unwrap();
    assert_eq!(approved.approved_by.as_deref(), Some("approver"));
    assert_eq!(approved.status, TrainingStatus::Active);
    s.set_training_embedding(&a.id, &[1.0, 2.0], "other")
        .await
        .unwrap();
    let a2 = s.get_training(&a.id).await.unwrap();
    assert_eq!(
        (a2.embedding, a2.embedder.as_deref()),
        (vec![1.0, 2.0], Some("other"))
    );
    let v = s.training_version("demo").await.unwrap();
    s.delete_training(&a.id).await.unwrap();
    assert_eq!(s.training_version("demo").await.unwrap(), v + 1);
    assert!(matches!(
        s.get_training(&a.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn introspected_ddl_sync_keeps_unchanged_items(s: &Store) {
    let ddl = |c: &str| NewTrainingItem {
        kind: TrainingKind::Ddl,
        source: TrainingSource::Introspection,
        sql: None,
        ..training("demo", c, "")
    };
    let (added, removed) = s
        .sync_introspected_ddl(
            "demo",
            vec![ddl("CREATE TABLE a (x)"), ddl("CREATE TABLE b (y)")],
        )
        .await
        .unwrap();
    assert_eq!((added.len(), removed.len()), (2, 0));
    let (added, removed) = s
        .sync_introspected_ddl(
            "demo",
            vec![ddl("CREATE TABLE a (x)"), ddl("CREATE TABLE c (z)")],
        )
        .await
        .unwrap();
    assert_eq!((added.len(), removed.len()), (1, 1));
    let v = s.training_version("demo").await.unwrap();
    let (added, removed) = s
        .sync_introspected_ddl(
            "demo",
            vec![ddl("CREATE TABLE a (x)"), ddl("CREATE TABLE c (z)")],
        )
        .await
        .unwrap();
    assert!(added.is_empty() && removed.is_empty());
    assert_eq!(s.training_version("demo").await.unwrap(), v);
}

async fn audit_events_newest_first(s: &Store) {
    for i in 0..3 {
        s.record_audit(
            Some("admin"),
            &format!("action.{i}"),
            Some("target"),
            json!({"n": i}),
            Some("corr"),
        )
        .await
        .unwrap();
    }
    let events = s
        .list_audit(Page {
            limit: 2,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action, "action.2");
    assert_eq!(events[0].details, json!({"n": 2}));
}

async fn runtime_settings_upsert(s: &Store) {
    assert!(s.runtime_settings().await.unwrap().is_none());
    s.save_runtime_settings(&json!({"max_rows": 10}), Some("admin"))
        .await
        .unwrap();
    s.save_runtime_settings(&json!({"max_rows": 20}), None)
        .await
        .unwrap();
    assert_eq!(
        s.runtime_settings().await.unwrap(),
        Some(json!({"max_rows": 20}))
    );
}

async fn concurrent_writers_do_not_fail(s: &Store) {
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.insert_training(&training("demo", &format!("question {i}"), "SELECT 1"))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(s.training_version("demo").await.unwrap(), 16);
}

const LEASE: Duration = Duration::from_secs(30);

/// A rollback: the store was migrated by a newer release (a migration this
/// binary does not know is applied). `migrate` (the Kubernetes init
/// container of the older release) must succeed and change nothing.
#[tokio::test]
async fn migrate_after_a_newer_release_is_a_no_op() {
    const NEWER: &str = "INSERT INTO _sqlx_migrations \
        (version, description, success, checksum, execution_time) \
        VALUES (99991231000000, 'from a newer release', TRUE, X'00', 1)";
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let store = Store::connect(&url).await.unwrap();
    assert!(store.migrate().await.unwrap() > 0);
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(NEWER).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), 0);
    assert_eq!(store.pending_migrations().await.unwrap(), 0);

    let Some(base) = postgres_url() else {
        return;
    };
    let (schema_url, schema) = postgres_schema_url(&base).await;
    let _cleanup = DropSchema {
        url: base.clone(),
        schema: schema.clone(),
    };
    let store = Store::connect(&schema_url).await.unwrap();
    assert!(store.migrate().await.unwrap() > 0);
    let mut c = sqlx::PgConnection::connect(&schema_url).await.unwrap();
    let pg_newer = NEWER.replace("X'00'", "'\\x00'::bytea");
    sqlx::raw_sql(sqlx::AssertSqlSafe(pg_newer))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), 0);
    store.close().await;
}

mod exchange;
mod history;
mod jobs;
