//! The quarantine lifecycle on the embedded default. Days are loaded under a
//! contract that is too strict (`amount` at most 100), so good rows land in
//! quarantine. Then, with the contract fixed:
//! - `reprocess` moves exactly the good rows to Silver: the tables then equal
//!   the ground truth, as if the days had been loaded right in the first place,
//!   and the days' Gold partitions are rebuilt to match the new Silver;
//! - a pass cut short after its Silver commit and run again adds nothing twice,
//!   and run again with an edited contract is refused rather than mix the two
//!   contracts' results;
//! - each pass raises the attempt count of the rows still failing, and at three
//!   they are condemned;
//! - `condemned release` needs an explicit approval, which the snapshot records,
//!   and sends exactly those rows back to quarantine.
//!
//! PyIceberg and DuckDB read the reprocessed Silver table, and DuckDB's
//! aggregates over it equal the Gold tables (needs FLOE_PYTHON).

use std::process::Output;
use std::sync::Arc;

use arrow_array::Int32Array;
use floe_common::contract::Contract;
use floe_common::quarantine::{reprocess_partition, ReprocessOptions};
use floe_common::table::TableRole;
use floe_common::task::{run_task, FailAt, FailPoint, TaskEnv};
use floe_lake::catalog::TableCatalog;
use floe_lake::RunId;
use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::gold::assert_gold_equals_duckdb;
use floe_tests::readers::{assert_engines_read, Readers};
use floe_tests::*;

const DAYS: [&str; 2] = ["2025-01-02", "2025-01-03"];

/// A coordinator and a worker on the lakehouse: passes are runs they carry out.
fn cluster(lake: &Lakehouse) -> Cluster {
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    cluster
}

fn ok_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json output")
}

fn reprocess_all(cluster: &Cluster) -> serde_json::Value {
    let c = contract_path();
    ok_json(&cluster.cli(&[
        "reprocess",
        "--pipeline",
        c.to_str().unwrap(),
        "--from",
        DAYS[0],
        "--to",
        DAYS[1],
        "--json",
    ]))
}

/// Every quarantined row's attempt_count.
async fn attempt_counts(lake: &Lakehouse) -> Vec<i32> {
    let table = &example_contract().target.quarantine_table;
    let mut counts = Vec::new();
    for batch in scan(lake.catalog.as_ref(), table).await {
        counts.extend(column::<Int32Array>(&batch, "attempt_count").values());
    }
    counts
}

/// The example contract with `amount` at most 100: good rows land in quarantine.
fn strict() -> Arc<Contract> {
    let text = std::fs::read_to_string(contract_path())
        .unwrap()
        .replace("max = 50000", "max = 100");
    Arc::new(Contract::parse(&text, &contract_path()).unwrap())
}

