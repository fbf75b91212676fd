//! The ledger's tables and their migrations. `ledger_schema` holds one row with the
//! version the file is at; [`migrate`] brings an older file up to [`VERSION`] and
//! refuses a newer one. Add a migration by appending to [`MIGRATIONS`]; never edit one.

use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;

use crate::error::CoordinatorError;

/// Statements that take the ledger from version `i` to `i + 1`.
const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE runs (
        run_id          TEXT PRIMARY KEY NOT NULL,
        pipeline        TEXT NOT NULL,
        period          TEXT NOT NULL,
        state           TEXT NOT NULL,
        created_at_ms   INTEGER NOT NULL,
        finished_at_ms  INTEGER,
        error           TEXT,
        contract_text   TEXT NOT NULL,
        contract_origin TEXT NOT NULL,
        mode            TEXT NOT NULL
    )",
        "CREATE INDEX runs_by_created ON runs (created_at_ms)",
        "CREATE INDEX runs_by_state ON runs (state)",
        "CREATE TABLE tasks (
        run_id        TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        task_id       TEXT NOT NULL,
        ordinal       INTEGER NOT NULL,
        partition     TEXT,
        inputs        TEXT NOT NULL,
        bytes         INTEGER NOT NULL,
        state         TEXT NOT NULL,
        attempts      INTEGER NOT NULL,
        stats         TEXT,
        snapshots     TEXT NOT NULL,
        last_error    TEXT,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (run_id, task_id)
    )",
    ],
    &[
        // 0 from insert until the run's tasks are on the queue (see `Ledger::mark_enqueued`).
        "ALTER TABLE runs ADD COLUMN enqueued INTEGER NOT NULL DEFAULT 1",
    ],
    &[
        // A run rolled back on a table (see `Ledger::record_rollback`).
        "CREATE TABLE rollbacks (
        run_id      TEXT NOT NULL,
        table_name  TEXT NOT NULL,
        to_snapshot INTEGER NOT NULL,
        at_ms       INTEGER NOT NULL,
        PRIMARY KEY (run_id, table_name)
    )",
        // The last scheduled maintenance of a pipeline's tables.
        "CREATE TABLE maintenance (
        pipeline TEXT PRIMARY KEY NOT NULL,
        last_ms  INTEGER NOT NULL,
        report   TEXT NOT NULL
    )",
    ],
    &[
        // What each input was at planning, by location (JSON): a resumed run
        // checks the same versions as the one enqueued at submit.
        "ALTER TABLE tasks ADD COLUMN fingerprints TEXT NOT NULL DEFAULT '{}'",
    ],
    &[
        // A Gold task's model and the tasks it waits for (JSON); NULL for a Silver task.
        "ALTER TABLE tasks ADD COLUMN gold TEXT",
        // 0 while a Gold task waits for its dependencies; 1 once it is on the queue.
        "ALTER TABLE tasks ADD COLUMN enqueued INTEGER NOT NULL DEFAULT 1",
        // The run's trace context (JSON): tasks enqueued later join its trace.
        "ALTER TABLE runs ADD COLUMN trace_context TEXT NOT NULL DEFAULT '{}'",
    ],
    &[
        // The run that took a superseded task's partition.
        "ALTER TABLE tasks ADD COLUMN superseded_by TEXT",
    ],
    &[
        // A chained task of a split partition (JSON `DedupeLink`); NULL otherwise.
        "ALTER TABLE tasks ADD COLUMN dedupe TEXT",
        // Files a run leaves out as copies of others (JSON list).
        "ALTER TABLE runs ADD COLUMN skipped TEXT NOT NULL DEFAULT '[]'",
    ],
    &[
        // What a run does: load, reprocess, release or rebuild.
        "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'load'",
        // A quarantine pass task (JSON `PassTask`); NULL otherwise.
        "ALTER TABLE tasks ADD COLUMN pass TEXT",
    ],
    &[
        // Every load replaces its partitions: there is no write mode to record.
        "ALTER TABLE runs DROP COLUMN mode",
    ],
    &[
        // Registered pipelines: one row per applied contract version.
        "CREATE TABLE pipelines (
        name            TEXT NOT NULL,
        version         INTEGER NOT NULL,
        contract_text   TEXT NOT NULL,
        contract_origin TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        applied_at_ms   INTEGER NOT NULL,
        PRIMARY KEY (name, version)
    )",
    ],
    &[
        // What started a run (`manual` or `schedule`), the tick a schedule
        // fired for, and the registered pipeline version it ran.
        "ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'manual'",
        "ALTER TABLE runs ADD COLUMN scheduled_for_ms INTEGER",
        "ALTER TABLE runs ADD COLUMN pipeline_version INTEGER",
        "CREATE INDEX runs_by_schedule ON runs (pipeline, scheduled_for_ms)",
        // A pipeline's schedule as the coordinator last saw it: ticks after
        // `armed_at_ms` are due; a submit that failed is kept until the next tick.
        "CREATE TABLE schedules (
        pipeline        TEXT PRIMARY KEY NOT NULL,
        schedule        TEXT NOT NULL,
        armed_at_ms     INTEGER NOT NULL,
        failed_tick_ms  INTEGER,
        last_error      TEXT
    )",
    ],
    &[
        // Every Bronze file loaded or seen, by version (see `bronze_files`).
        "CREATE TABLE bronze_files (
        pipeline    TEXT NOT NULL,
        path        TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        day         TEXT,
        seen_at_ms  INTEGER NOT NULL,
        run_id      TEXT,
        changed     TEXT,
        PRIMARY KEY (pipeline, path)
    )",
        "CREATE INDEX bronze_files_pending ON bronze_files (pipeline, run_id)",
    ],
    &[
        // Inputs a task reads only a byte range of (a large file split).
        "ALTER TABLE tasks ADD COLUMN ranges TEXT NOT NULL DEFAULT '{}'",
    ],
    &[
        // Staged runs: committed to their own branch, published when done.
        "ALTER TABLE runs ADD COLUMN staged INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN published_at_ms INTEGER",
        // The audits run before publishing, and why they refused it.
        "ALTER TABLE runs ADD COLUMN audits TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE runs ADD COLUMN publish_error TEXT",
    ],
    &[
        // Manual publishing: audited runs wait for an operator's approval.
        "ALTER TABLE runs ADD COLUMN awaiting_approval INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN approved_by TEXT",
        "ALTER TABLE runs ADD COLUMN approval_reason TEXT",
    ],
    &[
        // Per-run publish options: staged and held for approval (a dry run),
        // partitions allowed to shrink past the row change audit.
        "ALTER TABLE runs ADD COLUMN hold INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN allow_shrink INTEGER NOT NULL DEFAULT 0",
    ],
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Creates or upgrades the ledger's tables in one transaction.
pub(super) async fn migrate(
    conn: &mut SqliteConnection,
    path: &str,
) -> Result<(), CoordinatorError> {
    let err = |e: sqlx::Error| super::db_err(path, e);
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
    sqlx::query("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    let found: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM ledger_schema")
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
    let found = found.unwrap_or(0);
    if found > VERSION {
        return Err(CoordinatorError::LedgerTooNew {
            path: path.to_string(),
            found,
            supported: VERSION,
        });
    }
    for step in &MIGRATIONS[found as usize..] {
        for statement in *step {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
    }
    if found < VERSION {
        sqlx::query("DELETE FROM ledger_schema")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query("INSERT INTO ledger_schema (version) VALUES (?)")
            .bind(VERSION)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;

    async fn connect(path: &std::path::Path) -> SqliteConnection {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        SqliteConnection::connect_with(&options).await.unwrap()
    }

    #[tokio::test]
    async fn a_run_recorded_with_a_write_mode_survives_the_migration_that_drops_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = connect(&dir.path().join("ledger.db")).await;
        let before = MIGRATIONS
            .iter()
            .position(|step| step.iter().any(|s| s.contains("DROP COLUMN mode")))
            .unwrap();
        sqlx::query("CREATE TABLE ledger_schema (version INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        for statement in MIGRATIONS[..before].iter().flat_map(|step| step.iter()) {
            sqlx::query(statement).execute(&mut conn).await.unwrap();
        }
        sqlx::query("INSERT INTO ledger_schema (version) VALUES (?)")
            .bind(before as i64)
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO runs (run_id, pipeline, period, state, created_at_ms, contract_text,
                               contract_origin, mode)
             VALUES ('r1', 'p', '2025-01', 'succeeded', 1, 'toml', 'c.toml', 'replace-partition')",
        )
        .execute(&mut conn)
        .await
        .unwrap();

        migrate(&mut conn, "ledger.db").await.unwrap();

        let (run, kind): (String, String) = sqlx::query_as("SELECT run_id, kind FROM runs")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!((run.as_str(), kind.as_str()), ("r1", "load"));
        let mode_columns: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'mode'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(mode_columns, 0);
    }

    #[tokio::test]
    async fn migrates_once_and_refuses_a_newer_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let mut conn = connect(&path).await;
        migrate(&mut conn, "ledger.db").await.unwrap();
        migrate(&mut conn, "ledger.db").await.unwrap(); // idempotent
        let v: i64 = sqlx::query_scalar("SELECT version FROM ledger_schema")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(v, VERSION);
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_schema")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(rows, 1);

        sqlx::query("UPDATE ledger_schema SET version = ?")
            .bind(VERSION + 1)
            .execute(&mut conn)
            .await
            .unwrap();
        let e = migrate(&mut conn, "ledger.db")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("ledger.db") && e.contains("newer"), "{e}");
    }
}
