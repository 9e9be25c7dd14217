//! The `App`: every long-lived service, built once at startup from the
//! [`Config`] and shared by the HTTP server, the CLI and the tests.
//!
//! Startup order matters and lives here only: app store (migrations in dev),
//! demo database, target connections (introspected; their DDL becomes
//! training items), the vector index rebuilt from the store, the generator.
//! A connection that cannot be opened or introspected does not stop the
//! service: it is registered with an empty schema and reported by
//! `/health/ready`.

pub mod backups;
pub mod connections;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;

use crate::cache::{Cache, MemoryCache};
use crate::config::{Config, ConnectionTarget, IndexKind, Profile, ProviderKind};
use crate::connectors::registry::limits;
use crate::connectors::sqlite::SqliteConnector;
use crate::connectors::{ConnectionHandle, Connector, ConnectorRegistry};
use crate::domain::{ConnectionId, Dialect};
use crate::engine::llm::LlmProvider;
use crate::engine::llm::anthropic::AnthropicProvider;
use crate::engine::llm::builtin::BuiltinGenerator;
use crate::engine::llm::openai::OpenAiProvider;
use crate::engine::pipeline::{Engine, EngineSettings, PipelineError};
use crate::engine::retrieval::{
    ChromaIndex, EmbeddedIndex, EmbeddingService, IndexError, VectorIndex, build_embedder,
};
use crate::store::Store;

/// Everything a request handler may need.
pub struct App {
    pub config: Config,
    pub engine: Engine,
    /// Tokens, API keys, DSN encryption and rate limits.
    pub auth: crate::auth::AuthService,
    pub started_at: Instant,
    /// Last LLM reachability check, reused for a few seconds so readiness
    /// probes do not turn into a stream of provider calls.
    pub llm_health: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    /// False while the training items could not be loaded into the vector
    /// index (it was down at startup); `Background` retries until it works.
    pub index_loaded: std::sync::atomic::AtomicBool,
    /// Set on SIGTERM: `/health/ready` answers 503 while the server keeps
    /// serving for `server.drain_secs` (see `api::serve`).
    pub draining: std::sync::atomic::AtomicBool,

    /// Training items whose vectors were made by another embedder and are
    /// still being re-embedded (in the background after startup); readiness
    /// reports them. Zero once the index is the current embedder's.
    pub reembed_left: std::sync::atomic::AtomicUsize,
    /// The writer of the `uploads` connection (`None`: `uploads.enabled` is off).
    pub uploads: Option<crate::connectors::uploads::UploadsDb>,
}

/// Axum state: a cheap clone of the shared `App`.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// How often this instance re-reads training changes made by others
    /// (other replicas, `insight train`, a restore): for every index kept in
    /// memory and filled from the app store (`embedded`, `postgres`). A
    /// change costs nothing until the per-connection training version moves.
    /// Chroma is shared, so it needs no sync.
    pub fn index_sync_interval(&self) -> Option<std::time::Duration> {
        let r = &self.config.retrieval;
        matches!(r.index, IndexKind::Embedded | IndexKind::Postgres)
            .then(|| std::time::Duration::from_millis(r.sync_interval_ms))
    }
}

/// Optional overrides, used by tests to swap external services.
#[derive(Default)]
pub struct AppOverrides {
    pub llm: Option<Arc<dyn LlmProvider>>,
    pub store: Option<Store>,
}

