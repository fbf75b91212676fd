//! Schema evolution rules: what a newer contract may do to its Silver table,
//! and the message for what it may not.

use iceberg::spec::{PrimitiveType, TableMetadata, TableMetadataBuilder, Type};

use super::*;
use crate::contract::Contract;

const BASE: &str = r#"
[pipeline]
name = "p"
version = VERSION
[source]
location = "in/*.csv"
format = "csv"
[target]
table = "silver.p"
partition = "day(ts)"
quarantine_table = "silver.p_q"
condemned_table = "silver.p_c"
[[columns]]
name = "ts"
type = "timestamptz"
required = true
[[columns]]
name = "qty"
type = "int"
required = true
[[columns]]
name = "amount"
type = "decimal(12,2)"
[[columns]]
name = "note"
type = "string"
"#;

fn contract(version: u32, edit: impl Fn(String) -> String) -> Contract {
    let text = edit(BASE.replace("VERSION", &version.to_string()));
    Contract::parse(&text, std::path::Path::new("p.toml")).unwrap()
}

fn v1() -> TableMetadata {
    let mut creation = table_creation(TableRole::Silver, &contract(1, |t| t)).unwrap();
    creation.location = Some("file:///warehouse/silver/p".into());
    TableMetadataBuilder::from_table_creation(creation)
        .unwrap()
        .build()
        .unwrap()
        .metadata
}

/// `meta` with `change` applied, as the commit layer applies it.
fn applied(meta: &TableMetadata, change: floe_lake::commit::evolve::SchemaChange) -> TableMetadata {
    TableMetadataBuilder::new_from_metadata(meta.clone(), None)
        .add_current_schema(change.schema)
        .unwrap()
        .set_properties(change.properties)
        .unwrap()
        .build()
        .unwrap()
        .metadata
}

fn refused(meta: &TableMetadata, c: &Contract) -> String {
    match silver_evolution(meta, c) {
        Err(e) => e.to_string(),
        Ok(change) => panic!("should be refused: {:?}", change.map(|c| c.schema)),
    }
}

fn field(meta: &TableMetadata, name: &str) -> (i32, Type, bool) {
    let f = meta
        .current_schema()
        .field_by_name(name)
        .unwrap_or_else(|| panic!("no {name}"));
    (f.id, f.field_type.as_ref().clone(), f.required)
}

#[test]
fn the_contract_that_made_the_table_changes_nothing() {
    assert!(silver_evolution(&v1(), &contract(1, |t| t))
        .unwrap()
        .is_none());
    // A higher version without column changes changes nothing either.
    assert!(silver_evolution(&v1(), &contract(2, |t| t))
        .unwrap()
        .is_none());
}

#[test]
fn a_newer_version_adds_renames_widens_and_relaxes_keeping_field_ids() {
    let meta = v1();
    let (qty_id, amount_id, note_id) = (
        field(&meta, "qty").0,
        field(&meta, "amount").0,
        field(&meta, "note").0,
    );
    let v2 = contract(2, |t| {
        t.replace(
            "name = \"qty\"\ntype = \"int\"\nrequired = true",
            "name = \"qty\"\ntype = \"long\"",
        )
        .replace("decimal(12,2)", "decimal(18,2)")
        .replace(
            "name = \"note\"",
            "name = \"memo\"\nrenamed_from = \"note\"",
        ) + "[[columns]]\nname = \"channel\"\ntype = \"string\"\n"
    });
    let change = silver_evolution(&meta, &v2).unwrap().expect("a change");
    let summary = change
        .properties
        .values()
        .find(|v| v.starts_with("contract version 2"))
        .cloned();
    let next = applied(&meta, change);
    assert_eq!(
        field(&next, "qty"),
        (qty_id, Type::Primitive(PrimitiveType::Long), false)
    );
    assert_eq!(
        field(&next, "amount"),
        (
            amount_id,
            Type::Primitive(PrimitiveType::Decimal {
                precision: 18,
                scale: 2
            }),
            false
        )
    );
    assert_eq!(
        field(&next, "memo").0,
        note_id,
        "a rename keeps the field id"
    );
    assert!(next.current_schema().field_by_name("note").is_none());
    let channel = field(&next, "channel");
    assert!(
        channel.0 > meta.last_column_id(),
        "a new column gets a new id"
    );
    assert!(!channel.2);
    assert_eq!(next.properties()[CONTRACT_VERSION_PROPERTY], "2");
    let summary = summary.unwrap();
    for part in [
        "added `channel`",
        "renamed `note` to `memo`",
        "widened `qty`",
        "made `qty` optional",
    ] {
        assert!(summary.contains(part), "{summary}");
    }
    // Planned again on the evolved table (as a racing worker does): nothing to do.
    assert!(silver_evolution(&next, &v2).unwrap().is_none());
}

