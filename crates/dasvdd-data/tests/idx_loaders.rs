//! MNIST-style IDX readers on small generated files: shapes, values, gzip and the errors for
//! wrong magic numbers, count mismatches, bad labels and truncation.

mod common;

use common::*;
use dasvdd_data::idx::{load_idx_pair, load_mnist_dir, read_idx_images};
use dasvdd_data::DataError;

#[test]
fn reads_raw_and_gzipped_pairs_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (px, lb) = mnist_like(23, 5, 4);
    let img = idx_bytes(&[23, 5, 4], &px);
    let lab = idx_bytes(&[23], &lb);
    std::fs::write(dir.path().join("i"), &img).unwrap();
    std::fs::write(dir.path().join("l"), &lab).unwrap();
    std::fs::write(dir.path().join("i.gz"), gz(&img)).unwrap();
    std::fs::write(dir.path().join("l.gz"), gz(&lab)).unwrap();
    let raw = load_idx_pair(&dir.path().join("i"), &dir.path().join("l")).unwrap();
    let zipped = load_idx_pair(&dir.path().join("i.gz"), &dir.path().join("l.gz")).unwrap();
    assert_eq!(raw, zipped);
    assert_eq!(
        (raw.len(), raw.height, raw.width, raw.channels),
        (23, 5, 4, 1)
    );
    assert_eq!(raw.pixels, px);
    assert_eq!(raw.labels, lb);
    assert_eq!(raw.image(3), &px[60..80]);
    let m = raw.to_unit_matrix();
    assert_eq!((m.rows, m.cols), (23, 20));
    assert_eq!(m.row(2)[1], f32::from(px[41]) / 255.0);
    assert!(m.data.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn finds_the_four_official_files() {
    for gzip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_mnist_dir(dir.path(), 30, 20, gzip);
        let (train, test) = load_mnist_dir(dir.path()).unwrap();
        assert_eq!(train.len(), 30);
        assert_eq!(test.len(), 20);
        assert_eq!(train.class_counts(10), vec![3; 10]);
    }
}

#[test]
fn missing_files_name_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_mnist_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Format { .. }), "{err}");
    assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");
}

fn pair_err(img: &[u8], lab: &[u8]) -> DataError {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("img"), img).unwrap();
    std::fs::write(dir.path().join("lab"), lab).unwrap();
    load_idx_pair(&dir.path().join("img"), &dir.path().join("lab")).unwrap_err()
}

#[test]
fn wrong_magic_is_rejected_with_the_file_name() {
    let (px, lb) = mnist_like(4, 2, 2);
    let lab = idx_bytes(&[4], &lb);
    let mut img = idx_bytes(&[4, 2, 2], &px);
    img[3] = 0x01; // one dimension instead of three
    let err = pair_err(&img, &lab);
    assert!(
        matches!(&err, DataError::Format { path, problem }
        if path.ends_with("img") && problem.contains("magic")),
        "{err}"
    );
    let mut img = idx_bytes(&[4, 2, 2], &px);
    img[2] = 0x0D; // float values
    let err = pair_err(&img, &lab);
    assert!(
        matches!(&err, DataError::Format { problem, .. } if problem.contains("type")),
        "{err}"
    );
    let mut img = idx_bytes(&[4, 2, 2], &px);
    img[0] = 0x1A;
    assert!(matches!(pair_err(&img, &lab), DataError::Format { .. }));
    // A label file given as image file: magic 0x801, 1 dimension.
    let err = pair_err(&lab, &lab);
    assert!(
        matches!(&err, DataError::Format { path, .. } if path.ends_with("img")),
        "{err}"
    );
}

#[test]
fn count_mismatch_is_rejected() {
    let (px, lb) = mnist_like(5, 2, 2);
    let err = pair_err(&idx_bytes(&[5, 2, 2], &px), &idx_bytes(&[4], &lb[..4]));
    assert!(
        matches!(&err, DataError::Format { path, problem }
        if path.ends_with("lab") && problem.contains("4 labels") && problem.contains("5 images")),
        "{err}"
    );
}

#[test]
fn labels_above_nine_are_rejected() {
    let (px, mut lb) = mnist_like(5, 2, 2);
    lb[2] = 10;
    let err = pair_err(&idx_bytes(&[5, 2, 2], &px), &idx_bytes(&[5], &lb));
    assert!(
        matches!(&err, DataError::Format { problem, .. } if problem.contains("label 10")),
        "{err}"
    );
}

#[test]
fn truncated_and_oversized_payloads_are_rejected() {
    let (px, _) = mnist_like(5, 2, 2);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img");
    let full = idx_bytes(&[5, 2, 2], &px);
    std::fs::write(&p, &full[..full.len() - 1]).unwrap();
    let err = read_idx_images(&p).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let mut long = full.clone();
    long.push(0);
    std::fs::write(&p, &long).unwrap();
    assert!(read_idx_images(&p)
        .unwrap_err()
        .to_string()
        .contains("trailing"));
    // Dimensions whose product overflows must not allocate or panic.
    std::fs::write(&p, idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2])).unwrap();
    assert!(read_idx_images(&p).is_err());
}

