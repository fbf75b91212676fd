//! Schemas on both sides of a model: what it reads (Silver, as the contract
//! defines it) and the Iceberg table its result goes to.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Schema as ArrowSchema, SchemaRef};
use chrono::NaiveDate;
use floe_common::contract::{Contract, ModelSpec, TransformKind};
use floe_common::validate::PartitionValue;
use iceberg::spec::{
    Literal, NestedField, PrimitiveType, Schema, Struct, Transform, Type, UnboundPartitionSpec,
};
use iceberg::TableCreation;

use crate::error::{iceberg_error, model_error};
use crate::error::{GoldError, Result};

/// Silver's Arrow schema, exactly as a scan of the Iceberg table returns it.
pub fn silver_arrow_schema(contract: &Contract) -> Result<SchemaRef> {
    let schema = floe_common::table::silver_schema(contract)?;
    arrow_of(&schema)
}

pub(crate) fn arrow_of(schema: &Schema) -> Result<SchemaRef> {
    iceberg::arrow::schema_to_arrow_schema(schema)
        .map(Arc::new)
        .map_err(|e| {
            GoldError::Floe(floe_common::FloeError::Iceberg {
                context: "converting a schema to Arrow".into(),
                source: Box::new(e),
            })
        })
}

/// The Iceberg type a result column of this Arrow type is stored as; None when
/// a Gold table cannot hold it.
pub fn iceberg_type(t: &DataType) -> Option<PrimitiveType> {
    Some(match t {
        DataType::Boolean => PrimitiveType::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            PrimitiveType::Int
        }
        DataType::Int64 | DataType::UInt32 => PrimitiveType::Long,
        DataType::Float32 => PrimitiveType::Float,
        DataType::Float64 => PrimitiveType::Double,
        DataType::Decimal128(p, s) if *p <= 38 && *s >= 0 => PrimitiveType::Decimal {
            precision: u32::from(*p),
            scale: *s as u32,
        },
        DataType::Date32 => PrimitiveType::Date,
        DataType::Timestamp(_, None) => PrimitiveType::Timestamp,
        DataType::Timestamp(_, Some(_)) => PrimitiveType::Timestamptz,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => PrimitiveType::String,
        _ => return None,
    })
}

/// The Gold table's schema: the result's columns in order, field ids 1..=n.
pub fn gold_schema(m: &ModelSpec, output: &ArrowSchema) -> Result<Schema> {
    let mut fields = Vec::with_capacity(output.fields().len());
    for (i, f) in output.fields().iter().enumerate() {
        let t = iceberg_type(f.data_type()).ok_or_else(|| {
            model_error(
                m,
                format!("result column `{}` has an unsupported type", f.name()),
            )
        })?;
        fields.push(Arc::new(NestedField::optional(
            i as i32 + 1,
            f.name(),
            Type::Primitive(t),
        )));
    }
    Schema::builder()
        .with_schema_id(0)
        .with_fields(fields)
        .build()
        .map_err(|e| iceberg_error("building a Gold schema", e))
}

/// How Floe creates a model's table on first use.
pub fn gold_creation(
    contract: &Contract,
    m: &ModelSpec,
    output: &ArrowSchema,
) -> Result<TableCreation> {
    let schema = gold_schema(m, output)?;
    let properties = HashMap::from([
        ("write.format.default".to_string(), "parquet".to_string()),
        (
            "write.parquet.compression-codec".to_string(),
            "zstd".to_string(),
        ),
        ("floe.pipeline".to_string(), contract.name.clone()),
        ("floe.table-role".to_string(), "gold".to_string()),
        ("floe.model".to_string(), m.name.clone()),
    ]);
    let creation = TableCreation::builder()
        .name(m.table.name.clone())
        .properties(properties);
    let Some(p) = &m.partition else {
        return Ok(creation.schema(schema).build());
    };
    let field = schema.field_by_name(&p.column).ok_or_else(|| {
        model_error(
            m,
            format!("partition column `{}` is not in its result", p.column),
        )
    })?;
    let (transform, suffix) = match p.kind {
        TransformKind::Identity => (Transform::Identity, ""),
        TransformKind::Day => (Transform::Day, "_day"),
        TransformKind::Month => (Transform::Month, "_month"),
        TransformKind::Year => (Transform::Year, "_year"),
    };
    let spec = UnboundPartitionSpec::builder()
        .with_spec_id(0)
        .add_partition_field(field.id, format!("{}{suffix}", p.column), transform)
        .map_err(|e| iceberg_error("building a Gold partition spec", e))?
        .build();
    Ok(creation.schema(schema).partition_spec(spec).build())
}

/// The Gold partition value of the Silver partition `label`.
pub fn gold_partition(m: &ModelSpec, output: &ArrowSchema, label: Option<&str>) -> Result<Struct> {
    let (Some(p), Some(label)) = (&m.partition, label) else {
        return Ok(Struct::empty());
    };
    let bad = || {
        model_error(
            m,
            format!("partition `{label}` is not a {:?} partition", p.kind),
        )
    };
    let value = PartitionValue::parse(p.kind, label).ok_or_else(bad)?;
    let literal = match (p.kind, value.ordinal) {
        (TransformKind::Day, Some(days)) => Literal::date(days),
        (TransformKind::Month | TransformKind::Year, Some(v)) => Literal::int(v),
        (TransformKind::Identity, _) => {
            let t = output
                .field_with_name(&p.column)
                .map(|f| f.data_type().clone())
                .map_err(|_| bad())?;
            identity_literal(&t, label).ok_or_else(bad)?
        }
        _ => return Err(bad()),
    };
    Ok(Struct::from_iter([Some(literal)]))
}

fn identity_literal(t: &DataType, label: &str) -> Option<Literal> {
    Some(match t {
        DataType::Date32 => {
            let d = NaiveDate::parse_from_str(label, "%Y-%m-%d").ok()?;
            Literal::date((d - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            Literal::int(label.parse::<i32>().ok()?)
        }
        DataType::Int64 => Literal::long(label.parse::<i64>().ok()?),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Literal::string(label),
        _ => return None,
    })
}
