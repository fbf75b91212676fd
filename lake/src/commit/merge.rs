//! Manifest merging on commit, so that a table's manifest count follows its
//! size, not its history.
//!
//! Each commit adds one small manifest. Left alone, a table with years of
//! daily loads has thousands of them: every commit rewrites a longer manifest
//! list and every engine opens every manifest to plan a scan. Like Iceberg's
//! `MergingSnapshotProducer`, a commit merges small manifests once enough of
//! them pile up, with the same table properties:
//!
//! - `commit.manifest-merge.enabled` (default `true`);
//! - `commit.manifest.min-count-to-merge` (default 100): how many small
//!   manifests of one partition spec trigger a merge;
//! - `commit.manifest.target-size-bytes` (default 64 KiB, Iceberg's is 8 MiB):
//!   a merged manifest's size.
//!
//! Unlike Iceberg, the manifests are packed in partition order, not by age: a
//! merged manifest covers a contiguous range of partitions, so a load that
//! replaces one partition still reads only the manifests whose partition
//! summaries may hold it (see [`super::prune`]). It rewrites the one it finds
//! the partition in, whole: hence the small default target. At about 600 bytes
//! per entry (a dozen columns' statistics) a 64 KiB manifest holds some 100
//! files, rewritten in about 10 ms; `floe-bench-commits history` measures it.
//!
//! A manifest is small below half the target size. Every merged manifest but
//! the last of a merge is larger than that (the next candidate did not fit),
//! so a merge leaves at most one small manifest behind and the next merge comes
//! `min-count-to-merge` commits later: the cost is amortised over them.
//! Live entries are kept as EXISTING with the snapshot and sequence numbers
//! they were added with; entries deleted by older snapshots are dropped, as
//! those snapshots' own manifests still record them for time travel.

use std::cmp::Ordering;
use std::collections::HashMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use iceberg::spec::{Datum, ManifestContentType, ManifestFile, PrimitiveLiteral};
use iceberg::table::Table;

use crate::error::{LakeError, Result};

pub const MERGE_ENABLED: &str = "commit.manifest-merge.enabled";
pub const MIN_COUNT_TO_MERGE: &str = "commit.manifest.min-count-to-merge";
pub const TARGET_SIZE_BYTES: &str = "commit.manifest.target-size-bytes";

/// Manifests read at once while merging.
const READ_CONCURRENCY: usize = 8;

/// When and how far a commit merges manifests, from the table's properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergePolicy {
    pub enabled: bool,
    pub min_count: usize,
    pub target_size_bytes: i64,
}

impl Default for MergePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            min_count: 100,
            target_size_bytes: 64 * 1024,
        }
    }
}

impl MergePolicy {
    /// The table's settings; a value that does not parse keeps the default.
    pub fn from_properties(properties: &HashMap<String, String>) -> Self {
        let default = Self::default();
        let get = |key: &str| properties.get(key).map(|v| v.trim());
        Self {
            enabled: get(MERGE_ENABLED)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default.enabled),
            min_count: get(MIN_COUNT_TO_MERGE)
                .and_then(|v| v.parse().ok())
                .filter(|&n: &usize| n >= 2)
                .unwrap_or(default.min_count),
            target_size_bytes: get(TARGET_SIZE_BYTES)
                .and_then(|v| v.parse().ok())
                .filter(|&n: &i64| n > 0)
                .unwrap_or(default.target_size_bytes),
        }
    }

    fn is_small(&self, mf: &ManifestFile) -> bool {
        mf.manifest_length < self.target_size_bytes / 2
    }
}

/// How a snapshot's manifest list came about, for its summary (Iceberg's names).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ManifestCounts {
    /// Written by the snapshot: its additions, rewrites and merges.
    pub created: usize,
    /// Carried over from the parent unchanged.
    pub kept: usize,
    /// The parent's manifests that rewrites and merges replaced.
    pub replaced: usize,
}

