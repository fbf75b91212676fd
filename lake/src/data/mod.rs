//! Data files of a table: Parquet written for one partition, and live files
//! read back as Arrow batches.

mod scan;
mod writer;

pub use scan::read_files;
pub use writer::{PartitionWriter, DELTA_COLUMNS_PROPERTY};
