//! The embedded durable task queue: one table in a SQLite file (its own, or the
//! coordinator's ledger), with SQS's semantics (see [`TaskQueue`]).
//!
//! Every row is a message; `visible_at` (Unix milliseconds, wall clock, so leases
//! survive a restart) says when it can be delivered, `receipt` names its current
//! delivery and `dead` marks dead letters. Every state change is one `BEGIN
//! IMMEDIATE` transaction, so concurrent receivers, in this process or another,
//! never take the same message. Within a process writers also queue on a mutex
//! rather than on SQLite's busy back-off; across processes the busy timeout applies.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use floe_queue::{
    DeadLetter, Delivery, QueueDepth, QueueError, Receipt, Result, TaskQueue, MAX_BODY_BYTES,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{Mutex, MutexGuard, Notify};

/// How often a long poll looks at the table when nothing in this process wakes it
/// (a message sent by another process, or a visibility timeout ending).
const POLL_INTERVAL: Duration = Duration::from_millis(75);
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS floe_queue (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id    TEXT    NOT NULL UNIQUE,
        body          TEXT    NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        visible_at    INTEGER NOT NULL,
        receipt       TEXT    UNIQUE,
        dead          INTEGER NOT NULL DEFAULT 0,
        sent_at       INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS floe_queue_ready ON floe_queue (dead, visible_at)",
];

/// SQLite-backed [`TaskQueue`]. Clones share the connection pool and wake-ups.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    pool: SqlitePool,
    path: PathBuf,
    max_receives: u32,
    /// Woken by `send_batch` and `release` so long polls here return at once.
    arrived: Arc<Notify>,
    /// Serialises this process's write transactions.
    writer: Arc<Mutex<()>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl SqliteQueue {
    /// Opens the queue in the SQLite file `path` (created if absent, with its table),
    /// dead-lettering messages delivered `max_receives` times (at least 1).
    pub async fn open(path: &Path, max_receives: u32) -> Result<Self> {
        let fail = |action: &str, e: sqlx::Error| queue_error(path, action, e);
        if max_receives == 0 {
            return Err(failed(path, "opening", "max_receives must be at least 1"));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| failed(path, "creating its folder", e))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| fail("opening", e))?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .map_err(|e| fail("creating its table", e))?;
        }
        Ok(Self {
            pool,
            path: path.to_path_buf(),
            max_receives,
            arrived: Arc::new(Notify::new()),
            writer: Arc::new(Mutex::new(())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn max_receives(&self) -> u32 {
        self.max_receives
    }

    /// Closes the connections (also done when the last clone is dropped).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn err(&self, action: &str) -> impl Fn(sqlx::Error) -> QueueError + '_ {
        let action = action.to_string();
        move |e| queue_error(&self.path, &action, e)
    }

    /// Starts a `BEGIN IMMEDIATE` transaction holding this process's write lock;
    /// returns it with the time read once the lock is held.
    async fn begin(
        &self,
        action: &str,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>, i64)> {
        let guard = self.writer.lock().await;
        let tx = crate::sqlite::begin(&self.pool, Some("BEGIN IMMEDIATE"))
            .await
            .map_err(self.err(action))?;
        Ok((guard, tx, now_ms()))
    }

    async fn commit(&self, action: &str, tx: Transaction<'static, Sqlite>) -> Result<()> {
        tx.commit().await.map_err(self.err(action))
    }

    /// Moves messages delivered `max_receives` times that are visible again to the
    /// dead letters.
    async fn sweep(&self, tx: &mut Transaction<'static, Sqlite>, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE floe_queue SET dead = 1
             WHERE dead = 0 AND visible_at <= ? AND receive_count >= ?",
        )
        .bind(now)
        .bind(self.max_receives as i64)
        .execute(&mut **tx)
        .await
        .map_err(self.err("dead-lettering"))?;
        Ok(())
    }

    async fn try_receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>> {
        // A read without the write lock first, so idle polls do not block writers.
        let ready: bool = sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM floe_queue WHERE dead = 0 AND visible_at <= ?)",
        )
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("receiving"))?;
        if !ready {
            return Ok(Vec::new());
        }
        let (_guard, mut tx, now) = self.begin("receiving").await?;
        self.sweep(&mut tx, now).await?;
        let rows = sqlx::query(
            "SELECT seq, message_id, body, receive_count FROM floe_queue
             WHERE dead = 0 AND visible_at <= ? ORDER BY seq LIMIT ?",
        )
        .bind(now)
        .bind(max as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(self.err("receiving"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let receipt = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "UPDATE floe_queue
                 SET receipt = ?, receive_count = receive_count + 1, visible_at = ?
                 WHERE seq = ?",
            )
            .bind(&receipt)
            .bind(now.saturating_add(ms(visibility)))
            .bind(row.get::<i64, _>(0))
            .execute(&mut *tx)
            .await
            .map_err(self.err("receiving"))?;
            out.push(Delivery {
                message_id: row.get(1),
                receipt: Receipt(receipt),
                body: row.get(2),
                receive_count: row.get::<i64, _>(3) as u32 + 1,
            });
        }
        self.commit("receiving", tx).await?;
        Ok(out)
    }

    /// Sets the visibility of the current delivery `receipt`; stale if none.
    async fn set_visibility(&self, action: &str, receipt: &Receipt, after: Duration) -> Result<()> {
        let (_guard, mut tx, now) = self.begin(action).await?;
        let changed =
            sqlx::query("UPDATE floe_queue SET visible_at = ? WHERE receipt = ? AND dead = 0")
                .bind(now.saturating_add(ms(after)))
                .bind(&receipt.0)
                .execute(&mut *tx)
                .await
                .map_err(self.err(action))?
                .rows_affected();
        self.commit(action, tx).await?;
        if changed == 0 {
            return Err(QueueError::stale(receipt));
        }
        Ok(())
    }
}

