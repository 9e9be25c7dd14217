//! An in-memory copy of the training items retrieval puts in prompts, per
//! connection and training version (issue 16): a question whose hits were
//! read before costs no app-store round trip for their text.
//!
//! What keeps it exact: an entry is used only under the key it was filled
//! under, `(training version, local epoch)`.
//!
//! - The training version is the one the caller's vector index holds for
//!   the connection (`Engine::index_versions`, moved by the replica's sync
//!   from the store's `training_versions`). A change made by another replica
//!   or process (`insight train`) is seen here when this replica's index
//!   sees it, not before: until then the index still returns the items as of
//!   that version, and the copy answers for exactly those.
//! - The local epoch moves after every training write of this process
//!   commits (each `Store` write on `training_items` calls
//!   [`TrainingCache::changed`]), so a change on this replica drops every
//!   entry at once, before the write's caller hears back.
//!
//! Besides, an item's id, connection, kind, content and SQL never change
//! (an edit makes a new item), so an entry can only ever be stale about an
//! item's status or its existence, and both move the version.
//!
//! Entries hold items without their embeddings (retrieval does not read
//! them), at most [`MAX_ITEMS`] and [`MAX_BYTES`] of text per connection; a
//! full entry is emptied and filled again. Must not be used for anything that reads embeddings or
//! needs a change by another replica at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Store, StoreError, TrainingItem};

/// Items kept per connection before its entry is emptied.
pub const MAX_ITEMS: usize = 1024;

/// Text (content, SQL, ids) kept per connection before its entry is
/// emptied: the questions of a busy hour share most of their hits, and a
/// copy of a whole 100,000-item connection is not the point.
pub const MAX_BYTES: usize = 1 << 20;

/// What an item costs an entry, roughly: its text and fixed overhead.
fn size(item: &TrainingItem) -> usize {
    const OVERHEAD: usize = 256;
    OVERHEAD
        + 2 * item.id.len()
        + item.connection.len()
        + item.content.len()
        + item.sql.as_ref().map_or(0, String::len)
        + item.created_at.len()
}

#[derive(Debug, Default)]
pub struct TrainingCache {
    /// Training writes committed by this process.
    epoch: AtomicU64,
    entries: RwLock<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    key: Key,
    items: HashMap<String, Arc<TrainingItem>>,
    /// [`size`] of the items.
    bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    version: i64,
    epoch: u64,
}

impl TrainingCache {
    /// A training write of this process committed: forget every entry.
    pub fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn key(&self, version: i64) -> Key {
        Key {
            version,
            epoch: self.epoch.load(Ordering::Acquire),
        }
    }

    /// The items of `ids` kept under `key`, in the order of `ids` (`None`:
    /// not kept).
    fn lookup(&self, connection: &str, key: Key, ids: &[String]) -> Vec<Option<Arc<TrainingItem>>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        match entries.get(connection).filter(|e| e.key == key) {
            Some(e) => ids.iter().map(|id| e.items.get(id).cloned()).collect(),
            None => vec![None; ids.len()],
        }
    }

    /// Keep `items`, read from the store under `key`. An entry under
    /// another key is replaced, and a full one emptied first; items read
    /// under an epoch that is no longer current are not kept.
    fn keep(&self, connection: &str, key: Key, items: &[Arc<TrainingItem>]) {
        if self.epoch.load(Ordering::Acquire) != key.epoch {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let entry = entries
            .entry(connection.to_string())
            .or_insert_with(|| Entry {
                key,
                items: HashMap::new(),
                bytes: 0,
            });
        let adding: usize = items.iter().map(|i| size(i)).sum();
        if entry.key != key
            || entry.items.len() + items.len() > MAX_ITEMS
            || entry.bytes + adding > MAX_BYTES
        {
            entry.key = key;
            entry.items.clear();
            entry.bytes = 0;
        }
        for item in items {
            let n = size(item);
            if entry.items.len() < MAX_ITEMS
                && entry.bytes + n <= MAX_BYTES
                && entry.items.insert(item.id.clone(), item.clone()).is_none()
            {
                entry.bytes += n;
            }
        }
    }

    /// Items kept for `connection` (for tests and diagnostics).
    pub fn len(&self, connection: &str) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(connection)
            .map_or(0, |e| e.items.len())
    }
}

