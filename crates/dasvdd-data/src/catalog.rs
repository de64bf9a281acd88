//! What each named dataset is and where it comes from: source, licence, size, the files a
//! dataset folder must hold, and the files `fetch` downloads with their SHA-256 checksums.

use serde::Serialize;

/// How a downloaded file is placed in the dataset folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unpack {
    /// Stored as downloaded. (gzip files are kept compressed: the IDX readers read them
    /// directly, and the SHA-256 can then be checked again at any time.)
    Keep,
    /// A `.tar.gz` archive whose regular files are extracted into the dataset folder.
    TarGz,
}

/// What a pinned SHA-256 is computed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Checksum {
    /// The bytes as downloaded.
    Download(String),
    /// The bytes after gzip decompression: used where mirrors recompress the same content
    /// (Debian's Fashion-MNIST package differs from the original `.gz` files byte for byte but
    /// not in content).
    Gunzipped(String),
}

/// One file that `fetch` downloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteFile {
    /// File name in the dataset folder (and in the hub repository).
    pub name: String,
    /// The original host's URL, used when no hub mirror has the file.
    pub url: String,
    /// Size in bytes of the download, when known.
    pub bytes: Option<u64>,
    pub checksum: Checksum,
    pub unpack: Unpack,
}

/// Facts about a named dataset, for `dasvdd data fetch`, `cargo xtask fetch` and error
/// messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetInfo {
    /// Registry name (`fmnist`, `odds:cardio`, ...).
    pub name: String,
    pub title: &'static str,
    /// Where the data comes from.
    pub source_url: &'static str,
    pub licence: &'static str,
    /// Approximate size, in words.
    pub size: &'static str,
    /// Files the dataset folder must hold (any one of alternatives separated by ` | `).
    pub expected_files: Vec<String>,
    /// Files `fetch` downloads; empty when the dataset must be obtained by hand.
    pub remote_files: Vec<RemoteFile>,
    /// A Hugging Face Hub dataset repository that mirrors `remote_files` under the same names,
    /// tried before the original host (overridable with `DASVDD_HF_REPO`).
    pub hub_repo: Option<&'static str>,
    /// How to obtain the data by hand.
    pub manual: &'static str,
}

/// The four MNIST files from the PyTorch mirror of yann.lecun.com (same bytes; SHA-256 as
/// published by TensorFlow Datasets and torchvision users).
pub fn mnist_files() -> Vec<RemoteFile> {
    vec![
        RemoteFile {
            name: "train-images-idx3-ubyte.gz".into(),
            url: "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz".into(),
            bytes: Some(9_912_422),
            checksum: Checksum::Download(
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609".into(),
            ),
            unpack: Unpack::Keep,
        },
        RemoteFile {
            name: "train-labels-idx1-ubyte.gz".into(),
            url: "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz".into(),
            bytes: Some(28_881),
            checksum: Checksum::Download(
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c".into(),
            ),
            unpack: Unpack::Keep,
        },
        RemoteFile {
            name: "t10k-images-idx3-ubyte.gz".into(),
            url: "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz".into(),
            bytes: Some(1_648_877),
            checksum: Checksum::Download(
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6".into(),
            ),
            unpack: Unpack::Keep,
        },
        RemoteFile {
            name: "t10k-labels-idx1-ubyte.gz".into(),
            url: "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz".into(),
            bytes: Some(4_542),
            checksum: Checksum::Download(
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6".into(),
            ),
            unpack: Unpack::Keep,
        },
    ]
}

/// The four Fashion-MNIST files from Zalando's S3 bucket. The checksums are of the
/// decompressed IDX content, computed from Debian's `dataset-fashion-mnist` package, so both
/// the original files and Debian's recompressed ones verify.
pub fn fmnist_files() -> Vec<RemoteFile> {
    vec![
    RemoteFile {
        name: "train-images-idx3-ubyte.gz".into(),
        url:
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz".into(),
        bytes: Some(26_421_880),
        checksum: Checksum::Gunzipped("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888".into()),
        unpack: Unpack::Keep,
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz".into(),
        url:
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz".into(),
        bytes: Some(29_515),
        checksum: Checksum::Gunzipped("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9".into()),
        unpack: Unpack::Keep,
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz".into(),
        url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz".into(),
        bytes: Some(4_422_102),
        checksum: Checksum::Gunzipped("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b".into()),
        unpack: Unpack::Keep,
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz".into(),
        url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz".into(),
        bytes: Some(5_148),
        checksum: Checksum::Gunzipped("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34".into()),
        unpack: Unpack::Keep,
    },
]
}

/// The CIFAR-10 binary archive from the authors' site.
pub fn cifar10_files() -> Vec<RemoteFile> {
    vec![RemoteFile {
        name: "cifar-10-binary.tar.gz".into(),
        url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz".into(),
        bytes: Some(170_052_171),
        checksum: Checksum::Download(
            "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd".into(),
        ),
        unpack: Unpack::TarGz,
    }]
}

fn mnist_expected() -> Vec<String> {
    crate::idx::MNIST_FILE_STEMS
        .iter()
        .map(|s| format!("{s}.gz | {s}"))
        .collect()
}

/// Facts about the dataset named `name` (see [`crate::registry::DatasetName`]).
pub fn dataset_info(name: &crate::registry::DatasetName) -> DatasetInfo {
    use crate::registry::DatasetName as D;
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
            title: "CIFAR-10, binary version (Krizhevsky 2009)",
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
            manual: "download cifar-10-binary.tar.gz and unpack it in the dataset folder",
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
