//! A task as it travels on the queue: with the contract's reference, a worker
//! needs nothing but the message (and access to Bronze and the warehouse) to
//! run it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{DedupeLink, GoldTask, PassTask, TaskSpec};
use crate::contract::{Contract, ContractCache, ContractRef};
use crate::error::Result;
use crate::source::ByteRange;
use floe_lake::ids::{RunId, TaskId};
use floe_lake::storage::Fingerprint;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMessage {
    pub run_id: RunId,
    pub task_id: TaskId,
    /// The exact contract the run was planned with, stored once (see
    /// [`crate::contract::ContractStore`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractRef>,
    /// The contract itself, in messages that carry it whole instead of a
    /// reference (sent by coordinators without a warehouse, and before
    /// references existed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contract_text: String,
    pub contract_origin: String,
    pub inputs: Vec<String>,
    /// See [`TaskSpec::fingerprints`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fingerprints: BTreeMap<String, Fingerprint>,
    /// See [`TaskSpec::ranges`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ranges: BTreeMap<String, ByteRange>,
    pub partition: Option<String>,
    /// The run's trace context (see [`crate::trace_context`]); empty when
    /// traces are off.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trace_context: BTreeMap<String, String>,
    /// Set for a Gold task: the model to rebuild for `partition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold: Option<GoldTask>,
    /// See [`TaskSpec::dedupe`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe: Option<DedupeLink>,
    /// See [`TaskSpec::pass`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<PassTask>,
    /// See [`TaskSpec::append`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub append: bool,
    /// See [`TaskSpec::staged`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub staged: bool,
}

impl TaskMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a task message serializes")
    }

    pub fn from_json(body: &str) -> Result<Self> {
        serde_json::from_str(body).map_err(|e| crate::FloeError::NotATask(e.to_string()))
    }

    /// The task's contract: from `contracts` by reference, else the text it carries.
    pub async fn contract(&self, contracts: &ContractCache) -> Result<Arc<Contract>> {
        match &self.contract {
            Some(reference) => contracts.resolve(reference, &self.contract_origin).await,
            None => Ok(Arc::new(Contract::parse(
                &self.contract_text,
                Path::new(&self.contract_origin),
            )?)),
        }
    }

    /// The runnable task for delivery number `attempt`, with its contract.
    pub fn into_spec(self, attempt: u32, contract: Arc<Contract>) -> TaskSpec {
        TaskSpec {
            attempt: floe_lake::Attempt::new(self.run_id, self.task_id, attempt),
            contract,
            inputs: self.inputs,
            fingerprints: self.fingerprints,
            ranges: self.ranges,
            partition: self.partition,
            trace_context: self.trace_context,
            gold: self.gold,
            dedupe: self.dedupe,
            pass: self.pass,
            append: self.append,
            staged: self.staged,
        }
    }
}