/// Loads `days` under the strict contract as one run.
async fn load_strict(lake: &Lakehouse, truth: &floe_sample::GroundTruth, days: &[&str]) {
    let env = TaskEnv::new(lake.catalog.clone());
    let run = RunId::generate();
    for day in days {
        run_task(&env, &day_task(lake, &strict(), truth, day, &run))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprocessing_moves_fixed_rows_to_silver_once_and_condemns_the_rest() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    load_strict(&lake, &truth, &DAYS).await;
    let contract = example_contract();
    let quarantined =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    for day in DAYS {
        assert!(
            quarantined[day] > truth.days[day].counts.bad,
            "the strict contract quarantined good rows"
        );
    }

    // A pass cut short right after its Silver commit...
    let cut = ReprocessOptions {
        fail_point: Some(FailPoint::error(FailAt::AfterCommit(TableRole::Silver))),
        ..Default::default()
    };
    let bronze = Arc::new(floe_lake::storage::Bronze::default());
    let err = reprocess_partition(
        lake.catalog.as_ref(),
        bronze,
        contract.clone(),
        DAYS[0],
        &cut,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, floe_common::FloeError::Injected(_)), "{err}");
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    assert_eq!(
        silver[DAYS[0]].0, truth.days[DAYS[0]].counts.valid,
        "its Silver rows are in"
    );

    // Run again with an edited contract, the pass would mix two contracts'
    // results: it is refused and changes nothing.
    let edited = std::fs::read_to_string(contract_path())
        .unwrap()
        .replacen("version = 1", "version = 2", 1)
        .replace("max = 50000", "max = 40000");
    let edited = Arc::new(Contract::parse(&edited, &contract_path()).unwrap());
    assert_eq!(edited.version, 2);
    let bronze = Arc::new(floe_lake::storage::Bronze::default());
    let err = reprocess_partition(
        lake.catalog.as_ref(),
        bronze,
        edited,
        DAYS[0],
        &ReprocessOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, floe_common::FloeError::PassInterrupted { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("contract version 1"), "{err}");
    assert_eq!(
        silver_by_day(lake.catalog.as_ref(), &contract.target.table).await,
        silver,
        "nothing changed"
    );

    // ...then whole passes, as runs: the cut one finds its commit; the tables
    // equal the truth.
    let cluster = cluster(&lake);
    let reports = reprocess_all(&cluster);
    for (report, day) in reports.as_array().unwrap().iter().zip(DAYS) {
        let t = &truth.days[day].counts;
        assert_eq!(report["partition"], day);
        assert_eq!(report["rows"], quarantined[day], "{report}");
        assert_eq!(report["still_quarantined"], t.bad, "{report}");
        assert_eq!(
            report["to_silver"].as_u64().unwrap() + report["condemned"].as_u64().unwrap() + t.bad,
            quarantined[day]
        );
    }
    assert_tables_match(lake.catalog.as_ref(), &truth, &DAYS).await;
    // Rows reached Silver, so each day's Gold partitions were rebuilt under the pass's name.
    for report in reports.as_array().unwrap() {
        let gold = report["gold"].as_array().unwrap();
        let models: Vec<&str> = gold.iter().map(|g| g["model"].as_str().unwrap()).collect();
        assert_eq!(
            models,
            ["daily_revenue", "daily_currency_totals"],
            "{report}"
        );
        assert!(gold.iter().all(|g| g["partition"] == report["partition"]));
    }
    assert_gold_equals_duckdb(&lake);
    let history = lake.cli_json(&["history", "--table", "gold.daily_revenue", "--json"]);
    assert_eq!(
        history[0]["run_id"], reports[1]["run_id"],
        "the newest Gold commit is the last pass's: {history:#}"
    );
    assert!(attempt_counts(&lake).await.iter().all(|&c| c == 2));
    let expected = DAYS
        .iter()
        .map(|d| {
            let t = &truth.days[*d].counts;
            (d.to_string(), (t.valid, t.sum_amount_valid_cents))
        })
        .collect();
    let silver_name = contract.target.table.to_string();
    assert_engines_read(&Readers::Sql(&lake), &silver_name, None, &expected);

    // The second pass: nothing passes, and attempt 3 condemns every bad row.
    let reports = reprocess_all(&cluster);
    let condemned =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.condemned_table).await;
    let silver_after = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    for (report, day) in reports.as_array().unwrap().iter().zip(DAYS) {
        let t = &truth.days[day].counts;
        assert_eq!(report["to_silver"], 0, "{report}");
        assert_eq!(
            report["gold"],
            serde_json::json!([]),
            "nothing to rebuild: {report}"
        );
        assert_eq!(report["condemned"], t.bad, "{report}");
        assert_eq!(condemned[day], t.duplicates + t.bad);
        assert_eq!(
            silver_after[day],
            (t.valid, t.sum_amount_valid_cents),
            "Silver unchanged"
        );
    }
    assert!(
        attempt_counts(&lake).await.is_empty(),
        "quarantine is empty"
    );

    // Releasing needs an approval.
    let c = contract_path();
    let base = [
        "condemned",
        "release",
        "--pipeline",
        c.to_str().unwrap(),
        "--date",
        DAYS[0],
    ];
    let refused = cluster.cli(&base);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--approve"));
    let mut approved = base.to_vec();
    approved.extend([
        "--approve",
        "--approved-by",
        "alice",
        "--reason",
        "upstream fix",
        "--json",
    ]);
    let released = ok_json(&cluster.cli(&approved));
    let t = &truth.days[DAYS[0]].counts;
    assert_eq!(released[0]["released"], t.bad);
    assert_eq!(released[0]["kept"], t.duplicates);
    let condemned =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.condemned_table).await;
    let quarantined =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    assert_eq!(condemned[DAYS[0]], t.duplicates);
    assert_eq!(quarantined[DAYS[0]], t.bad);
    assert!(attempt_counts(&lake).await.iter().all(|&c| c == 0));
    let table = lake
        .catalog
        .load_table(&contract.target.condemned_table)
        .await
        .unwrap()
        .unwrap();
    let summary = &table
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties;
    assert_eq!(summary["floe.approved-by"], "alice");
    assert_eq!(summary["floe.approval-reason"], "upstream fix");
    let history = lake.cli_json(&[
        "history",
        "--table",
        &contract.target.condemned_table.to_string(),
        "--json",
    ]);
    assert_eq!(history[0]["approved_by"], "alice", "{history:#}");
    assert_eq!(history[0]["approval_reason"], "upstream fix");
}

