//! Ruff's LeNet-type convolutional networks for Deep SVDD on images (`mnist_LeNet.py` and
//! `cifar10_LeNet.py` of lukasruff/Deep-SVDD-PyTorch), with their autoencoders for
//! pre-training.
//!
//! MNIST and Fashion-MNIST (1 x 28 x 28): two blocks of a 5x5 convolution (8, then 4 channels,
//! padding 2, no bias), batch normalisation without affine parameters (eps 1e-4), leaky ReLU
//! (slope 0.01) and 2x2 max pooling, then a bias-free linear layer to a 32-dimensional code.
//! CIFAR-10 (3 x 32 x 32): three such blocks of 32, 64 and 128 channels and a 128-dimensional
//! code. The autoencoders mirror them with transposed convolutions and nearest upsampling and
//! end in a sigmoid, as Ruff's `*_LeNet_Autoencoder`.
//!
//! Batch normalisation uses the batch's statistics while training and updates running
//! statistics (momentum 0.1, unbiased variance) that are used when the network is evaluated
//! (the centre's initialisation and scoring), as PyTorch's `BatchNorm2d` in `train()` and
//! `eval()` mode. The running statistics are part of the model file.

use candle_core::{Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use dasvdd_core::checkpoint::Checkpoint;
use dasvdd_core::kernels::conv;
use dasvdd_core::{CoreError, Result};

/// Images per forward pass when scoring and when taking the centre: the training batch. At
/// the fully connected networks' 1,024 rows ([`dasvdd_core::mlp::SCORE_BATCH`]) each of the
/// CIFAR-10 network's first activations takes 134 MB, above the largest block glibc serves
/// from its heap (32 MiB), so every scoring batch mapped and faulted in its buffers afresh; at
/// 200 they take 26 MB. Each image's embedding does not depend on the batch (tested).
pub const SCORE_BATCH: usize = 200;

/// Batch normalisation's epsilon in Ruff's networks.
const BN_EPS: f64 = 1e-4;
/// Batch normalisation's running-statistics momentum (PyTorch's default).
const BN_MOMENTUM: f64 = 0.1;
/// Side of every convolution kernel.
const KERNEL: usize = 5;

/// Which of Ruff's two networks, chosen by the input's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LenetKind {
    /// 1 x 28 x 28 grey images (MNIST, Fashion-MNIST): 784 features.
    Mnist,
    /// 3 x 32 x 32 colour images, channel-major as in CIFAR-10's files: 3,072 features.
    Cifar10,
}

impl LenetKind {
    /// The network for inputs of `cols` features, or an error naming the widths that fit.
    pub fn for_input(cols: usize) -> Result<Self> {
        match cols {
            784 => Ok(LenetKind::Mnist),
            3072 => Ok(LenetKind::Cifar10),
            _ => Err(CoreError::InvalidInput(format!(
                "the LeNet network takes 28x28 grey images (784 features) or 32x32 colour \
                 images (3072 features), not {cols} features; use network = \"mlp\" for \
                 other data"
            ))),
        }
    }

    /// (channels, height, width) of one input image.
    pub fn input_shape(self) -> (usize, usize, usize) {
        match self {
            LenetKind::Mnist => (1, 28, 28),
            LenetKind::Cifar10 => (3, 32, 32),
        }
    }

