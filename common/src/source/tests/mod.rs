//! Reader tests: CSV splitting and header mapping, structural rejects, compressed
//! input, NDJSON and JSON arrays. Each test writes a small file to a temp dir and
//! reads it back with [`read_file`].

use floe_lake::storage::LocalStore;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::Array;
use arrow_schema::Field;

use super::*;
use crate::contract::Contract;
use crate::error::FloeError;
use crate::validate::Validator;

/// Columns used by most tests: a required id, two optional strings.
const COLUMNS: &str = r#"
[[columns]]
name = "id"
type = "long"
required = true

[[columns]]
name = "name"
type = "string"

[[columns]]
name = "note"
type = "string"
"#;

fn contract(format: &str, columns: &str) -> Contract {
    let text = format!(
        r#"
[pipeline]
name = "readers"
version = 1

[source]
location = "in/*"
format = "{format}"
compression = "auto"

[target]
table = "silver.readers"
quarantine_table = "silver.readers_q"
condemned_table = "silver.readers_c"

[limits]
max_record_bytes = 1024
{columns}"#
    );
    Contract::parse(&text, Path::new("readers.toml")).expect("test contract is valid")
}

fn csv_contract() -> Contract {
    contract("csv", COLUMNS)
}

/// A file in a temp dir that lives as long as the returned guard.
fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn read_path(path: &Path, contract: &Contract) -> (Vec<RawBatch>, FileStats) {
    let mut batches = Vec::new();
    let stats = read_file(
        &LocalStore,
        &path.to_string_lossy(),
        contract,
        1024,
        &mut |b| {
            batches.push(b);
            Ok(())
        },
    )
    .expect("read_file succeeds");
    (batches, stats)
}

fn read(contract: &Contract, name: &str, bytes: &[u8]) -> Vec<RawBatch> {
    let (_dir, path) = write(name, bytes);
    read_path(&path, contract).0
}

/// A parsed row: its line and the text of every contract column.
#[derive(Debug, PartialEq)]
struct Row {
    line: u64,
    raw: String,
    fields: Vec<Option<String>>,
}

fn rows(batches: &[RawBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let fields = b
                .columns
                .iter()
                .map(|c| c.is_valid(r).then(|| c.value(r).to_string()))
                .collect();
            out.push(Row {
                line: b.lines[r],
                raw: b.raw.value(r).to_string(),
                fields,
            });
        }
    }
    out
}

fn rejects(batches: &[RawBatch]) -> Vec<Reject> {
    batches.iter().flat_map(|b| b.rejects.clone()).collect()
}

fn f(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

fn assert_reason(reject: &Reject, needles: &[&str]) {
    let all = reject.reasons.join(" | ");
    for n in needles {
        assert!(all.contains(n), "reasons {all:?} should mention {n:?}");
    }
}

// ---------------------------------------------------------------- CSV

#[test]
fn a_quoted_field_keeps_commas_doubled_quotes_and_newlines_in_one_record() {
    let csv = "id,name,note\n1,\"a, \"\"b\"\"\nc\",x\n2,plain,y\n";
    let got = rows(&read(&csv_contract(), "q.csv", csv.as_bytes()));
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].fields,
        f(&[Some("1"), Some("a, \"b\"\nc"), Some("x")])
    );
    assert_eq!(got[0].line, 2);
    assert_eq!(got[0].raw, "1,\"a, \"\"b\"\"\nc\",x");
    assert_eq!(got[1].line, 4, "the embedded newline counts as a line");
    assert_eq!(got[1].raw, "2,plain,y");
}

#[test]
fn a_record_with_the_wrong_field_count_is_rejected_with_a_reason() {
    let batches = read(
        &csv_contract(),
        "n.csv",
        b"id,name,note\n1,a\n2,b,c,d\n3,c,z\n",
    );
    let rej = rejects(&batches);
    assert_eq!(rej.len(), 2);
    assert_eq!((rej[0].line, rej[0].raw.as_str()), (2, "1,a"));
    assert_reason(&rej[0], &["expected 3 fields", "found 2"]);
    assert_reason(&rej[1], &["expected 3 fields", "found 4"]);
    assert_eq!(rows(&batches)[0].line, 4);
}

