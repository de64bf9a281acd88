//! `cargo xtask`: project automation (benchmark matrix, report, sweeps, performance, Slurm).
//!
//! Run `cargo xtask` without arguments for the list of commands.

// The doc comments of the argument structs are clap's `--help` texts, shown verbatim, so they
// write placeholders as `<name>` and sections as `[train]`, which rustdoc would read as HTML
// tags and links.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use clap::{Parser, Subcommand};

use dasvdd_bench as bench;
mod cuda_build;
mod fuzz_seeds;
mod perf;
mod perf_lenet;
mod perf_stack;
mod slurm;
mod torch_script;

/// Project automation for dasvdd-rs.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark matrix (datasets x classes x methods x seeds) into a resumable results
    /// store; `--quick` is a reduced matrix for a CPU
    BenchAll(Box<bench::BenchArgs>),
    /// Merge the results of every shard into REPORT.md, report.csv, report.json and figures
    Report(bench::ReportArgs),
    /// Run a sensitivity study (gamma, t, kappa, latent) or the fixed-centre ablation, then report
    #[command(
        after_help = "Each study has its own defaults, which --datasets, --classes and \
--methods replace (the bench-all defaults in the options above do not apply):\n  \
gamma    CIFAR-10 class 8, gamma in 1e-5, 0.001, 0.1, 10, 1000 and the heuristic\n  \
t        CIFAR-10, every class, T in 1, 2, 5, 10, 15, 20\n  \
kappa    MNIST, every class, kappa in 0.1, 0.3, 0.5, 0.7, 0.9, 1.0\n  \
latent   MNIST, CIFAR-10 and Speech, latent size 32 to 2048\n  \
fixed-c  MNIST, CIFAR-10 and Fashion-MNIST, trainable and fixed centre\n\
The study's class (gamma: 8) applies to its own dataset only; with --datasets every class \
runs unless --classes says otherwise."
    )]
    Sweep(Box<bench::SweepArgs>),
    /// Measure the DASVDD training step on the CPU (samples/s, GFLOP/s) against candle's matrix
    /// product and, when installed, the PyTorch original
    Perf(perf::PerfArgs),
    /// Write (and optionally submit) a Slurm job array running the benchmark matrix in shards
    Slurm(Box<slurm::SlurmArgs>),
    /// Build the `cuda` feature here (no GPU or system toolkit needed: NVIDIA's wheels and a
    /// driver stub) into target/cuda/release, stripped to carry to a GPU machine
    CudaBuild(cuda_build::CudaBuildArgs),
    /// Write the seed corpora of the fuzz targets in fuzz/ (small generated files)
    FuzzSeeds(fuzz_seeds::FuzzSeedsArgs),
    /// Download a dataset (checksums verified) into $DASVDD_DATA/<name> or datasets/<name>,
    /// unless a copy is already where the loaders look; the same as `dasvdd data fetch`
    Fetch {
        /// mnist, fmnist, cifar10, speech, pima, awid3, mimii or odds:<name>
        name: String,
        /// Destination folder instead of the default
        #[arg(long)]
        dest: Option<std::path::PathBuf>,
        /// Hugging Face Hub dataset repository holding the dataset's files under their
        /// catalogue names, tried before the original host; overrides $DASVDD_HF_REPO (hub
        /// address: $HF_ENDPOINT; token for a private or gated one: $HF_TOKEN or the file of
        /// `huggingface-cli login`)
        #[arg(long, value_name = "OWNER/REPO", value_parser = dasvdd_data::fetch::parse_hub_repo)]
        mirror: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message chain only: a bad argument is not a crash, so no backtrace even with
            // RUST_BACKTRACE set (returning the error from main would print one).
            eprintln!("error: {}", error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each quoted once ([`dasvdd_core::error::chain_text`]).
fn error_chain(e: &anyhow::Error) -> String {
    let e: &(dyn std::error::Error + 'static) = e.as_ref();
    dasvdd_core::error::chain_text(e)
}

fn run() -> anyhow::Result<()> {
    dasvdd_core::pin_cpu_threads();
    let heap = dasvdd_core::heap::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Some(warning) = dasvdd_core::build_probe::slow_build_warning() {
        tracing::warn!("{warning}");
    }
    tracing::debug!("heap: {}", heap.describe());
    let cli = Cli::parse();
    match cli.command {
        Command::BenchAll(a) => bench::runner::run(&a),
        Command::Report(a) => bench::report::run(&a),
        Command::Sweep(a) => bench::sweep::run(&a),
        Command::Perf(a) => perf::run(&a),
        Command::Slurm(a) => slurm::run(&a),
        Command::CudaBuild(a) => cuda_build::run_cuda_build(&a),
        Command::FuzzSeeds(a) => fuzz_seeds::run(&a),
        Command::Fetch { name, dest, mirror } => {
            let name: dasvdd_data::DatasetName = name.parse()?;
            let dest = dest.unwrap_or_else(|| dasvdd_data::fetch::default_fetch_dir(&name));
            let report = dasvdd_data::fetch(
                &name,
                &dest,
                &dasvdd_data::FetchOptions::with_hub_repo(mirror.as_deref()),
            )?;
            println!("{} is in {}", report.dataset, report.dir.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo xtask fetch` into a folder it cannot write to printed "error: <dir>: Permission
    /// denied (os error 13): Permission denied (os error 13)".
    /// `cargo xtask fetch --mirror <owner/repo>` is the hub repository of the fetch, in place
    /// of $DASVDD_HF_REPO, as for `dasvdd data fetch`.
    #[test]
    fn fetch_takes_a_hub_mirror() {
        let cli = Cli::try_parse_from(["xtask", "fetch", "mnist", "--mirror", "org/mnist-mirror"])
            .unwrap();
        let Command::Fetch { mirror, .. } = cli.command else {
            panic!("not fetch");
        };
        assert_eq!(
            dasvdd_data::FetchOptions::with_hub_repo(mirror.as_deref())
                .hub_repo
                .as_deref(),
            Some("org/mnist-mirror")
        );
        let err = Cli::try_parse_from(["xtask", "fetch", "mnist", "--mirror", "mnist"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("<owner>/<repo>"), "{err}");
    }

    #[test]
    fn an_os_error_is_printed_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = anyhow::Error::from(dasvdd_data::DataError::io("datasets/mnist", io));
        let text = error_chain(&e);
        assert_eq!(text.matches("ermission denied").count(), 1, "{text}");
        assert!(text.starts_with("datasets/mnist: "), "{text}");
        let e = anyhow::Error::msg("outer").context("context");
        assert_eq!(error_chain(&e), "context: outer");
    }
}
