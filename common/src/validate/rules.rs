//! The contract's per-column rules as violation masks (true = the row breaks the rule).

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Datum, Decimal128Array, Float64Array, Int32Array,
    Int64Array, Scalar, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::BooleanBuffer;
use arrow_ord::cmp;
use arrow_select::filter::prep_null_mask_filter;

use super::allowed::AllowedSet;
use super::convert::UTC;
use super::pattern::Pattern;
use crate::contract::{Bound, ColumnSpec, DataType};

/// What a violation is about, to word its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Missing,
    Required,
    Type,
    Min,
    Max,
    Regex,
    Allowed,
    MaxLength,
    Partition,
}

pub struct Violation {
    pub column: usize,
    pub rule: Rule,
    pub mask: BooleanArray,
}

/// A column's allowed values and pattern, prepared once per task.
pub struct Prepared {
    allowed: Option<AllowedSet>,
    pattern: Option<Pattern>,
}

impl Prepared {
    pub fn for_columns(columns: &[ColumnSpec]) -> Vec<Prepared> {
        columns
            .iter()
            .map(|c| Prepared {
                allowed: c.allowed.as_deref().map(AllowedSet::new),
                pattern: c.regex.as_ref().map(Pattern::new),
            })
            .collect()
    }
}

fn bound_scalar(t: &DataType, b: Bound) -> Option<Arc<dyn Datum>> {
    let clamp32 = |v: i64| v.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    Some(match (t, b) {
        (DataType::Int, Bound::Integer(v)) => Arc::new(Int32Array::new_scalar(clamp32(v))),
        (DataType::Long, Bound::Integer(v)) => Arc::new(Int64Array::new_scalar(v)),
        (DataType::Double, Bound::Double(v)) => Arc::new(Float64Array::new_scalar(v)),
        (DataType::Double, Bound::Integer(v)) => Arc::new(Float64Array::new_scalar(v as f64)),
        (DataType::Decimal { precision, scale }, Bound::Decimal(v)) => Arc::new(Scalar::new(
            Decimal128Array::from(vec![v])
                .with_precision_and_scale(*precision, *scale as i8)
                .ok()?,
        )),
        (DataType::Date, Bound::Date(v)) => Arc::new(Date32Array::new_scalar(v)),
        (DataType::Timestamp, Bound::Micros(v)) => {
            Arc::new(Scalar::new(TimestampMicrosecondArray::from(vec![v])))
        }
        (DataType::Timestamptz, Bound::Micros(v)) => Arc::new(Scalar::new(
            TimestampMicrosecondArray::from(vec![v]).with_timezone(UTC),
        )),
        _ => return None,
    })
}

fn no_nulls(mask: BooleanArray) -> BooleanArray {
    if mask.null_count() == 0 {
        mask
    } else {
        prep_null_mask_filter(&mask)
    }
}

/// Every rule of one column over one batch.
pub fn check_column(
    index: usize,
    column: &ColumnSpec,
    raw: &StringArray,
    typed: &ArrayRef,
    prepared: &Prepared,
    column_missing: bool,
    out: &mut Vec<Violation>,
) {
    let mut push = |rule, mask: BooleanArray| {
        if mask.true_count() > 0 {
            out.push(Violation {
                column: index,
                rule,
                mask,
            });
        }
    };
    if column.required {
        let rule = if column_missing {
            Rule::Missing
        } else {
            Rule::Required
        };
        push(rule, arrow_arith::boolean::is_null(raw).expect("is_null"));
    }
    push(Rule::Type, super::convert::type_errors(raw, typed.as_ref()));
    if let Some(s) = column.min.and_then(|b| bound_scalar(&column.data_type, b)) {
        push(
            Rule::Min,
            no_nulls(cmp::lt(typed, s.as_ref()).expect("same types")),
        );
    }
    if let Some(s) = column.max.and_then(|b| bound_scalar(&column.data_type, b)) {
        push(
            Rule::Max,
            no_nulls(cmp::gt(typed, s.as_ref()).expect("same types")),
        );
    }
    if let Some(pattern) = &prepared.pattern {
        push(Rule::Regex, violations_where(raw, |v| !pattern.is_match(v)));
    }
    if let Some(set) = &prepared.allowed {
        push(Rule::Allowed, violations_where(raw, |v| !set.contains(v)));
    }
    if let Some(max) = column.max_length {
        push(
            Rule::MaxLength,
            violations_where(raw, |v| v.len() > max && v.chars().count() > max),
        );
    }
}

/// True where `violates` holds of a present value; false for nulls (the
/// `required` rule speaks for those). Packed 64 rows to a word as it goes.
pub(super) fn violations_where(raw: &StringArray, violates: impl Fn(&str) -> bool) -> BooleanArray {
    let rows = raw.len();
    let mask = match raw.nulls() {
        Some(present) => {
            BooleanBuffer::collect_bool(rows, |i| present.is_valid(i) && violates(raw.value(i)))
        }
        None => BooleanBuffer::collect_bool(rows, |i| violates(raw.value(i))),
    };
    BooleanArray::new(mask, None)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Row by row, packed into words: the same mask, nulls never violating.
        #[test]
        fn a_mask_is_the_rule_row_by_row(
            values in proptest::collection::vec(proptest::option::of("[ab]{0,3}"), 0..200),
        ) {
            let raw = StringArray::from(values.clone());
            let rule = |v: &str| v.contains('a');
            let mask = violations_where(&raw, rule);
            prop_assert_eq!(mask.null_count(), 0);
            for (i, v) in values.iter().enumerate() {
                prop_assert_eq!(mask.value(i), v.as_deref().is_some_and(rule), "row {}", i);
            }
            let present: Vec<String> = values.into_iter().flatten().collect();
            let dense = StringArray::from(present.clone());
            let mask = violations_where(&dense, rule);
            for (i, v) in present.iter().enumerate() {
                prop_assert_eq!(mask.value(i), rule(v));
            }
        }
    }
}
