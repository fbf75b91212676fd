//! The catalog contract suite against GlueCatalog: the real AWS SDK talking to a
//! moto server on loopback (Glue for the pointer, S3 for the warehouse). Each
//! test gets its own server, since the suite's table name is fixed.
//!
//! Needs FLOE_PYTHON (set by scripts/test.sh) naming a Python with moto.

use floe_lake::catalog::contract_tests as suite;
use floe_tests::moto::Moto;

macro_rules! contract_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let moto = Moto::start();
            let catalog = moto.glue_catalog("warehouse").await;
            suite::$name(&catalog).await;
        }
    };
}

contract_test!(missing_table_loads_as_none);
contract_test!(ensure_table_creates_once);
contract_test!(swap_is_compare_and_swap);
contract_test!(racing_swaps_have_one_winner);
contract_test!(recommitting_a_task_is_a_no_op);
contract_test!(a_replace_swaps_one_partition);
contract_test!(a_newer_run_fences_its_partition);
contract_test!(split_tasks_keep_each_others_files_after_expiry);
contract_test!(a_commit_within_a_load_needs_that_load);
contract_test!(racing_schema_changes_agree);

/// `suite.events` as Glue holds it.
async fn glue_table(moto: &Moto) -> aws_sdk_glue::types::Table {
    aws_sdk_glue::Client::new(&moto.sdk_config().await)
        .get_table()
        .database_name("suite")
        .name("events")
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
}

/// Floe's swap keeps what Athena reads from the Glue table: the table type, the
/// columns, and the previous pointer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_keeps_the_glue_table_definition() {
    let moto = Moto::start();
    let catalog = moto.glue_catalog("warehouse").await;
    suite::swap_is_compare_and_swap(&catalog).await;
    let table = glue_table(&moto).await;
    let params = table.parameters().unwrap();
    assert_eq!(params["table_type"], "ICEBERG");
    assert!(params["metadata_location"].starts_with("s3://"));
    assert!(params.contains_key("previous_metadata_location"));
    assert_ne!(
        params["metadata_location"],
        params["previous_metadata_location"]
    );
    let columns = table.storage_descriptor().unwrap().columns();
    assert_eq!(columns.len(), 1);
    assert_eq!(columns[0].name(), "ts");
}

/// A schema change reaches the Glue table's column list (what Athena's and
/// Glue's consoles show), with the pointer left as the change set it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_reaches_glues_columns() {
    let moto = Moto::start();
    let catalog = moto.glue_catalog("warehouse").await;
    suite::racing_schema_changes_agree(&catalog).await;
    let table = glue_table(&moto).await;
    let columns: Vec<&str> = table
        .storage_descriptor()
        .unwrap()
        .columns()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(columns, ["ts", "note"]);
    let note = &table.storage_descriptor().unwrap().columns()[1];
    assert_eq!(note.comment(), Some("What happened"));
    assert_eq!(note.r#type(), Some("string"));
    let params = table.parameters().unwrap();
    let loaded = floe_lake::catalog::TableCatalog::load_table(
        &catalog,
        &floe_lake::TableName::parse("suite.events").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        Some(params["metadata_location"].as_str()),
        loaded.metadata_location()
    );
    assert_eq!(params["table_type"], "ICEBERG");
}

/// The table versions Glue keeps for `suite.events`.
async fn glue_versions(moto: &Moto) -> usize {
    aws_sdk_glue::Client::new(&moto.sdk_config().await)
        .get_table_versions()
        .database_name("suite")
        .table_name("events")
        .send()
        .await
        .unwrap()
        .table_versions()
        .len()
}

/// Floe's swaps ask Glue not to archive the previous version (`SkipArchive`),
/// so a busy table never reaches Glue's quota of table versions; archiving can
/// be turned back on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_skip_glue_version_archives_unless_asked() {
    let moto = Moto::start();
    let catalog = moto.glue_catalog("warehouse").await;
    suite::swap_is_compare_and_swap(&catalog).await;
    assert_eq!(glue_versions(&moto).await, 1, "only the current version");

    let moto = Moto::start();
    let catalog = moto
        .glue_catalog("warehouse")
        .await
        .archiving_versions(true);
    suite::swap_is_compare_and_swap(&catalog).await;
    assert!(
        glue_versions(&moto).await > 1,
        "every swap archived a version"
    );
}
