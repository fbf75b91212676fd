//! The pull loop: permits bound the tasks in flight; each leased task runs in its
//! own tokio task (see `runner`).

use std::sync::Arc;
use std::time::Duration;

use floe_common::task::TaskEnv;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::WorkerConfig;
use crate::feed::TaskFeed;
use crate::runner;
use crate::WorkerError;

/// Runs until `shutdown` turns true, then drains as described in the crate docs.
pub async fn run_worker(
    config: WorkerConfig,
    feed: Arc<dyn TaskFeed>,
    env: TaskEnv,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), WorkerError> {
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
        let mut lease = std::pin::pin!(feed.lease(
            &config.worker_id,
            held.len(),
            config.visibility,
            config.poll_wait
        ));
        let leased = tokio::select! {
            r = &mut lease => r,
            _ = shutdown.changed() => {
                // An answer already on its way would leave tasks leased to nobody until
                // their visibility timeout: wait a moment for it and hand them back.
                // A request still polling is dropped.
                if let Ok(Ok(tasks)) = tokio::time::timeout(Duration::from_secs(1), lease).await {
                    for task in &tasks {
                        feed.release(task).await;
                    }
                }
                break;
            }
        };
        let tasks = match leased {
            Ok(tasks) => tasks,
            // Retrying cannot fix a wrong token: stop with the coordinator's reason.
            Err(WorkerError::Rpc(status)) if status.code() == tonic::Code::Unauthenticated => {
                running.shutdown().await;
                return Err(WorkerError::Rpc(status));
            }
            Err(e) => {
                warn!(error = %e, "leasing failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for task in tasks {
            let permit = held.pop().expect("no more tasks than permits");
            let run = runner::run(
                feed.clone(),
                env.clone(),
                config.clone(),
                task,
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
