//! Row counts and column sums of a set of live files, per partition: what a
//! run's diff shows for each partition before and after its publish.

use std::collections::BTreeMap;
use std::fmt;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use futures::TryStreamExt;
use iceberg::spec::{PrimitiveType, Type};
use iceberg::table::Table;
use serde::Serialize;

use crate::commit::fence::partition_key;
use crate::commit::files::LiveFile;
use crate::error::Result;

/// An exact sum of one column: decimals keep their scale, integers do not
/// overflow (an `i128`), floats are summed as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sum {
    Decimal { units: i128, scale: i8 },
    Integer(i128),
    Float(f64),
}

impl fmt::Display for Sum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Sum::Decimal { units, scale } if scale > 0 => {
                let divisor = 10i128.pow(u32::from(scale.unsigned_abs()));
                let sign = if units < 0 { "-" } else { "" };
                let (whole, frac) = (units.abs() / divisor, units.abs() % divisor);
                write!(f, "{sign}{whole}.{frac:0width$}", width = scale as usize)
            }
            Sum::Decimal { units, .. } | Sum::Integer(units) => write!(f, "{units}"),
            Sum::Float(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for Sum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One partition's rows, and the sums of the chosen columns over them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub rows: u64,
    pub sums: BTreeMap<String, Sum>,
}

/// The table's columns that can be summed (numbers and decimals), by name.
pub fn summable_columns(table: &Table) -> Vec<String> {
    columns_where(table, |t| {
        matches!(
            t,
            PrimitiveType::Decimal { .. }
                | PrimitiveType::Int
                | PrimitiveType::Long
                | PrimitiveType::Float
                | PrimitiveType::Double
        )
    })
}

/// The table's decimal columns (amounts, prices), by name: what a diff sums
/// unless told which columns to sum.
pub fn decimal_columns(table: &Table) -> Vec<String> {
    columns_where(table, |t| matches!(t, PrimitiveType::Decimal { .. }))
}

fn columns_where(table: &Table, keep: impl Fn(&PrimitiveType) -> bool) -> Vec<String> {
    let schema = table.metadata().current_schema();
    schema
        .as_struct()
        .fields()
        .iter()
        .filter(|f| matches!(&*f.field_type, Type::Primitive(p) if keep(p)))
        .map(|f| f.name.clone())
        .collect()
}

/// Per partition (a [`partition_key`] path) of `files`: its rows and the
/// sums of `columns` (every one a [`summable_columns`] name). Rows come from
/// the manifests; the sums read the files' `columns` only.
pub async fn totals_by_partition<'f>(
    table: &Table,
    files: impl IntoIterator<Item = &'f LiveFile>,
    columns: &[String],
) -> Result<BTreeMap<String, Totals>> {
    let meta = table.metadata();
    let schema = meta.current_schema();
    let field_ids: Vec<i32> = columns
        .iter()
        .filter_map(|c| schema.field_by_name(c).map(|f| f.id))
        .collect();
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    for file in files {
        let entry = totals
            .entry(partition_key(meta, &file.partition))
            .or_default();
        entry.rows += file.records;
        if field_ids.is_empty() {
            continue;
        }
        let mut batches =
            crate::data::scan::read_columns(table, std::slice::from_ref(file), &field_ids)?;
        while let Some(batch) = batches.try_next().await? {
            add_batch(&mut entry.sums, &batch);
        }
    }
    Ok(totals)
}

/// Adds each column of `batch` to its sum.
fn add_batch(sums: &mut BTreeMap<String, Sum>, batch: &RecordBatch) {
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let Some(part) = column_sum(column.as_ref()) else {
            continue;
        };
        let total = sums.entry(field.name().clone()).or_insert(match part {
            Sum::Decimal { scale, .. } => Sum::Decimal { units: 0, scale },
            Sum::Integer(_) => Sum::Integer(0),
            Sum::Float(_) => Sum::Float(0.0),
        });
        *total = match (*total, part) {
            (Sum::Decimal { units, scale }, Sum::Decimal { units: more, .. }) => Sum::Decimal {
                units: units + more,
                scale,
            },
            (Sum::Integer(a), Sum::Integer(b)) => Sum::Integer(a + b),
            (Sum::Float(a), Sum::Float(b)) => Sum::Float(a + b),
            (kept, _) => kept,
        };
    }
}

/// The sum of one column's non-null values; `None` for a type not summed.
fn column_sum(column: &dyn Array) -> Option<Sum> {
    Some(match column.data_type() {
        DataType::Decimal128(_, scale) => Sum::Decimal {
            units: column
                .as_primitive::<Decimal128Type>()
                .iter()
                .flatten()
                .sum(),
            scale: *scale,
        },
        DataType::Int32 => Sum::Integer(
            column
                .as_primitive::<Int32Type>()
                .iter()
                .flatten()
                .map(i128::from)
                .sum(),
        ),
        DataType::Int64 => Sum::Integer(
            column
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .map(i128::from)
                .sum(),
        ),
        DataType::Float32 => Sum::Float(
            column
                .as_primitive::<Float32Type>()
                .iter()
                .flatten()
                .map(f64::from)
                .sum(),
        ),
        DataType::Float64 => {
            Sum::Float(column.as_primitive::<Float64Type>().iter().flatten().sum())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_print_exactly_in_their_scale() {
        let cases = [
            (
                Sum::Decimal {
                    units: 123_456,
                    scale: 2,
                },
                "1234.56",
            ),
            (
                Sum::Decimal {
                    units: -5,
                    scale: 2,
                },
                "-0.05",
            ),
            (Sum::Decimal { units: 7, scale: 0 }, "7"),
            (Sum::Integer(-42), "-42"),
            (Sum::Float(1.5), "1.5"),
        ];
        for (sum, text) in cases {
            assert_eq!(sum.to_string(), text);
        }
    }

    #[test]
    fn a_batch_adds_to_each_numeric_column_and_skips_the_rest() {
        use arrow_array::{Decimal128Array, Int64Array, StringArray};
        use std::sync::Arc;
        let amounts = Decimal128Array::from(vec![Some(150), None, Some(-25)])
            .with_precision_and_scale(12, 2)
            .unwrap();
        let batch = RecordBatch::try_from_iter([
            ("amount", Arc::new(amounts) as Arc<dyn Array>),
            ("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as _),
            (
                "name",
                Arc::new(StringArray::from(vec!["a", "b", "c"])) as _,
            ),
        ])
        .unwrap();
        let mut sums = BTreeMap::new();
        add_batch(&mut sums, &batch);
        add_batch(&mut sums, &batch);
        assert_eq!(sums["amount"].to_string(), "2.50");
        assert_eq!(sums["n"], Sum::Integer(12));
        assert!(!sums.contains_key("name"));
    }
}
