//! One leased task: heartbeat while the data path runs, then report the outcome.
//! The task stops early (and is released) when its run is cancelled or the
//! worker's grace period ends; its commits are idempotent, so that is safe.
//!
//! The data path runs in its own tokio task, so a panic in it (DataFusion
//! re-raises its own tasks' panics) fails the attempt like an error, and one
//! that runs past the time limit is abandoned and failed as timed out. The
//! heartbeat stops however the delivery ends: a lease renewed after its task is
//! gone would hold the task forever.

use std::sync::Arc;
use std::time::Duration;

use floe_common::task::{write_task, TaskEnv, TaskReport, TaskSpec, TaskStats};
use floe_common::FloeError;
use floe_process::metrics;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::task::{JoinError, JoinHandle};
use tracing::{info, info_span, warn, Instrument, Span};

use crate::config::WorkerConfig;
use crate::feed::{Leased, TaskFeed};

enum Stop {
    Cancelled,
    Draining,
}

/// Runs the task to an outcome and reports it. Never panics on task errors.
/// `data_path` is given back once the task's data files are written (see `pull`).
pub async fn run(
    feed: Arc<dyn TaskFeed>,
    env: TaskEnv,
    config: WorkerConfig,
    task: Leased,
    data_path: OwnedSemaphorePermit,
    mut abort: watch::Receiver<bool>,
) {
    // run_task opens the `task` span (run, task, attempt); this one names the worker.
    let span = info_span!("worker", id = %config.worker_id);
    async move {
        let contract = match task.message.contract(&config.contracts).await {
            Ok(c) => c,
            Err(e) => return report_failure(feed.as_ref(), &config, &task, &e).await,
        };
        let spec = task.message.clone().into_spec(task.attempt, contract.clone());
        if let Err(e) = spec.check_scope(&config.bronze_roots) {
            return report_failure(feed.as_ref(), &config, &task, &e).await;
        }
        let (cancel_tx, mut cancel_rx) = watch::channel(false);
        let heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
            feed.clone(),
            config.worker_id.clone(),
            task.clone(),
            config.visibility,
            cancel_tx,
        )));
        let gold = config.gold;
        let mut work = AbortOnDrop(tokio::spawn(
            async move { run_any(&env, &spec, &gold, data_path).await }
                .instrument(Span::current()),
        ));
        let outcome = tokio::select! {
            r = &mut work.0 => Ok(r.unwrap_or_else(panicked)),
            _ = tokio::time::sleep(config.task_time_limit) => {
                Ok(Err(FloeError::TaskTimedOut { limit: config.task_time_limit }))
            }
            _ = cancel_rx.wait_for(|c| *c) => Err(Stop::Cancelled),
            _ = abort.wait_for(|a| *a) => Err(Stop::Draining),
        };
        // The data path is abandoned (if still running) before anything is reported.
        drop(work);
        drop(heartbeat);
        match outcome {
            Ok(Ok(report)) => {
                record_task(&report.stats);
                metrics::task_finished("succeeded");
                feed.complete(&task, &report, &contract).await
            }
            Ok(Err(e)) => {
                let superseded = matches!(
                    e,
                    FloeError::Lake(floe_lake::LakeError::Superseded { .. })
                );
                metrics::task_finished(if superseded { "superseded" } else { "failed" });
                report_failure(feed.as_ref(), &config, &task, &e).await
            }
            Err(stop) => {
                let why = match stop {
                    Stop::Cancelled => "its run was cancelled",
                    Stop::Draining => "the worker is shutting down",
                };
                info!(why, run_id = %task.message.run_id, task_id = %task.message.task_id, "releasing task");
                metrics::task_finished("released");
                feed.release(&task).await;
            }
        }
    }
    .instrument(span)
    .await
}

/// Aborts the tokio task it holds when dropped, on every way out of [`run`].
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The data path's tokio task ended without an answer: it panicked.
fn panicked(e: JoinError) -> floe_common::Result<TaskReport> {
    let message = match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string()),
        Err(e) => e.to_string(),
    };
    Err(FloeError::TaskPanicked { message })
}

/// A Gold task rebuilds a model's partition, a pass moves a partition's
/// quarantined or condemned rows; any other runs the data path. Data-path and
/// Gold tasks let the next task start while they commit; passes hold
/// `data_path` to the end.
async fn run_any(
    env: &TaskEnv,
    spec: &TaskSpec,
    gold: &floe_gold::Limits,
    data_path: OwnedSemaphorePermit,
) -> floe_common::Result<TaskReport> {
    if spec.gold.is_some() {
        let written = floe_gold::write_gold_task(env, spec, gold).await?;
        drop(data_path);
        written.commit(env).await
    } else if spec.pass.is_some() {
        floe_common::quarantine::run_pass(env, spec).await
    } else {
        let written = write_task(env, spec).await?;
        drop(data_path);
        written.commit(env).await
    }
}

/// Records a finished task's row counts and bytes.
fn record_task(stats: &TaskStats) {
    let m = metrics::metrics();
    for (outcome, n) in [
        ("valid", stats.valid),
        ("quarantined", stats.quarantined),
        ("condemned", stats.condemned),
    ] {
        m.rows
            .get_or_create(&metrics::OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc_by(n);
    }
    m.bytes_read.inc_by(stats.bytes_read);
}

async fn report_failure(feed: &dyn TaskFeed, config: &WorkerConfig, task: &Leased, e: &FloeError) {
    let m = &task.message;
    let retry_after = config.retry_backoff.delay(task.attempt);
    warn!(run_id = %m.run_id, task_id = %m.task_id, attempt = task.attempt, error = %e, retryable = e.is_retryable(), retry_after_ms = retry_after.as_millis() as u64, "task failed");
    feed.fail(task, e, retry_after).await;
}

/// Renews the lease every third of the visibility timeout; flags cancellation.
async fn heartbeat(
    feed: Arc<dyn TaskFeed>,
    worker: String,
    task: Leased,
    visibility: Duration,
    cancel: watch::Sender<bool>,
) {
    let every = (visibility / 3).max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(every).await;
        metrics::metrics().lease_extensions.inc();
        if feed.heartbeat(&worker, &task, visibility).await {
            let _ = cancel.send(true);
            return;
        }
    }
}
