//! [`ChromaIndex`]: the [`VectorIndex`] over a Chroma server's v2 HTTP API
//! (`retrieval.index = "chroma"`), for deployments whose instances must see
//! the same vectors.
//!
//! One collection per (connection, kind), named
//! `<prefix>_<connection>_<kind>`, in Chroma's default tenant and database,
//! with cosine distance. We send our own embeddings (Chroma must never embed:
//! its default embedding function would download a model), so documents are
//! not stored there: ids are training item ids and the app store stays the
//! source of truth; a result whose item is gone from the store is dropped by
//! retrieval. Every collection carries `insight_prefix` in its metadata, so
//! `remove` and `len` only ever touch this deployment's collections.
//!
//! A training item never changes connection or kind, so `upsert` writes to
//! one collection only; `remove` does not know the item's partition and
//! deletes the id from each of ours. Collection ids are cached per name and
//! forgotten when Chroma says a collection is gone. A collection built for
//! another embedding dimension, or tagged (`insight_embedder`) with another
//! embedder's id, is dropped and recreated (the startup re-index refills
//! it); an untagged one predates the tag and was made by the hashing
//! embedder. Failures map to [`IndexError::Unavailable`], never
//! carrying more than a short message from Chroma.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{IndexEntry, IndexError, ScoredId, VectorIndex};
use crate::domain::TrainingKind;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Retrieval sits in every ask: a slow Chroma must fail the call, not hang it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const DATABASE_PATH: &str = "/api/v2/tenants/default_tenant/databases/default_database";
/// Chroma error messages are shown in readiness and logs; keep them short.
const MAX_MESSAGE_CHARS: usize = 200;

/// A vector index kept in a Chroma server.
pub struct ChromaIndex {
    client: reqwest::Client,
    /// `http://host:port`, without a trailing slash.
    base: String,
    prefix: String,
    dim: usize,
    /// The embedder whose vectors this index holds (`None`: not checked).
    embedder: Option<String>,
    /// Collection name → Chroma collection id.
    ids: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for ChromaIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromaIndex")
            .field("prefix", &self.prefix)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Collection {
    id: String,
    name: String,
    #[serde(default)]
    dimension: Option<i64>,
    #[serde(default)]
    metadata: Option<HashMap<String, Value>>,
}

#[derive(Deserialize)]
struct QueryResponse {
    ids: Vec<Vec<String>>,
    #[serde(default)]
    distances: Option<Vec<Vec<Option<f32>>>>,
}

impl ChromaIndex {
    /// A client for the server at `url` (nothing is contacted yet).
    pub fn new(url: &str, prefix: &str, dim: usize) -> Result<Self, IndexError> {
        // reqwest is built with `rustls-no-provider`; whoever comes first
        // installs the process-wide crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("insight-engine/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| IndexError::Unavailable(format!("Chroma client: {e}")))?;
        Ok(Self {
            client,
            base: url.trim().trim_end_matches('/').to_string(),
            prefix: prefix.to_string(),
            dim,
            embedder: None,
            ids: Mutex::new(HashMap::new()),
        })
    }

    /// Tag the collections with the embedder `id`; a collection made for
    /// another embedder counts as absent and is recreated.
    pub fn for_embedder(mut self, id: &str) -> Self {
        self.embedder = Some(id.to_string());
        self
    }

    /// Whether `c` holds vectors of another dimension or embedder.
    fn stale(&self, c: &Collection) -> bool {
        if c.dimension.is_some_and(|d| d != self.dim as i64) {
            return true;
        }
        let Some(ours) = &self.embedder else {
            return false;
        };
        let theirs = c
            .metadata
            .as_ref()
            .and_then(|m| m.get("insight_embedder"))
            .and_then(Value::as_str);
        match theirs {
            Some(t) => t != ours,
            None => !ours.starts_with("hash-"),
        }
    }

    /// `GET /api/v2/heartbeat`, for readiness.
    pub async fn heartbeat(&self) -> Result<(), IndexError> {
        self.call(Method::GET, "/api/v2/heartbeat", None)
            .await
            .map(|_| ())
    }

    fn collection_name(&self, connection: &str, kind: TrainingKind) -> String {
        format!("{}_{connection}_{}", self.prefix, kind.as_str())
    }

    fn check_dim(&self, got: usize) -> Result<(), IndexError> {
        if got == self.dim {
            Ok(())
        } else {
            Err(IndexError::Dimension {
                expected: self.dim,
                got,
            })
        }
    }

