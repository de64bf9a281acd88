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
    // DASVDD's cells also evaluate each term of the score alone; KDE's score is one term.
    for (key, cell) in &first {
        let terms: Vec<&str> = cell.term_auroc.keys().map(String::as_str).collect();
        if key.method == "dasvdd" {
            assert_eq!(terms, ["reconstruction", "svdd"], "{key}");
            assert!(
                cell.term_auroc.values().all(|a| (0.0..=1.0).contains(a)),
                "{key}: {:?}",
                cell.term_auroc
            );
        } else {
            assert!(terms.is_empty(), "{key}: {terms:?}");
        }
    }

    // The report averages them per dataset and method, DASVDD's only.
    let terms = &report.score_terms;
    assert_eq!(terms.len(), 1, "{terms:?}");
    assert_eq!((terms[0].method.as_str(), terms[0].cells), ("dasvdd", 2));
    assert_eq!(
        terms[0].terms.keys().collect::<Vec<_>>(),
        ["reconstruction", "svdd"]
    );
    let dasvdd_cells: Vec<_> = first
        .values()
        .filter(|c| c.key.method == "dasvdd")
        .collect();
    let mean_svdd = dasvdd_cells
        .iter()
        .map(|c| 100.0 * c.term_auroc["svdd"])
        .sum::<f64>()
        / 2.0;
    assert!((terms[0].terms["svdd"] - mean_svdd).abs() < 1e-9);

    // Resumed: nothing is recomputed, the stored records are the same.
    dasvdd_bench::runner::run(&args).unwrap();
    let second = results.read_cells().unwrap();
    assert_eq!(first, second);
}

/// The neural cells of one method and dataset (DASVDD, the AE, Deep SVDD) train in one pass
/// (`--stack`, default 10), each stored on its own: the same cells, AUROCs and gammas as
/// training every cell alone (`--stack 1`), and a run cut short by `--max-cells` in the
/// middle of a pass resumes to the same results.
#[test]
fn cells_trained_in_one_pass_are_stored_as_cells_trained_alone() {
    let run = |stack: usize, max_cells: Option<usize>, dir: &std::path::Path| {
        let args = BenchArgs {
            datasets: vec!["synthetic".into()],
            classes: vec![2, 5],
            methods: ["dasvdd", "ae", "deep_svdd", "iforest"]
                .map(String::from)
                .to_vec(),
            seeds: Some(3),
            epochs: Some(4),
            results: dir.to_path_buf(),
            stack,
            max_cells,
            ..BenchArgs::default()
        };
        dasvdd_bench::runner::run(&args).unwrap();
        ResultsDir::new(dir).read_cells().unwrap()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let together = run(10, Some(4), a.path());
    assert_eq!(together.len(), 4, "--max-cells stops inside the first pass");
    let together = run(10, None, a.path());
    let alone = run(1, None, b.path());
    assert_eq!(together.len(), 24, "2 classes x 3 seeds x 4 methods");
    assert_eq!(
        together.keys().collect::<Vec<_>>(),
        alone.keys().collect::<Vec<_>>()
    );
    for (key, t) in &together {
        let s = &alone[key];
        assert_eq!(
            (t.auroc * 1e4).round(),
            (s.auroc * 1e4).round(),
            "{key}: {} together, {} alone",
            t.auroc,
            s.auroc
        );
        assert_eq!(t.gamma, s.gamma, "{key}");
        assert_eq!((t.train, t.epochs), (s.train, s.epochs), "{key}");
    }
}

/// A method's own preprocessing (the `[preprocessing]` table of the dataset's config file,
/// e.g. Ruff's GCN for Deep SVDD) reaches its cells' data and only theirs.
#[test]
fn a_methods_own_preprocessing_prepares_its_cells_only() {
    use dasvdd_bench::config::BenchConfig;
    use dasvdd_bench::matrix::{BenchDataset, MethodSpec};
    use dasvdd_bench::methods::method_preprocessing;
    use dasvdd_bench::runner::load_split;
    use dasvdd_core::config::Variant;

    let dir = tempfile::tempdir().unwrap();
    let bench = dir.path().join("bench.toml");
    std::fs::write(&bench, "[datasets.synthetic]\nconfig = \"s.toml\"\n").unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "[preprocessing]\ndeep_svdd = \"zscore\"\n",
    )
    .unwrap();
    let cfg = BenchConfig::load(&bench).unwrap();
    let deep: MethodSpec = "deep_svdd".parse().unwrap();
    let ae: MethodSpec = "ae".parse().unwrap();
    let own = method_preprocessing(&cfg, "synthetic", &deep).unwrap();
    assert!(own.is_some());
    assert!(method_preprocessing(&cfg, "synthetic", &ae)
        .unwrap()
        .is_none());
    let d = BenchDataset::Synthetic;
    let plain = load_split(&cfg, &d, 2, 0, Variant::Paper, None).unwrap();
    let scaled = load_split(&cfg, &d, 2, 0, Variant::Paper, own).unwrap();
    // Z-scored on the training rows: every column's training mean is 0 (the plain images are
    // in [0, 1] with positive means).
    let col_mean = |m: &dasvdd_data::Matrix, j: usize| {
        m.row_iter().map(|r| r[j] as f64).sum::<f64>() / m.rows as f64
    };
    let j = plain.train.cols / 2;
    assert!(
        col_mean(&plain.train, j) > 0.05,
        "{}",
        col_mean(&plain.train, j)
    );
    assert!(col_mean(&scaled.train, j).abs() < 1e-4);
    assert_eq!(plain.counts, scaled.counts);
    assert_ne!(
        plain.test.x.data, scaled.test.x.data,
        "the test rows are scaled too"
    );
}
