//! Field text → typed Arrow arrays. A value that does not parse becomes null; the
//! caller compares null masks to find type errors.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::BooleanBuffer;
use arrow_schema::DataType as ArrowType;

use crate::contract::{ColumnSpec, DataType};
use crate::values;

/// Iceberg's Arrow representation of `timestamptz`.
pub const UTC: &str = "+00:00";

pub fn arrow_type(t: &DataType) -> ArrowType {
    match t {
        DataType::String | DataType::Enum(_) => ArrowType::Utf8,
        DataType::Int => ArrowType::Int32,
        DataType::Long => ArrowType::Int64,
        DataType::Double => ArrowType::Float64,
        DataType::Decimal { precision, scale } => ArrowType::Decimal128(*precision, *scale as i8),
        DataType::Boolean => ArrowType::Boolean,
        DataType::Date => ArrowType::Date32,
        DataType::Timestamp => ArrowType::Timestamp(arrow_schema::TimeUnit::Microsecond, None),
        DataType::Timestamptz => {
            ArrowType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some(UTC.into()))
        }
    }
}

/// Parses every value of `raw` as the column's type.
pub fn convert(column: &ColumnSpec, raw: &StringArray) -> ArrayRef {
    let f = &column.formats;
    match &column.data_type {
        DataType::String | DataType::Enum(_) => Arc::new(raw.clone()),
        DataType::Int => Arc::new(
            raw.iter()
                .map(|v| v.and_then(|s| s.trim().parse::<i32>().ok()))
                .collect::<Int32Array>(),
        ),
        DataType::Long => Arc::new(
            raw.iter()
                .map(|v| v.and_then(|s| s.trim().parse::<i64>().ok()))
                .collect::<Int64Array>(),
        ),
        DataType::Double => Arc::new(
            raw.iter()
                .map(|v| v.and_then(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite())))
                .collect::<Float64Array>(),
        ),
        DataType::Decimal { precision, scale } => Arc::new(
            raw.iter()
                .map(|v| v.and_then(|s| values::parse_decimal(s, *precision, *scale)))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(*precision, *scale as i8)
                .expect("contract checked precision and scale"),
        ),
        DataType::Boolean => Arc::new(
            raw.iter()
                .map(|v| v.and_then(values::parse_bool))
                .collect::<BooleanArray>(),
        ),
        DataType::Date => Arc::new(
            raw.iter()
                .map(|v| v.and_then(|s| values::parse_date(s, f)))
                .collect::<Date32Array>(),
        ),
        DataType::Timestamp => Arc::new(
            raw.iter()
                .map(|v| v.and_then(|s| values::parse_timestamp_micros(s, f, false)))
                .collect::<TimestampMicrosecondArray>(),
        ),
        DataType::Timestamptz => Arc::new(
            raw.iter()
                .map(|v| v.and_then(|s| values::parse_timestamp_micros(s, f, true)))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone(UTC),
        ),
    }
}

/// Rows where text was present but did not parse as the column's type:
/// present in `raw` and null in `typed`, computed on the validity bitmaps.
pub fn type_errors(raw: &StringArray, typed: &dyn Array) -> BooleanArray {
    let n = raw.len();
    let Some(typed_valid) = typed.logical_nulls() else {
        return BooleanArray::new(BooleanBuffer::new_unset(n), None);
    };
    let failed = !typed_valid.inner();
    let errors = match raw.nulls() {
        Some(raw_valid) => raw_valid.inner() & &failed,
        None => failed,
    };
    BooleanArray::new(errors, None)
}
