//! Every Bronze file a pipeline's runs loaded or its watcher saw, by path and
//! version (size and ETag or modification time): what makes a continuous
//! load take each file once. A load records the files it lists in the same
//! transaction as the run; the watcher adds files nobody loaded as pending;
//! an append run takes pending files, again in the run's own transaction. A
//! loaded file seen again with another version is recorded as changed and
//! reported, never appended a second time.

use chrono::NaiveDate;
use floe_lake::storage::Fingerprint;
use floe_lake::RunId;
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

use super::{db_err, now_ms, Ledger, Result};
use crate::plan::{InputFile, PlannedTask};

/// A file seen by the watcher and not loaded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFile {
    pub file: InputFile,
    pub seen_at_ms: i64,
}

/// A loaded file that was seen again with another content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub path: String,
    pub loaded: Fingerprint,
    pub now: Fingerprint,
    /// The run that loaded it.
    pub run_id: RunId,
}

/// Records that `run` loads `tasks`' input files (a load lists every file of
/// its days): whatever version the watcher saw, this is the one loaded now.
pub(super) async fn record_loaded(
    conn: &mut SqliteConnection,
    path: &str,
    pipeline: &str,
    run: &RunId,
    tasks: &[PlannedTask],
) -> Result<()> {
    let now = now_ms();
    for task in tasks
        .iter()
        .filter(|t| t.gold.is_none() && t.pass.is_none())
    {
        for input in &task.inputs {
            let fingerprint = task.fingerprints.get(input).map(json).unwrap_or_default();
            sqlx::query(
                "INSERT INTO bronze_files (pipeline, path, fingerprint, seen_at_ms, run_id)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (pipeline, path) DO UPDATE SET fingerprint = excluded.fingerprint,
                     run_id = excluded.run_id, changed = NULL",
            )
            .bind(pipeline)
            .bind(input)
            .bind(fingerprint)
            .bind(now)
            .bind(run.as_str())
            .execute(&mut *conn)
            .await
            .map_err(|e| db_err(path, e))?;
        }
    }
    Ok(())
}

/// Marks `files` (pending) as taken by the append run `run`. Fails when one
/// is no longer pending: the caller's transaction then records nothing.
pub(super) async fn take_pending(
    conn: &mut SqliteConnection,
    path: &str,
    pipeline: &str,
    run: &RunId,
    files: &[String],
) -> Result<()> {
    for file in files {
        let taken = sqlx::query(
            "UPDATE bronze_files SET run_id = ? WHERE pipeline = ? AND path = ? AND run_id IS NULL",
        )
        .bind(run.as_str())
        .bind(pipeline)
        .bind(file)
        .execute(&mut *conn)
        .await
        .map_err(|e| db_err(path, e))?;
        if taken.rows_affected() != 1 {
            return Err(db_err(
                path,
                format!("{file} is no longer waiting to be appended; planning again"),
            ));
        }
    }
    Ok(())
}

fn json(f: &Fingerprint) -> String {
    serde_json::to_string(f).expect("a fingerprint serializes")
}

fn fingerprint(text: &str) -> Option<Fingerprint> {
    serde_json::from_str(text).ok()
}

