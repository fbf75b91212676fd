//! Iceberg schemas and partition specs of the three tables a contract names:
//! Silver (the contract's columns), quarantine and condemned (fixed lineage columns).

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::spec::{NestedField, PrimitiveType, Schema, Transform, Type, UnboundPartitionSpec};
use iceberg::TableCreation;

use crate::contract::{Contract, DataType, TableName, TransformKind};
use crate::error::{FloeError, Result};
use floe_lake::data::DELTA_COLUMNS_PROPERTY;

/// Which of a contract's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableRole {
    Silver,
    Quarantine,
    Condemned,
}

impl TableRole {
    pub const ALL: [TableRole; 3] = [
        TableRole::Silver,
        TableRole::Quarantine,
        TableRole::Condemned,
    ];

    pub fn name<'a>(&self, contract: &'a Contract) -> &'a TableName {
        match self {
            TableRole::Silver => &contract.target.table,
            TableRole::Quarantine => &contract.target.quarantine_table,
            TableRole::Condemned => &contract.target.condemned_table,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            TableRole::Silver => "silver",
            TableRole::Quarantine => "quarantine",
            TableRole::Condemned => "condemned",
        }
    }
}

/// Silver table properties naming the dedupe key's columns (comma-separated)
/// and the pipeline's quarantine and condemned tables.
pub const DEDUPE_KEY_PROPERTY: &str = "floe.dedupe-key";
pub const QUARANTINE_TABLE_PROPERTY: &str = "floe.quarantine-table";
pub const CONDEMNED_TABLE_PROPERTY: &str = "floe.condemned-table";

pub(super) fn primitive(t: &DataType) -> PrimitiveType {
    match t {
        DataType::String | DataType::Enum(_) => PrimitiveType::String,
        DataType::Int => PrimitiveType::Int,
        DataType::Long => PrimitiveType::Long,
        DataType::Double => PrimitiveType::Double,
        DataType::Decimal { precision, scale } => PrimitiveType::Decimal {
            precision: *precision as u32,
            scale: *scale as u32,
        },
        DataType::Boolean => PrimitiveType::Boolean,
        DataType::Date => PrimitiveType::Date,
        DataType::Timestamp => PrimitiveType::Timestamp,
        DataType::Timestamptz => PrimitiveType::Timestamptz,
    }
}

/// Silver's lineage columns, after the contract's: where each row came from.
/// Optional, so a contract that turns lineage off still writes the table.
pub const LINEAGE_COLUMNS: [(&str, PrimitiveType, &str); 5] = [
    (
        "_floe_source_file",
        PrimitiveType::String,
        "Bronze file the row was read from",
    ),
    (
        "_floe_source_line",
        PrimitiveType::Long,
        "Line of the row in its Bronze file (for Parquet, its position, 1-based)",
    ),
    (
        "_floe_run_id",
        PrimitiveType::String,
        "Floe run that loaded the row",
    ),
    (
        "_floe_task_id",
        PrimitiveType::String,
        "Floe task that loaded the row",
    ),
    (
        "_floe_attempt",
        PrimitiveType::Int,
        "Attempt of the task that loaded the row",
    ),
];

/// Silver: the contract's columns in order, field ids 1..=n, each with its
/// description as its doc, then the lineage columns when the contract keeps them.
pub fn silver_schema(contract: &Contract) -> Result<Schema> {
    let n = contract.columns.len() as i32;
    let lineage = LINEAGE_COLUMNS
        .iter()
        .enumerate()
        .filter(|_| contract.target.lineage)
        .map(|(i, (name, t, doc))| {
            Arc::new(
                NestedField::optional(n + 1 + i as i32, *name, Type::Primitive(t.clone()))
                    .with_doc(*doc),
            )
        });
    let fields = contract.columns.iter().enumerate().map(|(i, c)| {
        let id = i as i32 + 1;
        let t = Type::Primitive(primitive(&c.data_type));
        let field = if c.required {
            NestedField::required(id, &c.name, t)
        } else {
            NestedField::optional(id, &c.name, t)
        };
        Arc::new(match &c.description {
            Some(d) => field.with_doc(d),
            None => field,
        })
    });
    build_schema(fields.chain(lineage).collect())
}

/// Columns of the quarantine table, in order.
pub const QUARANTINE_COLUMNS: [(&str, PrimitiveType); 10] = [
    ("source_partition", PrimitiveType::String),
    ("source_file", PrimitiveType::String),
    ("line_number", PrimitiveType::Long),
    ("raw_line", PrimitiveType::String),
    ("reasons", PrimitiveType::String),
    ("run_id", PrimitiveType::String),
    ("task_id", PrimitiveType::String),
    ("attempt", PrimitiveType::Int),
    ("attempt_count", PrimitiveType::Int),
    ("ingested_at", PrimitiveType::Timestamptz),
];

