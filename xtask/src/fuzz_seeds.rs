//! `cargo xtask fuzz-seeds <dir>`: writes the seed corpora of the fuzz targets in `fuzz/`, one
//! folder per target, all small files generated here: a model of each method fitted on 40
//! synthetic rows, with and without its checksum (and the oversized-network file of issue 10), and tiny valid files of every
//! data format (IDX plain and gzipped, CIFAR-10 binary and pickled, MAT v5 plain, compressed and big-endian,
//! MAT v7.3, NPY, CSV, AWID3 CSV, 16-bit wav, PNG, JPEG) and the shipped configs.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::Device;
use clap::Args;
use dasvdd_baselines::{default_params, Method};
use dasvdd_core::{Activation, AutoencoderConfig, DasvddConfig, Preset, SampleView};

/// Options of `cargo xtask fuzz-seeds`.
#[derive(Debug, Clone, Args)]
pub struct FuzzSeedsArgs {
    /// Folder to fill, one subfolder per fuzz target
    pub dir: PathBuf,
}

fn put(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    std::fs::write(d.join(name), bytes).with_context(|| format!("cannot write {name}"))
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// One CIFAR-10 image in a Python version batch, laid out as Python 2's `cPickle` protocol 2
/// writes it: `{'labels': [label], 'data': <uint8 array 1 x 3072>}`.
fn cifar_pickle(pixels: &[u8], label: u8) -> Vec<u8> {
    let mut o = b"\x80\x02}q\x01(U\x06labelsq\x02]q\x03K".to_vec();
    o.push(label);
    o.extend_from_slice(b"aU\x04dataq\x04cnumpy.core.multiarray\n_reconstruct\nq\x05");
    o.extend_from_slice(b"cnumpy\nndarray\nq\x06K\x00\x85U\x01b\x87Rq\x07(K\x01K\x01M\x00\x0c\x86");
    o.extend_from_slice(b"cnumpy\ndtype\nq\x08U\x02u1K\x00K\x01\x87Rq\x09");
    o.extend_from_slice(b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T");
    o.extend_from_slice(&(pixels.len() as u32).to_le_bytes());
    o.extend_from_slice(pixels);
    o.extend_from_slice(b"tbu.");
    o
}

/// A safetensors file's bytes with its [`dasvdd_core::checkpoint::CHECKSUM_KEY`] entry removed,
/// tensors and other metadata as they were.
fn without_checksum(bytes: &[u8]) -> Result<Vec<u8>> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)?;
    let mut metadata = header.metadata().clone().unwrap_or_default();
    metadata.remove(dasvdd_core::checkpoint::CHECKSUM_KEY);
    let st = safetensors::SafeTensors::deserialize(bytes)?;
    Ok(safetensors::serialize(st.tensors(), Some(metadata))?)
}

