//! Schema evolution through contract versions: a table loaded at version 1,
//! then at version 2 that adds, renames and widens columns; a breaking
//! version refused; both versions' snapshots read by Floe, PyIceberg and DuckDB.

use floe_common::contract::Contract;
use floe_lake::catalog::TableCatalog;
use floe_tests::readers::{assert_engines_read, read_sum, Readers};

use super::*;

/// The example contract at version 2: `merchant_id` renamed to `merchant`,
/// `amount` widened to decimal(14,2), and a new optional `channel`.
fn version_2() -> Arc<Contract> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/transactions.toml");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("version = 1", "version = 2")
        .replace(
            "name = \"merchant_id\"",
            "name = \"merchant\"\nrenamed_from = \"merchant_id\"",
        )
        .replace("type = \"decimal(12,2)\"", "type = \"decimal(14,2)\"")
        + "\n[[columns]]\nname = \"channel\"\ntype = \"string\"\ndescription = \"Sales channel\"\n"
        + "\n[[columns]]\nname = \"fee\"\ntype = \"decimal(12,2)\"\n";
    Arc::new(Contract::parse(&text, std::path::Path::new("transactions-v2.toml")).unwrap())
}

/// Upstream renamed the field too: the day's files name it `merchant`.
fn rename_header(lake: &Lakehouse, truth: &floe_sample::GroundTruth, day: &str) {
    for f in &truth.days[day].files {
        let path = lake.bronze().join(f);
        assert!(f.ends_with(".csv"), "{f}: the sample is plain CSV");
        let text = std::fs::read_to_string(&path).unwrap();
        let (header, rest) = text.split_once('\n').unwrap();
        assert!(header.contains("merchant_id"), "{header}");
        std::fs::write(
            &path,
            format!("{}\n{rest}", header.replace("merchant_id", "merchant")),
        )
        .unwrap();
    }
}

