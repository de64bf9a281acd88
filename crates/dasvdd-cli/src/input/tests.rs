//! Tests of the input readers: CSV delimiters, columns and labels, and score files.

use super::*;
use dasvdd_data::tabular::{detect_delimiter, Delimiter};

fn args() -> SourceArgs {
    SourceArgs {
        data: None,
        dataset: None,
        class: None,
        split: None,
        delimiter: None,
        header: None,
        decimal_comma: false,
        drop_cols: Vec::new(),
        label_col: None,
        pos_label: None,
        image_size: None,
        rgb: false,
    }
}

#[test]
fn delimiters_are_detected() {
    assert_eq!(detect_delimiter("a;b;c"), Delimiter::Char(b';'));
    assert_eq!(detect_delimiter("1\t2\t3"), Delimiter::Char(b'\t'));
    assert_eq!(detect_delimiter("1,2,3"), Delimiter::Char(b','));
    assert_eq!(detect_delimiter("1.5 2 3"), Delimiter::Blanks);
    assert_eq!(detect_delimiter("7"), Delimiter::Char(b','));
    // Auto-detection reads a semicolon file whose decimals have commas as two columns.
    let (x, _) = args()
        .parse_csv("t", "a;b\n1.5;2\n", &LabelRule::default())
        .unwrap();
    assert_eq!(x.data, [1.5, 2.0]);
}

#[test]
fn a_wrong_delimiter_gets_a_hint_and_long_cells_are_cut() {
    let mut a = args();
    a.delimiter = Some(",".into());
    let long: String = (0..400).map(|i| format!("{i};")).collect();
    let text = format!("a\n{long}\n");
    let e = a
        .parse_csv("semi.csv", &text, &LabelRule::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("semi.csv: row 2"), "{e}");
    assert!(e.contains("--delimiter ';'"), "{e}");
    assert!(e.len() < 300, "{e}");
}

#[test]
fn columns_are_dropped_and_labels_taken_by_name_or_number() {
    let mut a = args();
    a.drop_cols = vec!["id".into()];
    a.label_col = Some("4".into());
    let text = "id,x,y2,lab\n1,0.5,2,0\n2,0.25,3,1\n";
    let (x, y) = a.parse_csv("t", text, &LabelRule::default()).unwrap();
    assert_eq!((x.rows, x.cols), (2, 2));
    assert_eq!(x.data, [0.5, 2.0, 0.25, 3.0]);
    assert_eq!(y.unwrap(), [0, 1]);
    a.label_col = Some("nope".into());
    let e = a
        .parse_csv("t", text, &LabelRule::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope") && e.contains("id, x, y2, lab"), "{e}");
}

#[test]
fn header_says_whether_the_first_row_names_the_columns() {
    // pandas' header above integers: data by default (with a warning), a header with --header
    // yes, whose names then refer to the columns.
    let text = "0,1,2\n5,3,1\n4,4,2\n";
    let mut a = args();
    let (x, _) = a.parse_csv("t", text, &LabelRule::default()).unwrap();
    assert_eq!(x.rows, 3);
    a.header = Some("yes".into());
    a.drop_cols = vec!["1".into()];
    let t = a.parse_csv_table("t", text, &LabelRule::default()).unwrap();
    // The header's column named `1` (a name is looked up before a number), the second.
    assert_eq!((t.x.rows, t.x.data.clone()), (2, vec![5.0, 1.0, 4.0, 2.0]));
    assert_eq!(t.names.unwrap(), ["0", "2"]);
    // --header no: a row of names is bad data.
    let mut a = args();
    a.header = Some("no".into());
    let e = a
        .parse_csv("t", "a,b\n1,2\n", &LabelRule::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("row 1") && e.contains("non-numeric cell `a`"),
        "{e}"
    );
    // Not CSV: the flag does not apply.
    let mut a = args();
    a.header = Some("yes".into());
    let e = a.no_csv_options("x.npy").unwrap_err().to_string();
    assert!(e.contains("--header applies to CSV input"), "{e}");
}

#[test]
fn decimal_comma_reads_spreadsheet_numbers() {
    let text = "a;b\n1,5;2\n0,25;3,75\n";
    let e = args()
        .parse_csv("t", text, &LabelRule::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("pass --decimal-comma"), "{e}");
    let mut a = args();
    a.decimal_comma = true;
    let (x, _) = a.parse_csv("t", text, &LabelRule::default()).unwrap();
    assert_eq!(x.data, [1.5, 2.0, 0.25, 3.75]);
    let e = a.no_csv_options("x.mat").unwrap_err().to_string();
    assert!(e.contains("--decimal-comma applies to CSV input"), "{e}");
}

#[test]
fn score_files_with_a_prediction_column_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    std::fs::write(&p, "score,prediction\n0.5,1\n0.25,0\n").unwrap();
    assert_eq!(read_scores(&p).unwrap(), [0.5, 0.25]);
    std::fs::write(&p, "0.5\n-1\n").unwrap();
    assert_eq!(read_scores(&p).unwrap(), [0.5, -1.0]);
}

