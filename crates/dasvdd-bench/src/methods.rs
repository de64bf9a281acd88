//! Fitting and scoring one method of the matrix on one split.
//!
//! DASVDD and its variants train through `dasvdd_core::fit` so that the epoch history is kept
//! for the figures. The baselines come from `dasvdd-baselines` (its registry's paper settings);
//! the AE and Deep SVDD get the dataset's DASVDD network and, for the AE, its learning rate,
//! weight decay and batch size, as the paper trains the AE like its own autoencoder.

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use dasvdd_core::config::{CenterGrad, GammaNorm, SvddTerm, Variant as TrainVariant};
use dasvdd_core::{CenterMode, DasvddConfig, EpochRecord, GammaChoice, SampleView};

use crate::config::BenchConfig;
use crate::matrix::{Method, MethodSpec, Switch, Variant};

/// What fitting and scoring one method gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One score per test row, higher = more anomalous.
    pub scores: Vec<f64>,
    /// DASVDD's gamma; `None` for the other methods.
    pub gamma: Option<f64>,
    /// Epochs trained; `None` for the classical methods.
    pub epochs: Option<usize>,
    /// DASVDD's per-epoch training history; empty for the other methods.
    pub history: Vec<EpochRecord>,
    /// Wall-clock seconds of fitting.
    pub fit_seconds: f64,
    /// Wall-clock seconds of scoring the test set.
    pub score_seconds: f64,
    /// The terms of the scores, for methods whose score is a weighted sum of several
    /// (DASVDD's reconstruction error and ||z - c||^2); empty for the others.
    pub terms: Vec<dasvdd_core::ScoreTerm>,
}

/// The DASVDD config of `spec` (DASVDD or a variant of it) on `dataset`; for the AE and Deep
/// SVDD, the DASVDD config whose network and training they share.
pub fn dasvdd_config(
    cfg: &BenchConfig,
    dataset: &str,
    spec: &MethodSpec,
    input_dim: usize,
    seed: u64,
    epochs: Option<usize>,
) -> Result<DasvddConfig> {
    let profile = match spec.variant {
        Some(Variant::Profile(v)) => Some(v),
        Some(Variant::PaperWith(_)) => Some(TrainVariant::Paper),
        _ => None,
    };
    let mut c = cfg
        .method_config(dataset)
        .dasvdd_config(input_dim, profile)?;
    c.train.seed = seed;
    if let Some(e) = epochs {
        c.train.epochs = e;
    }
    match spec.variant {
        None | Some(Variant::Profile(_)) => {}
        Some(Variant::PaperWith(Switch::FirstSample)) => c.train.svdd_term = SvddTerm::FirstSample,
        Some(Variant::PaperWith(Switch::Accumulate)) => {
            c.train.center_grad = CenterGrad::Accumulate
        }
        Some(Variant::PaperWith(Switch::FirstOfBatch)) => {
            c.train.gamma_norm = GammaNorm::FirstOfBatch
        }
        Some(Variant::PaperWith(Switch::CenterLrDecay(v))) => c.train.center_lr_decay = v,
        Some(Variant::PaperWith(Switch::WeightDecay(v))) => c.train.weight_decay = v,
        Some(Variant::Gamma(g)) => c.train.gamma = GammaChoice::Fixed(g),
        Some(Variant::Kappa(k)) => c.train.kappa = k,
        Some(Variant::Latent(l)) => c.model.latent = l,
        Some(Variant::Trials(t)) => c.train.gamma = GammaChoice::Heuristic { trials: t },
        Some(Variant::FixedCenter) => c.train.center = CenterMode::FixedMeanCode,
    }
    c.validate()?;
    Ok(c)
}

