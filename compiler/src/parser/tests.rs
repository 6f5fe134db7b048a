//! Parser unit tests: every construct of the language to its tree shape,
//! operator precedence, spans, and recovery (one diagnostic per mistake,
//! everything after it still parsed).

#![allow(clippy::panic)] // `panic!` is how a test says what shape it expected.

use super::*;
use crate::ast::*;

const TASTE: &str = r#"// flows/abandoned_checkout.flow

segment vip "Spent 500 USD or more in the last year" =
  sum("Order Completed".revenue, within: 365d) >= 500 USD

flow abandoned_checkout {
  description "Bring back shoppers who started checkout and did not order"
  category marketing
  when "Checkout Started" as checkout where checkout.value >= 20 USD
  reentry once per 7d
  exit when "Order Completed" where it.checkout_id == checkout.checkout_id
  goal "Order Completed" within 5d

  wait 1h
  send email cart_reminder(checkout)

  wait 1d
  if profile in vip {
    send email cart_reminder_vip(checkout)
  } else {
    split discount_test {
      50% control { send email cart_reminder_again(checkout) }
      50% ten_off { send email cart_offer(checkout, 10%) }
    }
  }

  wait until 10:00 local
  if profile.sms_consent {
    send sms last_call(checkout)
  }
}

template email cart_reminder(c: "Checkout Started") {
  subject "{{ profile.first_name ?? "Hi" }}, you left something behind"
  preheader "Your cart is saved for 48 hours"
  html file "templates/cart_reminder.html"
  text """
    You left {{ c.products | count }} items in your cart.
    {% for p in c.products %}- {{ p.name }} ({{ p.price | money }})
    {% endfor %}
    Finish your order: {{ c.checkout_url ?? shop.url }}
    Unsubscribe: {{ unsubscribe_url }}
  """
}

template sms last_call(c: "Checkout Started") {
  body "{{ shop.name }}: your cart expires tonight {{ c.checkout_url ?? shop.url | short_link }} Reply STOP to opt out"
}
"#;

fn parse(src: &str) -> Parsed {
    parse_file(src, FileId(0))
}

#[track_caller]
fn ok(src: &str) -> File {
    let p = parse(src);
    assert!(
        p.diagnostics.is_empty(),
        "unexpected diagnostics: {:#?}",
        p.diagnostics
    );
    p.file
}

fn codes(src: &str) -> Vec<&'static str> {
    parse(src)
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

