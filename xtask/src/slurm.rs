//! `cargo xtask slurm`: runs the benchmark matrix on a Slurm cluster.
//!
//! It writes two `sbatch` scripts: a job array whose task K runs shard K/N of the matrix
//! (`xtask bench-all --shard K/N --results DIR ...`) against a results directory on a shared
//! filesystem, and a report job (`xtask report --results DIR`) meant to run once every task has
//! ended, whether it succeeded or not (`--dependency=afterany:<array job>`). With `--submit` it
//! submits both and prints their job ids.
//!
//! The tasks run an already built xtask binary (by default the one running this command), so N
//! tasks do not each compile the workspace. A failed or preempted task is simply submitted again
//! (`sbatch --array=K <script>`): the results store skips the cells that are already finished,
//! and the report lists the cells that are still missing.
//!
//! Everything that goes into an `#SBATCH` line is checked to be a single plain word, because
//! Slurm reads those lines without a shell; everything in the script body is shell-quoted.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

/// Job name of the array; the report job is named `<name>-report`.
const DEFAULT_JOB_NAME: &str = "dasvdd-bench";

/// Write (and with `--submit`, submit) a Slurm job array that runs the benchmark matrix in
/// shards, and a report job that runs after every shard has ended.
#[derive(Debug, Clone, Args)]
pub struct SlurmArgs {
    /// Number of array tasks; task K runs shard K/N of the matrix
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,

    /// Slurm partition (or comma-separated partitions) for every job
    #[arg(long)]
    pub partition: Option<String>,

    /// GPUs for each array task (`--gpus-per-task`, needs select/cons_tres on the cluster)
    #[arg(long)]
    pub gpus_per_task: Option<u32>,

    /// Time limit of each array task, in Slurm's format (`MM`, `HH:MM:SS`, `D-HH:MM`, ...)
    #[arg(long)]
    pub time: Option<String>,

    /// Time limit of the report job [default: the value of --time]
    #[arg(long)]
    pub report_time: Option<String>,

    /// CPUs for each array task
    #[arg(long)]
    pub cpus_per_task: Option<u32>,

    /// Memory for each array task, in Slurm's format (`16G`, `4000M`, ...)
    #[arg(long)]
    pub mem: Option<String>,

    /// Run at most this many array tasks at once (`--array=0-(N-1)%K`)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,

    /// Further `#SBATCH` option for both jobs, e.g. `--sbatch-option=--account=proj42`
    /// (repeatable)
    #[arg(
        long = "sbatch-option",
        value_name = "OPTION",
        allow_hyphen_values = true
    )]
    pub sbatch_options: Vec<String>,

    /// Results directory shared by all tasks; on a cluster it must be on a shared filesystem
    #[arg(long, default_value = "results")]
    pub results: PathBuf,

    /// Where to write the array script [default: <results>/slurm/bench-array.sbatch]; the report
    /// script goes beside it, named `<stem>-report.<ext>`
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Shell words that start xtask in each job, e.g. `target/release/xtask` or `cargo xtask`
    /// [default: the xtask binary running this command, so jobs do not rebuild anything]
    #[arg(long)]
    pub command: Option<String>,

    /// Directory the jobs run in [default: the current directory]
    #[arg(long)]
    pub workdir: Option<PathBuf>,

    /// Slurm job name of the array
    #[arg(long, default_value = DEFAULT_JOB_NAME)]
    pub job_name: String,

    /// Submit both scripts with `sbatch` and print the job ids
    #[arg(long)]
    pub submit: bool,

    /// Arguments passed on to `bench-all`, e.g. `-- --datasets fmnist --quick`
    #[arg(last = true, value_name = "BENCH_ALL_ARGS")]
    pub bench_args: Vec<String>,
}

/// Everything the two scripts are made from, with paths made absolute and every value checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JobPlan {
    shards: u32,
    max_parallel: Option<u32>,
    job_name: String,
    /// `#SBATCH` options shared by both jobs (partition, user options).
    common_options: Vec<String>,
    /// `#SBATCH` options of the array tasks only (GPUs, CPUs, memory, time).
    task_options: Vec<String>,
    /// `#SBATCH` options of the report job only (time).
    report_options: Vec<String>,
    /// Shell text that starts xtask.
    command: String,
    workdir: PathBuf,
    results: PathBuf,
    array_script: PathBuf,
    report_script: PathBuf,
    bench_args: Vec<String>,
}

/// The two generated scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scripts {
    array: String,
    report: String,
}