/// The preprocessing that replaces the variant's for a cell of `spec` on `dataset`: the
/// method's entry in the `[preprocessing]` table of the dataset's config file (checked when
/// the config was read), as `dasvdd train --config` reads it.
pub fn method_preprocessing(
    cfg: &BenchConfig,
    dataset: &str,
    spec: &MethodSpec,
) -> Result<Option<dasvdd_data::Preprocessing>> {
    cfg.method_config(dataset)
        .preprocessing(spec.method)
        .map(|s| s.parse().map_err(anyhow::Error::from))
        .transpose()
}

/// The variant whose data choices a cell of `spec` on `dataset` uses: the DASVDD profile's,
/// else the dataset's (the baselines share the data of `dasvdd`).
pub fn data_variant(cfg: &BenchConfig, dataset: &str, spec: &MethodSpec) -> Result<TrainVariant> {
    match spec.variant {
        Some(Variant::Profile(v)) => Ok(v),
        Some(Variant::PaperWith(_)) => Ok(TrainVariant::Paper),
        _ => cfg.variant(dataset),
    }
}

/// Fits `spec` on `train` and scores `test`; `on_epoch` sees every epoch of DASVDD. One cell of
/// [`fit_and_score_stacked`].
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
    on_epoch: &mut (dyn FnMut(&EpochRecord) + Send),
) -> Result<Outcome> {
    fit_and_score_stacked(
        cfg,
        dataset,
        spec,
        &[seed],
        epochs,
        &[train],
        &[test],
        device,
        &mut |_, r| on_epoch(r),
    )?
    .pop()
    .expect("one outcome per cell")
}

/// Whether cells of `spec` may be trained together in one pass ([`fit_and_score_stacked`]):
/// the neural methods (DASVDD and its variants, the AE, Deep SVDD), whose models of one
/// dataset differ only in seed and data. (Deep SVDD on LeNet then still fits one model after
/// the other.)
pub fn stackable(spec: &MethodSpec) -> bool {
    spec.method.is_neural()
}

/// Parameters of the network that cells of `spec` on `dataset` train on `cols` features (the
/// dataset's DASVDD network, which the AE and Deep SVDD share), for sizing their passes.
pub fn network_parameters(
    cfg: &BenchConfig,
    dataset: &str,
    spec: &MethodSpec,
    cols: usize,
) -> Result<usize> {
    let c = dasvdd_config(cfg, dataset, spec, cols, 0, None)?;
    Ok(dasvdd_core::Autoencoder::parameter_count(&c.model).unwrap_or(usize::MAX))
}

