//! Where a worker gets its tasks and where it reports them.
//!
//! - [`CoordinatorFeed`]: the embedded default. The coordinator leases tasks from
//!   its queue over gRPC and records every outcome in its ledger.
//! - [`QueueFeed`]: production on SQS. The worker takes tasks from the queue
//!   itself and renews their visibility there; it reports to the coordinator over
//!   gRPC, but does not need it: when the coordinator is unreachable the worker
//!   still commits and acknowledges, and the coordinator later reconciles its
//!   ledger from the tables' snapshot summaries.

mod from_coordinator;
mod from_queue;
mod report;

use std::time::Duration;

use async_trait::async_trait;
use floe_common::contract::Contract;
use floe_common::task::{TaskMessage, TaskReport};
use floe_common::FloeError;

pub use from_coordinator::CoordinatorFeed;
pub use from_queue::QueueFeed;

use crate::WorkerError;

/// One delivery of a task to this worker.
#[derive(Debug, Clone)]
pub struct Leased {
    pub receipt: String,
    /// 1 for the first delivery; grows with each redelivery.
    pub attempt: u32,
    pub message: TaskMessage,
}

/// The worker's side of the task lifecycle.
///
/// Contract: `lease` hides each returned task from other workers for
/// `visibility`; `heartbeat` renews that and says whether the task's run was
/// cancelled; exactly one of `complete`, `fail` or `release` ends a delivery.
/// The reporting calls never fail the worker: a report that cannot be delivered is
/// logged, and the task's idempotent commit makes a redelivery harmless.
#[async_trait]
pub trait TaskFeed: Send + Sync {
    /// Up to `max` tasks, waiting up to `wait` for the first.
    async fn lease(
        &self,
        worker: &str,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Leased>, WorkerError>;

    /// Renews the lease. Returns true when the task's run was cancelled.
    async fn heartbeat(&self, worker: &str, task: &Leased, visibility: Duration) -> bool;

    /// The task committed (or found its commits): record it and acknowledge it.
    async fn complete(&self, task: &Leased, report: &TaskReport, contract: &Contract);

    /// The task failed. A retryable failure is handed back for redelivery after
    /// `retry_after` (until the queue dead-letters it); any other ends the task.
    async fn fail(&self, task: &Leased, error: &FloeError, retry_after: Duration);

    /// Hands the task back unfinished, visible to other workers at once.
    async fn release(&self, task: &Leased);
}

/// Retries a report a few times: a lost report only delays the run (the task is
/// redelivered and finds its snapshots), but retrying is cheaper.
pub(crate) async fn with_retries<F, Fut>(mut call: F) -> Result<(), tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let mut delay = Duration::from_millis(200);
    let mut last = None;
    for _ in 0..5 {
        match call().await {
            Ok(()) => return Ok(()),
            Err(s) if s.code() == tonic::Code::Unavailable || s.code() == tonic::Code::Unknown => {
                last = Some(s);
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(s) => return Err(s),
        }
    }
    Err(last.expect("at least one attempt"))
}