impl App {
    /// Build from config. `migrate` runs pending migrations (always in dev).
    pub async fn build(config: Config, overrides: AppOverrides) -> anyhow::Result<App> {
        let store = match overrides.store {
            Some(s) => s,
            None => {
                let url = config.store_url();
                let pool = crate::store::PoolSettings {
                    max_connections: config.store.pool_size,
                    acquire_timeout: std::time::Duration::from_secs(
                        config.store.acquire_timeout_secs,
                    ),
                };
                let store = Store::connect_with(&url, pool)
                    .await
                    .context("opening the app store")?;
                let pending = store.pending_migrations().await.unwrap_or(0);
                if pending > 0 {
                    if config.profile == Profile::Dev {
                        let n = store.migrate().await.context("migrating the app store")?;
                        tracing::info!(migrations = n, "app store migrated");
                    } else {
                        anyhow::bail!(
                            "the app store has {pending} pending migration(s); run `insight migrate` first"
                        );
                    }
                }
                store
            }
        };

        let store_id = store
            .deployment_id()
            .await
            .context("reading the app store's deployment id")?;
        let llm: Arc<dyn LlmProvider> = match overrides.llm {
            Some(l) => l,
            None => build_llm(&config)?,
        };
        let embedder = build_embedder(&config.retrieval).context("configuring the embedder")?;
        let index = build_index(&config, embedder.as_ref())?;
        let cache = build_cache(&config).await?;
        let connections = Arc::new(ConnectorRegistry::default());

        let engine = Engine {
            store,
            connections: connections.clone(),
            embedder,
            index,
            llm,
            cache,
            settings: EngineSettings::from_config(&config).into(),
            index_versions: Default::default(),
            cache_namespace: store_id,
            gate_cache: Default::default(),
        };

        let mut auth = crate::auth::AuthService::new(&config, engine.store.clone())
            .context("configuring authentication")?;
        if let Some(shared) = build_shared_limits(&config).await? {
            auth = auth.with_shared_limits(shared);
        }
        register_connections(&config, &connections).await?;
        let uploads = register_uploads(&config, &connections).await?;
        register_stored_connections(&config, &engine, &auth).await;
        // An external index (Chroma) that is down at startup does not stop
        // the service: it serves degraded and `Background` re-indexes when
        // the index is back.
        // Vectors of another embedder (the embedder changed) are re-embedded
        // in the background (`Background`), not here: startup stays fast.
        let (loaded, stale, mut index_loaded) = match engine.load_current_vectors().await {
            Ok((n, stale)) => (n, stale, true),
            Err(PipelineError::Index(IndexError::Unavailable(e))) => {
                tracing::warn!(error = %e, "vector index unavailable at startup: serving degraded, re-indexing when it is back");
                (0, 0, false)
            }
            Err(e) => return Err(e).context("loading training items"),
        };
        for conn in connections.all() {
            match engine.sync_schema(&conn).await {
                Ok((added, removed)) => tracing::info!(
                    connection.id = %conn.id, ddl.added = added, ddl.removed = removed,
                    tables = conn.schema().tables.len(), "schema introspected"
                ),
                Err(PipelineError::Index(IndexError::Unavailable(e))) => {
                    tracing::warn!(connection.id = %conn.id, error = %e, "schema not indexed: vector index unavailable, retrying in the background");
                    index_loaded = false;
                }
                Err(e) => {
                    tracing::warn!(connection.id = %conn.id, error = %e, "schema introspection failed")
                }
            }
        }
        engine
            .load_stored_settings()
            .await
            .context("loading stored settings")?;
        tracing::info!(training.items = loaded, "vector index loaded");
        if stale > 0 {
            tracing::info!(
                training.items = stale,
                embedder = engine.embedder.id(),
                "training items embedded by another embedder: re-embedding in the background"
            );
        }

        Ok(App {
            config,
            engine,
            auth,
            started_at: Instant::now(),
            llm_health: Default::default(),
            index_loaded: std::sync::atomic::AtomicBool::new(index_loaded),
            draining: std::sync::atomic::AtomicBool::new(false),

            reembed_left: std::sync::atomic::AtomicUsize::new(stale),
            uploads,
        })
    }
}

