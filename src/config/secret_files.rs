//! Secrets given as files: every secret setting `<key>` can instead be set
//! as `<key>_file` (env `INSIGHT_<KEY>_FILE`), naming a file whose content is
//! the value (Kubernetes Secret volumes, Compose secrets). A trailing newline
//! is trimmed. A missing, unreadable or empty file, or a setting given both
//! as a value and as a file, fails startup naming the setting and the path.
//! This module owns that resolution; it runs on the merged settings before
//! they are typed, so the rest of the config never sees `_file` keys.

use figment::Figment;
use figment::providers::Serialized;
use figment::value::{Dict, Value};

use super::ConfigError;

/// Secret settings outside `[connections.*]` (whose `url` is one too).
const SECRET_PATHS: &[&[&str]] = &[
    &["database_url"],
    &["secret_key"],
    &["jwt_secret"],
    &["admin_password"],
    &["redis_url"],
    &["redis_password"],
    &["llm", "api_key"],
    &["retrieval", "embedding", "api_key"],
];

/// Replace each `<key>_file` of a secret setting by the file's content.
/// Returns `fig` unchanged when no such key is set.
pub(super) fn resolve(fig: Figment) -> Result<Figment, ConfigError> {
    let mut dict: Dict = fig.extract().map_err(|e| {
        ConfigError::Problems(e.into_iter().map(|e| super::load::describe(&e)).collect())
    })?;
    let mut problems = Vec::new();
    let mut changed = false;
    for path in SECRET_PATHS {
        let (leaf, parents) = path.split_last().expect("secret paths are not empty");
        if let Some(table) = table_at(&mut dict, parents) {
            changed |= resolve_leaf(table, path, leaf, &mut problems);
        }
    }
    if let Some(Value::Dict(_, conns)) = dict.get_mut("connections") {
        for (name, conn) in conns.iter_mut() {
            if let Value::Dict(_, table) = conn {
                let path = ["connections", name.as_str(), "url"];
                changed |= resolve_leaf(table, &path, "url", &mut problems);
            }
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError::Problems(problems));
    }
    Ok(if changed {
        Figment::from(Serialized::defaults(dict))
    } else {
        fig
    })
}

fn table_at<'a>(dict: &'a mut Dict, parents: &[&str]) -> Option<&'a mut Dict> {
    let mut table = dict;
    for part in parents {
        match table.get_mut(*part) {
            Some(Value::Dict(_, inner)) => table = inner,
            _ => return None,
        }
    }
    Some(table)
}

