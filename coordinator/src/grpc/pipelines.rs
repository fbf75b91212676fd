//! The Pipelines service: converts requests and answers around the
//! coordinator's pipeline registry.

use std::sync::Arc;

use floe_proto::v1 as pb;
use floe_proto::v1::pipelines_server::Pipelines;
use tonic::{Request, Response, Status};

use super::status;
use crate::freshness::{freshness_of, PipelineFreshness};
use crate::ledger::PipelineVersion;
use crate::schedule::{schedule_view, ScheduleView};
use crate::service::Coordinator;

#[derive(Clone)]
pub struct PipelinesApi(pub Arc<Coordinator>);

fn version(p: PipelineVersion, with_text: bool, changed: bool) -> pb::PipelineVersion {
    pb::PipelineVersion {
        name: p.name,
        version: p.version,
        sha256: p.sha256,
        applied_at_ms: p.applied_at_ms,
        contract_origin: p.contract_origin,
        contract_text: if with_text {
            p.contract_text
        } else {
            String::new()
        },
        changed,
        schedule: None,
        freshness: None,
    }
}

fn freshness(f: PipelineFreshness) -> pb::FreshnessStatus {
    pb::FreshnessStatus {
        newest_partition: f.loaded.newest_partition.unwrap_or_default(),
        last_load_ms: f.loaded.last_load_ms.unwrap_or_default(),
        newest_file_ms: f.loaded.newest_file_ms.unwrap_or_default(),
        expected: f.check.is_some(),
        missed: f.check.map(|c| c.missed).unwrap_or_default(),
    }
}

fn schedule(view: ScheduleView) -> pb::ScheduleStatus {
    let ms = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(0, |t| t.timestamp_millis());
    let (failed_tick, last_error) = view
        .failed
        .map_or((None, String::new()), |(t, e)| (Some(t), e));
    pb::ScheduleStatus {
        describe: view.describe,
        next_tick_ms: ms(view.next_tick),
        last_fired_ms: ms(view.last_fired),
        failed_tick_ms: ms(failed_tick),
        last_error,
    }
}

#[tonic::async_trait]
impl Pipelines for PipelinesApi {
    async fn apply_pipeline(
        &self,
        req: Request<pb::ApplyPipelineRequest>,
    ) -> Result<Response<pb::PipelineVersion>, Status> {
        let r = req.into_inner();
        let applied = self
            .0
            .apply_pipeline(&r.contract_text, &r.contract_origin)
            .await
            .map_err(status)?;
        Ok(Response::new(version(
            applied.pipeline,
            false,
            applied.changed,
        )))
    }

    async fn list_pipelines(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::ListPipelinesResponse>, Status> {
        let now = chrono::Utc::now();
        let mut pipelines = Vec::new();
        for p in self.0.pipelines().await.map_err(status)? {
            let view = schedule_view(&self.0, &p, now).await.map_err(status)?;
            let fresh = freshness_of(&self.0, &p.contract_text, now)
                .await
                .map_err(status)?;
            let mut listed = version(p, false, false);
            listed.schedule = view.map(schedule);
            listed.freshness = fresh.map(freshness);
            pipelines.push(listed);
        }
        Ok(Response::new(pb::ListPipelinesResponse { pipelines }))
    }

    async fn get_pipeline(
        &self,
        req: Request<pb::GetPipelineRequest>,
    ) -> Result<Response<pb::PipelineVersion>, Status> {
        let r = req.into_inner();
        let wanted = (r.version > 0).then_some(r.version);
        let p = self.0.pipeline(&r.name, wanted).await.map_err(status)?;
        Ok(Response::new(version(p, true, false)))
    }
}
