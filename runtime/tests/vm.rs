//! The VM on hand-assembled bytecode: every instruction, suspension and
//! resumption, serialization of journeys at every wait, journey sizes.

use nudge_bytecode::assemble::CodeBuilder;
use nudge_bytecode::format::{
    Aggregate, AggregateKind, Bundle, Category, EventKeep, Flow, FlowSettings, KeepField, Policies,
    Reentry, Segment, Trigger,
};
use nudge_bytecode::op::{Builtin, Channel, Code, Lambda, Op, SplitArm, SplitDef};
use nudge_bytecode::template::{PartKind, Template, Text, TextNode};
use nudge_bytecode::{Currency, Money, Record, TimeOfDay, Value};
use nudge_runtime::journey::JourneyState;
use nudge_runtime::vm::{Effect, Env, Resume, Vm, split_bucket};
use rust_decimal::Decimal;
use std::cell::Cell;
use std::collections::BTreeMap;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct World {
    now: Cell<i64>,
    id: String,
    traits: BTreeMap<String, Value>,
    vip: bool,
    orders: i64,
}

impl Env for World {
    fn now(&self) -> i64 {
        self.now.get()
    }
    fn profile_id(&self) -> &str {
        &self.id
    }
    fn profile_trait(&self, name: &str) -> Value {
        self.traits.get(name).cloned().unwrap_or(Value::None)
    }
    fn aggregate(&self, index: u16) -> Value {
        if index == 0 {
            Value::Int(self.orders)
        } else {
            Value::None
        }
    }
    fn in_segment(&self, index: u16) -> bool {
        index == 0 && self.vip
    }
}

fn world(id: &str, vip: bool, sms_consent: bool) -> World {
    World {
        now: Cell::new(1_764_000_000_000),
        id: id.to_string(),
        traits: BTreeMap::from([("sms_consent".to_string(), Value::Bool(sms_consent))]),
        vip,
        orders: 2,
    }
}

fn usd(cents: i64) -> Value {
    Value::Money(Money {
        amount: Decimal::new(cents, 2),
        currency: Currency::new("USD").unwrap_or_else(|| unreachable!()),
    })
}

fn product(name: &str, cents: i64) -> Value {
    Value::Record(Record::from_fields([
        ("name".to_string(), Value::str(name)),
        ("price".to_string(), usd(cents)),
        (
            "image_url".to_string(),
            Value::str("https://cdn.example.com/very/long/path/to/an/image.png"),
        ),
    ]))
}

fn checkout_event() -> Value {
    Value::Record(Record::from_fields([
        ("checkout_id".to_string(), Value::str("co_8f2a91")),
        ("value".to_string(), usd(8_950)),
        ("currency".to_string(), Value::str("USD")),
        (
            "checkout_url".to_string(),
            Value::str("https://shop.example.com/checkouts/co_8f2a91/recover?key=abc"),
        ),
        (
            "products".to_string(),
            Value::List(vec![product("Trail shoe", 7_950), product("Socks", 1_000)]),
        ),
        ("coupon".to_string(), Value::None),
    ]))
}

fn template(name: &str, channel: Channel, params: u16) -> Template {
    Template {
        name: name.into(),
        channel,
        params,
        locals: params,
        parts: vec![(PartKind::Body, Text(vec![TextNode::Lit(name.into())]))],
    }
}

