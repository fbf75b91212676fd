//! Line counts handed along a chain of byte ranges.
//!
//! A range numbers its lines as the whole file does, which needs the count of
//! newlines before it. Counted from the file's start, every range of a large
//! file would read all the bytes before it: on S3, the file many times over.
//! The ranges of a partition under a dedupe key run as a chain, one after
//! another, so each task hands on, beside its keys, where each range it read
//! ended and the line count there (`<keys>.lines`, JSON); the next range of
//! the same file starts from it and reads only its own bytes. The first range
//! of a file, and ranges outside a chain, count.
//!
//! The counts only save reading: a range whose count is missing or unreadable
//! counts for itself. A file that reads back whole is never rewritten (a
//! redelivered task would write the same), so a reader never sees it half
//! written by a straggler.

use std::collections::BTreeMap;

use iceberg::io::FileIO;
use serde::{Deserialize, Serialize};

use crate::error::{FloeError, Result};
use crate::source::{ByteRange, RangeRead};

/// Where a range a task read ended, and the newlines before the next one's
/// first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeEnd {
    pub end: u64,
    pub lines: u64,
}

/// Per input location.
pub type RangeEnds = BTreeMap<String, RangeEnd>;

/// Where a task's keys at `keys_location` have their line counts.
pub fn lines_location(keys_location: &str) -> String {
    format!("{keys_location}.lines")
}

/// The counts a task left beside its keys; none when it left no file, or one
/// that does not read back whole (the ranges then count for themselves).
pub async fn read_ends(file_io: &FileIO, keys_location: &str) -> RangeEnds {
    let location = lines_location(keys_location);
    match try_read(file_io, &location).await {
        Ok(ends) => ends.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(%location, error = %e, "line counts unreadable; ranges count their own");
            RangeEnds::new()
        }
    }
}

async fn try_read(file_io: &FileIO, location: &str) -> Result<Option<RangeEnds>> {
    let input = file_io
        .new_input(location)
        .map_err(|e| failed(location, e))?;
    if !input.exists().await.map_err(|e| failed(location, e))? {
        return Ok(None);
    }
    let bytes = input.read().await.map_err(|e| failed(location, e))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| failed(location, e))
}

/// Writes `ends` beside the keys (from a blocking thread).
pub fn write_ends_blocking(
    file_io: &FileIO,
    keys_location: &str,
    ends: &RangeEnds,
    handle: &tokio::runtime::Handle,
) -> Result<()> {
    let location = lines_location(keys_location);
    let json = serde_json::to_vec(ends).map_err(|e| failed(&location, e))?;
    handle.block_on(async {
        if matches!(try_read(file_io, &location).await, Ok(Some(_))) {
            return Ok(());
        }
        let output = file_io
            .new_output(&location)
            .map_err(|e| failed(&location, e))?;
        output
            .write(json.into())
            .await
            .map_err(|e| failed(&location, e))
    })
}

/// How to read `range` of `location`, with the count the task before handed on
/// when its range of the file ended where this one starts.
pub fn range_read(ends: &RangeEnds, location: &str, range: ByteRange) -> RangeRead {
    let lines_before = ends
        .get(location)
        .filter(|e| e.end == range.start)
        .map(|e| e.lines);
    RangeRead {
        range,
        lines_before,
    }
}

fn failed(location: &str, e: impl std::fmt::Display) -> FloeError {
    FloeError::Handoff {
        location: location.to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::io::{FileIOBuilder, LocalFsStorageFactory};

    fn local() -> (tempfile::TempDir, FileIO, String) {
        let dir = tempfile::tempdir().unwrap();
        let io = FileIOBuilder::new(std::sync::Arc::new(LocalFsStorageFactory)).build();
        let keys = format!("file://{}/t.keys", dir.path().display());
        (dir, io, keys)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_are_written_once_and_an_unreadable_file_means_counting() {
        let (dir, io, keys) = local();
        assert!(read_ends(&io, &keys).await.is_empty(), "no file: count");
        let ends = RangeEnds::from([("f".to_string(), RangeEnd { end: 10, lines: 3 })]);
        let handle = tokio::runtime::Handle::current();
        let (io2, keys2, ends2) = (io.clone(), keys.clone(), ends.clone());
        tokio::task::spawn_blocking(move || write_ends_blocking(&io2, &keys2, &ends2, &handle))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read_ends(&io, &keys).await, ends);
        // A redelivered writer leaves a whole file as it is.
        let other = RangeEnds::from([("f".to_string(), RangeEnd { end: 10, lines: 99 })]);
        let handle = tokio::runtime::Handle::current();
        let (io2, keys2) = (io.clone(), keys.clone());
        tokio::task::spawn_blocking(move || write_ends_blocking(&io2, &keys2, &other, &handle))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read_ends(&io, &keys).await, ends);
        // Half a file reads as none.
        std::fs::write(dir.path().join("t.keys.lines"), b"{\"f\":{\"end\":1").unwrap();
        assert!(read_ends(&io, &keys).await.is_empty());
    }

    #[test]
    fn a_count_applies_only_where_the_range_before_ended() {
        let ends = RangeEnds::from([("f".to_string(), RangeEnd { end: 10, lines: 3 })]);
        let at = |start| ByteRange {
            start,
            end: start + 10,
        };
        assert_eq!(range_read(&ends, "f", at(10)).lines_before, Some(3));
        assert_eq!(range_read(&ends, "f", at(20)).lines_before, None);
        assert_eq!(range_read(&ends, "g", at(10)).lines_before, None);
    }
}
