//! `insight::eval` end to end: a small Spider subset (when the shared copy
//! is present) in both training modes, and a hand-made dataset with a
//! duplicated question that leave-one-out must hold out entirely.

use std::path::{Path, PathBuf};

use insight::config::Config;
use insight::eval::dataset::{question_key, sql_key};
use insight::eval::{EvalOptions, EvalReport, TrainMode};
use sqlx::ConnectOptions as _;
use sqlx::sqlite::SqliteConnectOptions;

/// Correct answers of the offline generator on the first 15 questions of
/// concert_singer and of pets_1 (30 in all); measured 2026-12-06 at 19 and 25,
/// 21 without training on 2026-12-07 (22:52 UTC, `insight eval --db
/// concert_singer --db pets_1 --limit-per-db 15`).
/// Raise them when the generator improves; the test fails if quality drops.
const BASELINE_NONE: usize = 21;
/// 23 since issue 14 (was 25): a trained example is reused only when every
/// table and column its SQL uses is named by the question, so two
/// paraphrases that name a column in other words are no longer matched.
/// 25 measured 2026-12-07 22:52 UTC.
const BASELINE_LEAVE_ONE_OUT: usize = 25;
/// Leave-group-out on the same 30: 16, measured 2026-12-07 after issue 14
/// (15 before; training no longer costs the offline generator answers);
/// 21 measured 2026-12-07 22:52 UTC.
const BASELINE_LEAVE_GROUP_OUT: usize = 21;
/// Answers marked `high` and wrong on the same 30, without training and
/// leave-group-out: at most 1 (measured 0 on 2026-12-07; issue 14's
/// confidently wrong, whose target over all of Spider dev is 3%).
const MAX_CONFIDENTLY_WRONG: usize = 1;

fn spider() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/spider-dev");
    if p.join("dev.json").exists() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/data/spider-dev not found (see README)");
        None
    }
}

fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    }
}

/// Counts add up, and the files are in the official evaluator's shape.
fn check_report(report: &EvalReport, expected: usize, out: &Path) {
    assert_eq!(report.ex.total, expected);
    assert_eq!(report.results.len(), expected);
    assert!(
        report.results.windows(2).all(|w| w[0].index < w[1].index),
        "gold order"
    );
    let per_db: usize = report.per_db.values().map(|s| s.total).sum();
    assert_eq!(per_db, expected);
    let correct_db: usize = report.per_db.values().map(|s| s.correct).sum();
    assert_eq!(correct_db, report.ex.correct);
    let f = &report.failures;
    assert_eq!(f.correct, report.ex.correct);
    assert_eq!(
        f.correct
            + f.wrong_result
            + f.no_sql
            + f.rejected
            + f.execution_error
            + f.llm_error
            + f.gold_error
            + f.other,
        expected
    );
    assert_eq!(f.rejected_codes.values().sum::<usize>(), f.rejected);
    assert!(report.latency_ms.p50 <= report.latency_ms.p90);
    assert!(report.latency_ms.p90 <= report.latency_ms.p99);
    assert_eq!(report.context_recall.measured, expected);
    // Every answer has a confidence level, so the calibration table covers
    // exactly the answered questions.
    let levels: usize = report.calibration.values().map(|c| c.answered).sum();
    assert_eq!(levels, report.answered.answered);
    let right: usize = report.calibration.values().map(|c| c.correct).sum();
    assert_eq!(right, report.ex.correct);

    insight::eval::write_outputs(report, out).unwrap();
    let pred = std::fs::read_to_string(out.join("predictions.sql")).unwrap();
    assert_eq!(pred.lines().count(), expected);
    assert!(pred.lines().all(|l| !l.trim().is_empty()));
    let gold = std::fs::read_to_string(out.join("gold.sql")).unwrap();
    assert_eq!(gold.lines().count(), expected);
    assert!(gold.lines().all(|l| l.contains('\t')));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for key in [
        "run",
        "ex",
        "per_db",
        "failures",
        "latency_ms",
        "llm",
        "context_recall",
    ] {
        assert!(json.get(key).is_some(), "report.json lacks `{key}`");
    }
    let lines = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), expected);
}

