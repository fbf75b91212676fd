//! NDJSON (one object per line) and JSON arrays of objects. Values are kept as
//! their text (strings unquoted, numbers and booleans as written) so validation
//! treats them exactly like CSV fields.

use std::io::{BufRead, BufReader};

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::Value;

use super::{raw_text, trim_terminator, BatchBuilder, RawBatch, TextInput};
use crate::contract::{Contract, JsonPath, Step};
use crate::error::{FloeError, Result};

/// Reads one `\n`-terminated line into `out`, keeping at most `max` bytes.
/// Returns the full length of the line, or None at the end of input.
fn read_line_capped<R: BufRead>(
    r: &mut R,
    out: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<usize>> {
    out.clear();
    let mut total = 0usize;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((total > 0).then_some(total));
        }
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        total += chunk.len();
        let n = chunk.len();
        r.consume(n);
        if done {
            return Ok(Some(total));
        }
    }
}

/// Reads `input` to its end, handing each full batch to `sink`; returns
/// how many records it held.
pub(super) fn read_ndjson(
    input: TextInput<'_>,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<u64> {
    let TextInput {
        stream,
        lines_before,
        name,
        path,
    } = input;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let ncols = contract.columns.len();
    let mut builder = BatchBuilder::new(name, ncols, vec![None; ncols], batch_rows);
    let mut line_buf = Vec::new();
    let (mut line_no, mut records) = (lines_before, 0u64);
    let max = contract.max_record_bytes;
    while let Some(len) =
        read_line_capped(&mut reader, &mut line_buf, max + 2).map_err(|source| {
            FloeError::Input {
                path: path.to_string(),
                source,
            }
        })?
    {
        line_no += 1;
        let line = trim_terminator(&line_buf);
        if line.iter().all(u8::is_ascii_whitespace) && len <= max {
            continue;
        }
        records += 1;
        if len > max {
            let reason = format!(
                "record of {len} bytes exceeds limits.max_record_bytes ({max} bytes); its text is cut"
            );
            builder.reject(line_no, raw_text(line), reason);
        } else {
            push_object(&mut builder, line, line_no, contract);
        }
        if builder.is_full() {
            sink(builder.take())?;
        }
    }
    if !builder.is_empty() {
        sink(builder.take())?;
    }
    Ok(records)
}

/// A JSON array has no lines to count before a range: it is never read in ranges.
pub(super) fn read_json_array(
    input: TextInput<'_>,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<u64> {
    let TextInput {
        stream, name, path, ..
    } = input;
    let ncols = contract.columns.len();
    let mut builder = BatchBuilder::new(name.clone(), ncols, vec![None; ncols], batch_rows);
    let mut splitter = ArraySplitter::new(
        BufReader::with_capacity(256 * 1024, stream),
        contract.max_record_bytes,
    );
    let mut records = 0u64;
    let io_err = |source| FloeError::Input {
        path: path.to_string(),
        source,
    };
    while let Some(element) = splitter.next_element().map_err(io_err)? {
        records += 1;
        match element {
            Element::Value { bytes, line } => push_object(&mut builder, &bytes, line, contract),
            Element::Oversized { head, line, len } => builder.reject(
                line,
                raw_text(&head),
                format!(
                    "element of {len} bytes exceeds limits.max_record_bytes ({} bytes); its text is cut",
                    contract.max_record_bytes
                ),
            ),
            Element::Malformed { head, line, reason } => {
                // The rest of the file cannot be split reliably: account for it as one reject.
                builder.reject(line, raw_text(&head), reason);
                break;
            }
        }
        if builder.is_full() {
            sink(builder.take())?;
        }
    }
    if !builder.is_empty() {
        sink(builder.take())?;
    }
    Ok(records)
}

fn describe_non_object(text: &str, e: serde_json::Error) -> String {
    let kind = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(_)) => "an array",
        Ok(Value::String(_)) => "a string",
        Ok(Value::Number(_)) => "a number",
        Ok(Value::Bool(_)) => "a boolean",
        Ok(Value::Null) => "null",
        Ok(Value::Object(_)) | Err(_) => return format!("malformed JSON: {e}"),
    };
    format!("expected a JSON object, found {kind}")
}

fn push_object(builder: &mut BatchBuilder, bytes: &[u8], line: u64, contract: &Contract) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let reason = format!("invalid UTF-8 at byte {} of the record", e.valid_up_to());
            return builder.reject(line, raw_text(bytes), reason);
        }
    };
    // RawValue keeps numbers as written: a decimal never goes through f64.
    let object: HashMap<String, &RawValue> = match serde_json::from_str(text) {
        Ok(map) => map,
        Err(e) => return builder.reject(line, raw_text(bytes), describe_non_object(text, e)),
    };
    let mut values: Vec<Option<String>> = Vec::with_capacity(contract.columns.len());
    for column in &contract.columns {
        let raw = match &column.path {
            None => object.get(&column.name).map(|r| r.get()),
            Some(path) => match at_path(&object, path) {
                Ok(raw) => raw,
                Err(reason) => {
                    let reason = format!("column `{}`: {reason}", column.name);
                    return builder.reject(line, text.to_string(), reason);
                }
            },
        };
        let v = match raw {
            None | Some("null") => None,
            Some(t) if t.starts_with('"') => match serde_json::from_str::<String>(t) {
                Ok(s) => Some(s),
                Err(e) => {
                    return builder.reject(line, text.to_string(), format!("malformed JSON: {e}"))
                }
            },
            Some(t) if t.starts_with('{') || t.starts_with('[') => {
                let reason = format!(
                    "column `{}` holds a nested {} where a single value is expected",
                    column.name,
                    if t.starts_with('[') {
                        "array"
                    } else {
                        "object"
                    }
                );
                return builder.reject(line, text.to_string(), reason);
            }
            Some(t) => Some(t.to_string()),
        };
        values.push(v);
    }
    builder.push(line, text, |i| values[i].as_deref());
}

