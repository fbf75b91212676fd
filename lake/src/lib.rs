//! Floe's table layer: Iceberg tables in a catalog, and every change made to them.
//!
//! - [`catalog`]: the narrow catalog trait (load, create, swap the metadata
//!   pointer) and its SQLite and Glue implementations.
//! - [`commit`]: the commit protocol (`commit/PROTOCOL.md`): one atomic,
//!   idempotent, fenced snapshot per task and table; history and rollback.
//! - [`maintenance`]: compaction, snapshot expiry and orphan removal, through
//!   the same commit protocol.
//! - [`data`]: Parquet data files written for a partition, and read back.
//! - [`storage`]: object storage (local folders, S3) behind one trait.
//!
//! It knows nothing of contracts, sources or validation: those build on it.

pub mod aws;
pub mod catalog;
pub mod commit;
pub mod data;
pub mod error;
pub mod ids;
pub mod maintenance;
pub mod storage;
mod table_name;

pub use error::{LakeError, Result};
pub use ids::{Attempt, RunId, TaskId};
pub use table_name::TableName;
