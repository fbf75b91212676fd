//! Rows another engine deleted (Athena, Spark merge-on-read) stay deleted
//! through Floe's maintenance, and the quarantine table compacts like the
//! others.

use super::*;

/// A lakehouse with the sample's `days` loaded by one run, each day in two
/// tasks, so its partitions hold two small files of that run.
async fn loaded_in_two_files(days: &[&str]) -> (Lakehouse, Arc<dyn TableCatalog>) {
    let lake = Lakehouse::new().await;
    let contract = example_contract();
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let truth = lake.generate(&small_sample(6_200));
    let run = RunId::generate();
    for day in days {
        run_all(
            catalog.clone(),
            &split_day(&lake, &contract, &truth, day, &run, 2),
        )
        .await;
    }
    (lake, catalog)
}

/// The live Silver data files of `day`'s partition, sorted.
async fn day_files(catalog: &dyn TableCatalog, day: &str) -> Vec<String> {
    let t = catalog.load_table_ok(&silver()).await;
    let files =
        floe_lake::commit::files::snapshot_files(&t, t.metadata().current_snapshot().unwrap())
            .await
            .unwrap();
    let mut paths: Vec<String> = files
        .data
        .keys()
        .filter(|p| p.contains(&format!("ts_day={day}/")))
        .cloned()
        .collect();
    paths.sort();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_another_engine_deleted_stay_deleted_through_maintenance() {
    let (lake, catalog) = loaded_in_two_files(&DAYS).await;
    let loaded = silver_by_day(catalog.as_ref(), &silver()).await;

    // Another engine deletes three rows of the first day (an Athena DELETE).
    let target = day_files(catalog.as_ref(), DAYS[0]).await;
    assert_eq!(target.len(), 2, "two small files of one run: {target:?}");
    floe_lake::commit::other_engine::delete_rows(
        catalog.as_ref(),
        &silver(),
        &target[0],
        &[0, 5, 9],
    )
    .await
    .unwrap();
    let after_delete = silver_by_day(catalog.as_ref(), &silver()).await;
    assert_eq!(after_delete[DAYS[0]].0, loaded[DAYS[0]].0 - 3);
    assert_eq!(after_delete[DAYS[1]], loaded[DAYS[1]]);
    for_both_engines(&lake, None, &after_delete);

    // Compaction leaves the partition with deletes alone and says so; the
    // other day is compacted.
    let opts = compact_pairs();
    let report = compact(catalog.as_ref(), &silver(), &opts, &RetryPolicy::default())
        .await
        .unwrap();
    assert_eq!(
        report.skipped_with_deletes,
        vec![format!("ts_day={}", DAYS[0])],
        "{report:?}"
    );
    assert_eq!(report.groups_compacted, 1, "{report:?}");
    assert_eq!(day_files(catalog.as_ref(), DAYS[0]).await, target);

    // Expiry and orphan removal at once keep the delete file: it is live.
    let expired = expire_snapshots(
        catalog.as_ref(),
        &silver(),
        &all_but_current(),
        &RetryPolicy::default(),
    )
    .await
    .unwrap();
    assert!(!expired.expired.is_empty(), "{expired:?}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let orphans = remove_orphan_files(
        catalog.as_ref(),
        &LocalStore,
        &silver(),
        Duration::ZERO,
        false,
    )
    .await
    .unwrap();
    assert!(
        orphans
            .orphans
            .iter()
            .all(|p| !p.ends_with("-deletes.parquet")),
        "a live delete file was removed as an orphan: {:?}",
        orphans.orphans
    );
    assert_eq!(
        silver_by_day(catalog.as_ref(), &silver()).await,
        after_delete
    );
    for_both_engines(&lake, None, &after_delete);
}

/// The quarantine table is partitioned by its `source_partition` column, which
/// the reader fills as a run-end encoded constant: compaction decodes it and
/// merges the small files, rows unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_table_compacts_like_the_others() {
    let (_lake, catalog) = loaded_in_two_files(&DAYS[..1]).await;
    let contract = example_contract();
    let quarantine = &contract.target.quarantine_table;
    let before = rows_by_source_partition(catalog.as_ref(), quarantine).await;
    assert!(before[DAYS[0]] > 0, "the sample has bad rows");
    let opts = compact_pairs();
    let report = compact(catalog.as_ref(), quarantine, &opts, &RetryPolicy::default())
        .await
        .unwrap();
    assert_eq!(
        (report.groups_compacted, report.files_replaced),
        (1, 2),
        "{report:?}"
    );
    assert_eq!(
        rows_by_source_partition(catalog.as_ref(), quarantine).await,
        before
    );
}
