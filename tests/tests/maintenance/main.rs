//! Table maintenance against a real catalog, with PyIceberg and DuckDB as
//! readers: time travel survives compaction and expiry; orphan removal never
//! touches a referenced file; other engines' deletes stay applied
//! (`other_engines`); unsafe ages are refused and expiry cannot make a commit
//! happen twice (`safety`).

mod other_engines;
mod safety;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use floe_common::contract::TableName;
use floe_common::task::{run_task, FailPoint, TaskEnv};
use floe_lake::catalog::{SqlCatalog, TableCatalog};
use floe_lake::commit::rollback::{rollback, RollbackTarget};
use floe_lake::commit::RetryPolicy;
use floe_lake::maintenance::compact::{compact, CompactOptions};
use floe_lake::maintenance::expire::{expire_snapshots, ExpireOptions};
use floe_lake::maintenance::orphans::remove_orphan_files;
use floe_lake::storage::LocalStore;
use floe_lake::RunId;
use floe_tests::loads::*;
use floe_tests::readers::*;
use floe_tests::*;

const DAYS: [&str; 2] = ["2025-01-01", "2025-01-02"];

/// Compacts partitions holding two or more small files of one run.
fn compact_pairs() -> CompactOptions {
    CompactOptions {
        target_file_bytes: 64 * 1024 * 1024,
        min_files: 2,
    }
}

/// Expires every snapshot but the current one.
fn all_but_current() -> ExpireOptions {
    ExpireOptions {
        older_than: Some(Duration::ZERO),
        retain_last: 1,
        ..Default::default()
    }
}

fn silver() -> TableName {
    example_contract().target.table.clone()
}

async fn current(catalog: &SqlCatalog) -> i64 {
    catalog
        .load_table_ok(&silver())
        .await
        .metadata()
        .current_snapshot_id()
        .unwrap()
}

fn local(path: &str) -> PathBuf {
    PathBuf::from(path.strip_prefix("file://").unwrap_or(path))
}

/// Every file any snapshot of the table reaches, plus its metadata files.
async fn referenced_files(catalog: &SqlCatalog, table: &TableName) -> Vec<String> {
    let t = catalog.load_table_ok(table).await;
    let mut paths: HashSet<String> = HashSet::new();
    for s in t.metadata().snapshots() {
        let files = floe_lake::commit::files::snapshot_files(&t, s)
            .await
            .unwrap();
        paths.extend(files.paths().map(str::to_string));
    }
    paths.insert(t.metadata_location().unwrap().to_string());
    paths.extend(
        t.metadata()
            .metadata_log()
            .iter()
            .map(|l| l.metadata_file.clone()),
    );
    let mut paths: Vec<String> = paths.into_iter().collect();
    paths.sort();
    paths
}

