use super::*;

fn in_memory() -> KeyMemory {
    KeyMemory::default()
}

/// A budget of `keys` keys, spilling under a fresh folder.
fn budget(keys: usize, dir: &std::path::Path) -> KeyMemory {
    KeyMemory {
        keys_in_memory: keys,
        spill_dir: dir.to_path_buf(),
    }
}

#[test]
fn remembers_the_first_row_of_each_key() {
    let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a.csv"), Arc::from("b.csv"));
    let mut seen = SeenKeys::default();
    let mut see =
        |key: &[u8], file: &Arc<str>, line| seen.first_or_insert(key, file, line).unwrap();
    assert_eq!(see(b"k1", &a, 2), None);
    assert_eq!(see(b"k2", &a, 3), None);
    assert_eq!(see(b"k1", &b, 9), Some((a.clone(), 2)));
    assert_eq!(see(b"k3", &b, 10), None);
    assert_eq!(see(b"k3", &a, 11), Some((b.clone(), 10)));
    assert_eq!(see(b"k", &a, 12), None, "a prefix is another key");
}

/// Feeds 20,000 rows over 6,000 keys and checks every answer against a map.
fn agrees_with_a_map(mut seen: SeenKeys) -> SeenKeys {
    let files: Vec<Arc<str>> = (0..3).map(|i| Arc::from(format!("f{i}.csv"))).collect();
    let mut reference = std::collections::HashMap::new();
    let mut state = 7u64;
    for line in 0..20_000u64 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = format!("tx_{}", (state >> 33) % 6_000);
        let file = &files[(line / 7_000) as usize];
        let got = seen.first_or_insert(key.as_bytes(), file, line).unwrap();
        let want = reference.get(&key).cloned();
        assert_eq!(got, want, "key {key} at line {line}");
        reference.entry(key).or_insert((file.clone(), line));
    }
    assert_eq!(seen.len(), reference.len());
    assert!(seen
        .sorted
        .windows(2)
        .all(|w| w[0].fingerprint() < w[1].fingerprint()));
    seen
}

/// Across many merges of a small buffer, every key keeps its first row.
#[test]
fn agrees_with_a_map_across_merges() {
    let seen = agrees_with_a_map(SeenKeys::with_buffer(97, in_memory()));
    assert_eq!(seen.spilled(), (0, 0));
}

/// The same with the sorted array spilled to disk again and again, including
/// a Bloom filter that outgrows its capacity and one capped far below the keys
/// (more false positives, the same answers).
#[test]
fn agrees_with_a_map_across_spills() {
    let dir = tempfile::tempdir().unwrap();
    for (buffer, keys) in [(97, 500), (17, 50)] {
        let seen = agrees_with_a_map(SeenKeys::with_buffer(buffer, budget(keys, dir.path())));
        let (spilled, runs) = seen.spilled();
        assert!(runs >= 5 && spilled > 5_000, "{runs} runs, {spilled} keys");
        assert!(seen.sorted.len() < keys);
    }
}

/// Spilled runs are unlinked once open: the folder holds no files while the
/// keys are held, and is gone once they are dropped.
#[test]
fn spilled_runs_leave_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let seen = agrees_with_a_map(SeenKeys::with_buffer(97, budget(500, dir.path())));
    let folders: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(folders.len(), 1, "one folder for the key set");
    let folder = folders[0].as_ref().unwrap().path();
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
    drop(seen);
    assert!(!folder.exists());
}

#[test]
fn a_disk_that_refuses_the_keys_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("file");
    std::fs::write(&not_a_folder, b"x").unwrap();
    let mut seen = SeenKeys::with_buffer(4, budget(8, &not_a_folder.join("spill")));
    let file: Arc<str> = Arc::from("f.csv");
    let e = (0..100u64)
        .find_map(|i| seen.first_or_insert(&i.to_le_bytes(), &file, i).err())
        .expect("the spill fails");
    let message = e.to_string();
    assert!(message.contains("cannot spill dedupe keys"), "{message}");
    assert!(message.contains("FLOE_SPILL_DIR"), "{message}");
    assert!(e.is_retryable());
}

/// 40 keys over two files, through a key set with `memory`.
fn forty_keys(memory: KeyMemory) -> (SeenKeys, Vec<Arc<str>>) {
    let files: Vec<Arc<str>> = vec![Arc::from("s3://b/a.csv"), Arc::from("s3://b/b.csv")];
    let mut keys = SeenKeys::with_buffer(5, memory);
    for i in 0..40u64 {
        let file = &files[(i / 20) as usize];
        keys.first_or_insert(format!("k{i}").as_bytes(), file, i + 2)
            .unwrap();
    }
    (keys, files)
}

fn written(keys: &mut SeenKeys) -> Vec<u8> {
    let mut bytes = Vec::new();
    keys.write_to(&mut bytes).unwrap();
    bytes
}