/// Runs `cargo xtask slurm`: writes the scripts and, with `--submit`, submits them.
pub fn run(args: &SlurmArgs) -> Result<()> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let default_command = match &args.command {
        Some(_) => None,
        None => Some(
            std::env::current_exe()
                .context("cannot find the path of the running xtask binary; pass --command")?,
        ),
    };
    let plan = JobPlan::new(args, &cwd, default_command.as_deref())?;
    let scripts = render(&plan);

    let log_dir = plan.log_dir();
    // Slurm does not create the directory of `--output`: a task whose log directory is missing
    // fails before its first line runs, and leaves no log to say why.
    fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create log directory {}", log_dir.display()))?;
    write_script(&plan.array_script, &scripts.array)?;
    write_script(&plan.report_script, &scripts.report)?;
    println!("wrote {}", plan.array_script.display());
    println!("wrote {}", plan.report_script.display());

    if !args.submit {
        println!(
            "submit with:\n  array=$(sbatch --parsable {})\n  sbatch --dependency=afterany:${{array%%;*}} {}",
            shell_quote(&plan.array_script.to_string_lossy()),
            shell_quote(&plan.report_script.to_string_lossy()),
        );
        return Ok(());
    }

    let array_id = sbatch(&[plan.array_script.clone().into_os_string()])?;
    println!("submitted array job {array_id} ({} tasks)", plan.shards);
    let report_id = sbatch(&report_submit_args(&array_id, &plan.report_script))
        .with_context(|| format!("array job {array_id} is submitted but its report job is not"))?;
    println!("submitted report job {report_id} (runs after every task of {array_id} has ended)");
    println!(
        "logs in {}; resubmit task K with: sbatch --array=K {}",
        log_dir.display(),
        shell_quote(&plan.array_script.to_string_lossy()),
    );
    Ok(())
}

impl JobPlan {
    /// Checks the arguments and resolves every relative path against `cwd`. `default_command` is
    /// the binary to run when `--command` is not given.
    fn new(args: &SlurmArgs, cwd: &Path, default_command: Option<&Path>) -> Result<Self> {
        if args.shards == 0 {
            bail!("--shards must be at least 1");
        }
        if args.max_parallel == Some(0) {
            bail!("--max-parallel must be at least 1");
        }
        let workdir = absolute(cwd, args.workdir.as_deref().unwrap_or(Path::new(".")));
        let results = absolute(cwd, &args.results);
        let array_script = match &args.out {
            Some(out) => absolute(cwd, out),
            None => results.join("slurm").join("bench-array.sbatch"),
        };
        let report_script = report_script_path(&array_script)?;

        let job_name = directive_word("--job-name", &args.job_name)?.to_owned();
        // The log path sits in an `#SBATCH` line, read by Slurm without a shell.
        directive_word("--results", &results.to_string_lossy())?;
        if results.to_string_lossy().contains('%') {
            bail!(
                "results directory {} contains '%', which Slurm expands in log file names",
                results.display()
            );
        }

        let mut common_options = Vec::new();
        if let Some(partition) = &args.partition {
            if partition.is_empty()
                || !partition
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.,".contains(c))
            {
                bail!("--partition {partition:?} is not a slurm partition name");
            }
            common_options.push(format!("--partition={partition}"));
        }
        for option in &args.sbatch_options {
            let option = directive_word("--sbatch-option", option)?;
            if !option.starts_with('-') {
                bail!(
                    "--sbatch-option {option:?} is not an sbatch option (it must start with '-')"
                );
            }
            common_options.push(option.to_owned());
        }

        let mut task_options = Vec::new();
        if let Some(time) = &args.time {
            task_options.push(format!("--time={}", slurm_time("--time", time)?));
        }
        if let Some(cpus) = args.cpus_per_task {
            if cpus == 0 {
                bail!("--cpus-per-task must be at least 1");
            }
            task_options.push(format!("--cpus-per-task={cpus}"));
        }
        if let Some(gpus) = args.gpus_per_task {
            task_options.push(format!("--gpus-per-task={gpus}"));
        }
        if let Some(mem) = &args.mem {
            task_options.push(format!("--mem={}", slurm_memory(mem)?));
        }

        let mut report_options = Vec::new();
        if let Some(time) = args.report_time.as_ref().or(args.time.as_ref()) {
            report_options.push(format!("--time={}", slurm_time("--report-time", time)?));
        }

        let command = match (&args.command, default_command) {
            (Some(command), _) => {
                if command.trim().is_empty() || command.contains(['\n', '\r']) {
                    bail!("--command {command:?} must be one line of shell words");
                }
                command.clone()
            }
            (None, Some(binary)) => shell_quote(&binary.to_string_lossy()),
            (None, None) => bail!("no xtask binary to run; pass --command"),
        };

        for arg in &args.bench_args {
            for (owned, instead) in [
                (
                    "--results",
                    "pass the results directory with --results before `--`",
                ),
                (
                    "--shard",
                    "each array task runs its own shard; set their number with --shards before \
                     `--`",
                ),
            ] {
                if arg == owned || arg.starts_with(&format!("{owned}=")) {
                    bail!("bench-all argument {arg:?} is set by `xtask slurm` itself; {instead}");
                }
            }
        }

        // Every array task would fail the same way on a bad argument: check them here.
        let bench = dasvdd_bench::runner::check_args(&args.bench_args)?;
        if let Some(config) = &bench.config {
            let path = absolute(&workdir, config);
            dasvdd_bench::config::BenchConfig::load(&path)
                .with_context(|| format!("bench-all arguments: --config {}", config.display()))?;
        }

        Ok(Self {
            shards: args.shards,
            max_parallel: args.max_parallel,
            job_name,
            common_options,
            task_options,
            report_options,
            command,
            workdir,
            results,
            array_script,
            report_script,
            bench_args: args.bench_args.clone(),
        })
    }

