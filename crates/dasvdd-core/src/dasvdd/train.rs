//! DASVDD training by Algorithm 1: one model, or many models of one architecture and training
//! at once (the seeds and normal classes of a benchmark), their networks held as stacks with a
//! leading model axis so that each step runs every model's products in one pass.
//!
//! Training a model in a stack is training it alone: the same initial weights and centre from
//! its seed, the same batches from its own shuffle, and each kernel computes each model's
//! values exactly as for the model alone (one model is simply a stack of one).

use std::ops::ControlFlow;
use std::sync::Mutex;

use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer;
use rand_distr::{Distribution, StandardNormal};

use super::{estimate_gamma_until, seeded_rng, stream, DasvddModel, EpochRecord, GammaEstimate};
use crate::adagrad::{AdaGrad, ParamsAdaGrad};
use crate::adam::AdamConfig;
use crate::autoencoder::Autoencoder;
use crate::config::{CenterGrad, CenterMode, DasvddConfig, GammaChoice, SvddTerm};
use crate::detector::{SampleView, StackSamples};
use crate::epochs;
use crate::error::{CoreError, Result};
use crate::stack;
use crate::step_profile::{self, Phase};

/// Trains DASVDD on normal samples `x` by Algorithm 1, calling `on_epoch` after every epoch.
pub fn fit(
    config: &DasvddConfig,
    x: SampleView<'_>,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<DasvddModel> {
    fit_until(config, x, device, &mut epochs::continuing(on_epoch))
}

/// [`fit`], stopped with [`CoreError::Interrupted`] as soon as `on_epoch` returns
/// [`ControlFlow::Break`].
pub fn fit_until(
    config: &DasvddConfig,
    x: SampleView<'_>,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> ControlFlow<()>,
) -> Result<DasvddModel> {
    fit_until_polled(config, x, device, on_epoch, &mut |_| {
        ControlFlow::Continue(())
    })
}

