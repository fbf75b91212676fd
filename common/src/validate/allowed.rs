//! The allowed values of a column, checked once per field of every row.

/// A handful of values is scanned by comparing each value's length and two
/// machine words (its first and last eight bytes), which decide equality for
/// values up to 16 bytes without a call to `memcmp`; a long list is hashed.
pub enum AllowedSet {
    Few(Vec<Packed>),
    Many(ahash::AHashSet<String>),
}

/// A value with the words it is compared by.
pub struct Packed {
    words: (usize, u64, u64),
    value: Box<[u8]>,
}

impl AllowedSet {
    const FEW: usize = 16;

    pub fn new(values: &[String]) -> Self {
        if values.len() <= Self::FEW {
            AllowedSet::Few(
                values
                    .iter()
                    .map(|v| Packed {
                        words: words(v.as_bytes()),
                        value: v.as_bytes().into(),
                    })
                    .collect(),
            )
        } else {
            AllowedSet::Many(values.iter().cloned().collect())
        }
    }

    pub fn contains(&self, v: &str) -> bool {
        match self {
            AllowedSet::Few(values) => {
                let v = v.as_bytes();
                let w = words(v);
                values
                    .iter()
                    .any(|a| a.words == w && (v.len() <= 16 || *a.value == *v))
            }
            AllowedSet::Many(set) => set.contains(v),
        }
    }
}

/// Length, first eight and last eight bytes (zero-padded when shorter): equal
/// words mean equal values for values up to 16 bytes.
fn words(v: &[u8]) -> (usize, u64, u64) {
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    if v.len() >= 8 {
        (v.len(), word(&v[..8]), word(&v[v.len() - 8..]))
    } else {
        (v.len(), word(v), 0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn membership_is_exact(
            values in proptest::collection::vec("[a-c_]{0,20}", 0..20),
            probes in proptest::collection::vec("[a-c_]{0,20}", 0..40),
        ) {
            let allowed = AllowedSet::new(&values);
            for v in values.iter().chain(&probes) {
                prop_assert_eq!(allowed.contains(v), values.contains(v), "{:?}", v);
            }
        }
    }

    fn set(values: &[&str]) -> AllowedSet {
        AllowedSet::new(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_few_values_match_exactly_whatever_their_length() {
        let values = [
            "",
            "a",
            "EUR",
            "settled",
            "grocery!",
            "electronics",
            "sixteen_bytes_ok",
            "seventeen_bytes_x",
            "a value much longer than sixteen bytes",
        ];
        let allowed = set(&values);
        for v in values {
            assert!(allowed.contains(v), "{v:?}");
        }
        let near = [
            "b",
            "EU",
            "EURO",
            "eur",
            "settlee",
            "grocery",
            "grocery!!",
            "electronicz",
            "sixteen_bytes_oK",
            "seventeen_bytes_y",
            "seventeen_bytez_x",
            "a value much longer than sixteen bytez",
            "a value much lOnger than sixteen bytes",
            "\0",
            "EUR\0",
        ];
        for v in near {
            assert!(!allowed.contains(v), "{v:?}");
        }
    }

    #[test]
    fn a_middle_byte_of_a_long_value_counts() {
        // Same length, same first and last eight bytes: only the middle differs.
        let allowed = set(&["abcdefgh_MIDDLE_12345678"]);
        assert!(allowed.contains("abcdefgh_MIDDLE_12345678"));
        assert!(!allowed.contains("abcdefgh_middle_12345678"));
    }

    #[test]
    fn a_long_list_is_hashed_and_still_exact() {
        let values: Vec<String> = (0..40).map(|i| format!("value-{i}")).collect();
        let allowed = AllowedSet::new(&values);
        assert!(matches!(allowed, AllowedSet::Many(_)));
        assert!(allowed.contains("value-39"));
        assert!(!allowed.contains("value-40"));
    }
}
