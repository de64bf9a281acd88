//! Readers of CIFAR-10's two distributed forms:
//! - the binary version (`cifar-10-binary.tar.gz`, what `dasvdd data fetch cifar10` downloads):
//!   `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin`, each a sequence of
//!   3073-byte records (one label byte 0..9, then 3072 pixel bytes as R, G and B planes of
//!   32 x 32, each plane row-major);
//! - the Python version (`cifar-10-python.tar.gz`, the folder torchvision downloads):
//!   `data_batch_1` .. `data_batch_5` and `test_batch`, each a pickled dict whose `data` is a
//!   NumPy `uint8` array of 10,000 x 3072 (the same pixel order) and `labels` a list of 10,000
//!   labels 0..9. The pickle is read without Python, by a reader that runs no code.
//!
//! A folder with both versions is read from the binary one.

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
/// Names of the Python version's training batch files, in order.
pub const CIFAR_PY_TRAIN_FILES: [&str; 5] = [
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
];
/// Name of the Python version's test batch file.
pub const CIFAR_PY_TEST_FILE: &str = "test_batch";
/// The folder `cifar-10-python.tar.gz` (torchvision's download) unpacks into.
pub const CIFAR_PY_ARCHIVE_DIR: &str = "cifar-10-batches-py";

/// Which of CIFAR-10's two distributed forms a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarFormat {
    /// `*.bin` files of 3073-byte records.
    Binary,
    /// Pickled dicts of NumPy arrays.
    Python,
}

impl CifarFormat {
    /// The training batch files' names, in order.
    pub fn train_files(self) -> [&'static str; 5] {
        match self {
            CifarFormat::Binary => CIFAR_TRAIN_FILES,
            CifarFormat::Python => CIFAR_PY_TRAIN_FILES,
        }
    }

    /// The test batch file's name.
    pub fn test_file(self) -> &'static str {
        match self {
            CifarFormat::Binary => CIFAR_TEST_FILE,
            CifarFormat::Python => CIFAR_PY_TEST_FILE,
        }
    }

    /// The folder the official archive of this form unpacks into.
    pub fn archive_dir(self) -> &'static str {
        match self {
            CifarFormat::Binary => CIFAR_ARCHIVE_DIR,
            CifarFormat::Python => CIFAR_PY_ARCHIVE_DIR,
        }
    }
}

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

/// Parses one batch of CIFAR-10's Python version (a pickled dict with `data`, a NumPy `uint8`
/// array of n x 3072, and `labels`, n labels 0..9); `path` only names the file in errors.
pub fn parse_cifar_python_batch(path: &Path, bytes: &[u8]) -> Result<ImageSet> {
    use crate::pickle::Value;
    let err = |p: String| DataError::format(path, p);
    if bytes.is_empty() {
        return Err(err("empty cifar-10 batch file".into()));
    }
    let batch = crate::pickle::load(bytes).map_err(|p| {
        err(format!(
            "not a readable cifar-10 python batch (pickle): {p}"
        ))
    })?;
    if !matches!(batch, Value::Dict(_)) {
        return Err(err(format!(
            "the pickle holds {}, where a cifar-10 python batch holds a dict",
            batch.kind()
        )));
    }
    if batch.get("labels").is_none() && batch.get("fine_labels").is_some() {
        return Err(err(
            "this is a CIFAR-100 batch (fine_labels), not CIFAR-10".into()
        ));
    }
    let data = batch
        .get("data")
        .ok_or_else(|| err("the batch has no 'data' entry".into()))?;
    let Value::Array(array) = &data else {
        return Err(err(format!(
            "the batch's 'data' is {}, not a NumPy array",
            data.kind()
        )));
    };
    let array = array.borrow();
    let array = array
        .as_ref()
        .ok_or_else(|| err("the batch's 'data' array was never given its contents".into()))?;
    let per_image = CIFAR_RECORD - 1;
    if array.shape.len() != 2 || array.shape[1] != per_image {
        return Err(err(format!(
            "the batch's 'data' has shape {:?}, expected (n, {per_image})",
            array.shape
        )));
    }
    let pixels = match (array.dtype.kind, array.bytes_c_order()) {
        ('u', Some(p)) => p,
        _ => {
            return Err(err(format!(
                "the batch's 'data' holds {}{}-byte values, expected uint8 pixels",
                match array.dtype.kind {
                    'u' => "unsigned ",
                    'i' => "signed ",
                    'f' => "float ",
                    _ => "bool ",
                },
                array.dtype.size
            )))
        }
    };
    let n = array.shape[0];
    let labels = batch
        .get("labels")
        .ok_or_else(|| err("the batch has no 'labels' entry".into()))?;
    let labels: Vec<i64> = match &labels {
        Value::List(l) => l
            .borrow()
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_int()
                    .ok_or_else(|| err(format!("label {i} is {}, not an integer", v.kind())))
            })
            .collect::<Result<_>>()?,
        Value::Array(a) => a
            .borrow()
            .as_ref()
            .and_then(|a| (a.shape.len() == 1).then(|| a.ints_c_order()).flatten())
            .ok_or_else(|| err("the batch's 'labels' array is not a 1-d integer array".into()))?,
        v => {
            return Err(err(format!(
                "the batch's 'labels' is {}, not a list",
                v.kind()
            )))
        }
    };
    if labels.len() != n {
        return Err(err(format!(
            "{} labels for {n} images in 'data'",
            labels.len()
        )));
    }
    let labels = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            u8::try_from(l)
                .ok()
                .filter(|&l| l <= 9)
                .ok_or_else(|| err(format!("image {i} has label {l}, outside 0..9")))
        })
        .collect::<Result<Vec<u8>>>()?;
    ImageSet::new(pixels, labels, CIFAR_SIDE, CIFAR_SIDE, 3).map_err(err)
}

