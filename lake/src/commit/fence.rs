//! Partition fencing: each partition of a table belongs to the newest run that
//! loaded it, and only that run's files stay in it.
//!
//! - The owner is recorded in the table itself, as the table property
//!   `floe.fence.<partition path>` = run id, set by the same metadata swap that
//!   commits the load. It therefore holds with nothing but the catalog: several
//!   coordinators, workers taking tasks from SQS directly, a coordinator outage.
//! - A data file names the run whose load it belongs to: its file name starts
//!   with `<run id>--` (see [`file_prefix`]). A replacing commit keeps the files
//!   its own run wrote and removes the others, even after the run's earlier
//!   snapshots were expired, because it reads ownership from the file itself.
//! - What the owner's load holds is recorded beside the fence, as
//!   `floe.committed.<partition path>` = `<owner> <id>=<snapshot>,...`: each
//!   task of the load (by task id) and each pass over it (by idempotency key)
//!   that committed there. The idempotency check reads it as well as `main`'s
//!   history, so a redelivered task still finds its commit after expiry removed
//!   the snapshot. It is bounded: a new owner starts it afresh.

use iceberg::spec::{Struct, TableMetadata};

use crate::ids::{Attempt, RunId};

/// Table property prefix of a partition's owner.
pub const FENCE_PREFIX: &str = "floe.fence.";

/// Table property prefix of the commits made into a partition for its owner's load.
pub const COMMITTED_PREFIX: &str = "floe.committed.";

/// Separates the owning run from the rest of a data file's name.
const OWNER_SEPARATOR: &str = "--";

/// How a commit relates to the partition it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Adds files without any partition rule.
    None,
    /// A load (or a Gold rebuild) of the partition: takes ownership of it and
    /// removes the files of older runs there. Refused when a newer run owns it.
    Replace(Struct),
    /// Adds to the load that owns the partition (a quarantine pass): refused
    /// unless `owner` still owns it (`None`: no load has claimed it).
    Within {
        partition: Struct,
        owner: Option<RunId>,
    },
    /// Adds new files to the load that owns the partition (an append run of a
    /// continuous pipeline), or, when no load has claimed it, claims it.
    /// Refused when a newer run owns it: that run listed every file that had
    /// landed before the append was planned. `owner` is the owner its files
    /// were written for (their names start with it); a different, older owner
    /// since is a conflict to retry, not a refusal.
    Append {
        partition: Struct,
        owner: Option<RunId>,
    },
}

impl Claim {
    pub fn partition(&self) -> Option<&Struct> {
        match self {
            Claim::None => None,
            Claim::Replace(p)
            | Claim::Within { partition: p, .. }
            | Claim::Append { partition: p, .. } => Some(p),
        }
    }
}

/// Why a commit may not go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The partition, as a path (`ts_day=2025-01-05`; empty when unpartitioned).
    pub partition: String,
    /// Who owns it now (`None`: nobody).
    pub owner: Option<RunId>,
    /// An append's partition went to another load, not newer than the
    /// append, since its files were written: write them again and retry.
    pub changed_hands: bool,
}

/// The property key of a partition: its path under the table's default spec.
pub fn partition_key(meta: &TableMetadata, partition: &Struct) -> String {
    let spec = meta.default_partition_spec();
    if spec.is_unpartitioned() {
        return String::new();
    }
    spec.partition_to_path(partition, meta.current_schema().clone())
}

/// The run that owns `partition` (a key from [`partition_key`]), if any.
pub fn owner(meta: &TableMetadata, partition: &str) -> Option<RunId> {
    meta.properties()
        .get(&format!("{FENCE_PREFIX}{partition}"))
        .map(RunId::new)
}

/// Every fenced partition of the table with its owner.
pub fn owners(meta: &TableMetadata) -> impl Iterator<Item = (&str, &str)> {
    meta.properties().iter().filter_map(|(k, v)| {
        k.strip_prefix(FENCE_PREFIX)
            .map(|partition| (partition, v.as_str()))
    })
}

