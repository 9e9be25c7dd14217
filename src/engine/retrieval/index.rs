//! The [`EmbeddedIndex`]: an exact, in-memory nearest-neighbour index, the
//! default [`VectorIndex`] for single-instance deployments.
//!
//! Training sets are small (thousands of items per connection), so an exact
//! scan beats an approximate graph on simplicity and recall: vectors of one
//! (connection, kind) partition sit in one contiguous `Vec<f32>`, and a query
//! is a linear pass of dot products plus a bounded heap for the top k. The app
//! store is the source of truth; this index is rebuilt from it on start and
//! must not persist anything itself.
//!
//! A large partition of sparse vectors (the hashing embedder's) also keeps
//! posting lists ([`super::postings`]), built on the first search after a
//! write: they compute the same scores bit for bit from the query's non-zero
//! dimensions only, so the answer is the scan's answer at a fraction of its
//! cost (a full scan of 100,000 vectors of 512 dimensions reads 200 MB).
//!
//! Locking: a `std` `RwLock`, held only inside synchronous sections, never
//! across an `.await`. A search holds the read lock for one search of its
//! partition; one over a large partition runs on the blocking thread pool
//! (`spawn_blocking`) so it never stalls the async runtime's workers.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::postings::{self, Postings};
use super::{IndexEntry, IndexError, ScoredId, VectorIndex};
use crate::domain::TrainingKind;

/// In-memory exact vector index partitioned by connection and kind.
#[derive(Debug)]
pub struct EmbeddedIndex {
    dim: usize,
    /// Shared with a search moved onto the blocking pool.
    inner: Arc<RwLock<Inner>>,
}

/// A partition at least this large is searched on the blocking thread pool:
/// its search takes long enough (with posting lists about a millisecond at
/// 100,000 rows, without them tens) to hold up other requests' tasks.
const BLOCKING_ROWS: usize = 16_384;

#[derive(Debug, Default)]
struct Inner {
    /// connection → kind → vectors.
    partitions: HashMap<String, HashMap<TrainingKind, Partition>>,
    /// id → where its vector lives, so `remove` and cross-partition `upsert`
    /// need no scan.
    locations: HashMap<Arc<str>, (Arc<str>, TrainingKind)>,
}

/// The vectors of one (connection, kind): row `i` of `vectors` belongs to
/// `ids[i]`.
#[derive(Debug, Default)]
struct Partition {
    ids: Vec<Arc<str>>,
    vectors: Vec<f32>,
    slots: HashMap<Arc<str>, usize>,
    /// Posting lists over `vectors` once a large partition has been searched
    /// (`None` inside: too dense for them); every write drops them.
    postings: OnceLock<Option<Postings>>,
}

impl Partition {
    fn upsert(&mut self, id: Arc<str>, vector: &[f32]) {
        self.postings = OnceLock::new();
        let dim = vector.len();
        match self.slots.get(&id) {
            Some(&slot) => self.vectors[slot * dim..(slot + 1) * dim].copy_from_slice(vector),
            None => {
                self.slots.insert(Arc::clone(&id), self.ids.len());
                self.ids.push(id);
                self.vectors.extend_from_slice(vector);
            }
        }
    }

    /// Remove `id` by moving the last row into its slot (order is irrelevant:
    /// every search scans the whole partition).
    fn remove(&mut self, id: &str, dim: usize) {
        let Some(slot) = self.slots.remove(id) else {
            return;
        };
        self.postings = OnceLock::new();
        let last = self.ids.len() - 1;
        if slot != last {
            self.vectors
                .copy_within(last * dim..(last + 1) * dim, slot * dim);
            self.ids.swap(slot, last);
            self.slots.insert(Arc::clone(&self.ids[slot]), slot);
        }
        self.ids.pop();
        self.vectors.truncate(last * dim);
    }

