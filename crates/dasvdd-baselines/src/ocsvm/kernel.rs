//! The RBF kernel matrix `Q_ij = exp(-gamma |x_i - x_j|^2)` as the SMO solver sees it: columns
//! served from a least-recently-used cache of columns, in libsvm's manner (`Cache` and
//! `ONE_CLASS_Q` in `svm.cpp`), including the index swaps that shrinking performs.
//!
//! A column holds the entries for the first `len` positions of the solver's current order; a
//! request for a longer column computes only the missing tail. When the cache can hold the whole
//! matrix it is filled up front with blocked matrix products, which is much faster than
//! computing columns one by one; the solver's work is the same either way.

use rayon::prelude::*;

use crate::common::dot_products;

/// Rows of the kernel matrix computed per matrix product while filling the cache up front.
const FILL_BLOCK: usize = 256;

/// Columns whose missing part needs more multiply-adds than this are computed in parallel.
const PARALLEL_WORK: usize = 1 << 16;

/// A least-recently-used cache of kernel-matrix columns with a budget in matrix entries.
struct ColumnCache {
    /// Column of each position; its length is how many leading entries are cached (0 = none).
    columns: Vec<Vec<f64>>,
    /// Doubly linked LRU list over cached positions; index `l` is the sentinel, the least
    /// recently used column follows it.
    prev: Vec<usize>,
    next: Vec<usize>,
    /// Entries that may still be cached.
    free: usize,
}

impl ColumnCache {
    fn new(l: usize, budget_entries: usize) -> Self {
        let sentinel = l;
        ColumnCache {
            columns: vec![Vec::new(); l],
            prev: vec![sentinel; l + 1],
            next: vec![sentinel; l + 1],
            // Two full columns must always fit (libsvm's minimum), so that the two columns of a
            // working pair are never evicted by each other.
            free: budget_entries.max(2 * l),
        }
    }

    fn sentinel(&self) -> usize {
        self.columns.len()
    }

    fn lru_delete(&mut self, h: usize) {
        let (p, n) = (self.prev[h], self.next[h]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn lru_insert(&mut self, h: usize) {
        let s = self.sentinel();
        let last = self.prev[s];
        self.next[h] = s;
        self.prev[h] = last;
        self.next[last] = h;
        self.prev[s] = h;
    }

    fn evict(&mut self, h: usize) {
        self.lru_delete(h);
        self.free += self.columns[h].len();
        self.columns[h] = Vec::new();
    }

    /// Makes column `index` at least `len` long, evicting least recently used columns as needed,
    /// and marks it most recently used. Returns the position from which entries must be computed
    /// (`len` when the column was already long enough).
    fn request(&mut self, index: usize, len: usize) -> usize {
        let have = self.columns[index].len();
        if have > 0 {
            self.lru_delete(index);
        }
        let start = if len > have {
            let more = len - have;
            while self.free < more {
                let old = self.next[self.sentinel()];
                if old == self.sentinel() {
                    break;
                }
                self.evict(old);
            }
            self.columns[index].resize(len, 0.0);
            self.free = self.free.saturating_sub(more);
            have
        } else {
            len
        };
        self.lru_insert(index);
        start
    }

    /// Swaps positions `i` and `j`: their columns, and their entries in every cached column
    /// (a column that holds `i` but not `j` is dropped, as libsvm does).
    fn swap_index(&mut self, i: usize, j: usize) {
        if i == j {
            return;
        }
        let cached_i = !self.columns[i].is_empty();
        let cached_j = !self.columns[j].is_empty();
        if cached_i {
            self.lru_delete(i);
        }
        if cached_j {
            self.lru_delete(j);
        }
        self.columns.swap(i, j);
        if cached_j {
            self.lru_insert(i);
        }
        if cached_i {
            self.lru_insert(j);
        }
        let (lo, hi) = if i < j { (i, j) } else { (j, i) };
        let s = self.sentinel();
        let mut h = self.next[s];
        while h != s {
            let following = self.next[h];
            let len = self.columns[h].len();
            if len > lo {
                if len > hi {
                    self.columns[h].swap(lo, hi);
                } else {
                    self.evict(h);
                }
            }
            h = following;
        }
    }
}

/// Dot product with independent partial sums, which the compiler turns into SIMD code.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// The one-class SVM's `Q` matrix (the RBF kernel matrix, since every label is +1).
pub(crate) struct KernelMatrix<'a> {
    x: &'a [f64],
    cols: usize,
    norms: &'a [f64],
    gamma: f64,
    /// Sample at each solver position (positions are permuted by shrinking).
    perm: Vec<usize>,
    cache: ColumnCache,
}

impl<'a> KernelMatrix<'a> {
    /// The kernel matrix of the rows of `x` (`cols` columns, squared norms `norms`) with a cache
    /// of at most `budget_entries` values (at least two columns).
    pub(crate) fn new(
        x: &'a [f64],
        cols: usize,
        norms: &'a [f64],
        gamma: f64,
        budget_entries: usize,
    ) -> Self {
        let l = norms.len();
        let mut q = KernelMatrix {
            x,
            cols,
            norms,
            gamma,
            perm: (0..l).collect(),
            cache: ColumnCache::new(l, budget_entries),
        };
        if l.checked_mul(l).is_some_and(|full| full <= q.cache.free) {
            q.fill_all();
        }
        q
    }

