//! The Iceberg side of a task: table schemas, partition values, and the writers
//! that turn Arrow batches into Parquet data files.

mod partition;
mod rows;
mod scan;
mod schema;
mod writer;

pub use partition::partition_struct;
pub use rows::{
    condemned_batch, condemned_rows, quarantine_batch, quarantine_rows, CondemnedRow,
    LineageContext,
};
pub use scan::read_files;
pub use schema::{
    partition_spec_for, schema_for, silver_schema, table_creation, TableRole, CONDEMNED_COLUMNS,
    QUARANTINE_COLUMNS,
};
pub use writer::PartitionWriter;
