//! Partition fencing with real tasks on the embedded catalog: two runs over one
//! split day, in the orders production produces (a straggler after a re-run,
//! interleaved tasks, a commit refused after the task read its input), always
//! leave exactly the newer run's complete load, and a refused task leaves no
//! files behind.

use std::path::Path;
use std::sync::Arc;

use floe_common::contract::Contract;
use floe_common::task::{run_task, FailPoint, TaskEnv, TaskSpec};
use floe_common::FloeError;
use floe_lake::commit::CommitOutcome;
use floe_lake::{LakeError, RunId};
use floe_tests::loads::{run_all, split_day};
use floe_tests::*;

const DAY: &str = "2025-01-02";

/// The tables after `tasks` alone, on a fresh catalog: one complete load.
async fn reference(tasks: &[TaskSpec], contract: &Contract) -> Tables {
    let other = Lakehouse::new().await;
    run_all(other.catalog.clone(), tasks).await;
    three_tables(other.catalog.as_ref(), contract).await
}

/// Data files in the warehouse written by `task` of `run`, referenced or not.
fn files_of(warehouse: &Path, run: &RunId, task: &TaskSpec) -> Vec<String> {
    let start = floe_lake::commit::fence::file_prefix(run, task.attempt.task_id.as_str());
    let mut found = Vec::new();
    let mut dirs = vec![warehouse.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&start))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

fn superseded_by(result: floe_common::Result<floe_common::task::TaskReport>) -> String {
    match result {
        Err(FloeError::Lake(LakeError::Superseded { by, .. })) => by.expect("the owner is named"),
        other => panic!("expected the task to be superseded, got {other:?}"),
    }
}

struct Setup {
    lake: Lakehouse,
    contract: Arc<Contract>,
    older: Vec<TaskSpec>,
    newer: Vec<TaskSpec>,
    newer_run: RunId,
}

async fn two_runs_over_one_split_day() -> Setup {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(9_000));
    let contract = example_contract();
    let (a, b) = (RunId::generate(), RunId::generate());
    let older = split_day(&lake, &contract, &truth, DAY, &a, 2);
    let newer = split_day(&lake, &contract, &truth, DAY, &b, 2);
    assert_eq!(older.len(), 2, "the day is split in two tasks");
    Setup {
        lake,
        contract,
        older,
        newer,
        newer_run: b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_straggler_after_a_rerun_is_refused_and_the_rerun_stands() {
    let s = two_runs_over_one_split_day().await;
    let env = TaskEnv::new(s.lake.catalog.clone());
    run_task(&env, &s.older[0]).await.unwrap();
    for t in &s.newer {
        run_task(&env, t).await.unwrap();
    }
    // The older run's second task comes back after its lease expired.
    let by = superseded_by(run_task(&env, &s.older[1]).await);
    assert_eq!(by, s.newer_run.as_str());
    let expected = reference(&s.newer, &s.contract).await;
    assert_eq!(
        three_tables(s.lake.catalog.as_ref(), &s.contract).await,
        expected
    );
    let left = files_of(&s.lake.warehouse(), &s.older[1].attempt.run_id, &s.older[1]);
    assert!(left.is_empty(), "a refused task leaves no files: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_tasks_of_two_runs_leave_the_newer_load() {
    let s = two_runs_over_one_split_day().await;
    let env = TaskEnv::new(s.lake.catalog.clone());
    // A1, B1, A2, B2.
    run_task(&env, &s.older[0]).await.unwrap();
    run_task(&env, &s.newer[0]).await.unwrap();
    superseded_by(run_task(&env, &s.older[1]).await);
    run_task(&env, &s.newer[1]).await.unwrap();
    let expected = reference(&s.newer, &s.contract).await;
    assert_eq!(
        three_tables(s.lake.catalog.as_ref(), &s.contract).await,
        expected
    );
    // The older run's first task redelivered finds its own commits (made
    // before the newer run's) and changes nothing.
    let again = s.older[0].redelivered(2);
    let report = run_task(&env, &again).await.unwrap();
    assert!(report
        .commits
        .values()
        .all(|c| matches!(c, CommitOutcome::AlreadyCommitted { .. })));
    assert_eq!(
        three_tables(s.lake.catalog.as_ref(), &s.contract).await,
        expected
    );
}

/// The older run's task has read its input and written its files when the newer
/// run commits: the fence refuses it inside the commit loop, and its files go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_refused_after_the_read_removes_its_files() {
    let s = two_runs_over_one_split_day().await;
    let slow = TaskEnv {
        fail_point: Some(FailPoint::parse("before-commit:sleep-ms=3000").unwrap()),
        ..TaskEnv::new(s.lake.catalog.clone())
    };
    let env = TaskEnv::new(s.lake.another_catalog().await);
    let straggler = tokio::spawn({
        let task = s.older[0].clone();
        async move { run_task(&slow, &task).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for t in &s.newer {
        run_task(&env, t).await.unwrap();
    }
    let by = superseded_by(straggler.await.unwrap());
    assert_eq!(by, s.newer_run.as_str());
    let expected = reference(&s.newer, &s.contract).await;
    assert_eq!(
        three_tables(s.lake.catalog.as_ref(), &s.contract).await,
        expected
    );
    let left = files_of(&s.lake.warehouse(), &s.older[0].attempt.run_id, &s.older[0]);
    assert!(left.is_empty(), "a refused task leaves no files: {left:?}");
}
