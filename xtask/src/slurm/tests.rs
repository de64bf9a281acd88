//! Tests of `xtask slurm`: the job plan, the scripts it writes and their directives.

use super::*;
use clap::Parser;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: SlurmArgs,
}

fn parse(argv: &[&str]) -> SlurmArgs {
    Cli::try_parse_from(std::iter::once("slurm").chain(argv.iter().copied()))
        .expect("test arguments parse")
        .args
}

fn plan(argv: &[&str]) -> Result<JobPlan> {
    JobPlan::new(
        &parse(argv),
        Path::new("/cluster/home/me/dasvdd-rs"),
        Some(Path::new("/cluster/home/me/dasvdd-rs/target/debug/xtask")),
    )
}

fn scripts(argv: &[&str]) -> Scripts {
    render(&plan(argv).expect("valid plan"))
}

fn directives(script: &str) -> Vec<&str> {
    script
        .lines()
        .filter_map(|line| line.strip_prefix("#SBATCH "))
        .collect()
}

#[test]
fn array_covers_every_shard() {
    assert!(directives(&scripts(&["--shards", "3"]).array).contains(&"--array=0-2"));
    assert!(directives(&scripts(&["--shards", "1"]).array).contains(&"--array=0-0"));
    let throttled = scripts(&["--shards", "40", "--max-parallel", "8"]);
    assert!(directives(&throttled.array).contains(&"--array=0-39%8"));
    // The report job is a single job, never an array.
    assert!(!throttled.report.contains("--array="));
}

#[test]
fn tasks_run_their_shard_with_the_prebuilt_binary() {
    let array = scripts(&["--shards", "3"]).array;
    assert!(array.contains("/3\""), "{array}");
    assert!(array.contains("${SLURM_ARRAY_TASK_ID:?"), "{array}");
    assert!(
        array.contains(
            "exec /cluster/home/me/dasvdd-rs/target/debug/xtask bench-all --shard \"$shard\" \
             --results /cluster/home/me/dasvdd-rs/results"
        ),
        "{array}"
    );
    assert!(array.contains("cd /cluster/home/me/dasvdd-rs\n"), "{array}");
}

#[test]
fn logs_go_to_the_results_slurm_directory() {
    let s = scripts(&["--shards", "2", "--results", "/shared/run1"]);
    assert!(directives(&s.array).contains(&"--output=/shared/run1/slurm/%A_%a.out"));
    assert!(directives(&s.report).contains(&"--output=/shared/run1/slurm/report-%j.out"));
    assert!(
        s.report.contains("report --results /shared/run1\n"),
        "{}",
        s.report
    );
}

#[test]
fn header_says_how_to_resubmit_one_task() {
    let s = scripts(&["--shards", "4", "--out", "/shared/m.sbatch"]);
    assert!(
        s.array.contains("#   sbatch --array=K /shared/m.sbatch\n"),
        "{}",
        s.array
    );
    assert!(
        s.array
            .contains("sbatch --dependency=afterany:${array%%;*} /shared/m-report.sbatch"),
        "{}",
        s.array
    );
    // Every header line is a comment that comes before the first #SBATCH line, or sbatch
    // would stop reading directives at the first command.
    let lines: Vec<&str> = s.array.lines().collect();
    let first_command = lines
        .iter()
        .position(|l| !l.starts_with('#'))
        .expect("script has commands");
    let last_directive = lines
        .iter()
        .rposition(|l| l.starts_with("#SBATCH"))
        .expect("script has directives");
    assert!(last_directive < first_command);
}

#[test]
fn resources_go_to_the_tasks_and_partition_to_both_jobs() {
    let s = scripts(&[
        "--shards",
        "2",
        "--partition",
        "gpu",
        "--gpus-per-task",
        "1",
        "--cpus-per-task",
        "8",
        "--mem",
        "32G",
        "--time",
        "1-00:00:00",
        "--report-time",
        "15",
        "--sbatch-option=--account=proj42",
    ]);
    let array = directives(&s.array);
    for expected in [
        "--partition=gpu",
        "--gpus-per-task=1",
        "--cpus-per-task=8",
        "--mem=32G",
        "--time=1-00:00:00",
        "--account=proj42",
    ] {
        assert!(
            array.contains(&expected),
            "{expected} missing from {array:?}"
        );
    }
    // sbatch refuses --gpus-per-task without a task count.
    assert!(array.contains(&"--ntasks=1"), "{array:?}");
    let report = directives(&s.report);
    assert!(report.contains(&"--partition=gpu"));
    assert!(report.contains(&"--account=proj42"));
    assert!(report.contains(&"--time=15"));
    assert!(
        !report.iter().any(|d| d.starts_with("--gpus")),
        "{report:?}"
    );
}

