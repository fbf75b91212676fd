//! Validation: a [`RawBatch`] of field texts becomes typed valid rows, rejected rows
//! (with every rule they break, worded for a person), and duplicates.
//! Types are parsed per value; rules run as Arrow kernels over whole columns.

mod allowed;
pub mod breaker;
mod convert;
mod dedupe;
pub mod partition;
mod pattern;
mod rules;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use arrow_select::filter::filter_record_batch;

pub use convert::{arrow_type, UTC};
pub use dedupe::{KeyMemory, SeenKeys, KEYS_TRAILER};
pub use partition::PartitionValue;
use rules::{Prepared, Rule, Violation};

use crate::contract::Contract;
use crate::error::Result;
use crate::source::{RawBatch, Reject};
use crate::values;

/// A row whose dedupe key repeats an earlier valid row of the partition's load.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    pub file: Arc<str>,
    pub line: u64,
    pub raw: String,
    /// `file:line` of the row it repeats.
    pub duplicate_of: String,
}

/// The three-way split of one batch. `rows_in() == valid + quarantined + condemned`.
#[derive(Debug)]
pub struct Validated {
    pub valid: RecordBatch,
    /// The Bronze file of the batch, and the line of each valid row in it.
    pub file: Arc<str>,
    pub valid_lines: Vec<u64>,
    pub quarantined: Vec<Reject>,
    pub condemned: Vec<Duplicate>,
}

impl Validated {
    pub fn rows_out(&self) -> usize {
        self.valid.num_rows() + self.quarantined.len() + self.condemned.len()
    }
}

/// `schema` with every column nullable: validation builds its batches before
/// filtering out the rows that break `required`.
pub fn nullable(schema: &SchemaRef) -> SchemaRef {
    Arc::new(arrow_schema::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                arrow_schema::Field::new(f.name(), f.data_type().clone(), true)
                    .with_metadata(f.metadata().clone())
            })
            .collect::<Vec<_>>(),
    ))
}

/// The contract's columns as an Arrow schema, all nullable and without field
/// ids: what validation builds its batches in when there is no table.
#[cfg(test)]
pub(crate) fn contract_columns(contract: &Contract) -> SchemaRef {
    Arc::new(arrow_schema::Schema::new(
        contract
            .columns
            .iter()
            .map(|c| arrow_schema::Field::new(&c.name, arrow_type(&c.data_type), true))
            .collect::<Vec<_>>(),
    ))
}

/// Validates the batches of one task, remembering dedupe keys across them.
pub struct Validator {
    contract: Arc<Contract>,
    schema: SchemaRef,
    owned: Option<PartitionValue>,
    prepared: Vec<Prepared>,
    seen: dedupe::SeenKeys,
}

impl Validator {
    /// `schema` is the Silver table's Arrow schema (contract columns in order);
    /// `owned` the partition the task owns, if the table is partitioned.
    pub fn new(contract: Arc<Contract>, schema: SchemaRef, owned: Option<PartitionValue>) -> Self {
        Self::with_keys(contract, schema, owned, SeenKeys::default())
    }

    /// A validator that already knows the dedupe keys of `seen` (the rows kept
    /// by the tasks before this one in a split partition).
    pub fn with_keys(
        contract: Arc<Contract>,
        schema: SchemaRef,
        owned: Option<PartitionValue>,
        seen: SeenKeys,
    ) -> Self {
        let prepared = Prepared::for_columns(&contract.columns);
        Self {
            contract,
            schema,
            owned,
            prepared,
            seen,
        }
    }

    /// The dedupe keys of every row kept so far.
    pub fn keys_mut(&mut self) -> &mut SeenKeys {
        &mut self.seen
    }

    /// Checks a batch; fails only when dedupe keys past the memory budget
    /// cannot be spilled to disk (the batch's verdicts would be unknown).
    pub fn validate(&mut self, mut batch: RawBatch) -> Result<Validated> {
        let contract = self.contract.clone();
        let typed: Vec<ArrayRef> = contract
            .columns
            .iter()
            .zip(&batch.columns)
            .map(|(c, raw)| convert::convert(c, raw))
            .collect();
        let violations = self.violations(&batch, &typed);
        let rejected = any(&violations, batch.num_rows());
        let mut quarantined = std::mem::take(&mut batch.rejects);
        for row in set_rows(&rejected) {
            quarantined.push(Reject {
                file: batch.file.clone(),
                line: batch.lines[row],
                raw: batch.raw.value(row).to_string(),
                reasons: self.reasons(row, &violations, &batch.columns, &typed),
            });
        }
        let (duplicates, condemned) = self.dedupe(
            &batch.file,
            &batch.lines,
            &batch.raw,
            &batch.columns,
            &rejected,
        )?;
        let dropped = arrow_arith::boolean::or(&rejected, &duplicates).expect("same length");
        let keep = arrow_arith::boolean::not(&dropped).expect("not");
        let all = RecordBatch::try_new(self.schema.clone(), typed)
            .expect("schema built from the same contract");
        let valid = filter_record_batch(&all, &keep).expect("same length");
        let valid_lines = (0..batch.num_rows())
            .filter(|&i| keep.value(i))
            .map(|i| batch.lines[i])
            .collect();
        Ok(Validated {
            valid,
            file: batch.file.clone(),
            valid_lines,
            quarantined,
            condemned,
        })
    }