/// Checks `claim` by `run` against the table. `Ok(Some((key, value)))` is the
/// fence property the commit must set; `Ok(None)` sets nothing.
pub fn check(
    meta: &TableMetadata,
    run: &RunId,
    claim: &Claim,
) -> Result<Option<(String, String)>, Refusal> {
    let Some(partition) = claim.partition() else {
        return Ok(None);
    };
    let key = partition_key(meta, partition);
    let current = owner(meta, &key);
    match claim {
        Claim::None => Ok(None),
        Claim::Replace(_) => match current {
            Some(owner) if owner.is_newer_than(run) => Err(Refusal {
                partition: key,
                owner: Some(owner),
                changed_hands: false,
            }),
            Some(owner) if &owner == run => Ok(None),
            _ => Ok(Some((format!("{FENCE_PREFIX}{key}"), run.to_string()))),
        },
        Claim::Append {
            owner: written_for, ..
        } => match current {
            Some(owner) if owner.is_newer_than(run) => Err(Refusal {
                partition: key,
                owner: Some(owner),
                changed_hands: false,
            }),
            current if &current != written_for => Err(Refusal {
                partition: key,
                owner: current,
                changed_hands: true,
            }),
            Some(_) => Ok(None),
            None => Ok(Some((format!("{FENCE_PREFIX}{key}"), run.to_string()))),
        },
        Claim::Within {
            owner: expected, ..
        } => {
            if &current == expected {
                Ok(None)
            } else {
                Err(Refusal {
                    partition: key,
                    owner: current,
                    changed_hands: false,
                })
            }
        }
    }
}

/// Which record in `floe.committed.<partition>` a commit makes and looks for:
/// the partition key, the load's owner, and the commit's id (the idempotency
/// key of a pass, the task id of a load). `None` for a commit with no partition
/// rule, or into a partition no load owns.
fn committed_slot(
    meta: &TableMetadata,
    claim: &Claim,
    attempt: &Attempt,
    idempotency_key: Option<&str>,
) -> Option<(String, RunId, String)> {
    let (partition, owner) = match claim {
        Claim::Replace(p) => (p, attempt.run_id.clone()),
        Claim::Within {
            partition,
            owner: Some(owner),
        } => (partition, owner.clone()),
        Claim::Append { partition, owner } => (
            partition,
            owner.clone().unwrap_or_else(|| attempt.run_id.clone()),
        ),
        _ => return None,
    };
    let id = match (claim, idempotency_key) {
        (_, Some(key)) => key.to_string(),
        // An append's task ids may repeat its owner's: it is recorded by both.
        (Claim::Append { .. }, None) => append_id(attempt),
        _ => attempt.task_id.to_string(),
    };
    Some((partition_key(meta, partition), owner, id))
}

/// How an append's commit is recorded in the load it adds to.
fn append_id(attempt: &Attempt) -> String {
    format!("append:{}:{}", attempt.run_id, attempt.task_id)
}