/// ```flow
/// flow abandoned_checkout {
///   when "Checkout Started" as checkout
///   wait 1h
///   send email cart_reminder(checkout)
///   if profile in vip { send email cart_reminder_vip(checkout) }
///   else { split discount_test { 50% control { send email again(checkout) }
///                                 50% ten_off { send email offer(checkout, 10%) } } }
///   wait until 10:00 local
///   if profile.sms_consent { send sms last_call(checkout) }
///   wait for "Order Completed" as o where o.checkout_id == checkout.checkout_id within 2d {
///     track "Cart Recovered" { checkout_id: o.checkout_id, total: o.revenue ?? 0 USD }
///   } timeout {
///     set profile.lost_cart = true
///     webhook post "https://crm.example.com/carts/{{ checkout.checkout_id }}"
///       { big_items: checkout.products.count(p => p.price > 10 USD) }
///   }
///   wait until checkout_time + 7d   // a timestamp expression
/// }
/// ```
fn abandoned_checkout() -> Result<Flow, Box<dyn std::error::Error>> {
    let mut b = CodeBuilder::new();
    let checkout = b.local(); // 0
    let o = b.local(); // 1
    let p = b.local(); // 2 (lambda parameter)
    let hour = b.constant(Value::Duration(3600))?;
    b.emit(Op::Const(hour));
    b.emit(Op::Wait);
    b.emit(Op::LoadLocal(checkout));
    b.emit(Op::Send {
        template: 0,
        argc: 1,
    });
    b.emit(Op::InSegment(0));
    let not_vip = b.label();
    b.emit_to(Op::JumpIfFalse(0), not_vip);
    b.emit(Op::LoadLocal(checkout));
    b.emit(Op::Send {
        template: 1,
        argc: 1,
    });
    let after_if = b.label();
    b.emit_to(Op::Jump(0), after_if);
    b.place(not_vip)?;
    b.emit(Op::Split(0));
    let control = b.pc() as u32;
    b.emit(Op::LoadLocal(checkout));
    b.emit(Op::Send {
        template: 2,
        argc: 1,
    });
    b.emit_to(Op::Jump(0), after_if);
    let ten_off = b.pc() as u32;
    b.emit(Op::LoadLocal(checkout));
    let ten = b.constant(Value::Percent(Decimal::from(10)))?;
    b.emit(Op::Const(ten));
    b.emit(Op::Send {
        template: 3,
        argc: 2,
    });
    b.place(after_if)?;
    b.emit(Op::WaitUntilLocal {
        time: TimeOfDay::new(10, 0).unwrap_or(TimeOfDay(0)),
        weekday: None,
    });
    let consent = b.name("sms_consent")?;
    b.emit(Op::LoadTrait(consent));
    let no_sms = b.label();
    b.emit_to(Op::JumpIfFalse(0), no_sms);
    b.emit(Op::LoadLocal(checkout));
    b.emit(Op::Send {
        template: 4,
        argc: 1,
    });
    b.place(no_sms)?;
    // wait for
    let checkout_id = b.name("checkout_id")?;
    let filter = b.lambda(
        o, // unused parameter slot: filters read the event with LoadEvent
        vec![
            Op::LoadEvent,
            Op::GetField {
                name: checkout_id,
                optional: false,
            },
            Op::LoadLocal(checkout),
            Op::GetField {
                name: checkout_id,
                optional: false,
            },
            Op::Eq,
            Op::Return,
        ],
    )?;
    let two_days = b.constant(Value::Duration(2 * 86_400))?;
    let order_completed = b.name("Order Completed")?;
    b.emit(Op::Const(two_days));
    let timeout = b.label();
    b.emit_to(
        Op::WaitFor {
            event: order_completed,
            filter: Some(filter),
            bind: Some(o),
            timeout: 0,
        },
        timeout,
    );
    // on arrival
    b.emit(Op::LoadLocal(o));
    b.emit(Op::GetField {
        name: checkout_id,
        optional: false,
    });
    b.emit(Op::LoadLocal(o));
    let revenue = b.name("revenue")?;
    b.emit(Op::GetField {
        name: revenue,
        optional: true,
    });
    let have = b.label();
    b.emit_to(Op::JumpIfSome(0), have);
    let zero = b.constant(usd(0))?;
    b.emit(Op::Const(zero));
    b.place(have)?;
    let names = b.constant(Value::List(vec![
        Value::str("checkout_id"),
        Value::str("total"),
    ]))?;
    b.emit(Op::MakeRecord { names });
    let recovered = b.name("Cart Recovered")?;
    b.emit(Op::Track { event: recovered });
    let done = b.label();
    b.emit_to(Op::Jump(0), done);
    // timeout
    b.place(timeout)?;
    let yes = b.constant(Value::Bool(true))?;
    b.emit(Op::Const(yes));
    let lost = b.name("lost_cart")?;
    b.emit(Op::SetTrait { name: lost });
    let url = b.constant(Value::str("https://crm.example.com/carts/"))?;
    b.emit(Op::Const(url));
    b.emit(Op::LoadLocal(checkout));
    b.emit(Op::GetField {
        name: checkout_id,
        optional: false,
    });
    b.emit(Op::Concat(2));
    let products = b.name("products")?;
    let price = b.name("price")?;
    let ten_usd = b.constant(usd(1_000))?;
    let big = b.lambda(
        p,
        vec![
            Op::LoadLocal(p),
            Op::GetField {
                name: price,
                optional: false,
            },
            Op::Const(ten_usd),
            Op::Gt,
            Op::Return,
        ],
    )?;
    b.emit(Op::LoadLocal(checkout));
    b.emit(Op::GetField {
        name: products,
        optional: false,
    });
    b.emit(Op::ListCount(Some(big)));
    let body_names = b.constant(Value::List(vec![Value::str("big_items")]))?;
    b.emit(Op::MakeRecord { names: body_names });
    let post = b.name("post")?;
    b.emit(Op::Webhook { method: post });
    b.place(done)?;
    b.emit(Op::LoadNow);
    let week = b.constant(Value::Duration(7 * 86_400))?;
    b.emit(Op::Const(week));
    b.emit(Op::Add);
    b.emit(Op::WaitUntil);
    b.emit(Op::Exit);
    let code = b.finish()?;
    let mut flow = Flow {
        name: "abandoned_checkout".into(),
        version: [0; 32],
        trigger: Trigger::Event {
            event: "Checkout Started".into(),
            filter: None,
            keep: EventKeep::Fields(vec![
                KeepField::whole("checkout_id"),
                KeepField::whole("products"),
            ]),
        },
        settings: FlowSettings {
            category: Category::Marketing,
            priority: 0,
            reentry: Reentry::AfterExit,
            exit_when: vec![],
            goal: None,
            holdout_bp: 0,
        },
        splits: vec![SplitDef {
            name: "discount_test".into(),
            arms: vec![
                SplitArm {
                    name: "control".into(),
                    weight_bp: 5000,
                    target: control,
                },
                SplitArm {
                    name: "ten_off".into(),
                    weight_bp: 5000,
                    target: ten_off,
                },
            ],
        }],
        code,
    };
    flow.version = flow.compute_version();
    Ok(flow)
}

