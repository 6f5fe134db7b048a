//! Lowering a hand-built syntax tree (the parser is not on main yet) into a
//! bundle that verifies, encodes byte-identically twice, and runs on the VM.

use nudge_bytecode::format::{Bundle, EventKeep, KeepField, Trigger};
use nudge_bytecode::{Currency, Money, Record, Value};
use nudge_compiler::ast::*;
use nudge_compiler::lower::{LowerInput, lower_project};
use nudge_compiler::manifest::ShopSettings;
use nudge_compiler::policy::Policy;
use nudge_compiler::span::Span;
use nudge_runtime::template::{Rendered, render};
use nudge_runtime::vm::{Effect, Env, Resume, Vm};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const S: Span = Span { start: 0, end: 0 };

fn ident(n: &str) -> Ident {
    Ident {
        name: n.into(),
        span: S,
    }
}
fn name(n: &str) -> Name {
    Name {
        value: n.into(),
        span: S,
    }
}
fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: S }
}
fn var(n: &str) -> Expr {
    e(ExprKind::Name(ident(n)))
}
fn field(base: Expr, f: &str) -> Expr {
    e(ExprKind::Field {
        base: Box::new(base),
        field: ident(f),
    })
}
fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    e(ExprKind::Binary {
        op,
        op_span: S,
        lhs: Box::new(l),
        rhs: Box::new(r),
    })
}
fn lit(l: Lit) -> Expr {
    e(ExprKind::Lit(l))
}
fn usd(n: i64) -> Lit {
    Lit::Money {
        amount: Decimal::from(n),
        currency: "USD".into(),
    }
}
fn plain(s: &str) -> Text {
    Text {
        nodes: vec![TextNode::Literal(s.into(), S)],
        span: S,
    }
}
fn string(s: &str) -> Expr {
    e(ExprKind::Str(plain(s)))
}
fn hole(expr: Expr, filters: &[&str]) -> TextNode {
    TextNode::Hole(Hole {
        expr,
        filters: filters
            .iter()
            .map(|f| FilterCall {
                name: ident(f),
                args: vec![],
                span: S,
            })
            .collect(),
        span: S,
    })
}
fn step(kind: StepKind) -> Step {
    Step { kind, span: S }
}
fn block(steps: Vec<Step>) -> Block {
    Block { steps, span: S }
}
fn send(t: &str, args: Vec<Expr>) -> Step {
    step(StepKind::Send {
        channel: Channel::Email,
        template: ident(t),
        args,
    })
}
fn setting(kind: FlowSettingKind) -> FlowSetting {
    FlowSetting { kind, span: S }
}
fn matcher(event: &str, binding: Option<&str>, condition: Option<Expr>) -> EventMatch {
    EventMatch {
        event: name(event),
        binding: binding.map(ident),
        condition,
        span: S,
    }
}

