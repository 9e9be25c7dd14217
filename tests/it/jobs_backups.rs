//! Background jobs and backups end to end: the admin API, a worker that
//! takes over a job whose worker was killed, backup → wipe → restore on both
//! store backends, and the JSON export moving between backends.

use std::time::Duration;

use insight::domain::Role;
use insight::jobs::Worker;
use insight::store::jobs::JobStatus;
use insight::store::{FeedbackStatus, NewFeedback, QueryStatus, Store};
use serde_json::json;

use crate::store::{feedback, new_query, postgres_store, sqlite_store, training};
use crate::util::{TestApp, error_code, insight_cmd};

#[tokio::test]
async fn admins_queue_jobs_and_a_worker_runs_them() {
    let app = TestApp::spawn().await;
    let job = app
        .post(
            "/api/v1/admin/jobs",
            json!({"kind": "introspect", "connection": "demo"}),
        )
        .await
        .expect(202);
    assert_eq!(job["status"], "queued");
    let id = job["id"].as_str().unwrap().to_string();
    app.post("/api/v1/admin/jobs", json!({"kind": "reembed"}))
        .await
        .expect(202);

    let worker = Worker::new(app.state.0.clone());
    assert!(worker.run_next().await.unwrap());
    assert!(worker.run_next().await.unwrap());
    assert!(!worker.run_next().await.unwrap(), "queue drained");

    let done = app
        .get(&format!("/api/v1/admin/jobs/{id}"))
        .await
        .expect(200);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 1);
    assert!(done["result"]["ddl_added"].is_number(), "{done}");
    let list = app
        .get("/api/v1/admin/jobs?status=succeeded")
        .await
        .expect(200);
    assert_eq!(list["total"], 2);
    let reembed = &list["items"][0];
    assert_eq!(reembed["kind"], "reembed");
    assert!(
        reembed["result"]["items"].as_u64().unwrap() > 0,
        "{reembed}"
    );

    let metrics = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("insight_jobs_total{kind=\"introspect\",outcome=\"succeeded\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("insight_jobs_queue_depth{status=\"queued\"} 0"));
    assert!(metrics.contains("insight_job_duration_seconds_count{kind=\"reembed\"}"));

    // Bad input is a clear error; the queue is for admins only.
    let bad = app
        .post("/api/v1/admin/jobs", json!({"kind": "rm -rf /"}))
        .await
        .expect(400);
    assert_eq!(error_code(&bad), "bad_request", "{bad}");
    let unknown = app
        .post(
            "/api/v1/admin/jobs",
            json!({"kind": "introspect", "connection": "nope"}),
        )
        .await
        .expect(404);
    assert_eq!(error_code(&unknown), "not_found");
    app.get("/api/v1/admin/jobs/does-not-exist")
        .await
        .expect(404);
    app.get("/api/v1/admin/jobs?limit=0").await.expect(400);
    let viewer = app.login_as(Role::Viewer).await;
    viewer.get("/api/v1/admin/jobs").await.expect(403);
    viewer
        .post("/api/v1/admin/jobs", json!({"kind": "reembed"}))
        .await
        .expect(403);
    viewer
        .post("/api/v1/admin/backups", json!({}))
        .await
        .expect(403);
}

#[tokio::test]
async fn failing_jobs_are_retried_with_backoff_then_dead() {
    let app = TestApp::builder()
        .config(|c| c.jobs.max_attempts = 2)
        .spawn()
        .await;
    // Backups into a path that is a file cannot succeed.
    let blocker = app.dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let state = app.state.clone();
    let (job, _) = insight::jobs::enqueue(&state, &insight::jobs::JobSpec::Backup, None, None)
        .await
        .unwrap();
    // Point the backup dir at the file through a second App sharing the store.
    let mut config = state.config.clone();
    config.backup.dir = Some(blocker.join("backups"));
    let worker_app = insight::app::App::build(
        config,
        insight::app::AppOverrides {
            llm: None,
            store: Some(state.engine.store.clone()),
        },
    )
    .await
    .unwrap();
    let worker = Worker::new(std::sync::Arc::new(worker_app));
    assert!(worker.run_next().await.unwrap());
    let j = state.engine.store.get_job(&job.id).await.unwrap();
    assert_eq!(j.status, JobStatus::Queued, "retried");
    assert!(
        j.last_error.as_deref().unwrap_or("").contains("not-a-dir"),
        "{j:?}"
    );
    assert!(j.run_at > j.updated_at, "retry waits for its backoff");
    assert!(!worker.run_next().await.unwrap(), "not due yet");
    // Make it due now and let it fail for the last time.
    make_due(&app, &job.id).await;
    assert!(worker.run_next().await.unwrap());
    let j = state.engine.store.get_job(&job.id).await.unwrap();
    assert_eq!((j.status, j.attempts), (JobStatus::Dead, 2));
}

