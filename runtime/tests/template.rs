//! Rendering compiled templates: holes, filters, if/for, placeholders,
//! HTML escaping, SMS segment counts.

use nudge_bytecode::format::{Bundle, Policies};
use nudge_bytecode::op::{Channel, Code, Op};
use nudge_bytecode::template::{Filter, PartKind, Placeholder, Template, Text, TextNode};
use nudge_bytecode::{Currency, Money, Record, Value};
use nudge_runtime::template::{Rendered, render};
use nudge_runtime::vm::{Env, Vm};
use nudge_stdlib::sms::Encoding;
use rust_decimal::Decimal;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Profile;

impl Env for Profile {
    fn now(&self) -> i64 {
        1_764_000_000_000
    }
    fn profile_id(&self) -> &str {
        "p1"
    }
    fn profile_trait(&self, name: &str) -> Value {
        match name {
            "first_name" => Value::str("ada"),
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

fn usd(cents: i64) -> Value {
    Value::Money(Money {
        amount: Decimal::new(cents, 2),
        currency: Currency::new("USD").unwrap_or_else(|| unreachable!()),
    })
}

/// Code: `local.<field>` (or the local itself when `field` is empty).
fn path(local: u16, fields: &[&str], locals: u16) -> Code {
    let mut ops = vec![Op::LoadLocal(local)];
    let mut consts = vec![];
    for (i, f) in fields.iter().enumerate() {
        consts.push(Value::str(*f));
        ops.push(Op::GetField {
            name: i as u16,
            optional: false,
        });
    }
    ops.push(Op::Return);
    Code {
        ops,
        consts,
        locals,
        lambdas: vec![],
    }
}

fn trait_code(name: &str) -> Code {
    Code {
        ops: vec![Op::LoadTrait(0), Op::Return],
        consts: vec![Value::str(name)],
        locals: 0,
        lambdas: vec![],
    }
}

fn hole(expr: Code, filters: Vec<Filter>) -> TextNode {
    TextNode::Hole { expr, filters }
}

fn lit(s: &str) -> TextNode {
    TextNode::Lit(s.to_string())
}

fn bundle() -> Bundle {
    let hi = Code {
        ops: vec![Op::Const(0), Op::Return],
        consts: vec![Value::str("Hi")],
        locals: 0,
        lambdas: vec![],
    };
    // locals: 0 = c (checkout), 1 = p (loop variable)
    let email = Template {
        name: "cart_reminder".into(),
        channel: Channel::Email,
        params: 1,
        locals: 2,
        parts: vec![
            (
                PartKind::Subject,
                Text(vec![
                    hole(trait_code("first_name"), vec![Filter::Title]),
                    lit(", you left something behind"),
                ]),
            ),
            (
                PartKind::Preheader,
                Text(vec![hole(
                    trait_code("last_name"),
                    vec![Filter::Default(hi)],
                )]),
            ),
            (
                PartKind::Html,
                Text(vec![
                    lit("<p>"),
                    hole(path(0, &["note"], 2), vec![]),
                    lit("</p><a href=\"https://shop.example/cart?note="),
                    hole(path(0, &["note"], 2), vec![]),
                    lit("\">Cart</a><a href=\""),
                    TextNode::Placeholder(Placeholder::UnsubscribeUrl),
                    lit("\">Unsubscribe</a>"),
                ]),
            ),
            (
                PartKind::Text,
                Text(vec![
                    lit("You left "),
                    hole(path(0, &["products"], 2), vec![Filter::Count]),
                    lit(" items.\n"),
                    TextNode::For {
                        var: 1,
                        list: path(0, &["products"], 2),
                        body: Text(vec![
                            lit("- "),
                            hole(path(1, &["name"], 2), vec![Filter::Truncate(8)]),
                            lit(" ("),
                            hole(path(1, &["price"], 2), vec![Filter::Money]),
                            lit(")\n"),
                        ]),
                    },
                    TextNode::If {
                        branches: vec![(
                            Code {
                                ops: vec![
                                    Op::LoadLocal(0),
                                    Op::GetField {
                                        name: 0,
                                        optional: false,
                                    },
                                    Op::Const(1),
                                    Op::Gt,
                                    Op::Return,
                                ],
                                consts: vec![Value::str("value"), usd(5_000)],
                                locals: 2,
                                lambdas: vec![],
                            },
                            Text(vec![lit("Free shipping!\n")]),
                        )],
                        otherwise: Some(Text(vec![lit("Add more for free shipping.\n")])),
                    },
                    lit("Unsubscribe: "),
                    TextNode::Placeholder(Placeholder::UnsubscribeUrl),
                ]),
            ),
        ],
    };
    let sms = Template {
        name: "last_call".into(),
        channel: Channel::Sms,
        params: 1,
        locals: 1,
        parts: vec![(
            PartKind::Body,
            Text(vec![
                lit("Trail Co: your cart expires tonight "),
                hole(path(0, &["checkout_url"], 1), vec![Filter::ShortLink]),
                lit(" Reply STOP to opt out"),
            ]),
        )],
    };
    Bundle {
        shop: Record::new(),
        policies: Policies::default(),
        flows: vec![],
        templates: vec![email, sms],
        segments: vec![],
        aggregates: vec![],
        schema: Default::default(),
    }
}

fn checkout() -> Value {
    let product = |name: &str, cents: i64| {
        Value::Record(Record::from_fields([
            ("name".to_string(), Value::str(name)),
            ("price".to_string(), usd(cents)),
        ]))
    };
    Value::Record(Record::from_fields([
        ("value".to_string(), usd(128_950)),
        (
            "note".to_string(),
            Value::str("<script>alert(1)</script> & more"),
        ),
        (
            "checkout_url".to_string(),
            Value::str("https://shop.example.com/c/123"),
        ),
        (
            "products".to_string(),
            Value::List(vec![
                product("Trail running shoe", 127_950),
                product("Socks", 1_000),
            ]),
        ),
    ]))
}

#[test]
fn renders_an_email_with_every_kind_of_node() -> TestResult {
    let bundle = Bundle::decode(&bundle().encode()?)?;
    let vm = Vm::new(&bundle);
    let Rendered::Email(email) = render(&vm, 0, &[checkout()], &Profile)? else {
        return Err("expected an email".into());
    };
    assert_eq!(email.subject, "Ada, you left something behind");
    assert_eq!(email.preheader.as_deref(), Some("Hi"));
    assert_eq!(
        email.html.as_deref(),
        Some(
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</p><a href=\"{{nudge:link:0}}\">Cart</a><a href=\"{{nudge:unsubscribe_url}}\">Unsubscribe</a>"
        )
    );
    // The tracked destination is the URL as the browser would read it: the
    // hole's HTML escaping undone.
    assert_eq!(
        email.tracked_links,
        ["https://shop.example/cart?note=<script>alert(1)</script> & more"]
    );
    assert_eq!(
        email.text,
        "You left 2 items.\n- Trail r… ($1,279.50)\n- Socks ($10.00)\nFree shipping!\nUnsubscribe: {{nudge:unsubscribe_url}}"
    );
    Ok(())
}

#[test]
fn renders_an_sms_with_its_segment_count_and_links_to_shorten() -> TestResult {
    let bundle = bundle();
    let vm = Vm::new(&bundle);
    let Rendered::Sms(sms) = render(&vm, 1, &[checkout()], &Profile)? else {
        return Err("expected an sms".into());
    };
    assert_eq!(
        sms.body,
        "Trail Co: your cart expires tonight https://shop.example.com/c/123 Reply STOP to opt out"
    );
    assert_eq!(sms.measure.segments, 1);
    assert_eq!(sms.measure.encoding, Encoding::Gsm7);
    assert_eq!(
        sms.links_to_shorten,
        vec!["https://shop.example.com/c/123".to_string()]
    );
    Ok(())
}

#[test]
fn wrong_arguments_are_errors() {
    let bundle = bundle();
    let vm = Vm::new(&bundle);
    assert!(render(&vm, 0, &[], &Profile).is_err());
    assert!(render(&vm, 9, &[checkout()], &Profile).is_err());
    // A checkout without `products`: `for` over none renders nothing, count is 0.
    let sparse = Value::Record(Record::from_fields([("value".to_string(), usd(100))]));
    let rendered = render(&vm, 0, &[sparse], &Profile);
    assert!(
        matches!(rendered, Ok(Rendered::Email(e)) if e.text.starts_with("You left 0 items.\nAdd more"))
    );
}
