//! MIMII and DCASE 2020 Task 2 machine sounds: discovery of the clips of one machine type,
//! the train/test split, 16 kHz 16-bit PCM wav reading and the DCASE baseline's log-mel
//! frame vectors (see [`crate::melspec`]).
//!
//! Two layouts are recognised under `root/<machine>/`:
//! - the MIMII release: `id_XX/normal/*.wav` and `id_XX/abnormal/*.wav` (8-channel files).
//!   It comes without a split; per machine id, as the MIMII baseline does, the test set is all
//!   abnormal clips plus as many normal clips, and the remaining normal clips are the training
//!   set. Which normal clips go to test is drawn with a seeded shuffle
//!   ([`MimiiOptions::split_seed`]), or, with `split_seed = None`, the first ones in file-name
//!   order exactly as `mimii_baseline` takes them;
//! - DCASE 2020 Task 2: `train/normal_id_XX_*.wav` and `test/{normal,anomaly}_id_XX_*.wav`
//!   (mono files); its own train and test folders are used as they are.
//!
//! Every clip becomes `n_frames - frames + 1` vectors of `frames * n_mels` log-mel values.
//! The test set carries the clip's index (in test order) as the group of each of its rows and
//! the clip's label on every row, so that a clip is scored by the mean of its vectors' scores.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::matrix::{LabeledData, Matrix};
use crate::melspec::{stack_frames, LogMelExtractor, MelConfig};

/// Which channel of a multi-channel wav feeds the features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    /// One channel, counted from 0; channel 0 is what the DCASE baseline's `demux_wav` takes.
    Channel(u16),
    /// The mean of all channels.
    Average,
}

/// Options of [`load`].
#[derive(Debug, Clone, PartialEq)]
pub struct MimiiOptions {
    /// Channel selection for multi-channel files; default `Channel(0)`. Mono files always use
    /// their one channel (asking for another one is an error).
    pub channel: ChannelMode,
    /// Feature parameters; default [`MelConfig::default`] (DCASE 2020 baseline, 16 kHz).
    pub mel: MelConfig,
    /// Machine ids to keep (`"id_00"`, ...); `None` keeps all. An id that is not present is
    /// an error.
    pub machine_ids: Option<Vec<String>>,
    /// MIMII layout only: seed of the shuffle that picks the normal test clips of each machine
    /// id; `None` takes the first clips in file-name order (the MIMII baseline). Default
    /// `Some(0)`.
    pub split_seed: Option<u64>,
    /// Keep every `train_vector_stride`-th vector of each training clip (1 = all, as the
    /// baseline); a larger stride bounds memory on the full release. Test clips keep all.
    pub train_vector_stride: usize,
}

impl Default for MimiiOptions {
    fn default() -> Self {
        MimiiOptions {
            channel: ChannelMode::Channel(0),
            mel: MelConfig::default(),
            machine_ids: None,
            split_seed: Some(0),
            train_vector_stride: 1,
        }
    }
}

/// One audio clip and its label (0 = normal, 1 = anomaly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// The clip's wav file.
    pub path: PathBuf,
    /// Machine id, `id_XX`.
    pub machine_id: String,
    /// 0 = normal, 1 = anomaly.
    pub label: u8,
}

/// The clips of one machine type, split into training (normal only) and test clips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipSplit {
    /// Training clips, all normal.
    pub train: Vec<Clip>,
    /// Test clips, normal and abnormal.
    pub test: Vec<Clip>,
}

