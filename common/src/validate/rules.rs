//! The contract's per-column rules as violation masks (true = the row breaks the rule).

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Datum, Decimal128Array, Float64Array, Int32Array,
    Int64Array, Scalar, StringArray, TimestampMicrosecondArray,
};
use arrow_ord::cmp;
use arrow_select::filter::prep_null_mask_filter;

use super::allowed::AllowedSet;
use super::convert::UTC;
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

/// Allowed-value sets, built once per task.
pub struct AllowedSets(pub Vec<Option<AllowedSet>>);

impl AllowedSets {
    pub fn new(columns: &[ColumnSpec]) -> Self {
        Self(
            columns
                .iter()
                .map(|c| c.allowed.as_deref().map(AllowedSet::new))
                .collect(),
        )
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
    allowed: Option<&AllowedSet>,
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
    if let Some(re) = &column.regex {
        let matches = arrow_string::regexp::regexp_is_match_scalar(raw, re.as_str(), None)
            .expect("contract checked the pattern");
        let violates = arrow_arith::boolean::not(&matches).expect("not");
        push(Rule::Regex, no_nulls(violates));
    }
    if let Some(set) = allowed {
        push(
            Rule::Allowed,
            raw.iter()
                .map(|v| Some(v.is_some_and(|s| !set.contains(s))))
                .collect(),
        );
    }
    if let Some(max) = column.max_length {
        push(
            Rule::MaxLength,
            raw.iter()
                .map(|v| Some(v.is_some_and(|s| s.len() > max && s.chars().count() > max)))
                .collect(),
        );
    }
}
