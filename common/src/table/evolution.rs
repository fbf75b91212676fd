//! How a contract's columns meet the Silver table it loads: columns are matched
//! by name (or by `renamed_from`), never by position, and keep their Iceberg
//! field ids. A newer contract version may add optional columns, widen types
//! (int to long, decimal precision up at the same scale), make a required
//! column optional, rename and drop columns; anything else is refused with the
//! column, the change and what to do instead.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use iceberg::spec::{NestedField, NestedFieldRef, PrimitiveType, Schema, TableMetadata, Type};

use super::schema::{primitive, LINEAGE_COLUMNS};
use crate::contract::{ColumnSpec, Contract};
use crate::error::{FloeError, Result};
use floe_lake::commit::evolve::SchemaChange;

/// Table property: the highest contract version that created or evolved the table.
pub const CONTRACT_VERSION_PROPERTY: &str = "floe.contract-version";

/// Table property prefix: `floe.schema-change.<schema id>` says what the
/// change to that schema was and which contract version made it.
pub const SCHEMA_CHANGE_PROPERTY_PREFIX: &str = "floe.schema-change.";

/// The schema change `contract` needs on the Silver table `meta` describes, if
/// any; an error when the change would break the table's data or readers.
pub fn silver_evolution(meta: &TableMetadata, contract: &Contract) -> Result<Option<SchemaChange>> {
    let refuse = |detail: String| FloeError::SchemaRefused {
        table: contract.target.table.to_string(),
        detail,
    };
    let table_version: u32 = meta
        .properties()
        .get(CONTRACT_VERSION_PROPERTY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if contract.version < table_version {
        return Err(refuse(format!(
            "the table is at contract version {table_version} and this contract is version {}: \
             load with the current contract (a run submitted with an older one cannot write)",
            contract.version
        )));
    }
    let current = meta.current_schema();
    let mut next_id = meta.last_column_id() + 1;
    let mut fields: Vec<NestedFieldRef> = Vec::new();
    let mut changes: Vec<String> = Vec::new();
    let mut kept: HashSet<i32> = HashSet::new();
    for column in &contract.columns {
        let (field, change) = match existing(current, column) {
            Some(old) => evolve_column(old, column).map_err(refuse)?,
            None if column.required => {
                return Err(refuse(format!(
                    "new column `{}` is required, but the rows already in the table have no value \
                     for it: add it with required = false",
                    column.name
                )))
            }
            None => {
                let field = new_field(next_id, column);
                next_id += 1;
                (field, Some(format!("added `{}`", column.name)))
            }
        };
        kept.insert(field.id);
        changes.extend(change);
        fields.push(Arc::new(field));
    }
    for (name, t, doc) in LINEAGE_COLUMNS {
        match current.field_by_name(name) {
            Some(f) => fields.push(f.clone()),
            None if contract.target.lineage => {
                let field = NestedField::optional(next_id, name, Type::Primitive(t)).with_doc(doc);
                next_id += 1;
                fields.push(Arc::new(field));
                changes.push(format!("added `{name}`"));
            }
            None => {}
        }
        if let Some(f) = fields.last() {
            kept.insert(f.id);
        }
    }
    let partition_sources: HashSet<i32> = meta
        .default_partition_spec()
        .fields()
        .iter()
        .map(|p| p.source_id)
        .collect();
    for old in current.as_struct().fields() {
        if kept.contains(&old.id) {
            continue;
        }
        if partition_sources.contains(&old.id) {
            return Err(refuse(format!(
                "the contract drops `{}`, which the table is partitioned by: keep the column",
                old.name
            )));
        }
        changes.push(format!("dropped `{}`", old.name));
    }
    if same_fields(current.as_struct().fields(), &fields) {
        return Ok(None);
    }
    let contract_changed = changes.iter().any(|c| !c.contains("`_floe_"));
    if contract_changed && contract.version == table_version {
        return Err(refuse(format!(
            "the contract changes the table's columns ({}) but keeps pipeline.version = {}: \
             raise it to {}",
            changes.join("; "),
            contract.version,
            contract.version + 1
        )));
    }
    let schema = Schema::builder()
        .with_schema_id(current.schema_id() + 1)
        .with_fields(fields)
        .build()
        .map_err(FloeError::iceberg("building the evolved Silver schema"))?;
    let summary = if changes.is_empty() {
        "column docs or order".to_string()
    } else {
        changes.join("; ")
    };
    let properties = HashMap::from([
        (
            CONTRACT_VERSION_PROPERTY.to_string(),
            contract.version.to_string(),
        ),
        (
            format!("{SCHEMA_CHANGE_PROPERTY_PREFIX}{}", schema.schema_id()),
            format!("contract version {}: {summary}", contract.version),
        ),
    ]);
    Ok(Some(SchemaChange { schema, properties }))
}

/// The table's field for `column`: by its name, or else by its previous name.
fn existing<'s>(current: &'s Schema, column: &ColumnSpec) -> Option<&'s NestedFieldRef> {
    current.field_by_name(&column.name).or_else(|| {
        column
            .renamed_from
            .as_deref()
            .and_then(|old| current.field_by_name(old))
    })
}

