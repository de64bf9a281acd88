//! MAT v5 reader on generated fixtures: every stored type, both byte orders, compressed and
//! not, and each error path (missing or unsupported variables, bad values, truncation, flips).

mod mat_fixtures;

use std::path::Path;

use dasvdd_data::mat::{read_mat, read_mat_bytes};
use dasvdd_data::DataError;
use mat_fixtures::*;

fn p() -> &'static Path {
    Path::new("fixture.mat")
}

fn problem(bytes: &[u8]) -> String {
    match read_mat_bytes(p(), bytes) {
        Err(DataError::Format { path, problem }) => {
            assert_eq!(path, p());
            problem
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn reads_small_file_in_every_encoding() {
    for compressed in [false, true] {
        for big in [false, true] {
            let bytes = mat_file(&small_x_y(), compressed, big);
            let d = read_mat_bytes(p(), &bytes).unwrap();
            assert_eq!(
                (d.x.rows, d.x.cols),
                (3, 2),
                "compressed={compressed} big={big}"
            );
            assert_eq!(d.x.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
            assert_eq!(d.y, vec![0, 1, 0]);
            assert!(d.groups.is_none());
        }
    }
}

#[test]
fn reads_from_disk_and_names_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.mat");
    std::fs::write(&path, mat_file(&small_x_y(), true, false)).unwrap();
    assert_eq!(read_mat(&path).unwrap().y, vec![0, 1, 0]);
    let missing = dir.path().join("missing.mat");
    let err = read_mat(&missing).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert!(err.to_string().contains("missing.mat"));
}

#[test]
fn reads_single_uint8_and_narrow_storage() {
    for big in [false, true] {
        // class single; y class uint8 stored 1 x n (as a small data element: 3 bytes).
        let vars = vec![
            Var::new(
                "X",
                CLASS_SINGLE,
                &[2, 2],
                Values::F32(vec![0.5, -1.25, 3.0, 4.0]),
            ),
            Var::new("y", CLASS_UINT8, &[1, 2], Values::U8(vec![1, 0])),
        ];
        let d = read_mat_bytes(p(), &mat_file(&vars, false, big)).unwrap();
        assert_eq!(d.x.data, vec![0.5, 3.0, -1.25, 4.0]);
        assert_eq!(d.y, vec![1, 0]);
        // class double stored as miUINT8, class int32 stored as miINT16, and miINT64.
        let vars = vec![
            Var::new(
                "X",
                CLASS_DOUBLE,
                &[2, 3],
                Values::U8(vec![1, 2, 3, 4, 250, 6]),
            ),
            Var::new("y", CLASS_DOUBLE, &[2, 1], Values::U8(vec![0, 1])),
        ];
        let d = read_mat_bytes(p(), &mat_file(&vars, true, big)).unwrap();
        assert_eq!(d.x.data, vec![1.0, 3.0, 250.0, 2.0, 4.0, 6.0]);
        let vars = vec![
            Var::new("X", CLASS_INT32, &[1, 3], Values::I16(vec![-300, 7, 32767])),
            Var::new("y", CLASS_DOUBLE, &[1, 1], Values::I64(vec![1])),
        ];
        let d = read_mat_bytes(p(), &mat_file(&vars, big, big)).unwrap();
        assert_eq!(d.x.data, vec![-300.0, 7.0, 32767.0]);
        assert_eq!(d.y, vec![1]);
    }
}

#[test]
fn skips_other_variables() {
    let mut vars = vec![Var::new(
        "Z",
        CLASS_CHAR,
        &[1, 2],
        Values::U8(vec![b'h', b'i']),
    )];
    vars.extend(small_x_y());
    vars.push(Var::new(
        "Xtra",
        CLASS_DOUBLE,
        &[1, 1],
        Values::F64(vec![f64::NAN]),
    ));
    let d = read_mat_bytes(p(), &mat_file(&vars, true, false)).unwrap();
    assert_eq!(d.x.rows, 3);
}

#[test]
fn missing_variables_are_errors() {
    let vars = small_x_y();
    assert!(problem(&mat_file(&vars[1..], false, false)).contains("no variable X"));
    assert!(problem(&mat_file(&vars[..1], true, false)).contains("no variable y"));
    let twice = [vars[0].clone(), vars[0].clone(), vars[1].clone()];
    assert!(problem(&mat_file(&twice, false, false)).contains("appears twice"));
}

#[test]
fn sparse_complex_and_char_are_errors() {
    for big in [false, true] {
        let y = small_x_y().remove(1);
        let sparse = sparse_matrix("X", 3, 2, &[(0, 0, 1.0), (2, 1, 5.0)], big);
        let bytes = file_from_elements(&[compress(&sparse, big), matrix(&y, big)], big);
        assert!(problem(&bytes).contains("variable X is a sparse matrix"));
        let bytes = file_from_elements(&[sparse, matrix(&y, big)], big);
        assert!(problem(&bytes).contains("sparse"));

        let mut complex = small_x_y();
        complex[0].imag = Some(Values::F64(vec![0.0; 6]));
        assert!(problem(&mat_file(&complex, true, big)).contains("variable X is complex"));

        let mut chars = small_x_y();
        chars[1] = Var::new("y", CLASS_CHAR, &[3, 1], Values::U8(vec![b'0', b'1', b'0']));
        assert!(problem(&mat_file(&chars, false, big)).contains("variable y is a character array"));
    }
}

#[test]
fn bad_values_and_shapes_are_errors() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut vars = small_x_y();
        vars[0].real = Values::F64(vec![1.0, 3.0, 5.0, 2.0, bad, 6.5]);
        let msg = problem(&mat_file(&vars, true, false));
        assert!(
            msg.contains("non-finite") && msg.contains("row 2, column 2"),
            "{msg}"
        );
    }
    let mut vars = small_x_y();
    vars[0].real = Values::F64(vec![1.0, 3.0, 5.0, 2.0, 1e300, 6.5]);
    assert!(problem(&mat_file(&vars, false, false)).contains("outside the f32 range"));

    let mut vars = small_x_y();
    vars[1].real = Values::F64(vec![0.0, 2.0, 0.0]);
    let msg = problem(&mat_file(&vars, false, false));
    assert!(
        msg.contains("value 2 at element 2 (from 1), expected 0 or 1"),
        "{msg}"
    );

    let mut vars = small_x_y();
    vars[1].dims = vec![1, 3];
    assert!(read_mat_bytes(p(), &mat_file(&vars, false, false)).is_ok());
    vars[1] = Var::new("y", CLASS_DOUBLE, &[2, 1], Values::F64(vec![0.0, 1.0]));
    assert!(problem(&mat_file(&vars, false, false)).contains("2 labels but X has 3 rows"));
    vars[1] = Var::new("y", CLASS_DOUBLE, &[2, 2], Values::F64(vec![0.0; 4]));
    assert!(problem(&mat_file(&vars, false, false)).contains("expected n x 1 or 1 x n"));

    let mut vars = small_x_y();
    vars[0].dims = vec![3, 1, 2];
    assert!(problem(&mat_file(&vars, false, false)).contains("3 dimensions"));
    vars[0].dims = vec![3, 3];
    assert!(problem(&mat_file(&vars, false, false)).contains("stores 6"));
}

#[test]
fn bad_headers_are_errors() {
    assert!(problem(b"MATLAB 5.0").contains("shorter than the 128-byte"));
    assert!(problem(&[0u8; 200]).contains("MAT v4"));
    let mut bytes = mat_file(&small_x_y(), false, false);
    bytes[124] = 7;
    assert!(problem(&bytes).contains("unsupported MAT header version"));
    bytes[126] = b'x';
    assert!(problem(&bytes).contains("endian indicator"));
}

#[test]
fn every_truncation_is_an_error() {
    for compressed in [false, true] {
        for big in [false, true] {
            let bytes = mat_file(&small_x_y(), compressed, big);
            for cut in 0..bytes.len() {
                let r = read_mat_bytes(p(), &bytes[..cut]);
                assert!(
                    matches!(r, Err(DataError::Format { .. })),
                    "cut at {cut} of {} (compressed={compressed}) gave {r:?}",
                    bytes.len()
                );
            }
        }
    }
}

#[test]
fn flipped_bytes_never_panic_nor_change_the_shape() {
    for compressed in [false, true] {
        let bytes = mat_file(&small_x_y(), compressed, false);
        for pos in 0..bytes.len() {
            let mut b = bytes.clone();
            b[pos] ^= 0xff;
            match read_mat_bytes(p(), &b) {
                Ok(d) => {
                    // The header text and the subsystem offset are free-form, padding is
                    // ignored and raw values of an uncompressed file may change; nothing else.
                    assert!(
                        pos < 124 || !compressed,
                        "flip at {pos} of compressed file accepted"
                    );
                    assert_eq!((d.x.rows, d.x.cols, d.y.len()), (3, 2, 3), "flip at {pos}");
                }
                Err(e) => assert!(matches!(e, DataError::Format { .. }), "flip at {pos}: {e}"),
            }
        }
    }
}

#[test]
fn reads_every_stored_numeric_type() {
    // Class double (6) with its data in each MAT data type; the values fit every type.
    let stored = [
        Values::F64(vec![1.0, 2.0, 3.0, 4.0]),
        Values::F32(vec![1.0, 2.0, 3.0, 4.0]),
        Values::I8(vec![1, 2, 3, 4]),
        Values::U8(vec![1, 2, 3, 4]),
        Values::I16(vec![1, 2, 3, 4]),
        Values::U16(vec![1, 2, 3, 4]),
        Values::I32(vec![1, 2, 3, 4]),
        Values::U32(vec![1, 2, 3, 4]),
        Values::I64(vec![1, 2, 3, 4]),
        Values::U64(vec![1, 2, 3, 4]),
    ];
    for values in stored {
        for big in [false, true] {
            for class in [CLASS_DOUBLE, CLASS_SINGLE, CLASS_UINT8, CLASS_INT32] {
                let vars = vec![
                    Var::new("X", class, &[2, 2], values.clone()),
                    Var::new("y", class, &[2, 1], Values::U8(vec![1, 0])),
                ];
                let d = read_mat_bytes(p(), &mat_file(&vars, big, big))
                    .unwrap_or_else(|e| panic!("{values:?} big={big}: {e}"));
                assert_eq!(d.x.data, vec![1.0, 3.0, 2.0, 4.0], "{values:?} big={big}");
            }
        }
    }
    let neg = vec![
        Var::new("X", CLASS_INT32, &[1, 2], Values::I8(vec![-128, 127])),
        Var::new("y", CLASS_DOUBLE, &[1, 1], Values::U8(vec![0])),
    ];
    assert_eq!(
        read_mat_bytes(p(), &mat_file(&neg, false, true))
            .unwrap()
            .x
            .data,
        vec![-128.0, 127.0]
    );
}

/// The miMATRIX element of a MATLAB object (class 17, as a `string` is saved): flags, name,
/// the object system's `MCOS`, the class name, then the object's metadata; no dimensions.
fn opaque(name: &str, big: bool) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut flags = u32b(17).to_vec();
    flags.extend(u32b(0));
    let mut p = element(MI_UINT32, &flags, big);
    p.extend(element(MI_INT8, name.as_bytes(), big));
    p.extend(element(MI_INT8, b"MCOS", big));
    p.extend(element(MI_INT8, b"string", big));
    let meta = Var::new(
        "",
        CLASS_UINT32,
        &[6, 1],
        Values::U32(vec![0xdd00_0000, 2, 1, 1, 1, 1]),
    );
    p.extend(matrix(&meta, big));
    element(MI_MATRIX, &p, big)
}

