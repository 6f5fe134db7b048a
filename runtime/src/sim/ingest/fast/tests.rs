//! The fast path against the general one: on every line it takes, it must
//! give exactly what the general path gives (compared as JSON, so a decimal's
//! scale counts), and say what the general path says: nothing, or for a
//! call flows do not use (`page`, ...) the same note.

use super::super::plain::{Plain, is_plain};
use super::super::{
    LineProblem, NameIndex, Reader, decimal, note_skipped, rfc3339_millis, same, timestamp_text,
    trim, whole_float,
};
use super::{Fast, LineSeed};
use crate::engine::Input;
use nudge_bytecode::schema::{FieldSchema, FieldType, RecordSchema, Scalar, Schema};
use proptest::prelude::*;
use serde::de::DeserializeSeed;

fn field(name: &str, ty: FieldType) -> FieldSchema {
    FieldSchema {
        name: name.to_string(),
        ty,
    }
}

fn opt(ty: FieldType) -> FieldType {
    FieldType::Optional(Box::new(ty))
}

fn scalar(s: Scalar) -> FieldType {
    FieldType::Scalar(s)
}

fn list(ty: FieldType) -> FieldType {
    FieldType::List(Box::new(ty))
}

fn rec(name: &str, mut fields: Vec<FieldSchema>) -> RecordSchema {
    fields.sort_by(|a, b| a.name.cmp(&b.name));
    RecordSchema {
        name: name.to_string(),
        fields,
    }
}

/// A schema with every kind of field, nested records two deep (amounts at
/// each level), and a record type with required fields.
fn schema() -> Schema {
    let mut traits = vec![
        field("age", opt(scalar(Scalar::Int))),
        field("birthday", opt(scalar(Scalar::Date))),
        field("created_at", opt(scalar(Scalar::Timestamp))),
        field("email", opt(scalar(Scalar::Email))),
        field("home", opt(FieldType::Record("Address".into()))),
        field("vip", opt(scalar(Scalar::Bool))),
        field("balance", opt(scalar(Scalar::Money))),
    ];
    traits.sort_by(|a, b| a.name.cmp(&b.name));
    Schema {
        events: vec![
            rec(
                "Order Completed",
                vec![
                    field("order_id", scalar(Scalar::String)),
                    field("currency", opt(scalar(Scalar::Currency))),
                    field("revenue", opt(scalar(Scalar::Money))),
                    field("total", opt(scalar(Scalar::Decimal))),
                    field("discount", opt(scalar(Scalar::Percent))),
                    field("items", opt(scalar(Scalar::Int))),
                    field("gift", opt(scalar(Scalar::Bool))),
                    field("placed_at", opt(scalar(Scalar::Timestamp))),
                    field("ship_on", opt(scalar(Scalar::Date))),
                    field("window", opt(scalar(Scalar::Time))),
                    field("wait", opt(scalar(Scalar::Duration))),
                    field(
                        "channel",
                        opt(FieldType::Union(vec!["web".into(), "app".into()])),
                    ),
                    field("note", FieldType::Unknown),
                    field("products", list(FieldType::Record("Product".into()))),
                    field("shipping", opt(FieldType::Record("Address".into()))),
                    field("tags", list(scalar(Scalar::String))),
                    field("prices", list(scalar(Scalar::Money))),
                    field("url", opt(scalar(Scalar::Url))),
                ],
            ),
            rec(
                "Signed Up",
                vec![
                    field("email", opt(scalar(Scalar::Email))),
                    field("method", opt(scalar(Scalar::String))),
                ],
            ),
            rec("Order_Completed", vec![]),
        ],
        records: vec![
            rec(
                "Address",
                vec![
                    field("city", opt(scalar(Scalar::String))),
                    field("fee", opt(scalar(Scalar::Money))),
                ],
            ),
            rec(
                "Product",
                vec![
                    field("sku", scalar(Scalar::String)),
                    field("name", opt(scalar(Scalar::String))),
                    field("price", opt(scalar(Scalar::Money))),
                    field("variant", opt(FieldType::Record("Variant".into()))),
                ],
            ),
            rec("Variant", vec![field("extra", opt(scalar(Scalar::Money)))]),
        ],
        traits,
    }
}

