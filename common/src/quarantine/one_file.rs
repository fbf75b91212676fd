//! One record, held in memory, presented as a Bronze file so it goes through
//! exactly the reader a task uses.

use std::io::Read;

use async_trait::async_trait;

use floe_lake::storage::{BronzeStore, StoredFile};
use floe_lake::Result;

#[derive(Debug)]
pub(super) struct OneFile(pub Vec<u8>);

#[async_trait]
impl BronzeStore for OneFile {
    async fn list(&self, _: &str) -> Result<Vec<StoredFile>> {
        Ok(Vec::new())
    }

    fn open(&self, _: &str) -> Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(self.0.clone())))
    }

    fn stat(&self, location: &str) -> Result<StoredFile> {
        Ok(StoredFile {
            location: location.to_string(),
            bytes: self.0.len() as u64,
            modified_ms: None,
            etag: None,
        })
    }
}
