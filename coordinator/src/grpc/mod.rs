//! gRPC adapters: each handler converts the request, calls [`Coordinator`], and
//! converts the answer. No decisions are made here.

pub mod convert;
mod paging;
mod pipelines;
mod watch;

pub use pipelines::PipelinesApi;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use floe_lake::{RunId, TaskId};
use floe_proto::v1 as pb;
use floe_proto::v1::runs_server::Runs;
use floe_proto::v1::tasks_server::Tasks;
use floe_queue::Receipt;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use floe_common::contract::TableName;
use floe_lake::commit::rollback::RollbackTarget;

use crate::ledger::{PublishOptions, RunTrigger};
use crate::period::Period;
use crate::plan::PassKind;
use crate::service::{ContractSource, Coordinator, PassRequest, SubmitRequest};
use crate::CoordinatorError;

/// How often a watcher checks the ledger for changes.
/// The one table from a coordinator error to its gRPC code. Errors that may
/// pass on their own (a busy catalog or queue, a lost connection) are
/// `Unavailable`, which clients retry.
fn status(e: CoordinatorError) -> Status {
    use CoordinatorError::*;
    let message = e.to_string();
    match e {
        BadPeriod(_)
        | PeriodTooLong { .. }
        | NoInput { .. }
        | OutsideBronze(_)
        | Model(_)
        | BadPass(_)
        | ApprovalIncomplete
        | UnknownSumColumn { .. }
        | NoPipelineChosen { .. } => Status::invalid_argument(message),
        DaysBusy { .. } | Unqueueable { .. } | NotPublishable { .. } | NotStaged(_) => {
            Status::failed_precondition(message)
        }
        UnknownRun(_)
        | UnknownTask { .. }
        | UnknownPipeline { .. }
        | UnknownPipelineVersion { .. } => Status::not_found(message),
        Floe(floe_common::FloeError::Contract(_)) => Status::invalid_argument(message),
        Floe(floe_common::FloeError::Lake(floe_lake::LakeError::Rollback { .. })) => {
            Status::failed_precondition(message)
        }
        Floe(ref f) if f.is_stale_receipt() => Status::failed_precondition(message),
        ref e if e.is_retryable() => Status::unavailable(message),
        _ => Status::internal(message),
    }
}

#[derive(Clone)]
pub struct RunsApi(pub Arc<Coordinator>);

impl RunsApi {
    /// A submit's contract: the text sent, else the pipeline named, else the
    /// only registered one.
    async fn contract(
        &self,
        text: String,
        origin: String,
        pipeline: String,
    ) -> Result<crate::service::ResolvedContract, Status> {
        let source = ContractSource::from_request(text, origin, pipeline);
        self.0.resolve_contract(source).await.map_err(status)
    }
}

#[derive(Clone)]
pub struct TasksApi(pub Arc<Coordinator>);

type RunStream = Pin<Box<dyn Stream<Item = Result<pb::Run, Status>> + Send>>;

#[tonic::async_trait]
impl Runs for RunsApi {
    async fn submit_pass(
        &self,
        req: Request<pb::SubmitPassRequest>,
    ) -> Result<Response<pb::SubmitRunResponse>, Status> {
        let r = req.into_inner();
        let period = match r.period {
            Some(pb::submit_pass_request::Period::Date(d)) => Period::parse(&d),
            Some(pb::submit_pass_request::Period::Range(r)) => Period::range(&r.from, &r.to),
            None => {
                return Err(Status::invalid_argument(
                    "say which days: a date or a range",
                ))
            }
        }
        .map_err(status)?;
        let kind = match pb::PassKind::try_from(r.kind).unwrap_or(pb::PassKind::Unspecified) {
            pb::PassKind::Reprocess => PassKind::Reprocess,
            pb::PassKind::GoldRebuild => PassKind::GoldRebuild,
            pb::PassKind::Release
                if !r.approved_by.trim().is_empty() && !r.reason.trim().is_empty() =>
            {
                PassKind::Release {
                    approved_by: r.approved_by,
                    reason: r.reason,
                }
            }
            pb::PassKind::Release => {
                return Err(Status::invalid_argument(
                    "a release needs who approved it and why (approved_by, reason)",
                ))
            }
            pb::PassKind::Unspecified => {
                return Err(Status::invalid_argument(
                    "say which pass: reprocess, release or gold rebuild",
                ))
            }
        };
        let contract = self
            .contract(r.contract_text, r.contract_origin, r.pipeline)
            .await?;
        let submitted = self
            .0
            .submit_pass(PassRequest {
                contract,
                period,
                kind,
            })
            .await
            .map_err(status)?;
        Ok(Response::new(pb::SubmitRunResponse {
            run_id: submitted.run_id.map(|r| r.to_string()).unwrap_or_default(),
            plan: submitted.plan.iter().map(convert::planned).collect(),
            overlaps: Vec::new(),
            skipped_files: Vec::new(),
        }))
    }