/// `cargo xtask fuzz-seeds`.
pub fn run(args: &FuzzSeedsArgs) -> Result<()> {
    let dir = &args.dir;
    models(dir)?;
    // IDX: three 4 x 4 images and their labels.
    let mut idx3 = vec![0, 0, 8, 3];
    for d in [3u32, 4, 4] {
        idx3.extend(d.to_be_bytes());
    }
    idx3.extend((0..48).map(|i| (i * 5) as u8));
    let mut idx1 = vec![0, 0, 8, 1];
    idx1.extend(3u32.to_be_bytes());
    idx1.extend([1, 7, 9]);
    put(dir, "data_idx", "images.idx3", &idx3)?;
    put(dir, "data_idx", "labels.idx1", &idx1)?;
    put(dir, "data_idx", "images.idx3.gz", &gz(&idx3))?;
    // CIFAR-10: two rows of label + 3072 pixels.
    let cifar: Vec<u8> = (0..2)
        .flat_map(|r| std::iter::once(r as u8 * 3).chain((0..3072).map(move |i| (i + r) as u8)))
        .collect();
    put(dir, "data_cifar", "data_batch_1.bin", &cifar)?;
    put(
        dir,
        "data_cifar_py",
        "data_batch_1",
        &cifar_pickle(&cifar[1..3073], 7),
    )?;
    // MAT v5 and v7.3.
    put(dir, "data_mat_v5", "plain.mat", &mat_v5(false, false))?;
    put(dir, "data_mat_v5", "compressed.mat", &mat_v5(true, false))?;
    put(dir, "data_mat_v5", "big-endian.mat", &mat_v5(false, true))?;
    put(dir, "data_mat_v73", "plain.mat", &mat_v73(false)?)?;
    put(dir, "data_mat_v73", "chunked-deflate.mat", &mat_v73(true)?)?;
    // NPY: a 3 x 2 float32 matrix and uint8 labels.
    let values: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let npy_seed = |name: &str, npy_bytes: Vec<u8>| put(dir, "data_npy", name, &npy_bytes);
    npy_seed("x.npy", npy("<f4", false, "(3, 2)", &values))?;
    npy_seed("y.npy", npy("|u1", false, "(3,)", &[0, 1, 0]))?;
    let f8: Vec<u8> = [1.0f64, 3.0, 2.0, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    npy_seed("x-f8-fortran.npy", npy("<f8", true, "(2, 2)", &f8))?;
    // CSV, with and without a header, quoted (a line break inside quotes), separated by
    // blanks, and AWID3's layout.
    put(
        dir,
        "data_csv",
        "header.csv",
        b"a,b,label\n1,2,0\n3.5,-4e-3,1\n",
    )?;
    put(dir, "data_csv", "plain.csv", b"0.1;0.2\n0.3;0.4\n")?;
    put(
        dir,
        "data_csv",
        "quoted.csv",
        b"id;\"x\";label\n1;\"0,5\";normal\n\n2;\"1\n2\";anomaly\n",
    )?;
    put(dir, "data_csv", "blanks.txt", b"  1.0  2.0\t3\n4 5 6\n")?;
    put(
        dir,
        "data_awid3",
        "awid3.csv",
        b"frame.len,radiotap.dbm_antsignal,wlan.fc.type,wlan.sa,Label\n\
          120,-37,0x0002,aa:bb:cc:dd:ee:ff,Normal\n\
          64,?,0x0000,aa:bb:cc:dd:ee:01,Deauth\n\
          1500,-41,,,Normal\n",
    )?;
    // 16-bit PCM wav at 16 kHz, mono and stereo.
    put(dir, "data_wav", "mono.wav", &wav(1, 64))?;
    put(dir, "data_wav", "stereo.wav", &wav(2, 64))?;
    // PNG (grey, RGB) and JPEG.
    let grey = image::GrayImage::from_fn(6, 5, |x, y| image::Luma([(x * 40 + y * 10) as u8]));
    let rgb = image::RgbImage::from_fn(4, 4, |x, y| image::Rgb([x as u8 * 60, y as u8 * 60, 9]));
    for (name, img, fmt) in [
        (
            "grey.png",
            image::DynamicImage::from(grey.clone()),
            image::ImageFormat::Png,
        ),
        (
            "rgb.png",
            image::DynamicImage::from(rgb),
            image::ImageFormat::Png,
        ),
        (
            "grey.jpg",
            image::DynamicImage::from(grey),
            image::ImageFormat::Jpeg,
        ),
    ] {
        let mut buf = std::io::Cursor::new(Vec::new());
        img.write_to(&mut buf, fmt)?;
        put(dir, "data_images", name, &buf.into_inner())?;
    }
    // Configs: the shipped ones and a small custom network.
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    for name in ["mnist.toml", "speech.toml", "awid3.toml"] {
        let text = std::fs::read(configs.join(name))
            .with_context(|| format!("cannot read configs/{name}"))?;
        put(dir, "config", name, &text)?;
    }
    put(
        dir,
        "config",
        "custom.toml",
        b"[model]\ninput_dim = 8\nhidden = [6, 4]\nlatent = 2\noutput_activation = \"sigmoid\"\n\
          [train]\nepochs = 3\ngamma = 0.5\ncenter = \"fixed_mean_code\"\nsvdd_term = \"first_sample\"\n",
    )?;
    println!("seed corpora written to {}", dir.display());
    Ok(())
}

/// A model of every method fitted on 40 rows of 4 features, Deep SVDD on LeNet, and the file
/// of issue 10: a Fashion-MNIST config whose hidden widths say 300000, holding only the centre.
fn models(dir: &Path) -> Result<()> {
    let (rows, cols) = (40, 4);
    let x: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    let view = SampleView::new(&x, rows, cols)?;
    let net = AutoencoderConfig {
        input_dim: cols,
        hidden: vec![3],
        latent: 2,
        output_activation: Activation::Identity,
    };
    let tmp = dir.join(".models");
    std::fs::create_dir_all(&tmp)?;
    for (method, target) in [
        (Method::Dasvdd, "model_dasvdd"),
        (Method::Ae, "model_ae"),
        (Method::DeepSvdd, "model_deep_svdd"),
        (Method::Ocsvm, "model_ocsvm"),
        (Method::Kde, "model_kde"),
        (Method::IsolationForest, "model_iforest"),
    ] {
        let params = default_params(method, cols, Some(&net), Some(1), 0)?.into_boxed();
        let model = params.fit_detector(view, &Device::Cpu)?;
        let path = tmp.join(format!("{target}.safetensors"));
        model.save(&path)?;
        let bytes = std::fs::read(&path)?;
        put(dir, target, "fitted.safetensors", &bytes)?;
        // The same file without its checksum, as another tool would write it: mutations of its
        // tensor bytes then reach the loader's checks behind the checksum (shapes, finiteness).
        put(
            dir,
            target,
            "fitted-unchecked.safetensors",
            &without_checksum(&bytes)?,
        )?;
    }
    // Deep SVDD on Ruff's LeNet (about 30 kB): its loader reads batch-norm statistics too.
    let images: Vec<f32> = (0..20 * 784)
        .map(|i| ((i * 13) % 29) as f32 / 29.0)
        .collect();
    let lenet = dasvdd_baselines::DeepSvddParams {
        network: dasvdd_baselines::DeepSvddNetwork::Lenet,
        epochs: 1,
        pretrain_epochs: 0,
        batch_size: 10,
        ..dasvdd_baselines::DeepSvddParams::default()
    }
    .fit(SampleView::new(&images, 20, 784)?, &Device::Cpu)?;
    let path = tmp.join("lenet.safetensors");
    dasvdd_core::Detector::save(&lenet, &path)?;
    put(
        dir,
        "model_deep_svdd",
        "lenet.safetensors",
        &std::fs::read(&path)?,
    )?;

    let mut config = DasvddConfig::from_preset(Preset::Mnist);
    config.model.hidden = vec![300_000, 300_000];
    let center =
        candle_core::Tensor::zeros(config.model.latent, candle_core::DType::F32, &Device::Cpu)?;
    let metadata = HashMap::from([
        ("method".to_string(), "dasvdd".to_string()),
        ("config".to_string(), serde_json::to_string(&config)?),
        ("gamma".to_string(), "1e0".to_string()),
    ]);
    let path = tmp.join("issue10.safetensors");
    dasvdd_core::checkpoint::save(&path, &[("center".to_string(), center)], metadata)?;
    let crafted = std::fs::read(&path)?;
    put(
        dir,
        "model_dasvdd",
        "issue10-huge-hidden.safetensors",
        &crafted,
    )?;
    std::fs::remove_dir_all(&tmp)?;
    Ok(())
}

fn u32e(v: u32, big: bool) -> [u8; 4] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// A MAT v5 data element (small form for payloads of at most 4 bytes).
fn element(ty: u32, payload: &[u8], big: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if payload.len() <= 4 && ty != 14 {
        out.extend(u32e(((payload.len() as u32) << 16) | ty, big));
        let mut p = payload.to_vec();
        p.resize(4, 0);
        out.extend(p);
        return out;
    }
    out.extend(u32e(ty, big));
    out.extend(u32e(payload.len() as u32, big));
    out.extend(payload);
    out.resize(out.len() + (8 - payload.len() % 8) % 8, 0);
    out
}

/// The miMATRIX element of a double matrix (values column-major).
fn mat_double(name: &str, dims: [u32; 2], values: &[f64], big: bool) -> Vec<u8> {
    let mut p = Vec::new();
    let mut flags = u32e(6, big).to_vec();
    flags.extend(u32e(0, big));
    p.extend(element(6, &flags, big));
    let d: Vec<u8> = dims.iter().flat_map(|&x| u32e(x, big)).collect();
    p.extend(element(5, &d, big));
    p.extend(element(1, name.as_bytes(), big));
    let v: Vec<u8> = values
        .iter()
        .flat_map(|x| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        })
        .collect();
    p.extend(element(9, &v, big));
    element(14, &p, big)
}