/// Resolve `<leaf>_file` in `table`; true when it was present.
fn resolve_leaf(table: &mut Dict, path: &[&str], leaf: &str, problems: &mut Vec<String>) -> bool {
    let Some(file) = table.remove(&format!("{leaf}_file")) else {
        return false;
    };
    let setting = path.join(".");
    let env = format!(
        "INSIGHT_{}",
        path.iter()
            .map(|p| p.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    );
    let named = format!("{setting}_file ({env}_FILE)");
    if table.contains_key(leaf) {
        problems.push(format!(
            "{named}: {setting} ({env}) is also set; set the value or the file, not both"
        ));
        return true;
    }
    let Some(file) = file.as_str() else {
        problems.push(format!("{named}: must be a file path"));
        return true;
    };
    match read_secret_file(file) {
        Ok(value) => {
            table.insert(leaf.to_string(), Value::from(value));
        }
        Err(why) => problems.push(format!("{named}: {why}")),
    }
    true
}

/// The file's content without its trailing newline; never empty.
fn read_secret_file(path: &str) -> Result<String, String> {
    if path.trim().is_empty() {
        return Err("the file path is empty".into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() {
        return Err(format!("{path} is empty"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use secrecy::ExposeSecret;

    use super::super::Config;
    use super::super::tests::env;

    fn write(dir: &Path, name: &str, content: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }

    #[test]
    fn every_secret_setting_reads_its_file_from_env_with_the_newline_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pairs = [
            (
                "INSIGHT_SECRET_KEY_FILE",
                write(d, "sk", "secret-key-value\n"),
            ),
            ("INSIGHT_JWT_SECRET_FILE", write(d, "jwt", "jwt-value\r\n")),
            (
                "INSIGHT_DATABASE_URL_FILE",
                write(d, "db", "postgres://u:p@h/db\n"),
            ),
            (
                "INSIGHT_ADMIN_PASSWORD_FILE",
                write(d, "admin", "admin pw "),
            ),
            (
                "INSIGHT_REDIS_URL_FILE",
                write(d, "ru", "redis://cache:6379/0\n"),
            ),
            (
                "INSIGHT_REDIS_PASSWORD_FILE",
                write(d, "rp", "redis-pw\n\n"),
            ),
            ("INSIGHT_LLM__API_KEY_FILE", write(d, "llm", "sk-llm\n")),
            (
                "INSIGHT_RETRIEVAL__EMBEDDING__API_KEY_FILE",
                write(d, "emb", "sk-emb\n"),
            ),
            (
                "INSIGHT_CONNECTIONS__SALES__URL_FILE",
                write(d, "conn", "postgres://r:pw@db/sales\n"),
            ),
        ];
        let mut env: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        env.push((
            "INSIGHT_CONNECTIONS__SALES__DIALECT".into(),
            "postgres".into(),
        ));
        let cfg = Config::load_from(None, &env).unwrap();
        let got =
            |s: &Option<secrecy::SecretString>| s.as_ref().unwrap().expose_secret().to_string();
        assert_eq!(got(&cfg.secret_key), "secret-key-value");
        assert_eq!(got(&cfg.jwt_secret), "jwt-value");
        assert_eq!(got(&cfg.database_url), "postgres://u:p@h/db");
        // Only the newline is trimmed; other whitespace is part of the value.
        assert_eq!(got(&cfg.admin_password), "admin pw ");
        assert_eq!(got(&cfg.redis_url), "redis://cache:6379/0");
        assert_eq!(got(&cfg.redis_password), "redis-pw");
        assert_eq!(got(&cfg.llm.api_key), "sk-llm");
        assert_eq!(got(&cfg.retrieval.embedding.api_key), "sk-emb");
        assert_eq!(
            got(&cfg.connections["sales"].url),
            "postgres://r:pw@db/sales"
        );
    }

    #[test]
    fn the_toml_file_takes_key_file_too() {
        let dir = tempfile::tempdir().unwrap();
        let key = write(dir.path(), "key", "from-a-file\n");
        let toml = write(
            dir.path(),
            "insight.toml",
            &format!("jwt_secret_file = \"{key}\"\n[llm]\napi_key_file = \"{key}\"\n"),
        );
        let cfg = Config::load_from(Some(Path::new(&toml)), &[]).unwrap();
        assert_eq!(cfg.jwt_secret.unwrap().expose_secret(), "from-a-file");
        assert_eq!(cfg.llm.api_key.unwrap().expose_secret(), "from-a-file");
    }

    #[test]
    fn a_missing_file_names_the_setting_and_the_path() {
        let err = Config::load_from(
            None,
            &env(&[("INSIGHT_SECRET_KEY_FILE", "/nonexistent/insight/secret_key")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("secret_key_file (INSIGHT_SECRET_KEY_FILE)")
                && err.contains("/nonexistent/insight/secret_key"),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file, even by root.
        let path = dir.path().display().to_string();
        let err = Config::load_from(None, &env(&[("INSIGHT_LLM__API_KEY_FILE", &path)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("llm.api_key_file (INSIGHT_LLM__API_KEY_FILE): cannot read")
                && err.contains(&path),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for content in ["", "\n", "\r\n\n"] {
            let path = write(dir.path(), "empty", content);
            let err = Config::load_from(None, &env(&[("INSIGHT_JWT_SECRET_FILE", &path)]))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("jwt_secret_file (INSIGHT_JWT_SECRET_FILE)")
                    && err.contains(&format!("{path} is empty")),
                "{content:?}: {err}"
            );
        }
    }

    #[test]
    fn value_and_file_together_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "pw", "from-file\n");
        let err = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_REDIS_PASSWORD", "from-env"),
                ("INSIGHT_REDIS_PASSWORD_FILE", &path),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("redis_password_file (INSIGHT_REDIS_PASSWORD_FILE): redis_password (INSIGHT_REDIS_PASSWORD) is also set"), "{err}");
        // Also when the value comes from the TOML file and the file from env.
        let toml = write(
            dir.path(),
            "insight.toml",
            "[connections.sales]\nurl = \"sqlite::memory:\"\n",
        );
        let err = Config::load_from(
            Some(Path::new(&toml)),
            &env(&[("INSIGHT_CONNECTIONS__SALES__URL_FILE", &path)]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("connections.sales.url_file"), "{err}");
    }

    #[test]
    fn file_keys_of_other_settings_stay_unknown() {
        let err = Config::load_from(None, &env(&[("INSIGHT_SERVER__PORT_FILE", "/tmp/x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.port_file: unknown setting"), "{err}");
    }

    #[test]
    fn production_accepts_strong_secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let sk = write(dir.path(), "sk", "k7Qw9zX2mP4vN8rT1yB6cH3jL5sD0fGa\n");
        let jwt = write(dir.path(), "jwt", "Zp3Lx8Vb2Nq6Wd9Rt1Ys5Hc7Jm0Kf4Ge\n");
        let cfg = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_PROFILE", "production"),
                ("INSIGHT_SECRET_KEY_FILE", &sk),
                ("INSIGHT_JWT_SECRET_FILE", &jwt),
            ]),
        )
        .unwrap();
        assert_eq!(
            cfg.secret_key.unwrap().expose_secret(),
            "k7Qw9zX2mP4vN8rT1yB6cH3jL5sD0fGa"
        );
    }
}
