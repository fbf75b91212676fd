//! Append tasks: a continuous pipeline's new files, added to the load that
//! owns their partition instead of replacing it (`Claim::Append`).

use std::collections::BTreeMap;

use iceberg::table::Table;

use super::TaskSpec;
use crate::error::Result;
use crate::table::{self, TableRole};
use crate::validate::PartitionValue;
use floe_lake::commit::fence;
use floe_lake::ids::RunId;

/// For an append, the load each table's partition belongs to as the task
/// starts (`None`: no load yet): its files are named after that load and its
/// commits add to it. Empty for a load, which replaces its partitions.
pub(super) type Owners = BTreeMap<TableRole, Option<RunId>>;

pub(super) fn append_owners(
    spec: &TaskSpec,
    tables: &BTreeMap<TableRole, Table>,
    owned: Option<&PartitionValue>,
) -> Result<Owners> {
    let mut owners = Owners::new();
    if !spec.append {
        return Ok(owners);
    }
    for (role, t) in tables {
        let partition = table::partition_struct(*role, &spec.contract, owned)?;
        let meta = t.metadata();
        owners.insert(
            *role,
            fence::owner(meta, &fence::partition_key(meta, &partition)),
        );
    }
    Ok(owners)
}

/// How the task's data files are named: after its own run for a load; after
/// the load it adds to for an append (so that load's tasks keep them).
pub(super) fn file_prefix(spec: &TaskSpec, owner: Option<&RunId>) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    match owner {
        Some(owner) if spec.append => fence::file_prefix(
            owner,
            &format!(
                "{}-{}-a{}-{unique}",
                spec.attempt.run_id, spec.attempt.task_id, spec.attempt.number
            ),
        ),
        _ => fence::attempt_file_prefix(&spec.attempt, &unique),
    }
}

/// Snapshot summary property of an append: the files it added, as a JSON
/// object of location → fingerprint (size, ETag or modification time).
pub const APPENDED_FILES: &str = "floe.appended-files";

pub(super) fn appended_files(spec: &TaskSpec) -> String {
    let files: BTreeMap<&String, Option<&floe_lake::storage::Fingerprint>> = spec
        .inputs
        .iter()
        .map(|input| (input, spec.fingerprints.get(input)))
        .collect();
    serde_json::to_string(&files).expect("fingerprints serialize")
}
