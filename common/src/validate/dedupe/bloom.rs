//! A blocked Bloom filter over key fingerprints: which keys may be among those
//! spilled to disk, so a key never seen (almost every row) costs one cache
//! line here and no disk read.
//!
//! Written here rather than taken from a crate because its input is already a
//! uniform 128-bit fingerprint: the filter uses its bits as they are, where a
//! general filter would hash the key again.

/// Bits a key: with [`PROBES`] bits set in one 512-bit block, about 0.7% of
/// unseen keys look seen (and cost a disk read that finds nothing).
const BITS_PER_KEY: usize = 12;
/// Bits set a key, each chosen by 9 bits of the fingerprint's low half.
const PROBES: u32 = 7;

type Block = [u64; 8];

pub(super) struct Bloom {
    blocks: Vec<Block>,
    capacity: usize,
}

impl Bloom {
    /// A filter sized for `keys` keys (it answers correctly past that, with
    /// more false positives).
    pub fn with_capacity(keys: usize) -> Self {
        let blocks = (keys.max(1) * BITS_PER_KEY).div_ceil(512);
        Self {
            blocks: vec![[0; 8]; blocks],
            capacity: keys.max(1),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Block>()
    }

    pub fn insert(&mut self, hi: u64, lo: u64) {
        let block = self.block(hi);
        for probe in 0..PROBES {
            let bit = (lo >> (probe * 9)) & 511;
            self.blocks[block][(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    pub fn may_contain(&self, hi: u64, lo: u64) -> bool {
        let block = &self.blocks[self.block(hi)];
        (0..PROBES).all(|probe| {
            let bit = (lo >> (probe * 9)) & 511;
            block[(bit / 64) as usize] & (1 << (bit % 64)) != 0
        })
    }

    /// The block for a fingerprint's high half, by multiply-shift (no modulo).
    fn block(&self, hi: u64) -> usize {
        ((u128::from(hi) * self.blocks.len() as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_it_was_given_and_rarely_more() {
        let fingerprint = |i: u64| twox_hash::XxHash3_128::oneshot(&i.to_le_bytes());
        let split = |fp: u128| ((fp >> 64) as u64, fp as u64);
        let mut bloom = Bloom::with_capacity(100_000);
        for i in 0..100_000 {
            let (hi, lo) = split(fingerprint(i));
            bloom.insert(hi, lo);
        }
        assert!((0..100_000).all(|i| {
            let (hi, lo) = split(fingerprint(i));
            bloom.may_contain(hi, lo)
        }));
        let false_positives = (100_000..300_000)
            .filter(|&i| {
                let (hi, lo) = split(fingerprint(i));
                bloom.may_contain(hi, lo)
            })
            .count();
        let rate = false_positives as f64 / 200_000.0;
        assert!(rate < 0.015, "false positive rate {rate}");
        assert!(bloom.bytes() <= 100_000 * BITS_PER_KEY / 8 + 64);
    }
}
