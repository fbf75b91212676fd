//! `publish RUN --approve` and `discard RUN`: an operator's decision on a
//! staged run of a `publish = "manual"` pipeline.

use anyhow::{bail, Result};
use floe_proto::v1 as pb;

use super::output::print_run;
use super::submit::follow;
use super::Remote;

/// Approves the publish and follows the run until it is published.
pub async fn approve(
    remote: Remote,
    run_id: String,
    approve: bool,
    approved_by: String,
    reason: String,
    as_json: bool,
) -> Result<i32> {
    if !approve {
        bail!(
            "publishing run {run_id} needs --approve (with --approved-by NAME and --reason TEXT): \
             it is an operator's decision, recorded with the publish"
        );
    }
    let mut client = remote.connect().await?;
    client
        .publish_run(pb::PublishRunRequest {
            run_id: run_id.clone(),
            approved_by,
            reason,
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?;
    let run = follow(&mut client, &run_id, !as_json).await?;
    print_run(&run, as_json);
    Ok(if run.state == pb::RunState::Succeeded as i32 {
        0
    } else {
        1
    })
}

pub async fn discard(remote: Remote, run_id: String, as_json: bool) -> Result<i32> {
    let mut client = remote.connect().await?;
    client
        .discard_run(pb::DiscardRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?;
    let run = super::fetch::fetch_run(&mut client, &run_id, super::fetch::PAGE_SIZE).await?;
    print_run(&run, as_json);
    Ok(0)
}