    /// Output channels of the encoder's convolutions.
    fn conv_channels(self) -> &'static [usize] {
        match self {
            LenetKind::Mnist => &[8, 4],
            LenetKind::Cifar10 => &[32, 64, 128],
        }
    }

    /// Width of the code (Ruff's `rep_dim`).
    pub fn rep_dim(self) -> usize {
        match self {
            LenetKind::Mnist => 32,
            LenetKind::Cifar10 => 128,
        }
    }

    /// Features of the last convolution block, flattened (the linear layer's input).
    fn flat_dim(self) -> usize {
        let (_, h, w) = self.input_shape();
        let blocks = self.conv_channels().len();
        let last = *self.conv_channels().last().unwrap_or(&1);
        last * (h >> blocks) * (w >> blocks)
    }

    /// (in, out, padding) of the decoder's transposed convolutions.
    fn deconvs(self) -> &'static [(usize, usize, usize)] {
        match self {
            LenetKind::Mnist => &[(2, 4, 2), (4, 8, 3), (8, 1, 2)],
            LenetKind::Cifar10 => &[(8, 128, 2), (128, 64, 2), (64, 32, 2), (32, 3, 2)],
        }
    }

    /// Shapes of the encoder's tensors in file order: every convolution's weight, the linear
    /// layer's weight (PyTorch's `(out, in)`), then every batch norm's running mean and variance.
    pub fn encoder_shapes(self) -> Vec<(String, Vec<usize>)> {
        let (mut c_in, _, _) = self.input_shape();
        let mut shapes = Vec::new();
        for (i, &c) in self.conv_channels().iter().enumerate() {
            shapes.push((format!("conv{i}.weight"), vec![c, c_in, KERNEL, KERNEL]));
            c_in = c;
        }
        shapes.push(("fc.weight".into(), vec![self.rep_dim(), self.flat_dim()]));
        for (i, &c) in self.conv_channels().iter().enumerate() {
            shapes.push((format!("bn{i}.running_mean"), vec![c]));
            shapes.push((format!("bn{i}.running_var"), vec![c]));
        }
        shapes
    }
}

/// Running statistics of one batch normalisation without affine parameters.
#[derive(Debug, Clone)]
pub struct BatchNormStats {
    /// Running mean of every channel.
    pub mean: Tensor,
    /// Running (unbiased) variance of every channel.
    pub var: Tensor,
}

impl BatchNormStats {
    fn new(channels: usize, device: &Device) -> Result<Self> {
        Ok(BatchNormStats {
            mean: Tensor::zeros(channels, candle_core::DType::F32, device)?,
            var: Tensor::ones(channels, candle_core::DType::F32, device)?,
        })
    }

    /// `(1, channels, 1, ...)`: the shape that broadcasts a per-channel value over `dims`.
    fn channel_shape(dims: &[usize]) -> Vec<usize> {
        let mut shape = vec![1usize; dims.len()];
        shape[1] = dims[1];
        shape
    }

    /// Normalises `x` (`(batch, channels, ...)`) per channel with the running statistics.
    fn apply_eval(&self, x: &Tensor) -> Result<Tensor> {
        let shape = Self::channel_shape(x.dims());
        let mean = self.mean.reshape(shape.as_slice())?;
        let std = (self.var.reshape(shape.as_slice())? + BN_EPS)?.sqrt()?;
        Ok(x.broadcast_sub(&mean)?.broadcast_div(&std)?)
    }

    /// Normalises `x` (`(batch, channels, ...)`) per channel with the batch's statistics
    /// (biased variance) and moves the running statistics towards them (unbiased variance).
    fn apply_train(&mut self, x: &Tensor) -> Result<Tensor> {
        let (y, mean, var) = conv::batch_norm_train(x, BN_EPS)?;
        self.update(x, mean, var)?;
        Ok(y)
    }

    /// [`BatchNormStats::apply_train`] without recording a graph, for the explicit backward
    /// pass: also returns the batch statistics that [`conv::batch_norm_backward`] takes.
    fn apply_train_explicit(&mut self, x: &Tensor) -> Result<(Tensor, Vec<(f64, f64)>)> {
        let (y, stats) = conv::batch_norm_forward(x, BN_EPS)?;
        let mean: Vec<f32> = stats.iter().map(|s| s.0 as f32).collect();
        let var: Vec<f32> = stats.iter().map(|s| s.1 as f32).collect();
        let device = x.device();
        self.update(x, Tensor::new(mean, device)?, Tensor::new(var, device)?)?;
        Ok((y, stats))
    }

    /// Moves the running statistics towards a batch's mean and biased variance of `x`'s
    /// channels (the running variance is unbiased).
    fn update(&mut self, x: &Tensor, mean: Tensor, var: Tensor) -> Result<()> {
        let n = x.elem_count() / x.dim(1)?;
        let unbiased = (var * (n as f64 / (n.max(2) - 1) as f64))?;
        self.mean = ((&self.mean * (1.0 - BN_MOMENTUM))? + (mean * BN_MOMENTUM)?)?;
        self.var = ((&self.var * (1.0 - BN_MOMENTUM))? + (unbiased * BN_MOMENTUM)?)?;
        Ok(())
    }
}

