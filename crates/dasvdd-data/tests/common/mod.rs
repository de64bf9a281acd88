//! Generators of small files in the real formats, shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

pub mod http;

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The names in `dir`, sorted (hidden ones included).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// gzip-compresses `bytes`.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An IDX unsigned-byte file with the given dimensions and values.
pub fn idx_bytes(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(values);
    out
}

/// Deterministic pseudo-random bytes (a simple LCG) so fixtures are reproducible.
pub fn pseudo_bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8
        })
        .collect()
}

/// `n` images of `h x w` and labels `i % 10`; pixel `j` of image `i` is `(i * 7 + j) % 256`.
pub fn mnist_like(n: usize, h: usize, w: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels = (0..n * h * w)
        .map(|k| ((k / (h * w)) * 7 + k % (h * w)) as u8)
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    (pixels, labels)
}

/// Writes an MNIST-style dataset (four files, gzipped when `gzip`) into `dir`.
pub fn write_mnist_dir(dir: &Path, n_train: usize, n_test: usize, gzip: bool) {
    let (h, w) = (4usize, 3usize);
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let (px, lb) = mnist_like(n, h, w);
        let img = idx_bytes(&[n as u32, h as u32, w as u32], &px);
        let lab = idx_bytes(&[n as u32], &lb);
        let (img, lab, ext) = if gzip {
            (gz(&img), gz(&lab), ".gz")
        } else {
            (img, lab, "")
        };
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte{ext}")), img).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte{ext}")), lab).unwrap();
    }
}

/// A `.npy` file as NumPy writes it: magic, version, little-endian header length, the header
/// dict padded with spaces to a multiple of 64 bytes and ended by a newline, then `data`.
pub fn npy_bytes(version: u8, descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_txt = match shape {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_txt}, }}");
    let prefix = if version == 1 { 10 } else { 12 };
    while (prefix + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// `n` CIFAR-10 records: label `i % 10`, pixel `j` of record `i` is `(i + j) % 256`.
pub fn cifar_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 3073);
    for i in 0..n {
        out.push((i % 10) as u8);
        out.extend((0..3072).map(|j| ((i + j) % 256) as u8));
    }
    out
}

/// Writes an RGB PNG of `w x h` whose pixel (x, y) is (x * 40, y * 40, 200).
pub fn write_png(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 40) as u8, (y * 40) as u8, 200])
    });
    img.save(path).unwrap();
}