    /// The best `k` rows for `query` (unit length), best first: scored
    /// through the posting lists when the partition has them, else by a scan;
    /// the scores are the same either way.
    fn search(&self, query: &[f32], k: usize) -> Vec<ScoredId> {
        let dim = query.len();
        let postings = if self.ids.len() >= postings::MIN_ROWS {
            self.postings
                .get_or_init(|| Postings::build(&self.vectors, dim))
                .as_ref()
        } else {
            None
        };
        match postings {
            // The few rows that can make the top k, scored exactly.
            Some(p) => match p.candidates(query, k) {
                Some(rows) => top_k(
                    rows.into_iter().map(|r| {
                        let r = r as usize;
                        (
                            dot(query, &self.vectors[r * dim..(r + 1) * dim]),
                            &self.ids[r],
                        )
                    }),
                    k,
                ),
                None => top_k(p.scores(query).into_iter().zip(&self.ids), k),
            },
            None => top_k(
                self.vectors
                    .chunks_exact(dim)
                    .map(|row| dot(query, row))
                    .zip(&self.ids),
                k,
            ),
        }
    }
}

/// The best `k` of scored `rows`, best first.
fn top_k<'a>(rows: impl Iterator<Item = (f32, &'a Arc<str>)>, k: usize) -> Vec<ScoredId> {
    // Min-heap of the best k so far: its root is the worst kept candidate.
    let mut heap: BinaryHeap<Reverse<Candidate<'_>>> = BinaryHeap::with_capacity(k + 1);
    for (score, id) in rows {
        let candidate = Candidate { score, id };
        if heap.len() < k {
            heap.push(Reverse(candidate));
        } else if let Some(mut worst) = heap.peek_mut()
            && candidate > worst.0
        {
            *worst = Reverse(candidate);
        }
    }
    // Ascending `Reverse` order is descending candidate order: best first.
    heap.into_sorted_vec()
        .into_iter()
        .map(|Reverse(c)| ScoredId {
            id: c.id.to_string(),
            score: c.score,
        })
        .collect()
}

impl EmbeddedIndex {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            inner: Arc::new(RwLock::new(Inner::default())),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
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

    // See the free `read` on a poisoned lock.
    fn read(&self) -> Result<RwLockReadGuard<'_, Inner>, IndexError> {
        read(&self.inner)
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, Inner>, IndexError> {
        self.inner
            .write()
            .map_err(|_| IndexError::Unavailable("index lock poisoned".into()))
    }

    fn upsert_sync(&self, entry: IndexEntry) -> Result<(), IndexError> {
        self.check_dim(entry.vector.len())?;
        let mut vector = entry.vector;
        normalize(&mut vector);
        let mut inner = self.write()?;
        let inner = &mut *inner;
        let id: Arc<str> = entry.id.into();
        if let Some((connection, kind)) = inner.locations.get(&id)
            && (connection.as_ref(), *kind) != (entry.connection.as_str(), entry.kind)
        {
            remove_from(&mut inner.partitions, connection, *kind, &id, self.dim);
        }
        inner
            .partitions
            .entry(entry.connection.clone())
            .or_default()
            .entry(entry.kind)
            .or_default()
            .upsert(Arc::clone(&id), &vector);
        inner
            .locations
            .insert(id, (entry.connection.into(), entry.kind));
        Ok(())
    }

    fn remove_sync(&self, id: &str) -> Result<(), IndexError> {
        let mut inner = self.write()?;
        let inner = &mut *inner;
        if let Some((connection, kind)) = inner.locations.remove(id) {
            remove_from(&mut inner.partitions, &connection, kind, id, self.dim);
        }
        Ok(())
    }

    /// Rows in the partition of (`connection`, `kind`).
    fn partition_len(&self, connection: &str, kind: TrainingKind) -> Result<usize, IndexError> {
        Ok(self
            .read()?
            .partitions
            .get(connection)
            .and_then(|kinds| kinds.get(&kind))
            .map_or(0, |p| p.ids.len()))
    }

    fn len_sync(&self) -> Result<usize, IndexError> {
        Ok(self.read()?.locations.len())
    }
}