impl App {
    /// Re-embed now what a change of embedder left stale, for one-shot
    /// commands (`ask`, `train`) that run no `Background`.
    pub async fn reembed_stale_now(&self) -> anyhow::Result<()> {
        if self.reembed_left.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            self.engine
                .reembed_stale(Some(&self.reembed_left))
                .await
                .context("re-embedding training items with the new embedder")?;
            self.reembed_left
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

fn build_llm(config: &Config) -> anyhow::Result<Arc<dyn LlmProvider>> {
    Ok(match config.llm.provider {
        ProviderKind::Builtin => Arc::new(BuiltinGenerator::with_threshold(
            config.training.reuse_threshold,
        )),
        ProviderKind::Openai => {
            Arc::new(OpenAiProvider::new(&config.llm).context("configuring the openai provider")?)
        }
        ProviderKind::Anthropic => Arc::new(
            AnthropicProvider::new(&config.llm).context("configuring the anthropic provider")?,
        ),
    })
}

async fn register_connections(config: &Config, registry: &ConnectorRegistry) -> anyhow::Result<()> {
    let q = &config.query;
    if config.demo.enabled {
        let path = config.data_dir.join("demo.db");
        crate::connectors::demo::ensure_demo_database(&path)
            .await
            .context("creating the demo database")?;
        let connector = SqliteConnector::open(&path, true)
            .await
            .context("opening the demo database")?;
        let mut handle = ConnectionHandle::new(
            ConnectionId::parse("demo").expect("valid id"),
            Some("Demo shop: customers, products, orders, order items, employees".into()),
            Arc::new(connector),
            limits(q.max_rows, q.timeout_secs, None, None),
            None,
        );
        with_budgets(&mut handle, config, &Default::default());
        registry.insert(handle);
    }
    for (name, c) in &config.connections {
        registry.insert(open_connection(config, name, c).await?);
    }
    Ok(())
}

/// The `uploads` connection (`uploads.enabled`): `<data_dir>/uploads.db`,
/// created when missing, registered read-only like any SQLite connection;
/// the returned writer is the only thing that changes it.
async fn register_uploads(
    config: &Config,
    registry: &ConnectorRegistry,
) -> anyhow::Result<Option<crate::connectors::uploads::UploadsDb>> {
    use crate::connectors::uploads::{CONNECTION, UploadsDb};
    let Some(path) = config.uploads_db() else {
        return Ok(None);
    };
    if config.connections.contains_key(CONNECTION) {
        anyhow::bail!(
            "connections.{CONNECTION}: the name is taken by CSV uploads; rename the connection or set uploads.enabled = false"
        );
    }
    let db = UploadsDb::open(&path, config.uploads.max_bytes)
        .await
        .context("creating the uploads database")?;
    let connector = SqliteConnector::open(&path, true)
        .await
        .context("opening the uploads database")?;
    let q = &config.query;
    let mut handle = ConnectionHandle::new(
        ConnectionId::parse(CONNECTION).expect("valid id"),
        Some("Your own data: tables uploaded from CSV files".into()),
        Arc::new(connector),
        limits(q.max_rows, q.timeout_secs, None, None),
        None,
    );
    with_budgets(&mut handle, config, &Default::default());
    registry.insert(handle);
    Ok(Some(db))
}

/// Open one configured (or stored) connection. An unreachable database is
/// registered as unavailable; a malformed setting is an error.
pub async fn open_connection(
    config: &Config,
    name: &str,
    c: &crate::config::ConnectionConfig,
) -> anyhow::Result<ConnectionHandle> {
    let q = &config.query;
    let id = ConnectionId::parse(name).map_err(|e| anyhow::anyhow!("connections.{name}: {e}"))?;
    let target = c
        .target()
        .map_err(|e| anyhow::anyhow!("connections.{name}: {e}"))?;
    let connector: Arc<dyn Connector> = match (c.dialect, target) {
        (Dialect::Sqlite, ConnectionTarget::SqliteFile(path)) => {
            match SqliteConnector::open(&path, true).await {
                Ok(conn) => Arc::new(conn),
                Err(e) => {
                    tracing::warn!(connection.id = %id, error = %e, "connection unavailable at startup");
                    Arc::new(crate::connectors::Unavailable::new(
                        Dialect::Sqlite,
                        e.to_string(),
                    ))
                }
            }
        }
        (Dialect::Postgres, ConnectionTarget::Url(url)) => remote(
            crate::connectors::postgres::PostgresConnector::connect(
                url.expose_secret(),
                c.pool_size,
            )
            .await,
            &id,
            Dialect::Postgres,
        )?,
        (Dialect::Mysql, ConnectionTarget::Url(url)) => remote(
            crate::connectors::mysql::MySqlConnector::connect(url.expose_secret(), c.pool_size)
                .await,
            &id,
            Dialect::Mysql,
        )?,
        (dialect, _) => anyhow::bail!("connections.{name}: a {dialect} connection needs `url`"),
    };
    let mut handle = ConnectionHandle::new(
        id,
        c.description.clone(),
        connector,
        limits(q.max_rows, q.timeout_secs, c.max_rows, c.timeout_secs),
        c.allowed_tables.clone(),
    );
    handle.allow_values_in_prompt = c.allow_values_in_prompt;
    with_budgets(&mut handle, config, &c.budgets);
    Ok(handle)
}

/// The connection's budgets: `[budgets.defaults]` replaced by its own
/// overrides, tightened per role by `[budgets.roles.*]`.
fn with_budgets(
    handle: &mut ConnectionHandle,
    config: &Config,
    own: &crate::domain::budget::BudgetOverride,
) {
    handle.limits.budget = config.budgets.defaults.replaced_by(own);
    handle.role_budgets = config.budgets.roles;
}

/// A remote connection that is down at startup is registered as unavailable
/// (readiness reports it); a malformed URL stops startup.
fn remote<C: Connector + 'static>(
    result: Result<C, crate::connectors::ConnectorError>,
    id: &ConnectionId,
    dialect: Dialect,
) -> anyhow::Result<Arc<dyn Connector>> {
    match result {
        Ok(c) => Ok(Arc::new(c)),
        Err(crate::connectors::ConnectorError::Config(m)) => anyhow::bail!("connections.{id}: {m}"),
        Err(e) => {
            tracing::warn!(connection.id = %id, error = %e, "connection unavailable at startup");
            Ok(Arc::new(crate::connectors::Unavailable::new(
                dialect,
                e.to_string(),
            )))
        }
    }
}

/// Connections created through the admin API: decrypt each DSN and register
/// it. One that cannot be decrypted or opened is logged (never its DSN) and
/// skipped, like a config connection that is down.
async fn register_stored_connections(
    config: &Config,
    engine: &Engine,
    auth: &crate::auth::AuthService,
) {
    let stored = match engine.store.list_connections().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "stored connections could not be listed");
            return;
        }
    };
    for sc in stored {
        match stored_connection_config(&sc, auth).and_then(|cc| fenced(config, cc)) {
            Ok(cc) => match open_connection(config, &sc.id, &cc).await {
                // Introspected with the others once the index is loaded.
                Ok(handle) => {
                    engine.connections.insert(handle);
                }
                Err(e) => {
                    tracing::warn!(connection.id = %sc.id, error = %e, "stored connection skipped")
                }
            },
            Err(e) => {
                tracing::warn!(connection.id = %sc.id, error = %e, "stored connection skipped")
            }
        }
    }
}

