//! Human and JSON renderings of runs and plans.

use anyhow::Result;
use floe_proto::v1 as pb;
use serde_json::{json, Value};

use super::Remote;

pub(super) fn run_state(s: i32) -> &'static str {
    match pb::RunState::try_from(s).unwrap_or(pb::RunState::Unspecified) {
        pb::RunState::Running => "running",
        pb::RunState::Publishing => "publishing",
        pb::RunState::AwaitingApproval => "awaiting_approval",
        pb::RunState::Discarded => "discarded",
        pb::RunState::Succeeded => "succeeded",
        pb::RunState::Failed => "failed",
        pb::RunState::Cancelled => "cancelled",
        pb::RunState::Superseded => "superseded",
        pb::RunState::Unspecified => "unknown",
    }
}

fn task_state(s: i32) -> &'static str {
    match pb::TaskState::try_from(s).unwrap_or(pb::TaskState::Unspecified) {
        pb::TaskState::Queued => "queued",
        pb::TaskState::Running => "running",
        pb::TaskState::Succeeded => "succeeded",
        pb::TaskState::Failed => "failed",
        pb::TaskState::Dead => "dead",
        pb::TaskState::Cancelled => "cancelled",
        pb::TaskState::Superseded => "superseded",
        pb::TaskState::Unspecified => "unknown",
    }
}

fn rows_json(r: &Option<pb::RowCounts>) -> Value {
    let r = (*r).unwrap_or_default();
    json!({ "rows_in": r.rows_in, "valid": r.valid, "quarantined": r.quarantined, "condemned": r.condemned })
}

