//! The planner: a pure function from (contract, period, listed files) to tasks.
//! A task never spans two target partitions; a big partition is split into file
//! groups of at most the target task size; task ids are deterministic. Under a
//! dedupe key, the tasks of a split partition are chained: each starts from
//! the keys of the ones before it (see `floe_common::task::handoff`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use floe_common::contract::{Contract, TransformKind};
use floe_common::source::range::{self, ByteRange};
use floe_common::task::{DedupeLink, PassTask};
use floe_lake::storage::Fingerprint;
use floe_lake::TaskId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputFile {
    /// An absolute location: a local path or an `s3://` URL.
    pub path: String,
    /// Its size (in `fingerprint.bytes`) and version as listed.
    pub fingerprint: Fingerprint,
    /// The day whose expansion of the location template listed this file.
    pub day: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTask {
    pub task_id: TaskId,
    /// The partition label the task owns (None for an unpartitioned table).
    pub partition: Option<String>,
    pub inputs: Vec<String>,
    /// What each input was when it was listed.
    pub fingerprints: BTreeMap<String, Fingerprint>,
    /// Inputs the task reads only a byte range of (a large file split).
    pub ranges: BTreeMap<String, ByteRange>,
    pub bytes: u64,
    /// What `--explain` should say of the task (a large file read whole, and why).
    pub notes: Vec<String>,
    /// Set for a Gold task.
    pub gold: Option<GoldPlan>,
    /// Set for a task of a partition split across several tasks under a dedupe
    /// key: it waits for the task before it and starts from its keys.
    pub dedupe: Option<DedupeLink>,
    /// Set for a quarantine pass over the partition.
    pub pass: Option<PassTask>,
}

impl PlannedTask {
    /// A task of `partition` that reads no Bronze file (a Gold or pass task),
    /// before its role is set.
    fn without_inputs(task_id: TaskId, partition: &Option<String>) -> Self {
        PlannedTask {
            task_id,
            partition: partition.clone(),
            inputs: Vec::new(),
            fingerprints: BTreeMap::new(),
            ranges: BTreeMap::new(),
            bytes: 0,
            notes: Vec::new(),
            gold: None,
            dedupe: None,
            pass: None,
        }
    }
}

/// What makes a planned task a Gold task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldPlan {
    pub model: String,
    /// Tasks of the same run that must succeed first: the partition's Silver
    /// tasks and the upstream models' tasks for the partition.
    pub depends_on: Vec<TaskId>,
}

/// The partition label a day's files belong to under the contract's transform.
pub fn label(contract: &Contract, day: NaiveDate) -> Option<String> {
    let p = contract.target.partition.as_ref()?;
    Some(match p.kind {
        TransformKind::Day | TransformKind::Identity => day.format("%Y-%m-%d").to_string(),
        TransformKind::Month => day.format("%Y-%m").to_string(),
        TransformKind::Year => day.format("%Y").to_string(),
    })
}

/// How much of a task message its input list may take, in bytes of JSON. A
/// message must fit the queue's 256 KiB (`floe_queue::MAX_BODY_BYTES`) with
/// the rest of the task, signed: a signature envelope escapes the task's JSON,
/// which at worst doubles it.
pub const MAX_INPUT_LIST_BYTES: usize = 96 * 1024;

/// What a file adds to its task's message: its location in the input list and
/// as the key of its fingerprint, and the fingerprint.
fn listed_bytes(f: &InputFile) -> usize {
    let path = serde_json::to_string(&f.path).map_or(0, |s| s.len());
    let fingerprint = serde_json::to_string(&f.fingerprint).map_or(0, |s| s.len());
    2 * path + fingerprint + 3
}

/// What one task reads of one file: all of it, or a byte range.
struct Piece<'a> {
    file: &'a InputFile,
    range: Option<ByteRange>,
    bytes: u64,
}

