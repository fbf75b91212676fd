//! Splitting lines without csv-core gives every record exactly as csv-core
//! gives it: the same fields, raw text, line, and oversized verdict.

use proptest::prelude::*;

use super::splitter::{Record, Splitter};
use crate::contract::CsvOptions;

#[derive(Debug, PartialEq)]
struct Split {
    line: u64,
    raw: Vec<u8>,
    raw_len: usize,
    oversized: bool,
    blank: bool,
    fields: Vec<Vec<u8>>,
}

fn split_all(
    bytes: &[u8],
    opts: CsvOptions,
    max: usize,
    chunk: usize,
    core_only: bool,
) -> Vec<Split> {
    let mut splitter = Splitter::new(bytes, opts, 0, max).with_chunk(chunk);
    if core_only {
        splitter = splitter.csv_core_only();
    }
    let mut rec = Record::new();
    let mut out = Vec::new();
    while let Some((view, line)) = splitter.next(&mut rec).unwrap() {
        out.push(Split {
            line,
            raw: view.raw.to_vec(),
            raw_len: view.raw_len,
            oversized: view.oversized,
            blank: view.is_blank(),
            fields: (0..view.len())
                .map(|i| view.field(i).unwrap().to_vec())
                .collect(),
        });
    }
    out
}

fn opts(delimiter: u8, quote: u8) -> CsvOptions {
    CsvOptions {
        header: true,
        delimiter,
        quote,
        newlines_in_values: true,
    }
}

/// Text made of the bytes that matter to splitting, plus plain and multi-byte text.
fn csv_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => Just(b"ab".to_vec()),
        3 => Just(b",".to_vec()),
        2 => Just(b"\"".to_vec()),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b" ".to_vec()),
        1 => Just("é".as_bytes().to_vec()),
        1 => Just(b"\"x, y\"".to_vec()),
        1 => Just(b"\xef\xbb\xbf".to_vec()),
        1 => Just(vec![b'z'; 40]),
    ];
    proptest::collection::vec(piece, 0..120).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn lines_split_without_csv_core_come_out_as_csv_core_splits_them(
        text in csv_text(),
        chunk in prop_oneof![Just(7usize), Just(64), Just(super::splitter::CHUNK)],
        max in prop_oneof![Just(48usize), Just(1 << 20)],
    ) {
        let o = opts(b',', b'"');
        let reference = split_all(&text, o, max, chunk, true);
        prop_assert_eq!(split_all(&text, o, max, chunk, false), reference);
    }
}

#[test]
fn a_byte_order_mark_is_stripped_from_the_first_record_only() {
    let text = b"\xef\xbb\xbfa,b\n\xef\xbb\xbfc,d\n";
    let fast = split_all(text, opts(b',', b'"'), 1 << 20, 1024, false);
    assert_eq!(fast, split_all(text, opts(b',', b'"'), 1 << 20, 1024, true));
    assert_eq!(fast[0].fields, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(fast[1].fields[0], b"\xef\xbb\xbfc".to_vec());
}

#[test]
fn other_delimiters_and_quotes_split_alike() {
    let text = b"h1\th2\n'a\tb'\tc\nd\t'e''f'\n'g\nh'\ti\n";
    let o = opts(b'\t', b'\'');
    let fast = split_all(text, o, 1 << 20, 1024, false);
    assert_eq!(fast, split_all(text, o, 1 << 20, 1024, true));
    assert_eq!(fast[1].fields, vec![b"a\tb".to_vec(), b"c".to_vec()]);
    assert_eq!(fast[3].fields, vec![b"g\nh".to_vec(), b"i".to_vec()]);
}
