//! Refuses input that is not text before any of it is parsed. Text in any
//! 8-bit encoding has next to no control bytes; compressed, columnar, archive,
//! image and UTF-16 files are full of them (or start with a known signature).
//! A stray control byte in a text file is not enough: that row is judged by
//! the contract like any other. The message names what the file looks like.

use std::io::{BufRead, BufReader, Read};

use crate::error::{FloeError, Result};

/// How much of the start of a file is examined.
const SNIFF_BYTES: usize = 64 * 1024;

/// The reader, unchanged in content, once its first bytes look like text.
pub(crate) fn require_text(reader: Box<dyn Read>, location: &str) -> Result<Box<dyn Read>> {
    let mut reader = BufReader::with_capacity(SNIFF_BYTES, reader);
    let head = reader.fill_buf().map_err(|source| FloeError::Input {
        path: location.to_string(),
        source,
    })?;
    let controls = head.iter().filter(|&&b| is_control(b)).count();
    let signature = signature(head);
    // Random or compressed bytes are ~9% control bytes; text has none or a few.
    if signature.is_some() || controls * 50 > head.len() {
        return Err(FloeError::NotText {
            path: location.to_string(),
            detail: format!(
                "{} ({controls} control bytes in its first {} bytes)",
                signature.unwrap_or("it holds binary data"),
                head.len()
            ),
        });
    }
    Ok(Box::new(reader))
}

/// Control characters other than the whitespace text uses.
fn is_control(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0e..=0x1f | 0x7f)
}

/// What a file that is not text is, by its first bytes, and what to do about it.
fn signature(head: &[u8]) -> Option<&'static str> {
    Some(match head {
        [0x1f, 0x8b, ..] => {
            "it is gzip-compressed: set source.compression = \"gzip\" or name it *.gz"
        }
        [0x28, 0xb5, 0x2f, 0xfd, ..] => {
            "it is zstd-compressed: set source.compression = \"zstd\" or name it *.zst"
        }
        [b'P', b'A', b'R', b'1', ..] => "it is a Parquet file, not CSV or JSON",
        [b'P', b'K', 3, 4, ..] => "it is a zip archive: unpack it first",
        [0xff, 0xfe, ..] | [0xfe, 0xff, ..] => "it is UTF-16 text: convert it to UTF-8",
        [0x89, b'P', b'N', b'G', ..] | [0xff, 0xd8, 0xff, ..] => "it is an image",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        require_text(Box::new(std::io::Cursor::new(bytes.to_vec())), "f.csv")?
            .read_to_end(&mut out)
            .unwrap();
        Ok(out)
    }

    #[test]
    fn text_passes_through_unchanged() {
        let text = "id,amount\n1,2.50\né,\"x\"\n".repeat(10_000);
        assert_eq!(check(text.as_bytes()).unwrap(), text.as_bytes());
        assert!(check(b"").unwrap().is_empty());
        // A stray NUL or escape in a row is that row's business, not the file's.
        let stray = format!("id,amount\n1,a\0b\n2,\x1b[0m\n{}", "3,4\n".repeat(100));
        assert_eq!(check(stray.as_bytes()).unwrap(), stray.as_bytes());
        // Latin-1 text is text (its rows fail UTF-8 checks one by one).
        let latin1 = b"id,name\n1,caf\xe9\n2,na\xefve\n".repeat(100);
        assert_eq!(check(&latin1).unwrap(), latin1);
    }

    #[test]
    fn random_bytes_are_not_text() {
        use rand::{RngCore, SeedableRng};
        let mut bytes = vec![0u8; 100_000];
        rand_chacha::ChaCha8Rng::seed_from_u64(7).fill_bytes(&mut bytes);
        bytes[..4].copy_from_slice(b"id,a");
        let err = check(&bytes).unwrap_err().to_string();
        assert!(err.contains("binary data"), "{err}");
    }

    #[test]
    fn binary_input_is_named_for_what_it_is() {
        let mut gzip = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gzip, flate2::Compression::fast());
            e.write_all(b"id\n1\n").unwrap();
        }
        let cases: [(&[u8], &str); 5] = [
            (&gzip, "source.compression = \"gzip\""),
            (b"PAR1\0\0\x15\x04", "Parquet"),
            (b"PK\x03\x04\x14\0\0\0", "zip archive"),
            (b"\xff\xfei\0d\0", "UTF-16"),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "an image"),
        ];
        for (bytes, expected) in cases {
            let err = check(bytes).unwrap_err();
            assert!(matches!(err, FloeError::NotText { .. }), "{err:?}");
            let message = err.to_string();
            assert!(
                message.contains(expected) && message.contains("f.csv"),
                "{message}"
            );
            assert!(!err.is_retryable());
        }
    }
}
