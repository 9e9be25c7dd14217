//! Loading: the optional TOML file, the `INSIGHT_*` environment overlay
//! (`__` nests: `INSIGHT_LLM__PROVIDER` is `llm.provider`), secrets given as
//! files ([`super::secret_files`]), then the checks ([`super::validate`]).
//! [`Config::load`] takes the process environment, [`Config::load_from`] a
//! given one (tests pass their own). Figment's errors become messages that
//! name a setting the way an operator writes it.

use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Toml};

use super::{Config, ConfigError, secret_files};

impl Config {
    /// Load from `file` (or `./insight.toml` when it exists) and the process env.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Load from `file` and the given environment (tests pass their own).
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut fig = Figment::new();
        match file {
            Some(f) => {
                if !f.exists() {
                    return Err(ConfigError::Invalid(format!(
                        "config file {} does not exist",
                        f.display()
                    )));
                }
                fig = fig.merge(Toml::file_exact(f));
            }
            None => {
                let default = Path::new("insight.toml");
                if default.exists() {
                    fig = fig.merge(Toml::file_exact(default));
                }
            }
        }
        // Env overlay: INSIGHT_A__B=v → a.b = v. Built from the given list
        // (not figment's Env provider, which reads the process env) so tests
        // are hermetic.
        let env_toml = env_to_toml(env);
        fig = fig.merge(Toml::string(&env_toml));
        let fig = secret_files::resolve(fig)?;
        let mut cfg: Config = fig.extract().map_err(|e| {
            let problems: Vec<String> = e.into_iter().map(|e| describe(&e)).collect();
            ConfigError::Problems(problems)
        })?;
        if let Some((_, host)) = env
            .iter()
            .rev()
            .find(|(k, v)| k == "HOSTNAME" && !v.trim().is_empty())
        {
            cfg.jobs.host = host.trim().to_string();
        }
        cfg.check()?;
        Ok(cfg)
    }
}

/// Turn `INSIGHT_*` variables into a TOML document. `__` separates nesting
/// levels; values are parsed as TOML when they are valid TOML values (numbers,
/// booleans, arrays) and taken as strings otherwise.
fn env_to_toml(env: &[(String, String)]) -> String {
    let mut table = toml_edit_free::Table::default();
    for (k, v) in env {
        let Some(rest) = k.strip_prefix("INSIGHT_") else {
            continue;
        };
        // `INSIGHT_CONFIG` names the config file (the CLI's `--config`); it
        // is not a setting.
        if rest.is_empty() || rest == "CONFIG" {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        table.insert(&path, v);
    }
    table.render()
}

/// A tiny TOML writer for the env overlay (keys are quoted, values typed).
mod toml_edit_free {
    use std::collections::BTreeMap;

    #[derive(Default)]
    pub struct Table {
        values: BTreeMap<String, String>,
        tables: BTreeMap<String, Table>,
    }

    impl Table {
        pub fn insert(&mut self, path: &[String], value: &str) {
            match path {
                [] => {}
                [leaf] => {
                    self.values.insert(leaf.clone(), typed(value));
                }
                [head, rest @ ..] => self
                    .tables
                    .entry(head.clone())
                    .or_default()
                    .insert(rest, value),
            }
        }

        pub fn render(&self) -> String {
            let mut out = String::new();
            self.render_into(&mut Vec::new(), &mut out);
            out
        }

        fn render_into(&self, prefix: &mut Vec<String>, out: &mut String) {
            if !prefix.is_empty() && !self.values.is_empty() {
                let header: Vec<String> = prefix.iter().map(|p| quote(p)).collect();
                out.push_str(&format!("[{}]\n", header.join(".")));
            }
            for (k, v) in &self.values {
                out.push_str(&format!("{} = {v}\n", quote(k)));
            }
            for (k, t) in &self.tables {
                prefix.push(k.clone());
                t.render_into(prefix, out);
                prefix.pop();
            }
        }
    }

    fn quote(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    fn typed(v: &str) -> String {
        let t = v.trim();
        let is_number = t.parse::<i64>().is_ok() || (t.parse::<f64>().is_ok() && t.contains('.'));
        let is_bool = t == "true" || t == "false";
        let is_array = t.starts_with('[') && t.ends_with(']');
        if is_number || is_bool || is_array {
            t.to_string()
        } else {
            quote(v)
        }
    }
}

/// Make figment's error name the setting the way an operator sets it.
pub(super) fn describe(e: &figment::Error) -> String {
    let path = e.path.join(".");
    let env = if path.is_empty() {
        String::new()
    } else {
        format!(
            " (INSIGHT_{})",
            e.path
                .iter()
                .map(|p| p.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join("__")
        )
    };
    match &e.kind {
        figment::error::Kind::UnknownField(field, _) => {
            let full = if path.is_empty() {
                field.clone()
            } else if e.path.last() == Some(field) {
                path
            } else {
                format!("{path}.{field}")
            };
            format!("{full}: unknown setting")
        }
        kind => {
            let name = if path.is_empty() {
                "configuration".to_string()
            } else {
                path
            };
            format!("{name}{env}: {kind}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ProviderKind};

    use super::super::tests::env;

    #[test]
    fn env_overrides_nested_values() {
        let c = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_QUERY__MAX_ROWS", "50"),
                ("INSIGHT_SERVER__PORT", "9000"),
                ("INSIGHT_LLM__PROVIDER", "openai"),
                ("INSIGHT_LLM__MODEL", "gpt-x"),
                ("OTHER", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.query.max_rows, 50);
        assert_eq!(c.server.port, 9000);
        assert_eq!(c.llm.provider, ProviderKind::Openai);
        assert_eq!(c.llm.model.as_deref(), Some("gpt-x"));
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let err = Config::load_from(None, &env(&[("INSIGHT_SERVER__PORT", "eighty")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.port"), "{err}");
        let err = Config::load_from(None, &env(&[("INSIGHT_BOGUS", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus: unknown setting"), "{err}");
        let err = Config::load_from(None, &env(&[("INSIGHT_QUERY__MAX_ROWS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("query.max_rows"), "{err}");
    }

    #[test]
    fn insight_config_names_the_file_and_is_not_a_setting() {
        let c = Config::load_from(None, &env(&[("INSIGHT_CONFIG", "/etc/insight.toml")]));
        assert!(c.is_ok(), "{:?}", c.err());
    }

    #[test]
    fn toml_file_is_read_and_unknown_keys_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("insight.toml");
        std::fs::write(&f, "[query]\nmax_rows = 7\n[connections.sales]\ndialect = \"sqlite\"\npath = \"/tmp/x.db\"\n").unwrap();
        let c = Config::load_from(Some(&f), &[]).unwrap();
        assert_eq!(c.query.max_rows, 7);
        assert!(c.connections.contains_key("sales"));
        std::fs::write(&f, "[query]\nmax_rowz = 7\n").unwrap();
        let err = Config::load_from(Some(&f), &[]).unwrap_err().to_string();
        assert!(err.contains("query.max_rowz: unknown setting"), "{err}");
    }

    #[test]
    fn the_worker_host_comes_from_hostname_only() {
        let c = Config::load_from(None, &[]).unwrap();
        assert_eq!(c.jobs.host, "local");
        let c = Config::load_from(None, &env(&[("HOSTNAME", "worker-7")])).unwrap();
        assert_eq!(c.jobs.host, "worker-7");
        let err = Config::load_from(None, &env(&[("INSIGHT_JOBS__HOST", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("jobs.host"), "{err}");
    }
}
