//! A user's own data: CSV (header detection, label column by name or index, label file, and
//! the row-numbered errors), NPY (versions, dtypes, orders) and image folders; plus the score
//! writer and the CIFAR-10 batches.

mod common;

use common::*;
use dasvdd_data::cifar::{load_cifar10_dir, read_cifar_batch};
use dasvdd_data::images::load_image_folder;
use dasvdd_data::npy::{load_npy, read_npy, read_npy_matrix};
use dasvdd_data::tabular::{
    parse_csv, read_csv, write_scores_csv, ColumnRef, CsvOptions, Delimiter, Header, LabelSource,
    OptionNames,
};
use dasvdd_data::{ColourMode, DataError, ImageFolderOptions};

fn labelled(col: ColumnRef) -> CsvOptions {
    CsvOptions {
        label: LabelSource::Column(col),
        ..Default::default()
    }
}

#[test]
fn csv_with_and_without_header() {
    let d = tempfile::tempdir().unwrap();
    let with = write(d.path(), "a.csv", "x1,x2,label\n1.5,2,0\n-3e2, 4 ,1\n\n");
    let without = write(d.path(), "b.csv", "1.5,2,0\n-3e2,4,1\n");
    for (p, col) in [
        (&with, ColumnRef::Name("label".into())),
        (&with, ColumnRef::Last),
        (&without, ColumnRef::Index(2)),
    ] {
        let data = read_csv(p, &labelled(col)).unwrap();
        assert_eq!((data.x.rows, data.x.cols), (2, 2));
        assert_eq!(data.x.data, vec![1.5, 2.0, -300.0, 4.0]);
        assert_eq!(data.y, vec![0, 1]);
    }
    // Label column in the middle, chosen by index.
    let mid = write(d.path(), "c.csv", "1,0,2\n3,1,4\n");
    let data = read_csv(&mid, &labelled(ColumnRef::Index(1))).unwrap();
    assert_eq!(
        (data.x.data, data.y),
        (vec![1.0, 2.0, 3.0, 4.0], vec![0, 1])
    );
    // No labels: all normal; header forced absent keeps the first row.
    let data = read_csv(
        &without,
        &CsvOptions {
            header: Header::Absent,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((data.x.rows, data.x.cols, data.y), (2, 3, vec![0, 0]));
    // Semicolons.
    let semi = write(d.path(), "d.csv", "a;b\n1;2\n");
    let data = read_csv(
        &semi,
        &CsvOptions {
            delimiter: Delimiter::Char(b';'),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(data.x.data, vec![1.0, 2.0]);
}

#[test]
fn pandas_headers_are_told_from_data() {
    let d = tempfile::tempdir().unwrap();
    // `pd.DataFrame(x).to_csv(index=False)` names unnamed columns 0..n-1.
    let pandas = write(d.path(), "p.csv", "0,1\n5.0,15.0\n25.0,35.0\n");
    let data = read_csv(&pandas, &CsvOptions::default()).unwrap();
    assert_eq!(data.x.data, vec![5.0, 15.0, 25.0, 35.0]);
    // ... and with a named label column beside them.
    let mixed = write(d.path(), "m.csv", "0,1,label\n5.5,1,0\n2,3,1\n");
    let data = read_csv(&mixed, &labelled(ColumnRef::Last)).unwrap();
    assert_eq!(
        (data.x.data, data.y),
        (vec![5.5, 1.0, 2.0, 3.0], vec![0, 1])
    );
    // Integer data whose first row is 0,1 stays data.
    let ints = write(d.path(), "i.csv", "0,1\n3,4\n");
    assert_eq!(
        read_csv(&ints, &CsvOptions::default()).unwrap().x.data,
        vec![0.0, 1.0, 3.0, 4.0]
    );
    // A first row with a bad cell beside a fraction is bad data, not a header.
    csv_err(
        "1.5,abc\n1,2\n",
        &CsvOptions::default(),
        1,
        "non-numeric cell `abc`",
    );
}

#[test]
fn a_header_of_numbers_is_read_when_the_caller_says_so() {
    let p = std::path::Path::new("t.csv");
    let present = CsvOptions {
        header: Header::Present,
        ..Default::default()
    };
    // pandas' header above integer values is data by default, with a warning naming the option.
    let pandas_ints = "0,1,2\n5,3,1\n4,4,2\n6,2,9\n";
    let auto = parse_csv(p, pandas_ints, &CsvOptions::default()).unwrap();
    assert_eq!(auto.x.rows, 4);
    assert!(auto.names.is_none());
    assert_eq!(auto.warnings.len(), 1, "{:?}", auto.warnings);
    assert!(
        auto.warnings[0].contains("the first row (`0,1,2`) counts the columns from 0")
            && auto.warnings[0].contains("`CsvOptions::header = Header::Present`"),
        "{:?}",
        auto.warnings
    );
    // Told that it is a header, it is one: three rows, pandas' values.
    let told = parse_csv(p, pandas_ints, &present).unwrap();
    assert_eq!(
        told.x.data,
        vec![5.0, 3.0, 1.0, 4.0, 4.0, 2.0, 6.0, 2.0, 9.0]
    );
    assert_eq!(
        told.names.as_deref(),
        Some(&["0".to_string(), "1".into(), "2".into()][..])
    );
    assert!(told.warnings.is_empty(), "{:?}", told.warnings);
    // Years as column names: data by default (nothing tells them from values, so no warning),
    // a header when told.
    let years = "2019,2020,2021\n5,3,1\n4,4,2\n";
    let auto = parse_csv(p, years, &CsvOptions::default()).unwrap();
    assert_eq!((auto.x.rows, auto.warnings.len()), (3, 0));
    let told = parse_csv(p, years, &present).unwrap();
    assert_eq!((told.x.rows, told.x.data[0]), (2, 5.0));
    // Told there is none, a row of names is bad data.
    let absent = CsvOptions {
        header: Header::Absent,
        ..Default::default()
    };
    csv_err("a,b\n1,2\n", &absent, 1, "non-numeric cell `a`");
    // A single column counting from 0 is not taken for pandas' header in a warning.
    let one = parse_csv(p, "0\n1\n2\n", &CsvOptions::default()).unwrap();
    assert!(
        one.warnings
            .iter()
            .all(|w| !w.contains("counts the columns")),
        "{:?}",
        one.warnings
    );
}

#[test]
fn a_decimal_comma_is_read_when_the_caller_says_so() {
    let p = std::path::Path::new("t.csv");
    let comma = CsvOptions {
        decimal_comma: true,
        ..Default::default()
    };
    // A spreadsheet's export in many locales: `;` between columns, `,` as the decimal mark;
    // the separator is detected without the commas, and the header is told from the data.
    let t = parse_csv(p, "a;b;c\n1,5;-2,25;3\n0,125;4;1e-2\n", &comma).unwrap();
    assert_eq!(t.x.data, vec![1.5, -2.25, 3.0, 0.125, 4.0, 0.01]);
    assert_eq!(t.names.unwrap(), ["a", "b", "c"]);
    // Without a header, the first row is data (`1,5` is a number, not a name).
    let t = parse_csv(p, "1,5;2\n3;4,75\n", &comma).unwrap();
    assert_eq!((t.x.rows, t.x.data.clone()), (2, vec![1.5, 2.0, 3.0, 4.75]));
    // Tab-separated too.
    let t = parse_csv(p, "1,5\t2\n", &comma).unwrap();
    assert_eq!(t.x.data, vec![1.5, 2.0]);
    // A thousands separator beside it is an error, not a guess; so is `,` as the separator.
    let e = parse_csv(p, "a;b\n1.234,5;2\n", &comma)
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 2") && e.contains("both `.` and `,`"), "{e}");
    let e = parse_csv(
        p,
        "1,2\n",
        &CsvOptions {
            delimiter: Delimiter::Char(b','),
            ..comma.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("the separator cannot be `,`"), "{e}");
    // Without the option, `1,5;2` is still refused with the hint, never read as 1 or 15.
    let e = parse_csv(p, "a;b\n1,5;2\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`CsvOptions::decimal_comma`"), "{e}");
}

#[test]
fn a_column_named_in_a_file_without_header_says_so() {
    // Naming a column makes the first row a header; when that row is numbers, the message says
    // the file seems to have none, rather than listing the numbers as its header.
    let opts = CsvOptions {
        drop: vec![ColumnRef::Given("a".into())],
        ..Default::default()
    };
    let e = parse_csv(std::path::Path::new("t.csv"), "2.5,-0.25\n1.5,2\n", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "`a`: no such column; the first row holds only numbers (`2.5, -0.25`), so \
             the file seems to have no header row: give columns by number (1 = the first)"
        ),
        "{e}"
    );
}

#[test]
fn csv_with_a_separate_label_file() {
    let d = tempfile::tempdir().unwrap();
    let x = write(d.path(), "x.csv", "1,2\n3,4\n5,6\n");
    let y = write(d.path(), "y.csv", "label\n0\n1\n0\n");
    let data = read_csv(
        &x,
        &CsvOptions {
            label: LabelSource::File(y),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(data.y, vec![0, 1, 0]);
    let short = write(d.path(), "short.csv", "0\n1\n");
    let err = read_csv(
        &x,
        &CsvOptions {
            label: LabelSource::File(short),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::Format { path, problem } if path.ends_with("short.csv") && problem.contains("2 labels")),
        "{err}"
    );
}

/// Asserts a CSV error names the file and the 1-based line and contains `what`.
fn csv_err(body: &str, opts: &CsvOptions, line: u64, what: &str) {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "bad.csv", body);
    let err = read_csv(&p, opts).unwrap_err();
    match &err {
        DataError::Format { path, problem } => {
            assert!(path.ends_with("bad.csv"), "{err}");
            let at = format!("row {line}");
            assert!(
                problem.starts_with(&format!("{at}:")) || problem.starts_with(&format!("{at},")),
                "{err}"
            );
            assert!(problem.contains(what), "{err}");
        }
        other => panic!("expected a format error, got {other}"),
    }
}

#[test]
fn malformed_csv_names_file_row_and_problem() {
    let plain = CsvOptions::default();
    csv_err("a,b\n1,2\n3\n", &plain, 3, "1 cell, expected 2");
    csv_err("a,b\n1,2\n3,4,5\n", &plain, 3, "3 cells, expected 2");
    csv_err("1,2\n3,x\n", &plain, 2, "non-numeric cell `x`");
    csv_err("1,2\n3,NaN\n", &plain, 2, "non-finite");
    csv_err("1,2\n\n3,inf\n", &plain, 3, "non-finite");
    csv_err("1,2\n3,\n", &plain, 2, "empty cell");
    csv_err("1,2\n3,1e39\n", &plain, 2, "outside the f32 range");
    csv_err("1,2,0\n3,4,2\n", &labelled(ColumnRef::Last), 2, "label `2`");
    let d = tempfile::tempdir().unwrap();
    let empty = write(d.path(), "e.csv", "");
    assert!(read_csv(&empty, &plain)
        .unwrap_err()
        .to_string()
        .contains("no data rows"));
    let header_only = write(d.path(), "h.csv", "a,b\n");
    assert!(read_csv(&header_only, &plain)
        .unwrap_err()
        .to_string()
        .contains("no data rows"));
    let p = write(d.path(), "n.csv", "1,2\n");
    let err = read_csv(&p, &labelled(ColumnRef::Name("label".into()))).unwrap_err();
    assert!(err.to_string().contains("`label`: no such column"), "{err}");
    let err = read_csv(&p, &labelled(ColumnRef::Index(5))).unwrap_err();
    assert!(
        err.to_string()
            .contains("5 (counted from 0) does not exist"),
        "{err}"
    );
}

#[test]
fn scores_are_written_atomically_and_read_back_exactly() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("scores.csv");
    let scores = [0.1f32, 1e-7, 123456.79, -2.5];
    write_scores_csv(&p, &scores).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let back: Vec<f32> = text.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(back, scores);
    assert_eq!(text.lines().next(), Some("score"));
    // Overwrite, and no temporary file is left behind.
    write_scores_csv(&p, &[1.0]).unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "score\n1\n");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    let err = write_scores_csv(&d.path().join("missing/dir/s.csv"), &[1.0]).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
}

// Python (numpy 2.4.6):
//   a = np.array([[1.5, -2.0, 3.25], [4.0, 5.5, -6.75]], dtype='<f4'); b = io.BytesIO(); np.save(b, a)
//   b.getvalue().hex()
const NUMPY_C_F4: &str = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c000005040000080400000b0400000d8c0";

// Python (numpy 2.4.6), float16 in both byte orders:
//   a = np.array([[1.5, -2.0, 65504.0], [2.0**-24, 0.1, -6.75]], dtype='<f2')  # and '>f2'
//   b = io.BytesIO(); np.save(b, a); b.getvalue().hex()
const NUMPY_C_F2_LE: &str = "934e554d5059010076007b276465736372273a20273c6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a003e00c0ff7b0100662ec0c6";
const NUMPY_C_F2_BE: &str = "934e554d5059010076007b276465736372273a20273e6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a3e00c0007bff00012e66c6c0";

#[test]
fn npy_float16_written_by_numpy_is_read() {
    // numpy's values as float: [1.5, -2.0, 65504.0, 5.960464477539063e-08, 0.0999755859375,
    // -6.75] (the largest half, its smallest subnormal, 0.1 rounded to half).
    let expected = vec![1.5f32, -2.0, 65504.0, 5.960_464_5e-8, 0.099_975_586, -6.75];
    let d = tempfile::tempdir().unwrap();
    for (name, bytes) in [("le.npy", NUMPY_C_F2_LE), ("be.npy", NUMPY_C_F2_BE)] {
        let p = write(d.path(), name, hex(bytes));
        let m = read_npy_matrix(&p).unwrap();
        assert_eq!((m.rows, m.cols, &m.data), (2, 3, &expected), "{name}");
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn npy_written_by_numpy_is_read() {
    let expected = vec![1.5f32, -2.0, 3.25, 4.0, 5.5, -6.75];
    let numpy = hex(NUMPY_C_F4);
    assert_eq!(
        numpy,
        npy_bytes(1, "<f4", false, &[2, 3], &numpy[128..]),
        "the generator writes what numpy writes"
    );
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.npy", &numpy);
    let m = read_npy_matrix(&p).unwrap();
    assert_eq!((m.rows, m.cols, m.data), (2, 3, expected));
}

#[test]
fn npy_dtypes_orders_and_versions() {
    let d = tempfile::tempdir().unwrap();
    let vals = [1.0f64, -2.0, 3.0, 4.0, 5.0, -6.0]; // C order, 2 x 3
    let fortran_order = [0usize, 3, 1, 4, 2, 5];
    for version in [1u8, 2, 3] {
        for (descr, signed) in [
            ("<f4", true),
            ("<f8", true),
            (">f8", true),
            ("<i1", true),
            ("<i2", true),
            (">i4", true),
            ("<i8", true),
            ("|u1", false),
            ("<u2", false),
            ("<u4", false),
            ("<u8", false),
        ] {
            for fortran in [false, true] {
                let size: usize = descr[2..].parse().unwrap();
                let mut data = Vec::new();
                let order: Vec<usize> = if fortran {
                    fortran_order.to_vec()
                } else {
                    (0..6).collect()
                };
                for &k in &order {
                    let v = if signed { vals[k] } else { vals[k].abs() };
                    let mut le: Vec<u8> = match (&descr[1..2], size) {
                        ("f", 4) => (v as f32).to_le_bytes().to_vec(),
                        ("f", _) => v.to_le_bytes().to_vec(),
                        _ => (v as i64).to_le_bytes()[..size].to_vec(),
                    };
                    if descr.starts_with('>') {
                        le.reverse();
                    }
                    data.extend(le);
                }
                let p = write(
                    d.path(),
                    "t.npy",
                    npy_bytes(version, descr, fortran, &[2, 3], &data),
                );
                let m = read_npy_matrix(&p).unwrap_or_else(|e| panic!("{descr} v{version}: {e}"));
                let want: Vec<f32> = vals
                    .iter()
                    .map(|&v| if signed { v as f32 } else { v.abs() as f32 })
                    .collect();
                assert_eq!(
                    (m.rows, m.cols, &m.data),
                    (2, 3, &want),
                    "{descr} v{version} fortran={fortran}"
                );
            }
        }
    }
    // Booleans and 1-d arrays; labels from a second file.
    let x = write(
        d.path(),
        "x.npy",
        npy_bytes(
            1,
            "<f8",
            false,
            &[3],
            &[1f64, 2., 3.]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>(),
        ),
    );
    let y = write(
        d.path(),
        "y.npy",
        npy_bytes(1, "|b1", false, &[3], &[0, 1, 0]),
    );
    let data = load_npy(&x, Some(&y)).unwrap();
    assert_eq!((data.x.rows, data.x.cols, data.y), (3, 1, vec![0, 1, 0]));
    assert_eq!(read_npy(&y).unwrap().values, vec![0.0, 1.0, 0.0]);
}

#[test]
fn npy_errors() {
    let d = tempfile::tempdir().unwrap();
    let f8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not numpy at all".to_vec(), "magic"),
        (
            npy_bytes(1, "<f8", false, &[2, 2], &f8(&[1., 2., 3.])),
            "truncated",
        ),
        (
            npy_bytes(1, "<f8", false, &[1, 2], &f8(&[1., 2., 3.])),
            "trailing",
        ),
        (
            npy_bytes(1, "<f8", false, &[1, 2], &f8(&[1., f64::NAN])),
            "non-finite value NaN at row 1, column 2",
        ),
        (
            npy_bytes(1, "<f8", false, &[2, 1], &f8(&[1., f64::INFINITY])),
            "row 2, column 1",
        ),
        (
            npy_bytes(1, "<c8", false, &[1], &[0; 8]),
            "unsupported dtype",
        ),
        (
            npy_bytes(1, "<f8", false, &[1, 1, 1], &f8(&[1.])),
            "only 1-d and 2-d",
        ),
        (npy_bytes(1, "<f8", false, &[0, 3], &[]), "empty array"),
        (npy_bytes(9, "<f8", false, &[1], &f8(&[1.])), "version 9"),
        (
            npy_bytes(1, "<f8", false, &[1, 2], &f8(&[1., 1e39])),
            "value outside the f32 range 1e39 at row 1, column 2",
        ),
        // Version 3 headers may be UTF-8; a dtype with a multi-byte character is refused.
        (
            npy_bytes(3, "<\u{e9}4", false, &[1], &[0; 4]),
            "unsupported dtype",
        ),
    ];
    for (bytes, what) in cases {
        let p = write(d.path(), "bad.npy", &bytes);
        let err = read_npy_matrix(&p).unwrap_err();
        assert!(
            matches!(&err, DataError::Format { path, problem } if path.ends_with("bad.npy") && problem.contains(what)),
            "{what}: {err}"
        );
    }
    let x = write(
        d.path(),
        "x.npy",
        npy_bytes(1, "<f8", false, &[2], &f8(&[1., 2.])),
    );
    let y = write(
        d.path(),
        "y.npy",
        npy_bytes(1, "<f8", false, &[2], &f8(&[0., 0.5])),
    );
    assert!(load_npy(&x, Some(&y))
        .unwrap_err()
        .to_string()
        .contains("not 0 or 1"));
}

#[test]
fn image_folder_grey_and_rgb() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("normal")).unwrap();
    std::fs::create_dir_all(d.path().join("abnormal")).unwrap();
    write_png(&d.path().join("normal/b.png"), 4, 4);
    write_png(&d.path().join("normal/a.PNG"), 8, 8);
    image::RgbImage::from_pixel(5, 5, image::Rgb([255, 0, 0]))
        .save(d.path().join("abnormal/c.jpg"))
        .unwrap();
    std::fs::write(d.path().join("normal/readme.txt"), "skip me").unwrap();
    let grey = load_image_folder(
        d.path(),
        &ImageFolderOptions {
            width: 4,
            height: 4,
            colour: ColourMode::Grey,
        },
    )
    .unwrap();
    assert_eq!(
        (grey.x.rows, grey.x.cols, grey.y.clone()),
        (3, 16, vec![0, 0, 1])
    );
    assert!(grey.x.data.iter().all(|v| (0.0..=1.0).contains(v)));
    let rgb = load_image_folder(
        d.path(),
        &ImageFolderOptions {
            width: 4,
            height: 4,
            colour: ColourMode::Rgb,
        },
    )
    .unwrap();
    assert_eq!(rgb.x.cols, 48);
    // b.png is 4x4 already: pixel (1, 2) has R = 40, G = 80, B = 200, in R, G, B planes.
    let b = rgb.x.row(1);
    assert_eq!(
        [b[2 * 4 + 1], b[16 + 2 * 4 + 1], b[32 + 2 * 4 + 1]],
        [40.0 / 255.0, 80.0 / 255.0, 200.0 / 255.0]
    );
    // The JPEG is red: its red plane is near 1, its green plane near 0.
    let c = rgb.x.row(2);
    assert!(c[..16].iter().all(|&v| v > 0.9) && c[16..32].iter().all(|&v| v < 0.1));

    std::fs::write(
        d.path().join("abnormal/broken.png"),
        b"\x89PNG\r\n\x1a\nnope",
    )
    .unwrap();
    let err = load_image_folder(d.path(), &ImageFolderOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format { path, .. } if path.ends_with("broken.png")),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(
        load_image_folder(empty.path(), &ImageFolderOptions::default())
            .unwrap_err()
            .to_string()
            .contains("no normal images")
    );
}

#[test]
fn cifar_batches() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "test_batch.bin", cifar_bytes(12));
    let set = read_cifar_batch(&p).unwrap();
    assert_eq!(
        (set.len(), set.channels, set.height, set.width),
        (12, 3, 32, 32)
    );
    assert_eq!(set.labels[11], 1);
    assert_eq!(
        set.image(2)[1024],
        ((2 + 1024) % 256) as u8,
        "green plane starts at 1024"
    );
    let short = write(d.path(), "short.bin", &cifar_bytes(2)[..3073 * 2 - 5]);
    let err = read_cifar_batch(&short).unwrap_err();
    assert!(
        matches!(&err, DataError::Format { path, problem } if path.ends_with("short.bin") && problem.contains("multiple of the 3073")),
        "{err}"
    );
    let mut bad = cifar_bytes(3);
    bad[3073] = 10;
    let badp = write(d.path(), "bad.bin", bad);
    assert!(read_cifar_batch(&badp)
        .unwrap_err()
        .to_string()
        .contains("record 1 has label 10"));

    let root = d.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&root).unwrap();
    for (k, name) in dasvdd_data::cifar::CIFAR_TRAIN_FILES.iter().enumerate() {
        write(&root, name, cifar_bytes(10 + k));
    }
    write(&root, "test_batch.bin", cifar_bytes(10));
    let (train, test) = load_cifar10_dir(d.path()).unwrap();
    assert_eq!((train.len(), test.len()), (60, 10));
}

