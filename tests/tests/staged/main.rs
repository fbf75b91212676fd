//! Staged runs on the table layer: a run's commits go to its own branch and
//! leave `main` untouched until the run is published; publishing replaces, on
//! `main`, exactly the partitions the run still owns, once, whatever else
//! committed meanwhile and in whichever order two runs' tasks and publishes
//! interleave.

mod expiry;

use std::collections::BTreeMap;
use std::sync::Arc;

use floe_common::task::{run_task, TaskEnv, TaskSpec};
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::history::{self, PUBLISHED_RUN};
use floe_lake::commit::publish::{
    drop_branch, publish, staging_branch, PublishOutcome, PublishRequest,
};
use floe_lake::commit::publish_diff::{publish_diff, PublishDiff};
use floe_lake::commit::{CommitOutcome, RetryPolicy};
use floe_lake::{LakeError, RunId, TaskId};
use floe_tests::commit_bench::bench_table;
use floe_tests::loads::run_all;
use floe_tests::staging::*;
use floe_tests::{day_task, example_contract, small_sample, three_tables, Lakehouse, SwapThenFail};
use iceberg::spec::MAIN_BRANCH;

#[tokio::test]
async fn a_staged_run_is_invisible_on_main_until_published_then_whole() {
    let lake = lakehouse().await;
    let catalog = lake.catalog.as_ref();
    let (old, run) = (RunId::generate(), RunId::generate());
    load(catalog, &old, "d1", DAY_1, false).await.unwrap();
    load(catalog, &old, "d2", DAY_2, false).await.unwrap();
    let main_before = owners_by_day(catalog, MAIN_BRANCH).await;

    load(catalog, &run, "d2", DAY_2, true).await.unwrap();
    load(catalog, &run, "d3", DAY_3, true).await.unwrap();
    assert_eq!(owners_by_day(catalog, MAIN_BRANCH).await, main_before);
    let branch = staging_branch(&run);
    assert_eq!(
        owners_by_day(catalog, &branch).await,
        days(&[(DAY_1, &old), (DAY_2, &run), (DAY_3, &run)]),
        "the branch starts at main and replaces the days the run loads"
    );
    // A redelivered task finds its commit on the branch, and only there.
    let again = load(catalog, &run, "d2", DAY_2, true).await.unwrap();
    assert!(
        matches!(again, CommitOutcome::AlreadyCommitted { .. }),
        "{again:?}"
    );
    let table = catalog.load_table(&bench_table()).await.unwrap().unwrap();
    let task = TaskId::new("d2");
    assert!(history::committed_snapshot(table.metadata(), &run, &task).is_none());

    let published = publish_run(catalog, &run).await;
    let PublishOutcome::Published {
        snapshot_id,
        partitions,
    } = published
    else {
        panic!("expected a publish, got {published:?}");
    };
    assert_eq!(partitions.len(), 2, "{partitions:?}");
    let expected = days(&[(DAY_1, &old), (DAY_2, &run), (DAY_3, &run)]);
    assert_eq!(owners_by_day(catalog, MAIN_BRANCH).await, expected);
    let table = catalog.load_table(&bench_table()).await.unwrap().unwrap();
    let snapshot = table.metadata().current_snapshot().unwrap();
    assert_eq!(snapshot.snapshot_id(), snapshot_id);
    let props = &snapshot.summary().additional_properties;
    assert_eq!(props.get(PUBLISHED_RUN), Some(&run.to_string()));
    assert_eq!(props.get("floe.audits").map(String::as_str), Some("passed"));
    assert_eq!(
        props.get("added-records").map(String::as_str),
        Some("200000")
    );
    assert_eq!(
        props.get("deleted-records").map(String::as_str),
        Some("100000")
    );

    assert_eq!(
        publish_run(catalog, &run).await,
        PublishOutcome::AlreadyPublished { snapshot_id }
    );
    assert_eq!(owners_by_day(catalog, MAIN_BRANCH).await, expected);
    let policy = RetryPolicy::default();
    assert!(drop_branch(catalog, &bench_table(), &run, &policy)
        .await
        .unwrap());
    assert!(!drop_branch(catalog, &bench_table(), &run, &policy)
        .await
        .unwrap());
    assert_eq!(owners_by_day(catalog, MAIN_BRANCH).await, expected);
    assert_eq!(
        publish_run(catalog, &run).await,
        PublishOutcome::AlreadyPublished { snapshot_id },
        "publishing stays idempotent once the branch is gone"
    );
}

