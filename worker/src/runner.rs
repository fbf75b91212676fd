//! One leased task: heartbeat while the data path runs, then report the outcome.
//! The task stops early (and is released) when its run is cancelled or the
//! worker's grace period ends; its commits are idempotent, so that is safe.

use std::sync::Arc;
use std::time::Duration;

use floe_common::task::{run_task, TaskEnv, TaskReport, TaskSpec, TaskStats};
use floe_process::metrics;
use tokio::sync::watch;
use tracing::{info, info_span, warn, Instrument};

use crate::config::WorkerConfig;
use crate::feed::{Leased, TaskFeed};

enum Stop {
    Cancelled,
    Draining,
}

/// Runs the task to an outcome and reports it. Never panics on task errors.
pub async fn run(
    feed: Arc<dyn TaskFeed>,
    env: TaskEnv,
    config: WorkerConfig,
    task: Leased,
    mut abort: watch::Receiver<bool>,
) {
    // run_task opens the `task` span (run, task, attempt); this one names the worker.
    let span = info_span!("worker", id = %config.worker_id);
    async move {
        let spec = match task.message.clone().into_spec(task.attempt) {
            Ok(s) => s,
            Err(e) => return report_failure(feed.as_ref(), &task, &e).await,
        };
        let (cancel_tx, mut cancel_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(heartbeat(
            feed.clone(),
            config.worker_id.clone(),
            task.clone(),
            config.visibility,
            cancel_tx,
        ));
        let outcome = tokio::select! {
            r = run_any(&env, &spec) => Ok(r),
            _ = cancel_rx.wait_for(|c| *c) => Err(Stop::Cancelled),
            _ = abort.wait_for(|a| *a) => Err(Stop::Draining),
        };
        heartbeat.abort();
        match outcome {
            Ok(Ok(report)) => {
                record_task(&report.stats);
                metrics::task_finished("succeeded");
                feed.complete(&task, &report).await
            }
            Ok(Err(e)) => {
                let superseded = matches!(
                    e,
                    floe_common::FloeError::Lake(floe_lake::LakeError::Superseded { .. })
                );
                metrics::task_finished(if superseded { "superseded" } else { "failed" });
                report_failure(feed.as_ref(), &task, &e).await
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

/// A Gold task rebuilds a model's partition, a pass moves a partition's
/// quarantined or condemned rows; any other runs the data path.
async fn run_any(env: &TaskEnv, spec: &TaskSpec) -> floe_common::Result<TaskReport> {
    if spec.gold.is_some() {
        floe_gold::run_gold_task(env, spec).await
    } else if spec.pass.is_some() {
        floe_common::quarantine::run_pass(env, spec).await
    } else {
        run_task(env, spec).await
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

async fn report_failure(feed: &dyn TaskFeed, task: &Leased, e: &floe_common::FloeError) {
    let m = &task.message;
    warn!(run_id = %m.run_id, task_id = %m.task_id, attempt = task.attempt, error = %e, retryable = e.is_retryable(), "task failed");
    feed.fail(task, e).await;
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