pub fn run_json(run: &pb::Run) -> Value {
    json!({
        "run_id": run.run_id,
        "kind": run.kind,
        "task_count": run.task_count,
        "pipeline": run.pipeline,
        "pipeline_version": (run.pipeline_version > 0).then_some(run.pipeline_version),
        "trigger": run.trigger,
        "scheduled_for_ms": (run.scheduled_for_ms > 0).then_some(run.scheduled_for_ms),
        "period": run.period,
        "state": run_state(run.state),
        "created_at_ms": run.created_at_ms,
        "finished_at_ms": (run.finished_at_ms > 0).then_some(run.finished_at_ms),
        "rows": rows_json(&run.rows),
        "bytes_total": run.bytes_total,
        "bytes_read": run.bytes_read,
        "error": (!run.error.is_empty()).then_some(&run.error),
        "tasks": run.tasks.iter().map(|t| json!({
            "task_id": t.task_id,
            "partition": t.partition,
            "state": task_state(t.state),
            "attempts": t.attempts,
            "rows": rows_json(&t.rows),
            "bytes": t.bytes,
            "last_error": (!t.last_error.is_empty()).then_some(&t.last_error),
            "work_ms": t.stats.as_ref().map(|s| s.work_ms),
            "commit_ms": t.stats.as_ref().map(|s| s.commit_ms),
            "model": (!t.model.is_empty()).then_some(&t.model),
            "superseded_by": (!t.superseded_by.is_empty()).then_some(&t.superseded_by),
            "gold_rows": t.stats.as_ref().map(|s| s.gold_rows),
            "snapshots": t.snapshots.iter().map(|s| json!({
                "table": s.table, "snapshot_id": s.snapshot_id, "already_committed": s.already_committed,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rolled_back": run.rolled_back.iter().map(|b| json!({
            "table": b.table, "to_snapshot": b.to_snapshot, "at_ms": b.at_ms,
        })).collect::<Vec<_>>(),
        "skipped_files": skipped_json(&run.skipped_files),
        "approved_by": (!run.approved_by.is_empty()).then_some(&run.approved_by),
        "approval_reason": (!run.approval_reason.is_empty()).then_some(&run.approval_reason),
        "audits": run.audits.iter().map(|a| json!({
            "name": a.name, "partition": a.partition, "passed": a.passed, "detail": a.detail,
        })).collect::<Vec<_>>(),
    })
}

/// The pipeline, with the registered version the run ran (`transactions v2`).
fn pipeline_label(run: &pb::Run) -> String {
    if run.pipeline_version > 0 {
        format!("{} v{}", run.pipeline, run.pipeline_version)
    } else {
        run.pipeline.clone()
    }
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// How much of a run's Gold work to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoldDetail {
    /// A line per model and partition (`status`).
    PerPartition,
    /// A line per model (`submit --wait`).
    PerModel,
}

/// The run's summary: per Silver partition valid / quarantined / condemned and
/// snapshots, then the Gold models' rows (per partition or per model).
pub fn print_run(run: &pb::Run, as_json: bool) {
    print_run_with(run, as_json, GoldDetail::PerPartition)
}

pub fn print_run_with(run: &pb::Run, as_json: bool, gold_detail: GoldDetail) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&run_json(run)).expect("json")
        );
        return;
    }
    println!(
        "{} {}  {}  {}  {}",
        if run.kind.is_empty() {
            "load"
        } else {
            &run.kind
        },
        run.run_id,
        pipeline_label(run),
        run.period,
        run_state(run.state)
    );
    if run.scheduled_for_ms > 0 {
        println!(
            "started by its schedule, tick {}",
            utc(run.scheduled_for_ms)
        );
    }
    let (gold, silver): (Vec<&pb::Task>, Vec<&pb::Task>) =
        run.tasks.iter().partition(|t| !t.model.is_empty());
    print_silver_tasks(&silver, run.rows.unwrap_or_default());
    match gold_detail {
        _ if gold.is_empty() => {}
        GoldDetail::PerPartition => print_gold_tasks(&gold),
        GoldDetail::PerModel => {
            let lines = super::gold_summary::model_lines(&gold, task_state, new_snapshots);
            super::gold_summary::print_model_lines(&lines);
        }
    }
    let r = run.rows.unwrap_or_default();
    println!(
        "rows in {} = valid {} + quarantined {} + condemned {}",
        r.rows_in, r.valid, r.quarantined, r.condemned
    );
    if run.finished_at_ms > 0 {
        let secs = (run.finished_at_ms - run.created_at_ms) as f64 / 1000.0;
        println!(
            "took {secs:.1}s ({:.0} rows/s)",
            r.rows_in as f64 / secs.max(0.001)
        );
    }
    if !run.error.is_empty() {
        // A superseded run did not fail: its summary says which partitions went
        // to which newer runs.
        let label = if run.state == pb::RunState::Superseded as i32 {
            "superseded"
        } else {
            "error"
        };
        // The error may quote input (a file name, a value): shown escaped.
        println!("{label}: {}", floe_common::printable(&run.error));
    }
    print_skipped(&run.skipped_files);
    print_audits(&run.audits);
    if run.state == pb::RunState::AwaitingApproval as i32 {
        println!(
            "awaiting approval: `floe-coordinator publish {} --approve --approved-by NAME \
             --reason TEXT` publishes it, `floe-coordinator discard {}` drops it",
            run.run_id, run.run_id
        );
    }
    if !run.approved_by.is_empty() {
        println!(
            "publish approved by {}: {}",
            floe_common::printable(&run.approved_by),
            floe_common::printable(&run.approval_reason)
        );
    }
    for b in &run.rolled_back {
        println!(
            "rolled back on {} (main moved to snapshot {})",
            b.table, b.to_snapshot
        );
    }
}

/// How many audits passed, and each failure with what it measured.
fn print_audits(audits: &[pb::Audit]) {
    if audits.is_empty() {
        return;
    }
    let passed = audits.iter().filter(|a| a.passed).count();
    println!("audits: {passed} of {} passed", audits.len());
    for a in audits.iter().filter(|a| !a.passed) {
        println!("  FAILED {} for {}: {}", a.name, a.partition, a.detail);
    }
}

fn partition_of(t: &pb::Task) -> &str {
    if t.partition.is_empty() {
        "-"
    } else {
        &t.partition
    }
}

fn new_snapshots(t: &pb::Task) -> usize {
    t.snapshots.iter().filter(|s| !s.already_committed).count()
}

