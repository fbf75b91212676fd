//! The keys added since the last merge: an open-addressing table probed
//! linearly from the fingerprint's low bits. Fingerprints are uniformly random,
//! so they need no further hashing, and the table is kept at most half full, so
//! a lookup reads one slot, or a few adjacent ones. Where that slot lies is
//! known from the fingerprint alone: a batch's lookups fetch their slots into
//! the cache ahead of time ([`KeyTable::prefetch`]), which hides most of the
//! memory latency of a table larger than the CPU's cache.

use super::Entry;

/// The location of a free slot. No key has it: a key set names fewer files
/// than its 20 bits could count (see `MAX_FILES`).
const FREE: u64 = u64::MAX;
const FREE_SLOT: Entry = Entry {
    hi: 0,
    lo: 0,
    loc: FREE,
};
/// The table's size when empty: 4,096 slots (96 KiB).
const MIN_SLOTS: usize = 1 << 12;

/// Where a lookup ended.
pub(super) enum Probe {
    /// The key is held, with this location.
    Found(u64),
    /// The key is not held; it would go in this slot.
    Vacant(usize),
}

pub(super) struct KeyTable {
    /// A power of two in length, at most half of them taken.
    slots: Vec<Entry>,
    len: usize,
}

impl KeyTable {
    pub fn new() -> Self {
        Self {
            slots: vec![FREE_SLOT; MIN_SLOTS],
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated, taken or free: the table's memory in entries.
    #[cfg(test)]
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    fn home(&self, lo: u64) -> usize {
        lo as usize & (self.slots.len() - 1)
    }

    /// Looks the fingerprint `(hi, lo)` up.
    pub fn probe(&self, hi: u64, lo: u64) -> Probe {
        let mask = self.slots.len() - 1;
        let mut i = self.home(lo);
        loop {
            let slot = &self.slots[i];
            if slot.loc == FREE {
                return Probe::Vacant(i);
            }
            if slot.lo == lo && slot.hi == hi {
                return Probe::Found(slot.loc);
            }
            i = (i + 1) & mask;
        }
    }

    /// Puts `entry` in the slot its [`KeyTable::probe`] found vacant (the table
    /// unchanged since), and grows the table when it is half full.
    pub fn insert_at(&mut self, slot: usize, entry: Entry) {
        debug_assert!(entry.loc != FREE && self.slots[slot].loc == FREE);
        self.slots[slot] = entry;
        self.len += 1;
        if 2 * self.len > self.slots.len() {
            let bigger = vec![FREE_SLOT; 2 * self.slots.len()];
            let old = std::mem::replace(&mut self.slots, bigger);
            for entry in old.into_iter().filter(|e| e.loc != FREE) {
                let Probe::Vacant(i) = self.probe(entry.hi, entry.lo) else {
                    unreachable!("a key is held once");
                };
                self.slots[i] = entry;
            }
        }
    }

    /// Asks the CPU to fetch the slot a lookup of `lo` starts at. A hint only:
    /// it changes no result.
    pub fn prefetch(&self, lo: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let slot: *const Entry = &self.slots[self.home(lo)];
            // SAFETY: a prefetch reads nothing into the program and cannot
            // fault; the address is of a live slot in any case.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot.cast()) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = lo;
    }

    /// Takes every entry out, leaving the table empty and small.
    pub fn drain(&mut self) -> Vec<Entry> {
        let slots = std::mem::replace(&mut self.slots, vec![FREE_SLOT; MIN_SLOTS]);
        self.len = 0;
        slots.into_iter().filter(|e| e.loc != FREE).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Any sequence of lookups and inserts, including fingerprints that
        /// share low bits (so they collide and probe on), agrees with a map,
        /// through every growth and a drain.
        #[test]
        fn agrees_with_a_map(keys in prop::collection::vec((0u64..50, 0u64..20_000), 1..6_000)) {
            let mut table = KeyTable::new();
            let mut map = HashMap::new();
            for (n, (hi, lo)) in keys.into_iter().enumerate() {
                // Low bits from a small range: many keys share a home slot.
                let lo = lo << 3;
                table.prefetch(lo);
                match table.probe(hi, lo) {
                    Probe::Found(loc) => prop_assert_eq!(map.get(&(hi, lo)), Some(&loc)),
                    Probe::Vacant(slot) => {
                        prop_assert!(!map.contains_key(&(hi, lo)));
                        let loc = n as u64;
                        table.insert_at(slot, Entry { hi, lo, loc });
                        map.insert((hi, lo), loc);
                    }
                }
                prop_assert_eq!(table.len(), map.len());
                prop_assert!(2 * table.len() <= table.slots.len());
            }
            let mut drained: Vec<_> = table.drain().into_iter().map(|e| ((e.hi, e.lo), e.loc)).collect();
            drained.sort();
            let mut expected: Vec<_> = map.into_iter().collect();
            expected.sort();
            prop_assert_eq!(drained, expected);
            prop_assert_eq!(table.len(), 0);
            prop_assert!(matches!(table.probe(1, 8), Probe::Vacant(_)));
        }
    }
}
