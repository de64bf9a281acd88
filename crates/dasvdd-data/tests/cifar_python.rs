//! CIFAR-10's Python version: batches written here opcode for opcode as Python 2's `cPickle`
//! writes a dict holding a NumPy array (protocols 2 and 0), read the same as the binary version
//! of the same images; and every truncation, flipped byte and wrong entry an error naming the
//! file. (Batches pickled by Python 3's `pickle` and NumPy itself, at protocols 2 to 5, are read
//! end to end by `crates/dasvdd-py/tests/test_cifar_python.py`.)

mod common;

use std::path::Path;

use common::write;

use dasvdd_data::cifar::{
    find_cifar_dir, load_cifar10_dir, parse_cifar_python_batch, CifarFormat, CIFAR_PY_TEST_FILE,
    CIFAR_PY_TRAIN_FILES, CIFAR_TEST_FILE, CIFAR_TRAIN_FILES,
};
use dasvdd_data::DataError;

const PER_IMAGE: usize = 3072;

/// `n` images whose bytes run through every value 0..255 (quotes, backslashes and newlines
/// included), and their labels.
fn images(n: usize, salt: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels = (0..n * PER_IMAGE)
        .map(|i| ((i * 7 + salt * 13) % 256) as u8)
        .collect();
    let labels = (0..n).map(|i| ((i * 3 + salt) % 10) as u8).collect();
    (pixels, labels)
}

/// The binary version's records of the same images.
fn binary_batch(pixels: &[u8], labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        out.push(l);
        out.extend_from_slice(&pixels[i * PER_IMAGE..(i + 1) * PER_IMAGE]);
    }
    out
}

