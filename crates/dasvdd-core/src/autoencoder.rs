//! The fully connected autoencoder of DASVDD and its fused training step, shared with the
//! autoencoder baseline.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use candle_core::{Device, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::adam::{Adam, AdamConfig, AdamStep};
use crate::checkpoint::Checkpoint;
use crate::config::{Activation, AutoencoderConfig, SvddTerm};
use crate::detector::SampleView;
use crate::error::Result;
use crate::kernels::products::runs_side_by_side;
use crate::kernels::{activation_backward, fused_on, reconstruction_grad, svdd_grad};
use crate::mlp::{DenseGrads, Mlp};
use crate::step_profile;

pub use crate::mlp::SCORE_BATCH;

/// Activation of every layer but the decoder's last.
const HIDDEN: Activation = Activation::LeakyRelu;

/// Encoder and decoder.
#[derive(Debug, Clone)]
pub struct Autoencoder {
    /// The architecture both halves were built from.
    pub config: AutoencoderConfig,
    /// Input to code z: widths `input_dim`, `hidden...`, `latent`, a leaky ReLU after every
    /// layer.
    pub encoder: Mlp,
    /// Code z to reconstruction: the encoder's widths reversed, a leaky ReLU after every layer
    /// but the last, which uses `config.output_activation`.
    pub decoder: Mlp,
}

/// Losses of one network step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepLoss {
    /// Mean squared reconstruction error (mean over batch and features).
    pub reconstruction: f64,
    /// Batch mean of ||z - c||^2 (0 without a centre).
    pub svdd: f64,
}

/// Per-sample reconstruction error and squared distance of the code to a centre.
#[derive(Debug, Clone, Default)]
pub struct SampleErrors {
    /// Mean over features of (x_hat - x)^2, per sample.
    pub reconstruction: Vec<f64>,
    /// ||z - c||^2 per sample (||z||^2 when no centre is given).
    pub distance: Vec<f64>,
}

impl Autoencoder {
    /// A freshly initialised autoencoder (PyTorch's default `nn.Linear` initialisation, drawn
    /// from `rng`: encoder layers first, then decoder layers).
    pub fn init(config: &AutoencoderConfig, rng: &mut ChaCha8Rng, device: &Device) -> Result<Self> {
        config.validate_for_init()?;
        Self::from_halves(config, |_, widths, last| {
            Mlp::init(rng, widths, true, HIDDEN, last, device)
        })
    }

    /// The autoencoder of `config` with its halves built by `half(prefix, widths, last)`, `last`
    /// being the activation of the half's last layer: the encoder (`"encoder"`, leaky ReLU
    /// throughout) first, then the decoder (`"decoder"`, ending in the output activation).
    fn from_halves(
        config: &AutoencoderConfig,
        mut half: impl FnMut(&str, &[usize], Activation) -> Result<Mlp>,
    ) -> Result<Self> {
        let encoder = half("encoder", &config.encoder_widths(), HIDDEN)?;
        let decoder = half(
            "decoder",
            &config.decoder_widths(),
            config.output_activation,
        )?;
        Ok(Autoencoder {
            config: config.clone(),
            encoder,
            decoder,
        })
    }

    /// Parameters of the network of `config` (`None` when the count overflows).
    pub fn parameter_count(config: &AutoencoderConfig) -> Option<usize> {
        Mlp::parameter_count(&config.encoder_widths(), true)?
            .checked_add(Mlp::parameter_count(&config.decoder_widths(), true)?)
    }

    /// The autoencoder of `config`, which metadata `field` of `ck` describes, read from the
    /// tensors `encoder.{i}.weight`, `encoder.{i}.bias`, `decoder.{i}.*` of `ck`. The config is
    /// validated and its size checked against the file before anything is allocated.
    pub fn load(
        ck: &Checkpoint,
        field: &str,
        config: &AutoencoderConfig,
        device: &Device,
    ) -> Result<Self> {
        config
            .validate()
            .map_err(|e| ck.error(format!("metadata `{field}`: {e}")))?;
        ck.expect_parameters(field, Self::parameter_count(config))?;
        Self::from_halves(config, |prefix, widths, last| {
            Mlp::load(ck, prefix, widths, true, HIDDEN, last, device)
        })
    }