/// Written from memory or from spilled runs, the key file is the same bytes;
/// read back into memory or onto disk, it answers the same.
#[test]
fn a_key_set_written_and_read_back_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(&mut forty_keys(in_memory()).0);
    let (mut spilled, files) = forty_keys(budget(7, dir.path()));
    let (a, b) = (files[0].clone(), files[1].clone());
    assert!(spilled.spilled().1 >= 3);
    assert_eq!(written(&mut spilled), bytes);
    let len = bytes.len() as u64;
    assert_eq!(
        SeenKeys::trailer_says(&bytes[bytes.len() - KEYS_TRAILER..]),
        Some(len)
    );
    for memory in [in_memory(), budget(7, dir.path())] {
        let spills = memory.keys_in_memory < 40;
        let mut next = SeenKeys::read_from(bytes.as_slice(), len, memory, "k.keys").unwrap();
        assert_eq!(next.spilled().0 == 40, spills);
        let c: Arc<str> = Arc::from("s3://b/c.csv");
        let mut see =
            |key: &[u8], file: &Arc<str>, line| next.first_or_insert(key, file, line).unwrap();
        assert_eq!(see(b"k3", &c, 1), Some((a.clone(), 5)));
        assert_eq!(see(b"k25", &c, 2), Some((b.clone(), 27)));
        assert_eq!(see(b"k40", &c, 3), None);
        assert_eq!(see(b"k40", &a, 4), Some((c.clone(), 3)));
        assert_eq!(next.len(), 41);
    }
}

#[test]
fn a_broken_key_file_is_refused_in_memory_and_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(&mut forty_keys(in_memory()).0);
    // The entries start after the magic, two names and the count.
    let entries = bytes.len() - KEYS_TRAILER - 40 * Entry::BYTES;
    let mut swapped = bytes.clone();
    let (first, second) = (entries, entries + Entry::BYTES);
    let moved: Vec<u8> = swapped[first..second].to_vec();
    swapped.copy_within(second..second + Entry::BYTES, first);
    swapped[second..second + Entry::BYTES].copy_from_slice(&moved);
    let cut = &bytes[..bytes.len() - 3];
    for memory in [in_memory(), budget(7, dir.path())] {
        let read = |b: &[u8]| SeenKeys::read_from(b, b.len() as u64, memory.clone(), "k.keys");
        let e = read(b"NOTKEYS!").err().unwrap().to_string();
        assert!(
            e.contains("not a Floe dedupe key file") && e.contains("k.keys"),
            "{e}"
        );
        let e = read(&swapped).err().unwrap().to_string();
        assert!(e.contains("out of order"), "{e}");
        assert!(read(cut).is_err(), "a cut file");
    }
    assert_eq!(
        SeenKeys::trailer_says(&cut[cut.len() - KEYS_TRAILER..]),
        None
    );
}

/// Keys cost 24 bytes each plus a small index, on top of the buffer's
/// constant size: nothing grows by doubling.
#[test]
fn memory_is_about_24_bytes_a_key_plus_a_constant() {
    let mut seen = SeenKeys::default();
    let file: Arc<str> = Arc::from("f.csv");
    let n = 1_500_000u64;
    for i in 0..n {
        seen.first_or_insert(format!("tx_{i:016x}").as_bytes(), &file, i)
            .unwrap();
    }
    assert!(
        seen.buffer.slots() <= 2 * BUFFER_KEYS,
        "the buffer stays bounded: {} slots",
        seen.buffer.slots()
    );
    seen.merge_buffer().unwrap();
    assert_eq!(seen.sorted.len() as u64, n);
    let grows = seen.sorted.capacity() * std::mem::size_of::<Entry>() + seen.index.capacity() * 4;
    let per_key = grows as f64 / n as f64;
    assert!(per_key < 26.0, "{per_key:.1} bytes a key");
}

/// Past the budget, memory holds the array (at most the budget), the buffer
/// (at most the budget) and a filter of 1.5 bytes a spilled key (capped at the
/// budget): here under a fifth of what 1.5M keys take in memory.
#[test]
fn past_the_budget_memory_stays_near_it() {
    let dir = tempfile::tempdir().unwrap();
    let budget_keys = 100_000;
    let mut seen = SeenKeys::new(budget(budget_keys, dir.path()));
    let file: Arc<str> = Arc::from("f.csv");
    let n = 1_500_000u64;
    for i in 0..n {
        seen.first_or_insert(format!("tx_{i:016x}").as_bytes(), &file, i)
            .unwrap();
    }
    assert_eq!(seen.len() as u64, n);
    let spilled = seen.spilled.as_ref().unwrap();
    let held = seen.sorted.capacity() * Entry::BYTES
        + seen.index.capacity() * 4
        + seen.buffer.slots() * Entry::BYTES
        + spilled.bytes();
    let budget_bytes = budget_keys * Entry::BYTES;
    assert!(
        held < 3 * budget_bytes + budget_bytes / 4,
        "{held} bytes held"
    );
    assert!(held < n as usize * Entry::BYTES / 5, "{held} bytes held");
    // Every key is still found, on disk or in memory, at its first line.
    for i in (0..n).step_by(9_973) {
        let again = seen.first_or_insert(format!("tx_{i:016x}").as_bytes(), &file, n + i);
        assert_eq!(again.unwrap(), Some((file.clone(), i)));
    }
}
