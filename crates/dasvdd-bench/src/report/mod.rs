//! `cargo xtask report`: merges the results of every shard into `REPORT.md` (with `report.csv`
//! and `report.json` holding the same numbers), compares them with the paper's Table 2 and
//! Table 3, shows the AUROC of each term of DASVDD's score, lists the cells still missing, and
//! draws the figures.
//!
//! Everything but the header (command, commit, device, date) and the seconds columns is a
//! function of the finished cells alone, so one run and merged shards give the same report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::matrix::CellKey;
use crate::provenance::{command_line, commit, unix_now};
use crate::store::{write_atomic, CellRecord, ResultsDir};
use crate::summary::{sweep_points, SweepPoint};

mod paper;
mod rows;
mod sections;
mod table;
#[cfg(test)]
mod tests;

pub use paper::PaperTable;
pub use rows::{missing_cells, table_rows, term_rows, TermRow};
pub use table::{parse_table, write_table, Row, COLUMNS};

use sections::{
    averages_section, missing_section, side_by_side_section, sweeps_section, terms_section,
};
use table::opt;

/// Options of `cargo xtask report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Results directory written by `bench-all` (every shard's)
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The paper's Table 2 [default: configs/table2_auc.csv]
    #[arg(long)]
    pub paper: Option<PathBuf>,
    /// Skip the figures
    #[arg(long)]
    pub no_figures: bool,
}

impl Default for ReportArgs {
    /// What `cargo xtask report` does without arguments: `results/`, the bundled Table 2,
    /// figures drawn.
    fn default() -> Self {
        ReportArgs {
            results: PathBuf::from("results"),
            paper: None,
            no_figures: false,
        }
    }
}

