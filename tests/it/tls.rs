//! TLS to the production backends: the app store on PostgreSQL with
//! `sslmode=require`; Redis over `rediss://` and a MySQL-protocol target
//! (MariaDB) against servers that refuse anything but TLS (started by
//! `scripts/services.sh` with a certificate from a test CA). Their
//! certificates are verified: without the CA they are refused; with it (for
//! Redis, `SSL_CERT_FILE` naming the CA for a real `insight serve`; for
//! MySQL, `ssl-ca` in the URL) they are used.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use insight::cache::redis::RedisCache;
use insight::connectors::mysql::MySqlConnector;
use insight::connectors::{Connector, ExecLimits};
use insight::domain::Dialect;
use insight::domain::Role;
use insight::sql::{SqlPolicy, validate};
use insight::store::Store;
use serde_json::Value;

use crate::store::{DropSchema, postgres_schema_url, postgres_url};

#[tokio::test]
async fn the_app_store_talks_to_postgres_over_tls() {
    let Some(url) = postgres_url() else { return };
    let (schema_url, schema) = postgres_schema_url(&url).await;
    let _cleanup = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let store = Store::connect(&format!(
        "{schema_url}&sslmode=require&application_name={schema}"
    ))
    .await
    .expect("connect with sslmode=require");
    store.migrate().await.unwrap();
    store.create_user("tls", "h", Role::Viewer).await.unwrap();

    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let ssl: Vec<bool> = sqlx::query_scalar(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = $1",
    )
    .bind(&schema)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ssl.is_empty(), "the store's connections are listed");
    assert!(
        ssl.iter().all(|s| *s),
        "every store connection is TLS: {ssl:?}"
    );
}

fn tls_redis() -> Option<(String, String)> {
    let url = crate::util::service_url("INSIGHT_TEST_REDIS_TLS_URL", "the TLS Redis")?;
    let ca = std::env::var("INSIGHT_TEST_TLS_CA").expect("set with the URL");
    Some((url, ca))
}

#[tokio::test]
async fn redis_over_tls_refuses_a_server_certificate_from_an_unknown_ca() {
    let Some((url, _ca)) = tls_redis() else {
        return;
    };
    // The test CA is in no system store: the certificate is refused.
    let refused = RedisCache::connect(&url).await;
    assert!(refused.is_err(), "an unknown CA must be refused");
    // Plain text to the TLS port is refused too (it is TLS or nothing).
    let plain = url.replacen("rediss://", "redis://", 1);
    assert!(RedisCache::connect(&plain).await.is_err());
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn ready(base: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/health/ready")).await
            && let Ok(v) = r.json::<Value>().await
        {
            return v;
        }
        assert!(Instant::now() < deadline, "{base} did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `insight serve` on `port`, with its metrics listener (where readiness
/// shows its checks to anyone) on `metrics_port`.
fn serve(
    dir: &std::path::Path,
    port: u16,
    metrics_port: u16,
    redis_url: &str,
    ca: Option<&str>,
) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_insight"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INSIGHT_DATA_DIR", dir)
        .env("INSIGHT_SERVER__PORT", port.to_string())
        .env(
            "INSIGHT_SERVER__METRICS_ADDR",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("INSIGHT_REDIS_URL", redis_url)
        .env("INSIGHT_JOBS__WORKER", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(ca) = ca {
        cmd.env("SSL_CERT_FILE", ca);
    }
    Serve(cmd.spawn().expect("start insight serve"))
}

#[tokio::test]
async fn the_service_uses_a_tls_redis_whose_ca_it_trusts() {
    let Some((url, ca)) = tls_redis() else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();

    let (port, metrics) = (crate::util::free_port(), crate::util::free_port());
    let _trusting = serve(&dir.path().join("a"), port, metrics, &url, Some(&ca));
    let r = ready(&format!("http://127.0.0.1:{metrics}")).await;
    assert_eq!(r["checks"]["cache"]["status"], "ok", "{r}");

    // Same server, CA not trusted: the service starts on its in-process
    // fallback and readiness says the cache is degraded.
    let (port, metrics) = (crate::util::free_port(), crate::util::free_port());
    let _distrusting = serve(&dir.path().join("b"), port, metrics, &url, None);
    let r = ready(&format!("http://127.0.0.1:{metrics}")).await;
    assert_ne!(r["checks"]["cache"]["status"], "ok", "{r}");
}

fn tls_mysql() -> Option<(String, String)> {
    let url = crate::util::service_url("INSIGHT_TEST_MYSQL_TLS_URL", "the TLS MariaDB")?;
    let ca = std::env::var("INSIGHT_TEST_TLS_CA").expect("set with the URL");
    Some((url, ca))
}

#[tokio::test]
async fn mysql_targets_are_queried_over_tls_with_a_verified_certificate() {
    let Some((url, ca)) = tls_mysql() else {
        return;
    };
    // Verified against the test CA, host name included.
    let conn = MySqlConnector::connect(&format!("{url}?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"), 1)
        .await
        .expect("connect with ssl-mode=VERIFY_IDENTITY and the CA");
    let cipher: (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_one(conn.pool())
        .await
        .unwrap();
    assert!(!cipher.1.is_empty(), "the session is encrypted: {cipher:?}");
    // The connector's own path: introspection and a validated query.
    let schema = conn.introspect().await.expect("introspect over TLS");
    let sql = validate(
        "SELECT 40 + 2 AS answer",
        Dialect::Mysql,
        &schema,
        &SqlPolicy::default(),
    )
    .unwrap();
    let limits = ExecLimits::new(std::time::Duration::from_secs(5), 10);
    let rs = conn.execute(&sql, limits).await.expect("query over TLS");
    assert_eq!(rs.rows, [[serde_json::json!(42)]]);

    // `REQUIRED` encrypts without checking the certificate: it connects...
    MySqlConnector::connect(&format!("{url}?ssl-mode=REQUIRED"), 1)
        .await
        .expect("ssl-mode=REQUIRED connects");
    // ...but the test CA is in no system store, so verifying without it fails.
    let unknown = MySqlConnector::connect(&format!("{url}?ssl-mode=VERIFY_CA"), 1).await;
    assert!(unknown.is_err(), "an unknown CA must be refused");
    // And this server takes nothing but TLS.
    let plain = MySqlConnector::connect(&format!("{url}?ssl-mode=DISABLED"), 1).await;
    assert!(plain.is_err(), "a plain-text session must be refused");
}
