//! The real Fashion-MNIST split shared by the deep baselines' acceptance tests: the 6,000
//! training trousers (class 1) as normal data and the first 2,000 test images, anomalous
//! unless trousers. `None`, with a note, when Debian's `dataset-fashion-mnist` is absent.

use std::path::Path;

use dasvdd_core::SampleView;
use dasvdd_data::idx::load_mnist_dir;
use dasvdd_data::Matrix;

const FMNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
pub const NORMAL_CLASS: u8 = 1;
pub const N_TEST: usize = 2000;

pub struct Trousers {
    pub train: Matrix,
    pub test: Matrix,
    /// One flag per test image: not a trouser.
    pub anomalous: Vec<bool>,
}

impl Trousers {
    pub fn train_view(&self) -> SampleView<'_> {
        SampleView::new(&self.train.data, self.train.rows, self.train.cols).unwrap()
    }

    pub fn test_view(&self) -> SampleView<'_> {
        SampleView::new(&self.test.data, self.test.rows, self.test.cols).unwrap()
    }
}

pub fn trousers() -> Option<Trousers> {
    if !Path::new(FMNIST_DIR)
        .join("train-images-idx3-ubyte.gz")
        .is_file()
    {
        eprintln!("note: {FMNIST_DIR} is absent (apt-get install dataset-fashion-mnist); skipping");
        return None;
    }
    let (train, test) = load_mnist_dir(Path::new(FMNIST_DIR)).unwrap();
    let normal: Vec<usize> = (0..train.len())
        .filter(|&i| train.labels[i] == NORMAL_CLASS)
        .collect();
    let test_idx: Vec<usize> = (0..N_TEST).collect();
    Some(Trousers {
        train: train.select_unit(&normal),
        test: test.select_unit(&test_idx),
        anomalous: test.labels[..N_TEST]
            .iter()
            .map(|&l| l != NORMAL_CLASS)
            .collect(),
    })
}