impl Ledger {
    /// Takes note of the files a listing found: new ones become pending, a
    /// pending one seen with another version waits for that one, and a loaded
    /// one seen with another version is recorded as changed. Returns the files
    /// newly found changed. `now` (ms) is when they were seen.
    pub async fn observe_files(
        &self,
        pipeline: &str,
        files: &[InputFile],
        now: i64,
    ) -> Result<Vec<ChangedFile>> {
        let mut tx = self.write().await?;
        let mut changed = Vec::new();
        for file in files {
            let row = sqlx::query(
                "SELECT fingerprint, run_id, changed FROM bronze_files WHERE pipeline = ? AND path = ?",
            )
            .bind(pipeline)
            .bind(&file.path)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            let seen = json(&file.fingerprint);
            let Some(row) = row else {
                sqlx::query(
                    "INSERT INTO bronze_files (pipeline, path, fingerprint, day, seen_at_ms)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(pipeline)
                .bind(&file.path)
                .bind(&seen)
                .bind(file.day.format("%Y-%m-%d").to_string())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                continue;
            };
            let known: String = row.try_get("fingerprint").map_err(|e| self.err(e))?;
            let same = fingerprint(&known).is_some_and(|k| k.same_version(&file.fingerprint));
            if same {
                continue;
            }
            let run_id: Option<String> = row.try_get("run_id").map_err(|e| self.err(e))?;
            let already: Option<String> = row.try_get("changed").map_err(|e| self.err(e))?;
            let statement = match (&run_id, &already) {
                // Not loaded yet: the newer version is the one to load.
                (None, _) => "UPDATE bronze_files SET fingerprint = ?, day = ? WHERE pipeline = ? AND path = ?",
                (Some(_), Some(a)) if a == &seen => continue,
                (Some(_), _) => "UPDATE bronze_files SET changed = ?, day = ? WHERE pipeline = ? AND path = ?",
            };
            sqlx::query(statement)
                .bind(&seen)
                .bind(file.day.format("%Y-%m-%d").to_string())
                .bind(pipeline)
                .bind(&file.path)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            if let (Some(run_id), Some(loaded)) = (run_id, fingerprint(&known)) {
                changed.push(ChangedFile {
                    path: file.path.clone(),
                    loaded,
                    now: file.fingerprint.clone(),
                    run_id: RunId::new(run_id),
                });
            }
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(changed)
    }

    /// The files of `pipeline` waiting to be appended, oldest first.
    pub async fn pending_files(&self, pipeline: &str) -> Result<Vec<PendingFile>> {
        let rows = sqlx::query(
            "SELECT path, fingerprint, day, seen_at_ms FROM bronze_files
             WHERE pipeline = ? AND run_id IS NULL ORDER BY seen_at_ms, path",
        )
        .bind(pipeline)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in rows {
            let get = |e| self.err(e);
            let day: String = row.try_get("day").map_err(get)?;
            let known: String = row.try_get("fingerprint").map_err(get)?;
            let (Ok(day), Some(fingerprint)) = (day.parse::<NaiveDate>(), fingerprint(&known))
            else {
                continue;
            };
            pending.push(PendingFile {
                file: InputFile {
                    path: row.try_get("path").map_err(get)?,
                    fingerprint,
                    day,
                },
                seen_at_ms: row.try_get("seen_at_ms").map_err(get)?,
            });
        }
        Ok(pending)
    }

    /// The loaded files of `pipeline` seen since with another content.
    pub async fn changed_files(&self, pipeline: &str) -> Result<Vec<ChangedFile>> {
        let rows = sqlx::query(
            "SELECT path, fingerprint, changed, run_id FROM bronze_files
             WHERE pipeline = ? AND changed IS NOT NULL ORDER BY path",
        )
        .bind(pipeline)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut changed = Vec::new();
        for row in rows {
            let get = |e| self.err(e);
            let (loaded, now): (String, String) = (
                row.try_get("fingerprint").map_err(get)?,
                row.try_get("changed").map_err(get)?,
            );
            let run_id: Option<String> = row.try_get("run_id").map_err(get)?;
            if let (Some(loaded), Some(now), Some(run_id)) =
                (fingerprint(&loaded), fingerprint(&now), run_id)
            {
                changed.push(ChangedFile {
                    path: row.try_get("path").map_err(get)?,
                    loaded,
                    now,
                    run_id: RunId::new(run_id),
                });
            }
        }
        Ok(changed)
    }
}

/// The task an append to a partition continues from: where the keys of the
/// partition's rows so far are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastTask {
    pub run_id: RunId,
    pub task_id: floe_lake::TaskId,
    /// It left its keys (`floe_common::task::handoff`).
    pub handed_off: bool,
    pub finished_at_ms: i64,
}

impl Ledger {
    /// The last succeeded Silver task in `partition` of the newest load or
    /// append run of `pipeline` that wrote it.
    pub async fn last_silver_task(
        &self,
        pipeline: &str,
        partition: Option<&str>,
    ) -> Result<Option<LastTask>> {
        let row = sqlx::query(
            "SELECT t.run_id, t.task_id, t.dedupe, t.updated_at_ms FROM tasks t
             JOIN runs r ON r.run_id = t.run_id
             WHERE r.pipeline = ? AND t.partition IS ? AND t.gold IS NULL AND t.pass IS NULL
               AND t.state = 'succeeded' AND r.kind IN ('load', 'append')
             ORDER BY r.created_at_ms DESC, r.rowid DESC, t.ordinal DESC LIMIT 1",
        )
        .bind(pipeline)
        .bind(partition)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let Some(row) = row else { return Ok(None) };
        let get = |e| self.err(e);
        let dedupe: Option<String> = row.try_get("dedupe").map_err(get)?;
        let handed_off = dedupe
            .and_then(|d| serde_json::from_str::<floe_common::task::DedupeLink>(&d).ok())
            .is_some_and(|d| d.hand_off);
        Ok(Some(LastTask {
            run_id: RunId::new(row.try_get::<String, _>("run_id").map_err(get)?),
            task_id: floe_lake::TaskId::new(row.try_get::<String, _>("task_id").map_err(get)?),
            handed_off,
            finished_at_ms: row.try_get("updated_at_ms").map_err(get)?,
        }))
    }
}

/// What a pipeline's loads have brought so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The newest partition a Silver task of a load or append succeeded in.
    pub newest_partition: Option<String>,
    /// When the last such task finished.
    pub last_load_ms: Option<i64>,
    /// When the newest file such a task loaded was first seen (listed,
    /// notified or planned).
    pub newest_file_ms: Option<i64>,
}

impl Ledger {
    pub async fn loaded(&self, pipeline: &str) -> Result<Loaded> {
        let (newest_partition, last_load_ms): (Option<String>, Option<i64>) = sqlx::query_as(
            "SELECT max(t.partition), max(t.updated_at_ms) FROM tasks t
             JOIN runs r ON r.run_id = t.run_id
             WHERE r.pipeline = ? AND t.gold IS NULL AND t.pass IS NULL
               AND t.state = 'succeeded' AND r.kind IN ('load', 'append')",
        )
        .bind(pipeline)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let newest_file_ms: Option<i64> = sqlx::query_scalar(
            "SELECT max(b.seen_at_ms) FROM bronze_files b
             JOIN (SELECT DISTINCT t.run_id FROM tasks t JOIN runs r ON r.run_id = t.run_id
                   WHERE r.pipeline = ? AND t.state = 'succeeded' AND t.gold IS NULL
                     AND t.pass IS NULL) loaded ON loaded.run_id = b.run_id
             WHERE b.pipeline = ?",
        )
        .bind(pipeline)
        .bind(pipeline)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(Loaded {
            newest_partition,
            last_load_ms,
            newest_file_ms,
        })
    }
}