    /// Codes of a batch.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        self.encoder.forward(x)
    }

    /// `(codes, reconstructions)` of a batch.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let z = self.encoder.forward(x)?;
        let x_hat = self.decoder.forward(&z)?;
        Ok((z, x_hat))
    }

    /// One optimiser step of the network on batch `x` for the loss
    /// `MSE(x_hat, x) + gamma * mean_i ||z_i - c||^2` (`center = Some((c, gamma))`), or the plain
    /// reconstruction loss (`None`). `adam` must hold `self.vars()` in that order.
    pub fn train_step(
        &self,
        x: &Tensor,
        center: Option<(&Tensor, f64, SvddTerm)>,
        adam: &mut Adam,
    ) -> Result<StepLoss> {
        let gamma = center.map(|(_, g, _)| [g]);
        let center = center
            .zip(gamma.as_ref())
            .map(|((c, _, term), g)| (c, &g[..], term));
        let (losses, _) = self.train_step_stacked(x, center, adam)?;
        Ok(losses.first().copied().unwrap_or_default())
    }

    /// One optimiser step of every model of a stack ([`Autoencoder::stack`]) on its own batch:
    /// `x (models, rows, input_dim)`, the centres `(models, latent)` with one gamma per model.
    /// Each model's step is the one [`Autoencoder::train_step`] takes for it alone.
    /// Returns each model's losses and the codes `(models, rows, latent)` before the step. On
    /// a single autoencoder with a matrix `x` it is that step. Each layer is updated as soon as
    /// its gradient is known, so an error part-way through the backward pass (a bug, or a
    /// device failure) leaves the network part-updated: training stops with that error.
    pub fn train_step_stacked(
        &self,
        x: &Tensor,
        center: Option<(&Tensor, &[f64], SvddTerm)>,
        adam: &mut Adam,
    ) -> Result<(Vec<StepLoss>, Tensor)> {
        let overlap = fused_on(x.device()) && rayon::current_num_threads() > 1;
        let update = adam.begin_step();
        let vars = self.encoder.vars().len() + self.decoder.vars().len();
        if update.len() != vars {
            return Err(crate::error::CoreError::InvalidInput(format!(
                "adam holds {} parameters, the autoencoder has {vars}",
                update.len()
            )));
        }
        // A layer's update, once the backward pass has its gradients.
        let apply = |var: usize, grads: DenseGrads| -> Result<()> {
            update.update(var, &grads.weight)?;
            match &grads.bias {
                Some(b) => update.update(var + 1, b),
                None => Ok(()),
            }
        };
        if !overlap {
            return self.step_into(x, center, &update, &mut |var, g| apply(var, g));
        }
        // The whole step runs inside the thread pool (its parallel kernels then start without
        // waking a worker from outside each time), and each layer's Adam update runs as a task
        // beside the backward pass of the layers before it, on whichever thread is free (the
        // update is memory-bound, the products are not); every update is done when the scope
        // ends. The values are those of updating after the whole backward pass: each update
        // reads only its own layer's gradient, which is final, and writes only its layer's
        // weight and moments, which the rest of the pass no longer reads.
        let failed = std::sync::Mutex::new(None);
        let mut backward_done = None;
        let finished = AtomicUsize::new(0);
        let out = rayon::scope(|scope| {
            let (apply, failed, finished) = (&apply, &failed, &finished);
            let mut spawned = 0;
            let out = self.step_into(x, center, &update, &mut |var, g| {
                // The first encoder layer's gradient comes last: nothing is left to overlap
                // its update with, so it runs here, split over the threads as usual.
                if var == 0 {
                    return apply(var, g);
                }
                spawned += 1;
                scope.spawn(move |_| {
                    let _finished = crate::kernels::pool::Finished(finished);
                    // On the fused kernels, as the step that spawned it (overlap needs them).
                    let update = || crate::kernels::on_this_thread(|| apply(var, g));
                    if let Err(e) = crate::kernels::with_fused(true, update) {
                        failed
                            .lock()
                            .expect("update error lock poisoned")
                            .get_or_insert(e);
                    }
                });
                Ok(())
            });
            backward_done = Some(std::time::Instant::now());
            // Wait for the updates here, running them or spinning, rather than in the scope's
            // end, which sleeps when it finds no work (`kernels::pool`).
            if crate::kernels::pool::spin_waits() {
                crate::kernels::pool::wait_until(|| finished.load(Ordering::Acquire) == spawned);
            }
            out
        });
        // The updates not hidden behind the backward pass.
        if let Some(t) = backward_done {
            step_profile::charge_since(step_profile::Phase::AdamUpdate, t);
        }
        if let Some(e) = failed.into_inner().expect("update error lock poisoned") {
            return Err(e);
        }
        out
    }

    /// The forward and backward passes of [`Autoencoder::train_step_stacked`], handing each
    /// layer's gradients to `each(index of its weight in vars(), grads)` as soon as they are
    /// known. Returns each model's losses and the codes.
    fn step_into(
        &self,
        x: &Tensor,
        center: Option<(&Tensor, &[f64], SvddTerm)>,
        update: &AdamStep<'_>,
        each: &mut (dyn FnMut(usize, DenseGrads) -> Result<()> + Send),
    ) -> Result<(Vec<StepLoss>, Tensor)> {
        let enc = self.encoder.forward_train(x)?;
        let z = enc
            .last()
            .expect("forward_train returns the input and every layer's output");
        let dec = self.decoder.forward_train(z)?;
        let x_hat = dec
            .last()
            .expect("forward_train returns the input and every layer's output");
        let (g_out, reconstruction) = reconstruction_grad(x_hat, x, self.config.output_activation)?;
        let svdd = self.backward_into(
            &enc,
            &dec,
            g_out,
            reconstruction.len(),
            center,
            update,
            each,
        )?;
        let losses = reconstruction
            .into_iter()
            .zip(svdd)
            .map(|(reconstruction, svdd)| StepLoss {
                reconstruction,
                svdd,
            })
            .collect();
        Ok((losses, z.clone()))
    }

    /// The backward pass of [`Autoencoder::train_step_stacked`] from the loss gradient at the
    /// reconstruction `g_out` of `models` models: decoder, SVDD term, encoder, handing each
    /// layer's gradients to `each(index of its weight in vars(), grads)` as soon as they are
    /// known. Returns each model's SVDD loss.
    fn backward_into(
        &self,
        enc: &[Tensor],
        dec: &[Tensor],
        g_out: Tensor,
        models: usize,
        center: Option<(&Tensor, &[f64], SvddTerm)>,
        update: &AdamStep<'_>,
        each: &mut (dyn FnMut(usize, DenseGrads) -> Result<()> + Send),
    ) -> Result<Vec<f64>> {
        let last = self.decoder.layers.len() - 1;
        if runs_side_by_side(Mlp::pair_flops(&dec[last], &g_out), g_out.device()) {
            return self.backward_pipelined(enc, dec, g_out, models, center, update, each);
        }
        let z = enc
            .last()
            .expect("forward_train returns the input and every layer's output");
        let (enc_idx, dec_idx) = self.weight_indices();
        let copies = |idx: &[usize]| {
            idx.iter()
                .map(|&i| update.transposed(i))
                .collect::<Vec<_>>()
        };
        let g_z = self
            .decoder
            .backward_each(dec, g_out, true, &copies(&dec_idx), |i, g| {
                each(dec_idx[i], g)
            })?;
        let g_z = g_z.expect("input gradient was requested");
        let (g_code, svdd) = code_grad(g_z, z, models, center)?;
        self.encoder
            .backward_each(enc, g_code, false, &copies(&enc_idx), |i, g| {
                each(enc_idx[i], g)
            })?;
        Ok(svdd)
    }

    /// [`Autoencoder::backward_into`] in two lanes on two threads, for networks whose decoder's
    /// last layer has gradient products large enough to run side by side. [`Mlp`]'s backward
    /// pass runs each layer's two products that way and meets after every layer, where the
    /// thread done first waits for the other (their rates differ by up to a fifth for some
    /// layers). Here one lane computes the layers' weight and bias gradients, last layer
    /// first, handing each to `each`; the other computes the chain of input gradients (each
    /// with the activation derivative after it, and between the decoder and the encoder the
    /// SVDD term's gradient), publishing the gradient at each layer's output as soon as it is
    /// known. The weight lane waits only for a gradient the chain has not reached yet, and
    /// meanwhile runs the Adam updates `each` queued. It hands a layer's gradients to `each`
    /// only once the chain has passed that layer, whose weight its input gradient reads. The
    /// first encoder layer's weight gradient, the largest and the last, is then split over
    /// both threads as usual. Every product and pass computes what it computed before, each
    /// whole on one thread, so the values are the same.
    #[allow(clippy::too_many_arguments)]
    fn backward_pipelined(
        &self,
        enc: &[Tensor],
        dec: &[Tensor],
        g_out: Tensor,
        models: usize,
        center: Option<(&Tensor, &[f64], SvddTerm)>,
        update: &AdamStep<'_>,
        each: &mut (dyn FnMut(usize, DenseGrads) -> Result<()> + Send),
    ) -> Result<Vec<f64>> {
        let z = enc
            .last()
            .expect("forward_train returns the input and every layer's output");
        let (enc_idx, dec_idx) = self.weight_indices();
        // (network, its layers' inputs, layer, index of its weight in vars()), in the order of
        // the backward pass; the first encoder layer, without an input gradient, comes after.
        let mut order: Vec<(&Mlp, &[Tensor], usize, usize)> = Vec::new();
        for i in (0..self.decoder.layers.len()).rev() {
            order.push((&self.decoder, dec, i, dec_idx[i]));
        }
        for i in (1..self.encoder.layers.len()).rev() {
            order.push((&self.encoder, enc, i, enc_idx[i]));
        }
        // The code's gradient comes out of the decoder's first layer, entry `at_code`.
        let at_code = self.decoder.layers.len() - 1;
        // grads[k]: the gradient at the output of order[k]; the last, at the output of the first
        // encoder layer.
        let grads: Vec<OnceLock<Tensor>> = (0..=order.len()).map(|_| OnceLock::new()).collect();
        let _ = grads[0].set(g_out);
        let chain_ended = AtomicBool::new(false);
        let (order, grads, chain_ended) = (&order, &grads, &chain_ended);
        let _timer = step_profile::timer(step_profile::Phase::Products);
        let (weights, chain) = crate::kernels::pool::join(
            || -> Result<()> {
                let wait = |k: usize| -> Result<&Tensor> {
                    crate::kernels::pool::wait_until(|| {
                        grads[k].get().is_some() || chain_ended.load(Ordering::Acquire)
                    });
                    grads[k].get().ok_or_else(|| {
                        crate::error::CoreError::InvalidInput(
                            "the backward pass's chain of input gradients stopped early".into(),
                        )
                    })
                };
                // A layer's gradients go to `each`, which may start updating its weight, only
                // once the chain has passed the layer: its input gradient reads the weight.
                let mut pending: Option<(usize, DenseGrads)> = None;
                for (k, &(net, acts, i, var)) in order.iter().enumerate() {
                    let g = wait(k)?;
                    if let Some((var, grads)) = pending.take() {
                        each(var, grads)?;
                    }
                    pending = Some((var, net.layers[i].grads(&acts[i], g)?));
                }
                wait(order.len())?;
                match pending {
                    Some((var, grads)) => each(var, grads),
                    None => Ok(()),
                }
            },
            || -> Result<Vec<f64>> {
                /// Marks the chain ended when it returns, fails or panics, so that the weight
                /// lane never waits for a gradient that will not come.
                struct Ended<'a>(&'a AtomicBool);
                impl Drop for Ended<'_> {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::Release);
                    }
                }
                let _ended = Ended(chain_ended);
                let mut svdd = vec![0.0; models];
                for (k, &(net, acts, i, var)) in order.iter().enumerate() {
                    let g = grads[k]
                        .get()
                        .expect("the chain sets each gradient before the next");
                    let mut g_in = net.input_grad(i, &acts[i], g, update.transposed(var))?;
                    if k == at_code {
                        (g_in, svdd) = code_grad(g_in, z, models, center)?;
                    }
                    let _ = grads[k + 1].set(g_in);
                }
                Ok(svdd)
            },
        );
        drop(_timer);
        let svdd = chain?;
        weights?;
        let g = grads[order.len()]
            .get()
            .expect("the chain ended without an error, so it set every gradient");
        each(enc_idx[0], self.encoder.layers[0].grads(&enc[0], g)?)?;
        Ok(svdd)
    }

    /// `models.len()` autoencoders of one config held as one whose networks are stacks
    /// ([`Mlp::stack`]): trained together by [`Autoencoder::train_step_stacked`], split again
    /// by [`Autoencoder::unstack`].
    pub fn stack(models: &[Autoencoder]) -> Result<Self> {
        let Some(first) = models.first() else {
            return Err(crate::error::CoreError::InvalidInput(
                "a stack needs at least one autoencoder".into(),
            ));
        };
        if models.iter().any(|m| m.config != first.config) {
            return Err(crate::error::CoreError::InvalidInput(
                "only autoencoders of one config can be stacked".into(),
            ));
        }
        let half = |f: fn(&Autoencoder) -> &Mlp| {
            Mlp::stack(&models.iter().map(|m| f(m).clone()).collect::<Vec<_>>())
        };
        Ok(Autoencoder {
            config: first.config.clone(),
            encoder: half(|m| &m.encoder)?,
            decoder: half(|m| &m.decoder)?,
        })
    }

    /// The autoencoders of a stack, each with its own weights.
    pub fn unstack(&self) -> Result<Vec<Autoencoder>> {
        let encoders = self.encoder.unstack()?;
        let decoders = self.decoder.unstack()?;
        Ok(encoders
            .into_iter()
            .zip(decoders)
            .map(|(encoder, decoder)| Autoencoder {
                config: self.config.clone(),
                encoder,
                decoder,
            })
            .collect())
    }

    /// Adam over [`Autoencoder::vars`] that also keeps transposed copies of the weights whose
    /// input gradient the backward pass computes (all but the first encoder layer's), which
    /// [`Autoencoder::train_step`] then reads.
    pub fn optimizer(&self, config: AdamConfig) -> Result<Adam> {
        let (enc, dec) = self.weight_indices();
        let needed: Vec<usize> = enc.into_iter().skip(1).chain(dec).collect();
        Adam::new(self.vars(), config)?.keep_transposed(&needed)
    }

    /// Indices in [`Autoencoder::vars`] of the encoder's and the decoder's weights.
    fn weight_indices(&self) -> (Vec<usize>, Vec<usize>) {
        let enc = self.encoder.weight_indices(0);
        let dec = self.decoder.weight_indices(self.encoder.vars().len());
        (enc, dec)
    }

    /// The trainable variables: encoder then decoder.
    pub fn vars(&self) -> Vec<candle_core::Var> {
        let mut v = self.encoder.vars();
        v.extend(self.decoder.vars());
        v
    }

    /// Per-sample reconstruction errors and squared code distances to `center` (to 0 when
    /// `None`), batched, without gradients; sums in f64.
    pub fn sample_errors(
        &self,
        x: SampleView<'_>,
        center: Option<&[f32]>,
        device: &Device,
    ) -> Result<SampleErrors> {
        x.expect_cols(self.config.input_dim)?;
        let mut out = SampleErrors::default();
        let d = x.cols();
        for batch in x.chunks(SCORE_BATCH) {
            let (z, x_hat) = self.forward(&batch.to_tensor(device)?)?;
            let z = z.flatten_all()?.to_vec1::<f32>()?;
            let x_hat = x_hat.flatten_all()?.to_vec1::<f32>()?;
            let k = self.config.latent;
            for (i, (xr, hr)) in batch
                .data()
                .chunks_exact(d)
                .zip(x_hat.chunks_exact(d))
                .enumerate()
            {
                let se: f64 = xr
                    .iter()
                    .zip(hr)
                    .map(|(a, b)| ((b - a) as f64).powi(2))
                    .sum();
                out.reconstruction.push(se / d as f64);
                let zr = &z[i * k..(i + 1) * k];
                let dist: f64 = match center {
                    Some(c) => zr
                        .iter()
                        .zip(c)
                        .map(|(a, b)| ((a - b) as f64).powi(2))
                        .sum(),
                    None => zr.iter().map(|a| (*a as f64).powi(2)).sum(),
                };
                out.distance.push(dist);
            }
        }
        Ok(out)
    }

    /// Mean code of the samples (f64 sums), as used for a fixed centre.
    pub fn mean_code(&self, x: SampleView<'_>, device: &Device) -> Result<Vec<f32>> {
        self.encoder.mean_output(x, device)
    }
}

/// The gradient at the code layer's pre-activation from the decoder's input gradient `g_z`
/// at the codes `z`: the SVDD term's gradient added when there is a centre, then the code
/// layer's leaky ReLU. Returns it with each of the `models` models' SVDD loss (0 without a
/// centre).
fn code_grad(
    g_z: Tensor,
    z: &Tensor,
    models: usize,
    center: Option<(&Tensor, &[f64], SvddTerm)>,
) -> Result<(Tensor, Vec<f64>)> {
    let (g_z, svdd) = match center {
        Some((c, gammas, term)) => svdd_grad(g_z, z, c, gammas, term == SvddTerm::FirstSample)?,
        None => (g_z, vec![0.0; models]),
    };
    Ok((activation_backward(g_z, z, Activation::LeakyRelu)?, svdd))
}
