//! Tasks leased through the coordinator (the embedded default).

use floe_common::contract::Contract;
use std::time::Duration;

use async_trait::async_trait;
use floe_common::task::{TaskMessage, TaskReport};
use floe_common::FloeError;
use floe_proto::security::{AuthChannel, WorkerClientArgs};
use floe_proto::v1 as pb;
use floe_proto::v1::tasks_client::TasksClient;
use tracing::{error, warn};

use super::report::Reporter;
use super::{Leased, TaskFeed};
use crate::WorkerError;

#[derive(Clone)]
pub struct CoordinatorFeed {
    reporter: Reporter,
}

impl CoordinatorFeed {
    /// Connects to the coordinator at `url`, retrying for a while: it may still be
    /// starting.
    pub async fn connect(url: &str, security: &WorkerClientArgs) -> Result<Self, WorkerError> {
        let endpoint = security.endpoint(url)?;
        let authorize = security.authorize()?;
        let mut delay = Duration::from_millis(100);
        for _ in 0..30 {
            match endpoint.connect().await {
                Ok(channel) => {
                    let client = TasksClient::with_interceptor(channel, authorize);
                    return Ok(Self {
                        reporter: Reporter { client },
                    });
                }
                Err(e) => {
                    warn!(url, error = %e, "coordinator not reachable yet");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
        Err(WorkerError::Connect {
            url: url.into(),
            message: "gave up after 30 attempts".into(),
        })
    }

    fn client(&self) -> TasksClient<AuthChannel> {
        self.reporter.client.clone()
    }
}

#[async_trait]
impl TaskFeed for CoordinatorFeed {
    async fn lease(
        &self,
        worker: &str,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Leased>, WorkerError> {
        let request = pb::LeaseTasksRequest {
            worker_id: worker.to_string(),
            max_tasks: max as u32,
            visibility_seconds: visibility.as_secs() as u32,
            wait_seconds: wait.as_secs() as u32,
        };
        let tasks = self.client().lease_tasks(request).await?.into_inner().tasks;
        Ok(tasks
            .into_iter()
            .map(|t| Leased {
                receipt: t.receipt,
                attempt: t.attempt,
                message: TaskMessage::from(&t.task.unwrap_or_default()),
            })
            .collect())
    }

    async fn heartbeat(&self, _worker: &str, task: &Leased, visibility: Duration) -> bool {
        let request = pb::ExtendLeaseRequest {
            receipt: task.receipt.clone(),
            visibility_seconds: visibility.as_secs() as u32,
            run_id: task.message.run_id.to_string(),
        };
        match self.client().extend_lease(request).await {
            Ok(r) => r.get_ref().cancelled,
            // The task keeps running: its commit is idempotent even if the lease lapsed.
            Err(status) => {
                warn!(error = %status, "heartbeat failed");
                false
            }
        }
    }

    async fn complete(&self, task: &Leased, report: &TaskReport, contract: &Contract) {
        if let Err(status) = self.reporter.complete(task, report, contract).await {
            error!(error = %status, "could not report the task's success; it will be redelivered and complete again");
        }
    }

    async fn fail(&self, task: &Leased, e: &FloeError, retry_after: Duration) {
        if let Err(status) = self.reporter.fail(task, e, retry_after).await {
            error!(error = %status, "could not report the task's failure; it will be redelivered");
        }
    }

    async fn release(&self, task: &Leased) {
        let request = pb::ReleaseTaskRequest {
            receipt: task.receipt.clone(),
        };
        if let Err(status) = self.client().release_task(request).await {
            warn!(error = %status, "could not release the task; it is redelivered when its lease ends");
        }
    }
}