#[test]
fn breaking_changes_are_refused_naming_the_column_and_what_to_do() {
    let meta = v1();
    let cases: [(Contract, &[&str]); 6] = [
        (
            contract(2, |t| t.replace("decimal(12,2)", "decimal(10,2)")),
            &[
                "column `amount` changes type from decimal(12, 2) to decimal(10, 2)",
                "Add a new column instead",
            ],
        ),
        (
            contract(2, |t| t.replace("decimal(12,2)", "decimal(14,3)")),
            &["column `amount` changes type"],
        ),
        (
            contract(2, |t| {
                t.replace(
                    "name = \"note\"\ntype = \"string\"",
                    "name = \"note\"\ntype = \"long\"",
                )
            }),
            &["column `note` changes type from string to long"],
        ),
        (
            contract(2, |t| {
                t.replace(
                    "name = \"note\"\ntype = \"string\"",
                    "name = \"note\"\ntype = \"string\"\nrequired = true",
                )
            }),
            &["column `note` becomes required", "keep it optional"],
        ),
        (
            contract(2, |t| {
                t + "[[columns]]\nname = \"channel\"\ntype = \"string\"\nrequired = true\n"
            }),
            &["new column `channel` is required", "required = false"],
        ),
        (
            contract(1, |t| {
                t + "[[columns]]\nname = \"channel\"\ntype = \"string\"\n"
            }),
            &[
                "keeps pipeline.version = 1: raise it to 2",
                "added `channel`",
            ],
        ),
    ];
    for (c, needles) in cases {
        let text = refused(&meta, &c);
        assert!(
            text.contains("Silver table silver.p cannot take this contract"),
            "{text}"
        );
        for n in needles {
            assert!(text.contains(n), "{text} should say {n}");
        }
    }
}

#[test]
fn an_older_version_than_the_tables_is_refused() {
    let v3 = contract(3, |t| {
        t + "[[columns]]\nname = \"channel\"\ntype = \"string\"\n"
    });
    let meta = applied(&v1(), silver_evolution(&v1(), &v3).unwrap().unwrap());
    let text = refused(&meta, &contract(2, |t| t));
    assert!(
        text.contains("the table is at contract version 3 and this contract is version 2"),
        "{text}"
    );
}

#[test]
fn dropping_a_column_is_allowed_but_not_the_partition_column() {
    let meta = v1();
    let v2 = contract(2, |t| {
        t.replace("[[columns]]\nname = \"note\"\ntype = \"string\"\n", "")
    });
    let change = silver_evolution(&meta, &v2).unwrap().expect("a change");
    assert!(change
        .properties
        .values()
        .any(|v| v.contains("dropped `note`")));
    let next = applied(&meta, change);
    assert!(next.current_schema().field_by_name("note").is_none());
    // Re-adding it later gives a new field id: old values do not come back.
    let v3 = contract(3, |t| t);
    let again = applied(&next, silver_evolution(&next, &v3).unwrap().unwrap());
    assert!(field(&again, "note").0 > field(&meta, "note").0);

    let text = refused(
        &meta,
        &contract(2, |t| {
            t.replace("partition = \"day(ts)\"", "partition = \"none\"")
                .replace(
                    "[[columns]]\nname = \"ts\"\ntype = \"timestamptz\"\nrequired = true\n",
                    "",
                )
        }),
    );
    assert!(
        text.contains("drops `ts`, which the table is partitioned by"),
        "{text}"
    );
}
