//! Floe on AWS APIs: the real SDK clients against a moto server on loopback
//! (SQS for tasks, Glue for the catalog, S3 for the warehouse), with moto's Glue
//! enforcing `UpdateTable`'s VersionId as real Glue does.
//!
//! Needs FLOE_PYTHON (set by scripts/test.sh) naming a Python with moto.

use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_common::task::{run_task, TaskEnv};
use floe_lake::catalog::{GlueCatalog, TableCatalog};
use floe_lake::commit::publish::staging_branch;
use floe_lake::commit::RetryPolicy;
use floe_lake::RunId;
use floe_queue::sqs::SqsQueue;
use floe_queue::TaskQueue;
use floe_tests::checks::*;
use floe_tests::moto::Moto;
use floe_tests::*;

/// A month's backfill on moto also rebuilds 62 Gold partitions, each reading
/// Silver's manifests over moto's S3: allow for a busy CI machine.
const TIMEOUT: Duration = Duration::from_secs(420);
const BUCKET: &str = "lake";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_on_s3_sqs_and_glue_with_three_workers_accounts_for_every_row() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(12_400));
    let mut cluster = moto.cluster(&lake, BUCKET, "floe-backfill").await;
    // Bronze on S3 too: the coordinator lists it there, the workers stream it.
    cluster.bronze = Some(moto.upload_bronze(&lake, BUCKET).await);
    cluster.start_coordinator();
    for _ in 0..3 {
        cluster.start_worker();
    }
    let catalog = moto.glue_catalog(BUCKET).await;
    let days = all_days(&truth);
    // The re-run replaces what the first run wrote: still one copy of each row.
    for _ in 0..2 {
        let run_id = cluster.submit(&contract_path(), &["--backfill", "2025-01"]);
        let run = cluster.wait_for_run(&run_id, TIMEOUT);
        assert_run_totals(&run, &truth, &days);
        assert_eq!(silver_tasks(&run).len(), 31);
        assert_tables_match(&catalog, &truth, &days).await;
    }
    // Every message was deleted, none dead-lettered: SQS's depth says so.
    let out = cluster.cli(&["queue", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let depth: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        depth,
        serde_json::json!({ "visible": 0, "in_flight": 0, "dead": 0 })
    );
    // The contract's column descriptions are Glue's column comments.
    let glue = aws_sdk_glue::Client::new(&moto.sdk_config().await);
    let silver = glue
        .get_table()
        .database_name("silver")
        .name("transactions")
        .send()
        .await
        .unwrap();
    let comments: std::collections::BTreeMap<&str, Option<&str>> = silver
        .table()
        .and_then(|t| t.storage_descriptor())
        .map(|sd| sd.columns())
        .unwrap_or_default()
        .iter()
        .map(|c| (c.name(), c.comment()))
        .collect();
    assert_eq!(
        comments["transaction_id"],
        Some("Unique id of the payment, assigned by the processor")
    );
    assert_eq!(
        comments["amount"],
        Some("Amount charged, in the transaction's currency")
    );
    assert_eq!(comments["currency"], None);
}