impl Store {
    /// [`Store::get_training_many`] for retrieval on `connection`, whose
    /// vector index holds training `version`: the items (without their
    /// embeddings) in the order of `ids`, missing ids skipped, read from the
    /// app store only when not kept from an earlier call under the same
    /// version (see [`crate::store::training_cache`]).
    pub async fn training_for_retrieval(
        &self,
        connection: &str,
        version: i64,
        ids: &[String],
    ) -> Result<Vec<Arc<TrainingItem>>, StoreError> {
        let cache = &self.training_cache;
        // The key before the read: a write that commits after it moves the
        // epoch, and what this call reads is then not kept.
        let key = cache.key(version);
        let mut found = cache.lookup(connection, key, ids);
        let missing: Vec<String> = ids
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if !missing.is_empty() {
            let read: Vec<Arc<TrainingItem>> = self
                .get_training_many(&missing)
                .await?
                .into_iter()
                .map(|item| {
                    Arc::new(TrainingItem {
                        embedding: Vec::new(),
                        ..item
                    })
                })
                .collect();
            cache.keep(connection, key, &read);
            for (slot, id) in found.iter_mut().zip(ids) {
                if slot.is_none() {
                    *slot = read.iter().find(|i| i.id == *id).cloned();
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// The copy of training items kept for retrieval.
    pub fn training_cache(&self) -> &TrainingCache {
        &self.training_cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TrainingKind;
    use crate::store::{NewTrainingItem, TrainingSource, TrainingStatus};

    fn item(connection: &str, content: &str) -> NewTrainingItem {
        NewTrainingItem {
            connection: connection.into(),
            kind: TrainingKind::Documentation,
            content: content.into(),
            sql: None,
            source: TrainingSource::User,
            status: TrainingStatus::Active,
            embedding: vec![0.5; 4],
            embedder: "test".into(),
            created_by: None,
            query_id: None,
        }
    }

    /// Delete a row behind the store's back (no epoch move), the way another
    /// replica's write looks from here.
    async fn delete_elsewhere(store: &Store, id: &str) {
        sqlx::query("DELETE FROM training_items WHERE id = $1")
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
    }

    fn contents(items: &[Arc<TrainingItem>]) -> Vec<&str> {
        items.iter().map(|i| i.content.as_str()).collect()
    }

    #[tokio::test]
    async fn items_are_read_once_per_version_in_the_order_asked() {
        let store = Store::in_memory().await.unwrap();
        let (a, _) = store.insert_training(&item("c", "alpha")).await.unwrap();
        let (b, _) = store.insert_training(&item("c", "beta")).await.unwrap();
        let ids = vec![b.id.clone(), "gone".to_string(), a.id.clone()];
        let got = store.training_for_retrieval("c", 2, &ids).await.unwrap();
        assert_eq!(contents(&got), ["beta", "alpha"]);
        assert!(got.iter().all(|i| i.embedding.is_empty()));
        assert_eq!(store.training_cache().len("c"), 2);
        // Kept: a row removed without this store knowing is still served
        // under the same version ...
        delete_elsewhere(&store, &a.id).await;
        let again = store.training_for_retrieval("c", 2, &ids).await.unwrap();
        assert_eq!(contents(&again), ["beta", "alpha"]);
        // ... and read afresh once the index's version moves.
        let moved = store.training_for_retrieval("c", 3, &ids).await.unwrap();
        assert_eq!(contents(&moved), ["beta"]);
    }

    #[tokio::test]
    async fn a_training_write_on_this_replica_drops_the_copy_at_once() {
        let store = Store::in_memory().await.unwrap();
        let (a, _) = store.insert_training(&item("c", "alpha")).await.unwrap();
        let ids = vec![a.id.clone()];
        let v = store.training_version("c").await.unwrap();
        assert_eq!(
            contents(&store.training_for_retrieval("c", v, &ids).await.unwrap()),
            ["alpha"]
        );
        // Deleted through the store: the next call, still under the index's
        // old version (the sync has not run), does not serve it.
        store.delete_training(&a.id).await.unwrap();
        assert_eq!(store.training_cache().len("c"), 0);
        assert!(
            store
                .training_for_retrieval("c", v, &ids)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn every_kind_of_training_write_moves_the_epoch() {
        let store = Store::in_memory().await.unwrap();
        let epoch = |s: &Store| s.training_cache().epoch.load(Ordering::Acquire);
        let mut last = epoch(&store);
        let mut moved = |s: &Store, what: &str| {
            let now = epoch(s);
            assert!(now > last, "{what} did not move the epoch");
            last = now;
        };
        let pending = NewTrainingItem {
            status: TrainingStatus::Pending,
            created_by: None,
            ..item("c", "pending")
        };
        let (p, _) = store.insert_training(&pending).await.unwrap();
        moved(&store, "insert_training");
        store.approve_training(&p.id, None).await.unwrap();
        moved(&store, "approve_training");
        store.delete_training(&p.id).await.unwrap();
        moved(&store, "delete_training");
        store
            .sync_introspected_ddl(
                "c",
                vec![NewTrainingItem {
                    kind: TrainingKind::Ddl,
                    source: TrainingSource::Introspection,
                    ..item("c", "CREATE TABLE t (a INT)")
                }],
            )
            .await
            .unwrap();
        moved(&store, "sync_introspected_ddl");
        let user = store
            .create_user("author", "h", crate::domain::Role::Analyst)
            .await
            .unwrap();
        store
            .insert_training(&NewTrainingItem {
                created_by: Some(user.id.clone()),
                ..item("c", "by author")
            })
            .await
            .unwrap();
        moved(&store, "insert_training");
        store.delete_training_by_author(&user.id).await.unwrap();
        moved(&store, "delete_training_by_author");
        // An import into another store moves that store's epoch.
        store.insert_training(&item("c", "exported")).await.unwrap();
        let rows = store.export_rows().await.unwrap();
        assert!(!rows.training_items.is_empty());
        let other = Store::in_memory().await.unwrap();
        let before = epoch(&other);
        other.import_rows(&rows).await.unwrap();
        assert!(epoch(&other) > before, "import_rows did not move the epoch");
    }

    #[test]
    fn a_full_entry_is_emptied_and_refilled() {
        let cache = TrainingCache::default();
        let key = cache.key(1);
        let sized = |n: usize, len: usize| {
            Arc::new(TrainingItem {
                id: format!("i{n}"),
                connection: "c".into(),
                kind: TrainingKind::Documentation,
                content: "x".repeat(len),
                sql: None,
                source: TrainingSource::User,
                status: TrainingStatus::Active,
                created_by: None,
                approved_by: None,
                query_id: None,
                created_at: String::new(),
                embedding: Vec::new(),
                embedder: None,
            })
        };
        let make = |n: usize| sized(n, 0);
        let first: Vec<_> = (0..MAX_ITEMS).map(make).collect();
        cache.keep("c", key, &first);
        assert_eq!(cache.len("c"), MAX_ITEMS);
        cache.keep("c", key, &[make(MAX_ITEMS)]);
        assert_eq!(cache.len("c"), 1);
        // And by text: a half of the budget twice empties the entry once.
        cache.keep("c", key, &[sized(1, MAX_BYTES / 2)]);
        cache.keep("c", key, &[sized(2, MAX_BYTES / 2)]);
        assert_eq!(cache.len("c"), 1);
        // An item over the whole budget is not kept.
        cache.keep("c", key, &[sized(3, MAX_BYTES)]);
        assert_eq!(cache.len("c"), 0);
        // Items read before a local write are not kept after it.
        cache.changed();
        cache.keep("c", key, &[make(0)]);
        assert_eq!(cache.len("c"), 0);
    }
}
