//! MAT v7.3 (HDF5) reading on fixtures written with `hdf5-pure` the way MATLAB writes them:
//! a 512-byte userblock holding the MAT header, each m x n matrix stored as an [n, m] dataset
//! with a `MATLAB_class` attribute.

use std::path::Path;

use dasvdd_data::mat::read_mat_bytes;
use dasvdd_data::DataError;
use hdf5_pure::{AttrValue, FileBuilder};

fn builder() -> FileBuilder {
    let mut b = FileBuilder::new();
    let mut header = b"MATLAB 7.3 MAT-file, written by the dasvdd-data tests".to_vec();
    header.resize(116, b' ');
    header.extend([0u8; 8]);
    header.extend(0x0200u16.to_le_bytes());
    header.extend(b"IM");
    b.with_userblock(512);
    b.with_userblock_content(&header);
    b
}

fn class(name: &str) -> AttrValue {
    AttrValue::AsciiString(name.into())
}

/// X = [[1, 2], [3, 4], [5, 6]] (stored as a 2 x 3 dataset), y = [1, 0, 0] as 1 x 3.
fn good(compressed: bool) -> Vec<u8> {
    let mut b = builder();
    let x = b.create_dataset("X");
    x.with_f64_data(&[1.0, 3.0, 5.0, 2.0, 4.0, 6.0])
        .with_shape(&[2, 3])
        .set_attr("MATLAB_class", class("double"));
    if compressed {
        x.with_chunks(&[1, 3]).with_deflate(6);
    }
    b.create_dataset("y")
        .with_u8_data(&[1, 0, 0])
        .with_shape(&[3, 1])
        .set_attr("MATLAB_class", class("logical"));
    b.finish().unwrap()
}

#[test]
fn reads_transposed_hdf5_matrices() {
    for compressed in [false, true] {
        let d = read_mat_bytes(Path::new("v73.mat"), &good(compressed)).unwrap();
        assert_eq!((d.x.rows, d.x.cols), (3, 2));
        assert_eq!(d.x.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(d.y, vec![1, 0, 0]);
    }
}

fn problem(bytes: &[u8]) -> String {
    match read_mat_bytes(Path::new("v73.mat"), bytes) {
        Err(DataError::Format { path, problem }) => {
            assert_eq!(path, Path::new("v73.mat"));
            problem
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn unsupported_variables_are_errors() {
    let mut b = builder();
    b.create_dataset("X")
        .with_f64_data(&[1.0, 2.0])
        .with_shape(&[1, 2]);
    assert!(problem(&b.finish().unwrap()).contains("no variable y"));

    let mut b = builder();
    b.create_dataset("X")
        .with_u8_data(b"ab")
        .with_shape(&[1, 2])
        .set_attr("MATLAB_class", class("char"));
    b.create_dataset("y")
        .with_f64_data(&[0.0, 1.0])
        .with_shape(&[1, 2]);
    assert!(problem(&b.finish().unwrap()).contains("MATLAB class char"));

    // A sparse matrix is a group holding data/ir/jc.
    let mut b = builder();
    let mut g = b.create_group("X");
    g.create_dataset("data").with_f64_data(&[1.0]);
    b.add_group(g.finish());
    b.create_dataset("y")
        .with_f64_data(&[0.0, 1.0])
        .with_shape(&[1, 2]);
    assert!(problem(&b.finish().unwrap()).contains("variable X is a sparse matrix, cell or struct"));

    let mut b = builder();
    b.create_dataset("X")
        .with_f64_data(&[1.0, f64::NAN])
        .with_shape(&[1, 2]);
    b.create_dataset("y")
        .with_f64_data(&[0.0, 1.0])
        .with_shape(&[1, 2]);
    assert!(problem(&b.finish().unwrap()).contains("non-finite"));
}

#[test]
fn truncations_and_flips_are_errors_not_panics() {
    for compressed in [false, true] {
        let bytes = good(compressed);
        for cut in (0..bytes.len()).step_by(3) {
            assert!(
                read_mat_bytes(Path::new("v73.mat"), &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        for pos in 512..bytes.len() {
            let mut b = bytes.clone();
            b[pos] ^= 0xff;
            if let Ok(d) = read_mat_bytes(Path::new("v73.mat"), &b) {
                assert_eq!((d.x.rows, d.x.cols, d.y.len()), (3, 2, 3), "flip at {pos}");
            }
        }
    }
}

#[test]
fn highly_compressed_narrow_types_are_read() {
    // 1,000,000 zeros as uint8 compress to a few kilobytes: far more values per file byte
    // than a double matrix could reach, and still a valid file.
    let (rows, cols) = (10_000usize, 100usize);
    let mut x = vec![0u8; rows * cols];
    x[0] = 7;
    let mut b = builder();
    b.create_dataset("X")
        .with_u8_data(&x)
        .with_shape(&[cols as u64, rows as u64])
        .with_chunks(&[cols as u64, 1000])
        .with_deflate(9)
        .set_attr("MATLAB_class", class("uint8"));
    let mut y = vec![0u8; rows];
    y[..10].fill(1);
    b.create_dataset("y")
        .with_u8_data(&y)
        .with_shape(&[1, rows as u64])
        .with_chunks(&[1, 1000])
        .with_deflate(9)
        .set_attr("MATLAB_class", class("logical"));
    let bytes = b.finish().unwrap();
    assert!(
        rows * cols > 200 * bytes.len(),
        "the fixture must compress beyond a double matrix's bound: {} bytes",
        bytes.len()
    );
    let d = read_mat_bytes(Path::new("v73.mat"), &bytes).unwrap();
    assert_eq!((d.x.rows, d.x.cols), (rows, cols));
    assert_eq!(d.x.data.iter().filter(|&&v| v != 0.0).count(), 1);
    assert_eq!(d.y.iter().filter(|&&v| v == 1).count(), 10);
}

#[test]
fn a_plain_label_vector_as_h5py_writes_it_is_read() {
    // MATLAB writes y as a 1 x n or n x 1 matrix; `h5py.File.create_dataset('y', data=y)`
    // with a NumPy vector writes one dimension.
    let mut b = builder();
    b.create_dataset("X")
        .with_f64_data(&[1.0, 3.0, 5.0, 2.0, 4.0, 6.0])
        .with_shape(&[2, 3])
        .set_attr("MATLAB_class", class("double"));
    b.create_dataset("y")
        .with_f64_data(&[0.0, 1.0, 0.0])
        .with_shape(&[3])
        .set_attr("MATLAB_class", class("double"));
    let d = read_mat_bytes(Path::new("v73.mat"), &b.finish().unwrap()).unwrap();
    assert_eq!((d.x.rows, d.x.cols), (3, 2));
    assert_eq!(d.y, vec![0, 1, 0]);
}
