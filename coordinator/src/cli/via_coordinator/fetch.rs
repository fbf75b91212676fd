//! Reading a run of any size: `GetRun` a page of tasks at a time.

use anyhow::Result;
use floe_proto::security::AuthChannel;
use floe_proto::v1 as pb;
use floe_proto::v1::runs_client::RunsClient;

/// Tasks asked for per `GetRun` (the coordinator may answer fewer, to stay
/// under its message size).
pub const PAGE_SIZE: u32 = 500;

/// The run with every task, read `page_size` tasks at a time.
pub async fn fetch_run(
    client: &mut RunsClient<AuthChannel>,
    run_id: &str,
    page_size: u32,
) -> Result<pb::Run> {
    let mut page_token = String::new();
    let mut tasks = Vec::new();
    loop {
        let page = client
            .get_run(pb::GetRunRequest {
                run_id: run_id.to_string(),
                page_size: page_size.max(1),
                page_token,
            })
            .await
            .map_err(|s| anyhow::anyhow!("{}", s.message()))?
            .into_inner();
        page_token = page.next_page_token.clone();
        let mut run = page;
        tasks.append(&mut run.tasks);
        if page_token.is_empty() {
            run.tasks = tasks;
            run.next_page_token.clear();
            return Ok(run);
        }
    }
}
