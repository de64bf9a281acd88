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
    /// The pinned SHA-256 the file must match, and what it is computed over.
    pub checksum: Checksum,
    /// How the downloaded file is placed in the dataset folder.
    pub unpack: Unpack,
}

/// Facts about a named dataset, for `dasvdd data fetch`, `cargo xtask fetch` and error
/// messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetInfo {
    /// Registry name (`fmnist`, `odds:cardio`, ...).
    pub name: String,
    /// Human-readable name of the dataset.
    pub title: &'static str,
    /// Where the data comes from.
    pub source_url: &'static str,
    /// The licence (or terms of use) of the data, in words.
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

pub(crate) fn mnist_expected() -> Vec<String> {
    crate::idx::MNIST_FILE_STEMS
        .iter()
        .map(|s| format!("{s}.gz | {s}"))
        .collect()
}
