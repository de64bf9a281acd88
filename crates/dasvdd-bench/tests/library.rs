//! The benchmark used as a library, the way the README's example runs a custom matrix: a small
//! matrix on the built-in synthetic data, its report rows, and a second call that resumes
//! instead of recomputing.

use dasvdd_bench::report::{build, default_paper_path, PaperTable};
use dasvdd_bench::store::ResultsDir;
use dasvdd_bench::BenchArgs;

#[test]
fn custom_matrix_runs_reports_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let args = BenchArgs {
        datasets: vec!["synthetic".into()],
        classes: vec![3],
        methods: vec!["dasvdd".into(), "kde".into()],
        seeds: Some(2),
        epochs: Some(5),
        results: dir.path().to_path_buf(),
        ..BenchArgs::default()
    };
    dasvdd_bench::runner::run(&args).unwrap();
    let results = ResultsDir::new(dir.path());
    let first = results.read_cells().unwrap();
    assert_eq!(first.len(), 4, "2 methods x 2 seeds");

    let report = build(&results, &PaperTable::load(&default_paper_path()).unwrap()).unwrap();
    let per_class: Vec<_> = report.rows.iter().filter(|r| r.class == Some(3)).collect();
    let mut methods: Vec<&str> = per_class.iter().map(|r| r.method.as_str()).collect();
    methods.sort();
    assert_eq!(methods, ["dasvdd", "kde"]);
    for row in &per_class {
        assert_eq!(row.runs, 2);
        assert!(row.auroc > 50.0 && row.auroc <= 100.0, "{row:?}");
    }
    assert!(report.missing.is_empty());

    // Resumed: nothing is recomputed, the stored records are the same.
    dasvdd_bench::runner::run(&args).unwrap();
    let second = results.read_cells().unwrap();
    assert_eq!(first, second);
}
