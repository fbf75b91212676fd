//! The planner: a pure function from (contract, period, listed files) to tasks.
//! A task never spans two target partitions; a big partition is split into file
//! groups of at most the target task size; task ids are deterministic.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use floe_common::contract::{Contract, TransformKind};
use floe_common::storage::Fingerprint;
use floe_common::TaskId;
use serde::Serialize;

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
        for (i, chunk) in chunks.into_iter().enumerate() {
            tasks.push(PlannedTask {
                task_id: TaskId::new(format!("{}-{name}-{i:03}", contract.name)),
                partition: partition.clone(),
                bytes: chunk.iter().map(|f| f.fingerprint.bytes).sum(),
                fingerprints: chunk
                    .iter()
                    .map(|f| (f.path.clone(), f.fingerprint.clone()))
                    .collect(),
                inputs: chunk.into_iter().map(|f| f.path.clone()).collect(),
            });
        }
    }
    tasks
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
        fn planning_is_deterministic(files in files(), target in 1u64..20_000) {
            let c = contract();
            let mut shuffled = files.clone();
            shuffled.reverse();
            prop_assert_eq!(plan(&c, &files, target), plan(&c, &shuffled, target));
        }
    }
}