#[test]
fn report_time_defaults_to_the_task_time() {
    let s = scripts(&["--shards", "2", "--time", "02:00:00"]);
    assert!(directives(&s.report).contains(&"--time=02:00:00"));
}

#[test]
fn dependency_waits_for_every_task_whatever_its_outcome() {
    let args = report_submit_args("4242", Path::new("/shared/bench-array-report.sbatch"));
    assert_eq!(
        args,
        vec![
            OsString::from("--dependency=afterany:4242"),
            OsString::from("/shared/bench-array-report.sbatch"),
        ]
    );
}

#[test]
fn job_ids_are_read_from_parsable_output() {
    assert_eq!(parse_job_id("123\n").unwrap(), "123");
    assert_eq!(parse_job_id("77;cluster-a\n").unwrap(), "77");
    assert!(parse_job_id("").is_err());
    assert!(parse_job_id("Submitted batch job 5\n").is_err());
}

#[test]
fn extra_arguments_are_passed_on_after_the_double_dash() {
    let args = parse(&["--shards", "3", "--", "--datasets", "fmnist", "--quick"]);
    assert_eq!(args.bench_args, ["--datasets", "fmnist", "--quick"]);
    let array = render(&plan(&["--shards", "3", "--", "--datasets", "fmnist"]).unwrap()).array;
    assert!(array.trim_end().ends_with("--datasets fmnist"), "{array}");
}

#[test]
fn extra_arguments_are_shell_quoted() {
    assert_eq!(shell_quote("fmnist"), "fmnist");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
    assert_eq!(shell_quote("$(touch x)"), "'$(touch x)'");
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("*"), "'*'");
}

/// Runs a generated array script with bash, with `printf` standing in for xtask, and checks
/// that every argument arrives exactly as given however odd it is.
#[test]
fn generated_script_is_valid_bash_that_passes_arguments_intact() {
    let workdir = std::env::temp_dir();
    // Arguments must be valid bench-all arguments: the odd characters ride in the one
    // free-text value, the device.
    let odd = [
        "--device",
        "it's a b $(echo injected) `x` * \"q\" semi;colon",
        "--datasets",
        "synthetic",
    ];
    let mut argv = vec!["--shards", "5", "--command", "printf '<%s>\\n'", "--"];
    argv.extend(odd);
    let plan = JobPlan::new(&parse(&argv), &workdir, None).expect("valid plan");
    let scripts = render(&plan);

    for script in [&scripts.array, &scripts.report] {
        let status = Command::new("bash")
            .arg("-n")
            .arg("-c")
            .arg(script)
            .status()
            .expect("bash runs");
        assert!(status.success(), "bash -n rejects:\n{script}");
    }

    let output = Command::new("bash")
        .arg("-c")
        .arg(&scripts.array)
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("SLURM_ARRAY_JOB_ID", "99")
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let printed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix('<').and_then(|l| l.strip_suffix('>')))
        .collect();
    let results = plan.results.to_string_lossy().into_owned();
    let mut expected = vec!["bench-all", "--shard", "3/5", "--results", results.as_str()];
    expected.extend(odd);
    assert_eq!(printed, expected);

    // Outside an array job the script refuses to guess its shard.
    let output = Command::new("bash")
        .arg("-c")
        .arg(&scripts.array)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .expect("bash runs");
    assert!(!output.status.success());
}

#[test]
fn values_that_could_break_an_sbatch_line_are_refused() {
    assert!(plan(&["--shards", "2", "--partition", "gpu\n#SBATCH --x"]).is_err());
    assert!(plan(&["--shards", "2", "--partition", "a b"]).is_err());
    assert!(plan(&["--shards", "2", "--results", "/shared/my results"]).is_err());
    assert!(plan(&["--shards", "2", "--results", "/shared/100%"]).is_err());
    assert!(plan(&["--shards", "2", "--job-name", "x y"]).is_err());
    assert!(plan(&["--shards", "2", "--sbatch-option", "account=x"]).is_err());
    assert!(plan(&["--shards", "2", "--command", "a\nb"]).is_err());
    assert!(plan(&["--shards", "2", "--time", "2h"]).is_err());
    assert!(plan(&["--shards", "2", "--time", "1-2-3"]).is_err());
    assert!(plan(&["--shards", "2", "--mem", "16GB"]).is_err());
    assert!(plan(&["--shards", "2", "--cpus-per-task", "0"]).is_err());
    for ok in [
        "30",
        "10:00",
        "02:00:00",
        "1-12",
        "1-12:30",
        "2-00:00:00",
        "UNLIMITED",
    ] {
        assert!(plan(&["--shards", "2", "--time", ok]).is_ok(), "{ok}");
    }
}

