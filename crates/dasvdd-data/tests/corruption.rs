//! Truncation at every offset and byte flips of small valid fixtures of each format this
//! crate reads (IDX raw and gzipped, CIFAR-10, NPY, CSV, a PNG in an image folder): every case
//! is an error or a valid parse of what is really there, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use dasvdd_data::cifar::read_cifar_batch;
use dasvdd_data::idx::{read_idx_images, read_idx_labels};
use dasvdd_data::images::load_image_folder;
use dasvdd_data::npy::read_npy_matrix;
use dasvdd_data::tabular::{read_csv, ColumnRef, CsvOptions, LabelSource};
use dasvdd_data::ImageFolderOptions;

fn put(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Every flip position of `len` bytes (all of them for small files) and three flip masks.
fn flips(len: usize) -> impl Iterator<Item = (usize, u8)> {
    (0..len).flat_map(|i| [0x01u8, 0x80, 0xFF].into_iter().map(move |m| (i, m)))
}

#[test]
fn idx_raw_and_gzip_truncated_or_flipped() {
    let d = tempfile::tempdir().unwrap();
    let (px, lb) = mnist_like(6, 4, 3);
    let images = idx_bytes(&[6, 4, 3], &px);
    let labels = idx_bytes(&[6], &lb);
    for (name, bytes) in [("img", images.clone()), ("img.gz", gz(&images))] {
        for cut in 0..bytes.len() {
            let p = put(d.path(), name, &bytes[..cut]);
            assert!(
                read_idx_images(&p).is_err(),
                "{name} cut at {cut} must be an error"
            );
        }
        for (i, m) in flips(bytes.len()) {
            let mut b = bytes.clone();
            b[i] ^= m;
            let p = put(d.path(), name, &b);
            if let Ok(a) = read_idx_images(&p) {
                // Only a pixel (or, in gzip, a header field the format does not protect) changed.
                assert_eq!(a.dims, vec![6, 4, 3], "{name} flip {m:#x} at {i}");
            }
        }
    }
    for (name, bytes) in [("lab", labels.clone()), ("lab.gz", gz(&labels))] {
        for cut in 0..bytes.len() {
            let p = put(d.path(), name, &bytes[..cut]);
            assert!(read_idx_labels(&p, 10).is_err(), "{name} cut at {cut}");
        }
        for (i, m) in flips(bytes.len()) {
            let mut b = bytes.clone();
            b[i] ^= m;
            let p = put(d.path(), name, &b);
            if let Ok(l) = read_idx_labels(&p, 10) {
                assert_eq!(l.len(), 6);
                assert!(l.iter().all(|&v| v < 10));
            }
        }
    }
}

#[test]
fn cifar_truncated_or_flipped() {
    let d = tempfile::tempdir().unwrap();
    let bytes = cifar_bytes(3);
    for cut in 0..bytes.len() {
        let p = put(d.path(), "b.bin", &bytes[..cut]);
        let r = read_cifar_batch(&p);
        if cut > 0 && cut % 3073 == 0 {
            // A cut between records leaves a shorter but valid batch: the format cannot tell.
            let set = r.unwrap();
            assert_eq!(set.len(), cut / 3073);
            assert_eq!(
                set.pixels[..],
                [&bytes[1..3073], &bytes[3074..6146]].concat()[..set.len() * 3072]
            );
        } else {
            assert!(r.is_err(), "cut at {cut}");
        }
    }
    for i in [0usize, 1, 3072, 3073, 3074, 6146, bytes.len() - 1] {
        let mut b = bytes.clone();
        b[i] ^= 0xF0;
        let p = put(d.path(), "b.bin", &b);
        let label_byte = i % 3073 == 0;
        match read_cifar_batch(&p) {
            Ok(set) => assert!(!label_byte && set.len() == 3, "flip at {i}"),
            Err(_) => assert!(label_byte, "a pixel flip at {i} is a valid image"),
        }
    }
}

#[test]
fn npy_truncated_or_flipped() {
    let d = tempfile::tempdir().unwrap();
    let data: Vec<u8> = [1.5f64, -2.0, 3.0, 4.0, 0.25, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    for (version, fortran) in [(1u8, false), (2, true), (3, false)] {
        let bytes = npy_bytes(version, "<f8", fortran, &[2, 3], &data);
        for cut in 0..bytes.len() {
            let p = put(d.path(), "a.npy", &bytes[..cut]);
            assert!(read_npy_matrix(&p).is_err(), "v{version} cut at {cut}");
        }
        for (i, m) in flips(bytes.len()) {
            let mut b = bytes.clone();
            b[i] ^= m;
            let p = put(d.path(), "a.npy", &b);
            if let Ok(x) = read_npy_matrix(&p) {
                assert_eq!(x.rows * x.cols, 6, "v{version} flip {m:#x} at {i}");
                assert!(x.data.iter().all(|v| v.is_finite()));
            }
        }
    }
}

#[test]
fn csv_truncated_or_flipped() {
    let d = tempfile::tempdir().unwrap();
    let text = "x1,x2,label\n1.5,2,0\n-3,4.25,1\n7e1,0.5,0\n";
    let opts = CsvOptions {
        label: LabelSource::Column(ColumnRef::Last),
        ..Default::default()
    };
    let full = read_csv(&put(d.path(), "t.csv", text.as_bytes()), &opts).unwrap();
    assert_eq!(full.x.rows, 3);
    // Byte offsets where each data row's text ends (before its newline).
    let ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).skip(1).collect();
    for cut in 0..=text.len() {
        let p = put(d.path(), "t.csv", &text.as_bytes()[..cut]);
        let r = read_csv(&p, &opts);
        // A cut right after a row's last cell, or after its newline, leaves complete rows: a
        // valid file with fewer rows. A cut inside a row leaves a short row or an empty label
        // (the last column is a one-character label), which is an error.
        match ends.iter().position(|&e| cut == e || cut == e + 1) {
            Some(k) => {
                let got = r.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
                assert_eq!(got.x.rows, k + 1);
                assert_eq!(got.x.data[..], full.x.data[..(k + 1) * 2]);
                assert_eq!(got.y[..], full.y[..k + 1]);
            }
            None => assert!(r.is_err(), "cut at {cut} must be an error"),
        }
    }
    for (i, m) in flips(text.len()) {
        let mut b = text.as_bytes().to_vec();
        b[i] ^= m;
        let p = put(d.path(), "t.csv", &b);
        if let Ok(got) = read_csv(&p, &opts) {
            assert_eq!(got.x.cols, 2);
            assert!(got.x.data.iter().all(|v| v.is_finite()));
            assert!(got.y.iter().all(|&l| l <= 1));
        }
    }
}

#[test]
fn png_in_an_image_folder_truncated_or_flipped() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("normal")).unwrap();
    let png = d.path().join("normal/x.png");
    write_png(&png, 6, 5);
    let bytes = std::fs::read(&png).unwrap();
    let opts = ImageFolderOptions::default();
    let full = load_image_folder(d.path(), &opts).unwrap();
    for cut in 0..bytes.len() {
        std::fs::write(&png, &bytes[..cut]).unwrap();
        // The image data ends before the final IEND chunk; a decoder may accept a file cut
        // after its pixels, but then it must give exactly the original pixels.
        if let Ok(got) = load_image_folder(d.path(), &opts) {
            assert_eq!(got, full, "cut at {cut} of {}", bytes.len());
        }
    }
    let mut n_ok = 0;
    for (i, m) in flips(bytes.len()) {
        let mut b = bytes.clone();
        b[i] ^= m;
        std::fs::write(&png, &b).unwrap();
        if let Ok(got) = load_image_folder(d.path(), &opts) {
            n_ok += 1;
            assert_eq!((got.x.rows, got.x.cols), (1, 784));
        }
    }
    // Most flips hit a CRC-checked chunk and are errors.
    assert!(
        n_ok < bytes.len(),
        "{n_ok} of {} flips accepted",
        3 * bytes.len()
    );
}

#[test]
fn gzip_bomb_is_refused_by_size_not_by_memory() {
    use dasvdd_data::fileio::{gunzip, gunzip_limited};
    // 8 MiB of zeros compress to about 8 kB: a ratio of 1000, as in a decompression bomb.
    let zeros = vec![0u8; 8 << 20];
    let bomb = gz(&zeros);
    assert!(bomb.len() < 64 << 10, "{} compressed bytes", bomb.len());
    let err = gunzip_limited(&bomb, 1 << 20).unwrap_err();
    assert!(err.contains("more than 1048576 bytes"), "{err}");
    // At exactly its size the same stream is accepted, and the default limit takes it whole.
    assert_eq!(gunzip_limited(&bomb, 8 << 20).unwrap().len(), 8 << 20);
    assert_eq!(gunzip(&bomb).unwrap(), zeros);
}
