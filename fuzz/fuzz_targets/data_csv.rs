//! Fuzz target: the CSV reader of user data: no labels, labels in the last column, and the
//! file read as a label file.
#![no_main]

use dasvdd_data::tabular::{read_csv, read_label_file, ColumnRef, CsvOptions, LabelSource};
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
    });
});
