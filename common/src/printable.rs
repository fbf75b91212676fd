//! Text safe to show on a terminal. Error messages quote input: a file name, a
//! contract value, a row. Bytes such as ESC would let that input move the
//! cursor, rewrite earlier lines or retitle the window of whoever reads the
//! message, and bidirectional overrides would reorder what they see; so every
//! such character is shown escaped instead (`\u{1b}`), and the message still
//! says exactly what the input held.

/// `text` with control characters (but newline and tab) and bidirectional
/// formatting characters escaped.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("bell\u{7}"), "bell\\u{7}");
        assert_eq!(printable("cr\rover"), "cr\\u{d}over");
        assert_eq!(printable("csi\u{9b}31m"), "csi\\u{9b}31m");
        assert_eq!(printable("rtl\u{202e}txt"), "rtl\\u{202e}txt");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        let text = "line 1\n\tline 2: café, 東京, `quoted`";
        assert_eq!(printable(text), text);
    }
}
