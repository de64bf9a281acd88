//! The training of Deep SVDD: the optional autoencoder pre-training, the fixed centre and
//! the one-class objective, on the `mlp` or the `lenet` network.

use std::ops::ControlFlow;

use candle_core::{Device, Tensor};
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::kernels::svdd_grad;
use dasvdd_core::mlp::{mean_output_of, Mlp};
use dasvdd_core::stack;
use dasvdd_core::{Activation, Adam, AdamConfig, Autoencoder, CoreError, Result, SampleView};

use super::{push_from_zero, DeepSvddModel, DeepSvddNetwork, DeepSvddParams, Phi, METHOD};
use crate::ae::{
    check_weights, continuing, effective_batch, resolve_network, run_epochs_stacked, stream,
    EpochLoss,
};
use crate::lenet::{self, LenetAutoencoder, LenetEncoder, LenetKind};

impl DeepSvddParams {
    /// Trains Deep SVDD on the normal samples `x`.
    pub fn fit(&self, x: SampleView<'_>, device: &Device) -> Result<DeepSvddModel> {
        self.fit_with_progress(x, device, &mut |_| {}, &mut |_| {})
    }

    /// Trains Deep SVDD on the normal samples `x`, calling `on_pretrain_epoch` after every
    /// pre-training epoch and `on_epoch` after every epoch of the one-class objective.
    pub fn fit_with_progress(
        &self,
        x: SampleView<'_>,
        device: &Device,
        on_pretrain_epoch: &mut dyn FnMut(&EpochLoss),
        on_epoch: &mut dyn FnMut(&EpochLoss),
    ) -> Result<DeepSvddModel> {
        self.fit_until(
            x,
            device,
            &mut continuing(on_pretrain_epoch),
            &mut continuing(on_epoch),
        )
    }

