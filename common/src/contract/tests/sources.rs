//! Contract checking of what a source format can read.

use super::*;

#[test]
fn paths_are_refused_on_csv_and_list_indexes_on_parquet() {
    let on = |format: &str, path: &str| {
        let text = with("format = \"csv\"", &format!("format = \"{format}\""));
        let decl = "name = \"id\"\n";
        text.replacen(decl, &format!("{decl}path = \"{path}\"\n"), 1)
    };
    assert_invalid(
        &on("csv", "a.b"),
        "columns[0].path",
        "a path on a CSV source",
        "`path` only with source.format",
    );
    assert_invalid(
        &on("parquet", "items[0].sku"),
        "columns[0].path",
        "a list index on a Parquet source",
        "struct fields only",
    );
    let parquet = parse(&on("parquet", "payment.id")).unwrap();
    assert_eq!(parquet.source.format, SourceFormat::Parquet);
}

#[test]
fn a_whole_file_compression_on_parquet_is_refused() {
    let text = with("format = \"csv\"", "format = \"parquet\"");
    assert_invalid(
        &text.replacen("compression = \"auto\"", "compression = \"gzip\"", 1),
        "source.compression",
        "a whole-file compression on a Parquet source",
        "auto or none",
    );
}
