//! The pull loop: permits bound the tasks in flight; each leased task runs in its
//! own tokio task (see `runner`).

use std::sync::Arc;
use std::time::Duration;

use floe_common::task::TaskEnv;
use floe_proto::v1 as pb;
use floe_proto::v1::tasks_client::TasksClient;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tracing::{info, warn};

use crate::runner::{self, Leased};
use crate::WorkerError;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub coordinator: String,
    pub worker_id: String,
    /// Tasks in flight at once.
    pub concurrency: usize,
    /// How long a lease hides a task; heartbeats renew it at a third of this.
    pub visibility: Duration,
    /// Long-poll wait per lease request.
    pub poll_wait: Duration,
    /// On shutdown, how long in-flight tasks may take before they are released.
    pub grace: Duration,
}

async fn connect(url: &str) -> Result<TasksClient<Channel>, WorkerError> {
    let endpoint = Channel::from_shared(url.to_string())
        .map_err(|e| WorkerError::Connect {
            url: url.into(),
            message: e.to_string(),
        })?
        .connect_timeout(Duration::from_secs(5));
    // The coordinator may still be starting: retry for a while.
    let mut delay = Duration::from_millis(100);
    for _ in 0..30 {
        match endpoint.connect().await {
            Ok(channel) => return Ok(TasksClient::new(channel)),
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

/// Runs until `shutdown` turns true, then drains as described in the crate docs.
pub async fn run_worker(
    config: WorkerConfig,
    env: TaskEnv,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), WorkerError> {
    let client = connect(&config.coordinator).await?;
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut running = JoinSet::new();
    let (abort_tx, abort_rx) = watch::channel(false);
    info!(worker = %config.worker_id, concurrency = config.concurrency, "worker started");
    while !*shutdown.borrow() {
        let first = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore open"),
            _ = shutdown.changed() => break,
        };
        let mut held = vec![first];
        while let Ok(p) = permits.clone().try_acquire_owned() {
            held.push(p);
        }
        let request = pb::LeaseTasksRequest {
            worker_id: config.worker_id.clone(),
            max_tasks: held.len() as u32,
            visibility_seconds: config.visibility.as_secs() as u32,
            wait_seconds: config.poll_wait.as_secs() as u32,
        };
        let mut lease_client = client.clone();
        let mut lease = std::pin::pin!(lease_client.lease_tasks(request));
        let leased = tokio::select! {
            r = &mut lease => r,
            _ = shutdown.changed() => {
                // An answer already on its way would leave tasks leased to nobody until
                // their visibility timeout: wait a moment for it and hand them back.
                // A request still polling is dropped; the coordinator then takes nothing.
                if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(1), lease).await {
                    for task in r.into_inner().tasks {
                        let release = pb::ReleaseTaskRequest { receipt: task.receipt };
                        let _ = client.clone().release_task(release).await;
                    }
                }
                break;
            }
        };
        let tasks = match leased {
            Ok(r) => r.into_inner().tasks,
            Err(status) => {
                warn!(error = %status, "leasing failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for task in tasks {
            let permit = held.pop().expect("no more tasks than permits");
            let leased = Leased::from(task);
            let run = runner::run(
                client.clone(),
                env.clone(),
                config.clone(),
                leased,
                abort_rx.clone(),
            );
            running.spawn(async move {
                run.await;
                drop(permit);
            });
        }
        // Reap finished tasks so the set does not grow.
        while running.try_join_next().is_some() {}
    }
    drain(&mut running, &abort_tx, config.grace).await;
    info!(worker = %config.worker_id, "worker stopped");
    Ok(())
}

/// Waits for in-flight tasks up to `grace`, then tells them to stop and release.
async fn drain(running: &mut JoinSet<()>, abort: &watch::Sender<bool>, grace: Duration) {
    if running.is_empty() {
        return;
    }
    info!(
        in_flight = running.len(),
        grace_s = grace.as_secs(),
        "draining in-flight tasks"
    );
    let all = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, all).await.is_err() {
        warn!(
            in_flight = running.len(),
            "grace period over; releasing unfinished tasks"
        );
        let _ = abort.send(true);
        while running.join_next().await.is_some() {}
    }
}