/// The `(id, snapshot)` pairs recorded for `owner`'s load in `partition`.
fn committed_records(meta: &TableMetadata, partition: &str, owner: &RunId) -> Vec<(String, i64)> {
    let Some(value) = meta
        .properties()
        .get(&format!("{COMMITTED_PREFIX}{partition}"))
    else {
        return Vec::new();
    };
    match value.split_once(' ') {
        Some((run, list)) if run == owner.as_str() => list
            .split(',')
            .filter_map(|entry| {
                let (id, snapshot) = entry.rsplit_once('=')?;
                Some((id.to_string(), snapshot.parse().ok()?))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The snapshot in which this commit was already made, as recorded in the
/// partition (it survives the snapshot's expiry).
pub fn recorded_commit(
    meta: &TableMetadata,
    claim: &Claim,
    attempt: &Attempt,
    idempotency_key: Option<&str>,
) -> Option<i64> {
    let (partition, owner, id) = committed_slot(meta, claim, attempt, idempotency_key)?;
    committed_records(meta, &partition, &owner)
        .into_iter()
        .find_map(|(recorded, snapshot)| (recorded == id).then_some(snapshot))
}

/// The property that records this commit, made in `snapshot`, beside the
/// others of the same load (a new owner starts the record afresh).
pub fn record_commit(
    meta: &TableMetadata,
    claim: &Claim,
    attempt: &Attempt,
    idempotency_key: Option<&str>,
    snapshot: i64,
) -> Option<(String, String)> {
    let (partition, owner, id) = committed_slot(meta, claim, attempt, idempotency_key)?;
    let mut records = committed_records(meta, &partition, &owner);
    records.retain(|(recorded, _)| *recorded != id);
    records.push((id, snapshot));
    let list: Vec<String> = records.iter().map(|(i, s)| format!("{i}={s}")).collect();
    Some((
        format!("{COMMITTED_PREFIX}{partition}"),
        format!("{owner} {}", list.join(",")),
    ))
}

/// The start of the name of every data file written for `owner`'s load: what
/// [`file_owner`] reads back.
pub fn file_prefix(owner: &RunId, rest: &str) -> String {
    format!("{owner}{OWNER_SEPARATOR}{rest}")
}

/// The start of the names of the data files `attempt` writes
/// (`<run>--<task>-a<number>-<unique>`): every file names its run, task and
/// attempt.
pub fn attempt_file_prefix(attempt: &Attempt, unique: &str) -> String {
    file_prefix(
        &attempt.run_id,
        &format!("{}-a{}-{unique}", attempt.task_id, attempt.number),
    )
}

/// The run whose load a data file belongs to, read from its name; `None` for a
/// file not named by [`file_prefix`] (written by another engine or an older
/// version of Floe).
pub fn file_owner(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split_once(OWNER_SEPARATOR)
        .map(|(owner, _)| owner)
        .filter(|owner| !owner.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TaskId;

    use iceberg::spec::TableMetadataBuilder;

    /// An unpartitioned table's metadata (its one partition's key is "").
    fn metadata() -> TableMetadata {
        use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
        let schema = Schema::builder()
            .with_fields(vec![NestedField::required(
                1,
                "x",
                Type::Primitive(PrimitiveType::Long),
            )
            .into()])
            .build()
            .unwrap();
        TableMetadataBuilder::new(
            schema,
            iceberg::spec::PartitionSpec::unpartition_spec(),
            iceberg::spec::SortOrder::unsorted_order(),
            "file:///t".into(),
            iceberg::spec::FormatVersion::V2,
            Default::default(),
        )
        .unwrap()
        .build()
        .unwrap()
        .metadata
    }

    fn set(meta: &TableMetadata, (k, v): (String, String)) -> TableMetadata {
        TableMetadataBuilder::new_from_metadata(meta.clone(), None)
            .set_properties([(k, v)].into())
            .unwrap()
            .build()
            .unwrap()
            .metadata
    }

    #[test]
    fn an_append_adds_to_an_older_load_and_yields_to_a_newer_one() {
        let (load, append, newer) = (RunId::generate(), RunId::generate(), RunId::generate());
        let empty = metadata();
        let append_to = |owner: Option<&RunId>| Claim::Append {
            partition: Struct::empty(),
            owner: owner.cloned(),
        };
        // Nobody owns the partition: the append claims it.
        let fence = check(&empty, &append, &append_to(None)).unwrap().unwrap();
        assert_eq!(fence.1, append.to_string());
        // An older load owns it: the append adds to it, the fence stays.
        let loaded = set(
            &empty,
            check(&empty, &load, &Claim::Replace(Struct::empty()))
                .unwrap()
                .unwrap(),
        );
        assert_eq!(check(&loaded, &append, &append_to(Some(&load))), Ok(None));
        // Its files were written for nobody (or another load): retry, not refuse.
        let moved = check(&loaded, &append, &append_to(None)).unwrap_err();
        assert!(moved.changed_hands);
        // A newer load owns it: that load listed the append's files; refused.
        let reloaded = set(
            &loaded,
            check(&loaded, &newer, &Claim::Replace(Struct::empty()))
                .unwrap()
                .unwrap(),
        );
        let refused = check(&reloaded, &append, &append_to(Some(&load))).unwrap_err();
        assert_eq!(
            (refused.owner, refused.changed_hands),
            (Some(newer.clone()), false)
        );

        // Recorded in the owner's load under its own id, beside the load's task of the same id.
        let t = |run: &RunId| Attempt::first(run.clone(), TaskId::new("p-2025-01-01-0"));
        let meta = set(
            &loaded,
            record_commit(
                &loaded,
                &Claim::Replace(Struct::empty()),
                &t(&load),
                None,
                1,
            )
            .unwrap(),
        );
        assert_eq!(
            recorded_commit(&meta, &append_to(Some(&load)), &t(&append), None),
            None
        );
        let meta = set(
            &meta,
            record_commit(&meta, &append_to(Some(&load)), &t(&append), None, 2).unwrap(),
        );
        assert_eq!(
            recorded_commit(&meta, &append_to(Some(&load)), &t(&append), None),
            Some(2)
        );
        assert_eq!(
            recorded_commit(&meta, &Claim::Replace(Struct::empty()), &t(&load), None),
            Some(1)
        );
    }

    #[test]
    fn the_committed_record_belongs_to_the_owner_and_a_new_owner_starts_it_afresh() {
        let mut meta = metadata();
        let claim = Claim::Replace(Struct::empty());
        let (r1, r2) = (RunId::generate(), RunId::generate());
        let t = |run: &RunId, task: &str| Attempt::first(run.clone(), TaskId::new(task));
        assert_eq!(recorded_commit(&meta, &claim, &t(&r1, "a"), None), None);
        meta = set(
            &meta,
            record_commit(&meta, &claim, &t(&r1, "a"), None, 11).unwrap(),
        );
        meta = set(
            &meta,
            record_commit(&meta, &claim, &t(&r1, "b"), None, 12).unwrap(),
        );
        assert_eq!(recorded_commit(&meta, &claim, &t(&r1, "a"), None), Some(11));
        assert_eq!(recorded_commit(&meta, &claim, &t(&r1, "b"), None), Some(12));
        let pass = Claim::Within {
            partition: Struct::empty(),
            owner: Some(r1.clone()),
        };
        let key = Some("reprocess:2025-01-01:abc");
        meta = set(
            &meta,
            record_commit(&meta, &pass, &t(&r2, "p"), key, 13).unwrap(),
        );
        assert_eq!(recorded_commit(&meta, &pass, &t(&r2, "p"), key), Some(13));
        assert_eq!(recorded_commit(&meta, &claim, &t(&r1, "a"), None), Some(11));
        // A newer run takes the partition: the old load's record is gone.
        meta = set(
            &meta,
            record_commit(&meta, &claim, &t(&r2, "a"), None, 14).unwrap(),
        );
        assert_eq!(recorded_commit(&meta, &claim, &t(&r1, "b"), None), None);
        assert_eq!(recorded_commit(&meta, &claim, &t(&r2, "a"), None), Some(14));
        assert_eq!(
            recorded_commit(&meta, &Claim::None, &t(&r2, "a"), None),
            None
        );
    }

    #[test]
    fn a_file_names_its_owner() {
        let run = RunId::generate();
        let prefix = file_prefix(&run, "tx-2025-01-05-000-a1-9f");
        let path = format!("s3://b/w/silver.db/t/data/ts_day=2025-01-05/{prefix}-00000.parquet");
        assert_eq!(file_owner(&path), Some(run.as_str()));
        assert_eq!(
            file_owner("/w/data/run-0193-tx-2025-01-05-000-a1-9f-00000.parquet"),
            None,
            "a name without the separator has no owner"
        );
        assert_eq!(file_owner("/w/data--x/part-00000.parquet"), None);
    }
}