    fn violations(&self, batch: &RawBatch, typed: &[ArrayRef]) -> Vec<Violation> {
        let mut out = Vec::new();
        for (i, column) in self.contract.columns.iter().enumerate() {
            rules::check_column(
                i,
                column,
                &batch.columns[i],
                &typed[i],
                &self.prepared[i],
                batch.missing_columns[i].is_some(),
                &mut out,
            );
        }
        if let (Some(p), Some(owned)) = (&self.contract.target.partition, &self.owned) {
            let col = &self.contract.columns[p.column];
            let mask = partition::outside(
                p,
                &col.data_type,
                &batch.columns[p.column],
                &typed[p.column],
                owned,
            );
            if mask.true_count() > 0 {
                out.push(Violation {
                    column: p.column,
                    rule: Rule::Partition,
                    mask,
                });
            }
        }
        out
    }

    fn reasons(
        &self,
        row: usize,
        violations: &[Violation],
        raw: &[StringArray],
        typed: &[ArrayRef],
    ) -> Vec<String> {
        violations
            .iter()
            .filter(|v| v.mask.value(row))
            .map(|v| {
                let c = &self.contract.columns[v.column];
                let value = raw[v.column]
                    .is_valid(row)
                    .then(|| raw[v.column].value(row));
                let shown = value.map(show).unwrap_or_default();
                match v.rule {
                    Rule::Missing => {
                        format!("{}: required, but the file has no such column", c.name)
                    }
                    Rule::Required => format!("{}: required, but empty", c.name),
                    Rule::Type => format!("{}: {shown} is not a valid {}", c.name, c.data_type),
                    Rule::Min => format!(
                        "{}: {shown} is below the minimum {}",
                        c.name,
                        show_bound(c.min.unwrap(), &c.data_type)
                    ),
                    Rule::Max => format!(
                        "{}: {shown} is above the maximum {}",
                        c.name,
                        show_bound(c.max.unwrap(), &c.data_type)
                    ),
                    Rule::Regex => format!(
                        "{}: {shown} does not match the pattern {}",
                        c.name,
                        c.regex.as_ref().unwrap().as_str()
                    ),
                    Rule::Allowed => format!(
                        "{}: {shown} is not one of {}",
                        c.name,
                        c.allowed.as_ref().unwrap().join(", ")
                    ),
                    Rule::MaxLength => format!(
                        "{}: {} characters, longer than max_length {}",
                        c.name,
                        value.map(|s| s.chars().count()).unwrap_or(0),
                        c.max_length.unwrap()
                    ),
                    Rule::Partition => {
                        let p = self.contract.target.partition.as_ref().unwrap();
                        format!(
                            "{}: falls in partition {}, outside this task's partition {}",
                            c.name,
                            partition::label_of(
                                p.kind,
                                &c.data_type,
                                &raw[v.column],
                                &typed[v.column],
                                row
                            ),
                            self.owned.as_ref().map(|o| o.label.as_str()).unwrap_or("?")
                        )
                    }
                }
            })
            .collect()
    }

    /// Marks rows whose dedupe key was already seen in this task (among valid rows).
    fn dedupe(
        &mut self,
        file: &Arc<str>,
        lines: &[u64],
        raw_text: &StringArray,
        columns: &[StringArray],
        rejected: &BooleanArray,
    ) -> Result<(BooleanArray, Vec<Duplicate>)> {
        let n = lines.len();
        if self.contract.dedupe_key.is_empty() {
            return Ok((BooleanArray::from(vec![false; n]), Vec::new()));
        }
        let mut marks = vec![false; n];
        let mut condemned = Vec::new();
        let mut key = Vec::with_capacity(64);
        let mut keyed = Vec::with_capacity(n);
        for row in 0..n {
            if rejected.value(row) {
                continue;
            }
            key.clear();
            for &c in &self.contract.dedupe_key {
                let col = &columns[c];
                if col.is_valid(row) {
                    key.push(1);
                    key.extend_from_slice(col.value(row).as_bytes());
                } else {
                    key.push(0);
                }
                key.push(0x1f);
            }
            keyed.push((row, SeenKeys::fingerprint(&key)));
        }
        // The key table outgrows the CPU's cache: each lookup first asks for
        // the slot of the one a few rows on, so their memory reads overlap.
        const AHEAD: usize = 8;
        for (i, &(row, fp)) in keyed.iter().enumerate() {
            if let Some(&(_, next)) = keyed.get(i + AHEAD) {
                self.seen.prefetch(next);
            }
            if let Some((f, l)) = self
                .seen
                .first_or_insert_fingerprint(fp, file, lines[row])?
            {
                marks[row] = true;
                condemned.push(Duplicate {
                    file: file.clone(),
                    line: lines[row],
                    raw: raw_text.value(row).to_string(),
                    duplicate_of: format!("{f}:{l}"),
                });
            }
        }
        Ok((BooleanArray::from(marks), condemned))
    }
}

/// A bound as the contract author wrote it (decimals at their scale).
fn show_bound(bound: crate::contract::Bound, data_type: &crate::contract::DataType) -> String {
    match (bound, data_type) {
        (crate::contract::Bound::Decimal(v), crate::contract::DataType::Decimal { scale, .. }) => {
            values::format_decimal(v, *scale)
        }
        (b, _) => b.to_string(),
    }
}

/// Quotes a value for a reason, cut to a readable length.
fn show(v: &str) -> String {
    const MAX: usize = 80;
    if v.chars().count() > MAX {
        format!("`{}…`", v.chars().take(MAX).collect::<String>())
    } else {
        format!("`{v}`")
    }
}

fn any(violations: &[Violation], n: usize) -> BooleanArray {
    let none = BooleanArray::new(arrow_buffer::BooleanBuffer::new_unset(n), None);
    violations.iter().fold(none, |acc, v| {
        arrow_arith::boolean::or(&acc, &v.mask).expect("same length")
    })
}

fn set_rows(mask: &BooleanArray) -> impl Iterator<Item = usize> + '_ {
    (0..mask.len()).filter(move |&i| mask.value(i))
}

#[cfg(test)]
mod tests;