#[test]
fn invalid_utf8_is_rejected_and_its_raw_text_kept_lossily() {
    let batches = read(
        &csv_contract(),
        "u.csv",
        b"id,name,note\n1,ab\xffcd,x\n2,ok,y\n",
    );
    let rej = rejects(&batches);
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].line, 2);
    assert_eq!(rej[0].raw, "1,ab\u{fffd}cd,x");
    assert_reason(&rej[0], &["invalid UTF-8", "`name`"]);
    assert_eq!(rows(&batches).len(), 1);
}

#[test]
fn an_oversized_record_is_rejected_and_the_next_record_still_parses() {
    let mid = "m".repeat(2000); // over the limit, within the field buffer
    let big = "b".repeat(5000); // over the field buffer too
    let csv = format!("id,name,note\n1,{mid},x\n2,{big},y\n3,ok,z\n");
    let batches = read(&csv_contract(), "big.csv", csv.as_bytes());
    let rej = rejects(&batches);
    assert_eq!(rej.len(), 2);
    for r in &rej {
        assert_reason(r, &["exceeds limits.max_record_bytes", "1024 bytes"]);
    }
    assert_eq!((rej[0].line, rej[1].line), (2, 3));
    assert!(rej[0].raw.starts_with("1,mmm"));
    assert!(rej[1].raw.len() <= RAW_TEXT_KEEP, "raw text is cut");
    assert!(rej[1].raw.starts_with("2,bbb"));
    let ok = rows(&batches);
    assert_eq!(ok.len(), 1);
    assert_eq!(
        (ok[0].line, ok[0].fields.clone()),
        (4, f(&[Some("3"), Some("ok"), Some("z")]))
    );
}

#[test]
fn blank_lines_are_skipped() {
    let batches = read(
        &csv_contract(),
        "b.csv",
        b"id,name,note\n1,a,x\n\n\n2,b,y\n",
    );
    assert!(rejects(&batches).is_empty());
    let got = rows(&batches);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].line, 2);
    assert_eq!(got[1].fields, f(&[Some("2"), Some("b"), Some("y")]));
}

#[test]

fn a_record_after_blank_lines_keeps_its_own_line_number_and_raw_text() {
    let got = rows(&read(
        &csv_contract(),
        "b.csv",
        b"id,name,note\n1,a,x\n\n\n2,b,y\n",
    ));
    assert_eq!((got[1].line, got[1].raw.as_str()), (5, "2,b,y"));
}

#[test]

fn crlf_line_endings_give_the_same_lines_and_raw_text_as_lf() {
    let got = rows(&read(
        &csv_contract(),
        "crlf.csv",
        b"id,name,note\r\n1,a,x\r\n2,b,y\r\n",
    ));
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].line, got[0].raw.as_str()), (2, "1,a,x"));
    assert_eq!((got[1].line, got[1].raw.as_str()), (3, "2,b,y"));
}

#[test]

fn a_header_longer_than_4096_bytes_does_not_panic() {
    let csv = format!("{}\n1,a,x\n", "h".repeat(5000));
    let (_dir, path) = write("long-header.csv", csv.as_bytes());
    let contract = csv_contract();
    let run = std::panic::catch_unwind(|| {
        read_file(
            &LocalStore,
            &path.to_string_lossy(),
            &contract,
            16,
            &mut |_| Ok(()),
        )
        .is_ok()
    });
    assert!(run.is_ok(), "read_file panicked on a 5000-byte header");
}

#[test]
fn header_columns_map_by_name_in_any_order() {
    let got = rows(&read(&csv_contract(), "o.csv", b"note,id,name\nx,1,a\n"));
    assert_eq!(got[0].fields, f(&[Some("1"), Some("a"), Some("x")]));
}