/// [`fit_until`] that also asks `between_trials(t)` before each trial `t` of the gamma
/// heuristic ([`super::estimate_gamma_until`]), which runs before the first epoch and so before
/// `on_epoch` can stop anything: [`ControlFlow::Break`] from either stops with
/// [`CoreError::Interrupted`] (epoch 0 from the heuristic). The Python package stops this way
/// on Ctrl-C.
pub fn fit_until_polled(
    config: &DasvddConfig,
    x: SampleView<'_>,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> ControlFlow<()>,
    between_trials: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<DasvddModel> {
    let configs = std::slice::from_ref(config);
    check_stack(configs, &[x])?;
    train_pass(
        configs,
        &[x],
        device,
        &mut |_, r| on_epoch(r),
        between_trials,
    )?
    .pop()
    .expect("one result per model")
}

/// Trains `configs.len()` DASVDD models at once, model `m` with `configs[m]` on `xs[m]`, and
/// returns each model's result: the same model as [`fit`] gives for it alone (within the
/// rounding of the centre step's candle operations, which run on the stack). On the CPU,
/// networks too large to gain from lockstep train in smaller passes
/// ([`stack::sub_stacks`]), side by side on the cores ([`stack::run_passes`]).
///
/// The configs may differ only in their seed; the training sets must have the same number of
/// rows (so that every model has the same number of batches per epoch) and may differ in
/// their values (the normal classes of a dataset). `on_epoch(m, record)` sees each model's
/// epochs (from the thread that trains it). A model whose gamma heuristic fails, which
/// diverges or which `on_epoch` stops gets its own error; the others train on. The outer
/// error is one that concerns them all (configs that cannot share a stack, a failed step).
pub fn fit_stacked(
    configs: &[DasvddConfig],
    xs: &[SampleView<'_>],
    device: &Device,
    on_epoch: &mut stack::Observer<'_, EpochRecord>,
) -> Result<Vec<Result<DasvddModel>>> {
    check_stack(configs, xs)?;
    let parameters = Autoencoder::parameter_count(&configs[0].model).unwrap_or(usize::MAX);
    stack::train_in_passes(
        configs.len(),
        parameters,
        device,
        [on_epoch],
        &|pass, observe| {
            train_pass(
                &configs[pass.clone()],
                &xs[pass],
                device,
                &mut |m, r| observe(0, m, r),
                &mut |_| ControlFlow::Continue(()),
            )
        },
    )
}

/// Checks that the models can share a stack: one config but for the seed, training sets of
/// one width and size, at least 2 rows.
fn check_stack(configs: &[DasvddConfig], xs: &[SampleView<'_>]) -> Result<()> {
    let config = stack::stack_head(configs, xs)?;
    config.validate()?;
    stack::check_members(configs, xs, config.model.input_dim, |c| {
        let mut c = c.clone();
        c.train.seed = config.train.seed;
        c
    })?;
    let n = xs[0].rows();
    if n < 2 {
        return Err(CoreError::InvalidInput(format!(
            "{n} training samples; at least 2 are needed"
        )));
    }
    Ok(())
}

/// One pass of checked models: each model's gamma (a model whose heuristic fails, or whose
/// heuristic `between_trials` stops, leaves the stack with its error), then the others trained
/// as one stack.
fn train_pass(
    configs: &[DasvddConfig],
    xs: &[SampleView<'_>],
    device: &Device,
    on_epoch: &mut dyn FnMut(usize, &EpochRecord) -> ControlFlow<()>,
    between_trials: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Vec<Result<DasvddModel>>> {
    let mut results: Vec<Option<Result<DasvddModel>>> = Vec::with_capacity(configs.len());
    let mut members = Vec::new();
    for (m, (c, x)) in configs.iter().zip(xs).enumerate() {
        match gamma_of(c, *x, device, between_trials) {
            Ok(g) => {
                members.push((m, g));
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    if !members.is_empty() {
        let stack_configs: Vec<&DasvddConfig> = members.iter().map(|(m, _)| &configs[*m]).collect();
        let stack_xs: Vec<SampleView<'_>> = members.iter().map(|(m, _)| xs[*m]).collect();
        let gammas: Vec<(f64, Option<GammaEstimate>)> =
            members.iter().map(|(_, g)| g.clone()).collect();
        let index: Vec<usize> = members.iter().map(|(m, _)| *m).collect();
        let trained = train_stack(&stack_configs, &stack_xs, gammas, device, &mut |i, r| {
            on_epoch(index[i], r)
        })?;
        for (m, r) in index.into_iter().zip(trained) {
            results[m] = Some(r);
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every model has a result"))
        .collect())
}

/// Gamma of one model: the config's, or the heuristic's on its training set, asking
/// `between_trials` before each trial.
fn gamma_of(
    config: &DasvddConfig,
    x: SampleView<'_>,
    device: &Device,
    between_trials: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<(f64, Option<GammaEstimate>)> {
    match config.train.gamma {
        GammaChoice::Fixed(g) => Ok((g, None)),
        GammaChoice::Heuristic { trials } => {
            let est = estimate_gamma_until(config, x, trials, device, between_trials)?;
            tracing::info!(
                gamma = est.gamma,
                trials,
                seed = config.train.seed,
                "gamma from the heuristic of eq. (6)"
            );
            Ok((est.gamma, Some(est)))
        }
    }
}

/// The stack's batch: each model's rows `idx[m]` of its training set.
fn gather(samples: &StackSamples<'_, '_>, idx: &[&[usize]]) -> Result<Tensor> {
    let _timer = step_profile::timer(Phase::Gather);
    samples.gather(idx)
}

/// One model's running sums, over an epoch's centre steps, of the history's centre diagnostics
/// ([`EpochRecord::center_offset`], [`EpochRecord::code_spread`]).
#[derive(Debug, Default, Clone, Copy)]
struct CenterStats {
    offset: f64,
    spread: f64,
    steps: usize,
}

impl CenterStats {
    /// Adds one centre step: `codes` the split's codes (rows of the latent width), `c` the
    /// centre the step starts from.
    fn add(&mut self, codes: &[Vec<f32>], c: &[f32]) {
        if codes.is_empty() {
            return;
        }
        let k = codes.len() as f64;
        let mean: Vec<f64> = (0..c.len())
            .map(|j| codes.iter().map(|r| r[j] as f64).sum::<f64>() / k)
            .collect();
        let sq = |a: f64, b: f64| (a - b) * (a - b);
        self.offset += c
            .iter()
            .zip(&mean)
            .map(|(c, m)| sq(*c as f64, *m))
            .sum::<f64>();
        self.spread += codes
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&mean)
                    .map(|(z, m)| sq(*z as f64, *m))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / k;
        self.steps += 1;
    }

    /// The epoch's means (`None` without a centre step), and a fresh start for the next epoch.
    fn take(&mut self) -> (Option<f64>, Option<f64>) {
        let s = std::mem::take(self);
        let mean = |v: f64| (s.steps > 0).then(|| v / s.steps as f64);
        (mean(s.offset), mean(s.spread))
    }
}

/// Algorithm 1 on a stack of models whose configs and training sets [`fit_stacked`] checked.
fn train_stack(
    configs: &[&DasvddConfig],
    xs: &[SampleView<'_>],
    gammas: Vec<(f64, Option<GammaEstimate>)>,
    device: &Device,
    on_epoch: &mut dyn FnMut(usize, &EpochRecord) -> ControlFlow<()>,
) -> Result<Vec<Result<DasvddModel>>> {
    let config = configs[0];
    let tc = &config.train;
    let models = configs.len();
    let latent = config.model.latent;
    let n = xs[0].rows();
    let batch = epochs::effective_batch(tc.batch_size, n, "dasvdd")?;
    let n_net = match tc.center {
        CenterMode::Trained => tc.network_split(batch),
        CenterMode::FixedMeanCode => batch,
    };
    let gamma_values: Vec<f64> = gammas.iter().map(|(g, _)| *g).collect();

    let mut networks = Vec::with_capacity(models);
    let mut center_init: Vec<f32> = Vec::with_capacity(models * latent);
    for (c, x) in configs.iter().zip(xs) {
        let seed = c.train.seed;
        let ae = Autoencoder::init(&c.model, &mut seeded_rng(seed, stream::WEIGHTS), device)?;
        match tc.center {
            CenterMode::Trained => {
                let mut rng = seeded_rng(seed, stream::CENTER);
                center_init.extend((0..latent).map(|_| -> f32 { StandardNormal.sample(&mut rng) }));
            }
            CenterMode::FixedMeanCode => center_init.extend(ae.mean_code(*x, device)?),
        }
        networks.push(ae);
    }
    let ae = Autoencoder::stack(&networks)?;
    drop(networks);
    let center = Var::from_tensor(&Tensor::from_vec(center_init, (models, latent), device)?)?;
    let mut adam = ae.optimizer(AdamConfig {
        lr: tc.lr,
        weight_decay: tc.weight_decay,
        ..AdamConfig::default()
    })?;
    let mut adagrad = AdaGrad::new(
        vec![center.clone()],
        ParamsAdaGrad {
            lr: tc.center_lr,
            lr_decay: tc.center_lr_decay,
            ..ParamsAdaGrad::default()
        },
    )?;
    // 2 gamma per model, as a (models, 1) column for the 2021 code's centre pull.
    let two_gamma = Tensor::from_vec(
        gamma_values
            .iter()
            .map(|g| (2.0 * g) as f32)
            .collect::<Vec<_>>(),
        (models, 1),
        device,
    )?;
    let mut accumulated = match tc.center_grad {
        CenterGrad::Reset => None,
        CenterGrad::Accumulate => Some(center.as_tensor().zeros_like()?),
    };
    let mut shuffles: Vec<_> = configs
        .iter()
        .map(|c| seeded_rng(c.train.seed, stream::SHUFFLE))
        .collect();
    let samples = StackSamples::new(xs, device)?;
    // Shared by the step (which adds) and the epoch's record (which takes); never contended.
    let center_stats = Mutex::new(vec![CenterStats::default(); models]);
    let histories = epochs::run_epochs_stacked(
        n,
        tc.epochs,
        batch,
        &mut shuffles,
        ["reconstruction loss", "svdd loss"],
        crate::kernels::fused_on(device),
        &mut |_, idx| {
            let net_idx: Vec<&[usize]> = idx.iter().map(|i| &i[..n_net]).collect();
            let center_idx: Vec<&[usize]> = idx.iter().map(|i| &i[n_net..]).collect();
            let xb = gather(&samples, &net_idx)?;
            let (losses, codes) = ae.train_step_stacked(
                &xb,
                Some((center.as_tensor(), &gamma_values, tc.svdd_term)),
                &mut adam,
            )?;
            if let Some(sum) = &mut accumulated {
                // The 2021 code did not detach c in the network loss either, so each network
                // step added d/dc of gamma * ||z - c||^2 (the first sample's, or the batch
                // mean's) to c's never-cleared gradient: gamma * 2 (c - z).
                let used = match tc.svdd_term {
                    SvddTerm::FirstSample => 1,
                    SvddTerm::BatchMean => codes.dim(1)?,
                };
                let z_mean = codes.narrow(1, 0, used)?.mean(1)?;
                let pull = (center.as_tensor() - z_mean)?.broadcast_mul(&two_gamma)?;
                *sum = (&*sum + pull)?.detach();
            }
            let losses: Vec<[f64; 2]> = losses.iter().map(|l| [l.reconstruction, l.svdd]).collect();
            let all_finite = losses.iter().flatten().all(|l| l.is_finite());
            // A stack of one skips the centre step of a diverged batch, as it always did; in a
            // larger stack the diverged model's centre is computed but never used.
            if tc.center == CenterMode::Trained
                && !center_idx[0].is_empty()
                && (models > 1 || all_finite)
            {
                // Centre step with the networks fixed: AdaGrad on each model's MSE(c, mean
                // code of its split), summed over the models (their gradients are apart).
                let _timer = step_profile::timer(Phase::CenterStep);
                let z = ae.encode(&gather(&samples, &center_idx)?)?;
                let z_mean = z.mean(1)?.detach();
                {
                    let codes = z.to_vec3::<f32>()?;
                    let centers = center.as_tensor().to_vec2::<f32>()?;
                    let mut stats = center_stats.lock().unwrap_or_else(|e| e.into_inner());
                    for ((s, codes), c) in stats.iter_mut().zip(&codes).zip(&centers) {
                        s.add(codes, c);
                    }
                }
                let mut loss = center.as_tensor().sub(&z_mean)?.sqr()?.mean(1)?.sum_all()?;
                if let Some(sum) = &accumulated {
                    // The 2021 code never cleared c's gradient: adding <c, sum of the earlier
                    // gradients (centre and network steps)> to the loss makes this step's
                    // gradient the running sum.
                    loss = (loss + center.as_tensor().mul(sum)?.sum_all()?)?;
                }
                let grads = loss.backward()?;
                if let (Some(sum), Some(g)) = (&mut accumulated, grads.get(center.as_tensor())) {
                    *sum = g.detach();
                }
                adagrad.step(&grads)?;
            }
            Ok(losses)
        },
        &mut |m, means| {
            let epoch = means.epoch;
            let c = center.as_tensor().get(m)?.to_vec1::<f32>()?;
            let center_norm = c.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            if !center_norm.is_finite() {
                return Err(CoreError::Diverged {
                    epoch,
                    what: "norm of the centre",
                    value: center_norm,
                });
            }
            let [reconstruction, svdd] = means.means;
            let gamma = gamma_values[m];
            let (center_offset, code_spread) =
                center_stats.lock().unwrap_or_else(|e| e.into_inner())[m].take();
            let record = EpochRecord {
                epoch,
                total: reconstruction + gamma * svdd,
                reconstruction,
                svdd,
                center_norm,
                center_first: c.first().copied().unwrap_or(0.0) as f64,
                center_offset,
                code_spread,
                seconds: means.seconds,
            };
            tracing::info!(
                epoch,
                seed = configs[m].train.seed,
                total = record.total,
                reconstruction = record.reconstruction,
                svdd = record.svdd,
                center_norm,
                center_first = record.center_first,
                center_offset = record.center_offset,
                code_spread = record.code_spread,
                "dasvdd epoch"
            );
            Ok(record)
        },
        on_epoch,
    )?;
    let networks = ae.unstack()?;
    let centers = center.as_tensor().to_vec2::<f32>()?;
    Ok(histories
        .into_iter()
        .zip(networks)
        .zip(centers)
        .zip(gammas)
        .zip(configs)
        .map(
            |((((history, autoencoder), center), (gamma, gamma_estimate)), config)| {
                let history = history?;
                epochs::check_weights(
                    autoencoder.encoder.all_finite()? && autoencoder.decoder.all_finite()?,
                    tc.epochs,
                )?;
                Ok(DasvddModel {
                    config: (*config).clone(),
                    autoencoder,
                    center,
                    gamma,
                    gamma_estimate,
                    history,
                    preprocessing: None,
                    device: device.clone(),
                })
            },
        )
        .collect())
}
