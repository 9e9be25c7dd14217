//! Typed settings, loaded once at startup from an optional `insight.toml` and
//! `INSIGHT_*` environment variables (env wins; nested keys use `__`, e.g.
//! `INSIGHT_LLM__PROVIDER=openai`). Nothing else in the crate reads env vars.
//! Secret settings can also be given as files (`INSIGHT_<KEY>_FILE`, see
//! [`secret_files`]).
//!
//! Unknown keys and invalid values fail startup with a message naming the
//! setting. Secrets are `SecretString`s and DSNs are redacted in `Debug`.
//!
//! This file holds the settings' types and defaults; reading them is in
//! `load` (file, env overlay, error messages) and checking them as a whole
//! in `validate`, beside one module per concern (`auth`, `llm`, `ops`, …).

pub mod auth;
pub mod bounds;
pub mod budgets;
pub mod connections;
pub mod docs;
pub mod embedding;
pub mod llm;
mod load;
pub mod ops;
pub mod secret_files;
pub mod secrets;
pub mod uploads;
mod validate;

use std::net::IpAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

pub use auth::AuthConfig;
pub use budgets::BudgetsConfig;
pub use connections::{ConnectionConfig, ConnectionTarget};
pub use embedding::{EmbedderKind, EmbeddingConfig, FusionKind, HybridConfig, RankingKind};
pub use llm::{LlmConfig, ProviderKind};
pub use ops::{BackupConfig, JobsConfig, StoreConfig};
pub use uploads::UploadsConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Dev,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// When an approved answer becomes a training item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackMode {
    /// A 👍 or a working correction is trained at once.
    #[default]
    Immediate,
    /// It waits as `pending` until an analyst approves it.
    Approval,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub profile: Profile,
    /// Where the app store, generated secrets and the demo database live.
    pub data_dir: PathBuf,
    /// App store URL; default `sqlite://<data_dir>/insight.db`.
    pub database_url: Option<SecretString>,
    /// Directories SQLite connections created through the API may use;
    /// empty means `<data_dir>/databases`.
    pub sqlite_roots: Vec<PathBuf>,
    /// Encrypts stored connection passwords; required in production.
    pub secret_key: Option<SecretString>,
    /// Signs access tokens; required in production.
    pub jwt_secret: Option<SecretString>,
    /// Password of the admin created on the first `serve` with no users
    /// (`INSIGHT_ADMIN_PASSWORD`); a random one is printed when unset.
    pub admin_password: Option<SecretString>,
    /// `text` (default in dev) or `json` (default in production).
    pub log_format: Option<LogFormat>,
    /// Redis for the shared cache, e.g. `redis://cache:6379/0`; unset: in-process.
    pub redis_url: Option<SecretString>,
    /// Injected into `redis_url` when that URL carries no password.
    pub redis_password: Option<SecretString>,
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub llm: LlmConfig,
    pub query: QueryConfig,
    pub retrieval: RetrievalConfig,
    pub training: TrainingConfig,
    pub cache: CacheConfig,
    pub demo: DemoConfig,
    pub store: StoreConfig,
    pub jobs: JobsConfig,
    pub backup: BackupConfig,
    pub connections: std::collections::BTreeMap<String, ConnectionConfig>,
    /// Resource budgets of queries (`[budgets]`).
    pub budgets: BudgetsConfig,
    /// CSV and Excel uploads into the `uploads` connection (`[uploads]`).
    pub uploads: UploadsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub host: IpAddr,
    pub port: u16,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    /// Allowed CORS origins; empty means same-origin only.
    pub cors_origins: Vec<String>,
    /// Seconds in-flight requests get to finish once the server stops
    /// accepting (after the drain).
    pub shutdown_grace_secs: u64,
    /// Seconds the server keeps serving after SIGTERM with `/health/ready`
    /// answering 503, so load balancers stop sending traffic before it stops
    /// accepting. Kubernetes: `terminationGracePeriodSeconds` must exceed
    /// preStop + `drain_secs` + `shutdown_grace_secs`.
    pub drain_secs: u64,
    /// Serve `/metrics` and `/metrics/json` on this address only (e.g.
    /// `0.0.0.0:9090`) instead of on the API port.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            request_timeout_secs: 120,
            body_limit_bytes: 1024 * 1024,
            cors_origins: Vec::new(),
            shutdown_grace_secs: 20,
            drain_secs: 5,
            metrics_addr: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// Connection used when a request names none.
    pub default_connection: String,
    /// Row cap: the validator adds or clamps `LIMIT` to it and connectors stop there.
    pub max_rows: u64,
    pub timeout_secs: u64,
    /// Attach a Vega-Lite chart suggestion to answers (a request may opt out).
    pub charts: bool,
    /// Allow answer summaries (`"summary": true` on an ask).
    pub summaries: bool,
    /// At most this many result rows go into a summary (never the whole result).
    pub summary_max_rows: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            default_connection: "demo".into(),
            max_rows: 1000,
            timeout_secs: 30,
            charts: true,
            summaries: true,
            summary_max_rows: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    pub top_k_ddl: usize,
    pub top_k_documentation: usize,
    pub top_k_examples: usize,
    /// Dimensions of the built-in hashing embedder.
    pub embedding_dim: usize,
    /// Where training vectors are searched.
    pub index: IndexKind,
    /// Base URL of the Chroma server (`index = "chroma"`), e.g. `http://chroma:8000`.
    pub chroma_url: Option<String>,
    /// Prefix of this deployment's Chroma collection names, so deployments
    /// (or test runs) can share one Chroma server.
    pub chroma_collection_prefix: String,
    /// How often an instance with the `embedded` or `postgres` index checks
    /// for training changes made by other instances or processes
    /// (`insight train`).
    pub sync_interval_ms: u64,
    /// Which embedder makes the vectors (`[retrieval.embedding]`).
    pub embedding: EmbeddingConfig,
    /// Dense and lexical rank fusion (`[retrieval.hybrid]`).
    pub hybrid: HybridConfig,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            top_k_ddl: 8,
            top_k_documentation: 4,
            top_k_examples: 5,
            embedding_dim: 512,
            index: IndexKind::Embedded,
            chroma_url: None,
            chroma_collection_prefix: "insight".into(),
            sync_interval_ms: 500,
            embedding: EmbeddingConfig::default(),
            hybrid: HybridConfig::default(),
        }
    }
}

