//! Publishing a staged run: the partitions the run loaded on its branch
//! replace what `main` holds there, in one snapshot per table.
//!
//! A staged run commits every task to its own branch ([`staging_branch`]) with
//! the usual protocol; the fence is the table's, shared by every branch, so
//! runs keep their submit order whether staged or not. Publishing then puts on
//! `main`, for each partition the run still owns (its fence names the run),
//! exactly the files the branch holds there, and removes whatever `main` held
//! there. Partitions a newer run took over meanwhile are left to that run.
//!
//! The publish snapshot records `floe.published-run`: publishing is idempotent
//! per run and table, so a coordinator that stopped between two tables'
//! publishes publishes the rest when it starts again, and an ambiguous swap is
//! recognised on the next load. It also records the run as `floe.run-id`, so
//! history, rollback and lineage see the publish as the run's change to `main`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iceberg::spec::{DataFile, ManifestEntry, MAIN_BRANCH};
use tracing::{debug, info};

use super::files::snapshot_files;
use super::history::{self, PUBLISHED_RUN, RUN_ID, TASK_ID};
use super::stage::{stage_change, Change, Removal};
use super::{fence, RetryPolicy, Swap};
use crate::catalog::TableCatalog;
use crate::error::{LakeError, Result};
use crate::ids::RunId;
use crate::TableName;

/// The task id a publish snapshot records beside its run.
pub const PUBLISH_TASK: &str = "publish";

/// On a publish snapshot: the branch head it published.
pub const PUBLISHED_FROM: &str = "floe.published-from";

/// What every staged run's branch name starts with.
pub const STAGING_PREFIX: &str = "floe/";

/// The branch a staged run commits to on every table it writes.
pub fn staging_branch(run: &RunId) -> String {
    format!("{STAGING_PREFIX}{run}")
}

/// Publishing one staged run on one table.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub table: TableName,
    pub run: RunId,
    /// Extra summary properties of the publish snapshot (audits, approval).
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// This call put the run's partitions on `main`.
    Published {
        snapshot_id: i64,
        /// The partitions replaced, as paths (`ts_day=2025-01-05`; empty when
        /// the table is unpartitioned).
        partitions: Vec<String>,
    },
    /// `main` already holds this run's publish.
    AlreadyPublished { snapshot_id: i64 },
    /// Nothing of the run is left to publish here: it staged nothing on this
    /// table, newer runs own every partition it loaded, or `main` already
    /// holds exactly what the branch holds.
    NothingToPublish,
}

impl PublishOutcome {
    pub fn snapshot_id(&self) -> Option<i64> {
        match self {
            PublishOutcome::Published { snapshot_id, .. }
            | PublishOutcome::AlreadyPublished { snapshot_id } => Some(*snapshot_id),
            PublishOutcome::NothingToPublish => None,
        }
    }
}

