//! The registry entries of the paper's six methods: each method's params type implements
//! [`RegisteredMethod`] (its row of the registry, its config table, its paper setting for a
//! network, how its table and `--epochs` apply, its loader). A new method writes the same impl
//! in its own module and adds one line to the `registry!` list in `mod.rs`.

use candle_core::Device;
use dasvdd_core::checkpoint::Checkpoint;
use dasvdd_core::{
    AutoencoderConfig, CoreError, DasvddConfig, DasvddModel, Detector, Result, TrainConfig,
};

use super::settings::{
    AeSettings, DeepSvddSettings, IforestSettings, KdeSettings, NoSettings, NumberOrWord,
    OcsvmSettings,
};
use super::{Method, MethodInfo, RegisteredMethod};
use crate::ae::{AeModel, AeParams};
use crate::deep_svdd::{DeepSvddModel, DeepSvddParams};
use crate::iforest::{IsolationForest, IsolationForestParams};
use crate::kde::{logspace, Bandwidth, Kde, KdeParams};
use crate::ocsvm::{Gamma, OneClassSvm, OneClassSvmParams};

/// Copies every key of the table `$src` that is set into the params `$dst`.
macro_rules! set {
    ($src:expr, $dst:expr, $($f:ident),*) => {
        $( if let Some(v) = &$src.$f { $dst.$f = v.clone(); } )*
    };
}

impl RegisteredMethod for OneClassSvmParams {
    const INFO: MethodInfo = INFO_OCSVM;
    type Settings = OcsvmSettings;

    fn paper_default(_network: AutoencoderConfig, _train: &TrainConfig, _seed: u64) -> Self {
        OneClassSvmParams::default()
    }

    fn apply(&mut self, s: &OcsvmSettings) -> Result<()> {
        let p = self;
        set!(s, p, nu, tol, shrinking, cache_mb);
        if let Some(g) = &s.gamma {
            p.gamma = match g {
                NumberOrWord::Number(v) => Gamma::Value(*v),
                NumberOrWord::Word(w) if w == "scale" => Gamma::Scale,
                NumberOrWord::Word(w) if w == "auto" => Gamma::Auto,
                NumberOrWord::Word(w) => {
                    return Err(CoreError::param(
                        "gamma",
                        format!("`{w}` is not \"scale\", \"auto\" or a number"),
                    ))
                }
            };
        }
        Ok(())
    }

    fn load_checkpoint(ck: Checkpoint, _device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(OneClassSvm::from_checkpoint(ck)?))
    }
}

impl RegisteredMethod for KdeParams {
    const INFO: MethodInfo = INFO_KDE;
    type Settings = KdeSettings;

    fn paper_default(_network: AutoencoderConfig, _train: &TrainConfig, _seed: u64) -> Self {
        KdeParams::default()
    }

    fn apply(&mut self, s: &KdeSettings) -> Result<()> {
        let p = self;
        let grid_set =
            s.grid_log10_min.is_some() || s.grid_log10_max.is_some() || s.grid_points.is_some();
        let fixed = match &s.bandwidth {
            None => None,
            Some(NumberOrWord::Number(h)) => Some(*h),
            Some(NumberOrWord::Word(w)) if w == "cv" => None,
            Some(NumberOrWord::Word(w)) => {
                return Err(CoreError::param(
                    "bandwidth",
                    format!("`{w}` is not a number or \"cv\""),
                ))
            }
        };
        match fixed {
            Some(h) => {
                if grid_set || s.cv_folds.is_some() {
                    return Err(CoreError::param(
                        "bandwidth",
                        "a fixed bandwidth takes no cv_folds or grid_* keys",
                    ));
                }
                p.bandwidth = Bandwidth::Fixed(h);
            }
            None => {
                let (mut grid, mut folds) = match &p.bandwidth {
                    Bandwidth::CrossValidated { grid, folds } => (grid.clone(), *folds),
                    Bandwidth::Fixed(_) => (Bandwidth::default_grid(), 5),
                };
                if grid_set {
                    grid = logspace(
                        s.grid_log10_min.unwrap_or(-1.0),
                        s.grid_log10_max.unwrap_or(1.0),
                        s.grid_points.unwrap_or(20),
                    );
                }
                if let Some(f) = s.cv_folds {
                    folds = f;
                }
                p.bandwidth = Bandwidth::CrossValidated { grid, folds };
            }
        }
        Ok(())
    }

    fn min_training_rows(&self) -> usize {
        match self.bandwidth {
            Bandwidth::CrossValidated { folds, .. } => folds.max(2),
            Bandwidth::Fixed(_) => 2,
        }
    }

    fn load_checkpoint(ck: Checkpoint, _device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(Kde::from_checkpoint(ck)?))
    }
}

impl RegisteredMethod for IsolationForestParams {
    const INFO: MethodInfo = INFO_IFOREST;
    type Settings = IforestSettings;

    fn paper_default(_network: AutoencoderConfig, _train: &TrainConfig, seed: u64) -> Self {
        IsolationForestParams {
            seed,
            ..IsolationForestParams::default()
        }
    }

    fn apply(&mut self, s: &IforestSettings) -> Result<()> {
        set!(s, self, n_trees, subsample);
        Ok(())
    }

    fn load_checkpoint(ck: Checkpoint, _device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(IsolationForest::from_checkpoint(ck)?))
    }
}

impl RegisteredMethod for AeParams {
    const INFO: MethodInfo = INFO_AE;
    type Settings = AeSettings;

