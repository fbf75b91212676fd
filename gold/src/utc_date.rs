//! `CAST(ts AS DATE)` on UTC timestamps as integer division.
//!
//! Per-day models group by the day of a `timestamptz`. Arrow's cast turns every
//! value into a chrono date-time in the column's time zone and back, which is a
//! quarter of such a model's CPU; for UTC (and zone-less) timestamps the day is
//! the value divided by the units in a day, rounded down. [`UtcDateCast`]
//! rewrites those casts in projections and aggregations into [`UtcDate`], which
//! does exactly that and gives the same dates, nulls and errors as the cast.

use std::any::Any;
use std::sync::{Arc, LazyLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowTimestampType, Date32Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The days from 1970-01-01 to chrono's first and last dates: beyond them the
/// cast fails, and so does [`UtcDate`] (by handing the batch to the cast).
static DAY_RANGE: LazyLock<(i64, i64)> = LazyLock::new(|| {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    (
        (chrono::NaiveDate::MIN - epoch).num_days(),
        (chrono::NaiveDate::MAX - epoch).num_days(),
    )
});

/// Rewrites `CAST(x AS DATE)` into `floe_utc_date(x)` where `x` is a UTC or
/// zone-less timestamp, in projections and aggregations (filters keep the
/// cast, so what is pushed down to the scan does not change).
#[derive(Debug, Default)]
pub struct UtcDateCast;

impl OptimizerRule for UtcDateCast {
    fn name(&self) -> &str {
        "floe_utc_date_cast"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !matches!(plan, LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_)) {
            return Ok(Transformed::no(plan));
        }
        let schema = merge_schema(&plan.inputs());
        // The node's output names (and so its schema) must not change.
        let names = NamePreserver::new(&plan);
        plan.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|e| rewrite_cast(e, &schema))?;
            Ok(Transformed::new_transformed(
                name.restore(rewritten.data),
                rewritten.transformed,
            ))
        })
    }
}

fn rewrite_cast(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast {
        expr: inner,
        data_type: DataType::Date32,
    }) = &expr
    else {
        return Ok(Transformed::no(expr));
    };
    match inner.get_type(schema)? {
        DataType::Timestamp(_, tz) if tz.as_deref().is_none_or(is_utc) => {
            let inner = (**inner).clone();
            Ok(Transformed::yes(utc_date().call(vec![inner])))
        }
        _ => Ok(Transformed::no(expr)),
    }
}

/// The zone names that are UTC itself (Iceberg's `timestamptz` reads as "+00:00").
fn is_utc(tz: &str) -> bool {
    matches!(tz, "+00:00" | "UTC" | "Etc/UTC")
}

fn utc_date() -> ScalarUDF {
    ScalarUDF::new_from_impl(UtcDate::default())
}

/// The UTC date of a timestamp, as `CAST(ts AS DATE)` gives it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UtcDate {
    signature: Signature,
}

impl Default for UtcDate {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for UtcDate {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "floe_utc_date"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return datafusion::common::plan_err!("floe_utc_date takes one argument");
        };
        match value {
            ColumnarValue::Array(array) => Ok(ColumnarValue::Array(utc_days(array)?)),
            scalar => scalar.cast_to(&DataType::Date32, None),
        }
    }
}

/// The days since 1970-01-01 of each timestamp; the cast itself for a batch
/// holding a value beyond chrono's dates (so the error is the cast's).
pub fn utc_days(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let days = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => divide::<TimestampSecondType>(array, 86_400),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            divide::<TimestampMillisecondType>(array, 86_400_000)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            divide::<TimestampMicrosecondType>(array, 86_400_000_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            divide::<TimestampNanosecondType>(array, 86_400_000_000_000)
        }
        _ => None,
    };
    match days {
        Some(days) => Ok(Arc::new(days)),
        None => arrow_cast::cast(array, &DataType::Date32),
    }
}

fn divide<T: ArrowTimestampType>(
    array: &ArrayRef,
    per_day: i64,
) -> Option<PrimitiveArray<Date32Type>> {
    let (first, last) = *DAY_RANGE;
    array
        .as_primitive::<T>()
        .try_unary::<_, Date32Type, ()>(|x| {
            let day = x.div_euclid(per_day);
            if (first..=last).contains(&day) {
                Ok(day as i32)
            } else {
                Err(())
            }
        })
        .ok()
}

#[cfg(test)]
#[path = "utc_date_tests.rs"]
mod tests;
