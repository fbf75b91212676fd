//! Table maintenance against a real catalog, with PyIceberg and DuckDB as
//! readers: time travel survives compaction and expiry; orphan removal never
//! touches a referenced file; compaction racing a backfill loses nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use floe_common::catalog::{SqlCatalog, SwapOutcome, TableCatalog};
use floe_common::commit::rollback::{rollback, RollbackTarget};
use floe_common::commit::RetryPolicy;
use floe_common::contract::{Contract, TableName};
use floe_common::maintenance::compact::{compact, CompactOptions};
use floe_common::maintenance::expire::{expire_snapshots, ExpireOptions};
use floe_common::maintenance::orphans::remove_orphan_files;
use floe_common::sample::{GroundTruth, SampleConfig};
use floe_common::storage::LocalStore;
use floe_common::task::{run_task, FailPoint, TaskEnv, TaskSpec};
use floe_common::{RunId, TaskId};
use floe_tests::readers::*;
use floe_tests::*;

const DAYS: [&str; 2] = ["2025-01-01", "2025-01-02"];

fn silver() -> TableName {
    example_contract().target.table.clone()
}

/// A day's load split into `parts` tasks of one run, each writing its own
/// small file to the day's partition.
fn split_day(
    lake: &Lakehouse,
    contract: &Arc<Contract>,
    truth: &GroundTruth,
    day: &str,
    run: &RunId,
    parts: usize,
) -> Vec<TaskSpec> {
    let whole = day_task(lake, contract, truth, day, run);
    let per = whole.inputs.len().div_ceil(parts);
    whole
        .inputs
        .chunks(per)
        .enumerate()
        .map(|(i, inputs)| TaskSpec {
            task_id: TaskId::new(format!("{}-{i}", whole.task_id)),
            inputs: inputs.to_vec(),
            ..whole.clone()
        })
        .collect()
}

async fn run_all(catalog: Arc<dyn TableCatalog>, tasks: &[TaskSpec]) {
    let env = TaskEnv::new(catalog);
    for t in tasks {
        run_task(&env, t).await.unwrap();
    }
}