    /// Directory of the Slurm logs, `<results>/slurm`.
    fn log_dir(&self) -> PathBuf {
        self.results.join("slurm")
    }

    /// The `--array` value: every shard, optionally throttled.
    fn array_range(&self) -> String {
        let mut range = format!("0-{}", self.shards - 1);
        if let Some(max) = self.max_parallel {
            let _ = write!(range, "%{max}");
        }
        range
    }
}

/// Renders both scripts from a checked plan.
fn render(plan: &JobPlan) -> Scripts {
    let array_path = shell_quote(&plan.array_script.to_string_lossy());
    let report_path = shell_quote(&plan.report_script.to_string_lossy());
    let results = plan.results.to_string_lossy();
    let log_dir = plan.log_dir();
    let log_dir = log_dir.to_string_lossy();
    let n = plan.shards;

    let mut array = String::new();
    array.push_str("#!/bin/bash\n");
    array.push_str(
        "# The DASVDD benchmark matrix as a Slurm job array, written by `cargo xtask slurm`.\n",
    );
    let _ = writeln!(
        array,
        "# Task K of {n} (K = 0..{}) runs shard K/{n} of the matrix; results go to\n#   {results}",
        n - 1
    );
    array.push_str(
        "# which every task must see (a shared filesystem). Finished cells are skipped, so\n",
    );
    array.push_str("# any task can be run again and resumes where it stopped.\n#\n");
    array.push_str("# Submit the array, then the report once every task has ended (ok or not):\n");
    let _ = writeln!(array, "#   array=$(sbatch --parsable {array_path})");
    let _ = writeln!(
        array,
        "#   sbatch --dependency=afterany:${{array%%;*}} {report_path}"
    );
    array.push_str("# Resubmit one failed or preempted task K (e.g. K=2); it resumes:\n");
    let _ = writeln!(array, "#   sbatch --array=K {array_path}");
    array.push_str("# then run the report again; it lists the cells still missing:\n");
    let _ = writeln!(array, "#   sbatch {report_path}");
    let _ = writeln!(array, "# Logs: {log_dir}/<array job id>_<task>.out");
    let _ = writeln!(array, "#SBATCH --job-name={}", plan.job_name);
    let _ = writeln!(array, "#SBATCH --array={}", plan.array_range());
    let _ = writeln!(array, "#SBATCH --output={log_dir}/%A_%a.out");
    // Each task is one process. Slurm also refuses `--gpus-per-task` unless the task count is
    // given.
    array.push_str("#SBATCH --ntasks=1\n");
    // A preempted task goes back to the queue by itself and resumes; its log keeps every attempt.
    array.push_str("#SBATCH --requeue\n#SBATCH --open-mode=append\n");
    for option in plan.common_options.iter().chain(&plan.task_options) {
        let _ = writeln!(array, "#SBATCH {option}");
    }
    array.push_str("set -euo pipefail\n");
    let _ = writeln!(
        array,
        "shard=\"${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}}/{n}\""
    );
    let _ = writeln!(array, "cd {}", shell_quote(&plan.workdir.to_string_lossy()));
    array.push_str(
        "echo \"shard ${shard} of job ${SLURM_ARRAY_JOB_ID:-?} on $(uname -n) at $(date -u +%FT%TZ)\"\n",
    );
    let _ = write!(
        array,
        "exec {} bench-all --shard \"$shard\" --results {}",
        plan.command,
        shell_quote(&results)
    );
    for arg in &plan.bench_args {
        array.push(' ');
        array.push_str(&shell_quote(arg));
    }
    array.push('\n');

    let mut report = String::new();
    report.push_str("#!/bin/bash\n");
    report.push_str(
        "# Report over the DASVDD benchmark matrix, written by `cargo xtask slurm` beside\n",
    );
    let _ = writeln!(report, "#   {array_path}");
    report.push_str(
        "# Submitted with --dependency=afterany:<array job>, it runs once every task has\n",
    );
    report.push_str("# ended, whether it succeeded or not, and lists the cells still missing.\n");
    let _ = writeln!(report, "# Run it again at any time: sbatch {report_path}");
    let _ = writeln!(report, "#SBATCH --job-name={}-report", plan.job_name);
    let _ = writeln!(report, "#SBATCH --output={log_dir}/report-%j.out");
    for option in plan.common_options.iter().chain(&plan.report_options) {
        let _ = writeln!(report, "#SBATCH {option}");
    }
    report.push_str("set -euo pipefail\n");
    let _ = writeln!(
        report,
        "cd {}",
        shell_quote(&plan.workdir.to_string_lossy())
    );
    let _ = writeln!(
        report,
        "exec {} report --results {}",
        plan.command,
        shell_quote(&results)
    );

    Scripts { array, report }
}

