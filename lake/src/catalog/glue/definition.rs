//! The Glue table definition Athena reads for an Iceberg table: the
//! `table_type=ICEBERG` and `metadata_location` parameters, and the current
//! schema as storage-descriptor columns in Hive type names.

use std::collections::HashMap;

use aws_sdk_glue::types::{Column, StorageDescriptor, Table as GlueTable, TableInput};
use iceberg::spec::{NestedFieldRef, PrimitiveType, TableMetadata, Type};

use crate::error::{LakeError, Result};

pub(super) const METADATA_LOCATION: &str = "metadata_location";
pub(super) const PREVIOUS_METADATA_LOCATION: &str = "previous_metadata_location";
const TABLE_TYPE: &str = "table_type";
const ICEBERG: &str = "ICEBERG";
/// Glue's own table type for a table whose data lives outside Glue.
const EXTERNAL_TABLE: &str = "EXTERNAL_TABLE";

/// The Hive type name Glue and Athena use for an Iceberg type (the mapping of
/// Iceberg's Glue catalogs: timestamps of any precision or zone are
/// `timestamp`; uuid and time, which Hive lacks, are `string`).
pub(super) fn hive_type(ty: &Type) -> String {
    match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => "boolean".into(),
            PrimitiveType::Int => "int".into(),
            PrimitiveType::Long => "bigint".into(),
            PrimitiveType::Float => "float".into(),
            PrimitiveType::Double => "double".into(),
            PrimitiveType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            PrimitiveType::Date => "date".into(),
            PrimitiveType::Timestamp
            | PrimitiveType::Timestamptz
            | PrimitiveType::TimestampNs
            | PrimitiveType::TimestamptzNs => "timestamp".into(),
            PrimitiveType::Time | PrimitiveType::String | PrimitiveType::Uuid => "string".into(),
            PrimitiveType::Fixed(_) | PrimitiveType::Binary => "binary".into(),
        },
        Type::Struct(s) => {
            let fields: Vec<String> = s
                .fields()
                .iter()
                .map(|f| format!("{}:{}", f.name, hive_type(&f.field_type)))
                .collect();
            format!("struct<{}>", fields.join(","))
        }
        Type::List(l) => format!("array<{}>", hive_type(&l.element_field.field_type)),
        Type::Map(m) => format!(
            "map<{},{}>",
            hive_type(&m.key_field.field_type),
            hive_type(&m.value_field.field_type)
        ),
    }
}

fn column(field: &NestedFieldRef) -> Column {
    let parameters = HashMap::from([
        ("iceberg.field.id".to_string(), field.id.to_string()),
        (
            "iceberg.field.optional".to_string(),
            (!field.required).to_string(),
        ),
        ("iceberg.field.current".to_string(), "true".to_string()),
    ]);
    Column::builder()
        .name(&field.name)
        .r#type(hive_type(&field.field_type))
        .set_comment(field.doc.clone())
        .set_parameters(Some(parameters))
        .build()
        .expect("a column has a name")
}

fn columns(metadata: &TableMetadata) -> Vec<Column> {
    metadata
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .map(column)
        .collect()
}

/// `table`'s definition with the columns of `metadata`'s current schema.
pub(super) fn with_columns(table: &GlueTable, metadata: &TableMetadata) -> Result<TableInput> {
    let mut storage = table
        .storage_descriptor()
        .cloned()
        .unwrap_or_else(|| StorageDescriptor::builder().build());
    storage.columns = Some(columns(metadata));
    TableInput::builder()
        .name(table.name())
        .set_description(table.description().map(str::to_string))
        .set_owner(table.owner().map(str::to_string))
        .set_retention(Some(table.retention()))
        .set_storage_descriptor(Some(storage))
        .set_partition_keys(table.partition_keys.clone())
        .set_table_type(table.table_type().map(str::to_string))
        .set_parameters(table.parameters().cloned())
        .build()
        .map_err(|e| LakeError::Catalog {
            table: table.name().to_string(),
            message: format!("building the Glue update: {e}"),
        })
}

/// The definition of a new Glue table `name` whose metadata is at `metadata_location`.
pub(super) fn new_table(
    name: &str,
    metadata: &TableMetadata,
    metadata_location: &str,
) -> Result<TableInput> {
    let storage = StorageDescriptor::builder()
        .set_columns(Some(columns(metadata)))
        .location(metadata.location())
        .build();
    TableInput::builder()
        .name(name)
        .table_type(EXTERNAL_TABLE)
        .parameters(TABLE_TYPE, ICEBERG)
        .parameters(METADATA_LOCATION, metadata_location)
        .storage_descriptor(storage)
        .build()
        .map_err(|e| LakeError::Catalog {
            table: name.to_string(),
            message: format!("building the Glue table definition: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use iceberg::spec::{ListType, NestedField, StructType};

    use super::*;

    #[test]
    fn hive_types_follow_iceberg_glue_catalogs() {
        let p = |t| Type::Primitive(t);
        assert_eq!(hive_type(&p(PrimitiveType::Long)), "bigint");
        assert_eq!(hive_type(&p(PrimitiveType::Timestamptz)), "timestamp");
        assert_eq!(
            hive_type(&p(PrimitiveType::Decimal {
                precision: 18,
                scale: 2
            })),
            "decimal(18,2)"
        );
        assert_eq!(hive_type(&p(PrimitiveType::Uuid)), "string");
        let nested = Type::Struct(StructType::new(vec![
            NestedField::required(1, "a", p(PrimitiveType::Int)).into(),
            NestedField::optional(
                2,
                "b",
                Type::List(ListType::new(
                    NestedField::list_element(3, p(PrimitiveType::String), false).into(),
                )),
            )
            .into(),
        ]));
        assert_eq!(hive_type(&nested), "struct<a:int,b:array<string>>");
    }
}
