//! `insight user create` and the first-serve admin bootstrap.

use crate::util::insight_cmd as insight;
use crate::util::{Running, run_with_stdin};

fn create(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    run_with_stdin(insight(dir).args(["user", "create"]).args(args), stdin)
}

#[test]
fn user_create_reads_stdin_or_generates_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = create(
        dir.path(),
        &["--username", "alice", "--role", "analyst"],
        "a-long-enough-password\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("created analyst `alice`"), "{stdout}");
    assert!(!stdout.contains("a-long-enough-password"), "never echoed");
    assert!(!stdout.contains("password"), "{stdout}");

    let out = create(dir.path(), &["--username", "bob", "--role", "admin"], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("password (shown once): "), "{stdout}");

    let out = create(
        dir.path(),
        &["--username", "alice"],
        "another-long-password\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
    let out = create(dir.path(), &["--username", "carol"], "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12"));
    let out = create(dir.path(), &["--username", "dave", "--role", "root"], "");
    assert!(!out.status.success());
}

#[tokio::test]
async fn first_serve_creates_an_admin_and_prints_its_password_once() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let server = Running::serve(insight(dir.path()).args(["serve", "--port", "0"]));
    let base = server.base.clone();
    let password = server
        .lines
        .iter()
        .find_map(|line| line.split("with password: ").nth(1))
        .map(|rest| rest.trim().to_string());
    let password = password.expect("the generated password was printed");
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = client
        .get(format!("{base}/api/v1/queries"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "anonymous callers are refused");
}