#[test]
fn a_missing_optional_column_reads_as_null() {
    let batches = read(&csv_contract(), "m.csv", b"name,id\na,1\n");
    assert_eq!(rows(&batches)[0].fields, f(&[Some("1"), Some("a"), None]));
    assert_eq!(
        batches[0].missing_columns,
        vec![None, None, Some("note".to_string())]
    );
}

#[test]
fn a_missing_required_column_quarantines_rows_saying_the_file_has_no_such_column() {
    let contract = csv_contract();
    let batches = read(&contract, "m.csv", b"name,note\na,x\n");
    let schema = crate::validate::contract_columns(&contract);
    let mut validator = Validator::new(Arc::new(contract), schema, None);
    let out = validator
        .validate(batches.into_iter().next().unwrap())
        .unwrap();
    assert_eq!(out.valid.num_rows(), 0);
    assert_reason(
        &out.quarantined[0],
        &["id: required, but the file has no such column"],
    );
}

#[test]
fn an_empty_file_gives_no_rows_and_no_error() {
    let (_dir, path) = write("empty.csv", b"");
    let (batches, stats) = read_path(&path, &csv_contract());
    assert!(batches.is_empty());
    assert_eq!(
        stats,
        FileStats {
            bytes: 0,
            records: 0,
            lines_after_range: None,
        }
    );
}

#[test]
fn a_header_only_file_gives_no_rows() {
    let (_dir, path) = write("h.csv", b"id,name,note\n");
    let (batches, stats) = read_path(&path, &csv_contract());
    assert_eq!(
        batches
            .iter()
            .map(|b| b.num_rows() + b.rejects.len())
            .sum::<usize>(),
        0
    );
    assert_eq!(stats.records, 0);
}

#[test]
fn a_last_record_without_a_newline_is_read() {
    let got = rows(&read(
        &csv_contract(),
        "t.csv",
        b"id,name,note\n1,a,x\n2,b,y",
    ));
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].raw, "2,b,y");
}

#[test]
fn batches_hold_at_most_batch_rows_records() {
    let csv: String = std::iter::once("id,name,note\n".to_string())
        .chain((1..=5).map(|i| format!("{i},n,x\n")))
        .collect();
    let (_dir, path) = write("five.csv", csv.as_bytes());
    let mut sizes = Vec::new();
    read_file(
        &LocalStore,
        &path.to_string_lossy(),
        &csv_contract(),
        2,
        &mut |b| {
            sizes.push(b.num_rows());
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(sizes, vec![2, 2, 1]);
}

const PLAIN: &[u8] = b"id,name,note\n1,a,x\n2,b,y\n";

#[test]
fn gzip_input_is_decompressed_by_its_extension() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(PLAIN).unwrap();
    let gz = enc.finish().unwrap();
    let (_dir, path) = write("in.csv.gz", &gz);
    let (batches, stats) = read_path(&path, &csv_contract());
    assert_eq!(rows(&batches).len(), 2);
    assert_eq!(
        stats,
        FileStats {
            bytes: gz.len() as u64,
            records: 2,
            lines_after_range: None,
        }
    );
}

#[test]
fn zstd_input_is_decompressed_by_its_extension() {
    let zst = zstd::encode_all(PLAIN, 3).unwrap();
    let (_dir, path) = write("in.csv.zst", &zst);
    let (batches, stats) = read_path(&path, &csv_contract());
    assert_eq!(
        rows(&batches)[1].fields,
        f(&[Some("2"), Some("b"), Some("y")])
    );
    assert_eq!(stats.bytes, zst.len() as u64);
}

#[test]
fn a_missing_file_is_an_input_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.csv");
    let err = read_file(
        &LocalStore,
        &path.to_string_lossy(),
        &csv_contract(),
        16,
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(matches!(err, FloeError::Input { .. }), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

mod hostile;
mod json;
mod nested_json;
mod parquet;
mod ranges;
