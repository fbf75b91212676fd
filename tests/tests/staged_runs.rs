//! Staged runs end to end (`[target] publish = "auto"`, the default), with a coordinator
//! and worker processes: readers of `main` (PyIceberg, DuckDB) see the old
//! load while a staged run's tasks commit to its branch, and the new load
//! whole once the coordinator has published it; a staged run that fails is
//! never published; a dry run's diff equals DuckDB's figures over `main`
//! before and after its publish.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use floe_lake::catalog::TableCatalog;
use floe_lake::commit::publish::{staging_branch, PUBLISH_TASK};
use floe_lake::RunId;
use floe_sample::SampleConfig;
use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::readers::*;
use floe_tests::staging::*;
use floe_tests::*;
use serde_json::Value;

const TABLE: &str = "silver.transactions";
const GOLD: &str = "gold.daily_revenue";
const TIMEOUT: Duration = Duration::from_secs(180);
const PERIOD: [&str; 4] = ["--from", "2025-01-01", "--to", "2025-01-03"];
const DAYS: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];

/// The example contract with `publish = "auto"`, and `extra` at its end.
fn staged_contract_with(lake: &Lakehouse, extra: &str) -> PathBuf {
    contract_publishing(lake, "auto", extra)
}

fn staged_contract(lake: &Lakehouse) -> PathBuf {
    staged_contract_with(lake, "")
}

fn succeeded(cluster: &Cluster, run_id: &str) -> Value {
    let run = cluster.wait_for_run(run_id, TIMEOUT);
    assert_eq!(run["state"], "succeeded", "{run:#}");
    run
}

