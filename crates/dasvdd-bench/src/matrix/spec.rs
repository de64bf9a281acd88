//! What a method of the matrix is: a registry method with an optional DASVDD variant
//! ([`MethodSpec`], written `method` or `dasvdd:key=value`), for the sweeps, the fixed-centre
//! ablation and the fidelity study's switches.

use std::fmt;
use std::str::FromStr;

use anyhow::{anyhow, bail, Result};
use dasvdd_core::config::Variant as TrainVariant;
use serde::{Deserialize, Serialize};

use super::Method;

/// A variant of DASVDD for the sweeps and the fixed-c ablation: `dasvdd:gamma=0.001`,
/// `dasvdd:kappa=0.5`, `dasvdd:latent=64`, `dasvdd:trials=5`, `dasvdd:center=fixed`; the two
/// source profiles `dasvdd-paper` and `dasvdd-code` (also `dasvdd:variant=paper|published-code`);
/// and, for the fidelity study (`docs/fidelity.md`), the paper's settings with one of the 2021
/// code's choices: `dasvdd:svdd_term=first_sample`, `dasvdd:center_grad=accumulate`,
/// `dasvdd:gamma_norm=first_of_batch`, `dasvdd:center_lr_decay=0.01`,
/// `dasvdd:weight_decay=0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// `dasvdd:gamma=<v>`: a fixed gamma instead of the heuristic of eq. (6).
    Gamma(f64),
    /// `dasvdd:kappa=<v>`: the fraction of each batch that trains the network.
    Kappa(f64),
    /// `dasvdd:latent=<n>`: the width of the code layer.
    Latent(usize),
    /// `dasvdd:t=<n>` (or `trials=`): the gamma heuristic over `n` random initialisations.
    Trials(usize),
    /// `dasvdd:center=fixed`: the fixed-centre ablation of Table 3 (mean code of the untrained
    /// network, never trained).
    FixedCenter,
    /// `dasvdd-paper` / `dasvdd-code`: a whole source profile.
    Profile(TrainVariant),
    /// The paper's settings with one of the 2021 code's choices.
    PaperWith(Switch),
}

/// One of the 2021 code's choices, applied alone to the paper's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Switch {
    /// `svdd_term=first_sample`: the SVDD term of the network loss covers only the first
    /// sample of each batch.
    FirstSample,
    /// `center_grad=accumulate`: the centre's gradient is never cleared between steps.
    Accumulate,
    /// `gamma_norm=first_of_batch`: the gamma heuristic's code norm over the first sample of
    /// each batch.
    FirstOfBatch,
    /// `center_lr_decay=<v>`: the AdaGrad learning-rate decay of the centre.
    CenterLrDecay(f64),
    /// `weight_decay=<v>`: Adam's L2 weight decay of the network.
    WeightDecay(f64),
}

impl Variant {
    /// The sweep parameter's name (`gamma`, `kappa`, `latent`, `t`, `center`).
    pub fn parameter(&self) -> &'static str {
        match self {
            Variant::Gamma(_) => "gamma",
            Variant::Kappa(_) => "kappa",
            Variant::Latent(_) => "latent",
            Variant::Trials(_) => "t",
            Variant::FixedCenter => "center",
            Variant::Profile(_) => "variant",
            Variant::PaperWith(Switch::FirstSample) => "svdd_term",
            Variant::PaperWith(Switch::Accumulate) => "center_grad",
            Variant::PaperWith(Switch::FirstOfBatch) => "gamma_norm",
            Variant::PaperWith(Switch::CenterLrDecay(_)) => "center_lr_decay",
            Variant::PaperWith(Switch::WeightDecay(_)) => "weight_decay",
        }
    }

    /// The parameter's value as a number for plots (0 for the categorical ones).
    pub fn value(&self) -> f64 {
        match *self {
            Variant::Gamma(v) | Variant::Kappa(v) => v,
            Variant::PaperWith(Switch::CenterLrDecay(v) | Switch::WeightDecay(v)) => v,
            Variant::Latent(v) | Variant::Trials(v) => v as f64,
            Variant::FixedCenter | Variant::Profile(_) | Variant::PaperWith(_) => 0.0,
        }
    }

    /// True where the variant has no numeric value to plot.
    pub fn is_categorical(&self) -> bool {
        matches!(
            self,
            Variant::FixedCenter
                | Variant::Profile(_)
                | Variant::PaperWith(
                    Switch::FirstSample | Switch::Accumulate | Switch::FirstOfBatch
                )
        )
    }
}

/// A method with an optional DASVDD variant, written `method` or `dasvdd:key=value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MethodSpec {
    /// The registry method.
    pub method: Method,
    /// The DASVDD variant; `None` runs the method with the dataset's config.
    pub variant: Option<Variant>,
}

