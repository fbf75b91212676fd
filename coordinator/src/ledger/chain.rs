//! The tasks of a partition split under a dedupe key wait in the ledger
//! (`enqueued = 0`) until the task before them succeeded: each starts from the
//! keys the one before left (see `floe_common::task::handoff`).

use floe_lake::{RunId, TaskId};

use super::model::{TaskRecord, TaskState};
use super::{now_ms, store, transition, Ledger, Result};

impl Ledger {
    /// The waiting chained tasks of `run_id` whose predecessor succeeded. A
    /// waiting task whose predecessor ended otherwise ends the same way
    /// (superseded by the same run, or failed naming it), so the run can finish.
    pub async fn chain_ready(&self, run_id: &RunId) -> Result<Vec<TaskRecord>> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT task_id FROM tasks WHERE run_id = ? AND gold IS NULL AND enqueued = 0 AND state = ?
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
        let mut tasks = store::load_tasks(&mut tx, &self.path, run_id).await?;
        let mut ready = Vec::new();
        // Plan order puts each task after the one it waits for, so an ending
        // cascades down a chain in one pass.
        for id in waiting {
            let Some(at) = tasks.iter().position(|t| t.task_id.as_str() == id) else {
                continue;
            };
            let Some(before) = waits_for(&tasks[at]).cloned() else {
                continue;
            };
            let Some(prev) = tasks.iter().find(|t| t.task_id == before).cloned() else {
                continue;
            };
            match prev.state {
                TaskState::Succeeded => ready.push(tasks[at].clone()),
                s if s.is_terminal() => {
                    let (state, error) = ended_with(&prev);
                    let task = &mut tasks[at];
                    task.state = state;
                    task.last_error = Some(error);
                    task.superseded_by = prev.superseded_by.clone();
                    end(&mut tx, &self.path, run_id, task, now).await?;
                }
                _ => {}
            }
        }
        transition::recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(ready)
    }
}

/// How a chained task ends when the task before it ended without success.
fn ended_with(prev: &TaskRecord) -> (TaskState, String) {
    let why = format!("not run because {}", prev.describe());
    match prev.state {
        TaskState::Superseded => (TaskState::Superseded, why),
        TaskState::Cancelled => (TaskState::Cancelled, why),
        _ => (
            TaskState::Failed,
            format!("{why}; the partition's keys were not handed on, so its load is incomplete"),
        ),
    }
}

async fn end(
    conn: &mut sqlx::SqliteConnection,
    path: &str,
    run_id: &RunId,
    task: &TaskRecord,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE tasks SET state = ?, last_error = ?, superseded_by = ?, updated_at_ms = ?
         WHERE run_id = ? AND task_id = ?",
    )
    .bind(task.state.as_str())
    .bind(task.last_error.as_deref())
    .bind(task.superseded_by.as_ref().map(RunId::as_str))
    .bind(now)
    .bind(run_id.as_str())
    .bind(task.task_id.as_str())
    .execute(&mut *conn)
    .await
    .map_err(|e| super::db_err(path, e))?;
    Ok(())
}

/// The task of its own run a chained task waits for, if it is one (an
/// append's link to another run's task waits for nothing: that task ended).
pub fn waits_for(task: &TaskRecord) -> Option<&TaskId> {
    task.dedupe
        .as_ref()
        .filter(|d| d.after_run.is_none())
        .and_then(|d| d.after.as_ref())
}

#[cfg(test)]
mod tests {
    use floe_common::task::DedupeLink;

    use super::super::tests::{ledger, new_run, planned, run, snaps, stats};
    use super::*;
    use crate::ledger::RunState;
    use crate::plan::PlannedTask;

    /// One day split in three chained tasks.
    fn chain() -> Vec<PlannedTask> {
        let mut tasks: Vec<PlannedTask> = planned(3)
            .into_iter()
            .map(|mut t| {
                t.partition = Some("2025-01-01".into());
                t
            })
            .collect();
        for (i, task) in tasks.iter_mut().enumerate() {
            task.task_id = TaskId::new(format!("transactions-2025-01-01-{i:03}"));
        }
        for i in 0..3 {
            tasks[i].dedupe = Some(DedupeLink {
                after: (i > 0).then(|| tasks[i - 1].task_id.clone()),
                after_run: None,
                hand_off: i < 2,
            });
        }
        tasks
    }

    #[tokio::test]
    async fn a_chained_task_waits_for_the_one_before_it() {
        let (_dir, l) = ledger().await;
        let tasks = chain();
        let id = RunId::new("run-chain");
        l.create_run(&new_run("run-chain"), &tasks).await.unwrap();
        assert!(
            l.chain_ready(&id).await.unwrap().is_empty(),
            "none before the first"
        );
        l.task_succeeded(&id, &tasks[0].task_id, 1, &stats(0), &snaps(1))
            .await
            .unwrap();
        let ready = l.chain_ready(&id).await.unwrap();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].task_id, tasks[1].task_id);
        assert_eq!(waits_for(&ready[0]), Some(&tasks[0].task_id));
        assert_eq!(ready[0].dedupe, tasks[1].dedupe, "the link round-trips");
        l.mark_tasks_enqueued(&id, &[tasks[1].task_id.clone()])
            .await
            .unwrap();
        assert!(
            l.chain_ready(&id).await.unwrap().is_empty(),
            "released once"
        );
    }

    #[tokio::test]
    async fn a_chain_ends_as_the_task_before_it_ended() {
        let (_dir, l) = ledger().await;
        let tasks = chain();
        let id = RunId::new("run-chain");
        l.create_run(&new_run("run-chain"), &tasks).await.unwrap();
        l.task_failed(&id, &tasks[0].task_id, 1, "cannot read", false)
            .await
            .unwrap();
        assert!(l.chain_ready(&id).await.unwrap().is_empty());
        let r = run(&l, &id).await;
        assert!(
            r.tasks.iter().all(|t| t.state == TaskState::Failed),
            "{r:#?}"
        );
        assert!(r.tasks[2]
            .last_error
            .as_deref()
            .unwrap()
            .contains("not run because"));
        assert_eq!(r.state, RunState::Failed);

        let id = RunId::new("run-chain-2");
        l.create_run(&new_run("run-chain-2"), &tasks).await.unwrap();
        let newer = RunId::new("run-newer");
        l.task_superseded(&id, &tasks[0].task_id, 1, Some(&newer), "fenced")
            .await
            .unwrap();
        l.chain_ready(&id).await.unwrap();
        let r = run(&l, &id).await;
        assert!(r.tasks.iter().all(|t| t.state == TaskState::Superseded));
        assert!(r
            .tasks
            .iter()
            .all(|t| t.superseded_by == Some(newer.clone())));
        assert_eq!(r.state, RunState::Superseded);
    }
}
