//! `Plain` against serde_json: whatever it reads, serde_json reads the same
//! (the same visitor calls, so the same tree down to a float's bits), and
//! it reads every plain text serde_json reads but the few it leaves to
//! serde_json (an exponent, a number past `u64` or 22 decimal places).

use super::super::J;
use super::{Plain, is_plain};
use proptest::prelude::*;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

/// What `Plain` makes of `text` as a `J` tree, and whether it left the
/// text to serde_json.
fn plain(text: &str) -> Result<String, bool> {
    let mut de = Plain::new(text);
    let j = J::deserialize(&mut de).map_err(|e| e.lexical)?;
    de.end().map_err(|e| e.lexical)?;
    Ok(format!("{j:?}"))
}

fn serde(text: &str) -> Result<String, ()> {
    let mut de = serde_json::Deserializer::from_str(text);
    let j = J::deserialize(&mut de).map_err(drop)?;
    de.end().map_err(drop)?;
    Ok(format!("{j:?}"))
}

/// Checks one text; `Ok(true)` when `Plain` read it.
fn agree(text: &str) -> Result<bool, String> {
    if !is_plain(text) {
        return Ok(false);
    }
    match (plain(text), serde(text)) {
        (Ok(a), Ok(b)) if a == b => Ok(true),
        (Ok(a), b) => Err(format!("{text}\nplain:      {a}\nserde_json: {b:?}")),
        (Err(true), _) => Ok(false),
        // A `J` visitor takes anything: only the lexer stops.
        (Err(false), b) => Err(format!("{text}\nrefused by the visitor; serde_json: {b:?}")),
    }
}

/// Whether serde_json's own `IgnoredAny` skip and `Plain`'s agree on
/// accepting `text` as an object of skipped values.
fn skips_agree(text: &str) -> Result<(), String> {
    let p = {
        let mut de = Plain::new(text);
        BTreeMap::<&str, IgnoredAny>::deserialize(&mut de)
            .map_err(|e| e.lexical)
            .and_then(|m| {
                de.end()
                    .map(|()| m.into_keys().collect::<Vec<_>>())
                    .map_err(|e| e.lexical)
            })
    };
    let s = {
        let mut de = serde_json::Deserializer::from_str(text);
        BTreeMap::<&str, IgnoredAny>::deserialize(&mut de)
            .ok()
            .and_then(|m| de.end().ok().map(|()| m.into_keys().collect::<Vec<_>>()))
    };
    match (p, s) {
        (Ok(a), Some(b)) if a == b => Ok(()),
        (Ok(a), b) => Err(format!("{text}\nplain skipped to {a:?}; serde_json: {b:?}")),
        (Err(_), _) => Ok(()),
    }
}

#[test]
fn plain_lines_are_told_from_others() {
    assert!(is_plain(r#"{"a":"b c","d":[1,2]}"#));
    assert!(is_plain(&format!("{{\"a\":\"{}\"}}", "é".repeat(40))));
    assert!(!is_plain(r#"{"a":"b\"c"}"#));
    assert!(!is_plain("{\"a\":\t1}"));
    assert!(!is_plain(&format!("{{\"a\":\"{}\n\"}}", "x".repeat(70))));
    assert!(!is_plain(&format!(
        "{{\"a\":\"{}\\u00e9\"}}",
        "x".repeat(64)
    )));
}

#[test]
fn texts_are_read_as_serde_json_reads_them() {
    let read = [
        "null",
        "true",
        "false",
        "0",
        "-0",
        "-0.0",
        "0.5",
        "129.0",
        "19.99",
        "-7",
        "-12.25",
        "0.1",
        "0.30000000000000004",
        "1234567890.123456789",
        "9007199254740993.5",
        "0.0000000000000000000001",
        "18446744073709551615",
        "-9223372036854775808",
        "-9223372036854775809",
        "-18446744073709551615",
        "\"\"",
        "\"héllo wörld ✓\"",
        " { \"a\" : [ 1 , { } , [ ] , \"x\" ] , \"b\" : null } ",
        "{}",
        "[]",
        r#"{"a":1,"a":2}"#,
        r#"[[[[[[[[[[1]]]]]]]]]]"#,
    ];
    for text in read {
        assert_eq!(agree(text), Ok(true), "{text}");
    }
    // Left to serde_json, which reads them.
    let left = [
        "1e3",
        "2.5E-3",
        "18446744073709551616",
        "-18446744073709551616",
        "0.00000000000000000000001",
        "123456789012345678901.5",
    ];
    for text in left {
        assert_eq!(agree(text), Ok(false), "{text}");
        assert!(serde(text).is_ok(), "{text}");
    }
    let deep = format!("{}1{}", "[".repeat(101), "]".repeat(101));
    assert_eq!(agree(&deep), Ok(false));
    // Not JSON: neither reads them.
    let broken = [
        "",
        " ",
        "nul",
        "nulll",
        "truex",
        "01",
        "-01",
        "-",
        "1.",
        ".5",
        "+1",
        "1.e3",
        "[1,]",
        "[,1]",
        "{,\"a\":1}",
        "{\"a\":1,,\"b\":2}",
        "[1 2]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{1:2}",
        "{\"a\":1",
        "[",
        "\"abc",
        "{} {}",
        "[1]]",
        "{\"a\":1}}",
        "NaN",
        "'a'",
    ];
    for text in broken {
        assert_eq!(agree(text), Ok(false), "{text}");
        assert!(serde(text).is_err(), "{text}");
        assert!(skips_agree(&format!("{{\"k\":{text}}}")).is_ok());
    }
}

#[test]
fn skipped_values_are_checked_as_read_ones() {
    for text in [
        r#"{"a":{"b":[1,2,{"c":null}],"d":"e"},"f":-0.5,"g":true}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":{"b":1,}}"#,
        r#"{"a":01}"#,
        r#"{"a":[1 2]}"#,
        r#"{"a":"x" "b":1}"#,
        r#"{"a":tru}"#,
    ] {
        assert_eq!(skips_agree(text), Ok(()));
    }
}

/// A JSON-ish token, mostly well formed.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "null", "true", "false", "0", "-0", "1", "-1", "7", "10", "129.0", "-3.25", "0.5",
            "19.99", "1e3", "-2.5E+2", "18446744073709551615", "18446744073709551616",
            "-9223372036854775808", "-9223372036854775809", "\"\"", "\"a\"", "\"a b\"",
            "\"é\"", "\"userId\"", "{}", "[]",
        ]).prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "01", "1.", ".5", "-", "nul", "truee", "\"", ",", ":", "{", "}", "[", "]", " ",
        ]).prop_map(str::to_string),
        2 => (0u64..u64::MAX, 0u32..30).prop_map(|(n, scale)| {
            let s = n.to_string();
            let k = scale as usize;
            if k == 0 || k >= s.len() { s } else { format!("{}.{}", &s[..s.len() - k], &s[s.len() - k..]) }
        }),
    ]
}

