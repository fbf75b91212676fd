//! The full chaos suite from one command (CI runs a few rounds of the same in
//! `tests/tests/chaos.rs`). Build the binaries first:
//!
//!   cargo build --workspace --bins && cargo run -p floe-tests --bin floe-chaos -- --rounds 20 --seed 1
//!
//! Prints one line per round and `chaos: N rounds run, M passed`; exits non-zero
//! if any round failed. A failed round is replayed with `--seed S --rounds 1`.

struct Args {
    rounds: u64,
    seed: u64,
    faults: usize,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 20,
        seed: 1,
        faults: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => a.rounds = value.parse().expect("--rounds N"),
            "--seed" => a.seed = value.parse().expect("--seed N"),
            "--faults" => a.faults = value.parse().expect("--faults N"),
            other => panic!("unknown flag {other}; flags: --rounds N --seed N --faults N"),
        }
    }
    a
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let (run, passed) = floe_tests::chaos::run_suite(a.seed, a.rounds, a.faults).await;
    if passed < run {
        std::process::exit(1);
    }
}
