//! Floe's own files in the warehouse, beside the tables: under `_floe/`, written
//! and read through the same storage (a local folder or S3) as table data, so
//! every process that can commit can also read them.

use bytes::Bytes;
use iceberg::io::{FileIO, FileIOBuilder, LocalFsStorageFactory};

use super::CatalogConfig;
use crate::error::{LakeError, Result};

/// The prefix of Floe's files in a warehouse; no table lives under it.
const FLOE_PREFIX: &str = "_floe";

/// Files under `<warehouse>/_floe/`.
#[derive(Clone)]
pub struct WarehouseFiles {
    io: FileIO,
    root: String,
}

impl std::fmt::Debug for WarehouseFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarehouseFiles")
            .field("root", &self.root)
            .finish()
    }
}

impl WarehouseFiles {
    /// Files under `warehouse` (a local folder or `s3://bucket/prefix`) through `io`.
    pub fn new(io: FileIO, warehouse: &str) -> Self {
        Self {
            io,
            root: format!("{}/{FLOE_PREFIX}", warehouse.trim_end_matches('/')),
        }
    }

    /// A local warehouse folder.
    pub fn local(warehouse: &std::path::Path) -> Self {
        let io = FileIOBuilder::new(std::sync::Arc::new(LocalFsStorageFactory)).build();
        Self::new(io, &format!("file://{}", warehouse.display()))
    }

    /// Where `relative` (e.g. `contracts/ab12.toml`) lives.
    pub fn location(&self, relative: &str) -> String {
        format!("{}/{relative}", self.root)
    }

    /// The file's bytes, or `None` when it does not exist.
    pub async fn read(&self, relative: &str) -> Result<Option<Bytes>> {
        let location = self.location(relative);
        let input = self
            .io
            .new_input(&location)
            .map_err(LakeError::iceberg(format!("opening {location}")))?;
        if !input
            .exists()
            .await
            .map_err(LakeError::iceberg(format!("looking for {location}")))?
        {
            return Ok(None);
        }
        let bytes = input
            .read()
            .await
            .map_err(LakeError::iceberg(format!("reading {location}")))?;
        Ok(Some(bytes))
    }

    /// Writes the file whole (replacing it if it exists).
    pub async fn write(&self, relative: &str, bytes: Bytes) -> Result<()> {
        let location = self.location(relative);
        self.io
            .new_output(&location)
            .map_err(LakeError::iceberg(format!("opening {location}")))?
            .write(bytes)
            .await
            .map_err(LakeError::iceberg(format!("writing {location}")))
    }
}

impl CatalogConfig {
    /// Floe's files in this catalog's warehouse. Needs no catalog database, so
    /// a coordinator can write them before any worker created one.
    pub async fn warehouse_files(&self) -> Result<WarehouseFiles> {
        match self {
            Self::Sql { lakehouse, .. } => {
                let warehouse = lakehouse.join("warehouse");
                std::fs::create_dir_all(&warehouse).map_err(|e| LakeError::Warehouse {
                    path: warehouse.display().to_string(),
                    message: e.to_string(),
                })?;
                let warehouse = std::fs::canonicalize(&warehouse).unwrap_or(warehouse);
                Ok(WarehouseFiles::local(&warehouse))
            }
            Self::Glue { warehouse, .. } => {
                let sdk = crate::aws::load_config().await;
                let (storage, props) = crate::aws::s3_storage(&sdk);
                let io = FileIOBuilder::new(storage).with_props(props).build();
                Ok(WarehouseFiles::new(io, warehouse))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_round_trip_under_the_floe_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let config = CatalogConfig::Sql {
            name: "floe".into(),
            lakehouse: dir.path().to_path_buf(),
        };
        let files = config.warehouse_files().await.unwrap();
        assert_eq!(files.read("contracts/a.toml").await.unwrap(), None);
        files
            .write("contracts/a.toml", Bytes::from_static(b"text"))
            .await
            .unwrap();
        assert_eq!(
            files.read("contracts/a.toml").await.unwrap().as_deref(),
            Some(&b"text"[..])
        );
        assert!(dir.path().join("warehouse/_floe/contracts/a.toml").exists());
    }
}
