//! What the ledger and the embedded queue share about SQLite transactions.

use sqlx::sqlite::SqlitePool;
use sqlx::{Sqlite, Transaction};

/// Begins a transaction on a task of its own (`statement`: a custom `BEGIN`,
/// e.g. `BEGIN IMMEDIATE`). A caller dropped while `BEGIN` waits for the lock
/// (a gRPC handler whose client gave up, a long poll cut short by a draining
/// worker) would otherwise return the connection to the pool inside a
/// transaction nobody ends, holding the write lock for good; here the
/// transaction always reaches an owner, which rolls it back when dropped.
pub(crate) async fn begin(
    pool: &SqlitePool,
    statement: Option<&'static str>,
) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move {
        match statement {
            Some(s) => pool.begin_with(s).await,
            None => pool.begin().await,
        }
    })
    .await
    .map_err(|e| sqlx::Error::Protocol(format!("beginning a transaction: {e}")))?
}
