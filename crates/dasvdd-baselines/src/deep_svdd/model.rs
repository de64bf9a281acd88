//! The trained [`DeepSvddModel`]: embedding, scoring, and its model files.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use dasvdd_core::autoencoder::SCORE_BATCH;
use dasvdd_core::checkpoint::{self, Checkpoint};
use dasvdd_core::mlp::Mlp;
use dasvdd_core::{Activation, Detector, Result, SampleView};

use super::{DeepSvddModel, DeepSvddNetwork, DeepSvddParams, Phi, METHOD};
use crate::ae::{mlp_tensors, to_json};
use crate::lenet::{self, LenetEncoder, LenetKind};

/// `forward` applied to `x` in batches of `batch` rows, concatenated row-major.
fn forward_batched(
    x: SampleView<'_>,
    device: &Device,
    batch: usize,
    forward: &dyn Fn(&Tensor) -> Result<Tensor>,
) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for chunk in x.chunks(batch.max(1)) {
        out.extend(
            forward(&chunk.to_tensor(device)?)?
                .flatten_all()?
                .to_vec1::<f32>()?,
        );
    }
    Ok(out)
}

impl DeepSvddModel {
    /// The network's input width.
    fn input_dim(&self) -> usize {
        match &self.network {
            Phi::Mlp(m) => m.layers.first().map(|l| l.dims().1).unwrap_or(0),
            Phi::Lenet(l) => {
                let (c, h, w) = l.kind.input_shape();
                c * h * w
            }
        }
    }

    /// phi(x) for every sample, row-major `(rows, center.len())`.
    pub fn embed(&self, x: SampleView<'_>) -> Result<Vec<f32>> {
        x.expect_cols(self.input_dim())?;
        match &self.network {
            Phi::Mlp(m) => forward_batched(x, &self.device, SCORE_BATCH, &|xt| m.forward(xt)),
            Phi::Lenet(l) => forward_batched(x, &self.device, lenet::SCORE_BATCH, &|xt| {
                l.forward_eval(xt)
            }),
        }
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Loads a model written by [`Detector::save`] onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::from_checkpoint(&Checkpoint::open(path)?, device)
    }

    /// [`DeepSvddModel::load`] from a file already read (its format checked).
    pub fn from_checkpoint(ck: &Checkpoint, device: &Device) -> Result<Self> {
        ck.expect_method(METHOD)?;
        let params: DeepSvddParams = ck.meta_json("params")?;
        params
            .validate()
            .map_err(|e| ck.error(format!("metadata `params`: {e}")))?;
        if params.network == DeepSvddNetwork::Lenet {
            // The shapes are fixed by the kind, a closed set: nothing here is sized by the file.
            let kind: LenetKind = ck.meta_json("lenet")?;
            ck.check_tensor("center", &[kind.rep_dim()])?;
            let network = LenetEncoder::load(ck, "net", kind, device)?;
            let center = ck
                .tensor("center", &[kind.rep_dim()], &Device::Cpu)?
                .to_vec1::<f32>()?;
            return Ok(DeepSvddModel {
                history: ck.meta_json("history").unwrap_or_default(),
                pretrain_history: ck.meta_json("pretrain_history").unwrap_or_default(),
                preprocessing: ck.metadata().get("preprocessing").cloned(),
                params,
                network: Phi::Lenet(network),
                center,
                device: device.clone(),
            });
        }
        let config = params
            .model
            .clone()
            .ok_or_else(|| ck.error("metadata `params` does not name the network"))?;
        // The network is built from the file's tensors once its size is checked against the
        // file: a hostile `params.model` cannot make this allocate more than the file holds.
        let widths = config.encoder_widths();
        ck.check_tensor("center", &[config.latent])?;
        ck.expect_parameters("params", Mlp::parameter_count(&widths, false))?;
        let network = Mlp::load(
            ck,
            "net",
            &widths,
            false,
            Activation::LeakyRelu,
            Activation::Identity,
            device,
        )?;
        // Checkpoint::tensor refuses non-finite values.
        let center = ck
            .tensor("center", &[config.latent], &Device::Cpu)?
            .to_vec1::<f32>()?;
        Ok(DeepSvddModel {
            history: ck.meta_json("history").unwrap_or_default(),
            pretrain_history: ck.meta_json("pretrain_history").unwrap_or_default(),
            preprocessing: ck.metadata().get("preprocessing").cloned(),
            params,
            network: Phi::Mlp(network),
            center,
            device: device.clone(),
        })
    }
}

impl Detector for DeepSvddModel {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn n_features(&self) -> usize {
        self.input_dim()
    }

    /// `||phi(x) - c||^2`, summed in f64.
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        let z = self.embed(x)?;
        let k = self.center.len().max(1);
        Ok(z.chunks_exact(k)
            .map(|row| {
                row.iter()
                    .zip(&self.center)
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum()
            })
            .collect())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut meta = HashMap::new();
        let mut tensors = match &self.network {
            Phi::Mlp(m) => mlp_tensors("net", m)?,
            Phi::Lenet(l) => {
                meta.insert("lenet".to_string(), to_json(&l.kind));
                l.tensors("net")?
            }
        };
        tensors.push((
            "center".into(),
            Tensor::from_slice(&self.center, self.center.len(), &Device::Cpu)?,
        ));
        meta.insert("method".to_string(), METHOD.to_string());
        meta.insert("params".to_string(), to_json(&self.params));
        meta.insert("seed".to_string(), self.params.seed.to_string());
        meta.insert("history".to_string(), to_json(&self.history));
        meta.insert(
            "pretrain_history".to_string(),
            to_json(&self.pretrain_history),
        );
        if let Some(p) = &self.preprocessing {
            meta.insert("preprocessing".to_string(), p.clone());
        }
        checkpoint::save(path, &tensors, meta)
    }
}
