//! Labelled 8-bit images held compactly ([`ImageSet`]) and the reader of a user's image
//! folder (`normal/` and `abnormal/` subfolders of PNG or JPEG files).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::matrix::{LabeledData, Matrix};

/// A set of equally sized 8-bit images with one class label each (0..9 for the benchmark
/// datasets). Each image is stored channel-major (all of channel 0, then channel 1, ...), each
/// channel row-major: the flattening PyTorch's `ToTensor` produces, so a flattened image is a
/// feature vector in the same order as the reference code's.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// `len() * channels * height * width` bytes.
    pub pixels: Vec<u8>,
    /// One class label per image.
    pub labels: Vec<u8>,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of channels (1 grey, 3 RGB).
    pub channels: usize,
}

impl ImageSet {
    /// Checks that `pixels` holds exactly one `channels x height x width` image per label.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        height: usize,
        width: usize,
        channels: usize,
    ) -> std::result::Result<Self, String> {
        let per = height
            .checked_mul(width)
            .and_then(|v| v.checked_mul(channels))
            .ok_or_else(|| "image size overflows".to_string())?;
        let need = per
            .checked_mul(labels.len())
            .ok_or("image count overflows")?;
        if pixels.len() != need {
            return Err(format!(
                "{} pixel bytes do not hold {} images of {channels}x{height}x{width}",
                pixels.len(),
                labels.len()
            ));
        }
        Ok(ImageSet {
            pixels,
            labels,
            height,
            width,
            channels,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (`channels * height * width`).
    pub fn n_features(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.n_features();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// How many images carry each label `0..n_classes` (labels outside are not counted).
    pub fn class_counts(&self, n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }

    /// All images as a matrix with pixels scaled to [0, 1] (divided by 255).
    pub fn to_unit_matrix(&self) -> Matrix {
        let idx: Vec<usize> = (0..self.len()).collect();
        self.select_unit(&idx)
    }

    /// The images at `indices`, as a matrix with pixels scaled to [0, 1].
    pub fn select_unit(&self, indices: &[usize]) -> Matrix {
        let n = self.n_features();
        let mut data = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            data.extend(self.image(i).iter().map(|&p| f32::from(p) / 255.0));
        }
        Matrix {
            data,
            rows: indices.len(),
            cols: n,
        }
    }
}

/// Colour handling of images read from a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ColourMode {
    /// One luma channel.
    #[default]
    Grey,
    /// Three channels, stored as R, G, B planes.
    Rgb,
}

/// How images from a folder are turned into feature vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageFolderOptions {
    /// Every image is resized to `width x height` (triangle filter) when its size differs.
    pub width: u32,
    /// Target height in pixels (see `width`).
    pub height: u32,
    /// Grey or RGB.
    pub colour: ColourMode,
}

impl Default for ImageFolderOptions {
    /// 28 x 28 grey, the size of the MNIST-style networks' input.
    fn default() -> Self {
        ImageFolderOptions {
            width: 28,
            height: 28,
            colour: ColourMode::Grey,
        }
    }
}

/// Names of the subfolders of an image folder and the label each gives.
pub const IMAGE_FOLDER_CLASSES: [(&str, u8); 2] = [("normal", 0), ("abnormal", 1)];

fn is_image_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        .unwrap_or(false)
}

/// The image files of `dir`, sorted by name; `Ok(empty)` when `dir` does not exist.
fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if path.is_file() && is_image_file(&path) && !crate::fileio::is_hidden(&path) {
            files.push(path);
        } else {
            tracing::debug!(path = %path.display(), "skipping non-image entry");
        }
    }
    files.sort();
    Ok(files)
}

/// The most bytes a decoded image may take (and the decoder may allocate): 128 MiB, a
/// 16-bit RGBA photo of 4000 x 4000 pixels. A few hundred bytes of PNG can declare an image of
/// gigabytes; such a file is refused before it is decoded.
pub const MAX_DECODED_BYTES: usize = 128 << 20;
/// The widest and tallest image accepted, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// Decodes one PNG or JPEG file into a feature vector in [0, 1] of the configured size and
/// colour mode (channel-major for RGB).
pub fn read_image(path: &Path, opts: &ImageFolderOptions) -> Result<Vec<f32>> {
    if opts.width == 0 || opts.height == 0 {
        return Err(DataError::invalid(
            "image folder options",
            format!("image size {}x{} is empty", opts.width, opts.height),
        ));
    }
    let bytes = crate::fileio::read_bytes(path)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES as u64);
    let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| DataError::format(path, format!("cannot read image: {e}")))?;
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| DataError::format(path, format!("cannot decode image: {e}")))?;
    let (w, h) = (opts.width, opts.height);
    let filter = image::imageops::FilterType::Triangle;
    let out = match opts.colour {
        ColourMode::Grey => {
            let mut g = img.to_luma8();
            if g.dimensions() != (w, h) {
                g = image::imageops::resize(&g, w, h, filter);
            }
            g.into_raw()
                .into_iter()
                .map(|p| f32::from(p) / 255.0)
                .collect()
        }
        ColourMode::Rgb => {
            let mut rgb = img.to_rgb8();
            if rgb.dimensions() != (w, h) {
                rgb = image::imageops::resize(&rgb, w, h, filter);
            }
            let plane = (w * h) as usize;
            let mut v = vec![0f32; 3 * plane];
            for (i, px) in rgb.pixels().enumerate() {
                for c in 0..3 {
                    v[c * plane + i] = f32::from(px.0[c]) / 255.0;
                }
            }
            v
        }
    };
    Ok(out)
}

/// Reads a user's image folder: `root/normal/*` (label 0) and `root/abnormal/*` (label 1),
/// PNG or JPEG, in file-name order, each resized and converted as `opts` says, pixels in
/// [0, 1]. Other files are skipped. Errors when `root` has no `normal/` images or a file
/// cannot be decoded.
pub fn load_image_folder(root: &Path, opts: &ImageFolderOptions) -> Result<LabeledData> {
    if !root.is_dir() {
        return Err(DataError::format(root, "not a directory"));
    }
    let channels = match opts.colour {
        ColourMode::Grey => 1,
        ColourMode::Rgb => 3,
    };
    let cols = channels * opts.width as usize * opts.height as usize;
    let mut x = Matrix::empty(cols);
    let mut y = Vec::new();
    for (sub, label) in IMAGE_FOLDER_CLASSES {
        for file in list_images(&root.join(sub))? {
            let v = read_image(&file, opts)?;
            x.push_row(&v);
            y.push(label);
        }
    }
    if !y.contains(&0) {
        return Err(DataError::format(
            root,
            "no normal images: expected png or jpeg files in the normal/ subfolder",
        ));
    }
    tracing::debug!(root = %root.display(), images = y.len(), "read image folder");
    Ok(LabeledData { x, y, groups: None })
}