#[tokio::test]
async fn publishing_keeps_what_main_gained_meanwhile_and_yields_to_newer_runs() {
    let lake = lakehouse().await;
    let catalog = lake.catalog.as_ref();
    let (older, staged, newer) = (RunId::generate(), RunId::generate(), RunId::generate());
    load(catalog, &staged, "d1", DAY_1, true).await.unwrap();
    load(catalog, &staged, "d2", DAY_2, true).await.unwrap();
    // An older run's straggler is refused by the fence the staged run set.
    let straggler = load(catalog, &older, "d1", DAY_1, false).await;
    assert!(
        matches!(straggler, Err(LakeError::Superseded { .. })),
        "{straggler:?}"
    );
    // A newer run loads day 2 and day 3 straight on main meanwhile.
    load(catalog, &newer, "d2", DAY_2, false).await.unwrap();
    load(catalog, &newer, "d3", DAY_3, false).await.unwrap();

    let published = publish_run(catalog, &staged).await;
    let PublishOutcome::Published { partitions, .. } = &published else {
        panic!("expected a publish, got {published:?}");
    };
    assert_eq!(
        partitions,
        &["ts_day=2024-10-04".to_string()],
        "day 1 alone: day 2 is the newer run's"
    );
    assert_eq!(
        owners_by_day(catalog, MAIN_BRANCH).await,
        days(&[(DAY_1, &staged), (DAY_2, &newer), (DAY_3, &newer)])
    );
}