/// Random text: values of tokens nested in arrays and objects, with a
/// stray token or separator now and then.
fn text() -> impl Strategy<Value = String> {
    token().prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|xs| format!("[{}]", xs.join(","))),
            prop::collection::vec((token(), inner.clone()), 0..5).prop_map(|ms| {
                let ms: Vec<String> = ms
                    .into_iter()
                    .map(|(k, v)| {
                        let k = if k.starts_with('"') {
                            k
                        } else {
                            format!("\"{k}\"")
                        };
                        format!("{k}:{v}")
                    })
                    .collect();
                format!("{{{}}}", ms.join(","))
            }),
            (inner.clone(), token(), inner.clone()).prop_map(|(a, t, b)| format!("[{a}{t}{b}]")),
            (token(), inner, any::<bool>()).prop_map(|(t, v, first)| if first {
                format!("{{{t}\"k\":{v}}}")
            } else {
                format!("{{\"k\":{v}{t}}}")
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_texts_are_read_as_serde_json_reads_them(t in text(), spaced in any::<bool>()) {
        let t = if spaced { t.replace(',', " , ").replace(':', " :") } else { t };
        if let Err(e) = agree(&t) {
            prop_assert!(false, "{}", e);
        }
        if let Err(e) = skips_agree(&format!("{{\"k\":{t}}}")) {
            prop_assert!(false, "{}", e);
        }
    }

    /// Any printable text at all: never a panic, and never read where
    /// serde_json would not read it.
    #[test]
    fn random_characters_are_never_misread(t in "[ -~é]{0,40}") {
        if let Err(e) = agree(&t) {
            prop_assert!(false, "{}", e);
        }
        if is_plain(&t)
            && let Err(e) = skips_agree(&format!("{{\"k\":{t}}}"))
        {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn random_decimals_are_the_same_floats(int in 0u64..100_000_000_000, frac in 0u64..u64::MAX, digits in 1usize..23, negative in any::<bool>()) {
        let frac = format!("{frac:020}");
        let frac = &frac[..digits.min(frac.len())];
        let text = format!("{}{int}.{frac}", if negative { "-" } else { "" });
        match agree(&text) {
            Ok(_) => {}
            Err(e) => prop_assert!(false, "{}", e),
        }
    }
}

/// Real payloads, as lines: the Segment library's own test bodies (copied
/// from `../shared/data/segment`) made compact, and the example shop's log.
#[test]
fn real_lines_are_read_by_plain_as_serde_json_reads_them() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/segment");
    let read_text = |path: &std::path::Path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut lines = Vec::new();
    for path in &paths {
        let text = read_text(path);
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        lines.push(value.to_string());
        // The pretty text too: line breaks (not plain).
        lines.push(text);
    }
    let shop = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop/events.jsonl");
    lines.extend(
        read_text(std::path::Path::new(shop))
            .lines()
            .map(str::to_string),
    );
    let mut read = 0;
    for line in &lines {
        match agree(line) {
            Ok(true) => read += 1,
            Ok(false) => assert!(!is_plain(line), "a plain line left to serde_json: {line}"),
            Err(e) => panic!("{e}"),
        }
    }
    // Every compact fixture and every line of the example log.
    assert_eq!(read, 12 + 45);
}
