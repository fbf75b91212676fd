//! The NDJSON and JSON-array readers.

use super::*;

// ---------------------------------------------------------------- NDJSON

fn ndjson(text: &str) -> Vec<RawBatch> {
    read(&contract("ndjson", COLUMNS), "in.ndjson", text.as_bytes())
}

#[test]
fn ndjson_objects_become_rows_with_null_for_absent_and_null_values() {
    let got = rows(&ndjson(
        "{\"id\": 1, \"name\": \"a\", \"note\": null}\n\n{\"note\": \"x\", \"id\": 2}\n",
    ));
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].fields, f(&[Some("1"), Some("a"), None]));
    assert_eq!(
        (got[1].line, got[1].fields.clone()),
        (3, f(&[Some("2"), None, Some("x")]))
    );
    assert_eq!(got[1].raw, "{\"note\": \"x\", \"id\": 2}");
}

#[test]
fn an_ndjson_line_that_is_not_an_object_is_rejected() {
    let rej = rejects(&ndjson("[1, 2]\n\"text\"\n{\"id\": 1}\n"));
    assert_eq!(rej.len(), 2);
    assert_reason(&rej[0], &["expected a JSON object, found an array"]);
    assert_reason(&rej[1], &["found a string"]);
    assert_eq!(rej[1].line, 2);
}

#[test]
fn malformed_ndjson_is_rejected_and_later_lines_still_parse() {
    let batches = ndjson("{\"id\": 1,\n{\"id\": 2}\n");
    let rej = rejects(&batches);
    assert_eq!(
        (rej.len(), rej[0].line, rej[0].raw.as_str()),
        (1, 1, "{\"id\": 1,")
    );
    assert_reason(&rej[0], &["malformed JSON"]);
    assert_eq!(rows(&batches)[0].line, 2);
}

#[test]
fn a_nested_ndjson_value_is_rejected_naming_the_column() {
    let rej = rejects(&ndjson(
        "{\"id\": 1, \"name\": {\"first\": \"a\"}}\n{\"id\": 2, \"note\": [1]}\n",
    ));
    assert_eq!(rej.len(), 2);
    assert_reason(&rej[0], &["column `name` holds a nested object"]);
    assert_reason(&rej[1], &["column `note` holds a nested array"]);
}

#[test]
fn ndjson_numbers_and_booleans_are_kept_as_text() {
    let got = rows(&ndjson("{\"id\": -42, \"name\": 12.5, \"note\": true}\n"));
    assert_eq!(got[0].fields, f(&[Some("-42"), Some("12.5"), Some("true")]));
}

#[test]

fn a_json_number_keeps_every_digit_for_a_decimal_column() {
    let columns = "[[columns]]\nname = \"amount\"\ntype = \"decimal(38,18)\"\n";
    let batches = read(
        &contract("ndjson", columns),
        "d.ndjson",
        b"{\"amount\": 1.000000000000000001}\n",
    );
    assert_eq!(rows(&batches)[0].fields, f(&[Some("1.000000000000000001")]));
}

#[test]
fn an_oversized_ndjson_line_is_rejected_and_the_next_line_parses() {
    let text = format!(
        "{{\"id\": 1, \"name\": \"{}\"}}\n{{\"id\": 2}}\n",
        "x".repeat(3000)
    );
    let batches = ndjson(&text);
    let rej = rejects(&batches);
    assert_eq!(rej.len(), 1);
    assert_reason(&rej[0], &["exceeds limits.max_record_bytes"]);
    assert_eq!(rows(&batches)[0].line, 2);
}

// ---------------------------------------------------------------- JSON array

fn json_array(text: &str) -> Vec<RawBatch> {
    read(&contract("json", COLUMNS), "in.json", text.as_bytes())
}

#[test]
fn json_array_elements_may_span_lines_and_hold_brackets_and_escaped_quotes() {
    let text = "[\n  {\"id\": 1,\n   \"name\": \"a [x] {y}\"},\n  {\"id\": 2, \"name\": \"say \\\"hi\\\" ]}\"}\n]\n";
    let batches = json_array(text);
    assert!(rejects(&batches).is_empty(), "{:?}", rejects(&batches));
    let got = rows(&batches);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].line, got[0].fields[1].as_deref()),
        (2, Some("a [x] {y}"))
    );
    assert_eq!(
        (got[1].line, got[1].fields[1].as_deref()),
        (4, Some("say \"hi\" ]}"))
    );
}

#[test]
fn an_empty_json_array_gives_no_rows() {
    assert!(json_array("  [ ]\n").is_empty());
}

#[test]
fn a_truncated_json_array_rejects_the_cut_element_without_panicking() {
    let batches = json_array("[{\"id\": 1}, {\"id\": 2, \"name\": \"ab");
    assert_eq!(rows(&batches).len(), 1);
    let rej = rejects(&batches);
    assert_eq!(rej.len(), 1);
    assert_reason(&rej[0], &["ends inside an array element"]);
    assert!(rej[0].raw.starts_with("{\"id\": 2"));
}

#[test]
fn an_unclosed_json_array_is_rejected_after_its_complete_elements() {
    let batches = json_array("[{\"id\": 1},\n{\"id\": 2}\n");
    assert_eq!(rows(&batches).len(), 2);
    assert_reason(&rejects(&batches)[0], &["not closed"]);
}

#[test]
fn a_json_file_that_is_not_an_array_is_rejected() {
    let rej = rejects(&json_array("{\"id\": 1}\n"));
    assert_eq!(rej.len(), 1);
    assert_reason(&rej[0], &["not a JSON array"]);
}

#[test]
fn a_json_array_element_that_is_not_an_object_is_rejected() {
    let batches = json_array("[1, \"s\", {\"id\": 3}]");
    assert_eq!(rows(&batches).len(), 1);
    let rej = rejects(&batches);
    assert_eq!(rej.len(), 2);
    assert_reason(&rej[0], &["found a number"]);
    assert_reason(&rej[1], &["found a string"]);
}
