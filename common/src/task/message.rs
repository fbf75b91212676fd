//! A task as it travels on the queue: self-contained, so a worker needs nothing
//! but the message (and access to Bronze and the catalog) to run it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{DedupeLink, GoldTask, PassTask, TaskSpec};
use crate::contract::Contract;
use crate::error::Result;
use floe_lake::ids::{RunId, TaskId};
use floe_lake::storage::Fingerprint;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMessage {
    pub run_id: RunId,
    pub task_id: TaskId,
    /// The exact contract the run was planned with.
    pub contract_text: String,
    pub contract_origin: String,
    pub inputs: Vec<String>,
    /// See [`TaskSpec::fingerprints`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fingerprints: BTreeMap<String, Fingerprint>,
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
}

impl TaskMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a task message serializes")
    }

    pub fn from_json(body: &str) -> Result<Self> {
        serde_json::from_str(body).map_err(|e| crate::FloeError::NotATask(e.to_string()))
    }

    /// The runnable task for delivery number `attempt`.
    pub fn into_spec(self, attempt: u32) -> Result<TaskSpec> {
        let contract = Contract::parse(&self.contract_text, Path::new(&self.contract_origin))?;
        Ok(TaskSpec {
            attempt: floe_lake::Attempt::new(self.run_id, self.task_id, attempt),
            contract: Arc::new(contract),
            inputs: self.inputs,
            fingerprints: self.fingerprints,
            partition: self.partition,
            trace_context: self.trace_context,
            gold: self.gold,
            dedupe: self.dedupe,
            pass: self.pass,
        })
    }
}