#[test]
fn corrupt_gzip_is_rejected() {
    let (px, _) = mnist_like(5, 2, 2);
    let z = gz(&idx_bytes(&[5, 2, 2], &px));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.gz");
    std::fs::write(&p, &z[..z.len() - 6]).unwrap();
    let err = read_idx_images(&p).unwrap_err();
    assert!(
        matches!(&err, DataError::Format { path, .. } if path.ends_with("img.gz")),
        "{err}"
    );
    let mut bad = z.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xFF;
    std::fs::write(&p, &bad).unwrap();
    assert!(read_idx_images(&p).is_err());
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = read_idx_images(std::path::Path::new("/nonexistent/x-idx3-ubyte")).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { path, .. } if path.ends_with("x-idx3-ubyte")),
        "{err}"
    );
}

/// The header of an IDX file of `code`'s type and these dimensions.
fn idx_header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut b = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b
}

#[test]
fn user_idx_files_of_every_value_type_are_read_as_samples_x_features() {
    use dasvdd_data::idx::parse_idx_matrix;
    let p = std::path::Path::new("x.idx");
    let values = [1.5f64, -2.0, 0.25, 100.0, -7.5, 3.0];
    // 64-bit and 32-bit floats, 2 x 3.
    let mut f8 = idx_header(0x0e, &[2, 3]);
    values.iter().for_each(|v| f8.extend(v.to_be_bytes()));
    let mut f4 = idx_header(0x0d, &[2, 3]);
    values
        .iter()
        .for_each(|v| f4.extend((*v as f32).to_be_bytes()));
    for bytes in [&f8, &f4] {
        let m = parse_idx_matrix(p, bytes).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, values.map(|v| v as f32));
    }
    // Integers, signed, of 1, 2 and 4 bytes; 3 x 2 x 1 (three dimensions: 2 features).
    let ints = [-128i32, 127, -300, 300, -70_000, 70_000];
    let mut i1 = idx_header(0x09, &[3, 2, 1]);
    i1.extend([0x80u8, 0x7f, 0xff, 0x01, 0x00, 0x02]);
    let m = parse_idx_matrix(p, &i1).unwrap();
    assert_eq!((m.rows, m.cols), (3, 2));
    assert_eq!(m.data, [-128.0, 127.0, -1.0, 1.0, 0.0, 2.0]);
    let mut i2 = idx_header(0x0b, &[3, 2, 1]);
    ints[..4]
        .iter()
        .chain(&[-2, 2])
        .for_each(|v| i2.extend((*v as i16).to_be_bytes()));
    assert_eq!(
        parse_idx_matrix(p, &i2).unwrap().data,
        [-128.0, 127.0, -300.0, 300.0, -2.0, 2.0]
    );
    let mut i4 = idx_header(0x0c, &[3, 2, 1]);
    ints.iter().for_each(|v| i4.extend(v.to_be_bytes()));
    assert_eq!(
        parse_idx_matrix(p, &i4).unwrap().data,
        ints.map(|v| v as f32)
    );
    // Unsigned bytes are pixels: v / 255, as the image loaders give them.
    let mut u1 = idx_header(0x08, &[1, 2, 2]);
    u1.extend([0u8, 51, 255, 128]);
    assert_eq!(
        parse_idx_matrix(p, &u1).unwrap().data,
        [0.0, 51.0 / 255.0, 1.0, 128.0 / 255.0]
    );
    // Errors, each naming the file.
    let err = |bytes: &[u8], what: &str| {
        let e = parse_idx_matrix(p, bytes).unwrap_err().to_string();
        assert!(e.contains("x.idx") && e.contains(what), "{e}");
    };
    let mut labels = idx_header(0x08, &[3]);
    labels.extend([1u8, 2, 3]);
    err(&labels, "1 dimension (labels?)");
    err(&idx_header(0x0a, &[1, 1]), "value type 0x0a");
    let mut nan = idx_header(0x0d, &[1, 2]);
    nan.extend(1.0f32.to_be_bytes());
    nan.extend(f32::NAN.to_be_bytes());
    err(&nan, "at row 1, column 2 is not finite");
    let mut big = idx_header(0x0e, &[1, 1]);
    big.extend(1e300f64.to_be_bytes());
    err(&big, "outside the f32 range");
    err(&f8[..f8.len() - 1], "(truncated)");
    err(&idx_header(0x0d, &[0, 5]), "no samples");
    err(&idx_header(0x0d, &[5, 0]), "empty sample size");
    err(b"abc", "not an IDX file");
}