/// Loads machine type `machine` under `root`: (training vectors of normal clips, test vectors
/// with clip labels and clip ids as groups). See the module documentation for the layouts and
/// the split.
pub fn load(root: &Path, machine: &str, opts: &MimiiOptions) -> Result<(LabeledData, LabeledData)> {
    if opts.train_vector_stride == 0 {
        return Err(DataError::invalid(
            "mimii options",
            "train_vector_stride must be positive",
        ));
    }
    let split = discover(root, machine, opts)?;
    let extractor = LogMelExtractor::new(opts.mel.clone())?;
    tracing::info!(
        machine,
        train_clips = split.train.len(),
        test_clips = split.test.len(),
        "extracting log-mel vectors"
    );
    let dim = opts.mel.vector_len();
    let mut train = LabeledData {
        x: Matrix::empty(dim),
        y: Vec::new(),
        groups: None,
    };
    for clip in &split.train {
        let v = clip_vectors(&clip.path, &extractor, opts)?;
        for row in v.row_iter().step_by(opts.train_vector_stride) {
            train.x.push_row(row);
            train.y.push(0);
        }
    }
    let mut test = LabeledData {
        x: Matrix::empty(dim),
        y: Vec::new(),
        groups: Some(Vec::new()),
    };
    for (id, clip) in split.test.iter().enumerate() {
        let v = clip_vectors(&clip.path, &extractor, opts)?;
        let group = u32::try_from(id).map_err(|_| DataError::invalid(machine, "too many clips"))?;
        test.x.data.extend_from_slice(&v.data);
        test.x.rows += v.rows;
        test.y.extend(std::iter::repeat_n(clip.label, v.rows));
        if let Some(g) = test.groups.as_mut() {
            g.extend(std::iter::repeat_n(group, v.rows));
        }
    }
    Ok((train, test))
}

/// The stacked log-mel vectors of one wav file.
pub fn clip_vectors(
    path: &Path,
    extractor: &LogMelExtractor,
    opts: &MimiiOptions,
) -> Result<Matrix> {
    let cfg = extractor.config();
    let signal = read_wav(path, opts.channel, cfg.sample_rate)?;
    let frames = extractor.n_frames(signal.len());
    if frames < cfg.frames {
        return Err(DataError::format(
            path,
            format!(
                "clip of {} samples gives {frames} frames, fewer than the {} stacked per vector",
                signal.len(),
                cfg.frames
            ),
        ));
    }
    let log_mel = extractor.log_mel(&signal, &path.display().to_string())?;
    Ok(stack_frames(&log_mel, cfg.frames))
}

/// Reads a 16-bit PCM wav at `sample_rate` Hz as samples scaled to [-1, 1) (`i16 / 32768`,
/// as `librosa.load` returns them), one channel or the mean of all as `channel` says.
pub fn read_wav(path: &Path, channel: ChannelMode, sample_rate: u32) -> Result<Vec<f32>> {
    let bytes = crate::fileio::read_bytes(path)?;
    let file_len = bytes.len() as u64;
    // hound reads the chunks as they come and loses its place after a chunk of odd size,
    // whose pad byte RIFF does not count; so the file is handed over as its `fmt ` and `data`
    // chunks alone. A file whose chunks cannot be walked goes to hound as it is, for its error.
    let bytes = wav_core_chunks(&bytes).unwrap_or(bytes);
    // hound's I/O errors are reads past the end of a short file.
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes))
        .map_err(|e| DataError::format(path, format!("invalid wav file: {e}")))?;
    let spec = reader.spec();
    if spec.sample_rate != sample_rate {
        return Err(DataError::format(
            path,
            format!(
                "sample rate is {} Hz, expected {sample_rate} Hz",
                spec.sample_rate
            ),
        ));
    }
    if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
        return Err(DataError::format(
            path,
            format!(
                "samples are {}-bit {:?}, expected 16-bit integer PCM",
                spec.bits_per_sample, spec.sample_format
            ),
        ));
    }
    let channels = usize::from(spec.channels);
    if channels == 0 {
        return Err(DataError::format(path, "wav header declares 0 channels"));
    }
    if let ChannelMode::Channel(c) = channel {
        if c >= spec.channels {
            return Err(DataError::format(
                path,
                format!("channel {c} asked for, the file has {channels}"),
            ));
        }
    }
    // The header's sample count sizes the buffer, so it must fit in the file.
    let claimed = u64::from(reader.len());
    if claimed * 2 > file_len {
        return Err(DataError::format(
            path,
            format!("header claims {claimed} samples, more than the {file_len}-byte file holds"),
        ));
    }
    let mut frame = Vec::with_capacity(channels);
    let mut out = Vec::with_capacity(reader.len() as usize / channels);
    for s in reader.samples::<i16>() {
        let s = s.map_err(|e| {
            DataError::format(path, format!("truncated or corrupt sample data: {e}"))
        })?;
        frame.push(f32::from(s) / 32768.0);
        if frame.len() == channels {
            out.push(match channel {
                ChannelMode::Channel(c) => frame[usize::from(c)],
                ChannelMode::Average => frame.iter().sum::<f32>() / channels as f32,
            });
            frame.clear();
        }
    }
    if !frame.is_empty() {
        return Err(DataError::format(path, "sample data ends inside a frame"));
    }
    if out.is_empty() {
        return Err(DataError::format(path, "wav file holds no samples"));
    }
    Ok(out)
}

