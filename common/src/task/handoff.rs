//! Dedupe keys handed from one task of a split partition to the next.
//!
//! The tasks of a partition split across several tasks run one after another
//! (the coordinator holds each until the one before it succeeds). Each starts
//! from the keys of every row kept before it ([`SeenKeys`]), so a key repeated
//! anywhere in the partition is condemned exactly as in an unsplit load, with
//! the same row kept: the first by file and line.
//!
//! The keys go to `<Silver table location>/floe-keys/<run>/<task>.keys`, named
//! by the run and the task alone, so the next task finds them without being
//! told. The content is the same for every attempt of a task (the input and
//! the keys before it are), and a file is written only while it is missing or
//! incomplete (its trailer says how long it must be), so a complete file is
//! never rewritten under a reader. Orphan removal deletes the files once they
//! are older than its safety age.

use std::io::{Read, Write};

use bytes::Bytes;
use iceberg::io::{FileIO, FileRead, FileWrite};
use iceberg::table::Table;

use crate::error::{FloeError, Result};
use crate::validate::{KeyMemory, SeenKeys};
use floe_lake::ids::{RunId, TaskId};

/// What makes a task a link of a split partition's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DedupeLink {
    /// The task before this one in the partition: this task starts from its
    /// keys. `None` for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<TaskId>,
    /// The run of `after`, when it is not this task's: an append starts from
    /// the keys the partition's last task (of a load or an earlier append) left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_run: Option<RunId>,
    /// A task comes after this one: write the keys for it.
    #[serde(default)]
    pub hand_off: bool,
}

/// Where `task` of `run` leaves its keys.
pub fn keys_location(silver: &Table, run: &RunId, task: &TaskId) -> String {
    format!(
        "{}/floe-keys/{run}/{task}.keys",
        silver.metadata().location().trim_end_matches('/')
    )
}

const CHUNK: usize = 8 << 20;

/// Reads the keys `after` left for the next task of `run`, within `memory`.
pub async fn read_keys(
    silver: &Table,
    run: &RunId,
    after: &TaskId,
    memory: KeyMemory,
) -> Result<SeenKeys> {
    let location = keys_location(silver, run, after);
    let failed = |e: String| FloeError::Handoff {
        location: location.clone(),
        message: e,
    };
    let input = silver
        .file_io()
        .new_input(&location)
        .map_err(|e| failed(e.to_string()))?;
    let len = input
        .metadata()
        .await
        .map_err(|e| failed(e.to_string()))?
        .size;
    let reader = input.reader().await.map_err(|e| failed(e.to_string()))?;
    let handle = tokio::runtime::Handle::current();
    let at = location.clone();
    tokio::task::spawn_blocking(move || {
        let ranged = RangedReader {
            reader,
            handle,
            pos: 0,
            len,
            buf: Bytes::new(),
        };
        SeenKeys::read_from(std::io::BufReader::new(ranged), len, memory, &at)
    })
    .await
    .map_err(|e| failed(e.to_string()))?
}

/// Writes `keys` for the task after `task`, unless a complete copy is there.
/// Runs on a blocking thread (it blocks on the storage calls).
pub fn write_keys_blocking(
    file_io: &FileIO,
    location: &str,
    keys: &mut SeenKeys,
    handle: &tokio::runtime::Handle,
) -> Result<()> {
    let failed = |e: String| FloeError::Handoff {
        location: location.to_string(),
        message: e,
    };
    let input = file_io
        .new_input(location)
        .map_err(|e| failed(e.to_string()))?;
    if handle.block_on(is_complete(&input)).map_err(failed)? {
        return Ok(());
    }
    let output = file_io
        .new_output(location)
        .map_err(|e| failed(e.to_string()))?;
    let writer = handle
        .block_on(output.writer())
        .map_err(|e| failed(e.to_string()))?;
    let mut chunked = ChunkedWriter {
        writer,
        handle: handle.clone(),
        buf: Vec::with_capacity(CHUNK),
    };
    keys.write_to(&mut chunked)
        .map_err(|e| failed(e.to_string()))?;
    chunked.flush().map_err(|e| failed(e.to_string()))?;
    handle
        .block_on(chunked.writer.close())
        .map_err(|e| failed(e.to_string()))
}

/// True when the file exists and is as long as its trailer says.
async fn is_complete(input: &iceberg::io::InputFile) -> std::result::Result<bool, String> {
    if !input.exists().await.map_err(|e| e.to_string())? {
        return Ok(false);
    }
    let len = input.metadata().await.map_err(|e| e.to_string())?.size;
    if len < crate::validate::KEYS_TRAILER as u64 {
        return Ok(false);
    }
    let reader = input.reader().await.map_err(|e| e.to_string())?;
    let tail = reader
        .read(len - crate::validate::KEYS_TRAILER as u64..len)
        .await
        .map_err(|e| e.to_string())?;
    Ok(SeenKeys::trailer_says(&tail) == Some(len))
}

/// `std::io::Read` over a storage file, a few MiB at a time.
struct RangedReader {
    reader: Box<dyn FileRead>,
    handle: tokio::runtime::Handle,
    pos: u64,
    len: u64,
    buf: Bytes,
}

impl Read for RangedReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            if self.pos >= self.len {
                return Ok(0);
            }
            let end = (self.pos + CHUNK as u64).min(self.len);
            self.buf = self
                .handle
                .block_on(self.reader.read(self.pos..end))
                .map_err(std::io::Error::other)?;
            self.pos = end;
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}

/// `std::io::Write` to a storage file in chunks of a few MiB.
struct ChunkedWriter {
    writer: Box<dyn FileWrite>,
    handle: tokio::runtime::Handle,
    buf: Vec<u8>,
}

impl Write for ChunkedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.handle
            .block_on(self.writer.write(chunk))
            .map_err(std::io::Error::other)
    }
}
