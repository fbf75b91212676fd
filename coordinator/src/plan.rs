//! The planner: a pure function from (contract, period, listed files) to tasks.
//! A task never spans two target partitions; a big partition is split into file
//! groups of at most the target task size; task ids are deterministic. Under a
//! dedupe key, the tasks of a split partition are chained: each starts from
//! the keys of the ones before it (see `floe_common::task::handoff`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use floe_common::contract::{Contract, TransformKind};
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
    pub bytes: u64,
    /// Set for a Gold task.
    pub gold: Option<GoldPlan>,
    /// Set for a task of a partition split across several tasks under a dedupe
    /// key: it waits for the task before it and starts from its keys.
    pub dedupe: Option<DedupeLink>,
    /// Set for a quarantine pass over the partition.
    pub pass: Option<PassTask>,
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

/// Plans tasks: files grouped by partition, each group split greedily (in path
/// order) so no task exceeds `target_task_bytes` unless a single file does.
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
        let mut chunks: Vec<Vec<&InputFile>> = vec![Vec::new()];
        let mut size = 0u64;
        for f in group {
            let current = chunks.last_mut().unwrap();
            if !current.is_empty() && size + f.fingerprint.bytes > target_task_bytes {
                chunks.push(Vec::new());
                size = 0;
            }
            size += f.fingerprint.bytes;
            chunks.last_mut().unwrap().push(f);
        }
        let name = partition.clone().unwrap_or_else(|| "all".into());
        let id = |i: usize| TaskId::new(format!("{}-{name}-{i:03}", contract.name));
        // A continuous pipeline's appends start from the keys of the
        // partition's last task: every task leaves them.
        let continuous = contract.source.continuous.is_some();
        let chained = !contract.dedupe_key.is_empty() && (chunks.len() > 1 || continuous);
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            tasks.push(PlannedTask {
                task_id: id(i),
                dedupe: chained.then(|| DedupeLink {
                    after: (i > 0).then(|| id(i - 1)),
                    after_run: None,
                    hand_off: i < last || continuous,
                }),
                pass: None,
                partition: partition.clone(),
                bytes: chunk.iter().map(|f| f.fingerprint.bytes).sum(),
                fingerprints: chunk
                    .iter()
                    .map(|f| (f.path.clone(), f.fingerprint.clone()))
                    .collect(),
                inputs: chunk.into_iter().map(|f| f.path.clone()).collect(),
                gold: None,
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
                task_id: id(&m.name, partition),
                partition: partition.clone(),
                inputs: Vec::new(),
                fingerprints: BTreeMap::new(),
                bytes: 0,
                gold: Some(GoldPlan {
                    model: m.name.clone(),
                    depends_on,
                }),
                dedupe: None,
                pass: None,
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
    let pass_task = |name: &str, partition: &Option<String>, pass: PassTask| PlannedTask {
        task_id: TaskId::new(format!(
            "{pipeline}-{name}-{}",
            partition.as_deref().unwrap_or("all")
        )),
        partition: partition.clone(),
        inputs: Vec::new(),
        fingerprints: BTreeMap::new(),
        bytes: 0,
        gold: None,
        dedupe: None,
        pass: Some(pass),
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contract() -> Contract {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/transactions.toml");
        Contract::load(std::path::Path::new(path)).unwrap()
    }

    fn files() -> impl Strategy<Value = Vec<InputFile>> {
        prop::collection::vec((1u32..=28, 0u32..6, 1u64..5_000), 0..60).prop_map(|v| {
            let mut seen = std::collections::BTreeSet::new();
            v.into_iter()
                .filter(|(d, i, _)| seen.insert((*d, *i)))
                .map(|(d, i, bytes)| InputFile {
                    path: format!("b/date=2025-02-{d:02}/part-{i}.csv"),
                    fingerprint: Fingerprint {
                        bytes,
                        modified_ms: Some(i64::from(d)),
                        etag: None,
                    },
                    day: NaiveDate::from_ymd_opt(2025, 2, d).unwrap(),
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn tasks_cover_every_file_once_and_never_span_partitions(files in files(), target in 1u64..20_000) {
            let c = contract();
            let tasks = plan(&c, &files, target);
            let mut covered: Vec<_> = tasks.iter().flat_map(|t| t.inputs.clone()).collect();
            covered.sort();
            let mut all: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
            all.sort();
            prop_assert_eq!(covered, all);
            for t in &tasks {
                let keys: Vec<_> = t.fingerprints.keys().cloned().collect();
                let mut inputs = t.inputs.clone();
                inputs.sort();
                prop_assert_eq!(keys, inputs, "every input has its fingerprint");
                for (path, fp) in &t.fingerprints {
                    prop_assert_eq!(fp, &files.iter().find(|f| &f.path == path).unwrap().fingerprint);
                }
            }
            for t in &tasks {
                let days: std::collections::BTreeSet<_> = t.inputs.iter()
                    .map(|p| files.iter().find(|f| &f.path == p).unwrap().day)
                    .collect();
                prop_assert_eq!(days.len(), 1, "task {} spans partitions", t.task_id);
                let expected = days.iter().next().unwrap().format("%Y-%m-%d").to_string();
                prop_assert_eq!(t.partition.as_deref(), Some(expected.as_str()));
                prop_assert!(t.bytes <= target || t.inputs.len() == 1);
            }
        }

        #[test]
        fn split_partitions_are_chained_in_file_order(files in files(), target in 1u64..20_000) {
            let c = contract();
            prop_assert!(!c.dedupe_key.is_empty());
            let tasks = plan(&c, &files, target);
            let mut by_partition: BTreeMap<_, Vec<&PlannedTask>> = BTreeMap::new();
            for t in &tasks {
                by_partition.entry(t.partition.clone()).or_default().push(t);
            }
            for group in by_partition.values() {
                if group.len() == 1 {
                    prop_assert!(group[0].dedupe.is_none(), "an unsplit partition is not chained");
                    continue;
                }
                for (i, t) in group.iter().enumerate() {
                    let link = t.dedupe.as_ref().expect("a split partition is chained");
                    let before = (i > 0).then(|| group[i - 1].task_id.clone());
                    prop_assert_eq!(&link.after, &before);
                    prop_assert_eq!(link.hand_off, i + 1 < group.len());
                    if i > 0 {
                        // Every file of a task comes after every file of the one before.
                        let prev_last = group[i - 1].inputs.iter().max().unwrap();
                        prop_assert!(t.inputs.iter().all(|p| p > prev_last));
                    }
                }
            }
            let mut no_key = c.clone();
            no_key.dedupe_key.clear();
            prop_assert!(plan(&no_key, &files, target).iter().all(|t| t.dedupe.is_none()));
        }

        #[test]
        fn planning_is_deterministic(files in files(), target in 1u64..20_000) {
            let c = contract();
            let mut shuffled = files.clone();
            shuffled.reverse();
            prop_assert_eq!(plan(&c, &files, target), plan(&c, &shuffled, target));
        }
    }

    fn models() -> impl Strategy<Value = Vec<ModelDeps>> {
        // Model i may read any model before it: dependency order by construction.
        prop::collection::vec(
            prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            0..5,
        )
        .prop_map(|reads| {
            reads
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut upstream: Vec<String> = if i == 0 {
                        vec![]
                    } else {
                        r.iter().map(|ix| format!("m{}", ix.index(i))).collect()
                    };
                    upstream.sort();
                    upstream.dedup();
                    ModelDeps {
                        name: format!("m{i}"),
                        upstream,
                    }
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn gold_tasks_wait_for_their_partition_and_upstream_models(
            files in files(),
            target in 1u64..20_000,
            models in models(),
        ) {
            let c = contract();
            let silver = plan(&c, &files, target);
            let gold = plan_gold(&c.name, &models, &silver);
            let partitions: std::collections::BTreeSet<_> =
                silver.iter().map(|t| t.partition.clone()).collect();
            prop_assert_eq!(gold.len(), partitions.len() * models.len());
            let mut seen: std::collections::BTreeSet<TaskId> =
                silver.iter().map(|t| t.task_id.clone()).collect();
            for t in &gold {
                let g = t.gold.as_ref().unwrap();
                prop_assert!(seen.insert(t.task_id.clone()), "ids are unique");
                for d in &g.depends_on {
                    prop_assert!(seen.contains(d), "{} waits for {}, planned later", t.task_id, d);
                }
                let own_silver: Vec<_> = silver
                    .iter()
                    .filter(|s| s.partition == t.partition)
                    .map(|s| s.task_id.clone())
                    .collect();
                for s in &own_silver {
                    prop_assert!(g.depends_on.contains(s));
                }
                let m = models.iter().find(|m| m.name == g.model).unwrap();
                prop_assert_eq!(g.depends_on.len(), own_silver.len() + m.upstream.len());
                prop_assert!(t.inputs.is_empty() && t.bytes == 0);
            }
        }

        #[test]
        fn a_pass_covers_each_partition_once(days in prop::collection::btree_set(1u32..=28, 1..10), models in models()) {
            let partitions: Vec<Option<String>> =
                days.iter().map(|d| Some(format!("2025-02-{d:02}"))).collect();
            let reprocess = plan_pass("tx", &PassKind::Reprocess, &partitions, &models);
            let passes: Vec<_> = reprocess.iter().filter(|t| t.pass.is_some()).collect();
            prop_assert_eq!(passes.len(), partitions.len());
            for t in reprocess.iter().filter(|t| t.gold.is_some()) {
                let pass = passes.iter().find(|p| p.partition == t.partition).unwrap();
                prop_assert!(t.gold.as_ref().unwrap().depends_on.contains(&pass.task_id),
                    "{} rebuilds Gold after its partition's pass", t.task_id);
            }
            prop_assert_eq!(reprocess.len(), partitions.len() * (1 + models.len()));
            let rebuild = plan_pass("tx", &PassKind::GoldRebuild, &partitions, &models);
            prop_assert_eq!(rebuild.len(), partitions.len() * models.len());
            for t in &rebuild {
                let g = t.gold.as_ref().unwrap();
                let m = models.iter().find(|m| m.name == g.model).unwrap();
                prop_assert_eq!(g.depends_on.len(), m.upstream.len(), "only upstream models");
            }
            let release = PassKind::Release { approved_by: "a".into(), reason: "r".into() };
            let released = plan_pass("tx", &release, &partitions, &models);
            prop_assert_eq!(released.len(), partitions.len());
            prop_assert!(released.iter().all(|t| t.gold.is_none() && t.pass.is_some()));
        }
    }
}
