//! Compaction racing a backfill loses nothing: when it loses the race, when it
//! compacts a replacing run's own files between that run's tasks, and in a loop
//! beside a whole backfill.

use std::sync::Arc;

use floe_common::contract::TableName;
use floe_common::task::{run_task, TaskEnv, TaskSpec};
use floe_lake::catalog::{SqlCatalog, SwapOutcome, TableCatalog};
use floe_lake::commit::RetryPolicy;
use floe_lake::maintenance::compact::{compact, CompactOptions};
use floe_lake::RunId;
use floe_sample::SampleConfig;
use floe_tests::loads::*;
use floe_tests::readers::*;
use floe_tests::*;

const DAYS: [&str; 2] = ["2025-01-01", "2025-01-02"];

fn silver() -> TableName {
    example_contract().target.table.clone()
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
    ) -> floe_lake::Result<Option<iceberg::table::Table>> {
        self.inner.load_table(name).await
    }

    async fn ensure_table(
        &self,
        name: &TableName,
        creation: iceberg::TableCreation,
    ) -> floe_lake::Result<iceberg::table::Table> {
        self.inner.ensure_table(name, creation).await
    }

    async fn swap_metadata(
        &self,
        name: &TableName,
        expected: &str,
        new: &str,
    ) -> floe_lake::Result<SwapOutcome> {
        if let Some(task) = self.first.lock().await.take() {
            run_task(&TaskEnv::new(self.inner.clone()), &task)
                .await
                .expect("the task committed during compaction's swap succeeds");
        }
        self.inner.swap_metadata(name, expected, new).await
    }

    async fn schema_changed(
        &self,
        name: &TableName,
        metadata: &iceberg::spec::TableMetadata,
    ) -> floe_lake::Result<()> {
        self.inner.schema_changed(name, metadata).await
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
    assert_engines_read(&Readers::Sql(&lake), &silver().to_string(), None, &expected);
}
