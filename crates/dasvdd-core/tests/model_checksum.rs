//! The checksum of a model file's tensors (`dasvdd_sha256`): a flipped bit in a weight, which
//! leaves every value finite, is refused with an error naming the file instead of loading and
//! giving wrong scores; files without the entry (older versions, other tools) and files whose
//! metadata alone changed still load.

use candle_core::Device;
use dasvdd_core::checkpoint::{self, Checkpoint, Integrity, CHECKSUM_KEY};
use dasvdd_core::{CoreError, DasvddModel, Detector, SampleView};

mod common;
use common::{data, small_model, D};

/// Offset in the file of the first data byte of tensor `name`.
fn data_offset(bytes: &[u8], name: &str) -> usize {
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let info = meta.info(name).unwrap();
    8 + header + info.data_offsets.0
}

#[test]
fn a_flipped_bit_in_a_weight_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = small_model(dir.path());
    assert!(checkpoint::get_metadata(&path, CHECKSUM_KEY)
        .unwrap()
        .is_some_and(|h| h.len() == 64));
    assert_eq!(
        Checkpoint::open(&path).unwrap().integrity(),
        Integrity::Verified
    );

    let mut bytes = std::fs::read(&path).unwrap();
    // The lowest mantissa bit of the first weight of the first layer: still finite, a little off.
    let at = data_offset(&bytes, "encoder.0.weight");
    bytes[at] ^= 1;
    let damaged = dir.path().join("damaged.safetensors");
    std::fs::write(&damaged, &bytes).unwrap();

    let err = DasvddModel::load(&damaged, &Device::Cpu).unwrap_err();
    assert!(matches!(err, CoreError::Checkpoint { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: damaged: its weights do not match the checksum stored when it was written",
            damaged.display()
        )
    );
    // Every reader says so, not only the model's loader.
    for e in [
        checkpoint::read_metadata(&damaged).unwrap_err(),
        checkpoint::set_metadata(&damaged, &[("note", "x".into())]).unwrap_err(),
    ] {
        assert!(e.to_string().contains("damaged"), "{e}");
    }
}

#[test]
fn files_without_a_checksum_and_metadata_edits_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = small_model(dir.path());
    let x = data();
    let x = SampleView::new(&x, 40, D).unwrap();
    let want = model.score(x).unwrap();

    // A header-only change: the checksum covers the tensors, not the metadata.
    let edited = dir.path().join("edited.safetensors");
    std::fs::copy(&path, &edited).unwrap();
    checkpoint::set_metadata(&edited, &[("note", "added later".into())]).unwrap();
    let ck = Checkpoint::open(&edited).unwrap();
    assert_eq!(ck.integrity(), Integrity::Verified);
    assert_eq!(ck.meta("note").unwrap(), "added later");
    let loaded = DasvddModel::load(&edited, &Device::Cpu).unwrap();
    assert_eq!(loaded.score(x).unwrap(), want);

    // An old-style file: the same tensors and metadata, without the entry.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = meta.metadata().clone().unwrap();
    assert!(metadata.remove(CHECKSUM_KEY).is_some());
    let old = dir.path().join("old.safetensors");
    safetensors::serialize_to_file(st.tensors(), Some(metadata), &old).unwrap();
    assert_eq!(
        Checkpoint::open(&old).unwrap().integrity(),
        Integrity::Unchecked
    );
    let loaded = DasvddModel::load(&old, &Device::Cpu).unwrap();
    assert_eq!(loaded.score(x).unwrap(), want);
    // Its metadata can still be edited, and stays without a checksum.
    checkpoint::set_metadata(&old, &[("note", "x".into())]).unwrap();
    assert_eq!(checkpoint::get_metadata(&old, CHECKSUM_KEY).unwrap(), None);
}

#[test]
fn the_checksum_covers_names_dtypes_shapes_and_bytes_in_name_order() {
    use safetensors::Dtype::{F32, I64};
    let a = [1u8, 2, 3, 4];
    let b = [5u8, 6, 7, 8, 9, 10, 11, 12];
    let h = checkpoint::tensors_sha256([("a", F32, &[1][..], &a[..]), ("b", I64, &[1], &b)]);
    assert_eq!(h.len(), 64);
    // Order of the tensors does not matter; their names, dtypes, shapes and bytes do.
    let same = checkpoint::tensors_sha256([("b", I64, &[1][..], &b[..]), ("a", F32, &[1], &a)]);
    assert_eq!(h, same);
    let others = [
        checkpoint::tensors_sha256([("c", F32, &[1][..], &a[..]), ("b", I64, &[1], &b)]),
        checkpoint::tensors_sha256([("a", I64, &[1][..], &b[..]), ("b", I64, &[1], &b)]),
        checkpoint::tensors_sha256([("a", F32, &[1, 1][..], &a[..]), ("b", I64, &[1], &b)]),
        checkpoint::tensors_sha256([
            ("a", F32, &[1][..], &[1, 2, 3, 5][..]),
            ("b", I64, &[1], &b),
        ]),
    ];
    for o in others {
        assert_ne!(h, o);
    }
}

#[test]
fn the_same_model_saved_twice_gives_the_same_bytes() {
    // The metadata travels as a HashMap, whose order differs from one map to the next: the
    // file's header is written in sorted order, so that the same tensors and metadata give the
    // same bytes.
    let dir = tempfile::tempdir().unwrap();
    let (model, first) = small_model(dir.path());
    let bytes = std::fs::read(&first).unwrap();
    for i in 0..4 {
        let again = dir.path().join(format!("again{i}.safetensors"));
        model.save(&again).unwrap();
        assert_eq!(std::fs::read(&again).unwrap(), bytes, "save {i}");
    }
    // A metadata edit keeps the order fixed too, and the file still loads with its checksum.
    let edited = |name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        for k in ["z_note", "a_note", "m_note"] {
            checkpoint::set_metadata(&p, &[(k, format!("value of {k}"))]).unwrap();
        }
        std::fs::read(&p).unwrap()
    };
    assert_eq!(edited("e1.safetensors"), edited("e2.safetensors"));
    let e = dir.path().join("e1.safetensors");
    assert_eq!(
        Checkpoint::open(&e).unwrap().integrity(),
        Integrity::Verified
    );
    assert_eq!(
        checkpoint::get_metadata(&e, "m_note").unwrap().as_deref(),
        Some("value of m_note")
    );
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + header) % 8, 0, "the data stays aligned to 8 bytes");
}
