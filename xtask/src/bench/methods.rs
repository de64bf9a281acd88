//! Fitting and scoring one method of the matrix on one split.
//!
//! DASVDD and its variants train through `dasvdd_core::fit` so that the epoch history is kept
//! for the figures. The AE baseline is the same network and trainer with gamma = 0 and no
//! centre steps: every sample of a batch trains the network on the reconstruction error alone,
//! and the score is the reconstruction error (Section 4.2). The classical baselines come from
//! `dasvdd-baselines`.

use std::time::Instant;

use anyhow::{bail, Result};
use candle_core::Device;
use dasvdd_core::{CenterMode, DasvddConfig, DetectorParams, EpochRecord, GammaChoice, SampleView};

use super::config::BenchConfig;
use super::matrix::{Method, MethodSpec, Variant};

/// Why a method cannot run in this build, if it cannot.
pub fn unavailable(method: Method) -> Option<&'static str> {
    match method {
        Method::Deepsvdd => Some("Deep SVDD is not yet implemented in dasvdd-baselines"),
        _ => None,
    }
}

/// What fitting and scoring one method gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One score per test row, higher = more anomalous.
    pub scores: Vec<f64>,
    pub gamma: Option<f64>,
    pub epochs: Option<usize>,
    pub history: Vec<EpochRecord>,
    pub fit_seconds: f64,
    pub score_seconds: f64,
}

/// The DASVDD config of `spec` (DASVDD, a variant of it, or the AE baseline) on `dataset`.
pub fn dasvdd_config(
    cfg: &BenchConfig,
    dataset: &str,
    spec: &MethodSpec,
    input_dim: usize,
    seed: u64,
    epochs: Option<usize>,
) -> Result<DasvddConfig> {
    let mut c = cfg.dataset(dataset).dasvdd_config(input_dim)?;
    c.train.seed = seed;
    if let Some(e) = epochs {
        c.train.epochs = e;
    }
    if spec.method == Method::Ae {
        c.train.gamma = GammaChoice::Fixed(0.0);
        c.train.center = CenterMode::FixedMeanCode;
    }
    match spec.variant {
        None => {}
        Some(Variant::Gamma(g)) => c.train.gamma = GammaChoice::Fixed(g),
        Some(Variant::Kappa(k)) => c.train.kappa = k,
        Some(Variant::Latent(l)) => c.model.latent = l,
        Some(Variant::Trials(t)) => c.train.gamma = GammaChoice::Heuristic { trials: t },
        Some(Variant::FixedCenter) => c.train.center = CenterMode::FixedMeanCode,
    }
    c.validate()?;
    Ok(c)
}

/// Fits `spec` on `train` and scores `test`; `on_epoch` sees every epoch of neural methods.
#[allow(clippy::too_many_arguments)]
pub fn fit_and_score(
    cfg: &BenchConfig,
    dataset: &str,
    spec: &MethodSpec,
    seed: u64,
    epochs: Option<usize>,
    train: SampleView<'_>,
    test: SampleView<'_>,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<Outcome> {
    if let Some(why) = unavailable(spec.method) {
        bail!("{spec}: {why}");
    }
    match spec.method {
        Method::Dasvdd | Method::Ae => {
            let c = dasvdd_config(cfg, dataset, spec, train.cols(), seed, epochs)?;
            let started = Instant::now();
            let model = dasvdd_core::fit(&c, train, device, on_epoch)?;
            let fit_seconds = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let scores = score_in_chunks(&model, test)?;
            Ok(Outcome {
                scores,
                gamma: (spec.method == Method::Dasvdd).then_some(model.gamma),
                epochs: Some(c.train.epochs),
                history: model.history.clone(),
                fit_seconds,
                score_seconds: started.elapsed().as_secs_f64(),
            })
        }
        Method::Ocsvm | Method::Kde | Method::Iforest => {
            let params: Box<dyn DetectorParams> = match spec.method {
                Method::Ocsvm => Box::new(cfg.methods.ocsvm.clone()),
                Method::Kde => Box::new(cfg.methods.kde.params()),
                _ => Box::new(cfg.methods.iforest.params(seed)),
            };
            let started = Instant::now();
            let detector = params.fit_detector(train, device)?;
            let fit_seconds = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let scores = score_in_chunks(detector.as_ref(), test)?;
            Ok(Outcome {
                scores,
                gamma: None,
                epochs: None,
                history: Vec::new(),
                fit_seconds,
                score_seconds: started.elapsed().as_secs_f64(),
            })
        }
        Method::Deepsvdd => bail!("{spec}: not available"),
    }
}

/// Scores in chunks of rows, so that a large test set never needs one huge activation matrix.
fn score_in_chunks(detector: &dyn dasvdd_core::Detector, x: SampleView<'_>) -> Result<Vec<f64>> {
    const CHUNK: usize = 4096;
    let mut out = Vec::with_capacity(x.rows());
    let mut start = 0;
    while start < x.rows() {
        let end = (start + CHUNK).min(x.rows());
        out.extend(detector.score(x.slice_rows(start, end))?);
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_and_the_ae_baseline_change_the_right_setting() {
        let cfg = BenchConfig::default();
        let c =
            |s: &str| dasvdd_config(&cfg, "fmnist", &s.parse().unwrap(), 784, 3, Some(7)).unwrap();
        let base = c("dasvdd");
        assert_eq!(base.train.seed, 3);
        assert_eq!(base.train.epochs, 7);
        assert_eq!(c("dasvdd:gamma=0.5").train.gamma, GammaChoice::Fixed(0.5));
        assert_eq!(c("dasvdd:kappa=0.5").train.kappa, 0.5);
        assert_eq!(c("dasvdd:latent=32").model.latent, 32);
        assert_eq!(
            c("dasvdd:t=3").train.gamma,
            GammaChoice::Heuristic { trials: 3 }
        );
        assert_eq!(
            c("dasvdd:center=fixed").train.center,
            CenterMode::FixedMeanCode
        );
        let ae = c("ae");
        assert_eq!(ae.train.gamma, GammaChoice::Fixed(0.0));
        assert_eq!(ae.model, base.model);
    }
}