/// Per Silver task: its partition, state and where its rows went.
fn print_silver_tasks(tasks: &[&pb::Task], totals: pb::RowCounts) {
    let line = |partition: &str, state: &str, attempts: &str, r: pb::RowCounts, snapshots| {
        println!(
            "{partition:<14} {state:<10} {attempts:>8} {:>11} {:>12} {:>10} {snapshots:>10}",
            r.valid, r.quarantined, r.condemned
        );
    };
    println!(
        "{:<14} {:<10} {:>8} {:>11} {:>12} {:>10} {:>10}",
        "partition", "state", "attempts", "valid", "quarantined", "condemned", "snapshots"
    );
    for t in tasks {
        let attempts = t.attempts.to_string();
        let rows = t.rows.unwrap_or_default();
        line(
            partition_of(t),
            task_state(t.state),
            &attempts,
            rows,
            new_snapshots(t),
        );
    }
    let snapshots = tasks.iter().map(|t| new_snapshots(t)).sum::<usize>();
    line("total", "", "", totals, snapshots);
}

/// Per Gold task: its model, partition, state and the rows it wrote.
fn print_gold_tasks(tasks: &[&pb::Task]) {
    println!(
        "{:<24} {:<14} {:<10} {:>8} {:>11} {:>10}",
        "gold model", "partition", "state", "attempts", "rows", "snapshots"
    );
    for t in tasks {
        let rows = t.stats.as_ref().map_or(0, |s| s.gold_rows);
        println!(
            "{:<24} {:<14} {:<10} {:>8} {:>11} {:>10}",
            t.model,
            partition_of(t),
            task_state(t.state),
            t.attempts,
            rows,
            new_snapshots(t)
        );
    }
}

pub fn print_plan(submitted: &pb::SubmitRunResponse, as_json: bool) {
    let (plan, overlaps) = (&submitted.plan, &submitted.overlaps);
    // Bronze CSV rows average ~140 bytes in the sample data; a rough guide only.
    const BYTES_PER_ROW: u64 = 140;
    if as_json {
        let tasks: Vec<Value> = plan
            .iter()
            .map(|t| {
                let ranges: serde_json::Map<String, Value> = t
                    .ranges
                    .iter()
                    .map(|(path, r)| (path.clone(), json!({ "start": r.start, "end": r.end })))
                    .collect();
                json!({ "task_id": t.task_id, "partition": t.partition, "files": t.inputs, "ranges": ranges, "bytes": t.bytes, "estimated_rows": t.bytes / BYTES_PER_ROW, "notes": t.notes })
            })
            .collect();
        let overlaps: Vec<Value> = overlaps
            .iter()
            .map(|o| json!({ "run_id": o.run_id, "period": o.period, "partitions": o.partitions, "queued": o.queued, "running": o.running }))
            .collect();
        let skipped = skipped_json(&submitted.skipped_files);
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "tasks": tasks, "overlaps": overlaps, "skipped_files": skipped })
            )
            .expect("json")
        );
        return;
    }
    println!(
        "{:<36} {:>12} {:>6} {:>14} {:>14}",
        "task", "partition", "files", "bytes", "est. rows"
    );
    for t in plan {
        println!(
            "{:<36} {:>12} {:>6} {:>14} {:>14}",
            t.task_id,
            t.partition,
            t.inputs.len(),
            t.bytes,
            t.bytes / BYTES_PER_ROW
        );
        for (path, r) in &t.ranges {
            println!("    bytes {}..{} of {path}", r.start, r.end);
        }
        for note in &t.notes {
            println!("    note: {note}");
        }
    }
    let bytes: u64 = plan.iter().map(|t| t.bytes).sum();
    let files: usize = plan.iter().map(|t| t.inputs.len()).sum();
    println!(
        "{} tasks, {files} files, {:.1} MiB, ~{} rows",
        plan.len(),
        bytes as f64 / 1048576.0,
        bytes / BYTES_PER_ROW
    );
    print_skipped(&submitted.skipped_files);
    print_overlaps(overlaps, false);
}

fn skipped_json(files: &[pb::SkippedFile]) -> Vec<Value> {
    files
        .iter()
        .map(|f| json!({ "path": f.path, "duplicate_of": f.duplicate_of }))
        .collect()
}