/// Publishes `req.run` on `req.table`: load, check, stage the replacement on
/// `main`'s head, swap; on a conflict or an unknown outcome, start again.
pub async fn publish(
    catalog: &dyn TableCatalog,
    req: &PublishRequest,
    policy: &RetryPolicy,
) -> Result<PublishOutcome> {
    let branch = staging_branch(&req.run);
    let mut last_error = String::from("no attempt made");
    for attempt in 1..=policy.max_attempts {
        let Some(table) = catalog.load_table(&req.table).await? else {
            return Ok(PublishOutcome::NothingToPublish);
        };
        let meta = table.metadata();
        if history::rolled_back_runs(meta).contains(&req.run.as_str()) {
            return Err(LakeError::RunRolledBack {
                table: req.table.to_string(),
                run: req.run.to_string(),
            });
        }
        if let Some(snapshot_id) = history::published_snapshot(meta, &req.run) {
            debug!(table = %req.table, snapshot_id, "run already published");
            return Ok(PublishOutcome::AlreadyPublished { snapshot_id });
        }
        let owned: BTreeSet<String> = owned_partitions(meta, &req.run).into_iter().collect();
        let Some(head) = meta.snapshot_for_ref(&branch) else {
            if owned.is_empty() {
                return Ok(PublishOutcome::NothingToPublish);
            }
            // The run staged partitions here, and its branch went before it
            // was published (expiry removes staging branches past its age).
            return Err(LakeError::StagingBranchGone {
                table: req.table.to_string(),
                run: req.run.to_string(),
                branch,
                partitions: owned.len(),
            });
        };
        if owned.is_empty() {
            return Ok(PublishOutcome::NothingToPublish);
        }
        let in_owned = |partition: &iceberg::spec::Struct| {
            owned.contains(&fence::partition_key(meta, partition))
        };
        let staged = snapshot_files(&table, head).await?;
        if let Some(f) = staged.deletes.values().find(|f| in_owned(&f.partition)) {
            return Err(LakeError::DeletesPresent {
                table: req.table.to_string(),
                partition: fence::partition_key(meta, &f.partition),
            });
        }
        let mut added: Vec<DataFile> = staged
            .data
            .values()
            .filter(|f| in_owned(&f.partition))
            .map(|f| f.data_file.clone())
            .collect();
        added.sort_by(|a, b| a.file_path().cmp(b.file_path()));
        let replaced = |e: &ManifestEntry| in_owned(e.data_file().partition());
        let change = Change {
            branch: MAIN_BRANCH,
            added: &added,
            remove: Some(&replaced as Removal),
            remove_in: None,
            properties: summary_properties(req, head.snapshot_id()),
            operation: None,
            attempt,
            table_properties: HashMap::new(),
            snapshot_id: None,
        };
        let Some(staged) = stage_change(&table, &change).await? else {
            return Ok(PublishOutcome::NothingToPublish);
        };
        let swap = Swap::onto(&req.table, &table, &staged.metadata_location);
        if swap
            .or_back_off(catalog, attempt, policy, &mut last_error)
            .await?
        {
            info!(table = %req.table, run = %req.run, snapshot_id = staged.snapshot_id,
                  partitions = owned.len(), "published");
            return Ok(PublishOutcome::Published {
                snapshot_id: staged.snapshot_id,
                partitions: owned.into_iter().collect(),
            });
        }
    }
    Err(LakeError::CommitExhausted {
        table: req.table.to_string(),
        task: format!("{} of run {}", PUBLISH_TASK, req.run),
        attempts: policy.max_attempts,
        last_error,
    })
}

fn summary_properties(req: &PublishRequest, head: i64) -> HashMap<String, String> {
    let mut properties: HashMap<String, String> = req
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    properties.insert(PUBLISHED_RUN.into(), req.run.to_string());
    properties.insert(PUBLISHED_FROM.into(), head.to_string());
    properties.insert(RUN_ID.into(), req.run.to_string());
    properties.insert(TASK_ID.into(), PUBLISH_TASK.into());
    properties
}

/// Removes the run's staging branch from the table (its snapshots stay until
/// expiry finds them unreachable). `false` when there was none.
pub async fn drop_branch(
    catalog: &dyn TableCatalog,
    table_name: &TableName,
    run: &RunId,
    policy: &RetryPolicy,
) -> Result<bool> {
    let branch = staging_branch(run);
    let mut last_error = String::from("no attempt made");
    for attempt in 1..=policy.max_attempts {
        let Some(table) = catalog.load_table(table_name).await? else {
            return Ok(false);
        };
        if table.metadata().snapshot_for_ref(&branch).is_none() {
            return Ok(false);
        }
        let next = super::metadata::builder(&table)?
            .remove_ref(&branch)
            .build()
            .map_err(LakeError::iceberg("removing a branch"))?
            .metadata;
        let location = super::metadata::write_next(&table, &next).await?;
        let swap = Swap::onto(table_name, &table, &location);
        if swap
            .or_back_off(catalog, attempt, policy, &mut last_error)
            .await?
        {
            return Ok(true);
        }
    }
    Err(LakeError::CommitExhausted {
        table: table_name.to_string(),
        task: format!("dropping branch {branch}"),
        attempts: policy.max_attempts,
        last_error,
    })
}

/// Live rows per partition (as [`fence::partition_key`] paths) of `table` at
/// `reference`'s head (`main` or a run's branch); empty when it has none.
pub async fn rows_by_partition(
    table: &iceberg::table::Table,
    reference: &str,
) -> Result<BTreeMap<String, u64>> {
    let meta = table.metadata();
    let Some(head) = meta.snapshot_for_ref(reference) else {
        return Ok(BTreeMap::new());
    };
    let files = snapshot_files(table, head).await?;
    let mut rows = BTreeMap::new();
    for f in files.data.values() {
        *rows
            .entry(fence::partition_key(meta, &f.partition))
            .or_insert(0) += f.records;
    }
    Ok(rows)
}

/// The partitions (as paths) whose fence names `run`: what publishing it
/// would replace on `main`.
pub fn owned_partitions(meta: &iceberg::spec::TableMetadata, run: &RunId) -> Vec<String> {
    fence::owners(meta)
        .filter(|(_, owner)| *owner == run.as_str())
        .map(|(partition, _)| partition.to_string())
        .collect()
}
