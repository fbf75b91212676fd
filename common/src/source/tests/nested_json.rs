//! Columns read from a path into nested JSON (`path = "payment.method"`).

use super::*;

const NESTED: &str = r#"
[[columns]]
name = "id"
type = "long"
required = true

[[columns]]
name = "method"
type = "string"
path = "payment.method"

[[columns]]
name = "first_sku"
type = "string"
path = "items[0].sku"
"#;

fn nested(format: &str, text: &str) -> Vec<RawBatch> {
    read(&contract(format, NESTED), "in.json", text.as_bytes())
}

#[test]
fn a_path_reads_nested_objects_and_arrays_by_index() {
    let line = r#"{"id": 1, "payment": {"method": "card", "fee": 0.3}, "items": [{"sku": "a-1"}, {"sku": "b-2"}]}"#;
    let got = rows(&nested("ndjson", &format!("{line}\n")));
    assert_eq!(got[0].fields, f(&[Some("1"), Some("card"), Some("a-1")]));
    assert_eq!(got[0].raw, line);
    // The same in a JSON array of objects.
    let got = rows(&nested("json", &format!("[{line}]")));
    assert_eq!(got[0].fields, f(&[Some("1"), Some("card"), Some("a-1")]));
}

#[test]
fn a_missing_step_or_null_on_the_way_reads_null() {
    let got = rows(&nested(
        "ndjson",
        concat!(
            "{\"id\": 1}\n",
            "{\"id\": 2, \"payment\": null, \"items\": []}\n",
            "{\"id\": 3, \"payment\": {}, \"items\": [{\"qty\": 1}]}\n",
        ),
    ));
    for row in &got {
        assert_eq!(row.fields[1..], f(&[None, None]), "line {}", row.line);
    }
}

#[test]
fn a_path_through_the_wrong_kind_is_rejected_saying_where() {
    let rej = rejects(&nested(
        "ndjson",
        "{\"id\": 1, \"payment\": \"card\"}\n{\"id\": 2, \"items\": {\"sku\": \"x\"}}\n",
    ));
    assert_eq!(rej.len(), 2);
    assert_reason(
        &rej[0],
        &[
            "column `method`",
            "path `payment.method` expects an object at `payment`",
            "\"card\"",
        ],
    );
    assert_reason(
        &rej[1],
        &[
            "column `first_sku`",
            "path `items[0].sku` expects an array at `items`",
        ],
    );
}

#[test]
fn a_path_ending_on_an_object_is_rejected_as_nested() {
    let rej = rejects(&nested(
        "ndjson",
        "{\"id\": 1, \"payment\": {\"method\": {\"kind\": \"card\"}}}\n",
    ));
    assert_reason(&rej[0], &["column `method` holds a nested object"]);
}

#[test]
fn a_path_on_a_csv_source_or_a_malformed_path_is_refused_in_the_contract() {
    let csv = format!(
        "[pipeline]\nname = \"r\"\nversion = 1\n[source]\nlocation = \"in/*\"\nformat = \"csv\"\ncompression = \"auto\"\n\
         [target]\ntable = \"silver.r\"\nquarantine_table = \"silver.r_q\"\ncondemned_table = \"silver.r_c\"\n{NESTED}"
    );
    let e = Contract::parse(&csv, Path::new("r.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("columns[1].path") && e.contains("CSV"), "{e}");
    let bad = csv
        .replace("format = \"csv\"", "format = \"ndjson\"")
        .replace("items[0].sku", "items[x].sku");
    let e = Contract::parse(&bad, Path::new("r.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("columns[2].path") && e.contains("items[x]"),
        "{e}"
    );
}
