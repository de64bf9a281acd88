//! The detector interface shared by DASVDD and every baseline: fit on normal samples, score new
//! samples (higher = more anomalous), save to and load from one safetensors file.

use std::path::Path;

use candle_core::Device;

use crate::error::{CoreError, Result};

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

    /// `(models, rows, cols)`: for each model `m`, the rows `idx[m]` of its samples `views[m]`
    /// (all with the same number of columns and of rows taken), the batches of a stack of
    /// models trained at once.
    pub fn gather_stacked(
        views: &[SampleView<'_>],
        idx: &[&[usize]],
        device: &Device,
    ) -> Result<candle_core::Tensor> {
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
        let mut buf = Vec::with_capacity(views.len() * rows * cols);
        for (x, idx) in views.iter().zip(idx) {
            for &i in *idx {
                buf.extend_from_slice(x.row(i));
            }
        }
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

/// A fitted anomaly detector.
pub trait Detector: Send + Sync {
    /// Short method name as used on the command line (`dasvdd`, `ocsvm`, ...).
    fn method(&self) -> &'static str;

    /// Number of input features the detector was fitted on.
    fn n_features(&self) -> usize;

    /// One anomaly score per sample, higher = more anomalous.
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>>;

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
}
