//! The one way a task becomes a queue message: the run's contract, mode and
//! trace context with the task's own inputs, partition and links.

use floe_common::task::{GoldTask, TaskMessage};

use crate::ledger::{RunRecord, TaskRecord};

/// The message of `task` of `run`; `gold` carries a Gold task's pinned inputs.
pub(super) fn task_message(
    run: &RunRecord,
    task: &TaskRecord,
    gold: Option<GoldTask>,
) -> TaskMessage {
    TaskMessage {
        run_id: run.run_id.clone(),
        task_id: task.task_id.clone(),
        contract_text: run.contract_text.clone(),
        contract_origin: run.contract_origin.clone(),
        inputs: task.inputs.clone(),
        fingerprints: task.fingerprints.clone(),
        partition: task.partition.clone(),
        trace_context: run.trace_context.clone(),
        gold,
        dedupe: task.dedupe.clone(),
        pass: task.pass.clone(),
    }
}
