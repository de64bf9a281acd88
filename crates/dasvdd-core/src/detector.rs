//! The detector interface shared by DASVDD and every baseline: fit on normal samples, score new
//! samples (higher = more anomalous), save to and load from one safetensors file.

use std::path::Path;

use candle_core::Device;

use crate::error::{CoreError, Result};

/// Batches of at least this many values are gathered by the pool's threads side by side
/// ([`SampleView::gather_stacked`]): 256 KiB, a third of the Fashion-MNIST batch.
const GATHER_PARALLEL_VALUES: usize = 1 << 16;

/// Rows per task of a gather split over threads.
const GATHER_BLOCK_ROWS: usize = 16;

/// The most bytes of training sets that [`StackSamples`] keeps on a GPU to take batches from
/// there: 4 GiB (a hundred Fashion-MNIST models' training sets are 1.9 GB).
pub const DEVICE_RESIDENT_BYTES: usize = 4 << 30;

/// A borrowed row-major `rows x cols` matrix of `f32` samples whose values are all finite.
#[derive(Debug, Clone, Copy)]
pub struct SampleView<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> SampleView<'a> {
    /// Checks that `data` holds `rows * cols` finite values.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        if cols == 0 {
            return Err(CoreError::InvalidInput("samples have no features".into()));
        }
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(CoreError::InvalidInput(format!(
                "{} values do not form a {rows} x {cols} matrix",
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::InvalidInput(format!(
                "value at row {}, column {} is {}",
                i / cols,
                i % cols,
                data[i]
            )));
        }
        Ok(SampleView { data, rows, cols })
    }

    /// The values, row after row.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of features.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Sample `i`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `start..end` as a view.
    pub fn slice_rows(&self, start: usize, end: usize) -> SampleView<'a> {
        SampleView {
            data: &self.data[start * self.cols..end * self.cols],
            rows: end - start,
            cols: self.cols,
        }
    }

    /// The rows as one `(rows, cols)` tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Result<candle_core::Tensor> {
        Ok(candle_core::Tensor::from_slice(
            self.data,
            (self.rows, self.cols),
            device,
        )?)
    }

    /// Rows `idx` (in that order, repeats allowed) gathered into a `(idx.len(), cols)` tensor
    /// on `device`: a training batch.
    pub fn gather(&self, idx: &[usize], device: &Device) -> Result<candle_core::Tensor> {
        Ok(Self::gather_stacked(&[*self], &[idx], device)?.squeeze(0)?)
    }

    /// Checks a stacked batch's row lists against the models' samples: one list per model, all
    /// of one length, samples of one width, every row there. Returns the rows taken per model
    /// and the width.
    fn check_stacked_batch(views: &[SampleView<'_>], idx: &[&[usize]]) -> Result<(usize, usize)> {
        let rows = idx.first().map_or(0, |i| i.len());
        let cols = views.first().map_or(0, |x| x.cols);
        if views.len() != idx.len()
            || views.iter().any(|v| v.cols != cols)
            || idx.iter().any(|i| i.len() != rows)
        {
            return Err(CoreError::InvalidInput(
                "a stacked batch needs one row list per model, all of one length, and samples of one width".into(),
            ));
        }
        for (m, (x, idx)) in views.iter().zip(idx).enumerate() {
            if let Some(&i) = idx.iter().find(|&&i| i >= x.rows) {
                return Err(CoreError::InvalidInput(format!(
                    "row {i} asked of model {m}'s {} samples",
                    x.rows
                )));
            }
        }
        Ok((rows, cols))
    }

    /// `(models, rows, cols)`: for each model `m`, the rows `idx[m]` of its samples `views[m]`
    /// (all with the same number of columns and of rows taken), the batches of a stack of
    /// models trained at once.
    pub fn gather_stacked(
        views: &[SampleView<'_>],
        idx: &[&[usize]],
        device: &Device,
    ) -> Result<candle_core::Tensor> {
        let (rows, cols) = Self::check_stacked_batch(views, idx)?;
        let all_rows = views.len() * rows;
        let total = all_rows * cols;
        let mut buf: Vec<f32> = Vec::with_capacity(total);
        let out = crate::kernels::SharedMut(buf.as_mut_ptr());
        // Row r of the stack is row idx[m][r % rows] of model m = r / rows.
        let copy_rows = |first: usize, end: usize| {
            for r in first..end {
                let src = views[r / rows].row(idx[r / rows][r % rows]);
                // SAFETY: the buffer has room for all_rows * cols values and row r's cols
                // values start at r * cols; tasks copy disjoint rows.
                unsafe {
                    std::ptr::copy_nonoverlapping(src.as_ptr(), out.get().add(r * cols), cols)
                };
            }
        };
        // A training batch of the larger networks is megabytes read from rows scattered over
        // the training set: inside the thread pool (the training step) the threads copy
        // blocks of rows side by side. Smaller batches, and callers outside the pool, copy on
        // the calling thread.
        if total >= GATHER_PARALLEL_VALUES && rayon::current_thread_index().is_some() {
            let tasks = all_rows.div_ceil(GATHER_BLOCK_ROWS);
            crate::kernels::pool::run_tasks(tasks, &|t| {
                let first = t * GATHER_BLOCK_ROWS;
                copy_rows(first, (first + GATHER_BLOCK_ROWS).min(all_rows));
            });
        } else {
            copy_rows(0, all_rows);
        }
        // SAFETY: every row 0..all_rows was written above (a task that panics takes the
        // whole call down before this line).
        unsafe { buf.set_len(total) };
        Ok(candle_core::Tensor::from_vec(
            buf,
            (views.len(), rows, cols),
            device,
        )?)
    }

    /// Consecutive views of at most `rows` rows each, covering every row once: how scoring
    /// walks large inputs without one huge activation matrix.
    pub fn chunks(&self, rows: usize) -> impl Iterator<Item = SampleView<'a>> + '_ {
        let step = rows.max(1);
        (0..self.rows)
            .step_by(step)
            .map(move |start| self.slice_rows(start, (start + step).min(self.rows)))
    }

    /// Errors unless the samples have `expected` features.
    pub fn expect_cols(&self, expected: usize) -> Result<()> {
        if self.cols != expected {
            return Err(CoreError::InvalidInput(format!(
                "samples have {} features but the model expects {expected}",
                self.cols
            )));
        }
        Ok(())
    }
}

/// One term of a score that is a weighted sum (see [`Detector::score_terms`]): the score is
/// the sum over the terms of `weight * values[i]`, added in the terms' order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreTerm {
    /// The term's name, as a column header (`reconstruction`, `svdd`).
    pub name: &'static str,
    /// Its weight in the score.
    pub weight: f64,
    /// One value per sample, unweighted.
    pub values: Vec<f64>,
}

