//! The Pipelines service: converts requests and answers around the
//! coordinator's pipeline registry.

use std::sync::Arc;

use floe_proto::v1 as pb;
use floe_proto::v1::pipelines_server::Pipelines;
use tonic::{Request, Response, Status};

use super::status;
use crate::ledger::PipelineVersion;
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
        let all = self.0.pipelines().await.map_err(status)?;
        Ok(Response::new(pb::ListPipelinesResponse {
            pipelines: all.into_iter().map(|p| version(p, false, false)).collect(),
        }))
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