/// What the general path makes of a line.
fn general(reader: &Reader, line: &str) -> (Vec<Input>, Vec<LineProblem>) {
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    reader.read_line_general(7, line, &mut problems, &mut |_, i| inputs.push(i));
    (inputs, problems)
}

fn json(input: &Input) -> String {
    serde_json::to_string(input).unwrap_or_else(|e| e.to_string())
}

/// What the fast path makes of a line, if it takes it: as `general`, as
/// `read_line` would pass it on.
fn fast(reader: &Reader, line: &str) -> Option<(Vec<Input>, Vec<LineProblem>)> {
    let mut problems = Vec::new();
    let inputs = match reader.fast_line(line)? {
        Fast::One(input) => vec![input],
        Fast::Batch(inputs) => inputs,
        Fast::Skipped(kind) => {
            note_skipped(7, kind, &mut problems);
            Vec::new()
        }
    };
    Some((inputs, problems))
}

/// Checks the two paths agree on `line` (its inputs and what is said of
/// it); true if the fast one took it.
fn agree(reader: &Reader, line: &str) -> Result<bool, String> {
    let Some((fast, fast_problems)) = fast(reader, line) else {
        return Ok(false);
    };
    let (inputs, problems) = general(reader, line);
    if problems != fast_problems {
        return Err(format!(
            "{line}\nfast path took it, saying {fast_problems:?}; general: {problems:?}"
        ));
    }
    let fast: Vec<String> = fast.iter().map(json).collect();
    let general: Vec<String> = inputs.iter().map(json).collect();
    if fast == general {
        Ok(true)
    } else {
        Err(format!("{line}\nfast:    {fast:?}\ngeneral: {general:?}"))
    }
}

const T: &str = r#""type":"track","userId":"u1","timestamp":"2026-03-01T10:00:00Z""#;

