use proptest::prelude::*;

use super::*;

#[derive(Debug)]
struct Mem(Vec<u8>);

impl RangeReader for Mem {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_range(&self, start: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let start = start as usize;
        self.0
            .get(start..start + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| std::io::Error::other("past the end"))
    }
}

fn read_all(file: &Mem, range: ByteRange, header: Option<u64>) -> (Vec<u8>, u64) {
    let file: Arc<dyn RangeReader> = Arc::new(Mem(file.0.clone()));
    let read = RangeRead {
        range,
        lines_before: None,
    };
    let mut open = open_range(file, read, header).unwrap();
    let mut out = Vec::new();
    open.stream.read_to_end(&mut out).unwrap();
    (out, open.lines_before)
}

fn ranges(size: u64, mut cuts: Vec<u64>) -> Vec<ByteRange> {
    cuts.push(0);
    cuts.push(size);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|w| ByteRange {
            start: w[0],
            end: w[1],
        })
        .collect()
}

proptest! {
    /// Whatever the cuts, the ranges' streams are the file, each byte once,
    /// and each says how many lines come before it.
    #[test]
    fn ranges_read_each_record_once_with_the_files_line_numbers(
        lines in prop::collection::vec("[a-c\r]{0,12}", 0..30),
        trailing_newline in any::<bool>(),
        cuts in prop::collection::vec(0u64..400, 0..8),
    ) {
        let mut text = lines.join("\n");
        if trailing_newline {
            text.push('\n');
        }
        let file = Mem(text.into_bytes());
        let size = file.len();
        let cuts = cuts.into_iter().map(|c| c % (size + 1)).collect();
        let mut joined = Vec::new();
        for range in ranges(size, cuts) {
            let (out, lines_before) = read_all(&file, range, None);
            if !out.is_empty() {
                let newlines = memchr::memchr_iter(b'\n', &file.0[..joined.len()]).count();
                prop_assert_eq!(lines_before, newlines as u64, "{}", range);
                // It starts a record and its first byte is in the range.
                let begins = joined.len() as u64;
                prop_assert!(begins >= range.start && begins < range.end.max(1), "{}", range);
                prop_assert!(begins == 0 || file.0[begins as usize - 1] == b'\n');
            }
            joined.extend(out);
        }
        prop_assert_eq!(joined, file.0);
    }
}

#[test]
fn split_covers_the_file_in_order() {
    assert_eq!(
        ByteRange::split(10, 3),
        [(0, 3), (3, 6), (6, 10)].map(|(start, end)| ByteRange { start, end })
    );
    assert_eq!(ByteRange::split(2, 5).len(), 2, "never an empty range");
    assert_eq!(ByteRange::split(0, 3), [ByteRange { start: 0, end: 0 }]);
}

#[test]
fn a_later_csv_range_starts_with_the_header_and_numbers_lines_as_the_file() {
    let file = Mem(b"\r\nid,amount\r\n1,2\r\n3,4\r\n5,6\r\n".to_vec());
    // From inside `1,2`: the range owns `3,4` (line 4) and `5,6`.
    let (out, lines) = read_all(&file, ByteRange { start: 15, end: 29 }, Some(1024));
    assert_eq!(out, b"\r\nid,amount\r\n3,4\r\n5,6\r\n");
    // The reader counts the header's two lines again: 4 - 1 - 2 = 1 before it.
    assert_eq!(lines, 1);
    // The first range reads the file from its start, header included.
    let (out, lines) = read_all(&file, ByteRange { start: 0, end: 15 }, Some(1024));
    assert_eq!(out, b"\r\nid,amount\r\n1,2\r\n");
    assert_eq!(lines, 0);
}

#[test]
fn a_range_inside_one_long_record_is_empty() {
    let file = Mem(b"{\"a\":\"xxxxxxxxxxxxxxxxxxxx\"}\n{}\n".to_vec());
    let (out, _) = read_all(&file, ByteRange { start: 5, end: 20 }, None);
    assert!(out.is_empty());
    let (out, lines) = read_all(&file, ByteRange { start: 20, end: 31 }, None);
    assert_eq!(out, b"{}\n");
    assert_eq!(lines, 1);
}
