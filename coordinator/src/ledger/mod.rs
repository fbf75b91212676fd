//! The run ledger: every run and task the coordinator knows of, kept durably in a
//! SQLite file (WAL, synchronous=FULL) so a coordinator killed at any instant and
//! restarted carries on from exactly what was committed.
//!
//! There is no in-memory state: every call reads or writes the database, and every
//! task transition is one `BEGIN IMMEDIATE` transaction that also recomputes its
//! run's state, so concurrent reports (from many workers, or from two coordinator
//! processes) never leave a run inconsistent with its tasks. Readers (the gRPC
//! layer) poll [`Ledger::get_run`]; each read sees one consistent snapshot.
//!
//! Transition rules (see [`transition`]):
//! - `task_started`: Queued/Running → Running; attempts = max(attempts, attempt).
//! - `task_succeeded`: any state but Cancelled → Succeeded (a late success after
//!   Failed/Dead/Superseded wins: the committed snapshots are the truth); repeats
//!   are no-ops.
//! - `task_failed`: Queued/Running → Queued (retryable) or Failed; a failure of an
//!   older attempt than one already started only records its error.
//! - `task_dead`: Queued/Running → Dead (dead-lettered), keeping the last error.
//! - `task_superseded`: Queued/Running → Superseded (a newer run owns the
//!   partition), naming that run; `create_run_superseding` does the same to the
//!   queued tasks of older runs it overlaps (see [`supersede`]).
//! - terminal tasks ignore started/failed/dead/superseded; a cancelled run stays
//!   Cancelled. A run whose tasks all succeeded or were superseded is Superseded.

mod approval;
mod bronze_files;
mod chain;
#[cfg(test)]
pub(crate) mod fixtures;
mod gold;
mod model;
mod pipelines;
mod publish;
mod schedules;
mod schema;
mod store;
mod supersede;
mod transition;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use floe_lake::{RunId, TaskId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

pub use bronze_files::{ChangedFile, LastTask, Loaded, PendingFile};
pub use chain::waits_for;
pub use model::{
    AuditResult, GoldPlan, NewRun, PublishOptions, RolledBack, RunKind, RunRecord, RunState,
    RunTrigger, SnapshotRecord, TaskRecord, TaskState,
};
pub use pipelines::{Applied, PipelineVersion};
pub use schedules::ScheduleState;
pub use schema::VERSION as SCHEMA_VERSION;
pub use supersede::Overlap;

use crate::error::CoordinatorError;
use crate::plan::PlannedTask;

type Result<T> = std::result::Result<T, CoordinatorError>;

/// The durable record of runs and tasks. Cheap to clone (a shared connection pool).
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: SqlitePool,
    path: String,
}

