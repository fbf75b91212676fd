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

/// The counts a task left beside its keys; none when it left no file.
pub async fn read_ends(file_io: &FileIO, keys_location: &str) -> Result<RangeEnds> {
    let location = lines_location(keys_location);
    let input = file_io
        .new_input(&location)
        .map_err(|e| failed(&location, e))?;
    if !input.exists().await.map_err(|e| failed(&location, e))? {
        return Ok(RangeEnds::new());
    }
    let bytes = input.read().await.map_err(|e| failed(&location, e))?;
    serde_json::from_slice(&bytes).map_err(|e| failed(&location, e))
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
