//! Speed of the classical baselines against scikit-learn on one Fashion-MNIST class (not a
//! test): train on the 6,000 training images of the class (pixels / 255), score the 10,000 test
//! images (anomaly = any other class), and time fit + score of the one-class SVM (nu 0.5,
//! gamma `scale`), KDE (5-fold cross-validated bandwidth over the same fixed grid on both
//! sides) and Isolation Forest (100 trees, subsample 256). When `python3` can import
//! scikit-learn, the same work runs in a subprocess, timed inside Python around fit + score, and
//! the table shows both times, their ratio and both AUROCs.
//!
//! Run with `cargo bench -p dasvdd-baselines --bench vs_sklearn`. Environment:
//! `DASVDD_BENCH_CLASS` (default 0), `DASVDD_BENCH_GRID` (comma-separated bandwidths, default
//! `np.logspace(-1, 1, 5)`), `DASVDD_BENCH_METHODS` (default `ocsvm,kde,iforest`),
//! `DASVDD_BENCH_SKLEARN=0` to skip the scikit-learn side, `RAYON_NUM_THREADS` to limit this
//! side's threads (scikit-learn runs single-threaded here).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use dasvdd_baselines::kde::logspace;
use dasvdd_baselines::{Bandwidth, IsolationForestParams, KdeParams, OneClassSvmParams};
use dasvdd_core::{Detector, SampleView};

const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// The scikit-learn side; argv: data dir, class, grid, methods. One JSON line per method.
const PYTHON: &str = r#"
import gzip, json, sys, time
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.svm import OneClassSVM
d, cls = sys.argv[1], int(sys.argv[2])
grid = [float(v) for v in sys.argv[3].split(',')]
def imgs(f):
    with gzip.open(f'{d}/{f}') as fh: return np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 784)
def labs(f):
    with gzip.open(f'{d}/{f}') as fh: return np.frombuffer(fh.read(), np.uint8, offset=8)
xtr, ytr = imgs('train-images-idx3-ubyte.gz'), labs('train-labels-idx1-ubyte.gz')
xte, yte = imgs('t10k-images-idx3-ubyte.gz'), labs('t10k-labels-idx1-ubyte.gz')
train = (xtr[ytr == cls].astype(np.float32) / 255).astype(np.float64)
test = (xte.astype(np.float32) / 255).astype(np.float64)
y = (yte != cls).astype(int)
methods = {
    'ocsvm': lambda: -OneClassSVM(kernel='rbf', nu=0.5, gamma='scale').fit(train).decision_function(test),
    'kde': lambda: -GridSearchCV(KernelDensity(kernel='gaussian'), {'bandwidth': grid}, cv=5).fit(train).best_estimator_.score_samples(test),
    'iforest': lambda: -IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(train).score_samples(test),
}
for name in sys.argv[4].split(','):
    t = time.perf_counter()
    s = methods[name]()
    dt = time.perf_counter() - t
    print(json.dumps({'method': name, 'seconds': dt, 'auroc': roc_auc_score(y, s)}), flush=True)
"#;

struct Row {
    method: String,
    seconds: f64,
    auroc: f64,
}