/// A lakehouse with a first sample month, a coordinator and a worker.
async fn sample_and_cluster() -> (Lakehouse, Cluster) {
    let lake = Lakehouse::new().await;
    lake.generate(&SampleConfig {
        seed: 1,
        ..small_sample(6_200)
    });
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    (lake, cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_of_main_see_the_old_load_until_the_staged_run_is_published_whole() {
    let (lake, mut cluster) = sample_and_cluster().await;
    let first = cluster.submit(&contract_path(), &PERIOD);
    succeeded(&cluster, &first);
    let old = silver_by_day(lake.catalog.as_ref(), &example_contract().target.table).await;
    let old_head = main_head(&lake, TABLE).await;
    let old_gold_head = main_head(&lake, GOLD).await;

    // New Bronze files for the same days, loaded by a staged run whose worker
    // pauses before each commit, so the run is caught half-way.
    let truth = lake.generate(&SampleConfig {
        seed: 2,
        ..small_sample(6_200)
    });
    cluster.terminate_worker(0);
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "before-commit:sleep-ms=6000".into(),
    )];
    cluster.start_worker();
    let audits = "[audits]\nmax_row_change = 0.5\nmax_quarantine_rate = 0.5\n";
    let staged = cluster.submit(&staged_contract_with(&lake, audits), &PERIOD);
    wait_for_a_committed_task(&cluster, &staged, TIMEOUT);
    assert!(has_branch(&lake, TABLE, &staged).await);
    assert_eq!(
        main_head(&lake, TABLE).await,
        old_head,
        "main moved mid-run"
    );
    assert_eq!(main_head(&lake, GOLD).await, old_gold_head);
    assert_engines_read(&Readers::Sql(&lake), TABLE, None, &old);
    let still = cluster.status(&staged).unwrap();
    assert_eq!(
        still["state"], "running",
        "the reads must happen mid-run: {still:#}"
    );

    let run = succeeded(&cluster, &staged);
    assert_run_totals(&run, &truth, &DAYS);
    let audits = run["audits"].as_array().unwrap();
    assert_eq!(audits.len(), 6, "two audits a day: {audits:#?}");
    assert!(audits.iter().all(|a| a["passed"] == true), "{audits:#?}");
    assert_tables_match(lake.catalog.as_ref(), &truth, &DAYS).await;
    let new = silver_by_day(lake.catalog.as_ref(), &example_contract().target.table).await;
    assert_ne!(new, old, "the two loads differ");
    assert_engines_read(&Readers::Sql(&lake), TABLE, None, &new);
    // Gold was built on the branch from the run's Silver, and published after it.
    floe_tests::gold::assert_gold_equals_duckdb(&lake);

    // One publish snapshot on main per table, recorded under the run; the
    // branches are gone.
    let current = current_snapshot(&lake, TABLE);
    assert_eq!(
        (current["run_id"].as_str(), current["task_id"].as_str()),
        (Some(staged.as_str()), Some(PUBLISH_TASK)),
        "{current:#}"
    );
    for table in [
        GOLD,
        TABLE,
        "silver.transactions_quarantine",
        "silver.transactions_condemned",
    ] {
        assert!(
            !has_branch(&lake, table, &staged).await,
            "{table} keeps the branch"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_run_that_fails_leaves_main_untouched() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(3_100));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let first = cluster.submit(&contract_path(), &["--date", "2025-01-02"]);
    succeeded(&cluster, &first);
    let tables = [
        TABLE,
        "silver.transactions_quarantine",
        "silver.transactions_condemned",
    ];
    let mut heads = BTreeMap::new();
    for table in tables {
        heads.insert(table, main_head(&lake, table).await);
    }
    let before = silver_by_day(lake.catalog.as_ref(), &example_contract().target.table).await;

    // Every attempt commits its quarantine rows, then fails: the task dies.
    cluster.terminate_worker(0);
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "after-commit-quarantine:error".into(),
    )];
    cluster.start_worker();
    let staged = cluster.submit(&staged_contract(&lake), &["--date", "2025-01-02"]);
    let run = cluster.wait_for_run(&staged, TIMEOUT);
    assert_eq!(run["state"], "failed", "{run:#}");
    assert!(
        has_branch(&lake, "silver.transactions_quarantine", &staged).await,
        "the failed run's commits stay on its branch, for inspection"
    );
    for table in tables {
        assert_eq!(
            main_head(&lake, table).await,
            heads[table],
            "{table}'s main moved"
        );
    }
    assert_engines_read(&Readers::Sql(&lake), TABLE, None, &before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_run_whose_rows_halve_fails_its_audit_and_is_not_published() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let days = ["--from", "2025-01-02", "--to", "2025-01-03"];
    let first = cluster.submit(&contract_path(), &days);
    succeeded(&cluster, &first);
    let head = main_head(&lake, TABLE).await;
    let before = silver_by_day(lake.catalog.as_ref(), &example_contract().target.table).await;

    // The same days again with half the rows: each day shrinks by about half.
    let truth = lake.generate(&SampleConfig {
        seed: 7,
        ..small_sample(3_100)
    });
    let limits = "[audits]\nmax_row_change = 0.2\nmax_quarantine_rate = 0.5\n";
    let staged = cluster.submit(&staged_contract_with(&lake, limits), &days);
    let run = cluster.wait_for_run(&staged, TIMEOUT);
    assert_eq!(run["state"], "failed", "{run:#}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("max_row_change for ts_day=2025-01-0"),
        "{error}"
    );
    assert!(error.contains("not published"), "{error}");
    let audits = run["audits"].as_array().unwrap();
    let failed: Vec<&Value> = audits.iter().filter(|a| a["passed"] == false).collect();
    assert_eq!(failed.len(), 2, "both days shrank: {audits:#?}");
    assert!(
        failed.iter().all(|a| a["name"] == "max_row_change"),
        "{audits:#?}"
    );
    let rates = audits
        .iter()
        .filter(|a| a["name"] == "max_quarantine_rate")
        .count();
    assert_eq!(rates, 2, "{audits:#?}");
    let shown = cluster.cli(&["status", &staged]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("audits: 2 of 4 passed"), "{shown}");
    assert!(shown.contains("FAILED max_row_change"), "{shown}");

    assert_eq!(main_head(&lake, TABLE).await, head, "main moved");
    assert!(
        has_branch(&lake, TABLE, &staged).await,
        "the branch stays for inspection"
    );
    assert_engines_read(&Readers::Sql(&lake), TABLE, None, &before);

    // Meant to shrink: --allow-shrink passes it; every day is present.
    let audits = format!("{limits}require_all_days = true\n");
    let shrink = [&days[..], &["--allow-shrink"]].concat();
    let reload = cluster.submit(&staged_contract_with(&lake, &audits), &shrink);
    let run = succeeded(&cluster, &reload);
    let audits = run["audits"].as_array().unwrap();
    assert_eq!(audits.len(), 6, "three audits a day: {audits:#?}");
    assert!(audits.iter().all(|a| a["passed"] == true), "{audits:#?}");
    assert_tables_match(lake.catalog.as_ref(), &truth, &DAYS[1..]).await;
}

