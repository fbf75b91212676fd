//! A CSV line split without csv-core: most lines of most files hold no quote,
//! or only quotes around whole fields, and splitting those needs no state
//! machine. Anything else is left to csv-core, which defines what a record is.

/// Splits `line` (one line's bytes, without its line terminator) into the
/// spans csv-core would give its fields: `starts[i]..ends[i]` is field `i`.
///
/// Returns false, leaving the spans meaningless, for a line this does not
/// split exactly as csv-core would: one holding a carriage return, a quote
/// inside an unquoted field, a doubled (escaped) quote, anything but a
/// delimiter after a closing quote, or a quoted field still open at the line's
/// end (a value with a line break in it).
pub(super) fn split_simple(
    line: &[u8],
    delimiter: u8,
    quote: u8,
    starts: &mut Vec<usize>,
    ends: &mut Vec<usize>,
) -> bool {
    starts.clear();
    ends.clear();
    if memchr::memchr2(quote, b'\r', line).is_none() {
        let mut start = 0;
        for at in memchr::memchr_iter(delimiter, line) {
            starts.push(start);
            ends.push(at);
            start = at + 1;
        }
        starts.push(start);
        ends.push(line.len());
        return true;
    }
    if memchr::memchr(b'\r', line).is_some() {
        return false;
    }
    let mut pos = 0;
    loop {
        if line.get(pos) == Some(&quote) {
            let open = pos + 1;
            let Some(close) = memchr::memchr(quote, &line[open..]).map(|at| open + at) else {
                return false;
            };
            starts.push(open);
            ends.push(close);
            match line.get(close + 1) {
                None => return true,
                Some(&b) if b == delimiter => pos = close + 2,
                Some(_) => return false,
            }
        } else {
            let rest = &line[pos..];
            match memchr::memchr2(delimiter, quote, rest) {
                Some(at) if rest[at] == delimiter => {
                    starts.push(pos);
                    ends.push(pos + at);
                    pos += at + 1;
                }
                Some(_) => return false,
                None => {
                    starts.push(pos);
                    ends.push(line.len());
                    return true;
                }
            }
        }
    }
}

/// Whether [`split_simple`] may be used with these options: the delimiter and
/// the quote must be distinct bytes that are not line terminators.
pub(super) fn simple_options(delimiter: u8, quote: u8) -> bool {
    delimiter != quote
        && ![delimiter, quote]
            .iter()
            .any(|b| *b == b'\r' || *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Option<Vec<&str>> {
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        split_simple(line.as_bytes(), b',', b'"', &mut starts, &mut ends).then(|| {
            starts
                .iter()
                .zip(&ends)
                .map(|(&s, &e)| &line[s..e])
                .collect()
        })
    }

    #[test]
    fn plain_and_whole_field_quoted_lines_are_split() {
        assert_eq!(split("a,b,c"), Some(vec!["a", "b", "c"]));
        assert_eq!(split("a,,"), Some(vec!["a", "", ""]));
        assert_eq!(split(""), Some(vec![""]));
        assert_eq!(split(r#"a,"b, c",d"#), Some(vec!["a", "b, c", "d"]));
        assert_eq!(split(r#""",x,"""#), Some(vec!["", "x", ""]));
        assert_eq!(split(r#""é,ü","#), Some(vec!["é,ü", ""]));
    }

    #[test]
    fn lines_only_csv_core_splits_right_are_left_to_it() {
        for line in [
            r#"a,"b""c",d"#,
            r#"a,"open"#,
            r#"a,"b"c"#,
            r#"a,b"c"#,
            r#"a, "b""#,
            "a,b\rc",
            "a,\"b\r\"",
        ] {
            assert_eq!(split(line), None, "{line:?}");
        }
    }

    #[test]
    fn options_that_would_make_a_line_ambiguous_are_refused() {
        assert!(simple_options(b',', b'"'));
        assert!(simple_options(b'\t', b'\''));
        assert!(!simple_options(b'"', b'"'));
        assert!(!simple_options(b'\n', b'"'));
        assert!(!simple_options(b',', b'\r'));
    }
}
