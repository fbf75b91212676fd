//! A task's place in its partition's chain: the keys (and range line counts)
//! the task before it left, and where it leaves its own for the next.

use iceberg::table::Table;

use super::handoff;
use super::line_handoff::{self, RangeEnds};
use super::TaskSpec;
use crate::error::Result;
use crate::validate::{KeyMemory, PartitionValue, SeenKeys, Validator};

/// Where a task of a split partition leaves its keys for the next one.
pub(super) struct HandOff {
    file_io: iceberg::io::FileIO,
    location: String,
    handle: tokio::runtime::Handle,
}

impl HandOff {
    /// Writes the keys, then the line counts where the task's ranges ended
    /// (from the reading thread, before the commit: a task that succeeded has
    /// left them complete).
    pub fn leave(&self, keys: &mut SeenKeys, ends: &RangeEnds) -> Result<()> {
        handoff::write_keys_blocking(&self.file_io, &self.location, keys, &self.handle)?;
        if ends.is_empty() {
            return Ok(());
        }
        line_handoff::write_ends_blocking(&self.file_io, &self.location, ends, &self.handle)
    }
}

/// What a task starts from.
pub(super) struct Chain {
    /// Starting from the keys of the tasks before it in its partition.
    pub validator: Validator,
    /// Where to leave its own, when a task follows.
    pub hand_off: Option<HandOff>,
    /// Where the ranges the task before it read ended, with their line counts.
    pub range_ends: RangeEnds,
}

pub(super) async fn start(
    spec: &TaskSpec,
    silver: &Table,
    schema: arrow_schema::SchemaRef,
    owned: Option<&PartitionValue>,
    memory: &KeyMemory,
) -> Result<Chain> {
    let before = spec
        .dedupe
        .as_ref()
        .and_then(|d| Some((d.after.as_ref()?, d)));
    let (seen, range_ends) = match before {
        Some((before, link)) => {
            let run = link.after_run.as_ref().unwrap_or(&spec.attempt.run_id);
            let location = handoff::keys_location(silver, run, before);
            let ends = line_handoff::read_ends(silver.file_io(), &location).await;
            let keys = handoff::read_keys(silver, run, before, memory.clone()).await?;
            (keys, ends)
        }
        None => (SeenKeys::new(memory.clone()), RangeEnds::new()),
    };
    let validator = Validator::with_keys(spec.contract.clone(), schema, owned.cloned(), seen);
    let hand_off = spec
        .dedupe
        .as_ref()
        .filter(|d| d.hand_off)
        .map(|_| HandOff {
            file_io: silver.file_io().clone(),
            location: handoff::keys_location(silver, &spec.attempt.run_id, &spec.attempt.task_id),
            handle: tokio::runtime::Handle::current(),
        });
    Ok(Chain {
        validator,
        hand_off,
        range_ends,
    })
}