impl ScoreTerm {
    /// The score the terms make up: for each sample, the sum over the terms of
    /// `weight * values[i]`, added in the terms' order from 0.
    pub fn sum(terms: &[ScoreTerm]) -> Vec<f64> {
        let rows = terms.first().map_or(0, |t| t.values.len());
        (0..rows)
            .map(|i| terms.iter().fold(0.0, |s, t| s + t.weight * t.values[i]))
            .collect()
    }
}

/// A fitted anomaly detector.
pub trait Detector: Send + Sync {
    /// Short method name as used on the command line (`dasvdd`, `ocsvm`, ...).
    fn method(&self) -> &'static str;

    /// Number of input features the detector was fitted on.
    fn n_features(&self) -> usize;

    /// One anomaly score per sample, higher = more anomalous.
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>>;

    /// The names of the score's terms, for methods whose score is a weighted sum of several
    /// (see [`Detector::score_terms`]); empty for methods whose score is one term.
    fn score_term_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// The terms of the score, for methods whose score is a weighted sum of several (DASVDD's
    /// eq. 7: the reconstruction error, and ||z - c||^2 weighted by gamma), in the order the
    /// score adds them; `None` for methods whose score is one term.
    fn score_terms(&self, x: SampleView<'_>) -> Result<Option<Vec<ScoreTerm>>> {
        let _ = x;
        Ok(None)
    }

    /// The scores of the samples the detector was fitted on, for a decision threshold that
    /// should flag a given fraction of new normal samples (`dasvdd train --contamination`).
    /// By default [`Detector::score`]; a method whose score of a training sample counts the
    /// sample itself (a kernel density estimate's own kernel) scores each one without it.
    fn training_scores(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        self.score(x)
    }

    /// Writes the detector to one safetensors file, atomically.
    fn save(&self, path: &Path) -> Result<()>;
}

/// The progress of a neural method after one epoch, as [`DetectorParams::fit_observed`]
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochProgress {
    /// `train`, or `pretrain` for Deep SVDD's autoencoder pre-training.
    pub phase: &'static str,
    /// 1-based epoch of the phase.
    pub epoch: usize,
    /// Epochs of the phase.
    pub epochs: usize,
    /// The epoch's mean training loss.
    pub loss: f64,
}

