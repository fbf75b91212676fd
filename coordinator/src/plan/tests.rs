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

/// A day of many files with long names: no task's message, signed, is over
/// the queue's limit, and the day is still every file once, chained.
fn many_long_names() -> impl Strategy<Value = Vec<InputFile>> {
    (500usize..3_000, 40usize..400).prop_map(|(n, name_len)| {
        (0..n)
            .map(|i| InputFile {
                path: format!("s3://bronze/t/date=2025-02-03/{:0>name_len$}.csv", i),
                fingerprint: Fingerprint {
                    bytes: 10,
                    modified_ms: None,
                    etag: Some(format!("\"{:032x}\"", i)),
                },
                day: NaiveDate::from_ymd_opt(2025, 2, 3).unwrap(),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn task_messages_stay_under_the_queue_limit_however_many_files_a_day_has(files in many_long_names()) {
        use floe_common::task::{SigningKeys, TaskCodec, TaskMessage};
        let c = contract();
        let tasks = plan(&c, &files, u64::MAX);
        let codec = TaskCodec::Signed(SigningKeys::parse("k1-0123456789abcdef0123456789abcdef").unwrap());
        for t in &tasks {
            let message = TaskMessage {
                run_id: floe_lake::RunId::generate(),
                task_id: t.task_id.clone(),
                contract: Some(floe_common::contract::ContractRef::of(&c.text)),
                contract_text: String::new(),
                contract_origin: "pipeline transactions v1 (examples/transactions.toml)".into(),
                inputs: t.inputs.clone(),
                fingerprints: t.fingerprints.clone(),
                ranges: t.ranges.clone(),
                partition: t.partition.clone(),
                trace_context: [("traceparent".to_string(), "00-".repeat(20))].into(),
                gold: None,
                dedupe: t.dedupe.clone(),
                pass: None,
                append: false,
                staged: false,
            };
            let body = codec.encode(&message);
            prop_assert!(body.len() < floe_queue::MAX_BODY_BYTES, "{} bytes", body.len());
        }
        let covered: usize = tasks.iter().map(|t| t.inputs.len()).sum();
        prop_assert_eq!(covered, files.len());
        prop_assert!(tasks.len() > 1 || files.len() * 2 * 420 < MAX_INPUT_LIST_BYTES);
    }
}

fn ndjson_contract() -> Contract {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/transactions.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace("format = \"csv\"", "format = \"ndjson\"");
    Contract::parse(&text, std::path::Path::new(path)).unwrap()
}

proptest! {
    /// Files larger than the target are cut into ranges that cover each one
    /// exactly, in order, each range in its own task of the file's partition.
    #[test]
    fn large_files_are_cut_into_ranges_that_cover_them_once(files in files(), target in 1u64..20_000) {
        let c = ndjson_contract();
        let tasks = plan(&c, &files, target);
        for f in &files {
            let mut reads: Vec<Option<ByteRange>> = tasks
                .iter()
                .filter(|t| t.inputs.contains(&f.path))
                .map(|t| t.ranges.get(&f.path).copied())
                .collect();
            if f.fingerprint.bytes <= target {
                prop_assert_eq!(reads, vec![None], "{} is read whole", &f.path);
                continue;
            }
            prop_assert!(reads.iter().all(Option::is_some), "{} is only read in ranges", &f.path);
            reads.sort();
            let ranges: Vec<ByteRange> = reads.into_iter().flatten().collect();
            prop_assert_eq!(ranges[0].start, 0);
            prop_assert_eq!(ranges.last().unwrap().end, f.fingerprint.bytes);
            for pair in ranges.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            prop_assert!(ranges.iter().all(|r| !r.is_empty() && r.len() <= target));
        }
        for t in &tasks {
            let unique: std::collections::BTreeSet<_> = t.inputs.iter().collect();
            prop_assert_eq!(unique.len(), t.inputs.len(), "a task reads a file once");
            prop_assert!(t.bytes <= target || t.inputs.len() == 1);
            prop_assert!(t.notes.is_empty());
        }
    }
}

#[test]
fn a_large_file_that_cannot_be_cut_is_read_whole_and_the_plan_says_why() {
    let file = |path: &str| InputFile {
        path: path.into(),
        fingerprint: Fingerprint {
            bytes: 10_000,
            modified_ms: Some(1),
            etag: None,
        },
        day: NaiveDate::from_ymd_opt(2025, 2, 1).unwrap(),
    };
    let csv = plan(&contract(), &[file("b/big.csv")], 1_000);
    assert_eq!(csv.len(), 1);
    assert!(csv[0].ranges.is_empty());
    assert!(
        csv[0].notes[0].contains("b/big.csv")
            && csv[0].notes[0].contains("newlines_in_values = false"),
        "{:?}",
        csv[0].notes
    );
    let gz = plan(&ndjson_contract(), &[file("b/big.ndjson.gz")], 1_000);
    assert_eq!(gz.len(), 1);
    assert!(gz[0].notes[0].contains("compressed"), "{:?}", gz[0].notes);
    let cut = plan(&ndjson_contract(), &[file("b/big.ndjson")], 1_000);
    assert_eq!(cut.len(), 10);
    assert!(
        cut.iter().all(|t| t.dedupe.is_some()),
        "chained under the dedupe key"
    );
}
