//! Opens an input file with its decompressor, counting the bytes read from storage.

use std::cell::Cell;
use std::io::{BufReader, Read};
use std::rc::Rc;

use crate::contract::Compression;
use crate::error::{FloeError, Result};
use crate::storage::BronzeStore;

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

/// The decompressed byte stream of `location` in `store`. `Auto` picks by extension.
pub fn open_input(
    store: &dyn BronzeStore,
    location: &str,
    compression: Compression,
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
    let reader: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(counted)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(counted).map_err(
            |source| FloeError::Input {
                path: location.to_string(),
                source,
            },
        )?),
        _ => Box::new(counted),
    };
    Ok((reader, counter))
}