impl RetrievalConfig {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.index == IndexKind::Chroma {
            match self.chroma_url.as_deref().map(str::trim) {
                None | Some("") => out.push(
                    "retrieval.chroma_url (INSIGHT_RETRIEVAL__CHROMA_URL): required when retrieval.index is `chroma`".into(),
                ),
                Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => out.push(
                    "retrieval.chroma_url (INSIGHT_RETRIEVAL__CHROMA_URL): must be an http:// or https:// URL".into(),
                ),
                Some(_) => {}
            }
        }
        if !(50..=60_000).contains(&self.sync_interval_ms) {
            out.push("retrieval.sync_interval_ms (INSIGHT_RETRIEVAL__SYNC_INTERVAL_MS): must be between 50 and 60000".into());
        }
        let p = &self.chroma_collection_prefix;
        let ok = (1..=64).contains(&p.len())
            && p.starts_with(|c: char| c.is_ascii_alphanumeric())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            out.push("retrieval.chroma_collection_prefix: 1-64 letters, digits, `_` or `-`, starting with a letter or digit".into());
        }
        out.extend(self.embedding.problems());
        out.extend(self.hybrid.problems());
        out
    }
}

/// The vector index backend (`retrieval.index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    /// In memory, per instance, rebuilt from the app store on start and
    /// following changes other processes make (`insight train`) every
    /// `sync_interval_ms`.
    #[default]
    Embedded,
    /// A Chroma server (`retrieval.chroma_url`), shared by instances.
    Chroma,
    /// Embeddings in the PostgreSQL app store as the source of truth; each
    /// instance searches in memory and follows other instances' training
    /// changes every `sync_interval_ms`.
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub feedback_mode: FeedbackMode,
    /// Similarity above which the built-in generator reuses a trained example as is.
    pub reuse_threshold: f32,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            feedback_mode: FeedbackMode::Immediate,
            reuse_threshold: 0.80,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub max_entries: u64,
    /// TTL of cached generated SQL, seconds (0 disables).
    pub sql_ttl_secs: u64,
    /// TTL of cached query results, seconds; 0 (the default) runs every
    /// query on the database. Results are cached per connection, schema
    /// version and validated SQL (in Redis when `redis_url` is set).
    pub result_ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            sql_ttl_secs: 3600,
            result_ttl_secs: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Generate and register the `demo` connection.
    pub enabled: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: Profile::Dev,
            data_dir: PathBuf::from("./data"),
            sqlite_roots: Vec::new(),
            database_url: None,
            secret_key: None,
            jwt_secret: None,
            admin_password: None,
            log_format: None,
            redis_url: None,
            redis_password: None,
            server: ServerConfig::default(),
            auth: AuthConfig::default(),
            llm: LlmConfig::default(),
            query: QueryConfig::default(),
            retrieval: RetrievalConfig::default(),
            training: TrainingConfig::default(),
            cache: CacheConfig::default(),
            demo: DemoConfig::default(),
            store: StoreConfig::default(),
            jobs: JobsConfig::default(),
            backup: BackupConfig::default(),
            connections: Default::default(),
            budgets: BudgetsConfig::default(),
            uploads: UploadsConfig::default(),
        }
    }
}

