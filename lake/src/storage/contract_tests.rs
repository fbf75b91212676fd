//! The storage contract suite: every [`BronzeStore`] must pass it. Each check
//! takes a store and a writable root (a folder or `s3://bucket/prefix`) plus a
//! function that puts a file at a location.

use std::io::Read;

use super::{join, BronzeStore};

/// Puts `bytes` at `location`.
pub type Put<'a> = &'a (dyn Fn(&str, &[u8]) + Sync);

/// `open` runs on a blocking thread, as the contract requires.
async fn read_blocking<S: BronzeStore + Clone + 'static>(store: &S, location: &str) -> Vec<u8> {
    let (store, location) = (store.clone(), location.to_string());
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        store
            .open(&location)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    })
    .await
    .unwrap()
}

pub async fn list_matches_the_glob_sorted_with_sizes(
    store: &dyn BronzeStore,
    root: &str,
    put: Put<'_>,
) {
    put(&join(root, "date=2025-01-02/b.csv"), b"12345");
    put(&join(root, "date=2025-01-02/a.csv"), b"1");
    put(&join(root, "date=2025-01-02/c.json"), b"{}");
    put(&join(root, "date=2025-01-02/deeper/d.csv"), b"1");
    put(&join(root, "date=2025-01-03/e.csv"), b"1");
    let files = store
        .list(&join(root, "date=2025-01-02/*.csv"))
        .await
        .unwrap();
    let got: Vec<(String, u64)> = files.into_iter().map(|f| (f.location, f.bytes)).collect();
    assert_eq!(
        got,
        vec![
            (join(root, "date=2025-01-02/a.csv"), 1),
            (join(root, "date=2025-01-02/b.csv"), 5),
        ]
    );
    let none = store.list(&join(root, "date=2024-*/*.csv")).await.unwrap();
    assert!(none.is_empty());
}

pub async fn open_reads_every_byte_in_order<S: BronzeStore + Clone + 'static>(
    store: &S,
    root: &str,
    put: Put<'_>,
) {
    // Not a multiple of any plausible range size, and bigger than a few of them.
    let bytes: Vec<u8> = (0..300_007u32).map(|i| (i * 31 % 251) as u8).collect();
    let location = join(root, "big/file.bin");
    put(&location, &bytes);
    assert_eq!(read_blocking(store, &location).await, bytes);
    let empty = join(root, "big/empty.csv");
    put(&empty, b"");
    assert!(read_blocking(store, &empty).await.is_empty());
}

pub async fn a_missing_file_is_an_input_error_naming_it<S: BronzeStore + Clone + 'static>(
    store: &S,
    root: &str,
) {
    let location = join(root, "nope/missing.csv");
    let (s, l) = (store.clone(), location.clone());
    let err = tokio::task::spawn_blocking(move || s.open(&l).err())
        .await
        .unwrap()
        .expect("opening a missing file fails");
    assert!(matches!(err, crate::LakeError::Input { .. }), "{err:?}");
    assert!(err.to_string().contains(&location), "{err}");
}

pub async fn double_star_lists_a_whole_tree_with_modification_times(
    store: &dyn BronzeStore,
    root: &str,
    put: Put<'_>,
) {
    let started = chrono::Utc::now().timestamp_millis();
    put(&join(root, "tree/a.parquet"), b"1");
    put(&join(root, "tree/x=1/b.parquet"), b"22");
    put(&join(root, "tree/x=1/y=2/c.avro"), b"333");
    put(&join(root, "tree-other/d.parquet"), b"1");
    let files = store.list(&join(root, "tree/**/*")).await.unwrap();
    let got: Vec<(String, u64)> = files
        .iter()
        .map(|f| (f.location.clone(), f.bytes))
        .collect();
    assert_eq!(
        got,
        vec![
            (join(root, "tree/a.parquet"), 1),
            (join(root, "tree/x=1/b.parquet"), 2),
            (join(root, "tree/x=1/y=2/c.avro"), 3),
        ]
    );
    let now = chrono::Utc::now().timestamp_millis();
    for f in &files {
        let modified = f.modified_ms.expect("a modification time");
        // Whole-second stores round down; allow for it and a little clock skew.
        assert!(
            modified >= started - 2_000 && modified <= now + 2_000,
            "{f:?}"
        );
    }
}

/// `stat` runs on a blocking thread, as the contract requires.
async fn stat_blocking<S: BronzeStore + Clone + 'static>(
    store: &S,
    location: &str,
) -> crate::Result<super::StoredFile> {
    let (store, location) = (store.clone(), location.to_string());
    tokio::task::spawn_blocking(move || store.stat(&location))
        .await
        .unwrap()
}

pub async fn stat_agrees_with_list_and_sees_a_rewrite<S: BronzeStore + Clone + 'static>(
    store: &S,
    root: &str,
    put: Put<'_>,
) {
    let location = join(root, "stat/date=2025-01-02/a.csv");
    put(&location, b"id,amount\n1,2\n");
    let listed = store.list(&join(root, "stat/*/a.csv")).await.unwrap();
    assert_eq!(listed.len(), 1);
    let planned = listed[0].fingerprint();
    let now = stat_blocking(store, &location).await.unwrap();
    assert_eq!(now.location, location);
    assert_eq!(now.bytes, 14);
    assert!(
        planned.same_version(&now.fingerprint()),
        "{planned} vs {}",
        now.fingerprint()
    );

    // Same size, other content: still a different version.
    std::thread::sleep(std::time::Duration::from_millis(50));
    put(&location, b"id,amount\n9,9\n");
    let rewritten = stat_blocking(store, &location).await.unwrap().fingerprint();
    assert_eq!(rewritten.bytes, 14);
    assert!(
        !planned.same_version(&rewritten),
        "a rewrite went unseen: {planned}"
    );

    let missing = join(root, "stat/missing.csv");
    let err = stat_blocking(store, &missing).await.unwrap_err();
    assert!(matches!(err, crate::LakeError::Input { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");
}

/// `open_ranges` runs on a blocking thread, as the contract requires.
pub async fn open_ranges_reads_any_range_in_any_order<S: BronzeStore + Clone + 'static>(
    store: &S,
    root: &str,
    put: Put<'_>,
) {
    let bytes: Vec<u8> = (0..100_003u32).map(|i| (i * 7 % 253) as u8).collect();
    let location = join(root, "ranges/file.parquet");
    put(&location, &bytes);
    let missing = join(root, "ranges/missing.parquet");
    let (s, l) = (store.clone(), location.clone());
    let expected = bytes.clone();
    tokio::task::spawn_blocking(move || {
        let file = s.open_ranges(&l).unwrap();
        assert_eq!(file.len(), expected.len() as u64);
        // The end first, as a Parquet reader does, then the middle and the start.
        let n = expected.len();
        for (start, len) in [
            (n - 8, 8),
            (n - 4, 4),
            (5_000, 50_000),
            (0, 4),
            (0, n),
            (n, 0),
        ] {
            let got = file.read_range(start as u64, len).unwrap();
            assert_eq!(got, &expected[start..start + len], "range {start}+{len}");
        }
        let err = file.read_range(n as u64 - 2, 3).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
        let err = s.open_ranges(&missing).unwrap_err();
        assert!(matches!(err, crate::LakeError::Input { .. }), "{err:?}");
        assert!(err.to_string().contains(&missing), "{err}");
    })
    .await
    .unwrap();
}