/// The files a run leaves out because an earlier file has the same bytes.
pub fn print_skipped(files: &[pb::SkippedFile]) {
    for f in files {
        println!(
            "skipped: {} is a byte-identical copy of {}, loaded once",
            floe_common::printable(&f.path),
            floe_common::printable(&f.duplicate_of)
        );
    }
}

/// The unfinished runs a submit takes partitions from: what happens to them.
pub fn print_overlaps(overlaps: &[pb::Overlap], submitted: bool) {
    let (will, does) = if submitted {
        ("takes over", "were dropped")
    } else {
        ("would take over", "would be dropped")
    };
    for o in overlaps {
        let shown = match o.partitions.as_slice() {
            [one] => one.clone(),
            [first, .., last] => format!("{first} … {last}"),
            [] => String::new(),
        };
        let line = format!(
            "overlap: this run {will} {} partition(s) ({shown}) from unfinished run {} ({}): \
             its {} queued task(s) there {does}, its {} running task(s) there are refused when \
             they commit, and it ends `superseded`",
            o.partitions.len(),
            o.run_id,
            o.period,
            o.queued,
            o.running
        );
        if submitted {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

pub async fn status(
    remote: Remote,
    run_id: Option<String>,
    as_json: bool,
    page_size: u32,
) -> Result<i32> {
    let mut client = remote.connect().await?;
    let run_id = match run_id {
        Some(id) => id,
        None => {
            let runs = client
                .list_runs(pb::ListRunsRequest { limit: 1 })
                .await?
                .into_inner()
                .runs;
            runs.first().map(|r| r.run_id.clone()).ok_or_else(|| {
                anyhow::anyhow!("no runs yet: submit one with `floe-coordinator submit`")
            })?
        }
    };
    let run = super::fetch::fetch_run(&mut client, &run_id, page_size).await?;
    print_run(&run, as_json);
    if !as_json {
        // A registered pipeline's freshness (an unregistered one has none);
        // the run's status stands without it.
        if let Err(e) = super::pipeline::print_freshness_of(&remote, &run.pipeline).await {
            tracing::debug!(error = %e, "no freshness for the run's pipeline");
        }
    }
    Ok(0)
}

pub async fn queue(remote: Remote, as_json: bool) -> Result<()> {
    let mut client = remote.connect().await?;
    let d = client.get_queue_depth(pb::Empty {}).await?.into_inner();
    if as_json {
        let value = json!({ "visible": d.visible, "in_flight": d.in_flight, "dead": d.dead });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "waiting {}  in flight {}  dead letters {}",
            d.visible, d.in_flight, d.dead
        );
    }
    Ok(())
}

pub async fn runs(remote: Remote, limit: u32, as_json: bool) -> Result<()> {
    let mut client = remote.connect().await?;
    let runs = client
        .list_runs(pb::ListRunsRequest { limit })
        .await?
        .into_inner()
        .runs;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs.iter().map(run_json).collect::<Vec<_>>())?
        );
        return Ok(());
    }
    println!(
        "{:<44} {:<18} {:<22} {:<10} {:<9} {:>6} {:>12}",
        "run", "pipeline", "period", "state", "by", "tasks", "rows in"
    );
    for r in &runs {
        println!(
            "{:<44} {:<18} {:<22} {:<10} {:<9} {:>6} {:>12}",
            r.run_id,
            pipeline_label(r),
            r.period,
            run_state(r.state),
            if r.trigger.is_empty() {
                "manual"
            } else {
                &r.trigger
            },
            r.task_count,
            r.rows.unwrap_or_default().rows_in
        );
    }
    Ok(())
}

pub async fn cancel(remote: Remote, run_id: String, as_json: bool) -> Result<()> {
    let mut client = remote.connect().await?;
    client
        .cancel_run(pb::CancelRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?;
    let run = super::fetch::fetch_run(&mut client, &run_id, super::fetch::PAGE_SIZE).await?;
    print_run(&run, as_json);
    Ok(())
}
