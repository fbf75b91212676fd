//! Files read in byte ranges give the rows and rejects of the whole file, with
//! its line numbers, whatever the cuts; compressed files and CSV that may hold
//! line breaks in values are refused.

use super::*;
use crate::source::{read_file_part, ByteRange, RangeRead};

/// Reads `ranges` in order; with `hand_on`, each range is told the line count
/// the one before it ended with, as a chain of tasks does.
fn read_ranges(
    path: &Path,
    contract: &Contract,
    ranges: &[ByteRange],
    hand_on: bool,
) -> Vec<RawBatch> {
    let mut batches = Vec::new();
    let mut lines = None;
    for range in ranges {
        let read = RangeRead {
            range: *range,
            lines_before: lines.filter(|_| hand_on),
        };
        let stats = read_file_part(
            &LocalStore,
            &path.to_string_lossy(),
            Some(read),
            contract,
            1024,
            &mut |b| {
                batches.push(b);
                Ok(())
            },
        )
        .expect("a range reads");
        lines = stats.lines_after_range;
    }
    batches
}

fn rows_and_rejects(batches: &[RawBatch]) -> (Vec<Row>, Vec<(u64, String)>) {
    let rejects = rejects(batches)
        .into_iter()
        .map(|r| (r.line, r.raw))
        .collect();
    (rows(batches), rejects)
}

fn assert_every_cut_reads_the_whole(contract: &Contract, name: &str, text: &str) {
    let (_dir, path) = write(name, text.as_bytes());
    let whole = rows_and_rejects(&read_path(&path, contract).0);
    assert!(!whole.0.is_empty() && !whole.1.is_empty(), "{whole:?}");
    let size = text.len() as u64;
    for pieces in 1..=size.min(12) {
        for hand_on in [false, true] {
            let ranges = ByteRange::split(size, pieces);
            let cut = rows_and_rejects(&read_ranges(&path, contract, &ranges, hand_on));
            assert_eq!(cut, whole, "{pieces} ranges, counts handed on: {hand_on}");
        }
    }
}

#[test]
fn ndjson_in_ranges_reads_as_the_whole_file() {
    let text = "{\"id\": 1, \"name\": \"a\"}\n\n{\"id\": 2, \"name\": \"b\"}\r\nnot json\n\
                {\"id\": 3, \"note\": \"x y\"}\n[1]\n{\"id\": 4}";
    assert_every_cut_reads_the_whole(&contract("ndjson", COLUMNS), "in.ndjson", text);
}

#[test]
fn csv_without_line_breaks_in_values_reads_in_ranges_as_whole() {
    let text = "id,name,note\r\n1,a,\"x, y\"\r\n2,b\r\n3,c,z\r\n\r\n4,\"d\"\"\",w\r\n5,e,f,g\r\n";
    let mut contract = csv_contract();
    contract.source.csv.newlines_in_values = false;
    assert_every_cut_reads_the_whole(&contract, "in.csv", text);
}

#[test]
fn a_range_of_a_compressed_file_or_of_csv_with_line_breaks_in_values_is_refused() {
    let range = Some(RangeRead {
        range: ByteRange { start: 0, end: 4 },
        lines_before: None,
    });
    let mut ndjson = contract("ndjson", COLUMNS);
    let (_dir, gz) = write("in.ndjson.gz", b"not read");
    let (_dir2, csv) = write("in.csv", b"id\n1\n");
    for (path, contract, needle) in [
        (&gz, &mut ndjson, "uncompressed NDJSON"),
        (&csv, &mut csv_contract(), "newlines_in_values = false"),
    ] {
        let err = read_file_part(
            &LocalStore,
            &path.to_string_lossy(),
            range,
            contract,
            16,
            &mut |_| Ok(()),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(needle), "{err}");
    }
}
