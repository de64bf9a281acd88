//! The `dasvdd` command line: train a detector on normal data, score new data, evaluate scores.

fn main() {}
