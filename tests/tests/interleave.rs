//! A few rounds of the interleaving suite (see `floe_tests::interleave`); the
//! full suite is `cargo run -p floe-tests --bin floe-interleave`.
//! FLOE_INTERLEAVE_ROUNDS and FLOE_INTERLEAVE_SEED change how many rounds run
//! here and from which seed.

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_runs_under_seeded_faults_leave_the_newest_complete_load() {
    let rounds = env_or("FLOE_INTERLEAVE_ROUNDS", 2);
    let seed = env_or("FLOE_INTERLEAVE_SEED", 1);
    let (run, faults, anomalies) = floe_tests::interleave::run_suite(seed, rounds, 10).await;
    assert_eq!(run, rounds);
    assert!(faults > 0, "the schedule injected no fault");
    assert_eq!(
        anomalies, 0,
        "anomalies found; replay a round with FLOE_INTERLEAVE_SEED"
    );
}
