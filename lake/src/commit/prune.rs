//! Which parent manifests a change confined to one partition can skip reading.
//!
//! A manifest list records, per manifest, the bounds of each partition field
//! over the manifest's files. A manifest whose bounds exclude the partition
//! holds none of its files, so a load replacing that partition carries it over
//! unread: the cost of a commit then follows the partition's files, not the
//! table's whole history of partitions.

use iceberg::spec::{
    Datum, FieldSummary, Literal, ManifestFile, PrimitiveLiteral, PrimitiveType, Struct,
    TableMetadata,
};

/// The partition a change is confined to, with its fields' types, as checked
/// against manifest summaries.
pub struct PartitionFilter<'a> {
    partition: &'a Struct,
    spec_id: i32,
    types: Vec<Option<PrimitiveType>>,
}

impl<'a> PartitionFilter<'a> {
    /// A filter for `partition` of the table's default spec.
    pub fn new(meta: &TableMetadata, partition: &'a Struct) -> Self {
        let spec_id = meta.default_partition_spec_id();
        Self {
            partition,
            spec_id,
            types: partition_types(meta, spec_id),
        }
    }

    /// False only when `mf`'s summaries prove it holds no file of the partition;
    /// true whenever in doubt (no summaries, another spec, an unknown type).
    pub fn may_hold(&self, mf: &ManifestFile) -> bool {
        let Some(summaries) = &mf.partitions else {
            return true;
        };
        if mf.partition_spec_id != self.spec_id
            || summaries.len() != self.partition.fields().len()
            || summaries.len() != self.types.len()
        {
            return true;
        }
        summaries
            .iter()
            .zip(self.partition.iter())
            .zip(&self.types)
            .all(|((summary, value), ty)| field_may_hold(summary, value, ty.as_ref()))
    }
}

/// The type of each field of partition spec `spec_id` (`None` where it is not
/// primitive), as manifest summaries' bounds are decoded; empty for an unknown spec.
pub(crate) fn partition_types(meta: &TableMetadata, spec_id: i32) -> Vec<Option<PrimitiveType>> {
    meta.partition_spec_by_id(spec_id)
        .and_then(|spec| spec.partition_type(meta.current_schema()).ok())
        .map(|t| {
            t.fields()
                .iter()
                .map(|f| f.field_type.as_primitive_type().cloned())
                .collect()
        })
        .unwrap_or_default()
}

fn field_may_hold(
    summary: &FieldSummary,
    value: Option<&Literal>,
    ty: Option<&PrimitiveType>,
) -> bool {
    let (Some(Literal::Primitive(value)), Some(ty)) = (value, ty) else {
        // A null partition value is only in manifests that say they hold nulls.
        return value.is_some() || summary.contains_null;
    };
    let bound = |bytes: Option<&[u8]>| -> Option<PrimitiveLiteral> {
        let datum = Datum::try_from_bytes(bytes?, ty.clone()).ok()?;
        let literal = datum.literal().clone();
        (std::mem::discriminant(&literal) == std::mem::discriminant(value)).then_some(literal)
    };
    let lower = bound(summary.lower_bound.as_ref().map(|b| b.as_slice()));
    let upper = bound(summary.upper_bound.as_ref().map(|b| b.as_slice()));
    match (lower, upper) {
        (Some(lower), Some(upper)) => lower <= *value && *value <= upper,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(lower: i32, upper: i32, contains_null: bool) -> FieldSummary {
        FieldSummary {
            contains_null,
            contains_nan: None,
            lower_bound: Some(lower.to_le_bytes().to_vec().into()),
            upper_bound: Some(upper.to_le_bytes().to_vec().into()),
        }
    }

    #[test]
    fn a_day_outside_the_bounds_is_not_held_and_doubt_keeps_the_manifest() {
        let date = Some(&PrimitiveType::Date);
        let day = |d: i32| Literal::date(d);
        let jan = summary(20_089, 20_119, false);
        assert!(field_may_hold(&jan, Some(&day(20_089)), date));
        assert!(field_may_hold(&jan, Some(&day(20_100)), date));
        assert!(field_may_hold(&jan, Some(&day(20_119)), date));
        assert!(!field_may_hold(&jan, Some(&day(20_120)), date));
        assert!(!field_may_hold(&jan, Some(&day(20_000)), date));
        assert!(!field_may_hold(&jan, None, date), "no nulls in it");
        assert!(field_may_hold(&summary(1, 2, true), None, date));
        let unbounded = FieldSummary {
            contains_null: false,
            contains_nan: None,
            lower_bound: None,
            upper_bound: None,
        };
        assert!(field_may_hold(&unbounded, Some(&day(5)), date));
        assert!(
            field_may_hold(&jan, Some(&day(20_200)), None),
            "unknown type"
        );
    }
}
