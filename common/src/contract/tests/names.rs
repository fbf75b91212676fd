//! Names that reach paths: the pipeline's, the models', the tables'.

use super::*;

#[test]
fn a_hostile_pipeline_name_is_refused_before_it_reaches_a_path() {
    for hostile in [
        "../../etc",
        "orders/../../outside",
        "/absolute",
        "with space",
        "dot.ted",
        "-leading-dash",
        "",
        "esc\u{1b}[2J",
    ] {
        let toml_value = hostile.replace('\u{1b}', "\\u001b");
        let text = with("name = \"orders\"", &format!("name = \"{toml_value}\""));
        let msg = assert_invalid(&text, "pipeline.name", "", "letters, digits, `_` and `-`");
        // Terminal controls in the quoted value are shown escaped.
        assert!(!msg.contains('\u{1b}'), "{msg:?}");
    }
}

#[test]
fn names_have_a_length_limit() {
    let long = "a".repeat(MAX_NAME_CHARS + 1);
    assert_invalid(
        &with("name = \"orders\"", &format!("name = \"{long}\"")),
        "pipeline.name",
        &long,
        &format!("at most {MAX_NAME_CHARS} characters"),
    );
    let longest = "a".repeat(MAX_NAME_CHARS);
    assert!(parse(&with("name = \"orders\"", &format!("name = \"{longest}\""))).is_ok());
    let long_part = format!("silver.{}", "t".repeat(129));
    assert!(TableName::parse(&long_part).is_none());
    assert!(TableName::parse(&format!("silver.{}", "t".repeat(128))).is_some());
}

#[test]
fn ordinary_names_pass() {
    for name in ["orders", "orders_daily", "orders-v2", "2025_loads"] {
        let c = parse(&with("name = \"orders\"", &format!("name = \"{name}\""))).unwrap();
        assert_eq!(c.name, name);
    }
}

#[test]
fn a_table_name_that_climbs_out_is_refused() {
    assert_invalid(
        &with(
            "table = \"silver.orders\"",
            "table = \"silver/../../x.orders\"",
        ),
        "target.table",
        "silver/../../x.orders",
        "letters, digits and underscores only",
    );
}
