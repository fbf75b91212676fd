//! The pipeline and the days a pass run covers (`reprocess`, `condemned
//! release`, `gold rebuild`), and how such a run is submitted and followed.

use anyhow::Result;
use clap::Args;
use floe_proto::v1 as pb;

use super::Remote;

/// The pipeline and the days whose partitions a pass covers.
#[derive(Args)]
pub struct Scope {
    /// The contract as it is now (its rules and models apply).
    #[command(flatten)]
    pipeline: super::pipeline::PipelineArg,
    #[command(flatten)]
    days: super::Days,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    remote: Remote,
}

impl Scope {
    fn period(&self) -> Result<pb::submit_pass_request::Period> {
        use pb::submit_pass_request::Period;
        Ok(match (&self.days.date, &self.days.from, &self.days.to) {
            (Some(d), ..) => Period::Date(d.clone()),
            (_, Some(f), Some(t)) => Period::Range(pb::DateRange {
                from: f.clone(),
                to: t.clone(),
            }),
            _ => anyhow::bail!("say which days: --date YYYY-MM-DD or --from/--to"),
        })
    }

    /// Submits the pass run to the coordinator and follows it to its end. A
    /// pass refused (an unfinished run holds the days) or failed is an error
    /// with the coordinator's words.
    pub async fn run_pass(
        &self,
        kind: pb::PassKind,
        approval: Option<(&str, &str)>,
    ) -> Result<pb::Run> {
        let contract = self.pipeline.fields()?;
        let (approved_by, reason) = approval.unwrap_or_default();
        let request = pb::SubmitPassRequest {
            contract_text: contract.text,
            contract_origin: contract.origin,
            pipeline: contract.pipeline,
            kind: kind as i32,
            period: Some(self.period()?),
            approved_by: approved_by.to_string(),
            reason: reason.to_string(),
        };
        let mut client = self.remote.connect().await?;
        let submitted = match client.submit_pass(request).await {
            Ok(r) => r.into_inner(),
            // Refused: the coordinator's reason says what to do.
            Err(s) if s.code() != tonic::Code::Unavailable && s.code() != tonic::Code::Unknown => {
                anyhow::bail!("{}", s.message())
            }
            Err(s) => anyhow::bail!(
                "the coordinator did not answer the submit ({}): it may or may not have \
                 recorded the pass; check with `floe-coordinator runs` before submitting again",
                s.message()
            ),
        };
        if !self.json {
            eprintln!(
                "run {} submitted: {} tasks",
                submitted.run_id,
                submitted.plan.len()
            );
        }
        let run = super::submit::follow(&mut client, &submitted.run_id, !self.json).await?;
        if run.state != pb::RunState::Succeeded as i32 {
            let state = pb::RunState::try_from(run.state)
                .map_or("unknown", |s| s.as_str_name())
                .trim_start_matches("RUN_STATE_")
                .to_lowercase();
            anyhow::bail!("run {} ended {state}: {}", run.run_id, run.error);
        }
        Ok(run)
    }
}

/// The run's tasks that are passes (not Gold tasks).
pub fn pass_tasks(run: &pb::Run) -> impl Iterator<Item = &pb::Task> {
    run.tasks.iter().filter(|t| t.model.is_empty())
}

/// A Gold partition a run rebuilt.
#[derive(serde::Serialize)]
pub struct Rebuilt {
    pub model: String,
    pub partition: String,
    pub table: String,
    pub rows: u64,
}

/// The Gold partitions the run rebuilt (of `partition`, or all), in plan order.
pub fn rebuilt(run: &pb::Run, partition: Option<&str>) -> Vec<Rebuilt> {
    run.tasks
        .iter()
        .filter(|t| !t.model.is_empty() && !t.snapshots.is_empty())
        .filter(|t| partition.is_none_or(|p| t.partition == p))
        .map(|t| Rebuilt {
            model: t.model.clone(),
            partition: t.partition.clone(),
            table: t.snapshots[0].table.clone(),
            rows: t.stats.as_ref().map_or(0, |s| s.gold_rows),
        })
        .collect()
}
