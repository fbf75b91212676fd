//! The key file: a key set written whole, for the next task of a split
//! partition to start from, with a trailer that says how long it is, so a cut
//! or mixed-up file is refused rather than read short.

use std::sync::Arc;

use super::{spill, Entry, KeyMemory, SeenKeys, LINE_BITS, MAX_FILES};
use crate::error::{FloeError, Result};

impl SeenKeys {
    /// Every key with its first row, sorted by fingerprint: what the next task
    /// of a split partition starts from.
    pub fn write_to(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        self.merge_buffer()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        out.write_all(MAGIC)?;
        out.write_all(&(self.files.len() as u32).to_le_bytes())?;
        for f in &self.files {
            out.write_all(&(f.len() as u32).to_le_bytes())?;
            out.write_all(f.as_bytes())?;
        }
        out.write_all(&(self.len() as u64).to_le_bytes())?;
        match &self.spilled {
            None => self
                .sorted
                .iter()
                .try_for_each(|e| out.write_all(&e.to_bytes()))?,
            Some(spilled) => {
                for e in spilled.merged_with(&self.sorted) {
                    out.write_all(&e?.to_bytes())?;
                }
            }
        }
        // The trailer, written last: a file cut short has none at its end.
        out.write_all(END)?;
        out.write_all(&self.encoded_len().to_le_bytes())?;
        Ok(())
    }

    /// The length of what [`SeenKeys::write_to`] writes (after a merge).
    fn encoded_len(&self) -> u64 {
        let names: usize = self.files.iter().map(|f| 4 + f.len()).sum();
        (MAGIC.len() + 4 + names + 8 + self.len() * Entry::BYTES + KEYS_TRAILER) as u64
    }

    /// The file length a key file's last [`KEYS_TRAILER`] bytes promise, if
    /// they are a trailer.
    pub fn trailer_says(tail: &[u8]) -> Option<u64> {
        let tail: &[u8; KEYS_TRAILER] = tail.try_into().ok()?;
        (&tail[..8] == END).then(|| u64::from_le_bytes(tail[8..].try_into().expect("8 bytes")))
    }

    /// The keys [`SeenKeys::write_to`] wrote to `location`, read from `input`
    /// (`len` bytes), within `memory`: a key set over the budget goes to disk
    /// as it is read (it is sorted already), never whole into memory.
    pub fn read_from(
        mut input: impl std::io::Read,
        len: u64,
        memory: KeyMemory,
        location: &str,
    ) -> Result<Self> {
        let failed = |message: String| FloeError::Handoff {
            location: location.to_string(),
            message,
        };
        let mut magic = [0u8; MAGIC.len()];
        input
            .read_exact(&mut magic)
            .map_err(|e| failed(e.to_string()))?;
        if &magic != MAGIC {
            return Err(failed("not a Floe dedupe key file".into()));
        }
        let mut keys = Self::new(memory);
        let files = read_u32(&mut input).map_err(|e| failed(e.to_string()))? as usize;
        if files > MAX_FILES {
            return Err(failed("too many files in a dedupe key file".into()));
        }
        for _ in 0..files {
            let name = read_name(&mut input).map_err(|e| failed(e.to_string()))?;
            keys.files.push(Arc::from(name));
        }
        let n = read_u64(&mut input).map_err(|e| failed(e.to_string()))? as usize;
        let mut problem = None;
        let entries = read_entries(&mut input, n, files, &mut problem);
        if n < keys.memory.keys_in_memory {
            keys.sorted.reserve_exact(n);
            keys.sorted.extend(entries.map_while(|e| e.ok()));
        } else {
            let memory = &keys.memory;
            let mut store = spill::Spilled::new(&memory.spill_dir, n, memory.filter_limit())
                .map_err(|e| keys.spill_failed(e))?;
            let spilled = store.add_run(entries);
            if problem.is_none() {
                spilled.map_err(|e| keys.spill_failed(e))?;
            }
            keys.spilled = Some(store);
        }
        if let Some(problem) = problem {
            return Err(failed(problem));
        }
        let mut tail = [0u8; KEYS_TRAILER];
        input
            .read_exact(&mut tail)
            .map_err(|e| failed(e.to_string()))?;
        if Self::trailer_says(&tail) != Some(len) || keys.encoded_len() != len {
            return Err(failed(
                "a dedupe key file without its trailer (cut short)".into(),
            ));
        }
        keys.rebuild_index();
        Ok(keys)
    }
}

/// The `n` entries of a key file, checked in order and naming one of its
/// `files`; the first problem (read error or bad entry) ends them and is left
/// in `problem`.
fn read_entries<'a>(
    input: &'a mut impl std::io::Read,
    n: usize,
    files: usize,
    problem: &'a mut Option<String>,
) -> impl Iterator<Item = std::io::Result<Entry>> + 'a {
    let mut previous: Option<u128> = None;
    let mut left = n;
    std::iter::from_fn(move || {
        if left == 0 || problem.is_some() {
            return None;
        }
        left -= 1;
        let mut bytes = [0u8; Entry::BYTES];
        let found = match input.read_exact(&mut bytes) {
            Err(e) => Err(e.to_string()),
            Ok(()) => {
                let e = Entry::from_bytes(&bytes);
                if previous.is_some_and(|p| p >= e.fingerprint()) {
                    Err("dedupe keys out of order".to_string())
                } else if (e.loc >> LINE_BITS) as usize >= files {
                    Err("a dedupe key names an unknown file".to_string())
                } else {
                    previous = Some(e.fingerprint());
                    Ok(e)
                }
            }
        };
        match found {
            Ok(e) => Some(Ok(e)),
            Err(message) => {
                *problem = Some(message.clone());
                Some(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    message,
                )))
            }
        }
    })
}

fn read_name(input: &mut impl std::io::Read) -> std::io::Result<String> {
    let len = read_u32(input)? as usize;
    let mut name = vec![0u8; len];
    input.read_exact(&mut name)?;
    String::from_utf8(name).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "a file name is not UTF-8")
    })
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