/// Lines the fast path must take (and agree on).
fn clean_lines() -> Vec<String> {
    let oc = |props: &str| format!(r#"{{{T},"event":"Order Completed","properties":{{{props}}}}}"#);
    vec![
        oc(r#""order_id":"1""#),
        oc(r#""order_id":17,"revenue":20"#),
        oc(r#""order_id":"1","revenue":19.99,"currency":"EUR""#),
        oc(r#""currency":"EUR","order_id":"1","revenue":19.99"#),
        oc(r#""currency":"eur","order_id":"1","revenue":129.0"#),
        // A product's `currency` is not declared, but still names its
        // amounts' currency when it is one.
        oc(r#""currency":"EUR","order_id":"1","products":[{"sku":"a","price":5,"currency":5}]"#),
        oc(r#""order_id":"1","products":[{"sku":"a","price":5,"currency":"nope"}]"#),
        oc(r#""order_id":" padded ","total":1.25,"discount":10,"items":3,"gift":false"#),
        oc(r#""order_id":"1","placed_at":"2026-03-01T10:00:00.123+02:00","ship_on":"2026-03-04""#),
        oc(r#""order_id":"1","placed_at":1772359200,"window":"10:30","wait":3600"#),
        oc(r#""order_id":"1","placed_at":1772359200123"#),
        oc(r#""order_id":"1","channel":"web","note":{"a":[1,2.5,"x",null,true]}"#),
        oc(r#""order_id":"1","note":18446744073709551615,"url":"https://x.example/a""#),
        oc(r#""order_id":"1","tags":["a"," b ",3],"prices":[1,2.5]"#),
        oc(r#""order_id":"1","prices":[1,2.5],"currency":"GBP""#),
        oc(r#""order_id":"1","revenue":null,"shipping":null,"products":null"#),
        oc(r#""order_id":"1","extra":{"deep":[{"x":1}]},"products":[]"#),
        // Products before and after the order's currency, with and
        // without their own.
        oc(r#""order_id":"1","currency":"EUR","products":[{"sku":"a","price":5},{"sku":"b","price":7,"currency":"GBP"}]"#),
        oc(r#""order_id":"1","products":[{"sku":"a","price":5,"currency":"GBP"}],"currency":"EUR""#),
        oc(r#""order_id":"1","products":[{"sku":"a","price":5}]"#),
        oc(r#""order_id":"1","products":[{"sku":"a","price":5}],"currency":"USD""#),
        oc(r#""order_id":"1","products":[{"sku":"a","name":"n"}],"currency":"EUR""#),
        oc(r#""order_id":"1","products":[null,{"sku":"a","variant":{"extra":2}}]"#),
        oc(r#""order_id":"1","products":[null,{"sku":"a","currency":"JPY","variant":{"extra":2}}]"#),
        oc(r#""order_id":"1","shipping":{"fee":4.5,"city":"Oslo"},"currency":"NOK""#),
        oc(r#""order_id":"1","shipping":{"fee":4.5,"currency":"SEK"},"currency":"NOK""#),
        oc(r#""order_id":"1","revenue":5,"revenue":6"#),
        // A repeated member replaced by a later one, before and after the
        // currency: the last one's value and its own currency count.
        oc(r#""revenue":5,"order_id":"1","revenue":6.5,"currency":"EUR""#),
        oc(r#""products":[{"sku":"a","price":5}],"products":null,"currency":"EUR","order_id":"1""#),
        oc(r#""shipping":{"fee":4.5},"shipping":{"fee":1,"currency":"SEK"},"order_id":"1","currency":"NOK""#),
        oc(r#""order_id":"1","note":"\u00e9\"q\"","products":[{"sku":"\u0041"}]"#),
        format!(
            r#"{{"properties":{{"order_id":"1","revenue":2}},"event":"Order Completed",{T},"context":{{"ip":"1.2.3.4"}}}}"#
        ),
        format!(r#"{{{T},"event":"Signed Up"}}"#),
        format!(r#"{{{T},"event":"Signed Up","properties":null}}"#),
        format!(r#"{{{T},"event":"Signed Up","properties":{{"method":"google","x":1}}}}"#),
        format!(r#"{{{T},"event":"Something Else","properties":{{"a":{{"b":[1,"c"]}},"n":-2.5}}}}"#),
        format!(r#"{{{T},"event":"Unsubscribed","properties":{{"channel":"email"}}}}"#),
        format!(r#"{{{T},"event":"Something Else","properties":[1]}}"#),
        r#"{"type":"track","anonymousId":"a1","timestamp":1772359200,"messageId":5,"event":"Signed Up"}"#.into(),
        r#"{"type":"track","userId":42,"anonymousId":"a1","timestamp":"2026-03-01T10:00:00Z","event":"Signed Up"}"#.into(),
        r#"{"type":"track","userId":"  ","anonymousId":"a1","timestamp":"2026-03-01 10:00:00Z","event":"Signed Up"}"#.into(),
        r#"{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","traits":{"age":30,"vip":true,"email":"a@b.c","created_at":"2026-01-01T00:00:00Z","birthday":"1990-01-02","plan":"pro","balance":3,"home":{"city":"Oslo","fee":2}}}"#.into(),
        r#"{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","traits":{"age":30,"age":31}}"#.into(),
        r#"{"traits":{"age":30},"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","properties":{"x":1}}"#.into(),
        r#"{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","traits":"nope"}"#.into(),
        r#"{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","traits":[{"age":1}]}"#.into(),
        r#"{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z"}"#.into(),
        // `/v1/batch` bodies: every element read, the body's own members
        // (but `batch`) ignored.
        r#"{"batch":[{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","traits":{"age":30}},{"type":"track","userId":"u","timestamp":"2026-03-01T00:00:01Z","event":"Order Completed","properties":{"order_id":"1","revenue":5,"currency":"EUR"}}],"sentAt":"2026-03-01T00:00:02Z","context":{"library":{"name":"analytics-node"}}}"#.into(),
        format!(r#"{{"type":"identify","userId":"ignored","batch":[{{{T},"event":"Signed Up"}}]}}"#),
        r#"{"batch":[]}"#.into(),
        // Calls flows do not use: skipped with the general path's note,
        // whatever else they hold (the general path decides on `type`
        // first, before the id or the timestamp).
        r#"{"type":"page","userId":"u","timestamp":"2026-03-01T00:00:00Z","name":"Home","properties":{"path":"/","url":"https://shop.example/"}}"#.into(),
        r#"{"anonymousId":"a-1","type":"screen","name":"Cart","properties":{"items":3}}"#.into(),
        r#"{"type":"alias","previousId":"a-1","userId":"u","timestamp":"2026-03-01T00:00:00Z"}"#.into(),
        r#"{"type":"page"}"#.into(),
    ]
}

/// Lines with something to say, and lines the fast path leaves (an amount
/// whose currency it cannot place in one pass): the general path must read
/// them.
fn unclean_lines() -> Vec<String> {
    let oc = |props: &str| format!(r#"{{{T},"event":"Order Completed","properties":{{{props}}}}}"#);
    vec![
        oc(r#""revenue":20"#),
        oc(r#""order_id":null"#),
        // A repeated amount, one of them with a currency of its own.
        oc(r#""revenue":5,"order_id":"1","revenue":{"amount":3,"currency":"GBP"},"currency":"EUR""#),
        oc(r#""revenue":{"amount":3,"currency":"GBP"},"revenue":7,"currency":"EUR","order_id":"2""#),
        oc(r#""order_id":"1","revenue":"19.5""#),
        oc(r#""order_id":"1","revenue":"lots""#),
        oc(r#""order_id":"1","channel":"WEB""#),
        oc(r#""currency":5,"order_id":"1","revenue":129.5"#),
        oc(r#""currency":"nope","order_id":"1","revenue":-3"#),
        oc(r#""order_id":"1","items":1.5"#),
        oc(r#""order_id":"1","products":[{"price":5}]"#),
        oc(r#""order_id":"1","products":[{"sku":"a","price":5}],"currency":"EUR""#),
        oc(r#""order_id":"1","products":[{"sku":"a","price":5,"currency":"nope"}],"currency":"EUR""#),
        oc(r#""order_id":"1","products":[null,{"sku":"a","variant":{"extra":2}}],"currency":"JPY""#),
        oc(r#""order_id":"1","products":[{"sku":"a","variant":{"extra":2},"currency":"JPY"}]"#),
        oc(r#""order_id":"1","currency":"JPY","products":[{"sku":"a","variant":{"extra":2}}]"#),
        oc(r#""order_id":"1","revenue":{"amount":5,"currency":"GBP"}"#),
        oc(r#""order_id":"1","currency":"EUR","currency":"GBP""#),
        oc(r#""order_id":"1","gift":"yes""#),
        format!(r#"{{{T},"event":"order completed","properties":{{"order_id":"1"}}}}"#),
        format!(r#"{{{T},"event":"Order Completed","properties":{{"order_id":"1"}},"event":"Signed Up"}}"#),
        format!(r#"{{{T},"event":"Order Completed"}}"#),
        format!(r#"{{{T}}}"#),
        r#"{"type":"page","userId":"u","timestamp":"2026-03-01T00:00:00Z"}"#.into(),
        r#"{"type":"track","timestamp":"2026-03-01T00:00:00Z","event":"Signed Up"}"#.into(),
        r#"{"type":"track","userId":"u","timestamp":"soon","event":"Signed Up"}"#.into(),
        r#"{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","traits":{"age":"old"}}"#.into(),
        // A batch with one element the fast path leaves goes whole to the
        // general path, which reads the rest and reports that one.
        format!(r#"{{"batch":[{{{T},"event":"Signed Up"}},{{"type":"page","userId":"u","timestamp":"2026-03-01T00:00:00Z"}}]}}"#),
        format!(r#"{{"batch":[{{{T},"event":"Signed Up"}},7]}}"#),
        format!(r#"{{"batch":[{{{T},"batch":[]}}]}}"#),
        format!(r#"{{"batch":[],"batch":[{{{T},"event":"Signed Up"}}]}}"#),
        format!(r#"{{{T},"event":"Signed Up","batch":{{}}}}"#),
        r#"{"type":"track","userId":"u","timestamp":"2026-03-01T00:00:00Z","event":"Signed Up"} x"#.into(),
        r#"[1,2]"#.into(),
        r#"{"type":"track""#.into(),
    ]
}

#[test]
fn the_fast_path_takes_clean_lines_and_agrees() {
    let schema = schema();
    let reader = Reader::new(&schema);
    for line in clean_lines() {
        match agree(&reader, &line) {
            Ok(true) => {}
            Ok(false) => panic!(
                "fast path gave up on a clean line:\n{line}\n{:?}",
                general(&reader, &line)
            ),
            Err(e) => panic!("{e}"),
        }
        // A plain one is read by `Plain`, not left to serde_json.
        if is_plain(&line) {
            let mut de = Plain::new(&line);
            let seed = LineSeed {
                reader: &reader,
                in_batch: false,
            };
            let read = seed.deserialize(&mut de).and_then(|_| de.end());
            assert!(read.is_ok(), "left to serde_json: {line}");
        }
    }
}

#[test]
fn other_lines_go_to_the_general_path() {
    let schema = schema();
    let reader = Reader::new(&schema);
    for line in unclean_lines() {
        // The fast path may take a line with something to say only when it
        // says the same (`agree` compares the problems too): a skipped call.
        if let Err(e) = agree(&reader, &line) {
            panic!("{e}");
        }
    }
}

// ---- Random lines ------------------------------------------------------------

/// A JSON value written by hand, so members keep their order and may repeat.
#[derive(Debug, Clone)]
enum Node {
    Raw(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

fn write(n: &Node, out: &mut String) {
    match n {
        Node::Raw(s) => out.push_str(s),
        Node::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Node::Obj(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

fn scalars() -> impl Strategy<Value = Node> {
    prop::sample::select(vec![
        "null",
        "true",
        "false",
        "0",
        "1",
        "-7",
        "3",
        "19.99",
        "129.0",
        "1e3",
        "2.5e-3",
        "18446744073709551615",
        "-9223372036854775809",
        "1772359200",
        "1772359200123",
        "\"\"",
        "\" \"",
        "\"a\"",
        "\" x \"",
        "\"19.5\"",
        "\"10%\"",
        "\"EUR\"",
        "\"eur\"",
        "\"USD\"",
        "\"GBP\"",
        "\"web\"",
        "\"Web\"",
        "\"app\"",
        "\"yes\"",
        "\"true\"",
        "\"2026-03-01\"",
        "\"2026-03-01T10:00:00Z\"",
        "\"2026-03-01T10:00:00.5+01:00\"",
        "\"2026-02-30T00:00:00Z\"",
        "\"10:30\"",
        "\"\\u00e9\"",
        // Valid JSON text that serde_json still refuses to read as a value.
        "\"\\ud800\"",
        "1e400",
        "\"Order Completed\"",
        "\"order_completed\"",
        "\"Signed Up\"",
        "\"Other\"",
        "\"track\"",
        "\"identify\"",
        "\"page\"",
    ])
    .prop_map(|s| Node::Raw(s.to_string()))
}

fn keys() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "order_id",
        "currency",
        "revenue",
        "total",
        "discount",
        "items",
        "gift",
        "placed_at",
        "ship_on",
        "window",
        "wait",
        "channel",
        "note",
        "products",
        "shipping",
        "tags",
        "prices",
        "url",
        "sku",
        "name",
        "price",
        "variant",
        "extra",
        "city",
        "fee",
        "amount",
        "email",
        "method",
        "age",
        "vip",
        "home",
        "balance",
        "x",
    ])
    .prop_map(str::to_string)
}

fn values() -> impl Strategy<Value = Node> {
    scalars().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Node::Arr),
            prop::collection::vec((keys(), inner), 0..6).prop_map(Node::Obj),
        ]
    })
}

fn lines() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        4 => (prop::sample::select(vec!["type", "type", "userId", "anonymousId", "timestamp", "messageId", "event", "event", "context"]), scalars())
            .prop_map(|(k, v)| (k.to_string(), v)),
        2 => values().prop_map(|v| ("properties".to_string(), v)),
        1 => values().prop_map(|v| ("traits".to_string(), v)),
    ];
    let fixed = prop::sample::select(vec![
        r#""type":"track","userId":"u","timestamp":"2026-03-01T10:00:00Z","event":"Order Completed""#,
        r#""type":"identify","userId":"u","timestamp":"2026-03-01T10:00:00Z""#,
        r#""type":"track","userId":"u","timestamp":"2026-03-01T10:00:00Z","event":"Signed Up""#,
        "",
    ]);
    (fixed, prop::collection::vec(member, 0..5), any::<bool>()).prop_map(
        |(fixed, members, first)| {
            let mut s = String::new();
            write(&Node::Obj(members), &mut s);
            if fixed.is_empty() {
                return s;
            }
            // The fixed members first or last.
            let body = s.get(1..s.len() - 1).unwrap_or_default();
            match (body.is_empty(), first) {
                (true, _) => format!("{{{fixed}}}"),
                (false, true) => format!("{{{fixed},{body}}}"),
                (false, false) => format!("{{{body},{fixed}}}"),
            }
        },
    )
}

/// `/v1/batch` bodies of random elements, with the body's own members
/// (a stray `type`, `sentAt`, `context`) before or after.
fn batches() -> impl Strategy<Value = String> {
    let outer = prop::sample::select(vec![
        "",
        r#""sentAt":"2026-03-01T10:00:01Z""#,
        r#""type":"track","context":{"ip":"1.2.3.4"}"#,
    ]);
    (prop::collection::vec(lines(), 0..4), outer, any::<bool>()).prop_map(
        |(elements, outer, first)| {
            let batch = format!(r#""batch":[{}]"#, elements.join(","));
            match (outer.is_empty(), first) {
                (true, _) => format!("{{{batch}}}"),
                (false, true) => format!("{{{batch},{outer}}}"),
                (false, false) => format!("{{{outer},{batch}}}"),
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_paths_agree_on_random_batches(line in batches()) {
        let schema = schema();
        let reader = Reader::new(&schema);
        if let Err(e) = agree(&reader, &line) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn the_paths_agree_on_random_lines(line in lines()) {
        let schema = schema();
        let reader = Reader::new(&schema);
        if let Err(e) = agree(&reader, &line) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn the_paths_agree_on_random_properties(
        members in prop::collection::vec((keys(), values()), 0..8),
        at in any::<prop::sample::Index>(),
    ) {
        let schema = schema();
        let reader = Reader::new(&schema);
        // With the required `order_id` somewhere, most are readable.
        let mut members = members;
        members.insert(at.index(members.len() + 1), ("order_id".into(), Node::Raw("\"1\"".into())));
        let mut p = String::new();
        write(&Node::Obj(members), &mut p);
        let line = format!(r#"{{{T},"event":"Order Completed","properties":{p}}}"#);
        if let Err(e) = agree(&reader, &line) {
            prop_assert!(false, "{}", e);
        }
    }
}

// ---- Timestamps --------------------------------------------------------------

fn jiff_millis(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

#[test]
fn the_timestamp_fast_path_agrees_with_jiff() {
    let shapes = [
        "2026-03-01T00:00:00Z",
        "2026-03-01t00:00:00z",
        "2026-03-01T23:59:59Z",
        "2026-03-01T10:00:00.1Z",
        "2026-03-01T10:00:00.12Z",
        "2026-03-01T10:00:00.123Z",
        "2026-03-01T10:00:00.1239Z",
        "2026-03-01T10:00:00.999999999Z",
        "2026-03-01T10:00:00.9999999999Z",
        "2026-03-01T10:00:00.Z",
        "2026-03-01T10:00:00+02:00",
        "2026-03-01T10:00:00-07:30",
        "2026-03-01T10:00:00.250-07:30",
        "2026-03-01T10:00:00+23:59",
        "2026-03-01T10:00:00+24:00",
        "2026-03-01T10:00:00-00:00",
        "2026-03-01T10:00:00+0200",
        "2026-03-01T10:00:00+02",
        "2026-03-01 10:00:00Z",
        "2026-03-01T10:00Z",
        "2026-03-01T10:00:60Z",
        "2026-03-01T24:00:00Z",
        "2026-03-01T10:60:00Z",
        "2024-02-29T12:00:00Z",
        "2023-02-29T12:00:00Z",
        "2000-02-29T12:00:00Z",
        "1900-02-29T12:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "1971-01-01T00:00:00+23:59",
        "1969-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
        "9998-12-31T23:59:59.999-23:59",
        "9999-12-31T23:59:59Z",
        "+2026-03-01T00:00:00Z",
        "2026-03-01T00:00:00ZZ",
        "2026-03-01T00:00:00Z ",
        "2026-3-01T00:00:00Z",
        "2026-03-01T00:00:00,5Z",
        "2026-03-01T00:00:00[UTC]",
        "2026-03-01T00:00:00Z[UTC]",
        "2026-03-01T00:00:00+01:00[Europe/Paris]",
        "２026-03-01T00:00:00Z",
        "2026-03-01T00:00:00",
        "",
        "Z",
    ];
    for s in shapes {
        if let Some(ms) = rfc3339_millis(s) {
            assert_eq!(Some(ms), jiff_millis(s), "{s}");
        }
        assert_eq!(timestamp_text(s), jiff_millis(s.trim()), "{s}");
    }
    // The common shapes do take the fast path.
    for s in [
        "2026-03-01T00:00:00Z",
        "2024-02-29t12:00:00.5z",
        "2026-03-01T10:00:00.123456-07:30",
    ] {
        assert!(rfc3339_millis(s).is_some(), "{s}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn random_timestamps_agree_with_jiff(
        y in 1960i64..10_001, mo in 0i64..14, d in 0i64..33, h in 0i64..25, mi in 0i64..61,
        sec in 0i64..61, frac in prop::option::of("[0-9]{0,11}"),
        zone in prop::sample::select(vec!["Z", "z", "+00:00", "-00:00", "+05:30", "-11:59", "+23:59", "-24:00", "+1:00", ""]),
        sep in prop::sample::select(vec!["T", "t", " "]),
    ) {
        let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
        let s = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{sec:02}{frac}{zone}");
        if let Some(ms) = rfc3339_millis(&s) {
            prop_assert_eq!(Some(ms), jiff_millis(&s), "{}", s);
        }
        prop_assert_eq!(timestamp_text(&s), jiff_millis(&s), "{}", s);
    }
}

// ---- Small helpers -------------------------------------------------------------

#[test]
fn whole_floats_read_as_their_text_does() {
    let mut xs: Vec<f64> = (1..2000).map(f64::from).collect();
    xs.extend((0..10).map(|p| 10f64.powi(p)));
    xs.extend([
        999_999_999.0,
        1e9,
        123_456_789.0,
        0.5,
        1.5,
        1e15,
        1e16,
        1e17,
        1e300,
        -0.0,
    ]);
    let more: Vec<f64> = xs.iter().map(|x| -x).collect();
    xs.extend(more);
    for x in xs {
        let Some(fast) = whole_float(x) else { continue };
        let text = serde_json::Number::from_f64(x)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let slow = decimal(&text);
        assert_eq!(
            Some((fast.mantissa(), fast.scale(), fast.is_sign_negative())),
            slow.map(|d| (d.mantissa(), d.scale(), d.is_sign_negative())),
            "{x} ({text})"
        );
    }
    assert!(whole_float(129.0).is_some());
    assert!(whole_float(19.99).is_none());
}

#[test]
fn names_are_found_by_the_index() {
    let names = [
        "a",
        "ab",
        "abc",
        "abcd",
        "abcde",
        "abcdefg",
        "abcdefgh",
        "abcdefghi",
        "product_id",
        "products",
        "image_url",
        "url",
        "x_________________y",
        "x_________________z",
        "é",
    ];
    let mut names = names.to_vec();
    names.sort_unstable();
    let index = NameIndex::new(names.clone());
    for (i, n) in names.iter().enumerate() {
        assert_eq!(index.get(n), Some(i), "{n}");
        assert!(same(n, n));
    }
    for miss in [
        "",
        "b",
        "abcdefghij",
        "product_i",
        "productz",
        "x_________________a",
        "e",
    ] {
        assert_eq!(index.get(miss), None, "{miss}");
    }
    assert!(!same("abcdefghi", "abcdefghj"));
    assert!(!same("abcd", "abce"));
    assert!(!same("ab", "ac"));
    // Equal or unsorted names: a binary search decides, as before.
    let dup = NameIndex::new(vec!["a", "b", "b", "c"]);
    assert!(dup.slots.is_empty());
    assert_eq!(dup.get("c"), Some(3));
    assert!(dup.get("b").is_some());
    assert_eq!(dup.get("d"), None);
    let names = vec!["b", "a", "c"];
    let unsorted = NameIndex::new(names.clone());
    assert!(unsorted.slots.is_empty());
    for n in ["a", "b", "c", "d"] {
        assert_eq!(unsorted.get(n), names.binary_search(&n).ok(), "{n}");
    }
}

#[test]
fn the_quick_trim_is_trim() {
    for s in [
        "",
        " ",
        "a",
        " a",
        "a ",
        "\u{a0}a",
        "a\u{2003}",
        "\ta\n",
        "é",
        "a b",
        "-x-",
    ] {
        assert_eq!(trim(s), s.trim(), "{s:?}");
    }
}