/// Hyperparameters of a detector that can be fitted on normal samples.
pub trait DetectorParams {
    /// Fits on normal samples only; `device` is used by neural detectors and ignored by others.
    fn fit_detector(&self, x: SampleView<'_>, device: &Device) -> Result<Box<dyn Detector>>;

    /// [`DetectorParams::fit_detector`] with an observer called after every epoch of the
    /// neural methods; when it returns [`std::ops::ControlFlow::Break`], training stops with
    /// [`CoreError::Interrupted`]. Methods without epochs fit in one go and never call it.
    fn fit_observed(
        &self,
        x: SampleView<'_>,
        device: &Device,
        observer: &mut dyn FnMut(&EpochProgress) -> std::ops::ControlFlow<()>,
    ) -> Result<Box<dyn Detector>> {
        let _ = observer;
        self.fit_detector(x, device)
    }

    /// [`DetectorParams::fit_observed`] that also asks `keep_going` where a method can stop
    /// between its epochs' callbacks: DASVDD before each trial of its gamma heuristic, which
    /// runs before the first epoch. [`std::ops::ControlFlow::Break`] stops with
    /// [`CoreError::Interrupted`]. The other methods have no such points and never call it.
    fn fit_observed_polled(
        &self,
        x: SampleView<'_>,
        device: &Device,
        observer: &mut dyn FnMut(&EpochProgress) -> std::ops::ControlFlow<()>,
        keep_going: &mut dyn FnMut() -> std::ops::ControlFlow<()>,
    ) -> Result<Box<dyn Detector>> {
        let _ = keep_going;
        self.fit_observed(x, device, observer)
    }
}

/// Where the training batches of a stack of models come from. On the CPU, each batch is
/// gathered from the training sets' rows ([`SampleView::gather_stacked`]). On a GPU, copying
/// every batch from the host would cost more than the step itself for large stacks (a hundred
/// Fashion-MNIST models' batches are 56 MB per step), so the training sets are copied to the
/// device once, as one `(models * rows, cols)` tensor, and each batch is taken from it there
/// with `index_select`: the same rows in the same order, so the same values.
#[derive(Debug)]
pub struct StackSamples<'v, 'a> {
    views: &'v [SampleView<'a>],
    device: Device,
    /// The training sets on the device, model after model, and the rows of each.
    resident: Option<(candle_core::Tensor, usize)>,
}

