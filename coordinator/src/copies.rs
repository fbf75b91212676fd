//! Byte-identical Bronze files: upstream systems resend a file under another
//! name or into another day's folder. A run loads each content once: the first
//! copy by day and path, and names every other copy and what it repeats.
//!
//! Only files of equal size can be equal, so only those are compared. On S3 an
//! object's ETag is the MD5 of its content when it was uploaded in one part
//! (no `-` in it), which answers without reading; other files are read and
//! hashed (XXH3-128) through the Bronze store.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use floe_lake::storage::BronzeStore;
use serde::{Deserialize, Serialize};

use crate::plan::InputFile;
use crate::CoordinatorError;

/// A file left out of a run because an earlier file has the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedCopy {
    pub path: String,
    /// The file loaded instead.
    pub duplicate_of: String,
}

/// `files` (sorted by day and path) without the copies of earlier files, and
/// the copies.
pub async fn without_copies(
    store: Arc<dyn BronzeStore>,
    files: Vec<InputFile>,
) -> Result<(Vec<InputFile>, Vec<SkippedCopy>), CoordinatorError> {
    let mut by_size: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        by_size.entry(f.fingerprint.bytes).or_default().push(i);
    }
    let mut copy_of: BTreeMap<usize, usize> = BTreeMap::new();
    for group in by_size.into_values().filter(|g| g.len() > 1) {
        let mut first_with: BTreeMap<String, usize> = BTreeMap::new();
        for i in group {
            let id = content_id(store.clone(), &files[i]).await?;
            match first_with.get(&id) {
                Some(&first) => {
                    copy_of.insert(i, first);
                }
                None => {
                    first_with.insert(id, i);
                }
            }
        }
    }
    let skipped = copy_of
        .iter()
        .map(|(&copy, &first)| SkippedCopy {
            path: files[copy].path.clone(),
            duplicate_of: files[first].path.clone(),
        })
        .collect();
    let kept = files
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !copy_of.contains_key(i))
        .map(|(_, f)| f)
        .collect();
    Ok((kept, skipped))
}

/// What identifies a file's bytes: its single-part ETag (an MD5), or a hash of
/// its content.
async fn content_id(
    store: Arc<dyn BronzeStore>,
    file: &InputFile,
) -> Result<String, CoordinatorError> {
    if let Some(etag) = file.fingerprint.etag.as_deref() {
        let etag = etag.trim_matches('"');
        if !etag.contains('-') && !etag.is_empty() {
            return Ok(format!("md5:{etag}"));
        }
    }
    let path = file.path.clone();
    let hashed = tokio::task::spawn_blocking(move || -> std::io::Result<u128> {
        let mut reader = store.open(&path).map_err(std::io::Error::other)?;
        let mut hasher = twox_hash::XxHash3_128::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(hasher.finish_128());
            }
            hasher.write(&buf[..n]);
        }
    })
    .await
    .map_err(|e| CoordinatorError::Listing {
        pattern: file.path.clone(),
        message: e.to_string(),
    })?
    .map_err(|e| CoordinatorError::Listing {
        pattern: file.path.clone(),
        message: format!("reading it to compare it with a file of the same size: {e}"),
    })?;
    Ok(format!("xxh3:{hashed:032x}"))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use floe_lake::storage::{Fingerprint, LocalStore};

    use super::*;

    fn input(path: &std::path::Path, day: u32) -> InputFile {
        InputFile {
            path: path.display().to_string(),
            fingerprint: Fingerprint {
                bytes: std::fs::metadata(path).unwrap().len(),
                modified_ms: None,
                etag: None,
            },
            day: NaiveDate::from_ymd_opt(2025, 1, day).unwrap(),
        }
    }

    #[tokio::test]
    async fn a_resent_file_is_loaded_once() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        };
        let a = write("d1/a.csv", "id\n1\n2\n");
        let same_size = write("d1/b.csv", "id\n3\n4\n");
        let renamed = write("d1/c.csv", "id\n1\n2\n");
        let next_day = write("d2/a.csv", "id\n1\n2\n");
        let other = write("d2/z.csv", "id\n9\n");
        let files = vec![
            input(&a, 1),
            input(&same_size, 1),
            input(&renamed, 1),
            input(&next_day, 2),
            input(&other, 2),
        ];
        let (kept, skipped) = without_copies(Arc::new(LocalStore), files).await.unwrap();
        let kept: Vec<_> = kept.iter().map(|f| f.path.clone()).collect();
        let show = |p: &std::path::Path| p.display().to_string();
        assert_eq!(kept, [show(&a), show(&same_size), show(&other)]);
        assert_eq!(
            skipped,
            [
                SkippedCopy {
                    path: show(&renamed),
                    duplicate_of: show(&a)
                },
                SkippedCopy {
                    path: show(&next_day),
                    duplicate_of: show(&a)
                },
            ]
        );
    }

    #[tokio::test]
    async fn single_part_etags_answer_without_reading() {
        let file = |path: &str, etag: &str| InputFile {
            path: path.into(),
            fingerprint: Fingerprint {
                bytes: 10,
                modified_ms: None,
                etag: Some(format!("\"{etag}\"")),
            },
            day: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        };
        // Not readable: a read would fail the call.
        let files = vec![
            file("s3://b/x/1.csv", "abc"),
            file("s3://b/x/2.csv", "abc"),
            file("s3://b/x/3.csv", "def"),
        ];
        let (kept, skipped) = without_copies(Arc::new(LocalStore), files).await.unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(skipped[0].path, "s3://b/x/2.csv");
    }
}
