//! The full interleaving suite from one command (CI runs a few rounds of the
//! same in `tests/tests/interleave.rs`). Build the binaries first:
//!
//!   cargo build --workspace --bins && cargo run -p floe-tests --bin floe-interleave -- --rounds 50 --seed 1
//!
//! Prints one line per round (its schedule, and any anomaly) and
//! `interleave: N rounds run, F faults injected, A anomalies found`; exits
//! non-zero if any anomaly was found. Replay a round with `--seed S --rounds 1`.
//! Needs FLOE_PYTHON (DuckDB reads the tables), as `bash scripts/test.sh` sets.

struct Args {
    rounds: u64,
    seed: u64,
    events: usize,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 50,
        seed: 1,
        events: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => a.rounds = value.parse().expect("--rounds N"),
            "--seed" => a.seed = value.parse().expect("--seed N"),
            "--events" => a.events = value.parse().expect("--events N"),
            other => panic!("unknown flag {other}; flags: --rounds N --seed N --events N"),
        }
    }
    a
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let (_, _, anomalies) = floe_tests::interleave::run_suite(a.seed, a.rounds, a.events).await;
    if anomalies > 0 {
        std::process::exit(1);
    }
}
