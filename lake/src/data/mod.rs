//! Data files of a table: Parquet written for one partition, live files read
//! back as Arrow batches, and their totals per partition.

mod constants;
mod scan;
pub mod totals;
mod writer;

pub use scan::{read_columns, read_files};
pub use writer::{ColumnHints, PartitionWriter, DELTA_COLUMNS_PROPERTY};
