//! The catalog contract suite against the embedded SQLite catalog.

use floe_lake::catalog::contract_tests as suite;
use floe_tests::Lakehouse;

macro_rules! contract_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let lake = Lakehouse::new().await;
            suite::$name(lake.catalog.as_ref()).await;
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