// A poisoned lock means a writer panicked half-way; the partitions may be
// inconsistent, so report the index unavailable rather than serve them.
fn read(inner: &RwLock<Inner>) -> Result<RwLockReadGuard<'_, Inner>, IndexError> {
    inner
        .read()
        .map_err(|_| IndexError::Unavailable("index lock poisoned".into()))
}

/// The top `k` of (`connection`, `kind`) for `query`, best first.
fn search_sync(
    inner: &RwLock<Inner>,
    connection: &str,
    kind: TrainingKind,
    mut query: Vec<f32>,
    k: usize,
) -> Result<Vec<ScoredId>, IndexError> {
    if k == 0 {
        return Ok(Vec::new());
    }
    normalize(&mut query);
    let inner = read(inner)?;
    Ok(inner
        .partitions
        .get(connection)
        .and_then(|kinds| kinds.get(&kind))
        .map_or_else(Vec::new, |p| p.search(&query, k)))
}

/// Remove `id` from its partition and drop partitions left empty, so a
/// deleted connection leaves nothing behind.
fn remove_from(
    partitions: &mut HashMap<String, HashMap<TrainingKind, Partition>>,
    connection: &str,
    kind: TrainingKind,
    id: &str,
    dim: usize,
) {
    let Some(kinds) = partitions.get_mut(connection) else {
        return;
    };
    if let Some(partition) = kinds.get_mut(&kind) {
        partition.remove(id, dim);
        if partition.ids.is_empty() {
            kinds.remove(&kind);
        }
    }
    if kinds.is_empty() {
        partitions.remove(connection);
    }
}

/// A scored row during a search. Orders by score, then by id reversed, so
/// that among equal scores the smaller id ranks higher and results do not
/// depend on insertion order.
#[derive(Debug)]
struct Candidate<'a> {
    score: f32,
    id: &'a str,
}

impl Ord for Candidate<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.id.cmp(self.id))
    }
}

impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate<'_> {}

/// Scale to unit length so a dot product is the cosine similarity; the zero
/// vector stays zero (it is similar to nothing).
fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 && norm.is_finite() && (norm - 1.0).abs() > 1e-6 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Independent accumulators of [`dot`] (the posting lists keep the same).
pub(super) const LANES: usize = 8;

/// Dot product with eight independent accumulators: float addition is not
/// associative, so a plain `sum()` stays serial; separate lanes let the
/// compiler vectorise the loop. [`super::postings`] reproduces its exact
/// order of additions; change both together.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[async_trait]
impl VectorIndex for EmbeddedIndex {
    async fn upsert(&self, entry: IndexEntry) -> Result<(), IndexError> {
        self.upsert_sync(entry)
    }

    async fn remove(&self, id: &str) -> Result<(), IndexError> {
        self.remove_sync(id)
    }