/// X = [[1, 2], [3, 4], [5, 6.5]], y = [0, 1, 0] as MAT v5.
fn mat_v5(compressed: bool, big: bool) -> Vec<u8> {
    let mut out = b"MATLAB 5.0 MAT-file, written by cargo xtask fuzz-seeds".to_vec();
    out.resize(116, b' ');
    out.extend([0u8; 8]);
    out.extend(if big {
        0x0100u16.to_be_bytes()
    } else {
        0x0100u16.to_le_bytes()
    });
    out.extend(if big { *b"MI" } else { *b"IM" });
    for el in [
        mat_double("X", [3, 2], &[1.0, 3.0, 5.0, 2.0, 4.0, 6.5], big),
        mat_double("y", [3, 1], &[0.0, 1.0, 0.0], big),
    ] {
        if compressed {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = z.write_all(&el);
            let z = z.finish().unwrap_or_default();
            out.extend(u32e(15, big));
            out.extend(u32e(z.len() as u32, big));
            out.extend(z);
        } else {
            out.extend(el);
        }
    }
    out
}

/// The same X and y as MAT v7.3 (HDF5 behind a 512-byte userblock, matrices transposed).
fn mat_v73(chunked: bool) -> Result<Vec<u8>> {
    use hdf5_pure::{AttrValue, FileBuilder};
    let mut b = FileBuilder::new();
    let mut header = b"MATLAB 7.3 MAT-file, written by cargo xtask fuzz-seeds".to_vec();
    header.resize(116, b' ');
    header.extend([0u8; 8]);
    header.extend(0x0200u16.to_le_bytes());
    header.extend(b"IM");
    b.with_userblock(512);
    b.with_userblock_content(&header);
    let x = b.create_dataset("X");
    x.with_f64_data(&[1.0, 3.0, 5.0, 2.0, 4.0, 6.5])
        .with_shape(&[2, 3])
        .set_attr("MATLAB_class", AttrValue::AsciiString("double".into()));
    if chunked {
        x.with_chunks(&[1, 3]).with_deflate(6);
    }
    b.create_dataset("y")
        .with_u8_data(&[0, 1, 0])
        .with_shape(&[3, 1])
        .set_attr("MATLAB_class", AttrValue::AsciiString("logical".into()));
    b.finish()
        .map_err(|e| anyhow::anyhow!("cannot write the MAT v7.3 seed: {e}"))
}

