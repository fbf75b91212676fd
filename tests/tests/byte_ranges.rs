//! Byte ranges: a day's file cut into ranges by the planner loads exactly what
//! the whole file loads, row for row (Bronze lines and duplicate verdicts
//! included), with one dedupe across the ranges of the day; CRLF files too.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_cast::display::{ArrayFormatter, FormatOptions};
use floe_common::contract::{Contract, TableName};
use floe_common::task::{run_task, TaskEnv, TaskSpec};
use floe_common::validate::KeyMemory;
use floe_coordinator::plan::{plan, InputFile};
use floe_lake::catalog::TableCatalog;
use floe_lake::storage::{BronzeStore, LocalStore};
use floe_lake::{Attempt, RunId};
use floe_sample::{GroundTruth, SampleConfig};
use floe_tests::checks::*;
use floe_tests::splittable::*;
use floe_tests::*;

/// Columns that name the run, the task or the time of a load: they differ
/// between two loads of the same data.
const PER_LOAD: [&str; 9] = [
    "condemned_at",
    "_floe_run_id",
    "_floe_task_id",
    "_floe_attempt",
    "run_id",
    "task_id",
    "attempt",
    "attempt_count",
    "ingested_at",
];

/// The example contract, declaring that its CSV values never hold a line break.
fn splittable_contract() -> Arc<Contract> {
    let text = splittable_contract_text();
    Arc::new(Contract::parse(&text, &contract_path()).unwrap())
}

/// The planner's tasks for `days`, at `target` bytes per task, as run `run`.
async fn planned(
    lake: &Lakehouse,
    contract: &Arc<Contract>,
    truth: &GroundTruth,
    days: &[&str],
    target: u64,
    run: &RunId,
) -> Vec<TaskSpec> {
    let mut files = Vec::new();
    for day in days {
        let pattern = format!("{}/transactions/date={day}/*.csv", lake.bronze().display());
        for f in LocalStore.list(&pattern).await.unwrap() {
            files.push(InputFile {
                path: f.location.clone(),
                fingerprint: f.fingerprint(),
                day: day.parse().unwrap(),
            });
        }
    }
    plan(contract, &files, target)
        .into_iter()
        .map(|t| TaskSpec {
            attempt: Attempt::first(run.clone(), t.task_id),
            inputs: t.inputs,
            fingerprints: t.fingerprints,
            ranges: t.ranges,
            partition: t.partition,
            dedupe: t.dedupe,
            ..day_task(lake, contract, truth, days[0], run)
        })
        .collect()
}

/// Every row of `table` as text, without the per-load columns, sorted.
async fn rows(catalog: &dyn TableCatalog, table: &TableName) -> Vec<String> {
    let mut out = Vec::new();
    let options = FormatOptions::default();
    for batch in scan(catalog, table).await {
        let schema = batch.schema();
        let columns: Vec<_> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !PER_LOAD.contains(&f.name().as_str()))
            .map(|(i, f)| {
                let formatter = ArrayFormatter::try_new(batch.column(i).as_ref(), &options);
                (f.name().clone(), formatter.unwrap())
            })
            .collect();
        for row in 0..batch.num_rows() {
            let fields: Vec<String> = columns
                .iter()
                .map(|(name, f)| format!("{name}={}", f.value(row)))
                .collect();
            out.push(fields.join("|"));
        }
    }
    out.sort();
    out
}