/// One layer of a forward pass run for the explicit backward pass: what its backward pass
/// needs. Weights are named by their index in the network's `vars()`.
enum Record {
    /// `conv_forward(input, weights[weight], pad, transposed)`.
    Conv {
        input: Tensor,
        weight: usize,
        pad: usize,
        transposed: bool,
    },
    /// Batch normalisation in training mode: its output and batch statistics.
    BatchNorm {
        output: Tensor,
        stats: Vec<(f64, f64)>,
    },
    /// Leaky ReLU: its output.
    LeakyRelu { output: Tensor },
    /// 2x2 max pooling: its input.
    MaxPool { input: Tensor },
    /// Nearest upsampling by `scale`.
    Upsample { scale: usize },
    /// A reshape from `from`.
    Reshape { from: Vec<usize> },
    /// `input @ weights[weight]^T`, bias-free.
    Linear { input: Tensor, weight: usize },
}

/// The layers of a forward pass, in order, with the weights they read.
struct Tape {
    records: Vec<Record>,
    weights: Vec<Tensor>,
}

impl Tape {
    /// An empty tape over `vars`' current values (outside any graph).
    fn new(vars: &[Var]) -> Self {
        Tape {
            records: Vec::new(),
            weights: vars.iter().map(|v| v.as_tensor().detach()).collect(),
        }
    }

    fn conv(&mut self, x: &Tensor, weight: usize, pad: usize, transposed: bool) -> Result<Tensor> {
        let y = conv::conv_forward(x, &self.weights[weight], pad, transposed)?;
        self.records.push(Record::Conv {
            input: x.clone(),
            weight,
            pad,
            transposed,
        });
        Ok(y)
    }

    fn batch_norm(&mut self, x: &Tensor, bn: &mut BatchNormStats) -> Result<Tensor> {
        let (y, stats) = bn.apply_train_explicit(x)?;
        self.records.push(Record::BatchNorm {
            output: y.clone(),
            stats,
        });
        Ok(y)
    }

    fn leaky_relu(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = conv::leaky_relu_forward(x)?;
        self.records.push(Record::LeakyRelu { output: y.clone() });
        Ok(y)
    }

    fn max_pool(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = conv::max_pool2_forward(x)?;
        self.records.push(Record::MaxPool { input: x.clone() });
        Ok(y)
    }

    fn upsample(&mut self, x: &Tensor, scale: usize) -> Result<Tensor> {
        self.records.push(Record::Upsample { scale });
        Ok(conv::upsample_nearest2d_forward(x, scale)?)
    }

    fn reshape(&mut self, x: &Tensor, shape: &[usize]) -> Result<Tensor> {
        self.records.push(Record::Reshape {
            from: x.dims().to_vec(),
        });
        Ok(x.reshape(shape)?)
    }

    fn linear(&mut self, x: &Tensor, weight: usize) -> Result<Tensor> {
        let y = x.matmul(&self.weights[weight].t()?)?;
        self.records.push(Record::Linear {
            input: x.clone(),
            weight,
        });
        Ok(y)
    }

    /// Every weight's gradient (in `vars()` order) from the last layer's output gradient `d`,
    /// layer by layer from the last; the first layer (a convolution of the input images) passes
    /// none back. The same operations, in the same order, as candle's autograd runs for the
    /// custom ops.
    fn backward(self, mut d: Tensor) -> Result<Vec<Tensor>> {
        let Tape { records, weights } = self;
        let mut grads: Vec<Option<Tensor>> = vec![None; weights.len()];
        for (i, record) in records.into_iter().enumerate().rev() {
            d = match record {
                Record::Conv {
                    input,
                    weight,
                    pad,
                    transposed,
                } => {
                    let (dx, dw) =
                        conv::conv_backward(&input, &weights[weight], pad, transposed, &d, i > 0)?;
                    grads[weight] = Some(dw);
                    match dx {
                        Some(dx) => dx,
                        None => break,
                    }
                }
                Record::BatchNorm { output, stats } => {
                    conv::batch_norm_backward(&d, &output, &stats, BN_EPS)?
                }
                Record::LeakyRelu { output } => conv::leaky_relu_backward(&d, &output)?,
                Record::MaxPool { input } => conv::max_pool2_backward(&input, &d)?,
                Record::Upsample { scale } => conv::upsample_nearest2d_backward(&d, scale)?,
                Record::Reshape { from } => d.reshape(from)?,
                Record::Linear { input, weight } => {
                    // As candle's matmul and transpose backward passes compute them (made
                    // contiguous, as Adam reads its gradients).
                    grads[weight] = Some(input.t()?.matmul(&d)?.t()?.contiguous()?);
                    d.matmul(&weights[weight])?
                }
            };
        }
        grads
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                g.ok_or_else(|| {
                    CoreError::InvalidInput(format!("weight {i} got no gradient in the LeNet step"))
                })
            })
            .collect()
    }
}

