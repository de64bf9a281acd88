//! `cargo xtask bench-all`: runs this shard's cells of the matrix that are not finished yet and
//! appends each to the results store as soon as it is done.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use dasvdd_core::config::Variant as TrainVariant;
use dasvdd_data::{OneClassSplit, Preprocessing};
use indicatif::{ProgressBar, ProgressStyle};

use crate::matrix::{BenchDataset, CellKey, MethodSpec};
use crate::methods::{data_variant, method_preprocessing, network_parameters, stackable};
use crate::provenance::{command_line, commit};
use crate::store::{CellDetail, CellRecord, CellWriter, MatrixRequest, ResultsDir};

mod cell;
mod data;
mod plan;
#[cfg(test)]
mod tests;

pub use data::{load_split, subsample};
pub use plan::{check_args, other_variant_method, plan, BenchArgs, Plan};

use cell::{run_cell, run_cells_stacked};
use data::split_uses_seed;

/// How a group of passes trained: "one pass of 10" or "2 passes of 1 side by side".
fn describe_passes(group: &[std::ops::Range<usize>]) -> String {
    let sizes: Vec<String> = group.iter().map(|r| r.len().to_string()).collect();
    match group.len() {
        1 => format!("one pass of {}", sizes[0]),
        n => format!("{n} passes of {} side by side", sizes.join(" + ")),
    }
}

/// The most memory the runner keeps in loaded splits for the next cells (at least one split).
const SPLIT_CACHE_BYTES: usize = 1 << 30;

/// Bytes of a split's samples.
fn split_bytes(s: &OneClassSplit) -> usize {
    4 * (s.train.data.len() + s.test.x.data.len())
}

/// Picks the device of the neural methods.
fn pick_device(spec: &str, quick: bool) -> Result<Device> {
    if spec != "auto" {
        return Ok(dasvdd_core::parse_device(spec)?);
    }
    if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
        if let Ok(d) = dasvdd_core::parse_device("cuda") {
            return Ok(d);
        }
    }
    if !quick {
        println!(
            "warning: no CUDA device (build with `--features cuda` on a GPU machine); the neural \
             methods run on the CPU, where the full matrix takes days; --quick is a reduced matrix"
        );
    }
    Ok(Device::Cpu)
}

/// A line above the progress bar, or on stdout where the bar is hidden (not a terminal).
fn say(pb: &ProgressBar, line: String) {
    if pb.is_hidden() {
        println!("{line}");
    } else {
        pb.println(line);
    }
}

/// The cells of `todo` in the units that run together: up to `stack` cells of one stackable
/// method (DASVDD and its variants) and dataset form one unit, placed where its first cell
/// was; every other cell is a unit of its own. With `stack` 1 every cell runs alone.
pub(crate) fn units<'a>(todo: &[&'a CellKey], stack: usize) -> Result<Vec<Vec<&'a CellKey>>> {
    let mut units: Vec<Vec<&CellKey>> = Vec::new();
    let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for &key in todo {
        let spec: MethodSpec = key.method.parse()?;
        if stack > 1 && stackable(&spec) {
            let group = (key.dataset.as_str(), key.method.as_str());
            if let Some(&i) = open.get(&group) {
                if units[i].len() < stack {
                    units[i].push(key);
                    continue;
                }
            }
            open.insert(group, units.len());
        }
        units.push(vec![key]);
    }
    Ok(units)
}

/// `cargo xtask bench-all`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let plan = plan(args)?;
    if !plan.datasets.is_empty() && plan.unavailable.len() == plan.datasets.len() {
        // Nothing could run: an error, not a run that "finishes" doing nothing (a Slurm array
        // of such tasks would all succeed). Where some datasets are present, the missing ones
        // are skipped with a line and listed as missing by the report.
        let why: Vec<String> = plan
            .unavailable
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect();
        bail!(
            "no requested dataset is present, so nothing can run:\n  {}",
            why.join("\n  ")
        );
    }
    let results = ResultsDir::new(&args.results);
    std::fs::create_dir_all(&args.results)
        .with_context(|| format!("cannot create {}", args.results.display()))?;
    for (name, why) in &plan.unavailable {
        println!("skipping {name}: {why}");
    }
    let request = MatrixRequest {
        command: command_line(),
        commit: Some(commit()),
        shape: Some(plan.shape.clone()),
        cells: plan.cells.clone(),
        unavailable: plan.unavailable.clone(),
    };
    results.write_request(&request)?;

    let log_path = results.logs_dir().join(format!(
        "bench-shard{}-{}.log",
        args.shard.to_string().replace('/', "of"),
        std::process::id()
    ));
    std::fs::create_dir_all(results.logs_dir())?;
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DASVDD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log))
        .finish();
    tracing::subscriber::with_default(subscriber, || run_plan(args, &plan, &results, &log_path))
}