/// Polls until the staged run's Silver task committed: the run's branch of
/// the Glue table exists (a single-day run commits to it once, for `day`).
async fn wait_for_staged_silver_commit(catalog: &GlueCatalog, run: &str, day: &str) {
    let table = example_contract().target.table.clone();
    let branch = staging_branch(&RunId::new(run));
    let started = Instant::now();
    loop {
        let loaded = catalog.load_table(&table).await.unwrap();
        if loaded.is_some_and(|t| t.metadata().snapshot_for_ref(&branch).is_some()) {
            return;
        }
        assert!(started.elapsed() < TIMEOUT, "{day} never reached {branch}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn wait_for_empty_queue(moto: &Moto, name: &str) {
    let client = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let queue = SqsQueue::open(client, name)
        .await
        .expect("the queue exists");
    let started = Instant::now();
    loop {
        let depth = queue.depth().await.unwrap();
        if depth.visible + depth.in_flight == 0 {
            return;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the queue never emptied: {depth:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_commit_while_the_coordinator_is_down_and_it_reconciles_from_the_tables() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = moto.cluster(&lake, BUCKET, "floe-unreachable").await;
    cluster.start_coordinator();
    let run_id = cluster.submit(&contract_path(), &["--date", "2025-01-02"]);
    // The task is on SQS: the worker takes it from there, commits, and deletes
    // it, although it cannot report to anyone.
    cluster.kill_coordinator();
    cluster.start_worker();
    let catalog = moto.glue_catalog(BUCKET).await;
    wait_for_staged_silver_commit(&catalog, &run_id, "2025-01-02").await;
    // The message is deleted once the worker gave up reporting; with the worker
    // gone too, only the tables can tell the restarted coordinator what happened.
    wait_for_empty_queue(&moto, "floe-unreachable").await;
    cluster.kill_worker(0);
    cluster.start_coordinator();
    // The reconciled Silver task releases the day's Gold tasks: a worker runs them.
    cluster.start_worker();
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_run_totals(&run, &truth, &["2025-01-02"]);
    assert_tables_match(&catalog, &truth, &["2025-01-02"]).await;
}

/// Eight committers, each with its own Glue client, race to one table: every
/// swap is a compare-and-swap on the VersionId, so none is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_workers_racing_commits_to_one_glue_table_lose_and_double_nothing() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(12_400));
    let contract = example_contract();
    let run = RunId::generate();
    let days: Vec<&str> = all_days(&truth).into_iter().take(8).collect();
    let mut handles = Vec::new();
    for day in &days {
        let catalog: Arc<dyn TableCatalog> = Arc::new(moto.glue_catalog(BUCKET).await);
        let env = TaskEnv {
            retry: RetryPolicy {
                max_attempts: 60,
                ..RetryPolicy::default()
            },
            ..TaskEnv::new(catalog)
        };
        let task = day_task(&lake, &contract, &truth, day, &run);
        handles.push(tokio::spawn(async move { run_task(&env, &task).await }));
    }
    for h in handles {
        h.await.unwrap().expect("every committer succeeds");
    }
    let catalog = moto.glue_catalog(BUCKET).await;
    assert_tables_match(&catalog, &truth, &days).await;
}

/// Rollback, compaction, expiry and orphan removal on a Glue table with its
/// files on S3: PyIceberg (Glue catalog) and DuckDB (httpfs) read the answers
/// of the run rolled back to, before and after maintenance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_and_maintenance_on_glue_and_s3() {
    use floe_common::task::TaskSpec;
    use floe_lake::commit::rollback::{rollback, RollbackTarget};
    use floe_lake::maintenance::compact::{compact, CompactOptions};
    use floe_lake::maintenance::expire::{expire_snapshots, ExpireOptions};
    use floe_lake::maintenance::orphans::remove_orphan_files;
    use floe_lake::storage::S3Store;
    use floe_lake::TaskId;
    use floe_tests::readers::*;

    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = Arc::new(moto.glue_catalog(BUCKET).await);
    let env = TaskEnv::new(catalog.clone());
    let contract = example_contract();
    let table = contract.target.table.clone();
    let days = ["2025-01-01", "2025-01-02"];

    // Run 1 writes two files per day (two tasks), run 2 replaces both days.
    let first = lake.generate(&small_sample(6_200));
    let run1 = RunId::generate();
    for day in days {
        let whole = day_task(&lake, &contract, &first, day, &run1);
        for (i, input) in whole.inputs.iter().enumerate() {
            let part = TaskSpec {
                attempt: floe_lake::Attempt {
                    task_id: TaskId::new(format!("{}-{i}", whole.attempt.task_id)),
                    ..whole.attempt.clone()
                },
                inputs: vec![input.clone()],
                ..whole.clone()
            };
            run_task(&env, &part).await.unwrap();
        }
    }
    let good = silver_by_day(catalog.as_ref(), &table).await;
    let second = lake.generate(&small_sample(9_300));
    let run2 = RunId::generate();
    for day in days {
        run_task(&env, &day_task(&lake, &contract, &second, day, &run2))
            .await
            .unwrap();
    }
    assert_ne!(silver_by_day(catalog.as_ref(), &table).await, good);

    let retry = RetryPolicy::default();
    let target = RollbackTarget::BeforeRun(run2.clone());
    let done = rollback(catalog.as_ref(), &table, &target, false, false, &retry)
        .await
        .unwrap();
    assert!(done.applied);
    assert_eq!(done.plan.runs, vec![run2.to_string()]);
    let readers = Readers::Glue(&moto);
    let read_all = || {
        for engine in ENGINES {
            let answer = read(&readers, engine, &table.to_string(), None);
            assert_eq!(per_day(&answer), good, "{engine}");
        }
    };
    read_all();
    let late = day_task(&lake, &contract, &second, days[0], &run2);
    let err = run_task(&env, &late).await.expect_err("rolled back");
    assert!(err.to_string().contains("was rolled back"), "{err}");
    // A task that wrote its files and stopped before committing leaves orphans.
    let run3 = RunId::generate();
    let stopped = TaskEnv {
        fail_point: Some(floe_common::task::FailPoint::parse("before-commit:error").unwrap()),
        ..TaskEnv::new(catalog.clone())
    };
    let unfinished = day_task(&lake, &contract, &second, days[1], &run3);
    run_task(&stopped, &unfinished)
        .await
        .expect_err("stopped before its commit");

    let opts = CompactOptions {
        target_file_bytes: 64 * 1024 * 1024,
        min_files: 2,
    };
    let compacted = compact(catalog.as_ref(), &table, &opts, &retry)
        .await
        .unwrap();
    assert_eq!(compacted.groups_compacted, 2, "{compacted:?}");
    let expire = ExpireOptions {
        older_than: Some(Duration::ZERO),
        retain_last: 1,
        ..Default::default()
    };
    let expired = expire_snapshots(catalog.as_ref(), &table, &expire, &retry)
        .await
        .unwrap();
    assert!(expired.files_deleted > 0, "{expired:?}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let s3 = S3Store::new(floe_lake::aws::s3_client(&moto.sdk_config().await));
    let orphans = remove_orphan_files(catalog.as_ref(), &s3, &table, Duration::ZERO, false)
        .await
        .unwrap();
    assert!(orphans.files_listed > 0, "{orphans:?}");
    // The only data orphans are the files of the task stopped before its
    // commit: expiry already deleted the files the expired snapshots released,
    // and the refused late retry wrote nothing.
    let data: Vec<&String> = orphans
        .orphans
        .iter()
        .filter(|p| p.contains("/data/"))
        .collect();
    assert!(!data.is_empty(), "{orphans:?}");
    assert!(
        data.iter().all(|p| p.contains(run3.as_str())),
        "{orphans:?}"
    );
    assert_eq!(silver_by_day(catalog.as_ref(), &table).await, good);
    read_all();
}

/// Exactly once on S3 + SQS + Glue, with workers taking tasks from SQS: days
/// split into chained tasks (their dedupe keys handed on through S3), a file
/// resent into another day's folder (recognised by its ETag), a load
/// re-submitted while the first one is held by a stalled worker, and a pass
/// refused beside a load, then run. Every day ends with the newer run's
/// complete load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_split_loads_and_passes_on_s3_sqs_and_glue() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&floe_sample::SampleConfig {
        files_per_day: 3,
        duplicate_rate: 0.03,
        ..small_sample(31 * 600)
    });
    let days = ["2025-01-02", "2025-01-03", "2025-01-04"];
    let original = &truth.days[days[0]].files[0];
    let resent = truth.days[days[1]].files[0].replace("part-00000", "part-99999");
    std::fs::copy(lake.bronze().join(original), lake.bronze().join(&resent)).unwrap();
    let mut cluster = moto.cluster(&lake, BUCKET, "floe-overlap").await;
    cluster.bronze = Some(moto.upload_bronze(&lake, BUCKET).await);
    cluster.start_coordinator();
    // The first run's worker stalls before committing and is killed.
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "before-commit:sleep-ms=60000".into(),
    )];
    cluster.start_worker();
    let period = [
        "--from",
        days[0],
        "--to",
        days[2],
        "--target-task-mb",
        "0.03",
    ];
    let older = cluster.submit(&contract_path(), &period);
    cluster.wait_for_a_running_task(&older, TIMEOUT);
    cluster.kill_worker(0);
    let newer = cluster.submit(&contract_path(), &period);
    let c = contract_path();
    let pass = [
        "reprocess",
        "--pipeline",
        c.to_str().unwrap(),
        "--date",
        days[1],
        "--json",
    ];
    let refused = cluster.cli(&pass);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("would race"),
        "{err}"
    );
    cluster.worker_env.clear();
    cluster.start_worker();
    cluster.start_worker();

    let run = cluster.wait_for_run(&newer, TIMEOUT);
    assert_run_totals(&run, &truth, &days);
    assert!(
        silver_tasks(&run).len() > days.len(),
        "days are split: {run:#}"
    );
    let skipped = &run["skipped_files"][0];
    assert!(
        skipped["path"].as_str().unwrap().ends_with(&resent),
        "{run:#}"
    );
    assert!(skipped["duplicate_of"]
        .as_str()
        .unwrap()
        .ends_with(original));
    let old = cluster.wait_for_run(&older, TIMEOUT);
    assert_eq!(old["state"], "superseded", "{old:#}");
    let catalog = moto.glue_catalog(BUCKET).await;
    assert_tables_match(&catalog, &truth, &days).await;

    let passed = cluster.cli(&pass);
    assert!(
        passed.status.success(),
        "{}",
        String::from_utf8_lossy(&passed.stderr)
    );
    assert_tables_match(&catalog, &truth, &days).await;
}