impl<'v, 'a> StackSamples<'v, 'a> {
    /// Batches of `views` on `device`: kept on the device when it is not the CPU and the
    /// training sets (all of one shape) fit in [`DEVICE_RESIDENT_BYTES`].
    pub fn new(views: &'v [SampleView<'a>], device: &Device) -> Result<Self> {
        let bytes: usize = views.iter().map(|v| v.data.len() * 4).sum();
        let resident = !device.is_cpu() && bytes <= DEVICE_RESIDENT_BYTES;
        Self::with_residence(views, device, resident)
    }

    /// As [`StackSamples::new`], with the choice made by the caller: `resident` keeps the
    /// training sets on `device` (any device, the CPU too, which tests the GPU's way there).
    pub fn with_residence(
        views: &'v [SampleView<'a>],
        device: &Device,
        resident: bool,
    ) -> Result<Self> {
        let rows = views.first().map_or(0, |v| v.rows);
        let same_shape = views
            .iter()
            .all(|v| v.rows == rows && v.cols == views[0].cols);
        // The row numbers of the resident tensor are u32.
        let fits = views
            .len()
            .checked_mul(rows)
            .is_some_and(|n| n <= u32::MAX as usize);
        let resident = if resident && same_shape && fits && !views.is_empty() {
            let all: Vec<f32> = views.iter().flat_map(|v| v.data.iter().copied()).collect();
            let t =
                candle_core::Tensor::from_vec(all, (views.len() * rows, views[0].cols), device)?;
            Some((t, rows))
        } else {
            None
        };
        Ok(StackSamples {
            views,
            device: device.clone(),
            resident,
        })
    }

    /// Whether the batches are taken on the device from resident training sets.
    pub fn is_resident(&self) -> bool {
        self.resident.is_some()
    }

    /// `(models, rows, cols)`: for each model `m`, its rows `idx[m]`, as
    /// [`SampleView::gather_stacked`] gives them.
    pub fn gather(&self, idx: &[&[usize]]) -> Result<candle_core::Tensor> {
        let Some((all, rows)) = &self.resident else {
            return SampleView::gather_stacked(self.views, idx, &self.device);
        };
        let (taken, cols) = SampleView::check_stacked_batch(self.views, idx)?;
        // Each below models * rows, which was checked to fit in u32.
        let ids: Vec<u32> = idx
            .iter()
            .enumerate()
            .flat_map(|(m, idx)| idx.iter().map(move |&i| (m * rows + i) as u32))
            .collect();
        let ids = candle_core::Tensor::from_vec(ids, idx.len() * taken, &self.device)?;
        Ok(all
            .index_select(&ids, 0)?
            .reshape((idx.len(), taken, cols))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_row_once_and_gather_keeps_the_order() {
        let data: Vec<f32> = (0..7 * 2).map(|v| v as f32).collect();
        let x = SampleView::new(&data, 7, 2).unwrap();
        let sizes: Vec<usize> = x.chunks(3).map(|c| c.rows()).collect();
        assert_eq!(sizes, [3, 3, 1]);
        let joined: Vec<f32> = x.chunks(3).flat_map(|c| c.data().to_vec()).collect();
        assert_eq!(joined, data);
        assert_eq!(x.chunks(100).count(), 1);
        let g = x.gather(&[4, 0, 4], &Device::Cpu).unwrap();
        assert_eq!(g.dims(), &[3, 2]);
        let g = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(g, [8., 9., 0., 1., 8., 9.]);
        let t = x.slice_rows(1, 3).to_tensor(&Device::Cpu).unwrap();
        assert_eq!(
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [2., 3., 4., 5.]
        );
    }

    #[test]
    fn batches_taken_from_resident_training_sets_are_the_rows_gathered_on_the_host() {
        let (rows, cols) = (50, 7);
        let a: Vec<f32> = (0..rows * cols).map(|v| v as f32 * 0.5).collect();
        let b: Vec<f32> = a.iter().map(|v| 1.0 - v).collect();
        let c: Vec<f32> = a.iter().map(|v| v * v).collect();
        let views = [
            SampleView::new(&a, rows, cols).unwrap(),
            SampleView::new(&b, rows, cols).unwrap(),
            SampleView::new(&c, rows, cols).unwrap(),
        ];
        let resident = StackSamples::with_residence(&views, &Device::Cpu, true).unwrap();
        assert!(resident.is_resident());
        // On the CPU, `new` gathers on the host.
        assert!(!StackSamples::new(&views, &Device::Cpu)
            .unwrap()
            .is_resident());
        let ia: Vec<usize> = (0..20).map(|i| (i * 7) % rows).collect();
        let ib: Vec<usize> = (0..20).map(|i| rows - 1 - i).collect();
        let ic: Vec<usize> = vec![3; 20];
        let idx: [&[usize]; 3] = [&ia, &ib, &ic];
        let got = resident.gather(&idx).unwrap();
        let host = SampleView::gather_stacked(&views, &idx, &Device::Cpu).unwrap();
        assert_eq!(got.dims(), &[3, 20, cols]);
        assert_eq!(
            got.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            host.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        // A row past a model's samples, or a ragged batch, is an error, not another model's row.
        let past: Vec<usize> = vec![rows; 20];
        let err = resident.gather(&[&ia, &past, &ic]).unwrap_err().to_string();
        assert!(err.contains("row 50 asked of model 1"), "{err}");
        assert!(resident.gather(&[&ia, &ib[..3], &ic]).is_err());
        assert!(resident.gather(&[&ia, &ib]).is_err());
    }

    #[test]
    fn a_large_stacked_batch_gathered_by_the_pools_threads_is_the_rows_asked_for() {
        // Two models of 300 samples x 400 features; 180 rows each is above the size that the
        // threads gather side by side.
        let (rows, cols) = (300, 400);
        let a: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let b: Vec<f32> = a.iter().map(|v| -v).collect();
        let views = [
            SampleView::new(&a, rows, cols).unwrap(),
            SampleView::new(&b, rows, cols).unwrap(),
        ];
        let ia: Vec<usize> = (0..180).map(|i| (i * 7) % rows).collect();
        let ib: Vec<usize> = (0..180).map(|i| rows - 1 - i).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let got = pool
            .install(|| {
                crate::kernels::pool::busy_workers(|| {
                    SampleView::gather_stacked(&views, &[&ia, &ib], &Device::Cpu)
                })
            })
            .unwrap();
        assert_eq!(got.dims(), &[2, 180, cols]);
        let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let expected: Vec<f32> = ia
            .iter()
            .map(|&i| views[0].row(i))
            .chain(ib.iter().map(|&i| views[1].row(i)))
            .flatten()
            .copied()
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn gathering_a_row_that_is_not_there_is_an_error() {
        let data = [1f32, 2., 3., 4.];
        let x = SampleView::new(&data, 2, 2).unwrap();
        let err = x.gather(&[0, 2], &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("row 2") && err.contains("2 samples"), "{err}");
    }
}
