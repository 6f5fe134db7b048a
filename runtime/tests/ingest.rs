//! Reading Segment-shaped logs: real fixtures (analytics-go, MIT, see
//! `fixtures/segment/LICENSE-analytics-go.md`), sloppy input, broken lines.

#![allow(clippy::panic, reason = "a failing test may panic")]

use nudge_bytecode::schema::{FieldSchema, FieldType, RecordSchema, Scalar, Schema};
use nudge_bytecode::{Currency, Date, Money, Value};
use nudge_runtime::engine::Input;
use nudge_runtime::sim::ingest::{Reader, Severity};
use rust_decimal::Decimal;

fn field(name: &str, ty: FieldType) -> FieldSchema {
    FieldSchema {
        name: name.into(),
        ty,
    }
}

fn opt(s: Scalar) -> FieldType {
    FieldType::Optional(Box::new(FieldType::Scalar(s)))
}

fn schema() -> Schema {
    Schema {
        events: vec![RecordSchema {
            name: "Order Completed".into(),
            fields: vec![
                field("currency", opt(Scalar::Currency)),
                field("order_id", FieldType::Scalar(Scalar::String)),
                field("quantity", opt(Scalar::Int)),
                field("revenue", opt(Scalar::Money)),
                field(
                    "tier",
                    FieldType::Union(vec!["gold".into(), "silver".into()]),
                ),
            ],
        }],
        records: vec![],
        traits: vec![
            field("birthday", opt(Scalar::Date)),
            field("email", opt(Scalar::Email)),
            field("sms_consent", opt(Scalar::Bool)),
        ],
    }
}

fn one_line(path: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

#[test]
fn reads_real_segment_batches() {
    let s = schema();
    let log = [
        one_line("tests/fixtures/segment/test-enqueue-track.json"),
        one_line("tests/fixtures/segment/test-enqueue-identify.json"),
        one_line("tests/fixtures/segment/test-timestamp-track.json"),
    ]
    .join("\n");
    let (inputs, problems) = Reader::new(&s).read_log(&log);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(inputs.len(), 3);
    let Some((
        1,
        Input::Track {
            profile,
            event,
            properties,
            at,
            message_id,
        },
    )) = inputs.first()
    else {
        panic!("{inputs:?}");
    };
    assert_eq!(profile, "123456");
    assert_eq!(event, "Download");
    // Undeclared events keep their properties as plain values.
    assert_eq!(properties.get("version"), Some(&Value::str("1.1.0")));
    assert_eq!(*at, 1_257_894_000_000);
    assert_eq!(message_id.as_deref(), Some("I'm unique"));
    assert!(matches!(inputs.get(1), Some((2, Input::Identify { profile, .. })) if profile == "B"));
}

#[test]
fn sloppy_input_is_coerced_and_said_so() {
    let s = schema();
    let log = r#"{"type":"track","userId":"u1","event":"order completed","timestamp":"2026-11-25T10:00:00Z","properties":{"revenue":"19.50","currency":"eur","quantity":"2","order_id":1001,"tier":"GOLD","extra":true}}
{"type":"identify","userId":"u1","timestamp":1764064800,"traits":{"sms_consent":"yes","birthday":"1990-02-28T00:00:00Z","email":" ada@example.com "}}
{"type":"track","userId":"u1","event":"Order Completed","timestamp":"2026-11-25T10:00:00Z","properties":{"quantity":"two","tier":"bronze"}}"#;
    let (inputs, problems) = Reader::new(&s).read_log(log);
    let Some((
        _,
        Input::Track {
            event, properties, ..
        },
    )) = inputs.first()
    else {
        panic!("{inputs:?}");
    };
    assert_eq!(event, "Order Completed");
    assert_eq!(
        properties.get("revenue"),
        Some(&Value::Money(Money {
            amount: Decimal::new(1950, 2),
            currency: Currency::new("EUR").unwrap_or_else(|| unreachable!()),
        }))
    );
    assert_eq!(properties.get("quantity"), Some(&Value::Int(2)));
    assert_eq!(properties.get("order_id"), Some(&Value::str("1001")));
    assert_eq!(properties.get("tier"), Some(&Value::str("gold")));
    assert_eq!(
        properties.get("extra"),
        None,
        "undeclared fields are dropped"
    );
    let Some((_, Input::Identify { traits, at, .. })) = inputs.get(1) else {
        panic!("{inputs:?}");
    };
    assert_eq!(*at, 1_764_064_800_000);
    assert_eq!(traits.get("sms_consent"), Some(&Value::Bool(true)));
    assert_eq!(
        traits.get("birthday"),
        Some(&Value::Date(Date {
            year: 1990,
            month: 2,
            day: 28
        }))
    );
    assert_eq!(traits.get("email"), Some(&Value::str("ada@example.com")));
    // Line 3 lacks the required `order_id` and holds values of the wrong
    // kind: it is skipped, and each problem is an error.
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    let warnings: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.line, p.message))
        .collect();
    assert!(
        problems
            .iter()
            .all(|p| (p.severity == Severity::Warning) == (p.line < 3))
    );
    for expected in [
        "1: event \"order completed\" read as \"Order Completed\"",
        "1: `Order Completed.revenue`: number sent as text \"19.50\", coerced",
        "1: `Order Completed.tier`: \"GOLD\" read as \"gold\"",
        "3: `Order Completed` without its required field `order_id` (declared `string`), found nothing",
        "3: `Order Completed.quantity`: expected a whole number (declared `int?`), found \"two\"",
        "3: `Order Completed.tier`: expected one of gold, silver (declared `\"gold\" | \"silver\"`), found \"bronze\"",
    ] {
        assert!(
            warnings.iter().any(|w| w == expected),
            "{expected}\n{warnings:#?}"
        );
    }
}

#[test]
fn malformed_lines_are_reported_with_their_number_and_skipped() {
    let s = schema();
    let log = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"X\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n\
               not json\n\
               [1,2]\n\
               {\"type\":\"track\",\"event\":\"X\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n\
               {\"type\":\"track\",\"userId\":\"u\",\"event\":\"X\",\"timestamp\":\"yesterday\"}\n\
               {\"type\":\"track\",\"userId\":\"u\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n\
               {\"type\":\"page\",\"userId\":\"u\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n\
               \n\
               {\"type\":\"bogus\",\"userId\":\"u\",\"timestamp\":\"2026-01-01T00:00:00Z\"}";
    let (inputs, problems) = Reader::new(&s).read_log(log);
    assert_eq!(inputs.len(), 1);
    let lines: Vec<(usize, Severity)> = problems.iter().map(|p| (p.line, p.severity)).collect();
    assert_eq!(
        lines,
        vec![
            (2, Severity::Error),
            (3, Severity::Error),
            (4, Severity::Error),
            (5, Severity::Error),
            (6, Severity::Error),
            (7, Severity::Warning),
            (9, Severity::Error),
        ]
    );
    assert!(
        problems
            .iter()
            .any(|p| p.message == "no `userId` or `anonymousId`")
    );
}