/// [`fit_and_score`] for several cells of one `spec` on `dataset` at once: model `m` has seed
/// `seeds[m]`, trains on `trains[m]` (all of one size) and scores `tests[m]`. Where the method
/// allows it the models train in one pass over a leading model axis
/// (`dasvdd_core::fit_stacked`, `dasvdd_baselines::fit_stacked`), each as it would alone;
/// each cell's `fit_seconds` is then the pass's wall time shared out equally. `on_epoch(m,
/// record)` sees every DASVDD model's epochs.
#[allow(clippy::too_many_arguments)]
pub fn fit_and_score_stacked(
    cfg: &BenchConfig,
    dataset: &str,
    spec: &MethodSpec,
    seeds: &[u64],
    epochs: Option<usize>,
    trains: &[SampleView<'_>],
    tests: &[SampleView<'_>],
    device: &Device,
    on_epoch: &mut (dyn FnMut(usize, &EpochRecord) + Send),
) -> Result<Vec<Result<Outcome>>> {
    let cols = trains.first().map_or(0, |t| t.cols());
    let started = Instant::now();
    // Each model's detector, its gamma, epochs and history.
    type Fitted = (
        Box<dyn dasvdd_core::Detector>,
        Option<f64>,
        Option<usize>,
        Vec<EpochRecord>,
    );
    let fitted: Vec<Result<Fitted>> = if spec.method == Method::Dasvdd {
        let configs = seeds
            .iter()
            .map(|&seed| dasvdd_config(cfg, dataset, spec, cols, seed, epochs))
            .collect::<Result<Vec<_>>>()?;
        dasvdd_core::fit_stacked(&configs, trains, device, &mut |m, r| {
            on_epoch(m, r);
            std::ops::ControlFlow::Continue(())
        })?
        .into_iter()
        .zip(&configs)
        .map(|(model, c)| -> Result<Fitted> {
            let model = model?;
            let (gamma, history) = (model.gamma, model.history.clone());
            Ok((Box::new(model), Some(gamma), Some(c.train.epochs), history))
        })
        .collect()
    } else {
        // Every other method of the registry, alike, by the one resolution of `dasvdd train
        // --config`: the method's defaults, the dataset config's [model], [train] and
        // [baselines.<method>], then the run's epochs.
        let params = seeds
            .iter()
            .map(|&seed| {
                cfg.method_config(dataset).method_params(
                    spec.method,
                    cols,
                    epochs.filter(|_| spec.method.is_neural()),
                    Some(seed),
                )
            })
            .collect::<dasvdd_core::Result<Vec<_>>>()?;
        dasvdd_baselines::fit_stacked(&params, trains, device)?
            .into_iter()
            .zip(&params)
            .map(|(d, p)| -> Result<Fitted> { Ok((d?, None, p.epochs(), Vec::new())) })
            .collect()
    };
    let fit_seconds = started.elapsed().as_secs_f64() / seeds.len().max(1) as f64;
    Ok(fitted
        .into_iter()
        .zip(tests)
        .map(|(fitted, test)| {
            let (detector, gamma, epochs, history) = fitted?;
            let started = Instant::now();
            let (scores, terms) = score_in_chunks(detector.as_ref(), *test)?;
            Ok(Outcome {
                scores,
                gamma,
                epochs,
                history,
                fit_seconds,
                score_seconds: started.elapsed().as_secs_f64(),
                terms,
            })
        })
        .collect())
}

/// Scores in chunks of rows, so that a large test set never needs one huge activation matrix;
/// for a detector whose score is a weighted sum of terms, also the terms, and the scores summed
/// from them by `ScoreTerm::sum`, as `Detector::score` sums them (the same values to the bit).
fn score_in_chunks(
    detector: &dyn dasvdd_core::Detector,
    x: SampleView<'_>,
) -> Result<(Vec<f64>, Vec<dasvdd_core::ScoreTerm>)> {
    const CHUNK: usize = 4096;
    let mut out = Vec::with_capacity(x.rows());
    let mut terms: Vec<dasvdd_core::ScoreTerm> = Vec::new();
    for chunk in x.chunks(CHUNK) {
        if detector.score_term_names().is_empty() {
            out.extend(detector.score(chunk)?);
            continue;
        }
        let parts = detector
            .score_terms(chunk)?
            .context("the detector named terms of its score but gave none")?;
        out.extend(dasvdd_core::ScoreTerm::sum(&parts));
        if terms.is_empty() {
            terms = parts;
        } else {
            for (all, part) in terms.iter_mut().zip(parts) {
                all.values.extend(part.values);
            }
        }
    }
    Ok((out, terms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dasvdd_baselines::MethodParams;

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
        let params = |m| {
            cfg.method_config("fmnist")
                .method_params(m, 784, Some(7), Some(3))
                .unwrap()
        };
        let MethodParams::Ae(ae) = params(Method::Ae) else {
            panic!()
        };
        assert_eq!(ae.model.as_ref(), Some(&base.model));
        assert_eq!((ae.epochs, ae.seed, ae.lr), (7, 3, base.train.lr));
        let MethodParams::DeepSvdd(ds) = params(Method::DeepSvdd) else {
            panic!()
        };
        assert_eq!(ds.model.as_ref(), Some(&base.model));
        assert_eq!((ds.epochs, ds.seed), (7, 3));
        assert_eq!(ds.network, dasvdd_baselines::DeepSvddNetwork::Mlp);
    }
}