/// A stored SQLite connection must pass the path fence at every start too
/// (`connectors::sqlite_paths`): one stored before the fence existed, or
/// whose file became a symlink since, is skipped.
fn fenced(
    config: &Config,
    cc: crate::config::ConnectionConfig,
) -> anyhow::Result<crate::config::ConnectionConfig> {
    if let (Dialect::Sqlite, Ok(ConnectionTarget::SqliteFile(path))) = (cc.dialect, cc.target()) {
        crate::connectors::sqlite_paths::SqlitePathPolicy::for_config(config)
            .check(&path)
            .map_err(|why| anyhow::anyhow!("SQLite path refused: {why}"))?;
    }
    Ok(cc)
}

/// The connection settings of a stored connection, DSN decrypted.
pub fn stored_connection_config(
    sc: &crate::store::connections::StoredConnection,
    auth: &crate::auth::AuthService,
) -> anyhow::Result<crate::config::ConnectionConfig> {
    let dialect: Dialect = serde_json::from_value(serde_json::Value::String(sc.dialect.clone()))
        .map_err(|_| anyhow::anyhow!("unknown dialect `{}`", sc.dialect))?;
    let dsn = sc
        .dsn_encrypted
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no DSN stored"))?;
    let url = auth.dsn_cipher.decrypt(&sc.id, dsn)?;
    Ok(crate::config::ConnectionConfig {
        dialect,
        path: None,
        url: Some(url),
        description: sc.description.clone(),
        max_rows: sc.settings.max_rows,
        timeout_secs: sc.settings.timeout_secs,
        allowed_tables: sc.settings.allowed_tables.clone(),
        pool_size: 5,
        allow_values_in_prompt: sc.settings.allow_values_in_prompt,
        budgets: sc.settings.budgets,
    })
}