fn main() {
    let dir = Path::new(FASHION_MNIST);
    if !dir.join("train-images-idx3-ubyte.gz").exists() {
        println!("note: Fashion-MNIST is absent from {FASHION_MNIST} (apt-get install dataset-fashion-mnist); nothing to run");
        return;
    }
    let class: u8 = std::env::var("DASVDD_BENCH_CLASS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let grid: Vec<f64> = match std::env::var("DASVDD_BENCH_GRID") {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().parse().expect("DASVDD_BENCH_GRID holds numbers"))
            .collect(),
        Err(_) => logspace(-1.0, 1.0, 5),
    };
    let methods =
        std::env::var("DASVDD_BENCH_METHODS").unwrap_or_else(|_| "ocsvm,kde,iforest".into());

    let load = |images: &str, labels: &str| {
        dasvdd_data::idx::load_idx_pair(&dir.join(images), &dir.join(labels)).unwrap()
    };
    let train_set = load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
    let test_set = load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
    let cols = 784;
    let scale = |p: &[u8]| {
        p.iter()
            .map(|&v| f32::from(v) / 255.0)
            .collect::<Vec<f32>>()
    };
    let mut train = Vec::new();
    for (i, _) in train_set
        .labels
        .iter()
        .enumerate()
        .filter(|(_, &l)| l == class)
    {
        train.extend(scale(&train_set.pixels[i * cols..(i + 1) * cols]));
    }
    let test = scale(&test_set.pixels);
    let labels: Vec<u8> = test_set
        .labels
        .iter()
        .map(|&l| u8::from(l != class))
        .collect();
    let train_view = SampleView::new(&train, train.len() / cols, cols).unwrap();
    let test_view = SampleView::new(&test, labels.len(), cols).unwrap();
    let grid_arg: Vec<String> = grid.iter().map(|h| format!("{h:?}")).collect();
    println!(
        "Fashion-MNIST class {class}: train {} x {cols}, test {} x {cols}; kde grid [{}]; {} rayon threads",
        train_view.rows(),
        test_view.rows(),
        grid_arg.join(", "),
        rayon::current_num_threads()
    );

    let mut ours = Vec::new();
    for method in methods.split(',') {
        let start = Instant::now();
        let scores = match method {
            "ocsvm" => OneClassSvmParams::default()
                .fit(train_view)
                .unwrap()
                .score(test_view),
            "kde" => KdeParams {
                bandwidth: Bandwidth::CrossValidated {
                    grid: grid.clone(),
                    folds: 5,
                },
            }
            .fit(train_view)
            .and_then(|m| {
                println!("  kde: chosen bandwidth {}", m.bandwidth());
                m.score(test_view)
            }),
            "iforest" => IsolationForestParams::default()
                .fit(train_view)
                .unwrap()
                .score(test_view),
            other => panic!("unknown method {other}"),
        }
        .unwrap();
        let seconds = start.elapsed().as_secs_f64();
        let auroc = dasvdd_eval::auroc(&scores, &labels).unwrap();
        println!("  ours    {method:8} {seconds:9.2} s  auroc {auroc:.4}");
        ours.push(Row {
            method: method.to_string(),
            seconds,
            auroc,
        });
    }

    let sklearn = run_sklearn(class, &grid_arg.join(","), &methods);
    println!();
    println!("| method  | ours (s) | scikit-learn (s) | ratio | AUROC ours | AUROC scikit-learn |");
    println!("|---------|---------:|-----------------:|------:|-----------:|-------------------:|");
    for row in &ours {
        match sklearn.iter().find(|s| s.method == row.method) {
            Some(s) => println!(
                "| {:7} | {:8.2} | {:16.2} | {:5.3} | {:10.4} | {:18.4} |",
                row.method,
                row.seconds,
                s.seconds,
                row.seconds / s.seconds,
                row.auroc,
                s.auroc
            ),
            None => println!(
                "| {:7} | {:8.2} | {:>16} | {:>5} | {:10.4} | {:>18} |",
                row.method, row.seconds, "-", "-", row.auroc, "-"
            ),
        }
    }
}

/// Runs the scikit-learn side; empty when Python or scikit-learn is unavailable.
fn run_sklearn(class: u8, grid: &str, methods: &str) -> Vec<Row> {
    if std::env::var("DASVDD_BENCH_SKLEARN").is_ok_and(|v| v == "0") {
        return Vec::new();
    }
    let importable = Command::new("python3")
        .args(["-c", "import sklearn"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        println!("note: python3 with scikit-learn is not available; showing our side only");
        return Vec::new();
    }
    let output = Command::new("python3")
        .args([
            "-c",
            PYTHON,
            FASHION_MNIST,
            &class.to_string(),
            grid,
            methods,
        ])
        .output()
        .expect("python3 runs");
    if !output.status.success() {
        println!(
            "note: the scikit-learn run failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return Vec::new();
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|v| {
            let row = Row {
                method: v["method"].as_str().unwrap_or_default().to_string(),
                seconds: v["seconds"].as_f64().unwrap_or(f64::NAN),
                auroc: v["auroc"].as_f64().unwrap_or(f64::NAN),
            };
            println!(
                "  sklearn {:8} {:9.2} s  auroc {:.4}",
                row.method, row.seconds, row.auroc
            );
            row
        })
        .collect()
}