/// Leave-one-out: the question's own items are held out and never come back.
fn check_leave_one_out(report: &EvalReport) {
    for r in &report.results {
        assert!(
            !r.held_out.is_empty(),
            "q{}: its own pair was not trained",
            r.index
        );
        for (id, _) in &r.sources {
            assert!(
                !r.held_out.contains(id),
                "q{} retrieved its own item",
                r.index
            );
        }
        let key = question_key(&r.question);
        for q in &r.example_questions {
            assert_ne!(question_key(q), key, "q{} saw its own question", r.index);
        }
    }
}

#[tokio::test]
async fn spider_subset_without_training() {
    let Some(dataset) = spider() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EvalOptions::new(dataset);
    opts.dbs = vec!["concert_singer".into(), "pets_1".into()];
    opts.limit_per_db = Some(15);
    let report = insight::eval::evaluate(config(dir.path()), &opts)
        .await
        .unwrap();
    check_report(&report, 30, &dir.path().join("out"));
    assert!(report.results.iter().all(|r| r.held_out.is_empty()));
    assert!(
        report.ex.correct >= BASELINE_NONE,
        "EX regressed: {}/30 < baseline {BASELINE_NONE}",
        report.ex.correct
    );
    assert!(
        report.confidently_wrong <= MAX_CONFIDENTLY_WRONG,
        "confidently wrong: {} > {MAX_CONFIDENTLY_WRONG}",
        report.confidently_wrong
    );
}

#[tokio::test]
async fn spider_subset_leave_one_out() {
    let Some(dataset) = spider() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EvalOptions::new(dataset);
    opts.dbs = vec!["concert_singer".into(), "pets_1".into()];
    opts.limit_per_db = Some(15);
    opts.train = TrainMode::LeaveOneOut;
    let report = insight::eval::evaluate(config(dir.path()), &opts)
        .await
        .unwrap();
    check_report(&report, 30, &dir.path().join("out"));
    // Every pair of both databases is trained, not only the 30 asked.
    assert_eq!(report.run.training.added, 45 + 42);
    check_leave_one_out(&report);
    assert!(
        report.ex.correct >= BASELINE_LEAVE_ONE_OUT,
        "EX regressed: {}/30 < baseline {BASELINE_LEAVE_ONE_OUT}",
        report.ex.correct
    );
}

#[tokio::test]
async fn spider_subset_leave_group_out() {
    let Some(dataset) = spider() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EvalOptions::new(dataset);
    opts.dbs = vec!["concert_singer".into(), "pets_1".into()];
    opts.limit_per_db = Some(15);
    opts.train = TrainMode::LeaveGroupOut;
    let report = insight::eval::evaluate(config(dir.path()), &opts)
        .await
        .unwrap();
    check_report(&report, 30, &dir.path().join("out"));
    assert_eq!(report.run.training.added, 45 + 42);
    check_leave_one_out(&report);
    check_no_twin_seen(&report);
    assert!(
        report.ex.correct >= BASELINE_LEAVE_GROUP_OUT,
        "EX regressed: {}/30 < baseline {BASELINE_LEAVE_GROUP_OUT}",
        report.ex.correct
    );
    assert!(
        report.confidently_wrong <= MAX_CONFIDENTLY_WRONG,
        "confidently wrong: {} > {MAX_CONFIDENTLY_WRONG}",
        report.confidently_wrong
    );
}

/// Leave-group-out: no retrieved example carries the question's gold SQL.
fn check_no_twin_seen(report: &EvalReport) {
    let by_question: std::collections::HashMap<String, String> = report
        .results
        .iter()
        .map(|r| (question_key(&r.question), sql_key(&r.gold_sql)))
        .collect();
    for r in &report.results {
        for q in &r.example_questions {
            if let Some(sql) = by_question.get(&question_key(q)) {
                assert_ne!(sql, &sql_key(&r.gold_sql), "q{} saw a twin: {q}", r.index);
            }
        }
    }
}

