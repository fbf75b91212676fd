//! The full interleaving suite from one command (CI runs a few rounds of the
//! same in `tests/tests/interleave.rs`). Build the binaries first:
//!
//!   cargo build --workspace --bins && cargo run -p floe-tests --bin floe-interleave -- --rounds 50 --seed 1
//!
//! Prints one line per round (its schedule, and any anomaly) and
//! `interleave: N rounds run, F faults injected, A anomalies found`; exits
//! non-zero if any anomaly was found. Replay a round with `--seed S --rounds 1`.
//! Needs FLOE_PYTHON (DuckDB reads the tables), as `bash scripts/test.sh` sets.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let [rounds, seed, events] =
        floe_tests::suite_flags([("rounds", 50), ("seed", 1), ("events", 10)]);
    let (_, _, anomalies) = floe_tests::interleave::run_suite(seed, rounds, events as usize).await;
    if anomalies > 0 {
        std::process::exit(1);
    }
}