fn for_both_engines(
    lake: &Lakehouse,
    snapshot: Option<i64>,
    expected: &BTreeMap<String, (u64, i64)>,
) {
    assert_engines_read(
        &Readers::Sql(lake),
        &silver().to_string(),
        snapshot,
        expected,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_gives_the_old_answers_after_compaction_and_expiry() {
    let lake = Lakehouse::new().await;
    let contract = example_contract();
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let first = lake.generate(&small_sample(6_200));
    let run1 = RunId::generate();
    for day in DAYS {
        run_all(
            catalog.clone(),
            &[day_task(&lake, &contract, &first, day, &run1)],
        )
        .await;
    }
    let old_snapshot = current(&lake.catalog).await;
    let old = silver_by_day(catalog.as_ref(), &silver()).await;
    let old_files = referenced_files(&lake.catalog, &silver()).await;

    // A second load in small files: two per day of one run, replacing the first.
    let second = lake.generate(&small_sample(9_300));
    let run2 = RunId::generate();
    for day in DAYS {
        run_all(
            catalog.clone(),
            &split_day(&lake, &contract, &second, day, &run2, 2),
        )
        .await;
    }
    let new = silver_by_day(catalog.as_ref(), &silver()).await;
    assert_ne!(new, old);
    let run2_snapshots: Vec<i64> = catalog
        .load_table_ok(&silver())
        .await
        .metadata()
        .snapshots()
        .filter(|s| s.summary().additional_properties.get("floe.run-id") == Some(&run2.to_string()))
        .map(|s| s.snapshot_id())
        .collect();
    assert_eq!(run2_snapshots.len(), 4);

    let opts = compact_pairs();
    let report = compact(catalog.as_ref(), &silver(), &opts, &RetryPolicy::default())
        .await
        .unwrap();
    assert_eq!(
        (
            report.groups_compacted,
            report.files_replaced,
            report.files_written
        ),
        (2, 4, 2),
        "{report:?}"
    );
    assert_eq!(silver_by_day(catalog.as_ref(), &silver()).await, new);
    let t = catalog.load_table_ok(&silver()).await;
    let summary = &t.metadata().current_snapshot().unwrap().summary();
    assert_eq!(summary.operation.as_str(), "replace");
    assert_eq!(
        summary.additional_properties["floe.compacted-run"],
        run2.to_string()
    );

    // Expire the newer snapshots between the old one and the compactions: the
    // small files only they reached go, the old snapshot's files stay.
    let small_files: Vec<String> = {
        let mut reach = HashSet::new();
        for id in &run2_snapshots {
            let s = t.metadata().snapshot_by_id(*id).unwrap();
            let f = floe_lake::commit::files::snapshot_files(&t, s)
                .await
                .unwrap();
            reach.extend(f.data.keys().cloned());
        }
        // Run 2's first snapshots still see run 1's files of the other day.
        reach
            .into_iter()
            .filter(|p| !old_files.contains(p))
            .collect()
    };
    assert_eq!(small_files.len(), 4, "{small_files:#?}");
    // (The first compaction snapshot still holds the other day's small files.)
    let current = t.metadata().current_snapshot_id().unwrap();
    let newer: Vec<i64> = t
        .metadata()
        .snapshots()
        .filter(|s| s.summary().additional_properties.get("floe.run-id") != Some(&run1.to_string()))
        .map(|s| s.snapshot_id())
        .filter(|id| *id != current)
        .collect();
    let expired = ExpireOptions {
        snapshot_ids: newer,
        retain_last: 1,
        ..Default::default()
    };
    let report = expire_snapshots(
        catalog.as_ref(),
        &silver(),
        &expired,
        &RetryPolicy::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.expired.len(),
        5,
        "run 2's four and the first compaction: {report:?}"
    );
    assert!(report.files_deleted > 0, "{report:?}");
    for f in &small_files {
        assert!(
            !local(f).exists(),
            "{f} is reached by no snapshot and should be deleted"
        );
    }
    for f in &old_files {
        assert!(
            local(f).exists(),
            "{f} is still needed by snapshot {old_snapshot}"
        );
    }
    for_both_engines(&lake, Some(old_snapshot), &old);
    for_both_engines(&lake, None, &new);

    // Expiring by age, keeping only the current snapshot: the old one is gone,
    // and rolling back to it is a clear error.
    let by_age = all_but_current();
    let report = expire_snapshots(
        catalog.as_ref(),
        &silver(),
        &by_age,
        &RetryPolicy::default(),
    )
    .await
    .unwrap();
    assert!(report.expired.contains(&old_snapshot), "{report:?}");
    assert_eq!(report.snapshots_kept, 1);
    for_both_engines(&lake, None, &new);
    let err = rollback(
        catalog.as_ref(),
        &silver(),
        &RollbackTarget::Snapshot(old_snapshot),
        true,
        false,
        &RetryPolicy::default(),
    )
    .await
    .expect_err("an expired snapshot cannot be restored");
    assert!(err.to_string().contains("has been expired"), "{err}");
    // Nothing is left that no snapshot references.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let orphans = remove_orphan_files(
        catalog.as_ref(),
        &LocalStore,
        &silver(),
        Duration::ZERO,
        true,
    )
    .await
    .unwrap();
    let data_orphans: Vec<_> = orphans
        .orphans
        .iter()
        .filter(|p| p.contains("/data/"))
        .collect();
    assert!(
        data_orphans.is_empty(),
        "expiry left data files behind: {data_orphans:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_removal_never_touches_a_referenced_file() {
    let lake = Lakehouse::new().await;
    let contract = example_contract();
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let truth = lake.generate(&small_sample(6_200));
    let run1 = RunId::generate();
    for day in DAYS {
        run_all(
            catalog.clone(),
            &[day_task(&lake, &contract, &truth, day, &run1)],
        )
        .await;
    }
    let old_snapshot = current(&lake.catalog).await;
    let old = silver_by_day(catalog.as_ref(), &silver()).await;
    // A second run replaces the first: its files are no longer live, but the
    // old snapshot still references them.
    run_all(
        catalog.clone(),
        &[day_task(
            &lake,
            &contract,
            &truth,
            DAYS[0],
            &RunId::generate(),
        )],
    )
    .await;

    // Orphans: a commit that lost its outcome (data written, never committed),
    // and stray files in data/ and metadata/.
    let failing = TaskEnv {
        fail_point: FailPoint::parse("before-commit:error"),
        ..TaskEnv::new(catalog.clone())
    };
    run_task(
        &failing,
        &day_task(&lake, &contract, &truth, DAYS[1], &RunId::generate()),
    )
    .await
    .expect_err("the fail point stops the commit");
    let location = local(catalog.load_table_ok(&silver()).await.metadata().location());
    let planted = [
        location.join("data/ts_day=2025-01-01/stray.parquet"),
        location.join("metadata/stray-m0.avro"),
    ];
    for p in &planted {
        std::fs::write(p, b"not referenced").unwrap();
    }
    let referenced = referenced_files(&lake.catalog, &silver()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Young files are kept whatever they are.
    let young = remove_orphan_files(
        catalog.as_ref(),
        &LocalStore,
        &silver(),
        Duration::from_secs(3600),
        false,
    )
    .await
    .unwrap();
    assert!(young.orphans.is_empty(), "{young:?}");
    assert!(planted.iter().all(|p| p.exists()));

    let report = remove_orphan_files(
        catalog.as_ref(),
        &LocalStore,
        &silver(),
        Duration::ZERO,
        false,
    )
    .await
    .unwrap();
    let removed: HashSet<&String> = report.orphans.iter().collect();
    for p in &planted {
        assert!(!p.exists(), "{} should be removed", p.display());
    }
    assert!(
        report
            .orphans
            .iter()
            .any(|p| p.contains("/data/") && !p.ends_with("stray.parquet")),
        "the uncommitted task's data file is an orphan: {report:?}"
    );
    for f in &referenced {
        assert!(!removed.contains(f), "{f} is referenced");
        assert!(local(f).exists(), "{f} is referenced and must stay");
    }
    assert_eq!(referenced, referenced_files(&lake.catalog, &silver()).await);
    for_both_engines(&lake, Some(old_snapshot), &old);
    let now = silver_by_day(catalog.as_ref(), &silver()).await;
    for_both_engines(&lake, None, &now);
}
