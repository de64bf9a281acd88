//! The dataset registry: names (`mnist`, `fmnist`, `cifar10`, `speech`, `pima`, `awid3`,
//! `mimii`, `odds:<name>`), where their files are found, their classes, and
//! [`load_split`], which turns a name into a preprocessed [`OneClassSplit`].
//!
//! A dataset folder is looked for, in order, in `$DASVDD_DATA/<name>/`, `./datasets/<name>/`,
//! `<workspace>/datasets/<name>/` and, for Fashion-MNIST, Debian's
//! `/usr/share/datasets/fashion-mnist`. ODDS files are also found as `<root>/odds/<stem>.mat`
//! and `<root>/<stem>.mat`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalog::DatasetInfo;
use crate::error::{DataError, Result};
use crate::matrix::LabeledData;
use crate::preprocess::{FittedPreprocessing, GcnNorm, Preprocessing};
use crate::split::{
    half_normals_split, image_one_class_split, paper_tabular_split, reference_code_tabular_split,
    OneClassSplit, SplitProtocol,
};

/// Environment variable naming the root folder of all datasets.
pub const DATA_ENV: &str = "DASVDD_DATA";
/// Where Debian's `dataset-fashion-mnist` package installs the four IDX files.
pub const DEBIAN_FMNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST class names, by label.
pub const FMNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
/// CIFAR-10 class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];
/// MIMII machine types; the "normal class" of MIMII selects the machine.
pub const MIMII_MACHINES: [&str; 4] = ["fan", "pump", "slider", "valve"];

/// A dataset the registry knows by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DatasetName {
    /// MNIST handwritten digits (`mnist`), IDX files; ten classes.
    Mnist,
    /// Fashion-MNIST (`fmnist`), IDX files; ten classes.
    Fmnist,
    /// CIFAR-10 (`cifar10`), binary or Python (pickle) batches; ten classes.
    Cifar10,
    /// ODDS Speech (`speech`, also `odds:speech`).
    Speech,
    /// ODDS Pima Indians diabetes (`pima`, also `odds:pima`).
    Pima,
    /// AWID3 Wi-Fi intrusion CSV files (`awid3`).
    Awid3,
    /// MIMII / DCASE 2020 Task 2 machine sounds (`mimii`); the classes are the machine types.
    Mimii,
    /// Any ODDS `.mat` file by its stem (`odds:cardio` reads `cardio.mat`).
    Odds(String),
}

impl FromStr for DatasetName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(stem) = lower.strip_prefix("odds:") {
            let ok = !stem.is_empty()
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            return match (ok, stem) {
                (true, "speech") => Ok(DatasetName::Speech),
                (true, "pima") => Ok(DatasetName::Pima),
                (true, _) => Ok(DatasetName::Odds(stem.to_string())),
                (false, _) => Err(DataError::invalid(
                    "dataset name",
                    format!("`{s}`: an odds name is letters, digits, `-` or `_`"),
                )),
            };
        }
        Ok(match lower.as_str() {
            "mnist" => DatasetName::Mnist,
            "fmnist" | "fashion-mnist" | "fashion_mnist" | "fashionmnist" => DatasetName::Fmnist,
            "cifar10" | "cifar-10" => DatasetName::Cifar10,
            "speech" => DatasetName::Speech,
            "pima" => DatasetName::Pima,
            "awid3" | "awid" => DatasetName::Awid3,
            "mimii" => DatasetName::Mimii,
            _ => {
                return Err(DataError::invalid(
                    "dataset name",
                    format!(
                        "unknown dataset `{s}` (known: {}, or odds:<name>)",
                        DatasetName::KNOWN.join(", ")
                    ),
                ))
            }
        })
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatasetName::Odds(stem) => write!(f, "odds:{stem}"),
            other => f.write_str(other.dir_name()),
        }
    }
}