/// A two-table dataset written on the fly; one question appears twice with
/// different SQL, and one database file is missing.
async fn mini_dataset(root: &Path) {
    let db_dir = root.join("database/mini");
    std::fs::create_dir_all(&db_dir).unwrap();
    let mut conn = SqliteConnectOptions::new()
        .filename(db_dir.join("mini.sqlite"))
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    for stmt in [
        "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, age INTEGER)",
        "INSERT INTO singer VALUES (1, 'Ann', 30), (2, 'Bob', 41), (3, 'Cy', 30)",
    ] {
        sqlx::query(stmt).execute(&mut conn).await.unwrap();
    }
    let ex = |db: &str, q: &str, sql: &str| serde_json::json!({"db_id": db, "question": q, "query": sql});
    let dev = serde_json::json!([
        ex(
            "mini",
            "How many singers are there?",
            "SELECT count(*) FROM singer"
        ),
        ex(
            "mini",
            "List the names of all singers.",
            "SELECT name FROM singer"
        ),
        ex("gone", "How many rows?", "SELECT 1"),
        ex(
            "mini",
            "How many singers are there?",
            "SELECT count(singer_id) FROM singer"
        ),
        ex(
            "mini",
            "What is the average age of singers?",
            "SELECT avg(age) FROM singer"
        ),
        ex(
            "mini",
            "Show names of singers ordered by age.",
            "SELECT name FROM singer ORDER BY age, name"
        ),
    ]);
    std::fs::write(root.join("dev.json"), dev.to_string()).unwrap();
}

#[tokio::test]
async fn duplicated_questions_are_held_out_together_and_missing_dbs_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spider");
    mini_dataset(&root).await;
    let mut opts = EvalOptions::new(&root);
    opts.train = TrainMode::LeaveOneOut;
    let report = insight::eval::evaluate(config(dir.path()), &opts)
        .await
        .unwrap();
    assert_eq!(report.run.skipped_missing_db, 1);
    assert_eq!(report.run.training.added, 5);
    check_report(&report, 5, &dir.path().join("out"));
    check_leave_one_out(&report);
    let dup: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.question == "How many singers are there?")
        .collect();
    assert_eq!(dup.len(), 2);
    assert!(dup.iter().all(|r| r.held_out.len() == 2));
    // Gold order survives, with the missing database's question left out.
    let idx: Vec<usize> = report.results.iter().map(|r| r.index).collect();
    assert_eq!(idx, vec![0, 1, 3, 4, 5]);
}

#[tokio::test]
async fn leave_group_out_holds_out_every_pair_with_the_same_sql() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spider");
    mini_dataset(&root).await;
    // A paraphrase with the same SQL as "How many singers are there?" (q0).
    let dev_path = root.join("dev.json");
    let mut dev: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&dev_path).unwrap()).unwrap();
    dev.push(
        serde_json::json!({"db_id": "mini", "question": "Count the singers.",
        "query": "select COUNT(*) from singer ;"}),
    );
    std::fs::write(&dev_path, serde_json::Value::from(dev).to_string()).unwrap();

    let mut opts = EvalOptions::new(&root);
    opts.train = TrainMode::LeaveOneOut;
    let loo = insight::eval::evaluate(config(dir.path()), &opts)
        .await
        .unwrap();
    opts.train = TrainMode::LeaveGroupOut;
    let lgo = insight::eval::evaluate(config(dir.path()), &opts)
        .await
        .unwrap();
    check_report(&lgo, 6, &dir.path().join("out"));
    let held = |report: &EvalReport, q: &str| {
        report
            .results
            .iter()
            .find(|r| r.question == q)
            .unwrap()
            .held_out
            .len()
    };
    // Leave-one-out keeps the paraphrase; leave-group-out holds it out too.
    assert_eq!(held(&loo, "Count the singers."), 1);
    assert_eq!(held(&lgo, "Count the singers."), 2);
    // q0's text also carries `count(singer_id)`: held out by its question.
    assert_eq!(held(&lgo, "How many singers are there?"), 3);
    assert_eq!(held(&lgo, "What is the average age of singers?"), 1);
    check_no_twin_seen(&lgo);
}

#[tokio::test]
async fn unknown_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spider");
    mini_dataset(&root).await;
    let mut opts = EvalOptions::new(&root);
    opts.dbs = vec!["nope".into()];
    let err = insight::eval::evaluate(config(dir.path()), &opts)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--db nope"), "{err}");
}
