//! The Chroma vector index against a real Chroma server (started by
//! scripts/services.sh): the `VectorIndex` contract, the startup re-index
//! from the app store, and an ask whose trained example comes from Chroma.
//! Each test uses its own collection prefix, so runs never see each other.

use insight::app::{App, AppOverrides};
use insight::config::IndexKind;
use insight::domain::TrainingKind;
use insight::engine::retrieval::{ChromaIndex, IndexEntry, IndexError, ScoredId, VectorIndex};
use serde_json::{Value, json};

use crate::util::TestApp;

fn chroma_url() -> Option<String> {
    crate::util::service_url("INSIGHT_TEST_CHROMA_URL", "Chroma")
}

fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Drop every collection of `prefix` (test data must not pile up).
async fn drop_collections(url: &str, prefix: &str) {
    let base =
        format!("{url}/api/v2/tenants/default_tenant/databases/default_database/collections");
    let client = reqwest::Client::new();
    let list: Vec<Value> = client
        .get(format!("{base}?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for c in list {
        let name = c["name"].as_str().unwrap_or_default();
        if c["metadata"]["insight_prefix"] == prefix {
            client
                .delete(format!("{base}/{name}"))
                .send()
                .await
                .unwrap();
        }
    }
}

const DIM: usize = 4;

fn entry(id: &str, connection: &str, kind: TrainingKind, v: [f32; DIM]) -> IndexEntry {
    IndexEntry {
        id: id.into(),
        connection: connection.into(),
        kind,
        vector: v.to_vec(),
    }
}

fn ids(hits: &[ScoredId]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

#[tokio::test]
async fn chroma_index_adds_searches_replaces_deletes_and_counts() {
    let Some(url) = chroma_url() else { return };
    let prefix = unique_prefix();
    let index = ChromaIndex::new(&url, &prefix, DIM).unwrap();
    index.heartbeat().await.unwrap();
    assert!(index.is_empty().await.unwrap(), "a new prefix starts empty");
    let x = [1.0, 0.0, 0.0, 0.0];
    let y = [0.0, 1.0, 0.0, 0.0];
    for e in [
        entry("x", "demo", TrainingKind::Ddl, x),
        entry("xy", "demo", TrainingKind::Ddl, [1.0, 1.0, 0.0, 0.0]),
        entry("y", "demo", TrainingKind::Ddl, y),
        entry("doc", "demo", TrainingKind::Documentation, x),
        entry("other", "sales", TrainingKind::Ddl, x),
    ] {
        index.upsert(e).await.unwrap();
    }
    assert_eq!(index.len().await.unwrap(), 5);

    // Best first, cosine scores, only the asked connection and kind.
    let hits = index
        .search("demo", TrainingKind::Ddl, &[2.0, 0.0, 0.0, 0.0], 10)
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["x", "xy", "y"]);
    assert!((hits[0].score - 1.0).abs() < 1e-4, "{hits:?}");
    assert!(
        (hits[1].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4,
        "{hits:?}"
    );
    assert!(hits[2].score.abs() < 1e-4, "{hits:?}");
    let top = index
        .search("demo", TrainingKind::Ddl, &y, 2)
        .await
        .unwrap();
    assert_eq!(ids(&top), ["y", "xy"]);
    let docs = index
        .search("demo", TrainingKind::Documentation, &x, 5)
        .await
        .unwrap();
    assert_eq!(ids(&docs), ["doc"]);
    let sales = index
        .search("sales", TrainingKind::Ddl, &x, 5)
        .await
        .unwrap();
    assert_eq!(ids(&sales), ["other"]);
    for (conn, kind) in [
        ("sales", TrainingKind::QuestionSql),
        ("unknown", TrainingKind::Ddl),
    ] {
        assert!(index.search(conn, kind, &x, 5).await.unwrap().is_empty());
    }
    assert!(
        index
            .search("demo", TrainingKind::Ddl, &x, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // Same id replaces.
    index
        .upsert(entry("x", "demo", TrainingKind::Ddl, y))
        .await
        .unwrap();
    assert_eq!(index.len().await.unwrap(), 5);
    let hits = index
        .search("demo", TrainingKind::Ddl, &y, 3)
        .await
        .unwrap();
    assert_eq!(hits[0].score.round(), 1.0, "{hits:?}");
    assert_eq!(ids(&hits)[2], "xy", "x now points along y: {hits:?}");

    // Delete (an unknown id is fine).
    index.remove("xy").await.unwrap();
    index.remove("absent").await.unwrap();
    assert_eq!(index.len().await.unwrap(), 4);
    let hits = index
        .search("demo", TrainingKind::Ddl, &x, 5)
        .await
        .unwrap();
    assert!(hits.iter().all(|h| h.id != "xy"), "{hits:?}");

    // Wrong dimensions are refused before Chroma is asked.
    let err = index
        .upsert(IndexEntry {
            vector: vec![1.0; 3],
            ..entry("z", "demo", TrainingKind::Ddl, x)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IndexError::Dimension {
                expected: 4,
                got: 3
            }
        ),
        "{err:?}"
    );

    // Another instance (another replica) sees the same vectors.
    let twin = ChromaIndex::new(&url, &prefix, DIM).unwrap();
    assert_eq!(twin.len().await.unwrap(), 4);
    assert_eq!(
        ids(&twin
            .search("sales", TrainingKind::Ddl, &x, 1)
            .await
            .unwrap()),
        ["other"]
    );
    drop_collections(&url, &prefix).await;
}

#[tokio::test]
async fn an_ask_retrieves_a_trained_example_from_chroma_and_a_restart_reindexes() {
    let Some(url) = chroma_url() else { return };
    let prefix = unique_prefix();
    let (u, p) = (url.clone(), prefix.clone());
    let app = TestApp::builder()
        .config(move |c| {
            c.retrieval.index = IndexKind::Chroma;
            c.retrieval.chroma_url = Some(u);
            c.retrieval.chroma_collection_prefix = p;
        })
        .spawn()
        .await;
    let index = &app.state.engine.index;
    assert_eq!(index.name(), "chroma");
    let ddl = index.len().await.unwrap();
    assert!(ddl > 0, "the demo schema was indexed in Chroma at startup");

    let pair = app
        .post(
            "/api/v1/training",
            json!({
                "kind": "question_sql",
                "content": "Which customers bought the most expensive product?",
                "sql": "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items i ON i.order_id = o.id WHERE i.product_id = (SELECT id FROM products ORDER BY price DESC LIMIT 1)"
            }),
        )
        .await
        .expect(201);
    assert_eq!(index.len().await.unwrap(), ddl + 1);
    let r = app
        .ask("Which customers bought the most expensive product?")
        .await
        .expect(200);
    assert_eq!(r["strategy"], "trained_example", "{r}");
    assert!(
        r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == pair["id"]),
        "the example came from Chroma: {r}"
    );
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["checks"]["vector_index"]["status"], "ok", "{ready}");
    assert_eq!(
        ready["checks"]["vector_index"]["required"], false,
        "{ready}"
    );

    // Chroma loses everything; a new instance on the same app store
    // re-indexes every stored item at startup.
    drop_collections(&url, &prefix).await;
    let fresh = ChromaIndex::new(&url, &prefix, app.state.config.retrieval.embedding_dim).unwrap();
    assert_eq!(fresh.len().await.unwrap(), 0);
    let second = App::build(
        app.state.config.clone(),
        AppOverrides {
            llm: None,
            store: Some(app.state.engine.store.clone()),
        },
    )
    .await
    .expect("second instance builds");
    assert_eq!(second.engine.index.len().await.unwrap(), ddl + 1);
    let vector = second
        .engine
        .embedder
        .embed_one("Which customers bought the most expensive product?")
        .await
        .unwrap();
    let hits = fresh
        .search("demo", TrainingKind::QuestionSql, &vector, 1)
        .await
        .unwrap();
    assert_eq!(hits[0].id, pair["id"].as_str().unwrap());
    drop_collections(&url, &prefix).await;
}

/// The `chroma` binary of the venv scripts/services.sh makes; `None` (with a
/// notice) when it is missing locally, a failure under CI.
fn chroma_bin() -> Option<std::path::PathBuf> {
    let bin =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/chroma-venv/bin/chroma");
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "target/chroma-venv is missing in CI: scripts/services.sh installs it"
    );
    eprintln!("skipping: run ./scripts/test (or source scripts/services.sh) to install Chroma");
    None
}

/// A `chroma run` of our own (from the venv scripts/services.sh makes), to kill.
struct PrivateChroma {
    child: Option<std::process::Child>,
    url: String,
    _dir: tempfile::TempDir,
}

impl PrivateChroma {
    async fn start(bin: &std::path::Path) -> Self {
        Self::start_on(bin, crate::util::free_port()).await
    }

    async fn start_on(bin: &std::path::Path, port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(bin)
            .args([
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--path",
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chroma starts");
        let me = Self {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let probe = ChromaIndex::new(&me.url, "t", DIM).unwrap();
        for _ in 0..120 {
            if probe.heartbeat().await.is_ok() {
                return me;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        panic!("private Chroma did not come up on {}", me.url);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateChroma {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn a_down_chroma_degrades_readiness_without_taking_the_service_down() {
    let Some(bin) = chroma_bin() else { return };
    let mut chroma = PrivateChroma::start(&bin).await;
    let url = chroma.url.clone();
    let app = TestApp::builder()
        .config(move |c| {
            c.retrieval.index = IndexKind::Chroma;
            c.retrieval.chroma_url = Some(url);
        })
        .spawn()
        .await;
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["checks"]["vector_index"]["status"], "ok", "{ready}");

    chroma.stop();
    let ready = app.get("/health/ready").await.expect(200);
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(
        ready["checks"]["vector_index"]["status"], "degraded",
        "{ready}"
    );
    assert!(
        ready["checks"]["vector_index"]["error"]
            .as_str()
            .unwrap()
            .contains("Chroma")
    );
    // What does not need retrieval keeps working.
    let r = app
        .post(
            "/api/v1/sql/execute",
            json!({ "sql": "SELECT COUNT(*) AS n FROM products" }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    // An ask needs retrieval: 503 with a stable code, not an internal error.
    let r = app.ask("How many customers are there?").await;
    r.expect_error(503, "upstream_unavailable");
}

/// Chroma is down when `insight serve` starts: the service comes up anyway
/// (readiness degraded, asks 503), and once Chroma is back the training items
/// and the demo database's DDL are indexed without a restart.
#[tokio::test]
async fn a_chroma_down_at_startup_is_filled_when_it_comes_back() {
    let Some(bin) = chroma_bin() else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chroma_port = crate::util::free_port();
    let dir = tempfile::tempdir().unwrap();
    let serve = crate::util::Running::serve(
        crate::util::insight_cmd(dir.path())
            .args(["serve", "--port", "0"])
            .env("INSIGHT_RETRIEVAL__INDEX", "chroma")
            .env(
                "INSIGHT_RETRIEVAL__CHROMA_URL",
                format!("http://127.0.0.1:{chroma_port}"),
            )
            .env("INSIGHT_ADMIN_PASSWORD", "a-long-admin-password-for-tests")
            .env("INSIGHT_JOBS__WORKER", "false"),
    );
    let base = serve.base.clone();
    let http = reqwest::Client::new();
    let token = crate::util::login(&http, &base, "admin", "a-long-admin-password-for-tests").await;
    // The checks are shown to admins only.
    let ready = || async {
        http.get(format!("{base}/health/ready"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let r = ready().await;
    assert_eq!(r["checks"]["vector_index"]["status"], "degraded", "{r}");

    let ask = || async {
        let r = http
            .post(format!("{base}/api/v1/ask"))
            .bearer_auth(&token)
            .json(&json!({"question": "How many customers are there?"}))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    };
    let (status, body) = ask().await;
    assert_eq!(status, 503, "{body}");

    let _chroma = PrivateChroma::start_on(&bin, chroma_port).await;
    // Readiness stays degraded until the items are indexed, then turns ok.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = ready().await;
        if r["checks"]["vector_index"]["status"] == "ok" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Chroma was never filled: {r}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let (status, body) = ask().await;
    assert_eq!(status, 200, "{body}");
    let ddl = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "ddl")
        .count();
    assert!(ddl > 0, "the demo DDL was indexed: {body}");
}