#[test]
fn zero_shards_are_refused() {
    assert!(Cli::try_parse_from(["slurm", "--shards", "0"]).is_err());
    assert!(Cli::try_parse_from(["slurm", "--shards", "2", "--max-parallel", "0"]).is_err());
}

#[test]
fn bench_all_flags_owned_by_slurm_are_refused() {
    let err = plan(&["--shards", "2", "--", "--results", "x"]).unwrap_err();
    assert!(err.to_string().contains("--results"), "{err}");
    assert!(plan(&["--shards", "2", "--", "--shard=0/2"]).is_err());
}

#[test]
fn bench_all_arguments_are_checked_before_a_script_is_written() {
    let err = plan(&["--shards", "2", "--", "--bogus-flag"]).unwrap_err();
    assert!(err.to_string().contains("--bogus-flag"), "{err}");
    let err = plan(&["--shards", "2", "--", "--methods", "dasvdd,vae"]).unwrap_err();
    assert!(format!("{err:#}").contains("vae"), "{err:#}");
    assert!(plan(&["--shards", "2", "--", "--datasets", "fmnist,nope"]).is_err());
    assert!(plan(&["--shards", "2", "--", "--seeds", "0"]).is_err());
    assert!(plan(&["--shards", "2", "--", "--config", "/no/such/bench.toml"]).is_err());
    // Both spellings of Deep SVDD, and DASVDD variants, are fine.
    for methods in ["deep_svdd", "deepsvdd", "dasvdd:gamma=0.1,ae"] {
        assert!(
            plan(&["--shards", "2", "--", "--methods", methods]).is_ok(),
            "{methods}"
        );
    }
}

#[test]
fn paths_resolve_against_the_working_directory() {
    let p = plan(&["--shards", "2", "--results", "./out/r", "--out", "gen/a.sh"]).unwrap();
    assert_eq!(p.results, Path::new("/cluster/home/me/dasvdd-rs/out/r"));
    assert_eq!(
        p.array_script,
        Path::new("/cluster/home/me/dasvdd-rs/gen/a.sh")
    );
    assert_eq!(
        p.report_script,
        Path::new("/cluster/home/me/dasvdd-rs/gen/a-report.sh")
    );
    // Every relative path is read from where the command is typed, --workdir included.
    let p = plan(&["--shards", "2", "--workdir", "w", "--results", "/scratch/r"]).unwrap();
    assert_eq!(p.workdir, Path::new("/cluster/home/me/dasvdd-rs/w"));
    assert_eq!(p.results, Path::new("/scratch/r"));
    assert_eq!(
        p.array_script,
        Path::new("/scratch/r/slurm/bench-array.sbatch")
    );
    assert_eq!(
        p.report_script,
        Path::new("/scratch/r/slurm/bench-array-report.sbatch")
    );
    let p = plan(&["--shards", "2", "--workdir", "/scratch/w", "--results", "r"]).unwrap();
    assert_eq!(p.results, Path::new("/cluster/home/me/dasvdd-rs/r"));
    let p = plan(&["--shards", "2", "--out", "/x/noext"]).unwrap();
    assert_eq!(p.report_script, Path::new("/x/noext-report"));
}

#[test]
fn scripts_are_written_whole() {
    let dir = std::env::temp_dir().join(format!("xtask-slurm-test-{}", std::process::id()));
    let path = dir.join("nested").join("a.sbatch");
    write_script(&path, "#!/bin/bash\necho hi\n").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "#!/bin/bash\necho hi\n");
    write_script(&path, "#!/bin/bash\necho again\n").unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "#!/bin/bash\necho again\n"
    );
    let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [OsString::from("a.sbatch")]);
    fs::remove_dir_all(&dir).unwrap();
}
