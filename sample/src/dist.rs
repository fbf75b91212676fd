//! Small sampling helpers that are bit-for-bit portable.
//!
//! `f64::exp`, `ln`, `cos` and `powf` are documented as having
//! platform-dependent precision, which could change a generated amount by a
//! cent on another machine and break "same seed, same bytes". Everything here
//! uses only `+ - * /`, `round` and bit construction, which IEEE 754 fixes
//! exactly (Rust never fuses them into FMA on its own).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Index drawn with probability proportional to `weights`.
pub(crate) fn pick(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    pick_at(rng.random_range(0..total), weights)
}

/// Same as [`pick`] but driven by hash bits, for stable per-merchant traits.
pub(crate) fn pick_hashed(h: u64, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    pick_at((h % u64::from(total)) as u32, weights)
}

/// The index whose cumulative weight range holds `r` (`r < sum(weights)`).
fn pick_at(mut r: u32, weights: &[u32]) -> usize {
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

/// Approximately standard normal sample: Irwin-Hall, the sum of 12 uniforms
/// minus 6 (mean 0, variance 1, tails cut at +-6 sigma, which is fine for
/// amounts). Box-Muller would need `ln` and `cos`.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let mut sum = 0.0;
    // Twelve 16-bit uniforms from three 64-bit draws.
    for _ in 0..3 {
        let bits: u64 = rng.random();
        for lane in 0..4 {
            sum += ((bits >> (16 * lane)) & 0xffff) as f64;
        }
    }
    // Each uniform is (v + 0.5) / 65536, centred in its bucket.
    (sum + 6.0) / 65_536.0 - 6.0
}

/// e^x for |x| <= ~700: range reduction to x = k ln2 + r, |r| <= ln2 / 2,
/// then a Taylor series (16 terms: relative error well below 1e-15).
pub(crate) fn exp(x: f64) -> f64 {
    let k = (x / std::f64::consts::LN_2).round();
    let r = x - k * std::f64::consts::LN_2;
    let (mut term, mut sum) = (1.0, 1.0);
    for i in 1..=16 {
        term *= r / f64::from(i);
        sum += term;
    }
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn exp_matches_std_closely() {
        for i in -800..=800 {
            let x = f64::from(i) / 100.0;
            let rel = (exp(x) - x.exp()).abs() / x.exp();
            assert!(rel < 1e-14, "exp({x}) off by {rel}");
        }
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / f64::from(n);
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / f64::from(n);
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "mean {mean} var {var}"
        );
    }

    #[test]
    fn pick_respects_weights() {
        assert_eq!(pick_hashed(0, &[0, 5, 5]), 1);
        assert_eq!(pick_hashed(9, &[0, 5, 5]), 2);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..1000).all(|_| pick(&mut rng, &[0, 3, 0]) == 1));
    }
}
