//! `render_excerpt` over the real example project: for every template of
//! the bundle `nudge build examples/shop` makes and many argument frames
//! (well-typed, `none`, wrong kinds, missing fields, bad list items),
//! it fails exactly when `render` fails, with the same error, and otherwise
//! gives the excerpt part of the rendered message. With arguments of the
//! right kinds it skips every part but the excerpt without walking it. A
//! proptest compares the two on arguments of random shapes.

#![allow(clippy::panic)]

mod support;

use nudge_bytecode::op::Channel;
use nudge_bytecode::template::PartKind;
use nudge_bytecode::{Bundle, Record, Value};
use nudge_runtime::template::{Rendered, render, render_excerpt, skipped_parts};
use nudge_runtime::vm::{Env, Vm};
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

struct Profile {
    first_name: Value,
}

impl Env for Profile {
    fn now(&self) -> i64 {
        1_772_359_200_000
    }
    fn profile_id(&self) -> &str {
        "p1"
    }
    fn profile_trait(&self, name: &str) -> Value {
        match name {
            "first_name" => self.first_name.clone(),
            "email" => Value::str("ada@example.com"),
            _ => Value::None,
        }
    }
    fn aggregate(&self, _: u16) -> Value {
        Value::None
    }
    fn in_segment(&self, _: u16) -> bool {
        false
    }
}

