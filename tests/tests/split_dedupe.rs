//! Dedupe at partition scope: a day split across several tasks condemns exactly
//! the rows an unsplit load condemns, keeping the same first row of each key,
//! because each task starts from the keys of the tasks before it.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::StringArray;
use floe_common::contract::Contract;
use floe_common::task::{run_task, DedupeLink, TaskEnv, TaskSpec};
use floe_lake::catalog::TableCatalog;
use floe_lake::RunId;
use floe_sample::SampleConfig;
use floe_tests::checks::assert_tables_match;
use floe_tests::loads::split_day;
use floe_tests::*;

const DAY: &str = "2025-01-03";

/// The day's tasks chained as the planner chains a split partition.
fn chained(
    lake: &Lakehouse,
    contract: &Arc<Contract>,
    truth: &floe_sample::GroundTruth,
    run: &RunId,
    parts: usize,
) -> Vec<TaskSpec> {
    let mut tasks = split_day(lake, contract, truth, DAY, run, parts);
    let ids: Vec<_> = tasks.iter().map(|t| t.attempt.task_id.clone()).collect();
    let last = tasks.len() - 1;
    for (i, t) in tasks.iter_mut().enumerate() {
        t.dedupe = Some(DedupeLink {
            after: (i > 0).then(|| ids[i - 1].clone()),
            after_run: None,
            hand_off: i < last,
        });
    }
    tasks
}

/// Every condemned row as `file:line -> duplicate_of`.
async fn condemned(catalog: &dyn TableCatalog, contract: &Contract) -> BTreeSet<String> {
    let mut rows = BTreeSet::new();
    for batch in scan(catalog, &contract.target.condemned_table).await {
        let files: &StringArray = column(&batch, "source_file");
        let lines: &arrow_array::Int64Array = column(&batch, "line_number");
        let of: &StringArray = column(&batch, "duplicate_of");
        for i in 0..batch.num_rows() {
            rows.insert(format!(
                "{}:{} -> {}",
                files.value(i),
                lines.value(i),
                of.value(i)
            ));
        }
    }
    rows
}

fn many_duplicates() -> SampleConfig {
    SampleConfig {
        files_per_day: 4,
        duplicate_rate: 0.05,
        ..small_sample(12_400)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_day_condemns_what_an_unsplit_load_condemns() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&many_duplicates());
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let tasks = chained(&lake, &contract, &truth, &RunId::generate(), 4);
    assert_eq!(tasks.len(), 4);
    for t in &tasks {
        run_task(&env, t).await.unwrap();
    }
    assert_tables_match(lake.catalog.as_ref(), &truth, &[DAY]).await;

    // The same day in one task, on another catalog: the same rows condemned,
    // each naming the same first row.
    let whole = Lakehouse::new().await;
    let same = whole.generate(&many_duplicates());
    run_task(
        &TaskEnv::new(whole.catalog.clone()),
        &day_task(&whole, &contract, &same, DAY, &RunId::generate()),
    )
    .await
    .unwrap();
    let relative = |rows: BTreeSet<String>, root: &std::path::Path| -> BTreeSet<String> {
        let root = format!("{}/", root.display());
        rows.into_iter().map(|r| r.replace(&root, "")).collect()
    };
    let split = relative(
        condemned(lake.catalog.as_ref(), &contract).await,
        &lake.bronze(),
    );
    let unsplit = relative(
        condemned(whole.catalog.as_ref(), &contract).await,
        &whole.bronze(),
    );
    assert_eq!(split.len() as u64, truth.days[DAY].counts.duplicates);
    assert_eq!(split, unsplit);
    let across_files = split
        .iter()
        .filter(|r| {
            let (row, of) = r.split_once(" -> ").unwrap();
            row.rsplit_once(':').unwrap().0 != of.rsplit_once(':').unwrap().0
        })
        .count();
    assert!(
        across_files > 0,
        "the sample repeats keys across files: {split:?}"
    );
}

