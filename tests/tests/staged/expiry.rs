//! Snapshot expiry beside staged runs: a stale staging branch goes with its
//! snapshots, a live run's stays, and publishing a run whose branch is gone
//! says so.

use std::collections::BTreeMap;

use floe_lake::catalog::TableCatalog;
use floe_lake::commit::files::snapshot_files;
use floe_lake::commit::publish::{publish, staging_branch, PublishRequest};
use floe_lake::commit::RetryPolicy;
use floe_lake::{LakeError, RunId};
use floe_tests::commit_bench::bench_table;
use floe_tests::staging::*;
use iceberg::spec::MAIN_BRANCH;

#[tokio::test]
async fn expiry_removes_a_stale_staging_branch_and_publishing_it_then_says_so() {
    use floe_lake::maintenance::expire::{expire_snapshots, ExpireOptions};
    let lake = lakehouse().await;
    let catalog = lake.catalog.as_ref();
    let (old, failed_run) = (RunId::generate(), RunId::generate());
    load(catalog, &old, "d1", DAY_1, false).await.unwrap();
    load(catalog, &failed_run, "d1", DAY_1, true).await.unwrap();
    let main_before = owners_by_day(catalog, MAIN_BRANCH).await;
    let branch = staging_branch(&failed_run);

    let keep_recent = ExpireOptions {
        older_than: Some(std::time::Duration::from_secs(3600)),
        retain_last: 1,
        ..Default::default()
    };
    let policy = RetryPolicy::default();
    let report = expire_snapshots(catalog, &bench_table(), &keep_recent, &policy)
        .await
        .unwrap();
    assert!(report.branches_removed.is_empty(), "a recent branch stays");
    assert!(!owners_by_day(catalog, &branch).await.is_empty());

    // A run in progress keeps its branch whatever its age.
    let all_old_but_live = ExpireOptions {
        older_than: Some(std::time::Duration::ZERO),
        keep_branches: vec![branch.clone()],
        ..keep_recent.clone()
    };
    let report = expire_snapshots(catalog, &bench_table(), &all_old_but_live, &policy)
        .await
        .unwrap();
    assert!(
        report.branches_removed.is_empty(),
        "a live run's branch stays"
    );
    assert!(!owners_by_day(catalog, &branch).await.is_empty());

    let all_old = ExpireOptions {
        older_than: Some(std::time::Duration::ZERO),
        ..keep_recent
    };
    let report = expire_snapshots(catalog, &bench_table(), &all_old, &policy)
        .await
        .unwrap();
    assert_eq!(report.branches_removed, vec![branch.clone()]);
    assert_eq!(
        report.expired.len(),
        1,
        "the branch's one snapshot: {report:?}"
    );
    // Its data file, the manifest listing it, the rewritten manifest marking
    // the older load's file deleted on the branch, and the manifest list.
    assert_eq!(report.files_deleted, 4, "{report:?}");
    assert!(owners_by_day(catalog, &branch).await.is_empty());
    assert_eq!(owners_by_day(catalog, MAIN_BRANCH).await, main_before);
    let table = catalog.load_table(&bench_table()).await.unwrap().unwrap();
    let live = snapshot_files(&table, table.metadata().current_snapshot().unwrap())
        .await
        .unwrap();
    for path in live.paths() {
        let local = path.strip_prefix("file://").unwrap_or(path);
        assert!(std::path::Path::new(local).exists(), "main lost {path}");
    }
    let req = PublishRequest {
        table: bench_table(),
        run: failed_run.clone(),
        properties: BTreeMap::new(),
    };
    let gone = publish(catalog, &req, &policy).await.unwrap_err();
    assert!(
        matches!(gone, LakeError::StagingBranchGone { .. }),
        "{gone:?}"
    );
    assert!(gone.to_string().contains("is gone"), "{gone}");
}