/// A RIFF/WAVE file rebuilt from its `fmt ` and `data` chunks alone, the other chunks (`LIST`,
/// `fact`, `bext`, ...) dropped, each chunk stepped over with its pad byte when its size is odd
/// (RIFF's rule, which hound does not follow). A `data` size of `0xFFFFFFFF`, written by a
/// program that streamed the file before its length was known, becomes the bytes that follow.
/// `None` when the bytes are not a RIFF/WAVE file with both chunks in order.
fn wav_core_chunks(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let u32_at = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let mut fmt: Option<&[u8]> = None;
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(pos + 4)?;
        let body = pos + 8;
        if id == b"data" {
            let fmt = fmt?;
            let rest = &bytes[body..];
            let (declared, data) = if size == u32::MAX as usize {
                (rest.len(), rest)
            } else {
                // A short file keeps its declared size, so that it reads as truncated.
                (size, &rest[..size.min(rest.len())])
            };
            let fmt_padded = fmt.len() + (fmt.len() & 1);
            let riff_size = 4 + 8 + fmt_padded + 8 + declared;
            let mut out = Vec::with_capacity(20 + fmt_padded + 8 + data.len());
            out.extend_from_slice(b"RIFF");
            out.extend_from_slice(&u32::try_from(riff_size).ok()?.to_le_bytes());
            out.extend_from_slice(b"WAVEfmt ");
            out.extend_from_slice(&u32::try_from(fmt.len()).ok()?.to_le_bytes());
            out.extend_from_slice(fmt);
            out.resize(out.len() + (fmt.len() & 1), 0);
            out.extend_from_slice(b"data");
            out.extend_from_slice(&u32::try_from(declared).ok()?.to_le_bytes());
            out.extend_from_slice(data);
            return Some(out);
        }
        if id == b"fmt " {
            fmt = Some(bytes.get(body..body.checked_add(size)?)?);
        }
        pos = body.checked_add(size)?.checked_add(size & 1)?;
    }
    None
}

/// Finds the clips of `machine` under `root` and splits them (see the module documentation).
pub fn discover(root: &Path, machine: &str, opts: &MimiiOptions) -> Result<ClipSplit> {
    let dir = root.join(machine);
    if !dir.is_dir() {
        return Err(DataError::Unavailable {
            dataset: format!("mimii/{machine}"),
            problem: format!("{} is not a folder", dir.display()),
        });
    }
    let mut split = if dir.join("train").is_dir() || dir.join("test").is_dir() {
        discover_dcase(&dir)?
    } else {
        discover_mimii(&dir, opts.split_seed)?
    };
    if let Some(ids) = &opts.machine_ids {
        for id in ids {
            if !split
                .train
                .iter()
                .chain(&split.test)
                .any(|c| &c.machine_id == id)
            {
                return Err(DataError::invalid(
                    dir.display().to_string(),
                    format!("machine id {id} has no clips"),
                ));
            }
        }
        split.train.retain(|c| ids.contains(&c.machine_id));
        split.test.retain(|c| ids.contains(&c.machine_id));
    }
    if split.train.is_empty() || split.test.is_empty() {
        return Err(DataError::invalid(
            dir.display().to_string(),
            format!(
                "{} training and {} test clips; both must be non-empty",
                split.train.len(),
                split.test.len()
            ),
        ));
    }
    Ok(split)
}