/// A setting that is missing or wrong; startup prints all of them.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Problems(Vec<String>),
}

impl Config {
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.profile {
            Profile::Dev => LogFormat::Text,
            Profile::Production => LogFormat::Json,
        })
    }

    /// Where backups go: `backup.dir`, or `<data_dir>/backups`.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }

    /// The uploads database, `<data_dir>/uploads.db` (`None`: uploads are off).
    pub fn uploads_db(&self) -> Option<PathBuf> {
        self.uploads
            .enabled
            .then(|| self.data_dir.join("uploads.db"))
    }

    /// The app store URL, defaulting to a SQLite file in the data dir.
    pub fn store_url(&self) -> String {
        use secrecy::ExposeSecret;
        match &self.database_url {
            Some(u) => u.expose_secret().to_string(),
            None => format!("sqlite://{}", self.data_dir.join("insight.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Environment pairs as `Config::load_from` takes them (shared by the
    /// config submodules' tests).
    pub(super) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_without_anything() {
        let c = Config::load_from(None, &[]).unwrap();
        assert_eq!(c.profile, Profile::Dev);
        assert_eq!(c.query.max_rows, 1000);
        assert_eq!(c.log_format(), LogFormat::Text);
    }

    #[test]
    fn summary_rows_are_bounded() {
        let c = Config::load_from(None, &[]).unwrap();
        assert!(c.query.summaries);
        assert_eq!(c.query.summary_max_rows, 20);
        for bad in ["0", "201"] {
            let err = Config::load_from(None, &env(&[("INSIGHT_QUERY__SUMMARY_MAX_ROWS", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("query.summary_max_rows"), "{err}");
        }
    }

    #[test]
    fn production_requires_strong_secrets_and_names_each() {
        let err = Config::load_from(None, &env(&[("INSIGHT_PROFILE", "production")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("INSIGHT_SECRET_KEY"), "{err}");
        assert!(err.contains("INSIGHT_JWT_SECRET"), "{err}");
        let err = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_PROFILE", "production"),
                ("INSIGHT_SECRET_KEY", "short"),
                ("INSIGHT_JWT_SECRET", "changeme-changeme-changeme-changeme"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("INSIGHT_SECRET_KEY") && err.contains("at least 32"),
            "{err}"
        );
        assert!(
            err.contains("INSIGHT_JWT_SECRET") && err.contains("default"),
            "{err}"
        );
        let ok = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_PROFILE", "production"),
                ("INSIGHT_SECRET_KEY", "k7Qw9zX2mP4vN8rT1yB6cH3jL5sD0fGa"),
                ("INSIGHT_JWT_SECRET", "Zt4Yh8Kp2Wq6Rn0Vm3Xc7Lb1Jd5Fs9Ga"),
            ]),
        );
        assert!(ok.is_ok(), "{:?}", ok.err());
    }

    #[test]
    fn the_example_file_documents_the_defaults() {
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("insight.example.toml");
        let c = Config::load_from(Some(&f), &[]).unwrap();
        let d = Config::default();
        assert_eq!(c.server.port, d.server.port);
        assert_eq!(c.query.max_rows, d.query.max_rows);
        assert_eq!(c.llm.token_budget, d.llm.token_budget);
        assert_eq!(c.llm.max_correction_attempts, d.llm.max_correction_attempts);
        assert_eq!(c.retrieval.top_k_examples, d.retrieval.top_k_examples);
        assert_eq!(c.retrieval.index, d.retrieval.index);
        assert_eq!(c.retrieval.chroma_url, d.retrieval.chroma_url);
        assert_eq!(
            c.retrieval.chroma_collection_prefix,
            d.retrieval.chroma_collection_prefix
        );
        assert_eq!(c.cache.sql_ttl_secs, d.cache.sql_ttl_secs);
        assert_eq!(c.training.reuse_threshold, d.training.reuse_threshold);
        assert_eq!(c.server.body_limit_bytes, d.server.body_limit_bytes);
        assert_eq!(c.auth.access_token_ttl_secs, d.auth.access_token_ttl_secs);
        assert_eq!(c.auth.refresh_token_ttl_secs, d.auth.refresh_token_ttl_secs);
        assert_eq!(
            c.auth.rate_limit.viewer_per_minute,
            d.auth.rate_limit.viewer_per_minute
        );
        assert_eq!(
            c.auth.rate_limit.admin_per_minute,
            d.auth.rate_limit.admin_per_minute
        );
        assert_eq!(
            c.auth.rate_limit.anonymous_per_minute,
            d.auth.rate_limit.anonymous_per_minute
        );
        assert_eq!(
            c.auth.login.max_failures_per_username,
            d.auth.login.max_failures_per_username
        );
        assert_eq!(c.auth.login.window_secs, d.auth.login.window_secs);
        assert_eq!(c.retrieval.sync_interval_ms, d.retrieval.sync_interval_ms);
        assert_eq!(c.cache.result_ttl_secs, d.cache.result_ttl_secs);
        assert_eq!(c.store.pool_size, d.store.pool_size);
        assert_eq!(c.store.acquire_timeout_secs, d.store.acquire_timeout_secs);
        assert_eq!(c.jobs.worker, d.jobs.worker);
        assert_eq!(c.jobs.poll_interval_ms, d.jobs.poll_interval_ms);
        assert_eq!(c.jobs.max_attempts, d.jobs.max_attempts);
        assert_eq!(c.jobs.lease_secs, d.jobs.lease_secs);
        assert_eq!(c.jobs.history_retention_days, d.jobs.history_retention_days);
        assert_eq!(c.backup.keep, d.backup.keep);
        assert_eq!(c.backup.schedule, d.backup.schedule);
    }

    #[test]
    fn operator_settings_are_checked() {
        let bad = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_BACKUP__SCHEDULE", "every night"),
                ("INSIGHT_JOBS__LEASE_SECS", "0"),
                ("INSIGHT_DATABASE_URL", "mysql://x/y"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("backup.schedule"), "{bad}");
        assert!(bad.contains("jobs.lease_secs"), "{bad}");
        assert!(bad.contains("database_url"), "{bad}");
        let ok = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_BACKUP__SCHEDULE", "30 2 * * 1-5"),
                ("INSIGHT_JOBS__WORKER", "false"),
                ("INSIGHT_DATABASE_URL", "postgres://insight@db/insight"),
            ]),
        )
        .unwrap();
        assert!(!ok.jobs.worker);
    }

    #[test]
    fn chroma_needs_its_url() {
        let err = Config::load_from(None, &env(&[("INSIGHT_RETRIEVAL__INDEX", "chroma")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("retrieval.chroma_url"), "{err}");
        let c = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_RETRIEVAL__INDEX", "chroma"),
                ("INSIGHT_RETRIEVAL__CHROMA_URL", "http://127.0.0.1:8000"),
            ]),
        )
        .unwrap();
        assert_eq!(c.retrieval.index, IndexKind::Chroma);
        assert_eq!(
            c.retrieval.chroma_url.as_deref(),
            Some("http://127.0.0.1:8000")
        );
        let err = Config::load_from(None, &env(&[("INSIGHT_RETRIEVAL__INDEX", "faiss")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("retrieval.index"), "{err}");
    }
}
