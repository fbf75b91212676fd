//! Reading runs and tasks back from their rows.

use floe_lake::{RunId, TaskId};
use serde::de::DeserializeOwned;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use super::db_err;
use super::model::{
    PublishOptions, RolledBack, RunKind, RunRecord, RunState, RunTrigger, TaskRecord, TaskState,
};
use crate::error::CoordinatorError;

type Result<T> = std::result::Result<T, CoordinatorError>;

/// A run's state and finish time, or UnknownRun.
pub(super) async fn run_state(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
) -> Result<(RunState, Option<i64>)> {
    let row = sqlx::query("SELECT state, finished_at_ms FROM runs WHERE run_id = ?")
        .bind(run_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| db_err(path, e))?
        .ok_or_else(|| CoordinatorError::UnknownRun(run_id.clone()))?;
    let state: String = get(&row, path, "state")?;
    Ok((RunState::parse(&state)?, get(&row, path, "finished_at_ms")?))
}

/// True while some task of the run is Queued or Running (see
/// [`TaskState::is_terminal`]).
pub(super) async fn has_unfinished_task(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tasks WHERE run_id = ? AND state IN (?, ?))")
        .bind(run_id.as_str())
        .bind(TaskState::Queued.as_str())
        .bind(TaskState::Running.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db_err(path, e))
}

/// Where a run whose tasks all ended well stands with publishing.
pub(super) enum PublishGate {
    /// Not staged, or published: it ends as its tasks say.
    Open,
    /// Staged and not published yet.
    Waiting,
    /// Its audits refused it: it fails, with this error.
    Refused(String),
    /// Audited, waiting for an operator's approval.
    AwaitingApproval,
}

pub(super) async fn publish_gate(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
) -> Result<PublishGate> {
    let row: Option<(bool, Option<i64>, Option<String>, bool)> = sqlx::query_as(
        "SELECT staged = 1, published_at_ms, publish_error,
                awaiting_approval = 1 AND approved_by IS NULL
         FROM runs WHERE run_id = ?",
    )
    .bind(run_id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?;
    Ok(match row {
        Some((true, None, Some(error), _)) => PublishGate::Refused(error),
        Some((true, None, None, true)) => PublishGate::AwaitingApproval,
        Some((true, None, None, false)) => PublishGate::Waiting,
        _ => PublishGate::Open,
    })
}

/// See [`super::Ledger::task_standing`].
pub(super) async fn task_standing(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
    task_id: &TaskId,
) -> Result<Option<(RunState, Option<TaskState>)>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT r.state, t.state FROM runs r
         LEFT JOIN tasks t ON t.run_id = r.run_id AND t.task_id = ?
         WHERE r.run_id = ?",
    )
    .bind(task_id.as_str())
    .bind(run_id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?;
    let Some((run, task)) = row else {
        return Ok(None);
    };
    Ok(Some((
        RunState::parse(&run)?,
        task.as_deref().map(TaskState::parse).transpose()?,
    )))
}

/// A task's state and attempts, or UnknownRun / UnknownTask.
pub(super) async fn task_state(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
    task_id: &TaskId,
) -> Result<(TaskState, u32)> {
    run_state(conn, path, run_id).await?;
    let row = sqlx::query("SELECT state, attempts FROM tasks WHERE run_id = ? AND task_id = ?")
        .bind(run_id.as_str())
        .bind(task_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| db_err(path, e))?
        .ok_or_else(|| CoordinatorError::UnknownTask {
            run_id: run_id.clone(),
            task_id: task_id.clone(),
        })?;
    let state: String = get(&row, path, "state")?;
    let attempts: i64 = get(&row, path, "attempts")?;
    Ok((TaskState::parse(&state)?, attempts as u32))
}

