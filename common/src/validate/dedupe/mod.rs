//! The dedupe keys of a partition's load: for each key, where its first valid
//! row is (file and line), in 24 bytes a key, whatever the key's length.
//!
//! A key is remembered by its 128-bit XXH3 fingerprint. Two different keys
//! share one with probability about n²/2¹²⁹ (1.5·10⁻²⁵ for ten million keys),
//! far below the odds of a hardware fault, so a fingerprint stands for its key.
//! The fingerprint is the same in every process, which lets the tasks of a
//! split partition hand their keys on to each other ([`SeenKeys::write_to`]).
//!
//! Memory: new keys go to a hash table of bounded size ([`table`]), which grows
//! with the keys it holds (a day's few hundred thousand keys stay within the
//! CPU's cache far more than a table sized for the bound would), and whose
//! lookups a caller may prefetch a few keys ahead; when it fills, its
//! entries are sorted and merged (in place, from the back) into one sorted
//! array, found again through a radix index on the fingerprint's top bits:
//! about 24 bytes per key, with no doubling of a growing hash table. When the
//! array reaches its budget ([`KeyMemory`]) it is written to local disk as a
//! sorted run ([`spill`]) and starts again empty, so a partition of any size
//! holds at most the budget, the buffer and a Bloom filter of 1.5 bytes per
//! spilled key (itself capped at the budget).

mod bloom;
mod key_file;
mod spill;
mod table;

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{FloeError, Result};
use table::{KeyTable, Probe};

pub use key_file::KEYS_TRAILER;

/// Where a key's first row is: file index (top 20 bits) and line (low 44).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    hi: u64,
    lo: u64,
    loc: u64,
}

const LINE_BITS: u32 = 44;
const LINE_MASK: u64 = (1 << LINE_BITS) - 1;
/// Files a key set can name: as many as the 20 bits of a location above the
/// line count, but one, so no location is all ones (the key table's free mark).
pub const MAX_FILES: usize = (1 << (64 - LINE_BITS)) - 1;

/// Keys held in the key table before a merge into the sorted array: half of
/// 2²⁰ slots (24 MiB), the load at which the table would grow.
const BUFFER_KEYS: usize = 1 << 19;

impl Entry {
    /// Bytes an entry takes in a key file or a spilled run.
    const BYTES: usize = 24;

    fn fingerprint(&self) -> u128 {
        (u128::from(self.hi) << 64) | u128::from(self.lo)
    }

    fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut bytes = [0u8; Self::BYTES];
        bytes[..8].copy_from_slice(&self.hi.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.lo.to_le_bytes());
        bytes[16..].copy_from_slice(&self.loc.to_le_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Self {
            hi: word(0),
            lo: word(8),
            loc: word(16),
        }
    }
}

/// How much memory a task's dedupe keys may hold, and where the rest go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMemory {
    /// Keys held in the sorted array before it is spilled to disk.
    pub keys_in_memory: usize,
    /// The local folder spilled keys go under (a fresh folder a task).
    pub spill_dir: PathBuf,
}

impl KeyMemory {
    /// The default budget: 96 MiB of keys (about four million) in memory.
    pub const DEFAULT_MB: usize = 96;

    /// A budget of `megabytes` MiB for the sorted array.
    pub fn megabytes(megabytes: usize, spill_dir: Option<PathBuf>) -> Self {
        Self {
            keys_in_memory: ((megabytes << 20) / Entry::BYTES).max(1),
            spill_dir: spill_dir.unwrap_or_else(std::env::temp_dir),
        }
    }

    /// Spilled keys the Bloom filter is sized for at most: 12 bits a key,
    /// no more bytes than the array's budget.
    fn filter_limit(&self) -> usize {
        self.keys_in_memory * Entry::BYTES * 8 / 12
    }
}

impl Default for KeyMemory {
    fn default() -> Self {
        Self::megabytes(Self::DEFAULT_MB, None)
    }
}