impl DatasetName {
    /// The fixed names (ODDS files come on top, as `odds:<name>`).
    pub const KNOWN: [&'static str; 7] = [
        "mnist", "fmnist", "cifar10", "speech", "pima", "awid3", "mimii",
    ];

    /// The folder name under a data root.
    pub fn dir_name(&self) -> &str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::Fmnist => "fmnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Speech => "speech",
            DatasetName::Pima => "pima",
            DatasetName::Awid3 => "awid3",
            DatasetName::Mimii => "mimii",
            DatasetName::Odds(stem) => stem,
        }
    }

    /// The file stem of a tabular ODDS dataset (`speech`, `pima`, `cardio`, ...).
    pub fn file_stem(&self) -> &str {
        self.dir_name()
    }

    /// True for the datasets read from ODDS `.mat` (or CSV) files.
    pub fn is_odds(&self) -> bool {
        matches!(
            self,
            DatasetName::Speech | DatasetName::Pima | DatasetName::Odds(_)
        )
    }

    /// The classes that can be chosen as normal class, by index. Datasets that come labelled
    /// normal/anomalous have one class, `normal`; MIMII's classes are its machine types.
    pub fn classes(&self) -> Vec<String> {
        let names: Vec<&str> = match self {
            DatasetName::Mnist => vec!["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetName::Fmnist => FMNIST_CLASSES.to_vec(),
            DatasetName::Cifar10 => CIFAR10_CLASSES.to_vec(),
            DatasetName::Mimii => MIMII_MACHINES.to_vec(),
            _ => vec!["normal"],
        };
        names.into_iter().map(String::from).collect()
    }

    /// Source, licence, size and expected files.
    pub fn info(&self) -> DatasetInfo {
        dataset_info(self)
    }

    /// The preprocessing of the default variant, the paper's text
    /// ([`DatasetName::paper_preprocessing`]).
    pub fn default_preprocessing(&self) -> Preprocessing {
        self.paper_preprocessing()
    }

    /// The preprocessing of the paper's text: pixels are already in [0, 1] for image datasets;
    /// CIFAR-10 adds the global contrast normalisation of Deep SVDD, which the paper cites for
    /// it (reference \[20\]): l1, then one min-max fitted on the training (normal) data; AWID3's raw
    /// traffic fields differ in scale by orders of magnitude and get a z-score (an assumption:
    /// no AWID3 code was published); the rest is left as is.
    pub fn paper_preprocessing(&self) -> Preprocessing {
        match self {
            DatasetName::Cifar10 => Preprocessing::GcnGlobalMinMax(GcnNorm::L1),
            _ => self.reference_code_preprocessing(),
        }
    }

    /// The preprocessing of the 2021 DASVDD code: as the paper's, except CIFAR-10's l2 global
    /// contrast normalisation without min-max.
    pub fn reference_code_preprocessing(&self) -> Preprocessing {
        match self {
            DatasetName::Cifar10 => Preprocessing::Gcn(GcnNorm::L2),
            DatasetName::Awid3 => Preprocessing::ZScore,
            _ => Preprocessing::None,
        }
    }

    /// Does `dir` hold this dataset's files?
    pub(crate) fn is_present_in(&self, dir: &Path) -> bool {
        match self {
            DatasetName::Mnist | DatasetName::Fmnist => crate::idx::MnistFiles::find(dir).is_some(),
            DatasetName::Cifar10 => crate::cifar::find_cifar_dir(dir).is_some(),
            DatasetName::Speech | DatasetName::Pima | DatasetName::Odds(_) => {
                tabular_file(dir, self.file_stem()).is_some()
            }
            DatasetName::Awid3 | DatasetName::Mimii => std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false),
        }
    }

    /// Does `dir` hold all of this dataset's files? The same as [`DatasetName::is_present_in`]
    /// except for CIFAR-10, which is found by two of its six batches but complete only with all
    /// of them: `fetch` downloads again rather than keep what an interrupted unpack left.
    pub(crate) fn is_complete_in(&self, dir: &Path) -> bool {
        match self {
            DatasetName::Cifar10 => crate::cifar::cifar_dir_is_complete(dir),
            _ => self.is_present_in(dir),
        }
    }
}

