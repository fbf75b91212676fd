//! Where a column's value sits in a nested JSON record: `path = "payment.method"`
//! or `path = "items[0].sku"`. Without a path a column reads the top-level key
//! of its own name.

use std::fmt;

/// One step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A key of an object.
    Key(String),
    /// A position in an array, from 0.
    Index(usize),
}

/// A path of at least one step, starting with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    /// `a.b[2].c`: keys separated by dots, each followed by any number of
    /// `[index]`. Keys are letters, digits, `_` and `-`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut steps = Vec::new();
        for part in text.split('.') {
            let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            let key_ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !key_ok {
                return Err(format!("`{text}` (step `{part}`)"));
            }
            steps.push(Step::Key(key.to_string()));
            while !rest.is_empty() {
                let index = rest
                    .strip_prefix('[')
                    .and_then(|r| r.split_once(']'))
                    .and_then(|(n, after)| n.parse::<usize>().ok().map(|n| (n, after)));
                let Some((n, after)) = index else {
                    return Err(format!("`{text}` (step `{part}`)"));
                };
                steps.push(Step::Index(n));
                rest = after;
            }
        }
        Ok(Self(steps))
    }

    /// A prefix of a parsed path (for messages).
    pub fn from_steps(steps: Vec<Step>) -> Self {
        Self(steps)
    }

    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// The first key (every path starts with one).
    pub fn root(&self) -> &str {
        match &self.0[0] {
            Step::Key(k) => k,
            Step::Index(_) => unreachable!("a path starts with a key"),
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => write!(f, "{k}")?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_keys_and_indexes() {
        let p = JsonPath::parse("items[0].sku").unwrap();
        assert_eq!(
            p.steps(),
            [
                Step::Key("items".into()),
                Step::Index(0),
                Step::Key("sku".into())
            ]
        );
        assert_eq!(p.root(), "items");
        assert_eq!(p.to_string(), "items[0].sku");
        let deep = JsonPath::parse("a.b-c[1][2].d_e").unwrap();
        assert_eq!(deep.steps().len(), 5);
        assert_eq!(deep.to_string(), "a.b-c[1][2].d_e");
    }

    #[test]
    fn malformed_paths_are_refused_naming_the_step() {
        for bad in [
            "", ".a", "a.", "a..b", "[0]", "a[x]", "a[0", "a[-1]", "a[0]b", "a b",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(JsonPath::parse("a[x]").unwrap_err().contains("step `a[x]`"));
    }
}
