//! Floe's commit protocol: one atomic, idempotent snapshot per (table, task).
//! See `PROTOCOL.md` beside this file for the guarantees and the failure cases.

mod durable;
pub mod evolve;
pub mod fence;
pub mod files;
pub mod history;
pub mod merge;
pub(crate) mod metadata;
#[cfg(any(test, feature = "test-support"))]
pub mod other_engine;
pub mod prune;
pub mod publish;
pub mod publish_diff;
pub mod replace;
pub mod rollback;
mod stage;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use iceberg::spec::DataFile;
use tracing::{debug, info, warn};

use crate::catalog::{SwapOutcome, TableCatalog};
use crate::error::{LakeError, Result};
use crate::ids::Attempt;
use crate::TableName;

pub use fence::Claim;

/// One task's change to one table.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub table: TableName,
    /// The delivery committing: its run and task are recorded in the snapshot
    /// summary and decide idempotency and the fence.
    pub attempt: Attempt,
    pub contract_version: u32,
    /// Data files written for this task, not yet visible.
    pub data_files: Vec<DataFile>,
    /// The partition the commit writes and how (see [`fence`]): a load replaces
    /// it, a quarantine pass adds to the load that owns it.
    pub claim: Claim,
    /// Extra snapshot summary properties (row counts).
    pub properties: BTreeMap<String, String>,
    /// Set by quarantine passes: the commit is already made when a snapshot on
    /// `main` recorded this key, whatever its run (see
    /// [`history::IDEMPOTENCY_KEY`]); otherwise when one recorded this run and task.
    pub idempotency_key: Option<String>,
    /// `None`: the commit goes to `main`. `Some`: to this branch, a staged
    /// run's ([`publish::staging_branch`]), which its first commit creates at
    /// `main`'s current snapshot; readers of `main` see nothing of it until
    /// the run is published. The fence is the table's, shared by all branches.
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// This call made the snapshot.
    Committed { snapshot_id: i64 },
    /// `main` already holds this run's task: nothing was done.
    AlreadyCommitted { snapshot_id: i64 },
    /// Nothing to add and nothing to replace.
    NoChange,
}

impl CommitOutcome {
    pub fn snapshot_id(&self) -> Option<i64> {
        match self {
            CommitOutcome::Committed { snapshot_id }
            | CommitOutcome::AlreadyCommitted { snapshot_id } => Some(*snapshot_id),
            CommitOutcome::NoChange => None,
        }
    }
}

/// Bounded exponential backoff between commit attempts, and who hears of them.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Told each commit's latency and each retry (the worker's Prometheus
    /// metrics); `None`: nobody.
    pub observer: Option<Arc<dyn CommitObserver>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 20,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(2),
            observer: None,
        }
    }
}

/// Hears what the commit loop does, for metrics. The process decides where it
/// goes; the table layer only reports.
pub trait CommitObserver: std::fmt::Debug + Send + Sync {
    /// A commit ended (committed, already committed, refused or failed) after `seconds`.
    fn commit_finished(&self, seconds: f64);
    /// An attempt ended in a conflict or an unknown outcome, and the loop starts again.
    fn commit_retried(&self);
}

impl RetryPolicy {
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1 << attempt.min(16));
        let capped = exp.min(self.max_backoff);
        // Jitter spreads racing committers apart.
        let jitter = rand::random::<f64>() * 0.5 + 0.75;
        capped.mul_f64(jitter)
    }
}

/// Commits `req`: load, check idempotency, stage on the loaded base, swap; on a
/// conflict or an unknown outcome, start again from the load.
pub async fn commit(
    catalog: &dyn TableCatalog,
    req: &CommitRequest,
    policy: &RetryPolicy,
) -> Result<CommitOutcome> {
    let started = std::time::Instant::now();
    let outcome = commit_with_retries(catalog, req, policy).await;
    if let Some(observer) = &policy.observer {
        observer.commit_finished(started.elapsed().as_secs_f64());
    }
    outcome
}

