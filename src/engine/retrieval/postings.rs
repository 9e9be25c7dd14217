//! Posting lists over one partition of the [`super::EmbeddedIndex`]: for each
//! dimension, the rows whose vector is non-zero there. The built-in hashing
//! embedder's vectors are sparse (a question touches some tens of its 512
//! buckets), so scoring through the lists of the query's non-zero dimensions
//! reads a fraction of the memory a full scan reads; a scan of 100,000 dense
//! rows of 512 floats (200 MB) is bound by memory bandwidth.
//!
//! The scores are bit-identical to the index's dot product: that one sums the
//! products of dimension `d` into lane `d % 8` in ascending `d`, then adds the
//! eight lanes; here each row keeps the same eight lanes, the same products
//! arrive in the same ascending order, and the lanes are added the same way.
//! The products left out are those with a zero factor, and adding a zero
//! never changes a sum (a lane starts at +0.0, and +0.0 + -0.0 is +0.0), so a
//! search through the lists ranks exactly as a full scan does, ties included.
//! It owns no locking and no ids; the index builds it, lazily, for large
//! partitions of sparse vectors, and drops it on every write.
//!
//! A search for the best `k` need not compute every row's exact score:
//! [`Postings::candidates`] sums each row's products in one `f32` (a row of
//! 4 bytes instead of eight lanes of 32, in a buffer each thread reuses),
//! takes the k-th best of those sums and keeps the rows whose sum is within
//! twice the worst rounding difference of it; the index then scores those
//! few exactly with its own dot product. A sum of the same `m` products in
//! another order differs from the lane-ordered one by at most
//! `2 (m - 1) u Σ|q_d v_d|` (`u = 2^-24`, and `Σ|q_d v_d| ≤ |q| |v|`), so
//! every row of the exact top k is among the candidates, and the result,
//! ties included, is the full scan's.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::index::LANES;

/// Rows at or above this size get posting lists; below it a full scan is
/// already fast (about 0.2 ms for 4,096 vectors of 512 dimensions).
pub const MIN_ROWS: usize = 4_096;

/// Posting lists pay off only when most entries are zero; above this share of
/// non-zero entries (a dense model embedding) a partition keeps the scan.
const MAX_DENSITY: f64 = 0.25;

/// Above this many candidates, rescoring each with a full dot product costs
/// more than the exact lane-ordered pass ([`Postings::scores`]).
const MAX_CANDIDATES: usize = 1_024;

