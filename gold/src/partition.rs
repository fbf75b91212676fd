//! Which rows belong to a partition: the filter that restricts a model's input
//! to the Silver partition being rebuilt, and checks its output stays there.

use arrow_schema::{DataType, TimeUnit};
use chrono::{Datelike, Months, NaiveDate};
use datafusion::common::ScalarValue;
use datafusion::prelude::{col, lit, Expr};
use floe_common::contract::TransformKind;

/// The values of a column that fall in one partition.
#[derive(Debug, Clone, PartialEq)]
pub enum Bounds {
    /// Exactly this value (identity of a string or an integer).
    Equals(ScalarValue),
    /// From the first value, inclusive, to the second, exclusive.
    Range(ScalarValue, ScalarValue),
}

impl Bounds {
    /// The partition's first value: every row in it has a partition value
    /// equal to this one's.
    pub fn first(&self) -> &ScalarValue {
        match self {
            Bounds::Equals(v) | Bounds::Range(v, _) => v,
        }
    }
}

/// The values of partition `label` of a table partitioned by `kind(column)`,
/// where the column has Arrow type `t`. None when the label does not fit.
pub fn partition_bounds(kind: TransformKind, t: &DataType, label: &str) -> Option<Bounds> {
    if kind == TransformKind::Identity && !matches!(t, DataType::Date32 | DataType::Timestamp(..)) {
        let value = match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                ScalarValue::Utf8(Some(label.to_string()))
            }
            DataType::Int32 => ScalarValue::Int32(Some(label.parse().ok()?)),
            DataType::Int64 => ScalarValue::Int64(Some(label.parse().ok()?)),
            _ => return None,
        };
        return Some(Bounds::Equals(value));
    }
    let (start, end) = day_range(kind, label)?;
    let bound = |d: NaiveDate| -> Option<ScalarValue> {
        Some(match t {
            DataType::Date32 => ScalarValue::Date32(Some(days(d))),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                let micros = d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros();
                ScalarValue::TimestampMicrosecond(Some(micros), tz.clone())
            }
            _ => return None,
        })
    };
    Some(Bounds::Range(bound(start)?, bound(end)?))
}

/// The rows of partition `label` of a table partitioned by `kind(column)`, where
/// `column` has Arrow type `t`. None when the label does not fit.
pub fn partition_filter(
    kind: TransformKind,
    column: &str,
    t: &DataType,
    label: &str,
) -> Option<Expr> {
    let c = col(format!("\"{}\"", column.replace('"', "\"\"")));
    Some(match partition_bounds(kind, t, label)? {
        Bounds::Equals(v) => c.eq(lit(v)),
        Bounds::Range(start, end) => c.clone().gt_eq(lit(start)).and(c.lt(lit(end))),
    })
}

/// The days `[start, end)` partition `label` covers.
fn day_range(kind: TransformKind, label: &str) -> Option<(NaiveDate, NaiveDate)> {
    match kind {
        TransformKind::Day | TransformKind::Identity => {
            let d = NaiveDate::parse_from_str(label, "%Y-%m-%d").ok()?;
            Some((d, d.succ_opt()?))
        }
        TransformKind::Month => {
            let d = NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d").ok()?;
            Some((d, d.checked_add_months(Months::new(1))?))
        }
        TransformKind::Year => {
            let y: i32 = label.parse().ok()?;
            let d = NaiveDate::from_ymd_opt(y, 1, 1)?;
            Some((d, NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)?))
        }
    }
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_partition() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            day_range(TransformKind::Day, "2025-01-31"),
            Some((d("2025-01-31"), d("2025-02-01")))
        );
        assert_eq!(
            day_range(TransformKind::Month, "2024-12"),
            Some((d("2024-12-01"), d("2025-01-01")))
        );
        assert_eq!(
            day_range(TransformKind::Year, "2024"),
            Some((d("2024-01-01"), d("2025-01-01")))
        );
        assert_eq!(day_range(TransformKind::Day, "2025-02-30"), None);
    }

    #[test]
    fn a_filter_fits_the_column_type() {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        let f = partition_filter(TransformKind::Day, "ts", &utc, "2025-01-05").unwrap();
        let text = f.to_string();
        assert!(
            text.contains("ts >= TimestampMicrosecond(1736035200000000"),
            "{text}"
        );
        assert!(
            text.contains("ts < TimestampMicrosecond(1736121600000000"),
            "{text}"
        );
        let f = partition_filter(
            TransformKind::Identity,
            "day",
            &DataType::Date32,
            "2025-01-05",
        );
        assert!(f.unwrap().to_string().contains("2025-01-05"));
        assert!(partition_filter(TransformKind::Day, "x", &DataType::Utf8, "2025-01-05").is_none());
        let f = partition_filter(TransformKind::Identity, "region", &DataType::Utf8, "EU").unwrap();
        assert!(f.to_string().contains("EU"));
    }
}