/// Arguments of the `sbatch` call that submits the report after the array job `array_id`.
fn report_submit_args(array_id: &str, report_script: &Path) -> Vec<OsString> {
    vec![
        OsString::from(format!("--dependency=afterany:{array_id}")),
        report_script.as_os_str().to_owned(),
    ]
}

/// Runs `sbatch --parsable <args>` and returns the job id it prints.
fn sbatch(args: &[OsString]) -> Result<String> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .context("cannot run sbatch (is this a slurm login node?)")?;
    if !output.status.success() {
        bail!(
            "sbatch {:?} failed ({}): {}",
            args,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    parse_job_id(&String::from_utf8_lossy(&output.stdout))
}

/// Reads the job id from `sbatch --parsable` output: `<id>` or `<id>;<cluster>`.
fn parse_job_id(stdout: &str) -> Result<String> {
    let line = stdout
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("");
    let id = line.split(';').next().unwrap_or("");
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed {stdout:?} where a job id was expected");
    }
    Ok(id.to_owned())
}

/// Writes a script atomically (temporary file in the same directory, then rename), executable.
fn write_script(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    dasvdd_data::fileio::write_atomic_with(path, |tmp| {
        fs::File::create(tmp)?.write_all(text.as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(tmp, fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    })
    .with_context(|| format!("cannot write script {}", path.display()))
}

/// `<stem>-report.<ext>` beside the array script.
fn report_script_path(array_script: &Path) -> Result<PathBuf> {
    let stem = array_script
        .file_stem()
        .with_context(|| format!("--out {} has no file name", array_script.display()))?;
    let mut name = stem.to_owned();
    name.push("-report");
    if let Some(ext) = array_script.extension() {
        name.push(".");
        name.push(ext);
    }
    Ok(array_script.with_file_name(name))
}

/// `path` made absolute against `base`, with `.` components dropped.
fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Checks that `value` can stand in an `#SBATCH` line: Slurm splits those lines on whitespace
/// and reads no shell quoting, and a line break would start a new line of the script.
fn directive_word<'a>(flag: &str, value: &'a str) -> Result<&'a str> {
    if value.is_empty() {
        bail!("{flag} must not be empty");
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\' | '#'))
    {
        bail!("{flag} value {value:?} contains {c:?}, which an #SBATCH line cannot hold");
    }
    Ok(value)
}

/// Checks a Slurm time limit: minutes, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`,
/// or `UNLIMITED`/`INFINITE`.
fn slurm_time<'a>(flag: &str, value: &'a str) -> Result<&'a str> {
    if matches!(value, "UNLIMITED" | "INFINITE") {
        return Ok(value);
    }
    let (days, clock) = match value.split_once('-') {
        Some((days, clock)) => (Some(days), clock),
        None => (None, value),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let numeric = |s: &str| !s.is_empty() && s.len() <= 6 && s.chars().all(|c| c.is_ascii_digit());
    // With or without days, the clock part has at most three fields.
    let ok = days.is_none_or(numeric) && fields.len() <= 3 && fields.iter().all(|f| numeric(f));
    if !ok {
        bail!(
            "{flag} {value:?} is not a slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or \
             D-HH:MM:SS)"
        );
    }
    Ok(value)
}

/// Checks a Slurm memory size: a number with an optional K, M, G or T suffix.
fn slurm_memory(value: &str) -> Result<&str> {
    let digits = value.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    let suffix_len = value.len() - digits.len();
    if digits.is_empty() || suffix_len > 1 || !digits.chars().all(|c| c.is_ascii_digit()) {
        bail!("--mem {value:?} is not a slurm memory size (a number with K, M, G or T)");
    }
    Ok(value)
}

/// Quotes `word` for bash: plain words stay as they are, anything else is single-quoted.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%^".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests;
