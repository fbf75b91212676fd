//! The dedupe keys of a partition's load: for each key, where its first valid
//! row is (file and line), in 24 bytes a key, whatever the key's length.
//!
//! A key is remembered by its 128-bit XXH3 fingerprint. Two different keys
//! share one with probability about n²/2¹²⁹ (1.5·10⁻²⁵ for ten million keys),
//! far below the odds of a hardware fault, so a fingerprint stands for its key.
//! The fingerprint is the same in every process, which lets the tasks of a
//! split partition hand their keys on to each other ([`SeenKeys::write_to`]).
//!
//! Memory: new keys go to a hash table of bounded size; when it fills, its
//! entries are sorted and merged (in place, from the back) into one sorted
//! array, found again through a radix index on the fingerprint's top bits. So
//! the peak is about 24 bytes per key plus a constant, with no doubling of a
//! growing hash table.

use std::sync::Arc;

use hashbrown::HashTable;

/// Where a key's first row is: file index (top 20 bits) and line (low 44).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    hi: u64,
    lo: u64,
    loc: u64,
}

const LINE_BITS: u32 = 44;
const LINE_MASK: u64 = (1 << LINE_BITS) - 1;
/// Files a key set can name (the 20 bits of a location above the line).
pub const MAX_FILES: usize = 1 << (64 - LINE_BITS);

/// Keys held in the hash table before a merge into the sorted array: 7/8 of
/// 2²⁰ buckets, the load at which the table would grow.
const BUFFER_KEYS: usize = 917_504;

impl Entry {
    fn fingerprint(&self) -> u128 {
        (u128::from(self.hi) << 64) | u128::from(self.lo)
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
    buffer: HashTable<Entry>,
    buffer_limit: usize,
    files: Vec<Arc<str>>,
}

impl Default for SeenKeys {
    fn default() -> Self {
        Self::with_buffer(BUFFER_KEYS)
    }
}

impl SeenKeys {
    fn with_buffer(buffer_limit: usize) -> Self {
        let mut keys = Self {
            sorted: Vec::new(),
            index: Vec::new(),
            radix_bits: 0,
            buffer: HashTable::new(),
            buffer_limit,
            files: Vec::new(),
        };
        keys.rebuild_index();
        keys
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.buffer.len()
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
    ) -> Option<(Arc<str>, u64)> {
        let fp = twox_hash::XxHash3_128::oneshot(key);
        if let Some(loc) = self.find(fp) {
            return Some(self.location(loc));
        }
        let entry = Entry {
            hi: (fp >> 64) as u64,
            lo: fp as u64,
            loc: self.loc(file, line),
        };
        if self.buffer.capacity() == 0 {
            self.buffer.reserve(self.buffer_limit, |e| e.lo);
        }
        self.buffer.insert_unique(entry.lo, entry, |e| e.lo);
        if self.buffer.len() >= self.buffer_limit {
            self.merge_buffer();
        }
        None
    }