/// Columns of the condemned table, in order.
pub const CONDEMNED_COLUMNS: [(&str, PrimitiveType); 10] = [
    ("source_partition", PrimitiveType::String),
    ("source_file", PrimitiveType::String),
    ("line_number", PrimitiveType::Long),
    ("raw_line", PrimitiveType::String),
    ("reason", PrimitiveType::String),
    ("duplicate_of", PrimitiveType::String),
    ("run_id", PrimitiveType::String),
    ("task_id", PrimitiveType::String),
    ("attempt", PrimitiveType::Int),
    ("condemned_at", PrimitiveType::Timestamptz),
];

fn fixed_schema(columns: &[(&str, PrimitiveType)]) -> Result<Schema> {
    let fields = columns.iter().enumerate().map(|(i, (name, t))| {
        Arc::new(NestedField::required(
            i as i32 + 1,
            *name,
            Type::Primitive(t.clone()),
        ))
    });
    build_schema(fields.collect())
}

fn build_schema(fields: Vec<Arc<NestedField>>) -> Result<Schema> {
    Schema::builder()
        .with_schema_id(0)
        .with_fields(fields)
        .build()
        .map_err(FloeError::iceberg("building a table schema"))
}

pub fn schema_for(role: TableRole, contract: &Contract) -> Result<Schema> {
    match role {
        TableRole::Silver => silver_schema(contract),
        TableRole::Quarantine => fixed_schema(&QUARANTINE_COLUMNS),
        TableRole::Condemned => fixed_schema(&CONDEMNED_COLUMNS),
    }
}

/// The Iceberg transform of a contract's partition kind.
pub fn iceberg_transform(kind: TransformKind) -> Transform {
    match kind {
        TransformKind::Identity => Transform::Identity,
        TransformKind::Year => Transform::Year,
        TransformKind::Month => Transform::Month,
        TransformKind::Day => Transform::Day,
    }
}

/// Silver is partitioned as the contract says; quarantine and condemned by the
/// source partition, so a backfill replaces their rows the same way.
pub fn partition_spec_for(
    role: TableRole,
    contract: &Contract,
) -> Result<Option<UnboundPartitionSpec>> {
    let Some(p) = &contract.target.partition else {
        return Ok(None);
    };
    let (source_id, name, transform) = match role {
        TableRole::Silver => {
            let col = &contract.columns[p.column].name;
            let suffix = match p.kind {
                TransformKind::Identity => String::new(),
                TransformKind::Year => "_year".into(),
                TransformKind::Month => "_month".into(),
                TransformKind::Day => "_day".into(),
            };
            (
                p.column as i32 + 1,
                format!("{col}{suffix}"),
                iceberg_transform(p.kind),
            )
        }
        _ => (1, "source_partition".to_string(), Transform::Identity),
    };
    UnboundPartitionSpec::builder()
        .with_spec_id(0)
        .add_partition_field(source_id, name, transform)
        .map(|b| Some(b.build()))
        .map_err(FloeError::iceberg("building a partition spec"))
}

/// How Floe creates a table on first use.
pub fn table_creation(role: TableRole, contract: &Contract) -> Result<TableCreation> {
    let name = role.name(contract);
    let mut properties = HashMap::from([
        ("write.format.default".to_string(), "parquet".to_string()),
        (
            "write.parquet.compression-codec".to_string(),
            "zstd".to_string(),
        ),
        (
            "write.target-file-size-bytes".to_string(),
            contract.target.target_file_size_bytes.to_string(),
        ),
        ("floe.pipeline".to_string(), contract.name.clone()),
        ("floe.table-role".to_string(), role.as_str().to_string()),
        (
            "floe.schema-version".to_string(),
            contract.target.schema_version.to_string(),
        ),
    ]);
    if role == TableRole::Silver {
        // What `trace` needs to find a key's rows without the contract.
        let key: Vec<&str> = contract
            .dedupe_key
            .iter()
            .map(|&i| contract.columns[i].name.as_str())
            .collect();
        if !key.is_empty() {
            properties.insert(DEDUPE_KEY_PROPERTY.into(), key.join(","));
        }
        if contract.target.lineage {
            properties.insert(DELTA_COLUMNS_PROPERTY.into(), "_floe_source_line".into());
        }
        properties.insert(
            super::evolution::CONTRACT_VERSION_PROPERTY.into(),
            contract.version.to_string(),
        );
        for (property, table) in [
            (QUARANTINE_TABLE_PROPERTY, &contract.target.quarantine_table),
            (CONDEMNED_TABLE_PROPERTY, &contract.target.condemned_table),
        ] {
            properties.insert(property.into(), table.to_string());
        }
    }
    let creation = TableCreation::builder()
        .name(name.name.clone())
        .schema(schema_for(role, contract)?)
        .properties(properties);
    Ok(match partition_spec_for(role, contract)? {
        Some(spec) => creation.partition_spec(spec).build(),
        None => creation.build(),
    })
}
