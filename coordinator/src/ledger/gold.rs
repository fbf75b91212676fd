//! Gold tasks wait in the ledger (`enqueued = 0`) until the tasks they depend
//! on have succeeded; then the coordinator puts them on the queue with the
//! snapshots those tasks committed, so each Gold task reads exactly its run's data.

use std::collections::{BTreeMap, HashMap};

use floe_lake::{RunId, TaskId};

use super::model::{TaskRecord, TaskState};
use super::{now_ms, store, transition, Ledger, Result};

/// A Gold task whose dependencies all succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyGold {
    pub task_id: TaskId,
    pub model: String,
    pub partition: Option<String>,
    /// Per table, the snapshots the dependencies committed to it.
    pub pins: BTreeMap<String, Vec<i64>>,
}

impl Ledger {
    /// The waiting Gold tasks of `run_id` that may run now. A waiting task
    /// whose dependency ended without success fails instead (naming it), so the
    /// Gold partition keeps its previous state and the run can finish.
    pub async fn gold_ready(&self, run_id: &RunId) -> Result<Vec<ReadyGold>> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT task_id FROM tasks WHERE run_id = ? AND gold IS NOT NULL AND enqueued = 0 AND state = ?
             ORDER BY ordinal",
        )
        .bind(run_id.as_str())
        .bind(TaskState::Queued.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        let mut tasks: HashMap<TaskId, TaskRecord> = store::load_tasks(&mut tx, &self.path, run_id)
            .await?
            .into_iter()
            .map(|t| (t.task_id.clone(), t))
            .collect();
        let mut ready = Vec::new();
        // Plan order puts every task after those it waits for, so a failure
        // cascades through one pass.
        for id in waiting {
            let Some(task) = tasks.get(&TaskId::new(id)).cloned() else {
                continue;
            };
            let Some(gold) = &task.gold else { continue };
            let deps: Vec<&TaskRecord> = gold
                .depends_on
                .iter()
                .filter_map(|d| tasks.get(d))
                .collect();
            if let Some(failed) = deps
                .iter()
                .find(|d| d.state.is_terminal() && d.state != TaskState::Succeeded)
            {
                // A partition a newer run took is that run's to rebuild.
                let (state, error) = if failed.state == TaskState::Superseded {
                    (
                        TaskState::Superseded,
                        format!("not run because {}", failed.describe()),
                    )
                } else {
                    (
                        TaskState::Failed,
                        format!(
                            "not run because {}; the Gold partition keeps its previous state",
                            failed.describe()
                        ),
                    )
                };
                let by = failed.superseded_by.clone();
                sqlx::query("UPDATE tasks SET state = ?, last_error = ?, updated_at_ms = ?, superseded_by = ? WHERE run_id = ? AND task_id = ?")
                    .bind(state.as_str())
                    .bind(&error)
                    .bind(now)
                    .bind(by.as_ref().map(RunId::as_str))
                    .bind(run_id.as_str())
                    .bind(task.task_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                if let Some(t) = tasks.get_mut(&task.task_id) {
                    t.state = state;
                    t.last_error = Some(error);
                    t.superseded_by = by;
                }
                continue;
            }
            if deps.len() == gold.depends_on.len()
                && deps.iter().all(|d| d.state == TaskState::Succeeded)
                && nothing_to_rebuild(&deps)
            {
                // A reprocess that moved no row to Silver changes no model.
                sqlx::query(
                    "UPDATE tasks SET state = ?, stats = ?, enqueued = 1, updated_at_ms = ?
                     WHERE run_id = ? AND task_id = ?",
                )
                .bind(TaskState::Succeeded.as_str())
                .bind(r#"{"rows_in":0,"valid":0,"quarantined":0,"condemned":0,"files_read":0,"bytes_read":0,"data_files_written":0}"#)
                .bind(now)
                .bind(run_id.as_str())
                .bind(task.task_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                if let Some(t) = tasks.get_mut(&task.task_id) {
                    t.state = TaskState::Succeeded;
                }
                continue;
            }
            if deps.len() == gold.depends_on.len()
                && deps.iter().all(|d| d.state == TaskState::Succeeded)
            {
                ready.push(ReadyGold {
                    task_id: task.task_id.clone(),
                    model: gold.model.clone(),
                    partition: task.partition.clone(),
                    pins: pins(&deps),
                });
            }
        }
        transition::recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(ready)
    }

    /// Records that these waiting tasks are on the queue.
    pub async fn mark_tasks_enqueued(&self, run_id: &RunId, tasks: &[TaskId]) -> Result<()> {
        let mut tx = self.write().await?;
        for t in tasks {
            sqlx::query("UPDATE tasks SET enqueued = 1 WHERE run_id = ? AND task_id = ?")
                .bind(run_id.as_str())
                .bind(t.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }
}

/// True when a Gold task's inputs did not change: it waits on a reprocess pass
/// that moved no row to Silver (and on upstream models skipped for the same
/// reason).
fn nothing_to_rebuild(deps: &[&TaskRecord]) -> bool {
    let unchanged = |d: &TaskRecord| match (&d.pass, &d.gold) {
        (Some(_), _) => d.stats.as_ref().is_some_and(|s| s.valid == 0),
        (None, Some(_)) => d.snapshots.is_empty(),
        (None, None) => false,
    };
    deps.iter().any(|d| d.pass.is_some()) && deps.iter().all(|d| unchanged(d))
}

/// The snapshots the dependencies committed, by table.
fn pins(deps: &[&TaskRecord]) -> BTreeMap<String, Vec<i64>> {
    let mut pins: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for s in deps.iter().flat_map(|d| &d.snapshots) {
        pins.entry(s.table.clone()).or_default().push(s.snapshot_id);
    }
    for ids in pins.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    pins
}

#[cfg(test)]
mod tests {
    use floe_common::task::TaskStats;

    use super::super::tests::{ledger, new_run, planned, run, snaps, stats};
    use super::*;
    use crate::ledger::{RunState, SnapshotRecord};
    use crate::plan::PlannedTask;

    /// Two Silver tasks of one day, model `a` over them and model `b` over `a`.
    fn with_gold() -> Vec<PlannedTask> {
        let silver = planned(29)
            .into_iter()
            .filter(|t| t.partition.as_deref() == Some("2025-01-01"))
            .collect::<Vec<_>>();
        assert_eq!(silver.len(), 2);
        let models = [
            crate::plan::ModelDeps {
                name: "a".into(),
                upstream: vec![],
            },
            crate::plan::ModelDeps {
                name: "b".into(),
                upstream: vec!["a".into()],
            },
        ];
        let gold = crate::plan::plan_gold("transactions", &models, &silver);
        silver.into_iter().chain(gold).collect()
    }

    #[tokio::test]
    async fn a_gold_task_is_ready_once_its_partition_committed_with_those_snapshots() {
        let (_dir, l) = ledger().await;
        let tasks = with_gold();
        let id = RunId::new("r-gold");
        l.create_run(&new_run("r-gold"), &tasks).await.unwrap();
        assert!(
            l.gold_ready(&id).await.unwrap().is_empty(),
            "nothing committed yet"
        );
        l.task_succeeded(&id, &tasks[0].task_id, 1, &stats(0), &snaps(11))
            .await
            .unwrap();
        assert!(
            l.gold_ready(&id).await.unwrap().is_empty(),
            "one Silver task of the day is left"
        );
        l.task_succeeded(&id, &tasks[1].task_id, 1, &stats(1), &snaps(12))
            .await
            .unwrap();
        let ready = l.gold_ready(&id).await.unwrap();
        assert_eq!(ready.len(), 1, "b waits for a: {ready:?}");
        assert_eq!(ready[0].model, "a");
        assert_eq!(ready[0].partition.as_deref(), Some("2025-01-01"));
        assert_eq!(
            ready[0].pins,
            [("silver.transactions".to_string(), vec![11, 12])].into()
        );
        l.mark_tasks_enqueued(&id, &[ready[0].task_id.clone()])
            .await
            .unwrap();
        assert!(l.gold_ready(&id).await.unwrap().is_empty(), "enqueued once");

        let gold_snap = vec![SnapshotRecord {
            table: "gold.a".into(),
            snapshot_id: 21,
            already_committed: false,
        }];
        l.task_succeeded(&id, &tasks[2].task_id, 1, &TaskStats::default(), &gold_snap)
            .await
            .unwrap();
        let ready = l.gold_ready(&id).await.unwrap();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].model, "b");
        assert_eq!(ready[0].pins["gold.a"], [21]);
        assert_eq!(ready[0].pins["silver.transactions"], [11, 12]);
        assert_eq!(run(&l, &id).await.state, RunState::Running, "b has not run");
    }

    #[tokio::test]
    async fn a_failed_dependency_fails_the_gold_tasks_after_it_and_ends_the_run() {
        let (_dir, l) = ledger().await;
        let tasks = with_gold();
        let id = RunId::new("r-gold-fail");
        l.create_run(&new_run("r-gold-fail"), &tasks).await.unwrap();
        l.task_succeeded(&id, &tasks[0].task_id, 1, &stats(0), &snaps(11))
            .await
            .unwrap();
        l.task_failed(&id, &tasks[1].task_id, 1, "cannot read x.csv", false)
            .await
            .unwrap();
        assert!(l.gold_ready(&id).await.unwrap().is_empty());
        let r = run(&l, &id).await;
        assert_eq!(r.state, RunState::Failed, "{r:#?}");
        for gold in &r.tasks[2..] {
            assert_eq!(gold.state, TaskState::Failed);
            let e = gold.last_error.as_deref().unwrap();
            assert!(
                e.starts_with("not run because task ") && e.contains("keeps its previous state"),
                "{e}"
            );
        }
        assert!(r.tasks[2]
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot read x.csv"));
        // b names the first of its dependencies that failed: the same Silver task.
        assert!(r.tasks[3]
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot read x.csv"));
    }
}
