//! How a worker runs: its id, how many tasks at once, leases and drain.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub worker_id: String,
    /// Tasks in their data path at once; as many again may be committing.
    pub concurrency: usize,
    /// How long a lease hides a task; heartbeats renew it at a third of this.
    pub visibility: Duration,
    /// Long-poll wait per lease request.
    pub poll_wait: Duration,
    /// On shutdown, how long in-flight tasks may take before they are released.
    pub grace: Duration,
    /// A delivery running longer is abandoned and failed as timed out (retried,
    /// then dead-lettered).
    pub task_time_limit: Duration,
    /// How long a task that failed with a retryable error waits before it is
    /// delivered again.
    pub retry_backoff: floe_queue::backoff::Backoff,
    /// What one Gold task's queries may use.
    pub gold: floe_gold::Limits,
    /// Where task inputs may lie.
    pub bronze_roots: floe_common::task::BronzeRoots,
    /// The contracts tasks refer to, read from the warehouse once each.
    pub contracts: std::sync::Arc<floe_common::contract::ContractCache>,
}