/// Move a job's retry time into the past, as the clock would.
async fn make_due(app: &TestApp, id: &str) {
    use sqlx::Connection as _;
    let path = app.dir.path().join("insight.db");
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET run_at = '2000-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(id)
        .execute(&mut c)
        .await
        .unwrap();
}

/// Scheduled backups and the daily history cleanup are queued once per run
/// however many workers see the time pass.
#[tokio::test]
async fn scheduled_runs_are_queued_once_across_workers() {
    use chrono::TimeZone;
    let app = TestApp::builder()
        .config(|c| {
            c.backup.schedule = Some("0 3 * * *".into());
            c.jobs.history_retention_days = 30;
        })
        .spawn()
        .await;
    let w1 = Worker::new(app.state.0.clone());
    let w2 = Worker::new(app.state.0.clone());
    let t = |h, m, s| chrono::Utc.with_ymd_and_hms(2026, 12, 6, h, m, s).unwrap();
    let (mut c1, mut c2) = (None, None);
    w1.schedule_due(t(2, 58, 0), t(2, 59, 0), &mut c1).await;
    w1.schedule_due(t(2, 59, 0), t(2, 59, 59), &mut c1).await;
    // 03:00 passes for both workers, at slightly different ticks.
    w1.schedule_due(t(2, 59, 59), t(3, 0, 1), &mut c1).await;
    w2.schedule_due(t(2, 59, 58), t(3, 0, 0), &mut c2).await;
    w2.schedule_due(t(3, 0, 0), t(3, 0, 2), &mut c2).await;
    let (jobs, _) = app
        .state
        .engine
        .store
        .list_jobs(None, insight::store::Page::default())
        .await
        .unwrap();
    let mut keys: Vec<String> = jobs.iter().filter_map(|j| j.dedupe_key.clone()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "backup@2026-12-06T03:00Z".to_string(),
            "history_cleanup@2026-12-06".to_string()
        ]
    );
    let cleanup = jobs.iter().find(|j| j.kind == "history_cleanup").unwrap();
    assert_eq!(cleanup.payload["older_than_days"], 30);
}

/// A worker process is killed while it holds a job: it never renews its
/// lease nor records an outcome. A new `insight worker` takes the job over
/// once the lease has run out and finishes it; the effect (one backup) is
/// there exactly once, and the killed worker can no longer record anything.
#[tokio::test]
async fn a_job_whose_worker_was_killed_is_taken_over_and_finished_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = insight_cmd(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("sqlite://{}", dir.path().join("data/insight.db").display());
    let store = Store::connect(&url).await.unwrap();
    let (job, _) = store
        .enqueue_job(&insight::store::jobs::NewJob {
            kind: "backup".into(),
            payload: json!({"kind": "backup"}),
            dedupe_key: None,
            run_at: chrono::Utc::now(),
            max_attempts: 3,
        })
        .await
        .unwrap();
    // The first worker takes the job with a short lease, writes half a
    // backup, and is killed.
    let claimed = store
        .claim_job("worker-killed", Duration::from_secs(1))
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(claimed.id, job.id);
    let backups = dir.path().join("data/backups");
    std::fs::create_dir_all(&backups).unwrap();
    let half = backups.join("insight-sqlite-20260101T000000000Z.sqlite.partial");
    std::fs::write(&half, "half").unwrap();
    // Killed an hour ago: a leftover, not a backup in progress.
    std::fs::File::options()
        .write(true)
        .open(&half)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();

    let mut worker = insight_cmd(dir.path())
        .arg("worker")
        .env("INSIGHT_JOBS__POLL_INTERVAL_MS", "100")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        let j = store.get_job(&job.id).await.unwrap();
        if j.status == JobStatus::Succeeded || std::time::Instant::now() > deadline {
            break j;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempts, 2);
    assert_ne!(done.locked_by.as_deref(), Some("worker-killed"));
    assert!(
        !store
            .complete_job(&job.id, "worker-killed", &json!({}))
            .await
            .unwrap(),
        "the killed worker's late outcome is refused"
    );
    let files: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "one finished backup, no partial: {files:?}");
    assert!(files[0].ends_with(".sqlite"));
    assert_eq!(
        insight::backup::list(&backups).unwrap()[0].name,
        done.result.unwrap()["name"].as_str().unwrap()
    );
}

