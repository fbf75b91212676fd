use std::time::Duration;

use anyhow::Result;
use clap::Args;
use floe_proto::v1 as pb;
use indicatif::{ProgressBar, ProgressStyle};

use super::{output, Remote};

#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pipeline: super::pipeline::PipelineArg,
    /// A month to (re)load, e.g. 2025-01.
    #[arg(long, conflicts_with_all = ["date", "from"])]
    backfill: Option<String>,
    #[command(flatten)]
    days: super::Days,
    /// Print the plan (tasks, files, bytes, estimated rows) and enqueue nothing.
    #[arg(long)]
    explain: bool,
    /// With --explain: run it staged and hold it unpublished, then print what
    /// publishing would change (see `diff`); publish or discard it after.
    #[arg(long, requires = "explain")]
    diff: bool,
    /// With --diff: a column to sum in the diff (repeatable); default: every
    /// decimal column.
    #[arg(long = "sum", requires = "diff")]
    sum: Vec<String>,
    /// The row change audit lets partitions shrink (it still fails growth past
    /// max_row_change): for a reload meant to remove rows.
    #[arg(long)]
    allow_shrink: bool,
    /// Follow the run with a progress bar and end with its summary; the exit code
    /// is non-zero if the run fails.
    #[arg(long)]
    wait: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Largest task, in MiB of input, fractions allowed (default: the coordinator's).
    #[arg(long)]
    target_task_mb: Option<f64>,
    #[command(flatten)]
    remote: Remote,
}

fn period(a: &SubmitArgs) -> Result<pb::submit_run_request::Period> {
    use pb::submit_run_request::Period;
    Ok(
        match (&a.backfill, &a.days.date, &a.days.from, &a.days.to) {
            (Some(m), ..) => Period::Backfill(m.clone()),
            (_, Some(d), ..) => Period::Date(d.clone()),
            (_, _, Some(f), Some(t)) => Period::Range(pb::DateRange {
                from: f.clone(),
                to: t.clone(),
            }),
            _ => anyhow::bail!(
                "say which period to load: --backfill YYYY-MM, --date YYYY-MM-DD, or --from/--to"
            ),
        },
    )
}

pub async fn submit(a: SubmitArgs) -> Result<i32> {
    let contract = a.pipeline.fields()?;
    let request = pb::SubmitRunRequest {
        contract_text: contract.text,
        contract_origin: contract.origin,
        pipeline: contract.pipeline,
        period: Some(period(&a)?),
        explain: a.explain,
        target_task_bytes: a.target_task_mb.map_or(0, crate::cli::mib_to_bytes),
        hold: false,
        allow_shrink: a.allow_shrink,
    };
    let mut client = a.remote.connect().await?;
    let response = client
        .submit_run(request.clone())
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    if a.explain && a.diff {
        if !a.json {
            output::print_plan(&response, false);
        }
        return dry_run(&mut client, request, a.sum, a.json).await;
    }
    if a.explain {
        output::print_plan(&response, a.json);
        return Ok(0);
    }
    if !a.wait {
        if a.json {
            println!(
                "{}",
                serde_json::json!({ "run_id": response.run_id, "tasks": response.plan.len() })
            );
        } else {
            println!("{}", response.run_id);
        }
        return Ok(0);
    }
    if !a.json {
        eprintln!(
            "run {} submitted: {} tasks",
            response.run_id,
            response.plan.len()
        );
        output::print_overlaps(&response.overlaps, true);
    }
    let run = follow(&mut client, &response.run_id, !a.json).await?;
    output::print_run_with(&run, a.json, output::GoldDetail::PerModel);
    // A superseded run did not fail: its partitions hold a newer run's load.
    // Nor did one that waits for an operator's approval to publish.
    let done = [
        pb::RunState::Succeeded as i32,
        pb::RunState::Superseded as i32,
        pb::RunState::AwaitingApproval as i32,
    ];
    Ok(if done.contains(&run.state) { 0 } else { 1 })
}

/// `--explain --diff`: runs the plan staged and held for approval, then prints
/// its diff. Exit code 0 when it awaits approval (audits passed).
async fn dry_run(
    client: &mut floe_proto::v1::runs_client::RunsClient<floe_proto::security::AuthChannel>,
    request: pb::SubmitRunRequest,
    sum: Vec<String>,
    as_json: bool,
) -> Result<i32> {
    let request = pb::SubmitRunRequest {
        explain: false,
        hold: true,
        ..request
    };
    let response = client
        .submit_run(request)
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    let run_id = response.run_id;
    if !as_json {
        eprintln!("\nrun {run_id} staged and held unpublished; waiting for its tasks");
    }
    let run = follow(client, &run_id, !as_json).await?;
    if !as_json {
        output::print_run_with(&run, false, output::GoldDetail::PerModel);
        println!();
    }
    let diff = super::diff::fetch(client, &run_id, sum).await?;
    super::diff::print(&diff, as_json);
    let held = run.state == pb::RunState::AwaitingApproval as i32;
    if !as_json && held {
        println!(
            "\nnothing is published: `floe-coordinator publish {run_id} --approve --approved-by \
             NAME --reason TEXT` publishes it, `floe-coordinator discard {run_id}` drops it"
        );
    }
    Ok(if held { 0 } else { 1 })
}

/// Follows WatchRun until the run ends, drawing a progress bar on a terminal.
/// Reconnects if the coordinator restarts meanwhile.
pub async fn follow(
    client: &mut floe_proto::v1::runs_client::RunsClient<floe_proto::security::AuthChannel>,
    run_id: &str,
    show: bool,
) -> Result<pb::Run> {
    let bar = if show {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}")
            .expect("valid template"),
    );
    let started = std::time::Instant::now();
    loop {
        let stream = client
            .watch_run(pb::WatchRunRequest {
                run_id: run_id.to_string(),
                summary: true,
            })
            .await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => anyhow::bail!("{}", s.message()),
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut last = None;
        while let Ok(Some(run)) = stream.message().await {
            bar.set_length(run.bytes_total);
            bar.set_position(run.bytes_read);
            let rows = run.rows.as_ref().map(|r| r.rows_in).unwrap_or(0);
            let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "tasks {}/{} rows {rows} ({rate:.0}/s)",
                run.tasks_succeeded, run.task_count
            ));
            let ended = ![
                pb::RunState::Running as i32,
                pb::RunState::Publishing as i32,
            ]
            .contains(&run.state);
            if ended {
                bar.finish_and_clear();
                // The updates carry counts only: the summary needs the tasks.
                return super::fetch::fetch_run(client, run_id, super::fetch::PAGE_SIZE).await;
            }
            last = Some(run);
        }
        // The stream ended early (coordinator restarting): watch again.
        let _ = last;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