fn bundle() -> Result<Bundle, Box<dyn std::error::Error>> {
    let b = Bundle {
        shop: Record::from_fields([("name".to_string(), Value::str("Trail Co"))]),
        policies: Policies::default(),
        flows: vec![abandoned_checkout()?],
        templates: vec![
            template("cart_reminder", Channel::Email, 1),
            template("cart_reminder_vip", Channel::Email, 1),
            template("again", Channel::Email, 1),
            template("offer", Channel::Email, 2),
            template("last_call", Channel::Sms, 1),
        ],
        segments: vec![Segment {
            name: "vip".into(),
            condition: Code {
                ops: vec![Op::LoadAggregate(0), Op::Return],
                consts: vec![],
                locals: 0,
                lambdas: vec![],
            },
            aggregates: vec![0],
            traits: vec![],
            segments: vec![],
        }],
        aggregates: vec![Aggregate {
            kind: AggregateKind::Count,
            event: "Order Completed".into(),
            field: vec![],
            window_secs: None,
        }],
        schema: Default::default(),
    };
    // Through the real encoder, decoder and verifier.
    Ok(Bundle::decode(&b.encode()?)?)
}

/// How the scripted world answers a `wait for`.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Arrives,
    WrongOrderThenTimeout,
}

/// Drives a journey to its end; with `reload`, the journey is encoded and
/// decoded after every effect (as a store would). Returns effects and the
/// encoded sizes seen at each suspension.
fn drive(
    vm: &Vm,
    w: &World,
    outcome: Outcome,
    reload: bool,
) -> Result<(Vec<Effect>, Vec<usize>), Box<dyn std::error::Error>> {
    let (mut state, mut effect) = vm.start(0, Some(&checkout_event()), w)?;
    let mut effects = vec![];
    let mut sizes = vec![];
    loop {
        effects.push(effect.clone());
        let encoded = state.encode()?;
        sizes.push(encoded.len());
        if reload {
            state = JourneyState::decode(&encoded)?;
        }
        let input = match &effect {
            Effect::Exit => break,
            Effect::WaitUntil { at } => {
                w.now.set(*at);
                Resume::Continue
            }
            Effect::WaitUntilLocal { .. } => {
                w.now.set(w.now.get() + 5 * 3_600_000);
                Resume::Continue
            }
            Effect::WaitFor { event, deadline } => {
                assert_eq!(vm.waiting_for(&state), Some(event.as_str()));
                let order = |id: &str| {
                    Value::Record(Record::from_fields([
                        ("checkout_id".to_string(), Value::str(id)),
                        ("revenue".to_string(), usd(8_950)),
                    ]))
                };
                match outcome {
                    Outcome::Arrives => {
                        w.now.set(w.now.get() + 60_000);
                        let o = order("co_8f2a91");
                        assert!(vm.wait_for_matches(&state, &o, w)?);
                        Resume::EventArrived(o)
                    }
                    Outcome::WrongOrderThenTimeout => {
                        assert!(!vm.wait_for_matches(&state, &order("co_other"), w)?);
                        w.now.set(*deadline);
                        Resume::TimedOut
                    }
                }
            }
            _ => Resume::Continue,
        };
        effect = vm.resume(&mut state, input, w)?;
    }
    Ok((effects, sizes))
}

