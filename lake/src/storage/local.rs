//! Bronze in a local folder.

use std::fs::File;
use std::io::Read;

use async_trait::async_trait;

use super::ranges::FileRanges;
use super::{input_error, BronzeStore, RangeReader, StoredFile};
use crate::error::{LakeError, Result};

#[derive(Debug, Default, Clone)]
pub struct LocalStore;

#[async_trait]
impl BronzeStore for LocalStore {
    async fn list(&self, pattern: &str) -> Result<Vec<StoredFile>> {
        let err = |message: String| LakeError::Listing {
            pattern: pattern.to_string(),
            message,
        };
        let mut files = Vec::new();
        for entry in glob::glob(pattern).map_err(|e| err(e.to_string()))? {
            let path = entry.map_err(|e| err(e.to_string()))?;
            let meta = std::fs::metadata(&path).map_err(|e| err(e.to_string()))?;
            if meta.is_file() {
                files.push(stored(path.to_string_lossy().into_owned(), &meta));
            }
        }
        files.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(files)
    }

    fn open(&self, location: &str) -> Result<Box<dyn Read + Send>> {
        let file = File::open(location).map_err(|e| input_error(location, e))?;
        Ok(Box::new(file))
    }

    fn stat(&self, location: &str) -> Result<StoredFile> {
        let meta = std::fs::metadata(location).map_err(|e| input_error(location, e))?;
        Ok(stored(location.to_string(), &meta))
    }

    fn open_ranges(&self, location: &str) -> Result<Box<dyn RangeReader>> {
        let file = File::open(location).map_err(|e| input_error(location, e))?;
        Ok(Box::new(FileRanges::new(file, location)?))
    }
}

fn stored(location: String, meta: &std::fs::Metadata) -> StoredFile {
    StoredFile {
        location,
        bytes: meta.len(),
        modified_ms: meta
            .modified()
            .ok()
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis()),
        etag: None,
    }
}