thread_local! {
    /// Per-row sums of [`Postings::candidates`], reused across searches.
    static SUMS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Compressed posting lists: dimension `d`'s rows are
/// `rows[offsets[d]..offsets[d + 1]]`, with their values in `values`.
#[derive(Debug)]
pub struct Postings {
    offsets: Vec<u32>,
    rows: Vec<u32>,
    values: Vec<f32>,
    len: usize,
    dim: usize,
    /// The largest Euclidean norm of a row.
    max_norm: f32,
}

impl Postings {
    /// Posting lists for `vectors` (rows of `dim` floats), or `None` when the
    /// vectors are too dense for them to help, hold a value that is not
    /// finite (a scan ranks those), are too many to number in u32, or `dim`
    /// is not a whole number of the dot product's lanes.
    pub fn build(vectors: &[f32], dim: usize) -> Option<Self> {
        // Whole lanes only: the dense dot adds a remainder separately.
        if !dim.is_multiple_of(LANES) {
            return None;
        }
        let len = vectors.len() / dim;
        if vectors.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let nonzero = vectors.iter().filter(|x| **x != 0.0).count();
        if len == 0 || nonzero as f64 > MAX_DENSITY * vectors.len() as f64 {
            return None;
        }
        let count = u32::try_from(nonzero).ok()?;
        u32::try_from(len).ok()?;
        let mut offsets = vec![0u32; dim + 1];
        for row in vectors.chunks_exact(dim) {
            for (d, x) in row.iter().enumerate() {
                if *x != 0.0 {
                    offsets[d + 1] += 1;
                }
            }
        }
        for d in 0..dim {
            offsets[d + 1] += offsets[d];
        }
        debug_assert_eq!(offsets[dim], count);
        let mut next: Vec<u32> = offsets[..dim].to_vec();
        let mut rows = vec![0u32; nonzero];
        let mut values = vec![0.0f32; nonzero];
        for (r, row) in vectors.chunks_exact(dim).enumerate() {
            for (d, x) in row.iter().enumerate() {
                if *x != 0.0 {
                    let at = next[d] as usize;
                    rows[at] = r as u32;
                    values[at] = *x;
                    next[d] += 1;
                }
            }
        }
        let max_norm = vectors
            .chunks_exact(dim)
            .map(|row| row.iter().map(|x| x * x).sum::<f32>().sqrt())
            .fold(0.0f32, f32::max);
        Some(Self {
            offsets,
            rows,
            values,
            len,
            dim,
            max_norm,
        })
    }

    /// The rows that may be among the best `k` for `query` (see the module
    /// doc), in row order; `None` when they are too many for rescoring them
    /// to pay, or the query is not finite: the caller then ranks
    /// [`Self::scores`].
    pub fn candidates(&self, query: &[f32], k: usize) -> Option<Vec<u32>> {
        let query_norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        // Twice the worst difference between two orders of summation, with
        // 2u per product for the norms' own rounding.
        let margin = 4.0 * self.dim as f32 * f32::EPSILON * query_norm * self.max_norm;
        if !margin.is_finite() {
            return None;
        }
        SUMS.with_borrow_mut(|sums| {
            sums.clear();
            sums.resize(self.len, 0.0);
            for (d, q) in query.iter().enumerate() {
                if *q == 0.0 {
                    continue;
                }
                let span = self.offsets[d] as usize..self.offsets[d + 1] as usize;
                for (row, value) in self.rows[span.clone()].iter().zip(&self.values[span]) {
                    sums[*row as usize] += q * value;
                }
            }
            let floor = kth_largest(sums, k) - margin;
            let rows: Vec<u32> = (0..self.len as u32)
                .filter(|&r| sums[r as usize] >= floor)
                .take(MAX_CANDIDATES.max(k) + 1)
                .collect();
            (rows.len() <= MAX_CANDIDATES.max(k)).then_some(rows)
        })
    }

    /// The dot product of `query` with every row, in row order, equal to
    /// the index's dense `dot` bit for bit (see the module doc).
    pub fn scores(&self, query: &[f32]) -> Vec<f32> {
        let mut lanes = vec![[0.0f32; LANES]; self.len];
        for (d, q) in query.iter().enumerate() {
            if *q == 0.0 {
                continue;
            }
            let span = self.offsets[d] as usize..self.offsets[d + 1] as usize;
            for (row, value) in self.rows[span.clone()].iter().zip(&self.values[span]) {
                lanes[*row as usize][d % LANES] += q * value;
            }
        }
        // The dense dot adds the sum of its (here empty) remainder last.
        let tail: f32 = std::iter::empty::<f32>().sum();
        lanes.iter().map(|l| l.iter().sum::<f32>() + tail).collect()
    }
}

/// The `k`-th largest of `values` (negative infinity when there are fewer).
fn kth_largest(values: &[f32], k: usize) -> f32 {
    if k == 0 || values.len() < k {
        return f32::NEG_INFINITY;
    }
    // Min-heap of the best k so far (as ordered bit patterns).
    let mut heap: BinaryHeap<Reverse<Key>> = BinaryHeap::with_capacity(k + 1);
    for &v in values {
        if heap.len() < k {
            heap.push(Reverse(Key(v)));
        } else if let Some(mut least) = heap.peek_mut()
            && v > least.0.0
        {
            *least = Reverse(Key(v));
        }
    }
    heap.peek().map_or(f32::NEG_INFINITY, |least| least.0.0)
}

/// An `f32` ordered by [`f32::total_cmp`].
#[derive(Debug, Clone, Copy)]
struct Key(f32);

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Key {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_vectors_get_no_postings() {
        let dense = vec![0.5f32; 4 * 8];
        assert!(Postings::build(&dense, 4).is_none());
        assert!(Postings::build(&[], 4).is_none());
    }

    /// A small deterministic generator for the property tests.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state >> 16
        }
    }

    #[test]
    fn scores_equal_the_dense_dot_bit_for_bit() {
        // 300 rows of 64 dimensions, a few non-zero entries each.
        let dim = 64;
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut row = |n: usize| {
            let mut v = vec![0.0f32; dim];
            for _ in 0..n {
                let d = (next() % dim as u64) as usize;
                v[d] += (next() % 1000) as f32 / 300.0 - 1.7;
            }
            v
        };
        let vectors: Vec<f32> = (0..300).flat_map(|_| row(5)).collect();
        let p = Postings::build(&vectors, dim).expect("sparse");
        for _ in 0..20 {
            let q = row(9);
            let got = p.scores(&q);
            for (r, v) in vectors.chunks_exact(dim).enumerate() {
                let want = super::super::index::dot(&q, v);
                assert_eq!(got[r].to_bits(), want.to_bits(), "row {r}");
            }
        }
        // Not a whole number of lanes: no postings (the scan handles it).
        assert!(Postings::build(&vectors[..60 * 5], 60).is_none());
    }

    #[test]
    fn candidates_hold_every_row_of_the_exact_top_k() {
        // 3,000 unit rows of 64 dimensions with few distinct values, so exact
        // ties and near-ties at the k-th score occur.
        let dim = 64;
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut row = |n: usize| {
            let mut v = vec![0.0f32; dim];
            for _ in 0..n {
                let d = (next() % dim as u64) as usize;
                v[d] += (next() % 5) as f32 * 0.3 - 0.6;
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm.max(1e-9));
            v
        };
        let vectors: Vec<f32> = (0..3_000).flat_map(|_| row(6)).collect();
        let p = Postings::build(&vectors, dim).expect("sparse");
        let mut checked = 0;
        for _ in 0..30 {
            let q = row(12);
            let exact = p.scores(&q);
            let mut order: Vec<usize> = (0..exact.len()).collect();
            order.sort_by(|&a, &b| exact[b].total_cmp(&exact[a]).then(a.cmp(&b)));
            for k in [1, 5, 50] {
                let Some(rows) = p.candidates(&q, k) else {
                    continue;
                };
                checked += 1;
                assert!(rows.len() >= k && rows.windows(2).all(|w| w[0] < w[1]));
                for &r in &order[..k] {
                    assert!(rows.contains(&(r as u32)), "row {r}, k {k}");
                }
            }
        }
        assert!(checked > 50, "{checked}");
        // A query that touches nothing ties every row: too many to rescore.
        assert_eq!(p.candidates(&vec![0.0; dim], 5), None);
        let mut bad = row(3);
        bad[0] = f32::INFINITY;
        assert_eq!(p.candidates(&bad, 5), None);
    }

    #[test]
    fn the_kth_largest_counts_duplicates() {
        assert_eq!(kth_largest(&[0.5, 0.9, 0.9, 0.1], 2), 0.9);
        assert_eq!(kth_largest(&[0.5, 0.9, 0.9, 0.1], 3), 0.5);
        assert_eq!(kth_largest(&[0.5], 2), f32::NEG_INFINITY);
        assert_eq!(kth_largest(&[0.5], 0), f32::NEG_INFINITY);
    }
}
