//! Whole-index maintenance: re-embedding every training item, indexing
//! imported items, and following training changes made by other replicas
//! (the `postgres` vector index: the store is the source of truth and each
//! replica's in-memory index polls its per-connection training versions).

use std::collections::{HashMap, HashSet};

use super::pipeline::{Engine, PipelineError};
use crate::store::TrainingItem;

/// What a replica last loaded from the store, per connection.
#[derive(Debug, Default)]
pub struct IndexSyncState {
    versions: HashMap<String, i64>,
    ids: HashMap<String, HashSet<String>>,
}

impl Engine {
    /// Load every active training item into the index and re-introspect each
    /// connection's schema into DDL items: what startup does, for an index
    /// that was down then. Returns how many items were loaded.
    pub async fn reload_index(&self) -> Result<usize, PipelineError> {
        let n = self.load_index().await?;
        for conn in self.connections.all() {
            self.sync_schema(&conn).await?;
        }
        Ok(n)
    }

    /// Retry [`Engine::reload_index`] (every second, backing off to 30 s)
    /// until it succeeds.
    pub async fn reload_index_until_done(&self) {
        let mut wait = std::time::Duration::from_secs(1);
        loop {
            tokio::time::sleep(wait).await;
            match self.reload_index().await {
                Ok(n) => {
                    tracing::info!(
                        training.items = n,
                        "vector index back: training items re-indexed"
                    );
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "vector index still unavailable");
                    wait = (wait * 2).min(std::time::Duration::from_secs(30));
                }
            }
        }
    }

    /// Recompute and save every active item's embedding and reload it into
    /// the index; returns how many items were embedded.
    pub async fn reembed_all(&self) -> Result<usize, PipelineError> {
        let items = self.store.active_training().await?;
        self.embed_save_index_many(&items, None).await?;
        Ok(items.len())
    }

    /// Index the active items whose stored vector is the current
    /// embedder's; returns (indexed, stale). The stale ones are left to
    /// [`Engine::reembed_stale`], so a change of embedder does not hold
    /// startup for as long as re-embedding takes.
    pub async fn load_current_vectors(&self) -> Result<(usize, usize), PipelineError> {
        let items = self.store.active_training().await?;
        let mut stale = 0;
        for item in &items {
            if self.is_current(item) {
                self.index_item(item).await?;
            } else {
                stale += 1;
            }
        }
        Ok((items.len() - stale, stale))
    }

    /// Re-embed (in batches), save and index every active item whose vector
    /// was made by another embedder; `left` counts down as batches finish
    /// (readiness reports it). Returns how many items were re-embedded.
    pub async fn reembed_stale(
        &self,
        left: Option<&std::sync::atomic::AtomicUsize>,
    ) -> Result<usize, PipelineError> {
        let stale: Vec<TrainingItem> = self
            .store
            .active_training()
            .await?
            .into_iter()
            .filter(|i| !self.is_current(i))
            .collect();
        if let Some(left) = left {
            left.store(stale.len(), std::sync::atomic::Ordering::Relaxed);
        }
        self.embed_save_index_many(&stale, left).await?;
        Ok(stale.len())
    }

    /// Whether `item`'s stored vector was made by the current embedder.
    pub(super) fn is_current(&self, item: &TrainingItem) -> bool {
        item.embedding.len() == self.embedder.dim()
            && item.embedder.as_deref() == Some(self.embedder.id())
    }

    /// [`Engine::embed_save_index`] for many items, embedding them in batches.
    async fn embed_save_index_many(
        &self,
        items: &[TrainingItem],
        left: Option<&std::sync::atomic::AtomicUsize>,
    ) -> Result<(), PipelineError> {
        const BATCH: usize = 64;
        for chunk in items.chunks(BATCH) {
            let texts: Vec<String> = chunk
                .iter()
                .map(|i| super::training::embed_text(i.kind, &i.content, i.sql.as_deref()))
                .collect();
            let vectors = self
                .embedder
                .embed_batch(&texts)
                .await
                .map_err(crate::engine::retrieval::IndexError::from)?;
            for (item, vector) in chunk.iter().zip(vectors) {
                self.save_index(item, vector).await?;
            }
            if let Some(left) = left {
                left.fetch_sub(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Embed, save and index training items added by an import.
    pub async fn index_imported(&self, ids: &[String]) -> Result<usize, PipelineError> {
        let items = self.store.get_training_many(ids).await?;
        for item in &items {
            self.embed_save_index(item).await?;
        }
        Ok(items.len())
    }

    /// Embed `item` with the current embedder, save the vector with it, and
    /// index it when it is active.
    pub(super) async fn embed_save_index(&self, item: &TrainingItem) -> Result<(), PipelineError> {
        let vector = self
            .embedder
            .embed_one(&super::training::embed_text(
                item.kind,
                &item.content,
                item.sql.as_deref(),
            ))
            .await
            .map_err(crate::engine::retrieval::IndexError::from)?;
        self.save_index(item, vector).await
    }

    /// Save `vector` as `item`'s embedding and index the item.
    async fn save_index(&self, item: &TrainingItem, vector: Vec<f32>) -> Result<(), PipelineError> {
        self.store
            .set_training_embedding(&item.id, &vector, self.embedder.id())
            .await?;
        let fresh = TrainingItem {
            embedding: vector,
            embedder: Some(self.embedder.id().to_string()),
            ..item.clone()
        };
        self.index_item(&fresh).await
    }

    /// One sync step: for each connection whose training version changed
    /// since `state` saw it, reload its active items from the store into the
    /// index and drop the ones that went away. Returns the connections
    /// reloaded.
    pub async fn sync_index_from_store(
        &self,
        state: &mut IndexSyncState,
    ) -> Result<Vec<String>, PipelineError> {
        let mut reloaded = Vec::new();
        for (connection, version) in self.store.training_versions().await? {
            if state.versions.get(&connection) == Some(&version) {
                continue;
            }
            let items = self.store.active_training_for(&connection).await?;
            let fresh: HashSet<String> = items.iter().map(|i| i.id.clone()).collect();
            let before = state.ids.remove(&connection).unwrap_or_default();
            for gone in before.difference(&fresh) {
                self.index.remove(gone).await?;
            }
            for item in &items {
                self.index_item(item).await?;
            }
            state.ids.insert(connection.clone(), fresh);
            state.versions.insert(connection.clone(), version);
            reloaded.push(connection);
        }
        *self
            .index_versions
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(state.versions.clone());
        Ok(reloaded)
    }

    /// Follow training changes from other replicas, checking every `every`;
    /// never returns (spawn it, abort it to stop).
    pub async fn follow_store(&self, every: std::time::Duration) {
        let mut state = IndexSyncState::default();
        let mut failing = false;
        loop {
            match self.sync_index_from_store(&mut state).await {
                Ok(reloaded) => {
                    if failing {
                        tracing::info!("vector index sync recovered");
                        failing = false;
                    }
                    if !reloaded.is_empty() {
                        tracing::debug!(connections = ?reloaded, "vector index synced from the store");
                    }
                }
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "vector index sync failed; retrying");
                    failing = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(every).await;
        }
    }
}
