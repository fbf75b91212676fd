//! Tasks taken from the queue directly (SQS in production). The queue is the
//! source of truth for deliveries; the coordinator is told, but not needed.

use floe_common::contract::Contract;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use floe_common::task::{SigningKeys, TaskReport};
use floe_common::FloeError;
use floe_proto::security::{AuthChannel, WorkerClientArgs};
use floe_proto::v1 as pb;
use floe_proto::v1::tasks_client::TasksClient;
use floe_queue::{Delivery, Receipt, TaskQueue};
use tracing::{info, warn};

use super::report::Reporter;
use super::{Leased, TaskFeed};
use crate::WorkerError;

/// How long a report to the coordinator may take before the worker goes on
/// without it.
const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct QueueFeed {
    queue: Arc<dyn TaskQueue>,
    /// Only messages these keys verify are run.
    keys: SigningKeys,
    reporter: Reporter,
}

impl QueueFeed {
    /// Reports go to the coordinator at `url`; the connection is made on first
    /// use and remade after failures, so the coordinator may come and go.
    pub fn new(
        queue: Arc<dyn TaskQueue>,
        keys: SigningKeys,
        url: &str,
        security: &WorkerClientArgs,
    ) -> Result<Self, WorkerError> {
        let endpoint = security
            .endpoint(url)?
            .connect_timeout(Duration::from_secs(2))
            .timeout(REPORT_TIMEOUT);
        let client = TasksClient::with_interceptor(endpoint.connect_lazy(), security.authorize()?);
        Ok(Self {
            queue,
            keys,
            reporter: Reporter { client },
        })
    }

    /// A message the keys do not verify is not parsed, let alone run: it goes
    /// to the dead letters, counted by reason.
    async fn refuse(&self, d: &Delivery, refusal: floe_common::task::Refusal) {
        warn!(message_id = %d.message_id, reason = refusal.as_str(), "refusing a queue message: {refusal}");
        floe_process::metrics::message_refused(refusal.as_str());
        if let Err(e) = self.queue.dead_letter(d, refusal.as_str()).await {
            warn!(message_id = %d.message_id, error = %e, "could not dead-letter the refused message; it is refused again on its next delivery");
        }
    }

    fn client(&self) -> TasksClient<AuthChannel> {
        self.reporter.client.clone()
    }

    /// Acknowledges on the queue; a stale receipt means the task was redelivered
    /// elsewhere, and that delivery finds the commits already made.
    async fn delete(&self, task: &Leased) {
        let receipt = Receipt(task.receipt.clone());
        match self.queue.delete(&receipt).await {
            Ok(()) => {}
            Err(e) if e.is_stale() => {}
            Err(e) => {
                warn!(error = %e, "could not acknowledge the task; it will be redelivered and find its commits")
            }
        }
    }

    async fn make_visible(&self, task: &Leased) {
        self.make_visible_after(task, Duration::ZERO).await
    }

    /// Hands the task back, hidden for `after` first (a retry's backoff).
    async fn make_visible_after(&self, task: &Leased, after: Duration) {
        let receipt = Receipt(task.receipt.clone());
        let handed_back = if after.is_zero() {
            self.queue.release(&receipt).await
        } else {
            self.queue.extend(&receipt, after).await
        };
        match handed_back {
            Ok(()) => {}
            Err(e) if e.is_stale() => {}
            Err(e) => {
                warn!(error = %e, "could not release the task; it is redelivered when its lease ends")
            }
        }
    }
}

#[async_trait]
impl TaskFeed for QueueFeed {
    async fn lease(
        &self,
        worker: &str,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Leased>, WorkerError> {
        let deliveries = self.queue.receive(max, visibility, wait).await?;
        let mut leased = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            match self.keys.open(&d.body) {
                Ok(message) => {
                    let task = Leased {
                        receipt: d.receipt.0,
                        attempt: d.receive_count,
                        message,
                    };
                    if self.heartbeat(worker, &task, visibility).await {
                        info!(run_id = %task.message.run_id, task_id = %task.message.task_id, "dropping a task of a cancelled run");
                        self.delete(&task).await;
                        continue;
                    }
                    leased.push(task);
                }
                Err(refusal) => self.refuse(&d, refusal).await,
            }
        }
        Ok(leased)
    }

    /// Tells the coordinator first (a cancelled run needs no renewal), then renews
    /// the visibility on the queue whatever the coordinator said or did not say.
    async fn heartbeat(&self, worker: &str, task: &Leased, visibility: Duration) -> bool {
        let request = pb::ReportProgressRequest {
            run_id: task.message.run_id.to_string(),
            task_id: task.message.task_id.to_string(),
            attempt: task.attempt,
            worker_id: worker.to_string(),
        };
        match self.client().report_progress(request).await {
            Ok(r) if r.get_ref().cancelled => return true,
            Ok(_) => {}
            Err(status) => warn!(error = %status, "coordinator unreachable; the task goes on"),
        }
        let receipt = Receipt(task.receipt.clone());
        if let Err(e) = self.queue.extend(&receipt, visibility).await {
            // Running on is safe: the commit is idempotent if the task is redelivered.
            warn!(error = %e, "renewing the task's visibility failed");
        }
        false
    }

    /// The commits are made: the tables' snapshot summaries now hold the outcome,
    /// so the task is acknowledged even when the coordinator does not answer.
    async fn complete(&self, task: &Leased, report: &TaskReport, contract: &Contract) {
        if let Err(status) = self.reporter.complete(task, report, contract).await {
            warn!(error = %status, "could not report the task's success; acknowledging it anyway, the coordinator reconciles from the table's snapshots");
        }
        self.delete(task).await;
    }

    /// A failure only the coordinator can record: when it does not answer, the task
    /// goes back on the queue, to be retried or, after the last delivery, dead-lettered
    /// (the coordinator records dead letters when it is back).
    async fn fail(&self, task: &Leased, e: &FloeError, retry_after: Duration) {
        let reported = self.reporter.fail(task, e, retry_after).await;
        if let Err(status) = &reported {
            warn!(error = %status, "could not report the task's failure; handing it back to the queue");
        }
        if e.is_retryable() || reported.is_err() {
            self.make_visible_after(task, retry_after).await;
        } else {
            self.delete(task).await;
        }
    }

    async fn release(&self, task: &Leased) {
        self.make_visible(task).await;
    }
}
