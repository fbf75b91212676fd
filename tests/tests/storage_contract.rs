//! The Bronze storage contract suite against a local folder and against S3 (the
//! real SDK talking to a moto server on loopback, reading in small ranges so a
//! file spans many ranged GETs).
//!
//! The S3 half needs FLOE_PYTHON (set by scripts/test.sh) naming a Python with moto.

use std::sync::OnceLock;

use floe_lake::storage::contract_tests as suite;
use floe_lake::storage::{LocalStore, S3Store};
use floe_tests::moto::Moto;

static MOTO: OnceLock<Moto> = OnceLock::new();

fn moto() -> &'static Moto {
    MOTO.get_or_init(Moto::start)
}

fn put_local(location: &str, bytes: &[u8]) {
    let path = std::path::Path::new(location);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A store over a fresh bucket named after the test, and that bucket's root.
async fn s3(test: &str) -> (S3Store, aws_sdk_s3::Client, String) {
    let bucket = test.replace('_', "-");
    moto().bucket(&bucket).await;
    let client = floe_lake::aws::s3_client(&moto().sdk_config().await);
    let store = S3Store::new(client.clone()).with_range_bytes(64 * 1024);
    (store, client, format!("s3://{bucket}/bronze"))
}

fn put_s3(client: &aws_sdk_s3::Client) -> impl Fn(&str, &[u8]) + Sync + '_ {
    move |location, bytes| {
        let (bucket, key) = location
            .strip_prefix("s3://")
            .unwrap()
            .split_once('/')
            .unwrap();
        let request = client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(bytes.to_vec().into());
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(request.send())
                .unwrap()
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_list_matches_the_glob_sorted_with_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    suite::list_matches_the_glob_sorted_with_sizes(&LocalStore, &root, &put_local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_open_reads_every_byte_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    suite::open_reads_every_byte_in_order(&LocalStore, &root, &put_local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_a_missing_file_is_an_input_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    suite::a_missing_file_is_an_input_error_naming_it(&LocalStore, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_list_matches_the_glob_sorted_with_sizes() {
    let (store, client, root) = s3("s3_list").await;
    suite::list_matches_the_glob_sorted_with_sizes(&store, &root, &put_s3(&client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_open_reads_every_byte_in_order() {
    let (store, client, root) = s3("s3_open").await;
    suite::open_reads_every_byte_in_order(&store, &root, &put_s3(&client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_missing_file_is_an_input_error_naming_it() {
    let (store, _, root) = s3("s3_missing").await;
    suite::a_missing_file_is_an_input_error_naming_it(&store, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_double_star_lists_a_whole_tree_with_modification_times() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    suite::double_star_lists_a_whole_tree_with_modification_times(&LocalStore, &root, &put_local)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_double_star_lists_a_whole_tree_with_modification_times() {
    let (store, client, root) = s3("s3_tree").await;
    suite::double_star_lists_a_whole_tree_with_modification_times(&store, &root, &put_s3(&client))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_stat_agrees_with_list_and_sees_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    suite::stat_agrees_with_list_and_sees_a_rewrite(&LocalStore, &root, &put_local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stat_agrees_with_list_and_sees_a_rewrite() {
    let (store, client, root) = s3("s3_stat").await;
    suite::stat_agrees_with_list_and_sees_a_rewrite(&store, &root, &put_s3(&client)).await;
}

/// S3 reads every range with If-Match on the ETag it started with: an object
/// rewritten mid-read fails the read instead of mixing two versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_rewrite_in_the_middle_of_a_read_fails_it() {
    use floe_lake::storage::BronzeStore;
    use std::io::Read;
    let (store, client, root) = s3("s3_rewrite").await;
    let location = format!("{root}/changing.csv");
    let put = put_s3(&client);
    put(&location, &vec![b'a'; 300_000]);
    let (s, l) = (store.clone(), location.clone());
    let mut reader = tokio::task::spawn_blocking(move || s.open(&l).unwrap())
        .await
        .unwrap();
    let mut first = vec![0u8; 1000];
    reader = tokio::task::spawn_blocking(move || {
        reader.read_exact(&mut first).unwrap();
        reader
    })
    .await
    .unwrap();
    put(&location, &vec![b'b'; 300_000]);
    let read = tokio::task::spawn_blocking(move || {
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).map(|_| rest)
    })
    .await
    .unwrap();
    let err = read.expect_err("the read went on over a rewritten object");
    assert!(err.to_string().contains("changed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_open_ranges_reads_any_range_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    suite::open_ranges_reads_any_range_in_any_order(&LocalStore, &root, &put_local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_open_ranges_reads_any_range_in_any_order() {
    let (store, client, root) = s3("s3_ranges").await;
    suite::open_ranges_reads_any_range_in_any_order(&store, &root, &put_s3(&client)).await;
}

/// A store that only streams: `open_ranges` falls back to the trait's default
/// (a temporary copy), which must meet the same contract.
#[derive(Debug, Clone)]
struct StreamOnly;

#[async_trait::async_trait]
impl floe_lake::storage::BronzeStore for StreamOnly {
    async fn list(&self, pattern: &str) -> floe_lake::Result<Vec<floe_lake::storage::StoredFile>> {
        LocalStore.list(pattern).await
    }

    fn open(&self, location: &str) -> floe_lake::Result<Box<dyn std::io::Read + Send>> {
        LocalStore.open(location)
    }

    fn stat(&self, location: &str) -> floe_lake::Result<floe_lake::storage::StoredFile> {
        LocalStore.stat(location)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_open_ranges_reads_any_range_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    suite::open_ranges_reads_any_range_in_any_order(&StreamOnly, &root, &put_local).await;
}

/// The contract store over an S3 warehouse (what workers read run contracts
/// from on AWS) meets the same contract as the local and in-memory ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_warehouse_contracts_meet_the_contract_store_suite() {
    use floe_common::contract::{contract_tests, WarehouseContracts};
    moto().bucket("contracts").await;
    let (storage, props) = floe_lake::aws::s3_storage(&moto().sdk_config().await);
    let io = iceberg::io::FileIOBuilder::new(storage)
        .with_props(props)
        .build();
    let files = floe_lake::catalog::WarehouseFiles::new(io, "s3://contracts/warehouse");
    contract_tests::all(&WarehouseContracts::new(files)).await;
}