    async fn get_queue_depth(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::QueueDepth>, Status> {
        let d = self.0.queue_depth().await.map_err(status)?;
        Ok(Response::new(pb::QueueDepth {
            visible: d.visible,
            in_flight: d.in_flight,
            dead: d.dead,
        }))
    }

    async fn submit_run(
        &self,
        req: Request<pb::SubmitRunRequest>,
    ) -> Result<Response<pb::SubmitRunResponse>, Status> {
        let r = req.into_inner();
        let period = match r.period {
            Some(pb::submit_run_request::Period::Backfill(m)) => Period::parse(&m),
            Some(pb::submit_run_request::Period::Date(d)) => Period::parse(&d),
            Some(pb::submit_run_request::Period::Range(r)) => Period::range(&r.from, &r.to),
            None => {
                return Err(Status::invalid_argument(
                    "say which period to load: a backfill month, a date, or a range",
                ))
            }
        }
        .map_err(status)?;
        let contract = self
            .contract(r.contract_text, r.contract_origin, r.pipeline)
            .await?;
        let submitted = self
            .0
            .submit(SubmitRequest {
                contract,
                period,
                explain: r.explain,
                target_task_bytes: (r.target_task_bytes > 0).then_some(r.target_task_bytes),
                trigger: RunTrigger::Manual,
                publish: PublishOptions {
                    hold: r.hold,
                    allow_shrink: r.allow_shrink,
                },
            })
            .await
            .map_err(status)?;
        Ok(Response::new(pb::SubmitRunResponse {
            run_id: submitted.run_id.map(|r| r.to_string()).unwrap_or_default(),
            plan: submitted.plan.iter().map(convert::planned).collect(),
            overlaps: submitted.overlaps.iter().map(convert::overlap).collect(),
            skipped_files: submitted.skipped.iter().map(convert::skipped).collect(),
        }))
    }

    async fn get_run(&self, req: Request<pb::GetRunRequest>) -> Result<Response<pb::Run>, Status> {
        let r = req.into_inner();
        let run = self
            .0
            .get_run(&RunId::new(r.run_id))
            .await
            .map_err(status)?;
        let page = paging::page(convert::run(&run), r.page_size, &r.page_token)?;
        Ok(Response::new(page))
    }

    async fn list_runs(
        &self,
        req: Request<pb::ListRunsRequest>,
    ) -> Result<Response<pb::ListRunsResponse>, Status> {
        let limit = match req.into_inner().limit {
            0 => 50,
            n => n,
        };
        let runs = self.0.list_runs(limit).await.map_err(status)?;
        // Summaries: a list of large runs must fit one message too.
        Ok(Response::new(pb::ListRunsResponse {
            runs: runs
                .iter()
                .map(|r| paging::summary(convert::run(r)))
                .collect(),
        }))
    }

    async fn cancel_run(
        &self,
        req: Request<pb::CancelRunRequest>,
    ) -> Result<Response<pb::Run>, Status> {
        let run = self
            .0
            .cancel_run(&RunId::new(req.into_inner().run_id))
            .await
            .map_err(status)?;
        Ok(Response::new(paging::summary(convert::run(&run))))
    }

    async fn publish_run(
        &self,
        req: Request<pb::PublishRunRequest>,
    ) -> Result<Response<pb::Run>, Status> {
        let r = req.into_inner();
        let run = self
            .0
            .approve_publish(&RunId::new(r.run_id), &r.approved_by, &r.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(paging::summary(convert::run(&run))))
    }

    async fn diff_run(
        &self,
        req: Request<pb::DiffRunRequest>,
    ) -> Result<Response<pb::RunDiff>, Status> {
        let r = req.into_inner();
        let diff = self
            .0
            .diff_run(&RunId::new(r.run_id), &r.sum_columns)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::run_diff(&diff)))
    }

    async fn discard_run(
        &self,
        req: Request<pb::DiscardRunRequest>,
    ) -> Result<Response<pb::Run>, Status> {
        let run = self
            .0
            .discard_run(&RunId::new(req.into_inner().run_id))
            .await
            .map_err(status)?;
        Ok(Response::new(paging::summary(convert::run(&run))))
    }

    async fn rollback_table(
        &self,
        req: Request<pb::RollbackTableRequest>,
    ) -> Result<Response<pb::RollbackTableResponse>, Status> {
        use pb::rollback_table_request::Target;
        let r = req.into_inner();
        let table = TableName::parse(&r.table).ok_or_else(|| {
            Status::invalid_argument(format!("`{}` is not namespace.table", r.table))
        })?;
        let target = match r.target {
            Some(Target::SnapshotId(id)) => RollbackTarget::Snapshot(id),
            Some(Target::TimeMs(ms)) => RollbackTarget::Time(ms),
            Some(Target::BeforeRun(run)) => RollbackTarget::BeforeRun(RunId::new(run)),
            None => {
                return Err(Status::invalid_argument(
                    "say where to roll back to: a snapshot id, a time, or a run to undo",
                ))
            }
        };
        let outcome = self
            .0
            .rollback(&table, &target, r.force, r.dry_run)
            .await
            .map_err(status)?;
        Ok(Response::new((&outcome).into()))
    }

    type WatchRunStream = RunStream;

    async fn watch_run(
        &self,
        req: Request<pb::WatchRunRequest>,
    ) -> Result<Response<RunStream>, Status> {
        let r = req.into_inner();
        let run_id = RunId::new(r.run_id);
        // Without `summary`, the run whole, as long as it fits a message.
        let shown = move |run: pb::Run| match r.summary {
            true => Ok(paging::summary(run)),
            false => paging::page(run, 0, "").and_then(|p| match p.next_page_token.is_empty() {
                true => Ok(p),
                false => Err(Status::out_of_range(
                    "the run is too large to stream whole: watch it with `summary` and page GetRun",
                )),
            }),
        };
        let first = self.0.get_run(&run_id).await.map_err(status)?;
        let first = shown(convert::run(&first))?;
        let coordinator = self.0.clone();
        let fetch = move || {
            let (coordinator, run_id) = (coordinator.clone(), run_id.clone());
            async move {
                let run = coordinator.get_run(&run_id).await.map_err(status)?;
                shown(convert::run(&run))
            }
        };
        let (rx, _) = watch::spawn(fetch, first);
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

fn seconds(s: u32, default: u64) -> Duration {
    Duration::from_secs(if s == 0 { default } else { s as u64 })
}

#[tonic::async_trait]
impl Tasks for TasksApi {
    async fn lease_tasks(
        &self,
        req: Request<pb::LeaseTasksRequest>,
    ) -> Result<Response<pb::LeaseTasksResponse>, Status> {
        let r = req.into_inner();
        let leases = self
            .0
            .lease(
                &r.worker_id,
                r.max_tasks.max(1) as usize,
                seconds(r.visibility_seconds, 60),
                seconds(r.wait_seconds, 0),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::LeaseTasksResponse {
            tasks: leases
                .iter()
                .map(|l| pb::LeasedTask {
                    receipt: l.receipt.0.clone(),
                    task: Some(pb::TaskAssignment::from(&l.message)),
                    attempt: l.attempt,
                })
                .collect(),
        }))
    }

    async fn extend_lease(
        &self,
        req: Request<pb::ExtendLeaseRequest>,
    ) -> Result<Response<pb::ExtendLeaseResponse>, Status> {
        let r = req.into_inner();
        let cancelled = self
            .0
            .extend(
                &Receipt(r.receipt),
                &RunId::new(r.run_id),
                seconds(r.visibility_seconds, 60),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ExtendLeaseResponse { cancelled }))
    }

    async fn complete_task(
        &self,
        req: Request<pb::CompleteTaskRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let stats = floe_common::task::TaskStats::from(&r.stats.unwrap_or_default());
        let snapshots: Vec<_> = r.snapshots.iter().map(convert::snapshot_from).collect();
        self.0
            .complete(
                &Receipt(r.receipt),
                &RunId::new(r.run_id),
                &TaskId::new(r.task_id),
                r.attempt,
                &stats,
                &snapshots,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn fail_task(
        &self,
        req: Request<pb::FailTaskRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        if r.superseded {
            let by = (!r.superseded_by.is_empty()).then(|| RunId::new(&r.superseded_by));
            self.0
                .superseded(
                    &Receipt(r.receipt),
                    &RunId::new(r.run_id),
                    &TaskId::new(r.task_id),
                    r.attempt,
                    by.as_ref(),
                    &r.error,
                )
                .await
                .map_err(status)?;
            return Ok(Response::new(pb::Empty {}));
        }
        self.0
            .fail(
                &Receipt(r.receipt),
                &RunId::new(r.run_id),
                &TaskId::new(r.task_id),
                r.attempt,
                &r.error,
                r.retryable
                    .then(|| std::time::Duration::from_millis(r.retry_after_ms)),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn report_progress(
        &self,
        req: Request<pb::ReportProgressRequest>,
    ) -> Result<Response<pb::ReportProgressResponse>, Status> {
        let r = req.into_inner();
        let cancelled = self
            .0
            .report_progress(
                &r.worker_id,
                &RunId::new(r.run_id),
                &TaskId::new(r.task_id),
                r.attempt,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ReportProgressResponse { cancelled }))
    }

    async fn release_task(
        &self,
        req: Request<pb::ReleaseTaskRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.0
            .release(&Receipt(req.into_inner().receipt))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::Empty {}))
    }
}