/// Where the paper's table is looked for when `--paper` is not given.
pub fn default_paper_path() -> PathBuf {
    let local = PathBuf::from("configs/table2_auc.csv");
    if local.is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/table2_auc.csv")
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time.
pub fn utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Everything the report shows, also written as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportData {
    /// The main table's rows: per class, then the averages over classes.
    pub rows: Vec<Row>,
    /// The sweeps' and the fixed-centre ablation's points.
    pub sweeps: Vec<SweepPoint>,
    /// The requested cells that are not finished.
    pub missing: Vec<CellKey>,
    /// Number of finished cells in the results directory.
    pub finished_cells: usize,
    /// The AUROC of each term of the score alone, for the methods whose cells record it
    /// (DASVDD's); empty in reports written before 2026-12-03.
    #[serde(default)]
    pub score_terms: Vec<TermRow>,
}

/// Builds the report's numbers from a results directory.
pub fn build(results: &ResultsDir, paper: &PaperTable) -> Result<ReportData> {
    build_from(results, paper, &results.read_cells()?)
}

/// [`build`] from cells already read (so that `run` reads them, and warns of a bad line,
/// once).
fn build_from(
    results: &ResultsDir,
    paper: &PaperTable,
    cells: &BTreeMap<CellKey, CellRecord>,
) -> Result<ReportData> {
    let rows = table_rows(cells, paper);
    let sweeps = sweep_points(cells);
    let (missing, _) = missing_cells(results, cells)?;
    Ok(ReportData {
        rows,
        sweeps,
        missing,
        finished_cells: cells.len(),
        score_terms: term_rows(cells),
    })
}

/// `cargo xtask report`.
pub fn run(args: &ReportArgs) -> Result<()> {
    let results = ResultsDir::new(&args.results);
    if args.results.exists() && !args.results.is_dir() {
        bail!(
            "{} is a file, not a results folder (give the folder `bench-all --results` wrote)",
            args.results.display()
        );
    }
    if !args.results.is_dir() {
        bail!(
            "{} does not exist: run `cargo xtask bench-all --results {}` first",
            args.results.display(),
            args.results.display()
        );
    }
    let cells = results.read_cells()?;
    let requests = results.read_requests()?;
    if cells.is_empty() && requests.is_empty() {
        // An existing folder that bench-all never wrote to (a typo that names another
        // folder): no report that would say every requested cell is finished.
        bail!(
            "{} holds no results: no cells and no requests of `cargo xtask bench-all` (give the \
             folder its --results named)",
            args.results.display()
        );
    }
    let paper = PaperTable::load(&args.paper.clone().unwrap_or_else(default_paper_path))?;
    let data = build_from(&results, &paper, &cells)?;
    let (_, unavailable) = missing_cells(&results, &cells)?;
    let figures = if args.no_figures {
        Vec::new()
    } else {
        crate::figures::draw_all(&results, &cells).unwrap_or_else(|e| {
            eprintln!("warning: figures not drawn: {e:#}");
            Vec::new()
        })
    };
    let devices: BTreeSet<&str> = cells.values().map(|c| c.device.as_str()).collect();
    let versions: BTreeSet<&str> = cells.values().map(|c| c.crate_version.as_str()).collect();
    let commands: BTreeSet<&str> = requests.iter().map(|r| r.command.as_str()).collect();
    let bench_commits: BTreeSet<&str> = requests
        .iter()
        .filter_map(|r| r.commit.as_deref())
        .collect();
    let quick: BTreeSet<String> = requests
        .iter()
        .filter_map(|r| r.shape.as_ref())
        .filter(|s| s.quick)
        .map(|s| {
            format!(
                "- Quick run: seeded subsets of at most {} training and {} test samples per split \
                 and few epochs (`quick_epochs` of the config); not the paper's protocol",
                opt(&s.max_train),
                opt(&s.max_test)
            )
        })
        .collect();
    let mut md = String::new();
    md.push_str("# DASVDD benchmark report\n\n");
    let _ = writeln!(md, "- Report command: `{}`", command_line());
    for c in &commands {
        let _ = writeln!(md, "- Benchmark command: `{c}`");
    }
    let _ = writeln!(
        md,
        "- Commit of the benchmark runs: {}",
        if bench_commits.is_empty() {
            "unknown".to_string()
        } else {
            bench_commits.into_iter().collect::<Vec<_>>().join(", ")
        }
    );
    let _ = writeln!(md, "- Commit of this report: {}", commit());
    for q in &quick {
        let _ = writeln!(md, "{q}");
    }
    let _ = writeln!(
        md,
        "- Device of the neural methods: {}; crate version {}",
        devices.into_iter().collect::<Vec<_>>().join(", "),
        versions.into_iter().collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(md, "- Date: {}", utc(unix_now()));
    let _ = writeln!(
        md,
        "- Cells: {} finished, {} missing\n",
        data.finished_cells,
        data.missing.len()
    );
    md.push_str(
        "## Table 2: AUROC (%)\n\nPer dataset, normal class and method: AUROC, AP and F1 in %, mean \
         over the seeds run (`runs`); `std` is the sample standard deviation over seeds (ddof = 1; \
         `-` with a single seed). `paper` is the paper's Table 2 (`configs/table2_auc.csv`), \
         `diff` = ours - paper. `avg` rows average the class rows. `config` is the start of the \
         config hash of the cells. Split counts are those of the evaluation (MIMII: clips). \
         `fit s` and `score s` are mean seconds per cell.\n\n",
    );
    md.push_str(&write_table(&data.rows));
    md.push('\n');
    md.push_str(&side_by_side_section(&data.rows));
    md.push_str(&averages_section(&data.rows));
    md.push_str(&terms_section(&data.score_terms));
    md.push_str(&sweeps_section(&data.sweeps));
    if !figures.is_empty() {
        md.push_str("## Figures\n\n");
        for (title, path) in &figures {
            let rel = path.strip_prefix(&results.root).unwrap_or(path);
            let _ = writeln!(md, "### {title}\n\n![{title}]({})\n", rel.display());
        }
    }
    md.push_str(&missing_section(&data.missing, &unavailable));

    // The table must read back as written: REPORT.md is also a machine-readable result.
    let back = parse_table(&md)?;
    if write_table(&back) != write_table(&data.rows) {
        bail!("the report's table does not read back as written");
    }
    write_atomic(&results.root.join("REPORT.md"), md.as_bytes())?;
    let mut csv = COLUMNS.join(",");
    csv.push('\n');
    for r in &data.rows {
        let cells: Vec<String> = r
            .cells()
            .into_iter()
            .map(|c| {
                if c.contains(',') || c.contains('"') {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c
                }
            })
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    write_atomic(&results.root.join("report.csv"), csv.as_bytes())?;
    write_atomic(
        &results.root.join("report.json"),
        &serde_json::to_vec_pretty(&data)?,
    )?;
    println!(
        "wrote {} ({} cells finished, {} missing, {} figures)",
        results.root.join("REPORT.md").display(),
        data.finished_cells,
        data.missing.len(),
        figures.len()
    );
    Ok(())
}
