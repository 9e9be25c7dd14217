//! Two `insight serve` processes on different ports sharing one PostgreSQL
//! app store (its own schema) and one Redis, as replicas behind a load
//! balancer would: a token from one works on the other, a training item
//! added through A is retrieved by B within a second (`retrieval.index =
//! postgres`), and a user's rate limit is shared (the sum over A and B is
//! limited).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::store::postgres_schema_url;

use crate::util::{Running, insight_cmd, login};

/// One replica on its own data dir, sharing the app store and Redis.
fn start(data: &std::path::Path, store_url: &str, redis_url: &str) -> Running {
    std::fs::create_dir_all(data).expect("data dir");
    Running::serve(
        insight_cmd(data)
            .args(["serve", "--port", "0"])
            .env("INSIGHT_DATA_DIR", data)
            .env("INSIGHT_DATABASE_URL", store_url)
            .env("INSIGHT_REDIS_URL", redis_url)
            .env("INSIGHT_RETRIEVAL__INDEX", "postgres")
            .env("INSIGHT_RETRIEVAL__SYNC_INTERVAL_MS", "200")
            // Replicas share their secrets (tokens signed by one verify on the other).
            .env("INSIGHT_SECRET_KEY", "k7Qw9zX2mP4vN8rT1yB6cH3jL5sD0fGa")
            .env("INSIGHT_JWT_SECRET", "Zt4Yh8Kp2Wq6Rn0Vm3Xc7Lb1Jd5Fs9Ga")
            .env("INSIGHT_ADMIN_PASSWORD", "a-long-admin-password-for-tests")
            .env("INSIGHT_AUTH__RATE_LIMIT__VIEWER_PER_MINUTE", "6")
            .env("INSIGHT_JOBS__WORKER", "false"),
    )
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_instances_share_training_and_rate_limits_through_postgres_and_redis() {
    let Some(pg) = crate::store::postgres_url() else {
        return;
    };
    let Some(redis) = crate::util::service_url("INSIGHT_TEST_REDIS_URL", "Redis") else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (store_url, schema) = postgres_schema_url(&pg).await;
    let _cleanup = crate::store::DropSchema {
        url: pg.clone(),
        schema,
    };
    let dir = tempfile::tempdir().unwrap();
    // A migrates the empty store (dev profile); B starts on the migrated one.
    let a = start(&dir.path().join("a"), &store_url, &redis);
    let b = start(&dir.path().join("b"), &store_url, &redis);
    let http = reqwest::Client::new();

    let admin = login(&http, &a.base, "admin", "a-long-admin-password-for-tests").await;
    let (status, me) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/auth/me", b.base),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "a token from A works on B: {me}");

    // Training through A is used by B within a second.
    let question = "Which customers ordered the most in total?";
    let sql = "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name ORDER BY spent DESC LIMIT 3";
    let (status, added) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/training", a.base),
        &admin,
        Some(json!({"kind": "question_sql", "content": question, "sql": sql})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let trained_at = Instant::now();
    let answer = loop {
        let (status, answer) = call(
            &http,
            reqwest::Method::POST,
            format!("{}/api/v1/ask", b.base),
            &admin,
            Some(json!({"question": question, "chart": false})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        if answer["strategy"] == "trained_example" || trained_at.elapsed() > Duration::from_secs(1)
        {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        answer["strategy"], "trained_example",
        "B did not use A's training: {answer}"
    );
    assert!(trained_at.elapsed() <= Duration::from_millis(1500));
    assert!(
        answer["sql"].as_str().unwrap().contains("SUM(o.total)"),
        "{answer}"
    );

    // A viewer limited to 6 requests a minute gets 6 in all, not 6 on each.
    let (status, viewer) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/admin/users", a.base),
        &admin,
        Some(json!({"username": "vera", "password": "vera-has-a-long-password", "role": "viewer"})),
    )
    .await;
    assert_eq!(status, 201, "{viewer}");
    let vera = login(&http, &b.base, "vera", "vera-has-a-long-password").await;
    let (mut ok_a, mut ok_b, mut limited) = (0, 0, 0);
    for i in 0..16 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let (status, body) = call(
            &http,
            reqwest::Method::GET,
            format!("{base}/api/v1/auth/me"),
            &vera,
            None,
        )
        .await;
        match status {
            200 if i % 2 == 0 => ok_a += 1,
            200 => ok_b += 1,
            429 => {
                assert_eq!(body["error"]["code"], "rate_limited", "{body}");
                limited += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        ok_a > 0 && ok_b > 0,
        "both instances served: {ok_a} + {ok_b}"
    );
    // The bucket refills one token every 10 s; the loop takes well under that.
    assert!(
        (6..=7).contains(&(ok_a + ok_b)),
        "the limit is shared: {ok_a} on A + {ok_b} on B, {limited} limited"
    );
}