/// Built once for all the tests (they run in parallel).
fn bundle() -> Bundle {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("excerpt-shop.nbc");
    let o = support::nudge(&["build", "examples/shop", "-o", &out.to_string_lossy()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap_or_default();
    Bundle::decode(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn record(fields: Vec<(&str, Value)>) -> Value {
    Value::Record(Record::from_fields(fields))
}

/// A value from its serde form (this crate does not link `rust_decimal`).
fn value(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn usd(cents: i64) -> Value {
    value(&format!(
        r#"{{"Money":{{"amount":[{cents},2],"currency":[85,83,68]}}}}"#
    ))
}

fn percent(n: i64) -> Value {
    value(&format!(r#"{{"Percent":[{n},0]}}"#))
}

fn product(price: Value) -> Value {
    record(vec![
        ("name", Value::str("Trail shoe")),
        ("price", price),
        ("quantity", Value::Int(2)),
        ("url", Value::str("https://trailhead.example/p/1")),
        (
            "image_url",
            Value::str("https://cdn.trailhead.example/1.jpg"),
        ),
        ("variant", Value::str("Blue / 42")),
        ("brand", Value::str("Trailhead")),
    ])
}

/// Every field any shop template reads, well typed, with these products.
fn event(products: Value) -> Value {
    record(vec![
        ("products", products),
        ("value", usd(12_999)),
        (
            "checkout_url",
            Value::str("https://trailhead.example/checkout"),
        ),
        ("order_id", Value::str("1005")),
        ("carrier", Value::str("UPS")),
        ("tracking_number", Value::str("1Z999")),
        ("tracking_url", Value::str("https://ups.example/1Z999")),
        ("name", Value::str("Trail shoe")),
        ("price", usd(8_900)),
        ("url", Value::str("https://trailhead.example/p/1")),
        (
            "image_url",
            Value::str("https://cdn.trailhead.example/1.jpg"),
        ),
        ("brand", Value::str("Trailhead")),
    ])
}

/// Arguments that fit the shop's parameters.
fn well_typed() -> Vec<Value> {
    vec![
        event(Value::List(vec![product(usd(8_900)), product(Value::None)])),
        event(Value::List(Vec::new())),
        percent(15),
        Value::None,
        record(Vec::new()),
    ]
}

/// Arguments of the wrong kind, or with fields of the wrong kind.
fn ill_typed() -> Vec<Value> {
    let with = |name: &str, v: Value| match event(Value::None) {
        Value::Record(r) => {
            let mut fields: Vec<(String, Value)> = r
                .fields()
                .filter(|(n, _)| *n != name)
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect();
            fields.push((name.to_string(), v));
            Value::Record(Record::from_fields(fields))
        }
        other => other,
    };
    vec![
        Value::str("not a record"),
        Value::Int(7),
        Value::List(vec![Value::Int(1)]),
        with("products", Value::str("boots")),
        with("products", Value::List(vec![Value::Int(1)])),
        with("products", Value::List(vec![product(Value::str("9.99"))])),
        with("products", Value::List(vec![product(Value::Bool(true))])),
        with("value", Value::str("129.99")),
        with("price", Value::List(Vec::new())),
        with("carrier", Value::Int(3)),
        with("order_id", record(Vec::new())),
    ]
}

/// All frames of `n` arguments drawn from `values`.
fn frames(values: &[Value], n: usize) -> Vec<Vec<Value>> {
    let mut out = vec![Vec::new()];
    for _ in 0..n {
        out = out
            .into_iter()
            .flat_map(|f| {
                values.iter().map(move |v| {
                    let mut f = f.clone();
                    f.push(v.clone());
                    f
                })
            })
            .collect();
    }
    out
}

fn excerpt_of(r: &Rendered) -> &str {
    match r {
        Rendered::Email(e) => &e.subject,
        Rendered::Sms(s) => &s.body,
        Rendered::Push(p) => &p.title,
    }
}

#[test]
fn render_excerpt_fails_exactly_when_render_does() {
    let bundle = shop_bundle();
    let vm = Vm::new(bundle);
    let envs = [
        Profile {
            first_name: Value::str("Ada"),
        },
        Profile {
            first_name: Value::None,
        },
        Profile {
            first_name: Value::Int(3),
        },
    ];
    let mut values = well_typed();
    values.extend(ill_typed());
    let (mut ok, mut failed) = (0, 0);
    for (index, template) in bundle.templates.iter().enumerate() {
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        // One argument too many and too few, too.
        let n = usize::from(template.params);
        let mut all = frames(&values, n);
        all.push(vec![Value::None; n + 1]);
        for frame in all {
            for env in &envs {
                let full = render(&vm, index, &frame, env);
                let excerpt = render_excerpt(&vm, index, &frame, env);
                match (&full, &excerpt) {
                    (Ok(r), Ok(e)) => {
                        assert_eq!(excerpt_of(r), e, "{}: {frame:?}", template.name);
                        ok += 1;
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a, b, "{}: {frame:?}", template.name);
                        failed += 1;
                    }
                    _ => panic!(
                        "{}: {frame:?}: render {full:?}, render_excerpt {excerpt:?}",
                        template.name
                    ),
                }
            }
        }
    }
    // Both outcomes are exercised.
    assert!(ok > 100 && failed > 100, "{ok} rendered, {failed} failed");
}

#[test]
fn arguments_of_the_right_kinds_skip_every_part_but_the_excerpt() {
    let bundle = shop_bundle();
    let vm = Vm::new(bundle);
    let values = well_typed();
    let mut parts = 0;
    for (index, template) in bundle.templates.iter().enumerate() {
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        let excerpt = match template.channel {
            Channel::Email => PartKind::Subject,
            Channel::Sms => PartKind::Body,
            Channel::Push => PartKind::Title,
        };
        let others: Vec<PartKind> = template
            .parts
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| *k != excerpt)
            .collect();
        parts += others.len();
        // `none` arguments (every field reads as `none`), and the
        // arguments of the right kinds (the value set mixes records and
        // percents, so some frame of it fits every parameter list).
        let params = usize::from(template.params);
        assert_eq!(
            skipped_parts(&vm, index, &vec![Value::None; params]),
            others,
            "{}",
            template.name
        );
        let all = frames(&values, params);
        assert!(
            all.iter()
                .any(|frame| skipped_parts(&vm, index, frame) == others),
            "{}",
            template.name
        );
    }
    assert!(parts > 40, "{parts} parts");
}

/// Values of random shapes, with the field names the shop's templates read.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::Int),
        "[a-z]{0,3}".prop_map(Value::str),
        (-2_000i64..2_000).prop_map(usd),
        (0i64..50).prop_map(percent),
    ];
    const NAMES: &[&str] = &[
        "products",
        "value",
        "price",
        "name",
        "quantity",
        "order_id",
        "carrier",
        "tracking_url",
        "image_url",
        "variant",
        "brand",
        "url",
        "checkout_url",
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec((prop::sample::select(NAMES), inner), 0..6).prop_map(|fields| {
                let mut fields = fields;
                fields.sort_by(|a, b| a.0.cmp(b.0));
                fields.dedup_by(|a, b| a.0 == b.0);
                Value::Record(Record::from_fields(fields))
            }),
        ]
    })
}

fn shop_bundle() -> &'static Bundle {
    static SHOP: OnceLock<Bundle> = OnceLock::new();
    SHOP.get_or_init(bundle)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_excerpt_agrees_with_render_on_random_arguments(
        template in 0usize..64,
        args in prop::collection::vec(any_value(), 0..3),
    ) {
        let bundle = shop_bundle();
        let vm = Vm::new(bundle);
        let index = template % bundle.templates.len().max(1);
        let Some(t) = bundle.templates.get(index) else {
            return Ok(());
        };
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        // The template's parameter count, padded or cut from the values.
        let mut args = args;
        args.resize(usize::from(t.params), Value::None);
        let env = Profile { first_name: Value::str("Ada") };
        let full = render(&vm, index, &args, &env);
        let excerpt = render_excerpt(&vm, index, &args, &env);
        match (&full, &excerpt) {
            (Ok(r), Ok(e)) => prop_assert_eq!(excerpt_of(r), e.as_str()),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            _ => prop_assert!(false, "{}: {args:?}: {full:?} / {excerpt:?}", t.name),
        }
    }
}
