//! `cargo xtask sweep gamma|kappa|latent|t|fixed-c`: the sensitivity studies of Sections
//! 4.5-4.9 (Figs. 5-8) and the fixed-centre ablation (Table 3), run as DASVDD variants of the
//! benchmark matrix (`dasvdd:gamma=0.001`, ...) into the same results store, so that resuming,
//! shards and the report work as for `bench-all`.

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::runner::BenchArgs;

/// Which study to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SweepKind {
    /// Fig. 5: gamma in {1e-5, 1e-3, 0.1, 10, 1e3} against the heuristic, CIFAR-10 class 8
    Gamma,
    /// Fig. 6: T, the trials of the gamma heuristic, on CIFAR-10
    T,
    /// Fig. 7: kappa, the network's share of each batch, on MNIST
    Kappa,
    /// Fig. 8: the latent size from 32 to 2048 on MNIST, CIFAR-10 and Speech
    Latent,
    /// Table 3: trainable versus fixed centre on MNIST, CIFAR-10 and Fashion-MNIST
    FixedC,
}

/// Options of `cargo xtask sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The study
    #[arg(value_enum)]
    pub kind: SweepKind,
    /// Options of `bench-all`; --datasets, --classes and --methods replace the study's defaults
    #[command(flatten)]
    pub bench: BenchArgs,
}

/// The study's default datasets, classes and methods (the paper's).
pub fn defaults(kind: SweepKind) -> (Vec<&'static str>, Vec<u8>, Vec<String>) {
    let with_auto = |variants: Vec<String>| {
        let mut m = variants;
        m.push("dasvdd".into());
        m
    };
    match kind {
        SweepKind::Gamma => (
            vec!["cifar10"],
            vec![8],
            with_auto(
                ["1e-5", "0.001", "0.1", "10", "1000"]
                    .iter()
                    .map(|g| format!("dasvdd:gamma={g}"))
                    .collect(),
            ),
        ),
        SweepKind::T => (
            vec!["cifar10"],
            vec![],
            [1, 2, 5, 10, 15, 20]
                .iter()
                .map(|t| format!("dasvdd:t={t}"))
                .collect(),
        ),
        SweepKind::Kappa => (
            vec!["mnist"],
            vec![],
            [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
                .iter()
                .map(|k| format!("dasvdd:kappa={k}"))
                .collect(),
        ),
        SweepKind::Latent => (
            vec!["mnist", "cifar10", "speech"],
            vec![],
            [32, 64, 128, 256, 512, 1024, 2048]
                .iter()
                .map(|l| format!("dasvdd:latent={l}"))
                .collect(),
        ),
        SweepKind::FixedC => (
            vec!["mnist", "cifar10", "fmnist"],
            vec![],
            vec!["dasvdd".into(), "dasvdd:center=fixed".into()],
        ),
    }
}

/// Fills the study's defaults into the `bench-all` options.
pub fn bench_args(args: &SweepArgs) -> BenchArgs {
    let (datasets, classes, methods) = defaults(args.kind);
    let mut b = args.bench.clone();
    // The study's class is its dataset's (CIFAR-10's class 8 for gamma): with other datasets
    // every class runs unless --classes says otherwise.
    if b.datasets.is_empty() {
        b.datasets = datasets.into_iter().map(String::from).collect();
        if b.classes.is_empty() {
            b.classes = classes;
        }
    }
    if b.methods.is_empty() {
        b.methods = methods;
    }
    b
}

/// `cargo xtask sweep`: runs the study's cells, then writes the report.
pub fn run(args: &SweepArgs) -> Result<()> {
    let bench = bench_args(args);
    crate::runner::run(&bench)?;
    crate::report::run(&crate::report::ReportArgs {
        results: bench.results.clone(),
        paper: None,
        no_figures: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::MethodSpec;

    #[test]
    fn every_default_method_parses() {
        for kind in [
            SweepKind::Gamma,
            SweepKind::T,
            SweepKind::Kappa,
            SweepKind::Latent,
            SweepKind::FixedC,
        ] {
            for m in defaults(kind).2 {
                m.parse::<MethodSpec>().unwrap();
            }
        }
    }
}