#[test]
fn runs_every_step_kind_and_arrival_path() -> TestResult {
    let bundle = bundle()?;
    let vm = Vm::new(&bundle);
    let w = world("user_1", true, true);
    let start = w.now.get();
    let (effects, _) = drive(&vm, &w, Outcome::Arrives, false)?;
    let kept = Value::Record(Record::from_fields([
        ("checkout_id".to_string(), Value::str("co_8f2a91")),
        (
            "products".to_string(),
            Value::List(vec![product("Trail shoe", 7_950), product("Socks", 1_000)]),
        ),
    ]));
    let expected = vec![
        Effect::WaitUntil {
            at: start + 3_600_000,
        },
        Effect::Send {
            template: 0,
            channel: Channel::Email,
            args: vec![kept.clone()],
        },
        Effect::Send {
            template: 1,
            channel: Channel::Email,
            args: vec![kept.clone()],
        },
        Effect::WaitUntilLocal {
            time: TimeOfDay(36_000),
            weekday: None,
        },
        Effect::Send {
            template: 4,
            channel: Channel::Sms,
            args: vec![kept],
        },
        Effect::WaitFor {
            event: "Order Completed".into(),
            deadline: start + 6 * 3_600_000 + 2 * 86_400_000,
        },
        Effect::Track {
            event: "Cart Recovered".into(),
            properties: Record::from_fields([
                ("checkout_id".to_string(), Value::str("co_8f2a91")),
                ("total".to_string(), usd(8_950)),
            ]),
        },
        Effect::WaitUntil {
            at: start + 6 * 3_600_000 + 60_000 + 7 * 86_400_000,
        },
        Effect::Exit,
    ];
    assert_eq!(effects, expected);
    Ok(())
}

