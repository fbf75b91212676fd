//! A million mutated rows through reading and validation, with the real example
//! contract: half CSV, half NDJSON, each row changed by seeded byte-level
//! mutations (flips, deletions, inserted quotes, separators, newlines, NULs and
//! invalid UTF-8, truncations, repeated spans). Nothing panics, and every record
//! the reader sees comes out valid, quarantined or condemned.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use floe_sample::{generate, SampleConfig};

const ROWS_PER_FORMAT: u64 = 500_000;

const INTERESTING: &[u8] = b"\",\n\r{}[]:\\\0\xff\xc3\xa9 -.0eE+";

fn mutate(row: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    for _ in 0..rng.random_range(1..=3) {
        let at = rng.random_range(0..=row.len());
        match rng.random_range(0..6) {
            0 if at < row.len() => row[at] ^= 1 << rng.random_range(0..8),
            1 if at < row.len() => {
                row.remove(at);
            }
            2 => row.insert(at, INTERESTING[rng.random_range(0..INTERESTING.len())]),
            3 => row.truncate(at),
            4 => {
                let end = (at + rng.random_range(1..40)).min(row.len());
                let span = row[at..end].to_vec();
                row.splice(at..at, span);
            }
            _ => row.insert(at, rng.random()),
        }
    }
}

/// The CSV row as an NDJSON object under `header`'s names (naively split: a
/// row whose fields do not line up is kept as it is, which is hostile too).
fn to_ndjson(header: &[&str], row: &str) -> String {
    let fields: Vec<&str> = row.split(',').collect();
    if fields.len() != header.len() {
        return row.to_string();
    }
    let object: serde_json::Map<String, serde_json::Value> = header
        .iter()
        .zip(fields)
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::Value::Object(object).to_string()
}

fn example(format: &str) -> Contract {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/transactions.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace("format = \"csv\"", &format!("format = \"{format}\""));
    Contract::parse(&text, Path::new(path)).unwrap()
}

#[test]
fn a_million_mutated_rows_never_panic_and_every_row_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SampleConfig {
        rows: ROWS_PER_FORMAT,
        files_per_day: 1,
        ..SampleConfig::default()
    };
    let truth = generate(&dir.path().join("bronze"), &cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(20261201);
    let (mut mutated, mut records, mut accounted) = (0u64, 0u64, 0u64);
    let (mut valid, mut quarantined) = (0u64, 0u64);
    for (label, day_truth) in &truth.days {
        let csv_path = dir.path().join("bronze").join(&day_truth.files[0]);
        // The sample's own bad rows include invalid UTF-8: work on bytes.
        let bytes = std::fs::read(&csv_path).unwrap();
        let split = bytes.iter().position(|&b| b == b'\n').unwrap();
        let (header, rows) = (
            std::str::from_utf8(&bytes[..split]).unwrap(),
            &bytes[split + 1..],
        );
        let names: Vec<&str> = header.split(',').collect();
        for format in ["csv", "ndjson"] {
            let mut out = if format == "csv" {
                format!("{header}\n").into_bytes()
            } else {
                Vec::new()
            };
            for row in rows.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
                let mut bytes = match format {
                    "csv" => row.to_vec(),
                    _ => to_ndjson(&names, &String::from_utf8_lossy(row)).into_bytes(),
                };
                mutate(&mut bytes, &mut rng);
                mutated += 1;
                out.extend_from_slice(&bytes);
                out.push(b'\n');
            }
            let path = dir.path().join(format!("{label}.{format}"));
            std::fs::write(&path, &out).unwrap();
            let contract = Arc::new(example(format));
            let schema = loose_schema(&contract);
            let mut validator = Validator::new(contract.clone(), schema, Some(day(label)));
            let stats = read_file(
                &LocalStore,
                &path.to_string_lossy(),
                &contract,
                8192,
                &mut |b| {
                    let rows_in = (b.num_rows() + b.rejects.len()) as u64;
                    let v = validator.validate(b).unwrap();
                    let out = (v.valid.num_rows() + v.quarantined.len() + v.condemned.len()) as u64;
                    assert_eq!(rows_in, out, "a batch of {label}.{format} lost rows");
                    assert!(v
                        .quarantined
                        .iter()
                        .all(|r| r.line >= 1 && !r.reasons.is_empty()));
                    accounted += out;
                    valid += v.valid.num_rows() as u64;
                    quarantined += v.quarantined.len() as u64;
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("{label}.{format}: {e}"));
            records += stats.records;
        }
    }
    assert!(
        mutated >= 2 * ROWS_PER_FORMAT - 1000,
        "{mutated} rows mutated"
    );
    assert_eq!(records, accounted);
    // The mutations leave some rows valid and break most of the rest.
    assert!(
        valid > 0 && quarantined > records / 4,
        "{valid} valid, {quarantined} quarantined of {records}"
    );
    println!("{mutated} mutated rows: {records} records = {valid} valid + {quarantined} quarantined + {} condemned", records - valid - quarantined);
}