/// `file` as the pieces tasks read: byte ranges of about `target_task_bytes`
/// when it is larger and can be cut (uncompressed NDJSON, or CSV without line
/// breaks in values), else whole, with the reason it is not cut.
fn pieces<'a>(
    contract: &Contract,
    file: &'a InputFile,
    target_task_bytes: u64,
) -> (Vec<Piece<'a>>, Option<String>) {
    let size = file.fingerprint.bytes;
    let whole = |note: Option<String>| {
        let piece = Piece {
            file,
            range: None,
            bytes: size,
        };
        (vec![piece], note)
    };
    if size <= target_task_bytes {
        return whole(None);
    }
    if let Some(why) = range::unsplittable(contract, &file.path) {
        let mib = size as f64 / (1024.0 * 1024.0);
        return whole(Some(format!(
            "{} ({mib:.0} MiB) is read whole by one task: {why}",
            file.path
        )));
    }
    let count = size.div_ceil(target_task_bytes.max(1));
    let ranges = ByteRange::split(size, count);
    let pieces = ranges
        .into_iter()
        .map(|r| Piece {
            file,
            range: Some(r),
            bytes: r.len(),
        })
        .collect();
    (pieces, None)
}

/// Plans tasks: files grouped by partition, each group split greedily (in path
/// order) so no task exceeds `target_task_bytes` unless a single file does,
/// nor lists more than [`MAX_INPUT_LIST_BYTES`] of input locations (a day of
/// many small files is several tasks, not one message the queue refuses). A
/// file larger than the target is cut into byte ranges where it can be (see
/// [`pieces`]); a task's note says why one that cannot is read whole.
pub fn plan(contract: &Contract, files: &[InputFile], target_task_bytes: u64) -> Vec<PlannedTask> {
    let mut by_partition: BTreeMap<Option<String>, Vec<&InputFile>> = BTreeMap::new();
    for f in files {
        by_partition
            .entry(label(contract, f.day))
            .or_default()
            .push(f);
    }
    let mut tasks = Vec::new();
    for (partition, mut group) in by_partition {
        group.sort_by(|a, b| a.path.cmp(&b.path));
        let mut chunks: Vec<(Vec<Piece>, Vec<String>)> = vec![(Vec::new(), Vec::new())];
        let (mut size, mut listed) = (0u64, 0usize);
        for f in group {
            let (file_pieces, note) = pieces(contract, f, target_task_bytes);
            for piece in file_pieces {
                let (current, _) = chunks.last_mut().unwrap();
                // A task reads a file once: two ranges of one file are two tasks.
                let full = size + piece.bytes > target_task_bytes
                    || listed + listed_bytes(f) > MAX_INPUT_LIST_BYTES
                    || current.iter().any(|p| p.file.path == f.path);
                if !current.is_empty() && full {
                    chunks.push((Vec::new(), Vec::new()));
                    (size, listed) = (0, 0);
                }
                size += piece.bytes;
                listed += listed_bytes(f) + piece.range.map_or(0, |_| 2 * f.path.len() + 48);
                chunks.last_mut().unwrap().0.push(piece);
            }
            chunks.last_mut().unwrap().1.extend(note);
        }
        let name = partition.clone().unwrap_or_else(|| "all".into());
        let id = |i: usize| TaskId::new(format!("{}-{name}-{i:03}", contract.name));
        // A continuous pipeline's appends start from the keys of the
        // partition's last task: every task leaves them.
        let continuous = contract.source.continuous.is_some();
        let chained = !contract.dedupe_key.is_empty() && (chunks.len() > 1 || continuous);
        let last = chunks.len() - 1;
        for (i, (chunk, notes)) in chunks.into_iter().enumerate() {
            tasks.push(PlannedTask {
                task_id: id(i),
                dedupe: chained.then(|| DedupeLink {
                    after: (i > 0).then(|| id(i - 1)),
                    after_run: None,
                    hand_off: i < last || continuous,
                }),
                pass: None,
                partition: partition.clone(),
                bytes: chunk.iter().map(|p| p.bytes).sum(),
                fingerprints: chunk
                    .iter()
                    .map(|p| (p.file.path.clone(), p.file.fingerprint.clone()))
                    .collect(),
                ranges: chunk
                    .iter()
                    .filter_map(|p| Some((p.file.path.clone(), p.range?)))
                    .collect(),
                inputs: chunk.iter().map(|p| p.file.path.clone()).collect(),
                gold: None,
                notes,
            });
        }
    }
    tasks
}

/// A Gold model as the planner sees it: its name and the models it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDeps {
    pub name: String,
    pub upstream: Vec<String>,
}