#[test]
fn timeout_path_splits_and_skips_sms_without_consent() -> TestResult {
    let bundle = bundle()?;
    let vm = Vm::new(&bundle);
    let w = world("user_2", false, false);
    let (effects, _) = drive(&vm, &w, Outcome::WrongOrderThenTimeout, false)?;
    let variant = effects.iter().find_map(|e| match e {
        Effect::SplitAssigned { split, variant } if split == "discount_test" => {
            Some(variant.clone())
        }
        _ => None,
    });
    let expected_variant = if split_bucket("user_2", "abandoned_checkout", "discount_test") < 5000 {
        "control"
    } else {
        "ten_off"
    };
    assert_eq!(variant.as_deref(), Some(expected_variant));
    let sends: Vec<u16> = effects
        .iter()
        .filter_map(|e| {
            if let Effect::Send { template, .. } = e {
                Some(*template)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        sends,
        vec![0, if expected_variant == "control" { 2 } else { 3 }],
        "no SMS without consent"
    );
    assert!(effects.contains(&Effect::SetTrait {
        name: "lost_cart".into(),
        value: Value::Bool(true)
    }));
    assert!(effects.contains(&Effect::Webhook {
        method: "post".into(),
        url: "https://crm.example.com/carts/co_8f2a91".into(),
        body: Value::Record(Record::from_fields([(
            "big_items".to_string(),
            Value::Int(1)
        )])),
    }));
    assert_eq!(effects.last(), Some(&Effect::Exit));
    Ok(())
}

#[test]
fn suspend_serialize_resume_at_every_wait_gives_the_same_effects() -> TestResult {
    let bundle = bundle()?;
    let vm = Vm::new(&bundle);
    for id in ["a", "b", "c", "d", "e", "f"] {
        for (vip, consent) in [(true, true), (false, true), (false, false)] {
            for outcome in [Outcome::Arrives, Outcome::WrongOrderThenTimeout] {
                let direct = drive(&vm, &world(id, vip, consent), outcome, false)?.0;
                let reloaded = drive(&vm, &world(id, vip, consent), outcome, true)?.0;
                assert_eq!(direct, reloaded);
            }
        }
    }
    Ok(())
}

#[test]
fn journeys_are_small() -> TestResult {
    let bundle = bundle()?;
    let vm = Vm::new(&bundle);
    let (_, sizes) = drive(&vm, &world("user_1", false, true), Outcome::Arrives, false)?;
    let max = sizes.iter().copied().max().unwrap_or(0);
    println!("journey sizes at each suspension (bytes): {sizes:?}");
    assert!(max < 512, "largest journey {max} bytes");
    Ok(())
}

#[test]
fn split_assignment_is_stable_and_matches_weights() {
    let split = SplitDef {
        name: "t".into(),
        arms: vec![
            SplitArm {
                name: "a".into(),
                weight_bp: 3000,
                target: 0,
            },
            SplitArm {
                name: "b".into(),
                weight_bp: 7000,
                target: 0,
            },
        ],
    };
    let mut counts = [0u32; 2];
    for i in 0..100_000 {
        let id = format!("profile_{i}");
        let arm = nudge_runtime::vm::split_arm(&id, "flow", &split).unwrap_or(9);
        assert_eq!(Some(arm), nudge_runtime::vm::split_arm(&id, "flow", &split));
        if let Some(c) = counts.get_mut(arm) {
            *c += 1;
        }
    }
    let share_a = f64::from(counts[0]) / 100_000.0;
    assert!((share_a - 0.30).abs() < 0.01, "share of a: {share_a}");
}

fn eval(code: Code, w: &World) -> Result<Value, Box<dyn std::error::Error>> {
    let bundle = bundle()?;
    let vm = Vm::new(&bundle);
    let mut frame = vec![checkout_event()];
    Ok(vm.eval(&code, &mut frame, None, w)?)
}

#[test]
fn expressions_lists_builtins_and_errors() -> TestResult {
    let w = world("u", false, false);
    let products = Value::str("products");
    let price = Value::str("price");
    let name = Value::str("name");
    // locals: 0 = checkout, 1 = p
    let code = |ops: Vec<Op>, lambdas: Vec<Lambda>| Code {
        ops,
        consts: vec![
            products.clone(),
            price.clone(),
            usd(5_000),
            name.clone(),
            Value::Date(
                nudge_bytecode::Date::new(2000, 1, 1).unwrap_or(nudge_bytecode::Date {
                    year: 2000,
                    month: 1,
                    day: 1,
                }),
            ),
            Value::Int(3),
            Value::Int(0),
        ],
        locals: 2,
        lambdas,
    };
    let price_of = Lambda {
        param: 1,
        ops: vec![
            Op::LoadLocal(1),
            Op::GetField {
                name: 1,
                optional: false,
            },
            Op::Return,
        ],
    };
    let pricey = Lambda {
        param: 1,
        ops: vec![
            Op::LoadLocal(1),
            Op::GetField {
                name: 1,
                optional: false,
            },
            Op::Const(2),
            Op::Gt,
            Op::Return,
        ],
    };
    let load = [
        Op::LoadLocal(0),
        Op::GetField {
            name: 0,
            optional: false,
        },
    ];
    let with = |tail: Vec<Op>| load.iter().cloned().chain(tail).collect::<Vec<_>>();

    assert_eq!(
        eval(
            code(
                with(vec![Op::ListSum(Some(0)), Op::Return]),
                vec![price_of.clone()]
            ),
            &w
        )?,
        usd(8_950)
    );
    assert_eq!(
        eval(
            code(
                with(vec![Op::ListAny(1), Op::Return]),
                vec![price_of.clone(), pricey.clone()]
            ),
            &w
        )?,
        Value::Bool(true)
    );
    assert_eq!(
        eval(
            code(
                with(vec![Op::ListAll(1), Op::Return]),
                vec![price_of.clone(), pricey.clone()]
            ),
            &w
        )?,
        Value::Bool(false)
    );
    assert_eq!(
        eval(
            code(with(vec![Op::ListCount(None), Op::Return]), vec![]),
            &w
        )?,
        Value::Int(2)
    );
    let first = eval(
        code(
            with(vec![
                Op::ListFirst(Some(1)),
                Op::GetField {
                    name: 3,
                    optional: true,
                },
                Op::Return,
            ]),
            vec![price_of.clone(), pricey.clone()],
        ),
        &w,
    )?;
    assert_eq!(first, Value::str("Trail shoe"));
    let mapped = eval(
        code(
            with(vec![Op::ListMap(0), Op::Return]),
            vec![price_of.clone()],
        ),
        &w,
    )?;
    assert_eq!(mapped, Value::List(vec![usd(7_950), usd(1_000)]));
    assert_eq!(
        eval(
            code(
                with(vec![
                    Op::ListFirst(None),
                    Op::Pop,
                    Op::Const(5),
                    Op::Const(5),
                    Op::Mul,
                    Op::Neg,
                    Op::Return
                ]),
                vec![]
            ),
            &w
        )?,
        Value::Int(-9)
    );
    let age = eval(
        code(
            vec![Op::Const(4), Op::Call(Builtin::Age), Op::Return],
            vec![],
        ),
        &w,
    )?;
    assert_eq!(age, Value::Int(25));
    let days = eval(
        code(
            vec![Op::LoadNow, Op::Call(Builtin::DaysSince), Op::Return],
            vec![],
        ),
        &w,
    )?;
    assert_eq!(days, Value::Int(0));
    assert_eq!(
        eval(
            code(
                vec![
                    Op::LoadAggregate(0),
                    Op::Const(5),
                    Op::Lt,
                    Op::Not,
                    Op::Return
                ],
                vec![]
            ),
            &w
        )?,
        Value::Bool(false)
    );
    assert_eq!(
        eval(
            code(
                vec![
                    Op::Const(5),
                    Op::Const(5),
                    Op::Const(6),
                    Op::MakeList(2),
                    Op::In,
                    Op::Return
                ],
                vec![]
            ),
            &w
        )?,
        Value::Bool(true)
    );
    assert_eq!(
        eval(
            code(
                vec![
                    Op::Const(5),
                    Op::Dup,
                    Op::Eq,
                    Op::JumpIfTrue(6),
                    Op::Const(6),
                    Op::Return,
                    Op::Const(5),
                    Op::Return
                ],
                vec![]
            ),
            &w
        )?,
        Value::Int(3)
    );
    let shop = eval(
        code(
            vec![
                Op::LoadShop,
                Op::GetField {
                    name: 3,
                    optional: false,
                },
                Op::Return,
            ],
            vec![],
        ),
        &w,
    )?;
    assert_eq!(shop, Value::str("Trail Co"));
    let err = eval(
        code(
            vec![Op::Const(5), Op::Const(6), Op::Div, Op::Return],
            vec![],
        ),
        &w,
    );
    assert!(err.is_err_and(|e| e.to_string().contains("division by zero")));
    Ok(())
}

/// Re-frames a mutated body with a valid header so it reaches the verifier.
fn with_header(body: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::new();
    out.extend_from_slice(&nudge_bytecode::format::MAGIC);
    out.extend_from_slice(&nudge_bytecode::format::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&Sha256::digest(body));
    out.extend_from_slice(body);
    out
}

proptest::proptest! {
    /// Whatever survives decoding and verification runs without panicking,
    /// and a corrupted journey is refused or run, never a panic.
    #[test]
    fn mutated_bundles_and_journeys_never_panic(
        edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..4),
        journey_edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..4),
    ) {
        let Ok(bundle) = bundle() else { return Ok(()) };
        let Ok(bytes) = bundle.encode() else { return Ok(()) };
        let mut body = bytes.get(42..).unwrap_or_default().to_vec();
        for (at, byte) in &edits {
            let len = body.len().max(1);
            if let Some(b) = body.get_mut(at % len) {
                *b = *byte;
            }
        }
        let _ = Bundle::decode(&with_header(&body));
        // Mutated code would fail the flow version check; re-version it so
        // the verifier itself decides what may run.
        let candidate = match postcard::from_bytes::<Bundle>(&body) {
            Ok(mut b) => {
                for f in &mut b.flows {
                    f.version = f.compute_version();
                }
                if nudge_bytecode::verify::verify_bundle(&b).is_ok() { b } else { bundle }
            }
            Err(_) => bundle,
        };
        let vm = Vm::new(&candidate);
        let w = world("fuzz", false, true);
        for flow in 0..candidate.flows.len() {
            let Ok((mut state, mut effect)) = vm.start(flow, Some(&checkout_event()), &w) else { continue };
            if let Ok(encoded) = state.encode() {
                let mut encoded = encoded;
                for (at, byte) in &journey_edits {
                    let len = encoded.len().max(1);
                    if let Some(b) = encoded.get_mut(at % len) {
                        *b = *byte;
                    }
                }
                if let Ok(s) = JourneyState::decode(&encoded) {
                    state = s;
                }
            }
            for _ in 0..20 {
                let input = match &effect {
                    Effect::Exit => break,
                    Effect::WaitFor { .. } => Resume::TimedOut,
                    _ => Resume::Continue,
                };
                match vm.resume(&mut state, input, &w) {
                    Ok(e) => effect = e,
                    Err(_) => break,
                }
            }
        }
    }
}

