//! Overlapping runs: a run submitted over partitions an unfinished run is still
//! loading takes them over. In the same transaction that records the new run,
//! the older runs' queued tasks for those partitions become `Superseded` (the
//! coordinator drops their deliveries); their running tasks are refused by the
//! partitions' fences when they commit. The tables stay the authority: this
//! only spares work and tells `status` what happened.

use std::collections::{BTreeMap, BTreeSet};

use floe_lake::RunId;
use sqlx::sqlite::SqliteConnection;

use super::model::{RunState, TaskRecord, TaskState};
use super::{store, transition, Ledger, Result};
use crate::plan::PlannedTask;

/// What a task writes: Silver (with its quarantine and condemned tables) or
/// one Gold model, in one partition.
type Target = (Option<String>, Option<String>);

fn target_of_plan(t: &PlannedTask) -> Target {
    (
        t.gold.as_ref().map(|g| g.model.clone()),
        t.partition.clone(),
    )
}

fn target_of_record(t: &TaskRecord) -> Target {
    (
        t.gold.as_ref().map(|g| g.model.clone()),
        t.partition.clone(),
    )
}

/// An unfinished older run whose partitions a new plan would take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub run_id: RunId,
    pub period: String,
    /// The partitions both load, in order.
    pub partitions: Vec<String>,
    /// Its tasks there not yet started (dropped by the new run)...
    pub queued: usize,
    /// ...and running (refused by the fences when they commit).
    pub running: usize,
}

impl Ledger {
    /// The unfinished runs of `pipeline` that `plan` overlaps, oldest first.
    pub async fn overlaps(&self, pipeline: &str, plan: &[PlannedTask]) -> Result<Vec<Overlap>> {
        let mut tx = self.read().await?;
        let found = overlapping(&mut tx, &self.path, pipeline, plan, None).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(found.into_iter().map(|(overlap, _)| overlap).collect())
    }
}

/// The unfinished runs of `pipeline` (other than `except`) with unfinished
/// tasks writing what `plan` writes, each with those tasks.
pub(super) async fn overlapping(
    conn: &mut SqliteConnection,
    path: &str,
    pipeline: &str,
    plan: &[PlannedTask],
    except: Option<&RunId>,
) -> Result<Vec<(Overlap, Vec<TaskRecord>)>> {
    let targets: BTreeSet<Target> = plan.iter().map(target_of_plan).collect();
    let runs = runs_in_states(conn, path, pipeline, &[RunState::Running]).await?;
    let mut found = Vec::new();
    for (run_id, period) in runs {
        let run_id = RunId::new(run_id);
        if Some(&run_id) == except {
            continue;
        }
        let tasks: Vec<TaskRecord> = store::load_tasks(conn, path, &run_id)
            .await?
            .into_iter()
            .filter(|t| !t.state.is_terminal() && targets.contains(&target_of_record(t)))
            .collect();
        if tasks.is_empty() {
            continue;
        }
        let partitions: BTreeSet<String> = tasks
            .iter()
            .map(|t| {
                t.partition
                    .clone()
                    .unwrap_or_else(|| "(unpartitioned)".into())
            })
            .collect();
        let queued = tasks
            .iter()
            .filter(|t| t.state == TaskState::Queued)
            .count();
        found.push((
            Overlap {
                run_id,
                period,
                partitions: partitions.into_iter().collect(),
                queued,
                running: tasks.len() - queued,
            },
            tasks,
        ));
    }
    Ok(found)
}

/// Staged runs that wrote what `plan` writes and are not published yet
/// (publishing or awaiting approval): their publish will replace those
/// partitions on `main`, so a pass over them must wait until it has.
pub(super) async fn unpublished_holders(
    conn: &mut SqliteConnection,
    path: &str,
    pipeline: &str,
    plan: &[PlannedTask],
) -> Result<Vec<Overlap>> {
    let targets: BTreeSet<Target> = plan.iter().map(target_of_plan).collect();
    let unpublished = [RunState::Publishing, RunState::AwaitingApproval];
    let runs = runs_in_states(conn, path, pipeline, &unpublished).await?;
    let mut found = Vec::new();
    for (run_id, period) in runs {
        let run_id = RunId::new(run_id);
        let partitions: BTreeSet<String> = store::load_tasks(conn, path, &run_id)
            .await?
            .into_iter()
            .filter(|t| t.state == TaskState::Succeeded && targets.contains(&target_of_record(t)))
            .map(|t| t.partition.unwrap_or_else(|| "(unpartitioned)".into()))
            .collect();
        if !partitions.is_empty() {
            found.push(Overlap {
                run_id,
                period,
                partitions: partitions.into_iter().collect(),
                queued: 0,
                running: 0,
            });
        }
    }
    Ok(found)
}

/// Marks the queued tasks of the runs `newer` overlaps as superseded by it and
/// recomputes those runs. Part of the transaction that records `newer`.
pub(super) async fn supersede_queued(
    conn: &mut SqliteConnection,
    path: &str,
    newer: &RunId,
    overlaps: &[(Overlap, Vec<TaskRecord>)],
    now: i64,
) -> Result<BTreeMap<RunId, usize>> {
    let mut dropped = BTreeMap::new();
    for (overlap, tasks) in overlaps {
        if newer.is_newer_than(&overlap.run_id) {
            let error = format!("its partition is loaded by run {newer}, submitted later");
            for t in tasks.iter().filter(|t| t.state == TaskState::Queued) {
                sqlx::query(
                    "UPDATE tasks SET state = ?, superseded_by = ?, last_error = ?, updated_at_ms = ?
                     WHERE run_id = ? AND task_id = ?",
                )
                .bind(TaskState::Superseded.as_str())
                .bind(newer.as_str())
                .bind(&error)
                .bind(now)
                .bind(overlap.run_id.as_str())
                .bind(t.task_id.as_str())
                .execute(&mut *conn)
                .await
                .map_err(|e| super::db_err(path, e))?;
                *dropped.entry(overlap.run_id.clone()).or_default() += 1;
            }
            transition::recompute(conn, path, &overlap.run_id, now).await?;
        }
    }
    Ok(dropped)
}