impl ManifestCounts {
    pub fn summary(&self) -> [(String, String); 3] {
        [
            ("manifests-created".into(), self.created.to_string()),
            ("manifests-kept".into(), self.kept.to_string()),
            ("manifests-replaced".into(), self.replaced.to_string()),
        ]
    }
}

/// Merges `manifests` (the new snapshot's list) where `policy` says so, writing
/// merged manifests at `path(n)`. Manifests this snapshot wrote (its own
/// additions and rewrites) are never merged: they carry its ADDED and DELETED
/// entries. Returns the list to write and how many manifests merges replaced.
pub(crate) async fn merge(
    table: &Table,
    policy: MergePolicy,
    manifests: Vec<ManifestFile>,
    snapshot_id: i64,
    path: impl Fn(usize) -> String,
) -> Result<(Vec<ManifestFile>, usize)> {
    let mut replaced = 0;
    if !policy.enabled {
        return Ok((manifests, replaced));
    }
    let mut groups: HashMap<i32, Vec<ManifestFile>> = HashMap::new();
    let mut out = Vec::with_capacity(manifests.len());
    for mf in manifests {
        let candidate = mf.content == ManifestContentType::Data
            && mf.added_snapshot_id != snapshot_id
            && policy.is_small(&mf);
        if candidate {
            groups.entry(mf.partition_spec_id).or_default().push(mf);
        } else {
            out.push(mf);
        }
    }
    let mut specs: Vec<i32> = groups.keys().copied().collect();
    specs.sort_unstable();
    for spec_id in specs {
        let mut group = groups.remove(&spec_id).unwrap_or_default();
        if group.len() < policy.min_count {
            out.extend(group);
            continue;
        }
        sort_by_partition(table, spec_id, &mut group);
        for bin in pack(group, policy.target_size_bytes) {
            if bin.len() == 1 {
                out.extend(bin);
                continue;
            }
            let merged = write_merged(table, spec_id, &bin, snapshot_id, path(replaced)).await?;
            replaced += bin.len();
            out.push(merged);
        }
    }
    Ok((out, replaced))
}

/// Consecutive runs of manifests whose sizes add up to at most `target`
/// (a manifest larger than `target` alone).
fn pack(manifests: Vec<ManifestFile>, target: i64) -> Vec<Vec<ManifestFile>> {
    let mut bins: Vec<Vec<ManifestFile>> = Vec::new();
    let mut size = 0i64;
    for mf in manifests {
        match bins.last_mut() {
            Some(bin) if size + mf.manifest_length <= target => {
                size += mf.manifest_length;
                bin.push(mf);
            }
            _ => {
                size = mf.manifest_length;
                bins.push(vec![mf]);
            }
        }
    }
    bins
}

/// Orders manifests by the lower bounds of their partition summaries, so that
/// a bin covers neighbouring partitions. Manifests without usable bounds go last.
fn sort_by_partition(table: &Table, spec_id: i32, manifests: &mut [ManifestFile]) {
    let types = super::prune::partition_types(table.metadata(), spec_id);
    let lower_bounds = |mf: &ManifestFile| -> Vec<Option<PrimitiveLiteral>> {
        let summaries = mf.partitions.as_deref().unwrap_or_default();
        types
            .iter()
            .zip(summaries)
            .map(|(ty, summary)| {
                let bytes = summary.lower_bound.as_ref()?;
                let datum = Datum::try_from_bytes(bytes, ty.clone()?).ok()?;
                Some(datum.literal().clone())
            })
            .collect()
    };
    let mut keyed: Vec<(Vec<Option<PrimitiveLiteral>>, ManifestFile)> = manifests
        .iter()
        .map(|mf| (lower_bounds(mf), mf.clone()))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| compare_bounds(a, b));
    for (slot, (_, mf)) in manifests.iter_mut().zip(keyed) {
        *slot = mf;
    }
}