async fn commit_with_retries(
    catalog: &dyn TableCatalog,
    req: &CommitRequest,
    policy: &RetryPolicy,
) -> Result<CommitOutcome> {
    let mut last_error = String::from("no attempt made");
    for attempt in 1..=policy.max_attempts {
        let table = catalog
            .load_table(&req.table)
            .await?
            .ok_or_else(|| LakeError::Catalog {
                table: req.table.to_string(),
                message: "the table does not exist; it is created when a task first writes to it"
                    .into(),
            })?;
        if history::rolled_back_runs(table.metadata()).contains(&req.attempt.run_id.as_str()) {
            return Err(LakeError::RunRolledBack {
                table: req.table.to_string(),
                run: req.attempt.run_id.to_string(),
            });
        }
        let committed = match &req.idempotency_key {
            Some(key) => history::keyed_snapshot(table.metadata(), key),
            None => history::committed_on(
                table.metadata(),
                req.branch.as_deref().unwrap_or(iceberg::spec::MAIN_BRANCH),
                &req.attempt.run_id,
                &req.attempt.task_id,
            ),
        }
        .or_else(|| {
            // Its snapshot may have been expired since; the partition's record stays.
            fence::recorded_commit(
                table.metadata(),
                &req.claim,
                &req.attempt,
                req.idempotency_key.as_deref(),
            )
        });
        if let Some(snapshot_id) = committed {
            debug!(table = %req.table, snapshot_id, "task already committed");
            return Ok(CommitOutcome::AlreadyCommitted { snapshot_id });
        }
        let fence = fence::check(table.metadata(), &req.attempt.run_id, &req.claim)
            .map_err(|refusal| superseded(req, refusal))?;
        let Some(staged) = stage::stage(&table, req, fence, attempt).await? else {
            return Ok(CommitOutcome::NoChange);
        };
        let swap = Swap::onto(&req.table, &table, &staged.metadata_location);
        if swap
            .or_back_off(catalog, attempt, policy, &mut last_error)
            .await?
        {
            info!(table = %req.table, snapshot_id = staged.snapshot_id, attempt, "committed");
            return Ok(CommitOutcome::Committed {
                snapshot_id: staged.snapshot_id,
            });
        }
    }
    Err(LakeError::CommitExhausted {
        table: req.table.to_string(),
        task: req.attempt.task_id.to_string(),
        attempts: policy.max_attempts,
        last_error,
    })
}

/// One attempt's swap of a table's metadata pointer.
pub(crate) struct Swap<'a> {
    table: &'a TableName,
    expected: String,
    staged: &'a str,
}

impl<'a> Swap<'a> {
    /// From `loaded`'s metadata file (the base the change was staged on) to `staged`.
    pub(crate) fn onto(
        table: &'a TableName,
        loaded: &iceberg::table::Table,
        staged: &'a str,
    ) -> Self {
        let expected = loaded.metadata_location().unwrap_or_default().to_string();
        Self {
            table,
            expected,
            staged,
        }
    }

    /// `Ok(true)`: swapped. `Ok(false)`: another commit came first, or the
    /// outcome is unknown (the next load tells); `last_error` says which, and
    /// this waited the backoff before the caller's next attempt.
    pub(crate) async fn or_back_off(
        &self,
        catalog: &dyn TableCatalog,
        attempt: u32,
        policy: &RetryPolicy,
        last_error: &mut String,
    ) -> Result<bool> {
        match catalog
            .swap_metadata(self.table, &self.expected, self.staged)
            .await
        {
            Ok(SwapOutcome::Swapped) => return Ok(true),
            Ok(SwapOutcome::Conflict) => {
                *last_error = "another commit moved the table first".into();
                debug!(table = %self.table, attempt, "conflict, rebuilding on the new base");
            }
            Err(e) if e.is_retryable() => {
                // The swap may or may not have happened: the next load tells.
                warn!(table = %self.table, attempt, error = %e, "outcome unknown, reloading");
                *last_error = e.to_string();
            }
            Err(e) => return Err(e),
        }
        if let Some(observer) = &policy.observer {
            observer.commit_retried();
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
        Ok(false)
    }
}

fn superseded(req: &CommitRequest, refusal: fence::Refusal) -> LakeError {
    if refusal.changed_hands {
        return LakeError::PartitionChangedHands {
            table: req.table.to_string(),
            partition: refusal.partition,
            owner: refusal
                .owner
                .map_or_else(|| "(none)".to_string(), |o| o.to_string()),
        };
    }
    info!(table = %req.table, partition = %refusal.partition, owner = ?refusal.owner, "commit refused by the partition's fence");
    LakeError::Superseded {
        table: req.table.to_string(),
        partition: refusal.partition,
        run: req.attempt.run_id.to_string(),
        by: refusal.owner.map(|r| r.to_string()),
    }
}