/// The (run id, period) of `pipeline`'s runs in one of `states`, oldest first.
async fn runs_in_states(
    conn: &mut SqliteConnection,
    path: &str,
    pipeline: &str,
    states: &[RunState],
) -> Result<Vec<(String, String)>> {
    let marks = vec!["?"; states.len()].join(", ");
    let sql = format!(
        "SELECT run_id, period FROM runs WHERE pipeline = ? AND state IN ({marks})
         ORDER BY created_at_ms, rowid"
    );
    let mut query = sqlx::query_as(&sql).bind(pipeline);
    for state in states {
        query = query.bind(state.as_str());
    }
    query
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| super::db_err(path, e))
}

#[cfg(test)]
mod tests {
    use floe_lake::TaskId;

    use super::super::tests::{ledger, new_run, planned, run, snaps, stats};
    use super::*;

    /// Run A over days 1–4, started on day 1 and running on day 2; run B over
    /// days 2–5. B takes days 2–4: A's queued tasks there are superseded, its
    /// running one is left to the fence, and A ends `superseded` naming B.
    #[tokio::test]
    async fn a_newer_run_takes_over_the_queued_tasks_of_an_older_one() {
        let (_dir, l) = ledger().await;
        let all = planned(5);
        let (a, b) = (RunId::new("run-a"), RunId::new("run-b"));
        l.create_run(&new_run("run-a"), &all[..4]).await.unwrap();
        l.task_started(&a, &all[0].task_id, 1).await.unwrap();
        l.task_succeeded(&a, &all[0].task_id, 1, &stats(0), &snaps(1))
            .await
            .unwrap();
        l.task_started(&a, &all[1].task_id, 1).await.unwrap();

        let overlaps = l.overlaps("transactions", &all[1..]).await.unwrap();
        assert_eq!(overlaps.len(), 1);
        let o = &overlaps[0];
        assert_eq!(o.run_id, a);
        assert_eq!(o.partitions, ["2025-01-02", "2025-01-03", "2025-01-04"]);
        assert_eq!((o.queued, o.running), (2, 1));
        assert!(
            l.overlaps("another", &all[1..]).await.unwrap().is_empty(),
            "other pipelines are not touched"
        );

        let dropped = l
            .create_run_superseding(&new_run("run-b"), &all[1..])
            .await
            .unwrap();
        assert_eq!(dropped, BTreeMap::from([(a.clone(), 2)]));
        let ra = run(&l, &a).await;
        let state = |i: usize| ra.task(&all[i].task_id).unwrap().state;
        assert_eq!(state(0), TaskState::Succeeded);
        assert_eq!(state(1), TaskState::Running, "left to the fence");
        assert_eq!(
            (state(2), state(3)),
            (TaskState::Superseded, TaskState::Superseded)
        );
        assert_eq!(
            ra.task(&all[2].task_id).unwrap().superseded_by,
            Some(b.clone())
        );
        assert_eq!(ra.state, RunState::Running);

        // The running task is refused at commit and reported so.
        l.task_superseded(&a, &all[1].task_id, 1, Some(&b), "refused by the fence")
            .await
            .unwrap();
        let ra = run(&l, &a).await;
        assert_eq!(ra.state, RunState::Superseded);
        let summary = ra.error.unwrap();
        assert!(
            summary.starts_with("3 of 4 tasks lost their partitions"),
            "{summary}"
        );
        assert!(summary.contains("2025-01-02 to run run-b"), "{summary}");
        let described = ra.tasks[1].describe();
        assert!(described.contains("superseded by run run-b"), "{described}");
        assert_eq!(run(&l, &b).await.state, RunState::Running);
    }

    /// An older run submitted later (a clock behind) takes nothing from a newer one.
    #[tokio::test]
    async fn an_older_run_supersedes_nothing() {
        let (_dir, l) = ledger().await;
        let all = planned(3);
        l.create_run(&new_run("run-b"), &all).await.unwrap();
        let dropped = l
            .create_run_superseding(&new_run("run-a"), &all)
            .await
            .unwrap();
        assert!(dropped.is_empty());
        let rb = run(&l, &RunId::new("run-b")).await;
        assert!(rb.tasks.iter().all(|t| t.state == TaskState::Queued));
    }

    /// A task that committed before the newer run's submit keeps its success;
    /// a superseded task whose commit is found later succeeds after all.
    #[tokio::test]
    async fn a_success_stands_against_supersession() {
        let (_dir, l) = ledger().await;
        let all = planned(2);
        let a = RunId::new("run-a");
        l.create_run(&new_run("run-a"), &all).await.unwrap();
        l.create_run_superseding(&new_run("run-b"), &all)
            .await
            .unwrap();
        let id: &TaskId = &all[0].task_id;
        l.task_succeeded(&a, id, 1, &stats(0), &snaps(7))
            .await
            .unwrap();
        assert_eq!(
            run(&l, &a).await.task(id).unwrap().state,
            TaskState::Succeeded
        );
    }
}