#[tokio::test]
async fn an_ambiguous_publish_is_found_on_the_next_attempt() {
    let lake = lakehouse().await;
    let (old, run) = (RunId::generate(), RunId::generate());
    load(lake.catalog.as_ref(), &old, "d1", DAY_1, false)
        .await
        .unwrap();
    load(lake.catalog.as_ref(), &run, "d1", DAY_1, true)
        .await
        .unwrap();
    let lossy = SwapThenFail::new(lake.catalog.clone());
    let outcome = publish_run(&lossy, &run).await;
    assert!(
        matches!(outcome, PublishOutcome::AlreadyPublished { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        lossy.failures(),
        1,
        "the first swap landed and its answer was lost"
    );
    assert_eq!(
        owners_by_day(lake.catalog.as_ref(), MAIN_BRANCH).await,
        days(&[(DAY_1, &run)])
    );
    let table = lake
        .catalog
        .load_table(&bench_table())
        .await
        .unwrap()
        .unwrap();
    let publishes = history::ancestry(table.metadata())
        .iter()
        .filter(|s| {
            s.summary()
                .additional_properties
                .contains_key(PUBLISHED_RUN)
        })
        .count();
    assert_eq!(publishes, 1);
}

/// One step of two staged runs over days 1 and 2: A loads both (two tasks),
/// the newer B loads day 1; each publishes once its tasks ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    A1,
    A2,
    PublishA,
    B1,
    PublishB,
}

/// Every order of the steps in which a run publishes after its own tasks.
fn orders() -> Vec<Vec<Step>> {
    use Step::*;
    fn extend(prefix: Vec<Step>, left: Vec<Step>, out: &mut Vec<Vec<Step>>) {
        if left.is_empty() {
            out.push(prefix);
            return;
        }
        for (i, step) in left.iter().enumerate() {
            let ready = match step {
                PublishA => prefix.contains(&A1) && prefix.contains(&A2),
                PublishB => prefix.contains(&B1),
                _ => true,
            };
            if ready {
                let mut p = prefix.clone();
                p.push(*step);
                let mut l = left.clone();
                l.remove(i);
                extend(p, l, out);
            }
        }
    }
    let mut out = Vec::new();
    extend(Vec::new(), vec![A1, A2, PublishA, B1, PublishB], &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_interleaving_of_two_staged_runs_leaves_the_newer_load_of_each_day() {
    let all = orders();
    assert_eq!(all.len(), 20);
    for order in all {
        let lake = lakehouse().await;
        let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
        let catalog = catalog.as_ref();
        let (old, a, b) = (RunId::generate(), RunId::generate(), RunId::generate());
        load(catalog, &old, "d1", DAY_1, false).await.unwrap();
        load(catalog, &old, "d2", DAY_2, false).await.unwrap();
        for step in &order {
            let main_before = owners_by_day(catalog, MAIN_BRANCH).await;
            match step {
                Step::A1 => match load(catalog, &a, "d1", DAY_1, true).await {
                    Ok(_) => {}
                    Err(LakeError::Superseded { .. })
                        if order_has_before(&order, Step::B1, Step::A1) => {}
                    other => panic!("{order:?}: A1 gave {other:?}"),
                },
                Step::A2 => {
                    load(catalog, &a, "d2", DAY_2, true).await.unwrap();
                }
                Step::B1 => {
                    load(catalog, &b, "d1", DAY_1, true).await.unwrap();
                }
                Step::PublishA => {
                    publish_run(catalog, &a).await;
                }
                Step::PublishB => {
                    publish_run(catalog, &b).await;
                }
            }
            if !matches!(step, Step::PublishA | Step::PublishB) {
                assert_eq!(
                    owners_by_day(catalog, MAIN_BRANCH).await,
                    main_before,
                    "{order:?}: a staged task changed main at {step:?}"
                );
            }
        }
        assert_eq!(
            owners_by_day(catalog, MAIN_BRANCH).await,
            days(&[(DAY_1, &b), (DAY_2, &a)]),
            "{order:?}"
        );
    }
}

fn order_has_before(order: &[Step], first: Step, then: Step) -> bool {
    let at = |s| order.iter().position(|x| *x == s).unwrap();
    at(first) < at(then)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_tasks_reach_main_through_publish_alone() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_000));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let (old, run) = (RunId::generate(), RunId::generate());
    run_task(
        &env,
        &day_task(&lake, &contract, &truth, "2025-01-02", &old),
    )
    .await
    .unwrap();
    let before = three_tables(lake.catalog.as_ref(), &contract).await;
    let staged: Vec<TaskSpec> = ["2025-01-02", "2025-01-03"]
        .iter()
        .map(|day| TaskSpec {
            staged: true,
            ..day_task(&lake, &contract, &truth, day, &run)
        })
        .collect();
    for task in &staged {
        run_task(&env, task).await.unwrap();
        // Redelivered: every table finds its commit on the branch.
        let again = run_task(&env, &task.redelivered(2)).await.unwrap();
        assert!(
            again
                .commits
                .values()
                .all(|o| matches!(o, CommitOutcome::AlreadyCommitted { .. })),
            "{:?}",
            again.commits
        );
    }
    assert_eq!(three_tables(lake.catalog.as_ref(), &contract).await, before);
    let staged_diff = silver_diff(&lake, &run).await;
    assert!(!staged_diff.published);
    assert_diff_is_the_two_loads(&staged_diff, &truth);

    for table in [
        &contract.target.quarantine_table,
        &contract.target.condemned_table,
        &contract.target.table,
    ] {
        let req = PublishRequest {
            table: table.clone(),
            run: run.clone(),
            properties: BTreeMap::new(),
        };
        let outcome = publish(lake.catalog.as_ref(), &req, &RetryPolicy::default())
            .await
            .unwrap();
        assert!(
            matches!(outcome, PublishOutcome::Published { .. }),
            "{table}: {outcome:?}"
        );
    }
    let published_diff = silver_diff(&lake, &run).await;
    assert!(published_diff.published);
    assert_eq!(
        published_diff.partitions, staged_diff.partitions,
        "the diff reads the same once published"
    );
    let direct: Vec<TaskSpec> = staged
        .iter()
        .map(|t| TaskSpec {
            staged: false,
            ..t.clone()
        })
        .collect();
    let reference = Lakehouse::new().await;
    run_all(reference.catalog.clone(), &direct).await;
    assert_eq!(
        three_tables(lake.catalog.as_ref(), &contract).await,
        three_tables(reference.catalog.as_ref(), &contract).await
    );
}

/// `run`'s publish diff of the example contract's Silver table, summing `amount`.
async fn silver_diff(lake: &Lakehouse, run: &RunId) -> PublishDiff {
    let name = example_contract().target.table.clone();
    let table = lake.catalog.load_table(&name).await.unwrap().unwrap();
    publish_diff(&table, run, &["amount".to_string()])
        .await
        .unwrap()
        .expect("the run changes Silver")
}

/// The diff of a staged load of 2025-01-02 and -03 over a load of -02: per
/// day, the ground truth's rows and amounts before (the old load of -02,
/// nothing on -03) and after.
fn assert_diff_is_the_two_loads(diff: &PublishDiff, truth: &floe_sample::GroundTruth) {
    let day = |d: &str| &truth.days[d].counts;
    let cents = |t: &floe_lake::data::totals::Totals| {
        t.sums
            .get("amount")
            .map(|s| floe_tests::readers::cents(&s.to_string()))
    };
    let got: Vec<_> = diff
        .partitions
        .iter()
        .map(|p| {
            let totals = [&p.before, &p.after].map(|t| (t.rows, cents(t)));
            (p.partition.as_str(), totals)
        })
        .collect();
    let (d2, d3) = (day("2025-01-02"), day("2025-01-03"));
    let loaded = |c: &floe_sample::Counts| (c.valid, Some(c.sum_amount_valid_cents));
    assert_eq!(
        got,
        vec![
            ("ts_day=2025-01-02", [loaded(d2), loaded(d2)]),
            ("ts_day=2025-01-03", [(0, None), loaded(d3)]),
        ]
    );
}

#[tokio::test]
async fn a_published_run_rolls_back_like_any_run_and_cannot_publish_again() {
    use floe_lake::commit::rollback::{rollback, RollbackTarget};
    let lake = lakehouse().await;
    let catalog = lake.catalog.as_ref();
    let (old, run) = (RunId::generate(), RunId::generate());
    load(catalog, &old, "d1", DAY_1, false).await.unwrap();
    load(catalog, &run, "d1", DAY_1, true).await.unwrap();
    load(catalog, &run, "d2", DAY_2, true).await.unwrap();
    publish_run(catalog, &run).await;
    assert_eq!(
        owners_by_day(catalog, MAIN_BRANCH).await,
        days(&[(DAY_1, &run), (DAY_2, &run)])
    );

    let target = RollbackTarget::BeforeRun(run.clone());
    let policy = RetryPolicy::default();
    let outcome = rollback(catalog, &bench_table(), &target, false, false, &policy)
        .await
        .unwrap();
    assert!(outcome.applied);
    assert_eq!(
        outcome.plan.discarded.len(),
        1,
        "the publish snapshot alone"
    );
    assert_eq!(
        owners_by_day(catalog, MAIN_BRANCH).await,
        days(&[(DAY_1, &old)])
    );
    // Neither the run's stragglers nor a second publish bring it back.
    let straggler = load(catalog, &run, "d3", DAY_3, true).await;
    assert!(
        matches!(straggler, Err(LakeError::RunRolledBack { .. })),
        "{straggler:?}"
    );
    let again = PublishRequest {
        table: bench_table(),
        run: run.clone(),
        properties: BTreeMap::new(),
    };
    let again = publish(catalog, &again, &policy).await;
    assert!(
        matches!(again, Err(LakeError::RunRolledBack { .. })),
        "{again:?}"
    );
    assert_eq!(
        owners_by_day(catalog, MAIN_BRANCH).await,
        days(&[(DAY_1, &old)])
    );
}