fn run_plan(
    args: &BenchArgs,
    plan: &Plan,
    results: &ResultsDir,
    log_path: &std::path::Path,
) -> Result<()> {
    let device = pick_device(&args.device, args.quick)?;
    let done = results.read_cells()?;
    let datasets: BTreeMap<String, BenchDataset> = plan
        .datasets
        .iter()
        .map(|(d, _)| (d.to_string(), d.clone()))
        .collect();
    let mine: Vec<&CellKey> = plan
        .cells
        .iter()
        .enumerate()
        .filter(|(pos, _)| args.shard.owns(*pos))
        .map(|(_, c)| c)
        .collect();
    let todo: Vec<&CellKey> = mine
        .iter()
        .copied()
        .filter(|c| !plan.unavailable.contains_key(&c.dataset) && !done.contains_key(*c))
        .collect();
    let already = mine.iter().filter(|c| done.contains_key(**c)).count();
    println!(
        "shard {}: {} cells, {} already finished, {} to run on {} (results in {}, log {})",
        args.shard,
        mine.len(),
        already,
        todo.len(),
        dasvdd_core::device_name(&device),
        results.root.display(),
        log_path.display()
    );
    tracing::info!(shard = %args.shard, cells = mine.len(), already, todo = todo.len(), "bench-all");
    if todo.is_empty() {
        return Ok(());
    }
    let mut writer = CellWriter::create(results, &args.shard.to_string())?;
    let pb = ProgressBar::new(todo.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    // The last splits loaded, newest last, within SPLIT_CACHE_BYTES: a unit of stacked cells
    // goes through several classes, and the classical methods' cells come back to them.
    type SplitKey = (String, u8, u64, TrainVariant, Option<Preprocessing>);
    let mut cached: Vec<(SplitKey, OneClassSplit)> = Vec::new();
    let mut load =
        |key: &CellKey, dataset: &BenchDataset, spec: &MethodSpec| -> Result<OneClassSplit> {
            let split_seed = if split_uses_seed(dataset) {
                key.seed
            } else {
                0
            };
            let variant = data_variant(&plan.cfg, &key.dataset, spec)?;
            let own = method_preprocessing(&plan.cfg, &key.dataset, spec)?;
            let cache_key = (key.dataset.clone(), key.class, split_seed, variant, own);
            let full = match cached.iter().position(|(k, _)| *k == cache_key) {
                Some(i) => cached.remove(i).1,
                None => load_split(&plan.cfg, dataset, key.class, split_seed, variant, own)?,
            };
            cached.push((cache_key, full.clone()));
            while cached.len() > 1
                && cached.iter().map(|(_, s)| split_bytes(s)).sum::<usize>() > SPLIT_CACHE_BYTES
            {
                cached.remove(0);
            }
            let cap = plan.cfg.dataset(&key.dataset).max_train;
            let max_train = match (plan.shape.max_train, cap) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            subsample(&full, max_train, plan.shape.max_test, key.seed)
        };
    let mut finished = 0usize;
    let mut failed = 0usize;
    let mut elsewhere = 0usize;
    // Rounds: the cells to run, then those another process held, until none is left. A cell
    // held by another process is waited for until that process finishes it or its claim goes
    // stale (its process gone, or a claim from another host without a heartbeat for
    // `claim_stale_after`), and is then run here: so a run ends with every cell of its shard
    // finished, by it or by another, or failed.
    let mut pending: Vec<&CellKey> = todo;
    let mut waiting_since: Option<std::time::Instant> = None;
    loop {
        let mut held_elsewhere: Vec<&CellKey> = Vec::new();
        for unit in units(&pending, args.stack)? {
            // Another process on the same results folder (the same shard started twice, or a
            // resumed run) may be computing a cell, or may just have finished it.
            let mut claims = Vec::with_capacity(unit.len());
            let mut keys: Vec<&CellKey> = Vec::with_capacity(unit.len());
            for key in unit {
                if args.max_cells.is_some_and(|m| finished + keys.len() >= m) {
                    break;
                }
                let Some(claim) = results.claim(key)? else {
                    tracing::info!(cell = %key, "claimed by another process; left for later");
                    held_elsewhere.push(key);
                    continue;
                };
                if results.is_finished(key)? {
                    elsewhere += 1;
                    pb.inc(1);
                    continue;
                }
                claims.push(claim);
                keys.push(key);
            }
            let Some(first) = keys.first() else { continue };
            let dataset = &datasets[&first.dataset];
            let spec: MethodSpec = first.method.parse()?;
            pb.set_message(first.to_string());
            // Stores a cell's outcome at once, so that an interrupted run keeps it.
            let mut store = |key: &CellKey,
                             outcome: Result<(CellRecord, CellDetail)>|
             -> Result<()> {
                match outcome {
                    Ok((record, detail)) => {
                        results.write_detail(&detail)?;
                        writer.append(&record)?;
                        finished += 1;
                        tracing::info!(cell = %key, auroc = record.auroc, fit_seconds = record.fit_seconds, "cell finished");
                        say(
                            &pb,
                            format!(
                                "{key}: AUROC {:.2} (fit {:.1} s)",
                                100.0 * record.auroc,
                                record.fit_seconds
                            ),
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::error!(cell = %key, "cell failed: {e:#}");
                        say(&pb, format!("{key}: failed: {e:#}"));
                    }
                }
                pb.inc(1);
                Ok(())
            };
            // Each cell's data; cells whose training sets have one size can share a pass.
            let mut buckets: Vec<(usize, Vec<(&CellKey, OneClassSplit)>)> = Vec::new();
            for key in keys {
                match load(key, dataset, &spec) {
                    Ok(split) => {
                        let rows = split.train.rows;
                        match buckets.iter_mut().find(|(r, _)| *r == rows) {
                            Some((_, cells)) => cells.push((key, split)),
                            None => buckets.push((rows, vec![(key, split)])),
                        }
                    }
                    Err(e) => store(key, Err(e))?,
                }
            }
            for (_, cells) in buckets {
                // As many models per pass as pay on this device (all of them on a GPU; on the
                // CPU only small networks gain from lockstep).
                let cols = cells[0].1.train.cols;
                let parameters = network_parameters(&plan.cfg, &cells[0].0.dataset, &spec, cols)?;
                // One pass per thread at a time (`fit_stacked` runs them side by side on the
                // CPU), stored when they end.
                let passes = dasvdd_core::stack::sub_stacks(cells.len(), parameters, &device);
                let threads = candle_core::utils::get_num_threads().max(1);
                for group in passes.chunks(threads) {
                    let (Some(first), Some(last)) = (group.first(), group.last()) else {
                        continue;
                    };
                    let cells = &cells[first.start..last.end];
                    if let [(key, split)] = cells {
                        store(
                            key,
                            run_cell(plan, key, dataset, &spec, split, &device, &pb),
                        )?;
                        continue;
                    }
                    let keys: Vec<&CellKey> = cells.iter().map(|(k, _)| *k).collect();
                    let splits: Vec<&OneClassSplit> = cells.iter().map(|(_, s)| s).collect();
                    let started = std::time::Instant::now();
                    match run_cells_stacked(plan, &keys, dataset, &spec, &splits, &device, &pb) {
                        Ok(outcomes) => {
                            say(
                                &pb,
                                format!(
                                    "{} {}: {} models trained at once, {} ({:.1} s)",
                                    keys[0].dataset,
                                    keys[0].method,
                                    keys.len(),
                                    describe_passes(group),
                                    started.elapsed().as_secs_f64()
                                ),
                            );
                            tracing::info!(models = keys.len(), passes = group.len(), dataset = %keys[0].dataset, method = %keys[0].method, "models trained at once");
                            for (key, outcome) in keys.into_iter().zip(outcomes) {
                                store(key, outcome)?;
                            }
                        }
                        Err(e) => {
                            let msg = format!("{e:#}");
                            for key in keys {
                                store(key, Err(anyhow::anyhow!("{msg}")))?;
                            }
                        }
                    }
                }
            }
            drop(claims);
        }
        // The cells another process held: finished by it meanwhile, or still held.
        let done_now = results.read_cells()?;
        let (done_elsewhere, still): (Vec<&CellKey>, Vec<&CellKey>) = held_elsewhere
            .into_iter()
            .partition(|k| done_now.contains_key(*k));
        elsewhere += done_elsewhere.len();
        pb.inc(done_elsewhere.len() as u64);
        if still.is_empty() || args.max_cells.is_some_and(|m| finished >= m) {
            // (With --max-cells reached, the held cells are left as they are.)
            elsewhere += still.len();
            pb.inc(still.len() as u64);
            break;
        }
        if waiting_since.is_none() {
            waiting_since = Some(std::time::Instant::now());
            say(
                &pb,
                format!(
                    "{} cells are being computed by another process (a claim in {}): waiting for \
                 them to finish, or for their claims to go stale ({} s without its heartbeat, \
                 or at once where the process is gone), to run them here",
                    still.len(),
                    results.claims_dir().display(),
                    crate::store::claim_stale_after().as_secs()
                ),
            );
        }
        std::thread::sleep(crate::store::claim_heartbeat().min(std::time::Duration::from_secs(30)));
        pending = still;
    }
    if let Some(t) = waiting_since {
        tracing::info!(
            seconds = t.elapsed().as_secs_f64(),
            "waited for cells held elsewhere"
        );
    }
    pb.finish_and_clear();
    println!(
        "shard {}: {finished} cells finished{}{}; results in {}",
        args.shard,
        if elsewhere > 0 {
            format!(", {elsewhere} finished by another process")
        } else {
            String::new()
        },
        if failed > 0 {
            format!(", {failed} failed (see {})", log_path.display())
        } else {
            String::new()
        },
        results.root.display()
    );
    if failed > 0 {
        bail!("{failed} cells failed");
    }
    Ok(())
}
