//! Maintenance cannot act too soon: ages under the safe minimums are refused,
//! and a commit whose snapshot was expired is still found.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_ages_below_the_safe_minimums_unless_told_it_is_a_test() {
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let truth = lake.generate(&small_sample(2_000));
    let task = day_task(
        &lake,
        &example_contract(),
        &truth,
        DAYS[0],
        &RunId::generate(),
    );
    run_all(catalog, &[task]).await;
    let cli = |args: &[&str]| {
        std::process::Command::new(floe_tests::cluster::binary("floe-coordinator"))
            .args(args)
            .args(["--table", &silver().to_string(), "--dry-run", "--lakehouse"])
            .arg(lake.dir.path())
            .output()
            .unwrap()
    };
    for (args, words) in [
        (
            &["remove-orphans", "--older-than", "1h"][..],
            "orphan removal at an age of 3600s",
        ),
        (
            &["expire", "--older-than", "0s"][..],
            "expiry at an age of 0s",
        ),
    ] {
        let out = cli(args);
        let message = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(
            message.contains(words) && message.contains("safe minimum of 24h"),
            "{message}"
        );
        let allowed = cli(&[args, &["--allow-unsafe-age"][..]].concat());
        assert!(
            allowed.status.success(),
            "{}",
            String::from_utf8_lossy(&allowed.stderr)
        );
    }
    assert!(cli(&["remove-orphans", "--older-than", "1d"])
        .status
        .success());
}

/// A task redelivered after its snapshots were expired finds its commit in the
/// partition's record and adds nothing: its rows are in the table once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_redelivered_after_its_snapshots_expired_commits_nothing_again() {
    let lake = Lakehouse::new().await;
    let contract = example_contract();
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    let truth = lake.generate(&small_sample(6_200));
    let run = RunId::generate();
    let first = day_task(&lake, &contract, &truth, DAYS[0], &run);
    let tasks = [
        first.clone(),
        day_task(&lake, &contract, &truth, DAYS[1], &run),
    ];
    run_all(catalog.clone(), &tasks).await;
    let loaded = silver_by_day(catalog.as_ref(), &silver()).await;
    let quarantined =
        rows_by_source_partition(catalog.as_ref(), &contract.target.quarantine_table).await;

    // Only each table's current snapshot is kept: the first task's are gone.
    for table in [
        &contract.target.table,
        &contract.target.quarantine_table,
        &contract.target.condemned_table,
    ] {
        expire_snapshots(
            catalog.as_ref(),
            table,
            &all_but_current(),
            &RetryPolicy::default(),
        )
        .await
        .unwrap();
    }
    let t = catalog.load_table_ok(&silver()).await;
    assert!(
        !floe_lake::commit::history::written_by(t.metadata(), &run, &first.attempt.task_id),
        "the first task's Silver snapshot was expired"
    );

    let report = run_task(&TaskEnv::new(catalog.clone()), &first.redelivered(2))
        .await
        .unwrap();
    assert_eq!(report.commits.len(), 3, "{:?}", report.commits);
    for (table, outcome) in &report.commits {
        assert!(
            matches!(
                outcome,
                floe_lake::commit::CommitOutcome::AlreadyCommitted { .. }
            ),
            "{table:?}: {outcome:?}"
        );
    }
    assert_eq!(silver_by_day(catalog.as_ref(), &silver()).await, loaded);
    assert_eq!(
        rows_by_source_partition(catalog.as_ref(), &contract.target.quarantine_table).await,
        quarantined
    );
}
