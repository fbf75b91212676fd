//! Sample data and a contract whose CSV files can be cut into byte ranges:
//! the sample's quoted values sometimes hold line breaks, which
//! [`flatten_quoted_newlines`] turns into spaces (the rows, their validity and
//! the ground truth's counts stay as they were).

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The example contract's text, declaring that no CSV value holds a line break.
pub fn splittable_contract_text() -> String {
    let text =
        std::fs::read_to_string(crate::checks::contract_path()).expect("the example contract");
    text.replace(
        "[source.csv]\n",
        "[source.csv]\nnewlines_in_values = false\n",
    )
}

/// Writes [`splittable_contract_text`] to `dir` and returns its path.
pub fn write_splittable_contract(dir: &Path) -> PathBuf {
    let path = dir.join("splittable.toml");
    std::fs::write(&path, splittable_contract_text()).expect("write the contract");
    path
}

/// Every CSV file under `bronze`, sorted.
pub fn csv_files(bronze: &Path) -> Vec<PathBuf> {
    let pattern = format!("{}/**/*.csv", bronze.display());
    let mut files: Vec<PathBuf> = glob::glob(&pattern)
        .expect("a glob pattern")
        .map(|f| f.expect("a listed file"))
        .collect();
    files.sort();
    files
}

/// Replaces line breaks inside quoted CSV values with spaces, file by file
/// (streamed). With `crlf_every_other`, every other file also gets CRLF line ends.
pub fn flatten_quoted_newlines(bronze: &Path, crlf_every_other: bool) {
    for (i, file) in csv_files(bronze).iter().enumerate() {
        let crlf = crlf_every_other && i % 2 == 1;
        let flat = file.with_extension("csv.flat");
        let mut input = BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap());
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&flat).unwrap());
        let mut quoted = false;
        let mut chunk = vec![0u8; 1 << 20];
        let mut line = Vec::with_capacity(chunk.len() + 4096);
        loop {
            let n = input.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            line.clear();
            for &b in &chunk[..n] {
                match b {
                    b'"' => {
                        quoted = !quoted;
                        line.push(b);
                    }
                    b'\n' | b'\r' if quoted => line.push(b' '),
                    b'\n' if crlf => line.extend_from_slice(b"\r\n"),
                    _ => line.push(b),
                }
            }
            out.write_all(&line).unwrap();
        }
        out.flush().unwrap();
        drop(out);
        std::fs::rename(&flat, file).unwrap();
    }
}
