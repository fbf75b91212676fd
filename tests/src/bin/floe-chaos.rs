//! The full chaos suite from one command (CI runs a few rounds of the same in
//! `tests/tests/chaos.rs`). Build the binaries first:
//!
//!   cargo build --workspace --bins && cargo run -p floe-tests --bin floe-chaos -- --rounds 20 --seed 1
//!
//! Prints one line per round and `chaos: N rounds run, M passed`; exits non-zero
//! if any round failed. A failed round is replayed with `--seed S --rounds 1`.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let [rounds, seed, faults] =
        floe_tests::suite_flags([("rounds", 20), ("seed", 1), ("faults", 8)]);
    let (run, passed) = floe_tests::chaos::run_suite(seed, rounds, faults as usize).await;
    if passed < run {
        std::process::exit(1);
    }
}
