//! The Iceberg partition value (a `Struct`) of the partition a task owns.

use iceberg::spec::{Literal, Struct};

use super::TableRole;
use crate::contract::{Contract, DataType, TransformKind};
use crate::error::{FloeError, Result};
use crate::validate::PartitionValue;
use crate::values;

/// The partition struct for `role`'s table. Silver gets the transform's value of
/// the task's partition; quarantine and condemned get its label (identity on
/// `source_partition`). Unpartitioned contracts get the empty struct.
pub fn partition_struct(
    role: TableRole,
    contract: &Contract,
    owned: Option<&PartitionValue>,
) -> Result<Struct> {
    let (Some(p), Some(owned)) = (&contract.target.partition, owned) else {
        return Ok(Struct::empty());
    };
    if role != TableRole::Silver {
        return Ok(Struct::from_iter([Some(Literal::string(&owned.label))]));
    }
    let column = &contract.columns[p.column];
    let literal = match (p.kind, owned.ordinal) {
        (TransformKind::Day, Some(days)) => Literal::date(days),
        (TransformKind::Month | TransformKind::Year, Some(v)) => Literal::int(v),
        (TransformKind::Identity, _) => {
            identity_literal(&column.data_type, &owned.label, &column.formats).ok_or_else(|| {
                FloeError::BadPartition {
                    label: owned.label.clone(),
                    problem: format!(
                        "is not a valid {} value for identity({})",
                        column.data_type, column.name
                    ),
                }
            })?
        }
        _ => {
            return Err(FloeError::BadPartition {
                label: owned.label.clone(),
                problem: "has no transform value".into(),
            })
        }
    };
    Ok(Struct::from_iter([Some(literal)]))
}

fn identity_literal(t: &DataType, label: &str, formats: &[String]) -> Option<Literal> {
    Some(match t {
        DataType::String | DataType::Enum(_) => Literal::string(label),
        DataType::Int => Literal::int(label.trim().parse::<i32>().ok()?),
        DataType::Long => Literal::long(label.trim().parse::<i64>().ok()?),
        DataType::Date => Literal::date(values::parse_date(label, formats)?),
        _ => return None,
    })
}