    /// One request; `Ok(None)` is a 404, other failures are `Unavailable`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<Value>, IndexError> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| IndexError::Unavailable(format!("Chroma: {}", transport(&e))))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| IndexError::Unavailable(format!("Chroma: {}", transport(&e))))?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(IndexError::Unavailable(format!(
                "Chroma answered {}: {}",
                status.as_u16(),
                error_message(&text)
            )));
        }
        if text.trim().is_empty() {
            return Ok(Some(Value::Null));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| IndexError::Unavailable(format!("Chroma sent an unreadable reply: {e}")))
    }

    fn cached_id(&self, name: &str) -> Option<String> {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    fn remember(&self, name: &str, id: Option<&str>) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        match id {
            Some(id) => ids.insert(name.to_string(), id.to_string()),
            None => ids.remove(name),
        };
    }

    /// The id of an existing collection, `None` when there is none.
    async fn find(
        &self,
        connection: &str,
        kind: TrainingKind,
    ) -> Result<Option<String>, IndexError> {
        let name = self.collection_name(connection, kind);
        if let Some(id) = self.cached_id(&name) {
            return Ok(Some(id));
        }
        let Some(v) = self
            .call(
                Method::GET,
                &format!("{DATABASE_PATH}/collections/{name}"),
                None,
            )
            .await?
        else {
            return Ok(None);
        };
        let c = parse_collection(v)?;
        if self.stale(&c) {
            // Built for another embedder; treat as absent until recreated.
            return Ok(None);
        }
        self.remember(&name, Some(&c.id));
        Ok(Some(c.id))
    }

    /// The id of the collection for `connection` and `kind`, created (cosine,
    /// no embedding function of Chroma's own) when missing.
    async fn ensure(&self, connection: &str, kind: TrainingKind) -> Result<String, IndexError> {
        let name = self.collection_name(connection, kind);
        if let Some(id) = self.cached_id(&name) {
            return Ok(id);
        }
        let mut create = json!({
            "name": name,
            "get_or_create": true,
            "configuration": { "hnsw": { "space": "cosine" } },
            "metadata": {
                "insight_prefix": self.prefix,
                "connection": connection,
                "kind": kind.as_str(),
            },
        });
        if let Some(id) = &self.embedder {
            create["metadata"]["insight_embedder"] = json!(id);
        }
        let path = format!("{DATABASE_PATH}/collections");
        let mut c = parse_collection(self.post(&path, create.clone()).await?)?;
        if self.stale(&c) {
            tracing::warn!(
                chroma.collection = %name, dimension = ?c.dimension, expected = self.dim,
                "Chroma collection holds another embedder's vectors; recreating it"
            );
            self.call(Method::DELETE, &format!("{path}/{name}"), None)
                .await?;
            c = parse_collection(self.post(&path, create).await?)?;
        }
        self.remember(&name, Some(&c.id));
        Ok(c.id)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, IndexError> {
        self.call(Method::POST, path, Some(body))
            .await?
            .ok_or_else(|| IndexError::Unavailable(format!("Chroma: {path} not found")))
    }

    /// This deployment's collections.
    async fn ours(&self) -> Result<Vec<Collection>, IndexError> {
        const PAGE: usize = 100;
        let mut out = Vec::new();
        for page in 0.. {
            let path = format!(
                "{DATABASE_PATH}/collections?limit={PAGE}&offset={}",
                page * PAGE
            );
            let Some(v) = self.call(Method::GET, &path, None).await? else {
                break;
            };
            let batch: Vec<Collection> = serde_json::from_value(v).map_err(|e| {
                IndexError::Unavailable(format!("Chroma sent an unreadable collection list: {e}"))
            })?;
            let done = batch.len() < PAGE;
            out.extend(batch.into_iter().filter(|c| {
                c.metadata
                    .as_ref()
                    .and_then(|m| m.get("insight_prefix"))
                    .and_then(Value::as_str)
                    == Some(self.prefix.as_str())
            }));
            if done {
                break;
            }
        }
        Ok(out)
    }
}

fn parse_collection(v: Value) -> Result<Collection, IndexError> {
    serde_json::from_value(v)
        .map_err(|e| IndexError::Unavailable(format!("Chroma sent an unreadable collection: {e}")))
}

/// A transport error without the URL (it is in the config, not news).
fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        let mut s = e.to_string();
        if let Some(url) = e.url() {
            s = s.replace(url.as_str(), "<chroma>");
        }
        s
    }
}