#[test]
fn objects_utf8_names_and_uint32_dims_in_other_variables_are_skipped() {
    for big in [false, true] {
        for compressed in [false, true] {
            let wrap = |el: Vec<u8>| if compressed { compress(&el, big) } else { el };
            let vars = small_x_y();
            let mut other = matrix(
                &Var::new("w", CLASS_DOUBLE, &[1, 1], Values::F64(vec![2.0])),
                big,
            );
            // The name subelement's type (miINT8, the third subelement) becomes miUTF8 (16),
            // and the dimensions' (miINT32, the second) miUINT32 (6), as some writers store them.
            let tag = |ty: u32| {
                if big {
                    ty.to_be_bytes()
                } else {
                    ty.to_le_bytes()
                }
            };
            let dims_at = 8 + 16;
            other[dims_at..dims_at + 4].copy_from_slice(&tag(MI_UINT32));
            let name_at = dims_at + 16;
            assert_eq!(other[name_at..name_at + 4], tag((1 << 16) | MI_INT8));
            other[name_at..name_at + 4].copy_from_slice(&tag((1 << 16) | 16));
            let bytes = file_from_elements(
                &[
                    wrap(opaque("s", big)),
                    wrap(matrix(&vars[0], big)),
                    wrap(other),
                    wrap(matrix(&vars[1], big)),
                ],
                big,
            );
            let d = read_mat_bytes(p(), &bytes).unwrap();
            assert_eq!((d.x.rows, d.x.cols, d.y.len()), (3, 2, 3));
            // An object named X is an error that says what it is.
            let bytes = file_from_elements(&[wrap(opaque("X", big)), matrix(&vars[1], big)], big);
            assert!(problem(&bytes).contains("variable X is a MATLAB object"));
        }
    }
}