/// The classes of the dataset called `name` (see [`DatasetName::classes`]).
pub fn classes(name: &str) -> Result<Vec<String>> {
    Ok(name.parse::<DatasetName>()?.classes())
}

/// The data roots searched, in order: `$DASVDD_DATA`, `./datasets`, `<workspace>/datasets`.
pub fn data_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(r) = std::env::var_os(DATA_ENV).filter(|v| !v.is_empty()) {
        roots.push(PathBuf::from(r));
    }
    roots.push(PathBuf::from("datasets"));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    roots.push(workspace);
    roots
}

/// The folders searched for `name`, in order (existing or not): in each root, `<root>/<name>`,
/// then the folder torchvision downloads the dataset into under the same root
/// (`MNIST/raw`, `FashionMNIST/raw`, `cifar-10-batches-py` in the root itself), so that
/// `$DASVDD_DATA` may be a torchvision data root.
pub fn candidate_dirs(name: &DatasetName) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for root in data_roots() {
        dirs.push(root.join(name.dir_name()));
        match name {
            DatasetName::Mnist => dirs.push(root.join("MNIST").join("raw")),
            DatasetName::Fmnist => dirs.push(root.join("FashionMNIST").join("raw")),
            DatasetName::Cifar10 => dirs.push(root.clone()),
            _ => {}
        }
        if name.is_odds() {
            dirs.push(root.join("odds"));
            dirs.push(root.clone());
        }
    }
    if *name == DatasetName::Fmnist {
        dirs.push(PathBuf::from(DEBIAN_FMNIST_DIR));
    }
    dirs
}

/// The first folder that holds `name`'s files; an `Unavailable` error listing the folders
/// searched and the files expected otherwise.
pub fn locate(name: &DatasetName) -> Result<PathBuf> {
    let dirs = candidate_dirs(name);
    if let Some(d) = dirs.iter().find(|d| name.is_present_in(d)) {
        tracing::debug!(dataset = %name, dir = %d.display(), "found dataset");
        return Ok(d.clone());
    }
    let info = name.info();
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let how = if info.remote_files.is_empty() {
        format!("obtain it by hand: {}", info.manual)
    } else {
        format!("run `dasvdd data fetch {name}` or {}", info.manual)
    };
    Err(DataError::Unavailable {
        dataset: name.to_string(),
        problem: format!(
            "expected files {} in one of {}; {how}",
            info.expected_files.join(", "),
            searched.join(", ")
        ),
    })
}

/// The `.mat` or `.csv` file of a tabular dataset in `dir` (`.mat` preferred).
fn tabular_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["mat", "csv"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .find(|p| p.is_file())
}

/// Reads a tabular ODDS dataset from `dir`: `<stem>.mat` through the MAT reader, or
/// `<stem>.csv` with features followed by a 0/1 label column and no header (the layout of the
/// reference code's `speech.csv` and `pima.csv`).
pub fn load_tabular(dir: &Path, stem: &str) -> Result<LabeledData> {
    let file = tabular_file(dir, stem)
        .ok_or_else(|| DataError::format(dir, format!("missing {stem}.mat or {stem}.csv")))?;
    if file.extension().is_some_and(|e| e == "mat") {
        crate::mat::read_mat(&file)
    } else {
        let opts = crate::tabular::CsvOptions {
            header: crate::tabular::Header::Absent,
            label: crate::tabular::LabelSource::Column(crate::tabular::ColumnRef::Last),
            delimiter: crate::tabular::Delimiter::Char(b','),
            ..Default::default()
        };
        crate::tabular::read_csv(&file, &opts)
    }
}