async fn all_rows(
    catalog: &dyn TableCatalog,
    contract: &Contract,
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for table in [
        &contract.target.table,
        &contract.target.quarantine_table,
        &contract.target.condemned_table,
    ] {
        out.insert(table.to_string(), rows(catalog, table).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cut_into_byte_ranges_loads_as_the_whole_file_does() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&SampleConfig {
        files_per_day: 1,
        ..small_sample(6_200)
    });
    flatten_quoted_newlines(&lake.bronze(), true);
    let contract = splittable_contract();
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let env = TaskEnv::new(catalog.clone());
    let days: Vec<&str> = all_days(&truth).into_iter().take(3).collect();

    let whole_run = RunId::generate();
    let whole = planned(&lake, &contract, &truth, &days, u64::MAX, &whole_run).await;
    assert_eq!(whole.len(), 3, "one task per day");
    assert!(whole.iter().all(|t| t.ranges.is_empty()));
    for task in &whole {
        run_task(&env, task).await.unwrap();
    }
    assert_tables_match(catalog.as_ref(), &truth, &days).await;
    let expected = all_rows(catalog.as_ref(), &contract).await;

    // About 5 KiB ranges: each day's file in several, boundaries anywhere.
    let split_run = RunId::generate();
    let split = planned(&lake, &contract, &truth, &days, 5 * 1024, &split_run).await;
    let per_day = split.len() / days.len();
    assert!(
        per_day >= 4,
        "{} tasks for {} days",
        split.len(),
        days.len()
    );
    assert!(split
        .iter()
        .all(|t| t.ranges.len() == 1 && t.inputs.len() == 1));
    assert!(
        split.iter().all(|t| t.dedupe.is_some()),
        "a day's ranges are chained"
    );
    for task in &split {
        run_task(&env, task).await.unwrap();
    }
    // Each range but a day's last handed its line count on, beside its keys.
    let pattern = format!(
        "{}/**/floe-keys/{split_run}/*.keys.lines",
        lake.warehouse().display()
    );
    let handed_on = glob::glob(&pattern).unwrap().count();
    assert_eq!(handed_on, split.len() - days.len());
    assert_tables_match(catalog.as_ref(), &truth, &days).await;
    let got = all_rows(catalog.as_ref(), &contract).await;
    for (table, want) in &expected {
        assert_eq!(got[table].len(), want.len(), "{table} rows");
        for (g, w) in got[table].iter().zip(want) {
            assert_eq!(g, w, "{table}");
        }
    }
    // The loaded rows are the split run's.
    let silver = scan(catalog.as_ref(), &contract.target.table).await;
    let runs = column::<arrow_array::StringArray>(&silver[0], "_floe_run_id");
    assert_eq!(runs.value(0), split_run.as_str());

    // Again with a key budget of 16: every link spills its keys to disk and
    // reads the handed-on keys onto disk; the verdicts are the same.
    let spill = tempfile::tempdir().unwrap();
    let tight = TaskEnv {
        keys: KeyMemory {
            keys_in_memory: 16,
            spill_dir: spill.path().to_path_buf(),
        },
        ..env.clone()
    };
    let spilled_run = RunId::generate();
    let spilled = planned(&lake, &contract, &truth, &days, 5 * 1024, &spilled_run).await;
    for task in &spilled {
        run_task(&tight, task).await.unwrap();
    }
    assert_eq!(all_rows(catalog.as_ref(), &contract).await, expected);
    assert_eq!(
        std::fs::read_dir(spill.path()).unwrap().count(),
        0,
        "nothing left on disk"
    );

    // A spill folder that cannot be made fails the task, says what to do, and
    // changes nothing.
    let not_a_folder = spill.path().join("file");
    std::fs::write(&not_a_folder, b"x").unwrap();
    let broken = TaskEnv {
        keys: KeyMemory {
            keys_in_memory: 16,
            spill_dir: not_a_folder.join("spill"),
        },
        ..env.clone()
    };
    let failed_run = RunId::generate();
    let failing = planned(&lake, &contract, &truth, &days, 5 * 1024, &failed_run).await;
    let e = run_task(&broken, &failing[0]).await.unwrap_err();
    assert!(e.to_string().contains("FLOE_SPILL_DIR"), "{e}");
    assert!(e.is_retryable());
    assert_eq!(all_rows(catalog.as_ref(), &contract).await, expected);
}

/// End to end: the coordinator cuts each day's file into ranges (the plan
/// says so), workers load them through the queue, and the tables equal the
/// ground truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_loads_days_cut_into_byte_ranges() {
    use floe_tests::cluster::Cluster;

    let lake = Lakehouse::new().await;
    let truth = lake.generate(&SampleConfig {
        files_per_day: 1,
        ..small_sample(6_200)
    });
    flatten_quoted_newlines(&lake.bronze(), false);
    let contract_file = write_splittable_contract(lake.dir.path());
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    cluster.start_worker();
    let days = ["2025-01-01", "2025-01-02"];
    let period = [
        "--from",
        days[0],
        "--to",
        days[1],
        "--target-task-mb",
        "0.005",
    ];
    let contract_arg = contract_file.display().to_string();
    let mut explain = vec!["submit", "--pipeline", contract_arg.as_str(), "--explain"];
    explain.extend(period);
    let plan = cluster.cli(&explain);
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.contains("    bytes 0.."), "{plan}");

    let run_id = cluster.submit(&contract_file, &period);
    let run = cluster.wait_for_run(&run_id, std::time::Duration::from_secs(120));
    assert_run_totals(&run, &truth, &days);
    assert!(silver_tasks(&run).len() >= 8, "each day is cut: {run:#}");
    assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;
}