/// The run with its tasks, or None.
pub(super) async fn load_run(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
) -> Result<Option<RunRecord>> {
    let Some(row) = sqlx::query(
        "SELECT pipeline, period, state, created_at_ms, finished_at_ms, error, contract_text,
                contract_origin, trace_context, skipped, kind, trigger, scheduled_for_ms,
                pipeline_version, staged, published_at_ms, audits, approved_by,
                approval_reason, hold, allow_shrink
         FROM runs WHERE run_id = ?",
    )
    .bind(run_id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?
    else {
        return Ok(None);
    };
    let state: String = get(&row, path, "state")?;
    let trace_context: String = get(&row, path, "trace_context")?;
    let skipped: String = get(&row, path, "skipped")?;
    let kind: String = get(&row, path, "kind")?;
    let trigger: String = get(&row, path, "trigger")?;
    let pipeline_version: Option<i64> = get(&row, path, "pipeline_version")?;
    Ok(Some(RunRecord {
        run_id: run_id.clone(),
        pipeline: get(&row, path, "pipeline")?,
        period: get(&row, path, "period")?,
        state: RunState::parse(&state)?,
        created_at_ms: get(&row, path, "created_at_ms")?,
        finished_at_ms: get(&row, path, "finished_at_ms")?,
        error: get(&row, path, "error")?,
        contract_text: get(&row, path, "contract_text")?,
        contract_origin: get(&row, path, "contract_origin")?,
        trace_context: json(
            &trace_context,
            path,
            &format!("run {run_id}, column trace_context"),
        )?,
        tasks: load_tasks(conn, path, run_id).await?,
        rolled_back: load_rollbacks(conn, path, run_id).await?,
        skipped: json(&skipped, path, &format!("run {run_id}, column skipped"))?,
        kind: RunKind::parse(&kind)?,
        trigger: RunTrigger::parse(&trigger, get(&row, path, "scheduled_for_ms")?)?,
        pipeline_version: pipeline_version.map(|v| v as u32),
        staged: get(&row, path, "staged")?,
        publish: PublishOptions {
            hold: get(&row, path, "hold")?,
            allow_shrink: get(&row, path, "allow_shrink")?,
        },
        published_at_ms: get(&row, path, "published_at_ms")?,
        audits: json(&get::<String>(&row, path, "audits")?, path, "audits")?,
        approved_by: get(&row, path, "approved_by")?,
        approval_reason: get(&row, path, "approval_reason")?,
    }))
}

/// The tables a run was rolled back on, oldest first.
async fn load_rollbacks(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
) -> Result<Vec<RolledBack>> {
    let rows = sqlx::query(
        "SELECT table_name, to_snapshot, at_ms FROM rollbacks WHERE run_id = ?
         ORDER BY at_ms, table_name",
    )
    .bind(run_id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?;
    rows.iter()
        .map(|row| {
            Ok(RolledBack {
                table: get(row, path, "table_name")?,
                to_snapshot: get(row, path, "to_snapshot")?,
                at_ms: get(row, path, "at_ms")?,
            })
        })
        .collect()
}

/// A run's tasks in plan order.
pub(super) async fn load_tasks(
    conn: &mut SqliteConnection,
    path: &str,
    run_id: &RunId,
) -> Result<Vec<TaskRecord>> {
    let rows = sqlx::query(
        "SELECT task_id, partition, inputs, fingerprints, bytes, state, attempts, stats, snapshots,
                last_error, updated_at_ms, gold, superseded_by, dedupe, pass, ranges
         FROM tasks WHERE run_id = ? ORDER BY ordinal",
    )
    .bind(run_id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?;
    rows.iter()
        .map(|row| task_from_row(row, path, run_id))
        .collect()
}

fn task_from_row(row: &SqliteRow, path: &str, run_id: &RunId) -> Result<TaskRecord> {
    let task_id: String = get(row, path, "task_id")?;
    let state: String = get(row, path, "state")?;
    let inputs: String = get(row, path, "inputs")?;
    let fingerprints: String = get(row, path, "fingerprints")?;
    let ranges: String = get(row, path, "ranges")?;
    let stats: Option<String> = get(row, path, "stats")?;
    let snapshots: String = get(row, path, "snapshots")?;
    let bytes: i64 = get(row, path, "bytes")?;
    let attempts: i64 = get(row, path, "attempts")?;
    let gold: Option<String> = get(row, path, "gold")?;
    let superseded_by: Option<String> = get(row, path, "superseded_by")?;
    let dedupe: Option<String> = get(row, path, "dedupe")?;
    let pass: Option<String> = get(row, path, "pass")?;
    let what = |column: &str| format!("task {task_id} of run {run_id}, column {column}");
    Ok(TaskRecord {
        partition: get(row, path, "partition")?,
        inputs: json(&inputs, path, &what("inputs"))?,
        fingerprints: json(&fingerprints, path, &what("fingerprints"))?,
        ranges: json(&ranges, path, &what("ranges"))?,
        bytes: bytes as u64,
        state: TaskState::parse(&state)?,
        attempts: attempts as u32,
        stats: stats.map(|s| json(&s, path, &what("stats"))).transpose()?,
        snapshots: json(&snapshots, path, &what("snapshots"))?,
        gold: gold.map(|g| json(&g, path, &what("gold"))).transpose()?,
        last_error: get(row, path, "last_error")?,
        updated_at_ms: get(row, path, "updated_at_ms")?,
        superseded_by: superseded_by.map(RunId::new),
        dedupe: dedupe
            .map(|d| json(&d, path, &what("dedupe")))
            .transpose()?,
        pass: pass.map(|p| json(&p, path, &what("pass"))).transpose()?,
        task_id: TaskId::new(task_id),
    })
}

fn get<'r, T>(row: &'r SqliteRow, path: &str, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(|e| db_err(path, e))
}

fn json<T: DeserializeOwned>(text: &str, path: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| db_err(path, format!("{what} is not readable: {e}")))
}
