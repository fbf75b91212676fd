//! Hostile input: a decompression bomb, a 2 GiB single line, files that change
//! while a task reads them. Each ends in a clear error or a quarantined row.

use std::io::Read;

use super::*;
use floe_lake::storage::{BronzeStore, StoredFile};

/// `copies` gzip members of `chunk` bytes of `byte` each, after a CSV header:
/// a few hundred KiB that expand about a thousandfold.
fn bomb(copies: usize, chunk: usize, byte: u8) -> Vec<u8> {
    let member = |bytes: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    };
    let mut out = member(b"id,name,note\n");
    let body = member(&vec![byte; chunk]);
    for _ in 0..copies {
        out.extend_from_slice(&body);
    }
    out
}

fn contract_with(limits: &str) -> Contract {
    let text = csv_contract()
        .text
        .replace("max_record_bytes = 1024", limits);
    Contract::parse(&text, Path::new("hostile.toml")).unwrap()
}

#[test]
fn a_gzip_bomb_stops_with_a_clear_error() {
    let (_dir, path) = write("bomb.csv.gz", &bomb(100, 1 << 20, b'a'));
    let contract = contract_with("max_record_bytes = 1024");
    let mut rows = 0;
    let err = read_file(
        &LocalStore,
        &path.to_string_lossy(),
        &contract,
        1024,
        &mut |b| {
            rows += b.num_rows() + b.rejects.len();
            Ok(())
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, FloeError::DecompressionBomb { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let message = err.to_string();
    for part in [
        "bomb.csv.gz",
        "decompression bomb",
        "limits.max_expansion",
        "limit 200x",
    ] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    assert_eq!(rows, 0, "nothing of the bomb reached the sink");
}

#[test]
fn a_genuine_file_under_a_raised_expansion_limit_is_read() {
    let (_dir, path) = write("big.csv.gz", &bomb(100, 1 << 20, b'a'));
    let contract = contract_with("max_record_bytes = 1024\nmax_expansion = 5000");
    let (batches, stats) = read_path(&path, &contract);
    // One record of 100 MiB: quarantined, its text cut.
    assert_eq!(stats.records, 1);
    let rejects: Vec<&Reject> = batches.iter().flat_map(|b| &b.rejects).collect();
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0].reasons[0].contains("exceeds limits.max_record_bytes"));
    assert!(rejects[0].raw.len() <= RAW_TEXT_KEEP);
}

/// A file made up on the fly: `head`, then `fill` bytes of `byte`, then `tail`.
#[derive(Debug, Clone)]
struct Generated {
    head: &'static [u8],
    fill: u64,
    byte: u8,
    tail: &'static [u8],
}

impl Generated {
    fn len(&self) -> u64 {
        self.head.len() as u64 + self.fill + self.tail.len() as u64
    }
}

#[async_trait::async_trait]
impl BronzeStore for Generated {
    async fn list(&self, _: &str) -> floe_lake::Result<Vec<StoredFile>> {
        Ok(Vec::new())
    }

    fn open(&self, _: &str) -> floe_lake::Result<Box<dyn Read + Send>> {
        let fill = std::io::repeat(self.byte).take(self.fill);
        Ok(Box::new(self.head.chain(fill).chain(self.tail)))
    }

    fn stat(&self, location: &str) -> floe_lake::Result<StoredFile> {
        Ok(StoredFile {
            location: location.into(),
            bytes: self.len(),
            modified_ms: Some(1),
            etag: None,
        })
    }
}

const TWO_GIB: u64 = 2 << 30;

#[test]
fn a_two_gigabyte_line_is_one_quarantined_row_and_reading_goes_on() {
    for (format, head, tail) in [
        ("csv", &b"id,name,note\n1,"[..], &b"\n2,b,y\n"[..]),
        (
            "ndjson",
            &b"{\"id\": 1, \"name\": \""[..],
            &b"\"}\n{\"id\": 2}\n"[..],
        ),
    ] {
        let store = Generated {
            head,
            fill: TWO_GIB,
            byte: b'x',
            tail,
        };
        let contract = contract(format, COLUMNS);
        let mut batches = Vec::new();
        let stats = read_file(&store, "huge", &contract, 1024, &mut |b| {
            batches.push(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(stats.bytes, store.len(), "{format}: read to the end");
        assert_eq!(stats.records, 2, "{format}");
        let rejects: Vec<&Reject> = batches.iter().flat_map(|b| &b.rejects).collect();
        assert_eq!(rejects.len(), 1, "{format}");
        assert!(rejects[0].reasons[0].contains("exceeds limits.max_record_bytes"));
        assert!(
            rejects[0].raw.len() <= RAW_TEXT_KEEP,
            "{format}: the raw text is cut"
        );
        assert_eq!(rows(&batches).len(), 1, "{format}: the next record is read");
    }
}

#[test]
fn a_file_that_changed_since_planning_is_refused_before_reading() {
    let store = Generated {
        head: b"id,name,note\n",
        fill: 0,
        byte: b'x',
        tail: b"1,a,x\n",
    };
    let planned = store.stat("f.csv").unwrap().fingerprint();
    let grown = Generated {
        tail: b"1,a,x\n2,b,y\n",
        ..store.clone()
    };
    let mut rows = 0;
    let err = read_planned_file(
        &grown,
        "f.csv",
        &planned,
        None,
        &csv_contract(),
        16,
        &mut |b| {
            rows += b.num_rows();
            Ok(())
        },
    )
    .unwrap_err();
    assert!(matches!(err, FloeError::InputChanged { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(
        message.contains("planned: 19 bytes") && message.contains("now: 25 bytes"),
        "{message}"
    );
    assert_eq!(rows, 0);
    // Unchanged, it reads as usual.
    let stats = read_planned_file(
        &store,
        "f.csv",
        &planned,
        None,
        &csv_contract(),
        16,
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!(stats.records, 1);
}

/// Changes its size (as `stat` sees it) once it has been opened.
#[derive(Debug)]
struct ChangesWhileRead {
    inner: Generated,
    opened: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl BronzeStore for ChangesWhileRead {
    async fn list(&self, p: &str) -> floe_lake::Result<Vec<StoredFile>> {
        self.inner.list(p).await
    }

    fn open(&self, location: &str) -> floe_lake::Result<Box<dyn Read + Send>> {
        self.opened.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.open(location)
    }

    fn stat(&self, location: &str) -> floe_lake::Result<StoredFile> {
        let mut now = self.inner.stat(location)?;
        if self.opened.load(std::sync::atomic::Ordering::SeqCst) {
            now.bytes += 100;
        }
        Ok(now)
    }
}

#[test]
fn a_file_that_changes_while_it_is_read_fails_the_read() {
    let inner = Generated {
        head: b"id,name,note\n",
        fill: 0,
        byte: b'x',
        tail: b"1,a,x\n",
    };
    let planned = inner.stat("f.csv").unwrap().fingerprint();
    let store = ChangesWhileRead {
        inner,
        opened: false.into(),
    };
    let err = read_planned_file(
        &store,
        "f.csv",
        &planned,
        None,
        &csv_contract(),
        16,
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(matches!(err, FloeError::InputChanged { .. }), "{err:?}");
    assert!(err.to_string().contains("now: 119 bytes"), "{err}");
}
