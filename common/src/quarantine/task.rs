//! A quarantine pass as a task of a run: the coordinator plans one task per
//! partition, and a worker runs it here like any other task.

use std::collections::BTreeMap;

use tracing::{info_span, Instrument};

use super::{release_condemned, reprocess_partition, Approval, ReprocessOptions};
use crate::error::{FloeError, Result};
use crate::task::{PassTask, TaskEnv, TaskReport, TaskSpec, TaskTimings};

/// Runs the pass `spec.pass` over `spec.partition`. Safe to run again: a pass
/// that finished reports what it did; one cut short finds its commits.
pub async fn run_pass(env: &TaskEnv, spec: &TaskSpec) -> Result<TaskReport> {
    let Some(pass) = &spec.pass else {
        return Err(FloeError::WrongTaskKind {
            task: spec.attempt.task_id.to_string(),
            kind: "quarantine pass",
        });
    };
    // An unpartitioned table's rows all carry the empty partition label.
    let label = spec.partition.as_deref().unwrap_or_default();
    let span = info_span!("pass", run_id = %spec.attempt.run_id, task_id = %spec.attempt.task_id, attempt = spec.attempt.number);
    crate::trace_context::set_parent(&span, &spec.trace_context);
    let started = std::time::Instant::now();
    let (stats, commits) = async {
        match pass {
            PassTask::Reprocess => {
                let opts = ReprocessOptions {
                    run_id: Some(spec.attempt.run_id.clone()),
                    retry: env.retry.clone(),
                    fail_point: env.fail_point,
                };
                let contract = spec.contract.clone();
                let r = reprocess_partition(
                    env.catalog.as_ref(),
                    env.bronze.clone(),
                    contract,
                    label,
                    &opts,
                )
                .await?;
                Ok::<_, FloeError>((r.stats(), r.commits))
            }
            PassTask::Release {
                approved_by,
                reason,
            } => {
                let approval = Approval {
                    approved_by: approved_by.clone(),
                    reason: reason.clone(),
                };
                let r = release_condemned(
                    env.catalog.as_ref(),
                    &spec.contract,
                    label,
                    &approval,
                    Some(&spec.attempt.run_id),
                    &env.retry,
                )
                .await?;
                Ok((r.stats(), r.commits))
            }
        }
    }
    .instrument(span)
    .await?;
    Ok(TaskReport {
        stats,
        commits,
        model_commits: BTreeMap::new(),
        timings: TaskTimings {
            read_validate_write: started.elapsed(),
            ..Default::default()
        },
    })
}