fn merchants(batch: &arrow_array::RecordBatch) -> Vec<String> {
    use arrow_array::{Array, StringArray};
    let col = column::<StringArray>(batch, "merchant");
    (0..batch.num_rows())
        .filter(|&r| col.is_valid(r))
        .map(|r| col.value(r).to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_contract_version_evolves_silver_and_old_snapshots_stay_readable() {
    use arrow_array::{Array, StringArray};
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let v1 = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let run = RunId::generate();
    run_task(&env, &day_task(&lake, &v1, &truth, DAYS[0], &run))
        .await
        .unwrap();
    let table = &v1.target.table;
    let before = lake.catalog.load_table(table).await.unwrap().unwrap();
    let old_snapshot = before.metadata().current_snapshot_id().unwrap();
    let merchant_id = before
        .metadata()
        .current_schema()
        .field_by_name("merchant_id")
        .unwrap()
        .id;

    let v2 = version_2();
    rename_header(&lake, &truth, DAYS[1]);
    let run2 = RunId::generate();
    let report = run_task(&env, &day_task(&lake, &v2, &truth, DAYS[1], &run2))
        .await
        .unwrap();
    assert_eq!(report.stats.valid, truth.days[DAYS[1]].counts.valid);

    let after = lake.catalog.load_table(table).await.unwrap().unwrap();
    let schema = after.metadata().current_schema();
    assert_eq!(
        schema.field_by_name("merchant").unwrap().id,
        merchant_id,
        "same field id"
    );
    assert!(schema.field_by_name("merchant_id").is_none());
    let channel = schema.field_by_name("channel").unwrap();
    assert_eq!(channel.doc.as_deref(), Some("Sales channel"));
    assert_eq!(after.metadata().properties()["floe.contract-version"], "2");

    // Both days read through the current schema: day 1's merchants by field
    // id under the new name, every `channel` null (no file had one).
    let silver = scan(lake.catalog.as_ref(), table).await;
    let (mut with_merchant, mut rows) = (0, 0);
    for b in &silver {
        with_merchant += merchants(b).len();
        rows += b.num_rows();
        assert_eq!(
            column::<StringArray>(b, "channel").null_count(),
            b.num_rows()
        );
    }
    assert_eq!(with_merchant, rows, "every row kept its merchant");
    let expected = silver_by_day(lake.catalog.as_ref(), table).await;
    for day in &DAYS[..2] {
        let counts = &truth.days[*day].counts;
        assert_eq!(
            expected[*day],
            (counts.valid, counts.sum_amount_valid_cents),
            "{day}"
        );
    }
    let readers = Readers::Sql(&lake);
    assert_engines_read(&readers, &table.to_string(), None, &expected);
    // The other engines read the new column as null for every row, old or new.
    for engine in floe_tests::readers::ENGINES {
        let answer = read_sum(&readers, engine, &table.to_string(), "fee");
        assert_eq!(answer["rows"], rows as u64, "{engine}: {answer}");
        assert!(answer["sum"].is_null(), "{engine}: {answer}");
    }
    // Time travel to version 1's snapshot: day 1 as it was loaded.
    let day1: BTreeMap<String, (u64, i64)> = expected
        .iter()
        .filter(|(d, _)| *d == DAYS[0])
        .map(|(d, v)| (d.clone(), *v))
        .collect();
    assert_engines_read(&readers, &table.to_string(), Some(old_snapshot), &day1);

    // The same contract again, from a racing or redelivered task: no change.
    let run3 = RunId::generate();
    run_task(&env, &day_task(&lake, &v2, &truth, DAYS[1], &run3))
        .await
        .unwrap();
    let again = lake.catalog.load_table(table).await.unwrap().unwrap();
    assert_eq!(
        again.metadata().schemas_iter().count(),
        after.metadata().schemas_iter().count()
    );

    // A version that narrows `amount` is refused, naming it; nothing changes.
    let text = v2
        .text
        .replace("version = 2", "version = 3")
        .replace("decimal(14,2)", "decimal(10,2)");
    let v3 = Arc::new(Contract::parse(&text, std::path::Path::new("v3.toml")).unwrap());
    let err = run_task(
        &env,
        &day_task(&lake, &v3, &truth, DAYS[1], &RunId::generate()),
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("column `amount` changes type from decimal(14, 2) to decimal(10, 2)"),
        "{message}"
    );
    assert!(!err.is_retryable());
    let unchanged = lake.catalog.load_table(table).await.unwrap().unwrap();
    assert_eq!(unchanged.metadata_location(), again.metadata_location());

    // `history` shows the schema change.
    let out = std::process::Command::new(cluster::binary("floe-coordinator"))
        .args(["history", "--table", "silver.transactions", "--lakehouse"])
        .arg(lake.catalog_db().parent().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("contract version 2: renamed `merchant_id` to `merchant`"),
        "{text}"
    );
    assert!(text.contains("added `channel`"), "{text}");
}

/// A catalog that evolves Silver to a contract just before the first swap of
/// the commit it serves, so that commit was staged on the old schema.
#[derive(Debug)]
struct EvolveFirst {
    inner: Arc<floe_lake::catalog::SqlCatalog>,
    contract: tokio::sync::Mutex<Option<Arc<Contract>>>,
}

#[async_trait::async_trait]
impl TableCatalog for EvolveFirst {
    async fn load_table(
        &self,
        name: &floe_common::contract::TableName,
    ) -> floe_lake::Result<Option<iceberg::table::Table>> {
        self.inner.load_table(name).await
    }

    async fn ensure_table(
        &self,
        name: &floe_common::contract::TableName,
        creation: iceberg::TableCreation,
    ) -> floe_lake::Result<iceberg::table::Table> {
        self.inner.ensure_table(name, creation).await
    }

    async fn swap_metadata(
        &self,
        name: &floe_common::contract::TableName,
        expected: &str,
        new: &str,
    ) -> floe_lake::Result<floe_lake::catalog::SwapOutcome> {
        let pending = {
            let mut slot = self.contract.lock().await;
            match slot.as_ref() {
                Some(c) if c.target.table == *name => slot.take(),
                _ => None,
            }
        };
        if let Some(contract) = pending {
            let loaded = self.inner.load_table(name).await?.unwrap();
            let policy = floe_lake::commit::RetryPolicy::default();
            floe_common::table::evolve_silver(self.inner.as_ref(), &contract, &policy, loaded)
                .await
                .expect("the schema change lands first");
        }
        self.inner.swap_metadata(name, expected, new).await
    }
}

/// A load of version 1 whose Silver commit meets version 2's schema change
/// (overlapping runs): the commit is staged again on the new metadata, keeps
/// the new schema, and every row lands with its values under the new names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_staged_before_a_schema_change_lands_after_it_whole() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let v1 = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    run_task(
        &env,
        &day_task(&lake, &v1, &truth, DAYS[0], &RunId::generate()),
    )
    .await
    .unwrap();
    let racing = Arc::new(EvolveFirst {
        inner: lake.catalog.clone(),
        contract: tokio::sync::Mutex::new(Some(version_2())),
    });
    let env = TaskEnv::new(racing);
    let task = day_task(&lake, &v1, &truth, DAYS[1], &RunId::generate());
    run_task(&env, &task).await.unwrap();

    let table = lake
        .catalog
        .load_table(&v1.target.table)
        .await
        .unwrap()
        .unwrap();
    assert!(table
        .metadata()
        .current_schema()
        .field_by_name("merchant")
        .is_some());
    assert!(table
        .metadata()
        .current_schema()
        .field_by_name("channel")
        .is_some());
    let silver = scan(lake.catalog.as_ref(), &v1.target.table).await;
    let rows: usize = silver.iter().map(|b| b.num_rows()).sum();
    let merchants: usize = silver.iter().map(|b| merchants(b).len()).sum();
    assert_eq!(merchants, rows, "every row kept its merchant");
    let per_day = silver_by_day(lake.catalog.as_ref(), &v1.target.table).await;
    for day in &DAYS[..2] {
        let counts = &truth.days[*day].counts;
        assert_eq!(
            per_day[*day],
            (counts.valid, counts.sum_amount_valid_cents),
            "{day}"
        );
    }
}
