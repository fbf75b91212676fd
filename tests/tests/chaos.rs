//! A few rounds of the chaos suite (see `floe_tests::chaos`); the full suite is
//! `cargo run -p floe-tests --bin floe-chaos`. FLOE_CHAOS_ROUNDS and
//! FLOE_CHAOS_SEED change how many rounds run here and from which seed.

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfills_under_seeded_faults_lose_and_double_nothing() {
    let rounds = env_or("FLOE_CHAOS_ROUNDS", 2);
    let seed = env_or("FLOE_CHAOS_SEED", 1);
    let (run, passed) = floe_tests::chaos::run_suite(seed, rounds, 6).await;
    assert_eq!(
        passed, run,
        "chaos rounds failed; replay one with FLOE_CHAOS_SEED"
    );
}