/// A database failure on the ledger at `path`.
pub(crate) fn db_err(path: &str, e: impl Display) -> CoordinatorError {
    CoordinatorError::Ledger {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Ledger {
    /// Opens the ledger at `path`, creating the file, its folder and its tables if
    /// needed, and upgrading an older schema.
    pub async fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| db_err(&shown, format!("cannot create its folder: {e}")))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| db_err(&shown, e))?;
        let mut conn = pool.acquire().await.map_err(|e| db_err(&shown, e))?;
        schema::migrate(&mut conn, &shown).await?;
        drop(conn);
        Ok(Self { pool, path: shown })
    }

    /// The ledger file, as given to [`Ledger::open`].
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Waits for every connection to close (checkpointing the WAL). Optional: a
    /// ledger dropped or killed without closing loses nothing that was committed.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn err(&self, e: impl Display) -> CoordinatorError {
        db_err(&self.path, e)
    }

    /// A write transaction that holds SQLite's write lock from its first statement,
    /// so read-then-write never fails on a concurrent writer (it waits instead).
    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.begin(Some("BEGIN IMMEDIATE")).await
    }

    /// A read transaction: everything read through it comes from one snapshot.
    async fn read(&self) -> Result<Transaction<'static, Sqlite>> {
        self.begin(None).await
    }

    async fn begin(&self, statement: Option<&'static str>) -> Result<Transaction<'static, Sqlite>> {
        crate::sqlite::begin(&self.pool, statement)
            .await
            .map_err(|e| self.err(e))
    }

    /// Records a new run and its planned tasks (all Queued, attempts 0) atomically.
    pub async fn create_run(&self, run: &NewRun, tasks: &[PlannedTask]) -> Result<()> {
        let mut tx = self.write().await?;
        self.insert_run(&mut tx, run, tasks).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// Records a pass run unless an unfinished run writes what it writes:
    /// then nothing is recorded and those runs are returned. One transaction,
    /// so a load submitted at the same moment is either seen here or newer.
    pub async fn create_run_if_free(
        &self,
        run: &NewRun,
        tasks: &[PlannedTask],
    ) -> Result<Vec<Overlap>> {
        let mut tx = self.write().await?;
        let mut busy: Vec<Overlap> =
            supersede::overlapping(&mut tx, &self.path, &run.pipeline, tasks, None)
                .await?
                .into_iter()
                .map(|(o, _)| o)
                .collect();
        busy.extend(
            supersede::unpublished_holders(&mut tx, &self.path, &run.pipeline, tasks).await?,
        );
        if !busy.is_empty() {
            return Ok(busy);
        }
        self.insert_run(&mut tx, run, tasks).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Vec::new())
    }

    /// Records a new run like [`Ledger::create_run`] and, in the same
    /// transaction, supersedes the queued tasks of older unfinished runs of its
    /// pipeline that write what it writes. Returns how many tasks of which
    /// runs it superseded.
    pub async fn create_run_superseding(
        &self,
        run: &NewRun,
        tasks: &[PlannedTask],
    ) -> Result<BTreeMap<RunId, usize>> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let overlaps =
            supersede::overlapping(&mut tx, &self.path, &run.pipeline, tasks, None).await?;
        self.insert_run(&mut tx, run, tasks).await?;
        if run.kind == RunKind::Load {
            bronze_files::record_loaded(&mut tx, &self.path, &run.pipeline, &run.run_id, tasks)
                .await?;
        }
        let dropped =
            supersede::supersede_queued(&mut tx, &self.path, &run.run_id, &overlaps, now).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(dropped)
    }

    /// Records an append run and takes its files off the pending list, in one
    /// transaction: a file is appended by one run, once.
    pub async fn create_append_run(
        &self,
        run: &NewRun,
        tasks: &[PlannedTask],
        files: &[String],
    ) -> Result<()> {
        let mut tx = self.write().await?;
        self.insert_run(&mut tx, run, tasks).await?;
        bronze_files::take_pending(&mut tx, &self.path, &run.pipeline, &run.run_id, files).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn insert_run(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        run: &NewRun,
        tasks: &[PlannedTask],
    ) -> Result<()> {
        let mut seen = HashSet::new();
        if let Some(dup) = tasks.iter().find(|t| !seen.insert(&t.task_id)) {
            return Err(self.err(format!(
                "the plan of run {} lists task {} twice; this is a planner bug, please report it",
                run.run_id, dup.task_id
            )));
        }
        let now = now_ms();
        let exists: Option<String> = sqlx::query_scalar("SELECT state FROM runs WHERE run_id = ?")
            .bind(run.run_id.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.err(e))?;
        if exists.is_some() {
            return Err(CoordinatorError::RunExists(run.run_id.clone()));
        }
        sqlx::query(
            "INSERT INTO runs (run_id, pipeline, period, state, created_at_ms, contract_text,
                               contract_origin, enqueued, trace_context, skipped, kind,
                               trigger, scheduled_for_ms, pipeline_version, staged, hold,
                               allow_shrink)
             VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run.run_id.as_str())
        .bind(&run.pipeline)
        .bind(&run.period)
        .bind(RunState::Running.as_str())
        .bind(now)
        .bind(&run.contract_text)
        .bind(&run.contract_origin)
        .bind(serde_json::to_string(&run.trace_context).map_err(|e| self.err(e))?)
        .bind(serde_json::to_string(&run.skipped).map_err(|e| self.err(e))?)
        .bind(run.kind.as_str())
        .bind(run.trigger.as_str())
        .bind(run.trigger.tick_ms())
        .bind(run.pipeline_version.map(i64::from))
        .bind(run.staged)
        .bind(run.publish.hold)
        .bind(run.publish.allow_shrink)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        for (ordinal, task) in tasks.iter().enumerate() {
            let inputs = serde_json::to_string(&task.inputs).map_err(|e| self.err(e))?;
            let fingerprints =
                serde_json::to_string(&task.fingerprints).map_err(|e| self.err(e))?;
            let ranges = serde_json::to_string(&task.ranges).map_err(|e| self.err(e))?;
            let gold = task
                .gold
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| self.err(e))?;
            let dedupe = task
                .dedupe
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| self.err(e))?;
            let pass = task
                .pass
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| self.err(e))?;
            // Gold tasks and chained tasks after the first wait to be released.
            let waits =
                task.gold.is_some() || task.dedupe.as_ref().is_some_and(|d| d.after.is_some());
            sqlx::query(
                "INSERT INTO tasks (run_id, task_id, ordinal, partition, inputs, fingerprints,
                                    bytes, state, attempts, stats, snapshots, last_error,
                                    updated_at_ms, gold, enqueued, dedupe, pass, ranges)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, '[]', NULL, ?, ?, ?, ?, ?, ?)",
            )
            .bind(run.run_id.as_str())
            .bind(task.task_id.as_str())
            .bind(ordinal as i64)
            .bind(task.partition.as_deref())
            .bind(inputs)
            .bind(fingerprints)
            .bind(task.bytes as i64)
            .bind(TaskState::Queued.as_str())
            .bind(now)
            .bind(gold)
            .bind(!waits)
            .bind(dedupe)
            .bind(pass)
            .bind(ranges)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        // A run with no tasks is finished at once.
        transition::recompute(tx, &self.path, &run.run_id, now).await
    }

    /// The run with its tasks (in plan order), or None if the ledger has no such run.
    pub async fn get_run(&self, run_id: &RunId) -> Result<Option<RunRecord>> {
        let mut tx = self.read().await?;
        let run = store::load_run(&mut tx, &self.path, run_id).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(run)
    }

    /// The run's state, or None if the ledger has no such run.
    pub async fn run_state(&self, run_id: &RunId) -> Result<Option<RunState>> {
        let mut tx = self.read().await?;
        let state = match store::run_state(&mut tx, &self.path, run_id).await {
            Ok((state, _)) => Some(state),
            Err(CoordinatorError::UnknownRun(_)) => None,
            Err(e) => return Err(e),
        };
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(state)
    }

    /// The state of the run and of one of its tasks (None if the run has no such
    /// task), or None if the ledger has no such run. For the checks made on every
    /// lease and heartbeat, which need no more than that.
    pub async fn task_standing(
        &self,
        run_id: &RunId,
        task_id: &TaskId,
    ) -> Result<Option<(RunState, Option<TaskState>)>> {
        let mut tx = self.read().await?;
        let standing = store::task_standing(&mut tx, &self.path, run_id, task_id).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(standing)
    }

    /// Up to `limit` runs, newest first, each with its tasks.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        let mut tx = self.read().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT run_id FROM runs ORDER BY created_at_ms DESC, rowid DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let mut runs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(run) = store::load_run(&mut tx, &self.path, &RunId::new(id)).await? {
                runs.push(run);
            }
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(runs)
    }

    /// Runs still Running, oldest first: what a restarted coordinator must resume.
    /// Records that the run's tasks are on the queue.
    pub async fn mark_enqueued(&self, run_id: &RunId) -> Result<()> {
        sqlx::query("UPDATE runs SET enqueued = 1 WHERE run_id = ?")
            .bind(run_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| db_err(&self.path, e))?;
        Ok(())
    }

    /// Running runs whose tasks may never have reached the queue (the
    /// coordinator stopped between recording the run and enqueueing it).
    pub async fn runs_not_enqueued(&self) -> Result<Vec<RunId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT run_id FROM runs WHERE enqueued = 0 AND state = 'running' ORDER BY created_at_ms")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| db_err(&self.path, e))?;
        Ok(ids.into_iter().map(RunId::new).collect())
    }

    /// Records that `runs` were rolled back on `table` (to `to_snapshot`). Runs
    /// the ledger does not know (written by another coordinator) are skipped;
    /// recording a rollback twice keeps the first.
    pub async fn record_rollback(
        &self,
        table: &str,
        runs: &[RunId],
        to_snapshot: i64,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        for run in runs {
            sqlx::query(
                "INSERT OR IGNORE INTO rollbacks (run_id, table_name, to_snapshot, at_ms)
                 SELECT run_id, ?, ?, ? FROM runs WHERE run_id = ?",
            )
            .bind(table)
            .bind(to_snapshot)
            .bind(now)
            .bind(run.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// How many tasks of running runs are in each state.
    pub async fn unfinished_task_counts(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT t.state, count(*) FROM tasks t JOIN runs r ON r.run_id = t.run_id
             WHERE r.state = ? GROUP BY t.state",
        )
        .bind(RunState::Running.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    /// The contract (text, origin) of each pipeline's newest run.
    pub async fn latest_contracts(&self) -> Result<Vec<(String, String, String)>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT pipeline, contract_text, contract_origin FROM runs r
             WHERE rowid = (SELECT rowid FROM runs WHERE pipeline = r.pipeline
                            ORDER BY created_at_ms DESC, rowid DESC LIMIT 1)
             ORDER BY pipeline",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// When the pipeline's tables were last maintained (ms), if ever.
    pub async fn last_maintenance(&self, pipeline: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT last_ms FROM maintenance WHERE pipeline = ?")
            .bind(pipeline)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    /// Records a maintenance pass of the pipeline's tables and what it did.
    pub async fn record_maintenance(&self, pipeline: &str, at_ms: i64, report: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO maintenance (pipeline, last_ms, report) VALUES (?, ?, ?)
             ON CONFLICT (pipeline) DO UPDATE SET last_ms = excluded.last_ms, report = excluded.report",
        )
        .bind(pipeline)
        .bind(at_ms)
        .bind(report)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub async fn unfinished_runs(&self) -> Result<Vec<RunId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT run_id FROM runs WHERE state IN (?, ?, ?) ORDER BY created_at_ms, rowid",
        )
        .bind(RunState::Running.as_str())
        .bind(RunState::Publishing.as_str())
        .bind(RunState::AwaitingApproval.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(ids.into_iter().map(RunId::new).collect())
    }
}