fn new_field(id: i32, column: &ColumnSpec) -> NestedField {
    let field = NestedField::optional(
        id,
        &column.name,
        Type::Primitive(primitive(&column.data_type)),
    );
    match &column.description {
        Some(doc) => field.with_doc(doc),
        None => field,
    }
}

/// The field `old` becomes for `column`, and the change it makes, if any.
fn evolve_column(
    old: &NestedFieldRef,
    column: &ColumnSpec,
) -> std::result::Result<(NestedField, Option<String>), String> {
    let name = &column.name;
    let wanted = primitive(&column.data_type);
    let Type::Primitive(had) = old.field_type.as_ref() else {
        return Err(format!(
            "column `{}` is not a primitive in the table",
            old.name
        ));
    };
    let mut changes = Vec::new();
    if old.name != *name {
        changes.push(format!("renamed `{}` to `{name}`", old.name));
    }
    if *had != wanted {
        if !widens(had, &wanted) {
            return Err(format!(
                "column `{name}` changes type from {had} to {wanted}, which existing data cannot be \
                 read as: only int to long and decimal precision up at the same scale are \
                 allowed. Add a new column instead (and drop this one)"
            ));
        }
        changes.push(format!("widened `{name}` from {had} to {wanted}"));
    }
    if !old.required && column.required {
        return Err(format!(
            "column `{name}` becomes required, but rows already in the table may hold nulls: \
             keep it optional"
        ));
    }
    if old.required && !column.required {
        changes.push(format!("made `{name}` optional"));
    }
    let field = NestedField::new(old.id, name, Type::Primitive(wanted), column.required);
    let doc = column.description.clone().or_else(|| old.doc.clone());
    let field = match doc {
        Some(doc) => field.with_doc(doc),
        None => field,
    };
    Ok((field, (!changes.is_empty()).then(|| changes.join(", "))))
}

fn widens(from: &PrimitiveType, to: &PrimitiveType) -> bool {
    match (from, to) {
        (PrimitiveType::Int, PrimitiveType::Long) => true,
        (PrimitiveType::Float, PrimitiveType::Double) => true,
        (
            PrimitiveType::Decimal {
                precision: p1,
                scale: s1,
            },
            PrimitiveType::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s1 == s2 && p2 >= p1,
        _ => false,
    }
}

fn same_fields(a: &[NestedFieldRef], b: &[NestedFieldRef]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.id == y.id
                && x.name == y.name
                && x.required == y.required
                && x.field_type == y.field_type
                && x.doc == y.doc
        })
}

/// Brings the Silver table (`loaded` as just loaded) to the schema `contract`
/// needs (see [`silver_evolution`]) and returns the table as it is then.
pub async fn evolve_silver(
    catalog: &dyn floe_lake::catalog::TableCatalog,
    contract: &Contract,
    policy: &floe_lake::commit::RetryPolicy,
    loaded: iceberg::table::Table,
) -> Result<iceberg::table::Table> {
    let name = &contract.target.table;
    floe_lake::commit::evolve::evolve_schema(catalog, name, policy, Some(loaded), |meta| {
        silver_evolution(meta, contract)
    })
    .await
}