/// The JSON text at `path` in `object`; None when a key is missing, an index is
/// past the end or the value is null on the way (the column is then null). A
/// step into a value of the wrong kind (a key of an array, an index of a
/// string) is an error that names where the path broke.
fn at_path<'a>(
    object: &HashMap<String, &'a RawValue>,
    path: &JsonPath,
) -> std::result::Result<Option<&'a str>, String> {
    let Some(mut current) = object.get(path.root()).map(|r| r.get()) else {
        return Ok(None);
    };
    for (i, step) in path.steps().iter().enumerate().skip(1) {
        if current == "null" {
            return Ok(None);
        }
        let next: Option<&'a RawValue> = match step {
            Step::Key(key) if current.starts_with('{') => {
                let map: HashMap<String, &'a RawValue> =
                    serde_json::from_str(current).map_err(|e| format!("malformed JSON: {e}"))?;
                map.get(key.as_str()).copied()
            }
            Step::Index(n) if current.starts_with('[') => {
                let items: Vec<&'a RawValue> =
                    serde_json::from_str(current).map_err(|e| format!("malformed JSON: {e}"))?;
                items.get(*n).copied()
            }
            _ => {
                let reached = JsonPath::from_steps(path.steps()[..i].to_vec());
                let wanted = match step {
                    Step::Key(_) => "an object",
                    Step::Index(_) => "an array",
                };
                return Err(format!(
                    "path `{path}` expects {wanted} at `{reached}`, which holds `{}`",
                    current.chars().take(40).collect::<String>()
                ));
            }
        };
        match next {
            Some(value) => current = value.get(),
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

enum Element {
    Value {
        bytes: Vec<u8>,
        line: u64,
    },
    Oversized {
        head: Vec<u8>,
        line: u64,
        len: usize,
    },
    Malformed {
        head: Vec<u8>,
        line: u64,
        reason: String,
    },
}

/// Splits `[ {...}, {...} ]` into element texts without parsing them: it tracks
/// nesting depth and string state only, so memory stays bounded by one element.
struct ArraySplitter<R> {
    input: R,
    started: bool,
    done: bool,
    line: u64,
    max: usize,
}

impl<R: BufRead> ArraySplitter<R> {
    fn new(input: R, max: usize) -> Self {
        Self {
            input,
            started: false,
            done: false,
            line: 1,
            max,
        }
    }

    fn next_byte(&mut self) -> std::io::Result<Option<u8>> {
        let buf = self.input.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.input.consume(1);
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some(b))
    }

    fn skip_ws(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            match self.next_byte()? {
                Some(b) if b.is_ascii_whitespace() => continue,
                other => return Ok(other),
            }
        }
    }

    fn next_element(&mut self) -> std::io::Result<Option<Element>> {
        if self.done {
            return Ok(None);
        }
        let malformed = |s: &mut Self, head: Vec<u8>, reason: &str| {
            s.done = true;
            Ok(Some(Element::Malformed {
                head,
                line: s.line,
                reason: reason.to_string(),
            }))
        };
        let mut first = self.skip_ws()?;
        if !self.started {
            match first {
                None => {
                    self.done = true;
                    return Ok(None);
                }
                Some(b'[') => {
                    self.started = true;
                    first = self.skip_ws()?;
                }
                Some(b) => {
                    return malformed(
                        self,
                        vec![b],
                        "the file is not a JSON array (it must start with `[`)",
                    )
                }
            }
        } else if first == Some(b',') {
            first = self.skip_ws()?;
        }
        let Some(first) = first else {
            return malformed(self, Vec::new(), "the JSON array is not closed with `]`");
        };
        if first == b']' {
            self.done = true;
            return Ok(None);
        }
        let line = self.line;
        let mut bytes = vec![first];
        let (mut depth, mut in_string, mut escaped, mut len) = (0i64, first == b'"', false, 1usize);
        if first == b'{' || first == b'[' {
            depth = 1;
        }
        while depth > 0 || in_string {
            let Some(b) = self.next_byte()? else {
                return malformed(self, bytes, "the file ends inside an array element");
            };
            len += 1;
            if bytes.len() < self.max + 1 {
                bytes.push(b);
            }
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                _ => {}
            }
        }
        if first != b'{' && first != b'[' && first != b'"' {
            // A bare scalar: read up to the next separator.
            loop {
                let buf = self.input.fill_buf()?;
                match buf.first() {
                    Some(b',') | Some(b']') | None => break,
                    Some(&b) => {
                        bytes.push(b);
                        self.input.consume(1);
                        len += 1;
                    }
                }
            }
        }
        if len > self.max {
            bytes.truncate(super::RAW_TEXT_KEEP);
            return Ok(Some(Element::Oversized {
                head: bytes,
                line,
                len,
            }));
        }
        Ok(Some(Element::Value { bytes, line }))
    }
}
