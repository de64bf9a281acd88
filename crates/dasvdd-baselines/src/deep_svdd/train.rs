//! The training of Deep SVDD: the optional autoencoder pre-training, the fixed centre and
//! the one-class objective, on the `mlp` or the `lenet` network.

use std::ops::ControlFlow;

use candle_core::{Device, Tensor};
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::kernels::svdd_grad;
use dasvdd_core::mlp::{mean_output_of, Mlp};
use dasvdd_core::{Activation, Adam, AdamConfig, Autoencoder, Result, SampleView};

use super::{push_from_zero, DeepSvddModel, DeepSvddNetwork, DeepSvddParams, Phi, METHOD};
use crate::ae::{
    check_weights, continuing, effective_batch, resolve_network, run_epochs, stream, EpochLoss,
};
use crate::lenet::{LenetAutoencoder, LenetEncoder, LenetKind};

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

    /// [`DeepSvddParams::fit_with_progress`], stopped with [`CoreError::Interrupted`](dasvdd_core::CoreError::Interrupted) as soon
    /// as a callback returns [`ControlFlow::Break`].
    pub fn fit_until(
        &self,
        x: SampleView<'_>,
        device: &Device,
        on_pretrain_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<DeepSvddModel> {
        self.validate()?;
        let data = Batches {
            x,
            batch: effective_batch(self.batch_size, x.rows(), METHOD)?,
            device,
        };
        if self.network == DeepSvddNetwork::Lenet {
            return self.fit_lenet(&data, on_pretrain_epoch, on_epoch);
        }
        let config = resolve_network(&self.model, x.cols())?;

        // phi is built with a leaky ReLU on its output so that, during pre-training, the
        // decoder reads leaky_relu(code) as in Ruff's autoencoders; the output becomes linear
        // before the one-class phase. The activation does not change the initial weights.
        let mut rng = seeded_rng(self.seed, stream::WEIGHTS);
        let mut net = Mlp::init(
            &mut rng,
            &config.encoder_widths(),
            false,
            Activation::LeakyRelu,
            Activation::LeakyRelu,
            device,
        )?;
        let mut pretrain_history = Vec::new();
        if self.pretrain_epochs > 0 {
            let decoder = Mlp::init(
                &mut rng,
                &config.decoder_widths(),
                false,
                Activation::LeakyRelu,
                config.output_activation,
                device,
            )?;
            let ae = Autoencoder {
                config: config.clone(),
                encoder: net,
                decoder,
            };
            pretrain_history = self.adam_epochs(
                &data,
                Phase::Pretrain,
                ae.vars(),
                &mut |xb, adam| Ok(ae.train_step(xb, None, adam)?.reconstruction),
                on_pretrain_epoch,
            )?;
            net = ae.encoder;
        }
        if let Some(last) = net.layers.last_mut() {
            last.activation = Activation::Identity;
        }

        let (center, c) = self.fixed_center(net.mean_output(x, device)?, device)?;
        let history = self.adam_epochs(
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
                let (g, loss) = svdd_grad(z.zeros_like()?, z, &c, &[1.0], false)?;
                let (grads, _) = net.backward(&acts, g, false)?;
                adam.step(&Mlp::flatten_grads(grads))?;
                Ok(loss[0])
            },
            on_epoch,
        )?;
        let params = DeepSvddParams {
            model: Some(config),
            ..self.clone()
        };
        self.finish(
            params,
            Phi::Mlp(net),
            center,
            (history, pretrain_history),
            device,
        )
    }

    /// The learning rate of the one-class phase at `epoch`: Ruff's `MultiStepLR` drops it
    /// tenfold after each milestone.
    fn lr_at(&self, epoch: usize) -> f64 {
        let passed = self.lr_milestones.iter().filter(|&&m| epoch > m).count();
        self.lr * 0.1f64.powi(passed as i32)
    }

    /// Runs `phase` (its epochs, shuffling stream, learning rate and weight decay): a fresh
    /// Adam over `vars`, and `step(batch, adam)`, which returns the batch loss, on every batch.
    fn adam_epochs(
        &self,
        data: &Batches<'_>,
        phase: Phase,
        vars: Vec<candle_core::Var>,
        step: &mut dyn FnMut(&Tensor, &mut Adam) -> Result<f64>,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<Vec<EpochLoss>> {
        let (epochs, shuffle, label, what, weight_decay) = match phase {
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
        };
        let lr_at = |epoch| match phase {
            Phase::Pretrain => self.pretrain_lr,
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
        run_epochs(
            data.x,
            epochs,
            data.batch,
            &mut seeded_rng(self.seed, shuffle),
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

    /// The fixed centre from the mean output `mean` of the initial (or pre-trained) network:
    /// coordinates near zero pushed to `+-center_eps`; also as a tensor on `device`.
    fn fixed_center(&self, mut mean: Vec<f32>, device: &Device) -> Result<(Vec<f32>, Tensor)> {
        push_from_zero(&mut mean, self.center_eps as f32);
        tracing::info!(
            norm = mean
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>()
                .sqrt(),
            "deep_svdd centre fixed to the mean initial output"
        );
        let c = Tensor::from_slice(&mean, mean.len(), device)?;
        Ok((mean, c))
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
        let mut pretrain_history = Vec::new();
        if self.pretrain_epochs > 0 {
            let mut ae = LenetAutoencoder::init(net, &mut rng, device)?;
            pretrain_history = self.adam_epochs(
                data,
                Phase::Pretrain,
                ae.vars(),
                &mut |xb, adam| {
                    let rec = ae.forward_train(xb)?;
                    autograd_step(&(rec - xb)?.sqr()?.sum(1)?.mean_all()?, adam)
                },
                on_pretrain_epoch,
            )?;
            net = ae.encoder;
        }

        let mean = mean_output_of(x, device, kind.rep_dim(), &|t| net.forward_eval(t))?;
        let (center, c) = self.fixed_center(mean, device)?;
        let history = self.adam_epochs(
            data,
            Phase::OneClass,
            net.vars(),
            &mut |xb, adam| {
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

/// One Adam step on `loss`'s gradients (candle's autograd, through Adam's
/// [`candle_nn::Optimizer`] interface); returns the loss.
fn autograd_step(loss: &Tensor, adam: &mut Adam) -> Result<f64> {
    candle_nn::Optimizer::backward_step(adam, loss)?;
    Ok(f64::from(loss.to_scalar::<f32>()?))
}
