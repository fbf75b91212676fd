//! One task's work against a real SQLite catalog and warehouse: row accounting
//! against the generator's ground truth, idempotency, backfill replacement,
//! concurrent committers, and crashes around the commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use floe_common::table::TableRole;
use floe_common::task::{run_task, FailAt, FailPoint, TaskEnv};
use floe_lake::commit::CommitOutcome;
use floe_lake::RunId;
use floe_tests::*;

const DAYS: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_accounts_for_every_row_against_ground_truth() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let run = RunId::generate();
    for day in DAYS {
        let report = run_task(&env, &day_task(&lake, &contract, &truth, day, &run))
            .await
            .unwrap();
        let expected = &truth.days[day].counts;
        let s = &report.stats;
        assert_eq!(s.rows_in, expected.rows, "{day}: rows in");
        assert_eq!(s.valid, expected.valid, "{day}: valid");
        assert_eq!(s.quarantined, expected.bad, "{day}: quarantined");
        assert_eq!(s.condemned, expected.duplicates, "{day}: condemned");
        assert!(s.is_balanced());
        assert!(matches!(
            report.commits[&TableRole::Silver],
            CommitOutcome::Committed { .. }
        ));
    }
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    let quarantine =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    let condemned =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.condemned_table).await;
    for day in DAYS {
        let expected = &truth.days[day].counts;
        assert_eq!(
            silver[day],
            (expected.valid, expected.sum_amount_valid_cents),
            "{day}"
        );
        assert_eq!(quarantine[day], expected.bad, "{day}");
        assert_eq!(condemned[day], expected.duplicates, "{day}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committing_the_same_task_twice_is_a_no_op() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let task = day_task(&lake, &contract, &truth, DAYS[0], &RunId::generate());
    let first = run_task(&env, &task).await.unwrap();
    let redelivered = task.redelivered(2);
    let second = run_task(&env, &redelivered).await.unwrap();
    for role in TableRole::ALL {
        let (a, b) = (first.commits[&role], second.commits[&role]);
        assert_eq!(a.snapshot_id(), b.snapshot_id(), "{role:?}");
        assert!(
            matches!(b, CommitOutcome::AlreadyCommitted { .. }),
            "{role:?}: {b:?}"
        );
    }
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    assert_eq!(silver[DAYS[0]].0, truth.days[DAYS[0]].counts.valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerunning_a_backfill_replaces_instead_of_appending() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    for _ in 0..3 {
        let run = RunId::generate();
        for day in &DAYS[..2] {
            run_task(&env, &day_task(&lake, &contract, &truth, day, &run))
                .await
                .unwrap();
        }
    }
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    let quarantine =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    for day in &DAYS[..2] {
        let expected = &truth.days[*day].counts;
        assert_eq!(
            silver[*day],
            (expected.valid, expected.sum_amount_valid_cents),
            "{day}"
        );
        assert_eq!(quarantine[*day], expected.bad, "{day}");
    }
    // A later run for one day leaves the other day's rows alone.
    run_task(
        &env,
        &day_task(&lake, &contract, &truth, DAYS[0], &RunId::generate()),
    )
    .await
    .unwrap();
    let after = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    assert_eq!(after, silver);
    let table = lake.catalog.load_table_ok(&contract.target.table).await;
    let ops: Vec<String> = table
        .metadata()
        .snapshots()
        .map(|s| s.summary().operation.as_str().to_string())
        .collect();
    assert!(ops.iter().any(|o| o == "overwrite"), "{ops:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_committers_lose_nothing() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(12_400));
    let contract = example_contract();
    let run = RunId::generate();
    let days: Vec<String> = truth.days.keys().take(6).cloned().collect();
    let mut handles = Vec::new();
    for day in &days {
        // Each task talks to the catalog through its own connection pool, as separate workers do.
        let env = TaskEnv::new(lake.another_catalog().await);
        let task = day_task(&lake, &contract, &truth, day, &run);
        handles.push(tokio::spawn(async move { run_task(&env, &task).await }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    for day in &days {
        let expected = &truth.days[day].counts;
        assert_eq!(
            silver[day],
            (expected.valid, expected.sum_amount_valid_cents),
            "{day}"
        );
    }
    assert_eq!(silver.len(), days.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_commit_leaves_nothing_visible_and_the_retry_succeeds() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let contract = example_contract();
    let task = day_task(&lake, &contract, &truth, DAYS[0], &RunId::generate());
    let crashing = TaskEnv {
        fail_point: Some(FailPoint::error(FailAt::BeforeCommit)),
        ..TaskEnv::new(lake.catalog.clone())
    };
    assert!(run_task(&crashing, &task).await.is_err());
    assert!(silver_by_day(lake.catalog.as_ref(), &contract.target.table)
        .await
        .is_empty());
    assert!(
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.quarantine_table)
            .await
            .is_empty()
    );

    let retry = task.redelivered(2);
    run_task(&TaskEnv::new(lake.catalog.clone()), &retry)
        .await
        .unwrap();
    let expected = &truth.days[DAYS[0]].counts;
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    assert_eq!(
        silver[DAYS[0]],
        (expected.valid, expected.sum_amount_valid_cents)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_table_commits_converges_to_one_copy_in_each_table() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let contract = example_contract();
    let task = day_task(&lake, &contract, &truth, DAYS[0], &RunId::generate());
    for (attempt, role) in [(1, TableRole::Quarantine), (2, TableRole::Condemned)] {
        let crashing = TaskEnv {
            fail_point: Some(FailPoint::error(FailAt::AfterCommit(role))),
            ..TaskEnv::new(lake.catalog.clone())
        };
        let t = task.redelivered(attempt);
        assert!(run_task(&crashing, &t).await.is_err());
    }
    // Silver is not visible yet: it is committed last.
    assert!(silver_by_day(lake.catalog.as_ref(), &contract.target.table)
        .await
        .is_empty());
    let last = task.redelivered(3);
    let report = run_task(&TaskEnv::new(lake.catalog.clone()), &last)
        .await
        .unwrap();
    assert!(matches!(
        report.commits[&TableRole::Quarantine],
        CommitOutcome::AlreadyCommitted { .. }
    ));
    assert!(matches!(
        report.commits[&TableRole::Silver],
        CommitOutcome::Committed { .. }
    ));
    let expected = &truth.days[DAYS[0]].counts;
    let q =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    let c = rows_by_source_partition(lake.catalog.as_ref(), &contract.target.condemned_table).await;
    assert_eq!(q[DAYS[0]], expected.bad);
    assert_eq!(c[DAYS[0]], expected.duplicates);
    let s = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    assert_eq!(
        s[DAYS[0]],
        (expected.valid, expected.sum_amount_valid_cents)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_commit_is_settled_by_reloading() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let contract = example_contract();
    let flaky = Arc::new(SwapThenFail::new(lake.catalog.clone()));
    let env = TaskEnv::new(flaky.clone());
    let report = run_task(
        &env,
        &day_task(&lake, &contract, &truth, DAYS[0], &RunId::generate()),
    )
    .await
    .unwrap();
    // Every swap "failed" after succeeding; the protocol found its own snapshot each time.
    assert!(flaky.failures() >= 3);
    for role in TableRole::ALL {
        assert!(
            matches!(
                report.commits[&role],
                CommitOutcome::AlreadyCommitted { .. }
            ),
            "{role:?}"
        );
    }
    let expected = &truth.days[DAYS[0]].counts;
    let s = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    assert_eq!(
        s[DAYS[0]],
        (expected.valid, expected.sum_amount_valid_cents)
    );
    let snapshots: BTreeMap<_, _> = silver_snapshot_count(&lake, &contract).await;
    assert_eq!(
        snapshots.values().sum::<usize>(),
        1,
        "exactly one Silver snapshot"
    );
}

async fn silver_snapshot_count(
    lake: &Lakehouse,
    contract: &floe_common::contract::Contract,
) -> BTreeMap<String, usize> {
    let t = lake.catalog.load_table_ok(&contract.target.table).await;
    let mut out = BTreeMap::new();
    for s in t.metadata().snapshots() {
        *out.entry(s.summary().operation.as_str().to_string())
            .or_insert(0) += 1;
    }
    out
}

/// Floe's manifests carry partition summaries, and a load replacing one day
/// reads only the manifests whose summaries may hold that day: here one of the
/// three days' manifests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_reads_only_the_manifests_that_may_hold_its_partition() {
    use floe_lake::commit::prune::PartitionFilter;
    use iceberg::spec::{Literal, Struct};

    let lake = Lakehouse::new().await;
    let contract = example_contract();
    let truth = lake.generate(&small_sample(6_200));
    let run = RunId::generate();
    let days = ["2025-01-01", "2025-01-02", "2025-01-03"];
    let env = TaskEnv::new(lake.catalog.clone());
    for day in days {
        run_task(&env, &day_task(&lake, &contract, &truth, day, &run))
            .await
            .unwrap();
    }
    let table = lake.catalog.load_table_ok(&contract.target.table).await;
    let manifests = table
        .manifest_list_reader(table.metadata().current_snapshot().unwrap())
        .load()
        .await
        .unwrap()
        .entries()
        .to_vec();
    assert_eq!(manifests.len(), 3, "one manifest per day's commit");
    let epoch_day = |d: &str| {
        (chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
            - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as i32
    };
    for day in days {
        let partition = Struct::from_iter([Some(Literal::date(epoch_day(day)))]);
        let filter = PartitionFilter::new(table.metadata(), &partition);
        let held = manifests.iter().filter(|m| filter.may_hold(m)).count();
        assert_eq!(held, 1, "{day}");
    }
    let later = Struct::from_iter([Some(Literal::date(epoch_day("2025-02-01")))]);
    let filter = PartitionFilter::new(table.metadata(), &later);
    assert!(manifests.iter().all(|m| !filter.may_hold(m)));
}

mod evolution;
mod lineage_bounds;
mod sources;
