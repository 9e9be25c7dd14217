//! The `insight` binary: migrate, ask, train, and startup refusal in production.

use crate::util::insight_cmd as insight;

#[test]
fn migrate_ask_and_train_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = insight(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migration(s) applied"));

    let out = insight(dir.path())
        .args(["ask", "How many customers are there?"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("SELECT") && stdout.contains("200") && stdout.contains("1 row(s)"),
        "{stdout}"
    );

    let out = insight(dir.path())
        .args(["train", "--question", "Which customers are loyal?", "--sql", "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders GROUP BY customer_id HAVING COUNT(*) > 12)"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = insight(dir.path())
        .args(["ask", "which customers are loyal", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["strategy"], "trained_example", "{answer}");
    assert!(
        answer["sql"].as_str().unwrap().contains("HAVING"),
        "{answer}"
    );

    let out = insight(dir.path())
        .args([
            "train",
            "--question",
            "bad",
            "--sql",
            "DELETE FROM customers",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-only")
            || String::from_utf8_lossy(&out.stderr).contains("DELETE"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = insight(dir.path())
        .args(["ask", "what is the meaning of life"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn production_refuses_to_start_without_secrets_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = insight(dir.path())
        .env("INSIGHT_PROFILE", "production")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("INSIGHT_SECRET_KEY") && err.contains("INSIGHT_JWT_SECRET"),
        "{err}"
    );

    let out = insight(dir.path())
        .env("INSIGHT_QUERY__MAX_ROWS", "lots")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("query.max_rows"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn production_reads_its_secrets_from_files() {
    // What the Kubernetes pods and the Compose services do: every secret is
    // a file named by INSIGHT_<KEY>_FILE, none is an environment value.
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let store = dir.path().join("from-the-file.db");
    let files = [
        (
            "INSIGHT_SECRET_KEY_FILE",
            "secret-key",
            "k7Qw9zX2mP4vN8rT1yB6cH3jL5sD0fGa\n".to_string(),
        ),
        (
            "INSIGHT_JWT_SECRET_FILE",
            "jwt-secret",
            "Zt4Yh8Kp2Wq6Rn0Vm3Xc7Lb1Jd5Fs9Ga\n".to_string(),
        ),
        (
            "INSIGHT_DATABASE_URL_FILE",
            "database-url",
            format!("sqlite://{}\n", store.display()),
        ),
    ];
    let cmd = || {
        let mut cmd = insight(dir.path());
        cmd.env("INSIGHT_PROFILE", "production");
        for (var, name, _) in &files {
            cmd.env(var, secrets.join(name));
        }
        cmd
    };
    for (_, name, value) in &files {
        std::fs::write(secrets.join(name), value).unwrap();
    }
    let out = cmd().arg("migrate").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(store.exists(), "the store is the one the URL file names");

    // A missing file stops startup naming the setting and the path, and
    // prints no secret.
    std::fs::remove_file(secrets.join("jwt-secret")).unwrap();
    let out = cmd().arg("migrate").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("jwt_secret_file (INSIGHT_JWT_SECRET_FILE)")
            && err.contains(&secrets.join("jwt-secret").display().to_string()),
        "{err}"
    );
    assert!(!err.contains("k7Qw9zX2mP4vN8rT"), "{err}");
}