/// The gradient scale of a batch mean over `batch` rows, as candle's `mean_all` passes it back
/// (the f64 factor rounded to f32).
fn mean_grad(batch: usize) -> f32 {
    (1.0 / batch.max(1) as f64) as f32
}

/// Weights drawn as PyTorch's default initialisation draws them: uniform in
/// `+-1/sqrt(fan_in)`, with PyTorch's fan-in (`shape[1]` times the kernel's area).
fn uniform_var(rng: &mut ChaCha8Rng, shape: &[usize], device: &Device) -> Result<Var> {
    let fan_in: usize = shape[1..].iter().product();
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-bound..bound) as f32)
        .collect();
    Ok(Var::from_tensor(&Tensor::from_vec(data, shape, device)?)?)
}

/// Ruff's LeNet encoder: phi of Deep SVDD.
#[derive(Debug, Clone)]
pub struct LenetEncoder {
    /// Which network.
    pub kind: LenetKind,
    /// Convolution weights `(out, in, 5, 5)`.
    pub convs: Vec<Var>,
    /// The linear layer's weight, `(rep_dim, flat)`.
    pub fc: Var,
    /// Running statistics of the batch norm after every convolution.
    pub bns: Vec<BatchNormStats>,
}

impl LenetEncoder {
    /// A freshly initialised encoder, its weights drawn from `rng`.
    pub fn init(kind: LenetKind, rng: &mut ChaCha8Rng, device: &Device) -> Result<Self> {
        let shapes = kind.encoder_shapes();
        let blocks = kind.conv_channels().len();
        let convs = shapes[..blocks]
            .iter()
            .map(|(_, s)| uniform_var(rng, s, device))
            .collect::<Result<Vec<_>>>()?;
        let fc = uniform_var(rng, &shapes[blocks].1, device)?;
        let bns = kind
            .conv_channels()
            .iter()
            .map(|&c| BatchNormStats::new(c, device))
            .collect::<Result<_>>()?;
        Ok(LenetEncoder {
            kind,
            convs,
            fc,
            bns,
        })
    }

    /// The trainable weights, in file order.
    pub fn vars(&self) -> Vec<Var> {
        let mut v = self.convs.clone();
        v.push(self.fc.clone());
        v
    }

    /// The code of every row of `x` (`(batch, features)`) in training mode: batch statistics,
    /// running statistics updated.
    pub fn forward_train(&mut self, x: &Tensor) -> Result<Tensor> {
        let mut bns = std::mem::take(&mut self.bns);
        let out = self.stack(x, &mut |i, t| bns[i].apply_train(t));
        self.bns = bns;
        out
    }

