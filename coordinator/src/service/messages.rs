//! The one way a task becomes a queue message: a reference to the run's stored
//! contract, its trace context, and the task's own inputs, partition and links.

use std::sync::Arc;

use floe_common::contract::{ContractRef, ContractStore, WarehouseContracts};
use floe_common::task::{GoldTask, TaskMessage};

use super::{Coordinator, Result};
use crate::ledger::{RunKind, RunRecord, TaskRecord};

/// How a run's messages name its contract.
pub(super) enum MessageContract {
    /// Stored in the warehouse; messages carry its reference.
    Stored(ContractRef),
    /// Carried whole: a coordinator without a catalog has no warehouse (tests).
    Inline,
}

impl Coordinator {
    /// Stores a contract where workers read it. A run is recorded only after
    /// its contract is stored, so every message of a recorded run may refer
    /// to it. Storing it again is harmless (it is content-addressed).
    pub(super) async fn store_contract(&self, text: &str) -> Result<MessageContract> {
        let Some(store) = self.contract_store().await? else {
            return Ok(MessageContract::Inline);
        };
        Ok(MessageContract::Stored(store.put(text).await?))
    }

    /// How the messages of a recorded run name its (stored) contract.
    pub(super) fn contract_of(&self, run: &RunRecord) -> MessageContract {
        match self.catalog {
            Some(_) => MessageContract::Stored(ContractRef::of(&run.contract_text)),
            None => MessageContract::Inline,
        }
    }

    /// The warehouse's contract store; `None` without a catalog.
    async fn contract_store(&self) -> Result<Option<&Arc<dyn ContractStore>>> {
        let Some(config) = &self.catalog else {
            return Ok(None);
        };
        let store = self
            .contracts
            .get_or_try_init(|| async {
                let files = config.warehouse_files().await?;
                Ok::<_, crate::CoordinatorError>(
                    Arc::new(WarehouseContracts::new(files)) as Arc<dyn ContractStore>
                )
            })
            .await?;
        Ok(Some(store))
    }
}

/// The message of `task` of `run`; `gold` carries a Gold task's pinned inputs.
pub(super) fn task_message(
    run: &RunRecord,
    task: &TaskRecord,
    gold: Option<GoldTask>,
    contract: &MessageContract,
) -> TaskMessage {
    let (contract, contract_text) = match contract {
        MessageContract::Stored(reference) => (Some(reference.clone()), String::new()),
        MessageContract::Inline => (None, run.contract_text.clone()),
    };
    TaskMessage {
        run_id: run.run_id.clone(),
        task_id: task.task_id.clone(),
        contract,
        contract_text,
        contract_origin: run.contract_origin.clone(),
        inputs: task.inputs.clone(),
        fingerprints: task.fingerprints.clone(),
        ranges: task.ranges.clone(),
        partition: task.partition.clone(),
        trace_context: run.trace_context.clone(),
        gold,
        dedupe: task.dedupe.clone(),
        pass: task.pass.clone(),
        // An append run's loads add to their partitions; its Gold tasks
        // rebuild them, as any Gold task does.
        append: run.kind == RunKind::Append && task.gold.is_none(),
        // A staged run's tasks, Gold's too, commit to its branch.
        staged: run.staged,
    }
}
