//! The reports a worker sends the coordinator over gRPC, shared by both feeds.

use floe_common::contract::Contract;
use floe_common::task::TaskReport;
use floe_common::FloeError;
use floe_lake::commit::CommitOutcome;
use floe_lake::LakeError;
use floe_proto::security::AuthChannel;
use floe_proto::v1 as pb;
use floe_proto::v1::tasks_client::TasksClient;

use super::{with_retries, Leased};

#[derive(Clone)]
pub(crate) struct Reporter {
    pub client: TasksClient<AuthChannel>,
}

impl Reporter {
    pub async fn complete(
        &self,
        task: &Leased,
        report: &TaskReport,
        contract: &Contract,
    ) -> Result<(), tonic::Status> {
        let msg = &task.message;
        let request = pb::CompleteTaskRequest {
            receipt: task.receipt.clone(),
            run_id: msg.run_id.to_string(),
            task_id: msg.task_id.to_string(),
            attempt: task.attempt,
            stats: Some(pb::TaskStats::from(&report.stats)),
            snapshots: snapshots(report, contract),
        };
        with_retries(|| {
            let mut c = self.client.clone();
            let r = request.clone();
            async move { c.complete_task(r).await.map(|_| ()) }
        })
        .await
    }

    pub async fn fail(
        &self,
        task: &Leased,
        error: &FloeError,
        retry_after: std::time::Duration,
    ) -> Result<(), tonic::Status> {
        let msg = &task.message;
        let request = pb::FailTaskRequest {
            receipt: task.receipt.clone(),
            run_id: msg.run_id.to_string(),
            task_id: msg.task_id.to_string(),
            attempt: task.attempt,
            error: error.to_string(),
            retryable: error.is_retryable(),
            superseded: matches!(error, FloeError::Lake(LakeError::Superseded { .. })),
            superseded_by: match error {
                FloeError::Lake(LakeError::Superseded { by, .. }) => by.clone().unwrap_or_default(),
                _ => String::new(),
            },
            retry_after_ms: retry_after.as_millis() as u64,
        };
        with_retries(|| {
            let mut c = self.client.clone();
            let r = request.clone();
            async move { c.fail_task(r).await.map(|_| ()) }
        })
        .await
    }
}

fn snapshots(report: &TaskReport, contract: &Contract) -> Vec<pb::Snapshot> {
    let pipeline = report
        .commits
        .iter()
        .map(|(role, o)| (role.name(contract).to_string(), o));
    let models = report.model_commits.iter().map(|(t, o)| (t.clone(), o));
    pipeline
        .chain(models)
        .filter_map(|(table, outcome)| {
            outcome.snapshot_id().map(|id| pb::Snapshot {
                table,
                snapshot_id: id,
                already_committed: matches!(outcome, CommitOutcome::AlreadyCommitted { .. }),
            })
        })
        .collect()
}
