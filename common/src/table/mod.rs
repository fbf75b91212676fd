//! The Iceberg side of a task: the tables a contract defines (schemas,
//! partition specs), partition values, and the quarantine and condemned rows.

mod evolution;
#[cfg(test)]
mod evolution_tests;
mod lineage;
mod partition;
mod rows;
mod schema;

pub use evolution::{
    evolve_silver, silver_evolution, CONTRACT_VERSION_PROPERTY, SCHEMA_CHANGE_PROPERTY_PREFIX,
};
pub use lineage::{constant_lineage_columns, contract_schema, silver_batch, Origins, SilverBatch};
pub use partition::partition_struct;
pub use rows::{
    condemned_batch, condemned_rows, quarantine_batch, quarantine_rows, CondemnedRow,
    LineageContext,
};
pub use schema::{
    iceberg_transform, partition_spec_for, schema_for, silver_schema, table_creation, TableRole,
    CONDEMNED_COLUMNS, CONDEMNED_TABLE_PROPERTY, DEDUPE_KEY_PROPERTY, LINEAGE_COLUMNS,
    QUARANTINE_COLUMNS, QUARANTINE_TABLE_PROPERTY,
};
