//! Reader of the CIFAR-10 binary version: `data_batch_1.bin` .. `data_batch_5.bin` and
//! `test_batch.bin`, each a sequence of 3073-byte records (one label byte 0..9, then 3072 pixel
//! bytes as R, G and B planes of 32 x 32, each plane row-major).

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::fileio::read_bytes;
use crate::images::ImageSet;

/// Image side of CIFAR-10.
pub const CIFAR_SIDE: usize = 32;
/// Bytes per record: one label byte and 3 x 32 x 32 pixels.
pub const CIFAR_RECORD: usize = 1 + 3 * CIFAR_SIDE * CIFAR_SIDE;
/// Names of the training batch files, in order.
pub const CIFAR_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// Name of the test batch file.
pub const CIFAR_TEST_FILE: &str = "test_batch.bin";
/// The folder the official archive `cifar-10-binary.tar.gz` unpacks into.
pub const CIFAR_ARCHIVE_DIR: &str = "cifar-10-batches-bin";

/// Parses CIFAR-10 records from `bytes`; `path` only names the file in errors.
pub fn parse_cifar_batch(path: &Path, bytes: &[u8]) -> Result<ImageSet> {
    if bytes.is_empty() {
        return Err(DataError::format(path, "empty cifar-10 batch file"));
    }
    if bytes.len() % CIFAR_RECORD != 0 {
        return Err(DataError::format(
            path,
            format!(
                "size {} is not a multiple of the {CIFAR_RECORD}-byte cifar-10 record \
                 (truncated or not a cifar-10 binary batch)",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / CIFAR_RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * (CIFAR_RECORD - 1));
    for (i, rec) in bytes.chunks_exact(CIFAR_RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(DataError::format(
                path,
                format!("record {i} has label {}, outside 0..9", rec[0]),
            ));
        }
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    ImageSet::new(pixels, labels, CIFAR_SIDE, CIFAR_SIDE, 3).map_err(|p| DataError::format(path, p))
}

/// Reads one CIFAR-10 binary batch file.
pub fn read_cifar_batch(path: &Path) -> Result<ImageSet> {
    parse_cifar_batch(path, &read_bytes(path)?)
}

/// The folder of `dir` holding the batch files: `dir` itself or its `cifar-10-batches-bin/`.
pub fn find_cifar_dir(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.join(CIFAR_ARCHIVE_DIR)]
        .into_iter()
        .find(|d| d.join(CIFAR_TEST_FILE).is_file() && d.join(CIFAR_TRAIN_FILES[0]).is_file())
}

/// Loads the official CIFAR-10 training (five batches, concatenated in order) and test splits
/// from `dir` (or its `cifar-10-batches-bin/` subfolder).
pub fn load_cifar10_dir(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let root = find_cifar_dir(dir).ok_or_else(|| {
        DataError::format(
            dir,
            format!(
                "missing cifar-10 batches: expected {} and {CIFAR_TEST_FILE} here or in \
                 {CIFAR_ARCHIVE_DIR}/",
                CIFAR_TRAIN_FILES.join(", ")
            ),
        )
    })?;
    let mut train = ImageSet {
        pixels: Vec::new(),
        labels: Vec::new(),
        height: 32,
        width: 32,
        channels: 3,
    };
    for name in CIFAR_TRAIN_FILES {
        let batch = read_cifar_batch(&root.join(name))?;
        train.pixels.extend_from_slice(&batch.pixels);
        train.labels.extend_from_slice(&batch.labels);
    }
    let test = read_cifar_batch(&root.join(CIFAR_TEST_FILE))?;
    Ok((train, test))
}