    /// DASVDD's network, trained as DASVDD trains it: epochs, batch size, learning rate and
    /// weight decay of `train`.
    fn paper_default(network: AutoencoderConfig, train: &TrainConfig, seed: u64) -> Self {
        AeParams {
            model: Some(network),
            epochs: train.epochs,
            batch_size: train.batch_size,
            lr: train.lr,
            weight_decay: train.weight_decay,
            seed,
        }
    }

    fn apply(&mut self, s: &AeSettings) -> Result<()> {
        set!(s, self, epochs, batch_size, lr, weight_decay);
        Ok(())
    }

    fn epochs(&self) -> Option<usize> {
        Some(self.epochs)
    }

    fn set_epochs(&mut self, epochs: usize) {
        self.epochs = epochs;
    }

    fn load_checkpoint(ck: Checkpoint, device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(AeModel::from_checkpoint(&ck, device)?))
    }
}

impl RegisteredMethod for DeepSvddParams {
    const INFO: MethodInfo = INFO_DEEP_SVDD;
    type Settings = DeepSvddSettings;

    /// Ruff's setting on DASVDD's network as the encoder.
    fn paper_default(network: AutoencoderConfig, _train: &TrainConfig, seed: u64) -> Self {
        DeepSvddParams {
            model: Some(network),
            seed,
            ..DeepSvddParams::default()
        }
    }

    fn apply(&mut self, s: &DeepSvddSettings) -> Result<()> {
        set!(
            s,
            self,
            network,
            epochs,
            batch_size,
            lr,
            weight_decay,
            lr_milestones,
            center_eps,
            pretrain_epochs,
            pretrain_lr,
            pretrain_weight_decay,
            pretrain_lr_milestones
        );
        Ok(())
    }

    fn epochs(&self) -> Option<usize> {
        Some(self.epochs)
    }

    /// Both phases (pre-training stays off when it is off).
    fn set_epochs(&mut self, epochs: usize) {
        self.epochs = epochs;
        if self.pretrain_epochs > 0 {
            self.pretrain_epochs = epochs;
        }
    }

    fn load_checkpoint(ck: Checkpoint, device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(DeepSvddModel::from_checkpoint(&ck, device)?))
    }
}

impl RegisteredMethod for DasvddConfig {
    const INFO: MethodInfo = INFO_DASVDD;
    /// DASVDD's settings are a config's `[model]` and `[train]`, not a `[baselines.*]` table.
    type Settings = NoSettings;

    fn paper_default(network: AutoencoderConfig, train: &TrainConfig, seed: u64) -> Self {
        let mut train = train.clone();
        train.seed = seed;
        DasvddConfig {
            model: network,
            train,
        }
    }

    fn apply(&mut self, _s: &NoSettings) -> Result<()> {
        Err(CoreError::param(
            "baselines",
            "DASVDD's settings go in [model] and [train]",
        ))
    }

    fn epochs(&self) -> Option<usize> {
        Some(self.train.epochs)
    }

    fn set_epochs(&mut self, epochs: usize) {
        self.train.epochs = epochs;
    }

    fn load_checkpoint(ck: Checkpoint, device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(DasvddModel::from_checkpoint(&ck, device)?))
    }
}

const INFO_OCSVM: MethodInfo = MethodInfo {
    method: Method::Ocsvm,
    name: crate::ocsvm::METHOD,
    aliases: &["oc_svm"],
    paper_column: "OCSVM",
    neural: false,
    seeded: false,
    settings_keys: Some(&["nu", "gamma", "tol", "shrinking", "cache_mb"]),
};

const INFO_KDE: MethodInfo = MethodInfo {
    method: Method::Kde,
    name: crate::kde::METHOD,
    aliases: &[],
    paper_column: "KDE",
    neural: false,
    seeded: false,
    settings_keys: Some(&[
        "bandwidth",
        "cv_folds",
        "grid_log10_min",
        "grid_log10_max",
        "grid_points",
    ]),
};

const INFO_IFOREST: MethodInfo = MethodInfo {
    method: Method::IsolationForest,
    name: crate::iforest::METHOD,
    aliases: &["if", "isolation_forest"],
    paper_column: "IF",
    neural: false,
    seeded: true,
    settings_keys: Some(&["n_trees", "subsample"]),
};

const INFO_AE: MethodInfo = MethodInfo {
    method: Method::Ae,
    name: crate::ae::METHOD,
    aliases: &["autoencoder"],
    paper_column: "AE",
    neural: true,
    seeded: true,
    settings_keys: Some(&["epochs", "batch_size", "lr", "weight_decay"]),
};

const INFO_DEEP_SVDD: MethodInfo = MethodInfo {
    method: Method::DeepSvdd,
    name: crate::deep_svdd::METHOD,
    aliases: &["dsvdd", "deepsvdd"],
    paper_column: "DSVDD",
    neural: true,
    seeded: true,
    settings_keys: Some(&[
        "network",
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "lr_milestones",
        "center_eps",
        "pretrain_epochs",
        "pretrain_lr",
        "pretrain_weight_decay",
        "pretrain_lr_milestones",
    ]),
};

const INFO_DASVDD: MethodInfo = MethodInfo {
    method: Method::Dasvdd,
    name: "dasvdd",
    aliases: &[],
    paper_column: "DASVDD",
    neural: true,
    seeded: true,
    settings_keys: None,
};