/// Size of a journey holding a whole, realistic Segment "Order Completed"
/// event (the worst case: a flow that passes the event on bare to a
/// template whose fields lowering cannot see).
#[test]
fn journey_with_a_whole_order_event() -> TestResult {
    let product = |i: i64| {
        Value::Record(Record::from_fields([
            (
                "product_id".to_string(),
                Value::str(format!("507f1f77bcf86cd79943901{i}")),
            ),
            ("sku".to_string(), Value::str(format!("45790-3{i}"))),
            ("category".to_string(), Value::str("Shoes")),
            ("name".to_string(), Value::str("Trail running shoe")),
            ("brand".to_string(), Value::str("Peak")),
            ("price".to_string(), usd(7_950)),
            ("quantity".to_string(), Value::Int(1)),
            (
                "url".to_string(),
                Value::str(format!("https://shop.example.com/products/trail-{i}")),
            ),
            (
                "image_url".to_string(),
                Value::str(format!("https://cdn.example.com/p/trail-{i}.jpg")),
            ),
        ]))
    };
    let sizes: Vec<(usize, usize, usize)> = [1i64, 2, 3, 5]
        .into_iter()
        .map(|n| {
            let order = Value::Record(Record::from_fields([
                (
                    "order_id".to_string(),
                    Value::str("50314b8e9bcf000000000000"),
                ),
                ("total".to_string(), usd(27_50 * n)),
                ("revenue".to_string(), usd(25_00 * n)),
                ("shipping".to_string(), usd(300)),
                ("tax".to_string(), usd(200)),
                ("currency".to_string(), Value::str("USD")),
                (
                    "products".to_string(),
                    Value::List((0..n).map(product).collect()),
                ),
            ]));
            let size = |v: Value| {
                let state = JourneyState {
                    flow_version: [7; 32],
                    pc: 12,
                    locals: vec![v, Value::None, Value::None],
                };
                state.encode().map(|b| b.len()).unwrap_or(usize::MAX)
            };
            // What lowering keeps for a post-purchase email that lists each
            // product's name and price.
            let keep = [
                KeepField::whole("order_id"),
                KeepField {
                    name: "products".into(),
                    sub: Some(vec![KeepField::whole("name"), KeepField::whole("price")]),
                },
            ];
            let projected = nudge_runtime::vm::project(&order, &keep);
            if n == 1 {
                let Value::Record(r) = &projected else {
                    unreachable!()
                };
                assert_eq!(r.len(), 2);
                let Some(Value::List(ps)) = r.get("products") else {
                    unreachable!()
                };
                assert!(ps.iter().all(|p| {
                    p.as_record()
                        .is_some_and(|p| p.len() == 2 && p.get("name").is_some())
                }));
            }
            (n as usize, size(order), size(projected))
        })
        .collect();
    println!("Order Completed journeys (products, whole bytes, projected bytes): {sizes:?}");
    // One product stays under the target even unprojected; projected, five do.
    assert!(sizes.first().is_some_and(|(_, whole, _)| *whole < 512));
    assert!(sizes.iter().all(|(_, _, projected)| *projected < 512));
    Ok(())
}

