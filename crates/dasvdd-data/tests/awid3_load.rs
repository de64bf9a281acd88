//! AWID3 CSV loading on generated folder trees: column decisions (text dropped, hex kept),
//! missing cells, labels, max_rows and seeded sampling, header checks, and every truncation
//! and byte flip of a file.

use std::path::Path;

use dasvdd_data::awid3::{load, load_with_columns, Awid3Options, MissingValue};
use dasvdd_data::DataError;

const HEADER: &str =
    "frame.len,wlan.fc.type,wlan.sa,wlan.flags,radiotap.dbm,wlan.ssid,empty.col,Label\n";

/// 4 rows each; the SSID column has text in one row only, the MAC column in all.
const FILE_A: &str = "\
100,0,aa:bb:cc:dd:ee:01,0x00000002,-40,,,Normal
200,1,aa:bb:cc:dd:ee:02,0x0000000a,?,,?,Deauth
150,2,aa:bb:cc:dd:ee:03,0x00000000,-50,,,Normal
120,0,aa:bb:cc:dd:ee:04,,-45,,,Normal
";
const FILE_B: &str = "\
300,2,aa:bb:cc:dd:ee:05,0x10,-60,\"my, ssid\",,Evil_Twin
50,1,aa:bb:cc:dd:ee:06,0x1,-30,,,Normal
75,1,?,0x2,-35,7,,Krack
80,0,aa:bb:cc:dd:ee:08,0x3,-36,,,Normal
";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn tree(root: &Path) {
    write(
        &root.join("b/c/2.csv"),
        &format!("{HEADER}{FILE_B}").replace('\n', "\r\n"),
    );
    write(&root.join("a/1.csv"), &format!("{HEADER}{FILE_A}"));
    write(&root.join("a/notes.txt"), "not a csv");
}

#[test]
fn loads_a_tree_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let d = load_with_columns(dir.path(), &Awid3Options::default()).unwrap();
    assert_eq!(
        d.columns,
        ["frame.len", "wlan.fc.type", "wlan.flags", "radiotap.dbm"]
    );
    let x = &d.data.x;
    assert_eq!((x.rows, x.cols), (8, 4));
    assert_eq!(x.row(0), &[100.0, 0.0, 2.0, -40.0]);
    assert_eq!(x.row(1), &[200.0, 1.0, 10.0, 0.0]);
    assert_eq!(x.row(3), &[120.0, 0.0, 0.0, -45.0]);
    assert_eq!(x.row(4), &[300.0, 2.0, 16.0, -60.0]);
    assert_eq!(d.data.y, [0, 1, 0, 0, 1, 0, 1, 0]);
    assert!(d.data.groups.is_none());

    let mean = Awid3Options {
        missing: MissingValue::ColumnMean,
        ..Default::default()
    };
    let m = load(dir.path(), &mean).unwrap();
    let dbm_mean = (-40.0 - 50.0 - 45.0 - 60.0 - 30.0 - 35.0 - 36.0) / 7.0;
    assert!((m.x.row(1)[3] - dbm_mean).abs() < 1e-5);
    let flags_mean = (2.0 + 10.0 + 0.0 + 16.0 + 1.0 + 2.0 + 3.0) / 7.0;
    assert!((m.x.row(3)[2] - flags_mean).abs() < 1e-5);

    // One file as root.
    let one = load(&dir.path().join("a/1.csv"), &Awid3Options::default()).unwrap();
    assert_eq!(one.x.rows, 4);
}