/// An NPY v1.0 file.
fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// A 16-bit PCM wav at 16 kHz with `frames` frames of `channels` channels.
fn wav(channels: u16, frames: u32) -> Vec<u8> {
    let data_len = frames * u32::from(channels) * 2;
    let mut out = b"RIFF".to_vec();
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(channels.to_le_bytes());
    out.extend(16_000u32.to_le_bytes());
    out.extend((16_000 * u32::from(channels) * 2).to_le_bytes());
    out.extend((channels * 2).to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for i in 0..frames * u32::from(channels) {
        out.extend((((i * 977) % 20_000) as i16 - 10_000).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dasvdd_core::checkpoint::{read_metadata, save, Checkpoint, CHECKSUM_KEY};

    #[test]
    fn the_unchecked_seed_is_the_file_without_its_checksum_and_still_loads() {
        let dir = std::env::temp_dir().join(format!("fuzz-seeds-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (with, without) = (
            dir.join("with.safetensors"),
            dir.join("without.safetensors"),
        );
        let t = candle_core::Tensor::new(&[1.5f32, -2.0, 0.25], &Device::Cpu).unwrap();
        let meta = HashMap::from([("method".to_string(), "test".to_string())]);
        save(&with, &[("w".to_string(), t)], meta).unwrap();
        let bytes = std::fs::read(&with).unwrap();
        std::fs::write(&without, without_checksum(&bytes).unwrap()).unwrap();

        assert!(read_metadata(&with).unwrap().contains_key(CHECKSUM_KEY));
        let stripped = read_metadata(&without).unwrap();
        assert!(!stripped.contains_key(CHECKSUM_KEY));
        assert_eq!(stripped.get("method").map(String::as_str), Some("test"));
        let a = Checkpoint::open(&with).unwrap();
        let b = Checkpoint::open(&without).unwrap();
        let values = |c: &Checkpoint| {
            c.tensor("w", &[3], &Device::Cpu)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(values(&a), values(&b));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
