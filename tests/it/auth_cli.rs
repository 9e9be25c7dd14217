//! `insight user create` and the first-serve admin bootstrap.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::insight_cmd as insight;

fn create(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = insight(dir)
        .args(["user", "create"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
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
    let mut child = insight(dir.path())
        .args(["serve", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut password = None;
    let base = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server output");
        if let Some(rest) = line.split("with password: ").nth(1) {
            password = Some(rest.trim().to_string());
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
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
    let _ = child.kill();
    let _ = child.wait();
}