/// The first row of each dedupe key seen so far.
pub struct SeenKeys {
    /// Sorted by fingerprint, no key twice.
    sorted: Vec<Entry>,
    /// `index[b]..index[b + 1]`: the entries of `sorted` whose fingerprint's top
    /// `radix_bits` bits are `b`.
    index: Vec<u32>,
    radix_bits: u32,
    /// Keys added since the last merge, none of them in `sorted`.
    buffer: KeyTable,
    buffer_limit: usize,
    files: Vec<Arc<str>>,
    memory: KeyMemory,
    /// Keys past the budget, on disk; none of them in `sorted` or `buffer`.
    spilled: Option<spill::Spilled>,
}

impl Default for SeenKeys {
    fn default() -> Self {
        Self::new(KeyMemory::default())
    }
}

impl SeenKeys {
    /// An empty key set within `memory`.
    pub fn new(memory: KeyMemory) -> Self {
        // A power of two: the key table is then exactly half full, not a
        // quarter, when it is merged (it doubles past half).
        let within = memory.keys_in_memory.max(1);
        let buffer_limit = BUFFER_KEYS.min(1 << within.ilog2());
        Self::with_buffer(buffer_limit, memory)
    }

    fn with_buffer(buffer_limit: usize, memory: KeyMemory) -> Self {
        let mut keys = Self {
            sorted: Vec::new(),
            index: Vec::new(),
            radix_bits: 0,
            buffer: KeyTable::new(),
            buffer_limit,
            files: Vec::new(),
            memory,
            spilled: None,
        };
        keys.rebuild_index();
        keys
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.buffer.len() + self.spilled.as_ref().map_or(0, |s| s.len())
    }

