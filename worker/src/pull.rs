//! The pull loop: permits bound the tasks in flight; each leased task runs in its
//! own tokio task (see `runner`).
//!
//! A task takes two permits. Its *data path* (reading, validating and writing
//! Parquet: the CPU-heavy half) holds one of `concurrency`, and gives it back
//! before its commits, which mostly wait on the catalog and the object store.
//! So while one task commits, the next is leased and read. A task holds its
//! *slot* (one of twice `concurrency`) to the end, which bounds the commits in
//! flight behind the data paths. Both are taken before a lease, so a worker
//! never holds a task it cannot start: another worker takes it.

use std::sync::Arc;
use std::time::Duration;

use floe_common::task::TaskEnv;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
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
    let permits = Permits::new(config.concurrency);
    let mut running = JoinSet::new();
    let (abort_tx, abort_rx) = watch::channel(false);
    info!(worker = %config.worker_id, concurrency = config.concurrency, "worker started");
    while !*shutdown.borrow() {
        let first = tokio::select! {
            p = permits.acquire() => p,
            _ = shutdown.changed() => break,
        };
        let mut held = vec![first];
        while let Some(p) = permits.try_acquire() {
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
            let TaskPermits { data_path, slot } = held.pop().expect("no more tasks than permits");
            let run = runner::run(
                feed.clone(),
                env.clone(),
                config.clone(),
                task,
                data_path,
                abort_rx.clone(),
            );
            running.spawn(async move {
                run.await;
                drop(slot);
            });
        }
        // Reap finished tasks so the set does not grow.
        while running.try_join_next().is_some() {}
    }
    drain(&mut running, &abort_tx, config.grace).await;
    info!(worker = %config.worker_id, "worker stopped");
    Ok(())
}

/// The worker's two kinds of permit (see the module docs).
struct Permits {
    data_paths: Arc<Semaphore>,
    slots: Arc<Semaphore>,
}

/// What one leased task holds.
struct TaskPermits {
    data_path: OwnedSemaphorePermit,
    slot: OwnedSemaphorePermit,
}

impl Permits {
    fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            data_paths: Arc::new(Semaphore::new(concurrency)),
            slots: Arc::new(Semaphore::new(2 * concurrency)),
        }
    }

    /// Waits for a slot, then for a data path (always in that order).
    async fn acquire(&self) -> TaskPermits {
        let slot = self.slots.clone().acquire_owned().await;
        let data_path = self.data_paths.clone().acquire_owned().await;
        TaskPermits {
            slot: slot.expect("semaphore open"),
            data_path: data_path.expect("semaphore open"),
        }
    }

    /// Both permits if both are free now.
    fn try_acquire(&self) -> Option<TaskPermits> {
        let slot = self.slots.clone().try_acquire_owned().ok()?;
        let data_path = self.data_paths.clone().try_acquire_owned().ok()?;
        Some(TaskPermits { data_path, slot })
    }
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