fn failed(path: &Path, action: &str, message: impl ToString) -> QueueError {
    let (queue, action) = (path.display().to_string(), action.to_string());
    let message = message.to_string();
    QueueError::Failed {
        queue,
        action,
        message,
    }
}

/// Busy or locked databases and I/O trouble may pass; anything else is a failure.
fn queue_error(path: &Path, action: &str, e: sqlx::Error) -> QueueError {
    let transient = match &e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)), // SQLITE_BUSY, SQLITE_LOCKED
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        _ => false,
    };
    if !transient {
        return failed(path, action, e);
    }
    let (queue, action) = (path.display().to_string(), action.to_string());
    let message = e.to_string();
    QueueError::Unavailable {
        queue,
        action,
        message,
    }
}

#[async_trait]
impl TaskQueue for SqliteQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<Vec<String>> {
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(big) = bodies.iter().find(|b| b.len() > MAX_BODY_BYTES) {
            let message = format!(
                "a body has {} bytes; the limit is {MAX_BODY_BYTES}",
                big.len()
            );
            return Err(failed(&self.path, "sending", message));
        }
        let (guard, mut tx, now) = self.begin("sending").await?;
        let mut ids = Vec::with_capacity(bodies.len());
        for body in bodies {
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO floe_queue (message_id, body, visible_at, sent_at)
                 VALUES (?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(body)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(self.err("sending"))?;
            ids.push(id);
        }
        self.commit("sending", tx).await?;
        drop(guard);
        self.arrived.notify_waiters();
        Ok(ids)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let start = Instant::now();
        let deadline = start
            .checked_add(wait)
            .unwrap_or(start + Duration::from_secs(86_400));
        loop {
            // Registered before looking, so a send in between still wakes us.
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let got = self.try_receive(max, visibility).await?;
            let now = Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let _ = tokio::time::timeout(POLL_INTERVAL.min(deadline - now), arrived).await;
        }
    }

    async fn extend(&self, receipt: &Receipt, visibility: Duration) -> Result<()> {
        self.set_visibility("extending a lease", receipt, visibility)
            .await
    }

    async fn delete(&self, receipt: &Receipt) -> Result<()> {
        let (_guard, mut tx, _now) = self.begin("deleting").await?;
        let deleted = sqlx::query("DELETE FROM floe_queue WHERE receipt = ? AND dead = 0")
            .bind(&receipt.0)
            .execute(&mut *tx)
            .await
            .map_err(self.err("deleting"))?
            .rows_affected();
        self.commit("deleting", tx).await?;
        if deleted == 0 {
            return Err(QueueError::stale(receipt));
        }
        Ok(())
    }

    async fn release(&self, receipt: &Receipt) -> Result<()> {
        self.set_visibility("releasing", receipt, Duration::ZERO)
            .await?;
        self.arrived.notify_waiters();
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth> {
        let (now, max) = (now_ms(), self.max_receives as i64);
        let row = sqlx::query(
            "SELECT
               COALESCE(SUM(dead = 0 AND visible_at <= ? AND receive_count < ?), 0),
               COALESCE(SUM(dead = 0 AND visible_at > ?), 0),
               COALESCE(SUM(dead = 1 OR (visible_at <= ? AND receive_count >= ?)), 0)
             FROM floe_queue",
        )
        .bind(now)
        .bind(max)
        .bind(now)
        .bind(now)
        .bind(max)
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("counting messages"))?;
        let count = |i: usize| row.get::<i64, _>(i).max(0) as u64;
        Ok(QueueDepth {
            visible: count(0),
            in_flight: count(1),
            dead: count(2),
        })
    }

    /// The reason is not stored: the consumer logs and counts it.
    async fn dead_letter(&self, delivery: &Delivery, _reason: &str) -> Result<()> {
        let receipt = &delivery.receipt;
        let (_guard, mut tx, _now) = self.begin("dead-lettering").await?;
        let moved = sqlx::query("UPDATE floe_queue SET dead = 1 WHERE receipt = ? AND dead = 0")
            .bind(&receipt.0)
            .execute(&mut *tx)
            .await
            .map_err(self.err("dead-lettering"))?
            .rows_affected();
        self.commit("dead-lettering", tx).await?;
        if moved == 0 {
            return Err(QueueError::stale(receipt));
        }
        Ok(())
    }

    async fn take_dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let action = "taking dead letters";
        let (_guard, mut tx, now) = self.begin(action).await?;
        self.sweep(&mut tx, now).await?;
        let rows = sqlx::query(
            "SELECT seq, message_id, body, receive_count FROM floe_queue
             WHERE dead = 1 ORDER BY seq LIMIT ?",
        )
        .bind(max as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(self.err(action))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            sqlx::query("DELETE FROM floe_queue WHERE seq = ?")
                .bind(row.get::<i64, _>(0))
                .execute(&mut *tx)
                .await
                .map_err(self.err(action))?;
            out.push(DeadLetter {
                message_id: row.get(1),
                body: row.get(2),
                receive_count: row.get::<i64, _>(3) as u32,
            });
        }
        self.commit(action, tx).await?;
        Ok(out)
    }
}