fn project() -> File {
    let segment = Item::Segment(SegmentDecl {
        name: ident("vip"),
        doc: None,
        condition: bin(
            BinaryOp::Ge,
            e(ExprKind::Call {
                callee: ident("sum"),
                args: vec![
                    Arg {
                        name: None,
                        value: e(ExprKind::EventField {
                            event: name("Order Completed"),
                            field: ident("revenue"),
                        }),
                    },
                    Arg {
                        name: Some(ident("within")),
                        value: lit(Lit::Duration(365 * 86_400)),
                    },
                ],
            }),
            lit(usd(500)),
        ),
        span: S,
    });
    let same_checkout = |who: Expr| {
        bin(
            BinaryOp::Eq,
            field(who, "checkout_id"),
            field(var("checkout"), "checkout_id"),
        )
    };
    let flow = Item::Flow(FlowDecl {
        name: ident("abandoned_checkout"),
        settings: vec![
            setting(FlowSettingKind::Trigger(nudge_compiler::ast::Trigger {
                kind: TriggerKind::Event(matcher(
                    "Checkout Started",
                    Some("checkout"),
                    Some(bin(
                        BinaryOp::Ge,
                        field(var("checkout"), "value"),
                        lit(usd(20)),
                    )),
                )),
                span: S,
            })),
            setting(FlowSettingKind::ExitWhen(matcher(
                "Order Completed",
                None,
                Some(same_checkout(var("it"))),
            ))),
            setting(FlowSettingKind::Goal {
                event: matcher("Order Completed", None, None),
                within: lit(Lit::Duration(5 * 86_400)),
            }),
        ],
        body: block(vec![
            step(StepKind::Wait(lit(Lit::Duration(3600)))),
            send("cart_reminder", vec![var("checkout")]),
            step(StepKind::If {
                branches: vec![(
                    bin(BinaryOp::In, var("profile"), var("vip")),
                    block(vec![send("cart_reminder", vec![var("checkout")])]),
                )],
                else_block: Some(block(vec![step(StepKind::Split {
                    name: ident("discount_test"),
                    arms: vec![
                        SplitArm {
                            weight: lit(Lit::Percent(Decimal::from(50))),
                            name: ident("control"),
                            body: block(vec![]),
                            span: S,
                        },
                        SplitArm {
                            weight: lit(Lit::Percent(Decimal::from(50))),
                            name: ident("again"),
                            body: block(vec![send("cart_reminder", vec![var("checkout")])]),
                            span: S,
                        },
                    ],
                })])),
            }),
            step(StepKind::WaitUntil(WaitUntil::TimeOfDay {
                weekday: None,
                time: TimeOfDay {
                    hour: 10,
                    minute: 0,
                    local: true,
                    span: S,
                },
            })),
            step(StepKind::Match {
                scrutinee: bin(
                    BinaryOp::Default,
                    field(var("profile"), "tier"),
                    string("bronze"),
                ),
                arms: vec![
                    MatchArm {
                        pattern: Pattern::Literals(vec![name("gold")]),
                        body: block(vec![step(StepKind::Exit)]),
                        span: S,
                    },
                    MatchArm {
                        pattern: Pattern::Wildcard(S),
                        body: block(vec![]),
                        span: S,
                    },
                ],
            }),
            step(StepKind::WaitFor {
                event: matcher("Order Completed", Some("o"), Some(same_checkout(var("o")))),
                within: Some(lit(Lit::Duration(2 * 86_400))),
                on_arrival: Some(block(vec![step(StepKind::Track {
                    event: name("Cart Recovered"),
                    fields: vec![FieldInit {
                        name: name("id"),
                        value: field(var("o"), "checkout_id"),
                        span: S,
                    }],
                })])),
                on_timeout: Some(block(vec![step(StepKind::Set {
                    target: field(var("profile"), "lost_cart"),
                    value: lit(Lit::Bool(true)),
                })])),
            }),
        ]),
        span: S,
    });
    let products = || field(var("c"), "products");
    let template = Item::Template(TemplateDecl {
        channel: Channel::Email,
        channel_span: S,
        name: ident("cart_reminder"),
        params: vec![Param {
            name: ident("c"),
            ty: TypeExpr {
                kind: TypeExprKind::Event(name("Checkout Started")),
                span: S,
            },
            span: S,
        }],
        parts: vec![
            TemplatePart {
                key: ident("subject"),
                value: TemplateSource::Inline(Text {
                    nodes: vec![
                        hole(
                            bin(
                                BinaryOp::Default,
                                field(var("profile"), "first_name"),
                                string("Hi"),
                            ),
                            &["title"],
                        ),
                        TextNode::Literal(", you left something behind".into(), S),
                    ],
                    span: S,
                }),
                span: S,
            },
            TemplatePart {
                key: ident("text"),
                value: TemplateSource::Inline(Text {
                    nodes: vec![
                        hole(products(), &["count"]),
                        TextNode::Literal(" items:".into(), S),
                        TextNode::For {
                            binding: ident("p"),
                            iterable: products(),
                            body: Text {
                                nodes: vec![
                                    TextNode::Literal(" ".into(), S),
                                    hole(field(var("p"), "price"), &["money"]),
                                ],
                                span: S,
                            },
                            span: S,
                        },
                        TextNode::Literal(" | ".into(), S),
                        hole(var("unsubscribe_url"), &[]),
                    ],
                    span: S,
                }),
                span: S,
            },
        ],
        span: S,
    });
    File {
        items: vec![template, flow, segment],
    }
}

fn build() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let file = project();
    let files = [&file];
    let template_files = BTreeMap::new();
    let policy = Policy::default();
    let shop = ShopSettings {
        name: Some("Trail Co".into()),
        ..ShopSettings::default()
    };
    let bundle = lower_project(&LowerInput {
        files: &files,
        template_files: &template_files,
        policy: &policy,
        shop: &shop,
    })?;
    Ok(bundle.encode()?)
}

struct World {
    now: std::cell::Cell<i64>,
}

impl Env for World {
    fn now(&self) -> i64 {
        self.now.get()
    }
    fn profile_id(&self) -> &str {
        "p1"
    }
    fn profile_trait(&self, name: &str) -> Value {
        match name {
            "first_name" => Value::str("ada"),
            "tier" => Value::str("silver"),
            _ => Value::None,
        }
    }
    fn aggregate(&self, _: u16) -> Value {
        Value::None
    }
    fn in_segment(&self, _: u16) -> bool {
        true
    }
}

