//! Dedupe keys past the memory budget, on local disk: sorted runs of entries,
//! each found through the first fingerprint of every block (one page read a
//! look-up), behind one Bloom filter so that a key never seen (almost every
//! row) reads nothing.
//!
//! Run files are unlinked as soon as they are open: the space comes back when
//! the key set is dropped or the process ends, even if it is killed.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::bloom::Bloom;
use super::Entry;

/// Entries a block: one look-up reads one block of 4,080 bytes.
const BLOCK_ENTRIES: usize = 170;
/// Entries a sequential read takes at once.
const READ_ENTRIES: usize = 4096;

struct Run {
    file: File,
    len: usize,
    /// The fingerprint of each block's first entry.
    firsts: Vec<u128>,
    last: u128,
}

pub(super) struct Spilled {
    dir: tempfile::TempDir,
    runs: Vec<Run>,
    filter: Bloom,
    /// Keys past which the filter does not grow (its false positives rise).
    filter_limit: usize,
    keys: usize,
}

impl Spilled {
    /// An empty store in a new folder under `root`, its filter sized for
    /// `expected` keys and never for more than `filter_limit`.
    pub fn new(root: &Path, expected: usize, filter_limit: usize) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let dir = tempfile::Builder::new()
            .prefix("floe-keys-")
            .tempdir_in(root)?;
        Ok(Self {
            dir,
            runs: Vec::new(),
            filter: Bloom::with_capacity(expected.min(filter_limit)),
            filter_limit,
            keys: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Heap bytes held (the filter and the block indexes).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        let indexes: usize = self.runs.iter().map(|r| r.firsts.capacity() * 16).sum();
        self.filter.bytes() + indexes
    }

    /// Writes `entries`, sorted and none of them held already, as a new run.
    pub fn add_run(
        &mut self,
        entries: impl IntoIterator<Item = io::Result<Entry>>,
    ) -> io::Result<()> {
        let path = self
            .dir
            .path()
            .join(format!("run-{}.keys", self.runs.len()));
        let file = File::options()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        let mut out = BufWriter::with_capacity(1 << 20, &file);
        let (mut firsts, mut len, mut last) = (Vec::new(), 0, 0);
        for entry in entries {
            let entry = entry?;
            if len % BLOCK_ENTRIES == 0 {
                firsts.push(entry.fingerprint());
            }
            out.write_all(&entry.to_bytes())?;
            self.filter.insert(entry.hi, entry.lo);
            last = entry.fingerprint();
            len += 1;
        }
        out.flush()?;
        drop(out);
        if len == 0 {
            return Ok(());
        }
        self.runs.push(Run {
            file,
            len,
            firsts,
            last,
        });
        self.keys += len;
        if self.keys > self.filter.capacity() && self.filter.capacity() < self.filter_limit {
            self.regrow_filter()?;
        }
        Ok(())
    }

    /// A filter for twice the keys held, from the runs read again in order.
    fn regrow_filter(&mut self) -> io::Result<()> {
        let mut filter = Bloom::with_capacity((2 * self.keys).min(self.filter_limit));
        for run in &self.runs {
            for entry in run.entries() {
                let entry = entry?;
                filter.insert(entry.hi, entry.lo);
            }
        }
        self.filter = filter;
        Ok(())
    }

    /// The location of the key with this fingerprint, if it is held.
    pub fn find(&self, hi: u64, lo: u64) -> io::Result<Option<u64>> {
        if !self.filter.may_contain(hi, lo) {
            return Ok(None);
        }
        let fingerprint = (u128::from(hi) << 64) | u128::from(lo);
        for run in &self.runs {
            if let Some(loc) = run.find(fingerprint)? {
                return Ok(Some(loc));
            }
        }
        Ok(None)
    }

    /// Every entry held and every one of `memory` (sorted, disjoint from the
    /// runs), in fingerprint order.
    pub fn merged_with<'a>(
        &'a self,
        memory: &'a [Entry],
    ) -> impl Iterator<Item = io::Result<Entry>> + 'a {
        let mut sources: Vec<Box<dyn Iterator<Item = io::Result<Entry>> + 'a>> =
            vec![Box::new(memory.iter().copied().map(Ok))];
        sources.extend(
            self.runs
                .iter()
                .map(|r| Box::new(r.entries()) as Box<dyn Iterator<Item = _>>),
        );
        Merge {
            heads: vec![None; sources.len()],
            sources,
            started: false,
        }
    }
}

impl Run {
    fn find(&self, fingerprint: u128) -> io::Result<Option<u64>> {
        if fingerprint < self.firsts[0] || fingerprint > self.last {
            return Ok(None);
        }
        let block = self.firsts.partition_point(|f| *f <= fingerprint) - 1;
        let start = block * BLOCK_ENTRIES;
        let n = BLOCK_ENTRIES.min(self.len - start);
        let mut bytes = [0u8; BLOCK_ENTRIES * Entry::BYTES];
        let bytes = &mut bytes[..n * Entry::BYTES];
        self.file
            .read_exact_at(bytes, (start * Entry::BYTES) as u64)?;
        let at = |i: usize| Entry::from_bytes(&bytes[i * Entry::BYTES..(i + 1) * Entry::BYTES]);
        let (mut low, mut high) = (0, n);
        while low < high {
            let mid = (low + high) / 2;
            let entry = at(mid);
            match entry.fingerprint().cmp(&fingerprint) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(Some(entry.loc)),
            }
        }
        Ok(None)
    }

    /// The run's entries in order, read a few thousand at a time.
    fn entries(&self) -> impl Iterator<Item = io::Result<Entry>> + '_ {
        let mut next = 0usize;
        let mut chunk: Vec<Entry> = Vec::new();
        let mut at = 0usize;
        std::iter::from_fn(move || {
            if at == chunk.len() {
                if next == self.len {
                    return None;
                }
                let n = READ_ENTRIES.min(self.len - next);
                let mut bytes = vec![0u8; n * Entry::BYTES];
                if let Err(e) = self
                    .file
                    .read_exact_at(&mut bytes, (next * Entry::BYTES) as u64)
                {
                    next = self.len;
                    chunk.clear();
                    at = 0;
                    return Some(Err(e));
                }
                chunk = bytes
                    .chunks_exact(Entry::BYTES)
                    .map(Entry::from_bytes)
                    .collect();
                next += n;
                at = 0;
            }
            at += 1;
            Some(Ok(chunk[at - 1]))
        })
    }
}

/// A k-way merge of sorted sources with disjoint keys (a handful of runs:
/// a linear scan of the heads is as quick as a heap).
struct Merge<'a> {
    sources: Vec<Box<dyn Iterator<Item = io::Result<Entry>> + 'a>>,
    heads: Vec<Option<Entry>>,
    started: bool,
}

impl Merge<'_> {
    fn advance(&mut self, source: usize) -> io::Result<()> {
        self.heads[source] = self.sources[source].next().transpose()?;
        Ok(())
    }
}

impl Iterator for Merge<'_> {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.started {
            self.started = true;
            for source in 0..self.sources.len() {
                if let Err(e) = self.advance(source) {
                    return Some(Err(e));
                }
            }
        }
        let (source, entry) = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.map(|e| (i, e)))
            .min_by_key(|(_, e)| e.fingerprint())?;
        if let Err(e) = self.advance(source) {
            return Some(Err(e));
        }
        Some(Ok(entry))
    }
}