/// Snapshots on `table`'s `main` history that publish a run.
fn publishes(lake: &Lakehouse, table: &str) -> usize {
    let history = lake.cli_json(&["history", "--table", table, "--json"]);
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["task_id"] == PUBLISH_TASK && e["on_main"] == true)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_between_two_tables_finishes_the_publish_when_it_restarts() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let mut cluster = Cluster::new(lake.dir.path());
    // Dies once the quarantine table is published, before the condemned table.
    cluster.coordinator_env = vec![(
        "FLOE_COORDINATOR_FAILPOINT".into(),
        "abort-after-publishing:1".into(),
    )];
    cluster.start_coordinator();
    cluster.start_worker();
    let staged = cluster.submit(&staged_contract(&lake), &["--date", "2025-01-02"]);
    let status = cluster.wait_for_coordinator_exit(TIMEOUT);
    assert!(!status.success(), "{status:?}");
    assert_eq!(publishes(&lake, "silver.transactions_quarantine"), 1);
    assert_eq!(
        main_head(&lake, TABLE).await,
        None,
        "Silver is not published yet"
    );

    cluster.coordinator_env.clear();
    cluster.start_coordinator();
    succeeded(&cluster, &staged);
    assert_tables_match(lake.catalog.as_ref(), &truth, &["2025-01-02"]).await;
    for table in [
        "silver.transactions_quarantine",
        "silver.transactions_condemned",
        TABLE,
        GOLD,
    ] {
        assert_eq!(publishes(&lake, table), 1, "{table} is published once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_run_waits_for_approval_and_a_discarded_one_is_never_published() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let manual = contract_publishing(&lake, "manual", "[audits]\nmax_quarantine_rate = 0.5\n");
    let day = ["--date", "2025-01-02"];

    let first = cluster.submit(&manual, &day);
    let waiting = cluster.wait_for_run(&first, TIMEOUT);
    assert_eq!(waiting["state"], "awaiting_approval", "{waiting:#}");
    assert_eq!(
        waiting["audits"].as_array().unwrap().len(),
        1,
        "audited first"
    );
    assert_eq!(
        main_head(&lake, TABLE).await,
        None,
        "nothing on main before approval"
    );
    assert!(has_branch(&lake, TABLE, &first).await);
    let refused = cli(&cluster, &["publish", &first]).unwrap_err();
    assert!(refused.contains("--approve"), "{refused}");
    let unnamed = cli(&cluster, &["publish", &first, "--approve"]).unwrap_err();
    assert!(unnamed.contains("--approved-by"), "{unnamed}");

    let approve = [
        "publish",
        &first,
        "--approve",
        "--approved-by",
        "alice",
        "--reason",
        "totals checked",
        "--json",
    ];
    let published: Value = serde_json::from_str(&cli(&cluster, &approve).unwrap()).unwrap();
    assert_eq!(published["state"], "succeeded", "{published:#}");
    assert_eq!(published["approved_by"], "alice");
    assert_tables_match(lake.catalog.as_ref(), &truth, &["2025-01-02"]).await;
    let current = current_snapshot(&lake, TABLE);
    assert_eq!(
        (&current["approved_by"], &current["approval_reason"]),
        (&Value::from("alice"), &Value::from("totals checked")),
        "{current:#}"
    );
    let head = main_head(&lake, TABLE).await;

    let second = cluster.submit(&manual, &day);
    let waiting = cluster.wait_for_run(&second, TIMEOUT);
    assert_eq!(waiting["state"], "awaiting_approval", "{waiting:#}");
    let discarded = cli(&cluster, &["discard", &second, "--json"]).unwrap();
    let discarded: Value = serde_json::from_str(&discarded).unwrap();
    assert_eq!(discarded["state"], "discarded", "{discarded:#}");
    for table in [TABLE, "silver.transactions_quarantine", GOLD] {
        assert!(
            !has_branch(&lake, table, &second).await,
            "{table} keeps the branch"
        );
    }
    assert_eq!(
        main_head(&lake, TABLE).await,
        head,
        "a discarded run changes nothing"
    );
    let late = cli(
        &cluster,
        &approve.map(|a| if a == first { &second } else { a }),
    )
    .unwrap_err();
    assert!(late.contains("is discarded"), "{late}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_run_on_s3_sqs_and_glue_publishes_what_athena_reads() {
    use floe_tests::moto::Moto;
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(3_100));
    let mut cluster = moto.cluster(&lake, "lake", "floe-staged").await;
    cluster.bronze = Some(moto.upload_bronze(&lake, "lake").await);
    cluster.start_coordinator();
    cluster.start_worker();
    let day = ["--date", "2025-01-02"];
    let first = cluster.submit(&contract_path(), &day);
    succeeded(&cluster, &first);
    let catalog = moto.glue_catalog("lake").await;
    let silver = example_contract().target.table.clone();
    let old = silver_by_day(&catalog, &silver).await;

    let truth = lake.generate(&SampleConfig {
        seed: 2,
        ..small_sample(3_100)
    });
    moto.upload_bronze(&lake, "lake").await;
    let staged = cluster.submit(&staged_contract(&lake), &day);
    succeeded(&cluster, &staged);
    assert_tables_match(&catalog, &truth, &["2025-01-02"]).await;
    let new = silver_by_day(&catalog, &silver).await;
    assert_ne!(new, old, "the two loads differ");
    // Glue's table points at metadata whose main is the publish, as Athena reads it.
    let table = catalog.load_table(&silver).await.unwrap().unwrap();
    let current = table.metadata().current_snapshot().unwrap();
    let props = &current.summary().additional_properties;
    assert_eq!(props.get("floe.published-run"), Some(&staged), "{props:?}");
    assert!(table
        .metadata()
        .snapshot_for_ref(&staging_branch(&RunId::new(&staged)))
        .is_none());
    assert_engines_read(&Readers::Glue(&moto), TABLE, None, &new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_runs_diff_equals_duckdb_over_main_before_and_after_its_publish() {
    let (lake, cluster) = sample_and_cluster().await;
    let direct = contract_publishing(&lake, "direct", "");
    let first = cluster.submit(&direct, &PERIOD);
    succeeded(&cluster, &first);
    let not_staged = cli(&cluster, &["diff", &first]).unwrap_err();
    assert!(not_staged.contains("is not staged"), "{not_staged}");
    let truth = lake.generate(&SampleConfig {
        seed: 2,
        ..small_sample(7_000)
    });
    let head = main_head(&lake, TABLE).await;
    let before = money(duckdb_by_day(&lake, TABLE, "CAST(ts AS DATE)", "amount"));
    let gold_before = money(duckdb_by_day(&lake, GOLD, "day", "revenue"));

    // A direct contract, run as a dry run: staged, held, its diff printed.
    let contract = contract_path();
    let dry = [
        &["submit", "--pipeline", contract.to_str().unwrap()][..],
        &PERIOD,
        &["--explain", "--diff", "--json"],
    ]
    .concat();
    let diff: Value = serde_json::from_str(&cli(&cluster, &dry).unwrap()).unwrap();
    assert_eq!(diff["state"], "awaiting_approval", "{diff:#}");
    let run_id = diff["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        main_head(&lake, TABLE).await,
        head,
        "a dry run publishes nothing"
    );
    assert_eq!(money(diff_by_day(&diff, TABLE, "amount", false)), before);
    assert_eq!(
        money(diff_by_day(&diff, GOLD, "revenue", false)),
        gold_before
    );
    let quarantine = &diff["tables"][0];
    assert_eq!(quarantine["table"], "silver.transactions_quarantine");
    let quarantined: u64 = quarantine["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rows_after"].as_u64().unwrap())
        .sum();
    let bad: u64 = DAYS.iter().map(|d| truth.days[*d].counts.bad).sum();
    assert_eq!(quarantined, bad, "{quarantine:#}");
    let text = cli(&cluster, &["diff", &run_id]).unwrap();
    assert!(text.contains("sum(amount) before"), "{text}");

    let approve = [
        "publish",
        &run_id,
        "--approve",
        "--approved-by",
        "bob",
        "--reason",
        "diff read",
    ];
    cli(&cluster, &approve).unwrap();
    let after = money(duckdb_by_day(&lake, TABLE, "CAST(ts AS DATE)", "amount"));
    assert_eq!(money(diff_by_day(&diff, TABLE, "amount", true)), after);
    let expected: Vec<(String, u64, i64)> = DAYS
        .iter()
        .map(|d| {
            let c = &truth.days[*d].counts;
            (d.to_string(), c.valid, c.sum_amount_valid_cents)
        })
        .collect();
    assert_eq!(after, expected, "the new load, as the ground truth says");
    let gold_after = money(duckdb_by_day(&lake, GOLD, "day", "revenue"));
    assert_eq!(money(diff_by_day(&diff, GOLD, "revenue", true)), gold_after);

    let published: Value =
        serde_json::from_str(&cli(&cluster, &["diff", &run_id, "--json"]).unwrap()).unwrap();
    assert!(published["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["published"] == true));
    for (now, then) in published["tables"]
        .as_array()
        .unwrap()
        .iter()
        .zip(diff["tables"].as_array().unwrap())
    {
        assert_eq!(now["table"], then["table"]);
        assert_eq!(now["published"], true, "{now:#}");
        assert_eq!(
            (&now["before_snapshot_id"], &now["partitions"]),
            (&then["before_snapshot_id"], &then["partitions"]),
            "the diff reads the same once published"
        );
    }
}
