//! Random access to a Bronze file: what Parquet needs, since its index (the
//! footer) sits at the end of the file.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

use super::input_error;
use crate::error::Result;

/// A file's bytes by range. It owns what it reads through, so it outlives the
/// store it came from. Blocking: call it on a blocking thread.
pub trait RangeReader: Send + Sync + std::fmt::Debug {
    /// The file's size in bytes.
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` bytes from `start`. A range past the end of the file is an error.
    fn read_range(&self, start: u64, len: usize) -> std::io::Result<Vec<u8>>;
}

/// A local file read with positioned reads (no shared cursor, so ranges may be
/// read from several places at once).
#[derive(Debug)]
pub(crate) struct FileRanges {
    file: File,
    len: u64,
}

impl FileRanges {
    pub fn new(file: File, location: &str) -> Result<Self> {
        let len = file.metadata().map_err(|e| input_error(location, e))?.len();
        Ok(Self { file, len })
    }
}

impl RangeReader for FileRanges {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_range(&self, start: u64, len: usize) -> std::io::Result<Vec<u8>> {
        past_the_end(start, len, self.len)?;
        let mut out = vec![0; len];
        self.file.read_exact_at(&mut out, start)?;
        Ok(out)
    }
}

/// Refuses a range that ends past `size`.
pub(crate) fn past_the_end(start: u64, len: usize, size: u64) -> std::io::Result<()> {
    if start.saturating_add(len as u64) > size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "bytes {start}..{} requested of a {size}-byte file",
                start + len as u64
            ),
        ));
    }
    Ok(())
}

/// Copies `reader` into an anonymous temporary file (in `TMPDIR`), removed
/// when the returned reader is dropped.
pub(crate) fn spool(
    mut reader: Box<dyn Read + Send>,
    location: &str,
) -> Result<Box<dyn RangeReader>> {
    let mut file = tempfile::tempfile().map_err(|e| input_error(location, e))?;
    std::io::copy(&mut reader, &mut file).map_err(|e| input_error(location, e))?;
    Ok(Box::new(FileRanges::new(file, location)?))
}