/// What `tasks` give on a fresh catalog with no maintenance at all.
async fn reference(tasks: &[TaskSpec]) -> BTreeMap<String, (u64, i64)> {
    let other = Lakehouse::new().await;
    run_all(other.catalog.clone(), tasks).await;
    silver_by_day(other.catalog.as_ref(), &silver()).await
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
        let files = floe_common::commit::files::snapshot_files(&t, s)
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
    for engine in ENGINES {
        let answer = read(&Readers::Sql(lake), engine, &silver().to_string(), snapshot);
        assert_eq!(&per_day(&answer), expected, "{engine} at {snapshot:?}");
    }
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

    let opts = CompactOptions {
        target_file_bytes: 64 * 1024 * 1024,
        min_files: 2,
    };
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
            let f = floe_common::commit::files::snapshot_files(&t, s)
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
    let by_age = ExpireOptions {
        older_than: Some(Duration::ZERO),
        retain_last: 1,
        ..Default::default()
    };
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

/// A catalog that lets another commit land just before its first swap, so the
/// caller loses the race.
#[derive(Debug)]
struct CommitFirst {
    inner: Arc<SqlCatalog>,
    first: tokio::sync::Mutex<Option<TaskSpec>>,
}

#[async_trait::async_trait]
impl TableCatalog for CommitFirst {
    async fn load_table(
        &self,
        name: &TableName,
    ) -> floe_common::Result<Option<iceberg::table::Table>> {
        self.inner.load_table(name).await
    }

    async fn ensure_table(
        &self,
        name: &TableName,
        creation: iceberg::TableCreation,
    ) -> floe_common::Result<iceberg::table::Table> {
        self.inner.ensure_table(name, creation).await
    }

    async fn swap_metadata(
        &self,
        name: &TableName,
        expected: &str,
        new: &str,
    ) -> floe_common::Result<SwapOutcome> {
        if let Some(task) = self.first.lock().await.take() {
            run_task(&TaskEnv::new(self.inner.clone()), &task).await?;
        }
        self.inner.swap_metadata(name, expected, new).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_racing_a_backfill_loses_nothing() {
    let lake = Lakehouse::new().await;
    let contract = example_contract();
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let truth = lake.generate(&SampleConfig {
        files_per_day: 3,
        ..small_sample(6_200)
    });
    let run1 = RunId::generate();
    for day in DAYS {
        run_all(
            catalog.clone(),
            &split_day(&lake, &contract, &truth, day, &run1, 2),
        )
        .await;
    }
    let opts = CompactOptions {
        target_file_bytes: 64 * 1024 * 1024,
        min_files: 2,
    };
    let retry = RetryPolicy::default();

    // 1. The backfill replaces day 1 just before the compaction swaps: the
    // compaction of day 1 gives up, changing nothing; day 2 is compacted.
    let backfill_day1 = day_task(&lake, &contract, &truth, DAYS[0], &RunId::generate());
    let expected = reference(
        &[
            vec![backfill_day1.clone()],
            split_day(&lake, &contract, &truth, DAYS[1], &run1, 2),
        ]
        .concat(),
    )
    .await;
    let racing = CommitFirst {
        inner: lake.catalog.clone(),
        first: tokio::sync::Mutex::new(Some(backfill_day1)),
    };
    let report = compact(&racing, &silver(), &opts, &retry).await.unwrap();
    assert_eq!(
        (report.groups_superseded, report.groups_compacted),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(silver_by_day(catalog.as_ref(), &silver()).await, expected);

    // 2. A replacing run whose own files are compacted between its tasks keeps
    // them: its last task removes only other runs' files.
    let run3 = RunId::generate();
    let thirds = split_day(&lake, &contract, &truth, DAYS[1], &run3, 3);
    assert_eq!(thirds.len(), 3);
    let expected = reference(&thirds).await;
    run_all(catalog.clone(), &thirds[..2]).await;
    let report = compact(catalog.as_ref(), &silver(), &opts, &retry)
        .await
        .unwrap();
    assert_eq!(
        report.groups_compacted, 1,
        "run 3's two files of day 2: {report:?}"
    );
    run_all(catalog.clone(), &thirds[2..]).await;
    let day2 = silver_by_day(catalog.as_ref(), &silver()).await[DAYS[1]];
    assert_eq!(day2, expected[DAYS[1]]);

    // 3. Compactions in a loop beside a whole backfill: exactly the backfill's rows.
    let run4 = RunId::generate();
    let backfill: Vec<TaskSpec> = DAYS
        .iter()
        .flat_map(|d| split_day(&lake, &contract, &truth, d, &run4, 2))
        .collect();
    let expected = reference(&backfill).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compactor = {
        let (catalog, stop, opts) = (lake.another_catalog().await, stop.clone(), opts.clone());
        tokio::spawn(async move {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                compact(catalog.as_ref(), &silver(), &opts, &RetryPolicy::default())
                    .await
                    .unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    run_all(catalog.clone(), &backfill).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(compactor.await.unwrap() > 0);
    assert_eq!(silver_by_day(catalog.as_ref(), &silver()).await, expected);
    for_both_engines(&lake, None, &expected);
}

/// The coordinator runs a contract's `[maintenance]` policy on its own: a day
/// loaded as two tasks (two small files) is compacted, older snapshots expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_maintains_tables_on_the_contracts_schedule() {
    use floe_tests::checks::{assert_run_totals, contract_path};
    use floe_tests::cluster::Cluster;
    let lake = Lakehouse::new().await;
    // Files over 1 MiB, so a day with a 1 MiB task target is two tasks.
    let truth = lake.generate(&SampleConfig {
        files_per_day: 2,
        ..small_sample(500_000)
    });
    let day = "2025-01-02";
    let big = truth.days[day]
        .files
        .iter()
        .all(|f| std::fs::metadata(lake.bronze().join(f)).unwrap().len() > 1024 * 1024);
    assert!(big, "the sample's files must be over 1 MiB");
    let contract = lake.dir.path().join("maintained.toml");
    let text = std::fs::read_to_string(contract_path()).unwrap()
        + "\n[maintenance]\nevery = \"2s\"\ncompact_min_files = 2\nexpire_older_than = \"0s\"\nretain_last = 1\norphan_older_than = \"1d\"\n";
    std::fs::write(&contract, text).unwrap();

    let mut cluster = Cluster::new(lake.dir.path());
    cluster.coordinator_args = vec!["--maintenance-tick-seconds".into(), "1".into()];
    cluster.start_coordinator();
    cluster.start_worker();
    let run_id = cluster.submit(&contract, &["--date", day, "--target-task-mb", "1"]);
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(180));
    assert_run_totals(&run, &truth, &[day]);
    assert_eq!(run["tasks"].as_array().unwrap().len(), 2, "{run:#}");
    let expected = silver_by_day(lake.catalog.as_ref(), &silver()).await;

    // Within a few passes: one compaction snapshot, the only one kept.
    let started = std::time::Instant::now();
    loop {
        let t = lake.catalog.load_table_ok(&silver()).await;
        let meta = t.metadata();
        let current = meta.current_snapshot().unwrap();
        if current.summary().operation.as_str() == "replace" && meta.snapshots().len() == 1 {
            assert_eq!(
                current.summary().additional_properties["floe.compacted-run"],
                run_id
            );
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(lake.dir.path().join("logs/coordinator.log"))
                .unwrap_or_default();
            let history: Vec<String> = meta
                .snapshots()
                .map(|s| format!("{} {:?}", s.snapshot_id(), s.summary()))
                .collect();
            panic!("no scheduled maintenance:\n{history:#?}\ncoordinator log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        silver_by_day(lake.catalog.as_ref(), &silver()).await,
        expected
    );
    for_both_engines(&lake, None, &expected);
}