/// The vector index chosen by `retrieval.index`; it is filled from the app
/// store by `Engine::load_index` at startup (for Chroma, that is the re-index).
/// Its dimension is the embedder's; Chroma collections are tagged with the
/// embedder's id, so vectors of another embedder are never mixed in.
pub fn build_index(
    config: &Config,
    embedder: &dyn EmbeddingService,
) -> anyhow::Result<Arc<dyn VectorIndex>> {
    let r = &config.retrieval;
    let dim = embedder.dim();
    Ok(match r.index {
        // `postgres`: the same in-memory index, kept in sync with the store
        // by `Engine::follow_store` (see `AppState::index_sync_interval`).
        IndexKind::Embedded | IndexKind::Postgres => Arc::new(EmbeddedIndex::new(dim)),
        IndexKind::Chroma => {
            let url = r.chroma_url.as_deref().ok_or_else(|| {
                anyhow::anyhow!("retrieval.chroma_url (INSIGHT_RETRIEVAL__CHROMA_URL) is not set")
            })?;
            Arc::new(
                ChromaIndex::new(url, &r.chroma_collection_prefix, dim)
                    .map_err(|e| anyhow::anyhow!("retrieval.chroma_url: {e}"))?
                    .for_embedder(embedder.id()),
            )
        }
    })
}

/// Redis (with an in-process fallback) when `redis_url` is set, else in-process.
async fn build_cache(config: &Config) -> anyhow::Result<Arc<dyn Cache>> {
    let memory = MemoryCache::new(config.cache.max_entries);
    let Some(url) = &config.redis_url else {
        return Ok(Arc::new(memory));
    };
    let url = crate::cache::redis::url_with_password(
        url.expose_secret(),
        config.redis_password.as_ref().map(|p| p.expose_secret()),
    );
    let cache = crate::cache::redis::FallbackCache::connect(&url, memory)
        .await
        .map_err(|e| anyhow::anyhow!("redis_url (INSIGHT_REDIS_URL): {e}"))?;
    Ok(Arc::new(cache))
}

/// Rate limits and login counters in Redis when `redis_url` is set, so every
/// instance enforces the same limits; `None` keeps them in process.
async fn build_shared_limits(
    config: &Config,
) -> anyhow::Result<Option<Arc<crate::auth::rate_limit::SharedLimits>>> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    let url = crate::cache::redis::url_with_password(
        url.expose_secret(),
        config.redis_password.as_ref().map(|p| p.expose_secret()),
    );
    let shared = crate::auth::rate_limit::SharedLimits::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("redis_url (INSIGHT_REDIS_URL): {e}"))?;
    Ok(Some(Arc::new(shared)))
}