/// Options of [`load_prepared`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadOptions {
    /// Index into [`DatasetName::classes`]; must be 0 for datasets with one class.
    pub normal_class: u8,
    /// Seeds the random parts of a split (only the half-normals protocol has any).
    pub seed: u64,
    /// Which split to make; default [`SplitProtocol::Paper`].
    pub protocol: SplitProtocol,
    /// `None`: the dataset's [`DatasetName::default_preprocessing`].
    pub preprocessing: Option<Preprocessing>,
    /// Read from this folder instead of searching the data roots.
    pub dir: Option<PathBuf>,
    /// AWID3 only: keep a seeded uniform sample of this many rows (the full data is tens of
    /// gigabytes); `None` reads every row.
    pub sample_rows: Option<usize>,
    /// MIMII only: keep every n-th training vector of each clip (1 = all, as the DCASE
    /// baseline); larger values bound the memory of the full release. Test clips keep all.
    pub mimii_train_stride: usize,
}

impl Default for LoadOptions {
    /// Class 0, seed 0, the paper's protocol and preprocessing, folders searched.
    fn default() -> Self {
        LoadOptions {
            normal_class: 0,
            seed: 0,
            protocol: SplitProtocol::Paper,
            preprocessing: None,
            dir: None,
            sample_rows: None,
            mimii_train_stride: 1,
        }
    }
}

/// A split after preprocessing, with the fitted preprocessing to store in a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSplit {
    /// The dataset the split was made of.
    pub dataset: DatasetName,
    /// The preprocessed training and test data.
    pub split: OneClassSplit,
    /// The preprocessing as fitted on the training data, to apply to new data.
    pub preprocessing: FittedPreprocessing,
}

/// Loads dataset `name` and makes its one-class split: see [`load_prepared`].
pub fn load_split(
    name: &str,
    normal_class: u8,
    seed: u64,
    protocol: SplitProtocol,
) -> Result<OneClassSplit> {
    let opts = LoadOptions {
        normal_class,
        seed,
        protocol,
        ..Default::default()
    };
    Ok(load_prepared(&name.parse()?, &opts)?.split)
}

/// Loads a dataset, splits it and preprocesses it (statistics fitted on the training part).
///
/// Protocols: image datasets and MIMII have only their official train/test split
/// ([`SplitProtocol::Paper`]; [`SplitProtocol::ReferenceCode`] is the same for them; asking for
/// half-normals is an error). PIMA and Speech offer all three protocols. AWID3 and other ODDS
/// files have no paper split: [`SplitProtocol::Paper`] and [`SplitProtocol::ReferenceCode`]
/// fall back to half-normals for them, with an info event.
pub fn load_prepared(name: &DatasetName, opts: &LoadOptions) -> Result<PreparedSplit> {
    let n_classes = name.classes().len();
    if usize::from(opts.normal_class) >= n_classes {
        return Err(DataError::invalid(
            name.to_string(),
            format!(
                "normal class {} does not exist: the classes are 0..{} ({})",
                opts.normal_class,
                n_classes - 1,
                name.classes().join(", ")
            ),
        ));
    }
    let dir = match &opts.dir {
        Some(d) => d.clone(),
        None => locate(name)?,
    };
    let context = name.to_string();
    let image_only = |what: &str| -> Result<()> {
        if opts.protocol == SplitProtocol::HalfNormals {
            return Err(DataError::invalid(
                &context,
                format!("{what} has only its official train/test split; use the paper protocol"),
            ));
        }
        Ok(())
    };
    let split = match name {
        DatasetName::Mnist | DatasetName::Fmnist => {
            image_only("an image dataset")?;
            let (train, test) = crate::idx::load_mnist_dir(&dir)?;
            image_one_class_split(&context, &train, &test, opts.normal_class)?
        }
        DatasetName::Cifar10 => {
            image_only("an image dataset")?;
            let (train, test) = crate::cifar::load_cifar10_dir(&dir)?;
            image_one_class_split(&context, &train, &test, opts.normal_class)?
        }
        DatasetName::Speech | DatasetName::Pima | DatasetName::Odds(_) => {
            let data = load_tabular(&dir, name.file_stem())?;
            match (opts.protocol, name) {
                (SplitProtocol::Paper, DatasetName::Speech | DatasetName::Pima) => {
                    paper_tabular_split(name.file_stem(), &data)?
                }
                (SplitProtocol::ReferenceCode, DatasetName::Speech | DatasetName::Pima) => {
                    reference_code_tabular_split(name.file_stem(), &data)?
                }
                (SplitProtocol::Paper | SplitProtocol::ReferenceCode, _) => {
                    tracing::info!(dataset = %name, "no paper split: using half-normals");
                    half_normals_split(&context, &data, opts.seed)?
                }
                (SplitProtocol::HalfNormals, _) => half_normals_split(&context, &data, opts.seed)?,
            }
        }
        DatasetName::Awid3 => {
            let data = load_awid3(&dir, opts.sample_rows, opts.seed)?;
            half_normals_split(&context, &data, opts.seed)?
        }
        DatasetName::Mimii => {
            image_only("mimii")?;
            load_mimii(
                &dir,
                MIMII_MACHINES[usize::from(opts.normal_class)],
                opts.mimii_train_stride,
            )?
        }
    };
    let mut split = split;
    let step = opts
        .preprocessing
        .unwrap_or_else(|| name.default_preprocessing());
    let preprocessing = step.fit_transform(&mut split.train)?;
    preprocessing.transform(&mut split.test.x)?;
    Ok(PreparedSplit {
        dataset: name.clone(),
        split,
        preprocessing,
    })
}