#[test]
fn pandas_headers_are_headers_and_f32_overflow_is_an_error() {
    // `pd.DataFrame(x).to_csv(index=False)`: columns named 0..n-1 above the values.
    let (x, _) = args()
        .parse_csv(
            "p.csv",
            "0,1,2\n0.5,1.5,2\n3,4.25,5\n",
            &LabelRule::default(),
        )
        .unwrap();
    assert_eq!((x.rows, x.cols), (2, 3));
    // ... with a named label column, taken by number.
    let mut a = args();
    a.label_col = Some("3".into());
    let (x, y) = a
        .parse_csv(
            "p.csv",
            "0,1,label\n0.5,1,0\n2,3,1\n",
            &LabelRule::default(),
        )
        .unwrap();
    assert_eq!((x.data, y.unwrap()), (vec![0.5, 1.0, 2.0, 3.0], vec![0, 1]));
    // Integer data whose first row is 0,1,2 stays data.
    let (x, _) = args()
        .parse_csv("i.csv", "0,1,2\n3,4,5\n", &LabelRule::default())
        .unwrap();
    assert_eq!(x.rows, 2);
    let e = args()
        .parse_csv("big.csv", "a,b\n1,2\n3,1e40\n", &LabelRule::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("big.csv: row 3, column 2 (`b`)") && e.contains("outside the f32 range"),
        "{e}"
    );
}

#[test]
fn pandas_series_headers_above_scores_are_headers() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    // `pd.Series(scores).to_csv(index=False)` writes `0` above the values.
    std::fs::write(&p, "0\n0.5\n0.25\n1e-3\n").unwrap();
    assert_eq!(read_scores(&p).unwrap(), [0.5, 0.25, 1e-3]);
    // Integer scores under no header keep their first value.
    std::fs::write(&p, "0\n2\n1\n").unwrap();
    assert_eq!(read_scores(&p).unwrap(), [0.0, 2.0, 1.0]);
}

#[test]
fn a_first_label_that_is_the_pos_label_is_a_value_not_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("l.csv");
    std::fs::write(&p, "anomaly\nnormal\nnormal\n").unwrap();
    let values = |v: Option<&str>| -> Vec<String> {
        read_column(&p, "label", v)
            .unwrap()
            .into_iter()
            .map(|(_, c)| c)
            .collect()
    };
    assert_eq!(values(Some("anomaly")), ["anomaly", "normal", "normal"]);
    // Without it, a unique first word reads as a column name.
    assert_eq!(values(None), ["normal", "normal"]);
}

#[test]
fn empty_files_header_only_files_and_single_rows() {
    let rule = LabelRule::default();
    let err = |text: &str| {
        args()
            .parse_csv("f.csv", text, &rule)
            .unwrap_err()
            .to_string()
    };
    assert!(err("").contains("f.csv: no data rows"), "{}", err(""));
    assert!(err("\n  \n").contains("f.csv: no data rows"));
    assert!(
        err("a,b\n").contains("only a header row"),
        "{}",
        err("a,b\n")
    );
    // One row without a header, one row after a header, blank lines anywhere.
    let (x, _) = args().parse_csv("f.csv", "1,2\n", &rule).unwrap();
    assert_eq!((x.rows, x.data.as_slice()), (1, [1.0, 2.0].as_slice()));
    let (x, _) = args()
        .parse_csv("f.csv", "a,b\n\n3,4\n\n5,6", &rule)
        .unwrap();
    assert_eq!(
        (x.rows, x.data.as_slice()),
        (2, [3.0, 4.0, 5.0, 6.0].as_slice())
    );
    // A bad row far down is named by its line in the file (blank lines counted).
    let e = err("a,b\n1,2\n\n3,x\n");
    assert!(
        e.contains("f.csv: row 4, column 2 (`b`): non-numeric cell"),
        "{e}"
    );
    let e = err("1,2\n3,4,5\n");
    assert!(e.contains("f.csv: row 2: 3 cells, expected 2"), "{e}");
}

#[test]
fn a_wide_first_row_above_many_blank_lines_reserves_no_more_than_the_text() {
    // 100,000 columns, then 100,000 blank lines, then a short row: the matrix must not reserve
    // a value per column and line (10^10 values) before finding the row's width wrong.
    let mut text = vec!["1"; 100_000].join(",");
    text.push_str(&"\n".repeat(100_000));
    text.push_str("1,2\n");
    let e = args()
        .parse_csv("wide.csv", &text, &LabelRule::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 cells, expected 100000"), "{e}");
}
