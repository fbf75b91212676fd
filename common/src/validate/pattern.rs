//! A column's `regex` rule, compiled once per task. Most contract patterns
//! are fixed shapes — `^tx_[0-9a-f]{16}$`, `^[A-Z]{2}$`: anchored, a set of
//! ASCII bytes or a literal at each position — and those are checked by length
//! and one table lookup per byte, without a regex engine's per-call set-up.
//! Any other pattern runs on the `regex` crate.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// How a column's values are matched against its pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    Shape(Shape),
    Regex(regex::Regex),
}

impl Pattern {
    pub fn new(regex: &regex::Regex) -> Self {
        match Shape::of(regex.as_str()) {
            Some(shape) => Pattern::Shape(shape),
            None => Pattern::Regex(regex.clone()),
        }
    }

    pub fn is_match(&self, value: &str) -> bool {
        match self {
            Pattern::Shape(shape) => shape.is_match(value.as_bytes()),
            Pattern::Regex(regex) => regex.is_match(value),
        }
    }
}

/// A set of bytes, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert_range(&mut self, start: u8, end: u8) {
        for b in start..=end {
            self.0[(b >> 6) as usize] |= 1 << (b & 63);
        }
    }

    fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }
}

/// A pattern matching exactly the values of one length whose every byte lies
/// in its position's set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    positions: Vec<ByteSet>,
}

impl Shape {
    /// Longest shape kept; longer patterns run on the regex engine.
    const MAX_LEN: usize = 256;

    /// The shape of `pattern` if it is one: `^`, then literals, ASCII classes
    /// and groups of them, each repeated a fixed number of times, then `$`.
    pub fn of(pattern: &str) -> Option<Shape> {
        let hir = regex_syntax::parse(pattern).ok()?;
        let HirKind::Concat(parts) = hir.kind() else {
            return None;
        };
        let (first, rest) = parts.split_first()?;
        let (last, middle) = rest.split_last()?;
        if !is_look(first, Look::Start) || !is_look(last, Look::End) {
            return None;
        }
        let mut positions = Vec::new();
        for part in middle {
            push(part, &mut positions)?;
        }
        Some(Shape { positions })
    }

    pub fn is_match(&self, value: &[u8]) -> bool {
        value.len() == self.positions.len()
            && value
                .iter()
                .zip(&self.positions)
                .all(|(&b, set)| set.contains(b))
    }
}

fn is_look(hir: &Hir, look: Look) -> bool {
    matches!(hir.kind(), HirKind::Look(l) if *l == look)
}

/// Appends the positions `hir` matches, or None if it is not a fixed shape.
fn push(hir: &Hir, out: &mut Vec<ByteSet>) -> Option<()> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(literal) => {
            for &b in literal.0.iter() {
                let mut set = ByteSet::default();
                set.insert_range(b, b);
                out.push(set);
            }
        }
        HirKind::Class(class) => out.push(ascii_set(class)?),
        HirKind::Repetition(rep) if rep.max == Some(rep.min) => {
            let mut one = Vec::new();
            push(&rep.sub, &mut one)?;
            for _ in 0..rep.min {
                out.extend_from_slice(&one);
                if out.len() > Shape::MAX_LEN {
                    return None;
                }
            }
        }
        HirKind::Capture(capture) => push(&capture.sub, out)?,
        HirKind::Concat(parts) => {
            for part in parts {
                push(part, out)?;
            }
        }
        _ => return None,
    }
    (out.len() <= Shape::MAX_LEN).then_some(())
}

/// The class as a byte set, if it holds only ASCII: one byte is one character.
fn ascii_set(class: &Class) -> Option<ByteSet> {
    let mut set = ByteSet::default();
    match class {
        Class::Unicode(c) => {
            for r in c.ranges() {
                let (start, end) = (u32::from(r.start()), u32::from(r.end()));
                if end > 0x7F {
                    return None;
                }
                set.insert_range(start as u8, end as u8);
            }
        }
        Class::Bytes(c) => {
            for r in c.ranges() {
                if r.end() > 0x7F {
                    return None;
                }
                set.insert_range(r.start(), r.end());
            }
        }
    }
    Some(set)
}

#[cfg(test)]
#[path = "pattern_tests.rs"]
mod tests;
