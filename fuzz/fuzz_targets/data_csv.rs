//! Fuzz target: the CSV reader of user data (the one behind the command line): no labels,
//! labels in the last column, columns dropped and labelled by name or number with the
//! separator given as blanks or `;`, the header and the decimal comma as a caller may set them,
//! and the file read as a label file.
#![no_main]

use dasvdd_data::tabular::{
    parse_csv, read_csv, read_label_file, ColumnRef, CsvOptions, Delimiter, Header, LabelSource,
};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let p = dasvdd_fuzz::scratch_file("fuzz.csv", data);
        let _ = read_csv(&p, &CsvOptions::default());
        let last = CsvOptions {
            label: LabelSource::Column(ColumnRef::Last),
            ..CsvOptions::default()
        };
        let _ = read_csv(&p, &last);
        let _ = read_label_file(&p);
        if let Ok(text) = std::str::from_utf8(data) {
            for delimiter in [Delimiter::Blanks, Delimiter::Char(b';')] {
                let opts = CsvOptions {
                    delimiter,
                    drop: vec![ColumnRef::Given("1".into()), ColumnRef::Given("id".into())],
                    label: LabelSource::Column(ColumnRef::Given("label".into())),
                    ..CsvOptions::default()
                };
                let _ = parse_csv(&p, text, &opts);
            }
            for (header, decimal_comma) in [(Header::Present, true), (Header::Absent, false)] {
                let opts = CsvOptions {
                    header,
                    decimal_comma,
                    ..CsvOptions::default()
                };
                let _ = parse_csv(&p, text, &opts);
            }
        }
    });
});
