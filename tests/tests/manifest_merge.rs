//! Manifest merging on commit: a table whose loads merged its manifests reads
//! the same in Floe, PyIceberg and DuckDB, now and at its earlier snapshots;
//! reloading a day inside a merged manifest replaces only that day; expiring
//! the snapshots from before the merges keeps it readable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use floe_common::contract::TableName;
use floe_common::task::{run_task, TaskEnv};
use floe_lake::catalog::{SwapOutcome, TableCatalog};
use floe_lake::commit::merge::MIN_COUNT_TO_MERGE;
use floe_lake::commit::RetryPolicy;
use floe_lake::maintenance::expire::{expire_snapshots, ExpireOptions};
use floe_lake::RunId;
use floe_sample::GroundTruth;
use floe_tests::checks::*;
use floe_tests::readers::*;
use floe_tests::*;
use iceberg::spec::TableMetadataBuilder;
use iceberg::MetadataLocation;

/// Sets table properties the way another engine would: a new metadata file
/// swapped in through the catalog.
async fn set_table_properties(
    catalog: &dyn TableCatalog,
    name: &TableName,
    properties: HashMap<String, String>,
) {
    let table = catalog.load_table(name).await.unwrap().unwrap();
    let current = table.metadata_location().unwrap().to_string();
    let meta =
        TableMetadataBuilder::new_from_metadata(table.metadata().clone(), Some(current.clone()))
            .set_properties(properties)
            .unwrap()
            .build()
            .unwrap()
            .metadata;
    let next = current
        .parse::<MetadataLocation>()
        .unwrap()
        .with_next_version()
        .with_new_metadata(&meta);
    meta.write_to(table.file_io(), &next).await.unwrap();
    let swapped = catalog
        .swap_metadata(name, &current, &next.to_string())
        .await
        .unwrap();
    assert_eq!(swapped, SwapOutcome::Swapped);
}

/// The truth's valid rows and cents per day, for `days`.
fn expected(truth: &GroundTruth, days: &[&str]) -> BTreeMap<String, (u64, i64)> {
    days.iter()
        .map(|d| {
            let c = &truth.days[*d].counts;
            (d.to_string(), (c.valid, c.sum_amount_valid_cents))
        })
        .collect()
}

/// The current snapshot's manifests, and the live data files they list (each
/// must be listed once).
async fn manifests_and_live_files(
    catalog: &dyn TableCatalog,
    name: &TableName,
) -> (usize, BTreeSet<String>) {
    let table = catalog.load_table(name).await.unwrap().unwrap();
    let snapshot = table.metadata().current_snapshot().unwrap();
    let list = table.manifest_list_reader(snapshot).load().await.unwrap();
    let mut live = BTreeSet::new();
    for mf in list.entries() {
        let manifest = mf.load_manifest(table.file_io()).await.unwrap();
        for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
            let path = entry.data_file().file_path().to_string();
            assert!(live.insert(path.clone()), "{path} is live in two manifests");
        }
    }
    (list.entries().len(), live)
}

async fn current_snapshot(catalog: &dyn TableCatalog, name: &TableName) -> i64 {
    let table = catalog.load_table(name).await.unwrap().unwrap();
    table.metadata().current_snapshot_id().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_manifests_read_the_same_everywhere_and_at_earlier_snapshots() {
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let truth = lake.generate(&small_sample(3_100));
    let contract = example_contract();
    let silver = contract.target.table.clone();
    let env = TaskEnv::new(catalog.clone());
    let days: Vec<&str> = all_days(&truth).into_iter().take(12).collect();

    let load = RunId::generate();
    run_task(&env, &day_task(&lake, &contract, &truth, days[0], &load))
        .await
        .unwrap();
    // Merge as soon as four small manifests pile up.
    let merge_at = HashMap::from([(MIN_COUNT_TO_MERGE.to_string(), "4".to_string())]);
    set_table_properties(catalog.as_ref(), &silver, merge_at).await;
    let mut past = vec![(current_snapshot(catalog.as_ref(), &silver).await, 1)];
    for (i, day) in days.iter().enumerate().skip(1) {
        run_task(&env, &day_task(&lake, &contract, &truth, day, &load))
            .await
            .unwrap();
        past.push((current_snapshot(catalog.as_ref(), &silver).await, i + 1));
    }
    let table = catalog.load_table(&silver).await.unwrap().unwrap();
    let merges = table
        .metadata()
        .snapshots()
        .filter(|s| {
            s.summary()
                .additional_properties
                .get("manifests-replaced")
                .is_some_and(|n| n != "0")
        })
        .count();
    assert!(merges >= 2, "{merges} commits merged manifests");
    let (manifests, _) = manifests_and_live_files(catalog.as_ref(), &silver).await;
    assert!(manifests < 6, "12 loads left {manifests} manifests");

    // A newer run reloads days that sit in merged manifests.
    let reload = RunId::generate();
    for day in [days[1], days[5], days[10]] {
        run_task(&env, &day_task(&lake, &contract, &truth, day, &reload))
            .await
            .unwrap();
    }
    assert_tables_match(catalog.as_ref(), &truth, &days).await;
    let (_, live) = manifests_and_live_files(catalog.as_ref(), &silver).await;
    let reloaded = live.iter().filter(|p| p.contains(reload.as_str())).count();
    assert!(reloaded >= 3, "{reloaded} files of the reload are live");

    let readers = Readers::Sql(&lake);
    let table_name = silver.to_string();
    assert_engines_read(&readers, &table_name, None, &expected(&truth, &days));
    // Time travel: before the first merge, just after merges, and the end of the load.
    for (snapshot, loaded) in [past[2], past[5], past[8], past[11]] {
        let want = expected(&truth, &days[..loaded]);
        assert_engines_read(&readers, &table_name, Some(snapshot), &want);
    }

    // Expiring every snapshot but the current one deletes the merged-away
    // manifests; the table still reads whole.
    let opts = ExpireOptions {
        older_than: Some(Duration::ZERO),
        retain_last: 1,
        ..ExpireOptions::default()
    };
    expire_snapshots(catalog.as_ref(), &silver, &opts, &RetryPolicy::default())
        .await
        .unwrap();
    assert_engines_read(&readers, &table_name, None, &expected(&truth, &days));
    assert_tables_match(catalog.as_ref(), &truth, &days).await;
}
