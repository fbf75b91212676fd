//! Task transitions and the run state they imply. Each public method is one write
//! transaction: check the task, change it (or not), recompute the run, commit.

use floe_common::task::TaskStats;
use floe_lake::{RunId, TaskId};
use sqlx::sqlite::SqliteConnection;

use super::model::{RunRecord, RunState, SnapshotRecord, TaskState};
use super::{db_err, now_ms, store, Ledger, Result};

/// At most this many tasks are named in a failed run's error.
const MAX_NAMED: usize = 20;

impl Ledger {
    /// A delivery of the task started. Queued/Running → Running; terminal tasks are
    /// left alone (a late redelivery of a finished task).
    pub async fn task_started(&self, run_id: &RunId, task_id: &TaskId, attempt: u32) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let (state, _) = store::task_state(&mut tx, &self.path, run_id, task_id).await?;
        if state.is_terminal() {
            tracing::debug!(%run_id, %task_id, attempt, state = state.as_str(), "start of a finished task ignored");
        } else {
            self.set_task(
                &mut tx,
                run_id,
                task_id,
                TaskState::Running,
                attempt,
                None,
                now,
            )
            .await?;
        }
        recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// The task committed (or found committed) its snapshots. Idempotent: the first
    /// recorded success is kept. Wins over an earlier Failed or Dead (the snapshots
    /// are the truth), never over Cancelled.
    pub async fn task_succeeded(
        &self,
        run_id: &RunId,
        task_id: &TaskId,
        attempt: u32,
        stats: &TaskStats,
        snapshots: &[SnapshotRecord],
    ) -> Result<()> {
        let now = now_ms();
        let stats = serde_json::to_string(stats).map_err(|e| self.err(e))?;
        let snapshots = serde_json::to_string(snapshots).map_err(|e| self.err(e))?;
        let mut tx = self.write().await?;
        let (state, _) = store::task_state(&mut tx, &self.path, run_id, task_id).await?;
        match state {
            TaskState::Cancelled => {
                tracing::warn!(%run_id, %task_id, attempt, "success of a cancelled task ignored");
            }
            TaskState::Succeeded => {
                sqlx::query(
                    "UPDATE tasks SET attempts = max(attempts, ?) WHERE run_id = ? AND task_id = ?",
                )
                .bind(i64::from(attempt))
                .bind(run_id.as_str())
                .bind(task_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
            _ => {
                sqlx::query(
                    "UPDATE tasks SET state = ?, attempts = max(attempts, ?), stats = ?,
                                      snapshots = ?, updated_at_ms = ?
                     WHERE run_id = ? AND task_id = ?",
                )
                .bind(TaskState::Succeeded.as_str())
                .bind(i64::from(attempt))
                .bind(stats)
                .bind(snapshots)
                .bind(now)
                .bind(run_id.as_str())
                .bind(task_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
        }
        recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// An attempt failed. A retryable error puts the task back to Queued (the queue
    /// redelivers it); any other makes it Failed. Terminal tasks are left alone, and
    /// a failure of an attempt older than the latest started one only records its
    /// error (the newer attempt is still in flight).
    pub async fn task_failed(
        &self,
        run_id: &RunId,
        task_id: &TaskId,
        attempt: u32,
        error: &str,
        retryable: bool,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let (state, attempts) = store::task_state(&mut tx, &self.path, run_id, task_id).await?;
        if state.is_terminal() {
            tracing::debug!(%run_id, %task_id, attempt, state = state.as_str(), "failure of a finished task ignored");
        } else if attempt < attempts {
            let to = state; // stale attempt: keep the state, remember the error
            self.set_task(&mut tx, run_id, task_id, to, attempt, Some(error), now)
                .await?;
        } else {
            let to = if retryable {
                TaskState::Queued
            } else {
                TaskState::Failed
            };
            self.set_task(&mut tx, run_id, task_id, to, attempt, Some(error), now)
                .await?;
        }
        recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// The partition's fence refused the task's commit: Queued/Running →
    /// Superseded, naming the run that owns the partition. Terminal tasks are
    /// left alone (a task that committed keeps its success).
    pub async fn task_superseded(
        &self,
        run_id: &RunId,
        task_id: &TaskId,
        attempt: u32,
        by: Option<&RunId>,
        error: &str,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let (state, _) = store::task_state(&mut tx, &self.path, run_id, task_id).await?;
        if state.is_terminal() {
            tracing::debug!(%run_id, %task_id, state = state.as_str(), "superseding a finished task ignored");
        } else {
            self.set_task(
                &mut tx,
                run_id,
                task_id,
                TaskState::Superseded,
                attempt,
                Some(error),
                now,
            )
            .await?;
            sqlx::query("UPDATE tasks SET superseded_by = ? WHERE run_id = ? AND task_id = ?")
                .bind(by.map(RunId::as_str))
                .bind(run_id.as_str())
                .bind(task_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// The queue dead-lettered the task after `receive_count` deliveries: Queued or
    /// Running → Dead, keeping its last error. Terminal tasks are left alone.
    pub async fn task_dead(
        &self,
        run_id: &RunId,
        task_id: &TaskId,
        receive_count: u32,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let (state, _) = store::task_state(&mut tx, &self.path, run_id, task_id).await?;
        if state.is_terminal() {
            tracing::debug!(%run_id, %task_id, state = state.as_str(), "dead-letter of a finished task ignored");
        } else {
            self.set_task(
                &mut tx,
                run_id,
                task_id,
                TaskState::Dead,
                receive_count,
                None,
                now,
            )
            .await?;
        }
        recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// Cancels a running run: its unfinished tasks become Cancelled and the run
    /// Cancelled. A finished run is returned unchanged. None if there is no such run.
    pub async fn cancel_run(&self, run_id: &RunId) -> Result<Option<RunRecord>> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let Some(run) = store::load_run(&mut tx, &self.path, run_id).await? else {
            return Ok(None);
        };
        if run.is_finished() {
            return Ok(Some(run));
        }
        let unfinished = run.tasks.iter().filter(|t| !t.state.is_terminal()).count();
        self.end_unfinished_tasks(&mut tx, run_id, TaskState::Cancelled, None, now)
            .await?;
        let error = format!(
            "cancelled on request with {unfinished} of {} tasks unfinished",
            run.tasks.len()
        );
        write_run(
            &mut tx,
            &self.path,
            run_id,
            RunState::Cancelled,
            Some(now),
            Some(&error),
        )
        .await?;
        let run = store::load_run(&mut tx, &self.path, run_id).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(run)
    }

    /// The run's tasks cannot be put on the queue, whatever is retried (a message
    /// over the queue's size limit): its unfinished tasks become Failed with
    /// `error`, the run Failed, and it counts as enqueued, so start-up does not
    /// try again. A finished run is left alone.
    pub async fn fail_unqueueable_run(&self, run_id: &RunId, error: &str) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let Some(run) = store::load_run(&mut tx, &self.path, run_id).await? else {
            return Ok(());
        };
        if !run.is_finished() {
            self.end_unfinished_tasks(&mut tx, run_id, TaskState::Failed, Some(error), now)
                .await?;
            write_run(
                &mut tx,
                &self.path,
                run_id,
                RunState::Failed,
                Some(now),
                Some(error),
            )
            .await?;
        }
        sqlx::query("UPDATE runs SET enqueued = 1 WHERE run_id = ?")
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// Moves the run's queued and running tasks to `state`, with `error` if given
    /// (None keeps each task's error).
    async fn end_unfinished_tasks(
        &self,
        conn: &mut SqliteConnection,
        run_id: &RunId,
        state: TaskState,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE tasks SET state = ?, last_error = coalesce(?, last_error), updated_at_ms = ?
             WHERE run_id = ? AND state IN (?, ?)",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(now)
        .bind(run_id.as_str())
        .bind(TaskState::Queued.as_str())
        .bind(TaskState::Running.as_str())
        .execute(&mut *conn)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Sets a task's state and error (None keeps the error) and raises its attempts.
    #[allow(clippy::too_many_arguments)]
    async fn set_task(
        &self,
        conn: &mut SqliteConnection,
        run_id: &RunId,
        task_id: &TaskId,
        state: TaskState,
        attempt: u32,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE tasks SET state = ?, attempts = max(attempts, ?),
                              last_error = coalesce(?, last_error), updated_at_ms = ?
             WHERE run_id = ? AND task_id = ?",
        )
        .bind(state.as_str())
        .bind(i64::from(attempt))
        .bind(error)
        .bind(now)
        .bind(run_id.as_str())
        .bind(task_id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// Derives the run's state from its tasks: Running while any task is unfinished,
/// then Succeeded if every task succeeded, Superseded if the others lost their
/// partitions to newer runs (naming them), else Failed with an error naming
/// each task that did not succeed. A cancelled run stays Cancelled. A finish time is
/// kept while the run stays in the same finished state.
pub(super) async fn recompute(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
    now: i64,
) -> Result<()> {
    let (current, finished_at) = store::run_state(conn, path, run_id).await?;
    if matches!(current, RunState::Cancelled | RunState::Discarded) {
        return Ok(());
    }
    // Every report lands here: while tasks are unfinished, the run is Running
    // without reading (and parsing) all its tasks back.
    if store::has_unfinished_task(conn, path, run_id).await? {
        if current == RunState::Running && finished_at.is_none() {
            return Ok(());
        }
        return write_run(conn, path, run_id, RunState::Running, None, None).await;
    }
    let tasks = store::load_tasks(conn, path, run_id).await?;
    let (mut state, mut error) = if tasks.iter().any(|t| !t.state.is_terminal()) {
        (RunState::Running, None)
    } else if tasks.iter().all(|t| t.state == TaskState::Succeeded) {
        (RunState::Succeeded, None)
    } else if tasks
        .iter()
        .all(|t| matches!(t.state, TaskState::Succeeded | TaskState::Superseded))
    {
        (RunState::Superseded, Some(superseded_summary(&tasks)))
    } else {
        let bad: Vec<_> = tasks
            .iter()
            .filter(|t| !matches!(t.state, TaskState::Succeeded | TaskState::Superseded))
            .collect();
        let mut named: Vec<String> = bad.iter().take(MAX_NAMED).map(|t| t.describe()).collect();
        if bad.len() > MAX_NAMED {
            named.push(format!("and {} more", bad.len() - MAX_NAMED));
        }
        let summary = format!(
            "{} of {} tasks did not succeed: {}",
            bad.len(),
            tasks.len(),
            named.join("; ")
        );
        (RunState::Failed, Some(summary))
    };
    if matches!(state, RunState::Succeeded | RunState::Superseded) {
        match store::publish_gate(conn, path, run_id).await? {
            store::PublishGate::Open => {}
            // Its rows are on its branch only: it ends once they are on `main`.
            store::PublishGate::Waiting => state = RunState::Publishing,
            store::PublishGate::AwaitingApproval => state = RunState::AwaitingApproval,
            store::PublishGate::Refused(why) => {
                state = RunState::Failed;
                error = Some(why);
            }
        }
    }
    let finished = match state {
        RunState::Running | RunState::Publishing | RunState::AwaitingApproval => None,
        _ if state == current && finished_at.is_some() => finished_at,
        _ => Some(now),
    };
    write_run(conn, path, run_id, state, finished, error.as_deref()).await
}

/// `3 of 58 tasks lost their partitions to newer runs: 2025-01-05 to run-…; …`.
fn superseded_summary(tasks: &[super::model::TaskRecord]) -> String {
    let lost: Vec<_> = tasks
        .iter()
        .filter(|t| t.state == TaskState::Superseded)
        .collect();
    let mut partitions: Vec<String> = Vec::new();
    for t in &lost {
        let partition = t.partition.as_deref().unwrap_or("(unpartitioned)");
        let by = t
            .superseded_by
            .as_ref()
            .map_or("a newer run".to_string(), |r| format!("run {r}"));
        let line = format!("{partition} to {by}");
        if !partitions.contains(&line) {
            partitions.push(line);
        }
    }
    let shown = partitions.len().min(MAX_NAMED);
    let mut named = partitions[..shown].join("; ");
    if partitions.len() > shown {
        named.push_str(&format!("; and {} more", partitions.len() - shown));
    }
    format!(
        "{} of {} tasks lost their partitions to newer runs, which loaded them instead: {named}",
        lost.len(),
        tasks.len()
    )
}

async fn write_run(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
    state: RunState,
    finished_at_ms: Option<i64>,
    error: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE runs SET state = ?, finished_at_ms = ?, error = ? WHERE run_id = ?")
        .bind(state.as_str())
        .bind(finished_at_ms)
        .bind(error)
        .bind(run_id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(|e| db_err(path, e))?;
    Ok(())
}