fn compare_bounds(a: &[Option<PrimitiveLiteral>], b: &[Option<PrimitiveLiteral>]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// One manifest with the live entries of `bin`, as EXISTING.
async fn write_merged(
    table: &Table,
    spec_id: i32,
    bin: &[ManifestFile],
    snapshot_id: i64,
    path: String,
) -> Result<ManifestFile> {
    // Owned futures: a stream of futures borrowing `bin` would not be `Send`
    // for every lifetime, as spawned commits need.
    let file_io = table.file_io().clone();
    let loaded: Vec<_> = stream::iter(bin.to_vec())
        .map(move |mf| {
            let file_io = file_io.clone();
            async move {
                let manifest = mf
                    .load_manifest(&file_io)
                    .await
                    .map_err(LakeError::iceberg("reading a manifest to merge"))?;
                Ok::<_, LakeError>((mf, manifest))
            }
        })
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut writer = super::stage::data_manifest_writer(table, spec_id, snapshot_id, path)?;
    for (mf, manifest) in loaded {
        let (entries, _) = manifest.into_parts();
        for entry in entries.iter().filter(|e| e.is_alive()) {
            super::stage::keep_existing(&mut writer, entry, &mf)?;
        }
    }
    writer
        .write_manifest_file()
        .await
        .map_err(LakeError::iceberg("writing a merged manifest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(path: &str, length: i64) -> ManifestFile {
        ManifestFile {
            manifest_path: path.into(),
            manifest_length: length,
            partition_spec_id: 0,
            content: ManifestContentType::Data,
            sequence_number: 1,
            min_sequence_number: 1,
            added_snapshot_id: 1,
            added_files_count: Some(1),
            existing_files_count: Some(0),
            deleted_files_count: Some(0),
            added_rows_count: Some(1),
            existing_rows_count: Some(0),
            deleted_rows_count: Some(0),
            partitions: None,
            key_metadata: None,
            first_row_id: None,
        }
    }

    fn paths(bins: &[Vec<ManifestFile>]) -> Vec<Vec<&str>> {
        bins.iter()
            .map(|b| b.iter().map(|m| m.manifest_path.as_str()).collect())
            .collect()
    }

    #[test]
    fn packing_keeps_order_and_stays_under_the_target() {
        let sizes = [
            ("a", 40),
            ("b", 50),
            ("c", 20),
            ("d", 200),
            ("e", 10),
            ("f", 10),
        ];
        let manifests = sizes.iter().map(|(p, s)| manifest(p, *s)).collect();
        let bins = pack(manifests, 100);
        assert_eq!(
            paths(&bins),
            vec![vec!["a", "b"], vec!["c"], vec!["d"], vec!["e", "f"]]
        );
    }

    #[test]
    fn properties_set_the_policy_and_bad_values_keep_defaults() {
        let props = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        assert_eq!(
            MergePolicy::from_properties(&props(&[])),
            MergePolicy::default()
        );
        let set = MergePolicy::from_properties(&props(&[
            (MERGE_ENABLED, "false"),
            (MIN_COUNT_TO_MERGE, "4"),
            (TARGET_SIZE_BYTES, "65536"),
        ]));
        assert_eq!(
            set,
            MergePolicy {
                enabled: false,
                min_count: 4,
                target_size_bytes: 65536
            }
        );
        let bad = MergePolicy::from_properties(&props(&[
            (MERGE_ENABLED, "yes"),
            (MIN_COUNT_TO_MERGE, "1"),
            (TARGET_SIZE_BYTES, "-5"),
        ]));
        assert_eq!(bad, MergePolicy::default());
    }

    #[test]
    fn bounds_order_partitions_and_put_unknown_last() {
        let day = |d: i32| Some(PrimitiveLiteral::Int(d));
        let mut keys = [vec![day(5)], vec![None], vec![day(1)], vec![day(3)]];
        keys.sort_by(|a, b| compare_bounds(a, b));
        assert_eq!(keys, [vec![day(1)], vec![day(3)], vec![day(5)], vec![None]]);
    }
}
