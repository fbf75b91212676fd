//! The partition a task owns, and which rows fall outside it.

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, StringArray, TimestampMicrosecondArray,
};
use chrono::{Datelike, NaiveDate};

use crate::contract::{DataType, PartitionTransform, TransformKind};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A partition as a label (`2025-01-05` for day, `2025-01` for month, `2025` for
/// year, the value itself for identity) and, for temporal transforms, its Iceberg
/// transform value (days, months or years since 1970).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionValue {
    pub label: String,
    pub ordinal: Option<i32>,
}

impl PartitionValue {
    /// Parses a label for `transform`; None if it is not of the transform's form.
    pub fn parse(kind: TransformKind, label: &str) -> Option<Self> {
        let ordinal = match kind {
            TransformKind::Identity => None,
            TransformKind::Day => {
                let d = NaiveDate::parse_from_str(label, "%Y-%m-%d").ok()?;
                Some(days_since_epoch(d))
            }
            TransformKind::Month => {
                let d = NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d").ok()?;
                Some((d.year() - 1970) * 12 + d.month0() as i32)
            }
            TransformKind::Year => {
                let y: i32 = label.parse().ok().filter(|y| (1..=9999).contains(y))?;
                Some(y - 1970)
            }
        };
        Some(Self {
            label: label.to_string(),
            ordinal,
        })
    }
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

fn ordinal_of_day(kind: TransformKind, days: i64) -> i64 {
    match kind {
        TransformKind::Day | TransformKind::Identity => days,
        TransformKind::Month | TransformKind::Year => {
            let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days);
            if kind == TransformKind::Month {
                (d.year() as i64 - 1970) * 12 + d.month0() as i64
            } else {
                d.year() as i64 - 1970
            }
        }
    }
}

/// Rows whose partition differs from `owned` (nulls are not flagged here: the
/// partition column is required, so a null already has its own reason).
pub fn outside(
    transform: &PartitionTransform,
    data_type: &DataType,
    raw: &StringArray,
    typed: &ArrayRef,
    owned: &PartitionValue,
) -> BooleanArray {
    let kind = transform.kind;
    match (kind, owned.ordinal) {
        (TransformKind::Identity, _) | (_, None) => raw
            .iter()
            .map(|v| Some(v.is_some_and(|s| s.trim() != owned.label)))
            .collect(),
        (_, Some(target)) => {
            let day_of = |i: usize| -> Option<i64> {
                match data_type {
                    DataType::Date => {
                        let a = typed.as_any().downcast_ref::<Date32Array>()?;
                        a.is_valid(i).then(|| a.value(i) as i64)
                    }
                    _ => {
                        let a = typed.as_any().downcast_ref::<TimestampMicrosecondArray>()?;
                        a.is_valid(i).then(|| a.value(i).div_euclid(MICROS_PER_DAY))
                    }
                }
            };
            (0..typed.len())
                .map(|i| Some(day_of(i).is_some_and(|d| ordinal_of_day(kind, d) != target as i64)))
                .collect()
        }
    }
}

/// The label of the partition a row's value falls in, for messages.
pub fn label_of(
    kind: TransformKind,
    data_type: &DataType,
    raw: &StringArray,
    typed: &ArrayRef,
    i: usize,
) -> String {
    if kind == TransformKind::Identity {
        return if raw.is_valid(i) {
            raw.value(i).trim().to_string()
        } else {
            Default::default()
        };
    }
    let days = match data_type {
        DataType::Date => typed
            .as_any()
            .downcast_ref::<Date32Array>()
            .map(|a| a.value(i) as i64),
        _ => typed
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .map(|a| a.value(i).div_euclid(MICROS_PER_DAY)),
    };
    let Some(days) = days else { return "?".into() };
    let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days);
    match kind {
        TransformKind::Day | TransformKind::Identity => d.format("%Y-%m-%d").to_string(),
        TransformKind::Month => d.format("%Y-%m").to_string(),
        TransformKind::Year => d.format("%Y").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_iceberg_transform_values() {
        assert_eq!(
            PartitionValue::parse(TransformKind::Day, "1970-01-02")
                .unwrap()
                .ordinal,
            Some(1)
        );
        assert_eq!(
            PartitionValue::parse(TransformKind::Month, "1971-02")
                .unwrap()
                .ordinal,
            Some(13)
        );
        assert_eq!(
            PartitionValue::parse(TransformKind::Year, "2025")
                .unwrap()
                .ordinal,
            Some(55)
        );
        assert!(PartitionValue::parse(TransformKind::Day, "2025-01").is_none());
        assert_eq!(ordinal_of_day(TransformKind::Month, 31), 1);
    }
}