    async fn search(
        &self,
        connection: &str,
        kind: TrainingKind,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredId>, IndexError> {
        self.check_dim(query.len())?;
        if self.partition_len(connection, kind)? < BLOCKING_ROWS {
            return search_sync(&self.inner, connection, kind, query.to_vec(), k);
        }
        let (inner, connection, query) = (
            Arc::clone(&self.inner),
            connection.to_string(),
            query.to_vec(),
        );
        tokio::task::spawn_blocking(move || search_sync(&inner, &connection, kind, query, k))
            .await
            .map_err(|e| IndexError::Unavailable(format!("index search failed: {e}")))?
    }

    async fn len(&self) -> Result<usize, IndexError> {
        self.len_sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 4;

    fn entry(id: &str, connection: &str, kind: TrainingKind, vector: [f32; DIM]) -> IndexEntry {
        IndexEntry {
            id: id.into(),
            connection: connection.into(),
            kind,
            vector: vector.to_vec(),
        }
    }

    fn ids(hits: &[ScoredId]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    async fn search(
        index: &EmbeddedIndex,
        conn: &str,
        kind: TrainingKind,
        q: [f32; DIM],
        k: usize,
    ) -> Vec<ScoredId> {
        index.search(conn, kind, &q, k).await.unwrap()
    }

    #[tokio::test]
    async fn search_ranks_by_cosine_best_first() {
        let index = EmbeddedIndex::new(DIM);
        index
            .upsert(entry("x", "demo", TrainingKind::Ddl, [1.0, 0.0, 0.0, 0.0]))
            .await
            .unwrap();
        index
            .upsert(entry("xy", "demo", TrainingKind::Ddl, [1.0, 1.0, 0.0, 0.0]))
            .await
            .unwrap();
        index
            .upsert(entry("y", "demo", TrainingKind::Ddl, [0.0, 1.0, 0.0, 0.0]))
            .await
            .unwrap();
        index
            .upsert(entry(
                "neg",
                "demo",
                TrainingKind::Ddl,
                [-1.0, 0.0, 0.0, 0.0],
            ))
            .await
            .unwrap();

        // Unnormalised input is normalised, so scores are true cosines.
        let hits = search(&index, "demo", TrainingKind::Ddl, [2.0, 0.0, 0.0, 0.0], 10).await;
        assert_eq!(ids(&hits), ["x", "xy", "y", "neg"]);
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert!((hits[1].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(hits[2].score.abs() < 1e-6);
        assert!((hits[3].score + 1.0).abs() < 1e-6);

        let top2 = search(&index, "demo", TrainingKind::Ddl, [0.0, 1.0, 0.0, 0.0], 2).await;
        assert_eq!(ids(&top2), ["y", "xy"]);
        assert!(
            search(&index, "demo", TrainingKind::Ddl, [1.0, 0.0, 0.0, 0.0], 0)
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn partitions_are_separate() {
        let index = EmbeddedIndex::new(DIM);
        let v = [1.0, 0.0, 0.0, 0.0];
        index
            .upsert(entry("a", "demo", TrainingKind::Ddl, v))
            .await
            .unwrap();
        index
            .upsert(entry("b", "demo", TrainingKind::Documentation, v))
            .await
            .unwrap();
        index
            .upsert(entry("c", "sales", TrainingKind::Ddl, v))
            .await
            .unwrap();

        assert_eq!(
            ids(&search(&index, "demo", TrainingKind::Ddl, v, 5).await),
            ["a"]
        );
        assert_eq!(
            ids(&search(&index, "demo", TrainingKind::Documentation, v, 5).await),
            ["b"]
        );
        assert_eq!(
            ids(&search(&index, "sales", TrainingKind::Ddl, v, 5).await),
            ["c"]
        );
        assert!(
            search(&index, "sales", TrainingKind::QuestionSql, v, 5)
                .await
                .is_empty()
        );
        assert!(
            search(&index, "unknown", TrainingKind::Ddl, v, 5)
                .await
                .is_empty()
        );
        assert_eq!(index.len().await.unwrap(), 3);
    }

    #[tokio::test]
    async fn ties_are_broken_by_id() {
        let index = EmbeddedIndex::new(DIM);
        let v = [0.0, 0.0, 1.0, 0.0];
        for id in ["m", "c", "x", "a", "k"] {
            index
                .upsert(entry(id, "demo", TrainingKind::QuestionSql, v))
                .await
                .unwrap();
        }
        let hits = search(&index, "demo", TrainingKind::QuestionSql, v, 3).await;
        assert_eq!(ids(&hits), ["a", "c", "k"]);
        let all = search(&index, "demo", TrainingKind::QuestionSql, v, 10).await;
        assert_eq!(ids(&all), ["a", "c", "k", "m", "x"]);
    }

    #[tokio::test]
    async fn upsert_replaces_including_across_partitions() {
        let index = EmbeddedIndex::new(DIM);
        let (e1, e2) = ([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]);
        index
            .upsert(entry("a", "demo", TrainingKind::Ddl, e1))
            .await
            .unwrap();
        index
            .upsert(entry("b", "demo", TrainingKind::Ddl, e1))
            .await
            .unwrap();

        // Same partition: the vector is replaced, not duplicated.
        index
            .upsert(entry("a", "demo", TrainingKind::Ddl, e2))
            .await
            .unwrap();
        assert_eq!(index.len().await.unwrap(), 2);
        let hits = search(&index, "demo", TrainingKind::Ddl, e2, 5).await;
        assert_eq!(ids(&hits), ["a", "b"]);
        assert!((hits[0].score - 1.0).abs() < 1e-6);

        // Another partition: the item moves.
        index
            .upsert(entry("a", "sales", TrainingKind::Documentation, e2))
            .await
            .unwrap();
        assert_eq!(index.len().await.unwrap(), 2);
        assert_eq!(
            ids(&search(&index, "demo", TrainingKind::Ddl, e2, 5).await),
            ["b"]
        );
        assert_eq!(
            ids(&search(&index, "sales", TrainingKind::Documentation, e2, 5).await),
            ["a"]
        );
    }

    #[tokio::test]
    async fn remove_keeps_the_other_rows_intact() {
        let index = EmbeddedIndex::new(DIM);
        let basis = |i: usize| {
            let mut v = [0.0; DIM];
            v[i] = 1.0;
            v
        };
        for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            index
                .upsert(entry(id, "demo", TrainingKind::Ddl, basis(i)))
                .await
                .unwrap();
        }
        // Removing a middle row moves the last one into its slot.
        index.remove("b").await.unwrap();
        index.remove("absent").await.unwrap();
        assert_eq!(index.len().await.unwrap(), 3);
        for (i, id) in [(0, "a"), (2, "c"), (3, "d")] {
            let hits = search(&index, "demo", TrainingKind::Ddl, basis(i), 1).await;
            assert_eq!(ids(&hits), [id]);
            assert!((hits[0].score - 1.0).abs() < 1e-6);
        }
        assert!(
            search(&index, "demo", TrainingKind::Ddl, basis(1), 5)
                .await
                .iter()
                .all(|h| h.id != "b")
        );

        for id in ["a", "c", "d"] {
            index.remove(id).await.unwrap();
        }
        assert_eq!(index.len().await.unwrap(), 0);
        assert!(
            search(&index, "demo", TrainingKind::Ddl, basis(0), 5)
                .await
                .is_empty()
        );
        assert!(
            index.read().unwrap().partitions.is_empty(),
            "empty partitions are dropped"
        );
    }

    #[tokio::test]
    async fn dimension_mismatch_is_rejected() {
        let index = EmbeddedIndex::new(DIM);
        let err = index
            .upsert(IndexEntry {
                id: "a".into(),
                connection: "demo".into(),
                kind: TrainingKind::Ddl,
                vector: vec![1.0; 3],
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                IndexError::Dimension {
                    expected: 4,
                    got: 3
                }
            ),
            "{err:?}"
        );
        assert_eq!(index.len().await.unwrap(), 0);

        let err = index
            .search("demo", TrainingKind::Ddl, &[1.0; 5], 3)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                IndexError::Dimension {
                    expected: 4,
                    got: 5
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn zero_query_scores_zero() {
        let index = EmbeddedIndex::new(DIM);
        index
            .upsert(entry("a", "demo", TrainingKind::Ddl, [1.0, 0.0, 0.0, 0.0]))
            .await
            .unwrap();
        let hits = search(&index, "demo", TrainingKind::Ddl, [0.0; DIM], 1).await;
        assert_eq!(
            hits,
            [ScoredId {
                id: "a".into(),
                score: 0.0
            }]
        );
    }

    #[test]
    fn dot_handles_lengths_that_are_not_a_multiple_of_the_lanes() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let expected: f32 = a.iter().map(|x| x * x).sum();
        assert_eq!(dot(&a, &a), expected);
    }

    #[tokio::test]
    async fn matches_a_brute_force_ranking() {
        // Deterministic pseudo-random vectors, compared with a full sort.
        const D: usize = 37;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let index = EmbeddedIndex::new(D);
        let mut rows = Vec::new();
        for i in 0..300 {
            let mut v: Vec<f32> = (0..D).map(|_| next()).collect();
            normalize(&mut v);
            rows.push((format!("id{i:03}"), v.clone()));
            index
                .upsert(IndexEntry {
                    id: format!("id{i:03}"),
                    connection: "c".into(),
                    kind: TrainingKind::Ddl,
                    vector: v,
                })
                .await
                .unwrap();
        }
        let mut q: Vec<f32> = (0..D).map(|_| next()).collect();
        normalize(&mut q);
        let mut expected: Vec<(f32, &str)> = rows
            .iter()
            .map(|(id, v)| (dot(&q, v), id.as_str()))
            .collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let hits = index.search("c", TrainingKind::Ddl, &q, 7).await.unwrap();
        let want: Vec<&str> = expected.iter().take(7).map(|e| e.1).collect();
        assert_eq!(ids(&hits), want);
    }

    /// Deterministic sparse vectors: `nonzero` random entries of `dim`.
    fn sparse_rows(n: usize, dim: usize, nonzero: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state >> 16
        };
        (0..n)
            .map(|_| {
                let mut v = vec![0.0f32; dim];
                for _ in 0..nonzero {
                    let d = (next() % dim as u64) as usize;
                    // Few distinct values, so exact ties occur and the id
                    // order among them is checked too.
                    v[d] += (next() % 4) as f32 - 1.5;
                }
                normalize(&mut v);
                v
            })
            .collect()
    }

    fn brute_force(rows: &[(String, Vec<f32>)], q: &[f32], k: usize) -> Vec<String> {
        let mut q = q.to_vec();
        normalize(&mut q);
        let mut all: Vec<(f32, &str)> = rows
            .iter()
            .map(|(id, v)| (dot(&q, v), id.as_str()))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        all.iter().take(k).map(|e| e.1.to_string()).collect()
    }

    #[tokio::test]
    async fn a_large_sparse_partition_answers_as_a_full_scan_does() {
        // Above both the posting-list and the blocking-pool sizes.
        const D: usize = 64;
        let n = BLOCKING_ROWS + 100;
        let index = EmbeddedIndex::new(D);
        let mut rows: Vec<(String, Vec<f32>)> = Vec::new();
        for (i, v) in sparse_rows(n, D, 3, 0x9e37_79b9_7f4a_7c15)
            .into_iter()
            .enumerate()
        {
            let id = format!("id{i:06}");
            rows.push((id.clone(), v.clone()));
            index
                .upsert(IndexEntry {
                    id,
                    connection: "c".into(),
                    kind: TrainingKind::QuestionSql,
                    vector: v,
                })
                .await
                .unwrap();
        }
        for (j, q) in sparse_rows(20, D, 2, 0x2545_f491_4f6c_dd1d)
            .iter()
            .enumerate()
        {
            for k in [1, 5, 40] {
                let hits = index
                    .search("c", TrainingKind::QuestionSql, q, k)
                    .await
                    .unwrap();
                let got: Vec<String> = hits.into_iter().map(|h| h.id).collect();
                assert_eq!(got, brute_force(&rows, q, k), "query {j}, k {k}");
            }
        }
        // A write drops the posting lists: the new row is found at once.
        let q = &sparse_rows(1, D, 2, 7)[0];
        index
            .upsert(IndexEntry {
                id: "a-new".into(),
                connection: "c".into(),
                kind: TrainingKind::QuestionSql,
                vector: q.clone(),
            })
            .await
            .unwrap();
        let hits = index
            .search("c", TrainingKind::QuestionSql, q, 1)
            .await
            .unwrap();
        assert_eq!(ids(&hits), ["a-new"]);
        assert!((hits[0].score - 1.0).abs() < 1e-6);
    }
}
