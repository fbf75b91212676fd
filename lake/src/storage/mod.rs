//! Where Bronze files are read from: local folders or S3, behind one narrow
//! trait. A location is absolute: a local path, or `s3://bucket/key`.

mod local;
mod ranges;
mod s3;

#[cfg(any(test, feature = "test-support"))]
pub mod contract_tests;

use std::io::Read;
use std::sync::OnceLock;

use async_trait::async_trait;

pub use local::LocalStore;
pub use ranges::RangeReader;
pub use s3::S3Store;

use crate::error::{LakeError, Result};

/// A file found by [`BronzeStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub location: String,
    pub bytes: u64,
    /// Last modified, in ms since the epoch, where the store says.
    pub modified_ms: Option<i64>,
    /// The object's entity tag, where the store has one (S3: a checksum of the
    /// content, new with every write).
    pub etag: Option<String>,
}

impl StoredFile {
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            bytes: self.bytes,
            modified_ms: self.modified_ms,
            etag: self.etag.clone(),
        }
    }
}

/// What a file was when a run was planned: its size and its ETag (S3) or
/// modification time (a folder). A task reads a file only while it still is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Fingerprint {
    /// The same version of the file: same size, and the same ETag where both
    /// have one, else the same modification time.
    pub fn same_version(&self, other: &Fingerprint) -> bool {
        self.bytes == other.bytes
            && match (&self.etag, &other.etag) {
                (Some(a), Some(b)) => a == b,
                _ => self.modified_ms == other.modified_ms,
            }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.bytes)?;
        if let Some(etag) = &self.etag {
            write!(f, ", ETag {etag}")?;
        } else if let Some(ms) = self.modified_ms {
            match chrono::DateTime::from_timestamp_millis(ms) {
                Some(t) => write!(f, ", modified {}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"))?,
                None => write!(f, ", modified {ms} ms")?,
            }
        }
        Ok(())
    }
}

/// Object storage as Floe reads Bronze.
///
/// Contract (checked by `contract_tests` for every implementation):
/// - `list` returns every file whose location matches the glob `pattern` (`*`
///   and `?` stay within one path segment, `**` spans any number of them),
///   sorted by location, with its size and modification time; nothing matching
///   is an empty list, not an error.
/// - `open` returns the file's bytes from the first to the last, in order; a
///   missing file is a [`LakeError::Input`] naming it. A reader over a file
///   that is rewritten while it is read fails rather than mixing two versions
///   where the store can tell (S3); `stat` after the read tells elsewhere.
/// - `stat` returns what `list` says of one file (same size, time and ETag); a
///   missing file is a [`LakeError::Input`] naming it.
/// - `open_ranges` gives any byte range of the file, in any order, for formats
///   read from their end (Parquet's footer); it has the file's size, a range
///   past the end is an error, and a rewrite while it is read fails a range
///   where the store can tell (S3). A missing file is a [`LakeError::Input`].
/// - `open`, `open_ranges` and `stat` block: call them (and read) on a blocking
///   thread, never on an async worker thread.
#[async_trait]
pub trait BronzeStore: Send + Sync + std::fmt::Debug {
    async fn list(&self, pattern: &str) -> Result<Vec<StoredFile>>;

    fn open(&self, location: &str) -> Result<Box<dyn Read + Send>>;

    fn stat(&self, location: &str) -> Result<StoredFile>;

    /// Random access to the file. The default copies [`BronzeStore::open`]'s
    /// bytes into an anonymous temporary file (deleted when dropped), which
    /// holds for any store; stores that can read ranges in place override it.
    fn open_ranges(&self, location: &str) -> Result<Box<dyn RangeReader>> {
        ranges::spool(self.open(location)?, location)
    }
}

/// Every store, picked by the location's scheme: `s3://` goes to S3 (a client
/// made on first use from the standard AWS configuration), anything else is a
/// local path.
#[derive(Debug, Default)]
pub struct Bronze {
    local: LocalStore,
    s3: OnceLock<S3Store>,
}

impl Bronze {
    fn s3(&self) -> &S3Store {
        self.s3.get_or_init(|| {
            let handle = tokio::runtime::Handle::current();
            let sdk = std::thread::scope(|s| {
                s.spawn(|| handle.block_on(crate::aws::load_config()))
                    .join()
                    .expect("loading the AWS configuration")
            });
            S3Store::new(crate::aws::s3_client(&sdk))
        })
    }
}

pub fn is_s3(location: &str) -> bool {
    location.starts_with("s3://")
}

#[async_trait]
impl BronzeStore for Bronze {
    async fn list(&self, pattern: &str) -> Result<Vec<StoredFile>> {
        if is_s3(pattern) {
            self.s3().list(pattern).await
        } else {
            self.local.list(pattern).await
        }
    }

    fn open(&self, location: &str) -> Result<Box<dyn Read + Send>> {
        if is_s3(location) {
            self.s3().open(location)
        } else {
            self.local.open(location)
        }
    }

    fn stat(&self, location: &str) -> Result<StoredFile> {
        if is_s3(location) {
            self.s3().stat(location)
        } else {
            self.local.stat(location)
        }
    }

    fn open_ranges(&self, location: &str) -> Result<Box<dyn RangeReader>> {
        if is_s3(location) {
            self.s3().open_ranges(location)
        } else {
            self.local.open_ranges(location)
        }
    }
}

/// Joins a contract's location template to the Bronze `root`, refusing one that
/// would reach outside it: a `..` segment, or an absolute path or `s3://` URL
/// not under the root. Sources are confined to the configured Bronze roots.
pub fn confine(root: &str, location: &str) -> std::result::Result<String, String> {
    let joined = join(root, location);
    let escapes = joined.split('/').any(|segment| segment == "..");
    let prefix = format!("{}/", root.trim_end_matches('/'));
    if escapes || !joined.starts_with(&prefix) {
        return Err(format!(
            "source.location `{location}` reaches outside the Bronze root {root}: write it \
             relative to the root, without `..`"
        ));
    }
    Ok(joined)
}

/// Joins a relative location template to a root (a folder or `s3://` prefix).
pub fn join(root: &str, relative: &str) -> String {
    if relative.starts_with('/') || is_s3(relative) {
        return relative.to_string();
    }
    format!("{}/{}", root.trim_end_matches('/'), relative)
}

pub(crate) fn input_error(location: &str, source: std::io::Error) -> LakeError {
    LakeError::Input {
        path: location.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::confine;

    #[test]
    fn locations_stay_under_the_bronze_root() {
        let ok = |root: &str, loc: &str| confine(root, loc).unwrap();
        assert_eq!(
            ok("/data/bronze", "tx/date={date}/*.csv"),
            "/data/bronze/tx/date={date}/*.csv"
        );
        assert_eq!(
            ok("/data/bronze/", "/data/bronze/tx/*.csv"),
            "/data/bronze/tx/*.csv"
        );
        assert_eq!(
            ok("s3://lake/bronze", "tx/*.csv"),
            "s3://lake/bronze/tx/*.csv"
        );
        for (root, loc) in [
            ("/data/bronze", "../secrets/*.csv"),
            ("/data/bronze", "tx/../../etc/*"),
            ("/data/bronze", "/etc/*.conf"),
            ("/data/bronze", "/data/bronze-other/*.csv"),
            ("s3://lake/bronze", "s3://other-bucket/*.csv"),
            ("s3://lake/bronze", "s3://lake/warehouse/*"),
        ] {
            let err = confine(root, loc).unwrap_err();
            assert!(
                err.contains("outside the Bronze root") && err.contains(loc),
                "{err}"
            );
        }
    }
}