    fn find(&self, fp: u128) -> Option<u64> {
        let (hi, lo) = ((fp >> 64) as u64, fp as u64);
        if let Some(e) = self.buffer.find(lo, |e| e.hi == hi && e.lo == lo) {
            return Some(e.loc);
        }
        let bucket = self.bucket(hi);
        let (start, end) = (self.index[bucket] as usize, self.index[bucket + 1] as usize);
        self.sorted[start..end]
            .iter()
            .find(|e| e.hi == hi && e.lo == lo)
            .map(|e| e.loc)
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
    /// the array only grows by what it receives.
    fn merge_buffer(&mut self) {
        let mut fresh: Vec<Entry> = self.buffer.drain().collect();
        if fresh.is_empty() {
            return;
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
        self.rebuild_index();
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

    /// Every key with its first row, sorted by fingerprint: what the next task
    /// of a split partition starts from.
    pub fn write_to(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        self.merge_buffer();
        out.write_all(MAGIC)?;
        out.write_all(&(self.files.len() as u32).to_le_bytes())?;
        for f in &self.files {
            out.write_all(&(f.len() as u32).to_le_bytes())?;
            out.write_all(f.as_bytes())?;
        }
        out.write_all(&(self.sorted.len() as u64).to_le_bytes())?;
        for e in &self.sorted {
            out.write_all(&e.hi.to_le_bytes())?;
            out.write_all(&e.lo.to_le_bytes())?;
            out.write_all(&e.loc.to_le_bytes())?;
        }
        // The trailer, written last: a file cut short has none at its end.
        out.write_all(END)?;
        out.write_all(&self.encoded_len().to_le_bytes())?;
        Ok(())
    }

    /// The length of what [`SeenKeys::write_to`] writes (after a merge).
    fn encoded_len(&self) -> u64 {
        let names: usize = self.files.iter().map(|f| 4 + f.len()).sum();
        (MAGIC.len() + 4 + names + 8 + self.sorted.len() * 24 + KEYS_TRAILER) as u64
    }

    /// The file length a key file's last [`KEYS_TRAILER`] bytes promise, if
    /// they are a trailer.
    pub fn trailer_says(tail: &[u8]) -> Option<u64> {
        let tail: &[u8; KEYS_TRAILER] = tail.try_into().ok()?;
        (&tail[..8] == END).then(|| u64::from_le_bytes(tail[8..].try_into().expect("8 bytes")))
    }

    /// The keys [`SeenKeys::write_to`] wrote, from a file of `len` bytes.
    pub fn read_from(mut input: impl std::io::Read, len: u64) -> std::io::Result<Self> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        let mut magic = [0u8; MAGIC.len()];
        input.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not a Floe dedupe key file"));
        }
        let mut keys = Self::default();
        let files = read_u32(&mut input)? as usize;
        if files > MAX_FILES {
            return Err(bad("too many files in a dedupe key file"));
        }
        for _ in 0..files {
            let len = read_u32(&mut input)? as usize;
            let mut name = vec![0u8; len];
            input.read_exact(&mut name)?;
            let name = String::from_utf8(name).map_err(|_| bad("a file name is not UTF-8"))?;
            keys.files.push(Arc::from(name));
        }
        let n = read_u64(&mut input)? as usize;
        keys.sorted.reserve_exact(n);
        for _ in 0..n {
            let e = Entry {
                hi: read_u64(&mut input)?,
                lo: read_u64(&mut input)?,
                loc: read_u64(&mut input)?,
            };
            if keys
                .sorted
                .last()
                .is_some_and(|p| p.fingerprint() >= e.fingerprint())
            {
                return Err(bad("dedupe keys out of order"));
            }
            if (e.loc >> LINE_BITS) as usize >= files {
                return Err(bad("a dedupe key names an unknown file"));
            }
            keys.sorted.push(e);
        }
        let mut tail = [0u8; KEYS_TRAILER];
        input.read_exact(&mut tail)?;
        if Self::trailer_says(&tail) != Some(len) || keys.encoded_len() != len {
            return Err(bad("a dedupe key file without its trailer (cut short)"));
        }
        keys.rebuild_index();
        Ok(keys)
    }
}

const MAGIC: &[u8; 8] = b"FLOEKEY1";
const END: &[u8; 8] = b"FLOEKEND";
/// The bytes at the end of a key file: a mark and the file's length.
pub const KEYS_TRAILER: usize = 16;

fn read_u32(input: &mut impl std::io::Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(input: &mut impl std::io::Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    input.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_first_row_of_each_key() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a.csv"), Arc::from("b.csv"));
        let mut seen = SeenKeys::default();
        assert_eq!(seen.first_or_insert(b"k1", &a, 2), None);
        assert_eq!(seen.first_or_insert(b"k2", &a, 3), None);
        assert_eq!(seen.first_or_insert(b"k1", &b, 9), Some((a.clone(), 2)));
        assert_eq!(seen.first_or_insert(b"k3", &b, 10), None);
        assert_eq!(seen.first_or_insert(b"k3", &a, 11), Some((b.clone(), 10)));
        assert_eq!(
            seen.first_or_insert(b"k", &a, 12),
            None,
            "a prefix is another key"
        );
    }

    /// Across many merges of a small buffer, every key keeps its first row,
    /// exactly as a plain map would say.
    #[test]
    fn agrees_with_a_map_across_merges() {
        let files: Vec<Arc<str>> = (0..3).map(|i| Arc::from(format!("f{i}.csv"))).collect();
        let mut seen = SeenKeys::with_buffer(97);
        let mut reference = std::collections::HashMap::new();
        let mut state = 7u64;
        for line in 0..20_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = format!("tx_{}", (state >> 33) % 6_000);
            let file = &files[(line / 7_000) as usize];
            let got = seen.first_or_insert(key.as_bytes(), file, line);
            let want = reference.get(&key).cloned();
            assert_eq!(got, want, "key {key} at line {line}");
            reference.entry(key).or_insert((file.clone(), line));
        }
        assert_eq!(seen.len(), reference.len());
        assert!(seen
            .sorted
            .windows(2)
            .all(|w| w[0].fingerprint() < w[1].fingerprint()));
    }