/// AWID3 through [`crate::awid3::load`]: every CSV file under `dir`, or a seeded uniform
/// sample of `sample` rows of them.
fn load_awid3(dir: &Path, sample: Option<usize>, seed: u64) -> Result<LabeledData> {
    let opts = crate::awid3::Awid3Options {
        sample,
        seed,
        ..Default::default()
    };
    crate::awid3::load(dir, &opts)
}

/// MIMII through [`crate::mimii::load`] with default options but the training stride: frames of normal
/// clips, test frames grouped by clip.
fn load_mimii(dir: &Path, machine: &str, train_stride: usize) -> Result<OneClassSplit> {
    let opts = crate::mimii::MimiiOptions {
        train_vector_stride: train_stride.max(1),
        ..crate::mimii::MimiiOptions::default()
    };
    let (train, test) = crate::mimii::load(dir, machine, &opts)?;
    let normal: Vec<usize> = (0..train.y.len()).filter(|&i| train.y[i] == 0).collect();
    OneClassSplit::new(
        &format!("mimii {machine}"),
        train.x.select_rows(&normal),
        test,
    )
}

/// Facts about the dataset named `name`: the catalog's entry for it.
fn dataset_info(name: &DatasetName) -> DatasetInfo {
    use crate::catalog::*;
    use DatasetName as D;
    match name {
        D::Mnist => DatasetInfo {
            name: name.to_string(),
            title: "MNIST handwritten digits (LeCun, Cortes, Burges)",
            source_url: "http://yann.lecun.com/exdb/mnist/ (mirror https://ossci-datasets.s3.amazonaws.com/mnist/)",
            licence: "CC BY-SA 3.0 (as stated by the torchvision/TFDS catalogues; no licence file upstream)",
            size: "11.6 MB download (4 gzip files), 55 MB decompressed; 60,000 + 10,000 images",
            expected_files: mnist_expected(),
            remote_files: mnist_files(),
            hub_repo: None,
            manual: "download the four *-ubyte.gz files from the mirror into the dataset folder",
        },
        D::Fmnist => DatasetInfo {
            name: name.to_string(),
            title: "Fashion-MNIST (Xiao, Rasul, Vollgraf; Zalando Research)",
            source_url: "https://github.com/zalandoresearch/fashion-mnist",
            licence: "MIT",
            size: "30 MB download (4 gzip files), 55 MB decompressed; 60,000 + 10,000 images",
            expected_files: mnist_expected(),
            remote_files: fmnist_files(),
            hub_repo: None,
            manual: "apt-get install dataset-fashion-mnist (it installs into /usr/share/datasets/fashion-mnist), \
                     or download the four *-ubyte.gz files from the GitHub repository's data/fashion/",
        },
        D::Cifar10 => DatasetInfo {
            name: name.to_string(),
            title: "CIFAR-10 (Krizhevsky 2009)",
            source_url: "https://www.cs.toronto.edu/~kriz/cifar.html",
            licence: "no licence stated by the authors; cite Krizhevsky 2009",
            size: "163 MB download (cifar-10-binary.tar.gz), 176 MB unpacked; 50,000 + 10,000 images",
            expected_files: crate::cifar::CIFAR_TRAIN_FILES
                .iter()
                .chain(std::iter::once(&crate::cifar::CIFAR_TEST_FILE))
                .map(|f| format!("{f} | cifar-10-batches-bin/{f}"))
                .collect(),
            remote_files: cifar10_files(),
            hub_repo: None,
            manual: "download cifar-10-binary.tar.gz and unpack it in the dataset folder (the \
                     Python version, cifar-10-python.tar.gz as torchvision downloads it, is \
                     read too: data_batch_1 .. data_batch_5 and test_batch, there or in \
                     cifar-10-batches-py/)",
        },
        D::Speech | D::Pima | D::Odds(_) => {
            let stem = name.file_stem();
            DatasetInfo {
                name: name.to_string(),
                title: match name {
                    D::Speech => "ODDS Speech (accent i-vectors, 3686 x 400, 61 anomalies)",
                    D::Pima => "ODDS Pima Indians diabetes (768 x 8, 268 anomalies)",
                    _ => "ODDS outlier detection dataset",
                },
                source_url: "https://odds.cs.stonybrook.edu/",
                licence: "ODDS: free for research use, cite Rayana 2016 and the original source",
                size: match name {
                    D::Speech => "about 12 MB (.mat)",
                    D::Pima => "about 30 kB (.mat)",
                    _ => "small (.mat)",
                },
                expected_files: vec![format!("{stem}.mat | {stem}.csv (features, then a 0/1 label column; no header)")],
                remote_files: Vec::new(),
                hub_repo: None,
                manual: "download the .mat file from the ODDS web site (its links point to Dropbox) \
                         into the dataset folder",
            }
        }
        D::Awid3 => DatasetInfo {
            name: name.to_string(),
            title: "AWID3 Wi-Fi intrusion dataset (Chatzoglou et al. 2021), CSV version",
            source_url: "https://icsdweb.aegean.gr/awid/awid3",
            licence: "free for academic use after registration with the AWID team",
            size: "about 60 GB of CSV files in total (254 columns)",
            expected_files: vec!["CSV/*.csv (one or more AWID3 CSV files)".to_string()],
            remote_files: Vec::new(),
            hub_repo: None,
            manual: "request access on the AWID web site, download the CSV version and place the \
                     CSV files in the dataset folder",
        },
        D::Mimii => DatasetInfo {
            name: name.to_string(),
            title: "MIMII / DCASE 2020 Task 2 machine sounds (Purohit et al. 2019)",
            source_url: "https://zenodo.org/record/3384388",
            licence: "CC BY-SA 4.0",
            size: "about 100 GB for the 8-channel release; the DCASE 2020 development set is a few GB",
            expected_files: vec!["<machine>/id_XX/{normal,abnormal}/*.wav".to_string()],
            remote_files: Vec::new(),
            hub_repo: None,
            manual: "download the per-machine zip files from Zenodo and unpack them into the dataset folder",
        },
    }
}
