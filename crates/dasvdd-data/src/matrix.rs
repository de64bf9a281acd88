//! A dense row-major `f32` matrix, the currency between loaders, preprocessing and detectors.

/// Row-major samples x features matrix of `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// `rows * cols` values, row after row.
    pub data: Vec<f32>,
    /// Number of rows (samples).
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
}

impl Matrix {
    /// Wraps `data` as a `rows x cols` matrix; `None` when the length does not match.
    pub fn new(data: Vec<f32>, rows: usize, cols: usize) -> Option<Self> {
        (rows.checked_mul(cols)? == data.len()).then_some(Matrix { data, rows, cols })
    }

    /// An empty matrix with `cols` columns.
    pub fn empty(cols: usize) -> Self {
        Matrix {
            data: Vec::new(),
            rows: 0,
            cols,
        }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over the rows.
    pub fn row_iter(&self) -> impl Iterator<Item = &[f32]> + '_ {
        self.data.chunks_exact(self.cols.max(1)).take(self.rows)
    }

    /// A new matrix with the rows at `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            data,
            rows: indices.len(),
            cols: self.cols,
        }
    }

    /// Appends a row; the caller guarantees its length is `cols`.
    pub fn push_row(&mut self, row: &[f32]) {
        debug_assert_eq!(row.len(), self.cols);
        self.data.extend_from_slice(row);
        self.rows += 1;
    }
}

/// Samples with a binary label each (0 = normal, 1 = anomaly) and, for data whose unit of
/// evaluation is a group of rows (the frames of one MIMII clip), a group id per row.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledData {
    /// The samples, one per row.
    pub x: Matrix,
    /// One label per row: 0 = normal, 1 = anomaly.
    pub y: Vec<u8>,
    /// Optional group id per row; rows with the same id are scored together (mean score).
    pub groups: Option<Vec<u32>>,
}