    /// [`DeepSvddParams::fit_with_progress`], stopped with [`CoreError::Interrupted`] as soon
    /// as a callback returns [`ControlFlow::Break`].
    pub fn fit_until(
        &self,
        x: SampleView<'_>,
        device: &Device,
        on_pretrain_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<DeepSvddModel> {
        self.validate()?;
        if self.network == DeepSvddNetwork::Lenet {
            let data = Batches {
                x,
                batch: effective_batch(self.batch_size, x.rows(), METHOD)?,
                device,
            };
            return self.fit_lenet(&data, on_pretrain_epoch, on_epoch);
        }
        let params = std::slice::from_ref(self);
        let (config, batch) = Self::check_stack(params, &[x])?;
        Self::train_stack(
            params,
            &[x],
            &config,
            batch,
            device,
            &mut |_, r| on_pretrain_epoch(r),
            &mut |_, r| on_epoch(r),
        )?
        .pop()
        .expect("one result per model")
    }

    /// Trains `params.len()` Deep SVDD models on the fully connected network at once, model `m`
    /// with `params[m]` on `xs[m]`, as one stack of networks (pre-training, centres and the
    /// one-class phase), each trained as it would be alone: the same models as
    /// [`DeepSvddParams::fit`] gives one by one. The params may differ only in their seed, the
    /// training sets only in their values (one number of rows); the LeNet network is trained
    /// one model at a time. The callbacks see each model's epochs; a model that diverges or is
    /// stopped gets its own error.
    pub fn fit_stacked(
        params: &[DeepSvddParams],
        xs: &[SampleView<'_>],
        device: &Device,
        on_pretrain_epoch: &mut stack::Observer<'_, EpochLoss>,
        on_epoch: &mut stack::Observer<'_, EpochLoss>,
    ) -> Result<Vec<Result<DeepSvddModel>>> {
        let (config, batch) = Self::check_stack(params, xs)?;
        let parameters = Mlp::parameter_count(&config.encoder_widths(), false)
            .and_then(|e| Some(e + Mlp::parameter_count(&config.decoder_widths(), false)?))
            .unwrap_or(usize::MAX);
        stack::train_in_passes(
            params.len(),
            parameters,
            device,
            [on_pretrain_epoch, on_epoch],
            &|pass, observe| {
                Self::train_stack(
                    &params[pass.clone()],
                    &xs[pass],
                    &config,
                    batch,
                    device,
                    &mut |m, r| observe(0, m, r),
                    &mut |m, r| observe(1, m, r),
                )
            },
        )
    }

    /// Checks that the models can share a stack (one set of params but for the seed, the
    /// fully connected network unless there is one model, training sets of one width and
    /// size) and returns their network and batch size.
    fn check_stack(
        params: &[DeepSvddParams],
        xs: &[SampleView<'_>],
    ) -> Result<(dasvdd_core::AutoencoderConfig, usize)> {
        let first = stack::stack_head(params, xs)?;
        first.validate()?;
        if first.network == DeepSvddNetwork::Lenet && params.len() > 1 {
            return Err(CoreError::InvalidInput(
                "Deep SVDD on LeNet trains one model at a time".into(),
            ));
        }
        let config = resolve_network(&first.model, xs[0].cols())?;
        stack::check_members(params, xs, config.input_dim, |p| DeepSvddParams {
            seed: first.seed,
            ..p.clone()
        })?;
        let batch = effective_batch(first.batch_size, xs[0].rows(), METHOD)?;
        Ok((config, batch))
    }

    /// One pass of [`DeepSvddParams::fit_stacked`]: the models of `params` as one stack.
    fn train_stack(
        params: &[DeepSvddParams],
        xs: &[SampleView<'_>],
        config: &dasvdd_core::AutoencoderConfig,
        batch: usize,
        device: &Device,
        on_pretrain_epoch: &mut dyn FnMut(usize, &EpochLoss) -> ControlFlow<()>,
        on_epoch: &mut dyn FnMut(usize, &EpochLoss) -> ControlFlow<()>,
    ) -> Result<Vec<Result<DeepSvddModel>>> {
        // Before the networks are allocated: widths that are each allowed can still ask for
        // more parameters than could be.
        config.validate_for_init()?;
        let first = &params[0];
        let seeds: Vec<u64> = params.iter().map(|p| p.seed).collect();
        let data = Stack {
            xs,
            seeds: &seeds,
            batch,
            device,
        };

        // phi is built with a leaky ReLU on its output so that, during pre-training, the
        // decoder reads leaky_relu(code) as in Ruff's autoencoders; the output becomes linear
        // before the one-class phase. The activation does not change the initial weights.
        let mut encoders = Vec::with_capacity(params.len());
        let mut decoders = Vec::with_capacity(params.len());
        for &seed in &seeds {
            let mut rng = seeded_rng(seed, stream::WEIGHTS);
            let mlp = |rng: &mut _, widths: &[usize], last| {
                Mlp::init(rng, widths, false, Activation::LeakyRelu, last, device)
            };
            encoders.push(mlp(
                &mut rng,
                &config.encoder_widths(),
                Activation::LeakyRelu,
            )?);
            if first.pretrain_epochs > 0 {
                decoders.push(mlp(
                    &mut rng,
                    &config.decoder_widths(),
                    config.output_activation,
                )?);
            }
        }
        let mut net = Mlp::stack(&encoders)?;
        drop(encoders);
        // Each model's result so far: its pre-training history, or its error.
        let mut state: Vec<Result<Vec<EpochLoss>>> =
            params.iter().map(|_| Ok(Vec::new())).collect();
        if first.pretrain_epochs > 0 {
            let ae = Autoencoder {
                config: config.clone(),
                encoder: net,
                decoder: Mlp::stack(&decoders)?,
            };
            drop(decoders);
            state = first.adam_epochs(
                &data,
                Phase::Pretrain,
                ae.vars(),
                &mut |xb, adam| {
                    let (losses, _) = ae.train_step_stacked(xb, None, adam)?;
                    Ok(losses.iter().map(|l| l.reconstruction).collect())
                },
                on_pretrain_epoch,
            )?;
            net = ae.encoder;
            if state.iter().all(|s| s.is_err()) {
                return Ok(state.into_iter().map(|s| Err(s.unwrap_err())).collect());
            }
        }
        if let Some(last) = net.layers.last_mut() {
            last.activation = Activation::Identity;
        }

        // Each model's fixed centre, from its own (pre-trained) network and data.
        let mut centers = Vec::with_capacity(params.len());
        for (one, x) in net.unstack()?.iter().zip(xs) {
            centers.push(first.fixed_center(one.mean_output(*x, device)?));
        }
        let latent = centers.first().map_or(0, |c| c.len());
        let c = Tensor::from_vec(centers.concat(), (params.len(), latent), device)?;
        let ones = vec![1.0; params.len()];
        let histories = first.adam_epochs(
            &data,
            Phase::OneClass,
            net.vars(),
            &mut |xb, adam| {
                let acts = net.forward_train(xb)?;
                let z = acts
                    .last()
                    .expect("forward_train returns the input and every layer's output");
                // With a zero gradient and weight 1, svdd_grad yields the gradient of
                // mean_i ||z_i - c||^2; the output is linear, so it is also the gradient of
                // the last pre-activation.
                let (g, losses) = svdd_grad(z.zeros_like()?, z, &c, &ones, false)?;
                let (grads, _) = net.backward(&acts, g, false)?;
                adam.step(&Mlp::flatten_grads(grads))?;
                Ok(losses)
            },
            on_epoch,
        )?;
        let trained = net.unstack()?;
        Ok(histories
            .into_iter()
            .zip(state)
            .zip(trained.into_iter().zip(centers))
            .zip(params)
            .map(|(((history, pretrain), (network, center)), p)| {
                // A model that diverged in pre-training reports that.
                let pretrain_history = pretrain?;
                let history = history?;
                p.finish(
                    DeepSvddParams {
                        model: Some(config.clone()),
                        ..p.clone()
                    },
                    Phi::Mlp(network),
                    center,
                    (history, pretrain_history),
                    device,
                )
            })
            .collect())
    }

    /// The learning rate of the one-class phase at `epoch`: Ruff's `MultiStepLR` drops it
    /// tenfold after each milestone.
    fn lr_at(&self, epoch: usize) -> f64 {
        decayed(self.lr, &self.lr_milestones, epoch)
    }

    /// Runs `phase` (its epochs, shuffling stream, learning rate and weight decay) on a stack
    /// of models: a fresh Adam over `vars`, and `step(batch, adam)`, which returns each
    /// model's batch loss, on every stacked batch. One result per model.
    #[allow(clippy::type_complexity)]
    fn adam_epochs(
        &self,
        data: &Stack<'_>,
        phase: Phase,
        vars: Vec<candle_core::Var>,
        step: &mut (dyn FnMut(&Tensor, &mut Adam) -> Result<Vec<f64>> + Send),
        on_epoch: &mut dyn FnMut(usize, &EpochLoss) -> ControlFlow<()>,
    ) -> Result<Vec<Result<Vec<EpochLoss>>>> {
        let (epochs, shuffle, label, what, weight_decay) = self.phase_settings(phase);
        let lr_at = |epoch| match phase {
            Phase::Pretrain => decayed(self.pretrain_lr, &self.pretrain_lr_milestones, epoch),
            Phase::OneClass => self.lr_at(epoch),
        };
        let mut adam = Adam::new(
            vars,
            AdamConfig {
                lr: lr_at(1),
                weight_decay,
                ..AdamConfig::default()
            },
        )?;
        let mut shuffles: Vec<_> = data
            .seeds
            .iter()
            .map(|&seed| seeded_rng(seed, shuffle))
            .collect();
        run_epochs_stacked(
            data.xs,
            epochs,
            data.batch,
            &mut shuffles,
            data.device,
            label,
            what,
            &mut |epoch, xb| {
                adam.set_lr(lr_at(epoch));
                step(xb, &mut adam)
            },
            on_epoch,
        )
    }

    /// [`DeepSvddParams::adam_epochs`] for one model (the LeNet network).
    fn adam_epochs_one(
        &self,
        data: &Batches<'_>,
        phase: Phase,
        vars: Vec<candle_core::Var>,
        step: &mut (dyn FnMut(&Tensor, &mut Adam) -> Result<f64> + Send),
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<Vec<EpochLoss>> {
        let seeds = [self.seed];
        let stack = Stack {
            xs: std::slice::from_ref(&data.x),
            seeds: &seeds,
            batch: data.batch,
            device: data.device,
        };
        self.adam_epochs(
            &stack,
            phase,
            vars,
            // The one model's batch as a plain matrix.
            &mut |xb, adam| Ok(vec![step(&xb.squeeze(0)?, adam)?]),
            &mut |_, r| on_epoch(r),
        )?
        .pop()
        .expect("one result per model")
    }

    /// `(epochs, shuffling stream, log label, loss name, weight decay)` of `phase`.
    fn phase_settings(&self, phase: Phase) -> (usize, u64, &'static str, &'static str, f64) {
        match phase {
            Phase::Pretrain => (
                self.pretrain_epochs,
                stream::PRETRAIN_SHUFFLE,
                "deep_svdd pretrain",
                "pre-training reconstruction loss",
                self.pretrain_weight_decay,
            ),
            Phase::OneClass => (
                self.epochs,
                stream::SHUFFLE,
                METHOD,
                "one-class loss",
                self.weight_decay,
            ),
        }
    }

    /// The fixed centre from the mean output `mean` of the initial (or pre-trained) network:
    /// coordinates near zero pushed to `+-center_eps`.
    fn fixed_center(&self, mut mean: Vec<f32>) -> Vec<f32> {
        push_from_zero(&mut mean, self.center_eps as f32);
        tracing::info!(
            norm = mean
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>()
                .sqrt(),
            "deep_svdd centre fixed to the mean initial output"
        );
        mean
    }

    /// The trained model, once every weight of `network` is checked to be finite.
    fn finish(
        &self,
        params: DeepSvddParams,
        network: Phi,
        center: Vec<f32>,
        (history, pretrain_history): (Vec<EpochLoss>, Vec<EpochLoss>),
        device: &Device,
    ) -> Result<DeepSvddModel> {
        let finite = match &network {
            Phi::Mlp(m) => m.all_finite()?,
            Phi::Lenet(l) => l.all_finite()?,
        };
        check_weights(finite, self.epochs)?;
        Ok(DeepSvddModel {
            params,
            network,
            center,
            history,
            pretrain_history,
            preprocessing: None,
            device: device.clone(),
        })
    }

    /// Deep SVDD on Ruff's LeNet network, trained as his code trains it: autoencoder
    /// pre-training with the summed squared error per image (mean over the batch), the centre
    /// from the pre-trained network in evaluation mode, then the one-class loss with the
    /// network in training mode (batch statistics).
    fn fit_lenet(
        &self,
        data: &Batches<'_>,
        on_pretrain_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<DeepSvddModel> {
        let (x, device) = (data.x, data.device);
        let kind = LenetKind::for_input(x.cols())?;
        let mut rng = seeded_rng(self.seed, stream::WEIGHTS);
        let mut net = LenetEncoder::init(kind, &mut rng, device)?;
        // On the fused CPU kernels the steps run their own backward passes (the same
        // gradients, without candle's autograd: `lenet::Tape`); elsewhere candle's autograd.
        let explicit = explicit_lenet_steps(device);
        let mut pretrain_history = Vec::new();
        if self.pretrain_epochs > 0 {
            let mut ae = LenetAutoencoder::init(net, &mut rng, device)?;
            pretrain_history = self.adam_epochs_one(
                data,
                Phase::Pretrain,
                ae.vars(),
                &mut |xb, adam| {
                    if explicit {
                        let (loss, grads) = ae.reconstruction_step(xb)?;
                        adam.step(&grads)?;
                        return Ok(loss);
                    }
                    let rec = ae.forward_train(xb)?;
                    autograd_step(&(rec - xb)?.sqr()?.sum(1)?.mean_all()?, adam)
                },
                on_pretrain_epoch,
            )?;
            net = ae.encoder;
        }

        let mean = mean_output_of(x, device, kind.rep_dim(), lenet::SCORE_BATCH, &|t| {
            net.forward_eval(t)
        })?;
        let center = self.fixed_center(mean);
        let c = Tensor::from_slice(&center, center.len(), device)?;
        let history = self.adam_epochs_one(
            data,
            Phase::OneClass,
            net.vars(),
            &mut |xb, adam| {
                if explicit {
                    let (loss, grads) = net.svdd_step(xb, &c)?;
                    adam.step(&grads)?;
                    return Ok(loss);
                }
                let z = net.forward_train(xb)?;
                autograd_step(&z.broadcast_sub(&c)?.sqr()?.sum(1)?.mean_all()?, adam)
            },
            on_epoch,
        )?;
        let params = self.clone();
        self.finish(
            params,
            Phi::Lenet(net),
            center,
            (history, pretrain_history),
            device,
        )
    }
}

/// The training sets of a stack with the models' seeds, the batch size and the device.
struct Stack<'a> {
    xs: &'a [SampleView<'a>],
    seeds: &'a [u64],
    batch: usize,
    device: &'a Device,
}

/// The training samples with their batch size and device, as every phase reads them.
struct Batches<'a> {
    x: SampleView<'a>,
    batch: usize,
    device: &'a Device,
}

/// The two training phases of Deep SVDD.
#[derive(Clone, Copy)]
enum Phase {
    /// Autoencoder pre-training: `pretrain_*` settings, its own shuffling stream.
    Pretrain,
    /// The one-class objective: `epochs`, `lr` with its milestones, `weight_decay`.
    OneClass,
}

/// Whether the LeNet steps on `device` run their explicit backward passes: on the fused CPU
/// kernels, unless `DASVDD_LENET_AUTOGRAD=1` asks for candle's autograd through the same
/// kernels (to compare the two).
fn explicit_lenet_steps(device: &Device) -> bool {
    dasvdd_core::kernels::fused_on(device)
        && !std::env::var("DASVDD_LENET_AUTOGRAD").is_ok_and(|v| v.trim() == "1")
}

/// One Adam step on `loss`'s gradients (candle's autograd, through Adam's
/// [`candle_nn::Optimizer`] interface); returns the loss.
fn autograd_step(loss: &Tensor, adam: &mut Adam) -> Result<f64> {
    candle_nn::Optimizer::backward_step(adam, loss)?;
    Ok(f64::from(loss.to_scalar::<f32>()?))
}

/// `lr` at `epoch` (from 1) under PyTorch's `MultiStepLR(gamma=0.1)`: tenfold lower after each
/// milestone passed.
fn decayed(lr: f64, milestones: &[usize], epoch: usize) -> f64 {
    let passed = milestones.iter().filter(|&&m| epoch > m).count();
    lr * 0.1f64.powi(passed as i32)
}