/// A Python 2 `str` at protocol 2: SHORT_BINSTRING or BINSTRING.
fn p2_str(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() < 256 {
        out.push(b'U');
        out.push(s.len() as u8);
    } else {
        out.push(b'T');
        out.extend_from_slice(&(s.len() as i32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// An int at protocol 2: BININT1, BININT2 or BININT, as `cPickle` picks.
fn p2_int(out: &mut Vec<u8>, v: i64) {
    if (0..256).contains(&v) {
        out.extend_from_slice(&[b'K', v as u8]);
    } else if (0..65536).contains(&v) {
        out.push(b'M');
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else {
        out.push(b'J');
        out.extend_from_slice(&(v as i32).to_le_bytes());
    }
}

/// `cPickle.dump({'batch_label': ..., 'labels': [...], 'data': array, 'filenames': [...]}, f, 2)`
/// as Python 2.7 with NumPy writes it: the dict's items in one SETITEMS, the lists in APPENDS
/// of up to 1,000 items, the array rebuilt by `numpy.core.multiarray._reconstruct` and BUILD.
fn protocol2_batch(pixels: &[u8], labels: &[u8]) -> Vec<u8> {
    protocol2_array(pixels, labels, pixels.len() / PER_IMAGE, PER_IMAGE)
}

/// The same with the array's shape given.
fn protocol2_array(pixels: &[u8], labels: &[u8], n: usize, cols: usize) -> Vec<u8> {
    let mut memo = 0u8;
    let mut put = |out: &mut Vec<u8>| {
        memo += 1;
        out.extend_from_slice(&[b'q', memo]);
    };
    let mut o = vec![0x80, 2, b'}'];
    put(&mut o);
    o.push(b'(');
    p2_str(&mut o, b"batch_label");
    put(&mut o);
    p2_str(&mut o, b"training batch 1 of 5");
    put(&mut o);
    p2_str(&mut o, b"labels");
    put(&mut o);
    o.push(b']');
    put(&mut o);
    for chunk in labels.chunks(1000) {
        o.push(b'(');
        for &l in chunk {
            p2_int(&mut o, i64::from(l));
        }
        o.push(b'e');
    }
    p2_str(&mut o, b"data");
    put(&mut o);
    o.extend_from_slice(b"cnumpy.core.multiarray\n_reconstruct\n");
    put(&mut o);
    o.extend_from_slice(b"cnumpy\nndarray\n");
    put(&mut o);
    o.extend_from_slice(&[b'K', 0, 0x85]);
    p2_str(&mut o, b"b");
    o.push(0x87);
    o.push(b'R');
    put(&mut o);
    o.push(b'(');
    p2_int(&mut o, 1);
    p2_int(&mut o, n as i64);
    p2_int(&mut o, cols as i64);
    o.push(0x86);
    o.extend_from_slice(b"cnumpy\ndtype\n");
    put(&mut o);
    p2_str(&mut o, b"u1");
    o.extend_from_slice(&[b'K', 0, b'K', 1, 0x87, b'R']);
    put(&mut o);
    o.push(b'(');
    p2_int(&mut o, 3);
    p2_str(&mut o, b"|");
    o.extend_from_slice(b"NNN");
    o.extend_from_slice(&[b'J', 0xff, 0xff, 0xff, 0xff, b'J', 0xff, 0xff, 0xff, 0xff]);
    p2_int(&mut o, 0);
    o.extend_from_slice(b"tb");
    o.push(0x89);
    p2_str(&mut o, pixels);
    o.extend_from_slice(b"tb");
    p2_str(&mut o, b"filenames");
    put(&mut o);
    o.push(b']');
    put(&mut o);
    o.push(b'(');
    for i in 0..labels.len() {
        p2_str(&mut o, format!("image_{i:05}.png").as_bytes());
    }
    o.extend_from_slice(b"eu.");
    o
}

/// Python 2's `repr` of a `str`, as protocol 0's STRING writes it.
fn py2_repr(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'\'');
    out
}

/// The same dict at protocol 0 (`cPickle.dump(d, f)`, the text protocol): every argument a
/// line of text, PUT with decimal memo keys, the pixels a `repr`-escaped STRING.
fn protocol0_batch(pixels: &[u8], labels: &[u8]) -> Vec<u8> {
    let mut memo = 0;
    let mut put = |out: &mut Vec<u8>| {
        memo += 1;
        out.extend_from_slice(format!("p{memo}\n").as_bytes());
    };
    let mut o = b"(dp0\n".to_vec();
    o.extend_from_slice(b"S'labels'\n");
    put(&mut o);
    o.extend_from_slice(b"(l");
    put(&mut o);
    for &l in labels {
        o.extend_from_slice(format!("I{l}\na").as_bytes());
    }
    o.extend_from_slice(b"sS'data'\n");
    put(&mut o);
    o.extend_from_slice(b"cnumpy.core.multiarray\n_reconstruct\n");
    put(&mut o);
    o.extend_from_slice(b"(cnumpy\nndarray\n");
    put(&mut o);
    o.extend_from_slice(b"(I0\ntS'b'\ntR");
    put(&mut o);
    o.extend_from_slice(format!("(I1\n(I{}\nI{PER_IMAGE}\nt", labels.len()).as_bytes());
    o.extend_from_slice(b"cnumpy\ndtype\n");
    put(&mut o);
    o.extend_from_slice(b"(S'u1'\nI0\nI1\ntR");
    put(&mut o);
    o.extend_from_slice(b"(I3\nS'|'\nNNNI-1\nI-1\nI0\ntbI00\nS");
    o.extend_from_slice(&py2_repr(pixels));
    o.extend_from_slice(b"\ntbs.");
    o
}

#[test]
fn python_batches_read_as_the_binary_ones() {
    for (protocol, pickle) in [
        (2, protocol2_batch as fn(&[u8], &[u8]) -> Vec<u8>),
        (0, protocol0_batch),
    ] {
        let d = tempfile::tempdir().unwrap();
        let py = d.path().join("py");
        let bin = d.path().join("bin");
        let py_dir = py.join("cifar-10-batches-py");
        std::fs::create_dir_all(&py_dir).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let names = CIFAR_TRAIN_FILES
            .iter()
            .zip(CIFAR_PY_TRAIN_FILES)
            .chain([(&CIFAR_TEST_FILE, CIFAR_PY_TEST_FILE)]);
        for (k, (bin_name, py_name)) in names.enumerate() {
            let (pixels, labels) = images(3 + k, k);
            write(&py_dir, py_name, pickle(&pixels, &labels));
            write(&bin, bin_name, binary_batch(&pixels, &labels));
        }
        assert_eq!(
            find_cifar_dir(&py),
            Some((py_dir.clone(), CifarFormat::Python))
        );
        let from_py = load_cifar10_dir(&py).unwrap();
        let from_bin = load_cifar10_dir(&bin).unwrap();
        assert_eq!(from_py, from_bin, "protocol {protocol}");
        assert_eq!(
            (from_py.0.len(), from_py.1.len()),
            (3 + 4 + 5 + 6 + 7, 8),
            "protocol {protocol}"
        );
        // A folder with both forms is read from the binary one.
        for name in CIFAR_TRAIN_FILES.iter().chain([&CIFAR_TEST_FILE]) {
            std::fs::copy(bin.join(name), py.join(name)).unwrap();
        }
        assert_eq!(find_cifar_dir(&py), Some((py.clone(), CifarFormat::Binary)));
    }
}

/// The problem of a format error, checking that it names `file`.
fn problem(err: DataError, file: &str) -> String {
    match err {
        DataError::Format { path, problem } if path.ends_with(file) => problem,
        other => panic!("not a format error naming {file}: {other}"),
    }
}

#[test]
fn every_truncation_is_an_error_naming_the_file() {
    let (pixels, labels) = images(1, 0);
    for pickle in [
        protocol2_batch(&pixels, &labels),
        protocol0_batch(&pixels, &labels),
    ] {
        let path = Path::new("data_batch_1");
        assert!(parse_cifar_python_batch(path, &pickle).is_ok());
        for cut in 0..pickle.len() - 1 {
            let err = parse_cifar_python_batch(path, &pickle[..cut])
                .expect_err(&format!("a batch cut at {cut} bytes loaded"));
            problem(err, "data_batch_1");
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let (pixels, labels) = images(2, 1);
    let good = protocol2_batch(&pixels, &labels);
    let path = Path::new("test_batch");
    // Every byte outside the pixels, set to every value that changes it: an error or a batch,
    // never a panic; where it loads, its shape is still CIFAR-10's.
    let start = good
        .windows(5)
        .position(|w| w == [b'T', 0, 0x18, 0, 0])
        .unwrap()
        + 5;
    let outside = (0..start).chain(start + pixels.len()..good.len());
    for i in outside {
        for v in [0u8, 1, 0x28, 0x2e, 0x7f, 0x80, 0xff] {
            if good[i] == v {
                continue;
            }
            let mut bad = good.clone();
            bad[i] = v;
            if let Ok(set) = parse_cifar_python_batch(path, &bad) {
                assert_eq!((set.channels, set.height, set.width), (3, 32, 32));
                assert_eq!(set.pixels.len(), set.len() * PER_IMAGE);
            }
        }
    }
}

#[test]
fn wrong_entries_are_named() {
    let path = Path::new("data_batch_2");
    let (pixels, labels) = images(2, 0);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // A label of 10.
        (
            protocol2_batch(&pixels, &[3, 10]),
            "image 1 has label 10, outside 0..9",
        ),
        // 3071 values per image.
        (
            protocol2_array(&pixels[..2 * 3071], &labels, 2, 3071),
            "shape [2, 3071], expected (n, 3072)",
        ),
        // CIFAR-100's keys.
        (
            {
                let p = protocol2_batch(&pixels, &labels);
                let at = p.windows(6).position(|w| w == b"labels").unwrap();
                let mut q = p[..at - 1].to_vec();
                q.push(11);
                q.extend_from_slice(b"fine_labels");
                q.extend_from_slice(&p[at + 6..]);
                q
            },
            "CIFAR-100",
        ),
        // float32 data.
        (
            {
                let mut p = protocol2_batch(&pixels, &labels);
                let at = p.windows(2).position(|w| w == b"u1").unwrap();
                p[at..at + 2].copy_from_slice(b"i1");
                p
            },
            "signed 1-byte values, expected uint8 pixels",
        ),
        // A pickle that would run a command.
        (
            b"\x80\x02cos\nsystem\nU\x02ls\x85R.".to_vec(),
            "calls os.system, which this reader does not run",
        ),
        // A list instead of a dict.
        (b"\x80\x02]q\x01.".to_vec(), "the pickle holds a list"),
        // Not a pickle at all.
        (b"\x00\x01\x02".to_vec(), "not a pickle opcode"),
    ];
    for (bytes, want) in cases {
        let got = problem(
            parse_cifar_python_batch(path, &bytes).unwrap_err(),
            "data_batch_2",
        );
        assert!(got.contains(want), "wanted '{want}' in: {got}");
    }
    // The three-labels case mismatches in count, not in shape.
    let got = problem(
        parse_cifar_python_batch(path, &protocol2_batch(&pixels, &[1, 2, 3])).unwrap_err(),
        "data_batch_2",
    );
    assert!(got.contains("3 labels for 2 images"), "{got}");
}

/// The input the fuzzer (`fuzz/run.sh 300 data_cifar_py`) found first: 419 bytes that made the
/// reader of commit fb3ebbc double a dict's memory with every two bytes (a dict BUILT with
/// itself). Now an error, in bounded memory.
const FUZZ_DICT_DOUBLING: [&str; 10] = [
    "80027d71012855d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3",
    "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3",
    "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3000000",
    "000000000793cd32323280027d7101287d7d7d7d7d7d7d7d7d7d7d7265636f6e737d7d7d7d7d7d7d7d7d7d7d",
    "6262626262626262626262626262626232626232323232323232323232323262626262623232323280027d71",
    "01287d7d7d7d7d7d7d7d7d7d7d7265636f6e737d7d7d7d7d7d7d7d7d7d7d6262626262626262626262626262",
    "6262326262323232323232323232323232626262626232323232323232323232323232323232323280027d71",
    "6262326262323232323232323232323232323232626262626232323232323232323232323232323232323280",
    "027d716262326262323232323232323232323232626262626232323232323232323232323232323232323232",
    "8680027d7168686868686862626271034b515187520771",
];

#[test]
fn the_fuzzers_inputs_are_errors() {
    let hex: String = FUZZ_DICT_DOUBLING.concat();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes.len(), 419);
    let got = problem(
        parse_cifar_python_batch(Path::new("data_batch_1"), &bytes).unwrap_err(),
        "data_batch_1",
    );
    assert!(got.contains("sets the state of a dict"), "{got}");
}
