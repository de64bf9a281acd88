//! The `dasvdd` command line: train a detector on normal data, score new data, evaluate scores,
//! and fetch the paper's datasets.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod input;

/// Deep one-class anomaly detection: DASVDD and the baselines of its paper.
#[derive(Debug, Parser)]
#[command(name = "dasvdd", version, about, arg_required_else_help = true)]
struct Cli {
    /// Log level for tracing events on stderr (error, warn, info, debug, trace)
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a detector on normal samples (CSV or NPY) and save it as one safetensors file
    Train(commands::TrainArgs),
    /// Score samples with a saved detector: one score per row, higher = more anomalous
    Score(commands::ScoreArgs),
    /// Evaluate scores against labels (1 = anomaly): AUROC, average precision, F1
    Eval(commands::EvalArgs),
    /// The paper's datasets: list them, or download one
    Data {
        #[command(subcommand)]
        command: commands::DataCommand,
    },
}

fn main() -> ExitCode {
    dasvdd_core::pin_cpu_threads();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(warning) = dasvdd_core::build_probe::slow_build_warning() {
        tracing::warn!("{warning}");
    }
    let result = match cli.command {
        Command::Train(a) => commands::train(&a),
        Command::Score(a) => commands::score(&a),
        Command::Eval(a) => commands::eval(&a),
        Command::Data { command } => commands::data(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