    /// The code of every row of `x` (`(batch, features)`) in evaluation mode (running
    /// statistics), as scoring and the centre's initialisation use it.
    pub fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        self.stack(x, &mut |i, t| self.bns[i].apply_eval(t))
    }

    /// The convolution blocks and the linear layer in training mode, recorded on `tape`
    /// (whose weights start with this encoder's `vars()`).
    fn forward_recorded(&mut self, x: &Tensor, tape: &mut Tape) -> Result<Tensor> {
        let (c, h, w) = self.kind.input_shape();
        let batch = x.dim(0)?;
        let mut t = x.reshape((batch, c, h, w))?;
        for i in 0..self.convs.len() {
            t = tape.conv(&t, i, KERNEL / 2, false)?;
            t = tape.batch_norm(&t, &mut self.bns[i])?;
            t = tape.leaky_relu(&t)?;
            t = tape.max_pool(&t)?;
        }
        let flat_dims = [batch, t.elem_count() / batch.max(1)];
        let flat = tape.reshape(&t, &flat_dims)?;
        tape.linear(&flat, self.convs.len())
    }

    /// One step of Deep SVDD's one-class objective, `mean_i ||phi(x_i) - c||^2`, on the fused
    /// CPU kernels with the explicit backward pass: the loss and every weight's gradient in
    /// `vars()` order (the running statistics move as in [`LenetEncoder::forward_train`]).
    /// The same values as candle's autograd of that loss through `forward_train`.
    pub fn svdd_step(&mut self, x: &Tensor, c: &Tensor) -> Result<(f64, Vec<Tensor>)> {
        let mut tape = Tape::new(&self.vars());
        let z = self.forward_recorded(x, &mut tape)?;
        let diff = z.broadcast_sub(c)?;
        let loss = diff.sqr()?.sum(1)?.mean_all()?.to_scalar::<f32>()?;
        // mean_all, sum and sqr backward: ((z - c) * g) * 2.
        let g = f64::from(mean_grad(z.dim(0)?));
        let dz = diff.affine(g, 0.0)?.affine(2.0, 0.0)?;
        Ok((f64::from(loss), tape.backward(dz)?))
    }

    /// The convolution blocks and the linear layer, normalising block `i` with `norm(i, .)`.
    fn stack(
        &self,
        x: &Tensor,
        norm: &mut dyn FnMut(usize, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let (c, h, w) = self.kind.input_shape();
        let batch = x.dim(0)?;
        let mut t = x.reshape((batch, c, h, w))?;
        for (i, weight) in self.convs.iter().enumerate() {
            t = conv::conv2d(&t, weight.as_tensor(), KERNEL / 2)?;
            t = norm(i, &t)?;
            t = conv::leaky_relu(&t)?;
            t = conv::max_pool2(&t)?;
        }
        let flat = t.reshape((batch, ()))?;
        Ok(flat.matmul(&self.fc.as_tensor().t()?)?)
    }

    /// The encoder's tensors under `prefix`, in file order, on the CPU.
    pub fn tensors(&self, prefix: &str) -> Result<Vec<(String, Tensor)>> {
        let shapes = self.kind.encoder_shapes();
        let mut values: Vec<Tensor> = self.vars().iter().map(|v| v.as_tensor().clone()).collect();
        for bn in &self.bns {
            values.push(bn.mean.clone());
            values.push(bn.var.clone());
        }
        shapes
            .into_iter()
            .zip(values)
            .map(|((name, _), t)| Ok((format!("{prefix}.{name}"), t.to_device(&Device::Cpu)?)))
            .collect()
    }

    /// Loads the encoder of `kind` from `ck`'s tensors under `prefix`: every shape is fixed by
    /// `kind`, checked before anything is read, and every value must be finite (variances
    /// also non-negative).
    pub fn load(ck: &Checkpoint, prefix: &str, kind: LenetKind, device: &Device) -> Result<Self> {
        let shapes = kind.encoder_shapes();
        for (name, shape) in &shapes {
            ck.check_tensor(&format!("{prefix}.{name}"), shape)?;
        }
        let mut tensors = shapes
            .iter()
            .map(|(name, shape)| ck.tensor(&format!("{prefix}.{name}"), shape, device))
            .collect::<Result<Vec<_>>>()?
            .into_iter();
        let blocks = kind.conv_channels().len();
        let convs = (0..blocks)
            .map(|_| Ok(Var::from_tensor(&tensors.next().expect("shape list"))?))
            .collect::<Result<Vec<_>>>()?;
        let fc = Var::from_tensor(&tensors.next().expect("shape list"))?;
        let mut bns = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let mean = tensors.next().expect("shape list");
            let var = tensors.next().expect("shape list");
            if var.min(0)?.to_scalar::<f32>()? < 0.0 {
                return Err(ck.error(format!(
                    "tensor `{prefix}.bn{i}.running_var` holds a negative variance"
                )));
            }
            bns.push(BatchNormStats { mean, var });
        }
        Ok(LenetEncoder {
            kind,
            convs,
            fc,
            bns,
        })
    }

    /// Whether every weight and running statistic is finite.
    pub fn all_finite(&self) -> Result<bool> {
        let mut all: Vec<Tensor> = self.vars().iter().map(|v| v.as_tensor().clone()).collect();
        for bn in &self.bns {
            all.push(bn.mean.clone());
            all.push(bn.var.clone());
        }
        for t in all {
            let s = t.flatten_all()?.to_vec1::<f32>()?;
            if !s.iter().all(|v| v.is_finite()) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Ruff's LeNet autoencoder: the encoder, then transposed convolutions back to the image.
#[derive(Debug)]
pub struct LenetAutoencoder {
    /// The encoder, which becomes phi after pre-training.
    pub encoder: LenetEncoder,
    /// Transposed-convolution weights `(in, out, 5, 5)`.
    deconvs: Vec<Var>,
    /// Batch norms after every transposed convolution but the last.
    bns: Vec<BatchNormStats>,
    /// CIFAR-10's autoencoder normalises the code too (`bn1d`).
    code_bn: Option<BatchNormStats>,
}

impl LenetAutoencoder {
    /// A freshly initialised autoencoder around `encoder`, the decoder's weights drawn from
    /// `rng`.
    pub fn init(encoder: LenetEncoder, rng: &mut ChaCha8Rng, device: &Device) -> Result<Self> {
        let kind = encoder.kind;
        let specs = kind.deconvs();
        let deconvs = specs
            .iter()
            .map(|&(i, o, _)| uniform_var(rng, &[i, o, KERNEL, KERNEL], device))
            .collect::<Result<Vec<_>>>()?;
        let bns = specs[..specs.len() - 1]
            .iter()
            .map(|&(_, o, _)| BatchNormStats::new(o, device))
            .collect::<Result<_>>()?;
        let code_bn = match kind {
            LenetKind::Mnist => None,
            LenetKind::Cifar10 => Some(BatchNormStats::new(kind.rep_dim(), device)?),
        };
        Ok(LenetAutoencoder {
            encoder,
            deconvs,
            bns,
            code_bn,
        })
    }

    /// Every trainable weight: the encoder's, then the decoder's.
    pub fn vars(&self) -> Vec<Var> {
        let mut v = self.encoder.vars();
        v.extend(self.deconvs.iter().cloned());
        v
    }

    /// The reconstruction of every row of `x`, flattened to `(batch, features)`, in training
    /// mode.
    pub fn forward_train(&mut self, x: &Tensor) -> Result<Tensor> {
        let kind = self.encoder.kind;
        let batch = x.dim(0)?;
        let mut code = self.encoder.forward_train(x)?;
        if let Some(bn) = &mut self.code_bn {
            code = bn.apply_train(&code)?;
        }
        let rep = kind.rep_dim();
        let mut t = code.reshape((batch, rep / 16, 4, 4))?;
        t = conv::leaky_relu(&t)?;
        if kind == LenetKind::Mnist {
            t = t.upsample_nearest2d(8, 8)?;
        }
        let specs = kind.deconvs();
        for (i, (w, &(_, _, pad))) in self.deconvs.iter().zip(specs).enumerate() {
            t = conv::conv_transpose2d(&t, w.as_tensor(), pad)?;
            if let Some(bn) = self.bns.get_mut(i) {
                t = bn.apply_train(&t)?;
                t = conv::leaky_relu(&t)?;
                let (h, w) = (t.dim(2)?, t.dim(3)?);
                t = t.upsample_nearest2d(2 * h, 2 * w)?;
            }
        }
        let out = candle_nn::ops::sigmoid(&t)?;
        Ok(out.reshape((batch, ()))?)
    }
}

impl LenetAutoencoder {
    /// One pre-training step on the fused CPU kernels with the explicit backward pass: the
    /// loss (the summed squared error per image, mean over the batch, as Ruff's) and every
    /// weight's gradient in `vars()` order. The same gradients as candle's autograd of that
    /// loss through [`LenetAutoencoder::forward_train`]; the loss is summed in f64.
    pub fn reconstruction_step(&mut self, x: &Tensor) -> Result<(f64, Vec<Tensor>)> {
        let kind = self.encoder.kind;
        let batch = x.dim(0)?;
        let mut tape = Tape::new(&self.vars());
        let mut code = self.encoder.forward_recorded(x, &mut tape)?;
        if let Some(bn) = &mut self.code_bn {
            code = tape.batch_norm(&code, bn)?;
        }
        let rep = kind.rep_dim();
        let mut t = tape.reshape(&code, &[batch, rep / 16, 4, 4])?;
        t = tape.leaky_relu(&t)?;
        if kind == LenetKind::Mnist {
            t = tape.upsample(&t, 2)?;
        }
        let first = self.encoder.vars().len();
        let specs = kind.deconvs();
        for (i, &(_, _, pad)) in specs.iter().enumerate() {
            t = tape.conv(&t, first + i, pad, true)?;
            if let Some(bn) = self.bns.get_mut(i) {
                t = tape.batch_norm(&t, bn)?;
                t = tape.leaky_relu(&t)?;
                t = tape.upsample(&t, 2)?;
            }
        }
        let out = candle_nn::ops::sigmoid(&t)?;
        let shape = out.dims().to_vec();
        let s = out.flatten_all()?.to_vec1::<f32>()?;
        let target = x.flatten_all()?.to_vec1::<f32>()?;
        if s.len() != target.len() {
            return Err(CoreError::InvalidInput(format!(
                "the LeNet autoencoder's output has {} values for {} inputs",
                s.len(),
                target.len()
            )));
        }
        // The loss's gradient at the sigmoid's input, as candle's backward passes of
        // mean_all, sum, sqr, sub and sigmoid compute it: ((d * g) * 2) * ((1 - s) * s).
        let g = mean_grad(batch);
        let mut loss = 0f64;
        let dt: Vec<f32> = s
            .iter()
            .zip(&target)
            .map(|(&s, &x)| {
                let d = s - x;
                loss += f64::from(d) * f64::from(d);
                ((d * g) * 2.0) * ((1.0 - s) * s)
            })
            .collect();
        let dt = Tensor::from_vec(dt, shape, x.device())?;
        Ok((loss / batch.max(1) as f64, tape.backward(dt)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shapes_follow_ruffs_networks() {
        let dev = Device::Cpu;
        for kind in [LenetKind::Mnist, LenetKind::Cifar10] {
            let (c, h, w) = kind.input_shape();
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let enc = LenetEncoder::init(kind, &mut rng, &dev).unwrap();
            let mut ae = LenetAutoencoder::init(enc, &mut rng, &dev).unwrap();
            let x = Tensor::rand(0f32, 1f32, (3, c * h * w), &dev).unwrap();
            assert_eq!(ae.forward_train(&x).unwrap().dims(), &[3, c * h * w]);
            assert_eq!(
                ae.encoder.forward_eval(&x).unwrap().dims(),
                &[3, kind.rep_dim()]
            );
        }
        assert!(LenetKind::for_input(100).is_err());
    }

    /// Every value of `t`, flattened.
    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn an_images_embedding_does_not_depend_on_its_batch() {
        let dev = Device::Cpu;
        for kind in [LenetKind::Mnist, LenetKind::Cifar10] {
            let (c, h, w) = kind.input_shape();
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            let mut enc = LenetEncoder::init(kind, &mut rng, &dev).unwrap();
            let x = Tensor::rand(0f32, 1f32, (7, c * h * w), &dev).unwrap();
            // Running statistics away from their start, as after training.
            enc.forward_train(&x).unwrap();
            let whole = flat(&enc.forward_eval(&x).unwrap());
            let mut parts = flat(&enc.forward_eval(&x.narrow(0, 0, 3).unwrap()).unwrap());
            parts.extend(flat(
                &enc.forward_eval(&x.narrow(0, 3, 4).unwrap()).unwrap(),
            ));
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&whole), bits(&parts), "{kind:?}");
        }
    }

    #[test]
    fn explicit_backward_passes_give_autograds_gradients_to_the_bit() {
        let dev = Device::Cpu;
        for kind in [LenetKind::Mnist, LenetKind::Cifar10] {
            let (c, h, w) = kind.input_shape();
            let make = || {
                let mut rng = ChaCha8Rng::seed_from_u64(5);
                let enc = LenetEncoder::init(kind, &mut rng, &dev).unwrap();
                LenetAutoencoder::init(enc, &mut rng, &dev).unwrap()
            };
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let values: Vec<f32> = (0..6 * c * h * w).map(|_| rng.random::<f32>()).collect();
            let x = Tensor::from_vec(values, (6, c * h * w), &dev).unwrap();
            let (mut explicit, mut autograd) = (make(), make());

            let (loss, grads) = explicit.reconstruction_step(&x).unwrap();
            let rec = autograd.forward_train(&x).unwrap();
            let want_loss = (rec - &x).unwrap().sqr().unwrap().sum(1).unwrap();
            let want_loss = want_loss.mean_all().unwrap();
            let store = want_loss.backward().unwrap();
            let want_loss = f64::from(want_loss.to_scalar::<f32>().unwrap());
            assert!(
                (loss - want_loss).abs() <= 1e-5 * want_loss,
                "{kind:?}: {loss} {want_loss}"
            );
            let vars = autograd.vars();
            assert_eq!(grads.len(), vars.len());
            for (i, (g, v)) in grads.iter().zip(&vars).enumerate() {
                let want = store.get(v.as_tensor()).unwrap();
                assert_eq!(g.dims(), want.dims(), "{kind:?} weight {i}");
                assert!(
                    flat(g).iter().any(|x| *x != 0.0),
                    "{kind:?} weight {i}: zero"
                );
                assert_eq!(flat(g), flat(want), "{kind:?} weight {i}");
            }
            // The running statistics moved alike.
            let stats = |ae: &LenetAutoencoder| {
                let mut all = Vec::new();
                for bn in ae.encoder.bns.iter().chain(&ae.bns).chain(&ae.code_bn) {
                    all.extend(flat(&bn.mean));
                    all.extend(flat(&bn.var));
                }
                all
            };
            assert_eq!(stats(&explicit), stats(&autograd), "{kind:?}");
            assert!(stats(&explicit).iter().any(|v| *v != 0.0 && *v != 1.0));

            // The one-class step of the encoder.
            let centre: Vec<f32> = (0..kind.rep_dim()).map(|i| (i % 5) as f32 * 0.1).collect();
            let centre = Tensor::from_vec(centre, kind.rep_dim(), &dev).unwrap();
            let (loss, grads) = explicit.encoder.svdd_step(&x, &centre).unwrap();
            let z = autograd.encoder.forward_train(&x).unwrap();
            let want_loss = z.broadcast_sub(&centre).unwrap().sqr().unwrap();
            let want_loss = want_loss.sum(1).unwrap().mean_all().unwrap();
            let store = want_loss.backward().unwrap();
            assert_eq!(loss, f64::from(want_loss.to_scalar::<f32>().unwrap()));
            for (i, (g, v)) in grads.iter().zip(&autograd.encoder.vars()).enumerate() {
                let want = store.get(v.as_tensor()).unwrap();
                assert!(
                    flat(g).iter().any(|x| *x != 0.0),
                    "{kind:?} weight {i}: zero"
                );
                assert_eq!(flat(g), flat(want), "{kind:?} one-class weight {i}");
            }
        }
    }

    #[test]
    fn batch_norm_uses_batch_statistics_then_running_ones() {
        let dev = Device::Cpu;
        let mut bn = BatchNormStats::new(2, &dev).unwrap();
        // Channel 0 holds 1 and 3, channel 1 holds 10 and 30 (batch of 2, 1x1 images).
        let x = Tensor::from_vec(vec![1f32, 10., 3., 30.], (2, 2, 1, 1), &dev).unwrap();
        let y = bn.apply_train(&x).unwrap().flatten_all().unwrap();
        let y = y.to_vec1::<f32>().unwrap();
        // (x - mean) / sqrt(biased var + eps): -1 and +1 up to eps.
        for (got, want) in y.iter().zip([-1f32, -1., 1., 1.]) {
            assert!((got - want).abs() < 1e-3, "{y:?}");
        }
        // Running mean 0.9 * 0 + 0.1 * mean; running var 0.9 * 1 + 0.1 * unbiased var.
        let m = bn.mean.to_vec1::<f32>().unwrap();
        let v = bn.var.to_vec1::<f32>().unwrap();
        assert!(
            (m[0] - 0.2).abs() < 1e-6 && (m[1] - 2.0).abs() < 1e-5,
            "{m:?}"
        );
        assert!((v[0] - (0.9 + 0.1 * 2.0)).abs() < 1e-5, "{v:?}");
        assert!((v[1] - (0.9 + 0.1 * 200.0)).abs() < 1e-3, "{v:?}");
    }
}
