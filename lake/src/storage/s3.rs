//! Bronze on S3: listing by prefix then glob, reading by ranged GETs with the
//! next range fetched while the current one is parsed.

use std::io::Read;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use glob::{MatchOptions, Pattern};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::ranges::past_the_end;
use super::{input_error, BronzeStore, RangeReader, StoredFile};
use crate::aws::describe_error;
use crate::error::{LakeError, Result};

/// Bytes per ranged GET: large enough to amortize a request, small enough that
/// two in memory per file read are cheap.
const DEFAULT_RANGE_BYTES: u64 = 8 << 20;

#[derive(Clone)]
pub struct S3Store {
    client: Client,
    range_bytes: u64,
}

impl std::fmt::Debug for S3Store {
    // Not derived: the client's config holds the credentials provider.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("range_bytes", &self.range_bytes)
            .finish()
    }
}

/// `s3://bucket/key` as (bucket, key).
fn split(location: &str) -> Option<(&str, &str)> {
    location.strip_prefix("s3://")?.split_once('/')
}

fn io_error(kind: std::io::ErrorKind, message: String) -> std::io::Error {
    std::io::Error::new(kind, message)
}

impl S3Store {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            range_bytes: DEFAULT_RANGE_BYTES,
        }
    }

    /// Reads in ranges of `bytes` (tests use small ranges to cross many).
    pub fn with_range_bytes(mut self, bytes: u64) -> Self {
        self.range_bytes = bytes.max(1);
        self
    }

    /// The object at `location` as it is now (HeadObject): its version to
    /// read, its size, and the runtime to read it on (from a blocking thread).
    fn object(&self, location: &str) -> Result<(Object, u64, Handle)> {
        let (bucket, key) = split_location(location)?;
        let handle = Handle::current();
        let head = handle.block_on(self.head(location, bucket, key))?;
        let object = Object {
            client: self.client.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            etag: head.etag,
        };
        Ok((object, head.bytes, handle))
    }

    async fn head(&self, location: &str, bucket: &str, key: &str) -> Result<StoredFile> {
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(h) => Ok(StoredFile {
                location: location.to_string(),
                bytes: h.content_length().unwrap_or(0).max(0) as u64,
                modified_ms: h.last_modified().and_then(|t| t.to_millis().ok()),
                etag: h.e_tag().map(str::to_string),
            }),
            Err(e) => {
                let kind = match e.as_service_error() {
                    Some(s) if s.is_not_found() => std::io::ErrorKind::NotFound,
                    _ => std::io::ErrorKind::Other,
                };
                Err(input_error(
                    location,
                    io_error(
                        kind,
                        format!("S3 HeadObject failed: {}", describe_error(&e)),
                    ),
                ))
            }
        }
    }
}

#[async_trait]
impl BronzeStore for S3Store {
    async fn list(&self, pattern: &str) -> Result<Vec<StoredFile>> {
        let err = |message: String| LakeError::Listing {
            pattern: pattern.to_string(),
            message,
        };
        let (bucket, key_pattern) =
            split(pattern).ok_or_else(|| err("expected s3://BUCKET/KEY-PATTERN".into()))?;
        let matcher = Pattern::new(key_pattern).map_err(|e| err(e.to_string()))?;
        let options = MatchOptions {
            require_literal_separator: true,
            ..MatchOptions::default()
        };
        // Only keys under the pattern's literal head can match.
        let literal = key_pattern
            .find(['*', '?', '[', '{'])
            .map_or(key_pattern, |i| &key_pattern[..i]);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(literal)
            .into_paginator()
            .send();
        let mut files = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                err(format!(
                    "S3 ListObjectsV2 failed: {}. Check the bucket, the region and that \
                     the role may call s3:ListBucket",
                    describe_error(&e)
                ))
            })?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if !key.ends_with('/') && matcher.matches_with(key, options) {
                    files.push(StoredFile {
                        location: format!("s3://{bucket}/{key}"),
                        bytes: object.size().unwrap_or(0).max(0) as u64,
                        modified_ms: object.last_modified().and_then(|t| t.to_millis().ok()),
                        etag: object.e_tag().map(str::to_string),
                    });
                }
            }
        }
        files.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(files)
    }

    fn open(&self, location: &str) -> Result<Box<dyn Read + Send>> {
        let (object, size, handle) = self.object(location)?;
        Ok(Box::new(RangedReader {
            object,
            handle,
            size,
            range_bytes: self.range_bytes,
            next_start: 0,
            current: Vec::new(),
            pos: 0,
            pending: None,
        }))
    }

    /// HeadObject: size, time and ETag.
    fn stat(&self, location: &str) -> Result<StoredFile> {
        let (bucket, key) = split_location(location)?;
        Handle::current().block_on(self.head(location, bucket, key))
    }

    /// One ranged GET per range asked for, each with `If-Match` on the ETag
    /// that HeadObject gave.
    fn open_ranges(&self, location: &str) -> Result<Box<dyn RangeReader>> {
        let (object, size, handle) = self.object(location)?;
        Ok(Box::new(ObjectRanges {
            object,
            handle,
            size,
        }))
    }
}

