//! MIMII and DCASE 2020 Task 2 loading on generated wav trees: layouts, the per-id split,
//! channel selection, labels and clip groups, and every bad-input error (wrong sample rate or
//! bit depth, truncated or corrupted files, unlabelled names, missing folders).

use std::path::{Path, PathBuf};

use dasvdd_data::melspec::LogMelExtractor;
use dasvdd_data::mimii::{clip_vectors, discover, load, read_wav, ChannelMode, MimiiOptions};
use dasvdd_data::DataError;

/// 0.2 s at 16 kHz: 1 + 3200 / 512 = 7 frames, so 3 stacked vectors per clip.
const CLIP_SAMPLES: usize = 3200;
const VECTORS_PER_CLIP: usize = 3;

fn noise(seed: u64, n: usize) -> Vec<i16> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as i64 % 20000 - 10000) as i16
        })
        .collect()
}

fn write_wav(path: &Path, channels: u16, rate: u32, bits: u16, frames: &[Vec<i16>]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames[0].len() {
        for ch in frames {
            if bits == 8 {
                w.write_sample((ch[i] >> 8) as i8).unwrap();
            } else {
                w.write_sample(ch[i]).unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

fn clip(path: &Path, channels: u16, seed: u64) {
    let frames: Vec<Vec<i16>> = (0..channels)
        .map(|c| noise(seed * 8 + u64::from(c), CLIP_SAMPLES))
        .collect();
    write_wav(path, channels, 16_000, 16, &frames);
}

/// `root/fan/id_{00,02}/{normal: 6, abnormal: 2}` 8-channel clips.
fn mimii_tree(root: &Path) {
    for (k, id) in ["id_00", "id_02"].iter().enumerate() {
        for i in 0..6 {
            clip(
                &root.join(format!("fan/{id}/normal/{i:08}.wav")),
                8,
                100 * k as u64 + i,
            );
        }
        for i in 0..2 {
            clip(
                &root.join(format!("fan/{id}/abnormal/{i:08}.wav")),
                8,
                100 * k as u64 + 50 + i,
            );
        }
    }
}

/// DCASE layout: `root/pump/train` 3 + 2 normal clips, `test` 2 normal + 3 anomalous clips.
fn dcase_tree(root: &Path) {
    for (id, n) in [("id_00", 3), ("id_04", 2)] {
        for i in 0..n {
            clip(
                &root.join(format!("pump/train/normal_{id}_{i:08}.wav")),
                1,
                i,
            );
        }
    }
    clip(&root.join("pump/test/normal_id_00_00000000.wav"), 1, 10);
    clip(&root.join("pump/test/normal_id_04_00000000.wav"), 1, 11);
    for i in 0..3 {
        clip(
            &root.join(format!("pump/test/anomaly_id_00_{i:08}.wav")),
            1,
            20 + i,
        );
    }
}

#[test]
fn mimii_layout_split_labels_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    mimii_tree(dir.path());
    let opts = MimiiOptions::default();
    let (train, test) = load(dir.path(), "fan", &opts).unwrap();
    // Per id: test = 2 abnormal + 2 normal clips, train = 4 normal clips.
    assert_eq!(
        (train.x.rows, train.x.cols),
        (2 * 4 * VECTORS_PER_CLIP, 640)
    );
    assert!(train.y.iter().all(|&v| v == 0));
    assert_eq!(test.x.rows, 2 * 4 * VECTORS_PER_CLIP);
    let groups = test.groups.as_ref().unwrap();
    assert_eq!(groups.len(), test.x.rows);
    for (g, chunk) in groups.chunks(VECTORS_PER_CLIP).enumerate() {
        assert!(chunk.iter().all(|&v| v as usize == g));
    }
    assert_eq!(
        test.y.iter().filter(|&&v| v == 1).count(),
        4 * VECTORS_PER_CLIP
    );
    assert!(test.x.data.iter().all(|v| v.is_finite()));

    // The split is disjoint, seeded and reproducible; no seed takes the first files.
    let split = discover(dir.path(), "fan", &opts).unwrap();
    assert_eq!(split, discover(dir.path(), "fan", &opts).unwrap());
    for c in &split.test {
        assert!(!split.train.iter().any(|t| t.path == c.path));
    }
    let first = discover(
        dir.path(),
        "fan",
        &MimiiOptions {
            split_seed: None,
            ..opts.clone()
        },
    )
    .unwrap();
    let names: Vec<String> = first
        .test
        .iter()
        .filter(|c| c.label == 0 && c.machine_id == "id_00")
        .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["00000000.wav", "00000001.wav"]);
    let differs = (1..20).any(|seed| {
        discover(
            dir.path(),
            "fan",
            &MimiiOptions {
                split_seed: Some(seed),
                ..opts.clone()
            },
        )
        .unwrap()
            != split
    });
    assert!(differs, "the seed never changes the split");

    let only = MimiiOptions {
        machine_ids: Some(vec!["id_02".into()]),
        ..opts.clone()
    };
    let s = discover(dir.path(), "fan", &only).unwrap();
    assert!(s
        .train
        .iter()
        .chain(&s.test)
        .all(|c| c.machine_id == "id_02"));
    let missing = MimiiOptions {
        machine_ids: Some(vec!["id_06".into()]),
        ..opts
    };
    assert!(matches!(
        discover(dir.path(), "fan", &missing),
        Err(DataError::Invalid { .. })
    ));
}

#[test]
fn dcase_layout_uses_its_folders_and_names() {
    let dir = tempfile::tempdir().unwrap();
    dcase_tree(dir.path());
    let opts = MimiiOptions::default();
    let split = discover(dir.path(), "pump", &opts).unwrap();
    assert_eq!(split.train.len(), 5);
    assert_eq!(
        split.test.iter().map(|c| c.label).collect::<Vec<_>>(),
        [1, 1, 1, 0, 0]
    );
    assert_eq!(split.test[4].machine_id, "id_04");
    let (train, test) = load(dir.path(), "pump", &opts).unwrap();
    assert_eq!(train.x.rows, 5 * VECTORS_PER_CLIP);
    assert_eq!(test.x.rows, 5 * VECTORS_PER_CLIP);
    assert_eq!(test.groups.unwrap()[VECTORS_PER_CLIP], 1);

    clip(&dir.path().join("pump/test/id_00_00000009.wav"), 1, 3);
    let err = discover(dir.path(), "pump", &opts).unwrap_err();
    assert!(
        err.to_string().contains("id_00_00000009.wav") && err.to_string().contains("label"),
        "{err}"
    );
    assert!(matches!(
        discover(dir.path(), "valve", &opts),
        Err(DataError::Unavailable { .. })
    ));
}

#[test]
fn channel_selection_and_average() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Vec<i16>> = (0..3).map(|c| noise(c, CLIP_SAMPLES)).collect();
    let multi = dir.path().join("multi.wav");
    write_wav(&multi, 3, 16_000, 16, &frames);
    let mono = dir.path().join("mono.wav");
    write_wav(&mono, 1, 16_000, 16, &frames[2..]);
    let ex = LogMelExtractor::new(Default::default()).unwrap();
    let ch2 = MimiiOptions {
        channel: ChannelMode::Channel(2),
        ..Default::default()
    };
    assert_eq!(
        clip_vectors(&multi, &ex, &ch2).unwrap(),
        clip_vectors(&mono, &ex, &MimiiOptions::default()).unwrap()
    );
    let avg = read_wav(&multi, ChannelMode::Average, 16_000).unwrap();
    let want = (f32::from(frames[0][5]) + f32::from(frames[1][5]) + f32::from(frames[2][5]))
        / 32768.0
        / 3.0;
    assert!((avg[5] - want).abs() < 1e-6);
    assert_eq!(
        read_wav(&mono, ChannelMode::Channel(0), 16_000).unwrap()[7],
        f32::from(frames[2][7]) / 32768.0
    );
    let err = read_wav(&mono, ChannelMode::Channel(1), 16_000).unwrap_err();
    assert!(err.to_string().contains("mono.wav") && err.to_string().contains("channel 1"));
}

fn format_problem(r: Result<impl std::fmt::Debug, DataError>, file: &Path) -> String {
    match r {
        Err(DataError::Format { path, problem }) => {
            assert_eq!(path, file);
            problem
        }
        other => panic!(
            "expected a format error naming {}, got {other:?}",
            file.display()
        ),
    }
}

#[test]
fn wrong_rate_depth_and_short_clips_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let one = [noise(1, CLIP_SAMPLES)];
    let p44 = dir.path().join("rate.wav");
    write_wav(&p44, 1, 44_100, 16, &one);
    assert!(
        format_problem(read_wav(&p44, ChannelMode::Channel(0), 16_000), &p44)
            .contains("sample rate is 44100 Hz")
    );
    let p8 = dir.path().join("eight.wav");
    write_wav(&p8, 1, 16_000, 8, &one);
    assert!(format_problem(read_wav(&p8, ChannelMode::Channel(0), 16_000), &p8).contains("8-bit"));
    let short = dir.path().join("short.wav");
    write_wav(&short, 1, 16_000, 16, &[noise(1, 1000)]);
    let ex = LogMelExtractor::new(Default::default()).unwrap();
    assert!(
        format_problem(clip_vectors(&short, &ex, &MimiiOptions::default()), &short)
            .contains("fewer than the 5")
    );
    let missing = dir.path().join("missing.wav");
    assert!(matches!(
        read_wav(&missing, ChannelMode::Channel(0), 16_000),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn truncated_and_flipped_wavs_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    write_wav(&good, 2, 16_000, 16, &[noise(3, 600), noise(4, 600)]);
    let bytes = std::fs::read(&good).unwrap();
    let bad: PathBuf = dir.path().join("bad.wav");
    for cut in 0..bytes.len() {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let r = read_wav(&bad, ChannelMode::Average, 16_000);
        assert!(
            matches!(&r, Err(DataError::Format { path, .. }) if path == &bad),
            "cut at {cut}: {r:?}"
        );
    }
    for pos in 0..bytes.len() {
        let mut b = bytes.clone();
        b[pos] ^= 0xff;
        std::fs::write(&bad, &b).unwrap();
        match read_wav(&bad, ChannelMode::Channel(1), 16_000) {
            Ok(s) => assert!(s.len() <= 600, "flip at {pos} grew the clip"),
            Err(e) => assert!(
                matches!(&e, DataError::Format { path, .. } if path == &bad),
                "flip at {pos}: {e}"
            ),
        }
    }
}

/// `bytes` (a wav as hound writes it) with `extra` chunks inserted before its `data` chunk.
fn with_chunks_before_data(bytes: &[u8], extra: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
    let mut out = bytes[..data_at].to_vec();
    for (id, body) in extra {
        out.extend_from_slice(*id);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0); // RIFF's pad byte, not counted in the chunk's size
        }
    }
    out.extend_from_slice(&bytes[data_at..]);
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

#[test]
fn odd_sized_chunks_and_streamed_sizes_read_like_soundfile() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    write_wav(&good, 2, 16_000, 16, &[noise(5, 700), noise(6, 700)]);
    let want = read_wav(&good, ChannelMode::Channel(1), 16_000).unwrap();
    assert_eq!(want.len(), 700);
    let bytes = std::fs::read(&good).unwrap();

    // Odd-sized chunks before the data (a LIST/INFO of odd length, an unknown chunk of 3 bytes),
    // each followed by the pad byte that RIFF requires and does not count.
    let odd = dir.path().join("odd.wav");
    let padded = with_chunks_before_data(
        &bytes,
        &[
            (b"LIST", b"INFOISFT\x05\x00\x00\x00Lavf\x00"),
            (b"abcd", b"xyz"),
        ],
    );
    std::fs::write(&odd, &padded).unwrap();
    assert_eq!(
        read_wav(&odd, ChannelMode::Channel(1), 16_000).unwrap(),
        want
    );

    // A header written before the length was known: data size 0xFFFFFFFF.
    let streamed = dir.path().join("streamed.wav");
    let mut s = bytes.clone();
    let data_at = s.windows(4).position(|w| w == b"data").unwrap();
    s[data_at + 4..data_at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    s[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&streamed, &s).unwrap();
    assert_eq!(
        read_wav(&streamed, ChannelMode::Channel(1), 16_000).unwrap(),
        want
    );

    // Cut anywhere, the padded file is still an error naming it, never a panic.
    for cut in 0..padded.len() {
        std::fs::write(&odd, &padded[..cut]).unwrap();
        let r = read_wav(&odd, ChannelMode::Average, 16_000);
        assert!(
            matches!(&r, Err(DataError::Format { path, .. }) if path == &odd),
            "cut at {cut}: {r:?}"
        );
    }
}

#[test]
fn hidden_appledouble_files_are_not_clips() {
    let dir = tempfile::tempdir().unwrap();
    mimii_tree(dir.path());
    let opts = MimiiOptions::default();
    let before = discover(dir.path(), "fan", &opts).unwrap();
    // macOS leaves `._name` files (metadata, not audio) beside each file it unpacks elsewhere.
    for sub in ["id_00/normal", "id_02/abnormal"] {
        std::fs::write(
            dir.path().join(format!("fan/{sub}/._00000000.wav")),
            b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X",
        )
        .unwrap();
    }
    assert_eq!(discover(dir.path(), "fan", &opts).unwrap(), before);
    load(dir.path(), "fan", &opts).unwrap();
}
