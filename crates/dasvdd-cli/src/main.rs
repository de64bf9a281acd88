//! The `dasvdd` command line: train a detector on normal data, score new data, evaluate scores,
//! inspect a model file, and list or fetch the paper's datasets.
//!
//! Every file argument takes `-` for standard input or output, so the commands chain in a pipe.
//! Errors are one line on stderr (`error: ...`, each cause once, no backtrace), exit status 1.

// The doc comments of the argument structs are clap's `--help` texts, shown verbatim, so they
// write placeholders as `<name>` and sections as `[train]`, which rustdoc would read as HTML
// tags and links.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod configs;
mod data;
mod eval;
mod input;
mod inspect;
mod labels;
mod model_file;
mod output;
mod score;
mod settings;
mod train;

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
    /// Train a detector on normal samples and save it as one safetensors file
    #[command(allow_negative_numbers = true)]
    Train(train::TrainArgs),
    /// Score samples with a saved detector: one score per row, higher = more anomalous
    #[command(allow_negative_numbers = true)]
    Score(score::ScoreArgs),
    /// Evaluate scores against labels: AUROC, average precision, and precision, recall and F1
    /// at a threshold
    #[command(allow_negative_numbers = true)]
    Eval(eval::EvalArgs),
    /// Print what a model file holds: method, settings, gamma, training history, threshold
    Inspect(inspect::InspectArgs),
    /// The paper's datasets: list them, or download one
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
}

/// The level names `--log` takes alone; `target=level` directives go to `EnvFilter` as they
/// are. `EnvFilter` reads a bare word as a target name, so a misspelt level (`wran`) would
/// silently turn every message off.
fn check_log_directives(spec: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for d in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !d.contains('=') && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(d)) {
            return Err(format!(
                "`{d}` is not a level ({}) nor a target=level directive",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    dasvdd_core::pin_cpu_threads();
    let heap = dasvdd_core::heap::keep_freed_memory();
    let cli = Cli::parse();
    if let Err(e) = check_log_directives(&cli.log) {
        eprintln!("error: --log {}: {e}", cli.log);
        return ExitCode::FAILURE;
    }
    let filter = match tracing_subscriber::EnvFilter::try_new(&cli.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --log {}: {e}", cli.log);
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only where a person reads them; a log file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
    if let Some(warning) = dasvdd_core::build_probe::slow_build_warning() {
        tracing::warn!("{warning}");
    }
    tracing::debug!("heap: {}", heap.describe());
    let result = match cli.command {
        Command::Train(a) => train::run(&a),
        Command::Score(a) => score::run(&a),
        Command::Eval(a) => eval::run(&a),
        Command::Inspect(a) => inspect::run(&a),
        Command::Data { command } => data::run(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Only the message chain: a user's mistake is not a crash, so no backtrace, even
            // with RUST_BACKTRACE set.
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each quoted once ([`dasvdd_core::error::chain_text`]).
fn error_chain(e: &anyhow::Error) -> String {
    let e: &(dyn std::error::Error + 'static) = e.as_ref();
    dasvdd_core::error::chain_text(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_printed_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let core = dasvdd_core::CoreError::Io {
            path: "m.safetensors".into(),
            source: io,
        };
        let e = anyhow::Error::from(core).context("cannot load the model");
        let text = error_chain(&e);
        assert_eq!(text.matches("not found").count(), 1, "{text}");
        assert!(
            text.starts_with("cannot load the model: m.safetensors"),
            "{text}"
        );
    }
}
