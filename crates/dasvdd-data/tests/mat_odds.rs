//! The `.mat` reader on the real ODDS files in `/work/shared/data/odds` (MAT v5 compressed
//! from MATLAB and Octave, and MAT v7.3 = HDF5): every shape, every anomaly count and spot
//! values. Skipped with a note when the folder is absent.
//!
//! Expected values from scipy 1.x / h5py 3.16:
//! ```python
//! import numpy as np, scipy.io, h5py
//! D = '/work/shared/data/odds/'
//! for name in ['cardio', 'ionosphere', 'satellite', 'thyroid', 'smtp']:
//!     if name == 'smtp':   # MAT v7.3: stored transposed
//!         f = h5py.File(D + name + '.mat', 'r'); X = np.array(f['X']).T; y = np.array(f['y']).T
//!     else:
//!         m = scipy.io.loadmat(D + name + '.mat'); X = m['X']; y = m['y']
//!     n, d = X.shape
//!     pts = [(0, 0), (n - 1, d - 1), (n // 2, d // 2), (n // 3, d - 1), (7, 1)]
//!     print(name, X.shape, int(y.sum()), float(np.abs(X.astype(np.float64)).sum()),
//!           [(r, c, float(X[r, c])) for r, c in pts])
//! ```

use std::path::PathBuf;

use dasvdd_data::mat::read_mat;

struct Expected {
    file: &'static str,
    rows: usize,
    cols: usize,
    anomalies: usize,
    abs_sum: f64,
    points: [(usize, usize, f64); 5],
}

const EXPECTED: [Expected; 5] = [
    Expected {
        file: "cardio.mat",
        rows: 1831,
        cols: 21,
        anomalies: 176,
        abs_sum: 27618.27430055028,
        points: [
            (0, 0, 0.004912314661768384),
            (1830, 20, -0.49329396944014214),
            (915, 10, -0.15551766644128867),
            (610, 20, 1.1400175279285745),
            (7, 1, 0.48873490941060704),
        ],
    },
    Expected {
        file: "ionosphere.mat",
        rows: 351,
        cols: 33,
        anomalies: 126,
        abs_sum: 5838.16895,
        points: [
            (0, 0, 1.0),
            (350, 32, -0.06151),
            (175, 16, -0.05882),
            (117, 32, 0.17077),
            (7, 1, 0.0),
        ],
    },
    Expected {
        file: "satellite.mat",
        rows: 6435,
        cols: 36,
        anomalies: 2036,
        abs_sum: 19337086.0,
        points: [
            (0, 0, 92.0),
            (6434, 35, 92.0),
            (3217, 18, 119.0),
            (2145, 35, 92.0),
            (7, 1, 102.0),
        ],
    },
    Expected {
        file: "thyroid.mat",
        rows: 3772,
        cols: 6,
        anomalies: 93,
        abs_sum: 5814.554025547037,
        points: [
            (0, 0, 0.774193548387),
            (3771, 5, 0.16393442623),
            (1886, 3, 0.345794392523),
            (1257, 5, 0.126229508197),
            (7, 1, 0.00392452830189),
        ],
    },
    Expected {
        file: "smtp.mat",
        rows: 95156,
        cols: 3,
        anomalies: 30,
        abs_sum: 1394684.8471604385,
        points: [
            (0, 0, 0.09531017980432493),
            (95155, 2, 5.802420444553201),
            (47578, 1, 6.884589000950298),
            (31718, 2, 5.808442745199634),
            (7, 1, 6.942253319389704),
        ],
    },
];

fn odds_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/odds");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "note: {} is absent; skipping the real ODDS files",
            dir.display()
        );
        None
    }
}

#[test]
fn real_odds_files_match_scipy() {
    let Some(dir) = odds_dir() else { return };
    for e in &EXPECTED {
        let d = read_mat(&dir.join(e.file)).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!((d.x.rows, d.x.cols), (e.rows, e.cols), "{}", e.file);
        assert_eq!(d.y.len(), e.rows, "{}", e.file);
        assert_eq!(
            d.y.iter().filter(|&&v| v == 1).count(),
            e.anomalies,
            "{}",
            e.file
        );
        for &(r, c, v) in &e.points {
            let got = d.x.row(r)[c] as f64;
            assert!(
                (got - v).abs() <= 1e-6 * v.abs().max(1.0),
                "{} [{r},{c}]: {got} vs {v}",
                e.file
            );
        }
        let abs_sum: f64 = d.x.data.iter().map(|&v| (v as f64).abs()).sum();
        assert!(
            (abs_sum - e.abs_sum).abs() <= 1e-5 * e.abs_sum,
            "{}: {abs_sum} vs {}",
            e.file,
            e.abs_sum
        );
    }
}

#[test]
fn truncated_and_flipped_real_files_are_errors() {
    let Some(dir) = odds_dir() else { return };
    for file in ["ionosphere.mat", "smtp.mat"] {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        let step = (bytes.len() / 150).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let r = dasvdd_data::mat::read_mat_bytes(&path, &bytes[..cut]);
            assert!(r.is_err(), "{file} cut at {cut} accepted");
        }
        for pos in (600..bytes.len()).step_by(step) {
            let mut b = bytes.clone();
            b[pos] ^= 0x5a;
            if let Ok(d) = dasvdd_data::mat::read_mat_bytes(&path, &b) {
                assert_eq!(
                    d.x.rows,
                    EXPECTED.iter().find(|e| e.file == file).unwrap().rows
                );
            }
        }
    }
}

#[test]
fn a_chunk_moved_off_its_grid_in_the_real_v73_file_is_an_error() {
    // MATLAB indexes the chunks of smtp.mat's X ([3, 95156] in chunks of [3, 2718]) and y in
    // version 1 B-trees whose keys hold each chunk's offsets. libhdf5 refuses a key off the
    // chunk grid ("bad coordinate offset"); read as given, it would shift the rows of a chunk
    // by one and leave a row of fill values. Every leaf key's second offset is moved by one in
    // turn, each must be an error.
    let Some(dir) = odds_dir() else { return };
    let path = dir.join("smtp.mat");
    let bytes = std::fs::read(&path).unwrap();
    let mut moved = 0;
    let mut at = 0;
    while let Some(p) = bytes[at..].windows(4).position(|w| w == b"TREE") {
        let node = at + p;
        at = node + 4;
        // Node header: signature, type (1: chunks), level (0: leaf), entries (2 bytes), two
        // sibling addresses; then per entry a key (size 4, filter mask 4, three 8-byte
        // offsets: row, column, element) and a child address.
        if bytes[node + 4] != 1 || bytes[node + 5] != 0 {
            continue;
        }
        let entries = usize::from(u16::from_le_bytes([bytes[node + 6], bytes[node + 7]]));
        for k in 1..entries.min(4) {
            let off = node + 24 + k * 40 + 8 + 8;
            let column = u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
            assert!(column > 0, "entry {k} of the node at {node}");
            let mut b = bytes.clone();
            b[off..off + 8].copy_from_slice(&(column + 1).to_le_bytes());
            let err = dasvdd_data::mat::read_mat_bytes(&path, &b).unwrap_err();
            assert!(
                err.to_string().contains("corrupt chunk index"),
                "entry {k} of the node at {node}: {err}"
            );
            moved += 1;
        }
    }
    assert!(moved >= 2, "found {moved} chunk keys to move");
}