/// `get_field name` (not `?.`).
fn get(name: u16) -> Op {
    Op::GetField {
        name,
        optional: false,
    }
}

/// Expression code of `ops` over `consts`, with `locals` local slots.
fn expr(ops: Vec<Op>, consts: Vec<Value>, locals: u16) -> Code {
    Code {
        ops,
        consts,
        locals,
        lambdas: vec![],
    }
}

/// The `where` shapes `event_matches` answers without the interpreter
/// (`event.f ==/!= const`, `event.f ==/!= local.g`) give what the
/// interpreter gives, for values of every kind `==` compares differently
/// (numbers across int and decimal, money, records, lists, none, a missing
/// field, a field of a local that is `none` or not a record, a local past
/// the frame).
#[test]
fn simple_where_filters_agree_with_the_interpreter() -> TestResult {
    let bundle = bundle()?;
    let vm = Vm::new(&bundle);
    let w = world("user_1", false, true);
    let values = [
        Value::None,
        Value::Bool(true),
        Value::Int(20),
        Value::Decimal(Decimal::new(200, 1)),
        Value::Decimal(Decimal::new(205, 1)),
        Value::str("co_1"),
        Value::str("co_2"),
        usd(2000),
        Value::List(vec![Value::Int(1)]),
        Value::List(vec![Value::Decimal(Decimal::new(10, 1))]),
        product("Tent", 100),
    ];
    let event_with = |v: &Value| {
        Value::Record(Record::from_fields([
            ("other".to_string(), Value::Int(1)),
            ("x".to_string(), v.clone()),
        ]))
    };
    let mut events: Vec<Value> = values.iter().map(event_with).collect();
    events.push(Value::Record(Record::from_fields([(
        "other".to_string(),
        Value::Int(1),
    )])));
    let mut checked = 0;
    for eq in [Op::Eq, Op::Ne] {
        for c in &values {
            let code = expr(
                vec![Op::LoadEvent, get(0), Op::Const(1), eq.clone(), Op::Return],
                vec![Value::str("x"), c.clone()],
                0,
            );
            for e in &events {
                let fast = vm.event_matches(Some(&code), &[], e, &w)?;
                let slow = vm.eval(&code, &mut Vec::new(), Some(e), &w)?;
                assert_eq!(Value::Bool(fast), slow, "{code:?} on {e:?}");
                checked += 1;
            }
        }
        // `event.x ==/!= local0.y`, the local a record, `none`, a text, or
        // past the locals given (then `none` while the code has it).
        let mut locals: Vec<Vec<Value>> = values
            .iter()
            .map(|v| {
                vec![Value::Record(Record::from_fields([(
                    "y".to_string(),
                    v.clone(),
                )]))]
            })
            .collect();
        locals.push(vec![Value::None]);
        locals.push(vec![Value::str("not a record")]);
        locals.push(vec![]);
        let code = expr(
            vec![
                Op::LoadEvent,
                get(0),
                Op::LoadLocal(0),
                get(1),
                eq.clone(),
                Op::Return,
            ],
            vec![Value::str("x"), Value::str("y")],
            1,
        );
        for l in &locals {
            for e in &events {
                let fast = vm.event_matches(Some(&code), l, e, &w);
                let slow = vm.eval(&code, &mut l.clone(), Some(e), &w);
                match (fast, slow) {
                    (Ok(f), Ok(s)) => assert_eq!(Value::Bool(f), s, "{l:?} on {e:?}"),
                    (Err(f), Err(s)) => assert_eq!(f.to_string(), s.to_string()),
                    (f, s) => {
                        return Err(format!("{l:?} on {e:?}: {f:?} against {s:?}").into());
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 400);
    Ok(())
}

/// The hole shapes `simple_eval` answers without the interpreter give
/// what the interpreter gives: constants, locals (one the frame lacks but
/// the code has is `none`), fields of locals and of the shop, and `??`
/// defaults over a trait or a local's field, for values of every kind;
/// where the interpreter fails (a field of a text, a local the code does
/// not have), `simple_eval` leaves the code to it.
#[test]
fn simple_holes_agree_with_the_interpreter() -> TestResult {
    let bundle = bundle()?;
    let vm = Vm::new(&bundle);
    let values = [
        Value::None,
        Value::Bool(false),
        Value::Int(0),
        Value::str(""),
        Value::str("Maya"),
        usd(2000),
        Value::List(vec![]),
        product("Tent", 100),
    ];
    let codes = [
        vec![Op::Const(1), Op::Return],
        vec![Op::LoadLocal(0), Op::Return],
        vec![Op::LoadLocal(1), Op::Return],
        vec![Op::LoadLocal(0), get(0), Op::Return],
        vec![Op::LoadShop, get(0), Op::Return],
        vec![Op::LoadShop, get(2), Op::Return],
        vec![
            Op::LoadTrait(0),
            Op::JumpIfSome(3),
            Op::Const(1),
            Op::Return,
        ],
        vec![
            Op::LoadLocal(0),
            get(0),
            Op::JumpIfSome(4),
            Op::Const(1),
            Op::Return,
        ],
    ];
    let mut answered = 0;
    for ops in &codes {
        for locals in [1u16, 2] {
            let code = expr(
                ops.clone(),
                vec![Value::str("name"), Value::str("friend"), Value::str("nope")],
                locals,
            );
            for v in &values {
                let record = Value::Record(Record::from_fields([("name".to_string(), v.clone())]));
                for local in [v.clone(), record] {
                    let mut w = world("user_1", false, true);
                    w.traits.insert("name".to_string(), v.clone());
                    let frame = vec![local];
                    let fast = vm.simple_eval(&code, &frame, &w);
                    let slow = vm.eval(&code, &mut frame.clone(), None, &w);
                    match (fast, slow) {
                        (Some(f), Ok(s)) => {
                            assert_eq!(f, s, "{ops:?} over {frame:?}");
                            answered += 1;
                        }
                        (None, _) => {}
                        (Some(f), Err(e)) => {
                            return Err(format!("{ops:?} over {frame:?}: {f:?}, but {e}").into());
                        }
                    }
                }
            }
        }
    }
    // Every shape is answered for well-formed frames.
    assert!(answered > 200, "{answered}");
    Ok(())
}