impl MethodSpec {
    /// The method without a variant.
    pub fn plain(method: Method) -> Self {
        MethodSpec {
            method,
            variant: None,
        }
    }
}

impl FromStr for MethodSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let profile = |v: TrainVariant| MethodSpec {
            method: Method::Dasvdd,
            variant: Some(Variant::Profile(v)),
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "dasvdd-paper" => return Ok(profile(TrainVariant::Paper)),
            "dasvdd-code" => return Ok(profile(TrainVariant::PublishedCode)),
            _ => {}
        }
        let (base, rest) = match s.split_once(':') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        // The registry's message lists its methods; the benchmark also takes the two DASVDD
        // profiles and the `dasvdd:` variants.
        let method: Method = base.parse().map_err(|e| {
            anyhow!(
                "{e}; the benchmark also takes dasvdd-paper, dasvdd-code and DASVDD variants \
                 written dasvdd:key=value (e.g. dasvdd:gamma=0.001)"
            )
        })?;
        let Some(rest) = rest else {
            return Ok(MethodSpec {
                method,
                variant: None,
            });
        };
        if method != Method::Dasvdd {
            bail!("`{s}`: only dasvdd has variants");
        }
        let (key, value) = rest
            .split_once('=')
            .ok_or_else(|| anyhow!("`{s}`: a variant is dasvdd:key=value"))?;
        let num = |v: &str| -> Result<f64> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| anyhow!("`{s}`: `{v}` is not a non-negative number"))
        };
        let int = |v: &str| -> Result<usize> {
            v.parse::<usize>()
                .ok()
                .filter(|x| *x > 0)
                .ok_or_else(|| anyhow!("`{s}`: `{v}` is not a positive integer"))
        };
        let variant = match key {
            "gamma" => Variant::Gamma(num(value)?),
            "kappa" => {
                // The network's share of each batch, as the core checks it: in (0, 1].
                let k = num(value)?;
                if !(k > 0.0 && k <= 1.0) {
                    bail!("`{s}`: kappa is the network's share of a batch, in (0, 1]");
                }
                Variant::Kappa(k)
            }
            "latent" => Variant::Latent(int(value)?),
            "t" | "trials" => Variant::Trials(int(value)?),
            "center" if value == "fixed" => Variant::FixedCenter,
            "variant" => Variant::Profile(TrainVariant::parse(value)?),
            "svdd_term" if value == "first_sample" => Variant::PaperWith(Switch::FirstSample),
            "center_grad" if value == "accumulate" => Variant::PaperWith(Switch::Accumulate),
            "gamma_norm" if value == "first_of_batch" => Variant::PaperWith(Switch::FirstOfBatch),
            "center_lr_decay" => Variant::PaperWith(Switch::CenterLrDecay(num(value)?)),
            "weight_decay" => Variant::PaperWith(Switch::WeightDecay(num(value)?)),
            _ => bail!(
                "`{s}`: variants are gamma=, kappa=, latent=, t=, center=fixed, \
                 variant=paper|published-code, svdd_term=first_sample, center_grad=accumulate, \
                 gamma_norm=first_of_batch, center_lr_decay= and weight_decay="
            ),
        };
        Ok(MethodSpec {
            method,
            variant: Some(variant),
        })
    }
}

impl fmt::Display for MethodSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The two profiles are methods of their own in the main table (no `:`).
        match self.variant {
            Some(Variant::Profile(TrainVariant::Paper)) => return f.write_str("dasvdd-paper"),
            Some(Variant::Profile(TrainVariant::PublishedCode)) => {
                return f.write_str("dasvdd-code")
            }
            _ => {}
        }
        f.write_str(self.method.name())?;
        match self.variant {
            None | Some(Variant::Profile(_)) => Ok(()),
            Some(Variant::PaperWith(Switch::FirstSample)) => f.write_str(":svdd_term=first_sample"),
            Some(Variant::PaperWith(Switch::Accumulate)) => f.write_str(":center_grad=accumulate"),
            Some(Variant::PaperWith(Switch::FirstOfBatch)) => {
                f.write_str(":gamma_norm=first_of_batch")
            }
            Some(Variant::PaperWith(Switch::CenterLrDecay(v))) => write!(f, ":center_lr_decay={v}"),
            Some(Variant::PaperWith(Switch::WeightDecay(v))) => write!(f, ":weight_decay={v}"),
            Some(Variant::Gamma(v)) => write!(f, ":gamma={v}"),
            Some(Variant::Kappa(v)) => write!(f, ":kappa={v}"),
            Some(Variant::Latent(v)) => write!(f, ":latent={v}"),
            Some(Variant::Trials(v)) => write!(f, ":t={v}"),
            Some(Variant::FixedCenter) => write!(f, ":center=fixed"),
        }
    }
}