/// One version of an object: every range is read with `If-Match` on its ETag,
/// so a rewrite mid-read fails the read instead of mixing two versions.
#[derive(Clone)]
struct Object {
    client: Client,
    bucket: String,
    key: String,
    etag: Option<String>,
}

impl Object {
    /// Bytes `start..end` of the object.
    async fn get_range(&self, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
        let failed = |m: String| io_error(std::io::ErrorKind::Other, m);
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_if_match(self.etag.clone())
            .range(format!("bytes={start}-{}", end - 1))
            .send()
            .await
            .map_err(|e| {
                let precondition = e.raw_response().map(|r| r.status().as_u16()) == Some(412);
                failed(if precondition {
                    "the object changed while being read (its ETag no longer matches)".into()
                } else {
                    format!("S3 GetObject failed: {}", describe_error(&e))
                })
            })?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| failed(format!("reading an S3 response: {e}")))?
            .to_vec();
        let expected = (end - start) as usize;
        if body.len() != expected {
            // The object changed (or shrank) while it was being read.
            return Err(failed(format!(
                "S3 returned {} bytes for a range of {expected}: the object changed while \
                 being read",
                body.len()
            )));
        }
        Ok(body)
    }
}

/// Random access to one version of an object.
struct ObjectRanges {
    object: Object,
    handle: Handle,
    size: u64,
}

impl RangeReader for ObjectRanges {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_range(&self, start: u64, len: usize) -> std::io::Result<Vec<u8>> {
        past_the_end(start, len, self.size)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        self.handle
            .block_on(self.object.get_range(start, start + len as u64))
    }
}

impl std::fmt::Debug for ObjectRanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRanges")
            .field("bucket", &self.object.bucket)
            .field("key", &self.object.key)
            .finish()
    }
}

fn split_location(location: &str) -> Result<(&str, &str)> {
    split(location).ok_or_else(|| {
        input_error(
            location,
            io_error(
                std::io::ErrorKind::InvalidInput,
                "expected s3://BUCKET/KEY".into(),
            ),
        )
    })
}

type Fetch = JoinHandle<std::io::Result<Vec<u8>>>;

/// A blocking reader over an object, one ranged GET at a time, the next one
/// already in flight while the current range is consumed.
struct RangedReader {
    object: Object,
    handle: Handle,
    size: u64,
    range_bytes: u64,
    next_start: u64,
    current: Vec<u8>,
    pos: usize,
    pending: Option<Fetch>,
}

impl RangedReader {
    /// Starts fetching the next range, if any is left.
    fn fetch_next(&mut self) -> Option<Fetch> {
        if self.next_start >= self.size {
            return None;
        }
        let start = self.next_start;
        let end = (start + self.range_bytes).min(self.size);
        self.next_start = end;
        let object = self.object.clone();
        Some(
            self.handle
                .spawn(async move { object.get_range(start, end).await }),
        )
    }
}

impl Read for RangedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.current.len() {
            let Some(fetch) = self.pending.take().or_else(|| self.fetch_next()) else {
                return Ok(0);
            };
            self.current = self
                .handle
                .block_on(fetch)
                .map_err(|e| io_error(std::io::ErrorKind::Other, e.to_string()))??;
            self.pos = 0;
            self.pending = self.fetch_next();
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for RangedReader {
    fn drop(&mut self) {
        if let Some(fetch) = self.pending.take() {
            fetch.abort();
        }
    }
}

impl std::fmt::Debug for RangedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangedReader")
            .field("bucket", &self.object.bucket)
            .field("key", &self.object.key)
            .finish()
    }
}
