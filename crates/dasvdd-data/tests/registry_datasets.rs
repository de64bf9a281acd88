//! `load_prepared` end to end on each kind of dataset the registry dispatches to another
//! module: a real ODDS file (from `/work/shared`, skipped when absent), a small AWID3 CSV and a
//! small DCASE-layout MIMII folder, each given by folder so no environment is touched.

use std::path::{Path, PathBuf};

use dasvdd_data::{
    load_prepared, DataError, DatasetName, LoadOptions, Preprocessing, SplitProtocol,
};

fn shared_odds() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/odds");
    if d.join("cardio.mat").is_file() {
        Some(d)
    } else {
        eprintln!(
            "note: {} is absent; skipping the real ODDS test",
            d.display()
        );
        None
    }
}

fn column_means(m: &dasvdd_data::Matrix) -> Vec<f64> {
    let mut s = vec![0f64; m.cols];
    for r in m.row_iter() {
        for (j, v) in r.iter().enumerate() {
            s[j] += f64::from(*v);
        }
    }
    s.iter().map(|v| v / m.rows as f64).collect()
}

#[test]
fn real_odds_cardio_half_normals_with_zscore() {
    let Some(dir) = shared_odds() else { return };
    let name: DatasetName = "odds:cardio".parse().unwrap();
    let opts = LoadOptions {
        protocol: SplitProtocol::HalfNormals,
        seed: 3,
        preprocessing: Some(Preprocessing::ZScore),
        dir: Some(dir.clone()),
        ..Default::default()
    };
    let p = load_prepared(&name, &opts).unwrap();
    // cardio: 1831 rows, 176 outliers (SOURCES.txt), so 1655 normals halved.
    let c = p.split.counts;
    assert_eq!((c.train, c.test_normal, c.test_anomalous), (827, 828, 176));
    assert_eq!(p.split.train.cols, 21);
    assert!(
        column_means(&p.split.train).iter().all(|m| m.abs() < 1e-4),
        "z-score fitted on train"
    );
    // Without a paper split, the paper protocol falls back to half-normals.
    let paper = load_prepared(
        &name,
        &LoadOptions {
            protocol: SplitProtocol::Paper,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(paper.split, p.split);
    assert!(matches!(
        load_prepared(
            &name,
            &LoadOptions {
                normal_class: 1,
                dir: Some(dir),
                ..Default::default()
            }
        ),
        Err(DataError::Invalid { .. })
    ));
}

#[test]
fn awid3_csv_through_the_registry() {
    let d = tempfile::tempdir().unwrap();
    let mut csv = String::from("frame.len,radiotap.dbm_antsignal,wlan.sa,Label\n");
    for i in 0..20 {
        let label = if i % 5 == 4 { "Deauth" } else { "Normal" };
        csv.push_str(&format!(
            "{},{},aa:bb:cc:00:00:{:02x},{label}\n",
            60 + i * 3,
            -40 - (i % 7),
            i
        ));
    }
    std::fs::write(d.path().join("part1.csv"), csv).unwrap();
    let opts = LoadOptions {
        seed: 1,
        dir: Some(d.path().to_path_buf()),
        ..Default::default()
    };
    let p = load_prepared(&DatasetName::Awid3, &opts).unwrap();
    let c = p.split.counts;
    assert_eq!((c.train, c.test_normal, c.test_anomalous), (8, 8, 4));
    assert_eq!(
        p.split.train.cols, 2,
        "the MAC address column is text and dropped"
    );
    assert!(
        column_means(&p.split.train).iter().all(|m| m.abs() < 1e-5),
        "default z-score"
    );
}

fn write_wav(path: &Path, seconds: f32, freq: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (16_000.0 * seconds) as usize;
    for k in 0..n {
        let t = k as f32 / 16_000.0;
        let v = (2.0 * std::f32::consts::PI * freq * t).sin() * 8_000.0
            + ((k * 7919) % 101) as f32 * 10.0;
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn mimii_dcase_layout_through_the_registry() {
    let d = tempfile::tempdir().unwrap();
    let fan = d.path().join("fan");
    std::fs::create_dir_all(fan.join("train")).unwrap();
    std::fs::create_dir_all(fan.join("test")).unwrap();
    for k in 0..2 {
        write_wav(
            &fan.join(format!("train/normal_id_00_0000000{k}.wav")),
            0.5,
            440.0 + 10.0 * k as f32,
        );
    }
    write_wav(&fan.join("test/normal_id_00_00000000.wav"), 0.5, 445.0);
    write_wav(&fan.join("test/anomaly_id_00_00000000.wav"), 0.5, 2_000.0);
    let opts = LoadOptions {
        normal_class: 0,
        dir: Some(d.path().to_path_buf()),
        ..Default::default()
    };
    let p = load_prepared(&DatasetName::Mimii, &opts).unwrap();
    let s = &p.split;
    assert!(
        s.counts.train > 0 && s.counts.test_normal > 0 && s.counts.test_anomalous > 0,
        "{}",
        s.counts
    );
    assert_eq!(
        s.counts.test_normal, s.counts.test_anomalous,
        "two clips of the same length"
    );
    let groups = s
        .test
        .groups
        .as_ref()
        .expect("test frames are grouped by clip");
    assert_eq!(groups.len(), s.test.x.rows);
    let mut distinct = groups.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 2);
    // A training stride keeps every n-th vector of each training clip, and every test vector.
    let strided = load_prepared(
        &DatasetName::Mimii,
        &LoadOptions {
            mimii_train_stride: 3,
            ..opts.clone()
        },
    )
    .unwrap()
    .split;
    let per_clip = s.counts.train / 2;
    assert_eq!(
        strided.counts.train,
        2 * per_clip.div_ceil(3),
        "{}",
        strided.counts
    );
    assert_eq!(strided.test.x.rows, s.test.x.rows);
    // Class 1 is the pump, which is not there.
    let err = load_prepared(
        &DatasetName::Mimii,
        &LoadOptions {
            normal_class: 1,
            ..opts.clone()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("pump"), "{err}");
    assert!(matches!(
        load_prepared(
            &DatasetName::Mimii,
            &LoadOptions {
                protocol: SplitProtocol::HalfNormals,
                ..opts
            }
        ),
        Err(DataError::Invalid { .. })
    ));
}