impl ModelDeps {
    /// The planner's view of models checked at submit, in their order.
    pub fn of(models: Vec<floe_gold::CheckedModel>) -> Vec<ModelDeps> {
        models
            .into_iter()
            .map(|m| ModelDeps {
                name: m.spec.name,
                upstream: m.upstream,
            })
            .collect()
    }
}

/// Plans the Gold tasks of a run: one per model and partition the Silver tasks
/// touch. Each waits for every Silver task of its partition and for the tasks
/// of the models it reads in that partition. `models` must be in dependency
/// order; the tasks come out in it too, after no task they wait for.
pub fn plan_gold(pipeline: &str, models: &[ModelDeps], silver: &[PlannedTask]) -> Vec<PlannedTask> {
    let mut by_partition: BTreeMap<Option<String>, Vec<TaskId>> = BTreeMap::new();
    for t in silver {
        by_partition
            .entry(t.partition.clone())
            .or_default()
            .push(t.task_id.clone());
    }
    gold_tasks(pipeline, models, &by_partition)
}

/// Gold tasks per model and partition, each waiting for `waits_for[partition]`
/// and for its upstream models' tasks of the partition.
fn gold_tasks(
    pipeline: &str,
    models: &[ModelDeps],
    waits_for: &BTreeMap<Option<String>, Vec<TaskId>>,
) -> Vec<PlannedTask> {
    let id = |model: &str, partition: &Option<String>| {
        let name = partition.as_deref().unwrap_or("all");
        TaskId::new(format!("{pipeline}-gold-{model}-{name}"))
    };
    let mut tasks = Vec::new();
    for m in models {
        for (partition, before) in waits_for {
            let mut depends_on = before.clone();
            depends_on.extend(m.upstream.iter().map(|u| id(u, partition)));
            tasks.push(PlannedTask {
                gold: Some(GoldPlan {
                    model: m.name.clone(),
                    depends_on,
                }),
                ..PlannedTask::without_inputs(id(&m.name, partition), partition)
            });
        }
    }
    tasks
}

/// What a pass run does to its days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassKind {
    /// Quarantined rows against the contract, then the days' Gold partitions
    /// (rebuilt only where rows reached Silver).
    Reprocess,
    /// Condemned rows back to quarantine, with the approval.
    Release { approved_by: String, reason: String },
    /// Every model's partitions of the days.
    GoldRebuild,
}

impl PassKind {
    /// The run's kind, which also starts its id (`reprocess-…`).
    pub fn as_str(&self) -> &'static str {
        match self {
            PassKind::Reprocess => "reprocess",
            PassKind::Release { .. } => "release",
            PassKind::GoldRebuild => "rebuild",
        }
    }
}

/// Plans a pass run over `partitions`: one pass task per partition (a
/// reprocess also rebuilds the partition's Gold after it), or one Gold task
/// per model and partition. `models` in dependency order.
pub fn plan_pass(
    pipeline: &str,
    kind: &PassKind,
    partitions: &[Option<String>],
    models: &[ModelDeps],
) -> Vec<PlannedTask> {
    let pass_task = |name: &str, partition: &Option<String>, pass: PassTask| {
        let id = TaskId::new(format!(
            "{pipeline}-{name}-{}",
            partition.as_deref().unwrap_or("all")
        ));
        PlannedTask {
            pass: Some(pass),
            ..PlannedTask::without_inputs(id, partition)
        }
    };
    match kind {
        PassKind::Reprocess => {
            let passes: Vec<PlannedTask> = partitions
                .iter()
                .map(|p| pass_task("reprocess", p, PassTask::Reprocess))
                .collect();
            let gold = plan_gold(pipeline, models, &passes);
            passes.into_iter().chain(gold).collect()
        }
        PassKind::Release {
            approved_by,
            reason,
        } => partitions
            .iter()
            .map(|p| {
                let release = PassTask::Release {
                    approved_by: approved_by.clone(),
                    reason: reason.clone(),
                };
                pass_task("release", p, release)
            })
            .collect(),
        PassKind::GoldRebuild => {
            let none = partitions.iter().map(|p| (p.clone(), Vec::new())).collect();
            gold_tasks(pipeline, models, &none)
        }
    }
}

#[cfg(test)]
mod tests;