/// A run that reloads the partition while a pass is between reading and
/// committing makes the pass stop without changing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_whose_quarantine_is_reloaded_under_it_changes_nothing() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let day = DAYS[0];
    load_strict(&lake, &truth, &[day]).await;
    let contract = example_contract();
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    let paused = ReprocessOptions {
        fail_point: FailPoint::parse("before-commit:sleep-ms=1500"),
        ..Default::default()
    };
    let pass = {
        let (catalog, contract) = (lake.catalog.clone(), contract.clone());
        tokio::spawn(async move {
            let bronze = Arc::new(floe_lake::storage::Bronze::default());
            reprocess_partition(catalog.as_ref(), bronze, contract, day, &paused).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    load_strict(&lake, &truth, &[day]).await;
    let err = pass.await.unwrap().unwrap_err().to_string();
    assert!(
        err.contains("changed while it was being processed"),
        "{err}"
    );
    assert_eq!(
        silver_by_day(lake.catalog.as_ref(), &contract.target.table).await,
        silver,
        "Silver holds the reload only"
    );
    assert!(attempt_counts(&lake).await.iter().all(|&c| c == 1));
}

/// Rows another engine deleted from quarantine (an Athena `DELETE`) would come
/// back if a pass read the partition without the deletes: the pass is refused,
/// saying why and what to do, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_over_a_partition_with_another_engines_deletes_is_refused() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let day = DAYS[0];
    load_strict(&lake, &truth, &[day]).await;
    let contract = example_contract();
    let quarantine = &contract.target.quarantine_table;
    let table = lake.catalog.load_table_ok(quarantine).await;
    let files = floe_lake::commit::files::snapshot_files(
        &table,
        table.metadata().current_snapshot().unwrap(),
    )
    .await
    .unwrap();
    let file = files.data.keys().next().unwrap().clone();
    floe_lake::commit::other_engine::delete_rows(lake.catalog.as_ref(), quarantine, &file, &[0])
        .await
        .unwrap();
    let before = rows_by_source_partition(lake.catalog.as_ref(), quarantine).await;
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;

    let bronze = Arc::new(floe_lake::storage::Bronze::default());
    let err = reprocess_partition(
        lake.catalog.as_ref(),
        bronze,
        contract.clone(),
        day,
        &ReprocessOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!("source_partition={day}")) && err.contains("delete files"),
        "{err}"
    );
    assert_eq!(
        rows_by_source_partition(lake.catalog.as_ref(), quarantine).await,
        before
    );
    assert_eq!(
        silver_by_day(lake.catalog.as_ref(), &contract.target.table).await,
        silver
    );
}

/// A pass is a run: submitted while a load of the same days is unfinished, it
/// is refused, naming the load, and nothing is recorded; once the load is
/// done, the same pass runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_beside_an_unfinished_load_of_its_days_is_refused() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "before-commit:sleep-ms=3000".into(),
    )];
    cluster.start_worker();
    let load = cluster.submit(&contract_path(), &["--from", DAYS[0], "--to", DAYS[1]]);
    let c = contract_path();
    let pass = [
        "reprocess",
        "--pipeline",
        c.to_str().unwrap(),
        "--date",
        DAYS[1],
        "--json",
    ];
    let refused = cluster.cli(&pass);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("would race") && err.contains(&load) && err.contains(DAYS[1]),
        "{err}"
    );
    let runs = cluster.cli(&["runs", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "nothing recorded: {runs:#}"
    );

    let done = cluster.wait_for_run(&load, std::time::Duration::from_secs(120));
    assert_run_totals(&done, &truth, &DAYS);
    let passed = ok_json(&cluster.cli(&pass));
    assert_eq!(passed[0]["partition"], DAYS[1]);
    assert_eq!(passed[0]["rows"], truth.days[DAYS[1]].counts.bad);
    assert_eq!(passed[0]["to_silver"], 0);
}