#[test]
fn writes_into_a_missing_folder_name_the_folder_not_a_temporary_file() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("missing").join("scores.csv");
    let e = dasvdd_data::fileio::write_atomic(&path, b"score\n1\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("scores.csv") && e.contains("missing does not exist") && !e.contains(".dasvdd-"),
        "{e}"
    );
    let file = d.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let e = dasvdd_data::fileio::write_atomic(&file.join("scores.csv"), b"1\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("a-file is not a folder") && !e.contains(".dasvdd-"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn a_device_is_not_read_as_a_file() {
    for e in [
        dasvdd_data::fileio::read_bytes(std::path::Path::new("/dev/zero")).unwrap_err(),
        read_csv(std::path::Path::new("/dev/zero"), &CsvOptions::default()).unwrap_err(),
    ] {
        let e = e.to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("a device, not a file"),
            "{e}"
        );
    }
}

#[test]
fn csv_columns_by_name_or_number_blanks_quotes_and_hints() {
    let p = std::path::Path::new("t.csv");
    let given = |s: &str| ColumnRef::Given(s.into());
    // Dropped and labelled by header name or by number from 1; the labels kept as written.
    let opts = CsvOptions {
        drop: vec![given("id")],
        label: LabelSource::Column(given("4")),
        ..Default::default()
    };
    let t = parse_csv(p, "id,x,y,lab\n1,0.5,2,normal\n2,0.25,3,anomaly\n", &opts).unwrap();
    assert_eq!((t.x.rows, t.x.cols), (2, 2));
    assert_eq!(t.x.data, [0.5, 2.0, 0.25, 3.0]);
    assert_eq!(t.names.unwrap(), ["x", "y"]);
    let cells: Vec<(u64, String)> = vec![(2, "normal".into()), (3, "anomaly".into())];
    assert_eq!(t.label_cells.unwrap(), cells);
    // A column that counts the rows is used but warned about, with the fix.
    let t = parse_csv(p, "1,5\n2,7\n3,6\n", &CsvOptions::default()).unwrap();
    assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
    assert!(
        t.warnings[0].contains("column 1 counts the rows"),
        "{:?}",
        t.warnings
    );
    // Blanks, detected or given: any run of spaces and tabs.
    let t = parse_csv(p, "  1.5  2   3\n4 5 6\n", &CsvOptions::default()).unwrap();
    assert_eq!((t.x.rows, t.x.cols), (2, 3));
    let blanks = CsvOptions {
        delimiter: Delimiter::Blanks,
        ..Default::default()
    };
    let t = parse_csv(p, "1.5 \t2\t 3\n4 5 6\n", &blanks).unwrap();
    assert_eq!(t.x.data, [1.5, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // A byte order mark (Excel's UTF-8 CSV) is not part of the first cell, with any separator.
    for (text, opts) in [
        ("\u{feff}1.5 2\r\n3 4\r\n", &blanks),
        ("\u{feff}1.5,2\r\n3,4\r\n", &CsvOptions::default()),
    ] {
        assert_eq!(
            parse_csv(p, text, opts).unwrap().x.data,
            [1.5, 2.0, 3.0, 4.0]
        );
    }
    let t = parse_csv(p, "\u{feff}a;b\n1;2\n", &CsvOptions::default()).unwrap();
    assert_eq!(t.names.unwrap(), ["a", "b"]);
    // RFC 4180 quoting: a separator and a line break inside quotes; the rows after a quoted
    // line break are still named by their line in the file.
    let opts = CsvOptions {
        delimiter: Delimiter::Char(b';'),
        label: LabelSource::Column(ColumnRef::Last),
        ..Default::default()
    };
    let text = "a;b;l\n\"1\";\"2\";\"x\ny\"\n3;oops;0\n";
    let e = parse_csv(p, text, &opts).unwrap_err().to_string();
    assert!(
        e.starts_with("t.csv: row 4, column 2 (`b`): non-numeric cell `oops`"),
        "{e}"
    );
    // A quote never closed swallows the rows after it: said so, at the row where it opens.
    for text in ["a,b\n\"1,2\n3,4\n5,6\n", "a,b\n1,2\n3,\"4\n5,6\n7,8\n"] {
        let e = parse_csv(p, text, &CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("runs over 3 lines") && e.contains("closing `\"` missing"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
    // Control characters in a cell are escaped in messages.
    let e = parse_csv(p, "a,b\n1,x\ty\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`x\\ty`"), "{e}");
    // Another separator inside the cells gets a hint naming the option as the caller calls it.
    let opts = CsvOptions {
        delimiter: Delimiter::Char(b','),
        option_names: OptionNames {
            delimiter: "--delimiter",
            drop: "--drop-cols",
            label: "--label-col",
            header_present: "--header yes",
            decimal_comma: "--decimal-comma",
        },
        ..Default::default()
    };
    let e = parse_csv(p, "a;b\n1;2\n", &opts).unwrap_err().to_string();
    assert!(e.contains("pass --delimiter ';'"), "{e}");
    // A decimal comma under `;` gets both readings.
    let detected = CsvOptions {
        delimiter: Delimiter::Auto,
        ..opts.clone()
    };
    let e = parse_csv(p, "a;b\n1,5;2\n", &detected)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`1,5`")
            && e.contains("pass --decimal-comma")
            && e.contains("with a point, 1.5")
            && e.contains("--delimiter ','"),
        "{e}"
    );
    // A column that is not there, by number or by name.
    let opts = |c: &str| CsvOptions {
        drop: vec![given(c)],
        ..Default::default()
    };
    let e = parse_csv(p, "a,b\n1,2\n", &opts("3"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("3: the file has 2 columns"), "{e}");
    let e = parse_csv(p, "a,b\n1,2\n", &opts("c"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`c`: no such column; the header has `a, b`"),
        "{e}"
    );
    // Every column dropped or labelled leaves nothing to learn from.
    let e = parse_csv(
        p,
        "a,b\n1,2\n",
        &CsvOptions {
            drop: vec![given("a"), given("b")],
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no feature columns"), "{e}");
    // Delimiters as users write them.
    assert_eq!("tab".parse::<Delimiter>(), Ok(Delimiter::Char(b'\t')));
    assert_eq!("space".parse::<Delimiter>(), Ok(Delimiter::Blanks));
    assert_eq!("|".parse::<Delimiter>(), Ok(Delimiter::Char(b'|')));
    assert!("\"".parse::<Delimiter>().is_err());
    assert!("ab".parse::<Delimiter>().is_err());
    assert!("§".parse::<Delimiter>().is_err());
}

#[test]
fn csv_that_is_not_text_is_an_error_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "bin.csv", b"1,2\n\xff\xfe,3\n");
    let err = read_csv(&p, &CsvOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format { path, problem } if path.ends_with("bin.csv") && problem.contains("not UTF-8")),
        "{err}"
    );
}