/// A chained task redelivered (after it succeeded, and after the next one ran)
/// rewrites nothing and changes nothing; the last task hands nothing on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_link_changes_nothing() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&many_duplicates());
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let tasks = chained(&lake, &contract, &truth, &RunId::generate(), 4);
    assert_eq!(tasks.len(), 4);
    for t in &tasks {
        run_task(&env, t).await.unwrap();
    }
    let again = tasks[1].redelivered(2);
    run_task(&env, &again).await.unwrap();
    run_task(&env, &tasks[2]).await.unwrap();
    assert_tables_match(lake.catalog.as_ref(), &truth, &[DAY]).await;
    let silver = lake.catalog.load_table_ok(&contract.target.table).await;
    let keys_dir = format!(
        "{}/floe-keys",
        silver.metadata().location().trim_start_matches("file://")
    );
    let mut left: Vec<String> = walk(std::path::Path::new(&keys_dir));
    left.sort();
    assert_eq!(
        left.len(),
        3,
        "all but the last task hand on their keys: {left:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

/// End to end: a coordinator splits each day into chained tasks, workers run
/// them one after another, and the tables equal the ground truth exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_loads_split_days_with_partition_scope_dedupe() {
    use floe_tests::checks::{assert_run_totals, contract_path, silver_tasks};
    use floe_tests::cluster::Cluster;

    let lake = Lakehouse::new().await;
    // About 1.2 MB a day in four files: two tasks a day at 1 MiB.
    let truth = lake.generate(&SampleConfig {
        rows: 31 * 8_500,
        ..many_duplicates()
    });
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    cluster.start_worker();
    let days = ["2025-01-01", "2025-01-02"];
    let run_id = cluster.submit(
        &contract_path(),
        &["--from", days[0], "--to", days[1], "--target-task-mb", "1"],
    );
    let run = cluster.wait_for_run(&run_id, std::time::Duration::from_secs(120));
    assert_run_totals(&run, &truth, &days);
    let silver = silver_tasks(&run);
    assert!(silver.len() >= 4, "each day is split: {run:#}");
    assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;
}

/// New files appended to a loaded day: the append adds their rows to the
/// day's load, dedupes them against it (from the keys the load's task left),
/// records which files it added, changes nothing when redelivered, and an
/// append planned before a reload of the day is refused once the reload
/// committed: the day holds every row once either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_adds_new_files_to_the_days_load_and_yields_to_a_newer_reload() {
    use floe_common::error::FloeError;
    use floe_common::task::APPENDED_FILES;
    use floe_lake::commit::CommitOutcome;
    use floe_lake::LakeError;
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&many_duplicates());
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let load = RunId::generate();
    let mut first = day_task(&lake, &contract, &truth, DAY, &load);
    let landed_later = first.inputs.split_off(2);
    first.dedupe = Some(DedupeLink {
        after: None,
        after_run: None,
        hand_off: true,
    });
    run_task(&env, &first).await.unwrap();

    let stale = RunId::generate(); // an append planned before the reload below
    let mut append = day_task(&lake, &contract, &truth, DAY, &RunId::generate());
    append.inputs = landed_later.clone();
    append.append = true;
    append.dedupe = Some(DedupeLink {
        after: Some(first.attempt.task_id.clone()),
        after_run: Some(load.clone()),
        hand_off: true,
    });
    run_task(&env, &append).await.unwrap();
    assert_tables_match(lake.catalog.as_ref(), &truth, &[DAY]).await;
    let of_earlier_files = condemned(lake.catalog.as_ref(), &contract)
        .await
        .into_iter()
        .filter(|r| {
            let (row, of) = r.split_once(" -> ").unwrap();
            let file_of = |s: &str| s.rsplit_once(':').unwrap().0.to_string();
            landed_later.contains(&file_of(row)) && !landed_later.contains(&file_of(of))
        })
        .count();
    assert!(
        of_earlier_files > 0,
        "the appended files repeat keys of the loaded ones"
    );
    let silver = lake.catalog.load_table_ok(&contract.target.table).await;
    let summary = &silver
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties;
    let added: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&summary[APPENDED_FILES]).unwrap();
    assert_eq!(added.keys().cloned().collect::<Vec<_>>(), landed_later);

    let again = run_task(&env, &append.redelivered(2)).await.unwrap();
    assert!(again
        .commits
        .values()
        .all(|c| matches!(c, CommitOutcome::AlreadyCommitted { .. })));
    assert_tables_match(lake.catalog.as_ref(), &truth, &[DAY]).await;

    // A reload of the whole day replaces the load and what was appended to it.
    let reload = day_task(&lake, &contract, &truth, DAY, &RunId::generate());
    run_task(&env, &reload).await.unwrap();
    assert_tables_match(lake.catalog.as_ref(), &truth, &[DAY]).await;
    let straggler = TaskSpec {
        attempt: floe_lake::Attempt::first(stale, append.attempt.task_id.clone()),
        ..append.clone()
    };
    match run_task(&env, &straggler).await {
        Err(FloeError::Lake(LakeError::Superseded { by, .. })) => {
            assert_eq!(by.as_deref(), Some(reload.attempt.run_id.as_str()))
        }
        other => panic!("the older append must be refused: {other:?}"),
    }
    assert_tables_match(lake.catalog.as_ref(), &truth, &[DAY]).await;
}
