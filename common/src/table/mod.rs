//! The Iceberg side of a task: table schemas, partition values, and the writers
//! that turn Arrow batches into Parquet data files.

mod partition;
mod rows;
mod schema;
mod writer;

pub use partition::partition_struct;
pub use rows::{condemned_batch, quarantine_batch, LineageContext};
pub use schema::{
    partition_spec_for, schema_for, silver_schema, table_creation, TableRole, CONDEMNED_COLUMNS,
    QUARANTINE_COLUMNS,
};
pub use writer::PartitionWriter;