    /// Number of samples.
    pub(crate) fn len(&self) -> usize {
        self.perm.len()
    }

    /// Whether every column is cached in full.
    pub(crate) fn is_fully_cached(&self) -> bool {
        self.cache.columns.iter().all(|c| c.len() == self.len())
    }

    /// Computes the whole matrix, block of rows by block of rows (the matrix is symmetric, so
    /// row `i` is column `i`).
    fn fill_all(&mut self) {
        let (l, cols, gamma) = (self.len(), self.cols, self.gamma);
        let mut dots = vec![0.0; FILL_BLOCK.min(l) * l];
        for b0 in (0..l).step_by(FILL_BLOCK) {
            let b1 = (b0 + FILL_BLOCK).min(l);
            let dots = &mut dots[..(b1 - b0) * l];
            dot_products(&self.x[b0 * cols..b1 * cols], self.x, cols, dots);
            let norms = self.norms;
            let block: Vec<Vec<f64>> = dots
                .par_chunks(l)
                .enumerate()
                .map(|(r, row)| {
                    let ni = norms[b0 + r];
                    row.iter()
                        .zip(norms)
                        .map(|(d, nj)| (-gamma * (ni + nj - 2.0 * d)).exp())
                        .collect()
                })
                .collect();
            for (r, column) in block.into_iter().enumerate() {
                let i = b0 + r;
                self.cache.request(i, 0);
                self.cache.columns[i] = column;
                self.cache.free -= l;
            }
        }
    }

    /// Fills entries `start..end` of column `i` (positions in solver order).
    fn compute(&mut self, i: usize, start: usize, end: usize) {
        let (x, cols, norms, gamma) = (self.x, self.cols, self.norms, self.gamma);
        let si = self.perm[i];
        let xi = &x[si * cols..(si + 1) * cols];
        let perm = &self.perm[start..end];
        let out = &mut self.cache.columns[i][start..end];
        let kernel = |(o, &sj): (&mut f64, &usize)| {
            let d = dot(xi, &x[sj * cols..(sj + 1) * cols]);
            *o = (-gamma * (norms[si] + norms[sj] - 2.0 * d)).exp();
        };
        if (end - start) * cols >= PARALLEL_WORK {
            out.par_iter_mut()
                .zip(perm.par_iter())
                .with_min_len(64)
                .for_each(kernel);
        } else {
            out.iter_mut().zip(perm).for_each(kernel);
        }
    }

    fn ensure(&mut self, i: usize, len: usize) {
        let start = self.cache.request(i, len);
        if start < len {
            self.compute(i, start, len);
        }
    }

    /// The first `len` entries of column `i`.
    pub(crate) fn column(&mut self, i: usize, len: usize) -> &[f64] {
        self.ensure(i, len);
        &self.cache.columns[i][..len]
    }

    /// The first `len` entries of columns `i` and `j`, both cached at once (the cache always
    /// holds two full columns, and `i` is the most recently used when `j` is requested).
    pub(crate) fn column_pair(&mut self, i: usize, j: usize, len: usize) -> (&[f64], &[f64]) {
        self.ensure(i, len);
        self.ensure(j, len);
        if self.cache.columns[i].len() < len {
            // Unreachable with the two-column minimum; recompute rather than fail.
            self.ensure(i, len);
        }
        (&self.cache.columns[i][..len], &self.cache.columns[j][..len])
    }

    /// Swaps solver positions `i` and `j`.
    pub(crate) fn swap_index(&mut self, i: usize, j: usize) {
        self.cache.swap_index(i, j);
        self.perm.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<f64>, Vec<f64>, usize) {
        let cols = 5;
        let x: Vec<f64> = (0..40 * cols)
            .map(|k| ((k * 37 % 23) as f64 * 0.1).sin())
            .collect();
        let norms = crate::common::squared_norms(&x, cols);
        (x, norms, cols)
    }

    fn exact(x: &[f64], cols: usize, gamma: f64, a: usize, b: usize) -> f64 {
        let d: f64 = (0..cols)
            .map(|k| (x[a * cols + k] - x[b * cols + k]).powi(2))
            .sum();
        (-gamma * d).exp()
    }

    #[test]
    fn small_cache_and_full_cache_serve_the_same_columns_through_swaps() {
        let (x, norms, cols) = data();
        let l = norms.len();
        let mut small = KernelMatrix::new(&x, cols, &norms, 0.3, 2 * l + 7);
        let mut full = KernelMatrix::new(&x, cols, &norms, 0.3, l * l);
        assert!(!small.is_fully_cached());
        assert!(full.is_fully_cached());
        let swaps = [(0, 39), (3, 17), (17, 20), (5, 5), (1, 38)];
        for (step, &(a, b)) in swaps.iter().enumerate() {
            for i in [0, 3, 17, 38, 21, step] {
                let len = 10 + 7 * step;
                let s = small.column(i, len).to_vec();
                let f = full.column(i, len).to_vec();
                for (p, (u, v)) in s.iter().zip(&f).enumerate() {
                    let e = exact(&x, cols, 0.3, small.perm[i], small.perm[p]);
                    assert!((u - e).abs() < 1e-12 && (v - e).abs() < 1e-12);
                }
            }
            small.swap_index(a, b);
            full.swap_index(a, b);
        }
        assert_eq!(small.perm, full.perm);
    }
}