/// Reads one batch of CIFAR-10's Python version.
pub fn read_cifar_python_batch(path: &Path) -> Result<ImageSet> {
    parse_cifar_python_batch(path, &read_bytes(path)?)
}

/// The folder of `dir` holding the batch files, and their form: `dir` itself, its
/// `cifar-10-batches-bin/` or its `cifar-10-batches-py/`; the binary version first.
pub fn find_cifar_dir(dir: &Path) -> Option<(PathBuf, CifarFormat)> {
    [CifarFormat::Binary, CifarFormat::Python]
        .into_iter()
        .flat_map(|f| [(dir.to_path_buf(), f), (dir.join(f.archive_dir()), f)])
        .find(|(d, f)| d.join(f.test_file()).is_file() && d.join(f.train_files()[0]).is_file())
}

/// Records in each batch of the official dataset (five training batches and one test batch).
pub const CIFAR_BATCH_RECORDS: usize = 10_000;

/// Whether `dir` (or its `cifar-10-batches-bin/` or `cifar-10-batches-py/` subfolder) holds
/// all six batches of one version, each binary batch of its official size (10,000 records of
/// 3073 bytes; the pickled batches have no fixed size). [`find_cifar_dir`] judges by two of
/// them, which is enough to say where the dataset is (the loader then names any missing
/// batch), but not for `fetch` to decide that nothing needs downloading: an unpack cut short
/// leaves some batches only, or a batch cut short.
pub fn cifar_dir_is_complete(dir: &Path) -> bool {
    let whole = |f: CifarFormat, p: &Path| match f {
        CifarFormat::Binary => std::fs::metadata(p)
            .is_ok_and(|m| m.is_file() && m.len() == (CIFAR_BATCH_RECORDS * CIFAR_RECORD) as u64),
        CifarFormat::Python => p.is_file(),
    };
    [CifarFormat::Binary, CifarFormat::Python]
        .into_iter()
        .flat_map(|f| [(dir.to_path_buf(), f), (dir.join(f.archive_dir()), f)])
        .any(|(d, f)| {
            f.train_files()
                .iter()
                .chain([&f.test_file()])
                .all(|name| whole(f, &d.join(name)))
        })
}

/// Loads the official CIFAR-10 training (five batches, concatenated in order) and test splits
/// from `dir` (or its `cifar-10-batches-bin/` or `cifar-10-batches-py/` subfolder).
pub fn load_cifar10_dir(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let (root, format) = find_cifar_dir(dir).ok_or_else(|| {
        DataError::format(
            dir,
            format!(
                "missing cifar-10 batches: expected {} and {CIFAR_TEST_FILE} here or in \
                 {CIFAR_ARCHIVE_DIR}/ (the binary version), or {} and {CIFAR_PY_TEST_FILE} \
                 here or in {CIFAR_PY_ARCHIVE_DIR}/ (the Python version)",
                CIFAR_TRAIN_FILES.join(", "),
                CIFAR_PY_TRAIN_FILES.join(", ")
            ),
        )
    })?;
    let read = |p: &Path| match format {
        CifarFormat::Binary => read_cifar_batch(p),
        CifarFormat::Python => read_cifar_python_batch(p),
    };
    let mut train = ImageSet {
        pixels: Vec::new(),
        labels: Vec::new(),
        height: 32,
        width: 32,
        channels: 3,
    };
    for name in format.train_files() {
        let batch = read(&root.join(name))?;
        train.pixels.extend_from_slice(&batch.pixels);
        train.labels.extend_from_slice(&batch.labels);
    }
    let test = read(&root.join(format.test_file()))?;
    Ok((train, test))
}