/// Glue applies a compaction's `UpdateTable` but its answer is lost: the SDK
/// retries, Glue refuses the retry (the VersionId moved), and the compaction
/// sees its inputs gone. It must recognise its own snapshot and keep the files
/// `main` now references; both engines then read every row through Glue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_whose_glue_answer_is_lost_keeps_the_files_main_references() {
    use floe_lake::maintenance::compact::{compact, CompactOptions};
    use floe_tests::loads::split_day;
    use floe_tests::readers::*;

    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = Arc::new(moto.glue_catalog(BUCKET).await);
    let contract = example_contract();
    let table = contract.target.table.clone();
    let truth = lake.generate(&small_sample(6_200));
    let run = RunId::generate();
    let day = "2025-01-02";
    let env = TaskEnv::new(catalog.clone());
    for task in split_day(&lake, &contract, &truth, day, &run, 2) {
        run_task(&env, &task).await.unwrap();
    }
    let loaded = silver_by_day(catalog.as_ref(), &table).await;

    moto.lose_next_update_table_answer();
    let opts = CompactOptions {
        target_file_bytes: 64 * 1024 * 1024,
        min_files: 2,
    };
    let report = compact(catalog.as_ref(), &table, &opts, &RetryPolicy::default())
        .await
        .unwrap();
    assert!(moto.update_table_answer_lost(), "the answer was lost");
    assert_eq!(
        (report.groups_compacted, report.groups_superseded),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(silver_by_day(catalog.as_ref(), &table).await, loaded);
    assert_engines_read(&Readers::Glue(&moto), &table.to_string(), None, &loaded);
}