fn money(n: i64) -> Value {
    Value::Money(Money {
        amount: Decimal::from(n),
        currency: Currency::new("USD").unwrap_or_else(|| unreachable!()),
    })
}

#[test]
fn building_twice_is_byte_identical_and_verifies() -> TestResult {
    let a = build()?;
    let b = build()?;
    assert_eq!(a, b);
    let bundle = Bundle::decode(&a)?;
    assert_eq!(bundle.flows.len(), 1);
    assert_eq!(bundle.aggregates.len(), 1);
    let Trigger::Event { keep, filter, .. } = &bundle.flows[0].trigger else {
        return Err("event trigger".into());
    };
    assert!(filter.is_some());
    // The exit filter reads checkout_id; the template reads products.
    assert_eq!(
        keep,
        &EventKeep::Fields(vec![
            KeepField::whole("checkout_id"),
            KeepField {
                name: "products".into(),
                sub: Some(vec![KeepField::whole("price")])
            },
        ])
    );
    Ok(())
}

#[test]
fn lowered_flow_runs_on_the_vm() -> TestResult {
    let bundle = Bundle::decode(&build()?)?;
    let vm = Vm::new(&bundle);
    let w = World {
        now: std::cell::Cell::new(0),
    };
    let product = Value::Record(Record::from_fields([("price".to_string(), money(30))]));
    let checkout = Value::Record(Record::from_fields([
        ("checkout_id".to_string(), Value::str("co_1")),
        ("value".to_string(), money(30)),
        ("products".to_string(), Value::List(vec![product])),
    ]));
    let flow = &bundle.flows[0];
    let Trigger::Event { filter, .. } = &flow.trigger else {
        return Err("event trigger".into());
    };
    assert!(vm.event_matches(filter.as_ref(), &[], &checkout, &w)?);
    let (mut j, mut effect) = vm.start(0, Some(&checkout), &w)?;
    let mut effects = vec![];
    loop {
        effects.push(effect.clone());
        let input = match &effect {
            Effect::Exit => break,
            Effect::WaitFor { .. } => {
                let order = Value::Record(Record::from_fields([(
                    "checkout_id".to_string(),
                    Value::str("co_1"),
                )]));
                assert!(vm.wait_for_matches(&j, &order, &w)?);
                // The exit-when filter on the journey's frame agrees.
                let exit = flow.settings.exit_when[0].filter.as_ref();
                assert!(vm.event_matches(exit, &j.locals, &order, &w)?);
                Resume::EventArrived(order)
            }
            _ => Resume::Continue,
        };
        effect = vm.resume(&mut j, input, &w)?;
    }
    assert_eq!(
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Send { .. }))
            .count(),
        2,
        "{effects:?}"
    );
    assert!(effects.contains(&Effect::Track {
        event: "Cart Recovered".into(),
        properties: Record::from_fields([("id".to_string(), Value::str("co_1"))]),
    }));
    println!("journey after lowering: {} bytes", j.encode()?.len());
    let Some(Effect::Send { args, .. }) = effects.get(1) else {
        return Err("second effect is a send".into());
    };
    let Rendered::Email(email) = render(&vm, 0, args, &w)? else {
        return Err("email".into());
    };
    assert_eq!(email.subject, "Ada, you left something behind");
    assert_eq!(email.text, "1 items: $30.00 | {{nudge:unsubscribe_url}}");
    Ok(())
}

#[test]
fn broken_or_unknown_input_is_an_error_not_a_panic() {
    let lower = |file: File| {
        let files = [&file];
        let template_files = BTreeMap::new();
        let policy = Policy::default();
        let shop = ShopSettings::default();
        lower_project(&LowerInput {
            files: &files,
            template_files: &template_files,
            policy: &policy,
            shop: &shop,
        })
        .err()
        .map(|e| e.message)
        .unwrap_or_default()
    };
    let flow = |steps: Vec<Step>| {
        Item::Flow(FlowDecl {
            name: ident("f"),
            settings: vec![setting(FlowSettingKind::Trigger(
                nudge_compiler::ast::Trigger {
                    kind: TriggerKind::Entering(ident("vip")),
                    span: S,
                },
            ))],
            body: block(steps),
            span: S,
        })
    };
    assert!(
        lower(File {
            items: vec![flow(vec![])]
        })
        .contains("unknown segment `vip`")
    );
    let mut p = project();
    p.items.push(flow(vec![step(StepKind::Error)]));
    assert!(lower(p).contains("broken step"));
    let mut p = project();
    p.items.push(flow(vec![send("nope", vec![])]));
    assert!(lower(p).contains("unknown template `nope`"));
    let mut p = project();
    p.items
        .push(flow(vec![step(StepKind::Wait(e(ExprKind::Error)))]));
    assert!(lower(p).contains("erroneous expression"));
}