    #[test]
    fn a_key_set_written_and_read_back_answers_the_same() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("s3://b/a.csv"), Arc::from("s3://b/b.csv"));
        let mut first = SeenKeys::with_buffer(5);
        for i in 0..40u64 {
            let file = if i < 20 { &a } else { &b };
            first.first_or_insert(format!("k{i}").as_bytes(), file, i + 2);
        }
        let mut bytes = Vec::new();
        first.write_to(&mut bytes).unwrap();
        let len = bytes.len() as u64;
        assert_eq!(
            SeenKeys::trailer_says(&bytes[bytes.len() - KEYS_TRAILER..]),
            Some(len)
        );
        let mut next = SeenKeys::read_from(bytes.as_slice(), len).unwrap();
        let c: Arc<str> = Arc::from("s3://b/c.csv");
        assert_eq!(next.first_or_insert(b"k3", &c, 1), Some((a.clone(), 5)));
        assert_eq!(next.first_or_insert(b"k25", &c, 2), Some((b.clone(), 27)));
        assert_eq!(next.first_or_insert(b"k40", &c, 3), None);
        assert_eq!(next.first_or_insert(b"k40", &a, 4), Some((c.clone(), 3)));
        let e = SeenKeys::read_from(&b"NOTKEYS!"[..], 8).err().unwrap();
        assert!(e.to_string().contains("not a Floe dedupe key file"), "{e}");
        let cut = &bytes[..bytes.len() - 3];
        assert!(
            SeenKeys::read_from(cut, cut.len() as u64).is_err(),
            "a cut file"
        );
        assert_eq!(
            SeenKeys::trailer_says(&cut[cut.len() - KEYS_TRAILER..]),
            None
        );
    }

    /// Keys cost 24 bytes each plus a small index, on top of the buffer's
    /// constant size: nothing grows by doubling.
    #[test]
    fn memory_is_about_24_bytes_a_key_plus_a_constant() {
        let mut seen = SeenKeys::default();
        let file: Arc<str> = Arc::from("f.csv");
        let n = 1_500_000u64;
        for i in 0..n {
            seen.first_or_insert(format!("tx_{i:016x}").as_bytes(), &file, i);
        }
        seen.merge_buffer();
        assert_eq!(seen.sorted.len() as u64, n);
        let grows =
            seen.sorted.capacity() * std::mem::size_of::<Entry>() + seen.index.capacity() * 4;
        let per_key = grows as f64 / n as f64;
        assert!(per_key < 26.0, "{per_key:.1} bytes a key");
        assert!(
            seen.buffer.capacity() < 2 * BUFFER_KEYS,
            "the buffer stays bounded"
        );
    }
}