/// Byte ranges on S3: each day's file (CRLF on some days) is cut into small
/// ranges read with ranged GETs, the header fetched from each file's start,
/// line counts handed along each day's chain; the Glue tables equal the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_cut_into_byte_ranges_load_from_s3() {
    use floe_tests::splittable::{flatten_quoted_newlines, write_splittable_contract};

    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&floe_sample::SampleConfig {
        files_per_day: 1,
        ..small_sample(6_200)
    });
    flatten_quoted_newlines(&lake.bronze(), true);
    let contract = write_splittable_contract(lake.dir.path());
    let mut cluster = moto.cluster(&lake, BUCKET, "floe-ranges").await;
    cluster.bronze = Some(moto.upload_bronze(&lake, BUCKET).await);
    cluster.start_coordinator();
    cluster.start_worker();
    cluster.start_worker();
    let days = ["2025-01-01", "2025-01-02", "2025-01-03"];
    let period = [
        "--from",
        days[0],
        "--to",
        days[2],
        "--target-task-mb",
        "0.005",
    ];
    let run_id = cluster.submit(&contract, &period);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_run_totals(&run, &truth, &days);
    assert!(silver_tasks(&run).len() >= 12, "each day is cut: {run:#}");
    let catalog = moto.glue_catalog(BUCKET).await;
    assert_tables_match(&catalog, &truth, &days).await;
}
