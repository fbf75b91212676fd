//! The catalog contract suite: every [`TableCatalog`] implementation must pass it.
//! Each check takes a fresh catalog and a table name that does not exist yet.

use std::collections::HashMap;

use iceberg::spec::TableMetadataBuilder;
use iceberg::MetadataLocation;

use super::{SwapOutcome, TableCatalog};
use crate::contract::{Contract, TableName};
use crate::table::{table_creation, TableRole};

const CONTRACT: &str = r#"
[pipeline]
name = "contract_suite"
version = 1
[source]
location = "x/{date}/*.csv"
format = "csv"
[target]
table = "suite.events"
partition = "day(ts)"
quarantine_table = "suite.events_quarantine"
condemned_table = "suite.events_condemned"
[[columns]]
name = "ts"
type = "timestamptz"
required = true
"#;

fn contract() -> Contract {
    Contract::parse(CONTRACT, std::path::Path::new("contract-suite.toml")).expect("suite contract")
}

/// Writes a copy of the table's metadata with one property changed, at the next
/// version, and returns its location.
async fn next_metadata(
    catalog: &dyn TableCatalog,
    name: &TableName,
    key: &str,
) -> (String, String) {
    let table = catalog.load_table(name).await.unwrap().unwrap();
    let current = table.metadata_location().unwrap().to_string();
    let meta =
        TableMetadataBuilder::new_from_metadata(table.metadata().clone(), Some(current.clone()))
            .set_properties(HashMap::from([(key.to_string(), "1".to_string())]))
            .unwrap()
            .build()
            .unwrap()
            .metadata;
    let location = current
        .parse::<MetadataLocation>()
        .unwrap()
        .with_next_version()
        .with_new_metadata(&meta);
    meta.write_to(table.file_io(), &location).await.unwrap();
    (current, location.to_string())
}

pub async fn missing_table_loads_as_none(catalog: &dyn TableCatalog) {
    let c = contract();
    assert!(catalog.load_table(&c.target.table).await.unwrap().is_none());
}

pub async fn ensure_table_creates_once(catalog: &dyn TableCatalog) {
    let c = contract();
    let name = &c.target.table;
    let first = catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    let again = catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    assert_eq!(first.metadata_location(), again.metadata_location());
    let loaded = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata().uuid(), first.metadata().uuid());
    assert_eq!(loaded.metadata().default_partition_spec().fields().len(), 1);
}

pub async fn swap_is_compare_and_swap(catalog: &dyn TableCatalog) {
    let c = contract();
    let name = &c.target.table;
    catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    let (old, new) = next_metadata(catalog, name, "a").await;
    assert_eq!(
        catalog.swap_metadata(name, &old, &new).await.unwrap(),
        SwapOutcome::Swapped
    );
    let loaded = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata_location(), Some(new.as_str()));
    // A stale expectation changes nothing.
    let (_, other) = next_metadata(catalog, name, "b").await;
    assert_eq!(
        catalog.swap_metadata(name, &old, &other).await.unwrap(),
        SwapOutcome::Conflict
    );
    let loaded = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata_location(), Some(new.as_str()));
}

/// Many swaps from the same base: exactly one wins.
pub async fn racing_swaps_have_one_winner(catalog: &dyn TableCatalog) {
    let c = contract();
    let name = &c.target.table;
    catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    let mut candidates = Vec::new();
    for i in 0..8 {
        candidates.push(next_metadata(catalog, name, &format!("k{i}")).await);
    }
    let swaps = candidates
        .iter()
        .map(|(old, new)| catalog.swap_metadata(name, old, new));
    let outcomes = futures::future::join_all(swaps).await;
    let winners = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(SwapOutcome::Swapped)))
        .count();
    assert_eq!(winners, 1, "{outcomes:?}");
}