/// A compact rendering of an expression for precedence tests.
fn show(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Lit(l) => match l {
            Lit::Bool(b) => b.to_string(),
            Lit::Int(i) => i.to_string(),
            Lit::Decimal(d) => d.to_string(),
            Lit::Money { amount, currency } => format!("{amount}{currency}"),
            Lit::Percent(p) => format!("{p}%"),
            Lit::Duration(s) => format!("{s}s"),
            Lit::Time { hour, minute } => format!("{hour:02}:{minute:02}"),
            Lit::Date { year, month, day } => format!("{year}-{month}-{day}"),
            Lit::None => "none".into(),
        },
        ExprKind::Str(t) => format!("{:?}", t.as_plain().unwrap_or_else(|| "<text>".into())),
        ExprKind::Name(i) => i.name.clone(),
        ExprKind::Field { base, field } => format!("{}.{}", show(base), field.name),
        ExprKind::OptionalField { base, field } => format!("{}?.{}", show(base), field.name),
        ExprKind::Call { callee, args } => format!("{}({})", callee.name, show_args(args)),
        ExprKind::Method {
            receiver,
            method,
            args,
        } => format!("{}.{}({})", show(receiver), method.name, show_args(args)),
        ExprKind::Lambda { param, body } => format!("({} => {})", param.name, show(body)),
        ExprKind::Unary { op, operand } => match op {
            UnaryOp::Not => format!("(not {})", show(operand)),
            UnaryOp::Neg => format!("(-{})", show(operand)),
        },
        ExprKind::Binary { op, lhs, rhs, .. } => {
            format!("({} {} {})", show(lhs), op.as_str(), show(rhs))
        }
        ExprKind::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Record(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name.value, show(&f.value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::EventField { event, field } => format!("{:?}.{}", event.value, field.name),
        ExprKind::Paren(e) => format!("[{}]", show(e)),
        ExprKind::Error => "<error>".into(),
    }
}

fn show_args(args: &[Arg]) -> String {
    args.iter()
        .map(|a| match &a.name {
            Some(n) => format!("{}: {}", n.name, show(&a.value)),
            None => show(&a.value),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `src` as a segment condition.
#[track_caller]
fn expr(src: &str) -> String {
    let f = ok(&format!("segment s = {src}"));
    match f.items.first() {
        Some(Item::Segment(s)) => show(&s.condition),
        other => panic!("not a segment: {other:?}"),
    }
}

#[track_caller]
fn flow_of(src: &str) -> FlowDecl {
    match ok(src).items.into_iter().next() {
        Some(Item::Flow(f)) => f,
        other => panic!("not a flow: {other:?}"),
    }
}

#[track_caller]
fn steps(body: &str) -> Vec<StepKind> {
    flow_of(&format!("flow f {{\n{body}\n}}"))
        .body
        .steps
        .into_iter()
        .map(|s| s.kind)
        .collect()
}

#[test]
fn taste_example_parses_without_diagnostics() {
    let f = ok(TASTE);
    let kinds: Vec<&str> = f
        .items
        .iter()
        .map(|i| match i {
            Item::Segment(_) => "segment",
            Item::Flow(_) => "flow",
            Item::Template(_) => "template",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["segment", "flow", "template", "template"]);
    let Some(Item::Flow(flow)) = f.items.get(1) else {
        panic!("no flow")
    };
    assert_eq!(flow.settings.len(), 6);
    assert_eq!(flow.body.steps.len(), 6);
    let Some(Item::Segment(vip)) = f.items.first() else {
        panic!("no segment")
    };
    assert_eq!(
        show(&vip.condition),
        r#"(sum("Order Completed".revenue, within: 2592000s) >= 500USD)"#
            .replace("2592000s", &format!("{}s", 365 * 86_400))
    );
}

#[test]
fn taste_example_snapshot() {
    insta::assert_debug_snapshot!(ok(TASTE));
}

#[test]
fn precedence() {
    assert_eq!(expr("a or b and c"), "(a or (b and c))");
    assert_eq!(expr("not a and b"), "((not a) and b)");
    assert_eq!(expr("not a == b"), "(not (a == b))");
    assert_eq!(expr("a == b ?? c"), "(a == (b ?? c))");
    assert_eq!(expr("a ?? b + c"), "(a ?? (b + c))");
    assert_eq!(expr("a ?? b ?? c"), "(a ?? (b ?? c))");
    assert_eq!(expr("a + b * c - d"), "((a + (b * c)) - d)");
    assert_eq!(expr("-a * b"), "((-a) * b)");
    assert_eq!(expr("-a.b"), "(-a.b)");
    assert_eq!(expr("x in [1, 2] and y"), "((x in [1, 2]) and y)");
    assert_eq!(expr("profile in vip"), "(profile in vip)");
    assert_eq!(expr("a?.b.c(d)?.e"), "a?.b.c(d)?.e");
    assert_eq!(expr("(a or b) and c"), "([(a or b)] and c)");
    assert_eq!(expr("a < b"), "(a < b)");
    assert_eq!(
        expr("a <= b or a >= b or a != b or a > b"),
        "((((a <= b) or (a >= b)) or (a != b)) or (a > b))"
    );
    assert_eq!(expr("a / b / c"), "((a / b) / c)");
}

#[test]
fn literals() {
    assert_eq!(expr("20 USD"), "20USD");
    assert_eq!(expr("9.99 EUR"), "9.99EUR");
    assert_eq!(expr("10%"), "10%");
    assert_eq!(expr("1h30m"), "5400s");
    assert_eq!(expr("10:00"), "10:00");
    assert_eq!(expr("2026-12-24"), "2026-12-24");
    assert_eq!(expr("none"), "none");
    assert_eq!(expr("true or false"), "(true or false)");
    assert_eq!(expr("\"x\""), "\"x\"");
    // Not a currency: lower case, or on the next line.
    assert_eq!(expr("20 == usd"), "(20 == usd)");
}

#[test]
fn calls_lambdas_records() {
    assert_eq!(
        expr("c.products.any(p => p.category == \"shoes\")"),
        "c.products.any((p => (p.category == \"shoes\")))"
    );
    assert_eq!(
        expr("count(\"E\", within: 90d)"),
        format!("count(\"E\", within: {}s)", 90 * 86_400)
    );
    assert_eq!(expr("last(\"E\")?.field"), "last(\"E\")?.field");
    assert_eq!(expr("c.products.first()"), "c.products.first()");
    assert_eq!(expr("days_since(ts) > 3"), "(days_since(ts) > 3)");
    assert_eq!(expr("{ a: 1, \"b-c\": x }"), "{a: 1, b-c: x}");
    assert_eq!(expr("[]"), "[]");
    assert_eq!(
        expr("\"Order Completed\".revenue"),
        "\"Order Completed\".revenue"
    );
}

#[test]
fn expression_spans() {
    let f = ok("segment s = a + b * 2");
    let Some(Item::Segment(s)) = f.items.first() else {
        panic!()
    };
    assert_eq!(s.condition.span, Span::new(12, 21));
    let ExprKind::Binary { op_span, rhs, .. } = &s.condition.kind else {
        panic!()
    };
    assert_eq!(*op_span, Span::new(14, 15));
    assert_eq!(rhs.span, Span::new(16, 21));
    assert_eq!(s.span, Span::new(0, 21));
}

#[test]
fn declarations() {
    let f = ok(r#"
/// An order.
event "Order Completed" {
  /// The order id.
  /// Unique per shop.
  order_id: string
  revenue: money?, products: list<Product>
}
extend event "Checkout Started" { gift: bool? }
type Product { product_id: string  price: money }
extend type Product { color: string? }
profile {
  tier: "bronze" | "silver" | "gold"
  points: int
  last: "Order Completed"?
}
"#);
    let Some(Item::Event(e)) = f.items.first() else {
        panic!()
    };
    assert!(!e.extend);
    assert_eq!(e.doc.as_deref(), Some("An order."));
    assert_eq!(e.name.value, "Order Completed");
    assert_eq!(e.fields.len(), 3);
    assert_eq!(
        e.fields[0].doc.as_deref(),
        Some("The order id.\nUnique per shop.")
    );
    assert!(matches!(e.fields[1].ty.kind, TypeExprKind::Optional(_)));
    let TypeExprKind::List(inner) = &e.fields[2].ty.kind else {
        panic!()
    };
    assert!(matches!(&inner.kind, TypeExprKind::Named(n) if n.name == "Product"));
    assert!(matches!(&f.items[1], Item::Event(e) if e.extend));
    assert!(matches!(&f.items[2], Item::Type(t) if !t.extend && t.fields.len() == 2));
    assert!(matches!(&f.items[3], Item::Type(t) if t.extend));
    let Item::Profile(p) = &f.items[4] else {
        panic!()
    };
    assert!(matches!(&p.fields[0].ty.kind, TypeExprKind::Union(v) if v.len() == 3));
    let TypeExprKind::Optional(ev) = &p.fields[2].ty.kind else {
        panic!()
    };
    assert!(matches!(&ev.kind, TypeExprKind::Event(n) if n.value == "Order Completed"));
}

#[test]
fn templates() {
    let f = ok(r#"
template push back(c: "Checkout Started", discount: percent) {
  title "Come back"
  body "{{ c.total | money }} {{ x | truncate(20) }}"
  url "{{ c.checkout_url ?? shop.url }}"
}
template email welcome {
  subject "Hi"
  text "Hi"
}
"#);
    let Item::Template(t) = &f.items[0] else {
        panic!()
    };
    assert_eq!(t.channel, Channel::Push);
    assert_eq!(t.params.len(), 2);
    assert_eq!(t.parts.len(), 3);
    let TemplateSource::Inline(body) = &t.parts[1].value else {
        panic!()
    };
    let TextNode::Hole(h) = &body.nodes[2] else {
        panic!()
    };
    assert_eq!(h.filters[0].name.name, "truncate");
    assert_eq!(h.filters[0].args.len(), 1);
    let Item::Template(w) = &f.items[1] else {
        panic!()
    };
    assert!(w.params.is_empty());
}

#[test]
fn template_tags_nest() {
    let (t, d) = parse_template_text(
        "<p>{% if a %}A{% else if b %}B{% else %}C{% endif %}{% for x in xs %}{{ x }}{% endfor %}</p>",
        FileId(0),
    );
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(t.nodes.len(), 4);
    let TextNode::If {
        branches,
        else_branch,
        ..
    } = &t.nodes[1]
    else {
        panic!()
    };
    assert_eq!(branches.len(), 2);
    assert_eq!(
        else_branch.as_ref().and_then(|e| e.as_plain()).as_deref(),
        Some("C")
    );
    assert!(matches!(&t.nodes[2], TextNode::For { binding, .. } if binding.name == "x"));
}

#[test]
fn unbalanced_tags_report_e0009_once_each() {
    let (_, d) = parse_template_text("{% if a %}x", FileId(0));
    assert_eq!(
        d.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(),
        ["E0009"]
    );
    let (_, d) = parse_template_text("x{% endif %}y{% else %}", FileId(0));
    assert_eq!(d.len(), 2);
    let (t, d) = parse_template_text("{% for x in xs %}{% endif %}", FileId(0));
    assert_eq!(d.len(), 1);
    assert!(
        d[0].message.contains("expected `{% endfor %}`"),
        "{}",
        d[0].message
    );
    assert!(matches!(t.nodes[0], TextNode::For { .. }));
    assert_eq!(codes(r#"template sms t { body "{% if x %}y" }"#), ["E0009"]);
}

#[test]
fn flow_settings_and_triggers() {
    let f = flow_of(
        r#"flow f {
  description "d"
  category transactional
  priority -5
  when date profile.birthday at 10:00 local
  reentry after exit
  exit when "Order Completed" as o where o.total > 1 USD
  goal "Order Completed" where it.total > 0 USD within 5d
  holdout 10%
}"#,
    );
    let k: Vec<&FlowSettingKind> = f.settings.iter().map(|s| &s.kind).collect();
    assert!(matches!(k[0], FlowSettingKind::Description(n) if n.value == "d"));
    assert!(matches!(
        k[1],
        FlowSettingKind::Category(Category::Transactional, _)
    ));
    assert!(matches!(k[2], FlowSettingKind::Priority(p) if p.node == -5));
    let FlowSettingKind::Trigger(Trigger {
        kind: TriggerKind::Date { at: Some(at), .. },
        ..
    }) = k[3]
    else {
        panic!("{:?}", k[3])
    };
    assert_eq!((at.hour, at.minute, at.local), (10, 0, true));
    assert!(matches!(k[4], FlowSettingKind::Reentry(Reentry::AfterExit)));
    assert!(
        matches!(k[5], FlowSettingKind::ExitWhen(m) if m.binding.is_some() && m.condition.is_some())
    );
    assert!(matches!(k[6], FlowSettingKind::Goal { event, .. } if event.condition.is_some()));
    assert!(matches!(k[7], FlowSettingKind::Holdout(_)));

    let trig = |src: &str| -> TriggerKind {
        let f = flow_of(&format!("flow f {{ {src} }}"));
        match f.settings.into_iter().next().map(|s| s.kind) {
            Some(FlowSettingKind::Trigger(t)) => t.kind,
            other => panic!("{other:?}"),
        }
    };
    assert!(matches!(trig("when entering vip"), TriggerKind::Entering(i) if i.name == "vip"));
    assert!(matches!(trig("when leaving vip"), TriggerKind::Leaving(_)));
    assert!(
        matches!(trig("when date profile.created_at + 30d"), TriggerKind::Date { at: None, date } if matches!(date.kind, ExprKind::Binary { .. }))
    );
    assert!(matches!(
        trig("when inactive \"Order Completed\" for 90d"),
        TriggerKind::Inactive { .. }
    ));
    assert!(matches!(trig("when \"Signed Up\""), TriggerKind::Event(m) if m.binding.is_none()));
    let re = |src: &str| match flow_of(&format!("flow f {{ {src} }}")).settings[0]
        .kind
        .clone()
    {
        FlowSettingKind::Reentry(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(re("reentry always"), Reentry::Always);
    assert_eq!(re("reentry once"), Reentry::Once);
    assert!(matches!(re("reentry once per 7d"), Reentry::OncePer(_)));
}

#[test]
fn steps_all_kinds() {
    let s = steps(
        r#"
  send push hello
  wait 1h
  wait until monday 09:00 local
  wait until 10:00
  wait until order.created_at + 3d
  wait for "Order Completed" as o where o.total > 0 USD within 2d {
    exit
  } timeout {
    send email nudge(o)
  }
  wait for "Order Completed" { exit }
  if a { exit } else if b { exit } else if c { } else { exit }
  match profile.tier {
    "gold" => { exit }
    "silver" | "bronze" => { }
    _ => { exit }
  }
  split test {
    50% a { }
    50% b { exit }
  }
  set profile.points = profile.points + 10
  track "Points Added" { points: 10, "source-name": "flow" }
  webhook post "https://example.com/{{ profile.email }}" { email: profile.email }
  exit
"#,
    );
    assert_eq!(s.len(), 14);
    assert!(
        matches!(&s[0], StepKind::Send { channel: Channel::Push, args, .. } if args.is_empty())
    );
    assert!(matches!(&s[1], StepKind::Wait(_)));
    assert!(
        matches!(&s[2], StepKind::WaitUntil(WaitUntil::TimeOfDay { weekday: Some(w), time }) if w.node == Weekday::Monday && time.local)
    );
    assert!(
        matches!(&s[3], StepKind::WaitUntil(WaitUntil::TimeOfDay { weekday: None, time }) if !time.local)
    );
    assert!(matches!(
        &s[4],
        StepKind::WaitUntil(WaitUntil::Timestamp(_))
    ));
    assert!(
        matches!(&s[5], StepKind::WaitFor { within: Some(_), on_arrival: Some(_), on_timeout: Some(_), event } if event.binding.is_some())
    );
    assert!(matches!(
        &s[6],
        StepKind::WaitFor {
            within: None,
            on_arrival: Some(_),
            on_timeout: None,
            ..
        }
    ));
    assert!(matches!(&s[7], StepKind::If { branches, else_block: Some(_) } if branches.len() == 3));
    let StepKind::Match { arms, .. } = &s[8] else {
        panic!()
    };
    assert!(matches!(&arms[1].pattern, Pattern::Literals(v) if v.len() == 2));
    assert!(matches!(&arms[2].pattern, Pattern::Wildcard(_)));
    assert!(
        matches!(&s[9], StepKind::Split { arms, .. } if arms.len() == 2 && matches!(arms[0].weight.kind, ExprKind::Lit(Lit::Percent(_))))
    );
    assert!(matches!(&s[10], StepKind::Set { .. }));
    assert!(
        matches!(&s[11], StepKind::Track { fields, .. } if fields.len() == 2 && fields[1].name.value == "source-name")
    );
    assert!(
        matches!(&s[12], StepKind::Webhook { method, body: Some(_), url } if method.name == "post" && url.as_plain().is_none())
    );
    assert!(matches!(&s[13], StepKind::Exit));
}

#[test]
fn policy_rules() {
    let f = ok(r#"
policy {
  frequency email: 1 per 1d, 4 per 7d
  quiet hours sms: 21:00 to 09:00 local
  quiet hours: 22:00 to 08:00
  when capped: defer
  default timezone "Europe/Istanbul"
  keep history 400d
}"#);
    let Item::Policy(p) = &f.items[0] else {
        panic!()
    };
    let k: Vec<&PolicyRuleKind> = p.rules.iter().map(|r| &r.kind).collect();
    assert!(
        matches!(k[0], PolicyRuleKind::Frequency { channel: Channel::Email, caps } if caps.len() == 2 && caps[1].count.node == 4)
    );
    assert!(
        matches!(k[1], PolicyRuleKind::QuietHours { channel: Some(Channel::Sms), from, to } if from.hour == 21 && to.local)
    );
    assert!(matches!(
        k[2],
        PolicyRuleKind::QuietHours { channel: None, .. }
    ));
    assert!(matches!(
        k[3],
        PolicyRuleKind::WhenCapped(CappedAction::Defer, _)
    ));
    assert!(matches!(k[4], PolicyRuleKind::DefaultTimezone(n) if n.value == "Europe/Istanbul"));
    assert!(matches!(k[5], PolicyRuleKind::KeepHistory(_)));
}

#[test]
fn test_blocks_parse_their_statements() {
    let f = ok(
        "test \"an order cancels\" {\n  start 2026-03-02 09:00\n  profile \"u1\" { first_name: \"Ana\" }\n  event \"Order Completed\" { revenue: 80 USD }\n  event \"Signed Up\"\n  wait 3d\n  expect not sent email cart_reminder\n  expect sent sms last_call variant a at 2026-03-09 13:00\n  expect suppressed email w because frequency_cap\n  expect deferred sms w because quiet_hours until 2026-03-08 13:00\n  expect entered f\n  expect exited f\n}\nflow f { exit }",
    );
    let Item::Test(t) = &f.items[0] else {
        panic!("not a test: {:?}", f.items[0]);
    };
    assert_eq!(t.name.value, "an order cancels");
    let k: Vec<&TestStmtKind> = t.body.iter().map(|s| &s.kind).collect();
    assert_eq!(k.len(), 11);
    assert!(matches!(k[0], TestStmtKind::Start { time: Some(_), .. }));
    assert!(matches!(
        k[1],
        TestStmtKind::Profile {
            traits: Some(_),
            ..
        }
    ));
    assert!(matches!(
        k[3],
        TestStmtKind::Event {
            properties: None,
            ..
        }
    ));
    assert!(matches!(k[4], TestStmtKind::Wait { .. }));
    assert!(matches!(
        k[5],
        TestStmtKind::Expect {
            negated: true,
            what: Expectation::Sent { .. }
        }
    ));
    assert!(matches!(
        k[6],
        TestStmtKind::Expect {
            negated: false,
            what: Expectation::Sent {
                variant: Some(_),
                at: Some(_),
                ..
            }
        }
    ));
    assert!(matches!(&f.items[1], Item::Flow(_)));
}

#[test]
fn broken_test_statement_is_reported_once() {
    let c = codes("test \"t\" {\n  expect maybe sent email x\n  wait 1d\n}");
    assert_eq!(c.len(), 1, "{c:?}");
}

#[test]
fn empty_and_comment_only_files() {
    assert!(ok("").items.is_empty());
    assert!(ok("// nothing\n/// doc without item\n").items.is_empty());
}

// ---- recovery ----

#[test]
fn misspelled_step_suggests_keyword() {
    let p = parse("flow f {\n  when \"Signed Up\"\n  sned email x()\n  wait 1h\n}");
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    let d = &p.diagnostics[0];
    assert_eq!(d.code, Code::UnexpectedToken);
    assert_eq!(
        d.message,
        "expected a step such as `send`, `wait` or `if`, found `sned`"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `send`?"));
    assert_eq!(d.primary.span, Span::new(30, 34));
    let Some(Item::Flow(f)) = p.file.items.first() else {
        panic!()
    };
    assert!(matches!(f.body.steps[0].kind, StepKind::Error));
    assert!(matches!(f.body.steps[1].kind, StepKind::Wait(_)));
}

#[test]
fn independent_mistakes_each_reported_once() {
    let src = r#"
flwo broken {
}

flow a {
  when "Signed Up"
  send email (x)
  wait 1h
}

segment s = count("E", within: ) > 3

flow b {
  when "Signed Up"
  exit
}
"#;
    let p = parse(src);
    assert_eq!(p.diagnostics.len(), 3, "{:#?}", p.diagnostics);
    let kinds: Vec<&str> = p
        .file
        .items
        .iter()
        .map(|i| match i {
            Item::Error(_) => "error",
            Item::Flow(_) => "flow",
            Item::Segment(_) => "segment",
            _ => "other",
        })
        .collect();
    // The broken segment keeps its name (with an error condition).
    assert_eq!(kinds, ["error", "flow", "segment", "flow"]);
    assert!(
        p.diagnostics[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("`flow`")
    );
}

#[test]
fn broken_step_keeps_following_steps() {
    let p = parse("flow f {\n  when \"E\"\n  send email t(a,, b)\n  wait 1h\n  exit\n}");
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    let Some(Item::Flow(f)) = p.file.items.first() else {
        panic!()
    };
    let k: Vec<_> = f.body.steps.iter().map(|s| &s.kind).collect();
    assert!(matches!(
        k[..],
        [StepKind::Error, StepKind::Wait(_), StepKind::Exit]
    ));
}

#[test]
fn broken_setting_is_an_error_setting() {
    let p = parse("flow f {\n  category sometimes\n  when \"E\"\n  exit\n}");
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    assert!(
        p.diagnostics[0]
            .message
            .contains("`marketing` or `transactional`"),
        "{}",
        p.diagnostics[0].message
    );
    let Some(Item::Flow(f)) = p.file.items.first() else {
        panic!()
    };
    assert!(matches!(f.settings[0].kind, FlowSettingKind::Error));
    assert!(matches!(f.settings[1].kind, FlowSettingKind::Trigger(_)));
}

#[test]
fn unclosed_flow_then_next_item() {
    let p = parse("flow a {\n  when \"E\"\n  exit\n\nflow b {\n  exit\n}\n");
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    assert!(p.diagnostics[0].message.contains("never closed"));
    assert_eq!(p.file.items.len(), 2);
}

#[test]
fn unterminated_string_is_one_diagnostic() {
    assert_eq!(
        codes("flow f {\n  description \"abc\n  when \"E\"\n  exit\n}"),
        ["E0004"]
    );
}

#[test]
fn deep_nesting_reports_e0006() {
    let src = format!(
        "segment s = {}1{}\nflow f {{ exit }}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let p = parse(&src);
    assert_eq!(
        p.diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect::<Vec<_>>(),
        ["E0006"]
    );
    assert!(matches!(p.file.items.last(), Some(Item::Flow(_))));
    let src = format!("segment s = {}x", "not ".repeat(5000));
    assert_eq!(codes(&src), ["E0006"], "{:#?}", parse(&src).diagnostics);
    let src = format!("segment s = {}1", "-".repeat(5000));
    assert_eq!(codes(&src), ["E0006"]);
    let mut blocks = String::from("flow f {\n");
    for _ in 0..400 {
        blocks.push_str("if a {\n");
    }
    for _ in 0..400 {
        blocks.push_str("}\n");
    }
    blocks.push('}');
    assert_eq!(
        codes(&blocks),
        ["E0006"],
        "{:#?}",
        parse(&blocks).diagnostics
    );
}

#[test]
fn lexer_errors_do_not_cascade() {
    assert_eq!(codes("flow f {\n  wait 1h $\n  exit\n}"), ["E0003"]);
    assert_eq!(codes("segment s = a + §"), ["E0003"]);
}

#[test]
fn broken_hole_is_a_text_error() {
    let p = parse("template sms t { body \"a {{ x + }} b {{ y }}\" }");
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    let Some(Item::Template(t)) = p.file.items.first() else {
        panic!()
    };
    let TemplateSource::Inline(text) = &t.parts[0].value else {
        panic!()
    };
    assert!(matches!(text.nodes[1], TextNode::Error(_)));
    assert!(matches!(text.nodes[3], TextNode::Hole(_)));
}

#[test]
fn unknown_tag_suggests() {
    let (_, d) = parse_template_text("{% endfi %}", FileId(0));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].help.as_deref(), Some("did you mean `endif`?"));
}

#[test]
fn stray_closing_brace_at_top_level() {
    let p = parse("flow a { exit }\n}\nflow b { exit }");
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    assert_eq!(p.file.items.len(), 3);
}

#[test]
fn missing_wait_for_within_parses() {
    let s = steps("wait for \"E\" where it.x == 1 { exit } timeout { exit }");
    assert!(matches!(
        &s[0],
        StepKind::WaitFor {
            within: None,
            on_timeout: Some(_),
            ..
        }
    ));
}

#[test]
fn stdlib_parses_without_diagnostics() {
    for (name, text) in nudge_stdlib::FILES {
        let p = parse(text);
        assert!(p.diagnostics.is_empty(), "{name}: {:#?}", p.diagnostics);
    }
}

#[test]
fn examples_parse_without_diagnostics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop/flows");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "flow") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let p = parse(&text);
            assert!(
                p.diagnostics.is_empty(),
                "{}: {:#?}",
                path.display(),
                p.diagnostics
            );
        }
    }
    let tdir = dir.join("../templates");
    for entry in std::fs::read_dir(&tdir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let (_, d) = parse_template_text(&text, FileId(0));
        assert!(d.is_empty(), "{}: {d:#?}", entry.path().display());
    }
}

#[test]
fn one_line_match_and_split_as_in_the_language_sketch() {
    let s = steps(
        r#"match profile.tier { "gold" => { } "silver" | "bronze" => { } _ => { } }
  split name { 50% a { } 30% b { } 20% c { } }"#,
    );
    assert!(matches!(&s[0], StepKind::Match { arms, .. } if arms.len() == 3));
    assert!(matches!(&s[1], StepKind::Split { arms, .. } if arms.len() == 3));
}

#[test]
fn trailing_triple_slash_is_a_comment() {
    let s = steps("wait 1h /// then remind\n  exit");
    assert_eq!(s.len(), 2);
}

#[test]
fn broken_segment_and_template_headers_keep_their_names() {
    let p = parse(
        "segment big = count(\"E\", within: ) > 3\ntemplate email t(c: , d: int) {\n  subject \"x\"\n}\n",
    );
    assert_eq!(p.diagnostics.len(), 2, "{:#?}", p.diagnostics);
    assert!(
        matches!(&p.file.items[0], Item::Segment(s) if s.name.name == "big" && s.condition.kind == ExprKind::Error)
    );
    assert!(
        matches!(&p.file.items[1], Item::Template(t) if t.name.name == "t" && t.parts.len() == 1)
    );
}

#[test]
fn unclosed_brackets_do_not_add_up_across_items() {
    let src = "segment s = count((\n".repeat(300) + "flow f {\n  exit\n}\n";
    let p = parse(&src);
    assert!(
        p.diagnostics.iter().all(|d| d.code != Code::NestingTooDeep),
        "{:?}",
        p.diagnostics.first()
    );
    assert!(matches!(p.file.items.last(), Some(Item::Flow(_))));
}