    /// How many keys are held on disk, in how many runs.
    pub fn spilled(&self) -> (usize, usize) {
        self.spilled
            .as_ref()
            .map_or((0, 0), |s| (s.len(), s.runs()))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file and line of the first row with `key`; or `None`, remembering
    /// this row as the first.
    pub fn first_or_insert(
        &mut self,
        key: &[u8],
        file: &Arc<str>,
        line: u64,
    ) -> Result<Option<(Arc<str>, u64)>> {
        self.first_or_insert_fingerprint(Self::fingerprint(key), file, line)
    }

    /// What stands for `key` (see the module docs).
    pub fn fingerprint(key: &[u8]) -> u128 {
        twox_hash::XxHash3_128::oneshot(key)
    }

    /// [`SeenKeys::first_or_insert`] for a key's [`SeenKeys::fingerprint`].
    pub fn first_or_insert_fingerprint(
        &mut self,
        fp: u128,
        file: &Arc<str>,
        line: u64,
    ) -> Result<Option<(Arc<str>, u64)>> {
        let (hi, lo) = ((fp >> 64) as u64, fp as u64);
        let slot = match self.buffer.probe(hi, lo) {
            Probe::Found(loc) => return Ok(Some(self.location(loc))),
            Probe::Vacant(slot) => slot,
        };
        if let Some(loc) = self.find_merged(hi, lo)? {
            return Ok(Some(self.location(loc)));
        }
        let loc = self.loc(file, line);
        self.buffer.insert_at(slot, Entry { hi, lo, loc });
        if self.buffer.len() >= self.buffer_limit {
            self.merge_buffer()?;
        }
        Ok(None)
    }

    /// Fetches into the CPU's cache where a lookup of `fp` starts, so that a
    /// caller can ask for a batch's keys a few lookups ahead.
    pub fn prefetch(&self, fp: u128) {
        self.buffer.prefetch(fp as u64);
    }

    /// Where the key's first row is, if merged into the sorted array or spilled.
    fn find_merged(&self, hi: u64, lo: u64) -> Result<Option<u64>> {
        let bucket = self.bucket(hi);
        let (start, end) = (self.index[bucket] as usize, self.index[bucket + 1] as usize);
        let held = self.sorted[start..end]
            .iter()
            .find(|e| e.hi == hi && e.lo == lo)
            .map(|e| e.loc);
        match (held, &self.spilled) {
            (None, Some(spilled)) => spilled.find(hi, lo).map_err(|e| self.spill_failed(e)),
            _ => Ok(held),
        }
    }

    fn spill_failed(&self, e: std::io::Error) -> FloeError {
        FloeError::KeySpill {
            dir: self.memory.spill_dir.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Moves the sorted array to a run on disk.
    fn spill(&mut self) -> Result<()> {
        let sorted = std::mem::take(&mut self.sorted);
        let spilled = match &mut self.spilled {
            Some(spilled) => spilled,
            None => {
                let memory = &self.memory;
                let expected = 2 * sorted.len();
                let store = spill::Spilled::new(&memory.spill_dir, expected, memory.filter_limit())
                    .map_err(|e| self.spill_failed(e))?;
                self.spilled.insert(store)
            }
        };
        let written = spilled.add_run(sorted.iter().copied().map(Ok));
        written.map_err(|e| self.spill_failed(e))?;
        self.rebuild_index();
        Ok(())
    }

    fn bucket(&self, hi: u64) -> usize {
        if self.radix_bits == 0 {
            0
        } else {
            (hi >> (64 - self.radix_bits)) as usize
        }
    }

    fn loc(&mut self, file: &Arc<str>, line: u64) -> u64 {
        // Rows come file after file, so the file is almost always the last one.
        let index = match self
            .files
            .iter()
            .rposition(|f| Arc::ptr_eq(f, file) || f == file)
        {
            Some(i) => i,
            None => {
                assert!(
                    self.files.len() < MAX_FILES,
                    "a partition's load reads at most {MAX_FILES} files"
                );
                self.files.push(file.clone());
                self.files.len() - 1
            }
        };
        ((index as u64) << LINE_BITS) | (line & LINE_MASK)
    }

    fn location(&self, loc: u64) -> (Arc<str>, u64) {
        let file = self.files[(loc >> LINE_BITS) as usize].clone();
        (file, loc & LINE_MASK)
    }

    /// Moves the buffer's keys into the sorted array, merging from the back so
    /// the array only grows by what it receives; spills the array when it
    /// reaches the budget.
    fn merge_buffer(&mut self) -> Result<()> {
        let mut fresh: Vec<Entry> = self.buffer.drain();
        if fresh.is_empty() {
            return Ok(());
        }
        fresh.sort_unstable_by_key(Entry::fingerprint);
        let old = self.sorted.len();
        self.sorted.reserve_exact(fresh.len());
        let filler = fresh[0];
        self.sorted.resize(old + fresh.len(), filler);
        let (mut i, mut j, mut out) = (old, fresh.len(), old + fresh.len());
        while j > 0 {
            out -= 1;
            if i > 0 && self.sorted[i - 1].fingerprint() > fresh[j - 1].fingerprint() {
                self.sorted[out] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[out] = fresh[j - 1];
                j -= 1;
            }
        }
        if self.sorted.len() >= self.memory.keys_in_memory {
            return self.spill();
        }
        self.rebuild_index();
        Ok(())
    }

    /// About eight entries a bucket.
    fn rebuild_index(&mut self) {
        let n = self.sorted.len();
        self.radix_bits = (usize::BITS - (n / 8).leading_zeros()).min(26);
        let buckets = 1usize << self.radix_bits;
        self.index.clear();
        self.index.resize(buckets + 1, 0);
        let bits = self.radix_bits;
        for e in &self.sorted {
            let bucket = if bits == 0 {
                0
            } else {
                (e.hi >> (64 - bits)) as usize
            };
            self.index[bucket + 1] += 1;
        }
        for b in 0..buckets {
            self.index[b + 1] += self.index[b];
        }
    }
}

#[cfg(test)]
mod tests;
