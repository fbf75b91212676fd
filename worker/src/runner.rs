//! One leased task: heartbeat while the data path runs, then report the outcome.
//! The task stops early (and is released) when its run is cancelled or the
//! worker's grace period ends; its commits are idempotent, so that is safe.

use std::collections::BTreeMap;
use std::time::Duration;

use floe_common::commit::CommitOutcome;
use floe_common::table::TableRole;
use floe_common::task::{run_task, TaskEnv, TaskMessage, TaskReport};
use floe_common::{FloeError, RunId};
use floe_proto::v1 as pb;
use floe_proto::v1::tasks_client::TasksClient;
use tokio::sync::watch;
use tonic::transport::Channel;
use tracing::{error, info, info_span, warn, Instrument};

use crate::pull::WorkerConfig;

pub struct Leased {
    receipt: String,
    attempt: u32,
    assignment: pb::TaskAssignment,
}

impl From<pb::LeasedTask> for Leased {
    fn from(t: pb::LeasedTask) -> Self {
        Self {
            receipt: t.receipt,
            attempt: t.attempt,
            assignment: t.task.unwrap_or_default(),
        }
    }
}

enum Stop {
    Cancelled,
    Draining,
}

/// Runs the task to an outcome and reports it. Never panics on task errors.
pub async fn run(
    client: TasksClient<Channel>,
    env: TaskEnv,
    config: WorkerConfig,
    leased: Leased,
    mut abort: watch::Receiver<bool>,
) {
    let msg = TaskMessage::from(&leased.assignment);
    // run_task opens the `task` span (run, task, attempt); this one names the worker.
    let span = info_span!("worker", id = %config.worker_id);
    async move {
        let spec = match msg.clone().into_spec(leased.attempt) {
            Ok(s) => s,
            Err(e) => return report_failure(client, &leased, &msg, &e).await,
        };
        let (cancel_tx, mut cancel_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(heartbeat(
            client.clone(),
            leased.receipt.clone(),
            msg.run_id.clone(),
            config.visibility,
            cancel_tx,
        ));
        let outcome = tokio::select! {
            r = run_task(&env, &spec) => Ok(r),
            _ = cancel_rx.wait_for(|c| *c) => Err(Stop::Cancelled),
            _ = abort.wait_for(|a| *a) => Err(Stop::Draining),
        };
        heartbeat.abort();
        match outcome {
            Ok(Ok(report)) => report_success(client, &leased, &msg, &report).await,
            Ok(Err(e)) => report_failure(client, &leased, &msg, &e).await,
            Err(stop) => {
                let why = match stop {
                    Stop::Cancelled => "its run was cancelled",
                    Stop::Draining => "the worker is shutting down",
                };
                info!(why, run_id = %msg.run_id, task_id = %msg.task_id, "releasing task");
                let _ = client
                    .clone()
                    .release_task(pb::ReleaseTaskRequest {
                        receipt: leased.receipt.clone(),
                    })
                    .await;
            }
        }
    }
    .instrument(span)
    .await
}

/// Extends the lease every third of the visibility timeout; flags cancellation.
async fn heartbeat(
    mut client: TasksClient<Channel>,
    receipt: String,
    run_id: RunId,
    visibility: Duration,
    cancel: watch::Sender<bool>,
) {
    let every = (visibility / 3).max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(every).await;
        let request = pb::ExtendLeaseRequest {
            receipt: receipt.clone(),
            visibility_seconds: visibility.as_secs() as u32,
            run_id: run_id.to_string(),
        };
        match client.extend_lease(request).await {
            Ok(r) if r.get_ref().cancelled => {
                let _ = cancel.send(true);
                return;
            }
            Ok(_) => {}
            // The task keeps running: its commit is idempotent even if the lease lapsed.
            Err(status) => warn!(error = %status, "heartbeat failed"),
        }
    }
}

fn snapshots(commits: &BTreeMap<TableRole, CommitOutcome>, msg: &TaskMessage) -> Vec<pb::Snapshot> {
    let contract =
        floe_common::contract::Contract::parse(&msg.contract_text, msg.contract_origin.as_ref())
            .ok();
    commits
        .iter()
        .filter_map(|(role, outcome)| {
            let table = contract
                .as_ref()
                .map(|c| role.name(c).to_string())
                .unwrap_or_else(|| role.as_str().into());
            outcome.snapshot_id().map(|id| pb::Snapshot {
                table,
                snapshot_id: id,
                already_committed: matches!(outcome, CommitOutcome::AlreadyCommitted { .. }),
            })
        })
        .collect()
}

/// Reports with a few retries: a lost report only delays the run (the task is
/// redelivered and finds its snapshots), but retrying is cheaper.
async fn with_retries<F, Fut>(mut call: F) -> Result<(), tonic::Status>
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

async fn report_success(
    client: TasksClient<Channel>,
    leased: &Leased,
    msg: &TaskMessage,
    report: &TaskReport,
) {
    let request = pb::CompleteTaskRequest {
        receipt: leased.receipt.clone(),
        run_id: msg.run_id.to_string(),
        task_id: msg.task_id.to_string(),
        attempt: leased.attempt,
        stats: Some(pb::TaskStats::from(&report.stats)),
        snapshots: snapshots(&report.commits, msg),
    };
    let result = with_retries(|| {
        let mut c = client.clone();
        let r = request.clone();
        async move { c.complete_task(r).await.map(|_| ()) }
    })
    .await;
    if let Err(status) = result {
        error!(error = %status, "could not report the task's success; it will be redelivered and complete again");
    }
}

async fn report_failure(
    client: TasksClient<Channel>,
    leased: &Leased,
    msg: &TaskMessage,
    e: &FloeError,
) {
    let retryable = e.is_retryable();
    warn!(run_id = %msg.run_id, task_id = %msg.task_id, attempt = leased.attempt, error = %e, retryable, "task failed");
    let request = pb::FailTaskRequest {
        receipt: leased.receipt.clone(),
        run_id: msg.run_id.to_string(),
        task_id: msg.task_id.to_string(),
        attempt: leased.attempt,
        error: e.to_string(),
        retryable,
    };
    let result = with_retries(|| {
        let mut c = client.clone();
        let r = request.clone();
        async move { c.fail_task(r).await.map(|_| ()) }
    })
    .await;
    if let Err(status) = result {
        error!(error = %status, "could not report the task's failure; it will be redelivered");
    }
}