/// The `.wav` files directly in `dir`, sorted by name; hidden files (`._00000000.wav`, the
/// AppleDouble files macOS leaves beside each clip on other disks) are skipped, as the
/// baselines' `glob("*.wav")` skips them.
fn wav_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if !dir.is_dir() {
        return Ok(files);
    }
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if path.is_file()
            && !crate::fileio::is_hidden(&path)
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `id_XX` from a DCASE file name such as `anomaly_id_02_00000017.wav`.
fn dcase_machine_id(name: &str) -> Option<String> {
    let start = name.find("id_")?;
    let rest = &name[start + 3..];
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    (end > 0).then(|| format!("id_{}", &rest[..end]))
}

fn discover_dcase(dir: &Path) -> Result<ClipSplit> {
    let mut split = ClipSplit {
        train: Vec::new(),
        test: Vec::new(),
    };
    for (sub, is_test) in [("train", false), ("test", true)] {
        for path in wav_files(&dir.join(sub))? {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let label = if name.starts_with("normal_") {
                0
            } else if name.starts_with("anomaly_") {
                1
            } else {
                return Err(DataError::format(
                    &path,
                    "cannot tell the label: the name starts with neither normal_ nor anomaly_",
                ));
            };
            let machine_id = dcase_machine_id(&name).ok_or_else(|| {
                DataError::format(&path, "no machine id (id_XX) in the file name")
            })?;
            let clip = Clip {
                path,
                machine_id,
                label,
            };
            if is_test {
                split.test.push(clip);
            } else if label == 0 {
                split.train.push(clip);
            } else {
                tracing::warn!(path = %clip.path.display(), "anomalous clip in a training folder ignored");
            }
        }
    }
    Ok(split)
}

fn discover_mimii(dir: &Path, seed: Option<u64>) -> Result<ClipSplit> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() && name.starts_with("id_") {
            ids.push((name, path));
        }
    }
    if ids.is_empty() {
        return Err(DataError::format(
            dir,
            "no MIMII id_XX folders and no DCASE train/test folders",
        ));
    }
    ids.sort();
    let mut rng = seed.map(ChaCha8Rng::seed_from_u64);
    let mut split = ClipSplit {
        train: Vec::new(),
        test: Vec::new(),
    };
    for (id, path) in ids {
        let mut normal = wav_files(&path.join("normal"))?;
        let abnormal = wav_files(&path.join("abnormal"))?;
        if normal.len() < abnormal.len() {
            tracing::warn!(
                machine_id = %id,
                normal = normal.len(),
                abnormal = abnormal.len(),
                "fewer normal than abnormal clips: no training clips from this id"
            );
        }
        if let Some(rng) = rng.as_mut() {
            normal.shuffle(rng);
        }
        let n_test = abnormal.len().min(normal.len());
        let mut train_normal = normal.split_off(n_test);
        let mut test_normal = normal;
        test_normal.sort();
        train_normal.sort();
        let clip = |path: PathBuf, label: u8| Clip {
            path,
            machine_id: id.clone(),
            label,
        };
        split
            .train
            .extend(train_normal.into_iter().map(|p| clip(p, 0)));
        split
            .test
            .extend(test_normal.into_iter().map(|p| clip(p, 0)));
        split.test.extend(abnormal.into_iter().map(|p| clip(p, 1)));
    }
    Ok(split)
}
