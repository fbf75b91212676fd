//! Opens an input file with its decompressor, counting the bytes read from storage.

use std::cell::Cell;
use std::io::{BufReader, Read};
use std::rc::Rc;

use crate::contract::Compression;
use crate::error::{FloeError, Result};
use floe_lake::storage::BronzeStore;

/// Shared count of bytes read from the underlying file.
#[derive(Clone, Default)]
pub struct ByteCounter(Rc<Cell<u64>>);

impl ByteCounter {
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

struct Counting<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.set(self.counter.0.get() + n as u64);
        Ok(n)
    }
}

const READ_BUFFER: usize = 1 << 20;

/// Decompressed bytes a file may produce before its expansion ratio is judged:
/// small files of repeated lines compress far better than big ones.
const EXPANSION_FLOOR: u64 = 64 << 20;

/// The error a [`Bounded`] reader stops with (inside an `io::Error`).
#[derive(Debug)]
pub(crate) struct ExpansionExceeded {
    pub compressed: u64,
    pub expanded: u64,
    pub limit: u64,
}

impl std::fmt::Display for ExpansionExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} compressed bytes expanded to {} (limit {}x)",
            self.compressed, self.expanded, self.limit
        )
    }
}

impl std::error::Error for ExpansionExceeded {}

/// Stops a decompressor whose output outgrows `limit` times its input.
struct Bounded<R> {
    inner: R,
    compressed: ByteCounter,
    expanded: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.expanded += n as u64;
        let compressed = self.compressed.get().max(1);
        if self.expanded > EXPANSION_FLOOR && self.expanded / compressed >= self.limit {
            return Err(std::io::Error::other(ExpansionExceeded {
                compressed,
                expanded: self.expanded,
                limit: self.limit,
            }));
        }
        Ok(n)
    }
}

/// The decompressed byte stream of `location` in `store`. `Auto` picks by extension.
pub fn open_input(
    store: &dyn BronzeStore,
    location: &str,
    compression: Compression,
    max_expansion: u64,
) -> Result<(Box<dyn Read>, ByteCounter)> {
    let file = store.open(location)?;
    let counter = ByteCounter::default();
    let counted = BufReader::with_capacity(
        READ_BUFFER,
        Counting {
            inner: file,
            counter: counter.clone(),
        },
    );
    let ext = location.rsplit_once('.').map_or("", |(_, ext)| ext);
    let compression = match compression {
        Compression::Auto => match ext {
            "gz" | "gzip" => Compression::Gzip,
            "zst" | "zstd" => Compression::Zstd,
            _ => Compression::None,
        },
        other => other,
    };
    let decompressed: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(counted)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(counted).map_err(
            |source| FloeError::Input {
                path: location.to_string(),
                source,
            },
        )?),
        _ => return Ok((Box::new(counted), counter)),
    };
    let bounded = Bounded {
        inner: decompressed,
        compressed: counter.clone(),
        expanded: 0,
        limit: max_expansion,
    };
    Ok((Box::new(bounded), counter))
}