#[test]
fn max_rows_and_seeded_sample() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let all = load(dir.path(), &Awid3Options::default()).unwrap();
    let first = load(
        dir.path(),
        &Awid3Options {
            max_rows: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(first.x.rows, 5);
    assert_eq!(first.y, all.y[..5]);
    assert_eq!(first.x.row(4), all.x.row(4));

    let opts = Awid3Options {
        sample: Some(3),
        seed: 7,
        ..Default::default()
    };
    let s = load(dir.path(), &opts).unwrap();
    assert_eq!(s.x.rows, 3);
    assert_eq!(s, load(dir.path(), &opts).unwrap());
    // Every sampled row is a row of the full load, in file order.
    let mut last = None;
    for r in s.x.row_iter() {
        let i = all
            .x
            .row_iter()
            .position(|a| a == r)
            .expect("sampled row not in the data");
        assert!(last.is_none_or(|l| i > l));
        last = Some(i);
    }
    let differs = (0..20).any(|seed| {
        load(
            dir.path(),
            &Awid3Options {
                seed,
                ..opts.clone()
            },
        )
        .unwrap()
            != s
    });
    assert!(differs);
    let big = load(
        dir.path(),
        &Awid3Options {
            sample: Some(100),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(big, all);
}

fn problem(r: Result<impl std::fmt::Debug, DataError>, file: &Path) -> String {
    match r {
        Err(DataError::Format { path, problem }) => {
            assert_eq!(path, file);
            problem
        }
        other => panic!(
            "expected a format error naming {}, got {other:?}",
            file.display()
        ),
    }
}

#[test]
fn header_and_cell_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let second = dir.path().join("b/c/2.csv");
    write(
        &second,
        &format!("{}{FILE_B}", HEADER.replace("wlan.flags", "wlan.flag")),
    );
    let msg = problem(load(dir.path(), &Awid3Options::default()), &second);
    assert!(
        msg.contains("header differs") && msg.contains("column 4"),
        "{msg}"
    );
    write(
        &second,
        &format!("{}{FILE_B}", HEADER.replace("Label", "Class")),
    );
    assert!(
        problem(load(dir.path(), &Awid3Options::default()), &second).contains("no Label column")
    );

    let f = dir.path().join("x.csv");
    write(&f, &format!("{}{FILE_A}", HEADER.replace("Label", "label")));
    assert!(problem(load(&f, &Awid3Options::default()), &f).contains("no Label column"));
    write(&f, &format!("{HEADER}1,2,x,0x1,3,,,?\n"));
    assert!(problem(load(&f, &Awid3Options::default()), &f).contains("line 2: missing label"));
    for bad in ["inf", "NaN", "1e999"] {
        write(&f, &format!("{HEADER}1,2,x,0x1,{bad},,,Normal\n"));
        let msg = problem(load(&f, &Awid3Options::default()), &f);
        assert!(
            msg.contains("radiotap.dbm") && msg.contains("not a finite"),
            "{msg}"
        );
    }
    write(&f, &format!("{HEADER}1,2,x,0x1,3,,Normal\n"));
    assert!(
        problem(load(&f, &Awid3Options::default()), &f).contains("7 fields where the header has 8")
    );
    write(&f, HEADER);
    assert!(matches!(
        load(&f, &Awid3Options::default()),
        Err(DataError::Format { .. })
    ));
    write(&f, "");
    assert!(problem(load(&f, &Awid3Options::default()), &f).contains("empty file"));
    let empty_dir = dir.path().join("nothing");
    std::fs::create_dir_all(&empty_dir).unwrap();
    assert!(load(&empty_dir, &Awid3Options::default()).is_err());
    assert!(matches!(
        load(&dir.path().join("missing"), &Awid3Options::default()),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn truncation_is_an_error_except_at_a_row_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.csv");
    let text = format!("{HEADER}{FILE_A}");
    let bytes = text.as_bytes();
    for cut in 0..=bytes.len() {
        write(&f, std::str::from_utf8(&bytes[..cut]).unwrap());
        let r = load(&f, &Awid3Options::default());
        let at_row_end = cut > HEADER.len() && bytes[cut - 1] == b'\n';
        // A last row without its line break is taken when its label was seen on an earlier
        // row: FILE_A's third and fourth rows (Normal, as the first), not its first two.
        let body = &text[HEADER.len()..cut.max(HEADER.len())];
        let complete_row = cut > HEADER.len() && cut < bytes.len() && bytes[cut] == b'\n';
        let label_seen = body.rsplit_once(',').is_some_and(|(before, label)| {
            before.lines().any(|l| l.ends_with(&format!(",{label}")))
        });
        if at_row_end || (complete_row && label_seen) {
            let rows = body.lines().count();
            assert_eq!(r.unwrap().x.rows, rows, "cut at {cut}");
        } else {
            assert!(
                matches!(&r, Err(DataError::Format { path, .. }) if path == &f),
                "cut at {cut}: {r:?}"
            );
        }
    }
}

#[test]
fn a_file_without_its_final_line_break_is_read_whole_or_to_max_rows() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.csv");
    let text = format!("{HEADER}{FILE_A}");
    write(&f, text.trim_end());
    for (max_rows, rows) in [
        (None, 4),
        (Some(2), 2),
        (Some(3), 3),
        (Some(4), 4),
        (Some(9), 4),
    ] {
        let opts = Awid3Options {
            max_rows,
            ..Default::default()
        };
        assert_eq!(
            load(&f, &opts).unwrap().x.rows,
            rows,
            "max_rows {max_rows:?}"
        );
    }
    // A last row whose label is new is taken for a cut one, and named.
    let cut = format!("{}Krack", text.trim_end().strip_suffix("Normal").unwrap());
    write(&f, &cut);
    let msg = problem(load(&f, &Awid3Options::default()), &f);
    assert!(msg.contains("line 5") && msg.contains("\"Krack\""), "{msg}");
}

#[test]
fn flipped_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.csv");
    let text = format!("{HEADER}{FILE_B}");
    for pos in 0..text.len() {
        let mut b = text.clone().into_bytes();
        b[pos] ^= 0xff;
        std::fs::write(&f, &b).unwrap();
        match load(&f, &Awid3Options::default()) {
            Ok(d) => assert!(d.x.rows <= 4 && d.x.cols <= 7, "flip at {pos}"),
            Err(e) => assert!(
                matches!(&e, DataError::Format { path, .. } if path == &f),
                "flip at {pos}: {e}"
            ),
        }
    }
}

#[test]
fn nan_and_inf_words_in_text_columns_are_text() {
    // An SSID or a MAC column whose cell reads `nan` or `Infinity` is a text column like any
    // other: dropped, not an error. The same word in a numeric column is an error (above).
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.csv");
    let rows = "\
100,0,nan,0x00000002,-40,Infinity,,Normal
200,1,aa:bb:cc:dd:ee:02,0x0000000a,?,my net,?,Deauth
150,2,aa:bb:cc:dd:ee:03,0x00000000,-50,1e999,,Normal
120,0,aa:bb:cc:dd:ee:04,,-45,NaN,,Normal
";
    write(&f, &format!("{HEADER}{rows}"));
    let d = load_with_columns(&f, &Awid3Options::default()).unwrap();
    assert_eq!(
        d.columns,
        ["frame.len", "wlan.fc.type", "wlan.flags", "radiotap.dbm"]
    );
    assert!(d.data.x.data.iter().all(|v| v.is_finite()));
    // Without text elsewhere in it, the column is numeric and its `1e999` an error.
    write(
        &f,
        &format!(
            "{HEADER}{}",
            FILE_A.replacen(",,,Normal", ",1e999,,Normal", 1)
        ),
    );
    let msg = problem(load(&f, &Awid3Options::default()), &f);
    assert!(
        msg.contains("wlan.ssid") && msg.contains("line 2") && msg.contains("not a finite"),
        "{msg}"
    );
}

#[test]
fn hidden_files_in_a_tree_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let before = load(dir.path(), &Awid3Options::default()).unwrap();
    write(
        &dir.path().join("a/._1.csv"),
        "\u{0}\u{5}\u{16}\u{7}Mac OS X",
    );
    assert_eq!(load(dir.path(), &Awid3Options::default()).unwrap(), before);
}

#[test]
fn boolean_fields_are_read_as_one_and_zero() {
    // Recent tshark versions print boolean fields as `True`/`False`; pandas reads them as
    // booleans. Such a column is kept, as 1 and 0 (empty cells stay missing).
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("1.csv"),
        "frame.len,wlan.fc.retry,tcp.flags.syn,Label\n\
         100,True,false,Normal\n\
         200,False,TRUE,Deauth\n\
         150,,False,Normal\n",
    );
    let d = load_with_columns(dir.path(), &Awid3Options::default()).unwrap();
    assert_eq!(d.columns, ["frame.len", "wlan.fc.retry", "tcp.flags.syn"]);
    assert_eq!(
        d.data.x.data,
        [100.0, 1.0, 0.0, 200.0, 0.0, 1.0, 150.0, 0.0, 0.0]
    );
}