/// Chroma's `{"error", "message"}`, shortened.
fn error_message(body: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    msg.chars().take(MAX_MESSAGE_CHARS).collect()
}

#[async_trait]
impl VectorIndex for ChromaIndex {
    async fn upsert(&self, entry: IndexEntry) -> Result<(), IndexError> {
        self.check_dim(entry.vector.len())?;
        let body = json!({
            "ids": [entry.id],
            "embeddings": [entry.vector],
            "metadatas": [{ "connection": entry.connection, "kind": entry.kind.as_str() }],
        });
        // Twice at most: once more when the cached collection was deleted.
        for _ in 0..2 {
            let id = self.ensure(&entry.connection, entry.kind).await?;
            let path = format!("{DATABASE_PATH}/collections/{id}/upsert");
            match self.call(Method::POST, &path, Some(body.clone())).await? {
                Some(_) => return Ok(()),
                None => self.remember(&self.collection_name(&entry.connection, entry.kind), None),
            }
        }
        Err(IndexError::Unavailable(
            "Chroma: the collection disappeared while writing".into(),
        ))
    }

    async fn remove(&self, id: &str) -> Result<(), IndexError> {
        for c in self.ours().await? {
            let path = format!("{DATABASE_PATH}/collections/{}/delete", c.id);
            if self
                .call(Method::POST, &path, Some(json!({ "ids": [id] })))
                .await?
                .is_none()
            {
                self.remember(&c.name, None);
            }
        }
        Ok(())
    }

    async fn search(
        &self,
        connection: &str,
        kind: TrainingKind,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredId>, IndexError> {
        self.check_dim(query.len())?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let Some(id) = self.find(connection, kind).await? else {
            return Ok(Vec::new());
        };
        let body = json!({
            "query_embeddings": [query],
            "n_results": k.min(i32::MAX as usize),
            "include": ["distances"],
        });
        let path = format!("{DATABASE_PATH}/collections/{id}/query");
        let Some(v) = self.call(Method::POST, &path, Some(body)).await? else {
            self.remember(&self.collection_name(connection, kind), None);
            return Ok(Vec::new());
        };
        let r: QueryResponse = serde_json::from_value(v).map_err(|e| {
            IndexError::Unavailable(format!("Chroma sent an unreadable query result: {e}"))
        })?;
        let ids = r.ids.into_iter().next().unwrap_or_default();
        let distances = r
            .distances
            .and_then(|d| d.into_iter().next())
            .unwrap_or_default();
        let mut hits: Vec<ScoredId> = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| ScoredId {
                id,
                // Cosine distance is 1 − similarity.
                score: 1.0 - distances.get(i).copied().flatten().unwrap_or(1.0),
            })
            .collect();
        // Best first; equal scores by id, like the embedded index.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(k);
        Ok(hits)
    }

    async fn len(&self) -> Result<usize, IndexError> {
        let mut n = 0usize;
        for c in self.ours().await? {
            let path = format!("{DATABASE_PATH}/collections/{}/count", c.id);
            if let Some(v) = self.call(Method::GET, &path, None).await? {
                n += v.as_u64().unwrap_or(0) as usize;
            }
        }
        Ok(n)
    }

    async fn ping(&self) -> Result<(), IndexError> {
        self.heartbeat().await
    }

    fn required(&self) -> bool {
        false
    }

    fn name(&self) -> &str {
        "chroma"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_are_per_connection_and_kind() {
        let index = ChromaIndex::new("http://127.0.0.1:1/", "insight", 4).unwrap();
        assert_eq!(
            index.collection_name("demo", TrainingKind::QuestionSql),
            "insight_demo_question_sql"
        );
        assert_eq!(index.base, "http://127.0.0.1:1");
    }

    #[test]
    fn error_messages_are_short() {
        let body = json!({"error": "InvalidArgumentError", "message": "x".repeat(1000)});
        assert_eq!(error_message(&body.to_string()).len(), MAX_MESSAGE_CHARS);
        assert_eq!(error_message("plain"), "plain");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let index = ChromaIndex::new(&format!("http://127.0.0.1:{port}"), "t", 4).unwrap();
        let err = index.heartbeat().await.unwrap_err();
        assert!(matches!(err, IndexError::Unavailable(_)), "{err:?}");
        let err = index
            .search("demo", TrainingKind::Ddl, &[1.0; 4], 3)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::Unavailable(_)), "{err:?}");
        let err = index
            .search("demo", TrainingKind::Ddl, &[1.0; 3], 3)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::Dimension { .. }), "{err:?}");
    }
}
