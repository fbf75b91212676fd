use proptest::prelude::*;

use arrow_array::StringArray;

use super::*;

fn shape_len(pattern: &str) -> Option<usize> {
    Shape::of(pattern).map(|s| s.positions.len())
}

#[test]
fn anchored_fixed_patterns_are_shapes() {
    assert_eq!(shape_len("^tx_[0-9a-f]{16}$"), Some(19));
    assert_eq!(shape_len("^c_[0-9]{6}$"), Some(8));
    assert_eq!(shape_len("^[A-Z]{2}$"), Some(2));
    assert_eq!(shape_len("^(ab){2}c$"), Some(5));
    assert_eq!(shape_len("^(?i)eur$"), Some(3));
    assert_eq!(shape_len("^$"), Some(0));
}

#[test]
fn other_patterns_run_on_the_regex_engine() {
    for pattern in [
        "tx_[0-9a-f]{16}", // unanchored: a search
        "^tx_",            // a prefix
        "[A-Z]{2}$",       // a suffix
        "^a+$",            // any length
        "^a{1,3}$",        // a range of lengths
        "^(a|bc)$",        // alternatives of two lengths
        "^\\d{3}$",        // Unicode digits, several bytes each
        "^.{2}$",          // any character
        "(?m)^a$",         // line anchors
        "^[a-zé]$",        // a non-ASCII class
        "^a{300}$",        // longer than a shape is kept
    ] {
        assert_eq!(shape_len(pattern), None, "{pattern}");
        let regex = regex::Regex::new(pattern).unwrap();
        assert!(
            matches!(Pattern::new(&regex), Pattern::Regex(_)),
            "{pattern}"
        );
    }
}

#[test]
fn a_null_is_no_violation_and_a_mismatch_is() {
    let regex = regex::Regex::new("^[A-Z]{2}$").unwrap();
    let pattern = Pattern::new(&regex);
    assert!(matches!(pattern, Pattern::Shape(_)));
    let raw = StringArray::from(vec![
        Some("FR"),
        None,
        Some("fr"),
        Some("FRA"),
        Some(""),
        Some("É"),
    ]);
    let violations = crate::validate::rules::violations_where(&raw, |v| !pattern.is_match(v));
    let got: Vec<bool> = violations.iter().map(Option::unwrap).collect();
    assert_eq!(got, [false, false, true, true, true, true]);
}

/// A piece of a pattern, and its text.
fn piece() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        "[a-c_é]".prop_map(|c| regex_syntax::escape(&c)),
        Just("[0-9]".to_string()),
        Just("[a-c]".to_string()),
        Just("[^a]".to_string()),
        Just("\\d".to_string()),
        Just(".".to_string()),
        Just("(?i:b)".to_string()),
        Just("(a|bb)".to_string()),
    ];
    (
        atom,
        prop_oneof![
            Just(String::new()),
            (0u32..4).prop_map(|n| format!("{{{n}}}")),
            Just("+".into()),
            Just("{1,2}".into())
        ],
    )
        .prop_map(|(a, r)| format!("{a}{r}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the pattern, shape or not, a value matches exactly when the
    /// regex crate says it does.
    #[test]
    fn matches_agree_with_the_regex_crate(
        start in any::<bool>(),
        pieces in proptest::collection::vec(piece(), 0..5),
        end in any::<bool>(),
        values in proptest::collection::vec("[a-c_0-9AB\u{e9}\u{663}]{0,8}", 0..30),
    ) {
        let pattern = format!(
            "{}{}{}",
            if start { "^" } else { "" },
            pieces.concat(),
            if end { "$" } else { "" }
        );
        let regex = regex::Regex::new(&pattern).unwrap();
        let compiled = Pattern::new(&regex);
        for v in &values {
            prop_assert_eq!(compiled.is_match(v), regex.is_match(v), "{} on {:?}", pattern, v);
        }
    }

    /// A shape matches the strings built from it position by position, and
    /// the regex crate agrees.
    #[test]
    fn a_shape_matches_what_it_describes(
        lengths in proptest::collection::vec(0usize..4, 1..4),
        pick in any::<u64>(),
    ) {
        let classes = ["[0-9]", "[a-f]", "x", "[A-Z_]"];
        let pattern: String = lengths
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{}{{{n}}}", classes[i % classes.len()]))
            .collect();
        let pattern = format!("^{pattern}$");
        let regex = regex::Regex::new(&pattern).unwrap();
        let Pattern::Shape(shape) = Pattern::new(&regex) else {
            panic!("{pattern} is a shape");
        };
        let samples = ["0123456789", "abcdef", "x", "ABCZ_"];
        let mut value = String::new();
        for (i, n) in lengths.iter().enumerate() {
            let chars: Vec<char> = samples[i % samples.len()].chars().collect();
            for k in 0..*n {
                value.push(chars[(pick as usize + k) % chars.len()]);
            }
        }
        prop_assert!(shape.is_match(value.as_bytes()), "{} on {:?}", pattern, value);
        prop_assert!(regex.is_match(&value));
        value.push('x');
        prop_assert!(!shape.is_match(value.as_bytes()));
        prop_assert!(!regex.is_match(&value));
    }
}