/// History, feedback and training in `s`, for backup and export tests.
async fn seed(s: &Store) {
    for i in 0..3 {
        s.insert_query(&new_query(
            &format!("q{i}"),
            Some("u1"),
            "demo",
            QueryStatus::Answered,
        ))
        .await
        .unwrap();
    }
    s.insert_feedback(&NewFeedback {
        user_id: Some("u1".into()),
        comment: Some("wrong".into()),
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
    s.insert_training(&training("demo", "Revenue by month", "SELECT 1"))
        .await
        .unwrap();
    s.create_user("ann", "hash", Role::Analyst).await.unwrap();
    for (question, standalone) in [
        ("How many orders?", "How many orders?"),
        ("and by status?", "How many orders by status?"),
    ] {
        s.add_turn(
            "conv-1",
            Some("u1"),
            &insight::store::conversations::NewTurn {
                query_id: Some("q2"),
                question,
                standalone_question: standalone,
            },
        )
        .await
        .unwrap();
    }
}

/// Everything a restore must bring back, comparable.
async fn snapshot(s: &Store) -> serde_json::Value {
    let (history, _) = s
        .list_queries(
            None,
            insight::store::Page {
                limit: 100,
                offset: 0,
            },
        )
        .await
        .unwrap();
    let (training, _) = s
        .list_training(
            &Default::default(),
            insight::store::Page {
                limit: 100,
                offset: 0,
            },
        )
        .await
        .unwrap();
    let mut feedback = Vec::new();
    for q in &history {
        feedback.extend(s.feedback_for_query(&q.id).await.unwrap());
    }
    json!({
        "history": serde_json::to_value(&history).unwrap(),
        "training": training.iter().map(|t| json!({"id": t.id, "content": t.content, "sql": t.sql,
            "embedding": t.embedding, "created_at": t.created_at})).collect::<Vec<_>>(),
        "feedback": serde_json::to_value(&feedback).unwrap(),
        "users": s.count_users().await.unwrap(),
        "version": s.training_version("demo").await.unwrap(),
    })
}

#[tokio::test]
async fn sqlite_backup_wipe_restore_gives_identical_data() {
    let s = sqlite_store().await;
    seed(&s).await;
    let before = snapshot(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let info = insight::backup::create(&s, &target(dir.path(), 2))
        .await
        .unwrap();
    assert_eq!(info.backend, "sqlite");
    assert!(info.size_bytes > 0);
    // A second and third backup: `keep = 2` prunes the first.
    tokio::time::sleep(Duration::from_millis(5)).await;
    insight::backup::create(&s, &target(dir.path(), 2))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let newest = insight::backup::create(&s, &target(dir.path(), 2))
        .await
        .unwrap();
    let listed = insight::backup::list(dir.path()).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], newest);
    assert!(!listed.iter().any(|b| b.name == info.name));

    // Wipe: a new, empty database file.
    let target = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", target.path().join("restored.db").display());
    let restored = insight::backup::restore(&url, &dir.path().join(&newest.name), None)
        .await
        .unwrap();
    assert_eq!(snapshot(&restored).await, before);
    // Restoring over data is refused.
    let again = insight::backup::restore(&url, &dir.path().join(&newest.name), None).await;
    assert!(
        again.unwrap_err().to_string().contains("not empty"),
        "restore must not overwrite"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_backups_all_finish_under_their_own_names() {
    let s = sqlite_store().await;
    seed(&s).await;
    let dir = tempfile::tempdir().unwrap();
    // A recent `.partial` may be another replica's backup in progress: kept.
    let busy = dir
        .path()
        .join("insight-sqlite-20990101T000000000Z.sqlite.partial");
    std::fs::write(&busy, "in progress").unwrap();
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let (store, dir) = (Store::clone(&s), dir.path().to_path_buf());
            tokio::spawn(async move { insight::backup::create(&store, &target(&dir, 4)).await })
        })
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for run in runs {
        let info = run.await.unwrap().expect("every backup finishes");
        assert!(info.size_bytes > 0);
        names.insert(info.name);
    }
    assert_eq!(names.len(), 6, "distinct names: {names:?}");
    let listed = insight::backup::list(dir.path()).unwrap();
    assert_eq!(listed.len(), 4, "pruned to keep = 4: {listed:?}");
    assert!(busy.exists(), "a fresh partial is not removed");
}

#[tokio::test]
async fn postgres_backup_wipe_restore_gives_identical_data() {
    let Some(s) = postgres_store().await else {
        return;
    };
    seed(&s).await;
    let before = snapshot(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let info = insight::backup::create(&s, &target(dir.path(), 0))
        .await
        .unwrap();
    assert_eq!(info.backend, "postgres");
    assert!(info.name.ends_with(".pgdump"));
    // A SQLite backup file is refused by a PostgreSQL store, and vice versa.
    let wrong = dir.path().join("insight-sqlite-20260101T000000000Z.sqlite");
    std::fs::write(&wrong, "x").unwrap();

    // Wipe: drop and re-create the store's schema.
    let schema = s.current_schema().await.unwrap();
    let url = schema_url(&schema);
    s.close().await;
    let base = std::env::var("INSIGHT_TEST_POSTGRES_URL").unwrap();
    admin_exec(
        &base,
        &format!("DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}"),
    )
    .await;
    let err = insight::backup::restore(&url, &wrong, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a PostgreSQL backup"), "{err}");
    let restored = insight::backup::restore(&url, &dir.path().join(&info.name), None)
        .await
        .unwrap();
    assert_eq!(snapshot(&restored).await, before);
    let again = insight::backup::restore(&url, &dir.path().join(&info.name), None).await;
    assert!(again.unwrap_err().to_string().contains("not empty"));
}

/// Backups into `dir`, keeping `keep`, with the machine's `pg_dump`.
fn target(dir: &std::path::Path, keep: u32) -> insight::backup::BackupTarget {
    insight::backup::BackupTarget {
        dir: dir.to_path_buf(),
        keep,
        pg_dump: "pg_dump".into(),
        uploads: None,
    }
}

#[tokio::test]
async fn postgres_backup_refuses_a_pg_dump_older_than_the_server() {
    let Some(s) = postgres_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The machine's pg_dump is accepted, and its pair is published.
    let ok = insight::backup::check_pg_dump(&s, std::path::Path::new("pg_dump"))
        .await
        .unwrap();
    assert!(ok.client >= ok.server && ok.server >= 9, "{ok:?}");
    insight::observability::metrics::install();
    let text = insight::observability::metrics::render();
    assert!(
        text.contains("insight_backup_pg_dump_compatible 1"),
        "{text}"
    );
    // A pg_dump one major version older than the server (as an image built
    // on an older Debian would carry) is caught before it runs: a clear
    // error naming both versions, no file, and the failure counted.
    let old = dir.path().join("old-pg_dump");
    std::fs::write(
        &old,
        format!(
            "#!/bin/sh\necho 'pg_dump (PostgreSQL) {}.3'\n",
            ok.server - 1
        ),
    )
    .unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut t = target(&dir.path().join("out"), 0);
    t.pg_dump = old;
    let err = insight::backup::create(&s, &t).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("pg_dump {}", ok.server - 1))
            && msg.contains(&format!("PostgreSQL {} server", ok.server))
            && msg.contains("backup.pg_dump"),
        "{msg}"
    );
    assert!(
        insight::backup::list(&dir.path().join("out"))
            .unwrap()
            .is_empty()
    );
    // (The gauges are process-wide and other tests set them too: the
    // counter, which only grows, is what this test can check.)
    let text = insight::observability::metrics::render();
    assert!(
        text.contains("insight_backups_total{outcome=\"tool_too_old\"}"),
        "{text}"
    );
}

fn schema_url(schema: &str) -> String {
    let base = std::env::var("INSIGHT_TEST_POSTGRES_URL").unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

async fn admin_exec(url: &str, sql: &str) {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap();
}

/// Export from SQLite, import into PostgreSQL, export again: the same rows;
/// and back into a fresh SQLite store. A second import adds nothing.
#[tokio::test]
async fn exports_round_trip_between_sqlite_and_postgres() {
    let Some(pg) = postgres_store().await else {
        return;
    };
    let a = sqlite_store().await;
    seed(&a).await;
    let doc = insight::backup::export(&a).await.unwrap();
    let text = serde_json::to_string(&doc).unwrap();
    let doc: insight::backup::Export = serde_json::from_str(&text).unwrap();
    let (added, counts) = insight::backup::import(&pg, &doc).await.unwrap();
    assert_eq!(
        (counts.training_items, counts.feedback, counts.queries),
        (2, 1, 1)
    );
    assert_eq!((counts.conversations, counts.conversation_turns), (1, 2));
    assert_eq!(added.len(), 2);
    let from_pg = insight::backup::export(&pg).await.unwrap();
    assert_eq!(from_pg.rows, doc.rows);
    assert_eq!(pg.training_version("demo").await.unwrap(), 1);
    let (_, again) = insight::backup::import(&pg, &from_pg).await.unwrap();
    assert_eq!(
        (again.training_items, again.feedback, again.queries),
        (0, 0, 0)
    );
    assert_eq!((again.conversations, again.conversation_turns), (0, 0));

    let b = sqlite_store().await;
    insight::backup::import(&b, &from_pg).await.unwrap();
    assert_eq!(insight::backup::export(&b).await.unwrap().rows, doc.rows);

    let mut wrong = doc.clone();
    wrong.format = "something-else".into();
    assert!(insight::backup::import(&b, &wrong).await.is_err());
}

/// The export document through JSON into a fresh store: version 2 with the
/// conversations; a version 1 export (written before conversations were
/// exported, so without their keys) still imports; unknown versions do not.
#[tokio::test]
async fn exports_carry_conversations_and_older_exports_still_import() {
    let a = sqlite_store().await;
    seed(&a).await;
    let doc = insight::backup::export(&a).await.unwrap();
    assert_eq!(doc.version, insight::backup::EXPORT_VERSION);
    let text = serde_json::to_string(&doc).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["conversations"][0]["id"], "conv-1");
    assert_eq!(
        parsed["conversation_turns"][1]["standalone_question"],
        "How many orders by status?"
    );

    let b = sqlite_store().await;
    let doc: insight::backup::Export = serde_json::from_str(&text).unwrap();
    let (_, counts) = insight::backup::import(&b, &doc).await.unwrap();
    assert_eq!((counts.conversations, counts.conversation_turns), (1, 2));
    assert_eq!(insight::backup::export(&b).await.unwrap().rows, doc.rows);
    let turns = b.recent_turns("conv-1", 10).await.unwrap();
    assert_eq!(
        turns
            .iter()
            .map(|t| t.question.as_str())
            .collect::<Vec<_>>(),
        vec!["How many orders?", "and by status?"]
    );
    assert_eq!(
        b.find_conversation("conv-1")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        Some("u1".to_string())
    );

    // As a version 1 export was written: no conversation keys at all.
    let mut old = parsed.clone();
    let fields = old.as_object_mut().unwrap();
    fields.remove("conversations");
    fields.remove("conversation_turns");
    fields.insert("version".into(), json!(1));
    let old: insight::backup::Export = serde_json::from_value(old).unwrap();
    let c = sqlite_store().await;
    let (added, counts) = insight::backup::import(&c, &old).await.unwrap();
    assert_eq!(
        (counts.training_items, counts.feedback, counts.queries),
        (2, 1, 1)
    );
    assert_eq!(added.len(), 2);
    assert_eq!((counts.conversations, counts.conversation_turns), (0, 0));
    assert!(c.find_conversation("conv-1").await.unwrap().is_none());

    let mut newer = doc.clone();
    newer.version = insight::backup::EXPORT_VERSION + 1;
    let err = insight::backup::import(&c, &newer).await.unwrap_err();
    assert!(err.to_string().contains("version"), "{err}");
}

#[tokio::test]
async fn backups_through_the_api_and_the_command_line() {
    let app = TestApp::spawn().await;
    let empty = app.get("/api/v1/admin/backups").await.expect(200);
    assert_eq!(empty["items"], json!([]));
    let made = app
        .post("/api/v1/admin/backups", json!({}))
        .await
        .expect(201);
    assert_eq!(made["backend"], "sqlite");
    let listed = app.get("/api/v1/admin/backups").await.expect(200);
    assert_eq!(listed["items"][0]["name"], made["name"]);
    // With replicas, the backup is handed to a worker instead.
    let queued = app
        .post("/api/v1/admin/backups?queue=true", json!({}))
        .await
        .expect(202);
    assert_eq!(
        (queued["kind"].as_str(), queued["status"].as_str()),
        (Some("backup"), Some("queued"))
    );
    app.post("/api/v1/admin/backups?queue=maybe", json!({}))
        .await
        .expect(400);
    let audit = app.get("/api/v1/admin/audit").await.expect(200);
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "backup.create"),
        "{audit}"
    );

    // `insight backup`, `insight export`, and `insight restore` / `import`
    // into a fresh data dir.
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], data: &std::path::Path| {
        let out = insight_cmd(dir.path())
            .env("INSIGHT_DATA_DIR", data)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "insight {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let a = dir.path().join("a");
    run(
        &[
            "train",
            "--question",
            "Who spends most?",
            "--sql",
            "SELECT name FROM customers LIMIT 1",
        ],
        &a,
    );
    let said = run(&["backup"], &a);
    assert!(said.contains("backup written"), "{said}");
    let file = std::fs::read_dir(a.join("backups"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let export = dir.path().join("export.json");
    run(&["export", export.to_str().unwrap()], &a);

    let b = dir.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    let said = run(&["restore", file.to_str().unwrap()], &b);
    assert!(said.contains("restored"), "{said}");
    let restored = Store::connect(&format!("sqlite://{}", b.join("insight.db").display()))
        .await
        .unwrap();
    let (items, _) = restored
        .list_training(&Default::default(), Default::default())
        .await
        .unwrap();
    assert!(items.iter().any(|i| i.content == "Who spends most?"));

    let c = dir.path().join("c");
    let said = run(&["import", export.to_str().unwrap()], &c);
    assert!(said.contains("imported 1 training item(s)"), "{said}");
    let out = insight_cmd(dir.path())
        .env("INSIGHT_DATA_DIR", &c)
        .args(["restore", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

/// With `cache.result_ttl_secs`, the same validated SQL on the same
/// connection is answered from the cache until the TTL runs out; without it
/// every query reads the database.
#[tokio::test]
async fn query_results_are_cached_only_when_configured() {
    use sqlx::Connection as _;
    for (ttl, expect_cached) in [(60, true), (0, false)] {
        let app = TestApp::builder()
            .config(move |c| c.cache.result_ttl_secs = ttl)
            .spawn()
            .await;
        let sql = "SELECT COUNT(*) AS n FROM customers";
        let first = app
            .post("/api/v1/sql/execute", json!({ "sql": sql }))
            .await
            .expect(200);
        // Someone else changes the data behind the service's back.
        let path = app.dir.path().join("demo.db");
        let mut rw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO customers (id, name, email, country, city, segment, created_at) \
             SELECT MAX(id) + 1, 'New', 'new-customer@example.com', 'Peru', 'Lima', 'Consumer', \
             '2026-01-01' FROM customers",
        )
        .execute(&mut rw)
        .await
        .unwrap();
        rw.close().await.unwrap();
        let second = app
            .post("/api/v1/sql/execute", json!({ "sql": sql }))
            .await
            .expect(200);
        assert_eq!(
            first["rows"] == second["rows"],
            expect_cached,
            "ttl {ttl}: {} then {}",
            first["rows"],
            second["rows"]
        );
    }
}
