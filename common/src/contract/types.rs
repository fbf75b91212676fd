//! Column types, partition transforms and rule bounds, parsed from their contract spelling.

use std::fmt;

/// The logical type of a column, as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataType {
    String,
    Int,
    Long,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Boolean,
    Date,
    /// Wall-clock time without zone (Iceberg `timestamp`).
    Timestamp,
    /// An instant, stored in UTC (Iceberg `timestamptz`).
    Timestamptz,
    /// A string restricted to the listed values.
    Enum(Vec<String>),
}

pub const TYPE_SPELLINGS: &str =
    "one of string, int, long, double, decimal(p,s), boolean, date, timestamp, timestamptz, enum";

impl DataType {
    /// Parses `decimal(12,2)`, `timestamptz`, ... Enum values come from the column's `values`.
    pub fn parse(spelling: &str, enum_values: Option<&[String]>) -> Result<Self, String> {
        let s = spelling.trim().to_ascii_lowercase();
        Ok(match s.as_str() {
            "string" => DataType::String,
            "int" | "integer" => DataType::Int,
            "long" | "bigint" => DataType::Long,
            "double" => DataType::Double,
            "boolean" | "bool" => DataType::Boolean,
            "date" => DataType::Date,
            "timestamp" => DataType::Timestamp,
            "timestamptz" => DataType::Timestamptz,
            "enum" => DataType::Enum(enum_values.map(<[String]>::to_vec).unwrap_or_default()),
            _ => return parse_decimal_type(&s).ok_or_else(|| format!("type `{spelling}`")),
        })
    }

    pub fn is_temporal(&self) -> bool {
        matches!(
            self,
            DataType::Date | DataType::Timestamp | DataType::Timestamptz
        )
    }

    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            DataType::Int | DataType::Long | DataType::Double | DataType::Decimal { .. }
        )
    }
}

fn parse_decimal_type(s: &str) -> Option<DataType> {
    let inner = s.strip_prefix("decimal(")?.strip_suffix(')')?;
    let (p, sc) = inner.split_once(',')?;
    let precision: u8 = p.trim().parse().ok()?;
    let scale: u8 = sc.trim().parse().ok()?;
    // Iceberg decimals hold at most 38 digits.
    (1..=38)
        .contains(&precision)
        .then_some(())
        .filter(|_| scale <= precision)?;
    Some(DataType::Decimal { precision, scale })
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::String => f.write_str("string"),
            DataType::Int => f.write_str("int"),
            DataType::Long => f.write_str("long"),
            DataType::Double => f.write_str("double"),
            DataType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            DataType::Boolean => f.write_str("boolean"),
            DataType::Date => f.write_str("date"),
            DataType::Timestamp => f.write_str("timestamp"),
            DataType::Timestamptz => f.write_str("timestamptz"),
            DataType::Enum(_) => f.write_str("enum"),
        }
    }
}

/// How the Silver table is partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformKind {
    Identity,
    Year,
    Month,
    Day,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTransform {
    pub kind: TransformKind,
    /// Index of the source column in the contract's column list.
    pub column: usize,
}

pub const PARTITION_SPELLINGS: &str =
    "identity(col), year(col), month(col), day(col) or none, naming a declared column";

/// Parses `day(ts)` into the transform and the column name it applies to.
pub fn parse_transform(spelling: &str) -> Option<(TransformKind, String)> {
    let s = spelling.trim();
    let open = s.find('(')?;
    let column = s[open + 1..].strip_suffix(')')?.trim();
    let kind = match s[..open].trim().to_ascii_lowercase().as_str() {
        "identity" => TransformKind::Identity,
        "year" | "years" => TransformKind::Year,
        "month" | "months" => TransformKind::Month,
        "day" | "days" => TransformKind::Day,
        _ => return None,
    };
    (!column.is_empty()).then(|| (kind, column.to_string()))
}

/// A min/max bound, in the column's own unit so comparisons are exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// int and long columns.
    Integer(i64),
    Double(f64),
    /// The unscaled value at the column's scale (12.5 at scale 2 is 1250).
    Decimal(i128),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch.
    Micros(i64),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Integer(v) => write!(f, "{v}"),
            Bound::Double(v) => write!(f, "{v}"),
            Bound::Decimal(v) => write!(f, "{v} (unscaled)"),
            Bound::Date(v) => write!(f, "{}", crate::values::format_date(*v)),
            Bound::Micros(v) => write!(f, "{}", crate::values::format_micros(*v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_types() {
        assert_eq!(
            DataType::parse("decimal(12, 2)", None),
            Ok(DataType::Decimal {
                precision: 12,
                scale: 2
            })
        );
        assert_eq!(
            DataType::parse("TIMESTAMPTZ", None),
            Ok(DataType::Timestamptz)
        );
        assert!(DataType::parse("decimal(40,2)", None).is_err());
        assert!(DataType::parse("decimal(4,5)", None).is_err());
        assert!(DataType::parse("strng", None).is_err());
    }

    #[test]
    fn parses_transforms() {
        assert_eq!(
            parse_transform("day(ts)"),
            Some((TransformKind::Day, "ts".into()))
        );
        assert_eq!(parse_transform("bucket(4, id)"), None);
        assert_eq!(parse_transform("day()"), None);
    }
}
